//! A sheet's table held in memory, compactly: one arena of text per column, and per cell a
//! one-byte kind and the `u32` end of its bytes in the arena (five bytes a cell, and the text
//! once). Numbers, dates and durations are written in the arena as fixed-width hex, so the
//! arena is always text and a cell's text is read back as a slice of it, never checked again
//! (checking every cell's UTF-8 on the way out was a twentieth of `validate`'s time). A million rows of ten columns take about the size of their text plus 50 MB, where
//! owned [`Cell`]s took several times that (a 32-byte `Cell` and a heap `String` each).
//!
//! Rows are read back as views ([`RowRef`]) whose cells ([`CellRef`]) borrow the arena's text;
//! [`RowRef::to_row`] makes an owned [`Row`] for code that consumes one. Every cell reads back
//! exactly as it went in: its kind, its text (an empty `Text` stays distinct from `Empty`),
//! its number to the bit.

use std::fmt;

use chrono::{Datelike as _, NaiveDate, NaiveDateTime, NaiveTime, Timelike as _};

use super::{Cell, Row, TableLayout};

/// One cell of a [`Table`], borrowed: the same kinds as [`Cell`], its text in the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Empty,
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A date or date-time; the 1900/1904 date system is already applied.
    DateTime(NaiveDateTime),
    /// A duration, such as `[hh]:mm:ss`, or a time of day, in days.
    Duration(f64),
    /// An Excel error value such as `#N/A`, as Excel spells it.
    Error(&'a str),
}

/// Whether `text` is only whitespace (as `str::trim` takes it), a cell's blankness: the usual
/// cell starts with a visible ASCII character and is answered from that byte alone.
#[inline]
pub(crate) fn blank_text(text: &str) -> bool {
    match text.as_bytes().first() {
        None => true,
        Some(b) if b.is_ascii_graphic() => false,
        Some(_) => text.trim().is_empty(),
    }
}

impl<'a> CellRef<'a> {
    /// A delimited file's field: empty, or text ([`Cell::text`]).
    pub fn text(text: &'a str) -> CellRef<'a> {
        match text {
            "" => CellRef::Empty,
            text => CellRef::Text(text),
        }
    }

    /// Empty, or text that is only whitespace (NBSP included).
    pub fn is_blank(&self) -> bool {
        match self {
            CellRef::Empty => true,
            CellRef::Text(t) => blank_text(t),
            _ => false,
        }
    }

    /// The cell as a person reads it: `12345.0` as `12345`, dates as `YYYY-MM-DD`.
    pub fn display(&self) -> String {
        self.to_string()
    }

    /// The owned cell.
    pub fn to_cell(&self) -> Cell {
        match *self {
            CellRef::Empty => Cell::Empty,
            CellRef::Text(t) => Cell::Text(t.to_owned()),
            CellRef::Int(i) => Cell::Int(i),
            CellRef::Float(x) => Cell::Float(x),
            CellRef::Bool(b) => Cell::Bool(b),
            CellRef::DateTime(dt) => Cell::DateTime(dt),
            CellRef::Duration(d) => Cell::Duration(d),
            CellRef::Error(e) => Cell::Error(e.to_owned()),
        }
    }
}

impl fmt::Display for CellRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CellRef::Empty => Ok(()),
            CellRef::Text(t) | CellRef::Error(t) => f.write_str(t),
            CellRef::Int(i) => write!(f, "{i}"),
            CellRef::Float(x) if x.fract() == 0.0 && x.abs() < 1e21 => write!(f, "{x:.0}"),
            CellRef::Float(x) => write!(f, "{x}"),
            CellRef::Bool(b) => write!(f, "{b}"),
            CellRef::DateTime(dt) if dt.time() == NaiveTime::MIN => {
                write!(f, "{}", dt.format("%Y-%m-%d"))
            }
            CellRef::DateTime(dt) if dt.nanosecond() == 0 => {
                write!(f, "{}", dt.format("%Y-%m-%d %H:%M:%S"))
            }
            CellRef::DateTime(dt) => write!(f, "{}", dt.format("%Y-%m-%d %H:%M:%S%.3f")),
            CellRef::Duration(days) => write_duration(f, days),
        }
    }
}

