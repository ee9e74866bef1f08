//! The state every HTTP handler shares; cheap to clone (everything inside is reference-counted).

use std::sync::Arc;

use crate::config::GatewayConfig;
use crate::events::{EventBus, SeenEvents};
use crate::loaders::Caches;
use crate::redis::RedisConnection;
use crate::schema::GatewaySchema;
use crate::upstream;

/// Shared by every handler through axum's `State`.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<GatewayConfig>,
    /// Upstream data shared by all requests, partitioned by tenant.
    pub caches: Arc<Caches>,
    pub schema: GatewaySchema,
    /// Carries webhook events to every replica.
    pub bus: Arc<dyn EventBus>,
    /// Webhook events already taken in.
    pub seen: Arc<dyn SeenEvents>,
    pub upstream: upstream::Client,
    /// The Redis replicas share; `None` when this process runs alone. `/readyz` reports it.
    pub redis: Option<RedisConnection>,
}
