//! The team's date-cursor lists behind `Query.templates`, `Query.contacts` and `Query.tags`: each walked with
//! the tie-safe pager over its upstream pages (30 rows, newest `updated` first), every row
//! checked against who may see it.

use std::future::Future;
use std::sync::Arc;

use async_graphql::Context;
use chrono::{DateTime, Utc};

use super::connection::{
    ContactConnection, MaxListPages, Page, PageRequest, TagConnection, TemplateConnection,
    report_incomplete, walk_error,
};
use super::context::RequestContext;
use super::cursor::CursorKey;
use super::types::{Contact, Template};
use crate::error::ApiError;
use crate::pagination::{self, Listing, SortKey};
use crate::upstream::models;

/// One page of the templates the acting member may use (the team's shared ones and their
/// own), newest change first; archived ones only with `include_archived`.
pub async fn templates(
    ctx: &Context<'_>,
    page: PageRequest,
    include_archived: bool,
) -> Result<TemplateConnection, ApiError> {
    let context = RequestContext::of(ctx)?;
    let member = context.acting_member().await?.id;
    let keep = |template: &models::Template| {
        template.is_visible_to(member) && (include_archived || template.archived != Some(true))
    };
    let fetch = |before| async move { context.loaders.template_page(before).await };
    let listed = walk(
        ctx,
        page,
        "templates",
        |t: &models::Template| (t.updated, t.id),
        keep,
        fetch,
    );
    Ok(listed.await?.into())
}

/// One page of the team's contacts, most recently changed first. Contacts are the team's
/// (see `access`), so every row is shown.
pub async fn contacts(ctx: &Context<'_>, page: PageRequest) -> Result<ContactConnection, ApiError> {
    let context = RequestContext::of(ctx)?;
    context.acting_member().await?;
    let fetch = |before| async move { context.loaders.contact_page(before).await };
    let listed = walk(
        ctx,
        page,
        "contacts",
        |c: &models::Contact| (c.updated, c.id),
        |_| true,
        fetch,
    );
    Ok(listed.await?.into())
}

/// One page of the team's tags, most recently changed first. Tags are the team's, so every
/// row is shown.
pub async fn tags(ctx: &Context<'_>, page: PageRequest) -> Result<TagConnection, ApiError> {
    let context = RequestContext::of(ctx)?;
    context.acting_member().await?;
    let fetch = |before| async move { context.loaders.tag_page(before).await };
    let listed = walk(
        ctx,
        page,
        "tags",
        |t: &models::Tag| (t.updated, t.id),
        |_| true,
        fetch,
    );
    Ok(listed.await?.into())
}

/// Walks a date-cursor list of `T`, keeping the rows `keep` keeps, and shapes the page as
/// nodes `N` (each a newtype over `Arc<T>`).
async fn walk<'a, T, N, Fut>(
    ctx: &Context<'a>,
    page: PageRequest,
    items: &'static str,
    key: impl Fn(&T) -> (Option<DateTime<Utc>>, i64),
    keep: impl Fn(&T) -> bool,
    fetch: impl FnMut(Option<DateTime<Utc>>) -> Fut,
) -> Result<Page<N>, ApiError>
where
    T: Clone,
    N: From<Arc<T>>,
    Fut: Future<Output = Result<Arc<Vec<T>>, ApiError>>,
{
    let cursors = CursorKey::of(ctx)?;
    let mut fetch = fetch;
    let slice = Box::pin(pagination::collect(
        page.first,
        page.after,
        MaxListPages::of(ctx)?,
        Listing::DATE_PAGES,
        |row: &T| {
            let (at, id) = key(row);
            at.map(|at| SortKey { at, id })
        },
        keep,
        |before| {
            let rows = fetch(before);
            async move { Ok::<_, ApiError>(rows.await?.to_vec()) }
        },
    ))
    .await
    .map_err(walk_error)?;
    report_incomplete(ctx, items, "`updated` time", &slice.incomplete);
    Ok(page.page(cursors, slice, |row| N::from(Arc::new(row))))
}

impl From<Arc<models::Template>> for Template {
    fn from(template: Arc<models::Template>) -> Self {
        Self(template)
    }
}

impl From<Arc<models::Contact>> for Contact {
    fn from(contact: Arc<models::Contact>) -> Self {
        Self(contact)
    }
}
