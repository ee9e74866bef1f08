//! One agent at work: its dashboard and mine list kept open (refreshed at a fixed interval,
//! and, when it subscribes, whenever its inbox changes), and now and then a conversation opened
//! from the dashboard, which it may answer, assign to a colleague of the inbox, or close.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;
use tokio::time::{Instant, MissedTickBehavior};

use crate::changes::{ChangeKind, Tracker};
use crate::frontend::{Failure, Frontend, Row};

/// What an agent does after opening a conversation, by chance: reply, assign, close; else it
/// only reads.
const REPLY_CHANCE: f64 = 0.5;
const ASSIGN_CHANCE: f64 = 0.15;
const CLOSE_CHANCE: f64 = 0.15;

/// The agent's place in the team.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    /// Its index among the run's agents.
    pub(crate) index: usize,
    /// The other agents watching the same inbox, by index and member, to assign to.
    pub(crate) colleagues: Vec<(usize, i64)>,
}

/// The pace every agent keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    /// How often the screens are refreshed.
    pub(crate) refresh: Duration,
    /// Mean time between two conversations opened.
    pub(crate) open_every: Duration,
    pub(crate) start: Instant,
    /// The end of the warm-up: what the agents did before is not counted.
    pub(crate) counted_from: Instant,
    /// The end of the measured time: what the agents do after is not counted.
    pub(crate) until: Instant,
    /// When the agents stop: they go on after the measured time, so that the changes made
    /// near its end can still be seen.
    pub(crate) stop: Instant,
}

/// What one or more agents did.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    /// Requests answered: screens, conversations opened, writes.
    pub(crate) requests: u64,
    /// Requests that failed.
    pub(crate) failed: u64,
    /// Errors by request and label, e.g. `reply: RECIPIENT_OPTED_OUT`.
    pub(crate) errors: BTreeMap<String, u64>,
    /// How long each refresh of both screens took.
    pub(crate) refreshes: Vec<Duration>,
    /// Conversations opened, replies, assignments, closes that succeeded.
    pub(crate) opened: u64,
    pub(crate) replied: u64,
    pub(crate) assigned: u64,
    pub(crate) closed: u64,
}

impl Tally {
    pub(crate) fn merge(&mut self, other: Self) {
        self.requests += other.requests;
        self.failed += other.failed;
        for (label, count) in other.errors {
            *self.errors.entry(label).or_default() += count;
        }
        self.refreshes.extend(other.refreshes);
        self.opened += other.opened;
        self.replied += other.replied;
        self.assigned += other.assigned;
        self.closed += other.closed;
    }

    /// Counts the outcome of one `request`; whether it succeeded.
    fn record<T>(&mut self, request: &str, outcome: &Result<T, Failure>) -> bool {
        self.requests += 1;
        match outcome {
            Ok(_) => true,
            Err(Failure(labels)) => {
                self.failed += 1;
                for label in labels {
                    *self
                        .errors
                        .entry(format!("{request}: {label}"))
                        .or_default() += 1;
                }
                false
            }
        }
    }
}

/// Works as `agent` through `frontend` until `pace.stop`, and answers what it did in the
/// measured time; `changed` fires when its subscription reports a change. `rng` draws its
/// timing and its actions.
pub(crate) async fn work(
    agent: Agent,
    frontend: Frontend,
    tracker: Arc<Tracker>,
    pace: Pace,
    changed: Option<Arc<Notify>>,
    rng: ChaCha8Rng,
) -> Tally {
    let mut worker = Worker {
        agent,
        frontend,
        tracker,
        rng,
        tally: Tally::default(),
        counted: None,
        rows: Vec::new(),
    };
    // Whatever is in flight at the end is dropped: the run is over.
    let _: Result<(), _> = tokio::time::timeout_at(pace.stop, worker.run(pace, changed)).await;
    worker.counted.unwrap_or(worker.tally)
}

/// An agent and what it has seen.
struct Worker {
    agent: Agent,
    frontend: Frontend,
    tracker: Arc<Tracker>,
    rng: ChaCha8Rng,
    tally: Tally,
    /// What it did in the measured time, once that is over.
    counted: Option<Tally>,
    /// The dashboard's rows as last answered.
    rows: Vec<Row>,
}

