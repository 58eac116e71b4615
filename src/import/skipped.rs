//! The rows a run does not send (a row with an error, an unchanged row), each with its reason
//! and, when known, whom it names: lines of up to [`PER_LINE`] rows after the batch lines of
//! `plan.jsonl`, or of an unnamed scratch file beside a spool while a sheet streams. Memory
//! holds a few numbers per line, and a line's rows while they are used: a sheet of a million
//! errors costs a few hundred kilobytes, not a hundred megabytes.
//!
//! A line is `{"skipped":[[row,"reason"],…],"keys":{"place":{…}}}`, `keys` by place in the
//! line and left out when empty. Plans written before these lines hold every skipped row in
//! their head (`skipped`, `skipped_keys` by place among all the skipped rows): those are read
//! whole, as they always were, and written back as lines.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read as _, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::journal::{JournalError, PLAN_ADVICE, io};
use super::outbox::UserKey;

/// Skipped rows to a line (and read back at once): the engine journals them as many at a time.
pub(crate) const PER_LINE: usize = 1_000;

/// One skipped row of a plan: its index (after every sent row), sheet row, reason, and whom
/// it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SkippedRow {
    pub index: u64,
    pub row: u32,
    pub reason: String,
    pub key: Option<UserKey>,
}

/// A skipped line as written, borrowing its rows and keys (by place in the line).
#[derive(Serialize)]
struct LineRef<'a, K: Serialize> {
    skipped: &'a [(u32, String)],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    keys: &'a BTreeMap<usize, K>,
}

/// A skipped line read back.
#[derive(Deserialize)]
struct Line {
    skipped: Vec<(u32, String)>,
    #[serde(default)]
    keys: BTreeMap<usize, UserKey>,
}

/// A skipped line as [`super::OutboxFile::open`] meets it: how many rows, nothing kept.
#[derive(Deserialize)]
struct LineShape {
    skipped: Vec<IgnoredAny>,
}

/// Appends the line of `rows` (whose keys are by place in `rows`) to `line`.
fn encode<K: Serialize>(
    line: &mut Vec<u8>,
    rows: &[(u32, String)],
    keys: &BTreeMap<usize, K>,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(
        &mut *line,
        &LineRef {
            skipped: rows,
            keys,
        },
    )?;
    line.push(b'\n');
    Ok(())
}

/// Where one skipped line is in its file, and which rows it holds.
#[derive(Debug, Clone, Copy)]
struct LineAt {
    offset: u64,
    len: usize,
    /// The place of its first row among the skipped rows.
    first: usize,
    count: usize,
    /// Its line number in the file (from 1), for what an error says.
    number: usize,
}

/// The skipped lines of a file, read one at a time as asked.
#[derive(Debug)]
pub(crate) struct Lines {
    /// The file named in errors: the plan, or the spool the scratch file is beside.
    path: PathBuf,
    file: Mutex<File>,
    at: Vec<LineAt>,
    rows: usize,
}

/// The skipped lines met while a plan is opened, before its file is opened again to read them.
#[derive(Debug, Default)]
pub(crate) struct Found {
    at: Vec<LineAt>,
    rows: usize,
}

impl Found {
    /// Line `number` of the plan, `len` bytes at `offset`: a skipped line, counted.
    pub(crate) fn line(
        &mut self,
        (offset, len, number): (u64, usize, usize),
        text: &[u8],
    ) -> Result<(), serde_json::Error> {
        let shape: LineShape = serde_json::from_slice(text)?;
        let count = shape.skipped.len();
        self.at.push(LineAt {
            offset,
            len,
            first: self.rows,
            count,
            number,
        });
        self.rows += count;
        Ok(())
    }

