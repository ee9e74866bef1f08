//! Where a result was measured: the machine (from `/proc`) and the gateway's source revision,
//! so recorded results can be compared honestly.

use std::path::Path;
use std::process::Command;

/// The machine the benchmark ran on; fields are `None` where `/proc` does not say.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) cpu_model: Option<String>,
    pub(crate) cpus: usize,
    pub(crate) memory_kib: Option<u64>,
    pub(crate) kernel: Option<String>,
}

impl Machine {
    pub(crate) fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, model)| model.split_whitespace().collect::<Vec<_>>().join(" "));
        let listed_cpus = cpuinfo
            .lines()
            .filter(|line| line.starts_with("processor"))
            .count();
        let cpus = match listed_cpus {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            listed => listed,
        };
        let memory_kib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|meminfo| {
                meminfo
                    .lines()
                    .find_map(|line| line.strip_prefix("MemTotal:"))
                    .and_then(|value| value.split_whitespace().next())
                    .and_then(|kib| kib.parse().ok())
            });
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|release| format!("{} {}", std::env::consts::OS, release.trim()));
        Self {
            cpu_model,
            cpus,
            memory_kib,
            kernel,
        }
    }
}

/// The checked-out commit of `repository`, `-dirty` when tracked files have changed; `None`
/// outside a git checkout.
pub(crate) fn revision(repository: &Path) -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(repository)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|changes| !changes.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
