//! Which events were already taken in, so a webhook Heymarket delivers again is processed once.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use moka::future::Cache;

/// How long an event's identity is remembered: longer than any redelivery schedule.
pub const REMEMBER_FOR: Duration = Duration::from_secs(24 * 3600);

/// Remembers events by their identity ([`Event::fingerprint`](super::Event::fingerprint)), not
/// their bytes, so a redelivery is known however it is spelled.
pub trait SeenEvents: Send + Sync + 'static {
    /// Records `fingerprint` (an event's identity) and answers whether it is new (false for a
    /// redelivery).
    fn first_time<'a>(&'a self, fingerprint: &'a str) -> BoxFuture<'a, bool>;
}

/// Fingerprints remembered by this process.
pub struct LocalSeenEvents {
    seen: Cache<String, ()>,
}

impl Default for LocalSeenEvents {
    fn default() -> Self {
        Self {
            seen: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(REMEMBER_FOR)
                .build(),
        }
    }
}

impl SeenEvents for LocalSeenEvents {
    fn first_time<'a>(&'a self, fingerprint: &'a str) -> BoxFuture<'a, bool> {
        async move {
            self.seen
                .entry(fingerprint.to_owned())
                .or_insert(())
                .await
                .is_fresh()
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fingerprint_is_new_once() {
        let seen = LocalSeenEvents::default();
        assert!(seen.first_time("a").await);
        assert!(!seen.first_time("a").await);
        assert!(seen.first_time("b").await);
    }
}
