//! Headless commands over the core: inspect, preview, validate, import, profiles.

mod account;

mod doctor;
mod error;
mod import;
mod inspect;
mod login;
mod mapped;
mod plan;
mod preview;
mod profiles;
mod progress;
mod sandbox;
mod validate;

pub use crate::text::shorten;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use error::{CliError, CliResult};

use crate::session::source::{HeaderChoice, Workbook};

/// Exit codes, listed under every `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done: every row created or updated (import, resume, retry); nothing to fix (validate, plan,
     doctor); any other command succeeded
  1  some rows not done: failed, skipped, unknown or not sent yet (import, resume, retry); some
     row has an error (validate) or would not go through (plan); doctor found something to fix
  2  nothing could run: bad arguments, an unreadable file, no account or credentials, a refused
     sign-in, rows with errors under --invalid block";

/// Import users from a spreadsheet into Zendesk Support.
#[derive(Debug, Parser)]
#[command(name = "zdimport", version, about, long_about = None, args_conflicts_with_subcommands = true, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Open the TUI on this worksheet (without it, a file browser)
    pub file: Option<PathBuf>,
    /// Map the columns by this saved profile (name or file)
    #[arg(long, value_name = "NAME|PATH")]
    pub profile: Option<String>,
    /// Run against a simulated Zendesk on this machine (no account needed)
    #[arg(long)]
    pub sandbox: bool,
    /// Start the sandbox with these users, organizations and custom fields (a JSON file
    /// `{"users": […], "user_fields": […], "organizations": […]}` or a worksheet), so a
    /// rehearsal shows updates and unchanged rows too; e.g. assets/sandbox_seed.json
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub sandbox_seed: Option<PathBuf>,
    /// How much the log file of a run or TUI session says: error, warn, info, debug or trace
    /// (the file is in the state dir; its path is printed at the end of a run)
    #[arg(
        long,
        global = true,
        value_name = "LEVEL",
        default_value = "info",
        env = "ZDIMPORT_LOG_LEVEL"
    )]
    pub log_level: crate::logging::Level,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sheets, sizes, the header row, and each column with sample values
    Inspect(inspect::InspectArgs),
    /// The exact requests an import would send, without sending anything
    Preview(preview::PreviewArgs),
    /// Every row's problems; exit 1 if any row has an error
    #[command(after_help = EXIT_CODES_HELP)]
    Validate(validate::ValidateArgs),
    /// What an import would do to each row, looked up in the account: new, update (with each
    /// change), unchanged, conflict, would fail
    Plan(plan::PlanArgs),
    /// Saved mappings: list, show, delete
    Profiles(profiles::ProfilesArgs),
    /// Send the rows to Zendesk, follow the jobs, write the results of every row
    #[command(after_help = EXIT_CODES_HELP)]
    Import(import::ImportArgs),
    /// Read-only checks of the account: sign-in, rights, rate limit, settings, custom fields,
    /// jobs; what zdimport does about each
    Doctor(doctor::DoctorArgs),
    /// Continue an interrupted import from its journal
    #[command(after_help = EXIT_CODES_HELP)]
    Resume(import::ResumeArgs),
    /// The imports run so far, with their counts
    Runs(import::RunsArgs),
    /// Write an earlier run's results again: CSV or JSON, to a file or stdout
    Report(import::ReportArgs),
    /// Send a run's failed and unknown rows again, as a new run
    #[command(after_help = EXIT_CODES_HELP)]
    Retry(import::RetryArgs),
    /// Sign in to Zendesk with OAuth (PKCE) in the browser, with your account's OAuth client
    Login(login::LoginArgs),
    /// Forget the refresh token `login` kept for an account
    Logout(login::LogoutArgs),
    /// Serve the simulated Zendesk on 127.0.0.1 for rehearsals
    Sandbox(sandbox::SandboxArgs),
}

/// Which file, sheet and header row to read.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// The worksheet: xlsx, xlsm, xlsb, xls, ods, csv, tsv or txt
    pub file: PathBuf,
    /// Sheet name or 1-based position (default: the first visible sheet with cells)
    #[arg(long, value_name = "NAME|INDEX")]
    pub sheet: Option<String>,
    /// Spreadsheet row of the column names (default: detected)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub header_row: Option<u32>,
}

