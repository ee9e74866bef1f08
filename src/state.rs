//! The state every HTTP handler shares; cheap to clone (everything inside is reference-counted).

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::auth::TokenVerifier;
use crate::client_limit::ClientRateLimiter;
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::events::{EventBus, SeenEvents};
use crate::loaders::{Caches, Loaders};
use crate::metrics::Metrics;
use crate::persisted::PersistedQueries;
use crate::redis::RedisConnection;
use crate::schema::{AnswerCache, Caller, CallerExecutor, GatewaySchema};
use crate::upstream;

/// Shared by every handler through axum's `State`.
#[derive(Clone)]
pub struct AppState {
    /// Persisted queries (APQ) and the operation allowlist.
    pub persisted: Arc<PersistedQueries>,
    pub config: Arc<GatewayConfig>,
    /// Upstream data shared by all requests, partitioned by tenant.
    pub caches: Arc<Caches>,
    /// Whole answers kept for callers asking again; `None` when turned off.
    pub answers: Option<Arc<AnswerCache>>,
    pub schema: GatewaySchema,
    /// Carries webhook events to every replica.
    pub bus: Arc<dyn EventBus>,
    /// Webhook events already taken in.
    pub seen: Arc<dyn SeenEvents>,
    pub upstream: upstream::Client,
    /// Whether the upstream serves the gateway's credential, checked at most once per TTL.
    pub upstream_probe: Arc<upstream::Probe>,
    /// This gateway's metrics, served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The Redis replicas share; `None` when this process runs alone. `/readyz` reports it.
    pub redis: Option<RedisConnection>,
    /// Verifies client tokens; `None` when callers are not authenticated by the gateway
    /// (pass-through and sandbox mode).
    pub(crate) client_auth: Option<Arc<TokenVerifier>>,
    /// Requests each client identity may still make.
    pub(crate) client_limiter: Arc<ClientRateLimiter>,
    /// One permit per WebSocket that may still open (`--max-websockets`), held for the
    /// connection's life.
    pub(crate) websocket_slots: Arc<Semaphore>,
}

impl AppState {
    /// The schema bound to `caller` (or, for a WebSocket, to the caller its `connection_init`
    /// settles).
    pub fn executor(&self, caller: Option<Caller>) -> CallerExecutor {
        CallerExecutor::new(
            self.schema.clone(),
            Arc::clone(&self.caches),
            self.answers.clone(),
            Arc::clone(&self.bus),
            caller,
            &self.config.limits,
            self.metrics.operations.clone(),
        )
    }

    /// The team of the gateway's own upstream credential (webhook tokens configured without a
    /// team id deliver its events).
    pub async fn own_team_id(&self) -> Result<i64, ApiError> {
        let tenant = self.upstream.tenant(None)?;
        let team = Loaders::new(
            tenant,
            Arc::clone(&self.caches),
            self.config.limits.max_upstream_calls,
        )
        .team()
        .await?;
        team.id.ok_or(ApiError::UpstreamUnavailable)
    }
}
