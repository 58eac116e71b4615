//! Finding the header row and naming the table's columns.

use std::collections::{HashMap, HashSet};

use super::{Cell, Row};

/// Rows looked at to find the header.
pub const SAMPLE_ROWS: usize = 50;

/// The index in `sample` of the first row that is mostly non-empty text.
///
/// "Mostly" is measured against the widest sampled row, so title lines, report metadata and
/// stray notes above a table (one or two cells) are passed over. Without such a row the
/// first row is the header.
pub fn detect(sample: &[Row]) -> usize {
    let widest = sample.iter().map(filled).max().unwrap_or(0);
    let needed = if widest <= 1 {
        1
    } else {
        (widest * 3).div_ceil(5).max(2)
    };
    sample
        .iter()
        .position(|row| {
            let n = filled(row);
            n >= needed && texts(row) * 10 >= n * 7
        })
        .unwrap_or(0)
}

fn filled(row: &Row) -> usize {
    row.cells.iter().filter(|c| !c.is_blank()).count()
}

fn texts(row: &Row) -> usize {
    row.cells
        .iter()
        .filter(|c| matches!(c, Cell::Text(t) if !t.trim().is_empty()))
        .count()
}

/// The header texts between the first and last named column, and that first column.
///
/// Whitespace runs (including newlines inside a header) become one space; an empty header
/// inside the table is named by its column letter; a repeated name gets ` (2)`, ` (3)`.
pub fn name_columns(header: &Row) -> (u32, Vec<String>) {
    let first = header.cells.iter().position(|c| !c.is_blank()).unwrap_or(0);
    let last = header
        .cells
        .iter()
        .rposition(|c| !c.is_blank())
        .unwrap_or(0);
    let mut namer = Namer::default();
    let names = header
        .cells
        .iter()
        .enumerate()
        .take(last + 1)
        .skip(first)
        .map(|(col, cell)| {
            let text = collapse_whitespace(&cell.display());
            if text.is_empty() {
                namer.name(format!("Column {}", column_letter(col)))
            } else {
                namer.name(text)
            }
        })
        .collect();
    (u32::try_from(first).unwrap_or(0), names)
}

/// Unique column names, ignoring ASCII case, in time linear in the number of columns.
///
/// Each base name remembers the next suffix to try, so 16,384 copies of one header cost
/// 16,384 lookups rather than the 134 million comparisons of scanning every earlier name.
#[derive(Default)]
struct Namer {
    /// Names given so far, ASCII-lowercased.
    taken: HashSet<String>,
    /// Next ` (n)` to try for each lowercased base name.
    next_suffix: HashMap<String, usize>,
    /// Lookups in `taken`, for the test that keeps this linear.
    probes: usize,
}

impl Namer {
    fn name(&mut self, base: String) -> String {
        let key = base.to_ascii_lowercase();
        self.probes += 1;
        if self.taken.insert(key.clone()) {
            return base;
        }
        let n = self.next_suffix.entry(key).or_insert(2);
        loop {
            let name = format!("{base} ({n})");
            *n += 1;
            self.probes += 1;
            if self.taken.insert(name.to_ascii_lowercase()) {
                return name;
            }
        }
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split(|c: char| c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Excel's column letters: 0 -> A, 25 -> Z, 26 -> AA.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn row(number: u32, cells: &[&str]) -> Row {
        Row {
            number,
            cells: cells.iter().map(|s| Cell::text(s)).collect(),
        }
    }

    #[test]
    fn skips_title_and_metadata_rows() {
        let sample = vec![
            row(1, &["Customer export"]),
            row(2, &["Exported by:", "ops@example.com"]),
            row(4, &["Name", "Email", "Phone", "Plan"]),
            row(5, &["Ann", "ann@example.com", "", "gold"]),
        ];
        assert_eq!(detect(&sample), 2);
    }

    #[test]
    fn numeric_rows_are_not_headers() {
        let sample = vec![
            Row {
                number: 1,
                cells: vec![Cell::Int(1), Cell::Int(2), Cell::Int(3)],
            },
            row(2, &["a", "b", "c"]),
        ];
        assert_eq!(detect(&sample), 1);
    }

    #[test]
    fn falls_back_to_the_first_row() {
        let sample = vec![Row {
            number: 1,
            cells: vec![Cell::Int(1), Cell::Int(2)],
        }];
        assert_eq!(detect(&sample), 0);
    }

    #[test]
    fn names_blank_and_repeated_headers() {
        let header = row(3, &["", "", "Name", "", "Ben \nAshley", "name", ""]);
        let (first, names) = name_columns(&header);
        assert_eq!(first, 2);
        assert_eq!(names, ["Name", "Column D", "Ben Ashley", "name (2)"]);
    }

    #[test]
    fn suffixes_do_not_collide_with_real_names() {
        let header = row(1, &["a", "A (2)", "a", "a"]);
        assert_eq!(name_columns(&header).1, ["a", "A (2)", "a (3)", "a (4)"]);
    }

    /// 16,384 copies of one header (Excel's widest row): scanning every earlier name for each
    /// suffix took 1.8 hours; each name now costs a lookup or two.
    #[test]
    fn naming_repeated_headers_is_linear() {
        let mut namer = Namer::default();
        let names: Vec<String> = (0..16_384).map(|_| namer.name("Email".into())).collect();
        assert_eq!(names[16_383], "Email (16384)");
        assert!(namer.probes <= 2 * 16_384, "{} lookups", namer.probes);
        let mut namer = Namer::default();
        for i in 0..4_000 {
            namer.name(format!("x ({})", i + 2));
        }
        for _ in 0..4_001 {
            namer.name("X".into());
        }
        assert!(namer.probes <= 3 * 8_001, "{} lookups", namer.probes);
    }

    #[rstest]
    #[case(0, "A")]
    #[case(25, "Z")]
    #[case(26, "AA")]
    #[case(701, "ZZ")]
    #[case(702, "AAA")]
    fn column_letters(#[case] index: usize, #[case] want: &str) {
        assert_eq!(column_letter(index), want);
    }
}
