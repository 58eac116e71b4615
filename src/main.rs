use std::process::ExitCode;

use clap::Parser;
use zdimport::cli::{Cli, EXIT_FATAL, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(command) => run(command),
        None => match zdimport::tui::run(cli.file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("zdimport: {e}");
                ExitCode::from(EXIT_FATAL)
            }
        },
    }
}
