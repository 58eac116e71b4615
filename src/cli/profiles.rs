//! `zdimport profiles`: the saved mappings.

use super::CliResult;
use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::session::profiles;

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub action: Option<ProfilesAction>,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesAction {
    /// Saved profiles with their mode and columns (the default)
    List,
    /// A profile's JSON
    Show {
        /// Profile name or file
        name: String,
    },
    /// Delete a saved profile
    Delete { name: String },
}

pub fn run(args: &ProfilesArgs) -> CliResult<ExitCode> {
    match args.action.as_ref().unwrap_or(&ProfilesAction::List) {
        ProfilesAction::List => list(),
        ProfilesAction::Show { name } => {
            let p = profiles::load(name)?;
            for note in &p.notes {
                eprintln!("zdimport: profile '{}': {note}", p.name);
            }
            let json = serde_json::to_string_pretty(&p)?;
            println!("{json}");
            Ok(ExitCode::SUCCESS)
        }
        ProfilesAction::Delete { name } => {
            let path = profiles::delete(name)?;
            println!("deleted profile '{name}' ({})", path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list() -> CliResult<ExitCode> {
    let dir = profiles::profiles_dir()?;
    let saved = profiles::list()?;
    let mut out = super::visible_stdout();
    let written = (|| -> std::io::Result<()> {
        if saved.is_empty() {
            writeln!(out, "no saved profiles in {}", dir.display())?;
            return Ok(());
        }
        for s in &saved {
            match &s.profile {
                Ok(p) => {
                    let mapped = p.columns.iter().filter(|c| c.target.is_some()).count();
                    writeln!(
                        out,
                        "{:<24} {:<7} {mapped:>3} columns mapped",
                        s.name, p.mode
                    )?;
                }
                Err(e) => writeln!(out, "{:<24} unreadable: {e}", s.name)?,
            }
        }
        writeln!(out, "({})", dir.display())
    })();
    super::stdout_written(written)?;
    Ok(ExitCode::SUCCESS)
}
