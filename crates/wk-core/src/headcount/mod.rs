//! A staff headcount: "are you safe?" after a critical incident. The third [`Machine`] kind,
//! keyed by the headcount's id.
//!
//! A duty officer starts one over a scope of the roster, which is frozen for it there and
//! then (`roster::Roster::select`). Everyone with an address is asked at once; whoever has
//! not answered is asked again every cycle, for as many cycles as the headcount has; when the
//! second cycle has passed, each zone's wardens get the list of the people still unaccounted
//! for in their zone, to reach them and answer on their behalf. Every answer is kept; the
//! latest counts. "I need help" raises at once a critical alert, which no silence holds
//! back (`silence::exemption`), even in a drill and even after closing. An officer closes the
//! headcount with a summary; the people unaccounted for then are kept with it, and answers
//! after it are kept too, marked late.
//!
//! Everything it decides to send is owed in its snapshot until the driver reports it done
//! ([`Headcount::handle_done`]), under ids that are pure functions of the headcount, the
//! person, the cycle and the address: a dispatcher killed mid-cycle sends again only what was
//! not done, and under the same ids (the SMTP Message-ID, the alert id), so nobody is asked
//! twice for one cycle.

mod help;
pub mod links;
pub mod parts;
#[cfg(test)]
mod parts_tests;
pub mod roster;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use sha2::Digest as _;

pub use self::help::help_alert;
pub use self::parts::{PartKey, split};
pub use self::roster::{Member, Roster, RosterError, Scope};
use crate::alert::{Alert, AlertId};
use crate::machine::{Kind, Machine};
use crate::time::Timestamp;

/// The typed key of a headcount.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeadcountId(pub String);

impl fmt::Display for HeadcountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a person answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reply {
    Safe,
    NeedHelp,
    NotInArea,
}

/// How an answer was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// The person's own signed link.
    Link,
    /// A warden, on the person's behalf ("reached by phone").
    Warden { warden: String, method: String },
    /// A duty officer, on the person's behalf.
    Officer { officer: String, method: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub reply: Reply,
    pub at: Timestamp,
    pub via: Via,
    /// What a person who needs help said, and where they are.
    pub text: String,
    pub place: String,
    /// Given after the headcount was closed.
    pub late: bool,
}

/// One person of a headcount: the frozen roster line and the answers kept (the latest
/// [`parts::KEPT_ANSWERS`]), oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub member: Member,
    pub answers: Vec<Answer>,
    /// Answers given before those kept.
    pub earlier: u32,
}

impl Person {
    pub fn latest(&self) -> Option<&Answer> {
        self.answers.last()
    }

    /// Where the person stands for the counts.
    pub fn standing(&self) -> Standing {
        match self.latest().map(|answer| answer.reply) {
            Some(Reply::Safe) => Standing::Safe,
            Some(Reply::NeedHelp) => Standing::NeedHelp,
            Some(Reply::NotInArea) => Standing::NotInArea,
            None if self.member.emails.is_empty() => Standing::Unreachable,
            None => Standing::Unaccounted,
        }
    }
}

/// Where a person stands: the columns of the console's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    Safe,
    NeedHelp,
    NotInArea,
    /// Asked, not answered yet.
    Unaccounted,
    /// No usable address, and no answer given for them.
    Unreachable,
}

/// Counts of people by where they stand.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts(pub BTreeMap<Standing, u32>);

impl Counts {
    pub fn of(&self, standing: Standing) -> u32 {
        self.0.get(&standing).copied().unwrap_or(0)
    }

    fn add(&mut self, standing: Standing) {
        *self.0.entry(standing).or_default() += 1;
    }
}

/// How a headcount was started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Start {
    pub id: HeadcountId,
    pub started_by: String,
    /// A drill asks and counts the same; its mails and any help alert say it is a drill.
    pub drill: bool,
    /// The alert it was started from, if any.
    pub alert: Option<AlertId>,
    /// The scope as the officer gave it, for the console and the mails.
    pub scope: String,
    /// How often non-responders are asked again.
    pub cycle_ms: i64,
    /// How many times a non-responder is asked in all (the first time included).
    pub cycles: u32,
    /// The roster, frozen for this headcount (this part's people).
    pub members: Vec<Member>,
    /// This part, of how many ([`parts::split`]); 0 of 1 for a headcount in one part.
    pub part: u32,
    pub parts: u32,
    /// Wardens of this part's zones who are people of another part.
    pub contacts: Vec<Member>,
}

