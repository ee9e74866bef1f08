//! Request bodies of the upstream's endpoints (heymarket-api.md §6, §7), with idiomatic Rust
//! names; the REST names live in the serde attributes.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// `POST /v1/conversations`: one page of conversations, newest `updated` first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationListRequest {
    /// The member whose view is listed (`id`); unread state is relative to this member.
    pub member_id: i64,
    /// Inboxes to list (`filters.inboxes`). The gateway always names them: an empty list
    /// means every inbox of the member, none, or a bad request, depending on the reading of
    /// the docs (heymarket-api.md §13.1).
    pub inbox_ids: Vec<i64>,
    /// `Some(false)` lists open conversations, `Some(true)` closed ones; `None` sends no filter.
    pub closed: Option<bool>,
    /// `Some(true)` lists only conversations unread for `member_id`, `Some(false)` only read
    /// ones (or, under another reading of the docs, both); `None` sends no filter.
    pub unread: Option<bool>,
    /// Only conversations assigned to this member (`assigned`, top level). The documented
    /// body has no such field; the generated schema lists it (heymarket-api.md §6.1), so an
    /// upstream may honour it or ignore it, and the caller checks every row either way.
    pub assigned: Option<i64>,
    /// The page cursor (`date`): only conversations updated before this instant.
    pub updated_before: Option<DateTime<Utc>>,
}

impl Serialize for ConversationListRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Filters<'a> {
            inboxes: &'a [i64],
            #[serde(skip_serializing_if = "Option::is_none")]
            closed: Option<bool>,
            #[serde(skip_serializing_if = "Option::is_none")]
            unread: Option<bool>,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            id: i64,
            filters: Filters<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            assigned: Option<i64>,
            #[serde(skip_serializing_if = "Option::is_none", serialize_with = "cursor")]
            date: Option<DateTime<Utc>>,
        }
        Body {
            id: self.member_id,
            filters: Filters {
                inboxes: &self.inbox_ids,
                closed: self.closed,
                unread: self.unread,
            },
            assigned: self.assigned,
            date: self.updated_before,
        }
        .serialize(serializer)
    }
}

/// `POST /v1/messages/all`: one page of the team's messages. The default (empty body) asks for
/// the most recent ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AllMessagesRequest {
    /// The page cursor: messages created before this instant (after it, probably, with
    /// `ascending`). The reference calls it `created_at`, the generated schema `date`
    /// (heymarket-api.md §13.13); it goes under both names, so an upstream reads whichever it
    /// knows.
    #[serde(
        flatten,
        skip_serializing_if = "Option::is_none",
        serialize_with = "cursor_under_both_names"
    )]
    pub cursor: Option<DateTime<Utc>>,
    /// Sort key; the upstream's default is creation time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<MessageOrder>,
    /// Oldest first instead of newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ascending: Option<bool>,
    /// Page size; the upstream's default is 30.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Sort key of `POST /v1/messages/all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageOrder {
    CreatedAt,
    UpdatedAt,
}

/// `POST /v1/conversations/open` and `/close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationStatusRequest {
    pub inbox_id: i64,
    /// The member recorded as having opened or closed it (`user_id`).
    #[serde(rename = "user_id")]
    pub actor_id: i64,
    #[serde(rename = "chat_id")]
    pub conversation_id: i64,
}

/// `POST /v1/conversations/read` and `/unread`. These address the conversation by inbox and
/// customer phone, not by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadStateRequest {
    pub inbox_id: i64,
    /// The member for whom it becomes read or unread (`user_id`).
    #[serde(rename = "user_id")]
    pub actor_id: i64,
    /// The customer's phone number (the conversation's `target`).
    pub target: String,
}

/// `POST /v1/conversations/reassign`, within one inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReassignRequest {
    pub inbox_id: i64,
    /// The member performing the change (`user_id`).
    #[serde(rename = "user_id")]
    pub actor_id: i64,
    /// The customer's phone number (the conversation's `target`).
    pub target: String,
    /// The new assignee (`reassign_id`). The API documents no value that unassigns.
    #[serde(rename = "reassign_id")]
    pub assignee_id: i64,
}

