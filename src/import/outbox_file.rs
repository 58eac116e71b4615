//! The outbox on disk: one line per batch (rows, identifiers, body), in the run folder's
//! `plan.jsonl` or in a spool written while a sheet streams, and read back one batch at a
//! time when the engine sends it, matches its results or looks its users up; the skipped rows
//! in lines after the batches ([`super::skipped`]). Memory holds a few numbers per batch and
//! per thousand skipped rows, and the lines in use, however many rows the run has.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead as _, BufReader, BufWriter, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::journal::{
    JournalError, PLAN_ADVICE, PlanHead, PlanLine, PlanLineRef, io, next_line, try_lock,
};
use super::orgs::PlannedOrg;
use super::outbox::{OutboxBatch, UserKey};
use super::skipped::{self, Skipped, SkippedRow};
use super::{ImportError, report};
use crate::payload::{Issue, Mode, Request, Severity};

/// Batches kept parsed at once: the jobs in flight and a few more (the rest are read again).
const CACHED: usize = 2 * super::MAX_JOBS + 4;

/// Where one batch's line is, and what the engine needs of it without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchRef {
    offset: u64,
    len: usize,
    /// The index of its first user (see [`OutboxBatch::first_index`]).
    pub first_index: u64,
    pub size: usize,
    pub sent_as: Option<Mode>,
}

/// A run's outbox read from (or written to) a file: the organizations in memory, the batches
/// and the rows skipped on disk.
#[derive(Debug)]
pub struct OutboxFile {
    pub mode: Mode,
    /// What the batches send: users, or organizations.
    pub object: crate::mapping::Object,
    /// The rows not sent, with the reason and whom each names.
    skipped: Skipped,
    pub organizations: Vec<PlannedOrg>,
    path: PathBuf,
    refs: Vec<BatchRef>,
    file: Mutex<File>,
    cache: Mutex<VecDeque<(usize, Arc<OutboxBatch>)>>,
    /// A spool (no run folder yet): removed when dropped.
    spool: bool,
    /// Rows sent despite an error, when counted as the outbox was written.
    despite: Option<usize>,
}

impl Drop for OutboxFile {
    fn drop(&mut self) {
        if self.spool {
            let _gone = fs::remove_file(&self.path);
        }
    }
}

/// The rows and mode of a batch line, its identifiers and body skipped over.
#[derive(Deserialize)]
struct LineShape {
    rows: Vec<u32>,
    #[serde(default)]
    sent_as: Option<Mode>,
}

