//! One measured run: a fresh sandbox (and, for the gateway side, a fresh gateway taking its
//! webhooks), N agents and the customers for a warm-up and then the measured time, and what
//! the sandbox counted, the agents did and saw, and the gateway's memory at the end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use heymarket_gateway::schema::GlobalId;
use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::agent::{self, Agent, Pace, Tally};
use crate::binary::Binary;
use crate::changes::{Staleness, Tracker, Watch};
use crate::customers::{self, Customers};
use crate::direct::DirectFrontend;
use crate::frontend::Frontend;
use crate::gateway::{Balancer, GatewayFrontend};
use crate::processes::{GatewayLauncher, GatewayProcess, SandboxOptions, SandboxProcess};
use crate::redis::RedisProcess;
use crate::rest::{Call, RestFrontend};
use crate::sandbox::{Faults, SandboxControl, UpstreamCalls};
use crate::subscriptions::{self, Received};

/// The sandbox's limit and the gateway's budget: no call may be refused or held back, so the
/// calls counted are what each side asks for.
pub(crate) const RATE_LIMIT: &str = "10000000/min";
/// Time the agents work before the counting starts, so the gateway's caches hold the directory
/// and the agents' first screens are behind them.
const WARM_UP: Duration = Duration::from_secs(5);
/// How long the agents go on after the measured time, at the least, so that the changes made
/// near its end can be seen.
const DRAIN: Duration = Duration::from_secs(10);
/// How long after that the agents, customers and subscribers get to stop.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// What a subscribing agent follows: any change to a conversation of its inbox.
const SUBSCRIPTION: &str = "subscription($inbox: ID!) {
  conversationUpdated(inboxIds: [$inbox]) { id }
}";
/// The member the directory is read as (the seeded team's first admin, in every inbox).
const ADMIN: i64 = 501;

/// Which way the agents reach the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Gateway,
    /// REST calls as a frontend makes them.
    Direct,
}

impl Side {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Direct => "direct REST",
        }
    }
}

/// How every run is set up.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) binary: Binary,
    pub(crate) http: reqwest::Client,
    pub(crate) seconds: u64,
    pub(crate) refresh: Duration,
    pub(crate) open_every: Duration,
    pub(crate) inbound_every: Duration,
    pub(crate) latency_ms: u64,
    pub(crate) subscribe: bool,
    pub(crate) gateway_args: Vec<String>,
    pub(crate) sandbox_readings: Vec<String>,
    /// Gateways behind the round-robin balancer, sharing a Redis when more than one.
    pub(crate) replicas: usize,
}

/// What one run measured.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) side: Side,
    pub(crate) agents: usize,
    /// Gateways the agents' requests went to in turn (none on the direct side).
    pub(crate) replicas: usize,
    /// The measured time (after the warm-up).
    pub(crate) seconds: f64,
    pub(crate) calls: UpstreamCalls,
    pub(crate) tally: Tally,
    pub(crate) staleness: Staleness,
    pub(crate) customers: Customers,
    /// What the agents' subscriptions received (the gateway side with `--subscribe`).
    pub(crate) received: Option<Received>,
    /// The gateways' resident memory at the end, in KiB, summed.
    pub(crate) rss_kib: Option<u64>,
    /// The machine's load average over the minute before the run (other work on it slows
    /// everything down).
    pub(crate) load_average: Option<f64>,
}

impl Run {
    /// The side, and how many gateways served it when more than one.
    pub(crate) fn label(&self) -> String {
        match self.replicas {
            0 | 1 => self.side.name().to_owned(),
            replicas => format!("{} ×{replicas}", self.side.name()),
        }
    }

    /// Upstream calls per minute of the measured time.
    pub(crate) fn calls_per_minute(&self) -> f64 {
        self.per_minute(self.calls.total)
    }

    /// The calls a minute that wrote (sends, assignments, closes): one per write however it
    /// is made, so no cache can take them off the budget.
    pub(crate) fn write_calls_per_minute(&self) -> f64 {
        let writes = WRITE_ROUTES
            .iter()
            .filter_map(|route| self.calls.routes.get(*route))
            .sum();
        self.per_minute(writes)
    }

