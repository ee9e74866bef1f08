//! The state every HTTP handler shares; cheap to clone (everything inside is reference-counted).

use std::sync::Arc;

use crate::config::GatewayConfig;
use crate::loaders::Caches;
use crate::schema::GatewaySchema;
use crate::upstream;

/// Shared by every handler through axum's `State`.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<GatewayConfig>,
    /// Upstream data shared by all requests, partitioned by tenant.
    pub caches: Arc<Caches>,
    pub schema: GatewaySchema,
    pub upstream: upstream::Client,
}
