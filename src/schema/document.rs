//! The first look at an operation's document, before anything recursive or exponential touches
//! it.
//!
//! async-graphql's parser recurses once per nested list or object literal, and its validation
//! (and a depth check that runs even before our own hooks) expands every fragment spread
//! wherever it is used. A 14 KB document of nested brackets overflows the stack while it is
//! parsed, and a 1 KB document whose fragments each spread the next one twice expands to 2^30
//! selections. Both limits here are therefore checked outside the library, in linear time and
//! without recursion: nesting on the text, before it is parsed, and the expanded size on the
//! parsed document, computed once per fragment, before it is validated.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Request};

use super::observe::Operation;
use crate::config::DocumentLimits;
use crate::error::ApiError;

/// Checks `request`'s document against `limits`, parsing it once: the parse stays in the
/// request, so the schema does not parse it again. Every way an operation arrives (POST, GET,
/// a persisted query, a WebSocket message) passes here first. A document that does not parse is
/// left for the schema to report as a GraphQL error, and its operation is unknown.
pub fn screen(request: &mut Request, limits: DocumentLimits) -> Result<Operation, ApiError> {
    check_nesting(&request.query, limits.max_nesting)?;
    let requested = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return Ok(Operation::unknown());
    };
    check_selections(document, limits.max_selections)?;
    Ok(Operation::selected(document, requested.as_deref()))
}

/// Refuses a document nested deeper than `max`, reading only its text: braces, brackets and
/// parentheses outside strings and comments. The parser's recursion follows this nesting, so a
/// document that passes cannot exhaust its stack.
pub fn check_nesting(text: &str, max: usize) -> Result<(), ApiError> {
    let actual = nesting(text);
    if actual <= max {
        return Ok(());
    }
    Err(ApiError::LimitExceeded {
        limit: "nesting of braces, brackets and parentheses",
        max,
        actual,
    })
}

/// Refuses a document that holds more than `max` selections once its fragments are expanded:
/// what validation and execution would walk. Each fragment is sized once, so the count itself
/// is linear in the document however its fragments multiply.
pub fn check_selections(document: &ExecutableDocument, max: usize) -> Result<(), ApiError> {
    let actual = expanded_selections(document)?;
    if actual <= max {
        return Ok(());
    }
    Err(ApiError::LimitExceeded {
        limit: "selections with fragments expanded",
        max,
        actual,
    })
}

/// The deepest nesting of `{`, `[` and `(` in GraphQL source text, skipping strings, block
/// strings and comments, where brackets are only text.
fn nesting(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut deepest, mut at) = (0usize, 0usize, 0usize);
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        match byte {
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            b'#' => {
                while bytes.get(at).is_some_and(|&b| b != b'\n' && b != b'\r') {
                    at += 1;
                }
            }
            b'"' if bytes.get(at..at + 2) == Some(b"\"\"") => {
                at += 2;
                // A block string ends at the first `"""` not escaped as `\"""`.
                loop {
                    match bytes.get(at..at + 3) {
                        None => return deepest,
                        Some(b"\"\"\"") => break at += 3,
                        Some([b'\\', b'"', b'"']) if bytes.get(at + 3) == Some(&b'"') => at += 4,
                        Some(_) => at += 1,
                    }
                }
            }
            b'"' => loop {
                match bytes.get(at) {
                    // An unterminated string: the parser will say so.
                    None | Some(b'\n' | b'\r') => break,
                    Some(b'"') => break at += 1,
                    Some(b'\\') => at += 2,
                    Some(_) => at += 1,
                }
            },
            _ => {}
        }
    }
    deepest
}

/// Selections in every operation and fragment definition once each fragment spread is replaced
/// by what its fragment expands to (fields, inline fragments and spreads count one each).
/// Saturates rather than overflows. A fragment that spreads itself, directly or not, is refused:
/// validation would refuse it too, but only after walking it.
fn expanded_selections(document: &ExecutableDocument) -> Result<usize, ApiError> {
    let fragments: HashMap<&Name, Shape<'_>> = document
        .fragments
        .iter()
        .map(|(name, fragment)| (name, Shape::of(&fragment.node.selection_set.node)))
        .collect();
    let sizes = fragment_sizes(&fragments)?;
    let expanded = |shape: &Shape<'_>| {
        shape.spreads.iter().fold(shape.own, |total, spread| {
            total.saturating_add(sizes.get(spread).copied().unwrap_or(0))
        })
    };
    let operations = document
        .operations
        .iter()
        .map(|(_, operation)| expanded(&Shape::of(&operation.node.selection_set.node)));
    Ok(operations
        .chain(sizes.values().copied())
        .fold(0, usize::saturating_add))
}

