//! The team benchmark: how many agents can work through the gateway at once, and how fresh what
//! they see is. Heymarket allows a team 500 upstream requests a minute (the gateway aims at
//! 480); that budget, not CPU, limits a team. For each team size, N agents (each a member of the
//! sandbox's team) keep their dashboard and mine list open and work their conversations while
//! customers write in, first through the gateway, then with direct REST calls as a frontend
//! makes them. The report gives, per team size and side, the upstream calls a minute against
//! the budget, how stale the agents' answers were, and the requests served and failed.
//!
//! Runs the release binary as separate processes (a sandbox delivering its webhooks to a
//! gateway), fresh for every run, on loopback ports only. Under `cargo run` it first brings the
//! binary up to date.
//!
//! # Layout
//! - `binary`, `child`, `processes`, `sandbox`, `environment`, `results`: shared by every
//!   benchmark (`bench/common/`).
//! - `rest`: the dashboard benchmark's screens over REST; `requests`, `subscriptions`: the
//!   soak's GraphQL request, customer message and subscribers.
//! - `frontend`: what an agent's frontend does, `gateway` through the gateway, `direct` over
//!   REST.
//! - `agent`: one agent at work; `customers`: customers writing in.
//! - `changes`: staleness, from each change to the answers that show it.
//! - `phase`: one measured run; `report`: the Markdown; `plot`: the chart.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;
mod agent;
mod changes;
mod customers;
mod direct;
mod frontend;
mod gateway;
mod phase;
mod plot;
mod redis;
mod report;
#[path = "../soak/requests.rs"]
mod requests;
#[path = "../dashboard/rest.rs"]
mod rest;
#[path = "../soak/subscriptions.rs"]
mod subscriptions;

use common::{binary, child, environment, processes, results, sandbox};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

use crate::binary::Binary;
use crate::phase::{Setup, Side};
use crate::report::Report;

/// A request that takes longer than this has failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Agents working through the gateway against the upstream's budget, on loopback.
#[derive(Debug, Parser)]
#[command(name = "team-bench")]
pub(crate) struct Args {
    /// Team sizes to run, in agents, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10,50,200",
        value_parser = clap::value_parser!(u16).range(1..=1000)
    )]
    agents: Vec<u16>,

    /// Measured time of each run (per team size and side), after a 5 s warm-up.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(5..=3600))]
    seconds: u64,

    /// How often each agent refreshes its dashboard and mine list.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..))]
    refresh_ms: u64,

    /// Mean time between two conversations an agent opens (it replies to half of them, and
    /// assigns or closes some).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    open_every_s: u64,

    /// Customer messages a minute, to the SMS inboxes in turn.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    inbound_per_minute: u64,

    /// Delay the sandbox adds to every upstream call, like a distant API.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,

    /// Gateway agents also refresh as soon as their subscription reports a change to a
    /// conversation of their inbox.
    #[arg(long)]
    subscribe: bool,

    /// A flag for the gateway, e.g. `--gateway-arg=--cache-ttl-conversations=60s`; repeatable.
    /// The report names them.
    #[arg(long = "gateway-arg", allow_hyphen_values = true)]
    gateway_args: Vec<String>,

    /// A reading of an open point of the upstream's docs for the sandbox to play, as
    /// `POINT=VALUE` (e.g. `assigned-filter=honoured`); repeatable. The report names them.
    #[arg(long = "sandbox-reading")]
    sandbox_readings: Vec<String>,

    /// Gateways on the gateway side, taking the agents' requests in turn (a round-robin
    /// balancer); more than one share a `redis-server` started for the run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=8))]
    replicas: u16,

    /// Runs the gateway side only, without the direct REST comparison.
    #[arg(long)]
    gateway_only: bool,

    /// Also append the report to bench/RESULTS.md and draw bench/team-bench.svg (and, with
    /// headless Chromium on the PATH, bench/team-bench.png).
    #[arg(long)]
    record: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    common::main(Box::pin(async { run(&Args::parse()).await.map(|()| true) })).await
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = Binary::build_and_locate(repository).await?;
    progress!("benchmarking {}", binary.path().display());
    let setup = Setup {
        binary,
        http: reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("cannot build the HTTP client")?,
        seconds: args.seconds,
        refresh: Duration::from_millis(args.refresh_ms),
        open_every: Duration::from_secs(args.open_every_s),
        inbound_every: Duration::from_secs(60) / u32::try_from(args.inbound_per_minute)?,
        latency_ms: args.latency_ms,
        subscribe: args.subscribe,
        gateway_args: args.gateway_args.clone(),
        sandbox_readings: args.sandbox_readings.clone(),
        replicas: usize::from(args.replicas),
    };
    let sides: &[Side] = if args.gateway_only {
        &[Side::Gateway]
    } else {
        &[Side::Gateway, Side::Direct]
    };
    let mut runs = Vec::new();
    for &agents in &args.agents {
        for &side in sides {
            progress!("{agents} agents, {}: {} s", side.name(), args.seconds);
            let agents = usize::from(agents);
            let run = phase::run(&setup, side, agents)
                .await
                .with_context(|| format!("{agents} agents, {}", side.name()))?;
            progress!(
                "  {:.0} upstream calls/min, {} requests, {} failed",
                run.calls_per_minute(),
                run.tally.requests,
                run.tally.failed
            );
            runs.push(run);
        }
    }
    let report = Report {
        date: chrono::Utc::now(),
        machine: environment::Machine::describe(),
        revision: environment::revision(repository),
        runs,
    };

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "# Team benchmark\n\n{}", report.render(args, 2))
        .and_then(|()| stdout.flush())
        .context("cannot print the report")?;
    if args.record {
        let heading = format!(
            "{}: team benchmark",
            report.date.format("%Y-%m-%d %H:%M UTC")
        );
        results::append(&heading, &report.render(args, 3))
            .with_context(|| format!("cannot append to {}", results::RESULTS))?;
        progress!("recorded in {}", results::RESULTS);
        let mut caption = format!(
            "team-bench {}, revision {}: {} s a run, refresh every {} ms, {} customer \
             messages/min, {} ms upstream latency",
            report.date.format("%Y-%m-%d"),
            report.revision.as_deref().unwrap_or("unknown"),
            args.seconds,
            args.refresh_ms,
            args.inbound_per_minute,
            args.latency_ms
        );
        for flag in args.gateway_args.iter().chain(&args.sandbox_readings) {
            caption.push_str(&format!(", {flag}"));
        }
        if args.subscribe {
            caption.push_str(", subscribing");
        }
        if args.replicas > 1 {
            caption.push_str(&format!(", {} replicas sharing Redis", args.replicas));
        }
        plot::draw(&report.runs, &caption, repository).await?;
    }
    Ok(())
}
