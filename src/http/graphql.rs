//! `/graphql`: queries and mutations over POST, queries over GET, and subscriptions (or any
//! operation) over WebSocket with the `graphql-transport-ws` or legacy `graphql-ws` protocol.
//!
//! One path for every HTTP operation: pick the answer's media type, read the parameters,
//! admit the caller (see `caller`: who calls, acting as whom, within which rate limit), find
//! the document (see [`crate::persisted`]), run it within the request deadline, and answer as
//! the GraphQL-over-HTTP specification says (see `answer`).

use std::net::IpAddr;

use async_graphql::parser::types::OperationType;
use async_graphql::{Executor, Variables};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::answer;
use super::caller::admit;
use super::negotiation::{MediaType, negotiate};
use super::params::{self, Params, ParamsError};
use super::rate_limit::{ClientAddr, client_ip};
use super::websocket;
use crate::schema::{ApiError, ExecutionStarted, selected_operation};
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
            return answer::refused(media, error);
        }
        Err(_) => {
            return answer::refused(
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
    let caller = match admit(state, headers, ip).await {
        Ok(caller) => caller,
        Err(error) => return answer::refused(media, error),
    };
    let document = match state
        .persisted
        .document(params.query, &params.extensions)
        .await
    {
        Ok(document) => document,
        Err(error) => return answer::refused(media, error),
    };
    let started = ExecutionStarted::default();
    let mut request = async_graphql::Request::new(document)
        .variables(Variables::from_json(serde_json::Value::Object(
            params.variables,
        )))
        .data(started.clone());
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if method == Method::Get && is_mutation(&mut request) {
        return mutation_over_get(media);
    }
    let deadline = state.config.limits.request_timeout;
    let executor = state.executor(Some(caller));
    // Boxed: an operation's future is large, and the handler's own would carry it on the stack.
    let execution = Box::pin(executor.execute(request));
    match tokio::time::timeout(deadline, execution).await {
        Ok(response) => answer::graphql(media, response, started.get()),
        Err(_) => {
            tracing::warn!(
                deadline_ms = deadline.as_millis(),
                "request cut off at its deadline"
            );
            let error = async_graphql::Error::from(ApiError::RequestTimeout { deadline });
            let response = async_graphql::Response::from_errors(vec![
                error.into_server_error(Default::default()),
            ]);
            answer::graphql(media, response, true)
        }
    }
}

/// Whether the operation that would run is a mutation. The parsed document stays in the
/// request, so the schema does not parse it again; a document that does not parse, or does not
/// contain the named operation, is left for the schema to report.
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    let operation_name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    selected_operation(document, operation_name.as_deref())
        .is_some_and(|(_, operation)| operation.node.ty == OperationType::Mutation)
}

/// 405 with `Allow: POST`: a GET can be replayed by caches, prefetchers and crawlers, so it
/// must never change anything.
fn mutation_over_get(media: MediaType) -> Response {
    let mut answer = answer::refused(
        media,
        ApiError::bad_input("mutations must be sent with POST"),
    );
    *answer.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
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
    let mut answer = answer::refused(media, ApiError::BadUserInput(error.to_string()));
    *answer.status_mut() = status;
    answer
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}
