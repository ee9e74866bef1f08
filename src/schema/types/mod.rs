//! GraphQL object types, one per file. Each wraps an upstream model, so REST names and
//! nullability never leak into the schema.

mod inbox;
mod member;

pub use inbox::Inbox;
pub use member::Member;
