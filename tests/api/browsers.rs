//! CORS from an allowlist of origins, and negotiated response compression.

use heymarket_gateway::config::{CorsHeaders, CorsOrigins};
use heymarket_sandbox::SandboxConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const ALLOWED: &str = "https://app.example";

async fn app_allowing(origins: CorsOrigins) -> TestApp {
    spawn_app_with(SandboxConfig::default(), |config| {
        config.http.cors = origins
    })
    .await
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization,x-member-id",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

async fn preflight_asking(app: &TestApp, headers: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url("/graphql"))
        .header("origin", ALLOWED)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_may_send_the_headers_their_client_libraries_add() {
    let app = app_allowing(CorsOrigins::Only(vec![ALLOWED.to_owned()])).await;
    let asked = "content-type,traceparent,apollographql-client-name,x-app-build";
    let allowed = preflight_asking(&app, asked).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = header(&allowed, "access-control-allow-headers").unwrap_or_default();
    for needed in asked.split(',') {
        assert!(headers.contains(needed), "{needed}: {headers}");
    }

    // Configured to a list: the gateway's own headers and the listed ones, nothing else.
    let listed = spawn_app_with(SandboxConfig::default(), |config| {
        config.http.cors = CorsOrigins::Only(vec![ALLOWED.to_owned()]);
        config.http.cors_headers = CorsHeaders::Also(vec!["traceparent".to_owned()]);
    })
    .await;
    let answer = preflight_asking(&listed, "content-type,traceparent").await;
    let headers = header(&answer, "access-control-allow-headers").unwrap_or_default();
    for needed in ["content-type", "traceparent", "x-member-id"] {
        assert!(headers.contains(needed), "{needed}: {headers}");
    }
    assert!(!headers.contains("x-app-build"), "{headers}");
}

#[tokio::test]
async fn listed_origins_may_call_and_others_are_not_told_they_may() {
    let app = app_allowing(CorsOrigins::Only(vec![ALLOWED.to_owned()])).await;

    let allowed = preflight(&app, ALLOWED).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let headers = header(&allowed, "access-control-allow-headers").unwrap_or_default();
    for needed in ["content-type", "authorization", "x-member-id"] {
        assert!(headers.contains(needed), "{headers}");
    }
    assert!(header(&allowed, "access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    assert_eq!(header(&allowed, "access-control-allow-credentials"), None);

    let denied = preflight(&app, "https://evil.example").await;
    assert_eq!(header(&denied, "access-control-allow-origin"), None);

    let response = app
        .http
        .post(app.url("/graphql"))
        .header("origin", ALLOWED)
        .json(&json!({"query": "{ viewer { name } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    assert!(
        header(&response, "access-control-expose-headers")
            .is_some_and(|exposed| exposed.contains("x-request-id")),
    );
}

#[tokio::test]
async fn without_an_allowlist_no_origin_is_allowed_and_with_a_wildcard_any_is() {
    let closed = app_allowing(CorsOrigins::Nobody).await;
    let refused = preflight(&closed, ALLOWED).await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);

    let open = app_allowing(CorsOrigins::Anyone).await;
    let allowed = preflight(&open, "http://localhost:5173").await;
    assert_eq!(header(&allowed, "access-control-allow-origin"), Some("*"));
}

/// A query whose answer is large enough to be worth compressing.
async fn large_answer(app: &TestApp, accept_encoding: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({"query": "{ conversations(first: 50) { nodes { id updatedAt } } }"}));
    if let Some(encoding) = accept_encoding {
        request = request.header("accept-encoding", encoding);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn answers_are_compressed_as_the_client_accepts() {
    let app = spawn_app().await;

    let plain = large_answer(&app, None).await;
    assert_eq!(header(&plain, "content-encoding"), None);
    let plain = plain.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&plain).expect("plain JSON");
    assert!(body["errors"].is_null(), "{body}");

    for (accepted, expected) in [("gzip", "gzip"), ("br", "br"), ("br;q=0.5, gzip", "gzip")] {
        let response = large_answer(&app, Some(accepted)).await;
        assert_eq!(
            header(&response, "content-encoding"),
            Some(expected),
            "{accepted}"
        );
        let compressed = response.bytes().await.unwrap();
        assert!(
            compressed.len() * 3 < plain.len(),
            "{accepted}: {} bytes compressed, {} plain",
            compressed.len(),
            plain.len()
        );
    }
}

#[tokio::test]
async fn compression_can_be_switched_off() {
    let app = spawn_app_with(SandboxConfig::default(), |config| {
        config.http.compression = false
    })
    .await;

    let response = large_answer(&app, Some("gzip, br")).await;

    assert_eq!(header(&response, "content-encoding"), None);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"].is_null(), "{body}");
}
