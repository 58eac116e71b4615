//! Every problem a check found, held compactly: what the Check screen lists (issue #14).
//!
//! An [`Issue`] is about a hundred bytes inline and up to four strings on the heap, some 250
//! bytes in all; a million-row sheet whose every row has a warning held 237 MB of them. Here an
//! issue is a fixed 24-byte record. Its message and value are written once into a page of
//! text (a text met lately is found there again: "name is empty" on every row is stored
//! once), column headers once each in a table of names, and the cell (`B12`) as the column's
//! letters followed by the issue's row, which is how the checks make it. Issues come back
//! as borrowed views ([`IssueRef`]) or, on demand, owned [`Issue`]s.

use std::fmt;
use std::hash::BuildHasher as _;

use hashbrown::HashTable;

use super::{Issue, Severity};

/// Bytes of text one page holds at most: offsets into a page are `u32`.
const PAGE_BYTES: usize = u32::MAX as usize;
/// Texts remembered for reuse before the table of them is emptied and begun again: a message
/// repeated on every row stays found, and a sheet of unique messages does not grow a table as
/// long as the report.
const REMEMBERED: usize = 1 << 14;
/// Hashes of texts and names (only this process reads them).
const HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x1551);

// What a packed issue's flags say.
const ERROR: u8 = 1;
const INCLUDABLE: u8 = 1 << 1;
const HAS_COLUMN: u8 = 1 << 2;
const HAS_VALUE: u8 = 1 << 3;
const HAS_CELL: u8 = 1 << 4;
/// The cell is its name followed by the issue's row: `B` on row 12 is `B12`.
const CELL_AT_ROW: u8 = 1 << 5;

/// One issue: its row, its texts as offsets into its page, its column and cell as names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed {
    row: u32,
    message: u32,
    /// Read when `HAS_VALUE`.
    value: u32,
    /// A name, read when `HAS_COLUMN`.
    column: u32,
    /// A name, read when `HAS_CELL`.
    cell: u32,
    page: u16,
    flags: u8,
}

/// Many issues, in the order pushed (or sorted by row since).
#[derive(Clone)]
pub struct Issues {
    items: Vec<Packed>,
    /// Messages and values, each written as its length (see [`write_len`]) then its text.
    pages: Vec<String>,
    /// Column headers and cell names, each once.
    names: Vec<Box<str>>,
    /// `names` by hash.
    name_index: HashTable<u32>,
    /// Offsets into the last page of the texts written lately, by hash.
    recent: HashTable<u32>,
    /// Whether `items` are in row order: a row's issues are then found by binary search.
    by_row: bool,
    /// [`PAGE_BYTES`], smaller in tests.
    page_bytes: usize,
}

impl Default for Issues {
    fn default() -> Self {
        Issues {
            items: Vec::new(),
            pages: Vec::new(),
            names: Vec::new(),
            name_index: HashTable::new(),
            recent: HashTable::new(),
            by_row: true,
            page_bytes: PAGE_BYTES,
        }
    }
}

impl Issues {
    pub fn new() -> Self {
        Issues::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `n`th issue (0-based).
    pub fn get(&self, n: usize) -> Option<IssueRef<'_>> {
        self.items.get(n).map(|p| self.view(p))
    }

