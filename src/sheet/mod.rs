//! Worksheets in: calamine workbooks and CSV/TSV text, header detection, typed cells.
//!
//! A [`Workbook`] lists its sheets and streams a sheet's rows; [`Workbook::read_table`]
//! finds the header row and hands over each data row with its spreadsheet row number, so a
//! million-row file never has to sit in memory (a CSV file is decoded as it is read, never
//! held). [`Workbook::load_table`] keeps the rows for front ends that browse them, compactly
//! ([`Table`]).

mod cell;
mod chunks;
pub mod formats;
mod gate;
mod guard;
pub mod header;
pub mod limits;
mod reader;
mod records;
mod table;
mod text;

use std::fmt;
use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use calamine::{Reader, Sheets};
use chrono::NaiveDateTime;

use crate::error::SheetError;
pub use chunks::Chunk;
pub use limits::Limits;
pub use reader::{CellsRow, RawRows, RowView, Texts};
pub use records::{RecordRef, Records, TableRow};
pub(crate) use table::blank_text;
pub use table::{CellRef, ColumnFull, RowRef, Table};
pub use text::{DelimitedText, TextNote};

/// One cell as the worksheet typed it.
///
/// CSV cells are always `Text`: a CSV file has no types, and guessing them would lose leading
/// zeros.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell {
    #[default]
    Empty,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A date or date-time; the 1900/1904 date system is already applied.
    DateTime(NaiveDateTime),
    /// A duration, such as `[hh]:mm:ss`, or a time of day, in days.
    Duration(f64),
    /// An Excel error value such as `#N/A`, as Excel spells it.
    Error(String),
}

impl Cell {
    /// Empty, or text that is only whitespace (NBSP included).
    pub fn is_blank(&self) -> bool {
        self.as_ref().is_blank()
    }

    /// The cell as a person reads it: `12345.0` as `12345`, dates as `YYYY-MM-DD`.
    pub fn display(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

/// A row with the spreadsheet's own 1-based row number.
///
/// Raw rows from [`RawRows`] hold cells from column A; table rows hold the table's columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub number: u32,
    pub cells: Vec<Cell>,
}

impl Row {
    /// Every cell blank.
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(Cell::is_blank)
    }
}

/// The file formats zdimport reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Xlsx,
    Xlsm,
    Xlsb,
    Xls,
    Ods,
    Csv,
    Tsv,
}

impl Format {
    /// The format named by a file's extension, if zdimport reads it.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "xlsx" => Format::Xlsx,
            "xlsm" => Format::Xlsm,
            "xlsb" => Format::Xlsb,
            "xls" | "xla" => Format::Xls,
            "ods" => Format::Ods,
            "csv" | "txt" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            _ => return None,
        })
    }

    /// Extensions a file browser should offer.
    pub const EXTENSIONS: [&'static str; 9] = [
        "xlsx", "xlsm", "xlsb", "xls", "ods", "csv", "tsv", "txt", "tab",
    ];
}

/// Whether Excel shows a sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Visible,
    Hidden,
    VeryHidden,
}

/// What a sheet holds: only worksheets have cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SheetKind {
    Worksheet,
    Chart,
    Dialog,
    Macro,
    Vba,
}

/// A sheet of the workbook and its used size, when the file says it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SheetInfo {
    pub name: String,
    pub visibility: Visibility,
    pub kind: SheetKind,
    /// Used rows and columns; `None` when the file does not record them.
    pub size: Option<(u32, u32)>,
}

/// Which row holds the column names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderChoice {
    /// The first row that is mostly non-empty text.
    #[default]
    Auto,
    /// This spreadsheet row (1-based).
    Row(u32),
}

/// Where the table sits in its sheet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableLayout {
    pub sheet: String,
    /// Spreadsheet row of the header (1-based).
    pub header_row: u32,
    /// Column of the first header (0-based, 0 = A).
    pub first_column: u32,
    pub headers: Vec<String>,
}

/// An open spreadsheet or delimited text file.
pub struct Workbook {
    path: PathBuf,
    format: Format,
    sheets: Vec<SheetInfo>,
    source: Source,
    /// Bytes of a text file read by the current read of its rows.
    progress: Arc<AtomicU64>,
}

/// How far the read of a text file's rows has got, readable from another thread.
#[derive(Debug, Clone)]
pub struct ReadProgress {
    read: Arc<AtomicU64>,
    /// The file's size in bytes.
    pub total: u64,
}

impl ReadProgress {
    /// Bytes of the file read so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
}

/// A workbook's file as calamine reads it: behind the guard ([`gate`]).
type Rs = BufReader<gate::Gated>;

enum Source {
    /// The workbook, and the guard's check of it, which calamine's reads follow.
    Calamine(Box<Sheets<Rs>>, gate::Guarded),
    Text(DelimitedText),
}

impl fmt::Debug for Workbook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workbook")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("sheets", &self.sheets)
            .finish_non_exhaustive()
    }
}

/// Rows a load copies into its table at a time, and chunks read ahead of the copying.
const LOAD_CHUNK: usize = 512;
const LOAD_AHEAD: usize = 4;

