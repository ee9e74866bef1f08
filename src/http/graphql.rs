//! `/graphql`: queries over POST and GET, and subscriptions (or any operation) over WebSocket
//! with the `graphql-transport-ws` or legacy `graphql-ws` protocol.
//!
//! Before an operation runs, the caller is settled and admitted at the edge (see `caller`: who
//! calls, acting as whom, within which rate limit); a refusal is answered here with its HTTP
//! status.

use std::net::IpAddr;

use async_graphql::http::MultipartOptions;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::caller::admit;
use super::rate_limit::{ClientAddr, client_ip};
use super::websocket;
use crate::schema::ApiError;
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
        Ok(request) => execute(&state, &headers, ip, request).await,
        Err(error) => Rejection(error).into_response(),
    }
}

/// GET serves WebSocket upgrades and query-string operations on the same path.
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    if is_websocket_upgrade(request.headers()) {
        return websocket::upgrade(state, request).await;
    }
    let headers = request.headers().clone();
    let ip = client_ip(request.extensions());
    match GraphQLRequest::<Rejection>::from_request(request, &state).await {
        Ok(graphql) => execute(&state, &headers, ip, graphql.into_inner()).await,
        Err(rejection) => rejection.into_response(),
    }
}

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    request: async_graphql::Request,
) -> Response {
    let caller = match admit(state, headers, ip).await {
        Ok(caller) => caller,
        Err(error) => return refusal(error),
    };
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

/// A request refused before execution, answered with the status its error stands for, and
/// logged once, here.
fn refusal(error: ApiError) -> Response {
    let status = match &error {
        ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::BadUserInput(_) => StatusCode::BAD_REQUEST,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::LimitExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
        ApiError::UpstreamTimeout | ApiError::RequestTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if matches!(error, ApiError::RateLimited { .. }) {
        tracing::debug!(reason = %error, "request refused");
    } else {
        tracing::info!(code = error.code(), reason = %error, "request refused");
    }
    error_response(status, error)
}

/// A GraphQL-shaped error answer for failures before execution starts. A 401 says which scheme
/// to authenticate with (`WWW-Authenticate`), and a rate limit when to come back
/// (`Retry-After`, whole seconds).
pub(super) fn error_response(status: StatusCode, error: ApiError) -> Response {
    let retry_after = match &error {
        ApiError::RateLimited {
            retry_after: Some(wait),
        } => Some(wait.as_millis().div_ceil(1000).max(1)),
        ApiError::RateLimited { retry_after: None } => Some(1),
        _ => None,
    };
    let error: async_graphql::Error = error.into();
    let response =
        async_graphql::Response::from_errors(vec![error.into_server_error(Default::default())]);
    let mut response = (status, GraphQLResponse::from(response)).into_response();
    let headers = response.headers_mut();
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
    response
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
