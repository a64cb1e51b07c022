//! How a sender's labels and annotations become a Watchkeeper alert: severity through a
//! table, category, country and place from labels (or the integration's defaults), title and
//! description from annotations, every other label kept. The result is validated as a field
//! office's alert is, and every refusal names the sender's own field.

use std::collections::BTreeMap;

use super::{Integration, Labels, OfficeSource};
use crate::alert::{AlertId, Category, Origin, Severity};
use crate::time::Timestamp;
use crate::validate::{AlertDraft, FieldViolation, limits};

/// A validated mapping of an integration.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    pub severity_label: String,
    /// The sender's severity values, to ours (`error` → critical, …).
    pub severities: BTreeMap<String, Severity>,
    /// When the label is missing or its value is not in the table.
    pub default_severity: Severity,
    pub category_label: String,
    pub default_category: Category,
    pub country_label: String,
    pub default_country: String,
    pub place_label: String,
    pub default_place: String,
    pub title_annotation: String,
    pub description_annotation: String,
}

impl Mapping {
    /// The defaults, with the integration's `country` and `place`.
    pub fn with_defaults(country: &str, place: &str) -> Mapping {
        Mapping {
            severity_label: "severity".into(),
            severities: default_severities(),
            default_severity: Severity::Warning,
            category_label: "category".into(),
            default_category: Category::Infrastructure,
            country_label: "country".into(),
            default_country: country.into(),
            place_label: "place".into(),
            default_place: place.into(),
            title_annotation: "summary".into(),
            description_annotation: "description".into(),
        }
    }

    /// Our severity for the sender's `value` (case-insensitive).
    pub fn severity(&self, value: Option<&str>) -> Severity {
        value
            .and_then(|value| self.severities.get(&value.to_ascii_lowercase()))
            .copied()
            .unwrap_or(self.default_severity)
    }
}

/// `critical|error|warning|info`, as Prometheus rules and PagerDuty name them.
pub fn default_severities() -> BTreeMap<String, Severity> {
    [
        ("critical", Severity::Critical),
        ("error", Severity::Critical),
        ("warning", Severity::Warning),
        ("info", Severity::Info),
    ]
    .into_iter()
    .map(|(name, severity)| (name.to_owned(), severity))
    .collect()
}

/// One alert of a request, in a common form, before mapping.
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// Where it is in the request (`alerts[3]`), to name refused fields.
    pub field: String,
    /// The sender's identity of the alert.
    pub key: String,
    pub labels: Labels,
    pub annotations: Labels,
    /// Where the office label is looked up (PagerDuty: `custom_details`); `labels` if `None`.
    pub office_labels: Option<Labels>,
    pub severity: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub occurred_at: Option<Timestamp>,
    pub link: String,
    pub ends_at: Option<Timestamp>,
}

impl Integration {
    /// The office of an entry whose labels are `labels`, or the refusal naming `field`.
    pub(super) fn office_for(
        &self,
        labels: &Labels,
        field: &str,
    ) -> Result<String, FieldViolation> {
        match &self.office {
            OfficeSource::Fixed(office) => Ok(office.clone()),
            OfficeSource::Label { label, allowed } => match labels.get(label) {
                Some(office) if allowed.contains(office) => Ok(office.clone()),
                Some(office) => Err(FieldViolation {
                    field: format!("{field}.{label}"),
                    description: format!(
                        "{} is not one of the offices this integration may raise alerts for",
                        crate::validate::quote(office)
                    ),
                }),
                None => Err(FieldViolation {
                    field: format!("{field}.{label}"),
                    description: "is required: it names the office".into(),
                }),
            },
        }
    }

    /// The office label's name, if the office comes from a label.
    fn office_label(&self) -> Option<&str> {
        match &self.office {
            OfficeSource::Label { label, .. } => Some(label),
            OfficeSource::Fixed(_) => None,
        }
    }

