//! `[[offices]]` and `[[duty_officers]]`: who may call the api, by the SHA-256 of their
//! tokens (each token names exactly one caller), and who may sign in to the web console.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::watch::{OfficeWatchConfig, RawCheckIn, RawOfficeWatch};
use super::{Errors, web};
use crate::validate::check_office_id;

/// A field office and the SHA-256 of its bearer token (the token itself is never stored).
#[derive(Clone, Debug)]
pub struct Office {
    pub id: String,
    pub name: String,
    /// SHA-256 of the accepted tokens: the current one, and the previous one during a rotation.
    pub token_hashes: Vec<[u8; 32]>,
    /// Alerts per second this office may submit, sustained; more are refused with
    /// RESOURCE_EXHAUSTED so that one flooding office cannot crowd out the others.
    pub rate_per_second: u32,
    /// Alerts it may submit at once above that rate (an incident produces a burst).
    pub burst: u32,
    /// The argon2id hash (PHC form) of the office's web-console password, if it may sign in.
    pub password_hash: Option<String>,
    /// Its check-in watch, if it has a schedule, and its focal points.
    pub watch: OfficeWatchConfig,
}

/// A duty officer's console-API identity: the SHA-256 of their bearer token, and their role.
#[derive(Clone, Debug)]
pub struct DutyOfficer {
    pub id: String,
    /// SHA-256 of the accepted tokens: the current one, and the previous one during a rotation.
    pub token_hashes: Vec<[u8; 32]>,
    pub admin: bool,
    /// The name the console shows and the timeline records (the id when none is given).
    pub name: String,
    /// The argon2id hash (PHC form) of the officer's web-console password, if they sign in.
    pub password_hash: Option<String>,
    /// The zone the console shows times in beside UTC (`[web] time_zone` when absent).
    pub time_zone: Option<jiff::tz::TimeZone>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDutyOfficer {
    pub(super) id: String,
    token_sha256: String,
    #[serde(default)]
    previous_token_sha256: Option<String>,
    /// `duty-officer` (the default) or `admin`.
    #[serde(default)]
    pub(super) role: Option<String>,
    #[serde(default)]
    pub(super) name: Option<String>,
    /// Web-console password, hashed by `watchkeeper hash-password`.
    #[serde(default)]
    password_argon2: Option<String>,
    #[serde(default)]
    pub(super) time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOffice {
    pub(super) id: String,
    #[serde(default)]
    pub(super) name: String,
    token_sha256: String,
    /// Overrides `api.office_rate` for this office.
    #[serde(default)]
    pub(super) rate: Option<i64>,
    /// Overrides `api.office_burst` for this office.
    #[serde(default)]
    pub(super) burst: Option<i64>,
    /// Still accepted during a token rotation; remove once the office uses the new token.
    #[serde(default)]
    previous_token_sha256: Option<String>,
    /// Web-console password, hashed by `watchkeeper hash-password`.
    #[serde(default)]
    password_argon2: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    place: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    check_in: Option<RawCheckIn>,
    #[serde(default)]
    focal_points: Vec<String>,
}

/// Checks the offices (with the api's default rate and burst) and the duty officers.
pub(super) fn check(
    raw_offices: Vec<RawOffice>,
    raw_officers: Vec<RawDutyOfficer>,
    (office_rate, office_burst): (i64, i64),
    errors: &mut Errors,
) -> (Vec<Office>, Vec<DutyOfficer>) {
    let mut offices = Vec::with_capacity(raw_offices.len());
    let mut office_ids = BTreeSet::new();
    let mut token_hashes = BTreeSet::new();
    for (index, office) in raw_offices.into_iter().enumerate() {
        let field = format!("offices[{index}]");
        if let Err(reason) = check_office_id(&office.id) {
            errors.push(format!("{field}.id"), reason);
        }
        if !office_ids.insert(office.id.clone()) {
            errors.push(
                format!("{field}.id"),
                format!("{:?} appears twice", office.id),
            );
        }
        let token_hashes = errors.token_hashes(
            &field,
            &office.token_sha256,
            office.previous_token_sha256.as_deref(),
            &mut token_hashes,
        );
        let rate = office.rate.map_or(office_rate, |rate| {
            errors.in_range(&format!("{field}.rate"), rate, 1, 1_000_000)
        });
        let burst = office.burst.map_or(office_burst, |burst| {
            errors.in_range(&format!("{field}.burst"), burst, 1, 1_000_000)
        });
        let password_hash = office
            .password_argon2
            .as_deref()
            .and_then(|text| web::password_hash(errors, &format!("{field}.password_argon2"), text));
        let name = if office.name.is_empty() {
            office.id.clone()
        } else {
            office.name
        };
        let watch = RawOfficeWatch {
            country: office.country,
            place: office.place,
            time_zone: office.time_zone,
            check_in: office.check_in,
            focal_points: office.focal_points,
        }
        .check(&field, (&office.id, &name), errors);
        offices.push(Office {
            password_hash,
            name,
            watch,
            id: office.id,
            token_hashes,
            rate_per_second: u32::try_from(rate.clamp(1, 1_000_000)).unwrap_or(1),
            burst: u32::try_from(burst.clamp(1, 1_000_000)).unwrap_or(1),
        });
    }

    let mut duty_officers = Vec::with_capacity(raw_officers.len());
    for (index, officer) in raw_officers.into_iter().enumerate() {
        let field = format!("duty_officers[{index}]");
        let officer_hashes = errors.token_hashes(
            &field,
            &officer.token_sha256,
            officer.previous_token_sha256.as_deref(),
            &mut token_hashes,
        );
        if officer.id.trim().is_empty() {
            errors.push(format!("{field}.id"), "must not be empty");
        }
        let admin = match officer.role.as_deref() {
            None | Some("duty-officer") => false,
            Some("admin") => true,
            Some(other) => {
                errors.push(
                    format!("{field}.role"),
                    format!("{other:?} is not duty-officer or admin"),
                );
                false
            }
        };
        let password_hash = officer
            .password_argon2
            .as_deref()
            .and_then(|text| web::password_hash(errors, &format!("{field}.password_argon2"), text));
        let time_zone = officer
            .time_zone
            .as_deref()
            .and_then(|name| web::time_zone(errors, &format!("{field}.time_zone"), name));
        duty_officers.push(DutyOfficer {
            name: officer
                .name
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| officer.id.clone()),
            id: officer.id,
            token_hashes: officer_hashes,
            admin,
            password_hash,
            time_zone,
        });
    }
    (offices, duty_officers)
}