/// A closed headcount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    pub by: String,
    pub at: Timestamp,
    pub summary: String,
    /// The people unaccounted for (or unreachable) when it closed.
    pub unaccounted: Vec<String>,
}

/// A mail to send: a question to a person, or a warden's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mail {
    /// "Are you safe?" (`cycle` 0 is the first time; later ones are reminders.)
    Ask { person: String, cycle: u32 },
    /// The people still unaccounted for in a warden's zone.
    Wardens {
        zone: String,
        warden: String,
        people: Vec<String>,
    },
}

/// Something decided and owed until the driver reports it done.
#[derive(Clone, Debug, PartialEq)]
pub enum Owed {
    Mail {
        /// Deterministic: the SMTP Message-ID.
        id: String,
        address: String,
        mail: Mail,
    },
    /// The alert of a person asking for help, to publish on the alerts topic.
    Help { id: String, alert: Box<Alert> },
}

impl Owed {
    pub fn id(&self) -> &str {
        match self {
            Owed::Mail { id, .. } | Owed::Help { id, .. } => id,
        }
    }
}

/// What the driver carries out.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Do(Owed),
}

/// Everything a headcount persists.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub id: HeadcountId,
    pub started_by: String,
    pub started_at: Timestamp,
    pub drill: bool,
    pub alert: Option<AlertId>,
    pub scope: String,
    pub cycle_ms: i64,
    pub cycles: u32,
    /// Cycles whose end has been handled (0 until the first reminder is due).
    pub ticks: u32,
    pub people: Vec<Person>,
    pub closed: Option<Closed>,
    pub owed: Vec<Owed>,
    pub part: u32,
    pub parts: u32,
    pub contacts: Vec<Member>,
}

impl Snapshot {
    /// This part's key.
    pub fn key(&self) -> PartKey {
        PartKey {
            id: self.id.clone(),
            part: self.part,
        }
    }

    /// A person of this part, or a warden who is a contact of it.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.people
            .iter()
            .map(|person| &person.member)
            .chain(&self.contacts)
            .find(|member| member.id == id)
    }

    /// Whether `person` is one of this part's people.
    pub fn has(&self, person: &str) -> bool {
        self.people.iter().any(|entry| entry.member.id == person)
    }
}

/// The cycle after which each zone's wardens get their list.
pub const WARDEN_CYCLE: u32 = 2;

/// Default reminder cycle.
pub const DEFAULT_CYCLE_MS: i64 = 15 * 60 * 1000;

#[derive(Clone, Debug, PartialEq)]
pub struct Headcount {
    state: Snapshot,
    /// Owed items not yet handed to the driver since start or restore.
    pending: std::collections::VecDeque<Owed>,
}

impl Headcount {
    /// Starts a headcount at `now`: everyone with an address is asked.
    pub fn start(start: Start, now: Timestamp) -> Headcount {
        let people = start
            .members
            .into_iter()
            .map(|member| Person {
                member,
                answers: Vec::new(),
                earlier: 0,
            })
            .collect();
        let mut headcount = Headcount {
            state: Snapshot {
                id: start.id,
                started_by: start.started_by,
                started_at: now,
                drill: start.drill,
                alert: start.alert,
                scope: start.scope,
                cycle_ms: start.cycle_ms.max(60_000),
                cycles: start.cycles.max(1),
                ticks: 0,
                people,
                closed: None,
                owed: Vec::new(),
                part: start.part,
                parts: start.parts.max(1),
                contacts: start.contacts,
            },
            pending: std::collections::VecDeque::new(),
        };
        headcount.ask_unanswered(0);
        headcount
    }

    pub fn snapshot(&self) -> Snapshot {
        self.state.clone()
    }

    pub fn state(&self) -> &Snapshot {
        &self.state
    }

