//! Binds the gateway's listener, serves it until shutdown, and stops it cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Extension;
use axum::middleware::from_fn_with_state;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

use crate::auth::TokenVerifier;
use crate::client_limit::ClientRateLimiter;
use crate::config::{GatewayConfig, UpstreamAuth};
use crate::events::{BusStatus, EventBus, LocalSeenEvents, MemoryBus, SeenEvents};
use crate::idempotency::{Idempotency, LocalSendRecords, SendRecords};
use crate::loaders::Caches;
use crate::metrics::Metrics;
use crate::persisted::{Allowlist, PersistedQueries};
use crate::redis::{
    RedisBudget, RedisBus, RedisConnection, RedisDocuments, RedisSeenEvents, RedisSendRecords,
    RedisSharedCache,
};
use crate::schema::AnswerCache;
use crate::server::{Closing, Server};
use crate::shutdown::{Drain, InFlight};
use crate::state::AppState;
use crate::{http, schema, upstream};

/// How long the answers to requests cut off at the shutdown deadline have to be written
/// before the process goes on stopping: a small JSON body each, so only a client that does
/// not read takes this long.
const CUT_OFF_GRACE: Duration = Duration::from_secs(1);

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
        if let Some(directory) = &config.http.graphiql_assets {
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
        let client_auth = config
            .client_auth
            .as_ref()
            .map(TokenVerifier::start)
            .transpose()
            .context("cannot set up client authentication")?;
        let allowlist = config
            .http
            .operation_allowlist
            .as_deref()
            .map(Allowlist::load)
            .transpose()?;
        if let Some(allowlist) = &allowlist {
            tracing::info!(
                operations = allowlist.len(),
                "running only the operations on the allowlist"
            );
        }
        let persisted = Arc::new(PersistedQueries::new(
            allowlist,
            backends.redis.clone().map(RedisDocuments::new),
        ));
        let client_limiter = Arc::new(ClientRateLimiter::new(config.limits.client_rate_limit));
        let metrics = Arc::new(Metrics::new());
        let upstream = backends.upstream.with_metrics(metrics.upstream.clone());
        let mut caches = Caches::new(&config.cache, config.limits.request_timeout)
            .with_metrics(metrics.loaders.clone());
        if let Some(redis) = &backends.redis {
            caches = caches.with_shared_store(Arc::new(RedisSharedCache::new(redis.clone())));
        }
        let state = AppState {
            answers: AnswerCache::new(&config.cache).map(Arc::new),
            caches: Arc::new(caches),
            schema: schema::build_schema(
                &config.limits,
                schema::CursorKey::for_deployment(
                    config.cursor_secret.as_ref(),
                    &config.upstream.auth,
                ),
                Idempotency::new(backends.sends, config.limits.request_timeout),
            ),
            bus: backends.bus,
            seen: backends.seen,
            upstream_probe: Arc::new(upstream::Probe::new(
                upstream.clone(),
                config.upstream.check_ttl,
            )),
            upstream,
            metrics,
            redis: backends.redis,
            client_auth,
            client_limiter,
            websocket_slots: Arc::new(Semaphore::new(config.connections.max_websockets)),
            persisted,
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

    /// Serves until `shutdown` resolves, then stops: no new connections, in-flight requests
    /// finish, every WebSocket is closed with 1001 Going Away, and the background tasks stop.
    /// Requests still running after `config.shutdown_timeout` are answered `SHUTTING_DOWN`
    /// (503) and the stop is reported as [`ServeError::CutOff`].
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let events = tokio::spawn(apply_events(
            Arc::clone(&self.state.bus),
            Arc::clone(&self.state.caches),
        ));
        let deadline = self.state.config.shutdown_timeout;
        let limits = self.state.config.connections.clone();
        let in_flight = InFlight::default();
        let drain = Drain::default();
        // The drain travels as a request extension: WebSocket handlers need it, and nothing
        // else in the state does.
        let router = http::router(self.state)
            .layer(Extension(drain.clone()))
            .layer(from_fn_with_state(in_flight.clone(), InFlight::track));
        let closing = Server::new(self.listener, router, &limits)
            .run_until(shutdown)
            .await;
        let outcome = stop(&closing, &drain, &in_flight, deadline).await;
        events.abort();
        drop(self.background);
        outcome
    }
}

