//! The first row of each identifier of one kind, by its 64-bit fingerprint, in 10 bytes an
//! entry.
//!
//! A million rows hold a million entries per identifier kind, and their table is most of what
//! `validate` and `import` keep in memory. A `HashMap<(u32, u32), u32>` took 12 bytes an entry
//! plus its control byte, and while it grew it held its old table beside the new one (27 MB
//! and 14 MB at a million rows). Here the entries are split over 256 shards by eight bits of
//! the fingerprint, so a shard need not store them, and each entry is the row in three bytes
//! and the other 56 bits of the fingerprint in seven: all 64 bits are compared, and a shard
//! that grows copies 1/256 of the entries. Rows past the 16,777,215th (three bytes), which no
//! spreadsheet holds and few CSV files do, go to a plain map beside.

use std::collections::HashMap;

use hashbrown::HashTable;

/// Shards: the fingerprint's top byte picks one.
const SHARDS: usize = 256;
/// The first row number that does not fit in an entry's three bytes.
const FAR_ROW: u32 = 1 << 24;

/// An entry: the row (3 bytes), then the fingerprint's low 56 bits (7 bytes), little-endian.
type Entry = [u8; 10];

#[derive(Debug)]
pub(super) struct Firsts {
    shards: Vec<HashTable<Entry>>,
    /// Fingerprints first seen on a row at or past [`FAR_ROW`].
    far: HashMap<u64, u32>,
}

impl Default for Firsts {
    fn default() -> Self {
        Firsts {
            shards: (0..SHARDS).map(|_| HashTable::new()).collect(),
            far: HashMap::new(),
        }
    }
}

/// The shard of `print` and the bytes an entry keeps of it.
fn split(print: u64) -> (usize, [u8; 7]) {
    let bytes = print.to_le_bytes();
    let mut low = [0; 7];
    low.copy_from_slice(&bytes[..7]);
    (usize::from(bytes[7]), low)
}

/// The fingerprint an entry of shard `shard` holds, whole again: the table's hash of it.
fn print_of(entry: &Entry, shard: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes[..7].copy_from_slice(&entry[3..]);
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a shard index is below 256"
    )]
    let top = shard as u8;
    bytes[7] = top;
    u64::from_le_bytes(bytes)
}

fn row_of(entry: &Entry) -> u32 {
    u32::from_le_bytes([entry[0], entry[1], entry[2], 0])
}

impl Firsts {
    /// Claims `print` for `row`: `None` when no earlier row holds it (it is now `row`'s),
    /// else the row that does.
    pub(super) fn claim(&mut self, print: u64, row: u32) -> Option<u32> {
        if let Some(&first) = self.far.get(&print) {
            return Some(first);
        }
        let (shard, low) = split(print);
        let table = &mut self.shards[shard];
        if let Some(entry) = table.find(print, |e| e[3..] == low) {
            return Some(row_of(entry));
        }
        if row >= FAR_ROW {
            self.far.insert(print, row);
            return None;
        }
        let mut entry = [0; 10];
        entry[..3].copy_from_slice(&row.to_le_bytes()[..3]);
        entry[3..].copy_from_slice(&low);
        table.insert_unique(print, entry, |e| print_of(e, shard));
        None
    }

    /// Gives `print` back if `row` holds it (a row found to be a duplicate claims nothing).
    pub(super) fn release(&mut self, print: u64, row: u32) {
        if self.far.get(&print) == Some(&row) {
            self.far.remove(&print);
            return;
        }
        let (shard, low) = split(print);
        let found = self.shards[shard].find_entry(print, |e| e[3..] == low && row_of(e) == row);
        if let Ok(entry) = found {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_row_holds_a_print_until_it_gives_it_back() {
        let mut firsts = Firsts::default();
        assert_eq!(firsts.claim(0xDEAD_BEEF_0123_4567, 2), None);
        assert_eq!(firsts.claim(0xDEAD_BEEF_0123_4567, 9), Some(2));
        // A later row gives back only what it holds.
        firsts.release(0xDEAD_BEEF_0123_4567, 9);
        assert_eq!(firsts.claim(0xDEAD_BEEF_0123_4567, 10), Some(2));
        firsts.release(0xDEAD_BEEF_0123_4567, 2);
        assert_eq!(firsts.claim(0xDEAD_BEEF_0123_4567, 11), None);
    }

    #[test]
    fn prints_differing_in_any_one_bit_are_different() {
        let mut firsts = Firsts::default();
        let base = 0x8000_0000_0000_0001_u64;
        assert_eq!(firsts.claim(base, 1), None);
        for bit in 0..64 {
            let row = 2 + bit;
            assert_eq!(firsts.claim(base ^ (1 << bit), row), None, "bit {bit}");
        }
        assert_eq!(firsts.claim(base, 100), Some(1));
    }

    #[test]
    fn many_prints_keep_their_rows_through_every_growth() {
        let mut firsts = Firsts::default();
        let print = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
        for i in 0..300_000u64 {
            let row = u32::try_from(i).unwrap() + 2;
            assert_eq!(firsts.claim(print(i), row), None);
        }
        for i in (0..300_000u64).step_by(997) {
            let row = u32::try_from(i).unwrap() + 2;
            assert_eq!(firsts.claim(print(i), 5_000_000), Some(row));
        }
    }

    #[test]
    fn rows_past_three_bytes_keep_their_numbers() {
        let mut firsts = Firsts::default();
        assert_eq!(firsts.claim(42, FAR_ROW + 5), None);
        assert_eq!(firsts.claim(42, FAR_ROW + 9), Some(FAR_ROW + 5));
        assert_eq!(firsts.claim(43, FAR_ROW - 1), None);
        assert_eq!(firsts.claim(43, FAR_ROW + 9), Some(FAR_ROW - 1));
        firsts.release(42, FAR_ROW + 5);
        assert_eq!(firsts.claim(42, FAR_ROW + 11), None);
    }
}
