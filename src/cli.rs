//! The commands, their own flags, and the one parse of the command line.
//!
//! Every flag has an environment variable; both are listed by `--help`. Most flags are fields
//! of the settings structs they fill (see [`crate::config`]), flattened in here: [`GatewayArgs`]
//! holds those the default run and `serve` share and assembles [`GatewayConfig`], and each
//! command adds its own. Values are parsed into their real types (addresses, URLs, durations,
//! budgets), so a bad value is a one-line error before anything starts. A configuration file's
//! settings are the flags' defaults ([`Cli::try_parse_over`]).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use clap::error::{ContextKind, ContextValue};
use clap::{Args, CommandFactory, FromArgMatches as _, Parser, Subcommand, ValueEnum};
use heymarket_sandbox::SandboxConfig;
use heymarket_sandbox::readings::{self, ReadingOverride, Readings};
use secrecy::SecretString;
use url::Url;

use crate::config::{
    self, CacheConfig, ClientAuthConfig, ConnectionConfig, CorsHeaders, CorsOrigins, GatewayConfig,
    HttpConfig, InvalidHeaderName, InvalidOrigin, JwksSource, LimitsConfig, UpstreamAuth,
    UpstreamConfig, WebhookConfig, duration_text,
};
use crate::config_file::{CONFIG_FLAG, CONFIG_VARIABLE, ConfigFile};
use crate::upstream::DEFAULT_UPSTREAM_URL;

/// A GraphQL gateway over the Heymarket conversation REST API.
///
/// Without a subcommand it starts the embedded sandbox (a simulated Heymarket API with seeded
/// data) and the gateway in front of it, with GraphiQL: no credentials or configuration needed.
#[derive(Debug, Parser)]
#[command(
    name = "heymarket-gateway",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub demo: DemoArgs,

    /// Log output: `pretty` for people, `json` for log pipelines, `auto` picks by terminal.
    #[arg(
        long,
        global = true,
        env = "HEYMARKET_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Auto
    )]
    pub log_format: LogFormat,

    /// A file of settings, one `NAME=value` per line with the environment variables' names
    /// (see docs/configuration.md); the environment and flags override it.
    #[arg(long = CONFIG_FLAG, global = true, env = CONFIG_VARIABLE)]
    pub config: Option<PathBuf>,

    /// Export tracing spans over OTLP/HTTP (protobuf) to this collector: its base URL, to which
    /// `/v1/traces` is appended (e.g. `http://127.0.0.1:4318`). No export when unset.
    #[arg(long, global = true, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<Url>,
}

impl Cli {
    /// Parses `args` (program name first) like [`Parser::parse_from`], printing the error and
    /// exiting when they do not parse, over the environment and then `file`, whose settings are
    /// the flags' defaults. An invalid value of a secret setting is not echoed back: the error
    /// names the setting only.
    pub fn parse_hiding_secrets(args: Vec<OsString>, file: Option<&ConfigFile>) -> Self {
        Self::try_parse_over(args, file).unwrap_or_else(|error| hide_secret_value(error).exit())
    }

    /// Parses `args` once: a flag wins over its environment variable, the variable over
    /// `file`'s setting, and that over the built-in default.
    pub fn try_parse_over(
        args: Vec<OsString>,
        file: Option<&ConfigFile>,
    ) -> Result<Self, clap::Error> {
        let mut command = Self::command();
        if let Some(file) = file {
            command = file.apply_defaults(command);
        }
        let matches = command.try_get_matches_from_mut(args)?;
        Self::from_arg_matches(&matches).map_err(|error| error.format(&mut command))
    }
}

/// `error` with the offending value blanked out when it belongs to a secret setting: one whose
/// environment value `--help` hides, the mark every credential flag carries.
fn hide_secret_value(mut error: clap::Error) -> clap::Error {
    let Some(ContextValue::String(argument)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    // Rendered as `--name <VALUE>`.
    let flag = argument.split_whitespace().next().unwrap_or_default();
    if secret_flags(&Cli::command())
        .iter()
        .any(|secret| secret == flag)
    {
        error.insert(
            ContextKind::InvalidValue,
            ContextValue::String("***".to_owned()),
        );
    }
    error
}

/// `--name` of every flag of `command` and its subcommands whose value is a secret.
fn secret_flags(command: &clap::Command) -> Vec<String> {
    let own = command
        .get_arguments()
        .filter(|argument| argument.is_hide_env_values_set())
        .filter_map(|argument| argument.get_long())
        .map(|long| format!("--{long}"));
    let nested = command.get_subcommands().flat_map(secret_flags);
    own.chain(nested).collect()
}

/// What the process runs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway in front of a real Heymarket API (production mode).
    Serve(Box<ServeArgs>),
    /// Run only the simulated Heymarket API.
    Sandbox(SandboxArgs),
    /// Print the GraphQL schema (SDL) and exit.
    Schema,
    /// Probe a running gateway's liveness endpoint; exit 0 when it answers 2xx (for container
    /// health checks, where no HTTP tool is installed).
    Healthcheck(HealthcheckArgs),
}

