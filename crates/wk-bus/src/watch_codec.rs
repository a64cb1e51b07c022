//! Office facts on the alerts topic (check-ins, pauses, resumptions, keyed `office:<id>`) and
//! an office watch's state (`wk_core::watch::Snapshot`) on the state changelog, and back.
//! Decoding re-validates what it can: office ids, coordinates, the silence alert.

use prost::Message;
use wk_core::alert::{AlertId, Coordinates};
use wk_core::escalation::Responder;
use wk_core::time::Timestamp;
use wk_core::validate::check_office_id;
use wk_core::watch::{Channel, CheckIn, OfficeKey, Owed, Pause, Publication, Snapshot, Status};
use wk_proto::v1 as pb;

use crate::codec::{
    DecodeError, alert_from_pb, alert_to_pb, required_time, timestamp_from_pb, timestamp_to_pb,
};

/// The most a check-in's status line may say.
pub const MAX_STATUS: usize = 280;

/// The alerts-topic (and changelog) key of an office's facts and watch: its partition is the
/// key's, so one dispatcher holds each office's watch.
pub fn office_record_key(office: &str) -> String {
    format!("office:{office}")
}

/// What an office fact says, decoded by [`crate::codec::decode_event`].
#[derive(Clone, Debug, PartialEq)]
pub enum OfficeFact {
    CheckedIn(CheckIn),
    Paused(Pause),
    Resumed { by: Responder, at: Timestamp },
}

pub fn encode_check_in(office: &str, check_in: &CheckIn) -> Vec<u8> {
    encode_office(
        office,
        check_in.at,
        pb::alert_event::Event::CheckIn(check_in_to_pb(check_in)),
    )
}

pub fn encode_pause(office: &str, pause: &Pause) -> Vec<u8> {
    encode_office(
        office,
        pause.at,
        pb::alert_event::Event::Paused(pause_to_pb(pause)),
    )
}

pub fn encode_resume(office: &str, by: &Responder, at: Timestamp) -> Vec<u8> {
    encode_office(
        office,
        at,
        pb::alert_event::Event::Resumed(responder_to_pb(by)),
    )
}

fn encode_office(office: &str, at: Timestamp, event: pb::alert_event::Event) -> Vec<u8> {
    pb::AlertEvent {
        alert_id: String::new(),
        office_id: office.to_owned(),
        at: Some(timestamp_to_pb(at)),
        event: Some(event),
        incident: None,
    }
    .encode_to_vec()
}

/// Decodes an office fact of `office` at `at`.
pub(crate) fn decode_office_fact(
    office: &str,
    at: Timestamp,
    event: pb::alert_event::Event,
) -> Result<(OfficeKey, OfficeFact), DecodeError> {
    check_office_id(office).map_err(|reason| DecodeError::Field("office_id", reason))?;
    let fact = match event {
        pb::alert_event::Event::CheckIn(check_in) => {
            OfficeFact::CheckedIn(check_in_from_pb(check_in, at)?)
        }
        pb::alert_event::Event::Paused(pause) => OfficeFact::Paused(pause_from_pb(pause, at)?),
        pb::alert_event::Event::Resumed(by) => OfficeFact::Resumed {
            by: responder_from_pb(by),
            at,
        },
        _ => return Err(DecodeError::Missing("alert_id")),
    };
    Ok((OfficeKey(office.to_owned()), fact))
}

use wk_proto::convert::{responder_from_pb, responder_to_pb};

fn check_in_to_pb(check_in: &CheckIn) -> pb::CheckIn {
    pb::CheckIn {
        channel: check_in.channel.as_str().to_owned(),
        status: check_in.status.clone().unwrap_or_default(),
        coordinates: check_in.coordinates.map(|c| pb::Coordinates {
            latitude: c.latitude,
            longitude: c.longitude,
        }),
    }
}

fn check_in_from_pb(check_in: pb::CheckIn, at: Timestamp) -> Result<CheckIn, DecodeError> {
    let channel = Channel::parse(&check_in.channel)
        .ok_or_else(|| DecodeError::Field("channel", format!("{:?}", check_in.channel)))?;
    if check_in.status.chars().count() > MAX_STATUS {
        return Err(DecodeError::Field("status", "too long".into()));
    }
    let coordinates = match check_in.coordinates {
        Some(c)
            if (-90.0..=90.0).contains(&c.latitude) && (-180.0..=180.0).contains(&c.longitude) =>
        {
            Some(Coordinates {
                latitude: c.latitude,
                longitude: c.longitude,
            })
        }
        Some(_) => return Err(DecodeError::Field("coordinates", "out of range".into())),
        None => None,
    };
    Ok(CheckIn {
        at,
        channel,
        status: Some(check_in.status).filter(|status| !status.is_empty()),
        coordinates,
    })
}

