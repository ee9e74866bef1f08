//! List pages carried across changes: a page cached before a change is read again when the
//! change cannot have touched the rows it is read for.
//!
//! A change of a conversation touches the lists of its inboxes in two places: its row leaves
//! where it was and lands at its new `updated`, no older than the one the change's payload or
//! read-back shows (an `updated` does not go back). Every other row keeps its place and
//! content. So a page cached before the change still answers for its rows from its oldest one
//! up to some row when the changed conversation is not on the page (its row did not leave
//! those rows) and the `updated` shown is newer than that row (it did not land among them).
//!
//! - Each change placed in an inbox is logged with its conversation and the `updated` its
//!   payload or read-back showed; one without them (a replica's hint, a failed read) touches
//!   everything. A change that cannot be placed moves the tenant's everywhere generation,
//!   which no carried page outlives (see `generations`).
//! - A page answers at a later generation when every change logged in its inboxes since its
//!   own generation passes that test, and the log holds every such change.
//! - A walk whose cursors shifted (a conversation that moved to the top pushes every row down
//!   by one) asks for a bound no cached page has. The page with the nearest bound above it
//!   serves, for its rows older than the last row the walk handed out, which are the rows the
//!   walk keeps; the next bound is then one the old walk asked for.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::sync::Cache;

use crate::upstream::TenantKey;
use crate::upstream::models::Conversation;
use crate::upstream::requests::ConversationListRequest;

/// Changes kept per inbox: a page older than the oldest of them is not carried. (At 20
/// changes a minute in an inbox, six minutes: longer than an event-driven page lives.)
const CHANGES_PER_INBOX: usize = 128;

/// Cached bounds remembered per list: a walk reads at most `--max-list-pages` of them.
const BOUNDS_PER_LIST: usize = 64;

/// Generations remembered per bound of a list, newest first: a page cached since the last
/// change is no use to a walk that shifted by that change, but the page before it is.
const GENERATIONS_PER_BOUND: usize = 3;

/// Where a change left a conversation's row, as far as the gateway knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowMove {
    /// Conversation `id`'s row, in whichever list holds it now, is at `updated` or newer.
    AtOrAfter { id: i64, updated: DateTime<Utc> },
    /// Not known: the change may have touched any row.
    Unknown,
}

impl RowMove {
    /// The move to `conversation`'s state as a payload or a read showed it.
    pub fn to(conversation: &Conversation) -> Self {
        match conversation.updated {
            Some(updated) => Self::AtOrAfter {
                id: conversation.id,
                updated,
            },
            None => Self::Unknown,
        }
    }
}

/// The rows of a cached page a read relies on: from its oldest row up to `newest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relied {
    /// Every row strictly before this bound (`None`: the whole page, newest included).
    Before(Option<DateTime<Utc>>),
    /// Every row up to this instant, inclusive.
    Through(DateTime<Utc>),
}

impl Relied {
    /// Whether a row landing at `updated` or newer stays above the rows relied on.
    fn above(self, updated: DateTime<Utc>) -> bool {
        match self {
            Self::Before(Some(bound)) => updated >= bound,
            Self::Before(None) => false,
            Self::Through(instant) => updated > instant,
        }
    }
}

/// The changes placed in one inbox since `complete_since`, oldest first.
struct InboxLog {
    /// Every change of a generation above this one is in `changes`.
    complete_since: u64,
    changes: VecDeque<(u64, RowMove)>,
}

/// `request`'s list: the request without its bound.
fn unbounded(request: &ConversationListRequest) -> ConversationListRequest {
    ConversationListRequest {
        updated_before: None,
        ..request.clone()
    }
}

/// The change logs and the bounds of cached pages (see the module's notes).
pub(super) struct Carried {
    logs: Cache<(TenantKey, i64), Arc<Mutex<InboxLog>>>,
    /// Per list (its request without a bound), the bounds of its cached pages, each with the
    /// generations it was last cached at, newest first.
    bounds: Cache<(TenantKey, ConversationListRequest), Arc<Mutex<Bounds>>>,
}

/// The bounds of one list's cached pages, each with the generations it was cached at.
type Bounds = BTreeMap<Bound, Vec<u64>>;