/// How long the health probe waits for an answer: a container runtime gives a check a few
/// seconds, and a live gateway answers in milliseconds.
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the health probe looks.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// URL of the liveness endpoint.
    #[arg(
        long,
        env = "HEYMARKET_HEALTHCHECK_URL",
        default_value = format!("http://{}/healthz", config::DEFAULT_LISTEN)
    )]
    pub url: Url,

    /// Give up after this long.
    #[arg(long, default_value = duration_text(HEALTHCHECK_TIMEOUT), value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Pretty,
    Json,
}

/// The default run: the embedded sandbox plus the gateway in front of it.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub gateway: GatewayArgs,

    /// Address of the embedded sandbox, so other tools can call the simulated API directly.
    #[arg(long, env = "HEYMARKET_SANDBOX_LISTEN", default_value_t = config::DEFAULT_SANDBOX_LISTEN)]
    pub sandbox_listen: SocketAddr,

    #[command(flatten)]
    pub data: SandboxData,
}

/// Production mode: the gateway in front of a real Heymarket API.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Base URL of the Heymarket REST API.
    #[arg(long, env = "HEYMARKET_UPSTREAM_URL", default_value = DEFAULT_UPSTREAM_URL)]
    pub upstream_url: Url,

    /// API secret ID; with --secret-key the gateway signs its own short-lived JWTs.
    #[arg(long, env = "HEYMARKET_SECRET_ID")]
    pub secret_id: Option<String>,

    /// API secret key (prefer the environment variable: flags show up in process lists).
    #[arg(long, env = "HEYMARKET_SECRET_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub secret_key: Option<SecretString>,

    /// Legacy team API key, used instead of an API secret. With neither configured, each
    /// caller's own `Authorization: Bearer` token is passed through to the upstream.
    #[arg(long, env = "HEYMARKET_API_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub api_key: Option<SecretString>,

    /// Secret that pagination cursors are signed with, at least 32 bytes; every replica needs
    /// the same. Default: derived from the upstream credential (a new one per process in
    /// pass-through mode, so set it there when running several replicas).
    #[arg(long, env = "HEYMARKET_CURSOR_SECRET", hide_env_values = true, value_parser = parse_key_secret)]
    pub cursor_secret: Option<SecretString>,

    #[command(flatten)]
    pub gateway: GatewayArgs,

    #[command(flatten)]
    pub client_auth: ClientAuthArgs,
}

/// The simulated upstream on its own.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address of the sandbox.
    #[arg(long, env = "HEYMARKET_SANDBOX_LISTEN", default_value_t = config::DEFAULT_SANDBOX_LISTEN)]
    pub listen: SocketAddr,

    /// Where to POST webhook events (none are sent when unset).
    #[arg(long, env = "HEYMARKET_SANDBOX_WEBHOOK_URL")]
    pub webhook_url: Option<Url>,

    /// Verification token carried in every webhook envelope.
    #[arg(
        long,
        env = "HEYMARKET_SANDBOX_WEBHOOK_TOKEN",
        default_value = heymarket_sandbox::DEFAULT_SANDBOX_WEBHOOK_TOKEN
    )]
    pub webhook_token: String,

    #[command(flatten)]
    pub data: SandboxData,
}

/// The gateway's settings that are the same in the default run and in `serve`: each group's
/// struct (in `config`, or beside the part it configures) holds its own flags.
#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Address of the gateway (GraphQL, GraphiQL, health).
    #[arg(long, env = "HEYMARKET_LISTEN", default_value_t = config::DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub upstream: UpstreamConfig,

    #[command(flatten)]
    pub cache: CacheConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub http: HttpArgs,

    /// How long a stop (SIGTERM, Ctrl-C) lets in-flight requests finish and subscriptions
    /// close; requests still running then are cut off and the process exits non-zero.
    #[arg(long, env = "HEYMARKET_SHUTDOWN_TIMEOUT", default_value = duration_text(config::DEFAULT_SHUTDOWN_TIMEOUT), value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,

    /// How long a send's idempotency key, and what it led to, is remembered (in Redis when
    /// `REDIS_URL` is set): a retry with the same key within it answers the first send instead
    /// of sending again.
    #[arg(long, env = "HEYMARKET_IDEMPOTENCY_TTL", default_value = duration_text(config::DEFAULT_IDEMPOTENCY_TTL), value_parser = parse_ttl)]
    pub idempotency_ttl: Duration,

    #[command(flatten)]
    pub connections: ConnectionConfig,

    /// Redis shared by replicas (webhook events, cache invalidation, the upstream rate
    /// budget), e.g. `redis://127.0.0.1:6379`. Without it everything stays in this process.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<Url>,

    #[command(flatten)]
    pub webhooks: WebhookConfig,
}

