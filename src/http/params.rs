//! The parameters of a GraphQL-over-HTTP request, read from a POST body or a GET query string,
//! with an exact complaint for each way they can be wrong.
//!
//! Reading them here (instead of through the GraphQL library's extractor) lets every malformed
//! request get a 4xx status and a clear message, as the GraphQL-over-HTTP specification asks,
//! and keeps `extensions` (where persisted-query hashes travel) for the gateway to read.

use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

/// What a client asked to run.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Params {
    /// The document; absent when the client sends only a persisted query's hash.
    pub(crate) query: Option<String>,
    pub(crate) operation_name: Option<String>,
    pub(crate) variables: Map<String, Value>,
    pub(crate) extensions: Map<String, Value>,
}

/// Why a request's parameters cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParamsError {
    /// The body is in a media type the endpoint does not read (HTTP 415).
    #[error("send the operation as JSON with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// The parameters are present but malformed (HTTP 400).
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> ParamsError {
    ParamsError::Invalid(message.into())
}

/// A POST body: a JSON object with `query`, and optionally `operationName`, `variables` and
/// `extensions`. Only `application/json` (in UTF-8) is read; a missing `Content-Type` is refused
/// too, since guessing would accept form posts a browser sends cross-site without preflight.
pub(crate) fn from_post(headers: &HeaderMap, body: &[u8]) -> Result<Params, ParamsError> {
    if !is_json(headers) {
        return Err(ParamsError::UnsupportedMediaType);
    }
    let body: Value = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("the body is not valid JSON: {error}")))?;
    let mut object = match body {
        Value::Object(object) => object,
        Value::Array(_) => {
            return Err(invalid(
                "batched operations are not supported; send one operation per request",
            ));
        }
        _ => return Err(invalid("the body must be a JSON object with a `query`")),
    };
    Ok(Params {
        query: optional_string(object.remove("query"), "query")?,
        operation_name: optional_string(object.remove("operationName"), "operationName")?,
        variables: optional_object(object.remove("variables"), "variables")?,
        extensions: optional_object(object.remove("extensions"), "extensions")?,
    })
}

/// A GET query string: `query`, `operationName`, and `variables` and `extensions` as JSON text.
pub(crate) fn from_get(query_string: Option<&str>) -> Result<Params, ParamsError> {
    let mut params = Params::default();
    let mut variables = None;
    let mut extensions = None;
    for (name, value) in url::form_urlencoded::parse(query_string.unwrap_or("").as_bytes()) {
        let slot = match name.as_ref() {
            "query" => &mut params.query,
            "operationName" => &mut params.operation_name,
            "variables" => &mut variables,
            "extensions" => &mut extensions,
            _ => continue,
        };
        if slot.is_some() {
            return Err(invalid(format!("`{name}` is given more than once")));
        }
        *slot = Some(value.into_owned());
    }
    params.variables = json_parameter(variables, "variables")?;
    params.extensions = json_parameter(extensions, "extensions")?;
    Ok(params)
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.split(';').map(str::trim);
    let essence_is_json = parts
        .next()
        .is_some_and(|essence| essence.eq_ignore_ascii_case("application/json"));
    let charset_is_utf8 = parts.all(|parameter| match parameter.split_once('=') {
        Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => charset
            .trim()
            .trim_matches('"')
            .eq_ignore_ascii_case("utf-8"),
        _ => true,
    });
    essence_is_json && charset_is_utf8
}

fn optional_string(value: Option<Value>, name: &str) -> Result<Option<String>, ParamsError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(invalid(format!("`{name}` must be a string"))),
    }
}

fn optional_object(value: Option<Value>, name: &str) -> Result<Map<String, Value>, ParamsError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(object)) => Ok(object),
        Some(_) => Err(invalid(format!("`{name}` must be a JSON object"))),
    }
}

