//! The `Headcounts` service: a duty officer starts a headcount over a scope of the roster
//! (frozen for it there and then), answers on someone's behalf, closes it; everyone reads it
//! from this process's view, which follows the state changelog. The roster is the CSV file of
//! `[headcounts] roster`, read again whenever it has changed; a file that no longer parses
//! keeps the last good roster in use, and says so (line and field, never the values).
//! Every fact is answered only once durable on the alerts topic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tonic::{Request, Response, Status};
use tracing::{info, warn};
use wk_bus::headcount_codec::{
    decode_headcount, encode_answered, encode_closed, encode_started, headcount_record_key,
};
use wk_bus::producer::Producer;
use wk_core::config::HeadcountsConfig;
use wk_core::headcount::{
    Answer, Counts, HeadcountId, Person, Reply, Roster, Scope, Standing, Start, Via, counts_of,
    split,
};
use wk_core::validate::{FieldViolation, Violations};
use wk_proto::v1 as pb;

use crate::auth::{Authenticator, Caller};
use crate::error::{ApiError, to_status};
use crate::ingest::now;

/// The largest start record (one part's frozen roster) a headcount may have: Kafka's records
/// are 1 MB by default, and the part's state record must also hold its answers to come.
/// `wk_core::headcount::split` keeps parts well under it; this is the check that it did.
pub const MAX_START_BYTES: usize = 400_000;

/// The most people one headcount may ask (the organisation has about 9,000 staff; a
/// headcount's view must also fit one gRPC answer).
pub const MAX_PEOPLE: usize = 20_000;

/// The roster as last read, and when its file was last changed.
struct Loaded {
    roster: Roster,
    modified: Option<SystemTime>,
}

pub struct HeadcountService {
    authenticator: Authenticator,
    producer: Producer,
    alerts_topic: String,
    produce_timeout: Duration,
    config: HeadcountsConfig,
    offices: BTreeSet<String>,
    roster: Mutex<Loaded>,
    /// Every headcount's parts, by id and part.
    view: Mutex<BTreeMap<String, BTreeMap<u32, pb::HeadcountState>>>,
}

/// Reads and parses the roster file; the problems name lines and fields only.
pub fn read_roster(
    config: &HeadcountsConfig,
    offices: &BTreeSet<String>,
) -> Result<Roster, String> {
    let text = std::fs::read_to_string(&config.roster)
        .map_err(|error| format!("cannot read {}: {error}", config.roster.display()))?;
    Roster::parse_csv(&text, offices).map_err(|errors| {
        let named: Vec<String> = errors
            .iter()
            .take(12)
            .map(|error| format!("line {}, {}", error.line, error.field))
            .collect();
        format!(
            "{} has {} problem(s): {}",
            config.roster.display(),
            errors.len(),
            named.join("; ")
        )
    })
}

fn modified(config: &HeadcountsConfig) -> Option<SystemTime> {
    std::fs::metadata(&config.roster)
        .and_then(|meta| meta.modified())
        .ok()
}

fn invalid(field: &str, description: &str) -> ApiError {
    ApiError::Invalid(Violations(vec![FieldViolation {
        field: field.into(),
        description: description.into(),
    }]))
}

impl HeadcountService {
    /// The service, its roster read now (an unreadable roster is an error: start refuses).
    pub fn new(
        authenticator: Authenticator,
        producer: Producer,
        alerts_topic: String,
        produce_timeout: Duration,
        config: HeadcountsConfig,
        offices: BTreeSet<String>,
    ) -> Result<HeadcountService, String> {
        let roster = read_roster(&config, &offices)?;
        info!(people = roster.members().len(), "staff roster read");
        Ok(HeadcountService {
            authenticator,
            producer,
            alerts_topic,
            produce_timeout,
            roster: Mutex::new(Loaded {
                roster,
                modified: modified(&config),
            }),
            config,
            offices,
            view: Mutex::new(BTreeMap::new()),
        })
    }

