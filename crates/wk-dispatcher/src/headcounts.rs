//! Driving headcounts: their facts (started, answered, closed) applied to their machine, and
//! what the machine owes handed out: mails to the executor, calls for help to the alerts
//! topic (published until acknowledged, like a watch's silence alert).

use tracing::{info, warn};
use wk_bus::headcount_codec::HeadcountFact;
use wk_bus::trace::TraceHeaders;
use wk_core::Timestamp;
use wk_core::headcount::{Action, Headcount, HeadcountId, Mail, Owed, PartKey};

use crate::act::Publishing;
use crate::dispatcher::Dispatcher;
use crate::executor::{MailJob, MailSpec};
use crate::held::{Held, Subject};
use crate::io::{Changelog, Clock, Input, Notifier};
use crate::pipeline::Key;
use crate::store::Tracked;

/// What `headcount` decided, as mail jobs and publications.
pub(crate) fn actions(
    partition: i32,
    part: &PartKey,
    headcount: &mut Headcount,
) -> (Vec<MailJob>, Vec<Publishing>) {
    let mut mails = Vec::new();
    let mut helps = Vec::new();
    while let Some(Action::Do(owed)) = headcount.poll_action() {
        match owed {
            Owed::Help { id, alert } => helps.push(Publishing::Help { id, alert }),
            Owed::Mail {
                id: mail_id,
                address,
                mail,
            } => {
                let state = headcount.state();
                let member = |person: &str| state.member(person);
                let spec = match mail {
                    Mail::Ask { person, cycle } => MailSpec::Ask {
                        name: member(&person).map(|m| m.name.clone()).unwrap_or_default(),
                        person,
                        cycle,
                    },
                    Mail::Wardens {
                        zone,
                        warden,
                        people,
                    } => MailSpec::Wardens {
                        warden_name: member(&warden).map(|m| m.name.clone()).unwrap_or_default(),
                        warden,
                        zone,
                        people: people
                            .iter()
                            .filter_map(|person| member(person))
                            .map(|m| (m.id.clone(), m.name.clone(), m.office.clone()))
                            .collect(),
                    },
                };
                mails.push(MailJob {
                    partition,
                    headcount: part.clone(),
                    id: mail_id,
                    address,
                    scope: state.scope.clone(),
                    drill: state.drill,
                    spec,
                });
            }
        }
    }
    (mails, helps)
}

impl<I: Input, C: Changelog, N: Notifier, K: Clock> Dispatcher<I, C, N, K> {
    /// A headcount fact, for the machines of its parts (each made by its `Started`): an
    /// answer for the part holding the person, a close for every part. The keys that changed.
    pub(crate) fn apply_headcount(
        &mut self,
        partition: i32,
        offset: i64,
        id: HeadcountId,
        fact: HeadcountFact,
        at: Timestamp,
    ) -> Vec<Key> {
        let key = |part: u32| {
            (
                partition,
                Subject::Headcount(PartKey {
                    id: id.clone(),
                    part,
                }),
            )
        };
        if let HeadcountFact::Started(start) = fact {
            let key = key(start.part);
            if self.store.get_mut(&key).is_some() {
                return Vec::new();
            }
            info!(headcount = %id, part = start.part, people = start.members.len(), "headcount started");
            let headcount = Held::Headcount(Box::new(Headcount::start(*start, at)));
            self.store.insert(
                key.clone(),
                Tracked::new(headcount, offset, TraceHeaders::default()),
            );
            return vec![key];
        }
        let parts = match self.store.get_mut(&key(0)).map(|tracked| &tracked.machine) {
            Some(Held::Headcount(first)) => first.state().parts,
            _ => {
                warn!(headcount = %id, "fact about an unknown headcount ignored");
                return Vec::new();
            }
        };
        let mut changed = Vec::new();
        for part in 0..parts {
            let key = key(part);
            let Some(tracked) = self.store.get_mut(&key) else {
                continue;
            };
            let Held::Headcount(headcount) = &mut tracked.machine else {
                continue;
            };
            if offset <= tracked.input_offset {
                continue;
            }
            let moved = match &fact {
                HeadcountFact::Started(_) => false,
                HeadcountFact::Answered { person, answer } => {
                    headcount.state().has(person) && headcount.handle_answer(person, answer.clone())
                }
                HeadcountFact::Closed { by, summary } => {
                    headcount.handle_close(by.clone(), summary.clone(), at)
                }
            };
            if moved {
                tracked.input_offset = offset;
                changed.push(key);
            }
        }
        if matches!(fact, HeadcountFact::Closed { .. }) && !changed.is_empty() {
            info!(headcount = %id, "headcount closed");
        }
        changed
    }
}
