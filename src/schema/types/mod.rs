//! GraphQL object types, one per file. Each wraps an upstream model, so REST names and
//! nullability never leak into the schema.

mod contact;
mod conversation;
mod inbox;
mod member;
mod message;
mod scheduled;
mod tag;
mod team;
mod template;

pub use contact::Contact;
pub use conversation::{Conversation, ConversationStatus};
pub use inbox::Inbox;
pub use member::Member;
pub use message::Message;
pub use scheduled::ScheduledMessage;
pub use tag::{CustomField, CustomFieldValue, Tag};
pub use team::Team;
pub use template::Template;
