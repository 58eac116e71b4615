//! The import: batches sent to Zendesk, jobs followed, every row accounted for.
//!
//! [`run`] is an ordinary async function with no UI: an [`Outbox`], a [`Client`], a
//! [`Journal`], an event sender and a cancellation token in, a [`Summary`] out. The CLI prints
//! its [`ImportEvent`]s; the TUI forwards them to its Run screen.
//!
//! Every row of the plan ends in exactly one [`RowOutcome`]: created, updated, failed (Zendesk's
//! error), skipped (our reason) or unknown (the job was lost and the row could not be
//! confirmed). The journal, synced before every request that changes state, lets an
//! interrupted run continue without creating any user twice.
//!
//! Before any user is sent, the organizations the plan lists as missing are created through
//! the same journal ([`orgs`]), and the users are sent with the ids they get.
//!
//! [`Client`]: crate::zendesk::Client

mod engine;
pub mod journal;
pub mod memberships;
pub mod orgs;
mod outbox;
mod outbox_file;
mod pacer;
pub mod report;
mod retry;
mod skipped;

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use engine::run;
pub use journal::{Journal, JournalError, RunInfo, RunListing};
pub use orgs::{OrgCounts, OrgOutcome, PlannedOrg};
pub(crate) use outbox::error_rows;
pub use outbox::{Outbox, OutboxBatch, UserKey};
pub(crate) use outbox_file::SpoolBuilder;
pub use outbox_file::{OutboxFile, OutboxWriter};
pub use retry::{Retry, RetryRows, can_succeed_again};

/// Zendesk refuses bulk calls beyond 30 jobs queued or running per account
/// (<https://developer.zendesk.com/api-reference/introduction/rate-limits/>, "Job limit").
pub const MAX_JOBS: usize = 30;

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Failed,
    Skipped,
    Unknown,
    /// Not finished when the run stopped (cancelled, or interrupted): never sent, or sent
    /// and not answered. Resuming the run sends it (looking it up first when it may have
    /// left). Never in a journal: read off one ([`journal::rows`]).
    #[serde(rename = "not_sent")]
    NotSent,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Unknown => "unknown",
            Self::NotSent => "not_sent",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which rule tied Zendesk's answer to the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Index,
    /// The user id sent (update mode), named in the result.
    Id,
    Email,
    ExternalId,
    /// The order of the results (no index, no identifier in the result).
    Position,
    /// Found with `users/show_many` or `users/search` after a lost answer.
    Lookup,
}

impl MatchedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Id => "id",
            Self::Email => "email",
            Self::ExternalId => "external_id",
            Self::Position => "position",
            Self::Lookup => "lookup",
        }
    }
}

impl From<crate::zendesk::results::MatchRule> for MatchedBy {
    fn from(rule: crate::zendesk::results::MatchRule) -> Self {
        use crate::zendesk::results::MatchRule;
        match rule {
            MatchRule::Index => Self::Index,
            MatchRule::Id => Self::Id,
            MatchRule::Email => Self::Email,
            MatchRule::ExternalId => Self::ExternalId,
            MatchRule::Position => Self::Position,
        }
    }
}

/// The end of one spreadsheet row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowOutcome {
    /// The row's place in the run (see [`OutboxBatch::first_index`]): its key, since the
    /// sheet's own row numbers can repeat or go backwards. Journals written before it existed
    /// read as [`RowOutcome::LEGACY_INDEX`] until matched to the plan by sheet row.
    #[serde(default = "RowOutcome::legacy_index")]
    pub index: u64,
    /// The sheet's row number, for people.
    pub row: u32,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Zendesk's error code, or ours (`Skipped`, `JobFailed`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<MatchedBy>,
    /// The row's errors, when `--invalid include` sent it anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_despite: Option<String>,
}

impl RowOutcome {
    /// The index of an outcome from a journal written before rows had one.
    pub const LEGACY_INDEX: u64 = u64::MAX;

