//! The caches shared by every request: upstream data kept for a while, always keyed by tenant
//! (the upstream credential), so one tenant's data can never answer another's request.
//!
//! Every entry is filled through moka's `try_get_with`, which runs one fill per key however many
//! requests ask for it at once: concurrent identical requests cost the upstream one call.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::{BoxFuture, Shared};
use moka::future::{Cache, CacheBuilder};
use moka::policy::EvictionPolicy;

use super::CacheConfig;
use super::batch::BatchCache;
use super::carried::RowMove;
use super::counts::{CountedFilter, Verdict, VerdictExpiry};
use super::fresh_reads::FreshReads;
use super::freshness::{Freshness, FreshnessExpiry, FreshnessMode, OfTenant};
use super::generations::{Generations, Reach};
use super::message_window::Window;
use super::reported::{ReportedStates, comparable_digest};
use super::shared::{SharedStore, SharedTier};
use crate::error::ApiError;
use crate::events::{Event, EventKind};
use crate::metrics::{CacheKind, LoaderMetrics};
use crate::upstream::TenantKey;
use crate::upstream::models::{
    Contact, Conversation, CustomField, Inbox, Message, Scheduled, Tag, Team, Template,
};
use crate::upstream::requests::{ConversationListRequest, DatePageRequest};

/// A history page: phone, inbox, and the page's `timestamp` bound (`None` for the newest).
pub(super) type HistoryKey = (TenantKey, String, i64, Option<i64>);

/// What a list page is keyed by: the request, and the tenant's list generation at the time.
pub(super) type ListKey = (TenantKey, u64, ConversationListRequest);

/// A listing of a tenant's newest messages, possibly still on its way; `None` when it failed
/// or proved nothing.
pub(super) type RecentWindow = Shared<BoxFuture<'static, Option<Arc<Window>>>>;

