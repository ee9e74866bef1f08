//! Stopping cleanly: the process-wide shutdown signal, and what a stopping server waits for
//! (requests in flight, and WebSocket connections saying goodbye).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TrackedFuture;

use crate::error::ApiError;
use crate::http;

/// Resolves on Ctrl-C, or on SIGTERM where there is one (what orchestrators send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C; only SIGTERM stops the process");
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// The HTTP requests being served: counted, so that a stop which runs out of time can say how
/// many it cut off, and answerable at once when it does.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight {
    count: Arc<AtomicUsize>,
    cut_off: CancellationToken,
}

impl InFlight {
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Answers every request still being served, and every later one, with `SHUTTING_DOWN`
    /// (503) instead of its own answer: what a stop does at its deadline, so that clients get
    /// an answer they can retry elsewhere rather than a reset connection.
    pub(crate) fn cut_off(&self) {
        self.cut_off.cancel();
    }

    /// Middleware: counts each request while it is served, including one dropped unfinished,
    /// and answers it `SHUTTING_DOWN` if the server cuts it off.
    pub(crate) async fn track(
        State(in_flight): State<Self>,
        request: Request,
        next: Next,
    ) -> Response {
        let _counted = Counted::new(&in_flight.count);
        let media = http::negotiate(request.headers()).unwrap_or(http::MediaType::Json);
        tokio::select! {
            response = next.run(request) => response,
            () = in_flight.cut_off.cancelled() => http::refused(media, ApiError::ShuttingDown),
        }
    }
}

/// One request in [`InFlight`]'s count, for as long as it lives.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Tells long-lived connections (WebSocket subscriptions, which the HTTP server stops tracking
/// once they are upgraded) that the server is stopping, and lets it wait until they have
/// closed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Drain {
    stopping: CancellationToken,
    connections: TaskTracker,
}

impl Drain {
    /// Runs `connection` as one that [`Drain::close`] waits for.
    pub(crate) fn track<F: Future>(&self, connection: F) -> TrackedFuture<F> {
        self.connections.track_future(connection)
    }

    /// Resolves once the server starts stopping (at once if it already has).
    pub(crate) fn stopping(&self) -> WaitForCancellationFutureOwned {
        self.stopping.clone().cancelled_owned()
    }

    /// Connections still open.
    pub(crate) fn open(&self) -> usize {
        self.connections.len()
    }

    /// Tells every connection to close, and resolves when all have.
    pub(crate) async fn close(&self) {
        self.stopping.cancel();
        self.connections.close();
        self.connections.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_waits_for_every_connection_to_finish_after_the_signal() {
        let drain = Drain::default();
        let (said_goodbye, mut goodbyes) = tokio::sync::mpsc::unbounded_channel();
        for id in 0..3 {
            let stopping = drain.stopping();
            let said_goodbye = said_goodbye.clone();
            tokio::spawn(drain.track(async move {
                stopping.await;
                tokio::task::yield_now().await;
                said_goodbye.send(id).ok();
            }));
        }
        assert_eq!(drain.open(), 3);

        drain.close().await;

        assert_eq!(drain.open(), 0);
        let mut ids: Vec<_> = (0..3).filter_map(|_| goodbyes.try_recv().ok()).collect();
        ids.sort_unstable();
        assert_eq!(ids, [0, 1, 2]);
        drain.stopping().await;
    }

    #[test]
    fn requests_are_counted_until_they_end_or_are_dropped() {
        let in_flight = InFlight::default();
        let first = Counted::new(&in_flight.count);
        let second = Counted::new(&in_flight.count);
        assert_eq!(in_flight.count(), 2);
        drop(first);
        assert_eq!(in_flight.count(), 1);
        drop(second);
        assert_eq!(in_flight.count(), 0);
    }
}
