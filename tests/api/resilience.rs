//! Upstream faults through the sandbox's knobs: partial data with per-field errors, the stated
//! codes, the request deadline cutting a stalled upstream short, no retried non-idempotent
//! writes, and the circuit breaker failing fast and recovering.

use std::time::Duration;

use heymarket_gateway::config::{BreakerConfig, GatewayConfig};
use heymarket_gateway::schema::GlobalId;
use heymarket_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, eventually_ok, json_at, spawn_app_with};
use crate::mutations::{MESSAGE_PAYLOAD, conversation_gid, inbound, mutate};
use crate::sandbox_support::roomy_config;

/// The request deadline of the gateways that test it (the others keep the default, which no
/// request of theirs comes near).
const DEADLINE: Duration = Duration::from_secs(1);
/// An upstream latency of ten deadlines: an answer before it can only come from the deadline.
const TEN_DEADLINES_MS: u64 = 10_000;
/// How long a test waits for any answer before failing instead of hanging; it measures nothing.
const HANG_GUARD: Duration = Duration::from_secs(60);
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
            config.upstream.breaker = NEVER_OPENS;
            customise(config);
        },
    )
    .await
}

/// Runs `query`, insisting on a 200, and answers the body.
async fn answer(app: &TestApp, query: &str) -> Value {
    let (status, body) =
        tokio::time::timeout(HANG_GUARD, app.graphql_with(query, Value::Null, &[]))
            .await
            .expect("an answer, not a hang");
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
    let errors: Vec<Value> = json_at(body, "/errors");
    assert_eq!(errors.len(), 1, "{body}");
    (error_codes(body).remove(0), errors[0]["path"].clone())
}

#[tokio::test]
async fn a_failing_upstream_leaves_cached_fields_answered_and_the_rest_in_error() {
    let app = app(|_| {}).await;
    let warm = answer(&app, "{ team { name } }").await;
    assert_eq!(warm["errors"], Value::Null, "{warm}");
    app.sandbox.set_faults(json!({ "error_rate": 1.0 })).await;

    let body = answer(&app, &inbox_query()).await;

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

    let body = answer(&app, "{ team { name } }").await;

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
    // Ten times the call timeout: no attempt can be answered before it runs out.
    let app = app(|config| config.upstream.timeout = Duration::from_millis(200)).await;
    app.sandbox.set_faults(json!({ "latency_ms": 2_000 })).await;

    let body = answer(&app, "{ team { name } }").await;

    assert_eq!(error_codes(&body), ["UPSTREAM_TIMEOUT"], "{body}");
}

/// A gateway with a short request deadline and an upstream call timeout longer than
/// [`TEN_DEADLINES_MS`], so that only the deadline can cut a stalled call short.
async fn deadline_app() -> TestApp {
    app(|config| {
        config.limits.request_timeout = DEADLINE;
        config.upstream.timeout = Duration::from_secs(30);
    })
    .await
}

#[tokio::test]
async fn a_request_never_outlives_its_deadline_whatever_the_upstream_does() {
    let app = deadline_app().await;
    app.sandbox
        .set_faults(json!({ "latency_ms": TEN_DEADLINES_MS }))
        .await;

    let body = answer(&app, "{ team { name } }").await;

    assert_eq!(error_codes(&body), ["REQUEST_TIMEOUT"], "{body}");
}

#[tokio::test]
async fn malformed_bodies_are_upstream_unavailable_not_a_crash() {
    let app = app(|_| {}).await;
    app.sandbox
        .set_faults(json!({ "malformed_rate": 1.0 }))
        .await;

    let body = answer(&app, "{ team { name } inboxes { name } }").await;

    assert_eq!(body["data"], Value::Null, "{body}");
    let codes = error_codes(&body);
    assert!(
        !codes.is_empty() && codes.iter().all(|code| code == "UPSTREAM_UNAVAILABLE"),
        "{body}"
    );
    app.sandbox.set_faults(json!({})).await;
    let healthy = answer(&app, "{ team { name } }").await;
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
    let message: String = json_at(&body, "/errors/0/message");
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
    let landed = json_at::<Vec<Value>>(&history, "/data/conversation/messages/nodes")
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

/// A gateway whose breaker opens after the three failed attempts of one read and stays open
/// for `cooldown`.
async fn breaker_app(cooldown: Duration) -> TestApp {
    app(|config| {
        config.upstream.max_retries = 2;
        config.upstream.breaker = BreakerConfig {
            threshold: 3,
            cooldown,
        };
    })
    .await
}

/// Fails every upstream call and makes one read through `app`, which opens its breaker.
async fn open_breaker(app: &TestApp) {
    app.sandbox.set_faults(json!({ "error_rate": 1.0 })).await;
    let opened = answer(app, "{ team { name } }").await;
    assert_eq!(error_codes(&opened), ["UPSTREAM_UNAVAILABLE"], "{opened}");
    assert_eq!(
        app.sandbox.stats().await["total"],
        3,
        "three failed attempts open it"
    );
}

#[tokio::test]
async fn the_breaker_fails_fast_while_the_upstream_is_down() {
    // A cooldown no test outlasts: the breaker stays open for the whole test.
    let app = breaker_app(Duration::from_secs(600)).await;
    open_breaker(&app).await;

    let refused = answer(&app, "{ team { name } }").await;
    assert_eq!(error_codes(&refused), ["UPSTREAM_UNAVAILABLE"], "{refused}");
    let retry_after = refused["errors"][0]["extensions"]["retryAfterMs"].as_u64();
    assert!(
        retry_after.is_some_and(|ms| ms > 0 && ms <= 600_000),
        "the breaker says when to retry: {refused}"
    );
    assert_eq!(
        app.sandbox.stats().await["total"],
        3,
        "an open breaker sends nothing"
    );
}

#[tokio::test]
async fn the_breaker_recovers_after_the_upstream_does() {
    let app = breaker_app(Duration::from_millis(300)).await;
    open_breaker(&app).await;

    app.sandbox.set_faults(json!({})).await;
    let recovered = eventually_ok("the breaker to close", async || {
        let body = answer(&app, "{ team { name } }").await;
        if body["errors"] == Value::Null {
            return Ok(body);
        }
        assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
        Err(body)
    })
    .await;
    assert!(recovered["data"]["team"]["name"].is_string(), "{recovered}");
    let inboxes = answer(&app, "{ inboxes { name } }").await;
    assert_eq!(inboxes["errors"], Value::Null, "closed again: {inboxes}");
    assert_eq!(app.sandbox.calls("GET /v1/inboxes").await, 1);
}

#[tokio::test]
async fn a_query_over_a_websocket_never_outlives_its_deadline_either() {
    let app = deadline_app().await;
    let mut socket = app.subscriber(json!({})).await;
    app.sandbox
        .set_faults(json!({ "latency_ms": TEN_DEADLINES_MS }))
        .await;

    socket
        .subscribe("{ conversations(first: 1) { nodes { id } } }", Value::Null)
        .await;
    // Without the deadline, the upstream's answer or the reader's own guard would end the wait,
    // and neither is a REQUEST_TIMEOUT.
    let body = socket.next_result().await;

    assert_eq!(error_codes(&body), ["REQUEST_TIMEOUT"], "{body}");
}
