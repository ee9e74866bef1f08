//! Conversation queries and the state changes of open/close, read/unread, reassign, transfer.

use std::ops::Bound;

use chrono::{DateTime, Utc};

use super::TeamStore;
use super::records::{Channel, Conversation, Status};
use crate::error::{ApiError, ApiResult};

/// A validated `POST /v1/conversations` request.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    /// Acting member; 0 for "the team" (no membership checks, no per-user unread).
    pub(crate) user: i64,
    /// Inboxes to list (possibly none); `None` means every inbox the user can see.
    pub(crate) inboxes: Option<Vec<i64>>,
    /// `Some(true)`: closed only; `Some(false)`: open only; `None`: both.
    pub(crate) closed: Option<bool>,
    /// `Some(true)`: only conversations unread for `user`; `Some(false)`: only those read;
    /// `None`: both.
    pub(crate) unread: Option<bool>,
    /// Only conversations updated strictly before this instant.
    pub(crate) before: Option<DateTime<Utc>>,
    pub(crate) page_size: usize,
    /// Only conversations assigned to this member.
    pub(crate) assigned: Option<i64>,
}

/// How a request names a conversation.
#[derive(Debug, Clone)]
pub(crate) enum Address {
    /// By id (`chat_id`).
    Chat(i64),
    /// By customer phone or email inside the request's inbox.
    Target(String),
}

