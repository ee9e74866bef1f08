//! Staleness, measured by the harness: when each upstream change was made (a customer's
//! message, another agent's reply or assignment), and when each agent that should see it first
//! had an answer showing it.
//!
//! A message moves its conversation's `updated` to the message's instant, so a dashboard row
//! shows the message once its `updated` has reached that instant (a later message shows it
//! too). Every agent watching the conversation's inbox should see it, but its author. An
//! assignment shows once the assignee's mine list holds the conversation. What an answer shows
//! is kept, so a change registered after an answer that already showed it (the write's own
//! answer can come after another agent's refresh) is matched too. A conversation closed before
//! an agent saw its change leaves every list: that agent's wait is left out.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// What changed upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    /// A customer's message, through the sandbox.
    Inbound,
    /// An agent's reply.
    Reply,
    /// An agent's assignment of a conversation to another agent.
    Assignment,
}

/// Who watches what: each agent's member and the inbox its dashboard lists, by agent index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch {
    pub(crate) member: i64,
    pub(crate) inbox: i64,
}

/// A change registered for an assignment still on its way, to drop if it fails.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending(usize);

/// The changes of one run and what the agents saw of them.
#[derive(Debug)]
pub(crate) struct Tracker {
    watches: Vec<Watch>,
    /// Changes made outside this window (the warm-up, and the run's last moments, when there
    /// is no time left to see them) are not tracked.
    window: Range<Instant>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    changes: Vec<Change>,
    /// Changes by conversation.
    conversations: HashMap<i64, Vec<usize>>,
    /// Assignment changes by assignee member and conversation.
    assignments: HashMap<(i64, i64), Vec<usize>>,
    /// Per agent and conversation, each newer `updated` its dashboards showed, and when first.
    shown: HashMap<(usize, i64), Vec<Shown>>,
}

/// A conversation's `updated` as an agent's dashboard showed it, and when it first did.
type Shown = (DateTime<Utc>, Instant);

#[derive(Debug)]
struct Change {
    kind: ChangeKind,
    made: Instant,
    /// A message's instant: rows whose `updated` reached it show it.
    updated: Option<DateTime<Utc>>,
    /// Each agent that should see it, and whether it did.
    watchers: Vec<(usize, Sighting)>,
    /// An assignment that failed.
    void: bool,
}

/// Whether a watching agent has seen a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sighting {
    Pending,
    /// When an answer first showed it.
    Seen(Instant),
    /// Its conversation was closed first, so no list can show it any more.
    Closed,
}

/// How stale the agents' answers were: one value a change (`first`: the first agent to see
/// it) and one a change and watching agent (`each`); `None` where it was never seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct Staleness {
    pub(crate) first: Vec<Option<Duration>>,
    pub(crate) each: Vec<Option<Duration>>,
    /// Changes tracked, by kind: inbound, reply, assignment.
    pub(crate) counts: [usize; 3],
    /// Waits left out: the agent had not seen the change when its conversation was closed.
    pub(crate) closed: usize,
}

/// A quantile of staleness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Quantile {
    Seen(Duration),
    /// The quantile falls among the changes never seen.
    Unseen,
    /// Nothing was tracked.
    None,
}

impl Tracker {
    pub(crate) fn new(watches: Vec<Watch>, window: Range<Instant>) -> Self {
        Self {
            watches,
            window,
            state: Mutex::new(State::default()),
        }
    }

    /// A message made at `made`, moving `conversation` (of `inbox`) to `updated`; `author` is
    /// the agent that wrote it, if any.
    pub(crate) fn message(
        &self,
        kind: ChangeKind,
        conversation: i64,
        inbox: i64,
        author: Option<usize>,
        updated: DateTime<Utc>,
        made: Instant,
    ) {
        if !self.window.contains(&made) {
            return;
        }
        let mut state = self.lock();
        let watchers = (0..self.watches.len())
            .filter(|&agent| self.watches[agent].inbox == inbox && Some(agent) != author)
            .map(|agent| {
                let seen = state.shown.get(&(agent, conversation)).and_then(|shown| {
                    shown
                        .iter()
                        .find(|(at_least, _)| *at_least >= updated)
                        .map(|&(_, at)| Sighting::Seen(at))
                });
                (agent, seen.unwrap_or(Sighting::Pending))
            })
            .collect();
        let index = state.changes.len();
        state.changes.push(Change {
            kind,
            made,
            updated: Some(updated),
            watchers,
            void: false,
        });
        state
            .conversations
            .entry(conversation)
            .or_default()
            .push(index);
    }