impl GatewayArgs {
    /// The gateway's settings for calls to the upstream at `base_url` with `auth`, letting
    /// browsers in from `default_cors` unless origins are listed. Without client
    /// authentication, a cursor secret or sandbox mode: the command adds those it has.
    pub fn into_config(
        self,
        base_url: Url,
        auth: UpstreamAuth,
        default_cors: CorsOrigins,
    ) -> Result<GatewayConfig, ConfigError> {
        let upstream = self.upstream;
        if upstream.backoff_base > upstream.backoff_max {
            return Err(ConfigError::BackoffRange {
                base: upstream.backoff_base,
                max: upstream.backoff_max,
            });
        }
        Ok(GatewayConfig {
            listen: self.listen,
            upstream: UpstreamConfig {
                base_url,
                auth,
                ..upstream
            },
            cache: self.cache,
            limits: self.limits,
            webhooks: self.webhooks,
            redis_url: self.redis_url,
            client_auth: None,
            sandbox_mode: false,
            http: self.http.into_config(default_cors)?,
            shutdown_timeout: self.shutdown_timeout,
            connections: self.connections,
            cursor_secret: None,
            idempotency_ttl: self.idempotency_ttl,
        })
    }
}

/// How the HTTP surface behaves towards browsers and clients.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// A directory whose GraphiQL files replace the built-in ones, served at `/graphiql/assets`
    /// in the same layout (`assets/graphiql` in the repository). See docs/operating.md.
    #[arg(long, env = "HEYMARKET_GRAPHIQL_ASSETS")]
    pub graphiql_assets: Option<PathBuf>,

    /// A web origin browsers may call the gateway from (`https://app.example.com`), repeated
    /// for several, or `*` for any. Default: none in `serve`, any in sandbox mode.
    #[arg(
        long = "cors-allow-origin",
        env = "HEYMARKET_CORS_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_allow_origins: Vec<String>,

    /// A request header pages on those origins may send beyond the ones the gateway reads
    /// (`traceparent`, `apollographql-client-name`…), repeated for several, or `*` for whatever
    /// the browser asks for. Default: `*`.
    #[arg(
        long = "cors-allow-header",
        env = "HEYMARKET_CORS_ALLOW_HEADERS",
        value_delimiter = ','
    )]
    pub cors_allow_headers: Vec<String>,

    /// Whether answers are compressed (gzip or brotli) for clients that accept it.
    #[arg(long, env = "HEYMARKET_COMPRESSION", default_value_t = true, action = clap::ArgAction::Set)]
    pub compression: bool,

    /// Run only the operations in this manifest (an Apollo persisted-query manifest, or an
    /// object of SHA-256 ids to documents); clients may name them by hash or send them in full.
    #[arg(long, env = "HEYMARKET_OPERATION_ALLOWLIST")]
    pub operation_allowlist: Option<PathBuf>,
}

impl HttpArgs {
    /// The settings, with `default_cors` when no origin is listed.
    pub fn into_config(self, default_cors: CorsOrigins) -> Result<HttpConfig, ConfigError> {
        Ok(HttpConfig {
            graphiql_assets: self.graphiql_assets,
            cors: CorsOrigins::from_list(&self.cors_allow_origins, default_cors)?,
            cors_headers: CorsHeaders::from_list(&self.cors_allow_headers)?,
            compression: self.compression,
            operation_allowlist: self.operation_allowlist,
        })
    }
}

/// How callers authenticate when the gateway holds the upstream credential: with a JWT that
/// the gateway verifies, whose claim names the member acting.
#[derive(Debug, Args)]
pub struct ClientAuthArgs {
    /// Shared secret of HS256 client tokens, at least 32 bytes (prefer the environment
    /// variable).
    #[arg(long, env = "HEYMARKET_CLIENT_JWT_SECRET", hide_env_values = true, value_parser = parse_key_secret)]
    pub client_jwt_secret: Option<SecretString>,

    /// JWKS file with the public keys of RS256 and ES256 client tokens, read at start.
    #[arg(long, env = "HEYMARKET_CLIENT_JWKS_FILE")]
    pub client_jwks_file: Option<PathBuf>,

    /// JWKS URL with the public keys of RS256 and ES256 client tokens, fetched at start and
    /// again when a token names a key it lacked.
    #[arg(long, env = "HEYMARKET_CLIENT_JWKS_URL")]
    pub client_jwks_url: Option<Url>,

    /// Audience client tokens must name in `aud` (unchecked when unset).
    #[arg(long, env = "HEYMARKET_CLIENT_JWT_AUDIENCE")]
    pub client_jwt_audience: Option<String>,

    /// Issuer client tokens must name in `iss` (unchecked when unset).
    #[arg(long, env = "HEYMARKET_CLIENT_JWT_ISSUER")]
    pub client_jwt_issuer: Option<String>,

    /// Claim of client tokens that names the acting member's id.
    #[arg(long, env = "HEYMARKET_CLIENT_MEMBER_CLAIM", default_value = config::DEFAULT_CLIENT_MEMBER_CLAIM)]
    pub client_member_claim: String,

