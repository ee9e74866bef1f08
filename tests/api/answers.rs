//! Whole answers: a caller of an event-driven team asking the same query again is answered as
//! before without running it, never with another member's or another team's answer, and an
//! event or a write replaces the answer at once.

use heymarket_gateway::config::UpstreamAuth;
use heymarket_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::helpers::{TestApp, cost, eventually, json_at, spawn_app_with_webhooks};
use crate::mutations::conversation_gid;
use crate::sandbox_support::{reading, roomy_config};
use crate::ws_support::inbound;

const SCREEN: &str = r#"{
  viewer { databaseId }
  team { name }
  conversations(first: 3, filter: { inboxIds: ["SW5ib3g6MzAwMQ"], status: OPEN }) { nodes { databaseId unread } }
}"#;

/// Two teams, each caller's own credential going upstream; Heymarket sends no event for API
/// writes, so only the gateway itself can tell a write replaced an answer.
async fn app() -> TestApp {
    spawn_app_with_webhooks(
        SandboxConfig {
            teams: 2,
            readings: reading(&["write-events=silent"]),
            ..roomy_config()
        },
        |config| config.upstream.auth = UpstreamAuth::PassThrough,
    )
    .await
}

/// `query` as `member` of team `team` (0 or 1): the answer, insisted error-free.
async fn as_member(
    app: &TestApp,
    team: usize,
    member: i64,
    query: &str,
    variables: Value,
) -> Value {
    let key = format!("Bearer {}", app.sandbox.teams[team].api_key);
    let member = member.to_string();
    let (status, body) = app
        .graphql_with(
            query,
            variables,
            &[("Authorization", &key), ("X-Member-Id", &member)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"], Value::Null, "{body}");
    body
}

async fn ask(app: &TestApp, team: usize, member: i64) -> Value {
    as_member(app, team, member, SCREEN, Value::Null).await
}

/// Whole answers served from the cache so far.
async fn answers_served(app: &TestApp) -> u64 {
    let prefix = r#"heymarket_gateway_cache_requests_total{kind="answers",result="hit"} "#;
    app.metrics()
        .await
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .map_or(0, |count| count.trim().parse().expect("a count"))
}

/// Makes team `team` event-driven: a customer writes in, and its webhook arrives.
async fn hear_from(app: &TestApp, team: usize, phone: &str) -> String {
    let team_id = app.sandbox.teams[team].team_id;
    let message = inbound(app, team_id, 3001, phone, "Hello?").await;
    eventually("the team to be event-driven", async || {
        app.readyz().await.1["freshness"][team_id.to_string()] == "events"
    })
    .await;
    json_at::<i64>(&message, "/conversation/id").to_string()
}

fn newest(body: &Value) -> String {
    json_at(body, "/data/conversations/nodes/0/databaseId")
}

#[tokio::test]
async fn answers_are_kept_per_member_and_team_until_an_event_or_a_write() {
    let app = app().await;
    // Each team's tenant is known (its team read) before its first event.
    ask(&app, 0, 501).await;
    ask(&app, 1, 501).await;
    hear_from(&app, 0, "+15550008001").await;
    hear_from(&app, 1, "+15550008002").await;

    let first = ask(&app, 0, 501).await;
    let other_member = ask(&app, 0, 502).await;
    let other_team = ask(&app, 1, 501).await;
    assert_eq!(answers_served(&app).await, 0, "nothing asked twice yet");
    assert_eq!(
        json_at::<String>(&other_member, "/data/viewer/databaseId"),
        "502"
    );
    assert_ne!(other_team["data"]["team"], first["data"]["team"]);

    for _ in 0..3 {
        for (team, member, before) in [
            (0, 501, &first),
            (0, 502, &other_member),
            (1, 501, &other_team),
        ] {
            let again = ask(&app, team, member).await;
            assert_eq!(
                again["data"], before["data"],
                "team {team}, member {member}"
            );
            assert_eq!(cost(&again), Default::default(), "{again}");
        }
    }
    assert_eq!(answers_served(&app).await, 9, "every repeat answered whole");

    // An event replaces the team's answers, and only that team's.
    let newer = hear_from(&app, 0, "+15550008003").await;
    let after_event = ask(&app, 0, 501).await;
    assert_eq!(newest(&after_event), newer, "{after_event}");
    assert_eq!(ask(&app, 1, 501).await["data"], other_team["data"]);
    assert_eq!(answers_served(&app).await, 10);

    // So does a write through the gateway, though no webhook tells of it.
    let closed = newest(&after_event);
    let body = as_member(
        &app,
        0,
        501,
        "mutation($id: ID!) { closeConversation(input: { conversationId: $id }) { conversation { status } } }",
        json!({ "id": conversation_gid(closed.parse().expect("an id")) }),
    )
    .await;
    assert_eq!(
        body["data"]["closeConversation"]["conversation"]["status"], "CLOSED",
        "{body}"
    );
    let after_write = ask(&app, 0, 501).await;
    assert_ne!(newest(&after_write), closed, "{after_write}");
}

#[tokio::test]
async fn a_team_not_event_driven_keeps_no_answers() {
    let app = app().await;

    for _ in 0..3 {
        ask(&app, 0, 501).await;
    }

    assert_eq!(answers_served(&app).await, 0);
}