    fn legacy_index() -> u64 {
        Self::LEGACY_INDEX
    }

    /// An outcome with no Zendesk id, error or match yet, naming the row's user; index 0 (the
    /// engine builds its outcomes with [`OutboxBatch::outcome`], which sets it).
    pub fn new(row: u32, outcome: Outcome, key: &UserKey) -> Self {
        Self {
            index: 0,
            row,
            outcome,
            user_id: None,
            name: key.name.clone(),
            email: key.email.clone(),
            external_id: key.external_id.clone(),
            error: None,
            details: None,
            matched_by: None,
            sent_despite: key.sent_despite.clone(),
        }
    }

    fn with_error(mut self, error: impl Into<String>, details: Option<String>) -> Self {
        self.error = Some(error.into());
        self.details = details;
        self
    }
}

/// What the import is waiting for.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitReason {
    /// 429: the account's requests per minute are used up.
    RateLimit,
    /// 429 `TooManyJobs`: 30 jobs are queued or running.
    JobLimit,
    /// Slowing down before the limit (`X-Rate-Limit-Remaining` is low).
    Pacing,
    /// A failed request is sent again after a back-off.
    Retry { attempt: u32, error: String },
    /// An answer was lost: waiting for Zendesk to finish what it may have accepted before
    /// looking the users up.
    LostAnswer { batch: usize },
}

/// Progress, sent once per batch or job change (never per row) on a bounded channel.
#[derive(Debug, Clone)]
pub enum ImportEvent {
    /// The rows already finished when the run started (skipped rows, a resumed run's rows).
    Started {
        rows: u64,
        batches: usize,
        done: Box<Summary>,
    },
    BatchSent {
        batch: usize,
        rows: Vec<u32>,
        attempt: u32,
    },
    JobUpdate {
        job_id: String,
        status: String,
        progress: Option<u64>,
        total: Option<u64>,
    },
    RowsFinished(Vec<RowOutcome>),
    Waiting {
        reason: WaitReason,
        until: Instant,
    },
    Paused,
    Resumed,
    /// Cancel was asked: nothing more is sent, jobs in flight are followed to their end.
    Cancelling,
    /// The organizations created before the users (see [`orgs`]): sent when their phase
    /// starts, as each finishes, and once at its end (`done`).
    Organizations {
        counts: OrgCounts,
        done: bool,
    },
    /// The memberships added after the users (see [`memberships`]): sent when their phase
    /// starts, as each call's memberships end, and once at its end (`done`, whether every
    /// membership ended or the run was cancelled: the counts say which).
    Memberships {
        counts: memberships::MemberCounts,
        done: bool,
    },
    Finished(Box<Summary>),
}

/// The counts at the end (or at any point) of a run; they add up to `rows`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    pub skipped: u64,
    pub unknown: u64,
    /// Rows not finished: never sent, or in flight, when the run was cancelled.
    pub pending: u64,
    /// Bulk requests sent by this process (resends included).
    pub requests: u64,
    /// `job_statuses/show_many` polls sent by this process.
    #[serde(default)]
    pub polls: u64,
    pub elapsed_ms: u64,
    pub cancelled: bool,
    /// The organizations the run creates before its users; not rows, so not in `rows`.
    #[serde(default, skip_serializing_if = "OrgCounts::is_empty")]
    pub organizations: OrgCounts,
    /// The memberships added after the users; not rows either.
    #[serde(default, skip_serializing_if = "memberships::MemberCounts::is_empty")]
    pub memberships: memberships::MemberCounts,
}

