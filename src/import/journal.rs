//! The run folder: `run.json` (what was imported where), `plan.jsonl` (every batch as sent)
//! and `journal.jsonl` (what happened, one JSON line per state change, fsynced).
//!
//! A `sending` line is on disk before a bulk request leaves and an `accepted` line (with the
//! job id) right after its answer, so after a crash every batch is in one of three states:
//! never sent, maybe accepted (sending without accepted: look it up before sending again), or
//! accepted (follow its job). Nothing here holds a secret: no header, token or password.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::plan::{ImportPlan, PlannedBatch, UserKey};
use super::{RowOutcome, Summary};
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
    #[error("{path}, line {line}: not a journal line: {reason}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("no data dir: set ZDIMPORT_DATA_DIR")]
    NoDataDir,
    #[error("no run '{0}' (zdimport runs lists them)")]
    NoSuchRun(String),
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> JournalError {
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

/// One line of `journal.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    Started {
        at: String,
        resumed: bool,
    },
    /// Written and synced before the bulk request leaves.
    Sending {
        batch: usize,
        positions: Vec<usize>,
        attempt: u32,
    },
    /// Zendesk answered with a job.
    Accepted {
        batch: usize,
        positions: Vec<usize>,
        job_id: String,
    },
    /// Zendesk refused before doing anything (429, 4xx): the positions are unsent again.
    NotAccepted {
        batch: usize,
        positions: Vec<usize>,
    },
    /// Rows finished, for good.
    Resolved {
        outcomes: Vec<RowOutcome>,
    },
    Finished {
        summary: Summary,
    },
}

/// The state of one batch after replaying the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Open {
    /// A bulk request left and no answer was recorded: it may have been accepted.
    Sending { positions: Vec<usize>, attempt: u32 },
    /// Accepted as this job.
    Job {
        positions: Vec<usize>,
        job_id: String,
    },
}

/// What the journal says so far.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Finished rows, by sheet row.
    pub finished: BTreeMap<u32, RowOutcome>,
    /// Batches with a request or job open, by batch.
    pub open: BTreeMap<usize, Vec<Open>>,
    pub started: bool,
    pub finished_summary: Option<Summary>,
}

impl Replay {
    fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Started { .. } => self.started = true,
            Entry::Sending {
                batch,
                positions,
                attempt,
            } => self
                .open
                .entry(batch)
                .or_default()
                .push(Open::Sending { positions, attempt }),
            Entry::Accepted {
                batch,
                positions,
                job_id,
            } => {
                self.close(batch, &positions);
                self.open
                    .entry(batch)
                    .or_default()
                    .push(Open::Job { positions, job_id });
            }
            Entry::NotAccepted { batch, positions } => self.close(batch, &positions),
            Entry::Resolved { outcomes } => {
                for outcome in outcomes {
                    self.finished.insert(outcome.row, outcome);
                }
            }
            Entry::Finished { summary } => self.finished_summary = Some(summary),
        }
    }

    /// Removes the open request for exactly these positions.
    fn close(&mut self, batch: usize, positions: &[usize]) {
        if let Some(list) = self.open.get_mut(&batch) {
            list.retain(
                |o| !matches!(o, Open::Sending { positions: p, .. } if p.as_slice() == positions),
            );
        }
    }
}

/// The run folder, open for appending.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: BufWriter<File>,
    replay: Replay,
}

