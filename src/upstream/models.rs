//! Wire models of the Heymarket REST API (heymarket-api.md §5, §7.1, §9.1), decoded tolerantly.
//!
//! Ids are required; every other field is optional or defaults to empty, unknown fields are
//! ignored, and a field of an unexpected type reads as absent (see `de`). Timestamps are
//! normalised to UTC.
//!
//! The models replicas share through Redis (conversations and messages) also serialise, under
//! the same field names, so what one replica writes decodes on another as it was read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::de;

/// A conversation (`POST /v1/conversations`, `GET /v1/conversations/{id}`, inside messages, and
/// in chat webhooks).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Conversation {
    /// Also called `chat_id`, `convo_id` and `conversation_id` by other endpoints.
    pub id: i64,
    /// The assigned member; see [`Conversation::assignee_id`].
    #[serde(default, deserialize_with = "de::int")]
    pub assigned: Option<i64>,
    /// The contact is blocked.
    #[serde(default, deserialize_with = "de::flag")]
    pub blocked: Option<bool>,
    /// e.g. `sms`, `mms`, `email`, `chat` (casing unverified).
    #[serde(default, deserialize_with = "de::text")]
    pub channel: Option<String>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub created: Option<DateTime<Utc>>,
    /// Undocumented; probably the member who started the conversation.
    #[serde(default, deserialize_with = "de::int")]
    pub creator: Option<i64>,
    /// The inbox holding the conversation.
    #[serde(default, deserialize_with = "de::int")]
    pub inbox: Option<i64>,
    /// Undocumented integer (a Unix time or a message id).
    #[serde(default, deserialize_with = "de::int")]
    pub last_inbound: Option<i64>,
    #[serde(default, deserialize_with = "de::text")]
    pub local_id: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub members: Vec<ConversationMember>,
    #[serde(default, deserialize_with = "de::flag")]
    pub muted: Option<bool>,
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    /// Documented as an integer, described as "has been read"; booleans read as 0/1.
    #[serde(default, deserialize_with = "de::int_or_flag")]
    pub read: Option<i64>,
    #[serde(default, deserialize_with = "de::flag")]
    pub replied: Option<bool>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub snooze_till: Option<DateTime<Utc>>,
    /// `open` or `closed` (a `pending` state may exist).
    #[serde(default, deserialize_with = "de::text")]
    pub status: Option<String>,
    /// The customer's phone number (or email address on email conversations).
    #[serde(default, deserialize_with = "de::text")]
    pub target: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "de::text")]
    pub kind: Option<String>,
    /// Last activity: the list endpoint's sort key and cursor.
    #[serde(default, deserialize_with = "de::timestamp")]
    pub updated: Option<DateTime<Utc>>,
    /// Undocumented, seen in client code: unread for the listing member.
    #[serde(default, deserialize_with = "de::flag")]
    pub unread: Option<bool>,
    /// Undocumented, seen in client code: the members for whom it is unread.
    #[serde(default, deserialize_with = "de::lenient")]
    pub unread_users: Option<Vec<i64>>,
    /// Undocumented, seen in client code: a preview of the last message.
    #[serde(default, deserialize_with = "de::text")]
    pub last_msg: Option<String>,
    /// The member whose list answered this copy (the list body's `id`): `unread` and `read`
    /// are that member's. `None` for answers that name no member (`GET
    /// /v1/conversations/{id}`, messages, webhooks), whose `unread` and `read` are nobody's
    /// in particular. Set by the gateway, never read from the wire.
    #[serde(skip)]
    pub listed_for: Option<i64>,
}

impl Conversation {
    /// The assigned member, if any. How "unassigned" looks is undocumented (heymarket-api.md
    /// §13.5): absent, `null`, `0` and negative ids (the reassign endpoint's `-1`) all read as
    /// unassigned, since member ids are positive.
    pub fn assignee_id(&self) -> Option<i64> {
        self.assigned.filter(|id| *id > 0)
    }

    /// Whether the conversation is unread for `member_id`, when this copy can tell. The docs
    /// leave this open (§13.3): `unread_users` names every member it is unread for; without
    /// it, `unread` and then `read == 0` say so only for the member whose list answered this
    /// copy ([`Conversation::listed_for`]), and `None` is the answer for anyone else. With no
    /// signal at all, that member has read it.
    pub fn is_unread_for(&self, member_id: i64) -> Option<bool> {
        if let Some(users) = &self.unread_users {
            return Some(users.contains(&member_id));
        }
        if self.listed_for != Some(member_id) {
            return None;
        }
        Some(self.unread.unwrap_or(self.read == Some(0)))
    }
}

