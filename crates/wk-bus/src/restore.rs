//! Reading a compacted topic partition from its start to its current end, keeping the last
//! record of each key: how the dispatcher restores a partition's alerts from the state
//! changelog.

pub mod newest;

use std::collections::HashMap;
use std::ops::Range;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use wk_core::config::KafkaConfig;

use crate::consumer::Record;
use crate::{BusError, client_config};
use newest::{Chunk, Seen};

const POLL: Duration = Duration::from_millis(100);

/// A compacted topic's partition as of now: the last record of each key, up to the high
/// watermark read at the start, in offset order; a key whose last record is a tombstone is
/// left out.
#[derive(Debug, Default)]
pub struct Latest {
    pub records: Vec<Kept>,
    /// Records read in all (each superseded version of a key included).
    pub read: usize,
    /// The high watermark read at the start: where following the partition goes on.
    pub end: i64,
}

impl Latest {
    /// The latest records `records` (tombstones left out), `read` read in all, up to `end`.
    pub fn of(records: impl IntoIterator<Item = Record>, read: usize, end: i64) -> Latest {
        Latest {
            records: records.into_iter().filter_map(Kept::of).collect(),
            read,
            end,
        }
    }
}

/// A record as a restore keeps it until it is applied: its offset and its payload,
/// LZ4-compressed (a partition's state records held whole while the rest is read were a
/// dispatcher's largest share of memory during a restore, and the allocator kept it after).
#[derive(Debug, Clone)]
pub struct Kept {
    pub offset: i64,
    payload: Box<[u8]>,
}

impl Kept {
    /// `record` kept; `None` for a tombstone.
    pub fn of(record: Record) -> Option<Kept> {
        let payload = record.payload?;
        Some(Kept {
            offset: record.offset,
            payload: lz4_flex::block::compress_prepend_size(&payload).into_boxed_slice(),
        })
    }

    /// The payload as it was read (`None` only if this process's own compression does not
    /// unpack, which it always does).
    pub fn payload(&self) -> Option<Vec<u8>> {
        lz4_flex::block::decompress_size_prepended(&self.payload)
            .inspect_err(|error| tracing::error!(%error, offset = self.offset, "a kept record does not unpack"))
            .ok()
    }
}

