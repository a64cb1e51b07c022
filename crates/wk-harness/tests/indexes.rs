//! A broker the harness starts has the indexes and statistics Tansu 0.6 lacks, and with them
//! its compaction is planned as one index range per key, not a walk of the partition per key
//! (quadratic: a 500,000-record changelog held the broker for minutes), and with no sort of
//! every key (see `wk_harness::broker::STORAGE`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use wk_harness::Broker;

/// Tansu 0.6's compaction, `tansu-storage-0.6.0/src/sql/policy_compact.sql` (Apache-2.0, Peter
/// Morgan), as its SQLite engine runs it.
const COMPACTION: &str = "with dup as ( select tp.id as topition, r.k as k, max(r.offset_id) as offset_id \
     from record r join topition tp on tp.id = r.topition join topic t on tp.topic = t.id \
     join cluster c on t.cluster = c.id join topic_configuration tc on tc.topic = t.id \
     where c.name = 'tansu_cluster' and tc.name = 'cleanup.policy' and tc.value like '%compact%' \
     and r.k is not null group by tp.id,r.k having count(r.k) > 1 ), \
     compaction as ( select r.topition as topition, r.offset_id as offset_id from record r \
     join dup on r.topition = dup.topition and r.k = dup.k where dup.offset_id > r.offset_id ) \
     delete from record where (record.topition, record.offset_id) in (select * from compaction);";

fn sqlite(broker: &Broker, statement: &str) -> String {
    let output = Command::new("sqlite3")
        .args(["-readonly", "-cmd", ".timeout 10000"])
        .arg(broker.dir().join("data/tansu.db"))
        .arg(statement)
        .stdin(Stdio::null())
        .output()
        .expect("sqlite3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_started_broker_is_indexed_and_its_compaction_reads_one_range_per_key() {
    let mut broker = Broker::start().expect("tansu starts (./dev setup installs it)");
    for _ in 0..2 {
        let indexes = sqlite(
            &broker,
            "select name from sqlite_master where type = 'index' order by name;",
        );
        let names: Vec<&str> = indexes.lines().collect();
        assert!(names.contains(&"header_topition_offset"), "{names:?}");
        assert!(names.contains(&"record_topition_k_offset"), "{names:?}");
        assert!(!names.contains(&"record_topition_k"), "{names:?}");
        // A restart keeps them (and adding them again is harmless).
        broker.restart().expect("tansu restarts");
    }
    let plan = sqlite(&broker, &format!("explain query plan {COMPACTION}"));
    assert!(
        plan.contains("record_topition_k_offset (topition=? AND k=? AND offset_id<?)"),
        "the compaction walks more than one key's records per key:\n{plan}"
    );
    // The catalog statistics let the `group by` read the keys in index order: no sort of
    // every key of the changelog while the broker waits.
    assert!(
        !plan.contains("TEMP B-TREE"),
        "the compaction sorts the changelog's keys:\n{plan}"
    );
    let statistics = sqlite(&broker, "select tbl from sqlite_stat1 order by tbl;");
    assert_eq!(
        statistics.lines().collect::<Vec<_>>(),
        ["cluster", "topic", "topic_configuration", "topition"],
        "the record table keeps SQLite's own estimates"
    );
    let fetch = sqlite(
        &broker,
        "explain query plan select * from header where topition = 1 and offset_id = 2;",
    );
    assert!(
        fetch.contains("header_topition_offset (topition=? AND offset_id=?)"),
        "{fetch}"
    );
}
