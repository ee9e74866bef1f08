//! The one schema extension: everything checked about a request before it runs (limits,
//! required variables), and the moment it starts running.
//!
//! One extension rather than one per concern: async-graphql wraps every field's resolution in
//! every extension's `resolve` hook, so each extension costs a layer of futures (and stack)
//! per field, whether or not it cares about fields.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use super::started::ExecutionStarted;
use super::{limits, variables};
use crate::config::LimitsConfig;

/// Creates each request's [`Admission`].
pub(super) struct AdmissionFactory(pub(super) LimitsConfig);

impl ExtensionFactory for AdmissionFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Admission {
            limits: self.0.clone(),
            operation_name: Mutex::default(),
        })
    }
}

/// One request's checks. The operation name arrives with the request, before the document is
/// parsed, and is kept for the checks that need to know which operation runs.
struct Admission {
    limits: LimitsConfig,
    operation_name: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Extension for Admission {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.operation_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone_from(&request.operation_name);
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        limits::check_document(&self.limits, &document, variables)?;
        let operation_name = self
            .operation_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        variables::check(&document, operation_name.as_deref(), variables)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let validated = next.run(ctx).await?;
        limits::check_validated(&self.limits, &validated)?;
        Ok(validated)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(started) = ctx.data_opt::<ExecutionStarted>() {
            started.mark();
        }
        next.run(ctx, operation_name).await
    }
}
