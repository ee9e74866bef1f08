//! `lastMessage` under every reading of the upstream: on every row of a page it is the newest
//! message of the conversation's own history, whatever a team-wide listing returns at most,
//! however precisely conversations carry `updated`, and whichever name the listing's cursor has.
//! A history that fails blanks its own row only.

use heymarket_gateway::schema::GlobalId;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes};
use crate::sandbox_support::{reading, spawn_app_reading, spawn_app_reading_with};
use crate::ws_support::inbound;

/// The seeded single team's id.
const TEAM: i64 = 101;

/// The busiest inboxes of the seeded team: their pages span the most messages.
const INBOXES: [i64; 2] = [3001, 3002];

const PAGE: &str = "query($inbox: ID!, $first: Int!) { inbox(id: $inbox) {
    conversations(first: $first) { nodes {
        databaseId target inbox { databaseId } lastMessage { databaseId }
    } } } }";

/// The first `first` rows of `inbox`'s conversations, with their last messages.
async fn page(app: &TestApp, inbox: i64, first: u32) -> Value {
    let variables = json!({"inbox": GlobalId::Inbox(inbox).to_string(), "first": first});
    let (status, body) = app.graphql_with(PAGE, variables, &[]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The id of the newest message in the conversation's own history, as the sandbox serves it
/// (`None` when it has none).
async fn newest_message(app: &TestApp, row: &Value) -> Option<String> {
    let path = format!(
        "/v1/messages?phoneNumber={}&inboxID={}",
        row["target"].as_str().expect("a target"),
        row["inbox"]["databaseId"].as_str().expect("an inbox id"),
    );
    let (status, history) = app.sandbox.api_get(0, &path).await;
    assert_eq!(status, 200, "{history}");
    history
        .as_array()
        .expect("a list of messages")
        .iter()
        .max_by_key(|message| {
            (
                message["date"].as_str().map(str::to_owned),
                message["id"].as_i64(),
            )
        })
        .map(|message| message["id"].to_string())
}

/// Every row's `lastMessage` is its conversation's newest message; answers how many rows were
/// checked.
async fn assert_every_last_message_is_the_newest(app: &TestApp, what: &str) -> usize {
    let mut checked = 0;
    for inbox in INBOXES {
        let body = page(app, inbox, 30).await;
        assert_eq!(body["errors"], Value::Null, "{what}: {body}");
        let rows = body["data"]["inbox"]["conversations"]["nodes"]
            .as_array()
            .expect("rows")
            .clone();
        assert_eq!(rows.len(), 30, "{what}: a full page");
        for row in rows {
            let shown = row["lastMessage"]["databaseId"].as_str().map(str::to_owned);
            let newest = newest_message(app, &row).await;
            assert_eq!(
                shown, newest,
                "{what}: conversation {} shows {shown:?} as its last message",
                row["databaseId"]
            );
            checked += 1;
        }
    }
    checked
}

#[tokio::test]
async fn a_capped_listing_never_passes_an_older_message_off_as_the_newest() {
    for change in ["messages-all-max=200", "messages-all-max=50"] {
        let app = spawn_app_reading(reading(&[change])).await;
        assert_eq!(
            assert_every_last_message_is_the_newest(&app, change).await,
            60
        );
    }
}

/// Conversation A's newest message falls between what two listings of 50 cover, and its older
/// message inside the second: only a listing that covers A's own last instant may answer for
/// it. Oldest first: A writes; fifteen others write once each; A writes again; a busy customer
/// writes sixty times; thirteen more write once each. The page's fifteen newest (the thirteen,
/// the busy one and A) span more than 50 messages, the next fifteen start just above A's first.
#[tokio::test]
async fn a_newest_message_between_two_listings_is_never_replaced_by_an_older_one() {
    let app = spawn_app_reading(reading(&["messages-all-max=50"])).await;
    let inbox = INBOXES[0];
    let a = "12125550300";
    inbound(&app, TEAM, inbox, a, "A: first").await;
    for n in 0..15 {
        inbound(
            &app,
            TEAM,
            inbox,
            &format!("121255503{:02}", 10 + n),
            "earlier",
        )
        .await;
    }
    let newest = inbound(&app, TEAM, inbox, a, "A: newest").await;
    for n in 0..60 {
        inbound(&app, TEAM, inbox, "12125550399", &format!("busy {n}")).await;
    }
    for n in 0..13 {
        inbound(
            &app,
            TEAM,
            inbox,
            &format!("121255503{:02}", 50 + n),
            "later",
        )
        .await;
    }

    let body = page(&app, inbox, 30).await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    let rows = body["data"]["inbox"]["conversations"]["nodes"]
        .as_array()
        .expect("rows");
    let row = rows
        .iter()
        .find(|row| row["target"] == a)
        .unwrap_or_else(|| panic!("A is on the page: {body}"));
    assert_eq!(
        row["lastMessage"]["databaseId"],
        newest["id"].to_string(),
        "{row}"
    );
    assert_eq!(
        assert_every_last_message_is_the_newest(&app, "after the bursts").await,
        60
    );
}

#[tokio::test]
async fn whole_second_updates_and_either_cursor_name_find_the_newest_message() {
    for change in [
        "updated-precision=seconds",
        "messages-all-cursor=date",
        "messages-all-cursor=created-at",
    ] {
        let app = spawn_app_reading(reading(&[change])).await;
        assert_eq!(
            assert_every_last_message_is_the_newest(&app, change).await,
            60
        );
    }
}

#[tokio::test]
async fn every_profile_shows_the_newest_message_on_every_row() {
    for (name, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        assert_eq!(
            assert_every_last_message_is_the_newest(&app, name).await,
            60
        );
    }
}

#[tokio::test]
async fn a_failed_history_blanks_its_own_row_only() {
    // Small listings leave most rows to their own histories; a third of the calls then fail,
    // and nothing is retried.
    let app = spawn_app_reading_with(reading(&["messages-all-max=50"]), |config| {
        config.upstream.max_retries = 0
    })
    .await;
    // The page itself is read (and cached) first, without its last messages, so only those
    // meet the faults.
    let rows_query = "query($inbox: ID!) { inbox(id: $inbox) { conversations(first: 30) {
        nodes { databaseId target inbox { databaseId } } } } }";
    let (_, rows) = app
        .graphql_with(
            rows_query,
            json!({"inbox": GlobalId::Inbox(3001).to_string()}),
            &[],
        )
        .await;
    let rows = rows["data"]["inbox"]["conversations"]["nodes"]
        .as_array()
        .expect("rows")
        .clone();
    let mut expected = Vec::new();
    for row in &rows {
        expected.push(newest_message(&app, row).await);
    }
    app.sandbox.set_faults(json!({ "error_rate": 0.3 })).await;

    let body = page(&app, 3001, 30).await;

    let nodes = body["data"]["inbox"]["conversations"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("the page itself survives: {body}"));
    let failed: Vec<usize> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| {
            assert_eq!(
                error["path"].as_array().map(Vec::len),
                Some(5),
                "an error at one row's lastMessage: {error}"
            );
            assert_eq!(error["path"][4], "lastMessage", "{error}");
            error["path"][3].as_u64().expect("a row index") as usize
        })
        .collect();
    assert!(!failed.is_empty(), "a third of the calls failed: {body}");
    assert!(failed.len() < nodes.len(), "not every row failed: {body}");
    assert!(
        error_codes(&body)
            .iter()
            .all(|code| code.starts_with("UPSTREAM"))
    );
    for (index, row) in nodes.iter().enumerate() {
        let shown = row["lastMessage"]["databaseId"].as_str().map(str::to_owned);
        if failed.contains(&index) {
            assert_eq!(row["lastMessage"], Value::Null, "{row}");
        } else {
            assert_eq!(shown, expected[index], "row {index}: {row}");
        }
    }
}
