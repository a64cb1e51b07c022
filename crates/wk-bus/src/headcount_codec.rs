//! Headcount facts on the alerts topic (started, answered, closed; keyed `headcount:<id>`)
//! and a headcount's state (`wk_core::headcount::Snapshot`) on the state changelog, and back.
//! Decoding re-validates the help alerts it carries.

use prost::Message;
use wk_core::alert::AlertId;
use wk_core::headcount::{
    Answer, Closed, HeadcountId, Mail, Member, Owed, PartKey, Person, Reply, Snapshot, Start, Via,
};
use wk_core::time::Timestamp;
use wk_proto::v1 as pb;

use crate::codec::{
    DecodeError, alert_from_pb, alert_to_pb, required_time, timestamp_from_pb, timestamp_to_pb,
};

/// The alerts-topic key of a headcount's facts (every part's: one partition).
pub fn headcount_record_key(id: &str) -> String {
    format!("headcount:{id}")
}

/// The changelog key of one part's state: `headcount:<id>`, `headcount:<id>/<part>`.
pub fn headcount_part_key(key: &PartKey) -> String {
    format!("headcount:{key}")
}

/// What a headcount fact says, decoded by [`crate::codec::decode_event`].
#[derive(Clone, Debug, PartialEq)]
pub enum HeadcountFact {
    Started(Box<Start>),
    Answered { person: String, answer: Answer },
    Closed { by: String, summary: String },
}

pub fn encode_started(start: &Start, at: Timestamp) -> Vec<u8> {
    let started = pb::HeadcountStarted {
        started_by: start.started_by.clone(),
        drill: start.drill,
        alert_id: start.alert.map(|id| id.to_string()).unwrap_or_default(),
        scope: start.scope.clone(),
        cycle_ms: start.cycle_ms,
        cycles: start.cycles,
        members: start.members.iter().map(member_to_pb).collect(),
        part: start.part,
        parts: start.parts,
        contacts: start.contacts.iter().map(member_to_pb).collect(),
    };
    encode_fact(&start.id, at, pb::headcount_fact::Fact::Started(started))
}

pub fn encode_answered(id: &HeadcountId, person: &str, answer: &Answer) -> Vec<u8> {
    let answered = pb::HeadcountAnswered {
        person: person.to_owned(),
        answer: Some(answer_to_pb(answer)),
    };
    encode_fact(id, answer.at, pb::headcount_fact::Fact::Answered(answered))
}

pub fn encode_closed(id: &HeadcountId, by: &str, summary: &str, at: Timestamp) -> Vec<u8> {
    let closed = pb::HeadcountClosed {
        by: by.to_owned(),
        summary: summary.to_owned(),
    };
    encode_fact(id, at, pb::headcount_fact::Fact::Closed(closed))
}

fn encode_fact(id: &HeadcountId, at: Timestamp, fact: pb::headcount_fact::Fact) -> Vec<u8> {
    pb::AlertEvent {
        alert_id: String::new(),
        at: Some(timestamp_to_pb(at)),
        event: Some(pb::alert_event::Event::Headcount(pb::HeadcountFact {
            headcount_id: id.0.clone(),
            fact: Some(fact),
        })),
        office_id: String::new(),
        incident: None,
    }
    .encode_to_vec()
}

/// A headcount fact of an alerts-topic event.
pub(crate) fn decode_headcount_fact(
    fact: pb::HeadcountFact,
) -> Result<(HeadcountId, HeadcountFact), DecodeError> {
    let id = headcount_id(fact.headcount_id)?;
    let decoded = match fact.fact.ok_or(DecodeError::Missing("headcount.fact"))? {
        pb::headcount_fact::Fact::Started(started) => HeadcountFact::Started(Box::new(Start {
            id: id.clone(),
            started_by: started.started_by,
            drill: started.drill,
            alert: optional_alert_id(&started.alert_id)?,
            scope: started.scope,
            cycle_ms: started.cycle_ms,
            cycles: started.cycles,
            members: members_from_pb(started.members)?,
            part: started.part,
            parts: started.parts.max(1),
            contacts: members_from_pb(started.contacts)?,
        })),
        pb::headcount_fact::Fact::Answered(answered) => HeadcountFact::Answered {
            person: answered.person,
            answer: answer_from_pb(answered.answer.ok_or(DecodeError::Missing("answer"))?)?,
        },
        pb::headcount_fact::Fact::Closed(closed) => HeadcountFact::Closed {
            by: closed.by,
            summary: closed.summary,
        },
    };
    Ok((id, decoded))
}