    /// The roster, read again first if its file changed since.
    fn roster(&self) -> Roster {
        self.refresh(false)
    }

    /// Reads the roster again now, changed or not (on SIGHUP).
    pub fn reread(&self) {
        self.refresh(true);
    }

    fn refresh(&self, always: bool) -> Roster {
        let mut loaded = self.roster.lock().unwrap_or_else(PoisonError::into_inner);
        let now = modified(&self.config);
        if always || now != loaded.modified {
            loaded.modified = now;
            match read_roster(&self.config, &self.offices) {
                Ok(roster) => {
                    info!(people = roster.members().len(), "staff roster read again");
                    loaded.roster = roster;
                }
                Err(error) => warn!(%error, "staff roster not re-read; the previous one stays"),
            }
        }
        loaded.roster.clone()
    }

    /// A headcount's state record, as the changelog follower sees it.
    pub fn observe(&self, state: pb::HeadcountState) {
        let mut view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
        view.entry(state.id.clone())
            .or_default()
            .insert(state.part, state);
    }

    fn officer<T>(&self, request: &Request<T>) -> Result<String, ApiError> {
        match self.authenticator.authenticate(request.metadata())? {
            Caller::DutyOfficer(id) | Caller::Admin(id) => Ok(id),
            Caller::Office(_) => Err(ApiError::WrongRole {
                action: "run headcounts (duty officers only)",
            }),
        }
    }

