//! Whole answers kept for a caller who asks the same query again.
//!
//! A warm dashboard spends nearly all its time building the answer from cached entities (30
//! rows of resolvers and batched look-ups), next to which the HTTP and GraphQL machinery is
//! cheap: a trivial query through the same pipeline runs about 50 times as fast (see
//! `bench/RESULTS.md`). So an answer is kept as built and served again, for:
//!
//! - **the same caller**: keyed by the tenant (the upstream credential) and the member the
//!   caller acts as, so an answer never reaches another member or team;
//! - **the same request**: a digest of the query text, the operation name and the variables;
//! - **data that has not changed**: keyed by the tenant's answer generation, which every event,
//!   write and forgetting of the tenant's data moves on ([`Caches::answers_changed`]).
//!
//! Only queries are kept, only answers without errors, and only while the tenant's team is
//! event-driven (`loaders::freshness`): an answer cannot tell when the entries it was built
//! from expire, so only events may replace it, and a team whose stream falls silent forgets its
//! answers with its entries. Each answer lives at most as long as the shortest-lived data it
//! may hold, and the whole cache is bounded in bytes (`--answer-cache-mib`).

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Request, Response, Value};
use moka::future::Cache;
use sha2::{Digest, Sha256};

use crate::config::CacheConfig;
use crate::loaders::Caches;
use crate::upstream::TenantKey;

/// Who asked what, of which state of the tenant's data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    tenant: TenantKey,
    /// The member the caller acts as, as it asked (`None`: the credential's default).
    member: Option<i64>,
    generation: u64,
    /// SHA-256 of the query, the operation name and the variables.
    request: [u8; 32],
}

/// Answers kept whole (their data: they hold no errors, and extensions are per request),
/// bounded in bytes.
pub struct AnswerCache {
    answers: Cache<AnswerKey, Arc<Value>>,
}

impl AnswerCache {
    /// `None` when `config` turns answers off (a capacity of 0).
    pub fn new(config: &CacheConfig) -> Option<Self> {
        let capacity = config.answer_capacity_bytes;
        if capacity == 0 {
            return None;
        }
        let lifetime = [
            config.ttl_with_events,
            config.ttl_directory,
            config.ttl_contacts,
        ]
        .into_iter()
        .min()
        .unwrap_or(Duration::ZERO);
        Some(Self {
            answers: Cache::builder()
                .max_capacity(capacity)
                .weigher(|key: &AnswerKey, answer: &Arc<Value>| {
                    let size = std::mem::size_of_val(key) + weight(answer);
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .time_to_live(lifetime)
                .build(),
        })
    }

    /// Where an answer to `request` for `tenant` acting as `member` is kept, when it may be:
    /// while the tenant's team is event-driven.
    pub fn key(
        caches: &Caches,
        tenant: TenantKey,
        member: Option<i64>,
        request: &Request,
    ) -> Option<AnswerKey> {
        let generation = caches.answers_generation(tenant)?;
        let mut digest = Sha256::new();
        for part in [
            request.query.as_str(),
            request.operation_name.as_deref().unwrap_or_default(),
        ] {
            digest.update(part.len().to_le_bytes());
            digest.update(part);
        }
        // Variables serialise the same way each time they hold the same values in the same
        // order; a reordered object is only a miss.
        match serde_json::to_vec(&request.variables) {
            Ok(variables) => digest.update(variables),
            Err(_) => return None,
        }
        Some(AnswerKey {
            tenant,
            member,
            generation,
            request: digest.finalize().into(),
        })
    }

    /// The answer kept under `key`, as a fresh response.
    pub async fn get(&self, key: &AnswerKey) -> Option<Response> {
        let data = self.answers.get(key).await?;
        Some(Response::new((*data).clone()))
    }

    /// Keeps `answer` when it holds no errors.
    pub async fn keep(&self, key: AnswerKey, answer: &Response) {
        if answer.errors.is_empty() {
            self.answers
                .insert(key, Arc::new(answer.data.clone()))
                .await;
        }
    }
}

/// About the memory an answer holds: its data as JSON, a fair proxy for the value tree.
fn weight(data: &Value) -> usize {
    serde_json::to_vec(data).map_or(usize::MAX, |json| json.len())
}
