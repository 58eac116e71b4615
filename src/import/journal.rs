//! The run folder: `run.json` (what was imported where), `plan.jsonl` (every batch as sent)
//! and `journal.jsonl` (what happened, one JSON line per state change, fsynced).
//!
//! A `sending` line is on disk (synced) before a bulk request leaves and an `accepted` line
//! (with the job id) is written right after its answer, so after a crash every batch is in one
//! of three states: never sent, maybe accepted (sending without accepted: look it up before
//! sending again), or accepted (follow its job). Every line is written as its change happens,
//! so a killed process loses none; the lines that only record what can be found again
//! (`accepted`, `resolved`: a job polled again, a user looked up again) are synced with the
//! next `sending` line or the run's end rather than each on its own, so a round of 30 jobs
//! costs one sync, not 60, between a job's end and the next request. Nothing here holds a
//! secret: no header, token or password.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read as _, Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::orgs::{OrgOutcome, PlannedOrg};
use super::outbox::{Outbox, UserKey};
use super::outbox_file::OutboxFile;
use super::{Outcome, RowOutcome, Summary};
use crate::payload::Mode;

/// The run folder cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {reason}; {advice}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
        advice: &'static str,
    },
    #[error("no data dir: set ZDIMPORT_DATA_DIR")]
    NoDataDir,
    #[error("no run '{id}' in {runs} (zdimport runs lists them)")]
    NoSuchRun { id: String, runs: PathBuf },
    #[error("no unfinished run in {runs}{unreadable} (zdimport runs lists them)")]
    NoUnfinishedRun { runs: PathBuf, unreadable: String },
    #[error(
        "run {dir} is in use by another zdimport ({holder}); wait for it to end, or stop that \
         process first"
    )]
    Locked { dir: PathBuf, holder: String },
}

/// What to do about a damaged `run.json`.
const RUN_JSON_ADVICE: &str = "it names the account, file and mode of the run, which cannot be \
     resumed without it: restore it from a backup, or import the file again in upsert mode \
     (users already created are updated, not created twice)";
/// What to do about a damaged `plan.jsonl`.
pub(crate) const PLAN_ADVICE: &str = "it holds what the run sends, which cannot be resumed without it: \
     restore it from a backup, or import the file again in upsert mode (users already created \
     are updated, not created twice)";

pub(crate) fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io {
        path,
        action,
        source,
    }
}

/// What was imported where: `run.json`. Never a credential.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub file: String,
    pub sheet: String,
    #[serde(default)]
    pub profile: Option<String>,
    /// `Header -> target` per mapped column.
    #[serde(default)]
    pub mapping: Vec<String>,
    pub mode: Mode,
    /// The Zendesk account (base URL).
    pub account: String,
    /// The in-process sandbox: its users are gone with the process.
    #[serde(default)]
    pub sandbox: bool,
    pub rows: u64,
    /// The run whose failed and unknown rows this one sends again.
    #[serde(default)]
    pub retry_of: Option<String>,
}

/// A row's place in its batch (a batch holds at most [`crate::payload::BATCH_SIZE`] rows): a
/// byte, not a machine word, in the positions a retry of a million rows holds in memory.
pub type Position = u8;

/// The position `i` in a batch (under [`crate::payload::BATCH_SIZE`]).
pub fn position(i: usize) -> Position {
    const _: () = assert!(crate::payload::BATCH_SIZE <= Position::MAX as usize + 1);
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a batch holds at most 100 rows"
    )]
    let p = i as Position;
    p
}

/// One line of `journal.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    Started {
        at: String,
        resumed: bool,
        /// Jobs at once the engine ran with: a resume keeps it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jobs: Option<usize>,
    },
    /// Written and synced before the bulk request leaves.
    Sending {
        batch: usize,
        positions: Vec<Position>,
        attempt: u32,
        /// Zendesk's clock before the request left (Unix seconds, from its answers' `Date`;
        /// before any, this machine's clock less [`CLOCK_ALLOWANCE`]): a user the request
        /// created has a `created_at` no earlier. Absent in journals written before it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zendesk_time: Option<i64>,
    },
    /// Zendesk answered with a job.
    Accepted {
        batch: usize,
        positions: Vec<Position>,
        job_id: String,
    },
    /// Zendesk refused before doing anything (429, 4xx): the positions are unsent again.
    NotAccepted {
        batch: usize,
        positions: Vec<Position>,
    },
    /// Rows finished, for good.
    Resolved {
        outcomes: Vec<RowOutcome>,
    },
    /// A job's rows once it ended, when some of them (`outcomes`) have their email made
    /// primary next (`--make-primary`): the outcome each will have. `resolved` are the job's
    /// other rows, finished in the same line, so a kill cannot leave a job half settled. A
    /// `resolved` line for each waiting row follows once its email is primary; without one,
    /// resuming does it again (reading the identities first, so nothing is done twice
    /// harmfully: `make_primary` is idempotent).
    MakingPrimary {
        outcomes: Vec<RowOutcome>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        resolved: Vec<RowOutcome>,
    },
    Finished {
        summary: Summary,
    },
    /// As `sending`, for a `organizations/create_many` call: `batch` numbers the calls
    /// ([`PlannedOrg::calls`]) and `positions` their organizations.
    OrgSending {
        batch: usize,
        positions: Vec<Position>,
        attempt: u32,
    },
    /// As `accepted`, for organizations.
    OrgAccepted {
        batch: usize,
        positions: Vec<Position>,
        job_id: String,
    },
    /// As `not_accepted`, for organizations.
    OrgNotAccepted {
        batch: usize,
        positions: Vec<Position>,
    },
    /// Organizations finished, for good: created (with the id) or not (and why).
    OrgResolved {
        outcomes: Vec<OrgOutcome>,
    },
    /// Written and synced before an `organization_memberships/create_many` call leaves:
    /// its (user id, organization id) pairs.
    MemberSending {
        pairs: Vec<(u64, u64)>,
    },
    /// As `accepted`, for memberships.
    MemberAccepted {
        pairs: Vec<(u64, u64)>,
        job_id: String,
    },
    /// Memberships finished, for good.
    MemberResolved {
        outcomes: Vec<super::memberships::MembershipOutcome>,
    },
}

/// The state of one batch after replaying the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Open {
    /// A bulk request left and no answer was recorded: it may have been accepted.
    Sending {
        positions: Vec<Position>,
        attempt: u32,
    },
    /// Accepted as this job.
    Job {
        positions: Vec<Position>,
        job_id: String,
    },
}

/// What the journal holds of one batch's requests, settled or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// `sending` lines: more than one means some of its users may have gone out before.
    pub requests: u32,
    /// The earliest Zendesk time recorded before one left (Unix seconds).
    pub zendesk_time: Option<i64>,
}

impl Sent {
    fn add(&mut self, zendesk_time: Option<i64>) {
        self.requests += 1;
        self.zendesk_time = match (self.zendesk_time, zendesk_time) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// How far this machine's clock may be ahead of Zendesk's when nothing better is known: a
/// time read from it is taken this much earlier.
pub const CLOCK_ALLOWANCE: Duration = Duration::from_secs(60);

/// The time `rfc3339` (a run's `created_at`, this machine's clock) as a Zendesk time no later
/// than the one it names: [`CLOCK_ALLOWANCE`] earlier.
pub fn zendesk_time_before(rfc3339: &str) -> Option<i64> {
    let at = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    let allowance = i64::try_from(CLOCK_ALLOWANCE.as_secs()).ok()?;
    Some(at.timestamp() - allowance)
}

/// Why a journal cannot be trusted to hold every request that left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    Missing,
    Empty,
    /// A line that is not a journal entry; what followed it is read as far as it can be.
    Unreadable {
        line: usize,
        reason: String,
    },
}

impl Damage {
    /// What happened to `path` and what resuming does about it.
    pub fn describe(&self, path: &Path) -> String {
        let what = match self {
            Self::Missing => format!("{}: the journal is missing", path.display()),
            Self::Empty => format!("{}: the journal is empty", path.display()),
            Self::Unreadable { line, reason } => {
                format!(
                    "{}, line {line}: not a journal line ({reason})",
                    path.display()
                )
            }
        };
        format!(
            "{what}; it cannot say which requests left, so every user not known to be finished \
             is looked up in Zendesk before anything is sent again"
        )
    }
}

/// What the journal says of the organizations a run creates before its users.
#[derive(Debug, Clone, Default)]
pub struct OrgReplay {
    /// Finished organizations, by their index in the plan's list.
    pub finished: BTreeMap<usize, OrgOutcome>,
    /// `organizations/create_many` calls with a request or job open, by batch.
    pub open: BTreeMap<usize, Vec<Open>>,
}

/// What the journal says so far.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Finished rows, by index: how each ended, in a byte a row (the outcomes themselves are
    /// read from the journal when wanted: [`each_outcome`]).
    pub finished: Finished,
    /// Rows updated by their job whose email is not made primary yet, by index.
    pub making_primary: BTreeMap<u64, RowOutcome>,
    /// Batches with a request or job open, by batch.
    pub open: BTreeMap<usize, Vec<Open>>,
    /// The organizations created first: finished ones by index, open calls by batch.
    pub orgs: OrgReplay,
    /// The memberships added after the users (issue 15, item 3).
    pub members: super::memberships::MemberReplay,
    /// Every batch a request was sent for (open or not), by batch.
    pub sent: BTreeMap<usize, Sent>,
    pub started: bool,
    /// Jobs at once of the latest start that recorded it.
    pub jobs: Option<usize>,
    pub finished_summary: Option<Summary>,
    /// Set when the journal cannot be trusted: then every batch may have been sent.
    pub damage: Option<Damage>,
    /// Finished rows of a journal written before rows had an index, by sheet row, until
    /// [`Replay::adopt_legacy`] matches them to the plan.
    legacy: BTreeMap<u32, RowOutcome>,
    /// Every finished row's outcome whole, by index: kept only when asked (an old journal's
    /// report: [`legacy_outcomes`]).
    whole: Option<BTreeMap<u64, RowOutcome>>,
}

