//! Message history, team-wide listing and sending against the sandbox.

use chrono::{DateTime, Utc};
use heymarket_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::sandbox_support::{keys, parse_timestamp, roomy_config};

type Key = (DateTime<Utc>, i64);

fn key(message: &Value) -> Key {
    (
        parse_timestamp(&message["date"]),
        message["id"].as_i64().expect("an integer id"),
    )
}

/// Whether `value` is written like `2026-04-12T15:30:00.123456Z`.
fn is_api_timestamp(value: &Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    text.len() == 27
        && text.ends_with('Z')
        && text.as_bytes()[19] == b'.'
        && DateTime::parse_from_rfc3339(text).is_ok()
}

async fn history(
    sandbox: &TestSandbox,
    inbox: &Value,
    phone: &Value,
    timestamp: Option<i64>,
) -> Vec<Value> {
    let mut path = format!(
        "/v1/messages?phoneNumber={}&inboxID={inbox}",
        phone.as_str().unwrap()
    );
    if let Some(timestamp) = timestamp {
        path.push_str(&format!("&timestamp={timestamp}"));
    }
    let (status, messages) = sandbox.api_get(0, &path).await;
    assert_eq!(status, 200, "{messages}");
    messages.as_array().expect("a top-level array").clone()
}

#[tokio::test]
async fn history_is_newest_first_with_an_exclusive_timestamp_in_seconds() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let long = sandbox.overview(0).await["long_conversations"][0].clone();
    let (inbox, phone) = (&long["inbox"], &long["target"]);

    let newest = history(&sandbox, inbox, phone, None).await;
    assert_eq!(newest.len(), 50);
    assert!(
        newest
            .iter()
            .all(|m| m["conversation"]["id"] == long["id"] && &m["target"] == phone)
    );
    assert!(
        newest
            .iter()
            .all(|m| is_api_timestamp(&m["date"]) && m["updated"] == m["date"])
    );

    // Walk it all, tie-safe: ask below the next second and drop what was seen.
    let mut all: Vec<Value> = Vec::new();
    loop {
        let below = all
            .last()
            .map(|m| parse_timestamp(&m["date"]).timestamp() + 1);
        let page = history(&sandbox, inbox, phone, below).await;
        let cursor = all.last().map(key);
        let fresh: Vec<Value> = page
            .into_iter()
            .filter(|m| cursor.is_none_or(|c| key(m) < c))
            .collect();
        if fresh.is_empty() {
            break;
        }
        all.extend(fresh);
    }
    assert_eq!(all.len() as u64, long["messages"].as_u64().unwrap());
    let order: Vec<Key> = all.iter().map(key).collect();
    assert!(
        order.windows(2).all(|pair| pair[0] > pair[1]),
        "not newest first"
    );
    let same_second = order
        .windows(2)
        .filter(|pair| pair[0].0.timestamp() == pair[1].0.timestamp())
        .count();
    assert!(same_second > 0, "no same-second ties");

    let cut = order[60].0.timestamp();
    let below_cut = history(&sandbox, inbox, phone, Some(cut)).await;
    let expected: Vec<&Value> = all
        .iter()
        .filter(|m| key(m).0.timestamp() < cut)
        .take(50)
        .collect();
    assert_eq!(below_cut.iter().collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn history_needs_a_phone_and_a_known_inbox() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let cases = [
        ("/v1/messages?inboxID=3001", 400, "bad_data"),
        ("/v1/messages?phoneNumber=12125550000", 400, "bad_data"),
        (
            "/v1/messages?phoneNumber=12125550000&inboxID=9",
            404,
            "not_found",
        ),
        (
            "/v1/messages?phoneNumber=12125550000&inboxID=3001&timestamp=soon",
            400,
            "bad_data",
        ),
    ];
    for (path, status, code) in cases {
        let (got, body) = sandbox.api_get(0, path).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{path}"
        );
    }
    assert!(
        history(&sandbox, &json!(3001), &json!("19995550000"), None)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn messages_all_pages_the_whole_team_in_both_directions() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let all = |body: Value| async { sandbox.api_post(0, "/v1/messages/all", body).await };

    let (status, newest) = all(json!({})).await;
    assert_eq!(status, 200);
    let newest = newest.as_array().unwrap().clone();
    assert_eq!(newest.len(), 30);
    assert!(newest.windows(2).all(|pair| key(&pair[0]) > key(&pair[1])));

    let cursor = newest[9]["date"].clone();
    let (_, older) = all(json!({"created_at": cursor, "limit": 5})).await;
    let older = older.as_array().unwrap();
    assert_eq!(older.len(), 5);
    assert!(
        older
            .iter()
            .all(|m| parse_timestamp(&m["date"]) < parse_timestamp(&cursor))
    );
    let (_, by_date) = all(json!({"date": cursor, "limit": 5})).await;
    assert_eq!(&by_date, &json!(older));

    let (_, later) = all(json!({"created_at": cursor, "ascending": true, "limit": 500})).await;
    let later = later.as_array().unwrap();
    assert!(later.windows(2).all(|pair| key(&pair[0]) < key(&pair[1])));
    assert!(
        later
            .iter()
            .all(|m| parse_timestamp(&m["date"]) > parse_timestamp(&cursor))
    );
    assert!(
        later.len() <= 9,
        "only the messages newer than the tenth newest"
    );

    let (_, oldest) = all(json!({"ascending": true, "limit": 5_000})).await;
    assert_eq!(
        oldest.as_array().unwrap().len(),
        1000,
        "clamped to the largest page"
    );
    let (_, one) = all(json!({"limit": 0})).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    let (status, _) = all(json!({"order": "rank"})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_send_starts_a_conversation_and_answers_only_id_and_date() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let send = json!({"inbox_id": 3001, "creator_id": 501, "phone_number": "(212) 555-0199", "text": "Hello!"});
    let (status, answer) = sandbox.api_post(0, "/v1/message/send", send).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(keys(&answer), ["date", "id"]);
    assert!(is_api_timestamp(&answer["date"]));

    let messages = history(&sandbox, &json!(3001), &json!("12125550199"), None).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(
        (&message["id"], &message["date"]),
        (&answer["id"], &answer["date"])
    );
    assert_eq!(
        (&message["user"], &message["status"], &message["type"]),
        (&json!(501), &json!("sent"), &json!("sms"))
    );
    let conversation = &message["conversation"];
    assert_eq!(
        (&conversation["status"], &conversation["creator"]),
        (&json!("open"), &json!(501))
    );
    assert_eq!(
        (&conversation["replied"], &conversation["updated"]),
        (&json!(true), &answer["date"])
    );
    assert_eq!(conversation["members"][0]["id"], 501);

    let media = json!({"inbox_id": 3001, "creator_id": 501, "chat_id": conversation["id"], "media_url": "https://example.com/a.png"});
    let (status, answer) = sandbox.api_post(0, "/v1/message/send", media).await;
    assert_eq!(
        (status, &answer["gallery_url"]),
        (200, &json!("https://example.com/a.png"))
    );
    let messages = history(&sandbox, &json!(3001), &json!("12125550199"), None).await;
    assert_eq!(
        (&messages[0]["type"], &messages[0]["id"]),
        (&json!("mms"), &answer["id"])
    );
}

#[tokio::test]
async fn a_repeated_local_id_answers_the_original_send_without_a_new_message() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let send = |text: &str| json!({"inbox_id": 3001, "creator_id": 501, "phone_number": "12125550198", "text": text, "local_id": "order-7"});
    let (_, first) = sandbox.api_post(0, "/v1/message/send", send("first")).await;
    let (status, again) = sandbox
        .api_post(0, "/v1/message/send", send("second"))
        .await;
    assert_eq!((status, &again), (200, &first));
    let messages = history(&sandbox, &json!(3001), &json!("12125550198"), None).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        (&messages[0]["text"], &messages[0]["local_id"]),
        (&json!("first"), &json!("order-7"))
    );
}

