//! heymarket-gateway: a GraphQL gateway over the Heymarket conversation REST API.
//!
//! # Layout
//!
//! Public: what the binary, the benchmarks and the integration tests use; the rest is private.
//!
//! - `auth`: client authentication: the JWTs callers present when the gateway holds the
//!   upstream credential.
//! - `client_limit`: the client rate limit, how many requests each caller identity may make.
//! - `backoff`: exponential backoff with jitter, for whatever waits before trying again.
//! - [`cli`]: command-line flags and environment variables, turned into [`config`] structs.
//! - [`config`]: typed, validated settings for every part of the process.
//! - [`config_file`]: the optional file of `NAME=value` settings, read before the flags.
//! - `error`: the gateway's one client-facing error type and its stable codes.
//! - [`events`]: webhook events shared between replicas (in process, or through Redis).
//! - [`idempotency`]: what each idempotency key of a send led to, so a key sends once.
//! - `keyed_limiter`: a GCRA rate limiter per key, under both the upstream rate budget and the
//!   client rate limit.
//! - [`redis`]: what replicas share through Redis (events, de-duplication, the upstream rate
//!   budget, idempotency keys), its supervised connection, and the local fallbacks while Redis
//!   is down.
//! - `redact`: keeping credentials out of what the process prints and logs.
//! - [`telemetry`]: tracing subscriber set-up (pretty in a terminal, JSON otherwise), and
//!   optional span export over OTLP.
//! - [`commands`]: what each subcommand runs (the default run, `serve`, `sandbox`, …).
//! - [`app`]: binds the gateway's listener and runs the HTTP server until shutdown.
//! - `server`: accepts connections and serves HTTP/1.1 on them, within connection ceilings.
//! - `shutdown`: the process-wide shutdown signal (Ctrl-C or SIGTERM).
//! - `state`: the cheap-to-clone state every HTTP handler shares.
//! - [`http`]: routes: GraphQL over HTTP and WebSocket, GraphiQL, health.
//! - `persisted`: persisted queries (APQ), learnt from clients or fixed by an allowlist.
//! - [`pagination`]: exact, tie-safe forward paging over the upstream's timestamp cursors.
//! - `loaders`: upstream entities per operation, de-duplicated and batched.
//! - `metrics`: Prometheus metrics, one registry per gateway instance.
//! - `phone`: phone numbers in the API's form (E.164 digits without `+`).
//! - [`schema`]: the GraphQL schema; knows nothing of HTTP.
//! - [`upstream`]: typed client for the Heymarket REST API; knows nothing of GraphQL.
//!
//! The simulated upstream that `commands` embeds is a crate of its own, `heymarket_sandbox`
//! (`sandbox/`), which depends on nothing here (docs/architecture.md, "Crates").

pub mod app;
mod auth;
mod backoff;
pub mod cli;
mod client_limit;
pub mod commands;
pub mod config;
pub mod config_file;
mod email_address;
mod error;
pub mod events;
mod hex;
pub mod http;
pub mod idempotency;
mod keyed_limiter;
mod loaders;
mod metrics;
pub mod pagination;
mod persisted;
mod phone;
mod redact;
pub mod redis;
pub mod schema;
mod server;
mod shutdown;
mod state;
pub mod telemetry;
mod text;
pub mod upstream;

pub use app::App;
pub use config::{GatewayConfig, UpstreamConfig};
