//! `/readyz`: the upstream's verdict (up, reachable, down, re-used for its TTL), with and
//! without Redis, and a gateway that starts while Redis is down.

use std::time::Duration;

use futures::future::join_all;
use heymarket_gateway::config::{RateBudget, UpstreamAuth};
use heymarket_sandbox::SandboxConfig;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};
use crate::redis_support::{RedisServer, eventually, free_port};
use crate::sandbox_support::roomy_config;

#[tokio::test]
async fn without_redis_the_gateway_is_ready_on_its_own() {
    let app = spawn_app().await;

    let (status, body) = app.readyz().await;

    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ready", "upstream": "up", "redis": "not configured", "events": "local", "freshness": {}})
    );
}

#[tokio::test]
async fn with_redis_up_the_gateway_is_ready_and_shares_events() {
    let Some(server) = RedisServer::start().await else {
        return;
    };
    let url = server.url();
    let app = spawn_app_with(roomy_config(), |config| config.redis_url = Some(url)).await;

    eventually("the gateway to be ready", || async { app.is_ready().await }).await;

    assert_eq!(
        app.readyz().await.1,
        json!({"status": "ready", "upstream": "up", "redis": "up", "events": "shared", "freshness": {}})
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
        app.readyz().await.1["redis"] == "down"
    })
    .await;
    let (status, body) = app.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["events"], "degraded", "{body}");
    assert_eq!(body["redis_error"], "unreachable", "{body}");
    let shown = body.to_string();
    assert!(!shown.contains("s3cret"), "{body}");
    assert!(
        !shown.contains("os error") && !shown.contains(&port.to_string()),
        "no OS error text nor address: {body}"
    );
}

#[tokio::test]
async fn an_unreachable_upstream_is_reported_in_stable_words_without_os_errors() {
    let port = free_port();
    let app = spawn_app_with(SandboxConfig::default(), |config| {
        config.upstream.base_url = format!("http://127.0.0.1:{port}").parse().unwrap();
        config.upstream.max_retries = 0;
    })
    .await;

    let (status, body) = app.readyz().await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(body["upstream"], "down", "{body}");
    assert_eq!(
        body["upstream_error"], "the upstream is unreachable",
        "{body}"
    );
    let shown = body.to_string();
    assert!(
        !shown.contains("os error") && !shown.contains(&port.to_string()),
        "no OS error text nor address: {body}"
    );
}

#[tokio::test]
async fn a_failing_upstream_makes_the_gateway_unready_until_it_recovers() {
    let app = spawn_app_with(SandboxConfig::default(), |config| {
        config.upstream.check_ttl = Duration::ZERO;
    })
    .await;
    app.sandbox.set_faults(json!({"error_rate": 1.0})).await;

    let (status, body) = app.readyz().await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["upstream"], "down", "{body}");
    assert!(
        body["upstream_error"]
            .as_str()
            .is_some_and(|error| error.contains("status 500")),
        "{body}"
    );

    app.sandbox.set_faults(json!({})).await;
    eventually("the upstream to be reported up", || async {
        app.is_ready().await
    })
    .await;
    assert_eq!(app.readyz().await.1["upstream"], "up");
}

#[tokio::test]
async fn a_spent_upstream_budget_leaves_the_gateway_ready() {
    let app = spawn_app_with(roomy_config(), |config| {
        config.upstream.check_ttl = Duration::ZERO;
        // A burst of one, then one call a minute.
        config.upstream.rate_limit = RateBudget {
            requests: 1,
            per: Duration::from_secs(60),
        };
    })
    .await;
    let body = app.graphql("{ team { name } }").await;
    assert!(body["errors"].is_null(), "{body}");

    // Waiting for the budget would take a minute; the check answers long before.
    let (status, body) = tokio::time::timeout(Duration::from_secs(30), app.readyz())
        .await
        .expect("answered without waiting for the budget");

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["upstream"], "rate limited", "{body}");
    assert_eq!(
        app.sandbox.calls("GET /v1/team").await,
        1,
        "the check took no permit"
    );
}

#[tokio::test]
async fn an_upstream_429_leaves_the_gateway_ready() {
    let app = spawn_app_with(roomy_config(), |config| {
        config.upstream.check_ttl = Duration::ZERO;
    })
    .await;
    app.sandbox
        .set_faults(json!({"rate_limit_rate": 1.0}))
        .await;

    let (status, body) = app.readyz().await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["upstream"], "rate limited", "{body}");
}

#[tokio::test]
async fn a_rejected_credential_makes_the_gateway_unready_without_revealing_it() {
    let app = spawn_app_with(SandboxConfig::default(), |config| {
        let UpstreamAuth::Secret { id, .. } = &config.upstream.auth else {
            panic!("the test gateway holds a secret");
        };
        config.upstream.auth = UpstreamAuth::Secret {
            id: id.clone(),
            key: "not-the-key-4b1d".to_owned().into(),
        };
    })
    .await;

    let (status, body) = app.readyz().await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(body["upstream"], "down", "{body}");
    assert_eq!(
        body["upstream_error"], "the upstream rejected the credentials",
        "{body}"
    );
    assert!(!body.to_string().contains("4b1d"), "{body}");
}

#[tokio::test]
async fn in_pass_through_mode_the_upstream_need_only_answer() {
    let app = spawn_app_with(SandboxConfig::default(), |config| {
        config.upstream.auth = UpstreamAuth::PassThrough;
    })
    .await;

    let (status, body) = app.readyz().await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["upstream"], "reachable", "{body}");
}

#[tokio::test]
async fn concurrent_and_repeated_probes_share_one_upstream_check_per_ttl() {
    let app = spawn_app_with(SandboxConfig::default(), |config| {
        config.upstream.check_ttl = Duration::from_secs(600);
    })
    .await;
    let before = app.sandbox.calls("GET /v1/team").await;

    let answers = join_all((0..8).map(|_| app.readyz())).await;
    let (status, _) = app.readyz().await;

    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert_eq!(status, 200);
    assert_eq!(app.sandbox.calls("GET /v1/team").await, before + 1);
}
