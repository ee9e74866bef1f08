//! The event bus shared by replicas through Redis pub/sub.
//!
//! Every replica subscribes to one channel and hands what it hears to its own [`MemoryBus`],
//! which its subscriptions and caches read. A publisher hears its own events back like everyone
//! else, so while the subscription is live it delivers nothing itself: each replica gets each
//! event once, and all in the order Redis saw them.
//!
//! Publishing an event also moves the shared cache epochs it names, in the same script (see
//! `shared_cache`): no replica can hear of an event and still read what was shared before
//! it. A replica that hears an event whose publisher moved epochs by other rules (another
//! version) moves them by its own before it takes the event in, which keeps that promise for
//! itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ::redis::Script;
use ::redis::aio::PubSubStream;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::RedisConnection;
use super::backoff::Backoff;
use super::shared_cache;
use crate::events::{BusStatus, Event, EventBus, MemoryBus};

/// The channel every replica publishes to and listens on; each message is one JSON [`Event`].
pub const EVENTS_CHANNEL: &str = "heymarket-gateway:events";

/// An event as published on [`EVENTS_CHANNEL`]: with the rules its publisher moved the shared
/// cache's epochs by (see `shared_cache::EPOCH_RULES`).
#[derive(Serialize)]
struct Published<'a> {
    #[serde(flatten)]
    event: &'a Event,
    epoch_rules: u32,
}

/// An event as heard on [`EVENTS_CHANNEL`]; `epoch_rules` is 0 when its publisher named none.
#[derive(Deserialize)]
struct Heard {
    #[serde(flatten)]
    event: Event,
    #[serde(default)]
    epoch_rules: u32,
}

/// Carries events to every replica through Redis; while Redis is unreachable, to this replica
/// only ([`BusStatus::Degraded`]), until the subscription is back by itself.
pub struct RedisBus {
    connection: RedisConnection,
    /// Moves epochs on and publishes, in one step (see `shared_cache::announcement`).
    announcer: Script,
    local: MemoryBus,
    /// Whether this replica's subscription is live, i.e. whether it hears the channel.
    listening: Arc<AtomicBool>,
}

impl RedisBus {
    /// Starts listening on [`EVENTS_CHANNEL`] in the background, until `stop` is cancelled.
    ///
    /// Must be called within a Tokio runtime.
    pub fn start(connection: RedisConnection, stop: CancellationToken) -> Self {
        let bus = Self {
            connection,
            announcer: shared_cache::announcer(),
            local: MemoryBus::default(),
            listening: Arc::new(AtomicBool::new(false)),
        };
        let listener = Listener {
            connection: bus.connection.clone(),
            local: bus.local.clone(),
            listening: Arc::clone(&bus.listening),
        };
        tokio::spawn(async move { stop.run_until_cancelled(listener.run()).await });
        bus
    }

    /// Delivers `event` through Redis; `false` when it must be delivered here instead.
    async fn publish_shared(&self, event: &Event) -> bool {
        let published = Published {
            event,
            epoch_rules: shared_cache::EPOCH_RULES,
        };
        let payload = match serde_json::to_vec(&published) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(%error, "cannot encode an event; delivering it to this replica only");
                return false;
            }
        };
        let publish = shared_cache::announcement(&self.announcer, event, EVENTS_CHANNEL, &payload);
        match self.connection.invoke::<u64>(&publish).await {
            // Nobody heard it, so neither did this replica's own subscription.
            Ok(0) => false,
            Ok(_listeners) => true,
            Err(error) => {
                tracing::warn!(%error, "cannot publish an event; delivering it to this replica only");
                // The event may not have moved its epochs, and this replica is about to forget
                // what it names: leave everything shared so far behind.
                leave_shared_behind(&self.connection).await;
                false
            }
        }
    }
}

impl EventBus for RedisBus {
    /// A publish that fails after Redis took the event (a reply lost to a timeout) can reach
    /// this replica twice; the receiving side drops repeated fingerprints.
    fn publish(&self, event: Event) -> BoxFuture<'_, ()> {
        async move {
            let shared = self.status() == BusStatus::Shared && self.publish_shared(&event).await;
            if !shared {
                self.local.deliver(Arc::new(event));
            }
        }
        .boxed()
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }

    fn status(&self) -> BusStatus {
        if self.listening.load(Ordering::Acquire) {
            BusStatus::Shared
        } else {
            BusStatus::Degraded
        }
    }
}

/// The background half: keeps a subscription up and forwards what it hears.
struct Listener {
    connection: RedisConnection,
    local: MemoryBus,
    listening: Arc<AtomicBool>,
}

impl Listener {
    /// Subscribes whenever Redis is up, forever. Consecutive failed subscriptions back off,
    /// so a Redis that accepts connections but refuses `SUBSCRIBE` is not hammered.
    async fn run(self) {
        let mut backoff = Backoff::default();
        loop {
            self.connection.until_up().await;
            match self.join().await {
                Ok(messages) => {
                    backoff.reset();
                    self.listening.store(true, Ordering::Release);
                    tracing::info!("events are shared with every replica through Redis");
                    tokio::select! {
                        () = self.forward(messages) => {}
                        () = self.connection.until_down() => {}
                    }
                    self.listening.store(false, Ordering::Release);
                    self.connection.check_now();
                    tracing::warn!("lost the Redis subscription: events reach this replica only");
                }
                Err(error) => {
                    tracing::debug!(%error, "cannot subscribe to the Redis event channel");
                }
            }
            let delay = backoff.next_delay(&mut rand::rng());
            tokio::time::sleep(delay).await;
        }
    }

    /// Subscribes to the channel, then starts a new era of the shared cache: events this
    /// replica delivered to itself while it was not listening moved no epoch.
    async fn join(&self) -> Result<PubSubStream, super::Error> {
        let messages = self.connection.subscribe(EVENTS_CHANNEL).await?;
        self.connection
            .query::<u64>(&shared_cache::new_era())
            .await?;
        Ok(messages)
    }

    /// Hands every well-formed event to local subscribers until the subscription ends.
    async fn forward(&self, mut messages: PubSubStream) {
        while let Some(message) = messages.next().await {
            match serde_json::from_slice::<Heard>(message.get_payload_bytes()) {
                Ok(Heard { event, epoch_rules }) => {
                    if epoch_rules != shared_cache::EPOCH_RULES {
                        self.move_epochs(&event).await;
                    }
                    self.local.deliver(Arc::new(event));
                }
                Err(error) => {
                    tracing::warn!(%error, "skipped a malformed message on the event channel");
                }
            }
        }
    }

    /// Moves on the shared cache epochs `event` names, which its publisher moved by other
    /// rules; when Redis does not take that, leaves everything shared behind instead.
    async fn move_epochs(&self, event: &Event) {
        let mut moves = ::redis::pipe();
        shared_cache::move_epochs(&mut moves, event);
        if let Err(error) = self.connection.query_pipeline::<()>(&moves).await {
            tracing::warn!(%error, "cannot move the shared cache on past an event of another version");
            leave_shared_behind(&self.connection).await;
        }
    }
}

/// Starts a new era of the shared cache, leaving everything shared so far behind. Should Redis
/// not take this either, it is unreachable, and rejoining does the same.
async fn leave_shared_behind(connection: &RedisConnection) {
    if let Err(error) = connection.query::<u64>(&shared_cache::new_era()).await {
        tracing::debug!(%error, "cannot start a new era of the shared cache");
    }
}
