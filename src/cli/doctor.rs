//! `zdimport doctor`: the account's facts that decide how an import behaves, read-only.

use super::{CliError, CliResult};
use std::io::Write as _;
use std::process::ExitCode;

use clap::Args;

use super::account::{AccountArgs, runtime};
use crate::session::account::{self, DoctorReport};
use crate::text::printable;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub connection: AccountArgs,
    /// Print the checks as JSON: {"account","checks":[{"topic","verdict","found","action"}]}
    #[arg(long)]
    pub json: bool,
}

/// Exit code when some check says an import will not work as planned.
const EXIT_FAILED_CHECK: u8 = 1;

pub fn run(args: &DoctorArgs) -> CliResult<ExitCode> {
    let runtime = runtime()?;
    let report = runtime.block_on(async {
        let (client, _sandbox) = args.connection.client().await?;
        Ok::<_, CliError>(account::probe(&client).await)
    })?;
    let mut out = super::visible_stdout();
    let text = if args.json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        checklist(&report)
    };
    // A closed pipe (`| head`) is not an error worth a message.
    let _ignored = out.write_all(text.as_bytes());
    Ok(if report.has_failures() {
        ExitCode::from(EXIT_FAILED_CHECK)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line per check, and what zdimport does about it on the next.
fn checklist(report: &DoctorReport) -> String {
    let mut text = format!(
        "zdimport doctor: {} (read-only)\n",
        printable(&report.account)
    );
    for check in &report.checks {
        text.push_str(&format!(
            " {} {}: {}\n",
            check.verdict.mark(),
            check.topic,
            printable(&check.found)
        ));
        if !check.action.is_empty() {
            text.push_str(&format!("     → {}\n", check.action));
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.verdict == account::Verdict::Fail)
        .count();
    text.push_str(&format!(
        "{} checks: {} as expected, {} to fix, {} not settled by a read\n",
        report.checks.len(),
        report
            .checks
            .iter()
            .filter(|c| c.verdict == account::Verdict::Ok)
            .count(),
        failed,
        report
            .checks
            .iter()
            .filter(|c| c.verdict == account::Verdict::Unknown)
            .count()
    ));
    text
}
