//! How the gateway calls the upstream: where, as whom, with which deadlines, retries, budget
//! and circuit breaker. Each setting is its flag and environment variable too (`clap::Args`);
//! the command fills in the address and the credential, which the default run takes from the
//! embedded sandbox and `serve` from flags of its own.

use std::time::Duration;

use clap::Args;
use secrecy::SecretString;
use url::Url;

use crate::config::{RateBudget, duration_text};

/// The real Heymarket API.
pub const DEFAULT_UPSTREAM_URL: &str = "https://api.heymarket.com";
/// Per-call upstream timeout.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries of an idempotent upstream call after the first attempt.
pub const DEFAULT_UPSTREAM_RETRIES: u32 = 3;
/// First retry delay; doubles each attempt, with full jitter.
pub const DEFAULT_UPSTREAM_BACKOFF: Duration = Duration::from_millis(100);
/// Longest single retry delay.
pub const DEFAULT_UPSTREAM_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// What the gateway lets itself spend per upstream credential. Heymarket allows 500 per minute;
/// the margin absorbs clock and network skew between our limiter and theirs.
pub const DEFAULT_UPSTREAM_RATE_LIMIT: RateBudget = RateBudget::per_minute(480);
/// How long `/readyz` re-uses its last check of the upstream.
pub const DEFAULT_UPSTREAM_CHECK_TTL: Duration = Duration::from_secs(10);
/// How long a pass-through credential the upstream refused is answered 401 without asking the
/// upstream again: long enough that retrying a bad credential costs the upstream nothing, short
/// enough that a credential fixed upstream works again soon.
pub const DEFAULT_REFUSED_CREDENTIAL_TTL: Duration = Duration::from_secs(30);
/// Consecutive upstream failures (5xx, timeouts, broken connections) that open the circuit
/// breaker: enough that a few unlucky calls do not stop traffic, few enough that an outage is
/// noticed within one or two requests' worth of retries.
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 5;
/// How long an open circuit breaker fails calls at once before one probe call is let through.
pub const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_secs(10);

/// How the gateway calls the Heymarket REST API.
#[derive(Debug, Clone, Args)]
pub struct UpstreamConfig {
    /// Base URL; resources live under `/v1` and `/v2` below it. Not a flag of this group: the
    /// command sets it.
    #[arg(skip = default_upstream_url())]
    pub base_url: Url,

    /// Which credential every upstream call carries. Not a flag of this group: the command
    /// sets it.
    #[arg(skip = UpstreamAuth::PassThrough)]
    pub auth: UpstreamAuth,

    /// Deadline of one upstream attempt, e.g. `10s`, `500ms`.
    #[arg(long = "upstream-timeout", env = "HEYMARKET_UPSTREAM_TIMEOUT", default_value = duration_text(DEFAULT_UPSTREAM_TIMEOUT), value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// Retries of a failed read (writes are sent again only when their connection never opened).
    #[arg(long = "upstream-retries", env = "HEYMARKET_UPSTREAM_RETRIES", default_value_t = DEFAULT_UPSTREAM_RETRIES)]
    pub max_retries: u32,

    /// First retry delay; doubles each attempt, fully jittered.
    #[arg(long = "upstream-backoff", env = "HEYMARKET_UPSTREAM_BACKOFF", default_value = duration_text(DEFAULT_UPSTREAM_BACKOFF), value_parser = humantime::parse_duration)]
    pub backoff_base: Duration,

    /// Longest single retry delay.
    #[arg(long = "upstream-backoff-max", env = "HEYMARKET_UPSTREAM_BACKOFF_MAX", default_value = duration_text(DEFAULT_UPSTREAM_BACKOFF_MAX), value_parser = humantime::parse_duration)]
    pub backoff_max: Duration,

    /// Upstream calls allowed per credential, e.g. `480/min` (Heymarket allows 500 per minute).
    // Client-side, so that the gateway never draws a 429 itself.
    #[arg(long = "upstream-rate-limit", env = "HEYMARKET_UPSTREAM_RATE_LIMIT", default_value_t = DEFAULT_UPSTREAM_RATE_LIMIT)]
    pub rate_limit: RateBudget,

    /// How long `/readyz` re-uses its last check that the upstream accepts the credentials
    /// (each check is one upstream call).
    #[arg(long = "upstream-check-ttl", env = "HEYMARKET_UPSTREAM_CHECK_TTL", default_value = duration_text(DEFAULT_UPSTREAM_CHECK_TTL), value_parser = humantime::parse_duration)]
    pub check_ttl: Duration,

    #[command(flatten)]
    pub breaker: BreakerConfig,

    /// Pass-through mode: how long a caller's credential that the upstream refused is answered
    /// 401 at once, without asking the upstream again (`0s` asks every time).
    #[arg(long, env = "HEYMARKET_REFUSED_CREDENTIAL_TTL", default_value = duration_text(DEFAULT_REFUSED_CREDENTIAL_TTL), value_parser = humantime::parse_duration)]
    pub refused_credential_ttl: Duration,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            base_url: default_upstream_url(),
            auth: UpstreamAuth::PassThrough,
            timeout: DEFAULT_UPSTREAM_TIMEOUT,
            max_retries: DEFAULT_UPSTREAM_RETRIES,
            backoff_base: DEFAULT_UPSTREAM_BACKOFF,
            backoff_max: DEFAULT_UPSTREAM_BACKOFF_MAX,
            rate_limit: DEFAULT_UPSTREAM_RATE_LIMIT,
            check_ttl: DEFAULT_UPSTREAM_CHECK_TTL,
            breaker: BreakerConfig::default(),
            refused_credential_ttl: DEFAULT_REFUSED_CREDENTIAL_TTL,
        }
    }
}

/// The upstream circuit breaker: after `threshold` consecutive failures that say the upstream
/// is down, calls fail at once for `cooldown`, then one probe call at a time tests it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct BreakerConfig {
    /// Consecutive upstream failures (5xx, timeouts, broken connections) after which calls
    /// fail fast instead of waiting on a failing upstream.
    #[arg(long = "upstream-breaker-threshold", env = "HEYMARKET_UPSTREAM_BREAKER_THRESHOLD", default_value_t = DEFAULT_BREAKER_THRESHOLD, value_parser = clap::value_parser!(u32).range(1..))]
    pub threshold: u32,

    /// How long calls fail fast once the circuit breaker opens; then one probe call at a time
    /// tests the upstream.
    #[arg(long = "upstream-breaker-cooldown", env = "HEYMARKET_UPSTREAM_BREAKER_COOLDOWN", default_value = duration_text(DEFAULT_BREAKER_COOLDOWN), value_parser = humantime::parse_duration)]
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_BREAKER_THRESHOLD,
            cooldown: DEFAULT_BREAKER_COOLDOWN,
        }
    }
}

/// The credential the gateway presents upstream.
#[derive(Debug, Clone)]
pub enum UpstreamAuth {
    /// An API secret: every call carries a short-lived HS256 JWT `{iss: id, iat}` signed with
    /// `"<id>||<key>"`, re-used until shortly before its 5-minute expiry.
    Secret { id: String, key: SecretString },
    /// The legacy team API key, sent as a bearer token.
    ApiKey(SecretString),
    /// No gateway-held credential: each caller's own `Authorization: Bearer …` goes upstream.
    PassThrough,
}

/// The real Heymarket API's URL, [`DEFAULT_UPSTREAM_URL`].
fn default_upstream_url() -> Url {
    // ok: a constant, parsed by every test that builds a default configuration.
    Url::parse(DEFAULT_UPSTREAM_URL).expect("the built-in upstream URL parses")
}
