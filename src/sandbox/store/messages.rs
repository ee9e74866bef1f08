//! Message queries and the two ways a message is born: a member's send, a customer's inbound.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::TeamStore;
use super::records::{
    Channel, Conversation, Direction, FIRST_CONVERSATION_ID, FIRST_MESSAGE_ID, Message, Status,
};
use super::render::SendAnswer;
use crate::config::{HistoryTimestamp, HistoryUnknownPhone, LocalId, OptOut};
use crate::sandbox::error::{ApiError, ApiResult};
use crate::sandbox::wire::to_precision;

/// Most messages `GET /v1/messages` returns.
const HISTORY_LIMIT: usize = 50;

/// Most messages one burst may deliver: far more than a page of any list, and few enough to
/// fit in one second a microsecond apart.
pub(crate) const MAX_BURST: usize = 10_000;

/// A `POST /v1/message/send` whose fields are present and well-formed.
#[derive(Debug, Clone)]
pub(crate) struct Send {
    pub(crate) inbox: i64,
    pub(crate) creator: i64,
    pub(crate) to: SendTarget,
    pub(crate) text: String,
    pub(crate) media: Option<String>,
    /// A saved template to send instead of `text` and `media`, its merge fields filled in for
    /// the recipient.
    pub(crate) template: Option<i64>,
    pub(crate) private: bool,
    pub(crate) local_id: Option<String>,
    pub(crate) author: Option<String>,
}

/// Where a send goes.
#[derive(Debug, Clone)]
pub(crate) enum SendTarget {
    /// A normalised phone number; the conversation is created when missing.
    Phone(String),
    /// An existing conversation.
    Chat(i64),
}

/// What a send did.
#[derive(Debug, Clone)]
pub(crate) enum SendOutcome {
    /// A new message; `answer` is the response body.
    Sent { message: i64, answer: SendAnswer },
    /// A repeat of an earlier `local_id`: the original answer, nothing new.
    Replayed(SendAnswer),
}

/// A simulated customer message.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub(crate) inbox: i64,
    /// Normalised phone, or email address for the email inbox.
    pub(crate) target: String,
    pub(crate) text: String,
    /// Attachment URLs (an MMS may carry several).
    pub(crate) media: Vec<String>,
}

/// A validated `POST /v1/messages/all` request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessagePage {
    /// Descending: only messages strictly before it; ascending: strictly after it.
    pub(crate) cursor: Option<DateTime<Utc>>,
    pub(crate) ascending: bool,
    pub(crate) limit: usize,
}

impl TeamStore {
    /// Sends, or replays the answer of an earlier send with the same `local_id` when the
    /// readings de-duplicate them.
    pub(crate) fn send(&mut self, mut send: Send) -> ApiResult<SendOutcome> {
        let deduplicate = self.readings.local_id == LocalId::Deduplicated;
        let local_id = send.local_id.as_ref().filter(|_| deduplicate);
        if let Some(answer) = local_id.and_then(|id| self.sends_by_local_id.get(id)) {
            return Ok(SendOutcome::Replayed(answer.clone()));
        }
        let (existing_id, target) = self.destination(&send)?;
        if let Some(id) = send.template {
            let template = self
                .template(id)
                .ok_or_else(|| ApiError::bad_data(format!("template {id} does not exist")))?;
            let contact = self.contact_by_phone(&target);
            let (first, last) = contact.map_or(("", ""), |c| (c.first.as_str(), c.last.as_str()));
            send.text = template
                .text
                .replace("{{first_name}}", first)
                .replace("{{last_name}}", last);
            send.media = template.gallery.first().cloned();
        }
        let now = self.now();
        let conversation = match existing_id {
            Some(id) => id,
            None => self.start_conversation(send.inbox, Channel::Sms, target, send.creator, now),
        };
        let direction = if send.private {
            Direction::Private
        } else {
            Direction::Outbound
        };
        let message = self.append_message(Message {
            id: 0,
            conversation,
            date: now,
            direction,
            user: send.creator,
            text: Cow::Owned(send.text),
            media: send.media.clone().into_iter().collect(),
            delivery_error: None,
            local_id: send.local_id.clone(),
            author: send.author,
        })?;
        let auto_assign = self.inbox(send.inbox).is_some_and(|i| i.auto_assignable);
        let record = self.conversation_mut(conversation)?;
        if !send.private {
            record.replied = true;
        }
        record.unread_users.remove(&send.creator);
        if auto_assign && record.assigned == 0 {
            record.assigned = send.creator;
        }
        record.add_member(record.assigned);
        record.add_member(send.creator);

        let answer = self.send_answer(message, conversation, &now, send.media);
        if let Some(local_id) = send.local_id.filter(|_| deduplicate) {
            self.sends_by_local_id.insert(local_id, answer.clone());
        }
        Ok(SendOutcome::Sent { message, answer })
    }

