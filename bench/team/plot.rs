//! The run's chart: upstream calls a minute and staleness (first agent to see a change, p50 and
//! p99) against the team size, gateway and direct REST, on log scales. The SVG is written by
//! hand, which needs no plotting crate; headless Chromium (which CI installs) renders it to the
//! PNG, so the text uses the system's fonts and the picture is the SVG's.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;

use crate::changes::{Quantile, Staleness};
use crate::phase::{Run, Side};
use crate::report::{TARGET_PER_MINUTE, UPSTREAM_LIMIT_PER_MINUTE};

const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 480.0;
/// How long Chromium may take to render the picture.
const RENDER_DEADLINE: Duration = Duration::from_secs(60);
/// The browsers tried, in turn.
const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// Writes `bench/team-bench.svg` for `runs`, with `caption` under it, and renders
/// `bench/team-bench.png` from it when a headless Chromium is at hand (a missing one is
/// reported, not an error).
pub(crate) async fn draw(runs: &[Run], caption: &str, repository: &Path) -> anyhow::Result<()> {
    let svg_path = repository.join("bench/team-bench.svg");
    std::fs::write(&svg_path, svg(runs, caption))
        .with_context(|| format!("cannot write {}", svg_path.display()))?;
    progress!("drew {}", svg_path.display());
    let png_path = repository.join("bench/team-bench.png");
    match render(&svg_path, &png_path).await {
        Ok(browser) => progress!("rendered {} with {browser}", png_path.display()),
        Err(error) => progress!(
            "warning: no PNG ({error:#}); render it with `chromium --headless --no-sandbox \
             --hide-scrollbars --window-size={WIDTH},{HEIGHT} --screenshot={} {}`",
            png_path.display(),
            svg_path.display()
        ),
    }
    Ok(())
}

