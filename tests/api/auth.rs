//! Client authentication when the gateway holds the upstream credential: JWTs verified with a
//! shared secret (HS256) or JWKS keys (RS256, ES256; from a file or a URL), the member they act
//! as, and what a refusal looks like over HTTP and WebSocket.
//!
//! Cross-tenant isolation in pass-through mode is covered by
//! `caching::tenants_never_see_each_others_data_though_their_ids_collide`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use heymarket_gateway::config::{ClientAuthConfig, JwksSource};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

use crate::binary_support::{command, spawn};
use crate::helpers::{TestApp, error_codes, spawn_app_with};
use crate::sandbox_support::roomy_config;
use crate::ws_support::{Init, connect_ws_to};

pub const SECRET: &str = "the-client-token-secret-for-tests-0123456789";
pub const AUDIENCE: &str = "heymarket-gateway";
pub const ISSUER: &str = "https://issuer.test";
const RSA_PRIVATE: &[u8] = include_bytes!("../fixtures/client-auth/rsa-private.pem");
const RSA_OTHER_PRIVATE: &[u8] = include_bytes!("../fixtures/client-auth/rsa-other-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../fixtures/client-auth/rsa-public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../fixtures/client-auth/ec-private.pem");
const VIEWER: &str = "{ viewer { databaseId } }";

pub fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).expect("a recent time")
}

/// Claims of a good token acting as `member`.
pub fn claims(member: i64) -> Value {
    json!({
        "sub": format!("user-{member}"),
        "member_id": member,
        "exp": now() + 600,
        "aud": AUDIENCE,
        "iss": ISSUER,
    })
}

fn sign(algorithm: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let header = Header {
        kid: kid.map(str::to_owned),
        ..Header::new(algorithm)
    };
    jsonwebtoken::encode(&header, claims, key).expect("signed")
}

pub fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        claims,
    )
}

/// The DER inside a PEM block (the crate reads PEM only with a feature the gateway does not need).
fn der(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).expect("PEM is text");
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).expect("PEM holds base64")
}

fn rs256_with(private_pem: &[u8], kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_der(&der(private_pem));
    sign(Algorithm::RS256, Some(kid), &key, claims)
}

fn rs256(claims: &Value) -> String {
    rs256_with(RSA_PRIVATE, "rsa-1", claims)
}

fn es256(claims: &Value) -> String {
    let key = EncodingKey::from_ec_der(&der(EC_PRIVATE));
    sign(Algorithm::ES256, Some("ec-1"), &key, claims)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/client-auth/{name}"))
}

/// HS256 with [`SECRET`] and RS256/ES256 with the fixture JWKS, audience and issuer checked.
pub fn client_auth() -> ClientAuthConfig {
    ClientAuthConfig {
        jwt_secret: Some(SECRET.into()),
        jwks: Some(JwksSource::File(fixture("jwks.json"))),
        audience: Some(AUDIENCE.to_owned()),
        issuer: Some(ISSUER.to_owned()),
        ..ClientAuthConfig::default()
    }
}

/// A production-mode gateway (gateway-held secret) whose callers authenticate with `auth`.
pub async fn spawn_jwt_app(auth: ClientAuthConfig) -> TestApp {
    spawn_app_with(roomy_config(), |config| {
        config.client_auth = Some(auth);
        config.sandbox_mode = false;
    })
    .await
}

/// POSTs `query` with `token` as the bearer (none when `None`) and `extra` headers.
pub async fn ask(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    extra: &[(&str, &str)],
) -> (u16, HeaderMap, Value) {
    ask_at(&app.http, &app.url("/graphql"), token, query, extra).await
}

async fn ask_at(
    http: &reqwest::Client,
    endpoint: &str,
    token: Option<&str>,
    query: &str,
    extra: &[(&str, &str)],
) -> (u16, HeaderMap, Value) {
    let mut request = http.post(endpoint).json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.expect("a JSON body"))
}

