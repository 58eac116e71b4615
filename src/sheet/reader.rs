//! Row streams over each kind of source, all yielding non-blank rows from column A, or once
//! the table's columns are known ([`RawRows::set_table`]), rows of the table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use calamine::{Data, DataRef, Range, Reader, Sheets};

use super::gate::Gate;
use super::limits::Exceeded;
use super::table::{CellRef, blank_text};
use super::text::Decoded;
use super::{Cell, DelimitedText, Row, limits};
use crate::error::SheetError;

use super::Rs;

/// A stream of a sheet's non-blank rows, cells from column A.
pub struct RawRows<'a> {
    inner: Inner<'a>,
    path: PathBuf,
    sheet: String,
    table: Option<TableColumns>,
    /// The guard's check that a workbook's reads follow: its refusal is the error.
    gate: Option<Arc<Gate>>,
}

enum Inner<'a> {
    Cells(Cells<'a>),
    Range { range: Range<Data>, next: usize },
    Csv(Box<CsvRows>),
}

/// The table's columns: where they start, how many, and which ones the reader of the rows
/// looks at (`None`: all).
#[derive(Debug, Clone)]
pub(super) struct TableColumns {
    pub(super) first: usize,
    pub(super) width: usize,
    pub(super) keep: Option<Vec<bool>>,
}

impl TableColumns {
    /// Whether raw column `col` is a table column whose cells are wanted.
    fn keeps(&self, col: usize) -> bool {
        col >= self.first
            && col < self.first + self.width
            && self
                .keep
                .as_ref()
                .is_none_or(|k| k.get(col - self.first).copied().unwrap_or(false))
    }

    fn contains(&self, col: usize) -> bool {
        (self.first..self.first + self.width).contains(&col)
    }

    /// A raw row as a table row: its columns, padded; no cells when they are all blank.
    pub(super) fn of_raw(&self, mut row: Row) -> Row {
        if self.first >= row.cells.len() {
            row.cells.clear();
        } else {
            row.cells.drain(..self.first);
        }
        row.cells.truncate(self.width);
        if row.is_blank() {
            row.cells.clear();
            return row;
        }
        row.cells.resize(self.width, Cell::Empty);
        if let Some(keep) = &self.keep {
            for (cell, keep) in row.cells.iter_mut().zip(keep) {
                if !keep {
                    *cell = Cell::Empty;
                }
            }
        }
        row
    }
}

/// Rows of a delimited text file, decoded and parsed as they are read; each record is checked
/// as it comes (a field over the cell limit, a quote that swallows line breaks).
pub(super) struct CsvRows {
    reader: csv::Reader<Decoded>,
    record: csv::StringRecord,
    /// Records read, blank ones too: the CSV record number.
    number: u32,
    text: DelimitedText,
}

/// A cell as calamine's streaming reader gives it.
type RawCell<'a> = calamine::Cell<DataRef<'a>>;

/// Next cell of calamine's streaming reader (xlsx and xlsb; the xlsb type is not exported).
type NextCell<'a> = Box<dyn FnMut() -> Result<Option<RawCell<'a>>, String> + Send + 'a>;

/// Cells handed from the thread that reads ahead ([`RawRows::read_ahead`]) at a time.
pub(super) const AHEAD_CELLS: usize = 2048;
/// Bunches of cells read ahead and not yet taken: a few, so the reading thread never waits
/// long and little is held (about 80 KiB a bunch).
pub(super) const AHEAD_BUNCHES: usize = 4;

/// What the thread reading ahead hands over: cells, then the sheet's end or the reader's
/// error.
enum Ahead<'a> {
    Cells(Vec<RawCell<'a>>),
    End,
    Failed(String),
}

/// A cell-by-cell reader and the first cell of the next row, already read.
struct Cells<'a> {
    next: NextCell<'a>,
    /// The first cell of the next row (not blank), as calamine gave it.
    pending: Option<RawCell<'a>>,
    /// Calamine's readers fail when asked again after their last cell.
    done: bool,
    /// The row [`Cells::next_slots`] read last: a slot a table column, each holding its last
    /// cell as calamine gave it (text not yet looked at).
    slots: Vec<Option<RawCell<'a>>>,
    /// Whether each slot is blank (or has no cell).
    blank: Vec<bool>,
}