    pub(crate) fn lines(&self) -> usize {
        self.at.len()
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The lines found, read from the plan at `path` (opened again: batches are read through
    /// the other handle).
    pub(crate) fn open(self, path: &Path) -> Result<Lines, JournalError> {
        let file = File::open(path).map_err(io(path, "cannot read"))?;
        Ok(Lines {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            at: self.at,
            rows: self.rows,
        })
    }
}

impl Lines {
    /// Line `piece`'s rows, keys by place in the line.
    fn read(&self, piece: usize) -> Result<(usize, Line), JournalError> {
        let corrupt = |line, reason| JournalError::Corrupt {
            path: self.path.clone(),
            line,
            reason,
            advice: PLAN_ADVICE,
        };
        let at = self
            .at
            .get(piece)
            .ok_or_else(|| corrupt(0, format!("no skipped line {piece}")))?;
        let mut text = vec![0; at.len];
        {
            let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
            file.seek(SeekFrom::Start(at.offset))
                .and_then(|_| file.read_exact(&mut text))
                .map_err(io(&self.path, "cannot read the skipped rows"))?;
        }
        let line: Line = serde_json::from_slice(&text)
            .map_err(|e| corrupt(at.number, format!("skipped rows: {e}")))?;
        if line.skipped.len() != at.count {
            let reason = format!(
                "a skipped line holds {} rows, {} when the plan was opened",
                line.skipped.len(),
                at.count
            );
            return Err(corrupt(at.number, reason));
        }
        Ok((at.first, line))
    }

    /// Copies every line to `out` (the file at `to`) as it is, without reading it into memory.
    fn copy_to(&self, out: &mut impl Write, to: &Path) -> Result<(), JournalError> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let spans = self.at.iter().map(|at| (at.offset, at.len));
        super::outbox_file::copy_lines(&mut file, &self.path, spans, (out, to))
    }
}

/// A plan's skipped rows: in lines of a file, or in memory (a plan written before the lines,
/// and an outbox with fewer than a line of them).
#[derive(Debug)]
pub(crate) enum Skipped {
    Held {
        rows: Vec<(u32, String)>,
        /// Whom rows name, by place in `rows`.
        keys: BTreeMap<usize, UserKey>,
    },
    Lines(Lines),
}

impl Default for Skipped {
    fn default() -> Self {
        Self::Held {
            rows: Vec::new(),
            keys: BTreeMap::new(),
        }
    }
}

impl Skipped {
    /// Rows skipped.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Held { rows, .. } => rows.len(),
            Self::Lines(lines) => lines.rows,
        }
    }

    /// Pieces the rows are read in, each a line as written: at most [`PER_LINE`] rows each.
    pub(crate) fn pieces(&self) -> usize {
        match self {
            Self::Held { rows, .. } => rows.len().div_ceil(PER_LINE),
            Self::Lines(lines) => lines.at.len(),
        }
    }

    /// Piece `piece`'s rows, indexed from `first_index` (the rows sent).
    pub(crate) fn piece(
        &self,
        piece: usize,
        first_index: u64,
    ) -> Result<Vec<SkippedRow>, JournalError> {
        let (first, rows, mut keys) = match self {
            Self::Held { rows, keys } => {
                let start = (piece * PER_LINE).min(rows.len());
                let end = (start + PER_LINE).min(rows.len());
                let keys = shifted(keys, start..end).map(|(p, k)| (p, k.clone()));
                (start, rows[start..end].to_vec(), keys.collect())
            }
            Self::Lines(lines) => {
                let (first, line) = lines.read(piece)?;
                (first, line.skipped, line.keys)
            }
        };
        let index = |place: usize| first_index + (first + place) as u64;
        let rows = rows
            .into_iter()
            .enumerate()
            .map(|(place, (row, reason))| SkippedRow {
                index: index(place),
                row,
                reason,
                key: keys.remove(&place),
            });
        Ok(rows.collect())
    }

    /// Writes the rows as lines to `out` (the file at `to`): lines copied as they are, rows
    /// held encoded [`PER_LINE`] to a line. As many lines as [`Skipped::pieces`].
    pub(crate) fn write_lines(&self, out: &mut impl Write, to: &Path) -> Result<(), JournalError> {
        match self {
            Self::Held { rows, keys } => write_held(out, to, rows, keys),
            Self::Lines(lines) => lines.copy_to(out, to),
        }
    }
}

