//! The Redis that replicas share, for runs with more than one gateway.

use crate::child::{ChildError, ChildProcess, RunningChild};

/// A `redis-server` of the run's own, on a free loopback port, keeping nothing on disk.
#[derive(Debug)]
pub(crate) struct RedisProcess {
    process: RunningChild,
    /// `redis://127.0.0.1:<port>`.
    pub(crate) url: String,
}

impl RedisProcess {
    pub(crate) async fn start() -> Result<Self, ChildError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|source| ChildError::Spawn {
                name: "redis-server",
                source,
            })?
            .port()
            .to_string();
        let mut command = tokio::process::Command::new("redis-server");
        command.args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        let mut process = ChildProcess::spawn("redis-server", command)?;
        process
            .wait_for("readiness", |line| {
                line.contains("Ready to accept connections").then_some(())
            })
            .await?;
        Ok(Self {
            process: process.drain_stdout(),
            url: format!("redis://127.0.0.1:{port}"),
        })
    }

    /// Stops the process once `outcome` is known.
    pub(crate) async fn stop_after<T>(self, outcome: anyhow::Result<T>) -> anyhow::Result<T> {
        self.process.stop_after(outcome).await
    }
}
