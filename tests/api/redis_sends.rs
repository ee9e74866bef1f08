//! Idempotency keys of sends shared by replicas through a real Redis, kept through an outage,
//! and kept without Redis.

use std::time::Duration;

use heymarket_gateway::config::{UpstreamAuth, UpstreamConfig};
use heymarket_gateway::idempotency::{Outcome, Record, SendKey, SendRecords, Sent};
use heymarket_gateway::redis::{RedisConnection, RedisSendRecords};
use heymarket_gateway::upstream::Client;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::redis_support::{RedisServer, free_port, until_up};

const TTL: Duration = Duration::from_secs(60);

fn key(name: &str) -> SendKey {
    let config = UpstreamConfig {
        auth: UpstreamAuth::Secret {
            id: "secret-id".to_owned(),
            key: "a-secret-key".to_owned().into(),
        },
        ..UpstreamConfig::default()
    };
    let client = Client::new(&config).expect("a client");
    let tenant = client.tenant(None).expect("a tenant").tenant_key();
    SendKey::new(tenant, name)
}

fn record(input: &str, outcome: Outcome) -> Record {
    Record {
        input: input.to_owned(),
        outcome,
    }
}

fn sending(input: &str) -> Record {
    record(input, Outcome::Sending { since: 1 })
}

#[tokio::test]
async fn a_key_is_claimed_once_across_replicas() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let connect = || RedisConnection::start(&server.url(), stop.clone()).unwrap();
    let (to_a, to_b) = (connect(), connect());
    until_up(&[&to_a, &to_b]).await;
    let (a, b) = (
        RedisSendRecords::new(to_a, TTL),
        RedisSendRecords::new(to_b, TTL),
    );
    let order = key("order-1");

    assert_eq!(a.claim(&order, &sending("a")).await, None);
    assert_eq!(
        b.claim(&order, &sending("b")).await,
        Some(sending("a")),
        "B finds A's claim"
    );
    let sent = record(
        "a",
        Outcome::Sent(Sent {
            message_id: 9,
            date: None,
            conversation_id: Some(7),
        }),
    );
    a.put(&order, &sent).await;
    assert_eq!(b.claim(&order, &sending("b")).await, Some(sent));
    assert_eq!(b.claim(&key("order-2"), &sending("b")).await, None);
    assert_eq!(
        a.claim(&key("order-2"), &sending("a")).await,
        Some(sending("b"))
    );
}

#[tokio::test]
async fn what_a_replica_recorded_while_redis_was_down_counts_once_it_is_back() {
    let Some(mut server) = RedisServer::start().await else {
        return;
    };
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let to_a = RedisConnection::start(&server.url(), stop.clone()).unwrap();
    until_up(&[&to_a]).await;
    let a = RedisSendRecords::new(to_a.clone(), TTL);
    let order = key("order-1");

    server.stop().await;
    assert_eq!(a.claim(&order, &sending("a")).await, None, "claimed alone");
    let unknown = record("a", Outcome::Unknown);
    a.put(&order, &unknown).await;
    // The restarted Redis has forgotten everything.
    server.restart().await;
    let to_b = RedisConnection::start(&server.url(), stop.clone()).unwrap();
    until_up(&[&to_a, &to_b]).await;
    let b = RedisSendRecords::new(to_b, TTL);

    assert_eq!(
        a.claim(&order, &sending("a")).await,
        Some(unknown.clone()),
        "A remembers its own send"
    );
    assert_eq!(
        b.claim(&order, &sending("a")).await,
        Some(unknown),
        "and has told Redis, so B knows it too"
    );
}

#[tokio::test]
async fn without_redis_a_replica_still_claims_each_key_once() {
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let nowhere: Url = format!("redis://127.0.0.1:{}", free_port())
        .parse()
        .unwrap();
    let records =
        RedisSendRecords::new(RedisConnection::start(&nowhere, stop.clone()).unwrap(), TTL);
    let order = key("order-1");

    assert_eq!(records.claim(&order, &sending("a")).await, None);
    assert_eq!(
        records.claim(&order, &sending("b")).await,
        Some(sending("a"))
    );
    records.remove(&order).await;
    assert_eq!(records.claim(&order, &sending("b")).await, None);
}
