//! `POST /v1/message/send`, `GET /v1/messages` (one conversation's history) and
//! `POST /v1/messages/all` (team-wide).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult, required};
use crate::extract::{JsonBody, QueryParams, Tenant};
use crate::readings::MessagesAllCursor;
use crate::state::SandboxState;
use crate::store::records::Message;
use crate::store::{
    MessageJson, MessagePage, Send, SendAnswer, SendOutcome, SendTarget, TeamStore,
};
use crate::webhooks::EventKind;
use crate::wire::{normalize_phone, normalize_target, parse_instant};

/// `limit` when none is given: "`limit` (int, default **30**)".
const DEFAULT_PAGE: i64 = 30;

#[derive(Deserialize)]
pub(super) struct SendBody {
    inbox_id: Option<i64>,
    creator_id: Option<i64>,
    phone_number: Option<String>,
    chat_id: Option<i64>,
    text: Option<String>,
    media_url: Option<String>,
    #[serde(default)]
    private: bool,
    local_id: Option<String>,
    author: Option<String>,
    list_id: Option<Value>,
    targets: Option<Value>,
    template_id: Option<Value>,
    survey_id: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HistoryParams {
    phone_number: Option<String>,
    #[serde(rename = "inboxID")]
    inbox_id: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct AllBody {
    created_at: Option<String>,
    date: Option<String>,
    order: Option<String>,
    ascending: Option<bool>,
    limit: Option<i64>,
}

pub(super) async fn send(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<SendBody>,
) -> ApiResult<Json<SendAnswer>> {
    let send = validate(body)?;
    let mut store = tenant.store();
    let outcome = store.send(send)?;
    Ok(Json(answered(&state, &tenant, &store, outcome)))
}

/// The answer of a send (text or email): a new message fires `message_sent`; a replayed
/// `local_id` answers as the first send did, and fires nothing.
pub(super) fn answered(
    state: &SandboxState,
    tenant: &Tenant,
    store: &TeamStore,
    outcome: SendOutcome,
) -> SendAnswer {
    match outcome {
        SendOutcome::Replayed(answer) => answer,
        SendOutcome::Sent { message, answer } => {
            if let Some(json) = store.message(message).and_then(|m| store.message_json(m)) {
                state.emit_for_write(tenant, EventKind::MessageSent, &json);
            }
            answer
        }
    }
}

/// Checks the fields' presence and form; the store checks them against the data.
fn validate(body: SendBody) -> ApiResult<Send> {
    let unsupported = [
        ("list_id", &body.list_id),
        ("targets", &body.targets),
        ("survey_id", &body.survey_id),
    ];
    if let Some((field, _)) = unsupported
        .iter()
        .find(|(_, value)| value.as_ref().is_some_and(|v| !v.is_null()))
    {
        return Err(ApiError::bad_data(format!(
            "{field} is not simulated by the sandbox"
        )));
    }
    let to = match (body.phone_number, body.chat_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_data("give phone_number or chat_id, not both"));
        }
        (None, None) => return Err(ApiError::missing("phone_number or chat_id")),
        (None, Some(chat)) => SendTarget::Chat(chat),
        (Some(phone), None) => SendTarget::Phone(normalize_phone(&phone).ok_or_else(|| {
            ApiError::bad_data(format!(
                "phone_number `{phone}` is not 11 to 15 digits (E.164)"
            ))
        })?),
    };
    let text = body.text.unwrap_or_default();
    let media = body.media_url.filter(|url| !url.trim().is_empty());
    let template = match body.template_id {
        None | Some(Value::Null) => None,
        Some(id) => Some(
            id.as_i64()
                .ok_or_else(|| ApiError::bad_data("template_id must be an integer"))?,
        ),
    };
    match (template, text.trim().is_empty() && media.is_none()) {
        (None, true) => return Err(ApiError::missing("text, media_url or template_id")),
        (Some(_), false) => {
            return Err(ApiError::bad_data(
                "give text and media_url, or template_id, not both",
            ));
        }
        _ => {}
    }
    Ok(Send {
        template,
        inbox: required(body.inbox_id, "inbox_id")?,
        creator: required(body.creator_id, "creator_id")?,
        to,
        text,
        media,
        private: body.private,
        local_id: body.local_id.filter(|id| !id.is_empty()),
        author: body.author.filter(|author| !author.is_empty()),
    })
}

pub(super) async fn history(
    tenant: Tenant,
    QueryParams(params): QueryParams<HistoryParams>,
) -> ApiResult<Json<Vec<MessageJson>>> {
    let phone = required(params.phone_number, "phoneNumber")?;
    let inbox = required(params.inbox_id, "inboxID")?;
    let inbox = inbox
        .parse()
        .map_err(|_| ApiError::bad_data("inboxID must be an integer"))?;
    let before = params
        .timestamp
        .map(|t| {
            t.parse::<i64>()
                .map_err(|_| ApiError::bad_data("timestamp must be Unix seconds"))
        })
        .transpose()?;
    let target = normalize_target(&phone)?;
    let store = tenant.store();
    let messages = store.history(inbox, &target, before)?;
    Ok(Json(render(&store, messages)))
}

/// Team-wide messages. Which cursor field counts (`created_at`, the documented name, or
/// `date`, the generated schema's) and the largest `limit` are for the readings to say; a
/// larger `limit` is clamped, so a client that asks too much still gets a valid page. `order`
/// may be `created_at` or `updated_at`, which coincide here because messages are never edited.
pub(super) async fn all(
    State(state): State<Arc<SandboxState>>,
    tenant: Tenant,
    JsonBody(body): JsonBody<AllBody>,
) -> ApiResult<Json<Vec<MessageJson>>> {
    let readings = &state.readings;
    if let Some(order) = body
        .order
        .as_deref()
        .filter(|o| !matches!(*o, "created_at" | "updated_at"))
    {
        return Err(ApiError::bad_data(format!(
            "order `{order}` is not created_at or updated_at"
        )));
    }
    let cursor = match readings.messages_all_cursor {
        MessagesAllCursor::CreatedAtOrDate => body.created_at.or(body.date),
        MessagesAllCursor::CreatedAt => body.created_at,
        MessagesAllCursor::Date => body.date,
    };
    let page = MessagePage {
        cursor: cursor
            .as_deref()
            .map(|c| parse_instant("created_at", c))
            .transpose()?,
        ascending: body.ascending.unwrap_or(false),
        limit: body
            .limit
            .unwrap_or(DEFAULT_PAGE)
            .clamp(1, readings.messages_all_max as i64) as usize,
    };
    let store = tenant.store();
    let messages = store.all_messages(page);
    Ok(Json(render(&store, messages)))
}

fn render(store: &TeamStore, messages: Vec<&Message>) -> Vec<MessageJson> {
    messages
        .into_iter()
        .filter_map(|m| store.message_json(m))
        .collect()
}
