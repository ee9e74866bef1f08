//! The sandbox's settings: its data set, its teams, how it reads the upstream's open points, its
//! rate limit and where its webhooks go.
//!
//! Whoever embeds the sandbox fills these in (the gateway's `sandbox` flags, tests with struct
//! literals over `Default`); the sandbox knows nothing of where they came from.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::readings::Readings;

/// Seed of the sandbox's generated data.
pub const DEFAULT_SANDBOX_SEED: u64 = 42;
/// Teams (tenants) the sandbox simulates, each with its own credentials and data.
pub const DEFAULT_SANDBOX_TEAMS: u16 = 2;
/// Members the sandbox seeds each team with; [`SandboxConfig::members`] may add more.
pub const DEFAULT_SANDBOX_MEMBERS: u16 = 12;
/// Heymarket's documented budget, which the sandbox enforces.
pub const DEFAULT_SANDBOX_RATE_LIMIT: RateBudget = RateBudget {
    requests: 500,
    per: Duration::from_secs(60),
};
/// Token the sandbox puts in its webhooks unless configured otherwise.
pub const DEFAULT_SANDBOX_WEBHOOK_TOKEN: &str = "sandbox-webhook-token";

/// Settings of the simulated upstream.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed of the deterministic data set: the same seed always yields the same data.
    pub seed: u64,
    /// Number of simulated teams (tenants), each with its own credentials and data.
    pub teams: usize,
    /// Members of each team: the seeded [`DEFAULT_SANDBOX_MEMBERS`], then more, each in one
    /// SMS inbox, for workloads with many agents.
    pub members: usize,
    /// How the sandbox answers where Heymarket's documentation is open.
    pub readings: Readings,
    /// Requests allowed per credential in any window of the budget's length; more is a 429.
    pub rate_limit: RateBudget,
    /// Where the sandbox POSTs webhook events; none are sent when unset.
    pub webhook_url: Option<Url>,
    /// Base of the webhook verification tokens: team n's envelopes carry `<token>-<n>`.
    pub webhook_token: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SANDBOX_SEED,
            teams: usize::from(DEFAULT_SANDBOX_TEAMS),
            members: usize::from(DEFAULT_SANDBOX_MEMBERS),
            readings: Readings::DEFAULT,
            rate_limit: DEFAULT_SANDBOX_RATE_LIMIT,
            webhook_url: None,
            webhook_token: DEFAULT_SANDBOX_WEBHOOK_TOKEN.to_owned(),
        }
    }
}

/// The sandbox's request budget per team: at most `requests` in any window of length `per`.
///
/// Written `N/unit` or `N/<duration>`: `500/min`, `20/s`, `10/2s`, `1000/1h`. The gateway has a
/// budget type of its own, for what it spends; this one is what the simulated upstream allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    /// Requests accepted in any one window.
    pub requests: u32,
    /// The window's length.
    pub per: Duration,
}

impl FromStr for RateBudget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("`{s}` is not a rate budget; write it like `500/min` or `10/2s`");
        let (count, window) = s.split_once('/').ok_or_else(usage)?;
        let requests: u32 = count.trim().parse().map_err(|_| usage())?;
        let window = window.trim();
        let per = match window {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other).map_err(|_| usage())?,
        };
        if requests == 0 || per.is_zero() {
            return Err(format!(
                "`{s}` allows nothing; the count and the window must be above zero"
            ));
        }
        Ok(Self { requests, per })
    }
}

/// Written back the way it is configured: `500/min`, `20/s`, `10/2s`.
impl fmt::Display for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.per.as_millis() {
            1_000 => write!(f, "{}/s", self.requests),
            60_000 => write!(f, "{}/min", self.requests),
            3_600_000 => write!(f, "{}/h", self.requests),
            _ => write!(
                f,
                "{}/{}",
                self.requests,
                humantime::format_duration(self.per)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_written_as_they_are_configured() {
        assert_eq!(DEFAULT_SANDBOX_RATE_LIMIT.to_string(), "500/min");
        for text in ["500/min", "20/s", "1000/h", "10/2s"] {
            let budget: RateBudget = text.parse().unwrap();
            assert_eq!(budget.to_string(), text);
        }
    }

    #[test]
    fn rate_budgets_parse_in_every_documented_form() {
        let minute = RateBudget {
            requests: 500,
            per: Duration::from_secs(60),
        };
        assert_eq!("500/min".parse::<RateBudget>(), Ok(minute));
        assert_eq!("500/60s".parse::<RateBudget>(), Ok(minute));
        assert_eq!(
            "10/2s".parse::<RateBudget>(),
            Ok(RateBudget {
                requests: 10,
                per: Duration::from_secs(2)
            })
        );
        assert_eq!(
            "20 / s".parse::<RateBudget>(),
            Ok(RateBudget {
                requests: 20,
                per: Duration::from_secs(1)
            })
        );
    }

    #[test]
    fn bad_rate_budgets_are_refused_with_a_hint() {
        for bad in [
            "",
            "500",
            "x/min",
            "500/fortnight",
            "0/min",
            "5/0s",
            "-1/min",
        ] {
            let err = bad.parse::<RateBudget>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
