//! `POST /webhooks/heymarket`: Heymarket's webhook deliveries (heymarket-api.md §11), checked
//! and handed to the event bus. Answers fast: everything an event causes happens on the bus's
//! receivers, not here.
//!
//! Answers: `200 {"status": "accepted"}`; `200 {"status": "duplicate"}` for a redelivery (an
//! event with the identity of one already taken in, however its body is spelled: see
//! [`Event::new`]); `200 {"status": "ignored"}` for a `type` this gateway does not know (so Heymarket
//! does not retry it forever); `400` for a body that is not the documented envelope; `401` for a
//! missing or unknown token; `413` for a body over the configured size.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::events::{Event, EventKind};
use crate::state::AppState;

/// Largest webhook body accepted; Heymarket's events are a few kilobytes.
pub const DEFAULT_WEBHOOK_MAX_BODY: usize = 256 * 1024;

/// Which webhook deliveries the gateway accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookConfig {
    /// Verification token of a Heymarket webhook configuration that delivers to
    /// `/webhooks/heymarket`: `TEAM_ID:TOKEN`, or `TOKEN` for the team of the configured
    /// credential. Repeat the flag, or separate with commas in the variable.
    // Without any, `POST /webhooks/heymarket` refuses everything.
    #[arg(
        long = "webhook-token",
        env = "HEYMARKET_WEBHOOK_TOKENS",
        value_name = "WEBHOOK_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub tokens: Vec<WebhookToken>,

    /// Largest webhook body accepted, in bytes.
    // Its id differs from the field's, which `LimitsConfig` has too.
    #[arg(id = "webhook_max_body", long = "webhook-max-body", env = "HEYMARKET_WEBHOOK_MAX_BODY", value_name = "WEBHOOK_MAX_BODY", default_value_t = DEFAULT_WEBHOOK_MAX_BODY)]
    pub max_body_bytes: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            max_body_bytes: DEFAULT_WEBHOOK_MAX_BODY,
        }
    }
}

/// One webhook configuration's verification token, and the team whose events it delivers.
///
/// Written `TEAM_ID:TOKEN`, or just `TOKEN` for the team of the gateway's own credential.
#[derive(Debug, Clone)]
pub struct WebhookToken {
    /// `None`: the team of the configured upstream credential.
    pub team_id: Option<i64>,
    pub token: SecretString,
}

impl FromStr for WebhookToken {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (team_id, token) = match s.split_once(':') {
            Some((team, token)) => {
                // Not echoed: a token that holds a colon would show its first part here.
                let team = team.trim().parse::<i64>().map_err(|_| {
                    "the part before `:` is not a team id; write `TEAM_ID:TOKEN`, or just `TOKEN`"
                        .to_owned()
                })?;
                (Some(team), token)
            }
            None => (None, s),
        };
        if token.trim().is_empty() {
            return Err("the webhook token is empty".to_owned());
        }
        Ok(Self {
            team_id,
            token: SecretString::from(token.trim().to_owned()),
        })
    }
}

pub(super) fn router(max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/webhooks/heymarket", post(receive))
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// The documented envelope; every field optional here so a bad one gets a precise answer.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: Option<String>,
    token: Option<String>,
    event_data: Option<Value>,
}

