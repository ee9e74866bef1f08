//! The per-client rate limit: each identity (a token's member, a pass-through credential, or a
//! sandbox member at one address) has its own budget; beyond it, requests are answered 429
//! `RATE_LIMITED` with `retryAfterMs` and `Retry-After`, before any upstream call.
//!
//! The upstream's own 429, once retries are spent, is answered with the same code and
//! extension: see `queries::upstream_failures_become_codes_without_details`.

use std::time::Duration;

use heymarket_gateway::config::{RateBudget, UpstreamAuth};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::auth::{ask, claims, client_auth, hs256, upstream_calls};
use crate::helpers::{TestApp, error_codes, spawn_app_with};
use crate::sandbox_support::roomy_config;

const QUERY: &str = "{ viewer { databaseId } }";
const SUBSCRIPTION: &str = "subscription { messageAdded { text } }";

/// `requests` per minute for each client.
fn per_minute(requests: u32) -> RateBudget {
    RateBudget {
        requests,
        per: Duration::from_secs(60),
    }
}

/// Asserts a 429 `RATE_LIMITED` whose wait is positive and within one share of a
/// `per_minute(requests)` budget, in the body and in `Retry-After`.
fn assert_limited(answer: &(u16, HeaderMap, Value), requests: u64) {
    let (status, headers, body) = answer;
    assert_eq!(*status, 429, "{body}");
    assert_eq!(error_codes(body), ["RATE_LIMITED"], "{body}");
    let share_ms = 60_000 / requests;
    let wait = body["errors"][0]["extensions"]["retryAfterMs"]
        .as_u64()
        .unwrap_or_else(|| panic!("no retryAfterMs in {body}"));
    assert!((1..=share_ms).contains(&wait), "{wait} ms in {body}");
    let seconds: u64 = headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok()?.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {headers:?}"));
    assert_eq!(seconds, wait.div_ceil(1000), "{headers:?}");
}

#[tokio::test]
async fn a_token_member_over_budget_is_refused_and_others_are_not() {
    let app = spawn_app_with(roomy_config(), |config| {
        config.client_auth = Some(client_auth());
        config.sandbox_mode = false;
        config.limits.client_rate_limit = per_minute(3);
    })
    .await;
    let first = hs256(&claims(502));
    for _ in 0..3 {
        assert_eq!(ask(&app, Some(&first), QUERY, &[]).await.0, 200);
    }
    let before = upstream_calls(&app).await;

    assert_limited(&ask(&app, Some(&first), QUERY, &[]).await, 3);
    // Another token for the same member draws on the same budget.
    let mut renewed = claims(502);
    renewed["jti"] = json!("renewed");
    assert_limited(&ask(&app, Some(&hs256(&renewed)), QUERY, &[]).await, 3);
    assert_eq!(
        upstream_calls(&app).await,
        before,
        "refused before the upstream"
    );

    let other = ask(&app, Some(&hs256(&claims(503))), QUERY, &[]).await;
    assert_eq!(other.0, 200, "{}", other.2);
}

#[tokio::test]
async fn pass_through_callers_are_limited_per_credential() {
    let app = spawn_app_with(roomy_config(), |config| {
        config.upstream.auth = UpstreamAuth::PassThrough;
        config.sandbox_mode = false;
        config.limits.client_rate_limit = per_minute(2);
    })
    .await;
    let keys: Vec<String> = app
        .sandbox
        .teams
        .iter()
        .map(|team| team.api_key.clone())
        .collect();
    for _ in 0..2 {
        assert_eq!(ask(&app, Some(&keys[0]), QUERY, &[]).await.0, 200);
    }
    let before = upstream_calls(&app).await;
    assert_limited(&ask(&app, Some(&keys[0]), QUERY, &[]).await, 2);
    assert_eq!(upstream_calls(&app).await, before);

    assert_eq!(ask(&app, Some(&keys[1]), QUERY, &[]).await.0, 200);
}

