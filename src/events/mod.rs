//! Changes the gateway learns of from Heymarket's webhooks, carried to every replica's
//! subscriptions and caches.
//!
//! - [`Event`]: one webhook event, as replicas share it.
//! - [`EventBus`]: how events travel; [`MemoryBus`] within one process (the default), and a
//!   Redis-backed bus when replicas share a `REDIS_URL`.
//! - [`SeenEvents`]: which events were already taken in, so redeliveries are dropped.
//!
//! An event is a hint that something changed, never a source of data: the caches forget what it
//! names and subscriptions read that again from the upstream. Its content is trusted only to say
//! where to look.

mod memory;
mod seen;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use crate::upstream::models;

pub use memory::MemoryBus;
pub use seen::{LocalSeenEvents, REMEMBER_FOR, SeenEvents};

/// One webhook event as replicas share it: what happened, to which team, and the envelope's
/// `event_data` exactly as delivered (each replica reads it with the tolerant upstream models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event's identity (see [`Event::new`]): the same for every delivery of the same
    /// event, so redeliveries are dropped.
    pub fingerprint: String,
    /// The team whose webhook configuration delivered it.
    pub team_id: i64,
    pub kind: EventKind,
    /// The envelope's `event_data`: a message (with its conversation) for message events, a
    /// conversation for chat events.
    pub data: Value,
    /// The digest of the whole conversation state the event reports (a webhook's payload,
    /// what a replica read back after its write), when its publisher can tell that state from
    /// every other (see `loaders::reported`). A second announcement of the same state moves
    /// no list shared in Redis. Not part of the event's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_digest: Option<String>,
}

impl Event {
    /// An event of team `team_id`, identified by what makes it this event rather than by how
    /// its body is spelled: its team and type, and the ids and instants of its object (a chat
    /// event's conversation `id` and `updated`; a message event's `id`, `date`, `updated` and
    /// conversation `id`), which is how Heymarket suggests telling deliveries apart. A delivery
    /// that only adds, drops or re-spells other fields is the same event. Types whose object the
    /// gateway does not model (opt-ins and opt-outs, calls) have no documented identity and are
    /// identified by their whole content; nothing here acts on them.
    pub fn new(team_id: i64, kind: EventKind, data: Value) -> Self {
        let identity = if kind.carries_message() {
            models::Message::deserialize(&data).ok().map(|message| {
                json!({
                    "message": message.id,
                    "date": message.date,
                    "updated": message.updated,
                    "conversation": message.conversation.map(|conversation| conversation.id),
                })
            })
        } else if kind.carries_conversation() {
            models::Conversation::deserialize(&data).ok().map(|conversation| {
                json!({ "conversation": conversation.id, "updated": conversation.updated })
            })
        } else {
            None
        };
        let identity = json!([team_id, kind, identity.as_ref().unwrap_or(&data)]);
        let digest = Sha256::digest(identity.to_string());
        Self {
            fingerprint: crate::hex::hex(&digest),
            team_id,
            kind,
            data,
            state_digest: None,
        }
    }

    /// The conversation the event names, the customer addresses it gives for it (a chat
    /// event's `target`; a message event's `target`, `phone` and its conversation's `target`)
    /// and the inboxes it places it in, read from the payload once. Only a hint of where to
    /// look; `None` when the event names no conversation that reads.
    pub fn place(&self) -> Option<Place> {
        if self.kind.carries_conversation() || self.kind == EventKind::ConversationWritten {
            let conversation = models::Conversation::deserialize(&self.data).ok()?;
            let inboxes = match self.kind {
                // Whether its payload shows the conversation before or after the transfer is
                // not documented, and either way it names one of the two inboxes.
                EventKind::ChatTransferred => Vec::new(),
                // A replica's hint names every inbox its write touched.
                EventKind::ConversationWritten => written_inboxes(&self.data),
                _ => conversation.inbox.into_iter().collect(),
            };
            let targets = conversation.target.clone().into_iter().collect();
            Some(Place {
                conversation_id: conversation.id,
                targets,
                inboxes,
                moved_at: conversation.updated,
                // A replica's hint shows no state: only the conversation's id, `updated` and
                // `target`.
                reported: self.kind.is_webhook().then_some(conversation),
            })
        } else if self.kind.carries_message() {
            let message = models::Message::deserialize(&self.data).ok()?;
            let conversation = *message.conversation?;
            let targets = [message.target, message.phone, conversation.target.clone()];
            Some(Place {
                conversation_id: conversation.id,
                targets: targets.into_iter().flatten().collect(),
                inboxes: conversation.inbox.into_iter().collect(),
                moved_at: conversation.updated,
                reported: Some(conversation),
            })
        } else {
            None
        }
    }

