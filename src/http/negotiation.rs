//! Which media type a GraphQL answer is written in, chosen from the request's `Accept` header as
//! the GraphQL-over-HTTP specification describes.
//!
//! The two types differ in more than their name: with `application/graphql-response+json` a
//! request that never ran (unparsable, invalid) is answered with a 4xx status, while legacy
//! `application/json` clients expect 200 for every well-formed request.

use axum::http::{HeaderMap, HeaderValue, header};

/// A media type the gateway answers GraphQL in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaType {
    /// `application/graphql-response+json`: status codes say whether the operation ran.
    GraphqlResponse,
    /// `application/json`: the legacy type; 200 for every well-formed request.
    Json,
}

impl MediaType {
    pub(crate) fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        })
    }
}

/// The client accepts neither media type the gateway writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "this endpoint answers in application/graphql-response+json or application/json; \
     send an Accept header allowing one of them"
)]
pub(crate) struct NotAcceptable;

/// The most preferred media type the client accepts. No `Accept` header means
/// `application/json`, as the specification asks of servers that still serve legacy clients;
/// so do `*/*` and `application/*`, since a client that does not say cannot be assumed to
/// understand the newer type. Between equal preferences the newer type wins.
pub(crate) fn negotiate(headers: &HeaderMap) -> Result<MediaType, NotAcceptable> {
    let mut offers = headers.get_all(header::ACCEPT).iter().peekable();
    if offers.peek().is_none() {
        return Ok(MediaType::Json);
    }
    let mut best: Option<(f32, MediaType)> = None;
    for range in offers
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
    {
        let Some((media_type, quality)) = parse_range(range) else {
            continue;
        };
        if quality <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_quality, best_type)) => {
                quality > best_quality
                    || (quality == best_quality
                        && media_type == MediaType::GraphqlResponse
                        && best_type == MediaType::Json)
            }
        };
        if better {
            best = Some((quality, media_type));
        }
    }
    best.map(|(_, media_type)| media_type).ok_or(NotAcceptable)
}

/// One `Accept` entry: the media type it selects (if one of ours) and its `q` weight.
fn parse_range(range: &str) -> Option<(MediaType, f32)> {
    let mut parts = range.split(';').map(str::trim);
    let essence = parts.next()?.to_ascii_lowercase();
    let media_type = match essence.as_str() {
        "application/graphql-response+json" => MediaType::GraphqlResponse,
        "application/json" | "application/*" | "*/*" => MediaType::Json,
        _ => return None,
    };
    let mut quality = 1.0;
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("q") {
            quality = value.trim().parse::<f32>().ok()?.clamp(0.0, 1.0);
        }
    }
    Some((media_type, quality))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Result<MediaType, NotAcceptable> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn no_accept_header_means_legacy_json() {
        assert_eq!(negotiate(&HeaderMap::new()), Ok(MediaType::Json));
    }

    #[test]
    fn wildcards_mean_legacy_json() {
        assert_eq!(accept("*/*"), Ok(MediaType::Json));
        assert_eq!(accept("application/*"), Ok(MediaType::Json));
    }

    #[test]
    fn the_newer_type_wins_ties_and_weights_decide_otherwise() {
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            Ok(MediaType::GraphqlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json"),
            Ok(MediaType::Json)
        );
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Ok(MediaType::GraphqlResponse)
        );
        assert_eq!(
            accept("Application/JSON; charset=utf-8"),
            Ok(MediaType::Json)
        );
    }

    #[test]
    fn other_types_and_refused_types_are_not_acceptable() {
        assert_eq!(accept("text/html"), Err(NotAcceptable));
        assert_eq!(accept("application/json;q=0"), Err(NotAcceptable));
        assert_eq!(accept("application/json;q=oops"), Err(NotAcceptable));
    }
}
