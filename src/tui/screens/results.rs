//! Results: every row with its outcome, Zendesk id, error and details; filter, search, the
//! detail of one row, export, and retry of the failures.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap};

use crate::session::run::{Outcome, RowOutcome};
use crate::session::source::Table;
use crate::text::printable;
use crate::tui::action::Action;
use crate::tui::strings;
use crate::tui::widgets::cursor::Cursor;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::{cell, cell_right, centered, fit, text_width, theme};

/// The outcome filter, in the order `f` steps through it.
const FILTERS: [Option<Outcome>; 7] = [
    None,
    Some(Outcome::Failed),
    Some(Outcome::Unknown),
    Some(Outcome::NotSent),
    Some(Outcome::Skipped),
    Some(Outcome::Created),
    Some(Outcome::Updated),
];

/// What the Results step asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsOutcome {
    /// Write every row's result to this file (`.csv` or `.json`).
    Export(String),
    /// Send the failed and unknown rows again, as a new run.
    Retry,
    /// Show the detail of the row with this index (the app reads the user as sent).
    Detail(u64),
    /// Go on with the run: its rows not sent yet.
    Resume,
}

/// A text field open on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsInput {
    Search(TextInput),
    Export(TextInput),
}

#[derive(Debug, Clone, Default)]
pub struct ResultsState {
    pub run_id: String,
    /// Where an export goes unless the operator types another path.
    pub default_export: String,
    pub outcomes: Vec<RowOutcome>,
    filter: usize,
    pub search: String,
    /// Indexes into `outcomes` that pass the filter and the search.
    pub shown: Vec<usize>,
    pub cursor: Cursor,
    /// The row (by index) whose detail is open, with the JSON of the user as sent.
    pub detail: Option<(u64, String)>,
    pub input: Option<ResultsInput>,
    pub notice: Option<String>,
    /// First line of the detail shown (it may be longer than the screen).
    pub detail_scroll: u16,
    /// The organizations the run created before its users (`zdimport report RUN
    /// --organizations` lists them); a user skipped for its organization names it.
    pub organizations: Option<crate::session::run::OrgCounts>,
}

impl ResultsState {
    /// A background answer while this screen shows: a row's user as sent (dropped when its
    /// detail was closed since), an export's outcome.
    pub fn on_event(&mut self, event: crate::tui::app::AppEvent) {
        match event {
            crate::tui::app::AppEvent::SentUser { index, body }
                if self.detail.as_ref().is_some_and(|(i, _)| *i == index) =>
            {
                let body = body.unwrap_or_else(|e| format!("(cannot read the plan: {e})"));
                self.detail = Some((index, body));
            }
            crate::tui::app::AppEvent::Exported(result) => {
                self.notice = Some(match result {
                    Ok(path) => format!("Exported to {}", path.display()),
                    Err(e) => e,
                });
            }
            _ => {}
        }
    }

    pub fn new(run_id: String, default_export: String, mut outcomes: Vec<RowOutcome>) -> Self {
        outcomes.sort_by_key(|o| o.row);
        let mut state = ResultsState {
            run_id,
            default_export,
            outcomes,
            ..ResultsState::default()
        };
        state.refilter();
        state
    }

    pub fn filter(&self) -> Option<Outcome> {
        FILTERS[self.filter]
    }

