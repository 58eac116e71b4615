//! Leading zeros that exist only in Excel's number format.
//!
//! A ZIP code or customer number column formatted `00000` shows `06083` in Excel, but the cell
//! holds the number `6083`: read as a value, the zeros are gone. The format is kept beside the
//! cell (its style), so the first rows of an Excel sheet are read once more with their styles
//! to find such columns, and the checker can say so before anything is sent.

use calamine::{DataRef, Xlsx};
use std::collections::BTreeMap;

use super::TableLayout;

/// A column whose numbers Excel shows with leading zeros the values do not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZeroPadded {
    /// 0-based position in the table (as `ColumnMapping::index`).
    pub index: usize,
    /// The digits the format shows: `00000` → 5.
    pub digits: u8,
    /// One value as the file holds it and as Excel shows it: `6083`, `06083`.
    pub held: String,
    pub shown: String,
}

/// The number format codes that only pad whole numbers with zeros: `00000`, `"000000"`.
fn zero_digits(code: &str) -> Option<u8> {
    let code = code.trim_matches('"');
    (code.len() >= 2 && code.len() <= 30 && code.bytes().all(|b| b == b'0'))
        .then(|| u8::try_from(code.len()).ok())
        .flatten()
}

/// The columns of `layout`'s table, read from its first `rows` data rows, whose whole numbers
/// Excel shows padded with zeros they do not hold. Only xlsx and xlsm keep number formats that
/// calamine reads with the cells ([`super::Workbook::zero_padded`] asks only those).
///
/// The workbook already open is read again, not the file: a second `Xlsx` would load the
/// shared strings once more, and with them held twice a million-row sheet's peak doubled.
pub(super) fn zero_padded(
    workbook: &mut Xlsx<super::Rs>,
    layout: &TableLayout,
    rows: u32,
) -> Vec<ZeroPadded> {
    let Ok(mut cells) = workbook.worksheet_cells_reader(&layout.sheet) else {
        return Vec::new();
    };
    // calamine counts rows from 0; the layout's header row from 1.
    let first = layout.header_row;
    let last = first.saturating_add(rows);
    let columns = layout.first_column..layout.first_column + layout.headers.len() as u32;
    let mut found: BTreeMap<usize, ZeroPadded> = BTreeMap::new();
    while let Ok(Some((cell, style))) = cells.next_cell_with_style_id() {
        let (row, col) = cell.get_position();
        if row > last {
            break;
        }
        if row < first || !columns.contains(&col) {
            continue;
        }
        let whole = match cell.get_value() {
            DataRef::Int(n) => Some(*n),
            DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(*f as i64),
            _ => None,
        };
        let Some(whole) = whole.filter(|n| *n >= 0) else {
            continue;
        };
        let digits = cells
            .styles()
            .get(style)
            .and_then(|s| s.number_format.as_ref())
            .and_then(|f| zero_digits(&f.format_code));
        let held = whole.to_string();
        let Some(digits) = digits.filter(|d| usize::from(*d) > held.len()) else {
            continue;
        };
        let index = (col - layout.first_column) as usize;
        let entry = found.entry(index).or_insert_with(|| ZeroPadded {
            index,
            digits,
            shown: format!("{held:0>width$}", width = usize::from(digits)),
            held: held.clone(),
        });
        entry.digits = entry.digits.max(digits);
    }
    found.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("00000", Some(5))]
    #[case("\"000000\"", Some(6))]
    #[case("0", None)]
    #[case("0.00", None)]
    #[case("General", None)]
    #[case("#,##0", None)]
    fn zero_only_formats(#[case] code: &str, #[case] want: Option<u8>) {
        assert_eq!(zero_digits(code), want);
    }

    fn layout(headers: &[&str]) -> TableLayout {
        TableLayout {
            sheet: "Users".into(),
            header_row: 1,
            first_column: 1,
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    #[test]
    fn finds_the_columns_whose_zeros_are_only_in_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zips.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let zip = rust_xlsxwriter::Format::new().set_num_format("00000");
        let sheet = book.add_worksheet().set_name("Users").unwrap();
        // The table starts in column B, as the layout says.
        sheet.write(0, 1, "Name").unwrap();
        sheet.write(0, 2, "ZIP").unwrap();
        sheet.write(0, 3, "Seats").unwrap();
        sheet.write(0, 4, "Code").unwrap();
        for (r, (zip_code, seats)) in [(6083.0, 3.0), (12345.0, 4.0)].into_iter().enumerate() {
            let r = r as u32 + 1;
            sheet.write(r, 1, "Ana").unwrap();
            sheet
                .write_number_with_format(r, 2, zip_code, &zip)
                .unwrap();
            sheet.write_number(r, 3, seats).unwrap();
            // Five digits in a five-digit format: nothing is hidden.
            sheet.write_number_with_format(r, 4, 54321.0, &zip).unwrap();
        }
        book.save(&path).unwrap();

        let mut workbook = super::super::Workbook::open(&path).unwrap();
        let found = workbook.zero_padded(&layout(&["Name", "ZIP", "Seats", "Code"]), 100);
        assert_eq!(
            found,
            vec![ZeroPadded {
                index: 1,
                digits: 5,
                held: "6083".into(),
                shown: "06083".into(),
            }]
        );
        // Not an Excel file: nothing to read.
        let csv = dir.path().join("zips.csv");
        std::fs::write(&csv, "Name,ZIP\nAna,06083\n").unwrap();
        let mut workbook = super::super::Workbook::open(&csv).unwrap();
        assert!(workbook.zero_padded(&layout(&["Name"]), 100).is_empty());
    }
}
