//! Each reading of each point the upstream's documentation leaves open, as the sandbox plays
//! it through its REST API, and the profiles that bundle them.

use std::collections::BTreeMap;

use chrono::Timelike;
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::{
    CONVERSATION_LIMIT_MAX, ReadingOverride, ReadingValue, Readings,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::sandbox_support::{keys, parse_timestamp, roomy_config, walk_conversations};

/// A one-team sandbox whose readings are the defaults changed by `changes` (`POINT=VALUE`).
async fn sandbox_reading(changes: &[&str]) -> TestSandbox {
    let changes: Vec<ReadingOverride> = changes
        .iter()
        .map(|change| change.parse().expect("a valid reading"))
        .collect();
    spawn_sandbox(SandboxConfig {
        teams: 1,
        readings: Readings::DEFAULT.with(&changes),
        ..roomy_config()
    })
    .await
}

/// The first page of `POST /v1/conversations`, which must succeed.
async fn page(sandbox: &TestSandbox, body: Value) -> Vec<Value> {
    sandbox.conversation_page(0, body).await
}

fn count(sandbox_counts: &Value, name: &str) -> usize {
    sandbox_counts[name].as_u64().expect("a count") as usize
}

async fn history(
    sandbox: &TestSandbox,
    inbox: &Value,
    phone: &Value,
    timestamp: Option<i64>,
) -> (u16, Value) {
    let mut path = format!(
        "/v1/messages?phoneNumber={}&inboxID={inbox}",
        phone.as_str().expect("a phone")
    );
    if let Some(timestamp) = timestamp {
        path.push_str(&format!("&timestamp={timestamp}"));
    }
    sandbox.api_get(0, &path).await
}

async fn send(sandbox: &TestSandbox, body: Value) -> Value {
    let (status, answer) = sandbox.api_post(0, "/v1/message/send", body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn an_empty_or_absent_inbox_list_means_every_inbox_no_inbox_or_a_refusal() {
    for (reading, rows) in [("all", Some(30)), ("none", Some(0)), ("refused", None)] {
        let sandbox = sandbox_reading(&[&format!("empty-inboxes={reading}")]).await;
        for body in [
            json!({"id": 501, "filters": {"inboxes": []}}),
            json!({"id": 501, "filters": {"closed": false}}),
            json!({"id": 501}),
        ] {
            let (status, answer) = sandbox.api_post(0, "/v1/conversations", body.clone()).await;
            match rows {
                Some(rows) => assert_eq!(
                    (status, answer.as_array().map(Vec::len)),
                    (200, Some(rows)),
                    "{reading}: {body}"
                ),
                None => assert_eq!(
                    (status, answer["error"].as_str()),
                    (400, Some("bad_data")),
                    "{reading}: {body}"
                ),
            }
        }
        let listed = page(&sandbox, json!({"id": 501, "filters": {"inboxes": [3001]}})).await;
        assert_eq!(listed.len(), 30, "{reading}");
        assert!(listed.iter().all(|row| row["inbox"] == 3001));
    }
}

#[tokio::test]
async fn the_page_size_is_configured_and_a_limit_counts_only_when_honoured() {
    for size in [25, 50] {
        let sandbox = sandbox_reading(&[&format!("page-size={size}")]).await;
        for body in [
            json!({"id": 0}),
            json!({"id": 0, "limit": 5}),
            json!({"id": 0, "limit": 1000}),
            json!({"id": 0, "limit": "ten"}),
        ] {
            assert_eq!(page(&sandbox, body.clone()).await.len(), size, "{body}");
        }
    }

    let sandbox = sandbox_reading(&["page-size=25", "conversation-limit=honoured"]).await;
    for (limit, rows) in [
        (None, 25),
        (Some(5), 5),
        (Some(0), 1),
        (Some(1000), CONVERSATION_LIMIT_MAX),
    ] {
        let body = json!({"id": 0, "limit": limit});
        assert_eq!(page(&sandbox, body).await.len(), rows, "limit {limit:?}");
    }
    let (status, answer) = sandbox
        .api_post(0, "/v1/conversations", json!({"id": 0, "limit": "ten"}))
        .await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("bad_data")));
    let first = page(&sandbox, json!({"id": 0, "limit": 10})).await;
    let next = page(
        &sandbox,
        json!({"id": 0, "limit": 10, "date": first[9]["updated"]}),
    )
    .await;
    let boundary = parse_timestamp(&first[9]["updated"]);
    assert_eq!(next.len(), 10);
    assert!(
        next.iter()
            .all(|row| parse_timestamp(&row["updated"]) < boundary)
    );
}

#[tokio::test]
async fn closed_false_means_open_only_or_no_filter() {
    for (reading, open_only) in [("open-only", true), ("no-filter", false)] {
        let sandbox =
            sandbox_reading(&[&format!("closed-false={reading}"), "page-size=10000"]).await;
        let counts = sandbox.overview(0).await["counts"].clone();
        let rows = page(&sandbox, json!({"id": 0, "filters": {"closed": false}})).await;
        if open_only {
            assert_eq!(rows.len(), count(&counts, "open_conversations"));
            assert!(rows.iter().all(|row| row["status"] == "open"));
        } else {
            assert_eq!(rows.len(), count(&counts, "conversations"));
            assert!(rows.iter().any(|row| row["status"] == "closed"));
        }
        let closed = page(&sandbox, json!({"id": 0, "filters": {"closed": true}})).await;
        assert_eq!(
            closed.len(),
            count(&counts, "closed_conversations"),
            "{reading}"
        );
        assert!(closed.iter().all(|row| row["status"] == "closed"));
    }
}

#[tokio::test]
async fn unread_false_means_no_filter_or_read_only() {
    for (reading, read_only) in [("no-filter", false), ("read-only", true)] {
        let sandbox =
            sandbox_reading(&[&format!("unread-false={reading}"), "page-size=10000"]).await;
        let everything = page(&sandbox, json!({"id": 501})).await;
        let read: Vec<&Value> = everything
            .iter()
            .filter(|row| row["unread"] == false)
            .collect();
        assert!(!read.is_empty() && read.len() < everything.len());

        let rows = page(&sandbox, json!({"id": 501, "filters": {"unread": false}})).await;
        if read_only {
            assert_eq!(rows.iter().collect::<Vec<_>>(), read);
        } else {
            assert_eq!(rows, everything);
        }
        let (status, answer) = sandbox
            .api_post(
                0,
                "/v1/conversations",
                json!({"id": 0, "filters": {"unread": false}}),
            )
            .await;
        let expected = if read_only { 400 } else { 200 };
        assert_eq!(status, expected, "{reading}: {answer}");
    }
}

#[tokio::test]
async fn assigned_is_a_filter_or_ignored() {
    for (reading, honoured) in [("ignored", false), ("honoured", true)] {
        let sandbox =
            sandbox_reading(&[&format!("assigned-filter={reading}"), "page-size=10000"]).await;
        let everything = page(&sandbox, json!({"id": 501})).await;
        let mine: Vec<&Value> = everything
            .iter()
            .filter(|row| row["assigned"] == 501)
            .collect();
        assert!(!mine.is_empty() && mine.len() < everything.len());

        let rows = page(&sandbox, json!({"id": 501, "assigned": 501})).await;
        if honoured {
            assert_eq!(rows.iter().collect::<Vec<_>>(), mine, "{reading}");
        } else {
            assert_eq!(rows, everything, "{reading}");
        }
        // No agreed value means "unassigned": 0 filters nothing.
        assert_eq!(
            page(&sandbox, json!({"id": 501, "assigned": 0})).await,
            everything
        );
        let (status, answer) = sandbox
            .api_post(0, "/v1/conversations", json!({"id": 501, "assigned": "me"}))
            .await;
        let expected = if honoured { 400 } else { 200 };
        assert_eq!(status, expected, "{reading}: {answer}");
    }
}

/// Whether `value` is RFC 3339 in UTC with exactly `digits` fractional digits (0: none).
fn written_with(value: &Value, digits: usize) -> bool {
    let text = value.as_str().unwrap_or_default();
    let fraction = text
        .strip_suffix('Z')
        .and_then(|rest| rest.get(19..))
        .unwrap_or("?");
    let fraction_ok = match digits {
        0 => fraction.is_empty(),
        n => fraction.len() == n + 1 && fraction.starts_with('.'),
    };
    fraction_ok && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[tokio::test]
async fn conversation_timestamps_have_microseconds_or_whole_seconds() {
    for (reading, digits) in [("micros", 6), ("seconds", 0)] {
        let sandbox = sandbox_reading(&[&format!("updated-precision={reading}")]).await;
        let counts = sandbox.overview(0).await["counts"].clone();
        let rows = walk_conversations(&sandbox, json!({"id": 0}), true).await;
        assert_eq!(rows.len(), count(&counts, "conversations"), "{reading}");
        assert!(
            rows.iter().all(|row| written_with(&row["updated"], digits)
                && written_with(&row["created"], digits)),
            "{reading}: {}",
            rows[0]
        );
        let boundary = &rows[40]["updated"];
        let before = page(&sandbox, json!({"id": 0, "date": boundary})).await;
        assert!(
            before
                .iter()
                .all(|row| parse_timestamp(&row["updated"]) < parse_timestamp(boundary))
        );

        let answer = send(
            &sandbox,
            json!({"inbox_id": 3001, "creator_id": 501, "phone_number": "12125550181", "text": "Hi"}),
        )
        .await;
        let (_, messages) = history(&sandbox, &json!(3001), &json!("12125550181"), None).await;
        let message = &messages[0];
        assert!(
            written_with(&message["date"], 6),
            "message dates keep microseconds"
        );
        assert!(written_with(&message["conversation"]["updated"], digits));
        let sent = parse_timestamp(&answer["date"]);
        let updated = parse_timestamp(&message["conversation"]["updated"]);
        let expected = if digits == 0 {
            sent.with_nanosecond(0).unwrap()
        } else {
            sent
        };
        assert_eq!(updated, expected, "{reading}");
        // Asked for what came before its own message, the conversation shows up only when its
        // `updated` lost the message's fraction of a second.
        let listed_before = page(
            &sandbox,
            json!({"id": 0, "date": answer["date"], "filters": {"inboxes": [3001]}}),
        )
        .await;
        let shows = listed_before[0]["id"] == message["conversation"]["id"];
        assert_eq!(shows, updated < sent, "{reading}");
    }
}

/// Whether an unassigned conversation's row shows it as `reading` says.
fn unassigned_as(row: &Value, reading: &str) -> bool {
    match reading {
        "zero" => row["assigned"] == 0,
        "null" => row.get("assigned").is_some_and(Value::is_null),
        _ => row.get("assigned").is_none(),
    }
}

#[tokio::test]
async fn an_unassigned_conversation_shows_zero_null_or_no_field() {
    let mut unassigned_counts = Vec::new();
    for reading in ["zero", "null", "absent"] {
        let sandbox = sandbox_reading(&[&format!("unassigned={reading}"), "page-size=10000"]).await;
        let rows = page(&sandbox, json!({"id": 0})).await;
        let (unassigned, assigned): (Vec<&Value>, Vec<&Value>) =
            rows.iter().partition(|row| unassigned_as(row, reading));
        assert!(!unassigned.is_empty() && !assigned.is_empty(), "{reading}");
        assert!(
            assigned
                .iter()
                .all(|row| row["assigned"].as_i64().is_some_and(|id| id > 0)),
            "{reading}"
        );
        unassigned_counts.push(unassigned.len());
    }
    assert!(unassigned_counts.windows(2).all(|pair| pair[0] == pair[1]));
}

#[tokio::test]
async fn unassigning_takes_minus_one_or_zero_or_is_refused() {
    for (reading, unassigns) in [
        ("minus-one", Some(-1)),
        ("zero", Some(0)),
        ("refused", None),
    ] {
        let sandbox = sandbox_reading(&[&format!("unassign={reading}"), "page-size=10000"]).await;
        let rows = page(&sandbox, json!({"id": 0})).await;
        let assigned = rows
            .iter()
            .find(|row| {
                row["channel"] == "sms" && row["assigned"].as_i64().is_some_and(|id| id > 0)
            })
            .expect("an assigned SMS conversation");
        let id = assigned["id"].as_i64().unwrap();
        let reassign = |reassign_id: i64| {
            json!({
                "inbox_id": assigned["inbox"],
                "user_id": assigned["assigned"],
                "target": assigned["target"],
                "reassign_id": reassign_id,
            })
        };
        let mut values = vec![-1, 0];
        values.sort_by_key(|value| Some(*value) == unassigns);
        for value in values {
            let (status, answer) = sandbox
                .api_post(0, "/v1/conversations/reassign", reassign(value))
                .await;
            let after = sandbox.conversation(0, id).await;
            if Some(value) == unassigns {
                assert_eq!((status, answer), (200, json!("ok")), "{reading}: {value}");
                assert_eq!(after["assigned"], 0, "{reading}");
            } else {
                assert_eq!(
                    (status, answer["error"].as_str()),
                    (400, Some("bad_data")),
                    "{reading}: {value}"
                );
                assert_eq!(after["assigned"], assigned["assigned"], "{reading}");
            }
        }
    }
}

#[tokio::test]
async fn team_wide_listings_are_clamped_to_the_configured_maximum() {
    for (max, rows) in [(None, 1000), (Some(200), 200), (Some(50), 50)] {
        let changes: Vec<String> = max
            .map(|max| format!("messages-all-max={max}"))
            .into_iter()
            .collect();
        let changes: Vec<&str> = changes.iter().map(String::as_str).collect();
        let sandbox = sandbox_reading(&changes).await;
        let all = |body: Value| {
            let sandbox = &sandbox;
            async move {
                let (status, messages) = sandbox.api_post(0, "/v1/messages/all", body).await;
                assert_eq!(status, 200, "{messages}");
                messages.as_array().expect("an array").len()
            }
        };
        assert_eq!(all(json!({"limit": 1000})).await, rows, "max {max:?}");
        assert_eq!(all(json!({"limit": 5000, "ascending": true})).await, rows);
        assert_eq!(
            all(json!({})).await,
            30,
            "the default page is below every maximum"
        );
    }
}

#[tokio::test]
async fn the_team_wide_cursor_is_read_from_created_at_date_or_either() {
    for (reading, reads_created_at, reads_date) in [
        ("created-at-or-date", true, true),
        ("created-at", true, false),
        ("date", false, true),
    ] {
        let sandbox = sandbox_reading(&[&format!("messages-all-cursor={reading}")]).await;
        let all = |body: Value| {
            let sandbox = &sandbox;
            async move {
                let (status, messages) = sandbox.api_post(0, "/v1/messages/all", body).await;
                assert_eq!(status, 200, "{messages}");
                messages.as_array().expect("an array").clone()
            }
        };
        let newest = all(json!({"limit": 10})).await;
        let cursor = newest[4]["date"].clone();
        for (field, read) in [("created_at", reads_created_at), ("date", reads_date)] {
            let rows = all(json!({field: cursor, "limit": 10})).await;
            if read {
                assert!(
                    rows.iter()
                        .all(|m| parse_timestamp(&m["date"]) < parse_timestamp(&cursor)),
                    "{reading}: {field}"
                );
            } else {
                assert_eq!(rows, newest, "{reading}: {field} should be ignored");
            }
        }
    }
}

#[tokio::test]
async fn the_history_timestamp_excludes_or_includes_its_second() {
    for (reading, inclusive) in [("exclusive", false), ("inclusive", true)] {
        let sandbox = sandbox_reading(&[&format!("history-timestamp={reading}")]).await;
        let long = sandbox.overview(0).await["long_conversations"][0].clone();
        let (inbox, phone) = (&long["inbox"], &long["target"]);
        let (_, newest) = history(&sandbox, inbox, phone, None).await;
        let newest = newest.as_array().unwrap().clone();
        let second = |m: &Value| parse_timestamp(&m["date"]).timestamp();
        let cut = second(&newest[10]);

        let (status, below) = history(&sandbox, inbox, phone, Some(cut)).await;
        assert_eq!(status, 200);
        let below = below.as_array().unwrap();
        let expected: Vec<&Value> = newest
            .iter()
            .filter(|m| second(m) < cut || (inclusive && second(m) == cut))
            .collect();
        assert_eq!(expected.contains(&&newest[10]), inclusive);
        assert_eq!(
            below[..expected.len()].iter().collect::<Vec<_>>(),
            expected,
            "{reading}"
        );
        assert!(
            below
                .iter()
                .all(|m| second(m) < cut || (inclusive && second(m) == cut))
        );
    }
}

#[tokio::test]
async fn a_history_without_a_conversation_is_empty_or_not_found() {
    for (reading, status, body) in [
        ("empty", 200, json!([])),
        ("not-found", 404, json!("not_found")),
    ] {
        let sandbox = sandbox_reading(&[&format!("history-unknown-phone={reading}")]).await;
        let (got, answer) = history(&sandbox, &json!(3001), &json!("12125550180"), None).await;
        let shown = if got == 200 {
            answer
        } else {
            answer["error"].clone()
        };
        assert_eq!((got, shown), (status, body), "{reading}");
        let (got, answer) = history(&sandbox, &json!(9), &json!("12125550180"), None).await;
        assert_eq!((got, &answer["error"]), (404, &json!("not_found")));
    }
}

#[tokio::test]
async fn a_repeated_local_id_is_deduplicated_or_a_new_message() {
    for (reading, deduplicated) in [("deduplicated", true), ("ignored", false)] {
        let sandbox = sandbox_reading(&[&format!("local-id={reading}")]).await;
        let body = |text: &str| json!({"inbox_id": 3001, "creator_id": 501, "phone_number": "12125550182", "text": text, "local_id": "order-9"});
        let first = send(&sandbox, body("first")).await;
        let second = send(&sandbox, body("second")).await;
        let (_, messages) = history(&sandbox, &json!(3001), &json!("12125550182"), None).await;
        let texts: Vec<&Value> = messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["text"])
            .collect();
        if deduplicated {
            assert_eq!(first, second);
            assert_eq!(texts, [&json!("first")]);
        } else {
            assert_ne!(first["id"], second["id"]);
            assert_eq!(texts, [&json!("second"), &json!("first")]);
        }
    }
}

#[tokio::test]
async fn a_send_to_an_opted_out_contact_is_refused_or_goes_through() {
    for (reading, enforced) in [("enforced", true), ("ignored", false)] {
        let sandbox = sandbox_reading(&[&format!("opt-out={reading}")]).await;
        let mut opted_out = None;
        for id in 100_001..102_501 {
            let (_, contact) = sandbox.api_get(0, &format!("/v1/contact/{id}")).await;
            if contact["is_opted_out"] == true {
                opted_out = Some(contact);
                break;
            }
        }
        let phone = opted_out.expect("the seed has opted-out contacts")["phone"].clone();
        let body =
            json!({"inbox_id": 3001, "creator_id": 501, "phone_number": phone, "text": "Sale!"});
        let (status, answer) = sandbox.api_post(0, "/v1/message/send", body).await;
        let (_, messages) = history(&sandbox, &json!(3001), &phone, None).await;
        let delivered = messages
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["text"] == "Sale!");
        if enforced {
            assert_eq!(
                (status, answer["error"].as_str()),
                (400, Some("unsubscribed_number"))
            );
            assert!(!delivered);
        } else {
            assert_eq!(status, 200, "{answer}");
            assert!(delivered);
        }
    }
}