/// How each finished row ended, by index: one byte a row, in pages allocated as rows finish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    pages: BTreeMap<u64, Box<[u8]>>,
    len: usize,
}

/// Rows per page of [`Finished`].
const PAGE: u64 = 4096;

impl Finished {
    fn code(outcome: Outcome) -> u8 {
        match outcome {
            Outcome::Created => 1,
            Outcome::Updated => 2,
            Outcome::Failed => 3,
            Outcome::Skipped => 4,
            Outcome::Unknown => 5,
            Outcome::NotSent => 6,
        }
    }

    fn outcome(code: u8) -> Option<Outcome> {
        Some(match code {
            1 => Outcome::Created,
            2 => Outcome::Updated,
            3 => Outcome::Failed,
            4 => Outcome::Skipped,
            5 => Outcome::Unknown,
            6 => Outcome::NotSent,
            _ => return None,
        })
    }

    /// Row `index` ended so (a later end replaces an earlier one).
    pub fn insert(&mut self, index: u64, outcome: Outcome) {
        let page = self
            .pages
            .entry(index / PAGE)
            .or_insert_with(|| vec![0; PAGE as usize].into_boxed_slice());
        let slot = &mut page[(index % PAGE) as usize];
        if *slot == 0 {
            self.len += 1;
        }
        *slot = Self::code(outcome);
    }

    /// How row `index` ended, when it did.
    pub fn get(&self, index: u64) -> Option<Outcome> {
        let page = self.pages.get(&(index / PAGE))?;
        Self::outcome(page[(index % PAGE) as usize])
    }

    pub fn contains_key(&self, index: &u64) -> bool {
        self.get(*index).is_some()
    }

    /// Rows finished.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The finished rows' indexes and ends, in index order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Outcome)> + '_ {
        self.pages.iter().flat_map(|(page, codes)| {
            (page * PAGE..)
                .zip(codes.iter())
                .filter_map(|(index, &code)| Some((index, Self::outcome(code)?)))
        })
    }

    /// The finished rows' indexes, in order.
    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(index, _)| index)
    }

    /// Whether any row in `range` is finished.
    pub fn any_in(&self, range: std::ops::Range<u64>) -> bool {
        range.into_iter().any(|index| self.contains_key(&index))
    }
}

impl Replay {
    fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Started { jobs, .. } => {
                self.started = true;
                self.jobs = jobs.or(self.jobs);
            }
            Entry::Sending {
                batch,
                positions,
                attempt,
                zendesk_time,
            } => {
                self.sent.entry(batch).or_default().add(zendesk_time);
                let open = self.open.entry(batch).or_default();
                // Its job given up (lost, or its id given to another request too): the
                // request is open again, and the job is not followed on resume.
                open.retain(|o| !matches!(o, Open::Job { positions: p, .. } if *p == positions));
                open.push(Open::Sending { positions, attempt });
            }
            Entry::Accepted {
                batch,
                positions,
                job_id,
            } => accepted(&mut self.open, batch, positions, job_id),
            Entry::NotAccepted { batch, positions } => close(&mut self.open, batch, &positions),
            Entry::OrgSending {
                batch,
                positions,
                attempt,
            } => self
                .orgs
                .open
                .entry(batch)
                .or_default()
                .push(Open::Sending { positions, attempt }),
            Entry::OrgAccepted {
                batch,
                positions,
                job_id,
            } => accepted(&mut self.orgs.open, batch, positions, job_id),
            Entry::OrgNotAccepted { batch, positions } => {
                close(&mut self.orgs.open, batch, &positions);
            }
            // Open calls keep their finished organizations, as batches keep their finished
            // rows: whoever reads them leaves out what is finished.
            Entry::OrgResolved { outcomes } => {
                for outcome in outcomes {
                    self.orgs.finished.insert(outcome.index, outcome);
                }
            }
            Entry::MakingPrimary { outcomes, resolved } => {
                for outcome in outcomes {
                    self.making_primary.insert(outcome.index, outcome);
                }
                self.resolved(resolved);
            }
            Entry::Resolved { outcomes } => self.resolved(outcomes),
            Entry::Finished { summary } => self.finished_summary = Some(summary),
            Entry::MemberSending { pairs } => self.members.sending(pairs),
            Entry::MemberAccepted { pairs, job_id } => self.members.accepted(pairs, &job_id),
            Entry::MemberResolved { outcomes } => self.members.resolved(outcomes),
        }
    }

    fn resolved(&mut self, outcomes: Vec<RowOutcome>) {
        for outcome in outcomes {
            self.making_primary.remove(&outcome.index);
            if outcome.index == RowOutcome::LEGACY_INDEX {
                self.legacy.insert(outcome.row, outcome);
            } else {
                self.finish(outcome);
            }
        }
    }

    fn finish(&mut self, outcome: RowOutcome) {
        self.finished.insert(outcome.index, outcome.outcome);
        if let Some(whole) = &mut self.whole {
            whole.insert(outcome.index, outcome);
        }
    }

    /// Gives each legacy outcome the index of the first unfinished plan row with its sheet
    /// row (such journals come from plans whose sheet rows were unique).
    fn adopt_legacy(&mut self, plan: &OutboxFile) -> Result<(), JournalError> {
        if self.legacy.is_empty() {
            return Ok(());
        }
        let mut sent = Vec::new();
        for b in 0..plan.batches() {
            let batch = plan.read(b)?;
            sent.extend(batch.positions().map(|p| (batch.index(p), batch.row(p))));
        }
        for (index, row) in sent {
            self.adopt_one(index, row);
        }
        for skipped in plan.skipped_rows() {
            let skipped = skipped?;
            self.adopt_one(skipped.index, skipped.row);
        }
        Ok(())
    }

    /// The legacy outcome of sheet row `row`, if any, given to the plan's row at `index`
    /// unless that one is finished.
    fn adopt_one(&mut self, index: u64, row: u32) {
        if self.finished.contains_key(&index) {
            return;
        }
        if let Some(mut outcome) = self.legacy.remove(&row) {
            outcome.index = index;
            self.finish(outcome);
        }
    }

    /// The positions of `batch` not finished and not in an accepted job.
    fn unsettled(&self, batch: usize, (size, first): (usize, u64)) -> Vec<Position> {
        let in_job: Vec<Position> = self
            .open
            .get(&batch)
            .into_iter()
            .flatten()
            .filter_map(|o| match o {
                Open::Job { positions, .. } => Some(positions.as_slice()),
                Open::Sending { .. } => None,
            })
            .flatten()
            .copied()
            .collect();
        (0..size)
            .map(position)
            .filter(|&p| {
                !self.finished.contains_key(&(first + u64::from(p))) && !in_job.contains(&p)
            })
            .collect()
    }
}

/// A request answered with a job: its `sending` line closed, the job open.
fn accepted(
    open: &mut BTreeMap<usize, Vec<Open>>,
    batch: usize,
    positions: Vec<Position>,
    job_id: String,
) {
    close(open, batch, &positions);
    open.entry(batch)
        .or_default()
        .push(Open::Job { positions, job_id });
}

/// Removes the open request for exactly these positions.
fn close(open: &mut BTreeMap<usize, Vec<Open>>, batch: usize, positions: &[Position]) {
    if let Some(list) = open.get_mut(&batch) {
        list.retain(
            |o| !matches!(o, Open::Sending { positions: p, .. } if p.as_slice() == positions),
        );
    }
}

impl Open {
    pub fn positions(&self) -> &[Position] {
        match self {
            Self::Sending { positions, .. } | Self::Job { positions, .. } => positions,
        }
    }
}

/// The run folder, open for appending, locked by this process while it lives.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: File,
    replay: Replay,
    lock: Arc<RunLock>,
    /// Test seam: bytes left before a simulated crash tears a line.
    crash_after: Option<u64>,
}

/// `<data dir>/runs`.
pub fn runs_dir() -> Result<PathBuf, JournalError> {
    crate::paths::data_dir()
        .map(|d| d.join("runs"))
        .ok_or(JournalError::NoDataDir)
}

/// Where an outbox is spooled before its run folder exists: the data dir, beside `runs`
/// (same disk, so the run folder copies it cheaply; no `runs` folder made for a run that is
/// never started).
pub fn spool_dir() -> Result<PathBuf, JournalError> {
    crate::paths::data_dir().ok_or(JournalError::NoDataDir)
}

