//! Documents written to take the gateway down: nested far beyond any real query, or with
//! fragments that multiply, sent every way an operation can arrive. Each is refused with a
//! coded error, and the process keeps serving. Most run against the real binary, where a crash
//! is a dead process rather than a failed test thread, and its CPU time and memory can be read.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::binary_support::{DefaultRun, default_run, start};
use crate::helpers::error_codes;
use crate::ws_support::{Init, connect_ws_to};

/// Far deeper than anything the gateway accepts: 8,000 brackets, 16 KB.
const DEPTH: usize = 8_000;

/// `open`, `DEPTH` times, around `inner`, then as many `close`.
fn nested(open: &str, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(DEPTH), close.repeat(DEPTH))
}

/// `{ ...F0 }` where each of `levels` fragments spreads the next twice: 2^levels typenames.
fn fan_out(levels: usize) -> String {
    let mut query = String::from("{ ...F0 }\n");
    for level in 0..levels {
        let next = level + 1;
        query.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
        ));
    }
    query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    query
}

/// Every place a literal can nest in a document.
fn deep_documents() -> Vec<(&'static str, String)> {
    vec![
        (
            "list argument",
            format!("{{ nodes(ids: {}) {{ id }} }}", nested("[", "\"x\"", "]")),
        ),
        (
            "object argument",
            format!(
                "{{ conversations(filter: {}) {{ totalCount }} }}",
                nested("{a: ", "1", "}")
            ),
        ),
        (
            "directive argument",
            format!(
                "{{ viewer @include(if: {}) {{ id }} }}",
                nested("[", "true", "]")
            ),
        ),
        (
            "variable default",
            format!(
                "query($ids: [ID!] = {}) {{ nodes(ids: $ids) {{ id }} }}",
                nested("[", "\"x\"", "]")
            ),
        ),
        (
            "selection set",
            format!("{}{}", "{ viewer ".repeat(DEPTH / 2), "}".repeat(DEPTH / 2)),
        ),
    ]
}

/// The gateway as people run it, with its GraphQL endpoint.
struct Gateway {
    run: DefaultRun,
    endpoint: String,
    http: reqwest::Client,
}

impl Gateway {
    async fn start(extra: &[&str]) -> Self {
        let mut command = default_run(extra);
        command.stderr(Stdio::null());
        let run = start(command).await;
        let endpoint = format!("{}graphql", run.graphiql);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        Self {
            run,
            endpoint,
            http,
        }
    }

    /// POSTs `body`, asking for the GraphQL response media type: its status and JSON.
    async fn post(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(&self.endpoint)
            .header("accept", "application/graphql-response+json")
            .json(&body)
            .send()
            .await
            .expect("the gateway answers");
        (
            response.status().as_u16(),
            response.json().await.expect("JSON"),
        )
    }

    /// Whether the process still runs and answers its health check.
    async fn alive(&mut self) -> bool {
        let exited = self
            .run
            .child
            .try_wait()
            .expect("the process can be waited on");
        let health = self
            .http
            .get(self.endpoint.replace("/graphql", "/healthz"))
            .send()
            .await;
        exited.is_none() && health.is_ok_and(|answer| answer.status() == 200)
    }

    /// The process's CPU time so far (user and system) and its resident memory, from `/proc`.
    fn usage(&self) -> Usage {
        let pid = self.run.child.id().expect("a running process");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("its stat");
        // Fields after the command name (which may hold spaces), which ends at the last `)`.
        let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..]
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
        let rss_kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
            .expect("a resident set size");
        Usage {
            // The kernel counts CPU time in ticks of 1/100 s on Linux (USER_HZ).
            cpu: Duration::from_millis(ticks * 10),
            rss_kib,
        }
    }
}

struct Usage {
    cpu: Duration,
    rss_kib: u64,
}

/// A refusal for the named limit, before anything ran.
fn assert_limit(what: &str, status: u16, body: &Value, limit: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(
        error_codes(body),
        ["QUERY_LIMIT_EXCEEDED"],
        "{what}: {body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], limit,
        "{what}: {body}"
    );
    assert!(body.get("data").is_none(), "{what}: {body}");
}

