//! The soak's HTTP traffic: closed-loop clients sending a fixed mix of queries and
//! `sendMessage` mutations to one gateway, tallying how each answer came back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::MEMBER_ID;
use crate::requests::{error_label, send};

const DASHBOARD: &str = include_str!("../queries/dashboard.graphql");
const DETAIL: &str = include_str!("../queries/detail.graphql");
const DIRECTORY: &str = "{ viewer { name } team { name } inboxes { name members { name } } }";
const SEND: &str = "mutation($input: SendMessageInput!) {
  sendMessage(input: $input) { message { databaseId } userErrors { code } }
}";

/// What one client sends, in turn: a third of the requests are writes, half of them without an
/// idempotency key, half with one (never resent by the gateway either way; a lost answer to a
/// keyed send is looked for by its key); and, now and then, a document written to take the
/// gateway down.
const MIX: [Operation; 7] = [
    Operation::Dashboard,
    Operation::Detail,
    Operation::Send { keyed: true },
    Operation::Directory,
    Operation::Detail,
    Operation::Send { keyed: false },
    Operation::Hostile,
];

#[derive(Debug, Clone, Copy)]
enum Operation {
    Dashboard,
    Detail,
    Directory,
    Send { keyed: bool },
    Hostile,
}

/// Documents that once crashed the gateway or kept it busy for minutes, in turn: literals
/// nested 8,000 deep, and fragments that expand to 2^30 selections. Each must be refused with
/// `QUERY_LIMIT_EXCEEDED`.
fn hostile(sequence: usize) -> String {
    const DEPTH: usize = 8_000;
    match sequence % 3 {
        0 => format!(
            "{{ nodes(ids: {}\"x\"{}) {{ id }} }}",
            "[".repeat(DEPTH),
            "]".repeat(DEPTH)
        ),
        1 => format!(
            "{{ conversations(filter: {}1{}) {{ totalCount }} }}",
            "{a: ".repeat(DEPTH),
            "}".repeat(DEPTH)
        ),
        _ => {
            let mut query = String::from("{ ...F0 }");
            for level in 0..30 {
                let next = level + 1;
                query.push_str(&format!(
                    " fragment F{level} on Query {{ ...F{next} ...F{next} }}"
                ));
            }
            query + " fragment F30 on Query { __typename }"
        }
    }
}

/// The ids the traffic works on.
#[derive(Debug, Clone)]
pub(crate) struct Targets {
    /// Global id of the dashboard's inbox.
    pub(crate) inbox: String,
    /// Global ids of the conversations the soak writes to.
    pub(crate) conversations: Vec<String>,
}

/// How the answers of one or more clients came back.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) requests: u64,
    /// Answers without any error.
    pub(crate) clean: u64,
    /// Per error code (`extensions.code`, a payload's `userErrors` code, `HTTP <status>` or
    /// `TRANSPORT`), once per error.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Milliseconds each request took, unsorted.
    pub(crate) latencies_ms: Vec<u64>,
    /// Texts of the sends the gateway acknowledged with a message.
    pub(crate) acknowledged: Vec<String>,
    /// Texts of every send attempted.
    pub(crate) attempted: Vec<String>,
    /// Hostile documents refused with `QUERY_LIMIT_EXCEEDED` (not counted in `requests`).
    pub(crate) attacks_refused: u64,
    /// Hostile documents answered any other way: each is a failed check.
    pub(crate) attacks_not_refused: u64,
}

impl Tally {
    pub(crate) fn merge(&mut self, other: Self) {
        self.requests += other.requests;
        self.clean += other.clean;
        for (code, count) in other.errors {
            *self.errors.entry(code).or_default() += count;
        }
        self.latencies_ms.extend(other.latencies_ms);
        self.acknowledged.extend(other.acknowledged);
        self.attempted.extend(other.attempted);
        self.attacks_refused += other.attacks_refused;
        self.attacks_not_refused += other.attacks_not_refused;
    }

    fn error(&mut self, code: impl Into<String>) {
        *self.errors.entry(code.into()).or_default() += 1;
    }
}

/// The text of a client's send: unique within a run, and naming the run's `phase`.
fn send_text(phase: &str, client_id: usize, sequence: usize) -> String {
    format!("{} {client_id}-{sequence}", text_prefix(phase))
}

/// What every send text of `phase` starts with.
pub(crate) fn text_prefix(phase: &str) -> String {
    format!("soak {phase}")
}

/// One client: sends the mix in a loop until `until`, one request at a time.
pub(crate) async fn client(
    http: reqwest::Client,
    graphql_url: String,
    targets: Targets,
    phase: &'static str,
    client_id: usize,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut sequence = 0usize;
    while Instant::now() < until {
        let operation = MIX[(sequence + client_id) % MIX.len()];
        let conversation =
            &targets.conversations[(sequence * 7 + client_id) % targets.conversations.len()];
        let (query, variables, text) = match operation {
            Operation::Dashboard => (DASHBOARD, json!({ "inbox": targets.inbox }), None),
            Operation::Detail => (DETAIL, json!({ "id": conversation }), None),
            Operation::Directory => (DIRECTORY, Value::Null, None),
            Operation::Send { keyed } => {
                let text = send_text(phase, client_id, sequence);
                let mut input = json!({ "conversationId": conversation, "text": text });
                if keyed {
                    input["idempotencyKey"] = json!(text.replace(' ', "-"));
                }
                (SEND, json!({ "input": input }), Some(text))
            }
            Operation::Hostile => {
                let answer = send(
                    &http,
                    &graphql_url,
                    MEMBER_ID,
                    &hostile(sequence),
                    Value::Null,
                )
                .await;
                sequence += 1;
                let refused = answer.is_ok_and(|body| {
                    body["errors"][0]["extensions"]["code"] == "QUERY_LIMIT_EXCEEDED"
                });
                if refused {
                    tally.attacks_refused += 1;
                } else {
                    tally.attacks_not_refused += 1;
                }
                continue;
            }
        };
        sequence += 1;
        let start = Instant::now();
        let answer = send(&http, &graphql_url, MEMBER_ID, query, variables).await;
        tally.requests += 1;
        tally.latencies_ms.push(duration_ms(start.elapsed()));
        let body = match answer {
            Ok(body) => body,
            Err(code) => {
                tally.error(code);
                continue;
            }
        };
        let mut clean = true;
        for error in body["errors"].as_array().into_iter().flatten() {
            clean = false;
            tally.error(error_label(error));
        }
        if let Some(text) = text {
            let payload = &body["data"]["sendMessage"];
            for error in payload["userErrors"].as_array().into_iter().flatten() {
                clean = false;
                tally.error(error["code"].as_str().unwrap_or("<no code>"));
            }
            if payload["message"]["databaseId"].is_string() {
                tally.acknowledged.push(text.clone());
            }
            tally.attempted.push(text);
        }
        if clean {
            tally.clean += 1;
        }
    }
    tally
}

pub(crate) fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
