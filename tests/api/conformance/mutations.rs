//! Every mutation under every profile of readings the sandbox plays: each does what it says, as
//! its payload, a fresh query and the sandbox's own state agree, with exactly the upstream
//! writes it needs; or it refuses with a user error and writes nothing.

use chrono::DurationRound;
use futures::future::join_all;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::mutations::{
    CONVERSATION_PAYLOAD, MESSAGE_PAYLOAD, assert_refused, assert_sent, contact_phone,
    conversation_gid, history, inbound, inbox_gid, inbox_members, member_gid, mutate, opt_out, run,
    send, writes,
};
use crate::sandbox_support::spawn_app_reading;

const SEND: &str = "POST /v1/message/send";

/// Runs conversation mutation `field` on conversation `id`, with `extra` input; its payload,
/// which must hold no error of either kind.
async fn change(app: &TestApp, profile: &str, field: &str, id: i64, extra: Value) -> Value {
    let mut input = json!({ "conversationId": conversation_gid(id) });
    input
        .as_object_mut()
        .expect("an object")
        .extend(extra.as_object().expect("an object").clone());
    let input_type = format!("{}{}Input", field[..1].to_uppercase(), &field[1..]);
    let (payload, body) = mutate(app, field, &input_type, CONVERSATION_PAYLOAD, input, None).await;
    assert_eq!(body["errors"], Value::Null, "{profile} {field}: {body}");
    assert_eq!(
        payload["userErrors"],
        json!([]),
        "{profile} {field}: {payload}"
    );
    payload["conversation"].clone()
}

/// Runs `field` (a message mutation) with `input`; its payload, which must hold no GraphQL
/// error.
async fn message_mutation(app: &TestApp, profile: &str, field: &str, input: Value) -> Value {
    let input_type = format!("{}{}Input", field[..1].to_uppercase(), &field[1..]);
    let (payload, body) = mutate(app, field, &input_type, MESSAGE_PAYLOAD, input, None).await;
    assert_eq!(body["errors"], Value::Null, "{profile} {field}: {body}");
    payload
}

/// The conversation as a fresh query reads it.
async fn fresh(app: &TestApp, id: i64) -> Value {
    let body = run(
        app,
        "query($id: ID!) { conversation(id: $id) {
            status unread target inbox { databaseId } assignee { databaseId }
        } }",
        json!({ "id": conversation_gid(id) }),
        None,
    )
    .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body["data"]["conversation"].clone()
}

#[tokio::test]
async fn status_and_read_state_change_with_one_write_each_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let id = inbound(&app, 3001, "12125550401").await;
        let unassigned = fresh(&app, id).await;
        assert_eq!(
            unassigned["assignee"],
            Value::Null,
            "{profile}: {unassigned}"
        );
        assert_eq!(unassigned["status"], "OPEN", "{profile}");

        let mut expected = serde_json::Map::new();
        for (field, route, status, unread) in [
            ("closeConversation", "close", "CLOSED", None),
            ("openConversation", "open", "OPEN", None),
            ("markConversationRead", "read", "OPEN", Some(false)),
            ("markConversationUnread", "unread", "OPEN", Some(true)),
        ] {
            let changed = change(&app, profile, field, id, json!({})).await;

            assert_eq!(changed["status"], status, "{profile} {field}: {changed}");
            assert_eq!(changed["assignee"], Value::Null, "{profile} {field}");
            if let Some(unread) = unread {
                assert_eq!(changed["unread"], unread, "{profile} {field}: {changed}");
            }
            let read_back = fresh(&app, id).await;
            assert_eq!(read_back["status"], changed["status"], "{profile} {field}");
            assert_eq!(read_back["unread"], changed["unread"], "{profile} {field}");
            assert_eq!(
                app.sandbox.conversation(0, id).await["status"],
                status.to_lowercase(),
                "{profile} {field}"
            );
            expected.insert(format!("POST /v1/conversations/{route}"), json!(1));
            assert_eq!(
                writes(&app).await,
                Value::Object(expected.clone()),
                "{profile} {field}"
            );
        }
    }
}

