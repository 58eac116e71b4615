//! `zdimport preview`: the exact requests an import would send.

use super::{CliError, CliResult};
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use clap::Args;

use super::account::{AccountArgs, runtime};
use super::mapped::MappingArgs;
use crate::session::check::{self, Event, Summary};
use crate::session::check::{Mode, Object, Request};

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
        Some(runtime.block_on(args.connection.connect(args.mapping.object()?))?)
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
    let mut printer = Printer {
        args,
        listed: Vec::new(),
        shown: None,
        write_error: None,
        number: 0,
    };
    // With the account, organizations are looked up first (as an import does), so every
    // request is held until then; without, each is printed as it comes.
    let mut held: Vec<Request> = Vec::new();
    let source = prepared.streamed();
    let summary = check::streamed(source, &checks, |event| {
        let Event::Request(request) = event else {
            return ControlFlow::Continue(());
        };
        if connected.is_some() {
            held.push(request);
            return ControlFlow::Continue(());
        }
        printer.take(&mut out, request)
    })?;
    let mut missing = Vec::new();
    let held_members: usize = held
        .iter()
        .flat_map(|r| &r.body.users)
        .map(|u| u.memberships.len())
        .sum();
    if let Some(connected) = &connected {
        let resolving = crate::session::check::resolve_requests(&connected.client, &mut held, 4);
        missing = runtime.block_on(resolving).map_err(|e| e.to_string())?;
        if args.jsonl {
            super::stdout_written(write_organizations(&mut out, &missing))?;
        }
        for request in held {
            if printer.take(&mut out, request).is_break() {
                break;
            }
        }
    }
    let Printer {
        listed,
        shown,
        write_error,
        ..
    } = printer;
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
        let asked: usize = held_members;
        if asked > 0 {
            super::stdout_written(writeln!(
                out,
                "\nMemberships the rows ask besides each user's default organization: {asked}, \
                 added by an import once the users exist (organization_memberships/create_many); \
                 those the users already hold are left out (`zdimport plan` counts what is added)"
            ))?;
        }
        if !missing.is_empty() {
            super::stdout_written(writeln!(
                out,
                "\nOrganizations the account lacks, created first by an import ({}; {}), their \
                 users then sent with the ids they get (shown above by name): {}",
                missing.len(),
                crate::session::run::organizations_cost(missing.len()),
                missing.join(", ")
            ))?;
        }
    }
    super::stdout_written(out.flush())?;
    report_skipped(&summary);
    Ok(ExitCode::SUCCESS)
}

/// Takes the requests in order: `--jsonl` prints each, the text lists them and keeps the one
/// asked for.
struct Printer<'a> {
    args: &'a PreviewArgs,
    listed: Vec<(u64, Vec<u32>, usize)>,
    shown: Option<(u64, Request)>,
    write_error: Option<std::io::Error>,
    number: u64,
}

impl Printer<'_> {
    fn take(&mut self, out: &mut impl Write, request: Request) -> ControlFlow<()> {
        self.number += 1;
        let number = self.number;
        if self.args.jsonl {
            let line = serde_json::to_writer(&mut *out, &request)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(e) = line {
                self.write_error = Some(e);
                return ControlFlow::Break(());
            }
            return ControlFlow::Continue(());
        }
        if self.listed.len() < LISTED {
            self.listed
                .push((number, request.rows.clone(), request.len()));
        }
        let wanted = match (self.args.batch, self.args.row) {
            (Some(n), _) => n == number,
            (None, Some(row)) => request.rows.contains(&row),
            (None, None) => number == 1,
        };
        if wanted {
            self.shown = Some((number, request));
        }
        ControlFlow::Continue(())
    }
}

/// `--jsonl` with the account: the `organizations/create_many` requests an import sends
/// first, before the users' (no sheet rows of their own).
fn write_organizations(out: &mut impl Write, missing: &[String]) -> std::io::Result<()> {
    let endpoint = crate::session::account::BulkEndpoint::OrganizationsCreateMany;
    for names in missing.chunks(crate::session::run::PlannedOrg::PER_CALL) {
        let orgs: Vec<serde_json::Value> = names
            .iter()
            .map(|name| serde_json::json!({ "name": name }))
            .collect();
        let line = serde_json::json!({
            "method": endpoint.method().as_str(),
            "path": endpoint.path(),
            "rows": [],
            "body": { "organizations": orgs },
        });
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_text(
    out: &mut impl Write,
    args: &PreviewArgs,
    prepared: &super::mapped::Prepared,
    summary: &Summary,
    listed: &[(u64, Vec<u32>, usize)],
    shown: Option<&(u64, Request)>,
) -> std::io::Result<()> {
    let object = prepared.mapping.object;
    let (method, path) = match object {
        Object::Users => prepared.options.mode.endpoint(),
        Object::Organizations => check::organization_endpoint(prepared.options.mode),
    };
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
    let one = object.one();
    for (n, rows, records) in listed {
        let plural = if *records == 1 { "" } else { "s" };
        let span = super::row_span(rows);
        writeln!(out, "  {n:>4}  rows {span:<11}  {records} {one}{plural}")?;
    }
    if object == Object::Organizations && prepared.options.mode == Mode::Upsert {
        writeln!(
            out,
            "  (upsert: the plan sends the organizations Zendesk already holds to \
             organizations/update_many by id instead; `zdimport plan` shows which)"
        )?;
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
