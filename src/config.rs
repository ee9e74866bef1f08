//! Typed, validated settings for every part of the process, assembled into [`GatewayConfig`].
//!
//! A group of settings that is all flags is one struct that derives `clap::Args`: each field
//! is the setting, its flag, its environment variable and its typed default at once. Groups
//! owned by one part of the gateway live beside it and are re-exported here (the caches'
//! [`CacheConfig`], the upstream client's [`UpstreamConfig`], the webhook endpoint's
//! [`WebhookConfig`]); groups that several parts read stay here. `cli.rs` assembles them,
//! with the settings that depend on the command. Everything else receives them already
//! parsed, and tests build them with struct literals over `Default`.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use clap::builder::{RangedU64ValueParser, TypedValueParser as _};
use secrecy::SecretString;
use url::Url;

pub use crate::http::webhooks::{WebhookConfig, WebhookToken};
pub use crate::loaders::CacheConfig;
pub use crate::upstream::{BreakerConfig, UpstreamAuth, UpstreamConfig};

/// Where the gateway listens by default (the README's `cargo run --release`).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
/// Where the embedded or stand-alone sandbox listens by default.
pub const DEFAULT_SANDBOX_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8081));
/// How long a stopping gateway lets in-flight requests finish before cutting them off.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP connections served at once. Past it new connections wait in the listen backlog until
/// one closes: each costs a file descriptor and buffers, so the number must have a ceiling.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// WebSocket connections open at once; past it upgrades are answered 503.
pub const DEFAULT_MAX_WEBSOCKETS: usize = 1024;
/// How long a client has to send a request's headers (the first request's, and each next one's
/// on a kept-alive connection), so that slow or idle connections do not hold their slot.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a WebSocket may stay open without sending `connection_init`: graphql-ws's own
/// server default. Clients send it as soon as the socket opens.
pub const DEFAULT_WEBSOCKET_INIT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a send's idempotency key is remembered: a client's retries come within minutes,
/// and a day covers a retry queue that waited out an outage.
pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Settings of the gateway process.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Address of the GraphQL endpoint.
    pub listen: SocketAddr,
    /// How to reach and call the upstream API.
    pub upstream: UpstreamConfig,
    /// What the gateway keeps, and for how long.
    pub cache: CacheConfig,
    /// How large and demanding one request may be.
    pub limits: LimitsConfig,
    /// Which webhooks `POST /webhooks/heymarket` accepts.
    pub webhooks: WebhookConfig,
    /// Redis shared by replicas: webhook events, cache invalidation, the upstream rate budget.
    /// `None` runs everything in process.
    pub redis_url: Option<Url>,
    /// How callers prove who they are when the gateway holds the upstream credential. `None`
    /// in pass-through mode (the upstream checks each caller's own bearer) and in sandbox mode.
    pub client_auth: Option<ClientAuthConfig>,
    /// Set when the upstream is the embedded sandbox: GraphiQL and acting-member defaults are
    /// tuned for exploring without credentials.
    pub sandbox_mode: bool,
    /// How the HTTP surface behaves towards browsers and clients.
    pub http: HttpConfig,
    /// How long a stop (SIGTERM, Ctrl-C) waits for in-flight requests and subscriptions to
    /// finish before cutting them off.
    pub shutdown_timeout: Duration,
    /// How many connections the gateway holds open, and how long it waits on silent ones.
    pub connections: ConnectionConfig,
    /// The secret cursors are signed with (every replica needs the same); `None` derives it
    /// from the upstream credential, or, in pass-through mode, makes one per process.
    pub cursor_secret: Option<SecretString>,
    /// How long a send's idempotency key, and what it led to, is remembered (in Redis when
    /// configured): a retry with the key within it answers the first send.
    pub idempotency_ttl: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            upstream: UpstreamConfig::default(),
            cache: CacheConfig::default(),
            limits: LimitsConfig::default(),
            webhooks: WebhookConfig::default(),
            redis_url: None,
            client_auth: None,
            sandbox_mode: false,
            http: HttpConfig::default(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            connections: ConnectionConfig::default(),
            cursor_secret: None,
            idempotency_ttl: DEFAULT_IDEMPOTENCY_TTL,
        }
    }
}

