//! Warm load: many clients sending the dashboard query to one gateway for a fixed time, over
//! keep-alive HTTP, with the upstream calls it caused and the gateway's memory around it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::task::JoinSet;

use crate::graphql::{GraphqlClient, Workload};
use crate::processes::{GatewayLauncher, GatewayProcess};
use crate::sandbox::{SandboxControl, UpstreamCalls};

/// Requests each client sends before the measured run, so connections (and any cache) are warm.
const WARM_UP_REQUESTS_PER_CLIENT: u32 = 2;

/// What the load run measured.
#[derive(Debug, Clone)]
pub(crate) struct LoadReport {
    pub(crate) concurrency: usize,
    pub(crate) run: Tally,
    pub(crate) calls: UpstreamCalls,
    pub(crate) rss_kib: RssTrace,
}

/// The gateway's resident memory at three moments; `None` where it could not be read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RssTrace {
    pub(crate) at_start: Option<u64>,
    pub(crate) after_warm_up: Option<u64>,
    pub(crate) after_load: Option<u64>,
}

/// Requests answered during one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub(crate) elapsed: Duration,
    /// Latency of each answer that passed every check, sorted.
    pub(crate) latencies: Vec<Duration>,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
}

impl Tally {
    pub(crate) fn completed(&self) -> u64 {
        self.latencies.len() as u64 + self.errors
    }

    pub(crate) fn requests_per_second(&self) -> f64 {
        self.completed() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The nearest-rank `quantile` (0..=1) of the successful requests' latencies.
    pub(crate) fn latency(&self, quantile: f64) -> Option<Duration> {
        let rank = (quantile * self.latencies.len() as f64).ceil() as usize;
        self.latencies.get(rank.saturating_sub(1)).copied()
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

/// When a client stops sending.
#[derive(Debug, Clone, Copy)]
enum Until {
    Deadline(Instant),
    Sent(u32),
}

/// Starts a gateway, warms it up, then loads it with `concurrency` clients for `duration`.
pub(crate) async fn measure(
    launcher: &GatewayLauncher,
    sandbox: &SandboxControl,
    http: &reqwest::Client,
    workload: &Workload,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    let mut gateway = launcher.start().await?;
    let report = match load(&mut gateway, sandbox, http, workload, concurrency, duration).await {
        Ok(report) => Ok(report),
        Err(error) => Err(gateway.explain(error).await),
    };
    gateway.stop().await;
    report
}

async fn load(
    gateway: &mut GatewayProcess,
    sandbox: &SandboxControl,
    http: &reqwest::Client,
    workload: &Workload,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    let client = GraphqlClient::new(http.clone(), &gateway.graphql_url);
    let workload = Arc::new(workload.clone());
    let at_start = gateway.rss_kib();

    progress!("load: warm-up");
    let warm_up = Until::Sent(WARM_UP_REQUESTS_PER_CLIENT);
    let warm_up = run(&client, &workload, concurrency, warm_up).await?;
    if let Some(error) = warm_up.first_error {
        anyhow::bail!("the warm-up failed: {error}");
    }
    let after_warm_up = gateway.rss_kib();

    progress!("load: {concurrency} clients for {duration:?}");
    sandbox
        .reset_stats()
        .await
        .context("cannot reset the sandbox's counters")?;
    let deadline = Until::Deadline(Instant::now() + duration);
    let tally = run(&client, &workload, concurrency, deadline).await?;
    gateway
        .ensure_running()
        .await
        .context("the gateway stopped during the load run")?;
    let calls = sandbox
        .stats()
        .await
        .context("cannot read the sandbox's counters")?;
    Ok(LoadReport {
        concurrency,
        run: tally,
        calls,
        rss_kib: RssTrace {
            at_start,
            after_warm_up,
            after_load: gateway.rss_kib(),
        },
    })
}

/// `concurrency` clients, each sending the dashboard query one request after another.
async fn run(
    client: &GraphqlClient,
    workload: &Arc<Workload>,
    concurrency: usize,
    until: Until,
) -> anyhow::Result<Tally> {
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let workload = Arc::clone(workload);
        clients.spawn(async move { send_until(&client, &workload, until).await });
    }
    let mut tally = Tally::default();
    while let Some(joined) = clients.join_next().await {
        tally.merge(joined.context("a load client failed")?);
    }
    tally.elapsed = started.elapsed();
    tally.latencies.sort_unstable();
    Ok(tally)
}

async fn send_until(client: &GraphqlClient, workload: &Workload, until: Until) -> Tally {
    let mut tally = Tally::default();
    let mut sent = 0;
    loop {
        let more = match until {
            Until::Deadline(deadline) => Instant::now() < deadline,
            Until::Sent(count) => sent < count,
        };
        if !more {
            return tally;
        }
        let started = Instant::now();
        match client.dashboard(workload).await {
            Ok(()) => tally.latencies.push(started.elapsed()),
            Err(error) => {
                tally.errors += 1;
                let error = anyhow::Error::from(error);
                tally
                    .first_error
                    .get_or_insert_with(|| format!("{error:#}"));
            }
        }
        sent += 1;
    }
}
