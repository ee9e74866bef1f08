//! Limits on what one request may ask for, which async-graphql does not enforce by default:
//! aliases, root fields and the ids of all `nodes` fields together (counted on the parsed
//! document), depth and complexity (as async-graphql's validation computes them, with
//! connections multiplying what they select by their `first`: `PageRequest::cost`). All are
//! checked before anything
//! runs, so a refused request costs the upstream nothing. What a request costs once it runs is
//! bounded by the per-operation upstream budget (`--max-upstream-calls`).

use std::collections::HashSet;
use std::convert::Infallible;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, Selection, SelectionSet,
};
use async_graphql::{ServerError, ServerResult, ValidationResult, Value, Variables};

use crate::config::LimitsConfig;
use crate::error::ApiError;

/// Most ids all the `nodes` fields of one document may ask for together: what one `nodes` field
/// may take, so aliasing it does not multiply the look-ups.
pub const MAX_NODE_IDS: usize = 100;

/// Aliases, root fields and `nodes` ids, counted on the parsed document (with its variables).
pub(super) fn check_document(
    limits: &LimitsConfig,
    document: &ExecutableDocument,
    variables: &Variables,
) -> ServerResult<()> {
    check("number of aliases", limits.max_aliases, aliases(document))?;
    check(
        "number of root fields",
        limits.max_root_fields,
        root_fields(document),
    )?;
    check(
        "number of ids across `nodes` fields",
        MAX_NODE_IDS,
        node_ids(document, variables),
    )
}

/// Depth (see [`depth`]; as validation computed it, should the document be missing) and
/// complexity (as async-graphql's validation computed it), once the document is known to be
/// valid.
pub(super) fn check_validated(
    limits: &LimitsConfig,
    document: Option<&ExecutableDocument>,
    validated: &ValidationResult,
) -> Result<(), Vec<ServerError>> {
    let depth = document.map_or(validated.depth, depth);
    check("depth", limits.max_depth, depth).map_err(|error| vec![error])?;
    check("complexity", limits.max_complexity, validated.complexity).map_err(|error| vec![error])
}

/// The deepest nesting of fields in any operation, fragments expanded, with each introspection
/// field (`__schema`, `__type`) counting as one: the standard introspection query that GraphiQL,
/// Apollo and codegen send nests 13 to 15 deep, and costs no upstream call however deep it
/// goes. Its size stays bounded by `--max-nesting` and `--max-selections`, which also bound
/// this walk (the document has passed them).
fn depth(document: &ExecutableDocument) -> usize {
    fn of(set: &SelectionSet, document: &ExecutableDocument) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => match field.node.name.node.as_str() {
                    "__schema" | "__type" => 1,
                    _ => 1 + of(&field.node.selection_set.node, document),
                },
                Selection::InlineFragment(inline) => of(&inline.node.selection_set.node, document),
                Selection::FragmentSpread(spread) => document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0, |fragment| {
                        of(&fragment.node.selection_set.node, document)
                    }),
            })
            .max()
            .unwrap_or(0)
    }
    document
        .operations
        .iter()
        .map(|(_, operation)| of(&operation.node.selection_set.node, document))
        .max()
        .unwrap_or(0)
}

fn check(limit: &'static str, max: usize, actual: usize) -> ServerResult<()> {
    if actual <= max {
        return Ok(());
    }
    Err(ApiError::LimitExceeded { limit, max, actual }.into_request_error())
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

/// Ids asked of every `nodes` field in the document, each operation and fragment counted once;
/// a list given as a variable counts its items.
fn node_ids(document: &ExecutableDocument, variables: &Variables) -> usize {
    // The argument with its variables filled in (a missing one is null).
    let ids = |field: &Field| -> usize {
        let Some(argument) = field.get_argument("ids") else {
            return 0;
        };
        let value = argument
            .node
            .clone()
            .into_const_with(|name| {
                Ok::<_, Infallible>(variables.get(&name).cloned().unwrap_or(Value::Null))
            })
            .unwrap_or(Value::Null);
        match value {
            Value::List(items) => items.len(),
            Value::Null => 0,
            // A single value where a list is expected is a list of one.
            _ => 1,
        }
    };
    let count = |selections: &SelectionSet| -> usize {
        fn walk(selections: &SelectionSet, ids: &dyn Fn(&Field) -> usize) -> usize {
            selections
                .items
                .iter()
                .map(|selection| match &selection.node {
                    Selection::Field(field) => {
                        let own = match field.node.name.node.as_str() {
                            "nodes" => ids(&field.node),
                            _ => 0,
                        };
                        own.saturating_add(walk(&field.node.selection_set.node, ids))
                    }
                    Selection::InlineFragment(fragment) => {
                        walk(&fragment.node.selection_set.node, ids)
                    }
                    Selection::FragmentSpread(_) => 0,
                })
                .fold(0, usize::saturating_add)
        }
        walk(selections, &ids)
    };
    let operations = document
        .operations
        .iter()
        .map(|(_, operation)| count(&operation.node.selection_set.node));
    let fragments = document
        .fragments
        .values()
        .map(|fragment| count(&fragment.node.selection_set.node));
    operations.chain(fragments).fold(0, usize::saturating_add)
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
    fn node_ids_are_counted_across_aliases_fragments_and_variables() {
        let variables =
            Variables::from_json(serde_json::json!({ "ids": ["a", "b", "c"], "one": "d" }));
        let count = |query: &str| node_ids(&document(query), &variables);
        assert_eq!(
            count(r#"{ a: nodes(ids: ["1", "2"]) { id } b: nodes(ids: ["3"]) { id } }"#),
            3
        );
        assert_eq!(
            count(
                r#"query($ids: [ID!]!) { nodes(ids: $ids) { id } x: nodes(ids: ["1", $ids]) { id } }"#
            ),
            5
        );
        assert_eq!(count(r#"query($one: ID!) { nodes(ids: $one) { id } }"#), 1);
        assert_eq!(
            count(r#"{ ...F } fragment F on Query { nodes(ids: ["1", "2"]) { id } }"#),
            2
        );
        assert_eq!(count(r#"{ node(id: "1") { id } inboxes { id } }"#), 0);
        assert_eq!(
            count(r#"query($missing: [ID!]) { nodes(ids: $missing) { id } }"#),
            0
        );
    }
}