/// Ceilings on what connections may hold: how many are open, and how long a silent one lasts.
/// The server holds the first and third, the WebSocket route the others.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ConnectionConfig {
    /// HTTP connections served at once; more wait in the listen backlog until one closes
    /// (WebSockets, once upgraded, count against --max-websockets instead).
    #[arg(long, env = "HEYMARKET_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,

    /// WebSocket connections open at once; more upgrades are answered 503.
    #[arg(long, env = "HEYMARKET_MAX_WEBSOCKETS", default_value_t = DEFAULT_MAX_WEBSOCKETS, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_websockets: usize,

    /// How long a client has to send a request's headers before it is disconnected; an idle
    /// kept-alive connection is closed after it too.
    #[arg(long, env = "HEYMARKET_HEADER_READ_TIMEOUT", default_value = duration_text(DEFAULT_HEADER_READ_TIMEOUT), value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// How long a WebSocket may stay open without sending `connection_init`; then it is closed
    /// with 4408.
    #[arg(long, env = "HEYMARKET_WEBSOCKET_INIT_TIMEOUT", default_value = duration_text(DEFAULT_WEBSOCKET_INIT_TIMEOUT), value_parser = humantime::parse_duration)]
    pub websocket_init_timeout: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_websockets: DEFAULT_MAX_WEBSOCKETS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            websocket_init_timeout: DEFAULT_WEBSOCKET_INIT_TIMEOUT,
        }
    }
}

/// How the HTTP surface behaves towards browsers and clients.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// A directory whose GraphiQL files are served at `/graphiql/assets` instead of the
    /// built-in ones (a patched or restyled build, without rebuilding the gateway).
    pub graphiql_assets: Option<PathBuf>,
    /// Which web origins browsers may call the gateway from.
    pub cors: CorsOrigins,
    /// Request headers those origins' pages may send, beyond the ones the gateway reads.
    pub cors_headers: CorsHeaders,
    /// Whether answers are compressed (gzip or brotli) for clients that accept it.
    pub compression: bool,
    /// A manifest of the only operations to run; `None` runs any operation, and learns
    /// persisted queries from clients (APQ).
    pub operation_allowlist: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            graphiql_assets: None,
            cors: CorsOrigins::Nobody,
            cors_headers: CorsHeaders::Any,
            compression: true,
            operation_allowlist: None,
        }
    }
}

/// Web origins allowed to call the gateway from a browser (CORS). Callers authenticate with
/// bearer tokens, never cookies, so no origin is ever sent credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No cross-origin browser calls (same-origin pages and non-browser clients still work).
    Nobody,
    /// Any origin: the sandbox, which has no access control anyway.
    Anyone,
    /// Exactly these origins (`scheme://host[:port]`).
    Only(Vec<String>),
}

/// Request headers a page on an allowed origin may send. Client libraries and tracing add their
/// own (`apollographql-client-name`, `traceparent`, `baggage`…), and a preflight that leaves
/// one out fails the request in the browser with no more than "Failed to fetch".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsHeaders {
    /// Whatever the preflight asks for: the origin allowlist is the boundary, and the gateway
    /// reads only the headers it knows.
    Any,
    /// The headers the gateway reads, and these.
    Also(Vec<String>),
}

/// Why a CORS header setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an HTTP header name; list names such as traceparent, or * for any")]
pub struct InvalidHeaderName(pub String);

impl CorsHeaders {
    /// Headers as listed in `--cors-allow-header`: `*` or nothing listed means any.
    pub fn from_list(listed: &[String]) -> Result<Self, InvalidHeaderName> {
        if listed.is_empty() || listed.iter().any(|name| name == "*") {
            return Ok(Self::Any);
        }
        listed
            .iter()
            .map(|name| {
                axum::http::HeaderName::from_bytes(name.trim().as_bytes())
                    .map(|name| name.as_str().to_owned())
                    .map_err(|_| InvalidHeaderName(name.clone()))
            })
            .collect::<Result<_, _>>()
            .map(Self::Also)
    }
}

