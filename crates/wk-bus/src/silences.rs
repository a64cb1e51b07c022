//! Every silence, for every process: the silences topic (one partition, compacted) read to
//! its end at start-up, then followed from there, so a process never acts on a partial book
//! and never goes back to an older version of a silence.

use std::time::Duration;

use rdkafka::Offset;
use tracing::warn;
use wk_core::config::KafkaConfig;
use wk_core::silence::{Silence, SilenceBook};

use crate::BusError;
use crate::restore::read_latest_by_key;
use crate::silence_codec::decode_silence;
use crate::tail::Tail;

/// The silences that came after the book was read.
pub struct SilenceFeed {
    tail: Tail,
}

impl SilenceFeed {
    /// Reads every silence so far (within `timeout`), then follows the topic.
    pub async fn open(
        kafka: &KafkaConfig,
        timeout: Duration,
    ) -> Result<(SilenceBook, SilenceFeed), BusError> {
        let topic = &kafka.silences_topic;
        let latest = read_latest_by_key(kafka, topic, 0, timeout).await?;
        let mut book = SilenceBook::default();
        for record in latest.records {
            if let Some(silence) = decoded(record.payload().as_deref(), record.offset) {
                book.insert(silence);
            }
        }
        let tail = Tail::follow_from(kafka, topic, &[(0, Offset::Offset(latest.end))])?;
        Ok((book, SilenceFeed { tail }))
    }

    /// The next silence written (a new one, or a new version of one). Undecodable records
    /// are skipped.
    pub async fn next(&self) -> Result<Silence, BusError> {
        loop {
            let record = self.tail.recv().await?;
            if let Some(silence) = decoded(record.payload.as_deref(), record.offset) {
                return Ok(silence);
            }
        }
    }
}

fn decoded(payload: Option<&[u8]>, offset: i64) -> Option<Silence> {
    match decode_silence(payload?) {
        Ok(silence) => Some(silence),
        Err(error) => {
            warn!(offset, %error, "undecodable silence record skipped");
            None
        }
    }
}
