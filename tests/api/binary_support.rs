//! The gateway's binary as a child process, for what only a real process shows: its banner,
//! logs, signals and exit status.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

const BINARY: &str = env!("CARGO_BIN_EXE_heymarket-gateway");

/// The binary with `args`, a clean environment (only `PATH`), killed when dropped.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .kill_on_drop(true);
    command
}

/// The default run (embedded sandbox and gateway) on free ports, with `extra` arguments.
pub fn default_run(extra: &[&str]) -> Command {
    let mut args = vec!["--listen", "127.0.0.1:0", "--sandbox-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    command(&args)
}

/// A default run in progress, with the addresses its banner printed.
pub struct DefaultRun {
    pub child: Child,
    pub graphiql: String,
    pub sandbox: String,
}

/// Starts a [`default_run`] command (its stdout piped here) and reads its banner.
pub async fn start(mut command: Command) -> DefaultRun {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let (graphiql, sandbox) = tokio::time::timeout(Duration::from_secs(60), async {
        let mut graphiql = None;
        while let Some(line) = lines.next_line().await.expect("readable stdout") {
            let line = line.trim();
            if let Some(url) = line.strip_prefix("GraphiQL") {
                graphiql = Some(url.trim().to_owned());
            } else if let Some(rest) = line.strip_prefix("Sandbox") {
                let url = rest.split_whitespace().next().expect("the sandbox URL");
                let graphiql = graphiql.expect("GraphiQL is printed before the sandbox");
                return (graphiql, url.to_owned());
            }
        }
        panic!("the binary exited without printing its banner");
    })
    .await
    .expect("the banner is printed within a minute");
    // Keep reading, as a terminal would: the rest of the banner must not meet a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    DefaultRun {
        child,
        graphiql,
        sandbox,
    }
}

/// A running binary whose stdout is read line by line and whose stderr is collected whole.
pub struct Running {
    pub child: Child,
    /// What it has printed so far.
    pub printed: String,
    stdout: Lines<BufReader<ChildStdout>>,
    logs: JoinHandle<String>,
}

/// Starts `command` with its stdout and stderr piped here.
pub fn spawn(mut command: Command) -> Running {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let logs = tokio::spawn(async move {
        let mut logs = String::new();
        stderr
            .read_to_string(&mut logs)
            .await
            .expect("readable stderr");
        logs
    });
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    Running {
        child,
        printed: String::new(),
        stdout,
        logs,
    }
}

impl Running {
    /// Reads what the binary prints until a line of which `found` makes something, and
    /// returns that; the binary must print it within a minute.
    pub async fn read_until<T>(&mut self, mut found: impl FnMut(&str) -> Option<T>) -> T {
        let read = async {
            while let Some(line) = self.stdout.next_line().await.expect("readable stdout") {
                self.printed.push_str(&line);
                self.printed.push('\n');
                if let Some(found) = found(&line) {
                    return found;
                }
            }
            panic!("the binary exited first, having printed:\n{}", self.printed);
        };
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .expect("the binary prints it within a minute")
    }

    /// Once the binary has been told to stop: everything it printed, and everything it
    /// logged, when it has exited.
    pub async fn finish(mut self) -> (String, String) {
        while let Some(line) = self.stdout.next_line().await.expect("readable stdout") {
            self.printed.push_str(&line);
            self.printed.push('\n');
        }
        self.child.wait().await.expect("the process exits");
        (self.printed, self.logs.await.expect("the logs are read"))
    }
}

/// Sends SIGTERM, as an orchestrator stopping the process would.
pub fn terminate(child: &Child) {
    let pid = child.id().expect("the process is running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// A file in the temporary directory, named after the test process and `tag`.
pub fn temporary_file(tag: &str, content: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("{tag}-{}.env", std::process::id()));
    std::fs::write(&path, content).expect("the temporary directory is writable");
    path
}
