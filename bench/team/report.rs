//! The team benchmark's findings as Markdown: per team size and side, the upstream calls a
//! minute against the budget, staleness, requests and errors; the calls by route; and what the
//! figures say about how many agents fit.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::Args;
use crate::changes::{Quantile, Staleness};
use crate::environment::Machine;
use crate::phase::{RATE_LIMIT, Run, Side, drain};
use crate::rest::BROWSER_PARALLELISM;
use crate::results;

/// The upstream's limit per team, and what the gateway aims at by default.
pub(crate) const UPSTREAM_LIMIT_PER_MINUTE: f64 = 500.0;
pub(crate) const TARGET_PER_MINUTE: f64 = 480.0;

/// Everything one benchmark run measured.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) date: DateTime<Utc>,
    pub(crate) machine: Machine,
    pub(crate) revision: Option<String>,
    pub(crate) runs: Vec<Run>,
}

impl Report {
    /// The report; its sections are headings of `level`.
    pub(crate) fn render(&self, args: &Args, level: usize) -> String {
        let section = "#".repeat(level);
        let mut out = String::new();
        let _ = writeln!(out, "Command: `{}`\n", results::command("team-bench"));
        self.write_setup(&mut out, args);
        let _ = writeln!(
            out,
            "\n{section} Upstream calls and staleness per team size\n"
        );
        write_runs(&mut out, &self.runs);
        let _ = writeln!(out, "\n{section} Upstream calls a minute by route\n");
        write_routes(&mut out, &self.runs);
        let _ = writeln!(out, "\n{section} Notes\n");
        write_notes(&mut out, &self.runs, args);
        out
    }

    fn write_setup(&self, out: &mut String, args: &Args) {
        let machine = &self.machine;
        let memory = machine
            .memory_kib
            .map_or("unknown memory".to_owned(), |kib| {
                format!("{:.1} GiB RAM", kib as f64 / (1024.0 * 1024.0))
            });
        let _ = writeln!(out, "- Date: {}", self.date.format("%Y-%m-%d %H:%M:%S UTC"));
        let _ = writeln!(
            out,
            "- Gateway revision: {}",
            self.revision.as_deref().unwrap_or("unknown")
        );
        let _ = writeln!(
            out,
            "- Machine: {}, {} CPUs, {memory}, {}",
            machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
            machine.cpus,
            machine.kernel.as_deref().unwrap_or("unknown kernel"),
        );
        let _ = writeln!(
            out,
            "- Setup: sandbox, gateway and harness on 127.0.0.1 sharing those CPUs; every \
             upstream call delayed {} ms by the sandbox. Each run starts a fresh sandbox (one \
             team of max(N, 12) members: the seeded 12, then members each in one SMS inbox, \
             with no conversation assigned yet) and, on the gateway side, a fresh gateway \
             taking the sandbox's webhooks; 5 s of warm-up, then {} s measured, then {} s more in \
             which the agents go on (uncounted) so that the last changes can be seen.",
            args.latency_ms,
            args.seconds,
            drain(Duration::from_millis(args.refresh_ms)).as_secs()
        );
        let subscribing = if args.subscribe {
            ", and as soon as its subscription (`conversationUpdated` of its inbox) reports a \
             change (gateway side)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "- Agents: each is a member watching one of its SMS inboxes. It refreshes its \
             dashboard (`bench/queries/dashboard.graphql`: the inbox's 30 newest open \
             conversations) and its mine list (`mine.graphql`) together every {} ms{subscribing}; \
             opens a conversation from its dashboard (`detail.graphql`) every {} s on average, \
             then replies (half the time), assigns it to another agent of the inbox (15%) or \
             closes it (15%).",
            args.refresh_ms, args.open_every_s
        );
        let _ = writeln!(
            out,
            "- Customers: {} messages a minute through the sandbox's `/_sandbox/inbound` (each \
             fires a webhook), to the four SMS inboxes in turn, from 2,000 phones.",
            args.inbound_per_minute
        );
        let gateway = if args.gateway_args.is_empty() {
            "its defaults (cache TTLs included)".to_owned()
        } else {
            format!("`{}`", args.gateway_args.join(" "))
        };
        let _ = writeln!(
            out,
            "- Gateway flags: {gateway}; its budget (`--upstream-rate-limit`, unless those \
             flags set it) and the sandbox's limit are {RATE_LIMIT}, so that nothing is held \
             back or refused: the calls counted are what the workload asks for."
        );
        let readings = if args.sandbox_readings.is_empty() {
            "the default profile".to_owned()
        } else {
            format!(
                "the default profile with {}",
                args.sandbox_readings.join(", ")
            )
        };
        let _ = writeln!(out, "- Upstream readings: {readings}");
        let _ = writeln!(
            out,
            "- Direct REST: the same agents building each screen as the dashboard benchmark's \
             frontend does (a list call, then each row's contact and history, at most \
             {BROWSER_PARALLELISM} requests in flight; mine pages through the member's inboxes \
             until it has 30 of its rows), and writing with `/v1/message/send`, \
             `/v1/conversations/reassign` and `/v1/conversations/close`."
        );
    }
}

fn write_runs(out: &mut String, runs: &[Run]) {
    let _ = writeln!(
        out,
        "| agents | side | upstream calls/min | ÷ 480 target | of which writes | staleness \
         p50 / p99, first agent | staleness p50 / p99, each agent | never seen | requests | failed | \
         refreshes/agent/min | refresh p50 / p99 ms |"
    );
    let _ = writeln!(out, "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for run in runs {
        let Staleness { first, each, .. } = &run.staleness;
        let mut refreshes = run.tally.refreshes.clone();
        refreshes.sort_unstable();
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.1}× | {:.0} | {} / {} | {} / {} | {} of {} | {} | {} | {:.1} | {} / {} |",
            run.agents,
            run.label(),
            run.calls_per_minute(),
            run.calls_per_minute() / TARGET_PER_MINUTE,
            run.write_calls_per_minute(),
            seconds(Staleness::quantile(first, 0.5)),
            seconds(Staleness::quantile(first, 0.99)),
            seconds(Staleness::quantile(each, 0.5)),
            seconds(Staleness::quantile(each, 0.99)),
            Staleness::unseen(each),
            each.len(),
            run.tally.requests,
            run.tally.failed,
            refreshes_per_agent_minute(run),
            millis(nearest_rank(&refreshes, 0.5)),
            millis(nearest_rank(&refreshes, 0.99)),
        );
    }
}

