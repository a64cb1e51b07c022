//! The consume → apply → persist → notify → persist → store-offset loop.
//!
//! Per record: the partition's states are restored from the changelog on first use; the event
//! is applied to the alert's state; the new state is produced to the changelog (partition =
//! input partition) and acknowledged before any notification goes out; pending deliveries are
//! attempted; the settled state is produced; only then is the input offset stored. A crash at
//! any point re-reads the record, finds the state, and re-sends only deliveries still pending,
//! under the same ids.

use std::collections::HashMap;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{error, info, instrument, warn};
use wk_bus::BusError;
use wk_bus::codec::{Event, decode_event, decode_state, encode_state};
use wk_bus::consumer::{GroupConsumer, Record};
use wk_bus::producer::Producer;
use wk_bus::restore::read_partition;
use wk_core::alert::AlertId;
use wk_core::config::KafkaConfig;
use wk_core::state::{AlertState, RaiseEffect, Target};

use crate::notifier::Notifier;

const RESTORE_TIMEOUT: Duration = Duration::from_secs(60);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// The targets of the single route: the console's webhook, then each of its mailboxes.
fn targets_for(console: &wk_core::config::Console) -> Vec<Target> {
    let mut targets = vec![Target::Webhook {
        console: console.name.clone(),
    }];
    targets.extend(console.emails.iter().map(|recipient| Target::Email {
        console: console.name.clone(),
        recipient: recipient.clone(),
    }));
    targets
}

pub struct Dispatcher {
    kafka: KafkaConfig,
    consumer: GroupConsumer,
    producer: Producer,
    notifier: Notifier,
    targets: Vec<Target>,
    /// Restored partitions and their alerts.
    partitions: HashMap<i32, HashMap<AlertId, AlertState>>,
}

/// Whether the loop should go on.
enum Flow {
    Continue,
    Stop,
}

impl Dispatcher {
    pub fn new(
        kafka: KafkaConfig,
        producer: Producer,
        notifier: Notifier,
        route_console: &str,
    ) -> Result<Dispatcher, DispatchError> {
        let consumer = GroupConsumer::subscribe(&kafka)?;
        let targets = notifier
            .consoles
            .get(route_console)
            .map(targets_for)
            .unwrap_or_default();
        Ok(Dispatcher {
            kafka,
            consumer,
            producer,
            notifier,
            targets,
            partitions: HashMap::new(),
        })
    }

