//! What one operation reports when it ends: a structured log line at `info` and its request
//! metrics (count and latency by operation name and outcome).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::Response;
use async_graphql::parser::types::{ExecutableDocument, OperationType};

use super::selected_operation;

use crate::loaders::Cost;
use crate::metrics::OperationMetrics;

/// The name operations without one are logged and counted under.
const ANONYMOUS: &str = "anonymous";
/// The outcome of an operation dropped before it answered: cut off at its deadline, or its
/// client went away.
const CANCELLED: &str = "cancelled";
/// The outcome of a failed operation whose first error carries no code (a parse or validation
/// error reported by the GraphQL library).
const UNCODED_ERROR: &str = "GRAPHQL_ERROR";

/// An operation's name and type, as far as its document tells.
pub struct Operation {
    pub(super) name: Option<String>,
    pub(super) kind: Option<OperationType>,
}

impl Operation {
    /// The operation `document` runs for a request naming `requested` (or none).
    pub(super) fn selected(document: &ExecutableDocument, requested: Option<&str>) -> Self {
        match selected_operation(document, requested) {
            Some((name, operation)) => Self {
                name: name.map(ToString::to_string),
                kind: Some(operation.node.ty),
            },
            None => Self::unknown(),
        }
    }

    /// An operation whose document does not say what it is (it does not parse, or holds no
    /// such operation); the schema reports why.
    pub(super) fn unknown() -> Self {
        Self {
            name: None,
            kind: None,
        }
    }

    pub(super) fn is_subscription(&self) -> bool {
        self.kind == Some(OperationType::Subscription)
    }

    /// Whether it is a query; `false` when the document names no operation it holds.
    pub fn is_query(&self) -> bool {
        self.kind == Some(OperationType::Query)
    }

    /// Whether it is a mutation; `false` when the document names no operation it holds.
    pub fn is_mutation(&self) -> bool {
        self.kind == Some(OperationType::Mutation)
    }
}

/// One operation under way; reports once, when finished or when dropped unfinished.
pub(super) struct OperationRecord {
    operation: Operation,
    request_id: Option<String>,
    cost: Arc<Cost>,
    metrics: OperationMetrics,
    started: Instant,
    outcome: Option<String>,
}

impl OperationRecord {
    pub(super) fn start(
        operation: Operation,
        request_id: Option<String>,
        cost: Arc<Cost>,
        metrics: OperationMetrics,
    ) -> Self {
        Self {
            operation,
            request_id,
            cost,
            metrics,
            started: Instant::now(),
            outcome: None,
        }
    }

    /// Reports the operation with `response`'s outcome: `ok`, or its first error's code.
    pub(super) fn finish(mut self, response: &Response) {
        self.outcome = Some(outcome(response));
    }
}

impl Drop for OperationRecord {
    fn drop(&mut self) {
        let outcome = self.outcome.as_deref().unwrap_or(CANCELLED);
        let name = self.operation.name.as_deref().unwrap_or(ANONYMOUS);
        let elapsed = self.started.elapsed();
        self.metrics.observe(name, outcome, elapsed);
        let kind = self
            .operation
            .kind
            .map_or_else(|| "unknown".to_owned(), |kind| kind.to_string());
        tracing::info!(
            request_id = self.request_id.as_deref(),
            operation = name,
            operation_type = kind,
            outcome,
            duration_ms = millis(elapsed),
            upstream_calls = self.cost.upstream_calls(),
            upstream_ms = millis(self.cost.upstream_time()),
            "operation finished"
        );
    }
}

/// Whole milliseconds as a number (tracing writes a `u128` as a string).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn outcome(response: &Response) -> String {
    let Some(error) = response.errors.first() else {
        return "ok".to_owned();
    };
    let code = error.extensions.as_ref().and_then(|ext| ext.get("code"));
    match code {
        Some(async_graphql::Value::String(code)) if is_error_code(code) => code.clone(),
        _ => UNCODED_ERROR.to_owned(),
    }
}

/// Whether `code` looks like one of [`crate::error::ApiError`]'s codes, so an unexpected
/// extension value never becomes a metric label.
fn is_error_code(code: &str) -> bool {
    (1..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

#[cfg(test)]
mod tests {
    use async_graphql::Request;

    use super::*;

    fn operation(query: &str, name: Option<&str>) -> (Option<String>, Option<String>) {
        let mut request = Request::new(query);
        if let Some(name) = name {
            request = request.operation_name(name);
        }
        let operation = match request.parsed_query() {
            Ok(document) => Operation::selected(document, name),
            Err(_) => Operation::unknown(),
        };
        (operation.name, operation.kind.map(|kind| kind.to_string()))
    }

    fn some(name: &str, kind: &str) -> (Option<String>, Option<String>) {
        (Some(name.to_owned()), Some(kind.to_owned()))
    }

    #[test]
    fn the_selected_operation_names_the_record() {
        assert_eq!(
            operation("query Inboxes { a }", None),
            some("Inboxes", "query")
        );
        assert_eq!(operation("{ a }", None), (None, Some("query".to_owned())));
        let two = "query A { a } mutation B { b }";
        assert_eq!(operation(two, Some("B")), some("B", "mutation"));
        assert_eq!(
            operation(two, None),
            (None, None),
            "ambiguous without a name"
        );
        assert_eq!(operation(two, Some("C")), (None, None), "no such operation");
        assert_eq!(
            operation("subscription S { s }", None),
            some("S", "subscription")
        );
        assert_eq!(operation("not graphql {", None), (None, None));
    }

    #[test]
    fn the_outcome_is_ok_or_the_first_errors_code() {
        let failed = |code: &str| {
            let mut error = async_graphql::ServerError::new("failed", None);
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", code);
            error.extensions = Some(extensions);
            outcome(&Response::from_errors(vec![error]))
        };
        assert_eq!(outcome(&Response::new(async_graphql::Value::Null)), "ok");
        assert_eq!(failed("NOT_FOUND"), "NOT_FOUND");
        assert_eq!(failed("made up by anyone"), UNCODED_ERROR);
        let uncoded = async_graphql::ServerError::new("parse error", None);
        assert_eq!(
            outcome(&Response::from_errors(vec![uncoded])),
            UNCODED_ERROR
        );
    }
}