    /// Every issue in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            issues: self,
            items: self.items.iter(),
        }
    }

    /// The severity of the `n`th issue, without reading its texts (the screen's filters).
    pub fn severity(&self, n: usize) -> Option<Severity> {
        self.items.get(n).map(|p| severity_of(p.flags))
    }

    /// The issues of sheet row `row`, in order: found by binary search once the issues are in
    /// row order (as a check leaves them), else by reading them all.
    pub fn of_row(&self, row: u32) -> impl Iterator<Item = IssueRef<'_>> + '_ {
        let range = match self.by_row {
            true => {
                let start = self.items.partition_point(|p| p.row < row);
                start..start + self.items[start..].partition_point(|p| p.row == row)
            }
            false => 0..self.items.len(),
        };
        self.items[range]
            .iter()
            .filter(move |p| p.row == row)
            .map(|p| self.view(p))
    }

    /// Adds an issue at the end: an owned [`Issue`] by reference, or another store's view.
    pub fn push<'a>(&mut self, issue: impl Into<IssueRef<'a>>) {
        let issue = issue.into();
        let value_len = issue.value.map_or(0, str::len);
        // Both texts go to one page: an issue names its page once.
        let page = self.page_for(issue.message.len() + value_len + 2 * MAX_LEN_BYTES);
        let mut flags = match issue.severity {
            Severity::Error => ERROR,
            Severity::Warning => 0,
        };
        if issue.includable {
            flags |= INCLUDABLE;
        }
        let message = self.text(issue.message);
        let value = issue.value.map_or(0, |v| {
            flags |= HAS_VALUE;
            self.text(v)
        });
        let column = issue.column.map_or(0, |c| {
            flags |= HAS_COLUMN;
            self.name(c)
        });
        let cell = issue.cell.map_or(0, |cell| {
            flags |= HAS_CELL;
            match cell.row {
                Some(row) if row == issue.row => {
                    flags |= CELL_AT_ROW;
                    self.name(cell.name)
                }
                None => self.name(cell.name),
                // Another row's number after the name: kept whole.
                Some(_) => self.name(&cell.to_string()),
            }
        });
        self.by_row &= self.items.last().is_none_or(|last| last.row <= issue.row);
        self.items.push(Packed {
            row: issue.row,
            message,
            value,
            column,
            cell,
            page,
            flags,
        });
    }

    /// Sorts the issues by row; the issues of one row keep their order (a stable sort).
    pub fn sort_by_row(&mut self) {
        // A check's issues come nearly in order already (only a duplicate's warning lands on
        // an earlier row); in order, the sort and its scratch buffer are skipped.
        if !self.items.is_sorted_by_key(|p| p.row) {
            self.items.sort_by_key(|p| p.row);
        }
        self.by_row = true;
    }

    /// Keeps the issues `keep` says yes to, in order. Their texts stay in the pages.
    pub fn retain(&mut self, mut keep: impl FnMut(IssueRef<'_>) -> bool) {
        let mut items = std::mem::take(&mut self.items);
        items.retain(|p| keep(self.view(p)));
        self.items = items;
    }

    /// Gives back the room kept for more issues, once the last is pushed.
    pub fn shrink_to_fit(&mut self) {
        self.items.shrink_to_fit();
        if let Some(page) = self.pages.last_mut() {
            page.shrink_to_fit();
        }
        self.recent = HashTable::new();
    }

    fn view(&self, p: &Packed) -> IssueRef<'_> {
        let page = self
            .pages
            .get(usize::from(p.page))
            .map_or("", String::as_str);
        let has = |flag: u8| p.flags & flag != 0;
        let cell = has(HAS_CELL).then(|| CellRef {
            name: self.name_at(p.cell),
            row: has(CELL_AT_ROW).then_some(p.row),
        });
        IssueRef {
            row: p.row,
            column: has(HAS_COLUMN).then(|| self.name_at(p.column)),
            cell,
            value: has(HAS_VALUE).then(|| read(page, p.value)),
            severity: severity_of(p.flags),
            message: read(page, p.message),
            includable: has(INCLUDABLE),
        }
    }

    /// The page the next issue's texts go to: a new one when `bytes` more would not fit in
    /// the last (the offsets into a page are `u32`).
    fn page_for(&mut self, bytes: usize) -> u16 {
        let full = self
            .pages
            .last()
            .is_none_or(|page| !page.is_empty() && page.len() + bytes > self.page_bytes);
        if full {
            self.pages.push(String::new());
            // Texts are found again in the last page only: an issue's texts share its page.
            self.recent.clear();
        }
        // 65,536 pages of 4 GiB is more than a 64-bit process can address.
        u16::try_from(self.pages.len() - 1).unwrap_or(u16::MAX)
    }

    /// Writes `text` into the last page, or finds it there: its offset.
    fn text(&mut self, text: &str) -> u32 {
        let hash = HASH.hash_one(text);
        let Some(page) = self.pages.last_mut() else {
            return 0;
        };
        if let Some(&at) = self.recent.find(hash, |&at| read(page, at) == text) {
            return at;
        }
        // `page_for` left room for this text within `page_bytes`.
        let at = u32::try_from(page.len()).unwrap_or(u32::MAX);
        write_len(page, text.len());
        page.push_str(text);
        if self.recent.len() >= REMEMBERED {
            self.recent.clear();
        }
        let page = &*page;
        self.recent
            .insert_unique(hash, at, |&at| HASH.hash_one(read(page, at)));
        at
    }

    /// The index of `name` in the names, added if new.
    fn name(&mut self, name: &str) -> u32 {
        let hash = HASH.hash_one(name);
        let names = &self.names;
        if let Some(&at) = self
            .name_index
            .find(hash, |&at| names[at as usize][..] == *name)
        {
            return at;
        }
        // A report has as many names as the sheet has columns, and odd cells.
        let at = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        let names = &self.names;
        self.name_index
            .insert_unique(hash, at, |&at| HASH.hash_one(&names[at as usize][..]));
        at
    }

    fn name_at(&self, at: u32) -> &str {
        self.names.get(at as usize).map_or("", |n| n)
    }
}

