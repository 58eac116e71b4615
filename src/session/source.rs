//! Where the rows come from: a worksheet opened, a sheet previewed, its table loaded with
//! progress and a way to stop; the files opened lately; the runs that can be resumed.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

pub use crate::error::SheetError;
pub use crate::sheet::formats::ZeroPadded;
pub use crate::sheet::header::column_letter;
pub use crate::sheet::{
    Cell, Format, HeaderChoice, Row, SheetInfo, SheetKind, Table, TableLayout, Visibility, Workbook,
};

use crate::import::RunListing;

/// A worksheet file, open.
pub struct Opened {
    pub workbook: Workbook,
    /// What decoding a text file found, each with its row and byte: `row 3, byte 120: …`.
    pub notes: Vec<String>,
}

/// Opens a worksheet file and remembers it among the recent files.
pub fn open(path: &Path) -> Result<Opened, SheetError> {
    let workbook = Workbook::open(path)?;
    remember(path);
    let notes = workbook.delimited().map_or_else(Vec::new, |text| {
        text.notes
            .iter()
            .map(|n| format!("row {}, byte {}: {}", n.row, n.byte, n.message))
            .collect()
    });
    Ok(Opened { workbook, notes })
}

/// The first rows of a sheet as they are, and the header row automatic detection picks.
pub struct Preview {
    pub rows: Vec<Row>,
    pub header_row: Option<u32>,
}

/// The first `rows` non-blank rows of `sheet`.
pub fn preview(workbook: &mut Workbook, sheet: usize, rows: usize) -> Result<Preview, SheetError> {
    let first = workbook.preview(sheet, rows)?;
    let header_row = workbook
        .read_table(sheet, HeaderChoice::Auto, |_, _| ControlFlow::Break(()))
        .ok()
        .map(|(layout, _)| layout.header_row);
    Ok(Preview {
        rows: first,
        header_row,
    })
}

/// How far a load has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub rows: u64,
    /// Of a text file: its bytes read, of its size (a workbook cannot say).
    pub percent: Option<u8>,
}

/// Loads the table of `sheet` with its header at `header`. `progress` hears every `every`
/// rows; `stop` is asked after each row, and a load it stops answers `Ok(None)`.
pub fn load(
    workbook: &mut Workbook,
    (sheet, header): (usize, HeaderChoice),
    every: u64,
    mut progress: impl FnMut(Progress),
    stop: impl Fn() -> bool,
) -> Result<Option<Table>, SheetError> {
    // A text file is read as it streams: how far is its bytes read of its size.
    let bytes = workbook.read_progress();
    let percent = move || {
        bytes
            .as_ref()
            .filter(|p| p.total > 0)
            .map(|p| u8::try_from((p.read().min(p.total) * 100) / p.total).unwrap_or(100))
    };
    let every = every.max(1);
    let result = workbook.load_table_with(sheet, header, |rows| {
        let n = rows as u64;
        if n % every == 0 {
            progress(Progress {
                rows: n,
                percent: percent(),
            });
        }
        if stop() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if stop() {
        return Ok(None);
    }
    let (table, stopped) = result?;
    Ok((!stopped).then_some(table))
}

/// Excel sheets read their first rows once more with their number formats: this many.
const FORMAT_ROWS: u32 = 1000;

/// The columns of a loaded table whose whole numbers Excel shows with leading zeros the file
/// does not hold (a ZIP code formatted `00000`), from its first rows.
pub fn zero_padded(workbook: &mut Workbook, layout: &TableLayout) -> Vec<ZeroPadded> {
    workbook.zero_padded(layout, FORMAT_ROWS)
}

/// The sheet named `name` of `workbook`, or an error naming the file and the sheet.
pub fn sheet_named(workbook: &Workbook, path: &Path, name: &str) -> Result<usize, String> {
    workbook
        .sheets()
        .iter()
        .position(|s| s.name == name)
        .ok_or_else(|| {
            format!(
                "{}: the sheet '{name}' is not in the file any more",
                path.display()
            )
        })
}

/// Interrupted runs that can go on from here, newest first (at most `n`); runs made against
/// an in-process sandbox are not among them (it ended with its process).
pub fn resumable_runs(n: usize) -> Vec<RunListing> {
    let mut listed: Vec<RunListing> = crate::session::run::list()
        .into_iter()
        .filter(|r| !r.complete && !r.info.sandbox)
        .collect();
    listed.reverse();
    listed.truncate(n);
    listed
}

/// How many recent files are kept.
const RECENT: usize = 8;

/// Recently opened files, newest first (kept in the data dir).
pub fn recent_files() -> Vec<PathBuf> {
    recent_path().map_or_else(Vec::new, |path| read_recent(&path))
}

fn read_recent(path: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(PathBuf::from)
        .collect()
}

fn remember(file: &Path) {
    if let Some(path) = recent_path() {
        remember_in(&path, file);
    }
}

/// Puts `file` first in the list kept at `path`; a failure to write only loses the list.
fn remember_in(path: &Path, file: &Path) {
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mut list: Vec<PathBuf> = read_recent(path)
        .into_iter()
        .filter(|p| *p != file)
        .collect();
    list.insert(0, file);
    list.truncate(RECENT);
    let text: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, text);
}

fn recent_path() -> Option<PathBuf> {
    crate::paths::data_dir().map(|d| d.join("recent.txt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_files_put_the_latest_first_once_and_keep_eight() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("state/recent.txt");
        for i in 0..10 {
            remember_in(&list, &dir.path().join(format!("f{i}.csv")));
        }
        remember_in(&list, &dir.path().join("f5.csv"));
        let names: Vec<String> = read_recent(&list)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "f5.csv", "f9.csv", "f8.csv", "f7.csv", "f6.csv", "f4.csv", "f3.csv", "f2.csv"
            ]
        );
    }

    #[test]
    fn a_load_reports_progress_and_can_be_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.csv");
        let mut text = String::from("name,email\n");
        for i in 0..250 {
            text.push_str(&format!("U{i},u{i}@x.com\n"));
        }
        std::fs::write(&path, text).unwrap();
        let mut wb = Workbook::open(&path).unwrap();
        let mut seen = Vec::new();
        let table = load(
            &mut wb,
            (0, HeaderChoice::Auto),
            100,
            |p| seen.push(p),
            || false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(table.len(), 250);
        assert_eq!(seen.iter().map(|p| p.rows).collect::<Vec<_>>(), [100, 200]);
        assert!(seen.iter().all(|p| p.percent.is_some_and(|n| n <= 100)));
        let mut wb = Workbook::open(&path).unwrap();
        let stopped = load(&mut wb, (0, HeaderChoice::Auto), 100, |_| {}, || true).unwrap();
        assert!(stopped.is_none());
    }
}
