//! Starting servers on port 0 and talking to them like a client would.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use heymarket_gateway::App;
use heymarket_gateway::config::{
    GatewayConfig, LimitsConfig, RateBudget, UpstreamAuth, UpstreamConfig, WebhookToken,
};
use heymarket_sandbox::{Sandbox, SandboxConfig, TeamCredentials};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

/// Logs are silent unless `TEST_LOG` is set, and then go to the test's output.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,heymarket_gateway=debug,heymarket_sandbox=debug")
            .with_test_writer()
            .try_init();
    }
});

/// The sandbox's budget with the numbers of the gateway's: for tests where the gateway spends
/// exactly what the sandbox allows (the two crates each have their own budget type).
pub fn sandbox_budget(budget: RateBudget) -> heymarket_sandbox::RateBudget {
    heymarket_sandbox::RateBudget {
        requests: budget.requests,
        per: budget.per,
    }
}

/// A sandbox running on a free loopback port; stops when dropped.
pub struct TestSandbox {
    pub addr: SocketAddr,
    pub url: Url,
    pub teams: Vec<TeamCredentials>,
    pub http: reqwest::Client,
    _stop: DropGuard,
}

/// Seeds and starts a sandbox with `config` on `127.0.0.1:0`.
pub async fn spawn_sandbox(config: SandboxConfig) -> TestSandbox {
    LazyLock::force(&TRACING);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let sandbox = Sandbox::new(listener, config).expect("sandbox starts");
    let addr = sandbox.local_addr();
    let url = sandbox.base_url();
    let teams = sandbox.teams().to_vec();
    let stop = CancellationToken::new();
    tokio::spawn(sandbox.run_until_stopped(stop.clone().cancelled_owned()));
    TestSandbox {
        addr,
        url,
        teams,
        http: reqwest::Client::new(),
        _stop: stop.drop_guard(),
    }
}

impl TestSandbox {
    /// `base_url` joined with `path` (which starts with `/`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Upstream settings that call this sandbox as team `n` (0-based) with its API secret,
    /// retrying quickly so fault tests stay fast, with a client budget that never throttles
    /// (tests of the limiter set their own).
    pub fn upstream_config(&self, team: usize) -> UpstreamConfig {
        let team = &self.teams[team];
        UpstreamConfig {
            base_url: self.url.clone(),
            auth: UpstreamAuth::Secret {
                id: team.secret_id.clone(),
                key: team.secret_key.clone().into(),
            },
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(50),
            rate_limit: RateBudget {
                requests: 1_000_000,
                per: Duration::from_secs(60),
            },
            ..UpstreamConfig::default()
        }
    }

    /// `GET /_sandbox/stats`.
    pub async fn stats(&self) -> Value {
        self.http
            .get(self.endpoint("/_sandbox/stats"))
            .send()
            .await
            .expect("stats answer")
            .json()
            .await
            .expect("stats are JSON")
    }

    /// How many upstream requests `route` (e.g. `GET /v1/team`) has served.
    pub async fn calls(&self, route: &str) -> u64 {
        self.stats().await["routes"][route].as_u64().unwrap_or(0)
    }

    /// Upstream calls by route since the last time they were taken, and counting anew.
    pub async fn take_calls(&self) -> BTreeMap<String, u64> {
        let stats = self.stats().await;
        let reset = self
            .http
            .post(self.endpoint("/_sandbox/stats/reset"))
            .send()
            .await
            .expect("the sandbox resets its counters");
        assert!(reset.status().is_success(), "{}", reset.status());
        json_at(&stats, "/routes")
    }
}

/// The gateway in front of its sandbox, both on free ports; both stop when dropped (the sandbox
/// when the last gateway in front of it does).
pub struct TestApp {
    pub addr: SocketAddr,
    pub sandbox: Arc<TestSandbox>,
    /// The settings it started with, for starting replicas like it.
    pub config: GatewayConfig,
    pub http: reqwest::Client,
    _stop: DropGuard,
}

/// A gateway in sandbox mode over a fresh default sandbox, calling it as the first team.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(SandboxConfig::default(), |_| {}).await
}

/// A gateway over a sandbox built from `sandbox_config`; `customise` adjusts the gateway's
/// settings before it starts.
pub async fn spawn_app_with(
    sandbox_config: SandboxConfig,
    customise: impl FnOnce(&mut GatewayConfig),
) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let sandbox = Arc::new(spawn_sandbox(sandbox_config).await);
    start_app(listener, sandbox, customise).await
}

/// Like [`spawn_app_with`], with the sandbox delivering its webhooks to the gateway, which
/// accepts every sandbox team's token.
pub async fn spawn_app_with_webhooks(
    sandbox_config: SandboxConfig,
    customise: impl FnOnce(&mut GatewayConfig),
) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let webhook_url = format!(
        "http://{}/webhooks/heymarket",
        listener.local_addr().expect("bound")
    );
    let sandbox_config = SandboxConfig {
        webhook_url: Some(webhook_url.parse().expect("a URL")),
        ..sandbox_config
    };
    let sandbox = Arc::new(spawn_sandbox(sandbox_config).await);
    let tokens: Vec<WebhookToken> = sandbox
        .teams
        .iter()
        .map(|team| WebhookToken {
            team_id: Some(team.team_id),
            token: team.webhook_token.clone().into(),
        })
        .collect();
    start_app(listener, sandbox, |config| {
        config.webhooks.tokens = tokens;
        customise(config);
    })
    .await
}

