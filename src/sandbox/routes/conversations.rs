//! `POST /v1/conversations` (the date-cursor list) and `GET /v1/conversations/{id}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::path_id;
use crate::sandbox::error::ApiResult;
use crate::sandbox::extract::{JsonBody, Tenant};
use crate::sandbox::state::SandboxState;
use crate::sandbox::store::{ConversationJson, ListQuery, Viewer};
use crate::sandbox::wire::parse_instant;

#[derive(Deserialize)]
pub(super) struct ListBody {
    /// Acting member; documented as required, read as 0 ("the team") when absent.
    #[serde(default)]
    id: i64,
    filters: Option<Filters>,
    date: Option<String>,
}

#[derive(Deserialize, Default)]
struct Filters {
    inboxes: Option<Vec<i64>>,
    closed: Option<bool>,
    unread: Option<bool>,
}

/// One fixed-size page, newest `updated` first, strictly before `date`. Any `limit`, `page` or
/// `order` in the body is ignored: the real endpoint's page size is not under client control.
pub(super) async fn list(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<ListBody>,
) -> ApiResult<Json<Vec<ConversationJson>>> {
    let filters = body.filters.unwrap_or_default();
    let query = ListQuery {
        user: body.id,
        inboxes: filters.inboxes.unwrap_or_default(),
        closed: filters.closed,
        unread: filters.unread.unwrap_or(false),
        before: body
            .date
            .as_deref()
            .map(|date| parse_instant("date", date))
            .transpose()?,
        page_size: state.page_size,
    };
    let viewer = if body.id == 0 {
        Viewer::Team
    } else {
        Viewer::Member(body.id)
    };
    let store = tenant.store();
    let page = store.list_conversations(&query)?;
    Ok(Json(
        page.into_iter()
            .map(|c| store.conversation_json(c, viewer))
            .collect(),
    ))
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
