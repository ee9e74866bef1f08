//! Request ids: every request gets one, accepted from the caller's `X-Request-Id` when it is
//! sane, generated otherwise. The id is kept in the request's extensions (as [`RequestId`]),
//! recorded on the request's span, sent upstream with every call the request makes, and
//! returned on every response, errors included.

use std::fmt;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Span;

use crate::hex::uuid_from_bits;

pub(crate) const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied id kept; it ends up in logs and in upstream headers.
const MAX_LEN: usize = 128;

/// The id of one request, as the logs, the upstream and the response name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestId(String);

impl RequestId {
    /// The caller's id when it is short printable ASCII, else a fresh one.
    pub(crate) fn accept_or_generate(headers: &HeaderMap) -> Self {
        Self::accept(headers).unwrap_or_else(Self::generate)
    }

    /// The caller's id, when it is short printable ASCII.
    pub(crate) fn accept(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?.trim();
        let sane = !value.is_empty()
            && value.len() <= MAX_LEN
            && value.bytes().all(|b| b.is_ascii_graphic());
        sane.then(|| Self(value.to_owned()))
    }

    /// A random UUID (version 4): the shape the upstream keeps when it logs request ids.
    fn generate() -> Self {
        Self(uuid_from_bits(rand::random()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Settles the request's id before anything else runs, and puts it on the response. The
/// request's own `X-Request-Id` header is set to it too, so everything downstream (the caller
/// settled for the upstream, a WebSocket's init) reads one header, whoever chose the id.
pub(super) async fn assign(mut request: Request, next: Next) -> Response {
    let id = RequestId::accept_or_generate(request.headers());
    // Both kinds of id are visible ASCII, which every header value can hold.
    let value = HeaderValue::from_str(id.as_str()).ok();
    if let Some(value) = &value {
        request
            .headers_mut()
            .insert(REQUEST_ID_HEADER, value.clone());
    }
    request.extensions_mut().insert(id);
    let mut response = next.run(request).await;
    if let Some(value) = value {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// The span every request runs in, carrying its id (set by [`assign`], which runs first).
pub(super) fn request_span(request: &Request) -> Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .map(RequestId::as_str);
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id = id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        assert_eq!(
            RequestId::accept_or_generate(&with_id(" abc-123 ")).as_str(),
            "abc-123"
        );
        for insane in ["", "has space", &"x".repeat(MAX_LEN + 1)] {
            let id = RequestId::accept_or_generate(&with_id(insane));
            assert_ne!(id.as_str(), insane.trim());
            assert_eq!(id.as_str().len(), 36);
        }
    }

    #[test]
    fn generated_ids_differ() {
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
