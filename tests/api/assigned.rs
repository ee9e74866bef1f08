//! The "mine" and "unassigned" views: conversations filtered by assignee, exact under both
//! readings of the upstream's `assigned` hint (honoured or ignored), at a counted cost, and
//! fresh after a reassignment, whether it came through the gateway or from elsewhere.

use std::collections::BTreeMap;

use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, cost, error_codes, eventually, global};
use crate::sandbox_support::{
    micro_after, parse_timestamp, reading, spawn_app_reading, spawn_app_refreshed_by_events,
};

const MINE: &str = include_str!("../../bench/queries/mine.graphql");

/// The seeded team's admin, a member of every inbox.
const ADMIN: i64 = 501;

/// Runs `query` as `member`; the answer, which must hold no errors.
async fn run(app: &TestApp, member: i64, query: &str, variables: Value) -> Value {
    let body = app.graphql_as(member, query, variables).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body
}

/// A member of inboxes 3001 and 3004 only.
const MEMBER: i64 = 502;

/// The upstream's `assigned` hint honoured, then ignored.
fn both_readings() -> [(&'static str, Readings); 2] {
    [
        ("honoured", reading(&["assigned-filter=honoured"])),
        ("ignored", reading(&["assigned-filter=ignored"])),
    ]
}

fn database_id(object: &Value) -> i64 {
    object["databaseId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a database id")
}

/// A REST row's assignee: `None` when `assigned` is 0, `null` or absent.
fn assignee_of(row: &Value) -> Option<i64> {
    row["assigned"].as_i64().filter(|id| *id > 0)
}

/// The first `wanted` rows of `POST /v1/conversations` with `body` that `keep` keeps, read by a
/// tie-safe walk (fewer when the list ends first).
async fn scan(
    app: &TestApp,
    body: Value,
    keep: impl Fn(&Value) -> bool,
    wanted: usize,
) -> Vec<Value> {
    let mut kept = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let page = next_page(app, &body, after.as_ref()).await;
        kept.extend(
            page.iter()
                .filter(|row| keep(row))
                .take(wanted - kept.len())
                .cloned(),
        );
        if kept.len() >= wanted || page.is_empty() {
            return kept;
        }
        after = page.last().cloned();
    }
}

/// The page of `POST /v1/conversations` with `body` that follows `after`, the last row of the
/// page before (the rows it shares with that page left out).
async fn next_page(app: &TestApp, body: &Value, after: Option<&Value>) -> Vec<Value> {
    let mut request = body.clone();
    if let Some(after) = after {
        request["date"] = json!(micro_after(&after["updated"]));
    }
    let page = app.sandbox.conversation_page(0, request).await;
    let seen = after.map(|row| row["id"].clone());
    page.into_iter()
        .skip_while(|row| seen.as_ref().is_some_and(|id| row["id"] != *id))
        .skip(usize::from(seen.is_some()))
        .collect()
}

/// How many pages of `POST /v1/conversations` with `body` a walk reads to see every row
/// updated at or after `down_to`: pages until one ends older than that, or the list ends (an
/// empty page, since the page size is not documented). This is how deep the gateway reads each
/// inbox of a list it merges from its inboxes' lists.
async fn pages_down_to(app: &TestApp, body: Value, down_to: &Value) -> usize {
    let down_to = parse_timestamp(down_to);
    let mut pages = 0;
    let mut after: Option<Value> = None;
    loop {
        let page = next_page(app, &body, after.as_ref()).await;
        pages += 1;
        let Some(oldest) = page.last() else {
            return pages;
        };
        if parse_timestamp(&oldest["updated"]) < down_to {
            return pages;
        }
        after = Some(oldest.clone());
    }
}

