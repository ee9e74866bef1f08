//! Typed client for the Heymarket REST API; knows nothing of GraphQL.
//!
//! [`Client`] is built once from [`UpstreamConfig`] and holds the
//! connection pool, the rate limiter and the call counts. [`Client::tenant`] hands out a
//! [`TenantClient`] that calls as one credential (the gateway's own, or the caller's bearer in
//! pass-through mode), with one `async fn` per endpoint.
//!
//! - `config`: [`UpstreamConfig`], its flags and defaults.
//! - `client`: `Client`, `TenantClient` and the one `send()` every call goes through.
//! - `breaker`: the circuit breaker that fails calls fast while the upstream is down.
//! - `endpoints`: one method per endpoint.
//! - `auth`: credentials, the API-secret JWT signer, [`TenantKey`].
//! - `retry`: which failures are retried, and the backoff between attempts.
//! - `rate_limit`: the per-tenant client-side budget.
//! - [`models`] / [`requests`]: wire shapes of answers and request bodies; `de` decodes
//!   answers leniently.
//! - `error`: [`Error`], and how statuses and transport failures map onto it.
//! - `observer`: [`CallObserver`], what the client reports about its calls (to the metrics).
//! - `probe`: [`Probe`], whether the upstream serves the gateway's credential (`/readyz`).

mod auth;
mod breaker;
mod client;
#[cfg(test)]
mod client_tests;
mod config;
mod de;
mod endpoints;
mod error;
#[cfg(test)]
mod model_properties;
pub mod models;
mod observer;
mod probe;
mod rate_limit;
pub mod requests;
mod retry;
#[cfg(test)]
mod test_server;

pub use auth::TenantKey;
pub use breaker::BreakerState;
pub use client::{CallLog, Client, TenantClient};
pub use config::{BreakerConfig, DEFAULT_UPSTREAM_URL, UpstreamAuth, UpstreamConfig};
pub use error::Error;
pub use observer::CallObserver;
pub use probe::{Probe, Verdict};
pub use rate_limit::{RateSchedule, SharedBudget};
