//! Webhook events are hints: a delivery with a valid token but false content changes nothing a
//! client sees (queries and subscriptions show what the upstream has), and a redelivery is
//! known by the event's identity, however its body is spelled.

use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually};
use crate::sandbox_support::spawn_app_refreshed_by_events;
use crate::ws_support::{first_delivery, inbound, result_where};

/// POSTs a webhook envelope carrying the team's own token; the gateway's answer.
pub async fn deliver(app: &TestApp, kind: &str, event_data: &Value) -> Value {
    let envelope = json!({
        "type": kind,
        "id": 901,
        "token": app.sandbox.teams[0].webhook_token,
        "event_data": event_data,
    });
    let response = app
        .http
        .post(app.url("/webhooks/heymarket"))
        .json(&envelope)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("a JSON answer")
}

fn database_id(object: &Value) -> i64 {
    object["databaseId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a database id")
}

#[tokio::test]
async fn a_forged_chat_event_changes_nothing_a_query_or_a_subscriber_sees() {
    let app = spawn_app_refreshed_by_events().await;
    let open = app
        .graphql("{ conversations(first: 2, filter: {status: OPEN}) { nodes { id databaseId inbox { databaseId } } } }")
        .await["data"]["conversations"]["nodes"]
        .clone();
    let (victim, witness) = (&open[0], &open[1]);
    let shown = async |conversation: &Value| {
        let (_, body) = app
            .graphql_with(
                "query($id: ID!) { conversation(id: $id) { status target } }",
                json!({"id": conversation["id"]}),
                &[],
            )
            .await;
        body["data"]["conversation"].clone()
    };
    let before = shown(victim).await;
    assert_eq!(before["status"], "OPEN", "{before}");

    let mut subscriber = app.subscriber(json!({})).await;
    subscriber
        .subscribe(
            "subscription { conversationUpdated { databaseId status target } }",
            json!({}),
        )
        .await;
    first_delivery(&app, &mut subscriber, 3001, "12125550301").await;

    // The right token, false content: closed, another customer, later than anything real.
    let forged = json!({
        "id": database_id(victim),
        "inbox": database_id(&victim["inbox"]),
        "status": "closed",
        "target": "19995550123",
        "updated": "2099-01-01T00:00:00Z",
    });
    assert_eq!(
        deliver(&app, "chat_closed", &forged).await,
        json!({"status": "accepted"})
    );

    // A real change after it: events are taken in in order, so once the witness shows closed,
    // the forged event has been taken in too.
    let close = json!({
        "inbox_id": database_id(&witness["inbox"]),
        "user_id": 501,
        "chat_id": database_id(witness),
    });
    let (status, _) = app
        .sandbox
        .api_post(0, "/v1/conversations/close", close)
        .await;
    assert_eq!(status, 200);
    eventually("the real close to show", || async {
        shown(witness).await["status"] == "CLOSED"
    })
    .await;
    assert_eq!(
        shown(victim).await,
        before,
        "the upstream's word, not the event's"
    );

    // Subscribers got the upstream's word too, up to the real close.
    loop {
        let result = subscriber.next_result().await;
        let update = &result["data"]["conversationUpdated"];
        assert_ne!(update["target"], "19995550123", "{result}");
        if update["databaseId"] == victim["databaseId"] {
            assert_eq!(update["status"], "OPEN", "{result}");
        }
        if update["databaseId"] == witness["databaseId"] && update["status"] == "CLOSED" {
            break;
        }
    }
}

#[tokio::test]
async fn a_forged_message_never_reaches_a_subscriber() {
    let app = spawn_app_refreshed_by_events().await;
    let mut subscriber = app.subscriber(json!({})).await;
    subscriber
        .subscribe("subscription { messageAdded { text } }", json!({}))
        .await;
    let phone = "12125550302";
    first_delivery(&app, &mut subscriber, 3001, phone).await;
    let real = inbound(&app, 101, 3001, phone, "the original").await;
    result_where(&mut subscriber, "messageAdded", |m| {
        m["text"] == "the original"
    })
    .await;

    let mut forged = real.clone();
    forged["id"] = json!(99_999_999);
    forged["text"] = json!("words nobody wrote");
    assert_eq!(
        deliver(&app, "message_recieved", &forged).await,
        json!({"status": "accepted"})
    );
    inbound(&app, 101, 3001, phone, "the sentinel").await;
    let next = subscriber.next_result().await;
    assert_eq!(
        next["data"]["messageAdded"]["text"], "the sentinel",
        "{next}"
    );
}

#[tokio::test]
async fn a_redelivery_with_a_field_more_is_a_duplicate() {
    let app = spawn_app_refreshed_by_events().await;
    let mut subscriber = app.subscriber(json!({})).await;
    subscriber
        .subscribe("subscription { messageAdded { text } }", json!({}))
        .await;
    let phone = "12125550303";
    first_delivery(&app, &mut subscriber, 3001, phone).await;
    let real = inbound(&app, 101, 3001, phone, "the original").await;
    result_where(&mut subscriber, "messageAdded", |m| {
        m["text"] == "the original"
    })
    .await;

    // The sandbox delivered this event already; the same event, padded, is still that event.
    let mut padded = real.clone();
    padded["replayed"] = json!(true);
    padded["conversation"]["note"] = json!("new bytes, same event");
    assert_eq!(
        deliver(&app, "message_recieved", &padded).await,
        json!({"status": "duplicate"})
    );
    inbound(&app, 101, 3001, phone, "the sentinel").await;
    let next = subscriber.next_result().await;
    assert_eq!(
        next["data"]["messageAdded"]["text"], "the sentinel",
        "no second delivery: {next}"
    );
}
