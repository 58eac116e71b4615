//! The results file: one line per row, CSV or JSON, safe to open in a spreadsheet.

use std::io::Write;
use std::path::Path;

use super::RowOutcome;

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
pub const COLUMNS: [&str; 9] = [
    "row",
    "outcome",
    "user_id",
    "name",
    "email",
    "external_id",
    "error",
    "details",
    "matched_by",
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

/// Writes the outcomes as CSV (`.csv`, or any other extension) or JSON (`.json`).
pub fn write(path: &Path, outcomes: &[RowOutcome]) -> Result<(), ReportError> {
    let error = |reason: String| ReportError {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::create(path).map_err(|e| error(e.to_string()))?;
    let mut out = std::io::BufWriter::new(file);
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if json {
        write_json(&mut out, outcomes).map_err(error)?;
    } else {
        write_csv(&mut out, outcomes).map_err(error)?;
    }
    out.flush().map_err(|e| error(e.to_string()))
}

fn cells(o: &RowOutcome) -> [String; 9] {
    // Terminal controls made visible first (a report gets `cat`ed), then formulas neutralised.
    let text = |v: &Option<String>| neutralise(&crate::text::visible(v.as_deref().unwrap_or("")));
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
    ]
}

fn write_csv(out: &mut impl Write, outcomes: &[RowOutcome]) -> Result<(), String> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(COLUMNS).map_err(|e| e.to_string())?;
    for o in outcomes {
        csv.write_record(cells(o)).map_err(|e| e.to_string())?;
    }
    csv.flush().map_err(|e| e.to_string())
}

/// A JSON list of objects with the CSV's columns; text neutralised the same way, since JSON
/// reports get pasted into spreadsheets too.
fn write_json(out: &mut impl Write, outcomes: &[RowOutcome]) -> Result<(), String> {
    let list: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let cells = cells(o);
            let mut map = serde_json::Map::new();
            for (key, value) in COLUMNS.iter().zip(cells) {
                let value = match *key {
                    "row" => serde_json::json!(o.row),
                    "user_id" => serde_json::json!(o.user_id),
                    _ if value.is_empty() => serde_json::Value::Null,
                    _ => serde_json::Value::String(value),
                };
                map.insert((*key).to_owned(), value);
            }
            serde_json::Value::Object(map)
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &list).map_err(|e| e.to_string())?;
    out.write_all(b"\n").map_err(|e| e.to_string())
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
    fn formula_cells_are_neutralised_in_csv_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("r.csv");
        write(&csv_path, &[outcome()]).unwrap();
        let text = std::fs::read_to_string(&csv_path).unwrap();
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "7,failed,,\"'=HYPERLINK(\"\"http://x\"\")\",a@example.com,'-12,'@SUM(A1),'+1 555,email"
        );
        let json_path = dir.path().join("r.json");
        write(&json_path, &[outcome()]).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        assert_eq!(value[0]["external_id"], "'-12");
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
    fn row_lists_are_short() {
        assert_eq!(row_list(&[2, 3]), "2, 3");
        assert_eq!(row_list(&[2, 3, 4, 5]), "2-5 (4 rows)");
    }
}