const NESTING: &str = "nesting of braces, brackets and parentheses";
const SELECTIONS: &str = "selections with fragments expanded";

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn deep_literals_are_refused_over_post_get_and_persisted_queries() {
    let mut gateway = Gateway::start(&[]).await;

    for (what, document) in deep_documents() {
        let (status, body) = gateway.post(json!({ "query": document })).await;
        assert_limit(what, status, &body, NESTING);
    }

    let (_, list) = &deep_documents()[0];
    let response = gateway
        .http
        .get(&gateway.endpoint)
        .header("accept", "application/graphql-response+json")
        .query(&[("query", list.as_str())])
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    assert_limit("GET", status, &response.json().await.unwrap(), NESTING);

    // A registration is refused, and nothing is learnt: the hash alone is still unknown.
    let persisted = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256(list)}});
    let (status, body) = gateway
        .post(json!({ "query": list, "extensions": persisted }))
        .await;
    assert_limit("persisted query registration", status, &body, NESTING);
    let (_, by_hash) = gateway.post(json!({ "extensions": persisted })).await;
    assert_eq!(
        error_codes(&by_hash),
        ["PERSISTED_QUERY_NOT_FOUND"],
        "{by_hash}"
    );

    assert!(gateway.alive().await, "the gateway died");
}

#[tokio::test]
async fn deep_literals_are_refused_over_websocket() {
    let mut gateway = Gateway::start(&[]).await;
    let url = gateway.endpoint.replace("http://", "ws://");
    let Init::Acknowledged(mut socket) = connect_ws_to(&url, &[], json!({})).await else {
        panic!("the connection was refused");
    };

    for (what, document) in deep_documents() {
        socket.subscribe(&document, json!({})).await;
        // async-graphql reports an operation that could not start as its one result.
        let result = socket.next_result().await;
        assert_eq!(
            error_codes(&result),
            ["QUERY_LIMIT_EXCEEDED"],
            "{what}: {result}"
        );
        assert_eq!(result["data"], Value::Null, "{what}: {result}");
        let complete = socket.next_message().await;
        assert_eq!(complete["type"], "complete", "{what}: {complete}");
    }
    // The connection itself lives on.
    socket.subscribe("{ viewer { id } }", json!({})).await;
    let answer = socket.next_result().await;
    assert!(answer["data"]["viewer"]["id"].is_string(), "{answer}");

    assert!(gateway.alive().await, "the gateway died");
}

#[tokio::test]
async fn an_exponential_fan_out_is_refused_without_walking_it() {
    let mut gateway = Gateway::start(&[]).await;
    // Warm up, so the measurement below sees steady-state memory.
    let (_, warm) = gateway.post(json!({ "query": fan_out(8) })).await;
    assert!(warm["data"]["__typename"].is_string(), "{warm}");
    let before = gateway.usage();

    for _ in 0..10 {
        let (status, body) = gateway.post(json!({ "query": fan_out(30) })).await;
        assert_limit("2^30 selections", status, &body, SELECTIONS);
    }

    let after = gateway.usage();
    let cpu = after.cpu.saturating_sub(before.cpu);
    assert!(
        cpu < Duration::from_millis(100),
        "ten refusals took {cpu:?} of CPU: something walked the fragments"
    );
    let grown_kib = after.rss_kib.saturating_sub(before.rss_kib);
    assert!(grown_kib < 10 * 1024, "memory grew by {grown_kib} KiB");
    assert!(gateway.alive().await, "the gateway died");
}

#[tokio::test]
async fn an_operation_past_its_deadline_is_answered_at_the_deadline() {
    // The selection bound lifted far enough that validating the fan-out takes longer than the
    // deadline: the answer still comes at the deadline, and other requests are served.
    let mut gateway = Gateway::start(&[
        "--max-selections",
        "100000000",
        "--request-timeout",
        "300ms",
    ])
    .await;

    let (status, body) = gateway.post(json!({ "query": fan_out(20) })).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(error_codes(&body), ["REQUEST_TIMEOUT"], "{body}");
    assert!(gateway.alive().await, "the gateway died");
}
