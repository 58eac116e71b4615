//! The results file: one line per row, CSV or JSON, safe to open in a spreadsheet; and, for a
//! run that created organizations first, one line per organization in a file of its own beside
//! it (`report.organizations.csv`).
//!
//! Organizations are a file of their own, not lines among the rows: the users' report has one
//! line per spreadsheet row, whose counts add up to the file's rows and whose columns (row,
//! user id, email) an organization does not have; scripts and spreadsheets that read it stay
//! as they were. The organizations' file says what was created (name, id, how many users name
//! it) or why not, and a user skipped for its organization names it in its details.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{OrgOutcome, RowOutcome};

/// The report cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot write the report: {reason}")]
pub struct ReportError {
    pub path: String,
    pub reason: String,
}

/// A `--report` path that must not be written, found before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum ReportPathError {
    #[error(
        "--report {report} is the input file {input}: writing the report would overwrite the \
         spreadsheet; choose another path"
    )]
    IsInput { report: String, input: String },
    #[error("--report {0} already exists: pass --force to replace it, or choose another path")]
    Exists(String),
}

/// Whether `report` may be written for a run that reads `input`: never the input itself (the
/// same path after resolving links and `.`/`..`, or another name for the same file), and an
/// existing file only when `replace` (the operator's `--force` or answer).
pub fn check_path(report: &Path, input: &Path, replace: bool) -> Result<(), ReportPathError> {
    if same_file(report, input) {
        return Err(ReportPathError::IsInput {
            report: report.display().to_string(),
            input: input.display().to_string(),
        });
    }
    if !replace && report.exists() {
        return Err(ReportPathError::Exists(report.display().to_string()));
    }
    Ok(())
}

/// Same file: equal canonical paths, or (Unix) the same device and inode, as a hard link is.
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ca), Ok(cb)) = (a.canonicalize(), b.canonicalize()) else {
        return false;
    };
    if ca == cb {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    false
}

/// The columns of the CSV report.
pub const COLUMNS: [&str; 10] = [
    "row",
    "outcome",
    "user_id",
    "name",
    "email",
    "external_id",
    "error",
    "details",
    "matched_by",
    "sent_despite",
];

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, and the tab and carriage
/// return some spreadsheets also read so) gets a leading `'`, the OWASP advice for CSV
/// injection.
pub fn neutralise(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

/// `2, 3, 7` for a short list, `2-101 (100 rows)` for a batch.
pub fn row_list(rows: &[u32]) -> String {
    match rows {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if rows.len() > 3 => format!("{first}-{last} ({} rows)", rows.len()),
        _ => rows
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    /// JSON for a `.json` path, CSV for any other.
    pub fn of(path: &Path) -> Self {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Self::Json
        } else {
            Self::Csv
        }
    }
}

/// Writes the outcomes as CSV (`.csv`, or any other extension) or JSON (`.json`).
pub fn write(path: &Path, outcomes: &[RowOutcome]) -> Result<(), ReportError> {
    write_as(path, outcomes, Format::of(path))
}

/// Writes the outcomes to `path` in `format`, whatever its extension.
pub fn write_as(path: &Path, outcomes: &[RowOutcome], format: Format) -> Result<(), ReportError> {
    to_file(path, |out| write_to(out, outcomes, format))
}

/// Writes the outcomes to any writer (stdout for `zdimport report`).
pub fn write_to(
    out: &mut impl Write,
    outcomes: &[RowOutcome],
    format: Format,
) -> Result<(), String> {
    let feed =
        |put: &mut dyn FnMut(&RowOutcome) -> Result<(), String>| outcomes.iter().try_for_each(put);
    ROWS.write(out, feed, |o, csv| cells(o, csv).to_vec(), format)
}

/// The users' report's columns.
const ROWS: Table<'static> = Table {
    columns: &COLUMNS,
    numbers: &["row", "user_id"],
};

