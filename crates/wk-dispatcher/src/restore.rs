//! Restore on assignment: a partition's escalations are read back from the changelog before
//! any of its records is applied; each restored escalation re-sends its pending notifications
//! (same ids) and re-arms its timer.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wk_bus::escalation_codec::decode_escalation;
use wk_bus::restore::Latest;
use wk_bus::trace::TraceHeaders;
use wk_core::escalation::Escalation;

use crate::dispatcher::{Dispatcher, pause};
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
                Ok(latest) => self.restore(partition, &latest),
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
                Ok(latest) => self.restore(partition, &latest),
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

    fn restore(&mut self, partition: i32, read: &Latest) {
        let mut latest = HashMap::new();
        for record in &read.records {
            match record.payload.as_deref().map(decode_escalation) {
                Some(Ok((snapshot, input_offset))) => {
                    latest.insert(snapshot.alert.id, (snapshot, input_offset));
                }
                Some(Err(error)) => {
                    warn!(partition, offset = record.offset, %error, "undecodable state skipped");
                }
                None => {}
            }
        }
        let count = latest.len();
        let mut escalations = HashMap::with_capacity(count);
        for (id, (snapshot, input_offset)) in latest {
            let escalation = Escalation::restore_in(snapshot, &self.policy);
            escalations.insert(
                id,
                Tracked {
                    machine: escalation,
                    input_offset,
                    armed: None,
                    // Restored history was counted by whoever lived it.
                    counted: usize::MAX,
                    trace: TraceHeaders::default(),
                },
            );
        }
        let ids: Vec<_> = escalations.keys().copied().collect();
        self.store.install(partition, escalations);
        // Pending notifications go out again (same ids) and timers are re-armed.
        for id in ids {
            self.act((partition, id));
        }
        info!(
            partition,
            alerts = count,
            records = read.read,
            "partition restored"
        );
    }
}
