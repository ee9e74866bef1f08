//! What every benchmark shares: the binary under test, child processes, the sandbox's control
//! API, a description of the machine, and the record of results.

/// A progress line on stderr. A closed stderr must not stop a run, so write errors are ignored.
macro_rules! progress {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod binary;
pub mod child;
pub mod environment;
pub mod processes;
pub mod results;
pub mod sandbox;

/// A whole benchmark run, boxed: it outgrows the size clippy allows a future on the stack.
pub(crate) type Benchmark<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<bool>> + 'a>>;

/// Runs a benchmark (warning when the harness is a debug build) and answers its exit status:
/// success when it ran and passed its checks; otherwise failure, with its error and the causes
/// on stderr.
pub(crate) async fn main(benchmark: Benchmark<'_>) -> std::process::ExitCode {
    if cfg!(debug_assertions) {
        progress!("warning: this harness is a debug build; run it with `cargo run --release`");
    }
    match benchmark.await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            progress!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