/// A member on a conversation.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ConversationMember {
    pub id: i64,
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
}

/// A message (`GET /v1/messages`, `POST /v1/messages/all`, message webhooks).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Message {
    pub id: i64,
    #[serde(default, deserialize_with = "de::text")]
    pub text: Option<String>,
    /// Media URLs on MMS: documented as one string, read as a list too.
    #[serde(default, deserialize_with = "de::urls")]
    pub media: Vec<String>,
    /// Every attachment, where the upstream lists them as its other content objects do
    /// (heymarket-api.md §7.6, §9.4).
    #[serde(default, deserialize_with = "de::list")]
    pub gallery: Vec<GalleryEntry>,
    #[serde(default, deserialize_with = "de::text")]
    pub phone: Option<String>,
    /// Undocumented value set.
    #[serde(rename = "type", default, deserialize_with = "de::text")]
    pub kind: Option<String>,
    /// Delivery status; only `sent` has been observed.
    #[serde(default, deserialize_with = "de::text")]
    pub status: Option<String>,
    /// Why a send failed (seen in public client code, heymarket-api.md §5.2).
    #[serde(default, deserialize_with = "de::text")]
    pub raw_error: Option<String>,
    /// Why a send failed, per recipient phone (seen in public client code).
    #[serde(default, deserialize_with = "de::lenient")]
    pub target_errors: Option<BTreeMap<String, String>>,
    /// Sent or received; the cursor of `POST /v1/messages/all`.
    #[serde(default, deserialize_with = "de::timestamp")]
    pub date: Option<DateTime<Utc>>,
    /// The sending member.
    #[serde(default, deserialize_with = "de::int")]
    pub user: Option<i64>,
    /// The embedded conversation, when present and well-formed.
    #[serde(default, deserialize_with = "de::lenient")]
    pub conversation: Option<Box<Conversation>>,
    #[serde(default, deserialize_with = "de::text")]
    pub author: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    pub local_id: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    pub target: Option<String>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub updated: Option<DateTime<Utc>>,
    /// A team-only note rather than a message to the customer.
    #[serde(default, deserialize_with = "de::flag")]
    pub private: Option<bool>,
}

/// One picture or file of a message's `gallery`, shaped like the documented GalleryEntry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct GalleryEntry {
    #[serde(default, deserialize_with = "de::text")]
    pub url: Option<String>,
    /// The file as uploaded, where `url` is a resized copy.
    #[serde(default, deserialize_with = "de::text")]
    pub original_url: Option<String>,
}

impl GalleryEntry {
    /// The file's URL: the original upload where given, else `url`; `None` when both are
    /// absent or blank.
    pub fn file(&self) -> Option<&str> {
        [&self.original_url, &self.url]
            .into_iter()
            .flatten()
            .map(|url| url.trim())
            .find(|url| !url.is_empty())
    }
}

impl Message {
    /// Why the send failed, as `raw_error` words it; `None` when absent or blank.
    pub fn failure_reason(&self) -> Option<&str> {
        self.raw_error
            .as_deref()
            .map(str::trim)
            .filter(|reason| !reason.is_empty())
    }

    /// Every attachment's URL, in order: the gallery's entries (each entry's original file)
    /// where the upstream lists a gallery, since it holds them all, else `media`'s URLs.
    pub fn attachment_urls(&self) -> Vec<&str> {
        let gallery: Vec<&str> = self.gallery.iter().filter_map(GalleryEntry::file).collect();
        if gallery.is_empty() {
            self.media.iter().map(String::as_str).collect()
        } else {
            gallery
        }
    }
}

/// A saved message (`POST /v1/templates`, `GET /v1/template/{id}`; heymarket-api.md §9.4).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Template {
    pub id: i64,
    /// The object's `name`; created with `title`, so read under either.
    #[serde(default, alias = "title", deserialize_with = "de::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub content: Option<TemplateContent>,
    #[serde(default, deserialize_with = "de::int")]
    pub creator_id: Option<i64>,
    /// Shared with the team; otherwise its creator's own.
    #[serde(default, deserialize_with = "de::flag")]
    pub shared: Option<bool>,
    #[serde(default, deserialize_with = "de::flag")]
    pub archived: Option<bool>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub created: Option<DateTime<Utc>>,
    /// Last change; the list's cursor.
    #[serde(default, deserialize_with = "de::timestamp")]
    pub updated: Option<DateTime<Utc>>,
}

