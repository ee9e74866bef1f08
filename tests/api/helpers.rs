//! Starting servers on port 0 and talking to them like a client would.
#![allow(dead_code)]

use std::net::SocketAddr;

use heymarket_gateway::config::SandboxConfig;
use heymarket_gateway::sandbox::{Sandbox, TeamCredentials};
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

/// A sandbox running on a free loopback port; stops when dropped.
pub struct TestSandbox {
    pub addr: SocketAddr,
    pub url: Url,
    pub teams: Vec<TeamCredentials>,
    pub http: reqwest::Client,
    _stop: DropGuard,
}

/// Seeds and starts a sandbox with `config` on `127.0.0.1:0`.
pub async fn spawn_sandbox(config: SandboxConfig) -> TestSandbox {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let sandbox = Sandbox::new(listener, config).expect("sandbox starts");
    let addr = sandbox.local_addr();
    let url = sandbox.base_url();
    let teams = sandbox.teams().to_vec();
    let stop = CancellationToken::new();
    tokio::spawn(sandbox.run_until_stopped(stop.clone().cancelled_owned()));
    TestSandbox { addr, url, teams, http: reqwest::Client::new(), _stop: stop.drop_guard() }
}

impl TestSandbox {
    /// `base_url` joined with `path` (which starts with `/`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}
