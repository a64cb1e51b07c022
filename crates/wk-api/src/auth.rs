//! Bearer-token authentication of field offices. The configuration holds only SHA-256 hashes
//! of the tokens; a token maps to exactly one office.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;
use wk_core::config::{DutyOfficer, Office};

/// Who is calling, with their role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A field office: may submit (and, later, read) its own alerts.
    Office(String),
    /// A duty officer: may act on and read every alert.
    DutyOfficer(String),
    /// An administrator: may do everything.
    Admin(String),
}

impl Caller {
    /// The office whose alerts alone this caller may read, if restricted.
    pub fn office_scope(&self) -> Option<&str> {
        match self {
            Caller::Office(office) => Some(office),
            Caller::DutyOfficer(_) | Caller::Admin(_) => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing authorization metadata (expected `Bearer <token>`)")]
    Missing,
    #[error("authorization metadata is not a bearer token")]
    Malformed,
    #[error("unknown token")]
    Unknown,
}

/// The SHA-256 of a token, as stored in the configuration.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    callers_by_token_hash: HashMap<[u8; 32], Caller>,
}

impl Authenticator {
    pub fn new(offices: &[Office], duty_officers: &[DutyOfficer]) -> Authenticator {
        let offices = offices.iter().flat_map(|office| {
            let caller = Caller::Office(office.id.clone());
            office
                .token_hashes
                .iter()
                .map(move |hash| (*hash, caller.clone()))
        });
        let officers = duty_officers.iter().flat_map(|officer| {
            let caller = if officer.admin {
                Caller::Admin(officer.id.clone())
            } else {
                Caller::DutyOfficer(officer.id.clone())
            };
            officer
                .token_hashes
                .iter()
                .map(move |hash| (*hash, caller.clone()))
        });
        Authenticator {
            callers_by_token_hash: offices.chain(officers).collect(),
        }
    }

    /// Finds the office whose token is in the `authorization` metadata. Tokens are compared by
    /// their hash, so timing reveals nothing useful about a stored token.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<Caller, AuthError> {
        let value = metadata.get("authorization").ok_or(AuthError::Missing)?;
        self.authenticate_header(value.to_str().map_err(|_| AuthError::Malformed)?)
    }

    /// The same, from an HTTP `Authorization` header's value (`Bearer <token>`).
    pub fn authenticate_header(&self, value: &str) -> Result<Caller, AuthError> {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::Malformed)?;
        self.callers_by_token_hash
            .get(&token_hash(token))
            .cloned()
            .ok_or(AuthError::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator() -> Authenticator {
        Authenticator::new(
            &[Office {
                id: "ng-maiduguri".into(),
                name: "Maiduguri".into(),
                // Mid-rotation: the old and the new token both work.
                token_hashes: vec![token_hash("s3cret-token"), token_hash("old-token")],
                rate_per_second: 50,
                burst: 500,
                password_hash: None,
                watch: Default::default(),
            }],
            &[
                DutyOfficer {
                    id: "maria.santos".into(),
                    token_hashes: vec![token_hash("officer-token")],
                    admin: false,
                    name: String::new(),
                    password_hash: None,
                    time_zone: None,
                },
                DutyOfficer {
                    id: "it.admin".into(),
                    token_hashes: vec![token_hash("admin-token")],
                    admin: true,
                    name: String::new(),
                    password_hash: None,
                    time_zone: None,
                },
            ],
        )
    }

    fn metadata(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", value.parse().unwrap());
        metadata
    }

    #[test]
    fn maps_a_token_to_its_office_or_officer() {
        let caller = authenticator()
            .authenticate(&metadata("Bearer s3cret-token"))
            .unwrap();
        assert_eq!(caller, Caller::Office("ng-maiduguri".into()));
        let caller = authenticator()
            .authenticate(&metadata("Bearer officer-token"))
            .unwrap();
        assert_eq!(caller, Caller::DutyOfficer("maria.santos".into()));
        let caller = authenticator()
            .authenticate(&metadata("Bearer admin-token"))
            .unwrap();
        assert_eq!(caller, Caller::Admin("it.admin".into()));
        // Mid-rotation, the previous token still works.
        let caller = authenticator()
            .authenticate(&metadata("Bearer old-token"))
            .unwrap();
        assert_eq!(caller, Caller::Office("ng-maiduguri".into()));
    }

    #[test]
    fn refuses_missing_malformed_and_unknown_tokens() {
        let auth = authenticator();
        assert_eq!(
            auth.authenticate(&MetadataMap::new()),
            Err(AuthError::Missing)
        );
        assert_eq!(
            auth.authenticate(&metadata("Basic abc")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            auth.authenticate(&metadata("Bearer ")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            auth.authenticate(&metadata("Bearer other")),
            Err(AuthError::Unknown)
        );
    }
}
