//! Sending messages and notes: starting a conversation by phone, replying, private notes.

use serde_json::{Value, json};

use super::{MESSAGE_PAYLOAD, assert_sent, history, inbox_gid, run, send};
use crate::helpers::{database_id, spawn_app};

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
    let id = database_id(conversation);
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
