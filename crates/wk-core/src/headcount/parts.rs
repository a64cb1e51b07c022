//! A headcount in parts, so that none of its records outgrows Kafka's.
//!
//! A headcount's state (its frozen roster, the answers kept, what is still owed) is one state
//! record, and Kafka takes records of about 1 MB by default; an organisation-wide headcount of
//! 9,000 people is more than that. So a headcount starts as one or more parts ([`split`]),
//! each its own machine keyed by [`PartKey`], with its own start record and state record, all
//! under the headcount's Kafka key (one partition, one dispatcher). A zone stays in one part
//! when it fits, so its wardens get one list; a zone larger than a part spans several, and its
//! wardens are contacts of each part that holds some of it (one list per part).
//!
//! The bounds below keep a part's state record under about 800 KB whatever is answered: at
//! most [`PART_PEOPLE`] people and [`PART_MEMBER_BYTES`] of roster lines, the latest
//! [`KEPT_ANSWERS`] answers of each person (every answer stays on the alerts topic), and at
//! most [`ANSWER_BUDGET`] bytes of answers' words per part, past which an answer still counts
//! but its words are not kept (a call for help's alert carries them in full).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Answer, HeadcountId, Member, Start, Via};

/// At most this many people in one part.
pub const PART_PEOPLE: usize = 500;
/// At most about this many bytes of roster lines in one part.
pub const PART_MEMBER_BYTES: usize = 150_000;
/// The answers kept in a person's state, the latest ones.
pub const KEPT_ANSWERS: usize = 5;
/// The bytes of answers' words (text, place, method, who) a part keeps.
pub const ANSWER_BUDGET: usize = 250_000;
/// What replaces the words of an answer given once a part's budget is spent.
pub const NOT_KEPT: &str = "[not kept: this headcount's record is full]";

/// The key of one part of a headcount: the machine's key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartKey {
    pub id: HeadcountId,
    pub part: u32,
}

impl fmt::Display for PartKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.part == 0 {
            write!(f, "{}", self.id)
        } else {
            write!(f, "{}/{}", self.id, self.part)
        }
    }
}

/// About how many bytes a roster line takes in a record.
pub fn member_bytes(member: &Member) -> usize {
    let emails: usize = member.emails.iter().map(|address| address.len() + 2).sum();
    member.id.len()
        + member.name.len()
        + member.office.len()
        + member.country.len()
        + member.zone.len()
        + emails
        + 48
}

/// The bytes of an answer's words.
pub fn answer_words(answer: &Answer) -> usize {
    let proxy = match &answer.via {
        Via::Link => 0,
        Via::Warden { warden: by, method }
        | Via::Officer {
            officer: by,
            method,
        } => by.len() + method.len(),
    };
    answer.text.len() + answer.place.len() + proxy
}

/// Splits a headcount's start (every member in `start.members`) into its parts, numbered
/// from 0; one part, in the roster's order, when it fits. Otherwise members keep their
/// roster order within a zone, and zones are in name order.
pub fn split(mut start: Start) -> Vec<Start> {
    start.part = 0;
    start.parts = 1;
    start.contacts = Vec::new();
    // One part keeps the roster's order.
    if start.members.len() <= PART_PEOPLE && total_bytes(&start.members) <= PART_MEMBER_BYTES {
        return vec![start];
    }
    let everyone = std::mem::take(&mut start.members);
    let wardens: Vec<Member> = everyone.iter().filter(|m| m.warden).cloned().collect();
    let mut zones: BTreeMap<String, Vec<Member>> = BTreeMap::new();
    for member in everyone {
        zones.entry(member.zone.clone()).or_default().push(member);
    }
    // Parts as they fill, each with its bytes of roster lines.
    let mut parts: Vec<(Vec<Member>, usize)> = vec![(Vec::new(), 0)];
    let fits = |(people, bytes): &(Vec<Member>, usize), adding: usize, adding_bytes: usize| {
        people.len() + adding <= PART_PEOPLE && bytes + adding_bytes <= PART_MEMBER_BYTES
    };
    for members in zones.into_values() {
        let zone_bytes = total_bytes(&members);
        let whole = fits(&(Vec::new(), 0), members.len(), zone_bytes);
        // A zone that fits in a part starts a new part rather than straddling two.
        if let Some(current) = parts.last()
            && !current.0.is_empty()
            && whole
            && !fits(current, members.len(), zone_bytes)
        {
            parts.push((Vec::new(), 0));
        }
        for member in members {
            let bytes = member_bytes(&member);
            if let Some(current) = parts.last()
                && !current.0.is_empty()
                && !fits(current, 1, bytes)
            {
                parts.push((Vec::new(), 0));
            }
            if let Some((people, total)) = parts.last_mut() {
                people.push(member);
                *total += bytes;
            }
        }
    }
    let count = u32::try_from(parts.len()).unwrap_or(u32::MAX);
    parts
        .into_iter()
        .zip(0..)
        .map(|((members, _), part)| {
            let zones: BTreeSet<&str> = members.iter().map(|m| m.zone.as_str()).collect();
            let ids: BTreeSet<&str> = members.iter().map(|m| m.id.as_str()).collect();
            let contacts = wardens
                .iter()
                .filter(|w| zones.contains(w.zone.as_str()) && !ids.contains(w.id.as_str()))
                .cloned()
                .collect();
            Start {
                part,
                parts: count,
                contacts,
                members,
                ..start.clone()
            }
        })
        .collect()
}

fn total_bytes(members: &[Member]) -> usize {
    members.iter().map(member_bytes).sum()
}
