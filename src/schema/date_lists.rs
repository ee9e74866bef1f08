//! The team's date-cursor lists behind `Query.templates`, `Query.contacts` and `Query.tags`: each walked with
//! the tie-safe pager over its upstream pages (30 rows, newest `updated` first), every row
//! checked against who may see it.

use std::future::Future;
use std::sync::Arc;

use async_graphql::{Context, InputObject};
use chrono::{DateTime, Utc};

use super::connection::{
    ContactConnection, MaxListPages, Page, PageRequest, TagConnection, TemplateConnection,
    report_incomplete, walk_error,
};
use super::context::RequestContext;
use super::cursor::CursorKey;
use super::types::{Contact, Template};
use crate::error::ApiError;
use crate::pagination::{self, Listing, PageBound, SliceRequest, SortKey};
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

/// Which contacts a contact list shows.
#[derive(InputObject, Default)]
pub struct ContactFilter {
    /// Only contacts whose name (display, first or last, or first and last together)
    /// contains this text, compared without regard to case. 1 to 100 characters. Heymarket
    /// cannot search contacts by name, so the gateway reads the contact list (newest change
    /// first) and keeps the matches: one request reads at most `--max-list-pages` upstream
    /// pages, and a page with fewer than `first` matches then has `hasNextPage` and an
    /// `endCursor` that continues the search where it stopped.
    pub name_contains: Option<String>,
}

/// Longest `nameContains`, in characters.
const MAX_NAME_SEARCH: usize = 100;

impl ContactFilter {
    /// The name search, lower-cased; `None` when there is none.
    fn name_search(&self) -> Result<Option<String>, ApiError> {
        let Some(text) = &self.name_contains else {
            return Ok(None);
        };
        let text = text.trim();
        let length = text.chars().count();
        if length == 0 || length > MAX_NAME_SEARCH {
            return Err(ApiError::bad_input(format!(
                "`nameContains` must hold 1 to {MAX_NAME_SEARCH} characters besides spaces; got {length}"
            )));
        }
        Ok(Some(text.to_lowercase()))
    }
}

/// One page of the team's contacts, most recently changed first, kept by `filter`. Contacts
/// are the team's (see `access`), so every row is shown.
pub async fn contacts(
    ctx: &Context<'_>,
    page: PageRequest,
    filter: ContactFilter,
) -> Result<ContactConnection, ApiError> {
    let name = filter.name_search()?;
    let context = RequestContext::of(ctx)?;
    context.acting_member().await?;
    let fetch = |before| async move { context.loaders.contact_page(before).await };
    let keep = |contact: &models::Contact| {
        name.as_deref()
            .is_none_or(|name| contact.name_contains(name))
    };
    let listed = walk(
        ctx,
        page,
        "contacts",
        |c: &models::Contact| (c.updated, c.id),
        keep,
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
        SliceRequest {
            first: page.first,
            after: page.after,
            max_pages: MaxListPages::of(ctx)?,
            listing: Listing::DATE_PAGES,
        },
        |row: &T| {
            let (at, id) = key(row);
            at.map(|at| SortKey { at, id })
        },
        keep,
        |bound: PageBound| {
            let rows = fetch(bound.before);
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
