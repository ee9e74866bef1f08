//! `POST /v1/conversations` (the date-cursor list), `POST /v1/conversations/count` and
//! `GET /v1/conversations/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::path_id;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Tenant};
use crate::readings::{
    AssignedFilter, CONVERSATION_LIMIT_MAX, ClosedFalse, ConversationLimit, CountAnswer,
    CountFilters, EmptyInboxes, Readings, UnreadFalse,
};
use crate::state::SandboxState;
use crate::store::{ConversationJson, ListQuery, Viewer};
use crate::wire::parse_instant;

#[derive(Deserialize)]
pub(super) struct ListBody {
    /// Acting member; documented as required, read as 0 ("the team") when absent.
    #[serde(default)]
    id: i64,
    filters: Option<Filters>,
    date: Option<String>,
    /// From the generated schema; read only when the readings honour it.
    limit: Option<Value>,
    /// From the generated schema; read only when the readings honour it.
    assigned: Option<Value>,
}

#[derive(Deserialize, Default)]
struct Filters {
    inboxes: Option<Vec<i64>>,
    closed: Option<bool>,
    unread: Option<bool>,
}

/// One page, newest `updated` first, strictly before `date`. What an empty inbox list, a
/// `false` filter and a `limit` mean is for the readings to say.
pub(super) async fn list(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<ListBody>,
) -> ApiResult<Json<Vec<ConversationJson>>> {
    let viewer = if body.id == 0 {
        Viewer::Team
    } else {
        Viewer::Member(body.id)
    };
    let query = list_query(&state.readings, body)?;
    let store = tenant.store();
    let page = store.list_conversations(&query)?;
    Ok(Json(
        page.into_iter()
            .map(|c| store.conversation_json(c, viewer))
            .collect(),
    ))
}

/// `POST /v1/conversations/count`: what it counts, and how the answer looks, are for the
/// readings to say.
pub(super) async fn count(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<ListBody>,
) -> ApiResult<Json<Value>> {
    let readings = &state.readings;
    let count = match readings.count_filters {
        CountFilters::ListFilters => {
            let query = list_query(readings, body)?;
            tenant.store().count_conversations(&query)?
        }
        CountFilters::DateOnly => {
            let before = body
                .date
                .as_deref()
                .map(|date| parse_instant("date", date))
                .transpose()?;
            tenant.store().count_team_conversations(before)
        }
    };
    Ok(Json(match readings.count_answer {
        CountAnswer::Number => json!(count),
        CountAnswer::String => json!(count.to_string()),
        CountAnswer::Object => json!({ "count": count }),
    }))
}

/// The list request a body makes, read as the readings read it.
fn list_query(readings: &Readings, body: ListBody) -> ApiResult<ListQuery> {
    let filters = body.filters.unwrap_or_default();
    Ok(ListQuery {
        user: body.id,
        inboxes: inbox_scope(readings, filters.inboxes)?,
        closed: filters
            .closed
            .filter(|&closed| closed || readings.closed_false == ClosedFalse::OpenOnly),
        unread: filters
            .unread
            .filter(|&unread| unread || readings.unread_false == UnreadFalse::ReadOnly),
        before: body
            .date
            .as_deref()
            .map(|date| parse_instant("date", date))
            .transpose()?,
        page_size: page_size(readings, body.limit)?,
        assigned: assignee(readings, body.assigned)?,
    })
}

/// The inboxes a list names; `None` for every inbox the member sees.
fn inbox_scope(readings: &Readings, listed: Option<Vec<i64>>) -> ApiResult<Option<Vec<i64>>> {
    match listed {
        Some(listed) if !listed.is_empty() => Ok(Some(listed)),
        _ => match readings.empty_inboxes {
            EmptyInboxes::All => Ok(None),
            EmptyInboxes::NoInbox => Ok(Some(Vec::new())),
            EmptyInboxes::Refused => Err(ApiError::bad_data(
                "filters.inboxes must name at least one inbox",
            )),
        },
    }
}

/// Rows on one page: the configured size, or, when honoured, a `limit` clamped to the maximum.
fn page_size(readings: &Readings, limit: Option<Value>) -> ApiResult<usize> {
    match (readings.conversation_limit, limit) {
        (ConversationLimit::Honoured, Some(limit)) => {
            let limit = limit
                .as_i64()
                .ok_or_else(|| ApiError::bad_data("limit must be an integer"))?;
            Ok(limit.clamp(1, CONVERSATION_LIMIT_MAX as i64) as usize)
        }
        _ => Ok(readings.conversation_page_size),
    }
}

/// The member whose conversations a list keeps, when the readings honour `assigned`; zero
/// and negative ids filter nothing.
fn assignee(readings: &Readings, assigned: Option<Value>) -> ApiResult<Option<i64>> {
    match (readings.assigned_filter, assigned) {
        (AssignedFilter::Honoured, Some(Value::Null) | None) | (AssignedFilter::Ignored, _) => {
            Ok(None)
        }
        (AssignedFilter::Honoured, Some(assigned)) => {
            let member = assigned
                .as_i64()
                .ok_or_else(|| ApiError::bad_data("assigned must be an integer"))?;
            Ok((member > 0).then_some(member))
        }
    }
}

pub(super) async fn get(
    tenant: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationJson>> {
    let id = path_id(&id, "conversation")?;
    let store = tenant.store();
    let conversation = store.find_conversation(id)?;
    Ok(Json(store.conversation_json(conversation, Viewer::Team)))
}
