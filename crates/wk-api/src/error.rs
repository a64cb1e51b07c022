//! Ingest errors and their one mapping to gRPC status codes.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};
use wk_core::validate::Violations;

use crate::auth::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Invalid(#[from] Violations),
    #[error("{0}")]
    Unauthenticated(#[from] AuthError),
    #[error("this token may only submit alerts for office {own:?}, not {requested:?}")]
    WrongOffice { own: String, requested: String },
    #[error("too many submissions in flight; retry with backoff")]
    Overloaded,
    #[error(
        "the broker did not acknowledge the alert in time; it is not confirmed: retry with the same dedup key"
    )]
    BrokerUnavailable,
    #[error("batch of {size} alerts exceeds the limit of {max}")]
    BatchTooLarge { size: usize, max: usize },
    #[error("request has no alert")]
    MissingAlert,
}

impl IngestError {
    pub fn code(&self) -> Code {
        match self {
            IngestError::Invalid(_)
            | IngestError::BatchTooLarge { .. }
            | IngestError::MissingAlert => Code::InvalidArgument,
            IngestError::Unauthenticated(_) => Code::Unauthenticated,
            IngestError::WrongOffice { .. } => Code::PermissionDenied,
            IngestError::Overloaded => Code::ResourceExhausted,
            IngestError::BrokerUnavailable => Code::Unavailable,
        }
    }

    /// The field violations, for INVALID_ARGUMENT.
    pub fn violations(&self) -> Vec<(String, String)> {
        match self {
            IngestError::Invalid(Violations(violations)) => violations
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect(),
            IngestError::MissingAlert => vec![("alert".into(), "is required".into())],
            IngestError::BatchTooLarge { max, .. } => {
                vec![("alerts".into(), format!("at most {max} alerts per batch"))]
            }
            _ => Vec::new(),
        }
    }
}

/// The one place an ingest error becomes a `tonic::Status`; INVALID_ARGUMENT carries a
/// `google.rpc.BadRequest` with one field violation per rejected field.
pub fn to_status(error: &IngestError) -> Status {
    let code = error.code();
    let violations = error.violations();
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
