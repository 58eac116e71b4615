//! `zdimport preview`: the exact requests an import would send.

use super::{CliError, CliResult};
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use clap::Args;

use super::account::{AccountArgs, runtime};
use super::mapped::MappingArgs;
use crate::payload::Request;
use crate::pipeline::{self, Event, Summary};

/// Requests listed in the text output before "… more".
const LISTED: usize = 20;

#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    pub mapping: MappingArgs,
    /// One JSON line per request: {"method","path","rows","body"}
    #[arg(long)]
    pub jsonl: bool,
    /// Show the body of this request (1-based; default the first)
    #[arg(long, value_name = "N", conflicts_with_all = ["row", "jsonl"])]
    pub batch: Option<u64>,
    /// Show the body of the request that holds this spreadsheet row
    #[arg(long, value_name = "ROW", conflicts_with = "jsonl")]
    pub row: Option<u32>,
    /// Convert custom field values for the account's definitions, as the import sends them
    #[arg(long)]
    pub account: bool,
    #[command(flatten)]
    pub connection: AccountArgs,
}

pub fn run(args: &PreviewArgs) -> CliResult<ExitCode> {
    let runtime = runtime()?;
    let connected = if args.account || args.connection.sandbox {
        Some(runtime.block_on(args.connection.connect())?)
    } else {
        None
    };
    let mut prepared = args
        .mapping
        .prepare_for(connected.as_ref().map(|c| c.fields.as_ref()))?;
    let checks = connected
        .as_ref()
        .map(|c| c.checks(args.connection.blank))
        .unwrap_or_default();
    let mut out = BufWriter::new(super::visible_stdout());
    let mut listed: Vec<(u64, Vec<u32>, usize)> = Vec::new();
    let mut shown: Option<(u64, Request)> = None;
    let mut write_error: Option<std::io::Error> = None;
    let mut number = 0;
    let summary = pipeline::run_with(
        &mut prepared.workbook,
        (prepared.sheet, prepared.header),
        &prepared.mapping,
        &prepared.options,
        &checks,
        |event| {
            let Event::Request(request) = event else {
                return ControlFlow::Continue(());
            };
            number += 1;
            if args.jsonl {
                let line = serde_json::to_writer(&mut out, &request)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
                if let Err(e) = line {
                    write_error = Some(e);
                    return ControlFlow::Break(());
                }
                return ControlFlow::Continue(());
            }
            if listed.len() < LISTED {
                listed.push((number, request.rows.clone(), request.body.users.len()));
            }
            let wanted = match (args.batch, args.row) {
                (Some(n), _) => n == number,
                (None, Some(row)) => request.rows.contains(&row),
                (None, None) => number == 1,
            };
            if wanted {
                shown = Some((number, request));
            }
            ControlFlow::Continue(())
        },
    )?;
    if let Some(e) = write_error {
        return super::stdout_written(Err(e)).map(|()| ExitCode::SUCCESS);
    }
    if let Some(n) = args.batch.filter(|&n| n == 0 || n > summary.requests) {
        return Err(CliError::Usage(format!(
            "there is no request {n}: {} sends {} requests (1 to {})",
            prepared.workbook.path().display(),
            summary.requests,
            summary.requests
        )));
    }
    if !args.jsonl {
        super::stdout_written(write_text(
            &mut out,
            args,
            &prepared,
            &summary,
            &listed,
            shown.as_ref(),
        ))?;
    }
    super::stdout_written(out.flush())?;
    report_skipped(&summary);
    Ok(ExitCode::SUCCESS)
}

fn write_text(
    out: &mut impl Write,
    args: &PreviewArgs,
    prepared: &super::mapped::Prepared,
    summary: &Summary,
    listed: &[(u64, Vec<u32>, usize)],
    shown: Option<&(u64, Request)>,
) -> std::io::Result<()> {
    let (method, path) = prepared.options.mode.endpoint();
    writeln!(
        out,
        "{}, sheet '{}', header row {}: mode {}",
        prepared.workbook.path().display(),
        summary.layout.sheet,
        summary.layout.header_row,
        prepared.options.mode
    )?;
    super::write_mapping(out, &prepared.mapping)?;
    writeln!(out, "\n{} requests: {method} {path}", summary.requests)?;
    for (n, rows, users) in listed {
        let plural = if *users == 1 { "" } else { "s" };
        let span = super::row_span(rows);
        writeln!(out, "  {n:>4}  rows {span:<11}  {users} user{plural}")?;
    }
    if summary.requests > listed.len() as u64 {
        writeln!(out, "  … {} more", summary.requests - listed.len() as u64)?;
    }
    writeln!(out, "\n{}", super::counts_line(summary))?;
    match shown {
        Some((n, request)) => {
            writeln!(
                out,
                "\nRequest {n} of {} (rows {}):\n{} {}",
                summary.requests,
                super::row_span(&request.rows),
                request.method,
                request.path
            )?;
            serde_json::to_writer_pretty(&mut *out, &request.body)?;
            writeln!(out)?;
        }
        None if args.batch.is_some() || args.row.is_some() => {
            writeln!(
                out,
                "\nNo request holds that batch or row (rows with errors are not sent)."
            )?;
        }
        None => {}
    }
    Ok(())
}

fn report_skipped(summary: &Summary) {
    if summary.errors > 0 {
        eprintln!(
            "zdimport: {} rows have errors and are not sent; `zdimport validate` lists them",
            summary.errors
        );
    }
}
