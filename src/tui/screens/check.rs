//! Check: counts of ready, warning and error rows, and every problem, filterable.

use std::sync::Arc;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap};

use crate::session::check::Report;
use crate::session::check::{InvalidPolicy, IssueRef, Severity};
use crate::session::source::Table;
use crate::tui::action::Action;
use crate::tui::strings;
use crate::tui::widgets::cursor::Cursor;
use crate::tui::widgets::{cell, cell_right, centered, fit, text_width, theme, wrapped_height};

/// Which problems the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Filter {
    #[default]
    All,
    Errors,
    Warnings,
}

impl Filter {
    fn next(self) -> Filter {
        match self {
            Filter::All => Filter::Errors,
            Filter::Errors => Filter::Warnings,
            Filter::Warnings => Filter::All,
        }
    }

    fn keeps(self, severity: Severity) -> bool {
        match self {
            Filter::All => true,
            Filter::Errors => severity == Severity::Error,
            Filter::Warnings => severity == Severity::Warning,
        }
    }

    fn label(self) -> &'static str {
        strings::FILTERS[self as usize]
    }
}

/// What the Check step asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    Next,
    /// Check the rows again under this invalid-row policy.
    Policy(InvalidPolicy),
}

/// The issues the list shows, by their place in the report: every one (nothing kept: a report
/// may hold a million), or the places of those the filter keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    All(usize),
    Kept(Vec<u32>),
}

impl Default for Shown {
    fn default() -> Self {
        Shown::All(0)
    }
}

impl Shown {
    fn of(issues: &crate::session::check::Issues, filter: Filter) -> Shown {
        if filter == Filter::All {
            return Shown::All(issues.len());
        }
        // A report holds fewer than 2^32 issues: at 24 bytes each, that is 96 GiB.
        let kept = (0..issues.len())
            .filter(|&n| issues.severity(n).is_some_and(|s| filter.keeps(s)))
            .map_while(|n| u32::try_from(n).ok());
        Shown::Kept(kept.collect())
    }

