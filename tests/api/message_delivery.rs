//! What a message shows besides its text: every attachment, however the upstream spells them,
//! and where its delivery stands, with the reason when it failed.

use heymarket_sandbox::readings::{MessageMedia, Readings};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, global};
use crate::sandbox_support::spawn_app_reading;

const NEWEST: &str = r#"query($id: ID!) { conversation(id: $id) { messages(first: 1) { nodes {
    databaseId mediaUrl attachments { url } status deliveryStatus deliveryError
    recipientErrors { recipient message } } } } }"#;

/// Runs `query` as member 501; the answer, which must hold no errors.
async fn run(app: &TestApp, query: &str, variables: Value) -> Value {
    let body = app.graphql_as(501, query, variables).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body
}

/// The newest message of conversation `id` (a database id), as the gateway shows it.
async fn newest(app: &TestApp, id: &Value) -> Value {
    let conversation = global(&format!("Conversation:{id}"));
    let body = run(app, NEWEST, json!({ "id": conversation })).await;
    body["data"]["conversation"]["messages"]["nodes"][0].clone()
}

#[tokio::test]
async fn every_attachment_is_listed_under_every_profile() {
    let urls = [
        "https://media.example.com/1.jpg",
        "https://media.example.com/2.jpg",
        "https://media.example.com/3.pdf",
    ];
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let (status, message) = app
            .sandbox
            .control(
                Method::POST,
                "/_sandbox/inbound",
                Some(json!({"inbox_id": 3001, "phone": "12125550177", "text": "Photos", "media": urls})),
            )
            .await;
        assert_eq!(status, 200, "{message}");

        let shown = newest(&app, &message["conversation"]["id"]).await;

        assert_eq!(shown["databaseId"], message["id"].to_string(), "{profile}");
        assert_eq!(shown["mediaUrl"], urls[0], "{profile}");
        let attachments: Vec<&str> = shown["attachments"]
            .as_array()
            .expect("attachments")
            .iter()
            .map(|attachment| attachment["url"].as_str().expect("a url"))
            .collect();
        let visible = match readings.message_media {
            // The upstream shows one URL per message: the others cannot be read.
            MessageMedia::Single => 1,
            MessageMedia::List | MessageMedia::Gallery => urls.len(),
        };
        assert_eq!(attachments, urls[..visible], "{profile}");
        assert_eq!(shown["deliveryStatus"], "RECEIVED", "{profile}");
        assert_eq!(shown["recipientErrors"], json!([]), "{profile}");
    }
}

#[tokio::test]
async fn a_failed_delivery_shows_its_status_and_reason_when_next_read() {
    let app = spawn_app_reading(Readings::DEFAULT).await;
    let phone = "12125550166";
    let sent = run(
        &app,
        r#"mutation($inbox: ID!, $phone: String!) { sendMessage(input: {inboxId: $inbox, phone: $phone, text: "Your order shipped."}) {
            message { databaseId deliveryStatus deliveryError conversation { databaseId } } userErrors { code } } }"#,
        json!({"inbox": global("Inbox:3001"), "phone": phone}),
    )
    .await;
    let payload = &sent["data"]["sendMessage"];
    assert_eq!(payload["userErrors"], json!([]), "{sent}");
    assert_eq!(payload["message"]["deliveryStatus"], "SENT", "{sent}");
    assert_eq!(payload["message"]["deliveryError"], Value::Null, "{sent}");
    let message_id: i64 = payload["message"]["databaseId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a message id");
    let conversation = json!(
        payload["message"]["conversation"]["databaseId"]
            .as_str()
            .and_then(|id| id.parse::<i64>().ok())
            .expect("a conversation id")
    );

    let reason = "30003: unreachable destination handset";
    let (status, answer) = app
        .sandbox
        .control(
            Method::POST,
            "/_sandbox/delivery-failure",
            Some(json!({"message_id": message_id, "error": reason})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    // No event tells of a failure after the send, so a gateway that has not read the
    // history since shows it at once; one that has, when its cache entry expires.
    let fresh = app.replica().await;
    let shown = newest(&fresh, &conversation).await;
    assert_eq!(shown["databaseId"], message_id.to_string());
    assert_eq!(shown["status"], "failed");
    assert_eq!(shown["deliveryStatus"], "FAILED");
    assert_eq!(shown["deliveryError"], reason);
    assert_eq!(
        shown["recipientErrors"],
        json!([{"recipient": phone, "message": reason}])
    );
}