fn headcount_id(text: String) -> Result<HeadcountId, DecodeError> {
    if text.is_empty() || text.len() > 64 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DecodeError::Field("headcount_id", text));
    }
    Ok(HeadcountId(text))
}

fn optional_alert_id(text: &str) -> Result<Option<AlertId>, DecodeError> {
    if text.is_empty() {
        return Ok(None);
    }
    Ok(Some(text.parse()?))
}

fn members_from_pb(members: Vec<pb::HeadcountMember>) -> Result<Vec<Member>, DecodeError> {
    members.into_iter().map(member_from_pb).collect()
}

fn member_to_pb(member: &Member) -> pb::HeadcountMember {
    let (from, until) = member
        .visit
        .map_or((String::new(), String::new()), |(from, until)| {
            (from.to_string(), until.to_string())
        });
    pb::HeadcountMember {
        id: member.id.clone(),
        name: member.name.clone(),
        office: member.office.clone(),
        country: member.country.clone(),
        zone: member.zone.clone(),
        emails: member.emails.clone(),
        warden: member.warden,
        visit_from: from,
        visit_until: until,
    }
}

fn member_from_pb(member: pb::HeadcountMember) -> Result<Member, DecodeError> {
    let date = |field: &'static str, text: &str| {
        text.parse::<jiff::civil::Date>()
            .map_err(|_| DecodeError::Field(field, text.to_owned()))
    };
    let visit = if member.visit_from.is_empty() && member.visit_until.is_empty() {
        None
    } else {
        Some((
            date("visit_from", &member.visit_from)?,
            date("visit_until", &member.visit_until)?,
        ))
    };
    Ok(Member {
        id: member.id,
        name: member.name,
        office: member.office,
        country: member.country,
        zone: member.zone,
        emails: member.emails,
        warden: member.warden,
        visit,
    })
}

fn answer_to_pb(answer: &Answer) -> pb::HeadcountAnswer {
    let (via, by, method) = match &answer.via {
        Via::Link => ("link", String::new(), String::new()),
        Via::Warden { warden, method } => ("warden", warden.clone(), method.clone()),
        Via::Officer { officer, method } => ("officer", officer.clone(), method.clone()),
    };
    pb::HeadcountAnswer {
        reply: match answer.reply {
            Reply::Safe => pb::HeadcountReply::Safe,
            Reply::NeedHelp => pb::HeadcountReply::NeedHelp,
            Reply::NotInArea => pb::HeadcountReply::NotInArea,
        } as i32,
        at: Some(timestamp_to_pb(answer.at)),
        via: via.to_owned(),
        by,
        method,
        text: answer.text.clone(),
        place: answer.place.clone(),
        late: answer.late,
    }
}

fn answer_from_pb(answer: pb::HeadcountAnswer) -> Result<Answer, DecodeError> {
    let reply = match pb::HeadcountReply::try_from(answer.reply) {
        Ok(pb::HeadcountReply::Safe) => Reply::Safe,
        Ok(pb::HeadcountReply::NeedHelp) => Reply::NeedHelp,
        Ok(pb::HeadcountReply::NotInArea) => Reply::NotInArea,
        _ => {
            return Err(DecodeError::UnknownEnum {
                field: "answer.reply",
                value: answer.reply,
            });
        }
    };
    let via = match answer.via.as_str() {
        "link" => Via::Link,
        "warden" => Via::Warden {
            warden: answer.by,
            method: answer.method,
        },
        "officer" => Via::Officer {
            officer: answer.by,
            method: answer.method,
        },
        other => return Err(DecodeError::Field("answer.via", other.to_owned())),
    };
    Ok(Answer {
        reply,
        at: required_time(answer.at.as_ref(), "answer.at")?,
        via,
        text: answer.text,
        place: answer.place,
        late: answer.late,
    })
}

