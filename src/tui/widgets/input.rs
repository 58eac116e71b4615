//! A one-line text field: the one place raw characters go.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme;
use crate::tui::action::Action;

/// Text typed by the operator; the cursor is always at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    pub text: String,
}

impl TextInput {
    pub fn new(text: &str) -> TextInput {
        TextInput {
            text: text.to_owned(),
        }
    }

    /// Types or deletes a character; returns whether the text changed.
    pub fn handle(&mut self, action: &Action) -> bool {
        match action {
            Action::Char(c) if !c.is_control() => {
                self.text.push(*c);
                true
            }
            Action::Backspace => self.text.pop().is_some(),
            _ => false,
        }
    }

    /// The text with a block cursor, after `label`; the end shows when it is too long.
    pub fn render(&self, label: &str, area: Rect, buf: &mut Buffer) {
        let room = usize::from(area.width).saturating_sub(label.chars().count() + 2);
        let count = self.text.chars().count();
        let shown: String = self.text.chars().skip(count.saturating_sub(room)).collect();
        Line::from(vec![
            Span::styled(label.to_owned(), theme::dim()),
            Span::styled(shown, Style::new().bold()),
            Span::styled(" ", Style::new().reversed()),
        ])
        .render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_deletes() {
        let mut input = TextInput::new("pla");
        assert!(input.handle(&Action::Char('n')));
        assert_eq!(input.text, "plan");
        assert!(input.handle(&Action::Backspace));
        assert!(!input.handle(&Action::Down));
        assert!(!input.handle(&Action::Char('\u{7}')));
        assert_eq!(input.text, "pla");
    }
}
