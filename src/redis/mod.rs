//! Redis shared by replicas, so that several gateways behind a load balancer behave as one.
//!
//! - [`RedisConnection`]: the supervised connection; start-up never waits for it, and it
//!   reconnects by itself with bounded, jittered backoff. Its [`Health`] feeds `/readyz`.
//! - [`RedisBus`]: webhook events over pub/sub, to every replica's subscriptions and caches.
//! - [`RedisSeenEvents`]: webhook de-duplication across replicas.
//!
//! When Redis is unreachable each part falls back to its in-process counterpart (local event
//! delivery, local de-duplication) and returns to Redis once it answers.

mod backoff;
mod bus;
mod connection;
mod seen;

pub use bus::{EVENTS_CHANNEL, RedisBus};
pub use connection::{Error, Health, RedisConnection};
pub use seen::RedisSeenEvents;
