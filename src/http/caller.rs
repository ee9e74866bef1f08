//! Who is calling, settled at the edge from a request's (or a WebSocket's) headers: the upstream
//! tenant, the member acting, and the identity the client rate limit counts.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, header};
use secrecy::{ExposeSecret, SecretString};

use super::request_id::RequestId;
use crate::auth::{TokenError, TokenVerifier};
use crate::client_limit::ClientKey;
use crate::config::UpstreamAuth;
use crate::loaders::Loaders;
use crate::schema::{ApiError, Caller, GlobalId, NodeKind};
use crate::state::AppState;

/// Header naming the member a request acts as (a database id or a global `Member` id).
pub(super) const MEMBER_HEADER: HeaderName = HeaderName::from_static("x-member-id");
/// Header asking for `extensions.cost` in production mode (sandbox mode always reports it).
pub(super) const COST_HEADER: HeaderName = HeaderName::from_static("x-include-cost");

/// Settles the caller and counts the request against its client's rate limit (and, for a
/// pass-through credential the upstream has not accepted yet, its address's). What the
/// upstream must confirm (a token's member belongs to the team, a pass-through credential is
/// good) is left to [`Admitted::confirm`], so a query can start while the (cached) team
/// look-up runs.
pub(super) async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> Result<Admitted, ApiError> {
    let settled = caller(state, headers, ip).await?;
    settled.count(state)?;
    let confirmation = match settled.client {
        ClientKey::Member(member) => Confirmation::Member(member),
        ClientKey::Tenant(_) => Confirmation::Credential,
        ClientKey::Unverified { .. } | ClientKey::Address(_) => Confirmation::Nothing,
    };
    Ok(Admitted {
        caller: settled.caller,
        confirmation,
    })
}

/// A caller let in at the edge whose token's member or credential may still need confirming.
/// No answer may leave before [`confirm`](Self::confirm) succeeds, and nothing that changes
/// anything may start before it.
pub(super) struct Admitted {
    pub(super) caller: Caller,
    confirmation: Confirmation,
}

/// What the upstream still has to confirm about a caller.
enum Confirmation {
    /// Sandbox mode: nobody is checked.
    Nothing,
    /// Pass-through mode: the upstream must accept the caller's credential, so that one it
    /// refuses is answered 401 rather than with a 200 full of errors.
    Credential,
    /// Client authentication: the token's member must belong to the team.
    Member(i64),
}

impl Admitted {
    /// Confirms the token's member or the pass-through credential (with the team look-up,
    /// cached, that a refused credential fails with `UNAUTHENTICATED`).
    pub(super) async fn confirm(&self, state: &AppState) -> Result<(), ApiError> {
        match self.confirmation {
            Confirmation::Member(member) => check_member(state, &self.caller, Some(member)).await,
            Confirmation::Credential => check_member(state, &self.caller, None).await,
            Confirmation::Nothing => Ok(()),
        }
    }
}

/// Who is calling, as settled at the edge: what the schema acts for, and whose rate limits the
/// calls count against.
pub(super) struct Settled {
    pub(super) caller: Caller,
    pub(super) client: ClientKey,
    /// Pass-through mode, for a credential the upstream has not accepted lately: the address it
    /// came from, whose budget it also draws on. Otherwise every made-up bearer would bring a
    /// fresh budget of its own.
    unverified_from: Option<ClientKey>,
}

impl Settled {
    /// Counts one request against the address's budget (for an unverified credential), then
    /// the client's.
    pub(super) fn count(&self, state: &AppState) -> Result<(), ApiError> {
        self.count_unverified(state)?;
        state.client_limiter.check(&self.client)
    }

    /// Counts one request against the address's budget, for a credential the upstream has not
    /// accepted lately (nothing otherwise).
    pub(super) fn count_unverified(&self, state: &AppState) -> Result<(), ApiError> {
        match &self.unverified_from {
            Some(address) => state.client_limiter.check(address),
            None => Ok(()),
        }
    }
}

/// Settles who is calling: the upstream tenant (the configured credential, or the caller's
/// bearer in pass-through mode), the member to act as, and whose rate limit counts.
///
/// With client authentication the bearer is a token the gateway verifies and never sends
/// upstream, and its claim names the member. An `X-Member-Id` naming anyone else is refused
/// with `FORBIDDEN` rather than ignored, so a client never acts as someone it did not expect.
pub(super) async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> Result<Settled, ApiError> {
    let named_member = requested_member(headers)?;
    let bearer = bearer(headers);
    let (verified_member, upstream_bearer) = match &state.client_auth {
        Some(verifier) => {
            let member = verified_member(verifier, bearer.as_ref(), named_member).await?;
            (Some(member), None)
        }
        None => (None, bearer),
    };
    let mut upstream = state.upstream.tenant(upstream_bearer)?;
    if let Some(request_id) = RequestId::accept(headers) {
        upstream = upstream.with_request_id(request_id.to_string());
    }
    let pass_through = matches!(state.config.upstream.auth, UpstreamAuth::PassThrough);
    let client = match verified_member {
        Some(member) => ClientKey::Member(member),
        None if pass_through => ClientKey::Tenant(upstream.tenant_key()),
        None => ClientKey::Unverified {
            member: named_member,
            ip,
        },
    };
    let unverified_from = (pass_through && !state.caches.knows_tenant(upstream.tenant_key()))
        .then_some(ClientKey::Address(ip));
    let report_cost = state.config.sandbox_mode || headers.contains_key(COST_HEADER);
    Ok(Settled {
        caller: Caller {
            upstream,
            requested_member: verified_member.or(named_member),
            report_cost,
        },
        client,
        unverified_from,
    })
}

async fn verified_member(
    verifier: &TokenVerifier,
    bearer: Option<&SecretString>,
    named_member: Option<i64>,
) -> Result<i64, ApiError> {
    let token = bearer.ok_or(TokenError::Missing)?;
    let identity = verifier.verify(token.expose_secret()).await?;
    if named_member.is_some_and(|named| named != identity.member_id) {
        return Err(ApiError::Forbidden(
            "X-Member-Id names another member than the token does; drop the header".to_owned(),
        ));
    }
    Ok(identity.member_id)
}

/// Fetches the caller's team (cached), which also proves a pass-through credential good, and
/// refuses a verified `member` outside it: a token minted for another team's member must not
/// act in this one.
pub(super) async fn check_member(
    state: &AppState,
    caller: &Caller,
    member: Option<i64>,
) -> Result<(), ApiError> {
    let team = Loaders::new(
        caller.upstream.clone(),
        Arc::clone(&state.caches),
        state.config.limits.max_upstream_calls,
    )
    .team()
    .await?;
    match member {
        Some(id) if !team.members.iter().any(|member| member.id == id) => Err(ApiError::Forbidden(
            "the token's member does not belong to this team".to_owned(),
        )),
        _ => Ok(()),
    }
}

fn bearer(headers: &HeaderMap) -> Option<SecretString> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| SecretString::from(token.to_owned()))
}

fn requested_member(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(MEMBER_HEADER) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::bad_input("X-Member-Id must be a member's databaseId (e.g. 501) or its global id")
    };
    let value = value.to_str().map_err(|_| invalid())?.trim();
    if let Ok(id) = value.parse::<i64>() {
        return if id > 0 { Ok(Some(id)) } else { Err(invalid()) };
    }
    GlobalId::parse_as(value, NodeKind::Member)
        .map(Some)
        .map_err(|_| invalid())
}
