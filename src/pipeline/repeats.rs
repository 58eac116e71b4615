//! Which of a stream of 64-bit fingerprints occur more than once, found on disk.
//!
//! An import of a long sheet keeps nothing across rows but its identifiers' fingerprints, and
//! with every fingerprint in memory that table alone grew with the rows (46 MB at a million).
//! Almost every identifier is on one row only, and one that is can never be a duplicate: so
//! the fingerprints are first written out in sorted runs of [`RUN`] to an unnamed temporary
//! file (nothing is left behind, even by a process killed mid-way), and only the fingerprints
//! met twice or more are kept.
//!
//! The runs are read back a slice of fingerprints at a time, by their top byte: the slices of
//! every run for one byte are counted together, in the cache, and the next byte follows (the
//! fingerprints are hashes, so a byte's share is about a 256th). A run keeps at most two of a
//! value, so one identifier on every row does not make its byte's share the whole file; a
//! byte whose share is still over [`SLICE`] values (fingerprints chosen to share one) is
//! sorted run by run in the file and merged from the runs instead. Memory is one run, or one
//! byte's share, however many rows.
//!
//! Values are counted in a small open-addressing table ([`Tally`]) rather than sorted: a
//! sort of each run and of each byte's share took four times as long, half of it after the
//! sheet was read, when nothing else is left to run beside it.
//!
//! Not the `extsort` crate: it keeps one open file per run and a named directory a killed
//! process leaves behind, and brings rayon for its sort; the job here is one sort of `u64`s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Fingerprints sorted in memory at a time: 2 MiB.
const RUN: usize = 1 << 18;
/// The most fingerprints of one top byte sorted together: 2 MiB.
const SLICE: u64 = 1 << 18;
/// The merge's read buffers, shared by the runs: 1 MiB of fingerprints.
const MERGE_VALUES: usize = 1 << 17;
/// How many of one value a run keeps.
const KEPT_PER_RUN: u8 = 2;

/// Collects fingerprints ([`Repeats::push`]); [`Repeats::finish`] answers those pushed twice
/// or more, sorted.
pub(super) struct Repeats {
    dir: std::path::PathBuf,
    /// Opened with the first run that does not fit in memory.
    file: Option<BufWriter<File>>,
    /// Each run in the file: where it starts, in values, and where each top byte's values
    /// start within it (the 257th: its length).
    runs: Vec<(u64, Box<[u32; 257]>)>,
    buffer: Vec<u64>,
    /// Room to deal a run out by top byte in.
    scratch: Vec<u64>,
    tally: Tally,
}

impl Repeats {
    /// Runs spill to an unnamed file in `dir`.
    pub(super) fn new(dir: &Path) -> Repeats {
        Repeats {
            dir: dir.to_path_buf(),
            file: None,
            runs: Vec::new(),
            buffer: Vec::new(),
            scratch: Vec::new(),
            tally: Tally::default(),
        }
    }

    pub(super) fn push(&mut self, print: u64) -> io::Result<()> {
        self.buffer.push(print);
        if self.buffer.len() >= RUN {
            self.spill()?;
        }
        Ok(())
    }

    /// Writes the buffer out as a run, its values grouped by top byte, each value at most
    /// twice.
    fn spill(&mut self) -> io::Result<()> {
        let starts = deal_by_top_byte(&mut self.buffer, &mut self.scratch);
        let mut bytes = Box::new([0u32; 257]);
        let mut kept = 0;
        for byte in 0..256 {
            let share = starts[byte]..starts[byte + 1];
            self.tally.reset(share.len());
            for i in share {
                let value = self.buffer[i];
                if self.tally.count(value) <= KEPT_PER_RUN {
                    self.buffer[kept] = value;
                    kept += 1;
                }
            }
            // RUN values fit a u32.
            bytes[byte + 1] = u32::try_from(kept).unwrap_or(u32::MAX);
        }
        self.buffer.truncate(kept);
        let file = super::spool::scratch(&mut self.file, &self.dir)?;
        let start = self
            .runs
            .last()
            .map_or(0, |(start, bytes)| start + u64::from(bytes[256]));
        for value in &self.buffer {
            file.write_all(&value.to_le_bytes())?;
        }
        self.runs.push((start, bytes));
        self.buffer.clear();
        Ok(())
    }

