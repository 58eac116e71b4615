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
        let mut chunk: Option<Chunk> = None;
        let mut too_big = None;
        let read = self.read_table_views(sheet, header, wanted, |layout, row| {
            // A chunk holds rows of one kind: a row of the other kind sends it first.
            match row {
                RowView::Texts(texts) => {
                    let mut records = match chunk.take() {
                        Some(Chunk::Records(records)) => records,
                        Some(other) => {
                            if !send(layout, other) {
                                return ControlFlow::Break(());
                            }
                            Records::new(layout.headers.len())
                        }
                        None => Records::new(layout.headers.len()),
                    };
                    records.push(texts.number(), texts.cells());
                    chunk = Some(Chunk::Records(records));
                }
                RowView::Row(row) => {
                    let fresh = || Table::new(layout.clone(), 0);
                    let mut table = match chunk.take() {
                        Some(Chunk::Table(table)) => table,
                        Some(other) => {
                            if !send(layout, other) {
                                return ControlFlow::Break(());
                            }
                            fresh()
                        }
                        None => fresh(),
                    };
                    let cells = || row.cells.iter().map(Cell::as_ref);
                    if table.push(row.number, cells()).is_err() {
                        // A column of this chunk is full (4 GiB): the row starts the next one.
                        if !send(layout, Chunk::Table(std::mem::replace(&mut table, fresh()))) {
                            return ControlFlow::Break(());
                        }
                        if table.push(row.number, cells()).is_err() {
                            too_big = Some(row.number);
                            return ControlFlow::Break(());
                        }
                    }
                    chunk = Some(Chunk::Table(table));
                }
            }
            let Some(full) = chunk.as_mut().filter(|c| c.len() >= rows) else {
                return ControlFlow::Continue(());
            };
            // The next chunk starts with the room this one took: no growing while it fills.
            let next = match full {
                Chunk::Table(table) => Chunk::Table(table.empty_like()),
                Chunk::Records(records) => Chunk::Records(records.empty_like()),
            };
            let full = std::mem::replace(full, next);
            if send(layout, full) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        })?;
        if let Some(number) = too_big {
            return Err(self.row_too_big(&read.0, number));
        }
        if let Some(rest) = chunk.filter(|c| !c.is_empty()) {
            let _closed = send(&read.0, rest);
        }
        Ok(read)
    }
}