/// A page's bound, oldest first; `Newest` (no bound: the first page) comes last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bound {
    Before(DateTime<Utc>),
    Newest,
}

impl Bound {
    fn of(before: Option<DateTime<Utc>>) -> Self {
        before.map_or(Self::Newest, Self::Before)
    }

    fn before(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Before(at) => Some(at),
            Self::Newest => None,
        }
    }
}

impl Carried {
    /// Up to `capacity` changes and bounds (counted as if every log and list were full), kept
    /// for `lifetime` (longer than any page lives).
    pub(super) fn new(capacity: u64, lifetime: Duration) -> Self {
        let entries = |per_entry: usize| (capacity / per_entry as u64).max(16);
        Self {
            logs: Cache::builder()
                .max_capacity(entries(CHANGES_PER_INBOX))
                .time_to_live(lifetime)
                .build(),
            bounds: Cache::builder()
                .max_capacity(entries(BOUNDS_PER_LIST * GENERATIONS_PER_BOUND))
                .time_to_live(lifetime)
                .build(),
        }
    }

    /// A change moved `inbox`'s generation from `before` (`None`: not known) to `generation`.
    pub(super) fn log(
        &self,
        tenant: TenantKey,
        inbox: i64,
        before: Option<u64>,
        generation: u64,
        moved: RowMove,
    ) {
        let log = self.logs.get_with((tenant, inbox), || {
            Arc::new(Mutex::new(InboxLog {
                // No change moved the inbox's generation between `before` and this one.
                complete_since: before.unwrap_or(generation),
                changes: VecDeque::new(),
            }))
        });
        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
        log.changes.push_back((generation, moved));
        if log.changes.len() > CHANGES_PER_INBOX
            && let Some((dropped, _)) = log.changes.pop_front()
        {
            log.complete_since = log.complete_since.max(dropped);
        }
    }

    /// Whether a page of `inboxes` cached at `generation` still answers for the rows `relied`
    /// on: every change logged in its inboxes since touched none of them (each inbox having
    /// changed since: see `Generations::still_answers`). `on_page` tells whether a
    /// conversation is on the page.
    pub(super) fn still_answers(
        &self,
        tenant: TenantKey,
        inboxes: &[i64],
        generation: u64,
        relied: Relied,
        on_page: impl Fn(i64) -> bool,
    ) -> bool {
        inboxes.iter().all(|&inbox| {
            let Some(log) = self.logs.get(&(tenant, inbox)) else {
                // Forgotten: whatever changed since is not known.
                return false;
            };
            let log = log.lock().unwrap_or_else(PoisonError::into_inner);
            log.complete_since <= generation
                && log
                    .changes
                    .iter()
                    .filter(|(changed, _)| *changed > generation)
                    .all(|(_, moved)| match *moved {
                        RowMove::AtOrAfter { id, updated } => !on_page(id) && relied.above(updated),
                        RowMove::Unknown => false,
                    })
        })
    }

    /// The page of `request` was cached at `generation`.
    pub(super) fn cached(
        &self,
        tenant: TenantKey,
        request: &ConversationListRequest,
        generation: u64,
    ) {
        let before = request.updated_before;
        let bounds = self.bounds.get_with((tenant, unbounded(request)), || {
            Arc::new(Mutex::new(BTreeMap::new()))
        });
        let mut bounds = bounds.lock().unwrap_or_else(PoisonError::into_inner);
        let generations = bounds.entry(Bound::of(before)).or_default();
        if !generations.contains(&generation) {
            generations.push(generation);
            generations.sort_unstable_by(|a, b| b.cmp(a));
            generations.truncate(GENERATIONS_PER_BOUND);
        }
        if bounds.len() > BOUNDS_PER_LIST
            && let Some(stalest) = bounds
                .iter()
                .min_by_key(|(_, generations)| generations.first().copied())
                .map(|(bound, _)| *bound)
        {
            bounds.remove(&stalest);
        }
    }

