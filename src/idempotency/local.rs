//! The records of one process: all a gateway without Redis needs, and what a replica falls back
//! on while Redis is unreachable.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use moka::future::Cache;

use super::{Record, SendKey, SendRecords};

/// Most keys one process remembers (a few hundred bytes each); past it, keys are forgotten
/// before their TTL. Far more sends than one process makes in any sensible TTL: the upstream's
/// rate limit allows one credential under 700,000 calls a day, and a send takes several.
const CAPACITY: u64 = 1_000_000;

/// Records kept in this process for their TTL.
pub struct LocalSendRecords {
    records: Cache<SendKey, Record>,
}

impl LocalSendRecords {
    /// Records kept for `ttl` after their last write.
    pub fn new(ttl: Duration) -> Self {
        Self {
            records: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// What is recorded under `key`.
    pub(crate) async fn get(&self, key: &SendKey) -> Option<Record> {
        self.records.get(key).await
    }
}

impl SendRecords for LocalSendRecords {
    fn claim<'a>(&'a self, key: &'a SendKey, record: &'a Record) -> BoxFuture<'a, Option<Record>> {
        async move {
            let entry = self
                .records
                .entry(key.clone())
                .or_insert(record.clone())
                .await;
            (!entry.is_fresh()).then(|| entry.into_value())
        }
        .boxed()
    }

    fn put<'a>(&'a self, key: &'a SendKey, record: &'a Record) -> BoxFuture<'a, ()> {
        self.records.insert(key.clone(), record.clone()).boxed()
    }

    fn remove<'a>(&'a self, key: &'a SendKey) -> BoxFuture<'a, ()> {
        self.records.invalidate(key).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::Outcome;

    fn record(input: &str) -> Record {
        Record {
            input: input.to_owned(),
            outcome: Outcome::Unknown,
        }
    }

    #[tokio::test]
    async fn a_key_is_claimed_once_until_it_is_removed() {
        let records = LocalSendRecords::new(Duration::from_secs(60));
        let key = SendKey("k".to_owned());
        assert_eq!(records.claim(&key, &record("a")).await, None);
        assert_eq!(records.claim(&key, &record("b")).await, Some(record("a")));
        records.put(&key, &record("c")).await;
        assert_eq!(records.get(&key).await, Some(record("c")));
        records.remove(&key).await;
        assert_eq!(records.claim(&key, &record("d")).await, None);
    }
}
