//! Outgoing webhooks of the sandbox, caught by a real receiver on a free port.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use heymarket_sandbox::SandboxConfig;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

use crate::helpers::{TestSandbox, eventually_ok, spawn_sandbox};
use crate::sandbox_support::{keys, roomy_config};

const DEADLINE: Duration = Duration::from_secs(10);

struct Receiver {
    url: Url,
    bodies: Arc<Mutex<Vec<Value>>>,
    arrivals: watch::Receiver<usize>,
    _stop: DropGuard,
}

#[derive(Clone)]
struct ReceiverState {
    bodies: Arc<Mutex<Vec<Value>>>,
    arrivals: Arc<watch::Sender<usize>>,
    failures_left: Arc<AtomicUsize>,
}

/// Records every POST; answers 500 to the first `failures` of them and 200 afterwards.
async fn spawn_receiver(failures: usize) -> Receiver {
    let (sender, arrivals) = watch::channel(0);
    let state = ReceiverState {
        bodies: Arc::default(),
        arrivals: Arc::new(sender),
        failures_left: Arc::new(AtomicUsize::new(failures)),
    };
    let bodies = state.bodies.clone();
    let app = axum::Router::new()
        .route("/hooks", post(record))
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/hooks", listener.local_addr().unwrap())).unwrap();
    let stop = CancellationToken::new();
    let serve = axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
    tokio::spawn(async move { serve.await });
    Receiver {
        url,
        bodies,
        arrivals,
        _stop: stop.drop_guard(),
    }
}

async fn record(State(state): State<ReceiverState>, Json(body): Json<Value>) -> StatusCode {
    let count = {
        let mut bodies = state.bodies.lock().unwrap();
        bodies.push(body);
        bodies.len()
    };
    state.arrivals.send_replace(count);
    let failing = state
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        });
    if failing.is_ok() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

impl Receiver {
    /// The first `count` bodies received, waiting for them up to the deadline.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        let mut arrivals = self.arrivals.clone();
        tokio::time::timeout(DEADLINE, arrivals.wait_for(|&arrived| arrived >= count))
            .await
            .expect("webhooks arrive in time")
            .expect("the receiver runs");
        self.bodies.lock().unwrap()[..count].to_vec()
    }
}

async fn sandbox_posting_to(receiver: &Receiver) -> TestSandbox {
    spawn_sandbox(SandboxConfig {
        webhook_url: Some(receiver.url.clone()),
        webhook_token: "hook-secret".to_owned(),
        ..roomy_config()
    })
    .await
}

/// Polls `/_sandbox/stats` until `webhooks.<counter>` reaches `expected`: the webhook stats.
async fn wait_for_webhook_stat(sandbox: &TestSandbox, counter: &str, expected: u64) -> Value {
    let what = format!("{expected} webhooks {counter}");
    eventually_ok(&what, async || {
        let (_, stats) = sandbox.control(Method::GET, "/_sandbox/stats", None).await;
        let webhooks = stats["webhooks"].clone();
        if webhooks[counter] == expected {
            Ok(webhooks)
        } else {
            Err(webhooks)
        }
    })
    .await
}