/// A fresh run id: the UTC time and a random suffix, sortable by time.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!(
        "{}-{:04x}",
        now.format("%Y%m%d-%H%M%S"),
        rand::random::<u16>()
    )
}

/// The first line of `plan.jsonl`: read owned, written from the outbox's own lists. The batch
/// lines follow it, then the skipped lines ([`super::skipped`]).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PlanHead<'a> {
    pub(crate) mode: Mode,
    /// What the batches send (plans before organizations could be imported sent users).
    #[serde(default, skip_serializing_if = "is_users")]
    pub(crate) object: crate::mapping::Object,
    pub(crate) batches: usize,
    /// The skipped rows of a plan written before skipped lines; empty in later ones (still
    /// written, so that an earlier version reads a plan that skips nothing).
    #[serde(default)]
    pub(crate) skipped: Cow<'a, [(u32, String)]>,
    /// Whom skipped rows name, by place in `skipped` (plans before it had none).
    #[serde(default, skip_serializing_if = "no_keys")]
    pub(crate) skipped_keys: Cow<'a, BTreeMap<usize, UserKey>>,
    /// The lines after the batch lines holding the skipped rows, and how many rows they hold
    /// (plans before them had none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) skipped_lines: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) skipped_rows: usize,
    /// The organizations created before the users (plans before them had none).
    #[serde(default, skip_serializing_if = "no_organizations")]
    pub(crate) organizations: Cow<'a, [PlannedOrg]>,
}

fn is_users(object: &crate::mapping::Object) -> bool {
    *object == crate::mapping::Object::Users
}

fn no_keys(keys: &BTreeMap<usize, UserKey>) -> bool {
    keys.is_empty()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn no_organizations(organizations: &[PlannedOrg]) -> bool {
    organizations.is_empty()
}

/// Every further line: one batch.
#[derive(Debug, Deserialize)]
pub(crate) struct PlanLine<B> {
    pub(crate) rows: Vec<u32>,
    pub(crate) keys: Vec<UserKey>,
    pub(crate) body: B,
    /// The batch's own mode when not the plan's (plans written before it have none).
    #[serde(default)]
    pub(crate) sent_as: Option<Mode>,
}

/// A batch line as written, borrowing what it holds.
#[derive(Serialize)]
pub(crate) struct PlanLineRef<'a, B> {
    pub(crate) rows: &'a [u32],
    pub(crate) keys: &'a [UserKey],
    pub(crate) body: &'a B,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sent_as: Option<Mode>,
}

impl Journal {
    /// Makes the run folder `runs/<info.id>` with `run.json` and `plan.jsonl`, and locks it.
    pub fn create(runs: &Path, info: &RunInfo, plan: &Outbox) -> Result<Self, JournalError> {
        Self::create_with(runs, info, |path| write_plan(path, plan))
    }

    fn create_with(
        runs: &Path,
        info: &RunInfo,
        write_plan: impl FnOnce(&Path) -> Result<(), JournalError>,
    ) -> Result<Self, JournalError> {
        let dir = runs.join(&info.id);
        fs::create_dir_all(&dir).map_err(io(&dir, "cannot create the run folder"))?;
        let lock = RunLock::take(&dir)?;
        write_json(&dir.join("run.json"), info)?;
        write_plan(&dir.join("plan.jsonl"))?;
        let path = dir.join("journal.jsonl");
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path, "cannot create the journal"))?;
        sync_dir(&dir);
        Ok(Self {
            dir,
            file,
            replay: Replay::default(),
            lock: Arc::new(lock),
            crash_after: None,
        })
    }

    /// Makes the run folder `runs/<info.id>` of an outbox written to a spool (its batches
    /// copied into `plan.jsonl`), and locks it.
    pub fn create_from(
        runs: &Path,
        info: &RunInfo,
        plan: &OutboxFile,
    ) -> Result<Self, JournalError> {
        Self::create_with(runs, info, |path| plan.write_plan(path))
    }

    /// The run's outbox, read from its `plan.jsonl` batch by batch as it is used.
    pub fn outbox(&self) -> Result<OutboxFile, JournalError> {
        OutboxFile::open(&self.dir.join("plan.jsonl"))
    }

    /// Opens an existing run folder and locks it: what was run, the plan, and the journal
    /// replayed.
    ///
    /// A line torn by a crash is cut off before anything is appended. A journal that is
    /// missing, empty or has an unreadable line cannot say which requests left: every batch's
    /// unfinished users are then recorded as maybe sent, so the engine looks them up before
    /// sending anything ([`Replay::damage`] says why).
    pub fn open(dir: &Path) -> Result<(RunInfo, OutboxFile, Self), JournalError> {
        let lock = RunLock::take(dir)?;
        let info: RunInfo = read_json(&dir.join("run.json"), RUN_JSON_ADVICE)?;
        let plan = OutboxFile::open(&dir.join("plan.jsonl"))?;
        let path = dir.join("journal.jsonl");
        let mut replay = read_journal(&path, true)?;
        replay.adopt_legacy(&plan)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path, "cannot open the journal"))?;
        let mut journal = Self {
            dir: dir.to_path_buf(),
            file,
            replay,
            lock: Arc::new(lock),
            crash_after: None,
        };
        if journal.replay.damage.is_some() {
            // The journal's own times may be lost with it: the run's start is before any.
            let run_start = zendesk_time_before(&info.created_at);
            for batch in 0..plan.batches() {
                let Some(at) = plan.batch_ref(batch) else {
                    continue;
                };
                let positions = journal.replay.unsettled(batch, (at.size, at.first_index));
                let since = journal.replay.sent.get(&batch).and_then(|s| s.zendesk_time);
                journal.maybe_sent(batch, positions, since.or(run_start))?;
            }
        }
        Ok((info, plan, journal))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps the run folder locked after the journal is gone (the engine takes it): held by
    /// the front end until the report is written and the process is done with the run.
    pub fn hold(&self) -> RunHold {
        RunHold {
            _lock: Arc::clone(&self.lock),
        }
    }

    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// The replay, handed over once (the engine's start); what is left is empty but for the
    /// memberships', which their phase reads once the users are done.
    pub(crate) fn take_replay(&mut self) -> Replay {
        let mut replay = std::mem::take(&mut self.replay);
        self.replay.members = std::mem::take(&mut replay.members);
        replay
    }

    /// What the journal says of the memberships, handed over once (their phase's start).
    pub(crate) fn take_members(&mut self) -> super::memberships::MemberReplay {
        std::mem::take(&mut self.replay.members)
    }

    /// Records that these users of `batch` may be in Zendesk already, so the engine looks
    /// them up (create mode) before sending them: a damaged journal, a retried unknown row.
    ///
    /// `since`: Zendesk's time before they may have been sent (see [`Entry::Sending`]).
    pub fn maybe_sent(
        &mut self,
        batch: usize,
        positions: Vec<Position>,
        since: Option<i64>,
    ) -> Result<(), JournalError> {
        if positions.is_empty() {
            return Ok(());
        }
        self.record_applied(Entry::Sending {
            batch,
            positions,
            attempt: 1,
            zendesk_time: since,
        })
    }

    /// Records `entry` (synced) and applies it to [`Journal::replay`], for what this process
    /// reads back before it runs on: users finished before the engine starts (their
    /// organization could not be created), a retry's earlier organizations.
    pub fn record_applied(&mut self, entry: Entry) -> Result<(), JournalError> {
        self.record(&entry)?;
        self.replay.apply(entry);
        Ok(())
    }

    /// Appends one line in one `write` (the file is opened to append, so a crash leaves at
    /// most a torn last line, never two entries glued) and syncs it before returning.
    pub fn record(&mut self, entry: &Entry) -> Result<(), JournalError> {
        self.write(entry)?;
        self.sync()
    }

    /// Appends one line as [`Journal::record`] does, without waiting for the disk: for lines
    /// whose loss in a power cut (a kill loses nothing written) resuming undoes harmlessly, by
    /// polling a job or looking users up again. The next [`Journal::record`] or
    /// [`Journal::sync`] makes it durable with the rest.
    pub fn record_unsynced(&mut self, entry: &Entry) -> Result<(), JournalError> {
        self.write(entry)
    }

    /// Makes every line written so far durable.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        let path = self.dir.join("journal.jsonl");
        self.file
            .sync_data()
            .map_err(io(&path, "cannot write the journal"))
    }

    fn write(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let path = self.dir.join("journal.jsonl");
        let mut line = serde_json::to_vec(entry).map_err(|e| JournalError::Io {
            path: path.clone(),
            action: "cannot write the journal",
            source: e.into(),
        })?;
        line.push(b'\n');
        if let Some(left) = self.crash_after {
            return self.write_until_crash(&path, &line, left);
        }
        self.file
            .write_all(&line)
            .map_err(io(&path, "cannot write the journal"))
    }

    /// Test seam: the next writes stop after `bytes` more bytes, mid-line if it falls so, and
    /// fail as a crash would end the process there.
    #[doc(hidden)]
    pub fn crash_after(&mut self, bytes: u64) {
        self.crash_after = Some(bytes);
    }

    fn write_until_crash(
        &mut self,
        path: &Path,
        line: &[u8],
        left: u64,
    ) -> Result<(), JournalError> {
        let cut = usize::try_from(left).unwrap_or(usize::MAX).min(line.len());
        self.file
            .write_all(&line[..cut])
            .map_err(io(path, "cannot write the journal"))?;
        self.crash_after = Some(left - cut as u64);
        if cut == line.len() {
            return Ok(());
        }
        Err(JournalError::Io {
            path: path.to_path_buf(),
            action: "simulated crash",
            source: std::io::ErrorKind::Interrupted.into(),
        })
    }
}