#[tokio::test]
async fn assignment_and_transfer_write_once_and_unassigning_never_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let id = inbound(&app, 3001, "12125550402").await;
        let member = inbox_members(&app, 3001).await[0];

        let assigned = change(
            &app,
            profile,
            "assignConversation",
            id,
            json!({ "assigneeId": member_gid(member) }),
        )
        .await;

        assert_eq!(
            assigned["assignee"]["databaseId"],
            member.to_string(),
            "{profile}"
        );
        assert_eq!(fresh(&app, id).await["assignee"], assigned["assignee"]);
        assert_eq!(app.sandbox.conversation(0, id).await["assigned"], member);
        let reassigned = json!({ "POST /v1/conversations/reassign": 1 });
        assert_eq!(writes(&app).await, reassigned, "{profile}");

        let (refused, body) = mutate(
            &app,
            "assignConversation",
            "AssignConversationInput",
            CONVERSATION_PAYLOAD,
            json!({ "conversationId": conversation_gid(id), "assigneeId": null }),
            None,
        )
        .await;

        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        assert_refused(
            &refused,
            "conversation",
            "UNASSIGN_NOT_SUPPORTED",
            Some("assigneeId"),
        );
        assert_eq!(writes(&app).await, reassigned, "{profile}: nothing written");
        assert_eq!(app.sandbox.conversation(0, id).await["assigned"], member);

        // The destination has no conversation with this customer: however the upstream
        // answers a history that does not exist, the transfer goes ahead.
        let moved = change(
            &app,
            profile,
            "transferConversation",
            id,
            json!({ "inboxId": inbox_gid(3002) }),
        )
        .await;

        assert_eq!(moved["inbox"]["databaseId"], "3002", "{profile}: {moved}");
        assert_eq!(fresh(&app, id).await["inbox"], moved["inbox"]);
        assert_eq!(app.sandbox.conversation(0, id).await["inbox"], 3002);
        assert_eq!(
            writes(&app).await,
            json!({
                "POST /v1/conversations/reassign": 1,
                "POST /v1/conversations/transfer": 1,
            }),
            "{profile}"
        );
    }
}

#[tokio::test]
async fn sends_replies_and_notes_write_once_each_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;

        let started = send(
            &app,
            json!({
                "inboxId": inbox_gid(3001),
                "phone": "+1 212 555 0403",
                "text": "Your order is ready",
            }),
        )
        .await;

        assert_sent(&started);
        let conversation = &started["conversation"];
        assert_eq!(conversation["target"], "12125550403", "{profile}");
        assert_eq!(conversation["inbox"]["databaseId"], "3001", "{profile}");
        let id: i64 = conversation["databaseId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("a database id");
        assert_eq!(writes(&app).await, json!({ SEND: 1 }), "{profile}");

        // A reply within the same second: under a whole-second `updated` the conversation
        // looks unchanged, and its last message must still be the reply.
        let reply = send(
            &app,
            json!({ "conversationId": conversation["id"], "text": "Pick it up any time" }),
        )
        .await;

        assert_sent(&reply);
        assert_eq!(reply["conversation"]["id"], conversation["id"], "{profile}");
        assert_eq!(writes(&app).await, json!({ SEND: 2 }), "{profile}");

        let note = message_mutation(
            &app,
            profile,
            "addPrivateNote",
            json!({ "conversationId": conversation["id"], "text": "Prefers mornings" }),
        )
        .await;

        assert_sent(&note);
        assert_eq!(note["message"]["direction"], "NOTE", "{profile}");
        assert_eq!(writes(&app).await, json!({ SEND: 3 }), "{profile}");
        let texts: Vec<Value> = run(
            &app,
            "query($id: ID!) { conversation(id: $id) { messages(first: 5) { nodes { text } } } }",
            json!({ "id": conversation_gid(id) }),
            None,
        )
        .await["data"]["conversation"]["messages"]["nodes"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|node| node["text"].clone())
            .collect();
        assert_eq!(
            texts,
            [
                json!("Prefers mornings"),
                json!("Pick it up any time"),
                json!("Your order is ready")
            ],
            "{profile}"
        );

        // Two replies in one operation: the second's conversation has the second as its last
        // message, though the operation read that conversation's last message a moment before.
        let reply = |text: &str| json!({ "conversationId": conversation["id"], "text": text });
        let body = run(
            &app,
            &format!(
                "mutation($a: SendMessageInput!, $b: SendMessageInput!) {{
                    a: sendMessage(input: $a) {{ {MESSAGE_PAYLOAD} }}
                    b: sendMessage(input: $b) {{ {MESSAGE_PAYLOAD} }}
                }}"
            ),
            json!({ "a": reply("See you soon"), "b": reply("We open at nine") }),
            None,
        )
        .await;

        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        assert_sent(&body["data"]["a"]);
        assert_sent(&body["data"]["b"]);
        assert_eq!(writes(&app).await, json!({ SEND: 5 }), "{profile}");
    }
}

