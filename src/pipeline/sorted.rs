//! A check's issues handed back in sheet order without holding them all (`validate`): issues
//! come in row order, except a duplicate's warning, which lands on its earlier row when the
//! later one is checked.
//!
//! Up to [`RUN`] issues are held; past that, each run of them is sorted and written to one
//! temporary file (unnamed, in the data directory; bytes of this process's own, see
//! [`encode`]), and the runs are merged as they are read back, a buffer of each at a time. A
//! sheet whose every row has a problem costs a run's issues in memory, not all of them (a
//! million took 245 MB).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::PathBuf;

use crate::payload::{Issue, Severity};

/// Issues held before a run is written.
const RUN: usize = 20_000;
/// Bytes of a run read back at a time.
const CHUNK: usize = 32 * 1024;

/// Issues pushed in any order, read back sorted by row; issues of one row keep the order
/// they were pushed in (as a stable sort of them all leaves them).
pub struct SortedIssues {
    held: Vec<Issue>,
    run: usize,
    dir: PathBuf,
    file: Option<BufWriter<File>>,
    /// Where each run written lies in the file, in the order written.
    runs: Vec<Range<u64>>,
    written: u64,
}

impl Default for SortedIssues {
    /// Runs are written in the data directory (the system's temporary one without it).
    fn default() -> SortedIssues {
        let dir = crate::paths::data_dir().unwrap_or_else(std::env::temp_dir);
        SortedIssues::with_run(dir, RUN)
    }
}

impl SortedIssues {
    fn with_run(dir: PathBuf, run: usize) -> SortedIssues {
        SortedIssues {
            held: Vec::new(),
            run: run.max(1),
            dir,
            file: None,
            runs: Vec::new(),
            written: 0,
        }
    }

    /// Where runs are written.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub fn push(&mut self, issue: Issue) -> io::Result<()> {
        self.held.push(issue);
        if self.held.len() >= self.run {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the issues held as a run, sorted.
    fn spill(&mut self) -> io::Result<()> {
        self.held.sort_by_key(|issue| issue.row);
        let file = super::spool::scratch(&mut self.file, &self.dir)?;
        let start = self.written;
        let mut bytes = Vec::new();
        for issue in self.held.drain(..) {
            bytes.clear();
            encode(&issue, &mut bytes)?;
            file.write_all(&bytes)?;
            self.written += bytes.len() as u64;
        }
        self.runs.push(start..self.written);
        Ok(())
    }

    /// Every issue pushed, by row.
    pub fn into_sorted(mut self) -> io::Result<Sorted> {
        self.held.sort_by_key(|issue| issue.row);
        let file = match self.file.take() {
            Some(file) => Some(file.into_inner().map_err(io::IntoInnerError::into_error)?),
            None => None,
        };
        let mut runs: Vec<Run> = self.runs.into_iter().map(Run::File).collect();
        // The issues held are the last run.
        runs.push(Run::Held(self.held.into_iter()));
        let mut sorted = Sorted {
            file,
            heads: Vec::with_capacity(runs.len()),
            buffers: runs.iter().map(|_| RunBuffer::default()).collect(),
            runs,
            order: BinaryHeap::new(),
        };
        for i in 0..sorted.runs.len() {
            let head = sorted.read(i)?;
            if let Some(issue) = &head {
                sorted.order.push(Reverse((issue.row, i)));
            }
            sorted.heads.push(head);
        }
        Ok(sorted)
    }
}

enum Run {
    /// A run's bytes in the file, from where reading has got.
    File(Range<u64>),
    Held(std::vec::IntoIter<Issue>),
}

/// A run's bytes read from the file and not yet parsed.
#[derive(Default)]
struct RunBuffer {
    bytes: Vec<u8>,
    at: usize,
}

/// The issues of [`SortedIssues::into_sorted`], by row: each run's next issue, the smallest
/// row first and, on a tie, the run written first.
pub struct Sorted {
    file: Option<File>,
    runs: Vec<Run>,
    buffers: Vec<RunBuffer>,
    heads: Vec<Option<Issue>>,
    order: BinaryHeap<Reverse<(u32, usize)>>,
}

impl Sorted {
    /// Run `i`'s next issue.
    fn read(&mut self, i: usize) -> io::Result<Option<Issue>> {
        let buffer = &mut self.buffers[i];
        let range = match &mut self.runs[i] {
            Run::Held(issues) => return Ok(issues.next()),
            Run::File(range) => range,
        };
        loop {
            let rest = &buffer.bytes[buffer.at..];
            if let Some((issue, len)) = decode(rest)? {
                buffer.at += len;
                return Ok(Some(issue));
            }
            if range.is_empty() {
                return match rest.is_empty() {
                    true => Ok(None),
                    false => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "a run of issues ends inside an issue",
                    )),
                };
            }
            // The rest of the issue, and the next chunk after it.
            buffer.bytes.drain(..buffer.at);
            buffer.at = 0;
            let file = self
                .file
                .as_mut()
                .ok_or_else(|| io::Error::other("a run of issues without its file"))?;
            let want = (range.end - range.start).min(CHUNK as u64);
            file.seek(SeekFrom::Start(range.start))?;
            let from = buffer.bytes.len();
            // `want` is at most CHUNK.
            buffer
                .bytes
                .resize(from + usize::try_from(want).unwrap_or(CHUNK), 0);
            file.read_exact(&mut buffer.bytes[from..])?;
            range.start += want;
        }
    }
}

