//! The control API under `/_sandbox` (stable paths; tests, benchmarks and tools rely on them).
//! It needs no credentials and is not subject to faults, limits or counting.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, required};
use super::extract::JsonBody;
use super::faults::FaultSettings;
use super::state::{SandboxState, Team};
use super::stats::Counters;
use super::store::{Counts, Inbound, MAX_BURST, MessageJson, Ran};
use super::webhooks::EventKind;
use super::wire::normalize_target;
use super::wire::parse_instant;
use crate::readings::ReadingValue;

pub(crate) fn router() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/stats/reset", post(reset_stats))
        .route("/_sandbox/faults", get(faults).put(replace_faults))
        .route("/_sandbox/inbound", post(inbound))
        .route("/_sandbox/burst", post(burst))
        .route("/_sandbox/delivery-failure", post(delivery_failure))
        .route("/_sandbox/teams", get(teams))
        .route("/_sandbox/readings", get(readings))
        .route("/_sandbox/schedule/run", post(run_schedules))
}

/// The team a control request names, or the first one.
fn control_team(state: &SandboxState, team_id: Option<i64>) -> ApiResult<&Arc<Team>> {
    match team_id {
        Some(id) => state.team_by_id(id),
        None => state.teams.first(),
    }
    .ok_or_else(|| ApiError::not_found("no such team"))
}

/// The readings the sandbox plays, point by point (`{"page-size": 30, "opt-out": "enforced",
/// …}`), fixed at start.
async fn readings(
    State(state): State<Arc<SandboxState>>,
) -> Json<BTreeMap<&'static str, ReadingValue>> {
    Json(state.readings.values().into_iter().collect())
}

async fn stats(State(state): State<Arc<SandboxState>>) -> Json<Counters> {
    Json(state.stats.snapshot())
}

async fn reset_stats(State(state): State<Arc<SandboxState>>) -> Json<Counters> {
    state.stats.reset();
    Json(state.stats.snapshot())
}

async fn faults(State(state): State<Arc<SandboxState>>) -> Json<FaultSettings> {
    Json(state.faults.settings())
}

async fn replace_faults(
    State(state): State<Arc<SandboxState>>,
    JsonBody(settings): JsonBody<FaultSettings>,
) -> ApiResult<Json<FaultSettings>> {
    state.faults.replace(settings)?;
    Ok(Json(state.faults.settings()))
}

#[derive(Deserialize)]
struct InboundBody {
    inbox_id: Option<i64>,
    phone: Option<String>,
    text: Option<String>,
    /// Pictures or files the customer sent (URLs), in order.
    #[serde(default)]
    media: Vec<String>,
    /// Defaults to the first team.
    team_id: Option<i64>,
}

/// Most attachments one inbound message may carry (MMS carriers allow about ten).
const MAX_INBOUND_MEDIA: usize = 10;

/// A customer message: creates or reopens the conversation and fires `message_recieved`.
async fn inbound(
    State(state): State<Arc<SandboxState>>,
    JsonBody(body): JsonBody<InboundBody>,
) -> ApiResult<Json<MessageJson>> {
    let team = control_team(&state, body.team_id)?;
    if body.media.len() > MAX_INBOUND_MEDIA {
        return Err(ApiError::bad_data(format!(
            "a message carries at most {MAX_INBOUND_MEDIA} attachments"
        )));
    }
    let inbound = Inbound {
        inbox: required(body.inbox_id, "inbox_id")?,
        target: normalize_target(&required(body.phone, "phone")?)?,
        text: required(body.text, "text")?,
        media: body.media,
    };
    let mut store = team.store();
    let id = store.receive(inbound)?;
    let message = store
        .message(id)
        .and_then(|message| store.message_json(message))
        .ok_or(ApiError::ServerError)?;
    state.emit(team, EventKind::MessageReceived, &message);
    Ok(Json(message))
}

#[derive(Deserialize)]
struct BurstBody {
    inbox_id: Option<i64>,
    phones: Option<Vec<String>>,
    /// Messages from each phone; one when absent.
    messages: Option<usize>,
    text: Option<String>,
    /// Defaults to the first team.
    team_id: Option<i64>,
}

