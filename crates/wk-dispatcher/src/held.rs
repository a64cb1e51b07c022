//! The machine kinds this dispatcher drives, in one place: what each kind's key is on the
//! changelog, how its state is written and restored, and how its timeout is handled. The
//! loop, the store, the write-behind pipeline and restore see only [`Held`] and [`Subject`];
//! a new kind is a variant here, its facts in `dispatcher::apply` and its actions in `act`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use wk_bus::escalation_codec::encode_escalation;
use wk_bus::headcount_codec::{encode_headcount, headcount_part_key};
use wk_bus::state_codec::State;
use wk_bus::watch_codec::{encode_watch, office_record_key};
use wk_core::Timestamp;
use wk_core::alert::AlertId;
use wk_core::escalation::Escalation;
use wk_core::headcount::{Headcount, PartKey};
use wk_core::machine::Machine;
use wk_core::policy::Policy;
use wk_core::silence::SilenceBook;
use wk_core::watch::{OfficeKey, OfficeWatch, WatchConfig};

/// What a machine is about: the store's and the pipeline's key (with the partition).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    Alert(AlertId),
    Office(OfficeKey),
    /// One part of a headcount.
    Headcount(PartKey),
}

impl fmt::Display for Subject {
    /// The changelog key: the alert id (as before machines had kinds), `office:<id>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Alert(id) => write!(f, "{id}"),
            Subject::Office(office) => f.write_str(&office_record_key(&office.0)),
            Subject::Headcount(key) => f.write_str(&headcount_part_key(key)),
        }
    }
}

/// What every kind needs to decide: the configuration, and the silences in force.
pub struct World {
    pub policy: Policy,
    /// Office watches by office id.
    pub watches: BTreeMap<String, WatchConfig>,
    /// Every silence and maintenance window, as the silences topic holds them.
    pub silences: Arc<SilenceBook>,
}

impl World {
    pub fn watch(&self, office: &OfficeKey) -> Option<&WatchConfig> {
        self.watches.get(&office.0)
    }

    /// Pauses or resumes `watch` for its office's maintenance window at `now`; whether it
    /// changed.
    pub fn judge_watch(&self, watch: &mut OfficeWatch, now: Timestamp) -> bool {
        let Some(config) = self.watch(&watch.key()) else {
            return false;
        };
        let window = self
            .silences
            .maintenance(&config.office, &config.country, now);
        watch.handle_maintenance(window.as_ref(), config, now)
    }
}

/// One machine of any kind.
pub enum Held {
    Escalation(Escalation),
    Watch(OfficeWatch),
    Headcount(Box<Headcount>),
}

impl Held {
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match self {
            Held::Escalation(escalation) => escalation.poll_timeout(),
            Held::Watch(watch) => watch.poll_timeout(),
            Held::Headcount(headcount) => headcount.poll_timeout(),
        }
    }

    /// Its timer fired. A watch whose office lost its schedule in the configuration does
    /// nothing (and raises nothing) until the schedule is back.
    pub fn handle_timeout(&mut self, world: &World, now: Timestamp) {
        match self {
            Held::Escalation(escalation) => escalation.handle_timeout(&world.policy.directory, now),
            Held::Watch(watch) => {
                if let Some(config) = world.watch(&watch.key()) {
                    watch.handle_timeout(config, now);
                }
            }
            Held::Headcount(headcount) => headcount.handle_timeout(now),
        }
    }

    /// Its state record, reflecting the input at `input_offset`.
    pub fn encode(&self, input_offset: i64) -> Vec<u8> {
        match self {
            Held::Escalation(escalation) => {
                encode_escalation(escalation.as_snapshot(), input_offset)
            }
            Held::Watch(watch) => encode_watch(&watch.snapshot(), input_offset),
            Held::Headcount(headcount) => encode_headcount(&headcount.snapshot(), input_offset),
        }
    }

    /// Back from a decoded state record.
    pub fn restore(state: State, world: &World) -> Option<(Subject, Held)> {
        match state {
            State::Escalation(snapshot) => Some((
                Subject::Alert(snapshot.alert.id),
                Held::Escalation(Escalation::restore_in(snapshot, &world.policy)),
            )),
            State::OfficeWatch(snapshot) => Some((
                Subject::Office(snapshot.office.clone()),
                Held::Watch(OfficeWatch::restore(snapshot)),
            )),
            State::Headcount(snapshot) => Some((
                Subject::Headcount(snapshot.key()),
                Held::Headcount(Box::new(Headcount::restore(*snapshot))),
            )),
        }
    }
}
