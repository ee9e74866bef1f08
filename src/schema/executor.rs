//! Executes operations for one caller, giving each operation a fresh [`RequestContext`].
//!
//! The same executor serves a single HTTP request and a long-lived WebSocket connection; in the
//! latter, per-operation data must not outlive its operation, which connection data would.

use std::sync::Arc;

use async_graphql::futures_util::stream::BoxStream;
use async_graphql::{Data, Executor, Request, Response};

use super::GatewaySchema;
use super::context::{Caller, RequestContext};
use crate::loaders::{Caches, Cost};

/// The schema bound to one caller.
#[derive(Clone)]
pub struct CallerExecutor {
    schema: GatewaySchema,
    caches: Arc<Caches>,
    caller: Caller,
}

impl CallerExecutor {
    pub fn new(schema: GatewaySchema, caches: Arc<Caches>, caller: Caller) -> Self {
        Self {
            schema,
            caches,
            caller,
        }
    }

    /// The request with a fresh context, and what the operation will have cost.
    fn prepare(&self, request: Request) -> (Request, Arc<Cost>) {
        let context = RequestContext::new(&self.caller, Arc::clone(&self.caches));
        let cost = context.loaders.cost();
        (request.data(context), cost)
    }
}

impl Executor for CallerExecutor {
    async fn execute(&self, request: Request) -> Response {
        let (request, cost) = self.prepare(request);
        let response = self.schema.execute(request).await;
        if !self.caller.report_cost {
            return response;
        }
        match async_graphql::Value::from_json(cost.report()) {
            Ok(report) => response.extension("cost", report),
            Err(_) => response,
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        self.schema.execute_stream_with_session_data(
            self.prepare(request).0,
            session_data.unwrap_or_default(),
        )
    }
}
