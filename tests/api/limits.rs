//! Request limits: each refuses with its own clear error before any upstream call.

use std::time::Duration;

use heymarket_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app_with};
use crate::sandbox_support::roomy_config;

async fn app() -> TestApp {
    spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |_| {},
    )
    .await
}

/// Sends `query` and insists it was refused for `limit`, with nothing asked of the upstream.
async fn assert_refused(app: &TestApp, query: &str, limit: &str) {
    let body = app.graphql(query).await;
    assert_eq!(error_codes(&body), ["QUERY_LIMIT_EXCEEDED"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["limit"], limit, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the limit")
    );
    assert_eq!(
        app.sandbox.stats().await["total"],
        0,
        "refused before any upstream call"
    );
}

#[tokio::test]
async fn deep_queries_are_refused() {
    let app = app().await;
    let mut query = String::from("name");
    for _ in 0..6 {
        query = format!("members {{ inboxes {{ {query} }} }}");
    }
    assert_refused(&app, &format!("{{ inboxes {{ {query} }} }}"), "depth").await;
}

#[tokio::test]
async fn the_standard_introspection_query_passes_the_default_limits() {
    let app = app().await;
    for fixture in [
        include_str!("../fixtures/introspection-default.graphql"),
        include_str!("../fixtures/introspection-all.graphql"),
    ] {
        let body = app.graphql(fixture).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        let types = body["data"]["__schema"]["types"].as_array().expect("types");
        assert!(
            types.iter().any(|ty| ty["name"] == "Conversation"
                && ty["fields"].as_array().is_some_and(|f| !f.is_empty())),
            "GraphiQL's Docs pane needs the types' fields"
        );
    }
    // Introspection nests as deep as the document may, and no deeper.
    let mut deep = String::from("name");
    for _ in 0..40 {
        deep = format!("ofType {{ {deep} }}");
    }
    let body = app
        .graphql(&format!(
            "{{ __type(name: \"Conversation\") {{ {deep} }} }}"
        ))
        .await;
    assert_eq!(error_codes(&body), ["QUERY_LIMIT_EXCEEDED"], "{body}");
    // Fields under introspection do not hide the depth of the rest.
    let mut query = String::from("name");
    for _ in 0..6 {
        query = format!("members {{ inboxes {{ {query} }} }}");
    }
    assert_refused(
        &app,
        &format!("{{ __schema {{ queryType {{ name }} }} inboxes {{ {query} }} }}"),
        "depth",
    )
    .await;
}

#[tokio::test]
async fn first_multiplies_the_cost_of_what_a_connection_selects() {
    let app = app().await;
    let nested = |first: u32| {
        format!(
            "{{ conversations(first: {first}) {{ nodes {{ id messages(first: 100) {{ nodes {{ id text }} }} }} }} }}"
        )
    };
    // One conversation with 100 messages of 2 fields is cheap; a hundred of them is not.
    assert_refused(&app, &nested(100), "complexity").await;
    let body = app.graphql(&nested(1)).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
}

#[tokio::test]
async fn an_absent_first_counts_as_the_default_page() {
    let app = spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            config.limits.max_complexity = 1_000;
        },
    )
    .await;
    // 20 conversations × 20 messages × 3 fields ≈ 1,240: over the limit without a `first`,
    // far under it with `first: 2` on both.
    let unbounded = "{ conversations { nodes { messages { nodes { id text } } } } }";
    assert_refused(&app, unbounded, "complexity").await;
    let bounded =
        "{ conversations(first: 2) { nodes { messages(first: 2) { nodes { id text } } } } }";
    let body = app.graphql(bounded).await;
    assert_eq!(body["errors"], Value::Null, "{body}");
}

#[tokio::test]
async fn too_many_aliases_or_root_fields_are_refused() {
    let app = app().await;
    let aliases: String = (0..31).map(|n| format!("a{n}: name ")).collect();
    assert_refused(
        &app,
        &format!("{{ inboxes {{ {aliases} }} }}"),
        "number of aliases",
    )
    .await;
    let roots: String = (0..21).map(|n| format!("r{n}: viewer {{ id }} ")).collect();
    assert_refused(&app, &format!("{{ {roots} }}"), "number of root fields").await;
}

#[tokio::test]
async fn oversized_and_batched_requests_are_refused() {
    let app = app().await;
    let padding = "#".repeat(70 * 1024);
    let response = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({"query": format!("{{ viewer {{ id }} }}\n{padding}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "request body size in bytes",
        "{body}"
    );

    let response = app
        .http
        .post(app.url("/graphql"))
        .json(&json!([{"query": "{ viewer { id } }"}, {"query": "{ team { name } }"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(app.sandbox.stats().await["total"], 0);
}

#[tokio::test]
async fn a_request_past_its_deadline_is_a_request_timeout() {
    let app = spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            config.limits.request_timeout = Duration::from_millis(300);
        },
    )
    .await;
    // Ten times the deadline, and shorter than the upstream call timeout: an answer before the
    // upstream's can only come from the deadline.
    app.sandbox.set_faults(json!({"latency_ms": 3_000})).await;

    let body = app.graphql("{ inboxes { name } }").await;

    assert_eq!(error_codes(&body), ["REQUEST_TIMEOUT"], "{body}");
}

#[tokio::test]
async fn introspection_can_be_switched_off() {
    let closed = spawn_app_with(
        SandboxConfig {
            teams: 1,
            ..roomy_config()
        },
        |config| {
            config.limits.introspection = false;
        },
    )
    .await;
    let body = closed.graphql("{ __schema { queryType { name } } }").await;
    assert_eq!(body["data"]["__schema"], Value::Null, "{body}");

    let open = app().await;
    let body = open.graphql("{ __schema { queryType { name } } }").await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}
