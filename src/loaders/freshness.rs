//! How long cached conversation data may be served: per team, until an event or a write says
//! otherwise while the team's webhooks are heard, and for the short TTL when they are not.
//!
//! A team is **event-driven** while an event of it has reached this replica within the silence
//! window (`--cache-event-silence`) and the event bus carries every replica's events. Its
//! conversation entries then live for the long safety TTL (`--cache-ttl-with-events`): the
//! events forget what changed, and the safety TTL bounds what no event reports (a conversation
//! read in another client, say). Otherwise the team **polls**: entries live for
//! `--cache-ttl-conversations`, as they do for a team without webhooks.
//!
//! Two things keep a long-lived entry from outliving the truth:
//! - **A fill that raced an event.** An entry read from the upstream before an event and cached
//!   after it may hold what the event changed. Caches keyed by the tenant's list generation are
//!   immune (the event moves the generation on), and so are last messages keyed by an `updated`
//!   with a fraction of a second (a new message moves it on); the others take the short TTL
//!   when their team heard an event within the longest a fill can take (the request deadline).
//! - **A stream that stops.** [`Freshness::sweep`] runs every second: a team whose events fell
//!   silent, or every team while the bus cannot reach the other replicas, goes back to polling,
//!   and its long-lived entries are forgotten at once. Lost events (a lagging receiver) forget
//!   everything ([`Freshness::events_lost`]).
//!
//! Time is tokio's, so the modes can be tested with paused time; moka keeps its own clock for
//! the entries themselves.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use moka::Expiry;
use serde::Serialize;
use tokio::time::Instant;

use super::CacheConfig;
use super::cache::{HistoryKey, LastMessageKey, ListKey};
use crate::upstream::TenantKey;

/// How a team's cached conversations are kept fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FreshnessMode {
    /// Webhook events are heard: entries live until an event or a write, or the safety TTL.
    Events,
    /// No events are heard (none configured, silent, or the bus is degraded): the short TTL.
    Ttl,
}

/// What one team's event stream has done.
#[derive(Debug, Clone, Copy)]
struct TeamStream {
    /// When the last event of the team was taken in.
    last_event: Instant,
    /// The mode the last sweep found, so a sweep can tell a team that just left event mode.
    swept: FreshnessMode,
}

/// The per-team modes, and the tenants (credentials) each team's data is cached under.
pub struct Freshness {
    short: Duration,
    long: Duration,
    silence: Duration,
    /// The longest a cache fill can run: an event applied less than this long ago may have
    /// raced a fill that is only now being cached.
    fill_deadline: Duration,
    teams: Mutex<HashMap<i64, TeamStream>>,
    /// Which team each tenant belongs to, so an event of a team reaches every tenant (every
    /// credential) of that team.
    tenant_teams: moka::sync::Cache<TenantKey, i64>,
    /// Whether the bus reaches every replica; while it does not, no team is event-driven.
    bus_whole: AtomicBool,
}

/// How long a tenant's team is remembered: longer than any cached data of the tenant, so every
/// tenant with cached data is reached by its team's events.
const TENANT_TEAM_MEMORY: Duration = Duration::from_secs(24 * 3600);

impl Freshness {
    pub fn new(config: &CacheConfig, fill_deadline: Duration) -> Self {
        Self {
            short: config.ttl_conversations,
            long: config.ttl_with_events.max(config.ttl_conversations),
            silence: config.event_silence,
            fill_deadline,
            teams: Mutex::new(HashMap::new()),
            tenant_teams: moka::sync::Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(TENANT_TEAM_MEMORY)
                .build(),
            bus_whole: AtomicBool::new(true),
        }
    }

    /// The longest any conversation entry may live, in either mode.
    pub fn longest_lifetime(&self) -> Duration {
        self.long
    }

    /// Remembers that `tenant` belongs to `team_id` (learnt from its `GET /v1/team`).
    pub fn register_team(&self, tenant: TenantKey, team_id: i64) {
        self.tenant_teams.insert(tenant, team_id);
    }