/// `POST /v1/conversations/transfer`: move a conversation to another inbox (SMS only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferRequest {
    pub conversation_id: i64,
    #[serde(rename = "transfer_inbox_id")]
    pub to_inbox_id: i64,
}

/// One page of a date-cursor list (`POST /v1/templates`, `POST /v1/contacts`), newest
/// `updated` first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct DatePageRequest {
    /// The page cursor (`date`): only items updated before this instant.
    #[serde(
        rename = "date",
        skip_serializing_if = "Option::is_none",
        serialize_with = "cursor"
    )]
    pub updated_before: Option<DateTime<Utc>>,
}

/// A contact as `POST /v1/contact` and `PUT /v1/contact/{id}` take it. An update overwrites
/// the names always, so it carries every field it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactWrite {
    /// E.164 digits; required by both endpoints.
    pub phone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Values keyed by field-id strings; merged into the contact's unless the update
    /// overwrites.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, String>,
    /// The whole set of tags: `[{tag_id}]`.
    pub tags: Vec<TagRef>,
    /// Whether the customer opted out; an update carries what the contact has, so that no
    /// reading of the update clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_opted_out: Option<bool>,
}

/// One tag of a contact write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TagRef {
    pub tag_id: i64,
}

/// `POST /v1/contact/set_status`: a contact's subscription or block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactStatusRequest {
    #[serde(flatten)]
    pub contact: ContactRef,
    pub status: ContactStatus,
}

/// How a request names a contact: by phone where it has one, since the docs type the `id` of
/// these endpoints only as a string for `/v1/contact/get` (heymarket-api.md §9.1), and the
/// phone wins there when both are given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactRef {
    Phone(String),
    /// The contact id, as the string the docs show.
    Id(String),
}

/// A contact's messaging status, as `set_status` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    /// Opted in: messages may be sent again.
    Subscribed,
    /// Opted out: sends to the contact are refused.
    Unsubscribed,
}

/// `POST /v1/message/send`: a reply, a new conversation, or a private note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendMessageRequest {
    pub inbox_id: i64,
    /// The sending member (`creator_id`): one of the inbox's members.
    #[serde(rename = "creator_id")]
    pub sender_id: i64,
    #[serde(flatten)]
    pub recipient: Recipient,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A public URL; makes the message an MMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    /// A saved template, sent instead of `text` and `media_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<i64>,
    /// A note only the team sees.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    /// The client's idempotency key, which the message carries (and finds it again by). The
    /// upstream may or may not de-duplicate it; the gateway keeps its own record of keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_id: Option<String>,
}

/// `POST /v1/schedule` and `PUT /v1/schedule/{id}` (the same body): a message to send later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleRequest {
    pub inbox_id: i64,
    /// RFC 3339, on a quarter hour at least 15 minutes ahead.
    #[serde(serialize_with = "instant")]
    pub execute_at: DateTime<Utc>,
    pub content: ScheduleContent,
    #[serde(flatten)]
    pub target: ScheduleTarget,
    /// The send-as member (`user_id`).
    #[serde(rename = "user_id")]
    pub sender_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_id: Option<String>,
}

/// What a scheduled message says (the documented ScheduledContent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleContent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<ScheduleAttachment>,
}

/// One file of a scheduled message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleAttachment {
    pub url: String,
}

/// Whom a scheduled message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ScheduleTarget {
    #[serde(rename = "conversation_id")]
    Conversation(i64),
    /// E.164 without `+`.
    #[serde(rename = "phone_number")]
    Phone(String),
}

fn instant<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&instant.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Whom a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Recipient {
    /// An existing conversation (`chat_id`).
    #[serde(rename = "chat_id")]
    Conversation(i64),
    /// A phone number, E.164 without `+` (`phone_number`); starts or continues a conversation.
    #[serde(rename = "phone_number")]
    Phone(String),
}

