use std::process::ExitCode;

use clap::Parser;
use zdimport::cli::{Cli, EXIT_FATAL, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(command) => run(command, cli.log_level),
        None => match open_tui(
            cli.file,
            cli.profile.as_deref(),
            cli.sandbox.then_some(cli.sandbox_seed),
            cli.log_level,
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("zdimport: {e}");
                ExitCode::from(EXIT_FATAL)
            }
        },
    }
}

/// Loads the command line's profile before the terminal is taken over, so a bad one is one line.
fn open_tui(
    file: Option<std::path::PathBuf>,
    profile: Option<&str>,
    sandbox: Option<Option<std::path::PathBuf>>,
    log_level: zdimport::logging::Level,
) -> Result<(), String> {
    let profile = profile
        .map(zdimport::profile::load)
        .transpose()
        .map_err(|e| e.to_string())?;
    zdimport::cli::start_log("tui", log_level);
    zdimport::tui::run(file, profile, sandbox).map_err(|e| e.to_string())
}
