//! `POST /v1/schedule`, `GET|PUT|DELETE /v1/schedule/{id}`: scheduled messages
//! (heymarket-api.md §7.6). The create and update answers, what a sent schedule shows and what
//! a delete answers are for the readings to say.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

use super::path_id;
use crate::error::{ApiError, ApiResult, required};
use crate::extract::{JsonBody, Tenant};
use crate::readings::ScheduleDelete;
use crate::state::SandboxState;
use crate::store::{ScheduleAnswerJson, ScheduleInput, ScheduleJson, SendTarget};
use crate::wire::{normalize_phone, parse_instant};

/// Most attachments one scheduled message may carry, as for an inbound MMS.
const MAX_ATTACHMENTS: usize = 10;

#[derive(Deserialize)]
pub(super) struct ScheduleBody {
    inbox_id: Option<i64>,
    execute_at: Option<String>,
    content: Option<ContentBody>,
    phone_number: Option<String>,
    conversation_id: Option<i64>,
    list_id: Option<Value>,
    targets: Option<Value>,
    local_id: Option<String>,
    user_id: Option<i64>,
}

#[derive(Deserialize)]
struct ContentBody {
    text: Option<String>,
    template: Option<i64>,
    #[serde(default)]
    attachments: Vec<UrlBody>,
    #[serde(default)]
    gallery: Vec<GalleryBody>,
}

#[derive(Deserialize)]
struct UrlBody {
    url: Option<String>,
}

#[derive(Deserialize)]
struct GalleryBody {
    url: Option<String>,
    original_url: Option<String>,
}

pub(super) async fn create(
    tenant: Tenant,
    JsonBody(body): JsonBody<ScheduleBody>,
) -> ApiResult<Json<ScheduleAnswerJson>> {
    let input = validate(body)?;
    Ok(Json(tenant.store().create_schedule(input)?))
}

pub(super) async fn get(tenant: Tenant, Path(id): Path<String>) -> ApiResult<Json<ScheduleJson>> {
    let id = path_id(&id, "scheduled message")?;
    Ok(Json(tenant.store().schedule_json(id)?))
}

pub(super) async fn update(
    tenant: Tenant,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ScheduleBody>,
) -> ApiResult<Json<ScheduleAnswerJson>> {
    let id = path_id(&id, "scheduled message")?;
    let input = validate(body)?;
    Ok(Json(tenant.store().update_schedule(id, input)?))
}

pub(super) async fn delete(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = path_id(&id, "scheduled message")?;
    tenant.store().delete_schedule(id)?;
    Ok(match state.readings.schedule_delete {
        ScheduleDelete::Ok => Json("ok").into_response(),
        ScheduleDelete::Empty => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Checks the fields' presence and form; the store checks them against the data and the clock.
fn validate(body: ScheduleBody) -> ApiResult<ScheduleInput> {
    let unsupported = [("list_id", &body.list_id), ("targets", &body.targets)];
    if let Some((field, _)) = unsupported
        .iter()
        .find(|(_, value)| value.as_ref().is_some_and(|v| !v.is_null()))
    {
        return Err(ApiError::bad_data(format!(
            "{field} is not simulated by the sandbox"
        )));
    }
    let target = match (body.phone_number, body.conversation_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_data(
                "give phone_number or conversation_id, not both",
            ));
        }
        (None, None) => return Err(ApiError::missing("phone_number or conversation_id")),
        (None, Some(id)) => SendTarget::Chat(id),
        (Some(phone), None) => SendTarget::Phone(normalize_phone(&phone).ok_or_else(|| {
            ApiError::bad_data(format!(
                "phone_number `{phone}` is not 11 to 15 digits (E.164)"
            ))
        })?),
    };
    let execute = parse_instant("execute_at", &required(body.execute_at, "execute_at")?)?;
    let content = required(body.content, "content")?;
    let text = content.text.unwrap_or_default();
    let attachments: Vec<String> = content
        .attachments
        .into_iter()
        .filter_map(|attachment| attachment.url)
        .chain(
            content
                .gallery
                .into_iter()
                .filter_map(|entry| entry.original_url.or(entry.url)),
        )
        .filter(|url| !url.trim().is_empty())
        .collect();
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(ApiError::bad_data(format!(
            "a message carries at most {MAX_ATTACHMENTS} attachments"
        )));
    }
    match (
        content.template,
        text.trim().is_empty() && attachments.is_empty(),
    ) {
        (None, true) => {
            return Err(ApiError::missing(
                "content.text, content.attachments or content.template",
            ));
        }
        (Some(_), false) => {
            return Err(ApiError::bad_data(
                "give content.text and attachments, or content.template, not both",
            ));
        }
        _ => {}
    }
    Ok(ScheduleInput {
        inbox: required(body.inbox_id, "inbox_id")?,
        execute,
        target,
        text,
        template: content.template,
        attachments,
        local_id: body.local_id.filter(|id| !id.is_empty()),
        user: body.user_id,
    })
}
