//! `retry`: a new run that sends the failed and unknown rows of an earlier one, and the rows
//! skipped because their organization could not be created (it is created first, or found).
//!
//! An unknown row may be in Zendesk already (its job was killed after creating it, or its
//! result went missing), so the new run's journal records its users as maybe sent: the engine
//! looks them up, as after a lost answer, and sends only those Zendesk does not hold.

use std::path::Path;

use super::journal::{self, Finished, Journal};
use super::outbox_file::{OutboxFile, SpoolBuilder};
use super::{ImportError, Outbox, OutboxBatch, Outcome, RowOutcome, RunInfo};

/// Which rows a retry sends again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryRows {
    /// Unknown rows, and failures that can succeed sent again unchanged
    /// ([`can_succeed_again`]).
    #[default]
    Retryable,
    /// Every failed and unknown row.
    AllFailed,
}

impl RetryRows {
    /// Whether a row that ended so is sent again.
    pub fn takes(self, outcome: &RowOutcome) -> bool {
        match outcome.outcome {
            Outcome::Unknown => true,
            Outcome::Failed => self == Self::AllFailed || can_succeed_again(outcome),
            // Its organization could not be created: the retry tries that again first.
            Outcome::Skipped => {
                outcome.error.as_deref() == Some(super::orgs::ORGANIZATION_NOT_CREATED)
            }
            _ => false,
        }
    }
}

/// Whether a failed row can succeed sent again unchanged: Zendesk refused it for a passing
/// reason (a rate limit, a server error, a timeout, a record busy with another update), not
/// for its data (an invalid or duplicate value, a permission), which only a corrected sheet
/// changes.
pub fn can_succeed_again(outcome: &RowOutcome) -> bool {
    const PASSING: [&str; 8] = [
        "timeout",
        "timedout",
        "toomany",
        "ratelimit",
        "internal",
        "unavailable",
        "tryagain",
        "locked",
    ];
    let Some(code) = outcome.error.as_deref() else {
        return false;
    };
    let code = code.to_ascii_lowercase().replace(['_', ' ', '-'], "");
    let status = code
        .strip_prefix("http")
        .and_then(|s| s.parse::<u16>().ok());
    matches!(status, Some(429 | 500..=599)) || PASSING.iter().any(|p| code.contains(p))
}

/// The rows to send again, read from a locked earlier run.
#[derive(Debug)]
pub struct Retry {
    pub old: RunInfo,
    /// The new run: the earlier run's account, file and mode.
    pub info: RunInfo,
    /// The earlier plan's failed and unknown rows, with the same bodies (in a spool beside
    /// the run folders until [`Retry::create`] makes the new one).
    pub plan: OutboxFile,
    /// The rows of `plan` that ended unknown, by their index in it: a byte a row, not a
    /// position list per batch.
    unknown: Finished,
    /// The journal lines that start the new run's organizations where the earlier run left
    /// them (see [`super::orgs::carried`]).
    orgs: Vec<super::journal::Entry>,
    /// Zendesk's time before the earlier run sent anything (Unix seconds): a user with a
    /// `created_at` no earlier was created by it, whatever the resend is answered.
    since: Option<i64>,
    /// Holds the earlier run's lock while the retry runs, so no resume of it sends the same
    /// rows at the same time; its journal is let go once read (its replay holds a position
    /// list per request the earlier run sent).
    _old_lock: journal::RunHold,
}

impl Retry {
    /// Opens the run in `dir` (locking it) and picks its failed and unknown rows.
    pub fn read(dir: &Path) -> Result<Self, ImportError> {
        Self::read_rows(dir, RetryRows::AllFailed)
    }

    /// Opens the run in `dir` (locking it) and picks the rows `rows` says.
    pub fn read_rows(dir: &Path, rows: RetryRows) -> Result<Self, ImportError> {
        let (old, plan, old_journal) = Journal::open(dir)?;
        // The outcomes read one at a time: memory holds a byte per row sent again.
        let mut again = Finished::default();
        journal::each_outcome(dir, |o| {
            if rows.takes(&o) {
                again.insert(o.index, o.outcome);
            }
            Ok::<(), ImportError>(())
        })?;
        let runs = dir.parent().unwrap_or(dir);
        let (plan, unknown) = retained(&plan, runs, &again)?;
        // The organizations the retried users name, counted as their batches were written.
        let orgs = super::orgs::carried(&plan.organizations, old_journal.replay());
        let since = old_journal
            .replay()
            .sent
            .values()
            .filter_map(|s| s.zendesk_time)
            .min()
            .or_else(|| journal::zendesk_time_before(&old.created_at));
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
            unknown,
            orgs,
            since,
            _old_lock: old_journal.hold(),
        })
    }

    /// Keeps the earlier run locked after this is dropped, while the retry runs.
    pub fn hold(&self) -> journal::RunHold {
        self._old_lock.clone()
    }

    /// Makes the new run folder under `runs`, its unknown rows recorded as maybe sent.
    pub fn create(&self, runs: &Path) -> Result<Journal, ImportError> {
        let mut journal = Journal::create_from(runs, &self.info, &self.plan)?;
        for entry in &self.orgs {
            journal.record_applied(entry.clone())?;
        }
        for batch in 0..self.plan.batches() {
            let Some(at) = self.plan.batch_ref(batch) else {
                continue;
            };
            let positions = (0..at.size)
                .map(journal::position)
                .filter(|&p| self.unknown.contains_key(&(at.first_index + u64::from(p))))
                .collect();
            journal.maybe_sent(batch, positions, self.since)?;
        }
        Ok(journal)
    }
}

