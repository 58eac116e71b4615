//! Runs: a new run, a retry of an earlier run's rows, the rest of an interrupted run. Each
//! opens (and locks) its run folder first; [`Run::start`] then runs the engine with pause and
//! cancel controls, hands its events to the front end, and writes the run's report at the end.
//! The run's facts (account, file, profile, mode, jobs at once) are kept with the run, in its
//! folder, so a resume in another process or front end picks them up.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use crate::import::journal::{Damage, JournalError};
pub use crate::import::memberships::{MemberCounts, MembershipOutcome, RunMemberships};
pub use crate::import::orgs::cost_text as organizations_cost;
pub use crate::import::report::{
    Format as ReportFormat, ReportError, ReportPathError, check_path as check_report_path,
    organizations_path, row_list, write as write_outcomes, write_as as write_outcomes_as,
    write_memberships_to, write_organizations_to, write_run as write_run_report,
    write_run_to as write_run_report_to, write_to as write_outcomes_to,
};
pub use crate::import::{
    EngineOptions, ImportError, ImportEvent, MAX_JOBS, MatchedBy, OrgCounts, Outbox, OutboxFile,
    Outcome, PlannedOrg, RetryRows, RowOutcome, RunInfo, RunListing, Summary, UserKey, WaitReason,
    can_succeed_again,
};

use crate::import::journal;
use crate::import::{self, Journal, Retry};
use crate::zendesk::Client;

/// Why a run could not be opened, started or finished.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("{path}: cannot write the report: {reason}")]
    Report { path: PathBuf, reason: String },
}

/// Where the run folders live (the state directory's `runs`).
pub fn runs_dir() -> Result<PathBuf, RunError> {
    Ok(journal::runs_dir()?)
}

/// Where a new run's outbox is written while its sheet streams, before its folder exists.
pub fn spool_dir() -> Result<PathBuf, RunError> {
    Ok(journal::spool_dir()?)
}

/// A new run's outbox on disk, its users' organizations resolved as
/// [`crate::plan::orgs::resolve_import_file`] does (read and rewritten a batch at a time, to a
/// new spool in [`spool_dir`]); and the warnings.
pub async fn resolve_organizations(
    client: &Client,
    plan: OutboxFile,
    policy: crate::plan::MissingOrgs,
    concurrency: usize,
) -> Result<(OutboxFile, Vec<String>), crate::plan::PlanError> {
    let dir = journal::spool_dir()?;
    crate::plan::orgs::resolve_import_file(client, plan, &dir, policy, concurrency).await
}

/// Every run folder under [`runs_dir`], oldest first; none when there is no such folder.
pub fn list() -> Vec<RunListing> {
    journal::runs_dir()
        .map(|dir| journal::list_runs(&dir))
        .unwrap_or_default()
}

/// The folder of the run whose id is or starts with `id`; with none, the latest unfinished.
pub fn find(id: Option<&str>) -> Result<PathBuf, RunError> {
    Ok(journal::find_run(&runs_dir()?, id)?)
}

/// A fresh run id: the UTC time and a random suffix, sortable by time.
pub fn new_id() -> String {
    journal::new_run_id()
}

/// How fast the engine goes: jobs at once, and the clock of a sandbox that runs faster than
/// real time (the engine's waits shrink with it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pace {
    /// Jobs queued or running at once (1 to [`MAX_JOBS`]); `None`: as many as Zendesk allows.
    pub jobs: Option<usize>,
    /// Simulated seconds per real second of the account's clock; `None`: real time.
    pub speed: Option<f64>,
}

impl Pace {
    fn engine_options(self) -> EngineOptions {
        let mut options = self
            .speed
            .map_or_else(EngineOptions::default, EngineOptions::for_speed);
        if let Some(jobs) = self.jobs {
            options.concurrency = jobs.clamp(1, MAX_JOBS);
        }
        options
    }
}

/// Steers a started run from anywhere (a key, Ctrl-C, another task).
#[derive(Debug, Clone)]
pub struct Controls {
    cancel: CancellationToken,
    pause: Arc<watch::Sender<bool>>,
}

impl Controls {
    /// Pauses sending (`true`) or goes on; jobs in flight are followed either way.
    pub fn pause(&self, paused: bool) {
        let _ = self.pause.send(paused);
    }

    /// Stops sending; what is in flight is followed for a while, the journal stays resumable.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

/// A run whose folder is open and locked, ready to start.
#[derive(Debug)]
pub struct Run {
    pub info: RunInfo,
    journal: Journal,
    /// A retry holds the earlier run's lock while it runs, so no resume of it sends the same
    /// rows at the same time.
    _earlier: Option<journal::RunHold>,
}

impl Run {
    /// Makes the folder of a new run: its facts, its plan, an empty journal.
    pub fn create(info: RunInfo, plan: Outbox) -> Result<Self, RunError> {
        Self::create_in(&runs_dir()?, info, plan)
    }