/// The keys of places `range`, by place in the range.
fn shifted(
    keys: &BTreeMap<usize, UserKey>,
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = (usize, &UserKey)> {
    let start = range.start;
    keys.range(range).map(move |(p, k)| (p - start, k))
}

/// Writes `rows` (keys by place in `rows`) to `out` (the file at `to`), [`PER_LINE`] to a
/// line: `rows.len().div_ceil(PER_LINE)` lines.
pub(crate) fn write_held(
    out: &mut impl Write,
    to: &Path,
    rows: &[(u32, String)],
    keys: &BTreeMap<usize, UserKey>,
) -> Result<(), JournalError> {
    let mut line = Vec::new();
    for (n, chunk) in rows.chunks(PER_LINE).enumerate() {
        let start = n * PER_LINE;
        let keys: BTreeMap<usize, &UserKey> = shifted(keys, start..start + chunk.len()).collect();
        line.clear();
        encode(&mut line, chunk, &keys).map_err(|e| JournalError::Io {
            path: to.to_path_buf(),
            action: "cannot write the skipped rows",
            source: e.into(),
        })?;
        out.write_all(&line)
            .map_err(io(to, "cannot write the skipped rows"))?;
    }
    Ok(())
}

/// Skipped rows written a line at a time, as they come, to an unnamed scratch file in a
/// spool's folder (made at the first full line, gone with its handle however the process
/// ends); fewer than a line are kept in memory.
pub(crate) struct Writer {
    dir: PathBuf,
    /// The spool the rows are beside, named in errors.
    path: PathBuf,
    out: Option<BufWriter<File>>,
    written: u64,
    at: Vec<LineAt>,
    rows: usize,
    /// The rows of the line being filled, and whom they name by place in it.
    line_rows: Vec<(u32, String)>,
    line_keys: BTreeMap<usize, UserKey>,
    line: Vec<u8>,
}

impl Writer {
    /// A writer whose scratch file, if it needs one, is made in `dir`, beside the spool `path`.
    pub(crate) fn new(dir: &Path, path: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            path: path.to_path_buf(),
            out: None,
            written: 0,
            at: Vec::new(),
            rows: 0,
            line_rows: Vec::new(),
            line_keys: BTreeMap::new(),
            line: Vec::new(),
        }
    }

    /// A new writer to the same folder, beside the same spool.
    pub(crate) fn another(&self) -> Self {
        Self::new(&self.dir, &self.path)
    }

    /// Skips `row` for `reason`, naming `key` when given.
    pub(crate) fn push(
        &mut self,
        row: u32,
        reason: String,
        key: Option<UserKey>,
    ) -> Result<(), JournalError> {
        if let Some(key) = key {
            self.line_keys.insert(self.line_rows.len(), key);
        }
        self.line_rows.push((row, reason));
        if self.line_rows.len() >= PER_LINE {
            self.write_line()?;
        }
        Ok(())
    }

    /// Writes the line being filled to the scratch file (made now if it is the first).
    fn write_line(&mut self) -> Result<(), JournalError> {
        let action = "cannot write the skipped rows beside the outbox spool";
        self.line.clear();
        encode(&mut self.line, &self.line_rows, &self.line_keys).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            action,
            source: e.into(),
        })?;
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                let file = tempfile::tempfile_in(&self.dir).map_err(io(&self.path, action))?;
                self.out.insert(BufWriter::new(file))
            }
        };
        out.write_all(&self.line).map_err(io(&self.path, action))?;
        let count = self.line_rows.len();
        self.at.push(LineAt {
            offset: self.written,
            len: self.line.len(),
            first: self.rows,
            count,
            number: self.at.len() + 1,
        });
        self.written += self.line.len() as u64;
        self.rows += count;
        self.line_rows.clear();
        self.line_keys.clear();
        Ok(())
    }

    /// The rows skipped: in memory when they are fewer than a line, else in the scratch file.
    pub(crate) fn finish(mut self) -> Result<Skipped, JournalError> {
        if self.out.is_some() && !self.line_rows.is_empty() {
            self.write_line()?;
        }
        let Some(out) = self.out.take() else {
            return Ok(Skipped::Held {
                rows: self.line_rows,
                keys: self.line_keys,
            });
        };
        let file = out
            .into_inner()
            .map_err(|e| io(&self.path, "cannot write the skipped rows")(e.into_error()))?;
        Ok(Skipped::Lines(Lines {
            path: self.path,
            file: Mutex::new(file),
            at: self.at,
            rows: self.rows,
        }))
    }
}

