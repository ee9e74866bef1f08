//! Request ids, `/metrics` and the per-operation log line, seen from outside: metrics are
//! scraped and parsed like Prometheus would, logs read from the binary's stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use heymarket_gateway::config::BreakerConfig;
use heymarket_sandbox::SandboxConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::binary_support::{default_run, start};
use crate::helpers::{
    TestApp, error_codes, eventually_ok, json_at, spawn_app, spawn_app_with,
    spawn_app_with_webhooks,
};
use crate::ws_support::inbound;

const DEADLINE: Duration = Duration::from_secs(10);
const PREFIX: &str = "heymarket_gateway_";
const DASHBOARD: &str = "query Dashboard { conversations(first: 10) { nodes { \
    contact { displayName } lastMessage { text } } } }";

/// One sample of the text format: `name{label="value",…} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, parse_labels(labels.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

fn parse_labels(mut text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while let Some((key, rest)) = text.split_once("=\"") {
        let end = rest.find('"').expect("a closing quote");
        labels.insert(key.to_owned(), rest[..end].to_owned());
        text = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

struct Scrape(Vec<Sample>);

impl Scrape {
    /// The sum of `name`'s samples whose labels include every one of `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|sample| sample.name == format!("{PREFIX}{name}"))
            .filter(|sample| {
                labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(value))
            })
            .map(|sample| sample.value)
            .sum()
    }

    /// Every value `label` takes among `name`'s samples.
    fn label_values(&self, name: &str, label: &str) -> BTreeSet<String> {
        self.0
            .iter()
            .filter(|sample| sample.name == format!("{PREFIX}{name}"))
            .filter_map(|sample| sample.labels.get(label).cloned())
            .collect()
    }
}

async fn scrape(app: &TestApp) -> Scrape {
    Scrape(parse(&app.metrics().await))
}

/// Scrapes until `done` holds, failing at the deadline with the last scrape.
async fn scrape_until(app: &TestApp, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    eventually_ok(what, async || {
        let text = app.metrics().await;
        let scraped = Scrape(parse(&text));
        if done(&scraped) {
            Ok(scraped)
        } else {
            Err(text)
        }
    })
    .await
}

#[tokio::test]
async fn a_query_moves_request_upstream_cache_and_batch_metrics() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    let ok = [("operation", "Dashboard"), ("outcome", "ok")];
    assert_eq!(before.sum("graphql_requests_total", &ok), 0.0);

    let first = app.graphql(DASHBOARD).await;
    assert_eq!(first["errors"], Value::Null, "{first}");

    let after = scrape(&app).await;
    assert_eq!(after.sum("graphql_requests_total", &ok), 1.0);
    assert_eq!(
        after.sum("graphql_request_duration_seconds_count", &ok),
        1.0
    );
    // One batch per loader for the whole page: its 10 contacts, and its 10 last messages.
    let batched = scrape_until(&app, "one batch per loader", |scraped| {
        ["contacts", "last_messages"]
            .iter()
            .all(|loader| scraped.sum("dataloader_batch_size_count", &[("loader", loader)]) == 1.0)
    })
    .await;
    for loader in ["contacts", "last_messages"] {
        let keys = batched.sum("dataloader_batch_size_sum", &[("loader", loader)]);
        assert_eq!(keys, 10.0, "{loader}");
    }
    let routes = after.label_values("upstream_requests_total", "route");
    assert!(!routes.is_empty());
    assert!(
        routes.iter().all(|route| !route
            .split('/')
            .any(|segment| segment.bytes().all(|b| b.is_ascii_digit()))),
        "routes are templates, never concrete ids: {routes:?}"
    );
    // The page's rows are prefetched in the background: wait until the sandbox and the
    // gateway agree on every route.
    eventually_ok(
        "the gateway's and the sandbox's counts to agree",
        async || {
            let scraped = scrape(&app).await;
            let sandbox: BTreeMap<String, f64> = json_at(&app.sandbox.stats().await, "/routes");
            let gateway: BTreeMap<String, f64> = sandbox
                .keys()
                .map(|route| {
                    let count = scraped.sum("upstream_requests_total", &[("route", route)]);
                    (route.clone(), count)
                })
                .collect();
            if gateway == sandbox && !sandbox.is_empty() {
                Ok(())
            } else {
                Err(format!("gateway {gateway:?} vs sandbox {sandbox:?}"))
            }
        },
    )
    .await;

    let hits_before = scrape(&app)
        .await
        .sum("cache_requests_total", &[("result", "hit")]);
    let again = app.graphql(DASHBOARD).await;
    assert_eq!(again["errors"], Value::Null, "{again}");
    let repeated = scrape(&app).await;
    assert!(repeated.sum("cache_requests_total", &[("result", "hit")]) > hits_before);
    assert_eq!(repeated.sum("graphql_requests_total", &ok), 2.0);
}