    /// The tenants known to belong to `team_id`.
    pub fn tenants_of(&self, team_id: i64) -> HashSet<TenantKey> {
        self.tenant_teams
            .iter()
            .filter(|(_, team)| *team == team_id)
            .map(|(tenant, _)| *tenant)
            .collect()
    }

    /// An event of `team_id` was taken in. Recorded before the caches forget what it names,
    /// so a fill that finishes in between is seen as racing it.
    pub fn heard(&self, team_id: i64) {
        // Counted as event-driven from now on, so the sweep that finds it silent again forgets
        // what it cached meanwhile, however soon that is.
        let stream = TeamStream {
            last_event: Instant::now(),
            swept: FreshnessMode::Events,
        };
        self.with_teams(|teams| teams.insert(team_id, stream));
    }

    /// Events were lost: no team's stream can be trusted until its next event.
    pub fn events_lost(&self) {
        self.with_teams(HashMap::clear);
    }

    /// Whether `tenant`'s team is event-driven now; `false` while its team is not known.
    pub fn event_driven(&self, tenant: &TenantKey) -> bool {
        self.event_driven_team(tenant).is_some()
    }

    /// `tenant`'s team, while it is event-driven.
    pub fn event_driven_team(&self, tenant: &TenantKey) -> Option<i64> {
        self.tenant_teams
            .get(tenant)
            .filter(|team| self.mode(*team) == FreshnessMode::Events)
    }

    /// The mode of `team_id` now.
    pub fn mode(&self, team_id: i64) -> FreshnessMode {
        let now = Instant::now();
        self.with_teams(|teams| self.mode_of(teams.get(&team_id), now))
    }

    /// Every team this replica has heard or serves, with its mode now, by team id.
    pub fn modes(&self) -> Vec<(i64, FreshnessMode)> {
        let now = Instant::now();
        let mut teams: Vec<i64> = self.tenant_teams.iter().map(|(_, team)| team).collect();
        self.with_teams(|streams| {
            teams.extend(streams.keys().copied());
            teams.sort_unstable();
            teams.dedup();
            teams
                .iter()
                .map(|team| (*team, self.mode_of(streams.get(team), now)))
                .collect()
        })
    }

    /// How often [`Freshness::sweep`] should run: often enough that a silent stream is noticed
    /// soon after its window closes.
    pub fn sweep_interval(&self) -> Duration {
        (self.silence / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
    }

    /// Takes the bus's state and the passing of time into account: returns the tenants of every
    /// team that left event mode since the last sweep, whose long-lived entries must go now.
    /// Teams silent for long are forgotten once swept.
    pub fn sweep(&self, bus_whole: bool) -> HashSet<TenantKey> {
        self.bus_whole.store(bus_whole, Ordering::Relaxed);
        let now = Instant::now();
        let left = self.with_teams(|teams| {
            let mut left = Vec::new();
            for (team, stream) in teams.iter_mut() {
                let mode = self.mode_of(Some(stream), now);
                if stream.swept == FreshnessMode::Events && mode == FreshnessMode::Ttl {
                    left.push(*team);
                }
                stream.swept = mode;
            }
            // A polling team needs no record: its next event starts a new one.
            teams.retain(|_, stream| stream.swept == FreshnessMode::Events);
            left
        });
        left.into_iter()
            .flat_map(|team| self.tenants_of(team))
            .collect()
    }

    /// How long an entry of `tenant` created now may live. `outlives_races`: the entry's key
    /// changes with what it holds (it holds the tenant's list generation, which every event
    /// moves on, or see [`OfTenant::changes_with_its_entry`]), so a fill that raced an event
    /// cannot have cached anything the event made stale.
    fn lifetime(&self, tenant: &TenantKey, outlives_races: bool) -> Duration {
        let Some(team) = self.tenant_teams.get(tenant) else {
            return self.short;
        };
        let now = Instant::now();
        self.with_teams(|teams| {
            let stream = teams.get(&team);
            if self.mode_of(stream, now) == FreshnessMode::Ttl {
                return self.short;
            }
            let raced = stream.is_some_and(|stream| {
                now.saturating_duration_since(stream.last_event) < self.fill_deadline
            });
            if raced && !outlives_races {
                self.short
            } else {
                self.long
            }
        })
    }

    fn mode_of(&self, stream: Option<&TeamStream>, now: Instant) -> FreshnessMode {
        let bus_whole = self.bus_whole.load(Ordering::Relaxed);
        match stream {
            Some(stream)
                if bus_whole && now.saturating_duration_since(stream.last_event) < self.silence =>
            {
                FreshnessMode::Events
            }
            _ => FreshnessMode::Ttl,
        }
    }

    fn with_teams<T>(&self, act: impl FnOnce(&mut HashMap<i64, TeamStream>) -> T) -> T {
        // The map holds instants only; one left half-updated by a panic is still sound.
        let mut teams = self.teams.lock().unwrap_or_else(PoisonError::into_inner);
        act(&mut teams)
    }
}

/// The keys of conversation caches name their tenant first.
pub(super) trait OfTenant {
    fn tenant(&self) -> &TenantKey;

