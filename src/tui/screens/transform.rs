//! The transform editor of one column: switches and text fields in a popup.

use std::collections::BTreeMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use crate::session::check::{DateOrder, Transform};
use crate::tui::action::Action;
use crate::tui::strings;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::{cell, centered, theme};

/// The editor's rows, top to bottom.
/// Columns a value takes in the editor.
const VALUE_WIDTH: usize = 16;

const FIELDS: [&str; 7] = [
    "trim",
    "lowercase",
    "date",
    "split",
    "pad",
    "default",
    "map",
];

#[derive(Debug, Clone, PartialEq)]
pub enum TransformOutcome {
    Apply(Transform),
    Cancel,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransformEditor {
    pub header: String,
    pub transform: Transform,
    /// Row with the keys.
    pub row: usize,
    pub default: TextInput,
    /// Digits to zero-pad whole numbers to.
    pub pad: TextInput,
    /// `Gold=gold; Silver=silver`.
    pub map: TextInput,
    /// Why the map text could not be read.
    pub error: Option<String>,
}

impl TransformEditor {
    pub fn new(header: String, transform: Transform) -> TransformEditor {
        let map = transform
            .value_map
            .iter()
            .map(|(from, to)| format!("{from}={to}"))
            .collect::<Vec<_>>()
            .join("; ");
        TransformEditor {
            header,
            default: TextInput::new(transform.default.as_deref().unwrap_or_default()),
            pad: TextInput::new(&transform.pad.map(|p| p.to_string()).unwrap_or_default()),
            map: TextInput::new(&map),
            transform,
            row: 0,
            error: None,
        }
    }

    pub fn update(&mut self, action: &Action) -> Option<TransformOutcome> {
        match action {
            Action::Back => return Some(TransformOutcome::Cancel),
            Action::Enter => return self.finish(),
            Action::Up => self.row = self.row.saturating_sub(1),
            Action::Down | Action::NextPane => self.row = (self.row + 1).min(FIELDS.len() - 1),
            action if self.row >= 4 && TextInput::takes(action) => self.type_into(action),
            Action::Left => self.cycle(false),
            Action::Right | Action::Char(' ') if self.row < 4 => self.cycle(true),
            _ => {}
        }
        None
    }

    fn type_into(&mut self, action: &Action) {
        match (self.row, action) {
            (4, Action::Char(c)) if !c.is_ascii_digit() => {}
            (4, action) => {
                self.pad.handle(action);
            }
            (5, action) => {
                self.default.handle(action);
            }
            (_, action) => {
                self.map.handle(action);
            }
        }
    }

    fn finish(&mut self) -> Option<TransformOutcome> {
        let mut transform = self.transform.clone();
        let default = self.default.text.trim();
        transform.default = (!default.is_empty()).then(|| default.to_owned());
        transform.pad = self.pad.text.parse::<u8>().ok().filter(|p| *p > 0);
        match parse_map(&self.map.text) {
            Ok(map) => {
                transform.value_map = map;
                Some(TransformOutcome::Apply(transform))
            }
            Err(e) => {
                self.error = Some(e);
                self.row = 6;
                None
            }
        }
    }

