//! The simulated REST endpoints under `/v1` and `/v2`, mirroring the upstream's paths, bodies
//! and status codes.

mod address_book;
mod contacts;
mod conversation_actions;
mod conversations;
mod directory;
mod email;
mod messages;
mod schedules;
mod templates;

use std::sync::Arc;

use serde::Deserialize;

use axum::Router;
use axum::routing::{get, post};

use super::error::{ApiError, ApiResult};
use super::state::SandboxState;
use super::wire::{normalize_target, parse_instant};

/// Every `/v1` and `/v2` route (without the request pipeline, which the caller layers on).
pub(crate) fn router() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/v1/conversations", post(conversations::list))
        .route("/v1/conversations/count", post(conversations::count))
        .route("/v1/conversations/{id}", get(conversations::get))
        .route("/v1/conversations/open", post(conversation_actions::open))
        .route("/v1/conversations/close", post(conversation_actions::close))
        .route("/v1/conversations/read", post(conversation_actions::read))
        .route(
            "/v1/conversations/unread",
            post(conversation_actions::unread),
        )
        .route(
            "/v1/conversations/reassign",
            post(conversation_actions::reassign),
        )
        .route(
            "/v1/conversations/transfer",
            post(conversation_actions::transfer),
        )
        .route("/v1/message/send", post(messages::send))
        .route("/v1/email/send", post(email::send))
        .route("/v1/messages", get(messages::history))
        .route("/v1/messages/all", post(messages::all))
        .route("/v1/inboxes", get(directory::inboxes))
        .route("/v1/team", get(directory::team))
        .route("/v1/contacts", post(contacts::list))
        .route("/v1/contact", post(address_book::create))
        .route(
            "/v1/contact/{id}",
            get(contacts::get).put(address_book::update),
        )
        .route("/v1/contact-fields", post(address_book::custom_fields))
        .route("/v1/tags", post(address_book::list_tags))
        .route("/v1/tag/{id}", get(address_book::get_tag))
        .route("/v1/contact/get", post(contacts::get_by_phone_or_id))
        .route("/v1/contact/set_status", post(contacts::set_status))
        .route("/v2/contacts/search", post(contacts::search))
        .route("/v1/templates", post(templates::list))
        .route("/v1/template/{id}", get(templates::get))
        .route("/v1/schedule", post(schedules::create))
        .route(
            "/v1/schedule/{id}",
            get(schedules::get)
                .put(schedules::update)
                .delete(schedules::delete),
        )
}

/// The one customer a request's `target` / `targets` names, normalised.
///
/// `targets` identifies a group-MMS conversation upstream; group conversations are not
/// simulated, so a one-element `targets` means the same as `target` and several are refused.
fn single_target(
    target: Option<String>,
    targets: Option<Vec<String>>,
) -> ApiResult<Option<String>> {
    let raw = match (target, targets) {
        (Some(target), _) => Some(target),
        (None, Some(targets)) if targets.len() > 1 => {
            return Err(ApiError::bad_data(
                "group conversations (several targets) are not simulated",
            ));
        }
        (None, Some(targets)) => targets.into_iter().next(),
        (None, None) => None,
    };
    raw.as_deref().map(normalize_target).transpose()
}

/// A conversation id from a path segment; anything but an integer names nothing.
fn path_id(raw: &str, kind: &str) -> ApiResult<i64> {
    raw.parse()
        .map_err(|_| ApiError::not_found(format!("{kind} {raw} does not exist")))
}

/// The body of a date-cursor list (templates, contacts): only `date`, the page cursor.
#[derive(Deserialize)]
struct DatePageBody {
    date: Option<String>,
}

impl DatePageBody {
    /// The cursor, parsed.
    fn before(&self) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
        self.date
            .as_deref()
            .map(|date| parse_instant("date", date))
            .transpose()
    }
}
