//! Run: the import live: a gauge, counters per outcome, speed, ETA, jobs in flight, what the
//! import waits for, and a short log; pause, resume, cancel.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Gauge, Paragraph, Widget, Wrap};

use crate::session::run::{
    ImportEvent, MemberCounts, OrgCounts, Outcome, RowOutcome, Summary, WaitReason,
};
use crate::tui::action::Action;
use crate::tui::keymap::KeyContext;
use crate::tui::strings;
use crate::tui::widgets::{theme, wrapped_height};

/// Log lines kept.
const LOG_LINES: usize = 200;
/// Sending time before the ETA is worked out: the first answers say little about the rate.
const ETA_AFTER: Duration = Duration::from_secs(3);

/// Where the import is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    /// The plan is being built and the journal written.
    Starting,
    Running,
    Paused,
    /// Nothing more is sent; jobs in flight are followed to their end.
    Cancelling,
    Finished,
    /// The engine stopped with an error; the run can be resumed.
    Failed(String),
}

/// What the Run step asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Pause,
    Resume,
    Cancel,
    /// The run is over: show every row's result.
    Results,
    /// The run is over: another file, keeping the account.
    NewImport,
}

#[derive(Debug, Clone)]
pub struct RunState {
    pub status: RunStatus,
    pub run_id: String,
    pub account: String,
    pub rows: u64,
    pub batches: usize,
    pub summary: Summary,
    /// Rows sent at least once by this session.
    pub sent: u64,
    sent_batches: HashSet<usize>,
    /// Rows finished when this session took the run over (a resumed run's earlier rows).
    pub finished_before: u64,
    /// Rows an earlier session sent (the finished ones that were not skipped).
    sent_before: u64,
    /// Time spent paused, not counting a pause still going on.
    paused_for: Duration,
    /// When the current pause began, and the ETA then (held while paused).
    paused_at: Option<(Instant, Option<Duration>)>,
    pub jobs: HashSet<String>,
    /// The organizations the run creates before its users, as far as they are.
    pub organizations: Option<(OrgCounts, bool)>,
    /// The memberships the run adds after its users, as far as they are.
    pub memberships: Option<MemberCounts>,
    pub waiting: Option<(WaitReason, Instant)>,
    pub started: Instant,
    /// The time the screen is drawn at (set by the ticks; tests fix it).
    pub now: Instant,
    pub log: VecDeque<String>,
}

impl RunState {
    /// A background answer while this screen shows: the engine's events, and time passing
    /// (counters and countdowns move only while the run is active).
    pub fn on_event(&mut self, event: crate::tui::app::AppEvent) {
        match event {
            crate::tui::app::AppEvent::Import(event) => self.event(event),
            crate::tui::app::AppEvent::Tick(now) if self.is_active() => self.now = now,
            _ => {}
        }
    }

    pub fn new(now: Instant) -> RunState {
        RunState {
            status: RunStatus::Starting,
            run_id: String::new(),
            account: String::new(),
            rows: 0,
            batches: 0,
            summary: Summary::default(),
            sent: 0,
            sent_batches: HashSet::new(),
            finished_before: 0,
            sent_before: 0,
            paused_for: Duration::ZERO,
            paused_at: None,
            jobs: HashSet::new(),
            organizations: None,
            memberships: None,
            waiting: None,
            started: now,
            now,
            log: VecDeque::new(),
        }
    }

