//! The sandbox's seeded data: determinism, and the directory and contact endpoints' shapes.

use heymarket_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::sandbox_support::{keys, roomy_config};

async fn snapshot(sandbox: &TestSandbox) -> (Value, Vec<Value>) {
    let inboxes = sandbox.api_get(0, "/v1/inboxes").await.1;
    (
        inboxes,
        sandbox.conversation_page(0, json!({"id": 0})).await,
    )
}

#[tokio::test]
async fn the_same_seed_serves_the_same_data_and_another_seed_does_not() {
    let config = |seed| SandboxConfig {
        seed,
        teams: 1,
        ..roomy_config()
    };
    let (one, twin, other) = tokio::join!(
        spawn_sandbox(config(7)),
        spawn_sandbox(config(7)),
        spawn_sandbox(config(8))
    );
    let (inboxes, page) = snapshot(&one).await;
    assert_eq!((inboxes.clone(), page.clone()), snapshot(&twin).await);
    let (other_inboxes, other_page) = snapshot(&other).await;
    assert_ne!(inboxes, other_inboxes);
    assert_ne!(page, other_page);
}

#[tokio::test]
async fn inboxes_and_the_team_have_every_documented_field() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let (status, inboxes) = sandbox.api_get(0, "/v1/inboxes").await;
    assert_eq!(status, 200);
    let inboxes = inboxes.as_array().expect("a top-level array");
    assert_eq!(inboxes.len(), 5);
    let documented = [
        "allowed_domains",
        "auto_assignable",
        "bco_chats",
        "forward_number",
        "id",
        "invited",
        "members",
        "name",
        "op",
        "phone",
        "phones",
        "rev",
        "team",
        "widget_code",
        "widget_settings",
    ];
    for inbox in inboxes {
        assert_eq!(keys(inbox), documented);
        assert_eq!(inbox["team"], 101);
        assert!(inbox["members"].as_array().unwrap().contains(&json!(501)));
    }
    assert_eq!(inboxes.iter().filter(|i| i["phone"] == "").count(), 1);

    let (_, team) = sandbox.api_get(0, "/v1/team").await;
    assert_eq!(keys(&team), ["id", "list_size", "members", "name"]);
    let members = team["members"].as_array().unwrap();
    assert_eq!(members.len(), 12);
    assert_eq!(
        (&members[0]["id"], &members[0]["role"]),
        (&json!(501), &json!("admin"))
    );
    assert!(members[1..].iter().all(|m| m["role"] == "member"));
}

#[tokio::test]
async fn added_members_each_join_one_sms_inbox_and_can_list_it() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        members: 40,
        ..roomy_config()
    })
    .await;
    let (_, team) = sandbox.api_get(0, "/v1/team").await;
    let members = team["members"].as_array().unwrap();
    assert_eq!(members.len(), 40);
    let (_, inboxes) = sandbox.api_get(0, "/v1/inboxes").await;
    let inboxes = inboxes.as_array().unwrap();
    for member in &members[12..] {
        let joined: Vec<&Value> = inboxes
            .iter()
            .filter(|inbox| inbox["members"].as_array().unwrap().contains(&member["id"]))
            .collect();
        assert_eq!(joined.len(), 1, "{member} is in one inbox");
        assert_ne!(joined[0]["phone"], "", "{member}'s inbox is an SMS inbox");
        let body = json!({ "id": member["id"], "filters": { "inboxes": [joined[0]["id"]] } });
        assert_eq!(sandbox.conversation_page(0, body).await.len(), 30);
    }
}

