//! Executes operations for one caller, giving each operation a fresh [`RequestContext`].
//!
//! The same executor serves a single HTTP request and a long-lived WebSocket connection; in the
//! latter, per-operation data must not outlive its operation, which connection data would.

use std::sync::Arc;

use async_graphql::futures_util::stream::BoxStream;
use async_graphql::{Data, Executor, Request, Response};

use super::GatewaySchema;
use super::context::{Caller, RequestContext};
use crate::loaders::Caches;

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

    fn prepare(&self, request: Request) -> Request {
        request.data(RequestContext::new(
            self.caller.clone(),
            Arc::clone(&self.caches),
        ))
    }
}

impl Executor for CallerExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.schema.execute(self.prepare(request)).await
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        self.schema.execute_stream_with_session_data(
            self.prepare(request),
            session_data.unwrap_or_default(),
        )
    }
}
