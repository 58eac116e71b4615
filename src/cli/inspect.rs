//! `zdimport inspect`: what is in a file, before any mapping.

use super::CliResult;
use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::SourceArgs;
use crate::session::source::column_letter;
use std::ops::ControlFlow;

use crate::session::source::{
    Format, HeaderChoice, SheetError, SheetInfo, SheetKind, TableLayout, Visibility, Workbook,
};
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
    let read = Read::of(&mut wb, sheet, args.source.header())?;
    let report = report(&wb, &read);
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

/// What `inspect` shows of a table, read as it streams: the rows are counted and each
/// column's first non-blank values kept, never the rows themselves (a million-row xlsx held
/// its whole table besides calamine's shared strings: 372 MiB).
struct Read {
    layout: TableLayout,
    rows: usize,
    blank_rows: usize,
    /// Per table column, its first [`SAMPLES`] non-blank values as shown.
    samples: Vec<Vec<String>>,
}

impl Read {
    fn of(wb: &mut Workbook, sheet: usize, header: HeaderChoice) -> Result<Read, SheetError> {
        let (mut rows, mut samples) = (0, Vec::<Vec<String>>::new());
        let (layout, blank_rows) = wb.read_table(sheet, header, |layout, row| {
            samples.resize_with(layout.headers.len(), Vec::new);
            rows += 1;
            for (kept, cell) in samples.iter_mut().zip(&row.cells) {
                if kept.len() < SAMPLES && !cell.is_blank() {
                    kept.push(cell.display());
                }
            }
            ControlFlow::Continue(())
        })?;
        samples.resize_with(layout.headers.len(), Vec::new);
        Ok(Read {
            layout,
            rows,
            blank_rows,
            samples,
        })
    }
}

fn report<'a>(wb: &'a Workbook, read: &'a Read) -> Report<'a> {
    let first = read.layout.first_column as usize;
    let columns = read
        .layout
        .headers
        .iter()
        .zip(&read.samples)
        .enumerate()
        .map(|(i, (h, samples))| Column {
            letter: column_letter(first + i),
            header: h.clone(),
            samples: samples.clone(),
        })
        .collect();
    let delimited = wb.delimited();
    Report {
        file: wb.path().display().to_string(),
        format: wb.format(),
        encoding: delimited.map(|d| d.encoding),
        delimiter: delimited.map(|d| delimiter_name(d.delimiter)),
        sheets: wb.sheets(),
        sheet: &read.layout.sheet,
        header_row: read.layout.header_row,
        data_rows: read.rows,
        blank_rows: read.blank_rows,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_read_counts_rows_and_keeps_each_columns_first_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        let text = "Name,Email,Seats\nAna,,1\n,,\nBo,bo@x.com,\nCy,cy@x.com,3\nDi,di@x.com,4\nEd,ed@x.com,5\n";
        std::fs::write(&path, text).unwrap();
        let mut wb = Workbook::open(&path).unwrap();
        let read = Read::of(&mut wb, 0, HeaderChoice::Auto).unwrap();
        assert_eq!(read.rows, 5);
        // Blank cells are passed over; three values a column at most.
        assert_eq!(read.samples[0], ["Ana", "Bo", "Cy"]);
        assert_eq!(read.samples[1], ["bo@x.com", "cy@x.com", "di@x.com"]);
        assert_eq!(read.samples[2], ["1", "3", "4"]);
        // The same as the whole table loaded says.
        let table = wb.load_table(0, HeaderChoice::Auto).unwrap();
        assert_eq!(
            (table.len(), table.blank_rows),
            (read.rows, read.blank_rows)
        );
        for (i, samples) in read.samples.iter().enumerate() {
            assert_eq!(&table.samples(i, SAMPLES), samples);
        }
    }
}
