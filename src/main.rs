use std::process::ExitCode;

use clap::Parser;
use heymarket_gateway::cli::{Cli, Command};
use heymarket_gateway::{commands, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
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
