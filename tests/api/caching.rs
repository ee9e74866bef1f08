//! Batching and caching, counted at the sandbox: what each canonical query costs the upstream
//! cold and warm, coalescing of concurrent requests, tenant isolation, and freshness after writes.

use std::time::Duration;

use heymarket_gateway::config::UpstreamAuth;
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, cost, eventually, global, json_at, newest_open, routes, spawn_app_with,
};
use crate::sandbox_support::{roomy_config, spawn_app_reading};

const DASHBOARD: &str = include_str!("../../bench/queries/dashboard.graphql");
const WALK: &str = include_str!("../../bench/queries/walk.graphql");
const DETAIL: &str = include_str!("../../bench/queries/detail.graphql");

async fn app() -> TestApp {
    spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |_| {},
    )
    .await
}

/// Runs `query` as member 501 and insists on an error-free answer.
async fn run(app: &TestApp, query: &str, variables: Value) -> Value {
    let (status, body) = app
        .graphql_with(query, variables, &[("X-Member-Id", "501")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"], Value::Null, "{body}");
    body
}

fn dashboard_variables() -> Value {
    json!({"inbox": global("Inbox:3002")})
}

#[tokio::test]
async fn the_cold_dashboard_costs_seven_calls_and_the_warm_one_none() {
    let app = app().await;

    let body = run(&app, DASHBOARD, dashboard_variables()).await;
    let nodes: Vec<Value> = json_at(&body, "/data/conversations/nodes");
    assert_eq!(nodes.len(), 30, "{body}");
    assert!(
        nodes.iter().all(|row| !row["lastMessage"].is_null()),
        "{body}"
    );

    // Two list pages (30 rows and the look-ahead), the directory, one contact search for every
    // row, and the rows' last messages from two team-wide listings (15 rows each) instead of
    // 30 histories.
    assert_eq!(
        app.sandbox.take_calls().await,
        routes(&[
            ("GET /v1/inboxes", 1),
            ("GET /v1/team", 1),
            ("POST /v1/conversations", 2),
            ("POST /v1/messages/all", 2),
            ("POST /v2/contacts/search", 1),
        ])
    );

    let warm = run(&app, DASHBOARD, dashboard_variables()).await;
    assert_eq!(warm["data"], body["data"], "the same answer");
    assert_eq!(app.sandbox.take_calls().await, routes(&[]));
}

#[tokio::test]
async fn a_walk_shares_its_look_ahead_pages_and_costs_nothing_warm() {
    let app = app().await;
    let walk = async || {
        let mut after = Value::Null;
        let mut ids = Vec::new();
        for _ in 0..5 {
            let body = run(
                &app,
                WALK,
                json!({"inbox": global("Inbox:3002"), "after": after}),
            )
            .await;
            let nodes: Vec<Value> = json_at(&body, "/data/conversations/nodes");
            ids.extend(nodes.into_iter().map(|row| row["id"].clone()));
            after = body["data"]["conversations"]["pageInfo"]["endCursor"].clone();
        }
        ids
    };

    let cold = walk().await;
    assert_eq!(cold.len(), 150);
    // Five pages of 30 rows: six list pages (each page's look-ahead page is where the next one
    // resumes), one contact search per page, the directory once, and 22 team-wide message
    // listings: the newest messages alongside the first list call, and for each page the
    // listings planned from the pace of that first listing's busiest stretch (relying on a
    // quarter of what it promises, so that a busier day still fits in the round); one
    // conversation no group reaches reads its own history in the same round.
    assert_eq!(
        app.sandbox.take_calls().await,
        routes(&[
            ("GET /v1/inboxes", 1),
            ("GET /v1/messages", 1),
            ("GET /v1/team", 1),
            ("POST /v1/conversations", 6),
            ("POST /v1/messages/all", 22),
            ("POST /v2/contacts/search", 5),
        ])
    );

    assert_eq!(walk().await, cold);
    assert_eq!(app.sandbox.take_calls().await, routes(&[]));
}

#[tokio::test]
async fn the_detail_view_costs_six_calls_cold_and_none_warm() {
    let app = app().await;
    let variables = json!({"id": global("Conversation:2000001")});

    let body = run(&app, DETAIL, variables.clone()).await;
    let messages: Vec<Value> = json_at(&body, "/data/conversation/messages/nodes");
    assert!(!messages.is_empty(), "{body}");
    // Conversation 2000001 is a long one: its 50 newest messages fill a history page, and a
    // second page tells whether more follow (`hasNextPage` is exact). The inboxes tell whether
    // the acting member may see it.
    assert_eq!(
        app.sandbox.take_calls().await,
        routes(&[
            ("GET /v1/conversations/{id}", 1),
            ("GET /v1/inboxes", 1),
            ("GET /v1/messages", 2),
            ("GET /v1/team", 1),
            ("POST /v2/contacts/search", 1),
        ])
    );

    run(&app, DETAIL, variables).await;
    assert_eq!(app.sandbox.take_calls().await, routes(&[]));
}

#[tokio::test]
async fn a_hundred_identical_cold_queries_cost_what_one_does() {
    // Caches kept for an hour: the claim is about sharing, and a loaded machine that took
    // longer than a cache's lifetime to answer them all would count its expiry too.
    let app = spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            let hour = Duration::from_secs(3600);
            config.cache.ttl_conversations = hour;
            config.cache.ttl_contacts = hour;
            config.cache.ttl_directory = hour;
        },
    )
    .await;

    let requests = (0..100).map(|_| run(&app, DASHBOARD, dashboard_variables()));
    let answers = futures::future::join_all(requests).await;

    assert!(
        answers
            .windows(2)
            .all(|pair| pair[0]["data"] == pair[1]["data"])
    );
    assert_eq!(
        app.sandbox.take_calls().await,
        routes(&[
            ("GET /v1/inboxes", 1),
            ("GET /v1/team", 1),
            ("POST /v1/conversations", 2),
            ("POST /v1/messages/all", 2),
            ("POST /v2/contacts/search", 1),
        ])
    );
}

