//! What a field office may not see of its own alert's state: the addresses of the duty officers
//! and console mailboxes it was sent to, and the address of an officer who acted from an email
//! link. They are replaced by the recipient's stable key (`email-<hash prefix>`, as in the
//! notification ids) and by "operations centre".

use wk_core::escalation::Recipient;
use wk_proto::v1 as pb;
use wk_proto::v1::notification::{FailedRecipient, Recipient as PbRecipient};
use wk_proto::v1::timeline_entry::Event;

const CENTRE: &str = "operations centre";

fn hide_address(address: &mut String) {
    *address = Recipient::Email {
        address: std::mem::take(address),
    }
    .key();
}

fn hide_actor(by: &mut pb::Responder) {
    if by.actor.contains('@') {
        by.actor = CENTRE.to_owned();
    }
}

/// Removes every address from `state`, in place.
pub fn for_office(state: &mut pb::EscalationState) {
    for notification in &mut state.notifications {
        if let Some(PbRecipient::EmailAddress(address)) = &mut notification.recipient {
            hide_address(address);
        }
        if let Some(FailedRecipient::FailedEmailAddress(address)) =
            &mut notification.failed_recipient
        {
            hide_address(address);
        }
    }
    if let Some(by) = &mut state.status_by {
        hide_actor(by);
    }
    for entry in &mut state.timeline {
        match &mut entry.event {
            Some(Event::Acknowledged(by) | Event::Resolved(by)) => hide_actor(by),
            Some(Event::Note(note)) => {
                if let Some(by) = &mut note.by {
                    hide_actor(by);
                }
            }
            Some(Event::ActionRefused(refused)) => {
                if let Some(by) = &mut refused.by {
                    hide_actor(by);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_address_is_left() {
        let by = pb::Responder {
            actor: "duty.manila@example.org".into(),
            channel: "email-link".into(),
        };
        let mut state = pb::EscalationState {
            notifications: vec![pb::Notification {
                id: "a.i1.r0.s0.email-0123".into(),
                recipient: Some(PbRecipient::EmailAddress("duty.manila@example.org".into())),
                failed_recipient: Some(FailedRecipient::FailedEmailAddress(
                    "rso@example.org".into(),
                )),
                ..pb::Notification::default()
            }],
            status_by: Some(by.clone()),
            timeline: vec![pb::TimelineEntry {
                since_first_seen_ms: None,
                at: None,
                event: Some(Event::Acknowledged(by)),
            }],
            ..pb::EscalationState::default()
        };
        for_office(&mut state);
        let text = format!("{state:?}");
        assert!(!text.contains('@'), "{text}");
        assert!(text.contains("email-"), "{text}");
        assert!(text.contains(CENTRE), "{text}");
    }
}