    fn refilter(&mut self) {
        let filter = self.filter();
        let needle = self.search.to_lowercase();
        self.shown = self
            .outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| filter.is_none_or(|f| o.outcome == f))
            .filter(|(_, o)| needle.is_empty() || matches_search(o, &needle))
            .map(|(i, _)| i)
            .collect();
        self.cursor.reset();
    }

    pub fn selected_outcome(&self) -> Option<&RowOutcome> {
        self.shown
            .get(self.cursor.selected)
            .map(|&i| &self.outcomes[i])
    }

    pub fn is_typing(&self) -> bool {
        self.input.is_some()
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.outcome == outcome)
            .count()
    }

    /// Rows a retry would send again.
    pub fn retryable(&self) -> usize {
        self.count(Outcome::Failed) + self.count(Outcome::Unknown)
    }

    pub fn update(&mut self, action: &Action) -> Option<ResultsOutcome> {
        if let Some(input) = self.input.take() {
            return self.update_input(input, action);
        }
        if self.detail.is_some() {
            match action {
                Action::Back | Action::Enter => {
                    self.detail = None;
                    self.detail_scroll = 0;
                }
                Action::Down | Action::ScrollDown => self.detail_scroll += 1,
                Action::Up | Action::ScrollUp => {
                    self.detail_scroll = self.detail_scroll.saturating_sub(1);
                }
                Action::PageDown => self.detail_scroll += 10,
                Action::PageUp => self.detail_scroll = self.detail_scroll.saturating_sub(10),
                _ => {}
            }
            return None;
        }
        if self.cursor.navigate(action, self.shown.len()) {
            return None;
        }
        match action {
            Action::Filter => {
                self.filter = (self.filter + 1) % FILTERS.len();
                self.refilter();
            }
            Action::Search => {
                self.input = Some(ResultsInput::Search(TextInput::new(&self.search)));
            }
            Action::Export => {
                self.input = Some(ResultsInput::Export(TextInput::new(&self.default_export)));
            }
            Action::Enter => {
                return self
                    .selected_outcome()
                    .map(|o| ResultsOutcome::Detail(o.index));
            }
            Action::ResumeRun if self.count(Outcome::NotSent) > 0 => {
                return Some(ResultsOutcome::Resume);
            }
            Action::Retry if self.retryable() > 0 => return Some(ResultsOutcome::Retry),
            Action::Retry => self.notice = Some(strings::RESULTS_NOTHING_TO_RETRY.to_owned()),
            _ => {}
        }
        None
    }

    fn update_input(&mut self, input: ResultsInput, action: &Action) -> Option<ResultsOutcome> {
        match (input, action) {
            (ResultsInput::Search(_), Action::Back) => {
                self.search.clear();
                self.refilter();
            }
            (ResultsInput::Export(_), Action::Back) => {}
            (ResultsInput::Search(_), Action::Enter) => {}
            (ResultsInput::Export(path), Action::Enter) if !path.text.trim().is_empty() => {
                return Some(ResultsOutcome::Export(path.text.trim().to_owned()));
            }
            (ResultsInput::Search(mut text), action) => {
                if text.handle(action) {
                    self.search = text.text.clone();
                    self.refilter();
                }
                self.input = Some(ResultsInput::Search(text));
            }
            (ResultsInput::Export(mut path), action) => {
                path.handle(action);
                self.input = Some(ResultsInput::Export(path));
            }
        }
        None
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer, table: Option<&Table>) {
        let [counts, list, notice] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        self.render_counts(counts, buf);
        self.render_list(list, buf);
        match &self.input {
            Some(ResultsInput::Search(text)) => text.render(" search: ", notice, buf),
            Some(ResultsInput::Export(path)) => text_popup(area, buf, path),
            None => {
                let not_sent = self.count(Outcome::NotSent);
                if self.notice.is_none() && not_sent > 0 {
                    Line::from(Span::styled(
                        format!(" {not_sent} {}", strings::RESULTS_RESUME_HINT),
                        theme::dim(),
                    ))
                    .render(notice, buf);
                } else if let Some(text) = &self.notice {
                    Line::from(Span::styled(format!(" {text}"), Style::new().fg(theme::OK)))
                        .render(notice, buf);
                } else if let Some(log) = crate::logging::current() {
                    let text = format!(" {} {}", strings::RESULTS_LOG, log.display());
                    Line::from(Span::styled(text, theme::dim())).render(notice, buf);
                }
            }
        }
        if let Some((index, body)) = &self.detail {
            self.render_detail(*index, body, table, area, buf);
        }
    }

    fn render_counts(&self, area: Rect, buf: &mut Buffer) {
        let mut spans = Vec::new();
        for (outcome, colour) in [
            (Outcome::Created, theme::OK),
            (Outcome::Updated, theme::OK),
            (Outcome::Failed, theme::ERROR),
            (Outcome::Skipped, theme::WARNING),
            (Outcome::Unknown, theme::ERROR),
        ] {
            spans.push(Span::styled(" ● ", Style::new().fg(colour)));
            spans.push(Span::raw(format!("{} {outcome}", self.count(outcome))));
        }
        let not_sent = self.count(Outcome::NotSent);
        if not_sent > 0 {
            spans.push(Span::styled(" ● ", theme::dim()));
            spans.push(Span::raw(format!(
                "{not_sent} {}",
                strings::RESULTS_NOT_SENT
            )));
        }
        if let Some(orgs) = &self.organizations {
            let colour = if orgs.created == orgs.total {
                theme::DIM
            } else {
                theme::WARNING
            };
            // In full when it fits; else short (`orgs 3/3 created`), the full line being in
            // the organizations' report.
            let used: usize = spans.iter().map(Span::width).sum();
            let full = orgs.to_string();
            let text = if used + 3 + text_width(&full) <= usize::from(area.width) {
                full
            } else {
                format!("orgs {}/{} created", orgs.created, orgs.total)
            };
            spans.push(Span::styled(" · ", theme::dim()));
            spans.push(Span::styled(text, Style::new().fg(colour)));
        }
        Line::from(spans).render(area, buf);
    }

    fn render_list(&mut self, area: Rect, buf: &mut Buffer) {
        let filter = self.filter().map_or("all", Outcome::as_str);
        let mut title = format!(
            "{}· run {} · {} of {} · filter: {filter} ",
            strings::RESULTS_TITLE,
            self.run_id,
            self.shown.len(),
            self.outcomes.len()
        );
        if !self.search.is_empty() {
            title.push_str(&format!("· search: {} ", self.search));
        }
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(title);
        let inner = block.inner(area);
        block.render(area, buf);
        let height = usize::from(inner.height.saturating_sub(1));
        let first = self.cursor.window(height);
        let width = usize::from(inner.width);
        let who_w = if width < 90 { 24 } else { 34 };
        let error_w = width.saturating_sub(8 + 9 + 13 + who_w + 4);
        let head = format!(
            " {:>6} {:<8} {:>12} {:<who_w$} {}",
            "row", "outcome", "zendesk id", "user", "error"
        );
        let mut lines = vec![Line::from(Span::styled(head, theme::dim()))];
        for (n, &i) in self.shown.iter().enumerate().skip(first).take(height) {
            let o = &self.outcomes[i];
            let style = if n == self.cursor.selected {
                theme::selected()
            } else {
                Style::new()
            };
            let colour = match o.outcome {
                Outcome::Created | Outcome::Updated => theme::OK,
                Outcome::Skipped => theme::WARNING,
                Outcome::Failed | Outcome::Unknown => theme::ERROR,
                Outcome::NotSent => theme::DIM,
            };
            let id = o.user_id.map(|id| id.to_string()).unwrap_or_default();
            let error = match (&o.error, &o.details) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                (Some(e), None) => e.clone(),
                (None, Some(d)) => d.clone(),
                (None, None) => String::new(),
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {:>6} ", o.row), style),
                Span::styled(format!("{:<8} ", o.outcome), style.fg(colour)),
                Span::styled(format!("{id:>12} "), style),
                Span::styled(format!("{} ", cell(&who(o), who_w)), style),
                Span::styled(fit(&error, error_w), style.fg(colour)),
            ]));
        }
        Paragraph::new(lines).render(inner, buf);
    }

    fn render_detail(
        &self,
        index: u64,
        body: &str,
        table: Option<&Table>,
        area: Rect,
        buf: &mut Buffer,
    ) {
        let Some(outcome) = self.outcomes.iter().find(|o| o.index == index) else {
            return;
        };
        let row = outcome.row;
        let mut lines = vec![Line::from(vec![
            Span::styled(format!("{} ", outcome.outcome), theme::header()),
            Span::raw(
                outcome
                    .user_id
                    .map(|id| format!("Zendesk user {id}"))
                    .unwrap_or_default(),
            ),
            Span::styled(
                outcome
                    .matched_by
                    .map(|m| format!("  (matched by {})", m.as_str()))
                    .unwrap_or_default(),
                theme::dim(),
            ),
        ])];
        if let Some(e) = &outcome.error {
            lines.push(Line::from(Span::styled(
                format!("error: {}", printable(e)),
                Style::new().fg(theme::ERROR),
            )));
        }
        if let Some(d) = &outcome.details {
            lines.push(Line::from(Span::styled(
                format!("details: {}", printable(d)),
                Style::new().fg(theme::ERROR),
            )));
        }
        if let Some(problems) = &outcome.sent_despite {
            lines.push(Line::from(Span::styled(
                format!("{} {}", strings::RESULTS_SENT_DESPITE, printable(problems)),
                Style::new().fg(theme::WARNING),
            )));
        }
        lines.push(Line::from(""));
        if let Some(cells) = table.and_then(|t| row_cells(t, row)) {
            lines.push(Line::from(Span::styled(
                strings::RESULTS_CELLS,
                theme::dim(),
            )));
            lines.extend(cells.into_iter().map(Line::from));
            lines.push(Line::from(""));
        }
        if !body.is_empty() {
            lines.push(Line::from(Span::styled(
                strings::RESULTS_SENT,
                theme::dim(),
            )));
            lines.extend(body.lines().map(|l| Line::from(printable(l))));
        }
        let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
        let rect = centered(area, 96, height);
        Clear.render(rect, buf);
        let keys = if height > rect.height {
            " ↑↓ scroll · Esc closes "
        } else {
            " Esc closes "
        };
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(Span::styled(format!(" Row {row} "), theme::header()))
            .title_bottom(Line::from(Span::styled(keys, theme::dim())).right_aligned());
        let last = height.saturating_sub(rect.height);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((self.detail_scroll.min(last), 0))
            .block(block)
            .render(rect, buf);
    }
}

