//! Contact look-ups: `GET /v1/contact/{id}`, `POST /v1/contact/get` and
//! `POST /v2/contacts/search`; and a contact's subscription, `POST /v1/contact/set_status`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DatePageBody, path_id};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Tenant};
use crate::state::SandboxState;
use crate::store::records::Contact;
use crate::store::{ContactJson, TeamStore};
use crate::webhooks::EventKind;
use crate::wire::normalize_phone;

/// Contacts per page of `POST /v1/contacts` ("`date` cursor … default page 30", §9.1).
const PAGE_SIZE: usize = 30;

/// One page of `POST /v1/contacts`, newest `updated` first, strictly before `date`.
pub(super) async fn list(
    tenant: Tenant,
    JsonBody(body): JsonBody<DatePageBody>,
) -> ApiResult<Json<Vec<ContactJson>>> {
    let before = body.before()?;
    let store = tenant.store();
    Ok(Json(
        store
            .list_contacts(before, PAGE_SIZE)
            .into_iter()
            .map(|contact| store.contact_json(contact, false))
            .collect(),
    ))
}

/// Most channel ids one search may carry. The response shape and limits of this endpoint are
/// undocumented; a bound keeps requests cheap, and clients must chunk larger look-ups.
const MAX_SEARCH_IDS: usize = 100;

#[derive(Deserialize)]
pub(super) struct GetBody {
    phone: Option<String>,
    /// Documented as a string; an integer is accepted too.
    id: Option<Value>,
}

#[derive(Deserialize)]
pub(super) struct SetStatusBody {
    #[serde(flatten)]
    contact: GetBody,
    status: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct SearchBody {
    contact_channels: Option<Vec<ChannelQuery>>,
}

#[derive(Deserialize)]
struct ChannelQuery {
    channel_type: Option<String>,
    #[serde(default)]
    channel_ids: Vec<String>,
}

pub(super) async fn get(tenant: Tenant, Path(id): Path<String>) -> ApiResult<Json<ContactJson>> {
    let id = path_id(&id, "contact")?;
    let store = tenant.store();
    let contact = store
        .contact(id)
        .ok_or_else(|| not_found(&id.to_string()))?;
    Ok(Json(store.contact_json(contact, false)))
}

/// By `phone` or `id`; the phone wins when both are given, as documented.
pub(super) async fn get_by_phone_or_id(
    tenant: Tenant,
    JsonBody(body): JsonBody<GetBody>,
) -> ApiResult<Json<ContactJson>> {
    let store = tenant.store();
    let contact = named(&store, body)?;
    Ok(Json(store.contact_json(contact, false)))
}

/// `status` is one of `active` (subscribed and unblocked), `blocked`, `unblocked`,
/// `subscribed` or `unsubscribed` (which sets `is_opted_out`); the contact is named as for
/// `/v1/contact/get`. Answers `"success"`, as documented. A change of subscription fires
/// `target_opt_out` or `target_opt_in`; the docs do not show their "UnSubscribed" payload, so
/// it is what `/v1/contact/status` answers for the contact (`{id, phone, unsubscribed,
/// blocked}`).
pub(super) async fn set_status(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<SetStatusBody>,
) -> ApiResult<Json<&'static str>> {
    let status = body.status.ok_or_else(|| ApiError::missing("status"))?;
    let change: fn(&mut Contact) = match status.as_str() {
        "active" => |contact| {
            contact.opted_out = false;
            contact.blocked = false;
        },
        "blocked" => |contact| contact.blocked = true,
        "unblocked" => |contact| contact.blocked = false,
        "subscribed" => |contact| contact.opted_out = false,
        "unsubscribed" => |contact| contact.opted_out = true,
        other => {
            return Err(ApiError::bad_data(format!(
                "status `{other}` is not one of active, blocked, unblocked, subscribed, unsubscribed"
            )));
        }
    };
    let mut store = tenant.store();
    let contact = named(&store, body.contact)?;
    let (id, was_opted_out) = (contact.id, contact.opted_out);
    store
        .update_contact(id, change)
        .ok_or_else(|| not_found("with that id"))?;
    let contact = store.contact(id).ok_or_else(|| not_found("with that id"))?;
    if contact.opted_out != was_opted_out {
        let kind = if contact.opted_out {
            EventKind::TargetOptOut
        } else {
            EventKind::TargetOptIn
        };
        let payload = json!({
            "id": contact.id,
            "phone": contact.phone,
            "unsubscribed": contact.opted_out,
            "blocked": contact.blocked,
        });
        state.emit_for_write(&tenant, kind, &payload);
    }
    Ok(Json("success"))
}

/// The contact a `phone` or `id` names; the phone wins when both are given, as documented.
fn named(store: &TeamStore, body: GetBody) -> ApiResult<&Contact> {
    let contact = match (body.phone, body.id) {
        (Some(phone), _) => {
            let normalized = normalize_phone(&phone).ok_or_else(|| {
                ApiError::bad_data(format!("phone `{phone}` is not a phone number"))
            })?;
            store
                .contact_by_phone(&normalized)
                .ok_or_else(|| not_found(&phone))?
        }
        (None, Some(id)) => {
            let id = match &id {
                Value::String(text) => text.trim().parse().ok(),
                other => other.as_i64(),
            };
            id.and_then(|id| store.contact(id))
                .ok_or_else(|| not_found("with that id"))?
        }
        (None, None) => return Err(ApiError::missing("phone or id")),
    };
    Ok(contact)
}

/// Answers a top-level array of the contacts found (undocumented shape), each once, in the
/// order they were asked for. A channel id's type is detected when not given: containing `@`
/// means email, anything else is a phone number.
pub(super) async fn search(
    tenant: Tenant,
    JsonBody(body): JsonBody<SearchBody>,
) -> ApiResult<Json<Vec<ContactJson>>> {
    let channels = body
        .contact_channels
        .ok_or_else(|| ApiError::missing("contact_channels"))?;
    let requested: usize = channels.iter().map(|c| c.channel_ids.len()).sum();
    if requested > MAX_SEARCH_IDS {
        return Err(ApiError::bad_data(format!(
            "at most {MAX_SEARCH_IDS} channel ids per search; got {requested}"
        )));
    }
    let store = tenant.store();
    let mut found: Vec<&Contact> = Vec::new();
    for channel in &channels {
        for channel_id in &channel.channel_ids {
            let is_email = match channel.channel_type.as_deref() {
                Some("email") => true,
                Some("phone") => false,
                None => channel_id.contains('@'),
                Some(other) => {
                    return Err(ApiError::bad_data(format!(
                        "channel_type `{other}` is not simulated"
                    )));
                }
            };
            let contact = if is_email {
                store.contact_by_email(&channel_id.trim().to_lowercase())
            } else {
                normalize_phone(channel_id).and_then(|phone| store.contact_by_phone(&phone))
            };
            if let Some(contact) = contact.filter(|c| !found.iter().any(|f| f.id == c.id)) {
                found.push(contact);
            }
        }
    }
    Ok(Json(
        found
            .into_iter()
            .map(|contact| store.contact_json(contact, true))
            .collect(),
    ))
}

fn not_found(what: &str) -> ApiError {
    ApiError::not_found(format!("no contact {what}"))
}
