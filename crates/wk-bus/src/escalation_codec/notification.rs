//! A notification's delivery record in the state record, and back; its id left out where the
//! record can make it again (`compact`).

use wk_core::alert::AlertId;
use wk_core::escalation::{
    DeliveryRecord, DeliveryState, EndedSilence, Notification, Purpose, Recipient, Undeliverable,
};
use wk_proto::v1 as pb;

use super::compact;
use crate::codec::{DecodeError, required_time, timestamp_from_pb, timestamp_to_pb};

fn recipient_to_pb(recipient: &Recipient) -> pb::notification::Recipient {
    match recipient {
        Recipient::Webhook { console } => {
            pb::notification::Recipient::WebhookConsole(console.clone())
        }
        Recipient::Email { address } => pb::notification::Recipient::EmailAddress(address.clone()),
    }
}

/// `record` of incident `incident` of `alert`, its id left out where it can be made again.
pub(super) fn notification_to_pb(
    record: &DeliveryRecord,
    alert: AlertId,
    incident: u32,
) -> pb::Notification {
    let notification = &record.notification;
    let mut encoded = pb::Notification {
        id: compact::kept_id(notification, alert, incident),
        recipient: Some(recipient_to_pb(&notification.recipient)),
        ..pb::Notification::default()
    };
    let purpose = match &notification.purpose {
        Purpose::Step { step, round } => {
            encoded.step = *step as u32;
            encoded.round = *round;
            pb::NotificationPurpose::Step
        }
        Purpose::Failover { from, step, round } => {
            encoded.step = *step as u32;
            encoded.round = *round;
            encoded.failover_from = from.clone();
            pb::NotificationPurpose::Failover
        }
        Purpose::Exhausted => pb::NotificationPurpose::Exhausted,
        Purpose::ExhaustedFailover { from } => {
            encoded.failover_from = from.clone();
            pb::NotificationPurpose::ExhaustedFailover
        }
        Purpose::Updated {
            revision,
            step,
            round,
            changes,
        } => {
            encoded.revision = *revision;
            encoded.step = *step as u32;
            encoded.round = *round;
            encoded.changes = changes.clone();
            pb::NotificationPurpose::Updated
        }
        Purpose::Undeliverable(undeliverable) => {
            let Undeliverable {
                failed_id,
                failed,
                reason,
            } = &**undeliverable;
            encoded.failed_id = failed_id.clone();
            encoded.failed_recipient = Some(match failed {
                Recipient::Webhook { console } => {
                    pb::notification::FailedRecipient::FailedWebhookConsole(console.clone())
                }
                Recipient::Email { address } => {
                    pb::notification::FailedRecipient::FailedEmailAddress(address.clone())
                }
            });
            encoded.reason = reason.clone();
            pb::NotificationPurpose::Undeliverable
        }
        Purpose::AfterSilence { step, round, ended } => {
            encoded.step = *step as u32;
            encoded.round = *round;
            encoded.silence_id = ended.silence.clone();
            encoded.silence_by = ended.by.clone();
            encoded.silence_comment = ended.comment.clone();
            pb::NotificationPurpose::AfterSilence
        }
        Purpose::Informed { resolved, by, at } => {
            encoded.informed_resolved = *resolved;
            encoded.informed_by = by.clone();
            encoded.informed_at = Some(timestamp_to_pb(*at));
            pb::NotificationPurpose::Informed
        }
    };
    encoded.purpose = purpose as i32;
    encoded.status = match record.state {
        DeliveryState::Pending => pb::DeliveryStatus::Pending,
        DeliveryState::Parked { since } => {
            encoded.parked_since = Some(timestamp_to_pb(since));
            pb::DeliveryStatus::Parked
        }
        DeliveryState::Delivered => pb::DeliveryStatus::Delivered,
        DeliveryState::Failed => pb::DeliveryStatus::Failed,
    } as i32;
    encoded
}

/// A notification of incident `incident` of `alert`, its id made again if the record left it
/// out.
pub(super) fn notification_from_pb(
    notification: pb::Notification,
    alert: AlertId,
    incident: u32,
) -> Result<DeliveryRecord, DecodeError> {
    let recipient = match notification
        .recipient
        .ok_or(DecodeError::Missing("notification.recipient"))?
    {
        pb::notification::Recipient::WebhookConsole(console) => Recipient::Webhook { console },
        pb::notification::Recipient::EmailAddress(address) => Recipient::Email { address },
    };
    let (step, round) = (notification.step as usize, notification.round);
    let purpose = match pb::NotificationPurpose::try_from(notification.purpose) {
        Ok(pb::NotificationPurpose::Step) => Purpose::Step { step, round },
        Ok(pb::NotificationPurpose::Failover) => Purpose::Failover {
            from: notification.failover_from,
            step,
            round,
        },
        Ok(pb::NotificationPurpose::Exhausted) => Purpose::Exhausted,
        Ok(pb::NotificationPurpose::ExhaustedFailover) => Purpose::ExhaustedFailover {
            from: notification.failover_from,
        },
        Ok(pb::NotificationPurpose::Updated) => Purpose::Updated {
            revision: notification.revision,
            step,
            round,
            changes: notification.changes,
        },
        Ok(pb::NotificationPurpose::Undeliverable) => {
            Purpose::Undeliverable(Box::new(Undeliverable {
                failed_id: notification.failed_id,
                failed: match notification
                    .failed_recipient
                    .ok_or(DecodeError::Missing("notification.failed_recipient"))?
                {
                    pb::notification::FailedRecipient::FailedWebhookConsole(console) => {
                        Recipient::Webhook { console }
                    }
                    pb::notification::FailedRecipient::FailedEmailAddress(address) => {
                        Recipient::Email { address }
                    }
                },
                reason: notification.reason,
            }))
        }
        Ok(pb::NotificationPurpose::AfterSilence) => Purpose::AfterSilence {
            step,
            round,
            ended: Box::new(EndedSilence {
                silence: notification.silence_id,
                by: notification.silence_by,
                comment: notification.silence_comment,
            }),
        },
        Ok(pb::NotificationPurpose::Informed) => Purpose::Informed {
            resolved: notification.informed_resolved,
            by: notification.informed_by,
            at: notification
                .informed_at
                .as_ref()
                .and_then(timestamp_from_pb)
                .ok_or(DecodeError::Missing("notification.informed_at"))?,
        },
        _ => {
            return Err(DecodeError::UnknownEnum {
                field: "notification.purpose",
                value: notification.purpose,
            });
        }
    };
    let state = match pb::DeliveryStatus::try_from(notification.status) {
        Ok(pb::DeliveryStatus::Pending) => DeliveryState::Pending,
        Ok(pb::DeliveryStatus::Parked) => DeliveryState::Parked {
            since: required_time(
                notification.parked_since.as_ref(),
                "notification.parked_since",
            )?,
        },
        Ok(pb::DeliveryStatus::Delivered) => DeliveryState::Delivered,
        Ok(pb::DeliveryStatus::Failed) => DeliveryState::Failed,
        _ => {
            return Err(DecodeError::UnknownEnum {
                field: "notification.status",
                value: notification.status,
            });
        }
    };
    let id = compact::id_of(notification.id, alert, incident, &purpose, &recipient)?;
    Ok(DeliveryRecord {
        notification: Notification {
            id: id.into(),
            recipient,
            purpose,
        },
        state,
    })
}
