//! The GraphQL schema frontends code against. It knows nothing of HTTP: the transport puts a
//! [`Caller`] to a [`CallerExecutor`], which gives every operation its own [`RequestContext`].

mod connection;
mod context;
mod cursor;
mod executor;
mod limits;
mod listing;
mod mutation;
mod node;
mod observe;
mod query;
mod scalars;
mod subscription;
mod types;

use async_graphql::Schema;

use crate::config::LimitsConfig;

pub use crate::error::ApiError;
pub use context::{Caller, RequestContext};
pub use executor::CallerExecutor;
pub use mutation::Mutation;
pub use node::{GlobalId, NodeKind};
pub use query::Query;
pub use subscription::Subscription;

/// The executable schema; cheap to clone.
pub type GatewaySchema = Schema<Query, Mutation, Subscription>;

/// Builds the schema, enforcing `limits`. Per-request data ([`RequestContext`]) is added to
/// each request.
pub fn build_schema(limits: &LimitsConfig) -> GatewaySchema {
    let builder = Schema::build(Query, Mutation::default(), Subscription)
        .extension(limits::Limits(limits.clone()));
    if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema in SDL, as checked in at `schema/schema.graphql`.
pub fn sdl() -> String {
    build_schema(&LimitsConfig::default()).sdl()
}
