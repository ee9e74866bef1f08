//! Request extractors whose failures answer in the API's error shape instead of axum's text.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::Team;

/// A JSON request body. The upstream's clients always send JSON, so the `Content-Type` is not
/// insisted on, and an empty body reads as `{}` (`POST /v1/messages/all` documents one).
/// Malformed JSON is a 400 `bad_data`.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::bad_data(rejection.body_text()))?;
        let json: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(json)
            .map(JsonBody)
            .map_err(|error| ApiError::bad_data(format!("invalid JSON body: {error}")))
    }
}

/// Query parameters; a malformed query string is a 400 `bad_data`.
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::from_request_parts(parts, state)
            .await
            .map(|Query(params)| QueryParams(params))
            .map_err(|rejection| ApiError::bad_data(rejection.body_text()))
    }
}

/// The team the request authenticated as, put in place by the request pipeline.
#[derive(Clone)]
pub(crate) struct Tenant(pub(crate) Arc<Team>);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Tenant>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

impl std::ops::Deref for Tenant {
    type Target = Team;

    fn deref(&self) -> &Team {
        &self.0
    }
}
