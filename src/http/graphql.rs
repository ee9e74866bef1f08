//! `/graphql`: queries and mutations over POST, queries over GET, and subscriptions (or any
//! operation) over WebSocket with the `graphql-transport-ws` or legacy `graphql-ws` protocol.
//!
//! One path for every HTTP operation: pick the answer's media type, read the parameters,
//! admit the caller (see `caller`: who calls, acting as whom, within which rate limit), find
//! the document (see [`crate::persisted`]), run it within the request deadline, and answer as
//! the GraphQL-over-HTTP specification says (see `answer`). A query runs while the token's
//! member is confirmed as one of the team's; a mutation waits for that.

use std::net::IpAddr;

use async_graphql::Variables;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::FutureExt;
use tokio_util::task::AbortOnDropHandle;

use super::caller::admit;
use super::negotiation::{MediaType, negotiate};
use super::params::{self, Params, ParamsError};
use super::rate_limit::{ClientAddr, client_ip};
use super::responses;
use super::websocket;
use crate::schema::{ApiError, ExecutionStarted, refused};
use crate::state::AppState;

pub(super) fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

async fn graphql_post(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(media) => media,
        Err(error) => return (StatusCode::NOT_ACCEPTABLE, error.to_string()).into_response(),
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let max = state.config.limits.max_body_bytes;
            let error = ApiError::LimitExceeded {
                limit: "request body size in bytes",
                max,
                actual: max + 1,
            };
            return responses::refused(media, error);
        }
        Err(_) => {
            return responses::refused(
                media,
                ApiError::bad_input("the request body could not be read"),
            );
        }
    };
    match params::from_post(&headers, &body) {
        Ok(params) => run(&state, &headers, ip, media, params, Method::Post).await,
        Err(error) => refuse_params(media, error),
    }
}

/// GET serves WebSocket upgrades and query-string operations on the same path.
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    if is_websocket_upgrade(request.headers()) {
        return websocket::upgrade(state, request).await;
    }
    let headers = request.headers();
    let media = match negotiate(headers) {
        Ok(media) => media,
        Err(error) => return (StatusCode::NOT_ACCEPTABLE, error.to_string()).into_response(),
    };
    let ip = client_ip(request.extensions());
    match params::from_get(request.uri().query()) {
        Ok(params) => run(&state, headers, ip, media, params, Method::Get).await,
        Err(error) => refuse_params(media, error),
    }
}

/// The HTTP method an operation came with: GET may not change anything.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

async fn run(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    media: MediaType,
    params: Params,
    method: Method,
) -> Response {
    let admitted = match admit(state, headers, ip).await {
        Ok(admitted) => admitted,
        Err(error) => return responses::refused(media, error),
    };
    let found = match state
        .persisted
        .document(params.query, &params.extensions)
        .await
    {
        Ok(found) => found,
        Err(error) => return responses::refused(media, error),
    };
    let started = ExecutionStarted::default();
    let mut request = async_graphql::Request::new(found.query)
        .variables(Variables::from_json(serde_json::Value::Object(
            params.variables,
        )))
        .data(started.clone());
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    let executor = state.executor(Some(admitted.caller.clone()));
    let operation = match executor.screen(&mut request) {
        Ok(operation) => operation,
        Err(error) => return responses::graphql(media, refused(error), false),
    };
    let mutation = operation.is_mutation();
    if method == Method::Get && mutation {
        return mutation_over_get(media);
    }
    // The operation runs as its own task, so the deadline answers even while the operation
    // is busy (validating, or resolving many fields at once) on another worker; the task is
    // aborted when the deadline passes or the client goes away.
    let task = AbortOnDropHandle::new(tokio::spawn({
        let state = state.clone();
        async move {
            let execution = executor.run(request, operation);
            confirmed(mutation, admitted.confirm(&state), execution).await
        }
    }));
    let deadline = state.config.limits.request_timeout;
    let outcome = tokio::time::timeout(deadline, task).await;
    if let Some(learning) = found.learning.filter(|_| started.get()) {
        state.persisted.learn(learning).await;
    }
    match outcome {
        Ok(Ok(Ok(response))) => responses::graphql(media, response, started.get()),
        Ok(Ok(Err(error))) => responses::refused(media, error),
        Ok(Err(failed)) => {
            tracing::error!(error = %failed, "an operation's task failed");
            responses::refused(media, ApiError::Internal)
        }
        Err(_) => {
            tracing::warn!(
                deadline_ms = deadline.as_millis(),
                "request cut off at its deadline"
            );
            responses::graphql(media, refused(ApiError::RequestTimeout { deadline }), true)
        }
    }
}

/// `execution`'s outcome once `confirmation` has passed. A mutation starts only after it: a
/// write must not start for a member the team does not know. Anything else runs alongside it,
/// which saves a cold round trip, and its answer is dropped unless the confirmation passes.
async fn confirmed<T>(
    mutation: bool,
    confirmation: impl Future<Output = Result<(), ApiError>>,
    execution: impl Future<Output = T>,
) -> Result<T, ApiError> {
    if mutation {
        confirmation.await?;
        Ok(execution.await)
    } else {
        let ((), outcome) = tokio::try_join!(confirmation, execution.map(Ok))?;
        Ok(outcome)
    }
}

/// 405 with `Allow: POST`: a GET can be replayed by caches, prefetchers and crawlers, so it
/// must never change anything.
fn mutation_over_get(media: MediaType) -> Response {
    let mut answer = responses::refused_with(
        media,
        StatusCode::METHOD_NOT_ALLOWED,
        ApiError::bad_input("mutations must be sent with POST"),
    );
    answer
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    answer
}

fn refuse_params(media: MediaType, error: ParamsError) -> Response {
    let status = match error {
        ParamsError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ParamsError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    responses::refused_with(media, status, ApiError::BadUserInput(error.to_string()))
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    fn refused() -> ApiError {
        ApiError::Forbidden("not a member".to_owned())
    }

    #[tokio::test]
    async fn a_mutation_never_starts_when_the_confirmation_fails() {
        let started = AtomicBool::new(false);
        let execution = async { started.store(true, Ordering::SeqCst) };
        let outcome = confirmed(true, async { Err(refused()) }, execution).await;
        assert!(matches!(outcome, Err(ApiError::Forbidden(_))));
        assert!(!started.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_query_runs_alongside_its_confirmation_and_waits_for_it() {
        for passes in [true, false] {
            let (running, is_running) = oneshot::channel();
            // The confirmation only ends once the query has started: run one after the other,
            // they would never finish.
            let confirmation = async move {
                is_running.await.map_err(|_| refused())?;
                if passes { Ok(()) } else { Err(refused()) }
            };
            let execution = async move {
                let _ = running.send(());
                "answer"
            };
            let outcome = tokio::time::timeout(
                Duration::from_secs(10),
                confirmed(false, confirmation, execution),
            )
            .await
            .expect("the query and its confirmation ran together");
            match (passes, outcome) {
                (true, Ok(answer)) => assert_eq!(answer, "answer"),
                (false, Err(ApiError::Forbidden(_))) => {}
                (_, other) => panic!("passes: {passes}, outcome: {other:?}"),
            }
        }
    }
}
