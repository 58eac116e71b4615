//! What zdimport will read from one file: Excel's grid, and bounds on what a small compressed
//! file may inflate to, each with an environment variable to lift it.

use super::header::column_letter;

/// Excel's last row (1-based): no worksheet holds more.
pub const MAX_ROWS: u32 = 1_048_576;
/// Excel's last column, `XFD`.
pub const MAX_COLUMNS: u32 = 16_384;

/// A cell (0-based row and column) inside Excel's grid, or an error naming the cell.
#[inline]
pub fn check_grid(row: u32, col: u32) -> Result<(), String> {
    if row < MAX_ROWS && col < MAX_COLUMNS {
        return Ok(());
    }
    Err(format!(
        "cell {}{} is beyond Excel's grid of 16,384 columns × 1,048,576 rows; the file is \
         damaged or hostile",
        column_letter(col as usize),
        u64::from(row) + 1
    ))
}

/// Bounds on what a workbook may inflate to and hold, each lifted by its environment variable.
///
/// A few kilobytes of zip can inflate to gigabytes; without these a 3 MB file took 3–9.5 GB of
/// memory and then aborted. The defaults are far above what Excel or LibreOffice write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one cell, string, tag or record as stored (Excel caps a cell at 32,767
    /// characters).
    pub cell_bytes: u64,
    /// Inflated bytes of the shared strings table, which calamine holds whole.
    pub shared_strings_bytes: u64,
    /// Inflated bytes of any other part read (a worksheet, the workbook).
    pub part_bytes: u64,
    /// Cells an ODS sheet holds once its repeated rows and columns are spelled out.
    pub ods_cells: u64,
    /// Line breaks inside one quoted CSV field; more looks like a stray quote.
    pub field_lines: u64,
}

/// One limit: its environment variable, its default and what it counts.
struct Knob {
    env: &'static str,
    default: u64,
}

const CELL_BYTES: Knob = Knob {
    env: "ZDIMPORT_MAX_CELL_BYTES",
    default: 1 << 20,
};
const SHARED_STRINGS_BYTES: Knob = Knob {
    env: "ZDIMPORT_MAX_SHARED_STRINGS_BYTES",
    default: 512 << 20,
};
const PART_BYTES: Knob = Knob {
    env: "ZDIMPORT_MAX_PART_BYTES",
    default: 4 << 30,
};
const ODS_CELLS: Knob = Knob {
    env: "ZDIMPORT_MAX_ODS_CELLS",
    default: 20_000_000,
};

const FIELD_LINES: Knob = Knob {
    env: "ZDIMPORT_MAX_FIELD_LINES",
    default: 100,
};

impl Knob {
    fn value(&self) -> u64 {
        std::env::var(self.env)
            .ok()
            .and_then(|v| v.trim().replace('_', "").parse().ok())
            .unwrap_or(self.default)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            cell_bytes: CELL_BYTES.default,
            shared_strings_bytes: SHARED_STRINGS_BYTES.default,
            part_bytes: PART_BYTES.default,
            ods_cells: ODS_CELLS.default,
            field_lines: FIELD_LINES.default,
        }
    }
}

impl Limits {
    /// The defaults, each replaced by its `ZDIMPORT_MAX_…` variable when that is a number.
    pub fn from_env() -> Limits {
        Limits {
            cell_bytes: CELL_BYTES.value(),
            shared_strings_bytes: SHARED_STRINGS_BYTES.value(),
            part_bytes: PART_BYTES.value(),
            ods_cells: ODS_CELLS.value(),
            field_lines: FIELD_LINES.value(),
        }
    }
}

/// Which limit was reached, for a message that says how to lift it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    CellBytes,
    SharedStringsBytes,
    PartBytes,
    OdsCells,
    FieldLines,
}

impl Exceeded {
    /// "… is over the limit of N bytes (set ZDIMPORT_MAX_CELL_BYTES to a larger number to
    /// lift it)".
    pub(crate) fn message(self, limits: &Limits, what: &str) -> String {
        let (knob, limit, unit) = match self {
            Exceeded::CellBytes => (&CELL_BYTES, limits.cell_bytes, "bytes"),
            Exceeded::SharedStringsBytes => {
                (&SHARED_STRINGS_BYTES, limits.shared_strings_bytes, "bytes")
            }
            Exceeded::PartBytes => (&PART_BYTES, limits.part_bytes, "bytes inflated"),
            Exceeded::OdsCells => (&ODS_CELLS, limits.ods_cells, "cells"),
            Exceeded::FieldLines => (&FIELD_LINES, limits.field_lines, "line breaks"),
        };
        format!(
            "{what} is over the limit of {limit} {unit}; if the file is trusted, set {}={} (or \
             more) to lift it",
            knob.env,
            limit.saturating_mul(4)
        )
    }
}