    async fn publish(&self, id: &str, payload: &[u8]) -> Result<(), ApiError> {
        let key = headcount_record_key(id);
        let send = self
            .producer
            .send(&self.alerts_topic, &key, payload, None, true);
        match tokio::time::timeout(self.produce_timeout, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                warn!(%error, headcount = id, "headcount fact refused: broker did not acknowledge");
                Err(ApiError::BrokerUnavailable)
            }
            Err(_) => Err(ApiError::BrokerUnavailable),
        }
    }

    /// Starts a headcount; its id, the people asked and those without an address.
    pub async fn start(
        &self,
        by: &str,
        request: pb::StartHeadcountRequest,
    ) -> Result<pb::StartHeadcountResponse, ApiError> {
        let scope = scope(&request)?;
        let alert = if request.alert_id.is_empty() {
            None
        } else {
            Some(
                request
                    .alert_id
                    .parse()
                    .map_err(|_| invalid("alert_id", "is not an alert id"))?,
            )
        };
        let at = now();
        let day = jiff::Timestamp::from_millisecond(at.as_unix_millis())
            .map(|at| at.to_zoned(jiff::tz::TimeZone::UTC).date())
            .map_err(|_| invalid("clock", "out of range"))?;
        let members = self.roster().select(&scope, day);
        if members.is_empty() {
            return Err(invalid("scope", "matches nobody on the roster"));
        }
        if members.len() > MAX_PEOPLE {
            return Err(invalid(
                "scope",
                &format!(
                    "matches {} people, over the {MAX_PEOPLE} one headcount may ask",
                    members.len()
                ),
            ));
        }
        let id = HeadcountId(crate::ingest::fresh_id(at).to_string());
        let cycle_ms = match request.cycle_minutes {
            0 => i64::try_from(self.config.cycle.as_millis()).unwrap_or(i64::MAX),
            minutes @ 1..=1440 => i64::from(minutes) * 60_000,
            _ => return Err(invalid("cycle_minutes", "must be 1..=1440")),
        };
        let cycles = match request.cycles {
            0 => self.config.cycles,
            cycles @ 1..=96 => cycles,
            _ => return Err(invalid("cycles", "must be 1..=96")),
        };
        let people = u32::try_from(members.len()).unwrap_or(u32::MAX);
        let unreachable = u32::try_from(
            members
                .iter()
                .filter(|member| member.emails.is_empty())
                .count(),
        )
        .unwrap_or(u32::MAX);
        let start = Start {
            id: id.clone(),
            started_by: by.to_owned(),
            drill: request.drill,
            alert,
            scope: describe(&scope),
            cycle_ms,
            cycles,
            members,
            part: 0,
            parts: 1,
            contacts: Vec::new(),
        };
        let parts = split(start);
        let mut payloads = Vec::with_capacity(parts.len());
        for part in &parts {
            let payload = encode_started(part, at);
            if payload.len() > MAX_START_BYTES {
                return Err(invalid(
                    "scope",
                    &format!(
                        "part {} of this headcount is a {} KB record, over the {} KB a part \
                         may start with (Kafka's records are 1 MB at most)",
                        part.part,
                        payload.len() / 1000,
                        MAX_START_BYTES / 1000
                    ),
                ));
            }
            payloads.push(payload);
        }
        // Every part is durable, or the headcount is closed again at once (best effort): a
        // headcount that asks only some of its people must not stand as if it were whole.
        let sent = futures_util::future::join_all(
            payloads.iter().map(|payload| self.publish(&id.0, payload)),
        )
        .await;
        if let Some(error) = sent.into_iter().find_map(Result::err) {
            let reason = "not started: the broker did not take every part of it";
            let closing = encode_closed(&id, by, reason, now());
            if self.publish(&id.0, &closing).await.is_err() {
                warn!(headcount = %id, "a headcount partly started could not be closed");
            }
            return Err(error);
        }
        info!(headcount = %id, people, parts = parts.len(), drill = request.drill, "headcount started");
        Ok(pb::StartHeadcountResponse {
            headcount_id: id.0,
            people,
            unreachable,
        })
    }

    /// Records an answer for `person` of headcount `id`.
    pub async fn answer(&self, id: &str, person: &str, answer: Answer) -> Result<(), ApiError> {
        if answer.text.chars().count() > 1_000 || answer.place.chars().count() > 200 {
            return Err(invalid(
                "text",
                "at most 1,000 characters, and 200 for the place",
            ));
        }
        let payload = encode_answered(&HeadcountId(id.to_owned()), person, &answer);
        self.publish(id, &payload).await
    }

    /// Closes headcount `id` with `summary`, by `by`.
    pub async fn close(&self, by: &str, id: &str, summary: &str) -> Result<(), ApiError> {
        if summary.trim().is_empty() {
            return Err(invalid("summary", "must not be empty"));
        }
        let payload = encode_closed(&HeadcountId(id.to_owned()), by, summary.trim(), now());
        self.publish(id, &payload).await
    }

    /// The headcount as the view has it (its parts merged), with its counts.
    pub fn view_of(&self, id: &str) -> Option<pb::HeadcountView> {
        let parts = self
            .view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()?;
        Some(view(parts))
    }

    /// The name of `person` in headcount `id` (a person or a warden of any part), when the
    /// view has it.
    pub fn person_name(&self, id: &str, person: &str) -> Option<String> {
        let view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
        view.get(id)?
            .values()
            .flat_map(|part| {
                part.people
                    .iter()
                    .filter_map(|entry| entry.member.as_ref())
                    .chain(&part.contacts)
            })
            .find(|member| member.id == person)
            .map(|member| member.name.clone())
    }

    pub fn list(&self) -> Vec<pb::HeadcountView> {
        let headcounts: Vec<BTreeMap<u32, pb::HeadcountState>> = self
            .view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let mut views: Vec<pb::HeadcountView> = headcounts.into_iter().map(view).collect();
        views.sort_by(|a, b| {
            let started = |v: &pb::HeadcountView| {
                v.state
                    .as_ref()
                    .and_then(|s| s.started_at)
                    .map(|t| t.seconds)
            };
            started(b).cmp(&started(a))
        });
        views
    }
}

