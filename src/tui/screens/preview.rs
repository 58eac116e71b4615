//! Preview: the exact JSON of any request, coloured and scrollable; jump to a row's request.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use crate::session::check::Request;
use crate::tui::action::Action;
use crate::tui::strings;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::{centered, theme};

/// What the Preview step asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewOutcome {
    /// Build and show request `n` (0-based).
    Show(usize),
    /// Show the request that sends this sheet row.
    Find(u32),
}

#[derive(Debug, Clone, Default)]
pub struct PreviewState {
    /// How many requests there are.
    pub batches: usize,
    /// The request shown (0-based).
    pub batch: usize,
    pub method: &'static str,
    pub path: &'static str,
    pub rows: Vec<u32>,
    /// The body, pretty-printed, one entry per line.
    pub lines: Vec<String>,
    pub scroll: usize,
    /// The row number being typed after `g`.
    pub goto: Option<TextInput>,
    pub notice: Option<String>,
    /// Body lines that fit on screen, from the last draw (for paging).
    pub page: usize,
    /// What the body sends: `user` or `organization`.
    pub one: &'static str,
}

impl PreviewState {
    pub fn new(batches: usize) -> PreviewState {
        PreviewState {
            batches,
            page: 20,
            ..PreviewState::default()
        }
    }

    /// Shows request `batch`, scrolled to `row`'s user when given.
    pub fn show(&mut self, batch: usize, request: &Request, row: Option<u32>) {
        self.batch = batch;
        self.method = request.method;
        self.path = request.path;
        self.rows.clone_from(&request.rows);
        self.one = if request.body.organizations.is_empty() {
            "user"
        } else {
            "organization"
        };
        self.lines = serde_json::to_string_pretty(&request.body)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        self.scroll = row
            .and_then(|r| request.rows.iter().position(|x| *x == r))
            .and_then(|n| user_start(&self.lines, n))
            .unwrap_or(0);
    }

    pub fn is_typing(&self) -> bool {
        self.goto.is_some()
    }

    pub fn update(&mut self, action: &Action) -> Option<PreviewOutcome> {
        if let Some(mut input) = self.goto.take() {
            match action {
                Action::Back => {}
                Action::Enter => match input.text.trim().parse::<u32>() {
                    Ok(row) => return Some(PreviewOutcome::Find(row)),
                    Err(_) => self.notice = Some(format!("'{}' is not a row number", input.text)),
                },
                action => {
                    if let Action::Char(c) = action
                        && !c.is_ascii_digit()
                    {
                        self.goto = Some(input);
                        return None;
                    }
                    input.handle(action);
                    self.goto = Some(input);
                }
            }
            return None;
        }
        let last = self.lines.len().saturating_sub(1);
        match action {
            Action::Up | Action::ScrollUp => self.scroll = self.scroll.saturating_sub(1),
            Action::Down | Action::ScrollDown => self.scroll = (self.scroll + 1).min(last),
            Action::PageUp => self.scroll = self.scroll.saturating_sub(self.page),
            Action::PageDown => self.scroll = (self.scroll + self.page).min(last),
            Action::Home => self.scroll = 0,
            Action::End => self.scroll = last,
            Action::Left if self.batch > 0 => return Some(PreviewOutcome::Show(self.batch - 1)),
            Action::Right if self.batch + 1 < self.batches => {
                return Some(PreviewOutcome::Show(self.batch + 1));
            }
            Action::Jump => {
                self.goto = Some(TextInput::default());
                self.notice = None;
            }
            _ => {}
        }
        None
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer) {
        let [head, body, notice] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        if self.batches == 0 {
            Line::from(Span::styled(
                format!(" {}", strings::PREVIEW_EMPTY),
                Style::new().fg(theme::WARNING),
            ))
            .render(head, buf);
            return;
        }
        let span = match (self.rows.first(), self.rows.last()) {
            (Some(a), Some(b)) => format!("rows {a}-{b}"),
            _ => String::new(),
        };
        Line::from(vec![
            Span::styled(
                format!(" {} ", self.method),
                Style::new().fg(Color::Black).bg(theme::OK),
            ),
            Span::styled(format!(" {}", self.path), theme::header()),
            Span::styled(
                format!("   {} {}s · {span}", self.rows.len(), self.one),
                theme::dim(),
            ),
        ])
        .render(head, buf);
        let title = format!(
            " {} {} of {} ",
            strings::PREVIEW_TITLE,
            self.batch + 1,
            self.batches
        );
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(title)
            .title_bottom(
                Line::from(Span::styled(
                    format!(" line {} of {} ", self.scroll + 1, self.lines.len()),
                    theme::dim(),
                ))
                .right_aligned(),
            );
        let inner = block.inner(body);
        block.render(body, buf);
        self.page = usize::from(inner.height).max(1);
        let lines: Vec<Line<'_>> = self
            .lines
            .iter()
            .skip(self.scroll)
            .take(self.page)
            .map(|l| colour_json(l))
            .collect();
        Paragraph::new(lines).render(inner, buf);
        if let Some(text) = &self.notice {
            Line::from(Span::styled(
                format!(" {text}"),
                Style::new().fg(theme::WARNING),
            ))
            .render(notice, buf);
        }
        if let Some(input) = &self.goto {
            let rect = centered(area, 50, 3);
            Clear.render(rect, buf);
            let block = Block::bordered()
                .border_type(BorderType::Rounded)
                .border_style(Style::new().fg(theme::ACCENT))
                .title(strings::PREVIEW_GOTO_TITLE);
            let inner = block.inner(rect);
            block.render(rect, buf);
            input.render("row ", inner, buf);
        }
    }
}

