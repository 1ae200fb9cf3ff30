//! The command line of the `chaski` binary.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// The figures index of the region databases (server stopped).
    #[command(subcommand)]
    Figures(crate::figures::admin::FiguresCommand),
    /// Administer a running server through its admin API: `chaski admin --server URL --as
    /// ADMIN user add …` (the same commands except backup and restore).
    #[command(name = "admin")]
    Remote(crate::admin_remote::RemoteArgs),
    /// The custody log (server stopped). `chaski log` is the admin audit log's listing.
    #[command(subcommand)]
    Custody(CustodyCommand),
    /// The regions' sealing keys: `chaski keys create --region R`, `chaski keys list`.
    #[command(subcommand)]
    Keys(crate::keys::cli::KeysCommand),
}

#[derive(Debug, Subcommand)]
enum CustodyCommand {
    /// Recompute the custody log from the stored documents and attachments; exits non-zero
    /// on any mismatch.
    Verify,
}

/// Parses the command line, runs what it asks for and turns failures into an exit code with a
/// message a person can act on.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The configuration file fills what no flag or variable set (see `config::file`).
    if let Err(message) = cli.config.apply_file(&matches) {
        eprintln!("chaski: {message}");
        return ExitCode::FAILURE;
    }
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
        Command::Custody(CustodyCommand::Verify) => {
            crate::custody::verify::run(&cli.config.data_dir)
        }
        Command::Keys(command) => {
            runtime.block_on(crate::keys::cli::run(&cli.config.data_dir, command))
        }
        Command::Figures(command) => {
            runtime.block_on(crate::figures::admin::run(&cli.config.data_dir, command))
        }
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
    // Before the server can say it listens (see `shutdown_signal`).
    let shutdown = shutdown_signal();
    let app = Application::build(config)
        .await
        .map_err(|e| e.to_string())?;
    app.run_until_stopped(shutdown)
        .await
        .map_err(|e| format!("server stopped with an error: {e}"))
}
