//! The sandbox's business rules: conversation state changes, their refusals, and their effects
//! as seen through the API afterwards.

use heymarket_sandbox::SandboxConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::sandbox_support::{parse_timestamp, roomy_config};

async fn one_team() -> TestSandbox {
    spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await
}

/// A conversation from the list of `inbox`, `skip` rows down from the newest.
async fn conversation_in(sandbox: &TestSandbox, inbox: i64, skip: usize) -> Value {
    let page = sandbox
        .conversation_page(0, json!({"id": 0, "filters": {"inboxes": [inbox]}}))
        .await;
    page[skip].clone()
}

async fn act(sandbox: &TestSandbox, action: &str, body: Value) -> (u16, Value) {
    sandbox
        .api_post(0, &format!("/v1/conversations/{action}"), body)
        .await
}

async fn inbox_members(sandbox: &TestSandbox, inbox: i64) -> Vec<Value> {
    let inboxes = sandbox.api_get(0, "/v1/inboxes").await.1;
    let found = inboxes
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == inbox)
        .unwrap();
    found["members"].as_array().unwrap().clone()
}

#[tokio::test]
async fn status_changes_bump_updated_and_move_the_conversation_to_the_top() {
    let sandbox = one_team().await;
    let before = conversation_in(&sandbox, 3001, 20).await;
    let (action, status) = if before["status"] == "open" {
        ("close", "closed")
    } else {
        ("open", "open")
    };
    let body = json!({"inbox_id": 3001, "user_id": 501, "chat_id": before["id"]});
    assert_eq!(
        act(&sandbox, action, body.clone()).await,
        (200, json!("ok"))
    );

    let after = sandbox
        .conversation(0, before["id"].as_i64().unwrap())
        .await;
    assert_eq!(after["status"], status);
    assert!(parse_timestamp(&after["updated"]) > parse_timestamp(&before["updated"]));
    let top = sandbox.conversation_page(0, json!({"id": 0})).await;
    assert_eq!(top[0]["id"], before["id"]);

    // Repeating it changes nothing, so nothing moves.
    let by_target = json!({"inbox_id": 3001, "user_id": 501, "target": before["target"]});
    assert_eq!(act(&sandbox, action, by_target).await, (200, json!("ok")));
    assert_eq!(
        sandbox
            .conversation(0, before["id"].as_i64().unwrap())
            .await["updated"],
        after["updated"]
    );
}

#[tokio::test]
async fn read_state_is_per_member_and_is_not_activity() {
    let sandbox = one_team().await;
    let conversation = conversation_in(&sandbox, 3001, 3).await;
    let id = conversation["id"].as_i64().unwrap();
    let body = json!({"inbox_id": 3001, "user_id": 501, "target": conversation["target"]});

    assert_eq!(
        act(&sandbox, "unread", body.clone()).await,
        (200, json!("Marked as Unread"))
    );
    let unread = sandbox
        .conversation_page(0, json!({"id": 501, "filters": {"unread": true}}))
        .await;
    let row = unread
        .iter()
        .find(|row| row["id"] == id)
        .expect("listed as unread for 501");
    assert_eq!((&row["unread"], &row["read"]), (&json!(true), &json!(0)));
    assert_eq!(row["updated"], conversation["updated"]);

    assert_eq!(
        act(&sandbox, "read", body).await,
        (200, json!("Marked as Read"))
    );
    let after = sandbox.conversation(0, id).await;
    assert!(
        !after["unread_users"]
            .as_array()
            .unwrap()
            .contains(&json!(501))
    );
    assert_eq!(after["updated"], conversation["updated"]);
}

#[tokio::test]
async fn reassigning_needs_a_member_of_the_inbox() {
    let sandbox = one_team().await;
    let conversation = conversation_in(&sandbox, 3003, 5).await;
    let id = conversation["id"].as_i64().unwrap();
    let members = inbox_members(&sandbox, 3003).await;
    let assignee = members
        .iter()
        .find(|&m| m != &conversation["assigned"])
        .unwrap()
        .clone();
    let outsider = (501..=512)
        .map(|m| json!(m))
        .find(|m| !members.contains(m))
        .unwrap();
    let body = |reassign_id: &Value| json!({"inbox_id": 3003, "user_id": 501, "target": conversation["target"], "reassign_id": reassign_id});

    let (status, refused) = act(&sandbox, "reassign", body(&outsider)).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("bad_data")));

    assert_eq!(
        act(&sandbox, "reassign", body(&assignee)).await,
        (200, json!("ok"))
    );
    let after = sandbox.conversation(0, id).await;
    assert_eq!(after["assigned"], assignee);
    assert!(
        after["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == assignee)
    );
    assert!(parse_timestamp(&after["updated"]) > parse_timestamp(&conversation["updated"]));

    assert_eq!(
        act(&sandbox, "reassign", body(&json!(-1))).await,
        (200, json!("ok"))
    );
    assert_eq!(sandbox.conversation(0, id).await["assigned"], 0);
}