    /// [`Run::create`] under `runs` instead of the state directory's.
    pub fn create_in(runs: &Path, info: RunInfo, plan: Outbox) -> Result<Self, RunError> {
        let journal = Journal::create(runs, &info, &plan)?;
        drop(plan);
        Ok(Self::made(info, journal, None))
    }

    /// Makes the folder of a new run whose outbox was written to a spool as its sheet
    /// streamed ([`crate::import::OutboxWriter`]): the batches are copied, never all in memory.
    pub fn create_from(info: RunInfo, plan: OutboxFile) -> Result<Self, RunError> {
        let journal = Journal::create_from(&runs_dir()?, &info, &plan)?;
        drop(plan);
        Ok(Self::made(info, journal, None))
    }

    fn made(info: RunInfo, journal: Journal, earlier: Option<journal::RunHold>) -> Self {
        Self {
            info,
            journal,
            _earlier: earlier,
        }
    }

    /// Makes the folder of the retry `retry` reads: its unknown rows recorded as maybe sent,
    /// so the engine looks them up before sending anything.
    pub fn retry(retry: Retry) -> Result<Self, RunError> {
        Self::retry_in(&runs_dir()?, retry)
    }

    /// [`Run::retry`] under `runs` instead of the state directory's. Of the earlier run only
    /// its lock is kept: what the retry read of it (its rows' ends, the positions to look up)
    /// is in the new run's folder now.
    pub fn retry_in(runs: &Path, retry: Retry) -> Result<Self, RunError> {
        let journal = retry.create(runs)?;
        let earlier = retry.hold();
        Ok(Self::made(retry.info, journal, Some(earlier)))
    }

    /// The run's folder.
    pub fn dir(&self) -> &Path {
        self.journal.dir()
    }

    /// Starts the engine on `client` (on a thread of the caller's runtime, when awaited):
    /// the events come on the receiver, [`Started::finish`] runs the run to its end.
    pub fn start(self, client: Arc<Client>, pace: Pace) -> (Started, mpsc::Receiver<ImportEvent>) {
        let (events, incoming) = mpsc::channel(32);
        let (pause, paused) = watch::channel(false);
        let controls = Controls {
            cancel: CancellationToken::new(),
            pause: Arc::new(pause),
        };
        let mut options = pace.engine_options();
        options.pause = Some(paused);
        let started = Started {
            run: self,
            client,
            options,
            events,
            controls,
        };
        (started, incoming)
    }
}

/// A run with its controls, to be driven to its end with [`Started::finish`].
#[derive(Debug)]
pub struct Started {
    run: Run,
    client: Arc<Client>,
    options: EngineOptions,
    events: mpsc::Sender<ImportEvent>,
    controls: Controls,
}

/// How a run ended: its counts, and where its folder and report are.
#[derive(Debug, Clone)]
pub struct Ended {
    pub summary: Summary,
    pub dir: PathBuf,
    pub report: PathBuf,
}

impl Started {
    pub fn controls(&self) -> Controls {
        self.controls.clone()
    }

    pub fn info(&self) -> &RunInfo {
        &self.run.info
    }

    pub fn dir(&self) -> &Path {
        self.run.dir()
    }

