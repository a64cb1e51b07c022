//! The loop with in-memory stand-ins for Kafka and the executor, on tokio's paused clock:
//! each test runs in milliseconds and is exact about time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use wk_bus::BusError;
use wk_bus::codec::{Fact, decode_event, encode_raised};
use wk_bus::consumer::{Assignment, Record};
use wk_bus::escalation_codec::encode_escalation;
use wk_bus::producer::ProduceError;
use wk_bus::restore::Newest;
use wk_bus::restore::newest::{Chunk, FIRST_SPAN, Seen};
use wk_bus::watch_codec::{encode_check_in, encode_watch};
use wk_core::Timestamp;
use wk_core::alert::{Alert, AlertId, Category, Severity};
use wk_core::config::Config;
use wk_core::escalation::{Escalation, Outcome};
use wk_core::machine::Machine as _;
use wk_core::watch::{Action, Channel, CheckIn, OfficeKey, OfficeWatch, Owed, Publication};

use crate::dispatcher::{Dispatcher, Parts};
use crate::executor::{Job, Report};
use crate::io::{Acknowledgement, Changelog, Input, Notifier, TokioClock};

mod headcounts;
mod let_go;
mod newest_first;
mod packed;
mod silenced;
mod store;

const START: Timestamp = Timestamp::from_unix_millis(1_795_000_000_000);

/// The alerts topic: records the test sends, offsets the loop stores.
struct FakeInput {
    records: tokio::sync::Mutex<mpsc::UnboundedReceiver<Record>>,
    stored: Arc<Mutex<Vec<(i32, i64)>>>,
}

impl Input for FakeInput {
    async fn recv(&self) -> Result<Record, BusError> {
        match self.records.lock().await.recv().await {
            Some(record) => Ok(record),
            None => std::future::pending().await,
        }
    }

    fn store_done(&self, partition: i32, offset: i64) -> Result<(), BusError> {
        self.stored.lock().unwrap().push((partition, offset));
        Ok(())
    }

    async fn close(self, _timeout: Duration) -> Result<(), BusError> {
        Ok(())
    }
}

/// The changelog: every write is kept; acknowledgements are given at once, or held until
/// the test answers them.
#[derive(Default)]
struct Log {
    writes: Vec<(i32, String)>,
    /// The last state written under each key.
    last: HashMap<String, Vec<u8>>,
    /// Records published on the alerts topic (a watch's silence alert), by key.
    published: Vec<(String, Vec<u8>)>,
    held: Vec<oneshot::Sender<Result<(), ProduceError>>>,
    hold: bool,
    restores: HashMap<i32, Vec<Record>>,
    /// How long each read of a restore's range takes.
    read_delay: Duration,
    /// The ranges restores read, in order.
    ranges: Vec<(i32, std::ops::Range<i64>)>,
    /// Every state written, by partition, at offsets from `WRITTEN_FROM`.
    written: HashMap<i32, Vec<Record>>,
    /// Single records read back (`read_at`), in order.
    reads_at: Vec<(i32, i64)>,
    /// How many of the next `read_at`s fail.
    failing_reads: usize,
    /// How many of the next `read_range`s fail.
    failing_ranges: usize,
}

/// Where the fake changelog's own writes start, past any record a test restores from.
const WRITTEN_FROM: i64 = 1_000_000;

#[derive(Clone, Default)]
struct FakeChangelog(Arc<Mutex<Log>>);

impl FakeChangelog {
    fn hold(&self, hold: bool) {
        self.0.lock().unwrap().hold = hold;
    }

    fn writes(&self) -> usize {
        self.0.lock().unwrap().writes.len()
    }

    /// Answers every held write: acknowledged, or refused.
    fn answer(&self, acknowledged: bool) {
        for sender in std::mem::take(&mut self.0.lock().unwrap().held) {
            let _ = sender.send(if acknowledged {
                Ok(())
            } else {
                Err(ProduceError::NotAcknowledged(
                    KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut),
                ))
            });
        }
    }
}

