//! `zdimport validate`: every row's problems, before anything is sent.

use super::CliResult;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use clap::Args;

use super::account::{AccountArgs, runtime};
use super::mapped::MappingArgs;
use crate::session::check::{self, Event};
use crate::session::check::{Issue, SortedIssues};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub mapping: MappingArgs,
    /// Print the problems as a JSON list of {"row","column","severity","message"}
    #[arg(long)]
    pub json: bool,
    /// Also check against the account: custom field keys, and each value converted for its
    /// field (dropdown labels, dates, numbers, checkboxes, patterns)
    #[arg(long)]
    pub account: bool,
    #[command(flatten)]
    pub connection: AccountArgs,
}

/// Exit code when some row has an error.
const EXIT_ROW_ERRORS: u8 = 1;

pub fn run(args: &ValidateArgs) -> CliResult<ExitCode> {
    let runtime = runtime()?;
    let connected = if args.account || args.connection.sandbox {
        Some(runtime.block_on(args.connection.connect(args.mapping.object()?))?)
    } else {
        None
    };
    let fields = connected.as_ref().map(|c| c.fields.as_ref());
    let mut prepared = args.mapping.prepare_for(fields)?;
    let checks = connected
        .as_ref()
        .map(|c| c.checks(args.connection.blank))
        .unwrap_or_default();
    // Duplicate warnings land on earlier rows after the fact: printed in sheet order, from
    // runs on disk when there are many.
    let mut issues = SortedIssues::default();
    let mut unsorted = None;
    let source = prepared.streamed();
    let summary = check::issues(source, &checks, |event| {
        if let Event::Issue(issue) = event {
            if let Err(e) = issues.push(issue) {
                unsorted = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })?;
    let scratch = issues.dir().display().to_string();
    let sorting =
        |e: std::io::Error| format!("cannot sort the problems found (set aside in {scratch}): {e}");
    if let Some(e) = unsorted {
        return Err(sorting(e).into());
    }
    let mut issues = Ordered {
        issues: issues.into_sorted().map_err(sorting)?,
        failed: None,
    };
    let padded = crate::session::source::zero_padded(&mut prepared.workbook, &summary.layout);
    let cautions = crate::session::check::cautions(
        &prepared.mapping,
        prepared.options.mode,
        &summary.layout,
        &padded,
    );
    let mut out = BufWriter::new(super::visible_stdout());
    let written = if args.json {
        // As `to_writer_pretty` writes a list, an issue at a time.
        let mut json = serde_json::Serializer::pretty(&mut out);
        serde::Serializer::collect_seq(&mut json, &mut issues)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(&mut out, &mut issues, &cautions, &summary)
    };
    if let Some(e) = issues.failed {
        return Err(sorting(e).into());
    }
    super::stdout_written(written.and_then(|()| out.flush()))?;
    if args.json {
        for caution in &cautions {
            eprintln!("zdimport: {}", crate::text::printable(caution));
        }
        eprintln!("zdimport: {}", super::counts_line(&summary));
    }
    Ok(if summary.errors > 0 {
        ExitCode::from(EXIT_ROW_ERRORS)
    } else {
        ExitCode::SUCCESS
    })
}

/// The issues by row, until one cannot be read back (`failed`).
struct Ordered {
    issues: check::Sorted,
    failed: Option<std::io::Error>,
}

impl Iterator for Ordered {
    type Item = Issue;

    fn next(&mut self) -> Option<Issue> {
        match self.issues.next()? {
            Ok(issue) => Some(issue),
            Err(e) => {
                self.failed = Some(e);
                None
            }
        }
    }
}

fn write_text(
    out: &mut impl Write,
    issues: impl Iterator<Item = Issue>,
    cautions: &[String],
    summary: &check::Summary,
) -> std::io::Result<()> {
    let mut any = false;
    for issue in issues {
        any = true;
        write!(out, "{}", crate::text::printable(&issue.to_string()))?;
        match &issue.value {
            Some(value) if !issue.message.contains(value.as_str()) => {
                writeln!(out, "  [{}]", super::shorten(value, 40))?;
            }
            _ => writeln!(out)?,
        }
    }
    if any {
        writeln!(out)?;
    }
    for caution in cautions {
        writeln!(out, "{}", crate::text::printable(caution))?;
    }
    writeln!(out, "{}", super::counts_line(summary))
}
