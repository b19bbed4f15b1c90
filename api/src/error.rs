//! The one error type of the HTTP API and the one JSON body it maps to.
//!
//! Every refusal the sidecar gives goes through [`ApiError`], so a client
//! always sees `{"error": {"code", "message", "fields"?}}` with a fitting
//! status. Causes that the client cannot fix (a database failure) are logged
//! here, once, and the client gets a generic 5xx without the detail.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Field name to the reason it was refused, in a stable order.
pub type FieldErrors = BTreeMap<String, String>;

/// Everything that can make the API refuse or fail a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body passed the configured cap.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The content type is neither JSON nor urlencoded.
    #[error("content type must be application/json or application/x-www-form-urlencoded")]
    UnsupportedMediaType,
    /// The body could not be decoded at all.
    #[error("request body is malformed: {0}")]
    MalformedBody(String),
    /// The request came from another site.
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// The client sent too many submissions.
    #[error("too many submissions; try again later")]
    RateLimited {
        /// How long until the next submission is allowed.
        retry_after: Duration,
    },
    /// One or more fields must be fixed.
    #[error("some fields must be fixed")]
    InvalidFields(FieldErrors),
    /// The spam policy refused the submission.
    #[error("submission refused: {0}")]
    SpamRefused(&'static str),
    /// The database is not reachable.
    #[error("service unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else; the cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a FieldErrors>,
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MalformedBody(_) => StatusCode::BAD_REQUEST,
            Self::CrossOrigin => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::InvalidFields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::SpamRefused(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MalformedBody(_) => "malformed_body",
            Self::CrossOrigin => "cross_origin",
            Self::RateLimited { .. } => "rate_limited",
            Self::InvalidFields(_) => "invalid_fields",
            Self::SpamRefused(_) => "spam_refused",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// Seconds to put in `Retry-After`, rounded up so a client never retries early.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } => {
                Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            _ => None,
        }
    }

    /// Logs the error once: the cause for server faults, the code for refusals.
    pub fn log(&self) {
        match self {
            Self::Unavailable(cause) => tracing::error!(error = %cause, "database unavailable"),
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed")
            }
            other => tracing::debug!(code = other.code(), "request refused"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(err)
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let fields = match &self {
            Self::InvalidFields(fields) => Some(fields),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail { code: self.code(), message: self.to_string(), fields },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
