//! Worksheets in: calamine workbooks and CSV/TSV text, header detection, typed cells.

use chrono::NaiveDateTime;

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
    /// A duration, such as `[hh]:mm:ss`, in days.
    Duration(f64),
    /// An Excel error value such as `#N/A`, as Excel spells it.
    Error(String),
}

/// A data row with the spreadsheet's own 1-based row number.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub number: u32,
    pub cells: Vec<Cell>,
}
