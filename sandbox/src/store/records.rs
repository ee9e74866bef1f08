//! The records one simulated team holds, in the shape the store needs (not the wire shape).

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

/// First id of each kind; every team uses the same scheme, so ids collide across teams on
/// purpose (tenant isolation must come from credentials, never from id ranges).
pub(crate) const FIRST_INBOX_ID: i64 = 3001;
pub(crate) const FIRST_MEMBER_ID: i64 = 501;
pub(crate) const FIRST_CONTACT_ID: i64 = 100_001;
pub(crate) const FIRST_CONVERSATION_ID: i64 = 2_000_001;
pub(crate) const FIRST_MESSAGE_ID: i64 = 90_000_001;
pub(crate) const FIRST_TEMPLATE_ID: i64 = 7001;
pub(crate) const FIRST_TAG_ID: i64 = 8001;
pub(crate) const FIRST_FIELD_ID: i64 = 9001;

/// Most tags one contact may carry ("`tags:[{tag_id}]` (max 5)", §9.1).
pub(crate) const MAX_CONTACT_TAGS: usize = 5;

/// A label contacts carry (§9.5).
#[derive(Debug, Clone)]
pub(crate) struct Tag {
    pub(crate) id: i64,
    pub(crate) name: String,
    /// Hex colour, e.g. `#2f6fed`.
    pub(crate) color: String,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
}

/// A custom contact field (§9.1): contacts hold its values keyed by its id.
#[derive(Debug, Clone)]
pub(crate) struct CustomField {
    pub(crate) id: i64,
    pub(crate) title: String,
}
pub(crate) const FIRST_SCHEDULE_ID: i64 = 60_000_001;

/// What the simulated team calls itself.
#[derive(Debug, Clone)]
pub(crate) struct TeamInfo {
    pub(crate) id: i64,
    pub(crate) name: String,
}

/// A team member (a user who can act in inboxes).
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) role: &'static str,
}

/// The kind of channel an inbox and its conversations use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Inbox {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) channel: Channel,
    /// Primary number; empty for the email inbox.
    pub(crate) phone: String,
    pub(crate) phones: Vec<String>,
    /// Member ids with access, ascending.
    pub(crate) members: Vec<i64>,
    /// The first member who replies to an unassigned conversation gets it.
    pub(crate) auto_assignable: bool,
}

impl Inbox {
    pub(crate) fn has_member(&self, member: i64) -> bool {
        self.members.binary_search(&member).is_ok()
    }
}

/// A saved message (heymarket-api.md §9.4); `{{first_name}}` and `{{last_name}}` in its text
/// are filled in per recipient when it is sent.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) text: String,
    /// Picture URLs sent with it.
    pub(crate) gallery: Vec<String>,
    pub(crate) creator: i64,
    /// Shared with the team; otherwise its creator's own.
    pub(crate) shared: bool,
    pub(crate) archived: bool,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Contact {
    pub(crate) id: i64,
    pub(crate) uuid: String,
    pub(crate) first: String,
    pub(crate) last: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) creator: i64,
    pub(crate) assigned_user: i64,
    pub(crate) opted_out: bool,
    pub(crate) blocked: bool,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    /// Custom field values by field id.
    pub(crate) custom: std::collections::BTreeMap<i64, String>,
    /// Tag ids, at most [`MAX_CONTACT_TAGS`].
    pub(crate) tags: Vec<i64>,
}

impl Contact {
    pub(crate) fn display_name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Open,
    Closed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    pub(crate) id: i64,
    pub(crate) inbox: i64,
    pub(crate) channel: Channel,
    /// Customer phone (E.164 digits) or email address.
    pub(crate) target: String,
    pub(crate) created: DateTime<Utc>,
    /// Member who started it; 0 when the customer did.
    pub(crate) creator: i64,
    /// Last activity; the list endpoint's sort key and cursor.
    pub(crate) updated: DateTime<Utc>,
    pub(crate) status: Status,
    /// Assignee member id; 0 when unassigned.
    pub(crate) assigned: i64,
    /// The assignee and every member who wrote, in order of first appearance.
    pub(crate) members: Vec<i64>,
    /// Members for whom it is unread.
    pub(crate) unread_users: BTreeSet<i64>,
    pub(crate) replied: bool,
    pub(crate) muted: bool,
    /// Unix seconds of the last inbound message; 0 if none.
    pub(crate) last_inbound: i64,
    /// The subject an email conversation was started with (`conv_title`); its `name` on the
    /// wire, which is otherwise the contact's name.
    pub(crate) title: Option<String>,
    /// Message ids in chronological order.
    pub(crate) messages: Vec<i64>,
}

impl Conversation {
    /// Records that `member` took part, keeping first-appearance order.
    pub(crate) fn add_member(&mut self, member: i64) {
        if member != 0 && !self.members.contains(&member) {
            self.members.push(member);
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// From the customer (`user` 0).
    Inbound,
    /// From a member to the customer.
    Outbound,
    /// An internal note only members see.
    Private,
}

#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) id: i64,
    pub(crate) conversation: i64,
    pub(crate) date: DateTime<Utc>,
    pub(crate) direction: Direction,
    /// Member id for outbound and private messages; 0 inbound.
    pub(crate) user: i64,
    pub(crate) text: Cow<'static, str>,
    /// Attachment URLs, in order.
    pub(crate) media: Vec<String>,
    /// Why the carrier could not deliver an outbound message; `None` while nothing failed.
    pub(crate) delivery_error: Option<String>,
    pub(crate) local_id: Option<String>,
    /// Display name the sender asked for (`author` on send); else the writer's name.
    pub(crate) author: Option<String>,
}
