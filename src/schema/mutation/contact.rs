//! `setContactOptOut`: a customer's consent to the team's messages.

use async_graphql::{Context, ID, InputObject, Object};

use super::payload::contact_payload;
use super::subject::forget_written_contacts;
use super::user_error::{Failure, rejected};
use crate::error::ApiError;
use crate::schema::context::RequestContext;
use crate::schema::node::{GlobalId, NodeKind};
use crate::schema::types::Contact;
use crate::upstream::requests::{ContactRef, ContactStatus, ContactStatusRequest};

/// Input of `setContactOptOut`.
#[derive(InputObject)]
pub(crate) struct SetContactOptOutInput {
    /// The contact's global `id`.
    pub contact_id: ID,
    /// `true`: the customer opted out, and no message may be sent to them; `false`: they
    /// opted in again.
    pub opted_out: bool,
    /// Any string; echoed in the payload, so a client can match answers to requests.
    pub client_mutation_id: Option<String>,
}

contact_payload!(SetContactOptOutPayload, "Result of `setContactOptOut`.");

/// Changes to contacts.
#[derive(Default)]
pub(crate) struct ContactMutations;

#[Object]
impl ContactMutations {
    /// Records that a customer opted out of the team's messages, or opted in again. Contacts
    /// are the team's, so any member may. Setting what is already set changes nothing. Sends
    /// to an opted-out customer are refused (`RECIPIENT_OPTED_OUT`) from then on, through
    /// this gateway and its replicas; a change made elsewhere reaches the gateway's caches
    /// through Heymarket's opt-out webhooks where they are configured, else when the cached
    /// contact expires.
    async fn set_contact_opt_out(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whose consent changed, and how.")] input: SetContactOptOutInput,
    ) -> Result<Option<SetContactOptOutPayload>, ApiError> {
        let result = set_opt_out(ctx, &input.contact_id, input.opted_out).await;
        SetContactOptOutPayload::settle(input.client_mutation_id, result)
    }
}

/// Writes the contact's subscription, forgets what the caches hold of it, and reads it back.
async fn set_opt_out(ctx: &Context<'_>, id: &ID, opted_out: bool) -> Result<Contact, Failure> {
    let context = RequestContext::of(ctx)?;
    let id = GlobalId::parse_as(id, NodeKind::Contact)?;
    let (actor, contact) =
        futures::join!(context.acting_member(), context.loaders.current_contact(id));
    actor?;
    let contact = contact?.ok_or_else(|| ApiError::NotFound(format!("no contact {id}")))?;
    let phone = contact
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|phone| !phone.is_empty());
    let request = ContactStatusRequest {
        contact: match phone {
            Some(phone) => ContactRef::Phone(phone.to_owned()),
            None => ContactRef::Id(id.to_string()),
        },
        status: if opted_out {
            ContactStatus::Unsubscribed
        } else {
            ContactStatus::Subscribed
        },
    };
    let written = context.upstream().set_contact_status(&request).await;
    let addresses = [phone, contact.email.as_deref()];
    forget_written_contacts(context, Some(id), addresses.into_iter().flatten()).await;
    written.map_err(rejected)?;
    let contact = context
        .loaders
        .current_contact(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no contact {id}")))?;
    Ok(Contact(contact))
}