/// A template's text and pictures (the documented GalleryContent).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TemplateContent {
    #[serde(default, deserialize_with = "de::text")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub gallery: Vec<GalleryEntry>,
}

impl Template {
    /// Whether `member` may see and use it: a shared template is the team's, another is its
    /// creator's own. Without `shared` it counts as shared, as templates are a team feature.
    pub fn is_visible_to(&self, member: i64) -> bool {
        self.shared != Some(false) || self.creator_id == Some(member)
    }
}

/// A label contacts carry (`POST /v1/tags`, `GET /v1/tag/{id}`; heymarket-api.md §9.5).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Tag {
    pub id: i64,
    /// The tag's text (`tag`; `name` read too).
    #[serde(default, rename = "tag", alias = "name", deserialize_with = "de::text")]
    pub name: Option<String>,
    /// Hex colour, e.g. `#2f6fed`.
    #[serde(default, deserialize_with = "de::text")]
    pub color: Option<String>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub created: Option<DateTime<Utc>>,
    /// Last change; the list's cursor.
    #[serde(default, deserialize_with = "de::timestamp")]
    pub updated: Option<DateTime<Utc>>,
}

/// A custom contact field (`POST /v1/contact-fields`): contacts hold its values under its id.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CustomField {
    pub id: i64,
    /// Its name (`title`; `name` read too).
    #[serde(default, alias = "name", deserialize_with = "de::text")]
    pub title: Option<String>,
}

/// What a contact create or update answers: `{id, rev, uuid}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContactWritten {
    pub id: i64,
}

/// An inbox (`GET /v1/inboxes`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Inbox {
    pub id: i64,
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    /// Primary number.
    #[serde(default, deserialize_with = "de::text")]
    pub phone: Option<String>,
    /// All numbers.
    #[serde(default, deserialize_with = "de::list")]
    pub phones: Vec<String>,
    #[serde(default, deserialize_with = "de::flag")]
    pub auto_assignable: Option<bool>,
    /// Members with access: the valid `creator_id`s for sends from this inbox.
    #[serde(default, deserialize_with = "de::list")]
    pub members: Vec<i64>,
    /// Invited addresses (sent as a boolean by older docs, which reads as empty).
    #[serde(default, deserialize_with = "de::list")]
    pub invited: Vec<String>,
    #[serde(default, deserialize_with = "de::int")]
    pub team: Option<i64>,
}

impl Inbox {
    /// Whether it sends text messages. The inbox answer has no channel field: SMS inboxes
    /// have phone numbers, email inboxes none.
    pub fn sends_texts(&self) -> bool {
        self.phone.as_deref().is_some_and(|phone| !phone.is_empty()) || !self.phones.is_empty()
    }
}

/// The team (`GET /v1/team`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Team {
    #[serde(default, deserialize_with = "de::int")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub members: Vec<TeamMember>,
    /// Maximum contacts per list.
    #[serde(default, deserialize_with = "de::int")]
    pub list_size: Option<i64>,
}

/// A member inside `GET /v1/team`; its id is a valid `creator_id`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TeamMember {
    pub id: i64,
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    pub role: Option<String>,
}

/// A contact (`GET /v1/contact/{id}`, `POST /v1/contact/get`, `POST /v2/contacts/search`).
/// Serialised only for the cache replicas share (see `loaders::shared`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Contact {
    pub id: i64,
    /// The v2 endpoints' id.
    #[serde(default, deserialize_with = "de::text")]
    pub uuid: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    pub display_name: Option<String>,
    #[serde(rename = "first", default, deserialize_with = "de::text")]
    pub first_name: Option<String>,
    #[serde(rename = "last", default, deserialize_with = "de::text")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    pub phone: Option<String>,
    /// Custom field values keyed by field-id strings.
    #[serde(default, deserialize_with = "de::lenient")]
    pub custom: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "de::int")]
    pub team_id: Option<i64>,
    #[serde(default, deserialize_with = "de::int")]
    pub creator_id: Option<i64>,
    #[serde(default, deserialize_with = "de::flag")]
    pub shared: Option<bool>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub created: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub updated: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::int")]
    pub rev: Option<i64>,
    #[serde(default, deserialize_with = "de::int")]
    pub assigned_user_id: Option<i64>,
    /// Tags, shape undocumented (at most five): see [`Contact::tag_ids`].
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "de::flag")]
    pub is_opted_out: Option<bool>,
    #[serde(default, deserialize_with = "de::flag")]
    pub blocked: Option<bool>,
}

