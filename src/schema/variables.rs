//! Required variables, checked before anything runs.
//!
//! async-graphql coerces variables lazily, field by field: a variable declared `T!` that is
//! missing or null is only noticed when (and if) a resolver reads it, so part of the operation
//! may already have run, and a `null` can even pass unnoticed. GraphQL-over-HTTP treats a
//! variable that does not fit as a request error; this check (run by [`super::admission`])
//! makes it one.

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Name, ServerResult, Value, Variables};

use super::selected_operation;
use crate::error::ApiError;

/// Refuses an operation whose required variables are missing or null.
pub(super) fn check(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> ServerResult<()> {
    let Some((_, operation)) = selected_operation(document, operation_name) else {
        return Ok(());
    };
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        if definition.var_type.node.nullable || definition.default_value.is_some() {
            continue;
        }
        let name = &definition.name.node;
        let problem = match variables.get(&Name::new(name.as_str())) {
            None => "was not provided",
            Some(Value::Null) => "must not be null",
            Some(_) => continue,
        };
        let message = format!(
            "variable `${name}` of required type `{}` {problem}",
            definition.var_type.node
        );
        return Err(async_graphql::Error::from(ApiError::BadUserInput(message))
            .into_server_error(definition.name.pos));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use serde_json::json;

    use super::*;

    fn run(
        query: &str,
        operation: Option<&str>,
        variables: serde_json::Value,
    ) -> Result<(), String> {
        let document = parse_query(query).unwrap();
        check(&document, operation, &Variables::from_json(variables)).map_err(|e| e.message)
    }

    #[test]
    fn required_variables_must_be_present_and_not_null() {
        let query = "query Q($id: ID!, $n: Int, $m: Int! = 3) { x }";
        assert_eq!(run(query, None, json!({"id": "a"})), Ok(()));
        assert_eq!(
            run(query, None, json!({})),
            Err("variable `$id` of required type `ID!` was not provided".to_owned())
        );
        assert_eq!(
            run(query, None, json!({"id": null})),
            Err("variable `$id` of required type `ID!` must not be null".to_owned())
        );
    }

    #[test]
    fn only_the_selected_operation_counts() {
        let query = "query A($id: ID!) { x } query B { y }";
        assert_eq!(run(query, Some("B"), json!({})), Ok(()));
        assert!(run(query, Some("A"), json!({})).is_err());
        assert_eq!(
            run(query, None, json!({})),
            Ok(()),
            "ambiguous: left to the schema"
        );
    }
}