#[tokio::test]
async fn a_send_answers_the_documented_fields_or_also_its_conversation() {
    for (reading, fields) in [
        ("documented", &["date", "id"][..]),
        (
            "with-conversation",
            &["compliance_results", "convo_id", "date", "id", "queued"][..],
        ),
    ] {
        let sandbox = sandbox_reading(&[&format!("send-answer={reading}")]).await;
        let body = json!({"inbox_id": 3001, "creator_id": 501, "phone_number": "12125550183", "text": "Hi", "local_id": "k"});
        let answer = send(&sandbox, body.clone()).await;
        assert_eq!(keys(&answer), fields, "{reading}");
        let (_, messages) = history(&sandbox, &json!(3001), &json!("12125550183"), None).await;
        if let Some(conversation) = answer.get("convo_id") {
            assert_eq!(conversation, &messages[0]["conversation"]["id"]);
        }
        assert_eq!(
            send(&sandbox, body).await,
            answer,
            "a replay answers the same"
        );
    }
}

#[tokio::test]
async fn every_profile_starts_and_reports_its_readings() {
    for (name, readings) in Readings::profiles() {
        let sandbox = spawn_sandbox(SandboxConfig {
            teams: 1,
            readings: *readings,
            ..roomy_config()
        })
        .await;
        let (status, shown) = sandbox
            .control(Method::GET, "/_sandbox/readings", None)
            .await;
        assert_eq!(status, 200);
        let expected: BTreeMap<&str, ReadingValue> = readings.values().into_iter().collect();
        assert_eq!(shown, json!(expected), "{name}");
        assert_eq!(
            shown["page-size"],
            json!(readings.conversation_page_size),
            "{name}"
        );
        let rows = page(&sandbox, json!({"id": 501, "filters": {"inboxes": [3001]}})).await;
        assert_eq!(rows.len(), readings.conversation_page_size, "{name}");
        if *name == "strict" {
            assert_eq!(
                (
                    &shown["updated-precision"],
                    &shown["messages-all-max"],
                    &shown["empty-inboxes"]
                ),
                (&json!("seconds"), &json!(200), &json!("none"))
            );
        }
    }
}

