//! What each subcommand runs.

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::Context as _;
use heymarket_sandbox::{DEFAULT_SANDBOX_WEBHOOK_TOKEN, Sandbox, TeamCredentials};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::cli::{DemoArgs, HealthcheckArgs, SandboxArgs, ServeArgs};
use crate::config::{
    ClientAuthConfig, CorsOrigins, GatewayConfig, JwksSource, UpstreamAuth, WebhookToken,
};
use crate::shutdown::shutdown_signal;
use crate::{App, redact, schema};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The default run: the embedded sandbox and the gateway in front of it, signed in as the
/// sandbox's first team.
pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let gateway_listener = bind(args.gateway.listen).await?;
    let sandbox_listener = bind(args.sandbox_listen).await?;
    // The sandbox delivers its webhooks to the gateway, so subscriptions fire out of the box.
    let webhook_url = webhook_url(gateway_listener.local_addr()?)?;
    let sandbox_config = args
        .data
        .into_config(Some(webhook_url), DEFAULT_SANDBOX_WEBHOOK_TOKEN.to_owned());
    let sandbox =
        Sandbox::new(sandbox_listener, sandbox_config).context("cannot start the sandbox")?;
    let team = sandbox.teams().first().context("the sandbox has no team")?;
    let auth = UpstreamAuth::Secret {
        id: team.secret_id.clone(),
        key: team.secret_key.clone().into(),
    };
    // The cursor secret is derived from the sandbox credential the gateway calls with.
    let mut config = GatewayConfig {
        sandbox_mode: true,
        ..args
            .gateway
            .into_config(sandbox.base_url(), auth, CorsOrigins::Anyone)?
    };
    config
        .webhooks
        .tokens
        .extend(sandbox.teams().iter().map(|team| WebhookToken {
            team_id: Some(team.team_id),
            token: team.webhook_token.clone().into(),
        }));
    let shutdown_timeout = config.shutdown_timeout;
    let app = App::with_listener(gateway_listener, config)?;

    let gateway = format!("http://{}", app.local_addr());
    announce(&format!(
        "heymarket-gateway {VERSION} in SANDBOX MODE: simulated data, no access control.\n\n\
         \x20 GraphiQL  {gateway}/\n\
         \x20 GraphQL   {gateway}/graphql\n\
         {}\n\
         For a real Heymarket account run the `serve` command: `cargo run --release -- serve`\n\
         from a checkout, `heymarket-gateway serve` as a binary (see --help and docs/operating.md).",
        describe_sandbox(&sandbox)
    ));

    // The sandbox stops after the gateway, so that requests the gateway finishes while it
    // stops can still reach their upstream.
    let stop_sandbox = CancellationToken::new();
    let mut sandbox =
        tokio::spawn(sandbox.run_until_stopped(stop_sandbox.clone().cancelled_owned()));
    let served = app
        .run_until_stopped(stop_on_signal().cancelled_owned())
        .await;
    stop_sandbox.cancel();
    if let Err(error) = served {
        // The gateway's abandoned calls would hold the sandbox's own graceful stop.
        sandbox.abort();
        return Err(error.into());
    }
    match tokio::time::timeout(shutdown_timeout, &mut sandbox).await {
        Ok(joined) => joined
            .context("the sandbox task failed")?
            .context("the sandbox failed")?,
        Err(_) => {
            sandbox.abort();
            tracing::warn!("the sandbox's own clients were cut off by the shutdown deadline");
        }
    }
    Ok(())
}

/// Production mode: the gateway in front of a real upstream.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    match &config.upstream.auth {
        UpstreamAuth::Secret { .. } => tracing::info!("calling the upstream with an API secret"),
        UpstreamAuth::ApiKey(_) => tracing::info!("calling the upstream with the team API key"),
        UpstreamAuth::PassThrough => {
            tracing::info!(
                "no upstream credential configured: each caller's bearer token is passed through"
            )
        }
    }
    let upstream_url = redact::url(&config.upstream.base_url);
    let access = describe_access(&config);
    let app = App::build(config).await?;
    announce(&format!(
        "heymarket-gateway {VERSION} serving http://{}/graphql in front of {upstream_url}\n  {access}",
        app.local_addr()
    ));
    app.run_until_stopped(stop_on_signal().cancelled_owned())
        .await?;
    Ok(())
}

