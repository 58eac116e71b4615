//! A table's rows read in chunks, for threads other than the reading one: a delimited file's
//! records as read ([`Records`]), a workbook's rows as a small [`Table`].

use std::ops::ControlFlow;

use super::{Cell, HeaderChoice, Records, RowView, Table, TableLayout, Workbook};
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
                RowView::Row(_) => records.take().map(Chunk::Records),
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
                    if table.push(row.number, cells()).is_err() {
                        // A column of this chunk is full (4 GiB): the row starts the next one.
                        if !send(layout, Chunk::Table(std::mem::replace(table, fresh()))) {
                            return ControlFlow::Break(());
                        }
                        if table.push(row.number, cells()).is_err() {
                            too_big = Some(row.number);
                            return ControlFlow::Break(());
                        }
                    }
                    (table.len() >= rows).then(|| {
                        let next = table.empty_like();
                        Chunk::Table(std::mem::replace(table, next))
                    })
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
