//! Limits on what one request may ask for, which async-graphql does not enforce by default:
//! aliases and root fields (counted on the parsed document), depth and complexity (as
//! async-graphql's validation computes them, with connections multiplying what they select by
//! their `first`). All are checked before anything runs, so a refused request costs the
//! upstream nothing.

use std::collections::HashSet;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{ServerError, ServerResult, ValidationResult};

use super::connection::{DEFAULT_FIRST, MAX_FIRST};
use crate::config::LimitsConfig;
use crate::error::ApiError;

/// The complexity of a connection field: what one item selects, times the items asked for
/// (`first`, defaulting and capped like the field itself), plus the field.
pub fn connection_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.unwrap_or(DEFAULT_FIRST).clamp(1, MAX_FIRST);
    child_complexity
        .saturating_mul(usize::try_from(items).unwrap_or(1))
        .saturating_add(1)
}

/// Aliases and root fields, counted on the parsed document.
pub(super) fn check_document(
    limits: &LimitsConfig,
    document: &ExecutableDocument,
) -> ServerResult<()> {
    check("number of aliases", limits.max_aliases, aliases(document))?;
    check(
        "number of root fields",
        limits.max_root_fields,
        root_fields(document),
    )
}

/// Depth and complexity, as async-graphql's validation computed them.
pub(super) fn check_validated(
    limits: &LimitsConfig,
    validated: &ValidationResult,
) -> Result<(), Vec<ServerError>> {
    check("depth", limits.max_depth, validated.depth).map_err(|error| vec![error])?;
    check("complexity", limits.max_complexity, validated.complexity).map_err(|error| vec![error])
}

fn check(limit: &'static str, max: usize, actual: usize) -> ServerResult<()> {
    if actual <= max {
        return Ok(());
    }
    let error: async_graphql::Error = ApiError::LimitExceeded { limit, max, actual }.into();
    Err(error.into_server_error(Default::default()))
}

/// Aliased fields anywhere in the document.
fn aliases(document: &ExecutableDocument) -> usize {
    fn count(selections: &SelectionSet) -> usize {
        selections
            .items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some()) + count(&field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => count(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations = document
        .operations
        .iter()
        .map(|(_, operation)| count(&operation.node.selection_set.node));
    let fragments = document
        .fragments
        .values()
        .map(|fragment| count(&fragment.node.selection_set.node));
    operations.chain(fragments).sum()
}

/// The most root fields of any operation, counting those its root fragments contribute.
fn root_fields(document: &ExecutableDocument) -> usize {
    fn count<'a>(
        document: &'a ExecutableDocument,
        selections: &'a SelectionSet,
        seen: &mut HashSet<&'a str>,
    ) -> usize {
        selections
            .items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(fragment) => {
                    count(document, &fragment.node.selection_set.node, seen)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match document.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment) if seen.insert(name) => {
                            count(document, &fragment.node.selection_set.node, seen)
                        }
                        _ => 0,
                    }
                }
            })
            .sum()
    }
    let operations: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(operation) => vec![&operation.node.selection_set.node],
        DocumentOperations::Multiple(operations) => operations
            .values()
            .map(|operation| &operation.node.selection_set.node)
            .collect(),
    };
    operations
        .into_iter()
        .map(|selections| count(document, selections, &mut HashSet::new()))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn document(query: &str) -> ExecutableDocument {
        parse_query(query).expect("a valid document")
    }

    #[test]
    fn aliases_are_counted_everywhere() {
        let query = "{ a: inboxes { n: name } b: members { name } ...F } fragment F on Query { c: viewer { id } }";
        assert_eq!(aliases(&document(query)), 4);
        assert_eq!(aliases(&document("{ inboxes { name } }")), 0);
    }

    #[test]
    fn root_fields_include_root_fragments_once() {
        let query = "query { inboxes { name } ...F ...F ... on Query { viewer { id } } } fragment F on Query { a: members { id } b: team { name } }";
        assert_eq!(root_fields(&document(query)), 4);
        let many = "query A { inboxes { name } } query B { inboxes { name } members { id } team { name } }";
        assert_eq!(root_fields(&document(many)), 3);
    }

    #[test]
    fn a_connection_multiplies_what_it_selects_by_first() {
        assert_eq!(connection_cost(Some(30), 10), 301);
        assert_eq!(connection_cost(None, 10), 201, "the default first");
        assert_eq!(
            connection_cost(Some(10_000), 10),
            1_001,
            "capped at the maximum"
        );
        assert_eq!(connection_cost(Some(0), 10), 11);
        assert_eq!(
            connection_cost(Some(100), usize::MAX),
            usize::MAX,
            "saturates"
        );
    }
}
