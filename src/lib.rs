//! heymarket-gateway: a GraphQL gateway over the Heymarket conversation REST API.
//!
//! # Layout
//!
//! Public: what the binary, the benchmarks and the integration tests use; the rest is private.
//!
//! The request path, in the order a request takes it (docs/architecture.md):
//!
//! - `server`: accepts connections and serves HTTP/1.1 on them, within connection ceilings.
//! - [`http`]: routes: GraphQL over HTTP and WebSocket, GraphiQL, health.
//! - `auth`: client authentication: the JWTs callers present when the gateway holds the
//!   upstream credential.
//! - `client_limit`: the client rate limit, how many requests each caller identity may make.
//! - `persisted`: persisted queries (APQ), learnt from clients or fixed by an allowlist.
//! - `state`: the cheap-to-clone state every HTTP handler shares.
//! - [`schema`]: the GraphQL schema; knows nothing of HTTP.
//! - [`pagination`]: exact, tie-safe forward paging over the upstream's timestamp cursors.
//! - `loaders`: upstream entities per operation, de-duplicated and batched.
//! - [`upstream`]: typed client for the Heymarket REST API; knows nothing of GraphQL.
//!
//! Beside it:
//!
//! - [`events`]: webhook events shared between replicas (in process, or through Redis).
//! - [`redis`]: what replicas share through Redis (events, de-duplication, the upstream rate
//!   budget, idempotency keys), its supervised connection, and the local fallbacks while Redis
//!   is down.
//! - `metrics`: Prometheus metrics, one registry per gateway instance.
//! - [`idempotency`]: what each idempotency key of a send led to, so a key sends once.
//!
//! Settings:
//!
//! - [`cli`]: the commands and their own flags; parses the command line once and assembles the
//!   [`config`] structs.
//! - [`config`]: typed, validated settings for every part of the process, each field its flag
//!   and environment variable too.
//! - [`config_file`]: the optional file of `NAME=value` settings, which become the flags'
//!   defaults.
//!
//! Running the process:
//!
//! - [`commands`]: what each subcommand runs (the default run, `serve`, `sandbox`, …).
//! - [`app`]: binds the gateway's listener and runs the HTTP server until shutdown.
//! - `shutdown`: the process-wide shutdown signal (Ctrl-C or SIGTERM).
//! - [`telemetry`]: tracing subscriber set-up (pretty in a terminal, JSON otherwise), and
//!   optional span export over OTLP.
//!
//! Small helpers:
//!
//! - `backoff`: exponential backoff with jitter, for whatever waits before trying again.
//! - `email_address`: email addresses as the gateway accepts them from clients.
//! - `error`: the gateway's one client-facing error type and its stable codes.
//! - `hex`: lowercase hex, for digests and UUIDs.
//! - `keyed_limiter`: a GCRA rate limiter per key, under both the upstream rate budget and the
//!   client rate limit.
//! - `phone`: phone numbers in the API's form (E.164 digits without `+`).
//! - `redact`: keeping credentials out of what the process prints and logs.
//! - `text`: cutting text down to size at a character boundary.
//!
//! The simulated upstream that `commands` embeds is a crate of its own, `heymarket_sandbox`
//! (`sandbox/`), which depends on nothing here (docs/architecture.md, "Crates").

// In the order of the list above; rustfmt sorts each block of declarations by name.
mod server;

pub mod http;

mod auth;
mod client_limit;
mod persisted;
mod state;

pub mod schema;

pub mod pagination;

mod loaders;

pub mod upstream;

pub mod events;

pub mod redis;

mod metrics;

pub mod idempotency;

pub mod cli;
pub mod config;
pub mod config_file;

pub mod commands;

pub mod app;
mod shutdown;
pub mod telemetry;

mod backoff;
mod email_address;
mod error;
mod hex;
mod keyed_limiter;
mod phone;
mod redact;
mod text;

pub use app::App;
pub use config::{GatewayConfig, UpstreamConfig};
