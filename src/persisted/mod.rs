//! Persisted operations: Apollo's automatic persisted queries (APQ), and an optional allowlist.
//!
//! With APQ a client first sends only the SHA-256 of its document, in
//! `extensions.persistedQuery.sha256Hash`. On a miss the gateway answers
//! `PersistedQueryNotFound`; the client resends with the document, which the gateway checks
//! against the hash and remembers, in memory and, with Redis, for every replica. Large documents
//! then cross the network once, and GET requests stay short enough to cache at the edge.
//!
//! With an allowlist ([`Allowlist`]) only the listed operations run, whether named by hash or
//! sent in full, and nothing is learnt from clients.

mod allowlist;

use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use allowlist::Allowlist;

use crate::error::ApiError;
use crate::redis::RedisDocuments;

/// The one version of the APQ protocol there is.
const APQ_VERSION: u64 = 1;
/// Bytes of documents kept in this process; beyond it the least used are forgotten (a client
/// that hits a forgotten hash simply sends its document again).
const MEMORY_BYTES: u64 = 16 * 1024 * 1024;

/// The document a request runs, and what to learn from it once it proves valid.
#[derive(Debug, PartialEq)]
pub struct Found {
    pub query: String,
    /// An APQ registration, for [`PersistedQueries::learn`] once the document is validated.
    pub learning: Option<Learning>,
}

impl Found {
    fn plain(query: String) -> Self {
        Self {
            query,
            learning: None,
        }
    }
}

/// A document and its hash, not yet remembered.
#[derive(Debug, PartialEq)]
pub struct Learning {
    hash: String,
    document: Arc<str>,
}

/// Finds the document a request runs.
pub struct PersistedQueries {
    memory: moka::future::Cache<String, Arc<str>>,
    shared: Option<RedisDocuments>,
    allowlist: Option<Allowlist>,
}

impl PersistedQueries {
    /// APQ learning documents from clients (sharing them through `shared` when given), or,
    /// with `allowlist`, only the operations it lists.
    pub fn new(allowlist: Option<Allowlist>, shared: Option<RedisDocuments>) -> Self {
        let memory = moka::future::Cache::builder()
            .max_capacity(MEMORY_BYTES)
            .weigher(|hash: &String, document: &Arc<str>| {
                u32::try_from(hash.len() + document.len()).unwrap_or(u32::MAX)
            })
            .build();
        Self {
            memory,
            shared,
            allowlist,
        }
    }

    /// The document to run: the request's own `query` (checked against its hash when one came
    /// with it), or the one persisted under the hash. A document sent with its hash comes back
    /// with a [`Learning`]: it is remembered only once it has been validated, so nothing that
    /// would fail (or crash) every replica reading it is ever stored.
    pub async fn document(
        &self,
        query: Option<String>,
        extensions: &Map<String, Value>,
    ) -> Result<Found, ApiError> {
        let hash = extensions
            .get("persistedQuery")
            .map(persisted_hash)
            .transpose()?;
        match (query, hash) {
            (Some(query), None) => {
                if self.allowlist.is_some() {
                    self.check_allowed(&sha256_hex(&query))?;
                }
                Ok(Found::plain(query))
            }
            (Some(query), Some(hash)) => {
                if sha256_hex(&query) != hash {
                    return Err(ApiError::bad_input(
                        "extensions.persistedQuery.sha256Hash is not the SHA-256 of `query`",
                    ));
                }
                self.check_allowed(&hash)?;
                let learning = self.allowlist.is_none().then(|| Learning {
                    hash,
                    document: Arc::from(query.as_str()),
                });
                Ok(Found { query, learning })
            }
            (None, Some(hash)) => self
                .recall(&hash)
                .await
                .map(|document| Found::plain(document.to_string()))
                .ok_or(ApiError::PersistedQueryNotFound),
            (None, None) => Err(ApiError::bad_input(
                "send the operation's document in `query` (or a persisted query's hash in \
                 extensions.persistedQuery)",
            )),
        }
    }

    /// Remembers a document that came with its hash, once it has been validated: in this
    /// process, and with Redis for every replica.
    pub async fn learn(&self, learning: Learning) {
        let Learning { hash, document } = learning;
        if let Some(shared) = &self.shared {
            shared.put(&hash, &document).await;
        }
        self.memory.insert(hash, document).await;
    }

    fn check_allowed(&self, hash: &str) -> Result<(), ApiError> {
        match &self.allowlist {
            Some(allowlist) if allowlist.get(hash).is_none() => Err(ApiError::OperationNotAllowed),
            _ => Ok(()),
        }
    }

    async fn recall(&self, hash: &str) -> Option<Arc<str>> {
        if let Some(allowlist) = &self.allowlist {
            return allowlist.get(hash);
        }
        if let Some(document) = self.memory.get(hash).await {
            return Some(document);
        }
        let document: Arc<str> = Arc::from(self.shared.as_ref()?.get(hash).await?);
        if sha256_hex(&document) != hash {
            tracing::warn!(
                hash,
                "a shared persisted query does not match its hash; ignored"
            );
            return None;
        }
        self.memory
            .insert(hash.to_owned(), Arc::clone(&document))
            .await;
        Some(document)
    }
}

