//! Seeded conversations and their messages, with the timestamp ties a client must survive:
//! groups of 2 to 4 conversations share one `updated` microsecond (never more, so any page
//! size of 5 or above can enumerate them), and messages arrive in bursts within one second.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom, index};
use rand_chacha::ChaCha8Rng;

use super::{SPAN_DAYS, anchor, words};
use crate::store::records::{
    Channel, Contact, Conversation, Direction, FIRST_CONVERSATION_ID, FIRST_MESSAGE_ID, Inbox,
    Message, Status,
};

const TIE_GROUP_CHANCE: f64 = 0.1;
const LONG_CONVERSATIONS: usize = 12;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A conversation before its messages exist.
struct Plan {
    inbox: usize,
    channel: Channel,
    target: String,
    updated: DateTime<Utc>,
    message_count: usize,
}

/// A conversation and its messages before ids are handed out.
struct Draft {
    conversation: Conversation,
    messages: Vec<Message>,
}

/// Conversations (ids in creation order) and messages (ids in date order).
pub(super) fn generate(
    rng: &mut ChaCha8Rng,
    inboxes: &[Inbox],
    contacts: &[Contact],
) -> (Vec<Conversation>, Vec<Message>) {
    let mut plans = plan(rng, inboxes, contacts);
    assign_updated(rng, &mut plans);
    assign_lengths(rng, &mut plans);
    let mut drafts: Vec<Draft> = plans
        .iter()
        .map(|plan| draft(rng, plan, &inboxes[plan.inbox]))
        .collect();
    drafts.sort_by_key(|d| d.conversation.created);

    let mut conversations = Vec::with_capacity(drafts.len());
    let mut messages = Vec::new();
    for (i, draft) in drafts.into_iter().enumerate() {
        let id = FIRST_CONVERSATION_ID + i as i64;
        conversations.push(Conversation {
            id,
            ..draft.conversation
        });
        messages.extend(draft.messages.into_iter().map(|m| Message {
            conversation: id,
            ..m
        }));
    }
    // Stable: messages of one conversation that share a microsecond keep their order.
    messages.sort_by_key(|m| (m.date, m.conversation));
    for (i, message) in messages.iter_mut().enumerate() {
        message.id = FIRST_MESSAGE_ID + i as i64;
        conversations[(message.conversation - FIRST_CONVERSATION_ID) as usize]
            .messages
            .push(message.id);
    }
    (conversations, messages)
}

/// Each contact talks to 1 to 4 SMS inboxes (a shuffled deck, so the total is fixed), and half
/// of those with an email address also to the email inbox.
fn plan(rng: &mut ChaCha8Rng, inboxes: &[Inbox], contacts: &[Contact]) -> Vec<Plan> {
    let sms: Vec<usize> = (0..inboxes.len())
        .filter(|&i| inboxes[i].channel == Channel::Sms)
        .collect();
    let email = inboxes.iter().position(|i| i.channel == Channel::Email);
    let mut deck: Vec<usize> = (0..contacts.len()).map(|i| 1 + i % sms.len()).collect();
    deck.shuffle(rng);
    let mut plans = Vec::new();
    let new_plan = |inbox, channel, target: &str| Plan {
        inbox,
        channel,
        target: target.to_owned(),
        updated: DateTime::UNIX_EPOCH,
        message_count: 0,
    };
    for (contact, inbox_count) in contacts.iter().zip(deck) {
        for pick in index::sample(rng, sms.len(), inbox_count) {
            plans.push(new_plan(sms[pick], Channel::Sms, &contact.phone));
        }
        if let Some(email) = email
            && !contact.email.is_empty()
            && rng.random_bool(0.5)
        {
            plans.push(new_plan(email, Channel::Email, &contact.email));
        }
    }
    plans
}

/// Gives every plan a unique `updated`, except deliberate tie groups of 2 to 4.
fn assign_updated(rng: &mut ChaCha8Rng, plans: &mut [Plan]) {
    let mut order: Vec<usize> = (0..plans.len()).collect();
    order.shuffle(rng);
    let mut used = HashSet::new();
    let mut rest = order.as_slice();
    while !rest.is_empty() {
        let size = if rng.random_bool(TIE_GROUP_CHANCE) {
            rng.random_range(2..=4)
        } else {
            1
        };
        let instant = loop {
            let age = rng.random_range(MICROS_PER_DAY / 24..SPAN_DAYS * MICROS_PER_DAY);
            let candidate = anchor() - TimeDelta::microseconds(age);
            if used.insert(candidate) {
                break candidate;
            }
        };
        let (group, tail) = rest.split_at(size.min(rest.len()));
        for &i in group {
            plans[i].updated = instant;
        }
        rest = tail;
    }
}

/// Most conversations hold 1 to 11 messages; a few SMS ones 150 to 400.
fn assign_lengths(rng: &mut ChaCha8Rng, plans: &mut [Plan]) {
    for plan in plans.iter_mut() {
        plan.message_count = rng.random_range(1..=11);
    }
    let sms: Vec<usize> = (0..plans.len())
        .filter(|&i| plans[i].channel == Channel::Sms)
        .collect();
    for pick in index::sample(rng, sms.len(), LONG_CONVERSATIONS.min(sms.len())) {
        plans[sms[pick]].message_count = rng.random_range(150..=400);
    }
}

