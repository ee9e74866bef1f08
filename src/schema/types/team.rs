//! `Team`: the account a credential belongs to.

use std::sync::Arc;

use async_graphql::Object;

use super::Member;
use crate::schema::scalars::Int64;
use crate::upstream::models;

/// The GraphQL view of the upstream team.
pub struct Team(pub Arc<models::Team>);

/// The team (Heymarket account) the credential belongs to.
#[Object]
impl Team {
    /// The team's id in the Heymarket API.
    async fn database_id(&self) -> Option<Int64> {
        self.0.id.map(Int64)
    }

    /// The team's name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// Everyone on the team.
    async fn members(&self) -> Vec<Member> {
        self.0.members.iter().cloned().map(Member).collect()
    }
}