/// `Ana Silva <ana@example.com> #10000`.
fn who(o: &RowOutcome) -> String {
    let mut text = o.name.clone().unwrap_or_default();
    if let Some(email) = &o.email {
        text.push_str(&format!(" <{email}>"));
    }
    if let Some(id) = &o.external_id {
        text.push_str(&format!(" #{id}"));
    }
    text.trim().to_owned()
}

fn matches_search(o: &RowOutcome, needle: &str) -> bool {
    let id = o.user_id.map(|i| i.to_string()).unwrap_or_default();
    [
        Some(o.row.to_string()),
        o.name.clone(),
        o.email.clone(),
        o.external_id.clone(),
        o.error.clone(),
        o.details.clone(),
        Some(id),
    ]
    .iter()
    .flatten()
    .any(|field| field.to_lowercase().contains(needle))
}

/// `Header: value` lines of a sheet row.
fn row_cells(table: &Table, row: u32) -> Option<Vec<String>> {
    let cells = table.row(row)?;
    Some(
        table
            .layout
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let value = cells.cell(i).display();
                format!("{}  {}", cell_right(h, 20), fit(&value, 70))
            })
            .collect(),
    )
}

fn text_popup(area: Rect, buf: &mut Buffer, path: &TextInput) {
    let rect = centered(area, 80, 3);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(theme::ACCENT))
        .title(strings::RESULTS_EXPORT_TITLE);
    let inner = block.inner(rect);
    block.render(rect, buf);
    path.render("", inner, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::run::UserKey;

    fn outcome(row: u32, outcome: Outcome, email: &str) -> RowOutcome {
        let key = UserKey {
            name: Some(format!("User {row}")),
            email: Some(email.to_owned()),
            external_id: None,
            ..Default::default()
        };
        let mut o = RowOutcome::new(row, outcome, &key);
        if outcome == Outcome::Failed {
            o.error = Some("DuplicateValue".into());
            o.details = Some("Email: is already being used by another user".into());
        }
        o
    }

    fn state() -> ResultsState {
        ResultsState::new(
            "20261127-001".into(),
            "/runs/20261127-001/results.csv".into(),
            vec![
                outcome(5, Outcome::Failed, "dup@x.com"),
                outcome(2, Outcome::Created, "ana@x.com"),
                outcome(3, Outcome::Updated, "bo@x.com"),
                outcome(4, Outcome::Skipped, "no-name@x.com"),
            ],
        )
    }

    #[test]
    fn rows_in_sheet_order_filtered_and_searched() {
        let mut s = state();
        let rows: Vec<u32> = s.shown.iter().map(|&i| s.outcomes[i].row).collect();
        assert_eq!(rows, vec![2, 3, 4, 5]);
        s.update(&Action::Filter);
        assert_eq!(s.filter(), Some(Outcome::Failed));
        assert_eq!(s.selected_outcome().map(|o| o.row), Some(5));
        s.update(&Action::Filter);
        assert!(s.shown.is_empty(), "no unknown rows");
        for _ in 0..5 {
            s.update(&Action::Filter);
        }
        assert_eq!(s.filter(), None);
        s.update(&Action::Search);
        assert!(s.is_typing());
        for c in "BO@".chars() {
            s.update(&Action::Char(c));
        }
        assert_eq!(s.shown.len(), 1);
        s.update(&Action::Enter);
        assert!(!s.is_typing());
        assert_eq!(s.search, "BO@");
    }

    #[test]
    fn export_and_retry() {
        let mut s = state();
        s.update(&Action::Export);
        for _ in 0..".csv".len() {
            s.update(&Action::Backspace);
        }
        for c in ".json".chars() {
            s.update(&Action::Char(c));
        }
        assert_eq!(
            s.update(&Action::Enter),
            Some(ResultsOutcome::Export(
                "/runs/20261127-001/results.json".into()
            ))
        );
        assert_eq!(s.retryable(), 1);
        assert_eq!(s.update(&Action::Retry), Some(ResultsOutcome::Retry));
    }

    /// Text a server or a cell sent shows its C1 and bidi controls as `<U+…>`, as the report
    /// and stderr do, in the list and in the detail: never hidden, never acted on.
    #[test]
    fn controls_in_names_and_server_text_show_as_in_the_report() {
        let mut o = outcome(2, Outcome::Failed, "ana@x.com");
        o.name = Some("Ana\u{202e}moc.evil".into());
        o.error = Some("Bad\u{9b}2J".into());
        o.details = Some("say \u{1b}]52;c;aGk=\u{7} \u{2066}x".into());
        let mut s = ResultsState::new("r".into(), "/r.csv".into(), vec![o]);
        let text = |s: &mut ResultsState| {
            let area = Rect::new(0, 0, 100, 30);
            let mut buf = Buffer::empty(area);
            s.render(area, &mut buf, None);
            buf.content().iter().map(|c| c.symbol()).collect::<String>()
        };
        let list = text(&mut s);
        assert!(list.contains("Ana<U+202E>moc.evil"), "{list}");
        assert!(list.contains("Bad<U+009B>2J"), "{list}");
        s.detail = Some((s.outcomes[0].index, String::new()));
        let detail = text(&mut s);
        assert!(detail.contains("error: Bad<U+009B>2J"), "{detail}");
        assert!(detail.contains("say ␛]52;c;aGk=␇ <U+2066>x"), "{detail}");
        for shown in [&list, &detail] {
            assert!(!shown.contains(['\u{fffd}', '\u{202e}', '\u{9b}', '\u{1b}']));
        }
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    #[test]
    fn results_screen() {
        let mut app = results_app();
        assert_eq!(app.screen.step(), 8);
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
        insta::assert_snapshot!("results_80x24", frame(&mut app, 80, 24).backend());
        app.update(Action::Filter);
        insta::assert_snapshot!("results_failed_only", frame(&mut app, 100, 30).backend());
        let Some(Command::SentUser { dir, index }) = app.update(Action::Enter) else {
            panic!("the user as sent is read from the run's plan");
        };
        assert_eq!(
            (dir, index),
            (PathBuf::from("/data/runs/20261127-101500-4821"), 7)
        );
        app.handle(AppEvent::SentUser {
            index: 99,
            body: Ok("stale".into()),
        });
        app.handle(AppEvent::SentUser {
            index,
            body: Ok(serde_json::to_string_pretty(&serde_json::json!({
                "name": "Person 7", "email": "person7@example.com", "external_id": "10007"
            }))
            .unwrap()),
        });
        insta::assert_snapshot!("results_detail", frame(&mut app, 100, 30).backend());
        app.update(Action::Back);
        app.update(Action::Export);
        let Some(Command::Export { path, outcomes }) = app.update(Action::Enter) else {
            panic!("export command");
        };
        assert_eq!(
            path,
            PathBuf::from("/data/runs/20261127-101500-4821/results.csv")
        );
        assert_eq!(outcomes.len(), 1, "the rows the filter shows");
        assert_eq!(app.update(Action::Retry), None, "asks first");
        insta::assert_snapshot!("results_retry_question", frame(&mut app, 80, 24).backend());
        let Some(Command::RetryImport { run_dir, rows, .. }) = app.update(Action::Yes) else {
            panic!("retry command");
        };
        assert_eq!(rows, crate::session::run::RetryRows::Retryable);
        assert_eq!(run_dir, PathBuf::from("/data/runs/20261127-101500-4821"));
        assert_eq!(app.screen.step(), 7, "a new run starts");
    }

    #[test]
    fn results_of_a_cancelled_run_show_the_rows_not_sent() {
        use crate::session::run::Outcome;
        let mut app = results_of(vec![
            outcome(4, Outcome::Created),
            outcome(5, Outcome::Created),
            outcome(6, Outcome::NotSent),
            outcome(7, Outcome::NotSent),
        ]);
        for _ in 0..3 {
            app.update(Action::Filter);
        }
        insta::assert_snapshot!(
            "results_cancelled_not_sent",
            frame(&mut app, 80, 24).backend()
        );
        assert_eq!(
            app.update(Action::ResumeRun),
            Some(Command::ResumeImport(PathBuf::from(
                "/data/runs/20261127-101500-4821"
            )))
        );
        assert_eq!(app.screen.step(), 7);
    }
}
