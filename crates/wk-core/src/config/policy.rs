//! The escalation-policy part of the configuration: people, on-call schedules, regions,
//! escalation chains and routes, parsed from their raw TOML shapes and validated with errors
//! that name the field (every reference must resolve, every time zone and window must parse).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::Errors;
use crate::alert::{Category, Severity};
use crate::policy::{
    Chain, ConsoleContact, Directory, Matcher, Person, Policy, Region, Route, Step, TargetRef,
};
use crate::schedule::{Layer, Override, Schedule, Window};
use crate::time::Timestamp;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPerson {
    id: String,
    #[serde(default)]
    name: String,
    email: String,
    /// IANA time zone the person lives in, e.g. `Asia/Manila`.
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegion {
    id: String,
    #[serde(default)]
    name: String,
    countries: Vec<String>,
    /// The schedule of the region's security officers.
    security_officer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChain {
    id: String,
    steps: Vec<RawStep>,
    #[serde(default)]
    repeat: i64,
    #[serde(default)]
    ack_timeout: Option<String>,
    #[serde(default)]
    on_exhausted: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    timeout: String,
    targets: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRouting {
    default_chain: String,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: String,
    chain: String,
    #[serde(default)]
    min_severity: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    countries: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    offices: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The raw policy sections of the configuration file.
pub(super) struct RawPolicy {
    pub(super) people: Vec<RawPerson>,
    pub(super) schedules: Vec<RawSchedule>,
    pub(super) regions: Vec<RawRegion>,
    pub(super) chains: Vec<RawChain>,
    pub(super) routing: Option<RawRouting>,
    /// The 1/6 shorthand `[dispatcher] console`: one step notifying that console.
    pub(super) single_console: Option<String>,
    /// `[dispatcher] operators`, already validated by the caller.
    pub(super) operators: Vec<String>,
    /// Console name → (emails, failover), already validated by the caller.
    pub(super) consoles: BTreeMap<String, ConsoleContact>,
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

fn duration_ms(errors: &mut Errors, field: &str, text: &str) -> i64 {
    let duration = errors.duration(field, text, std::time::Duration::from_secs(1));
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl RawPolicy {
    pub(super) fn check(self, errors: &mut Errors) -> Policy {
        let mut people = BTreeMap::new();
        for (index, raw) in self.people.into_iter().enumerate() {
            let field = format!("people[{index}]");
            if raw.id.is_empty() {
                errors.push(format!("{field}.id"), "must not be empty");
            }
            if let Err(reason) = super::check_email(&raw.email) {
                errors.push(format!("{field}.email"), reason);
            }
            let time_zone = raw.time_zone.as_deref().and_then(|name| {
                jiff::tz::TimeZone::get(name)
                    .map_err(|_| {
                        errors.push(
                            format!("{field}.time_zone"),
                            format!("{name:?} is not an IANA time zone"),
                        )
                    })
                    .ok()
            });
            let person = Person {
                name: if raw.name.is_empty() {
                    raw.id.clone()
                } else {
                    raw.name
                },
                id: raw.id.clone(),
                email: raw.email,
                time_zone,
            };
            if people.insert(raw.id.clone(), person).is_some() {
                errors.push(format!("{field}.id"), format!("{:?} appears twice", raw.id));
            }
        }

        let mut schedules = BTreeMap::new();
        for (index, raw) in self.schedules.into_iter().enumerate() {
            let field = format!("schedules[{index}]");
            if raw.layers.is_empty() && raw.overrides.is_empty() {
                errors.push(
                    format!("{field}.layers"),
                    "a schedule needs at least one layer",
                );
            }
            let mut layers = Vec::new();
            for (layer_index, layer) in raw.layers.into_iter().enumerate() {
                let field = format!("{field}.layers[{layer_index}]");
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
                layers.push(Layer {
                    name: layer.name,
                    time_zone,
                    window,
                    people: layer.people,
                    handover,
                    shift_days: errors.in_range(
                        &format!("{field}.shift_days"),
                        layer.shift_days,
                        1,
                        366,
                    ) as u32,
                });
            }
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

        let mut regions = Vec::new();
        let mut claimed: BTreeMap<String, String> = BTreeMap::new();
        for (index, raw) in self.regions.into_iter().enumerate() {
            let field = format!("regions[{index}]");
            let mut countries = BTreeSet::new();
            for (country_index, country) in raw.countries.iter().enumerate() {
                let code = country.to_ascii_uppercase();
                if isocountry::CountryCode::for_alpha2(&code).is_err() {
                    errors.push(
                        format!("{field}.countries[{country_index}]"),
                        format!("{country:?} is not an ISO 3166-1 alpha-2 code"),
                    );
                } else if let Some(other) = claimed.insert(code.clone(), raw.id.clone()) {
                    errors.push(
                        format!("{field}.countries[{country_index}]"),
                        format!("{code} is already in region {other:?}"),
                    );
                }
                countries.insert(code);
            }
            if !schedules.contains_key(&raw.security_officer) {
                errors.push(
                    format!("{field}.security_officer"),
                    format!("{:?} is not in [[schedules]]", raw.security_officer),
                );
            }
            regions.push(Region {
                name: if raw.name.is_empty() {
                    raw.id.clone()
                } else {
                    raw.name
                },
                id: raw.id,
                countries,
                security_officer_schedule: raw.security_officer,
            });
        }

        let directory = Directory {
            consoles: self.consoles,
            people,
            schedules,
            regions,
            operators: self.operators,
        };
        let check_target = |errors: &mut Errors, field: String, text: &str| -> Option<TargetRef> {
            let target = TargetRef::parse(text)
                .map_err(|reason| errors.push(field.clone(), reason))
                .ok()?;
            let known = match &target {
                TargetRef::Console(name) => directory.consoles.contains_key(name),
                TargetRef::Person(id) => directory.people.contains_key(id),
                TargetRef::Schedule(id) => directory.schedules.contains_key(id),
                TargetRef::Email(address) => super::check_email(address).is_ok(),
                TargetRef::RegionalSecurityOfficer => true,
            };
            if !known {
                errors.push(field, format!("{text:?} does not name a configured target"));
            }
            Some(target)
        };

        let mut chains = BTreeMap::new();
        for (index, raw) in self.chains.into_iter().enumerate() {
            let field = format!("chains[{index}]");
            if raw.steps.is_empty() {
                errors.push(format!("{field}.steps"), "a chain needs at least one step");
            }
            let steps = raw
                .steps
                .iter()
                .enumerate()
                .map(|(step_index, step)| {
                    let field = format!("{field}.steps[{step_index}]");
                    if step.targets.is_empty() {
                        errors.push(
                            format!("{field}.targets"),
                            "a step needs at least one target",
                        );
                    }
                    Step {
                        timeout_ms: duration_ms(errors, &format!("{field}.timeout"), &step.timeout),
                        targets: step
                            .targets
                            .iter()
                            .enumerate()
                            .filter_map(|(i, text)| {
                                check_target(errors, format!("{field}.targets[{i}]"), text)
                            })
                            .collect(),
                    }
                })
                .collect();
            let chain = Chain {
                id: raw.id.clone(),
                steps,
                repeat: errors.in_range(&format!("{field}.repeat"), raw.repeat, 0, 100) as u32,
                ack_timeout_ms: raw
                    .ack_timeout
                    .as_deref()
                    .map(|text| duration_ms(errors, &format!("{field}.ack_timeout"), text)),
                on_exhausted: raw
                    .on_exhausted
                    .iter()
                    .enumerate()
                    .filter_map(|(i, text)| {
                        check_target(errors, format!("{field}.on_exhausted[{i}]"), text)
                    })
                    .collect(),
            };
            if chains
                .insert(raw.id.clone(), std::sync::Arc::new(chain))
                .is_some()
            {
                errors.push(format!("{field}.id"), format!("{:?} appears twice", raw.id));
            }
        }

        let (default_chain, routes) = match (self.routing, self.single_console) {
            (Some(routing), _) => {
                let mut routes = Vec::new();
                for (index, raw) in routing.routes.into_iter().enumerate() {
                    let field = format!("routing.routes[{index}]");
                    if !chains.contains_key(&raw.chain) {
                        errors.push(
                            format!("{field}.chain"),
                            format!("{:?} is not in [[chains]]", raw.chain),
                        );
                    }
                    let min_severity = raw.min_severity.as_deref().and_then(|text| {
                        text.parse::<Severity>()
                            .map_err(|reason| errors.push(format!("{field}.min_severity"), reason))
                            .ok()
                    });
                    let categories = raw
                        .categories
                        .iter()
                        .enumerate()
                        .filter_map(|(i, text)| {
                            text.parse::<Category>()
                                .map_err(|reason| {
                                    errors.push(format!("{field}.categories[{i}]"), reason)
                                })
                                .ok()
                        })
                        .collect();
                    for (i, country) in raw.countries.iter().enumerate() {
                        if isocountry::CountryCode::for_alpha2(country).is_err() {
                            errors.push(
                                format!("{field}.countries[{i}]"),
                                format!("{country:?} is not an ISO 3166-1 alpha-2 code"),
                            );
                        }
                    }
                    for (i, region) in raw.regions.iter().enumerate() {
                        if !directory.regions.iter().any(|r| &r.id == region) {
                            errors.push(
                                format!("{field}.regions[{i}]"),
                                format!("{region:?} is not in [[regions]]"),
                            );
                        }
                    }
                    routes.push(Route {
                        name: raw.name,
                        chain: raw.chain,
                        matcher: Matcher {
                            min_severity,
                            categories,
                            countries: raw.countries,
                            regions: raw.regions,
                            offices: raw.offices,
                            labels: raw.labels,
                        },
                    });
                }
                if !chains.contains_key(&routing.default_chain) {
                    errors.push(
                        "routing.default_chain",
                        format!("{:?} is not in [[chains]]", routing.default_chain),
                    );
                }
                (routing.default_chain, routes)
            }
            (None, Some(console)) => {
                // The single-console shorthand: one step to that console, nothing else.
                let field = "dispatcher.console".to_owned();
                let targets = check_target(errors, field, &format!("console:{console}"))
                    .into_iter()
                    .collect();
                chains.insert(
                    "default".into(),
                    std::sync::Arc::new(Chain {
                        id: "default".into(),
                        steps: vec![Step {
                            timeout_ms: 15 * 60_000,
                            targets,
                        }],
                        repeat: 0,
                        ack_timeout_ms: None,
                        on_exhausted: vec![],
                    }),
                );
                ("default".to_owned(), Vec::new())
            }
            (None, None) => {
                errors.push(
                    "routing",
                    "a [routing] section with default_chain is required",
                );
                (String::new(), Vec::new())
            }
        };
        Policy {
            directory,
            chains,
            routes,
            default_chain,
        }
    }
}
