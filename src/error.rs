//! Core error enums: each message says what failed and where (file, sheet, row, column).

use std::path::PathBuf;

/// A worksheet could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("{path}: cannot read the file: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The duplicate check of a long sheet could not use its temporary file in `dir`.
    #[error(
        "{dir}: cannot write the duplicate check's temporary file ({source}); free some space \
         there or set ZDIMPORT_DATA_DIR to another disk"
    )]
    Spill {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: unsupported file type (expected xlsx, xlsm, xlsb, xls, ods, csv, tsv or txt)")]
    Unsupported { path: PathBuf },
    #[error("{path}: not a readable workbook: {reason}")]
    Workbook { path: PathBuf, reason: String },
    #[error("{path}: sheet '{sheet}': {reason}")]
    Sheet {
        path: PathBuf,
        sheet: String,
        reason: String,
    },
    #[error("{path}: no sheet named '{wanted}' (sheets: {available})")]
    NoSuchSheet {
        path: PathBuf,
        wanted: String,
        available: String,
    },
    #[error("{path}: CSV record {record}: {reason}")]
    Csv {
        path: PathBuf,
        record: u64,
        reason: String,
    },
    #[error("{path}: sheet '{sheet}' has no table (every row is empty)")]
    Empty { path: PathBuf, sheet: String },
    #[error("{path}: sheet '{sheet}': header row {row} is outside the sheet (it has {rows} rows)")]
    HeaderOutOfRange {
        path: PathBuf,
        sheet: String,
        row: u32,
        rows: u32,
    },
}
