//! Upstream credentials: the `Authorization` header each call carries, the API-secret JWT
//! signer behind it, and the tenant key that partitions caches and the rate limiter.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Error;

/// How long a signed token is re-used. The upstream rejects tokens 5 minutes after `iat`;
/// re-signing after 4 leaves a minute for clock skew and slow calls.
const TOKEN_REUSE_SECONDS: i64 = 4 * 60;

/// Identifies the tenant a call is made for: a SHA-256 digest of its credential (the secret's
/// id, the API key, or the whole pass-through bearer). Caches and the rate limiter are keyed by
/// it, so one credential's data never answers another's request. Pass-through bearers are hashed
/// whole, never by a claim inside them: a forged token cannot borrow another tenant's partition.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantKey([u8; 32]);

impl TenantKey {
    fn derive(kind: &str, material: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(kind.as_bytes())
            .chain_update([0])
            .chain_update(material.as_bytes())
            .finalize();
        Self(digest.into())
    }

    /// A tenant named for a test.
    #[cfg(test)]
    pub(crate) fn named(name: &str) -> Self {
        Self::derive("test", name)
    }

    /// The whole digest in hex: names the tenant in shared stores (Redis) without revealing
    /// the credential.
    pub(crate) fn hex(&self) -> String {
        crate::hex::hex(&self.0)
    }
}

/// Shows a short hex prefix of the digest: enough to tell tenants apart in logs, useless for
/// recovering the credential.
impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0[..4]
            .iter()
            .try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantKey({self})")
    }
}

/// A credential ready to authorise calls, with the tenant it stands for.
#[derive(Clone)]
pub(crate) struct Credential {
    authorization: Authorization,
    tenant: TenantKey,
}

#[derive(Clone)]
enum Authorization {
    Signed(Arc<JwtSigner>),
    Bearer(HeaderValue),
}

impl Credential {
    /// An API secret: calls carry JWTs signed with it.
    pub(crate) fn secret(id: &str, key: &SecretString) -> Self {
        Self {
            authorization: Authorization::Signed(Arc::new(JwtSigner::new(id, key))),
            tenant: TenantKey::derive("secret", id),
        }
    }

    /// The legacy team API key, sent as a bearer token.
    pub(crate) fn api_key(key: &SecretString) -> Result<Self, Error> {
        Ok(Self {
            authorization: Authorization::Bearer(bearer_header(key.expose_secret())?),
            tenant: TenantKey::derive("api-key", key.expose_secret()),
        })
    }

    /// The caller's own bearer token (without the `Bearer ` prefix), forwarded as is.
    pub(crate) fn caller_bearer(token: &SecretString) -> Result<Self, Error> {
        let token = token.expose_secret().trim();
        if token.is_empty() {
            return Err(Error::MissingCredential);
        }
        Ok(Self {
            authorization: Authorization::Bearer(bearer_header(token)?),
            tenant: TenantKey::derive("bearer", token),
        })
    }

    pub(crate) fn tenant(&self) -> TenantKey {
        self.tenant
    }

    /// The `Authorization` header for a call made now.
    pub(crate) fn header(&self) -> Result<HeaderValue, Error> {
        match &self.authorization {
            Authorization::Signed(signer) => signer.header_at(chrono::Utc::now().timestamp()),
            Authorization::Bearer(header) => Ok(header.clone()),
        }
    }
}

/// Signs `{iss, iat}` HS256 tokens keyed by `"<id>||<key>"` and re-uses each for
/// `TOKEN_REUSE_SECONDS`, so a busy gateway signs a few tokens per hour, not one per call.
struct JwtSigner {
    id: String,
    key: EncodingKey,
    current: Mutex<Option<SignedToken>>,
}

struct SignedToken {
    issued_at: i64,
    header: HeaderValue,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

impl JwtSigner {
    fn new(id: &str, key: &SecretString) -> Self {
        let signing_key = format!("{id}||{}", key.expose_secret());
        Self {
            id: id.to_owned(),
            key: EncodingKey::from_secret(signing_key.as_bytes()),
            current: Mutex::new(None),
        }
    }

    /// The header for a call at Unix time `now`: the current token while it is younger than
    /// `TOKEN_REUSE_SECONDS` (and not from the future, should the clock step back), else a new
    /// one. Taking the time as an argument keeps the clock injectable in tests.
    fn header_at(&self, now: i64) -> Result<HeaderValue, Error> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(token) = current.as_ref() {
            if (0..TOKEN_REUSE_SECONDS).contains(&(now - token.issued_at)) {
                return Ok(token.header.clone());
            }
        }
        let claims = Claims {
            iss: &self.id,
            iat: now,
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(Error::Signing)?;
        let header = bearer_header(&jwt)?;
        *current = Some(SignedToken {
            issued_at: now,
            header: header.clone(),
        });
        Ok(header)
    }
}

/// `Bearer <token>`, marked sensitive so that reqwest and hyper never print it.
fn bearer_header(token: &str) -> Result<HeaderValue, Error> {
    let mut header =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Error::InvalidCredential)?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use jsonwebtoken::{DecodingKey, Validation};
    use serde_json::{Value, json};

    use super::*;

