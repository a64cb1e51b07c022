//! The escalation policy: who can be notified (consoles, people, schedules, regions), the
//! escalation chains, and the routes that pick a chain for an alert. Pure data plus the route
//! decision; built and validated from configuration in `config`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::alert::{Alert, Category, Severity};
use crate::schedule::Schedule;

/// Something a step can notify. Resolved to concrete recipients when the step fires.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetRef {
    /// A console: its signed webhook and its duty mailboxes.
    Console(String),
    /// A person, by id: their email.
    Person(String),
    /// Whoever a schedule has on call when the step fires.
    Schedule(String),
    /// A fixed address, e.g. a crisis-team list.
    Email(String),
    /// The on-call regional security officer of the alert's country's region.
    RegionalSecurityOfficer,
}

impl TargetRef {
    /// Parses `console:manila`, `person:maria.santos`, `schedule:centre-duty`,
    /// `email:crisis@example.org` or `regional-security-officer`.
    pub fn parse(text: &str) -> Result<TargetRef, String> {
        if text == "regional-security-officer" {
            return Ok(TargetRef::RegionalSecurityOfficer);
        }
        match text.split_once(':') {
            Some(("console", name)) if !name.is_empty() => Ok(TargetRef::Console(name.into())),
            Some(("person", id)) if !id.is_empty() => Ok(TargetRef::Person(id.into())),
            Some(("schedule", id)) if !id.is_empty() => Ok(TargetRef::Schedule(id.into())),
            Some(("email", address)) if address.contains('@') => {
                Ok(TargetRef::Email(address.into()))
            }
            _ => Err(format!(
                "{text:?} is not a target (console:NAME, person:ID, schedule:ID, email:ADDRESS \
                 or regional-security-officer)"
            )),
        }
    }
}

impl std::fmt::Display for TargetRef {
    /// The text form `TargetRef::parse` reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetRef::Console(name) => write!(f, "console:{name}"),
            TargetRef::Person(id) => write!(f, "person:{id}"),
            TargetRef::Schedule(id) => write!(f, "schedule:{id}"),
            TargetRef::Email(address) => write!(f, "email:{address}"),
            TargetRef::RegionalSecurityOfficer => f.write_str("regional-security-officer"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// How long to wait for an acknowledgement before the next step.
    pub timeout_ms: i64,
    pub targets: Vec<TargetRef>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub id: String,
    pub steps: Vec<Step>,
    /// How many more times the whole chain runs after the first pass before it is exhausted.
    pub repeat: u32,
    /// An acknowledged alert not resolved within this returns to triggered.
    pub ack_timeout_ms: Option<i64>,
    /// Notified when the chain is exhausted; the first step's targets when empty.
    pub on_exhausted: Vec<TargetRef>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleContact {
    pub name: String,
    pub emails: Vec<String>,
    /// The console notified at once when this one cannot be reached (Manila → Panama).
    pub failover: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Where the person lives, for showing them local times.
    pub time_zone: Option<jiff::tz::TimeZone>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub id: String,
    pub name: String,
    pub countries: BTreeSet<String>,
    /// The schedule of the region's security officers.
    pub security_officer_schedule: String,
}

/// Everyone and everything a notification can go to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directory {
    pub consoles: BTreeMap<String, ConsoleContact>,
    pub people: BTreeMap<String, Person>,
    pub schedules: BTreeMap<String, Schedule>,
    pub regions: Vec<Region>,
    /// Addresses told when a notification could not be delivered and the chain has nobody
    /// reachable left (`[dispatcher] operators`).
    pub operators: Vec<String>,
    /// Each office's focal points (`[[offices]] focal_points`): told when the operations
    /// centre acknowledges or resolves one of the office's alerts.
    pub focal_points: BTreeMap<String, Vec<String>>,
}

impl Directory {
    pub fn region_of(&self, country: &str) -> Option<&Region> {
        self.regions
            .iter()
            .find(|region| region.countries.contains(country))
    }
}

/// What a route matches; an empty list matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matcher {
    pub min_severity: Option<Severity>,
    pub categories: Vec<Category>,
    pub countries: Vec<String>,
    pub regions: Vec<String>,
    pub offices: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub name: String,
    pub matcher: Matcher,
    /// The chain itself, shared: a route cannot name a chain that does not exist.
    pub chain: Arc<Chain>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub directory: Directory,
    /// Shared with every escalation on the chain (an escalation keeps the chain it started
    /// with, and thousands are open at once).
    pub chains: BTreeMap<String, Arc<Chain>>,
    /// Ordered: the first match wins.
    pub routes: Vec<Route>,
    /// The chain when no route matches.
    pub default_chain: Arc<Chain>,
}

impl Matcher {
    pub fn matches(&self, alert: &Alert, directory: &Directory) -> bool {
        let any = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        self.min_severity.is_none_or(|min| alert.severity >= min)
            && (self.categories.is_empty() || self.categories.contains(&alert.category))
            && any(&self.countries, &alert.country)
            && any(&self.offices, &alert.office_id)
            && (self.regions.is_empty()
                || directory
                    .region_of(&alert.country)
                    .is_some_and(|region| self.regions.contains(&region.id)))
            && self
                .labels
                .iter()
                .all(|(key, value)| alert.labels.get(key) == Some(value))
    }
}

