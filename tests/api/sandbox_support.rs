//! Calling the sandbox's API and control API as a client would, for the `sandbox_*` tests.
//!
//! Phone numbers the tests invent use the 212 area code: every seeded contact has a
//! `1415555xxxx` number, so those never collide with seeded conversations.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use heymarket_gateway::config::GatewayConfig;
use heymarket_sandbox::readings::{ReadingOverride, Readings};
use heymarket_sandbox::{RateBudget, SandboxConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestSandbox, spawn_app_with, spawn_app_with_webhooks};

/// An object's field names, sorted.
pub fn keys(object: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// A sandbox configuration whose rate limit never gets in the way of a test.
pub fn roomy_config() -> SandboxConfig {
    SandboxConfig {
        rate_limit: RateBudget {
            requests: 1_000_000,
            per: Duration::from_secs(60),
        },
        ..SandboxConfig::default()
    }
}

/// A gateway taking the sandbox's webhooks (one team) that caches conversations and contacts
/// for an hour, so only events, or its own writes, can change what it shows.
pub async fn spawn_app_refreshed_by_events() -> TestApp {
    spawn_app_with_webhooks(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            config.cache.ttl_conversations = Duration::from_secs(3600);
            config.cache.ttl_contacts = Duration::from_secs(3600);
        },
    )
    .await
}

/// The gateway taking the webhooks of a sandbox of one team that plays `readings`, its entries
/// kept for an hour, so that only events and writes make it forget them.
pub async fn spawn_app_playing(readings: Readings) -> TestApp {
    let sandbox = SandboxConfig {
        teams: 1,
        readings,
        ..roomy_config()
    };
    spawn_app_with_webhooks(sandbox, |config| {
        config.cache.ttl_conversations = Duration::from_secs(3600)
    })
    .await
}

/// A gateway over a one-team sandbox that plays `readings`, with a rate limit that never gets
/// in the way.
pub async fn spawn_app_reading(readings: Readings) -> TestApp {
    spawn_app_reading_with(readings, |_| {}).await
}

/// [`spawn_app_reading`], with the gateway's configuration adjusted by `customise`.
pub async fn spawn_app_reading_with(
    readings: Readings,
    customise: impl FnOnce(&mut GatewayConfig),
) -> TestApp {
    let sandbox = SandboxConfig {
        teams: 1,
        readings,
        ..roomy_config()
    };
    spawn_app_with(sandbox, customise).await
}

/// The default readings with `changes` (`POINT=VALUE`) applied.
pub fn reading(changes: &[&str]) -> Readings {
    let changes: Vec<ReadingOverride> = changes
        .iter()
        .map(|change| change.parse().expect("a valid reading"))
        .collect();
    Readings::DEFAULT.with(&changes)
}

/// Signs `claims` as an HS256 JWT with `key`.
pub fn sign(claims: &Value, key: &str) -> String {
    let key = EncodingKey::from_secret(key.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).expect("claims serialise")
}

/// An instant as the API writes it, six fractional digits and `Z`.
pub fn timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_timestamp(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().expect("a timestamp string");
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 timestamp")
        .with_timezone(&Utc)
}

/// `value` (an RFC 3339 string) plus one microsecond.
pub fn micro_after(value: &Value) -> String {
    timestamp(parse_timestamp(value) + TimeDelta::microseconds(1))
}

/// A conversation's place in the list: `(updated, id)`, sorted descending.
pub type Key = (DateTime<Utc>, i64);

/// Whether a row of a member's list is unread for that member, whichever fields the
/// `read-state` reading gives it (`unread`, or only the documented `read`).
pub fn row_unread(row: &Value) -> bool {
    match row.get("unread") {
        Some(unread) => unread == true,
        None => row["read"] == 0,
    }
}

pub fn conversation_key(row: &Value) -> Key {
    (
        parse_timestamp(&row["updated"]),
        row["id"].as_i64().expect("an integer id"),
    )
}