/// One selection set as far as sizing needs: how many selections it holds itself (nested
/// fields and inline fragments included), and the fragments it spreads, once per spread.
struct Shape<'a> {
    own: usize,
    spreads: Vec<&'a Name>,
}

impl<'a> Shape<'a> {
    /// Walks the set without recursion: nesting was bounded on the text, but a stack of our
    /// own costs nothing and holds however deep a set goes.
    fn of(set: &'a SelectionSet) -> Self {
        let mut shape = Shape {
            own: 0,
            spreads: Vec::new(),
        };
        let mut pending = vec![set];
        while let Some(set) = pending.pop() {
            for selection in &set.items {
                shape.own = shape.own.saturating_add(1);
                match &selection.node {
                    Selection::Field(field) => pending.push(&field.node.selection_set.node),
                    Selection::InlineFragment(inline) => {
                        pending.push(&inline.node.selection_set.node);
                    }
                    Selection::FragmentSpread(spread) => {
                        shape.spreads.push(&spread.node.fragment_name.node);
                    }
                }
            }
        }
        shape
    }
}

/// Each fragment's expanded size, each computed once, children first, on an explicit stack: a
/// chain of thousands of fragments must not recurse either. Spreads of unknown fragments count
/// nothing (validation reports them).
fn fragment_sizes<'a>(
    fragments: &HashMap<&'a Name, Shape<'a>>,
) -> Result<HashMap<&'a Name, usize>, ApiError> {
    let mut sizes: HashMap<&Name, usize> = HashMap::with_capacity(fragments.len());
    let mut on_path: HashSet<&Name> = HashSet::new();
    for &root in fragments.keys() {
        // (fragment, whether its spreads have been pushed)
        let mut stack = vec![(root, false)];
        while let Some((name, expanded)) = stack.pop() {
            if sizes.contains_key(name) {
                continue;
            }
            let Some(shape) = fragments.get(name) else {
                continue;
            };
            if expanded {
                on_path.remove(name);
                let size = shape.spreads.iter().fold(shape.own, |total, spread| {
                    total.saturating_add(sizes.get(spread).copied().unwrap_or(0))
                });
                sizes.insert(name, size);
                continue;
            }
            if !on_path.insert(name) {
                return Err(fragment_cycle(name));
            }
            stack.push((name, true));
            for &spread in &shape.spreads {
                if on_path.contains(spread) {
                    return Err(fragment_cycle(spread));
                }
                if !sizes.contains_key(spread) {
                    stack.push((spread, false));
                }
            }
        }
    }
    Ok(sizes)
}

