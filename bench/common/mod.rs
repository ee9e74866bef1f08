//! What the benchmark and the soak run share: the binary under test, child processes, the
//! sandbox's control API, and a description of the machine.

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
pub mod sandbox;