/// Why a CORS origin setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a web origin; write it as scheme://host[:port], e.g. https://app.example.com, or * for any"
)]
pub struct InvalidOrigin(pub String);

impl CorsOrigins {
    /// Origins as listed in `--cors-allow-origin`: `*` alone means any; nothing listed means
    /// `default`.
    pub fn from_list(listed: &[String], default: Self) -> Result<Self, InvalidOrigin> {
        if listed.is_empty() {
            return Ok(default);
        }
        if listed.iter().any(|origin| origin == "*") {
            return Ok(Self::Anyone);
        }
        listed
            .iter()
            .map(|origin| parse_origin(origin))
            .collect::<Result<_, _>>()
            .map(Self::Only)
    }
}

/// The ASCII serialisation of an origin (what browsers send in `Origin`), from a URL that has
/// nothing but a scheme, a host and maybe a port.
fn parse_origin(text: &str) -> Result<String, InvalidOrigin> {
    let invalid = || InvalidOrigin(text.to_owned());
    let url = Url::parse(text).map_err(|_| invalid())?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && !text.trim_end_matches('/').ends_with(':');
    if !bare {
        return Err(invalid());
    }
    Ok(url.origin().ascii_serialization())
}

/// Deepest selection nesting accepted (the dashboard needs 5).
pub const DEFAULT_MAX_DEPTH: usize = 10;
/// Highest query complexity accepted: every field counts 1, and a connection multiplies what it
/// selects by its `first` (the dashboard costs about 500).
pub const DEFAULT_MAX_COMPLEXITY: usize = 5_000;
/// Most aliased fields in one request.
pub const DEFAULT_MAX_ALIASES: usize = 30;
/// Most root fields in one operation.
pub const DEFAULT_MAX_ROOT_FIELDS: usize = 20;
/// Deepest nesting of braces, brackets and parentheses in a document, counted on its text
/// before it is parsed (a depth-10 query with nested input values needs about 20).
pub const DEFAULT_MAX_NESTING: usize = 32;
/// Most selections in a document once its fragments are expanded where they are spread (the
/// dashboard has about 40; GraphiQL's introspection query about 600).
pub const DEFAULT_MAX_SELECTIONS: usize = 5_000;
/// Largest GraphQL request body accepted.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// Longest one GraphQL request may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests one client identity may make: generous for people and dashboards, a brake on a
/// runaway script.
pub const DEFAULT_CLIENT_RATE_LIMIT: RateBudget = RateBudget::per_minute(600);
/// Upstream calls one operation may make, retries included. The heaviest screens need far
/// fewer (see "What a query costs" in docs/api.md); the bound keeps one request from spending
/// a large share of its team's per-minute budget.
pub const DEFAULT_MAX_UPSTREAM_CALLS: u64 = 100;
/// Upstream pages one list field reads per request. An unfiltered page of 100 needs 3 to 6 at
/// the page sizes the upstream plausibly uses; the rest is room for filters the gateway applies
/// itself, and the bound keeps a sparse one from scanning a whole list in one request.
pub const DEFAULT_MAX_LIST_PAGES: usize = 20;

