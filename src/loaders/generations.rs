//! The generations list pages are keyed by: a change moves on the generation of what it can
//! have changed, so no page cached before it is read again unless the change's log shows it
//! left the page's rows untouched (see `carried`), while pages of the tenant's other inboxes
//! stay.
//!
//! - Each inbox of a tenant has a generation, moved by every change placed in it (a transfer
//!   moves both inboxes).
//! - Each tenant has an *everywhere* generation, moved by a change that cannot be placed (an
//!   event whose payload names no inbox, a transfer known only by its event).
//! - A list of some inboxes is keyed by the largest of their generations and the everywhere
//!   generation. Every generation comes from one counter, so a change makes the changed one the
//!   largest yet: every list it can touch gets a key never used before, and no other list's key
//!   moves. A generation the cache forgot comes back as a new one, which costs a miss, never a
//!   stale page.
//! - Each tenant also has a generation moved by every change, placed or not, for what any
//!   change can touch (the team-wide listing of newest messages, a list naming no inbox).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use super::carried::{Carried, Relied, RowMove};
use crate::upstream::TenantKey;

/// Which lists a change can have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Those of these inboxes (never empty: see [`Reach::of`]).
    Inboxes(BTreeSet<i64>),
    /// Every list of the tenant.
    Everywhere,
}

impl Reach {
    /// The lists of `inboxes`, or every list when there are none: a change that cannot be
    /// placed may have changed any of them.
    pub fn of(inboxes: impl IntoIterator<Item = i64>) -> Self {
        let inboxes: BTreeSet<i64> = inboxes.into_iter().collect();
        match inboxes.is_empty() {
            true => Self::Everywhere,
            false => Self::Inboxes(inboxes),
        }
    }
}

/// Per tenant and inbox, the generations list pages are keyed by (see the module's notes).
pub(super) struct Generations {
    next: AtomicU64,
    /// Moved by every change of the tenant.
    any_change: Cache<TenantKey, u64>,
    /// Moved by every change that cannot be placed.
    everywhere: Cache<TenantKey, u64>,
    /// Moved by every change placed in the inbox.
    inboxes: Cache<(TenantKey, i64), u64>,
    /// What each change placed in an inbox touched, for pages carried across it.
    pub(super) carried: Carried,
}

impl Generations {
    /// Generations kept for `lifetime` (longer than any page keyed by them lives), up to
    /// `capacity` of each kind.
    pub(super) fn new(capacity: u64, lifetime: Duration) -> Self {
        Self {
            next: AtomicU64::new(1),
            any_change: bounded(capacity, lifetime),
            everywhere: bounded(capacity, lifetime),
            inboxes: bounded(capacity, lifetime),
            carried: Carried::new(capacity, lifetime),
        }
    }

