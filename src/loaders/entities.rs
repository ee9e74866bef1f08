//! The batch functions behind [`super::Loaders`], each reading through the shared caches.
//!
//! A DataLoader error fails every key of its batch, so loaders whose keys are fetched one call
//! each carry per-key failures in their values instead: one missing conversation must not blank
//! the other twenty-nine on a page.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use futures::future::join_all;

use super::Source;
use super::last_message::{LastMessage, LastMessageTarget};
use crate::error::ApiError;
use crate::upstream::models::{Contact, Conversation, Message};

/// `GET /v1/conversations/{id}`, one call per id (the API has no batch form).
pub(super) struct ConversationsById(pub(super) Arc<Source>);

impl Loader<i64> for ConversationsById {
    type Value = Result<Arc<Conversation>, ApiError>;
    type Error = ApiError;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        self.0.observe_batch("conversations", ids.len());
        let lookups = ids
            .iter()
            .map(|&id| async move { (id, self.0.conversation(id).await) });
        Ok(join_all(lookups)
            .await
            .into_iter()
            .filter_map(|(id, result)| match result {
                Ok(conversation) => Some((id, Ok(conversation))),
                Err(ApiError::NotFound(_)) => None,
                Err(error) => Some((id, Err(error))),
            })
            .collect())
    }
}

/// `POST /v2/contacts/search`: every phone of the batch in one search, every email address in
/// another (keys are [`super::contact_address`]es).
pub(super) struct ContactsByAddress(pub(super) Arc<Source>);

impl Loader<String> for ContactsByAddress {
    type Value = Arc<Contact>;
    type Error = ApiError;

    async fn load(
        &self,
        addresses: &[String],
    ) -> Result<HashMap<String, Self::Value>, Self::Error> {
        self.0.observe_batch("contacts", addresses.len());
        self.0.contacts(addresses.to_vec()).await
    }
}

/// `GET /v1/messages`: pages of one conversation's history, addressed by phone, inbox and an
/// optional `timestamp` bound.
pub(super) struct Histories(pub(super) Arc<Source>);

/// Phone, inbox, and the page's bound (`None` for the newest page).
pub(super) type HistoryPage = (String, i64, Option<i64>);

impl Loader<HistoryPage> for Histories {
    type Value = Result<Arc<Vec<Message>>, ApiError>;
    type Error = ApiError;

    async fn load(
        &self,
        pages: &[HistoryPage],
    ) -> Result<HashMap<HistoryPage, Self::Value>, Self::Error> {
        self.0.observe_batch("histories", pages.len());
        let lookups = pages.iter().map(|page| async move {
            (page.clone(), self.0.history(&page.0, page.1, page.2).await)
        });
        Ok(join_all(lookups).await.into_iter().collect())
    }
}

/// The last message of each conversation of a batch, found with as few upstream calls as the
/// API allows (see [`super::last_message`]).
pub(super) struct LastMessages(pub(super) Arc<Source>);

impl Loader<LastMessageTarget> for LastMessages {
    type Value = LastMessage;
    type Error = ApiError;

    async fn load(
        &self,
        targets: &[LastMessageTarget],
    ) -> Result<HashMap<LastMessageTarget, Self::Value>, Self::Error> {
        self.0.observe_batch("last_messages", targets.len());
        Ok(self
            .0
            .last_messages(targets.to_vec())
            .await
            .into_iter()
            .collect())
    }
}
