//! The first GraphQL surface over the sandbox: inboxes, members, viewer, GraphiQL.

use serde_json::{Value, json};

use crate::helpers::{error_codes, spawn_app};

#[tokio::test]
async fn inboxes_resolve_through_the_upstream_with_their_members() {
    let app = spawn_app().await;

    let body = app
        .graphql("{ inboxes { id databaseId name phone phones members { databaseId name } } }")
        .await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    let inboxes = body["data"]["inboxes"].as_array().expect("a list");
    assert!(inboxes.len() >= 4, "{body}");
    for inbox in inboxes {
        assert!(inbox["name"].is_string());
        assert!(
            inbox["databaseId"].is_string(),
            "64-bit ids are strings: {inbox}"
        );
        assert!(
            !inbox["members"].as_array().expect("a list").is_empty(),
            "{inbox}"
        );
    }
    let ids: std::collections::HashSet<&str> =
        inboxes.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids.len(), inboxes.len(), "global ids are unique");
}

#[tokio::test]
async fn one_operation_fetches_inboxes_and_team_once_each() {
    let app = spawn_app().await;

    let body = app
        .graphql("{ inboxes { name members { name inboxes { name } } } members { name } }")
        .await;

    assert_eq!(body["errors"], Value::Null, "{body}");
    assert_eq!(app.sandbox.calls("GET /v1/inboxes").await, 1);
    assert_eq!(app.sandbox.calls("GET /v1/team").await, 1);
}

#[tokio::test]
async fn the_viewer_defaults_to_the_first_admin_and_follows_x_member_id() {
    let app = spawn_app().await;

    let default = app
        .graphql("{ viewer { databaseId role inboxes { databaseId } } }")
        .await;
    assert_eq!(default["data"]["viewer"]["role"], "admin", "{default}");
    let members = app.graphql("{ members { id databaseId role } }").await;
    let other = members["data"]["members"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["role"] != "admin"))
        .cloned()
        .expect("a non-admin member");

    for header in [
        other["databaseId"].as_str().unwrap(),
        other["id"].as_str().unwrap(),
    ] {
        let (status, chosen) = app
            .graphql_with(
                "{ viewer { databaseId } }",
                Value::Null,
                &[("X-Member-Id", header)],
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            chosen["data"]["viewer"]["databaseId"], other["databaseId"],
            "{chosen}"
        );
    }
}

#[tokio::test]
async fn a_bad_member_header_is_bad_user_input() {
    let app = spawn_app().await;

    let (status, body) = app
        .graphql_with(
            "{ viewer { name } }",
            Value::Null,
            &[("X-Member-Id", "abc")],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);

    let (status, body) = app
        .graphql_with(
            "{ viewer { name } }",
            Value::Null,
            &[("X-Member-Id", "999999")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(
        app.sandbox.calls("GET /v1/inboxes").await,
        0,
        "nothing else was fetched"
    );
}

#[tokio::test]
async fn inbox_by_id_checks_the_id() {
    let app = spawn_app().await;
    let inboxes = app.graphql("{ inboxes { id name } }").await;
    let first = &inboxes["data"]["inboxes"][0];

    let found = app
        .graphql_with(
            "query($id: ID!) { inbox(id: $id) { name } }",
            json!({ "id": first["id"] }),
            &[],
        )
        .await
        .1;
    assert_eq!(found["data"]["inbox"]["name"], first["name"]);

    let viewer = app.graphql("{ viewer { id } }").await;
    let wrong_type = app
        .graphql_with(
            "query($id: ID!) { inbox(id: $id) { name } }",
            json!({ "id": viewer["data"]["viewer"]["id"] }),
            &[],
        )
        .await
        .1;
    assert_eq!(error_codes(&wrong_type), ["BAD_USER_INPUT"], "{wrong_type}");

    let garbage = app
        .graphql_with("{ inbox(id: \"not-an-id\") { name } }", Value::Null, &[])
        .await
        .1;
    assert_eq!(error_codes(&garbage), ["BAD_USER_INPUT"], "{garbage}");
}

#[tokio::test]
async fn get_requests_and_graphiql_work() {
    let app = spawn_app().await;

    let response = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "{ inboxes { name } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["data"]["inboxes"]
            .as_array()
            .is_some_and(|list| !list.is_empty()),
        "{body}"
    );

    for path in ["/", "/graphiql"] {
        let page = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("graphiql.min.js") && html.contains("query Inboxes"),
            "{html}"
        );
    }
}

#[tokio::test]
async fn a_malformed_request_gets_a_graphql_shaped_error() {
    let app = spawn_app().await;

    let response = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
}
