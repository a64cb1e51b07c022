//! What the console says about an alert, in words a duty officer reads at 3 a.m.: severity as
//! text, icon and class (never colour alone), status, times in the officer's zone and in UTC,
//! the escalation position, and each timeline entry as (what, who, how).

use jiff::tz::TimeZone;
use wk_proto::v1 as pb;
use wk_proto::v1::timeline_entry::Event;

/// A severity as the board shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Severity {
    /// 4 emergency … 1 info, 0 unknown: higher is worse.
    pub rank: i32,
    pub label: &'static str,
    /// A shape that differs per severity, for officers who cannot tell the colours apart.
    pub icon: &'static str,
    /// The CSS class: `sev-emergency`, …
    pub class: &'static str,
}

pub fn severity(value: i32) -> Severity {
    let (label, icon, class) = match pb::Severity::try_from(value) {
        Ok(pb::Severity::Emergency) => ("Emergency", "⬢", "sev-emergency"),
        Ok(pb::Severity::Critical) => ("Critical", "▲", "sev-critical"),
        Ok(pb::Severity::Warning) => ("Warning", "◆", "sev-warning"),
        Ok(pb::Severity::Info) => ("Info", "●", "sev-info"),
        _ => ("Unknown", "?", "sev-unknown"),
    };
    Severity {
        rank: value.clamp(0, 4),
        label,
        icon,
        class,
    }
}

/// Parses `emergency`, `critical`, `warning` or `info` (any case).
pub fn parse_severity(text: &str) -> Option<i32> {
    match text.to_ascii_lowercase().as_str() {
        "emergency" => Some(pb::Severity::Emergency as i32),
        "critical" => Some(pb::Severity::Critical as i32),
        "warning" => Some(pb::Severity::Warning as i32),
        "info" => Some(pb::Severity::Info as i32),
        _ => None,
    }
}

pub fn category(value: i32) -> String {
    pb::Category::try_from(value)
        .map(|c| {
            let name = c
                .as_str_name()
                .trim_start_matches("CATEGORY_")
                .replace('_', " ");
            let mut name = name.to_lowercase();
            if let Some(first) = name.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            name
        })
        .unwrap_or_else(|_| "Unknown".to_owned())
}

/// (label, CSS class) of a status.
pub fn status(value: i32) -> (&'static str, &'static str) {
    match pb::AlertStatus::try_from(value) {
        Ok(pb::AlertStatus::Open) => ("Unacknowledged", "st-open"),
        Ok(pb::AlertStatus::Acknowledged) => ("Acknowledged", "st-acknowledged"),
        Ok(pb::AlertStatus::Resolved) => ("Resolved", "st-resolved"),
        _ => ("Unknown", "st-unknown"),
    }
}

pub fn millis(at: Option<&prost_types::Timestamp>) -> Option<i64> {
    at.map(|at| {
        at.seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(at.nanos / 1_000_000))
    })
}

/// An instant in the officer's zone and in UTC: `2026-12-01 17:34 PST · 09:34 UTC`.
#[derive(Clone, Debug, Default)]
pub struct When {
    pub millis: i64,
    pub local: String,
    pub utc: String,
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
}

pub fn when(millis: i64, zone: &TimeZone) -> When {
    let Ok(at) = jiff::Timestamp::from_millisecond(millis) else {
        return When::default();
    };
    let local = at.to_zoned(zone.clone());
    let utc = at.to_zoned(TimeZone::UTC);
    When {
        millis,
        local: local.strftime("%Y-%m-%d %H:%M %Z").to_string(),
        utc: utc.strftime("%H:%M UTC").to_string(),
        iso: format!("{at:.0}"),
    }
}

pub fn when_of(at: Option<&prost_types::Timestamp>, zone: &TimeZone) -> Option<When> {
    millis(at).map(|millis| when(millis, zone))
}

/// `just now`, `5 min ago`, `3 h 12 min ago`, `2 d 4 h ago` (the page script refreshes it).
pub fn age(from_ms: i64, now_ms: i64) -> String {
    let minutes = (now_ms - from_ms).max(0) / 60_000;
    match minutes {
        0 => "just now".to_owned(),
        1..=59 => format!("{minutes} min ago"),
        60..=1439 => format!("{} h {} min ago", minutes / 60, minutes % 60),
        _ => format!("{} d {} h ago", minutes / 1440, (minutes % 1440) / 60),
    }
}

/// Where the escalation stands: `Step 2 of 3 · round 1 of 2`, and when the next step is due.
pub fn position(state: &pb::EscalationState, zone: &TimeZone) -> (String, Option<When>) {
    let steps = state.chain.as_ref().map_or(0, |chain| chain.steps.len());
    let rounds = state.chain.as_ref().map_or(1, |chain| chain.repeat + 1);
    let text = if state.status == pb::AlertStatus::Resolved as i32 {
        "Stopped (resolved)".to_owned()
    } else if state.status == pb::AlertStatus::Acknowledged as i32 {
        format!("Held at step {} of {steps} (acknowledged)", state.step + 1)
    } else if state.exhausted {
        format!("Chain exhausted after {rounds} round(s)")
    } else {
        format!(
            "Step {} of {steps} · round {} of {rounds}",
            state.step + 1,
            state.round + 1
        )
    };
    (text, when_of(state.step_timer.as_ref(), zone))
}

