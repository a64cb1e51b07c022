//! Watchkeeper's Kafka adapter, the only crate that knows rdkafka: topic admin, the idempotent
//! producer, the dispatcher's group consumer, partition restore from the state changelog, and
//! the protobuf encoding of every record.

pub mod admin;
pub mod codec;
pub mod consumer;
pub mod escalation_codec;
pub mod headcount_codec;
pub mod producer;
pub mod restore;
pub mod silence_codec;
pub mod silences;
pub mod state_codec;
pub mod tail;
pub mod trace;
pub mod watch_codec;

use rdkafka::ClientConfig;
use wk_core::config::KafkaConfig;

/// The common client settings: brokers, then the operator's pass-through properties (security
/// settings such as `security.protocol`, `sasl.*`, `ssl.*`).
fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.brokers);
    for (key, value) in &kafka.properties {
        config.set(key, value);
    }
    config
}

/// A tuning setting: the operator's value from `kafka.properties` if given, else ours.
/// (Settings that correctness depends on, such as `acks` or `enable.auto.offset.store`, are
/// set after the pass-through properties and cannot be overridden.)
fn tuned<'a>(kafka: &'a KafkaConfig, key: &str, default: &'a str) -> &'a str {
    kafka.properties.get(key).map_or(default, String::as_str)
}

/// A Kafka client failed; the message says which operation.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("kafka {operation}: {source}")]
    Kafka {
        operation: &'static str,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
    #[error("closing the consumer did not finish within {seconds} s (broker unreachable?)")]
    CloseTimeout { seconds: u64 },
    #[error("restoring {topic}[{partition}] timed out after {seconds} s")]
    RestoreTimeout {
        topic: String,
        partition: i32,
        seconds: u64,
    },
}

impl BusError {
    fn kafka(operation: &'static str) -> impl FnOnce(rdkafka::error::KafkaError) -> BusError {
        move |source| BusError::Kafka { operation, source }
    }
}