/// A headcount's state record (in the `StateRecord` envelope), reflecting the alerts-topic
/// input at `input_offset`.
pub fn encode_headcount(snapshot: &Snapshot, input_offset: i64) -> Vec<u8> {
    let closed = snapshot.closed.as_ref();
    let state = pb::HeadcountState {
        id: snapshot.id.0.clone(),
        started_by: snapshot.started_by.clone(),
        started_at: Some(timestamp_to_pb(snapshot.started_at)),
        drill: snapshot.drill,
        alert_id: snapshot.alert.map(|id| id.to_string()).unwrap_or_default(),
        scope: snapshot.scope.clone(),
        cycle_ms: snapshot.cycle_ms,
        cycles: snapshot.cycles,
        ticks: snapshot.ticks,
        people: snapshot
            .people
            .iter()
            .map(|person| pb::HeadcountPerson {
                member: Some(member_to_pb(&person.member)),
                answers: person.answers.iter().map(answer_to_pb).collect(),
                earlier: person.earlier,
            })
            .collect(),
        closed: closed.map(|closed| pb::HeadcountClosed {
            by: closed.by.clone(),
            summary: closed.summary.clone(),
        }),
        closed_at: closed.map(|closed| timestamp_to_pb(closed.at)),
        unaccounted_at_close: closed
            .map(|closed| closed.unaccounted.clone())
            .unwrap_or_default(),
        owed: snapshot.owed.iter().map(owed_to_pb).collect(),
        input_offset,
        part: snapshot.part,
        parts: snapshot.parts,
        contacts: snapshot.contacts.iter().map(member_to_pb).collect(),
    };
    pb::StateRecord {
        machine: Some(pb::state_record::Machine::Headcount(state)),
    }
    .encode_to_vec()
}

fn owed_to_pb(owed: &Owed) -> pb::HeadcountOwed {
    match owed {
        Owed::Mail { id, address, mail } => pb::HeadcountOwed {
            id: id.clone(),
            address: address.clone(),
            what: Some(match mail {
                Mail::Ask { person, cycle } => pb::headcount_owed::What::Ask(pb::HeadcountAsk {
                    person: person.clone(),
                    cycle: *cycle,
                }),
                Mail::Wardens {
                    zone,
                    warden,
                    people,
                } => pb::headcount_owed::What::Wardens(pb::HeadcountWardenList {
                    zone: zone.clone(),
                    warden: warden.clone(),
                    people: people.clone(),
                }),
            }),
        },
        Owed::Help { id, alert } => pb::HeadcountOwed {
            id: id.clone(),
            address: String::new(),
            what: Some(pb::headcount_owed::What::Help(alert_to_pb(alert))),
        },
    }
}

fn owed_from_pb(owed: pb::HeadcountOwed) -> Result<Owed, DecodeError> {
    Ok(match owed.what.ok_or(DecodeError::Missing("owed.what"))? {
        pb::headcount_owed::What::Ask(ask) => Owed::Mail {
            id: owed.id,
            address: owed.address,
            mail: Mail::Ask {
                person: ask.person,
                cycle: ask.cycle,
            },
        },
        pb::headcount_owed::What::Wardens(list) => Owed::Mail {
            id: owed.id,
            address: owed.address,
            mail: Mail::Wardens {
                zone: list.zone,
                warden: list.warden,
                people: list.people,
            },
        },
        pb::headcount_owed::What::Help(alert) => {
            let occurred = required_time(alert.occurred_at.as_ref(), "help.occurred_at")?;
            let id = AlertId::for_dedup_key(&alert.office_id, &alert.dedup_key);
            Owed::Help {
                id: owed.id,
                alert: Box::new(alert_from_pb(Some(alert), id, occurred)?),
            }
        }
    })
}

/// A headcount's snapshot and the input offset it reflects.
pub fn decode_headcount(state: pb::HeadcountState) -> Result<(Snapshot, i64), DecodeError> {
    let closed = match state.closed {
        Some(closed) => Some(Closed {
            by: closed.by,
            summary: closed.summary,
            at: required_time(state.closed_at.as_ref(), "closed_at")?,
            unaccounted: state.unaccounted_at_close,
        }),
        None => None,
    };
    let people = state
        .people
        .into_iter()
        .map(|person| {
            Ok(Person {
                member: member_from_pb(person.member.ok_or(DecodeError::Missing("member"))?)?,
                answers: person
                    .answers
                    .into_iter()
                    .map(answer_from_pb)
                    .collect::<Result<_, DecodeError>>()?,
                earlier: person.earlier,
            })
        })
        .collect::<Result<_, DecodeError>>()?;
    let snapshot = Snapshot {
        id: headcount_id(state.id)?,
        started_by: state.started_by,
        started_at: state
            .started_at
            .as_ref()
            .and_then(timestamp_from_pb)
            .ok_or(DecodeError::Missing("started_at"))?,
        drill: state.drill,
        alert: optional_alert_id(&state.alert_id)?,
        scope: state.scope,
        cycle_ms: state.cycle_ms,
        cycles: state.cycles,
        ticks: state.ticks,
        people,
        closed,
        owed: state
            .owed
            .into_iter()
            .map(owed_from_pb)
            .collect::<Result<_, _>>()?,
        part: state.part,
        parts: state.parts.max(1),
        contacts: members_from_pb(state.contacts)?,
    };
    Ok((snapshot, state.input_offset))
}

#[cfg(test)]
mod tests;