fn json_parameter(text: Option<String>, name: &str) -> Result<Map<String, Value>, ParamsError> {
    let Some(text) = text else {
        return Ok(Map::new());
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| invalid(format!("`{name}` is not valid JSON: {error}")))?;
    optional_object(Some(value), name)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn json_headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        headers
    }

    fn post(body: Value) -> Result<Params, ParamsError> {
        from_post(
            &json_headers("application/json"),
            body.to_string().as_bytes(),
        )
    }

    #[test]
    fn a_full_post_body_is_read() {
        let params = post(json!({
            "query": "query Q($n: Int) { x }",
            "operationName": "Q",
            "variables": {"n": 1},
            "extensions": {"persistedQuery": {"version": 1}},
            "somethingElse": true,
        }))
        .unwrap();
        assert_eq!(params.query.as_deref(), Some("query Q($n: Int) { x }"));
        assert_eq!(params.operation_name.as_deref(), Some("Q"));
        assert_eq!(params.variables["n"], 1);
        assert_eq!(params.extensions["persistedQuery"]["version"], 1);
    }

    #[test]
    fn nulls_mean_absent() {
        let params = post(
            json!({"query": "{ x }", "operationName": null, "variables": null,
            "extensions": null}),
        )
        .unwrap();
        assert_eq!(params.operation_name, None);
        assert!(params.variables.is_empty() && params.extensions.is_empty());
    }

    #[test]
    fn ill_typed_parameters_are_named() {
        for (body, complaint) in [
            (json!({"query": 1}), "`query` must be a string"),
            (
                json!({"query": "{ x }", "operationName": 2}),
                "`operationName`",
            ),
            (json!({"query": "{ x }", "variables": "{}"}), "`variables`"),
            (json!({"query": "{ x }", "extensions": []}), "`extensions`"),
            (json!([{"query": "{ x }"}]), "batched"),
            (json!("{ x }"), "JSON object"),
        ] {
            let error = post(body.clone()).unwrap_err().to_string();
            assert!(error.contains(complaint), "{body}: {error}");
        }
    }

    #[test]
    fn only_json_bodies_are_read() {
        let body = br#"{"query": "{ x }"}"#;
        assert!(from_post(&json_headers("application/json; charset=UTF-8"), body).is_ok());
        for content_type in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
        ] {
            assert_eq!(
                from_post(&json_headers(content_type), body),
                Err(ParamsError::UnsupportedMediaType),
                "{content_type}"
            );
        }
        assert_eq!(
            from_post(&HeaderMap::new(), body),
            Err(ParamsError::UnsupportedMediaType)
        );
        assert!(matches!(
            from_post(&json_headers("application/json"), b"{"),
            Err(ParamsError::Invalid(_))
        ));
    }

    #[test]
    fn a_query_string_is_read_with_json_variables() {
        let params = from_get(Some(
            "query=query%20Q%28%24n%3A%20Int%29%20%7B%20x%20%7D&operationName=Q&variables=%7B%22n%22%3A1%7D",
        ))
        .unwrap();
        assert_eq!(params.query.as_deref(), Some("query Q($n: Int) { x }"));
        assert_eq!(params.operation_name.as_deref(), Some("Q"));
        assert_eq!(params.variables["n"], 1);
        assert_eq!(from_get(None).unwrap(), Params::default());
    }

    #[test]
    fn bad_query_strings_are_named() {
        for (query_string, complaint) in [
            (
                "query=%7Bx%7D&variables=%7Bnope",
                "`variables` is not valid JSON",
            ),
            (
                "query=%7Bx%7D&variables=%5B%5D",
                "`variables` must be a JSON object",
            ),
            (
                "query=%7Bx%7D&extensions=1",
                "`extensions` must be a JSON object",
            ),
            (
                "query=%7Bx%7D&query=%7By%7D",
                "`query` is given more than once",
            ),
        ] {
            let error = from_get(Some(query_string)).unwrap_err().to_string();
            assert!(error.contains(complaint), "{query_string}: {error}");
        }
    }
}