impl FakeChangelog {
    /// A range read (the first read of a restore's too), after `read_delay`.
    async fn range(
        &self,
        partition: i32,
        range: std::ops::Range<i64>,
        seen: Seen,
    ) -> Result<Chunk, BusError> {
        let (records, delay) = {
            let mut log = self.0.lock().unwrap();
            log.ranges.push((partition, range.clone()));
            let records = log.restores.get(&partition).cloned().unwrap_or_default();
            (records, log.read_delay)
        };
        tokio::time::sleep(delay).await;
        Ok(Chunk::of(records, &range, &seen))
    }
}

impl Changelog for FakeChangelog {
    fn write(
        &self,
        partition: i32,
        key: &str,
        payload: &[u8],
    ) -> Result<Acknowledgement<i64>, ProduceError> {
        let mut log = self.0.lock().unwrap();
        log.writes.push((partition, key.to_owned()));
        log.last.insert(key.to_owned(), payload.to_vec());
        let written = log.written.entry(partition).or_default();
        let offset = WRITTEN_FROM + written.len() as i64;
        written.push(state_record(partition, offset, key, payload));
        let (sender, receiver) = oneshot::channel();
        if log.hold {
            log.held.push(sender);
        } else {
            let _ = sender.send(Ok(()));
        }
        Ok(Box::pin(async move {
            receiver.await.unwrap_or(Ok(())).map(|()| offset)
        }))
    }

    fn publish(&self, key: &str, payload: &[u8]) -> Result<Acknowledgement, ProduceError> {
        let mut log = self.0.lock().unwrap();
        log.published.push((key.to_owned(), payload.to_vec()));
        Ok(Box::pin(async { Ok(()) }))
    }

    async fn dead_letter(&self, _key: &str, _payload: &[u8]) -> Result<(), ProduceError> {
        Ok(())
    }

    async fn read_newest(&self, partition: i32) -> Result<Newest, BusError> {
        let (low, high) = {
            let log = self.0.lock().unwrap();
            let records = log.restores.get(&partition);
            let low = records
                .and_then(|records| records.first())
                .map_or(0, |record| record.offset);
            let high = records
                .and_then(|records| records.last())
                .map_or(0, |record| record.offset + 1);
            (low, high)
        };
        let range = high.saturating_sub(FIRST_SPAN).max(low)..high;
        let chunk = self
            .range(partition, range.clone(), Seen::default())
            .await?;
        Ok(Newest {
            low,
            high,
            range,
            chunk,
        })
    }

    async fn read_range(
        &self,
        partition: i32,
        range: std::ops::Range<i64>,
        seen: Seen,
    ) -> Result<Chunk, BusError> {
        {
            let mut log = self.0.lock().unwrap();
            if log.failing_ranges > 0 {
                log.failing_ranges -= 1;
                log.ranges.push((partition, range));
                return Err(BusError::Topic {
                    topic: "state".into(),
                    reason: "broker away".into(),
                });
            }
        }
        self.range(partition, range, seen).await
    }

    async fn read_at(&self, partition: i32, offset: i64) -> Result<Option<Record>, BusError> {
        let mut log = self.0.lock().unwrap();
        log.reads_at.push((partition, offset));
        if log.failing_reads > 0 {
            log.failing_reads -= 1;
            return Err(BusError::Topic {
                topic: "state".into(),
                reason: "broker away".into(),
            });
        }
        let found = [log.restores.get(&partition), log.written.get(&partition)]
            .into_iter()
            .flatten()
            .flatten()
            .find(|record| record.offset == offset)
            .cloned();
        Ok(found)
    }
}

/// A state record as the changelog holds it.
fn state_record(partition: i32, offset: i64, key: &str, payload: &[u8]) -> Record {
    Record {
        partition,
        offset,
        key: Some(key.as_bytes().to_vec()),
        payload: Some(payload.to_vec()),
        trace: Default::default(),
    }
}