impl<'a> Cells<'a> {
    fn new(next: NextCell<'a>) -> Cells<'a> {
        Cells {
            next,
            pending: None,
            done: false,
            slots: Vec::new(),
            blank: Vec::new(),
        }
    }

    /// From now on, calamine's reader runs on a thread of `scope`'s, parsing the sheet while
    /// this one looks at the cells it has read: they come over in bunches, in order, its end and
    /// its error with them. The thread stops when the cells are no longer taken (the reader
    /// dropped), so `scope` does not wait on it.
    fn read_ahead<'scope>(&mut self, scope: &'scope std::thread::Scope<'scope, '_>)
    where
        'a: 'scope,
    {
        if self.done {
            return;
        }
        let (give, take) = std::sync::mpsc::sync_channel(AHEAD_BUNCHES);
        let mut next = std::mem::replace(&mut self.next, Box::new(|| Ok(None)));
        scope.spawn(move || {
            loop {
                let mut bunch = Vec::with_capacity(AHEAD_CELLS);
                let last = loop {
                    match next() {
                        Ok(Some(cell)) => bunch.push(cell),
                        Ok(None) => break Some(Ahead::End),
                        Err(reason) => break Some(Ahead::Failed(reason)),
                    }
                    if bunch.len() == AHEAD_CELLS {
                        break None;
                    }
                };
                // A send fails when the cells are no longer taken: nothing more to read.
                if !bunch.is_empty() && give.send(Ahead::Cells(bunch)).is_err() {
                    return;
                }
                if let Some(last) = last {
                    let _gone = give.send(last);
                    return;
                }
            }
        });
        let mut bunch = Vec::new().into_iter();
        self.next = Box::new(move || {
            loop {
                if let Some(cell) = bunch.next() {
                    return Ok(Some(cell));
                }
                match take.recv() {
                    Ok(Ahead::Cells(more)) => bunch = more.into_iter(),
                    Ok(Ahead::End) => return Ok(None),
                    Ok(Ahead::Failed(reason)) => return Err(reason),
                    // It sends its end or its error before it stops, unless it panicked.
                    Err(_) => return Err("the thread reading the sheet stopped".to_owned()),
                }
            }
        });
    }

