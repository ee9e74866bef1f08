//! Executes operations for one caller, giving each operation a fresh [`RequestContext`].
//!
//! The same executor serves a single HTTP request and a long-lived WebSocket connection; in the
//! latter, per-operation data must not outlive its operation, which connection data would.

use std::any::TypeId;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::{Data, Executor, Request, Response};

use super::GatewaySchema;
use super::answers::AnswerCache;
use super::context::{Caller, RequestContext};
use super::document;
use super::observe::{Operation, OperationRecord};
use super::started::ExecutionStarted;
use crate::config::{DocumentLimits, LimitsConfig};
use crate::error::ApiError;
use crate::events::EventBus;
use crate::loaders::{Caches, Cost};
use crate::metrics::OperationMetrics;
use crate::upstream::TenantKey;

/// The schema bound to one caller: the HTTP request's, or the one a WebSocket connection
/// settled at `connection_init` (kept in its connection data).
#[derive(Clone)]
pub struct CallerExecutor {
    schema: GatewaySchema,
    caches: Arc<Caches>,
    /// Whole answers kept for callers asking again; `None` when turned off.
    answers: Option<Arc<AnswerCache>>,
    bus: Arc<dyn EventBus>,
    caller: Option<Caller>,
    /// What a document may hold before the schema parses or validates it.
    document_limits: DocumentLimits,
    /// Deadline of a query or mutation sent over a WebSocket (HTTP requests have their own).
    request_timeout: Duration,
    /// Upstream calls each operation may make.
    upstream_budget: u64,
    /// Where finished operations and open subscriptions are counted.
    metrics: OperationMetrics,
}

/// An operation ready to run for its caller.
struct Prepared {
    request: Request,
    /// Whose data the operation reads and writes.
    tenant: TenantKey,
    cost: Arc<Cost>,
    report_cost: bool,
    request_id: Option<String>,
}

impl CallerExecutor {
    pub fn new(
        schema: GatewaySchema,
        caches: Arc<Caches>,
        answers: Option<Arc<AnswerCache>>,
        bus: Arc<dyn EventBus>,
        caller: Option<Caller>,
        limits: &LimitsConfig,
        metrics: OperationMetrics,
    ) -> Self {
        Self {
            schema,
            caches,
            answers,
            bus,
            caller,
            document_limits: limits.document(),
            request_timeout: limits.request_timeout,
            upstream_budget: limits.max_upstream_calls,
            metrics,
        }
    }

    /// Checks the request's document before anything recursive touches it (see
    /// [`document::screen`]), and says which operation it runs.
    pub fn screen(&self, request: &mut Request) -> Result<Operation, ApiError> {
        document::screen(request, self.document_limits)
    }

    /// The request with a fresh context, and what the operation will have cost; `None` when
    /// nobody has said who is calling.
    fn prepare(&self, request: Request, session: Option<&Data>) -> Option<Prepared> {
        let from_session = session
            .and_then(|data| data.get(&TypeId::of::<Caller>()))
            .and_then(|caller| caller.downcast_ref::<Caller>());
        let caller = from_session.or(self.caller.as_ref())?;
        let context = RequestContext::new(
            caller,
            Arc::clone(&self.caches),
            Arc::clone(&self.bus),
            self.upstream_budget,
        );
        Some(Prepared {
            tenant: caller.upstream.tenant_key(),
            cost: context.loaders.cost(),
            report_cost: caller.report_cost,
            request_id: caller.upstream.request_id().map(str::to_owned),
            request: request.data(context),
        })
    }

    /// Runs a [`screen`](Self::screen)ed operation and reports it (a log line and its
    /// metrics), even when it is dropped before it answers.
    pub async fn run(&self, request: Request, operation: Operation) -> Response {
        let answer_key = self.answer_key(&request, &operation);
        if let Some(key) = &answer_key
            && let Some(answers) = &self.answers
        {
            let kept = answers.get(key).await;
            self.caches.count_answers(kept.is_some());
            if let Some(answer) = kept {
                // It ran, as far as the transport is concerned: a kept answer is only one of
                // an operation that did.
                if let Some(started) = request
                    .data
                    .get(&TypeId::of::<ExecutionStarted>())
                    .and_then(|started| started.downcast_ref::<ExecutionStarted>())
                {
                    started.mark();
                }
                return self.answered_from_cache(answer, operation);
            }
        }
        let Some(prepared) = self.prepare(request, None) else {
            return unauthenticated();
        };
        let Prepared {
            request,
            tenant,
            cost,
            report_cost,
            request_id,
        } = prepared;
        let is_mutation = operation.is_mutation();
        let record = OperationRecord::start(
            operation,
            request_id,
            Arc::clone(&cost),
            self.metrics.clone(),
        );
        let response = self.schema.execute(request).await;
        record.finish(&response);
        if is_mutation {
            // Whatever the mutation changed, no answer kept before it counts.
            self.caches.answers_changed([tenant]);
        }
        if let (Some(key), Some(answers)) = (answer_key, &self.answers) {
            answers.keep(key, &response).await;
        }
        with_cost(response, report_cost, &cost)
    }

