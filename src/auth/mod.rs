//! Client authentication when the gateway holds the upstream credential: callers present a JWT
//! that the gateway verifies, whose claim names the member they act as.
//!
//! - `verifier`: [`TokenVerifier`], the checks every token goes through.
//! - `jwks`: RS256 and ES256 keys from a JWKS file or URL.
//! - `error`: why a token is refused ([`TokenError`]) or the set-up failed.

mod error;
mod jwks;
mod verifier;

pub(crate) use error::TokenError;
pub(crate) use verifier::TokenVerifier;
