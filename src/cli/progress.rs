//! A headless import's progress on stderr: a bar fitted to the terminal's width, plain lines
//! every few seconds when stderr is not a terminal (a log, cron's mail), nothing with
//! `--quiet`.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use tokio::sync::mpsc;

use crate::session::run::{ImportEvent, Summary, WaitReason};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A bar that redraws itself in place.
    Bar,
    /// A line every [`PLAIN_EVERY`], and each wait as it starts.
    Plain,
    /// Nothing (`--quiet`).
    Quiet,
}

impl Display {
    /// Bar on a terminal, plain lines elsewhere, nothing when `quiet`.
    pub fn choose(quiet: bool) -> Self {
        if quiet {
            Self::Quiet
        } else if std::io::stderr().is_terminal() {
            Self::Bar
        } else {
            Self::Plain
        }
    }
}

/// Plain lines: one every this long.
const PLAIN_EVERY: Duration = Duration::from_secs(2);
/// The bar's countdown of a wait is redrawn this often.
const TICK: Duration = Duration::from_millis(250);

/// `1234/10000 rows ████░░░░ 345 rows/s ETA 25s  waiting 12s: rate limit`, the message cut to
/// what the terminal's width leaves.
const TEMPLATE: &str = "{pos}/{len} rows {bar:12} {rate} ETA {left} {wide_msg}";

/// Prints the events of one run until the engine drops its sender.
pub async fn show(mut rx: mpsc::Receiver<ImportEvent>, display: Display) {
    let mut progress = Progress::new(display);
    let mut buffer = Vec::with_capacity(32);
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            got = rx.recv_many(&mut buffer, 32) => {
                if got == 0 {
                    break;
                }
                for event in buffer.drain(..) {
                    progress.apply(event);
                }
                progress.draw(false);
            }
            _ = tick.tick() => progress.draw(false),
        }
    }
    progress.draw(true);
}

#[derive(Debug)]
struct Progress {
    display: Display,
    bar: Option<ProgressBar>,
    done: Summary,
    rows: u64,
    first_done: u64,
    started: Option<Instant>,
    drawn: Option<Instant>,
    waiting: Option<(WaitReason, Instant)>,
    paused: bool,
}

impl Progress {
    fn new(display: Display) -> Self {
        Self {
            display,
            bar: None,
            done: Summary::default(),
            rows: 0,
            first_done: 0,
            started: None,
            drawn: None,
            waiting: None,
            paused: false,
        }
    }

    fn apply(&mut self, event: ImportEvent) {
        match event {
            ImportEvent::Started { rows, done, .. } => {
                self.rows = rows;
                self.first_done = done.finished();
                self.done = *done;
                self.started = Some(Instant::now());
                if self.display == Display::Bar {
                    self.bar = Some(bar(rows, self.first_done));
                }
            }
            ImportEvent::RowsFinished(rows) => {
                for row in rows {
                    self.done.count(row.outcome);
                }
                self.waiting = None;
            }
            ImportEvent::Waiting { reason, until } => {
                if self.display == Display::Plain {
                    eprintln!("zdimport: {}", wait_line(&reason, until));
                }
                self.waiting = Some((reason, until));
            }
            ImportEvent::Paused => self.paused = true,
            ImportEvent::Resumed => self.paused = false,
            ImportEvent::Cancelling => self
                .say("zdimport: cancelling: nothing more is sent; waiting for the jobs in flight"),
            // Before the users: once when the phase starts, once at its end.
            ImportEvent::Organizations { counts, done } if done || counts.finished() == 0 => {
                let when = if done {
                    "created first"
                } else {
                    "to create first"
                };
                self.say(&format!("zdimport: {when}: {counts}"));
            }
            // After the users: once when the phase starts, once at its end.
            ImportEvent::Memberships { counts, done } if done || counts.finished() == 0 => {
                self.say(&format!("zdimport: after the users: {counts}"));
            }
            ImportEvent::Organizations { .. }
            | ImportEvent::Memberships { .. }
            | ImportEvent::BatchSent { .. }
            | ImportEvent::JobUpdate { .. }
            | ImportEvent::Finished(_) => {}
        }
    }

    /// A line of its own, above the bar.
    fn say(&self, text: &str) {
        match (&self.bar, self.display) {
            (_, Display::Quiet) => {}
            (Some(bar), _) => bar.println(text),
            (None, _) => eprintln!("{text}"),
        }
    }

