//! GraphQL over WebSocket on `/graphql` (`graphql-transport-ws`, and the legacy `graphql-ws`).
//!
//! The caller is settled at `connection_init`: credentials and `X-Member-Id` may come in the
//! init payload (browsers cannot set headers on a WebSocket) or in the upgrade request's
//! headers. The credential is checked (a client token verified, a pass-through credential tried
//! upstream) before the connection is acknowledged, and a refused one closes the socket with
//! `4403 Forbidden`, as graphql-transport-ws specifies. Each operation started counts against
//! the connection's client rate limit. When the server stops, every socket is closed with
//! `1001 Going Away`.
//!
//! What one socket may hold is bounded: at most `--max-websockets` are open (more upgrades are
//! answered 503 `TOO_MANY_CONNECTIONS`), one that sends no `connection_init` within
//! `--websocket-init-timeout` is closed with `4408`, as graphql-transport-ws specifies, and a
//! message may be no larger than a request body (`--max-body`).

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols as Protocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::header::SEC_WEBSOCKET_PROTOCOL;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt, future};
use tokio::sync::oneshot;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::caller::{Settled, caller, check_member};
use super::negotiation::MediaType;
use super::rate_limit::{RateLimitedExecutor, client_ip};
use super::responses;
use crate::client_limit::ClientKey;
use crate::error::ApiError;
use crate::shutdown::Drain;
use crate::state::AppState;
use crate::text::prefix_within;

/// The most bytes a close frame's reason may hold.
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// graphql-transport-ws's close code for a refused `connection_init`.
const FORBIDDEN: u16 = 4403;
/// Starts the message of every init refusal, so the close code can be set to [`FORBIDDEN`]
/// (the library closes every failed init with 1002).
const REFUSED: &str = "connection_init refused: ";
/// The close code for a server that is stopping. RFC 6455 §7.4.1 defines 1001 Going Away as
/// "a server going down", and neither GraphQL WebSocket protocol defines its own code for it;
/// clients treat it as a reason to reconnect (to another replica), not as an error of theirs.
const GOING_AWAY: u16 = 1001;
const GOING_AWAY_REASON: &str = "the server is shutting down";
/// graphql-transport-ws's close code, and reason, for a socket that sent no `connection_init`
/// in time.
const INIT_TIMEOUT: u16 = 4408;
const INIT_TIMEOUT_REASON: &str = "Connection initialisation timeout";
/// Bytes read from a socket at a time. The library's default, 128 KiB, is allocated for every
/// socket however little it receives; GraphQL messages are small, and a larger one is still
/// read whole, in more reads.
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub(super) async fn upgrade(state: AppState, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let Some(protocol) = subprotocol(&parts.headers) else {
        let error = ApiError::bad_input(
            "ask for the `graphql-transport-ws` (or legacy `graphql-ws`) subprotocol",
        );
        return responses::refused(MediaType::Json, error);
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // Held by the connection until it closes; dropped with the closure if the upgrade fails.
    let Ok(slot) = Arc::clone(&state.websocket_slots).try_acquire_owned() else {
        return responses::refused(
            MediaType::Json,
            ApiError::TooManyConnections {
                kind: "WebSocket connections",
            },
        );
    };
    let ip = client_ip(&parts.extensions);
    // Installed by the server around the router; a router served without it (in-process
    // tests) gets a drain that never stops.
    let drain = parts.extensions.get::<Drain>().cloned().unwrap_or_default();
    let headers = parts.headers;
    let max_message = state.config.limits.max_body_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| {
            let stopping = drain.stopping();
            drain.track(async move {
                serve(state, headers, ip, protocol, socket, stopping).await;
                drop(slot);
            })
        })
}

/// The first GraphQL subprotocol the client offers.
fn subprotocol(headers: &HeaderMap) -> Option<Protocols> {
    let offered = headers.get(SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    offered
        .split(',')
        .find_map(|protocol| protocol.trim().parse().ok())
}

async fn serve(
    state: AppState,
    headers: HeaderMap,
    ip: Option<IpAddr>,
    protocol: Protocols,
    socket: WebSocket,
    stopping: WaitForCancellationFutureOwned,
) {
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| future::ready(message.is_ok()))
        .filter_map(|message| {
            future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let init_state = state.clone();
    let (init_received, received) = oneshot::channel::<()>();
    let on_init = move |payload: serde_json::Value| {
        let _ = init_received.send(());
        async move {
            let settled = connection_caller(&init_state, &headers, ip, &payload)
                .await
                .map_err(|error| {
                    tracing::info!(code = error.code(), reason = %error, "WebSocket connection refused");
                    async_graphql::Error::new(format!("{REFUSED}{error}"))
                })?;
            let mut data = Data::default();
            data.insert(settled.caller);
            data.insert(settled.client);
            Ok(data)
        }
    };
    let init_timeout = state.config.connections.websocket_init_timeout;
    // Resolves only if `connection_init` has not arrived within the timeout.
    let init_overdue = async move {
        if tokio::time::timeout(init_timeout, received).await.is_ok() {
            future::pending::<()>().await;
        }
    };
    let executor =
        RateLimitedExecutor::new(state.executor(None), Arc::clone(&state.client_limiter));
    let mut outgoing = async_graphql::http::WebSocket::new(executor, input, protocol)
        .on_connection_init(on_init)
        .map(|message| match message {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => {
                let code = if reason.starts_with(REFUSED) {
                    FORBIDDEN
                } else {
                    code
                };
                Message::Close(Some(CloseFrame {
                    code,
                    reason: prefix_within(&reason, MAX_CLOSE_REASON_BYTES).into(),
                }))
            }
        });
    let mut stopping = std::pin::pin!(stopping);
    let mut init_overdue = std::pin::pin!(init_overdue);
    loop {
        let message = tokio::select! {
            message = outgoing.next() => message,
            () = &mut stopping => Some(Message::Close(Some(CloseFrame {
                code: GOING_AWAY,
                reason: GOING_AWAY_REASON.into(),
            }))),
            () = &mut init_overdue => {
                tracing::debug!(?ip, "WebSocket closed: no connection_init in time");
                Some(Message::Close(Some(CloseFrame {
                    code: INIT_TIMEOUT,
                    reason: INIT_TIMEOUT_REASON.into(),
                })))
            }
        };
        let Some(message) = message else { break };
        let closing = matches!(message, Message::Close(_));
        if sink.send(message).await.is_err() || closing {
            break;
        }
    }
}

/// The caller a connection acts for: the upgrade's headers, overridden by same-named string
/// entries of the init payload (`{"Authorization": "Bearer …", "X-Member-Id": "501"}`),
/// checked before the connection is accepted.
async fn connection_caller(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    payload: &serde_json::Value,
) -> Result<Settled, ApiError> {
    let mut headers = headers.clone();
    for (name, value) in payload.as_object().into_iter().flatten() {
        let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_str(name),
            value.as_str().map(HeaderValue::from_str),
        ) else {
            continue;
        };
        headers.insert(name, value);
    }
    let settled = caller(state, &headers, ip).await?;
    // A credential the upstream has not accepted lately is checked below with an upstream
    // call: that counts against its address's budget, as for an HTTP request.
    settled.count_unverified(state)?;
    let verified_member = match settled.client {
        ClientKey::Member(member) => Some(member),
        _ => None,
    };
    check_member(state, &settled.caller, verified_member).await?;
    Ok(settled)
}
