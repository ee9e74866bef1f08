//! `setContactOptOut`: a customer's consent, written upstream, shown at once, and enforced on
//! the next send; and a change made elsewhere, brought in by its webhook.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{MESSAGE_PAYLOAD, assert_refused, mutate, run};
use crate::helpers::{TestApp, cost, error_codes, eventually, global, spawn_app};
use crate::sandbox_support::spawn_app_refreshed_by_events;

const PAYLOAD: &str = "contact { id optedOut } userErrors { field message code } clientMutationId";

/// An open conversation of inbox 3001 whose customer is a contact who has not opted out: its
/// global id and the contact's.
async fn subscribed_customer(app: &TestApp) -> (Value, Value) {
    let body = run(
        app,
        r#"{ conversations(first: 50, filter: {inboxIds: ["SW5ib3g6MzAwMQ"], status: OPEN}) {
            nodes { id contact { id optedOut } } } }"#,
        json!({}),
        Some(501),
    )
    .await;
    let nodes = body["data"]["conversations"]["nodes"]
        .as_array()
        .expect("nodes");
    let row = nodes
        .iter()
        .find(|row| row["contact"]["optedOut"] == false)
        .expect("a subscribed contact");
    (row["id"].clone(), row["contact"]["id"].clone())
}

/// Whether the conversation's contact shows as opted out (read through the caches).
async fn shows_opted_out(app: &TestApp, conversation: &Value) -> Value {
    let body = run(
        app,
        "query($id: ID!) { conversation(id: $id) { contact { optedOut } } }",
        json!({ "id": conversation }),
        Some(501),
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["conversation"]["contact"]["optedOut"].clone()
}

async fn set_opt_out(app: &TestApp, contact: &Value, opted_out: bool) -> (Value, Value) {
    mutate(
        app,
        "setContactOptOut",
        "SetContactOptOutInput",
        PAYLOAD,
        json!({ "contactId": contact, "optedOut": opted_out, "clientMutationId": "consent" }),
        Some(502),
    )
    .await
}

async fn reply(app: &TestApp, conversation: &Value) -> Value {
    let (payload, body) = mutate(
        app,
        "sendMessage",
        "SendMessageInput",
        MESSAGE_PAYLOAD,
        json!({ "conversationId": conversation, "text": "Your table is ready." }),
        Some(501),
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    payload
}

#[tokio::test]
async fn an_opt_out_shows_at_once_stops_sends_and_an_opt_in_lifts_it() {
    let app = spawn_app().await;
    let (conversation, contact) = subscribed_customer(&app).await;
    assert_eq!(shows_opted_out(&app, &conversation).await, false);
    let sends = app.sandbox.calls("POST /v1/message/send").await;

    let (out, body) = set_opt_out(&app, &contact, true).await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(out["userErrors"], json!([]));
    assert_eq!(out["clientMutationId"], "consent");
    assert_eq!(out["contact"], json!({ "id": contact, "optedOut": true }));
    assert_eq!(
        cost(&body),
        BTreeMap::from([
            ("GET /v1/contact/{id}".to_owned(), 2),
            ("POST /v1/contact/set_status".to_owned(), 1),
        ]),
        "read, write, read back; the team was cached"
    );
    assert_eq!(
        shows_opted_out(&app, &conversation).await,
        true,
        "the cached contact was replaced"
    );
    let refused = reply(&app, &conversation).await;
    assert_refused(
        &refused,
        "message",
        "RECIPIENT_OPTED_OUT",
        Some("conversationId"),
    );
    assert_eq!(app.sandbox.calls("POST /v1/message/send").await, sends);

    let (back_in, _) = set_opt_out(&app, &contact, false).await;
    assert_eq!(back_in["contact"]["optedOut"], false, "{back_in}");
    assert_eq!(shows_opted_out(&app, &conversation).await, false);
    let sent = reply(&app, &conversation).await;
    assert_eq!(sent["userErrors"], json!([]), "{sent}");
    assert_eq!(app.sandbox.calls("POST /v1/message/send").await, sends + 1);
}

#[tokio::test]
async fn a_bad_contact_or_member_is_an_error_and_writes_nothing() {
    let app = spawn_app().await;
    let (_, contact) = subscribed_customer(&app).await;
    let mutation = "mutation($input: SetContactOptOutInput!) { setContactOptOut(input: $input) { contact { id } } }";
    for (contact_id, member, code) in [
        (json!(global("Inbox:3001")), "501", "BAD_USER_INPUT"),
        (json!(global("Contact:999999")), "501", "NOT_FOUND"),
        (contact.clone(), "999", "BAD_USER_INPUT"),
    ] {
        let input = json!({ "input": { "contactId": contact_id, "optedOut": true } });
        let (status, body) = app
            .graphql_with(mutation, input, &[("X-Member-Id", member)])
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            error_codes(&body),
            [code],
            "{contact_id} as {member}: {body}"
        );
    }
    assert_eq!(app.sandbox.calls("POST /v1/contact/set_status").await, 0);
}

#[tokio::test]
async fn an_opt_out_made_elsewhere_reaches_the_cached_contact_through_its_webhook() {
    // Contacts are cached for an hour: only the event can bring the change.
    let app = spawn_app_refreshed_by_events().await;
    let (conversation, contact) = subscribed_customer(&app).await;
    let body = run(
        &app,
        "query($id: ID!) { contact(id: $id) { databaseId } }",
        json!({ "id": contact }),
        Some(501),
    )
    .await;
    let id = body["data"]["contact"]["databaseId"].clone();
    let newest_contact = || async {
        let body = run(
            &app,
            "{ contacts(first: 1) { nodes { databaseId } } }",
            json!({}),
            Some(501),
        )
        .await;
        body["data"]["contacts"]["nodes"][0]["databaseId"].clone()
    };
    assert_ne!(
        newest_contact().await,
        id,
        "the list is cached before the change"
    );
    assert_eq!(shows_opted_out(&app, &conversation).await, false);

    let (status, answer) = app
        .sandbox
        .api_post(
            0,
            "/v1/contact/set_status",
            json!({ "id": id, "status": "unsubscribed" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    eventually("the opt-out to reach the cached contact", || async {
        shows_opted_out(&app, &conversation).await == true
    })
    .await;
    assert_eq!(
        newest_contact().await,
        id,
        "the changed contact leads the list"
    );
}