    /// Where a send lands: the existing conversation (if any) and the customer's target, after
    /// checking the inbox, the sender and the recipient.
    fn destination(&self, send: &Send) -> ApiResult<(Option<i64>, String)> {
        let inbox = self
            .inbox(send.inbox)
            .ok_or_else(|| ApiError::not_found(format!("inbox {} does not exist", send.inbox)))?;
        if inbox.channel != Channel::Sms {
            return Err(ApiError::bad_data(
                "email inboxes send through /v1/email/send",
            ));
        }
        if !inbox.has_member(send.creator) {
            return Err(ApiError::bad_data(format!(
                "creator {} is not a member of inbox {}",
                send.creator, send.inbox
            )));
        }
        let existing = match &send.to {
            SendTarget::Chat(id) => {
                let conversation = self.find_conversation(*id)?;
                if conversation.inbox != send.inbox {
                    return Err(ApiError::bad_data(format!(
                        "conversation {id} is not in inbox {}",
                        send.inbox
                    )));
                }
                Some(conversation)
            }
            SendTarget::Phone(phone) => self.conversation_at(send.inbox, phone),
        };
        let target = match (existing, &send.to) {
            (Some(conversation), _) => conversation.target.clone(),
            (None, SendTarget::Phone(phone)) if !send.private => phone.clone(),
            (None, _) => {
                return Err(ApiError::bad_data(
                    "a private note needs an existing conversation",
                ));
            }
        };
        let enforced = self.readings.opt_out == OptOut::Enforced;
        if enforced && !send.private && self.contact_by_phone(&target).is_some_and(|c| c.opted_out)
        {
            return Err(ApiError::Unsubscribed(target));
        }
        Ok((existing.map(|c| c.id), target))
    }

    /// A customer writes: the conversation is created or reopened and unread for the inbox.
    pub(crate) fn receive(&mut self, inbound: Inbound) -> ApiResult<i64> {
        self.check_inbound(&inbound)?;
        let now = self.now();
        self.receive_at(inbound, now)
    }

    /// Customers write all at once: every message of `inbounds`, in order, within one Unix
    /// second (a microsecond apart), so that they share the history's cursor unit (and, when
    /// the readings write whole seconds, their conversations share one `updated`). Nothing is
    /// stored unless every message can be.
    pub(crate) fn receive_burst(&mut self, inbounds: Vec<Inbound>) -> ApiResult<Vec<i64>> {
        if inbounds.len() > MAX_BURST {
            return Err(ApiError::bad_data(format!(
                "a burst holds at most {MAX_BURST} messages"
            )));
        }
        for inbound in &inbounds {
            self.check_inbound(inbound)?;
        }
        let instants = self.instants_in_one_second(inbounds.len());
        inbounds
            .into_iter()
            .zip(instants)
            .map(|(inbound, at)| self.receive_at(inbound, at))
            .collect()
    }

    /// The inbox must exist and take the target's channel.
    fn check_inbound(&self, inbound: &Inbound) -> ApiResult<()> {
        let inbox = self.inbox(inbound.inbox).ok_or_else(|| {
            ApiError::not_found(format!("inbox {} does not exist", inbound.inbox))
        })?;
        let channel = inbox.channel;
        if (channel == Channel::Email) != inbound.target.contains('@') {
            return Err(ApiError::bad_data(format!(
                "inbox {} is an {} inbox",
                inbound.inbox,
                channel.as_str()
            )));
        }
        Ok(())
    }

    /// Stores a checked inbound message sent at `now`.
    fn receive_at(&mut self, inbound: Inbound, now: DateTime<Utc>) -> ApiResult<i64> {
        let inbox = self.inbox(inbound.inbox).ok_or_else(|| {
            ApiError::not_found(format!("inbox {} does not exist", inbound.inbox))
        })?;
        let channel = inbox.channel;
        let members: BTreeSet<i64> = inbox.members.iter().copied().collect();
        let conversation = match self.conversation_at(inbound.inbox, &inbound.target) {
            Some(existing) => existing.id,
            None => self.start_conversation(inbound.inbox, channel, inbound.target, 0, now),
        };
        let message = self.append_message(Message {
            id: 0,
            conversation,
            date: now,
            direction: Direction::Inbound,
            user: 0,
            text: Cow::Owned(inbound.text),
            media: inbound.media,
            delivery_error: None,
            local_id: None,
            author: None,
        })?;
        let record = self.conversation_mut(conversation)?;
        record.status = Status::Open;
        record.unread_users = members;
        record.last_inbound = now.timestamp();
        Ok(message)
    }

