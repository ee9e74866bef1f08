//! `--record`: the report appended to `bench/RESULTS.md` under a dated heading that names the
//! command, so results can be compared across the gateway's history.

use crate::common::results::{append, command};
use crate::report::Report;

/// Appends `report` to the results.
pub(crate) fn record(report: &Report) -> std::io::Result<()> {
    let mut heading = report.date.format("%Y-%m-%d %H:%M UTC").to_string();
    if !report.caches() {
        heading.push_str(": baseline, before the gateway caches");
    }
    let body = format!(
        "Command: `{}`\n\n{}",
        command("dashboard-bench"),
        report.render_body(2)
    );
    append(&heading, &body)
}