    /// Whether nothing newer than what a fill found can be cached under this key, even when
    /// the fill raced an event: the key itself changes with what it holds.
    fn changes_with_its_entry(&self) -> bool {
        false
    }
}

impl OfTenant for (TenantKey, i64) {
    fn tenant(&self) -> &TenantKey {
        &self.0
    }
}

impl OfTenant for (TenantKey, u64) {
    fn tenant(&self) -> &TenantKey {
        &self.0
    }
}

impl OfTenant for ListKey {
    fn tenant(&self) -> &TenantKey {
        &self.0
    }
}

impl OfTenant for HistoryKey {
    fn tenant(&self) -> &TenantKey {
        &self.0
    }
}

impl OfTenant for LastMessageKey {
    fn tenant(&self) -> &TenantKey {
        &self.tenant
    }

    /// A last message is keyed by its conversation's `updated`, which every new message moves
    /// on. Where `updated` shows a fraction of a second, no newer message can share the key, and
    /// a fill made after the key was read finds its newest message (or a newer one, for a key
    /// no fresh row asks for). In whole seconds, a message of the same second may follow.
    fn changes_with_its_entry(&self) -> bool {
        self.updated % 1_000_000 != 0
    }
}

/// moka's per-entry expiry for a conversation cache: each entry lives as its team's mode says
/// when it is created or replaced.
#[derive(Clone)]
pub(super) struct FreshnessExpiry {
    pub(super) freshness: Arc<Freshness>,
    pub(super) keyed_by_generation: bool,
}

impl<K: OfTenant, V> Expiry<K, V> for FreshnessExpiry {
    fn expire_after_create(
        &self,
        key: &K,
        _value: &V,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(self.freshness.lifetime(
            key.tenant(),
            self.keyed_by_generation || key.changes_with_its_entry(),
        ))
    }