    /// Runs until `shutdown`; then commits what is done.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), DispatchError> {
        info!(group = %self.kafka.consumer_group, topic = %self.kafka.alerts_topic, "dispatcher started");
        loop {
            let record = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                record = self.consumer.recv() => record,
            };
            for partition in self.consumer.take_revoked() {
                self.partitions.remove(&partition);
            }
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    warn!(%error, "consume failed; retrying");
                    continue;
                }
            };
            if let Flow::Stop = self.handle(record, &shutdown).await? {
                break;
            }
        }
        self.consumer.close(CLOSE_TIMEOUT).await?;
        info!("dispatcher stopped; offsets committed");
        Ok(())
    }

    async fn restore(&mut self, partition: i32) -> Result<(), BusError> {
        if self.partitions.contains_key(&partition) {
            return Ok(());
        }
        let records = read_partition(
            &self.kafka,
            &self.kafka.state_topic,
            partition,
            RESTORE_TIMEOUT,
        )
        .await?;
        let mut states = HashMap::new();
        for record in &records {
            match record.payload.as_deref().map(decode_state) {
                Some(Ok(state)) => {
                    states.insert(state.alert.id, state);
                }
                Some(Err(error)) => {
                    warn!(partition, offset = record.offset, %error, "undecodable state skipped")
                }
                None => {}
            }
        }
        info!(
            partition,
            alerts = states.len(),
            records = records.len(),
            "partition restored"
        );
        self.partitions.insert(partition, states);
        Ok(())
    }

    async fn handle(
        &mut self,
        record: Record,
        shutdown: &CancellationToken,
    ) -> Result<Flow, DispatchError> {
        let partition = record.partition;
        loop {
            match self.restore(partition).await {
                Ok(()) => break,
                Err(error) => {
                    warn!(partition, %error, "restore failed; retrying");
                    if self.pause(shutdown).await {
                        return Ok(Flow::Stop);
                    }
                }
            }
        }
        let event = match record.payload.as_deref().map(decode_event) {
            Some(Ok(event)) => event,
            Some(Err(error)) => {
                error!(partition, offset = record.offset, %error, "undecodable alert record; sent to dead letter");
                return self.dead_letter(&record, shutdown).await;
            }
            None => {
                warn!(
                    partition,
                    offset = record.offset,
                    "empty alert record skipped"
                );
                self.consumer.store_done(partition, record.offset)?;
                return Ok(Flow::Continue);
            }
        };
        match event {
            Event::Raised { alert, at } => {
                self.raised(alert, at, partition, record.offset, shutdown)
                    .await
            }
        }
    }

    #[instrument(skip_all, fields(alert_id = %alert.id, office = %alert.office_id, severity = %alert.severity))]
    async fn raised(
        &mut self,
        alert: wk_core::Alert,
        at: wk_core::Timestamp,
        partition: i32,
        offset: i64,
        shutdown: &CancellationToken,
    ) -> Result<Flow, DispatchError> {
        let id = alert.id;
        let states = self.partitions.entry(partition).or_default();
        let (mut state, effect) = match states.remove(&id) {
            Some(mut state) => {
                let effect = state.repeat(at, offset);
                (state, effect)
            }
            None => (
                AlertState::open(alert, &self.targets, at, offset),
                RaiseEffect::Opened,
            ),
        };
        match effect {
            RaiseEffect::Opened => info!("alert opened"),
            RaiseEffect::Folded => info!(
                occurrences = state.occurrences,
                "repeat folded into open alert"
            ),
            RaiseEffect::AlreadyApplied => {
                info!("event already applied; resuming pending deliveries")
            }
        }
        if effect != RaiseEffect::AlreadyApplied && !self.persist(&state, partition, shutdown).await
        {
            return Ok(Flow::Stop);
        }
        let pending: Vec<_> = state.pending().cloned().collect();
        if !pending.is_empty() {
            let outcomes = futures_util::future::join_all(
                pending
                    .iter()
                    .map(|delivery| self.notifier.deliver(&state, delivery)),
            )
            .await;
            for (delivery, outcomes) in pending.iter().zip(outcomes) {
                for outcome in outcomes {
                    state.record_attempt(&delivery.id, outcome, self.notifier.max_attempts);
                }
            }
            if !self.persist(&state, partition, shutdown).await {
                return Ok(Flow::Stop);
            }
        }
        self.partitions
            .entry(partition)
            .or_default()
            .insert(id, state);
        self.consumer.store_done(partition, offset)?;
        Ok(Flow::Continue)
    }

    /// Produces `state` to the changelog until the broker acknowledges it; false if shutdown
    /// came first (the input offset is then not stored, so the record is processed again).
    async fn persist(
        &self,
        state: &AlertState,
        partition: i32,
        shutdown: &CancellationToken,
    ) -> bool {
        let key = state.alert.id.to_string();
        let payload = encode_state(state);
        loop {
            match self
                .producer
                .send(
                    &self.kafka.state_topic,
                    &key,
                    &payload,
                    Some(partition),
                    Some(&key),
                )
                .await
            {
                Ok(_) => return true,
                Err(error) => warn!(%error, "state not acknowledged; retrying"),
            }
            if self.pause(shutdown).await {
                return false;
            }
        }
    }

    async fn dead_letter(
        &mut self,
        record: &Record,
        shutdown: &CancellationToken,
    ) -> Result<Flow, DispatchError> {
        let key = record
            .key
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .into_owned();
        loop {
            let payload = record.payload.as_deref().unwrap_or_default();
            match self
                .producer
                .send(&self.kafka.dead_letter_topic, &key, payload, None, None)
                .await
            {
                Ok(_) => break,
                Err(error) => warn!(%error, "dead letter not acknowledged; retrying"),
            }
            if self.pause(shutdown).await {
                return Ok(Flow::Stop);
            }
        }
        self.consumer.store_done(record.partition, record.offset)?;
        Ok(Flow::Continue)
    }

    /// Waits a second between retries; true if shutdown came first.
    async fn pause(&self, shutdown: &CancellationToken) -> bool {
        tokio::select! {
            () = shutdown.cancelled() => true,
            () = tokio::time::sleep(Duration::from_secs(1)) => false,
        }
    }
}