/// Every row `body` selects, walking pages until nothing new comes. Tie-safe: each next page
/// is asked for 1 µs past the last row and rows at or before it are dropped. Naive: the next
/// page is asked for strictly before the last row's `updated`.
pub async fn walk_conversations(sandbox: &TestSandbox, body: Value, tie_safe: bool) -> Vec<Value> {
    let pages = walk_conversation_pages(sandbox, body, tie_safe, usize::MAX).await;
    let mut rows: Vec<Value> = Vec::new();
    for page in pages {
        let cursor = rows.last().map(conversation_key);
        rows.extend(
            page.into_iter()
                .filter(|row| cursor.is_none_or(|c| conversation_key(row) < c)),
        );
    }
    rows
}

/// The pages a walk of `body` reads, each whole as the upstream answered it, until a page
/// brings no new row or `enough` new rows were seen. Cursors as in [`walk_conversations`].
pub async fn walk_conversation_pages(
    sandbox: &TestSandbox,
    body: Value,
    tie_safe: bool,
    enough: usize,
) -> Vec<Vec<Value>> {
    let mut pages: Vec<Vec<Value>> = Vec::new();
    let mut last: Option<Value> = None;
    let mut seen = 0;
    while seen < enough {
        let mut request = body.clone();
        if let Some(last) = &last {
            request["date"] = json!(if tie_safe {
                micro_after(&last["updated"])
            } else {
                last["updated"].as_str().unwrap_or_default().to_owned()
            });
        }
        let page = sandbox.conversation_page(0, request).await;
        let cursor = last.as_ref().map(conversation_key);
        let fresh: Vec<&Value> = page
            .iter()
            .filter(|row| cursor.is_none_or(|c| conversation_key(row) < c))
            .collect();
        let Some(&last_fresh) = fresh.last() else {
            // Only rows already seen: the walk is over (the count checks catch an early end).
            break;
        };
        seen += fresh.len();
        last = Some(last_fresh.clone());
        pages.push(page);
    }
    pages
}

impl TestSandbox {
    /// A freshly signed JWT of team `team` (0-based), as `Authorization` header value.
    pub fn jwt_header(&self, team: usize) -> String {
        let credentials = &self.teams[team];
        let claims = json!({"iss": credentials.secret_id, "iat": Utc::now().timestamp()});
        let key = format!("{}||{}", credentials.secret_id, credentials.secret_key);
        format!("Bearer {}", sign(&claims, &key))
    }

    /// Sends an API request as team `team` with `authorization` (or none) and returns the raw
    /// response.
    pub async fn raw_call(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.endpoint(path));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("the sandbox answers")
    }

    /// An API call as team `team` with a fresh JWT: the status and the JSON body.
    pub async fn api(
        &self,
        team: usize,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let authorization = self.jwt_header(team);
        let response = self
            .raw_call(method, path, Some(&authorization), body.as_ref())
            .await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// `POST path` with a JSON body as team `team`.
    pub async fn api_post(&self, team: usize, path: &str, body: Value) -> (u16, Value) {
        self.api(team, Method::POST, path, Some(body)).await
    }

    /// `GET path` as team `team`.
    pub async fn api_get(&self, team: usize, path: &str) -> (u16, Value) {
        self.api(team, Method::GET, path, None).await
    }

    /// A control API call (`/_sandbox/...`), which needs no credentials.
    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let response = self.raw_call(method, path, None, body.as_ref()).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// `GET /_sandbox/teams`, entry `team` (0-based).
    pub async fn overview(&self, team: usize) -> Value {
        let (status, teams) = self.control(Method::GET, "/_sandbox/teams", None).await;
        assert_eq!(status, 200);
        teams[team].clone()
    }

    /// `GET /v1/conversations/{id}` as team `team`, which must succeed.
    pub async fn conversation(&self, team: usize, id: i64) -> Value {
        let (status, conversation) = self.api_get(team, &format!("/v1/conversations/{id}")).await;
        assert_eq!(status, 200, "{conversation}");
        conversation
    }

    /// The first page of `POST /v1/conversations` with `body`.
    pub async fn conversation_page(&self, team: usize, body: Value) -> Vec<Value> {
        let (status, page) = self.api_post(team, "/v1/conversations", body).await;
        assert_eq!(status, 200, "{page}");
        page.as_array().expect("a top-level array").clone()
    }

    /// `PUT /_sandbox/faults`.
    pub async fn set_faults(&self, faults: Value) {
        let (status, body) = self
            .control(Method::PUT, "/_sandbox/faults", Some(faults))
            .await;
        assert_eq!(status, 200, "{body}");
    }
}
