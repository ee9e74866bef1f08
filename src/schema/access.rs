//! What the acting member may see.
//!
//! The acting member ([`RequestContext::acting_member`]) sees the conversations, and so the
//! messages, of the inboxes whose `members` include them, and of no other inbox. A conversation
//! that exists in another inbox is a `FORBIDDEN` error wherever it is asked for, one that does not
//! exist `NOT_FOUND`. The check sits where a conversation enters the schema: the by-id reads
//! (`conversation`, `node`, `nodes`, a message's id), the lists (`conversations`,
//! `Inbox.conversations`, `Contact.conversations`), subscriptions, and mutation payloads.
//! Everything below a conversation (its messages, last message, a message's conversation) stays
//! within that conversation, so it needs no check of its own.
//!
//! The rest is the team's directory, which any member of the team may read: the team, its
//! members, every inbox's metadata (name, numbers, members), and contacts (Heymarket's contacts
//! API is team-wide). What a contact links to is filtered again: `Contact.conversations` lists
//! only the conversations of the member's inboxes.
//!
//! A scheduled message is seen by the members of the inbox it is sent from, as that inbox's
//! conversations are.
//!
//! Templates are the team's when shared, else their creator's own: another member's private
//! template is `FORBIDDEN` by id and left out of `templates`.

use std::collections::HashSet;
use std::sync::Arc;

use super::context::RequestContext;
use crate::error::ApiError;
use crate::upstream::models::{Conversation, Scheduled, TeamMember, Template};

/// The acting member and the inboxes they belong to, for one operation.
pub struct Visibility {
    member: TeamMember,
    /// Every inbox the credential can access.
    known: HashSet<i64>,
    /// Those the acting member belongs to.
    member_of: HashSet<i64>,
}

impl Visibility {
    /// The acting member's view, from the operation's loaders (the team and the inboxes are
    /// fetched once per operation, and usually come from the shared caches).
    pub async fn of(context: &RequestContext) -> Result<Self, ApiError> {
        let (member, inboxes) =
            futures::try_join!(context.acting_member(), context.loaders.inboxes())?;
        let member_of = inboxes
            .iter()
            .filter(|inbox| inbox.members.contains(&member.id))
            .map(|inbox| inbox.id)
            .collect();
        Ok(Self {
            known: inboxes.iter().map(|inbox| inbox.id).collect(),
            member,
            member_of,
        })
    }

    /// The acting member's id.
    pub fn member_id(&self) -> i64 {
        self.member.id
    }

    /// The inboxes whose conversations the acting member sees.
    pub fn inboxes(&self) -> &HashSet<i64> {
        &self.member_of
    }

    /// Whether the acting member sees the conversations of inbox `id`.
    pub fn sees_inbox(&self, id: i64) -> bool {
        self.member_of.contains(&id)
    }

    /// Ok when the acting member sees inbox `id`'s conversations; `NOT_FOUND` when the
    /// credential cannot access that inbox at all, `FORBIDDEN` when the member is not in it.
    pub fn inbox(&self, id: i64) -> Result<(), ApiError> {
        if !self.known.contains(&id) {
            return Err(ApiError::NotFound(format!(
                "inbox {id} is not visible to this credential"
            )));
        }
        if !self.sees_inbox(id) {
            return Err(ApiError::Forbidden(format!(
                "member {} has no access to inbox {id}; act as one of its members (X-Member-Id)",
                self.member.id
            )));
        }
        Ok(())
    }

    /// Ok when the acting member sees `conversation`, else `FORBIDDEN` (also for a
    /// conversation the upstream gave no inbox: what cannot be placed is not shown).
    pub fn conversation(&self, conversation: &Conversation) -> Result<(), ApiError> {
        match conversation.inbox {
            Some(inbox) if self.sees_inbox(inbox) => Ok(()),
            inbox => Err(ApiError::Forbidden(format!(
                "member {} has no access to conversation {}{}; act as a member of its inbox (X-Member-Id)",
                self.member.id,
                conversation.id,
                inbox.map_or_else(String::new, |inbox| format!(" (inbox {inbox})")),
            ))),
        }
    }
}

/// Conversation `id` when the acting member may see it: `None` when the upstream has no such
/// conversation, `FORBIDDEN` when it is in an inbox the member is not in.
pub async fn conversation(
    context: &RequestContext,
    id: i64,
) -> Result<Option<Arc<Conversation>>, ApiError> {
    let (conversation, visibility) =
        futures::try_join!(context.loaders.conversation(id), Visibility::of(context))?;
    if let Some(conversation) = &conversation {
        visibility.conversation(conversation)?;
    }
    Ok(conversation)
}

/// Template `id` when the acting member may see it: `None` when the upstream has no such
/// template, `FORBIDDEN` when it is another member's own.
pub async fn template(context: &RequestContext, id: i64) -> Result<Option<Template>, ApiError> {
    let (template, member) =
        futures::try_join!(context.loaders.template(id), context.acting_member())?;
    if let Some(template) = &template
        && !template.is_visible_to(member.id)
    {
        return Err(ApiError::Forbidden(format!(
            "template {id} is the own template of another member; only its creator may use it"
        )));
    }
    Ok(template)
}

/// Scheduled message `id` when the acting member may see it: `None` when the upstream has no
/// such scheduled message, `FORBIDDEN` when it is sent from an inbox the member is not in.
pub async fn scheduled(
    context: &RequestContext,
    id: i64,
) -> Result<Option<Arc<Scheduled>>, ApiError> {
    let (scheduled, visibility) =
        futures::try_join!(context.loaders.scheduled(id), Visibility::of(context))?;
    if let Some(scheduled) = &scheduled {
        let inbox = scheduled.inbox_id.ok_or_else(|| {
            ApiError::Forbidden(format!(
                "scheduled message {id} names no inbox, so its access cannot be checked"
            ))
        })?;
        visibility.inbox(inbox)?;
    }
    Ok(scheduled)
}
