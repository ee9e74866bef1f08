//! The soak test: a gateway under a bounded run of mixed queries, `sendMessage` mutations and
//! subscriptions while the sandbox injects latency, 500s, 429s, malformed bodies and a
//! mid-run outage. It reports requests served, errors by code, duplicated upstream writes
//! (must be 0), the gateway's memory after the warm-up and after the run (must be flat) and
//! its panics (must be 0), and exits non-zero when a check fails.
//!
//! Runs the release binary as separate processes (a sandbox delivering its webhooks to a
//! gateway) on loopback ports only. Under `cargo run` it first brings the binary up to date.
//!
//! # Layout
//! - `binary`, `child`, `processes`, `sandbox`, `environment`: shared with the dashboard
//!   benchmark (`bench/common/`).
//! - `traffic`: the HTTP clients and their tallies.
//! - `requests`, `subscriptions`: one GraphQL request, a customer's message, and the WebSocket
//!   subscribers, shared with the team benchmark.
//! - `verify`: which sends landed upstream, and how often.
//! - `report`: the Markdown, its checks, and its record.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;
mod report;
mod requests;
mod subscriptions;
mod traffic;
mod verify;

use common::results::{self, RESULTS};
use common::{binary, child, environment, processes, sandbox};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use heymarket_gateway::schema::GlobalId;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::binary::Binary;
use crate::child::ChildError;
use crate::processes::{GatewayLauncher, GatewayProcess, SandboxOptions, SandboxProcess};
use crate::report::Report;
use crate::sandbox::{Faults, SandboxControl};
use crate::subscriptions::Received;
use crate::traffic::{Tally, Targets};

/// The team member every request acts as (the seeded team's first admin).
const MEMBER_ID: i64 = 501;
/// The inbox the soak's conversations live in (member 501 belongs to it).
const INBOX_ID: i64 = 3002;
/// What each subscriber follows.
const SUBSCRIPTION: &str = "subscription { messageAdded { databaseId text } }";
/// Conversations the soak writes to.
const CONVERSATIONS: usize = 16;
/// Short, so the mid-run outage shows the breaker opening and closing again.
const BREAKER_COOLDOWN: &str = "2s";
/// Names the sends of the warm-up and of the run apart, so only the run's are checked.
const WARM_UP: &str = "warm-up";
const RUN: &str = "run";
/// A request that takes longer than this has failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A bounded soak of the gateway under upstream faults, on loopback.
#[derive(Debug, Parser)]
#[command(name = "soak")]
pub(crate) struct Args {
    /// Length of the run.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,

    /// HTTP clients sending at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,

    /// WebSocket subscriptions held open through the run.
    #[arg(long, default_value_t = 8)]
    subscribers: u16,

    /// How often a customer message arrives (and reaches the subscribers by webhook).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    inbound_every_ms: u64,

    /// Delay the sandbox adds to every upstream call.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,

    /// Share of upstream calls answered 500.
    #[arg(long, default_value_t = 0.05)]
    error_rate: f64,

    /// Share of upstream calls answered 429.
    #[arg(long, default_value_t = 0.02)]
    rate_limit_rate: f64,

    /// Share of successful upstream answers whose body is cut in half.
    #[arg(long, default_value_t = 0.02)]
    malformed_rate: f64,

    /// Length of the mid-run outage, when every upstream call is answered 500.
    #[arg(long, default_value_t = 5)]
    outage_seconds: u64,

    /// Also append the report to bench/RESULTS.md under a dated heading.
    #[arg(long)]
    record: bool,
}