fn write_duration(f: &mut fmt::Formatter<'_>, days: f64) -> fmt::Result {
    // Rounded to whole seconds; saturating casts are fine for any duration a sheet holds.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "seconds of a sheet duration"
    )]
    let secs = (days * 86_400.0).round() as i64;
    let sign = if secs < 0 { "-" } else { "" };
    let secs = secs.abs();
    write!(
        f,
        "{sign}{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

impl Cell {
    /// The cell borrowed, as a [`Table`] hands its cells out.
    pub fn as_ref(&self) -> CellRef<'_> {
        match self {
            Cell::Empty => CellRef::Empty,
            Cell::Text(t) => CellRef::Text(t),
            Cell::Int(i) => CellRef::Int(*i),
            Cell::Float(x) => CellRef::Float(*x),
            Cell::Bool(b) => CellRef::Bool(*b),
            Cell::DateTime(dt) => CellRef::DateTime(*dt),
            Cell::Duration(d) => CellRef::Duration(*d),
            Cell::Error(e) => CellRef::Error(e),
        }
    }
}

/// What a column's arena holds for a cell: the kind, and how its bytes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    /// No bytes.
    Empty,
    /// UTF-8 text.
    Text,
    /// 16 hex digits of its two's complement.
    Int,
    /// 16 hex digits of its bits.
    Float,
    /// No bytes: the kind says which.
    False,
    True,
    /// Days from the common era (i32), seconds from midnight and nanoseconds (u32 each): 8 hex
    /// digits each; exact, leap seconds included.
    DateTime,
    /// As `Float`.
    Duration,
    /// UTF-8 text.
    Error,
}

impl Kind {
    fn of(byte: u8) -> Kind {
        const KINDS: [Kind; 9] = [
            Kind::Empty,
            Kind::Text,
            Kind::Int,
            Kind::Float,
            Kind::False,
            Kind::True,
            Kind::DateTime,
            Kind::Duration,
            Kind::Error,
        ];
        KINDS.get(usize::from(byte)).copied().unwrap_or(Kind::Empty)
    }
}

/// One column's cells: their kinds, where each one's bytes end, and the bytes.
#[derive(Debug, Clone, Default, PartialEq)]
struct Column {
    kinds: Vec<u8>,
    ends: Vec<u32>,
    bytes: String,
}

/// A column's bytes outgrew the `u32` offsets of its arena (4 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnFull {
    /// The table column (0-based).
    pub column: usize,
}

/// Bytes a column's arena may hold: its offsets are `u32` (tests lower it, to reach it).
const ARENA_BYTES: usize = if cfg!(test) {
    1 << 20
} else {
    u32::MAX as usize
};

impl Column {
    /// Adds a cell below the others; `Err` when its bytes would take the arena past
    /// [`ARENA_BYTES`], and then nothing is added.
    fn push(&mut self, cell: CellRef<'_>) -> Result<(), ()> {
        let size = match cell {
            CellRef::Text(t) | CellRef::Error(t) => t.len(),
            CellRef::Int(_) | CellRef::Float(_) | CellRef::Duration(_) => 16,
            CellRef::DateTime(_) => 24,
            CellRef::Empty | CellRef::Bool(_) => 0,
        };
        let end = self.bytes.len() + size;
        if end > ARENA_BYTES {
            return Err(());
        }
        let kind = match cell {
            CellRef::Empty => Kind::Empty,
            CellRef::Text(t) => {
                self.bytes.push_str(t);
                Kind::Text
            }
            CellRef::Int(i) => {
                push_hex(&mut self.bytes, u64::from_ne_bytes(i.to_ne_bytes()), 16);
                Kind::Int
            }
            CellRef::Float(x) => {
                push_hex(&mut self.bytes, x.to_bits(), 16);
                Kind::Float
            }
            CellRef::Bool(false) => Kind::False,
            CellRef::Bool(true) => Kind::True,
            CellRef::DateTime(dt) => {
                let time = dt.time();
                let days = u32::from_ne_bytes(dt.date().num_days_from_ce().to_ne_bytes());
                push_hex(&mut self.bytes, u64::from(days), 8);
                push_hex(
                    &mut self.bytes,
                    u64::from(time.num_seconds_from_midnight()),
                    8,
                );
                push_hex(&mut self.bytes, u64::from(time.nanosecond()), 8);
                Kind::DateTime
            }
            CellRef::Duration(d) => {
                push_hex(&mut self.bytes, d.to_bits(), 16);
                Kind::Duration
            }
            CellRef::Error(e) => {
                self.bytes.push_str(e);
                Kind::Error
            }
        };
        debug_assert_eq!(self.bytes.len(), end);
        self.kinds.push(kind as u8);
        #[expect(clippy::cast_possible_truncation, reason = "within ARENA_BYTES")]
        self.ends.push(end as u32);
        Ok(())
    }