    /// The validated draft of `entry` at `now`, or its refusals, each under `entry.field`.
    pub(super) fn draft(
        &self,
        entry: Entry,
        now: Timestamp,
    ) -> Result<AlertDraft, Vec<FieldViolation>> {
        let mapping = &self.mapping;
        let office_labels = entry.office_labels.as_ref().unwrap_or(&entry.labels);
        let labels_field = if entry.office_labels.is_some() {
            format!("{}.custom_details", entry.field)
        } else {
            format!("{}.labels", entry.field)
        };
        let office = self
            .office_for(office_labels, &labels_field)
            .map_err(|error| vec![error])?;
        let mut labels = label_set(entry.labels);
        let severity_value = entry
            .severity
            .or_else(|| labels.get(&mapping.severity_label).cloned());
        let severity = mapping.severity(severity_value.as_deref());
        let category = labels
            .get(&mapping.category_label)
            .and_then(|value| value.parse::<Category>().ok())
            .filter(|category| !matches!(category, Category::OfficeSilent | Category::StaffHelp))
            .unwrap_or(mapping.default_category);
        let country = labels
            .remove(&mapping.country_label)
            .unwrap_or_else(|| mapping.default_country.clone());
        let place = labels
            .remove(&mapping.place_label)
            .filter(|place| !place.trim().is_empty())
            .unwrap_or_else(|| mapping.default_place.clone());
        if let Some(label) = self.office_label() {
            labels.remove(label);
        }
        let title = entry
            .title
            .or_else(|| entry.annotations.get(&mapping.title_annotation).cloned())
            .filter(|title| !title.trim().is_empty())
            .or_else(|| labels.get("alertname").cloned())
            .unwrap_or_else(|| format!("{} alert from {}", self.kind.label(), self.name));
        let description = entry.description.unwrap_or_else(|| {
            describe(
                &entry.annotations,
                &mapping.title_annotation,
                &mapping.description_annotation,
            )
        });
        let draft = AlertDraft {
            office_id: office,
            severity: Some(severity),
            category: Some(category),
            title: one_line(&title, limits::TITLE_CHARS),
            description: multi_line(&description, limits::DESCRIPTION_CHARS),
            country,
            place: one_line(&place, limits::PLACE_CHARS),
            coordinates: None,
            // A sender's clock far ahead (or a zero time) is not the alert's fault.
            occurred_at: Some(
                entry
                    .occurred_at
                    .filter(|at| {
                        at.as_unix_millis() <= now.as_unix_millis()
                            && at.as_unix_millis() >= limits::EARLIEST_OCCURRED_AT_MILLIS
                    })
                    .unwrap_or(now),
            ),
            staff_affected: 0,
            dedup_key: super::dedup_key(&self.name, &entry.key),
            labels,
            occurred_at_out_of_range: false,
            origin: Some(Origin {
                integration: self.name.clone(),
                kind: self.kind,
                link: super::safe_link(&entry.link).unwrap_or_default().to_owned(),
                ends_at: entry.ends_at,
            }),
        };
        match draft.clone().validate(now, AlertId::for_dedup_key("", "")) {
            Ok(_) => Ok(draft),
            Err(violations) => Err(violations
                .0
                .into_iter()
                .map(|violation| FieldViolation {
                    field: sender_field(&entry.field, &violation.field, mapping),
                    description: violation.description,
                })
                .collect()),
        }
    }
}

/// A sender's labels as ours may be: names of other characters (Grafana allows spaces) get
/// `_` in their place, and both are cut to our lengths. Their number is validated, not cut.
fn label_set(labels: Labels) -> Labels {
    labels
        .into_iter()
        .map(|(name, value)| {
            let name: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/') {
                        c
                    } else {
                        '_'
                    }
                })
                .take(limits::LABEL_KEY_CHARS)
                .collect();
            let name = if name.is_empty() {
                "_".to_owned()
            } else {
                name
            };
            (name, one_line(&value, limits::LABEL_VALUE_CHARS))
        })
        .collect()
}

/// The sender's name for a field our validation refused.
fn sender_field(prefix: &str, field: &str, mapping: &Mapping) -> String {
    match field {
        "country" => format!("{prefix}.labels.{}", mapping.country_label),
        "place" => format!("{prefix}.labels.{}", mapping.place_label),
        "title" => format!("{prefix}.annotations.{}", mapping.title_annotation),
        "description" => format!("{prefix}.annotations.{}", mapping.description_annotation),
        other => match other.strip_prefix("labels[") {
            Some(rest) => format!("{prefix}.labels[{rest}"),
            None => format!("{prefix}.{other}"),
        },
    }
}

/// The description annotation, then every other annotation but the title, one per line.
fn describe(annotations: &Labels, title: &str, description: &str) -> String {
    let mut text = annotations.get(description).cloned().unwrap_or_default();
    for (name, value) in annotations {
        if name == title || name == description || value.trim().is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
    }
    text
}

/// `text` on one line of at most `max` characters: control characters become spaces, and
/// what is cut is marked with an ellipsis.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let cleaned: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() || is_bidi(c) { ' ' } else { c })
        .collect();
    cut(&cleaned, max)
}

/// `text` kept to `max` characters, line breaks and tabs kept, other controls dropped.
fn multi_line(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| (!c.is_control() || matches!(c, '\n' | '\t' | '\r')) && !is_bidi(*c))
        .collect();
    cut(&cleaned, max)
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    kept
}