/// The answer to `POST /v1/message/send`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SentMessage {
    /// The new message's id.
    pub id: i64,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub date: Option<DateTime<Utc>>,
    /// Set when the message carries media.
    #[serde(default, deserialize_with = "de::text")]
    pub gallery_url: Option<String>,
    /// The conversation, when the upstream says (undocumented for SMS, seen in client code).
    #[serde(default, deserialize_with = "de::int")]
    pub convo_id: Option<i64>,
}

impl Contact {
    /// Whether its display name, first name, last name, or first and last name together
    /// contain `lowercase` (already lower-cased), without regard to case.
    pub fn name_contains(&self, lowercase: &str) -> bool {
        let first_and_last = match (&self.first_name, &self.last_name) {
            (Some(first), Some(last)) => Some(format!("{first} {last}")),
            _ => None,
        };
        [
            self.display_name.as_deref(),
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            first_and_last.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|name| name.to_lowercase().contains(lowercase))
    }

    /// The ids of its tags, in any shape the docs allow for: `{tag_id}` (the shape a contact
    /// is written with), a tag object (`{id, tag, …}`), or a bare id (a number or a string).
    pub fn tag_ids(&self) -> Vec<i64> {
        let id = |value: &serde_json::Value| match value {
            serde_json::Value::Number(number) => number.as_i64(),
            serde_json::Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        let mut ids: Vec<i64> = self
            .tags
            .iter()
            .filter_map(|tag| match tag {
                serde_json::Value::Object(fields) => fields
                    .get("tag_id")
                    .or_else(|| fields.get("id"))
                    .and_then(id),
                other => id(other),
            })
            .collect();
        ids.dedup();
        ids
    }

    /// Its custom values by field id, as text; keys that are not field ids are left out.
    pub fn custom_values(&self) -> BTreeMap<i64, String> {
        let Some(custom) = &self.custom else {
            return BTreeMap::new();
        };
        custom
            .iter()
            .filter_map(|(key, value)| {
                let id = key.trim().parse().ok()?;
                let text = match value {
                    serde_json::Value::String(text) => text.clone(),
                    serde_json::Value::Null => return None,
                    other => other.to_string(),
                };
                Some((id, text))
            })
            .collect()
    }
}

/// A scheduled message (`GET /v1/schedule/{id}`, heymarket-api.md §7.6). The object does not
/// name the member it is sent as, nor whether it went out.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Scheduled {
    pub id: i64,
    #[serde(default, deserialize_with = "de::int")]
    pub inbox_id: Option<i64>,
    /// When it goes out.
    #[serde(default, deserialize_with = "de::timestamp")]
    pub execute: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub created: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::timestamp")]
    pub updated: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::text")]
    pub local_id: Option<String>,
    /// Revision, counted up by each update.
    #[serde(default, deserialize_with = "de::int")]
    pub rev: Option<i64>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub meta: Option<ScheduledMeta>,
}

/// Where a scheduled message goes and what it says.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScheduledMeta {
    #[serde(default, deserialize_with = "de::int")]
    pub conversation_id: Option<i64>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub content: Option<ScheduledContent>,
}

/// The documented ScheduledContent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScheduledContent {
    #[serde(default, deserialize_with = "de::text")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "de::int")]
    pub template: Option<i64>,
    /// The phone number it goes to, for a phone target.
    #[serde(default, deserialize_with = "de::text")]
    pub to: Option<String>,
    #[serde(default, deserialize_with = "de::list")]
    pub attachments: Vec<ScheduledAttachment>,
    #[serde(default, deserialize_with = "de::list")]
    pub gallery: Vec<GalleryEntry>,
}

/// One file of a scheduled message's `attachments`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScheduledAttachment {
    #[serde(default, deserialize_with = "de::text")]
    pub url: Option<String>,
}