impl OutboxFile {
    /// Opens a run folder's `plan.jsonl`: its first line read, its batch lines found.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let file = File::open(path).map_err(io(path, "cannot read"))?;
        let mut reader = BufReader::new(file);
        let corrupt = |line: usize, reason: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            line: line + 1,
            reason,
            advice: PLAN_ADVICE,
        };
        if reader
            .fill_buf()
            .map_err(io(path, "cannot read"))?
            .is_empty()
        {
            return Err(corrupt(0, "empty plan".into()));
        }
        // The head is parsed as it is read: a sheet of errors makes it tens of megabytes,
        // which are not held as a line besides.
        let head = PlanHead::deserialize(&mut serde_json::Deserializer::from_reader(&mut reader))
            .map_err(|e| corrupt(0, e.to_string()))?;
        let mut line = Vec::new();
        next_line(&mut reader, &mut line, path)?;
        if !line.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt(0, "more than the plan's head on its line".into()));
        }
        let mut offset = reader.stream_position().map_err(io(path, "cannot read"))?;
        let mut refs = Vec::new();
        let mut lines = skipped::Found::default();
        let mut first_index = 0;
        for n in 1.. {
            let read = next_line(&mut reader, &mut line, path)?;
            if read == 0 {
                break;
            }
            let at = offset;
            offset += read as u64;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // The batch lines first, then the skipped lines, as many of each as the head says.
            if refs.len() == head.batches {
                if lines.lines() == head.skipped_lines {
                    return Err(corrupt(
                        n,
                        "a line past those the plan's head counts".into(),
                    ));
                }
                lines
                    .line((at, read, n + 1), &line)
                    .map_err(|e| corrupt(n, format!("skipped rows: {e}")))?;
                continue;
            }
            let shape: LineShape =
                serde_json::from_slice(&line).map_err(|e| corrupt(n, e.to_string()))?;
            refs.push(BatchRef {
                offset: at,
                len: read,
                first_index,
                size: shape.rows.len(),
                sent_as: shape.sent_as,
            });
            first_index += shape.rows.len() as u64;
        }
        if refs.len() != head.batches || lines.lines() != head.skipped_lines {
            return Err(corrupt(0, "the plan is incomplete".into()));
        }
        let skipped = if head.skipped_lines == 0 && head.skipped_rows == 0 {
            // A plan from before skipped lines (its head holds them), or none skipped.
            Skipped::Held {
                rows: head.skipped.into_owned(),
                keys: head.skipped_keys.into_owned(),
            }
        } else if head.skipped.is_empty() && lines.rows() == head.skipped_rows {
            Skipped::Lines(lines.open(path)?)
        } else {
            let reason = format!(
                "the head counts {} skipped rows (and lists {}), its skipped lines hold {}",
                head.skipped_rows,
                head.skipped.len(),
                lines.rows()
            );
            return Err(corrupt(0, reason));
        };
        let file = File::open(path).map_err(io(path, "cannot read"))?;
        Ok(Self {
            mode: head.mode,
            object: head.object,
            skipped,
            organizations: head.organizations.into_owned(),
            path: path.to_path_buf(),
            refs,
            file: Mutex::new(file),
            cache: Mutex::new(VecDeque::new()),
            spool: false,
            despite: None,
        })
    }

    /// The file the batches are read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Batches (bulk requests).
    pub fn batches(&self) -> usize {
        self.refs.len()
    }

    pub(crate) fn batch_ref(&self, batch: usize) -> Option<&BatchRef> {
        self.refs.get(batch)
    }

    /// The bulk endpoint batch `batch` goes to, for its mode and the plan's object (see
    /// [`super::Outbox::endpoint`]).
    pub fn endpoint(&self, batch: usize) -> crate::zendesk::BulkEndpoint {
        super::outbox::endpoint_of(self.object, self.mode_of(batch))
    }

    /// Each endpoint the batches go to, with how many requests (see
    /// [`super::Outbox::endpoints_text`]).
    pub fn endpoints_text(&self) -> String {
        super::outbox::endpoints_text(self.batches(), |b| self.endpoint(b))
    }

    /// The mode whose endpoint batch `batch` goes to: its own, else the plan's.
    pub fn mode_of(&self, batch: usize) -> Mode {
        self.refs
            .get(batch)
            .and_then(|r| r.sent_as)
            .unwrap_or(self.mode)
    }

    /// Batch `batch`, read from the file unless it is in use already.
    pub fn batch(&self, batch: usize) -> Result<Arc<OutboxBatch>, JournalError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, found)) = cache.iter().find(|(b, _)| *b == batch) {
            return Ok(Arc::clone(found));
        }
        let read = Arc::new(self.read(batch)?);
        if cache.len() >= CACHED {
            cache.pop_front();
        }
        cache.push_back((batch, Arc::clone(&read)));
        Ok(read)
    }

    /// Batch `batch` read from the file, not kept (a pass over every batch).
    pub fn read(&self, batch: usize) -> Result<OutboxBatch, JournalError> {
        let at = self.refs.get(batch).ok_or_else(|| JournalError::Corrupt {
            path: self.path.clone(),
            line: 0,
            reason: format!("no batch {batch}"),
            advice: PLAN_ADVICE,
        })?;
        let mut line = vec![0; at.len];
        {
            let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
            file.seek(SeekFrom::Start(at.offset))
                .and_then(|_| file.read_exact(&mut line))
                .map_err(io(&self.path, "cannot read"))?;
        }
        let parsed: PlanLine<Box<RawValue>> =
            serde_json::from_slice(&line).map_err(|e| JournalError::Corrupt {
                path: self.path.clone(),
                line: 0,
                reason: format!("batch {batch}: {e}"),
                advice: PLAN_ADVICE,
            })?;
        Ok(OutboxBatch {
            first_index: at.first_index,
            rows: parsed.rows,
            keys: parsed.keys,
            body: Bytes::from(parsed.body.get().to_owned()),
            sent_as: parsed.sent_as,
        })
    }

    /// The batch and position of the sent row at `index`.
    pub(crate) fn locate(&self, index: u64) -> Option<(usize, usize)> {
        let at = self
            .refs
            .partition_point(|b| b.first_index <= index)
            .checked_sub(1)?;
        let position = usize::try_from(index - self.refs[at].first_index).ok()?;
        (position < self.refs[at].size).then_some((at, position))
    }

    /// Rows sent.
    pub fn sent_rows(&self) -> usize {
        self.refs.iter().map(|b| b.size).sum()
    }

    /// Every row of the run: sent and skipped.
    pub fn rows(&self) -> usize {
        self.sent_rows() + self.skipped.len()
    }

    /// Rows skipped.
    pub fn skipped_len(&self) -> usize {
        self.skipped.len()
    }

    /// Pieces the skipped rows are read in: at most [`skipped::PER_LINE`] rows each.
    pub(crate) fn skipped_pieces(&self) -> usize {
        self.skipped.pieces()
    }

    /// The skipped rows of piece `piece`, with their index, sheet row, reason and whom they
    /// name (one line of the file read).
    pub(crate) fn skipped_piece(&self, piece: usize) -> Result<Vec<SkippedRow>, JournalError> {
        self.skipped.piece(piece, self.sent_rows() as u64)
    }

    /// Every skipped row in order, read a piece at a time.
    pub(crate) fn skipped_rows(&self) -> impl Iterator<Item = Result<SkippedRow, JournalError>> {
        (0..self.skipped_pieces()).flat_map(|piece| {
            let (rows, error) = match self.skipped_piece(piece) {
                Ok(rows) => (rows, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            rows.into_iter().map(Ok).chain(error.map(Err))
        })
    }

    /// Rows sent despite an error (`--invalid include`): counted as the outbox was written,
    /// else in one pass over the batches.
    pub fn sent_despite(&self) -> Result<usize, JournalError> {
        if let Some(count) = self.despite {
            return Ok(count);
        }
        let mut count = 0;
        for b in 0..self.batches() {
            let batch = self.read(b)?;
            count += batch
                .keys
                .iter()
                .filter(|k| k.sent_despite.is_some())
                .count();
        }
        Ok(count)
    }

    /// The whole outbox in memory (a small run, a test).
    pub fn load(&self) -> Result<super::Outbox, JournalError> {
        let mut outbox = super::Outbox::new(self.mode);
        outbox.object = self.object;
        outbox.organizations.clone_from(&self.organizations);
        for b in 0..self.batches() {
            outbox.batches.push(self.read(b)?);
        }
        for row in self.skipped_rows() {
            let row = row?;
            if let Some(key) = row.key {
                outbox.skipped_keys.insert(outbox.skipped.len(), key);
            }
            outbox.skip(row.row, row.reason);
        }
        Ok(outbox)
    }

    /// The outbox without its batches and skipped rows: its mode, object and organizations;
    /// the head of a plan rewritten batch by batch into a [`SpoolBuilder`].
    pub(crate) fn head_outbox(&self) -> super::Outbox {
        let mut outbox = super::Outbox::new(self.mode);
        outbox.object = self.object;
        outbox.organizations.clone_from(&self.organizations);
        outbox
    }

    /// Writes `plan.jsonl` at `path`: the first line, then this outbox's batch lines as they
    /// are in its file, then its skipped lines, copied without being read into memory.
    pub(crate) fn write_plan(&self, path: &Path) -> Result<(), JournalError> {
        let out = File::create(path).map_err(io(path, "cannot create"))?;
        let mut out = BufWriter::new(out);
        let head = PlanHead {
            mode: self.mode,
            object: self.object,
            batches: self.refs.len(),
            skipped_lines: self.skipped.pieces(),
            skipped_rows: self.skipped.len(),
            skipped: Cow::Borrowed(&[]),
            skipped_keys: Cow::Owned(BTreeMap::new()),
            organizations: Cow::Borrowed(&self.organizations),
        };
        serde_json::to_writer(&mut out, &head).map_err(|e| JournalError::Io {
            path: path.to_path_buf(),
            action: "cannot write",
            source: e.into(),
        })?;
        out.write_all(b"\n").map_err(io(path, "cannot write"))?;
        {
            // Through the file already open: a spool is locked, and on Windows a lock keeps
            // other handles out.
            let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
            let spans = self.refs.iter().map(|at| (at.offset, at.len));
            copy_lines(&mut file, &self.path, spans, (&mut out, path))?;
        }
        self.skipped.write_lines(&mut out, path)?;
        out.flush()
            .and_then(|()| out.get_ref().sync_all())
            .map_err(io(path, "cannot write"))
    }
}

/// Copies the lines of `file` (at `from`) at `spans` (offset, length) to `out` (the file at
/// `to`) without reading them into memory, each ending with a line break (a plan's last line
/// may have none).
pub(super) fn copy_lines(
    file: &mut File,
    from: &Path,
    spans: impl Iterator<Item = (u64, usize)>,
    (out, to): (&mut impl std::io::Write, &Path),
) -> Result<(), JournalError> {
    let mut last = [0u8];
    for (offset, len) in spans {
        file.seek(SeekFrom::Start(offset))
            .map_err(io(from, "cannot read"))?;
        let copied = std::io::copy(&mut (&mut *file).take(len as u64), out)
            .map_err(io(to, "cannot write"))?;
        if copied != len as u64 || len == 0 {
            return Err(JournalError::Corrupt {
                path: from.to_path_buf(),
                line: 0,
                reason: "a line is cut short".into(),
                advice: PLAN_ADVICE,
            });
        }
        file.seek(SeekFrom::Start(offset + len as u64 - 1))
            .and_then(|_| file.read_exact(&mut last))
            .map_err(io(from, "cannot read"))?;
        if last != *b"\n" {
            out.write_all(b"\n").map_err(io(to, "cannot write"))?;
        }
    }
    Ok(())
}

/// A body already serialised, written as it is.
struct RawBody<'a>(&'a [u8]);

