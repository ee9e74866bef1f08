//! The gateway's one client-facing error type and its stable `extensions.code` values.
//!
//! The crate enables async-graphql's `custom-error-conversion` feature, which removes the blanket
//! conversion from any `Display` type into a GraphQL error: every error a resolver returns has to
//! pass through [`ApiError`], so none reaches a client without a code or with internals in it.

use async_graphql::ServerError;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::upstream;

/// Suggested wait when the upstream signalled a rate limit without saying for how long.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A failed field, as clients see it: a message for people and a code for programs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No usable credential came with the request, or the upstream rejected it.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not see or change this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (or is not visible to this caller).
    #[error("{0}")]
    NotFound(String),
    /// An argument, id, cursor or header is malformed or out of range; the message says how to
    /// fix it.
    #[error("{0}")]
    BadUserInput(String),
    /// Too many requests; retry after the given time.
    #[error("rate limit reached; retry in {} ms", retry_after_ms(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// The upstream API failed or answered something unusable; retrying later may work.
    #[error("the Heymarket API is unavailable; retry later")]
    UpstreamUnavailable,
    /// The upstream API has been failing, so the gateway stopped calling it for a while (its
    /// circuit breaker is open); retry after the given time. Same code as
    /// [`ApiError::UpstreamUnavailable`]: clients react to both the same way.
    #[error("the Heymarket API is failing; retry in {} ms", .retry_after.as_millis())]
    UpstreamFailing { retry_after: Duration },
    /// A send reached the upstream without a usable answer (a timeout, a connection broken
    /// after sending, a server error, an unreadable answer): it may or may not have been sent,
    /// and sending it again could send it twice. With an idempotency key (`keyed`), the
    /// conversation's newest messages did not show it either, and the key stays bound to it.
    #[error("{}", outcome_unknown_message(*keyed))]
    OutcomeUnknown { keyed: bool },
    /// Another request with the same idempotency key is still sending its message; retried
    /// shortly, this request answers that send's result.
    #[error(
        "another request with this idempotencyKey is still sending its message; retry shortly to get that send's result"
    )]
    IdempotencyKeyInUse,
    /// The upstream API did not answer within its deadline.
    #[error("the Heymarket API did not answer in time; retry later")]
    UpstreamTimeout,
    /// The request is larger or more demanding than this gateway serves (refused before any
    /// upstream call).
    #[error("the {limit} ({actual}) exceeds the limit of {max}; ask for less per request")]
    LimitExceeded {
        limit: &'static str,
        max: usize,
        actual: usize,
    },
    /// The operation needed more upstream calls than one operation may make; the call that
    /// would have exceeded the budget was not sent, so the fields that needed it failed.
    #[error(
        "this operation needs more upstream calls than one operation may make ({budget}); ask for less per request (fewer ids, rows or nested lists), or split it"
    )]
    UpstreamBudgetExceeded { budget: u64 },
    /// A list answered everything the upstream API can list, but the API cannot list it all:
    /// at least a whole upstream page of its items share one cursor value (`instant`), and the
    /// API pages by that value only, so the items of that instant beyond the page it shows
    /// cannot be read. Reported beside the list's data, which goes on past the instant.
    #[error(
        "this list may be missing {items} at {}: at least a whole page of them share that {unit}, and the Heymarket API pages by {unit} only, so it shows no more of them than one page holds; the list holds what it shows and goes on past it",
        instant.to_rfc3339_opts(SecondsFormat::Micros, true)
    )]
    IncompleteListing {
        /// What the list holds, e.g. `messages`.
        items: &'static str,
        /// The cursor's unit, e.g. `second`.
        unit: &'static str,
        instant: DateTime<Utc>,
    },
    /// The upstream cannot be shown to count what was asked: its count endpoint documents no
    /// filters, and where its answers have not shown that it applies them, a count would be a
    /// guess. The message says which part could not be counted.
    #[error("{0}")]
    CountUnavailable(String),
    /// Whether a conversation is unread for the acting member could not be read: its answer
    /// names no member's read state, and the member's own list did not show it where it
    /// should be (it changed meanwhile, or too many conversations share its instant). Retrying
    /// usually works.
    #[error("{0}")]
    ReadStateUnavailable(String),
    /// The request did not finish within the gateway's deadline.
    #[error("the request did not finish within {} ms; retry later, or ask for less", .deadline.as_millis())]
    RequestTimeout { deadline: Duration },
    /// The request named a persisted query by hash only, and this gateway does not know it:
    /// send it again with its document. The message is the one Apollo's clients look for.
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// This gateway runs only the operations on its allowlist, and this is not one of them.
    #[error("this operation is not on the gateway's allowlist; only registered operations run")]
    OperationNotAllowed,
    /// The gateway is stopping and cut this request off at its shutdown deadline; sent again,
    /// it reaches another replica (or this one, restarted).
    #[error("the gateway is shutting down; retry the request")]
    ShuttingDown,
    /// The gateway holds as many connections of this kind as it allows; retry later.
    #[error("the gateway has as many {kind} open as it allows; retry later")]
    TooManyConnections { kind: &'static str },
    /// A bug or misconfiguration on our side; details are in the gateway's log, not here.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The stable, machine-readable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadUserInput(_) => "BAD_USER_INPUT",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::UpstreamUnavailable | Self::UpstreamFailing { .. } => "UPSTREAM_UNAVAILABLE",
            Self::UpstreamTimeout => "UPSTREAM_TIMEOUT",
            Self::OutcomeUnknown { .. } => "OUTCOME_UNKNOWN",
            Self::IdempotencyKeyInUse => "IDEMPOTENCY_KEY_IN_USE",
            Self::LimitExceeded { .. } => "QUERY_LIMIT_EXCEEDED",
            Self::UpstreamBudgetExceeded { .. } => "UPSTREAM_BUDGET_EXCEEDED",
            Self::IncompleteListing { .. } => "INCOMPLETE_LISTING",
            Self::CountUnavailable(_) => "COUNT_UNAVAILABLE",
            Self::ReadStateUnavailable(_) => "READ_STATE_UNAVAILABLE",
            Self::RequestTimeout { .. } => "REQUEST_TIMEOUT",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::OperationNotAllowed => "OPERATION_NOT_ALLOWED",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::TooManyConnections { .. } => "TOO_MANY_CONNECTIONS",
            Self::Internal => "INTERNAL",
        }
    }

    /// Shorthand for [`ApiError::BadUserInput`].
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadUserInput(message.into())
    }

    /// This error as a request error: one with no place in the document, so without
    /// `locations` (positions start at 1; async-graphql would say 0:0).
    pub fn into_request_error(self) -> ServerError {
        let mut error = async_graphql::Error::from(self).into_server_error(Default::default());
        error.locations.clear();
        error
    }
}

