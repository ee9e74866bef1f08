//! In-memory state of one simulated team: records, the indexes that keep queries cheap, and the
//! team's clock.
//!
//! A team's store sits behind one `Mutex`; every method here is synchronous, so the lock is
//! never held across an `.await`.

mod address_book;
mod conversations;
mod directory;
mod messages;
pub(crate) mod records;
mod render;
mod schedules;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};

pub(crate) use address_book::ContactFields;
pub(crate) use conversations::{Address, ListQuery};
pub(crate) use directory::{ContactJson, CustomFieldJson, InboxJson, TagJson, TeamJson};
pub(crate) use messages::{
    EmailSend, EmailTarget, Inbound, MAX_BURST, MessagePage, Send, SendOutcome, SendTarget,
};
pub(crate) use render::{ConversationJson, MessageJson, SendAnswer, TemplateJson, Viewer};
pub(crate) use schedules::{Ran, ScheduleAnswerJson, ScheduleInput, ScheduleJson};

use self::records::{
    Channel, Contact, Conversation, CustomField, FIRST_CONTACT_ID, FIRST_CONVERSATION_ID,
    FIRST_MESSAGE_ID, FIRST_TEMPLATE_ID, Inbox, Member, Message, Status, Tag, TeamInfo, Template,
};
use super::error::{ApiError, ApiResult};
use super::wire::{to_micros, to_precision};
use crate::readings::Readings;

/// Everything the seed generates for one team, handed to [`TeamStore::new`].
pub(crate) struct TeamData {
    pub(crate) team: TeamInfo,
    pub(crate) members: Vec<Member>,
    pub(crate) inboxes: Vec<Inbox>,
    /// Ids consecutive from `FIRST_CONTACT_ID`.
    pub(crate) contacts: Vec<Contact>,
    /// Ids consecutive from `FIRST_CONVERSATION_ID`.
    pub(crate) conversations: Vec<Conversation>,
    /// Ids consecutive from `FIRST_MESSAGE_ID`, ordered by `(date, id)`.
    pub(crate) messages: Vec<Message>,
    /// Ids consecutive from `FIRST_TEMPLATE_ID`.
    pub(crate) templates: Vec<Template>,
    pub(crate) tags: Vec<Tag>,
    pub(crate) custom_fields: Vec<CustomField>,
}

/// One team's data and indexes.
pub(crate) struct TeamStore {
    team: TeamInfo,
    members: Vec<Member>,
    inboxes: Vec<Inbox>,
    contacts: Vec<Contact>,
    tags: Vec<Tag>,
    custom_fields: Vec<CustomField>,
    contact_by_phone: HashMap<String, usize>,
    contact_by_email: HashMap<String, usize>,
    conversations: Vec<Conversation>,
    conversation_by_target: HashMap<(i64, String), i64>,
    /// Every conversation keyed `(updated, id)`: the list endpoint's order, kept on change.
    by_updated: BTreeSet<(DateTime<Utc>, i64)>,
    /// Every message, ordered by `(date, id)`: appended, never reordered.
    messages: Vec<Message>,
    templates: Vec<Template>,
    /// Answers of earlier sends by their `local_id`, replayed for duplicates.
    sends_by_local_id: HashMap<String, SendAnswer>,
    /// Answers of earlier email sends by their `local_id`: email sends de-duplicate apart
    /// from text sends.
    emails_by_local_id: HashMap<String, SendAnswer>,
    /// Scheduled messages, ids consecutive from `FIRST_SCHEDULE_ID`.
    schedules: Vec<schedules::Schedule>,
    /// Schedules by their `local_id`, for repeats when the readings de-duplicate them.
    schedule_by_local_id: HashMap<String, i64>,
    /// The last instant handed out by [`TeamStore::now`].
    clock: DateTime<Utc>,
    /// How the store answers where the real API's documentation is open.
    readings: Readings,
}

/// Counts shown by the control API.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Counts {
    pub(crate) inboxes: usize,
    pub(crate) members: usize,
    pub(crate) contacts: usize,
    pub(crate) conversations: usize,
    pub(crate) open_conversations: usize,
    pub(crate) closed_conversations: usize,
    pub(crate) messages: usize,
}

