use std::process::ExitCode;

use heymarket_gateway::cli::{Cli, Command};
use heymarket_gateway::{commands, config_file, telemetry};

/// Stack of each runtime thread. Resolving a GraphQL operation nests many futures, and
/// unoptimised builds give each a large frame: tokio's 2 MiB default overflows there.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    let mut cli = Cli::parse_hiding_secrets();
    if let Some(path) = &cli.config {
        match config_file::read(path) {
            // SAFETY: no other thread exists yet; the runtime starts below.
            Ok(settings) => unsafe { config_file::apply(&settings) },
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
        // Parsed again, so that the file's settings fill in what flags and environment left.
        cli = Cli::parse_hiding_secrets();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK_BYTES)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    let _telemetry = match telemetry::init(cli.log_format, cli.otlp_endpoint.as_ref()) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command {
        None => commands::demo(cli.demo).await,
        Some(Command::Serve(args)) => commands::serve(*args).await,
        Some(Command::Sandbox(args)) => commands::sandbox(args).await,
        Some(Command::Schema) => commands::print_schema(),
        Some(Command::Healthcheck(args)) => commands::healthcheck(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
