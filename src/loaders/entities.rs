//! The batch functions behind [`super::Loaders`].
//!
//! A DataLoader error fails every key of its batch, so loaders whose keys are fetched one call
//! each carry per-key failures in their values instead: one missing conversation must not blank
//! the other twenty-nine on a page.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use futures::future::join_all;

use crate::error::ApiError;
use crate::upstream::models::{Contact, Conversation, Message};
use crate::upstream::{Error as UpstreamError, TenantClient};

/// `GET /v1/conversations/{id}`, one call per id (the API has no batch form).
pub(super) struct ConversationsById(pub(super) TenantClient);

impl Loader<i64> for ConversationsById {
    type Value = Result<Arc<Conversation>, ApiError>;
    type Error = ApiError;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let calls = ids
            .iter()
            .map(|&id| async move { (id, self.0.conversation(id).await) });
        Ok(join_all(calls)
            .await
            .into_iter()
            .filter_map(|(id, result)| match result {
                Ok(conversation) => Some((id, Ok(Arc::new(conversation)))),
                Err(UpstreamError::NotFound) => None,
                Err(error) => Some((id, Err(error.into()))),
            })
            .collect())
    }
}

/// `POST /v2/contacts/search`: every phone of the batch in one search (the client splits it
/// into the upstream's maximum per request).
pub(super) struct ContactsByPhone(pub(super) TenantClient);

impl Loader<String> for ContactsByPhone {
    type Value = Arc<Contact>;
    type Error = ApiError;

    async fn load(&self, phones: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        let contacts = self.0.search_contacts_by_phone(phones).await?;
        // Match on digits only, so `+1 415…` and `1415…` name the same number.
        let mut by_digits: HashMap<String, Arc<Contact>> = HashMap::with_capacity(contacts.len());
        for contact in contacts {
            if let Some(phone) = contact.phone.as_deref().map(digits) {
                by_digits.entry(phone).or_insert_with(|| Arc::new(contact));
            }
        }
        Ok(phones
            .iter()
            .filter_map(|phone| Some((phone.clone(), Arc::clone(by_digits.get(&digits(phone))?))))
            .collect())
    }
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// `GET /v1/messages`: the newest messages of one conversation, addressed by phone and inbox.
pub(super) struct LatestMessages(pub(super) TenantClient);

impl Loader<(String, i64)> for LatestMessages {
    type Value = Result<Arc<Vec<Message>>, ApiError>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(String, i64)],
    ) -> Result<HashMap<(String, i64), Self::Value>, Self::Error> {
        let calls = keys.iter().map(|key| async move {
            let (phone, inbox_id) = key;
            let history = self.0.message_history(phone, *inbox_id, None).await;
            (key.clone(), history.map(Arc::new).map_err(ApiError::from))
        });
        Ok(join_all(calls).await.into_iter().collect())
    }
}