    /// The conversation the event names: a chat event's own, a message event's conversation.
    /// Only a hint of where to look; `None` when the event names none that reads.
    pub fn conversation_id(&self) -> Option<i64> {
        self.place().map(|place| place.conversation_id)
    }
}

/// Where an event says to look: see [`Event::place`].
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub conversation_id: i64,
    /// Customer addresses, as the payload writes them.
    pub targets: Vec<String>,
    /// The inboxes the conversation is in or has just left, as far as the payload says; empty
    /// when it does not say (a transfer, a payload without `inbox`).
    pub inboxes: Vec<i64>,
    /// The conversation's `updated` as the event tells it (a webhook's payload, or what a
    /// replica read back after its write): where its row now is, at the least.
    pub moved_at: Option<DateTime<Utc>>,
    /// The conversation as a webhook's payload shows it (see `loaders::reported`); `None` for
    /// a replica's hint.
    pub reported: Option<models::Conversation>,
}

/// The field of a replica's hint that lists the inboxes its write touched.
pub const WRITTEN_INBOXES: &str = "inboxes";

/// The inboxes a replica's hint lists (see [`WRITTEN_INBOXES`]): every entry must read as an
/// inbox id, or none counts, since one left out would keep its lists as they were.
fn written_inboxes(data: &Value) -> Vec<i64> {
    let listed = data[WRITTEN_INBOXES].as_array().into_iter().flatten();
    listed
        .map(Value::as_i64)
        .collect::<Option<Vec<i64>>>()
        .unwrap_or_default()
}

/// Every documented webhook `type`, spelled on the wire as Heymarket spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    MessageSent,
    /// Heymarket spells it `message_recieved`.
    #[serde(rename = "message_recieved")]
    MessageReceived,
    ChatReassigned,
    ChatClosed,
    ChatOpened,
    ChatPending,
    ChatTransferred,
    TargetOptOut,
    TargetOptIn,
    TargetDoubleOptIn,
    TargetDoubleOptRestricted,
    IncomingCall,
    /// Not a webhook: a replica wrote to a conversation (`data` is its `id`, and as far as
    /// the replica read it back, its `updated`, `target` and the inboxes the write touched) and
    /// tells the others, since Heymarket may send no event for a change made through its API.
    #[serde(rename = "gateway_conversation_written")]
    ConversationWritten,
    /// Not a webhook: a replica wrote to a contact of the team.
    #[serde(rename = "gateway_contact_written")]
    ContactWritten,
    /// Not a webhook: a replica changed or cancelled a scheduled message of the team.
    #[serde(rename = "gateway_schedule_written")]
    ScheduleWritten,
}

impl EventKind {
    /// Whether Heymarket sends events of this kind; the others are replicas' own hints.
    pub fn is_webhook(self) -> bool {
        !matches!(
            self,
            Self::ConversationWritten | Self::ContactWritten | Self::ScheduleWritten
        )
    }

    /// Message events carry a message; chat events a conversation; the rest neither that the
    /// gateway models.
    pub fn carries_message(self) -> bool {
        matches!(self, Self::MessageSent | Self::MessageReceived)
    }

    /// Opt-in and opt-out events: a contact's subscription changed. Their payload is not
    /// documented, so they say only that some contact of the team changed.
    pub fn concerns_a_contact(self) -> bool {
        matches!(
            self,
            Self::ContactWritten
                | Self::TargetOptOut
                | Self::TargetOptIn
                | Self::TargetDoubleOptIn
                | Self::TargetDoubleOptRestricted
        )
    }

    pub fn carries_conversation(self) -> bool {
        matches!(
            self,
            Self::ChatReassigned
                | Self::ChatClosed
                | Self::ChatOpened
                | Self::ChatPending
                | Self::ChatTransferred
        )
    }
}

/// Whether events currently reach every replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BusStatus {
    /// One process: there are no other replicas to reach.
    Local,
    /// Shared through Redis with every replica.
    Shared,
    /// Redis is configured but unreachable: events reach this replica only, until it is back.
    Degraded,
}

