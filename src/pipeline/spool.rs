//! Prepared rows set aside on disk in sheet order, read back once the whole sheet is read.
//!
//! `validate` of a long sheet prepares every row as it reads (on every core), sets each one
//! aside here with its identifiers' fingerprints counted in [`super::repeats`], and finishes
//! the rows in order once it knows which identifiers are on more than one row: one read of
//! the file instead of two, and memory that does not grow with the rows. The file is an
//! unnamed temporary one: nothing is left behind, even by a process killed mid-way.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::payload::Prepared;

/// One row's record, appended to `out` on the thread that prepared it: its length, then the
/// row ([`Prepared::write_slim`]: its number, whether it has issues and its identifiers'
/// fingerprints first, the rest read only when it is more than a plain row).
pub(super) fn record(row: &Prepared, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    row.write_slim(out).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "an identifier column past the 65,536th",
        )
    })?;
    let len = u32::try_from(out.len() - start - 4).map_err(io::Error::other)?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Records written in order ([`Spool::push`]), read back in that order ([`Spool::rows`]).
pub(super) struct Spool {
    file: BufWriter<File>,
}

/// The unnamed scratch file in `dir` that `slot` holds, made (and `dir` with it) the first
/// time one is wanted.
pub(super) fn scratch<'s>(
    slot: &'s mut Option<BufWriter<File>>,
    dir: &Path,
) -> io::Result<&'s mut BufWriter<File>> {
    if slot.is_none() {
        std::fs::create_dir_all(dir)?;
        *slot = Some(BufWriter::new(tempfile::tempfile_in(dir)?));
    }
    slot.as_mut()
        .ok_or_else(|| io::Error::other("the scratch file was not made"))
}

impl Spool {
    /// A spool in an unnamed file in `dir`.
    pub(super) fn new(dir: &Path) -> io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let file = tempfile::tempfile_in(dir)?;
        Ok(Spool {
            file: BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// Appends whole [`record`]s.
    pub(super) fn push(&mut self, records: &[u8]) -> io::Result<()> {
        self.file.write_all(records)
    }

    /// The rows pushed, in the order they were pushed.
    pub(super) fn rows(self) -> io::Result<Unspool> {
        let mut file = self
            .file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Unspool {
            file: BufReader::with_capacity(1 << 20, file),
            record: Vec::new(),
        })
    }
}

/// A row read back from a [`Spool`].
#[derive(Debug)]
pub(super) enum Spooled {
    /// A row without issues whose identifiers are each on no other row: ready, and nothing
    /// more to learn from it.
    Plain(u32),
    /// Any other row, whole.
    Whole(Box<Prepared>),
}

/// The rows of a [`Spool`], read back.
pub(super) struct Unspool {
    file: BufReader<File>,
    record: Vec<u8>,
}

impl Unspool {
    /// The next row; `repeats` are the fingerprints met on more than one row, sorted.
    pub(super) fn next_row(&mut self, repeats: &[u64]) -> Option<io::Result<Spooled>> {
        let mut len = [0; 4];
        match self.file.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return None,
            Err(e) => return Some(Err(e)),
        }
        self.record.resize(u32::from_le_bytes(len) as usize, 0);
        if let Err(e) = self.file.read_exact(&mut self.record) {
            return Some(Err(e));
        }
        Some(read(&self.record, repeats).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a row set aside on disk did not read back as written",
            )
        }))
    }
}

/// One [`record`] (after its length).
fn read(bytes: &[u8], repeats: &[u64]) -> Option<Spooled> {
    let peek = Prepared::peek_slim(bytes)?;
    let repeated = peek.prints().any(|p| repeats.binary_search(&p).is_ok());
    if !peek.has_issues && !repeated {
        return Some(Spooled::Plain(peek.row));
    }
    let mut rest = bytes;
    let whole = Prepared::read_slim(&mut rest).filter(|_| rest.is_empty())?;
    Some(Spooled::Whole(Box::new(whole)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::auto_match;
    use crate::payload::{Checker, Options};
    use crate::sheet::{Cell, Row};

    #[test]
    fn rows_come_back_in_order_plain_or_whole_and_nothing_is_left_in_the_directory() {
        let headers = ["Name", "Email"].map(String::from);
        let checker = Checker::new(&auto_match(&headers), 0, Options::default());
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(dir.path()).unwrap();
        let mut prepared = Vec::new();
        for number in 2..3000u32 {
            // Every 100th row's address is not one: a row with an issue.
            let email = if number % 100 == 0 {
                format!("u{number}")
            } else {
                format!("u{number}@example.com")
            };
            let cells = vec![Cell::Text(format!("User {number}")), Cell::Text(email)];
            let mut row = checker.prepare(Row { number, cells });
            row.slim();
            let mut bytes = Vec::new();
            record(&row, &mut bytes).unwrap();
            spool.push(&bytes).unwrap();
            prepared.push(row);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // Row 7's address is met again elsewhere.
        let repeats: Vec<u64> = prepared[5].prints().collect();
        assert_eq!(prepared[5].row(), 7);
        let mut rows = spool.rows().unwrap();
        let mut whole = Vec::new();
        for row in &prepared {
            match rows.next_row(&repeats).unwrap().unwrap() {
                Spooled::Plain(number) => assert_eq!(number, row.row()),
                Spooled::Whole(read) => {
                    assert_eq!(format!("{read:?}"), format!("{row:?}"));
                    whole.push(read.row());
                }
            }
        }
        assert!(rows.next_row(&repeats).is_none());
        let mut expected: Vec<u32> = (1..30).map(|n| n * 100).collect();
        expected.insert(0, 7);
        assert_eq!(whole, expected);
    }

    #[test]
    fn a_spool_where_no_file_can_be_made_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        assert!(Spool::new(&not_a_dir).is_err());
    }
}
