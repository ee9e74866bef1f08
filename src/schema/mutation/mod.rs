//! The `Mutation` root: Relay-style changes to conversations, their messages, and contacts.
//!
//! Every mutation takes one `input` (with an optional `clientMutationId`, echoed) and answers a
//! payload with the changed object, read again from the upstream after the write, and
//! `userErrors`. Expected business failures (an assignee outside the inbox, a transfer the API
//! forbids, an empty message…) are user errors with a null object and nothing changed; malformed
//! ids, unknown objects and upstream trouble are GraphQL errors with the usual codes. Payloads
//! are nullable, so one failed mutation does not blank the others of the same operation.
//!
//! Every upstream call carries the acting member as `user_id`/`creator_id`, and the acting
//! member must be a member of the inbox it acts in: otherwise the mutation answers the user
//! error `NOT_AN_INBOX_MEMBER`, consistently across mutations.
//!
//! - `conversation`: open, close, mark read, mark unread.
//! - `assignment`: assign within the inbox, transfer to another inbox.
//! - `message`: send a message (reply, or start by inbox and phone), add a private note.
//! - `schedule`: schedule a message for later, reschedule it, cancel it.
//! - `contact`: a customer's opt-out or opt-in.
//! - `address_book`: create and change contacts, with their tags and custom fields.
//! - `email`: send an email (reply in a thread, or start one).
//! - `outgoing`: a text or an email ready to go, and what sending it safely needs to know.
//! - `delivery`: the send itself, and reading the sent message back.
//! - `subject`: loading the conversation a mutation acts on; the rules all mutations share.
//! - `payload`: input and payload shapes several mutations share.
//! - `user_error`: `UserError`, its codes, and how refused writes become them.

mod address_book;
mod assignment;
mod contact;
mod conversation;
mod delivery;
mod email;
mod message;
mod outgoing;
mod payload;
mod schedule;
mod subject;
mod user_error;

use async_graphql::MergedObject;

use address_book::AddressBookMutations;
use assignment::AssignmentMutations;
use contact::ContactMutations;
use conversation::ConversationMutations;
use email::EmailMutations;
use message::MessageMutations;
use schedule::ScheduleMutations;

/// The root of every change. Mutations run one after another, in the order written.
#[derive(MergedObject, Default)]
pub struct Mutation(
    ConversationMutations,
    AssignmentMutations,
    MessageMutations,
    EmailMutations,
    ScheduleMutations,
    ContactMutations,
    AddressBookMutations,
);
