//! Maintenance windows over a watch: while one covers the office, its watch is paused (by
//! the window's author, channel `maintenance`, until the window's end), so a planned outage
//! raises no "office silent" alert; when the window ends the watch resumes with a full
//! interval. A duty officer's own pause is never overridden or ended by a window.

use super::{OfficeWatch, Pause, Status, WatchConfig};
use crate::escalation::Responder;
use crate::silence::{MAINTENANCE_CHANNEL, Silencing};
use crate::time::Timestamp;

impl OfficeWatch {
    /// The maintenance window in force over the office at `now` (or none). Returns whether
    /// anything changed.
    pub fn handle_maintenance(
        &mut self,
        window: Option<&Silencing>,
        config: &WatchConfig,
        now: Timestamp,
    ) -> bool {
        let by_window = self.paused_by_window();
        match window {
            Some(window) => {
                if self.state.status == Status::Paused && !by_window {
                    return false;
                }
                let pause = Pause {
                    reason: format!("maintenance window: {}", window.comment),
                    until: Some(window.until),
                    by: Responder {
                        actor: window.by.clone(),
                        channel: MAINTENANCE_CHANNEL.into(),
                    },
                    at: now,
                };
                let same = self.state.pause.as_ref().is_some_and(|current| {
                    by_window && current.until == pause.until && current.reason == pause.reason
                });
                if same {
                    return false;
                }
                let pause = match (&self.state.pause, by_window) {
                    // The same window going on (or extended): keep when it began.
                    (Some(current), true) => Pause {
                        at: current.at,
                        ..pause
                    },
                    _ => pause,
                };
                self.handle_pause(pause);
                true
            }
            None if by_window => self.handle_resume(config, now),
            None => false,
        }
    }

    /// Whether it is paused by a maintenance window rather than by a person.
    pub fn paused_by_window(&self) -> bool {
        self.state.status == Status::Paused
            && self
                .state
                .pause
                .as_ref()
                .is_some_and(|pause| pause.by.channel == MAINTENANCE_CHANNEL)
    }
}
