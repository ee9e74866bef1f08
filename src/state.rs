//! The state every HTTP handler shares; cheap to clone (everything inside is reference-counted).

use std::sync::Arc;

use crate::config::GatewayConfig;
use crate::schema::GatewaySchema;
use crate::upstream;

/// Shared by every handler through axum's `State`.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<GatewayConfig>,
    pub schema: GatewaySchema,
    pub upstream: upstream::Client,
}
