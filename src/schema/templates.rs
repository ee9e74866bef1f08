//! The template list behind `Query.templates`: the date-cursor list walked with the tie-safe
//! pager, each row checked against who may see it.

use std::sync::Arc;

use async_graphql::Context;

use super::connection::{
    MaxListPages, PageRequest, TemplateConnection, report_incomplete, walk_error,
};
use super::context::RequestContext;
use super::cursor::CursorKey;
use super::types::Template;
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
    let cursors = CursorKey::of(ctx)?;
    let member = context.acting_member().await?.id;
    let keep = |template: &models::Template| {
        template.is_visible_to(member) && (include_archived || template.archived != Some(true))
    };
    let slice = Box::pin(pagination::collect(
        page.first,
        page.after,
        MaxListPages::of(ctx)?,
        Listing::TEMPLATES,
        |template: &models::Template| {
            template.updated.map(|at| SortKey {
                at,
                id: template.id,
            })
        },
        keep,
        |before| async move {
            let rows = context.loaders.template_page(before).await?;
            Ok::<_, ApiError>(rows.to_vec())
        },
    ))
    .await
    .map_err(walk_error)?;
    report_incomplete(ctx, "templates", "`updated` time", &slice.incomplete);
    Ok(page
        .page(cursors, slice, |template| Template(Arc::new(template)))
        .into())
}
