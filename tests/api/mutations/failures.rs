//! What mutations refuse: business rules as user errors that change nothing, malformed input
//! and unknown objects as GraphQL errors.

use heymarket_gateway::schema::GlobalId;
use serde_json::{Value, json};

use super::{
    CONVERSATION_PAYLOAD, MESSAGE_PAYLOAD, assert_refused, conversation_gid, history, inbound,
    inbox_gid, member_gid, message_count, mutate, open_conversation, outsider, run,
};
use crate::helpers::{TestApp, error_codes, spawn_app};

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
        let nodes = connection["nodes"].as_array().expect("a page");
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
    let target = conversation["target"].as_str().unwrap();
    let inbox: i64 = conversation["inbox"]["databaseId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let before = history(&app, target, inbox).await.len();

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
    assert_eq!(history(&app, target, inbox).await.len(), before);

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
    assert_eq!(history(&app, target, inbox).await.len(), before + 1);
}

#[tokio::test]
async fn malformed_ids_are_bad_user_input_and_unknown_objects_not_found() {
    let app = spawn_app().await;
    let conversation = open_conversation(&app, 3001, 0).await["id"]
        .as_i64()
        .unwrap();
    let known = conversation_gid(conversation);
    let unknown = conversation_gid(999_999_999);
    let member = member_gid(501);

    let cases = [
        (
            "closeConversation",
            "CloseConversationInput",
            json!({ "conversationId": "garbage" }),
            "BAD_USER_INPUT",
        ),
        (
            "closeConversation",
            "CloseConversationInput",
            json!({ "conversationId": member }),
            "BAD_USER_INPUT",
        ),
        (
            "closeConversation",
            "CloseConversationInput",
            json!({ "conversationId": unknown }),
            "NOT_FOUND",
        ),
        (
            "markConversationRead",
            "MarkConversationReadInput",
            json!({ "conversationId": unknown }),
            "NOT_FOUND",
        ),
        (
            "assignConversation",
            "AssignConversationInput",
            json!({ "conversationId": known }),
            "BAD_USER_INPUT",
        ),
        (
            "assignConversation",
            "AssignConversationInput",
            json!({ "conversationId": known, "assigneeId": known }),
            "BAD_USER_INPUT",
        ),
        (
            "assignConversation",
            "AssignConversationInput",
            json!({ "conversationId": known, "assigneeId": member_gid(999) }),
            "NOT_FOUND",
        ),
        (
            "transferConversation",
            "TransferConversationInput",
            json!({ "conversationId": known, "inboxId": inbox_gid(9999) }),
            "NOT_FOUND",
        ),
        (
            "sendMessage",
            "SendMessageInput",
            json!({ "text": "hi" }),
            "BAD_USER_INPUT",
        ),
        (
            "sendMessage",
            "SendMessageInput",
            json!({ "conversationId": known, "inboxId": inbox_gid(3001), "phone": "12125550100", "text": "hi" }),
            "BAD_USER_INPUT",
        ),
        (
            "sendMessage",
            "SendMessageInput",
            json!({ "inboxId": inbox_gid(3001), "text": "hi" }),
            "BAD_USER_INPUT",
        ),
        (
            "sendMessage",
            "SendMessageInput",
            json!({ "conversationId": known, "text": "hi", "idempotencyKey": "" }),
            "BAD_USER_INPUT",
        ),
        (
            "sendMessage",
            "SendMessageInput",
            json!({ "inboxId": inbox_gid(9999), "phone": "12125550100", "text": "hi" }),
            "NOT_FOUND",
        ),
        (
            "addPrivateNote",
            "AddPrivateNoteInput",
            json!({ "conversationId": unknown, "text": "hi" }),
            "NOT_FOUND",
        ),
    ];
    for (field, input_type, input, code) in cases {
        let (payload, body) = mutate(
            &app,
            field,
            input_type,
            "clientMutationId",
            input.clone(),
            None,
        )
        .await;
        assert_eq!(payload, Value::Null, "{field} {input}: {body}");
        assert_eq!(error_codes(&body), [code], "{field} {input}: {body}");
        assert_eq!(body["errors"][0]["path"], json!([field]), "{body}");
    }
    let writes = app.sandbox.stats().await["routes"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|route| route.starts_with("POST /v1/conversations/") || route.contains("send"))
        .cloned()
        .collect::<Vec<_>>();
    assert!(writes.is_empty(), "no write was attempted: {writes:?}");
}

#[tokio::test]
async fn one_failed_mutation_leaves_the_others_of_its_operation() {
    let app = spawn_app().await;
    let conversation = open_conversation(&app, 3001, 0).await["id"]
        .as_i64()
        .unwrap();

    let body = run(
        &app,
        &format!(
            "mutation($known: ID!, $unknown: ID!) {{
                missing: closeConversation(input: {{ conversationId: $unknown }}) {{ {CONVERSATION_PAYLOAD} }}
                closed: closeConversation(input: {{ conversationId: $known }}) {{ {CONVERSATION_PAYLOAD} }}
            }}"
        ),
        json!({
            "known": conversation_gid(conversation),
            "unknown": GlobalId::Conversation(999_999_999).to_string(),
        }),
        None,
    )
    .await;

    assert_eq!(error_codes(&body), ["NOT_FOUND"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["missing"]));
    assert_eq!(body["data"]["missing"], Value::Null);
    assert_eq!(
        body["data"]["closed"]["conversation"]["status"], "CLOSED",
        "{body}"
    );
    assert_eq!(
        app.sandbox.conversation(0, conversation).await["status"],
        "closed"
    );
}
