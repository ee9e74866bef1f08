//! The store replicas share cache entries through, in a real Redis: an entry is kept by the
//! epochs it names, which the events that reach it move on, and a value once left behind is
//! never read again.

use std::time::Duration;

use heymarket_gateway::events::BusStatus;
use heymarket_gateway::redis::{
    Epoch, RedisConnection, RedisSharedCache, SharedEntry, SharedStore,
};
use tokio_util::sync::CancellationToken;

use crate::redis_support::{RedisServer, Replica, publish, until_up};

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

#[tokio::test]
async fn an_entry_is_left_behind_by_the_events_that_reach_it_and_never_read_again() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let publisher = Replica::start(&server.url());
    publisher.until_bus(BusStatus::Shared).await;
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let connection = RedisConnection::start(&server.url(), stop.clone()).expect("a usable URL");
    until_up(&[&connection]).await;
    let store = RedisSharedCache::new(connection);
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
        .arg("heymarket-gateway:cache-epoch:*")
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