/// `POST /v1/email/send`: a reply in an email conversation, or a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendEmailRequest {
    /// The email inbox (named `inbox` here, not `inbox_id`).
    pub inbox: i64,
    /// The sending member: one of the inbox's members.
    #[serde(rename = "creator_id")]
    pub sender_id: i64,
    #[serde(flatten)]
    pub recipient: EmailRecipient,
    /// The body; HTML allowed.
    pub text: String,
    /// The plain-text alternative of an HTML body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_text: Option<String>,
    /// The subject of a new conversation (`conv_title`); a reply keeps its thread's.
    #[serde(rename = "conv_title", skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The client's idempotency key; documented to de-duplicate email sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_id: Option<String>,
}

/// Whom an email goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EmailRecipient {
    /// A reply in an existing conversation (`convo_id`).
    #[serde(rename = "convo_id")]
    Conversation(i64),
    /// A new thread (`targets`): `to:` and `cc:` entries, each with comma-separated addresses.
    #[serde(rename = "targets")]
    New(Vec<String>),
}

impl EmailRecipient {
    /// A new thread to `to`, copying `cc`, in the `targets` form: `["to:a@x.com,b@x.com",
    /// "cc:c@x.com"]`.
    pub fn new_thread(to: &[String], cc: &[String]) -> Self {
        let entries = [("to", to), ("cc", cc)]
            .into_iter()
            .filter(|(_, addresses)| !addresses.is_empty())
            .map(|(kind, addresses)| format!("{kind}:{}", addresses.join(",")));
        Self::New(entries.collect())
    }
}

/// Cursor timestamps go out as RFC 3339 with six fractional digits and `Z`, the precision the
/// upstream's own timestamps have; anything finer is truncated.
fn cursor_under_both_names<S: Serializer>(
    instant: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(2))?;
    if let Some(instant) = instant {
        let text = instant.to_rfc3339_opts(SecondsFormat::Micros, true);
        map.serialize_entry("created_at", &text)?;
        map.serialize_entry("date", &text)?;
    }
    map.end()
}

