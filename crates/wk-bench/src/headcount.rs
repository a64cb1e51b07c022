//! `wk-bench headcount`: a staff headcount of many people (the organisation has about 9,000
//! staff) through the whole stack: started over gRPC by a duty officer, split into parts by
//! the api, every first question sent by the dispatcher to a real SMTP server (aiosmtpd,
//! `tests/support/smtp_sink.py`, storing each message as a file). Reports the time until every
//! first email was handed to the SMTP server, the resident memory the api and the dispatcher
//! hold per person, and how long GetHeadcount (every part merged and counted) takes.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde_json::json;
use sha2::Digest as _;
use wk_proto::v1 as pb;
use wk_proto::v1::headcounts_client::HeadcountsClient;

use crate::Cli;
use crate::receiver::Receiver;
use crate::stack::{Binaries, Stack, StackSpec};

const OFFICER_TOKEN: &str = "bench-duty-officer-token-0123456789abcdef";

pub(crate) struct Run {
    pub(crate) people: u32,
    pub(crate) partitions: u32,
    pub(crate) within: Duration,
}

/// The SMTP server, killed when dropped.
struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts aiosmtpd storing into `dir`; it and its port.
fn sink(dir: &Path) -> anyhow::Result<(Sink, u16)> {
    let venv = workspace().join(".venv/bin/python");
    let python = if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    };
    let mut child = Command::new(python)
        .arg(workspace().join("tests/support/smtp_sink.py"))
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the SMTP sink (aiosmtpd; ./dev setup installs it)")?;
    let stdout = child.stdout.take().context("sink stdout")?;
    let sink = Sink(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|port| port.parse().ok())
        .with_context(|| format!("the SMTP sink said {line:?}"))?;
    Ok((sink, port))
}

/// `people` in zones of 100 (the first of each a warden), one address each.
fn roster(people: u32) -> String {
    let mut text = String::from("id,name,office,country,zone,emails,warden,from,until\n");
    for n in 0..people {
        let warden = if n % 100 == 0 { "yes" } else { "" };
        text.push_str(&format!(
            "p-{n:06},Staff Member {n:06},{office},NG,zone-{zone:04},staff-{n:06}@staff.test,{warden},,\n",
            office = crate::stack::OFFICE,
            zone = n / 100,
        ));
    }
    text
}

/// The messages the sink stored, and when the last arrived (from its file name).
fn stored(dir: &Path) -> anyhow::Result<(usize, Option<SystemTime>)> {
    let mut count = 0;
    let mut last: Option<u64> = None;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str().and_then(|n| n.strip_suffix(".eml")) else {
            continue;
        };
        count += 1;
        if let Some(nanos) = name.split('-').next().and_then(|t| t.parse::<u64>().ok()) {
            last = last.max(Some(nanos));
        }
    }
    Ok((count, last.map(|n| UNIX_EPOCH + Duration::from_nanos(n))))
}

fn authorized<T>(message: T) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {OFFICER_TOKEN}").parse()?);
    Ok(request)
}

pub(crate) async fn run(
    binaries: &Binaries,
    cli: &Cli,
    run: &Run,
) -> anyhow::Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(&mail)?;
    let (_sink, smtp_port) = sink(&mail)?;
    let roster_path = dir.path().join("roster.csv");
    std::fs::write(&roster_path, roster(run.people))?;
    let officer_hash = hex::encode(sha2::Sha256::digest(OFFICER_TOKEN.as_bytes()));
    let extra = format!(
        "[headcounts]\nroster = \"{}\"\n\n[links]\nbase_url = \"https://watchkeeper.test\"\n\
         secret = \"bench-links-secret-0123456789abcdef\"\n\n\
         [[duty_officers]]\nid = \"bench.officer\"\ntoken_sha256 = \"{officer_hash}\"\n",
        roster_path.display()
    );
    let receiver = Receiver::start().await?;
    let stack = Stack::start(
        binaries,
        &StackSpec {
            extra_offices: extra,
            smtp_port,
            ..StackSpec::new(cli, run.partitions, receiver.address)
        },
    )?;
    stack.dispatcher_ready(Duration::from_secs(120)).await?;
    let dispatcher = stack.dispatcher.as_ref().context("no dispatcher")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (api_before, dispatcher_before) = (stack.api.rss_kib()?, dispatcher.rss_kib()?);

    let channel = tonic::transport::Endpoint::from_shared(stack.endpoint())?
        .connect()
        .await?;
    let mut client = HeadcountsClient::new(channel).max_decoding_message_size(64 << 20);
    let asked = SystemTime::now();
    let began = Instant::now();
    let started = client
        .start_headcount(authorized(pb::StartHeadcountRequest {
            country: "NG".into(),
            drill: true,
            ..Default::default()
        })?)
        .await
        .context("StartHeadcount")?
        .into_inner();
    let start_ms = began.elapsed().as_secs_f64() * 1000.0;
    let want = usize::try_from(run.people)?;
    let (count, last) = loop {
        let (count, last) = stored(&mail)?;
        if count >= want {
            break (count, last);
        }
        if began.elapsed() > run.within {
            bail!(
                "{count} of {want} questions reached the SMTP server within {:?}",
                run.within
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let all_handed = last
        .and_then(|last| last.duration_since(asked).ok())
        .context("no mail time")?;
    // Every part's state written and followed by the api.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (api_after, dispatcher_after) = (stack.api.rss_kib()?, dispatcher.rss_kib()?);
    let mut views = Vec::new();
    let mut parts = 0;
    for _ in 0..10 {
        let began = Instant::now();
        let view = client
            .get_headcount(authorized(pb::GetHeadcountRequest {
                headcount_id: started.headcount_id.clone(),
            })?)
            .await
            .context("GetHeadcount")?
            .into_inner();
        views.push(began.elapsed().as_secs_f64() * 1000.0);
        let state = view.state.unwrap_or_default();
        if state.people.len() != want {
            bail!("the view holds {} of {want} people", state.people.len());
        }
        parts = state.parts;
    }
    views.sort_by(f64::total_cmp);
    let view_ms = views[views.len() / 2];
    let per_person = |before: u64, after: u64| {
        after.saturating_sub(before) as f64 * 1024.0 / f64::from(run.people)
    };
    let seconds = all_handed.as_secs_f64();
    println!(
        "| headcount: {people} people in {parts} parts | start answered in {start_ms:.0} ms | \
         every first email handed to SMTP in {seconds:.1} s ({rate:.0}/s, {count} mails) | \
         api RSS +{api:.0} B/person, dispatcher RSS +{disp:.0} B/person | GetHeadcount median {view_ms:.1} ms |",
        people = run.people,
        rate = f64::from(run.people) / seconds,
        api = per_person(api_before, api_after),
        disp = per_person(dispatcher_before, dispatcher_after),
    );
    Ok(json!({
        "scenario": "headcount",
        "people": run.people,
        "parts": parts,
        "start_ms": start_ms,
        "all_first_emails_s": seconds,
        "mails": count,
        "api_rss_bytes_per_person": per_person(api_before, api_after),
        "dispatcher_rss_bytes_per_person": per_person(dispatcher_before, dispatcher_after),
        "get_headcount_median_ms": view_ms,
    }))
}
