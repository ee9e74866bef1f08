//! Verifies the JWTs callers present: signature (HS256 with the shared secret, RS256 and ES256
//! with JWKS keys), times, audience, issuer, and the claim naming the acting member.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use super::error::{SetupError, TokenError};
use super::jwks::{Jwks, KeySet, RemoteJwks};
use crate::config::{ClientAuthConfig, JwksSource};

/// Who a verified token says is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The team member the caller acts as.
    pub(crate) member_id: i64,
}

/// The algorithms client tokens may use; which keys verify each is fixed in `verify`.
const ACCEPTED: [Algorithm; 3] = [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256];

/// Checks client tokens against the configured keys and rules. Built once at start.
pub(crate) struct TokenVerifier {
    /// HS256 key; HS256 tokens are refused without it.
    secret: Option<DecodingKey>,
    /// RS256 and ES256 keys; those tokens are refused without them.
    jwks: Option<Jwks>,
    /// Times, audience and issuer, once per accepted algorithm: a token is checked against the
    /// one algorithm its key is for.
    validations: Vec<Validation>,
    member_claim: String,
}

impl TokenVerifier {
    /// Builds the verifier, reading a JWKS file now. With a JWKS URL, the first fetch starts in
    /// the background: a URL that cannot be fetched yet is a warning, and the tokens that need
    /// its keys are refused until a later fetch succeeds.
    pub(crate) fn start(config: &ClientAuthConfig) -> Result<Arc<Self>, SetupError> {
        let jwks = match &config.jwks {
            None => None,
            Some(JwksSource::File(path)) => {
                let document = std::fs::read(path).map_err(|source| SetupError::ReadJwks {
                    path: path.clone(),
                    source,
                })?;
                let keys = KeySet::parse(&document).map_err(|reason| SetupError::BadJwks {
                    path: path.clone(),
                    reason,
                })?;
                Some(Jwks::Fixed(keys))
            }
            Some(JwksSource::Url(url)) => Some(Jwks::Remote(RemoteJwks::new(
                url.clone(),
                config.jwks_refetch_interval,
            )?)),
        };
        let secret = config
            .jwt_secret
            .as_ref()
            .map(|secret| DecodingKey::from_secret(secret.expose_secret().as_bytes()));
        if secret.is_none() && jwks.is_none() {
            return Err(SetupError::NoKeys);
        }
        let verifier = Arc::new(Self {
            secret,
            jwks,
            validations: ACCEPTED
                .into_iter()
                .map(|algorithm| validation(config, algorithm))
                .collect(),
            member_claim: config.member_claim.clone(),
        });
        if let Some(Jwks::Remote(_)) = &verifier.jwks {
            let fetching = Arc::clone(&verifier);
            tokio::spawn(async move {
                if let Some(Jwks::Remote(remote)) = &fetching.jwks {
                    remote.refresh().await;
                }
            });
        }
        Ok(verifier)
    }

    /// The identity `token` carries, or why it is refused.
    pub(crate) async fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        // The key follows from the algorithm: the shared secret only ever verifies HS256, and
        // JWKS keys only the algorithm each is for, so no token can pick its own key type.
        let validation = self
            .validations
            .iter()
            .find(|validation| validation.algorithms == [header.alg])
            .ok_or(TokenError::AlgorithmNotAccepted)?;
        let decoded = match (header.alg, &self.secret, &self.jwks) {
            (Algorithm::HS256, Some(secret), _) => {
                jsonwebtoken::decode::<Map<String, Value>>(token, secret, validation)
            }
            (Algorithm::RS256 | Algorithm::ES256, _, Some(jwks)) => {
                let key = jwks.key(header.alg, header.kid.as_deref()).await?;
                jsonwebtoken::decode::<Map<String, Value>>(token, &key, validation)
            }
            _ => return Err(TokenError::AlgorithmNotAccepted),
        };
        let claims = decoded
            .map_err(|error| TokenError::from_decode(&error))?
            .claims;
        let member_id = member_id(&claims, &self.member_claim)
            .ok_or_else(|| TokenError::NoMember(self.member_claim.clone()))?;
        Ok(Identity { member_id })
    }
}

/// `exp` is required; `nbf` is checked when present; `aud` and `iss` are required and checked
/// when configured, and `aud` is ignored when not (the gateway then has no name to look for).
fn validation(config: &ClientAuthConfig, algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = config.leeway.as_secs();
    validation.validate_nbf = true;
    let mut required = vec!["exp"];
    match &config.audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    if let Some(issuer) = &config.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    validation.set_required_spec_claims(&required);
    validation
}