    /// `conversation`, about to be assigned to agent `assignee` (from `made`); `None` outside
    /// the window.
    pub(crate) fn assignment(
        &self,
        conversation: i64,
        assignee: usize,
        made: Instant,
    ) -> Option<Pending> {
        if !self.window.contains(&made) {
            return None;
        }
        let member = self.watches[assignee].member;
        let mut state = self.lock();
        let index = state.changes.len();
        state.changes.push(Change {
            kind: ChangeKind::Assignment,
            made,
            updated: None,
            watchers: vec![(assignee, Sighting::Pending)],
            void: false,
        });
        state
            .assignments
            .entry((member, conversation))
            .or_default()
            .push(index);
        state
            .conversations
            .entry(conversation)
            .or_default()
            .push(index);
        Some(Pending(index))
    }

    /// `conversation` was closed: what its changes' watchers have not seen yet, they never
    /// will.
    pub(crate) fn closed(&self, conversation: i64) {
        let mut state = self.lock();
        let State {
            changes,
            conversations,
            ..
        } = &mut *state;
        for &index in conversations.get(&conversation).into_iter().flatten() {
            for (_, sighting) in &mut changes[index].watchers {
                if *sighting == Sighting::Pending {
                    *sighting = Sighting::Closed;
                }
            }
        }
    }

    /// The assignment did not happen.
    pub(crate) fn failed(&self, pending: Pending) {
        if let Some(change) = self.lock().changes.get_mut(pending.0) {
            change.void = true;
        }
    }

    /// Agent `agent`'s dashboard answered at `at` with these rows: `(conversation, updated)`.
    pub(crate) fn dashboard(&self, agent: usize, rows: &[(i64, DateTime<Utc>)], at: Instant) {
        let mut state = self.lock();
        let State {
            changes,
            conversations,
            shown,
            ..
        } = &mut *state;
        for &(conversation, updated) in rows {
            let history = shown.entry((agent, conversation)).or_default();
            if history.last().is_none_or(|&(last, _)| updated > last) {
                history.push((updated, at));
            }
            for &index in conversations.get(&conversation).into_iter().flatten() {
                let change = &mut changes[index];
                if change.updated.is_some_and(|made| made <= updated) {
                    see(change, agent, at);
                }
            }
        }
    }

    /// Agent `agent`'s mine list answered at `at` with these conversations.
    pub(crate) fn mine(&self, agent: usize, conversations: &[i64], at: Instant) {
        let member = self.watches[agent].member;
        let mut state = self.lock();
        let State {
            changes,
            assignments,
            ..
        } = &mut *state;
        for &conversation in conversations {
            for &index in assignments
                .get(&(member, conversation))
                .into_iter()
                .flatten()
            {
                see(&mut changes[index], agent, at);
            }
        }
    }

    /// What the agents saw of the changes.
    pub(crate) fn staleness(&self) -> Staleness {
        let state = self.lock();
        let mut staleness = Staleness::default();
        for change in state.changes.iter().filter(|change| !change.void) {
            staleness.counts[match change.kind {
                ChangeKind::Inbound => 0,
                ChangeKind::Reply => 1,
                ChangeKind::Assignment => 2,
            }] += 1;
            let mut waits: Vec<Option<Duration>> = Vec::new();
            for &(_, sighting) in &change.watchers {
                match sighting {
                    Sighting::Pending => waits.push(None),
                    Sighting::Seen(at) => {
                        waits.push(Some(at.saturating_duration_since(change.made)))
                    }
                    Sighting::Closed => staleness.closed += 1,
                }
            }
            if waits.is_empty() {
                continue;
            }
            staleness.first.push(waits.iter().flatten().min().copied());
            staleness.each.extend(waits);
        }
        staleness
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn see(change: &mut Change, agent: usize, at: Instant) {
    for (watcher, sighting) in &mut change.watchers {
        if *watcher == agent && *sighting == Sighting::Pending {
            *sighting = Sighting::Seen(at);
        }
    }
}

impl Staleness {
    /// The nearest-rank `quantile` (0..=1) of `values`, counting the never seen as the
    /// stalest.
    pub(crate) fn quantile(values: &[Option<Duration>], quantile: f64) -> Quantile {
        if values.is_empty() {
            return Quantile::None;
        }
        let mut seen: Vec<Duration> = values.iter().flatten().copied().collect();
        seen.sort_unstable();
        let rank = ((quantile * values.len() as f64).ceil() as usize).max(1);
        seen.get(rank - 1)
            .map_or(Quantile::Unseen, |&wait| Quantile::Seen(wait))
    }

    /// How many of `values` were never seen.
    pub(crate) fn unseen(values: &[Option<Duration>]) -> usize {
        values.iter().filter(|value| value.is_none()).count()
    }
}
