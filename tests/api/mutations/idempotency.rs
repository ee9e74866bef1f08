//! Idempotency keys: whatever the upstream does with a repeated `local_id`, a repeated key
//! makes one upstream send and answers the first send's message, across replicas too (one after
//! another and at once in one gateway: `profiles.rs`); a key used for another message is
//! refused; and a send whose outcome is unknown is looked for, never sent again blindly.

use std::time::Duration;

use futures::future::join_all;
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::Readings;
use serde_json::{Value, json};

use super::{
    MESSAGE_PAYLOAD, assert_refused, assert_sent, conversation_gid, history, inbound, mutate, send,
    sends,
};
use crate::helpers::{TestApp, error_codes, spawn_app_with};
use crate::redis_support::{RedisServer, eventually};
use crate::sandbox_support::{reading, roomy_config, spawn_app_reading};

/// Both readings of a repeated `local_id`: the upstream answers the first send again, or sends
/// a second message.
const LOCAL_ID_READINGS: [&str; 2] = ["local-id=deduplicated", "local-id=ignored"];

const SEND: &str = "POST /v1/message/send";
const HISTORY: &str = "GET /v1/messages";

fn keyed(conversation: i64, text: &str, key: &str) -> Value {
    json!({
        "conversationId": conversation_gid(conversation),
        "text": text,
        "idempotencyKey": key,
    })
}

/// `sendMessage` with `input`; the whole response body.
async fn send_body(app: &TestApp, input: Value) -> Value {
    mutate(
        app,
        "sendMessage",
        "SendMessageInput",
        MESSAGE_PAYLOAD,
        input,
        None,
    )
    .await
    .1
}

#[tokio::test]
async fn replicas_sharing_redis_make_one_send_for_one_key_under_every_profile() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    for (profile, readings) in Readings::profiles() {
        let url = redis.url();
        let sandbox = SandboxConfig {
            teams: 1,
            readings: *readings,
            ..roomy_config()
        };
        let a = spawn_app_with(sandbox, |config| config.redis_url = Some(url)).await;
        let b = a.replica().await;
        for replica in [&a, &b] {
            eventually("both replicas to be ready", || replica.is_ready()).await;
        }
        let id = inbound(&a, 3001, "12125550303").await;
        // Every profile's sandbox has the same credentials, so the same tenant in Redis.
        let input = keyed(
            id,
            "Sent once by one of two replicas",
            &format!("{profile}-1"),
        );
        a.sandbox.set_faults(json!({ "latency_ms": 100 })).await;

        let requests = (0..6).map(|n| send(if n % 2 == 0 { &a } else { &b }, input.clone()));
        let payloads = join_all(requests).await;

        a.sandbox.set_faults(json!({})).await;
        for payload in &payloads {
            assert_sent(payload);
            assert_eq!(payload["message"], payloads[0]["message"], "{profile}");
        }
        assert_eq!(sends(&a).await, 1, "{profile}");
        assert_eq!(history(&a, "12125550303", 3001).await.len(), 2, "{profile}");
        // Later, one after another, on either replica: still the first send's answer.
        for replica in [&b, &a] {
            let again = send(replica, input.clone()).await;
            assert_eq!(again["message"], payloads[0]["message"], "{profile}");
        }
        assert_eq!(sends(&a).await, 1, "{profile}");
    }
}

#[tokio::test]
async fn a_key_used_for_another_message_is_refused_without_a_send() {
    for local_id in LOCAL_ID_READINGS {
        let app = spawn_app_reading(reading(&[local_id])).await;
        let first = inbound(&app, 3001, "12125550304").await;
        let second = inbound(&app, 3001, "12125550305").await;
        assert_sent(&send(&app, keyed(first, "The first message", "shared-key")).await);

        for (conversation, text) in [
            (second, "The first message"),
            (first, "Another message entirely"),
        ] {
            let mut input = keyed(conversation, text, "shared-key");
            input["clientMutationId"] = json!("reuse");

            let refused = send(&app, input).await;

            assert_refused(
                &refused,
                "message",
                "IDEMPOTENCY_KEY_REUSED",
                Some("idempotencyKey"),
            );
            assert_eq!(refused["conversation"], Value::Null);
            assert_eq!(refused["clientMutationId"], "reuse");
        }
        assert_eq!(sends(&app).await, 1, "{local_id}");
        assert_eq!(history(&app, "12125550304", 3001).await.len(), 2);
        assert_eq!(history(&app, "12125550305", 3001).await.len(), 1);
    }
}