fn write_routes(out: &mut String, runs: &[Run]) {
    let routes: BTreeSet<&String> = runs
        .iter()
        .flat_map(|run| run.calls.routes.keys())
        .collect();
    let mut routes: Vec<&String> = routes.into_iter().collect();
    let total = |route: &String| -> u64 {
        runs.iter()
            .filter_map(|run| run.calls.routes.get(route))
            .sum()
    };
    routes.sort_by_key(|&route| std::cmp::Reverse(total(route)));
    let _ = write!(out, "| route |");
    for run in runs {
        let side = match run.side {
            Side::Gateway => "gateway",
            Side::Direct => "REST",
        };
        let _ = write!(out, " {} {side} |", run.agents);
    }
    let _ = writeln!(out, "\n|---|{}", "--:|".repeat(runs.len()));
    for route in routes {
        let _ = write!(out, "| `{route}` |");
        for run in runs {
            let calls = run.calls.routes.get(route).copied().unwrap_or(0);
            let _ = write!(out, " {:.0} |", run.per_minute(calls));
        }
        let _ = writeln!(out);
    }
}

fn write_notes(out: &mut String, runs: &[Run], args: &Args) {
    let gateway: Vec<&Run> = runs
        .iter()
        .filter(|run| run.side == Side::Gateway)
        .collect();
    if let Some(fit) = agents_within_target(&gateway) {
        let decimals = if fit < 10.0 { 1 } else { 0 };
        let _ = writeln!(
            out,
            "- Through the gateway, about **{fit:.decimals$} agents** fit in the 480/min target at \
             this workload (interpolated between the measured team sizes, or scaled from the \
             nearest one when all are over or under it)."
        );
    }
    let _ = writeln!(
        out,
        "- Of which writes: the calls that made the agents' writes (sends, assignments, \
         closes), one a write through the gateway or not: a floor no cache lowers."
    );
    let _ = writeln!(
        out,
        "- Staleness: from the moment a change was made (a customer's message sent to the \
         sandbox, an agent's reply or assignment sent) to an answer showing it: a dashboard row \
         whose `updatedAt` (REST: `updated`) has reached the message's instant, or the \
         assignee's mine list holding the conversation. \"First agent\": one value a change, \
         the first of the agents watching its inbox (the author left out; for an assignment, \
         the assignee) to see it; \"each agent\": one value a change and watching agent. \
         The changes are those made in the measured time; one not seen by the time the agents \
         stop counts as the stalest (\"never\"), unless its conversation was closed first (no \
         list shows it then): that wait is left out."
    );
    let _ = writeln!(
        out,
        "- Requests are screens (dashboard, mine), conversations opened and writes: one GraphQL \
         request each through the gateway, one screen's calls over REST (where a customer who \
         is not a saved contact answers the contact look-up 404, which the frontend shows as \
         the number). A refresh is both screens at once; an agent busy with a conversation or \
         a slow refresh refreshes less often, and a refresh under way at the end is not \
         counted."
    );
    let intended = 60_000.0 / args.refresh_ms as f64;
    for run in runs {
        let mut facts = Vec::new();
        let achieved = refreshes_per_agent_minute(run);
        if achieved < intended * 0.9 {
            facts.push(format!(
                "the agents refreshed {achieved:.1} times a minute, not {intended:.0}: at full \
                 pace the calls would be about {:.0}/min",
                run.calls_per_minute() * intended / achieved.max(f64::EPSILON)
            ));
        }
        if !run.tally.errors.is_empty() {
            let errors: Vec<String> = run
                .tally
                .errors
                .iter()
                .map(|(label, count)| format!("{label} {count}"))
                .collect();
            facts.push(format!("errors by code: {}", errors.join(", ")));
        }
        if run.calls.unsuccessful() > 0 {
            let statuses: Vec<String> = run
                .calls
                .statuses
                .iter()
                .filter(|(status, _)| !(200..300).contains(*status))
                .map(|(status, count)| format!("{count} × {status}"))
                .collect();
            facts.push(format!(
                "upstream answers other than 2xx: {}",
                statuses.join(", ")
            ));
        }
        let [inbound, replies, assignments] = run.staleness.counts;
        facts.push(format!(
            "changes tracked: {inbound} customer messages, {replies} replies, {assignments} \
             assignments ({} waits left out, their conversation closed first); the agents \
             opened {}, replied {}, assigned {}, closed {}",
            run.staleness.closed,
            run.tally.opened,
            run.tally.replied,
            run.tally.assigned,
            run.tally.closed
        ));
        if run.customers.failed > 0 {
            facts.push(format!("{} customer messages failed", run.customers.failed));
        }
        if let Some(received) = &run.received {
            facts.push(format!(
                "subscriptions delivered {} events, {} errors{}",
                received.events,
                received.errors,
                if received.closed_early {
                    ", some closed early"
                } else {
                    ""
                }
            ));
        }
        if let Some(load) = run.load_average {
            facts.push(format!(
                "the machine's load average before the run {load:.1}"
            ));
        }
        if let Some(kib) = run.rss_kib {
            facts.push(format!(
                "gateway memory at the end {:.1} MiB",
                kib as f64 / 1024.0
            ));
        }
        let _ = writeln!(
            out,
            "- {} agents, {}: {}.",
            run.agents,
            run.label(),
            facts.join("; ")
        );
    }
}