fn cursor<S: Serializer>(
    instant: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match instant {
        Some(instant) => {
            serializer.serialize_str(&instant.to_rfc3339_opts(SecondsFormat::Micros, true))
        }
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{Value, json};

    use super::*;

    fn wire(body: &impl Serialize) -> Value {
        serde_json::to_value(body).unwrap()
    }

    #[test]
    fn conversation_list_omits_unset_filters_and_cursor() {
        let request = ConversationListRequest {
            member_id: 1111,
            inbox_ids: vec![2222, 3333],
            closed: None,
            unread: None,
            assigned: None,
            updated_before: None,
        };
        assert_eq!(
            wire(&request),
            json!({ "id": 1111, "filters": { "inboxes": [2222, 3333] } })
        );
    }

    #[test]
    fn conversation_list_sends_filters_and_a_microsecond_cursor() {
        let before = Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(21_462_999);
        let request = ConversationListRequest {
            member_id: 1,
            inbox_ids: vec![2],
            closed: Some(false),
            unread: Some(true),
            assigned: Some(501),
            updated_before: Some(before),
        };
        assert_eq!(
            wire(&request),
            json!({
                "id": 1,
                "filters": { "inboxes": [2], "closed": false, "unread": true },
                "assigned": 501,
                "date": "2022-01-01T00:00:00.021462Z"
            })
        );
    }

    #[test]
    fn a_contact_status_names_the_contact_by_phone_or_by_its_id_as_a_string() {
        let by_phone = ContactStatusRequest {
            contact: ContactRef::Phone("14155550100".to_owned()),
            status: ContactStatus::Unsubscribed,
        };
        assert_eq!(
            wire(&by_phone),
            json!({ "phone": "14155550100", "status": "unsubscribed" })
        );
        let by_id = ContactStatusRequest {
            contact: ContactRef::Id("7001".to_owned()),
            status: ContactStatus::Subscribed,
        };
        assert_eq!(
            wire(&by_id),
            json!({ "id": "7001", "status": "subscribed" })
        );
    }

    #[test]
    fn all_messages_default_is_an_empty_body() {
        assert_eq!(wire(&AllMessagesRequest::default()), json!({}));
        let request = AllMessagesRequest {
            cursor: Some(Utc.with_ymd_and_hms(2024, 12, 24, 0, 0, 0).unwrap()),
            order: Some(MessageOrder::UpdatedAt),
            ascending: Some(true),
            limit: Some(50),
        };
        assert_eq!(
            wire(&request),
            json!({
                "created_at": "2024-12-24T00:00:00.000000Z",
                "date": "2024-12-24T00:00:00.000000Z",
                "order": "updated_at", "ascending": true, "limit": 50
            })
        );
    }

    #[test]
    fn conversation_actions_use_rest_names() {
        let status = ConversationStatusRequest {
            inbox_id: 1,
            actor_id: 2,
            conversation_id: 3,
        };
        assert_eq!(
            wire(&status),
            json!({ "inbox_id": 1, "user_id": 2, "chat_id": 3 })
        );
        let read = ReadStateRequest {
            inbox_id: 1,
            actor_id: 2,
            target: "14155551234".into(),
        };
        assert_eq!(
            wire(&read),
            json!({ "inbox_id": 1, "user_id": 2, "target": "14155551234" })
        );
        let transfer = TransferRequest {
            conversation_id: 3,
            to_inbox_id: 4,
        };
        assert_eq!(
            wire(&transfer),
            json!({ "conversation_id": 3, "transfer_inbox_id": 4 })
        );
    }

    #[test]
    fn reassign_names_the_new_assignee() {
        let request = ReassignRequest {
            inbox_id: 1,
            actor_id: 2,
            target: "1415".into(),
            assignee_id: 5,
        };
        assert_eq!(
            wire(&request),
            json!({ "inbox_id": 1, "user_id": 2, "target": "1415", "reassign_id": 5 })
        );
    }

    #[test]
    fn send_message_addresses_a_conversation_or_a_phone() {
        let mut request = SendMessageRequest {
            inbox_id: 1,
            sender_id: 2,
            recipient: Recipient::Conversation(3),
            text: Some("hi".into()),
            media_url: None,
            template_id: None,
            private: false,
            local_id: None,
        };
        assert_eq!(
            wire(&request),
            json!({ "inbox_id": 1, "creator_id": 2, "chat_id": 3, "text": "hi" })
        );
        request.recipient = Recipient::Phone("14155551234".into());
        request.media_url = Some("https://example.com/a.png".into());
        request.private = true;
        request.local_id = Some("k-1".into());
        assert_eq!(
            wire(&request),
            json!({
                "inbox_id": 1, "creator_id": 2, "phone_number": "14155551234", "text": "hi",
                "media_url": "https://example.com/a.png", "private": true, "local_id": "k-1"
            })
        );
    }

    #[test]
    fn email_sends_name_the_thread_or_its_addresses() {
        let mut request = SendEmailRequest {
            inbox: 1,
            sender_id: 2,
            recipient: EmailRecipient::Conversation(3),
            text: "<p>hi</p>".into(),
            raw_text: None,
            subject: None,
            local_id: None,
        };
        assert_eq!(
            wire(&request),
            json!({ "inbox": 1, "creator_id": 2, "convo_id": 3, "text": "<p>hi</p>" })
        );
        request.recipient =
            EmailRecipient::new_thread(&["a@x.com".into(), "b@x.com".into()], &["c@x.com".into()]);
        request.raw_text = Some("hi".into());
        request.subject = Some("Your order".into());
        request.local_id = Some("k-1".into());
        assert_eq!(
            wire(&request),
            json!({
                "inbox": 1, "creator_id": 2, "targets": ["to:a@x.com,b@x.com", "cc:c@x.com"],
                "text": "<p>hi</p>", "raw_text": "hi", "conv_title": "Your order", "local_id": "k-1"
            })
        );
        assert_eq!(
            EmailRecipient::new_thread(&["a@x.com".into()], &[]),
            EmailRecipient::New(vec!["to:a@x.com".into()])
        );
    }
}
