//! Background requests in lanes: a newer request of a lane stops the one before it and makes
//! its answers stale, so an answer the operator has moved on from (a table still loading when
//! another file was opened, a check of an earlier mapping, the detail of a row closed since)
//! never lands on the screen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::app::{AppEvent, Command};

/// Requests whose answers supersede each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// The file browser's listings.
    Browse,
    /// The workbook: opening, previewing and loading a sheet.
    Workbook,
    /// Checking the rows offline.
    Check,
    /// The account's check of the rows and the lookups.
    Account,
    /// A row's detail read from the run folder.
    Detail,
    /// The connection test.
    Connection,
}

impl Lane {
    /// The lane of a command whose answer can go stale; none for the others (an import's
    /// events are never stale, and nothing answers a pause).
    pub fn of(command: &Command) -> Option<Lane> {
        Some(match command {
            Command::ListDir(_) => Lane::Browse,
            Command::OpenFile(_)
            | Command::PreviewSheet(_)
            | Command::LoadTable { .. }
            | Command::Reload { .. } => Lane::Workbook,
            Command::Check { .. } => Lane::Check,
            Command::CheckAccount { .. } | Command::BuildPlan { .. } => Lane::Account,
            Command::SentUser { .. } => Lane::Detail,
            Command::TestConnection(_) => Lane::Connection,
            _ => return None,
        })
    }
}

/// One request of a lane: its id, and the flag that asks it to stop.
#[derive(Debug, Clone)]
pub struct Ticket {
    lane: Lane,
    id: u64,
    stop: Arc<AtomicBool>,
}

impl Ticket {
    /// Whether the request should stop (stopped, or made stale by a newer one).
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The current request of each lane.
#[derive(Debug, Clone, Default)]
pub struct Lanes {
    current: Arc<Mutex<HashMap<Lane, Ticket>>>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl Lanes {
    /// Starts a request in `lane`: the one before it is stopped, its answers from now on
    /// dropped.
    pub fn start(&self, lane: Lane) -> Ticket {
        let ticket = Ticket {
            lane,
            id: self.next.fetch_add(1, Ordering::SeqCst),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = current.insert(lane, ticket.clone()) {
            old.stop.store(true, Ordering::SeqCst);
        }
        ticket
    }

    /// Asks the current request of `lane` to stop; it still answers (with `Cancelled`).
    pub fn stop(&self, lane: Lane) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ticket) = current.get(&lane) {
            ticket.stop.store(true, Ordering::SeqCst);
        }
    }

    /// Whether `ticket` is still its lane's current request.
    pub fn is_current(&self, ticket: &Ticket) -> bool {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.get(&ticket.lane).is_some_and(|t| t.id == ticket.id)
    }

    /// A sender for the answers of `ticket`'s request: they reach `tx` while the request is
    /// its lane's current one, and are dropped once a newer one started.
    pub fn answers(&self, ticket: &Ticket, tx: &mpsc::Sender<AppEvent>) -> mpsc::Sender<AppEvent> {
        let (answers, mut incoming) = mpsc::channel(32);
        let lanes = self.clone();
        let ticket = ticket.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = incoming.recv().await {
                if lanes.is_current(&ticket) && tx.send(event).await.is_err() {
                    break;
                }
            }
        });
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_newer_request_stops_the_older_and_drops_its_answers() {
        let lanes = Lanes::default();
        let (tx, mut rx) = mpsc::channel(8);
        let first = lanes.start(Lane::Check);
        let first_answers = lanes.answers(&first, &tx);
        let other_lane = lanes.start(Lane::Detail);
        assert!(!first.stopped(), "another lane leaves it alone");
        let second = lanes.start(Lane::Check);
        let second_answers = lanes.answers(&second, &tx);
        assert!(first.stopped() && !second.stopped());
        first_answers.send(AppEvent::Cancelled).await.unwrap();
        second_answers
            .send(AppEvent::Failed("the second".into()))
            .await
            .unwrap();
        let got = rx.recv().await.unwrap();
        assert!(
            matches!(&got, AppEvent::Failed(m) if m == "the second"),
            "{got:?}"
        );
        drop((first_answers, second_answers, tx));
        assert!(rx.recv().await.is_none(), "the stale answer never came");
        // Stopping keeps a request current: its Cancelled answer is what the screen waits for.
        lanes.stop(Lane::Detail);
        assert!(other_lane.stopped() && lanes.is_current(&other_lane));
    }
}