    /// Adds a line to the log (the oldest goes once it holds [`LOG_LINES`]).
    pub fn note(&mut self, line: String) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    /// Takes in one engine event.
    pub fn event(&mut self, event: ImportEvent) {
        match event {
            ImportEvent::Started {
                rows,
                batches,
                done,
            } => {
                self.rows = rows;
                self.batches = batches;
                self.finished_before = done.finished();
                self.sent_before = done.finished() - done.skipped;
                self.summary = *done;
                self.summary.rows = rows;
                self.status = RunStatus::Running;
                self.note(format!(
                    "started: {rows} rows in {batches} requests, {} already finished",
                    self.finished_before
                ));
            }
            ImportEvent::BatchSent {
                batch,
                rows,
                attempt,
            } => {
                if self.sent_batches.insert(batch) {
                    self.sent += rows.len() as u64;
                }
                self.waiting = None;
                let again = if attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                self.note(format!(
                    "request {} sent: rows {}{again}",
                    batch + 1,
                    crate::session::run::row_list(&rows)
                ));
            }
            ImportEvent::JobUpdate { job_id, status, .. } => {
                if matches!(status.as_str(), "queued" | "working") {
                    self.jobs.insert(job_id);
                } else if self.jobs.remove(&job_id) {
                    self.note(format!("job {} {status}", short(&job_id)));
                }
            }
            ImportEvent::RowsFinished(rows) => self.finished(&rows),
            ImportEvent::Organizations { counts, done } => {
                // Under way: pause and cancel work from here (no user is sent after a cancel).
                if self.status == RunStatus::Starting {
                    self.status = RunStatus::Running;
                }
                if done || self.organizations.is_none() {
                    let when = if done {
                        "created first"
                    } else {
                        "to create first"
                    };
                    self.note(format!("{when}: {counts}"));
                }
                self.organizations = Some((counts, done));
            }
            // Noted when the phase starts and at its end; the summary follows it between.
            ImportEvent::Memberships { counts, done } => {
                if done || self.memberships.is_none() {
                    self.note(format!("after the users:{}", memberships_line(&counts)));
                }
                self.memberships = Some(counts);
            }
            ImportEvent::Waiting { reason, until } => {
                self.note(format!("waiting: {}", wait_text(&reason)));
                self.waiting = Some((reason, until));
            }
            ImportEvent::Paused => {
                self.status = RunStatus::Paused;
                let at = self.clock();
                self.paused_at = Some((at, self.eta_at(at)));
                self.note("paused: nothing new is sent".to_owned());
            }
            ImportEvent::Resumed => {
                self.status = RunStatus::Running;
                self.end_pause();
                self.note("resumed".to_owned());
            }
            ImportEvent::Cancelling => {
                self.status = RunStatus::Cancelling;
                self.end_pause();
                self.note("cancelling: following the jobs in flight to their end".to_owned());
            }
            ImportEvent::Finished(summary) => {
                self.now = self.clock();
                self.end_pause();
                self.summary = *summary;
                self.jobs.clear();
                self.waiting = None;
                self.status = RunStatus::Finished;
                let line = self.summary.to_string();
                self.note(line);
            }
        }
    }