#[tokio::test]
async fn failed_operations_are_counted_by_error_code() {
    let app = spawn_app().await;
    let (_, body) = app
        .graphql_with(
            "query Missing { node(id: \"bm90IGFuIGlk\") { id } }",
            Value::Null,
            &[],
        )
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    let scraped = scrape(&app).await;
    assert_eq!(
        scraped.sum(
            "graphql_requests_total",
            &[("operation", "Missing"), ("outcome", "BAD_USER_INPUT")]
        ),
        1.0,
        "{body}"
    );
}

#[tokio::test]
async fn the_circuit_gauge_and_readiness_report_an_open_breaker() {
    let app = spawn_app_with(SandboxConfig::default(), |config| {
        config.upstream.max_retries = 0;
        config.upstream.check_ttl = Duration::ZERO;
        config.upstream.breaker = BreakerConfig {
            threshold: 1,
            cooldown: Duration::from_secs(600),
        };
    })
    .await;
    assert_eq!(scrape(&app).await.sum("upstream_circuit_state", &[]), 0.0);
    app.sandbox.set_faults(json!({"error_rate": 1.0})).await;

    let body = app.graphql("{ team { name } }").await;

    assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
    assert_eq!(scrape(&app).await.sum("upstream_circuit_state", &[]), 2.0);
    let (status, ready) = app.readyz().await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["upstream"], "down", "{ready}");
}

#[tokio::test]
async fn the_subscription_gauge_follows_an_open_subscription() {
    let app = spawn_app().await;
    let active = |scraped: &Scrape| scraped.sum("subscriptions_active", &[]);
    assert_eq!(active(&scrape(&app).await), 0.0);

    let mut subscriber = app.subscriber(json!({})).await;
    subscriber
        .subscribe("subscription { messageAdded { text } }", json!({}))
        .await;
    scrape_until(&app, "one active subscription", |s| active(s) == 1.0).await;

    drop(subscriber);
    scrape_until(&app, "no active subscription", |s| active(s) == 0.0).await;
}

#[tokio::test]
async fn webhook_deliveries_are_counted_by_type_and_result() {
    let app = spawn_app_with_webhooks(
        SandboxConfig {
            teams: 1,
            ..SandboxConfig::default()
        },
        |_| {},
    )
    .await;
    inbound(&app, 101, 3001, "12125550177", "hello").await;
    let accepted = [("type", "message_recieved"), ("result", "accepted")];
    scrape_until(&app, "an accepted delivery", |s| {
        s.sum("webhook_events_total", &accepted) >= 1.0
    })
    .await;

    let refused = app
        .http
        .post(app.url("/webhooks/heymarket"))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(refused.status(), 400);
    let scraped = scrape(&app).await;
    assert_eq!(
        scraped.sum(
            "webhook_events_total",
            &[("type", "unknown"), ("result", "malformed")]
        ),
        1.0
    );
}

fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .expect("a request id")
        .to_str()
        .expect("ASCII")
        .to_owned()
}

#[tokio::test]
async fn request_ids_are_echoed_generated_or_replaced_on_every_response() {
    let app = spawn_app().await;
    let send = |id: Option<&str>, path: &str| {
        let mut request = app
            .http
            .post(app.url(path))
            .json(&json!({ "query": "{ inboxes { name } }" }));
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        request.send()
    };

    let supplied = "4f9c2b7e-1d3a-4c5b-9e8f-0a1b2c3d4e5f";
    let echoed = send(Some(supplied), "/graphql").await.expect("answers");
    assert_eq!(request_id(&echoed), supplied);

    let first = request_id(&send(None, "/graphql").await.expect("answers"));
    let second = request_id(&send(None, "/graphql").await.expect("answers"));
    assert!(!first.is_empty() && first != second, "{first} {second}");

    let insane = "x".repeat(200);
    let replaced = request_id(&send(Some(&insane), "/graphql").await.expect("answers"));
    assert!(!replaced.is_empty() && replaced != insane);

    let not_found = send(Some(supplied), "/no-such-path")
        .await
        .expect("answers");
    assert_eq!(not_found.status(), 404);
    assert_eq!(request_id(&not_found), supplied);
    for path in ["/healthz", "/metrics", "/graphiql"] {
        let response = app.http.get(app.url(path)).send().await.expect("answers");
        assert!(!request_id(&response).is_empty(), "{path}");
    }
}