    /// Clock skew tolerated on a client token's `exp` and `nbf`.
    #[arg(long, env = "HEYMARKET_CLIENT_JWT_LEEWAY", default_value = duration_text(config::DEFAULT_CLIENT_JWT_LEEWAY), value_parser = humantime::parse_duration)]
    pub client_jwt_leeway: Duration,

    /// Shortest time between two fetches of the JWKS URL.
    #[arg(long, env = "HEYMARKET_CLIENT_JWKS_REFETCH_INTERVAL", default_value = duration_text(config::DEFAULT_CLIENT_JWKS_REFETCH_INTERVAL), value_parser = humantime::parse_duration)]
    pub client_jwks_refetch_interval: Duration,
}

impl ClientAuthArgs {
    /// The client authentication these flags describe; `None` when no key is configured.
    // The two JWKS sources are refused here rather than by clap, which does not count a
    // configuration file's settings (the flags' defaults) as given.
    pub fn into_config(self) -> Result<Option<ClientAuthConfig>, ConfigError> {
        let jwks = match (self.client_jwks_file, self.client_jwks_url) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoJwksSources),
            (Some(path), None) => Some(JwksSource::File(path)),
            (None, Some(url)) => Some(JwksSource::Url(url)),
            (None, None) => None,
        };
        if self.client_jwt_secret.is_none() && jwks.is_none() {
            return Ok(None);
        }
        Ok(Some(ClientAuthConfig {
            jwt_secret: self.client_jwt_secret,
            jwks,
            audience: self.client_jwt_audience,
            issuer: self.client_jwt_issuer,
            member_claim: self.client_member_claim,
            leeway: self.client_jwt_leeway,
            jwks_refetch_interval: self.client_jwks_refetch_interval,
        }))
    }
}

/// The sandbox's data set and limits.
#[derive(Debug, Args)]
pub struct SandboxData {
    /// Seed of the generated data; the same seed always yields the same data.
    #[arg(long, env = "HEYMARKET_SANDBOX_SEED", default_value_t = heymarket_sandbox::DEFAULT_SANDBOX_SEED)]
    pub seed: u64,

    /// Simulated teams (tenants), each with its own credentials and data.
    #[arg(long, env = "HEYMARKET_SANDBOX_TEAMS", default_value_t = heymarket_sandbox::DEFAULT_SANDBOX_TEAMS, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub teams: u16,

    /// Members per team: the seeded 12, then more (each in one SMS inbox, in turn, with no
    /// conversation assigned yet), for workloads with many agents.
    #[arg(long, env = "HEYMARKET_SANDBOX_MEMBERS", default_value_t = heymarket_sandbox::DEFAULT_SANDBOX_MEMBERS, value_parser = clap::value_parser!(u16).range(i64::from(heymarket_sandbox::DEFAULT_SANDBOX_MEMBERS)..=1000))]
    pub members: u16,

    /// How the sandbox answers where Heymarket's documentation is open: a named set of
    /// readings (`default` is the most likely reading of each point; see
    /// docs/upstream-assumptions.md).
    #[arg(
        long,
        env = "HEYMARKET_SANDBOX_PROFILE",
        value_name = "NAME",
        default_value = "default",
        value_parser = PossibleValuesParser::new(readings::profile_names()).try_map(|name| Readings::profile(&name))
    )]
    pub sandbox_profile: Readings,

    /// One point read differently from the profile, as `POINT=VALUE` (e.g. `page-size=25`);
    /// repeat the flag, or separate with commas in the variable. `--help` lists the points.
    #[arg(
        long = "sandbox-reading",
        env = "HEYMARKET_SANDBOX_READINGS",
        value_delimiter = ',',
        value_name = "POINT=VALUE",
        long_help = readings_help()
    )]
    pub sandbox_readings: Vec<ReadingOverride>,

    /// Requests the sandbox accepts per team, e.g. `500/min`; more are answered 429.
    #[arg(long, env = "HEYMARKET_SANDBOX_RATE_LIMIT", default_value_t = heymarket_sandbox::DEFAULT_SANDBOX_RATE_LIMIT)]
    pub sandbox_rate_limit: heymarket_sandbox::RateBudget,
}

