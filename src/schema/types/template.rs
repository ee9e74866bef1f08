//! `Template`: a saved message the team sends again and again.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};

use super::Member;
use super::message::Attachment;
use crate::error::ApiError;
use crate::schema::context::RequestContext;
use crate::schema::node::GlobalId;
use crate::schema::scalars::{DateTime, Int64};
use crate::upstream::models;

/// The GraphQL view of an upstream template.
#[derive(Clone)]
pub struct Template(pub Arc<models::Template>);

/// A saved message. Its text may hold merge fields (`{{first_name}}`, `{{last_name}}`,
/// `{{<custom field>}}`) that Heymarket fills in for each recipient when it is sent.
#[Object]
impl Template {
    /// Globally unique, opaque id (for `node(id:)` and client caches).
    pub async fn id(&self) -> ID {
        GlobalId::Template(self.0.id).to_id()
    }

    /// The template's id in the Heymarket API.
    async fn database_id(&self) -> Int64 {
        Int64(self.0.id)
    }

    /// Its name in the template picker.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The text, merge fields unfilled.
    async fn text(&self) -> Option<&str> {
        self.0
            .content
            .as_ref()
            .and_then(|content| content.text.as_deref())
    }

    /// Pictures sent with it, in order.
    async fn attachments(&self) -> Vec<Attachment> {
        let gallery = self.0.content.iter().flat_map(|content| &content.gallery);
        gallery
            .filter_map(models::GalleryEntry::file)
            .map(|url| Attachment {
                url: url.to_owned(),
            })
            .collect()
    }

    /// Whether the whole team may use it; otherwise only its creator sees it.
    async fn shared(&self) -> bool {
        self.0.shared != Some(false)
    }

    /// Whether it was archived (kept, but no longer offered).
    async fn archived(&self) -> bool {
        self.0.archived == Some(true)
    }

    /// The member who made it.
    async fn creator(&self, ctx: &Context<'_>) -> Result<Option<Member>, ApiError> {
        let Some(creator) = self.0.creator_id.filter(|id| *id > 0) else {
            return Ok(None);
        };
        let member = RequestContext::of(ctx)?.loaders.member(creator).await?;
        Ok(member.map(Member))
    }

    /// When it was made.
    async fn created_at(&self) -> Option<DateTime> {
        self.0.created.map(DateTime)
    }

    /// When it last changed; lists are ordered by it, newest first.
    async fn updated_at(&self) -> Option<DateTime> {
        self.0.updated.map(DateTime)
    }
}
