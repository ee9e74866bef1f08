//! Business failures: what a mutation reports in its payload's `userErrors` (with a null object)
//! instead of failing as a GraphQL error, and how a failed upstream write becomes one.

use async_graphql::{Enum, SimpleObject};

use crate::error::ApiError;
use crate::upstream;

/// Why a mutation changed nothing, for programs to branch on.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum UserErrorCode {
    /// The acting member (`X-Member-Id`, else the team's first admin) is not a member of the
    /// inbox the mutation acts in.
    NotAnInboxMember,
    /// The new assignee is not a member of the conversation's inbox.
    AssigneeNotInInbox,
    /// Unassigning a conversation: the Heymarket API documents no way to do it, so the gateway
    /// does not guess one.
    UnassignNotSupported,
    /// Only SMS conversations can be transferred, and only into SMS inboxes.
    NotTransferable,
    /// The conversation is already in the destination inbox.
    SameInbox,
    /// The destination inbox already has a conversation with this customer.
    AlreadyInInbox,
    /// The message has neither text nor media.
    EmptyMessage,
    /// The phone number does not have 10 (US) or 11 to 15 digits.
    InvalidPhone,
    /// An email address is not a plain `name@example.com` address, or a new email has none.
    InvalidEmail,
    /// `mediaUrl` is not an absolute `http` or `https` URL.
    InvalidMediaUrl,
    /// The customer opted out of messages from the team.
    RecipientOptedOut,
    /// Another contact of the team has this phone number.
    ContactExists,
    /// A contact carries at most five tags.
    TooManyTags,
    /// The inbox sends on another channel: text messages go from inboxes with phone numbers
    /// (`sendMessage`), emails from email inboxes (`sendEmail`).
    UnsupportedChannel,
    /// The idempotency key was already used for a message in another conversation.
    IdempotencyKeyReused,
    /// A scheduled message's `sendAt` is not a quarter hour (:00, :15, :30 or :45, no
    /// seconds) at least 15 minutes ahead, as Heymarket requires.
    InvalidSendTime,
    /// The scheduled message's send time has passed: it went out (or is going out), and can
    /// no longer be changed or cancelled.
    AlreadySent,
    /// The Heymarket API refused the change for a reason of its own; `message` gives it.
    UpstreamRejected,
}

/// A business rule that stopped a mutation; nothing was changed.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserError {
    /// Path to the input field at fault, e.g. `["assigneeId"]`; null when the failure is not
    /// about one field (e.g. the acting member's access).
    pub field: Option<Vec<String>>,
    /// What went wrong, for people.
    pub message: String,
    /// What went wrong, for programs.
    pub code: UserErrorCode,
}

impl UserError {
    /// A failure caused by the input field `field` (its GraphQL name).
    pub(super) fn on(field: &str, code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: Some(vec![field.to_owned()]),
            message: message.into(),
            code,
        }
    }

    /// A failure not tied to one input field.
    pub(super) fn general(code: UserErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
            code,
        }
    }
}

/// Why a mutation stopped: a business rule, reported in the payload, or an error, reported as
/// a GraphQL error. Both convert with `?`.
#[derive(Debug)]
pub(super) enum Failure {
    User(UserError),
    Api(ApiError),
}

impl From<UserError> for Failure {
    fn from(error: UserError) -> Self {
        Self::User(error)
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

/// A mutation's result as its payload carries it: the changed object and no user errors, or
/// no object and the user error, with every other failure split off as the field's error.
pub(super) fn settle<T>(
    result: Result<T, Failure>,
) -> Result<(Option<T>, Vec<UserError>), ApiError> {
    match result {
        Ok(value) => Ok((Some(value), Vec::new())),
        Err(Failure::User(error)) => Ok((None, vec![error])),
        Err(Failure::Api(error)) => Err(error),
    }
}

/// The upstream's 400 answer to a write: a rule of its own, with its code and message when it
/// sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub code: Option<String>,
    pub message: Option<String>,
}

impl Refusal {
    /// Splits a failed write: a 400 is a refusal for the mutation to name; anything else
    /// (access, transport, the upstream's own failures) stays an error.
    pub(super) fn of(error: upstream::Error) -> Result<Self, ApiError> {
        match error {
            upstream::Error::BadRequest { code, message } => Ok(Self { code, message }),
            other => Err(other.into()),
        }
    }

    /// The refusal as `UPSTREAM_REJECTED`, in the upstream's words.
    pub(super) fn rejected(self) -> UserError {
        let message = self
            .message
            .or(self.code)
            .unwrap_or_else(|| "the Heymarket API refused the change".to_owned());
        UserError::general(UserErrorCode::UpstreamRejected, message)
    }
}

/// A failed write with no rule of its own to name: a 400 is `UPSTREAM_REJECTED`.
pub(super) fn rejected(error: upstream::Error) -> Failure {
    match Refusal::of(error) {
        Ok(refusal) => refusal.rejected().into(),
        Err(error) => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_request_is_a_user_error_and_anything_else_an_error() {
        let bad_request = upstream::Error::BadRequest {
            code: Some("bad_data".to_owned()),
            message: Some("target is required".to_owned()),
        };
        let Failure::User(error) = rejected(bad_request) else {
            panic!("a 400 is a business failure");
        };
        assert_eq!(
            error,
            UserError::general(UserErrorCode::UpstreamRejected, "target is required")
        );

        let Failure::Api(error) = rejected(upstream::Error::Server { status: 502 }) else {
            panic!("a 5xx is an error");
        };
        assert_eq!(error, ApiError::UpstreamUnavailable);
        assert!(matches!(
            rejected(upstream::Error::Forbidden),
            Failure::Api(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn a_refusal_without_a_message_falls_back_to_its_code_then_a_default() {
        let code_only = Refusal {
            code: Some("bad_data".to_owned()),
            message: None,
        };
        assert_eq!(code_only.rejected().message, "bad_data");
        let bare = Refusal {
            code: None,
            message: None,
        };
        assert_eq!(
            bare.rejected().message,
            "the Heymarket API refused the change"
        );
    }

    #[test]
    fn settling_keeps_user_errors_in_the_payload() {
        let user = UserError::on("text", UserErrorCode::EmptyMessage, "empty");
        assert_eq!(
            settle::<()>(Err(user.clone().into())),
            Ok((None, vec![user]))
        );
        assert_eq!(settle(Ok(7)), Ok((Some(7), Vec::new())));
        assert_eq!(
            settle::<()>(Err(ApiError::Internal.into())),
            Err(ApiError::Internal)
        );
    }
}