fn pause_to_pb(pause: &Pause) -> pb::OfficePause {
    pb::OfficePause {
        by: Some(responder_to_pb(&pause.by)),
        reason: pause.reason.clone(),
        until: pause.until.map(timestamp_to_pb),
    }
}

fn pause_from_pb(pause: pb::OfficePause, at: Timestamp) -> Result<Pause, DecodeError> {
    Ok(Pause {
        by: responder_from_pb(pause.by.ok_or(DecodeError::Missing("by"))?),
        reason: pause.reason,
        until: pause.until.as_ref().and_then(timestamp_from_pb),
        at,
    })
}

fn status_to_pb(status: Status) -> pb::WatchStatus {
    match status {
        Status::New => pb::WatchStatus::New,
        Status::Up => pb::WatchStatus::Up,
        Status::Late => pb::WatchStatus::Late,
        Status::Down => pb::WatchStatus::Down,
        Status::Paused => pb::WatchStatus::Paused,
    }
}

/// Encodes a watch's state, which reflects the alerts-topic record at `input_offset`.
pub fn encode_watch(snapshot: &Snapshot, input_offset: i64) -> Vec<u8> {
    let owed = snapshot
        .owed
        .iter()
        .map(|owed| {
            let (at, publication) = match &owed.publication {
                Publication::Raise { alert, at } => (
                    *at,
                    pb::owed_publication::Publication::Raise(alert_to_pb(alert)),
                ),
                Publication::Resolve {
                    alert_id,
                    note,
                    by,
                    at,
                } => (
                    *at,
                    pb::owed_publication::Publication::Resolve(
                        pb::owed_publication::ResolveSilence {
                            alert_id: alert_id.to_string(),
                            note: note.clone(),
                            by: Some(responder_to_pb(by)),
                        },
                    ),
                ),
            };
            pb::OwedPublication {
                seq: owed.seq,
                at: Some(timestamp_to_pb(at)),
                publication: Some(publication),
            }
        })
        .collect();
    let state = pb::OfficeWatchState {
        office_id: snapshot.office.0.clone(),
        status: status_to_pb(snapshot.status) as i32,
        last: snapshot.last.as_ref().map(|last| pb::CheckInRecord {
            at: Some(timestamp_to_pb(last.at)),
            check_in: Some(check_in_to_pb(last)),
        }),
        due: snapshot.due.map(timestamp_to_pb),
        down_at: snapshot.down_at.map(timestamp_to_pb),
        pause: snapshot.pause.as_ref().map(|pause| pb::PauseRecord {
            at: Some(timestamp_to_pb(pause.at)),
            pause: Some(pause_to_pb(pause)),
        }),
        silence_alert: snapshot
            .silence_alert
            .map(|id| id.to_string())
            .unwrap_or_default(),
        owed,
        next_seq: snapshot.next_seq,
        raised: snapshot.raised,
        input_offset,
    };
    pb::StateRecord {
        machine: Some(pb::state_record::Machine::OfficeWatch(state)),
    }
    .encode_to_vec()
}

/// Decodes a watch's state and the input offset it reflects.
pub fn decode_watch(state: pb::OfficeWatchState) -> Result<(Snapshot, i64), DecodeError> {
    check_office_id(&state.office_id).map_err(|reason| DecodeError::Field("office_id", reason))?;
    let status = match pb::WatchStatus::try_from(state.status) {
        Ok(pb::WatchStatus::New) => Status::New,
        Ok(pb::WatchStatus::Up) => Status::Up,
        Ok(pb::WatchStatus::Late) => Status::Late,
        Ok(pb::WatchStatus::Down) => Status::Down,
        Ok(pb::WatchStatus::Paused) => Status::Paused,
        _ => {
            return Err(DecodeError::UnknownEnum {
                field: "status",
                value: state.status,
            });
        }
    };
    let last = match state.last {
        Some(last) => Some(check_in_from_pb(
            last.check_in.ok_or(DecodeError::Missing("last.check_in"))?,
            required_time(last.at.as_ref(), "last.at")?,
        )?),
        None => None,
    };
    let pause = match state.pause {
        Some(pause) => Some(pause_from_pb(
            pause.pause.ok_or(DecodeError::Missing("pause.pause"))?,
            required_time(pause.at.as_ref(), "pause.at")?,
        )?),
        None => None,
    };
    let silence_alert = match state.silence_alert.as_str() {
        "" => None,
        id => Some(id.parse::<AlertId>()?),
    };
    let mut owed = Vec::with_capacity(state.owed.len());
    for publication in state.owed {
        let at = required_time(publication.at.as_ref(), "owed.at")?;
        let publication_of = match publication.publication {
            Some(pb::owed_publication::Publication::Raise(alert)) => {
                let id = AlertId::for_dedup_key(&alert.office_id, &alert.dedup_key);
                Publication::Raise {
                    alert: alert_from_pb(Some(alert), id, at)?,
                    at,
                }
            }
            Some(pb::owed_publication::Publication::Resolve(resolve)) => Publication::Resolve {
                alert_id: resolve.alert_id.parse()?,
                note: resolve.note,
                by: responder_from_pb(resolve.by.ok_or(DecodeError::Missing("owed.by"))?),
                at,
            },
            None => return Err(DecodeError::Missing("owed.publication")),
        };
        owed.push(Owed {
            seq: publication.seq,
            publication: publication_of,
        });
    }
    let snapshot = Snapshot {
        office: OfficeKey(state.office_id),
        status,
        last,
        due: state.due.as_ref().and_then(timestamp_from_pb),
        down_at: state.down_at.as_ref().and_then(timestamp_from_pb),
        pause,
        silence_alert,
        owed,
        next_seq: state.next_seq,
        raised: state.raised,
    };
    Ok((snapshot, state.input_offset))
}