fn severity_of(flags: u8) -> Severity {
    match flags & ERROR {
        0 => Severity::Warning,
        _ => Severity::Error,
    }
}

/// Bytes [`write_len`] takes at most for any `usize`.
const MAX_LEN_BYTES: usize = 11;

/// Writes `len` six bits a byte, lowest first, the last byte marked by its 0x40 bit: every
/// byte is ASCII, so a page stays a `String` and its texts are read without checking them.
fn write_len(page: &mut String, mut len: usize) {
    loop {
        let low = (len & 0x3F) as u8;
        len >>= 6;
        if len == 0 {
            page.push(char::from(low | 0x40));
            return;
        }
        page.push(char::from(low));
    }
}

/// The text written at `at` by [`Issues::text`].
fn read(page: &str, at: u32) -> &str {
    let bytes = page.as_bytes();
    let (mut i, mut len, mut shift) = (at as usize, 0usize, 0u32);
    loop {
        let Some(&byte) = bytes.get(i) else {
            return "";
        };
        i += 1;
        len |= usize::from(byte & 0x3F) << shift;
        if byte & 0x40 != 0 {
            break;
        }
        shift += 6;
    }
    page.get(i..i + len).unwrap_or("")
}

/// `cell` without the decimal digits of `row` at its end: `B12` on row 12 is `B`.
fn strip_row(cell: &str, row: u32) -> Option<&str> {
    let mut rest = cell.as_bytes();
    let mut n = row;
    loop {
        let (&last, init) = rest.split_last()?;
        if last != b'0' + (n % 10) as u8 {
            return None;
        }
        rest = init;
        n /= 10;
        if n == 0 {
            return cell.get(..rest.len());
        }
    }
}

impl fmt::Debug for Issues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when they hold the same issues in the same order, however they are laid out.
impl PartialEq for Issues {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// The issues of an [`Issues`], in order ([`Issues::iter`]).
#[derive(Clone)]
pub struct Iter<'a> {
    issues: &'a Issues,
    items: std::slice::Iter<'a, Packed>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = IssueRef<'a>;

    fn next(&mut self) -> Option<IssueRef<'a>> {
        self.items.next().map(|p| self.issues.view(p))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.items.next_back().map(|p| self.issues.view(p))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Issues {
    type Item = IssueRef<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl<'a, T: Into<IssueRef<'a>>> FromIterator<T> for Issues {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut issues = Issues::new();
        issues.extend(iter);
        issues
    }
}

impl<'a, T: Into<IssueRef<'a>>> Extend<T> for Issues {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for issue in iter {
            self.push(issue);
        }
    }
}

/// An issue read where it is held: an [`Issue`]'s fields as borrowed text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IssueRef<'a> {
    pub row: u32,
    pub column: Option<&'a str>,
    pub cell: Option<CellRef<'a>>,
    pub value: Option<&'a str>,
    pub severity: Severity,
    pub message: &'a str,
    pub includable: bool,
}

impl IssueRef<'_> {
    /// The issue as an owned [`Issue`].
    pub fn to_issue(&self) -> Issue {
        Issue {
            row: self.row,
            column: self.column.map(str::to_owned),
            cell: self.cell.map(|c| c.to_string()),
            value: self.value.map(str::to_owned),
            severity: self.severity,
            message: self.message.to_owned(),
            includable: self.includable,
        }
    }
}

impl<'a> From<&'a Issue> for IssueRef<'a> {
    fn from(issue: &'a Issue) -> Self {
        IssueRef {
            row: issue.row,
            column: issue.column.as_deref(),
            cell: issue
                .cell
                .as_deref()
                .map(|cell| match strip_row(cell, issue.row) {
                    Some(name) => CellRef {
                        name,
                        row: Some(issue.row),
                    },
                    None => CellRef {
                        name: cell,
                        row: None,
                    },
                }),
            value: issue.value.as_deref(),
            severity: issue.severity,
            message: &issue.message,
            includable: issue.includable,
        }
    }
}

/// `row 4, E-mail (B4): error: 'x' is not a valid email` (as [`Issue`] prints).
impl fmt::Display for IssueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(column) = self.column {
            write!(f, ", {column}")?;
        }
        if let Some(cell) = self.cell {
            write!(f, " ({cell})")?;
        }
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, ": {severity}: {}", self.message)
    }
}

