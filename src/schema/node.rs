//! Global object identification: opaque ids that name a type and find the object again, and the
//! `Node` interface every entity implements.

use std::fmt;
use std::str::FromStr;

use std::sync::Arc;

use async_graphql::{Context, Interface};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::access;
use super::context::RequestContext;
use super::types::{
    Contact, Conversation, Inbox, Member, Message, ScheduledMessage, Tag, Template,
};
use crate::error::ApiError;
use crate::text::shortened;
use crate::upstream::models;

/// Characters of a bad argument echoed back in an error: a huge one helps nobody.
const MAX_ECHOED_CHARS: usize = 64;

/// The kinds of object that carry a global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Inbox,
    Member,
    Contact,
    Conversation,
    Message,
    Template,
    Tag,
    ScheduledMessage,
}

impl NodeKind {
    const ALL: [NodeKind; 8] = [
        Self::Inbox,
        Self::Member,
        Self::Contact,
        Self::Conversation,
        Self::Message,
        Self::Template,
        Self::Tag,
        Self::ScheduledMessage,
    ];

    /// The GraphQL type name, which is also the prefix inside the encoded id.
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Inbox => "Inbox",
            Self::Member => "Member",
            Self::Contact => "Contact",
            Self::Conversation => "Conversation",
            Self::Message => "Message",
            Self::Template => "Template",
            Self::Tag => "Tag",
            Self::ScheduledMessage => "ScheduledMessage",
        }
    }
}

/// Where a message can be found again. The upstream has no "message by id" endpoint, so a
/// message's global id also names its conversation and the second it was sent, which is enough
/// to find it in that conversation's history with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageRef {
    pub id: i64,
    pub conversation_id: i64,
    /// Unix seconds.
    pub sent_at: i64,
}

/// A decoded global id: `base64url("<Type>:<databaseId>")` (messages add
/// `:<conversationId>:<sentAt>`), unpadded.
///
/// Clients must treat ids as opaque; the encoding only has to be stable and reversible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlobalId {
    Inbox(i64),
    Member(i64),
    Contact(i64),
    Conversation(i64),
    Message(MessageRef),
    Template(i64),
    Tag(i64),
    ScheduledMessage(i64),
}

impl GlobalId {
    pub fn kind(self) -> NodeKind {
        match self {
            Self::Inbox(_) => NodeKind::Inbox,
            Self::Member(_) => NodeKind::Member,
            Self::Contact(_) => NodeKind::Contact,
            Self::Conversation(_) => NodeKind::Conversation,
            Self::Message(_) => NodeKind::Message,
            Self::Template(_) => NodeKind::Template,
            Self::Tag(_) => NodeKind::Tag,
            Self::ScheduledMessage(_) => NodeKind::ScheduledMessage,
        }
    }

    /// The upstream's own id of the object.
    pub fn database_id(self) -> i64 {
        match self {
            Self::Inbox(id)
            | Self::Member(id)
            | Self::Contact(id)
            | Self::Conversation(id)
            | Self::Template(id)
            | Self::Tag(id)
            | Self::ScheduledMessage(id) => id,
            Self::Message(message) => message.id,
        }
    }

    /// Decodes `raw` and insists that it names a `kind`, as arguments like `inbox(id:)` need;
    /// answers the object's database id.
    pub fn parse_as(raw: &str, kind: NodeKind) -> Result<i64, ApiError> {
        let global: GlobalId = raw.parse()?;
        if global.kind() != kind {
            return Err(ApiError::bad_input(format!(
                "id `{}` is of type {}; this argument expects type {}",
                shortened(raw, MAX_ECHOED_CHARS),
                global.kind().type_name(),
                kind.type_name()
            )));
        }
        Ok(global.database_id())
    }

    /// The id as an async-graphql `ID`.
    pub fn to_id(self) -> async_graphql::ID {
        async_graphql::ID(self.to_string())
    }
}

impl fmt::Display for GlobalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = match self {
            Self::Message(MessageRef {
                id,
                conversation_id,
                sent_at,
            }) => {
                format!("Message:{id}:{conversation_id}:{sent_at}")
            }
            other => format!("{}:{}", other.kind().type_name(), other.database_id()),
        };
        f.write_str(&URL_SAFE_NO_PAD.encode(plain))
    }
}

