//! Where the client rate limit ([`ClientRateLimiter`]) meets HTTP: the address a request came
//! from, and the executor that counts every operation a WebSocket starts.

use std::any::TypeId;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use async_graphql::{Data, Executor, Request, Response};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::Extensions;
use axum::http::request::Parts;

use crate::client_limit::{ClientKey, ClientRateLimiter};
use crate::schema::{CallerExecutor, refused};

/// The address a request came from, when the server recorded it (see [`client_ip`]).
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self(client_ip(&parts.extensions)))
    }
}

/// The peer address the server recorded in a request's extensions (`ConnectInfo`); `None` when
/// the router runs without it, as in-process tests may.
pub(crate) fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Counts every operation a WebSocket connection starts against the [`ClientKey`] its
/// `connection_init` settled (kept in the connection data).
#[derive(Clone)]
pub(crate) struct RateLimitedExecutor {
    inner: CallerExecutor,
    limiter: Arc<ClientRateLimiter>,
}

impl RateLimitedExecutor {
    pub(crate) fn new(inner: CallerExecutor, limiter: Arc<ClientRateLimiter>) -> Self {
        Self { inner, limiter }
    }
}

impl Executor for RateLimitedExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.inner.execute(request).await
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let client = session_data
            .as_deref()
            .and_then(|data| data.get(&TypeId::of::<ClientKey>()))
            .and_then(|client| client.downcast_ref::<ClientKey>());
        if let Some(Err(error)) = client.map(|client| self.limiter.check(client)) {
            let response = refused(error);
            return stream::once(async { response }).boxed();
        }
        self.inner.execute_stream(request, session_data)
    }
}