impl TeamStore {
    /// The store of `data`, answering by `readings`; conversation timestamps are kept at the
    /// precision the readings give them, so cursors compare as the wire shows them.
    pub(crate) fn new(data: TeamData, readings: Readings) -> Self {
        let TeamData {
            team,
            members,
            inboxes,
            contacts,
            mut conversations,
            messages,
            mut templates,
            tags,
            custom_fields,
        } = data;
        for template in &mut templates {
            template.created = to_precision(template.created, readings.updated_precision);
            template.updated = to_precision(template.updated, readings.updated_precision);
        }
        for conversation in &mut conversations {
            conversation.created = to_precision(conversation.created, readings.updated_precision);
            conversation.updated = to_precision(conversation.updated, readings.updated_precision);
        }
        let contact_by_phone = contacts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.phone.clone(), i));
        let contact_by_email = contacts
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.email.is_empty())
            .map(|(i, c)| (c.email.clone(), i));
        let conversation_by_target = conversations
            .iter()
            .map(|c| ((c.inbox, c.target.clone()), c.id))
            .collect();
        let by_updated = conversations.iter().map(|c| (c.updated, c.id)).collect();
        let clock = messages.last().map_or(DateTime::UNIX_EPOCH, |m| m.date);
        Self {
            team,
            members,
            inboxes,
            contact_by_phone: contact_by_phone.collect(),
            contact_by_email: contact_by_email.collect(),
            contacts,
            tags,
            custom_fields,
            conversations,
            conversation_by_target,
            by_updated,
            messages,
            templates,
            sends_by_local_id: HashMap::new(),
            emails_by_local_id: HashMap::new(),
            schedules: Vec::new(),
            schedule_by_local_id: HashMap::new(),
            clock,
            readings,
        }
    }

    pub(crate) fn template(&self, id: i64) -> Option<&Template> {
        let index = usize::try_from(id.checked_sub(FIRST_TEMPLATE_ID)?).ok()?;
        self.templates.get(index)
    }

    /// One page of templates, `updated` descending (ties by `id` descending), strictly before
    /// `before`.
    pub(crate) fn list_templates(
        &self,
        before: Option<DateTime<Utc>>,
        page_size: usize,
    ) -> Vec<&Template> {
        newest_before(&self.templates, |t| (t.updated, t.id), before, page_size)
    }

    /// One page of contacts, `updated` descending (ties by `id` descending), strictly before
    /// `before`.
    pub(crate) fn list_contacts(
        &self,
        before: Option<DateTime<Utc>>,
        page_size: usize,
    ) -> Vec<&Contact> {
        newest_before(&self.contacts, |c| (c.updated, c.id), before, page_size)
    }

    pub(crate) fn team(&self) -> &TeamInfo {
        &self.team
    }

    pub(crate) fn members(&self) -> &[Member] {
        &self.members
    }

    pub(crate) fn inboxes(&self) -> &[Inbox] {
        &self.inboxes
    }

    pub(crate) fn member(&self, id: i64) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub(crate) fn inbox(&self, id: i64) -> Option<&Inbox> {
        self.inboxes.iter().find(|i| i.id == id)
    }

    /// The inbox `user` acts in: 404 when it does not exist, 403 when `user` has no access.
    pub(crate) fn inbox_for(&self, inbox: i64, user: i64) -> ApiResult<&Inbox> {
        let found = self
            .inbox(inbox)
            .ok_or_else(|| ApiError::not_found(format!("inbox {inbox} does not exist")))?;
        if !found.has_member(user) {
            return Err(ApiError::denied(format!(
                "user {user} is not a member of inbox {inbox}"
            )));
        }
        Ok(found)
    }

    pub(crate) fn contact(&self, id: i64) -> Option<&Contact> {
        let index = usize::try_from(id.checked_sub(FIRST_CONTACT_ID)?).ok()?;
        self.contacts.get(index)
    }

    /// Applies `change` to contact `id` and dates it now; `None` when there is no such contact.
    pub(crate) fn update_contact(
        &mut self,
        id: i64,
        change: impl FnOnce(&mut Contact),
    ) -> Option<()> {
        self.contact(id)?;
        let now = self.now();
        let index = usize::try_from(id.checked_sub(FIRST_CONTACT_ID)?).ok()?;
        let contact = self.contacts.get_mut(index)?;
        change(contact);
        contact.updated = now;
        Some(())
    }

    pub(crate) fn contact_by_phone(&self, phone: &str) -> Option<&Contact> {
        self.contact_by_phone.get(phone).map(|&i| &self.contacts[i])
    }

    pub(crate) fn contact_by_email(&self, email: &str) -> Option<&Contact> {
        self.contact_by_email.get(email).map(|&i| &self.contacts[i])
    }

    /// The contact behind a conversation's target, if the team has one.
    pub(crate) fn contact_of(&self, conversation: &Conversation) -> Option<&Contact> {
        match conversation.channel {
            Channel::Sms => self.contact_by_phone(&conversation.target),
            Channel::Email => self.contact_by_email(&conversation.target),
        }
    }

    pub(crate) fn conversation(&self, id: i64) -> Option<&Conversation> {
        let index = usize::try_from(id.checked_sub(FIRST_CONVERSATION_ID)?).ok()?;
        self.conversations.get(index)
    }

    pub(crate) fn find_conversation(&self, id: i64) -> ApiResult<&Conversation> {
        self.conversation(id)
            .ok_or_else(|| ApiError::not_found(format!("conversation {id} does not exist")))
    }

    fn conversation_mut(&mut self, id: i64) -> ApiResult<&mut Conversation> {
        let index = id
            .checked_sub(FIRST_CONVERSATION_ID)
            .and_then(|offset| usize::try_from(offset).ok())
            .filter(|&index| index < self.conversations.len())
            .ok_or_else(|| ApiError::not_found(format!("conversation {id} does not exist")))?;
        Ok(&mut self.conversations[index])
    }

    /// The conversation with `target` in `inbox`, if there is one.
    pub(crate) fn conversation_at(&self, inbox: i64, target: &str) -> Option<&Conversation> {
        let id = self
            .conversation_by_target
            .get(&(inbox, target.to_owned()))?;
        self.conversation(*id)
    }

    pub(crate) fn message(&self, id: i64) -> Option<&Message> {
        let index = usize::try_from(id.checked_sub(FIRST_MESSAGE_ID)?).ok()?;
        self.messages.get(index)
    }

    fn message_mut(&mut self, id: i64) -> Option<&mut Message> {
        let index = usize::try_from(id.checked_sub(FIRST_MESSAGE_ID)?).ok()?;
        self.messages.get_mut(index)
    }

    /// The wall clock truncated to microseconds, but never at or before an instant already
    /// handed out: message ids stay in date order and mutations never move a conversation
    /// backwards, even when the host clock is behind the seeded timeline.
    fn now(&mut self) -> DateTime<Utc> {
        let now = to_micros(Utc::now()).max(self.clock + TimeDelta::microseconds(1));
        self.clock = now;
        now
    }

    /// `count` instants a microsecond apart, all within one Unix second and after every instant
    /// handed out so far: the current second when they fit in what is left of it, else the
    /// next one.
    fn instants_in_one_second(&mut self, count: usize) -> Vec<DateTime<Utc>> {
        let Some(span) = count
            .checked_sub(1)
            .and_then(|span| i64::try_from(span).ok())
        else {
            return Vec::new();
        };
        let mut start = self.now();
        let last = start + TimeDelta::microseconds(span);
        if last.timestamp() != start.timestamp() {
            start = DateTime::from_timestamp(last.timestamp(), 0).unwrap_or(last);
        }
        let instants: Vec<DateTime<Utc>> = (0..=span)
            .map(|offset| start + TimeDelta::microseconds(offset))
            .collect();
        self.clock = instants.last().copied().unwrap_or(self.clock);
        instants
    }

    /// Moves a conversation's `updated` (at the readings' precision), keeping the list index in
    /// step.
    fn touch(&mut self, id: i64, instant: DateTime<Utc>) -> ApiResult<()> {
        let instant = to_precision(instant, self.readings.updated_precision);
        let conversation = self.conversation_mut(id)?;
        let previous = std::mem::replace(&mut conversation.updated, instant);
        self.by_updated.remove(&(previous, id));
        self.by_updated.insert((instant, id));
        Ok(())
    }

    /// Conversations holding at least `messages` messages: material for history paging.
    pub(crate) fn long_conversations(
        &self,
        messages: usize,
    ) -> impl Iterator<Item = &Conversation> {
        self.conversations
            .iter()
            .filter(move |c| c.messages.len() >= messages)
    }

    pub(crate) fn counts(&self) -> Counts {
        let closed = self
            .conversations
            .iter()
            .filter(|c| c.status == Status::Closed)
            .count();
        Counts {
            inboxes: self.inboxes.len(),
            members: self.members.len(),
            contacts: self.contacts.len(),
            conversations: self.conversations.len(),
            open_conversations: self.conversations.len() - closed,
            closed_conversations: closed,
            messages: self.messages.len(),
        }
    }
}

/// The first `page_size` of `items` by `key` descending, keeping those whose instant is
/// strictly before `before`: a date-cursor list page.
fn newest_before<T>(
    items: &[T],
    key: impl Fn(&T) -> (DateTime<Utc>, i64),
    before: Option<DateTime<Utc>>,
    page_size: usize,
) -> Vec<&T> {
    let mut listed: Vec<&T> = items
        .iter()
        .filter(|item| before.is_none_or(|before| key(item).0 < before))
        .collect();
    listed.sort_by_key(|item| std::cmp::Reverse(key(item)));
    listed.truncate(page_size);
    listed
}
