//! The conversation list behind `Query.conversations` and `Inbox.conversations`: filters
//! checked and mapped onto `POST /v1/conversations`, walked with the tie-safe pager.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject};

use super::connection::{ConversationConnection, PageRequest, walk_error};
use super::context::RequestContext;
use super::node::{GlobalId, NodeKind};
use super::types::{Conversation, ConversationStatus};
use crate::error::ApiError;
use crate::pagination::{self, Granularity};
use crate::upstream::requests::ConversationListRequest;

/// Which conversations a list shows.
#[derive(InputObject, Default)]
pub struct ConversationFilter {
    /// Only these inboxes (global ids). Absent or empty: every inbox of the acting member.
    pub inbox_ids: Option<Vec<ID>>,
    /// Only `OPEN` or only `CLOSED` conversations; both when absent.
    pub status: Option<ConversationStatus>,
    /// `true`: only those the acting member has not read; `false`: only read ones; absent: both.
    pub unread: Option<bool>,
}

/// Which of an inbox's conversations a list shows.
#[derive(InputObject, Default)]
pub struct InboxConversationFilter {
    /// Only `OPEN` or only `CLOSED` conversations; both when absent.
    pub status: Option<ConversationStatus>,
    /// `true`: only those the acting member has not read; `false`: only read ones; absent: both.
    pub unread: Option<bool>,
}

impl From<InboxConversationFilter> for ConversationFilter {
    fn from(filter: InboxConversationFilter) -> Self {
        Self {
            inbox_ids: None,
            status: filter.status,
            unread: filter.unread,
        }
    }
}

/// One page of conversations as the acting member sees them. `inbox` (from `Inbox.conversations`)
/// replaces the filter's inboxes.
pub async fn conversations(
    ctx: &Context<'_>,
    page: PageRequest,
    filter: ConversationFilter,
    inbox: Option<i64>,
) -> Result<ConversationConnection, ApiError> {
    let context = RequestContext::of(ctx)?;
    let member = context.acting_member().await?;
    let inbox_ids = match inbox {
        Some(inbox) => vec![inbox],
        None => filter
            .inbox_ids
            .iter()
            .flatten()
            .map(|id| GlobalId::parse_as(id, NodeKind::Inbox))
            .collect::<Result<_, _>>()?,
    };
    let inboxes = context.loaders.inboxes().await?;
    for id in &inbox_ids {
        let inbox = inboxes
            .iter()
            .find(|inbox| inbox.id == *id)
            .ok_or_else(|| {
                ApiError::NotFound(format!("inbox {id} is not visible to this credential"))
            })?;
        if !inbox.members.contains(&member.id) {
            return Err(ApiError::Forbidden(format!(
                "member {} has no access to inbox {id}; act as one of its members (X-Member-Id)",
                member.id
            )));
        }
    }
    let closed = match filter.status {
        None => None,
        Some(ConversationStatus::Open) => Some(false),
        Some(ConversationStatus::Closed) => Some(true),
        Some(other) => {
            return Err(ApiError::bad_input(format!(
                "the conversation list can filter by OPEN or CLOSED only, not {other:?}"
            )));
        }
    };
    // The upstream filters unread conversations itself; "read only" it cannot, so that side
    // is filtered here while the walk still moves over every row.
    let request = ConversationListRequest {
        member_id: member.id,
        inbox_ids,
        closed,
        unread: filter.unread.filter(|unread| *unread),
        updated_before: None,
    };
    let only_read = filter.unread == Some(false);
    let upstream = context.upstream();
    let slice = pagination::collect(
        page.first,
        page.after,
        Granularity::Microsecond,
        Conversation::sort_key,
        |conversation| !only_read || !conversation.is_unread_for(member.id),
        |before| {
            let request = ConversationListRequest {
                updated_before: before,
                ..request.clone()
            };
            async move { upstream.list_conversations(&request).await }
        },
    )
    .await
    .map_err(walk_error)?;

    let rows: Vec<(_, Arc<_>)> = slice
        .rows
        .into_iter()
        .map(|(key, row)| (key, Arc::new(row)))
        .collect();
    let listed: Vec<Arc<_>> = rows
        .iter()
        .map(|(_, conversation)| Arc::clone(conversation))
        .collect();
    context.loaders.prime_conversations(listed).await;
    let slice = pagination::Slice {
        rows,
        has_next_page: slice.has_next_page,
    };
    Ok(page.page(slice, Conversation).into())
}
