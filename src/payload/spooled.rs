//! A prepared row as bytes: for a check that prepares every row of a long sheet first and
//! finishes them once the identifiers met twice are known (`validate`, the pipeline's spool),
//! instead of reading the sheet twice.
//!
//! Only what [`super::Checker::finish`] reads is kept: the row, its issues, its identifiers'
//! fingerprints and the user's identifier fields (the rest of the user is left out, as
//! [`Prepared::slim`] leaves it). The bytes are the process's own, read back by the process
//! that wrote them: no version, no promise across builds.

use super::check::{Fingerprint, Key, Prepared};
use super::user::User;
use super::{Issue, Severity};

impl Prepared {
    /// Appends the row's bytes to `out` ([`Prepared::read_slim`] reads them back).
    pub fn write_slim(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.row.to_le_bytes());
        match self.user.id {
            Some(id) => {
                out.push(1);
                out.extend_from_slice(&id.to_le_bytes());
            }
            None => out.push(0),
        }
        put_text(out, self.user.email.as_deref());
        put_text(out, self.user.external_id.as_deref());
        put_len(out, self.keys.len());
        for &(key, position, print) in &self.keys {
            out.push(key as u8);
            put_len(out, position);
            out.extend_from_slice(&print.to_le_bytes());
        }
        put_len(out, self.issues.len());
        for issue in &self.issues {
            out.extend_from_slice(&issue.row.to_le_bytes());
            put_text(out, issue.column.as_deref());
            put_text(out, issue.cell.as_deref());
            put_text(out, issue.value.as_deref());
            put_text(out, Some(&issue.message));
            let severity = match issue.severity {
                Severity::Warning => 0,
                Severity::Error => 1,
            };
            out.push(severity | u8::from(issue.includable) << 1);
        }
    }

    /// The row [`Prepared::write_slim`] wrote at the start of `bytes`, which move past it;
    /// `None` when they do not hold one.
    pub fn read_slim(bytes: &mut &[u8]) -> Option<Prepared> {
        let row = u32::from_le_bytes(take(bytes)?);
        let id = match take::<1>(bytes)? {
            [0] => None,
            [1] => Some(u64::from_le_bytes(take(bytes)?)),
            _ => return None,
        };
        let user = User {
            id,
            email: text(bytes)?,
            external_id: text(bytes)?,
            ..User::default()
        };
        let keys = (0..len(bytes)?)
            .map(|_| {
                let key = match take::<1>(bytes)? {
                    [0] => Key::Email,
                    [1] => Key::ExternalId,
                    [2] => Key::Id,
                    _ => return None,
                };
                let position = len(bytes)?;
                let print: Fingerprint = u64::from_le_bytes(take(bytes)?);
                Some((key, position, print))
            })
            .collect::<Option<Vec<_>>>()?;
        let issues = (0..len(bytes)?)
            .map(|_| {
                let row = u32::from_le_bytes(take(bytes)?);
                let (column, cell, value) = (text(bytes)?, text(bytes)?, text(bytes)?);
                let message = text(bytes)??;
                let [flags] = take::<1>(bytes)?;
                let severity = match flags & 1 {
                    0 => Severity::Warning,
                    _ => Severity::Error,
                };
                Some(Issue {
                    row,
                    column,
                    cell,
                    value,
                    severity,
                    message,
                    includable: flags & 2 != 0,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Prepared {
            row,
            user,
            issues,
            keys,
        })
    }
}

/// A count or a position: four bytes (a row holds far fewer columns and issues).
fn put_len(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
}

/// Text or none: its length plus one (0 for none), then its bytes.
fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            put_len(out, text.len() + 1);
            out.extend_from_slice(text.as_bytes());
        }
        None => put_len(out, 0),
    }
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*head)
}

fn len(bytes: &mut &[u8]) -> Option<usize> {
    usize::try_from(u32::from_le_bytes(take(bytes)?)).ok()
}

/// Text or none ([`put_text`]); `None` when the bytes do not hold it.
fn text(bytes: &mut &[u8]) -> Option<Option<String>> {
    let Some(n) = len(bytes)?.checked_sub(1) else {
        return Some(None);
    };
    let (head, rest) = bytes.split_at_checked(n)?;
    *bytes = rest;
    String::from_utf8(head.to_vec()).ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::super::{Checker, Mode, Options};
    use super::*;
    use crate::mapping::Target;
    use crate::sheet::{Cell, Row};

    fn checker() -> Checker {
        let mapping = super::super::check::tests::mapped(&[
            ("Name", Target::Name),
            ("Email", Target::Email),
            ("External ID", Target::ExternalId),
            ("Zendesk ID", Target::Id),
            ("Role", Target::Role),
        ]);
        let options = Options {
            mode: Mode::Update,
            ..Options::default()
        };
        Checker::new(&mapping, 0, options)
    }

    fn row(number: u32, cells: [&str; 5]) -> Row {
        Row {
            number,
            cells: cells.map(|c| Cell::Text(c.to_owned())).into(),
        }
    }

    #[test]
    fn a_slim_row_reads_back_as_it_was_written() {
        let checker = checker();
        let rows = [
            row(2, ["Ann", "ANN@example.com", "ext-1", "12", "agent"]),
            // Issues of every kind: a bad address (includable), a bad role, a bad id.
            row(3, ["Bob", "not an address", "", "x1", "captain"]),
            // No identifier at all, non-ASCII text.
            row(4, ["Zoë", "", "", "", ""]),
        ];
        let mut bytes = Vec::new();
        let mut written = Vec::new();
        for row in rows {
            let mut prepared = checker.prepare(row);
            prepared.slim();
            prepared.write_slim(&mut bytes);
            written.push(prepared);
        }
        assert!(written[1].issues.iter().any(|i| i.includable));
        assert!(written[1].issues.len() >= 3, "{:?}", written[1].issues);
        assert_eq!(written[0].keys.len(), 3);
        let mut rest = bytes.as_slice();
        for prepared in &written {
            let read = Prepared::read_slim(&mut rest).unwrap();
            assert_eq!(format!("{read:?}"), format!("{prepared:?}"));
        }
        assert!(rest.is_empty());
    }

    #[test]
    fn cut_or_spoiled_bytes_are_refused_without_a_panic() {
        let mut prepared = checker().prepare(row(7, ["Ann", "a@b.co", "e", "9", "nobody"]));
        prepared.slim();
        let mut bytes = Vec::new();
        prepared.write_slim(&mut bytes);
        for cut in 0..bytes.len() {
            assert!(
                Prepared::read_slim(&mut &bytes[..cut]).is_none(),
                "cut at {cut}"
            );
        }
        // The id's flag byte, after the row number: neither 0 nor 1.
        let mut spoiled = bytes.clone();
        spoiled[4] = 7;
        assert!(Prepared::read_slim(&mut spoiled.as_slice()).is_none());
    }
}
