//! Accepts the gateway's connections and serves HTTP/1.1 on them, within ceilings: at most
//! `max_connections` at once, and `header_read_timeout` for a client to send a request's
//! headers. `axum::serve` offers neither, so this is its loop with both added.
//!
//! Past the connection ceiling the listener is not polled: new connections wait in the
//! kernel's listen backlog (and beyond it are refused by the kernel) until one closes, and
//! the gateway's memory stays bounded. Once a connection is upgraded to a WebSocket it leaves
//! this count; WebSockets have a ceiling of their own (see `http::websocket`).

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Service as _;

use crate::config::ConnectionConfig;

/// How long accepting pauses after an error that is not about one connection (out of file
/// descriptors, say), so the loop does not spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// A bound listener and what it serves.
pub(crate) struct Server {
    listener: TcpListener,
    make_service: IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    http: http1::Builder,
    slots: Arc<Semaphore>,
    max_connections: usize,
    /// Set while every slot is taken, so that reaching the ceiling is logged once, not once
    /// per connection waiting.
    saturated: bool,
}

/// The connections of a server that stopped accepting, each finishing its current request.
pub(crate) struct Closing {
    connections: TaskTracker,
}

impl Closing {
    /// Resolves once every connection has closed (or been upgraded).
    pub(crate) async fn closed(&self) {
        self.connections.wait().await;
    }
}

impl Server {
    /// Serves `router` on `listener`; each request carries the client's address as
    /// `ConnectInfo<SocketAddr>`.
    pub(crate) fn new(listener: TcpListener, router: Router, limits: &ConnectionConfig) -> Self {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        Self {
            listener,
            make_service: router.into_make_service_with_connect_info::<SocketAddr>(),
            http,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            max_connections: limits.max_connections,
            saturated: false,
        }
    }

    /// Accepts and serves connections until `shutdown` resolves; then stops accepting, and
    /// asks every connection to close once its current request is answered.
    pub(crate) async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Closing {
        let connections = TaskTracker::new();
        let stopping = CancellationToken::new();
        let mut shutdown = pin!(shutdown);
        loop {
            let (stream, remote, slot) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.accept() => accepted,
            };
            let service = match self.make_service.call(remote).await {
                Ok(service) => TowerToHyperService::new(service),
                Err(infallible) => match infallible {},
            };
            let http = self.http.clone();
            let stopping = stopping.clone();
            connections.spawn(async move {
                let _slot = slot;
                let connection = http
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                let mut connection = pin!(connection);
                let served = tokio::select! {
                    served = connection.as_mut() => served,
                    () = stopping.cancelled() => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(error) = served {
                    // A client that went away or was too slow: its own business.
                    tracing::debug!(%error, client = %remote, "connection ended with an error");
                }
            });
        }
        stopping.cancel();
        connections.close();
        Closing { connections }
    }

    /// The next connection, once a slot is free for it.
    async fn accept(&mut self) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
        let slot = self.slot().await;
        loop {
            match self.listener.accept().await {
                Ok((stream, remote)) => return (stream, remote, slot),
                Err(error) if is_connection_error(&error) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot accept connections; pausing");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
        }
    }
}

impl Server {
    /// A free connection slot, waiting for one to free up if need be.
    async fn slot(&mut self) -> OwnedSemaphorePermit {
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            self.saturated = false;
            return slot;
        }
        if !self.saturated {
            self.saturated = true;
            tracing::warn!(
                max_connections = self.max_connections,
                "connection limit reached: new connections wait until one closes"
            );
        }
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the semaphore lives in the server and is never closed") // ok: never closed
    }
}

/// Errors that concern only the connection being accepted, which the client already dropped.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}
