//! Binds the gateway's listener and serves it until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::config::GatewayConfig;
use crate::events::{LocalSeenEvents, MemoryBus};
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
        let state = AppState {
            caches: Arc::new(Caches::new(&config.cache)),
            config: Arc::new(config),
            schema: schema::build_schema(),
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
        axum::serve(self.listener, http::router(self.state))
            .with_graceful_shutdown(shutdown)
            .await
    }
}