async fn receive(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let count = |kind: Option<EventKind>, result: &'static str| {
        let kind = kind.and_then(wire_name);
        state.metrics.webhooks.count(kind.as_deref(), result);
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "the body is larger than {} bytes",
                    state.config.webhooks.max_body_bytes
                )
            } else {
                "the body could not be read".to_owned()
            };
            count(None, "bad_body");
            return answer(status, "bad_body", &message);
        }
    };
    let (webhook, kind, data) = match inspect(&body, &state.config.webhooks.tokens) {
        Inspection::Event {
            webhook,
            kind,
            data,
        } => (webhook, kind, data),
        Inspection::UnknownType(kind) => {
            tracing::info!(%kind, "webhook of an unknown type ignored");
            count(None, "ignored");
            return status_answer("ignored");
        }
        Inspection::Refused {
            status,
            error,
            message,
        } => {
            if status == StatusCode::UNAUTHORIZED {
                tracing::warn!("webhook refused: missing or unknown token");
            }
            count(None, error);
            return answer(status, error, message);
        }
    };
    let team_id = match webhook.team_id {
        Some(team_id) => team_id,
        None => match state.own_team_id().await {
            Ok(team_id) => team_id,
            Err(error) => {
                tracing::warn!(%error, "cannot tell which team a webhook belongs to");
                count(Some(kind), "unavailable");
                return answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "retry later",
                );
            }
        },
    };

    let mut event = Event::new(team_id, kind, data);
    if !state.seen.first_time(&event.fingerprint).await {
        tracing::debug!(?kind, team_id, "redelivered webhook dropped");
        count(Some(kind), "duplicate");
        return status_answer("duplicate");
    }
    tracing::info!(?kind, team_id, "webhook accepted");
    count(Some(kind), "accepted");
    event.state_digest = state.caches.announced_state(&event);
    state.bus.publish(event).await;
    status_answer("accepted")
}

/// What a delivery's body holds, before anything is done with it.
#[derive(Debug)]
enum Inspection<'a> {
    Event {
        webhook: &'a WebhookToken,
        kind: EventKind,
        data: Value,
    },
    /// A `type` this gateway does not know (Heymarket may add some).
    UnknownType(String),
    Refused {
        status: StatusCode,
        error: &'static str,
        message: &'static str,
    },
}

/// Reads `body` as a webhook envelope signed with one of `tokens`. Pure, so every body a
/// client could send can be tried against it.
fn inspect<'a>(body: &[u8], tokens: &'a [WebhookToken]) -> Inspection<'a> {
    let refused = |status, error, message| Inspection::Refused {
        status,
        error,
        message,
    };
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "malformed",
            "the body is not a JSON webhook envelope",
        );
    };
    let Some(webhook) = envelope
        .token
        .as_deref()
        .and_then(|token| matching(tokens, token))
    else {
        return refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown webhook token",
        );
    };
    let Some(kind) = envelope.kind else {
        return refused(
            StatusCode::BAD_REQUEST,
            "malformed",
            "the envelope has no `type`",
        );
    };
    let known = serde_json::from_value::<EventKind>(Value::String(kind.clone()));
    let Some(known) = known.ok().filter(|known| known.is_webhook()) else {
        return Inspection::UnknownType(kind);
    };
    match envelope.event_data.filter(Value::is_object) {
        Some(data) => Inspection::Event {
            webhook,
            kind: known,
            data,
        },
        None => refused(
            StatusCode::BAD_REQUEST,
            "malformed",
            "the envelope has no `event_data` object",
        ),
    }
}

/// The configured token equal to `token`. Every candidate is compared in full and in constant
/// time, so timing reveals nothing about how much of a guess was right.
fn matching<'a>(tokens: &'a [WebhookToken], token: &str) -> Option<&'a WebhookToken> {
    let mut found = None;
    for candidate in tokens {
        let equal: bool = candidate
            .token
            .expose_secret()
            .as_bytes()
            .ct_eq(token.as_bytes())
            .into();
        if equal && found.is_none() {
            found = Some(candidate);
        }
    }
    found
}

/// The event type as Heymarket spells it (the metrics' `type` label).
fn wire_name(kind: EventKind) -> Option<String> {
    match serde_json::to_value(kind) {
        Ok(Value::String(name)) => Some(name),
        _ => None,
    }
}

fn status_answer(status: &str) -> Response {
    (StatusCode::OK, Json(json!({ "status": status }))).into_response()
}

