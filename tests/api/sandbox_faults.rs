//! Fault injection, request counters and the response conventions of the sandbox.

use std::time::Duration;

use heymarket_sandbox::SandboxConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::sandbox_support::roomy_config;

async fn one_team() -> TestSandbox {
    spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await
}

async fn statuses(sandbox: &TestSandbox, requests: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..requests {
        statuses.push(sandbox.api_get(0, "/v1/team").await.0);
    }
    statuses
}

#[tokio::test]
async fn a_rate_of_one_half_fails_exactly_every_other_request() {
    let sandbox = one_team().await;
    sandbox.set_faults(json!({"error_rate": 0.5})).await;
    assert_eq!(statuses(&sandbox, 6).await, [200, 500, 200, 500, 200, 500]);
    let (_, body) = sandbox.api_get(0, "/v1/team").await;
    let (status, body_500) = sandbox.api_get(0, "/v1/team").await;
    assert_eq!(body["id"], 101);
    assert_eq!(
        (status, body_500["error"].as_str()),
        (500, Some("server_error"))
    );

    sandbox.set_faults(json!({"rate_limit_rate": 0.5})).await;
    assert_eq!(statuses(&sandbox, 4).await, [200, 429, 200, 429]);
    sandbox.set_faults(json!({})).await;
    assert_eq!(statuses(&sandbox, 3).await, [200, 200, 200]);
}

#[tokio::test]
async fn malformed_bodies_keep_their_status_but_are_not_json() {
    let sandbox = one_team().await;
    sandbox.set_faults(json!({"malformed_rate": 1.0})).await;
    for path in ["/v1/inboxes", "/v1/team", "/v1/conversations/2000001"] {
        let authorization = sandbox.jwt_header(0);
        let response = sandbox
            .raw_call(Method::GET, path, Some(&authorization), None)
            .await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(!text.is_empty());
        assert!(
            serde_json::from_str::<Value>(&text).is_err(),
            "{path} answered valid JSON"
        );
    }
    let refused = sandbox.raw_call(Method::GET, "/v1/team", None, None).await;
    assert_eq!(refused.status(), 401);
    assert!(
        refused.json::<Value>().await.is_ok(),
        "errors are never malformed"
    );
}

#[tokio::test]
async fn latency_delays_api_calls_but_not_the_control_api() {
    let sandbox = one_team().await;
    // The most the sandbox allows, far beyond anything a loaded machine adds.
    sandbox.set_faults(json!({"latency_ms": 60_000})).await;
    let delayed = sandbox.api_get(0, "/v1/team");
    tokio::pin!(delayed);

    let control = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::select! {
            answer = sandbox.control(Method::GET, "/_sandbox/faults", None) => answer,
            (status, body) = &mut delayed => {
                panic!("the API call answered before the control call: {status} {body}")
            }
        }
    })
    .await
    .expect("the control API answers without the latency");
    assert_eq!(
        control,
        (
            200,
            json!({"routes": [], "latency_ms": 60_000, "error_rate": 0.0,
        "rate_limit_rate": 0.0, "malformed_rate": 0.0, "webhooks_held": false})
        )
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(1), &mut delayed)
            .await
            .is_err(),
        "the API call still waits out its latency"
    );
}

#[tokio::test]
async fn fault_settings_are_validated_and_missing_knobs_are_zero() {
    let sandbox = one_team().await;
    let (_, initial) = sandbox.control(Method::GET, "/_sandbox/faults", None).await;
    let zero = json!({"routes": [], "latency_ms": 0, "error_rate": 0.0, "rate_limit_rate": 0.0,
        "malformed_rate": 0.0, "webhooks_held": false});
    assert_eq!(initial, zero);
    sandbox
        .set_faults(json!({"error_rate": 0.25, "latency_ms": 7}))
        .await;
    sandbox.set_faults(json!({"latency_ms": 5})).await;
    let (_, replaced) = sandbox.control(Method::GET, "/_sandbox/faults", None).await;
    assert_eq!(
        replaced,
        json!({"routes": [], "latency_ms": 5, "error_rate": 0.0, "rate_limit_rate": 0.0,
            "malformed_rate": 0.0, "webhooks_held": false})
    );
    for bad in [
        json!({"error_rate": 1.5}),
        json!({"malformed_rate": -0.1}),
        json!({"latncy_ms": 3}),
    ] {
        let (status, body) = sandbox
            .control(Method::PUT, "/_sandbox/faults", Some(bad.clone()))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("bad_data")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn stats_count_every_api_request_per_route_until_reset() {
    let sandbox = one_team().await;
    sandbox.api_get(0, "/v1/team").await;
    sandbox.api_get(0, "/v1/team").await;
    sandbox.api_get(0, "/v1/conversations/2000001").await;
    sandbox
        .api_post(0, "/v1/conversations", json!({"id": 0}))
        .await;
    sandbox
        .raw_call(Method::GET, "/v1/inboxes", None, None)
        .await;
    sandbox.control(Method::GET, "/_sandbox/teams", None).await;

    let (_, stats) = sandbox.control(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(stats["total"], 5);
    let routes = json!({
        "GET /v1/team": 2,
        "GET /v1/conversations/{id}": 1,
        "POST /v1/conversations": 1,
        "GET /v1/inboxes": 1,
    });
    assert_eq!(stats["routes"], routes);
    assert_eq!(stats["statuses"], json!({"200": 4, "401": 1}));
    assert_eq!(stats["teams"], json!({"101": 4}));

    let (status, _) = sandbox
        .control(Method::POST, "/_sandbox/stats/reset", None)
        .await;
    assert_eq!(status, 200);
    let (_, stats) = sandbox.control(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!((&stats["total"], &stats["routes"]), (&json!(0), &json!({})));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_errors_are_json() {
    let sandbox = one_team().await;
    let authorization = sandbox.jwt_header(0);
    let is_uuid = |response: &reqwest::Response| {
        let id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        id.len() == 36 && id.split('-').map(str::len).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
    };
    let responses = [
        sandbox
            .raw_call(Method::GET, "/v1/team", Some(&authorization), None)
            .await,
        sandbox.raw_call(Method::GET, "/v1/team", None, None).await,
        sandbox
            .raw_call(Method::GET, "/_sandbox/faults", None, None)
            .await,
        sandbox
            .raw_call(Method::GET, "/v1/nothing-here", Some(&authorization), None)
            .await,
    ];
    for response in responses {
        assert!(is_uuid(&response), "{}", response.url());
        if !response.status().is_success() {
            let body: Value = response.json().await.expect("a JSON error");
            assert!(body["error"].is_string() && body["message"].is_string());
        }
    }

    let echoed = sandbox
        .http
        .get(sandbox.endpoint("/_sandbox/faults"))
        .header("x-request-id", "a1b2c3d4-e5f6-7890-abcd-ef1234567890")
        .send()
        .await
        .unwrap();
    assert_eq!(
        echoed.headers()["x-request-id"],
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
    );

    let garbled = sandbox
        .http
        .post(sandbox.endpoint("/v1/conversations"))
        .header("authorization", &authorization)
        .header("content-type", "application/json")
        .body("{\"id\": 0,")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), 400);
    let body: Value = garbled.json().await.unwrap();
    assert_eq!(body["error"], "bad_data");
}
