//! Message queries and the two ways a message is born: a member's send, a customer's inbound.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::TeamStore;
use super::records::{
    Channel, Conversation, Direction, FIRST_CONVERSATION_ID, FIRST_MESSAGE_ID, Message, Status,
};
use super::render::SendAnswer;
use crate::error::{ApiError, ApiResult};
use crate::readings::{
    EmailThreadTarget, HistoryTimestamp, HistoryUnknownPhone, LocalId, OptOut, SendAnswerShape,
};
use crate::wire::to_precision;

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

/// A `POST /v1/email/send` whose fields are present and well-formed.
#[derive(Debug, Clone)]
pub(crate) struct EmailSend {
    pub(crate) inbox: i64,
    pub(crate) creator: i64,
    pub(crate) to: EmailTarget,
    /// The body (HTML allowed), as the history shows it.
    pub(crate) text: String,
    pub(crate) local_id: Option<String>,
}

/// Where an email goes.
#[derive(Debug, Clone)]
pub(crate) enum EmailTarget {
    /// A reply in an existing conversation (`convo_id`).
    Conversation(i64),
    /// A new thread (`targets`): its `to:` addresses, lowercased, in order, and its subject
    /// (`conv_title`). `cc:` addresses are accepted and not simulated further.
    New {
        to: Vec<String>,
        title: Option<String>,
    },
}

/// A checked outgoing message, ready to store.
struct Written {
    inbox: i64,
    creator: i64,
    private: bool,
    text: String,
    media: Option<String>,
    local_id: Option<String>,
    author: Option<String>,
}

/// The conversation an outgoing message lands in.
enum Landing {
    Existing(i64),
    New {
        channel: Channel,
        target: String,
        title: Option<String>,
    },
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
        let landing = match existing_id {
            Some(id) => Landing::Existing(id),
            None => Landing::New {
                channel: Channel::Sms,
                target,
                title: None,
            },
        };
        let with_conversation = self.readings.send_answer == SendAnswerShape::WithConversation;
        let (message, answer) = self.record_send(
            Written {
                inbox: send.inbox,
                creator: send.creator,
                private: send.private,
                text: send.text,
                media: send.media,
                local_id: send.local_id.clone(),
                author: send.author,
            },
            landing,
            with_conversation,
        )?;
        if let Some(local_id) = send.local_id.filter(|_| deduplicate) {
            self.sends_by_local_id.insert(local_id, answer.clone());
        }
        Ok(SendOutcome::Sent { message, answer })
    }

    /// Sends an email (`POST /v1/email/send`): a reply in an email conversation, or a new
    /// one to its `to` addresses, continuing the inbox's conversation with the same target
    /// (as the readings make it of those addresses) when there is one. A repeated `local_id` replays the first answer, as documented for
    /// this endpoint whatever the readings say of text sends.
    pub(crate) fn send_email(&mut self, email: EmailSend) -> ApiResult<SendOutcome> {
        if let Some(answer) = email
            .local_id
            .as_ref()
            .and_then(|id| self.emails_by_local_id.get(id))
        {
            return Ok(SendOutcome::Replayed(answer.clone()));
        }
        let inbox = self
            .inbox(email.inbox)
            .ok_or_else(|| ApiError::not_found(format!("inbox {} does not exist", email.inbox)))?;
        if inbox.channel != Channel::Email {
            return Err(ApiError::bad_data(format!(
                "inbox {} is not an email inbox; text messages go through /v1/message/send",
                email.inbox
            )));
        }
        if !inbox.has_member(email.creator) {
            return Err(ApiError::bad_data(format!(
                "creator {} is not a member of inbox {}",
                email.creator, email.inbox
            )));
        }
        let landing = match email.to {
            EmailTarget::Conversation(id) => {
                let conversation = self.find_conversation(id)?;
                if conversation.inbox != email.inbox {
                    return Err(ApiError::bad_data(format!(
                        "conversation {id} is not in inbox {}",
                        email.inbox
                    )));
                }
                Landing::Existing(id)
            }
            EmailTarget::New { to, title } => {
                let target = match self.readings.email_thread_target {
                    EmailThreadTarget::FirstTo => to.into_iter().next(),
                    EmailThreadTarget::AllTo => Some(to.join(",")).filter(|all| !all.is_empty()),
                }
                .ok_or_else(|| ApiError::missing("a `to:` address"))?;
                match self.conversation_at(email.inbox, &target) {
                    Some(existing) => Landing::Existing(existing.id),
                    None => Landing::New {
                        channel: Channel::Email,
                        target,
                        title,
                    },
                }
            }
        };
        let (message, answer) = self.record_send(
            Written {
                inbox: email.inbox,
                creator: email.creator,
                private: false,
                text: email.text,
                media: None,
                local_id: email.local_id.clone(),
                author: None,
            },
            landing,
            true,
        )?;
        if let Some(local_id) = email.local_id {
            self.emails_by_local_id.insert(local_id, answer.clone());
        }
        Ok(SendOutcome::Sent { message, answer })
    }

    /// Stores a checked outgoing message in its conversation (started when new): the
    /// conversation counts as replied (unless it is a note), read by the sender, and, when the
    /// inbox assigns automatically, assigned to the sender if it was nobody's.
    fn record_send(
        &mut self,
        written: Written,
        landing: Landing,
        with_conversation: bool,
    ) -> ApiResult<(i64, SendAnswer)> {
        let now = self.now();
        let conversation = match landing {
            Landing::Existing(id) => id,
            Landing::New {
                channel,
                target,
                title,
            } => {
                let id =
                    self.start_conversation(written.inbox, channel, target, written.creator, now);
                self.conversation_mut(id)?.title = title;
                id
            }
        };
        let direction = if written.private {
            Direction::Private
        } else {
            Direction::Outbound
        };
        let message = self.append_message(Message {
            id: 0,
            conversation,
            date: now,
            direction,
            user: written.creator,
            text: Cow::Owned(written.text),
            media: written.media.clone().into_iter().collect(),
            delivery_error: None,
            local_id: written.local_id,
            author: written.author,
        })?;
        let auto_assign = self.inbox(written.inbox).is_some_and(|i| i.auto_assignable);
        let record = self.conversation_mut(conversation)?;
        if !written.private {
            record.replied = true;
        }
        record.unread_users.remove(&written.creator);
        if auto_assign && record.assigned == 0 {
            record.assigned = written.creator;
        }
        record.add_member(record.assigned);
        record.add_member(written.creator);
        let answer = self.send_answer(
            message,
            conversation,
            &now,
            written.media,
            with_conversation,
        );
        Ok((message, answer))
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
            title: None,
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