#[tokio::test]
async fn every_modelled_event_arrives_in_order_in_the_documented_envelope() {
    let receiver = spawn_receiver(0).await;
    let sandbox = sandbox_posting_to(&receiver).await;
    let send =
        json!({"inbox_id": 3001, "creator_id": 501, "phone_number": "12125550180", "text": "Hi"});
    let (_, sent) = sandbox.api_post(0, "/v1/message/send", send).await;
    let inbound = json!({"inbox_id": 3001, "phone": "12125550180", "text": "Hello back"});
    let (_, received) = sandbox
        .control(Method::POST, "/_sandbox/inbound", Some(inbound))
        .await;
    let conversation = received["conversation"]["id"].clone();
    let address = json!({"inbox_id": 3001, "user_id": 501, "chat_id": conversation});
    sandbox
        .api_post(0, "/v1/conversations/close", address.clone())
        .await;
    sandbox.api_post(0, "/v1/conversations/open", address).await;
    let reassign =
        json!({"inbox_id": 3001, "user_id": 501, "target": "12125550180", "reassign_id": 501});
    sandbox
        .api_post(0, "/v1/conversations/reassign", reassign)
        .await;
    let transfer = json!({"conversation_id": conversation, "transfer_inbox_id": 3002});
    assert_eq!(
        sandbox
            .api_post(0, "/v1/conversations/transfer", transfer)
            .await
            .0,
        200
    );
    let other_team =
        json!({"inbox_id": 3001, "phone": "12125550180", "text": "Hi", "team_id": 102});
    sandbox
        .control(Method::POST, "/_sandbox/inbound", Some(other_team))
        .await;

    let events = receiver.wait_for(7).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let expected = [
        "message_sent",
        "message_recieved",
        "chat_closed",
        "chat_opened",
        "chat_reassigned",
        "chat_transferred",
        "message_recieved",
    ];
    assert_eq!(types, expected);
    for event in &events {
        assert_eq!(keys(event), ["event_data", "id", "token", "type"]);
    }
    // Each team's webhook configuration has its own id and its own token.
    assert!(
        events[..6]
            .iter()
            .all(|e| e["id"] == 901 && e["token"] == "hook-secret-1")
    );
    assert_eq!(
        (&events[6]["id"], &events[6]["token"]),
        (&json!(902), &json!("hook-secret-2"))
    );

    assert_eq!(events[0]["event_data"]["id"], sent["id"]);
    assert_eq!(events[0]["event_data"]["conversation"]["id"], conversation);
    assert_eq!(events[1]["event_data"], received);
    assert_eq!(
        (
            &events[2]["event_data"]["id"],
            &events[2]["event_data"]["status"]
        ),
        (&conversation, &json!("closed"))
    );
    assert_eq!(events[3]["event_data"]["status"], "open");
    assert_eq!(events[4]["event_data"]["assigned"], 501);
    assert_eq!(events[5]["event_data"]["inbox"], 3002);
    assert_eq!(
        wait_for_webhook_stat(&sandbox, "delivered", 7).await["delivered"],
        7
    );
}

#[tokio::test]
async fn a_refused_delivery_is_retried_until_it_succeeds() {
    let receiver = spawn_receiver(2).await;
    let sandbox = sandbox_posting_to(&receiver).await;
    let inbound = json!({"inbox_id": 3001, "phone": "12125550181", "text": "Anyone?"});
    sandbox
        .control(Method::POST, "/_sandbox/inbound", Some(inbound))
        .await;

    let attempts = receiver.wait_for(3).await;
    assert!(attempts.iter().all(|attempt| attempt == &attempts[0]));
    let stats = wait_for_webhook_stat(&sandbox, "delivered", 1).await;
    assert_eq!(
        stats,
        json!({"delivered": 1, "failed": 0, "dropped": 0, "retries": 2})
    );
}

#[tokio::test]
async fn a_delivery_refused_every_time_is_given_up_and_counted() {
    let receiver = spawn_receiver(usize::MAX).await;
    let sandbox = sandbox_posting_to(&receiver).await;
    let inbound = json!({"inbox_id": 3001, "phone": "12125550182", "text": "Hello?"});
    sandbox
        .control(Method::POST, "/_sandbox/inbound", Some(inbound))
        .await;

    assert_eq!(receiver.wait_for(4).await.len(), 4);
    let stats = wait_for_webhook_stat(&sandbox, "failed", 1).await;
    assert_eq!(
        stats,
        json!({"delivered": 0, "failed": 1, "dropped": 0, "retries": 3})
    );
}

#[tokio::test]
async fn held_webhooks_wait_until_released_and_keep_their_order() {
    let receiver = spawn_receiver(0).await;
    let sandbox = sandbox_posting_to(&receiver).await;
    sandbox.set_faults(json!({"webhooks_held": true})).await;
    for text in ["first", "second"] {
        let inbound = json!({"inbox_id": 3001, "phone": "12125550181", "text": text});
        sandbox
            .control(Method::POST, "/_sandbox/inbound", Some(inbound))
            .await;
    }
    let (_, stats) = sandbox.control(Method::GET, "/_sandbox/stats", None).await;
    assert_eq!(stats["webhooks"]["delivered"], 0, "{stats}");
    assert!(receiver.bodies.lock().unwrap().is_empty());

    sandbox.set_faults(json!({})).await;
    let events = receiver.wait_for(2).await;
    let texts: Vec<&Value> = events.iter().map(|e| &e["event_data"]["text"]).collect();
    assert_eq!(texts, [&json!("first"), &json!("second")]);
}
