//! Writing GraphQL answers over HTTP: the status code, media type and body the
//! GraphQL-over-HTTP specification prescribes for each outcome.
//!
//! - An operation that ran answers 200, with `data` (even when fields failed).
//! - A request that failed before it ran (unparsable, invalid, over a limit) has no `data`:
//!   400 in `application/graphql-response+json`, 200 in legacy `application/json`.
//! - A request the gateway refused (credentials, rate limit, bad parameters, unknown persisted
//!   query) answers the status its error stands for.

use std::collections::BTreeMap;

use async_graphql::{ServerError, Value};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::negotiation::MediaType;
use crate::error::ApiError;

/// The answer to an operation handed to the schema; `started` says whether it got as far as
/// execution.
pub(crate) fn graphql(
    media: MediaType,
    response: async_graphql::Response,
    started: bool,
) -> Response {
    let status = match (started, media) {
        (true, _) | (false, MediaType::Json) => StatusCode::OK,
        (false, MediaType::GraphqlResponse) => StatusCode::BAD_REQUEST,
    };
    let body = if started {
        serde_json::to_vec(&response)
    } else {
        serde_json::to_vec(&WithoutData {
            errors: &response.errors,
            extensions: &response.extensions,
        })
    };
    let mut answer = json(media, status, body);
    answer.headers_mut().extend(response.http_headers);
    answer
}

/// The answer to a request refused before it reached the schema, with the status its error
/// stands for. A 401 says which scheme to authenticate with (`WWW-Authenticate`), a rate limit
/// when to come back (`Retry-After`, whole seconds). Logged once, here.
pub(crate) fn refused(media: MediaType, error: ApiError) -> Response {
    refused_with(media, status_of(media, &error), error)
}

/// [`refused`] with a status the request's form decides rather than its error (a GET
/// mutation's 405, an unreadable body's 415 or 400).
pub(crate) fn refused_with(media: MediaType, status: StatusCode, error: ApiError) -> Response {
    if matches!(
        error,
        ApiError::RateLimited { .. } | ApiError::PersistedQueryNotFound
    ) {
        tracing::debug!(reason = %error, "request refused");
    } else {
        tracing::info!(code = error.code(), reason = %error, "request refused");
    }
    let retry_after = match &error {
        ApiError::RateLimited { retry_after } => Some(
            retry_after
                .map_or(1, |wait| wait.as_millis().div_ceil(1000))
                .max(1),
        ),
        _ => None,
    };
    let error = error.into_request_error();
    let body = serde_json::to_vec(&WithoutData {
        errors: &[error],
        extensions: &BTreeMap::new(),
    });
    let mut answer = json(media, status, body);
    let headers = answer.headers_mut();
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="heymarket-gateway""#),
        );
    }
    if let Some(seconds) = retry_after {
        let seconds = u64::try_from(seconds).unwrap_or(u64::MAX);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    answer
}

fn status_of(media: MediaType, error: &ApiError) -> StatusCode {
    match error {
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) | ApiError::OperationNotAllowed => StatusCode::FORBIDDEN,
        ApiError::BadUserInput(_) => StatusCode::BAD_REQUEST,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::LimitExceeded { .. } | ApiError::UpstreamBudgetExceeded { .. } => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        // An APQ miss is part of the protocol, not a failure: legacy clients expect 200, and
        // the newer media type needs a 4xx for an answer without `data`.
        ApiError::PersistedQueryNotFound => match media {
            MediaType::Json => StatusCode::OK,
            MediaType::GraphqlResponse => StatusCode::BAD_REQUEST,
        },
        ApiError::IdempotencyKeyInUse => StatusCode::CONFLICT,
        // An incomplete listing and an unavailable count are field errors beside their
        // list's data; a whole request failing with one would be an answer the upstream
        // could not give.
        ApiError::UpstreamUnavailable
        | ApiError::UpstreamFailing { .. }
        | ApiError::OutcomeUnknown { .. }
        | ApiError::IncompleteListing { .. }
        | ApiError::CountUnavailable(_)
        | ApiError::ReadStateUnavailable(_) => StatusCode::BAD_GATEWAY,
        ApiError::UpstreamTimeout | ApiError::RequestTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        ApiError::ShuttingDown | ApiError::TooManyConnections { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A request error's body: the specification forbids a `data` entry when nothing ran.
#[derive(Serialize)]
struct WithoutData<'a> {
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

fn json(media: MediaType, status: StatusCode, body: serde_json::Result<Vec<u8>>) -> Response {
    match body {
        // `Vary: Accept`: the media type, and with it the status, depends on that header, so a
        // shared cache must not answer one client with another's (GET answers are cacheable).
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, media.content_type()),
                (header::VARY, HeaderValue::from_static("accept")),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "could not serialise a GraphQL answer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