/// A cell's name (`B12`) as held: a name, and the row that follows it when it does.
#[derive(Debug, Clone, Copy)]
pub struct CellRef<'a> {
    name: &'a str,
    row: Option<u32>,
}

impl fmt::Display for CellRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        match self.row {
            Some(row) => write!(f, "{row}"),
            None => Ok(()),
        }
    }
}

/// Equal when they name the same cell, however it is split.
impl PartialEq for CellRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self.row, other.row) {
            (Some(a), Some(b)) if self.name == other.name => a == b,
            _ => self.to_string() == other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(row: u32, column: Option<&str>, cell: Option<&str>, value: Option<&str>) -> Issue {
        Issue {
            row,
            column: column.map(Into::into),
            cell: cell.map(Into::into),
            value: value.map(Into::into),
            severity: Severity::Warning,
            message: "name is empty".into(),
            includable: false,
        }
    }

    /// Every shape a field takes: absent, empty, ASCII and not, a cell of the issue's row and
    /// one that is not, messages repeated and unique, long texts.
    fn shapes() -> Vec<Issue> {
        let long = "é".repeat(3000);
        let mut all = vec![
            issue(2, None, None, None),
            issue(2, Some(""), Some(""), Some("")),
            issue(3, Some("E-mail"), Some("B3"), Some("x@y")),
            issue(3, Some("Név ✓"), Some("AB3"), Some("Zoë 漢字 🎉")),
            issue(7, Some("E-mail"), Some("B12"), Some("x@y")),
            issue(10, Some("E-mail"), Some("10"), None),
            issue(0, Some("Row"), Some("A0"), Some("0")),
            issue(12, Some("E-mail"), Some("B012"), Some(&long)),
            issue(u32::MAX, Some("Tags"), Some("AAA4294967295"), None),
            issue(13, Some("E-mail"), Some("b13"), Some("line\nbreak\0nul")),
        ];
        all[3].severity = Severity::Error;
        all[3].includable = true;
        all[4].message = "email x@y is also on row 12, which is skipped".into();
        all[5].message = String::new();
        all[7].message = format!("'{long}' is not a valid email");
        all[7].severity = Severity::Error;
        all[9].message = "Ünïcode message: ✗".into();
        all
    }

    fn owned(issues: &Issues) -> Vec<Issue> {
        issues.iter().map(|i| i.to_issue()).collect()
    }