#[tokio::test]
async fn tenants_never_see_each_others_data_though_their_ids_collide() {
    // Pass-through: each caller's own credential goes upstream and partitions the caches.
    let app = spawn_app_with(roomy_config(), |config| {
        config.upstream.auth = UpstreamAuth::PassThrough
    })
    .await;
    let keys: Vec<String> = app
        .sandbox
        .teams
        .iter()
        .map(|team| format!("Bearer {}", team.api_key))
        .collect();
    let query = format!(
        r#"{{ conversation(id: "{}") {{ target lastMessage {{ text }} contact {{ displayName }} }} inboxes {{ name }} team {{ name }} }}"#,
        global("Conversation:2000001")
    );
    let ask = async |key: &str| {
        let (status, body) = app
            .graphql_with(&query, Value::Null, &[("Authorization", key)])
            .await;
        assert_eq!(status, 200);
        assert_eq!(body["errors"], Value::Null, "{body}");
        body["data"].clone()
    };

    let first = ask(&keys[0]).await;
    let second = ask(&keys[1]).await;
    assert_ne!(first["team"], second["team"]);
    assert_ne!(
        first["conversation"], second["conversation"],
        "same id, different tenants, different data"
    );
    for _ in 0..3 {
        assert_eq!(ask(&keys[1]).await, second);
        assert_eq!(ask(&keys[0]).await, first);
    }
    for (team, data) in [(0, &first), (1, &second)] {
        let rest = app.sandbox.conversation(team, 2_000_001).await;
        assert_eq!(data["conversation"]["target"], rest["target"]);
    }

    let (status, body) = app
        .graphql_with("{ inboxes { name } }", Value::Null, &[])
        .await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (401, json!("UNAUTHENTICATED"))
    );
}

