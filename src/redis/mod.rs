//! Redis shared by replicas, so that several gateways behind a load balancer behave as one.
//!
//! - [`RedisConnection`]: the supervised connection; start-up never waits for it, and it
//!   reconnects by itself with bounded, jittered backoff. Its [`Health`] feeds `/readyz`.
//! - [`RedisBus`]: webhook events over pub/sub, to every replica's subscriptions and caches.
//! - [`RedisSeenEvents`]: webhook de-duplication across replicas.
//! - [`RedisDocuments`]: persisted-query documents, learnt once for every replica.
//! - [`RedisSendRecords`]: idempotency keys of sends, so one key sends once across replicas.
//! - [`RedisBudget`]: the upstream rate budget per tenant, shared by replicas.
//! - [`RedisSharedCache`]: what one replica fetched, for the others to read instead of the
//!   upstream, invalidated by the events the bus carries.
//!
//! When Redis is unreachable each part falls back to its in-process counterpart (local event
//! delivery, local de-duplication, the local limiter, local idempotency keys, each replica's
//! own caches) and returns to Redis once it answers.

mod backoff;
mod budget;
mod bus;
mod connection;
mod documents;
mod seen;
mod sends;
mod shared_cache;

/// What [`RedisSharedCache`] implements: the caches' own interface to a shared store.
pub use crate::loaders::{Epoch, SharedEntry, SharedRead, SharedStore, Slot};
pub use budget::RedisBudget;
pub use bus::{EVENTS_CHANNEL, RedisBus};
pub use connection::{Error, Health, Outage, RedisConnection};
pub use documents::RedisDocuments;
pub use seen::RedisSeenEvents;
pub use sends::RedisSendRecords;
pub use shared_cache::RedisSharedCache;
