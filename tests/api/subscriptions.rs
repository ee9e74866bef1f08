//! Live updates end to end: the sandbox's webhooks reach the gateway, which feeds
//! subscriptions and keeps its caches true.

use std::time::Duration;

use heymarket_gateway::config::UpstreamAuth;
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::{Readings, WriteEvents};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, database_id, eventually, eventually_ok, global, json_at, newest_open, routes,
    spawn_app_with_webhooks,
};
use crate::mutations::mutate;
use crate::sandbox_support::{roomy_config, spawn_app_playing};
use crate::ws_support::{Init, first_delivery, inbound, result_where};

async fn app() -> TestApp {
    spawn_app_with_webhooks(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |_| {},
    )
    .await
}

#[tokio::test]
async fn a_customer_message_reaches_message_added_with_its_links() {
    let app = app().await;
    // A known customer of inbox 3001, whose closed conversation the message reopens.
    let known = app
        .graphql(&format!(
            r#"{{ conversations(first: 1, filter: {{inboxIds: ["{}"], status: CLOSED}}) {{ nodes {{ target contact {{ displayName }} }} }} }}"#,
            global("Inbox:3001")
        ))
        .await;
    let phone: String = json_at(&known, "/data/conversations/nodes/0/target");
    let known = &known["data"]["conversations"]["nodes"][0];
    let mut subscriber = app.subscriber(json!({})).await;
    let query = r#"subscription($inbox: ID!) { messageAdded(inboxIds: [$inbox]) {
        text direction author { name }
        conversation { status target contact { displayName } inbox { databaseId } lastMessage { text } } } }"#;
    subscriber
        .subscribe(query, json!({"inbox": global("Inbox:3001")}))
        .await;
    let first = first_delivery(&app, &mut subscriber, 3001, "12125550101").await;
    assert_eq!(first["errors"], Value::Null, "{first}");

    inbound(&app, 101, 3001, &phone, "Is my order ready?").await;
    let result = result_where(&mut subscriber, "messageAdded", |m| {
        m["text"] == "Is my order ready?"
    })
    .await;
    let message = &result["data"]["messageAdded"];
    assert_eq!(
        (&message["direction"], &message["author"]),
        (&json!("INBOUND"), &Value::Null)
    );
    let conversation = &message["conversation"];
    assert_eq!(conversation["target"], phone.as_str());
    assert_eq!(
        conversation["status"], "OPEN",
        "the customer's message reopened it"
    );
    assert_eq!(
        conversation["contact"], known["contact"],
        "the contact resolves"
    );
    assert_eq!(conversation["inbox"]["databaseId"], "3001");
    assert_eq!(
        conversation["lastMessage"]["text"], "Is my order ready?",
        "links see the new state"
    );
}

#[tokio::test]
async fn an_event_is_read_again_once_for_every_subscription_it_concerns() {
    let app = app().await;
    let query = "subscription($inbox: ID!) { conversationUpdated(inboxIds: [$inbox]) { databaseId status } }";
    let mut subscribers = Vec::new();
    for _ in 0..3 {
        let mut subscriber = app.subscriber(json!({})).await;
        subscriber
            .subscribe(query, json!({"inbox": global("Inbox:3001")}))
            .await;
        first_delivery(&app, &mut subscriber, 3001, "12125550131").await;
        subscribers.push(subscriber);
    }
    // Each subscription handles its events in order: once all have shown this one, they are
    // done with every earlier one.
    let delivered_by_all = async |subscribers: &mut Vec<_>, phone: &str| {
        let message = inbound(&app, 101, 3001, phone, "Hello").await;
        let id = json_at::<i64>(&message, "/conversation/id").to_string();
        for subscriber in subscribers {
            result_where(subscriber, "conversationUpdated", |c| c["databaseId"] == id).await;
        }
    };
    delivered_by_all(&mut subscribers, "12125550132").await;
    app.sandbox.take_calls().await;

    delivered_by_all(&mut subscribers, "12125550133").await;
    assert_eq!(
        app.sandbox.take_calls().await,
        routes(&[("GET /v1/conversations/{id}", 1)]),
        "one read after the event, for all three subscriptions"
    );
}

/// When the webhook of a write arrives, against the write's own read of its conversation.
#[derive(Debug, Clone, Copy)]
enum WebhookArrives {
    AfterTheRead,
    DuringTheRead,
}

/// A write whose webhook concerns `conversationUpdated`, and the status it leaves.
#[derive(Debug, Clone, Copy)]
enum Write {
    Close,
    Reply,
}

