//! What the dispatcher's loop reads from and writes to, as traits, so the loop runs on Kafka
//! in production and on in-memory stand-ins (with tokio's paused time) in its unit tests:
//! the clock, the input (records and offset storage), the changelog (state writes, dead
//! letters, restores) and the notifier (the executor).

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use wk_bus::BusError;
use wk_bus::consumer::{GroupConsumer, Record};
use wk_bus::producer::{ProduceError, Producer};
use wk_bus::restore::newest::{Chunk, FIRST_SPAN, Seen};
use wk_bus::restore::{Newest, read_newest, read_one, read_range};
use wk_core::Timestamp;
use wk_core::config::KafkaConfig;

use crate::executor::{Executor, Job};

const RESTORE_TIMEOUT: Duration = Duration::from_secs(60);
/// One record read back (a let-go escalation's state).
const RECALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the loop's `now` comes from. Escalation timers are wall-clock instants (they survive
/// restarts and move between processes), so production uses [`WallClock`].
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }
}

/// Wall time that follows tokio's clock from `start`: with `tokio::time::pause` it advances
/// only as the runtime's time does, so a test of the loop is exact and instant.
pub struct TokioClock {
    start: Timestamp,
    origin: tokio::time::Instant,
}

impl TokioClock {
    pub fn starting_at(start: Timestamp) -> TokioClock {
        TokioClock {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.start.saturating_add_millis(elapsed)
    }
}

/// The alerts topic as the loop consumes it.
pub trait Input: Send + 'static {
    fn recv(&self) -> impl Future<Output = Result<Record, BusError>> + Send;
    /// Marks `offset` of `partition` done (committed with the group's next commit).
    fn store_done(&self, partition: i32, offset: i64) -> Result<(), BusError>;
    /// Commits and leaves the group.
    fn close(self, timeout: Duration) -> impl Future<Output = Result<(), BusError>> + Send;
}

impl Input for GroupConsumer {
    fn recv(&self) -> impl Future<Output = Result<Record, BusError>> + Send {
        GroupConsumer::recv(self)
    }

    fn store_done(&self, partition: i32, offset: i64) -> Result<(), BusError> {
        GroupConsumer::store_done(self, partition, offset)
    }

    fn close(self, timeout: Duration) -> impl Future<Output = Result<(), BusError>> + Send {
        GroupConsumer::close(self, timeout)
    }
}

/// The broker's acknowledgement (or refusal) of one queued write: a state write's gives its
/// changelog offset.
pub type Acknowledgement<T = ()> = Pin<Box<dyn Future<Output = Result<T, ProduceError>> + Send>>;

/// The state changelog and the dead-letter topic.
pub trait Changelog: Send + Sync + 'static {
    /// Queues the state record of `key` on `partition` without waiting;
    /// `Err(ProduceError::QueueFull)` when the producer's queue is full.
    fn write(
        &self,
        partition: i32,
        key: &str,
        payload: &[u8],
    ) -> Result<Acknowledgement<i64>, ProduceError>;
    /// Queues a record a machine decided (a watch's silence alert) on the alerts topic, keyed
    /// like every record there; `Err(ProduceError::QueueFull)` when the queue is full.
    fn publish(&self, key: &str, payload: &[u8]) -> Result<Acknowledgement, ProduceError>;
    /// Sends an undecodable input record to the dead-letter topic and waits for the broker.
    fn dead_letter(
        &self,
        key: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<(), ProduceError>> + Send;
    /// The first read of a restore of the changelog's `partition`: its watermarks and its
    /// newest offsets (`wk_bus::restore::newest::FIRST_SPAN` of them).
    fn read_newest(&self, partition: i32) -> impl Future<Output = Result<Newest, BusError>> + Send;
    /// Reads the offsets `range` of the changelog's `partition`: the latest state record of
    /// each key not in `seen` (restore reads newest first: `wk_bus::restore::newest`).
    fn read_range(
        &self,
        partition: i32,
        range: Range<i64>,
        seen: Seen,
    ) -> impl Future<Output = Result<Chunk, BusError>> + Send;
    /// The record at `offset` of the changelog's `partition` (a let-go escalation's state);
    /// `None` when the partition no longer holds that offset.
    fn read_at(
        &self,
        partition: i32,
        offset: i64,
    ) -> impl Future<Output = Result<Option<Record>, BusError>> + Send;
}

/// The changelog on Kafka.
pub struct KafkaChangelog {
    pub kafka: KafkaConfig,
    pub producer: Producer,
}

impl Changelog for KafkaChangelog {
    fn write(
        &self,
        partition: i32,
        key: &str,
        payload: &[u8],
    ) -> Result<Acknowledgement<i64>, ProduceError> {
        let queued = self.producer.enqueue(
            &self.kafka.state_topic,
            key,
            payload,
            Some(partition),
            false,
        )?;
        Ok(Box::pin(async move {
            queued.acknowledged().await.map(|written| written.offset)
        }))
    }

    fn publish(&self, key: &str, payload: &[u8]) -> Result<Acknowledgement, ProduceError> {
        let queued = self
            .producer
            .enqueue(&self.kafka.alerts_topic, key, payload, None, false)?;
        Ok(Box::pin(
            async move { queued.acknowledged().await.map(|_| ()) },
        ))
    }

    fn dead_letter(
        &self,
        key: &str,
        payload: &[u8],
    ) -> impl Future<Output = Result<(), ProduceError>> + Send {
        let sent = self
            .producer
            .enqueue(&self.kafka.dead_letter_topic, key, payload, None, false);
        async move { sent?.acknowledged().await.map(|_| ()) }
    }

    fn read_newest(&self, partition: i32) -> impl Future<Output = Result<Newest, BusError>> + Send {
        read_newest(
            &self.kafka,
            &self.kafka.state_topic,
            partition,
            FIRST_SPAN,
            RESTORE_TIMEOUT,
        )
    }

    fn read_range(
        &self,
        partition: i32,
        range: Range<i64>,
        seen: Seen,
    ) -> impl Future<Output = Result<Chunk, BusError>> + Send {
        read_range(
            &self.kafka,
            &self.kafka.state_topic,
            partition,
            range,
            seen,
            RESTORE_TIMEOUT,
        )
    }

    fn read_at(
        &self,
        partition: i32,
        offset: i64,
    ) -> impl Future<Output = Result<Option<Record>, BusError>> + Send {
        read_one(
            &self.kafka,
            &self.kafka.state_topic,
            partition,
            offset,
            RECALL_TIMEOUT,
        )
    }
}

/// Where decided notifications go; their outcomes come back as reports.
pub trait Notifier: Send + 'static {
    fn spawn(&self, job: Job);
    /// A headcount's mail.
    fn spawn_mail(&self, job: crate::executor::MailJob);
}

impl Notifier for Executor {
    fn spawn(&self, job: Job) {
        Executor::spawn(self, job);
    }
    fn spawn_mail(&self, job: crate::executor::MailJob) {
        Executor::spawn_mail(self, job);
    }
}
