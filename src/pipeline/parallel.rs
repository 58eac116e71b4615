//! Rows prepared on every core and handed back in sheet order.
//!
//! A row's own checking ([`crate::payload::Checker::prepare`]) needs no other row, and it is
//! most of the work: with one thread reading and one preparing, the reader of a CSV file sat
//! at twice the checker's load, and an xlsx file's unzipping and XML left no room for the
//! checks on its thread. Here one thread reads and cuts the rows into chunks, workers on the
//! other cores prepare whole chunks as they come, and the calling thread takes them back in the
//! order they were read: what needs earlier rows (duplicates, batches, counts) stays serial.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

/// Chunks read ahead of the workers, and chunks prepared ahead of the caller: bounded, so
/// memory stays flat however long the sheet, and a stopped caller stops everyone.
const AHEAD: usize = 4;

/// Workers preparing rows besides the reading and the calling threads' own work.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8))
}

/// Runs `read` on a thread of its own, handing it a `send` that queues one chunk (and says
/// whether anyone still wants chunks); `prepare` turns each chunk into its result on the
/// worker threads, and `take` receives the results on this thread, in the order `send` was
/// called. `take` can stop everything with `ControlFlow::Break`: the reader's next `send`
/// then answers false. Returns what `read` returned and whether `take` stopped.
///
/// `prepare` runs with a per-worker state made by `state` (a checker built once per worker).
pub fn in_order<C, P, S, R>(
    read: impl FnOnce(&mut dyn FnMut(C) -> bool) -> R + Send,
    state: impl Fn() -> S + Sync,
    prepare: impl Fn(&mut S, C) -> P + Sync,
    mut take: impl FnMut(P) -> ControlFlow<()>,
) -> (R, bool)
where
    C: Send,
    P: Send,
    R: Send,
{
    let (raw_tx, raw_rx) = sync_channel::<(u64, C)>(AHEAD);
    let (done_tx, done_rx) = sync_channel::<(u64, P)>(AHEAD);
    // Each worker holds the receiver: once they have all ended (or panicked), the reader's
    // next `send` fails instead of waiting for a worker that will never come.
    let raw_rx = Arc::new(Mutex::new(raw_rx));
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut next = 0u64;
            let mut send = |chunk: C| {
                let sent = raw_tx.send((next, chunk)).is_ok();
                next += 1;
                sent
            };
            read(&mut send)
        });
        for _ in 0..workers() {
            let (raw_rx, done_tx) = (Arc::clone(&raw_rx), done_tx.clone());
            let (state, prepare) = (&state, &prepare);
            scope.spawn(move || work(&raw_rx, &done_tx, state(), prepare));
        }
        drop((raw_rx, done_tx));
        let stopped = take_in_order(&done_rx, &mut take);
        // Closed: the workers stop at their next chunk, and with them the reader.
        drop(done_rx);
        let read = match reader.join() {
            Ok(read) => read,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (read, stopped)
    })
}

/// One worker: prepares chunks until the reader is done or the caller stopped.
fn work<C, P, S>(
    raw: &Mutex<Receiver<(u64, C)>>,
    done: &SyncSender<(u64, P)>,
    mut state: S,
    prepare: &impl Fn(&mut S, C) -> P,
) {
    loop {
        // The lock is held only to take a chunk; a worker that panicked holding it left the
        // receiver whole, so its poison is ignored (the panic itself reaches the caller).
        let next = raw.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok((seq, chunk)) = next else {
            return;
        };
        if done.send((seq, prepare(&mut state, chunk))).is_err() {
            return;
        }
    }
}

/// Hands the prepared chunks to `take` in their sequence; true when `take` stopped.
fn take_in_order<P>(
    done: &Receiver<(u64, P)>,
    take: &mut impl FnMut(P) -> ControlFlow<()>,
) -> bool {
    let mut early: BTreeMap<u64, P> = BTreeMap::new();
    let mut next = 0u64;
    for (seq, prepared) in done {
        early.insert(seq, prepared);
        while let Some(prepared) = early.remove(&next) {
            next += 1;
            if take(prepared).is_break() {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_order_read_whatever_order_they_finish() {
        let mut seen = Vec::new();
        let (read, stopped) = in_order(
            |send| (0..200u64).filter(|&i| send(i)).count(),
            || 0u32,
            |calls, i| {
                *calls += 1;
                // Later chunks finish first now and then.
                if i % 7 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                i * 2
            },
            |p| {
                seen.push(p);
                ControlFlow::Continue(())
            },
        );
        assert_eq!(read, 200);
        assert!(!stopped);
        assert_eq!(seen, (0..200u64).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_stop_reaches_the_reader_and_nothing_more_is_taken() {
        let mut taken = 0;
        let (sent, stopped) = in_order(
            |send| {
                let mut sent = 0u64;
                while sent < 1_000_000 && send(sent) {
                    sent += 1;
                }
                sent
            },
            || (),
            |(), i| i,
            |i| {
                taken += 1;
                if i == 10 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert!(stopped);
        assert_eq!(taken, 11);
        // The reader stopped long before the end: only what was in flight was read after.
        assert!(sent < 1_000, "{sent} chunks read after a stop");
    }

    #[test]
    fn a_panic_while_preparing_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            in_order(
                |send| (0..50u64).filter(|&i| send(i)).count(),
                || (),
                |(), i| {
                    assert!(i != 20, "row 20 is bad");
                    i
                },
                |_| ControlFlow::Continue(()),
            )
        });
        assert!(caught.is_err());
    }
}