/// The rows of `plan` at the indexes `again` holds, with the same bodies, in a spool in
/// `runs` (one batch in memory at a time); and which of them ended unknown, by their index in
/// it. The earlier plan's organizations are narrowed to those the kept users name.
fn retained(
    plan: &OutboxFile,
    runs: &Path,
    again: &Finished,
) -> Result<(OutboxFile, Finished), ImportError> {
    let mut spool = SpoolBuilder::create(runs)?;
    let names: Vec<String> = plan.organizations.iter().map(|o| o.name.clone()).collect();
    let mut named = super::orgs::MissingCount::new(&names);
    let mut unknown = Finished::default();
    let mut batches = 0;
    let mut first_index = 0;
    for b in 0..plan.batches() {
        let batch = plan.read(b)?;
        let kept: Vec<journal::Position> = batch
            .positions()
            .filter(|&p| again.contains_key(&batch.index(p)))
            .collect();
        if kept.is_empty() {
            continue;
        }
        let kept_batch = kept_of(&batch, b, &kept, first_index)?;
        // Only users name organizations created first (an organizations sheet creates none).
        if !names.is_empty() {
            named.add_batch(batches, &kept_batch)?;
        }
        spool.push(&kept_batch)?;
        for (k, &p) in kept.iter().enumerate() {
            if again.get(batch.index(p)) == Some(Outcome::Unknown) {
                unknown.insert(first_index + k as u64, Outcome::Unknown);
            }
        }
        first_index += kept.len() as u64;
        batches += 1;
    }
    let mut head = Outbox::new(plan.mode);
    // An organizations sheet's rows are organizations again: sent to their endpoints.
    head.object = plan.object;
    head.organizations = named.finish();
    Ok((spool.finish(head)?, unknown))
}

/// The users of `batch` (batch `b` of the earlier plan) at `kept`, as a batch of the retry's
/// plan starting at `first_index`.
fn kept_of(
    batch: &OutboxBatch,
    b: usize,
    kept: &[journal::Position],
    first_index: u64,
) -> Result<OutboxBatch, ImportError> {
    let body = batch.body_for(kept).map_err(|reason| ImportError::Encode {
        batch: b,
        rows: super::report::row_list(&batch.rows),
        reason,
    })?;
    Ok(OutboxBatch {
        first_index,
        rows: kept.iter().map(|&p| batch.row(p)).collect(),
        keys: kept
            .iter()
            .map(|&p| batch.keys[usize::from(p)].clone())
            .collect(),
        body,
        sent_as: batch.sent_as,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::UserKey;

    fn failed(code: Option<&str>) -> RowOutcome {
        let mut o = RowOutcome::new(2, Outcome::Failed, &UserKey::default());
        o.error = code.map(str::to_owned);
        o
    }

    #[test]
    fn passing_refusals_can_succeed_again_data_refusals_cannot() {
        for code in [
            "HTTP503",
            "HTTP429",
            "InternalError",
            "TooManyRequests",
            "Timeout",
        ] {
            assert!(can_succeed_again(&failed(Some(code))), "{code}");
        }
        for code in [
            "DuplicateValue",
            "RecordInvalid",
            "PermissionDenied",
            "HTTP422",
        ] {
            assert!(!can_succeed_again(&failed(Some(code))), "{code}");
        }
        assert!(!can_succeed_again(&failed(None)));
    }

    #[test]
    fn retryable_takes_unknown_and_passing_failures_all_takes_every_failure() {
        let unknown = RowOutcome::new(3, Outcome::Unknown, &UserKey::default());
        let created = RowOutcome::new(4, Outcome::Created, &UserKey::default());
        let data = failed(Some("DuplicateValue"));
        let passing = failed(Some("HTTP500"));
        let taken = |rows: RetryRows| {
            [&unknown, &created, &data, &passing]
                .iter()
                .filter(|o| rows.takes(o))
                .count()
        };
        assert_eq!(taken(RetryRows::Retryable), 2);
        assert_eq!(taken(RetryRows::AllFailed), 3);
    }

    #[test]
    fn a_retry_of_an_organizations_sheet_sends_organizations() {
        let tmp = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::new(crate::payload::Mode::Create);
        outbox.object = crate::mapping::Object::Organizations;
        outbox.batches.push(OutboxBatch {
            first_index: 0,
            rows: vec![2, 3],
            keys: vec![UserKey::default(), UserKey::default()],
            body: bytes::Bytes::from_static(br#"{"organizations":[{"name":"A"},{"name":"B"}]}"#),
            sent_as: None,
        });
        let plan = OutboxFile::spool(tmp.path(), &outbox).unwrap();
        let mut again = Finished::default();
        again.insert(1, Outcome::Unknown);
        let (kept, unknown) = retained(&plan, tmp.path(), &again).unwrap();
        assert_eq!(kept.object, crate::mapping::Object::Organizations);
        assert_eq!(kept.endpoint(0), plan.endpoint(0));
        assert_eq!(kept.read(0).unwrap().rows, [3]);
        assert_eq!(unknown.get(0), Some(Outcome::Unknown));
    }
}