    /// The next cell calamine gives, its place within the grid; `None` at the end.
    #[inline]
    fn read(&mut self) -> Result<Option<RawCell<'a>>, String> {
        if self.done {
            return Ok(None);
        }
        let Some(cell) = (self.next)()? else {
            self.done = true;
            return Ok(None);
        };
        let (r, c) = cell.get_position();
        limits::check_grid(r, c)?;
        Ok(Some(cell))
    }

    /// The next row of [`Cells::next_row`] with `table`, its table cells left in
    /// [`Cells::slots`] as calamine gave them: its number, and whether a table cell is not
    /// blank (when none is, the row is blank in the table). `None` at the end of the sheet.
    ///
    /// Only a row's first cell, and a cell of another row, is looked at as it comes (is it
    /// blank?); the others wait in their slots and are looked at in one pass at the row's end
    /// ([`Cells::blank`]). A shared string's text lies anywhere in the workbook's strings:
    /// reading each as it came stalled the reading thread once a cell, where the reads of one
    /// pass overlap.
    fn next_slots(&mut self, table: &TableColumns) -> Result<Option<(u32, bool)>, String> {
        // A row starts at its first cell that is not blank, as in `next_row`.
        let mut cell = loop {
            match self.pending.take() {
                Some(cell) => break cell,
                None => match self.read()? {
                    None => return Ok(None),
                    Some(cell) if is_blank(cell.get_value()) => {}
                    Some(cell) => break cell,
                },
            }
        };
        let row = cell.get_position().0;
        self.slots.clear();
        self.slots.resize_with(table.width, || None);
        // Whether `cell` is known not to be blank.
        let mut known = true;
        loop {
            let col = cell.get_position().1 as usize;
            if let Some(slot) = col
                .checked_sub(table.first)
                .and_then(|i| self.slots.get_mut(i))
            {
                // A column's last cell that is not blank holds it: `next_row` passes over
                // blank cells.
                if slot.is_none() || known || !is_blank(cell.get_value()) {
                    *slot = Some(cell);
                }
            }
            // The cells of other rows: blank ones are passed over, the first other one ends
            // the row.
            let next = loop {
                match self.read()? {
                    Some(next) if next.get_position().0 == row => break Some(next),
                    Some(next) if is_blank(next.get_value()) => {}
                    Some(next) => {
                        self.pending = Some(next);
                        break None;
                    }
                    None => break None,
                }
            };
            let Some(next) = next else {
                break;
            };
            cell = next;
            known = false;
        }
        self.blank.clear();
        self.blank.extend(
            self.slots
                .iter()
                .map(|slot| slot.as_ref().is_none_or(|c| is_blank(c.get_value()))),
        );
        Ok(Some((row + 1, self.blank.contains(&false))))
    }

    /// Gathers the cells of one row into `row` (cells come in row order in both formats), the
    /// text of each into the room its cell of the row before had: no allocation per cell once
    /// the rows run alike. With `table`, only the wanted columns are converted, and a row with
    /// no table cell has no cells. False at the end of the sheet.
    fn next_row(&mut self, table: Option<&TableColumns>, row: &mut Row) -> Result<bool, String> {
        let mut number = None;
        let mut in_table = false;
        // The cells of `row` below this one are this row's; the others, the row before's.
        let mut set = 0;
        loop {
            let cell = match self.pending.take() {
                Some(cell) => cell,
                None => match self.read()? {
                    Some(cell) if is_blank(cell.get_value()) => continue,
                    Some(cell) => cell,
                    None => break,
                },
            };
            let (r, c) = cell.get_position();
            match number {
                Some(n) if n != r + 1 => {
                    self.pending = Some(cell);
                    break;
                }
                Some(_) => {}
                None => number = Some(r + 1),
            }
            in_table |= table.is_none_or(|t| t.contains(c as usize));
            if table.is_none_or(|t| t.keeps(c as usize)) {
                let col = c as usize - table.map_or(0, |t| t.first);
                if row.cells.len() <= col {
                    row.cells.resize(col + 1, Cell::Empty);
                }
                // The cells this row skipped are empty.
                row.cells[set.min(col)..col].fill(Cell::Empty);
                row.cells[col].set_data(cell.get_value());
                set = set.max(col + 1);
            }
        }
        let Some(number) = number else {
            return Ok(false);
        };
        row.number = number;
        match table {
            Some(_) if !in_table => row.cells.clear(),
            Some(t) => {
                row.cells.truncate(set);
                row.cells.resize(t.width, Cell::Empty);
            }
            None => row.cells.truncate(set),
        }
        Ok(true)
    }
}

/// Whether the value makes a blank [`Cell`], without making it.
fn is_blank(data: &DataRef<'_>) -> bool {
    match data {
        DataRef::Empty => true,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => blank_text(s),
        DataRef::SharedString(s) => blank_text(s),
        _ => false,
    }
}

/// Used rows and columns of a worksheet, as cheaply as the format allows.
pub(super) fn size(sheets: &mut Sheets<Rs>, name: &str) -> Option<(u32, u32)> {
    let dims = match sheets {
        Sheets::Xlsx(x) => x.worksheet_cells_reader(name).ok().map(|r| r.dimensions()),
        Sheets::Xlsb(x) => x.worksheet_cells_reader(name).ok().map(|r| r.dimensions()),
        Sheets::Xls(_) | Sheets::Ods(_) => sheets
            .worksheet_range(name)
            .ok()
            .and_then(|r| Some(calamine::Dimensions::new(r.start()?, r.end()?))),
    };
    // A bare `A1` dimension is what many writers put when they do not know the size. One
    // backwards or past Excel's grid (a damaged or hostile file) says nothing either; calamine's
    // `len` would overflow on it (each cell is checked against the grid as it is read).
    let sound = |d: &calamine::Dimensions| {
        d.end.0 >= d.start.0
            && d.end.1 >= d.start.1
            && d.end.0 < limits::MAX_ROWS
            && d.end.1 < limits::MAX_COLUMNS
    };
    dims.filter(|d| sound(d) && d.len() > 1)
        .map(|d| (d.end.0 - d.start.0 + 1, d.end.1 - d.start.1 + 1))
}

