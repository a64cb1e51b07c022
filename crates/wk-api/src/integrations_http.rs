//! The HTTP endpoints integrations send to, on the api's HTTP listener:
//!
//! - `POST /integrations/{name}`: Alertmanager's or Grafana's webhook (the kind configured).
//! - `POST /api/v2/alerts` and `POST /integrations/{name}/api/v2/alerts`: Alertmanager's API
//!   v2, as Prometheus sends to an Alertmanager (`path_prefix: /integrations/{name}`, or the
//!   bare path with the key naming the integration).
//! - `POST /v2/enqueue`: PagerDuty's Events API v2, the body's `routing_key` naming it.
//!
//! Keys: `Authorization: Bearer`, the basic-auth password, or PagerDuty's routing key; never
//! in a URL, never logged. Bodies over 1 MiB get 413. 200 (PagerDuty: 202) only once every
//! alert and action is durably on Kafka; 503 with `Retry-After` otherwise; 429 when an
//! office's rate limit is hit; 400 naming every refused field, the valid entries kept.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use wk_core::alert::IntegrationKind;
use wk_core::integration::{Decoded, Integration, Malformed, alertmanager, pagerduty, prometheus};
use wk_core::validate::FieldViolation;

use crate::ingest::now;
use crate::integrations::{IntegrationService, Refused};
use crate::metrics::integration_request;

/// The largest body an integration may send (PagerDuty's own limit is 512 KB per event).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router(service: Arc<IntegrationService>) -> Router {
    Router::new()
        .route("/integrations/{name}", post(webhook))
        .route("/integrations/{name}/api/v2/alerts", post(webhook))
        .route("/api/v2/alerts", post(keyed_alerts))
        .route("/v2/enqueue", post(enqueue))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

fn unauthenticated() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({
            "status": "unauthorized",
            "message": "no integration has this name and key (Authorization: Bearer, or the basic-auth password)"
        })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer, Basic realm=\"watchkeeper\""),
    );
    response
}

fn named_errors(errors: &[FieldViolation]) -> Vec<serde_json::Value> {
    errors
        .iter()
        .map(|error| json!({"field": error.field, "description": error.description}))
        .collect()
}

fn malformed(integration: &Integration, error: &Malformed) -> Response {
    integration_request(&integration.name, "invalid", 0);
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "status": "invalid",
            "accepted": 0,
            "errors": [{"field": error.field, "description": error.message}],
        })),
    )
        .into_response()
}

fn refused(integration: &Integration, refusal: Refused, items: usize) -> Response {
    match refusal {
        Refused::RateLimited(limited) => {
            integration_request(&integration.name, "rate_limited", items);
            let mut response = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "status": "throttle exceeded",
                    "message": format!(
                        "the office's rate limit ({}/s, bursts of {}) is spent; retry later",
                        limited.rate_per_second, limited.burst
                    ),
                })),
            )
                .into_response();
            if let Some(after) = limited.retry_after {
                let seconds = after.as_secs().max(1);
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
        Refused::Unavailable => {
            integration_request(&integration.name, "unavailable", items);
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({
                    "status": "unavailable",
                    "message": "not stored: the broker did not acknowledge in time; send it again",
                })),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            response
        }
    }
}

/// Submits what `decoded` holds and answers as Alertmanager does (200), or 400 naming the
/// refused entries once the valid ones are stored.
async fn answer(
    service: &IntegrationService,
    integration: &Integration,
    decoded: Decoded,
) -> Response {
    let items = decoded.items.len();
    let accepted = match service.submit(integration, &decoded, now()).await {
        Ok(accepted) => accepted,
        Err(refusal) => return refused(integration, refusal, items),
    };
    if decoded.errors.is_empty() {
        integration_request(&integration.name, "accepted", accepted);
        (
            StatusCode::OK,
            axum::Json(json!({"status": "success", "accepted": accepted})),
        )
            .into_response()
    } else {
        integration_request(&integration.name, "invalid", accepted);
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "status": "invalid",
                "accepted": accepted,
                "errors": named_errors(&decoded.errors),
            })),
        )
            .into_response()
    }
}

