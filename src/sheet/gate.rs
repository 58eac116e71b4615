//! calamine reads a zip workbook while the guard ([`super::guard`]) is still checking it, never
//! ahead of it.
//!
//! The guard used to check every part before calamine opened the file: at a million rows that
//! was two seconds of inflating and scanning before the first cell, on one core. Now it runs on
//! a thread of its own, and calamine's file is a [`Gated`] reader: a byte of a part the guard
//! checks is handed to calamine only once the guard has inflated and scanned everything that
//! byte inflates to. calamine follows the guard through the shared strings and then down the
//! worksheet; what the guard refuses, calamine never inflates. The bytes of no checked part
//! (the zip's directory and headers) are read freely.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::guard;
use super::limits::Limits;

/// What calamine may read of the file so far, shared by the guard's thread and calamine's
/// reader.
#[derive(Debug, Default)]
pub(super) struct Gate {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The compressed bytes of each part the guard has not finished, and the offset below
    /// which they are checked (the part's start until the guard gets to it).
    held: Vec<(Range<u64>, u64)>,
    /// How the guard ended: every part passed, or the first part refused and why.
    outcome: Option<Result<(), String>>,
    /// The workbook was closed: the guard stops at its next buffer.
    abandoned: bool,
}

impl Gate {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state is whole after every change: a panic elsewhere leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many of `want` bytes from `at` may be read now, waiting until one may; the guard's
    /// refusal once it has refused.
    fn readable(&self, at: u64, want: usize) -> io::Result<usize> {
        let mut state = self.state();
        loop {
            match &state.outcome {
                Some(Err(why)) => return Err(io::Error::other(why.clone())),
                Some(Ok(())) => return Ok(want),
                None => {}
            }
            let mut next_held = u64::MAX;
            let mut waiting = false;
            for (range, checked) in &state.held {
                let from = (*checked).max(range.start);
                if from >= range.end {
                    continue;
                }
                if (from..range.end).contains(&at) {
                    waiting = true;
                    break;
                }
                if from > at {
                    next_held = next_held.min(from);
                }
            }
            if !waiting {
                let room = usize::try_from(next_held - at).unwrap_or(usize::MAX);
                return Ok(want.min(room));
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The guard has checked part `part` (its place in the held list) up to `offset`; false
    /// once nobody reads the workbook any more.
    fn checked(&self, part: usize, offset: u64) -> bool {
        let mut state = self.state();
        if let Some((range, checked)) = state.held.get_mut(part) {
            let offset = offset.min(range.end);
            if offset > *checked {
                *checked = offset;
                self.changed.notify_all();
            }
        }
        !state.abandoned
    }

    fn finish(&self, outcome: Result<(), String>) {
        let mut state = self.state();
        if state.outcome.is_none() {
            state.outcome = Some(outcome);
        }
        self.changed.notify_all();
    }

    /// Waits for the guard to end; its refusal, if it refused.
    pub(super) fn outcome(&self) -> Result<(), String> {
        let mut state = self.state();
        loop {
            if let Some(outcome) = &state.outcome {
                return outcome.clone();
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The guard's refusal, if it has refused by now.
    pub(super) fn refused(&self) -> Option<String> {
        match &self.state().outcome {
            Some(Err(why)) => Some(why.clone()),
            _ => None,
        }
    }

    fn abandon(&self) {
        self.state().abandoned = true;
    }
}

/// The guard's thread for one open workbook: stops it when the workbook is closed.
#[derive(Debug)]
pub(super) struct Guarded {
    pub(super) gate: Arc<Gate>,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.gate.abandon();
    }
}

/// Starts checking the workbook at `path` on a thread of its own, and opens the file for
/// calamine behind it.
pub(super) fn open(path: &Path, limits: &Limits) -> io::Result<(Gated, Guarded)> {
    let file = File::open(path)?;
    let gate = Arc::new(Gate::default());
    match guard::parts(path) {
        None => gate.finish(Ok(())),
        Some((mut package, parts)) => {
            gate.state().held = parts.iter().map(|p| (p.data.clone(), 0)).collect();
            let limits = *limits;
            let shared = Arc::clone(&gate);
            let spawned = std::thread::Builder::new()
                .name("zdimport-guard".into())
                .spawn(move || {
                    // Ends the gate even if the check panics: calamine never waits forever.
                    let ender = Ender(Arc::clone(&shared));
                    let mut checked = |part, offset| shared.checked(part, offset);
                    let outcome = guard::check_parts(&mut package, &parts, &limits, &mut checked);
                    ender.0.finish(outcome);
                });
            if let Err(e) = spawned {
                gate.finish(Err(format!("cannot start checking the workbook: {e}")));
            }
        }
    }
    let gated = Gated {
        file,
        at: 0,
        gate: Arc::clone(&gate),
    };
    Ok((gated, Guarded { gate }))
}

/// Ends the gate when the guard's thread ends without saying how (a panic).
struct Ender(Arc<Gate>);

impl Drop for Ender {
    fn drop(&mut self) {
        self.0.finish(Err(
            "the check of the workbook's parts stopped unexpectedly".to_owned(),
        ));
    }
}

/// The workbook's file as calamine reads it: a read of bytes the guard has not checked yet
/// waits for it, and fails once it has refused the workbook.
#[derive(Debug)]
pub struct Gated {
    file: File,
    at: u64,
    gate: Arc<Gate>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.gate.readable(self.at, buf.len())?;
        let read = self.file.read(&mut buf[..n])?;
        self.at += read as u64;
        Ok(read)
    }
}

impl Seek for Gated {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.at = self.file.seek(to)?;
        Ok(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(held: Vec<(Range<u64>, u64)>) -> Gate {
        let gate = Gate::default();
        gate.state().held = held;
        gate
    }

    #[test]
    fn bytes_outside_held_parts_are_read_up_to_the_next_held_byte() {
        let gate = gate(vec![(100..200, 0), (300..400, 0)]);
        assert_eq!(gate.readable(0, 50).unwrap(), 50);
        assert_eq!(gate.readable(0, 500).unwrap(), 100);
        assert_eq!(gate.readable(250, 500).unwrap(), 50);
        assert_eq!(gate.readable(400, 500).unwrap(), 500);
        // Checked up to 150: the part's first half is open.
        assert!(gate.checked(0, 150));
        assert_eq!(gate.readable(100, 500).unwrap(), 50);
        // Past the part's end counts as its end.
        assert!(gate.checked(0, 10_000));
        assert_eq!(gate.readable(100, 500).unwrap(), 200);
    }

    #[test]
    fn a_read_of_unchecked_bytes_waits_for_the_guard() {
        let gate = Arc::new(gate(vec![(0..1000, 0)]));
        let guard = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                for offset in (100..=1000).step_by(100) {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    assert!(gate.checked(0, offset));
                }
                gate.finish(Ok(()));
            })
        };
        let mut at = 0;
        while at < 1000 {
            let n = gate.readable(at, 4096).unwrap();
            assert!(n > 0);
            // Never past what was checked when the read was let through (bytes past the
            // part's end, 1000, are in no part: free).
            let checked = gate.state().held[0].1;
            assert!(
                gate.state().outcome.is_some() || (at + n as u64).min(1000) <= checked,
                "{at} + {n} past {checked}"
            );
            at += n as u64;
        }
        guard.join().unwrap();
        assert_eq!(gate.outcome(), Ok(()));
    }

    #[test]
    fn a_refusal_fails_every_read_and_a_waiting_one() {
        let gate = Arc::new(gate(vec![(0..1000, 0)]));
        let reader = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || gate.readable(10, 100))
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        gate.finish(Err("xl/worksheets/sheet1.xml: too big".into()));
        let error = reader.join().unwrap().unwrap_err();
        assert!(error.to_string().contains("too big"), "{error}");
        assert!(gate.readable(5000, 10).is_err());
        assert_eq!(
            gate.refused().as_deref(),
            Some("xl/worksheets/sheet1.xml: too big")
        );
    }

    #[test]
    fn a_closed_workbook_stops_the_guard() {
        let gate = Arc::new(gate(vec![(0..1000, 0)]));
        let guarded = Guarded {
            gate: Arc::clone(&gate),
        };
        assert!(gate.checked(0, 10));
        drop(guarded);
        assert!(!gate.checked(0, 20));
    }
}