impl TeamStore {
    /// One page of conversations, `updated` descending, ties by `id` descending.
    pub(crate) fn list_conversations<'a>(
        &'a self,
        query: &ListQuery,
    ) -> ApiResult<Vec<&'a Conversation>> {
        Ok(self.matching(query)?.take(query.page_size).collect())
    }

    /// How many conversations the list would show, over all its pages.
    pub(crate) fn count_conversations(&self, query: &ListQuery) -> ApiResult<usize> {
        Ok(self.matching(query)?.count())
    }

    /// How many conversations of the team were updated strictly before `before`.
    pub(crate) fn count_team_conversations(&self, before: Option<DateTime<Utc>>) -> usize {
        self.by_updated
            .range((Bound::Unbounded, updated_before(before)))
            .count()
    }

    /// Every conversation `query` matches, newest first, after checking it as the API does.
    fn matching<'a, 'q>(
        &'a self,
        query: &'q ListQuery,
    ) -> ApiResult<impl Iterator<Item = &'a Conversation> + 'q>
    where
        'a: 'q,
    {
        if query.user != 0 && self.member(query.user).is_none() {
            return Err(ApiError::bad_data(format!(
                "user {} is not a team member",
                query.user
            )));
        }
        if query.unread.is_some() && query.user == 0 {
            return Err(ApiError::bad_data(
                "filters.unread needs the id of a member",
            ));
        }
        for &id in query.inboxes.iter().flatten() {
            let inbox = self
                .inbox(id)
                .ok_or_else(|| ApiError::bad_data(format!("inbox {id} does not exist")))?;
            if query.user != 0 && !inbox.has_member(query.user) {
                return Err(ApiError::denied(format!(
                    "user {} is not a member of inbox {id}",
                    query.user
                )));
            }
        }
        let scope: Vec<i64> = match &query.inboxes {
            Some(listed) => listed.clone(),
            None => {
                let visible = self
                    .inboxes()
                    .iter()
                    .filter(|i| query.user == 0 || i.has_member(query.user));
                visible.map(|i| i.id).collect()
            }
        };
        let matching = self
            .by_updated
            .range((Bound::Unbounded, updated_before(query.before)))
            .rev()
            .filter_map(move |&(_, id)| self.conversation(id))
            .filter(move |c| scope.contains(&c.inbox))
            .filter(move |c| {
                query
                    .closed
                    .is_none_or(|closed| closed == (c.status == Status::Closed))
            })
            .filter(move |c| {
                query
                    .unread
                    .is_none_or(|unread| unread == c.unread_users.contains(&query.user))
            })
            .filter(move |c| query.assigned.is_none_or(|member| c.assigned == member));
        Ok(matching)
    }

    /// Resolves a conversation addressed inside `inbox` by `user` (404 / 403 as the API does).
    pub(crate) fn resolve(&self, inbox: i64, user: i64, address: &Address) -> ApiResult<i64> {
        self.inbox_for(inbox, user)?;
        let found = match address {
            Address::Chat(id) => self.conversation(*id).filter(|c| c.inbox == inbox),
            Address::Target(target) => self.conversation_at(inbox, target),
        };
        found
            .map(|c| c.id)
            .ok_or_else(|| ApiError::not_found(format!("no such conversation in inbox {inbox}")))
    }

    /// Opens or closes; returns whether the status changed (only then is `updated` bumped).
    pub(crate) fn set_status(&mut self, id: i64, status: Status) -> ApiResult<bool> {
        let conversation = self.conversation_mut(id)?;
        if conversation.status == status {
            return Ok(false);
        }
        conversation.status = status;
        let now = self.now();
        self.touch(id, now)?;
        Ok(true)
    }

    /// Per-member read state; does not count as activity, so `updated` stays.
    pub(crate) fn mark_read(&mut self, id: i64, user: i64, read: bool) -> ApiResult<()> {
        let conversation = self.conversation_mut(id)?;
        if read {
            conversation.unread_users.remove(&user);
        } else {
            conversation.unread_users.insert(user);
        }
        Ok(())
    }

    /// Assigns to `assignee` (a member of the conversation's inbox), or unassigns with `None`.
    /// Returns whether the assignee changed (only then is `updated` bumped).
    pub(crate) fn reassign(&mut self, id: i64, assignee: Option<i64>) -> ApiResult<bool> {
        let inbox = self.find_conversation(id)?.inbox;
        if let Some(member) = assignee
            && !self.inbox(inbox).is_some_and(|i| i.has_member(member))
        {
            return Err(ApiError::bad_data(format!(
                "user {member} is not a member of inbox {inbox}"
            )));
        }
        let conversation = self.conversation_mut(id)?;
        let assigned = assignee.unwrap_or(0);
        if conversation.assigned == assigned {
            return Ok(false);
        }
        conversation.assigned = assigned;
        conversation.add_member(assigned);
        let now = self.now();
        self.touch(id, now)?;
        Ok(true)
    }

    /// Moves an SMS conversation (and so its messages) to another SMS inbox.
    pub(crate) fn transfer(&mut self, id: i64, to_inbox: i64) -> ApiResult<()> {
        let conversation = self.find_conversation(id)?;
        let (from_inbox, target) = (conversation.inbox, conversation.target.clone());
        let destination = self
            .inbox(to_inbox)
            .ok_or_else(|| ApiError::not_found(format!("inbox {to_inbox} does not exist")))?;
        if conversation.channel != Channel::Sms || destination.channel != Channel::Sms {
            return Err(ApiError::bad_data(
                "only SMS conversations can be transferred, between SMS inboxes",
            ));
        }
        if to_inbox == from_inbox {
            return Err(ApiError::bad_data(format!(
                "conversation {id} is already in inbox {to_inbox}"
            )));
        }
        if self.conversation_at(to_inbox, &target).is_some() {
            return Err(ApiError::bad_data(format!(
                "inbox {to_inbox} already has a conversation with {target}"
            )));
        }
        let new_members = destination.members.clone();
        let conversation = self.conversation_mut(id)?;
        conversation.inbox = to_inbox;
        if !new_members.contains(&conversation.assigned) {
            conversation.assigned = 0;
        }
        conversation.unread_users = new_members.into_iter().collect();
        self.conversation_by_target
            .remove(&(from_inbox, target.clone()));
        self.conversation_by_target.insert((to_inbox, target), id);
        let now = self.now();
        self.touch(id, now)
    }
}

/// The `by_updated` bound that keeps exactly the conversations updated strictly before
/// `before`: `(instant, i64::MIN)` sorts before every real key at `instant`.
fn updated_before(before: Option<DateTime<Utc>>) -> Bound<(DateTime<Utc>, i64)> {
    before.map_or(Bound::Unbounded, |before| {
        Bound::Excluded((before, i64::MIN))
    })
}
