//! Email: starting a thread from an email inbox, replying in it, reading the thread as one
//! screen, and every refusal before anything is sent.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{
    assert_refused, conversation_gid, history, inbox_gid, inbox_members, mutate, open_conversation,
    outsider, writes,
};
use crate::helpers::{TestApp, cost, database_id, eventually, json_at, routes, spawn_app};
use crate::sandbox_support::{
    reading as sandbox_reading, spawn_app_reading, spawn_app_refreshed_by_events,
};

/// The seeded email inbox.
const EMAIL_INBOX: i64 = 3005;

/// What an email payload is asked for.
const EMAIL_PAYLOAD: &str = "message { id databaseId text direction author { databaseId } } \
     conversation { id databaseId target title channel inbox { databaseId } \
     lastMessage { databaseId } } \
     userErrors { field message code } clientMutationId";

/// The thread screen: the conversation with everything a reader shows, in one query.
const THREAD_SCREEN: &str = "query($id: ID!) { conversation(id: $id) { id title target \
     channel status unread inbox { id name } assignee { id name } \
     messages(first: 20) { nodes { id text direction isPrivate sentAt author { id name } \
     attachments { url } } pageInfo { hasNextPage endCursor } } } }";

/// Runs `sendEmail` as `member`; its payload, and the upstream calls it cost by route.
async fn send_email(app: &TestApp, member: i64, input: Value) -> (Value, BTreeMap<String, u64>) {
    let (payload, body) = mutate(
        app,
        "sendEmail",
        "SendEmailInput",
        EMAIL_PAYLOAD,
        input,
        Some(member),
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    (payload, cost(&body))
}

/// A member of the email inbox.
async fn email_member(app: &TestApp) -> i64 {
    inbox_members(app, EMAIL_INBOX).await[0]
}

#[tokio::test]
async fn an_email_thread_is_started_replied_to_and_read_as_one_screen() {
    let app = spawn_app().await;
    let member = email_member(&app).await;

    let (started, started_cost) = send_email(
        &app,
        member,
        json!({
            "inboxId": inbox_gid(EMAIL_INBOX),
            "to": [" Ada.Customer@Example.com "],
            "cc": ["billing@example.com"],
            "subject": "Your invoice",
            "html": "<p>Hi Ada, your invoice is attached below.</p>",
            "text": "Hi Ada, your invoice is attached below.",
            "clientMutationId": "start",
        }),
    )
    .await;
    assert_eq!(started["userErrors"], json!([]), "{started}");
    assert_eq!(started["clientMutationId"], "start");
    let thread = &started["conversation"];
    assert_eq!(thread["target"], "ada.customer@example.com", "{started}");
    assert_eq!(thread["title"], "Your invoice");
    assert_eq!(thread["channel"], "EMAIL");
    assert_eq!(thread["inbox"]["databaseId"], EMAIL_INBOX.to_string());
    assert_eq!(
        thread["lastMessage"]["databaseId"],
        started["message"]["databaseId"]
    );
    assert_eq!(
        started["message"]["text"],
        "<p>Hi Ada, your invoice is attached below.</p>"
    );
    assert_eq!(started["message"]["direction"], "OUTBOUND");
    assert_eq!(
        started["message"]["author"]["databaseId"],
        member.to_string()
    );
    // The send, the thread it names, its history; the inbox and the acting member.
    assert_eq!(
        started_cost,
        routes(&[
            ("GET /v1/conversations/{id}", 1),
            ("GET /v1/inboxes", 1),
            ("GET /v1/messages", 1),
            ("GET /v1/team", 1),
            ("POST /v1/email/send", 1),
        ])
    );

    let id = database_id(thread);
    let upstream = app.sandbox.conversation(0, id).await;
    assert_eq!(upstream["name"], "Your invoice");
    assert_eq!(upstream["channel"], "email");

    let (reply, reply_cost) = send_email(
        &app,
        member,
        json!({ "conversationId": thread["id"], "text": "Paid, thank you!" }),
    )
    .await;
    assert_eq!(reply["userErrors"], json!([]), "{reply}");
    assert_eq!(reply["conversation"]["id"], thread["id"]);
    assert_eq!(reply["conversation"]["title"], "Your invoice");
    assert_eq!(reply["message"]["text"], "Paid, thank you!");
    // The thread comes from the cache the start filled; the send, the thread read again, and
    // its history.
    assert_eq!(
        reply_cost,
        routes(&[
            ("GET /v1/conversations/{id}", 1),
            ("GET /v1/messages", 1),
            ("POST /v1/email/send", 1),
        ])
    );
    let upstream_history = history(&app, "ada.customer@example.com", EMAIL_INBOX).await;
    assert_eq!(upstream_history.len(), 2);
    assert_eq!(upstream_history[0]["text"], "Paid, thank you!");

    // The whole thread screen is one query, and costs nothing when read again.
    let screen = app
        .graphql_as(member, THREAD_SCREEN, json!({ "id": thread["id"] }))
        .await;
    assert_eq!(screen["errors"], Value::Null, "{screen}");
    let conversation = &screen["data"]["conversation"];
    assert_eq!(conversation["title"], "Your invoice");
    assert_eq!(conversation["inbox"]["name"], "Email");
    let texts: Vec<&Value> = conversation["messages"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| &node["text"])
        .collect();
    assert_eq!(
        texts,
        [
            "Paid, thank you!",
            "<p>Hi Ada, your invoice is attached below.</p>"
        ]
    );
    let again = app
        .graphql_as(member, THREAD_SCREEN, json!({ "id": thread["id"] }))
        .await;
    assert_eq!(again["data"], screen["data"]);
    assert_eq!(cost(&again), BTreeMap::new());
}

#[tokio::test]
async fn an_existing_thread_with_the_first_address_is_continued() {
    let app = spawn_app().await;
    let member = email_member(&app).await;
    let existing = open_conversation(&app, EMAIL_INBOX, 0).await;
    let address: String = json_at(&existing, "/target");

    let (sent, _) = send_email(
        &app,
        member,
        json!({
            "inboxId": inbox_gid(EMAIL_INBOX),
            "to": [address.to_uppercase(), "someone.else@example.com"],
            "text": "Following up",
        }),
    )
    .await;
    assert_eq!(sent["userErrors"], json!([]), "{sent}");
    assert_eq!(
        sent["conversation"]["databaseId"],
        existing["id"].to_string()
    );
    assert_eq!(sent["conversation"]["target"], address);
    assert_eq!(
        history(&app, &address, EMAIL_INBOX).await[0]["text"],
        "Following up"
    );
}

#[tokio::test]
async fn a_thread_is_read_back_by_whatever_target_the_upstream_gives_it() {
    for (reading, target) in [
        ("first-to", "ada@example.com"),
        ("all-to", "ada@example.com,grace@example.com"),
    ] {
        let app = spawn_app_reading(sandbox_reading(&[&format!(
            "email-thread-target={reading}"
        )]))
        .await;
        let member = email_member(&app).await;
        let (sent, _) = send_email(
            &app,
            member,
            json!({
                "inboxId": inbox_gid(EMAIL_INBOX),
                "to": ["ada@example.com", "grace@example.com"],
                "subject": "Both of you",
                "text": "Hello both",
            }),
        )
        .await;
        assert_eq!(sent["userErrors"], json!([]), "{reading}: {sent}");
        assert_eq!(sent["conversation"]["target"], target, "{reading}");
        assert_eq!(sent["message"]["text"], "Hello both", "{reading}");

        let (reply, _) = send_email(
            &app,
            member,
            json!({ "conversationId": sent["conversation"]["id"], "text": "One more thing" }),
        )
        .await;
        assert_eq!(reply["userErrors"], json!([]), "{reading}: {reply}");
        assert_eq!(
            history(&app, target, EMAIL_INBOX).await.len(),
            2,
            "{reading}"
        );
    }
}

#[tokio::test]
async fn refused_emails_send_nothing() {
    let app = spawn_app().await;
    let member = email_member(&app).await;
    let text_thread: i64 = json_at(&open_conversation(&app, 3001, 0).await, "/id");
    let sms_member = inbox_members(&app, 3001).await[0];
    let stranger = outsider(&app, EMAIL_INBOX).await;
    let start = |fields: Value| {
        let mut input = json!({ "inboxId": inbox_gid(EMAIL_INBOX), "to": ["ada@example.com"],
            "text": "Hi" });
        for (key, value) in fields.as_object().expect("fields") {
            input[key] = value.clone();
        }
        input
    };

    for (who, input, code, field) in [
        (
            sms_member,
            json!({ "inboxId": inbox_gid(3001), "to": ["ada@example.com"], "text": "Hi" }),
            "UNSUPPORTED_CHANNEL",
            Some("inboxId"),
        ),
        (
            sms_member,
            json!({ "conversationId": conversation_gid(text_thread), "text": "Hi" }),
            "UNSUPPORTED_CHANNEL",
            Some("conversationId"),
        ),
        (stranger, start(json!({})), "NOT_AN_INBOX_MEMBER", None),
        (
            member,
            start(json!({ "to": ["ada"] })),
            "INVALID_EMAIL",
            Some("to"),
        ),
        (
            member,
            start(json!({ "to": [] })),
            "INVALID_EMAIL",
            Some("to"),
        ),
        (
            member,
            start(json!({ "cc": ["Ada <ada@example.com>"] })),
            "INVALID_EMAIL",
            Some("cc"),
        ),
        (
            member,
            start(json!({ "to": ["ada@example.com,eve@example.com"] })),
            "INVALID_EMAIL",
            Some("to"),
        ),
        (
            member,
            start(json!({ "text": " ", "html": "" })),
            "EMPTY_MESSAGE",
            Some("html"),
        ),
    ] {
        let (payload, _) = send_email(&app, who, input.clone()).await;
        assert_refused(&payload, "message", code, field);
        assert_eq!(payload["conversation"], Value::Null, "{input}");
    }

    let too_many: Vec<String> = (0..51).map(|i| format!("c{i}@example.com")).collect();
    for input in [
        start(json!({ "subject": "Hi\r\nBcc: eve@example.com" })),
        start(json!({ "to": too_many })),
        json!({ "conversationId": conversation_gid(text_thread), "to": ["a@example.com"],
            "text": "Hi" }),
        json!({ "conversationId": conversation_gid(text_thread), "inboxId": inbox_gid(EMAIL_INBOX),
            "text": "Hi" }),
        start(json!({ "idempotencyKey": "" })),
    ] {
        let (payload, body) = mutate(
            &app,
            "sendEmail",
            "SendEmailInput",
            EMAIL_PAYLOAD,
            input.clone(),
            Some(member),
        )
        .await;
        assert_eq!(payload, Value::Null, "{input}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
    }

    // Texts do not go from the email inbox either.
    let (payload, _) = mutate(
        &app,
        "sendMessage",
        "SendMessageInput",
        "message { id } userErrors { field message code }",
        json!({ "inboxId": inbox_gid(EMAIL_INBOX), "phone": "+12125550100", "text": "Hi" }),
        Some(member),
    )
    .await;
    assert_refused(&payload, "message", "UNSUPPORTED_CHANNEL", Some("inboxId"));

    assert_eq!(writes(&app).await, json!({}));
}

#[tokio::test]
async fn a_keyed_email_is_sent_once() {
    let app = spawn_app().await;
    let member = email_member(&app).await;
    let input = json!({
        "inboxId": inbox_gid(EMAIL_INBOX),
        "to": ["grace@example.com"],
        "subject": "Welcome",
        "html": "<p>Welcome aboard</p>",
        "idempotencyKey": "welcome-grace",
    });

    let (first, _) = send_email(&app, member, input.clone()).await;
    let (again, again_cost) = send_email(&app, member, input.clone()).await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    assert_eq!(again["message"], first["message"]);
    assert_eq!(again["conversation"]["id"], first["conversation"]["id"]);
    assert_eq!(again_cost.get("POST /v1/email/send"), None);
    assert_eq!(writes(&app).await, json!({ "POST /v1/email/send": 1 }));
    assert_eq!(
        history(&app, "grace@example.com", EMAIL_INBOX).await.len(),
        1
    );

    let mut changed = input;
    changed["html"] = json!("<p>Welcome back</p>");
    let (reused, _) = send_email(&app, member, changed).await;
    assert_refused(
        &reused,
        "message",
        "IDEMPOTENCY_KEY_REUSED",
        Some("idempotencyKey"),
    );
    assert_eq!(writes(&app).await, json!({ "POST /v1/email/send": 1 }));
}

#[tokio::test]
async fn an_email_sent_elsewhere_reaches_a_cached_thread_through_its_webhook() {
    let app = spawn_app_refreshed_by_events().await;
    let member = email_member(&app).await;
    let thread = open_conversation(&app, EMAIL_INBOX, 0).await;
    let id = conversation_gid(json_at(&thread, "/id"));
    let screen = app
        .graphql_as(member, THREAD_SCREEN, json!({ "id": id }))
        .await;
    assert_eq!(screen["errors"], Value::Null, "{screen}");

    let (status, answer) = app
        .sandbox
        .api_post(
            0,
            "/v1/email/send",
            json!({ "creator_id": member, "inbox": EMAIL_INBOX, "convo_id": thread["id"],
                "text": "Sent from the Heymarket app" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["convo_id"], thread["id"]);

    eventually(
        "the cached thread shows the email sent elsewhere",
        || async {
            let body = app
                .graphql_as(member, THREAD_SCREEN, json!({ "id": id }))
                .await;
            body["data"]["conversation"]["messages"]["nodes"][0]["text"]
                == "Sent from the Heymarket app"
        },
    )
    .await;
}

#[tokio::test]
async fn an_email_thread_and_its_contact_show_each_other() {
    let app = spawn_app().await;
    let thread = open_conversation(&app, EMAIL_INBOX, 0).await;
    let address: String = json_at(&thread, "/target");
    let (status, found) = app
        .sandbox
        .api_post(
            0,
            "/v2/contacts/search",
            json!({ "contact_channels": [{ "channel_type": "email", "channel_ids": [address] }] }),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let contact: i64 = json_at(&found, "/0/id");

    let page = app
        .graphql(&format!(
            "{{ contact(id: \"{}\") {{ email conversations {{ nodes {{ databaseId channel }} }} }} }}",
            heymarket_gateway::schema::GlobalId::Contact(contact)
        ))
        .await;
    assert_eq!(page["errors"], Value::Null, "{page}");
    let conversations: Vec<Value> = json_at(&page, "/data/contact/conversations/nodes");
    assert!(
        conversations.contains(&json!({
            "databaseId": thread["id"].to_string(), "channel": "EMAIL"
        })),
        "{page}"
    );

    // And the thread shows its contact, found by its address.
    let query = r#"query($id: ID!) { conversation(id: $id) { contact { databaseId email } } }"#;
    let variables = json!({ "id": conversation_gid(json_at(&thread, "/id")) });
    let shown = app.graphql_as(501, query, variables).await;
    assert_eq!(
        json_at::<String>(&shown, "/data/conversation/contact/databaseId"),
        contact.to_string(),
        "{shown}"
    );
    assert_eq!(
        cost(&shown).get("POST /v2/contacts/search"),
        Some(&1),
        "{shown}"
    );

    // A page of threads finds all their contacts in one search by email.
    let list = r#"query($id: ID!) { inbox(id: $id) {
        conversations(first: 10) { nodes { target contact { email } } } } }"#;
    let listed = app
        .graphql_as(501, list, json!({ "id": inbox_gid(EMAIL_INBOX) }))
        .await;
    let nodes: Vec<Value> = json_at(&listed, "/data/inbox/conversations/nodes");
    assert_eq!(nodes.len(), 10, "{listed}");
    let with_contact = nodes
        .iter()
        .filter(|node| !node["contact"].is_null())
        .inspect(|node| {
            let email: String = json_at(node, "/contact/email");
            let target: String = json_at(node, "/target");
            assert_eq!(email.to_lowercase(), target.to_lowercase(), "{node}");
        })
        .count();
    assert!(with_contact > 0, "{listed}");
    assert_eq!(
        cost(&listed).get("POST /v2/contacts/search"),
        Some(&1),
        "{listed}"
    );
}
