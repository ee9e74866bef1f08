//! Public keys of client tokens, from a JWKS document: read from a file at start, or fetched from
//! a URL at start and again, at most once per interval, when a token names a key it lacks (the
//! issuer rotated its keys).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::error::{JwksError, SetupError, TokenError};

/// Deadline of one JWKS fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JWKS document accepted; real ones hold a few keys in a few kilobytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// One verification key and the algorithm it is for.
struct VerificationKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The usable keys of one JWKS document.
#[derive(Default)]
pub(super) struct KeySet(Vec<VerificationKey>);

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// The RS256 and ES256 signing keys of a JWKS document. Other keys (symmetric, encryption,
    /// other curves or algorithms) are skipped with a warning, never used: a public document
    /// must not be able to supply an HMAC secret.
    pub(super) fn parse(document: &[u8]) -> Result<Self, JwksError> {
        let document: Document = serde_json::from_slice(document).map_err(JwksError::NotJwks)?;
        let keys: Vec<VerificationKey> = document
            .keys
            .into_iter()
            .filter_map(|value| {
                let kid = value
                    .get("kid")
                    .and_then(|kid| kid.as_str())
                    .map(str::to_owned);
                let key = serde_json::from_value::<Jwk>(value)
                    .map_err(|_| "not a JSON Web Key")
                    .and_then(|jwk| verification_key(&jwk));
                match key {
                    Ok(key) => Some(key),
                    Err(why) => {
                        tracing::warn!(kid, why, "skipping a key of the client JWKS");
                        None
                    }
                }
            })
            .collect();
        if keys.is_empty() {
            return Err(JwksError::NoSigningKey);
        }
        Ok(Self(keys))
    }

    /// The key that verifies a token signed with `algorithm` under `kid`. A token without a
    /// `kid` is verified by the set's only key for its algorithm; with several, it is refused
    /// rather than tried against each.
    fn find(&self, algorithm: Algorithm, kid: Option<&str>) -> Result<&DecodingKey, TokenError> {
        let found = match kid {
            Some(kid) => self.0.iter().find(|key| key.kid.as_deref() == Some(kid)),
            None => {
                let mut candidates = self.0.iter().filter(|key| key.algorithm == algorithm);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        };
        match found {
            Some(key) if key.algorithm == algorithm => Ok(&key.key),
            Some(_) => Err(TokenError::KeyMismatch),
            None => Err(TokenError::UnknownKey),
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn verification_key(jwk: &Jwk) -> Result<VerificationKey, &'static str> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Err("an encryption key");
    }
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return Err("neither an RS256 nor an ES256 key"),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "unreadable key material")?;
    Ok(VerificationKey {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}

/// Where the verifier finds RS256 and ES256 keys.
pub(super) enum Jwks {
    /// Read once, at start.
    Fixed(KeySet),
    /// Fetched, and fetched again when a token names an unknown key.
    Remote(RemoteJwks),
}

impl Jwks {
    /// The key for a token signed with `algorithm` under `kid`.
    pub(super) async fn key(
        &self,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Result<DecodingKey, TokenError> {
        match self {
            Self::Fixed(keys) => keys.find(algorithm, kid).cloned(),
            Self::Remote(remote) => remote.key(algorithm, kid).await,
        }
    }
}

/// A JWKS URL and the keys it last answered.
pub(super) struct RemoteJwks {
    url: Url,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// When the last fetch started; held across a fetch, so concurrent requests for an unknown
    /// key wait for one fetch instead of starting their own.
    last_fetch: Mutex<Option<Instant>>,
    refetch_interval: Duration,
}

impl RemoteJwks {
    pub(super) fn new(url: Url, refetch_interval: Duration) -> Result<Self, SetupError> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(SetupError::HttpClient)?;
        Ok(Self {
            url,
            http,
            keys: RwLock::default(),
            last_fetch: Mutex::new(None),
            refetch_interval,
        })
    }

    async fn key(
        &self,
        algorithm: Algorithm,
        kid: Option<&str>,
    ) -> Result<DecodingKey, TokenError> {
        match self.current().find(algorithm, kid) {
            Err(TokenError::UnknownKey) => {}
            found => return found.cloned(),
        }
        self.refresh().await;
        let keys = self.current();
        if keys.is_empty() {
            return Err(TokenError::KeysUnavailable);
        }
        keys.find(algorithm, kid).cloned()
    }

    fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Fetches the document again, unless a fetch started less than the refetch interval ago.
    /// A failed fetch keeps the keys already known.
    pub(super) async fn refresh(&self) {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return;
        }
        *last_fetch = Some(Instant::now());
        let source = self.describe();
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(jwks = %source, keys = keys.len(), "fetched the client token keys");
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
            }
            Err(error) => tracing::warn!(
                jwks = %source,
                %error,
                "cannot fetch the client token keys; tokens needing them are refused until a fetch succeeds"
            ),
        }
    }

    async fn fetch(&self) -> Result<KeySet, FetchError> {
        let mut response = self
            .http
            .get(self.url.clone())
            .send()
            .await
            .map_err(|error| FetchError::Transport(error.without_url()))?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| FetchError::Transport(error.without_url()))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::parse(&body).map_err(FetchError::Document)
    }

    /// The URL without credentials or query, which may carry secrets, for logs.
    pub(super) fn describe(&self) -> String {
        format!(
            "{}{}",
            self.url.origin().ascii_serialization(),
            self.url.path()
        )
    }
}

/// Why a JWKS fetch failed.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("the request failed: {0}")]
    Transport(reqwest::Error),
    #[error("it answered HTTP {0}")]
    Status(u16),
    #[error("the document is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Document(JwksError),
}
