//! Reading a topic partition from its start to its current end: how the dispatcher restores a
//! partition's alerts from the state changelog, and how a read view catches up.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use wk_core::config::KafkaConfig;

use crate::consumer::Record;
use crate::{BusError, client_config};

const POLL: Duration = Duration::from_millis(100);

/// Every record of `topic[partition]` up to the high watermark read at the start, in order.
pub async fn read_partition(
    kafka: &KafkaConfig,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<Vec<Record>, BusError> {
    let config = client_config(kafka);
    let topic = topic.to_owned();
    // librdkafka's BaseConsumer blocks in poll; keep it off the async threads.
    tokio::task::spawn_blocking(move || read_blocking(config, &topic, partition, timeout))
        .await
        .unwrap_or_else(|join_error| {
            Err(BusError::Topic {
                topic: String::new(),
                reason: format!("restore task failed: {join_error}"),
            })
        })
}

fn read_blocking(
    mut config: rdkafka::ClientConfig,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<Vec<Record>, BusError> {
    let started = Instant::now();
    let consumer: BaseConsumer = config
        .set("group.id", "watchkeeper-restore")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.wait.max.ms", "10")
        // Few, large fetches: Tansu 0.6 costs a fetch in proportion to what lies after its
        // offset, so reading a partition in 1 MiB steps is quadratic.
        .set("max.partition.fetch.bytes", "16777216")
        .set("fetch.max.bytes", "67108864")
        .set("receive.message.max.bytes", "67109376")
        .create()
        .map_err(BusError::kafka("create restore consumer"))?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, timeout)
        .map_err(BusError::kafka("fetch watermarks"))?;
    let mut records = Vec::new();
    if high <= low {
        return Ok(records);
    }
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Beginning)
        .map_err(BusError::kafka("assign"))?;
    consumer.assign(&list).map_err(BusError::kafka("assign"))?;
    loop {
        if started.elapsed() > timeout {
            return Err(BusError::RestoreTimeout {
                topic: topic.to_owned(),
                partition,
                seconds: timeout.as_secs(),
            });
        }
        let Some(result) = consumer.poll(POLL) else {
            continue;
        };
        let message = result.map_err(BusError::kafka("restore fetch"))?;
        let offset = message.offset();
        records.push(Record::copy_of(&message));
        if offset >= high - 1 {
            return Ok(records);
        }
    }
}
