//! The log file: one per run (`import`, `resume`, `retry`) and one per TUI session, in the
//! state dir, so what zdimport did at night can be read in the morning.
//!
//! What goes in: every request (method, path, status, duration), every wait (rate limit with
//! its retry-after, the job queue full, a retry with its attempt), token renewals, and errors
//! with Zendesk's answer, bounded and with terminal controls made visible. What never goes in:
//! a header, a token, a password or a request body; only zdimport's own events are written
//! (the HTTP crates' are not), so nothing they might print about a request can leak either.
//!
//! Bounded two ways: the newest [`KEEP`] files are kept and older ones deleted when a new one
//! starts, and one file stops growing at [`MAX_BYTES`] with a last line that says so.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use crate::import::{ImportEvent, Outcome, RowOutcome, WaitReason};

/// Log files kept in the logs dir; the oldest go when a new one starts.
pub const KEEP: usize = 30;
/// One file's size limit: 50 MB holds about 300,000 request lines.
pub const MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Zendesk's answer in a log line: at most this many characters.
pub const BODY_CHARS: usize = 500;

/// How much the log file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    Error,
    Warn,
    /// Requests, waits, retries, renewals, errors (the default).
    #[default]
    Info,
    /// Also job polls and every row's outcome.
    Debug,
    Trace,
}

impl Level {
    fn filter(self) -> tracing_subscriber::filter::LevelFilter {
        use tracing_subscriber::filter::LevelFilter;
        match self {
            Self::Error => LevelFilter::ERROR,
            Self::Warn => LevelFilter::WARN,
            Self::Info => LevelFilter::INFO,
            Self::Debug => LevelFilter::DEBUG,
            Self::Trace => LevelFilter::TRACE,
        }
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(Self::Error),
            "warn" | "warning" => Ok(Self::Warn),
            "info" => Ok(Self::Info),
            "debug" => Ok(Self::Debug),
            "trace" => Ok(Self::Trace),
            _ => Err(format!(
                "unknown log level '{s}' (error, warn, info, debug or trace)"
            )),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        })
    }
}

/// The log file cannot be started.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("no state dir for the log file: set ZDIMPORT_STATE_DIR")]
    NoDir,
    #[error("{path}: cannot start the log file: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The file this process logs to, once [`start`] has run.
static CURRENT: OnceLock<PathBuf> = OnceLock::new();

/// The log file of this process, if one was started.
pub fn current() -> Option<&'static Path> {
    CURRENT.get().map(PathBuf::as_path)
}

/// Starts this process's log file, `<kind>-<UTC time>-<pid>.log` in the logs dir
/// ([`crate::paths::logs_dir`]), after deleting all but the newest files; returns its path.
/// A second call returns the first file.
pub fn start(kind: &str, level: Level) -> Result<PathBuf, LogError> {
    if let Some(path) = current() {
        return Ok(path.to_path_buf());
    }
    let dir = crate::paths::logs_dir().ok_or(LogError::NoDir)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LogError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    prune(&dir, KEEP.saturating_sub(1));
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let path = dir.join(format!("{kind}-{stamp}-{}.log", std::process::id()));
    let file = File::create(&path).map_err(io(&path))?;
    let writer = Mutex::new(Bounded::new(file, MAX_BYTES));
    let only_ours = tracing_subscriber::filter::Targets::new()
        .with_target(env!("CARGO_CRATE_NAME"), level.filter());
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(level.filter())
        .with_target(false)
        .finish();
    use tracing_subscriber::layer::SubscriberExt as _;
    // Already set (a test that started one): the file exists, nothing is written to it.
    let _set = tracing::subscriber::set_global_default(subscriber.with(only_ours));
    let _first = CURRENT.set(path.clone());
    tracing::info!(
        "zdimport {} {kind}, log level {level}, pid {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    Ok(path)
}

/// Deletes the oldest `.log` files of `dir` until `keep` are left (names sort by time).
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut logs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| {
            let modified = p.metadata().and_then(|m| m.modified());
            (modified.unwrap_or(std::time::UNIX_EPOCH), p)
        })
        .collect();
    logs.sort();
    let extra = logs.len().saturating_sub(keep);
    for (_, path) in logs.into_iter().take(extra) {
        // Another process may hold it open or have deleted it: the next start tries again.
        let _ignored = std::fs::remove_file(path);
    }
}

/// A file that stops growing at a limit, with a last line that says so.
#[derive(Debug)]
pub struct Bounded<W: Write> {
    inner: W,
    written: u64,
    limit: u64,
    full: bool,
}

impl<W: Write> Bounded<W> {
    pub fn new(inner: W, limit: u64) -> Self {
        Self {
            inner,
            written: 0,
            limit,
            full: false,
        }
    }
}

impl<W: Write> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.full {
            return Ok(buf.len());
        }
        if self.written + buf.len() as u64 > self.limit {
            self.full = true;
            let note = format!(
                "[the log file reached {} MB: nothing more is written to it]\n",
                self.limit / (1024 * 1024)
            );
            self.inner.write_all(note.as_bytes())?;
            return Ok(buf.len());
        }
        self.inner.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Text from a server or a cell for a log line: one line, visible controls, bounded.
pub fn bounded(text: &str) -> String {
    crate::text::shorten(text, BODY_CHARS)
}

