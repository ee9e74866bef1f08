//! `Tag` and `CustomField`: the labels and the custom fields of the team's address book.

use std::sync::Arc;

use async_graphql::{ID, Object, SimpleObject};

use crate::schema::node::GlobalId;
use crate::schema::scalars::{DateTime, Int64};
use crate::upstream::models;

/// The GraphQL view of an upstream tag.
#[derive(Clone)]
pub struct Tag(pub Arc<models::Tag>);

/// A label on contacts (a contact carries at most five). Tags are the team's: any member may
/// read them.
#[Object]
impl Tag {
    /// Globally unique, opaque id (for `node(id:)` and client caches).
    pub async fn id(&self) -> ID {
        GlobalId::Tag(self.0.id).to_id()
    }

    /// The tag's id in the Heymarket API.
    async fn database_id(&self) -> Int64 {
        Int64(self.0.id)
    }

    /// Its text.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Its colour as hex, e.g. `#2f6fed`.
    async fn color(&self) -> Option<&str> {
        self.0.color.as_deref().filter(|color| !color.is_empty())
    }

    /// When it last changed.
    async fn updated_at(&self) -> Option<DateTime> {
        self.0.updated.map(DateTime)
    }
}

impl From<Arc<models::Tag>> for Tag {
    fn from(tag: Arc<models::Tag>) -> Self {
        Self(tag)
    }
}

/// A custom contact field of the team, e.g. "Account number".
#[derive(SimpleObject, Clone)]
pub struct CustomField {
    /// The field's id in the Heymarket API; `ContactFieldInput.fieldId` names it.
    pub database_id: Int64,
    /// Its name.
    pub name: Option<String>,
}

impl From<&models::CustomField> for CustomField {
    fn from(field: &models::CustomField) -> Self {
        Self {
            database_id: Int64(field.id),
            name: field.title.clone(),
        }
    }
}

/// A contact's value of one custom field.
#[derive(SimpleObject, Clone)]
pub struct CustomFieldValue {
    /// The field; its `name` is null when the team's fields no longer list it.
    pub field: CustomField,
    /// The value, as text.
    pub value: String,
}
