//! Outgoing webhooks: the documented envelope (heymarket-api.md §11), queued and delivered in
//! order by one background worker, retried on failure.
//!
//! Delivery details are undocumented; ours: a bounded queue (events beyond it are dropped and
//! counted), a per-attempt timeout, and retries after 100 ms, 500 ms and 2 s on a non-2xx
//! answer or a connection error, then the event is given up and counted.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use reqwest::header::CONTENT_TYPE;
use serde::Serialize;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::stats::{Stats, WebhookOutcome};

const QUEUE_CAPACITY: usize = 1024;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(500),
    Duration::from_secs(2),
];

/// The event types the sandbox models, spelled as the API spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    MessageSent,
    /// Spelled `message_recieved` on the wire, as documented.
    MessageReceived,
    ChatOpened,
    ChatClosed,
    ChatReassigned,
    ChatTransferred,
    TargetOptOut,
    TargetOptIn,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::MessageSent => "message_sent",
            Self::MessageReceived => "message_recieved",
            Self::ChatOpened => "chat_opened",
            Self::ChatClosed => "chat_closed",
            Self::ChatReassigned => "chat_reassigned",
            Self::ChatTransferred => "chat_transferred",
            Self::TargetOptOut => "target_opt_out",
            Self::TargetOptIn => "target_opt_in",
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The webhook configuration's id (not an event id).
    id: i64,
    token: &'a str,
    event_data: &'a T,
}

/// The handlers' side: serialises events and queues them without waiting.
#[derive(Debug)]
pub(crate) struct Webhooks {
    queue: Option<mpsc::Sender<Bytes>>,
    stats: Arc<Stats>,
}

/// The background side: POSTs queued events to the configured URL.
#[derive(Debug)]
pub(crate) struct WebhookWorker {
    queue: mpsc::Receiver<Bytes>,
    /// While true, events wait in the queue (the `webhooks_held` fault).
    held: watch::Receiver<bool>,
    client: reqwest::Client,
    url: Url,
    stats: Arc<Stats>,
}

impl Webhooks {
    /// Both sides; without a URL no worker exists and events are not queued at all. The
    /// worker holds events back while `held` is true.
    pub(crate) fn new(
        url: Option<Url>,
        stats: Arc<Stats>,
        held: watch::Receiver<bool>,
    ) -> Result<(Self, Option<WebhookWorker>), reqwest::Error> {
        let Some(url) = url else {
            return Ok((Self { queue: None, stats }, None));
        };
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()?;
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let worker = WebhookWorker {
            queue: receiver,
            held,
            client,
            url,
            stats: stats.clone(),
        };
        Ok((
            Self {
                queue: Some(sender),
                stats,
            },
            Some(worker),
        ))
    }

    /// Queues one event for the webhook configuration `webhook_id`, whose verification token
    /// is `token`.
    pub(crate) fn emit(
        &self,
        webhook_id: i64,
        token: &str,
        kind: EventKind,
        event_data: &impl Serialize,
    ) {
        let Some(queue) = &self.queue else { return };
        let envelope = Envelope {
            kind: kind.as_str(),
            id: webhook_id,
            token,
            event_data,
        };
        let body = match serde_json::to_vec(&envelope) {
            Ok(body) => Bytes::from(body),
            Err(error) => {
                tracing::error!(%error, "cannot serialise a webhook event");
                self.stats.record_webhook(WebhookOutcome::Dropped);
                return;
            }
        };
        match queue.try_send(body) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                tracing::warn!(
                    kind = kind.as_str(),
                    "webhook queue unavailable; event dropped"
                );
                self.stats.record_webhook(WebhookOutcome::Dropped);
            }
        }
    }
}

impl WebhookWorker {
    /// Delivers events in order until `stop` fires.
    pub(crate) async fn run(mut self, stop: CancellationToken) {
        loop {
            let body = tokio::select! {
                () = stop.cancelled() => return,
                next = self.queue.recv() => match next {
                    Some(body) => body,
                    None => return,
                },
            };
            let outcome = tokio::select! {
                () = stop.cancelled() => return,
                outcome = async {
                    // Its sender lives as long as the sandbox: an error only means no hold.
                    let _ = self.held.wait_for(|held| !held).await;
                    self.deliver(body).await
                } => outcome,
            };
            self.stats.record_webhook(outcome);
        }
    }

    async fn deliver(&self, body: Bytes) -> WebhookOutcome {
        let retries = RETRY_DELAYS.iter().map(Some);
        for delay in std::iter::once(None).chain(retries) {
            if let Some(&delay) = delay {
                tokio::time::sleep(delay).await;
                self.stats.record_webhook(WebhookOutcome::Retried);
            }
            let attempt = self
                .client
                .post(self.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match attempt {
                Ok(response) if response.status().is_success() => return WebhookOutcome::Delivered,
                Ok(response) => tracing::warn!(status = %response.status(), "webhook refused"),
                Err(error) => tracing::warn!(%error, "webhook delivery failed"),
            }
        }
        WebhookOutcome::Failed
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_beyond_the_queue_are_dropped_and_counted() {
        let stats = Arc::new(Stats::default());
        let url = Url::parse("http://127.0.0.1:9/hooks").unwrap();
        let (webhooks, worker) = Webhooks::new(
            Some(url),
            stats.clone(),
            watch::Sender::new(false).subscribe(),
        )
        .unwrap();
        assert!(worker.is_some());
        for id in 0..QUEUE_CAPACITY + 3 {
            webhooks.emit(901, "token", EventKind::ChatOpened, &json!({ "id": id }));
        }
        let counters = serde_json::to_value(stats.snapshot()).unwrap();
        assert_eq!(counters["webhooks"]["dropped"], 3);
    }

    #[test]
    fn without_a_url_nothing_is_queued() {
        let stats = Arc::new(Stats::default());
        let (webhooks, worker) =
            Webhooks::new(None, stats.clone(), watch::Sender::new(false).subscribe()).unwrap();
        assert!(worker.is_none());
        webhooks.emit(901, "token", EventKind::MessageSent, &json!({}));
        let counters = serde_json::to_value(stats.snapshot()).unwrap();
        assert_eq!(counters["webhooks"]["dropped"], 0);
    }
}
