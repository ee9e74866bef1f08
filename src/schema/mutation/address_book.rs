//! `createContact` and `updateContact`: the team's address book, through `POST /v1/contact`
//! and `PUT /v1/contact/{id}` (heymarket-api.md §9.1). Every input is checked before the
//! write, including what the upstream would drop without a word (a custom value under an
//! unknown field).

use std::collections::BTreeMap;

use async_graphql::{Context, ID, InputObject, Object};
use futures::future::try_join_all;

use super::payload::contact_payload;
use super::subject::forget_written_contacts;
use super::user_error::{Failure, UserError, UserErrorCode, rejected};
use crate::email_address;
use crate::error::ApiError;
use crate::phone;
use crate::schema::context::RequestContext;
use crate::schema::node::{GlobalId, NodeKind};
use crate::schema::scalars::Int64;
use crate::schema::types::Contact;
use crate::upstream::models;
use crate::upstream::requests::{ContactWrite, TagRef};

/// Most tags a contact carries ("`tags:[{tag_id}]` (max 5)").
const MAX_TAGS: usize = 5;

/// Most custom values one change may set, and the longest value: bounds on a request's work.
const MAX_FIELD_VALUES: usize = 50;
const MAX_VALUE_CHARS: usize = 4096;

/// One custom field's value in a contact change.
#[derive(InputObject)]
pub(crate) struct CustomFieldInput {
    /// The field (`CustomField.databaseId`).
    pub field_id: Int64,
    /// Its value; empty clears it.
    pub value: String,
}

/// Input of `createContact`.
#[derive(InputObject)]
pub(crate) struct CreateContactInput {
    /// The customer's number, in any common format; required, and new to the team.
    pub phone: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email address, e.g. `name@example.com`.
    pub email: Option<String>,
    /// The contact's tags (their global ids), at most five.
    pub tag_ids: Option<Vec<ID>>,
    /// Custom field values, each under one of the team's fields (`customFields`).
    pub custom_fields: Option<Vec<CustomFieldInput>>,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

/// Input of `updateContact`: a field left out (or null) stays as it is.
#[derive(InputObject)]
pub(crate) struct UpdateContactInput {
    /// The contact's global `id`.
    pub contact_id: ID,
    /// A new number, in any common format, no other contact's.
    pub phone: Option<String>,
    /// A new first name; empty clears it.
    pub first_name: Option<String>,
    /// A new last name; empty clears it.
    pub last_name: Option<String>,
    /// A new email address; empty clears it.
    pub email: Option<String>,
    /// The contact's whole set of tags (their global ids), at most five; `[]` removes them all.
    pub tag_ids: Option<Vec<ID>>,
    /// Custom values to set; the contact's other values stay. An empty value clears one.
    pub custom_fields: Option<Vec<CustomFieldInput>>,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

contact_payload!(CreateContactPayload, "Result of `createContact`.");
contact_payload!(UpdateContactPayload, "Result of `updateContact`.");

/// Additions and changes to the address book.
#[derive(Default)]
pub(crate) struct AddressBookMutations;

#[Object]
impl AddressBookMutations {
    /// Adds a contact to the team's address book. Contacts are the team's, so any member may.
    /// User errors: `INVALID_PHONE`, `INVALID_EMAIL`, `CONTACT_EXISTS` (the number is
    /// another contact's), `TOO_MANY_TAGS`, `UPSTREAM_REJECTED`. An unknown tag or custom
    /// field is a `NOT_FOUND` error, checked before anything is written.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new contact.")] input: CreateContactInput,
    ) -> Result<Option<CreateContactPayload>, ApiError> {
        let client_mutation_id = input.client_mutation_id.clone();
        let result = create(ctx, input).await;
        CreateContactPayload::settle(client_mutation_id, result)
    }

    /// Changes a contact; what the input leaves out stays as it is. Contacts are the team's,
    /// so any member may. User errors and errors as for `createContact`.
    async fn update_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact and what changes.")] input: UpdateContactInput,
    ) -> Result<Option<UpdateContactPayload>, ApiError> {
        let client_mutation_id = input.client_mutation_id.clone();
        let result = update(ctx, input).await;
        UpdateContactPayload::settle(client_mutation_id, result)
    }
}

async fn create(ctx: &Context<'_>, input: CreateContactInput) -> Result<Contact, Failure> {
    let context = RequestContext::of(ctx)?;
    context.acting_member().await?;
    let phone = checked_phone(&input.phone)?;
    let email = input.email.map(checked_email).transpose()?;
    let (tags, custom) = futures::try_join!(
        checked_tags(context, input.tag_ids),
        checked_values(context, input.custom_fields),
    )?;
    if context
        .loaders
        .current_contact_by_phone(&phone)
        .await?
        .is_some()
    {
        return Err(contact_exists(&phone).into());
    }
    let write = ContactWrite {
        phone: phone.clone(),
        first: input.first_name,
        last: input.last_name,
        email,
        custom,
        tags: tags.unwrap_or_default(),
        is_opted_out: None,
    };
    let written = context.upstream().create_contact(&write).await;
    let addresses = [Some(phone.as_str()), write.email.as_deref()];
    forget_written_contacts(context, None, addresses.into_iter().flatten()).await;
    let id = written.map_err(rejected)?;
    read_back(context, id).await
}

