//! `/readyz` with and without Redis, and a gateway that starts while Redis is down.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::redis_support::{RedisServer, eventually, free_port};
use crate::sandbox_support::roomy_config;

async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = app.http.get(app.url("/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn without_redis_the_gateway_is_ready_on_its_own() {
    let app = spawn_app().await;

    let (status, body) = readyz(&app).await;

    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ready", "redis": "not configured", "events": "local"})
    );
}

#[tokio::test]
async fn with_redis_up_the_gateway_is_ready_and_shares_events() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let url = server.url();
    let app = spawn_app_with(roomy_config(), |config| config.redis_url = Some(url)).await;

    eventually("the gateway to be ready", || async {
        readyz(&app).await.0 == 200
    })
    .await;

    assert_eq!(
        readyz(&app).await.1,
        json!({"status": "ready", "redis": "up", "events": "shared"})
    );
    let body = app.graphql("{ inboxes { name } }").await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn a_gateway_starts_and_serves_while_redis_is_down() {
    let port = free_port();
    let app = spawn_app_with(roomy_config(), |config| {
        config.redis_url = Some(
            format!("redis://gateway:s3cret@127.0.0.1:{port}")
                .parse()
                .unwrap(),
        )
    })
    .await;

    let body = app.graphql("{ inboxes { name } }").await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(!body["data"]["inboxes"].as_array().unwrap().is_empty());
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    eventually("Redis to be reported down", || async {
        readyz(&app).await.1["redis"] == "down"
    })
    .await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["events"], "degraded", "{body}");
    let error = body["redis_error"].as_str().expect("the last error");
    assert!(!error.is_empty());
    assert!(!body.to_string().contains("s3cret"), "{body}");
}