/// The scope a request names: exactly one of country, offices, zones or people.
fn scope(request: &pb::StartHeadcountRequest) -> Result<Scope, ApiError> {
    let set = |values: &[String]| values.iter().cloned().collect::<BTreeSet<String>>();
    let given = [
        !request.country.is_empty(),
        !request.offices.is_empty(),
        !request.zones.is_empty(),
        !request.people.is_empty(),
    ];
    if given.iter().filter(|given| **given).count() != 1 {
        return Err(invalid(
            "scope",
            "give exactly one of country, offices, zones or people",
        ));
    }
    Ok(if !request.country.is_empty() {
        Scope::Country(request.country.trim().to_ascii_uppercase())
    } else if !request.offices.is_empty() {
        Scope::Offices(set(&request.offices))
    } else if !request.zones.is_empty() {
        Scope::Zones(set(&request.zones))
    } else {
        Scope::People(set(&request.people))
    })
}

fn describe(scope: &Scope) -> String {
    let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
    match scope {
        Scope::Country(country) => format!("country {country}"),
        Scope::Offices(offices) => format!("offices {}", list(offices)),
        Scope::Zones(zones) => format!("zones {}", list(zones)),
        Scope::People(people) => format!("{} named people", people.len()),
    }
}

fn counts(name: &str, counts: &Counts) -> pb::HeadcountCounts {
    pb::HeadcountCounts {
        name: name.to_owned(),
        safe: counts.of(Standing::Safe),
        need_help: counts.of(Standing::NeedHelp),
        not_in_area: counts.of(Standing::NotInArea),
        unaccounted: counts.of(Standing::Unaccounted),
        unreachable: counts.of(Standing::Unreachable),
    }
}

/// A headcount's parts as one state (the first part's header, every part's people and
/// unaccounted at closing), with the counts over all of them (a part that no longer decodes
/// is shown without counts).
fn view(parts: BTreeMap<u32, pb::HeadcountState>) -> pb::HeadcountView {
    let mut people: Vec<Person> = Vec::new();
    let mut decoded = true;
    for state in parts.values() {
        match decode_headcount(state.clone()) {
            Ok((snapshot, _)) => people.extend(snapshot.people),
            Err(_) => decoded = false,
        }
    }
    let mut parts = parts.into_values();
    let mut merged = parts.next().unwrap_or_default();
    for part in parts {
        merged.people.extend(part.people);
        merged
            .unaccounted_at_close
            .extend(part.unaccounted_at_close);
        merged.owed.extend(part.owed);
    }
    merged.part = 0;
    merged.contacts.clear();
    if !decoded {
        return pb::HeadcountView {
            state: Some(merged),
            ..Default::default()
        };
    }
    let (all, offices, zones) = counts_of(&people);
    pb::HeadcountView {
        state: Some(merged),
        all: Some(counts("", &all)),
        offices: offices.iter().map(|(name, c)| counts(name, c)).collect(),
        zones: zones.iter().map(|(name, c)| counts(name, c)).collect(),
    }
}

/// Where a person of a state record stands, in words: their latest answer, or unaccounted
/// (or unreachable, without an address) when they have given none.
pub fn standing_name(person: &pb::HeadcountPerson) -> &'static str {
    match person
        .answers
        .last()
        .map(|answer| pb::HeadcountReply::try_from(answer.reply))
    {
        Some(Ok(pb::HeadcountReply::Safe)) => "safe",
        Some(Ok(pb::HeadcountReply::NeedHelp)) => "need help",
        Some(Ok(pb::HeadcountReply::NotInArea)) => "not in area",
        Some(_) => "?",
        None if person.member.as_ref().is_none_or(|m| m.emails.is_empty()) => "unreachable",
        None => "unaccounted",
    }
}

