//! The wire contract's conversions: protobuf messages to and from the domain's types, shared
//! by the api, the CLI and the Kafka codec (none of which needs another's dependencies for
//! them: this module knows prost and wk-core only).

use wk_core::alert::{Alert, Category, Coordinates, Origin, Severity};
use wk_core::time::Timestamp;
use wk_core::validate::AlertDraft;

use crate::v1 as pb;

pub fn timestamp_to_pb(at: Timestamp) -> prost_types::Timestamp {
    let (seconds, nanos) = at.to_seconds_nanos();
    prost_types::Timestamp { seconds, nanos }
}

pub fn timestamp_from_pb(at: &prost_types::Timestamp) -> Option<Timestamp> {
    Timestamp::from_seconds_nanos(at.seconds, at.nanos)
}

pub fn severity_from_pb(value: i32) -> Option<Severity> {
    Some(match pb::Severity::try_from(value).ok()? {
        pb::Severity::Unspecified => return None,
        pb::Severity::Info => Severity::Info,
        pb::Severity::Warning => Severity::Warning,
        pb::Severity::Critical => Severity::Critical,
        pb::Severity::Emergency => Severity::Emergency,
    })
}

pub fn severity_to_pb(severity: Severity) -> pb::Severity {
    match severity {
        Severity::Info => pb::Severity::Info,
        Severity::Warning => pb::Severity::Warning,
        Severity::Critical => pb::Severity::Critical,
        Severity::Emergency => pb::Severity::Emergency,
    }
}

pub fn category_from_pb(value: i32) -> Option<Category> {
    Some(match pb::Category::try_from(value).ok()? {
        pb::Category::Unspecified => return None,
        pb::Category::SecurityIncident => Category::SecurityIncident,
        pb::Category::Abduction => Category::Abduction,
        pb::Category::ArmedConflict => Category::ArmedConflict,
        pb::Category::CivilUnrest => Category::CivilUnrest,
        pb::Category::Crime => Category::Crime,
        pb::Category::NaturalHazard => Category::NaturalHazard,
        pb::Category::Medical => Category::Medical,
        pb::Category::TravelSafety => Category::TravelSafety,
        pb::Category::Infrastructure => Category::Infrastructure,
        pb::Category::Other => Category::Other,
        pb::Category::OfficeSilent => Category::OfficeSilent,
        pb::Category::StaffHelp => Category::StaffHelp,
    })
}

pub fn category_to_pb(category: Category) -> pb::Category {
    match category {
        Category::SecurityIncident => pb::Category::SecurityIncident,
        Category::Abduction => pb::Category::Abduction,
        Category::ArmedConflict => pb::Category::ArmedConflict,
        Category::CivilUnrest => pb::Category::CivilUnrest,
        Category::Crime => pb::Category::Crime,
        Category::NaturalHazard => pb::Category::NaturalHazard,
        Category::Medical => pb::Category::Medical,
        Category::TravelSafety => pb::Category::TravelSafety,
        Category::Infrastructure => pb::Category::Infrastructure,
        Category::Other => pb::Category::Other,
        Category::OfficeSilent => pb::Category::OfficeSilent,
        Category::StaffHelp => pb::Category::StaffHelp,
    }
}

/// The unvalidated draft carried by a protobuf alert.
pub fn draft_from_pb(alert: pb::Alert) -> AlertDraft {
    AlertDraft {
        office_id: alert.office_id,
        severity: severity_from_pb(alert.severity),
        category: category_from_pb(alert.category),
        title: alert.title,
        description: alert.description,
        country: alert.country,
        place: alert.place,
        coordinates: alert.coordinates.map(|c| Coordinates {
            latitude: c.latitude,
            longitude: c.longitude,
        }),
        occurred_at: alert.occurred_at.as_ref().and_then(timestamp_from_pb),
        occurred_at_out_of_range: alert
            .occurred_at
            .as_ref()
            .is_some_and(|at| timestamp_from_pb(at).is_none()),
        staff_affected: alert.staff_affected,
        dedup_key: alert.dedup_key,
        labels: alert.labels.into_iter().collect(),
        origin: alert.origin.and_then(origin_from_pb),
    }
}

/// An alert's integration, when its kind is one we know.
fn origin_from_pb(origin: pb::AlertOrigin) -> Option<Origin> {
    Some(Origin {
        integration: origin.integration,
        kind: origin.kind.parse().ok()?,
        link: origin.link,
        ends_at: origin.ends_at.as_ref().and_then(timestamp_from_pb),
    })
}

fn origin_to_pb(origin: &Origin) -> pb::AlertOrigin {
    pb::AlertOrigin {
        integration: origin.integration.clone(),
        kind: origin.kind.as_str().to_owned(),
        link: origin.link.clone(),
        ends_at: origin.ends_at.map(timestamp_to_pb),
    }
}

pub fn alert_to_pb(alert: &Alert) -> pb::Alert {
    pb::Alert {
        office_id: alert.office_id.clone(),
        severity: severity_to_pb(alert.severity) as i32,
        category: category_to_pb(alert.category) as i32,
        title: alert.title.clone(),
        description: alert.description.clone(),
        country: alert.country.clone(),
        place: alert.place.clone(),
        coordinates: alert.coordinates.map(|c| pb::Coordinates {
            latitude: c.latitude,
            longitude: c.longitude,
        }),
        occurred_at: Some(timestamp_to_pb(alert.occurred_at)),
        staff_affected: alert.staff_affected,
        dedup_key: alert.dedup_key.clone().unwrap_or_default(),
        labels: alert.labels.clone().into_iter().collect(),
        origin: alert.origin.as_deref().map(origin_to_pb),
    }
}

pub fn responder_to_pb(responder: &wk_core::escalation::Responder) -> pb::Responder {
    pb::Responder {
        actor: responder.actor.clone(),
        channel: responder.channel.clone(),
    }
}

pub fn responder_from_pb(responder: pb::Responder) -> wk_core::escalation::Responder {
    wk_core::escalation::Responder {
        actor: responder.actor,
        channel: responder.channel,
    }
}

/// An office watch's state as its name (`new` when there is none yet, or it is unknown).
pub fn watch_status_name(state: Option<&pb::OfficeWatchState>) -> &'static str {
    match state.map(|state| pb::WatchStatus::try_from(state.status)) {
        Some(Ok(pb::WatchStatus::Up)) => "up",
        Some(Ok(pb::WatchStatus::Late)) => "late",
        Some(Ok(pb::WatchStatus::Down)) => "down",
        Some(Ok(pb::WatchStatus::Paused)) => "paused",
        _ => "new",
    }
}