/// A combination of settings that cannot work, found before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "HEYMARKET_SECRET_ID (--secret-id) is set but HEYMARKET_SECRET_KEY (--secret-key) is not; set both, or neither"
    )]
    SecretKeyMissing,
    #[error(
        "HEYMARKET_SECRET_KEY (--secret-key) is set but HEYMARKET_SECRET_ID (--secret-id) is not; set both, or neither"
    )]
    SecretIdMissing,
    #[error(
        "both an API secret and an API key are configured; keep one (the API secret is recommended)"
    )]
    TwoCredentials,
    #[error(
        "--client-jwks-file (HEYMARKET_CLIENT_JWKS_FILE) cannot be used with --client-jwks-url \
         (HEYMARKET_CLIENT_JWKS_URL); keep one source of client token keys"
    )]
    TwoJwksSources,
    #[error("--cors-allow-origin: {0}")]
    Cors(#[from] InvalidOrigin),
    #[error("--cors-allow-header: {0}")]
    CorsHeader(#[from] InvalidHeaderName),
    #[error("--upstream-backoff ({base:?}) is longer than --upstream-backoff-max ({max:?})")]
    BackoffRange { base: Duration, max: Duration },
    #[error(
        "the gateway holds an upstream credential, so callers must authenticate: configure \
         --client-jwt-secret or --client-jwks-file/--client-jwks-url, or run in pass-through mode"
    )]
    ClientAuthRequired,
    #[error(
        "client tokens need a gateway-held upstream credential (HEYMARKET_SECRET_ID and \
         HEYMARKET_SECRET_KEY, or HEYMARKET_API_KEY); in pass-through mode the upstream checks \
         each caller's own bearer"
    )]
    ClientAuthWithoutCredential,
}

impl ServeArgs {
    /// The gateway's settings, or why these flags cannot work together.
    pub fn into_config(self) -> Result<GatewayConfig, ConfigError> {
        let auth = match (self.secret_id, self.secret_key, self.api_key) {
            (Some(_), Some(_), Some(_)) => return Err(ConfigError::TwoCredentials),
            (Some(id), Some(key), None) => UpstreamAuth::Secret { id, key },
            (Some(_), None, _) => return Err(ConfigError::SecretKeyMissing),
            (None, Some(_), _) => return Err(ConfigError::SecretIdMissing),
            (None, None, Some(key)) => UpstreamAuth::ApiKey(key),
            (None, None, None) => UpstreamAuth::PassThrough,
        };
        // Decided: a gateway-held credential would otherwise serve its whole team to anyone
        // who can reach the port; pass-through needs no gateway check.
        let client_auth = self.client_auth.into_config()?;
        match (&auth, &client_auth) {
            (UpstreamAuth::PassThrough, Some(_)) => {
                return Err(ConfigError::ClientAuthWithoutCredential);
            }
            (UpstreamAuth::Secret { .. } | UpstreamAuth::ApiKey(_), None) => {
                return Err(ConfigError::ClientAuthRequired);
            }
            _ => {}
        }
        Ok(GatewayConfig {
            client_auth,
            cursor_secret: self.cursor_secret,
            ..self
                .gateway
                .into_config(self.upstream_url, auth, CorsOrigins::Nobody)?
        })
    }
}

impl SandboxData {
    /// Sandbox settings that send webhooks to `webhook_url` (if any) with `webhook_token`.
    pub fn into_config(self, webhook_url: Option<Url>, webhook_token: String) -> SandboxConfig {
        SandboxConfig {
            seed: self.seed,
            teams: usize::from(self.teams),
            members: usize::from(self.members),
            readings: self.sandbox_profile.with(&self.sandbox_readings),
            rate_limit: self.sandbox_rate_limit,
            webhook_url,
            webhook_token,
        }
    }
}

/// The long help of `--sandbox-reading`: every point and the values it takes.
fn readings_help() -> String {
    let mut help = String::from(
        "One point read differently from the profile, as POINT=VALUE (e.g. page-size=25); \
         repeat the flag, or separate with commas in the variable. The points:\n",
    );
    for (point, summary, choices) in readings::reading_points() {
        help.push_str(&format!("\n  {point}: {summary}\n      {choices}"));
    }
    help
}

/// A secret for HMAC-SHA256 (client tokens, cursors): RFC 7518 asks for a key at least as long
/// as the hash, 256 bits.
fn parse_key_secret(value: &str) -> Result<SecretString, String> {
    if value.len() < 32 {
        return Err("must be at least 32 bytes long".to_owned());
    }
    Ok(SecretString::from(value.to_owned()))
}

/// A duration something is kept for: zero would keep nothing.
fn parse_ttl(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value) {
        Ok(ttl) if ttl.is_zero() => Err("must be longer than zero".to_owned()),
        Ok(ttl) => Ok(ttl),
        Err(error) => Err(error.to_string()),
    }
}

