//! The `Mutation` root end to end: every change visible through a fresh query and in the
//! sandbox's own REST state, and every business failure a user error that changes nothing.
//!
//! Phone numbers the tests invent use the 212 area code, which no seeded contact has.

mod address_book;
mod assignment;
mod contacts;
mod conversation_state;
mod email;
mod errors;
mod failures;
mod idempotency;
mod messages;
mod scheduled;

use heymarket_gateway::schema::GlobalId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json_at};

/// What every conversation payload is asked for.
pub const CONVERSATION_PAYLOAD: &str = "conversation { id databaseId status unread target \
     inbox { databaseId } assignee { databaseId } } \
     userErrors { field message code } clientMutationId";

/// What every message payload is asked for.
pub const MESSAGE_PAYLOAD: &str = "message { id databaseId text mediaUrl direction isPrivate \
     author { databaseId } } \
     conversation { id databaseId target inbox { databaseId } lastMessage { databaseId } } \
     userErrors { field message code } clientMutationId";

/// Runs `mutation` (named `field`, taking `$input: <Type>!`) with `input`, as `member` when
/// given, and returns that field of the response with the whole body for error checks.
pub async fn mutate(
    app: &TestApp,
    field: &str,
    input_type: &str,
    selection: &str,
    input: Value,
    member: Option<i64>,
) -> (Value, Value) {
    let query =
        format!("mutation($input: {input_type}!) {{ {field}(input: $input) {{ {selection} }} }}");
    let body = run(app, &query, json!({ "input": input }), member).await;
    (body["data"][field].clone(), body)
}