impl<'a> RawRows<'a> {
    pub(super) fn csv(
        text: &DelimitedText,
        path: &Path,
        progress: Arc<AtomicU64>,
    ) -> Result<RawRows<'a>, SheetError> {
        let decoded = text.open(progress).map_err(|source| SheetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let inner = Inner::Csv(Box::new(CsvRows {
            reader: super::text::csv_builder(text.delimiter).from_reader(decoded),
            record: csv::StringRecord::new(),
            number: 0,
            text: text.clone(),
        }));
        Ok(RawRows {
            inner,
            path: path.to_path_buf(),
            sheet: String::new(),
            table: None,
            gate: None,
        })
    }

    /// A streamed worksheet (xlsx, xlsb) is read on from now on by a thread of `scope`'s
    /// ([`Cells::read_ahead`]): calamine's parsing and the rows made of its cells share two
    /// cores. Other sources read on as they were.
    pub(super) fn read_ahead<'scope>(&mut self, scope: &'scope std::thread::Scope<'scope, '_>)
    where
        'a: 'scope,
    {
        if let Inner::Cells(cells) = &mut self.inner {
            cells.read_ahead(scope);
        }
    }

    /// From now on, hand out rows of the table: its columns only, the unwanted ones empty, and
    /// a row blank in the table's columns with no cells at all.
    pub(super) fn set_table(&mut self, table: TableColumns) {
        self.table = Some(table);
    }

    pub(super) fn calamine(
        sheets: &'a mut Sheets<Rs>,
        name: &str,
        path: &Path,
        gate: Arc<Gate>,
    ) -> Result<RawRows<'a>, SheetError> {
        let err = |reason: String| sheet_error(&gate, path, name, reason);
        let inner = match sheets {
            Sheets::Xlsx(x) => {
                let mut reader = x
                    .worksheet_cells_reader(name)
                    .map_err(|e| err(e.to_string()))?;
                Inner::Cells(Cells::new(Box::new(move || {
                    reader.next_cell().map_err(|e| e.to_string())
                })))
            }
            Sheets::Xlsb(x) => {
                let mut reader = x
                    .worksheet_cells_reader(name)
                    .map_err(|e| err(e.to_string()))?;
                Inner::Cells(Cells::new(Box::new(move || {
                    reader.next_cell().map_err(|e| e.to_string())
                })))
            }
            Sheets::Xls(_) | Sheets::Ods(_) => Inner::Range {
                range: sheets
                    .worksheet_range(name)
                    .map_err(|e| err(e.to_string()))?,
                next: 0,
            },
        };
        Ok(RawRows {
            inner,
            path: path.to_path_buf(),
            sheet: name.to_owned(),
            table: None,
            gate: Some(gate),
        })
    }

    /// The next row that has a non-blank cell, or `None` at the end of the sheet.
    pub fn next_row(&mut self) -> Result<Option<Row>, SheetError> {
        let mut row = Row::default();
        Ok(self.next_row_into(&mut row)?.then_some(row))
    }

    /// [`RawRows::next_row`] into `row`, whose cells' text the next row's takes the place of
    /// (a delimited file's or a streamed worksheet's; an `.xls` or `.ods` sheet's rows are built
    /// anew): false at the end of the sheet.
    pub fn next_row_into(&mut self, row: &mut Row) -> Result<bool, SheetError> {
        let table = self.table.as_ref();
        let result = match &mut self.inner {
            Inner::Csv(rows) => return rows.next_row_into(table, &self.path, row),
            Inner::Cells(cells) => cells.next_row(table, row),
            Inner::Range { range, next } => next_range_row(range, next).map(|next| {
                let Some(next) = next else {
                    return false;
                };
                *row = match table {
                    Some(t) => t.of_raw(next),
                    None => next,
                };
                true
            }),
        };
        result.map_err(|reason| read_error(self.gate.as_deref(), &self.path, &self.sheet, reason))
    }
}

