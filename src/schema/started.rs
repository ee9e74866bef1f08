//! Whether an operation got as far as execution.
//!
//! GraphQL-over-HTTP answers a request that failed before execution (unparsable, invalid, over a
//! limit, with variables that do not fit) differently from one whose fields failed: the former
//! has no `data` at all and, in `application/graphql-response+json`, a 4xx status. Only the
//! library knows where a failure happened, so an extension records the moment execution begins
//! in a flag the transport put into the request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::Response;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};

/// Set once the operation starts executing; the transport adds a clone to the request's data
/// and reads it after the response.
#[derive(Debug, Clone, Default)]
pub struct ExecutionStarted(Arc<AtomicBool>);

impl ExecutionStarted {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The extension setting [`ExecutionStarted`].
pub(super) struct TrackExecution;

impl ExtensionFactory for TrackExecution {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(TrackExecution)
    }
}

#[async_trait::async_trait]
impl Extension for TrackExecution {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(started) = ctx.data_opt::<ExecutionStarted>() {
            started.0.store(true, Ordering::Release);
        }
        next.run(ctx, operation_name).await
    }
}