impl Workbook {
    /// Opens the file by its extension and lists its sheets with their sizes, within the
    /// limits the environment sets ([`Limits::from_env`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Workbook, SheetError> {
        Workbook::open_with(path, &Limits::from_env())
    }

    /// [`Workbook::open`] within these limits: a zip workbook is checked part by part before
    /// calamine inflates it.
    pub fn open_with(path: impl AsRef<Path>, limits: &Limits) -> Result<Workbook, SheetError> {
        let path = path.as_ref().to_path_buf();
        let format = Format::from_path(&path)
            .ok_or_else(|| SheetError::Unsupported { path: path.clone() })?;
        let io = |source| SheetError::Io {
            path: path.clone(),
            source,
        };
        let metadata = std::fs::metadata(&path).map_err(io)?;
        if !metadata.is_file() {
            // Reading a FIFO or a device would block, or never end.
            return Err(SheetError::Workbook {
                path,
                reason: "is not a regular file (a FIFO, device or directory); save the data \
                         to a file and open that"
                    .to_owned(),
            });
        }
        let source = match format {
            Format::Csv | Format::Tsv => {
                // Rows are decoded as they are read; the whole file is still bounded like a
                // workbook's part, so a runaway export is refused before anything is read.
                if metadata.len() > limits.part_bytes {
                    return Err(SheetError::Workbook {
                        reason: limits::Exceeded::PartBytes.message(limits, "the file"),
                        path,
                    });
                }
                let origin = text::Origin::File(path.clone());
                Source::Text(text::detect(origin, format == Format::Tsv, limits).map_err(io)?)
            }
            _ => {
                let (file, guarded) = gate::open(&path, limits).map_err(io)?;
                let sheets = open_calamine(format, BufReader::new(file)).map_err(|e| {
                    // The guard's refusal says why calamine could not go on.
                    let reason = guarded.gate.outcome().err().unwrap_or(e);
                    SheetError::Workbook {
                        path: path.clone(),
                        reason,
                    }
                })?;
                Source::Calamine(Box::new(sheets), guarded)
            }
        };
        let mut workbook = Workbook {
            path,
            format,
            sheets: Vec::new(),
            source,
            progress: Arc::default(),
        };
        workbook.sheets = workbook.list_sheets();
        if let Some(reason) = workbook.refused() {
            return Err(SheetError::Workbook {
                path: workbook.path,
                reason,
            });
        }
        Ok(workbook)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn sheets(&self) -> &[SheetInfo] {
        &self.sheets
    }

    /// The columns of `layout`'s table, read from its first `rows` data rows, whose whole
    /// numbers Excel shows padded with zeros they do not hold (xlsx and xlsm only: the others
    /// keep no number formats calamine reads).
    pub fn zero_padded(&mut self, layout: &TableLayout, rows: u32) -> Vec<formats::ZeroPadded> {
        match &mut self.source {
            Source::Calamine(sheets, _) => match sheets.as_mut() {
                Sheets::Xlsx(xlsx) => formats::zero_padded(xlsx, layout, rows),
                _ => Vec::new(),
            },
            Source::Text(_) => Vec::new(),
        }
    }

    /// What was detected about a delimited text file (encoding, delimiter).
    pub fn delimited(&self) -> Option<&DelimitedText> {
        match &self.source {
            Source::Text(t) => Some(t),
            Source::Calamine(..) => None,
        }
    }

    /// How far the current read of a text file's rows has got (`None` for a workbook).
    pub fn read_progress(&self) -> Option<ReadProgress> {
        match &self.source {
            Source::Text(t) => Some(ReadProgress {
                read: Arc::clone(&self.progress),
                total: t.stream.len,
            }),
            Source::Calamine(..) => None,
        }
    }

    fn list_sheets(&mut self) -> Vec<SheetInfo> {
        let Source::Calamine(sheets, _) = &mut self.source else {
            let name = self
                .path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            // A text file records no size, and counting its rows would read it all once more.
            return vec![SheetInfo {
                name,
                visibility: Visibility::Visible,
                kind: SheetKind::Worksheet,
                size: None,
            }];
        };
        let metadata = sheets.sheets_metadata().to_vec();
        metadata
            .into_iter()
            .map(|meta| {
                let kind = sheet_kind(meta.typ);
                let size = if kind == SheetKind::Worksheet {
                    reader::size(sheets, &meta.name)
                } else {
                    Some((0, 0))
                };
                SheetInfo {
                    visibility: visibility(meta.visible),
                    kind,
                    size,
                    name: meta.name,
                }
            })
            .collect()
    }

    /// The sheet named `wanted` (exact, then ignoring case and outer spaces) or at that
    /// 1-based position.
    pub fn find_sheet(&self, wanted: &str) -> Result<usize, SheetError> {
        let by_name = self
            .sheets
            .iter()
            .position(|s| s.name == wanted)
            .or_else(|| {
                let w = wanted.trim().to_lowercase();
                self.sheets
                    .iter()
                    .position(|s| s.name.trim().to_lowercase() == w)
            });
        let by_index = || {
            wanted
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|i| (1..=self.sheets.len()).contains(i))
                .map(|i| i - 1)
        };
        by_name
            .or_else(by_index)
            .ok_or_else(|| SheetError::NoSuchSheet {
                path: self.path.clone(),
                wanted: wanted.to_owned(),
                available: self
                    .sheets
                    .iter()
                    .map(|s| format!("'{}'", s.name))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The first visible worksheet that may have cells, else the first sheet.
    pub fn default_sheet(&self) -> usize {
        self.sheets
            .iter()
            .position(|s| {
                s.visibility == Visibility::Visible
                    && s.kind == SheetKind::Worksheet
                    && s.size.is_none_or(|(r, _)| r > 0)
            })
            .unwrap_or(0)
    }

    fn sheet_name(&self, sheet: usize) -> String {
        self.sheets
            .get(sheet)
            .map_or_else(String::new, |s| s.name.clone())
    }

    /// Streams the sheet's non-blank rows, from column A, with their row numbers.
    pub fn raw_rows(&mut self, sheet: usize) -> Result<RawRows<'_>, SheetError> {
        let name = self.sheet_name(sheet);
        let kind = self.sheets.get(sheet).map(|s| s.kind);
        if kind != Some(SheetKind::Worksheet) {
            return Err(self.sheet_error(
                &name,
                "is not a worksheet (a chart or macro sheet has no cells)",
            ));
        }
        let path = self.path.clone();
        match &mut self.source {
            Source::Text(t) => {
                self.progress.store(0, Ordering::Relaxed);
                RawRows::csv(t, &path, Arc::clone(&self.progress))
            }
            Source::Calamine(sheets, guarded) => {
                RawRows::calamine(sheets, &name, &path, Arc::clone(&guarded.gate))
            }
        }
    }

    /// The first `n` non-blank rows, from column A, above and below the header alike.
    pub fn preview(&mut self, sheet: usize, n: usize) -> Result<Vec<Row>, SheetError> {
        let mut rows = self.raw_rows(sheet)?;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match rows.next_row()? {
                Some(row) => out.push(row),
                None => break,
            }
        }
        Ok(out)
    }

    /// Finds the header, then calls `on_row` with every non-blank data row below it.
    ///
    /// Returns the table's layout and the number of blank rows passed over. `on_row` can stop
    /// the read early with `ControlFlow::Break`.
    pub fn read_table(
        &mut self,
        sheet: usize,
        header: HeaderChoice,
        on_row: impl FnMut(&TableLayout, &Row) -> ControlFlow<()>,
    ) -> Result<(TableLayout, usize), SheetError> {
        self.read_table_columns(sheet, header, None, on_row)
    }

    /// [`Workbook::read_table`] for a reader that looks at some columns only (table columns,
    /// 0-based): the others are handed out empty, their text never copied. Rows count as blank
    /// or not by all the table's columns, as ever.
    ///
    /// Each row is lent to `on_row` in one buffer the reader fills again for the next row
    /// (its text reusing the room it has), so a long sheet costs no allocation per cell.
    pub fn read_table_columns(
        &mut self,
        sheet: usize,
        header: HeaderChoice,
        wanted: Option<&[usize]>,
        mut on_row: impl FnMut(&TableLayout, &Row) -> ControlFlow<()>,
    ) -> Result<(TableLayout, usize), SheetError> {
        let mut owned = Row::default();
        self.read_table_views(sheet, header, wanted, |layout, view| match view {
            RowView::Row(row) => on_row(layout, row),
            RowView::Texts(texts) => {
                texts.fill(&mut owned);
                on_row(layout, &owned)
            }
            RowView::Cells(cells) => {
                cells.fill(&mut owned);
                on_row(layout, &owned)
            }
        })
    }

    /// [`Workbook::read_table_columns`] lending each row as the reader holds it: a delimited
    /// file's record in place ([`RowView::Texts`]), for a caller that copies the text once
    /// into a chunk of its own; any other row as cells. Blank rows are counted, not lent.
    pub fn read_table_views(
        &mut self,
        sheet: usize,
        header: HeaderChoice,
        wanted: Option<&[usize]>,
        mut on_row: impl FnMut(&TableLayout, RowView<'_>) -> ControlFlow<()>,
    ) -> Result<(TableLayout, usize), SheetError> {
        let name = self.sheet_name(sheet);
        let path = self.path.clone();
        let mut rows = self.raw_rows(sheet)?;
        let (layout, buffered) = find_header(&mut rows, header, &name, &path)?;
        let width = layout.headers.len();
        let keep = wanted.map(|wanted| {
            let mut keep = vec![false; width];
            for &c in wanted {
                if let Some(k) = keep.get_mut(c) {
                    *k = true;
                }
            }
            keep
        });
        let table = reader::TableColumns {
            first: layout.first_column as usize,
            width,
            keep,
        };
        rows.set_table(table.clone());
        let mut blank = 0;
        for row in buffered {
            let row = table.of_raw(row);
            let view = RowView::Row(&row);
            if view.is_blank() {
                blank += 1;
            } else if on_row(&layout, view).is_break() {
                return Ok((layout, blank));
            }
        }
        // The rows move into the scope: dropped when it ends, on an error or a panic too, they
        // stop the thread reading ahead, which the scope then waits for.
        std::thread::scope(|scope| {
            let mut rows = rows;
            rows.read_ahead(scope);
            let mut row = Row::default();
            while let Some(view) = rows.next_view(&mut row)? {
                if view.is_blank() {
                    blank += 1;
                } else if on_row(&layout, view).is_break() {
                    break;
                }
            }
            Ok((layout, blank))
        })
    }

    /// The table's layout (sheet, header row, column names) without reading its rows.
    pub fn layout(
        &mut self,
        sheet: usize,
        header: HeaderChoice,
    ) -> Result<TableLayout, SheetError> {
        let (layout, _) = self.read_table(sheet, header, |_, _| ControlFlow::Break(()))?;
        Ok(layout)
    }

    /// Reads the whole table into memory.
    pub fn load_table(&mut self, sheet: usize, header: HeaderChoice) -> Result<Table, SheetError> {
        self.load_table_with(sheet, header, |_| ControlFlow::Continue(()))
            .map(|(table, _)| table)
    }

    /// [`Workbook::load_table`], calling `after_row` with the rows kept so far after each
    /// one; it can stop the load (`ControlFlow::Break`), which then answers the rows read
    /// so far and `true`.
    pub fn load_table_with(
        &mut self,
        sheet: usize,
        header: HeaderChoice,
        mut after_row: impl FnMut(usize) -> ControlFlow<()>,
    ) -> Result<(Table, bool), SheetError> {
        let mut table: Option<Table> = None;
        let mut full = None;
        let mut stopped = false;
        // The sheet is read on a thread of its own, in chunks; this one copies them into the
        // table (each a row at a time, for `after_row`), while the next is read.
        let workbook = &mut *self;
        let read = std::thread::scope(|scope| {
            let (chunks, received) = std::sync::mpsc::sync_channel(LOAD_AHEAD);
            let reader = scope.spawn(move || {
                let mut send = |layout: &TableLayout, chunk: Chunk| {
                    chunks.send((layout.clone(), chunk)).is_ok()
                };
                workbook.read_chunks((sheet, header), None, LOAD_CHUNK, &mut send)
            });
            'chunks: for (layout, chunk) in received {
                let table = table.get_or_insert_with(|| Table::new(layout, 0));
                let width = table.width();
                let mut take = |number, cells: &mut dyn Iterator<Item = CellRef<'_>>| match table
                    .push(number, cells)
                {
                    Err(e) => {
                        full = Some(e);
                        ControlFlow::Break(())
                    }
                    Ok(()) => after_row(table.len()),
                };
                let taken = match &chunk {
                    Chunk::Table(rows) => rows
                        .rows()
                        .try_for_each(|row| take(row.number, &mut row.cells())),
                    Chunk::Records(records) => records.rows().try_for_each(|row| {
                        take(row.number(), &mut (0..width).map(|c| row.cell(c)))
                    }),
                };
                if taken.is_break() {
                    stopped = full.is_none();
                    break 'chunks;
                }
            }
            // Dropped on a stop: the reader's next send fails, and it ends.
            match reader.join() {
                Ok(read) => read,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        let (layout, blank_rows) = read?;
        if let Some(ColumnFull { column }) = full {
            let header = layout.headers.get(column).map_or("", String::as_str);
            return Err(self.sheet_error(
                &layout.sheet,
                &format!(
                    "column {} ('{header}') holds more than 4 GiB of text: too much to hold \
                     in memory; `zdimport validate` and `import` stream the sheet instead",
                    header::column_letter(layout.first_column as usize + column)
                ),
            ));
        }
        let mut table = table.unwrap_or_else(|| Table::new(layout, 0));
        table.blank_rows = blank_rows;
        table.shrink_to_fit();
        Ok((table, stopped))
    }

    /// The error for row `number` of the table of `layout`, whose cells together hold more than
    /// 4 GiB of text in one column: only a cell limit lifted far past Excel's makes one.
    pub fn row_too_big(&self, layout: &TableLayout, number: u32) -> SheetError {
        self.sheet_error(
            &layout.sheet,
            &format!(
                "row {number} holds more than 4 GiB of text in one column: too much to check; \
                 is ZDIMPORT_MAX_CELL_BYTES lifted that far?"
            ),
        )
    }

    /// Why the guard refused the workbook, if it has by now.
    fn refused(&self) -> Option<String> {
        match &self.source {
            Source::Calamine(_, guarded) => guarded.gate.refused(),
            Source::Text(_) => None,
        }
    }

    fn sheet_error(&self, sheet: &str, reason: &str) -> SheetError {
        SheetError::Sheet {
            path: self.path.clone(),
            sheet: sheet.to_owned(),
            reason: reason.to_owned(),
        }
    }
}

/// Reads rows until the header is known; returns the layout and the rows read past it.
fn find_header(
    rows: &mut RawRows<'_>,
    choice: HeaderChoice,
    sheet: &str,
    path: &Path,
) -> Result<(TableLayout, Vec<Row>), SheetError> {
    let mut sample = Vec::new();
    let header_index = match choice {
        HeaderChoice::Auto => {
            while sample.len() < header::SAMPLE_ROWS {
                match rows.next_row()? {
                    Some(row) => sample.push(row),
                    None => break,
                }
            }
            if sample.is_empty() {
                return Err(SheetError::Empty {
                    path: path.to_path_buf(),
                    sheet: sheet.to_owned(),
                });
            }
            header::detect(&sample)
        }
        HeaderChoice::Row(wanted) => {
            // The last row read: the sheet's size when the wanted row is past its end.
            let mut last = 0;
            loop {
                match rows.next_row()? {
                    Some(row) if row.number < wanted => last = row.number,
                    Some(row) if row.number == wanted => {
                        sample.push(row);
                        break 0;
                    }
                    other => {
                        let past = other.map(|r| r.number);
                        return Err(SheetError::HeaderOutOfRange {
                            path: path.to_path_buf(),
                            sheet: sheet.to_owned(),
                            row: wanted,
                            rows: past.unwrap_or(last),
                        })
                        .map_err(|e| blank_header(e, past));
                    }
                }
            }
        }
    };
    let mut rest = sample.split_off(header_index);
    let header_row = rest.remove(0);
    let (first_column, headers) = header::name_columns(&header_row);
    let layout = TableLayout {
        sheet: sheet.to_owned(),
        header_row: header_row.number,
        first_column,
        headers,
    };
    Ok((layout, rest))
}

/// A chosen header row that exists but is blank says so, rather than "outside the sheet".
fn blank_header(error: SheetError, next_row: Option<u32>) -> SheetError {
    match (error, next_row) {
        (
            SheetError::HeaderOutOfRange {
                path, sheet, row, ..
            },
            Some(_),
        ) => SheetError::Sheet {
            path,
            sheet,
            reason: format!("header row {row} is blank"),
        },
        (e, _) => e,
    }
}

/// calamine's reader of `format` over `rs`; its error as calamine's `open_workbook_auto` words
/// it.
fn open_calamine(format: Format, rs: Rs) -> Result<Sheets<Rs>, String> {
    use calamine::{Error, Ods, Xls, Xlsb, Xlsx};
    let sheets = match format {
        Format::Xlsx | Format::Xlsm => Xlsx::new(rs).map(Sheets::Xlsx).map_err(Error::Xlsx),
        Format::Xlsb => Xlsb::new(rs).map(Sheets::Xlsb).map_err(Error::Xlsb),
        Format::Xls => Xls::new(rs).map(Sheets::Xls).map_err(Error::Xls),
        Format::Ods => Ods::new(rs).map(Sheets::Ods).map_err(Error::Ods),
        Format::Csv | Format::Tsv => Err(Error::Msg("a text file is not a workbook")),
    };
    sheets.map_err(|e| e.to_string())
}

fn sheet_kind(typ: calamine::SheetType) -> SheetKind {
    match typ {
        calamine::SheetType::WorkSheet => SheetKind::Worksheet,
        calamine::SheetType::ChartSheet => SheetKind::Chart,
        calamine::SheetType::DialogSheet => SheetKind::Dialog,
        calamine::SheetType::MacroSheet => SheetKind::Macro,
        calamine::SheetType::Vba => SheetKind::Vba,
    }
}

fn visibility(v: calamine::SheetVisible) -> Visibility {
    match v {
        calamine::SheetVisible::Visible => Visibility::Visible,
        calamine::SheetVisible::Hidden => Visibility::Hidden,
        calamine::SheetVisible::VeryHidden => Visibility::VeryHidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rstest::rstest;

    #[rstest]
    #[case(Cell::Float(12345.0), "12345")]
    #[case(Cell::Float(474_939_423_470_395_392.0), "474939423470395392")]
    #[case(Cell::Float(1.5), "1.5")]
    #[case(Cell::Int(-7), "-7")]
    #[case(Cell::Bool(true), "true")]
    #[case(Cell::Duration(10.632060185185185), "255:10:10")]
    #[case(Cell::Error("#REF!".into()), "#REF!")]
    fn displays_cells(#[case] cell: Cell, #[case] want: &str) {
        assert_eq!(cell.display(), want);
    }

    #[test]
    fn displays_dates_without_midnight() {
        let d = NaiveDate::from_ymd_opt(2021, 1, 2).unwrap();
        assert_eq!(
            Cell::DateTime(d.and_hms_opt(0, 0, 0).unwrap()).display(),
            "2021-01-02"
        );
        assert_eq!(
            Cell::DateTime(d.and_hms_opt(9, 5, 0).unwrap()).display(),
            "2021-01-02 09:05:00"
        );
    }

    #[test]
    fn blank_text_is_what_trim_leaves_empty() {
        let texts = [
            "", " ", "\t\r\n", "a", " a", "a ", "\u{a0}", "\u{a0}x", "\u{3000}", "\u{feff}", "~",
            "\x7f", "\x1f", "é", "凯", "!",
        ];
        for text in texts {
            assert_eq!(blank_text(text), text.trim().is_empty(), "{text:?}");
        }
    }

    #[test]
    fn nbsp_only_text_is_blank() {
        assert!(Cell::Text("\u{a0} \u{a0}".into()).is_blank());
        assert!(!Cell::Text("\u{a0}凯".into()).is_blank());
    }

    /// A delimited file's rows lent in place ([`Workbook::read_table_views`]) are the rows the
    /// reader gives as cells: the table's columns from its first, the unwanted ones empty,
    /// rows blank in the table's columns counted and not lent; and they read back the same
    /// from a chunk of [`Records`], each copied in one run.
    #[test]
    fn records_lent_in_place_are_the_rows_as_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        let text = "note,,\n\
                    ,Name,Email,Plan\n\
                    x,Ann,ann@x.com,gold\n\
                    y,,,\n\
                    ,,,\n\
                    z,\"Bob\nJr\",  ,\n\
                    ,Cy\n\
                    ,Di,di@x.com,silver,extra\n";
        std::fs::write(&path, text).unwrap();
        let header = HeaderChoice::Row(2);
        for wanted in [None, Some(&[0, 1][..]), Some(&[2][..])] {
            let mut workbook = Workbook::open(&path).unwrap();
            let mut lent = Vec::new();
            let mut records = None;
            let (layout, blank) = workbook
                .read_table_views(0, header, wanted, |layout, view| {
                    assert_eq!(layout.first_column, 1);
                    lent.push(match view {
                        RowView::Row(row) => row.clone(),
                        RowView::Cells(_) => panic!("a CSV's row lent as worksheet cells"),
                        RowView::Texts(texts) => {
                            let (run, lens) = texts.run();
                            records
                                .get_or_insert_with(|| Records::new(3).keeping(texts.kept()))
                                .push_run(texts.number(), run, lens);
                            let mut row = Row::default();
                            texts.fill(&mut row);
                            row
                        }
                    });
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(layout.headers, ["Name", "Email", "Plan"]);
            // Row 4 is blank in the table's columns; row 5 is blank and skipped by the reader.
            assert_eq!(blank, 1);
            let expected: Vec<Row> = [
                (3, ["Ann", "ann@x.com", "gold"]),
                (6, ["Bob\nJr", "  ", ""]),
                (7, ["Cy", "", ""]),
                (8, ["Di", "di@x.com", "silver"]),
            ]
            .into_iter()
            .map(|(number, cells)| Row {
                number,
                cells: (0..3)
                    .map(|c| match wanted.is_none_or(|w| w.contains(&c)) {
                        true => Cell::text(cells[c]),
                        false => Cell::Empty,
                    })
                    .collect(),
            })
            .collect();
            assert_eq!(lent, expected, "{wanted:?}");
            let read_back = |records: &Records| -> Vec<Row> {
                let row = |r: RecordRef<'_>| Row {
                    number: r.number(),
                    cells: (0..3).map(|c| r.cell(c).to_cell()).collect(),
                };
                records.rows().map(row).collect()
            };
            // Each record copied in one run reads back as lent.
            assert_eq!(read_back(&records.unwrap()), expected, "{wanted:?}");
            // The rows as cells, the way the other readers take them.
            let mut as_cells = Vec::new();
            let mut workbook = Workbook::open(&path).unwrap();
            workbook
                .read_table_columns(0, header, wanted, |_, row| {
                    as_cells.push(row.clone());
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(as_cells, expected, "{wanted:?}");
        }
    }

    /// An xlsx whose sheet XML is `sheet_data` (the inside of `<sheetData>`), its shared
    /// strings `strings` in order.
    fn xlsx_of_xml(path: &Path, strings: &[&str], sheet_data: &str) {
        use std::io::{Read as _, Write as _};
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (i, text) in strings.iter().enumerate() {
            sheet.write_string(0, i as u16, *text).unwrap();
        }
        let plain = book.save_to_buffer().unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(plain)).unwrap();
        let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).unwrap();
            let name = entry.name().unwrap().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            if name == "xl/worksheets/sheet1.xml" {
                let xml = String::from_utf8(bytes).unwrap();
                let start = xml.find("<sheetData>").unwrap() + "<sheetData>".len();
                let end = xml.find("</sheetData>").unwrap();
                bytes = format!("{}{sheet_data}{}", &xml[..start], &xml[end..]).into_bytes();
            }
            out.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(&bytes).unwrap();
        }
        out.finish().unwrap();
    }

    /// A streamed worksheet's rows lent as calamine's cells ([`RowView::Cells`], whose text
    /// is looked at only when the row is taken) are the rows the reader gives as cells, in
    /// every odd shape a sheet's XML can take: columns out of order, a column given twice
    /// (blank after text, text after text), a row with cells outside the table only, a row of
    /// blank cells only, a row starting outside the table, another row's blank cell inside a
    /// row, a row number repeated and going back, shared and inline strings, NBSP, numbers,
    /// booleans, errors and ISO dates; and they read back the same from a chunk.
    #[test]
    fn worksheet_cells_lent_in_place_are_the_rows_as_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.xlsx");
        let inline = |at: &str, text: &str| {
            format!(r#"<c r="{at}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>"#)
        };
        let shared = |at: &str, i: u32| format!(r#"<c r="{at}" t="s"><v>{i}</v></c>"#);
        let number = |at: &str, v: &str| format!(r#"<c r="{at}"><v>{v}</v></c>"#);
        let rows = [
            (1, vec![shared("B1", 0), shared("C1", 1), shared("D1", 2)]),
            (2, vec![inline("D2", "gold"), inline("B2", "Ann")]),
            (
                3,
                vec![
                    inline("B3", "first"),
                    inline("B3", "  "),
                    shared("C3", 3),
                    number("C3", "7"),
                ],
            ),
            (4, vec![inline("A4", "outside")]),
            (5, vec![inline("B5", " "), shared("C5", 4)]),
            (
                6,
                vec![inline("A6", "x"), inline("C6", " "), number("D6", "1.5")],
            ),
            (7, vec![inline("A7", "x"), inline("C7", "\u{a0}")]),
            (
                8,
                vec![
                    inline("B8", "Row8"),
                    inline("C9", " "),
                    r#"<c r="D8" t="e"><v>#N/A</v></c>"#.to_owned(),
                ],
            ),
            (10, vec![r#"<c r="B10" t="b"><v>1</v></c>"#.to_owned()]),
            (10, vec![inline("C10", "again"), inline("E10", "beyond")]),
            (
                9,
                vec![r#"<c r="B9" t="d"><v>2014-11-11T10:00:00</v></c>"#.to_owned()],
            ),
            (11, vec![shared("D11", 3), inline("B11", " padded ")]),
        ];
        let xml: String = rows
            .iter()
            .map(|(r, cells)| format!(r#"<row r="{r}">{}</row>"#, cells.concat()))
            .collect();
        xlsx_of_xml(&path, &["Name", "Email", "Plan", "shared", "\u{a0}"], &xml);
        let header = HeaderChoice::Row(1);
        for wanted in [None, Some(&[0, 2][..]), Some(&[1][..])] {
            // The rows as cells, as `next_row_into` makes them.
            let mut workbook = Workbook::open(&path).unwrap();
            let mut raw = workbook.raw_rows(0).unwrap();
            let keep = wanted.map(|w| (0..3).map(|c| w.contains(&c)).collect());
            raw.set_table(reader::TableColumns {
                first: 1,
                width: 3,
                keep,
            });
            let mut expected = Vec::new();
            let mut expected_blank = 0;
            let mut row = Row::default();
            while raw.next_row_into(&mut row).unwrap() {
                match row.cells.is_empty() {
                    true => expected_blank += 1,
                    false => expected.push(row.clone()),
                }
            }
            drop(raw);
            assert_eq!(expected.remove(0).number, 1, "the header");
            // Rows 5 (blank cells only) is passed over; 4 and 7 are blank in the table.
            assert_eq!(expected_blank, 2);
            let numbers: Vec<u32> = expected.iter().map(|r| r.number).collect();
            assert_eq!(numbers, [2, 3, 6, 8, 10, 9, 11], "{wanted:?}");
            if wanted.is_none() {
                assert_eq!(expected[1].cells[0], Cell::text("first"));
                assert_eq!(expected[1].cells[1], Cell::Float(7.0));
                assert_eq!(expected[3].cells[2], Cell::Error("#N/A".into()));
            }

            let mut workbook = Workbook::open(&path).unwrap();
            let mut lent = Vec::new();
            let mut kinds = Vec::new();
            let (layout, blank) = workbook
                .read_table_views(0, header, wanted, |_, view| {
                    let mut row = Row::default();
                    kinds.push(matches!(view, RowView::Cells(_)));
                    match view {
                        RowView::Cells(cells) => cells.fill(&mut row),
                        RowView::Row(r) => row = r.clone(),
                        RowView::Texts(_) => panic!("a worksheet's row lent as a record"),
                    }
                    lent.push(row);
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(layout.headers, ["Name", "Email", "Plan"]);
            assert!(kinds.iter().all(|k| *k), "every row lent as cells");
            assert_eq!((blank, &lent), (expected_blank, &expected), "{wanted:?}");

            let mut workbook = Workbook::open(&path).unwrap();
            let mut chunked = Vec::new();
            workbook
                .read_chunks((0, header), wanted, 3, &mut |_, chunk| {
                    let Chunk::Table(table) = chunk else {
                        panic!("a worksheet's rows chunked as records");
                    };
                    chunked.extend(table.to_rows());
                    true
                })
                .unwrap();
            assert_eq!(chunked, expected, "{wanted:?}");
        }
    }

    /// A worksheet's rows filled into one reused row ([`Workbook::read_table_columns`]) are
    /// the rows as read anew each time: a sparse row after a full one, a number where text
    /// was, a shorter row, one with only cells outside the table, the wanted columns only.
    #[test]
    fn workbook_rows_filled_into_one_row_are_the_rows_as_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shapes.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet().set_name("Users").unwrap();
        for (c, header) in ["Name", "Email", "Seats", "Notes"].into_iter().enumerate() {
            sheet.write(0, c as u16 + 1, header).unwrap();
        }
        sheet.write(1, 1, "Ann Long Name").unwrap();
        sheet.write(1, 2, "ann@x.com").unwrap();
        sheet.write(1, 3, "three").unwrap();
        sheet.write(1, 4, "a note").unwrap();
        // Sparse: a gap, and text where a number goes next.
        sheet.write(2, 2, "b@x.com").unwrap();
        sheet.write_number(2, 4, 4.5).unwrap();
        // Shorter, and a number where text was.
        sheet.write(3, 1, "Cy").unwrap();
        sheet.write_number(3, 3, 7.0).unwrap();
        // Only outside the table (column A, column G): blank in the table's columns.
        sheet.write(4, 0, "outside").unwrap();
        sheet.write(4, 6, "far").unwrap();
        sheet.write(5, 4, "last").unwrap();
        book.save(&path).unwrap();
        let header = HeaderChoice::Row(1);
        let expected = |wanted: Option<&[usize]>| -> Vec<Row> {
            let rows: [(u32, [Cell; 4]); 3] = [
                (
                    2,
                    [
                        Cell::text("Ann Long Name"),
                        Cell::text("ann@x.com"),
                        Cell::text("three"),
                        Cell::text("a note"),
                    ],
                ),
                (
                    3,
                    [
                        Cell::Empty,
                        Cell::text("b@x.com"),
                        Cell::Empty,
                        Cell::Float(4.5),
                    ],
                ),
                (
                    4,
                    [Cell::text("Cy"), Cell::Empty, Cell::Float(7.0), Cell::Empty],
                ),
            ];
            let mut rows: Vec<Row> = rows
                .into_iter()
                .map(|(number, cells)| Row {
                    number,
                    cells: cells.into_iter().collect(),
                })
                .collect();
            rows.push(Row {
                number: 6,
                cells: vec![Cell::Empty, Cell::Empty, Cell::Empty, Cell::text("last")],
            });
            for row in &mut rows {
                for (c, cell) in row.cells.iter_mut().enumerate() {
                    if wanted.is_some_and(|w| !w.contains(&c)) {
                        *cell = Cell::Empty;
                    }
                }
            }
            rows
        };
        for wanted in [None, Some(&[0, 2][..]), Some(&[3][..])] {
            let mut read = Vec::new();
            let mut workbook = Workbook::open(&path).unwrap();
            let (_, blank) = workbook
                .read_table_columns(0, header, wanted, |_, row| {
                    read.push(row.clone());
                    ControlFlow::Continue(())
                })
                .unwrap();
            // Row 5 has cells outside the table only.
            assert_eq!(blank, 1, "{wanted:?}");
            assert_eq!(read, expected(wanted), "{wanted:?}");
        }
        // Raw rows (no table yet) are as long as their last cell.
        let mut workbook = Workbook::open(&path).unwrap();
        let mut rows = workbook.raw_rows(0).unwrap();
        let lengths: Vec<(u32, usize)> = std::iter::from_fn(|| rows.next_row().unwrap())
            .map(|row| (row.number, row.cells.len()))
            .collect();
        assert_eq!(lengths, [(1, 5), (2, 5), (3, 5), (4, 4), (5, 7), (6, 5)]);
    }

    /// A sheet of `rows` users under a header: shared strings, numbers, a blank note on every
    /// seventh row, a row left out every hundredth; and the rows as a reader should give them.
    fn big_sheet(path: &Path, rows: u32) -> Vec<Row> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, header) in ["Name", "Email", "Seats", "Notes"].into_iter().enumerate() {
            sheet.write(0, c as u16, header).unwrap();
        }
        let mut expected = Vec::new();
        for r in 1..=rows {
            if r % 100 == 0 {
                continue;
            }
            let note = (r % 7 != 0).then(|| format!("note {}", r % 13));
            sheet.write(r, 0, format!("User {r}")).unwrap();
            sheet.write(r, 1, format!("u{r}@x.com")).unwrap();
            sheet.write_number(r, 2, f64::from(r)).unwrap();
            if let Some(note) = &note {
                sheet.write(r, 3, note.as_str()).unwrap();
            }
            expected.push(Row {
                number: r + 1,
                cells: vec![
                    Cell::text(&format!("User {r}")),
                    Cell::text(&format!("u{r}@x.com")),
                    Cell::Float(f64::from(r)),
                    note.map_or(Cell::Empty, |n| Cell::text(&n)),
                ],
            });
        }
        book.save(path).unwrap();
        expected
    }

    /// A sheet of many times the cells the thread reading ahead hands over at once reads whole
    /// and in order, as rows and as chunks; a read stopped after a few rows, with that thread
    /// waiting to hand over more, ends (it is not left waiting, nor the read on it).
    #[test]
    fn a_sheet_read_ahead_gives_every_row_in_order_and_stops_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.xlsx");
        let expected = big_sheet(&path, 6_000);
        assert!(expected.len() * 4 > 2 * reader::AHEAD_CELLS * reader::AHEAD_BUNCHES);
        let header = HeaderChoice::Row(1);

        let mut workbook = Workbook::open(&path).unwrap();
        let mut rows = Vec::new();
        let (_, blank) = workbook
            .read_table_columns(0, header, None, |_, row| {
                rows.push(row.clone());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(blank, 0);
        assert_eq!(rows.len(), expected.len());
        assert!(
            rows == expected,
            "the rows read ahead differ from the sheet's"
        );

        let mut chunked = Vec::new();
        Workbook::open(&path)
            .unwrap()
            .read_chunks((0, header), Some(&[0, 2]), 500, &mut |_, chunk| {
                let Chunk::Table(table) = chunk else {
                    panic!("a worksheet's rows chunked as records");
                };
                chunked.extend(table.to_rows());
                true
            })
            .unwrap();
        let wanted: Vec<Row> = expected
            .iter()
            .map(|row| Row {
                number: row.number,
                cells: vec![
                    row.cells[0].clone(),
                    Cell::Empty,
                    row.cells[2].clone(),
                    Cell::Empty,
                ],
            })
            .collect();
        assert!(
            chunked == wanted,
            "the chunks read ahead differ from the sheet's"
        );

        // Stopped early, on its own thread so that a read left waiting fails the test.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut workbook = Workbook::open(&path).unwrap();
            let mut first = Vec::new();
            let read = workbook.read_table_columns(0, header, None, |_, row| {
                first.push(row.clone());
                if first.len() == 5 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            let _ = done.send((read.map(|(_, blank)| blank), first));
        });
        let (read, first) = finished
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("a read stopped after five rows never ended");
        assert_eq!(read.unwrap(), 0);
        assert_eq!(first, expected[..5]);
    }

    /// calamine's error deep in a sheet (a cell without a place), met by the thread reading
    /// ahead, is the read's error (naming the file and sheet), after the rows before it.
    #[test]
    fn an_error_met_reading_ahead_ends_the_read_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.xlsx");
        let mut xml = String::from(r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row>"#);
        for r in 2..=20_000 {
            xml.push_str(&format!(r#"<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>"#));
        }
        xml.push_str(r#"<row r="20001"><c r="A?"><v>1</v></c></row>"#);
        xlsx_of_xml(&path, &["Seats"], &xml);
        let mut workbook = Workbook::open(&path).unwrap();
        let mut rows = 0;
        let error = workbook
            .read_table_columns(0, HeaderChoice::Row(1), None, |_, _| {
                rows += 1;
                ControlFlow::Continue(())
            })
            .unwrap_err();
        // Rows 2 to 19,999; row 20,000 waits for the cell after it, which is the bad one.
        assert_eq!(rows, 19_998);
        let SheetError::Sheet {
            path: at, sheet, ..
        } = &error
        else {
            panic!("not the sheet's error: {error:?}");
        };
        assert_eq!((at, sheet.as_str()), (&path, "Sheet1"));
    }

    #[test]
    fn slices_and_pads_rows() {
        let row = Row {
            number: 4,
            cells: vec![Cell::Empty, Cell::Int(1), Cell::Int(2)],
        };
        let table = reader::TableColumns {
            first: 1,
            width: 3,
            keep: None,
        };
        assert_eq!(
            table.of_raw(row.clone()).cells,
            [Cell::Int(1), Cell::Int(2), Cell::Empty]
        );
        let wanted = reader::TableColumns {
            keep: Some(vec![false, true, true]),
            ..table.clone()
        };
        assert_eq!(
            wanted.of_raw(row.clone()).cells,
            [Cell::Empty, Cell::Int(2), Cell::Empty]
        );
        let blank = Row {
            number: 5,
            cells: vec![Cell::Int(1), Cell::Text(" ".into())],
        };
        assert_eq!(table.of_raw(blank).cells, []);
    }
}
