//! Conversations and messages in the API's wire shape (heymarket-api.md §5.1, §5.2, §7.1).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::TeamStore;
use super::records::{Channel, Conversation, Direction, Message, Template};
use crate::readings::{MessageMedia, ReadState, Unassigned};
use crate::wire::{timestamp, timestamp_at};

/// Whose read state a conversation shows.
///
/// The docs leave `read` (an integer) and the extra `unread` open. We read them per member where
/// the request names one (the list body's `id`): `unread` = unread for that member, `read` = 0
/// or 1 its negation. Where no member is known (`GET /v1/conversations/{id}`, message payloads,
/// webhooks, a list with `id` 0) `unread` = unread for any member and `read` = 1 only when no
/// member has it unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Viewer {
    Member(i64),
    Team,
}

/// `{id, name}` of a member taking part in a conversation.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MemberRef {
    id: i64,
    name: String,
}

/// A conversation on the wire: every field of §5.1 plus `last_msg` and, as the `read-state`
/// reading says, `unread` and `unread_users`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConversationJson {
    /// `None` leaves the field out, `Some(None)` writes `null` (for an unassigned conversation,
    /// as the readings say).
    #[serde(skip_serializing_if = "Option::is_none")]
    assigned: Option<Option<i64>>,
    blocked: bool,
    channel: &'static str,
    created: String,
    creator: i64,
    email_noti: bool,
    pub(crate) id: i64,
    pub(crate) inbox: i64,
    last_inbound: i64,
    local_id: &'static str,
    members: Vec<MemberRef>,
    muted: bool,
    name: String,
    noreply: &'static str,
    op: &'static str,
    read: i64,
    replied: bool,
    snooze_till: &'static str,
    status: &'static str,
    #[serde(rename = "super")]
    super_: i64,
    support: bool,
    target: String,
    #[serde(rename = "type")]
    kind: &'static str,
    updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unread: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unread_users: Option<Vec<i64>>,
    last_msg: String,
}

/// `{"data": [], "type": ""}`, the undocumented `custom` block of a message.
#[derive(Debug, Clone, Serialize)]
struct MessageCustom {
    data: [i64; 0],
    #[serde(rename = "type")]
    kind: &'static str,
}

/// A message on the wire: every field of §5.2 plus `private`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MessageJson {
    author: String,
    broadcast_id: i64,
    pub(crate) conversation: ConversationJson,
    custom: MessageCustom,
    date: String,
    flagged: bool,
    pub(crate) id: i64,
    link_url: &'static str,
    local_id: String,
    media: MediaJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    gallery: Option<Vec<GalleryEntryJson>>,
    phone: String,
    status: &'static str,
    /// Public client code shows these on failed sends (heymarket-api.md §5.2, CODE-MC).
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_errors: Option<BTreeMap<String, String>>,
    #[serde(rename = "super")]
    super_: i64,
    support: bool,
    target: String,
    text: String,
    #[serde(rename = "type")]
    kind: &'static str,
    updated: String,
    user: i64,
    private: bool,
}

/// A message's `media` as the readings spell it: one URL (`""` for none) or all of them.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum MediaJson {
    One(String),
    All(Vec<String>),
}

/// One attachment of a message's `gallery`, shaped like the documented GalleryEntry.
#[derive(Debug, Clone, Serialize)]
struct GalleryEntryJson {
    url: String,
    original_url: String,
    annotation_text: &'static str,
    annotation_position: &'static str,
}

fn gallery_entry(url: &str) -> GalleryEntryJson {
    GalleryEntryJson {
        url: url.to_owned(),
        original_url: url.to_owned(),
        annotation_text: "",
        annotation_position: "",
    }
}

/// A template as `POST /v1/templates` and `GET /v1/template/{id}` answer it (§9.4).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TemplateJson {
    id: i64,
    name: String,
    local_id: String,
    content: TemplateContentJson,
    team_id: i64,
    creator_id: i64,
    shared: bool,
    created: String,
    updated: String,
    rev: i64,
    archived: bool,
}

/// A template's GalleryContent.
#[derive(Debug, Clone, Serialize)]
struct TemplateContentJson {
    text: String,
    gallery: Vec<GalleryEntryJson>,
}

/// The answer of `POST /v1/message/send`: the documented `{id, date, gallery_url}`, with
/// `gallery_url` only when media was sent, and the conversation's fields when the readings
/// say the answer has them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SendAnswer {
    pub(crate) id: i64,
    date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    gallery_url: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    queued: Option<Queued>,
}

/// What public client code sees in a send's answer besides the documented fields.
#[derive(Debug, Clone, Serialize)]
struct Queued {
    convo_id: i64,
    queued: bool,
    compliance_results: serde_json::Map<String, serde_json::Value>,
}

impl TeamStore {
    /// The answer of a send that made `message` in `conversation` at `date`; with the
    /// conversation's fields when `with_conversation` (email sends document them; text sends
    /// have them when the readings say so).
    pub(crate) fn send_answer(
        &self,
        message: i64,
        conversation: i64,
        date: &DateTime<Utc>,
        media: Option<String>,
        with_conversation: bool,
    ) -> SendAnswer {
        let queued = with_conversation.then(|| Queued {
            convo_id: conversation,
            queued: true,
            compliance_results: serde_json::Map::new(),
        });
        SendAnswer {
            id: message,
            date: timestamp(date),
            gallery_url: media,
            queued,
        }
    }