/// The run folder's lock, kept while this lives (see [`Journal::hold`]).
#[derive(Debug, Clone)]
pub struct RunHold {
    _lock: Arc<RunLock>,
}

/// An exclusive lock on `<run folder>/lock`, released when dropped or when the process ends;
/// the file names the process holding it.
#[derive(Debug)]
struct RunLock {
    _file: File,
}

impl RunLock {
    fn take(dir: &Path) -> Result<Self, JournalError> {
        let path = dir.join("lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path, "cannot open the lock file"))?;
        match lock_soon(&file) {
            Ok(true) => {}
            Ok(false) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                let holder = match holder.trim() {
                    "" => "a process that has not said which yet".to_owned(),
                    text => text.to_owned(),
                };
                return Err(JournalError::Locked {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(e) => return Err(io(&path, "cannot lock the run")(e)),
        }
        let command: Vec<String> = std::env::args().collect();
        let holder = format!("pid {}: {}", std::process::id(), command.join(" "));
        file.set_len(0)
            .and_then(|()| file.write_all(holder.as_bytes()))
            .map_err(io(&path, "cannot write the lock file"))?;
        Ok(Self { _file: file })
    }
}

/// [`try_lock`], tried again for a moment before giving up: a lock just let go may still be
/// held by a copy of its file in a child process this one is starting (between its fork and
/// its exec, the child holds every open file, and a lock is the file's), so a run this process
/// has just finished with would otherwise read as in use by itself.
fn lock_soon(file: &File) -> std::io::Result<bool> {
    const TRIES: u32 = 25;
    for _ in 1..TRIES {
        if try_lock(file)? {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    try_lock(file)
}

/// Takes an exclusive lock on `file` without waiting, released when it is closed (or its
/// process ends): `Ok(false)` when another open file holds it, in this process or another.
pub(crate) fn try_lock(file: &File) -> std::io::Result<bool> {
    #[expect(
        clippy::incompatible_msrv,
        reason = "File::try_lock is stable since 1.89; raising rust-version makes newer \
                  lints fire in files other branches are editing, so it follows a merge"
    )]
    let locked = file.try_lock();
    match locked {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Makes a new file's name durable too (ext4 and others need the directory synced).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        // Not every platform can sync a directory; the files themselves are synced anyway.
        let _ignored = handle.sync_all();
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), JournalError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| JournalError::Io {
        path: path.to_path_buf(),
        action: "cannot encode",
        source: e.into(),
    })?;
    let mut file = File::create(path).map_err(io(path, "cannot create"))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .map_err(io(path, "cannot write"))
}

fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    advice: &'static str,
) -> Result<T, JournalError> {
    let text = fs::read(path).map_err(io(path, "cannot read"))?;
    serde_json::from_slice(&text).map_err(|e| JournalError::Corrupt {
        path: path.to_path_buf(),
        line: e.line(),
        reason: e.to_string(),
        advice,
    })
}

fn write_plan(path: &Path, plan: &Outbox) -> Result<(), JournalError> {
    let file = File::create(path).map_err(io(path, "cannot create"))?;
    let mut out = BufWriter::new(file);
    let encode = |e: serde_json::Error| JournalError::Io {
        path: path.to_path_buf(),
        action: "cannot write",
        source: e.into(),
    };
    let head = PlanHead {
        mode: plan.mode,
        object: plan.object,
        batches: plan.batches.len(),
        skipped: Cow::Borrowed(&[]),
        skipped_keys: Cow::Owned(BTreeMap::new()),
        skipped_lines: plan.skipped.len().div_ceil(super::skipped::PER_LINE),
        skipped_rows: plan.skipped.len(),
        organizations: Cow::Borrowed(&plan.organizations),
    };
    serde_json::to_writer(&mut out, &head).map_err(encode)?;
    out.write_all(b"\n").map_err(io(path, "cannot write"))?;
    for batch in &plan.batches {
        let body = std::str::from_utf8(&batch.body)
            .ok()
            .and_then(|s| RawValue::from_string(s.to_owned()).ok())
            .ok_or_else(|| JournalError::Corrupt {
                path: path.to_path_buf(),
                line: 0,
                reason: "a batch body is not JSON".into(),
                advice: "nothing was written to Zendesk; please report this",
            })?;
        let line = PlanLineRef {
            rows: &batch.rows,
            keys: &batch.keys,
            body: &body,
            sent_as: batch.sent_as,
        };
        serde_json::to_writer(&mut out, &line).map_err(encode)?;
        out.write_all(b"\n").map_err(io(path, "cannot write"))?;
    }
    super::skipped::write_held(&mut out, path, &plan.skipped, &plan.skipped_keys)?;
    out.flush()
        .and_then(|()| out.get_ref().sync_all())
        .map_err(io(path, "cannot write"))
}

/// The user the run in `dir` sends for its row at `index`, as `plan.jsonl` holds it (the
/// body as sent, after the account plan's routing); `None` for a row it does not send.
pub fn sent_user(dir: &Path, index: u64) -> Result<Option<serde_json::Value>, JournalError> {
    SentUsers::default().user(dir, index)
}

/// A file's size and time of change: when either moves, what was read of it is read again.
type Stamp = (u64, Option<std::time::SystemTime>);

fn stamp(path: &Path) -> Result<Stamp, JournalError> {
    let meta = std::fs::metadata(path).map_err(io(path, "cannot read"))?;
    Ok((meta.len(), meta.modified().ok()))
}

/// [`sent_user`] asked again and again (the results screen, a row at a time): the plan's index
/// of batches and the ids of the organizations the run created are kept between questions,
/// where each question read the whole plan (and, for a user of an organization, the whole
/// journal) again. Either is read again when its file changes (a resume writing on).
#[derive(Default)]
pub struct SentUsers {
    plan: Option<(PathBuf, Stamp, OutboxFile)>,
    /// The created organizations' ids by name key, as of the journal's stamp.
    orgs: Option<(PathBuf, Stamp, HashMap<String, u64>)>,
}

impl SentUsers {
    /// The user the run in `dir` sends for its row at `index` ([`sent_user`]).
    pub fn user(
        &mut self,
        dir: &Path,
        index: u64,
    ) -> Result<Option<serde_json::Value>, JournalError> {
        let path = dir.join("plan.jsonl");
        let now = stamp(&path)?;
        let plan = match self.plan.take() {
            Some((held, was, plan)) if held == path && was == now => plan,
            _ => OutboxFile::open(&path)?,
        };
        let plan = &self.plan.insert((path.clone(), now, plan)).2;
        let Some((b, position)) = plan.locate(index) else {
            return Ok(None);
        };
        let batch = plan.read(b)?;
        let mut body: serde_json::Value =
            serde_json::from_slice(&batch.body).map_err(|e| JournalError::Corrupt {
                path: path.clone(),
                // Blank lines may stand between batch lines: named by batch, as `read` does.
                line: 0,
                reason: format!("batch {b}: {e}"),
                advice: PLAN_ADVICE,
            })?;
        let user = body
            .get_mut("users")
            .and_then(|u| u.as_array_mut())
            .and_then(|users| users.get_mut(position))
            .map(serde_json::Value::take);
        user.map(|u| self.with_organization_id(dir, u)).transpose()
    }

