//! HTTP routes: GraphQL over HTTP and WebSocket, GraphiQL, health, metrics, webhooks; and the
//! layers every answer passes through (request ids, tracing, CORS, compression).

mod caller;
mod cors_and_compression;
pub mod graphiql;
mod graphql;
mod health;
mod metrics;
mod negotiation;
mod params;
mod rate_limit;
mod request_id;
mod responses;
pub(crate) mod webhooks;
mod websocket;

pub(crate) use negotiation::{MediaType, negotiate};
pub(crate) use responses::refused;

use axum::Router;
use axum::middleware;
use tower::util::option_layer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The gateway's whole HTTP surface. A pure function of the state, so tests can serve it or
/// call it in-process.
pub fn router(state: AppState) -> Router {
    let webhook_body_limit = state.config.webhooks.max_body_bytes;
    Router::new()
        .merge(graphql::router(state.config.limits.max_body_bytes))
        .merge(webhooks::router(webhook_body_limit))
        .merge(graphiql::router(state.config.http.graphiql_assets.as_ref()))
        .merge(health::router())
        .merge(metrics::router())
        .layer(cors_and_compression::compression(&state.config.http))
        .layer(option_layer(cors_and_compression::cors(&state.config.http)))
        .layer(TraceLayer::new_for_http().make_span_with(request_id::request_span))
        .layer(middleware::from_fn(request_id::assign))
        .with_state(state)
}
