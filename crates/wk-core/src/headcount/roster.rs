//! The staff roster the operations centre keeps outside the main configuration: a CSV file
//! (what a spreadsheet exports), one person per line, validated with the line and the field
//! named. Visitors and travellers are temporary members: present from one date to another.
//!
//! ```text
//! id,name,office,country,zone,emails,warden,from,until
//! p-0001,Amina Bello,ng-maiduguri,NG,maiduguri-north,amina.bello@example.org,yes,,
//! v-0042,Jean Dupont,ng-maiduguri,NG,maiduguri-north,jean@example.org;+jean@home.example,,2026-11-20,2026-12-10
//! ```
//!
//! `emails` holds one or more addresses separated by `;` (none: the person is counted as
//! unreachable); `warden` is `yes` for a zone's warden; `from` and `until` (both or neither)
//! make a visitor.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::civil::Date;

const COLUMNS: [&str; 9] = [
    "id", "name", "office", "country", "zone", "emails", "warden", "from", "until",
];

/// One person of the roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub office: String,
    pub country: String,
    /// The warden zone the person belongs to.
    pub zone: String,
    pub emails: Vec<String>,
    /// Whether the person is a warden for the zone.
    pub warden: bool,
    /// A visitor's or traveller's dates, inclusive; `None` for a member of staff.
    pub visit: Option<(Date, Date)>,
}

impl Member {
    /// Whether the person is on the roster on `day` (a visitor only between their dates).
    pub fn present_on(&self, day: Date) -> bool {
        self.visit
            .is_none_or(|(from, until)| from <= day && day <= until)
    }
}

/// A problem with one field of one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl fmt::Display for RosterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, {}: {}", self.line, self.field, self.message)
    }
}

/// Who a headcount asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Country(String),
    Offices(BTreeSet<String>),
    Zones(BTreeSet<String>),
    People(BTreeSet<String>),
}

impl Scope {
    fn includes(&self, member: &Member) -> bool {
        match self {
            Scope::Country(country) => member.country == *country,
            Scope::Offices(offices) => offices.contains(&member.office),
            Scope::Zones(zones) => zones.contains(&member.zone),
            Scope::People(people) => people.contains(&member.id),
        }
    }
}

/// A validated roster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    members: Vec<Member>,
}

impl Roster {
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The people a headcount of `scope` started on `day` asks, in roster order: the roster
    /// frozen for it.
    pub fn select(&self, scope: &Scope, day: Date) -> Vec<Member> {
        self.members
            .iter()
            .filter(|member| scope.includes(member) && member.present_on(day))
            .cloned()
            .collect()
    }

    /// Parses a roster; `offices` are the offices of the configuration (a person of another
    /// office is refused). Every problem is reported, each with its line and field.
    pub fn parse_csv(text: &str, offices: &BTreeSet<String>) -> Result<Roster, Vec<RosterError>> {
        let mut errors = Vec::new();
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let header: Vec<String> = match reader.headers() {
            Ok(header) => header.iter().map(str::to_owned).collect(),
            Err(error) => {
                return Err(vec![RosterError {
                    line: 1,
                    field: "header".into(),
                    message: error.to_string(),
                }]);
            }
        };
        let position: BTreeMap<&str, usize> = header
            .iter()
            .enumerate()
            .map(|(index, name)| (name.as_str(), index))
            .collect();
        for name in &header {
            if !COLUMNS.contains(&name.as_str()) {
                errors.push(RosterError {
                    line: 1,
                    field: name.clone(),
                    message: format!("is not a column (columns: {})", COLUMNS.join(", ")),
                });
            }
        }
        for required in ["id", "name", "office", "country", "zone", "emails"] {
            if !position.contains_key(required) {
                errors.push(RosterError {
                    line: 1,
                    field: required.into(),
                    message: "column is missing".into(),
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut members = Vec::new();
        let mut ids = BTreeSet::new();
        for record in reader.records() {
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    let line = error.position().map_or(0, csv::Position::line);
                    errors.push(RosterError {
                        line,
                        field: "line".into(),
                        message: error.to_string(),
                    });
                    continue;
                }
            };
            let line = record.position().map_or(0, csv::Position::line);
            let get = |name: &str| {
                position
                    .get(name)
                    .and_then(|index| record.get(*index))
                    .unwrap_or_default()
                    .to_owned()
            };
            let mut fail = |field: &str, message: String| {
                errors.push(RosterError {
                    line,
                    field: field.into(),
                    message,
                });
            };
            if let Some(member) = member(&get, offices, &mut fail) {
                if ids.insert(member.id.clone()) {
                    members.push(member);
                } else {
                    fail("id", format!("{:?} is on an earlier line too", member.id));
                }
            }
        }
        if errors.is_empty() {
            Ok(Roster { members })
        } else {
            Err(errors)
        }
    }
}

/// One line's member, or `None` with its problems given to `fail`.
fn member(
    get: &dyn Fn(&str) -> String,
    offices: &BTreeSet<String>,
    fail: &mut dyn FnMut(&str, String),
) -> Option<Member> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |field: &str, message: String| problems.push((field.to_owned(), message));
    let id = get("id");
    if id.is_empty() || id.len() > 64 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        problem("id", "must be 1..=64 characters without spaces".into());
    }
    let name = get("name");
    if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
        problem("name", "must be 1..=128 characters".into());
    }
    let office = get("office");
    if !offices.contains(&office) {
        problem(
            "office",
            format!("{office:?} is not an office of the configuration"),
        );
    }
    let country = get("country");
    if isocountry::CountryCode::for_alpha2(&country).is_err()
        || country != country.to_ascii_uppercase()
    {
        problem(
            "country",
            format!("{country:?} is not an upper-case ISO 3166-1 alpha-2 code"),
        );
    }
    let zone = get("zone");
    if zone.is_empty()
        || zone.len() > 64
        || zone.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        problem("zone", "must be 1..=64 characters without spaces".into());
    }
    let emails: Vec<String> = get("emails")
        .split(';')
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .map(str::to_owned)
        .collect();
    if emails.len() > 4 {
        problem("emails", "at most 4 addresses".into());
    }
    for (index, address) in emails.iter().enumerate() {
        if let Err(message) = crate::config::check_email(address) {
            problem(&format!("emails[{index}]"), message);
        }
    }
    let warden = match get("warden").to_ascii_lowercase().as_str() {
        "" | "no" | "false" => false,
        "yes" | "true" => true,
        other => {
            problem("warden", format!("{other:?} is not yes or no"));
            false
        }
    };
    let mut date = |field: &str| {
        let text = get(field);
        if text.is_empty() {
            return Ok(None);
        }
        text.parse::<Date>().map(Some).map_err(|_| {
            problem(field, format!("{text:?} is not a date such as 2026-11-30"));
        })
    };
    let visit = match (date("from"), date("until")) {
        (Ok(Some(from)), Ok(Some(until))) if from <= until => Some((from, until)),
        (Ok(Some(_)), Ok(Some(_))) => {
            problem("until", "is before from".into());
            None
        }
        (Ok(Some(_)), Ok(None)) => {
            problem("until", "a visitor needs both from and until".into());
            None
        }
        (Ok(None), Ok(Some(_))) => {
            problem("from", "a visitor needs both from and until".into());
            None
        }
        _ => None,
    };
    if !problems.is_empty() {
        for (field, message) in problems {
            fail(&field, message);
        }
        return None;
    }
    Some(Member {
        id,
        name,
        office,
        country,
        zone,
        emails,
        warden,
        visit,
    })
}