#[cfg(test)]
mod tests {
    use wk_core::alert::Severity;
    use wk_core::machine::Machine as _;
    use wk_core::watch::{CheckInSchedule, Every, OfficeWatch, WatchConfig};

    use super::*;
    use crate::codec::{Fact, decode_event};
    use crate::state_codec::{State, decode_state};

    const START: Timestamp = Timestamp::from_unix_millis(1_795_000_000_000);

    fn config() -> WatchConfig {
        WatchConfig {
            office: "ng-maiduguri".into(),
            name: "Maiduguri".into(),
            country: "NG".into(),
            place: "Maiduguri".into(),
            schedule: CheckInSchedule {
                every: Every::Interval(std::time::Duration::from_secs(3600)),
                grace: std::time::Duration::from_secs(900),
                time_zone: wk_core::watch::utc(),
            },
            severity: Severity::Critical,
        }
    }

    fn check_in(at: Timestamp) -> CheckIn {
        CheckIn {
            at,
            channel: Channel::Cli,
            status: Some("all well".into()),
            coordinates: Some(Coordinates {
                latitude: 11.8,
                longitude: 13.1,
            }),
        }
    }

    fn round_trip(watch: &OfficeWatch) {
        let bytes = encode_watch(&watch.snapshot(), 42);
        assert_eq!(
            decode_state(&bytes).unwrap(),
            (State::OfficeWatch(watch.snapshot()), 42)
        );
    }

    #[test]
    fn a_watch_survives_the_changelog_in_every_state() {
        let config = config();
        let mut watch = OfficeWatch::new(OfficeKey("ng-maiduguri".into()));
        round_trip(&watch);
        watch.handle_check_in(check_in(START), &config);
        round_trip(&watch);
        watch.handle_timeout(&config, START.saturating_add_millis(3_600_000));
        round_trip(&watch);
        // Down, with its alert owed to the broker.
        watch.handle_timeout(&config, START.saturating_add_millis(5_000_000));
        assert!(!watch.snapshot().owed.is_empty());
        round_trip(&watch);
        watch.handle_pause(Pause {
            reason: "line cut".into(),
            until: Some(START.saturating_add_millis(9_000_000)),
            by: Responder {
                actor: "maria.santos".into(),
                channel: "console".into(),
            },
            at: START.saturating_add_millis(6_000_000),
        });
        round_trip(&watch);
        // The check-in resolves: a resolution owed.
        watch.handle_check_in(check_in(START.saturating_add_millis(7_000_000)), &config);
        round_trip(&watch);
    }

    #[test]
    fn office_facts_round_trip_and_bad_ones_are_refused() {
        let fact = decode_event(&encode_check_in("ng-maiduguri", &check_in(START))).unwrap();
        assert_eq!(
            fact,
            Fact::Office {
                office: OfficeKey("ng-maiduguri".into()),
                fact: OfficeFact::CheckedIn(check_in(START)),
            }
        );
        let by = Responder {
            actor: "maria.santos".into(),
            channel: "cli".into(),
        };
        assert!(matches!(
            decode_event(&encode_resume("ng-maiduguri", &by, START)).unwrap(),
            Fact::Office {
                fact: OfficeFact::Resumed { .. },
                ..
            }
        ));
        assert!(decode_event(&encode_check_in("Not An Office!", &check_in(START))).is_err());
        let mut far = check_in(START);
        far.coordinates = Some(Coordinates {
            latitude: 91.0,
            longitude: 0.0,
        });
        assert!(decode_event(&encode_check_in("ng-maiduguri", &far)).is_err());
    }
}