/// What went wrong in an error the GraphQL library reports itself, which carries no code: the
/// codes are Apollo Server's, the ones clients already switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibraryError {
    /// The document is not GraphQL.
    Parse,
    /// The document does not fit the schema.
    Validation,
    /// A variable or argument value does not fit its type.
    Input,
}

impl LibraryError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Parse => "GRAPHQL_PARSE_FAILED",
            Self::Validation => "GRAPHQL_VALIDATION_FAILED",
            Self::Input => "BAD_USER_INPUT",
        }
    }

    /// Gives `error` this code, unless it has one already.
    pub fn code_uncoded(self, error: &mut ServerError) {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", self.code());
        }
    }
}

fn outcome_unknown_message(keyed: bool) -> &'static str {
    if keyed {
        "the message may or may not have been sent: the Heymarket API received it without a usable answer, and it is not among the conversation's newest messages. Sending again with this idempotencyKey answers the same, and sends nothing: read the conversation's messages, and if it never arrives, send it with a new idempotencyKey"
    } else {
        "the message may or may not have been sent: the Heymarket API received it without a usable answer. Do not simply send it again: read the conversation's messages to see whether it arrived. Sending with an `idempotencyKey` makes a retry safe"
    }
}

fn retry_after_ms(retry_after: Option<Duration>) -> u128 {
    retry_after.unwrap_or(DEFAULT_RETRY_AFTER).as_millis()
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        let mut graphql = async_graphql::Error::new(error.to_string());
        graphql = async_graphql::ErrorExtensions::extend_with(graphql, |_, extensions| {
            extensions.set("code", error.code());
            match &error {
                ApiError::RateLimited { retry_after } => {
                    let millis = u64::try_from(retry_after_ms(*retry_after)).unwrap_or(u64::MAX);
                    extensions.set("retryAfterMs", millis);
                }
                ApiError::UpstreamFailing { retry_after } => {
                    let millis = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX);
                    extensions.set("retryAfterMs", millis);
                }
                ApiError::LimitExceeded { limit, max, .. } => {
                    extensions.set("limit", *limit);
                    extensions.set("max", u64::try_from(*max).unwrap_or(u64::MAX));
                }
                ApiError::UpstreamBudgetExceeded { budget } => {
                    extensions.set("budget", *budget);
                }
                ApiError::IncompleteListing { instant, .. } => {
                    extensions.set(
                        "instant",
                        instant.to_rfc3339_opts(SecondsFormat::Micros, true),
                    );
                }
                _ => {}
            }
        });
        graphql
    }
}

/// The single place where upstream failures become client-facing errors. The upstream's own
/// detail (status, decode reason) is logged here once and never sent to the client.
impl From<upstream::Error> for ApiError {
    fn from(error: upstream::Error) -> Self {
        use upstream::Error as E;
        let mapped = match &error {
            E::MissingCredential | E::InvalidCredential => Self::Unauthenticated(
                "send `Authorization: Bearer <Heymarket credential>`: this gateway passes callers' credentials through"
                    .to_owned(),
            ),
            E::Unauthorized => {
                Self::Unauthenticated("the Heymarket API rejected the credentials".to_owned())
            }
            E::Forbidden => {
                Self::Forbidden("the Heymarket API denied access to this resource".to_owned())
            }
            E::NotFound => Self::NotFound("not found".to_owned()),
            E::BadRequest { message, .. } => Self::BadUserInput(
                message.clone().unwrap_or_else(|| "the Heymarket API refused the request as invalid".to_owned()),
            ),
            E::RateLimited { retry_after } => Self::RateLimited { retry_after: *retry_after },
            E::Timeout => Self::UpstreamTimeout,
            E::CircuitOpen { retry_after } => Self::UpstreamFailing { retry_after: *retry_after },
            E::BudgetSpent { budget } => Self::UpstreamBudgetExceeded { budget: *budget },
            E::Server { .. } | E::UnexpectedStatus { .. } | E::Transport { .. } | E::Decode { .. } => {
                Self::UpstreamUnavailable
            }
            E::Signing(_) | E::InvalidBaseUrl | E::Encode { .. } => Self::Internal,
        };
        match mapped {
            Self::UpstreamUnavailable | Self::UpstreamTimeout => {
                tracing::warn!(%error, "upstream call failed")
            }
            _ => tracing::debug!(%error, "upstream call refused"),
        }
        mapped
    }
}