    /// Takes the last cell back out (a row that could not be kept whole).
    fn pop(&mut self) {
        self.kinds.pop();
        self.ends.pop();
        let end = self.ends.last().map_or(0, |&e| e as usize);
        self.bytes.truncate(end);
    }

    fn get(&self, i: usize) -> CellRef<'_> {
        let (Some(&kind), Some(&end)) = (self.kinds.get(i), self.ends.get(i)) else {
            return CellRef::Empty;
        };
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p] as usize);
        // Cells start and end where whole strings did: a slice, not a check of its UTF-8.
        let text = self.bytes.get(start..end as usize).unwrap_or_default();
        let hex = |at: usize, digits: usize| {
            text.get(at..at + digits)
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .unwrap_or(0)
        };
        let word = |at: usize| u32::try_from(hex(at, 8)).unwrap_or(0);
        match Kind::of(kind) {
            Kind::Empty => CellRef::Empty,
            Kind::Text => CellRef::Text(text),
            Kind::Error => CellRef::Error(text),
            Kind::Int => CellRef::Int(i64::from_ne_bytes(hex(0, 16).to_ne_bytes())),
            Kind::Float => CellRef::Float(f64::from_bits(hex(0, 16))),
            Kind::Duration => CellRef::Duration(f64::from_bits(hex(0, 16))),
            Kind::False => CellRef::Bool(false),
            Kind::True => CellRef::Bool(true),
            Kind::DateTime => {
                let days = i32::from_ne_bytes(word(0).to_ne_bytes());
                let (secs, nanos) = (word(8), word(16));
                NaiveDate::from_num_days_from_ce_opt(days)
                    .zip(NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos))
                    .map_or(CellRef::Empty, |(d, t)| CellRef::DateTime(d.and_time(t)))
            }
        }
    }

    fn shrink_to_fit(&mut self) {
        self.kinds.shrink_to_fit();
        self.ends.shrink_to_fit();
        self.bytes.shrink_to_fit();
    }

    /// Keeps the cells at `keep` (ascending indexes), in order.
    fn retain(&mut self, keep: &[usize]) {
        let mut out = Column::default();
        for &i in keep {
            // Cells already held fit again, fewer of them.
            let _fits = out.push(self.get(i));
        }
        *self = out;
    }
}

/// Writes the low `digits` hex digits of `value`, most significant first.
fn push_hex(out: &mut String, value: u64, digits: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for at in (0..digits).rev() {
        let nibble = (value >> (at * 4)) & 0xf;
        out.push(char::from(DIGITS[usize::try_from(nibble).unwrap_or(0)]));
    }
}

/// A sheet's table held in memory, compactly (see the module's docs): every data row, with its
/// spreadsheet row number, in sheet order, each with a cell for every table column.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub layout: TableLayout,
    /// Blank rows below the header that were passed over.
    pub blank_rows: usize,
    numbers: Vec<u32>,
    columns: Vec<Column>,
}

impl Table {
    /// An empty table of `layout`'s columns.
    pub fn new(layout: TableLayout, blank_rows: usize) -> Table {
        let columns = vec![Column::default(); layout.headers.len()];
        Table {
            layout,
            blank_rows,
            numbers: Vec::new(),
            columns,
        }
    }