    /// Back from its snapshot: everything still owed is handed out again, same ids.
    pub fn restore(snapshot: Snapshot) -> Headcount {
        let pending = snapshot.owed.iter().cloned().collect();
        Headcount {
            state: snapshot,
            pending,
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.pending.pop_front().map(Action::Do)
    }

    /// The end of the next cycle to handle, while there is one.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        (self.state.closed.is_none() && self.state.ticks < self.last_tick()).then(|| {
            let ticks = i64::from(self.state.ticks + 1);
            self.state
                .started_at
                .saturating_add_millis(self.state.cycle_ms.saturating_mul(ticks))
        })
    }

    /// The last cycle end that does anything: the last reminder, or the wardens' lists.
    fn last_tick(&self) -> u32 {
        (self.state.cycles - 1).max(WARDEN_CYCLE)
    }

    /// Handles every cycle end due at `now` (a late call handles each in turn, never skips).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        while let Some(due) = self.poll_timeout()
            && due <= now
        {
            self.state.ticks += 1;
            let cycle = self.state.ticks;
            if cycle < self.state.cycles {
                self.ask_unanswered(cycle);
            }
            if cycle == WARDEN_CYCLE {
                self.tell_wardens();
            }
        }
    }

    /// An answer for `person` (unknown people are ignored: `false`). A later answer replaces
    /// the earlier one for the counts; all are kept. "I need help" raises the alert at once.
    pub fn handle_answer(&mut self, person: &str, mut answer: Answer) -> bool {
        let late = self.state.closed.is_some();
        let drill = self.state.drill;
        let id = self.state.id.clone();
        let Some(index) = self
            .state
            .people
            .iter()
            .position(|candidate| candidate.member.id == person)
        else {
            return false;
        };
        answer.late = late;
        // A question not sent yet is not sent now: the person has answered.
        let asks_them = |owed: &Owed| matches!(owed, Owed::Mail { mail: Mail::Ask { person: asked, .. }, .. } if asked == person);
        self.state.owed.retain(|owed| !asks_them(owed));
        self.pending.retain(|owed| !asks_them(owed));
        // The alert carries the words in full; the state keeps them while its budget lasts.
        let help = (answer.reply == Reply::NeedHelp)
            .then(|| help_alert(&id, drill, &self.state.people[index].member, &answer));
        let words: usize = self
            .state
            .people
            .iter()
            .flat_map(|person| &person.answers)
            .map(parts::answer_words)
            .sum();
        if words + parts::answer_words(&answer) > parts::ANSWER_BUDGET {
            answer.text = parts::NOT_KEPT.to_owned();
            answer.place.clear();
            if let Via::Warden { method, .. } | Via::Officer { method, .. } = &mut answer.via {
                method.clear();
            }
        }
        let entry = &mut self.state.people[index];
        entry.answers.push(answer);
        if entry.answers.len() > parts::KEPT_ANSWERS {
            entry.answers.remove(0);
            entry.earlier += 1;
        }
        let given = entry.earlier as usize + entry.answers.len();
        if let Some(alert) = help {
            let owed = Owed::Help {
                id: format!("hc.{id}.{person}.help.{given}"),
                alert: Box::new(alert),
            };
            self.owe(owed);
        }
        true
    }

    /// Closes the headcount; `false` if it already was.
    pub fn handle_close(&mut self, by: String, summary: String, now: Timestamp) -> bool {
        if self.state.closed.is_some() {
            return false;
        }
        let unaccounted = self
            .state
            .people
            .iter()
            .filter(|person| {
                matches!(
                    person.standing(),
                    Standing::Unaccounted | Standing::Unreachable
                )
            })
            .map(|person| person.member.id.clone())
            .collect();
        self.state.closed = Some(Closed {
            by,
            at: now,
            summary,
            unaccounted,
        });
        true
    }

    /// The driver did what was owed under `id` (a mail handed to the SMTP server, the alert
    /// acknowledged by the broker).
    pub fn handle_done(&mut self, id: &str) {
        self.state.owed.retain(|owed| owed.id() != id);
    }

    /// The counts over everyone, and by office and by zone.
    pub fn counts(&self) -> AllCounts {
        counts_of(&self.state.people)
    }

    fn owe(&mut self, owed: Owed) {
        if self.state.owed.iter().any(|known| known.id() == owed.id()) {
            return;
        }
        self.state.owed.push(owed.clone());
        self.pending.push_back(owed);
    }

    /// Asks (again) everyone with an address who has not answered.
    fn ask_unanswered(&mut self, cycle: u32) {
        let id = self.state.id.clone();
        let asks: Vec<Owed> = self
            .state
            .people
            .iter()
            .filter(|person| person.answers.is_empty())
            .flat_map(|person| {
                person.member.emails.iter().map(|address| Owed::Mail {
                    id: format!(
                        "hc.{id}.{}.c{cycle}.{}",
                        person.member.id,
                        address_key(address)
                    ),
                    address: address.clone(),
                    mail: Mail::Ask {
                        person: person.member.id.clone(),
                        cycle,
                    },
                })
            })
            .collect();
        for owed in asks {
            self.owe(owed);
        }
    }

    /// Each zone's wardens get the people of their zone still unaccounted for (none: no mail).
    fn tell_wardens(&mut self) {
        let id = self.state.id.clone();
        let mut missing: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for person in &self.state.people {
            if matches!(
                person.standing(),
                Standing::Unaccounted | Standing::Unreachable
            ) {
                missing
                    .entry(person.member.zone.as_str())
                    .or_default()
                    .push(person.member.id.clone());
            }
        }
        // Part 0 keeps the ids a headcount in one part has always had.
        let prefix = match self.state.part {
            0 => format!("hc.{id}"),
            part => format!("hc.{id}.p{part}"),
        };
        let mut lists = Vec::new();
        let wardens = self
            .state
            .people
            .iter()
            .map(|person| &person.member)
            .chain(&self.state.contacts)
            .filter(|member| member.warden);
        for warden in wardens {
            let Some(people) = missing.get(warden.zone.as_str()) else {
                continue;
            };
            for address in &warden.emails {
                lists.push(Owed::Mail {
                    id: format!(
                        "{prefix}.wardens.{}.{}.{}",
                        warden.zone,
                        warden.id,
                        address_key(address)
                    ),
                    address: address.clone(),
                    mail: Mail::Wardens {
                        zone: warden.zone.clone(),
                        warden: warden.id.clone(),
                        people: people.clone(),
                    },
                });
            }
        }
        for owed in lists {
            self.owe(owed);
        }
    }
}