/// How large and demanding one GraphQL request may be. Every limit is checked before any
/// upstream call; async-graphql enforces none by default. Read by the HTTP routes, the schema,
/// the client rate limit and the upstream budget, so it stays here.
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// Deepest selection nesting accepted; an introspection field (`__schema`, `__type`)
    /// counts as one level.
    #[arg(long, env = "HEYMARKET_MAX_DEPTH", default_value_t = DEFAULT_MAX_DEPTH)]
    pub max_depth: usize,

    /// Highest query complexity accepted: each field counts 1, and a connection multiplies
    /// what it selects by its `first`.
    #[arg(long, env = "HEYMARKET_MAX_COMPLEXITY", default_value_t = DEFAULT_MAX_COMPLEXITY)]
    pub max_complexity: usize,

    /// Most aliased fields in one request.
    #[arg(long, env = "HEYMARKET_MAX_ALIASES", default_value_t = DEFAULT_MAX_ALIASES)]
    pub max_aliases: usize,

    /// Most root fields in one operation.
    #[arg(long, env = "HEYMARKET_MAX_ROOT_FIELDS", default_value_t = DEFAULT_MAX_ROOT_FIELDS)]
    pub max_root_fields: usize,

    /// Deepest nesting of braces, brackets and parentheses in a document, counted on its text
    /// before it is parsed.
    #[arg(long, env = "HEYMARKET_MAX_NESTING", default_value_t = DEFAULT_MAX_NESTING)]
    pub max_nesting: usize,

    /// Most selections in a document once every fragment spread is expanded where it is used,
    /// counted before validation.
    #[arg(long, env = "HEYMARKET_MAX_SELECTIONS", default_value_t = DEFAULT_MAX_SELECTIONS)]
    pub max_selections: usize,

    /// Largest GraphQL request body, in bytes.
    #[arg(long = "max-body", env = "HEYMARKET_MAX_BODY", value_name = "MAX_BODY", default_value_t = DEFAULT_MAX_BODY)]
    pub max_body_bytes: usize,

    /// Longest one query or mutation may take.
    // Subscriptions run until closed.
    #[arg(long, env = "HEYMARKET_REQUEST_TIMEOUT", default_value = duration_text(DEFAULT_REQUEST_TIMEOUT), value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Whether the schema can be introspected (GraphiQL and code generators need it).
    #[arg(long, env = "HEYMARKET_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,

    /// Requests one client may make, e.g. `600/min`: a burst of that many, refilled over the
    /// window. A client is a token's member, a pass-through credential, or (in sandbox mode) a
    /// member at one address; each query, mutation or subscription started counts one.
    // More are answered `RATE_LIMITED` before any upstream call.
    #[arg(long, env = "HEYMARKET_CLIENT_RATE_LIMIT", default_value_t = DEFAULT_CLIENT_RATE_LIMIT)]
    pub client_rate_limit: RateBudget,

    /// Upstream calls one operation may make, retries included (each event a subscription
    /// delivers counts as one operation). A call beyond them is never sent: the field that
    /// needed it fails with `UPSTREAM_BUDGET_EXCEEDED`.
    #[arg(long, env = "HEYMARKET_MAX_UPSTREAM_CALLS", default_value_t = DEFAULT_MAX_UPSTREAM_CALLS, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_upstream_calls: u64,

    /// Upstream pages one list field reads per request (2 to 1000). A list that has not found
    /// `first` matches in them (the gateway checks every filter itself, and applies those the
    /// upstream ignores) answers what it found, with `hasNextPage` and an `endCursor` that
    /// continues the scan where it stopped.
    #[arg(long, env = "HEYMARKET_MAX_LIST_PAGES", default_value_t = DEFAULT_MAX_LIST_PAGES, value_parser = clap::value_parser!(u64).range(crate::pagination::MIN_PAGES as u64..=1000).map(|pages| pages as usize))]
    pub max_list_pages: usize,
}

/// What a document may hold before the GraphQL library parses or validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    /// Deepest nesting of braces, brackets and parentheses.
    pub max_nesting: usize,
    /// Most selections once every fragment spread is expanded where it is used.
    pub max_selections: usize,
}