impl Serialize for RawBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = std::str::from_utf8(self.0).map_err(serde::ser::Error::custom)?;
        let raw: &RawValue = serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// A spool's name: `.outbox-<pid>-<random>.jsonl`.
const SPOOL_PREFIX: &str = ".outbox-";
const SPOOL_SUFFIX: &str = ".jsonl";

/// How long an unlocked spool is left alone. A live process locks its spool the moment it
/// makes it, and the lock ends with the process, so an unlocked one is a dead process's: the
/// wait covers only that first moment, and spools of versions that did not lock theirs while
/// they were being written.
const STALE_AFTER: Duration = Duration::from_secs(10 * 60);

/// Removes the spools in `dir` left by processes that died before their run folder was made
/// (a kill, a crash, a power cut: the spool's `Drop` never ran): those no process holds locked
/// and not written to for `quiet`. Returns how many went; what cannot be read or removed is
/// logged and left.
pub(crate) fn remove_stale_spools(dir: &Path, quiet: Duration) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(SPOOL_PREFIX) && name.ends_with(SPOOL_SUFFIX)) {
            continue;
        }
        let path = entry.path();
        match stale(&path, quiet) {
            Ok(false) => {}
            Ok(true) => match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                // Another process cleaning the same folder took it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("{}: cannot remove a stale spool: {e}", path.display()),
            },
            Err(e) => tracing::warn!("{}: cannot tell if the spool is stale: {e}", path.display()),
        }
    }
    if removed > 0 {
        tracing::info!("{}: removed {removed} stale outbox spools", dir.display());
    }
    removed
}

/// Whether the spool at `path` is a dead process's: not written to for `quiet`, and its lock
/// free (taken here for a moment, and let go before the file is removed).
fn stale(path: &Path, quiet: Duration) -> std::io::Result<bool> {
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let age = file.metadata()?.modified()?.elapsed().unwrap_or_default();
    if age < quiet {
        return Ok(false);
    }
    try_lock(&file)
}

/// Batch lines appended to a spool file, their places noted.
struct SpoolWriter {
    path: PathBuf,
    out: BufWriter<File>,
    written: u64,
    refs: Vec<BatchRef>,
    first_index: u64,
    line: Vec<u8>,
}

