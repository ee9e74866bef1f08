//! The soak's findings as Markdown, with the checks that make a run pass or fail, and `--record`
//! appending it to `bench/RESULTS.md`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::Args;
use crate::environment::Machine;
use crate::results;
use crate::sandbox::UpstreamCalls;
use crate::subscriptions::Received;
use crate::traffic::Tally;
use crate::verify::Writes;

/// Resident memory may grow this much between the warm-up and the end of a run before it
/// counts as a leak: caches fill as the run touches more data.
const MAX_MEMORY_GROWTH_PERCENT: u64 = 25;

/// Everything a run found.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) date: DateTime<Utc>,
    pub(crate) machine: Machine,
    pub(crate) revision: Option<String>,
    pub(crate) seconds: f64,
    pub(crate) tally: Tally,
    pub(crate) upstream: UpstreamCalls,
    pub(crate) writes: Writes,
    pub(crate) subscribers: usize,
    pub(crate) received: Received,
    pub(crate) rss_before_kib: Option<u64>,
    pub(crate) rss_after_kib: Option<u64>,
    pub(crate) panics: u64,
}

impl Report {
    /// The failed checks, empty when the run passed.
    pub(crate) fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if self.writes.duplicated > 0 {
            failures.push(format!("{} duplicated writes", self.writes.duplicated));
        }
        if self.writes.acknowledged_but_missing > 0 {
            let missing = self.writes.acknowledged_but_missing;
            failures.push(format!("{missing} acknowledged sends missing upstream"));
        }
        if self.writes.acknowledged == 0 {
            failures.push("no send was acknowledged".to_owned());
        }
        if self.subscribers > 0 && self.received.events == 0 {
            failures.push("no subscriber received an event".to_owned());
        }
        if self.panics > 0 {
            failures.push(format!("{} panics", self.panics));
        }
        if self.tally.attacks_not_refused > 0 {
            let missed = self.tally.attacks_not_refused;
            failures.push(format!("{missed} hostile documents were not refused"));
        }
        if self.tally.attacks_refused == 0 {
            failures.push("no hostile document was sent".to_owned());
        }
        if self.received.closed_early {
            failures.push("a subscription was closed during the run".to_owned());
        }
        if let (Some(before), Some(after)) = (self.rss_before_kib, self.rss_after_kib) {
            if after > before + before * MAX_MEMORY_GROWTH_PERCENT / 100 {
                failures.push(format!("memory grew from {before} to {after} KiB"));
            }
        }
        failures
    }

    pub(crate) fn render(&self, args: &Args, heading_level: usize) -> String {
        let heading = "#".repeat(heading_level);
        let tally = &self.tally;
        let mut latencies = tally.latencies_ms.clone();
        latencies.sort_unstable();
        let percentile = |p: usize| {
            latencies
                .get((latencies.len() * p / 100).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        let mut out = String::new();
        let failures = self.failures();
        let verdict = if failures.is_empty() {
            "PASS".to_owned()
        } else {
            format!("FAIL: {}", failures.join("; "))
        };
        let _ = writeln!(out, "Command: `{}`\n", results::command("soak"));
        let _ = writeln!(out, "Verdict: **{verdict}**\n");
        let _ = writeln!(out, "{heading} Setup\n");
        let _ = writeln!(
            out,
            "- machine: {} × {}, {} MiB, {}",
            self.machine.cpus,
            self.machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
            self.machine.memory_kib.map_or(0, |kib| kib / 1024),
            self.machine.kernel.as_deref().unwrap_or("unknown kernel"),
        );
        let _ = writeln!(
            out,
            "- gateway revision: {}",
            self.revision.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            out,
            "- {} s of traffic from {} HTTP clients (a third of them `sendMessage`, half of \
             those with an idempotency key) and {} subscribers, with customer messages every \
             {} ms",
            args.seconds, args.concurrency, args.subscribers, args.inbound_every_ms
        );
        let _ = writeln!(
            out,
            "- sandbox faults throughout: latency {} ms, error rate {}, 429 rate {}, malformed \
             rate {}; an outage (every call 500) for {} s mid-run; breaker cooldown {}",
            args.latency_ms,
            args.error_rate,
            args.rate_limit_rate,
            args.malformed_rate,
            args.outage_seconds,
            crate::BREAKER_COOLDOWN,
        );
        let _ = writeln!(out, "\n{heading} Findings\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        let rate = tally.requests as f64 / self.seconds.max(f64::EPSILON);
        let _ = writeln!(
            out,
            "| requests served | {} ({rate:.0}/s), {} without any error |",
            tally.requests, tally.clean
        );
        let errors: Vec<String> = tally
            .errors
            .iter()
            .map(|(code, count)| format!("{code} {count}"))
            .collect();
        let _ = writeln!(out, "| errors by code | {} |", or_none(&errors.join(", ")));
        let _ = writeln!(
            out,
            "| latency p50 / p99 / max | {} / {} / {} ms |",
            percentile(50),
            percentile(99),
            latencies.last().copied().unwrap_or(0)
        );
        let statuses: Vec<String> = self
            .upstream
            .statuses
            .iter()
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        let _ = writeln!(
            out,
            "| upstream calls | {} ({} unsuccessful; {}) |",
            self.upstream.total,
            self.upstream.unsuccessful(),
            statuses.join(", ")
        );
        let send_attempts = self
            .upstream
            .routes
            .get("POST /v1/message/send")
            .copied()
            .unwrap_or(0);
        let writes = &self.writes;
        let _ = writeln!(
            out,
            "| sends | {} attempted, {} acknowledged, {} landed ({} upstream attempts) |",
            writes.attempted, writes.acknowledged, writes.landed, send_attempts
        );
        let _ = writeln!(
            out,
            "| sends answered with an error that landed anyway | {} |",
            writes.landed_despite_an_error
        );
        let _ = writeln!(
            out,
            "| acknowledged sends missing upstream | {} |",
            writes.acknowledged_but_missing
        );
        let _ = writeln!(
            out,
            "| **upstream writes duplicated** | **{}** |",
            writes.duplicated
        );
        let _ = writeln!(
            out,
            "| subscriptions | {} held open, {} events delivered, {} errors, {} |",
            self.subscribers,
            self.received.events,
            self.received.errors,
            if self.received.closed_early {
                "some closed early"
            } else {
                "none closed early"
            }
        );
        let _ = writeln!(
            out,
            "| gateway memory (VmRSS) | {} KiB after warm-up, {} KiB after the run |",
            kib(self.rss_before_kib),
            kib(self.rss_after_kib)
        );
        let _ = writeln!(
            out,
            "| hostile documents (8,000-deep literals, 2^30 fragment fan-out) | {} refused, {} not |",
            tally.attacks_refused, tally.attacks_not_refused
        );
        let _ = writeln!(out, "| **panics** | **{}** |", self.panics);
        out
    }
}

fn or_none(text: &str) -> &str {
    if text.is_empty() { "none" } else { text }
}

fn kib(value: Option<u64>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |kib| kib.to_string())
}

/// Appends `rendered` to the results under a dated heading.
pub(crate) fn record(date: DateTime<Utc>, rendered: &str) -> std::io::Result<()> {
    let heading = format!("{}: soak test", date.format("%Y-%m-%d %H:%M UTC"));
    results::append(&heading, rendered)
}
