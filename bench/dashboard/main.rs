//! The dashboard benchmark: what the canonical workload (`bench/queries/`) costs a frontend
//! calling Heymarket's REST API directly, and what it costs through the gateway, cold and warm,
//! in upstream calls and wall time; then the gateway under warm load.
//!
//! Runs the release binary as separate processes (a sandbox, and gateways in front of it) on
//! free loopback ports and prints a Markdown report. Under `cargo run` it first brings the
//! binary up to date; run directly, it needs `cargo build --release` first.
//!
//! # Layout
//! - `binary`, `child`: the release binary, and one child process running it.
//! - `processes`: the sandbox and gateway processes.
//! - `sandbox`: the sandbox's control API (faults, call counters).
//!
//! Those four and `environment` live in `bench/common/`, shared with the soak test.
//! - `rest`: the screens (dashboard, detail, mine) as a frontend builds them from REST, shared
//!   with the team benchmark; `rest_walk`: the walk and the dashboard's floor over REST.
//! - `graphql`: the canonical queries against a gateway, with every answer checked.
//! - `scenarios`: REST / cold / warm samples of each screen.
//! - `load`: warm load and the gateway's memory.
//! - `environment`, `report`, `results`: where it ran, the Markdown, and its record.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;
mod graphql;
mod load;
mod report;
mod rest;
mod rest_walk;
mod results;
mod scenarios;

use common::results::RESULTS;
use common::{binary, child, environment, processes, sandbox};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

use crate::binary::Binary;
use crate::graphql::{GraphqlClient, Workload};
use crate::processes::{GatewayLauncher, SandboxOptions, SandboxProcess};
use crate::report::{Report, Settings};
use crate::rest::RestFrontend;
use crate::sandbox::{Faults, SandboxControl};
use crate::scenarios::{Bench, Scenario};

/// The team member every request acts as (the seeded team's first admin).
const MEMBER_ID: i64 = 501;
/// The inbox whose open conversations the dashboard lists.
const INBOX_ID: i64 = 3002;
/// Pages of the walk scenario.
const WALK_PAGES: usize = 5;
/// A request that takes longer than this has failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Gateway versus direct REST on the dashboard workload, against a local sandbox.
#[derive(Debug, Parser)]
#[command(name = "dashboard-bench")]
struct Args {
    /// Delay the sandbox adds to every upstream call, like a distant API.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,

    /// Runs of each screen per side; the report shows medians.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..))]
    repetitions: u16,

    /// Length of the warm load run.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    load_seconds: u64,

    /// Clients sending requests at once during the load run.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,

    /// A reading of an open point of the upstream's docs for the sandbox to play, as
    /// `POINT=VALUE` (e.g. `messages-all-max=200`); repeatable. The report names them.
    #[arg(long = "sandbox-reading")]
    sandbox_readings: Vec<String>,

    /// Also append the report to bench/RESULTS.md under a dated heading.
    #[arg(long)]
    record: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    common::main(Box::pin(async { run(&Args::parse()).await.map(|()| true) })).await
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let binary = Binary::build_and_locate(Path::new(env!("CARGO_MANIFEST_DIR"))).await?;
    progress!("benchmarking {}", binary.path().display());
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("cannot build the HTTP client")?;

    let options = SandboxOptions {
        readings: args.sandbox_readings.clone(),
        ..SandboxOptions::default()
    };
    let sandbox = SandboxProcess::start(&binary, &options).await?;
    let outcome = measure(args, &binary, &sandbox, &http).await;
    let report = sandbox.stop_after(outcome).await?;

    let title = "Dashboard benchmark: gateway vs direct REST";
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", report.render(title, 1))
        .and_then(|()| stdout.flush())
        .context("cannot print the report")?;
    if args.record {
        results::record(&report).with_context(|| format!("cannot append to {RESULTS}"))?;
        progress!("recorded in {RESULTS}");
    }
    Ok(())
}

async fn measure(
    args: &Args,
    binary: &Binary,
    sandbox: &SandboxProcess,
    http: &reqwest::Client,
) -> anyhow::Result<Report> {
    let control = SandboxControl::new(http.clone(), &sandbox.url);
    let faults = Faults {
        latency_ms: args.latency_ms,
        ..Faults::default()
    };
    control
        .set_faults(&faults)
        .await
        .context("cannot set the sandbox's latency")?;
    let launcher = GatewayLauncher {
        binary: binary.clone(),
        listen: "127.0.0.1:0".to_owned(),
        upstream_url: sandbox.url.clone(),
        credentials: sandbox.credentials.clone(),
        rate_limit: None,
        extra_args: Vec::new(),
    };
    progress!("discovering the workload's ids on a throwaway gateway");
    let workload = discover(&launcher, http).await?;
    let rest = RestFrontend::new(
        http.clone(),
        &sandbox.url,
        sandbox.credentials.clone(),
        MEMBER_ID,
        INBOX_ID,
    );
    let bench = Bench {
        sandbox: &control,
        rest: &rest,
        launcher: &launcher,
        http,
        workload: &workload,
    };

    let repetitions = usize::from(args.repetitions);
    let mut scenarios = Vec::new();
    for scenario in Scenario::ALL {
        scenarios.push(bench.measure(scenario, repetitions).await?);
    }
    let cold_dashboard = scenarios
        .iter()
        .find(|measured| measured.scenario == Scenario::Dashboard)
        .and_then(|measured| measured.cold.first())
        .context("no cold dashboard was measured")?;
    let dashboard_floor = bench.dashboard_floor(repetitions, cold_dashboard).await?;
    let naive_walk = bench.naive_walk().await?;
    let concurrency = usize::from(args.concurrency);
    let duration = Duration::from_secs(args.load_seconds);
    let mut loads = Vec::new();
    for case in load::LoadCase::ALL {
        let measured = load::measure(
            &launcher,
            &control,
            http,
            &workload,
            case,
            concurrency,
            duration,
        );
        loads.push(measured.await?);
    }

    Ok(Report {
        date: chrono::Utc::now(),
        settings: Settings {
            latency_ms: args.latency_ms,
            repetitions,
            load_seconds: args.load_seconds,
            concurrency,
            sandbox_readings: args.sandbox_readings.clone(),
        },
        machine: environment::Machine::describe(),
        revision: environment::revision(Path::new(env!("CARGO_MANIFEST_DIR"))),
        scenarios,
        dashboard_floor,
        naive_walk,
        loads,
    })
}

async fn discover(launcher: &GatewayLauncher, http: &reqwest::Client) -> anyhow::Result<Workload> {
    let gateway = launcher.start().await?;
    let client = GraphqlClient::new(http.clone(), &gateway.graphql_url);
    let workload = client.discover().await.map_err(anyhow::Error::from);
    gateway.stop_after(workload).await
}