fn answer(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(json!({ "error": error, "message": message }))).into_response()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn webhook_tokens_name_their_team_or_default_to_ours() {
        let named: WebhookToken = "101:s3cret".parse().unwrap();
        assert_eq!(
            (named.team_id, named.token.expose_secret()),
            (Some(101), "s3cret")
        );
        let plain: WebhookToken = "s3cret".parse().unwrap();
        assert_eq!(
            (plain.team_id, plain.token.expose_secret()),
            (None, "s3cret")
        );
        assert!(
            "x:y"
                .parse::<WebhookToken>()
                .unwrap_err()
                .contains("TEAM_ID:TOKEN")
        );
        assert!("101:".parse::<WebhookToken>().is_err());
    }

    proptest! {
        /// Any body at all gets an answer, never a panic.
        #[test]
        fn any_body_is_inspected_safely(body in prop::collection::vec(any::<u8>(), 0..512)) {
            let tokens = [token(Some(101), "s3cret")];
            let _ = inspect(&body, &tokens);
        }

        /// A well-formed envelope becomes an event exactly when it carries a configured token.
        #[test]
        fn only_a_configured_token_makes_an_event(
            sent in prop_oneof![Just("s3cret".to_owned()), ".{0,8}"],
        ) {
            let tokens = [token(Some(101), "s3cret")];
            let envelope = json!({
                "type": "chat_closed", "id": 901, "token": sent, "event_data": {"id": 1},
            });
            let body = envelope.to_string();
            let is_event = matches!(inspect(body.as_bytes(), &tokens), Inspection::Event { .. });
            prop_assert_eq!(is_event, sent == "s3cret");
        }

        #[test]
        fn any_envelope_shape_is_classified(
            kind in prop_oneof![Just("message_recieved".to_owned()), Just("chat_closed".to_owned()), ".{0,16}"],
            with_token in any::<bool>(),
            data in prop_oneof![Just(json!({"id": 1})), Just(json!([1])), Just(Value::Null), Just(json!("x"))],
        ) {
            let tokens = [token(Some(101), "s3cret")];
            let mut envelope = json!({"type": kind, "id": 901, "event_data": data});
            if with_token {
                envelope["token"] = json!("s3cret");
            }
            let body = envelope.to_string();
            match inspect(body.as_bytes(), &tokens) {
                Inspection::Event { webhook, data, .. } => {
                    prop_assert!(with_token && data.is_object());
                    prop_assert_eq!(webhook.team_id, Some(101));
                }
                Inspection::UnknownType(unknown) => prop_assert!(with_token && unknown == kind),
                Inspection::Refused { status, .. } => prop_assert!(!with_token || status == StatusCode::BAD_REQUEST),
            }
        }
    }

    fn token(team_id: Option<i64>, token: &str) -> WebhookToken {
        WebhookToken {
            team_id,
            token: token.to_owned().into(),
        }
    }

    #[test]
    fn a_replica_hint_is_no_webhook_type() {
        let tokens = [token(Some(101), "s3cret")];
        for kind in [
            EventKind::ConversationWritten,
            EventKind::ContactWritten,
            EventKind::ScheduleWritten,
        ] {
            let name = wire_name(kind).expect("a name");
            let envelope =
                json!({"type": name, "id": 901, "token": "s3cret", "event_data": {"id": 1}});
            assert!(
                matches!(
                    inspect(envelope.to_string().as_bytes(), &tokens),
                    Inspection::UnknownType(unknown) if unknown == name
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn tokens_match_exactly() {
        let tokens = [token(Some(101), "alpha"), token(Some(102), "beta")];
        assert_eq!(
            matching(&tokens, "beta").and_then(|found| found.team_id),
            Some(102)
        );
        for wrong in ["", "alph", "alphaa", "ALPHA", "beta "] {
            assert!(matching(&tokens, wrong).is_none(), "{wrong:?}");
        }
        assert!(matching(&[], "alpha").is_none());
    }
}
