//! The supervised connection to the Redis that replicas share: connects in the background,
//! checks itself, reconnects with backoff, and tells everyone whether it is up.
//!
//! Start-up never waits for Redis: a replica serves (with everything local) while Redis is
//! unreachable, and picks Redis up by itself once it answers.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{MultiplexedConnection, PubSubStream};
use ::redis::{
    AsyncConnectionConfig, Client, Cmd, FromRedisValue, Pipeline, RedisError, ScriptInvocation,
};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::backoff::Backoff;

/// Longest wait for a connection (TCP, then the handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for one reply. Past it the command fails and its caller falls back to local
/// behaviour, so a hung Redis delays requests by at most this much.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How often the connection is PINGed, so a silently dead one is noticed.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// The port Redis listens on when the URL names none.
const DEFAULT_PORT: u16 = 6379;

/// Why Redis could not be used. Messages never carry the URL's credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `REDIS_URL` cannot be used at all; start-up stops.
    #[error("REDIS_URL is not usable: {0}")]
    InvalidUrl(String),
    /// There is no connection right now (not yet, or not any more).
    #[error("Redis is unavailable: {0}")]
    Unavailable(String),
    /// A command was sent but did not succeed.
    #[error("Redis command failed: {0}")]
    Command(String),
}

/// Whether the connection is up, as `/readyz` and the logs report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The first attempt has not finished yet.
    Connecting,
    Up,
    /// Unusable; attempts to reconnect go on in the background.
    Down {
        reason: Outage,
    },
}

/// Why Redis is down, in stable words: `/readyz` shows them to anyone, so they carry no error
/// text (addresses, OS messages). The failure itself is logged when it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// No connection could be made, or it broke.
    Unreachable,
    /// Redis did not answer in time.
    TimedOut,
    /// Redis answered, with an error (refused credentials, a server in trouble, …).
    Failing,
    /// The gateway is stopping and let the connection go.
    Stopped,
}

impl Outage {
    /// The reason as `/readyz` words it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::TimedOut => "timed out",
            Self::Failing => "answering with errors",
            Self::Stopped => "stopped",
        }
    }

    fn of(error: &RedisError) -> Self {
        if error.is_timeout() {
            Self::TimedOut
        } else if error.is_io_error()
            || error.is_connection_refusal()
            || error.is_connection_dropped()
        {
            Self::Unreachable
        } else {
            Self::Failing
        }
    }
}

/// A replica's connection to the shared Redis; cheap to clone.
///
/// One multiplexed connection carries every command. A background task keeps it up until the
/// `stop` token given to [`RedisConnection::start`] is cancelled.
#[derive(Clone)]
pub struct RedisConnection {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// `host:port` (or the socket path): what logs name, never the whole URL.
    target: String,
    /// The URL's user name and password, blanked out of every error message kept or logged.
    credentials: Vec<String>,
    state: watch::Sender<State>,
    /// Asks the supervisor to check the connection now rather than at its next round.
    check_now: Notify,
}

#[derive(Clone)]
struct State {
    health: Health,
    link: Option<MultiplexedConnection>,
}

impl RedisConnection {
    /// Starts connecting to `url` in the background and returns at once. Fails only when the
    /// URL itself cannot be used (a wrong scheme, TLS, which this build leaves out, …).
    ///
    /// Must be called within a Tokio runtime.
    pub fn start(url: &Url, stop: CancellationToken) -> Result<Self, Error> {
        let credentials: Vec<String> = [url.username(), url.password().unwrap_or_default()]
            .into_iter()
            .filter(|secret| !secret.is_empty())
            .map(str::to_owned)
            .collect();
        let client = Client::open(url.as_str())
            .map_err(|error| Error::InvalidUrl(redact(&error, &credentials)))?;
        let inner = Arc::new(Inner {
            client,
            target: describe(url),
            credentials,
            state: watch::channel(State {
                health: Health::Connecting,
                link: None,
            })
            .0,
            check_now: Notify::new(),
        });
        tokio::spawn(supervise(Arc::clone(&inner), stop));
        Ok(Self { inner })
    }

    /// Whether Redis is reachable right now.
    pub fn health(&self) -> Health {
        self.inner.state.borrow().health
    }