/// Every upstream call the sandbox has served.
pub async fn upstream_calls(app: &TestApp) -> u64 {
    app.sandbox.stats().await["routes"]
        .as_object()
        .map(|routes| routes.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

/// The `databaseId` the token's request acts as.
async fn viewer(app: &TestApp, token: &str) -> String {
    viewer_at(&app.http, &app.url("/graphql"), token).await
}

async fn viewer_at(http: &reqwest::Client, endpoint: &str, token: &str) -> String {
    let (status, _, body) = ask_at(http, endpoint, Some(token), VIEWER, &[]).await;
    assert_eq!(status, 200, "{body}");
    body["data"]["viewer"]["databaseId"]
        .as_str()
        .unwrap_or_else(|| panic!("no viewer in {body}"))
        .to_owned()
}

/// Asserts a 401 `UNAUTHENTICATED` that names `reason` and echoes nothing of `token`.
fn assert_refused(case: &str, token: &str, reason: &str, answer: &(u16, HeaderMap, Value)) {
    let (status, headers, body) = answer;
    assert_eq!(*status, 401, "{case}: {body}");
    assert_eq!(error_codes(body), ["UNAUTHENTICATED"], "{case}: {body}");
    let challenge = headers
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok());
    assert!(
        challenge.is_some_and(|value| value.starts_with("Bearer")),
        "{case}: {headers:?}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(reason), "{case}: {message:?}");
    let signature = token.rsplit('.').next().unwrap_or(token);
    if !signature.is_empty() {
        assert!(!body.to_string().contains(signature), "{case}: {body}");
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_before_any_upstream_call() {
    let app = spawn_jwt_app(client_auth()).await;
    let good = hs256(&claims(501));
    let mut parts = good.split('.');
    let (header, signature) = (parts.next().unwrap(), parts.nth(1).unwrap());
    let other_payload = URL_SAFE_NO_PAD.encode(claims(502).to_string());
    let forged = format!("{header}.{other_payload}.{signature}");
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{other_payload}.");
    let wrong_secret = sign(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(b"another-secret-of-more-than-32-bytes!!"),
        &claims(501),
    );
    let with = |change: fn(&mut Value)| {
        let mut claims = claims(501);
        change(&mut claims);
        claims
    };
    let cases = [
        ("forged payload", forged, "signature is invalid"),
        // The JWT library cannot even represent `none`: such a header does not parse.
        ("alg none", alg_none, "not a well-formed JWT"),
        ("wrong secret", wrong_secret, "signature is invalid"),
        (
            "wrong RSA key",
            rs256_with(RSA_OTHER_PRIVATE, "rsa-1", &claims(501)),
            "signature is invalid",
        ),
        (
            "unknown key id",
            rs256_with(RSA_OTHER_PRIVATE, "rsa-2", &claims(501)),
            "key this gateway does not know",
        ),
        (
            "expired",
            hs256(&with(|c| c["exp"] = json!(now() - 3600))),
            "expired",
        ),
        (
            "not yet valid",
            hs256(&with(|c| c["nbf"] = json!(now() + 3600))),
            "not valid yet",
        ),
        (
            "wrong audience",
            es256(&with(|c| c["aud"] = json!("another-service"))),
            "audience",
        ),
        (
            "wrong issuer",
            rs256(&with(|c| c["iss"] = json!("https://elsewhere.test"))),
            "issuer",
        ),
        (
            "no member claim",
            hs256(&with(|c| {
                c.as_object_mut().unwrap().remove("member_id");
            })),
            "member_id",
        ),
        ("garbage", "not-a-jwt".to_owned(), "not a well-formed JWT"),
    ];
    let before = upstream_calls(&app).await;

    for (case, token, reason) in &cases {
        let answer = ask(&app, Some(token), VIEWER, &[]).await;
        assert_refused(case, token, reason, &answer);
    }
    let missing = ask(&app, None, VIEWER, &[]).await;
    assert_refused("no token", "", "Authorization: Bearer", &missing);
    let basic = ask(
        &app,
        None,
        VIEWER,
        &[("Authorization", "Basic dXNlcjpwYXNz")],
    )
    .await;
    assert_refused("basic scheme", "", "Authorization: Bearer", &basic);

    assert_eq!(upstream_calls(&app).await, before, "no upstream call");
}

#[tokio::test]
async fn only_the_configured_algorithms_are_accepted() {
    let app = spawn_jwt_app(ClientAuthConfig {
        jwt_secret: None,
        ..client_auth()
    })
    .await;
    // The classic confusion: an HS256 token keyed with the RSA public key.
    let confused = sign(
        Algorithm::HS256,
        Some("rsa-1"),
        &EncodingKey::from_secret(RSA_PUBLIC),
        &claims(501),
    );
    let answer = ask(&app, Some(&confused), VIEWER, &[]).await;
    assert_refused("HS256 with RS256 keys", &confused, "algorithm", &answer);
    let hs = hs256(&claims(501));
    let answer = ask(&app, Some(&hs), VIEWER, &[]).await;
    assert_refused("HS256 without a secret", &hs, "algorithm", &answer);
    let key = EncodingKey::from_ec_der(&der(EC_PRIVATE));
    let mismatched = sign(Algorithm::ES256, Some("rsa-1"), &key, &claims(501));
    let answer = ask(&app, Some(&mismatched), VIEWER, &[]).await;
    assert_refused("ES256 under an RSA kid", &mismatched, "match", &answer);
    assert_eq!(upstream_calls(&app).await, 0);

    assert_eq!(viewer(&app, &rs256(&claims(501))).await, "501");
}

#[tokio::test]
async fn good_tokens_act_as_the_member_they_name() {
    let app = spawn_jwt_app(client_auth()).await;
    assert_eq!(viewer(&app, &hs256(&claims(502))).await, "502");
    assert_eq!(viewer(&app, &rs256(&claims(503))).await, "503");
    assert_eq!(viewer(&app, &es256(&claims(504))).await, "504");
    let mut as_text = claims(505);
    as_text["member_id"] = json!("505");
    assert_eq!(viewer(&app, &hs256(&as_text)).await, "505");
}

#[tokio::test]
async fn a_member_outside_the_team_is_forbidden() {
    let app = spawn_jwt_app(client_auth()).await;
    let (status, _, body) = ask(&app, Some(&hs256(&claims(999_999))), VIEWER, &[]).await;
    assert_eq!(
        (status, error_codes(&body)),
        (403, vec!["FORBIDDEN".into()])
    );
    assert_eq!(body["data"], Value::Null, "{body}");
}

#[tokio::test]
async fn a_member_outside_the_team_cannot_start_a_mutation() {
    let app = spawn_jwt_app(client_auth()).await;
    let admin = hs256(&claims(501));
    let open = "{ conversations(first: 1, filter: {status: OPEN}) { nodes { id } } }";
    let (_, _, listing) = ask(&app, Some(&admin), open, &[]).await;
    let id = listing["data"]["conversations"]["nodes"][0]["id"]
        .as_str()
        .expect("an open conversation")
        .to_owned();
    let calls_before = upstream_calls(&app).await;

    let close = format!(
        r#"mutation {{ closeConversation(input: {{conversationId: "{id}"}}) {{ conversation {{ status }} }} }}"#
    );
    let (status, _, body) = ask(&app, Some(&hs256(&claims(999_999))), &close, &[]).await;
    assert_eq!(
        (status, error_codes(&body)),
        (403, vec!["FORBIDDEN".into()]),
        "{body}"
    );
    // The team was cached by the first request: the refused mutation reached nothing upstream.
    assert_eq!(upstream_calls(&app).await, calls_before);
    let status_of = format!(r#"{{ node(id: "{id}") {{ ... on Conversation {{ status }} }} }}"#);
    let (_, _, after) = ask(&app, Some(&admin), &status_of, &[]).await;
    assert_eq!(after["data"]["node"]["status"], "OPEN", "{after}");
}

#[tokio::test]
async fn the_membership_check_and_the_query_share_one_team_call() {
    let app = spawn_jwt_app(client_auth()).await;
    let (status, _, body) = ask(
        &app,
        Some(&hs256(&claims(501))),
        "{ members { name } }",
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let members = body["data"]["members"].as_array().expect("members");
    assert!(!members.is_empty(), "{body}");
    assert_eq!(app.sandbox.calls("GET /v1/team").await, 1);
}

#[tokio::test]
async fn x_member_id_cannot_switch_to_another_member() {
    let app = spawn_jwt_app(client_auth()).await;
    let token = hs256(&claims(502));
    let (status, _, body) = ask(&app, Some(&token), VIEWER, &[("X-Member-Id", "501")]).await;
    assert_eq!(
        (status, error_codes(&body)),
        (403, vec!["FORBIDDEN".into()]),
        "{body}"
    );
    let (status, _, body) = ask(&app, Some(&token), VIEWER, &[("X-Member-Id", "502")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["databaseId"], "502");
}

#[tokio::test]
async fn a_member_outside_an_inbox_cannot_list_it() {
    let app = spawn_jwt_app(client_auth()).await;
    let admin = hs256(&claims(501));
    let (_, _, listing) = ask(
        &app,
        Some(&admin),
        "{ inboxes { id members { databaseId } } members { databaseId } }",
        &[],
    )
    .await;
    let members = listing["data"]["members"].as_array().expect("members");
    let (inbox, outsider) = listing["data"]["inboxes"]
        .as_array()
        .expect("inboxes")
        .iter()
        .find_map(|inbox| {
            let inside = inbox["members"].as_array()?;
            let outsider = members.iter().find(|member| !inside.contains(member))?;
            Some((inbox["id"].clone(), outsider["databaseId"].clone()))
        })
        .expect("an inbox without some member");
    let outsider: i64 = outsider.as_str().and_then(|id| id.parse().ok()).unwrap();
    let query =
        format!(r#"{{ conversations(filter: {{inboxIds: [{inbox}]}}) {{ nodes {{ id }} }} }}"#);

    let (_, _, body) = ask(&app, Some(&hs256(&claims(outsider))), &query, &[]).await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    let (_, _, body) = ask(&app, Some(&admin), &query, &[]).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
}

#[tokio::test]
async fn websocket_connections_authenticate_in_connection_init() {
    let app = spawn_jwt_app(client_auth()).await;
    let expired = {
        let mut claims = claims(501);
        claims["exp"] = json!(now() - 3600);
        hs256(&claims)
    };
    for payload in [
        json!({}),
        json!({ "Authorization": "Bearer not-a-jwt" }),
        json!({ "Authorization": format!("Bearer {expired}") }),
    ] {
        match app.connect_ws(payload.clone()).await {
            Init::Closed { code, .. } => assert_eq!(code, 4403, "{payload}"),
            Init::Acknowledged(_) => panic!("{payload} was accepted"),
        }
    }

    let token = es256(&claims(503));
    let mut subscriber = app
        .subscriber(json!({ "Authorization": format!("Bearer {token}") }))
        .await;
    subscriber.subscribe(VIEWER, Value::Null).await;
    let result = subscriber.next_result().await;
    assert_eq!(result["data"]["viewer"]["databaseId"], "503", "{result}");
}

#[tokio::test]
async fn a_websocket_may_authenticate_in_its_upgrade_headers() {
    let app = spawn_jwt_app(client_auth()).await;
    let bearer = format!("Bearer {}", rs256(&claims(504)));
    let url = format!("ws://{}/graphql", app.addr);
    let init = connect_ws_to(&url, &[("Authorization", &bearer)], json!({})).await;
    assert!(matches!(init, Init::Acknowledged(_)), "connection refused");
}

/// Serves a JWKS document that the test swaps, or 503 while it has none, counting fetches.
struct JwksServer {
    url: Url,
    document: Arc<Mutex<Option<Value>>>,
    fetches: Arc<AtomicUsize>,
    _stop: DropGuard,
}

impl JwksServer {
    async fn start(document: Option<&str>) -> Self {
        let document = Arc::new(Mutex::new(document.map(jwks)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (Arc::clone(&document), Arc::clone(&fetches));
        let router = Router::new().route(
            "/jwks.json",
            get(move || async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let document = served.lock().unwrap().clone();
                match document {
                    Some(document) => axum::Json(document).into_response(),
                    None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/jwks.json", listener.local_addr().expect("bound"));
        let stop = CancellationToken::new();
        let serving =
            axum::serve(listener, router).with_graceful_shutdown(stop.clone().cancelled_owned());
        tokio::spawn(async move { serving.await });
        Self {
            url: url.parse().expect("a URL"),
            document,
            fetches,
            _stop: stop.drop_guard(),
        }
    }

    fn serve(&self, name: &str) {
        *self.document.lock().unwrap() = Some(jwks(name));
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn jwks(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).expect("a fixture");
    serde_json::from_str(&text).expect("JSON")
}

fn url_auth(url: &Url, refetch_interval: Duration) -> ClientAuthConfig {
    ClientAuthConfig {
        jwt_secret: None,
        jwks: Some(JwksSource::Url(url.clone())),
        jwks_refetch_interval: refetch_interval,
        ..client_auth()
    }
}

#[tokio::test]
async fn a_jwks_url_down_at_start_is_used_once_it_answers_and_again_after_rotation() {
    let jwks = JwksServer::start(None).await;
    let app = spawn_jwt_app(url_auth(&jwks.url, Duration::ZERO)).await;

    let token = rs256(&claims(502));
    let answer = ask(&app, Some(&token), VIEWER, &[]).await;
    assert_refused("keys unavailable", &token, "not available", &answer);

    jwks.serve("jwks.json");
    assert_eq!(viewer(&app, &token).await, "502");
    assert_eq!(viewer(&app, &es256(&claims(503))).await, "503");

    jwks.serve("jwks-rotated.json");
    let rotated = rs256_with(RSA_OTHER_PRIVATE, "rsa-2", &claims(504));
    assert_eq!(viewer(&app, &rotated).await, "504");
}

#[tokio::test]
async fn unknown_key_ids_refetch_the_jwks_at_most_once_per_interval() {
    let jwks = JwksServer::start(Some("jwks.json")).await;
    let app = spawn_jwt_app(url_auth(&jwks.url, Duration::from_secs(3600))).await;
    assert_eq!(viewer(&app, &rs256(&claims(502))).await, "502");
    assert_eq!(jwks.fetches(), 1);

    jwks.serve("jwks-rotated.json");
    for member in [503, 504, 505] {
        let token = rs256_with(RSA_OTHER_PRIVATE, "rsa-2", &claims(member));
        let answer = ask(&app, Some(&token), VIEWER, &[]).await;
        assert_refused("unknown kid", &token, "does not know", &answer);
    }
    assert_eq!(jwks.fetches(), 1, "refetching waits for the interval");
}

/// Collects everything a `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Asserts that `logs` hold `expected` (so the capture worked) and none of `secrets`.
fn assert_clean(logs: &str, expected: &str, secrets: &[&str]) {
    assert!(logs.contains(expected), "missing {expected:?} in:\n{logs}");
    for secret in secrets {
        assert!(!logs.contains(secret), "{secret:?} leaked into:\n{logs}");
    }
}

#[tokio::test]
async fn tokens_and_secrets_stay_out_of_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runs on one thread, where the gateway's tasks run too. A second live dispatcher
    // keeps tracing from caching callsite interest taken from another test's thread.
    let _default = tracing::subscriber::set_default(subscriber);
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::callsite::rebuild_interest_cache();

    let app = spawn_jwt_app(client_auth()).await;
    let good = [hs256(&claims(502)), rs256(&claims(503))];
    let expired = {
        let mut claims = claims(501);
        claims["exp"] = json!(now() - 3600);
        hs256(&claims)
    };
    let forged = format!("{}x", &good[0][..good[0].len() - 1]);
    for token in &good {
        viewer(&app, token).await;
    }
    for token in [&expired, &forged] {
        assert_eq!(ask(&app, Some(token), VIEWER, &[]).await.0, 401);
    }
    let refused = app
        .connect_ws(json!({ "Authorization": format!("Bearer {expired}") }))
        .await;
    assert!(matches!(refused, Init::Closed { code: 4403, .. }));

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let team = &app.sandbox.teams[0];
    let rsa_line = String::from_utf8_lossy(RSA_PRIVATE)
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    let mut secrets = vec![
        SECRET,
        &team.secret_key,
        &team.api_key,
        &rsa_line,
        &expired,
        &forged,
    ];
    secrets.extend(good.iter().map(String::as_str));
    assert_clean(&logs, "request refused", &secrets);
}

#[tokio::test]
async fn serve_logs_neither_its_credentials_nor_client_tokens() {
    let sandbox = crate::helpers::spawn_sandbox(roomy_config()).await;
    let team = &sandbox.teams[0];
    let mut serve = command(&["serve", "--listen", "127.0.0.1:0", "--log-format", "json"]);
    serve
        .env("RUST_LOG", "debug")
        .env("HEYMARKET_UPSTREAM_URL", sandbox.url.as_str())
        .env("HEYMARKET_SECRET_ID", &team.secret_id)
        .env("HEYMARKET_SECRET_KEY", &team.secret_key)
        .env("HEYMARKET_CLIENT_JWT_SECRET", SECRET)
        .env("HEYMARKET_CLIENT_JWT_AUDIENCE", AUDIENCE)
        .env("HEYMARKET_CLIENT_JWT_ISSUER", ISSUER);
    let mut serve = spawn(serve);
    let addr = serve
        .read_until(|line| {
            line.split_whitespace().find_map(|word| {
                word.strip_prefix("http://")?
                    .strip_suffix("/graphql")
                    .map(str::to_owned)
            })
        })
        .await;
    let endpoint = format!("http://{addr}/graphql");
    let http = reqwest::Client::new();

    let good = hs256(&claims(502));
    let expired = {
        let mut claims = claims(501);
        claims["exp"] = json!(now() - 3600);
        hs256(&claims)
    };
    assert_eq!(viewer_at(&http, &endpoint, &good).await, "502");
    let refused = ask_at(&http, &endpoint, Some(&expired), VIEWER, &[]).await;
    assert_eq!(refused.0, 401);
    serve.child.start_kill().expect("the child can be stopped");
    let (banner, logs) = serve.finish().await;
    let secrets = [SECRET, &team.secret_key, &good, &expired];
    assert_clean(&logs, "request refused", &secrets);
    assert_clean(&banner, "JWT", &secrets);
}