#[tokio::test]
async fn the_mine_view_is_one_query_and_exact_whether_or_not_the_upstream_filters() {
    for (hint, readings) in both_readings() {
        let app = spawn_app_reading(readings).await;
        let everyones = json!({"id": ADMIN, "filters": {"inboxes": [3001, 3002, 3003, 3004, 3005], "closed": false}});
        let mine = |row: &Value| assignee_of(row) == Some(ADMIN);
        // The page's 30 rows and one more, to know that more follow.
        // The page's 30 rows and one more, to know that more follow.
        let expected = scan(&app, everyones, mine, 31).await;
        assert_eq!(expected.len(), 31, "{hint}: the admin has more than a page");
        // Each inbox is read down to the 31st row, with the hint where it is honoured.
        let mut pages = 0;
        for inbox in [3001, 3002, 3003, 3004, 3005] {
            let mut body = json!({"id": ADMIN, "filters": {"inboxes": [inbox], "closed": false}});
            if hint == "honoured" {
                body["assigned"] = json!(ADMIN);
            }
            pages += pages_down_to(&app, body, &expected[30]["updated"]).await;
        }

        let cold = run(&app, ADMIN, MINE, json!({})).await;
        let warm = run(&app, ADMIN, MINE, json!({})).await;

        let list = &cold["data"]["viewer"]["assignedConversations"];
        let ids: Vec<&Value> = list["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| &node["id"])
            .collect();
        let expected: Vec<Value> = expected[..30]
            .iter()
            .map(|row| json!(global(&format!("Conversation:{}", row["id"]))))
            .collect();
        assert_eq!(ids, expected.iter().collect::<Vec<_>>(), "{hint}");
        assert_eq!(list["pageInfo"]["hasNextPage"], true, "{hint}");
        assert_eq!(warm["data"], cold["data"], "{hint}");
        let listed = cost(&cold)["POST /v1/conversations"];
        assert_eq!(
            listed, pages as u64,
            "{hint}: each inbox read as deep as needed, once"
        );
        if hint == "ignored" {
            assert!(
                pages > 10,
                "{hint}: the admin's rows are spread out ({pages} pages)"
            );
        }
        let cold = cost(&cold);
        for (route, calls) in [
            ("GET /v1/inboxes", 1),
            ("GET /v1/team", 1),
            ("POST /v2/contacts/search", 1),
        ] {
            assert_eq!(cold.get(route), Some(&calls), "{hint}: {route} in {cold:?}");
        }
        assert!(
            cold.keys()
                .all(|route| route != "GET /v1/conversations/{id}"),
            "{hint}: no conversation read one by one: {cold:?}"
        );
        assert_eq!(
            cost(&warm),
            BTreeMap::new(),
            "{hint}: the warm view is free"
        );
    }
}

const LIST: &str = r#"query($filter: ConversationFilter) {
    conversations(first: 100, filter: $filter) { nodes { databaseId assignee { databaseId } } } }"#;

const ASSIGNED: &str = r#"query($id: ID!, $filter: AssignedConversationFilter) {
    node(id: $id) { ... on Member { assignedConversations(first: 100, filter: $filter) {
        nodes { databaseId } } } } }"#;