    /// `calls` made in the measured time, a minute.
    pub(crate) fn per_minute(&self, calls: u64) -> f64 {
        calls as f64 * 60.0 / self.seconds.max(f64::EPSILON)
    }
}

/// The upstream routes the agents write with.
const WRITE_ROUTES: [&str; 3] = [
    "POST /v1/message/send",
    "POST /v1/conversations/reassign",
    "POST /v1/conversations/close",
];

/// Runs `agents` agents on `side` with fresh processes.
pub(crate) async fn run(setup: &Setup, side: Side, agents: usize) -> anyhow::Result<Run> {
    let members = u16::try_from(agents.max(12)).context("too many agents")?;
    let mut options = SandboxOptions {
        readings: setup.sandbox_readings.clone(),
        members: Some(members),
        rate_limit: Some(RATE_LIMIT.to_owned()),
        ..SandboxOptions::default()
    };
    match side {
        Side::Direct => {
            let sandbox = SandboxProcess::start(&setup.binary, &options).await?;
            let measured = measure(setup, side, agents, &sandbox, &mut []).await;
            sandbox.stop_after(measured).await
        }
        Side::Gateway => {
            // The sandbox needs the gateway's webhook URL before the gateway exists.
            let webhook_addr = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .context("cannot find a free port")?;
            options.webhook_url = Some(format!("http://{webhook_addr}/webhooks/heymarket"));
            let sandbox = SandboxProcess::start(&setup.binary, &options).await?;
            let measured = if setup.replicas > 1 {
                let redis = RedisProcess::start().await?;
                let measured =
                    through_replicas(setup, agents, &sandbox, webhook_addr, Some(&redis.url)).await;
                redis.stop_after(measured).await
            } else {
                through_replicas(setup, agents, &sandbox, webhook_addr, None).await
            };
            sandbox.stop_after(measured).await
        }
    }
}

/// Runs the agents through `setup.replicas` fresh gateways sharing `redis_url`, the first
/// taking the sandbox's webhooks at `webhook_addr`, and stops them.
async fn through_replicas(
    setup: &Setup,
    agents: usize,
    sandbox: &SandboxProcess,
    webhook_addr: std::net::SocketAddr,
    redis_url: Option<&str>,
) -> anyhow::Result<Run> {
    let mut extra_args = setup.gateway_args.clone();
    if let Some(url) = redis_url {
        extra_args.extend(["--redis-url".to_owned(), url.to_owned()]);
    }
    let mut gateways = Vec::new();
    let mut started = Ok(());
    for replica in 0..setup.replicas {
        let launcher = GatewayLauncher {
            binary: setup.binary.clone(),
            listen: match replica {
                0 => webhook_addr.to_string(),
                _ => "127.0.0.1:0".to_owned(),
            },
            upstream_url: sandbox.url.clone(),
            credentials: sandbox.credentials.clone(),
            rate_limit: Some(RATE_LIMIT.to_owned()),
            extra_args: extra_args.clone(),
        };
        match launcher.start().await {
            Ok(gateway) => gateways.push(gateway),
            Err(error) => {
                started = Err(error.into());
                break;
            }
        }
    }
    let mut measured = match started {
        Ok(()) => measure(setup, Side::Gateway, agents, sandbox, &mut gateways).await,
        Err(error) => Err(error),
    };
    for gateway in gateways.into_iter().rev() {
        measured = gateway.stop_after(measured).await;
    }
    measured
}

/// How long the agents go on after the measured time: a few refreshes, and [`DRAIN`] at the
/// least.
pub(crate) fn drain(refresh: Duration) -> Duration {
    (refresh * 3).max(DRAIN)
}