/// The member id in `claim`: a positive integer, as a JSON number or a string of digits.
fn member_id(claims: &Map<String, Value>, claim: &str) -> Option<i64> {
    let id = match claims.get(claim)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    };
    id.filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use secrecy::SecretString;
    use serde_json::json;

    use super::*;

    const SECRET: &str = "a-shared-secret-of-at-least-32-bytes!";

    fn verifier(config: ClientAuthConfig) -> Arc<TokenVerifier> {
        TokenVerifier::start(&ClientAuthConfig {
            jwt_secret: Some(SecretString::from(SECRET)),
            ..config
        })
        .unwrap()
    }

    fn now() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64
    }

    fn sign(claims: Value) -> String {
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    }

    #[tokio::test]
    async fn the_member_claim_is_a_positive_integer_or_digits() {
        let verifier = verifier(ClientAuthConfig::default());
        let exp = now() + 600;
        for (member, expected) in [
            (json!(501), Ok(501)),
            (json!("502"), Ok(502)),
            (json!(0), Err(())),
            (json!(-4), Err(())),
            (json!("5x"), Err(())),
            (json!(5.5), Err(())),
            (json!([501]), Err(())),
            (Value::Null, Err(())),
        ] {
            let token = sign(json!({ "exp": exp, "member_id": member }));
            let got = verifier
                .verify(&token)
                .await
                .map(|identity| identity.member_id);
            match expected {
                Ok(id) => assert_eq!(got, Ok(id), "{member}"),
                Err(()) => assert_eq!(
                    got,
                    Err(TokenError::NoMember("member_id".into())),
                    "{member}"
                ),
            }
        }
    }

    #[tokio::test]
    async fn the_member_claim_name_is_configurable() {
        let verifier = verifier(ClientAuthConfig {
            member_claim: "https://example.com/member".into(),
            ..ClientAuthConfig::default()
        });
        let token = sign(json!({ "exp": now() + 600, "https://example.com/member": 7 }));
        assert_eq!(verifier.verify(&token).await.map(|i| i.member_id), Ok(7));
        let token = sign(json!({ "exp": now() + 600, "member_id": 7 }));
        assert!(matches!(
            verifier.verify(&token).await,
            Err(TokenError::NoMember(_))
        ));
    }

    #[tokio::test]
    async fn the_leeway_tolerates_a_little_clock_skew_only() {
        let verifier = verifier(ClientAuthConfig::default());
        let just_expired = sign(json!({ "exp": now() - 10, "member_id": 1 }));
        assert!(verifier.verify(&just_expired).await.is_ok());
        let long_expired = sign(json!({ "exp": now() - 120, "member_id": 1 }));
        assert_eq!(
            verifier.verify(&long_expired).await,
            Err(TokenError::Expired)
        );
        let early = sign(json!({ "exp": now() + 600, "nbf": now() + 10, "member_id": 1 }));
        assert!(verifier.verify(&early).await.is_ok());
        let too_early = sign(json!({ "exp": now() + 600, "nbf": now() + 120, "member_id": 1 }));
        assert_eq!(
            verifier.verify(&too_early).await,
            Err(TokenError::NotYetValid)
        );
    }

    #[tokio::test]
    async fn configured_audience_and_issuer_are_required() {
        let verifier = verifier(ClientAuthConfig {
            audience: Some("gateway".into()),
            issuer: Some("https://issuer.example".into()),
            ..ClientAuthConfig::default()
        });
        let exp = now() + 600;
        let good = json!({ "exp": exp, "member_id": 1, "aud": "gateway", "iss": "https://issuer.example" });
        assert!(verifier.verify(&sign(good.clone())).await.is_ok());
        for (claim, expected) in [("aud", "aud"), ("iss", "iss")] {
            let mut claims = good.clone();
            claims.as_object_mut().unwrap().remove(claim);
            assert_eq!(
                verifier.verify(&sign(claims)).await,
                Err(TokenError::MissingClaim(expected.into()))
            );
        }
        let mut listed = good.clone();
        listed["aud"] = json!(["other", "gateway"]);
        assert!(verifier.verify(&sign(listed)).await.is_ok());
    }

    #[tokio::test]
    async fn without_a_configured_audience_any_audience_passes() {
        let verifier = verifier(ClientAuthConfig::default());
        let token = sign(json!({ "exp": now() + 600, "member_id": 1, "aud": "anyone" }));
        assert!(verifier.verify(&token).await.is_ok());
        let token = sign(json!({ "member_id": 1 }));
        assert_eq!(
            verifier.verify(&token).await,
            Err(TokenError::MissingClaim("exp".into()))
        );
    }

    #[test]
    fn a_verifier_needs_a_key() {
        let error = TokenVerifier::start(&ClientAuthConfig::default())
            .err()
            .unwrap();
        assert!(matches!(error, SetupError::NoKeys), "{error}");
    }
}