/// Reads a compacted partition holding only the last record of each key so far, not the
/// whole history of every key: holding all of it made a dispatcher's memory after restoring
/// 100,000 alerts 60% larger than before the restart.
pub async fn read_latest_by_key(
    kafka: &KafkaConfig,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<Latest, BusError> {
    let ((latest, read_count), end) = read(
        kafka,
        topic,
        partition,
        timeout,
        (HashMap::<Vec<u8>, Kept>::new(), 0usize),
        |(latest, read_count), record| {
            *read_count += 1;
            if let Some(key) = record.key.clone() {
                match Kept::of(record) {
                    Some(kept) => latest.insert(key, kept),
                    None => latest.remove(&key),
                };
            }
        },
    )
    .await?;
    let mut records: Vec<Kept> = latest.into_values().collect();
    records.sort_unstable_by_key(|record| record.offset);
    Ok(Latest {
        records,
        read: read_count,
        end,
    })
}

/// The latest record of `key` on `topic`, searching partitions `0..partitions` each from its
/// start to its current end: how the api finds an alert whose place its view no longer keeps.
/// `None` when no partition holds it, or its latest record is a tombstone. Costly (it reads
/// the whole topic in the worst case): callers search one at a time. `timeout` bounds the
/// whole search, not each partition.
pub async fn find_latest(
    kafka: &KafkaConfig,
    topic: &str,
    partitions: i32,
    key: &[u8],
    timeout: Duration,
) -> Result<Option<Record>, BusError> {
    let deadline = Instant::now() + timeout;
    for partition in 0..partitions {
        let wanted = key.to_vec();
        let (found, _) = read(
            kafka,
            topic,
            partition,
            deadline.saturating_duration_since(Instant::now()),
            None,
            move |found: &mut Option<Record>, record| {
                if record.key.as_deref() == Some(wanted.as_slice()) {
                    *found = record.payload.is_some().then_some(record);
                }
            },
        )
        .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Reads `topic[partition]` from its start to the high watermark read at the start, on a
/// blocking thread, feeding each record to `on_record` with `state`; returns the state and
/// that high watermark.
async fn read<S: Send + 'static>(
    kafka: &KafkaConfig,
    topic: &str,
    partition: i32,
    timeout: Duration,
    state: S,
    on_record: impl FnMut(&mut S, Record) + Send + 'static,
) -> Result<(S, i64), BusError> {
    blocking(kafka, topic, move |config, topic| {
        read_blocking(config, topic, partition, None, timeout, state, on_record)
    })
    .await
}

/// The first read of a restore newest first, on one consumer: the partition's watermarks
/// and its newest `span` offsets, read into a [`Chunk`].
#[derive(Debug)]
pub struct Newest {
    pub low: i64,
    pub high: i64,
    /// The offsets read: `max(low, high - span)..high`.
    pub range: Range<i64>,
    pub chunk: Chunk,
}

/// Reads the watermarks of `topic[partition]` and its newest `span` offsets (a small
/// partition whole, in one read, as before restores read newest first).
pub async fn read_newest(
    kafka: &KafkaConfig,
    topic: &str,
    partition: i32,
    span: i64,
    timeout: Duration,
) -> Result<Newest, BusError> {
    blocking(kafka, topic, move |config, topic| {
        let started = Instant::now();
        let consumer = restore_consumer(config)?;
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(BusError::kafka("fetch watermarks"))?;
        let range = high.saturating_sub(span).max(low)..high.max(low);
        let seen = Seen::default();
        let chunk = if range.is_empty() {
            Chunk::default()
        } else {
            let wanted = range.clone();
            let end = (topic, partition, range.end);
            poll_to(
                &consumer,
                end,
                Offset::Offset(range.start),
                (started, timeout),
                Chunk::default(),
                |chunk, record| {
                    chunk.gather(&wanted, &seen, record);
                },
            )?
        };
        Ok(Newest {
            low,
            high,
            range,
            chunk,
        })
    })
    .await
}

/// Reads the offsets `range` of `topic[partition]` into a [`Chunk`]: for each key not in
/// `seen`, its latest record there (`newest::NewestFirst` says which range comes next).
pub async fn read_range(
    kafka: &KafkaConfig,
    topic: &str,
    partition: i32,
    range: Range<i64>,
    seen: Seen,
    timeout: Duration,
) -> Result<Chunk, BusError> {
    blocking(kafka, topic, move |config, topic| {
        let wanted = range.clone();
        read_blocking(
            config,
            topic,
            partition,
            Some(range),
            timeout,
            Chunk::default(),
            move |chunk, record| chunk.gather(&wanted, &seen, record),
        )
        .map(|(chunk, _)| chunk)
    })
    .await
}

/// Runs `work` with a client configuration for `kafka` on a blocking thread: librdkafka's
/// BaseConsumer blocks in poll, which must stay off the async threads.
async fn blocking<T: Send + 'static>(
    kafka: &KafkaConfig,
    topic: &str,
    work: impl FnOnce(rdkafka::ClientConfig, &str) -> Result<T, BusError> + Send + 'static,
) -> Result<T, BusError> {
    let config = client_config(kafka);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || work(config, &topic))
        .await
        .unwrap_or_else(|join_error| {
            Err(BusError::Topic {
                topic: String::new(),
                reason: format!("restore task failed: {join_error}"),
            })
        })
}

/// A consumer that reads assigned partitions and commits nothing.
fn reader<'a>(config: &'a mut rdkafka::ClientConfig, group: &str) -> &'a mut rdkafka::ClientConfig {
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.wait.max.ms", "10")
}

/// Reads `topic[partition]`, the offsets `range` or (`None`) all of it up to the high
/// watermark read at the start, feeding each record to `on_record`. A read of a range may
/// feed records past its end (where its last offsets were compacted away) and stops at the
/// partition's end.
fn read_blocking<S>(
    config: rdkafka::ClientConfig,
    topic: &str,
    partition: i32,
    range: Option<Range<i64>>,
    timeout: Duration,
    state: S,
    on_record: impl FnMut(&mut S, Record),
) -> Result<(S, i64), BusError> {
    let started = Instant::now();
    let consumer = restore_consumer(config)?;
    let (start, high) = match range {
        Some(range) => (Offset::Offset(range.start), range.end),
        None => {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, timeout)
                .map_err(BusError::kafka("fetch watermarks"))?;
            if high <= low {
                return Ok((state, high));
            }
            (Offset::Beginning, high)
        }
    };
    let state = poll_to(
        &consumer,
        (topic, partition, high),
        start,
        (started, timeout),
        state,
        on_record,
    )?;
    Ok((state, high))
}