impl SpoolWriter {
    /// A new spool in `dir`, locked while this process holds it; the spools of processes that
    /// died there are removed first ([`remove_stale_spools`]).
    fn create(dir: &Path) -> Result<Self, JournalError> {
        fs::create_dir_all(dir).map_err(io(dir, "cannot create the folder"))?;
        remove_stale_spools(dir, STALE_AFTER);
        let name = format!(
            "{SPOOL_PREFIX}{}-{:08x}{SPOOL_SUFFIX}",
            std::process::id(),
            rand::random::<u32>()
        );
        let path = dir.join(name);
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .read(true)
            .open(&path)
            .map_err(io(&path, "cannot create the outbox spool"))?;
        // Unlocked, it would be taken for a dead process's once old enough; a file system
        // without locks only loses that.
        match try_lock(&file) {
            Ok(true) => {}
            Ok(false) => tracing::warn!("{}: locked by another process", path.display()),
            Err(e) => tracing::warn!("{}: cannot lock the outbox spool: {e}", path.display()),
        }
        Ok(Self {
            path,
            out: BufWriter::new(file),
            written: 0,
            refs: Vec::new(),
            first_index: 0,
            line: Vec::new(),
        })
    }

    fn write<B: Serialize>(
        &mut self,
        rows: &[u32],
        keys: &[UserKey],
        body: &B,
        sent_as: Option<Mode>,
    ) -> Result<(), JournalError> {
        self.encode(rows, keys, body, sent_as)
            .map_err(|e| JournalError::Io {
                path: self.path.clone(),
                action: "cannot encode a batch",
                source: e.into(),
            })?;
        self.append(rows.len(), sent_as)
    }

    /// The batch's line, in `self.line`.
    fn encode<B: Serialize>(
        &mut self,
        rows: &[u32],
        keys: &[UserKey],
        body: &B,
        sent_as: Option<Mode>,
    ) -> Result<(), serde_json::Error> {
        self.line.clear();
        let line = PlanLineRef {
            rows,
            keys,
            body,
            sent_as,
        };
        serde_json::to_writer(&mut self.line, &line)?;
        self.line.push(b'\n');
        Ok(())
    }

    /// Appends the line `encode` made.
    fn append(&mut self, size: usize, sent_as: Option<Mode>) -> Result<(), JournalError> {
        self.out
            .write_all(&self.line)
            .map_err(io(&self.path, "cannot write the outbox spool"))?;
        self.refs.push(BatchRef {
            offset: self.written,
            len: self.line.len(),
            first_index: self.first_index,
            size,
            sent_as,
        });
        self.written += self.line.len() as u64;
        self.first_index += size as u64;
        Ok(())
    }

    fn finish(self) -> Result<(PathBuf, Vec<BatchRef>, File), JournalError> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| io(&self.path, "cannot write the outbox spool")(e.into_error()))?;
        Ok((self.path, self.refs, file))
    }
}

/// A run's outbox written batch by batch as a sheet streams, into a spool in the data dir:
/// what [`super::Outbox`] holds, with the bodies on disk.
pub struct OutboxWriter {
    mode: Mode,
    object: crate::mapping::Object,
    spool: SpoolWriter,
    /// The rows skipped, a line at a time to a scratch file beside the spool.
    skipped: skipped::Writer,
    /// The errors of the row whose issues are coming in: its number, messages and whether
    /// every one may be sent anyway. A row's issues come together, rows in sheet order.
    current: Option<(u32, String, bool)>,
    /// `--invalid include`: rows whose every error is includable, waiting for the request
    /// that sends them (it follows within a round of batches), with their messages.
    held: BTreeMap<u32, String>,
    /// `--invalid include`: rows with only includable errors are sent, marked.
    include: bool,
    sent_despite: usize,
    /// Rows with an error, and those whose every error is includable.
    error_rows: u64,
    includable_rows: u64,
}

impl OutboxWriter {
    /// A spool in `dir` (the data dir: the run folder is made from it).
    pub fn create(
        dir: &Path,
        (mode, object): (Mode, crate::mapping::Object),
        include: bool,
    ) -> Result<Self, JournalError> {
        let spool = SpoolWriter::create(dir)?;
        Ok(Self {
            mode,
            object,
            skipped: skipped::Writer::new(dir, &spool.path),
            spool,
            current: None,
            held: BTreeMap::new(),
            include,
            sent_despite: 0,
            error_rows: 0,
            includable_rows: 0,
        })
    }

    /// A row's problem. Errors are settled as soon as the row's issues are all in: skipped
    /// at once, or (`--invalid include`, every error includable) held until the row's
    /// request or the end; a skipped row's messages are written with the next thousand.
    pub fn issue(&mut self, issue: &Issue) -> Result<(), JournalError> {
        if issue.severity != Severity::Error {
            return Ok(());
        }
        if self
            .current
            .as_ref()
            .is_some_and(|(row, ..)| *row != issue.row)
        {
            self.settle()?;
        }
        let (_, messages, includable) = self
            .current
            .get_or_insert_with(|| (issue.row, String::new(), true));
        if !messages.is_empty() {
            messages.push_str("; ");
        }
        if let Some(column) = &issue.column {
            messages.push_str(column);
            messages.push_str(": ");
        }
        messages.push_str(&issue.message);
        *includable &= issue.includable;
        Ok(())
    }

    /// The row whose issues came last: skipped, or held for its request.
    fn settle(&mut self) -> Result<(), JournalError> {
        let Some((row, mut messages, includable)) = self.current.take() else {
            return Ok(());
        };
        self.error_rows += 1;
        self.includable_rows += u64::from(includable);
        if self.include && includable {
            messages.shrink_to_fit();
            self.held.insert(row, messages);
            Ok(())
        } else {
            self.skipped.push(row, messages, None)
        }
    }

