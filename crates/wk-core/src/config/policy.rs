//! The escalation-policy part of the configuration: people, on-call schedules, regions,
//! escalation chains and routes, parsed from their raw TOML shapes and validated with errors
//! that name the field (every reference must resolve, every time zone and window must parse).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;

use super::Errors;
pub(super) use super::schedules::{RawSchedule, check_schedules};
use crate::alert::{Category, Severity};
use crate::policy::{
    Chain, ConsoleContact, Directory, Matcher, Person, Policy, Region, Route, Step, TargetRef,
};
use crate::schedule::Schedule;

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
    /// Office id → focal-point addresses, already validated by the caller.
    pub(super) focal_points: BTreeMap<String, Vec<String>>,
}

fn duration_ms(errors: &mut Errors, field: &str, text: &str) -> i64 {
    let duration = errors.duration(field, text, std::time::Duration::from_secs(1));
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

type Chains = BTreeMap<String, Arc<Chain>>;

impl RawPolicy {
    pub(super) fn check(self, errors: &mut Errors) -> Policy {
        let people = check_people(self.people, errors);
        let schedules = check_schedules(self.schedules, &people, errors);
        let regions = check_regions(self.regions, &schedules, errors);
        let directory = Directory {
            consoles: self.consoles,
            people,
            schedules,
            regions,
            operators: self.operators,
            focal_points: self.focal_points,
        };
        let mut chains = check_chains(self.chains, &directory, errors);
        let (default_chain, routes) = match (self.routing, self.single_console) {
            (Some(routing), _) => check_routing(routing, &chains, &directory, errors),
            (None, Some(console)) => {
                // The single-console shorthand: one step to that console, nothing else.
                let targets = check_target(
                    &directory,
                    errors,
                    "dispatcher.console".to_owned(),
                    &format!("console:{console}"),
                )
                .into_iter()
                .collect();
                let chain = Arc::new(Chain {
                    id: "default".into(),
                    steps: vec![Step {
                        timeout_ms: 15 * 60_000,
                        targets,
                    }],
                    repeat: 0,
                    ack_timeout_ms: None,
                    on_exhausted: vec![],
                });
                chains.insert("default".into(), chain.clone());
                (chain, Vec::new())
            }
            (None, None) => {
                errors.push(
                    "routing",
                    "a [routing] section with default_chain is required",
                );
                (placeholder_chain(), Vec::new())
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

/// Stands in for a chain the configuration names but does not define: the configuration is
/// refused with that error, so it never escalates anything.
fn placeholder_chain() -> Arc<Chain> {
    Arc::new(Chain {
        id: String::new(),
        steps: Vec::new(),
        repeat: 0,
        ack_timeout_ms: None,
        on_exhausted: Vec::new(),
    })
}

fn check_people(raw_people: Vec<RawPerson>, errors: &mut Errors) -> BTreeMap<String, Person> {
    let mut people = BTreeMap::new();
    for (index, raw) in raw_people.into_iter().enumerate() {
        let field = format!("people[{index}]");
        if raw.id.is_empty() {
            errors.push(format!("{field}.id"), "must not be empty");
        }
        if let Err(reason) = super::check_email(&raw.email) {
            errors.push(format!("{field}.email"), reason);
        }
        let time_zone = raw
            .time_zone
            .as_deref()
            .and_then(|name| super::web::time_zone(errors, &format!("{field}.time_zone"), name));
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
    people
}

fn check_regions(
    raw_regions: Vec<RawRegion>,
    schedules: &BTreeMap<String, Schedule>,
    errors: &mut Errors,
) -> Vec<Region> {
    let mut regions = Vec::new();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for (index, raw) in raw_regions.into_iter().enumerate() {
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
    regions
}

/// A chain step's or exhaustion's target (`console:manila`, `person:…`, `schedule:…`,
/// `email:…`, `regional-security-officer`), which must name something configured.
fn check_target(
    directory: &Directory,
    errors: &mut Errors,
    field: String,
    text: &str,
) -> Option<TargetRef> {
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
}

fn check_targets(
    directory: &Directory,
    errors: &mut Errors,
    field: &str,
    texts: &[String],
) -> Vec<TargetRef> {
    texts
        .iter()
        .enumerate()
        .filter_map(|(i, text)| check_target(directory, errors, format!("{field}[{i}]"), text))
        .collect()
}

fn check_chains(raw_chains: Vec<RawChain>, directory: &Directory, errors: &mut Errors) -> Chains {
    let mut chains = BTreeMap::new();
    for (index, raw) in raw_chains.into_iter().enumerate() {
        let field = format!("chains[{index}]");
        if raw.steps.is_empty() {
            errors.push(format!("{field}.steps"), "a chain needs at least one step");
        }
        let mut steps = Vec::with_capacity(raw.steps.len());
        for (step_index, step) in raw.steps.iter().enumerate() {
            let field = format!("{field}.steps[{step_index}]");
            if step.targets.is_empty() {
                errors.push(
                    format!("{field}.targets"),
                    "a step needs at least one target",
                );
            }
            steps.push(Step {
                timeout_ms: duration_ms(errors, &format!("{field}.timeout"), &step.timeout),
                targets: check_targets(
                    directory,
                    errors,
                    &format!("{field}.targets"),
                    &step.targets,
                ),
            });
        }
        let chain = Chain {
            id: raw.id.clone(),
            steps,
            repeat: errors.in_range(&format!("{field}.repeat"), raw.repeat, 0, 100) as u32,
            ack_timeout_ms: raw
                .ack_timeout
                .as_deref()
                .map(|text| duration_ms(errors, &format!("{field}.ack_timeout"), text)),
            on_exhausted: check_targets(
                directory,
                errors,
                &format!("{field}.on_exhausted"),
                &raw.on_exhausted,
            ),
        };
        if chains.insert(raw.id.clone(), Arc::new(chain)).is_some() {
            errors.push(format!("{field}.id"), format!("{:?} appears twice", raw.id));
        }
    }
    chains
}

/// The chain `name`d at `field`, or an error and a placeholder.
fn chain_named(chains: &Chains, errors: &mut Errors, field: &str, name: &str) -> Arc<Chain> {
    chains.get(name).cloned().unwrap_or_else(|| {
        errors.push(field, format!("{name:?} is not in [[chains]]"));
        placeholder_chain()
    })
}

fn check_routing(
    routing: RawRouting,
    chains: &Chains,
    directory: &Directory,
    errors: &mut Errors,
) -> (Arc<Chain>, Vec<Route>) {
    let routes = routing
        .routes
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            check_route(
                raw,
                &format!("routing.routes[{index}]"),
                chains,
                directory,
                errors,
            )
        })
        .collect();
    let default_chain = chain_named(
        chains,
        errors,
        "routing.default_chain",
        &routing.default_chain,
    );
    (default_chain, routes)
}

fn check_route(
    raw: RawRoute,
    field: &str,
    chains: &Chains,
    directory: &Directory,
    errors: &mut Errors,
) -> Route {
    let chain = chain_named(chains, errors, &format!("{field}.chain"), &raw.chain);
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
                .map_err(|reason| errors.push(format!("{field}.categories[{i}]"), reason))
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
    Route {
        name: raw.name,
        chain,
        matcher: Matcher {
            min_severity,
            categories,
            countries: raw.countries,
            regions: raw.regions,
            offices: raw.offices,
            labels: raw.labels,
        },
    }
}