    /// Where Redis is (`host:port`), for logs.
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// Sends `command` and decodes its reply.
    pub(crate) async fn query<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, Error> {
        let mut link = self.link()?;
        let reply = command.query_async(&mut link).await;
        reply.map_err(|error| self.failed(&error))
    }

    /// Sends `pipeline` (a transaction, when it is atomic) and decodes its replies.
    pub(crate) async fn query_pipeline<T: FromRedisValue>(
        &self,
        pipeline: &Pipeline,
    ) -> Result<T, Error> {
        let mut link = self.link()?;
        let reply = pipeline.query_async(&mut link).await;
        reply.map_err(|error| self.failed(&error))
    }

    /// Runs a Lua script (loading it first where Redis does not know it yet).
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        script: &ScriptInvocation<'_>,
    ) -> Result<T, Error> {
        let mut link = self.link()?;
        let reply = script.invoke_async(&mut link).await;
        reply.map_err(|error| self.failed(&error))
    }

    /// Opens a connection of its own (pub/sub needs one) subscribed to `channel`.
    pub(crate) async fn subscribe(&self, channel: &str) -> Result<PubSubStream, Error> {
        let subscribing = async {
            let mut pubsub = self.inner.client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok(pubsub.into_on_message())
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, subscribing).await {
            Ok(subscribed) => subscribed.map_err(|error: RedisError| self.failed(&error)),
            Err(_elapsed) => {
                self.inner.check_now.notify_one();
                Err(Error::Command(format!(
                    "subscribing took longer than {CONNECT_TIMEOUT:?}"
                )))
            }
        }
    }

    /// Resolves once the connection is up (at once if it is).
    pub(crate) async fn until_up(&self) {
        let mut state = self.inner.state.subscribe();
        // The sender lives in `inner`, which `self` holds: the channel cannot close.
        let _ = state.wait_for(|state| state.health == Health::Up).await;
    }

    /// Resolves once the connection is not up (at once if it is not).
    pub(crate) async fn until_down(&self) {
        let mut state = self.inner.state.subscribe();
        let _ = state.wait_for(|state| state.health != Health::Up).await;
    }

    /// Something that depends on Redis stopped working: have the connection checked now.
    pub(crate) fn check_now(&self) {
        self.inner.check_now.notify_one();
    }

    fn link(&self) -> Result<MultiplexedConnection, Error> {
        let state = self.inner.state.borrow();
        match (&state.link, &state.health) {
            (Some(link), _) => Ok(link.clone()),
            (None, Health::Down { reason }) => Err(Error::Unavailable(reason.as_str().to_owned())),
            (None, _) => Err(Error::Unavailable("not connected yet".to_owned())),
        }
    }

    /// A command failed: the connection may be gone, so it is checked at once.
    fn failed(&self, error: &RedisError) -> Error {
        self.inner.check_now.notify_one();
        Error::Command(redact(error, &self.inner.credentials))
    }
}

/// Keeps the connection up until `stop` is cancelled, then lets it go.
async fn supervise(inner: Arc<Inner>, stop: CancellationToken) {
    stop.run_until_cancelled(inner.keep_up()).await;
    inner.state.send_replace(State {
        health: Health::Down {
            reason: Outage::Stopped,
        },
        link: None,
    });
}

impl Inner {
    /// Connects, checks, and reconnects after a failure, forever.
    async fn keep_up(&self) {
        let mut backoff = Backoff::default();
        loop {
            match self.connect().await {
                Ok(link) => {
                    backoff.reset();
                    self.mark_up(link.clone());
                    let error = self.check_until_failure(link).await;
                    self.mark_down(&error);
                }
                Err(error) => self.mark_down(&error),
            }
            let delay = backoff.next_delay(&mut rand::rng());
            tokio::time::sleep(delay).await;
        }
    }

    async fn connect(&self) -> Result<MultiplexedConnection, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// PINGs `link` every [`CHECK_EVERY`], or when asked to, until it fails.
    async fn check_until_failure(&self, mut link: MultiplexedConnection) -> RedisError {
        loop {
            tokio::select! {
                () = tokio::time::sleep(CHECK_EVERY) => {}
                () = self.check_now.notified() => {}
            }
            if let Err(error) = ::redis::cmd("PING").query_async::<()>(&mut link).await {
                return error;
            }
        }
    }