async fn update(ctx: &Context<'_>, input: UpdateContactInput) -> Result<Contact, Failure> {
    let context = RequestContext::of(ctx)?;
    let id = GlobalId::parse_as(&input.contact_id, NodeKind::Contact)?;
    context.acting_member().await?;
    let new_phone = input.phone.as_deref().map(checked_phone).transpose()?;
    let email = input.email.map(checked_email).transpose()?;
    let (tags, custom, current) = futures::try_join!(
        checked_tags(context, input.tag_ids),
        checked_values(context, input.custom_fields),
        async {
            let contact = context.loaders.current_contact(id).await?;
            contact.ok_or_else(|| Failure::from(ApiError::NotFound(format!("no contact {id}"))))
        },
    )?;
    let old_phone = current
        .phone
        .clone()
        .filter(|phone| !phone.trim().is_empty());
    let phone = new_phone
        .clone()
        .or_else(|| old_phone.clone())
        .ok_or_else(|| {
            ApiError::bad_input(
                "the contact has no phone number; give `phone`, which Heymarket requires",
            )
        })?;
    if let Some(new_phone) = new_phone.filter(|new| Some(new) != old_phone.as_ref()) {
        let holder = context.loaders.current_contact_by_phone(&new_phone).await?;
        if holder.is_some_and(|holder| holder.id != id) {
            return Err(contact_exists(&new_phone).into());
        }
    }
    // The update overwrites the names, and perhaps more: it carries everything the contact
    // keeps, so that no reading of it loses a field.
    let mut values: BTreeMap<String, String> = current
        .custom_values()
        .into_iter()
        .map(|(field, value)| (field.to_string(), value))
        .collect();
    values.extend(custom);
    let write = ContactWrite {
        phone: phone.clone(),
        first: input.first_name.or_else(|| current.first_name.clone()),
        last: input.last_name.or_else(|| current.last_name.clone()),
        email: email.or_else(|| current.email.clone()),
        custom: values,
        tags: tags.unwrap_or_else(|| tag_refs(current.tag_ids())),
        is_opted_out: current.is_opted_out,
    };
    let written = context.upstream().update_contact(id, &write).await;
    let addresses = [
        old_phone.as_deref(),
        Some(phone.as_str()),
        current.email.as_deref(),
        write.email.as_deref(),
    ];
    forget_written_contacts(context, Some(id), addresses.into_iter().flatten()).await;
    written.map_err(rejected)?;
    read_back(context, id).await
}

async fn read_back(context: &RequestContext, id: i64) -> Result<Contact, Failure> {
    let contact = context.loaders.current_contact(id).await?;
    let contact = contact.ok_or_else(|| ApiError::NotFound(format!("contact {id} is gone")))?;
    Ok(Contact(contact))
}

fn checked_phone(raw: &str) -> Result<String, UserError> {
    phone::normalize(raw).ok_or_else(|| {
        UserError::on(
            "phone",
            UserErrorCode::InvalidPhone,
            "a phone number needs 10 (US) or 11 to 15 digits, e.g. +1 415 555 0100",
        )
    })
}

/// An address, lowercased; empty clears it.
fn checked_email(raw: String) -> Result<String, UserError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() || email_address::is_plain(&email) {
        return Ok(email);
    }
    Err(UserError::on(
        "email",
        UserErrorCode::InvalidEmail,
        format!("`{email}` is not an email address like name@example.com"),
    ))
}

/// The tags `ids` name, each of the team's, at most five.
async fn checked_tags(
    context: &RequestContext,
    ids: Option<Vec<ID>>,
) -> Result<Option<Vec<TagRef>>, Failure> {
    let Some(ids) = ids else {
        return Ok(None);
    };
    let mut ids = ids
        .iter()
        .map(|id| GlobalId::parse_as(id, NodeKind::Tag))
        .collect::<Result<Vec<i64>, ApiError>>()?;
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_TAGS {
        return Err(UserError::on(
            "tagIds",
            UserErrorCode::TooManyTags,
            format!("a contact carries at most {MAX_TAGS} tags"),
        )
        .into());
    }
    let tags = try_join_all(ids.iter().map(|&id| context.loaders.tag(id))).await?;
    if let Some((id, _)) = ids.iter().zip(&tags).find(|(_, tag)| tag.is_none()) {
        return Err(ApiError::NotFound(format!("no tag {id}")).into());
    }
    Ok(Some(tag_refs(ids)))
}

fn tag_refs(ids: Vec<i64>) -> Vec<TagRef> {
    ids.into_iter().map(|tag_id| TagRef { tag_id }).collect()
}

/// The values keyed by field-id strings, each under one of the team's fields: the upstream
/// accepts other keys and drops them without a word.
async fn checked_values(
    context: &RequestContext,
    values: Option<Vec<CustomFieldInput>>,
) -> Result<BTreeMap<String, String>, Failure> {
    let values = values.unwrap_or_default();
    if values.is_empty() {
        return Ok(BTreeMap::new());
    }
    if values.len() > MAX_FIELD_VALUES {
        return Err(ApiError::bad_input(format!(
            "at most {MAX_FIELD_VALUES} custom values at once"
        ))
        .into());
    }
    if values
        .iter()
        .any(|v| v.value.chars().count() > MAX_VALUE_CHARS)
    {
        return Err(ApiError::bad_input(format!(
            "a custom value has at most {MAX_VALUE_CHARS} characters"
        ))
        .into());
    }
    let fields = context.loaders.custom_fields().await?;
    let known = |id: i64| {
        fields
            .iter()
            .any(|field: &models::CustomField| field.id == id)
    };
    if let Some(unknown) = values.iter().find(|value| !known(value.field_id.0)) {
        return Err(ApiError::NotFound(format!("no custom field {}", unknown.field_id.0)).into());
    }
    Ok(values
        .into_iter()
        .map(|value| (value.field_id.0.to_string(), value.value))
        .collect())
}

fn contact_exists(phone: &str) -> UserError {
    UserError::on(
        "phone",
        UserErrorCode::ContactExists,
        format!("the team already has a contact with phone {phone}"),
    )
}
