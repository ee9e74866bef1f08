//! Freshness from events: while a team's webhook events are heard, its cached conversations
//! outlive the short TTL until an event says otherwise; when the events fall silent, the team
//! goes back to the short TTL and forgets what it kept. Counted at the sandbox.

use std::time::{Duration, Instant};

use heymarket_gateway::config::GatewayConfig;
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::{ReadState, Readings, WriteEvents};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, cost, eventually, eventually_ok, global, json_at, newest_open, routes,
    spawn_app_with_webhooks,
};
use crate::sandbox_support::{reading, roomy_config, spawn_app_playing};
use crate::ws_support::inbound;

/// The newest open conversations of inbox 3002: list pages only, which every event moves past.
const LIST: &str = r#"query($inbox: ID!) {
  conversations(first: 5, filter: { inboxIds: [$inbox], status: OPEN }) { nodes { databaseId status unread } }
}"#;
const INBOX: i64 = 3002;

async fn app(customise: impl FnOnce(&mut GatewayConfig)) -> TestApp {
    spawn_app_with_webhooks(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        customise,
    )
    .await
}

/// Runs the list as member 501 and insists on an error-free answer.
async fn list(app: &TestApp) -> Value {
    let variables = json!({"inbox": global(&format!("Inbox:{INBOX}"))});
    let (status, body) = app
        .graphql_with(LIST, variables, &[("X-Member-Id", "501")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"], Value::Null, "{body}");
    body
}

/// Upstream calls the answer reports.
fn calls(body: &Value) -> u64 {
    cost(body).values().sum()
}

/// The newest conversation's id in a list answer.
fn newest(body: &Value) -> String {
    json_at(body, "/data/conversations/nodes/0/databaseId")
}

/// The team's mode as `/readyz` reports it.
async fn mode(app: &TestApp) -> Value {
    let team = app.sandbox.teams[0].team_id;
    app.readyz().await.1["freshness"][team.to_string()].clone()
}

/// A customer writes in from `phone`; the conversation's id.
async fn customer_writes(app: &TestApp, phone: &str) -> String {
    let team = app.sandbox.teams[0].team_id;
    let message = inbound(app, team, INBOX, phone, "Hello?").await;
    json_at::<i64>(&message, "/conversation/id").to_string()
}

/// Repeats `request` for at least `span` (and twice at least), returning the upstream calls
/// the repeats cost together as `request` counts them.
async fn repeated_for(span: Duration, mut request: impl AsyncFnMut() -> u64) -> u64 {
    let start = Instant::now();
    let mut total = 0;
    let mut repeats = 0;
    while repeats < 2 || start.elapsed() < span {
        total += request().await;
        repeats += 1;
    }
    total
}

#[tokio::test]
async fn heard_events_keep_lists_past_the_short_ttl_until_the_next_event() {
    let app = app(|config| {
        config.cache.ttl_conversations = Duration::from_millis(1);
        config.cache.ttl_with_events = Duration::from_secs(3600);
        config.cache.event_silence = Duration::from_secs(3600);
    })
    .await;

    // No event heard yet: the team polls, and its list lapses after a millisecond.
    list(&app).await;
    assert_eq!(mode(&app).await, "ttl");
    eventually("the polled list to be listed again", async || {
        calls(&list(&app).await) > 0
    })
    .await;

    let first = customer_writes(&app, "+15550007001").await;
    eventually("the team to be event-driven", async || {
        mode(&app).await == "events"
    })
    .await;
    let listed = list(&app).await;
    assert_eq!(newest(&listed), first, "{listed}");

    assert_eq!(
        repeated_for(Duration::from_millis(50), async || calls(&list(&app).await)).await,
        0,
        "kept for fifty times the short TTL"
    );

    // The next event replaces the list.
    let second = customer_writes(&app, "+15550007002").await;
    let relisted = eventually_ok("the new conversation to be listed", async || {
        let body = list(&app).await;
        if newest(&body) == second {
            Ok(body)
        } else {
            Err(body)
        }
    })
    .await;
    assert!(calls(&relisted) > 0, "{relisted}");
}

/// A conversation's last message, read as member 501.
const LAST_MESSAGE: &str = r#"query($id: ID!) { conversation(id: $id) { lastMessage { text } } }"#;

#[tokio::test]
async fn a_last_message_read_just_after_an_event_is_kept_where_updated_has_a_fraction() {
    for (precision, kept) in [("micros", true), ("seconds", false)] {
        let sandbox = SandboxConfig {
            teams: 1,
            readings: reading(&[&format!("updated-precision={precision}")]),
            ..roomy_config()
        };
        let app = spawn_app_with_webhooks(sandbox, |config| {
            config.cache.ttl_conversations = Duration::from_millis(1);
            config.cache.ttl_with_events = Duration::from_secs(3600);
            config.cache.event_silence = Duration::from_secs(3600);
        })
        .await;
        let written = customer_writes(&app, "+15550007003").await;
        eventually("the team to be event-driven", async || {
            mode(&app).await == "events"
        })
        .await;

        // Read within a fill's time of the event: a fill that may have raced it. The
        // conversation itself is kept for the short TTL then, and read again.
        let variables = json!({"id": global(&format!("Conversation:{written}"))});
        let last_message = async || {
            let (status, body) = app
                .graphql_with(LAST_MESSAGE, variables.clone(), &[("X-Member-Id", "501")])
                .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["errors"], Value::Null, "{body}");
            assert_eq!(
                json_at::<String>(&body, "/data/conversation/lastMessage/text"),
                "Hello?"
            );
            cost(&body).get("GET /v1/messages").copied().unwrap_or(0)
        };
        last_message().await;
        if kept {
            // Its key, the conversation's `updated` to the microsecond, changes with any new
            // message: the message is kept past fifty times the short TTL.
            let histories = repeated_for(Duration::from_millis(50), last_message).await;
            assert_eq!(histories, 0, "{precision}");
        } else {
            // In whole seconds, a message of the same second may follow: kept for the short TTL.
            eventually("the history to be read again", async || {
                last_message().await > 0
            })
            .await;
        }
    }
}

#[tokio::test]
async fn a_silent_stream_goes_back_to_the_short_ttl_and_forgets_what_it_kept() {
    let app = app(|config| {
        // Entries would outlive the test in either mode: only the fall-back can drop them.
        config.cache.ttl_conversations = Duration::from_secs(3600);
        config.cache.ttl_with_events = Duration::from_secs(7200);
        config.cache.event_silence = Duration::from_secs(2);
    })
    .await;
    list(&app).await;
    customer_writes(&app, "+15550007003").await;
    eventually("the team to be event-driven", async || {
        mode(&app).await == "events"
    })
    .await;
    let cold = calls(&list(&app).await);
    assert!(cold > 0);
    assert_eq!(calls(&list(&app).await), 0, "cached");
    let team = app.sandbox.teams[0].team_id;
    let event_driven = format!("heymarket_gateway_cache_event_driven{{team=\"{team}\"}} ");
    eventually("the metric to show event mode", async || {
        app.metrics().await.contains(&format!("{event_driven}1"))
    })
    .await;

    eventually("the silent team to poll", async || {
        mode(&app).await == "ttl"
    })
    .await;
    eventually("the metric to show the short TTL", async || {
        app.metrics().await.contains(&format!("{event_driven}0"))
    })
    .await;

    let after = list(&app).await;
    assert_eq!(calls(&after), cold, "listed again: {after}");
}

/// A conversation's last message and newest messages, by id.
const MESSAGES: &str = r#"query($id: ID!) {
  conversation(id: $id) { lastMessage { databaseId text } messages(first: 3) { nodes { databaseId } } }
}"#;

