//! The sandbox's control API as the benchmark uses it: injected latency and the per-route
//! request counters that say how many upstream calls a scenario cost.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

/// Upstream calls counted by the sandbox since its counters were last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct UpstreamCalls {
    pub(crate) total: u64,
    /// Keyed `METHOD path-template`, e.g. `GET /v1/messages`.
    pub(crate) routes: BTreeMap<String, u64>,
    /// Keyed by the HTTP status the sandbox answered.
    pub(crate) statuses: BTreeMap<u16, u64>,
}

impl UpstreamCalls {
    /// Answers other than 2xx: refusals, injected faults, unknown contacts.
    pub(crate) fn unsuccessful(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| !(200..300).contains(*status))
            .map(|(_, count)| count)
            .sum()
    }
}

/// A client of one sandbox's `/_sandbox` API.
#[derive(Debug, Clone)]
pub(crate) struct SandboxControl {
    http: reqwest::Client,
    base_url: String,
}

impl SandboxControl {
    pub(crate) fn new(http: reqwest::Client, base_url: &str) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Delays every `/v1` and `/v2` request by `latency_ms`, like a distant upstream.
    pub(crate) async fn set_latency(&self, latency_ms: u64) -> reqwest::Result<()> {
        self.http
            .put(self.url("/_sandbox/faults"))
            .json(&json!({ "latency_ms": latency_ms }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    pub(crate) async fn reset_stats(&self) -> reqwest::Result<()> {
        self.http
            .post(self.url("/_sandbox/stats/reset"))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    pub(crate) async fn stats(&self) -> reqwest::Result<UpstreamCalls> {
        self.http
            .get(self.url("/_sandbox/stats"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}