impl Summary {
    /// Counts one more finished row.
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Unknown => self.unknown += 1,
            // Still pending.
            Outcome::NotSent => return,
        }
        self.pending = self.pending.saturating_sub(1);
    }

    pub fn finished(&self) -> u64 {
        self.created + self.updated + self.failed + self.skipped + self.unknown
    }

    /// Every row created or updated.
    pub fn all_succeeded(&self) -> bool {
        self.created + self.updated == self.rows
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rows: {} created, {} updated, {} failed, {} skipped, {} unknown",
            self.rows, self.created, self.updated, self.failed, self.skipped, self.unknown
        )?;
        if self.pending > 0 {
            write!(f, ", {} not sent yet", self.pending)?;
        }
        if !self.organizations.is_empty() {
            write!(f, "; {}", self.organizations)?;
        }
        if !self.memberships.is_empty() {
            write!(f, "; {}", self.memberships)?;
        }
        Ok(())
    }
}

/// How the engine paces itself.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Jobs queued or running at once (bulk calls in flight included), at most [`MAX_JOBS`].
    pub concurrency: usize,
    /// Time between two `job_statuses/show_many` polls.
    pub poll_interval: Duration,
    /// The rate limit's window (Zendesk: a minute), for spacing requests when few are left.
    pub rate_window: Duration,
    /// Slow down once `X-Rate-Limit-Remaining` falls to this share of `X-Rate-Limit`.
    pub rate_reserve: f64,
    /// First back-off after a 5xx, timeout or dropped connection; doubled each attempt.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts of one request before its rows are given up as unknown.
    pub max_attempts: u32,
    /// After a lost answer in create mode: how long to let Zendesk finish a job it may have
    /// accepted before looking the users up.
    pub lost_answer_settle: Duration,
    /// Polls in a row that do not find a job before it counts as lost.
    pub job_missing_polls: u32,
    /// How long a user created by a request whose answer was lost may take to appear in
    /// `users/search` (eventually consistent: "a few minutes", API.md). A user Zendesk says
    /// holds the email is looked up again until then, never sent again.
    pub search_lag: Duration,
    /// Time between two lookups of such a user.
    pub search_retry: Duration,
    /// After a cancel, how long jobs in flight are followed before the run stops anyway; the
    /// journal keeps them, and resume follows them on.
    pub cancel_follow: Duration,
    /// A job not finished this long after Zendesk accepted it is given up on: its rows end
    /// `unknown` with the reason (retry looks them up), never sent blindly again.
    pub job_deadline: Duration,
    /// `true` pauses sending (jobs in flight are still followed).
    pub pause: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: MAX_JOBS,
            poll_interval: Duration::from_secs(1),
            rate_window: Duration::from_secs(60),
            rate_reserve: 0.1,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_attempts: 8,
            lost_answer_settle: Duration::from_secs(30),
            job_missing_polls: 30,
            search_lag: Duration::from_secs(5 * 60),
            search_retry: Duration::from_secs(15),
            cancel_follow: Duration::from_secs(60),
            job_deadline: Duration::from_secs(60 * 60),
            pause: None,
        }
    }
}

impl EngineOptions {
    /// The defaults with every duration divided by `speed`: for the sandbox, whose clock runs
    /// `speed` times faster than real time.
    pub fn for_speed(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        let d = Self::default();
        Self {
            poll_interval: d.poll_interval.div_f64(speed),
            rate_window: d.rate_window.div_f64(speed),
            backoff: d.backoff.div_f64(speed),
            max_backoff: d.max_backoff.div_f64(speed),
            lost_answer_settle: d.lost_answer_settle.div_f64(speed),
            search_lag: d.search_lag.div_f64(speed),
            search_retry: d.search_retry.div_f64(speed),
            cancel_follow: d.cancel_follow.div_f64(speed),
            job_deadline: d.job_deadline.div_f64(speed),
            ..d
        }
    }
}

/// Why a run stopped before every row was finished.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("Zendesk refused the import: {0}")]
    Refused(Box<crate::zendesk::ZendeskError>),
    #[error("batch {batch} (rows {rows}): cannot encode the users: {reason}")]
    Encode {
        batch: usize,
        rows: String,
        reason: String,
    },
}