impl Scheduled {
    fn content(&self) -> Option<&ScheduledContent> {
        self.meta.as_ref()?.content.as_ref()
    }

    pub fn conversation_id(&self) -> Option<i64> {
        self.meta.as_ref()?.conversation_id
    }

    pub fn text(&self) -> Option<&str> {
        self.content()?.text.as_deref().filter(|t| !t.is_empty())
    }

    pub fn template(&self) -> Option<i64> {
        self.content()?.template.filter(|id| *id > 0)
    }

    pub fn phone(&self) -> Option<&str> {
        self.content()?.to.as_deref().filter(|to| !to.is_empty())
    }

    /// Every attachment's URL, in order, once: `attachments`, then the gallery's files.
    pub fn attachment_urls(&self) -> Vec<&str> {
        let Some(content) = self.content() else {
            return Vec::new();
        };
        let mut urls: Vec<&str> = Vec::new();
        let listed = content.attachments.iter().filter_map(|a| a.url.as_deref());
        for url in listed.chain(content.gallery.iter().filter_map(GalleryEntry::file)) {
            let url = url.trim();
            if !url.is_empty() && !urls.contains(&url) {
                urls.push(url);
            }
        }
        urls
    }
}

/// The answer of `POST /v1/schedule` and `PUT /v1/schedule/{id}`: undocumented, at least the
/// id (heymarket-api.md §13.15); the rest of the object, when it is there, is not relied on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScheduleAnswer {
    pub id: i64,
}

/// The undocumented answer of `POST /v2/contacts/search`: either a bare array or an object
/// holding a `contacts` array. Elements that are not contacts are dropped, like in `de::list`.
#[derive(Debug)]
pub(crate) struct ContactSearchAnswer(pub(crate) Vec<Contact>);

impl<'de> Deserialize<'de> for ContactSearchAnswer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(deserializer)? {
            Value::Array(items) => items,
            Value::Object(mut fields) => match fields.remove("contacts") {
                Some(Value::Array(items)) => items,
                _ => return Err(D::Error::custom("an object without a `contacts` list")),
            },
            _ => return Err(D::Error::custom("neither a list of contacts nor an object")),
        };
        let contacts = items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok());
        Ok(Self(contacts.collect()))
    }
}

/// The undocumented answer of `POST /v1/conversations/count` (heymarket-api.md §13.14): a
/// count as a JSON number, as a numeric string, or as `{"count": n}`. Anything else, a
/// negative or fractional number among them, is not a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationCount(pub u64);