    /// A generation never handed out before.
    pub(super) fn fresh(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The generation moved by every change of `tenant`.
    pub(super) fn of_tenant(&self, tenant: TenantKey) -> u64 {
        self.any_change.get_with(tenant, || self.fresh())
    }

    /// The generation of a list of `inboxes` of `tenant` (of every inbox, when none is named).
    pub(super) fn of_inboxes(&self, tenant: TenantKey, inboxes: &[i64]) -> u64 {
        if inboxes.is_empty() {
            return self.of_tenant(tenant);
        }
        inboxes
            .iter()
            .map(|&inbox| self.inboxes.get_with((tenant, inbox), || self.fresh()))
            .fold(self.everywhere.get_with(tenant, || self.fresh()), u64::max)
    }

    /// A change of `tenant` that can have changed the lists `reach` says, leaving a row as
    /// `moved` says.
    pub(super) fn changed(&self, tenant: TenantKey, reach: &Reach, moved: RowMove) {
        match reach {
            Reach::Inboxes(inboxes) => {
                for &inbox in inboxes {
                    let key = (tenant, inbox);
                    let before = self.inboxes.get(&key);
                    let generation = self.fresh();
                    // Logged first: a page is checked against the log once the generation
                    // has moved.
                    self.carried.log(tenant, inbox, before, generation, moved);
                    self.inboxes.insert(key, generation);
                }
            }
            Reach::Everywhere => self.everywhere.insert(tenant, self.fresh()),
        }
        self.any_change.insert(tenant, self.fresh());
    }

    /// Whether a page of a list of `inboxes` cached at `generation` still answers for the rows
    /// `relied` on (see `carried`): no change since reached everywhere, and each inbox changed
    /// since only where its log says the page is untouched.
    pub(super) fn still_answers(
        &self,
        tenant: TenantKey,
        inboxes: &[i64],
        generation: u64,
        relied: Relied,
        on_page: impl Fn(i64) -> bool,
    ) -> bool {
        if self
            .everywhere
            .get(&tenant)
            .is_none_or(|everywhere| everywhere > generation)
        {
            return false;
        }
        let mut changed = Vec::new();
        for &inbox in inboxes {
            match self.inboxes.get(&(tenant, inbox)) {
                Some(current) if current <= generation => {}
                Some(_) => changed.push(inbox),
                None => return false,
            }
        }
        self.carried
            .still_answers(tenant, &changed, generation, relied, on_page)
    }

    /// Every generation moves on.
    pub(super) fn forget_all(&self) {
        self.any_change.invalidate_all();
        self.everywhere.invalidate_all();
        self.inboxes.invalidate_all();
        self.carried.forget_all();
    }
}

fn bounded<K>(capacity: u64, lifetime: Duration) -> Cache<K, u64>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(capacity)
        .time_to_live(lifetime)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generations() -> Generations {
        Generations::new(100, Duration::from_secs(60))
    }

    #[test]
    fn a_change_in_one_inbox_moves_the_lists_that_hold_it_and_no_other() {
        let generations = generations();
        let (tenant, other) = (TenantKey::named("a"), TenantKey::named("b"));
        let (a, b, both) = (
            generations.of_inboxes(tenant, &[1]),
            generations.of_inboxes(tenant, &[2]),
            generations.of_inboxes(tenant, &[1, 2]),
        );
        let other_tenant = generations.of_inboxes(other, &[1]);
        let any = generations.of_tenant(tenant);

        generations.changed(tenant, &Reach::of([1]), RowMove::Unknown);

        assert_ne!(generations.of_inboxes(tenant, &[1]), a);
        assert_eq!(generations.of_inboxes(tenant, &[2]), b);
        assert_ne!(generations.of_inboxes(tenant, &[1, 2]), both);
        assert_ne!(generations.of_inboxes(tenant, &[]), any);
        assert_ne!(generations.of_tenant(tenant), any);
        assert_eq!(generations.of_inboxes(other, &[1]), other_tenant);
    }

    #[test]
    fn a_change_nowhere_in_particular_moves_every_list_of_its_tenant() {
        let generations = generations();
        let (tenant, other) = (TenantKey::named("a"), TenantKey::named("b"));
        let (a, b) = (
            generations.of_inboxes(tenant, &[1]),
            generations.of_inboxes(tenant, &[2, 3]),
        );
        let other_tenant = generations.of_inboxes(other, &[1]);

        generations.changed(tenant, &Reach::of([]), RowMove::Unknown);

        assert_ne!(generations.of_inboxes(tenant, &[1]), a);
        assert_ne!(generations.of_inboxes(tenant, &[2, 3]), b);
        assert_eq!(generations.of_inboxes(other, &[1]), other_tenant);
    }

    #[test]
    fn a_list_never_gets_back_a_generation_it_had() {
        let generations = generations();
        let tenant = TenantKey::named("a");
        let mut seen = BTreeSet::new();
        assert!(seen.insert(generations.of_inboxes(tenant, &[1, 2])));
        for reach in [
            Reach::of([2]),
            Reach::of([]),
            Reach::of([1, 3]),
            Reach::of([2]),
        ] {
            generations.changed(tenant, &reach, RowMove::Unknown);
            assert!(
                seen.insert(generations.of_inboxes(tenant, &[1, 2])),
                "{reach:?}"
            );
        }
        generations.forget_all();
        assert!(seen.insert(generations.of_inboxes(tenant, &[1, 2])));
    }
}