/// The counts over `people`, and by office and by zone (a headcount's parts are counted
/// over all their people together).
pub type AllCounts = (Counts, BTreeMap<String, Counts>, BTreeMap<String, Counts>);

pub fn counts_of<'a>(people: impl IntoIterator<Item = &'a Person>) -> AllCounts {
    let mut all = Counts::default();
    let mut offices: BTreeMap<String, Counts> = BTreeMap::new();
    let mut zones: BTreeMap<String, Counts> = BTreeMap::new();
    for person in people {
        let standing = person.standing();
        all.add(standing);
        offices
            .entry(person.member.office.clone())
            .or_default()
            .add(standing);
        zones
            .entry(person.member.zone.clone())
            .or_default()
            .add(standing);
    }
    (all, offices, zones)
}

/// An address in an id: a hash prefix, never the address itself.
fn address_key(address: &str) -> String {
    let digest = sha2::Sha256::digest(address.to_ascii_lowercase().as_bytes());
    hex::encode(&digest[..6])
}

impl Machine for Headcount {
    const KIND: Kind = Kind::Headcount;
    type Key = PartKey;
    type Snapshot = Snapshot;
    type Action = Action;
    type Context = ();

    fn key(&self) -> PartKey {
        self.state.key()
    }
    fn poll_action(&mut self) -> Option<Action> {
        Headcount::poll_action(self)
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        Headcount::poll_timeout(self)
    }
    fn handle_timeout(&mut self, _context: &(), now: Timestamp) {
        Headcount::handle_timeout(self, now);
    }
    fn snapshot(&self) -> Snapshot {
        Headcount::snapshot(self)
    }
    fn restore(snapshot: Snapshot) -> Headcount {
        Headcount::restore(snapshot)
    }
}