    /// What each policy leaves out of the `rows` data rows, from the errors met (the last
    /// row's too, not settled yet).
    pub fn left_out(&self, rows: u64) -> crate::payload::LeftOut {
        let last = self.current.as_ref().map(|(_, _, includable)| *includable);
        crate::payload::LeftOut {
            errors: self.error_rows + u64::from(last.is_some()),
            includable: self.includable_rows + u64::from(last == Some(true)),
            rows,
        }
    }

    /// Writes a request built by the payload code: its body serialised once, here; a row
    /// sent despite its errors marked (as [`super::Outbox::settle_errors`] does).
    pub fn push_request(&mut self, request: &Request) -> Result<(), ImportError> {
        let mut keys: Vec<UserKey> = request.body.users.iter().map(UserKey::of).collect();
        self.settle()?;
        if !self.held.is_empty() {
            for (row, key) in request.rows.iter().zip(&mut keys) {
                if let Some(messages) = self.held.remove(row) {
                    key.sent_despite = Some(messages);
                    self.sent_despite += 1;
                }
            }
        }
        let sent_as = Mode::ALL
            .into_iter()
            .find(|m| m.endpoint().1 == request.path)
            .filter(|m| *m != self.mode);
        let batch = self.spool.refs.len();
        self.spool
            .encode(&request.rows, &keys, &request.body, sent_as)
            .map_err(|e| ImportError::Encode {
                batch,
                rows: report::row_list(&request.rows),
                reason: e.to_string(),
            })?;
        Ok(self.spool.append(request.rows.len(), sent_as)?)
    }

    /// Rows sent despite an error so far.
    pub fn sent_despite(&self) -> usize {
        self.sent_despite
    }

    /// The outbox: every row with an error not sent is skipped with its messages.
    pub fn finish(mut self) -> Result<OutboxFile, JournalError> {
        self.settle()?;
        // Held rows no request sent: skipped too, in sheet order with the rest (merged into
        // a second scratch file, the first read back a line at a time).
        let unsent = std::mem::take(&mut self.held);
        let merged = self.skipped.another();
        let mut skipped = self.skipped.finish()?;
        if !unsent.is_empty() {
            skipped = skipped::merge(&skipped, unsent, merged)?;
        }
        let (path, refs, file) = self.spool.finish()?;
        Ok(OutboxFile {
            mode: self.mode,
            object: self.object,
            skipped,
            organizations: Vec::new(),
            path,
            refs,
            file: Mutex::new(file),
            cache: Mutex::new(VecDeque::new()),
            spool: true,
            despite: Some(self.sent_despite),
        })
    }
}

/// Batches and skipped rows written one by one to a spool (the skipped rows to a scratch file
/// beside it), then an [`OutboxFile`] with the rest of the outbox.
pub(crate) struct SpoolBuilder {
    batches: SpoolWriter,
    skipped: skipped::Writer,
}

impl SpoolBuilder {
    pub(crate) fn create(dir: &Path) -> Result<Self, JournalError> {
        let batches = SpoolWriter::create(dir)?;
        let skipped = skipped::Writer::new(dir, &batches.path);
        Ok(Self { batches, skipped })
    }

    pub(crate) fn push(&mut self, batch: &OutboxBatch) -> Result<(), JournalError> {
        self.batches.write(
            &batch.rows,
            &batch.keys,
            &RawBody(&batch.body),
            batch.sent_as,
        )
    }

    /// A row not sent, with the reason and whom it names: after those skipped before.
    pub(crate) fn skip(
        &mut self,
        row: u32,
        reason: String,
        key: Option<UserKey>,
    ) -> Result<(), JournalError> {
        self.skipped.push(row, reason, key)
    }

    /// The outbox of the batches pushed and the rows skipped, then `head`'s skipped rows
    /// (an outbox built in memory), with `head`'s mode, object and organizations.
    pub(crate) fn finish(mut self, head: super::Outbox) -> Result<OutboxFile, JournalError> {
        let mut keys = head.skipped_keys;
        for (place, (row, reason)) in head.skipped.into_iter().enumerate() {
            self.skipped.push(row, reason, keys.remove(&place))?;
        }
        let (path, refs, file) = self.batches.finish()?;
        Ok(OutboxFile {
            mode: head.mode,
            object: head.object,
            skipped: self.skipped.finish()?,
            organizations: head.organizations,
            path,
            refs,
            file: Mutex::new(file),
            cache: Mutex::new(VecDeque::new()),
            spool: true,
            despite: None,
        })
    }
}

impl OutboxFile {
    /// A spool holding `outbox`, for a new run made from an outbox built in memory.
    pub fn spool(dir: &Path, outbox: &super::Outbox) -> Result<Self, JournalError> {
        let mut spool = SpoolBuilder::create(dir)?;
        for batch in &outbox.batches {
            spool.push(batch)?;
        }
        spool.finish(outbox.head())
    }

