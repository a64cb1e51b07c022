//! `[[schedules]]`: on-call rotations in layers (each in its own time zone, optionally within
//! a daily window, handing over every `shift_days`) and dated overrides.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Errors;
use crate::policy::Person;
use crate::schedule::{Layer, Override, Schedule, Window};
use crate::time::Timestamp;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawSchedule {
    id: String,
    #[serde(default)]
    layers: Vec<RawLayer>,
    #[serde(default)]
    overrides: Vec<RawOverride>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    name: String,
    time_zone: String,
    /// `HH:MM-HH:MM` in the layer's time zone; all day when absent.
    #[serde(default)]
    window: Option<String>,
    people: Vec<String>,
    /// Local date and time of a hand-over to the first person, e.g. `2026-11-02T06:00`.
    handover: String,
    #[serde(default = "one")]
    shift_days: i64,
}

fn one() -> i64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    person: String,
    start: String,
    end: String,
}

fn parse_window(text: &str) -> Result<Window, String> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not a window such as \"06:00-18:00\""))?;
    let time = |part: &str| {
        part.trim()
            .parse::<jiff::civil::Time>()
            .map_err(|_| format!("{part:?} is not a time such as \"06:00\""))
    };
    Ok(Window {
        start: time(start)?,
        end: time(end)?,
    })
}

fn parse_instant(text: &str) -> Result<Timestamp, String> {
    let instant: jiff::Timestamp = text
        .parse()
        .map_err(|_| format!("{text:?} is not an RFC 3339 time with offset"))?;
    Ok(Timestamp::from_unix_millis(instant.as_millisecond()))
}

pub(in crate::config) fn check_schedules(
    raw_schedules: Vec<RawSchedule>,
    people: &BTreeMap<String, Person>,
    errors: &mut Errors,
) -> BTreeMap<String, Schedule> {
    let mut schedules = BTreeMap::new();
    for (index, raw) in raw_schedules.into_iter().enumerate() {
        let field = format!("schedules[{index}]");
        if raw.layers.is_empty() && raw.overrides.is_empty() {
            errors.push(
                format!("{field}.layers"),
                "a schedule needs at least one layer",
            );
        }
        let layers = raw
            .layers
            .into_iter()
            .enumerate()
            .map(|(layer_index, layer)| {
                check_layer(
                    layer,
                    &format!("{field}.layers[{layer_index}]"),
                    people,
                    errors,
                )
            })
            .collect();
        let mut overrides = Vec::new();
        for (override_index, raw_override) in raw.overrides.into_iter().enumerate() {
            let field = format!("{field}.overrides[{override_index}]");
            if !people.contains_key(&raw_override.person) {
                errors.push(
                    format!("{field}.person"),
                    format!("{:?} is not in [[people]]", raw_override.person),
                );
            }
            let start = parse_instant(&raw_override.start)
                .map_err(|r| errors.push(format!("{field}.start"), r));
            let end = parse_instant(&raw_override.end)
                .map_err(|r| errors.push(format!("{field}.end"), r));
            if let (Ok(start), Ok(end)) = (start, end) {
                if start >= end {
                    errors.push(format!("{field}.end"), "must be after start");
                }
                overrides.push(Override {
                    person: raw_override.person,
                    start,
                    end,
                });
            }
        }
        let schedule = Schedule {
            id: raw.id.clone(),
            layers,
            overrides,
        };
        if schedules.insert(raw.id.clone(), schedule).is_some() {
            errors.push(format!("{field}.id"), format!("{:?} appears twice", raw.id));
        }
    }
    schedules
}

fn check_layer(
    layer: RawLayer,
    field: &str,
    people: &BTreeMap<String, Person>,
    errors: &mut Errors,
) -> Layer {
    let time_zone = jiff::tz::TimeZone::get(&layer.time_zone).unwrap_or_else(|_| {
        errors.push(
            format!("{field}.time_zone"),
            format!("{:?} is not an IANA time zone", layer.time_zone),
        );
        jiff::tz::TimeZone::UTC
    });
    let window = layer.window.as_deref().and_then(|text| {
        parse_window(text)
            .map_err(|reason| errors.push(format!("{field}.window"), reason))
            .ok()
    });
    let handover = layer
        .handover
        .parse::<jiff::civil::DateTime>()
        .unwrap_or_else(|_| {
            errors.push(
                format!("{field}.handover"),
                format!(
                    "{:?} is not a local date and time such as \"2026-11-02T06:00\"",
                    layer.handover
                ),
            );
            jiff::civil::DateTime::default()
        });
    if layer.people.is_empty() {
        errors.push(format!("{field}.people"), "must name at least one person");
    }
    for (person_index, person) in layer.people.iter().enumerate() {
        if !people.contains_key(person) {
            errors.push(
                format!("{field}.people[{person_index}]"),
                format!("{person:?} is not in [[people]]"),
            );
        }
    }
    Layer {
        name: layer.name,
        time_zone,
        window,
        people: layer.people,
        handover,
        shift_days: errors.in_range(&format!("{field}.shift_days"), layer.shift_days, 1, 366)
            as u32,
    }
}
