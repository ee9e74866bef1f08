//! The conversation mutations: open, close, read, unread, reassign, transfer. Each answers a
//! bare JSON string, as the API does.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::single_target;
use crate::error::{ApiError, ApiResult, required};
use crate::extract::{JsonBody, Tenant};
use crate::readings::Unassign;
use crate::state::SandboxState;
use crate::store::records::Status;
use crate::store::{Address, TeamStore, Viewer};
use crate::webhooks::EventKind;

/// The body shared by open, close, read, unread and reassign.
#[derive(Deserialize)]
pub(super) struct ActionBody {
    inbox_id: Option<i64>,
    user_id: Option<i64>,
    chat_id: Option<i64>,
    target: Option<String>,
    targets: Option<Vec<String>>,
    reassign_id: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct TransferBody {
    conversation_id: Option<i64>,
    transfer_inbox_id: Option<i64>,
}

pub(super) async fn open(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<ActionBody>,
) -> ApiResult<Json<&'static str>> {
    set_status(&state, &tenant, body, Status::Open)
}

pub(super) async fn close(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<ActionBody>,
) -> ApiResult<Json<&'static str>> {
    set_status(&state, &tenant, body, Status::Closed)
}

pub(super) async fn read(
    tenant: Tenant,
    JsonBody(body): JsonBody<ActionBody>,
) -> ApiResult<Json<&'static str>> {
    mark(&tenant, body, true).map(|()| Json("Marked as Read"))
}

pub(super) async fn unread(
    tenant: Tenant,
    JsonBody(body): JsonBody<ActionBody>,
) -> ApiResult<Json<&'static str>> {
    mark(&tenant, body, false).map(|()| Json("Marked as Unread"))
}

pub(super) async fn reassign(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<ActionBody>,
) -> ApiResult<Json<&'static str>> {
    let assignee = assignee(state.readings.unassign, body.reassign_id)?;
    let (inbox, user) = actor(&body)?;
    let target =
        single_target(body.target, body.targets)?.ok_or_else(|| ApiError::missing("target"))?;
    let mut store = tenant.store();
    let id = store.resolve(inbox, user, &Address::Target(target))?;
    if store.reassign(id, assignee)? {
        emit_conversation(&state, &tenant, &store, id, EventKind::ChatReassigned);
    }
    Ok(Json("ok"))
}

pub(super) async fn transfer(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<TransferBody>,
) -> ApiResult<Json<&'static str>> {
    let id = required(body.conversation_id, "conversation_id")?;
    let to_inbox = required(body.transfer_inbox_id, "transfer_inbox_id")?;
    let mut store = tenant.store();
    store.transfer(id, to_inbox)?;
    emit_conversation(&state, &tenant, &store, id, EventKind::ChatTransferred);
    Ok(Json("ok"))
}

fn set_status(
    state: &SandboxState,
    tenant: &Tenant,
    body: ActionBody,
    status: Status,
) -> ApiResult<Json<&'static str>> {
    let (inbox, user) = actor(&body)?;
    let address = match (body.chat_id, single_target(body.target, body.targets)?) {
        (Some(_), Some(_)) => return Err(ApiError::bad_data("give chat_id or target, not both")),
        (Some(chat), None) => Address::Chat(chat),
        (None, Some(target)) => Address::Target(target),
        (None, None) => return Err(ApiError::missing("chat_id or target")),
    };
    let mut store = tenant.store();
    let id = store.resolve(inbox, user, &address)?;
    if store.set_status(id, status)? {
        let kind = match status {
            Status::Open => EventKind::ChatOpened,
            Status::Closed => EventKind::ChatClosed,
        };
        emit_conversation(state, tenant, &store, id, kind);
    }
    Ok(Json("ok"))
}

/// Read state is addressed by inbox and phone: the docs document no `chat_id` here.
fn mark(tenant: &Tenant, body: ActionBody, read: bool) -> ApiResult<()> {
    let (inbox, user) = actor(&body)?;
    let target =
        single_target(body.target, body.targets)?.ok_or_else(|| ApiError::missing("target"))?;
    let mut store = tenant.store();
    let id = store.resolve(inbox, user, &Address::Target(target))?;
    store.mark_read(id, user, read)
}

/// The new assignee a `reassign_id` names, or `None` for the value that unassigns (the docs
/// say nothing about unassigning a conversation, so the readings decide which value, if any).
fn assignee(unassign: Unassign, reassign_id: Option<i64>) -> ApiResult<Option<i64>> {
    let reassign_id = required(reassign_id, "reassign_id")?;
    let unassigns = match unassign {
        Unassign::MinusOne => Some(-1),
        Unassign::Zero => Some(0),
        Unassign::Refused => None,
    };
    if unassigns == Some(reassign_id) {
        return Ok(None);
    }
    if reassign_id <= 0 {
        return Err(ApiError::bad_data(format!(
            "reassign_id {reassign_id} is not a member; conversations cannot be unassigned this way"
        )));
    }
    Ok(Some(reassign_id))
}

fn actor(body: &ActionBody) -> ApiResult<(i64, i64)> {
    Ok((
        required(body.inbox_id, "inbox_id")?,
        required(body.user_id, "user_id")?,
    ))
}

fn emit_conversation(
    state: &SandboxState,
    tenant: &Tenant,
    store: &TeamStore,
    id: i64,
    kind: EventKind,
) {
    if let Some(conversation) = store.conversation(id) {
        state.emit_for_write(
            tenant,
            kind,
            &store.conversation_json(conversation, Viewer::Team),
        );
    }
}
