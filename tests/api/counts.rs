//! `totalCount` on conversation lists: an inbox sidebar's badges from the upstream's count
//! endpoint alone, at an exact cost; recounted after a write or a webhook; and refused with
//! `COUNT_UNAVAILABLE`, beside the list's data, where the endpoint does not apply the filters.
//! (Every list of the walk matrix is also counted under every profile: `conformance::walks`.)

use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, cost, error_codes, eventually, routes, spawn_app_with};
use crate::mutations::{conversation_gid, inbound, inbox_gid, mutate, open_conversation};
use crate::sandbox_support::{
    reading, roomy_config, row_unread, spawn_app_reading, spawn_app_refreshed_by_events,
};

/// The seeded team's admin, a member of every inbox.
const ADMIN: i64 = 501;

const COUNT: &str = "POST /v1/conversations/count";

/// Every badge of an inbox sidebar, for each of the viewer's inboxes.
const SIDEBAR: &str = r#"{ viewer { inboxes { databaseId
    all: conversations { totalCount }
    open: conversations(filter: { status: OPEN }) { totalCount }
    unread: conversations(filter: { unread: true }) { totalCount }
    openUnread: conversations(filter: { status: OPEN, unread: true }) { totalCount }
    read: conversations(filter: { unread: false }) { totalCount } } } }"#;

/// Every conversation of `inbox`, as the sandbox's REST API lists it for the admin on one
/// page (the test's sandbox pages 10,000 rows).
async fn rest_rows(app: &TestApp, inbox: i64) -> Vec<Value> {
    let body = json!({"id": ADMIN, "filters": {"inboxes": [inbox]}});
    let rows = app.sandbox.conversation_page(0, body).await;
    assert!(rows.len() < 10_000, "one page holds the inbox");
    rows
}

fn open(row: &Value) -> bool {
    row["status"] == "open"
}

fn unread(row: &Value) -> bool {
    row_unread(row)
}

/// The `totalCount` at `badge` of an inbox in a sidebar answer.
fn badge(inbox: &Value, badge: &str) -> u64 {
    inbox[badge]["totalCount"]
        .as_u64()
        .unwrap_or_else(|| panic!("no {badge} count in {inbox}"))
}

#[tokio::test]
async fn an_inbox_sidebar_is_counted_without_listing_a_conversation() {
    let app = spawn_app_reading(reading(&["page-size=10000"])).await;

    let cold = app.graphql_as(ADMIN, SIDEBAR, json!({})).await;

    assert_eq!(error_codes(&cold), Vec::<String>::new(), "{cold}");
    let inboxes = cold["data"]["viewer"]["inboxes"]
        .as_array()
        .unwrap_or_else(|| panic!("no inboxes in {cold}"));
    assert!(inboxes.len() >= 3, "{cold}");
    for inbox in inboxes {
        let id: i64 = inbox["databaseId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("no id in {inbox}"));
        let rows = rest_rows(&app, id).await;
        let counted = |keep: &dyn Fn(&Value) -> bool| rows.iter().filter(|row| keep(row)).count();
        assert_eq!(badge(inbox, "all"), rows.len() as u64, "{id}");
        assert_eq!(badge(inbox, "open"), counted(&open) as u64, "{id}");
        assert_eq!(badge(inbox, "unread"), counted(&unread) as u64, "{id}");
        let open_unread = counted(&|row| open(row) && unread(row));
        assert_eq!(badge(inbox, "openUnread"), open_unread as u64, "{id}");
        let read = counted(&|row| !unread(row));
        assert_eq!(badge(inbox, "read"), read as u64, "{id}");
        assert!(open_unread > 0 && read > 0, "{id}: counts that differ");
    }
    // Per inbox: everything, closed, unread, and closed unread; the differences give the
    // rest. Learning that the endpoint applies filters took two of them, no more.
    let per_inbox = 4 * inboxes.len() as u64;
    assert_eq!(
        cost(&cold),
        routes(&[
            (COUNT, per_inbox),
            ("GET /v1/inboxes", 1),
            ("GET /v1/team", 1)
        ]),
        "{cold}"
    );

    let warm = app.graphql_as(ADMIN, SIDEBAR, json!({})).await;
    assert_eq!(warm["data"], cold["data"]);
    assert_eq!(cost(&warm), routes(&[]), "{warm}");
}

#[tokio::test]
async fn a_count_follows_a_write_at_once_and_a_webhook_soon() {
    // Caches kept for an hour: only the write and the event can refresh the count.
    let app = spawn_app_refreshed_by_events().await;
    let inbox = 3002;
    let query = r#"query($id: ID!) { inbox(id: $id) {
        conversations(filter: { status: OPEN }) { totalCount } } }"#;
    let variables = json!({ "id": inbox_gid(inbox) });
    let open_count = || async {
        let body = app.graphql_as(ADMIN, query, variables.clone()).await;
        body["data"]["inbox"]["conversations"]["totalCount"]
            .as_u64()
            .unwrap_or_else(|| panic!("no count in {body}"))
    };
    let before = open_count().await;

    let conversation = open_conversation(&app, inbox, 0).await;
    let id = conversation["id"].as_i64().expect("an id");
    let (payload, body) = mutate(
        &app,
        "closeConversation",
        "CloseConversationInput",
        "conversation { status } userErrors { code }",
        json!({ "conversationId": conversation_gid(id) }),
        Some(ADMIN),
    )
    .await;
    assert_eq!(payload["conversation"]["status"], "CLOSED", "{body}");
    assert_eq!(open_count().await, before - 1, "recounted after the write");

    inbound(&app, inbox, "15550104477").await;
    eventually("the new conversation to be counted", || async {
        open_count().await == before
    })
    .await;
}