    /// An empty table of the same layout with room for as many rows and bytes as this one holds
    /// and an eighth more: the next chunk of a read, filled without growing.
    pub fn empty_like(&self) -> Table {
        let room = |n: usize| n + n / 8;
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                kinds: Vec::with_capacity(room(c.kinds.len())),
                ends: Vec::with_capacity(room(c.ends.len())),
                bytes: String::with_capacity(room(c.bytes.len())),
            })
            .collect();
        Table {
            layout: self.layout.clone(),
            blank_rows: 0,
            numbers: Vec::with_capacity(room(self.numbers.len())),
            columns,
        }
    }

    /// A table of these rows (tests and small tables; a row's cells past the table's columns
    /// are not kept). Panics if a column outgrows 4 GiB.
    pub fn from_rows(layout: TableLayout, rows: Vec<Row>, blank_rows: usize) -> Table {
        let mut table = Table::new(layout, blank_rows);
        for row in rows {
            table
                .push(row.number, row.cells.iter().map(Cell::as_ref))
                .expect("a small table");
        }
        table
    }

    /// Adds a row below the others (its number after theirs): a cell for each table column,
    /// the missing ones empty, the extra ones dropped. A row whose cells would take a column
    /// past 4 GiB is not added.
    pub fn push<'c>(
        &mut self,
        number: u32,
        cells: impl IntoIterator<Item = CellRef<'c>>,
    ) -> Result<(), ColumnFull> {
        let mut cells = cells.into_iter();
        for i in 0..self.columns.len() {
            let cell = cells.next().unwrap_or(CellRef::Empty);
            if self.columns[i].push(cell).is_err() {
                self.columns[..i].iter_mut().for_each(Column::pop);
                return Err(ColumnFull { column: i });
            }
        }
        self.numbers.push(number);
        Ok(())
    }

    /// Gives back the room reserved for rows that did not come.
    pub fn shrink_to_fit(&mut self) {
        self.numbers.shrink_to_fit();
        self.columns.iter_mut().for_each(Column::shrink_to_fit);
    }

    /// Data rows.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// Table columns.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// The `i`th data row (0-based), if there are that many.
    pub fn get(&self, i: usize) -> Option<RowRef<'_>> {
        let number = *self.numbers.get(i)?;
        Some(RowRef {
            table: self,
            index: i,
            number,
        })
    }

    /// The data row with this spreadsheet row number (rows are kept in sheet order).
    pub fn row(&self, number: u32) -> Option<RowRef<'_>> {
        let at = self.numbers.binary_search(&number).ok()?;
        self.get(at)
    }

    /// Every data row, in sheet order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = RowRef<'_>> + Clone + '_ {
        self.numbers
            .iter()
            .enumerate()
            .map(move |(index, &number)| RowRef {
                table: self,
                index,
                number,
            })
    }

    /// The spreadsheet row numbers of the data rows, in sheet order.
    pub fn numbers(&self) -> &[u32] {
        &self.numbers
    }

    /// Cell `col` of the `i`th data row; empty past the table.
    pub fn cell(&self, i: usize, col: usize) -> CellRef<'_> {
        self.columns.get(col).map_or(CellRef::Empty, |c| c.get(i))
    }

    /// Keeps only the rows whose numbers `keep` says, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        let kept: Vec<usize> = (0..self.len()).filter(|&i| keep(self.numbers[i])).collect();
        self.numbers = kept.iter().map(|&i| self.numbers[i]).collect();
        for column in &mut self.columns {
            column.retain(&kept);
        }
    }

    /// Up to `n` non-blank values of column `col`, for samples.
    pub fn samples(&self, col: usize, n: usize) -> Vec<String> {
        let Some(column) = self.columns.get(col) else {
            return Vec::new();
        };
        (0..self.len())
            .map(|i| column.get(i))
            .filter(|c| !c.is_blank())
            .map(|c| c.display())
            .take(n)
            .collect()
    }

    /// Every row as an owned [`Row`] (tests, and callers that compare whole tables).
    pub fn to_rows(&self) -> Vec<Row> {
        self.rows().map(|r| r.to_row()).collect()
    }
}

/// One data row of a [`Table`], borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a> {
    table: &'a Table,
    index: usize,
    pub number: u32,
}

