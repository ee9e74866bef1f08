//! List pages carried across changes: after a conversation moves to the top of a deep list, a
//! walk of it reads again only the pages the change touched, and answers what a walk of the
//! upstream's list answers, under every profile. Counted at the sandbox.

use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::{TestApp, cost, eventually, global, json_at, newest_open};
use crate::mutations::close;
use crate::redis_support::RedisServer;
use crate::replicas::replicas_reading;
use crate::sandbox_support::{spawn_app_playing, walk_conversation_pages, walk_conversations};
use crate::ws_support::inbound;

/// An inbox with more open conversations than several upstream pages hold.
const INBOX: i64 = 3002;

/// A hundred open conversations of the inbox: several upstream pages.
const DEEP: &str = r#"query($inboxes: [ID!]) {
  conversations(first: 100, filter: { inboxIds: $inboxes, status: OPEN }) {
    nodes { databaseId }
  }
}"#;

/// The deep list through the gateway, as the default member: its ids and the list pages it
/// read from the upstream.
async fn deep(app: &TestApp) -> (Vec<String>, u64) {
    let variables = json!({ "inboxes": [global(&format!("Inbox:{INBOX}"))] });
    let body = app.graphql_with(DEEP, variables, &[]).await.1;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let ids = body["data"]["conversations"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| json_at::<String>(node, "/databaseId"))
        .collect();
    let listed = cost(&body)
        .get("POST /v1/conversations")
        .copied()
        .unwrap_or(0);
    (ids, listed)
}

/// The open rows of the upstream pages a walk of the inbox's list reads for the hundred (each
/// next page asked for up to the previous page's oldest row, as the gateway asks).
async fn upstream_pages(app: &TestApp) -> Vec<Vec<String>> {
    let body = json!({"id": 501, "filters": {"inboxes": [INBOX], "closed": false}});
    walk_conversation_pages(&app.sandbox, body, true, 100)
        .await
        .into_iter()
        .map(|page| {
            page.iter()
                .filter(|row| is_open(row))
                .map(|row| json_at::<i64>(row, "/id").to_string())
                .collect()
        })
        .collect()
}

/// A conversation on the second page of the walk and on no other: below the first page, and
/// above the last, so that the walk ends where it did.
async fn on_one_deep_page(app: &TestApp) -> String {
    let pages = upstream_pages(app).await;
    assert!(pages.len() > 2, "{pages:?}");
    let second = &pages[1];
    let middle = second[second.len() / 2].clone();
    let holding = pages.iter().filter(|page| page.contains(&middle)).count();
    assert_eq!(holding, 1, "{pages:?}");
    middle
}

fn is_open(row: &Value) -> bool {
    row["closed"] != true && row["status"] != "closed"
}

/// The same hundred, walked on the sandbox's own API.
async fn upstream_deep(app: &TestApp) -> Vec<String> {
    let body = json!({"id": 501, "filters": {"inboxes": [INBOX], "closed": false}});
    walk_conversations(&app.sandbox, body, true)
        .await
        .into_iter()
        .filter(is_open)
        .take(100)
        .map(|row| json_at::<i64>(&row, "/id").to_string())
        .collect()
}

/// Waits until the inbox's newest open conversations through the gateway are the upstream's
/// (the change has reached the gateway); the shallow list reads the new first page.
async fn wait_for_the_change(app: &TestApp) {
    let upstream: Vec<String> = upstream_deep(app).await.into_iter().take(5).collect();
    eventually("the change to reach the gateway", async || {
        let newest = newest_open(app, &[INBOX]).await;
        let ids: Vec<String> = newest["data"]["conversations"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| json_at::<String>(node, "/databaseId"))
            .collect();
        ids == upstream
    })
    .await;
}

#[tokio::test]
async fn a_change_costs_the_pages_it_touched_and_walks_stay_exact_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_playing(*readings).await;
        let team = app.sandbox.teams[0].team_id;
        // A first list teaches the gateway whose read state rows name, which settles how
        // pages are keyed.
        newest_open(&app, &[INBOX]).await;
        let (cold, cold_pages) = deep(&app).await;
        assert_eq!(cold, upstream_deep(&app).await, "{profile}");

        // A new customer: a conversation lands on top, above every cached page, so once the
        // first page is read again, nothing else is.
        let message = inbound(&app, team, INBOX, "+12125550701", "Hello?").await;
        let new = json_at::<i64>(&message, "/conversation/id").to_string();
        wait_for_the_change(&app).await;
        let (after_new, pages) = deep(&app).await;
        assert_eq!(after_new[0], new, "{profile}");
        assert_eq!(after_new, upstream_deep(&app).await, "{profile}");
        assert_eq!(pages, 0, "{profile}: {cold_pages} pages cold");

        // A customer of a conversation deep in the list writes: it leaves its page for the top,
        // and only that page is read again.
        let moved = on_one_deep_page(&app).await;
        let phone: String = json_at(
            &app.sandbox
                .conversation(0, moved.parse().expect("an id"))
                .await,
            "/target",
        );
        inbound(&app, team, INBOX, &phone, "Me again").await;
        wait_for_the_change(&app).await;
        let (after_move, pages) = deep(&app).await;
        assert_eq!(after_move, upstream_deep(&app).await, "{profile}");
        assert_eq!(pages, 1, "{profile}");

        // An agent closes a conversation deep in the list: it leaves the list, and the first
        // page (which the write moved on) and the page that held it are read again.
        let closing = on_one_deep_page(&app).await;
        close(&app, &global(&format!("Conversation:{closing}"))).await;
        let (after_close, pages) = deep(&app).await;
        assert!(!after_close.contains(&closing), "{profile}");
        assert_eq!(after_close, upstream_deep(&app).await, "{profile}");
        assert_eq!(pages, 2, "{profile}");
    }
}

#[tokio::test]
async fn a_write_on_another_replica_costs_the_pages_it_touched_under_every_profile() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    for (profile, readings) in Readings::profiles() {
        let (a, b) = replicas_reading(&redis, *readings).await;
        newest_open(&b, &[INBOX]).await;
        let (cold, _) = deep(&b).await;
        assert_eq!(cold, upstream_deep(&b).await, "{profile}");

        // Replica A closes a conversation deep in the list; B hears of it through A's hint
        // alone (the webhook, where the upstream sends one, is held back), which tells where
        // the conversation now is as A read it back.
        let closing = on_one_deep_page(&a).await;
        b.sandbox.set_faults(json!({"webhooks_held": true})).await;
        close(&a, &global(&format!("Conversation:{closing}"))).await;
        // Until B hears of it, its walk reads nothing; once it has, the pages the write
        // touched: the first, and the one that held the conversation.
        let mut pages = 0;
        eventually("B to hear of the close", async || {
            let (ids, read) = deep(&b).await;
            pages += read;
            !ids.contains(&closing)
        })
        .await;
        b.sandbox.set_faults(json!({})).await;
        assert_eq!(pages, 2, "{profile}");
        assert_eq!(deep(&b).await.0, upstream_deep(&b).await, "{profile}");
    }
}