#[tokio::test]
async fn an_event_forgets_the_messages_of_its_conversation_only_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_playing(*readings).await;
        let page = app
            .sandbox
            .conversation_page(
                0,
                json!({"id": 0, "filters": {"inboxes": [INBOX], "closed": false}}),
            )
            .await;
        let (changed, other) = (&page[0], &page[1]);
        let messages_of = |conversation: &Value| {
            let id: i64 = json_at(conversation, "/id");
            let app = &app;
            async move {
                let variables = json!({ "id": global(&format!("Conversation:{id}")) });
                let body = app.graphql_with(MESSAGES, variables, &[]).await.1;
                assert_eq!(body["errors"], Value::Null, "{body}");
                body
            }
        };
        let other_before = messages_of(other).await;
        let changed_before = messages_of(changed).await;
        let phone: String = json_at(changed, "/target");

        inbound(&app, 101, INBOX, &phone, "A new message").await;
        eventually("the event reaches the changed conversation", async || {
            messages_of(changed).await["data"] != changed_before["data"]
        })
        .await;
        let changed_after = messages_of(changed).await;
        assert_eq!(
            changed_after["data"]["conversation"]["lastMessage"]["text"], "A new message",
            "{changed_after}"
        );

        // The other conversation's last message and history were not touched by the event.
        let other_after = messages_of(other).await;
        assert_eq!(other_after["data"], other_before["data"], "{profile}");
        assert_eq!(
            cost(&other_after),
            Default::default(),
            "{profile}: {other_after}"
        );
    }
}

