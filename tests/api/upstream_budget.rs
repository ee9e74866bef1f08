//! The per-operation upstream budget: one operation never sends more upstream calls than
//! `--max-upstream-calls`, and what is obviously too big is refused before it runs.

use heymarket_sandbox::SandboxConfig;
use serde_json::Value;

use crate::helpers::{TestApp, error_codes, global, spawn_app_with};
use crate::sandbox_support::roomy_config;

async fn app_with_budget(max_upstream_calls: u64) -> TestApp {
    spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| config.limits.max_upstream_calls = max_upstream_calls,
    )
    .await
}

/// `{ nodes(ids: [...]) { id } }` over conversation ids `ids`, none of which exists, so each
/// costs one upstream call.
fn nodes_field(alias: &str, ids: impl Iterator<Item = u64>) -> String {
    let ids: Vec<String> = ids
        .map(|id| format!("\"{}\"", global(&format!("Conversation:{id}"))))
        .collect();
    format!("{alias}: nodes(ids: [{}]) {{ id }}", ids.join(", "))
}

#[tokio::test]
async fn aliased_nodes_are_refused_before_any_upstream_call() {
    let app = app_with_budget(1_000).await;
    let fields: Vec<String> = (0..20)
        .map(|alias| {
            nodes_field(
                &format!("n{alias}"),
                (0..100).map(|id| alias * 100 + id + 1),
            )
        })
        .collect();
    let query = format!("{{ {} }}", fields.join(" "));
    assert!(query.len() > 50_000, "the 60 KB request of 2,000 ids");

    let body = app.graphql(&query).await;

    assert_eq!(error_codes(&body), ["QUERY_LIMIT_EXCEEDED"], "{body}");
    let error = &body["errors"][0];
    assert_eq!(
        error["extensions"]["limit"],
        "number of ids across `nodes` fields"
    );
    assert_eq!(error["extensions"]["max"], 100);
    assert_eq!(app.sandbox.stats().await["total"], 0);
}

#[tokio::test]
async fn an_operation_sends_no_call_beyond_its_budget() {
    let app = app_with_budget(10).await;
    let query = format!("{{ {} }}", nodes_field("found", 1..=30));

    let body = app.graphql(&query).await;

    let stats = app.sandbox.stats().await;
    assert_eq!(stats["total"], 10, "{stats}");
    // The access check reads the team and the inboxes; the rest of the budget goes to ids.
    assert_eq!(stats["routes"]["GET /v1/conversations/{id}"], 8, "{stats}");
    assert_eq!(body["extensions"]["cost"]["upstreamCalls"], 10, "{body}");
    let codes = error_codes(&body);
    assert_eq!(codes.len(), 30, "{body}");
    let over = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|error| error["extensions"]["code"] == "UPSTREAM_BUDGET_EXCEEDED")
        .collect::<Vec<&Value>>();
    assert_eq!(over.len(), 22, "{body}");
    assert_eq!(codes.iter().filter(|code| *code == "NOT_FOUND").count(), 8);
    for error in over {
        assert_eq!(error["extensions"]["budget"], 10, "{error}");
        assert_eq!(
            error["path"][0], "found",
            "at the field that needed the call"
        );
        assert!(
            error["message"].as_str().unwrap().contains("may make (10)"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn the_default_budget_fits_a_hundred_row_page_with_last_messages_and_contacts() {
    let app = spawn_app_with(roomy_config(), |_| {}).await;
    let query = "{ conversations(first: 100) { nodes { id contact { displayName } \
                 lastMessage { text } assignee { name } inbox { name } } } \
                 inboxes { name members { name } } }";

    let body = app.graphql(query).await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(
        body["data"]["conversations"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        100
    );
    let calls = body["extensions"]["cost"]["upstreamCalls"]
        .as_u64()
        .unwrap();
    assert!(calls <= 20, "a cold 100-row page costs {calls} calls");
}