#[tokio::test]
async fn a_message_carries_its_attachments_as_one_url_a_list_or_a_gallery() {
    let urls = [
        "https://media.example.com/a.jpg",
        "https://media.example.com/b.png",
    ];
    for reading in ["single", "list", "gallery"] {
        let sandbox = sandbox_reading(&[&format!("message-media={reading}")]).await;
        let (status, message) = sandbox
            .control(
                Method::POST,
                "/_sandbox/inbound",
                Some(json!({"inbox_id": 3001, "phone": "12125550199", "text": "Two pictures", "media": urls})),
            )
            .await;
        assert_eq!(status, 200, "{message}");
        let conversation = &message["conversation"];
        let (status, messages) = history(
            &sandbox,
            &conversation["inbox"],
            &conversation["target"],
            None,
        )
        .await;
        assert_eq!(status, 200, "{messages}");
        let read = &messages[0];
        assert_eq!(read["id"], message["id"], "{reading}");
        for shown in [&message, read] {
            match reading {
                "single" => {
                    assert_eq!(shown["media"], urls[0], "{reading}");
                    assert!(shown.get("gallery").is_none(), "{reading}");
                }
                "list" => assert_eq!(shown["media"], json!(urls), "{reading}"),
                _ => {
                    assert_eq!(shown["media"], urls[0], "{reading}");
                    let gallery: Vec<&Value> = shown["gallery"]
                        .as_array()
                        .expect("a gallery")
                        .iter()
                        .map(|entry| &entry["url"])
                        .collect();
                    assert_eq!(gallery, [&json!(urls[0]), &json!(urls[1])], "{reading}");
                }
            }
            assert_eq!(shown["type"], "mms");
        }
    }
    let sandbox = sandbox_reading(&[]).await;
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("https://media.example.com/{i}.jpg"))
        .collect();
    let (status, refused) = sandbox
        .control(
            Method::POST,
            "/_sandbox/inbound",
            Some(json!({"inbox_id": 3001, "phone": "12125550199", "text": "Too many", "media": eleven})),
        )
        .await;
    assert_eq!(status, 400, "at most ten attachments: {refused}");
}