fn parse_secret(value: &str) -> Result<SecretString, String> {
    if value.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(SecretString::from(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BreakerConfig, RateBudget};

    fn serve(args: &[&str]) -> Result<GatewayConfig, String> {
        serve_over(None, args)
    }

    /// `serve` with `args` over the configuration file `file`.
    fn serve_over(file: Option<&str>, args: &[&str]) -> Result<GatewayConfig, String> {
        let file = file.map(|text| ConfigFile::parse("gateway.env", text).unwrap());
        let mut argv = vec!["heymarket-gateway", "serve"];
        argv.extend_from_slice(args);
        let argv = argv.into_iter().map(OsString::from).collect();
        let cli = Cli::try_parse_over(argv, file.as_ref()).map_err(|e| e.to_string())?;
        match cli.command {
            Some(Command::Serve(serve)) => serve.into_config().map_err(|e| e.to_string()),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_file_fills_in_what_flags_leave_and_defaults_fill_the_rest() {
        let file = "HEYMARKET_MAX_DEPTH=2\n\
                    HEYMARKET_MAX_ALIASES=7\n\
                    HEYMARKET_INTROSPECTION=false\n\
                    HEYMARKET_UPSTREAM_BACKOFF=50ms\n\
                    HEYMARKET_CLIENT_RATE_LIMIT=5/s\n\
                    HEYMARKET_CORS_ALLOW_ORIGINS=https://a.example,https://b.example\n\
                    HEYMARKET_WEBHOOK_MAX_BODY=1024\n\
                    HEYMARKET_ANSWER_CACHE_MIB=1\n";
        let config = serve_over(Some(file), &["--max-depth", "3"]).unwrap();
        let defaults = GatewayConfig::default();

        assert_eq!(config.limits.max_depth, 3, "the flag wins");
        assert_eq!(config.limits.max_aliases, 7);
        assert!(!config.limits.introspection);
        assert_eq!(
            config.upstream.backoff_base,
            Duration::from_millis(50),
            "a nested group's flag"
        );
        assert_eq!(
            config.limits.client_rate_limit,
            RateBudget {
                requests: 5,
                per: Duration::from_secs(1)
            }
        );
        assert_eq!(
            config.http.cors,
            CorsOrigins::Only(vec![
                "https://a.example".to_owned(),
                "https://b.example".to_owned()
            ]),
            "a list is split as the variable's would be"
        );
        assert_eq!(config.webhooks.max_body_bytes, 1024);
        assert_eq!(config.cache.answer_capacity_bytes, 1024 * 1024);
        assert_eq!(
            config.limits.max_root_fields, defaults.limits.max_root_fields,
            "the built-in default where the file says nothing"
        );
        assert_eq!(config.upstream.backoff_max, defaults.upstream.backoff_max);
    }

    #[test]
    fn the_file_feeds_the_checks_that_combine_settings() {
        let credential = "HEYMARKET_API_KEY=key\n";
        assert!(
            serve_over(Some(credential), &[])
                .unwrap_err()
                .contains("--client-jwt-secret")
        );
        let config = serve_over(Some(credential), &["--client-jwt-secret", CLIENT_SECRET]).unwrap();
        assert!(matches!(config.upstream.auth, UpstreamAuth::ApiKey(_)));

        let jwks = "HEYMARKET_API_KEY=key\nHEYMARKET_CLIENT_JWKS_FILE=keys.json\n";
        let both = serve_over(
            Some(jwks),
            &["--client-jwks-url", "https://issuer.example/jwks.json"],
        );
        assert!(both.unwrap_err().contains("cannot be used with"));

        let backoff = serve_over(Some("HEYMARKET_UPSTREAM_BACKOFF=5s\n"), &[]);
        assert!(backoff.unwrap_err().contains("--upstream-backoff-max"));
    }

    #[test]
    fn the_help_shows_the_files_values_but_not_its_secrets() {
        let file = ConfigFile::parse(
            "gateway.env",
            "HEYMARKET_MAX_ALIASES=7\nHEYMARKET_API_KEY=s3cret-key\n",
        )
        .unwrap();
        let mut command = file.apply_defaults(Cli::command());
        let serve = command
            .find_subcommand_mut("serve")
            .expect("a serve command");
        let help = serve.render_long_help().to_string();
        assert!(help.contains("[default: 7]"), "{help}");
        assert!(!help.contains("s3cret-key"), "{help}");
    }

    /// The sandbox readings `args` select, for the `sandbox` command and the default run.
    fn readings(args: &[&str]) -> Result<(Readings, Readings), String> {
        let sandbox = Cli::try_parse_from([&["heymarket-gateway", "sandbox"][..], args].concat())
            .map_err(|e| e.to_string())?;
        let Some(Command::Sandbox(sandbox)) = sandbox.command else {
            panic!("not parsed as the sandbox command");
        };
        let demo = Cli::try_parse_from([&["heymarket-gateway"][..], args].concat())
            .map_err(|e| e.to_string())?;
        let webhook_token = heymarket_sandbox::DEFAULT_SANDBOX_WEBHOOK_TOKEN.to_owned();
        Ok((
            sandbox
                .data
                .into_config(None, webhook_token.clone())
                .readings,
            demo.demo.data.into_config(None, webhook_token).readings,
        ))
    }

    #[test]
    fn sandbox_profiles_and_readings_parse_on_both_runs() {
        let (sandbox, demo) = readings(&[]).unwrap();
        assert_eq!((sandbox, demo), (Readings::DEFAULT, Readings::DEFAULT));

        for (name, profile) in Readings::profiles() {
            let (sandbox, demo) = readings(&["--sandbox-profile", name]).unwrap();
            assert_eq!((&sandbox, &demo), (profile, profile), "{name}");
        }

        let (sandbox, demo) = readings(&[
            "--sandbox-profile",
            "strict",
            "--sandbox-reading",
            "page-size=7",
            "--sandbox-reading",
            "opt-out=enforced",
        ])
        .unwrap();
        let strict = Readings::profile("strict").unwrap();
        let expected = Readings {
            conversation_page_size: 7,
            opt_out: readings::OptOut::Enforced,
            ..strict
        };
        assert_eq!((sandbox, demo), (expected, expected));
    }

    #[test]
    fn bad_sandbox_profiles_and_readings_list_the_choices() {
        let profile = readings(&["--sandbox-profile", "lenient"]).unwrap_err();
        assert!(
            profile.contains("--sandbox-profile")
                && profile.contains("lenient")
                && profile.contains("default")
                && profile.contains("strict")
                && profile.contains("refusing"),
            "{profile}"
        );
        let point = readings(&["--sandbox-reading", "colour=blue"]).unwrap_err();
        assert!(
            point.contains("--sandbox-reading") && point.contains("empty-inboxes"),
            "{point}"
        );
        let value = readings(&["--sandbox-reading", "local-id=maybe"]).unwrap_err();
        assert!(value.contains("deduplicated, ignored"), "{value}");
    }

    #[test]
    fn the_help_lists_every_profile_point_and_value() {
        use clap::CommandFactory;
        let mut command = Cli::command();
        let sandbox = command
            .find_subcommand_mut("sandbox")
            .expect("a sandbox command");
        let help = sandbox.render_long_help().to_string();
        for name in readings::profile_names() {
            assert!(help.contains(name), "profile {name} missing from:\n{help}");
        }
        for (point, _, choices) in readings::reading_points() {
            assert!(
                help.contains(point) && help.contains(&choices),
                "{point} ({choices}) missing from:\n{help}"
            );
        }
        assert!(help.contains("HEYMARKET_SANDBOX_PROFILE"));
        assert!(help.contains("HEYMARKET_SANDBOX_READINGS"));
    }

    #[test]
    fn the_flags_defaults_are_the_settings_defaults() {
        let parsed = serve(&[]).unwrap();
        assert_eq!(
            format!("{parsed:#?}"),
            format!("{:#?}", GatewayConfig::default())
        );
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    const CLIENT_SECRET: &str = "a-client-token-secret-of-32-bytes!";

    #[test]
    fn credentials_select_the_upstream_auth() {
        let client = ["--client-jwt-secret", CLIENT_SECRET];
        let secret =
            serve(&[&["--secret-id", "id", "--secret-key", "key"][..], &client].concat()).unwrap();
        assert!(matches!(secret.upstream.auth, UpstreamAuth::Secret { ref id, .. } if id == "id"));
        let key = serve(&[&["--api-key", "k"][..], &client].concat()).unwrap();
        assert!(matches!(key.upstream.auth, UpstreamAuth::ApiKey(_)));
        let none = serve(&[]).unwrap();
        assert!(matches!(none.upstream.auth, UpstreamAuth::PassThrough));
        assert!(none.client_auth.is_none());
    }

    #[test]
    fn a_gateway_held_credential_requires_client_authentication() {
        for credential in [
            &["--api-key", "k"][..],
            &["--secret-id", "i", "--secret-key", "k"],
        ] {
            let error = serve(credential).unwrap_err();
            assert!(
                error.contains("--client-jwt-secret") && error.contains("pass-through"),
                "{error}"
            );
        }
        let error = serve(&["--client-jwt-secret", CLIENT_SECRET]).unwrap_err();
        assert!(
            error.contains("gateway-held upstream credential"),
            "{error}"
        );
    }

    #[test]
    fn client_authentication_flags_fill_its_config() {
        let config = serve(&[
            "--api-key",
            "k",
            "--client-jwks-url",
            "https://issuer.example/.well-known/jwks.json",
            "--client-jwt-audience",
            "gateway",
            "--client-jwt-issuer",
            "https://issuer.example",
            "--client-member-claim",
            "member",
            "--client-jwt-leeway",
            "5s",
        ])
        .unwrap();
        let auth = config.client_auth.unwrap();
        assert!(auth.jwt_secret.is_none());
        assert!(
            matches!(auth.jwks, Some(JwksSource::Url(ref url)) if url.path() == "/.well-known/jwks.json")
        );
        assert_eq!(auth.audience.as_deref(), Some("gateway"));
        assert_eq!(auth.issuer.as_deref(), Some("https://issuer.example"));
        assert_eq!(auth.member_claim, "member");
        assert_eq!(auth.leeway, Duration::from_secs(5));

        let file = serve(&["--api-key", "k", "--client-jwks-file", "keys.json"]).unwrap();
        let auth = file.client_auth.unwrap();
        assert!(
            matches!(auth.jwks, Some(JwksSource::File(ref path)) if path.ends_with("keys.json"))
        );
        assert_eq!(auth.member_claim, config::DEFAULT_CLIENT_MEMBER_CLAIM);
    }

    #[test]
    fn weak_or_ambiguous_client_keys_are_refused() {
        let short = serve(&["--api-key", "k", "--client-jwt-secret", "short"]);
        assert!(short.unwrap_err().contains("at least 32 bytes"));
        let both = serve(&[
            "--api-key",
            "k",
            "--client-jwks-file",
            "keys.json",
            "--client-jwks-url",
            "https://issuer.example/jwks.json",
        ]);
        assert!(both.unwrap_err().contains("cannot be used with"));
    }

    #[test]
    fn invalid_secret_values_are_not_echoed_but_other_values_are() {
        let shown = |args: &[&str]| {
            let mut argv = vec!["heymarket-gateway", "serve"];
            argv.extend_from_slice(args);
            hide_secret_value(Cli::try_parse_from(argv).unwrap_err()).to_string()
        };
        let secret = shown(&["--client-jwt-secret", "short-s3cret"]);
        assert!(
            secret.contains("--client-jwt-secret") && !secret.contains("s3cret"),
            "{secret}"
        );
        let token = shown(&["--webhook-token", "t3am:t0ken"]);
        assert!(
            token.contains("--webhook-token")
                && !token.contains("t3am")
                && !token.contains("t0ken"),
            "{token}"
        );
        let listen = shown(&["--listen", "nowhere"]);
        assert!(listen.contains("nowhere"), "{listen}");
    }

    #[test]
    fn the_client_rate_limit_is_a_budget() {
        let config = serve(&["--client-rate-limit", "20/s"]).unwrap();
        assert_eq!(
            config.limits.client_rate_limit,
            RateBudget {
                requests: 20,
                per: Duration::from_secs(1)
            }
        );
        assert!(
            serve(&["--client-rate-limit", "lots"])
                .unwrap_err()
                .contains("500/min")
        );
    }

    #[test]
    fn half_or_double_credentials_are_refused() {
        assert!(
            serve(&["--secret-id", "id"])
                .unwrap_err()
                .contains("HEYMARKET_SECRET_KEY")
        );
        assert!(
            serve(&["--secret-key", "k"])
                .unwrap_err()
                .contains("HEYMARKET_SECRET_ID")
        );
        let both = serve(&["--secret-id", "i", "--secret-key", "k", "--api-key", "a"]);
        assert!(both.unwrap_err().contains("keep one"));
        assert!(
            serve(&["--api-key", " "])
                .unwrap_err()
                .contains("must not be empty")
        );
    }

    #[test]
    fn breaker_and_shutdown_settings_parse_with_defaults() {
        let defaults = serve(&[]).unwrap();
        assert_eq!(defaults.upstream.breaker, BreakerConfig::default());
        assert_eq!(defaults.shutdown_timeout, Duration::from_secs(10));

        let tuned = serve(&[
            "--upstream-breaker-threshold",
            "3",
            "--upstream-breaker-cooldown",
            "250ms",
            "--shutdown-timeout",
            "2s",
        ])
        .unwrap();
        assert_eq!(
            tuned.upstream.breaker,
            BreakerConfig {
                threshold: 3,
                cooldown: Duration::from_millis(250),
            }
        );
        assert_eq!(tuned.shutdown_timeout, Duration::from_secs(2));
        assert!(
            serve(&["--upstream-breaker-threshold", "0"])
                .unwrap_err()
                .contains("--upstream-breaker-threshold")
        );
    }

    #[test]
    fn connection_limits_parse_with_defaults() {
        let defaults = serve(&[]).unwrap();
        assert_eq!(defaults.connections, ConnectionConfig::default());

        let tuned = serve(&[
            "--max-connections",
            "10",
            "--max-websockets",
            "5",
            "--header-read-timeout",
            "2s",
            "--websocket-init-timeout",
            "500ms",
        ])
        .unwrap();
        assert_eq!(
            tuned.connections,
            ConnectionConfig {
                max_connections: 10,
                max_websockets: 5,
                header_read_timeout: Duration::from_secs(2),
                websocket_init_timeout: Duration::from_millis(500),
            }
        );
        assert!(
            serve(&["--max-websockets", "0"])
                .unwrap_err()
                .contains("--max-websockets")
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        assert!(
            serve(&["--listen", "nowhere"])
                .unwrap_err()
                .contains("--listen")
        );
        assert!(
            serve(&["--upstream-url", "::"])
                .unwrap_err()
                .contains("--upstream-url")
        );
        assert!(
            serve(&["--upstream-rate-limit", "lots"])
                .unwrap_err()
                .contains("500/min")
        );
        let backoff = serve(&["--upstream-backoff", "5s", "--upstream-backoff-max", "1s"]);
        assert!(backoff.unwrap_err().contains("--upstream-backoff-max"));
    }
}
