//! The api's read view of alerts, built from the state changelog (so any api process can
//! answer) plus the alerts this process accepted itself. It answers `duplicate` on submission,
//! NOT_FOUND for actions on unknown alerts, and GetAlert.
//!
//! Two submissions of one dedup key reaching different api processes within the dispatcher's
//! latency may both say `duplicate: false`; the dispatcher still folds them into one alert.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

#[derive(Default)]
struct Known {
    open: bool,
    state: Option<pb::EscalationState>,
}

#[derive(Clone, Default)]
pub struct StateView {
    alerts: Arc<Mutex<HashMap<AlertId, Known>>>,
}

impl StateView {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<AlertId, Known>) -> T) -> T {
        f(&mut self.alerts.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records that `id` was accepted here; returns whether it was already open.
    pub fn accepted(&self, id: AlertId) -> bool {
        self.with(|alerts| {
            let known = alerts.entry(id).or_default();
            std::mem::replace(&mut known.open, true)
        })
    }

    /// Applies a state read from the changelog.
    pub fn observe(&self, id: AlertId, state: pb::EscalationState) {
        let open = state.status != pb::AlertStatus::Resolved as i32;
        self.with(|alerts| {
            let known = alerts.entry(id).or_default();
            known.open = open;
            known.state = Some(state);
        });
    }

    pub fn is_known(&self, id: AlertId) -> bool {
        self.with(|alerts| alerts.contains_key(&id))
    }

    pub fn get(&self, id: AlertId) -> Option<pb::EscalationState> {
        self.with(|alerts| alerts.get(&id).and_then(|known| known.state.clone()))
    }
}
