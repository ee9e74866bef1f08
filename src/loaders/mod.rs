//! Upstream entities as one operation needs them: each fetched at most once per operation, and
//! concurrent look-ups of the same kind batched into as few upstream calls as the API allows.
//!
//! Loaders are per operation (see [`Loaders::new`]) and hold one tenant's upstream handle, so
//! nothing they keep can answer another tenant's request.

mod entities;

use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use tokio::sync::OnceCell;

use crate::error::ApiError;
use crate::upstream::TenantClient;
use crate::upstream::models::{Contact, Conversation, Inbox, Message, Team, TeamMember};
use entities::{ContactsByPhone, ConversationsById, LatestMessages};

/// One operation's view of the upstream.
pub struct Loaders {
    upstream: TenantClient,
    inboxes: OnceCell<Arc<Vec<Inbox>>>,
    team: OnceCell<Arc<Team>>,
    conversations: DataLoader<ConversationsById, HashMapCache>,
    contacts: DataLoader<ContactsByPhone, HashMapCache>,
    latest_messages: DataLoader<LatestMessages, HashMapCache>,
}

impl Loaders {
    pub fn new(upstream: TenantClient) -> Self {
        Self {
            conversations: cached(ConversationsById(upstream.clone())),
            contacts: cached(ContactsByPhone(upstream.clone())),
            latest_messages: cached(LatestMessages(upstream.clone())),
            upstream,
            inboxes: OnceCell::new(),
            team: OnceCell::new(),
        }
    }

    /// The tenant's upstream handle, for calls no loader covers (lists, writes).
    pub fn upstream(&self) -> &TenantClient {
        &self.upstream
    }

    /// Every inbox the tenant can access (`GET /v1/inboxes`, once per operation).
    pub async fn inboxes(&self) -> Result<Arc<Vec<Inbox>>, ApiError> {
        let inboxes = self
            .inboxes
            .get_or_try_init(|| async { self.upstream.inboxes().await.map(Arc::new) })
            .await?;
        Ok(Arc::clone(inboxes))
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

    /// The team and its members (`GET /v1/team`, once per operation).
    pub async fn team(&self) -> Result<Arc<Team>, ApiError> {
        let team = self
            .team
            .get_or_try_init(|| async { self.upstream.team().await.map(Arc::new) })
            .await?;
        Ok(Arc::clone(team))
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

    /// Remembers conversations that arrived some other way (a list page, a message), so fields
    /// that need them later in the operation do not fetch them again.
    pub async fn prime_conversations(
        &self,
        conversations: impl IntoIterator<Item = Arc<Conversation>>,
    ) {
        let values = conversations
            .into_iter()
            .map(|conversation| (conversation.id, Ok(conversation)));
        self.conversations.feed_many(values).await;
    }

    /// Reads a conversation again after a write changed it, so fields later in the operation see
    /// it as it is now rather than as it was first loaded. `None` when it no longer exists.
    pub async fn reload_conversation(
        &self,
        id: i64,
    ) -> Result<Option<Arc<Conversation>>, ApiError> {
        match self.upstream.conversation(id).await {
            Ok(conversation) => {
                let conversation = Arc::new(conversation);
                self.conversations
                    .feed_one(id, Ok(Arc::clone(&conversation)))
                    .await;
                Ok(Some(conversation))
            }
            Err(crate::upstream::Error::NotFound) => {
                // The loader has no per-key removal; dropping every cached conversation is
                // cheap within one operation and leaves no stale copy behind.
                self.conversations.clear::<i64>();
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Forgets every conversation's newest messages: after a write, any of them may be out of
    /// date (a send adds a message, a transfer moves a history to another inbox).
    pub fn forget_messages(&self) {
        self.latest_messages.clear::<(String, i64)>();
    }

    /// One contact by id (`GET /v1/contact/{id}`); `None` when there is none.
    pub async fn contact(&self, id: i64) -> Result<Option<Arc<Contact>>, ApiError> {
        match self.upstream.contact(id).await {
            Ok(contact) => Ok(Some(Arc::new(contact))),
            Err(crate::upstream::Error::NotFound) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The contact with this phone number (E.164 digits), batched with every other phone looked
    /// up in the same tick into one search.
    pub async fn contact_by_phone(&self, phone: &str) -> Result<Option<Arc<Contact>>, ApiError> {
        self.contacts.load_one(phone.to_owned()).await
    }

    /// The newest messages (up to the upstream's 50) of the conversation with `phone` in
    /// `inbox_id`, newest first.
    pub async fn latest_messages(
        &self,
        phone: &str,
        inbox_id: i64,
    ) -> Result<Arc<Vec<Message>>, ApiError> {
        let history = self
            .latest_messages
            .load_one((phone.to_owned(), inbox_id))
            .await?;
        history.unwrap_or_else(|| Ok(Arc::default()))
    }
}

/// A DataLoader that also remembers every value for the rest of the operation.
fn cached<T: Send + Sync + 'static>(loader: T) -> DataLoader<T, HashMapCache> {
    DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default())
}
