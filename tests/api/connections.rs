//! Relay connections over the upstream's timestamp cursors: walks through the gateway return
//! exactly what the upstream holds, once each, in order, whatever `first` and the upstream page
//! size, on data full of timestamp ties.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use heymarket_gateway::pagination::{Position, SortKey};
use heymarket_gateway::schema::{Cursor, CursorKey, CursorKind};
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, global, spawn_app_with};
use crate::sandbox_support::{roomy_config, walk_conversations};

/// The member every walk acts as: the seeded team's admin, a member of every inbox.
const ADMIN: i64 = 501;

/// Upstream pages one list field may read here: enough for a page of 100 at an upstream page
/// size of 5 over the seed's tied timestamps (a page whose oldest instant may continue on the
/// next one moves the walk by fewer rows than it holds), so every page is full while more
/// follow. walks.rs tests the bound itself.
const MAX_LIST_PAGES: usize = 60;

async fn app_with_page_size(page_size: usize) -> TestApp {
    let config = SandboxConfig {
        readings: Readings {
            conversation_page_size: page_size,
            ..Readings::DEFAULT
        },
        teams: 1,
        ..roomy_config()
    };
    spawn_app_with(config, |config| {
        config.limits.max_list_pages = MAX_LIST_PAGES;
    })
    .await
}

fn database_ids(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|row| row["id"].as_i64().expect("an integer id"))
        .collect()
}

/// Pages through `path` (a connection field reached by `query`) with `first`, checking every
/// page's shape, until the end or until `limit` items; returns the items' database ids.
async fn walk_graphql(
    app: &TestApp,
    query: &str,
    path: &[&str],
    variables: Value,
    first: i32,
    limit: usize,
) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut vars = variables.clone();
        vars["first"] = json!(first);
        vars["after"] = json!(after);
        let (status, body) = app.graphql_with(query, vars, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(body["errors"], Value::Null, "{body}");
        let connection = path.iter().fold(&body["data"], |value, key| &value[*key]);
        let edges = connection["edges"].as_array().expect("edges");
        let info = &connection["pageInfo"];
        assert_eq!(info["hasPreviousPage"], after.is_some());
        if info["hasNextPage"] == true {
            assert_eq!(
                edges.len(),
                first as usize,
                "exactly `first` edges while more follow"
            );
        }
        assert_eq!(
            info["startCursor"],
            edges
                .first()
                .map_or(Value::Null, |edge| edge["cursor"].clone())
        );
        assert_eq!(
            info["endCursor"],
            edges
                .last()
                .map_or(Value::Null, |edge| edge["cursor"].clone())
        );
        let nodes = connection["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), edges.len());
        for (edge, node) in edges.iter().zip(nodes) {
            assert_eq!(&edge["node"], node);
            ids.push(
                node["databaseId"]
                    .as_str()
                    .expect("a string id")
                    .parse::<i64>()
                    .expect("an integer"),
            );
        }
        if info["hasNextPage"] != true || ids.len() >= limit {
            return ids;
        }
        after = info["endCursor"].as_str().map(str::to_owned);
    }
}

const CONVERSATIONS: &str = r#"query($first: Int, $after: String, $filter: ConversationFilter) {
    conversations(first: $first, after: $after, filter: $filter) {
        edges { cursor node { databaseId } }
        nodes { databaseId }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
}"#;

/// `(GraphQL filter, REST filters)` pairs that select the same conversations.
fn filters(inbox_global_id: &str) -> Vec<(Value, Value)> {
    vec![
        (Value::Null, json!({})),
        (
            json!({"inboxIds": [inbox_global_id]}),
            json!({"inboxes": [3002]}),
        ),
        (json!({"status": "OPEN"}), json!({"closed": false})),
        (json!({"status": "CLOSED"}), json!({"closed": true})),
        (json!({"unread": true}), json!({"unread": true})),
        (
            json!({"status": "OPEN", "inboxIds": [inbox_global_id], "unread": true}),
            json!({"closed": false, "inboxes": [3002], "unread": true}),
        ),
    ]
}

