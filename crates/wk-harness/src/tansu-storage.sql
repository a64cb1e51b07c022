-- What Tansu 0.6's SQLite schema lacks, added to its file once it listens (its DDL is all
-- `IF NOT EXISTS`, so it never minds what is added) and kept across restarts. Run by the test
-- harness and wk-bench (crates/wk-harness/src/broker.rs, which says why each is needed) and
-- by `./dev run`, with Debian's sqlite3. One transaction: Tansu's open connections see the
-- schema change of the indexes and reload the statistics with it.
begin;

-- Planner statistics for the catalog tables, fixed by hand (SQLite reads `sqlite_stat1` when
-- a connection loads the schema; nothing here ever runs ANALYZE, so they stay as written).
-- Without them SQLite plans Tansu's compaction from the cluster down, meets the partitions in
-- (topic, partition) order and sorts every key of the changelog in a temporary B-tree for the
-- query's `group by tp.id, r.k`. With them it scans the partitions by id and reads each one's
-- keys in index order: no sort. The numbers only describe the shape (many topic settings per
-- topic, few partitions); the record table gets none, so no plan over it changes.
analyze sqlite_schema;
delete from sqlite_stat1 where tbl in ('cluster', 'topic', 'topic_configuration', 'topition');
insert into sqlite_stat1 (tbl, idx, stat) values
    ('cluster', 'sqlite_autoindex_cluster_1', '100 1'),
    ('topic', 'sqlite_autoindex_topic_1', '100 10 1'),
    ('topic_configuration', 'sqlite_autoindex_topic_configuration_1', '1000 5 1'),
    ('topition', 'sqlite_autoindex_topition_1', '12 6 1');

-- Every fetch looks each record's headers up by (topition, offset_id).
create index if not exists header_topition_offset on header (topition, offset_id);
-- The compaction deletes, for each key written more than once, the key's older records: one
-- index range per key.
create index if not exists record_topition_k_offset on record (topition, k, offset_id);
-- An index of an earlier version that the planner did not use.
drop index if exists record_topition_k;

commit;
