//! Filling a topic fast: records queued on the producer with at most a bound of them
//! unacknowledged, waiting for the oldest when the bound or the producer's queue is reached.

use std::collections::VecDeque;
use std::time::Duration;

use wk_bus::producer::{Pending, ProduceError, Producer};

/// How long `send` waits, at most, for a producer queue full of records not its own.
const QUEUE_FULL_PATIENCE: Duration = Duration::from_secs(30);

pub(crate) struct Filler<'a> {
    producer: &'a Producer,
    pending: VecDeque<Pending>,
    limit: usize,
}

impl<'a> Filler<'a> {
    /// Sends through `producer` with at most `limit` records unacknowledged.
    pub(crate) fn new(producer: &'a Producer, limit: usize) -> Filler<'a> {
        Filler {
            producer,
            pending: VecDeque::with_capacity(limit),
            limit,
        }
    }

    /// Queues one record (on `partition`, or by its key's hash).
    pub(crate) async fn send(
        &mut self,
        topic: &str,
        key: &str,
        payload: &[u8],
        partition: Option<i32>,
    ) -> anyhow::Result<()> {
        // The producer's queue is full with none of this filler's records in it (another
        // user's): it drains as the broker acknowledges them, or the broker is gone.
        let give_up = std::time::Instant::now() + QUEUE_FULL_PATIENCE;
        loop {
            if self.pending.len() >= self.limit
                && let Some(oldest) = self.pending.pop_front()
            {
                oldest.acknowledged().await?;
            }
            match self.producer.enqueue(topic, key, payload, partition, false) {
                Ok(queued) => {
                    self.pending.push_back(queued);
                    return Ok(());
                }
                Err(ProduceError::QueueFull) => match self.pending.pop_front() {
                    Some(oldest) => {
                        oldest.acknowledged().await?;
                    }
                    None if std::time::Instant::now() < give_up => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    None => anyhow::bail!(
                        "the producer's queue stayed full for {QUEUE_FULL_PATIENCE:?}"
                    ),
                },
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Waits for every record sent to be acknowledged.
    pub(crate) async fn finish(self) -> anyhow::Result<()> {
        for queued in self.pending {
            queued.acknowledged().await?;
        }
        Ok(())
    }
}