    /// The fingerprints pushed more than once, each once, in ascending order.
    pub(super) fn finish(mut self) -> io::Result<Vec<u64>> {
        if self.file.is_some() && !self.buffer.is_empty() {
            self.spill()?;
        }
        let mut out = Vec::new();
        // Nothing spilled: the one run is the buffer itself.
        let Some(file) = self.file.take() else {
            let starts = deal_by_top_byte(&mut self.buffer, &mut self.scratch);
            for byte in 0..256 {
                let share = &self.buffer[starts[byte]..starts[byte + 1]];
                self.tally.repeated(share, &mut out);
            }
            return Ok(out);
        };
        self.buffer = Vec::new();
        self.scratch = Vec::new();
        let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
        let mut slice = Vec::new();
        for byte in 0..256 {
            // Each run's values of this top byte: (first value, count).
            let parts: Vec<(u64, u64)> = self
                .runs
                .iter()
                .map(|(start, at)| {
                    let (from, to) = (u64::from(at[byte]), u64::from(at[byte + 1]));
                    (start + from, to - from)
                })
                .collect();
            let values: u64 = parts.iter().map(|&(_, n)| n).sum();
            if values > SLICE {
                for &(first, count) in &parts {
                    sort_in_file(&mut file, first, count, &mut slice)?;
                }
                slice = Vec::new();
                out.extend(repeated(Merge::new(&mut file, &parts)?)?);
                continue;
            }
            slice.clear();
            for &(first, n) in &parts {
                read_values(&mut file, first, n, &mut slice)?;
            }
            self.tally.repeated(&slice, &mut out);
        }
        Ok(out)
    }
}

/// Counts of values in an open-addressing table sized for one share of them: how many times
/// each was met. Slots are chosen by the value mixed with a key of this process, so values
/// chosen to crowd the table (a hostile sheet's identifiers) cannot be.
struct Tally {
    values: Vec<u64>,
    /// 0: an empty slot; then how many times its value was met, up to 255.
    counts: Vec<u8>,
    /// log2 of the slots.
    bits: u32,
    key: u64,
}

impl Default for Tally {
    fn default() -> Tally {
        use std::hash::BuildHasher;
        Tally {
            values: Vec::new(),
            counts: Vec::new(),
            bits: 0,
            key: std::hash::RandomState::new().hash_one(0x7a64_u64),
        }
    }
}

impl Tally {
    /// Empty, with room for `n` values at most half full.
    fn reset(&mut self, n: usize) {
        let slots = (n * 2).next_power_of_two().max(16);
        self.bits = slots.trailing_zeros();
        self.values.clear();
        self.values.resize(slots, 0);
        self.counts.clear();
        self.counts.resize(slots, 0);
    }

