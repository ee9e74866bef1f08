//! Upstream entities as one operation needs them: each fetched at most once per operation,
//! concurrent look-ups of the same kind batched into as few upstream calls as the API allows,
//! and everything read through caches shared by all requests of the same tenant.
//!
//! Loaders are per operation (see [`Loaders::new`]) and hold one tenant's upstream handle; the
//! shared caches key every entry by that tenant, so nothing one tenant fetched can answer
//! another's request.

mod batch;
mod cache;
mod carried;
mod config;
mod counts;
mod entities;
mod epochs;
mod fresh_reads;
mod freshness;
mod generations;
mod last_message;
mod message_window;
mod read_state;
mod reported;
mod scheduled;
mod shared;
mod source;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::dataloader::{DataLoader, HashMapCache};
use chrono::{DateTime, Utc};

pub use cache::Caches;
use carried::RowMove;
pub use config::CacheConfig;
pub use counts::Verdict;
pub use epochs::Epoch;
pub use generations::Reach;
pub use last_message::LastMessageTarget;
pub use reported::REMEMBER_STATES_FOR;
pub use scheduled::ScheduledMemory;
pub use shared::{SharedEntry, SharedRead, SharedStore, Slot};
pub use source::Audience;

/// The address a conversation's contact is looked up by: its phone, or for an email thread,
/// its (first) email address, lower-cased. `None` for a target that is neither.
pub fn contact_address(target: &str) -> Option<String> {
    if !target.contains('@') {
        return Some(target.to_owned()).filter(|phone| !phone.trim().is_empty());
    }
    // Under one reading of the docs a thread's target lists every `to:` address.
    let first = target.split(',').next()?.trim().to_lowercase();
    crate::email_address::is_plain(&first).then_some(first)
}

use crate::error::ApiError;
use crate::pagination::SortKey;
use crate::upstream::models::{
    Contact, Conversation, CustomField, Inbox, Message, Scheduled, Tag, Team, TeamMember, Template,
};
use crate::upstream::requests::{ConversationListRequest, DatePageRequest};
use crate::upstream::{CallLog, TenantClient};
use entities::{ContactsByAddress, ConversationsById, Histories, HistoryPage, LastMessages};
use read_state::{ReadStateKey, ReadStates};
use source::Source;

/// One operation's view of the upstream.
pub struct Loaders {
    source: Arc<Source>,
    /// Inboxes and team as first seen by this operation, so all its fields agree.
    inboxes: Memo<Vec<Inbox>>,
    team: Memo<Team>,
    conversations: DataLoader<ConversationsById, HashMapCache>,
    contacts: DataLoader<ContactsByAddress, HashMapCache>,
    histories: DataLoader<Histories, HashMapCache>,
    last_messages: DataLoader<LastMessages, HashMapCache>,
    read_states: DataLoader<ReadStates, HashMapCache>,
}

impl Loaders {
    /// Loaders for one operation calling as `upstream`'s tenant, which may make at most
    /// `budget` upstream calls; the operation's own upstream calls and cache hits are counted
    /// in [`Loaders::cost`].
    pub fn new(upstream: TenantClient, caches: Arc<Caches>, budget: u64) -> Self {
        let cost = Arc::new(Cost::with_budget(budget));
        let upstream = upstream.with_call_log(Arc::clone(&cost.calls));
        let source = Arc::new(Source::new(upstream, caches, cost));
        Self {
            conversations: per_operation(ConversationsById(Arc::clone(&source))),
            contacts: per_operation(ContactsByAddress(Arc::clone(&source))),
            histories: per_operation(Histories(Arc::clone(&source))),
            last_messages: per_operation(LastMessages(Arc::clone(&source))),
            read_states: per_operation(ReadStates(Arc::clone(&source))),
            source,
            inboxes: Memo::default(),
            team: Memo::default(),
        }
    }

    /// What this operation has cost so far.
    pub fn cost(&self) -> Arc<Cost> {
        Arc::clone(&self.source.cost)
    }

    /// The tenant's upstream handle, for calls no loader covers (writes, paging deeper into a
    /// history).
    pub fn upstream(&self) -> &TenantClient {
        &self.source.upstream
    }

