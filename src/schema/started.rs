//! Whether an operation got as far as execution.
//!
//! GraphQL-over-HTTP answers a request that failed before execution (unparsable, invalid, over a
//! limit, with variables that do not fit) differently from one whose fields failed: the former
//! has no `data` at all and, in `application/graphql-response+json`, a 4xx status. Only the
//! library knows where a failure happened, so [`super::admission`] records the moment execution
//! begins in a flag the transport put into the request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the operation starts executing; the transport adds a clone to the request's data
/// and reads it after the response.
#[derive(Debug, Clone, Default)]
pub struct ExecutionStarted(Arc<AtomicBool>);

impl ExecutionStarted {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub(super) fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }
}