/// `<data dir>/runs`.
pub fn runs_dir() -> Result<PathBuf, JournalError> {
    crate::paths::data_dir()
        .map(|d| d.join("runs"))
        .ok_or(JournalError::NoDataDir)
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

/// The first line of `plan.jsonl`.
#[derive(Debug, Serialize, Deserialize)]
struct PlanHead {
    mode: Mode,
    batches: usize,
    skipped: Vec<(u32, String)>,
}

/// Every further line: one batch.
#[derive(Debug, Serialize, Deserialize)]
struct PlanLine<B> {
    rows: Vec<u32>,
    keys: Vec<UserKey>,
    body: B,
}

impl Journal {
    /// Makes the run folder `runs/<info.id>` with `run.json` and `plan.jsonl`.
    pub fn create(runs: &Path, info: &RunInfo, plan: &ImportPlan) -> Result<Self, JournalError> {
        let dir = runs.join(&info.id);
        fs::create_dir_all(&dir).map_err(io(&dir, "cannot create the run folder"))?;
        write_json(&dir.join("run.json"), info)?;
        write_plan(&dir.join("plan.jsonl"), plan)?;
        let path = dir.join("journal.jsonl");
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path, "cannot create the journal"))?;
        sync_dir(&dir);
        Ok(Self {
            dir,
            file: BufWriter::new(file),
            replay: Replay::default(),
        })
    }

    /// Opens an existing run folder: what was run, the plan, and the journal replayed.
    pub fn open(dir: &Path) -> Result<(RunInfo, ImportPlan, Self), JournalError> {
        let info: RunInfo = read_json(&dir.join("run.json"))?;
        let plan = read_plan(&dir.join("plan.jsonl"))?;
        let path = dir.join("journal.jsonl");
        let replay = read_journal(&path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path, "cannot open the journal"))?;
        Ok((
            info,
            plan,
            Self {
                dir: dir.to_path_buf(),
                file: BufWriter::new(file),
                replay,
            },
        ))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// Appends one line and syncs it to disk before returning.
    pub fn record(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let path = self.dir.join("journal.jsonl");
        serde_json::to_writer(&mut self.file, entry).map_err(|e| JournalError::Io {
            path: path.clone(),
            action: "cannot write the journal",
            source: e.into(),
        })?;
        self.file
            .write_all(b"\n")
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.get_ref().sync_data())
            .map_err(io(&path, "cannot write the journal"))
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

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, JournalError> {
    let text = fs::read(path).map_err(io(path, "cannot read"))?;
    serde_json::from_slice(&text).map_err(|e| JournalError::Corrupt {
        path: path.to_path_buf(),
        line: 1,
        reason: e.to_string(),
    })
}

fn write_plan(path: &Path, plan: &ImportPlan) -> Result<(), JournalError> {
    let file = File::create(path).map_err(io(path, "cannot create"))?;
    let mut out = BufWriter::new(file);
    let encode = |e: serde_json::Error| JournalError::Io {
        path: path.to_path_buf(),
        action: "cannot write",
        source: e.into(),
    };
    let head = PlanHead {
        mode: plan.mode,
        batches: plan.batches.len(),
        skipped: plan.skipped.clone(),
    };
    serde_json::to_writer(&mut out, &head).map_err(encode)?;
    for batch in &plan.batches {
        out.write_all(b"\n").map_err(io(path, "cannot write"))?;
        let body = std::str::from_utf8(&batch.body)
            .ok()
            .and_then(|s| RawValue::from_string(s.to_owned()).ok())
            .ok_or_else(|| JournalError::Corrupt {
                path: path.to_path_buf(),
                line: 0,
                reason: "a batch body is not JSON".into(),
            })?;
        let line = PlanLine {
            rows: batch.rows.clone(),
            keys: batch.keys.clone(),
            body,
        };
        serde_json::to_writer(&mut out, &line).map_err(encode)?;
    }
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .and_then(|()| out.get_ref().sync_all())
        .map_err(io(path, "cannot write"))
}

