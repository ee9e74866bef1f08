//! The upstream client's one error type, and how HTTP answers and transport failures map onto it.
//!
//! Messages are safe to log and to show: they never hold credentials, response bodies, or URL
//! query strings (which can carry phone numbers).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::de;
use crate::text::shortened;

/// Longest upstream error message kept from a 400 answer; the rest is cut.
const MAX_MESSAGE_CHARS: usize = 200;

/// Why an upstream call failed, typed so the schema can map each kind once.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Pass-through mode, and the caller presented no bearer token to forward.
    #[error("no upstream credential: the request carries no bearer token to pass through")]
    MissingCredential,
    /// The credential holds characters an HTTP header cannot carry.
    #[error("the upstream credential cannot be sent in an HTTP header")]
    InvalidCredential,
    /// The API-secret JWT could not be signed.
    #[error("could not sign the upstream token: {0}")]
    Signing(jsonwebtoken::errors::Error),
    /// The configured base URL cannot take a path (e.g. `mailto:`).
    #[error("the upstream base URL cannot take a path")]
    InvalidBaseUrl,
    /// A request body could not be serialised.
    #[error("could not encode the request to {route}: {reason}")]
    Encode { route: String, reason: String },
    /// 400: the upstream refused the request as malformed; `code` and `message` come from its
    /// error body when it has one.
    #[error(
        "the upstream refused the request as invalid: {}",
        .message.as_deref().or(.code.as_deref()).unwrap_or("no reason given")
    )]
    BadRequest {
        code: Option<String>,
        message: Option<String>,
    },
    /// 401: missing or invalid credentials.
    #[error("the upstream rejected the credentials")]
    Unauthorized,
    /// 403: valid credentials without access to this action.
    #[error("the upstream denied access to this action")]
    Forbidden,
    /// 404: no such resource.
    #[error("the upstream has no such resource")]
    NotFound,
    /// 429: the upstream's budget is spent; `retry_after` is its `Retry-After`, when sent.
    #[error("the upstream rate limit is exhausted")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx.
    #[error("the upstream failed with status {status}")]
    Server { status: u16 },
    /// Any other non-success status.
    #[error("the upstream answered with unexpected status {status}")]
    UnexpectedStatus { status: u16 },
    /// One attempt took longer than the configured timeout.
    #[error("the upstream did not answer in time")]
    Timeout,
    /// The connection failed. `connect` is true when no connection was ever established, so
    /// the request provably never reached the upstream.
    #[error("could not talk to the upstream: {reason}")]
    Transport { connect: bool, reason: String },
    /// A success answer whose body does not have the expected shape.
    #[error("could not decode the upstream answer to {route}: {reason}")]
    Decode { route: String, reason: String },
    /// The operation has sent every upstream call its budget allows (`--max-upstream-calls`),
    /// so this one was not sent.
    #[error("the operation may make at most {budget} upstream calls, and has made them")]
    BudgetSpent { budget: u64 },
    /// The circuit breaker is open: the upstream has been failing, so the call was refused
    /// without being sent. It may be tried again after `retry_after`.
    #[error("the upstream is failing; calls are refused for {} ms", .retry_after.as_millis())]
    CircuitOpen { retry_after: Duration },
}

impl Error {
    /// Whether the same request may succeed if simply sent again (rate limits, server errors,
    /// timeouts, broken connections). Whether it is *safe* to send again is the caller's call:
    /// see `retry::CallKind`.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Timeout | Self::Transport { .. }
        )
    }

    /// Whether a write that failed so may all the same have been applied: it reached the
    /// upstream, but no usable answer came back (the attempt timed out, the connection broke
    /// after the request was sent, the upstream failed with a 5xx, which may come after it
    /// stored the change, or a success answer could not be read). A refusal (4xx, 429) was not
    /// applied, and neither was a call that never connected or was never sent.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Timeout
                | Self::Transport { connect: false, .. }
                | Self::Server { .. }
                | Self::Decode { .. }
        )
    }

    /// Maps a non-success answer. Only a 400's body is read, and only its `error`/`message`.
    pub(crate) fn from_status(
        status: StatusCode,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Self {
        match status.as_u16() {
            400 => {
                let body: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
                Self::BadRequest {
                    code: body.error.map(|code| shortened(&code, MAX_MESSAGE_CHARS)),
                    message: body
                        .message
                        .map(|message| shortened(&message, MAX_MESSAGE_CHARS)),
                }
            }
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            429 => Self::RateLimited { retry_after },
            500..=599 => Self::Server {
                status: status.as_u16(),
            },
            other => Self::UnexpectedStatus { status: other },
        }
    }

    /// Maps a reqwest failure, stripping the URL's query string (it can hold phone numbers).
    pub(crate) fn from_transport(mut err: reqwest::Error) -> Self {
        if let Some(url) = err.url_mut() {
            url.set_query(None);
        }
        if err.is_connect() {
            Self::Transport {
                connect: true,
                reason: error_chain(&err),
            }
        } else if err.is_timeout() {
            Self::Timeout
        } else {
            Self::Transport {
                connect: false,
                reason: error_chain(&err),
            }
        }
    }

    /// A body that is not the expected JSON. serde's message is kept, with any quoted body text
    /// in it (e.g. `invalid type: string "…"`) blanked out.
    pub(crate) fn decode(route: String, err: &serde_json::Error) -> Self {
        Self::Decode {
            route,
            reason: redact_quoted(&err.to_string()),
        }
    }
}

