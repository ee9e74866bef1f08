//! Binds the gateway's listener and serves it until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;

use crate::config::{GatewayConfig, UpstreamAuth};
use crate::events::{EventBus, LocalSeenEvents, MemoryBus};
use crate::loaders::Caches;
use crate::state::AppState;
use crate::{http, schema, upstream};

/// The gateway, bound and ready to serve.
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
}

impl App {
    /// Binds `config.listen` (port 0 picks a free port) and builds everything the server needs.
    pub async fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        Self::with_listener(listener, config)
    }

    /// Builds the gateway on an already-bound listener (its address wins over `config.listen`).
    pub fn with_listener(listener: TcpListener, config: GatewayConfig) -> anyhow::Result<Self> {
        let local_addr = listener
            .local_addr()
            .context("the listener has no local address")?;
        let upstream =
            upstream::Client::new(&config.upstream).context("cannot build the upstream client")?;
        let unattributed = config
            .webhooks
            .tokens
            .iter()
            .any(|token| token.team_id.is_none());
        if unattributed && matches!(config.upstream.auth, UpstreamAuth::PassThrough) {
            anyhow::bail!(
                "a webhook token without a team id needs a gateway-held credential to find its team; \
                 write it as TEAM_ID:TOKEN"
            );
        }
        let state = AppState {
            caches: Arc::new(Caches::new(&config.cache)),
            schema: schema::build_schema(&config.limits),
            config: Arc::new(config),
            bus: Arc::new(MemoryBus::default()),
            seen: Arc::new(LocalSeenEvents::default()),
            upstream,
        };
        Ok(Self {
            listener,
            local_addr,
            state,
        })
    }

    /// Where the gateway listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests
    /// finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let events = tokio::spawn(apply_events(
            Arc::clone(&self.state.bus),
            Arc::clone(&self.state.caches),
        ));
        let served = axum::serve(self.listener, http::router(self.state))
            .with_graceful_shutdown(shutdown)
            .await;
        events.abort();
        served
    }
}

/// Keeps the caches true to what webhooks report, for as long as the bus runs.
async fn apply_events(bus: Arc<dyn EventBus>, caches: Arc<Caches>) {
    let mut events = bus.subscribe();
    loop {
        match events.recv().await {
            Ok(event) => caches.apply(&event).await,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "events were missed; dropping cached conversations");
                caches.forget_conversations().await;
            }
            Err(RecvError::Closed) => return,
        }
    }
}