#[tokio::test]
async fn a_closed_conversation_leaves_the_cached_open_list_at_once() {
    let app = app().await;
    let open_ids = async || -> Vec<Value> {
        let body = run(&app, DASHBOARD, dashboard_variables()).await;
        let nodes: Vec<Value> = json_at(&body, "/data/conversations/nodes");
        nodes.into_iter().map(|row| row["id"].clone()).collect()
    };
    let before = open_ids().await;
    run(&app, DASHBOARD, dashboard_variables()).await;
    assert_eq!(
        app.sandbox
            .take_calls()
            .await
            .get("POST /v1/conversations")
            .copied()
            .unwrap_or(0),
        2,
        "the list was cached"
    );

    let closed = before[0].clone();
    let body = run(&app, "mutation($id: ID!) { closeConversation(input: {conversationId: $id}) { conversation { status } } }", json!({"id": closed})).await;
    assert_eq!(
        body["data"]["closeConversation"]["conversation"]["status"], "CLOSED",
        "{body}"
    );

    let after = open_ids().await;
    assert!(
        !after.contains(&closed),
        "a closed conversation in the open list contradicts the write: {after:?}"
    );
    assert_eq!(after.get(..29), before.get(1..), "the rest moved up by one");
    let detail = run(
        &app,
        "query($id: ID!) { conversation(id: $id) { status } }",
        json!({"id": closed}),
    )
    .await;
    assert_eq!(
        detail["data"]["conversation"]["status"], "CLOSED",
        "the cached conversation was replaced"
    );
}

#[tokio::test]
async fn a_reply_is_the_last_message_on_the_next_read() {
    let app = app().await;
    let dashboard = run(&app, DASHBOARD, dashboard_variables()).await;
    let row = dashboard["data"]["conversations"]["nodes"][3].clone();

    let sent = run(
        &app,
        r#"mutation($id: ID!) { sendMessage(input: {conversationId: $id, text: "On our way."}) { message { id } userErrors { code } } }"#,
        json!({"id": row["id"]}),
    )
    .await;
    assert_eq!(sent["data"]["sendMessage"]["userErrors"], json!([]));

    let after = run(&app, DASHBOARD, dashboard_variables()).await;
    let first = &after["data"]["conversations"]["nodes"][0];
    assert_eq!(
        first["id"], row["id"],
        "the reply moved the conversation to the top"
    );
    assert_eq!(first["lastMessage"]["text"], "On our way.");
    let detail = run(&app, "query($id: ID!) { conversation(id: $id) { lastMessage { id } messages(first: 1) { nodes { id } } } }", json!({"id": row["id"]})).await;
    let sent_id = &sent["data"]["sendMessage"]["message"]["id"];
    assert_eq!(
        &detail["data"]["conversation"]["lastMessage"]["id"],
        sent_id
    );
    assert_eq!(
        &detail["data"]["conversation"]["messages"]["nodes"][0]["id"],
        sent_id
    );
}

#[tokio::test]
async fn a_reply_forgets_the_messages_of_its_conversation_only_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let dashboard = run(&app, DASHBOARD, dashboard_variables()).await;
        let rows = &dashboard["data"]["conversations"]["nodes"];
        let (replied, other) = (rows[3]["id"].clone(), rows[5]["id"].clone());
        let messages = "query($id: ID!) { conversation(id: $id) { lastMessage { id text } messages(first: 3) { nodes { id } } } }";
        let other_before = run(&app, messages, json!({"id": other})).await;
        run(&app, messages, json!({"id": replied})).await;

        let sent = run(
            &app,
            r#"mutation($id: ID!) { sendMessage(input: {conversationId: $id, text: "Back in five."}) { message { id } userErrors { code } } }"#,
            json!({"id": replied}),
        )
        .await;
        let errors = &sent["data"]["sendMessage"]["userErrors"];
        assert_eq!(errors, &json!([]), "{profile}: {sent}");

        let replied_after = run(&app, messages, json!({"id": replied})).await;
        let last = &replied_after["data"]["conversation"]["lastMessage"];
        assert_eq!(last["text"], "Back in five.", "{profile}: {replied_after}");
        let other_after = run(&app, messages, json!({"id": other})).await;
        assert_eq!(other_after["data"], other_before["data"], "{profile}");
        assert_eq!(cost(&other_after), routes(&[]), "{profile}: {other_after}");
    }
}

#[tokio::test]
async fn cached_entries_expire_after_their_ttl() {
    let app = spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            // Long enough for two requests on a loaded machine, short enough to wait out.
            config.cache.ttl_directory = Duration::from_secs(1);
        },
    )
    .await;
    run(&app, "{ inboxes { name } }", Value::Null).await;
    run(&app, "{ inboxes { name } }", Value::Null).await;
    assert_eq!(
        app.sandbox.calls("GET /v1/inboxes").await,
        1,
        "served from cache within the TTL"
    );

    eventually("the entry to expire", async || {
        run(&app, "{ inboxes { name } }", Value::Null).await;
        app.sandbox.calls("GET /v1/inboxes").await >= 2
    })
    .await;
}

