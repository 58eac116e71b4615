//! What zdimport will read from one file: Excel's grid, and bounds on what a small compressed
//! file may inflate to, each with an environment variable to lift it.

use super::header::column_letter;

/// Excel's last row (1-based): no worksheet holds more.
pub const MAX_ROWS: u32 = 1_048_576;
/// Excel's last column, `XFD`.
pub const MAX_COLUMNS: u32 = 16_384;

/// A cell (0-based row and column) inside Excel's grid, or an error naming the cell.
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
