//! The store replicas share cache entries through, in a real Redis: an entry is kept by the
//! epochs it names, which the events that reach it move on, and a value once left behind is
//! never read again.

use std::time::Duration;

use heymarket_gateway::events::{BusStatus, EventBus};
use heymarket_gateway::redis::EVENTS_CHANNEL;
use heymarket_gateway::redis::{
    Epoch, RedisConnection, RedisSharedCache, SharedEntry, SharedStore,
};
use tokio_util::sync::CancellationToken;

use crate::redis_support::{RedisServer, Replica, event, next_id, publish, until_up};

/// The team of the events `redis_support::event` makes.
const TEAM: i64 = 101;

fn conversation(id: i64) -> SharedEntry {
    SharedEntry {
        key: format!("conversation:{id}"),
        epochs: vec![Epoch::Unplaced, Epoch::Conversation(id)],
    }
}

/// What `store` holds for `entries` now.
async fn values(store: &RedisSharedCache, entries: &[SharedEntry]) -> Vec<Option<String>> {
    let read = store.read(TEAM, entries).await.expect("Redis answers");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("text was kept");
    read.values
        .into_iter()
        .map(|value| value.map(text))
        .collect()
}

/// Keeps `value` for every one of `entries` in their current epochs.
async fn keep(store: &RedisSharedCache, entries: &[SharedEntry], value: &str) {
    let read = store.read(TEAM, entries).await.expect("Redis answers");
    let kept = read
        .names
        .into_iter()
        .map(|name| (name, value.as_bytes().to_vec()))
        .collect();
    store.write(kept, Duration::from_secs(60)).await;
}

/// A store of its own, over a connection that is up.
async fn store_at(server: &RedisServer, stop: &CancellationToken) -> RedisSharedCache {
    let connection = RedisConnection::start(&server.url(), stop.clone()).expect("a usable URL");
    until_up(&[&connection]).await;
    RedisSharedCache::new(connection)
}

#[tokio::test]
async fn an_entry_is_left_behind_by_the_events_that_reach_it_and_never_read_again() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let publisher = Replica::start(&server.url());
    publisher.until_bus(BusStatus::Shared).await;
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let store = store_at(&server, &stop).await;
    let entries = [conversation(1), conversation(2)];
    let both = |value: &str| vec![Some(value.to_owned()); 2];

    assert_eq!(values(&store, &entries).await, [None, None]);
    keep(&store, &entries, "first").await;
    assert_eq!(values(&store, &entries).await, both("first"));

    // An event naming conversation 1 leaves its entry behind, and only its.
    publish(&publisher.bus, 1).await;
    assert_eq!(
        values(&store, &entries).await,
        [None, Some("first".to_owned())]
    );
    keep(&store, &entries[..1], "second").await;
    assert_eq!(values(&store, &entries).await, both_of("second", "first"));

    // Every epoch key lost (evicted, or expired): the epochs come back with values never
    // taken before, so neither what was kept before the event nor after it is read again.
    let mut client = server.client().await;
    let epochs: Vec<String> = redis::cmd("KEYS")
        .arg("heymarket-gateway:cache-epochs:*")
        .query_async(&mut client)
        .await
        .expect("Redis lists keys");
    assert!(epochs.len() >= 3, "{epochs:?}");
    redis::cmd("DEL")
        .arg(epochs)
        .query_async::<()>(&mut client)
        .await
        .expect("Redis deletes keys");
    assert_eq!(values(&store, &entries).await, [None, None]);
}

fn both_of(first: &str, second: &str) -> Vec<Option<String>> {
    vec![Some(first.to_owned()), Some(second.to_owned())]
}

#[tokio::test]
async fn an_event_published_by_other_rules_is_moved_on_by_the_replica_that_hears_it() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let listener = Replica::start(&server.url());
    listener.until_bus(BusStatus::Shared).await;
    let mut heard = listener.bus.subscribe();
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let store = store_at(&server, &stop).await;
    let entries = [conversation(1), conversation(2)];
    keep(&store, &entries, "kept").await;

    // A replica of another version publishes the event as it is, moving none of these epochs.
    let mut client = server.client().await;
    let payload = serde_json::to_string(&event(1)).expect("an event encodes");
    redis::cmd("PUBLISH")
        .arg(EVENTS_CHANNEL)
        .arg(payload)
        .query_async::<()>(&mut client)
        .await
        .expect("Redis publishes");

    assert_eq!(
        next_id(&mut heard).await,
        1,
        "the replica took the event in"
    );
    assert_eq!(
        values(&store, &entries).await,
        [None, Some("kept".to_owned())],
        "it moved the event's epochs before"
    );
}