    /// Steps a switch through its values: default, on, off (date: none, iso, dmy, mdy).
    fn cycle(&mut self, forward: bool) {
        let t = &mut self.transform;
        match self.row {
            0 => t.trim = next_switch(t.trim, forward),
            1 => t.lowercase = next_switch(t.lowercase, forward),
            2 => {
                let orders = [
                    None,
                    Some(DateOrder::Iso),
                    Some(DateOrder::Dmy),
                    Some(DateOrder::Mdy),
                ];
                let at = orders.iter().position(|o| *o == t.date).unwrap_or(0);
                let next = if forward {
                    at + 1
                } else {
                    at + orders.len() - 1
                };
                t.date = orders[next % orders.len()];
            }
            3 => t.split = next_switch(t.split, forward),
            _ => {}
        }
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        let height = if self.error.is_some() { 11 } else { 9 };
        let rect = centered(area, 70, height);
        Clear.render(rect, buf);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(Style::new().fg(theme::ACCENT))
            .title(Span::styled(
                format!(" {} '{}' ", strings::TRANSFORM_TITLE, self.header),
                theme::header(),
            ))
            .title_bottom(
                Line::from(Span::styled(strings::TRANSFORM_KEYS, theme::dim())).right_aligned(),
            );
        let t = &self.transform;
        let switch = |v: Option<bool>| match v {
            None => "default".to_owned(),
            Some(true) => "on".to_owned(),
            Some(false) => "off".to_owned(),
        };
        let date = match t.date {
            None => "no".to_owned(),
            Some(DateOrder::Iso) => "YYYY-MM-DD".to_owned(),
            Some(DateOrder::Dmy) => "DD/MM/YYYY".to_owned(),
            Some(DateOrder::Mdy) => "MM/DD/YYYY".to_owned(),
        };
        let text = |i: usize, input: &TextInput| {
            if i == self.row {
                input.spans(VALUE_WIDTH, None)
            } else {
                vec![Span::raw(cell(&input.text, VALUE_WIDTH))]
            }
        };
        let values = [
            vec![Span::raw(cell(&switch(t.trim), VALUE_WIDTH))],
            vec![Span::raw(cell(&switch(t.lowercase), VALUE_WIDTH))],
            vec![Span::raw(cell(&date, VALUE_WIDTH))],
            vec![Span::raw(cell(&switch(t.split), VALUE_WIDTH))],
            text(4, &self.pad),
            text(5, &self.default),
            text(6, &self.map),
        ];
        let notes = strings::TRANSFORM_NOTES;
        let mut lines: Vec<Line<'_>> = FIELDS
            .iter()
            .zip(values)
            .zip(notes)
            .enumerate()
            .map(|(i, ((name, value), note))| {
                let style = if i == self.row {
                    theme::selected()
                } else {
                    Style::new()
                };
                let arrows = if i < 4 { "‹ › " } else { "    " };
                let mut spans = vec![
                    Span::styled(format!(" {name:<10}"), style),
                    Span::styled(format!(" {arrows}"), style.bold()),
                ];
                let width: usize = value.iter().map(Span::width).sum();
                spans.extend(value.into_iter().map(|s| s.patch_style(style.bold())));
                spans.push(Span::raw(" ".repeat(VALUE_WIDTH.saturating_sub(width) + 1)));
                spans.push(Span::styled(note.to_owned(), theme::dim()));
                Line::from(spans)
            })
            .collect();
        if let Some(e) = &self.error {
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                format!(" {e}"),
                Style::new().fg(theme::ERROR),
            )));
        }
        Paragraph::new(lines).block(block).render(rect, buf);
    }
}

fn next_switch(value: Option<bool>, forward: bool) -> Option<bool> {
    let order = [None, Some(true), Some(false)];
    let at = order.iter().position(|v| *v == value).unwrap_or(0);
    let next = if forward {
        at + 1
    } else {
        at + order.len() - 1
    };
    order[next % order.len()]
}

/// `Gold=gold; Silver=silver` (`,` also separates) into the value map.
fn parse_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for pair in text
        .split([';', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (from, to) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{pair}' is not FROM=TO"))?;
        map.insert(from.trim().to_owned(), to.trim().to_owned());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_cycle_and_text_fields_type() {
        let mut e = TransformEditor::new("Plan".into(), Transform::default());
        e.update(&Action::Right);
        assert_eq!(e.transform.trim, Some(true));
        e.update(&Action::Left);
        e.update(&Action::Left);
        assert_eq!(e.transform.trim, Some(false));
        e.update(&Action::Down);
        e.update(&Action::Down);
        e.update(&Action::Right);
        e.update(&Action::Right);
        assert_eq!(e.transform.date, Some(DateOrder::Dmy));
        e.update(&Action::Down);
        e.update(&Action::Down);
        for c in "5x".chars() {
            e.update(&Action::Char(c));
        }
        e.update(&Action::Down);
        for c in "Gold".chars() {
            e.update(&Action::Char(c));
        }
        e.update(&Action::Down);
        for c in "Gold=gold, Silver = silver".chars() {
            e.update(&Action::Char(c));
        }
        let Some(TransformOutcome::Apply(t)) = e.update(&Action::Enter) else {
            panic!("applied")
        };
        assert_eq!(t.default.as_deref(), Some("Gold"));
        assert_eq!(t.value_map["Silver"], "silver");
        assert_eq!(t.trim, Some(false));
        assert_eq!(t.pad, Some(5));
    }

    #[test]
    fn an_unreadable_map_keeps_the_editor_open() {
        let mut e = TransformEditor::new("Plan".into(), Transform::default());
        e.row = 6;
        for c in "Gold".chars() {
            e.update(&Action::Char(c));
        }
        assert_eq!(e.update(&Action::Enter), None);
        assert_eq!(e.error.as_deref(), Some("'Gold' is not FROM=TO"));
        assert_eq!(e.update(&Action::Back), Some(TransformOutcome::Cancel));
    }

    #[test]
    fn a_text_field_moves_its_cursor_with_the_arrows() {
        let mut e = TransformEditor::new("Plan".into(), Transform::default());
        e.row = 6;
        for c in "Gold=gold".chars() {
            e.update(&Action::Char(c));
        }
        for _ in 0.."=gold".len() {
            e.update(&Action::Left);
        }
        e.update(&Action::Char('!'));
        assert_eq!(e.map.text, "Gold!=gold");
        assert_eq!(e.transform, Transform::default(), "no switch moved");
    }
}