/// A failed read of `sheet`: the guard's refusal when there is one ([`sheet_error`]).
fn read_error(gate: Option<&Gate>, path: &Path, sheet: &str, reason: String) -> SheetError {
    match gate {
        Some(gate) => sheet_error(gate, path, sheet, reason),
        None => SheetError::Sheet {
            path: path.to_path_buf(),
            sheet: sheet.to_owned(),
            reason,
        },
    }
}

/// calamine's error reading `sheet`, unless the guard refused the workbook: then that, as when
/// it refused before calamine opened it (the failed read followed the refusal, or came first
/// from something the guard was about to refuse).
fn sheet_error(gate: &Gate, path: &Path, sheet: &str, reason: String) -> SheetError {
    match gate.outcome() {
        Err(refusal) => SheetError::Workbook {
            path: path.to_path_buf(),
            reason: refusal,
        },
        Ok(()) => SheetError::Sheet {
            path: path.to_path_buf(),
            sheet: sheet.to_owned(),
            reason,
        },
    }
}

fn next_range_row(range: &Range<Data>, next: &mut usize) -> Result<Option<Row>, String> {
    let (Some((start_row, start_col)), Some((end_row, end_col))) = (range.start(), range.end())
    else {
        return Ok(None);
    };
    limits::check_grid(start_row, start_col)?;
    limits::check_grid(end_row, end_col)?;
    Ok(range_row(range, next, start_row, start_col))
}

fn range_row(range: &Range<Data>, next: &mut usize, start_row: u32, start_col: u32) -> Option<Row> {
    let height = range.height();
    while *next < height {
        let i = *next;
        *next += 1;
        let values = range.rows().nth(i)?;
        if values.iter().all(|d| Cell::from(d).is_blank()) {
            continue;
        }
        let mut cells = vec![Cell::Empty; start_col as usize];
        cells.extend(values.iter().map(Cell::from));
        let number = start_row + u32::try_from(i).unwrap_or(u32::MAX) + 1;
        return Some(Row { number, cells });
    }
    None
}

impl CsvRows {
    fn next_row_into(
        &mut self,
        table: Option<&TableColumns>,
        path: &Path,
        row: &mut Row,
    ) -> Result<bool, SheetError> {
        if !self.next_record(path)? {
            return Ok(false);
        }
        let fields = &self.record;
        match table {
            None => {
                row.cells.resize(fields.len(), Cell::Empty);
                for (cell, field) in row.cells.iter_mut().zip(fields) {
                    cell.set_text(field);
                }
            }
            Some(t) => table_cells(fields, t, &mut row.cells),
        }
        row.number = self.number;
        Ok(true)
    }

    /// Reads the next record that is not blank (checked, see [`CsvRows::check`]) into
    /// `self.record`: false at the end of the file.
    fn next_record(&mut self, path: &Path) -> Result<bool, SheetError> {
        loop {
            let start = self.reader.position().clone();
            let record = u64::from(self.number) + 1;
            let error = |reason: String| SheetError::Csv {
                path: path.to_path_buf(),
                record,
                reason,
            };
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| error(e.to_string()))?;
            if !more {
                return Ok(false);
            }
            self.number += 1;
            self.check(&start)
                .map_err(|what| error(format!("{what} (line {})", start.line())))?;
            if self.record.iter().any(|f| !blank_text(f)) {
                return Ok(true);
            }
        }
    }

    /// The record just read, which started at `start`, is what its bytes meant: no field over
    /// the cell limit, no quote that swallows line breaks across many rows or runs to the end
    /// of the file. Without this, one stray `"` silently turned 990 of 1,000 rows into one cell.
    fn check(&self, start: &csv::Position) -> Result<(), String> {
        let limits = &self.text.limits;
        // No field is longer than the record's text: most records need no look at each one.
        let long = self.record.as_slice().len() as u64 > limits.cell_bytes;
        if long
            && self
                .record
                .iter()
                .any(|f| f.len() as u64 > limits.cell_bytes)
        {
            return Err(Exceeded::CellBytes.message(limits, "a field"));
        }
        let end = self.reader.position();
        let breaks = end.line().saturating_sub(start.line() + 1);
        if breaks == 0 {
            return Ok(());
        }
        let decoded = self.reader.get_ref();
        let at_end = decoded.eof && end.byte() >= decoded.handed;
        if at_end
            && self
                .text
                .odd_quotes_from(start.byte())
                .map_err(|e| format!("cannot read the file again: {e}"))?
        {
            return Err(format!(
                "a quote opens a field that runs across {breaks} line breaks to the end of the \
                 file without closing; a stray `\"` in this row?"
            ));
        }
        if breaks > limits.field_lines {
            let what = format!("a quoted field across {breaks} line breaks (a stray `\"`?)");
            return Err(Exceeded::FieldLines.message(limits, &what));
        }
        Ok(())
    }
}