fn read_plan(path: &Path) -> Result<ImportPlan, JournalError> {
    let file = File::open(path).map_err(io(path, "cannot read"))?;
    let mut lines = BufReader::new(file).lines().enumerate();
    let corrupt = |line: usize, reason: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        line: line + 1,
        reason,
    };
    let Some((_, head)) = lines.next() else {
        return Err(corrupt(0, "empty plan".into()));
    };
    let head = head.map_err(io(path, "cannot read"))?;
    let head: PlanHead = serde_json::from_str(&head).map_err(|e| corrupt(0, e.to_string()))?;
    let mut plan = ImportPlan::new(head.mode);
    plan.skipped = head.skipped;
    for (n, line) in lines {
        let line = line.map_err(io(path, "cannot read"))?;
        if line.trim().is_empty() {
            continue;
        }
        let batch: PlanLine<Box<RawValue>> =
            serde_json::from_str(&line).map_err(|e| corrupt(n, e.to_string()))?;
        plan.batches.push(PlannedBatch {
            rows: batch.rows,
            keys: batch.keys,
            body: Bytes::from(batch.body.get().to_owned()),
        });
    }
    if plan.batches.len() != head.batches {
        return Err(corrupt(0, "the plan is incomplete".into()));
    }
    Ok(plan)
}

/// Replays `journal.jsonl`; a torn last line (a crash mid-write) is ignored.
fn read_journal(path: &Path) -> Result<Replay, JournalError> {
    let file = File::open(path).map_err(io(path, "cannot read"))?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io(path, "cannot read"))?;
    let mut replay = Replay::default();
    let last = lines.len().saturating_sub(1);
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(entry) => replay.apply(entry),
            Err(_) if n == last => {}
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: n + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(replay)
}

/// Every row finished in a run folder, in sheet order.
pub fn outcomes(dir: &Path) -> Result<Vec<RowOutcome>, JournalError> {
    let replay = read_journal(&dir.join("journal.jsonl"))?;
    Ok(replay.finished.into_values().collect())
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
    let info: RunInfo = read_json(&dir.join("run.json")).ok()?;
    let replay = read_journal(&dir.join("journal.jsonl")).ok()?;
    let mut done = Summary {
        rows: info.rows,
        pending: info.rows,
        ..Summary::default()
    };
    for outcome in replay.finished.values() {
        done.count(outcome.outcome);
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
pub fn find_run(runs: &Path, id: Option<&str>) -> Result<PathBuf, JournalError> {
    let list = list_runs(runs);
    let found = match id {
        Some(id) => {
            let hits: Vec<&RunListing> =
                list.iter().filter(|r| r.info.id.starts_with(id)).collect();
            match hits.as_slice() {
                [one] => Some(one.dir.clone()),
                _ => list.iter().find(|r| r.info.id == id).map(|r| r.dir.clone()),
            }
        }
        None => list
            .iter()
            .rev()
            .find(|r| !r.complete)
            .map(|r| r.dir.clone()),
    };
    found.ok_or_else(|| JournalError::NoSuchRun(id.unwrap_or("(latest unfinished)").to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Outcome;

    fn plan() -> ImportPlan {
        let mut plan = ImportPlan::new(Mode::Create);
        plan.batches.push(PlannedBatch {
            rows: vec![2, 3],
            keys: vec![UserKey::default(), UserKey::default()],
            body: Bytes::from_static(br#"{"users":[{"name":"A"},{"name":"B"}]}"#),
        });
        plan.skip(4, "bad email");
        plan
    }

    #[test]
    fn a_run_folder_round_trips_and_replays() {
        let tmp = tempfile::tempdir().unwrap();
        let info = RunInfo {
            id: "r1".into(),
            rows: 3,
            ..RunInfo::default()
        };
        let mut journal = Journal::create(tmp.path(), &info, &plan()).unwrap();
        let sending = Entry::Sending {
            batch: 0,
            positions: vec![0, 1],
            attempt: 1,
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
        assert_eq!(read_plan, plan());
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

    #[test]
    fn a_torn_last_line_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("journal.jsonl");
        fs::write(
            &path,
            "{\"event\":\"started\",\"at\":\"x\",\"resumed\":false}\n{\"event\":\"send",
        )
        .unwrap();
        assert!(read_journal(&path).unwrap().started);
        fs::write(
            &path,
            "garbage\n{\"event\":\"started\",\"at\":\"x\",\"resumed\":false}\n",
        )
        .unwrap();
        assert!(read_journal(&path).is_err());
    }
}