    fn mark_up(&self, link: MultiplexedConnection) {
        tracing::info!(redis = %self.target, "connected to Redis");
        self.state.send_replace(State {
            health: Health::Up,
            link: Some(link),
        });
    }

    /// Records the failure; logs it when Redis was up (or never tried), so an outage is one
    /// warning, not one per attempt.
    fn mark_down(&self, error: &RedisError) {
        let previous = self.state.send_replace(State {
            health: Health::Down {
                reason: Outage::of(error),
            },
            link: None,
        });
        let error = redact(error, &self.credentials);
        if matches!(previous.health, Health::Down { .. }) {
            tracing::debug!(redis = %self.target, %error, "Redis is still unreachable");
        } else {
            tracing::warn!(
                redis = %self.target,
                %error,
                "Redis is unreachable: events, de-duplication and the upstream budget stay \
                 local to this replica until it is back"
            );
        }
    }
}

/// `host:port`, or the socket path of a `unix://` URL.
fn describe(url: &Url) -> String {
    match url.host_str() {
        Some(host) => format!("{host}:{}", url.port().unwrap_or(DEFAULT_PORT)),
        None => url.path().to_owned(),
    }
}

/// The error's message with every credential blanked out. The client does not put the URL in
/// its messages; this keeps it so should that ever change.
fn redact(error: &RedisError, credentials: &[String]) -> String {
    credentials
        .iter()
        .fold(error.to_string(), |message, secret| {
            message.replace(secret.as_str(), "***")
        })
}

#[cfg(test)]
mod tests {
    use ::redis::ErrorKind;

    use super::*;

    /// A URL on a loopback port that nothing listens on.
    fn nowhere(scheme: &str) -> Url {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        format!("{scheme}://:hunter2@127.0.0.1:{port}")
            .parse()
            .unwrap()
    }

    /// Waits (boundedly) until `connection`'s health satisfies `condition`.
    async fn until(connection: &RedisConnection, condition: impl FnMut(&State) -> bool) {
        let mut state = connection.inner.state.subscribe();
        tokio::time::timeout(Duration::from_secs(10), state.wait_for(condition))
            .await
            .expect("in time")
            .expect("the supervisor keeps the channel open");
    }

    #[test]
    fn logs_name_the_host_never_the_credentials() {
        let url: Url = "redis://admin:hunter2@cache.internal:6380/2"
            .parse()
            .unwrap();
        assert_eq!(describe(&url), "cache.internal:6380");
        let url: Url = "redis://:hunter2@cache.internal".parse().unwrap();
        assert_eq!(describe(&url), "cache.internal:6379");
    }

    #[test]
    fn credentials_are_blanked_out_of_error_messages() {
        let error = RedisError::from((ErrorKind::Io, "refused", "admin:hunter2".to_owned()));
        assert!(error.to_string().contains("hunter2"), "{error}");
        let message = redact(&error, &["admin".to_owned(), "hunter2".to_owned()]);
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!message.contains("admin"), "{message}");
        assert!(message.contains("refused"), "{message}");
    }

    #[tokio::test]
    async fn an_unusable_url_stops_start_up_and_a_down_server_does_not() {
        let stop = CancellationToken::new();
        let _stop = stop.clone().drop_guard();
        let error = RedisConnection::start(&nowhere("rediss"), stop.clone())
            .err()
            .unwrap();
        assert!(matches!(error, Error::InvalidUrl(_)), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");

        let connection = RedisConnection::start(&nowhere("redis"), stop.clone()).unwrap();
        until(&connection, |state| {
            matches!(state.health, Health::Down { .. })
        })
        .await;
        assert_eq!(
            connection.health(),
            Health::Down {
                reason: Outage::Unreachable
            }
        );
        let reply = connection.query::<String>(&::redis::cmd("PING")).await;
        assert!(matches!(reply, Err(Error::Unavailable(_))), "{reply:?}");
    }

    #[tokio::test]
    async fn stopping_ends_the_supervisor() {
        let stop = CancellationToken::new();
        let connection = RedisConnection::start(&nowhere("redis"), stop.clone()).unwrap();

        stop.cancel();

        let stopped = Health::Down {
            reason: Outage::Stopped,
        };
        until(&connection, |state| state.health == stopped).await;
        assert!(connection.link().is_err());
    }
}
