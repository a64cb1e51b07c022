//! Which alert ids are open, as far as this api process knows: the ones it accepted itself and
//! those the state changelog says are open. Used to answer `duplicate` on submission. Two
//! submissions reaching different api processes within the dispatcher's latency may both say
//! `duplicate: false`; the dispatcher still folds them into one alert, so nobody is notified twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use wk_core::alert::AlertId;
use wk_core::state::Status;

#[derive(Clone, Default)]
pub struct KnownAlerts {
    open: Arc<Mutex<HashMap<AlertId, bool>>>,
}

impl KnownAlerts {
    /// Records that `id` was accepted; returns whether it was already open.
    pub fn accepted(&self, id: AlertId) -> bool {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.insert(id, true).unwrap_or(false)
    }

    /// Whether `id` is known to be open.
    pub fn is_open(&self, id: AlertId) -> bool {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&id).copied().unwrap_or(false)
    }

    /// Applies a state read from the changelog.
    pub fn observe(&self, id: AlertId, status: Status) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if status == Status::Resolved {
            open.remove(&id);
        } else {
            open.insert(id, true);
        }
    }
}