/// Screenshots the SVG with the first browser that runs; the browser's name.
async fn render(svg_path: &Path, png_path: &Path) -> anyhow::Result<&'static str> {
    let svg_path = std::fs::canonicalize(svg_path)?;
    let mut last_error = anyhow::anyhow!("no browser tried");
    for browser in BROWSERS {
        let mut command = tokio::process::Command::new(browser);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .arg(format!("--window-size={WIDTH},{HEIGHT}"))
            .arg(format!("--screenshot={}", png_path.display()))
            .arg(format!("file://{}", svg_path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let status = match command.spawn() {
            Ok(mut child) => tokio::time::timeout(RENDER_DEADLINE, child.wait()).await,
            Err(error) => {
                last_error = anyhow::Error::from(error).context(format!("cannot run {browser}"));
                continue;
            }
        };
        return match status {
            Ok(Ok(status)) if status.success() && png_path.is_file() => Ok(browser),
            Ok(Ok(status)) => Err(anyhow::anyhow!("{browser} failed ({status})")),
            Ok(Err(error)) => Err(anyhow::Error::from(error).context(browser)),
            Err(_) => Err(anyhow::anyhow!(
                "{browser} took longer than {RENDER_DEADLINE:?}"
            )),
        };
    }
    Err(last_error)
}

/// A base-10 logarithmic axis over whole decades.
#[derive(Debug, Clone, Copy)]
struct LogAxis {
    low: f64,
    high: f64,
}

impl LogAxis {
    /// The decades that hold every positive value of `values`; one decade when there is none.
    fn covering(values: impl IntoIterator<Item = f64>) -> Self {
        let logs: Vec<f64> = values
            .into_iter()
            .filter(|value| *value > 0.0 && value.is_finite())
            .map(f64::log10)
            .collect();
        let low = logs.iter().copied().fold(f64::INFINITY, f64::min).floor();
        let high = logs
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil();
        match (low.is_finite(), high.is_finite()) {
            (true, true) if high > low => Self { low, high },
            (true, true) => Self {
                low,
                high: low + 1.0,
            },
            _ => Self {
                low: 0.0,
                high: 1.0,
            },
        }
    }

    /// Where `value` falls between `from` (the axis's low end) and `to`.
    fn position(self, value: f64, from: f64, to: f64) -> f64 {
        from + (value.log10() - self.low) / (self.high - self.low) * (to - from)
    }

    /// Each decade's exponent, low to high.
    fn decades(self) -> std::ops::RangeInclusive<i32> {
        self.low as i32..=self.high as i32
    }
}

/// One panel's frame: its plot area and axes.
struct Panel {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x: LogAxis,
    y: LogAxis,
}

impl Panel {
    fn point(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.x.position(x, self.left, self.left + self.width),
            self.y.position(y, self.top + self.height, self.top),
        )
    }

    /// The frame, the y decades, the x ticks at `agents`, the axis titles and `title`.
    fn frame(&self, out: &mut String, title: &str, y_title: &str, agents: &[f64]) {
        let (left, top, right, bottom) = (
            self.left,
            self.top,
            self.left + self.width,
            self.top + self.height,
        );
        for exponent in self.y.decades() {
            let y = self.y.position(10f64.powi(exponent), bottom, top);
            let _ = writeln!(
                out,
                r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                left - 6.0,
                y + 4.0,
                decade(exponent)
            );
        }
        for &n in agents {
            let x = self.x.position(n, left, right);
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{}" stroke="#444"/><text x="{x:.1}" y="{}" text-anchor="middle">{n}</text>"##,
                bottom + 5.0,
                bottom + 20.0
            );
        }
        let _ = writeln!(
            out,
            r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#444"/>"##,
            self.width, self.height
        );
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{title}</text>"##,
            left + self.width / 2.0,
            top - 12.0
        );
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle">agents</text>"##,
            left + self.width / 2.0,
            bottom + 40.0
        );
        let _ = writeln!(
            out,
            r##"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">{y_title}</text>"##,
            left - 52.0,
            top + self.height / 2.0
        );
    }

    /// An open marker on the top edge at `agents`, labelled: the `quantile` was never seen. The
    /// gateway's goes left of the point, direct REST's right, so both can show.
    fn never(&self, out: &mut String, agents: f64, side: Side, color: &str, quantile: &str) {
        let (shift, anchor) = match side {
            Side::Gateway => (-7.0, "end"),
            Side::Direct => (7.0, "start"),
        };
        let x = self.x.position(agents, self.left, self.left + self.width) + shift;
        let _ = writeln!(
            out,
            r##"<circle cx="{x:.1}" cy="{}" r="5" fill="#fff" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{}" text-anchor="{anchor}" fill="{color}">{quantile} never</text>"##,
            self.top,
            x + shift,
            self.top + 18.0
        );
    }

    /// A line through `points` (agents, value) with a marker at each.
    fn series(&self, out: &mut String, points: &[(f64, f64)], color: &str, dashed: bool) {
        let coordinates: Vec<String> = points
            .iter()
            .map(|&(x, y)| {
                let (x, y) = self.point(x, y);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let dash = if dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            coordinates.join(" ")
        );
        for &(x, y) in points {
            let (x, y) = self.point(x, y);
            let _ = writeln!(
                out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{color}"/>"#
            );
        }
    }
}

