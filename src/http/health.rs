//! Liveness and readiness.
//!
//! - `/healthz` answers as long as the process serves HTTP.
//! - `/readyz` answers 200 when everything the gateway depends on works (the upstream accepts
//!   its credential; Redis, when configured, is up), 503 naming what does not. Each dependency
//!   is one [`Check`]; adding one is one more function in [`checks`].

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::events::BusStatus;
use crate::redis::Health;
use crate::state::AppState;
use crate::upstream::Verdict;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let checks = checks(&state).await;
    let ready = checks.iter().all(|check| check.ready);
    let mut body = Map::new();
    body.insert(
        "status".to_owned(),
        Value::from(if ready { "ready" } else { "not ready" }),
    );
    for check in checks {
        body.extend(check.report);
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Value::Object(body)))
}

/// One dependency's verdict, and the fields it adds to the answer.
struct Check {
    ready: bool,
    report: Map<String, Value>,
}

async fn checks(state: &AppState) -> Vec<Check> {
    vec![upstream(state).await, redis(state), freshness(state)]
}

/// How each team's cached conversations are kept fresh (`events` or `ttl`, by team id):
/// reported, never a reason to leave the load balancer, since either mode serves right.
fn freshness(state: &AppState) -> Check {
    let modes: Map<String, Value> = state
        .caches
        .freshness()
        .modes()
        .into_iter()
        .map(|(team, mode)| (team.to_string(), json!(mode)))
        .collect();
    let mut report = Map::new();
    report.insert("freshness".to_owned(), Value::Object(modes));
    Check {
        ready: true,
        report,
    }
}

/// The upstream must accept the gateway's credential (in pass-through mode, merely answer).
/// The verdict is re-used for `--upstream-check-ttl`.
async fn upstream(state: &AppState) -> Check {
    let verdict = state.upstream_probe.verdict().await;
    let mut report = Map::new();
    let upstream = match &verdict {
        Verdict::Up => "up",
        Verdict::Reachable => "reachable",
        Verdict::RateLimited => "rate limited",
        Verdict::Down(reason) => {
            report.insert("upstream_error".to_owned(), Value::from(reason.as_str()));
            "down"
        }
    };
    report.insert("upstream".to_owned(), Value::from(upstream));
    Check {
        ready: verdict.is_ready(),
        report,
    }
}

/// Redis, when configured, must be up and carrying events between replicas. Why it is down is
/// reported in stable words; the error itself is in the log.
fn redis(state: &AppState) -> Check {
    let events = state.bus.status();
    let mut report = Map::new();
    report.insert("events".to_owned(), json!(events));
    let Some(connection) = &state.redis else {
        report.insert("redis".to_owned(), Value::from("not configured"));
        return Check {
            ready: true,
            report,
        };
    };
    let health = connection.health();
    let redis = match &health {
        Health::Connecting => "connecting",
        Health::Up => "up",
        Health::Down { reason } => {
            report.insert("redis_error".to_owned(), Value::from(reason.as_str()));
            "down"
        }
    };
    report.insert("redis".to_owned(), Value::from(redis));
    Check {
        ready: health == Health::Up && events == BusStatus::Shared,
        report,
    }
}
