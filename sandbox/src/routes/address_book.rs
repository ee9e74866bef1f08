//! Tags (`POST /v1/tags`, `GET /v1/tag/{id}`), custom contact fields
//! (`POST /v1/contact-fields`), and contacts created (`POST /v1/contact`) and changed
//! (`PUT /v1/contact/{id}?overwrite=`), heymarket-api.md §9.1 and §9.5.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::Path;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DatePageBody, path_id};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams, Tenant};
use crate::store::{ContactFields, CustomFieldJson, TagJson, TeamStore};
use crate::wire::normalize_phone;

/// Tags per page ("`date` cursor, 30 per page", §9.5).
const PAGE_SIZE: usize = 30;

/// A contact as `POST /v1/contact` and `PUT /v1/contact/{id}` take it.
#[derive(Deserialize)]
pub(super) struct ContactBody {
    phone: Option<String>,
    first: Option<String>,
    last: Option<String>,
    email: Option<String>,
    /// Values keyed by field-id strings; any JSON scalar is kept as text.
    custom: Option<BTreeMap<String, Value>>,
    tags: Option<Vec<TagRef>>,
    is_opted_out: Option<bool>,
}

#[derive(Deserialize)]
struct TagRef {
    tag_id: i64,
}

#[derive(Deserialize)]
pub(super) struct OverwriteParams {
    overwrite: Option<String>,
}

/// What a create or an update answers: `{id, rev, uuid}`.
#[derive(Serialize)]
pub(super) struct Written {
    id: i64,
    rev: i64,
    uuid: String,
}

pub(super) async fn list_tags(
    tenant: Tenant,
    JsonBody(body): JsonBody<DatePageBody>,
) -> ApiResult<Json<Vec<TagJson>>> {
    let before = body.before()?;
    let store = tenant.store();
    let tags = store.list_tags(before, PAGE_SIZE);
    Ok(Json(tags.into_iter().map(|t| store.tag_json(t)).collect()))
}

pub(super) async fn get_tag(tenant: Tenant, Path(id): Path<String>) -> ApiResult<Json<TagJson>> {
    let id = path_id(&id, "tag")?;
    let store = tenant.store();
    let tag = store
        .tag(id)
        .ok_or_else(|| ApiError::not_found(format!("tag {id} does not exist")))?;
    Ok(Json(store.tag_json(tag)))
}

/// Every custom field of the team, `[{id, title}]` (no paging is documented).
pub(super) async fn custom_fields(tenant: Tenant) -> ApiResult<Json<Vec<CustomFieldJson>>> {
    let store = tenant.store();
    let fields = store.custom_fields().iter();
    Ok(Json(fields.map(TeamStore::custom_field_json).collect()))
}

/// Creates a contact; `phone` is required and must be new to the team. The team's owner (its
/// first member) is its creator.
pub(super) async fn create(
    tenant: Tenant,
    JsonBody(body): JsonBody<ContactBody>,
) -> ApiResult<Json<Written>> {
    let fields = validate(body)?;
    let mut store = tenant.store();
    let owner = store.members().first().map_or(0, |member| member.id);
    let id = store.create_contact(fields, owner)?;
    Ok(Json(written(&store, id)))
}

/// Changes a contact; `phone` is required, names are always overwritten, and `overwrite=true`
/// replaces the custom values instead of merging them.
pub(super) async fn update(
    tenant: Tenant,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<OverwriteParams>,
    JsonBody(body): JsonBody<ContactBody>,
) -> ApiResult<Json<Written>> {
    let id = path_id(&id, "contact")?;
    let overwrite = match params.overwrite.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_data(format!(
                "overwrite `{other}` is not true or false"
            )));
        }
    };
    let fields = validate(body)?;
    let mut store = tenant.store();
    store
        .put_contact(id, fields, overwrite)?
        .ok_or_else(|| ApiError::not_found(format!("contact {id} does not exist")))?;
    Ok(Json(written(&store, id)))
}

fn validate(body: ContactBody) -> ApiResult<ContactFields> {
    let phone = body.phone.ok_or_else(|| ApiError::missing("phone"))?;
    let phone = normalize_phone(&phone)
        .ok_or_else(|| ApiError::bad_data(format!("phone `{phone}` is not E.164 digits")))?;
    let email = body.email.map(|email| email.trim().to_lowercase());
    if let Some(email) = email.as_deref().filter(|email| !email.is_empty())
        && !email.contains('@')
    {
        return Err(ApiError::bad_data(format!(
            "`{email}` is not an email address"
        )));
    }
    let custom = body.custom.map(|custom| {
        custom
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    Value::String(text) => text,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (key, text)
            })
            .collect()
    });
    Ok(ContactFields {
        phone,
        first: body.first,
        last: body.last,
        email,
        custom,
        tags: body
            .tags
            .map(|tags| tags.into_iter().map(|tag| tag.tag_id).collect()),
        opted_out: body.is_opted_out,
    })
}

fn written(store: &TeamStore, id: i64) -> Written {
    Written {
        id,
        rev: 1,
        uuid: store
            .contact(id)
            .map(|contact| contact.uuid.clone())
            .unwrap_or_default(),
    }
}
