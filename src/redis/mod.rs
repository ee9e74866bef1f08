//! Redis shared by replicas, so that several gateways behind a load balancer behave as one.
//!
//! - [`RedisConnection`]: the supervised connection; start-up never waits for it, and it
//!   reconnects by itself with bounded, jittered backoff. Its [`Health`] feeds `/readyz`.

mod backoff;
mod connection;

pub use connection::{Error, Health, RedisConnection};