#[tokio::test]
async fn a_filter_naming_no_member_or_two_assignees_is_refused_before_any_list_call() {
    let app = spawn_app_reading(reading(&["assigned-filter=honoured"])).await;
    let refused = [
        (
            json!({"assigneeId": global("Member:502"), "assignment": "NOBODY"}),
            "BAD_USER_INPUT",
        ),
        (
            json!({"assigneeId": global("Inbox:3001")}),
            "BAD_USER_INPUT",
        ),
        (json!({"assigneeId": "not an id"}), "BAD_USER_INPUT"),
    ];
    for (filter, code) in refused {
        let (status, body) = app
            .graphql_with(LIST, json!({"filter": filter}), &[("X-Member-Id", "501")])
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(error_codes(&body), [code], "{filter}: {body}");
        assert_eq!(body["data"], Value::Null, "{filter}: {body}");
    }
    assert_eq!(
        app.sandbox.calls("POST /v1/conversations").await,
        0,
        "a refused filter lists nothing"
    );
    // A member that does not exist is looked up alongside the list, which may be read.
    let unknown = json!({"filter": {"assigneeId": global("Member:999999")}});
    let (status, body) = app
        .graphql_with(LIST, unknown, &[("X-Member-Id", "501")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");

    // Another member sees an admin's assigned conversations in its own inboxes only, and
    // naming an inbox it is not in is refused.
    let admins = json!({"id": global("Member:501")});
    let seen = run(&app, MEMBER, ASSIGNED, admins.clone()).await;
    let rows = seen["data"]["node"]["assignedConversations"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert!(!rows.is_empty());
    for row in &rows {
        let conversation = app.sandbox.conversation(0, database_id(row)).await;
        assert!(
            [3001, 3004].contains(&conversation["inbox"].as_i64().unwrap()),
            "{conversation}"
        );
        assert_eq!(assignee_of(&conversation), Some(ADMIN));
    }
    let mut elsewhere = admins;
    elsewhere["filter"] = json!({"inboxIds": [global("Inbox:3002")]});
    let (_, body) = app
        .graphql_with(ASSIGNED, elsewhere, &[("X-Member-Id", "502")])
        .await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
}

/// An open, unassigned conversation of inbox 3001 (which [`MEMBER`] is in).
async fn unassigned_in_3001(app: &TestApp) -> Value {
    let page = app
        .sandbox
        .conversation_page(
            0,
            json!({"id": ADMIN, "filters": {"inboxes": [3001], "closed": false}}),
        )
        .await;
    page.into_iter()
        .find(|row| assignee_of(row).is_none())
        .expect("an unassigned open conversation")
}

/// The ids of `member`'s open "mine" list (its first 100 rows).
async fn mine_of(app: &TestApp, member: i64) -> Vec<i64> {
    let variables =
        json!({"id": global(&format!("Member:{member}")), "filter": {"status": "OPEN"}});
    let body = run(app, member, ASSIGNED, variables).await;
    body["data"]["node"]["assignedConversations"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(database_id)
        .collect()
}

#[tokio::test]
async fn an_assignment_through_the_gateway_shows_in_both_views_at_once() {
    for (hint, readings) in both_readings() {
        let app = spawn_app_reading(readings).await;
        let row = unassigned_in_3001(&app).await;
        let id = row["id"].as_i64().unwrap();
        let unassigned =
            json!({"filter": {"assignment": "NOBODY", "inboxIds": [global("Inbox:3001")]}});
        let nobodys = |body: &Value| -> Vec<i64> {
            body["data"]["conversations"]["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(database_id)
                .collect()
        };
        assert!(!mine_of(&app, MEMBER).await.contains(&id), "{hint}");
        assert!(
            nobodys(&run(&app, ADMIN, LIST, unassigned.clone()).await).contains(&id),
            "{hint}"
        );

        let assigned = run(
            &app,
            ADMIN,
            "mutation($id: ID!, $to: ID!) { assignConversation(input: {conversationId: $id, assigneeId: $to}) { userErrors { code } } }",
            json!({"id": global(&format!("Conversation:{id}")), "to": global("Member:502")}),
        )
        .await;
        assert_eq!(
            assigned["data"]["assignConversation"]["userErrors"],
            json!([]),
            "{hint}"
        );

        assert!(
            mine_of(&app, MEMBER).await.contains(&id),
            "{hint}: now the member's"
        );
        assert!(
            !nobodys(&run(&app, ADMIN, LIST, unassigned).await).contains(&id),
            "{hint}: no longer unassigned"
        );
    }
}

#[tokio::test]
async fn an_assignment_made_elsewhere_reaches_mine_through_its_webhook() {
    // Conversations are cached for an hour: only the event can bring the change.
    let app = spawn_app_refreshed_by_events().await;
    let row = unassigned_in_3001(&app).await;
    let id = row["id"].as_i64().unwrap();
    assert!(!mine_of(&app, MEMBER).await.contains(&id));

    let (status, answer) = app
        .sandbox
        .api_post(
            0,
            "/v1/conversations/reassign",
            json!({"inbox_id": 3001, "target": row["target"], "user_id": ADMIN, "reassign_id": MEMBER}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    eventually("the reassignment to reach the member's list", || async {
        mine_of(&app, MEMBER).await.contains(&id)
    })
    .await;
}
