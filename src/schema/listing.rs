//! The conversation list behind `Query.conversations` and `Inbox.conversations`: filters
//! checked and mapped onto `POST /v1/conversations`, walked with the tie-safe pager, and every
//! row the upstream answers checked against them again.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject};
use futures::future::BoxFuture;

use super::access::Visibility;
use super::connection::{
    ConversationConnection, MaxListPages, PageRequest, report_incomplete, walk_error,
};
use super::context::RequestContext;
use super::counting::{ConversationTotal, Narrowing};
use super::cursor::CursorKey;
use super::node::{GlobalId, NodeKind};
use super::types::{Conversation, ConversationStatus};
use crate::error::ApiError;
use crate::loaders::{Audience, LastMessageTarget, Loaders, contact_address};
use crate::pagination::{self, Listing, PageBound, Slice, SliceRequest};
use crate::upstream::models;
use crate::upstream::requests::ConversationListRequest;

/// Which conversations a list shows.
#[derive(InputObject, Default)]
pub struct ConversationFilter {
    /// Only these inboxes (global ids). Absent or empty: every inbox of the acting member.
    pub inbox_ids: Option<Vec<ID>>,
    #[graphql(flatten)]
    pub state: StateFilter,
    #[graphql(flatten)]
    pub assignee: AssigneeFilter,
}

/// Which of an inbox's conversations a list shows.
#[derive(InputObject, Default)]
pub struct InboxConversationFilter {
    #[graphql(flatten)]
    pub state: StateFilter,
    #[graphql(flatten)]
    pub assignee: AssigneeFilter,
}

impl From<InboxConversationFilter> for ConversationFilter {
    fn from(filter: InboxConversationFilter) -> Self {
        Self {
            inbox_ids: None,
            state: filter.state,
            assignee: filter.assignee,
        }
    }
}

/// Which of a member's assigned conversations a list shows.
#[derive(InputObject, Default)]
pub struct AssignedConversationFilter {
    /// Only these inboxes (global ids). Absent or empty: every inbox of the acting member.
    pub inbox_ids: Option<Vec<ID>>,
    #[graphql(flatten)]
    pub state: StateFilter,
}

impl AssignedConversationFilter {
    /// The whole-list filter for the conversations assigned to `member`.
    pub fn assigned_to(self, member: i64) -> ConversationFilter {
        ConversationFilter {
            inbox_ids: self.inbox_ids,
            state: self.state,
            assignee: AssigneeFilter {
                assignee_id: Some(GlobalId::Member(member).to_id()),
                assignment: None,
            },
        }
    }
}

/// The status and read-state fields every conversation filter has (flattened into each).
#[derive(InputObject, Default)]
pub struct StateFilter {
    /// Only `OPEN` or only `CLOSED` conversations; both when absent.
    pub status: Option<ConversationStatus>,
    /// `true`: only those the acting member has not read; `false`: only read ones; absent: both.
    pub unread: Option<bool>,
}

/// The assignee fields of a conversation filter (flattened into it).
#[derive(InputObject, Default)]
pub struct AssigneeFilter {
    /// Only conversations assigned to this member (a global id); see `assignment` for the
    /// acting member, anyone or nobody. Not together with `assignment`.
    pub assignee_id: Option<ID>,
    /// Only conversations assigned to the acting member, to any member, or to nobody. Not
    /// together with `assigneeId`.
    pub assignment: Option<Assignment>,
}

/// Whom a listed conversation is assigned to.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Assignment {
    /// The acting member ("mine").
    Viewer,
    /// Any member.
    Anyone,
    /// No member ("unassigned").
    Nobody,
}

/// The assignee a list keeps, resolved from a filter's `assigneeId` or `assignment`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Assignee {
    Member(i64),
    Anyone,
    Nobody,
}

impl Assignee {
    /// What `filter` asks for; the acting member is resolved later, with the scope.
    fn of(filter: &AssigneeFilter) -> Result<Option<AssigneeChoice>, ApiError> {
        match (&filter.assignee_id, filter.assignment) {
            (Some(_), Some(_)) => Err(ApiError::bad_input(
                "a filter takes `assigneeId` or `assignment`, not both",
            )),
            (Some(id), None) => Ok(Some(AssigneeChoice::Named(GlobalId::parse_as(
                id,
                NodeKind::Member,
            )?))),
            (None, Some(Assignment::Viewer)) => Ok(Some(AssigneeChoice::Viewer)),
            (None, Some(Assignment::Anyone)) => Ok(Some(AssigneeChoice::Is(Self::Anyone))),
            (None, Some(Assignment::Nobody)) => Ok(Some(AssigneeChoice::Is(Self::Nobody))),
            (None, None) => Ok(None),
        }
    }