    /// A user whose organization the run created first went out with the id it got, not the
    /// name the plan holds: that id, from the journal (the name stays while it has none).
    fn with_organization_id(
        &mut self,
        dir: &Path,
        mut user: serde_json::Value,
    ) -> Result<serde_json::Value, JournalError> {
        use crate::plan::orgs::{OrgHolder as _, name_key};
        let Some(key) = user.org_name().map(name_key) else {
            return Ok(user);
        };
        let path = dir.join("journal.jsonl");
        let now = stamp(&path)?;
        let ids = match self.orgs.take() {
            Some((held, was, ids)) if held == path && was == now => ids,
            _ => {
                let mut ids = HashMap::new();
                let created = read_journal(&path, false)?.orgs.finished.into_values();
                for o in created.filter(|o| o.is_created()) {
                    // The first of a name, in the plan's order.
                    if let Some(id) = o.id {
                        ids.entry(name_key(&o.name)).or_insert(id);
                    }
                }
                ids
            }
        };
        let ids = &self.orgs.insert((path, now, ids)).2;
        if let Some(id) = ids.get(&key) {
            user.send_id(*id);
        }
        Ok(user)
    }
}

/// Replays `journal.jsonl`. Bytes after the last line break are a line torn by a crash: cut
/// off when `repair` (the run is locked), ignored otherwise. Unreadable lines are skipped and
/// the first one noted as [`Damage`].
fn read_journal(path: &Path, repair: bool) -> Result<Replay, JournalError> {
    read_journal_into(path, repair, Replay::default())
}

/// [`read_journal`] into `replay` (one that keeps every outcome whole, for old journals),
/// line by line: memory holds one line, not the file.
fn read_journal_into(
    path: &Path,
    repair: bool,
    mut replay: Replay,
) -> Result<Replay, JournalError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            replay.damage = Some(Damage::Missing);
            return Ok(replay);
        }
        Err(e) => return Err(io(path, "cannot read")(e)),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut whole = 0u64;
    let mut entries = 0;
    for n in 0.. {
        let read = next_line(&mut reader, &mut line, path)?;
        if read == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // Bytes after the last line break: a line torn by a crash.
            if repair {
                cut_torn_tail(path, whole)?;
            }
            break;
        }
        whole += read as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Entry>(&line) {
            Ok(entry) => {
                entries += 1;
                replay.apply(entry);
            }
            Err(e) => {
                replay.damage.get_or_insert(Damage::Unreadable {
                    line: n + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    if entries == 0 && replay.damage.is_none() {
        replay.damage = Some(Damage::Empty);
    }
    Ok(replay)
}

/// The next line of `reader` (of the file at `path`) into `line`, with its line break when it
/// has one; its length, 0 at the end.
pub(crate) fn next_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    path: &Path,
) -> Result<usize, JournalError> {
    line.clear();
    reader
        .read_until(b'\n', line)
        .map_err(io(path, "cannot read"))
}

fn cut_torn_tail(path: &Path, len: u64) -> Result<(), JournalError> {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| file.set_len(len).and_then(|()| file.sync_all()))
        .map_err(io(path, "cannot cut the line a crash left half written"))
}

/// How each of the first `rows` rows of a run folder ended and whose user it made or
/// matched: what the memberships' phase needs of the users (which exist, and their ids).
/// Read as the outcomes stream by ([`each_outcome`]): 9 bytes a row, where the outcomes
/// themselves (names, addresses, messages) took hundreds.
pub fn user_ends(dir: &Path, rows: usize) -> Result<UserEnds, JournalError> {
    let mut ends = UserEnds {
        ends: vec![0; rows],
        ids: vec![0; rows],
    };
    each_outcome(dir, |o| {
        // A row past the plan's is no row of its: the plan's own check names it elsewhere.
        if let Ok(at) = usize::try_from(o.index)
            && at < rows
        {
            ends.set(at, o.outcome, o.user_id);
        }
        Ok::<(), JournalError>(())
    })?;
    Ok(ends)
}

/// How each row ended, and its user's id, by index ([`user_ends`]): a byte and a number a
/// row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserEnds {
    /// 0: not ended; else the outcome's place in [`UserEnds::OUTCOMES`] plus one, with
    /// [`UserEnds::HAS_ID`] when `ids` holds its user's id.
    ends: Vec<u8>,
    ids: Vec<u64>,
}

impl UserEnds {
    const OUTCOMES: [Outcome; 6] = [
        Outcome::Created,
        Outcome::Updated,
        Outcome::Failed,
        Outcome::Skipped,
        Outcome::Unknown,
        Outcome::NotSent,
    ];
    const HAS_ID: u8 = 0x80;

    fn set(&mut self, at: usize, outcome: Outcome, id: Option<u64>) {
        let place = Self::OUTCOMES.iter().position(|o| *o == outcome);
        let place = u8::try_from(place.unwrap_or_default() + 1).unwrap_or_default();
        self.ends[at] = place | if id.is_some() { Self::HAS_ID } else { 0 };
        self.ids[at] = id.unwrap_or_default();
    }

    /// How row `index` ended and the id of its user, when it ended.
    pub fn get(&self, index: u64) -> Option<(Outcome, Option<u64>)> {
        let at = usize::try_from(index).ok()?;
        let end = *self.ends.get(at)?;
        let outcome = *Self::OUTCOMES.get(usize::from(end & !Self::HAS_ID).checked_sub(1)?)?;
        let id = (end & Self::HAS_ID != 0).then(|| self.ids[at]);
        Some((outcome, id))
    }
}

/// The plan of a run folder, read batch by batch as asked.
pub fn read_plan_of(dir: &Path) -> Result<OutboxFile, JournalError> {
    OutboxFile::open(&dir.join("plan.jsonl"))
}

/// What the journal of a run folder says of its memberships.
pub fn members_of(dir: &Path) -> Result<super::memberships::MemberReplay, JournalError> {
    Ok(read_journal(&dir.join("journal.jsonl"), false)?.members)
}

/// Every row finished in a run folder, in the plan's order.
pub fn outcomes(dir: &Path) -> Result<Vec<RowOutcome>, JournalError> {
    let mut all = Vec::new();
    each_outcome(dir, |o| {
        all.push(o);
        Ok::<(), JournalError>(())
    })?;
    Ok(all)
}

/// Parsed journal lines kept at once while [`each_outcome`] hands rows out in order.
const LINES_KEPT: usize = 64;

/// Every row finished in a run folder, in the plan's order, handed to `f` one at a time.
///
/// The journal is read twice: first for where each line is and the rows it spans, then its
/// lines again. When no two lines' spans overlap (an import whose every row ended once: a
/// job's rows, or a thousand skipped ones, to a line) the lines are handed out in the order of
/// their first row, each parsed once, and memory holds a few numbers a line. Otherwise the
/// first pass is followed by one that finds the line holding each row's last outcome (four
/// bytes a row), and those lines are read a few parsed at a time (the jobs in flight at once
/// end near each other in the file). Memory never holds every outcome, however many rows the
/// run has. A journal from before rows had an index is read whole, as it always was.
pub fn each_outcome<E: From<JournalError>>(
    dir: &Path,
    mut f: impl FnMut(RowOutcome) -> Result<(), E>,
) -> Result<(), E> {
    let path = dir.join("journal.jsonl");
    let Some(lines) = outcome_lines(dir, &path)? else {
        return legacy_outcomes(dir)?.into_iter().try_for_each(f);
    };
    if lines.spans.is_empty() {
        return Ok(());
    }
    let mut file = File::open(&path).map_err(io(&path, "cannot read"))?;
    let mut text = Vec::new();
    let mut read = |span: &LineSpan| -> Result<Vec<RowOutcome>, JournalError> {
        text.resize(span.len, 0);
        file.seek(SeekFrom::Start(span.offset))
            .and_then(|_| file.read_exact(&mut text))
            .map_err(io(&path, "cannot read"))?;
        Ok(resolved_in(serde_json::from_slice(&text).ok()).unwrap_or_default())
    };
    let mut by_first: Vec<&LineSpan> = lines.spans.iter().collect();
    by_first.sort_by_key(|span| span.rows.start);
    if by_first
        .windows(2)
        .all(|w| w[0].rows.end <= w[1].rows.start)
    {
        for span in by_first {
            // A row twice on one line: its last outcome, as a replay takes it.
            let mut outcomes: Vec<RowOutcome> = read(span)?;
            outcomes.reverse();
            outcomes.sort_by_key(|o| o.index);
            outcomes.dedup_by_key(|o| o.index);
            outcomes.into_iter().try_for_each(&mut f)?;
        }
        return Ok(());
    }
    let at = last_lines(&lines, &mut read)?;
    let mut kept: VecDeque<(u32, HashMap<u64, RowOutcome>)> = VecDeque::new();
    for (index, &line) in (0u64..).zip(&at) {
        if line == 0 {
            continue;
        }
        let place = match kept.iter().position(|(l, _)| *l == line) {
            Some(place) => place,
            None => {
                let outcomes = read(&lines.spans[line as usize - 1])?;
                if kept.len() >= LINES_KEPT {
                    kept.pop_front();
                }
                kept.push_back((line, outcomes.into_iter().map(|o| (o.index, o)).collect()));
                kept.len() - 1
            }
        };
        if let Some(outcome) = kept[place].1.remove(&index) {
            f(outcome)?;
        }
    }
    Ok(())
}

/// Where a journal line with outcomes is, and the rows it spans (its first index to one past
/// its last).
struct LineSpan {
    offset: u64,
    len: usize,
    rows: std::ops::Range<u64>,
}

/// The lines of a journal that finish rows, in the file's order, and how many rows the run has.
struct OutcomeLines {
    spans: Vec<LineSpan>,
    rows: u64,
}

/// The line (from 1; 0 for none) holding each row's last outcome, by row index: each line's
/// outcomes read again with `read`.
fn last_lines(
    lines: &OutcomeLines,
    read: &mut dyn FnMut(&LineSpan) -> Result<Vec<RowOutcome>, JournalError>,
) -> Result<Vec<u32>, JournalError> {
    // Every row's place at once: a table grown by doubling held up to twice the room. Zeroed
    // pages are only counted once written; a damaged run.json's count is not trusted past
    // 2^24 rows.
    let mut at = vec![0u32; usize::try_from(lines.rows.min(1 << 24)).unwrap_or_default()];
    for (line, span) in (1u32..).zip(&lines.spans) {
        for o in read(span)? {
            // Within the bound the first pass held every index to.
            let index = usize::try_from(o.index).unwrap_or(usize::MAX);
            if at.len() <= index {
                at.resize(index + 1, 0);
            }
            at[index] = line;
        }
    }
    Ok(at)
}