async fn inbox_global_id(app: &TestApp, database_id: i64) -> String {
    let inboxes = app.graphql("{ inboxes { id databaseId } }").await;
    let inboxes = inboxes["data"]["inboxes"]
        .as_array()
        .expect("inboxes")
        .clone();
    let inbox = inboxes
        .iter()
        .find(|inbox| {
            inbox["databaseId"].as_str().and_then(|id| id.parse().ok()) == Some(database_id)
        })
        .expect("the inbox exists");
    inbox["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn full_walks_match_the_upstream_for_every_filter() {
    let app = app_with_page_size(30).await;
    let inbox = inbox_global_id(&app, 3002).await;

    for (filter, rest) in filters(&inbox) {
        let expected = database_ids(
            &walk_conversations(&app.sandbox, json!({"id": ADMIN, "filters": rest}), true).await,
        );
        assert!(
            expected.len() > 40,
            "{filter}: the filter selects a real walk"
        );
        let walked = walk_graphql(
            &app,
            CONVERSATIONS,
            &["conversations"],
            json!({"filter": filter}),
            100,
            usize::MAX,
        )
        .await;
        assert_eq!(walked, expected, "filter {filter}");
    }
}

#[tokio::test]
async fn read_only_walks_are_the_rest_minus_the_unread() {
    let app = app_with_page_size(30).await;

    let all = database_ids(&walk_conversations(&app.sandbox, json!({"id": ADMIN}), true).await);
    let unread = database_ids(
        &walk_conversations(
            &app.sandbox,
            json!({"id": ADMIN, "filters": {"unread": true}}),
            true,
        )
        .await,
    );
    let expected: Vec<i64> = all.into_iter().filter(|id| !unread.contains(id)).collect();

    let walked = walk_graphql(
        &app,
        CONVERSATIONS,
        &["conversations"],
        json!({"filter": {"unread": false}}),
        100,
        usize::MAX,
    )
    .await;
    assert_eq!(walked, expected);
}

#[tokio::test]
async fn walks_are_exact_for_any_first_and_upstream_page_size() {
    for page_size in [5, 30, 50] {
        let app = app_with_page_size(page_size).await;
        let expected =
            database_ids(&walk_conversations(&app.sandbox, json!({"id": ADMIN}), true).await);
        assert!(expected.len() >= 5_000);

        let full = walk_graphql(
            &app,
            CONVERSATIONS,
            &["conversations"],
            json!({}),
            100,
            usize::MAX,
        )
        .await;
        assert_eq!(full, expected, "page size {page_size}, first 100");
        for first in [1, 7, 30] {
            let prefix = walk_graphql(
                &app,
                CONVERSATIONS,
                &["conversations"],
                json!({}),
                first,
                210,
            )
            .await;
            assert_eq!(
                prefix,
                expected[..prefix.len()],
                "page size {page_size}, first {first}"
            );
            assert!(prefix.len() >= 210);
        }
    }
}

#[tokio::test]
async fn an_inbox_lists_its_own_conversations() {
    let app = app_with_page_size(30).await;
    let inbox = inbox_global_id(&app, 3002).await;
    let query = r#"query($id: ID!, $first: Int, $after: String) {
        inbox(id: $id) { conversations(first: $first, after: $after, filter: {status: CLOSED}) {
            edges { cursor node { databaseId } } nodes { databaseId }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"#;

    let walked = walk_graphql(
        &app,
        query,
        &["inbox", "conversations"],
        json!({"id": inbox}),
        40,
        usize::MAX,
    )
    .await;

    let rest = json!({"id": ADMIN, "filters": {"inboxes": [3002], "closed": true}});
    assert_eq!(
        walked,
        database_ids(&walk_conversations(&app.sandbox, rest, true).await)
    );
}

const MESSAGES: &str = r#"query($id: ID!, $first: Int, $after: String) {
    conversation(id: $id) { messages(first: $first, after: $after) {
        edges { cursor node { databaseId sentAt } } nodes { databaseId sentAt }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"#;

/// Every message of conversation `(phone, inbox)` straight from the upstream, newest first:
/// pages of `GET /v1/messages`, each asked for up to the end of the last row's second, dropping
/// rows already seen (bursts in one second are far smaller than a page of 50, and the upstream
/// sorts ties by id, newest first).
async fn rest_messages(app: &TestApp, phone: &str, inbox: i64) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut path = format!("/v1/messages?phoneNumber={phone}&inboxID={inbox}");
        if let Some(before) = before {
            path.push_str(&format!("&timestamp={before}"));
        }
        let (status, page) = app.sandbox.api_get(0, &path).await;
        assert_eq!(status, 200, "{page}");
        let fresh: Vec<&Value> = page
            .as_array()
            .expect("array")
            .iter()
            .filter(|m| !ids.contains(&m["id"].as_i64().unwrap()))
            .collect();
        let Some(oldest) = fresh.last() else {
            return ids;
        };
        ids.extend(fresh.iter().map(|m| m["id"].as_i64().unwrap()));
        let second = chrono::DateTime::parse_from_rfc3339(oldest["date"].as_str().unwrap())
            .unwrap()
            .timestamp();
        before = Some(second + 1);
    }
}

#[tokio::test]
async fn message_walks_are_exact_across_same_second_bursts() {
    let app = app_with_page_size(30).await;
    let overview = app.sandbox.overview(0).await;
    let long = &overview["long_conversations"]
        .as_array()
        .expect("long conversations")[0];
    let (id, inbox, phone) = (
        long["id"].as_i64().unwrap(),
        long["inbox"].as_i64().unwrap(),
        long["target"].as_str().unwrap(),
    );
    let conversation_id = global(&format!("Conversation:{id}"));

    let expected = rest_messages(&app, phone, inbox).await;
    assert_eq!(expected.len() as u64, long["messages"].as_u64().unwrap());
    assert!(expected.len() > 100, "a long conversation");

    for first in [1, 7, 30, 100] {
        let walked = walk_graphql(
            &app,
            MESSAGES,
            &["conversation", "messages"],
            json!({"id": conversation_id}),
            first,
            usize::MAX,
        )
        .await;
        assert_eq!(walked, expected, "first {first}");
    }
}

#[tokio::test]
async fn paging_arguments_are_checked_before_any_upstream_call() {
    let app = app_with_page_size(30).await;
    let other_kind = {
        let page = app.graphql(r#"{ conversations(first: 1) { edges { node { messages(first: 1) { pageInfo { endCursor } } } } } }"#).await;
        page["data"]["conversations"]["edges"][0]["node"]["messages"]["pageInfo"]["endCursor"]
            .as_str()
            .expect("a cursor")
            .to_owned()
    };
    reset_stats(&app).await;

    for (arguments, hint) in [
        ("first: -1", "between 0 and 100"),
        ("first: 101", "between 0 and 100"),
        ("after: \"bm9wZQ\"", "endCursor"),
        (&format!("after: \"{other_kind}\"") as &str, "endCursor"),
    ] {
        let body = app
            .graphql(&format!(
                "{{ conversations({arguments}) {{ nodes {{ id }} }} }}"
            ))
            .await;
        assert_eq!(
            error_codes(&body),
            ["BAD_USER_INPUT"],
            "{arguments}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(hint), "{arguments}: {message}");
    }
    // Lists page forward only: backward paging is not in the schema at all.
    for arguments in ["last: 5", "before: \"x\""] {
        let body = app
            .graphql(&format!(
                "{{ conversations({arguments}) {{ nodes {{ id }} }} }}"
            ))
            .await;
        assert_eq!(
            error_codes(&body),
            ["GRAPHQL_VALIDATION_FAILED"],
            "{arguments}: {body}"
        );
    }
    assert_eq!(app.sandbox.calls("POST /v1/conversations").await, 0);
}

/// Resets the sandbox's request counts.
async fn reset_stats(app: &TestApp) {
    app.sandbox
        .http
        .post(app.sandbox.endpoint("/_sandbox/stats/reset"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn forged_and_altered_cursors_are_refused_without_any_upstream_call() {
    let app = app_with_page_size(30).await;
    let page = app
        .graphql("{ conversations(first: 5) { pageInfo { endCursor } } }")
        .await;
    let issued = page["data"]["conversations"]["pageInfo"]["endCursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    // One digit of the row's instant changed (it follows `cX:conversation:`).
    let mut bytes = URL_SAFE_NO_PAD.decode(&issued).unwrap();
    bytes[16] = if bytes[16] == b'1' { b'2' } else { b'1' };
    let altered = URL_SAFE_NO_PAD.encode(&bytes);
    // The oldest row possible, and a resume bound far in the future: a walk over every page.
    let far_future = DateTime::parse_from_rfc3339("2200-01-01T00:00:00Z")
        .unwrap()
        .timestamp_micros();
    let forged = URL_SAFE_NO_PAD.encode(format!("c1:conversation:1000000:1:{far_future}"));
    reset_stats(&app).await;

    for cursor in [forged, altered] {
        let body = app
            .graphql_with(
                "query($after: String) { conversations(first: 100, after: $after) { nodes { id } } }",
                json!({ "after": cursor }),
                &[],
            )
            .await
            .1;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{cursor}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("endCursor"), "{message}");
    }
    assert_eq!(app.sandbox.stats().await["total"], 0, "no upstream call");
}

#[tokio::test]
async fn a_validly_signed_cursor_scans_no_further_than_the_upstream_budget() {
    const SECRET: &str = "a cursor secret of at least 32 bytes!";
    let app = spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            config.cursor_secret = Some(SECRET.to_owned().into());
            config.limits.max_upstream_calls = 6;
        },
    )
    .await;
    let instant = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    let scan = Cursor::new(
        CursorKind::Conversation,
        Position {
            key: SortKey {
                at: instant("1971-01-01T00:00:00Z"),
                id: 1,
            },
            resume: Some(instant("2200-01-01T00:00:00Z")),
        },
    )
    .encode(&CursorKey::derive(SECRET.as_bytes()));

    let body = app
        .graphql_with(
            "query($after: String) { conversations(first: 100, after: $after) { nodes { id } } }",
            json!({ "after": scan }),
            &[],
        )
        .await
        .1;

    assert_eq!(error_codes(&body), ["UPSTREAM_BUDGET_EXCEEDED"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["conversations"]));
    let stats = app.sandbox.stats().await;
    assert_eq!(stats["total"], 6, "{stats}");
    assert!(stats["routes"]["POST /v1/conversations"].as_u64().unwrap() <= 6);
}

#[tokio::test]
async fn first_zero_answers_page_info_only() {
    let app = app_with_page_size(30).await;
    let body = app
        .graphql("{ conversations(first: 0) { nodes { id } pageInfo { hasNextPage endCursor } } }")
        .await;
    assert_eq!(
        body["data"]["conversations"],
        json!({"nodes": [], "pageInfo": {"hasNextPage": true, "endCursor": null}})
    );
}

#[tokio::test]
async fn an_empty_page_ends_where_it_began() {
    let app = app_with_page_size(30).await;
    let page = |arguments: String| {
        let app = &app;
        async move {
            let body = app
                .graphql(&format!(
                    "{{ conversations({arguments}) {{ nodes {{ id }} pageInfo {{ hasNextPage endCursor }} }} }}"
                ))
                .await;
            assert_eq!(body["errors"], Value::Null, "{arguments}: {body}");
            body["data"]["conversations"].clone()
        }
    };
    let first = page("first: 2".to_owned()).await;
    let cursor = first["pageInfo"]["endCursor"].as_str().expect("a cursor");
    let next = page(format!("first: 2, after: \"{cursor}\"")).await;

    let empty = page(format!("first: 0, after: \"{cursor}\"")).await;
    assert_eq!(empty["nodes"], json!([]));
    assert_eq!(empty["pageInfo"]["hasNextPage"], true);
    let held = empty["pageInfo"]["endCursor"]
        .as_str()
        .expect("a cursor, not null");
    let resumed = page(format!("first: 2, after: \"{held}\"")).await;
    assert_eq!(
        resumed["nodes"], next["nodes"],
        "continues where the empty page began"
    );
    assert_ne!(resumed["nodes"], first["nodes"]);
}