async fn start_app(
    listener: TcpListener,
    sandbox: Arc<TestSandbox>,
    customise: impl FnOnce(&mut GatewayConfig),
) -> TestApp {
    let mut config = GatewayConfig {
        listen: listener.local_addr().expect("bound"),
        upstream: sandbox.upstream_config(0),
        // Tests of the client rate limit set their own.
        limits: LimitsConfig {
            client_rate_limit: RateBudget {
                requests: 1_000_000,
                per: Duration::from_secs(60),
            },
            ..LimitsConfig::default()
        },
        sandbox_mode: true,
        ..GatewayConfig::default()
    };
    customise(&mut config);
    let app = App::with_listener(listener, config.clone()).expect("gateway starts");
    let addr = app.local_addr();
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone().cancelled_owned()));
    TestApp {
        addr,
        sandbox,
        config,
        http: reqwest::Client::new(),
        _stop: stop.drop_guard(),
    }
}

impl TestApp {
    /// Another gateway with this one's settings in front of the same sandbox (a replica).
    pub async fn replica(&self) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let config = self.config.clone();
        start_app(listener, Arc::clone(&self.sandbox), |replica| {
            *replica = GatewayConfig {
                listen: replica.listen,
                ..config
            }
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POSTs an operation to `/graphql` and returns the status and the JSON body.
    pub async fn graphql_with(
        &self,
        query: &str,
        variables: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Runs `query` as team member `member` (`X-Member-Id`); the body of its 200 answer.
    pub async fn graphql_as(&self, member: i64, query: &str, variables: Value) -> Value {
        let member = member.to_string();
        let (status, body) = self
            .graphql_with(query, variables, &[("X-Member-Id", &member)])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `GET /readyz`: the status and the JSON body.
    pub async fn readyz(&self) -> (u16, Value) {
        let response = self
            .http
            .get(self.url("/readyz"))
            .send()
            .await
            .expect("gateway answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// `GET /metrics`: the Prometheus text as served.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics answer");
        assert_eq!(response.status(), 200);
        response.text().await.expect("a text body")
    }

    /// Whether `/readyz` answers 200.
    pub async fn is_ready(&self) -> bool {
        self.readyz().await.0 == 200
    }

    /// POSTs an operation without extra headers and returns the JSON body.
    pub async fn graphql(&self, query: &str) -> Value {
        self.graphql_with(query, Value::Null, &[]).await.1
    }
}

/// A global id spelled by hand (`"Conversation:17"`, or something malformed on purpose): the
/// URL-safe, unpadded base64 the schema's ids use.
pub fn global(plain: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain)
}

/// The `extensions.code` of every error in a GraphQL response.
pub fn error_codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    error["extensions"]["code"]
                        .as_str()
                        .unwrap_or("<none>")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// How long [`eventually`] and [`eventually_ok`] keep polling before failing the test.
const EVENTUALLY: Duration = Duration::from_secs(10);

/// Polls `condition` until it holds; fails the test after ten seconds.
pub async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    eventually_ok(what, async || {
        if condition().await {
            Ok(())
        } else {
            Err("the condition false")
        }
    })
    .await;
}

/// Polls `attempt` until it answers `Ok`, and answers what that held; fails the test after ten
/// seconds, showing the last `Err` (what the last attempt saw instead).
pub async fn eventually_ok<T, E: std::fmt::Display>(
    what: &str,
    mut attempt: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; the last attempt saw {seen}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The value at `pointer` (a JSON pointer such as `/data/conversation/id`) in `body`, read as
/// `T`; a missing or differently shaped value fails the test with the whole body in the
/// message.
pub fn json_at<T: DeserializeOwned>(body: &Value, pointer: &str) -> T {
    let value = body
        .pointer(pointer)
        .unwrap_or_else(|| panic!("nothing at {pointer} in {body}"));
    T::deserialize(value).unwrap_or_else(|error| panic!("{pointer} ({error}) in {body}"))
}

/// The `databaseId` of a node: an integer spelled as a string.
pub fn database_id(node: &Value) -> i64 {
    json_at::<String>(node, "/databaseId")
        .parse()
        .unwrap_or_else(|error| panic!("databaseId ({error}) in {node}"))
}

/// The upstream calls an answer reports it cost, by route
/// (`extensions.cost.upstreamCallsByRoute`).
pub fn cost(body: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(body["extensions"]["cost"]["upstreamCallsByRoute"].clone())
        .unwrap_or_else(|error| panic!("no calls by route ({error}) in {body}"))
}

/// Calls by route, as [`cost`] reports them.
pub fn routes(expected: &[(&str, u64)]) -> BTreeMap<String, u64> {
    expected
        .iter()
        .map(|(route, count)| ((*route).to_owned(), *count))
        .collect()
}

/// The newest open conversations of `inboxes` (five, with their ids, customers and instants: list
/// pages, and nothing else to fetch), as the default member, insisting on an error-free answer.
pub async fn newest_open(app: &TestApp, inboxes: &[i64]) -> Value {
    const NEWEST_OPEN: &str = r#"query($inboxes: [ID!]) {
      conversations(first: 5, filter: { inboxIds: $inboxes, status: OPEN }) {
        nodes { databaseId target updatedAt }
      }
    }"#;
    let inboxes: Vec<String> = inboxes
        .iter()
        .map(|inbox| global(&format!("Inbox:{inbox}")))
        .collect();
    let body = app
        .graphql_with(NEWEST_OPEN, json!({ "inboxes": inboxes }), &[])
        .await
        .1;
    assert_eq!(body["errors"], Value::Null, "{body}");
    body
}