/// One import event in the log: waits and retries at `warn`, progress at `info`, job polls
/// and rows at `debug`; a failed or unknown row at `warn` with Zendesk's error.
pub fn import_event(event: &ImportEvent) {
    match event {
        ImportEvent::Started {
            rows,
            batches,
            done,
        } => tracing::info!(
            "import started: {rows} rows in {batches} requests, {} already finished",
            done.finished()
        ),
        ImportEvent::BatchSent {
            batch,
            rows,
            attempt,
        } => {
            let rows = crate::import::report::row_list(rows);
            if *attempt > 1 {
                tracing::warn!(
                    "batch {} (rows {rows}) sent again: attempt {attempt}",
                    batch + 1
                );
            } else {
                tracing::info!("batch {} (rows {rows}) sent", batch + 1);
            }
        }
        ImportEvent::JobUpdate {
            job_id,
            status,
            progress,
            total,
        } => tracing::debug!(
            "job {} {}: {}/{}",
            bounded(job_id),
            bounded(status),
            progress.unwrap_or(0),
            total.unwrap_or(0)
        ),
        ImportEvent::RowsFinished(rows) => rows_finished(rows),
        ImportEvent::Waiting { reason, until } => {
            let secs = until
                .saturating_duration_since(std::time::Instant::now())
                .as_secs_f64();
            match reason {
                WaitReason::Pacing => tracing::info!("{}", wait_text(reason, secs)),
                _ => tracing::warn!("{}", wait_text(reason, secs)),
            }
        }
        ImportEvent::Paused => tracing::info!("paused"),
        ImportEvent::Resumed => tracing::info!("resumed"),
        ImportEvent::Cancelling => tracing::warn!("cancelling: nothing more is sent"),
        ImportEvent::Organizations { counts, done: true } => {
            tracing::info!("organizations created first: {counts}");
        }
        ImportEvent::Organizations { counts, .. } => tracing::debug!("{counts}"),
        ImportEvent::Memberships { counts, done: true } => {
            tracing::info!("after the users: {counts}");
        }
        ImportEvent::Memberships { counts, .. } => tracing::debug!("{counts}"),
        ImportEvent::Finished(summary) => tracing::info!(
            "import finished: {summary}; {} requests in {:.1}s",
            summary.requests,
            summary.elapsed_ms as f64 / 1000.0
        ),
    }
}

/// `waiting 12s: rate limit (429)`: the CLI's progress and the log say the same.
pub fn wait_text(reason: &WaitReason, secs: f64) -> String {
    let why = match reason {
        WaitReason::RateLimit => "rate limit (429)".to_owned(),
        WaitReason::JobLimit => "job queue full (30 jobs)".to_owned(),
        WaitReason::Pacing => "pacing under the rate limit".to_owned(),
        // Zendesk's (or a proxy's) own words, one line, no terminal controls.
        WaitReason::Retry { attempt, error } => format!("retry {attempt}: {}", bounded(error)),
        WaitReason::LostAnswer { batch } => {
            format!("batch {}'s answer was lost; looking it up", batch + 1)
        }
    };
    if secs >= 10.0 || secs.fract() == 0.0 {
        format!("waiting {secs:.0}s: {why}")
    } else {
        format!("waiting {secs:.1}s: {why}")
    }
}

fn rows_finished(rows: &[RowOutcome]) {
    let mut counts = crate::import::Summary::default();
    for row in rows {
        counts.count(row.outcome);
        if matches!(row.outcome, Outcome::Failed | Outcome::Unknown) {
            tracing::warn!(
                "row {} {}: {}: {}",
                row.row,
                row.outcome,
                bounded(row.error.as_deref().unwrap_or("")),
                bounded(row.details.as_deref().unwrap_or(""))
            );
        } else {
            tracing::debug!(
                "row {} {} (user {})",
                row.row,
                row.outcome,
                row.user_id.map_or_else(String::new, |id| id.to_string())
            );
        }
    }
    tracing::info!(
        "{} rows finished: {} created, {} updated, {} failed, {} skipped, {} unknown",
        rows.len(),
        counts.created,
        counts.updated,
        counts.failed,
        counts.skipped,
        counts.unknown
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_says_so_once_and_stops_growing() {
        let mut out = Bounded::new(Vec::new(), 2 * 1024 * 1024);
        let line = vec![b'x'; 1024 * 1024];
        out.write_all(&line).unwrap();
        out.write_all(&line).unwrap();
        out.write_all(&line).unwrap();
        out.write_all(b"more").unwrap();
        let text = String::from_utf8(out.inner).unwrap();
        let note = "[the log file reached 2 MB: nothing more is written to it]\n";
        assert_eq!(&text[2 * 1024 * 1024..], note);
    }

    #[test]
    fn pruning_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            let path = dir.path().join(format!("import-{i}.log"));
            std::fs::write(&path, "x").unwrap();
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i);
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "kept").unwrap();
        prune(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["import-3.log", "import-4.log", "notes.txt"]);
    }

    #[test]
    fn levels_parse_and_server_text_is_one_bounded_line() {
        assert_eq!("WARN".parse::<Level>(), Ok(Level::Warn));
        assert!("loud".parse::<Level>().unwrap_err().contains("error, warn"));
        let hostile = format!("\u{1b}[2Jbad\nline{}", "x".repeat(2000));
        let text = bounded(&hostile);
        assert!(!text.contains('\u{1b}') && !text.contains('\n'), "{text}");
        assert_eq!(text.chars().count(), BODY_CHARS);
    }
}
