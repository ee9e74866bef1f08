//! The one schema extension: everything checked about a request before it runs (limits,
//! required variables), the moment it starts running, and the answer as the specification
//! shapes it (see [`completion`]): in selection order, failed fields null, every error coded.
//!
//! One extension rather than one per concern: async-graphql wraps every field's resolution in
//! every extension's `resolve` hook, so each extension costs a layer of futures (and stack)
//! per field, whether or not it cares about fields.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextSubscribe, NextValidation,
};
use async_graphql::futures_util::stream::{BoxStream, StreamExt};
use async_graphql::parser::Positioned;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Pos};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use async_graphql_value::Value;

use super::completion::{self, Completion, Shapes};
use super::started::ExecutionStarted;
use super::{limits, variables};
use crate::config::LimitsConfig;
use crate::error::LibraryError;

/// Creates each request's [`Admission`].
pub(super) struct AdmissionFactory {
    pub(super) limits: LimitsConfig,
    /// The schema's types, for completing answers; set once the schema is built.
    pub(super) shapes: Arc<OnceLock<Shapes>>,
}

impl ExtensionFactory for AdmissionFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Admission {
            limits: self.limits.clone(),
            operation_name: Mutex::default(),
            shapes: Arc::clone(&self.shapes),
            selected: Arc::default(),
        })
    }
}

/// One request's checks. The operation name arrives with the request, before the document is
/// parsed, and is kept for the checks that need to know which operation runs.
struct Admission {
    limits: LimitsConfig,
    operation_name: Mutex<Option<String>>,
    shapes: Arc<OnceLock<Shapes>>,
    /// The operation once parsed, kept to complete its answers (a subscription's stream
    /// outlives the hooks, hence the `Arc`).
    selected: Arc<Mutex<Option<Arc<Selected>>>>,
}

/// What completing an answer needs of its request.
struct Selected {
    document: ExecutableDocument,
    operation_name: Option<String>,
    variables: Variables,
}

/// Shapes `response` as the specification does (see [`completion`]), and codes the errors the
/// library left uncoded: an error raised while executing is a value that did not fit.
fn finish(
    shapes: &OnceLock<Shapes>,
    selected: &Mutex<Option<Arc<Selected>>>,
    response: &mut Response,
) {
    let selected = selected
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let (Some(shapes), Some(selected)) = (shapes.get(), selected) {
        Completion::complete(
            shapes,
            &selected.document,
            selected.operation_name.as_deref(),
            &selected.variables,
            response,
        );
    }
    for error in &mut response.errors {
        LibraryError::Input.code_uncoded(error);
    }
    completion::without_placeless_locations(&mut response.errors);
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
        let document = next.run(ctx, query, variables).await.map_err(|mut error| {
            LibraryError::Parse.code_uncoded(&mut error);
            error
        })?;
        limits::check_document(&self.limits, &document, variables)?;
        let operation_name = self
            .operation_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        variables::check(&document, operation_name.as_deref(), variables)?;
        *self.selected.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(Selected {
            document: document.clone(),
            operation_name,
            variables: variables.clone(),
        }));
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let selected = self
            .selected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let document = selected.as_ref().map(|selected| &selected.document);
        let validated = next.run(ctx).await.map_err(|mut errors| {
            for error in &mut errors {
                validation_failure(error, document).code_uncoded(error);
            }
            errors
        })?;
        limits::check_validated(&self.limits, document, &validated)?;
        Ok(validated)
    }

    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        completion::without_placeless_locations(&mut response.errors);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let shapes = Arc::clone(&self.shapes);
        let selected = Arc::clone(&self.selected);
        next.run(ctx, stream)
            .map(move |mut response| {
                finish(&shapes, &selected, &mut response);
                response
            })
            .boxed()
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
        let mut response = next.run(ctx, operation_name).await;
        finish(&self.shapes, &self.selected, &mut response);
        response
    }
}

/// What a validation error is about: a variable's value that does not fit its type is the
/// client's input (as a bad argument value would be at run time), which the library reports at
/// the variable's definition or where it is used; the rest is the document.
fn validation_failure(error: &ServerError, document: Option<&ExecutableDocument>) -> LibraryError {
    let about_a_value = error.message.starts_with("Invalid value for argument")
        || error.message.starts_with("Expected input type");
    let at_a_variable = || {
        let places = document.map(variable_places).unwrap_or_default();
        error.locations.iter().any(|at| places.contains(at))
    };
    if about_a_value && at_a_variable() {
        LibraryError::Input
    } else {
        LibraryError::Validation
    }
}

/// Where the library reports a value that does not fit, for values that hold a variable: the
/// argument's name (its own check) and the field or directive it belongs to (the complexity
/// check, which reads arguments too).
fn variable_places(document: &ExecutableDocument) -> HashSet<Pos> {
    let mut places = HashSet::new();
    let mut note = |at: Pos, arguments: &[(Positioned<Name>, Positioned<Value>)]| {
        // A value that is not constant holds a variable.
        let mut variable = arguments
            .iter()
            .filter(|(_, value)| value.node.clone().into_const().is_none())
            .peekable();
        if variable.peek().is_some() {
            places.insert(at);
        }
        places.extend(variable.map(|(name, _)| name.pos));
    };
    let mut sets: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|f| &f.node.selection_set.node),
        )
        .collect();
    while let Some(set) = sets.pop() {
        for selection in &set.items {
            for directive in selection.node.directives() {
                note(directive.pos, &directive.node.arguments);
            }
            match &selection.node {
                Selection::Field(field) => {
                    note(field.pos, &field.node.arguments);
                    sets.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    places
}