/// Upstream data shared across requests.
pub struct Caches {
    pub(super) inboxes: Cache<TenantKey, Arc<Vec<Inbox>>>,
    pub(super) team: Cache<TenantKey, Arc<Team>>,
    pub(super) conversations: Cache<(TenantKey, i64), Arc<Conversation>>,
    /// Conversations read past every cache after an event, by the event's fingerprint: every
    /// subscription the event concerns takes the one read made after it, for as long as an
    /// operation may take.
    pub(super) event_reads: Cache<(TenantKey, i64, String), Option<Arc<Conversation>>>,
    /// Contacts by id, as `GET /v1/contact/{id}` answered (a missing one is not kept).
    pub(super) contacts_by_id: Cache<(TenantKey, i64), Arc<Contact>>,
    /// Contacts by phone; a missing contact is remembered too.
    pub(super) contacts: BatchCache<(TenantKey, String), Arc<Contact>>,
    /// Newest history page per (phone, inbox).
    pub(super) histories: Cache<HistoryKey, Arc<Vec<Message>>>,
    /// Last message per conversation *as of its `updated` instant*: a conversation that moves
    /// on gets a new key, so a stale last message is never served.
    pub(super) last_messages: BatchCache<LastMessageKey, Arc<Message>>,
    pub(super) list_pages: Cache<ListKey, Arc<Vec<Conversation>>>,
    /// Conversation counts, keyed like list pages (the request, its cursor unset).
    pub(super) conversation_counts: Cache<ListKey, u64>,
    /// What the count endpoint was seen to do with each filter (see `counts`).
    pub(super) count_verdicts: Cache<(TenantKey, CountedFilter), Verdict>,
    /// Template list pages; templates change rarely and no event tells of it, so they live as
    /// long as the directory.
    pub(super) template_pages: Cache<(TenantKey, DatePageRequest), Arc<Vec<Template>>>,
    /// Tags by id and tag list pages, kept like the directory (no event tells of a change).
    pub(super) tags: Cache<(TenantKey, i64), Arc<Tag>>,
    pub(super) tag_pages: Cache<(TenantKey, DatePageRequest), Arc<Vec<Tag>>>,
    /// The team's custom contact fields, kept like the directory.
    pub(super) custom_fields: Cache<TenantKey, Arc<Vec<CustomField>>>,
    /// Contact list pages, forgotten with the contacts.
    pub(super) contact_pages: Cache<(TenantKey, DatePageRequest), Arc<Vec<Contact>>>,
    /// Per tenant and list generation, the listing of its newest messages a walk started
    /// alongside its list call (see `last_message`). A change moves the generation on, so a
    /// window never outlives what it proves.
    pub(super) recent_windows: Cache<(TenantKey, u64), RecentWindow>,
    /// Scheduled messages by id, as `GET /v1/schedule/{id}` answered; forgotten on every
    /// write to them and on every event of their team's conversations.
    pub(super) scheduled: Cache<(TenantKey, i64), Arc<Scheduled>>,
    /// What the gateway remembers of the messages it scheduled (the upstream cannot list
    /// them): see [`super::ScheduledMemory`].
    pub(super) schedule_memory: super::ScheduledMemory,
    /// The most messages any team-wide listing has answered, and whether one answered fewer
    /// than asked: the upstream's listing maximum, as far as its answers show it.
    largest_listing: AtomicU32,
    short_listing_seen: AtomicBool,
    /// The longest conversation list page the upstream has answered (its page size is not
    /// documented).
    longest_list_page: AtomicUsize,
    /// Whether a listed conversation has named the members it is unread for
    /// (`unread_users`), and whether one has not: members share list pages only while every
    /// row has (see `source::Audience`).
    rows_named_readers: AtomicBool,
    a_row_named_no_readers: AtomicBool,
    /// Whether a list asked for one assignee's conversations has answered another's: the
    /// upstream ignores `assigned` (heymarket-api.md §6.1, reading `assigned-filter`).
    assigned_filter_ignored: AtomicBool,
    /// Whether a history asked with `timestamp` has answered messages of that very second:
    /// the upstream then reads `timestamp` as "up to the end of that second", not "before it".
    history_includes_its_second: AtomicBool,
    /// The generations list pages are keyed by: a change moves on those of the inboxes it
    /// touched, so no cached page can contradict the change.
    pub(super) generations: Generations,
    /// The conversation states lists were last moved on for, so a write and its webhook
    /// move them once.
    reported: ReportedStates,
    /// The newest read of each conversation past the caches, which answers an event reporting
    /// the very state it found.
    pub(super) fresh_reads: FreshReads,
    /// How long each team's conversation entries live, and which tenants each team has.
    freshness: Arc<Freshness>,
    /// This gateway's mark on the hints of its own writes ([`Caches::hint_of_write`]), so it
    /// does not act on them when the bus brings them back.
    replica: u64,
    /// Per tenant, the generation whole answers are keyed by (see `schema::answers`): any
    /// change of the tenant's data moves it on.
    answer_generations: moka::sync::Cache<TenantKey, u64>,
    /// The cache replicas share, with Redis (see `shared`).
    pub(super) shared: Option<Arc<SharedTier>>,
    /// How long a contact is kept here, which bounds how long one is shared.
    ttl_contacts: Duration,
    /// Most messages asked of one team-wide message listing.
    pub(super) messages_batch_limit: u32,
    /// Where look-ups and DataLoader batches are counted.
    pub(super) metrics: LoaderMetrics,
}

/// A conversation's last message is keyed by the conversation and the instant it last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LastMessageKey {
    pub tenant: TenantKey,
    pub conversation_id: i64,
    /// Microseconds since the epoch of the conversation's `updated`, 0 when it has none.
    pub updated: i64,
}