impl Worker {
    /// Works until dropped; only what it began in the measured time is counted.
    async fn run(&mut self, pace: Pace, changed: Option<Arc<Notify>>) {
        let first = pace.start + pace.refresh.mul_f64(self.rng.random());
        let mut refresh = tokio::time::interval_at(first, pace.refresh);
        refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut next_open = pace.start + wait(&mut self.rng, pace.open_every);
        let mut warming_up = true;
        loop {
            let opens = tokio::select! {
                _ = refresh.tick() => false,
                () = changes(changed.clone()) => false,
                () = tokio::time::sleep_until(next_open) => true,
            };
            let now = Instant::now();
            if warming_up && now >= pace.counted_from {
                warming_up = false;
                self.tally = Tally::default();
            }
            if self.counted.is_none() && now >= pace.until {
                self.counted = Some(std::mem::take(&mut self.tally));
            }
            if opens {
                self.open().await;
                next_open = Instant::now() + wait(&mut self.rng, pace.open_every);
            } else {
                self.screens().await;
            }
        }
    }

    /// Both screens at once, as a frontend refreshes them.
    async fn screens(&mut self) {
        let started = Instant::now();
        let (dashboard, mine) = futures::join!(self.frontend.dashboard(), self.frontend.mine());
        let answered = std::time::Instant::now();
        self.tally.refreshes.push(started.elapsed());
        if self.tally.record("mine", &mine)
            && let Ok(mine) = &mine
        {
            self.tracker.mine(self.agent.index, mine, answered);
        }
        if self.tally.record("dashboard", &dashboard)
            && let Ok(rows) = dashboard
        {
            let shown: Vec<(i64, DateTime<Utc>)> =
                rows.iter().map(|row| (row.id, row.updated)).collect();
            self.tracker.dashboard(self.agent.index, &shown, answered);
            self.rows = rows;
        }
    }

    /// Opens one of the dashboard's conversations and, by chance, answers, assigns or closes
    /// it.
    async fn open(&mut self) {
        let Some(row) = self.rows.choose(&mut self.rng).cloned() else {
            return;
        };
        if !self
            .tally
            .record("detail", &self.frontend.detail(row.id).await)
        {
            return;
        }
        self.tally.opened += 1;
        let roll: f64 = self.rng.random();
        if roll < REPLY_CHANCE {
            self.reply(row).await;
        } else if roll < REPLY_CHANCE + ASSIGN_CHANCE {
            self.assign(row).await;
        } else if roll < REPLY_CHANCE + ASSIGN_CHANCE + CLOSE_CHANCE
            && self.tally.record("close", &self.frontend.close(&row).await)
        {
            self.tally.closed += 1;
            self.tracker.closed(row.id);
            self.rows.retain(|listed| listed.id != row.id);
        }
    }

    async fn reply(&mut self, row: Row) {
        let text = format!(
            "Agent {} here, reply {}",
            self.agent.index,
            self.tally.replied + 1
        );
        let made = std::time::Instant::now();
        let reply = self.frontend.reply(&row, &text).await;
        if self.tally.record("reply", &reply)
            && let Ok(updated) = reply
        {
            self.tally.replied += 1;
            let author = Some(self.agent.index);
            self.tracker
                .message(ChangeKind::Reply, row.id, row.inbox, author, updated, made);
        }
    }

    /// Assigns the conversation to another agent of the inbox (not its assignee already).
    async fn assign(&mut self, row: Row) {
        let candidates: Vec<(usize, i64)> = self
            .agent
            .colleagues
            .iter()
            .copied()
            .filter(|&(_, member)| row.assignee != Some(member))
            .collect();
        let Some(&(colleague, member)) = candidates.choose(&mut self.rng) else {
            return;
        };
        let pending = self
            .tracker
            .assignment(row.id, colleague, std::time::Instant::now());
        if self
            .tally
            .record("assign", &self.frontend.assign(&row, member).await)
        {
            self.tally.assigned += 1;
        } else if let Some(pending) = pending {
            self.tracker.failed(pending);
        }
    }
}

/// Resolves when `changed` fires; never without a subscription.
async fn changes(changed: Option<Arc<Notify>>) {
    match changed {
        Some(changed) => changed.notified_owned().await,
        None => std::future::pending().await,
    }
}

/// An exponentially distributed wait of mean `mean`, as between independent events.
fn wait(rng: &mut ChaCha8Rng, mean: Duration) -> Duration {
    let uniform: f64 = rng.random_range(f64::EPSILON..1.0);
    mean.mul_f64(-uniform.ln()).min(mean * 10)
}