/// Every person's latest answer, as CSV with its header line: what the console's export and
/// `watchkeeper headcount export` give.
pub fn export_csv(state: &pb::HeadcountState) -> String {
    let quote = |field: &str| {
        if field.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_owned()
        }
    };
    let mut text = String::from(
        "person,name,office,zone,standing,answered_at,via,by,method,late,text,place\n",
    );
    for person in &state.people {
        let member = person.member.clone().unwrap_or_default();
        let answer = person.answers.last().cloned().unwrap_or_default();
        let at = answer
            .at
            .as_ref()
            .and_then(wk_bus::codec::timestamp_from_pb)
            .map(|at| at.to_string())
            .unwrap_or_default();
        let fields = [
            member.id,
            member.name,
            member.office,
            member.zone,
            standing_name(person).to_owned(),
            at,
            answer.via,
            answer.by,
            answer.method,
            answer.late.to_string(),
            answer.text,
            answer.place,
        ];
        text.push_str(
            &fields
                .iter()
                .map(|field| quote(field))
                .collect::<Vec<_>>()
                .join(","),
        );
        text.push('\n');
    }
    text
}

fn reply_from_pb(reply: i32) -> Result<Reply, ApiError> {
    match pb::HeadcountReply::try_from(reply) {
        Ok(pb::HeadcountReply::Safe) => Ok(Reply::Safe),
        Ok(pb::HeadcountReply::NeedHelp) => Ok(Reply::NeedHelp),
        Ok(pb::HeadcountReply::NotInArea) => Ok(Reply::NotInArea),
        _ => Err(invalid("reply", "must be safe, need help or not in area")),
    }
}

#[tonic::async_trait]
impl pb::headcounts_server::Headcounts for HeadcountService {
    async fn start_headcount(
        &self,
        request: Request<pb::StartHeadcountRequest>,
    ) -> Result<Response<pb::StartHeadcountResponse>, Status> {
        let by = self.officer(&request).map_err(|error| to_status(&error))?;
        self.start(&by, request.into_inner())
            .await
            .map(Response::new)
            .map_err(|error| to_status(&error))
    }

    async fn get_headcount(
        &self,
        request: Request<pb::GetHeadcountRequest>,
    ) -> Result<Response<pb::HeadcountView>, Status> {
        self.officer(&request).map_err(|error| to_status(&error))?;
        let id = request.into_inner().headcount_id;
        self.view_of(&id)
            .map(Response::new)
            .ok_or_else(|| to_status(&ApiError::NotFound(id)))
    }

    async fn list_headcounts(
        &self,
        request: Request<pb::ListHeadcountsRequest>,
    ) -> Result<Response<pb::ListHeadcountsResponse>, Status> {
        self.officer(&request).map_err(|error| to_status(&error))?;
        Ok(Response::new(pb::ListHeadcountsResponse {
            headcounts: self.list(),
        }))
    }

    async fn record_answer(
        &self,
        request: Request<pb::RecordAnswerRequest>,
    ) -> Result<Response<pb::RecordAnswerResponse>, Status> {
        let officer = self.officer(&request).map_err(|error| to_status(&error))?;
        let request = request.into_inner();
        if request.method.trim().is_empty() {
            return Err(to_status(&invalid(
                "method",
                "say how the person was reached",
            )));
        }
        let reply = reply_from_pb(request.reply).map_err(|error| to_status(&error))?;
        let answer = Answer {
            reply,
            at: now(),
            via: Via::Officer {
                officer,
                method: request.method,
            },
            text: request.text,
            place: request.place,
            late: false,
        };
        self.answer(&request.headcount_id, &request.person, answer)
            .await
            .map(|()| Response::new(pb::RecordAnswerResponse {}))
            .map_err(|error| to_status(&error))
    }

    async fn close_headcount(
        &self,
        request: Request<pb::CloseHeadcountRequest>,
    ) -> Result<Response<pb::CloseHeadcountResponse>, Status> {
        let officer = self.officer(&request).map_err(|error| to_status(&error))?;
        let request = request.into_inner();
        self.close(&officer, &request.headcount_id, &request.summary)
            .await
            .map(|()| Response::new(pb::CloseHeadcountResponse {}))
            .map_err(|error| to_status(&error))
    }
}