/// The first pass of [`each_outcome`]; `None` for a journal with outcomes from before rows
/// had an index (or with an index past the run's rows).
fn outcome_lines(dir: &Path, path: &Path) -> Result<Option<OutcomeLines>, JournalError> {
    // An index past every row the run can have (a legacy one is `u64::MAX`) is read the old way.
    let rows = read_json::<RunInfo>(&dir.join("run.json"), RUN_JSON_ADVICE).map_or(0, |i| i.rows);
    let limit = rows.saturating_add(1 << 20);
    let mut lines = OutcomeLines {
        spans: Vec::new(),
        rows,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(lines)),
        Err(e) => return Err(io(path, "cannot read")(e)),
    };
    let mut reader = BufReader::new(file);
    let mut text = Vec::new();
    let mut offset = 0u64;
    loop {
        let read = next_line(&mut reader, &mut text, path)?;
        // The end, or a line torn by a crash (ignored, as the replay does).
        if read == 0 || text.last() != Some(&b'\n') {
            break;
        }
        let start = offset;
        offset += read as u64;
        let Some(outcomes) = resolved_in(serde_json::from_slice(&text).ok()) else {
            continue;
        };
        if outcomes.iter().any(|o| o.index >= limit) {
            return Ok(None);
        }
        let first = outcomes.iter().map(|o| o.index).min();
        let last = outcomes.iter().map(|o| o.index).max();
        if let (Some(first), Some(last)) = (first, last) {
            lines.spans.push(LineSpan {
                offset: start,
                len: read,
                rows: first..last + 1,
            });
        }
    }
    Ok(Some(lines))
}

/// The rows a journal line finishes (`resolved`, and those a `making_primary` line settles).
fn resolved_in(entry: Option<Entry>) -> Option<Vec<RowOutcome>> {
    match entry? {
        Entry::Resolved { outcomes }
        | Entry::MakingPrimary {
            resolved: outcomes, ..
        } => Some(outcomes),
        _ => None,
    }
}

/// Every finished row of a journal from before rows had an index, matched to the plan.
fn legacy_outcomes(dir: &Path) -> Result<Vec<RowOutcome>, JournalError> {
    let whole = Replay {
        whole: Some(BTreeMap::new()),
        ..Replay::default()
    };
    let mut replay = read_journal_into(&dir.join("journal.jsonl"), false, whole)?;
    if !replay.legacy.is_empty() {
        replay.adopt_legacy(&OutboxFile::open(&dir.join("plan.jsonl"))?)?;
    }
    Ok(replay.whole.unwrap_or_default().into_values().collect())
}

/// Every row of a run folder in the plan's order: how each finished, and the rows the run
/// has not finished (cancelled or interrupted) as [`Outcome::NotSent`], saying whether they
/// may have left.
pub fn rows(dir: &Path) -> Result<Vec<RowOutcome>, JournalError> {
    let plan = OutboxFile::open(&dir.join("plan.jsonl"))?;
    let replay = read_journal(&dir.join("journal.jsonl"), false)?;
    let mut finished: BTreeMap<u64, RowOutcome> =
        outcomes(dir)?.into_iter().map(|o| (o.index, o)).collect();
    let mut rows = Vec::with_capacity(plan.rows());
    for b in 0..plan.batches() {
        let batch = plan.read(b)?;
        let left: std::collections::HashSet<Position> = replay
            .open
            .get(&b)
            .into_iter()
            .flatten()
            .flat_map(|open| match open {
                Open::Sending { positions, .. } | Open::Job { positions, .. } => positions,
            })
            .copied()
            .collect();
        for p in batch.positions() {
            let row = finished.remove(&batch.index(p)).unwrap_or_else(|| {
                let mut o = batch.outcome(p, Outcome::NotSent);
                if replay.making_primary.contains_key(&batch.index(p)) {
                    o.details = Some(
                        "updated by its job; its email is not made primary yet: resuming the \
                         run does it"
                            .into(),
                    );
                    return o;
                }
                o.details = Some(
                    if left.contains(&p) {
                        "sent, no answer recorded: resuming the run looks it up first"
                    } else {
                        "not sent: resuming the run sends it"
                    }
                    .into(),
                );
                o
            });
            rows.push(row);
        }
    }
    for skipped in plan.skipped_rows() {
        let skipped = skipped?;
        rows.push(finished.remove(&skipped.index).unwrap_or_else(|| {
            let key = skipped.key.unwrap_or_default();
            let mut o = RowOutcome::new(skipped.row, Outcome::NotSent, &key);
            o.index = skipped.index;
            o.details = Some(format!("not sent: {}", skipped.reason));
            o
        }));
    }
    Ok(rows)
}

/// Every organization a run in `dir` creates first, in the plan's order: how each ended, and
/// those not finished (cancelled or interrupted) as [`Outcome::NotSent`]. Empty for a run
/// that creates none.
pub fn organizations(dir: &Path) -> Result<Vec<OrgOutcome>, JournalError> {
    let plan = OutboxFile::open(&dir.join("plan.jsonl"))?;
    if plan.organizations.is_empty() {
        return Ok(Vec::new());
    }
    let mut replay = read_journal(&dir.join("journal.jsonl"), false)?;
    let orgs = plan.organizations.iter().enumerate().map(|(index, org)| {
        replay
            .orgs
            .finished
            .remove(&index)
            .unwrap_or_else(|| OrgOutcome {
                index,
                name: org.name.clone(),
                outcome: Outcome::NotSent,
                id: None,
                users: org.users,
                error: None,
                details: Some(
                    "not created yet: resuming the run looks it up, then creates it if missing"
                        .into(),
                ),
                matched_by: None,
            })
    });
    Ok(orgs.collect())
}

/// A run as `zdimport runs` lists it.
#[derive(Debug, Clone)]
pub struct RunListing {
    pub dir: PathBuf,
    pub info: RunInfo,
    pub done: Summary,
    /// Finished entry written: nothing left to resume.
    pub complete: bool,
}

/// The runs under `runs`, oldest first; unreadable folders are left out.
pub fn list_runs(runs: &Path) -> Vec<RunListing> {
    let Ok(entries) = fs::read_dir(runs) else {
        return Vec::new();
    };
    let mut list: Vec<RunListing> = entries
        .filter_map(Result::ok)
        .filter_map(|e| listing(&e.path()))
        .collect();
    list.sort_by(|a, b| a.info.id.cmp(&b.info.id));
    list
}

fn listing(dir: &Path) -> Option<RunListing> {
    let info: RunInfo = read_json(&dir.join("run.json"), RUN_JSON_ADVICE).ok()?;
    let replay = read_journal(&dir.join("journal.jsonl"), false).ok()?;
    let mut done = Summary {
        rows: info.rows,
        pending: info.rows,
        ..Summary::default()
    };
    let legacy = replay.legacy.values().map(|o| o.outcome);
    for outcome in replay.finished.iter().map(|(_, o)| o).chain(legacy) {
        done.count(outcome);
    }
    let complete = replay.finished_summary.is_some_and(|s| !s.cancelled) && done.pending == 0;
    Some(RunListing {
        dir: dir.to_path_buf(),
        info,
        done,
        complete,
    })
}

/// The folder of run `id` (a prefix is enough when only one run starts with it), or the
/// latest unfinished run when `id` is `None`.
///
/// A folder named `id` is found even when it cannot be read, so that opening it says what is
/// wrong with it.
pub fn find_run(runs: &Path, id: Option<&str>) -> Result<PathBuf, JournalError> {
    let list = list_runs(runs);
    let Some(id) = id else {
        return list
            .iter()
            .rev()
            .find(|r| !r.complete)
            .map(|r| r.dir.clone())
            .ok_or_else(|| JournalError::NoUnfinishedRun {
                runs: runs.to_path_buf(),
                unreadable: unreadable_runs(runs, &list),
            });
    };
    let hits: Vec<&RunListing> = list.iter().filter(|r| r.info.id.starts_with(id)).collect();
    let exact = runs.join(id);
    match hits.as_slice() {
        [one] => Ok(one.dir.clone()),
        _ if !id.is_empty() && exact.join("run.json").exists() => Ok(exact),
        _ => Err(JournalError::NoSuchRun {
            id: id.to_owned(),
            runs: runs.to_path_buf(),
        }),
    }
}

