//! The four screens measured three ways: direct REST as a frontend does it, a cold gateway (a
//! fresh process per repetition, so every cache is empty) and the same gateway warm. Each
//! sample is the wall time of the work and the upstream calls the sandbox counted for it.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::graphql::{GraphqlClient, Workload};
use crate::processes::GatewayLauncher;
use crate::rest::RestFrontend;
use crate::sandbox::{SandboxControl, UpstreamCalls};

/// A screen of the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    Dashboard,
    Walk,
    Detail,
    /// The acting member's own open conversations.
    Mine,
}

impl Scenario {
    pub(crate) const ALL: [Self; 4] = [Self::Dashboard, Self::Walk, Self::Detail, Self::Mine];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Walk => "walk (5 pages)",
            Self::Detail => "detail",
            Self::Mine => "mine",
        }
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) wall: Duration,
    pub(crate) calls: UpstreamCalls,
}

/// Every repetition of one scenario, on each side.
#[derive(Debug, Clone)]
pub(crate) struct Measurements {
    pub(crate) scenario: Scenario,
    pub(crate) rest: Vec<Sample>,
    pub(crate) cold: Vec<Sample>,
    pub(crate) warm: Vec<Sample>,
}

/// What naive `date = last.updated` paging did to the REST walk, against the gateway's
/// tie-safe reference walk over the same conversations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NaiveWalk {
    /// Rows the REST walk listed.
    pub(crate) listed: usize,
    /// Conversations of the reference walk the REST walk never listed.
    pub(crate) missed: usize,
}

/// Everything the scenarios need, shared by every repetition.
pub(crate) struct Bench<'a> {
    pub(crate) sandbox: &'a SandboxControl,
    pub(crate) rest: &'a RestFrontend,
    pub(crate) launcher: &'a GatewayLauncher,
    pub(crate) http: &'a reqwest::Client,
    pub(crate) workload: &'a Workload,
}

impl Bench<'_> {
    /// `repetitions` runs of `scenario` over REST, then as many cold/warm pairs on fresh
    /// gateways.
    pub(crate) async fn measure(
        &self,
        scenario: Scenario,
        repetitions: usize,
    ) -> anyhow::Result<Measurements> {
        let mut measurements = Measurements {
            scenario,
            rest: Vec::with_capacity(repetitions),
            cold: Vec::with_capacity(repetitions),
            warm: Vec::with_capacity(repetitions),
        };
        for repetition in 1..=repetitions {
            progress!("{}: REST {repetition}/{repetitions}", scenario.name());
            let sample = self
                .rest_sample(scenario)
                .await
                .with_context(|| format!("{} over REST", scenario.name()))?;
            measurements.rest.push(sample);
        }
        for repetition in 1..=repetitions {
            progress!(
                "{}: gateway cold and warm {repetition}/{repetitions}",
                scenario.name()
            );
            let (cold, warm) = self
                .gateway_samples(scenario)
                .await
                .with_context(|| format!("{} through the gateway", scenario.name()))?;
            measurements.cold.push(cold);
            measurements.warm.push(warm);
        }
        Ok(measurements)
    }

    /// `repetitions` runs of the upstream calls the cold dashboard made (`cold`, its first
    /// sample), made directly (see [`RestFrontend::dashboard_floor`]).
    pub(crate) async fn dashboard_floor(
        &self,
        repetitions: usize,
        cold: &Sample,
    ) -> anyhow::Result<Vec<Sample>> {
        let made = |route: &str| {
            let calls = cold.calls.routes.get(route).copied().unwrap_or(0);
            usize::try_from(calls).unwrap_or(usize::MAX)
        };
        let (listings, histories) = (made("POST /v1/messages/all"), made("GET /v1/messages"));
        let mut samples = Vec::with_capacity(repetitions);
        for repetition in 1..=repetitions {
            progress!("dashboard floor: direct calls {repetition}/{repetitions}");
            let sample = self
                .timed(self.rest.dashboard_floor(listings, histories))
                .await
                .context("the dashboard's upstream calls made directly")?;
            samples.push(sample);
        }
        Ok(samples)
    }

    /// One REST walk, compared with the reference walk.
    pub(crate) async fn naive_walk(&self) -> anyhow::Result<NaiveWalk> {
        let listed = self.rest.walk().await.context("walk over REST")?;
        let seen: HashSet<i64> = listed.iter().copied().collect();
        let missed = self
            .workload
            .walk_database_ids
            .iter()
            .filter(|id| !seen.contains(id))
            .count();
        Ok(NaiveWalk {
            listed: listed.len(),
            missed,
        })
    }

    async fn rest_sample(&self, scenario: Scenario) -> anyhow::Result<Sample> {
        let rest = self.rest;
        let sample = match scenario {
            Scenario::Dashboard => {
                self.timed(async { rest.dashboard().await.map(drop) })
                    .await?
            }
            Scenario::Walk => self.timed(async { rest.walk().await.map(drop) }).await?,
            Scenario::Detail => self.timed(rest.detail(self.workload.detail.1)).await?,
            Scenario::Mine => self.timed(async { rest.mine().await.map(drop) }).await?,
        };
        Ok(sample)
    }

    /// A fresh gateway's first answer (cold), then the same request again (warm).
    async fn gateway_samples(&self, scenario: Scenario) -> anyhow::Result<(Sample, Sample)> {
        let gateway = self.launcher.start().await?;
        let client = GraphqlClient::new(self.http.clone(), &gateway.graphql_url);
        let samples = async {
            let cold = self.gateway_sample(&client, scenario).await?;
            let warm = self.gateway_sample(&client, scenario).await?;
            Ok((cold, warm))
        }
        .await;
        gateway.stop_after(samples).await
    }

    async fn gateway_sample(
        &self,
        client: &GraphqlClient,
        scenario: Scenario,
    ) -> anyhow::Result<Sample> {
        let workload = self.workload;
        match scenario {
            Scenario::Dashboard => self.timed(client.dashboard(workload)).await,
            Scenario::Walk => self.timed(client.walk(workload)).await,
            Scenario::Detail => self.timed(client.detail(workload)).await,
            Scenario::Mine => self.timed(client.mine(workload)).await,
        }
    }

    /// Resets the sandbox's counters right before `work` and reads them right after.
    async fn timed<E>(&self, work: impl Future<Output = Result<(), E>>) -> anyhow::Result<Sample>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        self.sandbox
            .reset_stats()
            .await
            .context("cannot reset the sandbox's counters")?;
        let started = Instant::now();
        work.await?;
        let wall = started.elapsed();
        let calls = self
            .sandbox
            .stats()
            .await
            .context("cannot read the sandbox's counters")?;
        Ok(Sample { wall, calls })
    }
}

/// The median wall time of `samples`, in milliseconds.
pub(crate) fn median_ms(samples: &[Sample]) -> f64 {
    median(
        samples
            .iter()
            .map(|s| s.wall.as_secs_f64() * 1000.0)
            .collect(),
    )
}

/// The median upstream call count of `samples`.
pub(crate) fn median_calls(samples: &[Sample]) -> f64 {
    median(samples.iter().map(|s| s.calls.total as f64).collect())
}

/// The middle value (the mean of the two middle ones for an even count); NaN for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
