//! `--record`: a benchmark's report appended to `bench/RESULTS.md` under a dated heading, with
//! the command that produced it, so results can be compared across the gateway's history.

use std::io::Write as _;

/// Where the benchmarks record their results.
pub(crate) const RESULTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/RESULTS.md");

const PREAMBLE: &str = "# Benchmark results\n\nAppended by `cargo run --release --example \
                        dashboard-bench -- --record`, newest last; see the \
                        \"Benchmarks\" section of docs/development.md.\n";

/// Appends `body` under a `## {heading}` to [`RESULTS`], creating it with a preamble if needed.
pub(crate) fn append(heading: &str, body: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(RESULTS)?;
    if file.metadata()?.len() == 0 {
        file.write_all(PREAMBLE.as_bytes())?;
    }
    write!(file, "\n## {heading}\n\n{body}")
}

/// The command that produced this run of `example`, as someone would type it.
pub(crate) fn command(example: &str) -> String {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let command = format!("cargo run --release --example {example}");
    if arguments.is_empty() {
        command
    } else {
        format!("{command} -- {}", arguments.join(" "))
    }
}
