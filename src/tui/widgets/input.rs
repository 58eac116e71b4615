//! A one-line text field that edits like a shell line: the one place raw characters go.
//!
//! `←` `→` `Home` `End` move the cursor; `Ctrl-A` `Ctrl-E` go to the start and the end,
//! `Ctrl-U` `Ctrl-K` delete before and after the cursor, `Ctrl-W` the word before it;
//! `Backspace` and `Delete` remove the character before and under it.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::{text_width, theme};
use crate::tui::action::{Action, Edit};

/// Text typed by the operator, with a cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    pub text: String,
    /// Byte offset of the cursor in `text`, on a character boundary (clamped when `text` is
    /// replaced from outside).
    cursor: usize,
}

impl TextInput {
    /// A field holding `text`, the cursor at its end.
    pub fn new(text: &str) -> TextInput {
        TextInput {
            text: text.to_owned(),
            cursor: text.len(),
        }
    }

    /// The cursor's byte offset, kept on a character boundary inside the text.
    fn at(&self) -> usize {
        let mut at = self.cursor.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    /// The cursor as a count of characters before it.
    pub fn cursor_chars(&self) -> usize {
        self.text[..self.at()].chars().count()
    }

    /// Edits or moves for an action; returns whether the action was the field's (typed,
    /// deleted or moved), so the screen leaves it alone.
    pub fn handle(&mut self, action: &Action) -> bool {
        let at = self.at();
        let before = self.text[..at]
            .chars()
            .next_back()
            .map_or(0, char::len_utf8);
        let under = self.text[at..].chars().next().map_or(0, char::len_utf8);
        match action {
            Action::Char(c) if !c.is_control() => {
                self.text.insert(at, *c);
                self.cursor = at + c.len_utf8();
            }
            Action::Backspace if before > 0 => {
                self.text.replace_range(at - before..at, "");
                self.cursor = at - before;
            }
            Action::Edit(Edit::Delete) if under > 0 => self.text.replace_range(at..at + under, ""),
            Action::Left if before > 0 => self.cursor = at - before,
            Action::Right if under > 0 => self.cursor = at + under,
            Action::Home | Action::Edit(Edit::Start) => self.cursor = 0,
            Action::End | Action::Edit(Edit::End) => self.cursor = self.text.len(),
            Action::Edit(Edit::DeleteToStart) if at > 0 => {
                self.text.replace_range(..at, "");
                self.cursor = 0;
            }
            Action::Edit(Edit::DeleteToEnd) if at < self.text.len() => self.text.truncate(at),
            Action::Edit(Edit::DeleteWord) if at > 0 => {
                let start = word_start(&self.text[..at]);
                self.text.replace_range(start..at, "");
                self.cursor = start;
            }
            _ => return false,
        }
        true
    }

    /// Whether `action` is one of the field's own (an edit or a cursor move), whether or not
    /// it changes anything where the cursor is now.
    pub fn takes(action: &Action) -> bool {
        matches!(
            action,
            Action::Char(_)
                | Action::Backspace
                | Action::Edit(_)
                | Action::Left
                | Action::Right
                | Action::Home
                | Action::End
        )
    }

    /// The text with the cursor drawn as a reversed cell, cut to `room` display columns
    /// around the cursor; `shown` replaces every character (a secret's `•`).
    pub fn spans(&self, room: usize, shown: Option<char>) -> Vec<Span<'static>> {
        let chars: Vec<char> = match shown {
            Some(mask) => self.text.chars().map(|_| mask).collect(),
            None => self.text.chars().collect(),
        };
        let cursor = self.cursor_chars();
        let width = |c: &char| text_width(c.encode_utf8(&mut [0; 4]));
        // Scroll so the cursor (one cell) shows: drop characters from the left while the text
        // before it plus the cursor cell is wider than the room.
        let mut first = 0;
        let mut used: usize = chars[..cursor].iter().map(width).sum::<usize>() + 1;
        while used > room.max(1) && first < cursor {
            used -= width(&chars[first]);
            first += 1;
        }
        let before: String = chars[first..cursor].iter().collect();
        let under = chars.get(cursor).map_or(" ".to_owned(), char::to_string);
        let mut left = room.saturating_sub(used);
        let after: String = chars
            .iter()
            .skip(cursor + 1)
            .take_while(|c| {
                let w = width(c);
                let fits = w <= left;
                left = left.saturating_sub(w);
                fits
            })
            .collect();
        vec![
            Span::styled(before, Style::new().bold()),
            Span::styled(under, Style::new().bold().reversed()),
            Span::styled(after, Style::new().bold()),
        ]
    }