    /// Every inbox the tenant can access (`GET /v1/inboxes`).
    pub async fn inboxes(&self) -> Result<Arc<Vec<Inbox>>, ApiError> {
        self.inboxes.get_or_load(|| self.source.inboxes()).await
    }

    /// One inbox by id, from [`Loaders::inboxes`].
    pub async fn inbox(&self, id: i64) -> Result<Option<Inbox>, ApiError> {
        Ok(self
            .inboxes()
            .await?
            .iter()
            .find(|inbox| inbox.id == id)
            .cloned())
    }

    /// The team and its members (`GET /v1/team`).
    pub async fn team(&self) -> Result<Arc<Team>, ApiError> {
        self.team.get_or_load(|| self.source.team()).await
    }

    /// One team member by id, from [`Loaders::team`].
    pub async fn member(&self, id: i64) -> Result<Option<TeamMember>, ApiError> {
        Ok(self
            .team()
            .await?
            .members
            .iter()
            .find(|member| member.id == id)
            .cloned())
    }

    /// One conversation by id; `None` when the upstream has no such conversation.
    pub async fn conversation(&self, id: i64) -> Result<Option<Arc<Conversation>>, ApiError> {
        self.conversations.load_one(id).await?.transpose()
    }

    /// The longest conversation list page the upstream has answered so far.
    pub fn longest_list_page(&self) -> usize {
        self.source.caches.longest_list_page()
    }

    /// One page of `POST /v1/conversations`, shared with concurrent and recent identical
    /// requests (of other members too, where `audience` and the upstream allow) until a
    /// conversation of its inboxes changes, and after, where the change left its rows as they
    /// were. `after` is the last row the walk handed out: a walk keeps only older rows, so a
    /// page cached with a bound above the one asked for may serve it.
    pub async fn list_page(
        &self,
        request: ConversationListRequest,
        audience: Audience,
        after: Option<SortKey>,
    ) -> Result<Arc<Vec<Conversation>>, ApiError> {
        self.source.list_page(request, audience, after).await
    }

    /// Whether members can share list pages now: the upstream's rows name every member's
    /// read state (see [`Audience`]).
    pub fn list_pages_shareable(&self) -> bool {
        self.source.caches.list_rows_name_readers()
    }

    /// Whether `conversation` is unread for `member_id`: from the copy itself when it names
    /// that member's read state, else from the member's own list (see `read_state`).
    pub async fn unread_for(
        &self,
        member_id: i64,
        conversation: &Conversation,
    ) -> Result<bool, ApiError> {
        if let Some(unread) = conversation.is_unread_for(member_id) {
            return Ok(unread);
        }
        let Some(inbox_id) = conversation.inbox else {
            // Never shown: a conversation the upstream placed in no inbox is nobody's to see.
            return Err(ApiError::Forbidden(format!(
                "conversation {} is in no inbox",
                conversation.id
            )));
        };
        let key = ReadStateKey {
            member_id,
            inbox_id,
            conversation_id: conversation.id,
            updated: conversation.updated,
        };
        match self.read_states.load_one(key).await? {
            Some(unread) => unread,
            None => Err(ApiError::Internal),
        }
    }

    /// Remembers conversations that arrived some other way (a list page, a message), so fields
    /// that need them later do not fetch them again.
    pub async fn prime_conversations(
        &self,
        conversations: impl IntoIterator<Item = Arc<Conversation>>,
    ) {
        let conversations: Vec<Arc<Conversation>> = conversations.into_iter().collect();
        for conversation in &conversations {
            self.source
                .remember_conversation(Arc::clone(conversation))
                .await;
        }
        self.conversations
            .feed_many(conversations.into_iter().map(|c| (c.id, Ok(c))))
            .await;
    }