#[derive(Clone, Default)]
struct FakeNotifier(Arc<Mutex<Vec<String>>>);

impl FakeNotifier {
    fn sent(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl Notifier for FakeNotifier {
    fn spawn(&self, job: Job) {
        self.0.lock().unwrap().push(job.notification.id.to_string());
    }
    fn spawn_mail(&self, job: crate::executor::MailJob) {
        self.0.lock().unwrap().push(job.id);
    }
}

fn policy() -> wk_core::policy::Policy {
    config().policy
}

/// The configuration of these tests (and of the held_memory bench).
fn config() -> Config {
    Config::from_toml(include_str!("tests/config.toml"), Vec::new()).expect("valid")
}

fn alert(key: &str) -> Alert {
    Alert {
        id: AlertId::for_dedup_key("ng-maiduguri", key),
        office_id: "ng-maiduguri".into(),
        severity: Severity::Critical,
        category: Category::SecurityIncident,
        title: "Armed men at the gate".into(),
        description: String::new(),
        country: "NG".into(),
        place: "Maiduguri".into(),
        coordinates: None,
        occurred_at: START,
        staff_affected: 0,
        dedup_key: Some(key.into()),
        labels: Default::default(),
        origin: None,
    }
}

fn raised(partition: i32, offset: i64, alert: &Alert) -> Record {
    Record {
        partition,
        offset,
        key: Some(alert.id.to_string().into_bytes()),
        payload: Some(encode_raised(alert, START)),
        trace: Default::default(),
    }
}

/// The duty officer the tests act as.
fn officer() -> wk_core::escalation::Responder {
    wk_core::escalation::Responder {
        actor: "maria.santos".into(),
        channel: "console".into(),
    }
}

/// The officer's `action` on `alert`, at `offset` of partition 0, taken at `at`.
fn action(
    offset: i64,
    alert: &Alert,
    action: wk_bus::codec::OfficerAction,
    at: Timestamp,
) -> Record {
    Record {
        partition: 0,
        offset,
        key: Some(alert.id.to_string().into_bytes()),
        payload: Some(wk_bus::codec::encode_action(
            alert.id,
            &action,
            &officer(),
            None,
            at,
        )),
        trace: Default::default(),
    }
}

struct Harness {
    records: mpsc::UnboundedSender<Record>,
    assignments: mpsc::UnboundedSender<Assignment>,
    reports: mpsc::UnboundedSender<Report>,
    stored: Arc<Mutex<Vec<(i32, i64)>>>,
    notifier: FakeNotifier,
    /// The dispatcher's readiness: its partitions assigned and restored.
    ready: tokio::sync::watch::Receiver<bool>,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<()>,
}

impl Harness {
    fn start(changelog: FakeChangelog) -> Harness {
        Harness::start_with(changelog, None)
    }

    fn start_with(
        changelog: FakeChangelog,
        silences: Option<tokio::sync::watch::Receiver<Arc<wk_core::silence::SilenceBook>>>,
    ) -> Harness {
        let (records, records_rx) = mpsc::unbounded_channel();
        let (assignments, assignments_rx) = mpsc::unbounded_channel();
        let (reports, reports_rx) = mpsc::unbounded_channel();
        let stored = Arc::new(Mutex::new(Vec::new()));
        let notifier = FakeNotifier::default();
        let dispatcher = Dispatcher::from_parts(
            Parts {
                input: FakeInput {
                    records: tokio::sync::Mutex::new(records_rx),
                    stored: stored.clone(),
                },
                assignments: assignments_rx,
                changelog: changelog.clone(),
                notifier: notifier.clone(),
                reports: reports_rx,
                clock: TokioClock::starting_at(START),
            },
            policy(),
        )
        .with_watches(config().watches());
        let dispatcher = match silences {
            Some(book) => dispatcher.with_silences(book),
            None => dispatcher,
        };
        let ready = dispatcher.readiness();
        let shutdown = CancellationToken::new();
        let stopping = shutdown.clone();
        let running = tokio::spawn(async move {
            dispatcher.run(stopping).await.expect("runs");
        });
        Harness {
            records,
            assignments,
            reports,
            stored,
            notifier,
            ready,
            shutdown,
            running,
        }
    }

    fn assign(&self, partitions: &[i32]) {
        self.assignments
            .send(Assignment::Assigned(partitions.to_vec()))
            .expect("the loop runs");
    }

    fn send(&self, record: Record) {
        self.records.send(record).expect("the loop runs");
    }

    fn stored(&self) -> Vec<(i32, i64)> {
        self.stored.lock().unwrap().clone()
    }

    async fn stop(self) -> Vec<(i32, i64)> {
        self.shutdown.cancel();
        self.running.await.expect("stops");
        self.stored.lock().unwrap().clone()
    }
}

/// Lets the loop run for `duration` of (paused, auto-advancing) time.
async fn wait(duration: Duration) {
    tokio::time::sleep(duration).await;
}

#[tokio::test(start_paused = true)]
async fn an_offset_is_stored_only_after_the_state_write_before_it_is_acknowledged() {
    let changelog = FakeChangelog::default();
    changelog.hold(true);
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let first = alert("a");
    harness.send(raised(0, 5, &first));
    wait(Duration::from_millis(50)).await;
    // Acted on at once: the first step's webhook is out before the state is written.
    assert_eq!(harness.notifier.sent().len(), 1);
    assert_eq!(changelog.writes(), 1, "written behind, at the next flush");
    assert_eq!(harness.stored(), [], "not acknowledged yet");
    // A record that changes nothing (a repeat already reflected) waits behind the write.
    harness.send(raised(0, 5, &first));
    wait(Duration::from_millis(50)).await;
    assert_eq!(harness.stored(), []);
    changelog.answer(true);
    wait(Duration::from_millis(50)).await;
    assert_eq!(harness.stored(), [(0, 5), (0, 5)]);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_write_is_written_again_before_later_offsets_are_stored() {
    let changelog = FakeChangelog::default();
    changelog.hold(true);
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    harness.send(raised(0, 1, &alert("a")));
    wait(Duration::from_millis(20)).await;
    harness.send(raised(0, 2, &alert("b")));
    wait(Duration::from_millis(20)).await;
    assert_eq!(changelog.writes(), 2);
    changelog.answer(false);
    wait(Duration::from_millis(20)).await;
    assert_eq!(harness.stored(), [], "the first write was refused");
    // After a pause the refused state is written again (with its current state).
    wait(Duration::from_secs(2)).await;
    assert!(changelog.writes() >= 3, "written again");
    changelog.hold(false);
    changelog.answer(true);
    wait(Duration::from_secs(3)).await;
    assert_eq!(harness.stored(), [(0, 1), (0, 2)], "in input order");
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_write_is_written_again_with_the_state_current_then() {
    let changelog = FakeChangelog::default();
    changelog.hold(true);
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let first = alert("a");
    harness.send(raised(0, 1, &first));
    wait(Duration::from_millis(20)).await;
    changelog.answer(false);
    // Changed while the refused write waits for its retry: written at once (held).
    harness.send(action(
        2,
        &first,
        wk_bus::codec::OfficerAction::Acknowledge,
        START,
    ));
    wait(Duration::from_millis(20)).await;
    assert_eq!(changelog.writes(), 2);
    let acknowledged = changelog.0.lock().unwrap().last[&first.id.to_string()].clone();
    wait(Duration::from_secs(2)).await;
    assert_eq!(changelog.writes(), 3, "the refused one, written again");
    assert_eq!(
        changelog.0.lock().unwrap().last[&first.id.to_string()],
        acknowledged,
        "the latest record holds the acknowledged state, not the one refused"
    );
    changelog.hold(false);
    changelog.answer(true);
    wait(Duration::from_secs(1)).await;
    assert_eq!(harness.stored(), [(0, 1), (0, 2)]);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restored_escalation_resends_what_is_pending_and_its_timer_fires() {
    let changelog = FakeChangelog::default();
    // The changelog holds an escalation opened at START whose step 1 was sent but not
    // reported: restored, it is sent again under the same id; at 5 minutes step 2 fires.
    let opened = Escalation::route(alert("a"), &policy(), START);
    let first_id = opened.deliveries()[0].notification.id.to_string();
    changelog.0.lock().unwrap().restores.insert(
        3,
        vec![Record {
            partition: 3,
            offset: 0,
            key: Some(b"k".to_vec()),
            payload: Some(encode_escalation(&opened.snapshot(), 7)),
            trace: Default::default(),
        }],
    );
    let harness = Harness::start(changelog.clone());
    harness.assign(&[3]);
    wait(Duration::from_millis(10)).await;
    assert_eq!(
        harness.notifier.sent(),
        std::slice::from_ref(&first_id),
        "re-sent, same id"
    );
    wait(Duration::from_secs(5 * 60)).await;
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].contains("webhook-panama"),
        "step 2 at 5 minutes: {sent:?}"
    );
    // Replaying the record the state already reflects changes nothing.
    harness.send(raised(3, 7, &alert("a")));
    wait(Duration::from_millis(20)).await;
    assert_eq!(harness.notifier.sent().len(), 2);
    assert!(harness.stored().contains(&(3, 7)));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_assignment_keeps_escalating_from_memory_and_writes_nothing() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    harness.send(raised(0, 1, &alert("a")));
    wait(Duration::from_millis(50)).await;
    let written = changelog.writes();
    harness.assignments.send(Assignment::Lost(vec![0])).unwrap();
    wait(Duration::from_secs(5 * 60)).await;
    let sent = harness.notifier.sent();
    assert_eq!(
        sent.len(),
        2,
        "step 2 went out with the broker away: {sent:?}"
    );
    assert_eq!(
        changelog.writes(),
        written,
        "nothing written for a lost partition"
    );
    // A new assignment supersedes memory with the changelog (empty here).
    harness.assign(&[0]);
    wait(Duration::from_secs(15 * 60)).await;
    assert_eq!(
        harness.notifier.sent().len(),
        2,
        "the dropped escalation fires nothing"
    );
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_report_after_a_revoke_is_ignored() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let subject = alert("a");
    harness.send(raised(0, 1, &subject));
    wait(Duration::from_millis(50)).await;
    let notification_id = harness.notifier.sent()[0].clone();
    let written = changelog.writes();
    harness
        .assignments
        .send(Assignment::Revoked(vec![0]))
        .unwrap();
    wait(Duration::from_millis(10)).await;
    harness
        .reports
        .send(Report {
            partition: 0,
            subject: crate::held::Subject::Alert(subject.id),
            notification_id,
            outcome: Outcome::Delivered,
        })
        .unwrap();
    wait(Duration::from_secs(10 * 60)).await;
    assert_eq!(
        changelog.writes(),
        written,
        "no write for a revoked partition"
    );
    assert_eq!(harness.notifier.sent().len(), 1, "and no timer left behind");
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_mid_flush_stores_what_is_acknowledged_and_nothing_else() {
    let changelog = FakeChangelog::default();
    changelog.hold(true);
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    harness.send(raised(0, 1, &alert("a")));
    // Stopped before the next flush: the drain queues the write itself.
    harness.send(raised(0, 2, &alert("b")));
    tokio::task::yield_now().await;
    let answering = changelog.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        answering.answer(true);
    });
    let stored = harness.stop().await;
    assert_eq!(stored, [(0, 1), (0, 2)], "acknowledged during the drain");

    // Unanswered writes: after the drain's limit, nothing is stored (re-read after restart).
    let changelog = FakeChangelog::default();
    changelog.hold(true);
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    harness.send(raised(0, 1, &alert("a")));
    wait(Duration::from_millis(50)).await;
    let stored = harness.stop().await;
    assert_eq!(stored, []);
}

fn check_in(partition: i32, offset: i64, at: Timestamp) -> Record {
    let check_in = CheckIn {
        at,
        channel: Channel::Http,
        status: None,
        coordinates: None,
    };
    Record {
        partition,
        offset,
        key: Some(b"office:ng-maiduguri".to_vec()),
        payload: Some(encode_check_in("ng-maiduguri", &check_in)),
        trace: Default::default(),
    }
}

fn published(changelog: &FakeChangelog) -> Vec<(String, Fact)> {
    changelog
        .0
        .lock()
        .unwrap()
        .published
        .iter()
        .map(|(key, payload)| (key.clone(), decode_event(payload).expect("decodes")))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_office_that_stops_checking_in_gets_one_silence_alert_and_its_check_in_resolves_it() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    harness.send(check_in(0, 1, START));
    wait(Duration::from_millis(50)).await;
    assert_eq!(
        harness.stored(),
        [(0, 1)],
        "the watch's state was written first"
    );
    // Every hour, with a 15-minute grace: nothing until 1 h 15 min.
    wait(Duration::from_secs(74 * 60)).await;
    assert!(published(&changelog).is_empty());
    wait(Duration::from_secs(2 * 60)).await;
    let raised = published(&changelog);
    let [(key, Fact::Raised { alert, .. })] = raised.as_slice() else {
        panic!("{raised:?}")
    };
    assert_eq!(alert.category, Category::OfficeSilent);
    assert_eq!(*key, alert.id.to_string(), "keyed like every alert");
    // One alert, however long the silence lasts.
    wait(Duration::from_secs(5 * 3600)).await;
    assert_eq!(published(&changelog).len(), 1);
    // The office checks in: the alert is resolved, with a note saying how.
    harness.send(check_in(0, 2, START.saturating_add_millis(6 * 3_600_000)));
    wait(Duration::from_millis(50)).await;
    let facts = published(&changelog);
    assert!(
        matches!(&facts[1].1, Fact::NoteAdded { alert_id, text, .. }
            if *alert_id == alert.id && text.starts_with("office checked in at")),
        "{facts:?}"
    );
    assert!(matches!(&facts[2].1, Fact::Resolved { alert_id, .. } if *alert_id == alert.id));
    assert_eq!(harness.stop().await, [(0, 1), (0, 2)]);
}

#[tokio::test(start_paused = true)]
async fn a_restored_watch_publishes_again_what_the_broker_had_not_acknowledged() {
    let changelog = FakeChangelog::default();
    // A watch that went down (its alert decided, not yet acknowledged) before a kill -9.
    let watches = config().watches();
    let watch_config = &watches["ng-maiduguri"];
    let mut watch = OfficeWatch::new(OfficeKey("ng-maiduguri".into()));
    watch.handle_check_in(
        CheckIn {
            at: START,
            channel: Channel::Grpc,
            status: None,
            coordinates: None,
        },
        watch_config,
    );
    watch.handle_timeout(watch_config, START.saturating_add_millis(2 * 3_600_000));
    changelog.0.lock().unwrap().restores.insert(
        0,
        vec![Record {
            partition: 0,
            offset: 0,
            key: Some(b"office:ng-maiduguri".to_vec()),
            payload: Some(encode_watch(&watch.snapshot(), 4)),
            trace: Default::default(),
        }],
    );
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    wait(Duration::from_millis(50)).await;
    let again = published(&changelog);
    let Some(Action::Publish(Owed {
        publication: Publication::Raise { alert, .. },
        ..
    })) = watch.poll_action()
    else {
        panic!("the watch decided its alert")
    };
    assert!(
        matches!(again.as_slice(), [(_, Fact::Raised { alert: published, .. })] if published.id == alert.id),
        "the same alert, under the same id: {again:?}"
    );
    // Acknowledged now: the watch forgets it, and writes that down.
    wait(Duration::from_millis(50)).await;
    assert!(changelog.writes() >= 1);
    harness.stop().await;
}
