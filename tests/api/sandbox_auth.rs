//! Credentials and the per-team request budget of the sandbox.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use heymarket_sandbox::{RateBudget, SandboxConfig};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::sandbox_support::{roomy_config, sign};

async fn team_with(sandbox: &TestSandbox, authorization: Option<&str>) -> (u16, Value) {
    let response = sandbox
        .raw_call(Method::GET, "/v1/team", authorization, None)
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn jwts_api_keys_and_basic_auth_are_accepted_for_their_own_team() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let second = &sandbox.teams[1];
    let basic = format!("Basic {}", STANDARD.encode(format!("{}:", second.api_key)));
    for authorization in [
        sandbox.jwt_header(1),
        format!("Bearer {}", second.api_key),
        basic,
    ] {
        let (status, team) = team_with(&sandbox, Some(&authorization)).await;
        assert_eq!(
            (status, &team["id"]),
            (200, &json!(second.team_id)),
            "{authorization}"
        );
        assert_eq!(team["name"], second.team_name);
    }
    let (_, first) = team_with(&sandbox, Some(&sandbox.jwt_header(0))).await;
    assert_eq!(first["id"], sandbox.teams[0].team_id);
}

#[tokio::test]
async fn bad_credentials_are_refused_with_a_json_401() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let team = &sandbox.teams[0];
    let key = format!("{}||{}", team.secret_id, team.secret_key);
    let now = Utc::now().timestamp();
    let bearer = |token: String| Some(format!("Bearer {token}"));
    let cases = [
        (
            "bad signature",
            bearer(sign(
                &json!({"iss": team.secret_id, "iat": now}),
                "wrong||key",
            )),
        ),
        (
            "wrong iss",
            bearer(sign(&json!({"iss": "someone-else", "iat": now}), &key)),
        ),
        (
            "expired iat",
            bearer(sign(
                &json!({"iss": team.secret_id, "iat": now - 301}),
                &key,
            )),
        ),
        (
            "future iat",
            bearer(sign(
                &json!({"iss": team.secret_id, "iat": now + 600}),
                &key,
            )),
        ),
        (
            "past exp",
            bearer(sign(
                &json!({"iss": team.secret_id, "iat": now, "exp": now - 5}),
                &key,
            )),
        ),
        ("garbage", bearer("not.a.token".to_owned())),
        ("unknown key", bearer("sandbox-api-key-99".to_owned())),
        (
            "basic with password",
            Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{}:pw", team.api_key))
            )),
        ),
        ("missing", None),
    ];
    for (case, authorization) in cases {
        let (status, body) = team_with(&sandbox, authorization.as_deref()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("Unauthorized")),
            "{case}"
        );
        assert!(body["message"].is_string(), "{case}");
    }
}

#[tokio::test]
async fn each_team_has_its_own_budget_and_refusals_do_not_spend_it() {
    let budget = RateBudget {
        requests: 5,
        per: Duration::from_secs(3600),
    };
    let sandbox = spawn_sandbox(SandboxConfig {
        rate_limit: budget,
        ..SandboxConfig::default()
    })
    .await;
    for _ in 0..5 {
        assert_eq!(sandbox.api_get(0, "/v1/inboxes").await.0, 200);
    }
    for _ in 0..3 {
        let (status, body) = sandbox.api_get(0, "/v1/inboxes").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (429, Some("rate_limit_exceeded"))
        );
    }
    for _ in 0..5 {
        assert_eq!(sandbox.api_get(1, "/v1/team").await.0, 200);
    }
    assert_eq!(sandbox.api_get(1, "/v1/team").await.0, 429);
    let (_, stats) = sandbox.control(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(stats["statuses"], json!({"200": 10, "429": 4}));
}

#[tokio::test]
async fn tenants_see_only_their_own_data_under_the_same_ids() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let first = sandbox.conversation(0, 2_000_001).await;
    let second = sandbox.conversation(1, 2_000_001).await;
    assert_eq!(first["id"], second["id"]);
    assert_ne!(first["target"], second["target"]);
    let (_, contact_1) = sandbox.api_get(0, "/v1/contact/100001").await;
    let (_, contact_2) = sandbox.api_get(1, "/v1/contact/100001").await;
    assert_ne!(contact_1["phone"], contact_2["phone"]);
    assert_eq!(
        (&contact_1["team_id"], &contact_2["team_id"]),
        (&json!(101), &json!(102))
    );
}
