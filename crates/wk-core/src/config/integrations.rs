//! `[[integrations]]`: monitoring systems that send alerts in their own formats (see
//! `crate::integration`), each with its name, kind, office (or a label naming one of a list
//! of offices), the SHA-256 of its key, and how its labels map to an alert.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

use super::Errors;
use crate::alert::{Category, IntegrationKind, Severity};
use crate::integration::{Integration, Mapping, OfficeSource, default_severities};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIntegration {
    name: String,
    kind: String,
    #[serde(default)]
    office: Option<String>,
    #[serde(default)]
    office_label: Option<String>,
    #[serde(default)]
    offices: Vec<String>,
    key_sha256: String,
    #[serde(default)]
    previous_key_sha256: Option<String>,
    country: String,
    #[serde(default)]
    place: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    severities: Option<BTreeMap<String, String>>,
    #[serde(default)]
    labels: RawLabels,
    #[serde(default)]
    annotations: RawAnnotations,
    #[serde(default)]
    resolve_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLabels {
    severity: Option<String>,
    category: Option<String>,
    country: Option<String>,
    place: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAnnotations {
    title: Option<String>,
    description: Option<String>,
}

/// The longest an Alertmanager-API alert may stay open without a re-send or an `endsAt`.
const MAX_RESOLVE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

pub(super) fn check(
    raw: Vec<RawIntegration>,
    offices: &BTreeSet<String>,
    errors: &mut Errors,
) -> Vec<Integration> {
    let mut names = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut integrations = Vec::new();
    for (index, raw) in raw.into_iter().enumerate() {
        let field = format!("integrations[{index}]");
        if let Some(integration) = raw.check(&field, offices, errors, &mut keys) {
            if !names.insert(integration.name.clone()) {
                errors.push(format!("{field}.name"), "is used by another integration");
            }
            integrations.push(integration);
        }
    }
    integrations
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
}

impl RawIntegration {
    fn check(
        self,
        field: &str,
        offices: &BTreeSet<String>,
        errors: &mut Errors,
        keys: &mut BTreeSet<[u8; 32]>,
    ) -> Option<Integration> {
        if !is_name(&self.name) {
            errors.push(
                format!("{field}.name"),
                "must be 1..=40 of lower-case letters, digits, '-', '_'",
            );
        }
        let kind = self
            .kind
            .parse::<IntegrationKind>()
            .map_err(|message| errors.push(format!("{field}.kind"), message))
            .ok();
        let office = self.office_source(field, offices, errors);
        let previous = self.previous_key_sha256.as_deref().unwrap_or_default();
        let key_hashes = errors.hashes(
            field,
            [
                ("key_sha256", &self.key_sha256),
                ("previous_key_sha256", previous),
            ],
            keys,
            "integration",
        );
        let country = self.country.trim().to_owned();
        if isocountry::CountryCode::for_alpha2(&country).is_err()
            || country != country.to_ascii_uppercase()
        {
            errors.push(
                format!("{field}.country"),
                format!("{country:?} is not an upper-case ISO 3166-1 alpha-2 code"),
            );
        }
        let place = self.place.clone().unwrap_or_else(|| self.name.clone());
        let mut mapping = Mapping::with_defaults(&country, &place);
        if let Some(text) = &self.category {
            match text.parse::<Category>() {
                Ok(Category::OfficeSilent | Category::StaffHelp) => errors.push(
                    format!("{field}.category"),
                    "is raised by Watchkeeper itself",
                ),
                Ok(category) => mapping.default_category = category,
                Err(message) => errors.push(format!("{field}.category"), message),
            }
        }
        if let Some(text) = &self.severity {
            match text.parse::<Severity>() {
                Ok(severity) => mapping.default_severity = severity,
                Err(message) => errors.push(format!("{field}.severity"), message),
            }
        }
        if let Some(table) = self.severities {
            mapping.severities = BTreeMap::new();
            for (theirs, ours) in table {
                match ours.parse::<Severity>() {
                    Ok(severity) => {
                        mapping
                            .severities
                            .insert(theirs.to_ascii_lowercase(), severity);
                    }
                    Err(message) => errors.push(format!("{field}.severities.{theirs}"), message),
                }
            }
        } else {
            mapping.severities = default_severities();
        }
        let mut name = |key: &str, value: Option<String>, target: &mut String| {
            if let Some(value) = value {
                if value.trim().is_empty() {
                    errors.push(format!("{field}.{key}"), "must not be empty");
                } else {
                    *target = value;
                }
            }
        };
        name(
            "labels.severity",
            self.labels.severity,
            &mut mapping.severity_label,
        );
        name(
            "labels.category",
            self.labels.category,
            &mut mapping.category_label,
        );
        name(
            "labels.country",
            self.labels.country,
            &mut mapping.country_label,
        );
        name("labels.place", self.labels.place, &mut mapping.place_label);
        name(
            "annotations.title",
            self.annotations.title,
            &mut mapping.title_annotation,
        );
        name(
            "annotations.description",
            self.annotations.description,
            &mut mapping.description_annotation,
        );
        let resolve_timeout = match &self.resolve_timeout {
            None => Duration::from_secs(5 * 60),
            Some(text) => {
                let timeout = errors.duration(
                    &format!("{field}.resolve_timeout"),
                    text,
                    Duration::from_secs(1),
                );
                if timeout > MAX_RESOLVE_TIMEOUT {
                    errors.push(format!("{field}.resolve_timeout"), "must be at most 24h");
                }
                timeout.min(MAX_RESOLVE_TIMEOUT)
            }
        };
        Some(Integration {
            name: self.name,
            kind: kind?,
            office: office?,
            key_hashes,
            mapping,
            resolve_timeout,
        })
    }

    fn office_source(
        &self,
        field: &str,
        offices: &BTreeSet<String>,
        errors: &mut Errors,
    ) -> Option<OfficeSource> {
        let known = |office: &str, key: String, errors: &mut Errors| {
            let found = offices.contains(office);
            if !found {
                errors.push(key, format!("{office:?} is not an office of [[offices]]"));
            }
            found
        };
        match (&self.office, &self.office_label) {
            (Some(office), None) if self.offices.is_empty() => {
                known(office, format!("{field}.office"), errors)
                    .then(|| OfficeSource::Fixed(office.clone()))
            }
            (None, Some(label)) if !label.trim().is_empty() && !self.offices.is_empty() => {
                let mut allowed = BTreeSet::new();
                for (index, office) in self.offices.iter().enumerate() {
                    if known(office, format!("{field}.offices[{index}]"), errors) {
                        allowed.insert(office.clone());
                    }
                }
                Some(OfficeSource::Label {
                    label: label.clone(),
                    allowed,
                })
            }
            _ => {
                errors.push(
                    format!("{field}.office"),
                    "give either `office`, or `office_label` with the list of `offices` it may name",
                );
                None
            }
        }
    }
}