    const ID: &str = "5f0c1a8e-secret-id";
    const KEY: &str = "s3cr3t-key-of-thirty-two-chars!!";

    fn secret(value: &str) -> SecretString {
        SecretString::from(value.to_owned())
    }

    fn token_of(header: &HeaderValue) -> String {
        header
            .to_str()
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap()
            .to_owned()
    }

    fn decode(token: &str, signing_key: &str) -> jsonwebtoken::errors::Result<Value> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        let key = DecodingKey::from_secret(signing_key.as_bytes());
        jsonwebtoken::decode::<Value>(token, &key, &validation).map(|data| data.claims)
    }

    #[test]
    fn jwt_verifies_under_id_and_key_with_exactly_iss_and_iat() {
        let signer = JwtSigner::new(ID, &secret(KEY));
        let token = token_of(&signer.header_at(1_700_000_000).unwrap());

        let claims = decode(&token, &format!("{ID}||{KEY}")).unwrap();
        assert_eq!(claims, json!({ "iss": ID, "iat": 1_700_000_000 }));
        assert!(
            decode(&token, KEY).is_err(),
            "must not verify under the key alone"
        );

        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.typ.as_deref()),
            (Algorithm::HS256, Some("JWT"))
        );
    }

    #[test]
    fn jwt_is_reused_for_four_minutes_then_resigned() {
        let signer = JwtSigner::new(ID, &secret(KEY));
        let first = signer.header_at(1_000).unwrap();
        assert_eq!(signer.header_at(1_000).unwrap(), first);
        assert_eq!(signer.header_at(1_000 + 239).unwrap(), first);

        let second = signer.header_at(1_000 + 240).unwrap();
        assert_ne!(second, first);
        let claims = decode(&token_of(&second), &format!("{ID}||{KEY}")).unwrap();
        assert_eq!(claims["iat"], json!(1_240));
        assert_eq!(signer.header_at(1_240 + 100).unwrap(), second);
    }

    #[test]
    fn jwt_is_resigned_when_the_clock_steps_back() {
        let signer = JwtSigner::new(ID, &secret(KEY));
        let first = signer.header_at(5_000).unwrap();
        let earlier = signer.header_at(4_990).unwrap();
        assert_ne!(earlier, first);
        assert_eq!(
            decode(&token_of(&earlier), &format!("{ID}||{KEY}")).unwrap()["iat"],
            json!(4_990)
        );
    }

    #[test]
    fn headers_are_sensitive() {
        let api_key = Credential::api_key(&secret(KEY)).unwrap();
        assert!(api_key.header().unwrap().is_sensitive());
        assert!(
            Credential::secret(ID, &secret(KEY))
                .header()
                .unwrap()
                .is_sensitive()
        );
        assert_eq!(api_key.header().unwrap(), format!("Bearer {KEY}").as_str());
    }

    #[test]
    fn tenant_keys_differ_per_credential() {
        let keys = [
            Credential::secret(ID, &secret(KEY)).tenant(),
            Credential::secret("another-id", &secret(KEY)).tenant(),
            Credential::api_key(&secret(KEY)).unwrap().tenant(),
            Credential::api_key(&secret("other-key")).unwrap().tenant(),
            Credential::caller_bearer(&secret(KEY)).unwrap().tenant(),
            Credential::caller_bearer(&secret(ID)).unwrap().tenant(),
        ];
        let distinct: HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        // the same credential always lands in the same partition; the secret's key is not part
        // of it, so rotating the key of one secret id keeps the partition
        assert_eq!(keys[0], Credential::secret(ID, &secret("rotated")).tenant());
        assert_eq!(
            keys[4],
            Credential::caller_bearer(&secret(KEY)).unwrap().tenant()
        );
    }

    #[test]
    fn forged_bearers_get_their_own_partition() {
        let signer = JwtSigner::new(ID, &secret(KEY));
        let genuine = token_of(&signer.header_at(1_000).unwrap());
        let forger = JwtSigner::new(ID, &secret("guessed key"));
        let forged = token_of(&forger.header_at(1_000).unwrap());
        assert_eq!(
            genuine.split('.').nth(1),
            forged.split('.').nth(1),
            "same claims"
        );

        let genuine = Credential::caller_bearer(&secret(&genuine))
            .unwrap()
            .tenant();
        let forged = Credential::caller_bearer(&secret(&forged))
            .unwrap()
            .tenant();
        assert_ne!(genuine, forged);
    }

    #[test]
    fn tenant_key_formatting_hides_the_credential() {
        let key = Credential::api_key(&secret(KEY)).unwrap().tenant();
        let (shown, debug) = (key.to_string(), format!("{key:?}"));
        assert_eq!(shown.len(), 8);
        assert!(shown.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(debug, format!("TenantKey({shown})"));
        assert!(!debug.contains(KEY) && !debug.contains("s3cr3t"));
    }

    #[test]
    fn empty_or_unsendable_bearers_are_refused() {
        assert!(matches!(
            Credential::caller_bearer(&secret("  ")),
            Err(Error::MissingCredential)
        ));
        assert!(matches!(
            Credential::caller_bearer(&secret("line\nbreak")),
            Err(Error::InvalidCredential)
        ));
    }
}