/// Flags of an issue's bytes: which fields it has.
const INCLUDABLE: u8 = 1;
const ERROR: u8 = 2;
const COLUMN: u8 = 4;
const CELL: u8 = 8;
const VALUE: u8 = 16;

/// Appends an issue's bytes ([`decode`] reads them): their length (4 bytes), the row (4), the
/// flags, then each text present (column, cell, value, message) as its length (4) and bytes.
/// (JSON lines took a million issues from 3.9 s to 6.7 s in one run of each, a noisy machine.)
fn encode(issue: &Issue, out: &mut Vec<u8>) -> io::Result<()> {
    let long = |_| io::Error::other("a problem's text over 4 GiB");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&issue.row.to_le_bytes());
    let mut flags = 0;
    for (on, flag) in [
        (issue.includable, INCLUDABLE),
        (issue.severity == Severity::Error, ERROR),
        (issue.column.is_some(), COLUMN),
        (issue.cell.is_some(), CELL),
        (issue.value.is_some(), VALUE),
    ] {
        if on {
            flags |= flag;
        }
    }
    out.push(flags);
    let texts = [&issue.column, &issue.cell, &issue.value];
    let texts = texts.into_iter().flatten().chain([&issue.message]);
    for text in texts {
        out.extend_from_slice(&u32::try_from(text.len()).map_err(long)?.to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    let len = u32::try_from(out.len()).map_err(long)?;
    out[..4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// The issue whose bytes start `bytes`, and their length; `None` when they are not all there.
fn decode(bytes: &[u8]) -> io::Result<Option<(Issue, usize)>> {
    let broken = || io::Error::new(io::ErrorKind::InvalidData, "a run of issues is damaged");
    let Some(len) = u32_at(bytes, 0) else {
        return Ok(None);
    };
    let len = len as usize;
    if bytes.len() < len {
        return Ok(None);
    }
    let bytes = &bytes[..len];
    let row = u32_at(bytes, 4).ok_or_else(broken)?;
    let flags = *bytes.get(8).ok_or_else(broken)?;
    let mut at = 9;
    let mut text = |present: bool| -> io::Result<Option<String>> {
        if !present {
            return Ok(None);
        }
        let n = u32_at(bytes, at).ok_or_else(broken)? as usize;
        let raw = bytes.get(at + 4..at + 4 + n).ok_or_else(broken)?;
        at += 4 + n;
        let text = std::str::from_utf8(raw).map_err(|_| broken())?;
        Ok(Some(text.to_owned()))
    };
    let column = text(flags & COLUMN != 0)?;
    let cell = text(flags & CELL != 0)?;
    let value = text(flags & VALUE != 0)?;
    let message = text(true)?.unwrap_or_default();
    let issue = Issue {
        row,
        column,
        cell,
        value,
        severity: match flags & ERROR {
            0 => Severity::Warning,
            _ => Severity::Error,
        },
        message,
        includable: flags & INCLUDABLE != 0,
    };
    Ok(Some((issue, len)))
}

/// The four bytes at `at`, a little-endian number.
fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let four = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([four[0], four[1], four[2], four[3]]))
}

impl Iterator for Sorted {
    type Item = io::Result<Issue>;

    fn next(&mut self) -> Option<io::Result<Issue>> {
        let Reverse((_, i)) = self.order.pop()?;
        let issue = self.heads[i].take()?;
        match self.read(i) {
            Ok(next) => {
                if let Some(next) = &next {
                    self.order.push(Reverse((next.row, i)));
                }
                self.heads[i] = next;
                Some(Ok(issue))
            }
            Err(e) => {
                // Nothing after a run that cannot be read is in order: stop there.
                self.order.clear();
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Severity;

    fn issue(row: u32, n: usize) -> Issue {
        Issue {
            row,
            column: (n % 3 != 0).then(|| format!("Column {n}")),
            cell: (n % 2 == 0).then(|| format!("B{row}")),
            value: (n % 5 != 0).then(|| format!("value \"{n}\"\nwith a line break, é")),
            severity: match n % 2 {
                0 => Severity::Warning,
                _ => Severity::Error,
            },
            message: format!("message {n}"),
            includable: n % 7 == 0,
        }
    }

    /// Issues in row order, with late ones on earlier rows (duplicate warnings), read back
    /// as a stable sort of them all leaves them: held in memory, in runs of every length
    /// (one issue, a run across lines of any length), and nothing at all.
    #[test]
    fn issues_come_back_as_a_stable_sort_leaves_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut pushed = Vec::new();
        for n in 0..1000 {
            let row = 2 + u32::try_from(n).unwrap() / 2;
            pushed.push(issue(row, n));
            if n % 9 == 0 {
                // A duplicate found on this row warns an earlier one.
                pushed.push(issue(row / 3 + 2, n + 1000));
            }
        }
        let mut expected = pushed.clone();
        expected.sort_by_key(|i| i.row);
        for run in [1, 2, 7, 100, 1111, RUN] {
            let mut sorted = SortedIssues::with_run(dir.path().join("data"), run);
            for issue in &pushed {
                sorted.push(issue.clone()).unwrap();
            }
            let spilled = !sorted.runs.is_empty();
            assert_eq!(spilled, run < pushed.len(), "run {run}");
            let back: Vec<Issue> = sorted.into_sorted().unwrap().map(Result::unwrap).collect();
            assert_eq!(back, expected, "run {run}");
        }
        let none = SortedIssues::with_run(dir.path().to_owned(), 3);
        assert_eq!(none.into_sorted().unwrap().count(), 0);
    }

    /// An issue longer than a chunk is read across chunks.
    #[test]
    fn an_issue_longer_than_a_chunk_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorted = SortedIssues::with_run(dir.path().to_owned(), 2);
        let mut long = issue(9, 1);
        long.value = Some("x".repeat(3 * CHUNK + 17));
        let pushed = [issue(5, 2), long, issue(3, 3), issue(4, 4), issue(4, 5)];
        for issue in &pushed {
            sorted.push(issue.clone()).unwrap();
        }
        let back: Vec<Issue> = sorted.into_sorted().unwrap().map(Result::unwrap).collect();
        let rows: Vec<u32> = back.iter().map(|i| i.row).collect();
        assert_eq!(rows, [3, 4, 4, 5, 9]);
        assert_eq!(back[4], pushed[1]);
        assert_eq!((&back[1], &back[2]), (&pushed[3], &pushed[4]));
    }

    /// An issue's bytes read back as it was; cut short, they are not there yet; with a text
    /// length past their end, they are damaged (an error, not a panic).
    #[test]
    fn bytes_cut_short_wait_and_damaged_ones_fail() {
        for n in 0..10 {
            let issue = issue(40 + n, usize::try_from(n).unwrap());
            let mut bytes = Vec::new();
            encode(&issue, &mut bytes).unwrap();
            assert_eq!(decode(&bytes).unwrap(), Some((issue, bytes.len())));
            for cut in 0..bytes.len() {
                assert_eq!(decode(&bytes[..cut]).unwrap(), None, "cut at {cut}");
            }
            bytes[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
            assert!(decode(&bytes).is_err());
        }
    }
}
