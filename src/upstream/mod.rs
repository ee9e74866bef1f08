//! Typed client for the Heymarket REST API.
//!
//! Placeholder: the interface below is the contract the rest of the crate relies on.

pub mod models;

use secrecy::SecretString;

use crate::config::UpstreamConfig;

/// Upstream failures, typed so callers can map them once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no credential for the upstream")]
    MissingCredential,
    #[error("the upstream rejected the credentials")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("bad request: {message}")]
    BadRequest { code: String, message: String },
    #[error("rate limited")]
    RateLimited {
        retry_after: Option<std::time::Duration>,
    },
    #[error("timeout")]
    Timeout,
    #[error("server error {status}")]
    Server { status: u16 },
}

/// The shared, pooled client (one per process).
#[derive(Clone)]
pub struct Client {}

impl Client {
    pub fn new(config: &UpstreamConfig) -> Result<Self, Error> {
        let _ = config;
        Ok(Self {})
    }

    /// A handle that calls as one tenant: the configured credential, or in pass-through mode
    /// the caller's bearer (`Error::Unauthorized` when there is none).
    pub fn tenant(&self, caller_bearer: Option<SecretString>) -> Result<TenantClient, Error> {
        let _ = caller_bearer;
        Ok(TenantClient {})
    }
}

/// Calls the upstream as one tenant; cheap to clone, one per GraphQL request.
#[derive(Clone)]
pub struct TenantClient {}

impl TenantClient {
    /// Sends this id upstream as `X-Request-Id` and logs it with every call.
    pub fn with_request_id(self, request_id: String) -> Self {
        let _ = request_id;
        self
    }

    /// `GET /v1/inboxes`.
    pub async fn inboxes(&self) -> Result<Vec<models::Inbox>, Error> {
        Ok(Vec::new())
    }

    /// `GET /v1/team`.
    pub async fn team(&self) -> Result<models::Team, Error> {
        Err(Error::Unauthorized)
    }
}
