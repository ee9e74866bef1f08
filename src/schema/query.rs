//! The `Query` root.

use async_graphql::{Context, ID, Object, PathSegment};

use super::access;
use super::connection::{
    ContactConnection, ConversationConnection, PageRequest, TagConnection, TemplateConnection,
};
use super::context::RequestContext;
use super::cursor::CursorKind;
use super::date_lists::{self, ContactFilter};
use super::limits::MAX_NODE_IDS;
use super::listing::{self, ConversationFilter};
use super::node::{self, GlobalId, Node, NodeKind};
use super::types::{Contact, Conversation, CustomField, Inbox, Member, Team};
use crate::error::ApiError;
use crate::phone;

/// The root of every read.
pub struct Query;

/// Entry points for reading.
#[Object]
impl Query {
    /// The member this request acts as: from the `X-Member-Id` header when given, otherwise
    /// the team's first admin.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Member, ApiError> {
        Ok(Member(RequestContext::of(ctx)?.acting_member().await?))
    }

    /// The team the credential belongs to.
    async fn team(&self, ctx: &Context<'_>) -> Result<Team, ApiError> {
        Ok(Team(RequestContext::of(ctx)?.loaders.team().await?))
    }

    /// Every inbox the credential can access.
    async fn inboxes(&self, ctx: &Context<'_>) -> Result<Vec<Inbox>, ApiError> {
        let inboxes = RequestContext::of(ctx)?.loaders.inboxes().await?;
        Ok(inboxes.iter().cloned().map(Inbox).collect())
    }

    /// One inbox by its global id; null with a `NOT_FOUND` error when there is none.
    async fn inbox(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The inbox's global `id`.")] id: ID,
    ) -> Result<Option<Inbox>, ApiError> {
        let id = GlobalId::parse_as(&id, NodeKind::Inbox)?;
        found(RequestContext::of(ctx)?.loaders.inbox(id).await?.map(Inbox))
    }

    /// Every member of the team.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Member>, ApiError> {
        let team = RequestContext::of(ctx)?.loaders.team().await?;
        Ok(team.members.iter().cloned().map(Member).collect())
    }

    /// Conversations of the acting member's inboxes, newest activity first.
    #[graphql(complexity = "PageRequest::cost(first, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many conversations to return (0 to 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Continue after this cursor (an `endCursor` or edge `cursor`).")]
        after: Option<String>,
        #[graphql(desc = "Which conversations to list.")] filter: Option<ConversationFilter>,
    ) -> Result<ConversationConnection, ApiError> {
        let page = PageRequest::of(ctx, CursorKind::Conversation, first, after)?;
        listing::conversations(ctx, page, filter.unwrap_or_default(), None).await
    }

    /// The templates the acting member may use (the team's shared ones and their own), most
    /// recently changed first. Cached like the directory (`--cache-ttl-directory`): Heymarket
    /// sends no event when a template changes.
    #[graphql(complexity = "PageRequest::cost(first, child_complexity)")]
    async fn templates(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many templates to return (0 to 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Continue after this cursor (an `endCursor` or edge `cursor`).")]
        after: Option<String>,
        #[graphql(desc = "Also list archived templates.", default = false)] include_archived: bool,
    ) -> Result<TemplateConnection, ApiError> {
        let page = PageRequest::of(ctx, CursorKind::Template, first, after)?;
        date_lists::templates(ctx, page, include_archived).await
    }

    /// One conversation by its global id; null with a `NOT_FOUND` error when there is none, or
    /// a `FORBIDDEN` one when it is in an inbox the acting member is not a member of.
    async fn conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's global `id`.")] id: ID,
    ) -> Result<Option<Conversation>, ApiError> {
        let id = GlobalId::parse_as(&id, NodeKind::Conversation)?;
        found(
            access::conversation(RequestContext::of(ctx)?, id)
                .await?
                .map(Conversation),
        )
    }

    /// The team's contacts, most recently changed first (contacts are the team's: every
    /// member sees them all), or those a `filter` keeps. Cached for `--cache-ttl-contacts`; a
    /// change through this gateway, or an opt-out webhook, refreshes the list. To find one
    /// contact by phone or email, `contactByPhone` and `contactByEmail` ask Heymarket directly.
    #[graphql(complexity = "PageRequest::cost(first, child_complexity)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many contacts to return (0 to 100; default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (an `endCursor` or edge `cursor`).")]
        after: Option<String>,
        #[graphql(desc = "Which contacts to show; all when absent.")] filter: Option<ContactFilter>,
    ) -> Result<ContactConnection, ApiError> {
        let page = PageRequest::of(ctx, CursorKind::Contact, first, after)?;
        date_lists::contacts(ctx, page, filter.unwrap_or_default()).await
    }

    /// The team's contact tags, most recently changed first (tags are the team's: every member
    /// sees them all). Cached like the directory (`--cache-ttl-directory`): Heymarket sends no
    /// event when a tag changes.
    #[graphql(complexity = "PageRequest::cost(first, child_complexity)")]
    async fn tags(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many tags to return (0 to 100; default 20).")] first: Option<i32>,
        #[graphql(desc = "Continue after this cursor (an `endCursor` or edge `cursor`).")]
        after: Option<String>,
    ) -> Result<TagConnection, ApiError> {
        let page = PageRequest::of(ctx, CursorKind::Tag, first, after)?;
        date_lists::tags(ctx, page).await
    }

    /// The team's custom contact fields, in the order Heymarket lists them. Cached like the
    /// directory (`--cache-ttl-directory`).
    async fn custom_fields(&self, ctx: &Context<'_>) -> Result<Vec<CustomField>, ApiError> {
        let context = RequestContext::of(ctx)?;
        context.acting_member().await?;
        let fields = context.loaders.custom_fields().await?;
        Ok(fields.iter().map(CustomField::from).collect())
    }

    /// One contact by its global id; null with a `NOT_FOUND` error when there is none. Cached
    /// for `--cache-ttl-contacts`; a change through this gateway, or a contact webhook,
    /// refreshes it.
    async fn contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact's global `id`.")] id: ID,
    ) -> Result<Option<Contact>, ApiError> {
        let id = GlobalId::parse_as(&id, NodeKind::Contact)?;
        found(
            RequestContext::of(ctx)?
                .loaders
                .contact(id)
                .await?
                .map(Contact),
        )
    }

    /// The contact with this phone number; null when there is none.
    async fn contact_by_phone(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "A phone number in any common format, e.g. `+1 (415) 555-0100` or `14155550100`."
        )]
        phone: String,
    ) -> Result<Option<Contact>, ApiError> {
        let phone = phone::normalize(&phone).ok_or_else(|| {
            ApiError::bad_input(
                "`phone` must have 10 (US) or 11 to 15 digits, e.g. +1 415 555 0100",
            )
        })?;
        let contact = RequestContext::of(ctx)?
            .loaders
            .contact_by_phone(&phone)
            .await?;
        Ok(contact.map(Contact))
    }

    /// The contact with this email address (compared without regard to case); null when there
    /// is none. Cached like contacts by phone (`--cache-ttl-contacts`), and forgotten when a
    /// write through this gateway changes the contact. To search by name, filter `contacts`
    /// by `nameContains`.
    async fn contact_by_email(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An email address, e.g. `name@example.com`.")] email: String,
    ) -> Result<Option<Contact>, ApiError> {
        let email = email.trim().to_lowercase();
        if !crate::email_address::is_plain(&email) {
            return Err(ApiError::bad_input(
                "`email` must be a plain address like name@example.com",
            ));
        }
        let context = RequestContext::of(ctx)?;
        context.acting_member().await?;
        let contact = context.loaders.contact_by_email(&email).await?;
        Ok(contact.map(Contact))
    }

    /// Any object by its global id; null with a `NOT_FOUND` error when there is none, or a
    /// `FORBIDDEN` one for a conversation (or a message of one) the acting member may not see.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global `id` of any type.")] id: ID,
    ) -> Result<Option<Node>, ApiError> {
        let id: GlobalId = id.parse()?;
        node::fetch(ctx, id)
            .await?
            .map(Some)
            .ok_or_else(|| not_found(id))
    }

    /// Objects by their global ids, in the same order; an id that is malformed, names nothing or
    /// names what the acting member may not see gives null at its position, with an error
    /// (`BAD_USER_INPUT`, `NOT_FOUND`, `FORBIDDEN`) whose path ends in that position.
    #[graphql(complexity = "ids.len().saturating_mul(child_complexity).saturating_add(1)")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global `id`s of any types (at most 100).")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>, ApiError> {
        if ids.len() > MAX_NODE_IDS {
            return Err(ApiError::bad_input(format!(
                "`nodes` takes at most {MAX_NODE_IDS} ids; got {}",
                ids.len()
            )));
        }
        let lookups = ids.iter().map(|id| async move {
            let id: GlobalId = id.parse()?;
            node::fetch(ctx, id).await?.ok_or_else(|| not_found(id))
        });
        let results = futures::future::join_all(lookups).await;
        Ok(results
            .into_iter()
            .enumerate()
            .map(|(index, result)| {
                result
                    .map_err(|error| {
                        let error =
                            async_graphql::Error::from(error).into_server_error(ctx.item.pos);
                        let mut error = ctx.set_error_path(error);
                        error.path.push(PathSegment::Index(index));
                        ctx.add_error(error);
                    })
                    .ok()
            })
            .collect())
    }
}

/// A by-id lookup's answer: the object, or null with a `NOT_FOUND` error.
fn found<T>(object: Option<T>) -> Result<Option<T>, ApiError> {
    object
        .map(Some)
        .ok_or_else(|| ApiError::NotFound("no object with this id".to_owned()))
}

fn not_found(id: GlobalId) -> ApiError {
    ApiError::NotFound(format!("no {} with this id", id.kind().type_name()))
}