impl LimitsConfig {
    /// The limits checked on a document before the GraphQL library parses or validates it.
    pub fn document(&self) -> DocumentLimits {
        DocumentLimits {
            max_nesting: self.max_nesting,
            max_selections: self.max_selections,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
            max_complexity: DEFAULT_MAX_COMPLEXITY,
            max_aliases: DEFAULT_MAX_ALIASES,
            max_root_fields: DEFAULT_MAX_ROOT_FIELDS,
            max_nesting: DEFAULT_MAX_NESTING,
            max_selections: DEFAULT_MAX_SELECTIONS,
            max_body_bytes: DEFAULT_MAX_BODY,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            introspection: true,
            client_rate_limit: DEFAULT_CLIENT_RATE_LIMIT,
            max_upstream_calls: DEFAULT_MAX_UPSTREAM_CALLS,
            max_list_pages: DEFAULT_MAX_LIST_PAGES,
        }
    }
}

/// The claim naming the acting member in client tokens, unless configured otherwise.
pub const DEFAULT_CLIENT_MEMBER_CLAIM: &str = "member_id";
/// Clock skew tolerated on a client token's `exp` and `nbf`.
pub const DEFAULT_CLIENT_JWT_LEEWAY: Duration = Duration::from_secs(30);
/// Shortest time between two fetches of a JWKS URL, however many tokens name unknown keys.
pub const DEFAULT_CLIENT_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// How callers authenticate when the gateway holds the upstream credential: with a JWT whose
/// signature, times, audience and issuer the gateway checks, and whose claim names the member
/// the caller acts as.
#[derive(Debug, Clone)]
pub struct ClientAuthConfig {
    /// Shared secret of HS256 tokens.
    pub jwt_secret: Option<SecretString>,
    /// Public keys of RS256 and ES256 tokens.
    pub jwks: Option<JwksSource>,
    /// When set, tokens must carry it in `aud`.
    pub audience: Option<String>,
    /// When set, tokens must carry it as `iss`.
    pub issuer: Option<String>,
    /// The claim naming the acting member's id (an integer, or a string of digits).
    pub member_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Shortest time between two fetches of a JWKS URL.
    pub jwks_refetch_interval: Duration,
}

impl Default for ClientAuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwks: None,
            audience: None,
            issuer: None,
            member_claim: DEFAULT_CLIENT_MEMBER_CLAIM.to_owned(),
            leeway: DEFAULT_CLIENT_JWT_LEEWAY,
            jwks_refetch_interval: DEFAULT_CLIENT_JWKS_REFETCH_INTERVAL,
        }
    }
}

/// Where the public keys of client tokens come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A JWKS document read once at start.
    File(PathBuf),
    /// A JWKS document fetched at start, and again when a token names a key it lacks.
    Url(Url),
}

/// A request budget: at most `requests` in any window of length `per`.
///
/// Written `N/unit` or `N/<duration>`: `500/min`, `20/s`, `10/2s`, `1000/1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    pub requests: u32,
    pub per: Duration,
}

impl FromStr for RateBudget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("`{s}` is not a rate budget; write it like `500/min` or `10/2s`");
        let (count, window) = s.split_once('/').ok_or_else(usage)?;
        let requests: u32 = count.trim().parse().map_err(|_| usage())?;
        let window = window.trim();
        let per = match window {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other).map_err(|_| usage())?,
        };
        if requests == 0 || per.is_zero() {
            return Err(format!(
                "`{s}` allows nothing; the count and the window must be above zero"
            ));
        }
        Ok(Self { requests, per })
    }
}

impl RateBudget {
    /// `requests` in any minute.
    pub const fn per_minute(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(60),
        }
    }
}

/// Written back the way it is configured: `480/min`, `20/s`, `10/2s`.
impl fmt::Display for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let window = match self.per.as_millis() {
            1_000 => "s".to_owned(),
            60_000 => "min".to_owned(),
            3_600_000 => "h".to_owned(),
            _ => duration_text(self.per),
        };
        write!(f, "{}/{window}", self.requests)
    }
}