#[tokio::test]
async fn responses_report_their_cost_in_sandbox_mode() {
    let app = app().await;

    let cold = run(&app, DASHBOARD, dashboard_variables()).await;
    assert_eq!(
        cost(&cold),
        app.sandbox.take_calls().await,
        "the report matches what the upstream saw"
    );
    assert_eq!(cold["extensions"]["cost"]["upstreamCalls"], 7, "{cold}");

    let warm = run(&app, DASHBOARD, dashboard_variables()).await;
    assert_eq!(warm["extensions"]["cost"]["upstreamCalls"], 0, "{warm}");
    assert!(
        json_at::<u64>(&warm, "/extensions/cost/cacheHits") >= 5,
        "{warm}"
    );
}

#[tokio::test]
async fn production_mode_reports_cost_only_on_request() {
    let app = spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| config.sandbox_mode = false,
    )
    .await;

    let (_, plain) = app
        .graphql_with("{ inboxes { name } }", Value::Null, &[])
        .await;
    assert_eq!(plain["extensions"], Value::Null, "{plain}");
    let (_, asked) = app
        .graphql_with(
            "{ inboxes { name } }",
            Value::Null,
            &[("X-Include-Cost", "true")],
        )
        .await;
    assert_eq!(
        asked["extensions"]["cost"]["upstreamCalls"], 0,
        "cached by the first request: {asked}"
    );
    assert_eq!(asked["extensions"]["cost"]["cacheHits"], 1);
}

/// The conversation ids a [`newest_open`] answer lists.
fn listed_ids(body: &Value) -> Vec<String> {
    let nodes: Vec<Value> = json_at(body, "/data/conversations/nodes");
    nodes
        .iter()
        .map(|node| json_at(node, "/databaseId"))
        .collect()
}

#[tokio::test]
async fn a_transfer_forgets_the_lists_of_its_two_inboxes_only_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let from = 3001;
        let before = newest_open(&app, &[from]).await;
        let moved: String = json_at(&before, "/data/conversations/nodes/0/databaseId");
        let target: String = json_at(&before, "/data/conversations/nodes/0/target");
        let mut to = None;
        for inbox in [3002, 3003, 3004] {
            if crate::mutations::history(&app, &target, inbox)
                .await
                .is_empty()
            {
                to = Some(inbox);
                break;
            }
        }
        let to = to.unwrap_or_else(|| panic!("{profile}: an SMS inbox without {target}"));
        let bystander = if to == 3002 { 3003 } else { 3002 };
        let bystander_before = newest_open(&app, &[bystander]).await;
        newest_open(&app, &[to]).await;

        let transferred = run(
            &app,
            "mutation($id: ID!, $inbox: ID!) { transferConversation(input: {conversationId: $id, inboxId: $inbox}) { userErrors { code } } }",
            json!({ "id": global(&format!("Conversation:{moved}")), "inbox": global(&format!("Inbox:{to}")) }),
        )
        .await;
        let errors = &transferred["data"]["transferConversation"]["userErrors"];
        assert_eq!(errors, &json!([]), "{profile}: {transferred}");

        // Both inboxes' lists are read again and show the move; the third's is kept.
        let from_after = newest_open(&app, &[from]).await;
        assert!(
            !listed_ids(&from_after).contains(&moved),
            "{profile}: {from_after}"
        );
        assert!(
            cost(&from_after)["POST /v1/conversations"] >= 1,
            "{profile}: {from_after}"
        );
        let to_after = newest_open(&app, &[to]).await;
        assert_eq!(listed_ids(&to_after)[0], moved, "{profile}: {to_after}");
        assert!(
            cost(&to_after)["POST /v1/conversations"] >= 1,
            "{profile}: {to_after}"
        );
        let bystander_after = newest_open(&app, &[bystander]).await;
        assert_eq!(
            bystander_after["data"], bystander_before["data"],
            "{profile}"
        );
        assert_eq!(
            cost(&bystander_after),
            routes(&[]),
            "{profile}: {bystander_after}"
        );
    }
}