/// Many customer messages within one Unix second: `messages` from each of `phones`, a
/// microsecond apart, as `/_sandbox/inbound` delivers one (each fires its webhook). Answers
/// the messages in the order they were sent. This is how tests make more messages (or, with
/// whole-second timestamps, conversations) share one cursor value than fit on a page.
async fn burst(
    State(state): State<Arc<SandboxState>>,
    JsonBody(body): JsonBody<BurstBody>,
) -> ApiResult<Json<Vec<MessageJson>>> {
    let team = control_team(&state, body.team_id)?;
    let inbox = required(body.inbox_id, "inbox_id")?;
    let text = required(body.text, "text")?;
    let targets = required(body.phones, "phones")?
        .iter()
        .map(|phone| normalize_target(phone))
        .collect::<ApiResult<Vec<String>>>()?;
    let per_phone = body.messages.unwrap_or(1);
    let inbounds: Vec<Inbound> = targets
        .iter()
        .flat_map(|target| std::iter::repeat_n(target, per_phone))
        .map(|target| Inbound {
            inbox,
            target: target.clone(),
            text: text.clone(),
            media: Vec::new(),
        })
        // One more than a burst may hold, so that a huge request is refused, not built.
        .take(MAX_BURST + 1)
        .collect();
    let mut store = team.store();
    let ids = store.receive_burst(inbounds)?;
    let messages: Vec<MessageJson> = ids
        .iter()
        .filter_map(|&id| {
            store
                .message(id)
                .and_then(|message| store.message_json(message))
        })
        .collect();
    for message in &messages {
        state.emit(team, EventKind::MessageReceived, message);
    }
    Ok(Json(messages))
}

/// Conversations longer than one history page (50) are listed by the team overview.
const LONG_CONVERSATION: usize = 100;

#[derive(Serialize)]
struct LongConversation {
    id: i64,
    inbox: i64,
    target: String,
    messages: usize,
}

#[derive(Serialize)]
struct TeamOverview {
    team_id: i64,
    name: String,
    secret_id: String,
    secret_key: String,
    api_key: String,
    webhook_id: i64,
    webhook_token: String,
    inbox_ids: Vec<i64>,
    member_ids: Vec<i64>,
    counts: Counts,
    /// Where to exercise `GET /v1/messages` paging.
    long_conversations: Vec<LongConversation>,
}

async fn teams(State(state): State<Arc<SandboxState>>) -> Json<Vec<TeamOverview>> {
    let overviews = state
        .credentials
        .iter()
        .zip(&state.teams)
        .map(|(credentials, team)| {
            let store = team.store();
            TeamOverview {
                team_id: credentials.team_id,
                name: credentials.team_name.clone(),
                secret_id: credentials.secret_id.clone(),
                secret_key: credentials.secret_key.clone(),
                api_key: credentials.api_key.clone(),
                webhook_id: team.webhook_id,
                webhook_token: team.webhook_token.clone(),
                inbox_ids: store.inboxes().iter().map(|inbox| inbox.id).collect(),
                member_ids: store.members().iter().map(|member| member.id).collect(),
                counts: store.counts(),
                long_conversations: store
                    .long_conversations(LONG_CONVERSATION)
                    .map(|c| LongConversation {
                        id: c.id,
                        inbox: c.inbox,
                        target: c.target.clone(),
                        messages: c.messages.len(),
                    })
                    .collect(),
            }
        })
        .collect();
    Json(overviews)
}

#[derive(Deserialize)]
struct DeliveryFailureBody {
    message_id: Option<i64>,
    /// The carrier's reason, e.g. `30006: landline or unreachable carrier`.
    error: Option<String>,
    /// Defaults to the first team.
    team_id: Option<i64>,
}

/// A carrier's report that an outbound message could not be delivered: from then on the
/// message shows `status: "failed"` with the reason (`raw_error`, `target_errors`). No webhook
/// tells of it, as Heymarket documents none. Answers the message.
async fn delivery_failure(
    State(state): State<Arc<SandboxState>>,
    JsonBody(body): JsonBody<DeliveryFailureBody>,
) -> ApiResult<Json<MessageJson>> {
    let team = control_team(&state, body.team_id)?;
    let id = required(body.message_id, "message_id")?;
    let error = required(body.error, "error")?;
    let mut store = team.store();
    store.fail_delivery(id, error)?;
    store
        .message(id)
        .and_then(|message| store.message_json(message))
        .map(Json)
        .ok_or(ApiError::ServerError)
}

#[derive(Deserialize)]
struct RunSchedulesBody {
    /// Sends every scheduled message due by this instant (RFC 3339); now when absent.
    until: Option<String>,
    /// Defaults to the first team.
    team_id: Option<i64>,
}

/// Time passes for scheduled messages: every one due by `until` goes out now, earliest first,
/// as a message in its conversation (started for a phone target), and fires `message_sent`.
/// Answers what each became: `[{"schedule_id", "message_id"}]`, or `"error"` for one that
/// could not go out (e.g. to a customer who opted out).
async fn run_schedules(
    State(state): State<Arc<SandboxState>>,
    JsonBody(body): JsonBody<RunSchedulesBody>,
) -> ApiResult<Json<Vec<Ran>>> {
    let team = control_team(&state, body.team_id)?;
    let until = match body.until.as_deref() {
        Some(until) => parse_instant("until", until)?,
        None => chrono::Utc::now(),
    };
    let mut store = team.store();
    let ran = store.run_schedules(until);
    for message in ran.iter().filter_map(|ran| ran.message_id) {
        if let Some(json) = store.message(message).and_then(|m| store.message_json(m)) {
            state.emit(team, EventKind::MessageSent, &json);
        }
    }
    Ok(Json(ran))
}