/// `duration` as the duration flags take it, in its largest whole unit (`24h`, `5m`, `100ms`):
/// how `--help` shows a default that is kept as a [`Duration`].
pub fn duration_text(duration: Duration) -> String {
    const UNITS: [(u128, &str); 4] = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];
    let millis = duration.as_millis();
    if millis == 0 || duration.subsec_nanos() % 1_000_000 != 0 {
        return humantime::format_duration(duration).to_string();
    }
    let (size, unit) = UNITS
        .into_iter()
        .find(|(size, _)| millis % size == 0)
        .unwrap_or((1, "ms"));
    format!("{}{unit}", millis / size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let _ = GatewayConfig::default();
    }

    #[test]
    fn durations_are_written_in_their_largest_whole_unit_and_read_back() {
        for (duration, text) in [
            (Duration::from_secs(24 * 60 * 60), "24h"),
            (Duration::from_secs(5 * 60), "5m"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_millis(1_500), "1500ms"),
            (Duration::ZERO, "0s"),
            (Duration::from_micros(1_500), "1ms 500us"),
        ] {
            assert_eq!(duration_text(duration), text);
            assert_eq!(humantime::parse_duration(text), Ok(duration), "{text}");
        }
    }

    #[test]
    fn rate_budgets_are_written_as_they_are_configured() {
        for text in ["480/min", "20/s", "1000/h", "10/2s", "5/90s"] {
            let budget: RateBudget = text.parse().unwrap();
            assert_eq!(budget.to_string(), text);
        }
    }

    #[test]
    fn cors_headers_are_header_names_or_a_wildcard() {
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|item| item.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(CorsHeaders::from_list(&[]), Ok(CorsHeaders::Any));
        assert_eq!(
            CorsHeaders::from_list(&list(&["traceparent", "*"])),
            Ok(CorsHeaders::Any)
        );
        assert_eq!(
            CorsHeaders::from_list(&list(&["Traceparent", "x-app"])),
            Ok(CorsHeaders::Also(list(&["traceparent", "x-app"])))
        );
        assert_eq!(
            CorsHeaders::from_list(&list(&["not a header"])),
            Err(InvalidHeaderName("not a header".to_owned()))
        );
    }

    #[test]
    fn cors_origins_are_bare_web_origins_or_a_wildcard() {
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|item| item.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            CorsOrigins::from_list(&[], CorsOrigins::Anyone),
            Ok(CorsOrigins::Anyone)
        );
        assert_eq!(
            CorsOrigins::from_list(&list(&["https://a.example", "*"]), CorsOrigins::Nobody),
            Ok(CorsOrigins::Anyone)
        );
        assert_eq!(
            CorsOrigins::from_list(
                &list(&[
                    "https://App.Example/",
                    "http://localhost:3000",
                    "https://b.example:443"
                ]),
                CorsOrigins::Nobody
            ),
            Ok(CorsOrigins::Only(list(&[
                "https://app.example",
                "http://localhost:3000",
                "https://b.example"
            ])))
        );
        for bad in [
            "app.example",
            "https://app.example/path",
            "https://app.example?x=1",
            "ftp://app.example",
            "https://user@app.example",
            "https://app.example:",
        ] {
            assert_eq!(
                CorsOrigins::from_list(&list(&[bad]), CorsOrigins::Nobody),
                Err(InvalidOrigin(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn rate_budgets_parse_in_every_documented_form() {
        let minute = RateBudget {
            requests: 500,
            per: Duration::from_secs(60),
        };
        assert_eq!("500/min".parse::<RateBudget>(), Ok(minute));
        assert_eq!("500/60s".parse::<RateBudget>(), Ok(minute));
        assert_eq!(
            "10/2s".parse::<RateBudget>(),
            Ok(RateBudget {
                requests: 10,
                per: Duration::from_secs(2)
            })
        );
        assert_eq!(
            "20 / s".parse::<RateBudget>(),
            Ok(RateBudget {
                requests: 20,
                per: Duration::from_secs(1)
            })
        );
    }

    #[test]
    fn bad_rate_budgets_are_refused_with_a_hint() {
        for bad in [
            "",
            "500",
            "x/min",
            "500/fortnight",
            "0/min",
            "5/0s",
            "-1/min",
        ] {
            let err = bad.parse::<RateBudget>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
