//! Integrations' side of the api: who a request is from, and putting what it asked on the
//! alerts topic with the same guarantees as the gRPC API. Accepted only once every alert and
//! action of the request is durably on Kafka (the sender retries on the 503 otherwise, and
//! its repeats fold, since identities are deterministic); the office's rate limit is the
//! same one its gRPC submissions draw on. The HTTP surface is in `integrations_http`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use sha2::Digest as _;
use tracing::warn;

use wk_bus::codec::{OfficerAction, encode_action, encode_raised};
use wk_bus::producer::{ProduceError, Producer};
use wk_core::alert::{AlertId, IntegrationKind};
use wk_core::escalation::Responder;
use wk_core::integration::{Decoded, Integration, Item};
use wk_core::time::Timestamp;

use crate::limits::{Limited, RateLimits};

/// The integrations of the configuration and what they need to submit.
pub struct IntegrationService {
    integrations: Vec<Integration>,
    producer: Producer,
    alerts_topic: String,
    produce_timeout: Duration,
    limits: Arc<RateLimits>,
}

/// Why a request's items were not accepted.
#[derive(Debug)]
pub enum Refused {
    /// An office's allowance is spent; retry after the time given, if any.
    RateLimited(Limited),
    /// The broker did not acknowledge in time: nothing may be assumed stored.
    Unavailable,
}

impl IntegrationService {
    pub fn new(
        integrations: Vec<Integration>,
        producer: Producer,
        alerts_topic: String,
        produce_timeout: Duration,
        limits: Arc<RateLimits>,
    ) -> IntegrationService {
        IntegrationService {
            integrations,
            producer,
            alerts_topic,
            produce_timeout,
            limits,
        }
    }

    /// Whether an integration is named `name`.
    pub fn has(&self, name: &str) -> bool {
        self.integrations
            .iter()
            .any(|integration| integration.name == name)
    }

    /// The integration named `name`, when `headers` carry its key.
    pub fn named(&self, name: &str, headers: &HeaderMap) -> Option<&Integration> {
        let hash = key_hash(&presented_key(headers)?);
        self.integrations
            .iter()
            .find(|integration| integration.name == name && integration.key_hashes.contains(&hash))
    }

    /// The integration of `kind` whose key is `key` (a bearer token, a PagerDuty routing key).
    pub fn keyed(&self, kind: IntegrationKind, key: &str) -> Option<&Integration> {
        if key.is_empty() {
            return None;
        }
        let hash = key_hash(key);
        self.integrations
            .iter()
            .find(|integration| integration.kind == kind && integration.key_hashes.contains(&hash))
    }

    /// The integration of `kind` whose key `headers` carry.
    pub fn by_headers(&self, kind: IntegrationKind, headers: &HeaderMap) -> Option<&Integration> {
        self.keyed(kind, &presented_key(headers)?)
    }

    /// Puts every item of `decoded` on the alerts topic; the number put, once all are
    /// acknowledged by the broker.
    pub async fn submit(
        &self,
        integration: &Integration,
        decoded: &Decoded,
        now: Timestamp,
    ) -> Result<usize, Refused> {
        let mut per_office: BTreeMap<&str, usize> = BTreeMap::new();
        for item in &decoded.items {
            if let Item::Trigger(draft) = item {
                *per_office.entry(draft.office_id.as_str()).or_default() += 1;
            }
        }
        for (office, alerts) in per_office {
            self.limits
                .check(office, alerts)
                .map_err(Refused::RateLimited)?;
        }
        let by = Responder {
            actor: integration.name.clone(),
            channel: integration.kind.as_str().to_owned(),
        };
        let mut records = Vec::with_capacity(decoded.items.len());
        for item in &decoded.items {
            let record = match item {
                Item::Trigger(draft) => {
                    match draft
                        .as_ref()
                        .clone()
                        .validate(now, crate::ingest::fresh_id(now))
                    {
                        Ok(alert) => (alert.id, encode_raised(&alert, now)),
                        // The decoder validated it already; never reached.
                        Err(_) => continue,
                    }
                }
                Item::Acknowledge { office, dedup_key } => {
                    let id = AlertId::for_dedup_key(office, dedup_key);
                    (
                        id,
                        encode_action(id, &OfficerAction::Acknowledge, &by, None, now),
                    )
                }
                Item::Resolve { office, dedup_key } => {
                    let id = AlertId::for_dedup_key(office, dedup_key);
                    (
                        id,
                        encode_action(id, &OfficerAction::Resolve, &by, None, now),
                    )
                }
            };
            records.push(record);
        }
        let sends = records.iter().map(|(id, payload)| {
            let key = id.to_string();
            async move {
                self.producer
                    .send(&self.alerts_topic, &key, payload, None, true)
                    .await
            }
        });
        let all = futures_util::future::join_all(sends);
        match tokio::time::timeout(self.produce_timeout, all).await {
            Ok(results) => {
                if let Some(error) = results.into_iter().find_map(Result::err) {
                    crate::metrics::produce_error();
                    if !matches!(error, ProduceError::QueueFull) {
                        warn!(integration = %integration.name, %error, "integration request refused: broker did not acknowledge");
                    }
                    return Err(Refused::Unavailable);
                }
                Ok(records.len())
            }
            Err(_elapsed) => {
                crate::metrics::produce_error();
                warn!(integration = %integration.name, "integration request refused: no broker acknowledgement in time");
                Err(Refused::Unavailable)
            }
        }
    }
}

/// The key a request presents: `Authorization: Bearer <key>`, or the password of
/// `Authorization: Basic` (what Alertmanager and Grafana make easy to configure).
fn presented_key(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.trim().to_owned());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned())
}

fn key_hash(key: &str) -> [u8; 32] {
    sha2::Sha256::digest(key.as_bytes()).into()
}
