//! Events between replicas through a real Redis: delivery, malformed messages, an outage.

use heymarket_gateway::events::{BusStatus, EventBus};
use heymarket_gateway::redis::EVENTS_CHANNEL;

use crate::helpers::spawn_app_with;
use crate::redis_support::{RedisServer, Replica, eventually, next_id, publish};
use crate::sandbox_support::roomy_config;

#[tokio::test]
async fn every_replica_gets_every_event_once_in_order() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (a, b) = (Replica::start(&server.url()), Replica::start(&server.url()));
    a.until_bus(BusStatus::Shared).await;
    b.until_bus(BusStatus::Shared).await;
    let mut receivers = [a.bus.subscribe(), a.bus.subscribe(), b.bus.subscribe()];

    for n in 1..=3 {
        publish(&a.bus, n).await;
    }
    publish(&b.bus, 4).await;
    publish(&a.bus, 5).await;

    // A repeat of any event would show up before the next one: each receiver's sequence is
    // exactly the published one.
    for receiver in &mut receivers {
        let mut ids = Vec::new();
        for _ in 1..=5 {
            ids.push(next_id(receiver).await);
        }
        assert_eq!(ids, [1, 2, 3, 4, 5]);
    }
}

#[tokio::test]
async fn malformed_messages_on_the_channel_are_skipped() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let (a, b) = (Replica::start(&server.url()), Replica::start(&server.url()));
    a.until_bus(BusStatus::Shared).await;
    b.until_bus(BusStatus::Shared).await;
    let (mut at_a, mut at_b) = (a.bus.subscribe(), b.bus.subscribe());

    let mut redis = server.client().await;
    for garbage in ["not json", r#"{"fingerprint": 1}"#, ""] {
        let heard: u64 = redis::cmd("PUBLISH")
            .arg(EVENTS_CHANNEL)
            .arg(garbage)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(heard, 2, "both replicas listen");
    }
    publish(&a.bus, 7).await;

    assert_eq!(next_id(&mut at_a).await, 7);
    assert_eq!(next_id(&mut at_b).await, 7);
    assert_eq!(a.bus.status(), BusStatus::Shared);
    assert_eq!(b.bus.status(), BusStatus::Shared);
}

#[tokio::test]
async fn an_outage_degrades_to_local_delivery_and_recovers_by_itself() {
    let Some(mut server) = RedisServer::start().await else {
        return;
    };
    let (a, b) = (Replica::start(&server.url()), Replica::start(&server.url()));
    let url = server.url();
    let gateway = spawn_app_with(roomy_config(), |config| config.redis_url = Some(url)).await;
    a.until_bus(BusStatus::Shared).await;
    b.until_bus(BusStatus::Shared).await;
    eventually("the gateway to be ready", || async {
        gateway.is_ready().await
    })
    .await;
    let (mut at_a, mut at_b) = (a.bus.subscribe(), b.bus.subscribe());

    server.stop().await;
    a.until_bus(BusStatus::Degraded).await;
    b.until_bus(BusStatus::Degraded).await;
    publish(&a.bus, 1).await;
    assert_eq!(
        next_id(&mut at_a).await,
        1,
        "local subscribers still get events"
    );
    eventually("the gateway to report Redis down", || async {
        gateway.readyz().await.1["redis"] == "down"
    })
    .await;
    let (status, body) = gateway.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["events"], "degraded", "{body}");
    assert!(
        body["redis_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );

    server.restart().await;
    a.until_bus(BusStatus::Shared).await;
    b.until_bus(BusStatus::Shared).await;
    publish(&a.bus, 2).await;
    assert_eq!(next_id(&mut at_a).await, 2);
    assert_eq!(
        next_id(&mut at_b).await,
        2,
        "B hears A again, and never heard what A delivered alone"
    );
    eventually("the gateway to be ready again", || async {
        gateway.is_ready().await
    })
    .await;
    let mut body = gateway.readyz().await.1;
    // The team of the events published above is event-driven or not depending on when the
    // gateway last looked at the bus; tests/api/freshness.rs covers that.
    body.as_object_mut()
        .map(|fields| fields.remove("freshness"));
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "upstream": "up", "redis": "up", "events": "shared"})
    );
}
