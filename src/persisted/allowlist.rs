//! The operations a locked-down gateway runs, read once at start from a manifest file.
//!
//! Two formats are read, both keyed by the SHA-256 of each operation's text (what Apollo's
//! persisted-query link sends):
//! - Apollo's persisted-query manifest:
//!   `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body", …}]}`;
//! - a plain object `{"<sha256>": "<document>", …}` (relay-compiler's local persistence with
//!   `"algorithm": "SHA256"` writes this).
//!
//! Every id is checked against its text, so a stale or hand-edited manifest fails at start
//! instead of refusing operations at run time.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::sha256_hex;

/// Operations by the SHA-256 of their text.
#[derive(Debug, Default)]
pub struct Allowlist {
    documents: HashMap<String, Arc<str>>,
}

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    #[error("cannot read the operation allowlist {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the operation allowlist {path} is neither an Apollo persisted-query manifest nor an \
         object of SHA-256 ids to documents: {reason}"
    )]
    Format { path: String, reason: String },
    #[error(
        "the operation allowlist {path} lists id {id}, which is not the SHA-256 of its document"
    )]
    WrongId { path: String, id: String },
    #[error("the operation allowlist {path} lists no operations")]
    Empty { path: String },
}

#[derive(Deserialize)]
struct ApolloManifest {
    format: String,
    operations: Vec<ApolloOperation>,
}

#[derive(Deserialize)]
struct ApolloOperation {
    id: String,
    body: String,
}

impl Allowlist {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, AllowlistError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AllowlistError::Read {
            path: shown.clone(),
            source,
        })?;
        let format_error = |reason: String| AllowlistError::Format {
            path: shown.clone(),
            reason,
        };
        let value: Value =
            serde_json::from_str(&text).map_err(|error| format_error(error.to_string()))?;
        let entries: Vec<(String, String)> = if value.get("format").is_some() {
            let manifest: ApolloManifest =
                serde_json::from_value(value).map_err(|error| format_error(error.to_string()))?;
            if manifest.format != "apollo-persisted-query-manifest" {
                return Err(format_error(format!(
                    "unknown format {:?}",
                    manifest.format
                )));
            }
            manifest
                .operations
                .into_iter()
                .map(|operation| (operation.id, operation.body))
                .collect()
        } else {
            serde_json::from_value::<HashMap<String, String>>(value)
                .map_err(|error| format_error(error.to_string()))?
                .into_iter()
                .collect()
        };
        if entries.is_empty() {
            return Err(AllowlistError::Empty { path: shown });
        }
        let mut documents = HashMap::with_capacity(entries.len());
        for (id, body) in entries {
            let id = id.to_ascii_lowercase();
            if sha256_hex(&body) != id {
                return Err(AllowlistError::WrongId { path: shown, id });
            }
            documents.insert(id, Arc::from(body));
        }
        Ok(Self { documents })
    }

    /// The document with this SHA-256 (lowercase hex), if it is allowed.
    pub fn get(&self, hash: &str) -> Option<Arc<str>> {
        self.documents.get(hash).cloned()
    }

    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// An allowlist of `documents`, as a manifest listing them would give.
    #[cfg(test)]
    pub(crate) fn from_documents<'a>(documents: impl IntoIterator<Item = &'a str>) -> Self {
        let documents = documents
            .into_iter()
            .map(|document| (sha256_hex(document), Arc::from(document)))
            .collect();
        Self { documents }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn load(content: &Value) -> Result<Allowlist, AllowlistError> {
        let file = std::env::temp_dir().join(format!(
            "allowlist-{}-{}.json",
            std::process::id(),
            sha256_hex(&content.to_string())
        ));
        std::fs::write(&file, content.to_string()).unwrap();
        let loaded = Allowlist::load(&file);
        std::fs::remove_file(&file).unwrap();
        loaded
    }

    const DOCUMENT: &str = "query Inboxes { inboxes { name } }";

    #[test]
    fn both_formats_are_read_and_keyed_by_hash() {
        let hash = sha256_hex(DOCUMENT);
        let apollo = json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{"id": hash, "name": "Inboxes", "type": "query", "body": DOCUMENT}],
        });
        let plain = json!({ hash.to_ascii_uppercase(): DOCUMENT });
        for manifest in [apollo, plain] {
            let allowlist = load(&manifest).unwrap();
            assert_eq!(allowlist.len(), 1);
            assert_eq!(allowlist.get(&hash).as_deref(), Some(DOCUMENT));
            assert_eq!(allowlist.get(&sha256_hex("{ other }")), None);
        }
    }

    #[test]
    fn wrong_ids_unknown_formats_and_empty_lists_fail_at_start() {
        let wrong = load(&json!({ sha256_hex("{ other }"): DOCUMENT })).unwrap_err();
        assert!(matches!(wrong, AllowlistError::WrongId { .. }), "{wrong}");
        let format = load(&json!({"format": "something-else", "operations": []})).unwrap_err();
        assert!(format.to_string().contains("unknown format"), "{format}");
        let shape = load(&json!([DOCUMENT])).unwrap_err();
        assert!(matches!(shape, AllowlistError::Format { .. }), "{shape}");
        let empty = load(&json!({})).unwrap_err();
        assert!(matches!(empty, AllowlistError::Empty { .. }), "{empty}");
        let missing = Allowlist::load(Path::new("/nonexistent/allowlist.json")).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/allowlist.json"));
    }
}
