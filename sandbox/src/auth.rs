//! Verifies a request's credentials the way the upstream does (heymarket-api.md §2).
//!
//! Accepted: `Bearer <jwt>` (HS256 keyed `"{secret_id}||{secret_key}"` of the team whose
//! secret id is the `iss`), `Bearer <api key>`, and HTTP Basic with the API key as user name and
//! an empty password. Anything else is a 401.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, dangerous};
use serde::Deserialize;

use super::TeamCredentials;
use super::error::ApiError;

/// A token is valid for five minutes after its `iat`, as documented.
const TOKEN_LIFETIME_SECONDS: i64 = 300;
/// How far in the future an `iat` may lie. The docs are silent; 30 s absorbs ordinary clock
/// skew between caller and sandbox without accepting tokens minted for later use.
const CLOCK_SKEW_SECONDS: i64 = 30;

#[derive(Deserialize)]
struct Issuer {
    iss: String,
}

#[derive(Deserialize)]
struct Claims {
    iat: i64,
}

/// The index in `teams` of the team `authorization` (the header value) authenticates, judged
/// at Unix second `now`.
pub(crate) fn authenticate(
    authorization: Option<&str>,
    teams: &[TeamCredentials],
    now: i64,
) -> Result<usize, ApiError> {
    let (scheme, credential) = authorization
        .and_then(|value| value.split_once(' '))
        .ok_or(ApiError::Unauthorized)?;
    let credential = credential.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        match teams
            .iter()
            .position(|team| constant_time_eq(&team.api_key, credential))
        {
            Some(team) => Ok(team),
            None => verify_jwt(credential, teams, now),
        }
    } else if scheme.eq_ignore_ascii_case("basic") {
        verify_basic(credential, teams)
    } else {
        Err(ApiError::Unauthorized)
    }
}

fn verify_jwt(token: &str, teams: &[TeamCredentials], now: i64) -> Result<usize, ApiError> {
    let Issuer { iss } =
        dangerous::insecure_decode_claims(token).map_err(|_| ApiError::Unauthorized)?;
    let index = teams
        .iter()
        .position(|team| team.secret_id == iss)
        .ok_or(ApiError::Unauthorized)?;
    let team = &teams[index];
    let key =
        DecodingKey::from_secret(format!("{}||{}", team.secret_id, team.secret_key).as_bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    // No `exp` is required (the docs never mention one), but one in the past is refused.
    validation.required_spec_claims.clear();
    validation.leeway = 0;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| ApiError::Unauthorized)?
        .claims;
    let age = now.saturating_sub(claims.iat);
    if (-CLOCK_SKEW_SECONDS..=TOKEN_LIFETIME_SECONDS).contains(&age) {
        Ok(index)
    } else {
        Err(ApiError::Unauthorized)
    }
}

fn verify_basic(credential: &str, teams: &[TeamCredentials]) -> Result<usize, ApiError> {
    let decoded = STANDARD
        .decode(credential)
        .map_err(|_| ApiError::Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| ApiError::Unauthorized)?;
    match decoded.split_once(':') {
        Some((key, "")) => teams
            .iter()
            .position(|team| constant_time_eq(&team.api_key, key))
            .ok_or(ApiError::Unauthorized),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Compares secrets without an early exit, so timing does not reveal a matching prefix.
fn constant_time_eq(expected: &str, given: &str) -> bool {
    let (expected, given) = (expected.as_bytes(), given.as_bytes());
    expected.len() == given.len()
        && expected
            .iter()
            .zip(given)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_780_000_000;

    fn teams() -> Vec<TeamCredentials> {
        (1..=2)
            .map(|n| TeamCredentials {
                team_id: 100 + n,
                team_name: format!("Team {n}"),
                secret_id: format!("id-{n}"),
                secret_key: format!("key-{n}"),
                api_key: format!("api-{n}"),
                webhook_token: format!("hook-{n}"),
            })
            .collect()
    }

    fn jwt(claims: serde_json::Value, key: &str) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    }

    fn check(header: &str) -> Result<usize, ApiError> {
        authenticate(Some(header), &teams(), NOW)
    }

    #[test]
    fn a_fresh_jwt_selects_its_team() {
        let token = jwt(json!({"iss": "id-2", "iat": NOW - 10}), "id-2||key-2");
        assert_eq!(check(&format!("Bearer {token}")), Ok(1));
        let skewed = jwt(json!({"iss": "id-1", "iat": NOW + 30}), "id-1||key-1");
        assert_eq!(check(&format!("Bearer {skewed}")), Ok(0));
    }

    #[test]
    fn jwts_outside_their_lifetime_or_badly_signed_are_refused() {
        let cases = [
            jwt(json!({"iss": "id-1", "iat": NOW - 301}), "id-1||key-1"),
            jwt(json!({"iss": "id-1", "iat": NOW + 31}), "id-1||key-1"),
            jwt(json!({"iss": "id-1", "iat": i64::MIN}), "id-1||key-1"),
            jwt(
                json!({"iss": "id-1", "iat": NOW, "exp": NOW - 1}),
                "id-1||key-1",
            ),
            jwt(json!({"iss": "id-1", "iat": NOW}), "id-1||key-2"),
            jwt(json!({"iss": "id-3", "iat": NOW}), "id-3||key-3"),
            jwt(json!({"iss": "id-1"}), "id-1||key-1"),
        ];
        for token in cases {
            assert_eq!(
                check(&format!("Bearer {token}")),
                Err(ApiError::Unauthorized),
                "{token}"
            );
        }
    }

    #[test]
    fn api_keys_work_as_bearer_and_basic() {
        assert_eq!(check("Bearer api-2"), Ok(1));
        assert_eq!(
            check(&format!("Basic {}", STANDARD.encode("api-1:"))),
            Ok(0)
        );
        assert_eq!(
            check(&format!("Basic {}", STANDARD.encode("api-1:secret"))),
            Err(ApiError::Unauthorized)
        );
        assert_eq!(check("Bearer api-"), Err(ApiError::Unauthorized));
        assert_eq!(check("Token api-1"), Err(ApiError::Unauthorized));
        assert_eq!(
            authenticate(None, &teams(), NOW),
            Err(ApiError::Unauthorized)
        );
    }
}