    /// Up to 50 messages of the conversation with `target` in `inbox`, newest first, sent in a
    /// Unix second below `before_second` (or at it, when the readings say the cursor is
    /// inclusive). A target without a conversation there has an empty history, or is a 404.
    pub(crate) fn history(
        &self,
        inbox: i64,
        target: &str,
        before_second: Option<i64>,
    ) -> ApiResult<Vec<&Message>> {
        if self.inbox(inbox).is_none() {
            return Err(ApiError::not_found(format!("inbox {inbox} does not exist")));
        }
        let Some(conversation) = self.conversation_at(inbox, target) else {
            return match self.readings.history_unknown_phone {
                HistoryUnknownPhone::Empty => Ok(Vec::new()),
                HistoryUnknownPhone::NotFound => Err(ApiError::not_found(format!(
                    "no conversation with {target} in inbox {inbox}"
                ))),
            };
        };
        let messages: Vec<&Message> = conversation
            .messages
            .iter()
            .filter_map(|&id| self.message(id))
            .collect();
        let end = before_second.map_or(messages.len(), |second| {
            let first_excluded = match self.readings.history_timestamp {
                HistoryTimestamp::Exclusive => second,
                HistoryTimestamp::Inclusive => second.saturating_add(1),
            };
            messages.partition_point(|m| m.date.timestamp() < first_excluded)
        });
        Ok(messages[..end]
            .iter()
            .rev()
            .take(HISTORY_LIMIT)
            .copied()
            .collect())
    }

    /// Team-wide messages around a date cursor (`POST /v1/messages/all`).
    pub(crate) fn all_messages(&self, page: MessagePage) -> Vec<&Message> {
        if page.ascending {
            let start = page.cursor.map_or(0, |cursor| {
                self.messages.partition_point(|m| m.date <= cursor)
            });
            self.messages[start..].iter().take(page.limit).collect()
        } else {
            let end = page.cursor.map_or(self.messages.len(), |cursor| {
                self.messages.partition_point(|m| m.date < cursor)
            });
            self.messages[..end].iter().rev().take(page.limit).collect()
        }
    }

    fn start_conversation(
        &mut self,
        inbox: i64,
        channel: Channel,
        target: String,
        creator: i64,
        now: DateTime<Utc>,
    ) -> i64 {
        let now = to_precision(now, self.readings.updated_precision);
        let id = FIRST_CONVERSATION_ID + self.conversations.len() as i64;
        self.conversation_by_target
            .insert((inbox, target.clone()), id);
        self.by_updated.insert((now, id));
        self.conversations.push(Conversation {
            id,
            inbox,
            channel,
            target,
            created: now,
            creator,
            updated: now,
            status: Status::Open,
            assigned: 0,
            members: Vec::new(),
            unread_users: BTreeSet::new(),
            replied: false,
            muted: false,
            last_inbound: 0,
            messages: Vec::new(),
        });
        id
    }

    /// Stores `message` under the next id (its date is the newest) and bumps its conversation.
    /// Records a carrier's report that outbound message `id` could not be delivered. It is
    /// no conversation activity: the conversation's `updated` stays, and no webhook tells of
    /// it (Heymarket documents no delivery event).
    pub(crate) fn fail_delivery(&mut self, id: i64, error: String) -> ApiResult<()> {
        let message = self
            .message_mut(id)
            .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
        if message.direction != Direction::Outbound {
            return Err(ApiError::bad_data(format!(
                "message {id} is not an outbound message"
            )));
        }
        message.delivery_error = Some(error);
        Ok(())
    }

    fn append_message(&mut self, mut message: Message) -> ApiResult<i64> {
        let id = FIRST_MESSAGE_ID + self.messages.len() as i64;
        message.id = id;
        let (conversation, date) = (message.conversation, message.date);
        self.conversation_mut(conversation)?.messages.push(id);
        self.messages.push(message);
        self.touch(conversation, date)?;
        Ok(id)
    }
}
