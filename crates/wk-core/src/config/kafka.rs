//! `[kafka]`: the brokers, the four topics, the consumer group and librdkafka properties.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use super::Errors;
use super::lenient;

#[derive(Clone, Debug)]
pub struct KafkaConfig {
    pub brokers: String,
    pub alerts_topic: String,
    pub state_topic: String,
    pub dead_letter_topic: String,
    /// Every silence (compacted, one partition), read in full by every process.
    pub silences_topic: String,
    pub partitions: i32,
    /// -1 lets the broker choose its default.
    pub replication_factor: i32,
    pub consumer_group: String,
    /// This dispatcher's static membership of the group (`group.instance.id`): one restarted
    /// under the same id gets its partitions back at once, without waiting out the session.
    /// Each dispatcher needs its own (e.g. `WATCHKEEPER__KAFKA__GROUP_INSTANCE_ID=manila-1`).
    pub group_instance_id: Option<String>,
    /// How long a produce may wait for the broker's acknowledgement before the alert is refused
    /// with UNAVAILABLE.
    pub produce_timeout: Duration,
    /// Passed to librdkafka as they are, e.g. `security.protocol`, `sasl.mechanism`.
    pub properties: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKafka {
    pub(super) brokers: String,
    #[serde(default = "default_alerts_topic")]
    pub(super) alerts_topic: String,
    #[serde(default = "default_state_topic")]
    pub(super) state_topic: String,
    #[serde(default = "default_dead_letter_topic")]
    pub(super) dead_letter_topic: String,
    #[serde(default = "default_silences_topic")]
    pub(super) silences_topic: String,
    #[serde(default = "default_partitions", deserialize_with = "lenient::whole")]
    pub(super) partitions: i64,
    #[serde(default = "default_replication", deserialize_with = "lenient::whole")]
    pub(super) replication_factor: i64,
    #[serde(default = "default_group")]
    pub(super) consumer_group: String,
    #[serde(default)]
    pub(super) group_instance_id: Option<String>,
    #[serde(default = "default_produce_timeout")]
    pub(super) produce_timeout: String,
    #[serde(default)]
    pub(super) properties: BTreeMap<String, String>,
}

pub(super) fn default_alerts_topic() -> String {
    "watchkeeper.alerts".into()
}
pub(super) fn default_state_topic() -> String {
    "watchkeeper.alert-state".into()
}
pub(super) fn default_dead_letter_topic() -> String {
    "watchkeeper.dead-letter".into()
}
pub(super) fn default_silences_topic() -> String {
    "watchkeeper.silences".into()
}
pub(super) fn default_partitions() -> i64 {
    6
}
pub(super) fn default_replication() -> i64 {
    -1
}
pub(super) fn default_group() -> String {
    "watchkeeper-dispatcher".into()
}
pub(super) fn default_produce_timeout() -> String {
    "5s".into()
}

/// 1..=249 letters, digits, '.', '_' or '-': what Kafka takes as a topic name (and what a
/// group instance id is kept to here).
fn kafka_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_topic(errors: &mut Errors, field: &str, name: &str) {
    if !kafka_name(name) {
        errors.push(field, format!("{name:?} is not a Kafka topic name"));
    }
}

impl RawKafka {
    pub(super) fn check(self, errors: &mut Errors) -> KafkaConfig {
        let k = self;
        errors.non_empty("kafka.brokers", &k.brokers);
        check_topic(errors, "kafka.alerts_topic", &k.alerts_topic);
        check_topic(errors, "kafka.state_topic", &k.state_topic);
        check_topic(errors, "kafka.dead_letter_topic", &k.dead_letter_topic);
        check_topic(errors, "kafka.silences_topic", &k.silences_topic);
        let topics: BTreeSet<&str> = [
            &k.alerts_topic,
            &k.state_topic,
            &k.dead_letter_topic,
            &k.silences_topic,
        ]
        .map(String::as_str)
        .into();
        if topics.len() != 4 {
            errors.push(
                "kafka",
                "alerts_topic, state_topic, dead_letter_topic and silences_topic must differ",
            );
        }
        errors.non_empty("kafka.consumer_group", &k.consumer_group);
        if let Some(id) = &k.group_instance_id
            && !kafka_name(id)
        {
            errors.push(
                "kafka.group_instance_id",
                format!("{id:?} must be 1..=249 letters, digits, '.', '_' or '-'"),
            );
        }
        if k.properties.contains_key("group.instance.id") {
            errors.push(
                "kafka.properties",
                "set group.instance.id as kafka.group_instance_id (it is the dispatcher's alone)",
            );
        }
        let replication_factor =
            errors.in_range("kafka.replication_factor", k.replication_factor, -1, 32);
        if replication_factor == 0 {
            errors.push(
                "kafka.replication_factor",
                "must be -1 (broker default) or at least 1",
            );
        }
        KafkaConfig {
            partitions: errors.in_range("kafka.partitions", k.partitions, 1, 1024) as i32,
            replication_factor: replication_factor as i32,
            produce_timeout: errors.duration(
                "kafka.produce_timeout",
                &k.produce_timeout,
                Duration::from_millis(100),
            ),
            brokers: k.brokers,
            alerts_topic: k.alerts_topic,
            state_topic: k.state_topic,
            dead_letter_topic: k.dead_letter_topic,
            silences_topic: k.silences_topic,
            consumer_group: k.consumer_group,
            group_instance_id: k.group_instance_id,
            properties: k.properties,
        }
    }
}