fn who(by: Option<&pb::Responder>) -> (String, String) {
    by.map_or_else(Default::default, |by| {
        (by.actor.clone(), by.channel.clone())
    })
}

pub fn recipient(notification: &pb::Notification) -> String {
    use pb::notification::Recipient;
    match &notification.recipient {
        Some(Recipient::WebhookConsole(console)) => format!("console {console}"),
        Some(Recipient::EmailAddress(address)) => address.clone(),
        None => "(withheld)".to_owned(),
    }
}

/// A silence's id as people read it: its first eight characters.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// One timeline entry as the alert page lists it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub at: When,
    pub what: &'static str,
    pub detail: String,
    pub actor: String,
    pub channel: String,
    /// `important` for acknowledgements, resolutions, give-ups and notes.
    pub class: &'static str,
}

fn notification_named(state: &pb::EscalationState, id: &str) -> String {
    state
        .notifications
        .iter()
        .find(|n| n.id == id)
        .map_or_else(|| id.to_owned(), recipient)
}

fn notification_at(state: &pb::EscalationState, at: u32) -> String {
    state
        .notifications
        .get(at as usize)
        .map_or_else(|| format!("notification {}", at + 1), recipient)
}

pub fn entry(state: &pb::EscalationState, entry: &pb::TimelineEntry, zone: &TimeZone) -> Entry {
    let at = when_of(entry.at.as_ref(), zone).unwrap_or_default();
    let plain = |what, detail: String| (what, detail, (String::new(), String::new()), "");
    let (what, detail, (actor, channel), class) = match entry.event.as_ref() {
        Some(Event::Raised(raised)) => plain(
            "Raised",
            format!("route {}, chain {}", raised.route, raised.chain),
        ),
        Some(Event::StepFired(fired)) => plain(
            "Escalation step",
            format!("step {}, round {}", fired.step + 1, fired.round + 1),
        ),
        Some(Event::Notified(id)) => plain("Notified", notification_named(state, id)),
        Some(Event::NobodyToNotify(target)) => {
            ("Nobody on call", target.clone(), Default::default(), "warn")
        }
        Some(Event::Delivered(id)) => plain("Delivered", notification_named(state, id)),
        // Only in a state record; the api fills the ids in (`wk_bus::escalation_codec::expand`).
        Some(Event::NotifiedIndex(at)) => plain("Notified", notification_at(state, *at)),
        Some(Event::DeliveredIndex(at)) => plain("Delivered", notification_at(state, *at)),
        Some(Event::AttemptFailed(failed)) => plain(
            "Attempt failed",
            format!(
                "{} (attempt {}): {}",
                notification_named(state, &failed.id),
                failed.attempt,
                failed.reason
            ),
        ),
        Some(Event::GivenUp(given_up)) => (
            "Given up",
            format!(
                "{}: {} (told onwards)",
                notification_named(state, &given_up.id),
                given_up.reason
            ),
            Default::default(),
            "warn",
        ),
        Some(Event::Parked(parked)) => plain(
            "Waiting",
            format!(
                "{}: {} (retried until it gets through)",
                notification_named(state, &parked.id),
                parked.reason
            ),
        ),
        Some(Event::Updated(updated)) => {
            let version = |v: Option<&pb::timeline_entry::Version>| {
                v.map_or_else(String::new, |v| {
                    format!("[{}] {}", severity(v.severity).label, v.title)
                })
            };
            plain(
                "Updated",
                format!(
                    "revision {}: {} → {}",
                    updated.revision,
                    version(updated.previous.as_ref()),
                    version(updated.current.as_ref())
                ),
            )
        }
        Some(Event::Rerouted(rerouted)) => plain(
            "Rerouted",
            format!("route {}, chain {}", rerouted.route, rerouted.chain),
        ),
        Some(Event::ActionRefused(refused)) => (
            "Refused",
            format!("issued for incident {}", refused.incident),
            who(refused.by.as_ref()),
            "",
        ),
        Some(Event::FailedOver(failed_over)) => (
            "Failed over",
            format!(
                "{} → {}: {}",
                failed_over.from, failed_over.to, failed_over.reason
            ),
            Default::default(),
            "warn",
        ),
        Some(Event::Acknowledged(by)) => {
            ("Acknowledged", String::new(), who(Some(by)), "important")
        }
        Some(Event::AckTimedOut(_)) => {
            plain("Acknowledgement timed out", "escalation resumes".into())
        }
        Some(Event::Resolved(by)) => ("Resolved", String::new(), who(Some(by)), "important"),
        Some(Event::Repeated(occurrences)) => {
            plain("Repeated", format!("{occurrences} occurrences"))
        }
        Some(Event::Exhausted(rounds)) => (
            "Chain exhausted",
            format!("after {rounds} round(s)"),
            Default::default(),
            "warn",
        ),
        Some(Event::Note(note)) => (
            "Note",
            note.text.clone(),
            who(note.by.as_ref()),
            "important",
        ),
        Some(Event::Silenced(silenced)) => (
            "Silenced",
            format!(
                "by silence {} until {}: {}",
                short_id(&silenced.silence),
                when_of(silenced.until.as_ref(), zone)
                    .map(|until| until.local)
                    .unwrap_or_default(),
                silenced.comment
            ),
            (silenced.by.clone(), "silence".into()),
            "warn",
        ),
        Some(Event::SilenceEnded(ended)) => (
            "Silence ended",
            format!(
                "silence {}{}{}",
                short_id(&ended.silence),
                if ended.expired_by.is_empty() {
                    " ended".to_owned()
                } else {
                    format!(" expired early by {}", ended.expired_by)
                },
                if ended.restarted {
                    "; still unacknowledged: escalation starts from the first step"
                } else {
                    ""
                }
            ),
            Default::default(),
            "important",
        ),
        Some(Event::NotSilenced(matched)) => (
            "Not silenced",
            format!(
                "silence {} matched, but {}",
                short_id(&matched.silence),
                wk_core::silence::Exemption::parse(&matched.exempt)
                    .map_or("this alert is never silenced", |e| e.reason())
            ),
            Default::default(),
            "warn",
        ),
        None => plain("Unknown event", String::new()),
    };
    Entry {
        at,
        what,
        detail,
        actor,
        channel,
        class,
    }
}