/// `POST /integrations/{name}` (and `…/api/v2/alerts`, Prometheus's path under a
/// `path_prefix`): the body in the format of the integration's kind.
async fn webhook(
    State(service): State<Arc<IntegrationService>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(integration) = service.named(&name, &headers) else {
        integration_request(&name_or_unknown(&service, &name), "unauthenticated", 0);
        return unauthenticated();
    };
    let decoded = match integration.kind {
        IntegrationKind::AlertmanagerWebhook | IntegrationKind::GrafanaWebhook => {
            alertmanager::decode(integration, &body, now())
        }
        IntegrationKind::AlertmanagerApiV2 => prometheus::decode(integration, &body, now()),
        IntegrationKind::PagerDutyEventsV2 => {
            return (
                StatusCode::NOT_FOUND,
                "this integration speaks PagerDuty Events v2: send to /v2/enqueue\n",
            )
                .into_response();
        }
    };
    match decoded {
        Ok(decoded) => answer(&service, integration, decoded).await,
        Err(error) => malformed(integration, &error),
    }
}

/// An unknown name is counted as such: a metric label per guessed name would let anyone
/// grow the metrics without bound.
fn name_or_unknown(service: &IntegrationService, name: &str) -> String {
    if service.has(name) {
        name.to_owned()
    } else {
        "unknown".to_owned()
    }
}

/// `POST /api/v2/alerts`, the key naming the integration.
async fn keyed_alerts(
    State(service): State<Arc<IntegrationService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match service.by_headers(IntegrationKind::AlertmanagerApiV2, &headers) {
        Some(integration) => alerts_api(&service, integration, &body).await,
        None => {
            integration_request("unknown", "unauthenticated", 0);
            unauthenticated()
        }
    }
}

async fn alerts_api(
    service: &IntegrationService,
    integration: &Integration,
    body: &[u8],
) -> Response {
    match prometheus::decode(integration, body, now()) {
        Ok(decoded) => answer(service, integration, decoded).await,
        Err(error) => malformed(integration, &error),
    }
}

/// PagerDuty's answer to an event it cannot take.
fn invalid_event(errors: Vec<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": errors,
        })),
    )
        .into_response()
}

/// `POST /v2/enqueue`: one PagerDuty event.
async fn enqueue(State(service): State<Arc<IntegrationService>>, body: Bytes) -> Response {
    let event = match pagerduty::parse(&body) {
        Ok(event) => event,
        Err(error) => {
            integration_request("unknown", "invalid", 0);
            return invalid_event(vec![format!("{}: {}", error.field, error.message)]);
        }
    };
    let Some(integration) = service.keyed(IntegrationKind::PagerDutyEventsV2, event.routing_key())
    else {
        integration_request("unknown", "unauthenticated", 0);
        return invalid_event(vec![
            "routing_key: is not the key of any integration".into(),
        ]);
    };
    let generated = uuid::Uuid::new_v4().simple().to_string();
    let (item, dedup_key) = match event.item(integration, generated, now()) {
        Ok(item) => item,
        Err(errors) => {
            integration_request(&integration.name, "invalid", 0);
            return invalid_event(
                errors
                    .into_iter()
                    .map(|error| format!("{}: {}", error.field, error.description))
                    .collect(),
            );
        }
    };
    let decoded = Decoded {
        items: vec![item],
        errors: Vec::new(),
    };
    match service.submit(integration, &decoded, now()).await {
        Ok(accepted) => {
            integration_request(&integration.name, "accepted", accepted);
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({
                    "status": "success",
                    "message": "Event processed",
                    "dedup_key": dedup_key,
                })),
            )
                .into_response()
        }
        Err(refusal) => refused(integration, refusal, 1),
    }
}
