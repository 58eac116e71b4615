//! The first row of each identifier of one kind, by its 64-bit fingerprint, in about 11 bytes
//! an entry.
//!
//! A million rows hold a million entries per identifier kind, and their table is most of what
//! `validate` of a workbook keeps in memory besides calamine's. A `HashMap<(u32, u32), u32>`
//! took 12 bytes an entry plus its control byte, and while it grew it held its old table beside
//! the new one (27 MB and 14 MB at a million rows). Here the entries are split over 256 shards
//! by eight bits of the fingerprint, so a shard need not store them, and each entry is the row
//! in three bytes and the other 56 bits of the fingerprint in seven: all 64 bits are compared.
//!
//! A hash table of those entries ([`hashbrown::HashTable`]) was half empty just after it
//! doubled: 23 MB per kind at a million rows. So a shard keeps its entries in a sorted array
//! (found by binary search, no room left empty) and only its newest few in a small hash table,
//! merged into the array once they are an eighth of it: about 11 bytes an entry, and a merge
//! copies 1/256 of the entries. Rows past the 16,777,215th (three bytes), which no spreadsheet
//! holds and few CSV files do, go to a plain map beside.

use std::collections::HashMap;

use hashbrown::HashTable;

/// Shards: the fingerprint's top byte picks one.
const SHARDS: usize = 256;
/// The first row number that does not fit in an entry's three bytes.
const FAR_ROW: u32 = 1 << 24;
/// A shard's newest entries merge into its array once they are this many, or an eighth of it.
const MERGE_AT: usize = 32;
/// Entries read on either side of where a fingerprint's share of the array puts it, before a
/// binary search of the rest.
const NEIGHBOURS: usize = 32;

/// An entry: the row (3 bytes), then the fingerprint's low 56 bits (7 bytes), little-endian.
type Entry = [u8; 10];

#[derive(Debug)]
pub(super) struct Firsts {
    shards: Vec<Shard>,
    /// Fingerprints first seen on a row at or past [`FAR_ROW`].
    far: HashMap<u64, u32>,
}

/// One shard's entries: most sorted by fingerprint, the newest in a small table.
#[derive(Debug, Default)]
struct Shard {
    sorted: Vec<Entry>,
    recent: HashTable<Entry>,
}

impl Default for Firsts {
    fn default() -> Self {
        Firsts {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            far: HashMap::new(),
        }
    }
}

/// The shard of `print` and the 56 bits an entry keeps of it.
fn split(print: u64) -> (usize, u64) {
    let shard = usize::try_from(print >> 56).unwrap_or_default();
    (shard, print & ((1 << 56) - 1))
}

/// The 56 bits of the fingerprint an entry holds (the shard's own 8 are not stored).
fn low_of(entry: &Entry) -> u64 {
    let mut bytes = [0; 8];
    bytes[..7].copy_from_slice(&entry[3..]);
    u64::from_le_bytes(bytes)
}

/// The small table's hash of an entry: its 56 bits spread over all 64, since the table picks
/// a bucket with the low bits and tells entries apart with the top seven.
fn hash_of(entry: &Entry) -> u64 {
    hash(low_of(entry))
}

fn hash(low: u64) -> u64 {
    low ^ (low << 8)
}

fn row_of(entry: &Entry) -> u32 {
    u32::from_le_bytes([entry[0], entry[1], entry[2], 0])
}

fn entry(row: u32, low: u64) -> Entry {
    let mut entry = [0; 10];
    entry[..3].copy_from_slice(&row.to_le_bytes()[..3]);
    entry[3..].copy_from_slice(&low.to_le_bytes()[..7]);
    entry
}

