//! The sandbox and the gateway as the benchmarks run them: separate processes on loopback
//! ports (so the gateway's memory is its own and its RSS means something), with the address and
//! credentials each prints.

use crate::binary::Binary;
use crate::child::{ChildError, ChildProcess, RunningChild};

/// The sandbox's limit and the gateway's client-side budget: far above Heymarket's 500/min, so
/// the gateway's own behaviour shapes the traffic, yet a budget the gateway still paces to.
pub(crate) const RATE_BUDGET: &str = "100000/min";

/// The HS256 secret the benchmarks' gateways verify client tokens with: a gateway holding an
/// upstream credential serves only authenticated callers.
const CLIENT_JWT_SECRET: &str = "benchmark-client-token-secret-of-40-bytes";
/// Requests one client identity may make: every request of a run acts as one member, so the
/// gateway's per-client limit must not shape the traffic.
const CLIENT_RATE_LIMIT: &str = "100000000/min";

/// The `Authorization` header of a request acting as `member`, with a token valid for a day.
pub(crate) fn client_authorization(member: i64) -> String {
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
        + 24 * 60 * 60;
    let claims = serde_json::json!({ "member_id": member, "exp": expires });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(CLIENT_JWT_SECRET.as_bytes()),
    )
    .expect("ok: a constant key signs constant claims");
    format!("Bearer {token}")
}

/// Team credentials the sandbox printed.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub(crate) team_id: i64,
    pub(crate) secret_id: String,
    pub(crate) secret_key: String,
    /// The token the sandbox signs this team's webhooks with.
    pub(crate) webhook_token: String,
}

/// How a benchmark's sandbox differs from the default one.
#[derive(Debug, Clone, Default)]
pub(crate) struct SandboxOptions {
    /// Where it delivers its webhooks; none are sent when unset.
    pub(crate) webhook_url: Option<String>,
    /// Readings of the docs' open points (`POINT=VALUE`) where they differ from the default.
    pub(crate) readings: Vec<String>,
    /// Members of its team, when more than the seeded twelve.
    pub(crate) members: Option<u16>,
    /// Requests it accepts per team, when not [`RATE_BUDGET`].
    pub(crate) rate_limit: Option<String>,
}

/// `heymarket-gateway sandbox` on a free port, with one team, started with `options`.
#[derive(Debug)]
pub(crate) struct SandboxProcess {
    process: RunningChild,
    pub(crate) url: String,
    pub(crate) credentials: Credentials,
}

impl SandboxProcess {
    pub(crate) async fn start(
        binary: &Binary,
        options: &SandboxOptions,
    ) -> Result<Self, ChildError> {
        let members = options.members.map(|members| members.to_string());
        let mut args = vec![
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--teams",
            "1",
            "--sandbox-rate-limit",
            options.rate_limit.as_deref().unwrap_or(RATE_BUDGET),
        ];
        if let Some(url) = &options.webhook_url {
            args.extend(["--webhook-url", url]);
        }
        if let Some(members) = &members {
            args.extend(["--members", members]);
        }
        for reading in &options.readings {
            args.extend(["--sandbox-reading", reading]);
        }
        let mut process = ChildProcess::spawn("sandbox", binary.command(&args, &[]))?;
        let url = process
            .wait_for("its address", |line| {
                let url = url_in(line).filter(|_| line.trim_start().starts_with("Sandbox"))?;
                Some(url.trim_end_matches('/').to_owned())
            })
            .await?;
        let credentials = process
            .wait_for("its credentials", |line| {
                Some(Credentials {
                    team_id: team_id_of(line)?,
                    secret_id: value_of(line, "HEYMARKET_SECRET_ID")?.to_owned(),
                    secret_key: value_of(line, "HEYMARKET_SECRET_KEY")?.to_owned(),
                    webhook_token: webhook_token_of(line)?.to_owned(),
                })
            })
            .await?;
        Ok(Self {
            process: process.drain_stdout(),
            url,
            credentials,
        })
    }

    /// Stops the process once `outcome` is known; a failure is explained by the process's exit
    /// when that is why.
    pub(crate) async fn stop_after<T>(self, outcome: anyhow::Result<T>) -> anyhow::Result<T> {
        self.process.stop_after(outcome).await
    }
}

