//! Upstream faults through the sandbox's knobs: partial data with per-field errors, the stated
//! codes, answers within the request deadline, no retried non-idempotent writes, and the
//! circuit breaker failing fast and recovering.

use std::time::{Duration, Instant};

use heymarket_gateway::config::{BreakerConfig, GatewayConfig, SandboxConfig};
use heymarket_gateway::schema::GlobalId;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app_with};
use crate::mutations::{MESSAGE_PAYLOAD, conversation_gid, inbound, mutate};
use crate::sandbox_support::roomy_config;

/// The request deadline of these gateways; every answer must come within it.
const DEADLINE: Duration = Duration::from_secs(3);
/// Slack for scheduling on a loaded machine; not a latency target.
const MARGIN: Duration = Duration::from_secs(1);
/// The upstream route that sends messages.
const SEND: &str = "POST /v1/message/send";
/// A breaker that never opens, for the tests about single requests.
const NEVER_OPENS: BreakerConfig = BreakerConfig {
    threshold: u32::MAX,
    cooldown: Duration::from_secs(60),
};

async fn app(customise: impl FnOnce(&mut GatewayConfig)) -> TestApp {
    spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            config.limits.request_timeout = DEADLINE;
            config.upstream.breaker = NEVER_OPENS;
            customise(config);
        },
    )
    .await
}