    pub(crate) fn conversation_json(
        &self,
        conversation: &Conversation,
        viewer: Viewer,
    ) -> ConversationJson {
        let contact = self.contact_of(conversation);
        let unread = match viewer {
            Viewer::Member(member) => conversation.unread_users.contains(&member),
            Viewer::Team => !conversation.unread_users.is_empty(),
        };
        let members = conversation
            .members
            .iter()
            .map(|&id| MemberRef {
                id,
                name: self.member_name(id),
            })
            .collect();
        let last_msg = conversation
            .messages
            .last()
            .and_then(|&id| self.message(id));
        let precision = self.readings.updated_precision;
        let read_state = self.readings.read_state;
        let assigned = match (conversation.assigned, self.readings.unassigned) {
            (0, Unassigned::Zero) => Some(Some(0)),
            (0, Unassigned::Null) => Some(None),
            (0, Unassigned::Absent) => None,
            (member, _) => Some(Some(member)),
        };
        ConversationJson {
            assigned,
            blocked: contact.is_some_and(|c| c.blocked),
            channel: conversation.channel.as_str(),
            created: timestamp_at(&conversation.created, precision),
            creator: conversation.creator,
            email_noti: false,
            id: conversation.id,
            inbox: conversation.inbox,
            last_inbound: conversation.last_inbound,
            local_id: "",
            members,
            muted: conversation.muted,
            name: conversation
                .title
                .clone()
                .unwrap_or_else(|| contact.map(|c| c.display_name()).unwrap_or_default()),
            noreply: "",
            op: "",
            read: i64::from(!unread),
            replied: conversation.replied,
            snooze_till: "",
            status: conversation.status.as_str(),
            super_: 0,
            support: false,
            target: conversation.target.clone(),
            kind: "chat",
            updated: timestamp_at(&conversation.updated, precision),
            unread: (read_state != ReadState::Read).then_some(unread),
            unread_users: (read_state == ReadState::UnreadUsers)
                .then(|| conversation.unread_users.iter().copied().collect()),
            last_msg: last_msg.map(|m| m.text.to_string()).unwrap_or_default(),
        }
    }

    /// A message with its conversation embedded (read state as [`Viewer::Team`]).
    pub(crate) fn message_json(&self, message: &Message) -> Option<MessageJson> {
        let conversation = self.conversation(message.conversation)?;
        let contact = self.contact_of(conversation);
        let author = message
            .author
            .clone()
            .unwrap_or_else(|| match message.direction {
                Direction::Inbound => {
                    contact.map_or_else(|| conversation.target.clone(), |c| c.display_name())
                }
                Direction::Outbound | Direction::Private => self.member_name(message.user),
            });
        let kind = match (message.direction, conversation.channel) {
            (Direction::Private, _) => "private",
            (_, Channel::Email) => "email",
            (_, Channel::Sms) if message.media.is_empty() => "sms",
            (_, Channel::Sms) => "mms",
        };
        let date = timestamp(&message.date);
        Some(MessageJson {
            author,
            broadcast_id: 0,
            conversation: self.conversation_json(conversation, Viewer::Team),
            custom: MessageCustom { data: [], kind: "" },
            date: date.clone(),
            flagged: false,
            id: message.id,
            link_url: "",
            local_id: message.local_id.clone().unwrap_or_default(),
            media: self.media_json(&message.media),
            gallery: (self.readings.message_media == MessageMedia::Gallery)
                .then(|| message.media.iter().map(|url| gallery_entry(url)).collect()),
            phone: contact.map_or_else(|| conversation.target.clone(), |c| c.phone.clone()),
            status: match (message.direction, &message.delivery_error) {
                (Direction::Inbound, _) => "received",
                (_, Some(_)) => "failed",
                (_, None) => "sent",
            },
            raw_error: message.delivery_error.clone(),
            target_errors: message
                .delivery_error
                .as_ref()
                .map(|error| BTreeMap::from([(conversation.target.clone(), error.clone())])),
            super_: 0,
            support: false,
            target: conversation.target.clone(),
            text: message.text.to_string(),
            kind,
            updated: date,
            user: message.user,
            private: message.direction == Direction::Private,
        })
    }

    pub(crate) fn template_json(&self, template: &Template) -> TemplateJson {
        let precision = self.readings.updated_precision;
        TemplateJson {
            id: template.id,
            name: template.name.clone(),
            local_id: String::new(),
            content: TemplateContentJson {
                text: template.text.clone(),
                gallery: template
                    .gallery
                    .iter()
                    .map(|url| gallery_entry(url))
                    .collect(),
            },
            team_id: self.team().id,
            creator_id: template.creator,
            shared: template.shared,
            created: timestamp_at(&template.created, precision),
            updated: timestamp_at(&template.updated, precision),
            rev: 1,
            archived: template.archived,
        }
    }

    fn media_json(&self, media: &[String]) -> MediaJson {
        match self.readings.message_media {
            MessageMedia::List => MediaJson::All(media.to_vec()),
            MessageMedia::Single | MessageMedia::Gallery => {
                MediaJson::One(media.first().cloned().unwrap_or_default())
            }
        }
    }

    fn member_name(&self, id: i64) -> String {
        self.member(id).map(|m| m.name.clone()).unwrap_or_default()
    }
}
