//! The `heymarket-gateway` release binary the benchmark runs: brought up to date by cargo when
//! the benchmark runs under it, found in the benchmark's own target directory, and started with
//! an environment the person running the benchmark cannot skew.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use tokio::process::Command;

const BINARY_NAME: &str = "heymarket-gateway";

/// Why the binary cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BinaryError {
    #[error("cannot locate the benchmark's own executable")]
    CurrentExe(#[source] std::io::Error),
    #[error("{} is not inside a cargo target directory", .0.display())]
    NotInTarget(PathBuf),
    #[error("cannot run cargo to build the gateway")]
    CargoSpawn(#[source] std::io::Error),
    #[error("`cargo build --release --bin {BINARY_NAME}` failed ({0})")]
    BuildFailed(ExitStatus),
    #[error(
        "{} does not exist: run `cargo build --release` first (the benchmark starts the release binary)",
        .0.display()
    )]
    Missing(PathBuf),
}

/// The release binary in the target directory this benchmark was built in
/// (`<target>/release/examples/dashboard-bench` → `<target>/release/heymarket-gateway`). An
/// example cannot use `CARGO_BIN_EXE_*`.
#[derive(Debug, Clone)]
pub(crate) struct Binary(PathBuf);

impl Binary {
    /// Brings the binary up to date when the benchmark runs under cargo (`cargo run` sets
    /// `CARGO`), then finds it. Cargo builds no binaries for an example, and a stale binary
    /// would measure old code; the build is a no-op when the binary is fresh.
    pub(crate) async fn build_and_locate(manifest_dir: &Path) -> Result<Self, BinaryError> {
        let exe = std::env::current_exe().map_err(BinaryError::CurrentExe)?;
        let target_dir = exe
            .ancestors()
            .nth(3)
            .ok_or_else(|| BinaryError::NotInTarget(exe.clone()))?;
        if let Some(cargo) = std::env::var_os("CARGO") {
            let mut build = Command::new(cargo);
            build
                .args(["build", "--release", "--bin", BINARY_NAME, "--target-dir"])
                .arg(target_dir)
                .current_dir(manifest_dir)
                .stdin(Stdio::null());
            // `cargo run` gives this process the variables it compiles crates with; build scripts
            // that watch them (ring's) would see a change and rebuild half the tree, twice.
            for (key, _) in std::env::vars_os() {
                if is_set_by_cargo_run(&key.to_string_lossy()) {
                    build.env_remove(key);
                }
            }
            let status = build.status().await.map_err(BinaryError::CargoSpawn)?;
            if !status.success() {
                return Err(BinaryError::BuildFailed(status));
            }
        }
        let binary = target_dir
            .join("release")
            .join(format!("{BINARY_NAME}{}", std::env::consts::EXE_SUFFIX));
        if binary.is_file() {
            Ok(Self(binary))
        } else {
            Err(BinaryError::Missing(binary))
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// The binary with `args`, no `HEYMARKET_*` variable but `env`, so settings of the person
    /// running the benchmark cannot change what is measured.
    pub(crate) fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(&self.0);
        command.args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HEYMARKET_") {
                command.env_remove(key);
            }
        }
        command.envs(env.iter().copied());
        command
    }
}

/// Variables `cargo run` sets for the program it runs, as it sets them for compilers.
fn is_set_by_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "OUT_DIR"
        )
}
