//! What an agent's frontend does, whichever way it reaches the upstream: its two screens (the
//! dashboard of its inbox and its mine list), opening a conversation, and the three writes.
//! `gateway` does it through the gateway, `direct` with REST calls as a frontend makes them.

use chrono::{DateTime, Utc};

use crate::direct::DirectFrontend;
use crate::gateway::GatewayFrontend;

/// A dashboard row: what an agent needs to show it and to act on it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The conversation's upstream id.
    pub(crate) id: i64,
    pub(crate) inbox: i64,
    /// The customer's phone.
    pub(crate) target: String,
    /// When it last changed, as the answer shows it.
    pub(crate) updated: DateTime<Utc>,
    /// Its assignee's member id, when it has one.
    pub(crate) assignee: Option<i64>,
}

/// Why a request failed: the label of each error it answered (an error code, `HTTP <status>`,
/// `TRANSPORT`, …).
#[derive(Debug, Clone)]
pub(crate) struct Failure(pub(crate) Vec<String>);

impl Failure {
    pub(crate) fn new(label: impl Into<String>) -> Self {
        Self(vec![label.into()])
    }
}

/// One agent's frontend.
#[derive(Debug, Clone)]
pub(crate) enum Frontend {
    Gateway(GatewayFrontend),
    Direct(DirectFrontend),
}

impl Frontend {
    /// The open conversations of the agent's inbox, newest first.
    pub(crate) async fn dashboard(&self) -> Result<Vec<Row>, Failure> {
        match self {
            Self::Gateway(gateway) => gateway.dashboard().await,
            Self::Direct(direct) => direct.dashboard().await,
        }
    }

    /// The ids of the agent's newest open conversations assigned to it.
    pub(crate) async fn mine(&self) -> Result<Vec<i64>, Failure> {
        match self {
            Self::Gateway(gateway) => gateway.mine().await,
            Self::Direct(direct) => direct.mine().await,
        }
    }

    /// Opens a conversation: its contact, members and latest messages.
    pub(crate) async fn detail(&self, conversation: i64) -> Result<(), Failure> {
        match self {
            Self::Gateway(gateway) => gateway.detail(conversation).await,
            Self::Direct(direct) => direct.detail(conversation).await,
        }
    }

    /// Replies in `row`'s conversation; answers the message's instant.
    pub(crate) async fn reply(&self, row: &Row, text: &str) -> Result<DateTime<Utc>, Failure> {
        match self {
            Self::Gateway(gateway) => gateway.reply(row, text).await,
            Self::Direct(direct) => direct.reply(row, text).await,
        }
    }

    /// Assigns `row`'s conversation to `member`.
    pub(crate) async fn assign(&self, row: &Row, member: i64) -> Result<(), Failure> {
        match self {
            Self::Gateway(gateway) => gateway.assign(row, member).await,
            Self::Direct(direct) => direct.assign(row, member).await,
        }
    }

    /// Closes `row`'s conversation.
    pub(crate) async fn close(&self, row: &Row) -> Result<(), Failure> {
        match self {
            Self::Gateway(gateway) => gateway.close(row).await,
            Self::Direct(direct) => direct.close(row).await,
        }
    }
}

/// An RFC 3339 instant, as the upstream and the gateway write them.
pub(crate) fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.to_utc())
}