/// The lowercase hex hash from an `extensions.persistedQuery` object.
fn persisted_hash(persisted: &Value) -> Result<String, ApiError> {
    let version = persisted.get("version").and_then(Value::as_u64);
    if version != Some(APQ_VERSION) {
        return Err(ApiError::bad_input(
            "unsupported persisted query version; send extensions.persistedQuery.version 1",
        ));
    }
    persisted
        .get("sha256Hash")
        .and_then(Value::as_str)
        .filter(|hash| hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| {
            ApiError::bad_input(
                "extensions.persistedQuery.sha256Hash must be a SHA-256 in 64 hex digits",
            )
        })
}

/// The SHA-256 of `text`, in lowercase hex, as APQ clients compute it.
pub(crate) fn sha256_hex(text: &str) -> String {
    crate::hex::hex(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const DOCUMENT: &str = "{ inboxes { name } }";

    fn persisted(hash: &str) -> Map<String, Value> {
        let Value::Object(extensions) =
            json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
        else {
            unreachable!()
        };
        extensions
    }

    #[test]
    fn hashes_are_apollo_compatible() {
        // As computed by `printf '{ __typename }' | sha256sum`.
        assert_eq!(
            sha256_hex("{ __typename }"),
            "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b"
        );
    }

    /// The document a lookup found, or its error.
    async fn query(
        store: &PersistedQueries,
        query: Option<&str>,
        extensions: &Map<String, Value>,
    ) -> Result<String, ApiError> {
        store
            .document(query.map(str::to_owned), extensions)
            .await
            .map(|found| found.query)
    }

    #[tokio::test]
    async fn a_hash_is_unknown_until_its_validated_document_is_learnt() {
        let store = PersistedQueries::new(None, None);
        let hash = sha256_hex(DOCUMENT);

        assert_eq!(
            query(&store, None, &persisted(&hash)).await,
            Err(ApiError::PersistedQueryNotFound)
        );
        let registered = store
            .document(Some(DOCUMENT.to_owned()), &persisted(&hash))
            .await
            .expect("the document matches its hash");
        assert_eq!(registered.query, DOCUMENT);
        assert_eq!(
            query(&store, None, &persisted(&hash)).await,
            Err(ApiError::PersistedQueryNotFound),
            "nothing is learnt before the document is validated"
        );
        store
            .learn(registered.learning.expect("a registration to learn"))
            .await;
        let recalled = query(&store, None, &persisted(&hash.to_ascii_uppercase())).await;
        assert_eq!(recalled.as_deref(), Ok(DOCUMENT));
        let plain = store
            .document(Some(DOCUMENT.to_owned()), &Map::new())
            .await
            .expect("a plain document");
        assert_eq!(
            plain.learning, None,
            "a document without a hash teaches nothing"
        );
    }

    #[tokio::test]
    async fn a_document_that_does_not_match_its_hash_is_refused_and_not_learnt() {
        let store = PersistedQueries::new(None, None);
        let hash = sha256_hex("{ something { else } }");

        let refused = query(&store, Some(DOCUMENT), &persisted(&hash)).await;

        assert!(matches!(refused, Err(ApiError::BadUserInput(_))));
        assert_eq!(
            query(&store, None, &persisted(&hash)).await,
            Err(ApiError::PersistedQueryNotFound)
        );
    }

    #[tokio::test]
    async fn malformed_persisted_query_extensions_are_named() {
        let store = PersistedQueries::new(None, None);
        for (extension, complaint) in [
            (
                json!({"version": 2, "sha256Hash": sha256_hex(DOCUMENT)}),
                "version",
            ),
            (json!({"version": 1, "sha256Hash": "abc"}), "64 hex digits"),
            (json!({"version": 1}), "64 hex digits"),
            (json!("yes"), "version"),
        ] {
            let Value::Object(extensions) = json!({ "persistedQuery": extension }) else {
                unreachable!()
            };
            let error = query(&store, None, &extensions).await.unwrap_err();
            assert!(
                error.to_string().contains(complaint),
                "{extension}: {error}"
            );
        }
        let missing = query(&store, None, &Map::new()).await.unwrap_err();
        assert!(missing.to_string().contains("`query`"), "{missing}");
    }

    #[tokio::test]
    async fn an_allowlist_runs_only_its_operations_and_learns_nothing() {
        let hash = sha256_hex(DOCUMENT);
        let allowlist = Allowlist::from_documents([DOCUMENT]);
        let store = PersistedQueries::new(Some(allowlist), None);
        let other = "{ viewer { name } }";

        let by_hash = query(&store, None, &persisted(&hash)).await;
        let in_full = query(&store, Some(DOCUMENT), &Map::new()).await;
        let unlisted = query(&store, Some(other), &Map::new()).await;
        let registering = query(&store, Some(other), &persisted(&sha256_hex(other))).await;
        let unknown_hash = query(&store, None, &persisted(&sha256_hex(other))).await;

        assert_eq!(by_hash.as_deref(), Ok(DOCUMENT));
        assert_eq!(in_full.as_deref(), Ok(DOCUMENT));
        assert_eq!(unlisted, Err(ApiError::OperationNotAllowed));
        assert_eq!(registering, Err(ApiError::OperationNotAllowed));
        assert_eq!(unknown_hash, Err(ApiError::PersistedQueryNotFound));
    }
}
