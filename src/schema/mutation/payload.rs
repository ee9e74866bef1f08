//! Input and payload shapes several mutations share. Each mutation still gets its own named
//! types, as Relay's convention has it, so one can grow a field without changing the others.
//!
//! A payload's `conversation` is checked like any other way to a conversation (see
//! `schema::access`): a write can take a conversation out of the acting member's inboxes (a
//! transfer to an inbox they are not in), and then the payload says so with a `FORBIDDEN` error
//! on that field instead of showing it.

use async_graphql::Context;

use crate::error::ApiError;
use crate::schema::access::Visibility;
use crate::schema::context::RequestContext;
use crate::schema::types::Conversation;

/// A payload's conversation as the acting member may see it: `FORBIDDEN` when it is now in an
/// inbox they are not in.
pub(super) async fn visible(
    ctx: &Context<'_>,
    conversation: Option<&Conversation>,
) -> Result<Option<Conversation>, ApiError> {
    let Some(conversation) = conversation else {
        return Ok(None);
    };
    Visibility::of(RequestContext::of(ctx)?)
        .await?
        .conversation(&conversation.0)?;
    Ok(Some(conversation.clone()))
}

/// Declares the input of a mutation that needs nothing but the conversation.
macro_rules! conversation_input {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(async_graphql::InputObject)]
        pub(crate) struct $name {
            /// The conversation's global `id`.
            pub conversation_id: async_graphql::ID,
            /// Any string; echoed in the payload, so a client can match answers to requests.
            pub client_mutation_id: Option<String>,
        }
    };
}

/// Declares the payload of a mutation that changes a conversation.
macro_rules! conversation_payload {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(async_graphql::SimpleObject)]
        #[graphql(complex)]
        pub(crate) struct $name {
            #[graphql(skip)]
            pub conversation: Option<$crate::schema::types::Conversation>,
            /// Why nothing changed; empty on success.
            pub user_errors: Vec<$crate::schema::mutation::user_error::UserError>,
            /// The input's `clientMutationId`, echoed.
            pub client_mutation_id: Option<String>,
        }

        #[async_graphql::ComplexObject]
        impl $name {
            /// The conversation as it is after the change; null when `userErrors` says why
            /// nothing changed. A `FORBIDDEN` error when the change moved it to an inbox the
            /// acting member is not a member of.
            async fn conversation(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> Result<Option<$crate::schema::types::Conversation>, $crate::error::ApiError> {
                super::payload::visible(ctx, self.conversation.as_ref()).await
            }
        }

        impl $name {
            /// The payload of a finished mutation, or its GraphQL error. Never `None`: the
            /// option only makes the field nullable (see the module docs of `mutation`).
            pub(super) fn settle(
                client_mutation_id: Option<String>,
                result: Result<
                    $crate::schema::types::Conversation,
                    $crate::schema::mutation::user_error::Failure,
                >,
            ) -> Result<Option<Self>, $crate::error::ApiError> {
                let (conversation, user_errors) =
                    $crate::schema::mutation::user_error::settle(result)?;
                Ok(Some(Self {
                    conversation,
                    user_errors,
                    client_mutation_id,
                }))
            }
        }
    };
}

/// Declares the payload of a mutation that writes a message.
macro_rules! message_payload {
    ($name:ident, $message_doc:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(async_graphql::SimpleObject)]
        #[graphql(complex)]
        pub(crate) struct $name {
            #[doc = $message_doc]
            pub message: Option<$crate::schema::types::Message>,
            #[graphql(skip)]
            pub conversation: Option<$crate::schema::types::Conversation>,
            /// Why nothing was sent; empty on success.
            pub user_errors: Vec<$crate::schema::mutation::user_error::UserError>,
            /// The input's `clientMutationId`, echoed.
            pub client_mutation_id: Option<String>,
        }

        #[async_graphql::ComplexObject]
        impl $name {
            /// The conversation as it is after the message; null when `userErrors` says why
            /// nothing was sent.
            async fn conversation(
                &self,
                ctx: &async_graphql::Context<'_>,
            ) -> Result<Option<$crate::schema::types::Conversation>, $crate::error::ApiError> {
                super::payload::visible(ctx, self.conversation.as_ref()).await
            }
        }

        impl $name {
            /// The payload of a finished send, or its GraphQL error (never `None`, as above).
            pub(super) fn settle(
                client_mutation_id: Option<String>,
                result: Result<
                    $crate::schema::mutation::delivery::Delivered,
                    $crate::schema::mutation::user_error::Failure,
                >,
            ) -> Result<Option<Self>, $crate::error::ApiError> {
                let (delivered, user_errors) =
                    $crate::schema::mutation::user_error::settle(result)?;
                let (message, conversation) = delivered
                    .map(|delivered| (delivered.message, delivered.conversation))
                    .unzip();
                Ok(Some(Self {
                    message,
                    conversation,
                    user_errors,
                    client_mutation_id,
                }))
            }
        }
    };
}

/// Declares the payload of a mutation that changes a contact: the shape of
/// `conversation_payload!`, but a contact needs no access check, so it is a plain field (and
/// comes first in the schema, where a resolved field would come last).
macro_rules! contact_payload {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(async_graphql::SimpleObject)]
        pub(crate) struct $name {
            /// The contact as it is after the change; null when `userErrors` says why nothing
            /// changed.
            pub contact: Option<$crate::schema::types::Contact>,
            /// Why nothing changed; empty on success.
            pub user_errors: Vec<$crate::schema::mutation::user_error::UserError>,
            /// The input's `clientMutationId`, echoed.
            pub client_mutation_id: Option<String>,
        }

        impl $name {
            /// The payload of a finished change, or its GraphQL error (never `None`).
            pub(super) fn settle(
                client_mutation_id: Option<String>,
                result: Result<
                    $crate::schema::types::Contact,
                    $crate::schema::mutation::user_error::Failure,
                >,
            ) -> Result<Option<Self>, $crate::error::ApiError> {
                let (contact, user_errors) = $crate::schema::mutation::user_error::settle(result)?;
                Ok(Some(Self {
                    contact,
                    user_errors,
                    client_mutation_id,
                }))
            }
        }
    };
}

pub(super) use {contact_payload, conversation_input, conversation_payload, message_payload};