/// Carries events to every replica's subscriptions and caches.
pub trait EventBus: Send + Sync + 'static {
    /// Sends `event` to every replica, this one included (exactly once each).
    fn publish(&self, event: Event) -> BoxFuture<'_, ()>;

    /// Events from every replica in arrival order. A receiver that falls too far behind loses
    /// the oldest (and is told so by `RecvError::Lagged`).
    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>>;

    fn status(&self) -> BusStatus;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(data: Value) -> Event {
        Event::new(101, EventKind::ChatClosed, data)
    }

    #[test]
    fn a_chat_event_is_its_type_team_conversation_and_instant() {
        let data = json!({ "id": 1, "inbox": 3001, "status": "closed", "updated": "2026-05-01T00:00:00.000001Z" });
        let base = closed(data.clone()).fingerprint;
        let mut padded = data.clone();
        padded["status"] = json!("open");
        padded["extra"] = json!("anything");
        assert_eq!(
            closed(padded).fingerprint,
            base,
            "other fields do not count"
        );
        let respelled = json!({ "id": 1, "updated": "2026-05-01T00:00:00.000001+00:00" });
        assert_eq!(
            closed(respelled).fingerprint,
            base,
            "nor how the instant is spelled"
        );

        assert_ne!(
            Event::new(101, EventKind::ChatOpened, data.clone()).fingerprint,
            base
        );
        assert_ne!(
            Event::new(102, EventKind::ChatClosed, data.clone()).fingerprint,
            base
        );
        let later = json!({ "id": 1, "updated": "2026-05-01T00:00:00.000002Z" });
        assert_ne!(
            closed(later).fingerprint,
            base,
            "a later change is another event"
        );
        assert_ne!(
            closed(json!({ "id": 2, "updated": data["updated"] })).fingerprint,
            base
        );
    }

    #[test]
    fn a_message_event_is_its_message_and_conversation() {
        let data = json!({ "id": 7, "text": "hi", "date": "2026-05-01T00:00:00Z",
            "conversation": { "id": 1, "inbox": 3001 } });
        let received = |data| Event::new(101, EventKind::MessageReceived, data).fingerprint;
        let base = received(data.clone());
        let mut padded = data.clone();
        padded["text"] = json!("something else");
        padded["conversation"]["status"] = json!("closed");
        assert_eq!(received(padded), base);
        let mut other = data.clone();
        other["id"] = json!(8);
        assert_ne!(received(other), base);
        let mut moved = data;
        moved["conversation"]["id"] = json!(2);
        assert_ne!(received(moved), base);
    }

    #[test]
    fn an_unmodelled_event_is_its_whole_content() {
        let opt_out = |data| Event::new(101, EventKind::TargetOptOut, data).fingerprint;
        assert_eq!(
            opt_out(json!({ "phone": "1415" })),
            opt_out(json!({ "phone": "1415" }))
        );
        assert_ne!(
            opt_out(json!({ "phone": "1415" })),
            opt_out(json!({ "phone": "1416" }))
        );
    }

    #[test]
    fn the_named_conversation_is_read_from_either_shape() {
        assert_eq!(closed(json!({ "id": 5 })).conversation_id(), Some(5));
        let message = Event::new(
            101,
            EventKind::MessageSent,
            json!({ "id": 7, "conversation": { "id": 5 } }),
        );
        assert_eq!(message.conversation_id(), Some(5));
        assert_eq!(closed(json!({ "name": "no id" })).conversation_id(), None);
        let opt_out = Event::new(101, EventKind::TargetOptOut, json!({ "id": 5 }));
        assert_eq!(opt_out.conversation_id(), None);
    }

    #[test]
    fn the_customer_is_read_from_either_shape() {
        let targets = |event: Event| event.place().map(|place| place.targets);
        assert_eq!(
            targets(closed(json!({ "id": 5, "target": "14155550100" }))),
            Some(vec!["14155550100".to_owned()])
        );
        let message = Event::new(
            101,
            EventKind::MessageReceived,
            json!({ "id": 7, "target": "a", "conversation": { "id": 5, "target": "b" } }),
        );
        assert_eq!(targets(message), Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(targets(closed(json!({ "id": 5 }))), Some(Vec::new()));
    }

    #[test]
    fn the_inboxes_are_read_where_the_payload_can_say() {
        let inboxes = |kind, data| Event::new(101, kind, data).place().map(|p| p.inboxes);
        let conversation = json!({ "id": 5, "inbox": 3001 });
        assert_eq!(
            inboxes(EventKind::ChatClosed, conversation.clone()),
            Some(vec![3001])
        );
        assert_eq!(
            inboxes(EventKind::ChatTransferred, conversation.clone()),
            Some(Vec::new()),
            "either side of a transfer"
        );
        let message = json!({ "id": 7, "conversation": conversation });
        assert_eq!(inboxes(EventKind::MessageSent, message), Some(vec![3001]));
        assert_eq!(
            inboxes(EventKind::ChatOpened, json!({ "id": 5 })),
            Some(Vec::new())
        );
        let written = |listed| json!({ "id": 5, WRITTEN_INBOXES: listed });
        assert_eq!(
            inboxes(EventKind::ConversationWritten, written(json!([3001, 3002]))),
            Some(vec![3001, 3002])
        );
        assert_eq!(
            inboxes(EventKind::ConversationWritten, written(json!([3001, "x"]))),
            Some(Vec::new()),
            "one unreadable inbox makes the list unknown"
        );
    }
}