#[tokio::test]
async fn transfers_move_sms_conversations_into_inboxes_without_that_customer() {
    let sandbox = one_team().await;
    let email = conversation_in(&sandbox, 3005, 0).await;
    assert_eq!(email["channel"], "email");
    let transfer =
        |id: &Value, inbox: i64| json!({"conversation_id": id, "transfer_inbox_id": inbox});

    for inbox in [3001, 3003] {
        let send = json!({"inbox_id": inbox, "creator_id": 501, "phone_number": "12125550190", "text": "Hi"});
        assert_eq!(sandbox.api_post(0, "/v1/message/send", send).await.0, 200);
    }
    let twin = sandbox
        .conversation_page(0, json!({"id": 0, "filters": {"inboxes": [3001]}}))
        .await[0]
        .clone();
    assert_eq!(twin["target"], "12125550190");

    let refusals = [
        (transfer(&email["id"], 3002), 400),
        (transfer(&twin["id"], 3003), 400),
        (transfer(&twin["id"], 3001), 400),
        (transfer(&twin["id"], 3005), 400),
        (transfer(&json!(9_999_999), 3002), 404),
        (transfer(&twin["id"], 9999), 404),
        (json!({"conversation_id": twin["id"]}), 400),
    ];
    for (body, status) in refusals {
        assert_eq!(
            act(&sandbox, "transfer", body.clone()).await.0,
            status,
            "{body}"
        );
    }

    assert_eq!(
        act(&sandbox, "transfer", transfer(&twin["id"], 3004)).await,
        (200, json!("ok"))
    );
    let moved = sandbox.conversation(0, twin["id"].as_i64().unwrap()).await;
    assert_eq!(moved["inbox"], 3004);
    assert_eq!(
        moved["unread_users"],
        json!(inbox_members(&sandbox, 3004).await)
    );
    assert!(parse_timestamp(&moved["updated"]) > parse_timestamp(&twin["updated"]));
    let (_, old_inbox) = sandbox
        .api_get(0, "/v1/messages?phoneNumber=12125550190&inboxID=3001")
        .await;
    assert_eq!(old_inbox, json!([]));
    let (_, new_inbox) = sandbox
        .api_get(0, "/v1/messages?phoneNumber=12125550190&inboxID=3004")
        .await;
    assert_eq!(new_inbox[0]["conversation"]["id"], twin["id"]);
}

#[tokio::test]
async fn conversation_actions_check_their_addressing() {
    let sandbox = one_team().await;
    let conversation = conversation_in(&sandbox, 3001, 0).await;
    let members = inbox_members(&sandbox, 3001).await;
    let outsider = (501..=512)
        .map(|m| json!(m))
        .find(|m| !members.contains(m))
        .unwrap();
    let cases = [
        (
            "close",
            json!({"user_id": 501, "chat_id": conversation["id"]}),
            400,
        ),
        ("close", json!({"inbox_id": 3001, "user_id": 501}), 400),
        (
            "close",
            json!({"inbox_id": 9, "user_id": 501, "chat_id": conversation["id"]}),
            404,
        ),
        (
            "close",
            json!({"inbox_id": 3001, "user_id": outsider, "chat_id": conversation["id"]}),
            403,
        ),
        (
            "close",
            json!({"inbox_id": 3002, "user_id": 501, "chat_id": conversation["id"]}),
            404,
        ),
        (
            "read",
            json!({"inbox_id": 3001, "user_id": 501, "target": "19995550000"}),
            404,
        ),
        (
            "read",
            json!({"inbox_id": 3001, "user_id": 501, "targets": ["12125550101", "12125550102"]}),
            400,
        ),
        (
            "reassign",
            json!({"inbox_id": 3001, "user_id": 501, "target": conversation["target"]}),
            400,
        ),
    ];
    for (action, body, status) in cases {
        let (got, answer) = act(&sandbox, action, body.clone()).await;
        assert_eq!(got, status, "{action} {body}: {answer}");
        assert!(answer["error"].is_string());
    }
}

#[tokio::test]
async fn opted_out_contacts_cannot_be_messaged() {
    let sandbox = one_team().await;
    let mut opted_out = None;
    for id in 100_001..102_501 {
        let (_, contact) = sandbox.api_get(0, &format!("/v1/contact/{id}")).await;
        if contact["is_opted_out"] == true {
            opted_out = Some(contact);
            break;
        }
    }
    let contact = opted_out.expect("the seed has opted-out contacts");
    let send = json!({"inbox_id": 3001, "creator_id": 501, "phone_number": contact["phone"], "text": "Sale!"});
    let (status, answer) = sandbox.api_post(0, "/v1/message/send", send).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("unsubscribed_number"))
    );
}

#[tokio::test]
async fn a_customer_message_reopens_a_closed_conversation() {
    let sandbox = one_team().await;
    let page = sandbox
        .conversation_page(
            0,
            json!({"id": 0, "filters": {"inboxes": [3002], "closed": true}}),
        )
        .await;
    let closed = &page[0];
    let inbound = json!({"inbox_id": 3002, "phone": closed["target"], "text": "Are you there?"});
    let (status, message) = sandbox
        .control(Method::POST, "/_sandbox/inbound", Some(inbound))
        .await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(
        (&message["user"], &message["status"]),
        (&json!(0), &json!("received"))
    );

    let after = sandbox
        .conversation(0, closed["id"].as_i64().unwrap())
        .await;
    assert_eq!(
        (&after["status"], &after["updated"]),
        (&json!("open"), &message["date"])
    );
    assert_eq!(
        after["last_inbound"],
        parse_timestamp(&message["date"]).timestamp()
    );
    assert_eq!(
        after["unread_users"],
        json!(inbox_members(&sandbox, 3002).await)
    );
    assert_eq!(
        (&after["unread"], &after["last_msg"]),
        (&json!(true), &json!("Are you there?"))
    );

    let fresh = json!({"inbox_id": 3002, "phone": "+1 212 555 0189", "text": "New here"});
    let (_, first) = sandbox
        .control(Method::POST, "/_sandbox/inbound", Some(fresh))
        .await;
    assert_eq!(
        (&first["conversation"]["creator"], &first["target"]),
        (&json!(0), &json!("12125550189"))
    );
}