impl<'de> Deserialize<'de> for ConversationCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn count(value: &Value) -> Option<u64> {
            match value {
                Value::Number(number) => number.as_u64(),
                Value::String(text) => text.trim().parse().ok(),
                _ => None,
            }
        }
        let value = Value::deserialize(deserializer)?;
        let counted = match &value {
            Value::Object(fields) => fields.get("count").and_then(count),
            other => count(other),
        };
        counted
            .map(Self)
            .ok_or_else(|| D::Error::custom("neither a count nor an object with a `count`"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn a_name_search_matches_any_name_without_regard_to_case() {
        let contact: Contact = serde_json::from_value(json!({
            "id": 1, "display_name": "Dr. Zoë", "first": "Zoë", "last": "Ångström"
        }))
        .unwrap();
        for found in [
            "zoë",
            "dr.",
            "ångström",
            "zoë å",
            "ÅNGSTRÖM".to_lowercase().as_str(),
        ] {
            assert!(contact.name_contains(found), "{found}");
        }
        for missed in ["zoe", "smith", "ångström zoë"] {
            assert!(!contact.name_contains(missed), "{missed}");
        }
    }

    #[test]
    fn a_count_reads_as_a_number_a_string_or_an_object() {
        for answer in [
            json!(42),
            json!("42"),
            json!({ "count": 42 }),
            json!({ "count": "42" }),
        ] {
            let count: ConversationCount = serde_json::from_value(answer.clone()).unwrap();
            assert_eq!(count, ConversationCount(42), "{answer}");
        }
        for answer in [
            json!(-1),
            json!(1.5),
            json!("many"),
            json!({}),
            json!([42]),
            json!(null),
        ] {
            assert!(
                serde_json::from_value::<ConversationCount>(answer.clone()).is_err(),
                "{answer} read as a count"
            );
        }
    }

    /// The DOC-GEN conversation sample (heymarket-api.md §5.1), placeholders and all.
    fn doc_conversation() -> Value {
        json!({
            "assigned": 123, "blocked": true, "channel": "<string>", "created": "<string>",
            "creator": 123, "email_noti": true, "id": 123, "inbox": 123, "last_inbound": 123,
            "local_id": "<string>", "members": [ { "id": 123, "name": "<string>" } ],
            "muted": true, "name": "<string>", "noreply": "<string>", "op": "<string>",
            "read": 123, "replied": true, "snooze_till": "<string>", "status": "<string>",
            "super": 123, "support": true, "target": "<string>", "type": "<string>",
            "updated": "<string>"
        })
    }

    fn parse<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn doc_conversation_sample_parses() {
        let c: Conversation = parse(doc_conversation());
        assert_eq!(c.id, 123);
        assert_eq!(c.assignee_id(), Some(123));
        assert_eq!(
            (c.blocked, c.muted, c.replied),
            (Some(true), Some(true), Some(true))
        );
        assert_eq!(c.inbox, Some(123));
        assert_eq!(c.read, Some(123));
        assert_eq!(
            c.members,
            vec![ConversationMember {
                id: 123,
                name: Some("<string>".into())
            }]
        );
        assert_eq!(c.kind.as_deref(), Some("<string>"));
        // "<string>" is no timestamp
        assert_eq!((c.created, c.updated, c.snooze_till), (None, None, None));
    }

    #[test]
    fn realistic_conversation_parses_with_extras_and_unknown_fields() {
        let c: Conversation = parse(json!({
            "id": 9, "updated": "2024-12-24T14:04:55.021462Z", "created": "2024-12-01T08:00:00+01:00",
            "snooze_till": "", "assigned": null, "read": false, "status": "open",
            "unread": true, "unread_users": [4, 5], "last_msg": "see you", "targets": {"1": "x"},
            "something_new": {"nested": [1, 2]}
        }));
        assert_eq!(
            c.updated.unwrap().to_rfc3339(),
            "2024-12-24T14:04:55.021462+00:00"
        );
        assert_eq!(c.created.unwrap().to_rfc3339(), "2024-12-01T07:00:00+00:00");
        assert_eq!(c.snooze_till, None);
        assert_eq!(c.assignee_id(), None);
        assert_eq!(c.read, Some(0));
        assert_eq!(c.unread_users, Some(vec![4, 5]));
        assert_eq!(c.last_msg.as_deref(), Some("see you"));
    }

    #[test]
    fn minimal_conversation_is_just_an_id() {
        let c: Conversation = parse(json!({ "id": 1 }));
        assert_eq!(c.assignee_id(), None);
        assert!(c.members.is_empty());
        assert_eq!(c.is_unread_for(1), None, "no member's read state in it");
        assert!(serde_json::from_value::<Conversation>(json!({ "name": "no id" })).is_err());
    }

    #[test]
    fn type_variants_read_as_absent_instead_of_failing() {
        let c: Conversation = parse(json!({
            "id": 1, "assigned": {"id": 3, "name": "old shape"}, "inbox": {"id": 2},
            "blocked": 1, "muted": 0, "replied": "yes", "members": [{}], "status": 5,
        }));
        assert_eq!((c.assigned, c.inbox), (None, None));
        assert_eq!(
            (c.blocked, c.muted, c.replied),
            (Some(true), Some(false), None)
        );
        assert!(c.members.is_empty());
        assert_eq!(c.status, None);
    }

    #[test]
    fn assignee_ignores_zero_and_negative_ids() {
        for (assigned, expected) in [(json!(7), Some(7)), (json!(0), None), (json!(-1), None)] {
            let c: Conversation = parse(json!({ "id": 1, "assigned": assigned }));
            assert_eq!(c.assignee_id(), expected);
        }
    }

    #[test]
    fn unread_prefers_unread_users_then_unread_then_read() {
        let unread_for = |extra: Value, listed_for: Option<i64>| {
            let mut value = json!({ "id": 1 });
            value
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let mut conversation = parse::<Conversation>(value);
            conversation.listed_for = listed_for;
            conversation.is_unread_for(4)
        };
        let unread = |extra: Value| unread_for(extra, Some(4)).unwrap();
        assert!(unread(
            json!({ "unread_users": [4], "unread": false, "read": 1 })
        ));
        assert!(!unread(
            json!({ "unread_users": [5], "unread": true, "read": 0 })
        ));
        assert!(unread(json!({ "unread": true, "read": 1 })));
        assert!(!unread(json!({ "unread": false, "read": 0 })));
        assert!(unread(json!({ "read": 0 })));
        assert!(unread(json!({ "read": false })));
        assert!(!unread(json!({ "read": 1700000000 })));
        assert!(!unread(json!({ "read": true })));
        assert!(!unread(json!({})));
    }

    #[test]
    fn only_unread_users_speak_for_a_member_the_answer_was_not_listed_for() {
        let conversation = |value: Value, listed_for| {
            let mut conversation = parse::<Conversation>(value);
            conversation.listed_for = listed_for;
            conversation
        };
        let named = json!({ "id": 1, "unread_users": [4], "unread": false, "read": 1 });
        assert_eq!(
            conversation(named.clone(), None).is_unread_for(4),
            Some(true)
        );
        assert_eq!(conversation(named, Some(5)).is_unread_for(5), Some(false));
        let unnamed = json!({ "id": 1, "unread": true, "read": 0 });
        for listed_for in [None, Some(5)] {
            assert_eq!(
                conversation(unnamed.clone(), listed_for).is_unread_for(4),
                None,
                "listed for {listed_for:?}"
            );
        }
        assert_eq!(conversation(unnamed, Some(4)).is_unread_for(4), Some(true));
    }

    #[test]
    fn doc_message_sample_parses_with_embedded_conversation() {
        let m: Message = parse(json!({
            "author": "<string>", "broadcast_id": 123, "conversation": doc_conversation(),
            "custom": { "data": [123], "type": "<string>" }, "date": "<string>", "flagged": true,
            "id": 123, "link_url": "<string>", "local_id": "<string>", "media": "<string>",
            "phone": "<string>", "status": "<string>", "super": 123, "support": true,
            "target": "<string>", "text": "<string>", "type": "<string>", "updated": "<string>",
            "user": 123
        }));
        assert_eq!(m.id, 123);
        assert_eq!(m.user, Some(123));
        assert_eq!(m.conversation.as_ref().map(|c| c.id), Some(123));
        assert_eq!(m.date, None);
        assert_eq!(m.private, None);
    }

    #[test]
    fn message_with_broken_conversation_keeps_the_message() {
        let m: Message = parse(json!({
            "id": 5, "date": "2024-12-24T14:04:55.021Z", "conversation": {"no": "id"},
            "private": 1, "hidden": false, "target_errors": {"1415": "x"}
        }));
        assert_eq!(m.conversation, None);
        assert_eq!(m.private, Some(true));
        assert!(m.date.is_some());
    }

    #[test]
    fn doc_inbox_sample_parses() {
        let inboxes: Vec<Inbox> = parse(json!([{
            "allowed_domains": ["<string>"], "auto_assignable": true, "bco_chats": true,
            "forward_number": "<string>", "id": 123, "invited": ["<string>"], "members": [123],
            "name": "<string>", "op": "<string>", "phone": "<string>", "phones": ["<string>"],
            "rev": 123, "team": 123, "widget_code": "<string>",
            "widget_settings": { "background_color": "<string>", "position": 123, "preview_enabled": true }
        }]));
        let inbox = &inboxes[0];
        assert_eq!((inbox.id, inbox.team), (123, Some(123)));
        assert_eq!(inbox.members, vec![123]);
        assert_eq!(inbox.phones, vec!["<string>".to_owned()]);
        assert_eq!(inbox.invited, vec!["<string>".to_owned()]);
        assert_eq!(inbox.auto_assignable, Some(true));
    }

    #[test]
    fn inbox_tolerates_boolean_invited_and_missing_lists() {
        let inbox: Inbox = parse(json!({ "id": 1, "invited": true, "auto_assignable": 0 }));
        assert!(inbox.invited.is_empty() && inbox.members.is_empty() && inbox.phones.is_empty());
        assert_eq!(inbox.auto_assignable, Some(false));
    }

    #[test]
    fn doc_team_sample_parses() {
        let team: Team = parse(json!({
            "id": 123, "name": "<string>", "list_size": 123,
            "members": [ { "id": 123, "name": "<string>", "role": "<string>" }, { "name": "no id" } ]
        }));
        assert_eq!((team.id, team.list_size), (Some(123), Some(123)));
        assert_eq!(team.members.len(), 1);
        assert_eq!(team.members[0].role.as_deref(), Some("<string>"));
    }

    #[test]
    fn contact_parses_documented_fields() {
        let contact: Contact = parse(json!({
            "id": 77, "uuid": "0b1c", "display_name": "Ada L", "first": "Ada", "last": "L",
            "email": "ada@example.com", "phone": "14155551234", "custom": { "12": "gold" },
            "team_id": 3, "creator_id": 4, "shared": true, "created": "2024-01-01T00:00:00Z",
            "updated": "<string>", "rev": 2, "op": "u", "assigned_user_id": 4,
            "tags": [{ "tag_id": 1 }], "is_opted_out": 0, "blocked": false, "avatar": "x"
        }));
        assert_eq!(contact.id, 77);
        assert_eq!(contact.first_name.as_deref(), Some("Ada"));
        assert_eq!(contact.custom.unwrap()["12"], json!("gold"));
        assert_eq!(contact.is_opted_out, Some(false));
        assert_eq!(contact.updated, None);
        assert_eq!(contact.tags.len(), 1);
    }

    #[test]
    fn sent_message_accepts_the_doc_shape_and_convo_id() {
        let doc: SentMessage =
            parse(json!({ "id": 123, "date": "<string>", "gallery_url": "<string>" }));
        assert_eq!((doc.id, doc.convo_id, doc.date), (123, None, None));
        let seen: SentMessage = parse(json!({
            "id": 9, "convo_id": 4, "queued": true, "date": "2023-11-07T05:31:56Z",
            "compliance_results": {}
        }));
        assert_eq!(seen.convo_id, Some(4));
        assert!(seen.date.is_some());
    }

    #[test]
    fn contact_search_accepts_both_shapes() {
        let ids = |value: Value| -> Vec<i64> {
            parse::<ContactSearchAnswer>(value)
                .0
                .iter()
                .map(|c| c.id)
                .collect()
        };
        assert_eq!(ids(json!([{ "id": 1 }, { "id": 2 }])), vec![1, 2]);
        assert_eq!(
            ids(json!({ "contacts": [{ "id": 3 }, { "bad": true }], "failed": [] })),
            vec![3]
        );
        assert!(serde_json::from_value::<ContactSearchAnswer>(json!({ "data": [] })).is_err());
        assert!(serde_json::from_value::<ContactSearchAnswer>(json!("ok")).is_err());
    }

    #[test]
    fn attachments_come_from_the_gallery_where_there_is_one_else_from_media() {
        let urls = |value: Value| parse::<Message>(value).attachment_urls().join(" ");
        assert_eq!(
            urls(json!({"id": 1, "media": "https://a/1"})),
            "https://a/1"
        );
        assert_eq!(
            urls(json!({"id": 1, "media": ["https://a/1", "https://a/2"]})),
            "https://a/1 https://a/2"
        );
        assert_eq!(
            urls(json!({"id": 1, "media": "https://a/1-small", "gallery": [
                {"url": "https://a/1-small", "original_url": "https://a/1"},
                {"url": "https://a/2"},
                {"annotation_text": "no file"}
            ]})),
            "https://a/1 https://a/2"
        );
        assert_eq!(urls(json!({"id": 1, "media": "", "gallery": []})), "");
    }

    #[test]
    fn contact_tags_and_custom_values_read_in_every_shape() {
        let contact: Contact = parse(json!({
            "id": 1,
            "tags": [{"tag_id": 8001}, {"id": 8002, "tag": "Wholesale"}, 8003, "8004", {"x": 1}],
            "custom": {"9001": "AC-1", "9002": 42, "Birthday": "May", "9003": null},
        }));
        assert_eq!(contact.tag_ids(), [8001, 8002, 8003, 8004]);
        assert_eq!(
            contact.custom_values(),
            BTreeMap::from([(9001, "AC-1".to_owned()), (9002, "42".to_owned())])
        );
        let bare: Contact = parse(json!({ "id": 2, "tags": null, "custom": [] }));
        assert_eq!(
            (bare.tag_ids(), bare.custom_values()),
            (vec![], BTreeMap::new())
        );
    }
}
