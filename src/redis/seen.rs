//! Webhook de-duplication shared by replicas: Heymarket may deliver an event again to any of
//! them, and only the first delivery anywhere is taken in.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::RedisConnection;
use crate::events::{LocalSeenEvents, REMEMBER_FOR, SeenEvents};

/// Prefix of the keys that remember fingerprints.
const KEY_PREFIX: &str = "heymarket-gateway:seen:";

/// Fingerprints remembered in Redis for [`REMEMBER_FOR`], and in this process too, so that
/// while Redis is unreachable a redelivery to this replica is still recognised.
pub struct RedisSeenEvents {
    connection: RedisConnection,
    local: LocalSeenEvents,
}

impl RedisSeenEvents {
    pub fn new(connection: RedisConnection) -> Self {
        Self {
            connection,
            local: LocalSeenEvents::default(),
        }
    }
}

impl SeenEvents for RedisSeenEvents {
    fn first_time<'a>(&'a self, fingerprint: &'a str) -> BoxFuture<'a, bool> {
        async move {
            let new_here = self.local.first_time(fingerprint).await;
            let mut remember = ::redis::cmd("SET");
            remember
                .arg(format!("{KEY_PREFIX}{fingerprint}"))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(u64::try_from(REMEMBER_FOR.as_millis()).unwrap_or(u64::MAX));
            // `SET … NX` answers OK when it created the key, nil when the key was there.
            match self.connection.query::<Option<String>>(&remember).await {
                Ok(created) => created.is_some(),
                Err(error) => {
                    tracing::debug!(%error, "de-duplicating a webhook event in this replica only");
                    new_here
                }
            }
        }
        .boxed()
    }
}
