//! Validation of incoming alerts: every rejected field is named, with the reason, and all
//! violations are reported at once rather than the first only.

use std::collections::BTreeMap;
use std::fmt;

use crate::alert::{Alert, AlertId, Category, Coordinates, Severity};
use crate::time::Timestamp;

/// Limits on what an alert may carry. Generous for real reports, small enough that one alert
/// cannot hurt the pipeline.
pub mod limits {
    pub const OFFICE_ID_CHARS: usize = 64;
    pub const TITLE_CHARS: usize = 200;
    pub const DESCRIPTION_CHARS: usize = 8_000;
    pub const PLACE_CHARS: usize = 200;
    pub const DEDUP_KEY_CHARS: usize = 255;
    pub const LABELS: usize = 32;
    pub const LABEL_KEY_CHARS: usize = 64;
    pub const LABEL_VALUE_CHARS: usize = 256;
    pub const STAFF_AFFECTED: u32 = 100_000;
    /// How far in the future `occurred_at` may be, for clock skew at the field office.
    pub const FUTURE_SKEW_MILLIS: i64 = 5 * 60 * 1000;
    /// 2000-01-01T00:00:00Z: anything earlier is a broken clock, not an incident report.
    pub const EARLIEST_OCCURRED_AT_MILLIS: i64 = 946_684_800_000;
    /// A client's value is quoted in an error up to this many characters.
    pub const QUOTED_CHARS: usize = 40;
    /// At most this many violations are listed; the rest are counted. Together with
    /// `QUOTED_CHARS` this keeps an INVALID_ARGUMENT answer far below the 8 KiB of headers
    /// that standard gRPC clients accept (beyond it they see RESOURCE_EXHAUSTED, and retry).
    pub const LISTED_VIOLATIONS: usize = 12;
}

/// `value` quoted for an error message: at most `limits::QUOTED_CHARS` characters, escaped,
/// with `…` when cut.
pub fn quote(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(limits::QUOTED_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they
/// reorder what follows them, so a title can be made to read differently on a console than
/// it was written. Right-to-left text itself needs none of them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Renders as nothing: white space and Unicode's Default_Ignorable_Code_Point set (zero-width
/// spaces and joiners, fillers, variation selectors, tags), plus the blank Braille pattern.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// An alert as it arrives from any boundary (gRPC, CLI, JSON), before validation.
/// `None` for an enum or time means missing or not a known value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertDraft {
    pub office_id: String,
    pub severity: Option<Severity>,
    pub category: Option<Category>,
    pub title: String,
    pub description: String,
    pub country: String,
    pub place: String,
    pub coordinates: Option<Coordinates>,
    pub occurred_at: Option<Timestamp>,
    pub staff_affected: u32,
    pub dedup_key: String,
    pub labels: BTreeMap<String, String>,
    /// `occurred_at` was given but lies outside the years 0001–9999 (a broken clock).
    pub occurred_at_out_of_range: bool,
    /// Set only by Watchkeeper's integrations (the gRPC API refuses it).
    pub origin: Option<crate::alert::Origin>,
}

/// One rejected field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field path, e.g. `country` or `labels["team"]`.
    pub field: String,
    pub description: String,
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// All the reasons an alert was rejected, in field order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Violations(pub Vec<FieldViolation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid alert: ")?;
        for (index, violation) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Collector(Vec<FieldViolation>);

impl Collector {
    fn reject(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// A single-line text: no control characters, not blank when `required`, within `max` chars.
    fn line(&mut self, field: &str, value: &str, required: bool, max: usize) {
        if required && value.trim().is_empty() {
            self.reject(field, "must not be empty");
        }
        self.text(field, value, max, false);
    }

    fn text(&mut self, field: &str, value: &str, max: usize, multi_line: bool) {
        let chars = value.chars().count();
        if chars > max {
            self.reject(
                field,
                format!("is {chars} characters long, at most {max} allowed"),
            );
        }
        let allowed = |c: char| multi_line && (c == '\n' || c == '\t' || c == '\r');
        if value.chars().any(|c| c.is_control() && !allowed(c)) {
            self.reject(field, "must not contain control characters");
        }
        if value.chars().any(is_bidi_control) {
            self.reject(
                field,
                "must not contain bidirectional embedding, override or isolate characters \
                 (U+202A-U+202E, U+2066-U+2069)",
            );
        }
    }

    /// Keeps the first `limits::LISTED_VIOLATIONS`, counting the rest in a last one.
    fn finish(mut self) -> Vec<FieldViolation> {
        if self.0.len() > limits::LISTED_VIOLATIONS {
            let more = self.0.len() - (limits::LISTED_VIOLATIONS - 1);
            self.0.truncate(limits::LISTED_VIOLATIONS - 1);
            self.reject("alert", format!("{more} more violations not listed"));
        }
        self.0
    }
}

fn is_identifier(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        })
}

