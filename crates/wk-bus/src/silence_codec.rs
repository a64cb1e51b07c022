//! Silences on their topic (`SilenceRecord`, key: the silence's id, the latest version wins)
//! and a silence's verdict as an escalation's state and timeline carry it. Decoding parses
//! every matcher and schedule again, so a record cannot smuggle in what validation refuses.

use std::time::Duration;

use jiff::tz::TimeZone;
use prost::Message;
use wk_core::silence::{Exemption, Expiry, Matcher, Recurrence, Scope, Silence, Silencing, Window};
use wk_proto::v1 as pb;

use crate::codec::{DecodeError, required_time, timestamp_from_pb, timestamp_to_pb};

pub fn silencing_to_pb(silencing: &Silencing) -> pb::Silencing {
    pb::Silencing {
        silence: silencing.silence.clone(),
        by: silencing.by.clone(),
        until: Some(timestamp_to_pb(silencing.until)),
        comment: silencing.comment.clone(),
        exempt: silencing
            .exempt
            .map(|exemption| exemption.as_str().to_owned())
            .unwrap_or_default(),
    }
}

pub fn silencing_from_pb(silencing: pb::Silencing) -> Result<Silencing, DecodeError> {
    let exempt = match silencing.exempt.as_str() {
        "" => None,
        text => Some(
            Exemption::parse(text)
                .ok_or_else(|| DecodeError::Field("silencing.exempt", text.to_owned()))?,
        ),
    };
    Ok(Silencing {
        until: required_time(silencing.until.as_ref(), "silencing.until")?,
        silence: silencing.silence,
        by: silencing.by,
        comment: silencing.comment,
        exempt,
    })
}

pub fn duration_to_pb(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
    }
}

pub fn duration_from_pb(duration: &prost_types::Duration) -> Option<Duration> {
    let seconds = u64::try_from(duration.seconds).ok()?;
    let nanos = u32::try_from(duration.nanos).ok()?;
    Some(Duration::new(seconds, nanos))
}

fn window_to_pb(window: &Window) -> pb::MaintenanceWindow {
    let scope = Some(match &window.scope {
        Scope::Office(office) => pb::maintenance_window::Scope::Office(office.clone()),
        Scope::Country(country) => pb::maintenance_window::Scope::Country(country.clone()),
    });
    let mut encoded = pb::MaintenanceWindow {
        scope,
        ..pb::MaintenanceWindow::default()
    };
    if let Some(recurrence) = &window.recurrence {
        encoded.cron = recurrence.cron.clone();
        encoded.duration = Some(duration_to_pb(recurrence.duration));
        encoded.time_zone = recurrence.time_zone.iana_name().unwrap_or("UTC").to_owned();
    }
    encoded
}

fn window_from_pb(window: pb::MaintenanceWindow) -> Result<Window, DecodeError> {
    let scope = match window.scope {
        Some(pb::maintenance_window::Scope::Office(office)) => Scope::Office(office),
        Some(pb::maintenance_window::Scope::Country(country)) => Scope::Country(country),
        None => return Err(DecodeError::Missing("maintenance.scope")),
    };
    let recurrence = if window.cron.is_empty() {
        None
    } else {
        let duration = window
            .duration
            .as_ref()
            .and_then(duration_from_pb)
            .ok_or(DecodeError::Missing("maintenance.duration"))?;
        let zone = TimeZone::get(&window.time_zone)
            .map_err(|_| DecodeError::Field("maintenance.time_zone", window.time_zone.clone()))?;
        Some(
            Recurrence::new(&window.cron, duration, zone)
                .map_err(|error| DecodeError::Field("maintenance.cron", error))?,
        )
    };
    Ok(Window { scope, recurrence })
}

pub fn silence_to_pb(silence: &Silence) -> pb::SilenceRecord {
    pb::SilenceRecord {
        id: silence.id.clone(),
        matchers: silence.matchers.iter().map(Matcher::to_string).collect(),
        starts_at: Some(timestamp_to_pb(silence.starts_at)),
        ends_at: Some(timestamp_to_pb(silence.ends_at)),
        created_by: silence.created_by.clone(),
        created_at: Some(timestamp_to_pb(silence.created_at)),
        comment: silence.comment.clone(),
        expired_by: silence
            .expired
            .as_ref()
            .map(|expiry| expiry.by.clone())
            .unwrap_or_default(),
        expired_at: silence
            .expired
            .as_ref()
            .map(|expiry| timestamp_to_pb(expiry.at)),
        maintenance: silence.window.as_ref().map(window_to_pb),
    }
}

pub fn encode_silence(silence: &Silence) -> Vec<u8> {
    silence_to_pb(silence).encode_to_vec()
}

pub fn silence_from_pb(record: pb::SilenceRecord) -> Result<Silence, DecodeError> {
    let matchers = record
        .matchers
        .iter()
        .map(|text| Matcher::parse(text).map_err(|error| DecodeError::Field("matchers", error)))
        .collect::<Result<Vec<_>, _>>()?;
    let expired = match record.expired_at.as_ref().and_then(timestamp_from_pb) {
        Some(at) => Some(Expiry {
            by: record.expired_by,
            at,
        }),
        None => None,
    };
    Ok(Silence {
        id: record.id,
        matchers,
        starts_at: required_time(record.starts_at.as_ref(), "starts_at")?,
        ends_at: required_time(record.ends_at.as_ref(), "ends_at")?,
        created_by: record.created_by,
        created_at: required_time(record.created_at.as_ref(), "created_at")?,
        comment: record.comment,
        expired,
        window: record.maintenance.map(window_from_pb).transpose()?,
    })
}

pub fn decode_silence(payload: &[u8]) -> Result<Silence, DecodeError> {
    silence_from_pb(pb::SilenceRecord::decode(payload)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use wk_core::Timestamp;
    use wk_core::silence::{Draft, Limits, WindowDraft};

    #[test]
    fn a_recurring_window_survives_its_topic() {
        let now = Timestamp::from_unix_millis(1_790_000_000_000);
        let draft = Draft {
            matchers: vec![r#"severity=~"warning|info""#.into()],
            duration: Some(Duration::from_secs(30 * 24 * 3600)),
            comment: "weekly generator test".into(),
            created_by: "maria.santos".into(),
            window: Some(WindowDraft {
                country: Some("SS".into()),
                cron: Some("0 2 * * Sun".into()),
                every_for: Some(Duration::from_secs(7200)),
                time_zone: Some("Africa/Juba".into()),
                ..WindowDraft::default()
            }),
            ..Draft::default()
        };
        let mut silence = draft
            .validate("s-1".into(), now, &Limits::default(), &|_| None)
            .unwrap();
        assert_eq!(decode_silence(&encode_silence(&silence)).unwrap(), silence);
        silence.expired = Some(Expiry {
            by: "jose.reyes".into(),
            at: now,
        });
        silence.ends_at = now;
        assert_eq!(decode_silence(&encode_silence(&silence)).unwrap(), silence);
    }

    #[test]
    fn a_record_with_a_bad_matcher_is_refused() {
        let mut record = silence_to_pb(&Silence {
            id: "s".into(),
            matchers: vec![Matcher::parse(r#"office="x""#).unwrap()],
            starts_at: Timestamp::from_unix_millis(0),
            ends_at: Timestamp::from_unix_millis(1),
            created_by: "m".into(),
            created_at: Timestamp::from_unix_millis(0),
            comment: "c".into(),
            expired: None,
            window: None,
        });
        record.matchers = vec![r#"office=~"(""#.into()];
        assert!(decode_silence(&record.encode_to_vec()).is_err());
    }
}
