//! Who a step's targets reach now: consoles (webhook and their emails), people, whoever is on
//! call on a schedule, the alert's regional security officer.

use super::{Escalation, Event, Recipient};
use crate::policy::{Directory, TargetRef};
use crate::time::Timestamp;

impl Escalation {
    /// Concrete recipients of `targets` at `now`, each once, in target order; the nobody-to-
    /// notify targets are logged.
    pub(super) fn reach(
        &mut self,
        targets: &[TargetRef],
        directory: &Directory,
        now: Timestamp,
    ) -> Vec<Recipient> {
        let (recipients, nobody) = self.recipients_of(targets, directory, now);
        for target in nobody {
            self.log(now, Event::NobodyToNotify { target });
        }
        recipients
    }

    /// Concrete recipients of `targets` at `now`, each once, in target order, and the
    /// targets that resolved to nobody.
    pub(super) fn recipients_of(
        &self,
        targets: &[TargetRef],
        directory: &Directory,
        now: Timestamp,
    ) -> (Vec<Recipient>, Vec<String>) {
        let mut recipients: Vec<Recipient> = Vec::new();
        let mut push = |recipient: Recipient| {
            if !recipients.contains(&recipient) {
                recipients.push(recipient);
            }
        };
        let mut nobody = Vec::new();
        for target in targets {
            let person_on_call = |schedule: &str| {
                directory
                    .schedules
                    .get(schedule)
                    .and_then(|schedule| schedule.on_call(now))
                    .and_then(|person| directory.people.get(person))
                    .map(|person| person.email.clone())
            };
            match target {
                TargetRef::Console(name) => match directory.consoles.get(name) {
                    Some(console) => {
                        push(Recipient::Webhook {
                            console: name.clone(),
                        });
                        for address in &console.emails {
                            push(Recipient::Email {
                                address: address.clone(),
                            });
                        }
                    }
                    None => nobody.push(format!("console:{name}")),
                },
                TargetRef::Person(id) => match directory.people.get(id) {
                    Some(person) => push(Recipient::Email {
                        address: person.email.clone(),
                    }),
                    None => nobody.push(format!("person:{id}")),
                },
                TargetRef::Schedule(id) => match person_on_call(id) {
                    Some(address) => push(Recipient::Email { address }),
                    None => nobody.push(format!("schedule:{id}")),
                },
                TargetRef::Email(address) => push(Recipient::Email {
                    address: address.clone(),
                }),
                TargetRef::RegionalSecurityOfficer => {
                    let on_call = directory
                        .region_of(&self.state.alert.country)
                        .and_then(|region| person_on_call(&region.security_officer_schedule));
                    match on_call {
                        Some(address) => push(Recipient::Email { address }),
                        None => nobody.push("regional-security-officer".to_owned()),
                    }
                }
            }
        }
        (recipients, nobody)
    }
}
