//! The command line of the `chaski` binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::startup::{shutdown_signal, Application};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "chaski",
    version,
    about = "Chaski: offline-first labour inspections, sync server"
)]
struct Cli {
    #[command(flatten)]
    config: Config,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (the default when no command is given).
    Serve,
    #[command(flatten)]
    Admin(crate::admin::AdminCommand),
    /// Administer a running server through its admin API: `chaski admin --server URL --as
    /// ADMIN user add …` (the same commands except backup and restore).
    #[command(name = "admin")]
    Remote(crate::admin_remote::RemoteArgs),
}

/// Parses the command line, runs what it asks for and turns failures into an exit code with a
/// message a person can act on.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("chaski: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve(cli.config)),
        Command::Admin(command) => runtime.block_on(crate::admin::run(&cli.config, command)),
        Command::Remote(args) => runtime.block_on(crate::admin_remote::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("chaski: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped(shutdown_signal())
        .await
        .map_err(|e| format!("server stopped with an error: {e}"))
}
