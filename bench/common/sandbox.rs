//! The sandbox's control API as the benchmarks use it: injected faults (latency, errors, 429s,
//! malformed bodies) and the per-route request counters that say how many upstream calls a run
//! cost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

/// The sandbox's fault knobs, as `PUT /_sandbox/faults` takes them (rates from 0 to 1).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Faults {
    /// Delay before every `/v1` and `/v2` request, like a distant upstream.
    pub(crate) latency_ms: u64,
    /// Share of requests answered 500.
    pub(crate) error_rate: f64,
    /// Share of requests answered 429.
    pub(crate) rate_limit_rate: f64,
    /// Share of successful answers whose body is cut in half.
    pub(crate) malformed_rate: f64,
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

    /// Replaces every fault knob.
    pub(crate) async fn set_faults(&self, faults: &Faults) -> reqwest::Result<()> {
        self.http
            .put(self.url("/_sandbox/faults"))
            .json(faults)
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