    /// A replaced entry holds a new read: it lives as a new one would.
    fn expire_after_update(
        &self,
        key: &K,
        value: &V,
        updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, value, updated_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_secs(10);
    const LONG: Duration = Duration::from_secs(300);
    const SILENCE: Duration = Duration::from_secs(120);
    const FILL_DEADLINE: Duration = Duration::from_secs(30);
    const TEAM: i64 = 101;

    fn freshness() -> (Freshness, TenantKey) {
        let config = CacheConfig {
            ttl_conversations: SHORT,
            ttl_with_events: LONG,
            event_silence: SILENCE,
            ..CacheConfig::default()
        };
        let freshness = Freshness::new(&config, FILL_DEADLINE);
        let tenant = TenantKey::named("team 101's credential");
        freshness.register_team(tenant, TEAM);
        (freshness, tenant)
    }

    /// The lifetimes of an entity entry and of a generation-keyed entry created now.
    fn lifetimes(freshness: &Freshness, tenant: &TenantKey) -> (Duration, Duration) {
        (
            freshness.lifetime(tenant, false),
            freshness.lifetime(tenant, true),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_team_never_heard_keeps_the_short_ttl() {
        let (freshness, tenant) = freshness();

        assert_eq!(freshness.mode(TEAM), FreshnessMode::Ttl);
        assert_eq!(lifetimes(&freshness, &tenant), (SHORT, SHORT));
        let stranger = TenantKey::named("a credential of no known team");
        assert_eq!(lifetimes(&freshness, &stranger), (SHORT, SHORT));
        assert_eq!(freshness.modes(), vec![(TEAM, FreshnessMode::Ttl)]);
        assert!(freshness.sweep(true).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_heard_team_keeps_entries_long_once_no_fill_can_have_raced_the_event() {
        let (freshness, tenant) = freshness();

        freshness.heard(TEAM);

        assert_eq!(freshness.mode(TEAM), FreshnessMode::Events);
        // A fill that started before the event may finish now: only generation-keyed entries,
        // which the event moved past, may live long.
        assert_eq!(lifetimes(&freshness, &tenant), (SHORT, LONG));
        tokio::time::advance(FILL_DEADLINE).await;
        assert_eq!(lifetimes(&freshness, &tenant), (LONG, LONG));
        assert_eq!(freshness.modes(), vec![(TEAM, FreshnessMode::Events)]);
        assert!(freshness.sweep(true).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_falls_back_and_the_sweep_names_its_tenants_once() {
        let (freshness, tenant) = freshness();
        freshness.heard(TEAM);
        assert!(freshness.sweep(true).is_empty());

        tokio::time::advance(SILENCE - Duration::from_millis(1)).await;
        assert_eq!(freshness.mode(TEAM), FreshnessMode::Events);
        assert!(freshness.sweep(true).is_empty());
        tokio::time::advance(Duration::from_millis(1)).await;

        assert_eq!(freshness.mode(TEAM), FreshnessMode::Ttl);
        assert_eq!(lifetimes(&freshness, &tenant), (SHORT, SHORT));
        assert_eq!(freshness.sweep(true), HashSet::from([tenant]));
        assert!(freshness.sweep(true).is_empty());

        // The next event makes the team event-driven again.
        freshness.heard(TEAM);
        assert_eq!(freshness.mode(TEAM), FreshnessMode::Events);
    }

    #[tokio::test(start_paused = true)]
    async fn a_team_heard_and_silent_between_two_sweeps_is_still_named() {
        let (freshness, tenant) = freshness();
        freshness.heard(TEAM);

        tokio::time::advance(SILENCE).await;

        assert_eq!(freshness.sweep(true), HashSet::from([tenant]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bus_that_cannot_reach_every_replica_makes_every_team_poll() {
        let (freshness, tenant) = freshness();
        freshness.heard(TEAM);
        tokio::time::advance(FILL_DEADLINE).await;

        assert_eq!(freshness.sweep(false), HashSet::from([tenant]));

        assert_eq!(freshness.mode(TEAM), FreshnessMode::Ttl);
        assert_eq!(lifetimes(&freshness, &tenant), (SHORT, SHORT));
        // Events still heard locally do not count until the bus is whole again.
        freshness.heard(TEAM);
        assert_eq!(freshness.mode(TEAM), FreshnessMode::Ttl);
        assert!(freshness.sweep(true).is_empty());
        assert_eq!(freshness.mode(TEAM), FreshnessMode::Events);
    }

    #[tokio::test(start_paused = true)]
    async fn lost_events_end_event_mode_at_once() {
        let (freshness, tenant) = freshness();
        freshness.heard(TEAM);
        tokio::time::advance(FILL_DEADLINE).await;

        freshness.events_lost();

        assert_eq!(freshness.mode(TEAM), FreshnessMode::Ttl);
        assert_eq!(lifetimes(&freshness, &tenant), (SHORT, SHORT));
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_silent_team_is_named() {
        let (freshness, tenant) = freshness();
        let other = TenantKey::named("team 102's credential");
        freshness.register_team(other, 102);
        freshness.heard(TEAM);
        tokio::time::advance(SILENCE / 2).await;
        freshness.heard(102);
        tokio::time::advance(SILENCE / 2).await;

        assert_eq!(freshness.sweep(true), HashSet::from([tenant]));
        assert_eq!(freshness.mode(102), FreshnessMode::Events);
        assert_eq!(lifetimes(&freshness, &other), (LONG, LONG));
    }
}
