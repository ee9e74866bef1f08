//! Persisted-query documents shared by replicas, so that a document one replica learnt serves a
//! hash-only request on any other.

use super::RedisConnection;

/// Prefix of the keys holding documents by the SHA-256 of their text.
const KEY_PREFIX: &str = "heymarket-gateway:apq:";
/// How long a document is kept after it was last registered; a client whose hash expired
/// sends its document again, so this bounds Redis memory without losing anything.
const KEEP_FOR_SECONDS: u64 = 7 * 24 * 60 * 60;

/// Documents in Redis. Redis being down makes every lookup a miss, never an error: clients
/// then resend their documents.
pub struct RedisDocuments {
    connection: RedisConnection,
}

impl RedisDocuments {
    pub fn new(connection: RedisConnection) -> Self {
        Self { connection }
    }

    pub(crate) async fn get(&self, hash: &str) -> Option<String> {
        let mut get = ::redis::cmd("GET");
        get.arg(format!("{KEY_PREFIX}{hash}"));
        self.connection
            .query::<Option<String>>(&get)
            .await
            .inspect_err(|error| tracing::debug!(%error, "persisted query lookup in Redis failed"))
            .ok()
            .flatten()
    }

    pub(crate) async fn put(&self, hash: &str, document: &str) {
        let mut set = ::redis::cmd("SET");
        set.arg(format!("{KEY_PREFIX}{hash}"))
            .arg(document)
            .arg("EX")
            .arg(KEEP_FOR_SECONDS);
        if let Err(error) = self.connection.query::<()>(&set).await {
            tracing::debug!(%error, "could not share a persisted query through Redis");
        }
    }
}
