//! API errors and their one mapping to gRPC status codes.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};
use wk_core::validate::Violations;

use crate::auth::AuthError;
use crate::limits::Limited;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(#[from] Violations),
    #[error("{0}")]
    Unauthenticated(#[from] AuthError),
    #[error("this token may only submit alerts for office {own:?}, not {requested:?}")]
    WrongOffice { own: String, requested: String },
    #[error("too many submissions in flight; retry with backoff")]
    Overloaded,
    #[error(
        "office {office} is over its limit of {} alerts/s (bursts of {}); {}",
        .limited.rate_per_second,
        .limited.burst,
        .limited.retry_after.map_or_else(
            || "split the batch".to_owned(),
            |wait| format!("retry in {} ms", wait.as_millis().max(1)),
        )
    )]
    RateLimited { office: String, limited: Limited },
    #[error(
        "the broker did not acknowledge the alert in time; it is not confirmed: retry with the same dedup key"
    )]
    BrokerUnavailable,
    #[error("batch of {size} alerts exceeds the limit of {max}")]
    BatchTooLarge { size: usize, max: usize },
    #[error("request has no alert")]
    MissingAlert,
    #[error("office {0:?} has no check-in schedule")]
    NotWatched(String),
    #[error("{field}: {reason}")]
    BadCheckIn { field: &'static str, reason: String },
    #[error("invalid silence: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    BadSilence(Vec<wk_core::silence::FieldError>),
    #[error("this token's role may not {action}")]
    WrongRole { action: &'static str },
    #[error("{0:?} is not an alert id")]
    BadAlertId(String),
    #[error("no alert {0}")]
    NotFound(String),
    #[error("{0:?} is not a page token from a previous ListAlerts")]
    BadPageToken(String),
    #[error("a note must have 1..={max} characters")]
    BadNote { max: usize },
    #[error(
        "issued for incident {issued_for} of this alert; it has since been resolved and raised \
         again (incident {current}): nothing was done"
    )]
    WrongIncident { issued_for: u32, current: u32 },
}

impl ApiError {
    pub fn code(&self) -> Code {
        match self {
            ApiError::Invalid(_)
            | ApiError::BatchTooLarge { .. }
            | ApiError::MissingAlert
            | ApiError::BadAlertId(_)
            | ApiError::BadPageToken(_)
            | ApiError::BadNote { .. }
            | ApiError::BadCheckIn { .. }
            | ApiError::BadSilence(_) => Code::InvalidArgument,
            ApiError::NotWatched(_) => Code::FailedPrecondition,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::WrongOffice { .. } | ApiError::WrongRole { .. } => Code::PermissionDenied,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::Overloaded | ApiError::RateLimited { .. } => Code::ResourceExhausted,
            ApiError::BrokerUnavailable => Code::Unavailable,
            ApiError::WrongIncident { .. } => Code::FailedPrecondition,
        }
    }

    /// The outcome label for metrics: the gRPC code in snake case.
    pub fn outcome(&self) -> &'static str {
        match self.code() {
            Code::InvalidArgument => "invalid_argument",
            Code::Unauthenticated => "unauthenticated",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::Unavailable => "unavailable",
            Code::NotFound => "not_found",
            Code::FailedPrecondition => "failed_precondition",
            _ => "other",
        }
    }

    /// The field violations, for INVALID_ARGUMENT.
    pub fn violations(&self) -> Vec<(String, String)> {
        match self {
            ApiError::Invalid(Violations(violations)) => violations
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect(),
            ApiError::MissingAlert => vec![("alert".into(), "is required".into())],
            ApiError::BatchTooLarge { max, .. } => {
                vec![("alerts".into(), format!("at most {max} alerts per batch"))]
            }
            ApiError::BadAlertId(_) => vec![("alert_id".into(), "is not a UUID".into())],
            ApiError::BadPageToken(_) => vec![(
                "page_token".into(),
                "is not a token from a previous page".into(),
            )],
            ApiError::BadNote { max } => {
                vec![("text".into(), format!("must have 1..={max} characters"))]
            }
            ApiError::BadCheckIn { field, reason } => vec![((*field).into(), reason.clone())],
            ApiError::BadSilence(errors) => errors
                .iter()
                .map(|error| (error.field.clone(), error.message.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The one place an ingest error becomes a `tonic::Status`; INVALID_ARGUMENT carries a
/// `google.rpc.BadRequest` with one field violation per rejected field.
pub fn to_status(error: &ApiError) -> Status {
    let code = error.code();
    let violations = error.violations();
    if let ApiError::RateLimited {
        limited: Limited {
            retry_after: Some(wait),
            ..
        },
        ..
    } = error
    {
        // google.rpc.RetryInfo: clients with a gRPC retry policy wait this long.
        let details = ErrorDetails::with_retry_info(Some(*wait));
        return Status::with_error_details(code, error.to_string(), details);
    }
    if violations.is_empty() {
        return Status::new(code, error.to_string());
    }
    let details = ErrorDetails::with_bad_request(
        violations
            .into_iter()
            .map(|(field, description)| FieldViolation::new(field, description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(code, error.to_string(), details)
}