impl Policy {
    /// The route name and chain for `alert`: the first matching route, else the default.
    pub fn route(&self, alert: &Alert) -> (&str, &Arc<Chain>) {
        self.routes
            .iter()
            .find(|route| route.matcher.matches(alert, &self.directory))
            .map_or(("default", &self.default_chain), |route| {
                (route.name.as_str(), &route.chain)
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alert::AlertId;
    use crate::time::Timestamp;

    pub(crate) fn alert(severity: Severity, category: Category, country: &str) -> Alert {
        Alert {
            id: AlertId::for_dedup_key("ng-maiduguri", "k"),
            office_id: "ng-maiduguri".into(),
            severity,
            category,
            title: "t".into(),
            description: String::new(),
            country: country.into(),
            place: "p".into(),
            coordinates: None,
            occurred_at: Timestamp::from_unix_millis(0),
            staff_affected: 0,
            dedup_key: Some("k".into()),
            labels: [("team".to_owned(), "wash".to_owned())]
                .into_iter()
                .collect(),
            origin: None,
        }
    }

    fn chain(id: &str) -> Chain {
        Chain {
            id: id.into(),
            steps: vec![Step {
                timeout_ms: 1,
                targets: vec![TargetRef::Console("manila".into())],
            }],
            repeat: 0,
            ack_timeout_ms: None,
            on_exhausted: vec![],
        }
    }

    fn policy() -> Policy {
        Policy {
            directory: Directory {
                regions: vec![Region {
                    id: "west-central-africa".into(),
                    name: "Dakar".into(),
                    countries: ["NG".to_owned(), "SN".to_owned()].into(),
                    security_officer_schedule: "rso-dakar".into(),
                }],
                ..Directory::default()
            },
            chains: ["standard", "crisis", "wca"]
                .map(|id| (id.to_owned(), chain(id).into()))
                .into(),
            routes: vec![
                Route {
                    name: "abduction".into(),
                    matcher: Matcher {
                        categories: vec![Category::Abduction],
                        ..Matcher::default()
                    },
                    chain: Arc::new(chain("crisis")),
                },
                Route {
                    name: "west-africa-critical".into(),
                    matcher: Matcher {
                        min_severity: Some(Severity::Critical),
                        regions: vec!["west-central-africa".into()],
                        labels: [("team".to_owned(), "wash".to_owned())]
                            .into_iter()
                            .collect(),
                        ..Matcher::default()
                    },
                    chain: Arc::new(chain("wca")),
                },
            ],
            default_chain: Arc::new(chain("standard")),
        }
    }

    #[test]
    fn first_matching_route_wins_and_default_catches_the_rest() {
        let policy = policy();
        let route = |a: &Alert| {
            let (name, chain) = policy.route(a);
            Some((name.to_owned(), chain.id.clone()))
        };
        let abduction = alert(Severity::Info, Category::Abduction, "NG");
        assert_eq!(
            route(&abduction),
            Some(("abduction".into(), "crisis".into()))
        );
        let critical = alert(Severity::Critical, Category::Crime, "SN");
        assert_eq!(
            route(&critical),
            Some(("west-africa-critical".into(), "wca".into()))
        );
        let warning = alert(Severity::Warning, Category::Crime, "SN");
        assert_eq!(route(&warning), Some(("default".into(), "standard".into())));
        let elsewhere = alert(Severity::Emergency, Category::Crime, "KE");
        assert_eq!(
            route(&elsewhere),
            Some(("default".into(), "standard".into()))
        );
        let mut unlabelled = alert(Severity::Critical, Category::Crime, "NG");
        unlabelled.labels.clear();
        assert_eq!(route(&unlabelled).unwrap().0, "default");
    }

    #[test]
    fn targets_parse_and_refuse_nonsense() {
        assert_eq!(
            TargetRef::parse("console:manila"),
            Ok(TargetRef::Console("manila".into()))
        );
        assert_eq!(
            TargetRef::parse("schedule:centre"),
            Ok(TargetRef::Schedule("centre".into()))
        );
        assert_eq!(
            TargetRef::parse("regional-security-officer"),
            Ok(TargetRef::RegionalSecurityOfficer)
        );
        assert_eq!(
            TargetRef::parse("email:crisis@example.org"),
            Ok(TargetRef::Email("crisis@example.org".into()))
        );
        for good in [
            "console:manila",
            "person:p",
            "schedule:s",
            "email:a@b",
            "regional-security-officer",
        ] {
            assert_eq!(TargetRef::parse(good).unwrap().to_string(), good);
        }
        for bad in ["", "console:", "pager:x", "email:nobody", "manila"] {
            assert!(TargetRef::parse(bad).is_err(), "{bad}");
        }
    }
}