#[tokio::test]
async fn a_carrier_failure_shows_on_the_message_with_its_reason() {
    let sandbox = sandbox_reading(&[]).await;
    let sent = send(
        &sandbox,
        json!({"inbox_id": 3001, "creator_id": 501, "phone_number": "12125550198", "text": "Hello"}),
    )
    .await;
    let reason = "30006: landline or unreachable carrier";
    let (status, failed) = sandbox
        .control(
            Method::POST,
            "/_sandbox/delivery-failure",
            Some(json!({"message_id": sent["id"], "error": reason})),
        )
        .await;
    assert_eq!(status, 200, "{failed}");
    let (_, messages) = history(&sandbox, &json!(3001), &json!("12125550198"), None).await;
    let read = &messages[0];
    assert_eq!(read["id"], sent["id"]);
    assert_eq!(read["status"], "failed");
    assert_eq!(read["raw_error"], reason);
    assert_eq!(read["target_errors"], json!({"12125550198": reason}));

    // Only an outbound message of the team can fail, and only one that exists.
    let (status, inbound) = sandbox
        .control(
            Method::POST,
            "/_sandbox/inbound",
            Some(json!({"inbox_id": 3001, "phone": "12125550198", "text": "Hi"})),
        )
        .await;
    assert_eq!(status, 200, "{inbound}");
    for (message_id, expected) in [(inbound["id"].clone(), 400), (json!(1), 404)] {
        let (status, answer) = sandbox
            .control(
                Method::POST,
                "/_sandbox/delivery-failure",
                Some(json!({"message_id": message_id, "error": reason})),
            )
            .await;
        assert_eq!(status, expected, "{answer}");
    }
}
