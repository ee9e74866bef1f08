//! Inboxes, the team and contacts in the wire shape (heymarket-api.md §5.3, §5.4, §9.1, §9.2).

use std::collections::BTreeMap;

use serde::Serialize;

use super::TeamStore;
use super::records::{Contact, CustomField, Inbox, Tag};
use crate::wire::timestamp;

/// An inbox on the wire: every field of §5.3.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InboxJson {
    allowed_domains: [String; 0],
    auto_assignable: bool,
    bco_chats: bool,
    forward_number: &'static str,
    id: i64,
    invited: [String; 0],
    members: Vec<i64>,
    name: String,
    op: &'static str,
    phone: String,
    phones: Vec<String>,
    rev: i64,
    team: i64,
    widget_code: &'static str,
    widget_settings: WidgetSettings,
}

#[derive(Debug, Clone, Serialize)]
struct WidgetSettings {
    background_color: &'static str,
    button_color: &'static str,
    fab_background_color: &'static str,
    fab_text_color: &'static str,
    message: &'static str,
    name: String,
    phone: String,
    position: i64,
    preview_enabled: bool,
    title_background_color: &'static str,
    title_text_color: &'static str,
    tos: &'static str,
}

/// `GET /v1/team` (§5.4).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TeamJson {
    id: i64,
    name: String,
    list_size: i64,
    members: Vec<TeamMemberJson>,
}

#[derive(Debug, Clone, Serialize)]
struct TeamMemberJson {
    id: i64,
    name: String,
    role: &'static str,
}

/// A contact on the wire: the §9.1 fields plus `blocked`, `uuid` and, from the v2 search,
/// `contact_channels`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ContactJson {
    id: i64,
    display_name: String,
    first: String,
    last: String,
    email: String,
    phone: String,
    /// Values keyed by field-id strings.
    custom: BTreeMap<String, String>,
    team_id: i64,
    creator_id: i64,
    shared: bool,
    created: String,
    updated: String,
    rev: i64,
    op: &'static str,
    assigned_user_id: i64,
    /// `[{tag_id}]`, the shape a contact is written with (§9.1).
    tags: Vec<TagRef>,
    is_opted_out: bool,
    blocked: bool,
    uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact_channels: Option<Vec<ContactChannel>>,
}

#[derive(Debug, Clone, Serialize)]
struct TagRef {
    tag_id: i64,
}

/// A tag on the wire (§9.5).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TagJson {
    id: i64,
    tag: String,
    color: String,
    team_id: i64,
    created: String,
    updated: String,
    rev: i64,
}

/// A custom contact field on the wire: `{id, title}` (the create answer's shape, §9.1).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CustomFieldJson {
    id: i64,
    title: String,
}

#[derive(Debug, Clone, Serialize)]
struct ContactChannel {
    channel_type: &'static str,
    channel_id: String,
}

/// Maximum contacts per list, as `GET /v1/team` reports it.
const LIST_SIZE: i64 = 5000;

impl TeamStore {
    pub(crate) fn inbox_json(&self, inbox: &Inbox) -> InboxJson {
        InboxJson {
            allowed_domains: [],
            auto_assignable: inbox.auto_assignable,
            bco_chats: false,
            forward_number: "",
            id: inbox.id,
            invited: [],
            members: inbox.members.clone(),
            name: inbox.name.clone(),
            op: "",
            phone: inbox.phone.clone(),
            phones: inbox.phones.clone(),
            rev: 1,
            team: self.team().id,
            widget_code: "",
            widget_settings: WidgetSettings {
                background_color: "#ffffff",
                button_color: "#2f6fed",
                fab_background_color: "#2f6fed",
                fab_text_color: "#ffffff",
                message: "Hi! How can we help?",
                name: inbox.name.clone(),
                phone: inbox.phone.clone(),
                position: 0,
                preview_enabled: false,
                title_background_color: "#2f6fed",
                title_text_color: "#ffffff",
                tos: "",
            },
        }
    }

    pub(crate) fn team_json(&self) -> TeamJson {
        let members = self
            .members()
            .iter()
            .map(|m| TeamMemberJson {
                id: m.id,
                name: m.name.clone(),
                role: m.role,
            })
            .collect();
        TeamJson {
            id: self.team().id,
            name: self.team().name.clone(),
            list_size: LIST_SIZE,
            members,
        }
    }

    /// A contact; with `with_channels`, also its `contact_channels` (the v2 shape).
    pub(crate) fn contact_json(&self, contact: &Contact, with_channels: bool) -> ContactJson {
        let contact_channels = with_channels.then(|| {
            let phone = ContactChannel {
                channel_type: "phone",
                channel_id: contact.phone.clone(),
            };
            let email = (!contact.email.is_empty()).then(|| ContactChannel {
                channel_type: "email",
                channel_id: contact.email.clone(),
            });
            std::iter::once(phone).chain(email).collect()
        });
        ContactJson {
            id: contact.id,
            display_name: contact.display_name(),
            first: contact.first.clone(),
            last: contact.last.clone(),
            email: contact.email.clone(),
            phone: contact.phone.clone(),
            custom: contact
                .custom
                .iter()
                .map(|(id, value)| (id.to_string(), value.clone()))
                .collect(),
            team_id: self.team().id,
            creator_id: contact.creator,
            shared: true,
            created: timestamp(&contact.created),
            updated: timestamp(&contact.updated),
            rev: 1,
            op: "",
            assigned_user_id: contact.assigned_user,
            tags: contact
                .tags
                .iter()
                .map(|&tag_id| TagRef { tag_id })
                .collect(),
            is_opted_out: contact.opted_out,
            blocked: contact.blocked,
            uuid: contact.uuid.clone(),
            contact_channels,
        }
    }

    pub(crate) fn tag_json(&self, tag: &Tag) -> TagJson {
        TagJson {
            id: tag.id,
            tag: tag.name.clone(),
            color: tag.color.clone(),
            team_id: self.team().id,
            created: timestamp(&tag.created),
            updated: timestamp(&tag.updated),
            rev: 1,
        }
    }

    pub(crate) fn custom_field_json(field: &CustomField) -> CustomFieldJson {
        CustomFieldJson {
            id: field.id,
            title: field.title.clone(),
        }
    }
}
