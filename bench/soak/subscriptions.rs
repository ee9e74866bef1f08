//! Subscribers: graphql-transport-ws connections held open through a run, each with one
//! subscription, counting what arrives and how the connection ends. Shared by the soak and the
//! team benchmark.

use anyhow::Context as _;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

use crate::processes::client_authorization;

/// What one subscriber saw.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// `next` messages without errors.
    pub(crate) events: u64,
    /// `next` messages with errors, and `error` messages.
    pub(crate) errors: u64,
    /// Whether the server closed the connection (or it broke) before the run ended.
    pub(crate) closed_early: bool,
}

impl Received {
    pub(crate) fn merge(&mut self, other: &Self) {
        self.events += other.events;
        self.errors += other.errors;
        self.closed_early |= other.closed_early;
    }
}

/// Connects to the gateway's `/graphql` WebSocket as `member`, subscribes with `query` and
/// `variables`, and reads until `stop`, calling `on_event` for every event without errors;
/// then closes the connection.
pub(crate) async fn subscriber(
    graphql_url: &str,
    member: i64,
    query: &str,
    variables: Value,
    stop: CancellationToken,
    mut on_event: impl FnMut(),
) -> anyhow::Result<Received> {
    let url = graphql_url.replacen("http://", "ws://", 1);
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("cannot open a WebSocket")?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": client_authorization(member) } });
    socket.send(Message::text(init.to_string())).await?;
    let payload = json!({ "query": query, "variables": variables });
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": payload });
    socket.send(Message::text(subscribe.to_string())).await?;

    let mut received = Received::default();
    loop {
        let frame = tokio::select! {
            () = stop.cancelled() => break,
            frame = socket.next() => frame,
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).unwrap_or_default();
                match message["type"].as_str() {
                    Some("next") if message["payload"]["errors"].is_null() => {
                        received.events += 1;
                        on_event();
                    }
                    Some("next" | "error") => received.errors += 1,
                    _ => {}
                }
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                received.closed_early = true;
                return Ok(received);
            }
            Some(Ok(_)) => {}
        }
    }
    socket.close(None).await.ok();
    Ok(received)
}
