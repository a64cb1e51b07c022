//! Silences in the dispatcher: the book every dispatcher reads in full (the silences topic,
//! followed by a task of the binary), and the one rule for using it: whenever the book
//! changes, a silence starts or ends, or a partition is restored, every held machine is
//! judged again — an escalation by `handle_silences`, a watch by its office's maintenance
//! window. What a machine decides is written and acted on as for any other change.

use std::sync::Arc;

use wk_core::Timestamp;
use wk_core::escalation::SilenceEffect;
use wk_core::silence::SilenceBook;

use crate::dispatcher::{Dispatcher, Flow};
use crate::held::Held;
use crate::io::{Changelog, Clock, Input, Notifier};
use crate::metrics;
use crate::pipeline::Key;
use crate::store::{Seen, Standing};

impl<I: Input, C: Changelog, N: Notifier, K: Clock> Dispatcher<I, C, N, K> {
    /// Follows `book`: the current silences, replaced whenever one is created or expired.
    pub fn with_silences(mut self, book: tokio::sync::watch::Receiver<Arc<SilenceBook>>) -> Self {
        self.world.silences = book.borrow().clone();
        self.silence_wake = self.world.silences.next_change(self.clock.now());
        self.silences = Some(book);
        self
    }

    /// A new book: every machine is judged again under it.
    pub(crate) fn on_silences(&mut self) -> Flow {
        if let Some(book) = self.silences.as_mut() {
            self.world.silences = book.borrow_and_update().clone();
        }
        self.judge_all();
        Flow::Continue
    }

    /// When the book next changes by itself (a silence starts or ends).
    pub(crate) fn silence_wake(&self) -> Option<Timestamp> {
        self.silence_wake
    }

    /// Judges every held machine at now, and notes when to do it again. Packed resolved
    /// escalations are passed over: a silence never changes a resolved escalation
    /// (`Escalation::handle_silences`), and with a long history they are most of what is held
    /// (unpacking each cost about 1 s of the loop per silence change at 300,000).
    pub(crate) fn judge_all(&mut self) {
        let now = self.clock.now();
        self.silence_wake = self.world.silences.next_change(now);
        for key in self.store.keys_where(may_change) {
            self.judge(key, now);
        }
    }

    /// Judges one machine under the book at `now`; acts and writes on a change.
    pub(crate) fn judge(&mut self, key: Key, now: Timestamp) {
        // A packed escalation is unpacked to be judged, and stays packed if nothing changed.
        let world = &self.world;
        let changed = self.store.judge(&key, |machine| match machine {
            Held::Escalation(escalation) => {
                let effect =
                    escalation.handle_silences(&world.silences, &world.policy.directory, now);
                match effect {
                    SilenceEffect::Held => metrics::silenced_step(),
                    SilenceEffect::Released => metrics::silence_released(),
                    SilenceEffect::Updated | SilenceEffect::Unchanged => {}
                }
                effect != SilenceEffect::Unchanged
            }
            Held::Watch(watch) => world.judge_watch(watch, now),
            // Silences hold back alerts; they never stop a headcount.
            Held::Headcount(_) => false,
        });
        if changed == Some(true) {
            self.pipeline.changed(key.clone(), None);
            self.act(key);
        }
    }
}

/// Whether a silence change may change this machine: all but a packed resolved escalation.
pub(crate) fn may_change(seen: Seen<'_>) -> bool {
    !matches!(seen, Seen::Packed(Standing::Resolved))
}
