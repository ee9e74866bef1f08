//! Why a client token was refused, and why client authentication could not be set up.

use std::path::PathBuf;

use jsonwebtoken::errors::ErrorKind;

use crate::error::ApiError;

/// Why a caller's bearer token was refused. The messages go to the caller: they say what is
/// wrong in general terms and never repeat the token or what it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("send `Authorization: Bearer <token>` with a token this gateway can verify")]
    Missing,
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    #[error("the token is signed with an algorithm this gateway does not accept")]
    AlgorithmNotAccepted,
    #[error("the token is signed with a key this gateway does not know")]
    UnknownKey,
    #[error("the token's algorithm does not match its key")]
    KeyMismatch,
    #[error("the gateway's signing keys are not available yet; retry later")]
    KeysUnavailable,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token comes from an issuer this gateway does not trust")]
    WrongIssuer,
    #[error("the token lacks the required `{0}` claim")]
    MissingClaim(String),
    #[error("the token does not name the acting member in its `{0}` claim")]
    NoMember(String),
}

impl TokenError {
    /// The refusal a failed `jsonwebtoken::decode` stands for. The library's own messages are
    /// not used: some quote the claims.
    pub(super) fn from_decode(error: &jsonwebtoken::errors::Error) -> Self {
        match error.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm => Self::AlgorithmNotAccepted,
            ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat => Self::KeyMismatch,
            _ => Self::Malformed,
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        Self::Unauthenticated(error.to_string())
    }
}

/// Client authentication that cannot work as configured, found at start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    #[error(
        "no client token key is configured: set --client-jwt-secret, --client-jwks-file or --client-jwks-url"
    )]
    NoKeys,
    #[error("cannot read the JWKS file {path}: {source}")]
    ReadJwks {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the JWKS file {path} cannot be used: {reason}")]
    BadJwks { path: PathBuf, reason: JwksError },
    #[error("cannot build the HTTP client that fetches the JWKS: {0}")]
    HttpClient(reqwest::Error),
}

/// Why a JWKS document yielded no keys.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JwksError {
    #[error("it is not a JWKS document (a JSON object with a `keys` array): {0}")]
    NotJwks(serde_json::Error),
    #[error("it holds no RS256 or ES256 signing key")]
    NoSigningKey,
}