fn fragment_cycle(name: &Name) -> ApiError {
    ApiError::bad_input(format!(
        "fragment `{}` spreads itself (directly or through other fragments)",
        crate::text::shortened(name, 64)
    ))
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use proptest::prelude::*;

    use super::*;

    /// A GraphQL input value and how deep its lists and objects nest. Strings and comments
    /// carry brackets of their own, which must not count.
    fn value() -> impl Strategy<Value = (String, usize)> {
        let leaf = prop_oneof![
            Just(("1".to_owned(), 0)),
            "[a-z\\[\\]{}()]{0,8}".prop_map(|text| (format!("{text:?}"), 0)),
            "[a-z\\[\\]{}()\"]{0,8}".prop_map(|text| {
                let text = text.replace('"', "'");
                (format!("\"\"\"{text}\"\"\""), 0)
            }),
        ];
        leaf.prop_recursive(40, 200, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(|items| {
                    let depth = items.iter().map(|(_, depth)| *depth).max().unwrap_or(0);
                    let texts: Vec<String> = items.into_iter().map(|(text, _)| text).collect();
                    (format!("[{}]", texts.join(", ")), depth + 1)
                }),
                (inner, "[a-z\\[{(]{0,6}").prop_map(|((text, depth), comment)| {
                    (format!("{{a: # {comment}\n{text}}}"), depth + 1)
                }),
            ]
        })
    }

    proptest! {
        /// The nesting counted on the text is the value's own, whatever its strings and
        /// comments hold; documents the count admits parse without trouble.
        #[test]
        fn nesting_is_the_structures_own((value, depth) in value()) {
            let document = format!("{{ a(v: {value}) {{ b }} }}");
            prop_assert_eq!(nesting(&document), depth + 2);
            prop_assert!(parse_query(&document).is_ok(), "{}", document);
        }

        /// No text makes the screen panic; whatever it admits has bounded nesting.
        #[test]
        fn any_text_is_screened_without_panicking(text in "[{}\\[\\]()\"#a-z .:$!@\n\\\\]{0,300}") {
            let mut request = Request::new(text.clone());
            let limits = DocumentLimits { max_nesting: 8, max_selections: 50 };
            if screen(&mut request, limits).is_ok() {
                prop_assert!(nesting(&text) <= 8);
            }
        }
    }

    fn document(query: &str) -> ExecutableDocument {
        parse_query(query).expect("a valid document")
    }

    /// `{ ...F0 }` where each of `levels` fragments spreads the next twice.
    fn fan_out(levels: usize) -> String {
        let mut query = String::from("{ ...F0 }\n");
        for level in 0..levels {
            let next = level + 1;
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
            ));
        }
        query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
        query
    }

    #[test]
    fn nesting_counts_braces_brackets_and_parentheses() {
        assert_eq!(nesting(""), 0);
        assert_eq!(nesting("{ a }"), 1);
        assert_eq!(nesting("{ a(x: [[1]]) { b } }"), 4);
        assert_eq!(nesting("query($v: [[Int]] = [[1]]) { a }"), 3);
        assert_eq!(nesting("{ a(o: {b: {c: 1}}) }"), 4);
        assert_eq!(
            nesting("}}}] { a }"),
            1,
            "stray closers do not go below zero"
        );
    }

    #[test]
    fn nesting_skips_strings_block_strings_and_comments() {
        assert_eq!(nesting(r#"{ a(s: "[[[{{{(((") }"#), 2);
        assert_eq!(nesting(r#"{ a(s: "\"[[[\\") }"#), 2);
        assert_eq!(nesting("{ a(s: \"\"\" [[[ \\\"\"\" {{{ \"\"\") }"), 2);
        assert_eq!(nesting("{ a # [[[[[[\n b }"), 1);
        assert_eq!(nesting("{ a(s: \"unterminated [[[\n) }"), 2);
        assert_eq!(nesting("{ a(s: \"\"\"unterminated [[["), 2);
    }

    #[test]
    fn deep_nesting_is_refused_with_its_depth() {
        let deep = format!(
            "{{ nodes(ids: {}\"x\"{}) {{ id }} }}",
            "[".repeat(8_000),
            "]".repeat(8_000)
        );
        assert_eq!(
            check_nesting(&deep, 32),
            Err(ApiError::LimitExceeded {
                limit: "nesting of braces, brackets and parentheses",
                max: 32,
                actual: 8_002,
            })
        );
        assert_eq!(check_nesting("{ a { b } }", 2), Ok(()));
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let query = "{ a { ...F } b { ...F c } } fragment F on T { x y { z } }";
        // Operation: a, b, c, two spreads, and F's 3 selections twice; then F itself.
        assert_eq!(expanded_selections(&document(query)), Ok(5 + 2 * 3 + 3));
        assert_eq!(
            expanded_selections(&document("{ a ... on Q { b } }")),
            Ok(3)
        );
    }

    #[test]
    fn an_exponential_fan_out_is_counted_without_walking_it() {
        // 2^31 - 1 spreads and 2^30 typenames, counted in a handful of steps.
        let count = expanded_selections(&document(&fan_out(30))).expect("no cycle");
        assert!(count > 1 << 31, "{count}");
        assert!(matches!(
            check_selections(&document(&fan_out(30)), 5_000),
            Err(ApiError::LimitExceeded { max: 5_000, .. })
        ));
        assert_eq!(check_selections(&document(&fan_out(5)), 5_000), Ok(()));
    }

    #[test]
    fn fan_outs_past_every_integer_saturate() {
        let count = expanded_selections(&document(&fan_out(200))).expect("no cycle");
        assert_eq!(count, usize::MAX);
    }

    #[test]
    fn fragment_cycles_are_refused_before_anything_walks_them() {
        for query in [
            "{ ...A } fragment A on Query { ...A }",
            "{ ...A } fragment A on Query { x { ...B } } fragment B on X { ...C } fragment C on Y { ...A }",
        ] {
            assert!(
                matches!(
                    expanded_selections(&document(query)),
                    Err(ApiError::BadUserInput(_))
                ),
                "{query}"
            );
        }
        let diamond = "{ ...A } fragment A on Query { ...B ...C } fragment B on Query { ...D } fragment C on Query { ...D } fragment D on Query { x }";
        assert!(expanded_selections(&document(diamond)).is_ok());
    }

    #[test]
    fn a_long_chain_of_fragments_does_not_recurse() {
        let mut query = String::from("{ ...F0 }\n");
        for level in 0..20_000 {
            query.push_str(&format!(
                "fragment F{level} on Query {{ ...F{} }}\n",
                level + 1
            ));
        }
        query.push_str("fragment F20000 on Query { __typename }");
        assert!(expanded_selections(&document(&query)).is_ok());
    }
}