/// Holds `watch`'s subscription to changes of its inbox open until `stop`, firing `changed` on
/// each.
async fn subscribe(
    graphql_url: String,
    watch: Watch,
    changed: Arc<Notify>,
    stop: CancellationToken,
) -> anyhow::Result<Received> {
    let variables = json!({ "inbox": GlobalId::Inbox(watch.inbox).to_string() });
    subscriptions::subscriber(
        &graphql_url,
        watch.member,
        SUBSCRIPTION,
        variables,
        stop,
        || {
            changed.notify_one();
        },
    )
    .await
}

/// The team's inboxes and members, as the upstream lists them.
#[derive(Debug)]
struct Directory {
    /// SMS inboxes (those with a phone) and their members, by id.
    sms_inboxes: Vec<(i64, Vec<i64>)>,
    /// Members by id, with their names.
    members: Vec<(i64, String)>,
}

#[derive(Deserialize)]
struct InboxEntry {
    id: i64,
    phone: String,
    members: Vec<i64>,
}

#[derive(Deserialize)]
struct TeamEntry {
    members: Vec<MemberEntry>,
}

#[derive(Deserialize)]
struct MemberEntry {
    id: i64,
    name: String,
}

async fn directory(rest: &RestFrontend) -> anyhow::Result<Directory> {
    let authorization = rest.authorization()?;
    let inboxes: Vec<InboxEntry> =
        serde_json::from_slice(&rest.send_raw(&authorization, Call::Inboxes).await?)
            .context("the inboxes")?;
    let team: TeamEntry = serde_json::from_slice(&rest.send_raw(&authorization, Call::Team).await?)
        .context("the team")?;
    let mut members: Vec<(i64, String)> = team
        .members
        .into_iter()
        .map(|member| (member.id, member.name))
        .collect();
    members.sort_unstable();
    Ok(Directory {
        sms_inboxes: inboxes
            .into_iter()
            .filter(|inbox| !inbox.phone.is_empty())
            .map(|inbox| (inbox.id, inbox.members))
            .collect(),
        members,
    })
}

/// The first `agents` members with an SMS inbox, each watching one of theirs (in turn): by
/// agent, its member and inbox.
fn staff(directory: &Directory, agents: usize) -> anyhow::Result<Vec<Watch>> {
    let watches: Vec<Watch> = directory
        .members
        .iter()
        .filter_map(|&(member, _)| {
            let own: Vec<i64> = directory
                .sms_inboxes
                .iter()
                .filter(|(_, members)| members.contains(&member))
                .map(|&(inbox, _)| inbox)
                .collect();
            let inbox = *own.get(usize::try_from(member).ok()? % own.len().max(1))?;
            Some(Watch { member, inbox })
        })
        .take(agents)
        .collect();
    anyhow::ensure!(
        watches.len() == agents,
        "the sandbox's team has {} members with an SMS inbox, not {agents}",
        watches.len()
    );
    Ok(watches)
}

