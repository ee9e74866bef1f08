//! Warm load: many clients sending the dashboard query to one gateway for a fixed time, over
//! keep-alive HTTP, with the upstream calls it caused and the gateway's memory around it. Run
//! three ways in one benchmark, so each is compared with the others on the same machine at the
//! same time: a gateway that has heard no webhook (its caches on their TTLs), one whose team's
//! webhooks are heard (whole answers kept), and `{ __typename }`, the request path alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::graphql::{GraphqlClient, Workload};
use crate::processes::{Credentials, GatewayLauncher, GatewayProcess};
use crate::sandbox::{SandboxControl, UpstreamCalls};

/// Requests each client sends before the measured run, so connections (and any cache) are warm.
const WARM_UP_REQUESTS_PER_CLIENT: u32 = 2;
/// How long a delivered webhook may take to make its team event-driven.
const EVENT_MODE_DEADLINE: Duration = Duration::from_secs(10);

/// How the gateway is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadCase {
    /// The dashboard, no webhook heard: the caches on their TTLs.
    Ttl,
    /// The dashboard, after a webhook of the team: its caches follow events, and whole
    /// answers are kept.
    Events,
    /// `{ __typename }`: the request path without fields to resolve.
    Pipeline,
}

impl LoadCase {
    pub(crate) const ALL: [Self; 3] = [Self::Ttl, Self::Events, Self::Pipeline];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Ttl => "dashboard, no webhook heard",
            Self::Events => "dashboard, webhooks heard",
            Self::Pipeline => "`{ __typename }`",
        }
    }
}

/// What the load run measured.
#[derive(Debug, Clone)]
pub(crate) struct LoadReport {
    pub(crate) case: LoadCase,
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
    case: LoadCase,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    let mut gateway = launcher.start().await?;
    let report = async {
        if case == LoadCase::Events {
            hear_a_webhook(&gateway, http, &launcher.credentials, workload.detail.1).await?;
        }
        let load = Load {
            case,
            concurrency,
            duration,
        };
        load.run(&mut gateway, sandbox, http, workload).await
    }
    .await;
    gateway.stop_after(report).await
}

/// Delivers one webhook of the sandbox's team to `gateway`, as Heymarket would (a
/// `chat_opened` naming `conversation`), and waits until `/readyz` shows the team event-driven.
async fn hear_a_webhook(
    gateway: &GatewayProcess,
    http: &reqwest::Client,
    credentials: &Credentials,
    conversation: i64,
) -> anyhow::Result<()> {
    let base = gateway
        .graphql_url
        .strip_suffix("/graphql")
        .context("the gateway's address does not end in /graphql")?;
    let envelope = json!({
        "type": "chat_opened",
        "id": 901,
        "token": credentials.webhook_token,
        "event_data": { "id": conversation, "updated": chrono::Utc::now().to_rfc3339() },
    });
    let delivered = http
        .post(format!("{base}/webhooks/heymarket"))
        .json(&envelope)
        .send()
        .await
        .context("cannot deliver a webhook")?;
    anyhow::ensure!(
        delivered.status().is_success(),
        "the webhook was refused: {}",
        delivered.status()
    );
    let team = credentials.team_id.to_string();
    let deadline = Instant::now() + EVENT_MODE_DEADLINE;
    while Instant::now() < deadline {
        let ready: Value = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .context("cannot ask /readyz")?
            .json()
            .await
            .context("/readyz answered no JSON")?;
        if ready["freshness"][&team] == "events" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("the team was not event-driven {EVENT_MODE_DEADLINE:?} after its webhook")
}

/// One load run's settings.
struct Load {
    case: LoadCase,
    concurrency: usize,
    duration: Duration,
}

impl Load {
    async fn run(
        &self,
        gateway: &mut GatewayProcess,
        sandbox: &SandboxControl,
        http: &reqwest::Client,
        workload: &Workload,
    ) -> anyhow::Result<LoadReport> {
        let Self {
            case,
            concurrency,
            duration,
        } = *self;
        let client = GraphqlClient::new(http.clone(), &gateway.graphql_url);
        let workload = Arc::new(workload.clone());
        let at_start = gateway.rss_kib();

        progress!("load ({}): warm-up", case.label());
        let warm_up = Until::Sent(WARM_UP_REQUESTS_PER_CLIENT);
        let warm_up = run_clients(&client, &workload, case, concurrency, warm_up).await?;
        if let Some(error) = warm_up.first_error {
            anyhow::bail!("the warm-up failed: {error}");
        }
        let after_warm_up = gateway.rss_kib();

        progress!(
            "load ({}): {concurrency} clients for {duration:?}",
            case.label()
        );
        sandbox
            .reset_stats()
            .await
            .context("cannot reset the sandbox's counters")?;
        let deadline = Until::Deadline(Instant::now() + duration);
        let tally = run_clients(&client, &workload, case, concurrency, deadline).await?;
        gateway
            .ensure_running()
            .await
            .context("the gateway stopped during the load run")?;
        let calls = sandbox
            .stats()
            .await
            .context("cannot read the sandbox's counters")?;
        Ok(LoadReport {
            case,
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
}

/// `concurrency` clients, each sending the case's query one request after another.
async fn run_clients(
    client: &GraphqlClient,
    workload: &Arc<Workload>,
    case: LoadCase,
    concurrency: usize,
    until: Until,
) -> anyhow::Result<Tally> {
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let workload = Arc::clone(workload);
        clients.spawn(async move { send_until(&client, &workload, case, until).await });
    }
    let mut tally = Tally::default();
    while let Some(joined) = clients.join_next().await {
        tally.merge(joined.context("a load client failed")?);
    }
    tally.elapsed = started.elapsed();
    tally.latencies.sort_unstable();
    Ok(tally)
}

async fn send_until(
    client: &GraphqlClient,
    workload: &Workload,
    case: LoadCase,
    until: Until,
) -> Tally {
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
        let answered = match case {
            LoadCase::Ttl | LoadCase::Events => client.dashboard(workload).await,
            LoadCase::Pipeline => client.pipeline().await,
        };
        match answered {
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