#[tokio::test]
async fn a_count_that_ignores_the_filters_is_refused_beside_the_list() {
    let app = spawn_app_reading(reading(&["count-filters=date-only"])).await;
    let query = r#"query($id: ID!) { inbox(id: $id) {
        conversations(first: 3, filter: { status: OPEN }) { nodes { id } totalCount } } }"#;
    let variables = json!({ "id": inbox_gid(3002) });

    let first = app.graphql_as(ADMIN, query, variables.clone()).await;

    let list = &first["data"]["inbox"]["conversations"];
    assert_eq!(list["nodes"].as_array().map(Vec::len), Some(3), "{first}");
    assert_eq!(list["totalCount"], Value::Null, "{first}");
    assert_eq!(error_codes(&first), ["COUNT_UNAVAILABLE"], "{first}");
    assert_eq!(
        first["errors"][0]["path"],
        json!(["inbox", "conversations", "totalCount"])
    );
    // Everything, closed, unread and open counted alike: four counts to learn it.
    assert_eq!(cost(&first).get(COUNT), Some(&4), "{first}");

    let again = app.graphql_as(ADMIN, query, variables).await;
    assert_eq!(error_codes(&again), ["COUNT_UNAVAILABLE"], "{again}");
    assert_eq!(cost(&again).get(COUNT), None, "learnt once: {again}");
}

#[tokio::test]
async fn no_count_filters_by_any_member_or_by_none() {
    let app = spawn_app_reading(reading(&["assigned-filter=honoured"])).await;
    for assignment in ["ANYONE", "NOBODY"] {
        let query =
            format!("{{ conversations(filter: {{ assignment: {assignment} }}) {{ totalCount }} }}");
        let body = app.graphql_as(ADMIN, &query, json!({})).await;
        assert_eq!(error_codes(&body), ["COUNT_UNAVAILABLE"], "{body}");
        assert_eq!(cost(&body).get(COUNT), None, "{body}");
    }
}

#[tokio::test]
async fn a_member_in_no_inbox_counts_nothing_without_asking() {
    // In the data of seed 3, member 509 belongs to no inbox.
    let app = spawn_app_with(
        SandboxConfig {
            seed: 3,
            teams: 1,
            readings: Readings::DEFAULT,
            ..roomy_config()
        },
        |_| {},
    )
    .await;
    let body = app
        .graphql_as(509, "{ conversations { totalCount } }", json!({}))
        .await;
    assert_eq!(body["data"]["conversations"]["totalCount"], 0, "{body}");
    assert_eq!(cost(&body).get(COUNT), None, "{body}");
}

#[tokio::test]
async fn a_count_of_another_members_inbox_is_forbidden_before_any_count() {
    let app = spawn_app_reading(Readings::DEFAULT).await;
    // Member 502 belongs to inboxes 3001 and 3004 only.
    let query = r#"query($inbox: ID!) {
        conversations(filter: { inboxIds: [$inbox] }) { totalCount } }"#;
    let body = app
        .graphql_as(502, query, json!({ "inbox": inbox_gid(3002) }))
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    assert_eq!(cost(&body).get(COUNT), None, "{body}");
}
