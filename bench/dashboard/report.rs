//! The Markdown report: settings and machine, upstream calls and wall time per scenario (REST,
//! gateway cold, gateway warm, and REST÷cold), calls per route, the load run and the gateway's
//! memory.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::WALK_PAGES;
use crate::environment::Machine;
use crate::load::LoadReport;
use crate::processes::RATE_BUDGET;
use crate::rest::{BROWSER_PARALLELISM, PAGE_ROWS};
use crate::scenarios::{Measurements, NaiveWalk, Sample, Scenario, median_calls, median_ms};

/// How the run was configured.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) latency_ms: u64,
    pub(crate) repetitions: usize,
    pub(crate) load_seconds: u64,
    pub(crate) concurrency: usize,
    /// The sandbox's readings of the docs' open points where they differ from the default.
    pub(crate) sandbox_readings: Vec<String>,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) date: DateTime<Utc>,
    pub(crate) settings: Settings,
    pub(crate) machine: Machine,
    pub(crate) revision: Option<String>,
    pub(crate) scenarios: Vec<Measurements>,
    /// The cold dashboard's upstream calls made directly, in two rounds.
    pub(crate) dashboard_floor: Vec<Sample>,
    pub(crate) naive_walk: NaiveWalk,
    /// One warm load per [`crate::load::LoadCase`].
    pub(crate) loads: Vec<LoadReport>,
}

impl Report {
    /// Whether a repeated dashboard cost the gateway fewer upstream calls than a fresh one: the
    /// sign that it caches.
    pub(crate) fn caches(&self) -> bool {
        self.scenarios
            .iter()
            .find(|m| m.scenario == Scenario::Dashboard)
            .is_some_and(|m| median_calls(&m.warm) < median_calls(&m.cold))
    }

    /// The report under a `title` heading of `level` (1 = `#`).
    pub(crate) fn render(&self, title: &str, level: usize) -> String {
        format!(
            "{} {title}\n\n{}",
            "#".repeat(level),
            self.render_body(level)
        )
    }

    /// The report without its heading; its sections are headings of `level + 1`.
    pub(crate) fn render_body(&self, level: usize) -> String {
        Rendered {
            report: self,
            level,
        }
        .to_string()
    }
}

struct Rendered<'a> {
    report: &'a Report,
    level: usize,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.report;
        let section = "#".repeat(self.level + 1);
        write_context(f, report)?;

        writeln!(f, "\n{section} Upstream calls and wall time per screen\n")?;
        write_scenarios(f, report)?;

        writeln!(
            f,
            "\n{section} The cold dashboard against two upstream round trips\n"
        )?;
        write_floor(f, report)?;

        writeln!(
            f,
            "\n{section} Upstream calls per route (first repetition)\n"
        )?;
        write_routes(f, &report.scenarios)?;

        writeln!(f, "\n{section} Warm load\n")?;
        write_load(f, &report.loads, report.settings.load_seconds)
    }
}

fn write_context(f: &mut fmt::Formatter<'_>, report: &Report) -> fmt::Result {
    let Settings {
        latency_ms,
        repetitions,
        load_seconds,
        concurrency,
        sandbox_readings,
    } = &report.settings;
    let machine = &report.machine;
    let memory = machine
        .memory_kib
        .map_or("unknown memory".to_owned(), |kib| {
            format!("{} RAM", gib(kib))
        });
    writeln!(f, "- Date: {}", report.date.format("%Y-%m-%d %H:%M:%S UTC"))?;
    writeln!(
        f,
        "- Gateway revision: {}",
        report.revision.as_deref().unwrap_or("unknown")
    )?;
    writeln!(
        f,
        "- Machine: {}, {} CPUs, {memory}, {}",
        machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
        machine.cpus,
        machine.kernel.as_deref().unwrap_or("unknown kernel"),
    )?;
    writeln!(
        f,
        "- Setup: sandbox, gateway and harness on 127.0.0.1 sharing those CPUs; every upstream \
         call delayed {latency_ms} ms by the sandbox; medians of {repetitions} \
         repetition(s); load {concurrency} clients for {load_seconds} s"
    )?;
    let readings = if sandbox_readings.is_empty() {
        "the default profile".to_owned()
    } else {
        format!("the default profile with {}", sandbox_readings.join(", "))
    };
    writeln!(f, "- Upstream readings: {readings}")?;
    if !report.caches() {
        writeln!(
            f,
            "- The gateway does not cache yet: a warm dashboard costs as many upstream calls as a \
             cold one."
        )?;
    }
    Ok(())
}

