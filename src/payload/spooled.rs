//! A prepared row as bytes: for a check that prepares every row of a long sheet first and
//! finishes them once the identifiers met twice are known (`validate`, the pipeline's spool),
//! instead of reading the sheet twice.
//!
//! Only what [`super::Checker::finish`] reads is kept: the row, its issues, its identifiers'
//! fingerprints and the user's identifier fields (the rest of the user is left out, as
//! [`Prepared::slim`] leaves it). The bytes are the process's own, read back by the process
//! that wrote them: no version, no promise across builds.

use super::check::{Fingerprint, Key, Keys, Prepared, keyed};
use super::user::User;
use super::{Issue, Severity};

/// What a reader of a row's bytes sees without reading the rest ([`Prepared::peek_slim`]).
pub struct Peek<'b> {
    pub row: u32,
    /// Whether the row has problems of its own.
    pub has_issues: bool,
    /// Its [`Prepared::prints`], eight bytes each.
    prints: &'b [u8],
    keys: usize,
}

impl Peek<'_> {
    /// The row's [`Prepared::prints`].
    pub fn prints(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.keys).map(|k| u64::from_le_bytes(key_bytes(self.prints, k).1))
    }
}

/// Key `k` of a row's keys: its kind and column position (three bytes), and its print.
fn key_bytes(keys: &[u8], k: usize) -> ([u8; 3], [u8; 8]) {
    let at = k * KEY_BYTES;
    let mut head = [0; 3];
    let mut print = [0; 8];
    head.copy_from_slice(&keys[at..at + 3]);
    print.copy_from_slice(&keys[at + 3..at + KEY_BYTES]);
    (head, print)
}

/// A key's bytes: its kind, its column's position (two bytes), its print.
const KEY_BYTES: usize = 11;

impl Prepared {
    /// Appends the row's bytes to `out` ([`Prepared::read_slim`] reads them back): its
    /// number, whether it has issues and its identifiers first, for [`Prepared::peek_slim`].
    /// None when a key's column is past the 65,536th (no sheet has that many).
    pub fn write_slim(&self, out: &mut Vec<u8>) -> Option<()> {
        out.extend_from_slice(&self.row.to_le_bytes());
        out.push(u8::from(!self.issues.is_empty()));
        put_var(out, self.keys.len() as u64);
        for &(key, position, print) in &self.keys {
            out.push(key as u8);
            out.extend_from_slice(&u16::try_from(position).ok()?.to_le_bytes());
            out.extend_from_slice(&keyed(key, print).to_le_bytes());
        }
        match self.user.id {
            Some(id) => {
                out.push(1);
                out.extend_from_slice(&id.to_le_bytes());
            }
            None => out.push(0),
        }
        put_text(out, self.user.email.as_deref());
        put_text(out, self.user.external_id.as_deref());
        put_var(out, self.issues.len() as u64);
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
        Some(())
    }

    /// The start of a row's bytes ([`Prepared::write_slim`]) read without the rest; `None`
    /// when they do not hold one.
    pub fn peek_slim(bytes: &[u8]) -> Option<Peek<'_>> {
        let mut bytes = bytes;
        let row = u32::from_le_bytes(take(&mut bytes)?);
        let [has_issues] = take::<1>(&mut bytes)?;
        let keys = usize::try_from(get_var(&mut bytes)?).ok()?;
        let prints = bytes.get(..keys.checked_mul(KEY_BYTES)?)?;
        Some(Peek {
            row,
            has_issues: has_issues != 0,
            prints,
            keys,
        })
    }

    /// The row [`Prepared::write_slim`] wrote at the start of `bytes`, which move past it;
    /// `None` when they do not hold one.
    pub fn read_slim(bytes: &mut &[u8]) -> Option<Prepared> {
        let row = u32::from_le_bytes(take(bytes)?);
        let _has_issues = take::<1>(bytes)?;
        let count = usize::try_from(get_var(bytes)?).ok()?;
        let keys = (0..count)
            .map(|_| {
                let key = match take::<1>(bytes)? {
                    [0] => Key::Email,
                    [1] => Key::ExternalId,
                    [2] => Key::Id,
                    _ => return None,
                };
                let position = usize::from(u16::from_le_bytes(take(bytes)?));
                let print: Fingerprint = keyed(key, u64::from_le_bytes(take(bytes)?));
                Some((key, position, print))
            })
            .collect::<Option<Keys>>()?;
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
        let issues = (0..get_var(bytes)?)
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

/// A count or a length, seven bits a byte (most take one).
fn put_var(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_var(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let [b] = take::<1>(bytes)?;
        n |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// Text or none: its length plus one (0 for none), then its bytes.
fn put_text(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            put_var(out, text.len() as u64 + 1);
            out.extend_from_slice(text.as_bytes());
        }
        None => put_var(out, 0),
    }
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*head)
}

/// Text or none ([`put_text`]); `None` when the bytes do not hold it.
fn text(bytes: &mut &[u8]) -> Option<Option<String>> {
    let Some(n) = get_var(bytes)?.checked_sub(1) else {
        return Some(None);
    };
    let (head, rest) = bytes.split_at_checked(usize::try_from(n).ok()?)?;
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
            let start = bytes.len();
            let mut prepared = checker.prepare(row);
            prepared.slim();
            prepared.write_slim(&mut bytes).unwrap();
            let peek = Prepared::peek_slim(&bytes[start..]).unwrap();
            assert_eq!(peek.row, prepared.row);
            assert_eq!(peek.has_issues, !prepared.issues.is_empty());
            assert!(peek.prints().eq(prepared.prints()));
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
        prepared.write_slim(&mut bytes).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                Prepared::read_slim(&mut &bytes[..cut]).is_none(),
                "cut at {cut}"
            );
        }
        // The first key's kind, after the row number, the issues' flag and the count: none.
        let mut spoiled = bytes.clone();
        spoiled[6] = 7;
        assert!(Prepared::read_slim(&mut spoiled.as_slice()).is_none());
    }
}