/// Message instants ending exactly at `updated`, in bursts sharing one Unix second.
fn timeline(rng: &mut ChaCha8Rng, updated: DateTime<Utc>, count: usize) -> Vec<Vec<DateTime<Utc>>> {
    let max_gap_seconds = if count > 11 { 40 * 60 } else { 8 * 3600 };
    let mut bursts = Vec::new();
    let mut end = updated;
    let mut remaining = count;
    while remaining > 0 {
        let size = if remaining >= 2 && rng.random_bool(0.55) {
            rng.random_range(2..=remaining.min(10))
        } else {
            1
        };
        let end_micros = i64::from(end.timestamp_subsec_micros());
        let second = end - TimeDelta::microseconds(end_micros);
        let burst = if size > 1 && rng.random_bool(0.2) {
            vec![end; size]
        } else {
            let mut times: Vec<DateTime<Utc>> = (1..size)
                .map(|_| second + TimeDelta::microseconds(rng.random_range(0..=end_micros)))
                .chain([end])
                .collect();
            times.sort_unstable();
            times
        };
        let gap = TimeDelta::seconds(rng.random_range(20..max_gap_seconds));
        end = burst[0] - gap - TimeDelta::microseconds(rng.random_range(0..1_000_000));
        remaining -= size;
        bursts.push(burst);
    }
    bursts.reverse();
    bursts
}

fn draft(rng: &mut ChaCha8Rng, plan: &Plan, inbox: &Inbox) -> Draft {
    let assigned = if rng.random_bool(0.55) {
        inbox.members.choose(rng).copied().unwrap_or(0)
    } else {
        0
    };
    let mut inbound = rng.random_bool(0.7);
    let mut messages = Vec::with_capacity(plan.message_count);
    for (i, burst) in timeline(rng, plan.updated, plan.message_count)
        .into_iter()
        .enumerate()
    {
        if i > 0 && rng.random_bool(0.7) {
            inbound = !inbound;
        }
        let writer = match (inbound, assigned) {
            (true, _) => 0,
            (false, 0) => inbox.members.choose(rng).copied().unwrap_or(0),
            (false, assignee) if rng.random_bool(0.8) => assignee,
            (false, _) => inbox.members.choose(rng).copied().unwrap_or(0),
        };
        for date in burst {
            messages.push(seed_message(rng, plan.channel, inbound, writer, date));
        }
    }
    let first = messages
        .first()
        .map_or((plan.updated, 0), |m| (m.date, m.user));
    let last_inbound = messages
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Inbound);
    let unread_chance = if messages
        .last()
        .is_some_and(|m| m.direction == Direction::Inbound)
    {
        0.35
    } else {
        0.05
    };
    let unread_users: BTreeSet<i64> = inbox
        .members
        .iter()
        .copied()
        .filter(|_| rng.random_bool(unread_chance))
        .collect();
    let mut conversation = Conversation {
        id: 0,
        inbox: inbox.id,
        channel: plan.channel,
        target: plan.target.clone(),
        created: first.0,
        creator: first.1,
        updated: plan.updated,
        status: if rng.random_bool(0.45) {
            Status::Closed
        } else {
            Status::Open
        },
        assigned,
        members: Vec::new(),
        unread_users,
        replied: messages.iter().any(|m| m.direction == Direction::Outbound),
        muted: rng.random_bool(0.02),
        last_inbound: last_inbound.map_or(0, |m| m.date.timestamp()),
        title: None,
        messages: Vec::new(),
    };
    conversation.add_member(assigned);
    for message in &messages {
        conversation.add_member(message.user);
    }
    Draft {
        conversation,
        messages,
    }
}

fn seed_message(
    rng: &mut ChaCha8Rng,
    channel: Channel,
    inbound: bool,
    writer: i64,
    date: DateTime<Utc>,
) -> Message {
    let direction = match inbound {
        true => Direction::Inbound,
        false if rng.random_bool(0.04) => Direction::Private,
        false => Direction::Outbound,
    };
    let texts = match direction {
        Direction::Inbound => words::INBOUND_TEXTS,
        Direction::Outbound => words::OUTBOUND_TEXTS,
        Direction::Private => words::NOTE_TEXTS,
    };
    let with_media =
        direction != Direction::Private && channel == Channel::Sms && rng.random_bool(0.04);
    Message {
        id: 0,
        conversation: 0,
        date,
        direction,
        user: writer,
        text: Cow::Borrowed(texts.choose(rng).copied().unwrap_or_default()),
        media: with_media
            .then(|| {
                format!(
                    "https://media.example.com/sandbox/{:08x}.jpg",
                    rng.random::<u32>()
                )
            })
            .into_iter()
            .collect(),
        delivery_error: None,
        local_id: None,
        author: None,
    }
}
