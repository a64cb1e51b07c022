//! The dispatcher's group consumer: offsets are stored by hand, only after the work for a
//! record is done (`enable.auto.offset.store=false`); librdkafka commits stored offsets in the
//! background and on revocation. Assignments and revocations (synchronous librdkafka
//! callbacks) are forwarded to the dispatcher's loop as `Assignment` messages.

use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{Headers as _, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use wk_core::config::KafkaConfig;

use crate::trace::TraceHeaders;
use crate::{BusError, client_config, tuned};

/// An owned record, detached from the consumer's buffers.
#[derive(Clone, Debug)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    /// The W3C trace context of whoever produced it, if any.
    pub trace: TraceHeaders,
}

impl Record {
    /// Copies what the dispatcher needs out of a message borrowed from librdkafka.
    pub(crate) fn copy_of(message: &impl Message) -> Record {
        Record {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            trace: message
                .headers()
                .map(|headers| {
                    TraceHeaders::from_record(
                        headers.iter().map(|header| (header.key, header.value)),
                    )
                })
                .unwrap_or_default(),
        }
    }
}

/// A change of the partitions this consumer owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assignment {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
    /// Taken away without a handover: the group session expired (the broker or the network
    /// was away). Another member may own these partitions by now, or nobody until the broker
    /// is back.
    Lost(Vec<i32>),
}

/// Forwards rebalances (synchronous librdkafka callbacks) into the dispatcher's loop.
pub struct RebalanceContext {
    events: mpsc::UnboundedSender<Assignment>,
}

impl ClientContext for RebalanceContext {
    /// librdkafka's statistics (every `statistics.interval.ms`): the consumer lag per partition.
    fn stats(&self, statistics: rdkafka::Statistics) {
        for topic in statistics.topics.values() {
            for (partition, stats) in &topic.partitions {
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    metrics::gauge!("watchkeeper_consumer_lag", "partition" => partition.to_string())
                        .set(stats.consumer_lag as f64);
                }
            }
        }
    }
}

fn partitions(list: &TopicPartitionList) -> Vec<i32> {
    list.elements()
        .iter()
        .map(|element| element.partition())
        .collect()
}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let partitions = partitions(list);
            let event = if consumer.assignment_lost() {
                Assignment::Lost(partitions)
            } else {
                Assignment::Revoked(partitions)
            };
            // The receiver lives as long as the loop; a send can only fail at shutdown.
            let _ = self.events.send(event);
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            let _ = self.events.send(Assignment::Assigned(partitions(list)));
        }
    }
}

pub struct GroupConsumer {
    inner: StreamConsumer<RebalanceContext>,
    topic: String,
}

impl GroupConsumer {
    /// Joins `kafka.consumer_group` and subscribes to the alerts topic; assignments and
    /// revocations arrive on the returned receiver.
    pub fn subscribe(
        kafka: &KafkaConfig,
    ) -> Result<(GroupConsumer, mpsc::UnboundedReceiver<Assignment>), BusError> {
        let (sender, events) = mpsc::unbounded_channel();
        let mut config = client_config(kafka);
        // Static membership: a dispatcher restarted under its id takes its partitions back at
        // once (it does not leave the group when it stops, so a restart is not a rebalance).
        if let Some(id) = &kafka.group_instance_id {
            config.set("group.instance.id", id);
        }
        let inner: StreamConsumer<RebalanceContext> = config
            .set("group.id", &kafka.consumer_group)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // Notify as soon as a record lands rather than waiting for a fuller fetch.
            .set("fetch.wait.max.ms", tuned(kafka, "fetch.wait.max.ms", "10"))
            // A dispatcher killed with -9 is replaced within seconds. A broker that can stall
            // for longer (Tansu 0.6 under load, see the README's performance section) needs a
            // longer session, set through kafka.properties.
            .set(
                "session.timeout.ms",
                tuned(kafka, "session.timeout.ms", "6000"),
            )
            .set(
                "heartbeat.interval.ms",
                tuned(kafka, "heartbeat.interval.ms", "1000"),
            )
            .set("statistics.interval.ms", "5000")
            .create_with_context(RebalanceContext { events: sender })
            .map_err(BusError::kafka("create consumer"))?;
        inner
            .subscribe(&[&kafka.alerts_topic])
            .map_err(BusError::kafka("subscribe"))?;
        let consumer = GroupConsumer {
            inner,
            topic: kafka.alerts_topic.clone(),
        };
        Ok((consumer, events))
    }

    /// The next record of any assigned partition.
    pub async fn recv(&self) -> Result<Record, BusError> {
        let message = self
            .inner
            .recv()
            .await
            .map_err(BusError::kafka("consume"))?;
        Ok(Record::copy_of(&message))
    }

    /// Marks the record at `offset` done: the group will resume after it.
    pub fn store_done(&self, partition: i32, offset: i64) -> Result<(), BusError> {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, partition, Offset::Offset(offset + 1))
            .map_err(BusError::kafka("store offset"))?;
        self.inner
            .store_offsets(&list)
            .map_err(BusError::kafka("store offset"))
    }

    /// Commits the stored offsets, leaves the group and closes the consumer, waiting at most
    /// `timeout` (librdkafka blocks without limit when the broker is unreachable, so this runs
    /// on a blocking thread that is abandoned after the timeout).
    pub async fn close(self, timeout: std::time::Duration) -> Result<(), BusError> {
        let inner = self.inner;
        let closing = tokio::task::spawn_blocking(move || {
            let result = match inner.commit_consumer_state(CommitMode::Sync) {
                // Nothing stored since the last commit.
                Err(rdkafka::error::KafkaError::ConsumerCommit(
                    rdkafka::types::RDKafkaErrorCode::NoOffset,
                )) => Ok(()),
                other => other.map_err(BusError::kafka("commit offsets")),
            };
            drop(inner);
            result
        });
        match tokio::time::timeout(timeout, closing).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(BusError::Topic {
                topic: String::new(),
                reason: format!("closing the consumer failed: {join_error}"),
            }),
            Err(_elapsed) => Err(BusError::CloseTimeout {
                seconds: timeout.as_secs(),
            }),
        }
    }
}