    /// Where this caller's answer to `request` may be kept: a query of a caller whose team is
    /// event-driven (see [`AnswerCache`]).
    fn answer_key(
        &self,
        request: &Request,
        operation: &Operation,
    ) -> Option<super::answers::AnswerKey> {
        if self.answers.is_none() || !operation.is_query() {
            return None;
        }
        let caller = self.caller.as_ref()?;
        AnswerCache::key(
            &self.caches,
            caller.upstream.tenant_key(),
            caller.requested_member,
            request,
        )
    }

    /// A kept answer, reported like any operation: it cost nothing upstream.
    fn answered_from_cache(&self, answer: Response, operation: Operation) -> Response {
        let cost = Arc::new(Cost::nothing());
        let caller = self.caller.as_ref();
        let record = OperationRecord::start(
            operation,
            caller.and_then(|caller| caller.upstream.request_id().map(str::to_owned)),
            Arc::clone(&cost),
            self.metrics.clone(),
        );
        record.finish(&answer);
        with_cost(
            answer,
            caller.is_some_and(|caller| caller.report_cost),
            &cost,
        )
    }
}

/// `response` with its cost in `extensions.cost`, when the caller asked for it.
fn with_cost(response: Response, report_cost: bool, cost: &Cost) -> Response {
    if !report_cost {
        return response;
    }
    match async_graphql::Value::from_json(cost.report()) {
        Ok(report) => response.extension("cost", report),
        Err(_) => response,
    }
}

fn unauthenticated() -> Response {
    refused(ApiError::Unauthenticated(
        "no credentials came with the request".to_owned(),
    ))
}

/// The answer to an operation refused before the schema saw it: errors, and no data.
pub fn refused(error: ApiError) -> Response {
    Response::from_errors(vec![error.into_request_error()])
}

impl Executor for CallerExecutor {
    /// Screens and runs one operation.
    async fn execute(&self, mut request: Request) -> Response {
        match self.screen(&mut request) {
            Ok(operation) => self.run(request, operation).await,
            Err(error) => refused(error),
        }
    }

    /// Runs an operation of a WebSocket connection: a query or mutation within the request
    /// deadline, a subscription for as long as its stream lives (counted as active meanwhile).
    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let (is_subscription, is_mutation) = match self.screen(&mut request) {
            Ok(operation) => (operation.is_subscription(), operation.is_mutation()),
            Err(error) => return stream::once(async { refused(error) }).boxed(),
        };
        let Some(prepared) = self.prepare(request, session_data.as_deref()) else {
            return stream::once(async { unauthenticated() }).boxed();
        };
        let tenant = prepared.tenant;
        let responses = self
            .schema
            .execute_stream_with_session_data(prepared.request, session_data.unwrap_or_default());
        if !is_subscription {
            let deadline = self.request_timeout;
            let mut responses = responses;
            let changed = is_mutation.then(|| (Arc::clone(&self.caches), tenant));
            let answer = async move {
                let answer = tokio::time::timeout(deadline, responses.next())
                    .await
                    .unwrap_or_else(|_| Some(refused(ApiError::RequestTimeout { deadline })));
                if let Some((caches, tenant)) = changed {
                    caches.answers_changed([tenant]);
                }
                answer
            };
            return stream::once(answer).filter_map(std::future::ready).boxed();
        }
        let active = self.metrics.subscription_started();
        // The closure owns `active`, so the subscription counts until the stream is dropped.
        responses
            .map(move |response| {
                let _ = &active;
                response
            })
            .boxed()
    }
}
