//! Rows of a delimited file's table as its reader read them: each row's text in one run,
//! with where each of its cells ends.
//!
//! The pipeline hands the rows it reads to the threads that check them in chunks. A [`Table`]
//! keeps a text arena per column, and filling ten of them cell by cell cost the reading thread,
//! which reads for everyone, as much as parsing the file; a chunk of [`Records`] is one copy of
//! each row's text and its cells' ends, and the row's cells are read back in place by the
//! thread that checks it ([`TableRow`]).
//!
//! [`Table`]: super::Table

use super::table::{CellRef, RowRef};

/// A row of a table, borrowed from a chunk of rows: its number and its cells, by table column.
pub trait TableRow<'a>: Copy {
    /// The spreadsheet row number.
    fn number(&self) -> u32;
    /// Cell `col` of the row (a table column, 0-based); empty past the table.
    fn cell(&self, col: usize) -> CellRef<'a>;
}

impl<'a> TableRow<'a> for RowRef<'a> {
    fn number(&self) -> u32 {
        self.number
    }

    fn cell(&self, col: usize) -> CellRef<'a> {
        RowRef::cell(self, col)
    }
}

/// Rows of text cells, `width` to a row; an empty cell is [`CellRef::Empty`], as a delimited
/// file's empty field is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Records {
    width: usize,
    /// Which columns' cells are read back (by table column); empty: every column. The text of
    /// a record is copied in one run, the cells of columns not wanted with it.
    keep: Vec<bool>,
    numbers: Vec<u32>,
    /// Where each cell's text ends in `text`: `width` to a row.
    ends: Vec<usize>,
    text: String,
}

impl Records {
    /// No rows yet, of `width` cells each.
    pub fn new(width: usize) -> Records {
        Records {
            width,
            ..Records::default()
        }
    }

    /// Only the columns `keep` marks (by table column) read back as more than empty; `None`:
    /// every column.
    #[must_use]
    pub fn keeping(mut self, keep: Option<&[bool]>) -> Records {
        self.keep = keep.map(<[bool]>::to_vec).unwrap_or_default();
        self
    }

    /// No rows, with the room this chunk took: the next chunk fills without growing.
    #[must_use]
    pub fn empty_like(&self) -> Records {
        Records {
            width: self.width,
            keep: self.keep.clone(),
            numbers: Vec::with_capacity(self.numbers.capacity()),
            ends: Vec::with_capacity(self.ends.capacity()),
            text: String::with_capacity(self.text.capacity()),
        }
    }

    /// Adds row `number` from the text of its cells lying end to end (`run`) and each cell's
    /// length in it, in table column order: one copy for the row. Cells past `width` are left
    /// out (their text must not be in `run`), missing ones are empty.
    pub fn push_run(&mut self, number: u32, run: &str, lens: impl IntoIterator<Item = usize>) {
        let start = self.text.len();
        self.text.push_str(run);
        let mut end = start;
        let mut cells = 0;
        for len in lens.into_iter().take(self.width) {
            end += len;
            self.ends.push(end);
            cells += 1;
        }
        debug_assert_eq!(end, self.text.len(), "the lengths cover the run");
        // Whatever the lengths said, the row ends where its run does.
        if let Some(last) = self.ends.last_mut().filter(|_| cells > 0) {
            *last = self.text.len();
        }
        for _ in cells..self.width {
            self.ends.push(self.text.len());
        }
        self.numbers.push(number);
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// The rows, in the order they were pushed.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> {
        (0..self.len()).map(|index| RecordRef {
            records: self,
            index,
        })
    }
}

/// One row of [`Records`], borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    records: &'a Records,
    index: usize,
}

impl<'a> TableRow<'a> for RecordRef<'a> {
    fn number(&self) -> u32 {
        self.records.numbers[self.index]
    }

    fn cell(&self, col: usize) -> CellRef<'a> {
        let records = self.records;
        if col >= records.width || records.keep.get(col) == Some(&false) {
            return CellRef::Empty;
        }
        let at = self.index * records.width + col;
        let start = match at {
            0 => 0,
            _ => records.ends[at - 1],
        };
        records
            .text
            .get(start..records.ends[at])
            .map_or(CellRef::Empty, CellRef::text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds a row of `cells` the way a reader does: their text in one run.
    fn push(records: &mut Records, number: u32, cells: &[&str]) {
        let cells = &cells[..cells.len().min(records.width)];
        records.push_run(number, &cells.concat(), cells.iter().map(|c| c.len()));
    }

    #[test]
    fn cells_read_back_as_pushed_empty_ones_empty() {
        let mut records = Records::new(3);
        push(&mut records, 2, &["Ann", "", "  "]);
        push(&mut records, 5, &["Zoë", "ü@x.com"]);
        push(&mut records, 6, &["a", "b", "c", "past the table"]);
        let next = records.empty_like();
        assert!(next.is_empty() && next.text.capacity() >= records.text.len());
        let rows: Vec<(u32, Vec<CellRef<'_>>)> = records
            .rows()
            .map(|r| (r.number(), (0..4).map(|c| r.cell(c)).collect()))
            .collect();
        use CellRef::{Empty, Text};
        assert_eq!(
            rows,
            [
                (2, vec![Text("Ann"), Empty, Text("  "), Empty]),
                (5, vec![Text("Zoë"), Text("ü@x.com"), Empty, Empty]),
                (6, vec![Text("a"), Text("b"), Text("c"), Empty]),
            ]
        );
        // A column not wanted reads back empty, though its text is in the run.
        let mut masked = Records::new(2).keeping(Some(&[false, true]));
        push(&mut masked, 3, &["hidden", "shown"]);
        let row = masked.rows().next().unwrap();
        assert_eq!((row.cell(0), row.cell(1)), (Empty, Text("shown")));
    }
}