/// A notification's delivery state in words, and its CSS class.
pub fn delivery(notification: &pb::Notification) -> (&'static str, &'static str) {
    let failed_over = notification.purpose == pb::NotificationPurpose::Failover as i32;
    match pb::DeliveryStatus::try_from(notification.status) {
        Ok(pb::DeliveryStatus::Delivered) if failed_over => ("delivered (failover)", "dl-ok"),
        Ok(pb::DeliveryStatus::Delivered) => ("delivered", "dl-ok"),
        Ok(pb::DeliveryStatus::Pending) => ("waiting", "dl-wait"),
        Ok(pb::DeliveryStatus::Parked) => ("waiting for its console (failed over)", "dl-wait"),
        Ok(pb::DeliveryStatus::Failed) => ("given up", "dl-failed"),
        _ => ("unknown", "dl-wait"),
    }
}

pub fn purpose(notification: &pb::Notification) -> String {
    match pb::NotificationPurpose::try_from(notification.purpose) {
        Ok(pb::NotificationPurpose::Step) => format!("step {}", notification.step + 1),
        Ok(pb::NotificationPurpose::Failover) => {
            format!("failover from {}", notification.failover_from)
        }
        Ok(pb::NotificationPurpose::Exhausted | pb::NotificationPurpose::ExhaustedFailover) => {
            "chain exhausted".to_owned()
        }
        Ok(pb::NotificationPurpose::Updated) => {
            format!("update (revision {})", notification.revision)
        }
        Ok(pb::NotificationPurpose::Undeliverable) => {
            "could not reach another recipient".to_owned()
        }
        Ok(pb::NotificationPurpose::Informed) if notification.informed_resolved => {
            "office told: resolved".to_owned()
        }
        Ok(pb::NotificationPurpose::Informed) => "office told: acknowledged".to_owned(),
        Ok(pb::NotificationPurpose::AfterSilence) => format!(
            "step {} after silence {} ended",
            notification.step + 1,
            short_id(&notification.silence_id)
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(0, 30_000), "just now");
        assert_eq!(age(0, 5 * 60_000), "5 min ago");
        assert_eq!(age(0, (3 * 60 + 12) * 60_000), "3 h 12 min ago");
        assert_eq!(age(0, (2 * 1440 + 4 * 60) * 60_000), "2 d 4 h ago");
        assert_eq!(age(10, 0), "just now", "a clock skew is not negative");
    }

    #[test]
    fn times_are_given_in_the_officers_zone_and_in_utc() {
        let manila = TimeZone::get("Asia/Manila").expect("tzdb");
        // 2026-12-01T09:34:00Z
        let at = when(1_764_581_640_000, &manila);
        assert_eq!(at.local, "2025-12-01 17:34 PST");
        assert_eq!(at.utc, "09:34 UTC");
        assert_eq!(at.iso, "2025-12-01T09:34:00Z");
    }

    #[test]
    fn every_severity_has_its_own_words_and_shape() {
        let all: Vec<Severity> = (0..=4).map(severity).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.label, b.label);
                assert_ne!(a.icon, b.icon);
            }
        }
        assert_eq!(parse_severity("CRITICAL"), Some(3));
        assert_eq!(parse_severity("severe"), None);
        assert_eq!(category(2), "Abduction");
        assert_eq!(category(1), "Security incident");
    }
}
