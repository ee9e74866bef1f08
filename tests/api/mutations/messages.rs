//! Sending messages and notes: starting a conversation by phone, replying, private notes, and
//! idempotency keys that make a retried send land once.

use serde_json::{Value, json};

use super::{
    MESSAGE_PAYLOAD, assert_refused, conversation_gid, history, inbound, inbox_gid, mutate, run,
};
use crate::helpers::{TestApp, spawn_app};

async fn send(app: &TestApp, input: Value) -> Value {
    let (payload, body) = mutate(
        app,
        "sendMessage",
        "SendMessageInput",
        MESSAGE_PAYLOAD,
        input,
        None,
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    payload
}

fn assert_sent(payload: &Value) {
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    assert!(payload["message"]["databaseId"].is_string(), "{payload}");
    assert_eq!(
        payload["conversation"]["lastMessage"]["databaseId"], payload["message"]["databaseId"],
        "the payload's conversation already has the new message: {payload}"
    );
}

#[tokio::test]
async fn a_conversation_started_by_phone_takes_replies_and_notes() {
    let app = spawn_app().await;
    let admin =
        app.graphql("{ viewer { databaseId } }").await["data"]["viewer"]["databaseId"].clone();

    let started = send(
        &app,
        json!({
            "inboxId": inbox_gid(3001),
            "phone": "+1 (212) 555-0147",
            "text": "Your order is ready",
            "clientMutationId": "start",
        }),
    )
    .await;

    assert_sent(&started);
    assert_eq!(started["clientMutationId"], "start");
    assert_eq!(started["message"]["direction"], "OUTBOUND");
    assert_eq!(started["message"]["isPrivate"], false);
    assert_eq!(started["message"]["author"]["databaseId"], admin);
    let conversation = &started["conversation"];
    assert_eq!(conversation["target"], "12125550147");
    assert_eq!(conversation["inbox"]["databaseId"], "3001");
    let id: i64 = conversation["databaseId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        app.sandbox.conversation(0, id).await["target"],
        "12125550147"
    );

    // Reply and note in one operation: the note's payload must not see the history as the
    // reply left it.
    let body = run(
        &app,
        &format!(
            "mutation($reply: SendMessageInput!, $note: AddPrivateNoteInput!) {{
                reply: sendMessage(input: $reply) {{ {MESSAGE_PAYLOAD} }}
                note: addPrivateNote(input: $note) {{ {MESSAGE_PAYLOAD} }}
            }}"
        ),
        json!({
            "reply": {
                "conversationId": conversation["id"],
                "text": "Pick it up any time",
                "mediaUrl": "https://example.com/receipt.png",
            },
            "note": {
                "conversationId": conversation["id"],
                "text": "Customer prefers mornings",
                "clientMutationId": "note",
            },
        }),
        None,
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let (reply, note) = (&body["data"]["reply"], &body["data"]["note"]);
    assert_sent(reply);
    assert_eq!(reply["conversation"]["id"], conversation["id"]);
    assert_eq!(
        reply["message"]["mediaUrl"],
        "https://example.com/receipt.png"
    );
    assert_eq!(reply["clientMutationId"], Value::Null);
    assert_sent(note);
    assert_eq!(note["clientMutationId"], "note");
    assert_eq!(note["message"]["direction"], "NOTE");
    assert_eq!(note["message"]["isPrivate"], true);

    let read_back = run(
        &app,
        "query($id: ID!) { conversation(id: $id) {
            messages(first: 10) { nodes { databaseId text direction isPrivate } }
        } }",
        json!({ "id": conversation["id"] }),
        None,
    )
    .await;
    assert_eq!(
        read_back["data"]["conversation"]["messages"]["nodes"],
        json!([
            { "databaseId": note["message"]["databaseId"], "text": "Customer prefers mornings",
              "direction": "NOTE", "isPrivate": true },
            { "databaseId": reply["message"]["databaseId"], "text": "Pick it up any time",
              "direction": "OUTBOUND", "isPrivate": false },
            { "databaseId": started["message"]["databaseId"], "text": "Your order is ready",
              "direction": "OUTBOUND", "isPrivate": false },
        ]),
        "{read_back}"
    );
    assert_eq!(history(&app, "12125550147", 3001).await.len(), 3);
}

#[tokio::test]
async fn the_same_idempotency_key_sends_one_message() {
    let app = spawn_app().await;
    let id = inbound(&app, 3001, "12125550160").await;
    let input = json!({
        "conversationId": conversation_gid(id),
        "text": "Thanks, on our way",
        "idempotencyKey": "reply-7f3a",
    });

    let first = send(&app, input.clone()).await;
    let again = send(&app, input).await;

    assert_sent(&first);
    assert_sent(&again);
    assert_eq!(again["message"], first["message"]);
    assert_eq!(history(&app, "12125550160", 3001).await.len(), 2);
    assert_eq!(app.sandbox.calls("POST /v1/message/send").await, 2);
}

#[tokio::test]
async fn an_idempotent_send_lands_once_through_upstream_failures() {
    let app = spawn_app().await;
    let id = inbound(&app, 3001, "12125550161").await;
    let input = json!({
        "conversationId": conversation_gid(id),
        "text": "Retried until it lands",
        "idempotencyKey": "reply-9c1d",
    });
    app.sandbox.set_faults(json!({ "error_rate": 0.5 })).await;

    let first = send(&app, input.clone()).await;
    let again = send(&app, input).await;

    app.sandbox.set_faults(json!({})).await;
    let stats = app.sandbox.stats().await;
    assert!(
        stats["statuses"]["500"].as_u64() > Some(0),
        "faults were injected: {stats}"
    );
    assert_sent(&first);
    assert_eq!(again["message"], first["message"]);
    let messages = history(&app, "12125550161", 3001).await;
    let texts: Vec<&Value> = messages.iter().map(|message| &message["text"]).collect();
    assert_eq!(
        texts,
        [
            &json!("Retried until it lands"),
            &json!("Hi, is anyone there?")
        ]
    );
}

#[tokio::test]
async fn a_key_already_used_in_another_conversation_is_refused() {
    let app = spawn_app().await;
    let first = inbound(&app, 3001, "12125550162").await;
    let second = inbound(&app, 3001, "12125550163").await;
    let input = |conversation: i64| {
        json!({
            "conversationId": conversation_gid(conversation),
            "text": "Same key, different conversation",
            "idempotencyKey": "shared-key",
            "clientMutationId": "reuse",
        })
    };
    assert_sent(&send(&app, input(first)).await);

    let refused = send(&app, input(second)).await;

    assert_refused(
        &refused,
        "message",
        "IDEMPOTENCY_KEY_REUSED",
        Some("idempotencyKey"),
    );
    assert_eq!(refused["conversation"], Value::Null);
    assert_eq!(refused["clientMutationId"], "reuse");
    assert_eq!(history(&app, "12125550163", 3001).await.len(), 1);
}