impl Caches {
    /// Caches as `config` sizes them. `fill_deadline` is the longest a fill can run (the
    /// request deadline), which tells a fill that raced an event (see `freshness`).
    pub fn new(config: &CacheConfig, fill_deadline: Duration) -> Self {
        let freshness = Arc::new(Freshness::new(config, fill_deadline));
        let capacity = config.capacity;
        // Entries whose key holds the list generation cannot outlive an event; the others
        // take the short TTL when their fill may have raced one.
        let by_generation = FreshnessExpiry {
            freshness: Arc::clone(&freshness),
            keyed_by_generation: true,
        };
        let by_entity = || FreshnessExpiry {
            freshness: Arc::clone(&freshness),
            keyed_by_generation: false,
        };
        Self {
            inboxes: bounded(capacity, config.ttl_directory).build(),
            team: bounded(capacity, config.ttl_directory).build(),
            conversations: event_driven(capacity, by_entity())
                .support_invalidation_closures()
                .build(),
            event_reads: bounded(capacity, fill_deadline).build(),
            contacts_by_id: bounded(capacity, config.ttl_contacts)
                .support_invalidation_closures()
                .build(),
            contacts: BatchCache::new(bounded(capacity, config.ttl_contacts)),
            histories: event_driven(capacity, by_entity())
                .weigher(|_, page: &Arc<Vec<Message>>| rows(page))
                .eviction_policy(EvictionPolicy::lru())
                .support_invalidation_closures()
                .build(),
            last_messages: BatchCache::new(event_driven(capacity, by_entity())),
            // Weighed by rows, and least recently used first: a page of a past generation is
            // never read again, so it goes before any page still in use.
            list_pages: event_driven(capacity, by_generation.clone())
                .weigher(|_, page: &Arc<Vec<Conversation>>| rows(page))
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            conversation_counts: event_driven(capacity, by_generation.clone()).build(),
            count_verdicts: Cache::builder()
                .max_capacity(capacity)
                .expire_after(VerdictExpiry)
                .build(),
            template_pages: bounded(capacity, config.ttl_directory).build(),
            tags: bounded(capacity, config.ttl_directory).build(),
            tag_pages: bounded(capacity, config.ttl_directory).build(),
            custom_fields: bounded(capacity, config.ttl_directory).build(),
            contact_pages: bounded(capacity, config.ttl_contacts)
                .support_invalidation_closures()
                .build(),
            // Each holds a listing of up to `messages_batch_limit` messages, and only a tenant's
            // current generation is read: a few per tenant is all that is ever needed.
            recent_windows: event_driven(capacity / RECENT_WINDOW_ROWS + 1, by_generation)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            scheduled: event_driven(capacity, by_entity())
                .support_invalidation_closures()
                .build(),
            schedule_memory: super::ScheduledMemory::new(
                config.capacity,
                config.scheduled_per_conversation,
            ),
            largest_listing: AtomicU32::new(0),
            short_listing_seen: AtomicBool::new(false),
            longest_list_page: AtomicUsize::new(0),
            rows_named_readers: AtomicBool::new(false),
            a_row_named_no_readers: AtomicBool::new(false),
            assigned_filter_ignored: AtomicBool::new(false),
            history_includes_its_second: AtomicBool::new(false),
            // Outlives every list page, so a generation is never forgotten while pages of it
            // are still cached.
            generations: Generations::new(
                capacity,
                freshness.longest_lifetime() * 2 + Duration::from_secs(60),
            ),
            reported: ReportedStates::new(capacity),
            fresh_reads: FreshReads::new(capacity),
            answer_generations: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(freshness.longest_lifetime() * 2 + Duration::from_secs(60))
                .build(),
            freshness,
            replica: rand::random(),
            shared: None,
            ttl_contacts: config.ttl_contacts,
            messages_batch_limit: config.messages_batch_limit,
            metrics: LoaderMetrics::default(),
        }
    }