impl Args {
    fn faults(&self) -> Faults {
        Faults {
            latency_ms: self.latency_ms,
            error_rate: self.error_rate,
            rate_limit_rate: self.rate_limit_rate,
            malformed_rate: self.malformed_rate,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    common::main(Box::pin(run(&Args::parse()))).await
}

/// Runs the soak; whether every check passed.
async fn run(args: &Args) -> anyhow::Result<bool> {
    let binary = Binary::build_and_locate(Path::new(env!("CARGO_MANIFEST_DIR"))).await?;
    progress!("soaking {}", binary.path().display());
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;
    // The sandbox needs the gateway's webhook URL before the gateway exists: pick a free port.
    let gateway_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("cannot find a free port")?;
    let options = SandboxOptions {
        webhook_url: Some(format!("http://{gateway_addr}/webhooks/heymarket")),
        ..SandboxOptions::default()
    };
    let sandbox = SandboxProcess::start(&binary, &options).await?;
    let launcher = GatewayLauncher {
        binary: binary.clone(),
        listen: gateway_addr.to_string(),
        upstream_url: sandbox.url.clone(),
        credentials: sandbox.credentials.clone(),
        rate_limit: None,
        extra_args: vec![
            "--upstream-breaker-cooldown".to_owned(),
            BREAKER_COOLDOWN.to_owned(),
        ],
    };
    let outcome = match launcher.start().await {
        Ok(mut gateway) => {
            let outcome = soak(args, &launcher, &mut gateway, &sandbox.url, &http).await;
            gateway.stop_after(outcome).await
        }
        Err(error) => Err(error.into()),
    };
    let report = sandbox.stop_after(outcome).await?;

    let rendered = report.render(args, 2);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "# Soak test\n\n{rendered}")
        .and_then(|()| stdout.flush())
        .context("cannot print the report")?;
    if args.record {
        report::record(report.date, &report.render(args, 3))
            .with_context(|| format!("cannot append to {RESULTS}"))?;
        progress!("recorded in {RESULTS}");
    }
    Ok(report.failures().is_empty())
}

async fn soak(
    args: &Args,
    launcher: &GatewayLauncher,
    gateway: &mut GatewayProcess,
    sandbox_url: &str,
    http: &reqwest::Client,
) -> anyhow::Result<Report> {
    let control = SandboxControl::new(http.clone(), sandbox_url);
    let mut conversations = Vec::new();
    for n in 0..CONVERSATIONS {
        let phone = format!("1212555{:04}", 9000 + n);
        let (id, _) =
            requests::inbound(http, sandbox_url, INBOX_ID, &phone, "customer: hello").await?;
        conversations.push(GlobalId::Conversation(id).to_string());
    }
    let targets = Targets {
        inbox: GlobalId::Inbox(INBOX_ID).to_string(),
        conversations,
    };

    progress!("warming up (faults off)");
    let warm_up = run_clients(
        args,
        http,
        &gateway.graphql_url,
        &targets,
        WARM_UP,
        Duration::from_secs(3),
    )
    .await;
    anyhow::ensure!(
        warm_up.clean == warm_up.requests,
        "the warm-up had errors: {:?}",
        warm_up.errors
    );
    let stop_subscribers = CancellationToken::new();
    let subscribers: Vec<_> = (0..args.subscribers)
        .map(|_| {
            let url = gateway.graphql_url.clone();
            let stop = stop_subscribers.clone();
            tokio::spawn(async move {
                subscriptions::subscriber(&url, MEMBER_ID, SUBSCRIPTION, Value::Null, stop, || {})
                    .await
            })
        })
        .collect();
    let rss_before_kib = gateway.rss_kib();

    progress!("soaking for {} s with faults on", args.seconds);
    control.reset_stats().await?;
    control.set_faults(&args.faults()).await?;
    let start = Instant::now();
    let run = Duration::from_secs(args.seconds);
    let (tally, (), ()) = tokio::join!(
        run_clients(args, http, &gateway.graphql_url, &targets, RUN, run),
        outage(args, &control, run),
        customers(args, http, sandbox_url, run),
    );
    let seconds = start.elapsed().as_secs_f64();
    control.set_faults(&Faults::default()).await?;
    let upstream = control.stats().await?;
    stop_subscribers.cancel();
    let mut received = Received::default();
    for subscriber in subscribers {
        received.merge(&subscriber.await.context("a subscriber task failed")??);
    }
    let rss_after_kib = gateway.rss_kib();
    let panics = match gateway.ensure_running().await {
        Ok(()) => 0,
        Err(ChildError::Panicked { panics, .. }) => panics,
        Err(error) => return Err(error.into()),
    };

    progress!("checking every send against the upstream on a fresh gateway");
    let fresh = GatewayLauncher {
        listen: "127.0.0.1:0".to_owned(),
        ..launcher.clone()
    };
    let reader = fresh.start().await?;
    let writes = verify::writes(
        http,
        &reader.graphql_url,
        &targets.conversations,
        &traffic::text_prefix(RUN),
        &tally.attempted,
        &tally.acknowledged,
    )
    .await;
    let writes = reader.stop_after(writes).await;

    Ok(Report {
        date: chrono::Utc::now(),
        machine: environment::Machine::describe(),
        revision: environment::revision(Path::new(env!("CARGO_MANIFEST_DIR"))),
        seconds,
        tally,
        upstream,
        writes: writes?,
        subscribers: usize::from(args.subscribers),
        received,
        rss_before_kib,
        rss_after_kib,
        panics,
    })
}

/// Runs `args.concurrency` clients for `duration` and merges their tallies.
async fn run_clients(
    args: &Args,
    http: &reqwest::Client,
    graphql_url: &str,
    targets: &Targets,
    phase: &'static str,
    duration: Duration,
) -> Tally {
    let until = Instant::now() + duration;
    let clients: Vec<_> = (0..usize::from(args.concurrency))
        .map(|client_id| {
            tokio::spawn(traffic::client(
                http.clone(),
                graphql_url.to_owned(),
                targets.clone(),
                phase,
                client_id,
                until,
            ))
        })
        .collect();
    let mut tally = Tally::default();
    for client in clients {
        match client.await {
            Ok(client_tally) => tally.merge(client_tally),
            Err(error) => progress!("a client task failed: {error}"),
        }
    }
    tally
}

/// Takes the upstream down (every call 500) for `args.outage_seconds` in the middle of the run.
async fn outage(args: &Args, control: &SandboxControl, run: Duration) {
    let outage = Duration::from_secs(args.outage_seconds).min(run);
    if outage.is_zero() {
        return;
    }
    tokio::time::sleep((run - outage) / 2).await;
    let down = Faults {
        error_rate: 1.0,
        ..args.faults()
    };
    if let Err(error) = control.set_faults(&down).await {
        progress!("cannot start the outage: {error}");
        return;
    }
    progress!("upstream outage for {} s", outage.as_secs());
    tokio::time::sleep(outage).await;
    if let Err(error) = control.set_faults(&args.faults()).await {
        progress!("cannot end the outage: {error}");
    }
}

/// Customer messages at a steady pace, which reach the subscribers through webhooks.
async fn customers(args: &Args, http: &reqwest::Client, sandbox_url: &str, run: Duration) {
    let until = Instant::now() + run;
    let mut tick = tokio::time::interval(Duration::from_millis(args.inbound_every_ms));
    let mut n = 0;
    while Instant::now() < until {
        tick.tick().await;
        let phone = format!("1212555{:04}", 9000 + n % CONVERSATIONS);
        if let Err(error) = requests::inbound(
            http,
            sandbox_url,
            INBOX_ID,
            &phone,
            "customer: still there?",
        )
        .await
        {
            progress!("a customer message failed: {error}");
        }
        n += 1;
    }
}
