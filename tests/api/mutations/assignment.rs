//! Assigning within an inbox and transferring between inboxes, and the rules that refuse them
//! before anything is written.

use serde_json::{Value, json};

use super::{
    CONVERSATION_PAYLOAD, assert_refused, conversation_gid, history, inbound, inbox_gid,
    inbox_members, member_gid, mutate, open_conversation, outsider, run,
};
use crate::helpers::{TestApp, json_at, spawn_app};

async fn assign(app: &TestApp, conversation: i64, assignee: Value) -> (Value, Value) {
    mutate(
        app,
        "assignConversation",
        "AssignConversationInput",
        CONVERSATION_PAYLOAD,
        json!({
            "conversationId": conversation_gid(conversation),
            "assigneeId": assignee,
            "clientMutationId": "assign",
        }),
        None,
    )
    .await
}

async fn transfer(app: &TestApp, conversation: i64, inbox: i64) -> (Value, Value) {
    mutate(
        app,
        "transferConversation",
        "TransferConversationInput",
        CONVERSATION_PAYLOAD,
        json!({
            "conversationId": conversation_gid(conversation),
            "inboxId": inbox_gid(inbox),
            "clientMutationId": "transfer",
        }),
        None,
    )
    .await
}

#[tokio::test]
async fn a_conversation_is_assigned_to_an_inbox_member() {
    let app = spawn_app().await;
    let conversation = open_conversation(&app, 3001, 2).await;
    let id: i64 = json_at(&conversation, "/id");
    let assignee = inbox_members(&app, 3001)
        .await
        .into_iter()
        .find(|member| conversation["assigned"] != *member)
        .unwrap_or_else(|| panic!("another member of the inbox than {conversation}"));

    let (assigned, body) = assign(&app, id, json!(member_gid(assignee))).await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(assigned["clientMutationId"], "assign");
    assert_eq!(assigned["userErrors"], json!([]));
    assert_eq!(
        assigned["conversation"]["assignee"]["databaseId"],
        assignee.to_string()
    );
    assert_eq!(app.sandbox.conversation(0, id).await["assigned"], assignee);
    let fresh = run(
        &app,
        "query($id: ID!) { conversation(id: $id) { assignee { databaseId } } }",
        json!({ "id": conversation_gid(id) }),
        None,
    )
    .await;
    assert_eq!(
        fresh["data"]["conversation"]["assignee"]["databaseId"],
        assignee.to_string()
    );
}

#[tokio::test]
async fn an_assignee_outside_the_inbox_is_refused_without_a_write() {
    let app = spawn_app().await;
    let conversation = open_conversation(&app, 3001, 4).await;
    let id: i64 = json_at(&conversation, "/id");
    let stranger = outsider(&app, 3001).await;

    let (refused, body) = assign(&app, id, json!(member_gid(stranger))).await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_refused(
        &refused,
        "conversation",
        "ASSIGNEE_NOT_IN_INBOX",
        Some("assigneeId"),
    );
    assert_eq!(refused["clientMutationId"], "assign");
    assert_eq!(
        app.sandbox.calls("POST /v1/conversations/reassign").await,
        0
    );
    assert_eq!(
        app.sandbox.conversation(0, id).await["assigned"],
        conversation["assigned"]
    );
}

#[tokio::test]
async fn an_sms_conversation_moves_to_another_inbox_with_its_history() {
    let app = spawn_app().await;
    let conversation = open_conversation(&app, 3001, 1).await;
    let id: i64 = json_at(&conversation, "/id");
    let target: String = json_at(&conversation, "/target");
    let mut destination = None;
    for inbox in [3002, 3003, 3004] {
        if history(&app, &target, inbox).await.is_empty() {
            destination = Some(inbox);
            break;
        }
    }
    let destination = destination.expect("an SMS inbox without this customer");
    let fields = "inbox { databaseId } messages(first: 2) { nodes { databaseId } }";

    let (moved, body) = mutate(
        &app,
        "transferConversation",
        "TransferConversationInput",
        &format!("conversation {{ {fields} }} userErrors {{ code }} clientMutationId"),
        json!({
            "conversationId": conversation_gid(id),
            "inboxId": inbox_gid(destination),
            "clientMutationId": "move",
        }),
        None,
    )
    .await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(moved["clientMutationId"], "move");
    assert_eq!(moved["userErrors"], json!([]));
    assert_eq!(
        moved["conversation"]["inbox"]["databaseId"],
        destination.to_string()
    );
    let messages: Vec<Value> = json_at(&moved, "/conversation/messages/nodes");
    assert!(!messages.is_empty(), "the history moved along: {moved}");
    assert_eq!(app.sandbox.conversation(0, id).await["inbox"], destination);
    let fresh = run(
        &app,
        &format!("query($id: ID!) {{ conversation(id: $id) {{ {fields} }} }}"),
        json!({ "id": conversation_gid(id) }),
        None,
    )
    .await;
    assert_eq!(fresh["data"]["conversation"], moved["conversation"]);
}

#[tokio::test]
async fn transfers_the_api_forbids_are_refused_without_a_write() {
    let app = spawn_app().await;
    let sms = open_conversation(&app, 3001, 0).await;
    let sms_id: i64 = json_at(&sms, "/id");
    let email_id: i64 = json_at(&open_conversation(&app, 3005, 0).await, "/id");
    let twice_phone = "12125550123";
    let first_copy = inbound(&app, 3001, twice_phone).await;
    inbound(&app, 3002, twice_phone).await;

    for (conversation, destination, code, field) in [
        (sms_id, 3001, "SAME_INBOX", "inboxId"),
        (email_id, 3001, "NOT_TRANSFERABLE", "conversationId"),
        (sms_id, 3005, "NOT_TRANSFERABLE", "inboxId"),
        (first_copy, 3002, "ALREADY_IN_INBOX", "inboxId"),
    ] {
        let (refused, body) = transfer(&app, conversation, destination).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        assert_refused(&refused, "conversation", code, Some(field));
        assert_eq!(refused["clientMutationId"], "transfer");
    }

    assert_eq!(
        app.sandbox.calls("POST /v1/conversations/transfer").await,
        0
    );
    assert_eq!(app.sandbox.conversation(0, sms_id).await["inbox"], 3001);
    assert_eq!(app.sandbox.conversation(0, email_id).await["inbox"], 3005);
    assert_eq!(app.sandbox.conversation(0, first_copy).await["inbox"], 3001);
}