fn write_scenarios(f: &mut fmt::Formatter<'_>, report: &Report) -> fmt::Result {
    writeln!(
        f,
        "| screen | REST calls | REST ms | cold calls | cold ms | warm calls | warm ms | \
         REST÷cold calls | REST÷cold time |"
    )?;
    writeln!(f, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")?;
    for m in &report.scenarios {
        let (rest_ms, cold_ms) = (median_ms(&m.rest), median_ms(&m.cold));
        writeln!(
            f,
            "| {} | {} | {rest_ms:.0} | {} | {cold_ms:.0} | {} | {:.0} | {} | {} |",
            m.scenario.name(),
            calls_cell(&m.rest),
            calls_cell(&m.cold),
            calls_cell(&m.warm),
            median_ms(&m.warm),
            ratio(median_calls(&m.rest), median_calls(&m.cold), 1),
            ratio(rest_ms, cold_ms, 1),
        )?;
    }
    for m in &report.scenarios {
        for (side, samples) in [("REST", &m.rest), ("cold", &m.cold), ("warm", &m.warm)] {
            let unsuccessful: u64 = samples.iter().map(|s| s.calls.unsuccessful()).sum();
            if unsuccessful > 0 {
                writeln!(
                    f,
                    "\n- {} {side}: {unsuccessful} upstream answers were not 2xx over all \
                     repetitions.",
                    m.scenario.name()
                )?;
            }
        }
    }
    let NaiveWalk { listed, missed } = report.naive_walk;
    let reference = WALK_PAGES * PAGE_ROWS;
    writeln!(
        f,
        "\n- REST: as a frontend builds each screen, at most {BROWSER_PARALLELISM} requests in \
         flight (a browser's HTTP/1.1 connections to one host). The walk pages with `date` = the \
         last row's `updated`, as frontends do: it listed {listed} rows but missed {missed} of \
         the {reference} conversations the gateway's tie-safe walk returned. Mine lists the open \
         conversations of the member's inboxes the same way and keeps the member's rows until it \
         has {PAGE_ROWS}; it sends no `assigned`, which the upstream may ignore."
    )?;
    writeln!(
        f,
        "- Gateway cold: a fresh gateway process per repetition, so every cache is empty. Warm: \
         the same request again on that process. Every answer is checked: no `errors`, full \
         pages, the expected conversations."
    )
}

fn write_floor(f: &mut fmt::Formatter<'_>, report: &Report) -> fmt::Result {
    let Some(dashboard) = report
        .scenarios
        .iter()
        .find(|m| m.scenario == Scenario::Dashboard)
    else {
        return Ok(());
    };
    let cold_ms = median_ms(&dashboard.cold);
    let floor_ms = median_ms(&report.dashboard_floor);
    let bare_ms = 2.0 * report.settings.latency_ms as f64;
    writeln!(
        f,
        "| two round trips | calls | ms | cold gateway ms | cold ÷ round trips |"
    )?;
    writeln!(f, "|---|--:|--:|--:|--:|")?;
    writeln!(
        f,
        "| the gateway's calls, made directly | {} | {floor_ms:.0} | {cold_ms:.0} | {} |",
        calls_cell(&report.dashboard_floor),
        ratio(cold_ms, floor_ms, 2),
    )?;
    writeln!(
        f,
        "| the injected latency alone | – | {bare_ms:.0} | {cold_ms:.0} | {} |",
        ratio(cold_ms, bare_ms, 2),
    )?;
    writeln!(
        f,
        "\n- Made directly: the upstream calls the cold gateway made for the dashboard (its first \
         repetition), in their two dependent rounds (first list page, inboxes, team and the \
         newest messages; then the next list page, the contact search, the other team-wide \
         message listings and any histories), each round's calls at once and nothing but the \
         first page decoded: how fast any client of the upstream can have this data here, the \
         upstream's own time to produce and send it included. The latency alone leaves that \
         out."
    )
}

fn write_routes(f: &mut fmt::Formatter<'_>, scenarios: &[Measurements]) -> fmt::Result {
    writeln!(f, "| screen | route | REST | cold | warm |")?;
    writeln!(f, "|---|---|--:|--:|--:|")?;
    for m in scenarios {
        let [rest, cold, warm] = [&m.rest, &m.cold, &m.warm].map(|samples| samples.first());
        let routes: BTreeSet<&String> = [rest, cold, warm]
            .into_iter()
            .flatten()
            .flat_map(|sample| sample.calls.routes.keys())
            .collect();
        let count = |sample: Option<&Sample>, route: &String| {
            sample
                .and_then(|s| s.calls.routes.get(route))
                .copied()
                .unwrap_or(0)
        };
        for route in routes {
            writeln!(
                f,
                "| {} | `{route}` | {} | {} | {} |",
                m.scenario.name(),
                count(rest, route),
                count(cold, route),
                count(warm, route),
            )?;
        }
    }
    Ok(())
}

fn write_load(f: &mut fmt::Formatter<'_>, loads: &[LoadReport], load_seconds: u64) -> fmt::Result {
    let millis = |latency: Option<Duration>| {
        latency.map_or("–".to_owned(), |d| {
            format!("{:.1}", d.as_secs_f64() * 1000.0)
        })
    };
    writeln!(
        f,
        "| load | clients | seconds | requests | requests/s | p50 ms | p99 ms | errors \
         | upstream calls | upstream calls/s | calls/request | RSS after the load |"
    )?;
    writeln!(f, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")?;
    let rss = |kib: Option<u64>| kib.map_or("unknown".to_owned(), mib);
    for load in loads {
        let run = &load.run;
        let per_request = match run.completed() {
            0 => "–".to_owned(),
            completed => format!("{:.1}", load.calls.total as f64 / completed as f64),
        };
        let seconds = run.elapsed.as_secs_f64().max(f64::EPSILON);
        writeln!(
            f,
            "| {} | {} | {load_seconds} | {} | {:.1} | {} | {} | {} | {} | {:.0} | {per_request} | {} |",
            load.case.label(),
            load.concurrency,
            run.completed(),
            run.requests_per_second(),
            millis(run.latency(0.5)),
            millis(run.latency(0.99)),
            run.errors,
            load.calls.total,
            load.calls.total as f64 / seconds,
            rss(load.rss_kib.after_load),
        )?;
    }
    writeln!(f)?;
    for load in loads {
        let case = load.case.label();
        if let Some(error) = &load.run.first_error {
            writeln!(f, "- {case}: first error: {error}")?;
        }
        if load.calls.unsuccessful() > 0 {
            let statuses: Vec<String> = load
                .calls
                .statuses
                .iter()
                .map(|(status, count)| format!("{count} × {status}"))
                .collect();
            writeln!(
                f,
                "- {case}: upstream answers during the load: {}.",
                statuses.join(", ")
            )?;
        }
        writeln!(
            f,
            "- {case}: gateway memory (VmRSS) {} at start, {} after warm-up, {} after the load.",
            rss(load.rss_kib.at_start),
            rss(load.rss_kib.after_warm_up),
            rss(load.rss_kib.after_load),
        )?;
    }
    writeln!(
        f,
        "\nEach load runs on a fresh gateway. \"Webhooks heard\": one webhook of the team was \
         delivered before the warm-up, so the team's caches follow events and whole answers are \
         kept. Latencies are of successful requests; each client sends its next request as \
         soon as the previous one is answered, over keep-alive connections. The gateway runs \
         with `--upstream-rate-limit {RATE_BUDGET}` and waits for that budget when the load \
         needs more upstream calls than it allows (the sandbox accepts as many)."
    )
}

/// The median call count, with the range when repetitions differed.
fn calls_cell(samples: &[Sample]) -> String {
    let totals = samples.iter().map(|s| s.calls.total);
    let median = median_calls(samples);
    match (totals.clone().min(), totals.max()) {
        (Some(min), Some(max)) if min != max => format!("{median} ({min}–{max})"),
        _ => format!("{median}"),
    }
}

/// `numerator ÷ denominator` with `decimals` decimals, or a dash when it has no value.
fn ratio(numerator: f64, denominator: f64, decimals: usize) -> String {
    if denominator > 0.0 && numerator.is_finite() {
        format!("{:.*}×", decimals, numerator / denominator)
    } else {
        "–".to_owned()
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn gib(kib: u64) -> String {
    format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0))
}