    /// The wait still running, as the bar's message says it.
    fn wait_now(&mut self) -> Option<String> {
        let (reason, until) = self.waiting.as_ref()?;
        if *until <= Instant::now() {
            self.waiting = None;
            return None;
        }
        Some(wait_line(reason, *until))
    }

    fn draw(&mut self, last: bool) {
        match self.display {
            Display::Quiet => {}
            Display::Bar => self.draw_bar(last),
            Display::Plain => self.draw_plain(last),
        }
    }

    fn draw_bar(&mut self, last: bool) {
        let message = match self.wait_now() {
            _ if self.paused => "paused".to_owned(),
            Some(wait) => wait,
            None => self.counts(),
        };
        let Some(bar) = &self.bar else { return };
        bar.set_position(self.done.finished());
        bar.set_message(message);
        if last {
            bar.set_message(self.counts());
            bar.finish();
        }
    }

    fn draw_plain(&mut self, last: bool) {
        if self.started.is_none() {
            return;
        }
        if !last && self.drawn.is_some_and(|d| d.elapsed() < PLAIN_EVERY) {
            return;
        }
        self.drawn = Some(Instant::now());
        eprintln!("zdimport: {}", self.line());
    }

    /// `3 created · 1 failed`: only the outcomes that happened.
    fn counts(&self) -> String {
        let d = &self.done;
        let parts: Vec<String> = [
            (d.created, "created"),
            (d.updated, "updated"),
            (d.failed, "failed"),
            (d.skipped, "skipped"),
            (d.unknown, "unknown"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        parts.join(" · ")
    }

    /// The plain line: every count, the rate and the ETA.
    fn line(&self) -> String {
        let finished = self.done.finished();
        let elapsed = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let rate = (finished - self.first_done.min(finished)) as f64 / elapsed.max(0.001);
        let left = self.rows.saturating_sub(finished);
        let eta = if rate > 0.0 {
            format!("{:.0}s", left as f64 / rate)
        } else {
            "-".into()
        };
        let d = &self.done;
        format!(
            "{finished}/{} rows · {} created · {} updated · {} failed · {} skipped · {} unknown · \
             {rate:.0} rows/s · ETA {eta}",
            self.rows, d.created, d.updated, d.failed, d.skipped, d.unknown
        )
    }
}

/// `waiting 12s: rate limit (429)`, counting down to `until`.
fn wait_line(reason: &WaitReason, until: Instant) -> String {
    let secs = until
        .saturating_duration_since(Instant::now())
        .as_secs_f64();
    crate::logging::wait_text(reason, secs.ceil())
}

fn bar(rows: u64, done: u64) -> ProgressBar {
    let style = ProgressStyle::with_template(TEMPLATE)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ignored = write!(w, "{:.0} rows/s", state.per_sec());
            },
        )
        .with_key(
            "left",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                // Nothing finished yet (a first wait, a resume): no rate, so no estimate.
                let _ignored = if state.per_sec() > 0.0 {
                    write!(w, "{:#}", indicatif::HumanDuration(state.eta()))
                } else {
                    write!(w, "-")
                };
            },
        )
        .progress_chars("█▌░");
    let bar = ProgressBar::with_draw_target(Some(rows), ProgressDrawTarget::stderr())
        .with_style(style)
        .with_position(done);
    bar.reset_eta();
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::run::{Outcome, RowOutcome, UserKey};

    #[test]
    fn counts_name_only_what_happened_and_waits_count_down() {
        let mut p = Progress::new(Display::Quiet);
        p.apply(ImportEvent::Started {
            rows: 4,
            batches: 1,
            done: Box::default(),
        });
        let key = UserKey::default();
        p.apply(ImportEvent::RowsFinished(vec![
            RowOutcome::new(2, Outcome::Created, &key),
            RowOutcome::new(3, Outcome::Failed, &key),
            RowOutcome::new(4, Outcome::Created, &key),
        ]));
        assert_eq!(p.counts(), "2 created · 1 failed");
        assert!(p.line().starts_with("3/4 rows · 2 created"), "{}", p.line());
        let until = Instant::now() + Duration::from_secs(12);
        p.apply(ImportEvent::Waiting {
            reason: WaitReason::RateLimit,
            until,
        });
        let wait = p.wait_now().unwrap();
        assert!(wait.starts_with("waiting 1"), "{wait}");
        assert!(wait.ends_with("s: rate limit (429)"), "{wait}");
        p.waiting = Some((WaitReason::JobLimit, Instant::now()));
        assert_eq!(p.wait_now(), None, "a wait that is over is no longer shown");
    }
}
