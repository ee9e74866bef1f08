//! Webhook de-duplication across replicas through a real Redis, and without it.

use heymarket_gateway::events::SeenEvents;
use heymarket_gateway::redis::{RedisConnection, RedisSeenEvents};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::redis_support::{RedisServer, free_port, until_up};

#[tokio::test]
async fn a_fingerprint_is_new_once_across_replicas() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let connect = || RedisConnection::start(&server.url(), stop.clone()).unwrap();
    let (to_a, to_b) = (connect(), connect());
    until_up(&[&to_a, &to_b]).await;
    let (a, b) = (RedisSeenEvents::new(to_a), RedisSeenEvents::new(to_b));

    assert!(a.first_time("evt-1").await);
    assert!(!b.first_time("evt-1").await, "B sees A's event as a repeat");
    assert!(!a.first_time("evt-1").await);
    assert!(b.first_time("evt-2").await);
    assert!(!a.first_time("evt-2").await, "and A sees B's");
}

#[tokio::test]
async fn without_redis_each_replica_still_drops_repeats() {
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let nowhere: Url = format!("redis://127.0.0.1:{}", free_port())
        .parse()
        .unwrap();
    let seen = RedisSeenEvents::new(RedisConnection::start(&nowhere, stop.clone()).unwrap());

    assert!(seen.first_time("evt-1").await);
    assert!(!seen.first_time("evt-1").await);
    assert!(seen.first_time("evt-2").await);
}