    pub fn len(&self) -> usize {
        match self {
            Shown::All(len) => *len,
            Shown::Kept(places) => places.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The report's place of the `n`th issue shown.
    pub fn get(&self, n: usize) -> Option<usize> {
        match self {
            Shown::All(len) => (n < *len).then_some(n),
            Shown::Kept(places) => places.get(n).map(|&place| place as usize),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CheckState {
    /// `None` while the rows are being checked.
    pub report: Option<Arc<Report>>,
    pub filter: Filter,
    /// The report's issues that pass the filter.
    pub shown: Shown,
    pub cursor: Cursor,
    /// The sheet row whose cells are shown in a popup.
    pub detail: Option<u32>,
    /// What the mapping leaves to chance for the mode (shown above the problems).
    pub cautions: Vec<String>,
    /// What each invalid-row policy leaves out, counted once per report (not every frame:
    /// a report may hold a million problems).
    left_out: Option<crate::session::check::LeftOut>,
}

impl CheckState {
    pub fn running() -> CheckState {
        CheckState::default()
    }

    pub fn show(&mut self, report: Arc<Report>) {
        self.left_out = Some(report.left_out());
        self.report = Some(report);
        self.refilter();
    }

    fn refilter(&mut self) {
        let Some(report) = &self.report else { return };
        self.shown = Shown::of(&report.issues, self.filter);
        self.cursor.reset();
    }

    /// Block and some row has an error: nothing may be sent.
    fn blocked(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.invalid == InvalidPolicy::Block && r.errors > 0)
    }

    pub fn selected_issue(&self) -> Option<IssueRef<'_>> {
        let report = self.report.as_ref()?;
        report.issues.get(self.shown.get(self.cursor.selected)?)
    }

    pub fn update(&mut self, action: &Action) -> Option<CheckOutcome> {
        if self.detail.is_some() {
            if matches!(action, Action::Back | Action::Enter) {
                self.detail = None;
            }
            return None;
        }
        if self.cursor.navigate(action, self.shown.len()) {
            return None;
        }
        match action {
            Action::Filter => {
                self.filter = self.filter.next();
                self.refilter();
            }
            Action::Enter => self.detail = self.selected_issue().map(|i| i.row),
            Action::InvalidRows => {
                let report = self.report.as_ref()?;
                return Some(CheckOutcome::Policy(report.invalid.next()));
            }
            Action::Next if self.blocked() => {}
            Action::Next if self.report.is_some() => return Some(CheckOutcome::Next),
            _ => {}
        }
        None
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer, table: Option<&Table>) {
        let [counts, list] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(3)]).areas(area);
        let Some(report) = self.report.clone() else {
            Line::from(Span::styled(
                format!(" {}…", strings::CHECK_RUNNING),
                theme::dim(),
            ))
            .render(counts, buf);
            return;
        };
        let left_out = self.left_out.unwrap_or_else(|| report.left_out());
        render_counts(&report, left_out, counts, buf);
        self.render_list(&report, list, buf);
        if let (Some(row), Some(table)) = (self.detail, table) {
            render_detail(row, table, &report, area, buf);
        }
    }

    fn render_list(&mut self, report: &Report, area: Rect, buf: &mut Buffer) {
        let title = format!(
            "{}· {} of {} · filter: {} ",
            strings::CHECK_TITLE,
            self.shown.len(),
            report.issues.len(),
            self.filter.label()
        );
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(title);
        let inner = block.inner(area);
        block.render(area, buf);
        let inner = if self.cautions.is_empty() {
            inner
        } else {
            let lines: Vec<Line> = self
                .cautions
                .iter()
                .map(|c| {
                    Line::from(Span::styled(
                        format!(" ⚠ {c}"),
                        Style::new().fg(theme::WARNING),
                    ))
                })
                .collect();
            let height = wrapped_height(&lines, inner.width).min(inner.height);
            let [top, rest] =
                Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(inner);
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .render(top, buf);
            rest
        };
        if self.shown.is_empty() {
            if self.cautions.is_empty() {
                Line::from(Span::styled(
                    format!(" {}", strings::CHECK_NONE),
                    Style::new().fg(theme::OK),
                ))
                .render(inner, buf);
            }
            return;
        }
        let height = usize::from(inner.height.saturating_sub(1));
        // Only the visible window is laid out: the list may hold a million problems.
        let first = self.cursor.window(height);
        let width = usize::from(inner.width);
        let (column_w, value_w) = if width < 90 {
            (13, 16)
        } else {
            (16, (width / 5).min(40))
        };
        let message_w = width.saturating_sub(8 + column_w + value_w + 4);
        let head = format!(
            " {:>6} {:<column_w$} {:<value_w$} {}",
            "row", "column", "value", "problem"
        );
        let mut lines = vec![Line::from(Span::styled(head, theme::dim()))];
        let visible = (first..self.shown.len().min(first + height))
            .filter_map(|n| Some((n, report.issues.get(self.shown.get(n)?)?)));
        for (n, issue) in visible {
            let colour = match issue.severity {
                Severity::Error => theme::ERROR,
                Severity::Warning => theme::WARNING,
            };
            let column = issue.column.unwrap_or("");
            let value = issue.value.unwrap_or("");
            let mut style = Style::new();
            if n == self.cursor.selected {
                style = theme::selected();
            }
            lines.push(Line::from(vec![
                Span::styled(format!(" {:>6} ", issue.row), style),
                Span::styled(format!("{} ", cell(column, column_w)), style),
                Span::styled(format!("{} ", cell(value, value_w)), style),
                Span::styled(fit(issue.message, message_w), style.fg(colour)),
            ]));
        }
        Paragraph::new(lines).render(inner, buf);
    }
}

fn render_counts(
    report: &Report,
    left_out: crate::session::check::LeftOut,
    area: Rect,
    buf: &mut Buffer,
) {
    let dot = |colour| Span::styled(" ● ", Style::new().fg(colour));
    let sent = report.sent();
    let errors_sent = sent.saturating_sub(report.ready + report.warnings);
    let errors = match errors_sent {
        0 => format!("{} with errors (not sent)", report.errors),
        n => format!("{} with errors ({n} sent anyway)", report.errors),
    };
    let line = Line::from(vec![
        dot(theme::OK),
        Span::raw(format!("{} ready", report.ready)),
        dot(theme::WARNING),
        Span::raw(format!("{} with warnings", report.warnings)),
        dot(theme::ERROR),
        Span::raw(errors),
    ]);
    let [a, b, c] = Layout::vertical([Constraint::Length(1); 3]).areas(area);
    line.render(a, buf);
    let plural = if report.batches.len() == 1 { "" } else { "s" };
    let note = if report.errors > 0 {
        "Esc goes back to the mapping"
    } else {
        "n shows them"
    };
    // What is sent, not every row: rows with errors are left out (issue: "204 rows in 3
    // requests" when 201 were sent).
    let text = format!(
        " {sent} of {} rows sent in {} request{plural}; {note}",
        report.rows(),
        report.batches.len()
    );
    Line::from(Span::styled(text, theme::dim())).render(b, buf);
    if report.errors == 0 {
        return;
    }
    let policy = if report.invalid == InvalidPolicy::Block {
        Span::styled(
            format!(" {}", strings::CHECK_BLOCKED),
            Style::new().fg(theme::ERROR),
        )
    } else {
        Span::raw(format!(" {}", report.invalid))
    };
    Line::from(vec![
        Span::raw(format!(" {}", strings::CHECK_POLICY)),
        policy,
        Span::styled(format!(" · {}", left_out.line()), theme::dim()),
    ])
    .render(c, buf);
}

/// A popup with one row's cells and its problems.
fn render_detail(row: u32, table: &Table, report: &Report, area: Rect, buf: &mut Buffer) {
    let Some(cells) = table.row(row) else {
        return;
    };
    let issues: Vec<IssueRef<'_>> = report.issues.of_row(row).collect();
    let width = table
        .layout
        .headers
        .iter()
        .map(|h| text_width(h))
        .max()
        .unwrap_or(0)
        .min(24);
    // The problems first: they are why the row was opened, and a tall row may not fit.
    let mut lines: Vec<Line<'_>> = issues
        .iter()
        .map(|p| {
            let colour = match p.severity {
                Severity::Error => theme::ERROR,
                Severity::Warning => theme::WARNING,
            };
            Line::from(Span::styled(
                format!("• {}", p.message),
                Style::new().fg(colour),
            ))
        })
        .collect();
    if !lines.is_empty() {
        lines.push(Line::from(""));
    }
    lines.extend(table.layout.headers.iter().enumerate().map(|(i, header)| {
        let value = cells.cell(i).display();
        let flagged = issues
            .iter()
            .find(|p| p.column == Some(header.as_str()))
            .map(|p| p.severity);
        let style = match flagged {
            Some(Severity::Error) => Style::new().fg(theme::ERROR).bold(),
            Some(Severity::Warning) => Style::new().fg(theme::WARNING),
            None => Style::new(),
        };
        Line::from(vec![
            Span::styled(format!("{}  ", cell_right(header, width)), theme::dim()),
            Span::styled(fit(&value, 60), style),
        ])
    }));
    let width = area.width.min(90);
    let height = wrapped_height(&lines, width.saturating_sub(2)).saturating_add(2);
    let rect = centered(area, width, height);
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(theme::ACCENT))
        .title(Span::styled(
            format!(" {} {row} ", strings::CHECK_ROW_TITLE),
            theme::header(),
        ))
        .title_bottom(Line::from(Span::styled(" Esc closes ", theme::dim())).right_aligned());
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block)
        .render(rect, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::check::Issue;

    fn issue(row: u32, severity: Severity) -> Issue {
        Issue {
            row,
            column: Some("E-mail".into()),
            cell: Some(format!("B{row}")),
            value: Some("x".into()),
            severity,
            message: "bad".into(),
            includable: false,
        }
    }

    fn state() -> CheckState {
        let report = Report {
            issues: [
                issue(4, Severity::Warning),
                issue(7, Severity::Error),
                issue(9, Severity::Error),
            ]
            .iter()
            .collect(),
            ready: 10,
            warnings: 1,
            errors: 2,
            batches: vec![vec![2, 3, 4]],
            ..Report::default()
        };
        let mut s = CheckState::running();
        s.show(Arc::new(report));
        s
    }

    /// The report's places of the issues shown.
    fn places(s: &CheckState) -> Vec<usize> {
        (0..s.shown.len()).filter_map(|n| s.shown.get(n)).collect()
    }

    #[test]
    fn filter_cycles_and_selection_follows() {
        let mut s = state();
        assert_eq!(places(&s), vec![0, 1, 2]);
        assert_eq!(s.shown, Shown::All(3), "every issue shown keeps no list");
        s.update(&Action::Filter);
        assert_eq!(s.filter, Filter::Errors);
        assert_eq!(places(&s), vec![1, 2]);
        s.update(&Action::Down);
        s.update(&Action::Down);
        assert_eq!(s.selected_issue().map(|i| i.row), Some(9));
        s.update(&Action::Filter);
        assert_eq!(places(&s), vec![0]);
        assert_eq!(s.cursor.selected, 0);
        assert_eq!(s.shown.get(1), None);
        s.update(&Action::Filter);
        assert_eq!(places(&s), vec![0, 1, 2]);
    }

    #[test]
    fn enter_shows_the_row_and_esc_closes_it() {
        let mut s = state();
        s.update(&Action::Down);
        s.update(&Action::Enter);
        assert_eq!(s.detail, Some(7));
        assert_eq!(s.update(&Action::Next), None, "the popup has the keys");
        s.update(&Action::Back);
        assert_eq!(s.detail, None);
        assert_eq!(s.update(&Action::Next), Some(CheckOutcome::Next));
    }

    #[test]
    fn i_asks_for_the_next_policy_and_block_keeps_n_from_going_on() {
        let mut s = state();
        assert_eq!(
            s.update(&Action::InvalidRows),
            Some(CheckOutcome::Policy(InvalidPolicy::Block))
        );
        let mut report = (**s.report.as_ref().unwrap()).clone();
        report.invalid = InvalidPolicy::Block;
        s.show(Arc::new(report.clone()));
        assert_eq!(s.update(&Action::Next), None, "2 rows have errors");
        assert_eq!(
            s.update(&Action::InvalidRows),
            Some(CheckOutcome::Policy(InvalidPolicy::Include))
        );
        report.errors = 0;
        report.issues.retain(|i| i.severity == Severity::Warning);
        s.show(Arc::new(report));
        assert_eq!(s.update(&Action::Next), Some(CheckOutcome::Next));
    }

    #[test]
    fn the_counts_say_how_many_rows_are_sent_and_what_each_policy_leaves_out() {
        let s = state();
        let report = s.report.clone().unwrap();
        let backend = ratatui::backend::TestBackend::new(100, 3);
        let mut terminal = ratatui::Terminal::new(backend).unwrap();
        terminal
            .draw(|f| render_counts(&report, report.left_out(), f.area(), f.buffer_mut()))
            .unwrap();
        let text: Vec<String> = (0..3)
            .map(|y| {
                (0..100)
                    .map(|x| terminal.backend().buffer()[(x, y)].symbol().to_owned())
                    .collect::<String>()
                    .trim_end()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            text[1],
            " 3 of 13 rows sent in 1 request; Esc goes back to the mapping"
        );
        assert_eq!(
            text[2],
            " Rows with errors (i): skip · skip leaves out 2 rows, block 13, include 2"
        );
    }

    #[test]
    fn nothing_to_do_while_running() {
        let mut s = CheckState::running();
        assert_eq!(s.update(&Action::Next), None);
        assert_eq!(s.update(&Action::Enter), None);
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    #[test]
    fn check_screen() {
        insta::assert_snapshot!(frame(&mut check_app(), 100, 30).backend());
        insta::assert_snapshot!(
            "check_screen_80x24",
            frame(&mut check_app(), 80, 24).backend()
        );
        let mut app = check_app();
        app.update(Action::Enter);
        insta::assert_snapshot!("check_row_detail", frame(&mut app, 100, 30).backend());
        let mut running = map_app();
        running.update(Action::Next);
        insta::assert_snapshot!("check_running", frame(&mut running, 80, 24).backend());
    }

    #[test]
    fn check_errors_are_red() {
        let terminal = frame(&mut check_app(), 100, 30);
        let buf = terminal.backend().buffer();
        let line: String = (0..100).map(|x| buf[(x, 6)].symbol()).collect();
        assert!(line.contains("not a valid email"), "{line}");
        let at = u16::try_from(line.find("'person3").unwrap()).unwrap();
        assert_eq!(buf[(at + 2, 6)].fg, widgets::theme::ERROR);
    }
}
