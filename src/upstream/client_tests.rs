//! The client's behaviour over real HTTP, against the scripted server: retries, timeouts,
//! credentials, request ids, error mapping, call counts and what reaches the logs.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::config::{BreakerConfig, UpstreamAuth};
use super::requests::{ConversationStatusRequest, Recipient, SendMessageRequest};
use super::test_server::{Reply, TestServer};
use super::{BreakerState, CallLog, Client, Error};

/// An address that refuses connections for as long as the socket lives: bound, so no other
/// test can take the port, but not listening. (A listener bound and dropped frees the port,
/// and a test running alongside may listen on it by the time the connection is tried.)
fn refusing_address() -> (tokio::net::TcpSocket, std::net::SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let address = socket.local_addr().unwrap();
    (socket, address)
}

fn close_request() -> ConversationStatusRequest {
    ConversationStatusRequest {
        inbox_id: 1,
        actor_id: 2,
        conversation_id: 3,
    }
}

fn team_answer() -> Reply {
    Reply::json(
        200,
        json!({ "id": 1, "name": "Team", "members": [{ "id": 4 }] }),
    )
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

#[tokio::test]
async fn reads_retry_server_errors_and_every_attempt_is_counted() {
    let server = TestServer::start([
        Reply::raw(503, ""),
        Reply::raw(502, "bad gateway"),
        Reply::json(200, json!([{ "id": 1, "name": "Sales" }])),
    ])
    .await;
    let client = Client::new(&server.config()).unwrap();
    let log = Arc::new(CallLog::default());

    let inboxes = client
        .tenant(None)
        .unwrap()
        .with_call_log(Arc::clone(&log))
        .inboxes()
        .await
        .unwrap();

    assert_eq!(
        inboxes.iter().map(|inbox| inbox.id).collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(server.requests().len(), 3);
    assert_eq!(
        log.snapshot(),
        BTreeMap::from([("GET /v1/inboxes".to_owned(), 3)])
    );
}

#[tokio::test]
async fn no_attempt_is_sent_beyond_the_budget_of_the_call_log() {
    let server = TestServer::start((0..4).map(|_| Reply::raw(503, ""))).await;
    let client = Client::new(&server.config()).unwrap();
    let log = Arc::new(CallLog::with_budget(2));
    let tenant = client.tenant(None).unwrap().with_call_log(Arc::clone(&log));

    // Two attempts fit; the retry that would be the third gives up with the failure it had.
    let error = tenant.inboxes().await.unwrap_err();
    assert!(matches!(error, Error::Server { status: 503 }), "{error:?}");
    assert_eq!(server.requests().len(), 2);

    let error = tenant.team().await.unwrap_err();
    assert!(
        matches!(error, Error::BudgetSpent { budget: 2 }),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 2, "nothing sent once spent");
    assert_eq!(
        log.snapshot(),
        BTreeMap::from([("GET /v1/inboxes".to_owned(), 2)])
    );

    log.renew_budget();
    assert!(tenant.team().await.is_err());
    assert_eq!(
        server.requests().len(),
        4,
        "a renewed budget sends its two attempts again"
    );
}

#[tokio::test]
async fn reads_give_up_after_the_configured_retries() {
    let server = TestServer::start((0..4).map(|_| Reply::raw(500, ""))).await;
    let client = Client::new(&server.config()).unwrap();

    let error = client.tenant(None).unwrap().team().await.unwrap_err();

    assert!(matches!(error, Error::Server { status: 500 }), "{error:?}");
    assert_eq!(
        server.requests().len(),
        1 + server.config().max_retries as usize
    );
}

#[tokio::test]
async fn writes_that_may_have_reached_the_upstream_are_sent_once() {
    for (reply, expected) in [
        (Reply::raw(503, ""), "Server"),
        (
            Reply::raw(429, "").header("retry-after", "0"),
            "RateLimited",
        ),
        (Reply::Hang, "Timeout"),
    ] {
        let server = TestServer::start([reply]).await;
        let mut config = server.config();
        config.timeout = Duration::from_millis(200);
        let client = Client::new(&config).unwrap();

        let error = client
            .tenant(None)
            .unwrap()
            .close_conversation(&close_request())
            .await
            .unwrap_err();

        assert!(format!("{error:?}").starts_with(expected), "{error:?}");
        assert_eq!(server.requests().len(), 1, "after {expected}");
    }
}

#[tokio::test]
async fn sends_carrying_a_local_id_are_sent_once_too() {
    for reply in [Reply::raw(500, ""), Reply::raw(429, "")] {
        let server = TestServer::start([
            reply,
            Reply::json(
                200,
                json!({ "id": 9, "date": "2024-12-24T14:04:55.021462Z" }),
            ),
        ])
        .await;
        let client = Client::new(&server.config()).unwrap();
        let request = SendMessageRequest {
            inbox_id: 1,
            sender_id: 2,
            recipient: Recipient::Conversation(3),
            text: Some("hello".into()),
            media_url: None,
            template_id: None,
            private: false,
            local_id: Some("send-7".into()),
        };

        let error = client
            .tenant(None)
            .unwrap()
            .send_message(&request)
            .await
            .unwrap_err();

        assert!(error.is_retryable(), "{error:?}");
        assert_eq!(server.requests().len(), 1, "after {error:?}");
    }
}

#[tokio::test]
async fn writes_are_retried_when_the_connection_never_opened() {
    let (_reserved, closed) = refusing_address();
    let server = TestServer::start([]).await;
    let mut config = server.config();
    config.base_url = format!("http://{closed}").parse().unwrap();
    let client = Client::new(&config).unwrap();
    let log = Arc::new(CallLog::default());

    let error = client
        .tenant(None)
        .unwrap()
        .with_call_log(Arc::clone(&log))
        .close_conversation(&close_request())
        .await
        .unwrap_err();

    assert!(
        matches!(error, Error::Transport { connect: true, .. }),
        "{error:?}"
    );
    let attempts = 1 + u64::from(config.max_retries);
    assert_eq!(log.snapshot()["POST /v1/conversations/close"], attempts);
}

#[tokio::test]
async fn transport_errors_keep_the_path_but_not_the_query() {
    let (_reserved, closed) = refusing_address();
    let server = TestServer::start([]).await;
    let mut config = server.config();
    config.base_url = format!("http://{closed}").parse().unwrap();
    config.max_retries = 0;
    let client = Client::new(&config).unwrap();

    let error = client
        .tenant(None)
        .unwrap()
        .message_history("14155550123", 7, None)
        .await
        .unwrap_err();

    let message = error.to_string();
    assert!(message.contains("/v1/messages"), "{message}");
    assert!(
        !message.contains("14155550123") && !message.contains("phoneNumber"),
        "{message}"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_backoff_limit_ends_the_call() {
    let server = TestServer::start([Reply::raw(429, "").header("retry-after", "30")]).await;
    let client = Client::new(&server.config()).unwrap();

    let error = client.tenant(None).unwrap().team().await.unwrap_err();

    assert!(
        matches!(error, Error::RateLimited { retry_after: Some(wait) } if wait == Duration::from_secs(30)),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out() {
    let server = TestServer::start([
        Reply::raw(429, "").header("retry-after", "0"),
        team_answer(),
    ])
    .await;
    let client = Client::new(&server.config()).unwrap();

    let team = client.tenant(None).unwrap().team().await.unwrap();

    assert_eq!(team.members.len(), 1);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn retries_stop_at_an_open_breaker_and_later_calls_are_not_sent() {
    let server = TestServer::start((0..10).map(|_| Reply::raw(503, ""))).await;
    let mut config = server.config();
    config.max_retries = 5;
    config.breaker = BreakerConfig {
        threshold: 2,
        cooldown: Duration::from_secs(60),
    };
    let client = Client::new(&config).unwrap();
    let log = Arc::new(CallLog::default());
    let tenant = client.tenant(None).unwrap().with_call_log(Arc::clone(&log));

    let error = tenant.inboxes().await.unwrap_err();
    assert!(
        matches!(error, Error::CircuitOpen { retry_after } if retry_after <= Duration::from_secs(60)),
        "{error:?}"
    );
    assert_eq!(
        server.requests().len(),
        2,
        "the third attempt met the open breaker"
    );
    assert_eq!(client.breaker_state(), BreakerState::Open);

    let error = tenant.team().await.unwrap_err();
    assert!(matches!(error, Error::CircuitOpen { .. }), "{error:?}");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(
        log.snapshot(),
        BTreeMap::from([("GET /v1/inboxes".to_owned(), 2)]),
        "refused calls are not counted as sent"
    );
}

#[tokio::test]
async fn each_attempt_has_its_own_timeout() {
    let server = TestServer::start([Reply::Hang, Reply::Hang]).await;
    let mut config = server.config();
    config.timeout = Duration::from_millis(100);
    config.max_retries = 1;
    let client = Client::new(&config).unwrap();

    let error = client.tenant(None).unwrap().inboxes().await.unwrap_err();

    assert!(matches!(error, Error::Timeout), "{error:?}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn secret_credentials_send_a_verifiable_jwt_and_our_request_id() {
    let server = TestServer::start([team_answer(), team_answer()]).await;
    let mut config = server.config();
    config.auth = UpstreamAuth::Secret {
        id: "secret-id".into(),
        key: secret("secret-key"),
    };
    let client = Client::new(&config).unwrap();
    let tenant = client.tenant(Some(secret("ignored caller token"))).unwrap();

    tenant
        .clone()
        .with_request_id("req-42".into())
        .team()
        .await
        .unwrap();
    tenant.team().await.unwrap();

    let requests = server.requests();
    let bearer = |index: usize| {
        let header = requests[index].headers["authorization"].to_str().unwrap();
        header.strip_prefix("Bearer ").unwrap().to_owned()
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims = HashSet::new();
    let key = DecodingKey::from_secret(b"secret-id||secret-key");
    let claims = jsonwebtoken::decode::<Value>(&bearer(0), &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["iss"], json!("secret-id"));
    assert_eq!(bearer(1), bearer(0), "the token is re-used");
    assert_eq!(requests[0].headers["x-request-id"], "req-42");
    assert!(!requests[1].headers.contains_key("x-request-id"));
    assert_eq!(requests[0].headers["accept"], "application/json");
}

#[tokio::test]
async fn pass_through_forwards_each_callers_own_bearer() {
    let server = TestServer::start([team_answer(), team_answer()]).await;
    let mut config = server.config();
    config.auth = UpstreamAuth::PassThrough;
    let client = Client::new(&config).unwrap();

    assert!(matches!(client.tenant(None), Err(Error::MissingCredential)));
    let ada = client.tenant(Some(secret("ada-token"))).unwrap();
    let bob = client.tenant(Some(secret("bob-token"))).unwrap();
    assert_ne!(ada.tenant_key(), bob.tenant_key());
    // calls are Send: they can run on spawned tasks
    tokio::spawn(async move { ada.team().await })
        .await
        .unwrap()
        .unwrap();
    bob.team().await.unwrap();

    let bearers: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.headers["authorization"].clone())
        .collect();
    assert_eq!(bearers, ["Bearer ada-token", "Bearer bob-token"]);
}

#[tokio::test]
async fn statuses_and_error_bodies_map_to_typed_errors() {
    let server = TestServer::start([
        Reply::json(
            400,
            json!({ "error": "bad_data", "message": "chat_id is invalid" }),
        ),
        Reply::raw(401, "Unauthorized"),
        Reply::raw(403, "Denied"),
        Reply::raw(404, ""),
        Reply::raw(409, ""),
    ])
    .await;
    let client = Client::new(&server.config()).unwrap();
    let tenant = client.tenant(None).unwrap();

    let Error::BadRequest { code, message } = tenant.conversation(1).await.unwrap_err() else {
        panic!("400 is a bad request");
    };
    assert_eq!(
        (code.as_deref(), message.as_deref()),
        (Some("bad_data"), Some("chat_id is invalid"))
    );
    assert!(matches!(
        tenant.conversation(1).await,
        Err(Error::Unauthorized)
    ));
    assert!(matches!(
        tenant.conversation(1).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(tenant.conversation(1).await, Err(Error::NotFound)));
    assert!(matches!(
        tenant.conversation(1).await,
        Err(Error::UnexpectedStatus { status: 409 })
    ));
    assert_eq!(server.requests().len(), 5, "none of these is retried");
}

#[tokio::test]
async fn undecodable_answers_name_the_route_but_not_the_body() {
    let server = TestServer::start([Reply::json(200, json!({ "id": "14155550100" }))]).await;
    let client = Client::new(&server.config()).unwrap();

    let error = client
        .tenant(None)
        .unwrap()
        .conversation(5)
        .await
        .unwrap_err();

    let Error::Decode { route, reason } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(route, "GET /v1/conversations/{id}");
    assert!(!error.to_string().contains("14155550100"), "{reason}");
    assert_eq!(server.requests()[0].path, "/v1/conversations/5");
}

#[tokio::test]
async fn a_base_url_path_prefix_is_kept() {
    let server = TestServer::start([team_answer()]).await;
    let mut config = server.config();
    config.base_url = server.url.join("/api/").unwrap();
    let client = Client::new(&config).unwrap();

    client.tenant(None).unwrap().team().await.unwrap();

    assert_eq!(server.requests()[0].path, "/api/v1/team");
}

/// Collects everything a `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_ids_and_reasons_but_never_secrets_phones_or_bodies() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    // While only one scoped dispatcher exists, tracing caches a callsite's interest from the
    // subscriber of whichever thread hits it first: another test's thread, with none, would
    // switch these callsites off for good. A second live dispatcher makes tracing ask all.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::callsite::rebuild_interest_cache();

    let server = TestServer::start([
        Reply::raw(503, "upstream body text"),
        Reply::json(200, json!([{ "id": 1, "text": "private message text" }]))
            .header("x-request-id", "upstream-id-77"),
        Reply::json(
            400,
            json!({ "error": "bad_data", "message": "detail of the refusal" }),
        ),
    ])
    .await;
    let mut config = server.config();
    config.auth = UpstreamAuth::Secret {
        id: "secret-id".into(),
        key: secret("the-secret-key"),
    };
    let client = Client::new(&config).unwrap();
    let tenant = client
        .tenant(None)
        .unwrap()
        .with_request_id("our-id-42".into());

    tenant
        .message_history("14155550123", 7, Some(1_700_000_000))
        .await
        .unwrap();
    let _ = tenant.conversation(1).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let token = server.requests()[0].headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    let jwt = token.strip_prefix("Bearer ").unwrap();
    for expected in [
        "retrying upstream call",
        "/v1/messages",
        "our-id-42",
        "upstream-id-77",
    ] {
        assert!(logs.contains(expected), "missing {expected:?} in:\n{logs}");
    }
    for secret in [
        "the-secret-key",
        jwt,
        "14155550123",
        "upstream body text",
        "private message text",
    ] {
        assert!(!logs.contains(secret), "{secret:?} leaked into:\n{logs}");
    }
}

/// A client of `server` whose breaker opens at the first failure, for `cooldown`.
fn hair_trigger_client(server: &TestServer, cooldown: Duration) -> Client {
    let mut config = server.config();
    config.max_retries = 0;
    config.breaker = BreakerConfig {
        threshold: 1,
        cooldown,
    };
    Client::new(&config).unwrap()
}

#[tokio::test]
async fn after_the_cooldown_a_successful_probe_closes_the_breaker() {
    let server = TestServer::start([
        Reply::raw(503, ""),
        Reply::json(200, json!([{ "id": 1, "name": "Sales" }])),
        Reply::json(200, json!([{ "id": 1, "name": "Sales" }])),
    ])
    .await;
    let client = hair_trigger_client(&server, Duration::from_millis(50));
    let tenant = client.tenant(None).unwrap();

    let error = tenant.inboxes().await.unwrap_err();
    assert!(matches!(error, Error::Server { status: 503 }), "{error:?}");
    let error = tenant.inboxes().await.unwrap_err();
    assert!(matches!(error, Error::CircuitOpen { .. }), "{error:?}");
    assert_eq!(server.requests().len(), 1);

    let start = std::time::Instant::now();
    while client.breaker_state() == BreakerState::Open {
        assert!(start.elapsed() < Duration::from_secs(5), "never half-open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(client.breaker_state(), BreakerState::HalfOpen);
    assert_eq!(tenant.inboxes().await.unwrap().len(), 1, "the probe");
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert_eq!(tenant.inboxes().await.unwrap().len(), 1);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn refusals_and_rate_limits_do_not_open_the_breaker() {
    let server = TestServer::start([
        Reply::raw(404, ""),
        Reply::raw(401, ""),
        Reply::raw(429, "").header("Retry-After", "30"),
    ])
    .await;
    let client = hair_trigger_client(&server, Duration::from_secs(60));
    let tenant = client.tenant(None).unwrap();

    for _ in 0..3 {
        let error = tenant.inboxes().await.unwrap_err();
        assert!(!matches!(error, Error::CircuitOpen { .. }), "{error:?}");
        assert_eq!(client.breaker_state(), BreakerState::Closed, "{error:?}");
    }
    assert_eq!(server.requests().len(), 3);
}
