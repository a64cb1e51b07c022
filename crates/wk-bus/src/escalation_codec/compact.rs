//! What a state record leaves out of an escalation, and how it is put back.
//!
//! A notification's id is made from the alert, the incident, its purpose and its recipient
//! (`wk_core::escalation::derived_notification_id`), all of which the record holds, and the
//! timeline names notifications the delivery records already hold. So the record leaves out
//! every id it can make again (an id is left out only when making it again gives it back
//! exactly), and its timeline names a notification by its place in `notifications`. A
//! timeline entry's time is kept as milliseconds after the state's `first_seen` (a varint of
//! a few bytes where a timestamp takes a dozen).
//!
//! The dispatcher's decoding puts them back ([`super::decode_escalation`]); the api keeps the
//! record as it came and gives its clients the ids filled in ([`expand`]), so GetAlert,
//! ListAlerts, WatchAlerts and the console show what they always did.

use wk_core::alert::AlertId;
use wk_core::escalation::{Notification, Purpose, Recipient, derived_notification_id};
use wk_proto::v1 as pb;
use wk_proto::v1::timeline_entry as tl;

use wk_core::Timestamp;

use crate::codec::{DecodeError, required_time, timestamp_to_pb};

/// An entry's time as the record keeps it.
pub(super) fn since(first_seen: Timestamp, at: Timestamp) -> i64 {
    at.as_unix_millis()
        .saturating_sub(first_seen.as_unix_millis())
}

/// When `entry` happened, in a state first seen at `first_seen`.
pub fn entry_at(
    entry: &pb::TimelineEntry,
    first_seen: Timestamp,
) -> Result<Timestamp, DecodeError> {
    match (&entry.at, entry.since_first_seen_ms) {
        (Some(at), _) => required_time(Some(at), "timeline.at"),
        (None, Some(since)) => first_seen
            .checked_add_millis(since)
            .ok_or_else(|| DecodeError::Field("timeline.since_first_seen_ms", since.to_string())),
        (None, None) => Err(DecodeError::Missing("timeline.at")),
    }
}

/// The id as the record keeps it: empty when it can be made again.
pub(super) fn kept_id(notification: &Notification, alert: AlertId, incident: u32) -> String {
    let derived = derived_notification_id(
        alert,
        incident,
        &notification.purpose,
        &notification.recipient,
    );
    if derived.as_deref() == Some(&*notification.id) {
        String::new()
    } else {
        notification.id.to_string()
    }
}

/// The id of a notification whose record kept `kept`.
pub(super) fn id_of(
    kept: String,
    alert: AlertId,
    incident: u32,
    purpose: &Purpose,
    recipient: &Recipient,
) -> Result<String, DecodeError> {
    if !kept.is_empty() {
        return Ok(kept);
    }
    derived_notification_id(alert, incident, purpose, recipient)
        .ok_or(DecodeError::Missing("notification.id"))
}

/// Fills in what the record left out: every notification's id, the timeline's `notified`
/// and `delivered` by id rather than by place, and each entry's `at`. A state already whole
/// is left as it is.
pub fn expand(state: &mut pb::EscalationState) -> Result<(), DecodeError> {
    let by_place = |entry: &pb::TimelineEntry| {
        matches!(
            entry.event,
            Some(tl::Event::NotifiedIndex(_) | tl::Event::DeliveredIndex(_))
        )
    };
    if state.notifications.iter().all(|n| !n.id.is_empty())
        && !state
            .timeline
            .iter()
            .any(|entry| by_place(entry) || entry.at.is_none())
    {
        return Ok(());
    }
    let first_seen = required_time(state.first_seen.as_ref(), "first_seen")?;
    let alert: AlertId = state.alert_id.parse()?;
    for notification in &mut state.notifications {
        if notification.id.is_empty() {
            let record = super::notification_from_pb(notification.clone(), alert, state.incident)?;
            notification.id = record.notification.id.to_string();
        }
    }
    let notifications = &state.notifications;
    let id_at = |index: u32, field: &'static str| {
        notifications
            .get(index as usize)
            .map(|notification| notification.id.clone())
            .ok_or_else(|| DecodeError::Field(field, index.to_string()))
    };
    for entry in &mut state.timeline {
        entry.at = Some(timestamp_to_pb(entry_at(entry, first_seen)?));
        entry.since_first_seen_ms = None;
        match entry.event {
            Some(tl::Event::NotifiedIndex(index)) => {
                entry.event = Some(tl::Event::Notified(id_at(
                    index,
                    "timeline.notified_index",
                )?));
            }
            Some(tl::Event::DeliveredIndex(index)) => {
                entry.event = Some(tl::Event::Delivered(id_at(
                    index,
                    "timeline.delivered_index",
                )?));
            }
            _ => {}
        }
    }
    Ok(())
}