async fn measure(
    setup: &Setup,
    side: Side,
    agents: usize,
    sandbox: &SandboxProcess,
    gateways: &mut [GatewayProcess],
) -> anyhow::Result<Run> {
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|loads| loads.split_whitespace().next()?.parse().ok());
    let control = SandboxControl::new(setup.http.clone(), &sandbox.url);
    let rest = |member, inbox| {
        RestFrontend::new(
            setup.http.clone(),
            &sandbox.url,
            sandbox.credentials.clone(),
            member,
            inbox,
        )
    };
    let directory = directory(&rest(ADMIN, 0))
        .await
        .context("cannot read the team's directory")?;
    let watches = staff(&directory, agents)?;
    control
        .set_faults(&Faults {
            latency_ms: setup.latency_ms,
            ..Faults::default()
        })
        .await
        .context("cannot set the sandbox's latency")?;

    let start = Instant::now();
    let counted_from = start + WARM_UP;
    let until = counted_from + Duration::from_secs(setup.seconds);
    let stop = until + drain(setup.refresh);
    let tracker = Arc::new(Tracker::new(
        watches.clone(),
        counted_from.into_std()..until.into_std(),
    ));
    let pace = Pace {
        refresh: setup.refresh,
        open_every: setup.open_every,
        start,
        counted_from,
        until,
        stop,
    };
    // Every request goes to the next gateway in turn, as behind a round-robin balancer.
    let balancer = (!gateways.is_empty()).then(|| {
        Arc::new(Balancer::new(
            gateways.iter().map(|gateway| gateway.graphql_url.clone()),
        ))
    });
    // The run's tasks live in join sets, and the subscribers also hold this guard's token: an
    // error on the way drops them all, which stops them.
    let stop_subscribers = CancellationToken::new().drop_guard();
    let mut subscribers = JoinSet::new();
    let mut workers = JoinSet::new();
    let members_by_name: Arc<HashMap<String, i64>> = Arc::new(
        directory
            .members
            .iter()
            .map(|(id, name)| (name.clone(), *id))
            .collect(),
    );
    for (index, watch) in watches.iter().enumerate() {
        let frontend = match &balancer {
            Some(balancer) => Frontend::Gateway(GatewayFrontend {
                http: setup.http.clone(),
                balancer: Arc::clone(balancer),
                member: watch.member,
                inbox: watch.inbox,
                members_by_name: Arc::clone(&members_by_name),
            }),
            None => Frontend::Direct(DirectFrontend(rest(watch.member, watch.inbox))),
        };
        let changed = match &balancer {
            Some(balancer) if setup.subscribe => {
                let changed = Arc::new(Notify::new());
                subscribers.spawn(subscribe(
                    balancer.next().to_owned(),
                    *watch,
                    Arc::clone(&changed),
                    stop_subscribers.token().clone(),
                ));
                Some(changed)
            }
            _ => None,
        };
        let colleagues = (0..watches.len())
            .filter(|&other| other != index && watches[other].inbox == watch.inbox)
            .map(|other| (other, watches[other].member))
            .collect();
        workers.spawn(agent::work(
            Agent { index, colleagues },
            frontend,
            Arc::clone(&tracker),
            pace,
            changed,
            ChaCha8Rng::seed_from_u64(index as u64),
        ));
    }
    let mut customers = JoinSet::new();
    customers.spawn(customers::write_in(
        setup.http.clone(),
        sandbox.url.clone(),
        directory
            .sms_inboxes
            .iter()
            .map(|&(inbox, _)| inbox)
            .collect(),
        setup.inbound_every,
        until,
        Arc::clone(&tracker),
        ChaCha8Rng::seed_from_u64(u64::MAX),
    ));

    tokio::time::sleep_until(counted_from).await;
    control
        .reset_stats()
        .await
        .context("cannot reset the sandbox's counters")?;
    let counting = std::time::Instant::now();
    tokio::time::sleep_until(until).await;
    let calls = control
        .stats()
        .await
        .context("cannot read the sandbox's counters")?;
    let seconds = counting.elapsed().as_secs_f64();

    let joined = async {
        let mut tally = Tally::default();
        while let Some(agent) = workers.join_next().await {
            tally.merge(agent.context("an agent failed")?);
        }
        let customers = match customers.join_next().await {
            Some(customers) => customers.context("the customers failed")?,
            None => Customers::default(),
        };
        stop_subscribers.token().cancel();
        let mut received: Option<Received> = None;
        while let Some(subscriber) = subscribers.join_next().await {
            let one = subscriber.context("a subscriber failed")??;
            received.get_or_insert_with(Received::default).merge(&one);
        }
        anyhow::Ok((tally, customers, received))
    };
    let (tally, customers, received) = tokio::time::timeout_at(stop + STOP_GRACE, joined)
        .await
        .context("the agents did not stop")??;
    let mut rss_kib = None;
    for gateway in gateways.iter_mut() {
        gateway
            .ensure_running()
            .await
            .context("a gateway stopped during the run")?;
        rss_kib = Some(rss_kib.unwrap_or(0) + gateway.rss_kib().unwrap_or(0));
    }
    Ok(Run {
        side,
        agents,
        replicas: gateways.len(),
        seconds,
        calls,
        tally,
        staleness: tracker.staleness(),
        customers,
        received,
        rss_kib,
        load_average,
    })
}
