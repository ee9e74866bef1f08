//! Business rules that stop a mutation: user errors in the payload, with nothing changed.

use serde_json::{Value, json};

use super::{
    MESSAGE_PAYLOAD, assert_refused, conversation_gid, history, inbound, inbox_gid, message_count,
    mutate, outsider, run,
};
use crate::helpers::{TestApp, database_id, json_at, spawn_app};

async fn send_as(app: &TestApp, input: Value, member: Option<i64>) -> (Value, Value) {
    mutate(
        app,
        "sendMessage",
        "SendMessageInput",
        MESSAGE_PAYLOAD,
        input,
        member,
    )
    .await
}

#[tokio::test]
async fn sends_the_gateway_can_judge_are_refused_without_a_write() {
    let app = spawn_app().await;
    let id = inbound(&app, 3001, "12125550170").await;
    let reply = |extra: Value| {
        let mut input = json!({ "conversationId": conversation_gid(id), "clientMutationId": "x" });
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        input
    };
    let start = |extra: Value| {
        let mut input = json!({ "inboxId": inbox_gid(3001), "phone": "12125550171" });
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        input
    };
    let stranger = outsider(&app, 3001).await;
    let messages_before = message_count(&app).await;

    for (input, member, code, field) in [
        (
            reply(json!({ "text": " \n " })),
            None,
            "EMPTY_MESSAGE",
            Some("text"),
        ),
        (reply(json!({})), None, "EMPTY_MESSAGE", Some("text")),
        (
            reply(json!({ "text": "hi", "mediaUrl": "ftp://example.com/a.png" })),
            None,
            "INVALID_MEDIA_URL",
            Some("mediaUrl"),
        ),
        (
            start(json!({ "phone": "555-0100", "text": "hi" })),
            None,
            "INVALID_PHONE",
            Some("phone"),
        ),
        (
            start(json!({ "inboxId": inbox_gid(3005), "text": "hi" })),
            None,
            "UNSUPPORTED_CHANNEL",
            Some("inboxId"),
        ),
        (
            reply(json!({ "text": "hi" })),
            Some(stranger),
            "NOT_AN_INBOX_MEMBER",
            None,
        ),
        (
            start(json!({ "text": "hi" })),
            Some(stranger),
            "NOT_AN_INBOX_MEMBER",
            None,
        ),
    ] {
        let (refused, body) = send_as(&app, input.clone(), member).await;
        assert_eq!(body["errors"], Value::Null, "{input}: {body}");
        assert_refused(&refused, "message", code, field);
        assert_eq!(refused["conversation"], Value::Null);
    }
    let (refused, _) = mutate(
        &app,
        "addPrivateNote",
        "AddPrivateNoteInput",
        MESSAGE_PAYLOAD,
        json!({ "conversationId": conversation_gid(id), "text": "" }),
        None,
    )
    .await;
    assert_refused(&refused, "message", "EMPTY_MESSAGE", Some("text"));

    assert_eq!(app.sandbox.calls("POST /v1/message/send").await, 0);
    assert_eq!(message_count(&app).await, messages_before);
}

/// A conversation whose customer opted out, found by walking the acting member's list.
async fn opted_out_conversation(app: &TestApp) -> Value {
    let mut after = Value::Null;
    for _ in 0..20 {
        let page = run(
            app,
            "query($after: String) { conversations(first: 100, after: $after) {
                nodes { id target inbox { databaseId } contact { optedOut } }
                pageInfo { endCursor hasNextPage }
            } }",
            json!({ "after": after }),
            None,
        )
        .await;
        let connection = &page["data"]["conversations"];
        let nodes: Vec<Value> = json_at(&page, "/data/conversations/nodes");
        if let Some(found) = nodes.iter().find(|node| {
            node["contact"]["optedOut"] == true && node["inbox"]["databaseId"] != "3005"
        }) {
            return found.clone();
        }
        assert_eq!(connection["pageInfo"]["hasNextPage"], true, "{page}");
        after = connection["pageInfo"]["endCursor"].clone();
    }
    panic!("no opted-out customer in the first 2,000 conversations");
}

#[tokio::test]
async fn a_customer_who_opted_out_gets_no_message_but_notes_still_work() {
    let app = spawn_app().await;
    let conversation = opted_out_conversation(&app).await;
    let target: String = json_at(&conversation, "/target");
    let inbox = database_id(&conversation["inbox"]);
    let before = history(&app, &target, inbox).await.len();

    let (refused, body) = send_as(
        &app,
        json!({ "conversationId": conversation["id"], "text": "Big sale today!" }),
        None,
    )
    .await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_refused(
        &refused,
        "message",
        "RECIPIENT_OPTED_OUT",
        Some("conversationId"),
    );
    assert_eq!(history(&app, &target, inbox).await.len(), before);

    let (note, body) = mutate(
        &app,
        "addPrivateNote",
        "AddPrivateNoteInput",
        MESSAGE_PAYLOAD,
        json!({ "conversationId": conversation["id"], "text": "Opted out: call instead" }),
        None,
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(note["message"]["direction"], "NOTE", "{note}");
    assert_eq!(history(&app, &target, inbox).await.len(), before + 1);
}
