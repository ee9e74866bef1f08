//! Binds the gateway's listener and serves it until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

use crate::config::{GatewayConfig, UpstreamAuth};
use crate::events::{EventBus, LocalSeenEvents, MemoryBus, SeenEvents};
use crate::loaders::Caches;
use crate::metrics::Metrics;
use crate::redis::{RedisBus, RedisConnection, RedisSeenEvents};
use crate::state::AppState;
use crate::{http, schema, upstream};

/// The gateway, bound and ready to serve.
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
    /// Stops the background tasks (the Redis connection and subscription) when the server
    /// stops, or when the app is dropped without running.
    background: DropGuard,
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
    ///
    /// With `config.redis_url`, events, de-duplication and the upstream budget are shared with
    /// other replicas through Redis. Redis being down does not stop start-up: the gateway
    /// serves with everything local and connects when Redis answers.
    pub fn with_listener(listener: TcpListener, config: GatewayConfig) -> anyhow::Result<Self> {
        let local_addr = listener
            .local_addr()
            .context("the listener has no local address")?;
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
        if let Some(directory) = &config.graphiql_assets {
            let missing = http::graphiql::missing_assets(directory);
            anyhow::ensure!(
                missing.is_empty(),
                "--graphiql-assets {} lacks {}",
                directory.display(),
                missing.join(", ")
            );
        }
        let background = CancellationToken::new();
        // Created first, so that a failure below also stops what was already started.
        let stop_background = background.clone().drop_guard();
        let backends = match &config.redis_url {
            Some(url) => Backends::shared(url, &config, &background)?,
            None => Backends::local(&config)?,
        };
        let metrics = Arc::new(Metrics::new());
        let upstream = backends.upstream.with_metrics(metrics.upstream.clone());
        let state = AppState {
            caches: Arc::new(Caches::new(&config.cache).with_metrics(metrics.loaders.clone())),
            schema: schema::build_schema(&config.limits),
            bus: backends.bus,
            seen: backends.seen,
            upstream_probe: Arc::new(upstream::Probe::new(
                upstream.clone(),
                config.upstream.check_ttl,
            )),
            upstream,
            metrics,
            redis: backends.redis,
            config: Arc::new(config),
        };
        Ok(Self {
            listener,
            local_addr,
            state,
            background: stop_background,
        })
    }

    /// Where the gateway listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish,
    /// and stops the background tasks.
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
        drop(self.background);
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

/// What differs between a replica that shares through Redis and a process on its own.
struct Backends {
    bus: Arc<dyn EventBus>,
    seen: Arc<dyn SeenEvents>,
    upstream: upstream::Client,
    redis: Option<RedisConnection>,
}

impl Backends {
    fn local(config: &GatewayConfig) -> anyhow::Result<Self> {
        Ok(Self {
            bus: Arc::new(MemoryBus::default()),
            seen: Arc::new(LocalSeenEvents::default()),
            upstream: upstream::Client::new(&config.upstream)
                .context("cannot build the upstream client")?,
            redis: None,
        })
    }

    /// Starts the Redis connection and the event subscription under `background`.
    fn shared(
        url: &Url,
        config: &GatewayConfig,
        background: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let redis = RedisConnection::start(url, background.clone())?;
        tracing::info!(
            redis = %redis.target(),
            "sharing events and the upstream budget with other replicas through Redis"
        );
        Ok(Self {
            bus: Arc::new(RedisBus::start(redis.clone(), background.clone())),
            seen: Arc::new(RedisSeenEvents::new(redis.clone())),
            upstream: upstream::Client::with_shared_budget(&config.upstream, redis.clone())
                .context("cannot build the upstream client")?,
            redis: Some(redis),
        })
    }
}