/// Why the gateway did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The shutdown deadline passed with work still running, which was then answered
    /// `SHUTTING_DOWN` (requests) or abandoned (WebSockets).
    #[error(
        "the shutdown deadline ({} ms) passed with {requests} request(s) in flight and \
         {subscriptions} WebSocket connection(s) open; they were cut off",
        .deadline.as_millis()
    )]
    CutOff {
        requests: usize,
        subscriptions: usize,
        deadline: Duration,
    },
}

/// Lets the server's in-flight requests finish and its WebSockets close, within `deadline`;
/// past it, answers the requests still running with `SHUTTING_DOWN`, and gives those answers
/// [`CUT_OFF_GRACE`] to be written. The server has already stopped accepting.
async fn stop(
    closing: &Closing,
    drain: &Drain,
    in_flight: &InFlight,
    deadline: Duration,
) -> Result<(), ServeError> {
    tracing::info!(
        requests = in_flight.count(),
        subscriptions = drain.open(),
        deadline_ms = deadline.as_millis(),
        "stopping: no new connections; finishing requests in flight and closing subscriptions"
    );
    let finished = tokio::time::timeout(deadline, async {
        tokio::join!(closing.closed(), drain.close());
    })
    .await;
    if finished.is_ok() {
        tracing::info!("stopped cleanly");
        return Ok(());
    }
    let error = ServeError::CutOff {
        requests: in_flight.count(),
        subscriptions: drain.open(),
        deadline,
    };
    in_flight.cut_off();
    if tokio::time::timeout(CUT_OFF_GRACE, closing.closed())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not take their SHUTTING_DOWN answer in time");
    }
    tracing::error!(%error, "stopped before everything finished");
    Err(error)
}

/// Keeps the caches true to the upstream for as long as the bus runs: what an event concerns is
/// forgotten, to be read again; and teams whose events stop move back to short TTLs.
async fn apply_events(bus: Arc<dyn EventBus>, caches: Arc<Caches>) {
    let mut events = bus.subscribe();
    let mut sweep = tokio::time::interval(caches.freshness().sweep_interval());
    sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(event) => caches.invalidate(&event).await,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "events were missed; dropping cached conversations");
                    caches.events_lost().await;
                }
                Err(RecvError::Closed) => return,
            },
            _ = sweep.tick() => caches.sweep(bus.status() != BusStatus::Degraded).await,
        }
    }
}

/// What differs between a replica that shares through Redis and a process on its own.
struct Backends {
    bus: Arc<dyn EventBus>,
    seen: Arc<dyn SeenEvents>,
    /// What each idempotency key of a send led to.
    sends: Arc<dyn SendRecords>,
    upstream: upstream::Client,
    redis: Option<RedisConnection>,
}

impl Backends {
    fn local(config: &GatewayConfig) -> anyhow::Result<Self> {
        Ok(Self {
            bus: Arc::new(MemoryBus::default()),
            seen: Arc::new(LocalSeenEvents::default()),
            sends: Arc::new(LocalSendRecords::new(config.idempotency_ttl)),
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
            "sharing events, cached upstream data, idempotency keys and the upstream budget with other replicas through Redis"
        );
        Ok(Self {
            bus: Arc::new(RedisBus::start(redis.clone(), background.clone())),
            seen: Arc::new(RedisSeenEvents::new(redis.clone())),
            sends: Arc::new(RedisSendRecords::new(redis.clone(), config.idempotency_ttl)),
            upstream: upstream::Client::with_shared_budget(&config.upstream, |schedule| {
                RedisBudget::new(redis.clone(), schedule)
            })
            .context("cannot build the upstream client")?,
            redis: Some(redis),
        })
    }
}