impl SourceArgs {
    /// Opens the workbook and resolves the sheet.
    pub fn open(&self) -> Result<(Workbook, usize), crate::session::source::SheetError> {
        let wb = Workbook::open(&self.file)?;
        let sheet = match &self.sheet {
            Some(wanted) => wb.find_sheet(wanted)?,
            None => wb.default_sheet(),
        };
        Ok((wb, sheet))
    }

    pub fn header(&self) -> HeaderChoice {
        self.header_row
            .map_or(HeaderChoice::Auto, HeaderChoice::Row)
    }
}

/// Exit code for a fatal error: bad arguments, unreadable file.
pub const EXIT_FATAL: u8 = 2;

/// Standard output with terminal controls from cells and servers made visible
/// ([`crate::text::visible`]): every command that prints a sheet's or an account's text.
fn visible_stdout() -> crate::text::VisibleWriter<std::io::StdoutLock<'static>> {
    crate::text::VisibleWriter::new(std::io::stdout().lock())
}

/// A failed write to stdout: a closed pipe (`| head -1`) is the reader's choice and ends the
/// command quietly with success; anything else is an error.
fn stdout_written(result: std::io::Result<()>) -> CliResult<()> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Usage(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Starts the log file of a run (or TUI session); a log that cannot start is a warning, never
/// the reason an import does not run.
pub fn start_log(kind: &str, level: crate::logging::Level) {
    if let Err(e) = crate::logging::start(kind, level) {
        eprintln!("zdimport: no log file: {e}");
    }
}

/// Runs a headless command; errors are one line on stderr and exit code 2.
pub fn run(command: Command, log_level: crate::logging::Level) -> ExitCode {
    if matches!(
        command,
        Command::Import(_) | Command::Resume(_) | Command::Retry(_)
    ) {
        let kind = match &command {
            Command::Resume(_) => "resume",
            Command::Retry(_) => "retry",
            _ => "import",
        };
        start_log(kind, log_level);
    }
    let result = match command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Preview(args) => preview::run(&args),
        Command::Validate(args) => validate::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Profiles(args) => profiles::run(&args),
        Command::Import(args) => import::import(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Resume(args) => import::resume(&args),
        Command::Runs(args) => import::runs(&args),
        Command::Report(args) => import::report(&args),
        Command::Retry(args) => import::retry(&args),
        Command::Login(args) => login::run(&args),
        Command::Logout(args) => login::logout(&args),
        Command::Sandbox(args) => sandbox::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let message = error.to_string();
            tracing::error!("{}", crate::logging::bounded(&message));
            // Errors quote cells, headers and Zendesk's answers: never raw controls.
            eprintln!("zdimport: {}", crate::text::visible(&message));
            ExitCode::from(EXIT_FATAL)
        }
    }
}

/// The mapping as a table: header, target and why.
fn write_mapping(
    out: &mut impl std::io::Write,
    mapping: &crate::session::check::Mapping,
) -> std::io::Result<()> {
    let width = mapping
        .columns
        .iter()
        .map(|c| c.header.chars().count().min(30))
        .max()
        .unwrap_or(0);
    for c in &mapping.columns {
        let header = shorten(&c.header, 30);
        match &c.target {
            Some(t) => writeln!(
                out,
                "  {header:<width$}  -> {:<24} ({})",
                t.to_string(),
                c.reason
            )?,
            None => match c.reason.explain() {
                Some(why) => writeln!(out, "  {header:<width$}     (ignored: {why})")?,
                None => writeln!(out, "  {header:<width$}     (ignored)")?,
            },
        }
    }
    Ok(())
}

/// `4-103` for a batch's rows: first and last.
fn row_span(rows: &[u32]) -> String {
    match (rows.first(), rows.last()) {
        (Some(first), Some(last)) if first == last => first.to_string(),
        (Some(first), Some(last)) => format!("{first}-{last}"),
        _ => String::new(),
    }
}

/// `205 data rows: 200 ready, 1 with warnings, 4 with errors (not sent)`; under `--invalid
/// include`, `4 with errors (1 sent anyway, 3 not sent)`.
fn counts_line(summary: &crate::session::check::Summary) -> String {
    let errors = if summary.included > 0 {
        format!(
            "{} with errors ({} sent anyway, {} not sent)",
            summary.errors,
            summary.included,
            summary.errors - summary.included
        )
    } else {
        format!("{} with errors (not sent)", summary.errors)
    };
    format!(
        "{} data rows: {} ready, {} with warnings, {errors}",
        summary.rows, summary.ready, summary.warnings
    )
}
