//! Executes operations for one caller, giving each operation a fresh [`RequestContext`].
//!
//! The same executor serves a single HTTP request and a long-lived WebSocket connection; in the
//! latter, per-operation data must not outlive its operation, which connection data would.

use std::any::TypeId;
use std::sync::Arc;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::{Data, Executor, Request, Response};

use super::GatewaySchema;
use super::context::{Caller, RequestContext};
use crate::error::ApiError;
use crate::events::EventBus;
use crate::loaders::{Caches, Cost};

/// The schema bound to one caller: the HTTP request's, or the one a WebSocket connection
/// settled at `connection_init` (kept in its connection data).
#[derive(Clone)]
pub struct CallerExecutor {
    schema: GatewaySchema,
    caches: Arc<Caches>,
    bus: Arc<dyn EventBus>,
    caller: Option<Caller>,
}

impl CallerExecutor {
    pub fn new(
        schema: GatewaySchema,
        caches: Arc<Caches>,
        bus: Arc<dyn EventBus>,
        caller: Option<Caller>,
    ) -> Self {
        Self {
            schema,
            caches,
            bus,
            caller,
        }
    }

    /// The request with a fresh context, and what the operation will have cost; `None` when
    /// nobody has said who is calling.
    fn prepare(
        &self,
        request: Request,
        session: Option<&Data>,
    ) -> Option<(Request, Arc<Cost>, bool)> {
        let from_session = session
            .and_then(|data| data.get(&TypeId::of::<Caller>()))
            .and_then(|caller| caller.downcast_ref::<Caller>());
        let caller = from_session.or(self.caller.as_ref())?;
        let context = RequestContext::new(caller, Arc::clone(&self.caches), Arc::clone(&self.bus));
        let cost = context.loaders.cost();
        Some((request.data(context), cost, caller.report_cost))
    }
}

fn unauthenticated() -> Response {
    let error: async_graphql::Error =
        ApiError::Unauthenticated("no credentials came with the request".to_owned()).into();
    Response::from_errors(vec![error.into_server_error(Default::default())])
}

impl Executor for CallerExecutor {
    async fn execute(&self, request: Request) -> Response {
        let Some((request, cost, report_cost)) = self.prepare(request, None) else {
            return unauthenticated();
        };
        let response = self.schema.execute(request).await;
        if !report_cost {
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
        let Some((request, _, _)) = self.prepare(request, session_data.as_deref()) else {
            return stream::once(async { unauthenticated() }).boxed();
        };
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
    }
}