    /// The text with its cursor after `label`, scrolled so the cursor shows.
    pub fn render(&self, label: &str, area: Rect, buf: &mut Buffer) {
        let room = usize::from(area.width).saturating_sub(text_width(label) + 1);
        let mut spans = vec![Span::styled(label.to_owned(), theme::dim())];
        spans.extend(self.spans(room, None));
        Line::from(spans).render(area, buf);
    }
}

/// Where the word ending at the end of `text` starts: spaces before the cursor are passed
/// over, then everything up to the previous space or `/` (as in a shell, `Ctrl-W` on a path
/// deletes one folder).
fn word_start(text: &str) -> usize {
    let trimmed = text.trim_end_matches(' ');
    let stem = trimmed.strip_suffix('/').unwrap_or(trimmed);
    stem.rfind([' ', '/']).map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn typed(text: &str) -> TextInput {
        let mut input = TextInput::default();
        for c in text.chars() {
            input.handle(&Action::Char(c));
        }
        input
    }

    #[test]
    fn types_and_deletes_at_the_end() {
        let mut input = TextInput::new("pla");
        assert!(input.handle(&Action::Char('n')));
        assert_eq!(input.text, "plan");
        assert!(input.handle(&Action::Backspace));
        assert!(!input.handle(&Action::Down));
        assert!(!input.handle(&Action::Char('\u{7}')));
        assert_eq!(input.text, "pla");
    }

    #[rstest]
    #[case::left_then_type(&[Action::Left, Action::Left, Action::Char('X')], "acXme", 3)]
    #[case::home_then_type(&[Action::Home, Action::Char('>')], ">acme", 1)]
    #[case::ctrl_a_then_end(&[Action::Edit(Edit::Start), Action::End], "acme", 4)]
    #[case::ctrl_e(&[Action::Home, Action::Edit(Edit::End), Action::Char('!')], "acme!", 5)]
    #[case::backspace_mid(&[Action::Left, Action::Backspace], "ace", 2)]
    #[case::delete_under(&[Action::Home, Action::Edit(Edit::Delete)], "cme", 0)]
    #[case::delete_at_end_does_nothing(&[Action::Edit(Edit::Delete)], "acme", 4)]
    #[case::ctrl_u(&[Action::Left, Action::Edit(Edit::DeleteToStart)], "e", 0)]
    #[case::ctrl_k(&[Action::Home, Action::Right, Action::Edit(Edit::DeleteToEnd)], "a", 1)]
    #[case::right_past_end(&[Action::Right, Action::Char('s')], "acmes", 5)]
    #[case::left_past_start(&[Action::Home, Action::Left, Action::Char('<')], "<acme", 1)]
    fn edits_like_a_shell_line(
        #[case] actions: &[Action],
        #[case] text: &str,
        #[case] cursor: usize,
    ) {
        let mut input = typed("acme");
        for a in actions {
            input.handle(a);
        }
        assert_eq!((input.text.as_str(), input.cursor_chars()), (text, cursor));
    }

    #[rstest]
    #[case("ops team lead", "ops team ")]
    #[case("ops team  ", "ops ")]
    #[case("/home/ops/exports/", "/home/ops/")]
    #[case("~/exp", "~/")]
    #[case("word", "")]
    fn ctrl_w_deletes_the_word_before_the_cursor(#[case] text: &str, #[case] left: &str) {
        let mut input = typed(text);
        input.handle(&Action::Edit(Edit::DeleteWord));
        assert_eq!(input.text, left);
        assert_eq!(input.cursor_chars(), left.chars().count());
    }

    #[test]
    fn multibyte_characters_move_and_delete_whole() {
        let mut input = typed("Zoë 東京");
        input.handle(&Action::Left);
        input.handle(&Action::Backspace);
        assert_eq!(input.text, "Zoë 京");
        input.handle(&Action::Home);
        input.handle(&Action::Right);
        input.handle(&Action::Right);
        input.handle(&Action::Edit(Edit::Delete));
        assert_eq!(input.text, "Zo 京");
        // Text replaced from outside: the cursor stays inside it.
        input.text = "é".into();
        input.handle(&Action::Char('x'));
        assert_eq!(input.text, "éx");
    }

    fn drawn(spans: &[Span<'_>]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn the_cursor_always_shows_in_a_narrow_field() {
        let mut input = typed("https://acme.zendesk.com");
        assert_eq!(drawn(&input.spans(10, None)), "ndesk.com ");
        input.handle(&Action::Home);
        assert_eq!(drawn(&input.spans(10, None)), "https://ac");
        assert_eq!(
            input.spans(10, None)[1].content,
            "h",
            "the cursor is on the h"
        );
        assert_eq!(drawn(&typed("s3cr3t").spans(20, Some('•'))), "•••••• ");
        // Wide characters count two columns.
        assert_eq!(drawn(&typed("東京大阪").spans(5, None)), "大阪 ");
    }
}
