//! What browsers and bandwidth need from every answer: CORS for the configured origins, and
//! compression for clients that accept it.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use super::caller::{COST_HEADER, MEMBER_HEADER};
use super::request_id::REQUEST_ID_HEADER;
use crate::config::{CorsHeaders, CorsOrigins, HttpConfig};

/// How long a browser may re-use a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// Request headers a browser may always send cross-origin: those the gateway reads.
const READ_HEADERS: [HeaderName; 6] = [
    header::ACCEPT,
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    MEMBER_HEADER,
    REQUEST_ID_HEADER,
    COST_HEADER,
];

/// Answer headers scripts on an allowed origin may read.
const EXPOSED_HEADERS: [HeaderName; 2] = [REQUEST_ID_HEADER, header::RETRY_AFTER];

/// The CORS policy, or `None` when no origin may call cross-origin (then browsers refuse
/// cross-origin calls, since no answer carries `Access-Control-Allow-Origin`).
pub(super) fn cors(config: &HttpConfig) -> Option<CorsLayer> {
    let origins = match &config.cors {
        CorsOrigins::Nobody => return None,
        CorsOrigins::Anyone => AllowOrigin::any(),
        CorsOrigins::Only(origins) => AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
    };
    let headers = match &config.cors_headers {
        CorsHeaders::Any => AllowHeaders::mirror_request(),
        CorsHeaders::Also(names) => AllowHeaders::list(
            READ_HEADERS.into_iter().chain(
                names
                    .iter()
                    .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok()),
            ),
        ),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers(headers)
            .expose_headers(EXPOSED_HEADERS)
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

/// gzip or brotli, as the client's `Accept-Encoding` prefers; small answers are left alone.
/// Switched off, the layer stays (so the body type does not depend on configuration) with
/// every encoding disabled.
pub(super) fn compression(config: &HttpConfig) -> CompressionLayer {
    let layer = CompressionLayer::new();
    if config.compression {
        layer
    } else {
        layer.no_gzip().no_br()
    }
}
