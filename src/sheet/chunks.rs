//! A table's rows read in chunks, for threads other than the reading one: a delimited file's
//! records as read ([`Records`]), a workbook's rows as a small [`Table`].

use std::ops::ControlFlow;

use super::{Cell, CellRef, HeaderChoice, Records, RowView, Table, TableLayout, Workbook};
use crate::error::SheetError;

/// Rows read, handed to another thread: a delimited file's records as read, or a workbook's
/// rows as a small [`Table`] (a text arena per column).
#[derive(Debug)]
pub enum Chunk {
    Table(Table),
    Records(Records),
}

impl Chunk {
    /// Rows held.
    pub fn len(&self) -> usize {
        match self {
            Chunk::Table(table) => table.len(),
            Chunk::Records(records) => records.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Workbook {
    /// Reads the table and sends its rows in chunks of `rows` rows, each a [`Chunk`] (no
    /// allocation per cell on the reading thread), with the table's layout; a `send` that
    /// answers false stops the read. Only the `wanted` columns' text is copied (see
    /// [`Workbook::read_table_columns`]).
    pub fn read_chunks(
        &mut self,
        (sheet, header): (usize, HeaderChoice),
        wanted: Option<&[usize]>,
        rows: usize,
        send: &mut dyn FnMut(&TableLayout, Chunk) -> bool,
    ) -> Result<(TableLayout, usize), SheetError> {
        // The chunk being filled: rows of one kind, so at most one of the two is held. Filled
        // where it lies (moving a chunk per row cost the reading thread a tenth of its time).
        let mut records: Option<Records> = None;
        let mut table: Option<Table> = None;
        let mut too_big = None;
        let read = self.read_table_views(sheet, header, wanted, |layout, row| {
            let fresh = || Table::new(layout.clone(), 0);
            // A row of the other kind sends the chunk before it.
            let other = match row {
                RowView::Texts(_) => table.take().map(Chunk::Table),
                RowView::Row(_) | RowView::Cells(_) => records.take().map(Chunk::Records),
            };
            if let Some(other) = other.filter(|c| !c.is_empty()) {
                if !send(layout, other) {
                    return ControlFlow::Break(());
                }
            }
            let full = match row {
                RowView::Texts(texts) => {
                    let records = records.get_or_insert_with(|| {
                        Records::new(layout.headers.len()).keeping(texts.kept())
                    });
                    let (run, lens) = texts.run();
                    records.push_run(texts.number(), run, lens);
                    // The next chunk starts with the room this one took: no growing.
                    (records.len() >= rows).then(|| {
                        let next = records.empty_like();
                        Chunk::Records(std::mem::replace(records, next))
                    })
                }
                RowView::Row(row) => {
                    let table = table.get_or_insert_with(fresh);
                    let cells = || row.cells.iter().map(Cell::as_ref);
                    let pushed = push(table, layout, cells, row.number, send);
                    match filled(pushed, table, rows, &mut too_big) {
                        ControlFlow::Continue(full) => full,
                        ControlFlow::Break(()) => return ControlFlow::Break(()),
                    }
                }
                RowView::Cells(row) => {
                    let table = table.get_or_insert_with(fresh);
                    let pushed = push(table, layout, || row.cells(), row.number(), send);
                    match filled(pushed, table, rows, &mut too_big) {
                        ControlFlow::Continue(full) => full,
                        ControlFlow::Break(()) => return ControlFlow::Break(()),
                    }
                }
            };
            match full.is_none_or(|full| send(layout, full)) {
                true => ControlFlow::Continue(()),
                false => ControlFlow::Break(()),
            }
        })?;
        if let Some(number) = too_big {
            return Err(self.row_too_big(&read.0, number));
        }
        let rest = records.map(Chunk::Records).or(table.map(Chunk::Table));
        if let Some(rest) = rest.filter(|c| !c.is_empty()) {
            let _closed = send(&read.0, rest);
        }
        Ok(read)
    }
}

/// How [`push`] went.
enum Pushed {
    Yes,
    /// The chunk before it was sent, and the receiver is gone.
    Stop,
    /// The row alone is more than a chunk's column holds: its number.
    TooBig(u32),
}

/// After a row was pushed into `table`: the chunk to send when it has `rows` rows; `Break`
/// when the read stops (a row too big is noted in `too_big`).
fn filled(
    pushed: Pushed,
    table: &mut Table,
    rows: usize,
    too_big: &mut Option<u32>,
) -> ControlFlow<(), Option<Chunk>> {
    match pushed {
        Pushed::Yes => {}
        Pushed::Stop => return ControlFlow::Break(()),
        Pushed::TooBig(number) => {
            *too_big = Some(number);
            return ControlFlow::Break(());
        }
    }
    // The next chunk starts with the room this one took: no growing.
    ControlFlow::Continue((table.len() >= rows).then(|| {
        let next = table.empty_like();
        Chunk::Table(std::mem::replace(table, next))
    }))
}

/// Adds a row's `cells` to `table`; when a column of it is full (4 GiB), sends it as a chunk
/// and starts the next one with the row.
fn push<'c, I: Iterator<Item = CellRef<'c>>>(
    table: &mut Table,
    layout: &TableLayout,
    cells: impl Fn() -> I,
    number: u32,
    send: &mut dyn FnMut(&TableLayout, Chunk) -> bool,
) -> Pushed {
    if table.push(number, cells()).is_ok() {
        return Pushed::Yes;
    }
    let full = std::mem::replace(table, Table::new(layout.clone(), 0));
    if !send(layout, Chunk::Table(full)) {
        return Pushed::Stop;
    }
    match table.push(number, cells()) {
        Ok(()) => Pushed::Yes,
        Err(_) => Pushed::TooBig(number),
    }
}
