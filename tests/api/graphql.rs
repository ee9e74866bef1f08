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
            html.contains("graphiql.min.js") && html.contains("query Dashboard"),
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

#[tokio::test]
async fn operations_run_over_websockets_in_both_protocols() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

    let app = spawn_app().await;
    // (subprotocol, client's "run this" message, server's "a result" message)
    for (protocol, start, data) in [
        ("graphql-transport-ws", "subscribe", "next"),
        ("graphql-ws", "start", "data"),
    ] {
        let mut request = format!("ws://{}/graphql", app.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (mut socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("upgrade");
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol);

        socket
            .send(Message::text(
                json!({"type": "connection_init"}).to_string(),
            ))
            .await
            .unwrap();
        assert_eq!(read_json(&mut socket).await["type"], "connection_ack");

        let operation =
            json!({"id": "1", "type": start, "payload": {"query": "{ inboxes { name } }"}});
        socket
            .send(Message::text(operation.to_string()))
            .await
            .unwrap();
        let result = read_json(&mut socket).await;
        assert_eq!(result["type"], data, "{protocol}: {result}");
        assert!(
            result["payload"]["data"]["inboxes"]
                .as_array()
                .is_some_and(|list| list.len() >= 4),
            "{result}"
        );
        assert_eq!(
            read_json(&mut socket).await,
            json!({"id": "1", "type": "complete"}),
            "{protocol}"
        );
    }
}

async fn read_json<S>(socket: &mut S) -> Value
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = std::time::Duration::from_secs(10);
    tokio::time::timeout(deadline, async {
        loop {
            match socket.next().await.expect("socket open").expect("frame") {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    })
    .await
    .expect("a frame within the deadline")
}

#[tokio::test]
async fn every_operation_of_the_graphiql_example_runs_cleanly() {
    let app = spawn_app().await;
    let document = include_str!("../../src/http/example.graphql");
    let conversation = app
        .graphql("{ conversations(first: 1) { nodes { id } } }")
        .await["data"]["conversations"]["nodes"][0]["id"]
        .clone();

    for operation in [
        "Dashboard",
        "Mine",
        "Badges",
        "Templates",
        "ConversationPage",
        "ConversationDetail",
        "Reply",
        "Close",
    ] {
        let request = json!({"query": document, "operationName": operation, "variables": {"id": conversation}});
        let body: Value = app
            .http
            .post(app.url("/graphql"))
            .json(&request)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["errors"], Value::Null, "{operation}: {body}");
        assert!(
            body["data"]
                .as_object()
                .is_some_and(|data| !data.is_empty()),
            "{operation}: {body}"
        );
    }
}
