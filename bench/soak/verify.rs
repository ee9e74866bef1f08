//! After the run: which of the soak's sends landed upstream, and how many times each. Every
//! send carries a unique text, so a text found twice in a history is a duplicated write.

use std::collections::{BTreeMap, HashSet};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::MEMBER_ID;
use crate::processes::client_authorization;

const HISTORY: &str = "query($id: ID!, $after: String) {
  conversation(id: $id) {
    messages(first: 100, after: $after) {
      nodes { text }
      pageInfo { hasNextPage endCursor }
    }
  }
}";

/// How the sends ended up upstream.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    pub(crate) attempted: usize,
    pub(crate) acknowledged: usize,
    /// Distinct sends found in the histories.
    pub(crate) landed: usize,
    /// Extra copies of sends found more than once (must be 0).
    pub(crate) duplicated: usize,
    /// Sends answered with an error that landed anyway (a body lost on the way back).
    pub(crate) landed_despite_an_error: usize,
    /// Acknowledged sends missing from the histories (must be 0).
    pub(crate) acknowledged_but_missing: usize,
}

/// Reads every conversation's whole history through `graphql_url` (a gateway with empty caches,
/// faults off) and compares the sends of one phase (their texts start with `prefix`) with what
/// the clients sent in it.
pub(crate) async fn writes(
    http: &reqwest::Client,
    graphql_url: &str,
    conversations: &[String],
    prefix: &str,
    attempted: &[String],
    acknowledged: &[String],
) -> anyhow::Result<Writes> {
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for conversation in conversations {
        for text in history(http, graphql_url, conversation).await? {
            if text.starts_with(prefix) {
                *copies.entry(text).or_default() += 1;
            }
        }
    }
    let acknowledged_set: HashSet<&String> = acknowledged.iter().collect();
    Ok(Writes {
        attempted: attempted.len(),
        acknowledged: acknowledged.len(),
        landed: copies.len(),
        duplicated: copies.values().map(|count| count - 1).sum(),
        landed_despite_an_error: copies
            .keys()
            .filter(|text| !acknowledged_set.contains(text))
            .count(),
        acknowledged_but_missing: acknowledged
            .iter()
            .filter(|text| !copies.contains_key(*text))
            .count(),
    })
}

async fn history(
    http: &reqwest::Client,
    graphql_url: &str,
    conversation: &str,
) -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    let mut after = Value::Null;
    loop {
        let body: Value = http
            .post(graphql_url)
            .header("Authorization", client_authorization(MEMBER_ID))
            .json(&json!({ "query": HISTORY, "variables": { "id": conversation, "after": after } }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::ensure!(body["errors"].is_null(), "reading {conversation}: {body}");
        let messages = &body["data"]["conversation"]["messages"];
        let nodes = messages["nodes"]
            .as_array()
            .with_context(|| format!("no messages in {body}"))?;
        texts.extend(
            nodes
                .iter()
                .filter_map(|node| node["text"].as_str().map(str::to_owned)),
        );
        if messages["pageInfo"]["hasNextPage"] != true {
            return Ok(texts);
        }
        after = messages["pageInfo"]["endCursor"].clone();
    }
}
