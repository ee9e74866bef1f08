//! The upstream client against the sandbox: auth, retries, timeouts and the client-side limiter,
//! with every claim counted at the sandbox.

use std::time::Duration;

use heymarket_gateway::config::{RateBudget, UpstreamAuth, UpstreamConfig};
use heymarket_gateway::upstream::requests::{
    ConversationStatusRequest, Recipient, SendMessageRequest,
};
use heymarket_gateway::upstream::{Client, Error};
use heymarket_sandbox::SandboxConfig;
use serde_json::json;

use crate::helpers::{TestSandbox, sandbox_budget, spawn_sandbox};
use crate::sandbox_support::roomy_config;

fn client(sandbox: &TestSandbox, customise: impl FnOnce(&mut UpstreamConfig)) -> Client {
    let mut config = sandbox.upstream_config(0);
    customise(&mut config);
    Client::new(&config).expect("valid settings")
}

async fn statuses(sandbox: &TestSandbox, status: &str) -> u64 {
    sandbox.stats().await["statuses"][status]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn every_credential_kind_is_accepted_and_a_wrong_one_is_unauthorized() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let team = sandbox.teams[0].clone();

    let jwt = client(&sandbox, |_| {}).tenant(None).unwrap();
    assert!(jwt.inboxes().await.unwrap().len() >= 4);
    let members = jwt.team().await.unwrap().members;
    assert!(members.len() >= 10);

    let api_key = client(&sandbox, |config| {
        config.auth = UpstreamAuth::ApiKey(team.api_key.clone().into())
    });
    assert!(
        !api_key
            .tenant(None)
            .unwrap()
            .inboxes()
            .await
            .unwrap()
            .is_empty()
    );

    let pass_through = client(&sandbox, |config| config.auth = UpstreamAuth::PassThrough);
    assert!(matches!(
        pass_through.tenant(None),
        Err(Error::MissingCredential)
    ));
    let forwarded = pass_through
        .tenant(Some(team.api_key.clone().into()))
        .unwrap();
    assert!(!forwarded.inboxes().await.unwrap().is_empty());

    let wrong = client(&sandbox, |config| {
        config.auth = UpstreamAuth::Secret {
            id: team.secret_id.clone(),
            key: "not-the-key".to_owned().into(),
        }
    });
    let error = wrong.tenant(None).unwrap().inboxes().await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized), "{error:?}");
}

#[tokio::test]
async fn the_signed_token_is_reused_across_calls() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let tenant = client(&sandbox, |_| {}).tenant(None).unwrap();

    for _ in 0..5 {
        tenant.team().await.unwrap();
    }

    assert_eq!(sandbox.calls("GET /v1/team").await, 5);
    assert_eq!(statuses(&sandbox, "401").await, 0);
}

#[tokio::test]
async fn injected_server_errors_and_429s_are_retried_for_reads() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let tenant = client(&sandbox, |_| {}).tenant(None).unwrap();

    for (faults, failure) in [
        (json!({"error_rate": 0.5}), "500"),
        (json!({"rate_limit_rate": 0.5}), "429"),
    ] {
        sandbox.set_faults(faults.clone()).await;
        sandbox
            .http
            .post(sandbox.endpoint("/_sandbox/stats/reset"))
            .send()
            .await
            .unwrap();

        for _ in 0..4 {
            tenant.inboxes().await.expect("a retry succeeds");
        }

        // Every second request fails (the 2nd, 4th, 6th): the first read passes at once, each
        // later one fails once and succeeds on its retry.
        assert_eq!(sandbox.calls("GET /v1/inboxes").await, 7, "{faults}");
        assert_eq!(statuses(&sandbox, failure).await, 3, "{faults}");
        assert_eq!(statuses(&sandbox, "200").await, 4, "{faults}");
    }
}

#[tokio::test]
async fn retries_give_up_with_a_typed_error() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let tenant = client(&sandbox, |config| config.max_retries = 2)
        .tenant(None)
        .unwrap();

    sandbox.set_faults(json!({"error_rate": 1.0})).await;
    let error = tenant.team().await.unwrap_err();
    assert!(matches!(error, Error::Server { status: 500 }), "{error:?}");
    assert_eq!(sandbox.calls("GET /v1/team").await, 3);

    sandbox.set_faults(json!({"rate_limit_rate": 1.0})).await;
    let error = tenant.inboxes().await.unwrap_err();
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert_eq!(sandbox.calls("GET /v1/inboxes").await, 3);
}