    /// Whether any user names an organization (read batch by batch, up to the first).
    pub fn any_organization(&self) -> Result<bool, ImportError> {
        for b in 0..self.batches() {
            let batch = self.read(b)?;
            let names = super::orgs::names_in(&batch.body).map_err(|e| ImportError::Encode {
                batch: b,
                rows: report::row_list(&batch.rows),
                reason: e.to_string(),
            })?;
            if names.iter().any(Option::is_some) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::Outbox;
    use crate::import::outbox::tests::request;

    fn error(row: u32, includable: bool) -> Issue {
        Issue {
            row,
            column: Some("E-mail".into()),
            cell: None,
            value: None,
            severity: Severity::Error,
            message: "not valid".into(),
            includable,
        }
    }

    /// The outbox built in memory from `requests` and every issue at once.
    fn in_memory(requests: &[Request], issues: &[Issue], include: bool) -> Outbox {
        let mut memory = Outbox::new(Mode::Create);
        for r in requests {
            memory.push_request(r).unwrap();
        }
        memory.settle_errors(issues, include);
        memory
    }

    /// The writer, fed as a sheet streams (a row's issues before its request), makes the
    /// outbox the in-memory one makes from the same requests and issues.
    #[test]
    fn a_streamed_outbox_is_the_outbox_built_in_memory() {
        let tmp = tempfile::tempdir().unwrap();
        let requests = [request(&[2, 3, 5]), request(&[6, 7])];
        let issues = [error(3, true), error(4, false), error(7, true)];
        for include in [false, true] {
            let mut writer =
                OutboxWriter::create(tmp.path(), (Mode::Create, Default::default()), include)
                    .unwrap();
            writer.issue(&issues[0]).unwrap();
            writer.issue(&issues[1]).unwrap();
            writer.push_request(&requests[0]).unwrap();
            writer.issue(&issues[2]).unwrap();
            writer.push_request(&requests[1]).unwrap();
            let file = writer.finish().unwrap();
            let memory = in_memory(&requests, &issues, include);
            assert_eq!(file.load().unwrap(), memory, "include: {include}");
            assert_eq!(file.sent_despite().unwrap(), memory.sent_despite());
            assert_eq!((file.rows(), file.batches()), (memory.rows(), 2));
            assert_eq!(file.locate(4), Some((1, 1)));
            assert_eq!(file.locate(5), None);
            // A run folder's plan made from it reads back the same, and the spool goes.
            let plan = tmp.path().join(format!("plan{include}.jsonl"));
            file.write_plan(&plan).unwrap();
            let spool = file.path().to_path_buf();
            drop(file);
            assert!(!spool.exists(), "the spool is removed");
            let read = OutboxFile::open(&plan).unwrap();
            assert_eq!(read.load().unwrap(), memory);
            assert_eq!(*read.batch(1).unwrap(), memory.batches[1]);
            assert!(plan.exists(), "a run's plan stays");
        }
    }

    /// Rows with several errors, includable or not, sent or never sent: the writer, which
    /// settles each row as its issues end, skips and marks what the in-memory outbox does (in
    /// sheet order, messages joined), and counts what each policy leaves out as
    /// [`crate::payload::LeftOut::of`] does from every issue.
    #[test]
    fn rows_settled_as_their_issues_end_are_the_rows_settled_at_the_end() {
        let tmp = tempfile::tempdir().unwrap();
        let requests = [request(&[2, 3, 5]), request(&[6, 7])];
        let message = |row, includable, text: &str| Issue {
            message: text.into(),
            ..error(row, includable)
        };
        let before = [
            message(3, true, "first"),
            message(3, true, "second"),
            message(4, true, "includable"),
            message(4, false, "not"),
        ];
        // Row 8's errors are all includable, but no request sends it; row 9 comes after it.
        let after = [
            message(7, true, "late"),
            message(8, true, "unsent"),
            message(9, false, "x"),
        ];
        let issues: Vec<Issue> = before.iter().chain(&after).cloned().collect();
        for include in [false, true] {
            let mut writer =
                OutboxWriter::create(tmp.path(), (Mode::Create, Default::default()), include)
                    .unwrap();
            before.iter().for_each(|i| writer.issue(i).unwrap());
            writer.push_request(&requests[0]).unwrap();
            writer.issue(&after[0]).unwrap();
            writer.push_request(&requests[1]).unwrap();
            after[1..].iter().for_each(|i| writer.issue(i).unwrap());
            let left_out = writer.left_out(10);
            assert_eq!(left_out, crate::payload::LeftOut::of(&issues, 10));
            assert_eq!((left_out.errors, left_out.includable), (5, 3));
            let file = writer.finish().unwrap();
            let memory = in_memory(&requests, &issues, include);
            assert_eq!(file.load().unwrap(), memory, "include: {include}");
            let skipped: Vec<SkippedRow> = file.skipped_rows().map(Result::unwrap).collect();
            let rows: Vec<u32> = skipped.iter().map(|s| s.row).collect();
            let want: &[u32] = if include {
                &[4, 8, 9]
            } else {
                &[3, 4, 7, 8, 9]
            };
            assert_eq!(rows, want, "include: {include}");
            let row_4 = &skipped[usize::from(!include)].reason;
            assert_eq!(row_4, "E-mail: includable; E-mail: not");
            assert_eq!(file.sent_despite().unwrap(), if include { 2 } else { 0 });
        }
    }

    /// An outbox of two batches and `skipped` rows with errors, every third one named.
    fn with_skipped(skipped: u32) -> Outbox {
        let mut memory = Outbox::new(Mode::Create);
        memory.push_request(&request(&[2, 3])).unwrap();
        memory.push_request(&request(&[4])).unwrap();
        for n in 0..skipped {
            memory.skip(10 + n, format!("Email: not valid ({n})"));
        }
        memory.name_skipped(|row| {
            (row % 3 == 0).then(|| UserKey {
                email: Some(format!("u{row}@x")),
                ..UserKey::default()
            })
        });
        memory
    }

    /// A plan's skipped rows are lines of a thousand after its batch lines, the head counting
    /// them: read back a line at a time, in order, each with its index and whom it names; the
    /// plan a spool makes is the plan the in-memory outbox makes.
    #[test]
    fn skipped_rows_are_lines_after_the_batches() {
        let tmp = tempfile::tempdir().unwrap();
        let memory = with_skipped(2500);
        let file = OutboxFile::spool(tmp.path(), &memory).unwrap();
        assert_eq!(
            (file.skipped_len(), file.skipped_pieces(), file.rows()),
            (2500, 3, 2503)
        );
        let plan = tmp.path().join("plan.jsonl");
        file.write_plan(&plan).unwrap();
        let text = fs::read_to_string(&plan).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 2 + 3);
        let head: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(head["skipped_lines"], 3);
        assert_eq!(head["skipped_rows"], 2500);
        assert_eq!(
            head["skipped"],
            serde_json::json!([]),
            "kept for earlier versions"
        );
        let line: serde_json::Value = serde_json::from_str(lines[4]).unwrap();
        assert_eq!(
            line["skipped"][0],
            serde_json::json!([1010, "Email: not valid (1000)"])
        );
        assert_eq!(
            line["keys"]["1"]["email"], "u1011@x",
            "keys by place in the line"
        );

        let read = OutboxFile::open(&plan).unwrap();
        let rows: Vec<SkippedRow> = read.skipped_rows().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2500);
        for (n, row) in (0u32..).zip(&rows) {
            assert_eq!((row.index, row.row), (3 + u64::from(n), 10 + n));
            assert_eq!(row.reason, format!("Email: not valid ({n})"));
            let named = ((10 + n) % 3 == 0).then(|| format!("u{}@x", 10 + n));
            assert_eq!(row.key.as_ref().and_then(|k| k.email.clone()), named);
        }
        assert_eq!(read.skipped_piece(2).unwrap()[..], rows[2000..]);
        assert_eq!(read.load().unwrap(), memory);
        assert_eq!(file.load().unwrap(), memory);

        // The run folder made from the outbox in memory holds the same plan.
        let runs = tmp.path().join("runs");
        let info = super::super::RunInfo {
            id: "r1".into(),
            ..Default::default()
        };
        drop(super::super::Journal::create(&runs, &info, &memory).unwrap());
        assert_eq!(
            fs::read_to_string(runs.join("r1/plan.jsonl")).unwrap(),
            text
        );
    }