/// A consumer for restores: it commits nothing and reads in few, large fetches.
fn restore_consumer(mut config: rdkafka::ClientConfig) -> Result<BaseConsumer, BusError> {
    reader(&mut config, "watchkeeper-restore")
        // Few, large fetches: Tansu 0.6 costs a fetch in proportion to what lies after its
        // offset, so reading a partition in 1 MiB steps is quadratic.
        .set("max.partition.fetch.bytes", "16777216")
        .set("fetch.max.bytes", "67108864")
        .set("receive.message.max.bytes", "67109376")
        // A range's start compacted away, or below the log's start: from the next there is.
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .create()
        .map_err(BusError::kafka("create restore consumer"))
}

/// Reads `topic[partition]` from `start` until the offset before `end` (or the partition's
/// end), feeding each record to `on_record`; fails once `timeout` has passed since `started`.
fn poll_to<S>(
    consumer: &BaseConsumer,
    (topic, partition, end): (&str, i32, i64),
    start: Offset,
    (started, timeout): (Instant, Duration),
    mut state: S,
    mut on_record: impl FnMut(&mut S, Record),
) -> Result<S, BusError> {
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, start)
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
        let message = match result {
            Ok(message) => message,
            // Read to the partition's end: nothing of the range lies further.
            Err(rdkafka::error::KafkaError::PartitionEOF(_)) => return Ok(state),
            Err(error) => {
                return Err(BusError::Kafka {
                    operation: "restore fetch",
                    source: error,
                });
            }
        };
        let offset = message.offset();
        on_record(&mut state, Record::copy_of(&message));
        if offset >= end - 1 {
            return Ok(state);
        }
    }
}

/// The record at `offset` of `topic`'s `partition` (what the api's read view keeps of an alert
/// it let go of: where its latest state is), waiting at most `timeout`. `None` when the
/// partition no longer holds that offset (a record compacted away has a later one).
pub async fn read_one(
    kafka: &KafkaConfig,
    topic: &str,
    partition: i32,
    offset: i64,
    timeout: Duration,
) -> Result<Option<Record>, BusError> {
    let config = client_config(kafka);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        read_one_blocking(config, &topic, partition, offset, timeout)
    })
    .await
    .unwrap_or_else(|join_error| {
        Err(BusError::Topic {
            topic: String::new(),
            reason: format!("read task failed: {join_error}"),
        })
    })
}

fn read_one_blocking(
    mut config: rdkafka::ClientConfig,
    topic: &str,
    partition: i32,
    offset: i64,
    timeout: Duration,
) -> Result<Option<Record>, BusError> {
    let started = Instant::now();
    let consumer: BaseConsumer = reader(&mut config, "watchkeeper-read")
        // Past the end or compacted away: say so rather than wait at the end.
        .set("auto.offset.reset", "error")
        .create()
        .map_err(BusError::kafka("create read consumer"))?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(offset))
        .map_err(BusError::kafka("assign"))?;
    consumer.assign(&list).map_err(BusError::kafka("assign"))?;
    while started.elapsed() < timeout {
        let Some(result) = consumer.poll(POLL) else {
            continue;
        };
        let message = match result {
            Ok(message) => message,
            Err(rdkafka::error::KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::OffsetOutOfRange,
            )) => return Ok(None),
            Err(error) => {
                return Err(BusError::Kafka {
                    operation: "read one record",
                    source: error,
                });
            }
        };
        // Compaction may have removed it; the next one is another key's.
        return Ok((message.offset() == offset).then(|| Record::copy_of(&message)));
    }
    Err(BusError::RestoreTimeout {
        topic: topic.to_owned(),
        partition,
        seconds: timeout.as_secs(),
    })
}
