//! The team's address book beyond look-ups: tags and custom fields, and contacts created and
//! changed through `POST /v1/contact` and `PUT /v1/contact/{id}` (heymarket-api.md §9.1, §9.5).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::TeamStore;
use super::records::{Contact, CustomField, FIRST_CONTACT_ID, MAX_CONTACT_TAGS, Tag};
use crate::error::{ApiError, ApiResult};
use crate::wire::uuid_from_bits;

/// A contact's fields as a create or an update carries them, present and well-formed; the
/// store checks them against the data.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContactFields {
    /// Normalised.
    pub(crate) phone: String,
    pub(crate) first: Option<String>,
    pub(crate) last: Option<String>,
    /// Lowercased; `Some("")` clears it.
    pub(crate) email: Option<String>,
    /// Values by field-id string, as sent; keys that name no field are dropped.
    pub(crate) custom: Option<BTreeMap<String, String>>,
    pub(crate) tags: Option<Vec<i64>>,
    pub(crate) opted_out: Option<bool>,
}

impl TeamStore {
    pub(crate) fn tag(&self, id: i64) -> Option<&Tag> {
        self.tags.iter().find(|tag| tag.id == id)
    }

    pub(crate) fn custom_fields(&self) -> &[CustomField] {
        &self.custom_fields
    }

    /// One page of tags, `updated` descending (ties by `id` descending), strictly before
    /// `before`.
    pub(crate) fn list_tags(&self, before: Option<DateTime<Utc>>, page_size: usize) -> Vec<&Tag> {
        super::newest_before(&self.tags, |t| (t.updated, t.id), before, page_size)
    }

    /// A new contact; its id. Its phone must be new to the team.
    pub(crate) fn create_contact(&mut self, fields: ContactFields, creator: i64) -> ApiResult<i64> {
        if self.contact_by_phone(&fields.phone).is_some() {
            return Err(ApiError::bad_data(format!(
                "a contact with phone {} already exists",
                fields.phone
            )));
        }
        let tags = self.checked_tags(fields.tags.clone().unwrap_or_default())?;
        let custom = self.known_values(fields.custom.clone().unwrap_or_default());
        let now = self.now();
        let id = FIRST_CONTACT_ID + self.contacts.len() as i64;
        let contact = Contact {
            id,
            uuid: uuid_from_bits(u128::from(id.unsigned_abs()) << 64 | 0xc0de),
            first: fields.first.unwrap_or_default(),
            last: fields.last.unwrap_or_default(),
            email: fields.email.unwrap_or_default(),
            phone: fields.phone,
            creator,
            assigned_user: 0,
            opted_out: fields.opted_out.unwrap_or(false),
            blocked: false,
            created: now,
            updated: now,
            custom,
            tags,
        };
        self.index_contact(self.contacts.len(), &contact);
        self.contacts.push(contact);
        Ok(id)
    }

    /// Changes contact `id` as `PUT /v1/contact/{id}` does: names are always overwritten (an
    /// absent one is cleared), custom values are merged, or replaced with `overwrite`; tags,
    /// email and opt-out change only when given. `None` when there is no such contact.
    pub(crate) fn put_contact(
        &mut self,
        id: i64,
        fields: ContactFields,
        overwrite: bool,
    ) -> ApiResult<Option<()>> {
        let Some(index) = self.contact_index(id) else {
            return Ok(None);
        };
        if self
            .contact_by_phone(&fields.phone)
            .is_some_and(|other| other.id != id)
        {
            return Err(ApiError::bad_data(format!(
                "another contact has phone {}",
                fields.phone
            )));
        }
        let tags = fields
            .tags
            .clone()
            .map(|tags| self.checked_tags(tags))
            .transpose()?;
        let custom = fields
            .custom
            .clone()
            .map(|custom| self.known_values(custom));
        let now = self.now();
        let old = self.contacts[index].clone();
        self.contact_by_phone.remove(&old.phone);
        self.contact_by_email.remove(&old.email);
        let contact = &mut self.contacts[index];
        contact.phone = fields.phone;
        contact.first = fields.first.unwrap_or_default();
        contact.last = fields.last.unwrap_or_default();
        if let Some(email) = fields.email {
            contact.email = email;
        }
        if let Some(custom) = custom {
            if overwrite {
                contact.custom = custom;
            } else {
                contact.custom.extend(custom);
            }
        }
        if let Some(tags) = tags {
            contact.tags = tags;
        }
        if let Some(opted_out) = fields.opted_out {
            contact.opted_out = opted_out;
        }
        contact.updated = now;
        let contact = contact.clone();
        self.index_contact(index, &contact);
        Ok(Some(()))
    }

    fn contact_index(&self, id: i64) -> Option<usize> {
        self.contact(id)?;
        usize::try_from(id.checked_sub(FIRST_CONTACT_ID)?).ok()
    }

    fn index_contact(&mut self, index: usize, contact: &Contact) {
        self.contact_by_phone.insert(contact.phone.clone(), index);
        if !contact.email.is_empty() {
            self.contact_by_email.insert(contact.email.clone(), index);
        }
    }

    /// At most five tags, each of the team's.
    fn checked_tags(&self, mut tags: Vec<i64>) -> ApiResult<Vec<i64>> {
        tags.dedup();
        if tags.len() > MAX_CONTACT_TAGS {
            return Err(ApiError::bad_data(format!(
                "a contact has at most {MAX_CONTACT_TAGS} tags"
            )));
        }
        if let Some(unknown) = tags.iter().find(|&&id| self.tag(id).is_none()) {
            return Err(ApiError::bad_data(format!("tag {unknown} does not exist")));
        }
        Ok(tags)
    }

    /// The values whose key is a field id; others are dropped, as Heymarket is seen to do
    /// ("title keys are accepted with 200 but silently dropped", §9.1).
    fn known_values(&self, custom: BTreeMap<String, String>) -> BTreeMap<i64, String> {
        custom
            .into_iter()
            .filter_map(|(key, value)| {
                let id: i64 = key.trim().parse().ok()?;
                self.custom_fields
                    .iter()
                    .any(|field| field.id == id)
                    .then_some((id, value))
            })
            .collect()
    }
}