/// The line where user `n` of the body starts (`    {` at the users array's depth).
fn user_start(lines: &[String], n: usize) -> Option<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| *l == "    {")
        .nth(n)
        .map(|(i, _)| i)
}

/// One pretty-printed JSON line in colour: keys, strings, numbers, literals, punctuation.
fn colour_json(line: &str) -> Line<'_> {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    let mut spans = vec![Span::raw(&line[..indent])];
    let value = match key_end(rest) {
        Some(end) => {
            spans.push(Span::styled(&rest[..end], Style::new().fg(theme::ACCENT)));
            spans.push(Span::styled(": ", theme::dim()));
            rest[end..].strip_prefix(": ").unwrap_or(&rest[end..])
        }
        None => rest,
    };
    let (body, comma) = match value.strip_suffix(',') {
        Some(v) => (v, ","),
        None => (value, ""),
    };
    let style = if body.starts_with('"') {
        Style::new().fg(Color::Green)
    } else if body.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        Style::new().fg(Color::Yellow)
    } else if matches!(body, "true" | "false" | "null") {
        Style::new().fg(Color::Magenta)
    } else {
        theme::dim()
    };
    spans.push(Span::styled(body, style));
    spans.push(Span::styled(comma, theme::dim()));
    Line::from(spans)
}

/// End of a `"key"` at the start of `text` when a `: ` follows it.
fn key_end(text: &str) -> Option<usize> {
    if !text.starts_with('"') {
        return None;
    }
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                return text[i + 1..].starts_with(": ").then_some(i + 1);
            }
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::check::{Body, User};

    fn request(rows: &[u32]) -> Request {
        Request {
            method: "POST",
            path: "/api/v2/users/create_many",
            rows: rows.to_vec(),
            body: Body {
                users: rows
                    .iter()
                    .map(|r| User {
                        name: Some(format!("Row \"{r}\"")),
                        verified: Some(true),
                        ..User::default()
                    })
                    .collect(),
                ..Body::default()
            },
        }
    }

    #[test]
    fn arrows_change_request_and_g_finds_a_row() {
        let mut s = PreviewState::new(3);
        s.show(1, &request(&[104, 105]), None);
        assert_eq!(s.update(&Action::Left), Some(PreviewOutcome::Show(0)));
        assert_eq!(s.update(&Action::Right), Some(PreviewOutcome::Show(2)));
        s.update(&Action::Jump);
        assert!(s.is_typing());
        for c in "2x05".chars() {
            s.update(&Action::Char(c));
        }
        assert_eq!(s.update(&Action::Enter), Some(PreviewOutcome::Find(205)));
    }

    #[test]
    fn a_found_row_scrolls_to_its_user() {
        let mut s = PreviewState::new(1);
        s.show(0, &request(&[4, 5, 6]), Some(6));
        assert_eq!(s.lines[s.scroll], "    {");
        assert_eq!(s.lines[s.scroll + 1], r#"      "name": "Row \"6\"","#);
    }

    #[test]
    fn json_colours_keys_and_values_apart() {
        let line = colour_json(r#"      "name": "Ana \"A\": x","#);
        let texts: Vec<&str> = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(
            texts,
            vec!["      ", r#""name""#, ": ", r#""Ana \"A\": x""#, ","]
        );
        assert_eq!(line.spans[3].style.fg, Some(Color::Green));
        let line = colour_json("      \"verified\": true");
        assert_eq!(line.spans[3].style.fg, Some(Color::Magenta));
    }

    #[test]
    fn preview_with_wide_characters_80x24() {
        let mut s = PreviewState::new(1);
        let user = |name: &str, notes: &str| User {
            name: Some(name.into()),
            notes: Some(notes.into()),
            ..User::default()
        };
        let request = Request {
            method: "POST",
            path: "/api/v2/users/create_many",
            rows: vec![2, 3],
            body: Body {
                users: vec![
                    user(
                        "山田太郎",
                        "🎉 VIP 顧客メモ：請求書は毎月送付、担当は営業部の佐藤さん",
                    ),
                    user("Zoe\u{301} Ångström", "café ☕ regular"),
                ],
                ..Body::default()
            },
        };
        s.show(0, &request, None);
        let terminal = crate::tui::widgets::drawn(80, 22, |area, buf| s.render(area, buf));
        insta::assert_snapshot!("preview_wide_80x24", terminal.backend());
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    #[test]
    fn preview_screen() {
        let mut app = check_app();
        app.update(Action::Next);
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
        insta::assert_snapshot!("preview_screen_80x24", frame(&mut app, 80, 24).backend());
        app.update(Action::Jump);
        app.update(Action::Char('9'));
        insta::assert_snapshot!("preview_goto", frame(&mut app, 80, 24).backend());
    }
}