/// Starts the default run on free ports with `extra` arguments and `env`; answers the process
/// (its stderr piped) and its GraphQL endpoint.
async fn start_binary(extra: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut command = default_run(extra);
    command.envs(env.iter().copied()).stderr(Stdio::piped());
    let run = start(command).await;
    (run.child, format!("{}graphql", run.graphiql))
}
/// The binary's JSON logs: one line per operation with its id, name, duration and upstream
/// calls; and the upstream (the sandbox) saw the same id, which it echoes back.
#[tokio::test]
async fn the_binary_logs_each_operation_and_sends_its_id_upstream() {
    let env = [
        ("HEYMARKET_LOG_FORMAT", "json"),
        ("RUST_LOG", "warn,heymarket_gateway=debug"),
    ];
    let (mut child, endpoint) = start_binary(&[], &env).await;

    let id = "0d6f3a52-8b1e-4c7d-a9f0-123456789abc";
    let response = reqwest::Client::new()
        .post(endpoint)
        .header("x-request-id", id)
        .json(&json!({ "query": "query Inboxes { inboxes { name } }" }))
        .send()
        .await
        .expect("GraphQL answers");
    assert_eq!(request_id(&response), id);

    let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let (mut operation, mut upstream) = (None, None);
    tokio::time::timeout(DEADLINE, async {
        while operation.is_none() || upstream.is_none() {
            let line = stderr.next_line().await.expect("readable").expect("a line");
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if event["message"] == "operation finished" && event["request_id"] == id {
                operation = Some(event);
            } else if event["span"]["upstream_request_id"] == id {
                upstream = Some(event);
            }
        }
    })
    .await
    .expect("both log lines within the deadline");

    let operation = operation.expect("found");
    assert_eq!(operation["level"], "INFO");
    assert_eq!(operation["operation"], "Inboxes");
    assert_eq!(operation["operation_type"], "query");
    assert_eq!(operation["outcome"], "ok");
    assert!(operation["duration_ms"].is_u64(), "{operation}");
    assert!(
        operation["upstream_calls"].as_u64() >= Some(1),
        "{operation}"
    );
    assert!(operation["upstream_ms"].is_u64(), "{operation}");
    let upstream = upstream.expect("found");
    assert_eq!(upstream["span"]["request_id"], id, "{upstream}");
    child.kill().await.expect("the process stops");
}

/// Span export, in builds with the `otel` feature.
#[cfg(feature = "otel")]
mod otlp {
    use axum::Router;
    use axum::body::Bytes;
    use axum::http::header::CONTENT_TYPE;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use serde_json::{Value, json};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::{DEADLINE, start_binary};

    /// With `--otlp-endpoint`, spans reach a collector as OTLP/HTTP protobuf at `/v1/traces`.
    #[tokio::test]
    async fn spans_are_exported_to_an_otlp_collector() {
        let (bodies, mut received) = mpsc::unbounded_channel::<(Option<String>, Bytes)>();
        let collector = Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| async move {
                let content_type = headers
                    .get(CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                let _ = bodies.send((content_type, body));
                StatusCode::OK
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let collector_url = format!("http://{}", listener.local_addr().expect("bound"));
        tokio::spawn(async move { axum::serve(listener, collector).await });

        // Batches leave every 100 ms instead of the default 5 s.
        let env = [("OTEL_BSP_SCHEDULE_DELAY", "100")];
        let (mut child, endpoint) = start_binary(&["--otlp-endpoint", &collector_url], &env).await;
        let answer: Value = reqwest::Client::new()
            .post(endpoint)
            .json(&json!({ "query": "{ inboxes { name } }" }))
            .send()
            .await
            .expect("GraphQL answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["errors"], Value::Null, "{answer}");

        let (content_type, body) = tokio::time::timeout(DEADLINE, async {
            loop {
                let (content_type, body) = received.recv().await.expect("the collector runs");
                if !body.is_empty() {
                    return (content_type, body);
                }
            }
        })
        .await
        .expect("spans within the deadline");
        assert_eq!(content_type.as_deref(), Some("application/x-protobuf"));
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("heymarket-gateway"), "the service is named");
        child.kill().await.expect("the process stops");
    }
}
