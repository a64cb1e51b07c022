//! The accounts that may sign in to the console: duty officers and admins, and field offices,
//! each with an argon2id password hash from the configuration. An account's name is its id.

use std::collections::HashMap;

use wk_core::config::{DutyOfficer, Office, WebConfig};

use crate::password;
use crate::session::{Principal, Role};

struct Account {
    hash: String,
    principal: Principal,
}

pub struct Users {
    by_name: HashMap<String, Account>,
    /// Verified against when the account is unknown, so the time taken does not tell.
    decoy: String,
}

impl Users {
    pub fn new(officers: &[DutyOfficer], offices: &[Office], web: &WebConfig) -> Users {
        let mut by_name = HashMap::new();
        for office in offices {
            if let Some(hash) = &office.password_hash {
                by_name.insert(
                    office.id.clone(),
                    Account {
                        hash: hash.clone(),
                        principal: Principal {
                            id: office.id.clone(),
                            name: office.name.clone(),
                            role: Role::Office(office.id.clone()),
                            time_zone: web.time_zone.clone(),
                        },
                    },
                );
            }
        }
        // Officers after offices: an officer and an office sharing an id is the officer.
        for officer in officers {
            if let Some(hash) = &officer.password_hash {
                by_name.insert(
                    officer.id.clone(),
                    Account {
                        hash: hash.clone(),
                        principal: Principal {
                            id: officer.id.clone(),
                            name: officer.name.clone(),
                            role: if officer.admin {
                                Role::Admin
                            } else {
                                Role::DutyOfficer
                            },
                            time_zone: officer
                                .time_zone
                                .clone()
                                .unwrap_or_else(|| web.time_zone.clone()),
                        },
                    },
                );
            }
        }
        // The decoy costs what a real hash costs: the cost of the first account, or the default.
        let decoy = by_name
            .values()
            .next()
            .and_then(|account| {
                argon2::password_hash::PasswordHash::new(&account.hash)
                    .ok()
                    .and_then(|hash| argon2::Params::try_from(&hash).ok())
            })
            .and_then(|params| password::hash_with("decoy password", params).ok())
            .unwrap_or_default();
        Users { by_name, decoy }
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Who `name` is if `password` is theirs. Slow on purpose: call it off the async threads.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<Principal> {
        match self.by_name.get(name) {
            Some(account) => {
                password::verify(&account.hash, password).then(|| account.principal.clone())
            }
            None => {
                let _ = password::verify(&self.decoy, password);
                None
            }
        }
    }

    pub fn known(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}