fn is_label_key(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

/// Checks that `office_id` is a well-formed office identifier, e.g. `ng-maiduguri`.
pub fn check_office_id(value: &str) -> Result<(), String> {
    if value.chars().count() > limits::OFFICE_ID_CHARS {
        return Err(format!(
            "is longer than {} characters",
            limits::OFFICE_ID_CHARS
        ));
    }
    if !is_identifier(value) {
        return Err(format!(
            "{} is not an office id (lower-case letters, digits, '-', '_', '.')",
            quote(value)
        ));
    }
    Ok(())
}

impl AlertDraft {
    /// Validates the draft at `now`. The alert id comes from (office, dedup key) when a dedup
    /// key is given, else `fresh_id` is used.
    pub fn validate(self, now: Timestamp, fresh_id: AlertId) -> Result<Alert, Violations> {
        let mut errors = Collector::default();
        if let Err(reason) = check_office_id(&self.office_id) {
            errors.reject("office_id", reason);
        }
        if self.severity.is_none() {
            errors.reject(
                "severity",
                "must be one of info, warning, critical, emergency",
            );
        }
        if self.category.is_none() {
            errors.reject(
                "category",
                "must be one of security_incident, abduction, armed_conflict, civil_unrest, \
                 crime, natural_hazard, medical, travel_safety, infrastructure, other",
            );
        }
        errors.line("title", &self.title, true, limits::TITLE_CHARS);
        if !self.title.trim().is_empty() && self.title.chars().all(is_invisible) {
            errors.reject("title", "must contain visible characters");
        }
        errors.text(
            "description",
            &self.description,
            limits::DESCRIPTION_CHARS,
            true,
        );
        let country = self.country.trim().to_ascii_uppercase();
        if isocountry::CountryCode::for_alpha2(&country).is_err() {
            errors.reject(
                "country",
                format!("{} is not an ISO 3166-1 alpha-2 code", quote(&self.country)),
            );
        }
        errors.line("place", &self.place, true, limits::PLACE_CHARS);
        if let Some(Coordinates {
            latitude,
            longitude,
        }) = self.coordinates
        {
            if !(-90.0..=90.0).contains(&latitude) {
                errors.reject(
                    "coordinates.latitude",
                    format!("{latitude} is not in -90..=90"),
                );
            }
            if !(-180.0..=180.0).contains(&longitude) {
                errors.reject(
                    "coordinates.longitude",
                    format!("{longitude} is not in -180..=180"),
                );
            }
        }
        match self.occurred_at {
            None if self.occurred_at_out_of_range => errors.reject(
                "occurred_at",
                "is outside the years 0001-9999; check the office's clock",
            ),
            None => errors.reject("occurred_at", "is required"),
            Some(at) if at.as_unix_millis() > now.as_unix_millis() + limits::FUTURE_SKEW_MILLIS => {
                errors.reject(
                    "occurred_at",
                    format!("{at} is more than 5 minutes in the future (now {now})"),
                );
            }
            Some(at) if at.as_unix_millis() < limits::EARLIEST_OCCURRED_AT_MILLIS => {
                errors.reject("occurred_at", format!("{at} is before 2000-01-01"));
            }
            Some(_) => {}
        }
        if self.staff_affected > limits::STAFF_AFFECTED {
            errors.reject(
                "staff_affected",
                format!(
                    "{} is more than {}",
                    self.staff_affected,
                    limits::STAFF_AFFECTED
                ),
            );
        }
        errors.line("dedup_key", &self.dedup_key, false, limits::DEDUP_KEY_CHARS);
        if self.labels.len() > limits::LABELS {
            errors.reject(
                "labels",
                format!(
                    "has {} entries, at most {} allowed",
                    self.labels.len(),
                    limits::LABELS
                ),
            );
        }
        for (key, value) in &self.labels {
            let field = format!("labels[{}]", quote(key));
            if !is_label_key(key) || key.chars().count() > limits::LABEL_KEY_CHARS {
                errors.reject(
                    field.clone(),
                    format!(
                        "key must be 1..={} of letters, digits, '-', '_', '.', '/'",
                        limits::LABEL_KEY_CHARS
                    ),
                );
            }
            errors.line(&field, value, false, limits::LABEL_VALUE_CHARS);
        }

        if let Some(origin) = &self.origin {
            for (field, description) in crate::integration::check_origin(origin) {
                errors.reject(field, description);
            }
        }
        let (Some(severity), Some(category), Some(occurred_at), []) = (
            self.severity,
            self.category,
            self.occurred_at,
            errors.0.as_slice(),
        ) else {
            return Err(Violations(errors.finish()));
        };
        let dedup_key = (!self.dedup_key.is_empty()).then_some(self.dedup_key);
        let id = match &dedup_key {
            Some(key) => AlertId::for_dedup_key(&self.office_id, key),
            None => fresh_id,
        };
        Ok(Alert {
            id,
            office_id: self.office_id,
            severity,
            category,
            title: self.title.trim().to_owned(),
            description: self.description,
            country,
            place: self.place.trim().to_owned(),
            coordinates: self.coordinates,
            occurred_at,
            staff_affected: self.staff_affected,
            dedup_key,
            labels: self.labels.into_iter().collect(),
            origin: self.origin.map(Box::new),
        })
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
