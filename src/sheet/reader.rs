//! Row streams over each kind of source, all yielding non-blank rows from column A.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use calamine::{Data, DataRef, Range, Reader, Sheets};

use super::{Cell, DelimitedText, Row, limits};
use crate::error::SheetError;

type Rs = BufReader<File>;

/// A stream of a sheet's non-blank rows, cells from column A.
pub struct RawRows<'a> {
    inner: Inner<'a>,
    path: PathBuf,
    sheet: String,
}

enum Inner<'a> {
    Cells(Cells<'a>),
    Range {
        range: Range<Data>,
        next: usize,
    },
    Csv {
        reader: csv::Reader<&'a [u8]>,
        record: csv::StringRecord,
        number: u32,
    },
}

/// Next cell of calamine's streaming reader (xlsx and xlsb; the xlsb type is not exported).
type NextCell<'a> = Box<dyn FnMut() -> Result<Option<calamine::Cell<DataRef<'a>>>, String> + 'a>;

/// A cell-by-cell reader and the first cell of the next row, already read.
struct Cells<'a> {
    next: NextCell<'a>,
    pending: Option<(u32, u32, Cell)>,
    /// Calamine's readers fail when asked again after their last cell.
    done: bool,
}

impl Cells<'_> {
    /// Gathers the cells of one row (cells come in row order in both formats).
    fn next_row(&mut self) -> Result<Option<Row>, String> {
        let mut row: Option<Row> = None;
        loop {
            let (r, c, value) = match self.pending.take() {
                Some(p) => p,
                None if self.done => return Ok(row),
                None => match (self.next)()? {
                    Some(cell) => {
                        let (r, c) = cell.get_position();
                        limits::check_grid(r, c)?;
                        (r, c, Cell::from(cell.get_value().clone()))
                    }
                    None => {
                        self.done = true;
                        return Ok(row);
                    }
                },
            };
            if value.is_blank() {
                continue;
            }
            match &mut row {
                Some(current) if current.number != r + 1 => {
                    self.pending = Some((r, c, value));
                    return Ok(row);
                }
                Some(current) => put(&mut current.cells, c, value),
                None => {
                    let mut cells = Vec::new();
                    put(&mut cells, c, value);
                    row = Some(Row {
                        number: r + 1,
                        cells,
                    });
                }
            }
        }
    }
}

fn put(cells: &mut Vec<Cell>, col: u32, value: Cell) {
    let col = col as usize;
    if cells.len() <= col {
        cells.resize(col + 1, Cell::Empty);
    }
    cells[col] = value;
}

/// A csv reader over decoded text that keeps ragged rows.
pub(super) fn csv_reader(text: &DelimitedText) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .delimiter(text.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.text.as_bytes())
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
    // A bare `A1` dimension is what many writers put when they do not know the size.
    dims.filter(|d| d.len() > 1 && d.end >= d.start)
        .map(|d| (d.end.0 - d.start.0 + 1, d.end.1 - d.start.1 + 1))
}

impl<'a> RawRows<'a> {
    pub(super) fn csv(text: &'a DelimitedText, path: &Path) -> RawRows<'a> {
        let reader = csv_reader(text);
        let inner = Inner::Csv {
            reader,
            record: csv::StringRecord::new(),
            number: 0,
        };
        RawRows {
            inner,
            path: path.to_path_buf(),
            sheet: String::new(),
        }
    }

    pub(super) fn calamine(
        sheets: &'a mut Sheets<Rs>,
        name: &str,
        path: &Path,
    ) -> Result<RawRows<'a>, SheetError> {
        let err = |reason: String| SheetError::Sheet {
            path: path.to_path_buf(),
            sheet: name.to_owned(),
            reason,
        };
        let inner = match sheets {
            Sheets::Xlsx(x) => {
                let mut reader = x
                    .worksheet_cells_reader(name)
                    .map_err(|e| err(e.to_string()))?;
                Inner::Cells(Cells {
                    next: Box::new(move || reader.next_cell().map_err(|e| e.to_string())),
                    pending: None,
                    done: false,
                })
            }
            Sheets::Xlsb(x) => {
                let mut reader = x
                    .worksheet_cells_reader(name)
                    .map_err(|e| err(e.to_string()))?;
                Inner::Cells(Cells {
                    next: Box::new(move || reader.next_cell().map_err(|e| e.to_string())),
                    pending: None,
                    done: false,
                })
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
        })
    }

    /// The next row that has a non-blank cell, or `None` at the end of the sheet.
    pub fn next_row(&mut self) -> Result<Option<Row>, SheetError> {
        let result = match &mut self.inner {
            Inner::Cells(cells) => cells.next_row(),
            Inner::Range { range, next } => next_range_row(range, next),
            Inner::Csv {
                reader,
                record,
                number,
            } => return next_csv_row(reader, record, number, &self.path),
        };
        result.map_err(|reason| SheetError::Sheet {
            path: self.path.clone(),
            sheet: self.sheet.clone(),
            reason,
        })
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

fn next_csv_row(
    reader: &mut csv::Reader<&[u8]>,
    record: &mut csv::StringRecord,
    number: &mut u32,
    path: &Path,
) -> Result<Option<Row>, SheetError> {
    loop {
        let more = reader.read_record(record).map_err(|e| SheetError::Csv {
            path: path.to_path_buf(),
            record: u64::from(*number) + 1,
            reason: e.to_string(),
        })?;
        if !more {
            return Ok(None);
        }
        *number += 1;
        if record.iter().any(|f| !f.trim().is_empty()) {
            let cells = record.iter().map(Cell::text).collect();
            return Ok(Some(Row {
                number: *number,
                cells,
            }));
        }
    }
}