/// Writes every finished row of the run in folder `dir` to `path` in `format`, read from its
/// journal one row at a time: memory does not hold the run's outcomes.
pub fn write_run(path: &Path, dir: &Path, format: Format) -> Result<u64, ReportError> {
    let mut rows = 0;
    to_file(path, |out| {
        rows = write_run_to(out, dir, format)?;
        Ok(())
    })?;
    Ok(rows)
}

/// [`write_run`] to any writer (stdout for `zdimport report`); the rows written.
pub fn write_run_to(out: &mut impl Write, dir: &Path, format: Format) -> Result<u64, String> {
    let mut rows = 0;
    let feed = |put: &mut dyn FnMut(&RowOutcome) -> Result<(), String>| {
        super::journal::each_outcome(dir, |o| {
            rows += 1;
            put(&o).map_err(Fed::Write)
        })
        .map_err(|e| e.to_string())
    };
    ROWS.write(out, feed, |o, csv| cells(o, csv).to_vec(), format)?;
    Ok(rows)
}

/// Why feeding a report from a journal stopped.
#[derive(Debug, thiserror::Error)]
enum Fed {
    #[error(transparent)]
    Journal(#[from] super::JournalError),
    #[error("{0}")]
    Write(String),
}

/// The columns of the organizations' report.
pub const ORG_COLUMNS: [&str; 7] = [
    "name",
    "outcome",
    "organization_id",
    "users",
    "error",
    "details",
    "matched_by",
];

/// The organizations' report beside the users' one: `report.csv` → `report.organizations.csv`.
pub fn organizations_path(report: &Path) -> PathBuf {
    let stem = report
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
    let ext = report
        .extension()
        .map_or_else(|| "csv".into(), |e| e.to_string_lossy().into_owned());
    report.with_file_name(format!("{stem}.organizations.{ext}"))
}

/// Writes the organizations as CSV or JSON, by `path`'s extension as [`write`] does.
pub fn write_organizations(path: &Path, orgs: &[OrgOutcome]) -> Result<(), ReportError> {
    let format = Format::of(path);
    to_file(path, |out| write_organizations_to(out, orgs, format))
}

/// Writes the organizations to any writer (`zdimport report RUN --organizations`).
pub fn write_organizations_to(
    out: &mut impl Write,
    orgs: &[OrgOutcome],
    format: Format,
) -> Result<(), String> {
    let table = Table {
        columns: &ORG_COLUMNS,
        numbers: &["organization_id", "users"],
    };
    let feed =
        |put: &mut dyn FnMut(&OrgOutcome) -> Result<(), String>| orgs.iter().try_for_each(put);
    table.write(out, feed, org_cells, format)
}

fn org_cells(o: &OrgOutcome, csv: bool) -> Vec<String> {
    let text = |v: Option<&str>| {
        let shown = crate::text::visible(v.unwrap_or(""));
        if csv { neutralise(&shown) } else { shown }
    };
    vec![
        text(Some(&o.name)),
        o.outcome.as_str().to_owned(),
        o.id.map(|id| id.to_string()).unwrap_or_default(),
        o.users.to_string(),
        text(o.error.as_deref()),
        text(o.details.as_deref()),
        o.matched_by
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
    ]
}

/// The columns of the memberships' report (`report.memberships.csv`, issue 15 item 3).
pub const MEMBERSHIP_COLUMNS: [&str; 9] = [
    "row",
    "user_id",
    "organization",
    "organization_id",
    "outcome",
    "membership_id",
    "error",
    "details",
    "index",
];

/// The memberships' report beside the users' one: `report.csv` → `report.memberships.csv`.
pub fn memberships_path(report: &Path) -> PathBuf {
    let orgs = organizations_path(report);
    let name = orgs.file_name().map_or_else(String::new, |n| {
        n.to_string_lossy()
            .replacen(".organizations.", ".memberships.", 1)
    });
    report.with_file_name(name)
}

/// Writes the memberships of a run as CSV or JSON, by `path`'s extension.
pub fn write_memberships(
    path: &Path,
    members: &super::memberships::RunMemberships,
) -> Result<(), ReportError> {
    let format = Format::of(path);
    to_file(path, |out| write_memberships_to(out, members, format))
}

/// Writes the memberships of a run to any writer (`zdimport report RUN --memberships`), one
/// at a time as the run's plan is read.
pub fn write_memberships_to(
    out: &mut impl Write,
    members: &super::memberships::RunMemberships,
    format: Format,
) -> Result<(), String> {
    let table = Table {
        columns: &MEMBERSHIP_COLUMNS,
        numbers: &[
            "row",
            "user_id",
            "organization_id",
            "membership_id",
            "index",
        ],
    };
    let feed =
        |put: &mut dyn FnMut(&super::memberships::MembershipOutcome) -> Result<(), String>| {
            members
                .each(|o| put(&o).map_err(Fed::Write))
                .map_err(|e| e.to_string())
        };
    table.write(out, feed, membership_cells, format)
}

fn membership_cells(o: &super::memberships::MembershipOutcome, csv: bool) -> Vec<String> {
    let text = |v: Option<&str>| {
        let shown = crate::text::visible(v.unwrap_or(""));
        if csv { neutralise(&shown) } else { shown }
    };
    let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
    vec![
        o.row.to_string(),
        number(o.user_id),
        text(Some(&o.organization)),
        number(o.organization_id),
        o.end.as_str().to_owned(),
        number(o.id),
        text(o.error.as_deref()),
        text(o.details.as_deref()),
        o.index.to_string(),
    ]
}

fn to_file(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<(), String>,
) -> Result<(), ReportError> {
    let error = |reason: String| ReportError {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::create(path).map_err(|e| error(e.to_string()))?;
    let mut out = std::io::BufWriter::new(file);
    write(&mut out).map_err(error)?;
    out.flush().map_err(|e| error(e.to_string()))
}

/// Every column's text: terminal controls made visible (a report gets `cat`ed); for CSV, a
/// spreadsheet's formulas neutralised too.
fn cells(o: &RowOutcome, csv: bool) -> [String; 10] {
    let text = |v: &Option<String>| {
        let shown = crate::text::visible(v.as_deref().unwrap_or(""));
        if csv { neutralise(&shown) } else { shown }
    };
    [
        o.row.to_string(),
        o.outcome.as_str().to_owned(),
        o.user_id.map(|id| id.to_string()).unwrap_or_default(),
        text(&o.name),
        text(&o.email),
        text(&o.external_id),
        text(&o.error),
        text(&o.details),
        o.matched_by
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        text(&o.sent_despite),
    ]
}

/// A report's columns, and which hold numbers (JSON writes them as numbers, or null).
struct Table<'a> {
    columns: &'a [&'a str],
    numbers: &'a [&'a str],
}