    fn finished(&mut self, rows: &[RowOutcome]) {
        let failed = rows.iter().filter(|r| r.outcome == Outcome::Failed).count();
        for r in rows {
            self.summary.count(r.outcome);
        }
        if failed > 0 {
            self.note(format!("{} rows finished, {failed} failed", rows.len()));
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<RunOutcome> {
        match (action, &self.status) {
            (Action::Pause, RunStatus::Running) => Some(RunOutcome::Pause),
            (Action::Pause, RunStatus::Paused) => Some(RunOutcome::Resume),
            (Action::Cancel, RunStatus::Running | RunStatus::Paused) => Some(RunOutcome::Cancel),
            (Action::Next | Action::Enter, RunStatus::Finished | RunStatus::Failed(_)) => {
                Some(RunOutcome::Results)
            }
            (Action::NewImport, RunStatus::Finished | RunStatus::Failed(_)) => {
                Some(RunOutcome::NewImport)
            }
            _ => None,
        }
    }

    /// Whether quitting now would leave work behind (it stays resumable).
    pub fn is_active(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Starting | RunStatus::Running | RunStatus::Paused | RunStatus::Cancelling
        )
    }

    /// The time of an event: now, or the time the screen was last drawn at, whichever is
    /// later (tests set `now` ahead).
    fn clock(&self) -> Instant {
        self.now.max(Instant::now())
    }

    fn end_pause(&mut self) {
        if let Some((at, _)) = self.paused_at.take() {
            self.paused_for += self.clock().saturating_duration_since(at);
        }
    }

    /// Time spent sending up to `at`, pauses left out.
    fn sending(&self, at: Instant) -> Duration {
        let end = self.paused_at.map_or(at, |(paused, _)| paused.min(at));
        end.saturating_duration_since(self.started)
            .saturating_sub(self.paused_for)
    }

    /// Rows per second finished in this session up to `at`, pauses left out.
    fn rate_at(&self, at: Instant) -> f64 {
        let secs = self.sending(at).as_secs_f64();
        let done = self.summary.finished().saturating_sub(self.finished_before);
        if secs < 0.5 { 0.0 } else { done as f64 / secs }
    }

    fn rate(&self) -> f64 {
        self.rate_at(self.now)
    }

    /// Time left at this session's rate, once it has sent for [`ETA_AFTER`].
    fn eta_at(&self, at: Instant) -> Option<Duration> {
        let rate = self.rate_at(at);
        let left = self.rows.saturating_sub(self.summary.finished());
        let known = self.sending(at) >= ETA_AFTER;
        // Whole seconds, rounded up: rows left never show as 0:00.
        (known && rate > 0.0 && left > 0)
            .then(|| Duration::from_secs_f64((left as f64 / rate).ceil()))
    }

    /// The ETA as shown: while sending, once known; while paused, the one before the pause
    /// (if it was known); none when nothing is sent (starting, cancelling, over).
    fn eta_text(&self) -> Option<String> {
        match self.status {
            // Before the users' engine starts (the organizations first), no ETA.
            RunStatus::Running if self.rows == 0 => None,
            RunStatus::Running => Some(
                self.eta_at(self.now)
                    .map_or_else(|| strings::RUN_ETA_SOON.to_owned(), clock),
            ),
            RunStatus::Paused => {
                let held = self.paused_at.and_then(|(_, eta)| eta)?;
                Some(format!("{} {}", clock(held), strings::RUN_ETA_HELD))
            }
            _ => None,
        }
    }

    /// Rows sent in the whole run: by earlier sessions and this one. A row an earlier session
    /// sent whose job this one followed to its end counts once it finishes.
    pub fn sent(&self) -> u64 {
        let finished_sent = self.summary.finished() - self.summary.skipped;
        (self.sent_before + self.sent).max(finished_sent)
    }

    /// The keys that do something now, for the hint bar and the help.
    pub fn key_context(&self) -> KeyContext {
        match self.status {
            RunStatus::Running => KeyContext::Run,
            RunStatus::Paused => KeyContext::RunPaused,
            RunStatus::Finished | RunStatus::Failed(_) => KeyContext::RunOver,
            RunStatus::Starting | RunStatus::Cancelling => KeyContext::RunWaiting,
        }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let [head, gauge, counters, speed, wait, log] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(3),
        ])
        .areas(area);
        let (status, colour) = self.status_text();
        Line::from(vec![
            Span::styled(
                format!(" {status} "),
                Style::new().fg(ratatui::style::Color::Black).bg(colour),
            ),
            Span::styled(format!("  run {}", self.run_id), theme::dim()),
            Span::styled(format!("  → {}", self.account), theme::dim()),
        ])
        .render(head, buf);
        let done = self.summary.finished();
        let ratio = if self.rows == 0 {
            0.0
        } else {
            done as f64 / self.rows as f64
        };
        Gauge::default()
            .gauge_style(Style::new().fg(colour))
            .ratio(ratio.clamp(0.0, 1.0))
            .label(self.gauge_label())
            .render(gauge.inner(ratatui::layout::Margin::new(1, 0)), buf);
        self.render_counters(counters, buf);
        let eta = self
            .eta_text()
            .map(|eta| format!("ETA {eta}   "))
            .unwrap_or_default();
        Line::from(Span::raw(format!(
            " {:.0} rows/s   {eta}jobs in flight {}   elapsed {}",
            self.rate(),
            self.jobs.len(),
            clock(self.now.duration_since(self.started))
        )))
        .render(speed, buf);
        if let Some((reason, until)) = self.waiting.as_ref().filter(|(_, u)| *u > self.now) {
            let left = until.saturating_duration_since(self.now);
            Line::from(Span::styled(
                format!(
                    " ⏳ {} — {:.0} s left",
                    wait_text(reason),
                    left.as_secs_f64().ceil()
                ),
                Style::new().fg(theme::WARNING),
            ))
            .render(wait, buf);
        }
        self.render_log(log, buf);
    }

    /// Finished and sent for the whole run; a resumed run says how much came before.
    fn gauge_label(&self) -> String {
        let mut label = format!(
            "{} of {} rows finished · {} sent",
            self.summary.finished(),
            self.rows,
            self.sent()
        );
        if self.sent_before > 0 {
            label.push_str(&format!(
                " · {} {}",
                self.finished_before,
                strings::RUN_BEFORE
            ));
        }
        label
    }

    fn status_text(&self) -> (String, ratatui::style::Color) {
        match &self.status {
            RunStatus::Starting => (strings::RUN_STARTING.to_owned(), theme::ACCENT),
            RunStatus::Running => (strings::RUN_RUNNING.to_owned(), theme::ACCENT),
            RunStatus::Paused => (strings::RUN_PAUSED.to_owned(), theme::WARNING),
            RunStatus::Cancelling => (strings::RUN_CANCELLING.to_owned(), theme::WARNING),
            RunStatus::Finished if self.summary.pending > 0 => {
                (strings::RUN_CANCELLED.to_owned(), theme::WARNING)
            }
            RunStatus::Finished => (strings::RUN_FINISHED.to_owned(), theme::OK),
            RunStatus::Failed(_) => (strings::RUN_FAILED.to_owned(), theme::ERROR),
        }
    }

    fn render_counters(&self, area: Rect, buf: &mut Buffer) {
        let s = &self.summary;
        let item = |n: u64, label: &str, colour| {
            vec![
                Span::styled(format!(" {n:>6} "), Style::new().fg(colour).bold()),
                Span::styled(format!("{label:<8}"), theme::dim()),
            ]
        };
        let mut spans = item(s.created, "created", theme::OK);
        spans.extend(item(s.updated, "updated", theme::OK));
        spans.extend(item(s.failed, "failed", theme::ERROR));
        spans.extend(item(s.skipped, "skipped", theme::WARNING));
        spans.extend(item(s.unknown, "unknown", theme::ERROR));
        let mut lines = vec![Line::from(spans)];
        match &self.status {
            RunStatus::Failed(e) => lines.push(Line::from(Span::styled(
                format!(" {e}"),
                Style::new().fg(theme::ERROR),
            ))),
            RunStatus::Finished if s.pending > 0 => lines.push(Line::from(Span::styled(
                format!(
                    " {} rows not sent: the run can be resumed from the start screen",
                    s.pending
                ),
                Style::new().fg(theme::WARNING),
            ))),
            // The memberships are added once every user is finished: how far they are.
            _ if self.memberships.is_some() => {
                let counts = self.memberships.unwrap_or_default();
                let colour = if counts.failed + counts.unknown > 0 {
                    theme::WARNING
                } else {
                    theme::DIM
                };
                let line = Span::styled(memberships_line(&counts), Style::new().fg(colour));
                lines.push(Line::from(line));
            }
            // The organizations are created before any user is sent: how far they are.
            _ => {
                if let Some((counts, _)) = &self.organizations {
                    let colour = if counts.failed + counts.unknown > 0 {
                        theme::WARNING
                    } else {
                        theme::DIM
                    };
                    let line = Span::styled(format!(" {counts}"), Style::new().fg(colour));
                    lines.push(Line::from(line));
                }
            }
        }
        Paragraph::new(lines).render(area, buf);
    }

    fn render_log(&self, area: Rect, buf: &mut Buffer) {
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(theme::dim())
            .title(strings::RUN_LOG_TITLE);
        let inner = block.inner(area);
        block.render(area, buf);
        // The last lines, each wrapped whole (a warning naming two organizations is longer
        // than an 80-column screen), the newest at the bottom.
        let mut lines: Vec<Line<'_>> = Vec::new();
        let mut rows = 0u16;
        for text in self.log.iter().rev() {
            if rows >= inner.height {
                break;
            }
            let line = Line::from(text.as_str());
            rows = rows.saturating_add(wrapped_height(std::slice::from_ref(&line), inner.width));
            lines.push(line);
        }
        lines.reverse();
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((rows.saturating_sub(inner.height), 0))
            .render(inner, buf);
    }
}