/// Runs any operation, as `member` (its database id) when given.
pub async fn run(app: &TestApp, query: &str, variables: Value, member: Option<i64>) -> Value {
    let member = member.map(|id| id.to_string());
    let headers: Vec<(&str, &str)> = member
        .as_deref()
        .map(|id| vec![("X-Member-Id", id)])
        .unwrap_or_default();
    let (status, body) = app.graphql_with(query, variables, &headers).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// How many sends (`POST /v1/message/send`) the sandbox has served.
pub async fn sends(app: &TestApp) -> u64 {
    app.sandbox.calls("POST /v1/message/send").await
}

/// Every upstream route that writes.
const WRITE_ROUTES: [&str; 10] = [
    "POST /v1/conversations/open",
    "POST /v1/conversations/close",
    "POST /v1/conversations/read",
    "POST /v1/conversations/unread",
    "POST /v1/conversations/reassign",
    "POST /v1/conversations/transfer",
    "POST /v1/message/send",
    "POST /v1/email/send",
    "POST /v1/contact",
    "PUT /v1/contact/{id}",
];

/// The writes the sandbox has served, refused ones included, by route (routes without any are
/// left out): `{"POST /v1/message/send": 2}`.
pub async fn writes(app: &TestApp) -> Value {
    let stats = app.sandbox.stats().await;
    let counts: serde_json::Map<String, Value> = WRITE_ROUTES
        .iter()
        .filter_map(|route| {
            let count = stats["routes"][route].as_u64().filter(|count| *count > 0)?;
            Some(((*route).to_owned(), json!(count)))
        })
        .collect();
    Value::Object(counts)
}

/// Runs `sendMessage` as the default member, which must not fail as a GraphQL error; its
/// payload.
pub async fn send(app: &TestApp, input: Value) -> Value {
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

/// Asserts a message payload holds the sent message, already its conversation's last.
pub fn assert_sent(payload: &Value) {
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    assert!(payload["message"]["databaseId"].is_string(), "{payload}");
    assert_eq!(
        payload["conversation"]["lastMessage"]["databaseId"], payload["message"]["databaseId"],
        "the payload's conversation already has the new message: {payload}"
    );
}

pub fn conversation_gid(id: i64) -> String {
    GlobalId::Conversation(id).to_string()
}

pub fn inbox_gid(id: i64) -> String {
    GlobalId::Inbox(id).to_string()
}

pub fn member_gid(id: i64) -> String {
    GlobalId::Member(id).to_string()
}

/// The `skip`-th newest open conversation of `inbox`, as the sandbox renders it.
pub async fn open_conversation(app: &TestApp, inbox: i64, skip: usize) -> Value {
    let page = app
        .sandbox
        .conversation_page(
            0,
            json!({"id": 0, "filters": {"inboxes": [inbox], "closed": false}}),
        )
        .await;
    page[skip].clone()
}

/// The conversation `phone` starts by writing to `inbox` (created by the sandbox's simulated
/// inbound message); its database id.
pub async fn inbound(app: &TestApp, inbox: i64, phone: &str) -> i64 {
    let message = json!({"inbox_id": inbox, "phone": phone, "text": "Hi, is anyone there?"});
    let (status, answer) = app
        .sandbox
        .control(Method::POST, "/_sandbox/inbound", Some(message))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["conversation"]["id"]
        .as_i64()
        .expect("a conversation id")
}

/// Member ids with access to `inbox`.
pub async fn inbox_members(app: &TestApp, inbox: i64) -> Vec<i64> {
    let (status, inboxes) = app.sandbox.api_get(0, "/v1/inboxes").await;
    assert_eq!(status, 200);
    let found = inboxes
        .as_array()
        .expect("a list")
        .iter()
        .find(|candidate| candidate["id"] == inbox)
        .expect("the inbox exists");
    found["members"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_i64)
        .collect()
}

/// A team member without access to `inbox`.
pub async fn outsider(app: &TestApp, inbox: i64) -> i64 {
    let members = inbox_members(app, inbox).await;
    let team = app.sandbox.overview(0).await;
    json_at::<Vec<i64>>(&team, "/member_ids")
        .into_iter()
        .find(|id| !members.contains(id))
        .unwrap_or_else(|| panic!("a member outside the inbox in {team}"))
}

/// The phone number of a seeded customer who opted out (or not) and has no conversation yet in
/// inbox 3001.
pub async fn contact_phone(app: &TestApp, opted_out: bool) -> String {
    for id in 100_001..102_501 {
        let (status, contact) = app.sandbox.api_get(0, &format!("/v1/contact/{id}")).await;
        assert_eq!(status, 200, "{contact}");
        let phone: String = json_at(&contact, "/phone");
        if contact["is_opted_out"] == opted_out && history(app, &phone, 3001).await.is_empty() {
            return phone;
        }
    }
    panic!("the seed has such contacts");
}

/// Closes the conversation with global id `gid` as the default member, and checks it did.
pub async fn close(app: &TestApp, gid: &str) {
    let (closed, body) = mutate(
        app,
        "closeConversation",
        "CloseConversationInput",
        "conversation { status }",
        json!({ "conversationId": gid }),
        None,
    )
    .await;
    assert_eq!(closed["conversation"]["status"], "CLOSED", "{body}");
}

/// Opts the customer with `phone` out of the team's messages, through the upstream's own
/// `POST /v1/contact/set_status`.
pub async fn opt_out(app: &TestApp, phone: &str) {
    let (status, answer) = app
        .sandbox
        .api_post(
            0,
            "/v1/contact/set_status",
            json!({ "phone": phone, "status": "unsubscribed" }),
        )
        .await;
    assert_eq!((status, answer), (200, json!("success")));
}

/// The team's message count, as the sandbox keeps it.
pub async fn message_count(app: &TestApp) -> u64 {
    json_at(&app.sandbox.overview(0).await, "/counts/messages")
}

/// The messages `GET /v1/messages` holds for `phone` in `inbox`, newest first.
pub async fn history(app: &TestApp, phone: &str, inbox: i64) -> Vec<Value> {
    let (status, messages) = app
        .sandbox
        .api_get(
            0,
            &format!("/v1/messages?phoneNumber={phone}&inboxID={inbox}"),
        )
        .await;
    // A phone without a conversation there is a 404 under one reading of the docs.
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200, "{messages}");
    json_at(&messages, "")
}

/// Asserts a payload holds exactly one user error with `code` (and `field`), and no object.
pub fn assert_refused(payload: &Value, object: &str, code: &str, field: Option<&str>) {
    assert_eq!(payload[object], Value::Null, "{payload}");
    let errors: Vec<Value> = json_at(payload, "/userErrors");
    assert_eq!(errors.len(), 1, "{payload}");
    assert_eq!(errors[0]["code"], code, "{payload}");
    assert_eq!(errors[0]["field"], json!(field.map(|f| [f])), "{payload}");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "{payload}"
    );
}
