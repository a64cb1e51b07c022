//! Silences on an escalation. While a silence holds it, the alert is kept, shown and written
//! to the timeline, but no step fires, no failover is sent and no update is notified;
//! acknowledgements and resolutions (and the office's focal points hearing of them) flow as
//! always. When the silence ends over an alert still triggered and unacknowledged, its
//! escalation starts from the first step, and its notifications say it comes from an ended
//! silence (Alertmanager does not re-send then: alertmanager#2896). A silence that matches an
//! alert of a class never silenced is recorded and shown, never obeyed.

use super::{Escalation, Event, Status, Timer};
use crate::policy::Directory;
use crate::silence::{SilenceBook, Silencing};
use crate::time::Timestamp;

/// What a change of silences did to an escalation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceEffect {
    /// Nothing to persist.
    Unchanged,
    /// Its silence changed (another one, a later end, matched while exempt).
    Updated,
    /// A silence now holds it back: the steps it would fire are suppressed.
    Held,
    /// The silence that held it ended; if still triggered, its first step fired.
    Released,
}

impl Escalation {
    /// The silence that matches it now, if any (holding it back, or only shown).
    pub fn silencing(&self) -> Option<&Silencing> {
        self.state.silence.as_deref()
    }

    /// Whether a silence holds its escalation back.
    pub fn is_held(&self) -> bool {
        self.state.silence.as_deref().is_some_and(Silencing::holds)
    }

    /// The silences changed, or one started or ended (the dispatcher calls this at each such
    /// instant, and after a restore): judges the alert again under `silences` at `now`. A
    /// resolved incident is left as it is.
    pub fn handle_silences(
        &mut self,
        silences: &SilenceBook,
        directory: &Directory,
        now: Timestamp,
    ) -> SilenceEffect {
        if let Status::Resolved { .. } = self.state.status {
            return SilenceEffect::Unchanged;
        }
        let verdict = silences.verdict(&self.state.alert, directory, now);
        let previous = self.state.silence.take().map(|previous| *previous);
        match (previous, verdict) {
            (None, None) => SilenceEffect::Unchanged,
            (Some(previous), Some(verdict))
                if previous.silence == verdict.silence && previous.exempt == verdict.exempt =>
            {
                let effect = if previous == verdict {
                    SilenceEffect::Unchanged
                } else {
                    SilenceEffect::Updated
                };
                self.state.silence = Some(Box::new(verdict));
                effect
            }
            (previous, Some(verdict)) => {
                let was_held = previous.as_ref().is_some_and(Silencing::holds);
                match verdict.exempt {
                    None => {
                        self.log(
                            now,
                            Event::Silenced(Box::new(super::Held {
                                silence: verdict.silence.clone(),
                                by: verdict.by.clone(),
                                until: verdict.until,
                                comment: verdict.comment.clone(),
                            })),
                        );
                        self.state.silence = Some(Box::new(verdict));
                        if was_held {
                            // From one silence to another: still held, nothing restarts.
                            return SilenceEffect::Updated;
                        }
                        self.state.timers.stop(Timer::Step);
                        if self.state.status == Status::Triggered {
                            SilenceEffect::Held
                        } else {
                            SilenceEffect::Updated
                        }
                    }
                    Some(exemption) => {
                        self.log(
                            now,
                            Event::NotSilenced {
                                silence: verdict.silence.clone(),
                                exemption,
                            },
                        );
                        self.state.silence = Some(Box::new(verdict));
                        match previous {
                            Some(previous) if was_held => {
                                self.release(&previous, silences, directory, now)
                            }
                            _ => SilenceEffect::Updated,
                        }
                    }
                }
            }
            (Some(previous), None) => {
                if previous.holds() {
                    self.release(&previous, silences, directory, now)
                } else {
                    SilenceEffect::Updated
                }
            }
        }
    }

    /// `previous` no longer holds the escalation: if still triggered, it starts again from
    /// the first step (a new round if a step had fired in this incident, so new ids).
    fn release(
        &mut self,
        previous: &Silencing,
        silences: &SilenceBook,
        directory: &Directory,
        now: Timestamp,
    ) -> SilenceEffect {
        let expired_by = silences
            .get(&previous.silence)
            .and_then(|silence| silence.expired.as_ref())
            .map(|expiry| expiry.by.clone());
        let restarted = self.state.status == Status::Triggered;
        self.log(
            now,
            Event::SilenceEnded {
                silence: previous.silence.as_str().into(),
                expired_by: expired_by.map(String::into_boxed_str),
                restarted,
            },
        );
        if restarted {
            let fired = self
                .state
                .timeline
                .iter()
                .any(|entry| matches!(entry.event, Event::StepFired { .. }));
            if fired {
                self.state.round += 1;
            }
            self.state.step = 0;
            self.state.passes_left = self.state.chain.repeat;
            self.state.exhausted = false;
            self.fire_step(directory, Some(previous), now);
        }
        SilenceEffect::Released
    }
}