/// The table's cells of a record into `cells`: the wanted columns copied (into the room their
/// text already has), the others empty; none at all when the table's columns are blank.
fn table_cells(fields: &csv::StringRecord, table: &TableColumns, cells: &mut Vec<Cell>) {
    if table_blank(fields, table) {
        cells.clear();
        return;
    }
    fill_cells(fields, table, cells);
}

/// The table's cells of a record into `cells`, blank or not: the wanted columns copied (into
/// the room their text already has), the others empty.
fn fill_cells(fields: &csv::StringRecord, table: &TableColumns, cells: &mut Vec<Cell>) {
    cells.resize(table.width, Cell::Empty);
    for (cell, text) in cells.iter_mut().zip(table_texts(fields, table)) {
        cell.set_text(text);
    }
}

/// Whether every table column of a record is blank.
fn table_blank(fields: &csv::StringRecord, table: &TableColumns) -> bool {
    (0..table.width).all(|i| blank_text(fields.get(table.first + i).unwrap_or("")))
}

/// The text of each table column of a record, in order: empty for a column not wanted.
fn table_texts<'r>(
    fields: &'r csv::StringRecord,
    table: &'r TableColumns,
) -> impl Iterator<Item = &'r str> + 'r {
    (table.first..table.first + table.width).map(|col| match table.keeps(col) {
        true => fields.get(col).unwrap_or(""),
        false => "",
    })
}

/// A table row as the reader lends it ([`RawRows::next_view`]): a row of cells, a delimited
/// file's record read in place, or a streamed worksheet's cells as calamine gave them.
pub enum RowView<'r> {
    /// No cells at all when the table's columns are blank.
    Row(&'r Row),
    /// A record whose table columns are not all blank.
    Texts(Texts<'r>),
    /// A streamed worksheet's row whose table columns are not all blank.
    Cells(CellsRow<'r>),
}

/// A streamed worksheet's row (xlsx, xlsb), in place: its table cells as calamine gave them,
/// a shared string's text still in the workbook's strings.
pub struct CellsRow<'r> {
    number: u32,
    slots: &'r [Option<calamine::Cell<DataRef<'r>>>],
    blank: &'r [bool],
    keep: Option<&'r [bool]>,
}

impl<'r> CellsRow<'r> {
    pub fn number(&self) -> u32 {
        self.number
    }

    /// Each table column's cell, borrowed: what [`RawRows::next_row_into`] makes of the row
    /// (a blank cell or a column not wanted is empty).
    pub fn cells(&self) -> impl Iterator<Item = CellRef<'r>> + 'r {
        let keep = self.keep;
        let slots = self.slots.iter().zip(self.blank);
        slots.enumerate().map(move |(i, (slot, blank))| {
            let wanted = keep.is_none_or(|k| k.get(i).copied().unwrap_or(false));
            match slot {
                Some(cell) if wanted && !blank => super::cell::cell_ref(cell.get_value()),
                _ => CellRef::Empty,
            }
        })
    }

    /// The row as a row of cells, into `row` (its text reusing the room the row has).
    pub fn fill(&self, row: &mut Row) {
        row.number = self.number;
        row.cells.resize(self.slots.len(), Cell::Empty);
        for (cell, value) in row.cells.iter_mut().zip(self.cells()) {
            match value {
                CellRef::Text(text) => cell.set_text(text),
                other => *cell = other.to_cell(),
            }
        }
    }
}