#[tokio::test]
async fn nothing_is_written_to_a_customer_who_opted_out_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let opted_out = contact_phone(&app, true).await;
        let started = |phone: &str, key: Option<&str>| {
            json!({
                "inboxId": inbox_gid(3001),
                "phone": phone,
                "text": "Big sale!",
                "idempotencyKey": key,
            })
        };

        for key in [None, Some("sale-1"), Some("sale-1")] {
            let refused = send(&app, started(&opted_out, key)).await;
            assert_refused(&refused, "message", "RECIPIENT_OPTED_OUT", Some("phone"));
        }
        let id = inbound(&app, 3001, &opted_out).await;
        let refused = send(
            &app,
            json!({ "conversationId": conversation_gid(id), "text": "Big sale!" }),
        )
        .await;
        assert_refused(
            &refused,
            "message",
            "RECIPIENT_OPTED_OUT",
            Some("conversationId"),
        );
        assert_eq!(writes(&app).await, json!({}), "{profile}: nothing written");

        // A customer who opts out between two sends gets the first only, even though the
        // gateway looked them up (and may have cached them) for the first.
        let customer = contact_phone(&app, false).await;
        assert_sent(&send(&app, started(&customer, Some("before"))).await);
        opt_out(&app, &customer).await;

        let refused = send(&app, started(&customer, Some("after"))).await;

        assert_refused(&refused, "message", "RECIPIENT_OPTED_OUT", Some("phone"));
        assert_eq!(writes(&app).await, json!({ SEND: 1 }), "{profile}");
        // The key of a refused send is free: the same send is judged again.
        let again = send(&app, started(&customer, Some("after"))).await;
        assert_refused(&again, "message", "RECIPIENT_OPTED_OUT", Some("phone"));
        assert_eq!(writes(&app).await, json!({ SEND: 1 }), "{profile}");

        // Opted in again through the gateway, with one write, the customer gets the next.
        let body = run(
            &app,
            "query($phone: String!) { contactByPhone(phone: $phone) { id } }",
            json!({ "phone": customer }),
            None,
        )
        .await;
        let contact = body["data"]["contactByPhone"]["id"].clone();
        let (opted_in, body) = mutate(
            &app,
            "setContactOptOut",
            "SetContactOptOutInput",
            "contact { optedOut } userErrors { code }",
            json!({ "contactId": contact, "optedOut": false }),
            None,
        )
        .await;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        let expected = json!({ "contact": { "optedOut": false }, "userErrors": [] });
        assert_eq!(opted_in, expected, "{profile}");
        let status_writes = app.sandbox.calls("POST /v1/contact/set_status").await;
        assert_eq!(
            status_writes, 2,
            "{profile}: the test's opt-out and the opt-in"
        );
        assert_sent(&send(&app, started(&customer, Some("opted in"))).await);
        assert_eq!(writes(&app).await, json!({ SEND: 2 }), "{profile}");
    }
}

#[tokio::test]
async fn a_repeated_key_writes_once_under_every_profile() {
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let id = inbound(&app, 3001, "12125550404").await;
        let input = |key: &str| {
            json!({
                "conversationId": conversation_gid(id),
                "text": format!("sent once with {key}"),
                "idempotencyKey": key,
            })
        };

        let first = send(&app, input("one-by-one")).await;
        let again = send(&app, input("one-by-one")).await;

        assert_sent(&first);
        assert_eq!(again["message"], first["message"], "{profile}");
        assert_eq!(writes(&app).await, json!({ SEND: 1 }), "{profile}");

        app.sandbox.set_faults(json!({ "latency_ms": 50 })).await;
        let at_once = join_all((0..4).map(|_| send(&app, input("all-at-once")))).await;
        app.sandbox.set_faults(json!({})).await;

        for payload in &at_once {
            assert_sent(payload);
            assert_eq!(payload["message"], at_once[0]["message"], "{profile}");
        }
        assert_ne!(at_once[0]["message"], first["message"], "{profile}");
        assert_eq!(writes(&app).await, json!({ SEND: 2 }), "{profile}");
        assert_eq!(
            history(&app, "12125550404", 3001).await.len(),
            3,
            "{profile}: the customer's message and two replies"
        );
    }
}

