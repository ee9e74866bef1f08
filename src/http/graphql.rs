//! `/graphql`: queries over POST and GET, and subscriptions (or any operation) over WebSocket
//! with the `graphql-transport-ws` or legacy `graphql-ws` protocol.
//!
//! Who is calling is settled here, at the edge, and handed to the schema as a [`Caller`].

use async_graphql::http::MultipartOptions;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Extension, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::SecretString;

use super::request_id::RequestId;
use super::websocket;
use crate::schema::{ApiError, Caller, GlobalId, NodeKind};
use crate::state::AppState;

/// Header naming the member a request acts as (a database id or a global `Member` id).
pub(super) const MEMBER_HEADER: &str = "x-member-id";
/// Header asking for `extensions.cost` in production mode (sandbox mode always reports it).
const COST_HEADER: &str = "x-include-cost";

pub(super) fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

async fn graphql_post(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let max = state.config.limits.max_body_bytes;
            let error = ApiError::LimitExceeded {
                limit: "request body size in bytes",
                max,
                actual: max + 1,
            };
            return error_response(StatusCode::PAYLOAD_TOO_LARGE, error);
        }
        Err(rejection) => {
            return error_response(
                rejection.status(),
                ApiError::bad_input("the request body could not be read"),
            );
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let request =
        async_graphql::http::receive_body(content_type, body.as_ref(), MultipartOptions::default())
            .await;
    match request {
        Ok(request) => execute(&state, &headers, &request_id, request).await,
        Err(error) => Rejection(error).into_response(),
    }
}

/// GET serves WebSocket upgrades and query-string operations on the same path.
async fn graphql_get(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    request: Request,
) -> Response {
    if is_websocket_upgrade(request.headers()) {
        return websocket::upgrade(state, request_id, request).await;
    }
    let headers = request.headers().clone();
    match GraphQLRequest::<Rejection>::from_request(request, &state).await {
        Ok(graphql) => execute(&state, &headers, &request_id, graphql.into_inner()).await,
        Err(rejection) => rejection.into_response(),
    }
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &RequestId,
    request: async_graphql::Request,
) -> Response {
    let mut caller = match caller(state, headers) {
        Ok(caller) => caller,
        Err((status, error)) => return error_response(status, error),
    };
    caller.upstream = caller.upstream.with_request_id(request_id.to_string());
    let deadline = state.config.limits.request_timeout;
    let executor = state.executor(Some(caller));
    let execution = async_graphql::Executor::execute(&executor, request);
    match tokio::time::timeout(deadline, execution).await {
        Ok(response) => GraphQLResponse::from(response).into_response(),
        Err(_) => {
            tracing::warn!(
                deadline_ms = deadline.as_millis(),
                "request cut off at its deadline"
            );
            error_response(StatusCode::OK, ApiError::RequestTimeout { deadline })
        }
    }
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

/// Settles who is calling: the upstream tenant (the configured credential, or the caller's
/// bearer in pass-through mode) and the member to act as.
pub(super) fn caller(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Caller, (StatusCode, ApiError)> {
    let requested_member = requested_member(headers).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    let upstream = state
        .upstream
        .tenant(bearer(headers))
        .map_err(|e| (StatusCode::UNAUTHORIZED, ApiError::from(e)))?;
    let report_cost = state.config.sandbox_mode || headers.contains_key(COST_HEADER);
    Ok(Caller {
        upstream,
        requested_member,
        report_cost,
    })
}

fn bearer(headers: &HeaderMap) -> Option<SecretString> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| SecretString::from(token.to_owned()))
}

fn requested_member(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(MEMBER_HEADER) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::bad_input("X-Member-Id must be a member's databaseId (e.g. 501) or its global id")
    };
    let value = value.to_str().map_err(|_| invalid())?.trim();
    if let Ok(id) = value.parse::<i64>() {
        return if id > 0 { Ok(Some(id)) } else { Err(invalid()) };
    }
    GlobalId::parse_as(value, NodeKind::Member)
        .map(Some)
        .map_err(|_| invalid())
}

/// A GraphQL-shaped error answer for failures before execution starts.
pub(super) fn error_response(status: StatusCode, error: ApiError) -> Response {
    let error: async_graphql::Error = error.into();
    let response =
        async_graphql::Response::from_errors(vec![error.into_server_error(Default::default())]);
    (status, GraphQLResponse::from(response)).into_response()
}

/// Why a request could not be read as GraphQL, answered in GraphQL's error shape instead of the
/// library's debug text.
pub(super) struct Rejection(async_graphql::ParseRequestError);

impl From<async_graphql::ParseRequestError> for Rejection {
    fn from(error: async_graphql::ParseRequestError) -> Self {
        Self(error)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        use async_graphql::ParseRequestError as E;
        let (status, message) = match &self.0 {
            E::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large".to_owned(),
            ),
            E::UnsupportedBatch => (
                StatusCode::BAD_REQUEST,
                "batched operations are not supported; send one operation per request".to_owned(),
            ),
            other => (
                StatusCode::BAD_REQUEST,
                format!("not a GraphQL request: {other}"),
            ),
        };
        error_response(status, ApiError::BadUserInput(message))
    }
}