#[tokio::test]
async fn sandbox_callers_are_limited_per_member() {
    let app = spawn_app_with(roomy_config(), |config| {
        config.limits.client_rate_limit = per_minute(2);
    })
    .await;
    let as_member = |id| [("X-Member-Id", id)];
    for _ in 0..2 {
        assert_eq!(ask(&app, None, QUERY, &as_member("501")).await.0, 200);
    }
    assert_limited(&ask(&app, None, QUERY, &as_member("501")).await, 2);

    assert_eq!(ask(&app, None, QUERY, &as_member("502")).await.0, 200);
    assert_eq!(ask(&app, None, QUERY, &[]).await.0, 200);
}

#[tokio::test]
async fn each_websocket_operation_counts_once() {
    let app: TestApp = spawn_app_with(roomy_config(), |config| {
        config.limits.client_rate_limit = per_minute(2);
    })
    .await;
    let mut subscriber = app.subscriber(json!({ "X-Member-Id": "503" })).await;
    // Two subscriptions run (silently, until a message arrives); the third is over budget.
    for _ in 0..3 {
        subscriber.subscribe(SUBSCRIPTION, Value::Null).await;
    }
    let refused = subscriber.next_result().await;
    assert_eq!(error_codes(&refused), ["RATE_LIMITED"], "{refused}");
    assert!(
        refused["errors"][0]["extensions"]["retryAfterMs"]
            .as_u64()
            .is_some_and(|wait| wait > 0),
        "{refused}"
    );

    let (status, _, _) = ask(&app, None, QUERY, &[("X-Member-Id", "503")]).await;
    assert_eq!(status, 429, "HTTP and WebSocket share the member's budget");
}

/// A pass-through gateway whose clients may make `requests` a minute.
async fn pass_through(requests: u32) -> TestApp {
    spawn_app_with(roomy_config(), |config| {
        config.upstream.auth = UpstreamAuth::PassThrough;
        config.sandbox_mode = false;
        config.limits.client_rate_limit = per_minute(requests);
    })
    .await
}

#[tokio::test]
async fn rotating_made_up_bearers_share_their_address_budget() {
    let app = pass_through(20).await;
    let started = std::time::Instant::now();
    let (mut admitted, mut limited) = (0, 0);
    for n in 0..800 {
        let (status, _, body) = ask(&app, Some(&format!("made-up-{n}")), QUERY, &[]).await;
        match (status, error_codes(&body).as_slice()) {
            (401, [code]) if code == "UNAUTHENTICATED" => admitted += 1,
            (429, [code]) if code == "RATE_LIMITED" => limited += 1,
            _ => panic!("bearer {n}: {status} {body}"),
        }
    }

    // A burst of 20, and one more every 3 s the run took.
    let refilled = started.elapsed().as_secs() / 3 + 1;
    assert!(
        (20..=20 + refilled).contains(&admitted),
        "{admitted} admitted, {limited} limited"
    );
    assert_eq!(admitted + limited, 800);
    assert_eq!(
        upstream_calls(&app).await,
        admitted,
        "one check per admitted bearer"
    );
}

#[tokio::test]
async fn a_refused_pass_through_credential_is_401_and_not_asked_again() {
    let app = pass_through(1_000).await;
    for query in [
        QUERY,
        "mutation { markConversationRead(input: { conversationId: \"x\" }) { clientMutationId } }",
    ] {
        let (status, headers, body) = ask(&app, Some("not-a-heymarket-key"), query, &[]).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
        assert!(body.get("data").is_none(), "{body}");
        assert!(headers.contains_key("www-authenticate"), "{headers:?}");
    }
    assert_eq!(
        upstream_calls(&app).await,
        1,
        "the refusal is remembered: asked once"
    );

    let key = &app.sandbox.teams[0].api_key;
    let (status, _, body) = ask(&app, Some(key), QUERY, &[]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_refusal_is_remembered_for_the_configured_time_only() {
    let app = spawn_app_with(roomy_config(), |config| {
        config.upstream.auth = UpstreamAuth::PassThrough;
        config.sandbox_mode = false;
        config.upstream.refused_credential_ttl = Duration::from_millis(200);
    })
    .await;
    assert_eq!(ask(&app, Some("stale-key"), QUERY, &[]).await.0, 401);
    assert_eq!(upstream_calls(&app).await, 1);

    crate::helpers::eventually("the refusal to be forgotten", || async {
        assert_eq!(ask(&app, Some("stale-key"), QUERY, &[]).await.0, 401);
        upstream_calls(&app).await == 2
    })
    .await;
}