impl Shard {
    /// Where the entry of `low` is or would go in the array.
    ///
    /// Fingerprints are spread evenly, so `low`'s place is close to its share of the array:
    /// looked for there first, a few neighbours read in a row (a binary search of a cold
    /// shard missed the cache at each of its 12 or so steps: a tenth of an xlsx `validate`'s
    /// time). Crafted fingerprints bunched together only lead to the binary search.
    fn search(&self, low: u64) -> Result<usize, usize> {
        let sorted = &self.sorted;
        let n = sorted.len();
        if n < 2 * NEIGHBOURS {
            return sorted.binary_search_by_key(&low, low_of);
        }
        let share = (u128::from(low) * n as u128) >> 56;
        let guess = usize::try_from(share).unwrap_or(n - 1).min(n - 1);
        let at = low_of(&sorted[guess]);
        let (from, to) = if at < low {
            let end = (guess + 1 + NEIGHBOURS).min(n);
            for (i, entry) in sorted.iter().enumerate().take(end).skip(guess + 1) {
                match low_of(entry).cmp(&low) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => return Ok(i),
                    std::cmp::Ordering::Greater => return Err(i),
                }
            }
            (end, n)
        } else if at > low {
            let start = guess.saturating_sub(NEIGHBOURS);
            for i in (start..guess).rev() {
                match low_of(&sorted[i]).cmp(&low) {
                    std::cmp::Ordering::Greater => {}
                    std::cmp::Ordering::Equal => return Ok(i),
                    std::cmp::Ordering::Less => return Err(i + 1),
                }
            }
            (0, start)
        } else {
            return Ok(guess);
        };
        sorted[from..to]
            .binary_search_by_key(&low, low_of)
            .map(|i| i + from)
            .map_err(|i| i + from)
    }

    fn find(&self, low: u64) -> Option<&Entry> {
        match self.search(low) {
            Ok(at) => self.sorted.get(at),
            Err(_) => self.recent.find(hash(low), |e| low_of(e) == low),
        }
    }

    fn insert(&mut self, entry: Entry) {
        self.recent.insert_unique(hash_of(&entry), entry, hash_of);
        if self.recent.len() >= MERGE_AT.max(self.sorted.len() / 8) {
            self.merge();
        }
    }

    /// Moves the newest entries into the array: a new array of the exact size, built in one
    /// pass, so no room is left empty.
    fn merge(&mut self) {
        let mut newest: Vec<Entry> = self.recent.drain().collect();
        newest.sort_unstable_by_key(low_of);
        let mut merged = Vec::with_capacity(self.sorted.len() + newest.len());
        let (mut old, mut new) = (self.sorted.iter().peekable(), newest.iter().peekable());
        while let (Some(a), Some(b)) = (old.peek(), new.peek()) {
            if low_of(a) <= low_of(b) {
                merged.extend(old.next());
            } else {
                merged.extend(new.next());
            }
        }
        merged.extend(old);
        merged.extend(new);
        self.sorted = merged;
        self.recent.shrink_to(MERGE_AT, hash_of);
    }

    /// Removes the entry of `low` if `row` holds it.
    fn remove(&mut self, low: u64, row: u32) {
        match self.search(low) {
            Ok(at) if self.sorted.get(at).map(row_of) == Some(row) => {
                self.sorted.remove(at);
            }
            Ok(_) => {}
            Err(_) => {
                let holds = |e: &Entry| low_of(e) == low && row_of(e) == row;
                let found = self.recent.find_entry(hash(low), holds);
                if let Ok(entry) = found {
                    entry.remove();
                }
            }
        }
    }
}

impl Firsts {
    /// Claims `print` for `row`: `None` when no earlier row holds it (it is now `row`'s),
    /// else the row that does.
    pub(super) fn claim(&mut self, print: u64, row: u32) -> Option<u32> {
        if let Some(&first) = self.far.get(&print) {
            return Some(first);
        }
        let (shard, low) = split(print);
        let shard = &mut self.shards[shard];
        if let Some(entry) = shard.find(low) {
            return Some(row_of(entry));
        }
        if row >= FAR_ROW {
            self.far.insert(print, row);
            return None;
        }
        shard.insert(entry(row, low));
        None
    }

    /// Gives `print` back if `row` holds it (a row found to be a duplicate claims nothing).
    pub(super) fn release(&mut self, print: u64, row: u32) {
        if self.far.get(&print) == Some(&row) {
            self.far.remove(&print);
            return;
        }
        let (shard, low) = split(print);
        self.shards[shard].remove(low, row);
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
    fn claims_and_releases_agree_with_a_plain_map_through_every_merge() {
        let mut firsts = Firsts::default();
        let mut model: HashMap<u64, u32> = HashMap::new();
        // Few distinct prints (every shard merges many times), claimed again and again;
        // a claim that finds an earlier row gives back another print it holds, as a
        // duplicate row gives back its other identifiers.
        let mut x = 0x2545_F491_4F6C_DD1D_u64;
        for row in 2..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let print = (x % 50_000).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let want = model.get(&print).copied();
            if want.is_none() {
                model.insert(print, row);
            }
            assert_eq!(firsts.claim(print, row), want, "row {row}");
            if want.is_some() && row % 3 == 0 {
                let other = (x % 7_919).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let held = model.get(&other).copied();
                firsts.release(other, row - 1);
                if held == Some(row - 1) {
                    model.remove(&other);
                }
                if let Some(first) = held {
                    firsts.release(other, first);
                    model.remove(&other);
                }
            }
        }
        for (print, row) in &model {
            assert_eq!(firsts.claim(*print, u32::MAX >> 8), Some(*row));
        }
    }

    #[test]
    fn the_search_near_a_fingerprints_share_agrees_with_a_binary_search() {
        let spread = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8;
        // Even (as fingerprints are), bunched at one end (as crafted ones could be), and
        // sizes around where the near search starts.
        let sets: Vec<Vec<u64>> = vec![
            (0..5_000).map(spread).collect(),
            (0..5_000).map(|i| i * 3).collect(),
            (0..5_000).map(|i| (1 << 56) - 1 - i * 7).collect(),
            (0..63).map(spread).collect(),
            (0..64).map(spread).collect(),
            (0..65).map(|i| i * 1_000_003).collect(),
        ];
        for set in sets {
            let mut sorted: Vec<Entry> = set.iter().map(|&low| entry(7, low)).collect();
            sorted.sort_unstable_by_key(low_of);
            let shard = Shard {
                sorted,
                ..Shard::default()
            };
            let probes = set.iter().flat_map(|&v| [v, v + 1, v.saturating_sub(1)]);
            for low in probes.chain([0, 1, (1 << 56) - 1]) {
                let want = shard.sorted.binary_search_by_key(&low, low_of);
                assert_eq!(shard.search(low), want, "{low} in {} entries", set.len());
            }
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
