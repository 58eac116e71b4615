//! A fuzzy picker: type to narrow a list, arrows to choose, Enter to take.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Clear, List, ListItem, ListState, StatefulWidget, Widget,
};

use super::input::TextInput;
use super::{cell, centered, fit, theme};
use crate::tui::action::Action;

/// One choice: what is shown, a note beside it, and what choosing it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice<T> {
    pub label: String,
    pub note: String,
    pub value: T,
}

/// What the operator did with the picker.
#[derive(Debug, Clone, PartialEq)]
pub enum Picked<T> {
    Chosen(T),
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Picker<T> {
    pub title: String,
    pub query: TextInput,
    choices: Vec<Choice<T>>,
    /// Indexes of the choices that match the query, best first.
    shown: Vec<usize>,
    pub list: ListState,
}

impl<T: Clone> Picker<T> {
    pub fn new(title: &str, choices: Vec<Choice<T>>) -> Picker<T> {
        let mut picker = Picker {
            title: title.to_owned(),
            query: TextInput::default(),
            shown: (0..choices.len()).collect(),
            choices,
            list: ListState::default(),
        };
        picker.list.select(Some(0));
        picker
    }

    /// Starts on the choice whose label is `label`, when there is one.
    pub fn select_label(&mut self, label: &str) {
        if let Some(at) = self
            .shown
            .iter()
            .position(|&i| self.choices[i].label == label)
        {
            self.list.select(Some(at));
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<Picked<T>> {
        let last = self.shown.len().saturating_sub(1);
        let at = self.list.selected().unwrap_or(0);
        match action {
            Action::Back => return Some(Picked::Cancelled),
            Action::Enter => {
                return self
                    .shown
                    .get(at)
                    .map(|&i| Picked::Chosen(self.choices[i].value.clone()));
            }
            Action::Up | Action::ScrollUp => self.list.select(Some(at.saturating_sub(1))),
            Action::Down | Action::ScrollDown => self.list.select(Some((at + 1).min(last))),
            action if self.query.handle(action) => self.filter(),
            _ => {}
        }
        None
    }

    /// The choices matching the query: substring matches first (earlier is better), then
    /// letters in order (`eml` finds `email`).
    fn filter(&mut self) {
        let query = self.query.text.to_lowercase();
        let mut scored: Vec<(usize, usize)> = self
            .choices
            .iter()
            .enumerate()
            .filter_map(|(i, c)| score(&query, &c.label.to_lowercase()).map(|s| (s, i)))
            .collect();
        scored.sort_by_key(|&(s, i)| (s, i));
        self.shown = scored.into_iter().map(|(_, i)| i).collect();
        self.list.select(Some(0));
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer) {
        let height = u16::try_from(self.choices.len() + 4).unwrap_or(u16::MAX);
        let rect = centered(area, 64, height.clamp(8, 22));
        Clear.render(rect, buf);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(Span::styled(self.title.clone(), theme::header()));
        let inner = block.inner(rect);
        block.render(rect, buf);
        let [query, list] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
        self.query.render("› ", query, buf);
        let width = usize::from(list.width);
        let items: Vec<ListItem<'_>> = self
            .shown
            .iter()
            .map(|&i| {
                let c = &self.choices[i];
                let label = cell(&c.label, 26);
                let note = fit(&c.note, width.saturating_sub(29));
                ListItem::new(Line::from(vec![
                    Span::raw(format!(" {label} ")),
                    Span::styled(note, theme::dim()),
                ]))
            })
            .collect();
        let empty = items.is_empty();
        StatefulWidget::render(
            List::new(items).highlight_style(theme::selected()),
            list,
            buf,
            &mut self.list,
        );
        if empty {
            Line::from(Span::styled(" nothing matches", theme::dim())).render(list, buf);
        }
    }
}

/// Lower is better; `None` when the query's letters are not all in the label, in order.
pub fn score(query: &str, label: &str) -> Option<usize> {
    if query.is_empty() {
        return Some(0);
    }
    if let Some(at) = label.find(query) {
        return Some(at);
    }
    let mut rest = label.chars();
    let mut gaps = 0;
    for q in query.chars() {
        loop {
            match rest.next() {
                Some(c) if c == q => break,
                Some(_) => gaps += 1,
                None => return None,
            }
        }
    }
    Some(100 + gaps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker() -> Picker<u8> {
        let choices = ["name", "email", "external_id", "identity:email"]
            .iter()
            .enumerate()
            .map(|(i, l)| Choice {
                label: (*l).to_owned(),
                note: String::new(),
                value: u8::try_from(i).unwrap(),
            })
            .collect();
        Picker::new("t", choices)
    }

    #[test]
    fn typing_narrows_substring_first_then_letters_in_order() {
        let mut p = picker();
        for c in "mail".chars() {
            p.update(&Action::Char(c));
        }
        assert_eq!(p.shown, vec![1, 3]);
        p.update(&Action::Down);
        assert_eq!(p.update(&Action::Enter), Some(Picked::Chosen(3)));
        let mut p = picker();
        for c in "eid".chars() {
            p.update(&Action::Char(c));
        }
        assert_eq!(p.shown, vec![2]);
        assert_eq!(p.update(&Action::Back), Some(Picked::Cancelled));
    }

    #[test]
    fn nothing_matching_chooses_nothing() {
        let mut p = picker();
        p.update(&Action::Char('z'));
        assert_eq!(p.update(&Action::Enter), None);
    }
}