    /// The `assigned` hint for the upstream: only a member can be named there, as
    /// "unassigned" has no agreed value (heymarket-api.md §13.5).
    fn hint(self) -> Option<i64> {
        match self {
            Self::Member(id) => Some(id),
            Self::Anyone | Self::Nobody => None,
        }
    }

    fn keeps(self, conversation: &models::Conversation) -> bool {
        match (self, conversation.assignee_id()) {
            (Self::Member(id), assignee) => assignee == Some(id),
            (Self::Anyone, assignee) => assignee.is_some(),
            (Self::Nobody, assignee) => assignee.is_none(),
        }
    }
}

/// A filter's assignee before the acting member is known.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AssigneeChoice {
    /// A member named by the caller, who must be on the team.
    Named(i64),
    Viewer,
    Is(Assignee),
}

impl AssigneeChoice {
    fn resolve(self, acting_member: i64) -> Assignee {
        match self {
            Self::Named(id) => Assignee::Member(id),
            Self::Viewer => Assignee::Member(acting_member),
            Self::Is(assignee) => assignee,
        }
    }

    /// A member named by the caller must exist: an id of no member is a typo to report, not
    /// an empty list.
    async fn check(self, context: &RequestContext) -> Result<(), ApiError> {
        let Self::Named(id) = self else {
            return Ok(());
        };
        let team = context.loaders.team().await?;
        if team.members.iter().any(|member| member.id == id) {
            Ok(())
        } else {
            Err(ApiError::NotFound(format!("no member has the id {id}")))
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
    let cursors = CursorKey::of(ctx)?;
    let mut named: Vec<i64> = match inbox {
        Some(inbox) => vec![inbox],
        None => filter
            .inbox_ids
            .iter()
            .flatten()
            .map(|id| GlobalId::parse_as(id, NodeKind::Inbox))
            .collect::<Result<_, _>>()?,
    };
    named.sort_unstable();
    named.dedup();
    let assignee_choice = Assignee::of(&filter.assignee)?;
    let closed = match filter.state.status {
        None => None,
        Some(ConversationStatus::Open) => Some(false),
        Some(ConversationStatus::Closed) => Some(true),
        Some(other) => {
            return Err(ApiError::bad_input(format!(
                "the conversation list can filter by OPEN or CLOSED only, not {other:?}"
            )));
        }
    };
    let scope = match Scope::of(context, named).await? {
        Some(scope) => scope,
        None => {
            let empty = page.page(cursors, Slice::empty(), Conversation);
            return Ok(ConversationConnection::counted(
                empty,
                ConversationTotal::known(0),
            ));
        }
    };
    let assignee = assignee_choice.map(|choice| choice.resolve(scope.member_id));
    let request = ConversationListRequest {
        member_id: scope.member_id,
        inbox_ids: scope.inbox_ids.clone(),
        closed,
        unread: filter.state.unread,
        assigned: assignee.and_then(Assignee::hint),
        updated_before: None,
    };
    let total = match assignee {
        Some(Assignee::Anyone | Assignee::Nobody) => ConversationTotal::unavailable(
            "Heymarket's conversation count can filter by one member only, not by any member or by none",
        ),
        _ => ConversationTotal::counted(
            request.clone(),
            assignee.and_then(Assignee::hint),
            Narrowing::of(closed),
            Narrowing::of(filter.state.unread),
        ),
    };
    if !selects_rows(ctx) {
        // Only `totalCount` was asked for: the list is checked, not walked.
        let (in_scope, assignee_known) = futures::join!(
            scope.check(context),
            check_assignee(assignee_choice, context)
        );
        in_scope?;
        assignee_known?;
        let empty = page.page(cursors, Slice::empty(), Conversation);
        return Ok(ConversationConnection::counted(empty, total));
    }
    let wanted = &Wanted {
        member_id: scope.member_id,
        inbox_ids: scope.inbox_ids.clone(),
        status: filter.state.status,
        unread: filter.state.unread,
        assignee,
    };
    let metrics = context.upstream().metrics();
    let keep = |conversation: &models::Conversation| match wanted.failed_by(conversation) {
        None => true,
        Some(filter) => {
            if let Some(sent) = filter.sent() {
                metrics.count_ignored_filter_row(sent);
            }
            false
        }
    };
    // A page members can share is asked for once the member is known to see its inboxes, so
    // that it is never a refusal meant for this member alone (see `Audience`).
    let share = scope.named && context.loaders.list_pages_shareable();
    if share {
        scope.check(context).await?;
    }
    let audience = match share || !scope.named {
        true => Audience::InboxMembers,
        false => Audience::Member,
    };
    let prefetch = Prefetch::for_selection(ctx);
    if prefetch.last_messages && page.after.is_none() {
        context
            .loaders
            .prefetch_recent_messages(&request, audience)
            .await;
    }
    let listing = Listing::CONVERSATIONS.having_seen_pages_of(context.loaders.longest_list_page());
    let max_pages = MaxListPages::of(ctx)?;
    let slice_request = SliceRequest {
        first: page.first,
        after: page.after,
        max_pages,
        listing,
    };
    // Boxed: the walk is a large future, and inline it would size the future of every field
    // of the types that list conversations (an inbox's `name` as much as its `conversations`).
    let walk = match ListWalk::of(&request, audience, max_pages) {
        ListWalk::EachInbox => Box::pin(pagination::collect_merged(
            request.inbox_ids.len(),
            slice_request,
            Conversation::sort_key,
            keep,
            |list, bound: PageBound| {
                let request = ConversationListRequest {
                    inbox_ids: vec![request.inbox_ids[list]],
                    ..request.clone()
                };
                async move { Ok(page_at(context, request, audience, bound).await?.to_vec()) }
            },
        )) as BoxFuture<'_, _>,
        ListWalk::Whole => {
            let mut first_page = true;
            Box::pin(pagination::collect(
                slice_request,
                Conversation::sort_key,
                keep,
                move |bound: PageBound| {
                    let request = request.clone();
                    let prefetch_rows = std::mem::replace(&mut first_page, false);
                    async move {
                        let rows = page_at(context, request, audience, bound).await?;
                        if prefetch_rows {
                            prefetch.start(&context.loaders, &rows, &page, wanted);
                        }
                        Ok::<_, ApiError>(rows.to_vec())
                    }
                },
            ))
        }
    };
    let (in_scope, assignee_known, walked) = futures::join!(
        async {
            match share {
                true => Ok(()),
                false => scope.check(context).await,
            }
        },
        check_assignee(assignee_choice, context),
        walk
    );
    in_scope?;
    assignee_known?;
    let Slice {
        rows,
        has_next_page,
        resume,
        scanned_to,
        incomplete,
    } = walked.map_err(walk_error)?;
    report_incomplete(ctx, "conversations", "`updated` time", &incomplete);

    let rows: Vec<(_, Arc<_>)> = rows
        .into_iter()
        .map(|(key, row)| (key, Arc::new(row)))
        .collect();
    let listed: Vec<Arc<_>> = rows
        .iter()
        .map(|(_, conversation)| Arc::clone(conversation))
        .collect();
    context.loaders.prime_conversations(listed).await;
    let slice = Slice {
        rows,
        has_next_page,
        resume,
        scanned_to,
        incomplete,
    };
    Ok(ConversationConnection::counted(
        page.page(cursors, slice, Conversation),
        total,
    ))
}

/// The upstream page of `request`'s list a walk asks for with `bound`.
async fn page_at(
    context: &RequestContext,
    request: ConversationListRequest,
    audience: Audience,
    bound: PageBound,
) -> Result<Arc<Vec<models::Conversation>>, ApiError> {
    let request = ConversationListRequest {
        updated_before: bound.before,
        ..request
    };
    context
        .loaders
        .list_page(request, audience, bound.after)
        .await
}

/// How a list's upstream pages are read.
enum ListWalk {
    /// As one list of all its inboxes.
    Whole,
    /// As the merge of each inbox's own list (see [`pagination::collect_merged`]). A list of
    /// several inboxes whose pages are not one member's own is read this way: its inboxes'
    /// pages serve every list that holds one of them, with whichever other inboxes (and,
    /// where members share pages, whoever lists it), and a change in one inbox leaves the
    /// others' pages cached. The rows'
    /// look-ups start once the walk is done, as on a page that continues another.
    EachInbox,
}

impl ListWalk {
    fn of(request: &ConversationListRequest, audience: Audience, max_pages: usize) -> Self {
        let inboxes = request.inbox_ids.len();
        let each_inbox = matches!(audience, Audience::InboxMembers)
            && request.unread.is_none()
            && inboxes > 1
            && inboxes * pagination::MIN_PAGES <= max_pages;
        match each_inbox {
            true => Self::EachInbox,
            false => Self::Whole,
        }
    }
}

/// A member the filter names must exist (see [`AssigneeChoice::check`]).
async fn check_assignee(
    choice: Option<AssigneeChoice>,
    context: &RequestContext,
) -> Result<(), ApiError> {
    match choice {
        Some(choice) => choice.check(context).await,
        None => Ok(()),
    }
}

/// Whether the operation selected any of the list's rows or its page info (anything but
/// `totalCount`).
fn selects_rows(ctx: &Context<'_>) -> bool {
    let look_ahead = ctx.look_ahead();
    ["edges", "nodes", "pageInfo"]
        .iter()
        .any(|field| look_ahead.field(field).exists())
}

/// Whose conversations of which inboxes a list shows.
struct Scope {
    member_id: i64,
    /// Never empty: the upstream reads an empty `filters.inboxes` as every inbox of the
    /// member, as none, or as a bad request, depending on the reading of its docs (§13.1).
    inbox_ids: Vec<i64>,
    /// Whether the inboxes were named by the caller, and so still need checking.
    named: bool,
}

impl Scope {
    /// The scope of a list of the `named` inboxes, or without any, of the acting member's own
    /// (`None` when they have none: the list is empty, and nothing needs asking).
    async fn of(context: &RequestContext, named: Vec<i64>) -> Result<Option<Self>, ApiError> {
        if named.is_empty() {
            let visibility = Visibility::of(context).await?;
            let mut own: Vec<i64> = visibility.inboxes().iter().copied().collect();
            own.sort_unstable();
            return Ok((!own.is_empty()).then(|| Self {
                member_id: visibility.member_id(),
                inbox_ids: own,
                named: false,
            }));
        }
        // A member named by the caller is listed at once and checked alongside; the default
        // member has to be looked up first.
        let member_id = match context.requested_member() {
            Some(id) => id,
            None => context.acting_member().await?.id,
        };
        Ok(Some(Self {
            member_id,
            inbox_ids: named,
            named: true,
        }))
    }

    /// The acting member must exist and belong to every named inbox.
    async fn check(&self, context: &RequestContext) -> Result<(), ApiError> {
        if !self.named {
            return Ok(());
        }
        let visibility = Visibility::of(context).await?;
        self.inbox_ids
            .iter()
            .try_for_each(|&id| visibility.inbox(id))
    }
}

/// What a list asked the upstream to filter by, checked again on every row it answers: under
/// some readings of the docs the upstream ignores `closed: false` or `unread: false` (§13.1),
/// and a row it should have left out must not reach the list.
struct Wanted {
    member_id: i64,
    inbox_ids: Vec<i64>,
    /// `OPEN` or `CLOSED`, when filtered.
    status: Option<ConversationStatus>,
    unread: Option<bool>,
    assignee: Option<Assignee>,
}

impl Wanted {
    /// The filter `conversation` fails; `None` when it belongs.
    fn failed_by(&self, conversation: &models::Conversation) -> Option<Failed> {
        if !conversation
            .inbox
            .is_some_and(|inbox| self.inbox_ids.contains(&inbox))
        {
            return Some(Failed::Sent("inboxes"));
        }
        if self.status.is_some_and(|status| {
            ConversationStatus::from_upstream(conversation.status.as_deref()) != status
        }) {
            return Some(Failed::Sent("closed"));
        }
        if self
            .unread
            .is_some_and(|unread| conversation.is_unread_for(self.member_id) != Some(unread))
        {
            return Some(Failed::Sent("unread"));
        }
        match self.assignee {
            Some(assignee) if !assignee.keeps(conversation) => Some(match assignee.hint() {
                Some(_) => Failed::Sent("assigned"),
                None => Failed::CheckedHere,
            }),
            _ => None,
        }
    }
}

/// A filter a row fails.
enum Failed {
    /// One the upstream was asked to apply (by its upstream name): it answered a row the
    /// filter should have left out.
    Sent(&'static str),
    /// One only the gateway applies (no assignee, any assignee), so the row was expected.
    CheckedHere,
}

impl Failed {
    /// The upstream filter the row slipped through, if it was sent one.
    fn sent(&self) -> Option<&'static str> {
        match self {
            Self::Sent(filter) => Some(filter),
            Self::CheckedHere => None,
        }
    }
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
        rows: &[models::Conversation],
        page: &PageRequest,
        wanted: &Wanted,
    ) {
        if !self.contacts && !self.last_messages {
            return;
        }
        let mut shown: Vec<&models::Conversation> = rows
            .iter()
            .filter(|row| wanted.failed_by(row).is_none())
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
        let addresses = if self.contacts {
            shown
                .iter()
                .filter_map(|row| row.target.as_deref().and_then(contact_address))
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
        loaders.prefetch(addresses, last_messages);
    }
}