/// The chart as an SVG document.
pub(crate) fn svg(runs: &[Run], caption: &str) -> String {
    let agents: Vec<f64> = {
        let mut agents: Vec<f64> = runs.iter().map(|run| run.agents as f64).collect();
        agents.sort_by(f64::total_cmp);
        agents.dedup();
        agents
    };
    let (fewest, most) = (
        agents.first().copied().unwrap_or(1.0),
        agents.last().copied().unwrap_or(10.0),
    );
    let x = LogAxis {
        low: (fewest / 1.5).log10(),
        high: (most * 1.5).log10(),
    };
    let calls = |side| -> Vec<(f64, f64)> {
        runs.iter()
            .filter(|run| run.side == side)
            .map(|run| (run.agents as f64, run.calls_per_minute()))
            .collect()
    };
    let stale = |side, quantile| -> Vec<(f64, f64)> {
        runs.iter()
            .filter(|run| run.side == side)
            .filter_map(
                |run| match Staleness::quantile(&run.staleness.first, quantile) {
                    Quantile::Seen(wait) => {
                        Some((run.agents as f64, wait.as_secs_f64().max(0.001)))
                    }
                    Quantile::Unseen | Quantile::None => None,
                },
            )
            .collect()
    };
    // A quantile among the changes never seen has no value to plot: it is marked on the top edge.
    let never = |side, quantile| -> Vec<f64> {
        runs.iter()
            .filter(|run| run.side == side)
            .filter(|run| Staleness::quantile(&run.staleness.first, quantile) == Quantile::Unseen)
            .map(|run| run.agents as f64)
            .collect()
    };
    let sides = [(Side::Gateway, "#1f77b4"), (Side::Direct, "#e6550d")];

    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">"##
    );
    let _ = writeln!(
        out,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>"##
    );

    let all_calls = sides
        .iter()
        .flat_map(|&(side, _)| calls(side))
        .map(|(_, value)| value)
        .chain([TARGET_PER_MINUTE, UPSTREAM_LIMIT_PER_MINUTE]);
    let left = Panel {
        left: 90.0,
        top: 50.0,
        width: 400.0,
        height: 330.0,
        x,
        y: LogAxis::covering(all_calls),
    };
    left.frame(
        &mut out,
        "Upstream calls a minute",
        "calls/min (log)",
        &agents,
    );
    let budget = left
        .y
        .position(TARGET_PER_MINUTE, left.top + left.height, left.top);
    let _ = writeln!(
        out,
        r##"<line x1="{}" y1="{budget:.1}" x2="{}" y2="{budget:.1}" stroke="#2ca02c" stroke-width="2" stroke-dasharray="3 3"/><text x="{}" y="{:.1}" text-anchor="end" fill="#2ca02c">480/min target (limit 500)</text>"##,
        left.left,
        left.left + left.width,
        left.left + left.width - 6.0,
        budget - 6.0
    );
    for (side, color) in sides {
        left.series(&mut out, &calls(side), color, false);
    }

    let all_waits = sides
        .iter()
        .flat_map(|&(side, _)| [stale(side, 0.5), stale(side, 0.99)])
        .flatten()
        .map(|(_, value)| value);
    let right = Panel {
        left: 640.0,
        top: 50.0,
        width: 400.0,
        height: 330.0,
        x,
        y: LogAxis::covering(all_waits),
    };
    right.frame(
        &mut out,
        "Staleness: change to first agent seeing it",
        "seconds (log)",
        &agents,
    );
    for (side, color) in sides {
        right.series(&mut out, &stale(side, 0.5), color, false);
        right.series(&mut out, &stale(side, 0.99), color, true);
        for (quantile, name) in [(0.5, "p50"), (0.99, "p99")] {
            for agents in never(side, quantile) {
                right.never(&mut out, agents, side, color, name);
            }
        }
    }

    let legend = [
        ("#1f77b4", false, "gateway"),
        ("#e6550d", false, "direct REST"),
        ("#777", false, "staleness p50"),
        ("#777", true, "staleness p99"),
    ];
    for (i, (color, dashed, label)) in legend.iter().enumerate() {
        let x = 90.0 + i as f64 * 250.0;
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<line x1="{x}" y1="443" x2="{}" y2="443" stroke="{color}" stroke-width="2"{dash}/><text x="{}" y="448">{label}</text>"#,
            x + 30.0,
            x + 38.0
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="#555" font-size="11">{}</text>"##,
        WIDTH / 2.0,
        HEIGHT - 4.0,
        escaped(caption)
    );
    out.push_str("</svg>\n");
    out
}

/// The decade 10^`exponent` as a short label: 0.01, 0.1, 1, 10, 100, 1k, 10k, 100k, 1M.
fn decade(exponent: i32) -> String {
    match exponent {
        ..0 => format!(
            "{:.*}",
            exponent.unsigned_abs() as usize,
            10f64.powi(exponent)
        ),
        0..3 => 10u64.pow(exponent.unsigned_abs()).to_string(),
        3..6 => format!("{}k", 10u64.pow(exponent.unsigned_abs() - 3)),
        _ => format!("{}M", 10u64.pow(exponent.unsigned_abs() - 6)),
    }
}

/// `text` safe inside an SVG element.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