#[tokio::test]
async fn conversations_carry_every_documented_field() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let conversation = sandbox.conversation(0, 2_000_001).await;
    let documented = [
        "assigned",
        "blocked",
        "channel",
        "created",
        "creator",
        "email_noti",
        "id",
        "inbox",
        "last_inbound",
        "last_msg",
        "local_id",
        "members",
        "muted",
        "name",
        "noreply",
        "op",
        "read",
        "replied",
        "snooze_till",
        "status",
        "super",
        "support",
        "target",
        "type",
        "unread",
        "unread_users",
        "updated",
    ];
    assert_eq!(keys(&conversation), documented);
    let (status, missing) = sandbox.api_get(0, "/v1/conversations/9999999").await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn contacts_are_found_by_id_phone_and_channel_search() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let (status, contact) = sandbox.api_get(0, "/v1/contact/100002").await;
    assert_eq!(status, 200);
    let documented = [
        "assigned_user_id",
        "blocked",
        "created",
        "creator_id",
        "custom",
        "display_name",
        "email",
        "first",
        "id",
        "is_opted_out",
        "last",
        "op",
        "phone",
        "rev",
        "shared",
        "tags",
        "team_id",
        "updated",
        "uuid",
    ];
    assert_eq!(keys(&contact), documented);
    assert_eq!(sandbox.api_get(0, "/v1/contact/1").await.0, 404);

    let by_phone = json!({"phone": contact["phone"], "id": "100009"});
    assert_eq!(
        sandbox.api_post(0, "/v1/contact/get", by_phone).await.1,
        contact
    );
    let by_id = json!({"id": "100002"});
    assert_eq!(
        sandbox.api_post(0, "/v1/contact/get", by_id).await.1,
        contact
    );
    assert_eq!(
        sandbox
            .api_post(0, "/v1/contact/get", json!({"phone": "19995550000"}))
            .await
            .0,
        404
    );

    let mut with_email = None;
    for id in 100_001..100_100 {
        let (_, candidate) = sandbox.api_get(0, &format!("/v1/contact/{id}")).await;
        if candidate["email"] != "" && candidate["id"] != contact["id"] {
            with_email = Some(candidate);
            break;
        }
    }
    let with_email = with_email.expect("some contacts have an email");
    let search = json!({"contact_channels": [
        {"channel_ids": [contact["phone"], with_email["email"], "19995550000"]},
        {"channel_type": "phone", "channel_ids": [contact["phone"]]},
    ]});
    let (status, found) = sandbox.api_post(0, "/v2/contacts/search", search).await;
    assert_eq!(status, 200, "{found}");
    let found = found.as_array().expect("a top-level array");
    let ids: Vec<&Value> = found.iter().map(|c| &c["id"]).collect();
    assert_eq!(ids, [&contact["id"], &with_email["id"]]);
    let channels = &found[1]["contact_channels"];
    assert!(
        channels
            .as_array()
            .unwrap()
            .contains(&json!({"channel_type": "email", "channel_id": with_email["email"]}))
    );

    let too_many: Vec<String> = (0..101).map(|i| format!("1999555{i:04}")).collect();
    let (status, refused) = sandbox
        .api_post(
            0,
            "/v2/contacts/search",
            json!({"contact_channels": [{"channel_ids": too_many}]}),
        )
        .await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("bad_data")));
}

#[tokio::test]
async fn a_contact_is_unsubscribed_and_subscribed_again_by_phone_or_id() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let (_, contact) = sandbox.api_get(0, "/v1/contact/100003").await;
    assert_eq!(contact["is_opted_out"], false, "{contact}");
    let set = |body: Value| sandbox.api_post(0, "/v1/contact/set_status", body);

    let by_phone = json!({ "phone": contact["phone"], "status": "unsubscribed" });
    assert_eq!(set(by_phone).await, (200, json!("success")));
    let (_, unsubscribed) = sandbox.api_get(0, "/v1/contact/100003").await;
    assert_eq!(unsubscribed["is_opted_out"], true);
    assert_ne!(unsubscribed["updated"], contact["updated"]);

    let by_id = json!({ "id": "100003", "status": "subscribed" });
    assert_eq!(set(by_id).await, (200, json!("success")));
    let (_, subscribed) = sandbox.api_get(0, "/v1/contact/100003").await;
    assert_eq!(subscribed["is_opted_out"], false);

    let (status, refused) = set(json!({ "id": "100003", "status": "gone" })).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("bad_data")));
    let (status, _) = set(json!({ "phone": "19995550000", "status": "active" })).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_team_overview_lists_credentials_and_counts() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    for (n, credentials) in sandbox.teams.iter().enumerate() {
        let overview = sandbox.overview(n).await;
        assert_eq!(overview["team_id"], credentials.team_id);
        assert_eq!(overview["api_key"], credentials.api_key);
        assert_eq!(
            overview["secret_id"],
            format!("sandbox-secret-id-{}", n + 1)
        );
        let counts = &overview["counts"];
        assert_eq!(
            (&counts["inboxes"], &counts["members"]),
            (&json!(5), &json!(12))
        );
        assert!(counts["contacts"].as_u64().unwrap() >= 2400);
        assert!(counts["conversations"].as_u64().unwrap() >= 6000);
        assert!(counts["messages"].as_u64().unwrap() >= 36_000);
        assert!(overview["long_conversations"].as_array().unwrap().len() >= 10);
    }
}