    #[test]
    fn a_packed_issue_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Packed>(), 24);
    }

    #[test]
    fn every_field_comes_back_as_pushed() {
        let all = shapes();
        let issues: Issues = all.iter().collect();
        assert_eq!(issues.len(), all.len());
        assert_eq!(owned(&issues), all);
        for (n, want) in all.iter().enumerate() {
            let got = issues.get(n).unwrap();
            assert_eq!(got.to_issue(), *want, "issue {n}");
            assert_eq!(got, IssueRef::from(want), "issue {n} as a view");
            assert_eq!(got.to_string(), want.to_string(), "issue {n} printed");
            assert_eq!(issues.severity(n), Some(want.severity));
        }
        assert_eq!(issues.get(all.len()), None);
        assert_eq!(issues.iter().next_back().unwrap().to_issue(), all[9]);
    }

    #[test]
    fn empty_text_is_not_absent_text() {
        let issues: Issues = [
            issue(2, None, None, None),
            issue(2, Some(""), Some(""), Some("")),
        ]
        .iter()
        .collect();
        let (none, empty) = (issues.get(0).unwrap(), issues.get(1).unwrap());
        assert_eq!((none.column, none.value), (None, None));
        assert!(none.cell.is_none());
        assert_eq!((empty.column, empty.value), (Some(""), Some("")));
        assert_eq!(empty.cell.map(|c| c.to_string()).as_deref(), Some(""));
    }

    #[test]
    fn a_repeated_message_and_column_are_held_once() {
        let issues: Issues = (2..10_002)
            .map(|row| issue(row, Some("Full Name"), Some(&format!("A{row}")), None))
            .collect::<Vec<_>>()
            .iter()
            .collect();
        assert_eq!(issues.pages.len(), 1);
        assert_eq!(issues.pages[0], "\u{4d}name is empty");
        assert_eq!(&*issues.names, [Box::from("Full Name"), Box::from("A")]);
        let last = issues.get(9_999).unwrap().to_issue();
        assert_eq!(last.cell.as_deref(), Some("A10001"));
        assert_eq!(last.message, "name is empty");
    }

    #[test]
    fn unique_messages_past_those_remembered_come_back_exactly() {
        let all: Vec<Issue> = (0..(REMEMBERED as u32 * 2 + 5))
            .map(|row| {
                let mut i = issue(row, Some("E-mail"), Some(&format!("B{row}")), Some("v"));
                if row % 3 == 0 {
                    i.message = format!("'{row}@x' is not a valid email");
                }
                i
            })
            .collect();
        let issues: Issues = all.iter().collect();
        assert_eq!(owned(&issues), all);
    }

    #[test]
    fn texts_past_a_page_go_to_the_next_and_come_back() {
        let mut issues = Issues {
            page_bytes: 40,
            ..Issues::default()
        };
        let all = shapes();
        for _ in 0..3 {
            issues.extend(&all);
        }
        assert!(issues.pages.len() > 5, "{} pages", issues.pages.len());
        let want: Vec<Issue> = (0..3).flat_map(|_| all.clone()).collect();
        assert_eq!(owned(&issues), want);
    }

    #[test]
    fn sorting_by_row_keeps_the_order_of_a_row_s_issues() {
        let rows = [5, 3, 5, 1, 3, 9];
        let all: Vec<Issue> = rows
            .iter()
            .enumerate()
            .map(|(n, &row)| Issue {
                message: format!("{n}"),
                ..issue(row, None, None, None)
            })
            .collect();
        let mut issues: Issues = all.iter().collect();
        assert_eq!(owned(&issues), all, "pushed order kept");
        let of_5: Vec<&str> = issues.of_row(5).map(|i| i.message).collect();
        assert_eq!(of_5, ["0", "2"], "found unsorted");
        issues.sort_by_row();
        let order: Vec<(u32, &str)> = issues.iter().map(|i| (i.row, i.message)).collect();
        assert_eq!(
            order,
            [(1, "3"), (3, "1"), (3, "4"), (5, "0"), (5, "2"), (9, "5")]
        );
        let of_3: Vec<&str> = issues.of_row(3).map(|i| i.message).collect();
        assert_eq!(of_3, ["1", "4"], "found sorted");
        assert_eq!(issues.of_row(4).count(), 0);
        assert_eq!(issues.of_row(10).count(), 0);
        assert_eq!(issues.of_row(0).count(), 0);
    }

    #[test]
    fn retain_keeps_order_and_equality_ignores_layout() {
        let all = shapes();
        let mut issues: Issues = all.iter().collect();
        issues.retain(|i| i.severity == Severity::Warning);
        let warnings: Vec<Issue> = all
            .iter()
            .filter(|i| i.severity == Severity::Warning)
            .cloned()
            .collect();
        assert_eq!(owned(&issues), warnings);
        // The same issues pushed into a store of small pages: laid out otherwise, still equal.
        let mut paged = Issues {
            page_bytes: 16,
            ..Issues::default()
        };
        paged.extend(&warnings);
        assert_eq!(paged, issues);
        paged.push(&all[0]);
        assert_ne!(paged, issues);
        let copied: Issues = issues.iter().collect();
        assert_eq!(copied, issues, "another store's views pushed");
    }

    #[test]
    fn lengths_round_trip_at_every_width() {
        for len in [0, 1, 63, 64, 4095, 4096, 262_143, 262_144, 1 << 30] {
            let mut page = String::from("xyz");
            write_len(&mut page, len);
            assert!(page.is_ascii());
            let text = "a".repeat(len.min(300_000));
            page.push_str(&text);
            if len <= 300_000 {
                assert_eq!(read(&page, 3).len(), len);
            } else {
                assert_eq!(
                    read(&page, 3),
                    "",
                    "a length past the page reads as nothing"
                );
            }
        }
    }

    #[test]
    fn a_cell_loses_its_row_only_when_it_ends_with_it() {
        assert_eq!(strip_row("B12", 12), Some("B"));
        assert_eq!(strip_row("B012", 12), Some("B0"));
        assert_eq!(strip_row("B12", 13), None);
        assert_eq!(strip_row("12", 12), Some(""));
        assert_eq!(strip_row("A0", 0), Some("A"));
        assert_eq!(strip_row("", 0), None);
        assert_eq!(strip_row("é7", 7), Some("é"));
    }

    #[test]
    fn left_out_counts_the_same_from_a_store_and_from_issues() {
        let all = shapes();
        let issues: Issues = all.iter().collect();
        assert_eq!(
            crate::payload::LeftOut::of(&issues, 20),
            crate::payload::LeftOut::of(&all, 20)
        );
    }
}
