//! What happens around every simulated API request, in this order: count, latency, injected
//! 429, injected 500, authentication, the team's rate limit, the handler, malformed-body
//! injection. Plus the `X-Request-Id` every response carries.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::auth;
use super::error::ApiError;
use super::extract::Tenant;
use super::state::SandboxState;
use super::wire::uuid_from_bits;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Middleware for the `/v1` and `/v2` routes.
pub(crate) async fn guard(
    State(state): State<Arc<SandboxState>>,
    request: Request,
    next: Next,
) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    let route = format!("{} {template}", request.method());
    state.stats.record_request(route.clone());
    let response = match admit(&state, &route, request).await {
        Ok(request) => malform(&state, &route, next.run(request).await).await,
        Err(refusal) => refusal.into_response(),
    };
    state.stats.record_status(response.status());
    response
}

/// Applies the faults that precede the handler, authenticates, and spends the team's budget.
async fn admit(
    state: &SandboxState,
    route: &str,
    mut request: Request,
) -> Result<Request, ApiError> {
    let latency = state.faults.latency(route);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if state.faults.inject_rate_limit(route) {
        return Err(ApiError::RateLimited);
    }
    if state.faults.inject_error(route) {
        return Err(ApiError::ServerError);
    }
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let index = auth::authenticate(authorization, &state.credentials, Utc::now().timestamp())?;
    let team = state.teams[index].clone();
    state.stats.record_team(team.id);
    if !team.limiter.try_acquire(Instant::now()) {
        return Err(ApiError::RateLimited);
    }
    request.extensions_mut().insert(Tenant(team));
    Ok(request)
}

/// Cuts a successful body in half when the malformed knob fires. Every body the API sends is
/// a JSON object, array or string, and no strict prefix of those is valid JSON.
async fn malform(state: &SandboxState, route: &str, response: Response) -> Response {
    if !response.status().is_success() || !state.faults.inject_malformed(route) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::ServerError.into_response();
    };
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

/// Gives every response an `X-Request-Id`: the caller's when it sent a UUID, else a new one.
pub(crate) async fn request_id(request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|value| is_uuid(value.as_bytes()))
        .cloned();
    let mut response = next.run(request).await;
    let id = incoming.or_else(|| HeaderValue::from_str(&uuid_from_bits(rand::random())).ok());
    if let Some(id) = id {
        response.headers_mut().insert(REQUEST_ID, id);
    }
    response
}

fn is_uuid(value: &[u8]) -> bool {
    value.len() == 36
        && value.iter().enumerate().all(|(i, &byte)| match i {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}