#[tokio::test]
async fn the_first_reply_in_an_auto_assignable_inbox_takes_the_conversation() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let inboxes = sandbox.api_get(0, "/v1/inboxes").await.1;
    for inbox in inboxes
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["phone"].as_str().unwrap().is_empty())
    {
        let member = inbox["members"].as_array().unwrap().last().unwrap().clone();
        let send = json!({"inbox_id": inbox["id"], "creator_id": member, "phone_number": "12125550197", "text": "Hi"});
        let (status, answer) = sandbox.api_post(0, "/v1/message/send", send).await;
        assert_eq!(status, 200, "{answer}");
        let message = &history(&sandbox, &inbox["id"], &json!("12125550197"), None).await[0];
        let expected = if inbox["auto_assignable"] == true {
            member
        } else {
            json!(0)
        };
        assert_eq!(
            message["conversation"]["assigned"], expected,
            "inbox {}",
            inbox["id"]
        );
    }
}

#[tokio::test]
async fn sends_are_validated() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let page = sandbox
        .conversation_page(0, json!({"id": 0, "filters": {"inboxes": [3002]}}))
        .await;
    let other_inbox_chat = &page[0]["id"];
    let inboxes = sandbox.api_get(0, "/v1/inboxes").await.1;
    let members_of_3001 = inboxes[0]["members"].as_array().unwrap();
    let outsider = (501..=512)
        .find(|m| !members_of_3001.contains(&json!(m)))
        .unwrap();
    let base =
        json!({"inbox_id": 3001, "creator_id": 501, "phone_number": "12125550196", "text": "Hi"});
    let with = |patch: Value| {
        let mut body = base.clone();
        for (field, value) in patch.as_object().unwrap() {
            body[field] = value.clone();
        }
        body
    };
    let cases = [
        with(json!({"inbox_id": null})),
        with(json!({"creator_id": null})),
        with(json!({"chat_id": 2_000_001})),
        with(json!({"phone_number": null})),
        with(json!({"text": null})),
        with(json!({"text": "  "})),
        with(json!({"phone_number": "555-0100"})),
        with(json!({"phone_number": null, "chat_id": other_inbox_chat})),
        with(json!({"inbox_id": 3005})),
        with(json!({"list_id": 4, "local_id": "broadcast-1"})),
        with(json!({"template_id": 9})),
        with(json!({"private": true})),
        with(json!({"creator_id": outsider})),
    ];
    for body in cases {
        let (status, answer) = sandbox.api_post(0, "/v1/message/send", body.clone()).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("bad_data")),
            "{body}"
        );
    }
    let (status, _) = sandbox
        .api_post(
            0,
            "/v1/message/send",
            with(json!({"phone_number": null, "chat_id": 9_999_999})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_burst_delivers_every_message_within_one_second() {
    let sandbox = spawn_sandbox(SandboxConfig {
        teams: 1,
        ..roomy_config()
    })
    .await;
    let phones = ["12125550601", "12125550602"];
    let burst = json!({"inbox_id": 3001, "phones": phones, "messages": 70, "text": "Anyone?"});

    let (status, sent) = sandbox
        .control(reqwest::Method::POST, "/_sandbox/burst", Some(burst))
        .await;

    assert_eq!(status, 200, "{sent}");
    let sent = sent.as_array().expect("the messages sent");
    assert_eq!(sent.len(), 140);
    let seconds: std::collections::BTreeSet<i64> = sent
        .iter()
        .map(|message| parse_timestamp(&message["date"]).timestamp())
        .collect();
    assert_eq!(seconds.len(), 1, "one second: {seconds:?}");
    let sent_keys: Vec<Key> = sent.iter().map(key).collect();
    assert!(
        sent_keys.windows(2).all(|pair| pair[0] < pair[1]),
        "in order"
    );
    for phone in phones {
        let newest = history(&sandbox, &json!(3001), &json!(phone), None).await;
        assert_eq!(newest.len(), 50, "one page of the 70");
        assert!(newest.iter().all(|message| message["text"] == "Anyone?"));
    }

    let too_many = json!({"inbox_id": 3001, "phones": phones, "messages": 6_000, "text": "x"});
    let (status, refused) = sandbox
        .control(reqwest::Method::POST, "/_sandbox/burst", Some(too_many))
        .await;
    assert_eq!(
        (status, &refused["error"]),
        (400, &json!("bad_data")),
        "{refused}"
    );
    let email = json!({"inbox_id": 3001, "phones": ["someone@example.com"], "text": "x"});
    let (status, _) = sandbox
        .control(reqwest::Method::POST, "/_sandbox/burst", Some(email))
        .await;
    assert_eq!(status, 400, "an SMS inbox takes phones only");
}
