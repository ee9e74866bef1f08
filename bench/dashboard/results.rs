//! `--record`: the report appended to `bench/RESULTS.md` under a dated heading that names the
//! command, so results can be compared across the gateway's history.

use std::io::Write as _;
use std::path::Path;

use crate::report::Report;

const PREAMBLE: &str = "# Benchmark results\n\nAppended by `cargo run --release --example \
                        dashboard-bench -- --record`, newest last; see the \
                        \"Benchmarks\" section of docs/development.md.\n";

/// Appends `report` to the file at `path`, creating it with a preamble if needed.
pub(crate) fn record(path: &Path, report: &Report) -> std::io::Result<()> {
    let mut heading = report.date.format("%Y-%m-%d %H:%M UTC").to_string();
    if !report.caches() {
        heading.push_str(": baseline, before the gateway caches");
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if file.metadata()?.len() == 0 {
        file.write_all(PREAMBLE.as_bytes())?;
    }
    write!(
        file,
        "\n## {heading}\n\nCommand: `{}`\n\n{}",
        command(),
        report.render_body(2)
    )
}

/// The command that produced this run, as someone would type it.
fn command() -> String {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let command = "cargo run --release --example dashboard-bench";
    if arguments.is_empty() {
        command.to_owned()
    } else {
        format!("{command} -- {}", arguments.join(" "))
    }
}