/// `; cannot read run a, b (zdimport resume <id> says why)` for run folders left out of the
/// list.
fn unreadable_runs(runs: &Path, list: &[RunListing]) -> String {
    let Ok(entries) = fs::read_dir(runs) else {
        return String::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !list.iter().any(|r| &r.dir == p))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if names.is_empty() {
        return String::new();
    }
    names.sort();
    format!(
        "; cannot read run {} (`zdimport resume <id>` says why)",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{OutboxBatch, Outcome};
    use bytes::Bytes;

    fn plan() -> Outbox {
        let mut plan = Outbox::new(Mode::Create);
        plan.batches.push(OutboxBatch {
            first_index: 0,
            rows: vec![2, 3],
            keys: vec![UserKey::default(), UserKey::default()],
            body: Bytes::from_static(br#"{"users":[{"name":"A"},{"name":"B"}]}"#),
            sent_as: None,
        });
        plan.skip(4, "bad email");
        plan.name_skipped(|row| {
            (row == 4).then(|| UserKey {
                email: Some("bad@".into()),
                ..UserKey::default()
            })
        });
        plan
    }

    fn info() -> RunInfo {
        RunInfo {
            id: "r1".into(),
            rows: 3,
            ..RunInfo::default()
        }
    }

    #[test]
    fn a_run_folder_round_trips_and_replays() {
        let tmp = tempfile::tempdir().unwrap();
        let info = info();
        let mut journal = Journal::create(tmp.path(), &info, &plan()).unwrap();
        let sending = Entry::Sending {
            batch: 0,
            positions: vec![0, 1],
            attempt: 1,
            zendesk_time: None,
        };
        journal.record(&sending).unwrap();
        let row = RowOutcome::new(4, Outcome::Skipped, &UserKey::default());
        journal
            .record(&Entry::Resolved {
                outcomes: vec![row],
            })
            .unwrap();
        drop(journal);
        let (read_info, read_plan, journal) = Journal::open(&tmp.path().join("r1")).unwrap();
        assert_eq!(read_info, info);
        assert_eq!(read_plan.load().unwrap(), plan());
        let open = &journal.replay().open[&0];
        assert!(matches!(
            open.as_slice(),
            [Open::Sending { attempt: 1, .. }]
        ));
        assert_eq!(journal.replay().finished.len(), 1);
        let listed = list_runs(tmp.path());
        assert_eq!((listed.len(), listed[0].done.pending), (1, 2));
        assert_eq!(find_run(tmp.path(), None).unwrap(), tmp.path().join("r1"));
    }

    /// Outcomes come in plan order from lines in any order, the last line naming a row wins,
    /// a row waiting for its primary email is not finished, and the report written from the
    /// journal row by row is the one written from every outcome in memory.
    #[test]
    fn outcomes_stream_in_plan_order_and_the_report_matches() {
        let tmp = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(tmp.path(), &info(), &plan()).unwrap();
        let outcome = |index: u64, row: u32, outcome: Outcome| {
            let mut o = RowOutcome::new(row, outcome, &UserKey::default());
            o.index = index;
            o
        };
        let mut failed = outcome(0, 2, Outcome::Failed);
        failed.details = Some("=taken".into());
        for entry in [
            Entry::Resolved {
                outcomes: vec![outcome(2, 4, Outcome::Skipped)],
            },
            Entry::MakingPrimary {
                outcomes: vec![outcome(1, 3, Outcome::Updated)],
                resolved: vec![outcome(0, 2, Outcome::Unknown)],
            },
            Entry::Resolved {
                outcomes: vec![failed],
            },
        ] {
            journal.record(&entry).unwrap();
        }
        drop(journal);
        let dir = tmp.path().join("r1");
        let all = outcomes(&dir).unwrap();
        let seen: Vec<(u64, Outcome)> = all.iter().map(|o| (o.index, o.outcome)).collect();
        assert_eq!(seen, [(0, Outcome::Failed), (2, Outcome::Skipped)]);
        for format in [
            super::super::report::Format::Csv,
            super::super::report::Format::Json,
        ] {
            let mut streamed = Vec::new();
            let rows = super::super::report::write_run_to(&mut streamed, &dir, format).unwrap();
            assert_eq!(rows, 2);
            let mut whole = Vec::new();
            super::super::report::write_to(&mut whole, &all, format).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(whole).unwrap()
            );
        }
        // No journal yet: no rows, an empty report.
        fs::remove_file(dir.join("journal.jsonl")).unwrap();
        assert!(outcomes(&dir).unwrap().is_empty());
    }

    /// Lines whose rows do not overlap are handed out by their first row, each read once; a
    /// row twice on one line keeps its last outcome; a line overlapping another makes the
    /// pass that finds each row's last line. Both answer what a replay of every line does.
    #[test]
    fn outcomes_from_lines_that_overlap_or_not_are_the_replays() {
        use Outcome::{Created, Failed, Skipped, Updated};
        let line = |rows: &[(u64, Outcome)]| Entry::Resolved {
            outcomes: rows
                .iter()
                .map(|&(index, end)| {
                    let mut o = RowOutcome::new(index as u32 + 2, end, &UserKey::default());
                    o.index = index;
                    o
                })
                .collect(),
        };
        let lines = |overlap: bool| {
            let mut lines = vec![
                line(&[(3, Created), (4, Created), (5, Failed)]),
                line(&[(0, Created), (1, Updated), (1, Failed)]),
                line(&[(7, Skipped), (6, Skipped)]),
            ];
            if overlap {
                lines.push(line(&[(4, Updated), (9, Created)]));
            }
            lines
        };
        for overlap in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let mut journal = Journal::create(tmp.path(), &info(), &plan()).unwrap();
            let mut replayed = BTreeMap::new();
            for entry in lines(overlap) {
                journal.record(&entry).unwrap();
                if let Entry::Resolved { outcomes } = entry {
                    replayed.extend(outcomes.into_iter().map(|o| (o.index, o.outcome)));
                }
            }
            drop(journal);
            let all = outcomes(&tmp.path().join("r1")).unwrap();
            let seen: Vec<(u64, Outcome)> = all.iter().map(|o| (o.index, o.outcome)).collect();
            let want: Vec<(u64, Outcome)> = replayed.into_iter().collect();
            assert_eq!(seen, want, "overlap: {overlap}");
            assert_eq!(want[1], (1, Failed), "a row's last end on its line");
            let fourth = if overlap { Updated } else { Created };
            assert_eq!(want[3], (4, fourth));
        }
    }

    #[test]
    fn finished_rows_keep_their_last_end_in_a_byte_each() {
        let mut finished = Finished::default();
        assert!(finished.is_empty());
        finished.insert(5, Outcome::Unknown);
        finished.insert(9_000, Outcome::Created);
        finished.insert(5, Outcome::Failed);
        assert_eq!(finished.len(), 2, "a row ended again is counted once");
        assert_eq!(finished.get(5), Some(Outcome::Failed));
        assert_eq!(finished.get(6), None);
        assert!(finished.any_in(0..6) && !finished.any_in(6..9_000));
        let all: Vec<(u64, Outcome)> = finished.iter().collect();
        assert_eq!(all, [(5, Outcome::Failed), (9_000, Outcome::Created)]);
        assert_eq!(finished.pages.len(), 2, "pages only where rows finished");
    }

    #[test]
    fn rows_lists_every_row_with_those_not_finished_as_not_sent() {
        let tmp = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(tmp.path(), &info(), &plan()).unwrap();
        journal
            .record(&Entry::Sending {
                batch: 0,
                positions: vec![1],
                attempt: 1,
                zendesk_time: None,
            })
            .unwrap();
        let mut skipped = RowOutcome::new(4, Outcome::Skipped, &UserKey::default());
        skipped.index = 2;
        journal
            .record(&Entry::Resolved {
                outcomes: vec![skipped],
            })
            .unwrap();
        drop(journal);
        let rows = rows(&tmp.path().join("r1")).unwrap();
        let seen: Vec<(u32, Outcome)> = rows.iter().map(|o| (o.row, o.outcome)).collect();
        assert_eq!(
            seen,
            vec![
                (2, Outcome::NotSent),
                (3, Outcome::NotSent),
                (4, Outcome::Skipped)
            ]
        );
        assert!(rows[0].details.as_deref().unwrap().starts_with("not sent"));
        assert!(
            rows[1]
                .details
                .as_deref()
                .unwrap()
                .contains("looks it up first")
        );
        assert_eq!(rows[1].index, 1);
    }

    #[test]
    fn user_ends_keep_each_rows_last_end_and_its_users_id() {
        let tmp = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(tmp.path(), &info(), &plan()).unwrap();
        let ended = |index, outcome, user_id| {
            let mut o = RowOutcome::new(2, outcome, &UserKey::default());
            o.index = index;
            o.user_id = user_id;
            o
        };
        journal
            .record(&Entry::Resolved {
                outcomes: vec![ended(0, Outcome::Unknown, None)],
            })
            .unwrap();
        journal
            .record(&Entry::Resolved {
                outcomes: vec![
                    ended(0, Outcome::Created, Some(70)),
                    ended(2, Outcome::Skipped, None),
                    // No row of the plan's: left out, not grown into.
                    ended(9, Outcome::Created, Some(90)),
                ],
            })
            .unwrap();
        drop(journal);
        let ends = user_ends(&tmp.path().join("r1"), 3).unwrap();
        assert_eq!(ends.get(0), Some((Outcome::Created, Some(70))));
        assert_eq!(ends.get(1), None, "not finished");
        assert_eq!(ends.get(2), Some((Outcome::Skipped, None)));
        assert_eq!(ends.get(9), None);
        assert_eq!(ends.ends.len(), 3);
        // Every outcome with every kind of id reads back as set.
        let mut packed = UserEnds {
            ends: vec![0; 1],
            ids: vec![0; 1],
        };
        for outcome in UserEnds::OUTCOMES {
            for id in [None, Some(0), Some(1), Some(u64::MAX)] {
                packed.set(0, outcome, id);
                assert_eq!(packed.get(0), Some((outcome, id)));
            }
        }
    }

    #[test]
    fn sent_user_reads_the_body_a_row_went_out_with() {
        let tmp = tempfile::tempdir().unwrap();
        drop(Journal::create(tmp.path(), &info(), &plan()).unwrap());
        let dir = tmp.path().join("r1");
        let user = sent_user(&dir, 1).unwrap().unwrap();
        assert_eq!(user["name"], "B");
        assert_eq!(
            sent_user(&dir, 2).unwrap(),
            None,
            "the skipped row sends nothing"
        );

        // One reader asked row after row answers as each question alone, and reads a plan
        // written anew (another size) again.
        let mut sent = SentUsers::default();
        for index in 0..4 {
            assert_eq!(
                sent.user(&dir, index).unwrap(),
                sent_user(&dir, index).unwrap()
            );
        }
        let path = dir.join("plan.jsonl");
        let renamed = std::fs::read_to_string(&path)
            .unwrap()
            .replace(r#"{"name":"B""#, r#"{"name":"Bea""#);
        assert!(renamed.contains("Bea"));
        std::fs::write(&path, renamed).unwrap();
        assert_eq!(sent.user(&dir, 1).unwrap().unwrap()["name"], "Bea");
    }

    #[test]
    fn a_torn_last_line_is_cut_and_a_garbage_line_is_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("journal.jsonl");
        let started = "{\"event\":\"started\",\"at\":\"x\",\"resumed\":false}\n";
        fs::write(&path, format!("{started}{{\"event\":\"send")).unwrap();
        let replay = read_journal(&path, true).unwrap();
        assert!(replay.started && replay.damage.is_none());
        assert_eq!(fs::read_to_string(&path).unwrap(), started);
        fs::write(&path, format!("garbage\n{started}")).unwrap();
        let replay = read_journal(&path, true).unwrap();
        assert!(replay.started);
        assert!(matches!(
            replay.damage,
            Some(Damage::Unreadable { line: 1, .. })
        ));
        fs::write(&path, "").unwrap();
        assert_eq!(
            read_journal(&path, true).unwrap().damage,
            Some(Damage::Empty)
        );
        fs::remove_file(&path).unwrap();
        assert_eq!(
            read_journal(&path, true).unwrap().damage,
            Some(Damage::Missing)
        );
    }

    #[test]
    fn a_journal_from_before_row_indexes_keys_its_rows_by_the_plan() {
        let tmp = tempfile::tempdir().unwrap();
        drop(Journal::create(tmp.path(), &info(), &plan()).unwrap());
        let dir = tmp.path().join("r1");
        fs::write(
            dir.join("journal.jsonl"),
            "{\"event\":\"resolved\",\"outcomes\":[{\"row\":4,\"outcome\":\"skipped\"},\
             {\"row\":3,\"outcome\":\"created\"}]}\n",
        )
        .unwrap();
        let indexes = |o: Vec<RowOutcome>| o.iter().map(|o| (o.index, o.row)).collect::<Vec<_>>();
        assert_eq!(indexes(outcomes(&dir).unwrap()), [(1, 3), (2, 4)]);
        let (_, _, journal) = Journal::open(&dir).unwrap();
        let finished: Vec<u64> = journal.replay().finished.keys().collect();
        assert_eq!(finished, [1, 2]);
        assert_eq!(list_runs(tmp.path())[0].done.pending, 1);
    }

    #[test]
    fn organization_lines_replay_and_plans_before_them_read_without_any() {
        let tmp = tempfile::tempdir().unwrap();
        let mut with_orgs = plan();
        with_orgs.organizations = vec![PlannedOrg {
            name: "Newco".into(),
            users: 1,
        }];
        let mut journal = Journal::create(tmp.path(), &info(), &with_orgs).unwrap();
        let created = OrgOutcome {
            index: 0,
            name: "Newco".into(),
            outcome: Outcome::Created,
            id: Some(7),
            users: 1,
            error: None,
            details: None,
            matched_by: None,
        };
        for entry in [
            Entry::OrgSending {
                batch: 0,
                positions: vec![0],
                attempt: 1,
            },
            Entry::OrgAccepted {
                batch: 0,
                positions: vec![0],
                job_id: "j".into(),
            },
        ] {
            journal.record(&entry).unwrap();
        }
        drop(journal);
        let dir = tmp.path().join("r1");
        let (_, read, journal) = Journal::open(&dir).unwrap();
        assert_eq!(read.organizations, with_orgs.organizations);
        let open = &journal.replay().orgs.open[&0];
        assert!(matches!(open.as_slice(), [Open::Job { job_id, .. }] if job_id == "j"));
        let mut journal = journal;
        journal
            .record(&Entry::OrgResolved {
                outcomes: vec![created.clone()],
            })
            .unwrap();
        drop(journal);
        let (_, _, journal) = Journal::open(&dir).unwrap();
        assert_eq!(journal.replay().orgs.finished.len(), 1, "the job is done");
        assert_eq!(organizations(&dir).unwrap(), std::slice::from_ref(&created));
        // A plan written before organizations were created first has no such key.
        let head = fs::read_to_string(dir.join("plan.jsonl")).unwrap();
        assert!(head.contains("\"organizations\""));
        drop(journal);
        drop(
            Journal::create(
                tmp.path(),
                &RunInfo {
                    id: "r2".into(),
                    ..info()
                },
                &plan(),
            )
            .unwrap(),
        );
        let old = fs::read_to_string(tmp.path().join("r2/plan.jsonl")).unwrap();
        assert!(!old.contains("organizations"), "{old}");
        assert!(organizations(&tmp.path().join("r2")).unwrap().is_empty());

        // What a user of a created organization went out as: its id, not the plan's name.
        let mut named = with_orgs.clone();
        named.batches[0].body =
            Bytes::from_static(br#"{"users":[{"name":"A","organization":{"name":"NEWCO "}}]}"#);
        named.batches[0].rows.truncate(1);
        named.batches[0].keys.truncate(1);
        let mut journal = Journal::create(
            tmp.path(),
            &RunInfo {
                id: "r3".into(),
                ..info()
            },
            &named,
        )
        .unwrap();
        let dir = tmp.path().join("r3");
        // Asked by one reader, which keeps what it read while the files stay as they were.
        let mut sent = SentUsers::default();
        assert_eq!(
            sent.user(&dir, 0).unwrap().unwrap()["organization"]["name"],
            "NEWCO "
        );
        journal
            .record(&Entry::OrgResolved {
                outcomes: vec![created],
            })
            .unwrap();
        let user = sent.user(&dir, 0).unwrap().unwrap();
        assert_eq!(user, serde_json::json!({"name": "A", "organization_id": 7}));
        assert_eq!(sent_user(&dir, 0).unwrap().unwrap(), user);
    }

    #[test]
    fn a_second_open_of_a_locked_run_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let info = info();
        let first = Journal::create(tmp.path(), &info, &plan()).unwrap();
        let error = Journal::open(&tmp.path().join("r1")).unwrap_err();
        let pid = format!("pid {}", std::process::id());
        assert!(
            matches!(&error, JournalError::Locked { holder, .. } if holder.starts_with(&pid)),
            "{error}"
        );
        let hold = first.hold();
        drop(first);
        assert!(
            Journal::open(&tmp.path().join("r1")).is_err(),
            "held past the journal"
        );
        drop(hold);
        assert!(Journal::open(&tmp.path().join("r1")).is_ok());
    }

    /// A child process started while the run was open holds a copy of the lock file until
    /// its exec: the lock is free a moment later, so opening the run waits for it rather than
    /// naming this process as the one that holds it.
    #[test]
    fn a_lock_let_go_a_moment_later_is_waited_for() {
        let tmp = tempfile::tempdir().unwrap();
        let first = Journal::create(tmp.path(), &info(), &plan()).unwrap();
        let copy = first.lock._file.try_clone().unwrap();
        drop(first);
        let child = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(60));
            drop(copy);
        });
        let opened = Journal::open(&tmp.path().join("r1"));
        child.join().unwrap();
        assert!(opened.is_ok(), "{:?}", opened.err());
    }

    #[test]
    fn an_emptied_journal_marks_every_unfinished_user_maybe_sent_and_keeps_saying_so() {
        let tmp = tempfile::tempdir().unwrap();
        drop(Journal::create(tmp.path(), &info(), &plan()).unwrap());
        let dir = tmp.path().join("r1");
        for _ in 0..2 {
            let (_, _, journal) = Journal::open(&dir).unwrap();
            let open = &journal.replay().open[&0];
            assert!(
                open.iter()
                    .any(|o| matches!(o, Open::Sending { positions, .. } if positions == &[0, 1]))
            );
        }
    }
}
