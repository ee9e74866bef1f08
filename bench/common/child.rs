//! One child process of a benchmark: its stdout read for the banner and then drained, the
//! tail of its stderr kept to explain an exit and its panics counted, and a kill when it is
//! dropped, so an error anywhere in the run leaves nothing behind.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long a child may take to print its address.
const STARTUP_DEADLINE: Duration = Duration::from_secs(30);
/// How long a child that may be dying gets to finish before it counts as running.
const EXIT_GRACE: Duration = Duration::from_millis(200);
/// Lines of a child's stderr kept to explain why it stopped.
const STDERR_TAIL_LINES: usize = 20;
/// What Rust's default panic hook writes to stderr, in every thread.
const PANIC_MARKER: &str = "panicked at";

/// Why a child process could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChildError {
    #[error("cannot start the {name}")]
    Spawn {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the {name}'s output")]
    Output {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the {name} did not print {what} within {STARTUP_DEADLINE:?}")]
    Silent {
        name: &'static str,
        what: &'static str,
    },
    #[error("the {name} exited ({status}){last_logs}")]
    Exited {
        name: &'static str,
        status: String,
        /// The tail of its stderr, introduced, or nothing when it wrote none.
        last_logs: String,
    },
    /// A panic is a bug even when the process survives it (a panicking request task).
    #[error("the {name} panicked {panics} time(s){last_logs}")]
    Panicked {
        name: &'static str,
        panics: u64,
        last_logs: String,
    },
}

/// A running child, killed when dropped.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    name: &'static str,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    panics: Arc<AtomicU64>,
}

impl ChildProcess {
    /// Starts `command`, named `name` in errors, with its output piped.
    pub(crate) fn spawn(name: &'static str, mut command: Command) -> Result<Self, ChildError> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ChildError::Spawn { name, source })?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let panics = Arc::new(AtomicU64::new(0));
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&stderr_tail);
            let panics = Arc::clone(&panics);
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.contains(PANIC_MARKER) {
                        panics.fetch_add(1, Ordering::Relaxed);
                    }
                    let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        let stdout = child.stdout.take().ok_or(ChildError::Output {
            name,
            source: std::io::Error::other("stdout is not piped"),
        })?;
        Ok(Self {
            name,
            child,
            stdout: BufReader::new(stdout).lines(),
            stderr_tail,
            panics,
        })
    }

    /// Reads stdout until `parse` accepts a line, within the startup deadline.
    pub(crate) async fn wait_for<T>(
        &mut self,
        what: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ChildError> {
        let name = self.name;
        let lines = &mut self.stdout;
        let read = async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(found) = parse(&line) {
                            return Ok(Some(found));
                        }
                    }
                    Ok(None) => return Ok(None),
                    Err(source) => return Err(ChildError::Output { name, source }),
                }
            }
        };
        match tokio::time::timeout(STARTUP_DEADLINE, read).await {
            Ok(Ok(Some(found))) => Ok(found),
            Ok(Ok(None)) => Err(self.exit_error().await),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ChildError::Silent { name, what }),
        }
    }

    /// Keeps reading stdout from now on, so the child never blocks on a full pipe.
    pub(crate) fn drain_stdout(self) -> RunningChild {
        let Self {
            name,
            child,
            mut stdout,
            stderr_tail,
            panics,
        } = self;
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        RunningChild {
            name,
            child,
            stderr_tail,
            panics,
        }
    }

    /// Why the child stopped, once it has (its stdout closed).
    async fn exit_error(&mut self) -> ChildError {
        let status = match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(error)) => format!("status unknown: {error}"),
            Err(_) => "closed its output but is still running".to_owned(),
        };
        exited(self.name, &self.stderr_tail, status)
    }
}

/// A child past its banner, its output drained; killed when dropped.
#[derive(Debug)]
pub(crate) struct RunningChild {
    name: &'static str,
    child: Child,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    panics: Arc<AtomicU64>,
}

impl RunningChild {
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// An error if the child has panicked, or has stopped, or stops within a moment: a request
    /// that failed because the child died can fail before the child is fully gone.
    pub(crate) async fn ensure_running(&mut self) -> Result<(), ChildError> {
        let panics = self.panics.load(Ordering::Relaxed);
        if panics > 0 {
            return Err(ChildError::Panicked {
                name: self.name,
                panics,
                last_logs: last_logs(&self.stderr_tail),
            });
        }
        let status = match tokio::time::timeout(EXIT_GRACE, self.child.wait()).await {
            Err(_) => return Ok(()),
            Ok(Ok(status)) => status.to_string(),
            Ok(Err(error)) => format!("status unknown: {error}"),
        };
        Err(exited(self.name, &self.stderr_tail, status))
    }

    /// Stops the child once `outcome` is known; a failure is explained by the child's exit
    /// when that is why.
    pub(crate) async fn stop_after<T>(mut self, outcome: anyhow::Result<T>) -> anyhow::Result<T> {
        let outcome = match outcome {
            Ok(value) => Ok(value),
            Err(error) => Err(self.explain(error).await),
        };
        self.stop().await;
        outcome
    }

    /// `error`, with the child's exit when that explains it (unless it already says so).
    async fn explain(&mut self, error: anyhow::Error) -> anyhow::Error {
        if error.downcast_ref::<ChildError>().is_some() {
            return error;
        }
        match self.ensure_running().await {
            Ok(()) => error,
            Err(exit) => error.context(exit),
        }
    }

    async fn stop(mut self) {
        // Already stopped is fine: all that matters is that it is gone.
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn exited(name: &'static str, stderr_tail: &Mutex<VecDeque<String>>, status: String) -> ChildError {
    ChildError::Exited {
        name,
        status,
        last_logs: last_logs(stderr_tail),
    }
}

/// The tail of a child's stderr, introduced, or nothing when it wrote none.
fn last_logs(stderr_tail: &Mutex<VecDeque<String>>) -> String {
    let tail = stderr_tail.lock().unwrap_or_else(PoisonError::into_inner);
    if tail.is_empty() {
        String::new()
    } else {
        let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
        format!("; its last log lines:\n{}\n", lines.join("\n"))
    }
}
