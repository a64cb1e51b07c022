//! The idempotent producer: acks=all, and a send resolves only once the broker acknowledged the
//! record (or it is refused). Nothing is reported accepted that is not durably on Kafka.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use wk_core::config::KafkaConfig;

use crate::trace::TraceHeaders;
use crate::{BusError, client_config, tuned};

/// Why a record was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The local send queue is full: the broker is not keeping up. Retry later.
    #[error("producer queue is full")]
    QueueFull,
    /// The broker did not acknowledge the record in time, or refused it.
    #[error("broker did not acknowledge the record: {0}")]
    NotAcknowledged(KafkaError),
}

/// Where an acknowledged record landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    pub partition: i32,
    pub offset: i64,
}

/// A queued record, until the broker acknowledges it.
pub struct Pending(rdkafka::producer::DeliveryFuture);

impl Pending {
    pub async fn acknowledged(self) -> Result<Acknowledged, ProduceError> {
        match self.0.await {
            Ok(Ok(delivered)) => Ok(Acknowledged {
                partition: delivered.partition,
                offset: delivered.offset,
            }),
            Ok(Err((error, _))) => Err(ProduceError::NotAcknowledged(error)),
            Err(_canceled) => Err(ProduceError::NotAcknowledged(KafkaError::Canceled)),
        }
    }
}

/// A cheap-to-clone handle on one idempotent producer.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer,
}

impl Producer {
    /// For submissions: a 1 ms linger batches concurrent ones without visible latency.
    pub fn new(kafka: &KafkaConfig) -> Result<Producer, BusError> {
        Producer::with_linger(kafka, "1")
    }

    /// For the dispatcher's changelog, written behind the notifications it records: a 5 ms
    /// linger packs more writes per produce request, sparing the broker.
    pub fn batching(kafka: &KafkaConfig) -> Result<Producer, BusError> {
        Producer::with_linger(kafka, "5")
    }

    fn with_linger(kafka: &KafkaConfig, linger_ms: &str) -> Result<Producer, BusError> {
        let inner = client_config(kafka)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // Records never time out inside librdkafka: callers bound their own wait (the api
            // answers UNAVAILABLE after `produce_timeout`; the record may still land later,
            // under the same alert id). A librdkafka timeout would make the idempotent producer
            // bump its epoch (KIP-360), which Tansu 0.6 cannot handle (its storage panics on
            // InitProducerId with an existing producer id), taking the broker down. See
            // ARCHITECTURE.md, "Delivery semantics".
            .set("message.timeout.ms", "0")
            .set("linger.ms", tuned(kafka, "linger.ms", linger_ms))
            // Java-compatible key hashing, so other Kafka tools agree on partitions.
            .set("partitioner", "murmur2_random")
            .create()
            .map_err(BusError::kafka("create producer"))?;
        Ok(Producer { inner })
    }

    /// Sends one record and waits, without limit, for the broker's acknowledgement; callers
    /// that must answer in bounded time wrap this in a timeout. `partition` pins the
    /// partition (the state changelog follows its input partition); `None` hashes the key.
    /// A `traced` record carries the current span's trace context in its headers (when
    /// OpenTelemetry export is on).
    pub async fn send(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        partition: Option<i32>,
        traced: bool,
    ) -> Result<Acknowledged, ProduceError> {
        self.enqueue(topic, key, payload, partition, traced)?
            .acknowledged()
            .await
    }

    /// Queues one record at once, without waiting: records queued one after another on a
    /// partition land in that order (idempotent producer). The returned handle resolves when
    /// the broker acknowledged it.
    pub fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        partition: Option<i32>,
        traced: bool,
    ) -> Result<Pending, ProduceError> {
        let mut record = FutureRecord::to(topic).key(key).payload(payload);
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        // The caller's span (the submission, the officer's action) becomes the parent of the
        // dispatcher's work on this record. Only then does a record carry headers: the alert
        // id is its key, and Tansu 0.6 looks up every fetched record's headers in a table
        // without an index, so each header row costs every later fetch.
        let trace = if traced {
            TraceHeaders::of(&tracing::Span::current())
        } else {
            TraceHeaders::default()
        };
        if !trace.is_empty() {
            let mut headers = OwnedHeaders::new();
            for (key, value) in trace.iter() {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            record = record.headers(headers);
        }
        match self.inner.send_result(record) {
            Ok(delivery) => Ok(Pending(delivery)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                Err(ProduceError::QueueFull)
            }
            Err((error, _)) => Err(ProduceError::NotAcknowledged(error)),
        }
    }

    /// Waits up to `timeout` for every queued record to be acknowledged (on shutdown).
    pub async fn flush(&self, timeout: Duration) -> Result<(), BusError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.flush(timeout))
            .await
            .unwrap_or(Err(KafkaError::Canceled))
            .map_err(BusError::kafka("flush producer"))
    }
}