impl<'a> RowRef<'a> {
    /// Cell `col` of the row (a table column, 0-based); empty past the table.
    pub fn cell(&self, col: usize) -> CellRef<'a> {
        self.table.cell(self.index, col)
    }

    /// The row's cells, one per table column.
    pub fn cells(&self) -> impl ExactSizeIterator<Item = CellRef<'a>> + 'a {
        let (table, index) = (self.table, self.index);
        table.columns.iter().map(move |c| c.get(index))
    }

    /// Every cell blank.
    pub fn is_blank(&self) -> bool {
        self.cells().all(|c| c.is_blank())
    }

    /// The row, owned.
    pub fn to_row(&self) -> Row {
        Row {
            number: self.number,
            cells: self.cells().map(|c| c.to_cell()).collect(),
        }
    }

    /// The row, owned, with only the cells of `columns` (ascending or not) copied: the others
    /// are empty. What a reader of some columns sees of the whole row.
    pub fn to_row_of(&self, columns: &[usize]) -> Row {
        let mut cells = vec![Cell::Empty; self.table.width()];
        for &col in columns {
            if let Some(cell) = cells.get_mut(col) {
                *cell = self.cell(col).to_cell();
            }
        }
        Row {
            number: self.number,
            cells,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(width: usize) -> TableLayout {
        TableLayout {
            sheet: "S".into(),
            header_row: 1,
            first_column: 0,
            headers: (0..width).map(|i| format!("H{i}")).collect(),
        }
    }

    fn every_kind() -> Vec<Cell> {
        let date = NaiveDate::from_ymd_opt(1899, 12, 31).unwrap();
        let leap = NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap();
        vec![
            Cell::Empty,
            Cell::Text(String::new()),
            Cell::Text("Ana \u{a0}凯 🙂".into()),
            Cell::Int(i64::MIN),
            Cell::Float(-0.0),
            Cell::Float(f64::NAN),
            Cell::Float(0.1 + 0.2),
            Cell::Bool(true),
            Cell::Bool(false),
            Cell::DateTime(date.and_time(leap)),
            Cell::DateTime(NaiveDateTime::MIN),
            Cell::DateTime(NaiveDateTime::MAX),
            Cell::Duration(10.632_060_185_185_185),
            Cell::Error("#N/A".into()),
        ]
    }

    /// Bit for bit: NaN and -0.0 compare by their bits, not as floats.
    fn same(a: &Cell, b: &Cell) -> bool {
        match (a, b) {
            (Cell::Float(x), Cell::Float(y)) | (Cell::Duration(x), Cell::Duration(y)) => {
                x.to_bits() == y.to_bits()
            }
            _ => a == b,
        }
    }

    #[test]
    fn every_kind_of_cell_reads_back_exactly() {
        let cells = every_kind();
        let width = cells.len();
        // Each kind in every column, after each other kind: no cell's bytes spill into the next.
        let rows: Vec<Row> = (0..width)
            .map(|shift| {
                let mut cells = cells.clone();
                cells.rotate_left(shift);
                Row {
                    number: 2 + u32::try_from(shift).unwrap() * 3,
                    cells,
                }
            })
            .collect();
        let table = Table::from_rows(layout(width), rows.clone(), 4);
        assert_eq!(
            (table.len(), table.width(), table.blank_rows),
            (width, width, 4)
        );
        for (got, want) in table.to_rows().iter().zip(&rows) {
            assert_eq!(got.number, want.number);
            assert!(
                got.cells.iter().zip(&want.cells).all(|(a, b)| same(a, b)),
                "{got:?} != {want:?}"
            );
        }
        for cell in &cells {
            assert_eq!(cell.as_ref().display(), cell.display());
        }
        assert_eq!(table.row(5).map(|r| r.number), Some(5));
        assert!(table.row(4).is_none());
    }

    #[test]
    fn short_rows_are_padded_and_long_ones_cut() {
        let rows = vec![
            Row {
                number: 2,
                cells: vec![Cell::Int(1)],
            },
            Row {
                number: 3,
                cells: vec![Cell::Int(1), Cell::Int(2), Cell::Int(3)],
            },
        ];
        let table = Table::from_rows(layout(2), rows, 0);
        assert_eq!(table.to_rows()[0].cells, [Cell::Int(1), Cell::Empty]);
        assert_eq!(table.to_rows()[1].cells, [Cell::Int(1), Cell::Int(2)]);
        assert_eq!(
            table.get(1).unwrap().to_row_of(&[1]).cells,
            [Cell::Empty, Cell::Int(2)]
        );
    }

    #[test]
    fn retain_keeps_the_rows_asked_for_with_their_cells() {
        let rows = (2..12)
            .map(|n| Row {
                number: n,
                cells: vec![Cell::Text(format!("r{n}")), Cell::Int(n.into())],
            })
            .collect();
        let mut table = Table::from_rows(layout(2), rows, 0);
        table.retain(|n| n % 3 == 0);
        assert_eq!(table.numbers(), [3, 6, 9]);
        assert_eq!(
            table.row(6).unwrap().to_row().cells,
            [Cell::Text("r6".into()), Cell::Int(6)]
        );
        assert_eq!(table.samples(0, 2), ["r3", "r6"]);
    }

    #[test]
    fn a_row_that_would_overflow_a_column_is_not_added() {
        let mut table = Table::new(layout(2), 0);
        let big = "x".repeat(ARENA_BYTES - 1);
        table
            .push(2, [CellRef::Text("a"), CellRef::Text(&big)])
            .unwrap();
        let before = table.clone();
        assert_eq!(
            table.push(3, [CellRef::Text("c"), CellRef::Text("dd")]),
            Err(ColumnFull { column: 1 })
        );
        assert_eq!(table, before);
        table
            .push(3, [CellRef::Text("c"), CellRef::Text("d")])
            .unwrap();
        assert_eq!(table.get(1).unwrap().cell(1), CellRef::Text("d"));
    }
}