fn short(job_id: &str) -> &str {
    job_id.get(..8).unwrap_or(job_id)
}

fn wait_text(reason: &WaitReason) -> String {
    match reason {
        WaitReason::RateLimit => {
            "rate limit reached (429): every sender waits Retry-After".to_owned()
        }
        WaitReason::JobLimit => "Zendesk's job queue is full (30 jobs)".to_owned(),
        WaitReason::Pacing => "slowing down: few requests left in this minute".to_owned(),
        WaitReason::Retry { attempt, error } => {
            format!("retrying (attempt {attempt}) after: {error}")
        }
        WaitReason::LostAnswer { batch } => format!(
            "request {} lost its answer: letting Zendesk finish before looking its users up",
            batch + 1
        ),
    }
}

/// `1:05:09`, `4:09`.
fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    match secs / 3600 {
        0 => format!("{}:{:02}", secs / 60, secs % 60),
        h => format!("{h}:{:02}:{:02}", secs / 60 % 60, secs % 60),
    }
}

/// The memberships' counts in a line of 80 columns: those at zero left out.
fn memberships_line(c: &MemberCounts) -> String {
    let mut parts = vec![format!("{} added", c.added)];
    for (n, what) in [
        (c.already_held, "already held"),
        (c.failed, "failed"),
        (c.skipped, "skipped"),
        (c.unknown, "unknown"),
        (c.total.saturating_sub(c.finished()), "to add"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    format!(" memberships ({}): {}", c.total, parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::run::UserKey;

    fn outcome(row: u32, outcome: Outcome) -> RowOutcome {
        RowOutcome::new(row, outcome, &UserKey::default())
    }

    #[test]
    fn events_move_the_counters_and_the_status() {
        let t0 = Instant::now();
        let mut s = RunState::new(t0);
        s.event(ImportEvent::Started {
            rows: 250,
            batches: 3,
            done: Box::new(Summary {
                skipped: 2,
                ..Summary::default()
            }),
        });
        assert_eq!(
            (s.status.clone(), s.summary.finished()),
            (RunStatus::Running, 2)
        );
        s.event(ImportEvent::BatchSent {
            batch: 0,
            rows: (2..102).collect(),
            attempt: 1,
        });
        s.event(ImportEvent::BatchSent {
            batch: 0,
            rows: (2..102).collect(),
            attempt: 2,
        });
        assert_eq!(s.sent, 100, "a resend is not counted twice");
        s.event(ImportEvent::JobUpdate {
            job_id: "abc".into(),
            status: "working".into(),
            progress: None,
            total: None,
        });
        assert_eq!(s.jobs.len(), 1);
        s.event(ImportEvent::RowsFinished(vec![
            outcome(2, Outcome::Created),
            outcome(3, Outcome::Failed),
        ]));
        s.event(ImportEvent::JobUpdate {
            job_id: "abc".into(),
            status: "completed".into(),
            progress: None,
            total: None,
        });
        assert!(s.jobs.is_empty());
        assert_eq!((s.summary.created, s.summary.failed), (1, 1));
        s.now = t0 + Duration::from_secs(2);
        assert!(
            (s.rate() - 1.0).abs() < 1e-9,
            "2 rows in 2 s, the 2 skipped before not counted"
        );
        assert_eq!(s.update(&Action::Pause), Some(RunOutcome::Pause));
        s.event(ImportEvent::Paused);
        assert_eq!(s.update(&Action::Pause), Some(RunOutcome::Resume));
        assert_eq!(s.update(&Action::Next), None, "still running");
        s.event(ImportEvent::Finished(Box::new(Summary {
            rows: 250,
            created: 248,
            failed: 2,
            ..Summary::default()
        })));
        assert!(!s.is_active());
        assert_eq!(s.update(&Action::Next), Some(RunOutcome::Results));
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(Duration::from_secs(249)), "4:09");
        assert_eq!(clock(Duration::from_secs(3909)), "1:05:09");
    }

    fn resumed(t0: Instant) -> RunState {
        let mut s = RunState::new(t0);
        s.run_id = "20261130-223000-4821".into();
        s.account = "https://acme.zendesk.com/".into();
        s.event(ImportEvent::Started {
            rows: 1000,
            batches: 10,
            done: Box::new(Summary {
                created: 300,
                skipped: 4,
                ..Summary::default()
            }),
        });
        s
    }

    fn finish(s: &mut RunState, rows: std::ops::Range<u32>) {
        s.event(ImportEvent::RowsFinished(
            rows.map(|r| outcome(r, Outcome::Created)).collect(),
        ));
    }

    #[test]
    fn a_resumed_run_counts_what_was_sent_and_finished_before() {
        let t0 = Instant::now();
        let mut s = resumed(t0);
        assert_eq!((s.sent(), s.summary.finished()), (300, 304));
        s.event(ImportEvent::BatchSent {
            batch: 3,
            rows: (400..500).collect(),
            attempt: 1,
        });
        assert_eq!(s.sent(), 400);
        assert_eq!(
            s.gauge_label(),
            "304 of 1000 rows finished · 400 sent · 304 finished before this session"
        );
        // A job the earlier session had sent finishes here: its rows were sent, once.
        finish(&mut s, 1000..1150);
        finish(&mut s, 400..500);
        assert_eq!(s.sent(), 550);
    }

    #[test]
    fn the_eta_waits_for_a_few_seconds_holds_while_paused_and_goes_when_nothing_runs() {
        let t0 = Instant::now();
        let mut s = resumed(t0);
        s.now = t0 + Duration::from_secs(1);
        finish(&mut s, 1000..1050);
        assert_eq!(s.eta_text().as_deref(), Some(strings::RUN_ETA_SOON));
        s.now = t0 + Duration::from_secs(4);
        finish(&mut s, 1050..1200);
        // 200 rows in 4 s: 496 left take 10 s.
        assert_eq!(s.eta_text().as_deref(), Some("0:10"));
        s.event(ImportEvent::Paused);
        s.now = t0 + Duration::from_secs(60);
        finish(&mut s, 1200..1300);
        assert_eq!(
            s.eta_text(),
            Some(format!("0:10 {}", strings::RUN_ETA_HELD)),
            "jobs in flight finish while paused; the ETA stays as it was"
        );
        s.event(ImportEvent::Resumed);
        s.now = t0 + Duration::from_secs(62);
        // 300 rows in 6 s of sending (the 56 s paused left out): 396 left take 8 s.
        assert_eq!(s.eta_text().as_deref(), Some("0:08"));
        s.event(ImportEvent::Cancelling);
        assert_eq!(s.eta_text(), None, "nothing more is sent");
        s.event(ImportEvent::Finished(Box::new(s.summary.clone())));
        assert_eq!(s.eta_text(), None);
        assert_eq!(RunState::new(t0).eta_text(), None, "starting");
    }

    /// The key a hint names (`p`, `Enter`).
    fn key(name: &str) -> ratatui::crossterm::event::KeyEvent {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let code = match name {
            "Enter" => KeyCode::Enter,
            c => KeyCode::Char(c.chars().next().unwrap_or(' ')),
        };
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_hints_offer_only_what_works_now() {
        let t0 = Instant::now();
        let mut states = vec![RunState::new(t0), resumed(t0)];
        for event in [
            ImportEvent::Paused,
            ImportEvent::Cancelling,
            ImportEvent::Finished(Box::default()),
        ] {
            let mut s = resumed(t0);
            s.event(event);
            states.push(s);
        }
        let mut failed = resumed(t0);
        failed.status = RunStatus::Failed("the journal cannot be written".into());
        states.push(failed);
        for mut s in states {
            let context = s.key_context();
            let hinted = crate::tui::keymap::help(context).iter().filter(|h| h.hint);
            for keys in hinted.flat_map(|h| h.keys.split(' ')) {
                let action = crate::tui::keymap::action(context, key(keys));
                let done = action.and_then(|a| s.update(&a));
                assert!(
                    done.is_some(),
                    "{:?}: {keys} is hinted but does nothing",
                    s.status
                );
            }
            for unhinted in ["p", "c", "n"] {
                let hinted = crate::tui::keymap::help(context)
                    .iter()
                    .any(|h| h.hint && h.keys.split(' ').any(|k| k == unhinted));
                let action = crate::tui::keymap::action(context, key(unhinted));
                if !hinted {
                    assert_eq!(
                        action.and_then(|a| s.update(&a)),
                        None,
                        "{:?}: {unhinted}",
                        s.status
                    );
                }
            }
        }
    }

    #[test]
    fn run_resumed_running_and_paused_80x24() {
        let t0 = Instant::now();
        let mut s = resumed(t0);
        s.event(ImportEvent::BatchSent {
            batch: 3,
            rows: (400..500).collect(),
            attempt: 1,
        });
        s.now = t0 + Duration::from_secs(5);
        finish(&mut s, 1000..1200);
        let draw =
            |s: &RunState| crate::tui::widgets::drawn(80, 22, |area, buf| s.render(area, buf));
        insta::assert_snapshot!("run_resumed_80x24", draw(&s).backend());
        s.event(ImportEvent::Paused);
        s.now = t0 + Duration::from_secs(30);
        insta::assert_snapshot!("run_resumed_paused_80x24", draw(&s).backend());
    }

    #[test]
    fn the_organizations_created_first_show_before_the_users() {
        let t0 = Instant::now();
        let mut s = RunState::new(t0);
        s.run_id = "20270101-000000-abcd".into();
        let counts = |created, failed| crate::session::run::OrgCounts {
            total: 20,
            created,
            failed,
            unknown: 0,
        };
        s.event(ImportEvent::Organizations {
            counts: counts(0, 0),
            done: false,
        });
        s.event(ImportEvent::Organizations {
            counts: counts(12, 1),
            done: false,
        });
        assert_eq!(
            s.update(&Action::Cancel),
            Some(RunOutcome::Cancel),
            "the organizations' phase can be cancelled"
        );
        let draw =
            |s: &RunState| crate::tui::widgets::drawn(80, 14, |area, buf| s.render(area, buf));
        insta::assert_snapshot!("run_organizations_80x14", draw(&s).backend());
        s.event(ImportEvent::Organizations {
            counts: counts(19, 1),
            done: true,
        });
        let log: Vec<&String> = s.log.iter().collect();
        assert_eq!(
            log,
            [
                "to create first: 20 organizations: 0 created, 0 failed, 20 not created yet",
                "created first: 20 organizations: 19 created, 1 failed"
            ],
            "the start and the end, not every step"
        );
    }

    #[test]
    fn the_memberships_added_after_the_users_show_as_they_end() {
        let t0 = Instant::now();
        let mut s = RunState::new(t0);
        s.run_id = "20270101-000000-abcd".into();
        s.event(ImportEvent::Started {
            rows: 300,
            batches: 3,
            done: Box::default(),
        });
        s.event(ImportEvent::Organizations {
            counts: crate::session::run::OrgCounts {
                total: 2,
                created: 2,
                ..Default::default()
            },
            done: true,
        });
        finish(&mut s, 2..302);
        let counts = |added, failed| MemberCounts {
            total: 250,
            added,
            failed,
            ..MemberCounts::default()
        };
        for (added, failed) in [(0, 0), (100, 0), (199, 1)] {
            s.event(ImportEvent::Memberships {
                counts: counts(added, failed),
                done: false,
            });
        }
        let draw =
            |s: &RunState| crate::tui::widgets::drawn(80, 14, |area, buf| s.render(area, buf));
        let shown = draw(&s).backend().to_string();
        assert!(
            shown.contains("memberships (250): 199 added, 1 failed, 50 to add"),
            "the memberships' counts, not the organizations': {shown}"
        );
        insta::assert_snapshot!("run_memberships_80x14", draw(&s).backend());
        s.event(ImportEvent::Memberships {
            counts: counts(249, 1),
            done: true,
        });
        let notes: Vec<&String> = s.log.iter().filter(|l| l.contains("memberships")).collect();
        assert_eq!(
            notes,
            [
                "after the users: memberships (250): 0 added, 250 to add",
                "after the users: memberships (250): 249 added, 1 failed"
            ],
            "the start and the end, not every step"
        );
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    #[test]
    fn run_screen_states() {
        use crate::session::run::{ImportEvent, Summary, WaitReason};
        let (mut app, t0) = run_app();
        insta::assert_snapshot!("run_running", frame(&mut app, 100, 30).backend());
        app.handle(AppEvent::Import(ImportEvent::Waiting {
            reason: WaitReason::RateLimit,
            until: t0 + std::time::Duration::from_secs(30),
        }));
        insta::assert_snapshot!("run_rate_limited_80x24", frame(&mut app, 80, 24).backend());
        assert_eq!(app.update(Action::Pause), Some(Command::PauseImport(true)));
        app.handle(AppEvent::Import(ImportEvent::Paused));
        insta::assert_snapshot!("run_paused", frame(&mut app, 100, 30).backend());
        assert_eq!(app.update(Action::Pause), Some(Command::PauseImport(false)));
        assert_eq!(app.update(Action::Cancel), Some(Command::CancelImport));
        app.handle(AppEvent::Import(ImportEvent::Cancelling));
        insta::assert_snapshot!("run_cancelling", frame(&mut app, 100, 30).backend());
        // Quitting while it runs asks, says the run stays resumable, and cancels.
        app.update(Action::Quit);
        assert_eq!(app.overlay, Some(Overlay::ConfirmQuit));
        insta::assert_snapshot!("run_quit_question", frame(&mut app, 80, 24).backend());
        app.update(Action::No);
        app.handle(AppEvent::Import(ImportEvent::Finished(Box::new(Summary {
            rows: 12,
            created: 8,
            updated: 1,
            failed: 1,
            skipped: 1,
            unknown: 1,
            ..Summary::default()
        }))));
        if let Screen::Run(state) = &mut app.screen {
            state.now = t0 + std::time::Duration::from_secs(9);
        }
        insta::assert_snapshot!("run_finished", frame(&mut app, 100, 30).backend());
        assert_eq!(
            app.update(Action::Quit),
            Some(Command::Quit),
            "nothing running: no question"
        );
    }

    /// An import without the plan resolves the rows' organizations as it starts: what that
    /// warns of opens the run's log.
    #[test]
    fn the_organizations_warnings_open_the_log() {
        let mut app = connect_app();
        app.history.push(std::mem::replace(
            &mut app.screen,
            Screen::Run(Box::new(super::RunState::new(std::time::Instant::now()))),
        ));
        app.handle(AppEvent::ImportStarted {
            run_id: "20261202-101500-4821".into(),
            run_dir: "/data/runs/20261202-101500-4821".into(),
            account: "https://acme.zendesk.com/".into(),
            warnings: vec![
                "'Acme Corp.' is not in Zendesk; it has 'ACME Corp' (rows 2, 7 and 9 name it: \
                 fix the sheet, or the import creates a second organization)"
                    .into(),
            ],
        });
        let Screen::Run(state) = &mut app.screen else {
            panic!("the Run screen");
        };
        let log: Vec<&String> = state.log.iter().collect();
        assert_eq!(log.len(), 1);
        assert!(log[0].starts_with("warning: 'Acme Corp.' is not in Zendesk"));
        // Longer than an 80-column screen: wrapped whole, the newest line last.
        let shown = format!("{:?}", frame(&mut app, 80, 24).backend());
        assert!(
            shown.contains("warning: 'Acme Corp.' is not in Zendesk"),
            "{shown}"
        );
        assert!(shown.contains("creates a second organization)"), "{shown}");
        if let Screen::Run(state) = &mut app.screen {
            for n in 0..40 {
                state.note(format!("line {n}"));
            }
        }
        let shown = format!("{:?}", frame(&mut app, 80, 24).backend());
        assert!(
            shown.contains("line 39") && !shown.contains("line 20 "),
            "{shown}"
        );
    }

    #[test]
    fn quitting_during_a_run_cancels_it_and_leaves() {
        let (mut app, _) = run_app();
        app.update(Action::Quit);
        assert_eq!(app.update(Action::Yes), Some(Command::CancelImport));
        assert!(app.quit);
    }
}
