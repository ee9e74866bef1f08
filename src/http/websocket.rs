//! GraphQL over WebSocket on `/graphql` (`graphql-transport-ws`, and the legacy `graphql-ws`).
//!
//! The caller is settled at `connection_init`: credentials and `X-Member-Id` may come in the
//! init payload (browsers cannot set headers on a WebSocket) or in the upgrade request's
//! headers. The credential is tried upstream before the connection is acknowledged, and a
//! refused one closes the socket with `4403 Forbidden`, as graphql-transport-ws specifies.

use std::str::FromStr;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols as Protocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::header::SEC_WEBSOCKET_PROTOCOL;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt, future};

use super::graphql::{caller, error_response};
use super::request_id::RequestId;
use crate::error::ApiError;
use crate::loaders::Loaders;
use crate::schema::Caller;
use crate::state::AppState;

/// graphql-transport-ws's close code for a refused `connection_init`.
const FORBIDDEN: u16 = 4403;
/// Starts the message of every init refusal, so the close code can be set to [`FORBIDDEN`]
/// (the library closes every failed init with 1002).
const REFUSED: &str = "connection_init refused: ";

pub(super) async fn upgrade(state: AppState, request_id: RequestId, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let Some(protocol) = subprotocol(&parts.headers) else {
        let error = ApiError::bad_input(
            "ask for the `graphql-transport-ws` (or legacy `graphql-ws`) subprotocol",
        );
        return error_response(StatusCode::BAD_REQUEST, error);
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let headers = parts.headers;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(state, headers, request_id, protocol, socket))
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
    request_id: RequestId,
    protocol: Protocols,
    socket: WebSocket,
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
    let on_init = move |payload: serde_json::Value| async move {
        let caller = connection_caller(&init_state, &headers, &request_id, &payload)
            .await
            .map_err(|error| async_graphql::Error::new(format!("{REFUSED}{error}")))?;
        let mut data = Data::default();
        data.insert(caller);
        Ok(data)
    };
    let mut outgoing = async_graphql::http::WebSocket::new(state.executor(None), input, protocol)
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
                    reason: close_reason(&reason).into(),
                }))
            }
        });
    while let Some(message) = outgoing.next().await {
        if sink.send(message).await.is_err() {
            break;
        }
    }
}

/// A close frame's reason holds at most 123 bytes; a longer one is cut at a character boundary.
fn close_reason(reason: &str) -> &str {
    const MAX: usize = 123;
    let mut end = reason.len().min(MAX);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// The caller a connection acts for: the upgrade's headers, overridden by same-named string
/// entries of the init payload (`{"Authorization": "Bearer …", "X-Member-Id": "501"}`),
/// checked upstream before the connection is accepted. Its request id is the payload's, else
/// the upgrade request's.
async fn connection_caller(
    state: &AppState,
    headers: &HeaderMap,
    upgrade_id: &RequestId,
    payload: &serde_json::Value,
) -> Result<Caller, ApiError> {
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
    let mut caller = caller(state, &headers).map_err(|(_, error)| error)?;
    let request_id = RequestId::accept(&headers).unwrap_or_else(|| upgrade_id.clone());
    caller.upstream = caller.upstream.with_request_id(request_id.to_string());
    // A pass-through credential is only known good once the upstream accepted it.
    Loaders::new(caller.upstream.clone(), state.caches.clone())
        .team()
        .await?;
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        assert_eq!(close_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= 123 && long.starts_with(cut));
    }
}