    /// The hint of a write for the other replicas (see [`Caches::hint_of_write`]).
    pub fn hint_of_write(
        &self,
        team_id: i64,
        kind: crate::events::EventKind,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> crate::events::Event {
        self.source.caches.hint_of_write(team_id, kind, fields)
    }

    /// The digest that tells `state` from every other state of its conversation, when it can
    /// (see [`Caches::comparable_digest`]).
    pub fn comparable_digest(&self, state: &Conversation) -> Option<String> {
        self.source.caches.comparable_digest(state)
    }

    /// Reads a conversation again after a write changed it, so this operation and every later
    /// request see it as it is now (`None` when it no longer exists), and tells which lists
    /// the write can have changed: those of the inboxes it was in (`inbox_before`, and its
    /// cached copy's) and is in now. The tenant's cached pages of those lists stop counting; of
    /// every list, when the read fails or no inbox is known.
    pub async fn reload_conversation(
        &self,
        id: i64,
        inbox_before: Option<i64>,
    ) -> Result<(Option<Arc<Conversation>>, Reach), ApiError> {
        let source = &self.source;
        let cached = source.cached_conversation(id).await;
        let before = inbox_before.into_iter().chain(cached.and_then(|c| c.inbox));
        let reloaded = self.fresh_conversation(id).await;
        let reach = match &reloaded {
            Ok(now) => Reach::of(before.chain(now.as_ref().and_then(|c| c.inbox))),
            Err(_) => Reach::Everywhere,
        };
        match &reloaded {
            Ok(Some(now)) => source.caches.written(source.tenant, now, &reach),
            _ => source
                .caches
                .lists_changed(source.tenant, &reach, RowMove::Unknown),
        }
        Ok((reloaded?, reach))
    }

    /// Reads a conversation past every cache, as the upstream has it now, and keeps what it
    /// finds for this operation and later requests. `None` when it does not exist.
    pub async fn fresh_conversation(&self, id: i64) -> Result<Option<Arc<Conversation>>, ApiError> {
        let conversation = self.source.fresh_conversation(id).await?;
        Ok(self.seen_fresh(id, conversation).await)
    }

    /// A conversation as the upstream had it after the event whose fingerprint is
    /// `fingerprint`, which reports it as `reported`: read past every cache once, however many
    /// subscriptions the event concerns, unless the newest such read (a write's, say) shows
    /// `reported` or a later state. What it returns is always the upstream's copy, never the
    /// event's. `None` when it does not exist.
    pub async fn conversation_after(
        &self,
        fingerprint: &str,
        reported: &Conversation,
    ) -> Result<Option<Arc<Conversation>>, ApiError> {
        let conversation = self
            .source
            .conversation_after(fingerprint, reported)
            .await?;
        Ok(self.seen_fresh(reported.id, conversation).await)
    }

    /// Keeps what a fresh read of conversation `id` found for the rest of the operation.
    async fn seen_fresh(
        &self,
        id: i64,
        conversation: Option<Arc<Conversation>>,
    ) -> Option<Arc<Conversation>> {
        match &conversation {
            Some(conversation) => {
                self.conversations
                    .feed_one(id, Ok(Arc::clone(conversation)))
                    .await
            }
            // The loader has no per-key removal; dropping every conversation it holds is cheap
            // within one operation and leaves no stale copy behind.
            None => self.conversations.clear::<i64>(),
        }
        conversation
    }

    /// Forgets what this operation has seen, so later fields read afresh (through the shared
    /// caches), and renews its upstream budget: a subscription calls it for every event it
    /// delivers, since its operation lives as long as the subscription and each event is
    /// answered like an operation of its own.
    pub fn forget_all(&self) {
        self.source.cost.calls.renew_budget();
        self.inboxes.forget();
        self.team.forget();
        self.conversations.clear::<i64>();
        self.contacts.clear::<String>();
        self.histories.clear::<HistoryPage>();
        self.last_messages.clear::<LastMessageTarget>();
    }

    /// Forgets the newest messages of a write's customer (`target`, in every inbox: a transfer
    /// moves a history) and the last message of its conversation (of every conversation, when
    /// it is not known: a send to a phone may continue one), here and in the shared caches.
    /// Lists are left to [`Self::reload_conversation`], which every write calls after this.
    pub fn forget_messages_of(&self, conversation: Option<i64>, target: &str) {
        self.source.caches.messages_changed_of(
            HashSet::from([self.source.tenant]),
            conversation,
            target,
        );
        self.forget_operation_messages();
    }

    /// Forgets every conversation's newest messages and last message (see
    /// [`Self::forget_messages_of`]), for a write whose customer is not known.
    pub fn forget_messages(&self) {
        self.source
            .caches
            .histories_changed(HashSet::from([self.source.tenant]));
        self.forget_operation_messages();
    }

    /// What this operation's own loaders remember of histories and last messages (they are
    /// asked again, through the shared caches).
    fn forget_operation_messages(&self) {
        self.histories.clear::<HistoryPage>();
        self.last_messages.clear::<LastMessageTarget>();
    }

    /// One page of the team's templates (`POST /v1/templates`), newest first, strictly before
    /// `updated_before`.
    pub async fn template_page(
        &self,
        updated_before: Option<DateTime<Utc>>,
    ) -> Result<Arc<Vec<Template>>, ApiError> {
        self.source
            .template_page(DatePageRequest { updated_before })
            .await
    }

    /// One page of the team's contacts (`POST /v1/contacts`), newest change first, strictly
    /// before `updated_before`.
    pub async fn contact_page(
        &self,
        updated_before: Option<DateTime<Utc>>,
    ) -> Result<Arc<Vec<Contact>>, ApiError> {
        self.source
            .contact_page(DatePageRequest { updated_before })
            .await
    }

    /// One page of the team's tags (`POST /v1/tags`), newest change first, strictly before
    /// `updated_before`.
    pub async fn tag_page(
        &self,
        updated_before: Option<DateTime<Utc>>,
    ) -> Result<Arc<Vec<Tag>>, ApiError> {
        self.source
            .tag_page(DatePageRequest { updated_before })
            .await
    }

    /// One tag by id (`GET /v1/tag/{id}`, cached like the directory); `None` when there is
    /// none.
    pub async fn tag(&self, id: i64) -> Result<Option<Arc<Tag>>, ApiError> {
        match self.source.tag(id).await {
            Ok(tag) => Ok(Some(tag)),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The team's custom contact fields (`POST /v1/contact-fields`, cached like the
    /// directory).
    pub async fn custom_fields(&self) -> Result<Arc<Vec<CustomField>>, ApiError> {
        self.source.custom_fields().await
    }

    /// One template by id (`GET /v1/template/{id}`); `None` when there is none.
    pub async fn template(&self, id: i64) -> Result<Option<Template>, ApiError> {
        match self.source.upstream.template(id).await {
            Ok(template) => Ok(Some(template)),
            Err(crate::upstream::Error::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Scheduled message `id` (`GET /v1/schedule/{id}`), through the shared cache; `None`
    /// when the upstream has none (deleted, or, under some readings, sent).
    pub async fn scheduled(&self, id: i64) -> Result<Option<Arc<Scheduled>>, ApiError> {
        self.source.scheduled(id).await
    }

    /// Forgets the cached copy of scheduled message `id`, after a write to it.
    pub async fn forget_scheduled(&self, id: i64) {
        let key = (self.source.tenant, id);
        self.source.caches.scheduled.invalidate(&key).await;
    }

    /// Remembers that this gateway scheduled message `id` in the conversation with `target`
    /// in `inbox`, as member `sender` (see [`ScheduledMemory`]).
    pub async fn remember_scheduled(&self, inbox: i64, target: &str, id: i64, sender: i64) {
        let memory = &self.source.caches.schedule_memory;
        memory
            .remember(self.source.tenant, inbox, target, id, sender)
            .await;
    }

    /// Forgets scheduled message `id` of that conversation.
    pub async fn forget_remembered(&self, inbox: i64, target: &str, id: i64) {
        let memory = &self.source.caches.schedule_memory;
        memory.forget(self.source.tenant, inbox, target, id).await;
    }

    /// The scheduled messages this gateway remembers for that conversation, oldest first.
    pub async fn remembered_scheduled(&self, inbox: i64, target: &str) -> Arc<Vec<i64>> {
        let memory = &self.source.caches.schedule_memory;
        memory.ids(self.source.tenant, inbox, target).await
    }

    /// The member scheduled message `id` was scheduled as through this gateway, if remembered.
    pub async fn scheduled_sender(&self, id: i64) -> Option<i64> {
        let memory = &self.source.caches.schedule_memory;
        memory.sender(self.source.tenant, id).await
    }

    /// One contact by id (`GET /v1/contact/{id}`); `None` when there is none. Cached for
    /// `--cache-ttl-contacts`, and forgotten like contacts by address (see
    /// [`Loaders::forget_contacts`]).
    pub async fn contact(&self, id: i64) -> Result<Option<Arc<Contact>>, ApiError> {
        match self.source.contact_by_id(id).await {
            Ok(contact) => Ok(Some(contact)),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// One contact by id as the upstream has it now, past every cache: what a write that
    /// carries the contact's other fields along must start from.
    pub async fn current_contact(&self, id: i64) -> Result<Option<Arc<Contact>>, ApiError> {
        match self.source.upstream.contact(id).await {
            Ok(contact) => Ok(Some(Arc::new(contact))),
            Err(crate::upstream::Error::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The contact with this phone number (E.164 digits), batched with every other contact
    /// looked up in the same tick into one search.
    pub async fn contact_by_phone(&self, phone: &str) -> Result<Option<Arc<Contact>>, ApiError> {
        self.contacts.load_one(phone.to_owned()).await
    }

    /// The contact with this email address (compared without regard to case), batched like
    /// [`Loaders::contact_by_phone`].
    pub async fn contact_by_email(&self, email: &str) -> Result<Option<Arc<Contact>>, ApiError> {
        self.contacts.load_one(email.trim().to_lowercase()).await
    }

    /// Forgets contact `id` and the contacts at these addresses (phones, or email addresses
    /// in any case), here and in the shared caches, and the contact list pages (ordered by
    /// change), after a write changed them. A contact's old and new addresses both go: a
    /// missing contact is remembered too.
    pub async fn forget_contacts<'a>(
        &self,
        id: Option<i64>,
        addresses: impl IntoIterator<Item = &'a str>,
    ) {
        let caches = &self.source.caches;
        let tenant = self.source.tenant;
        if let Some(id) = id {
            caches.contacts_by_id.invalidate(&(tenant, id)).await;
        }
        for address in addresses {
            let key = match address.contains('@') {
                true => address.trim().to_lowercase(),
                false => address.to_owned(),
            };
            caches.contacts.invalidate(&(tenant, key)).await;
        }
        caches.contact_pages_changed(Arc::new(HashSet::from([tenant])));
        self.contacts.clear::<String>();
    }

    /// The contact with this phone number as the upstream has it now, past every cache: what a
    /// send checks opt-out against, since the customer may have opted out a moment ago.
    pub async fn current_contact_by_phone(
        &self,
        phone: &str,
    ) -> Result<Option<Arc<Contact>>, ApiError> {
        self.source.current_contact(phone).await
    }

    /// The newest messages (up to the upstream's 50) of the conversation with `phone` in
    /// `inbox_id`, newest first.
    pub async fn latest_messages(
        &self,
        phone: &str,
        inbox_id: i64,
    ) -> Result<Arc<Vec<Message>>, ApiError> {
        self.history_page(phone, inbox_id, None).await
    }

    /// A page of that history: the newest messages sent before the second `before` (the
    /// newest messages without it), newest first, whichever way the upstream reads its
    /// `timestamp` (heymarket-api.md §13.12): "before that second" as documented, or "up to
    /// the end of that second". An answer holding a message of the very second it was asked
    /// with shows the second reading; from then on every page is asked one second earlier.
    pub async fn history_before(
        &self,
        phone: &str,
        inbox_id: i64,
        before: Option<DateTime<Utc>>,
    ) -> Result<Arc<Vec<Message>>, ApiError> {
        let Some(second) = before.map(|before| before.timestamp()) else {
            return self.history_page(phone, inbox_id, None).await;
        };
        let caches = &self.source.caches;
        if caches.history_includes_its_second() {
            return self
                .history_page(phone, inbox_id, Some(second.saturating_sub(1)))
                .await;
        }
        let page = self.history_page(phone, inbox_id, Some(second)).await?;
        // Only a message of that very second tells; newer ones would mean the cursor was
        // ignored, which the walk reports in its own way.
        let newest = page.iter().filter_map(|message| message.date).max();
        if newest.is_some_and(|newest| newest.timestamp() == second) {
            caches.history_included_its_second();
            return self
                .history_page(phone, inbox_id, Some(second.saturating_sub(1)))
                .await;
        }
        Ok(page)
    }

    /// A page of that history as the upstream answers `timestamp` `before` (Unix seconds).
    async fn history_page(
        &self,
        phone: &str,
        inbox_id: i64,
        before: Option<i64>,
    ) -> Result<Arc<Vec<Message>>, ApiError> {
        let page = self
            .histories
            .load_one((phone.to_owned(), inbox_id, before))
            .await?;
        page.unwrap_or_else(|| Ok(Arc::default()))
    }

    /// A conversation's last message, looked up together with every other conversation's in
    /// the same tick.
    pub async fn last_message(
        &self,
        target: LastMessageTarget,
    ) -> Result<Option<Arc<Message>>, ApiError> {
        self.last_messages
            .load_one(target)
            .await?
            .unwrap_or(Ok(None))
    }

    /// Starts listing the tenant's newest messages when the list whose first page is `first`,
    /// for a walk whose rows will want their last messages, was not read before: the listing
    /// then travels alongside the list call instead of after it (see `last_message`). A list
    /// read before needs the last messages of what changed since only, which their own
    /// look-ups find at least as cheaply; so does a list another replica read (they are
    /// shared).
    pub async fn prefetch_recent_messages(
        &self,
        first: &ConversationListRequest,
        audience: Audience,
    ) {
        if !self.source.list_read_before(first, audience)
            && !self.source.list_shared(first, audience).await
        {
            self.source.start_recent_window().await;
        }
    }

    /// Starts fetching what the rows of a list page will ask for, while the operation is still
    /// paging: the answers land in the shared caches, where the rows' own look-ups find them
    /// (or wait for them) instead of calling the upstream again. `addresses` are
    /// [`contact_address`]es.
    pub fn prefetch(&self, addresses: Vec<String>, last_messages: Vec<LastMessageTarget>) {
        let source = Arc::clone(&self.source);
        tokio::spawn(async move {
            let contacts = async {
                if !addresses.is_empty() {
                    let _ = source.contacts(addresses).await;
                }
            };
            let messages = async {
                if !last_messages.is_empty() {
                    source.last_messages(last_messages).await;
                }
            };
            futures::join!(contacts, messages);
        });
    }
}

/// What one operation cost: its own upstream calls, and the look-ups it was spared because the
/// caches (or another request's call) had the answer.
pub struct Cost {
    calls: Arc<CallLog>,
    cache_hits: AtomicU64,
}

impl Cost {
    /// Nothing spent yet, out of `budget` upstream calls.
    fn with_budget(budget: u64) -> Self {
        Self {
            calls: Arc::new(CallLog::with_budget(budget)),
            cache_hits: AtomicU64::new(0),
        }
    }

    /// The cost of an operation that made no call and read no cache: an answer kept whole.
    pub fn nothing() -> Self {
        Self::with_budget(0)
    }

    /// Upstream calls made so far, retries included.
    pub fn upstream_calls(&self) -> u64 {
        self.calls.snapshot().values().sum()
    }

    /// Time the upstream calls took, summed over concurrent ones.
    pub fn upstream_time(&self) -> std::time::Duration {
        self.calls.elapsed()
    }

    /// The cost as reported in a response's `extensions.cost`.
    pub fn report(&self) -> serde_json::Value {
        let by_route = self.calls.snapshot();
        serde_json::json!({
            "upstreamCalls": by_route.values().sum::<u64>(),
            "upstreamCallsByRoute": by_route,
            "cacheHits": self.cache_hits.load(Ordering::Relaxed),
        })
    }
}

/// A value as this operation first saw it, so every field of the operation agrees on it.
struct Memo<T>(std::sync::Mutex<Option<Arc<T>>>);

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Self(std::sync::Mutex::new(None))
    }
}

impl<T> Memo<T> {
    /// The remembered value, or the one `load` produces (then remembered).
    async fn get_or_load<F>(&self, load: impl FnOnce() -> F) -> Result<Arc<T>, ApiError>
    where
        F: std::future::Future<Output = Result<Arc<T>, ApiError>>,
    {
        if let Some(seen) = self.lock().clone() {
            return Ok(seen);
        }
        // Boxed, and only when needed: a load through the shared caches is a large future, and
        // inline it would size the future of every field that reads the team or the inboxes,
        // which async-graphql moves onto the heap field by field.
        let loaded = Box::pin(load()).await?;
        Ok(Arc::clone(self.lock().get_or_insert(loaded)))
    }

    fn forget(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<T>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A DataLoader that also remembers every value for the rest of the operation.
fn per_operation<T: Send + Sync + 'static>(loader: T) -> DataLoader<T, HashMapCache> {
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}
