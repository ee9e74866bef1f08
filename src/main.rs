use std::ffi::OsString;
use std::process::ExitCode;

use heymarket_gateway::cli::{Cli, Command};
use heymarket_gateway::config_file::{ConfigFile, LOG_FILTER_VARIABLE};
use heymarket_gateway::{commands, telemetry};

/// Stack of each runtime thread. Resolving a GraphQL operation nests many futures, and
/// unoptimised builds give each a large frame: tokio's 2 MiB default overflows there.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let file = match ConfigFile::named_by(&args) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_hiding_secrets(args, file.as_ref());
    // The environment's log filter wins over the file's, as for every other setting.
    let log_filter = std::env::var(LOG_FILTER_VARIABLE).ok().or_else(|| {
        file.as_ref()
            .and_then(|file| file.get(LOG_FILTER_VARIABLE))
            .map(str::to_owned)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK_BYTES)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(cli, log_filter)),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, log_filter: Option<String>) -> ExitCode {
    let telemetry = telemetry::init(
        cli.log_format,
        log_filter.as_deref(),
        cli.otlp_endpoint.as_ref(),
    );
    let _telemetry = match telemetry {
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
