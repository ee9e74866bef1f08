//! The read schema: links between types, global ids through `node`/`nodes`, the acting member,
//! and how failures surface as coded errors next to partial data.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use heymarket_gateway::config::UpstreamAuth;
use heymarket_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, global, spawn_app, spawn_app_with};
use crate::sandbox_support::{roomy_config, walk_conversations};

async fn one_team_app() -> TestApp {
    spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |_| {},
    )
    .await
}

#[tokio::test]
async fn every_link_resolves_and_agrees_with_its_ends() {
    let app = one_team_app().await;
    let body = app
        .graphql(
            r#"{ conversations(first: 30, filter: {status: OPEN}) { nodes {
                id databaseId target status channel unread updatedAt
                inbox { id databaseId members { databaseId } }
                contact { phone email displayName }
                assignee { databaseId }
                members { databaseId name }
                lastMessage { id sentAt direction author { databaseId } conversation { id } }
                messages(first: 3) { nodes { id sentAt conversation { id } } }
            } } }"#,
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");

    let conversations = body["data"]["conversations"]["nodes"]
        .as_array()
        .expect("nodes");
    assert_eq!(conversations.len(), 30);
    let mut with_contact = 0;
    for conversation in conversations {
        assert_eq!(conversation["status"], "OPEN");
        let inbox_members: Vec<&Value> = conversation["inbox"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["databaseId"])
            .collect();
        if !conversation["assignee"].is_null() {
            assert!(
                inbox_members.contains(&&conversation["assignee"]["databaseId"]),
                "assignee outside the inbox: {conversation}"
            );
        }
        if !conversation["contact"].is_null() {
            with_contact += 1;
            // A text conversation's contact by phone, an email thread's by address.
            let address = match conversation["channel"].as_str() {
                Some("EMAIL") => &conversation["contact"]["email"],
                _ => &conversation["contact"]["phone"],
            };
            assert_eq!(address, &conversation["target"], "{conversation}");
        }
        let last = &conversation["lastMessage"];
        assert_eq!(last["conversation"]["id"], conversation["id"]);
        assert_eq!(
            last["sentAt"], conversation["updatedAt"],
            "the last message made the last activity"
        );
        assert_eq!(
            last["direction"] == "INBOUND",
            last["author"].is_null(),
            "{last}"
        );
        let messages = conversation["messages"]["nodes"].as_array().unwrap();
        assert_eq!(
            messages[0]["id"], last["id"],
            "lastMessage is the newest of messages"
        );
        assert!(
            messages
                .iter()
                .all(|m| m["conversation"]["id"] == conversation["id"])
        );
        assert!(
            messages
                .windows(2)
                .all(|pair| pair[0]["sentAt"].as_str() >= pair[1]["sentAt"].as_str())
        );
    }
    assert!(
        with_contact > 20,
        "most seeded conversations have a contact"
    );
}

