//! Changes the gateway learns of from Heymarket's webhooks, carried to every replica's
//! subscriptions and caches.
//!
//! - [`Event`]: one webhook event, as replicas share it.
//! - [`EventBus`]: how events travel; [`MemoryBus`] within one process (the default), and a
//!   Redis-backed bus when replicas share a `REDIS_URL`.
//! - [`SeenEvents`]: which events were already taken in, so redeliveries are dropped.

mod memory;
mod seen;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use memory::MemoryBus;
pub use seen::{LocalSeenEvents, REMEMBER_FOR, SeenEvents};

/// One webhook event as replicas share it: what happened, to which team, and the envelope's
/// `event_data` exactly as delivered (each replica reads it with the tolerant upstream models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The same for every delivery of the same event, so redeliveries are dropped.
    pub fingerprint: String,
    /// The team whose webhook configuration delivered it.
    pub team_id: i64,
    pub kind: EventKind,
    /// The envelope's `event_data`: a message (with its conversation) for message events, a
    /// conversation for chat events.
    pub data: serde_json::Value,
}

/// Every documented webhook `type`, spelled on the wire as Heymarket spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    MessageSent,
    /// Heymarket spells it `message_recieved`.
    #[serde(rename = "message_recieved")]
    MessageReceived,
    ChatReassigned,
    ChatClosed,
    ChatOpened,
    ChatPending,
    ChatTransferred,
    TargetOptOut,
    TargetOptIn,
    TargetDoubleOptIn,
    TargetDoubleOptRestricted,
    IncomingCall,
}

impl EventKind {
    /// Message events carry a message; chat events a conversation; the rest neither that the
    /// gateway models.
    pub fn carries_message(self) -> bool {
        matches!(self, Self::MessageSent | Self::MessageReceived)
    }

    pub fn carries_conversation(self) -> bool {
        matches!(
            self,
            Self::ChatReassigned
                | Self::ChatClosed
                | Self::ChatOpened
                | Self::ChatPending
                | Self::ChatTransferred
        )
    }
}

/// Whether events currently reach every replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BusStatus {
    /// One process: there are no other replicas to reach.
    Local,
    /// Shared through Redis with every replica.
    Shared,
    /// Redis is configured but unreachable: events reach this replica only, until it is back.
    Degraded,
}

/// Carries events to every replica's subscriptions and caches.
pub trait EventBus: Send + Sync + 'static {
    /// Sends `event` to every replica, this one included (exactly once each).
    fn publish(&self, event: Event) -> BoxFuture<'_, ()>;

    /// Events from every replica in arrival order. A receiver that falls too far behind loses
    /// the oldest (and is told so by `RecvError::Lagged`).
    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>>;

    fn status(&self) -> BusStatus;
}
