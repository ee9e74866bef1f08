//! Ceilings on what connections may hold: how many HTTP connections and WebSockets are open,
//! how long a client may take over its request headers, and how long a WebSocket may stay
//! silent before `connection_init`.

use std::time::Duration;

use heymarket_gateway::config::ConnectionConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::helpers::{TestApp, eventually, spawn_app_with};
use crate::sandbox_support::roomy_config;
use crate::ws_support::open_ws;

/// Longest wait for something the gateway should do.
const DEADLINE: Duration = Duration::from_secs(10);

async fn app_with(connections: ConnectionConfig) -> TestApp {
    spawn_app_with(roomy_config(), |config| config.connections = connections).await
}

fn ws_url(app: &TestApp) -> String {
    format!("ws://{}/graphql", app.addr)
}

/// Reads until the gateway closes the connection; what it sent.
async fn until_closed(connection: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(DEADLINE, connection.read_to_end(&mut received))
        .await
        .expect("the gateway closes the connection within the deadline")
        .expect("readable");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_websocket_without_connection_init_is_closed_with_4408() {
    let app = app_with(ConnectionConfig {
        websocket_init_timeout: Duration::from_millis(200),
        ..ConnectionConfig::default()
    })
    .await;
    let mut silent = open_ws(&ws_url(&app), &[]).await.expect("upgraded");

    assert_eq!(silent.closed().await, 4408);
}

#[tokio::test]
async fn websockets_past_the_ceiling_are_refused_with_503_until_one_closes() {
    let app = app_with(ConnectionConfig {
        max_websockets: 2,
        ..ConnectionConfig::default()
    })
    .await;
    let first = app.subscriber(json!({})).await;
    let _second = app.subscriber(json!({})).await;

    let refused = open_ws(&ws_url(&app), &[]).await.err();

    let Some(WsError::Http(response)) = refused else {
        panic!("the third upgrade was not refused: {refused:?}");
    };
    assert_eq!(response.status(), 503);
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
        .expect("a JSON body");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "TOO_MANY_CONNECTIONS",
        "{body}"
    );
    drop(first);
    eventually("a slot to free up once a WebSocket closes", || async {
        open_ws(&ws_url(&app), &[]).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn connections_past_the_ceiling_wait_until_one_closes() {
    let app = app_with(ConnectionConfig {
        max_connections: 2,
        ..ConnectionConfig::default()
    })
    .await;
    let first = TcpStream::connect(app.addr).await.unwrap();
    let _second = TcpStream::connect(app.addr).await.unwrap();
    let http = app.http.clone();
    let url = app.url("/healthz");
    let mut third = tokio::spawn(async move { http.get(url).send().await.map(|r| r.status()) });

    // A negative check needs some time in which nothing happens.
    let early = tokio::time::timeout(Duration::from_millis(500), &mut third).await;
    assert!(early.is_err(), "served past the ceiling: {early:?}");
    drop(first);
    let status = tokio::time::timeout(DEADLINE, third)
        .await
        .expect("served once a connection closes")
        .unwrap()
        .expect("answered");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_client_slow_to_send_its_headers_is_disconnected() {
    let app = app_with(ConnectionConfig {
        header_read_timeout: Duration::from_millis(200),
        ..ConnectionConfig::default()
    })
    .await;
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n")
        .await
        .unwrap();

    let answer = until_closed(&mut slow).await;

    assert_eq!(answer, "", "no request was read, so none is answered");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let app = app_with(ConnectionConfig {
        header_read_timeout: Duration::from_millis(200),
        ..ConnectionConfig::default()
    })
    .await;
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .unwrap();

    let answer = until_closed(&mut idle).await;

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer:?}");
}