/// A delimited file's record, in place: its table columns' text.
pub struct Texts<'r> {
    number: u32,
    record: &'r csv::StringRecord,
    table: &'r TableColumns,
}

impl<'r> Texts<'r> {
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The record's text from its first table column to its last, in one run (a record's
    /// fields lie end to end), with each table column's length in it; the columns not wanted
    /// are in the run too ([`Texts::kept`] says which are).
    pub fn run(&self) -> (&'r str, impl Iterator<Item = usize> + 'r) {
        let record = self.record;
        let first = self.table.first;
        let last = (first + self.table.width).min(record.len()).max(first);
        let start = record.range(first).map_or(0, |r| r.start);
        let end = match last > first {
            true => record.range(last - 1).map_or(start, |r| r.end),
            false => start,
        };
        let run = record.as_slice().get(start..end).unwrap_or_default();
        let lens = (first..last).map(move |col| record.range(col).map_or(0, |r| r.len()));
        (run, lens)
    }

    /// Which table columns are wanted; `None`: every one.
    pub fn kept(&self) -> Option<&'r [bool]> {
        self.table.keep.as_deref()
    }

    /// The record as a row of cells, into `row` (its text reusing the room the row has).
    pub fn fill(&self, row: &mut Row) {
        row.number = self.number;
        fill_cells(self.record, self.table, &mut row.cells);
    }
}

impl RowView<'_> {
    /// Blank in the table's columns.
    pub fn is_blank(&self) -> bool {
        match self {
            RowView::Row(row) => row.cells.is_empty(),
            RowView::Texts(_) | RowView::Cells(_) => false,
        }
    }
}

impl RawRows<'_> {
    /// The next table row ([`RawRows::set_table`] first), lent: a delimited file's record in
    /// place, any other row filled into `row`. `None` at the end of the sheet.
    pub fn next_view<'s>(
        &'s mut self,
        row: &'s mut Row,
    ) -> Result<Option<RowView<'s>>, SheetError> {
        if matches!(self.inner, Inner::Cells(_)) && self.table.is_some() {
            return self.next_cells_view(row);
        }
        let in_place = matches!(self.inner, Inner::Csv(_)) && self.table.is_some();
        if !in_place {
            return Ok(self.next_row_into(row)?.then_some(RowView::Row(row)));
        }
        let (Inner::Csv(rows), Some(table)) = (&mut self.inner, &self.table) else {
            return Err(SheetError::Sheet {
                path: self.path.clone(),
                sheet: self.sheet.clone(),
                reason: "the reader lost its table".to_owned(),
            });
        };
        if !rows.next_record(&self.path)? {
            return Ok(None);
        }
        if table_blank(&rows.record, table) {
            row.cells.clear();
            row.number = rows.number;
            return Ok(Some(RowView::Row(row)));
        }
        Ok(Some(RowView::Texts(Texts {
            number: rows.number,
            record: &rows.record,
            table,
        })))
    }

    /// [`RawRows::next_view`] of a streamed worksheet with its table set.
    fn next_cells_view<'s>(
        &'s mut self,
        row: &'s mut Row,
    ) -> Result<Option<RowView<'s>>, SheetError> {
        let (Inner::Cells(cells), Some(table)) = (&mut self.inner, &self.table) else {
            return Err(SheetError::Sheet {
                path: self.path.clone(),
                sheet: self.sheet.clone(),
                reason: "the reader lost its table".to_owned(),
            });
        };
        let read = cells
            .next_slots(table)
            .map_err(|reason| read_error(self.gate.as_deref(), &self.path, &self.sheet, reason))?;
        let Some((number, in_table)) = read else {
            return Ok(None);
        };
        if !in_table {
            row.cells.clear();
            row.number = number;
            return Ok(Some(RowView::Row(row)));
        }
        Ok(Some(RowView::Cells(CellsRow {
            number,
            slots: &cells.slots,
            blank: &cells.blank,
            keep: table.keep.as_deref(),
        })))
    }
}