    /// Meets `value` once more: how many times it has been met now.
    fn count(&mut self, value: u64) -> u8 {
        let mask = self.counts.len() - 1;
        let mixed = (value ^ self.key).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut slot = (mixed >> (64 - self.bits)) as usize;
        loop {
            match self.counts[slot] {
                0 => {
                    self.values[slot] = value;
                    self.counts[slot] = 1;
                    return 1;
                }
                met if self.values[slot] == value => {
                    self.counts[slot] = met.saturating_add(1);
                    return self.counts[slot];
                }
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// Appends the values of `share` met more than once, each once, in ascending order (after
    /// any already in `out`, which must be below them: shares are taken by ascending top byte).
    fn repeated(&mut self, share: &[u64], out: &mut Vec<u64>) {
        self.reset(share.len());
        let from = out.len();
        for &value in share {
            if self.count(value) == 2 {
                out.push(value);
            }
        }
        out[from..].sort_unstable();
    }
}

/// Deals `values` out by their top byte (the values are hashes: a 256th of them each),
/// keeping their order within a byte; answers where each byte's values start (the 257th:
/// the end).
fn deal_by_top_byte(values: &mut Vec<u64>, scratch: &mut Vec<u64>) -> [usize; 257] {
    let top = |v: u64| (v >> 56) as usize;
    let mut starts = [0usize; 257];
    for &v in values.iter() {
        starts[top(v) + 1] += 1;
    }
    for byte in 0..256 {
        starts[byte + 1] += starts[byte];
    }
    scratch.clear();
    scratch.resize(values.len(), 0);
    let mut next = starts;
    for &v in values.iter() {
        let at = &mut next[top(v)];
        scratch[*at] = v;
        *at += 1;
    }
    std::mem::swap(values, scratch);
    starts
}

/// Sorts the `count` values of the file from value `first` where they lie (a part of one run:
/// at most [`RUN`] values), using `room`.
fn sort_in_file(file: &mut File, first: u64, count: u64, room: &mut Vec<u64>) -> io::Result<()> {
    room.clear();
    read_values(file, first, count, room)?;
    room.sort_unstable();
    let bytes: Vec<u8> = room.iter().flat_map(|v| v.to_le_bytes()).collect();
    file.seek(SeekFrom::Start(first * 8))?;
    file.write_all(&bytes)
}

/// Appends `count` values from the file, starting at value `first`.
fn read_values(file: &mut File, first: u64, count: u64, out: &mut Vec<u64>) -> io::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let mut bytes = vec![0; usize::try_from(count * 8).map_err(io::Error::other)?];
    file.seek(SeekFrom::Start(first * 8))?;
    file.read_exact(&mut bytes)?;
    out.extend(
        bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())),
    );
    Ok(())
}

/// The values met more than once in a sorted sequence, each once.
fn repeated(sorted: impl Iterator<Item = io::Result<u64>>) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut last = None;
    for value in sorted {
        let value = value?;
        if last == Some(value) && out.last() != Some(&value) {
            out.push(value);
        }
        last = Some(value);
    }
    Ok(out)
}

/// Sorted parts of one file merged into one ascending sequence.
struct Merge<'a> {
    file: &'a mut File,
    runs: Vec<RunReader>,
    /// The next value of each part that has one, smallest first.
    heads: BinaryHeap<Reverse<(u64, usize)>>,
}

/// What is left of one part: the position of its next unread value, how many are left
/// unread, and the values read but not yet merged.
struct RunReader {
    next: u64,
    left: u64,
    buffered: std::vec::IntoIter<u64>,
}

impl<'a> Merge<'a> {
    /// The parts, each its first value and its count.
    fn new(file: &'a mut File, parts: &[(u64, u64)]) -> io::Result<Merge<'a>> {
        let mut merge = Merge {
            file,
            runs: parts
                .iter()
                .map(|&(next, left)| RunReader {
                    next,
                    left,
                    buffered: Vec::new().into_iter(),
                })
                .collect(),
            heads: BinaryHeap::new(),
        };
        for run in 0..merge.runs.len() {
            if let Some(value) = merge.next_of(run)? {
                merge.heads.push(Reverse((value, run)));
            }
        }
        Ok(merge)
    }

    /// The next value of `run`, read from the file a buffer at a time.
    fn next_of(&mut self, run: usize) -> io::Result<Option<u64>> {
        let per_run = (MERGE_VALUES / self.runs.len()).clamp(64, 1 << 14) as u64;
        let reader = &mut self.runs[run];
        if let Some(value) = reader.buffered.next() {
            return Ok(Some(value));
        }
        if reader.left == 0 {
            return Ok(None);
        }
        let count = reader.left.min(per_run);
        let mut values = Vec::new();
        read_values(self.file, reader.next, count, &mut values)?;
        reader.next += count;
        reader.left -= count;
        reader.buffered = values.into_iter();
        Ok(reader.buffered.next())
    }
}

impl Iterator for Merge<'_> {
    type Item = io::Result<u64>;

    fn next(&mut self) -> Option<io::Result<u64>> {
        let Reverse((value, run)) = self.heads.pop()?;
        match self.next_of(run) {
            Ok(Some(next)) => self.heads.push(Reverse((next, run))),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repeats of `values`, the slow way.
    fn expected(values: &[u64]) -> Vec<u64> {
        let mut counts = std::collections::BTreeMap::new();
        for v in values {
            *counts.entry(*v).or_insert(0) += 1;
        }
        counts
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(v, _)| v)
            .collect()
    }

    fn found(values: &[u64]) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let mut repeats = Repeats::new(dir.path());
        for v in values {
            repeats.push(*v).unwrap();
        }
        let found = repeats.finish().unwrap();
        // The runs' file has no name: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        found
    }

