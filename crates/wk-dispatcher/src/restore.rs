//! Restore on assignment: a partition's machines, of every kind, are read back from the
//! changelog before any of its records is applied; each restored machine decides again what
//! it still owes (an escalation its pending notifications, a watch its unacknowledged
//! publications, under the same ids) and re-arms its timer.

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wk_bus::restore::Latest;
use wk_bus::state_codec::decode_state;
use wk_bus::trace::TraceHeaders;

use crate::dispatcher::{Dispatcher, pause};
use crate::held::Held;
use crate::io::{Changelog, Clock, Input, Notifier};
use crate::store::Tracked;

impl<I: Input, C: Changelog, N: Notifier, K: Clock> Dispatcher<I, C, N, K> {
    /// Restores every partition of `partitions` not held yet, reading their changelogs
    /// concurrently and any that fails again, alone; false on shutdown.
    pub(crate) async fn restore_all(
        &mut self,
        partitions: &[i32],
        shutdown: &CancellationToken,
    ) -> bool {
        let missing: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|partition| !self.store.is_restored(*partition))
            .collect();
        let changelog = std::sync::Arc::clone(&self.changelog);
        let reads = futures_util::future::join_all(
            missing
                .iter()
                .map(|partition| changelog.restore(*partition)),
        );
        let results = tokio::select! {
            () = shutdown.cancelled() => return false,
            results = reads => results,
        };
        for (partition, result) in missing.into_iter().zip(results) {
            match result {
                Ok(latest) => self.restore(partition, latest),
                Err(error) => warn!(partition, %error, "restore failed; retrying"),
            }
        }
        for partition in partitions {
            if !self.ensure_restored(*partition, shutdown).await {
                return false;
            }
        }
        true
    }

    /// Restores `partition` from the changelog unless already restored; false on shutdown.
    pub(crate) async fn ensure_restored(
        &mut self,
        partition: i32,
        shutdown: &CancellationToken,
    ) -> bool {
        while !self.store.is_restored(partition) {
            match self.changelog.restore(partition).await {
                Ok(latest) => self.restore(partition, latest),
                Err(error) => {
                    warn!(partition, %error, "restore failed; retrying");
                    if pause(shutdown).await {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Restores `partition` one machine at a time, each record let go once decoded and each
    /// machine packed, unless it changed, before the next is decoded: at no time does the
    /// dispatcher hold the whole partition both as records and as live machines (holding both
    /// left it at twice its running size after a restore of 100,000).
    fn restore(&mut self, partition: i32, read: Latest) {
        let Latest { records, read, .. } = read;
        self.store.install(partition);
        // Pending notifications and publications go out again (same ids); timers re-armed;
        // then silences that began or ended while they were elsewhere are applied; then it
        // is packed unless it changed: a restored dispatcher holds no more than the one it
        // replaced.
        let now = self.clock.now();
        let mut count = 0usize;
        for record in records {
            let Some(payload) = record.payload() else {
                continue;
            };
            let (state, input_offset) = match decode_state(&payload) {
                Ok(decoded) => decoded,
                Err(error) => {
                    warn!(partition, offset = record.offset, %error, "undecodable state skipped");
                    continue;
                }
            };
            drop(payload);
            let Some((subject, machine)) = Held::restore(state, &self.world) else {
                warn!(
                    partition,
                    offset = record.offset,
                    "state of a kind not driven yet skipped"
                );
                continue;
            };
            let mut tracked = Tracked::new(machine, input_offset, TraceHeaders::default());
            // Restored history was counted by whoever lived it.
            tracked.counted = usize::MAX;
            let key = (partition, subject);
            self.store.insert(key.clone(), tracked);
            self.act(key.clone());
            self.judge(key.clone(), now);
            self.store.pack(&key, self.pipeline.is_dirty(&key));
            count += 1;
        }
        info!(
            partition,
            machines = count,
            records = read,
            "partition restored"
        );
    }
}