impl Write {
    async fn make(self, app: &TestApp, conversation: &str) -> (Value, Value) {
        let id = global(&format!("Conversation:{conversation}"));
        match self {
            Self::Close => {
                mutate(
                    app,
                    "closeConversation",
                    "CloseConversationInput",
                    "conversation { status }",
                    json!({ "conversationId": id }),
                    None,
                )
                .await
            }
            Self::Reply => {
                mutate(
                    app,
                    "sendMessage",
                    "SendMessageInput",
                    "conversation { status } userErrors { code }",
                    json!({ "conversationId": id, "text": "On our way." }),
                    None,
                )
                .await
            }
        }
    }

    /// The write's first read after it: the webhook is let through once it has begun. (A
    /// reply looks for its message in the history, and must read its conversation meanwhile.)
    fn first_read(self) -> &'static str {
        match self {
            Self::Close => "GET /v1/conversations/{id}",
            Self::Reply => "GET /v1/messages",
        }
    }

    fn leaves(self) -> &'static str {
        match self {
            Self::Close => "CLOSED",
            Self::Reply => "OPEN",
        }
    }
}

#[tokio::test]
async fn an_event_reporting_what_a_write_read_back_is_not_read_again_under_every_profile() {
    let query = "subscription($inbox: ID!) { conversationUpdated(inboxIds: [$inbox]) { databaseId status } }";
    let cases = [
        (Write::Close, WebhookArrives::AfterTheRead),
        (Write::Close, WebhookArrives::DuringTheRead),
        (Write::Reply, WebhookArrives::AfterTheRead),
        (Write::Reply, WebhookArrives::DuringTheRead),
    ];
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_playing(*readings).await;
        let mut subscriber = app.subscriber(json!({})).await;
        subscriber
            .subscribe(query, json!({"inbox": global("Inbox:3001")}))
            .await;
        first_delivery(&app, &mut subscriber, 3001, "12125550141").await;
        for (write, arrives) in cases {
            let listed = newest_open(&app, &[3001]).await;
            // Below the conversations written before: a reply moves its own to the top.
            let conversation: String = json_at(&listed, "/data/conversations/nodes/3/databaseId");
            let case = format!("{profile}, {write:?}, webhook {arrives:?}");
            // The write's webhook (where the upstream sends one) is held until the write has
            // read its conversation back, or has begun to.
            app.sandbox.set_faults(json!({"webhooks_held": true})).await;
            if let WebhookArrives::DuringTheRead = arrives {
                let reads = ["GET /v1/conversations/{id}", "GET /v1/messages"];
                app.sandbox
                    .set_faults(
                        json!({"webhooks_held": true, "routes": reads, "latency_ms": 1_500}),
                    )
                    .await;
            }
            app.sandbox.take_calls().await;
            let release = async {
                if let WebhookArrives::DuringTheRead = arrives {
                    eventually("the write to read back", async || {
                        app.sandbox.calls(write.first_read()).await == 1
                    })
                    .await;
                    app.sandbox.set_faults(json!({})).await;
                }
            };
            let ((written, body), ()) = futures::join!(write.make(&app, &conversation), release);
            assert_eq!(
                written["conversation"]["status"],
                write.leaves(),
                "{case}: {body}"
            );
            app.sandbox.set_faults(json!({})).await;
            if readings.write_events == WriteEvents::Fired {
                let update = result_where(&mut subscriber, "conversationUpdated", |c| {
                    c["databaseId"] == conversation.as_str()
                })
                .await;
                assert_eq!(
                    update["data"]["conversationUpdated"]["status"],
                    write.leaves(),
                    "{case}"
                );
            }
            let calls = app.sandbox.take_calls().await;
            assert_eq!(
                calls.get("GET /v1/conversations/{id}"),
                Some(&1),
                "{case}: only the write's own read: {calls:?}"
            );
        }
    }
}

#[tokio::test]
async fn mutations_arrive_as_conversation_updates() {
    let app = app().await;
    let mut subscriber = app.subscriber(json!({})).await;
    let query = r#"subscription($inboxes: [ID!]) { conversationUpdated(inboxIds: $inboxes) {
        id databaseId status assignee { databaseId } inbox { databaseId } } }"#;
    subscriber
        .subscribe(
            query,
            json!({"inboxes": [global("Inbox:3001"), global("Inbox:3002")]}),
        )
        .await;
    let phone = "12125550102";
    let first = first_delivery(&app, &mut subscriber, 3001, phone).await;
    let id = first["data"]["conversationUpdated"]["id"].clone();
    let mutate = async |mutation: &str, input: Value| {
        let (_, body) = app
            .graphql_with(mutation, json!({"input": input}), &[])
            .await;
        assert_eq!(body["errors"], Value::Null, "{body}");
    };

    mutate("mutation($input: CloseConversationInput!) { closeConversation(input: $input) { userErrors { code } } }", json!({"conversationId": id})).await;
    let closed = result_where(&mut subscriber, "conversationUpdated", |c| {
        c["status"] == "CLOSED"
    })
    .await;
    assert_eq!(closed["data"]["conversationUpdated"]["id"], id);

    mutate(
        "mutation($input: AssignConversationInput!) { assignConversation(input: $input) { userErrors { code } } }",
        json!({"conversationId": id, "assigneeId": global("Member:501")}),
    )
    .await;
    result_where(&mut subscriber, "conversationUpdated", |c| {
        c["assignee"]["databaseId"] == "501"
    })
    .await;

    mutate(
        "mutation($input: TransferConversationInput!) { transferConversation(input: $input) { userErrors { code } } }",
        json!({"conversationId": id, "inboxId": global("Inbox:3002")}),
    )
    .await;
    let moved = result_where(&mut subscriber, "conversationUpdated", |c| {
        c["inbox"]["databaseId"] == "3002"
    })
    .await;
    assert_eq!(moved["data"]["conversationUpdated"]["id"], id);
}

