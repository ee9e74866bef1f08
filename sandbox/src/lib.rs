//! An in-process simulation of the Heymarket REST API (the "sandbox"): the upstream's wire
//! format over seeded, deterministic data, with its auth, limits and webhooks, plus fault
//! knobs and counters under `/_sandbox/*`.
//!
//! The gateway embeds it (its default run and `sandbox` command) and is tested against it. It
//! depends on nothing of the gateway, its models or its helpers: what both sides need is written
//! twice, so a misreading of the upstream in one is not silently shared by the other.
//!
//! # Layout
//!
//! - `routes`: the `/v1` and `/v2` handlers; `control`: the `/_sandbox` API.
//! - `pipeline`: counting, faults, auth and rate limit around every API request.
//! - `state`: what all handlers share (the teams); `extract`: request extractors.
//! - `store`: one team's in-memory data and queries; `seed`: its deterministic generation.
//! - `auth`, `limiter`, `faults`, `stats`, `webhooks`: one concern each.
//! - `error`: the one error type and its JSON body; `wire`: timestamps, phone numbers, UUIDs.
//! - `config`: the settings whoever embeds the sandbox gives it; [`readings`]: how it answers
//!   each point the upstream's documentation leaves open.

mod auth;
mod config;
mod control;
mod error;
mod extract;
mod faults;
mod limiter;
mod pipeline;
pub mod readings;
mod routes;
mod seed;
mod state;
mod stats;
mod store;
mod webhooks;
mod wire;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use self::config::{
    DEFAULT_SANDBOX_MEMBERS, DEFAULT_SANDBOX_RATE_LIMIT, DEFAULT_SANDBOX_SEED,
    DEFAULT_SANDBOX_TEAMS, DEFAULT_SANDBOX_WEBHOOK_TOKEN, RateBudget, SandboxConfig,
};
use self::error::ApiError;
use self::readings::Readings;
use self::state::SandboxState;
use self::webhooks::WebhookWorker;

/// The credentials of one simulated team, printed at start so people can call the sandbox.
#[derive(Debug, Clone)]
pub struct TeamCredentials {
    /// The team's id, as `GET /v1/team` reports it (101, 102, …).
    pub team_id: i64,
    pub team_name: String,
    /// JWT `iss`; with `secret_key` it forms the HS256 key `"{secret_id}||{secret_key}"`.
    pub secret_id: String,
    pub secret_key: String,
    /// The legacy API key, accepted as a bearer token or as the HTTP Basic user name.
    pub api_key: String,
    /// The verification token of the team's webhook configuration: `<base token>-<n>` for team
    /// n, since every Heymarket webhook configuration has a token of its own.
    pub webhook_token: String,
}

/// A simulated upstream bound to a listener, ready to serve.
pub struct Sandbox {
    listener: TcpListener,
    local_addr: SocketAddr,
    base_url: Url,
    state: Arc<SandboxState>,
    webhook_worker: Option<WebhookWorker>,
}

impl Sandbox {
    /// Seeds the data and prepares to serve on `listener`. Nothing is served or sent before
    /// [`Sandbox::run_until_stopped`].
    pub fn new(listener: TcpListener, config: SandboxConfig) -> io::Result<Self> {
        let readings = &config.readings;
        if config.teams == 0
            || readings.conversation_page_size == 0
            || readings.messages_all_max == 0
        {
            let reason = "the sandbox needs at least one team, and page sizes above zero";
            return Err(io::Error::new(io::ErrorKind::InvalidInput, reason));
        }
        let local_addr = listener.local_addr()?;
        let base_url = Url::parse(&format!("http://{local_addr}")).map_err(io::Error::other)?;
        let (state, webhook_worker) = SandboxState::new(&config).map_err(io::Error::other)?;
        Ok(Self {
            listener,
            local_addr,
            base_url,
            state: Arc::new(state),
            webhook_worker,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<local_addr>`: the base URL upstream clients use.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// How the sandbox answers where the real API's documentation is open.
    pub fn readings(&self) -> &Readings {
        &self.state.readings
    }

    /// Every team's credentials, in team order.
    pub fn teams(&self) -> &[TeamCredentials] {
        &self.state.credentials
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests and stops the webhook
    /// worker (events still queued are not sent).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let stop_worker = CancellationToken::new();
        let worker = self
            .webhook_worker
            .map(|worker| tokio::spawn(worker.run(stop_worker.clone())));
        let served = axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(shutdown)
            .await;
        stop_worker.cancel();
        if let Some(worker) = worker
            && let Err(error) = worker.await
        {
            tracing::error!(%error, "the webhook worker failed");
        }
        served
    }
}

/// The whole sandbox as a router: the API behind its request pipeline, the control API, a JSON
/// 404 for anything else, and an `X-Request-Id` on every response.
fn router(state: Arc<SandboxState>) -> Router {
    let api = routes::router().route_layer(from_fn_with_state(state.clone(), pipeline::guard));
    Router::new()
        .merge(api)
        .merge(control::router())
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(from_fn(pipeline::request_id))
        .with_state(state)
}