    /// Counts look-ups and batches in `metrics` (caches built without this keep their numbers
    /// to themselves).
    pub fn with_metrics(mut self, metrics: LoaderMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Reads through `store`, shared with the other replicas, behind these caches (see
    /// `shared`).
    pub fn with_shared_store(mut self, store: Arc<dyn SharedStore>) -> Self {
        let safety_ttl = self.freshness.longest_lifetime();
        self.shared = Some(Arc::new(SharedTier::new(
            store,
            safety_ttl,
            self.ttl_contacts,
        )));
        self
    }

    /// The shared cache and `tenant`'s team, when there is one and the team is event-driven.
    pub(super) fn shared_for(&self, tenant: &TenantKey) -> Option<(&Arc<SharedTier>, i64)> {
        let shared = self.shared.as_ref()?;
        Some((shared, self.freshness.event_driven_team(tenant)?))
    }

    /// Learns from a team-wide listing that asked for `asked` messages and got `answered`.
    pub(super) fn listing_answered(&self, asked: u32, answered: usize) {
        let answered = u32::try_from(answered).unwrap_or(u32::MAX);
        self.largest_listing.fetch_max(answered, Ordering::Relaxed);
        if answered < asked {
            self.short_listing_seen.store(true, Ordering::Relaxed);
        }
    }

    /// How many messages to expect of one listing, for planning: what is asked, unless some
    /// listing answered fewer, when the largest answer so far is the best guess at the upstream's
    /// maximum (an answer can also be short because the messages ran out, which only makes the
    /// guess cautious).
    pub(super) fn listing_maximum(&self) -> u32 {
        let asked = self.messages_batch_limit;
        if !self.short_listing_seen.load(Ordering::Relaxed) {
            return asked;
        }
        match self.largest_listing.load(Ordering::Relaxed) {
            0 => asked,
            largest => largest.min(asked),
        }
    }

    /// Learns from a conversation list page of `rows` rows.
    pub(super) fn list_page_answered(
        &self,
        request: &ConversationListRequest,
        rows: &[Conversation],
    ) {
        self.longest_list_page
            .fetch_max(rows.len(), Ordering::Relaxed);
        if let Some(assignee) = request.assigned
            && rows.iter().any(|row| row.assignee_id() != Some(assignee))
            && !self.assigned_filter_ignored.swap(true, Ordering::Relaxed)
        {
            tracing::info!(
                "the upstream's conversation list ignores `assigned`; lists by assignee no longer send it, and share the pages of their inboxes"
            );
        }
        if rows.iter().all(|row| row.unread_users.is_some()) {
            if !rows.is_empty() {
                self.rows_named_readers.store(true, Ordering::Relaxed);
            }
        } else if !self.a_row_named_no_readers.swap(true, Ordering::Relaxed) {
            tracing::info!(
                "the upstream's conversation rows do not name who has read them (`unread_users`); list pages stay per member"
            );
        }
    }

    /// `request` without the filters the upstream has been seen to ignore: they only split
    /// the cache, since every row is checked against the list's filters anyway.
    pub(super) fn worth_sending(
        &self,
        request: ConversationListRequest,
    ) -> ConversationListRequest {
        match request.assigned.is_some() && self.assigned_filter_ignored.load(Ordering::Relaxed) {
            true => ConversationListRequest {
                assigned: None,
                ..request
            },
            false => request,
        }
    }

    /// Whether conversation list rows name every member's read state (`unread_users`): every
    /// row the upstream has listed so far did, and there has been one.
    pub(super) fn list_rows_name_readers(&self) -> bool {
        self.rows_named_readers.load(Ordering::Relaxed)
            && !self.a_row_named_no_readers.load(Ordering::Relaxed)
    }

    /// The longest conversation list page the upstream has answered so far.
    pub(super) fn longest_list_page(&self) -> usize {
        self.longest_list_page.load(Ordering::Relaxed)
    }

    /// Learns that the upstream's history `timestamp` includes its own second.
    pub(super) fn history_included_its_second(&self) {
        if !self
            .history_includes_its_second
            .swap(true, Ordering::Relaxed)
        {
            tracing::info!(
                "the upstream's message history includes the `timestamp` second itself; paging it accordingly"
            );
        }
    }

    /// Whether the upstream's history `timestamp` has been seen to include its own second.
    pub(super) fn history_includes_its_second(&self) -> bool {
        self.history_includes_its_second.load(Ordering::Relaxed)
    }

    /// Whether the upstream accepted `tenant`'s credential lately: its team is cached.
    pub fn knows_tenant(&self, tenant: TenantKey) -> bool {
        self.team.contains_key(&tenant)
    }

    /// The tenant's current generation, which every change of it moves on.
    pub(super) fn generation(&self, tenant: TenantKey) -> u64 {
        self.generations.of_tenant(tenant)
    }

    /// The generation of the tenant's lists of `inboxes`, which every change in one of them
    /// moves on.
    pub(super) fn list_generation(&self, tenant: TenantKey, inboxes: &[i64]) -> u64 {
        self.generations.of_inboxes(tenant, inboxes)
    }

    /// The tenant's cached list pages that `reach` says a change can have changed no longer
    /// count as they are: their lists move to a new generation, to which a page is carried
    /// only where the row the change `moved` left it untouched (see `carried`).
    pub(super) fn lists_changed(&self, tenant: TenantKey, reach: &Reach, moved: RowMove) {
        self.generations.changed(tenant, reach, moved);
        self.answers_changed([tenant]);
    }

    /// A write left the conversation as `state`: the tenant's lists of `reach` move on,
    /// unless its webhook, reporting that very state, moved them already.
    pub(super) fn written(&self, tenant: TenantKey, state: &Conversation, reach: &Reach) {
        let digest = self.comparable_digest(state);
        if self
            .reported
            .moves_lists(tenant, state.id, digest.as_deref())
        {
            self.lists_changed(tenant, reach, RowMove::to(state));
        }
    }

    /// The digest that tells `state` from every other state of its conversation, as events
    /// carry it (`Event::state_digest`), when it can: see `reported`.
    pub fn comparable_digest(&self, state: &Conversation) -> Option<String> {
        comparable_digest(state, self.list_rows_name_readers())
    }

    /// The digest of the conversation state a webhook's `event` reports, for its publisher to
    /// carry (`Event::state_digest`), when it can tell that state from every other.
    pub fn announced_state(&self, event: &Event) -> Option<String> {
        let reported = event.place()?.reported?;
        self.comparable_digest(&reported)
    }

    /// The generation `tenant`'s whole answers are keyed by, while its team is event-driven
    /// (an answer cannot know when the entries it was built from expire, so only events may
    /// replace it); `None` otherwise, when answers are not kept.
    pub fn answers_generation(&self, tenant: TenantKey) -> Option<u64> {
        self.freshness.event_driven(&tenant).then(|| {
            self.answer_generations
                .get_with(tenant, || self.generations.fresh())
        })
    }

    /// Counts one look-up of a whole answer.
    pub fn count_answers(&self, hit: bool) {
        self.metrics
            .count_cache(CacheKind::Answers, u64::from(hit), u64::from(!hit));
    }

    /// Something of `tenants` changed: no answer kept for them counts any more.
    pub fn answers_changed(&self, tenants: impl IntoIterator<Item = TenantKey>) {
        for tenant in tenants {
            self.answer_generations
                .insert(tenant, self.generations.fresh());
        }
    }

    /// The newest-message pages and the last messages of these tenants' conversations no
    /// longer count (one invalidation for all of them: a team may have many pass-through
    /// tenants), for a change that cannot be placed.
    pub(super) fn histories_changed(&self, tenants: HashSet<TenantKey>) {
        self.messages_changed(tenants, None, HashSet::new());
    }

    /// A write to `target`'s conversation (`conversation`, when known) of `tenants`: see
    /// [`Self::messages_changed`].
    pub(super) fn messages_changed_of(
        &self,
        tenants: HashSet<TenantKey>,
        conversation: Option<i64>,
        target: &str,
    ) {
        self.messages_changed(tenants, conversation, parties(target));
    }

    /// The messages of one conversation of `tenants` changed: its last message no longer
    /// counts (every last message, when `conversation` is not known), nor any history with
    /// one of `parties_changed` (in any inbox: a transfer moves a history), nor every history
    /// when there is none. The others stay: a last message is keyed by its conversation and
    /// that conversation's `updated` (which a new message in the same second leaves as it was
    /// when the upstream counts only whole seconds, hence the conversation's own is dropped),
    /// and a history holds one party's messages only.
    fn messages_changed(
        &self,
        tenants: HashSet<TenantKey>,
        conversation: Option<i64>,
        parties_changed: HashSet<String>,
    ) {
        self.answers_changed(tenants.iter().copied());
        let owners = tenants.clone();
        self.last_messages.invalidate_if(move |key| {
            owners.contains(&key.tenant)
                && conversation.is_none_or(|conversation| key.conversation_id == conversation)
        });
        let dropped = self
            .histories
            .invalidate_entries_if(move |(owner, with, _, _), _| {
                tenants.contains(owner)
                    && (parties_changed.is_empty() || !parties(with).is_disjoint(&parties_changed))
            });
        if let Err(error) = dropped {
            tracing::error!(%error, "cannot drop cached histories; clearing every history instead");
            self.histories.invalidate_all();
        }
    }

    /// Remembers that `tenant` belongs to `team_id` (learnt from its `GET /v1/team`).
    pub(super) fn register_team(&self, tenant: TenantKey, team_id: i64) {
        self.freshness.register_team(tenant, team_id);
    }

    /// How each team's conversation entries are kept fresh.
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// Takes an event as a hint that something of its team changed: every tenant of the team
    /// forgets the conversation the event names, the list pages of its inboxes (of every inbox,
    /// when the event does not place it) and its histories, so later
    /// requests read them from the upstream again; an opt-in or opt-out makes them forget
    /// their contacts (the event's payload is undocumented, so which contact it names is not
    /// relied on). Nothing of the event's content is ever served: a webhook only says where
    /// to look (and which state it reports, to tell it from the write it may echo: see
    /// `reported`), never what is there.
    pub async fn invalidate(&self, event: &Event) {
        if self.wrote(event) {
            // Its own caches learnt of the write as it was made.
            return;
        }
        // A replica's hint of its own write says nothing of whether webhooks flow.
        if event.kind.is_webhook() {
            self.freshness.heard(event.team_id);
        }
        let tenants = self.freshness.tenants_of(event.team_id);
        self.answers_changed(tenants.iter().copied());
        if event.kind.concerns_a_contact() {
            self.contacts_changed(tenants.clone());
        }
        if event.kind == EventKind::ScheduleWritten {
            self.schedules_changed(tenants.clone());
        }
        let Some(place) = event.place() else {
            return;
        };
        let conversation = place.conversation_id;
        // A message of the conversation may be one of its scheduled messages going out.
        self.schedules_changed(tenants.clone());
        // Whom its messages are with, and which inboxes' lists it can have changed: from the
        // event, and from the copies cached before.
        let mut touched: HashSet<String> = place.targets.iter().flat_map(|t| parties(t)).collect();
        let mut inboxes = place.inboxes;
        let placed = !inboxes.is_empty();
        for &tenant in &tenants {
            let key = (tenant, conversation);
            if let Some(cached) = self.conversations.get(&key).await {
                touched.extend(cached.target.iter().flat_map(|t| parties(t)));
                inboxes.extend(cached.inbox);
            }
            self.conversations.invalidate(&key).await;
        }
        // An event that does not say where the conversation is reaches every list: a cached
        // copy alone may show it where it was before a move.
        let reach = match placed {
            true => Reach::of(inboxes),
            false => Reach::Everywhere,
        };
        // The state the event reports: a webhook's payload, or the digest of what a replica
        // read back after its write, taken where this replica, too, can tell states apart.
        let digest = match &place.reported {
            Some(state) => self.comparable_digest(state),
            None => event
                .state_digest
                .clone()
                .filter(|_| self.list_rows_name_readers()),
        };
        let moved = match place.moved_at {
            Some(updated) => RowMove::AtOrAfter {
                id: conversation,
                updated,
            },
            None => RowMove::Unknown,
        };
        for &tenant in &tenants {
            let reported = place.reported.as_ref();
            self.fresh_reads.reported(tenant, conversation, reported);
            if self
                .reported
                .moves_lists(tenant, conversation, digest.as_deref())
            {
                self.lists_changed(tenant, &reach, moved);
            }
        }
        self.messages_changed(tenants, Some(conversation), touched);
    }

    /// The hint this gateway publishes for the other replicas after writing something of team
    /// `team_id`: `fields` marked as its own, and with a nonce, so two writes of the same thing
    /// stay two events.
    pub fn hint_of_write(
        &self,
        team_id: i64,
        kind: EventKind,
        mut fields: serde_json::Map<String, serde_json::Value>,
    ) -> Event {
        fields.insert("replica".to_owned(), self.replica.into());
        fields.insert("nonce".to_owned(), rand::random::<u64>().into());
        Event::new(team_id, kind, serde_json::Value::Object(fields))
    }

    /// Whether `event` is the hint of a write of this gateway's own.
    fn wrote(&self, event: &Event) -> bool {
        !event.kind.is_webhook() && event.data["replica"].as_u64() == Some(self.replica)
    }

    /// The scheduled messages of `tenants` may have changed (or gone out): their cached
    /// copies no longer count.
    pub(super) fn schedules_changed(&self, tenants: HashSet<TenantKey>) {
        self.answers_changed(tenants.iter().copied());
        if let Err(error) = self
            .scheduled
            .invalidate_entries_if(move |(tenant, _), _| tenants.contains(tenant))
        {
            tracing::error!(%error, "cannot drop scheduled messages selectively; clearing them all");
            self.scheduled.invalidate_all();
        }
    }

    /// The contacts of `tenants` changed: their cached contacts and contact list pages no
    /// longer count.
    fn contacts_changed(&self, tenants: HashSet<TenantKey>) {
        let tenants = Arc::new(tenants);
        let owners = Arc::clone(&tenants);
        self.contacts
            .invalidate_if(move |(tenant, _)| owners.contains(tenant));
        let owners = Arc::clone(&tenants);
        if let Err(error) = self
            .contacts_by_id
            .invalidate_entries_if(move |(tenant, _), _| owners.contains(tenant))
        {
            tracing::error!(%error, "cannot drop contacts selectively; clearing them all");
            self.contacts_by_id.invalidate_all();
        }
        self.contact_pages_changed(tenants);
    }

    /// Some contact of `tenants` changed, so their contact list pages (ordered by change) no
    /// longer count.
    pub(super) fn contact_pages_changed(&self, tenants: Arc<HashSet<TenantKey>>) {
        self.answers_changed(tenants.iter().copied());
        if let Err(error) = self
            .contact_pages
            .invalidate_entries_if(move |(tenant, _), _| tenants.contains(tenant))
        {
            tracing::error!(%error, "cannot drop contact pages selectively; clearing them all");
            self.contact_pages.invalidate_all();
        }
    }

    /// Lets the passing of time and the bus's state move teams between modes (see
    /// `freshness`): a team whose events fell silent, or every team while the bus does not
    /// reach every replica, forgets its conversation entries, which were cached for long.
    pub async fn sweep(&self, bus_whole: bool) {
        let tenants = self.freshness.sweep(bus_whole);
        self.metrics.freshness_modes(
            self.freshness
                .modes()
                .into_iter()
                .map(|(team, mode)| (team, mode == FreshnessMode::Events)),
        );
        if tenants.is_empty() {
            return;
        }
        tracing::info!(
            tenants = tenants.len(),
            "webhook events fell silent or stopped reaching every replica; cached conversations are forgotten and kept for the short TTL"
        );
        self.forget_tenants(tenants).await;
    }

    /// The conversation entries of `tenants` no longer count.
    async fn forget_tenants(&self, tenants: HashSet<TenantKey>) {
        let owners = tenants.clone();
        if let Err(error) = self
            .conversations
            .invalidate_entries_if(move |(tenant, _), _| owners.contains(tenant))
        {
            tracing::error!(%error, "cannot drop conversations selectively; clearing them all");
            self.conversations.invalidate_all();
        }
        self.schedules_changed(tenants.clone());
        for &tenant in &tenants {
            self.lists_changed(tenant, &Reach::Everywhere, RowMove::Unknown);
        }
        self.histories_changed(tenants);
    }

    /// Events were lost (a receiver fell behind): nothing cached about conversations can be
    /// trusted any more, and no team is event-driven until its next event.
    pub async fn events_lost(&self) {
        self.freshness.events_lost();
        self.forget_conversations().await;
    }

    /// Nothing cached about conversations counts any more.
    async fn forget_conversations(&self) {
        self.answer_generations.invalidate_all();
        self.conversations.invalidate_all();
        self.scheduled.invalidate_all();
        self.recent_windows.invalidate_all();
        self.histories.invalidate_all();
        self.last_messages.invalidate_all();
        self.list_pages.invalidate_all();
        self.conversation_counts.invalidate_all();
        self.generations.forget_all();
        self.reported.forget_all();
        self.fresh_reads.forget_all();
    }
}

/// About the rows one recent window holds, for sizing their cache against the capacity.
const RECENT_WINDOW_ROWS: u64 = 100;

/// A page's weight against the cache's capacity: its rows (an empty page still takes a slot).
fn rows<T>(page: &[T]) -> u32 {
    u32::try_from(page.len().max(1)).unwrap_or(u32::MAX)
}

/// A size-bounded conversation cache whose entries live as their team's freshness mode says.
fn event_driven<K, V>(capacity: u64, expiry: FreshnessExpiry) -> CacheBuilder<K, V, Cache<K, V>>
where
    K: OfTenant + Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder().max_capacity(capacity).expire_after(expiry)
}

/// A size- and time-bounded cache, ready to build (or to be given more settings first).
fn bounded<K, V>(capacity: u64, ttl: Duration) -> CacheBuilder<K, V, Cache<K, V>>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder().max_capacity(capacity).time_to_live(ttl)
}

/// moka shares a failed fill's error among everyone who waited for it.
pub(super) fn shared_error(error: Arc<ApiError>) -> ApiError {
    (*error).clone()
}

/// Whom a conversation or history `target` is with, comparable however it is written: each
/// comma-separated address as E.164 digits when it reads as a phone number, lower-cased
/// otherwise (an email thread's address).
pub(super) fn parties(target: &str) -> HashSet<String> {
    target
        .split(',')
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .map(|address| crate::phone::normalize(address).unwrap_or_else(|| address.to_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parties;

    #[test]
    fn one_party_written_two_ways_is_one_party() {
        assert_eq!(parties("+1 (415) 555-0100"), parties("14155550100"));
        assert_eq!(parties("Ana@Example.com "), parties("ana@example.com"));
        assert!(!parties("14155550100,14155550101").is_disjoint(&parties("4155550101")));
        assert!(parties("14155550100").is_disjoint(&parties("14155550101")));
        assert!(parties(" , ").is_empty());
    }
}
