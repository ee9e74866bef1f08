//! One tenant's upstream, read through the shared caches: every fetch the loaders make.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use futures::FutureExt;
use futures::future::Either;
use moka::future::Cache;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cost;
use super::batch::BatchFetch;
use super::cache::{Caches, shared_error};
use super::carried::Relied;
use super::counts::{CountedFilter, Verdict};
use super::epochs;
use super::epochs::Epoch;
use super::shared::{SharedEntry, SharedTier};
use crate::error::ApiError;
use crate::metrics::{CacheKind, LoaderMetrics};
use crate::pagination::SortKey;
use crate::upstream::models::{
    Contact, Conversation, CustomField, Inbox, Message, Scheduled, Tag, Team, Template,
};
use crate::upstream::requests::{ConversationListRequest, DatePageRequest};
use crate::upstream::{Error as UpstreamError, TenantClient, TenantKey};

/// A tenant's upstream handle and the caches its answers go into.
pub(crate) struct Source {
    pub(super) upstream: TenantClient,
    pub(super) tenant: TenantKey,
    pub(super) caches: Arc<Caches>,
    /// What the operation these look-ups serve has cost so far.
    pub(super) cost: Arc<Cost>,
}

impl Source {
    pub(super) fn new(upstream: TenantClient, caches: Arc<Caches>, cost: Arc<Cost>) -> Self {
        let tenant = upstream.tenant_key();
        Self {
            upstream,
            tenant,
            caches,
            cost,
        }
    }

    /// Counts `looked_up` keys of `kind`, `hits` of them found cached (or in flight), for the
    /// operation's cost and the cache metrics.
    pub(super) fn count_lookups(&self, kind: CacheKind, looked_up: usize, hits: usize) {
        self.cost
            .cache_hits
            .fetch_add(hits as u64, Ordering::Relaxed);
        let misses = looked_up.saturating_sub(hits);
        self.caches
            .metrics
            .count_cache(kind, hits as u64, misses as u64);
    }

    /// Records one DataLoader batch of `size` keys sent to `loader`.
    pub(super) fn observe_batch(&self, loader: &'static str, size: usize) {
        self.caches.metrics.observe_batch(loader, size);
    }

    /// `cache[key]`, filled by `fill` when absent; concurrent fills of one key run once, by
    /// whichever operation asked first, and its call counts against that operation's budget
    /// only.
    async fn read_through<K, V, Fill, Filled>(
        &self,
        kind: CacheKind,
        cache: &Cache<K, V>,
        key: K,
        fill: Fill,
    ) -> Result<V, ApiError>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
        Fill: Fn() -> Filled,
        Filled: Future<Output = Result<V, ApiError>>,
    {
        let filled = AtomicBool::new(false);
        let marked = async {
            filled.store(true, Ordering::Relaxed);
            fill().await
        };
        let answer = cache
            .try_get_with(key.clone(), marked)
            .await
            .map_err(shared_error);
        let ours = filled.load(Ordering::Relaxed);
        self.count_lookups(kind, 1, usize::from(!ours));
        match answer {
            // Another operation's fill was refused for that operation's budget, which says
            // nothing of this one's: ask again, with this operation's own fill.
            Err(ApiError::UpstreamBudgetExceeded { .. }) if !ours => {
                cache.try_get_with(key, fill()).await.map_err(shared_error)
            }
            answer => answer,
        }
    }

