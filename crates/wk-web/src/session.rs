//! Server-side sessions: a random id in the cookie, looked up by its SHA-256 (the map holds no
//! usable cookie), with an idle and an absolute expiry, and the session's CSRF token. Pure:
//! time is passed in. Sessions live in the api process that signed the officer in; behind a
//! load balancer, sessions need affinity (ARCHITECTURE.md, "Web console").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use wk_core::Timestamp;

/// What a signed-in person may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    DutyOfficer,
    Admin,
    /// A field office: sees only its own alerts, redacted, and acts on none.
    Office(String),
}

/// Who is signed in.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The configured id: the actor recorded in the timeline.
    pub id: String,
    pub name: String,
    pub role: Role,
    pub time_zone: jiff::tz::TimeZone,
}

impl Principal {
    pub fn office_scope(&self) -> Option<&str> {
        match &self.role {
            Role::Office(office) => Some(office),
            Role::DutyOfficer | Role::Admin => None,
        }
    }

    pub fn may_act(&self) -> bool {
        self.office_scope().is_none()
    }
}

#[derive(Clone, Debug)]
pub struct Session {
    pub principal: Arc<Principal>,
    /// Sent back in every form and in the `X-CSRF-Token` header of script requests.
    pub csrf: String,
    created: Timestamp,
    last_seen: Timestamp,
}

/// Every open session of this process.
#[derive(Debug)]
pub struct Sessions {
    by_hash: HashMap<[u8; 32], Session>,
    idle: Duration,
    max: Duration,
    /// Sessions beyond this evict the least recently used (a bound, not an expected load).
    capacity: usize,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Used within `idle` and opened within `max` of `now`.
fn live(idle: Duration, max: Duration, session: &Session, now: Timestamp) -> bool {
    now.as_unix_millis() - session.last_seen.as_unix_millis() < millis(idle)
        && now.as_unix_millis() - session.created.as_unix_millis() < millis(max)
}

impl Sessions {
    pub fn new(idle: Duration, max: Duration, capacity: usize) -> Sessions {
        Sessions {
            by_hash: HashMap::new(),
            idle,
            max,
            capacity: capacity.max(1),
        }
    }

    /// Opens a session under `id` (the cookie value) for `principal`, with CSRF token `csrf`.
    pub fn open(&mut self, id: &str, csrf: String, principal: Principal, now: Timestamp) {
        self.sweep(now);
        if self.by_hash.len() >= self.capacity
            && let Some(oldest) = self
                .by_hash
                .iter()
                .min_by_key(|(_, session)| session.last_seen)
                .map(|(hash, _)| *hash)
        {
            self.by_hash.remove(&oldest);
        }
        self.by_hash.insert(
            key(id),
            Session {
                principal: Arc::new(principal),
                csrf,
                created: now,
                last_seen: now,
            },
        );
    }

    /// The session under `id` if it is still live, marked as used at `now`; an expired one
    /// is closed.
    pub fn touch(&mut self, id: &str, now: Timestamp) -> Option<Session> {
        let hash = key(id);
        let session = self.by_hash.get(&hash)?;
        if !live(self.idle, self.max, session, now) {
            self.by_hash.remove(&hash);
            return None;
        }
        let session = self.by_hash.get_mut(&hash)?;
        session.last_seen = now.max(session.last_seen);
        Some(session.clone())
    }

    pub fn close(&mut self, id: &str) {
        self.by_hash.remove(&key(id));
    }

    /// Closes every expired session.
    pub fn sweep(&mut self, now: Timestamp) {
        let (idle, max) = (self.idle, self.max);
        self.by_hash
            .retain(|_, session| live(idle, max, session, now));
    }

    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_millis(seconds * 1000)
    }

    fn officer() -> Principal {
        Principal {
            id: "maria.santos".into(),
            name: "Maria Santos".into(),
            role: Role::DutyOfficer,
            time_zone: jiff::tz::TimeZone::UTC,
        }
    }

    fn sessions() -> Sessions {
        Sessions::new(Duration::from_secs(60), Duration::from_secs(300), 3)
    }

    #[test]
    fn a_session_lives_while_used_and_ends_when_idle() {
        let mut sessions = sessions();
        sessions.open("cookie-1", "csrf-1".into(), officer(), at(0));
        for t in [30, 60, 89] {
            let session = sessions.touch("cookie-1", at(t)).expect("live");
            assert_eq!(session.csrf, "csrf-1");
            assert_eq!(session.principal.id, "maria.santos");
        }
        // 60 s without use: gone, and stays gone.
        assert!(sessions.touch("cookie-1", at(149)).is_none());
        assert!(sessions.touch("cookie-1", at(150)).is_none());
        assert!(sessions.is_empty());
    }

    #[test]
    fn a_session_ends_at_its_absolute_expiry_however_busy() {
        let mut sessions = sessions();
        sessions.open("cookie-1", "csrf".into(), officer(), at(0));
        let mut t = 0;
        while t < 299 {
            assert!(sessions.touch("cookie-1", at(t)).is_some(), "at {t}");
            t += 20;
        }
        assert!(sessions.touch("cookie-1", at(300)).is_none());
    }

    #[test]
    fn unknown_and_closed_sessions_are_refused() {
        let mut sessions = sessions();
        sessions.open("cookie-1", "csrf".into(), officer(), at(0));
        assert!(sessions.touch("cookie-2", at(1)).is_none());
        sessions.close("cookie-1");
        assert!(sessions.touch("cookie-1", at(1)).is_none());
    }

    #[test]
    fn past_capacity_the_least_recently_used_session_goes() {
        let mut sessions = sessions();
        for (i, t) in [(1, 0), (2, 1), (3, 2)] {
            sessions.open(&format!("c{i}"), "x".into(), officer(), at(t));
        }
        assert!(sessions.touch("c1", at(3)).is_some());
        sessions.open("c4", "x".into(), officer(), at(4));
        assert_eq!(sessions.len(), 3);
        assert!(sessions.touch("c2", at(5)).is_none(), "least recently used");
        assert!(sessions.touch("c1", at(5)).is_some());
    }
}
