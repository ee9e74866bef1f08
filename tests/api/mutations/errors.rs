//! Malformed input and unknown objects: GraphQL errors with their codes, a null payload, and
//! no write attempted; the other mutations of the operation still run.

use std::collections::BTreeMap;

use heymarket_gateway::schema::GlobalId;
use serde_json::{Value, json};

use super::{
    CONVERSATION_PAYLOAD, conversation_gid, inbox_gid, member_gid, mutate, open_conversation, run,
};
use crate::helpers::{error_codes, json_at, spawn_app};

#[tokio::test]
async fn malformed_ids_are_bad_user_input_and_unknown_objects_not_found() {
    let app = spawn_app().await;
    let conversation: i64 = json_at(&open_conversation(&app, 3001, 0).await, "/id");
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
    let writes = json_at::<BTreeMap<String, u64>>(&app.sandbox.stats().await, "/routes")
        .keys()
        .filter(|route| route.starts_with("POST /v1/conversations/") || route.contains("send"))
        .cloned()
        .collect::<Vec<_>>();
    assert!(writes.is_empty(), "no write was attempted: {writes:?}");
}

#[tokio::test]
async fn one_failed_mutation_leaves_the_others_of_its_operation() {
    let app = spawn_app().await;
    let conversation: i64 = json_at(&open_conversation(&app, 3001, 0).await, "/id");

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
