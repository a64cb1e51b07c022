//! Driving headcounts: their facts (started, answered, closed) applied to their machine, and
//! what the machine owes handed out: mails to the executor, calls for help to the alerts
//! topic (published until acknowledged, like a watch's silence alert).

use tracing::{info, warn};
use wk_bus::headcount_codec::HeadcountFact;
use wk_bus::trace::TraceHeaders;
use wk_core::Timestamp;
use wk_core::headcount::{Action, Headcount, HeadcountId, Mail, Owed};

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
    id: &HeadcountId,
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
                let member = |person: &str| {
                    state
                        .people
                        .iter()
                        .find(|candidate| candidate.member.id == person)
                        .map(|person| &person.member)
                };
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
                    headcount: id.clone(),
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
    /// A headcount fact, for its machine (made by its `Started`); the key if it changed.
    pub(crate) fn apply_headcount(
        &mut self,
        partition: i32,
        offset: i64,
        id: HeadcountId,
        fact: HeadcountFact,
        at: Timestamp,
    ) -> Option<Key> {
        let key = (partition, Subject::Headcount(id.clone()));
        match (self.store.get_mut(&key), fact) {
            (Some(tracked), _) if offset <= tracked.input_offset => None,
            (Some(tracked), fact) => {
                let Held::Headcount(headcount) = &mut tracked.machine else {
                    return None;
                };
                let changed = match fact {
                    HeadcountFact::Started(_) => false,
                    HeadcountFact::Answered { person, answer } => {
                        headcount.handle_answer(&person, answer)
                    }
                    HeadcountFact::Closed { by, summary } => {
                        info!(headcount = %id, "headcount closed");
                        headcount.handle_close(by, summary, at)
                    }
                };
                tracked.input_offset = offset;
                changed.then_some(key)
            }
            (None, HeadcountFact::Started(start)) => {
                info!(headcount = %id, people = start.members.len(), "headcount started");
                let headcount = Held::Headcount(Box::new(Headcount::start(*start, at)));
                self.store.insert(
                    key.clone(),
                    Tracked::new(headcount, offset, TraceHeaders::default()),
                );
                Some(key)
            }
            (None, _) => {
                warn!(headcount = %id, "fact about an unknown headcount ignored");
                None
            }
        }
    }
}