/// How to start gateways in front of one sandbox, as often as a run needs. They accept the
/// sandbox team's webhooks.
#[derive(Debug, Clone)]
pub(crate) struct GatewayLauncher {
    pub(crate) binary: Binary,
    /// `127.0.0.1:0` for a free port.
    pub(crate) listen: String,
    pub(crate) upstream_url: String,
    pub(crate) credentials: Credentials,
    /// Its upstream budget, when not [`RATE_BUDGET`].
    pub(crate) rate_limit: Option<String>,
    /// Further `serve` flags.
    pub(crate) extra_args: Vec<String>,
}

impl GatewayLauncher {
    /// A fresh `heymarket-gateway serve` process: every cache it may have is empty.
    pub(crate) async fn start(&self) -> Result<GatewayProcess, ChildError> {
        let webhook_token = format!(
            "{}:{}",
            self.credentials.team_id, self.credentials.webhook_token
        );
        let mut args = vec![
            "serve",
            "--listen",
            &self.listen,
            "--upstream-url",
            &self.upstream_url,
            "--webhook-token",
            &webhook_token,
        ];
        // The benchmark's limits, unless the extra flags set their own (a flag may be given
        // only once).
        let limits = [
            (
                "--upstream-rate-limit",
                self.rate_limit.as_deref().unwrap_or(RATE_BUDGET),
            ),
            ("--client-rate-limit", CLIENT_RATE_LIMIT),
        ];
        for (flag, value) in limits {
            let overridden = self.extra_args.iter().any(|arg| {
                arg.strip_prefix(flag)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
            });
            if !overridden {
                args.extend([flag, value]);
            }
        }
        args.extend(self.extra_args.iter().map(String::as_str));
        let env = [
            ("HEYMARKET_SECRET_ID", self.credentials.secret_id.as_str()),
            ("HEYMARKET_SECRET_KEY", self.credentials.secret_key.as_str()),
            ("HEYMARKET_CLIENT_JWT_SECRET", CLIENT_JWT_SECRET),
        ];
        let mut process = ChildProcess::spawn("gateway", self.binary.command(&args, &env))?;
        let graphql_url = process
            .wait_for("its address", |line| {
                let url = url_in(line).filter(|_| line.contains(" serving "))?;
                Some(url.to_owned())
            })
            .await?;
        Ok(GatewayProcess {
            process: process.drain_stdout(),
            graphql_url,
        })
    }
}

/// One running gateway.
#[derive(Debug)]
pub(crate) struct GatewayProcess {
    process: RunningChild,
    /// `http://127.0.0.1:<port>/graphql`, as printed.
    pub(crate) graphql_url: String,
}

impl GatewayProcess {
    /// Resident memory in KiB (`VmRSS` in `/proc/<pid>/status`); `None` where there is no
    /// `/proc` or the process is gone.
    pub(crate) fn rss_kib(&self) -> Option<u64> {
        let pid = self.process.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
    }

    /// An error if the gateway has stopped.
    pub(crate) async fn ensure_running(&mut self) -> Result<(), ChildError> {
        self.process.ensure_running().await
    }

    /// Stops the process once `outcome` is known; a failure is explained by the process's exit
    /// when that is why.
    pub(crate) async fn stop_after<T>(self, outcome: anyhow::Result<T>) -> anyhow::Result<T> {
        self.process.stop_after(outcome).await
    }
}

/// The first `http://…` word of a banner line.
fn url_in(line: &str) -> Option<&str> {
    line.split_whitespace()
        .find(|word| word.starts_with("http://"))
}

/// The team id of a banner line `team 101 "Name": …`.
fn team_id_of(line: &str) -> Option<i64> {
    line.trim_start()
        .strip_prefix("team ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The token of a banner line's `webhook token <token>)`.
fn webhook_token_of(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("webhook token ")?;
    rest.split(|c: char| c == ')' || c.is_whitespace())
        .next()
        .filter(|token| !token.is_empty())
}

/// The value of a `KEY=value` word of a banner line.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|word| {
        word.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .filter(|value| !value.is_empty())
    })
}