#[tokio::test]
async fn an_event_makes_the_caches_read_again() {
    let app = spawn_app_with_webhooks(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            config.cache.ttl_conversations = Duration::from_secs(3600);
        },
    )
    .await;
    let query = r#"{ conversations(first: 1, filter: {status: OPEN}) { nodes { id databaseId status inbox { databaseId } } } }"#;
    let open: Value = json_at(&app.graphql(query).await, "/data/conversations/nodes/0");
    let (id, inbox) = (database_id(&open), database_id(&open["inbox"]));
    let status = async || {
        let body = app
            .graphql_with(
                "query($id: ID!) { conversation(id: $id) { status } }",
                json!({"id": open["id"]}),
                &[],
            )
            .await
            .1;
        body["data"]["conversation"]["status"].clone()
    };
    assert_eq!(status().await, "OPEN");

    // Closed behind the gateway's back: only the webhook can tell it.
    let address = json!({"inbox_id": inbox, "user_id": 501, "chat_id": id});
    assert_eq!(
        app.sandbox
            .api_post(0, "/v1/conversations/close", address)
            .await
            .0,
        200
    );

    eventually_ok("the cached conversation to be read again", async || {
        let status = status().await;
        if status == "CLOSED" {
            Ok(())
        } else {
            Err(status)
        }
    })
    .await;
    let listed = app.graphql(query).await["data"]["conversations"]["nodes"][0]["id"].clone();
    assert_ne!(listed, open["id"], "the open list no longer shows it");
}

