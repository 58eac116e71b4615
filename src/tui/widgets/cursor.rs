//! The selection in a long list that is drawn a window at a time (a million problems, say).

use crate::tui::action::Action;

/// Lines `PgUp` and `PgDn` move.
const PAGE: usize = 20;

/// The selected item and the first item drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
    offset: usize,
}

impl Cursor {
    /// Moves for a navigation action over `len` items; `false` for any other action.
    pub fn navigate(&mut self, action: &Action, len: usize) -> bool {
        let last = len.saturating_sub(1);
        self.selected = match action {
            Action::Up | Action::ScrollUp => self.selected.saturating_sub(1),
            Action::Down | Action::ScrollDown => (self.selected + 1).min(last),
            Action::PageUp => self.selected.saturating_sub(PAGE),
            Action::PageDown => (self.selected + PAGE).min(last),
            Action::Home => 0,
            Action::End => last,
            _ => return false,
        };
        true
    }

    /// Back to the top (the list changed).
    pub fn reset(&mut self) {
        *self = Cursor::default();
    }

    /// The first item to draw in `height` lines, scrolled so the selection shows.
    pub fn window(&mut self, height: usize) -> usize {
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if height > 0 && self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_within_the_list_and_keeps_the_selection_in_view() {
        let mut c = Cursor::default();
        assert!(c.navigate(&Action::End, 100));
        assert_eq!((c.selected, c.window(10)), (99, 90));
        c.navigate(&Action::PageUp, 100);
        assert_eq!((c.selected, c.window(10)), (79, 79));
        c.navigate(&Action::Down, 100);
        assert_eq!(c.window(10), 79, "still in view: no scroll");
        assert!(!c.navigate(&Action::Filter, 100));
        c.navigate(&Action::Down, 0);
        assert_eq!(
            c.selected, 0,
            "an empty list selects nothing past its start"
        );
    }
}