#[tokio::test]
async fn a_keyed_send_whose_answer_was_lost_is_found_again_not_sent_twice() {
    for local_id in LOCAL_ID_READINGS {
        let app = spawn_app_reading(reading(&[local_id])).await;
        let id = inbound(&app, 3001, "12125550306").await;
        // The sandbox stores the message, then cuts the answer; the gateway's look for it is
        // cut short too.
        app.sandbox
            .set_faults(json!({ "routes": [SEND, HISTORY], "malformed_rate": 1.0 }))
            .await;
        let input = keyed(id, "stored, answer lost", "lost-1");

        let lost = send_body(&app, input.clone()).await;

        assert_eq!(
            error_codes(&lost),
            ["OUTCOME_UNKNOWN"],
            "{local_id}: {lost}"
        );
        app.sandbox.set_faults(json!({})).await;

        let found = send(&app, input.clone()).await;
        let again = send(&app, input).await;

        assert_sent(&found);
        assert_eq!(found["message"]["text"], "stored, answer lost");
        assert_eq!(again["message"], found["message"]);
        assert_eq!(sends(&app).await, 1, "{local_id}");

        // Only the answer is lost: the same request finds the message by its key.
        app.sandbox
            .set_faults(json!({ "routes": [SEND], "malformed_rate": 1.0 }))
            .await;

        let answered = send(&app, keyed(id, "stored, found at once", "lost-2")).await;

        app.sandbox.set_faults(json!({})).await;
        assert_sent(&answered);
        assert_eq!(answered["message"]["text"], "stored, found at once");
        assert_eq!(sends(&app).await, 2, "{local_id}");
        let texts: Vec<Value> = history(&app, "12125550306", 3001)
            .await
            .into_iter()
            .map(|message| message["text"].clone())
            .collect();
        assert_eq!(
            texts,
            [
                json!("stored, found at once"),
                json!("stored, answer lost"),
                json!("Hi, is anyone there?")
            ],
            "{local_id}"
        );
    }
}

#[tokio::test]
async fn a_keyed_send_with_an_unknown_outcome_is_never_sent_again_blindly() {
    for local_id in LOCAL_ID_READINGS {
        let app = spawn_app_reading(reading(&[local_id])).await;
        let id = inbound(&app, 3001, "12125550307").await;
        // A 500 may come after the upstream stored the message: its outcome is unknown.
        app.sandbox
            .set_faults(json!({ "routes": [SEND], "error_rate": 1.0 }))
            .await;
        let input = keyed(id, "may or may not have landed", "unknown-1");

        let failed = send_body(&app, input.clone()).await;

        assert_eq!(
            error_codes(&failed),
            ["OUTCOME_UNKNOWN"],
            "{local_id}: {failed}"
        );
        assert_eq!(sends(&app).await, 1, "{local_id}: one attempt, no retry");
        app.sandbox.set_faults(json!({})).await;

        // The message is not in the conversation, which does not prove it never will be.
        let again = send_body(&app, input).await;

        assert_eq!(
            error_codes(&again),
            ["OUTCOME_UNKNOWN"],
            "{local_id}: {again}"
        );
        let message = again["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("new idempotencyKey"), "{message}");
        assert_eq!(sends(&app).await, 1, "{local_id}: not sent again");

        let fresh = send(&app, keyed(id, "may or may not have landed", "unknown-2")).await;
        assert_sent(&fresh);
        assert_eq!(sends(&app).await, 2, "{local_id}");
    }
}

#[tokio::test]
async fn a_repeat_that_outwaits_its_patience_is_told_the_key_is_in_use() {
    let sandbox = SandboxConfig {
        teams: 1,
        ..roomy_config()
    };
    // A repeat waits for the first send at most half the request timeout, 2 s here; the
    // send takes longer.
    let app = spawn_app_with(sandbox, |config| {
        config.limits.request_timeout = Duration::from_secs(4);
    })
    .await;
    let id = inbound(&app, 3001, "12125550308").await;
    app.sandbox
        .set_faults(json!({ "routes": [SEND], "latency_ms": 2_500 }))
        .await;
    let input = keyed(id, "a slow send", "slow-1");

    let bodies = join_all((0..2).map(|_| send_body(&app, input.clone()))).await;

    app.sandbox.set_faults(json!({})).await;
    let (sent, waited): (Vec<&Value>, Vec<&Value>) = bodies
        .iter()
        .partition(|body| body["errors"] == Value::Null);
    assert_eq!((sent.len(), waited.len()), (1, 1), "{bodies:?}");
    assert_eq!(error_codes(waited[0]), ["IDEMPOTENCY_KEY_IN_USE"]);
    let first = &sent[0]["data"]["sendMessage"];
    assert_sent(first);
    let again = send(&app, input).await;
    assert_eq!(again["message"], first["message"]);
    assert_eq!(sends(&app).await, 1);
}