/// Runs `query`, insisting on a 200 within the deadline, and answers the body.
async fn timed(app: &TestApp, query: &str) -> Value {
    let start = Instant::now();
    let (status, body) = app.graphql_with(query, Value::Null, &[]).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed < DEADLINE + MARGIN,
        "answered after {elapsed:?}: {body}"
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn inbox_query() -> String {
    format!(
        r#"{{ team {{ name }} inbox(id: "{}") {{ name }} }}"#,
        GlobalId::Inbox(3001)
    )
}

/// The one error of `body`: its code and its path.
fn only_error(body: &Value) -> (String, Value) {
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    (error_codes(body).remove(0), errors[0]["path"].clone())
}

#[tokio::test]
async fn a_failing_upstream_leaves_cached_fields_answered_and_the_rest_in_error() {
    let app = app(|_| {}).await;
    let warm = timed(&app, "{ team { name } }").await;
    assert_eq!(warm["errors"], Value::Null, "{warm}");
    app.sandbox.set_faults(json!({ "error_rate": 1.0 })).await;

    let body = timed(&app, &inbox_query()).await;

    assert_eq!(body["data"]["team"], warm["data"]["team"], "{body}");
    assert_eq!(body["data"]["inbox"], Value::Null, "{body}");
    assert_eq!(
        only_error(&body),
        ("UPSTREAM_UNAVAILABLE".to_owned(), json!(["inbox"]))
    );
    let retries = u64::from(app.config.upstream.max_retries);
    assert_eq!(
        app.sandbox.calls("GET /v1/inboxes").await,
        1 + retries,
        "reads are retried, as configured"
    );
}

#[tokio::test]
async fn a_storm_of_429s_is_rate_limited_with_a_retry_hint() {
    let app = app(|_| {}).await;
    app.sandbox
        .set_faults(json!({ "rate_limit_rate": 1.0 }))
        .await;

    let body = timed(&app, "{ team { name } }").await;

    assert_eq!(error_codes(&body), ["RATE_LIMITED"], "{body}");
    let retry_after = &body["errors"][0]["extensions"]["retryAfterMs"];
    assert!(retry_after.as_u64() > Some(0), "{body}");
    assert!(
        app.sandbox.calls("GET /v1/team").await > 1,
        "429s are retried"
    );
}

#[tokio::test]
async fn an_upstream_slower_than_its_timeout_is_an_upstream_timeout() {
    let app = app(|config| config.upstream.timeout = Duration::from_millis(200)).await;
    app.sandbox.set_faults(json!({ "latency_ms": 2_000 })).await;

    let body = timed(&app, "{ team { name } }").await;

    assert_eq!(error_codes(&body), ["UPSTREAM_TIMEOUT"], "{body}");
}

#[tokio::test]
async fn a_request_never_outlives_its_deadline_whatever_the_upstream_does() {
    let app = app(|config| config.upstream.timeout = Duration::from_secs(30)).await;
    app.sandbox
        .set_faults(json!({ "latency_ms": 20_000 }))
        .await;

    let body = timed(&app, "{ team { name } }").await;

    assert_eq!(error_codes(&body), ["REQUEST_TIMEOUT"], "{body}");
}

#[tokio::test]
async fn malformed_bodies_are_upstream_unavailable_not_a_crash() {
    let app = app(|_| {}).await;
    app.sandbox
        .set_faults(json!({ "malformed_rate": 1.0 }))
        .await;

    let body = timed(&app, "{ team { name } inboxes { name } }").await;

    assert_eq!(body["data"], Value::Null, "{body}");
    let codes = error_codes(&body);
    assert!(
        !codes.is_empty() && codes.iter().all(|code| code == "UPSTREAM_UNAVAILABLE"),
        "{body}"
    );
    app.sandbox.set_faults(json!({})).await;
    let healthy = timed(&app, "{ team { name } }").await;
    assert_eq!(healthy["errors"], Value::Null, "still serving: {healthy}");
}

#[tokio::test]
async fn a_send_whose_answer_is_lost_reports_an_unknown_outcome_not_retry_later() {
    let app = app(|_| {}).await;
    let id = inbound(&app, 3001, "12125550181").await;
    let send = |text: &str| json!({ "conversationId": conversation_gid(id), "text": text });
    let (_, warm) = mutate(
        &app,
        "sendMessage",
        "SendMessageInput",
        MESSAGE_PAYLOAD,
        send("warms every lookup"),
        None,
    )
    .await;
    assert_eq!(warm["errors"], Value::Null, "{warm}");
    let sends_before = app.sandbox.calls(SEND).await;
    // The sandbox stores the message, then cuts the answer's body.
    app.sandbox
        .set_faults(json!({ "routes": [SEND], "malformed_rate": 1.0 }))
        .await;

    let (_, body) = mutate(
        &app,
        "sendMessage",
        "SendMessageInput",
        MESSAGE_PAYLOAD,
        send("stored, answer lost"),
        None,
    )
    .await;

    assert_eq!(error_codes(&body), ["OUTCOME_UNKNOWN"], "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("read the conversation's messages") && message.contains("idempotencyKey"),
        "{message}"
    );
    assert!(!message.contains("retry later"), "{message}");
    assert_eq!(app.sandbox.calls(SEND).await, sends_before + 1, "sent once");
    app.sandbox.set_faults(json!({})).await;
    let history = app
        .graphql(&format!(
            r#"{{ conversation(id: "{}") {{ messages(first: 5) {{ nodes {{ text }} }} }} }}"#,
            conversation_gid(id)
        ))
        .await;
    let texts = &history["data"]["conversation"]["messages"]["nodes"];
    let landed = texts
        .as_array()
        .unwrap()
        .iter()
        .filter(|node| node["text"] == "stored, answer lost")
        .count();
    assert_eq!(
        landed, 1,
        "the message the client is told to look for: {history}"
    );
}

#[tokio::test]
async fn a_send_without_an_idempotency_key_is_never_retried() {
    let app = app(|_| {}).await;
    let id = inbound(&app, 3001, "12125550180").await;
    let send = |text: &str| json!({ "conversationId": conversation_gid(id), "text": text });
    let (first, body) = mutate(
        &app,
        "sendMessage",
        "SendMessageInput",
        MESSAGE_PAYLOAD,
        send("warms every lookup"),
        None,
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert!(first["message"]["databaseId"].is_string(), "{body}");
    let sends_before = app.sandbox.calls(SEND).await;
    app.sandbox
        .set_faults(json!({ "routes": [SEND], "error_rate": 1.0 }))
        .await;

    let (_, body) = mutate(
        &app,
        "sendMessage",
        "SendMessageInput",
        MESSAGE_PAYLOAD,
        send("may or may not have landed"),
        None,
    )
    .await;

    // A 500 may come after the upstream stored the message.
    assert_eq!(error_codes(&body), ["OUTCOME_UNKNOWN"], "{body}");
    assert_eq!(
        app.sandbox.calls(SEND).await,
        sends_before + 1,
        "one attempt, no retry"
    );
}

#[tokio::test]
async fn the_breaker_fails_fast_while_the_upstream_is_down_and_recovers_after_it() {
    let app = app(|config| {
        config.upstream.max_retries = 2;
        config.upstream.breaker = BreakerConfig {
            threshold: 3,
            cooldown: Duration::from_millis(300),
        };
    })
    .await;
    app.sandbox.set_faults(json!({ "error_rate": 1.0 })).await;

    let opened = timed(&app, "{ team { name } }").await;
    assert_eq!(error_codes(&opened), ["UPSTREAM_UNAVAILABLE"], "{opened}");
    let calls_when_opened = app.sandbox.stats().await["total"].clone();
    assert_eq!(calls_when_opened, 3, "three failed attempts open it");

    let refused = timed(&app, "{ team { name } }").await;
    assert_eq!(error_codes(&refused), ["UPSTREAM_UNAVAILABLE"], "{refused}");
    let retry_after = refused["errors"][0]["extensions"]["retryAfterMs"].as_u64();
    assert!(
        retry_after.is_some_and(|ms| ms <= 300),
        "the breaker says when to retry: {refused}"
    );
    assert_eq!(
        app.sandbox.stats().await["total"],
        calls_when_opened,
        "an open breaker sends nothing"
    );

    app.sandbox.set_faults(json!({})).await;
    let start = Instant::now();
    let recovered = loop {
        assert!(start.elapsed() < DEADLINE, "the breaker never closed");
        let body = timed(&app, "{ team { name } }").await;
        if body["errors"] == Value::Null {
            break body;
        }
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(recovered["data"]["team"]["name"].is_string(), "{recovered}");
    let inboxes = timed(&app, "{ inboxes { name } }").await;
    assert_eq!(inboxes["errors"], Value::Null, "closed again: {inboxes}");
    assert_eq!(app.sandbox.calls("GET /v1/inboxes").await, 1);
}

#[tokio::test]
async fn a_query_over_a_websocket_never_outlives_its_deadline_either() {
    let app = app(|config| config.upstream.timeout = Duration::from_secs(30)).await;
    let mut socket = app.subscriber(json!({})).await;
    app.sandbox
        .set_faults(json!({ "latency_ms": 20_000 }))
        .await;

    socket
        .subscribe("{ conversations(first: 1) { nodes { id } } }", Value::Null)
        .await;
    let start = Instant::now();
    let body = socket.next_result().await;

    assert!(start.elapsed() < DEADLINE + MARGIN, "{body}");
    assert_eq!(error_codes(&body), ["REQUEST_TIMEOUT"], "{body}");
}
