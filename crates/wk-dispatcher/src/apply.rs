//! Applying one fact from the alerts topic to its machine: an alert's to its escalation
//! (opened on its first `Raised`), an office's check-in, pause or resumption to its watch.

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wk_bus::codec::Fact;
use wk_bus::consumer::Record;
use wk_bus::trace::TraceHeaders;
use wk_bus::watch_codec::OfficeFact;
use wk_core::escalation::Escalation;
use wk_core::watch::{OfficeKey, OfficeWatch};

use crate::dispatcher::{Dispatcher, Flow, pause};
use crate::held::{Held, Subject};
use crate::io::{Changelog, Clock, Input, Notifier};
use crate::metrics;
use crate::pipeline::Key;
use crate::store::Tracked;

impl<I: Input, C: Changelog, N: Notifier, K: Clock> Dispatcher<I, C, N, K> {
    /// Applies one fact from the alerts topic to its machine and acts on a change; the change
    /// is written at the next flush and the record's offset stored after that.
    pub(crate) fn apply(&mut self, partition: i32, offset: i64, fact: Fact, trace: TraceHeaders) {
        let changed: Vec<Key> = match fact {
            Fact::Office { office, fact } => self
                .apply_office(partition, offset, office, fact)
                .into_iter()
                .collect(),
            Fact::Headcount { id, fact, at } => {
                self.apply_headcount(partition, offset, id, fact, at)
            }
            fact => self
                .apply_alert(partition, offset, fact, trace)
                .into_iter()
                .collect(),
        };
        if changed.is_empty() {
            self.pipeline.unchanged(partition, offset);
            self.release();
        }
        // One fact may change several machines (a close, every part of a headcount): its
        // offset waits for all of them, which are written at the same flush.
        for (index, key) in changed.into_iter().enumerate() {
            self.pipeline
                .changed(key.clone(), (index == 0).then_some(offset));
            self.act(key);
        }
    }

    /// A fact about an alert, for its escalation; the key if it changed.
    fn apply_alert(
        &mut self,
        partition: i32,
        offset: i64,
        fact: Fact,
        trace: TraceHeaders,
    ) -> Option<Key> {
        let id = fact.alert_id()?;
        let key = (partition, Subject::Alert(id));
        let away = self.store.away(&key);
        if away.is_some_and(|away| offset <= away.input_offset) {
            // Re-read after a restart: its let-go state reflects it already.
            return None;
        }
        let now = self.clock.now();
        let policy = &self.world.policy;
        match (self.store.get_mut(&key), fact) {
            (Some(tracked), _) if offset <= tracked.input_offset => return None,
            (Some(tracked), fact) => {
                let Held::Escalation(escalation) = &mut tracked.machine else {
                    return None;
                };
                match fact {
                    Fact::Raised { alert, .. } => {
                        escalation.handle_trigger_under(alert, policy, &self.world.silences, now);
                    }
                    Fact::Acknowledged { by, incident, .. } => {
                        let effect = escalation.handle_ack(by, incident, &policy.directory, now);
                        info!(alert_id = %id, ?effect, "acknowledgement");
                    }
                    Fact::NoteAdded { by, text, .. } => escalation.handle_note(by, text, now),
                    Fact::Resolved { by, incident, .. } => {
                        let resolved =
                            escalation.handle_resolve(by, incident, &policy.directory, now);
                        info!(alert_id = %id, resolved, "resolution");
                    }
                    Fact::Office { .. } | Fact::Headcount { .. } => return None,
                }
                tracked.input_offset = offset;
            }
            (None, Fact::Raised { alert, .. }) => {
                // A repeat of a resolved alert it let go opens the next incident, as
                // `handle_trigger_under` would on the resolved escalation.
                let incident = away.map_or(1, |away| away.incident.saturating_add(1));
                let escalation =
                    Escalation::open_incident(alert, incident, policy, &self.world.silences, now);
                let silenced = escalation.is_held();
                if silenced {
                    metrics::silenced_step();
                }
                info!(alert_id = %id, incident = escalation.incident(), silenced, "alert opened");
                self.store.insert(
                    key.clone(),
                    Tracked::new(Held::Escalation(escalation), offset, trace),
                );
            }
            (None, _) => {
                warn!(alert_id = %id, "action on an unknown alert ignored");
                return None;
            }
        }
        Some(key)
    }

    /// A check-in, pause or resumption, for the office's watch (made on its first fact); the
    /// key if it changed. An office without a check-in schedule is not watched.
    fn apply_office(
        &mut self,
        partition: i32,
        offset: i64,
        office: OfficeKey,
        fact: OfficeFact,
    ) -> Option<Key> {
        let Some(config) = self.world.watch(&office) else {
            info!(office = %office, "fact about an office without a check-in schedule ignored");
            return None;
        };
        let key = (partition, Subject::Office(office.clone()));
        if !self.store.contains(&key) {
            let watch = Held::Watch(OfficeWatch::new(office.clone()));
            self.store.insert(
                key.clone(),
                Tracked::new(watch, -1, TraceHeaders::default()),
            );
        }
        let tracked = self.store.get_mut(&key)?;
        let Held::Watch(watch) = &mut tracked.machine else {
            return None;
        };
        if offset <= tracked.input_offset {
            return None;
        }
        let changed = match fact {
            OfficeFact::CheckedIn(check_in) => {
                metrics::check_in(check_in.channel);
                watch.handle_check_in(check_in, config)
            }
            OfficeFact::Paused(pause) => {
                info!(office = %office, "office watch paused");
                watch.handle_pause(pause);
                true
            }
            OfficeFact::Resumed { at, .. } => {
                info!(office = %office, "office watch resumed");
                watch.handle_resume(config, at)
            }
        };
        // A check-in resumes a paused watch; within a maintenance window it pauses again.
        let judged = self.world.judge_watch(watch, self.clock.now());
        tracked.input_offset = offset;
        (changed || judged).then_some(key)
    }

    /// Sends an undecodable input record to the dead-letter topic, waiting for the broker
    /// (retried until shutdown), then lets its offset follow what is queued.
    pub(crate) async fn dead_letter(
        &mut self,
        record: &Record,
        shutdown: &CancellationToken,
    ) -> Flow {
        let key = record
            .key
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .into_owned();
        let payload = record.payload.as_deref().unwrap_or_default();
        loop {
            match self.changelog.dead_letter(&key, payload).await {
                Ok(()) => break,
                Err(error) => warn!(%error, "dead letter not acknowledged; retrying"),
            }
            if pause(shutdown).await {
                return Flow::Stop;
            }
        }
        self.pipeline.unchanged(record.partition, record.offset);
        self.release();
        Flow::Continue
    }
}
