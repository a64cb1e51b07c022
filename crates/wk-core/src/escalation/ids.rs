//! Notification ids, made in one place. An id is a prefix naming what the notification is
//! about, then the recipient's key:
//!
//! `<alert>.i<incident>[.u<revision>].r<round>.(s<step>|exhausted)[.failover][.undeliverable.…].<recipient>`
//! and, for the office's focal points, `<alert>.i<incident>.(acknowledged|resolved).<recipient>`
//!
//! Deterministic: a re-read record or a restored escalation decides the same ids, so
//! receivers (and the executor) drop repeats by id; the incident keeps a re-raised alert's
//! notifications apart from its earlier incident's.

use crate::alert::AlertId;

use super::types::{Purpose, Recipient};

/// The prefix of a step's notifications.
pub(crate) fn step(alert: AlertId, incident: u32, round: u32, step: usize) -> String {
    format!("{alert}.i{incident}.r{round}.s{step}")
}

/// The prefix of an update's notifications to the current step's targets.
pub(crate) fn update(
    alert: AlertId,
    incident: u32,
    revision: u32,
    round: u32,
    step: usize,
) -> String {
    format!("{alert}.i{incident}.u{revision}.r{round}.s{step}")
}

/// The prefix of the "chain exhausted" notices of `round`.
pub(crate) fn exhausted(alert: AlertId, incident: u32, round: u32) -> String {
    format!("{alert}.i{incident}.r{round}.exhausted")
}

/// The prefix of the notices to the office's focal points that the incident was
/// acknowledged or resolved.
pub(crate) fn informed(alert: AlertId, incident: u32, resolved: bool) -> String {
    let what = if resolved { "resolved" } else { "acknowledged" };
    format!("{alert}.i{incident}.{what}")
}

/// The prefix of the notices that notification `failed` could not be delivered.
pub(crate) fn undeliverable(failed: &str) -> String {
    format!("{failed}.undeliverable")
}

/// The prefix of the failover of a notification with `purpose`, if it is one that fails over
/// (a step notification or the exhaustion notice of `round`).
pub(crate) fn failover(
    alert: AlertId,
    incident: u32,
    round: u32,
    purpose: &Purpose,
) -> Option<String> {
    match purpose {
        Purpose::Step { step: at, round }
        | Purpose::AfterSilence {
            step: at, round, ..
        } => Some(format!("{}.failover", step(alert, incident, *round, *at))),
        Purpose::Exhausted => Some(format!("{}.failover", exhausted(alert, incident, round))),
        _ => None,
    }
}

/// The id of the notification of `prefix` to `recipient`.
pub(crate) fn id(prefix: &str, recipient: &Recipient) -> String {
    format!("{prefix}.{}", recipient.key())
}

/// The id a notification with `purpose` to `recipient` was given in incident `incident` of
/// `alert`, where its purpose says enough to make it again: every purpose but the exhaustion
/// notices, whose round it does not keep. What lets a state record leave an id out (the
/// codec leaves it out only when this gives the id back exactly).
pub fn derived(
    alert: AlertId,
    incident: u32,
    purpose: &Purpose,
    recipient: &Recipient,
) -> Option<String> {
    let prefix = match purpose {
        Purpose::Step { step: at, round }
        | Purpose::AfterSilence {
            step: at, round, ..
        } => step(alert, incident, *round, *at),
        Purpose::Failover {
            step: at, round, ..
        } => format!("{}.failover", step(alert, incident, *round, *at)),
        Purpose::Updated {
            revision,
            step: at,
            round,
            ..
        } => update(alert, incident, *revision, *round, *at),
        Purpose::Undeliverable(undeliverable) => self::undeliverable(&undeliverable.failed_id),
        Purpose::Informed { resolved, .. } => informed(alert, incident, *resolved),
        Purpose::Exhausted | Purpose::ExhaustedFailover { .. } => return None,
    };
    Some(id(&prefix, recipient))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_what_they_are_about() {
        let alert = AlertId::for_dedup_key("ng-maiduguri", "gate");
        let manila = Recipient::Webhook {
            console: "manila".into(),
        };
        assert_eq!(
            id(&step(alert, 2, 1, 0), &manila),
            format!("{alert}.i2.r1.s0.webhook-manila")
        );
        assert_eq!(update(alert, 1, 3, 0, 1), format!("{alert}.i1.u3.r0.s1"));
        assert_eq!(
            failover(alert, 1, 0, &Purpose::Step { step: 1, round: 2 }),
            Some(format!("{alert}.i1.r2.s1.failover"))
        );
        assert_eq!(
            failover(alert, 1, 4, &Purpose::Exhausted),
            Some(format!("{alert}.i1.r4.exhausted.failover"))
        );
        assert_eq!(
            undeliverable("x.i1.r0.s0.webhook-panama"),
            "x.i1.r0.s0.webhook-panama.undeliverable"
        );
    }
}
