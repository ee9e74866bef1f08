//! Open, close, read and unread: the change in the payload, in a fresh query and upstream.

use serde_json::{Value, json};

use super::{
    CONVERSATION_PAYLOAD, conversation_gid, inbox_members, mutate, open_conversation, run,
};
use crate::helpers::{json_at, spawn_app};

async fn status_via_graphql(app: &crate::helpers::TestApp, gid: &str) -> Value {
    let body = run(
        app,
        "query($id: ID!) { conversation(id: $id) { status } }",
        json!({ "id": gid }),
        None,
    )
    .await;
    body["data"]["conversation"]["status"].clone()
}

#[tokio::test]
async fn closing_and_opening_change_the_status_everywhere() {
    let app = spawn_app().await;
    let conversation = open_conversation(&app, 3001, 3).await;
    let id: i64 = json_at(&conversation, "/id");
    let gid = conversation_gid(id);

    let (closed, body) = mutate(
        &app,
        "closeConversation",
        "CloseConversationInput",
        CONVERSATION_PAYLOAD,
        json!({ "conversationId": gid, "clientMutationId": "close-1" }),
        None,
    )
    .await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(closed["clientMutationId"], "close-1");
    assert_eq!(closed["userErrors"], json!([]));
    assert_eq!(closed["conversation"]["id"], gid);
    assert_eq!(closed["conversation"]["status"], "CLOSED");
    assert_eq!(app.sandbox.conversation(0, id).await["status"], "closed");
    assert_eq!(status_via_graphql(&app, &gid).await, "CLOSED");

    let (opened, body) = mutate(
        &app,
        "openConversation",
        "OpenConversationInput",
        CONVERSATION_PAYLOAD,
        json!({ "conversationId": gid, "clientMutationId": "open-1" }),
        None,
    )
    .await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(opened["clientMutationId"], "open-1");
    assert_eq!(opened["conversation"]["status"], "OPEN");
    assert_eq!(app.sandbox.conversation(0, id).await["status"], "open");
    assert_eq!(status_via_graphql(&app, &gid).await, "OPEN");
}

#[tokio::test]
async fn later_mutations_of_an_operation_see_earlier_changes() {
    let app = spawn_app().await;
    let conversation = open_conversation(&app, 3003, 0).await;
    let id: i64 = json_at(&conversation, "/id");

    let body = run(
        &app,
        "mutation($id: ID!) {
            closed: closeConversation(input: { conversationId: $id }) { conversation { status } }
            reopened: openConversation(input: { conversationId: $id }) { conversation { status } }
        }",
        json!({ "id": conversation_gid(id) }),
        None,
    )
    .await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(body["data"]["closed"]["conversation"]["status"], "CLOSED");
    assert_eq!(body["data"]["reopened"]["conversation"]["status"], "OPEN");
    assert_eq!(app.sandbox.calls("POST /v1/conversations/close").await, 1);
    assert_eq!(app.sandbox.calls("POST /v1/conversations/open").await, 1);
    // One load before the first write, then one re-read after each: the second mutation starts
    // from the first one's re-read instead of fetching again.
    assert_eq!(
        app.sandbox.calls("GET /v1/conversations/{id}").await,
        3,
        "{}",
        app.sandbox.stats().await
    );
    assert_eq!(app.sandbox.conversation(0, id).await["status"], "open");
}

#[tokio::test]
async fn read_state_belongs_to_the_acting_member() {
    let app = spawn_app().await;
    let members = inbox_members(&app, 3001).await;
    let (first, second) = (members[0], members[1]);
    let conversation = open_conversation(&app, 3001, 5).await;
    let id: i64 = json_at(&conversation, "/id");
    let gid = conversation_gid(id);
    let mark = |field: &'static str, member: i64| {
        let gid = gid.clone();
        let app = &app;
        async move {
            let input_type = if field == "markConversationRead" {
                "MarkConversationReadInput"
            } else {
                "MarkConversationUnreadInput"
            };
            let (payload, body) = mutate(
                app,
                field,
                input_type,
                CONVERSATION_PAYLOAD,
                json!({ "conversationId": gid, "clientMutationId": field }),
                Some(member),
            )
            .await;
            assert_eq!(body["errors"], Value::Null, "{body}");
            assert_eq!(payload["clientMutationId"], field);
            payload["conversation"]["unread"].clone()
        }
    };
    let unread_as = |member: i64| {
        let gid = gid.clone();
        let app = &app;
        async move {
            let body = run(
                app,
                "query($id: ID!) { conversation(id: $id) { unread } }",
                json!({ "id": gid }),
                Some(member),
            )
            .await;
            body["data"]["conversation"]["unread"].clone()
        }
    };
    let unread_users =
        || async { json_at::<Vec<Value>>(&app.sandbox.conversation(0, id).await, "/unread_users") };

    assert_eq!(mark("markConversationUnread", first).await, true);
    assert_eq!(mark("markConversationUnread", second).await, true);
    assert_eq!(mark("markConversationRead", first).await, false);

    assert_eq!(unread_as(first).await, false);
    assert_eq!(unread_as(second).await, true);
    let users = unread_users().await;
    assert!(
        !users.contains(&json!(first)) && users.contains(&json!(second)),
        "{users:?}"
    );

    assert_eq!(mark("markConversationUnread", first).await, true);
    assert_eq!(unread_as(first).await, true);
    assert!(unread_users().await.contains(&json!(first)));
}
