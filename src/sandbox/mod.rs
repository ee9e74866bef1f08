//! An in-process simulation of the Heymarket REST API (the "sandbox").
//!
//! Placeholder: the interface below is the contract the rest of the crate relies on.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use url::Url;

use crate::config::SandboxConfig;

/// The credentials of one simulated team, printed at start so people can call the sandbox.
#[derive(Debug, Clone)]
pub struct TeamCredentials {
    pub team_id: i64,
    pub team_name: String,
    pub secret_id: String,
    pub secret_key: String,
    pub api_key: String,
}

/// A simulated upstream bound to a listener, ready to serve.
pub struct Sandbox {
    listener: TcpListener,
    teams: Vec<TeamCredentials>,
}

impl Sandbox {
    /// Seeds the data and prepares to serve on `listener`.
    pub fn new(listener: TcpListener, config: SandboxConfig) -> std::io::Result<Self> {
        let _ = config;
        Ok(Self {
            listener,
            teams: Vec::new(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// `http://<local_addr>`: the base URL upstream clients use.
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("http://{}", self.local_addr())).expect("valid URL")
    }

    pub fn teams(&self) -> &[TeamCredentials] {
        &self.teams
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        shutdown.await;
        Ok(())
    }
}
