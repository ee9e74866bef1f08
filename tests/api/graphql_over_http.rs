//! GraphQL over HTTP as the specification has it: media types chosen by `Accept`, the status of
//! requests that never ran, GET for queries only, and 4xx answers for malformed requests.
//! (`.ci/run` also runs graphql-http's full server audit against the binary.)

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

fn post(app: &TestApp, accept: Option<&str>, body: Value) -> RequestBuilder {
    let request = app.http.post(app.url("/graphql")).json(&body);
    match accept {
        Some(accept) => request.header(ACCEPT, accept),
        None => request,
    }
}

/// The status, the media type (without parameters) and the JSON body.
async fn read(response: Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let media_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        media_type,
        response.json().await.expect("a JSON body"),
    )
}

async fn send(request: RequestBuilder) -> (u16, String, Value) {
    read(request.send().await.expect("the gateway answers")).await
}

#[tokio::test]
async fn the_answer_takes_the_media_type_the_client_prefers() {
    let app = spawn_app().await;
    let query = json!({"query": "{ viewer { name } }"});

    for (accept, expected) in [
        (None, JSON),
        (Some("*/*"), JSON),
        (Some(JSON), JSON),
        (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GRAPHQL_RESPONSE,
        ),
        (
            Some("application/graphql-response+json;q=0.5, application/json"),
            JSON,
        ),
    ] {
        let (status, media_type, body) = send(post(&app, accept, query.clone())).await;
        assert_eq!((status, media_type.as_str()), (200, expected), "{accept:?}");
        assert!(body["data"]["viewer"]["name"].is_string(), "{body}");
    }

    let answer = post(&app, None, query.clone()).send().await.unwrap();
    let vary: Vec<_> = answer.headers().get_all("vary").iter().collect();
    assert!(
        vary.iter()
            .flat_map(|value| value.to_str().unwrap().split(','))
            .any(|name| name.trim().eq_ignore_ascii_case("accept")),
        "{vary:?}"
    );

    let refused = post(&app, Some("text/html"), query).send().await.unwrap();
    assert_eq!(refused.status(), 406);
}

#[tokio::test]
async fn requests_that_never_ran_have_no_data_and_a_4xx_in_the_newer_media_type() {
    let app = spawn_app().await;

    let required = "query Q($first: Int!) { conversations(first: $first) { nodes { id } } }";
    for request in [
        json!({"query": "{ viewer { name }"}), // does not parse
        json!({"query": "{ viewer { noSuchField } }"}), // does not validate
        json!({"query": "query Q($id: ID!) { node(id: $id) { id } }"}), // a variable is missing
        json!({"query": required, "variables": {"first": null}}), // a required one is null
        json!({"query": required, "variables": {"first": "ten"}}), // one does not fit its type
    ] {
        for (accept, expected_status) in [(GRAPHQL_RESPONSE, 400), (JSON, 200)] {
            let (status, _, body) = send(post(&app, Some(accept), request.clone())).await;
            assert_eq!(status, expected_status, "{request} as {accept}: {body}");
            assert!(body.get("data").is_none(), "{request}: {body}");
            assert!(!body["errors"].as_array().unwrap().is_empty(), "{body}");
        }
    }
    assert_eq!(app.sandbox.stats().await["total"], 0);
}

#[tokio::test]
async fn an_operation_that_ran_answers_200_with_data_even_when_fields_failed() {
    let app = spawn_app().await;
    app.sandbox.set_faults(json!({"error_rate": 1.0})).await;

    let (status, media_type, body) = send(post(
        &app,
        Some(GRAPHQL_RESPONSE),
        json!({"query": "{ viewer { name } }"}),
    ))
    .await;

    assert_eq!((status, media_type.as_str()), (200, GRAPHQL_RESPONSE));
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(error_codes(&body), ["UPSTREAM_UNAVAILABLE"], "{body}");
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations_before_anything_runs() {
    let app = spawn_app().await;
    let get = |params: &[(&str, &str)]| {
        app.http
            .get(app.url("/graphql"))
            .header(ACCEPT, GRAPHQL_RESPONSE)
            .query(params)
    };

    let (status, _, body) = send(get(&[
        ("query", "query Who($first: Int) { conversations(first: $first) { nodes { id } } viewer { name } }"),
        ("operationName", "Who"),
        ("variables", r#"{"first": 1}"#),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["viewer"]["name"].is_string(), "{body}");

    let before = app.sandbox.stats().await["total"].as_u64().unwrap();
    for (query, operation) in [
        (
            r#"mutation { closeConversation(input: {id: "x"}) { clientMutationId } }"#,
            None,
        ),
        (
            r#"query Q { viewer { name } } mutation M { closeConversation(input: {id: "x"}) { clientMutationId } }"#,
            Some("M"),
        ),
    ] {
        let mut params = vec![("query", query)];
        params.extend(operation.map(|name| ("operationName", name)));
        let response = get(&params).send().await.unwrap();
        assert_eq!(response.status(), 405, "{query}");
        assert_eq!(response.headers()["allow"], "POST");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|message| message.contains("POST")),
            "{body}"
        );
    }
    assert_eq!(app.sandbox.stats().await["total"].as_u64().unwrap(), before);
}

#[tokio::test]
async fn malformed_requests_get_the_status_that_names_the_problem() {
    let app = spawn_app().await;
    let raw = |content_type: Option<&str>, body: &str| {
        let request = app.http.post(app.url("/graphql")).body(body.to_owned());
        match content_type {
            Some(content_type) => request.header(CONTENT_TYPE, content_type),
            None => request,
        }
    };
    let query = r#"{"query": "{ viewer { name } }"}"#;

    for (request, expected_status, complaint) in [
        (raw(None, query), 415, "Content-Type: application/json"),
        (raw(Some("text/plain"), query), 415, "Content-Type"),
        (
            raw(Some("application/x-www-form-urlencoded"), "query=%7Bx%7D"),
            415,
            "Content-Type",
        ),
        (raw(Some(JSON), "{}"), 400, "`query`"),
        (
            raw(Some(JSON), r#"{"query": 7}"#),
            400,
            "`query` must be a string",
        ),
        (
            raw(
                Some(JSON),
                r#"{"query": "{ viewer { name } }", "variables": "x"}"#,
            ),
            400,
            "`variables`",
        ),
        (
            app.http
                .get(app.url("/graphql"))
                .query(&[("query", "{ viewer { name } }"), ("variables", "{oops")]),
            400,
            "`variables` is not valid JSON",
        ),
        (app.http.get(app.url("/graphql")), 400, "`query`"),
    ] {
        let (status, _, body) = send(request).await;
        assert_eq!(status, expected_status, "{body}");
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(complaint), "{complaint}: {body}");
    }
    assert_eq!(app.sandbox.stats().await["total"], 0);
}
