//! Idempotency keys shared by replicas: a send claimed on one is answered from its record on
//! every other, and two replicas given the same key at once make one send between them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ::redis::Script;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::RedisConnection;
use crate::idempotency::{LocalSendRecords, Record, SendKey, SendRecords};

/// Prefix of the keys holding records; the tenant's digest and the key's follow.
const KEY_PREFIX: &str = "heymarket-gateway:sends:";

/// KEYS[1]: the record. ARGV[1]: the claiming record, ARGV[2]: its TTL in milliseconds.
/// `SET NX` records the claim unless a record is there; then the record is answered (nil after
/// a claim). One atomic step, so two replicas cannot both find the key free, and a record
/// cannot expire between the failed claim and the read.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
return redis.call('GET', KEYS[1])
";

/// Records in Redis, kept for their TTL, and in this process too: while Redis is unreachable a
/// replica still answers the keys it has seen itself, and claims new ones on its own (so two
/// replicas may then both send one key; the warning says so).
pub struct RedisSendRecords {
    connection: RedisConnection,
    local: LocalSendRecords,
    claim: Script,
    ttl_millis: u64,
    /// Set while Redis fails, so the fallback is logged once per outage.
    failing: AtomicBool,
}

impl RedisSendRecords {
    pub fn new(connection: RedisConnection, ttl: Duration) -> Self {
        Self {
            connection,
            local: LocalSendRecords::new(ttl),
            claim: Script::new(CLAIM),
            ttl_millis: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1),
            failing: AtomicBool::new(false),
        }
    }

    fn failed(&self, error: &str) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                %error,
                "idempotency keys are not shared with other replicas while Redis is unreachable: \
                 a key sent at once through two replicas may send twice"
            );
        }
    }

    fn recovered(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("idempotency keys are shared through Redis again");
        }
    }

    fn name(key: &SendKey) -> String {
        format!("{KEY_PREFIX}{}", key.as_str())
    }

    /// Records `record` in Redis, replacing what was there.
    async fn put_shared(&self, key: &SendKey, record: &Record) {
        let Ok(text) = serde_json::to_string(record) else {
            return;
        };
        let mut set = ::redis::cmd("SET");
        set.arg(Self::name(key))
            .arg(text)
            .arg("PX")
            .arg(self.ttl_millis);
        match self.connection.query::<()>(&set).await {
            Ok(()) => self.recovered(),
            Err(error) => self.failed(&error.to_string()),
        }
    }

    /// Claims in Redis: `Ok(None)` when the claim was recorded, else what was there.
    async fn claim_shared(&self, key: &SendKey, record: &Record) -> Result<Option<Record>, String> {
        let text = serde_json::to_string(record).map_err(|error| error.to_string())?;
        let mut invocation = self.claim.key(Self::name(key));
        invocation.arg(text).arg(self.ttl_millis);
        let found: Option<String> = self
            .connection
            .invoke(&invocation)
            .await
            .map_err(|error| error.to_string())?;
        found
            .map(|text| serde_json::from_str(&text).map_err(|error| error.to_string()))
            .transpose()
    }
}

impl SendRecords for RedisSendRecords {
    fn claim<'a>(&'a self, key: &'a SendKey, record: &'a Record) -> BoxFuture<'a, Option<Record>> {
        async move {
            match self.claim_shared(key, record).await {
                Ok(Some(found)) => {
                    self.recovered();
                    Some(found)
                }
                Ok(None) => {
                    self.recovered();
                    // What this replica recorded while Redis was away (or after Redis lost it)
                    // still counts: it goes back to Redis in place of the claim just made.
                    if let Some(earlier) = self.local.get(key).await {
                        self.put_shared(key, &earlier).await;
                        return Some(earlier);
                    }
                    self.local.put(key, record).await;
                    None
                }
                Err(error) => {
                    self.failed(&error);
                    self.local.claim(key, record).await
                }
            }
        }
        .boxed()
    }

    fn put<'a>(&'a self, key: &'a SendKey, record: &'a Record) -> BoxFuture<'a, ()> {
        async move {
            self.local.put(key, record).await;
            self.put_shared(key, record).await;
        }
        .boxed()
    }

    fn remove<'a>(&'a self, key: &'a SendKey) -> BoxFuture<'a, ()> {
        async move {
            self.local.remove(key).await;
            let mut delete = ::redis::cmd("DEL");
            delete.arg(Self::name(key));
            match self.connection.query::<()>(&delete).await {
                Ok(()) => self.recovered(),
                Err(error) => self.failed(&error.to_string()),
            }
        }
        .boxed()
    }
}