impl Table<'_> {
    /// Writes the items `feed` hands out one by one (it calls its argument with each).
    fn write<T>(
        &self,
        out: &mut impl Write,
        feed: impl FnOnce(&mut dyn FnMut(&T) -> Result<(), String>) -> Result<(), String>,
        cells: impl Fn(&T, bool) -> Vec<String>,
        format: Format,
    ) -> Result<(), String> {
        match format {
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(self.columns).map_err(|e| e.to_string())?;
                feed(&mut |item| {
                    csv.write_record(cells(item, true))
                        .map_err(|e| e.to_string())
                })?;
                csv.flush().map_err(|e| e.to_string())
            }
            Format::Json => self.write_json(out, feed, cells),
        }
    }

    /// A JSON list of objects with the CSV's columns, written as the items come. Values are
    /// the data as they are (an external_id `-42` stays `-42`): formula safety belongs to
    /// spreadsheet cells, and a program reading JSON must get the identifiers it sent.
    fn write_json<T>(
        &self,
        out: &mut impl Write,
        feed: impl FnOnce(&mut dyn FnMut(&T) -> Result<(), String>) -> Result<(), String>,
        cells: impl Fn(&T, bool) -> Vec<String>,
    ) -> Result<(), String> {
        use serde::ser::{SerializeSeq as _, Serializer as _};
        let mut json = serde_json::Serializer::pretty(&mut *out);
        let mut list = json.serialize_seq(None).map_err(|e| e.to_string())?;
        feed(&mut |item| {
            let mut map = serde_json::Map::new();
            for (key, value) in self.columns.iter().zip(cells(item, false)) {
                let value = match value.parse::<u64>() {
                    Ok(n) if self.numbers.contains(key) => serde_json::json!(n),
                    _ if value.is_empty() => serde_json::Value::Null,
                    _ => serde_json::Value::String(value),
                };
                map.insert((*key).to_owned(), value);
            }
            list.serialize_element(&serde_json::Value::Object(map))
                .map_err(|e| e.to_string())
        })?;
        list.end().map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{MatchedBy, Outcome, UserKey};

    fn outcome() -> RowOutcome {
        let key = UserKey {
            name: Some("=HYPERLINK(\"http://x\")".into()),
            email: Some("a@example.com".into()),
            external_id: Some("-12".into()),
            ..Default::default()
        };
        let mut o = RowOutcome::new(7, Outcome::Failed, &key);
        o.error = Some("@SUM(A1)".into());
        o.details = Some("+1 555".into());
        o.matched_by = Some(MatchedBy::Email);
        o
    }

    #[test]
    fn formula_cells_are_neutralised_in_csv_and_json_keeps_the_values() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("r.csv");
        write(&csv_path, &[outcome()]).unwrap();
        let text = std::fs::read_to_string(&csv_path).unwrap();
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "7,failed,,\"'=HYPERLINK(\"\"http://x\"\")\",a@example.com,'-12,'@SUM(A1),'+1 555,email,"
        );
        let json_path = dir.path().join("r.json");
        write(&json_path, &[outcome()]).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        assert_eq!(value[0]["external_id"], "-12");
        assert_eq!(value[0]["name"], "=HYPERLINK(\"http://x\")");
        assert_eq!(value[0]["sent_despite"], serde_json::Value::Null);
        assert_eq!(value[0]["row"], 7);
        assert_eq!(value[0]["user_id"], serde_json::Value::Null);
    }

    #[test]
    fn terminal_controls_from_cells_and_servers_are_visible_in_csv_and_json() {
        let hostile = "\u{1b}]52;c;aGk=\u{7}Ana\u{202e}moc\u{9b}2J";
        let shown = "␛]52;c;aGk=␇Ana<U+202E>moc<U+009B>2J";
        let mut o = outcome();
        o.name = Some(hostile.into());
        o.details = Some(format!("server said: {hostile}\nline two"));
        let dir = tempfile::tempdir().unwrap();
        for file in ["r.csv", "r.json"] {
            let path = dir.path().join(file);
            write(&path, std::slice::from_ref(&o)).unwrap();
            let raw = std::fs::read_to_string(&path).unwrap();
            for c in ['\u{1b}', '\u{7}', '\u{202e}', '\u{9b}'] {
                assert!(!raw.contains(c), "{file}: {c:?} left raw");
            }
            assert!(raw.contains(shown), "{file}: {raw}");
        }
    }

    #[test]
    fn a_row_sent_despite_its_errors_says_so_and_stdout_gets_the_same_text() {
        let mut o = outcome();
        o.sent_despite = Some("E-mail: 'x' is not a valid email address".into());
        let mut csv = Vec::new();
        write_to(&mut csv, std::slice::from_ref(&o), Format::Csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .ends_with(",email,E-mail: 'x' is not a valid email address"),
            "{csv}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.txt");
        write_as(&path, &[o], Format::Json).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            value[0]["sent_despite"],
            "E-mail: 'x' is not a valid email address"
        );
    }

    #[test]
    fn row_lists_are_short() {
        assert_eq!(row_list(&[2, 3]), "2, 3");
        assert_eq!(row_list(&[2, 3, 4, 5]), "2-5 (4 rows)");
    }
}