/// `skipped` and `more` (sorted by row) as one list sorted by row, written to a new
/// [`Writer`]: a row of `skipped` comes before a row of `more` with the same number. Read and
/// written a line at a time.
pub(crate) fn merge(
    skipped: &Skipped,
    more: impl IntoIterator<Item = (u32, String)>,
    mut to: Writer,
) -> Result<Skipped, JournalError> {
    let mut more = more.into_iter().peekable();
    for piece in 0..skipped.pieces() {
        for s in skipped.piece(piece, 0)? {
            while let Some((row, reason)) = more.next_if(|(row, _)| *row < s.row) {
                to.push(row, reason, None)?;
            }
            to.push(s.row, s.reason, s.key)?;
        }
    }
    for (row, reason) in more {
        to.push(row, reason, None)?;
    }
    to.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> UserKey {
        UserKey {
            email: Some(format!("u{n}@x")),
            ..UserKey::default()
        }
    }

    /// Every row of `skipped`, read piece by piece.
    fn all(skipped: &Skipped) -> Vec<SkippedRow> {
        (0..skipped.pieces())
            .flat_map(|p| skipped.piece(p, 10).unwrap())
            .collect()
    }

    /// Rows pushed one by one come back in order with their keys and indexes, from memory
    /// under a line and from the scratch file past it, the same as the rows held whole.
    #[test]
    fn rows_written_a_line_at_a_time_read_back_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        for total in [0, 3, PER_LINE, 2 * PER_LINE + 7] {
            let mut writer = Writer::new(tmp.path(), &tmp.path().join("spool"));
            let mut held = (Vec::new(), BTreeMap::new());
            for n in 0..total {
                let named = (n % 3 == 0).then(|| key(n));
                let row = u32::try_from(n).unwrap() + 2;
                writer.push(row, format!("r{n}"), named.clone()).unwrap();
                held.0.push((row, format!("r{n}")));
                if let Some(k) = named {
                    held.1.insert(n, k);
                }
            }
            let skipped = writer.finish().unwrap();
            assert_eq!(
                matches!(skipped, Skipped::Lines(_)),
                total >= PER_LINE,
                "{total}"
            );
            assert_eq!(
                (skipped.len(), skipped.pieces()),
                (total, total.div_ceil(PER_LINE))
            );
            let read = all(&skipped);
            let whole = Skipped::Held {
                rows: held.0,
                keys: held.1,
            };
            assert_eq!(read, all(&whole), "{total}");
            for (n, r) in read.iter().enumerate() {
                assert_eq!((r.index, r.row), (10 + n as u64, n as u32 + 2));
                assert_eq!(r.key, (n % 3 == 0).then(|| key(n)));
            }
        }
    }

    /// Rows held back (`--invalid include`, never sent) go among the others by row number.
    #[test]
    fn merged_rows_are_sorted_by_row() {
        let tmp = tempfile::tempdir().unwrap();
        let mut writer = Writer::new(tmp.path(), &tmp.path().join("spool"));
        for row in (0..3000).step_by(3) {
            writer.push(row, "skipped".into(), Some(key(0))).unwrap();
        }
        let skipped = writer.finish().unwrap();
        let more = [
            (1, "held".to_owned()),
            (3, "held".into()),
            (5000, "held".into()),
        ];
        let to = Writer::new(tmp.path(), &tmp.path().join("spool"));
        let merged = all(&merge(&skipped, more, to).unwrap());
        let rows: Vec<(u32, &str)> = merged.iter().map(|r| (r.row, r.reason.as_str())).collect();
        assert_eq!(rows.len(), 1003);
        assert_eq!(
            rows[..5],
            [
                (0, "skipped"),
                (1, "held"),
                (3, "skipped"),
                (3, "held"),
                (6, "skipped")
            ]
        );
        assert_eq!(rows[1002], (5000, "held"));
        assert!(merged[3].key.is_none() && merged[2].key.is_some());
    }
}
