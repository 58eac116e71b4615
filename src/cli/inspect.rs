//! `zdimport inspect`: what is in a file, before any mapping.

use super::CliResult;
use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::SourceArgs;
use crate::session::source::column_letter;
use crate::session::source::{Format, SheetInfo, SheetKind, Table, Visibility, Workbook};
use crate::text::shorten;

/// Sample values shown per column.
const SAMPLES: usize = 3;

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    file: String,
    format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    sheets: &'a [SheetInfo],
    sheet: &'a str,
    header_row: u32,
    data_rows: usize,
    blank_rows: usize,
    columns: Vec<Column>,
}

#[derive(Debug, Serialize)]
struct Column {
    letter: String,
    header: String,
    samples: Vec<String>,
}

pub fn run(args: &InspectArgs) -> CliResult<ExitCode> {
    let (mut wb, sheet) = args.source.open()?;
    let table = wb.load_table(sheet, args.source.header())?;
    let report = report(&wb, &table);
    let mut out = super::visible_stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(&mut out, &report)
    };
    super::stdout_written(written)?;
    Ok(ExitCode::SUCCESS)
}

fn report<'a>(wb: &'a Workbook, table: &'a Table) -> Report<'a> {
    let first = table.layout.first_column as usize;
    let columns = table
        .layout
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| Column {
            letter: column_letter(first + i),
            header: h.clone(),
            samples: table.samples(i, SAMPLES),
        })
        .collect();
    let delimited = wb.delimited();
    Report {
        file: wb.path().display().to_string(),
        format: wb.format(),
        encoding: delimited.map(|d| d.encoding),
        delimiter: delimited.map(|d| delimiter_name(d.delimiter)),
        sheets: wb.sheets(),
        sheet: &table.layout.sheet,
        header_row: table.layout.header_row,
        data_rows: table.len(),
        blank_rows: table.blank_rows,
        columns,
    }
}

fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_owned(),
        other => char::from(other).to_string(),
    }
}

fn write_text(out: &mut impl Write, r: &Report<'_>) -> std::io::Result<()> {
    write!(out, "{} ({:?}", r.file, r.format)?;
    if let (Some(enc), Some(delim)) = (r.encoding, &r.delimiter) {
        write!(out, ", {enc}, delimiter {delim}")?;
    }
    writeln!(out, ")")?;
    writeln!(out, "\nSheets:")?;
    for (i, s) in r.sheets.iter().enumerate() {
        let mark = if s.name == r.sheet { '>' } else { ' ' };
        writeln!(out, "{mark} {:>2}  {:<24} {}", i + 1, s.name, sheet_note(s))?;
    }
    writeln!(
        out,
        "\nSheet '{}': header on row {}, {} data rows ({} blank rows skipped)\n",
        r.sheet, r.header_row, r.data_rows, r.blank_rows
    )?;
    let width = r
        .columns
        .iter()
        .map(|c| c.header.chars().count())
        .max()
        .unwrap_or(0)
        .min(32);
    for c in &r.columns {
        let samples: Vec<String> = c.samples.iter().map(|s| shorten(s, 24)).collect();
        writeln!(
            out,
            "  {:<3} {:<width$}  {}",
            c.letter,
            shorten(&c.header, 32),
            samples.join(" | ")
        )?;
    }
    Ok(())
}

fn sheet_note(s: &SheetInfo) -> String {
    let mut note = match (s.kind, s.size) {
        (SheetKind::Worksheet, Some((rows, cols))) => format!("{rows} rows x {cols} columns"),
        (SheetKind::Worksheet, None) => "size not recorded".to_owned(),
        (kind, _) => format!("{kind:?} sheet, no cells").to_lowercase(),
    };
    match s.visibility {
        Visibility::Visible => {}
        Visibility::Hidden => note.push_str(" (hidden)"),
        Visibility::VeryHidden => note.push_str(" (very hidden)"),
    }
    note
}
