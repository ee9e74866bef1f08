//! A real `redis-server` for the tests that need one, and "replicas" sharing it.
//!
//! Each test starts its own server on a free port, killed when dropped. Where `redis-server` is
//! not installed those tests skip loudly, unless `REQUIRE_REDIS=1` (as in CI), where they fail.

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use heymarket_gateway::events::{BusStatus, Event, EventBus, EventKind};
use heymarket_gateway::redis::{Health, RedisBus, RedisConnection};
use tokio::process::{Child, Command};
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

use crate::helpers::eventually_ok;

/// How long a server may take to answer, or a replica to notice a change.
pub use crate::helpers::eventually;

const DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` child process on a loopback port; killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with persistence off and waits until it answers PING. `None` (after a
    /// `SKIPPED` line on stderr) when `redis-server` is not installed and `REQUIRE_REDIS` is
    /// not `1`.
    pub async fn start() -> Option<Self> {
        for _ in 0..3 {
            let mut server = Self {
                port: free_port(),
                child: None,
            };
            match server.launch().await {
                Ok(()) => return Some(server),
                Err(Launch::NotInstalled) => {
                    if std::env::var("REQUIRE_REDIS").is_ok_and(|value| value == "1") {
                        panic!("REQUIRE_REDIS=1 but `redis-server` is not on PATH: install it");
                    }
                    // Straight to the process's stderr: the test harness hides `eprintln!`
                    // output of passing tests, and a skip must be seen.
                    let _ = writeln!(
                        std::io::stderr(),
                        "SKIPPED: redis-server not found on PATH; this Redis test did not run \
                         (install redis-server, and set REQUIRE_REDIS=1 to make this a failure)"
                    );
                    return None;
                }
                // Another process took the port between our probe and the server's bind.
                Err(Launch::Exited) => continue,
            }
        }
        panic!("redis-server exited at start three times");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> Url {
        format!("redis://127.0.0.1:{}", self.port)
            .parse()
            .expect("a valid URL")
    }

    /// Kills the server (like a crash) and waits until it is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("redis-server is killed");
        }
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        self.stop().await;
        match self.launch().await {
            Ok(()) => {}
            Err(Launch::NotInstalled) => panic!("redis-server disappeared"),
            Err(Launch::Exited) => panic!("redis-server cannot listen on {} again", self.port),
        }
    }

    async fn launch(&mut self) -> Result<(), Launch> {
        let client = redis::Client::open(self.url()).expect("a valid Redis URL");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(child) => self.child.insert(child),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Launch::NotInstalled);
            }
            Err(error) => panic!("cannot start redis-server: {error}"),
        };
        let launched = eventually_ok("redis-server to answer PING", async || {
            if child.try_wait().expect("child status").is_some() {
                return Ok(Err(Launch::Exited));
            }
            let mut connection = client
                .get_multiplexed_async_connection()
                .await
                .map_err(|error| error.to_string())?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(|_| Ok(()))
                .map_err(|error| error.to_string())
        })
        .await;
        if launched.is_err() {
            self.child = None;
        }
        launched
    }

    /// A plain client connection, for poking at the server directly.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a valid Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers")
    }
}

enum Launch {
    NotInstalled,
    Exited,
}

/// A port nothing listens on (right now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// One gateway's event bus, on a Redis connection of its own. Stops when dropped.
pub struct Replica {
    pub bus: RedisBus,
    _stop: DropGuard,
}

impl Replica {
    pub fn start(url: &Url) -> Self {
        let stop = CancellationToken::new();
        let connection = RedisConnection::start(url, stop.clone()).expect("a usable URL");
        Self {
            bus: RedisBus::start(connection, stop.clone()),
            _stop: stop.drop_guard(),
        }
    }

    /// Waits until this replica's bus reports `status`.
    pub async fn until_bus(&self, status: BusStatus) {
        eventually(&format!("the bus to be {status:?}"), || async {
            self.bus.status() == status
        })
        .await;
    }
}

/// Waits until every connection is up.
pub async fn until_up(connections: &[&RedisConnection]) {
    eventually("Redis to be up", || async {
        connections
            .iter()
            .all(|connection| connection.health() == Health::Up)
    })
    .await;
}

/// A chat event whose data carries `n`, with fingerprint `f<n>`.
pub fn event(n: i64) -> Event {
    Event {
        fingerprint: format!("f{n}"),
        team_id: 101,
        kind: EventKind::ChatClosed,
        data: serde_json::json!({ "id": n }),
        state_digest: None,
    }
}

/// The `id` in the data of the next event `receiver` gets, waiting at most [`DEADLINE`].
pub async fn next_id(
    receiver: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<Event>>,
) -> i64 {
    let event = tokio::time::timeout(DEADLINE, receiver.recv())
        .await
        .expect("an event arrives in time")
        .expect("the bus is open and the receiver kept up");
    event.data["id"].as_i64().expect("an event from `event`")
}

/// Publishes on `bus`, through the trait that the rest of the gateway uses.
pub async fn publish(bus: &impl EventBus, n: i64) {
    bus.publish(event(n)).await;
}