#[tokio::test]
async fn an_event_forgets_the_lists_of_its_inbox_only_under_every_profile() {
    const ELSEWHERE: i64 = 3003;
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_playing(*readings).await;
        let elsewhere_before = newest_open(&app, &[ELSEWHERE]).await;
        newest_open(&app, &[INBOX, ELSEWHERE]).await;

        let written = customer_writes(&app, "+15550007010").await;
        let first_id =
            |body: &Value| -> String { json_at(body, "/data/conversations/nodes/0/databaseId") };
        eventually("the event reaches the inbox's list", async || {
            first_id(&newest_open(&app, &[INBOX]).await) == written
        })
        .await;

        // The other inbox's list was kept; a list holding the changed inbox was not.
        let elsewhere_after = newest_open(&app, &[ELSEWHERE]).await;
        assert_eq!(
            elsewhere_after["data"], elsewhere_before["data"],
            "{profile}"
        );
        assert_eq!(
            cost(&elsewhere_after),
            Default::default(),
            "{profile}: {elsewhere_after}"
        );
        // (Read inbox by inbox, its changed inbox's pages may be the ones just read.)
        let both = newest_open(&app, &[INBOX, ELSEWHERE]).await;
        assert_eq!(first_id(&both), written, "{profile}: {both}");
    }
}

#[tokio::test]
async fn a_write_and_its_webhook_move_the_lists_once_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_playing(*readings).await;
        let listed = newest_open(&app, &[INBOX]).await;
        let closing: String = json_at(&listed, "/data/conversations/nodes/0/databaseId");

        // The read after the write is held back, so the webhook of the close (where the
        // upstream sends one) is taken in and the list read again before the write ends.
        app.sandbox
            .set_faults(json!({"routes": ["GET /v1/conversations/{id}"], "latency_ms": 1_500}))
            .await;
        let close = crate::mutations::mutate(
            &app,
            "closeConversation",
            "CloseConversationInput",
            "conversation { status }",
            json!({ "conversationId": global(&format!("Conversation:{closing}")) }),
            None,
        );
        let relisted = async {
            eventually("the list to lose the closed conversation", async || {
                let body = newest_open(&app, &[INBOX]).await;
                !body.to_string().contains(&format!("\"{closing}\""))
            })
            .await;
        };
        let ((closed, body), ()) = futures::join!(close, relisted);
        assert_eq!(
            closed["conversation"]["status"], "CLOSED",
            "{profile}: {body}"
        );
        app.sandbox.set_faults(json!({})).await;

        // Whichever of the write and its webhook came second did not move the list again,
        // where a row shows nothing the conversation's state does not (it names every
        // member's read state); elsewhere both move it, as a read can leave the state as it
        // was.
        let after = newest_open(&app, &[INBOX]).await;
        assert!(
            !after.to_string().contains(&format!("\"{closing}\"")),
            "{profile}: {after}"
        );
        let once = readings.read_state == ReadState::UnreadUsers
            || readings.write_events == WriteEvents::Silent;
        assert_eq!(cost(&after).is_empty(), once, "{profile}: {after}");
    }
}

#[tokio::test]
async fn a_list_read_again_looks_up_the_changed_last_message_only_under_every_profile() {
    const LAST_MESSAGES: &str = r#"query($inbox: ID!) {
      conversations(first: 10, filter: { inboxIds: [$inbox], status: OPEN }) {
        nodes { databaseId lastMessage { text } }
      }
    }"#;
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_playing(*readings).await;
        let read = async || {
            let variables = json!({"inbox": global(&format!("Inbox:{INBOX}"))});
            let body = app.graphql_with(LAST_MESSAGES, variables, &[]).await.1;
            assert_eq!(body["errors"], Value::Null, "{body}");
            body
        };
        // A first list teaches the gateway whose read state rows name, which settles how
        // pages are keyed.
        newest_open(&app, &[INBOX]).await;
        let cold = read().await;
        let third: String = json_at(&cold, "/data/conversations/nodes/2/databaseId");
        let phone: String = json_at(
            &app.sandbox
                .conversation(0, third.parse().expect("an id"))
                .await,
            "/target",
        );

        customer_writes(&app, &phone).await;
        let changed = eventually_ok("the change to reach the list", async || {
            let body = read().await;
            match json_at::<String>(&body, "/data/conversations/nodes/0/lastMessage/text").as_str()
            {
                "Hello?" => Ok(body),
                _ => Err(body),
            }
        })
        .await;
        assert_eq!(
            json_at::<String>(&changed, "/data/conversations/nodes/0/databaseId"),
            third,
            "{profile}"
        );
        // The first page again, and the history of the one conversation that changed: the
        // other rows' last messages are cached, so no listing of the team's newest messages.
        let expected = routes(&[("POST /v1/conversations", 1), ("GET /v1/messages", 1)]);
        assert_eq!(cost(&changed), expected, "{profile}: {changed}");
    }
}