/// The team size at which the gateway's calls a minute reach the target: interpolated between
/// the two measured sizes around it, or scaled from the nearest one.
pub(crate) fn agents_within_target(gateway: &[&Run]) -> Option<f64> {
    let mut points: Vec<(f64, f64)> = gateway
        .iter()
        .map(|run| (run.agents as f64, run.calls_per_minute()))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let scaled = |(agents, calls): (f64, f64)| agents * TARGET_PER_MINUTE / calls.max(1.0);
    for pair in points.windows(2) {
        let [(n0, c0), (n1, c1)] = [pair[0], pair[1]];
        if c0 <= TARGET_PER_MINUTE && TARGET_PER_MINUTE <= c1 && c1 > c0 {
            return Some(n0 + (n1 - n0) * (TARGET_PER_MINUTE - c0) / (c1 - c0));
        }
    }
    let first = *points.first()?;
    let last = *points.last()?;
    Some(if first.1 > TARGET_PER_MINUTE {
        scaled(first)
    } else {
        scaled(last)
    })
}

/// How often each agent refreshed its screens in the measured time, on average.
fn refreshes_per_agent_minute(run: &Run) -> f64 {
    run.tally.refreshes.len() as f64 * 60.0
        / (run.seconds.max(f64::EPSILON) * run.agents.max(1) as f64)
}

fn nearest_rank(sorted: &[Duration], quantile: f64) -> Option<Duration> {
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied()
}

fn millis(duration: Option<Duration>) -> String {
    duration.map_or("–".to_owned(), |d| {
        format!("{:.0}", d.as_secs_f64() * 1000.0)
    })
}

fn seconds(quantile: Quantile) -> String {
    match quantile {
        Quantile::Seen(wait) => format!("{:.2} s", wait.as_secs_f64()),
        Quantile::Unseen => "never".to_owned(),
        Quantile::None => "–".to_owned(),
    }
}