/// Who may call the gateway, and how often, in one line for the start-up banner.
fn describe_access(config: &GatewayConfig) -> String {
    let who = match &config.client_auth {
        Some(auth) => format!(
            "Callers authenticate with a JWT ({}); it acts as the member in its `{}` claim",
            describe_keys(auth),
            auth.member_claim
        ),
        None => {
            "Pass-through: each caller's own bearer token goes upstream, which checks it".to_owned()
        }
    };
    format!(
        "{who}. Each client may make {} requests.",
        config.limits.client_rate_limit
    )
}

fn describe_keys(auth: &ClientAuthConfig) -> String {
    let mut keys = Vec::new();
    if auth.jwt_secret.is_some() {
        keys.push("HS256 with the shared secret".to_owned());
    }
    match &auth.jwks {
        Some(JwksSource::File(path)) => {
            keys.push(format!("RS256/ES256 with the keys in {}", path.display()))
        }
        Some(JwksSource::Url(url)) => keys.push(format!(
            "RS256/ES256 with the keys at {}{}",
            url.origin().ascii_serialization(),
            url.path()
        )),
        None => {}
    }
    keys.join(", or ")
}

/// The simulated upstream alone.
pub async fn sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    let listener = bind(args.listen).await?;
    let sandbox = Sandbox::new(
        listener,
        args.data.into_config(args.webhook_url, args.webhook_token),
    )
    .context("cannot start the sandbox")?;
    announce(&format!(
        "heymarket-gateway {VERSION} sandbox: a simulated Heymarket API with seeded data.\n{}",
        describe_sandbox(&sandbox)
    ));
    sandbox
        .run_until_stopped(stop_on_signal().cancelled_owned())
        .await?;
    Ok(())
}

/// Prints the SDL.
pub fn print_schema() -> anyhow::Result<()> {
    std::io::stdout()
        .write_all(schema::sdl().as_bytes())
        .context("cannot write the schema")
}

/// Probes a liveness URL; an error means unhealthy.
pub async fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(args.timeout).build()?;
    let response = client
        .get(args.url.clone())
        .send()
        .await
        .with_context(|| format!("{} is unreachable", redact::url(&args.url)))?;
    anyhow::ensure!(
        response.status().is_success(),
        "{} answered {}",
        redact::url(&args.url),
        response.status()
    );
    Ok(())
}

/// Where a gateway listening on `listen` takes webhooks, as a local process reaches it.
fn webhook_url(listen: SocketAddr) -> anyhow::Result<Url> {
    let host = if listen.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], listen.port()))
    } else {
        listen
    };
    Url::parse(&format!("http://{host}/webhooks/heymarket")).context("cannot form the webhook URL")
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// The sandbox's address and credentials, for people who want to call it directly.
fn describe_sandbox(sandbox: &Sandbox) -> String {
    let url = sandbox.base_url();
    let url = url.as_str().trim_end_matches('/');
    let mut text = format!(
        "  Sandbox   {url}   (control API: {url}/_sandbox/stats, /_sandbox/faults, /_sandbox/inbound, /_sandbox/readings)\n"
    );
    let differences = sandbox.readings().differences();
    if differences.is_empty() {
        text.push_str("    readings: the default of every open point\n");
    } else {
        text.push_str(&format!(
            "    readings differing from the default: {}\n",
            differences.join(", ")
        ));
    }
    for TeamCredentials {
        team_id,
        team_name,
        secret_id,
        secret_key,
        api_key,
        webhook_token,
    } in sandbox.teams()
    {
        text.push_str(&format!(
            "    team {team_id} {team_name:?}: HEYMARKET_SECRET_ID={secret_id} \
             HEYMARKET_SECRET_KEY={secret_key}  (or HEYMARKET_API_KEY={api_key}; webhook token {webhook_token})\n"
        ));
    }
    text
}

/// Tells the person who started the process where things are. A closed or broken stdout (a
/// supervisor that ignores it) must not stop a server, so write errors are ignored.
fn announce(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

/// A token cancelled by Ctrl-C or SIGTERM.
fn stop_on_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        trigger.cancel();
    });
    stop
}