async fn post_webhook(app: &TestApp, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/webhooks/heymarket"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

#[tokio::test]
async fn bad_webhooks_get_stated_answers_and_redeliveries_count_once() {
    let app = spawn_app_with_webhooks(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            config.webhooks.max_body_bytes = 16 * 1024;
        },
    )
    .await;
    let token = app.sandbox.teams[0].webhook_token.clone();
    let mut subscriber = app.subscriber(json!({})).await;
    subscriber
        .subscribe("subscription { messageAdded { text } }", json!({}))
        .await;
    let message = first_delivery(&app, &mut subscriber, 3001, "12125550103").await;
    assert!(
        json_at::<String>(&message, "/data/messageAdded/text").starts_with("ping"),
        "{message}"
    );

    let sent = inbound(&app, 101, 3001, "12125550103", "the original").await;
    result_where(&mut subscriber, "messageAdded", |m| {
        m["text"] == "the original"
    })
    .await;
    let envelope = |token: &str, kind: &str| {
        json!({"type": kind, "id": 901, "token": token, "event_data": sent}).to_string()
    };

    for (body, status, error) in [
        (
            json!({"type": "message_recieved", "id": 901, "event_data": sent}).to_string(),
            401,
            "unauthorized",
        ),
        (
            envelope("not-the-token", "message_recieved"),
            401,
            "unauthorized",
        ),
        ("{ not json".to_owned(), 400, "malformed"),
        (
            json!({"type": "message_recieved", "token": token}).to_string(),
            400,
            "malformed",
        ),
        (
            format!(r#"{{"padding": "{}"}}"#, "x".repeat(20_000)),
            413,
            "bad_body",
        ),
    ] {
        let (answered, answer) = post_webhook(&app, body).await;
        assert_eq!(
            (answered, answer["error"].as_str().unwrap_or_default()),
            (status, error),
            "{answer}"
        );
    }
    assert_eq!(
        post_webhook(&app, envelope(&token, "poll_created")).await,
        (200, json!({"status": "ignored"}))
    );

    // Heymarket delivers the same event again (the sandbox already did once): it is taken in
    // once.
    let again = envelope(&token, "message_recieved");
    assert_eq!(
        post_webhook(&app, again).await,
        (200, json!({"status": "duplicate"}))
    );
    inbound(&app, 101, 3001, "12125550103", "the sentinel").await;
    let next = subscriber.next_result().await;
    assert_eq!(
        next["data"]["messageAdded"]["text"], "the sentinel",
        "no second copy: {next}"
    );
}

#[tokio::test]
async fn connection_init_must_carry_a_working_credential_in_pass_through_mode() {
    let app = spawn_app_with_webhooks(roomy_config(), |config| {
        config.upstream.auth = UpstreamAuth::PassThrough
    })
    .await;

    for payload in [json!({}), json!({"Authorization": "Bearer not-a-key"})] {
        match app.connect_ws(payload.clone()).await {
            Init::Closed { code, reason } => assert_eq!(code, 4403, "{payload}: {reason}"),
            Init::Acknowledged(_) => panic!("{payload} was accepted"),
        }
    }
    let key = format!("Bearer {}", app.sandbox.teams[0].api_key);
    assert!(matches!(
        app.connect_ws(json!({"Authorization": key})).await,
        Init::Acknowledged(_)
    ));
}

#[tokio::test]
async fn subscribers_see_neither_other_teams_nor_other_inboxes() {
    let app = spawn_app_with_webhooks(roomy_config(), |config| {
        config.upstream.auth = UpstreamAuth::PassThrough
    })
    .await;
    let key = format!("Bearer {}", app.sandbox.teams[0].api_key);
    let member_inboxes = app
        .graphql_with(
            "{ viewer { inboxes { databaseId } } inboxes { databaseId } }",
            Value::Null,
            &[("Authorization", &key), ("X-Member-Id", "504")],
        )
        .await
        .1;
    let inside: Vec<i64> = ids(&member_inboxes, "/data/viewer/inboxes");
    let outside: Vec<i64> = ids(&member_inboxes, "/data/inboxes")
        .into_iter()
        .filter(|id| !inside.contains(id))
        .collect();
    let (Some(&visible), Some(&hidden)) = (inside.first(), outside.first()) else {
        panic!("an inbox inside and one outside the member's: {member_inboxes}");
    };

    let mut subscriber = app
        .subscriber(json!({"Authorization": key, "X-Member-Id": "504"}))
        .await;
    subscriber
        .subscribe(
            "subscription { messageAdded { text conversation { inbox { databaseId } } } }",
            json!({}),
        )
        .await;
    first_delivery(&app, &mut subscriber, visible, "12125550104").await;

    inbound(&app, 102, visible, "12125550104", "team 102's customer").await;
    inbound(
        &app,
        101,
        hidden,
        "12125550104",
        "an inbox member 504 is not in",
    )
    .await;
    inbound(&app, 101, visible, "12125550104", "the sentinel").await;
    let next = subscriber.next_result().await;
    assert_eq!(
        next["data"]["messageAdded"]["text"], "the sentinel",
        "{next}"
    );

    subscriber
        .subscribe(
            "subscription($inbox: ID!) { messageAdded(inboxIds: [$inbox]) { text } }",
            json!({"inbox": global(&format!("Inbox:{hidden}"))}),
        )
        .await;
    let refused = subscriber.next_result().await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}

/// The database ids of the list at `pointer` in `body`.
fn ids(body: &Value, pointer: &str) -> Vec<i64> {
    json_at::<Vec<Value>>(body, pointer)
        .iter()
        .map(database_id)
        .collect()
}

#[tokio::test]
async fn each_event_a_subscription_delivers_gets_the_whole_upstream_budget() {
    let app = spawn_app_with_webhooks(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| config.limits.max_upstream_calls = 3,
    )
    .await;
    // What the subscription reads when it starts (the team, the inboxes), cached first.
    for query in ["{ team { name } }", "{ inboxes { id } }"] {
        let body = app.graphql(query).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
    }
    let mut subscriber = app.subscriber(json!({})).await;
    let query = r#"subscription($inbox: ID!) { messageAdded(inboxIds: [$inbox]) {
        text conversation { contact { displayName } } } }"#;
    subscriber
        .subscribe(query, json!({"inbox": global("Inbox:3001")}))
        .await;
    let first = first_delivery(&app, &mut subscriber, 3001, "12125550161").await;
    assert_eq!(first["errors"], Value::Null, "{first}");

    // Each event re-reads its conversation and its message, and a new customer's contact costs
    // one search: three calls, one event's whole budget.
    for (n, phone) in ["12125550162", "12125550163"].into_iter().enumerate() {
        let text = format!("event {n}");
        inbound(&app, 101, 3001, phone, &text).await;
        let result = result_where(&mut subscriber, "messageAdded", |message| {
            message["text"] == text.as_str()
        })
        .await;
        assert_eq!(result["errors"], Value::Null, "{result}");
    }
}