    /// A skipped line cut short, one missing, one too many, or a head that counts other rows
    /// than its lines hold: the plan is refused, naming the file and the line.
    #[test]
    fn a_plan_whose_skipped_lines_are_damaged_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = OutboxFile::spool(tmp.path(), &with_skipped(2500)).unwrap();
        let plan = tmp.path().join("plan.jsonl");
        file.write_plan(&plan).unwrap();
        let text = fs::read_to_string(&plan).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let joined = |lines: &[&str]| lines.join("\n") + "\n";
        let torn = &text[..text.len() - 40];
        let extra = joined(&[&lines[..], &[lines[5]]].concat());
        let recount = text.replacen("\"skipped_rows\":2500", "\"skipped_rows\":2499", 1);
        let cases = [
            (torn.to_owned(), "line 6: skipped rows: EOF"),
            (joined(&lines[..5]), "line 1: the plan is incomplete"),
            (extra, "line 7: a line past those the plan's head counts"),
            (
                recount,
                "the head counts 2499 skipped rows (and lists 0), its skipped lines hold 2500",
            ),
        ];
        for (text, why) in cases {
            fs::write(&plan, &text).unwrap();
            let error = OutboxFile::open(&plan).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("{}, ", plan.display())),
                "{error}"
            );
            assert!(error.contains(why), "{why}: {error}");
        }
        // A line changed once the plan is open is refused when it is read.
        fs::write(&plan, &text).unwrap();
        let read = OutboxFile::open(&plan).unwrap();
        let broken = text.replace("(2499)\"]", "(2499)\"}");
        fs::write(&plan, broken).unwrap();
        let error = read.skipped_piece(2).unwrap_err().to_string();
        assert!(error.contains("line 6: skipped rows"), "{error}");
        assert!(read.skipped_piece(0).is_ok());
    }

    /// A plan written before skipped lines, its skipped rows and their keys in its head, is
    /// read as it always was, and written again as lines.
    #[test]
    fn a_plan_with_its_skipped_rows_in_its_head_is_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let plan = tmp.path().join("plan.jsonl");
        let old = concat!(
            r#"{"mode":"create","batches":1,"skipped":[[4,"Email: not valid"],[6,"Name: empty"]],"#,
            r#""skipped_keys":{"1":{"email":"six@x"}}}"#,
            "\n",
            r#"{"rows":[2,3],"keys":[{"name":"A"},{"name":"B"}],"#,
            r#""body":{"users":[{"name":"A"},{"name":"B"}]}}"#,
            "\n",
        );
        fs::write(&plan, old).unwrap();
        let read = OutboxFile::open(&plan).unwrap();
        assert_eq!(
            (read.rows(), read.skipped_len(), read.skipped_pieces()),
            (4, 2, 1)
        );
        let rows: Vec<SkippedRow> = read.skipped_rows().map(Result::unwrap).collect();
        let six = UserKey {
            email: Some("six@x".into()),
            ..UserKey::default()
        };
        let want = [
            SkippedRow {
                index: 2,
                row: 4,
                reason: "Email: not valid".into(),
                key: None,
            },
            SkippedRow {
                index: 3,
                row: 6,
                reason: "Name: empty".into(),
                key: Some(six),
            },
        ];
        assert_eq!(rows, want);
        let memory = read.load().unwrap();
        assert_eq!(memory.skipped.len(), 2);
        let again = tmp.path().join("again.jsonl");
        read.write_plan(&again).unwrap();
        let text = fs::read_to_string(&again).unwrap();
        assert!(text.contains("\"skipped_lines\":1"), "{text}");
        assert_eq!(OutboxFile::open(&again).unwrap().load().unwrap(), memory);
    }

    /// A sheet of errors streamed through the writer, past a line of skipped rows, with rows
    /// held for `--invalid include` that no request sends: the outbox the in-memory one makes,
    /// its skipped rows in sheet order.
    #[test]
    fn a_streamed_sheet_of_errors_is_skipped_in_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let rows: Vec<u32> = (2..3000).collect();
        // Every third row is sent; of the others, every fourth has an includable error.
        let sent: Vec<u32> = rows.iter().copied().filter(|r| r % 3 == 0).collect();
        let issues: Vec<Issue> = rows
            .iter()
            .filter(|r| *r % 3 != 0)
            .map(|&r| error(r, r % 4 == 0))
            .collect();
        let requests: Vec<Request> = sent.chunks(100).map(request).collect();
        for include in [false, true] {
            let mut writer =
                OutboxWriter::create(tmp.path(), (Mode::Create, Default::default()), include)
                    .unwrap();
            let mut issues_left = issues.iter().peekable();
            for r in &requests {
                let last = *r.rows.last().unwrap();
                while let Some(issue) = issues_left.next_if(|i| i.row < last) {
                    writer.issue(issue).unwrap();
                }
                writer.push_request(r).unwrap();
            }
            issues_left.for_each(|i| writer.issue(i).unwrap());
            let file = writer.finish().unwrap();
            let memory = in_memory(&requests, &issues, include);
            assert!(file.skipped_pieces() > 1, "{}", file.skipped_pieces());
            assert_eq!(file.skipped_len(), memory.skipped.len());
            assert_eq!(file.load().unwrap(), memory, "include: {include}");
        }
    }

    /// Makes `path` when it is not there, and dates its last change `secs` ago.
    fn aged(path: &Path, secs: u64) {
        if !path.exists() {
            fs::write(path, b"{}\n").unwrap();
        }
        let file = OpenOptions::new().write(true).open(path).unwrap();
        let then = std::time::SystemTime::now() - Duration::from_secs(secs);
        file.set_modified(then).unwrap();
    }

    /// A spool its process still holds stays however old; an unlocked one goes once quiet
    /// long enough (its process died before making the run folder), a recent one stays (its
    /// process may not have locked it yet), other files are never touched; and making a new
    /// spool (the start of every run) cleans the folder first.
    #[test]
    fn stale_spools_of_dead_processes_are_removed_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let mut memory = Outbox::new(Mode::Create);
        memory.push_request(&request(&[2, 3])).unwrap();
        let live = OutboxFile::spool(tmp.path(), &memory).unwrap();
        aged(live.path(), 3600);
        let dead = tmp.path().join(".outbox-1-deadbeef.jsonl");
        aged(&dead, 3600);
        let fresh = tmp.path().join(".outbox-2-0000beef.jsonl");
        aged(&fresh, 0);
        let other = tmp.path().join("recent.jsonl");
        aged(&other, 3600);
        assert_eq!(remove_stale_spools(tmp.path(), Duration::from_secs(60)), 1);
        assert!(!dead.exists(), "the dead process's spool is removed");
        assert!(live.path().exists() && fresh.exists() && other.exists());
        assert_eq!(live.load().unwrap(), memory, "the live spool still reads");
        aged(&dead, STALE_AFTER.as_secs() + 60);
        let next = OutboxFile::spool(tmp.path(), &memory).unwrap();
        assert!(!dead.exists(), "a new spool cleans the folder first");
        assert!(live.path().exists() && fresh.exists() && next.path().exists());
    }

    #[test]
    fn a_plan_cut_short_is_refused_with_advice() {
        let tmp = tempfile::tempdir().unwrap();
        let mut memory = Outbox::new(Mode::Upsert);
        memory.push_request(&request(&[2, 3])).unwrap();
        memory.push_request(&request(&[4])).unwrap();
        let file = OutboxFile::spool(tmp.path(), &memory).unwrap();
        let plan = tmp.path().join("plan.jsonl");
        file.write_plan(&plan).unwrap();
        let text = fs::read_to_string(&plan).unwrap();
        let cut: Vec<&str> = text.lines().take(2).collect();
        fs::write(&plan, cut.join("\n") + "\n").unwrap();
        let error = OutboxFile::open(&plan).unwrap_err().to_string();
        assert!(error.contains("the plan is incomplete"), "{error}");
        assert!(error.contains("restore it from a backup"), "{error}");
    }

    /// The head, parsed as it is read rather than as a line, is still held to its line: the
    /// batches start after it, and what else its line holds, an empty file or a broken head
    /// is refused.
    #[test]
    fn a_plans_head_is_its_whole_first_line() {
        let tmp = tempfile::tempdir().unwrap();
        let mut memory = Outbox::new(Mode::Create);
        memory.push_request(&request(&[2, 3])).unwrap();
        memory.skip(4, "Email: not an email address");
        let file = OutboxFile::spool(tmp.path(), &memory).unwrap();
        let plan = tmp.path().join("plan.jsonl");
        file.write_plan(&plan).unwrap();
        let text = fs::read_to_string(&plan).unwrap();
        let (head, batches) = text.split_once('\n').unwrap();
        let cases = [
            (format!("{head}  \r\n{batches}"), None),
            (
                format!("{head} {{}}\n{batches}"),
                Some("more than the plan's head"),
            ),
            (
                format!("{}\n{batches}", &head[..head.len() - 1]),
                Some("line 1"),
            ),
            (String::new(), Some("empty plan")),
        ];
        for (text, refused) in cases {
            fs::write(&plan, &text).unwrap();
            match (OutboxFile::open(&plan), refused) {
                (Ok(read), None) => assert_eq!(read.load().unwrap(), memory),
                (Err(e), Some(why)) => assert!(e.to_string().contains(why), "{e}"),
                (Ok(_), Some(why)) => panic!("read, though {why}: {text:?}"),
                (Err(e), None) => panic!("{e}: {text:?}"),
            }
        }
    }
}