/// Reads `Retry-After` in its delta-seconds form. The HTTP-date form is treated as absent: the
/// Heymarket docs do not mention the header at all, so only the common form is honoured.
pub(crate) fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// The error body shape. Undocumented upstream (heymarket-api.md §10); the sandbox answers
/// `{"error", "message"}`, and Heymarket's other surface uses `error_code`. Anything else reads
/// as empty.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default, alias = "error_code", deserialize_with = "de::lenient")]
    error: Option<String>,
    #[serde(default, deserialize_with = "de::lenient")]
    message: Option<String>,
}

fn error_chain(err: &reqwest::Error) -> String {
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

fn redact_quoted(message: &str) -> String {
    let mut redacted = String::with_capacity(message.len());
    for (index, part) in message.split('"').enumerate() {
        if index > 0 {
            redacted.push('"');
        }
        redacted.push_str(if index % 2 == 1 { "…" } else { part });
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn statuses_map_to_their_variants() {
        let map = |code| Error::from_status(status(code), None, b"");
        assert!(matches!(map(401), Error::Unauthorized));
        assert!(matches!(map(403), Error::Forbidden));
        assert!(matches!(map(404), Error::NotFound));
        assert!(matches!(map(429), Error::RateLimited { retry_after: None }));
        assert!(matches!(map(500), Error::Server { status: 500 }));
        assert!(matches!(map(503), Error::Server { status: 503 }));
        assert!(matches!(map(409), Error::UnexpectedStatus { status: 409 }));
        assert!(matches!(map(302), Error::UnexpectedStatus { status: 302 }));
    }

    #[test]
    fn rate_limits_carry_the_retry_after() {
        let wait = Some(Duration::from_secs(7));
        assert!(matches!(
            Error::from_status(status(429), wait, b""),
            Error::RateLimited { retry_after } if retry_after == wait
        ));
    }

    #[test]
    fn bad_requests_read_code_and_message_from_the_body() {
        let body = br#"{"error":"bad_data","message":"inbox_id is required","extra":1}"#;
        let Error::BadRequest { code, message } = Error::from_status(status(400), None, body)
        else {
            panic!("not a bad request");
        };
        assert_eq!(code.as_deref(), Some("bad_data"));
        assert_eq!(message.as_deref(), Some("inbox_id is required"));
    }

    #[test]
    fn bad_requests_accept_error_code_and_odd_bodies() {
        let read = |body: &[u8]| match Error::from_status(status(400), None, body) {
            Error::BadRequest { code, message } => (code, message),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            read(br#"{"error_code":"invalid_phone_number"}"#),
            (Some("invalid_phone_number".to_owned()), None)
        );
        assert_eq!(read(br#"{"error":404,"message":["x"]}"#), (None, None));
        assert_eq!(read(b"<html>oops</html>"), (None, None));
        assert_eq!(read(br#""bad_data""#), (None, None));
        assert_eq!(read(b""), (None, None));
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(500);
        let body = serde_json::to_vec(&serde_json::json!({ "message": long })).unwrap();
        let Error::BadRequest {
            message: Some(message),
            ..
        } = Error::from_status(status(400), None, &body)
        else {
            panic!("no message");
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let parse = |v: &'static str| parse_retry_after(&HeaderValue::from_static(v));
        assert_eq!(parse("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse("-1"), None);
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let retryable = [
            Error::RateLimited { retry_after: None },
            Error::Server { status: 502 },
            Error::Timeout,
            Error::Transport {
                connect: true,
                reason: String::new(),
            },
            Error::Transport {
                connect: false,
                reason: String::new(),
            },
        ];
        let final_ = [
            Error::BadRequest {
                code: None,
                message: None,
            },
            Error::Unauthorized,
            Error::Forbidden,
            Error::NotFound,
            Error::UnexpectedStatus { status: 409 },
            Error::Decode {
                route: String::new(),
                reason: String::new(),
            },
            Error::MissingCredential,
            Error::CircuitOpen {
                retry_after: Duration::from_secs(1),
            },
        ];
        assert!(retryable.iter().all(Error::is_retryable));
        assert!(!final_.iter().any(Error::is_retryable));
    }

    #[test]
    fn only_failures_after_the_request_was_sent_leave_the_outcome_unknown() {
        let transport = |connect| Error::Transport {
            connect,
            reason: String::new(),
        };
        let decode = Error::Decode {
            route: String::new(),
            reason: String::new(),
        };
        for unknown in [
            Error::Timeout,
            transport(false),
            Error::Server { status: 500 },
            decode,
        ] {
            assert!(unknown.outcome_unknown(), "{unknown:?}");
        }
        for known in [
            transport(true),
            Error::Unauthorized,
            Error::RateLimited { retry_after: None },
            Error::BudgetSpent { budget: 1 },
            Error::CircuitOpen {
                retry_after: Duration::from_secs(1),
            },
        ] {
            assert!(!known.outcome_unknown(), "{known:?}");
        }
    }

    #[test]
    fn decode_errors_keep_serde_message_without_body_text() {
        let err = serde_json::from_str::<i64>(r#""14155551234""#).unwrap_err();
        let Error::Decode { route, reason } = Error::decode("GET /v1/team".to_owned(), &err) else {
            panic!("not a decode error");
        };
        assert_eq!(route, "GET /v1/team");
        assert!(reason.contains("invalid type"), "{reason}");
        assert!(!reason.contains("14155551234"), "{reason}");
    }
}
