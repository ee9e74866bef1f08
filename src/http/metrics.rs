//! `GET /metrics`: this gateway's metrics in the Prometheus text format.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

const TEXT_FORMAT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

/// The breaker's state is read at scrape time rather than pushed on every upstream call: the
/// gauge is then exact when read, and calls pay nothing for it.
async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    state
        .metrics
        .upstream
        .set_circuit_state(state.upstream.breaker_state());
    (
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        state.metrics.encode(),
    )
}
