//! A graphql-transport-ws client for the tests: connect, subscribe, read what arrives.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{TestApp, eventually_ok};

/// Longest wait for anything the server should send.
const DEADLINE: Duration = Duration::from_secs(10);

/// An acknowledged graphql-transport-ws connection.
pub struct Subscriber {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u32,
}

/// How the server answered `connection_init`.
pub enum Init {
    Acknowledged(Box<Subscriber>),
    Closed { code: u16, reason: String },
}

/// Opens a graphql-transport-ws connection to `url` with extra upgrade `headers`, sending
/// nothing yet; the upgrade's refusal is the error.
pub async fn open_ws(url: &str, headers: &[(&str, &str)]) -> Result<Subscriber, WsError> {
    let mut request = url.into_client_request().expect("a request");
    let protocol = "graphql-transport-ws".parse().expect("a header value");
    let request_headers = request.headers_mut();
    request_headers.insert("Sec-WebSocket-Protocol", protocol);
    for (name, value) in headers {
        let name: HeaderName = name.parse().expect("a header name");
        request_headers.insert(name, value.parse().expect("a header value"));
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Subscriber { socket, next_id: 0 })
}

/// Opens a graphql-transport-ws connection to `url` with extra upgrade `headers`, and sends
/// `connection_init` with `payload`.
pub async fn connect_ws_to(url: &str, headers: &[(&str, &str)], payload: Value) -> Init {
    let mut subscriber = open_ws(url, headers).await.expect("the upgrade succeeds");
    let init = json!({ "type": "connection_init", "payload": payload });
    subscriber
        .socket
        .send(Message::text(init.to_string()))
        .await
        .expect("init sent");
    match subscriber.frame().await {
        Ok(ack) if ack["type"] == "connection_ack" => Init::Acknowledged(Box::new(subscriber)),
        Ok(other) => panic!("expected connection_ack, got {other}"),
        Err(closed) => closed,
    }
}

impl TestApp {
    /// Opens a graphql-transport-ws connection and sends `connection_init` with `payload`.
    pub async fn connect_ws(&self, payload: Value) -> Init {
        connect_ws_to(&format!("ws://{}/graphql", self.addr), &[], payload).await
    }

    /// Like [`TestApp::connect_ws`], insisting on an acknowledged connection.
    pub async fn subscriber(&self, payload: Value) -> Subscriber {
        match self.connect_ws(payload).await {
            Init::Acknowledged(subscriber) => *subscriber,
            Init::Closed { code, reason } => panic!("connection refused: {code} {reason}"),
        }
    }
}

impl Subscriber {
    /// Starts an operation and answers its id.
    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let message = json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } });
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("subscribe sent");
        id
    }

    /// The next result (`next` message) of any operation: its payload.
    pub async fn next_result(&mut self) -> Value {
        match self.frame().await {
            Ok(message) if message["type"] == "next" => message["payload"].clone(),
            Ok(other) => panic!("expected a result, got {other}"),
            Err(Init::Closed { code, reason }) => panic!("closed: {code} {reason}"),
            Err(Init::Acknowledged(_)) => unreachable!(),
        }
    }

    /// The next message of any type, whole.
    pub async fn next_message(&mut self) -> Value {
        match self.frame().await {
            Ok(message) => message,
            Err(Init::Closed { code, reason }) => panic!("closed: {code} {reason}"),
            Err(Init::Acknowledged(_)) => unreachable!(),
        }
    }

    /// Waits for the server to close the connection: its close code.
    pub async fn closed(&mut self) -> u16 {
        match self.frame().await {
            Ok(other) => panic!("expected the connection to close, got {other}"),
            Err(Init::Closed { code, .. }) => code,
            Err(Init::Acknowledged(_)) => unreachable!(),
        }
    }

    async fn frame(&mut self) -> Result<Value, Init> {
        let read = async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        return Ok(serde_json::from_str(&text).expect("JSON"));
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(frame))) => {
                        let (code, reason) = frame.map_or((0, String::new()), |frame| {
                            (u16::from(frame.code), frame.reason.to_string())
                        });
                        return Err(Init::Closed { code, reason });
                    }
                    Some(Ok(other)) => panic!("unexpected frame {other:?}"),
                    Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => {
                        return Err(Init::Closed {
                            code: u16::from(CloseCode::Abnormal),
                            reason: String::new(),
                        });
                    }
                    Some(Err(error)) => panic!("socket error: {error}"),
                }
            }
        };
        tokio::time::timeout(DEADLINE, read)
            .await
            .expect("the server answers within the deadline")
    }
}

/// Simulates a customer writing to `inbox` from `phone` (as team `team_id`).
pub async fn inbound(app: &TestApp, team_id: i64, inbox: i64, phone: &str, text: &str) -> Value {
    let body = json!({"inbox_id": inbox, "phone": phone, "text": text, "team_id": team_id});
    let (status, message) = app
        .sandbox
        .control(Method::POST, "/_sandbox/inbound", Some(body))
        .await;
    assert_eq!(status, 200, "{message}");
    message
}

/// A subscription starts listening a moment after its `subscribe` message; customer messages
/// are sent until the first one is delivered, which is answered. (Each attempt waits a short
/// while for a delivery: this is a poll with a deadline, not a fixed sleep.)
pub async fn first_delivery(
    app: &TestApp,
    subscriber: &mut Subscriber,
    inbox: i64,
    phone: &str,
) -> Value {
    let mut sent = 0;
    eventually_ok("a first delivery", async || {
        inbound(app, 101, inbox, phone, &format!("ping {sent}")).await;
        sent += 1;
        tokio::time::timeout(Duration::from_millis(200), subscriber.next_result())
            .await
            .map_err(|_| format!("no delivery of {sent} messages"))
    })
    .await
}

/// Drains results until one whose field `field` satisfies `done`.
pub async fn result_where(
    subscriber: &mut Subscriber,
    field: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let matching = async {
        loop {
            let result = subscriber.next_result().await;
            if done(&result["data"][field]) {
                return result;
            }
        }
    };
    tokio::time::timeout(DEADLINE, matching)
        .await
        .expect("a matching result within the deadline")
}