#[tokio::test]
async fn a_contact_lists_its_conversations_in_every_inbox() {
    let app = one_team_app().await;
    let all = walk_conversations(&app.sandbox, json!({"id": 0}), true).await;
    let mut by_target: std::collections::HashMap<&str, Vec<i64>> = Default::default();
    for row in &all {
        by_target
            .entry(row["target"].as_str().unwrap())
            .or_default()
            .push(row["id"].as_i64().unwrap());
    }
    let (phone, expected) = by_target
        .iter()
        .filter(|(target, _)| !target.contains('@'))
        .max_by_key(|(_, ids)| ids.len())
        .unwrap();
    assert!(expected.len() >= 2, "a contact in several inboxes");

    let pretty = format!(
        "+{} ({}) {}-{}",
        &phone[..1],
        &phone[1..4],
        &phone[4..7],
        &phone[7..]
    );
    let body = app
        .graphql_with(
            "query($phone: String!) { contactByPhone(phone: $phone) { phone email conversations { totalCount nodes { databaseId target updatedAt } } } }",
            json!({"phone": pretty}),
            &[],
        )
        .await
        .1;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let contact = &body["data"]["contactByPhone"];
    assert_eq!(contact["phone"], *phone);
    let listed: Vec<i64> = contact["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["databaseId"].as_str().unwrap().parse().unwrap())
        .collect();
    // Its email threads too, found by its address in the email inbox.
    let threads = contact["email"]
        .as_str()
        .and_then(|email| by_target.get(email))
        .into_iter()
        .flatten();
    assert_eq!(
        listed.iter().collect::<BTreeSet<_>>(),
        expected.iter().chain(threads).collect::<BTreeSet<_>>()
    );
    assert_eq!(contact["conversations"]["totalCount"], listed.len());
    let updated: Vec<&str> = contact["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["updatedAt"].as_str().unwrap())
        .collect();
    assert!(
        updated.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first"
    );

    // Paged one at a time: the same conversations in the same order.
    let query = "query($phone: String!, $after: String) { contactByPhone(phone: $phone) { \
        conversations(first: 1, after: $after) { nodes { databaseId } \
        pageInfo { hasNextPage endCursor } } } }";
    let (mut paged, mut after) = (Vec::new(), Value::Null);
    loop {
        let variables = json!({ "phone": pretty, "after": after });
        let body = app.graphql_with(query, variables, &[]).await.1;
        let connection = &body["data"]["contactByPhone"]["conversations"];
        let nodes = connection["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("no nodes in {body}"));
        paged.extend(nodes.iter().map(|node| {
            node["databaseId"]
                .as_str()
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap_or_else(|| panic!("no id in {node}"))
        }));
        assert!(paged.len() <= listed.len(), "{body}");
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(paged, listed);
}

#[tokio::test]
async fn contact_by_phone_checks_its_input() {
    let app = one_team_app().await;
    let unknown = app
        .graphql(r#"{ contactByPhone(phone: "+1 212 555 0000") { id } }"#)
        .await;
    assert_eq!(unknown["data"], json!({"contactByPhone": null}));
    assert_eq!(
        unknown["errors"],
        Value::Null,
        "no contact is an answer, not an error"
    );
    let bad = app
        .graphql(r#"{ contactByPhone(phone: "555-01") { id } }"#)
        .await;
    assert_eq!(error_codes(&bad), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn every_type_is_reachable_through_node() {
    let app = one_team_app().await;
    let body = app
        .graphql(
            r#"{ viewer { id } inboxes { id } conversations(first: 5) { nodes { id contact { id } lastMessage { id } } } }"#,
        )
        .await;
    assert_eq!(body["errors"], Value::Null, "{body}");
    let data = &body["data"];
    let conversation = data["conversations"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !c["contact"].is_null())
        .unwrap();
    let ids = [
        ("Member", &data["viewer"]["id"]),
        ("Inbox", &data["inboxes"][0]["id"]),
        ("Conversation", &conversation["id"]),
        ("Contact", &conversation["contact"]["id"]),
        ("Message", &conversation["lastMessage"]["id"]),
    ];

    for (typename, id) in ids {
        let answer = app
            .graphql_with(
                "query($id: ID!) { node(id: $id) { __typename id } }",
                json!({"id": id}),
                &[],
            )
            .await
            .1;
        assert_eq!(
            answer["data"]["node"],
            json!({"__typename": typename, "id": id}),
            "{answer}"
        );
    }

    let all: Vec<&Value> = ids.iter().map(|(_, id)| *id).collect();
    let answer = app
        .graphql_with(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({"ids": all}),
            &[],
        )
        .await
        .1;
    let returned: Vec<&Value> = answer["data"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["id"])
        .collect();
    assert_eq!(returned, all, "same order");
}

#[tokio::test]
async fn nodes_reports_each_bad_id_at_its_position() {
    let app = one_team_app().await;
    let viewer = app.graphql("{ viewer { id } }").await["data"]["viewer"]["id"].clone();
    let ids = json!([
        viewer,
        "not-an-id",
        global("Conversation:1"),
        global("Message:1:2000001:0"),
        viewer
    ]);

    let answer = app
        .graphql_with(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({"ids": ids}),
            &[],
        )
        .await
        .1;

    assert_eq!(
        answer["data"]["nodes"],
        json!([{"id": viewer}, null, null, null, {"id": viewer}])
    );
    let errors: HashSet<(String, String)> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].to_string(),
                e["extensions"]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: HashSet<(String, String)> = [
        (r#"["nodes",1]"#, "BAD_USER_INPUT"),
        (r#"["nodes",2]"#, "NOT_FOUND"),
        (r#"["nodes",3]"#, "NOT_FOUND"),
    ]
    .into_iter()
    .map(|(path, code)| (path.to_owned(), code.to_owned()))
    .collect();
    assert_eq!(errors, expected, "{answer}");
}

#[tokio::test]
async fn by_id_lookups_check_the_type_and_report_unknown_ids() {
    let app = one_team_app().await;
    let body = app
        .graphql(&format!(
            r#"{{ inboxes {{ name }}
                wrongType: conversation(id: "{}") {{ id }}
                unknown: conversation(id: "{}") {{ id }}
                malformed: contact(id: "???") {{ id }}
                missingContact: contact(id: "{}") {{ id }} }}"#,
            global("Inbox:3001"),
            global("Conversation:1"),
            global("Contact:1"),
        ))
        .await;

    assert!(
        body["data"]["inboxes"]
            .as_array()
            .is_some_and(|inboxes| inboxes.len() >= 4),
        "one failed field never blanks the rest"
    );
    for field in ["wrongType", "unknown", "malformed", "missingContact"] {
        assert_eq!(body["data"][field], Value::Null);
    }
    let by_field: std::collections::HashMap<String, String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"][0].as_str().unwrap().to_owned(),
                e["extensions"]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(by_field["wrongType"], "BAD_USER_INPUT");
    assert_eq!(by_field["unknown"], "NOT_FOUND");
    assert_eq!(by_field["malformed"], "BAD_USER_INPUT");
    assert_eq!(by_field["missingContact"], "NOT_FOUND");
}

#[tokio::test]
async fn unread_is_the_acting_members_own() {
    let app = one_team_app().await;
    // Member 504 works in fewer inboxes than the admin; their unread lists differ.
    for member in ["501", "504"] {
        for unread in [true, false] {
            let (_, body) = app
                .graphql_with(
                    "query($unread: Boolean) { conversations(first: 50, filter: {unread: $unread}) { nodes { unread inbox { members { databaseId } } } } }",
                    json!({"unread": unread}),
                    &[("X-Member-Id", member)],
                )
                .await;
            assert_eq!(body["errors"], Value::Null, "{body}");
            let nodes = body["data"]["conversations"]["nodes"].as_array().unwrap();
            assert!(!nodes.is_empty(), "member {member} unread {unread}");
            for node in nodes {
                assert_eq!(node["unread"], unread, "member {member}");
                assert!(
                    node["inbox"]["members"]
                        .as_array()
                        .unwrap()
                        .contains(&json!({"databaseId": member})),
                    "only the member's inboxes"
                );
            }
        }
    }
}

#[tokio::test]
async fn listing_an_inbox_the_member_cannot_see_is_forbidden() {
    let app = one_team_app().await;
    let inboxes = app
        .graphql("{ inboxes { id members { databaseId } } }")
        .await;
    let members: Vec<Value> = app.graphql("{ members { databaseId } }").await["data"]["members"]
        .as_array()
        .unwrap()
        .clone();
    let (inbox, outsider) = inboxes["data"]["inboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|inbox| {
            let inside = inbox["members"].as_array().unwrap();
            let outsider = members.iter().find(|member| !inside.contains(member))?;
            Some((
                inbox["id"].clone(),
                outsider["databaseId"].as_str().unwrap().to_owned(),
            ))
        })
        .expect("an inbox without some member");

    let (_, body) = app
        .graphql_with(
            "query($inbox: ID!) { conversations(filter: {inboxIds: [$inbox]}) { nodes { id } } }",
            json!({"inbox": inbox}),
            &[("X-Member-Id", &outsider)],
        )
        .await;

    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("has no access to inbox"),
        "{body}"
    );
}

#[tokio::test]
async fn upstream_failures_become_codes_without_details() {
    let app = spawn_app().await;
    app.sandbox.set_faults(json!({"error_rate": 1.0})).await;
    let body = app.graphql("{ inboxes { name } }").await;
    assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
    assert!(
        !body.to_string().contains("500"),
        "no upstream status in {body}"
    );

    app.sandbox
        .set_faults(json!({"rate_limit_rate": 1.0}))
        .await;
    let body = app.graphql("{ inboxes { name } }").await;
    assert_eq!(error_codes(&body), ["RATE_LIMITED"], "{body}");
    assert!(
        body["errors"][0]["extensions"]["retryAfterMs"]
            .as_u64()
            .is_some_and(|ms| ms > 0),
        "{body}"
    );
}

#[tokio::test]
async fn slow_upstreams_time_out_with_their_own_code() {
    let app = spawn_app_with(roomy_config(), |config| {
        config.upstream.timeout = Duration::from_millis(100);
        config.upstream.max_retries = 0;
    })
    .await;
    app.sandbox.set_faults(json!({"latency_ms": 1_000})).await;
    let body = app.graphql("{ members { name } }").await;
    assert_eq!(error_codes(&body), ["UPSTREAM_TIMEOUT"], "{body}");
}

#[tokio::test]
async fn rejected_credentials_are_unauthenticated_and_never_echoed() {
    let secret = "definitely-not-the-secret-key";
    let app = spawn_app_with(roomy_config(), |config| {
        if let UpstreamAuth::Secret { id, .. } = &config.upstream.auth {
            config.upstream.auth = UpstreamAuth::Secret {
                id: id.clone(),
                key: secret.to_owned().into(),
            };
        }
    })
    .await;

    let body = app.graphql("{ inboxes { name } }").await;

    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
    let text = body.to_string();
    assert!(
        !text.contains(secret) && !text.contains("sandbox-secret-id"),
        "{text}"
    );
}