    /// A cheap spread of values (xorshift), with every `every`th one repeated later.
    fn values(n: usize, every: usize) -> Vec<u64> {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push(x);
            if every > 0 && i % every == 0 {
                out.push(out[i / 2]);
            }
        }
        out
    }

    #[test]
    fn in_memory_repeats_are_found_once_each() {
        assert_eq!(found(&[]), Vec::<u64>::new());
        assert_eq!(found(&[5, 3, 5, 9, 3, 5, u64::MAX, 0, 0]), vec![0, 3, 5]);
        assert_eq!(found(&[1, 2, 3]), Vec::<u64>::new());
    }

    #[test]
    fn repeats_across_runs_on_disk_are_found() {
        // Three runs and a part: repeats within a run, across runs, and in the last part.
        let mut all = values(RUN * 3 + 1000, 997);
        all.push(all[RUN - 1]);
        all.push(all[10]);
        all.push(all[10]);
        assert!(all.len() > RUN * 3);
        let got = found(&all);
        assert!(got.len() > 700, "{} repeats", got.len());
        assert_eq!(got, expected(&all));
    }

    #[test]
    fn a_run_that_cannot_be_written_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let mut repeats = Repeats::new(&not_a_dir);
        let pushed: io::Result<()> = (0..RUN as u64).try_for_each(|v| repeats.push(v));
        assert!(pushed.is_err());
    }

    #[test]
    fn one_value_on_every_row_and_prints_crafted_to_share_a_byte_are_found() {
        // The same value in every run, and more than a slice's worth of values of one top
        // byte (merged from the runs rather than sorted together).
        let mut all = values(RUN * 2, 0);
        for (i, v) in all.iter_mut().enumerate() {
            if i % 2 == 0 {
                *v = (*v >> 8) | (0xab << 56);
            }
        }
        all.extend(std::iter::repeat_n(42, RUN * 2));
        all.extend_from_slice(&[all[1], all[2], all[RUN + 1]]);
        let got = found(&all);
        assert_eq!(got, expected(&all));
        assert!(got.contains(&42) && got.len() == 4, "{got:?}");
    }

    #[test]
    fn values_dealt_by_their_top_byte_keep_their_order_within_it() {
        let mut all = values(10_000, 7);
        all.extend([0, u64::MAX, 1 << 56, (1 << 56) - 1, 5, 5]);
        let before = all.clone();
        let mut scratch = vec![3; 2];
        let starts = deal_by_top_byte(&mut all, &mut scratch);
        assert_eq!((starts[0], starts[256]), (0, all.len()));
        for byte in 0..256u64 {
            let dealt = &all[starts[byte as usize]..starts[byte as usize + 1]];
            let in_order: Vec<u64> = before.iter().copied().filter(|v| v >> 56 == byte).collect();
            assert_eq!(dealt, in_order, "byte {byte}");
        }
    }

    #[test]
    fn a_tally_counts_each_value_crowded_or_not() {
        let mut tally = Tally::default();
        tally.reset(4);
        // Values alike but for their top bits, and zero, which is no empty slot.
        let met: Vec<u8> = [0, 1 << 60, 0, 1 << 61, 1 << 60, 0, u64::MAX]
            .into_iter()
            .map(|v| tally.count(v))
            .collect();
        assert_eq!(met, [1, 1, 2, 1, 2, 3, 1]);
        let mut out = vec![0];
        let byte = 9u64 << 56;
        tally.repeated(
            &[byte | 7, byte | 3, byte | 7, byte | 3, byte | 3],
            &mut out,
        );
        assert_eq!(out, [0, byte | 3, byte | 7]);
        // One value met more times than a count holds.
        tally.reset(300);
        assert_eq!((0..300).map(|_| tally.count(4)).last(), Some(255));
    }

    #[test]
    fn a_stream_without_repeats_finds_none() {
        let all = values(RUN + 5, 0);
        assert_eq!(found(&all), Vec::<u64>::new());
    }
}
