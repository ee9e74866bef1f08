//! The GraphQL schema frontends code against. It knows nothing of HTTP: the transport puts a
//! [`Caller`] to a [`CallerExecutor`], which gives every operation its own [`RequestContext`].

mod access;
mod admission;
mod answers;
mod completion;
mod connection;
mod context;
mod counting;
mod cursor;
mod date_lists;
mod document;
mod executor;
mod limits;
mod listing;
mod mutation;
mod node;
mod observe;
mod query;
mod scalars;
mod started;
mod subscription;
mod types;
mod variables;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::parser::Positioned;
use async_graphql::parser::types::{ExecutableDocument, OperationDefinition};
use async_graphql::{Name, Schema};

use crate::config::LimitsConfig;
use crate::idempotency::{Idempotency, LocalSendRecords};

pub use crate::error::ApiError;
pub use answers::AnswerCache;
pub use context::{Caller, RequestContext};
pub use cursor::{Cursor, CursorKey, CursorKind};
pub use executor::{CallerExecutor, refused};
pub use mutation::Mutation;
pub use node::{GlobalId, NodeKind};
pub use observe::Operation;
pub use query::Query;
pub use started::ExecutionStarted;
pub use subscription::Subscription;

/// The executable schema; cheap to clone.
pub type GatewaySchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema, enforcing `limits`, signing cursors with `cursors` and keeping sends'
/// idempotency keys in `sends`. Per-request data ([`RequestContext`]) is added to each
/// request.
pub fn build_schema(
    limits: &LimitsConfig,
    cursors: CursorKey,
    sends: Idempotency,
) -> GatewaySchema {
    let shapes = Arc::new(OnceLock::new());
    let builder = Schema::build(Query, Mutation::default(), Subscription)
        .extension(admission::AdmissionFactory {
            limits: limits.clone(),
            shapes: Arc::clone(&shapes),
        })
        .data(cursors)
        .data(connection::MaxListPages(limits.max_list_pages))
        .data(sends);
    let schema = if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    };
    // The answers are completed against the types the schema itself prints.
    let _ = shapes.set(completion::Shapes::from_sdl(&schema.sdl()));
    schema
}

/// The operation a request runs, with its name: the one named, or the only one. `None` when
/// the document has no such operation (or several, and none is named), which execution then
/// reports.
pub(crate) fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<(Option<&'a Name>, &'a Positioned<OperationDefinition>)> {
    let mut operations = document.operations.iter();
    match operation_name {
        Some(wanted) => operations.find(|(name, _)| name.is_some_and(|name| name == wanted)),
        None => operations.next().filter(|_| operations.next().is_none()),
    }
}

/// The schema in SDL, as checked in at `schema/schema.graphql`.
pub fn sdl() -> String {
    let limits = LimitsConfig::default();
    let sends = Idempotency::new(
        Arc::new(LocalSendRecords::new(Duration::from_secs(1))),
        limits.request_timeout,
    );
    build_schema(&limits, CursorKey::random(), sends).sdl()
}