async fn first_open_conversation(sandbox: &TestSandbox) -> (i64, i64) {
    let page = sandbox
        .conversation_page(0, json!({"id": 0, "filters": {"closed": false}}))
        .await;
    let first = page
        .iter()
        .find(|c| c["channel"] == "sms")
        .expect("an open SMS conversation");
    (
        first["id"].as_i64().unwrap(),
        first["inbox"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn writes_that_may_have_landed_are_sent_once() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let tenant = client(&sandbox, |_| {}).tenant(None).unwrap();
    let (conversation_id, inbox_id) = first_open_conversation(&sandbox).await;
    let close = ConversationStatusRequest {
        inbox_id,
        actor_id: 501,
        conversation_id,
    };

    sandbox.set_faults(json!({"error_rate": 1.0})).await;
    let error = tenant.close_conversation(&close).await.unwrap_err();
    assert!(matches!(error, Error::Server { .. }), "{error:?}");
    assert_eq!(sandbox.calls("POST /v1/conversations/close").await, 1);

    // The write happens but its answer is garbled: the client must not try again.
    sandbox.set_faults(json!({"malformed_rate": 1.0})).await;
    let error = tenant.close_conversation(&close).await.unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert_eq!(sandbox.calls("POST /v1/conversations/close").await, 2);
    sandbox.set_faults(json!({})).await;
    assert_eq!(
        sandbox.conversation(0, conversation_id).await["status"],
        "closed"
    );
}

#[tokio::test]
async fn a_send_with_an_idempotency_key_is_sent_once_too() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let tenant = client(&sandbox, |_| {}).tenant(None).unwrap();
    let (conversation_id, inbox_id) = first_open_conversation(&sandbox).await;
    let conversation = sandbox.conversation(0, conversation_id).await;
    let phone = conversation["target"].as_str().unwrap().to_owned();
    let before = tenant
        .message_history(&phone, inbox_id, None)
        .await
        .unwrap();
    let send = SendMessageRequest {
        inbox_id,
        sender_id: 501,
        recipient: Recipient::Conversation(conversation_id),
        text: Some("Your order has shipped.".to_owned()),
        media_url: None,
        template_id: None,
        private: false,
        local_id: Some("order-shipped-7781".to_owned()),
    };

    // Nothing documents that the upstream de-duplicates an SMS's `local_id`.
    sandbox.set_faults(json!({"error_rate": 1.0})).await;
    let error = tenant.send_message(&send).await.unwrap_err();
    sandbox.set_faults(json!({})).await;

    assert!(matches!(error, Error::Server { status: 500 }), "{error:?}");
    assert_eq!(sandbox.calls("POST /v1/message/send").await, 1, "no retry");
    let after = tenant
        .message_history(&phone, inbox_id, None)
        .await
        .unwrap();
    assert_eq!(after[0].id, before[0].id);
}

#[tokio::test]
async fn slow_answers_become_timeouts() {
    let sandbox = spawn_sandbox(roomy_config()).await;
    let tenant = client(&sandbox, |config| {
        config.timeout = Duration::from_millis(150);
        config.max_retries = 1;
    })
    .tenant(None)
    .unwrap();
    sandbox.set_faults(json!({"latency_ms": 2_000})).await;

    let error = tenant.inboxes().await.unwrap_err();

    assert!(matches!(error, Error::Timeout), "{error:?}");
    assert_eq!(sandbox.calls("GET /v1/inboxes").await, 2, "one retry");
}

#[tokio::test]
async fn the_limiter_keeps_a_burst_under_the_upstream_budget() {
    let budget = RateBudget {
        requests: 10,
        per: Duration::from_secs(1),
    };
    let sandbox = spawn_sandbox(SandboxConfig {
        rate_limit: sandbox_budget(budget),
        ..SandboxConfig::default()
    })
    .await;
    let tenant = client(&sandbox, |config| config.rate_limit = budget)
        .tenant(None)
        .unwrap();

    let burst = (0..25).map(|_| {
        let tenant = tenant.clone();
        tokio::spawn(async move { tenant.team().await })
    });
    for call in futures::future::join_all(burst).await {
        call.expect("task").expect("every call succeeds");
    }

    assert_eq!(sandbox.calls("GET /v1/team").await, 25, "no retries needed");
    assert_eq!(
        statuses(&sandbox, "429").await,
        0,
        "the sandbox never had to refuse"
    );
}

#[tokio::test]
async fn without_the_limiter_the_same_burst_is_refused() {
    let budget = RateBudget {
        requests: 10,
        per: Duration::from_secs(60),
    };
    let sandbox = spawn_sandbox(SandboxConfig {
        rate_limit: sandbox_budget(budget),
        ..SandboxConfig::default()
    })
    .await;
    let tenant = client(&sandbox, |config| {
        config.rate_limit = RateBudget {
            requests: 1_000,
            per: Duration::from_secs(1),
        };
        config.max_retries = 0;
    })
    .tenant(None)
    .unwrap();

    let burst = (0..25).map(|_| {
        let tenant = tenant.clone();
        tokio::spawn(async move { tenant.team().await })
    });
    let refused = futures::future::join_all(burst)
        .await
        .into_iter()
        .filter(|call| matches!(call, Ok(Err(Error::RateLimited { .. }))))
        .count();

    assert_eq!(refused, 15);
    assert_eq!(statuses(&sandbox, "429").await, 15);
}