#[tokio::test]
async fn emails_start_and_reply_with_one_write_each_under_every_profile() {
    const EMAIL_INBOX: i64 = 3005;
    const EMAIL: &str = "POST /v1/email/send";
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let member = inbox_members(&app, EMAIL_INBOX).await[0];
        let app = &app;
        let email = |input: Value| async move {
            let (payload, body) = mutate(
                app,
                "sendEmail",
                "SendEmailInput",
                MESSAGE_PAYLOAD,
                input,
                Some(member),
            )
            .await;
            assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
            assert_sent(&payload);
            payload
        };
        let start = json!({
            "inboxId": inbox_gid(EMAIL_INBOX),
            "to": ["ada@example.com", "grace@example.com"],
            "cc": ["billing@example.com"],
            "subject": "Your invoice",
            "html": "<p>Your invoice</p>",
            "text": "Your invoice",
            "idempotencyKey": "invoice-1",
        });
        let started = email(start.clone()).await;
        let again = email(start).await;
        assert_eq!(again["message"], started["message"], "{profile}");
        let thread = &started["conversation"];
        let replied =
            email(json!({ "conversationId": thread["id"], "text": "Paid, thanks" })).await;
        assert_eq!(replied["conversation"]["id"], thread["id"], "{profile}");
        assert_eq!(writes(app).await, json!({ EMAIL: 2 }), "{profile}");

        let target = thread["target"].as_str().expect("a target");
        let texts: Vec<Value> = history(app, target, EMAIL_INBOX)
            .await
            .iter()
            .map(|message| message["text"].clone())
            .collect();
        assert_eq!(
            texts,
            [json!("Paid, thanks"), json!("<p>Your invoice</p>")],
            "{profile}"
        );
        let id: i64 = thread["databaseId"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            app.sandbox.conversation(0, id).await["name"],
            "Your invoice",
            "{profile}"
        );
    }
}

/// Upstream writes to `/v1/schedule`, by route (routes without any left out).
async fn schedule_writes(app: &TestApp) -> Value {
    let mut counts = serde_json::Map::new();
    for route in [
        "POST /v1/schedule",
        "PUT /v1/schedule/{id}",
        "DELETE /v1/schedule/{id}",
    ] {
        let count = app.sandbox.calls(route).await;
        if count > 0 {
            counts.insert(route.to_owned(), json!(count));
        }
    }
    Value::Object(counts)
}

#[tokio::test]
async fn a_message_is_scheduled_rescheduled_and_cancelled_with_one_write_each() {
    let send_at = |hours: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::hours(hours))
            .duration_trunc(chrono::TimeDelta::hours(1))
            .expect("a representable instant")
            .to_rfc3339()
    };
    let scheduled = "scheduledMessage { id text sendAt state } userErrors { code }";
    for (profile, readings) in Readings::profiles() {
        let app = spawn_app_reading(*readings).await;
        let id = inbound(&app, 3001, "12125550405").await;
        let (created, body) = mutate(
            &app,
            "scheduleMessage",
            "ScheduleMessageInput",
            scheduled,
            json!({ "conversationId": conversation_gid(id), "sendAt": send_at(2), "text": "one" }),
            None,
        )
        .await;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        assert_eq!(created["scheduledMessage"]["text"], "one", "{profile}");
        let gid = created["scheduledMessage"]["id"].clone();

        let (updated, body) = mutate(
            &app,
            "updateScheduledMessage",
            "UpdateScheduledMessageInput",
            scheduled,
            json!({ "id": gid, "text": "two", "sendAt": send_at(3) }),
            None,
        )
        .await;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        assert_eq!(updated["scheduledMessage"]["text"], "two", "{profile}");
        assert_eq!(
            updated["scheduledMessage"]["state"], "SCHEDULED",
            "{profile}"
        );

        let (cancelled, body) = mutate(
            &app,
            "cancelScheduledMessage",
            "CancelScheduledMessageInput",
            "cancelledId userErrors { code }",
            json!({ "id": gid }),
            None,
        )
        .await;
        assert_eq!(body["errors"], Value::Null, "{profile}: {body}");
        assert_eq!(cancelled["cancelledId"], gid, "{profile}");
        assert_eq!(
            schedule_writes(&app).await,
            json!({ "POST /v1/schedule": 1, "PUT /v1/schedule/{id}": 1,
                    "DELETE /v1/schedule/{id}": 1 }),
            "{profile}"
        );
        let listed = run(
            &app,
            "query($id: ID!) { conversation(id: $id) { scheduledMessages { id } } }",
            json!({ "id": conversation_gid(id) }),
            None,
        )
        .await;
        assert_eq!(
            listed["data"]["conversation"]["scheduledMessages"],
            json!([]),
            "{profile}: {listed}"
        );
    }
}