impl FromStr for GlobalId {
    type Err = ApiError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let malformed = || {
            ApiError::bad_input(format!(
                "`{}` is not an id issued by this API; use the `id` field of an object",
                shortened(raw, MAX_ECHOED_CHARS)
            ))
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| malformed())?;
        let plain = std::str::from_utf8(&bytes).map_err(|_| malformed())?;
        let mut parts = plain.split(':');
        let type_name = parts.next().ok_or_else(malformed)?;
        let kind = NodeKind::ALL
            .into_iter()
            .find(|kind| kind.type_name() == type_name)
            .ok_or_else(malformed)?;
        let numbers: Vec<i64> = parts
            .map(canonical_integer)
            .collect::<Option<_>>()
            .ok_or_else(malformed)?;
        Ok(match (kind, numbers.as_slice()) {
            (NodeKind::Inbox, &[id]) => Self::Inbox(id),
            (NodeKind::Member, &[id]) => Self::Member(id),
            (NodeKind::Contact, &[id]) => Self::Contact(id),
            (NodeKind::Conversation, &[id]) => Self::Conversation(id),
            (NodeKind::Template, &[id]) => Self::Template(id),
            (NodeKind::Tag, &[id]) => Self::Tag(id),
            (NodeKind::ScheduledMessage, &[id]) => Self::ScheduledMessage(id),
            (NodeKind::Message, &[id, conversation_id, sent_at]) => Self::Message(MessageRef {
                id,
                conversation_id,
                sent_at,
            }),
            _ => return Err(malformed()),
        })
    }
}

/// Only the canonical decimal form parses, so each object has exactly one id.
pub(super) fn canonical_integer(text: &str) -> Option<i64> {
    let value: i64 = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}

/// An object with a global id that `node(id:)` can fetch again.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "async_graphql::ID",
    desc = "Globally unique, opaque id."
))]
pub enum Node {
    Inbox(Inbox),
    Member(Member),
    Contact(Contact),
    Conversation(Conversation),
    Message(Message),
    Template(Template),
    Tag(Tag),
    ScheduledMessage(ScheduledMessage),
}

/// The object `id` names, fetched through the operation's loaders; `None` when the upstream has
/// no such object, `FORBIDDEN` for a conversation, or a message of one, in an inbox the acting
/// member is not a member of (see [`access`]).
pub async fn fetch(ctx: &Context<'_>, id: GlobalId) -> Result<Option<Node>, ApiError> {
    let context = RequestContext::of(ctx)?;
    let loaders = &context.loaders;
    Ok(match id {
        GlobalId::Inbox(id) => loaders
            .inbox(id)
            .await?
            .map(|inbox| Node::Inbox(Inbox(inbox))),
        GlobalId::Member(id) => loaders
            .member(id)
            .await?
            .map(|member| Node::Member(Member(member))),
        GlobalId::Contact(id) => loaders
            .contact(id)
            .await?
            .map(|contact| Node::Contact(Contact(contact))),
        GlobalId::Conversation(id) => access::conversation(context, id)
            .await?
            .map(|conversation| Node::Conversation(Conversation(conversation))),
        GlobalId::Template(id) => access::template(context, id)
            .await?
            .map(|template| Node::Template(Template(Arc::new(template)))),
        GlobalId::Tag(id) => loaders.tag(id).await?.map(|tag| Node::Tag(Tag(tag))),
        GlobalId::ScheduledMessage(id) => access::scheduled(context, id)
            .await?
            .map(|scheduled| Node::ScheduledMessage(ScheduledMessage(scheduled))),
        GlobalId::Message(message) => {
            let Some(conversation) = access::conversation(context, message.conversation_id).await?
            else {
                return Ok(None);
            };
            find_message(context, &conversation, message.id, message.sent_at)
                .await?
                .map(Node::Message)
        }
    })
}

