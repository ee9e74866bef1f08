//! The conversation list behind `Query.conversations` and `Inbox.conversations`: filters
//! checked and mapped onto `POST /v1/conversations`, walked with the tie-safe pager.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject};

use super::access::Visibility;
use super::connection::{ConversationConnection, PageRequest, walk_error};
use super::context::RequestContext;
use super::cursor::CursorKey;
use super::node::{GlobalId, NodeKind};
use super::types::{Conversation, ConversationStatus};
use crate::error::ApiError;
use crate::loaders::{LastMessageTarget, Loaders};
use crate::pagination::{self, Listing};
use crate::upstream::models::Conversation as Conversation_;
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
    let inbox_ids: Vec<i64> = match inbox {
        Some(inbox) => vec![inbox],
        None => filter
            .inbox_ids
            .iter()
            .flatten()
            .map(|id| GlobalId::parse_as(id, NodeKind::Inbox))
            .collect::<Result<_, _>>()?,
    };
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
    // A member named by the caller is listed at once and checked alongside; the default member
    // has to be looked up first.
    let member_id = match context.requested_member() {
        Some(id) => id,
        None => context.acting_member().await?.id,
    };
    // The upstream filters unread conversations itself; "read only" it cannot, so that side
    // is filtered here while the walk still moves over every row.
    let request = ConversationListRequest {
        member_id,
        inbox_ids: inbox_ids.clone(),
        closed,
        unread: filter.unread.filter(|unread| *unread),
        updated_before: None,
    };
    let only_read = filter.unread == Some(false);
    let keep =
        move |conversation: &Conversation_| !only_read || !conversation.is_unread_for(member_id);
    let prefetch = Prefetch::for_selection(ctx);
    if prefetch.last_messages && page.after.is_none() {
        context.loaders.prefetch_recent_messages(&request).await;
    }
    let mut first_page = true;
    let walk = pagination::collect(
        page.first,
        page.after,
        Listing::CONVERSATIONS,
        Conversation::sort_key,
        keep,
        move |before| {
            let request = ConversationListRequest {
                updated_before: before,
                ..request.clone()
            };
            let prefetch_rows = std::mem::replace(&mut first_page, false);
            async move {
                let rows = context.loaders.list_page(request).await?;
                if prefetch_rows {
                    prefetch.start(&context.loaders, &rows, &page, &keep);
                }
                Ok::<_, ApiError>(rows.to_vec())
            }
        },
    );
    // Boxed: the walk is a large future, and inline it would size the future of every field
    // of the types that list conversations (an inbox's `name` as much as its `conversations`).
    let (check, walked) = futures::join!(check_access(context, &inbox_ids), Box::pin(walk));
    check?;
    let slice = walked.map_err(walk_error)?;

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
        resume: slice.resume,
    };
    Ok(page.page(CursorKey::of(ctx)?, slice, Conversation).into())
}

/// The acting member must exist and belong to every listed inbox.
async fn check_access(context: &RequestContext, inbox_ids: &[i64]) -> Result<(), ApiError> {
    let visibility = Visibility::of(context).await?;
    inbox_ids.iter().try_for_each(|&id| visibility.inbox(id))
}

/// Which per-row look-ups the operation selected, so they can start while the list is still
/// paging.
#[derive(Clone, Copy)]
struct Prefetch {
    contacts: bool,
    last_messages: bool,
}

impl Prefetch {
    fn for_selection(ctx: &Context<'_>) -> Self {
        let selects = |field: &str| {
            let look_ahead = ctx.look_ahead();
            look_ahead.field("nodes").field(field).exists()
                || look_ahead
                    .field("edges")
                    .field("node")
                    .field(field)
                    .exists()
        };
        Self {
            contacts: selects("contact"),
            last_messages: selects("lastMessage"),
        }
    }

    /// Starts the look-ups for the rows this page will show, when the first upstream page
    /// already holds all of them. (When it does not, as on a page that continues a walk, the
    /// rows' own look-ups batch them all at once after paging, in no more round trips.)
    fn start(
        self,
        loaders: &Loaders,
        rows: &[Conversation_],
        page: &PageRequest,
        keep: &impl Fn(&Conversation_) -> bool,
    ) {
        if !self.contacts && !self.last_messages {
            return;
        }
        let mut shown: Vec<&Conversation_> = rows
            .iter()
            .filter(|row| keep(row))
            .filter(|row| {
                page.after.is_none_or(|after| {
                    Conversation::sort_key(row).is_some_and(|key| key < after.key)
                })
            })
            .collect();
        if shown.len() < page.first {
            return;
        }
        shown.sort_by_key(|row| std::cmp::Reverse(Conversation::sort_key(row)));
        shown.truncate(page.first);
        let phones = if self.contacts {
            shown
                .iter()
                .filter_map(|row| row.target.clone())
                .filter(|target| !target.contains('@'))
                .collect()
        } else {
            Vec::new()
        };
        let last_messages = if self.last_messages {
            shown
                .iter()
                .filter_map(|row| LastMessageTarget::of(row))
                .collect()
        } else {
            Vec::new()
        };
        loaders.prefetch(phones, last_messages);
    }
}
