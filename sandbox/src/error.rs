//! The one error type of the simulated API, and its JSON body.
//!
//! The real API does not document its error bodies (heymarket-api.md §10). We answer
//! `{"error": "<code>", "message": "<text>"}` with the codes its rate-limit page names, so a
//! client has a stable `error` to branch on and a readable `message`. Change the shape here only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything a simulated endpoint can refuse, each mapped to one status and code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    /// Malformed body or invalid fields; the message names the field.
    #[error("{0}")]
    BadData(String),
    /// A message to a contact who opted out of messaging.
    #[error("{0} has unsubscribed from messages")]
    Unsubscribed(String),
    /// Missing or invalid credentials.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// Valid credentials, but the acting member may not do this.
    #[error("{0}")]
    Denied(String),
    /// No such object (for this team).
    #[error("{0}")]
    NotFound(String),
    /// The team spent its request budget.
    #[error("rate limit exceeded")]
    RateLimited,
    /// A failure injected through the fault knobs, or a broken internal invariant.
    #[error("internal server error")]
    ServerError,
}

impl ApiError {
    pub(crate) fn bad_data(message: impl Into<String>) -> Self {
        Self::BadData(message.into())
    }

    pub(crate) fn denied(message: impl Into<String>) -> Self {
        Self::Denied(message.into())
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// A required body or query field that is absent.
    pub(crate) fn missing(field: &str) -> Self {
        Self::BadData(format!("{field} is required"))
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadData(_) | Self::Unsubscribed(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Denied(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable `error` field.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::BadData(_) => "bad_data",
            Self::Unsubscribed(_) => "unsubscribed_number",
            Self::Unauthorized => "Unauthorized",
            Self::Denied(_) => "Denied",
            Self::NotFound(_) => "not_found",
            Self::RateLimited => "rate_limit_exceeded",
            Self::ServerError => "server_error",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}

/// The result of every simulated endpoint.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Turns `Some(value)` into the value and `None` into a "field is required" error.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::missing(field))
}