    /// Runs the engine until every row is finished or the run is cancelled, holding the run
    /// folder's lock throughout; then writes the report to `report` (default: the folder's
    /// `report.csv`). The process's log file is noted in the folder's `logs.txt`.
    pub async fn finish(self, report: Option<PathBuf>) -> Result<Ended, RunError> {
        let Started {
            run,
            client,
            options,
            events,
            controls,
        } = self;
        let dir = run.dir().to_path_buf();
        note_log(&dir);
        let _locked_until_done = run.journal.hold();
        let _earlier = run._earlier;
        let summary = import::run(&client, run.journal, events, controls.cancel, options).await?;
        let report = report.unwrap_or_else(|| dir.join("report.csv"));
        write_report(&dir, &report)?;
        Ok(Ended {
            summary,
            dir,
            report,
        })
    }
}

/// Writes the report of the run in `dir` to `path`: every finished row; and, when the run
/// creates organizations first, every organization beside it
/// ([`import::report::organizations_path`]).
pub fn write_report(dir: &Path, path: &Path) -> Result<(), RunError> {
    import::report::write_run(path, dir, import::report::Format::of(path)).map_err(|e| {
        RunError::Report {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })?;
    let members = memberships(dir)?;
    if !members.is_empty() {
        let path = import::report::memberships_path(path);
        import::report::write_memberships(&path, &members).map_err(|e| RunError::Report {
            reason: e.to_string(),
            path,
        })?;
    }
    // Its table of ends let go before the journal is read again for the organizations.
    drop(members);
    let orgs = organizations(dir)?;
    if orgs.is_empty() {
        return Ok(());
    }
    let path = import::report::organizations_path(path);
    import::report::write_organizations(&path, &orgs).map_err(|e| RunError::Report {
        reason: e.to_string(),
        path,
    })
}

/// The memberships the run in `dir` adds after its users, for its report: handed out in plan
/// order, those not finished as `unknown` ("not added yet"); none for a run without them.
pub fn memberships(dir: &Path) -> Result<RunMemberships, RunError> {
    Ok(RunMemberships::open(dir)?)
}

/// Every organization the run in `dir` creates before its users, those not finished as
/// `not_sent`; none for a run that creates none.
pub fn organizations(dir: &Path) -> Result<Vec<import::OrgOutcome>, RunError> {
    Ok(journal::organizations(dir)?)
}

/// An interrupted (or finished) run, opened and locked.
#[derive(Debug)]
pub struct Resumable {
    pub run: Run,
    /// Its counts when every row already has its end: there is nothing to resume.
    pub finished: Option<Summary>,
    /// What is wrong with its journal, when it cannot be trusted (every batch is then looked
    /// up before anything is sent again).
    pub damage: Option<String>,
    /// The jobs at once it last ran with.
    pub jobs: Option<usize>,
}

/// Opens the run in `dir` to continue it.
pub fn resume(dir: &Path) -> Result<Resumable, RunError> {
    let (info, _plan, journal) = Journal::open(dir)?;
    let replay = journal.replay();
    let finished = finished(replay, &info);
    let damage = replay
        .damage
        .as_ref()
        .map(|d| d.describe(&dir.join("journal.jsonl")));
    let jobs = replay.jobs;
    Ok(Resumable {
        run: Run {
            info,
            journal,
            _earlier: None,
        },
        finished,
        damage,
        jobs,
    })
}

/// Reads (and locks) the run in `dir` for a retry of the rows `rows` says, as a new run.
pub fn read_retry(dir: &Path, rows: RetryRows) -> Result<Retry, RunError> {
    Ok(Retry::read_rows(dir, rows)?)
}

/// The counts of a run that ended with every row finished.
fn finished(replay: &journal::Replay, info: &RunInfo) -> Option<Summary> {
    let mut done = Summary {
        rows: info.rows,
        pending: info.rows,
        ..Summary::default()
    };
    for (_, outcome) in replay.finished.iter() {
        done.count(outcome);
    }
    // As `zdimport runs` says "done": the run wrote its end, and every row has an outcome.
    let ended = replay
        .finished_summary
        .as_ref()
        .is_some_and(|s| !s.cancelled);
    (ended && replay.damage.is_none() && done.pending == 0).then_some(done)
}

/// Every finished row of the run in `dir`.
pub fn outcomes(dir: &Path) -> Result<Vec<RowOutcome>, RunError> {
    Ok(journal::outcomes(dir)?)
}

/// Every row of the run in `dir` in the plan's order, those not finished as `not_sent`.
pub fn rows(dir: &Path) -> Result<Vec<RowOutcome>, RunError> {
    Ok(journal::rows(dir)?)
}

/// The user a row went out as (from the run's plan file), when it was sent.
pub fn sent_user(dir: &Path, index: u64) -> Result<Option<serde_json::Value>, RunError> {
    Ok(journal::sent_user(dir, index)?)
}

/// [`sent_user`] for a screen that asks row after row: what it read of the run's plan and
/// journal is kept between questions while the files stay as they were.
#[derive(Default)]
pub struct SentUsers(journal::SentUsers);

impl SentUsers {
    pub fn user(&mut self, dir: &Path, index: u64) -> Result<Option<serde_json::Value>, RunError> {
        Ok(self.0.user(dir, index)?)
    }
}

/// The run folder's `logs.txt`: the log file of each process that worked on the run.
const LOGS_FILE: &str = "logs.txt";

/// Notes this process's log file in the run folder, so the run's logs can be found from it.
fn note_log(dir: &Path) {
    let Some(log) = crate::logging::current() else {
        return;
    };
    let line = format!("{}\n", log.display());
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOGS_FILE))
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(
            "{}: cannot note the log file: {e}",
            dir.join(LOGS_FILE).display()
        );
    }
}

/// The log files noted in a run folder.
pub fn logs_of(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(LOGS_FILE))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The id of the run in `dir` (its folder's name).
pub fn id_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