/// Message `id` of `conversation`, read from the upstream: the upstream has no "message by id"
/// endpoint, so it is looked for in the page of the conversation's history sent up to the end of
/// the second `sent_at` (Unix seconds). Past the caches, so what it finds is the upstream's
/// current word.
pub async fn find_message(
    context: &RequestContext,
    conversation: &models::Conversation,
    id: i64,
    sent_at: i64,
) -> Result<Option<Message>, ApiError> {
    let (Some(phone), Some(inbox_id)) = (conversation.target.as_deref(), conversation.inbox) else {
        return Ok(None);
    };
    let history = context
        .upstream()
        .message_history(phone, inbox_id, Some(sent_at.saturating_add(1)))
        .await?;
    Ok(history
        .into_iter()
        .find(|candidate| candidate.id == id)
        .map(|found| Message::new(Arc::new(found), conversation.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds(id: i64) -> [GlobalId; 8] {
        [
            GlobalId::ScheduledMessage(id),
            GlobalId::Template(id),
            GlobalId::Tag(id),
            GlobalId::Inbox(id),
            GlobalId::Member(id),
            GlobalId::Contact(id),
            GlobalId::Conversation(id),
            GlobalId::Message(MessageRef {
                id,
                conversation_id: 2_000_001,
                sent_at: 1_780_000_000,
            }),
        ]
    }

    #[test]
    fn ids_round_trip_for_every_kind() {
        for id in [0, 1, 3001, i64::MAX, -5] {
            for global in all_kinds(id) {
                assert_eq!(global.to_string().parse::<GlobalId>(), Ok(global));
            }
        }
    }

    #[test]
    fn ids_are_opaque_url_safe_text() {
        let encoded = GlobalId::Inbox(3001).to_string();
        assert_eq!(encoded, "SW5ib3g6MzAwMQ");
        for global in all_kinds(90_000_001) {
            let encoded = global.to_string();
            assert!(
                encoded
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{encoded}"
            );
        }
    }

    #[test]
    fn malformed_ids_are_bad_user_input() {
        let encode = |plain: &str| URL_SAFE_NO_PAD.encode(plain);
        for raw in [
            String::new(),
            "!!!".to_owned(),
            encode("Inbox"),
            encode("Inbox:"),
            encode("Inbox:12x"),
            encode("Inbox:007"),
            encode("Inbox:+7"),
            encode("Inbox:1:2"),
            encode("Message:1"),
            encode("Message:1:2"),
            encode("Planet:1"),
            encode(":1"),
            encode("Inbox:99999999999999999999"),
            "x".repeat(10_000),
        ] {
            let error = raw.parse::<GlobalId>().unwrap_err();
            assert_eq!(error.code(), "BAD_USER_INPUT", "{raw}");
            assert!(error.to_string().len() < 200);
        }
    }

    #[test]
    fn an_id_of_another_kind_is_refused_by_name() {
        let member = GlobalId::Member(501).to_string();
        let error = GlobalId::parse_as(&member, NodeKind::Inbox).unwrap_err();
        assert_eq!(
            error,
            ApiError::bad_input(format!(
                "id `{member}` is of type Member; this argument expects type Inbox"
            ))
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn any_id() -> impl Strategy<Value = GlobalId> {
        prop_oneof![
            any::<i64>().prop_map(GlobalId::Inbox),
            any::<i64>().prop_map(GlobalId::Member),
            any::<i64>().prop_map(GlobalId::Contact),
            any::<i64>().prop_map(GlobalId::Conversation),
            any::<i64>().prop_map(GlobalId::ScheduledMessage),
            (any::<i64>(), any::<i64>(), any::<i64>()).prop_map(
                |(id, conversation_id, sent_at)| GlobalId::Message(MessageRef {
                    id,
                    conversation_id,
                    sent_at
                })
            ),
        ]
    }

    proptest! {
        #[test]
        fn every_id_round_trips(id in any_id()) {
            prop_assert_eq!(id.to_string().parse::<GlobalId>(), Ok(id));
        }

        /// Whatever a client sends, decoding answers (never panics), and what it accepts is the
        /// one canonical spelling of that id.
        #[test]
        fn any_text_decodes_to_nothing_or_its_canonical_id(raw in ".{0,80}") {
            if let Ok(id) = raw.parse::<GlobalId>() {
                prop_assert_eq!(id.to_string(), raw);
            }
        }

        /// Base64 of arbitrary text reaches the inner parser, which must cope with anything.
        #[test]
        fn any_decoded_payload_is_handled(plain in "[A-Za-z]{0,12}(:-?[0-9]{0,22}){0,4}") {
            let raw = URL_SAFE_NO_PAD.encode(&plain);
            if let Ok(id) = raw.parse::<GlobalId>() {
                prop_assert_eq!(id.to_string(), raw);
            }
        }
    }
}
