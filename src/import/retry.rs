//! `retry`: a new run that sends the failed and unknown rows of an earlier one.
//!
//! An unknown row may be in Zendesk already (its job was killed after creating it, or its
//! result went missing), so the new run's journal records its users as maybe sent: the engine
//! looks them up, as after a lost answer, and sends only those Zendesk does not hold.

use std::collections::HashSet;
use std::path::Path;

use super::journal::{self, Journal};
use super::{ImportError, ImportPlan, Outcome, RunInfo};

/// The rows to send again, read from a locked earlier run.
#[derive(Debug)]
pub struct Retry {
    pub old: RunInfo,
    /// The new run: the earlier run's account, file and mode.
    pub info: RunInfo,
    /// The earlier plan's failed and unknown rows, with the same bodies.
    pub plan: ImportPlan,
    /// Per batch of `plan`: the positions whose rows ended unknown.
    unknown: Vec<Vec<usize>>,
    /// Holds the earlier run's lock while the retry runs, so no resume of it sends the same
    /// rows at the same time.
    _old_journal: Journal,
}

impl Retry {
    /// Opens the run in `dir` (locking it) and picks its failed and unknown rows.
    pub fn read(dir: &Path) -> Result<Self, ImportError> {
        let (old, plan, old_journal) = Journal::open(dir)?;
        let finished = &old_journal.replay().finished;
        let ended = |wanted: Outcome| -> HashSet<u64> {
            let finished = finished.values();
            finished
                .filter(|o| o.outcome == wanted)
                .map(|o| o.index)
                .collect()
        };
        let unknown = ended(Outcome::Unknown);
        let again: HashSet<u64> = ended(Outcome::Failed).union(&unknown).copied().collect();
        let positions = unknown_positions(&plan, &again, &unknown);
        let plan = plan.retain_rows(&again)?;
        let info = RunInfo {
            id: journal::new_run_id(),
            created_at: chrono::Utc::now().to_rfc3339(),
            rows: plan.rows() as u64,
            retry_of: Some(old.id.clone()),
            ..old.clone()
        };
        Ok(Self {
            old,
            info,
            plan,
            unknown: positions,
            _old_journal: old_journal,
        })
    }

    /// Makes the new run folder under `runs`, its unknown rows recorded as maybe sent.
    pub fn create(&self, runs: &Path) -> Result<Journal, ImportError> {
        let mut journal = Journal::create(runs, &self.info, &self.plan)?;
        for (batch, positions) in self.unknown.iter().enumerate() {
            journal.maybe_sent(batch, positions.clone())?;
        }
        Ok(journal)
    }
}

/// Per batch of the retained plan (the batches with a row in `again`, in order): the positions
/// of the rows in `unknown`.
fn unknown_positions(
    plan: &ImportPlan,
    again: &HashSet<u64>,
    unknown: &HashSet<u64>,
) -> Vec<Vec<usize>> {
    plan.batches
        .iter()
        .map(|b| {
            (0..b.rows.len())
                .map(|p| b.index(p))
                .filter(|i| again.contains(i))
                .collect::<Vec<u64>>()
        })
        .filter(|kept| !kept.is_empty())
        .map(|kept| {
            (0..kept.len())
                .filter(|&p| unknown.contains(&kept[p]))
                .collect()
        })
        .collect()
}