    /// `fill`, read through the cache replicas share under `key` while the tenant's team is
    /// event-driven (see `shared`); `fill` alone otherwise. Boxed when shared, so the fill's
    /// future is not counted twice in every caller's.
    pub(super) fn shared<'a, V, Fill>(
        &'a self,
        key: impl FnOnce() -> String,
        epochs: impl FnOnce() -> Vec<Epoch>,
        fill: Fill,
    ) -> impl Future<Output = Result<V, ApiError>> + 'a
    where
        V: Serialize + DeserializeOwned + 'a,
        Fill: Future<Output = Result<V, ApiError>> + 'a,
    {
        match self.caches.shared_for(&self.tenant) {
            Some((shared, team_id)) => {
                let entry = shared_entry(self.tenant, &key(), epochs());
                let metrics = &self.caches.metrics;
                Either::Left(Box::pin(shared.read_through(metrics, team_id, entry, fill)))
            }
            None => Either::Right(fill),
        }
    }

    pub(super) async fn inboxes(&self) -> Result<Arc<Vec<Inbox>>, ApiError> {
        let fill = || async {
            self.upstream
                .inboxes()
                .await
                .map(Arc::new)
                .map_err(ApiError::from)
        };
        self.read_through(CacheKind::Inboxes, &self.caches.inboxes, self.tenant, fill)
            .await
    }

    /// One page of templates, through the shared cache.
    pub(super) async fn template_page(
        &self,
        request: DatePageRequest,
    ) -> Result<Arc<Vec<Template>>, ApiError> {
        let fill = || async {
            self.upstream
                .list_templates(&request)
                .await
                .map(Arc::new)
                .map_err(ApiError::from)
        };
        let key = (self.tenant, request);
        self.read_through(CacheKind::Templates, &self.caches.template_pages, key, fill)
            .await
    }

    /// One tag, through the shared cache.
    pub(super) async fn tag(&self, id: i64) -> Result<Arc<Tag>, ApiError> {
        let fill = || async {
            self.upstream
                .tag(id)
                .await
                .map(Arc::new)
                .map_err(ApiError::from)
        };
        self.read_through(CacheKind::Tags, &self.caches.tags, (self.tenant, id), fill)
            .await
    }

    /// One page of tags, through the shared cache.
    pub(super) async fn tag_page(
        &self,
        request: DatePageRequest,
    ) -> Result<Arc<Vec<Tag>>, ApiError> {
        let fill = || async {
            self.upstream
                .list_tags(&request)
                .await
                .map(Arc::new)
                .map_err(ApiError::from)
        };
        let key = (self.tenant, request);
        self.read_through(CacheKind::Tags, &self.caches.tag_pages, key, fill)
            .await
    }

    /// The team's custom contact fields, through the shared cache.
    pub(super) async fn custom_fields(&self) -> Result<Arc<Vec<CustomField>>, ApiError> {
        let fill = || async {
            self.upstream
                .custom_fields()
                .await
                .map(Arc::new)
                .map_err(ApiError::from)
        };
        let cache = &self.caches.custom_fields;
        self.read_through(CacheKind::CustomFields, cache, self.tenant, fill)
            .await
    }

    /// One page of contacts, through the shared cache.
    pub(super) async fn contact_page(
        &self,
        request: DatePageRequest,
    ) -> Result<Arc<Vec<Contact>>, ApiError> {
        let fill = || async {
            self.upstream
                .list_contacts(&request)
                .await
                .map(Arc::new)
                .map_err(ApiError::from)
        };
        let key = (self.tenant, request);
        self.read_through(
            CacheKind::ContactPages,
            &self.caches.contact_pages,
            key,
            fill,
        )
        .await
    }

    pub(super) async fn team(&self) -> Result<Arc<Team>, ApiError> {
        let fill = || async {
            let team = self.upstream.team().await.map_err(ApiError::from)?;
            if let Some(team_id) = team.id {
                self.caches.register_team(self.tenant, team_id);
            }
            Ok(Arc::new(team))
        };
        self.read_through(CacheKind::Team, &self.caches.team, self.tenant, fill)
            .await
    }

    pub(super) async fn conversation(&self, id: i64) -> Result<Arc<Conversation>, ApiError> {
        let fill = || {
            let key = || format!("conversation:{id}");
            self.shared(key, || epochs::of_conversation(id), async {
                self.upstream
                    .conversation(id)
                    .await
                    .map(Arc::new)
                    .map_err(ApiError::from)
            })
        };
        self.read_through(
            CacheKind::Conversations,
            &self.caches.conversations,
            (self.tenant, id),
            fill,
        )
        .await
    }

    /// A scheduled message through the shared cache; `None` when the upstream has none (which
    /// is not cached: it may be scheduled again under a new id, never under this one).
    pub(super) async fn scheduled(&self, id: i64) -> Result<Option<Arc<Scheduled>>, ApiError> {
        let fill = || async {
            self.upstream
                .schedule(id)
                .await
                .map(Arc::new)
                .map_err(ApiError::from)
        };
        let key = (self.tenant, id);
        match self
            .read_through(CacheKind::Scheduled, &self.caches.scheduled, key, fill)
            .await
        {
            Ok(scheduled) => Ok(Some(scheduled)),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Reads a conversation past the cache (after a write) and caches what it finds.
    pub(super) async fn fresh_conversation(
        &self,
        id: i64,
    ) -> Result<Option<Arc<Conversation>>, ApiError> {
        let under_way = self.caches.fresh_reads.begin(self.tenant, id);
        match self.upstream.conversation(id).await {
            Ok(conversation) => {
                let conversation = Arc::new(conversation);
                under_way.found(Some(Arc::clone(&conversation)));
                self.remember_conversation(Arc::clone(&conversation)).await;
                Ok(Some(conversation))
            }
            Err(UpstreamError::NotFound) => {
                under_way.found(None);
                self.caches
                    .conversations
                    .invalidate(&(self.tenant, id))
                    .await;
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The conversation as the upstream has it after the event `fingerprint` names, which
    /// reports it as `reported`: the newest read past the caches when that shows `reported`
    /// or a later state (see `fresh_reads`), else [`Self::fresh_conversation`]; once for
    /// every reader that asks on the event's account, on every replica: the replicas hear
    /// each event at the same moment, and the first to ask answers the others (see
    /// `shared`).
    pub(super) async fn conversation_after(
        &self,
        fingerprint: &str,
        reported: &Conversation,
    ) -> Result<Option<Arc<Conversation>>, ApiError> {
        let id = reported.id;
        let key = (self.tenant, id, fingerprint.to_owned());
        let fill = || {
            let after = async move {
                match self.caches.fresh_reads.showing(self.tenant, reported).await {
                    Some(read) => Ok(Some(read)),
                    None => self.fresh_conversation(id).await,
                }
            };
            // Kept by no epoch: the event itself moves its conversation's.
            let key = || format!("read-after:{fingerprint}");
            self.shared(key, Vec::new, after)
        };
        self.read_through(CacheKind::EventReads, &self.caches.event_reads, key, fill)
            .await
    }

    /// The conversation as cached, if it is.
    pub(super) async fn cached_conversation(&self, id: i64) -> Option<Arc<Conversation>> {
        self.caches.conversations.get(&(self.tenant, id)).await
    }

    pub(super) async fn remember_conversation(&self, conversation: Arc<Conversation>) {
        self.caches
            .conversations
            .insert((self.tenant, conversation.id), conversation)
            .await;
    }

    /// One list page, shared by every request for the same page in the same list generation
    /// (see [`Audience`] for when members share one).
    pub(super) async fn list_page(
        &self,
        request: ConversationListRequest,
        audience: Audience,
        after: Option<SortKey>,
    ) -> Result<Arc<Vec<Conversation>>, ApiError> {
        let generation = self.caches.list_generation(self.tenant, &request.inbox_ids);
        let request = self.caches.worth_sending(request);
        let key = self.list_key(&request, audience);
        let cache = &self.caches.list_pages;
        if key != request {
            // This member's own copy, from before pages were known to be the same for all.
            let own = (self.tenant, generation, request.clone());
            if let Some(page) = cache.get(&own).await {
                self.count_lookups(CacheKind::ListPages, 1, 1);
                self.also_list_page_of(generation, key, &page).await;
                return Ok(page);
            }
        }
        if !cache.contains_key(&(self.tenant, generation, key.clone()))
            && let Some(page) = self.carried_page(generation, &key, after).await
        {
            self.count_lookups(CacheKind::ListPages, 1, 1);
            return Ok(page);
        }
        let fill = || async {
            let page = self
                .shared(
                    || list_entry_key(&key),
                    || epochs::of_list(&key.inbox_ids),
                    async {
                        self.upstream
                            .list_conversations(&request)
                            .await
                            .map(Arc::new)
                            .map_err(ApiError::from)
                    },
                )
                .await?;
            self.caches.list_page_answered(&request, &page);
            self.caches
                .generations
                .carried
                .cached(self.tenant, &key, generation);
            Ok(listed_for(page, request.member_id))
        };
        let page = self
            .read_through(
                CacheKind::ListPages,
                cache,
                (self.tenant, generation, key.clone()),
                fill,
            )
            .await?;
        // A page that taught the gateway something about the upstream (that rows name every
        // member's read state, that `assigned` is ignored) is also the page of the request it
        // would ask now.
        let settled = self.list_key(&self.caches.worth_sending(request), audience);
        if settled != key {
            self.also_list_page_of(generation, settled, &page).await;
        }
        Ok(page)
    }

    /// Caches `page` as the page of `request` too, unless that one is cached already.
    async fn also_list_page_of(
        &self,
        generation: u64,
        request: ConversationListRequest,
        page: &Arc<Vec<Conversation>>,
    ) {
        self.caches
            .generations
            .carried
            .cached(self.tenant, &request, generation);
        let key = (self.tenant, generation, request);
        let page = Arc::clone(page);
        self.caches.list_pages.entry(key).or_insert(page).await;
    }

    /// A page cached before the latest changes of its list that still answers (see
    /// `carried`): the page of `key`'s own bound, or for a walk past `after` whose cursors
    /// shifted, a page with a bound above `key`'s whose rows older than `after` are the ones
    /// asked for. The first is cached again at the list's current `generation`.
    async fn carried_page(
        &self,
        generation: u64,
        key: &ConversationListRequest,
        after: Option<SortKey>,
    ) -> Option<Arc<Vec<Conversation>>> {
        let generations = &self.caches.generations;
        let wanted = key.updated_before;
        let candidates =
            generations
                .carried
                .bounds_from(self.tenant, key, wanted, CARRY_CANDIDATES);
        for (bound, cached_at) in candidates {
            let relied = match (bound == wanted, after) {
                (true, _) => Relied::Before(bound),
                (false, Some(after)) => Relied::Through(after.at),
                (false, None) => continue,
            };
            let at_bound = ConversationListRequest {
                updated_before: bound,
                ..key.clone()
            };
            let Some(page) = self
                .caches
                .list_pages
                .get(&(self.tenant, cached_at, at_bound))
                .await
            else {
                continue;
            };
            if bound != wanted && !moves_past(&page, wanted) {
                continue;
            }
            let on_page = |id| page.iter().any(|row| row.id == id);
            if !generations.still_answers(self.tenant, &key.inbox_ids, cached_at, relied, on_page) {
                continue;
            }
            if bound == wanted && cached_at != generation {
                self.also_list_page_of(generation, key.clone(), &page).await;
            }
            return Some(page);
        }
        None
    }

    /// The key `request`'s page is cached under: the request itself, or, where `audience`
    /// allows and the upstream's rows name every member's read state, the request for no
    /// member in particular.
    fn list_key(
        &self,
        request: &ConversationListRequest,
        audience: Audience,
    ) -> ConversationListRequest {
        let for_any_member = matches!(audience, Audience::InboxMembers)
            && request.unread.is_none()
            && self.caches.list_rows_name_readers();
        match for_any_member {
            true => ConversationListRequest {
                member_id: ANY_MEMBER,
                ..request.clone()
            },
            false => request.clone(),
        }
    }

    /// A conversation count, shared like list pages.
    pub(super) async fn conversation_count(
        &self,
        request: ConversationListRequest,
    ) -> Result<u64, ApiError> {
        let generation = self.caches.list_generation(self.tenant, &request.inbox_ids);
        let fill = || {
            let key = || format!("count:{}", shared_key(&request));
            self.shared(key, || epochs::of_list(&request.inbox_ids), async {
                self.upstream
                    .count_conversations(&request)
                    .await
                    .map_err(ApiError::from)
            })
        };
        self.read_through(
            CacheKind::ConversationCounts,
            &self.caches.conversation_counts,
            (self.tenant, generation, request.clone()),
            fill,
        )
        .await
    }

    /// The tenant's verdict on how the count endpoint treats `filter`, learnt by `learn`
    /// when it is not known (one probe however many requests ask at once).
    pub(super) async fn count_verdict(
        &self,
        filter: CountedFilter,
        learn: impl Future<Output = Result<Verdict, ApiError>>,
    ) -> Result<Verdict, ApiError> {
        // Boxed: the cache's load around a probe of several counts is a large future (about
        // 30 KiB unoptimised), and inline it would size the future of every `totalCount`.
        let verdict = Box::pin(self.caches.count_verdicts.try_get_with(
            (self.tenant, filter),
            async {
                let verdict = learn.await?;
                tracing::info!(
                    ?filter,
                    ?verdict,
                    "learnt how the upstream counts conversations"
                );
                Ok(verdict)
            },
        ))
        .await
        .map_err(shared_error)?;
        Ok(verdict)
    }

    /// Whether another replica read the list whose first page `first` is in its current
    /// epochs, so that its rows' last messages are shared too: that page is in the shared
    /// cache (looked up, not decoded).
    pub(super) async fn list_shared(
        &self,
        first: &ConversationListRequest,
        audience: Audience,
    ) -> bool {
        let Some((tier, team_id)) = self.caches.shared_for(&self.tenant) else {
            return false;
        };
        let key = self.list_key(&self.caches.worth_sending(first.clone()), audience);
        let entry = shared_entry(
            self.tenant,
            &list_entry_key(&key),
            epochs::of_list(&key.inbox_ids),
        );
        let metrics = &self.caches.metrics;
        let shared = tier
            .read_many::<serde::de::IgnoredAny>(metrics, team_id, vec![entry])
            .await;
        shared.is_some_and(|shared| shared.values.iter().all(Option::is_some))
    }

    /// Whether the list whose first page `first` is was read before: that page is cached (or
    /// on its way) in the list's current generation, or was in an earlier one, so its rows'
    /// last messages are cached but for the conversations changed since. A list of several
    /// inboxes counts as read when each inbox's own list was (it is read inbox by inbox).
    pub(super) fn list_read_before(
        &self,
        first: &ConversationListRequest,
        audience: Audience,
    ) -> bool {
        let read_before = |request: &ConversationListRequest| {
            let key = self.list_key(&self.caches.worth_sending(request.clone()), audience);
            let generation = self.caches.list_generation(self.tenant, &key.inbox_ids);
            let cached = self
                .caches
                .generations
                .carried
                .bounds_from(self.tenant, &key, None, 1);
            (key, generation, !cached.is_empty())
        };
        let (key, generation, earlier) = read_before(first);
        if earlier
            || self
                .caches
                .list_pages
                .contains_key(&(self.tenant, generation, key))
        {
            return true;
        }
        first.inbox_ids.len() > 1
            && first.inbox_ids.iter().all(|&inbox| {
                read_before(&ConversationListRequest {
                    inbox_ids: vec![inbox],
                    ..first.clone()
                })
                .2
            })
    }

    /// Contacts for these addresses (see [`super::contact_address`]): cached and in-flight
    /// ones as they are, the rest in one search by phone and one by email.
    pub(super) async fn contacts(
        &self,
        addresses: Vec<String>,
    ) -> Result<HashMap<String, Arc<Contact>>, ApiError> {
        let tenant = self.tenant;
        let upstream = self.upstream.clone();
        let shared = self
            .caches
            .shared_for(&tenant)
            .map(|(tier, team_id)| (Arc::clone(tier), team_id));
        let metrics = self.caches.metrics.clone();
        let search: BatchFetch<(TenantKey, String), Arc<Contact>> =
            Arc::new(move |keys: Vec<(TenantKey, String)>| {
                let upstream = upstream.clone();
                let shared = shared.clone();
                let metrics = metrics.clone();
                async move {
                    let addresses = keys.into_iter().map(|(_, address)| address).collect();
                    let found = match shared {
                        Some((tier, team_id)) => {
                            let search = |addresses| search_contacts(&upstream, addresses);
                            shared_contacts(&tier, &metrics, tenant, team_id, addresses, search)
                                .await?
                        }
                        None => search_contacts(&upstream, addresses).await?,
                    };
                    Ok(found
                        .into_iter()
                        .map(|(address, contact)| ((tenant, address), Ok(contact)))
                        .collect())
                }
                .boxed()
            });
        let keys: Vec<_> = addresses
            .into_iter()
            .map(|address| (tenant, address))
            .collect();
        self.count_lookups(
            CacheKind::Contacts,
            keys.len(),
            self.caches.contacts.present(&keys),
        );
        let mut found = HashMap::new();
        for ((_, address), contact) in self.caches.contacts.get_many(keys, search).await {
            if let Some(contact) = contact? {
                found.insert(address, contact);
            }
        }
        Ok(found)
    }

    /// One contact by id, through the shared cache; `NotFound` when there is none.
    pub(super) async fn contact_by_id(&self, id: i64) -> Result<Arc<Contact>, ApiError> {
        let fill = || async {
            self.upstream
                .contact(id)
                .await
                .map(Arc::new)
                .map_err(ApiError::from)
        };
        self.read_through(
            CacheKind::Contacts,
            &self.caches.contacts_by_id,
            (self.tenant, id),
            fill,
        )
        .await
    }

    /// The contact with this phone as the upstream has it now, past the cache.
    pub(super) async fn current_contact(
        &self,
        phone: &str,
    ) -> Result<Option<Arc<Contact>>, ApiError> {
        let phones = [phone.to_owned()];
        let contacts = self.upstream.search_contacts_by_phone(&phones).await?;
        Ok(by_phone(contacts, &phones).remove(phone))
    }

    /// One page of a conversation's history: the newest, or the one `timestamp` `before`
    /// (Unix seconds) bounds. A 404 is an empty history: the inbox has no conversation with
    /// that phone, which one reading of the docs answers `[]` and another 404 (§13.12).
    pub(super) async fn history(
        &self,
        phone: &str,
        inbox_id: i64,
        before: Option<i64>,
    ) -> Result<Arc<Vec<Message>>, ApiError> {
        let fill = || {
            let key = || format!("history:{inbox_id}:{before:?}:{phone}");
            self.shared(key, || epochs::of_history(phone), async {
                match self.upstream.message_history(phone, inbox_id, before).await {
                    Ok(page) => Ok(Arc::new(page)),
                    Err(UpstreamError::NotFound) => Ok(Arc::default()),
                    Err(error) => Err(error.into()),
                }
            })
        };
        self.read_through(
            CacheKind::Histories,
            &self.caches.histories,
            (self.tenant, phone.to_owned(), inbox_id, before),
            fill,
        )
        .await
    }
}

/// Cached pages a walk's page is looked for among, nearest bound first (see `carried`).
const CARRY_CANDIDATES: usize = 6;

/// Whether a walk asking for rows before `wanted` moves past it with `page`: the page holds a
/// row older than the microsecond before `wanted` (the walk holds back the oldest instant of a
/// page, and asks next for the rows up to it).
fn moves_past(page: &[Conversation], wanted: Option<DateTime<Utc>>) -> bool {
    let oldest = page.iter().filter_map(|row| row.updated).min();
    match (oldest, wanted) {
        (Some(oldest), Some(wanted)) => oldest + TimeDelta::microseconds(1) < wanted,
        _ => false,
    }
}

/// The member id of a list page's key when its rows are the same for every member of its
/// inboxes (never sent: member ids are positive).
const ANY_MEMBER: i64 = 0;

/// Who may be shown a conversation list page, which decides whether members share it.
///
/// A page's rows are the same for every member of the inboxes it lists, but for their read
/// state and the `unread` filter: those are the requesting member's (the list body's `id`,
/// heymarket-api.md §6.1). Where the upstream's rows name every member's read state
/// (`unread_users`, learnt from its answers), a page without that filter can be shown to any
/// member of its inboxes, and one upstream call serves them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The request's member only: its membership of the inboxes has not been checked yet, so
    /// its page must not answer another member (it may be a refusal naming it).
    Member,
    /// Any member of the page's inboxes: the request's member is known to belong to all of
    /// them.
    InboxMembers,
}

/// `page` as answered to `member`'s list: the read state its rows carry is that member's.
fn listed_for(page: Arc<Vec<Conversation>>, member: i64) -> Arc<Vec<Conversation>> {
    if page.iter().all(|row| row.listed_for == Some(member)) {
        return page;
    }
    let mut rows = Arc::unwrap_or_clone(page);
    for row in &mut rows {
        row.listed_for = Some(member);
    }
    Arc::new(rows)
}

/// A request as the shared cache keys it: the body the upstream is sent, which is what decides
/// its answer (a list page any member of its inboxes may see names no member: see
/// [`Audience`]).
pub(super) fn shared_key(request: &(impl Serialize + std::fmt::Debug)) -> String {
    serde_json::to_string(request).unwrap_or_else(|_| format!("{request:?}"))
}

/// The entry `tenant`'s `key` is shared under, kept by `epochs` (see `shared`): tenants never
/// read each other's.
pub(super) fn shared_entry(tenant: TenantKey, key: &str, epochs: Vec<Epoch>) -> SharedEntry {
    SharedEntry {
        key: format!("{}:{key}", tenant.hex()),
        epochs,
    }
}

/// The key a list page is shared under (see [`Source::shared`]), before its tenant.
fn list_entry_key(key: &ConversationListRequest) -> String {
    format!("list:{}", shared_key(key))
}

/// The contacts at `addresses` (phones and email addresses), in one search of each kind.
async fn search_contacts(
    upstream: &TenantClient,
    addresses: Vec<String>,
) -> Result<HashMap<String, Arc<Contact>>, ApiError> {
    let (emails, phones): (Vec<String>, Vec<String>) = addresses
        .into_iter()
        .partition(|address| address.contains('@'));
    let (by_phone_found, by_email_found) = futures::try_join!(
        async {
            match phones.is_empty() {
                true => Ok(Vec::new()),
                false => upstream.search_contacts_by_phone(&phones).await,
            }
        },
        async {
            match emails.is_empty() {
                true => Ok(Vec::new()),
                false => upstream.search_contacts_by_email(&emails).await,
            }
        },
    )?;
    Ok(by_phone(by_phone_found, &phones)
        .into_iter()
        .chain(by_email(by_email_found, &emails))
        .collect())
}

/// The contacts at `addresses` as the other replicas found them (an address with no contact
/// included), and `search`'s for the rest, which are then kept for them too (see `shared`):
/// replicas that miss the same address at once search it once.
async fn shared_contacts<Search>(
    tier: &SharedTier,
    metrics: &LoaderMetrics,
    tenant: TenantKey,
    team_id: i64,
    addresses: Vec<String>,
    search: impl Fn(Vec<String>) -> Search,
) -> Result<HashMap<String, Arc<Contact>>, ApiError>
where
    Search: Future<Output = Result<HashMap<String, Arc<Contact>>, ApiError>>,
{
    let entries = addresses
        .iter()
        .map(|address| shared_entry(tenant, &format!("contact:{address}"), epochs::of_contacts()))
        .collect();
    // An address searched without a contact is kept, and answered, as having none.
    let search_each = |addresses: Vec<String>| {
        let searched = search(addresses.clone());
        async move {
            let searched = searched.await?;
            let each: Vec<Option<Arc<Contact>>> = addresses
                .iter()
                .map(|address| searched.get(address).cloned())
                .collect();
            Ok(each)
        }
    };
    let found = tier
        .read_many_through(metrics, team_id, entries, addresses, search_each)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(address, contact)| Some((address, contact?)))
        .collect())
}

fn by_email(contacts: Vec<Contact>, emails: &[String]) -> HashMap<String, Arc<Contact>> {
    let mut by_address: HashMap<String, Arc<Contact>> = HashMap::with_capacity(contacts.len());
    for contact in contacts {
        if let Some(email) = contact.email.as_deref().map(|e| e.trim().to_lowercase()) {
            by_address.entry(email).or_insert_with(|| Arc::new(contact));
        }
    }
    emails
        .iter()
        .filter_map(|email| Some((email.clone(), Arc::clone(by_address.get(email)?))))
        .collect()
}

/// Search results by the phones asked for, matched on digits only (so `+1 415…` and `1415…`
/// name the same number).
fn by_phone(contacts: Vec<Contact>, phones: &[String]) -> HashMap<String, Arc<Contact>> {
    let digits = |phone: &str| -> String { phone.chars().filter(char::is_ascii_digit).collect() };
    let mut by_digits: HashMap<String, Arc<Contact>> = HashMap::with_capacity(contacts.len());
    for contact in contacts {
        if let Some(phone) = contact.phone.as_deref().map(digits) {
            by_digits.entry(phone).or_insert_with(|| Arc::new(contact));
        }
    }
    phones
        .iter()
        .filter_map(|phone| Some((phone.clone(), Arc::clone(by_digits.get(&digits(phone))?))))
        .collect()
}