    /// The cached pages of `request`'s list at or above the bound `before`, as bounds and
    /// generations: the nearest bound first, and of one bound the newest generation first; at
    /// most `limit`.
    pub(super) fn bounds_from(
        &self,
        tenant: TenantKey,
        request: &ConversationListRequest,
        before: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Vec<(Option<DateTime<Utc>>, u64)> {
        let Some(bounds) = self.bounds.get(&(tenant, unbounded(request))) else {
            return Vec::new();
        };
        let bounds = bounds.lock().unwrap_or_else(PoisonError::into_inner);
        bounds
            .range(Bound::of(before)..)
            .flat_map(|(bound, generations)| {
                generations
                    .iter()
                    .map(|generation| (bound.before(), *generation))
            })
            .take(limit)
            .collect()
    }

    /// Nothing logged or cached counts any more.
    pub(super) fn forget_all(&self) {
        self.logs.invalidate_all();
        self.bounds.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + second, 0).expect("an instant")
    }

    fn carried() -> (Carried, TenantKey) {
        let carried = Carried::new(100, Duration::from_secs(60));
        (carried, TenantKey::named("a tenant"))
    }

    #[test]
    fn a_page_answers_for_the_rows_no_change_touched() {
        let (carried, tenant) = carried();
        let moved = RowMove::AtOrAfter {
            id: 7,
            updated: at(10),
        };
        carried.log(tenant, 1, Some(1), 2, moved);
        let answers = |relied, on_page: &[i64]| {
            carried.still_answers(tenant, &[1], 1, relied, |id| on_page.contains(&id))
        };

        // The conversation landed above the rows relied on, and was not among them.
        assert!(answers(Relied::Before(Some(at(10))), &[]));
        assert!(answers(Relied::Through(at(9)), &[]));
        // It may have landed among them, or left them.
        assert!(!answers(Relied::Before(Some(at(11))), &[]));
        assert!(!answers(Relied::Through(at(10)), &[]));
        assert!(!answers(Relied::Before(None), &[]));
        assert!(!answers(Relied::Before(Some(at(10))), &[7]));
        // A page cached after the change is not checked against it.
        assert!(carried.still_answers(tenant, &[1], 2, Relied::Before(None), |_| true));

        carried.log(tenant, 1, Some(2), 3, RowMove::Unknown);
        assert!(!answers(Relied::Before(Some(at(10))), &[]));
    }

    #[test]
    fn a_page_older_than_its_inbox_log_is_not_carried() {
        let (carried, tenant) = carried();
        let moved = |second| RowMove::AtOrAfter {
            id: 7,
            updated: at(second),
        };
        let answers = |generation| {
            carried.still_answers(
                tenant,
                &[1],
                generation,
                Relied::Before(Some(at(0))),
                |_| false,
            )
        };
        // Changes of the inbox before generation 5 were never logged.
        carried.log(tenant, 1, Some(5), 6, moved(1));
        assert!(answers(5));
        assert!(!answers(4));
        // Nor was an inbox whose log was never started.
        assert!(!carried.still_answers(tenant, &[2], 5, Relied::Before(Some(at(0))), |_| false));

        // The oldest changes make way for new ones, and the pages before them go too.
        for generation in 7..(7 + CHANGES_PER_INBOX as u64) {
            carried.log(tenant, 1, Some(generation - 1), generation, moved(1));
        }
        assert!(!answers(5));
        assert!(answers(6));
    }

    #[test]
    fn bounds_are_offered_nearest_first_and_newest_generation_first() {
        let (carried, tenant) = carried();
        let request = |before: Option<i64>| ConversationListRequest {
            member_id: 0,
            inbox_ids: vec![1],
            closed: Some(false),
            unread: None,
            assigned: None,
            updated_before: before.map(at),
        };
        for (before, generation) in [(None, 1), (Some(20), 1), (Some(10), 1), (None, 2)] {
            carried.cached(tenant, &request(before), generation);
        }
        assert_eq!(
            carried.bounds_from(tenant, &request(Some(15)), Some(at(15)), 10),
            vec![(Some(at(20)), 1), (None, 2), (None, 1)]
        );
        assert_eq!(
            carried.bounds_from(tenant, &request(None), None, 1),
            vec![(None, 2)]
        );
    }
}
