//! Shared pieces: the step bar, the key-hint bar, popups and the colour theme.

pub mod cursor;
pub mod input;
pub mod picker;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::keymap::{self, KeyContext};
use super::strings;

/// Colours with a meaning, used the same way on every screen.
pub mod theme {
    use ratatui::style::{Color, Modifier, Style};

    pub const ACCENT: Color = Color::Cyan;
    pub const ERROR: Color = Color::Red;
    pub const WARNING: Color = Color::Yellow;
    pub const OK: Color = Color::Green;
    pub const DIM: Color = Color::DarkGray;

    pub fn selected() -> Style {
        Style::new()
            .bg(Color::Blue)
            .fg(Color::White)
            .add_modifier(Modifier::BOLD)
    }
    pub fn header() -> Style {
        Style::new().fg(ACCENT).add_modifier(Modifier::BOLD)
    }
    pub fn dim() -> Style {
        Style::new().fg(DIM)
    }
}

/// The top line: app name, the wizard's steps with the current one lit, and the file.
pub fn step_bar(current: usize, file: Option<&str>, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![
        Span::styled(
            format!(" {} ", strings::APP),
            Style::new().bold().reversed(),
        ),
        Span::raw(" "),
    ];
    // Too narrow for every name: steps away from the current one show their number only.
    let full: usize = strings::STEPS
        .iter()
        .map(|s| text_width(s) + 5)
        .sum::<usize>()
        + 12
        + file.map_or(0, |f| text_width(f) + 3);
    let compact = full > usize::from(area.width);
    for (i, step) in strings::STEPS.iter().enumerate() {
        let style = if i == current {
            Style::new()
                .fg(theme::ACCENT)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else if i < current {
            Style::new().fg(Color::Gray)
        } else {
            theme::dim()
        };
        if i > 0 {
            spans.push(Span::styled(" › ", theme::dim()));
        }
        let label = if compact && i.abs_diff(current) > 1 {
            (i + 1).to_string()
        } else {
            format!("{} {step}", i + 1)
        };
        spans.push(Span::styled(label, style));
    }
    if let Some(f) = file {
        spans.push(Span::styled(format!("   {f}"), theme::dim()));
    }
    Line::from(spans).render(area, buf);
}

/// The bottom line: the context's main keys, then help/back/quit.
pub fn hint_bar(context: KeyContext, area: Rect, buf: &mut Buffer) {
    let mut spans = Vec::new();
    for h in keymap::hints(context) {
        spans.push(Span::styled(
            format!(" {} ", h.keys),
            Style::new().fg(Color::Black).bg(Color::Gray),
        ));
        spans.push(Span::raw(format!(" {} ", h.does)));
    }
    Line::from(spans).render(area, buf);
}

/// A centred rectangle of at most `width` x `height` inside `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

/// How many rows `lines` take word-wrapped at `width`, as a wrapped `Paragraph` draws them.
pub fn wrapped_height(lines: &[Line<'_>], width: u16) -> u16 {
    let rows = Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width.max(1));
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// A bordered popup with a title, wrapped text and a key line at the bottom.
pub fn popup(
    area: Rect,
    buf: &mut Buffer,
    title: &str,
    lines: Vec<Line<'_>>,
    keys: &str,
    color: Color,
) {
    let width = 70.min(area.width);
    // The text and the two borders (the keys are on the bottom one).
    let height = wrapped_height(&lines, width.saturating_sub(2)).saturating_add(2);
    let rect = centered(area, width, height.max(4));
    Clear.render(rect, buf);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(color))
        .title(Span::styled(
            title.to_owned(),
            Style::new().fg(color).bold(),
        ))
        .title_bottom(Line::from(Span::styled(format!(" {keys} "), theme::dim())).right_aligned());
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block)
        .render(rect, buf);
}

/// The help overlay: the keys of the current screen, then the common ones.
pub fn help_overlay(context: KeyContext, area: Rect, buf: &mut Buffer) {
    let lines: Vec<Line<'_>> = keymap::help(context)
        .iter()
        .chain(keymap::common_help())
        .map(|h| {
            Line::from(vec![
                Span::styled(format!("{:>20}  ", h.keys), theme::header()),
                Span::raw(h.does),
            ])
        })
        .collect();
    popup(
        area,
        buf,
        strings::HELP_TITLE,
        lines,
        strings::HELP_CLOSE,
        theme::ACCENT,
    );
}

/// Display columns `s` takes: CJK and most emoji take two, combining marks none.
pub fn text_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts `s` to `max` display columns with `…`, flattening line breaks (see
/// [`crate::text::printable`]). Wide characters count two columns, so cut text never spills
/// into the next column.
pub fn fit(s: &str, max: usize) -> String {
    let s = crate::text::printable(s);
    if text_width(&s) <= max {
        return s;
    }
    let room = max.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > room {
            break;
        }
        out.push(c);
        used += w;
    }
    // A sequence can be wider than its characters (an emoji with its presentation selector).
    while text_width(&out) > room {
        out.pop();
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// `s` cut to `width` display columns and padded to exactly that many: a cell of a table
/// drawn as text, which keeps every column after it in line whatever the script.
pub fn cell(s: &str, width: usize) -> String {
    let mut out = fit(s, width);
    let pad = width.saturating_sub(text_width(&out));
    out.extend(std::iter::repeat_n(' ', pad));
    out
}

/// `s` right-aligned in `width` display columns (cut to fit).
pub fn cell_right(s: &str, width: usize) -> String {
    let out = fit(s, width);
    let pad = width.saturating_sub(text_width(&out));
    format!("{}{out}", " ".repeat(pad))
}

/// A screen drawn into a test terminal of `width` x `height`, for snapshots.
#[cfg(test)]
pub fn drawn(
    width: u16,
    height: u16,
    render: impl FnOnce(Rect, &mut Buffer),
) -> ratatui::Terminal<ratatui::backend::TestBackend> {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .expect("a test terminal");
    terminal
        .draw(|f| render(f.area(), f.buffer_mut()))
        .expect("drawn");
    terminal
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::ascii("Ana Silva", 6, "Ana S…")]
    #[case::fits("Ana", 6, "Ana")]
    #[case::cjk("山田太郎さん", 7, "山田太…")]
    #[case::cjk_odd_room("山田太郎さん", 6, "山田…")]
    #[case::emoji("🎉🎉🎉🎉", 5, "🎉🎉…")]
    #[case::emoji_selector("❤\u{fe0f}❤\u{fe0f}❤\u{fe0f}", 5, "❤\u{fe0f}❤\u{fe0f}…")]
    #[case::combining("Zoe\u{301} Zoe\u{301}", 5, "Zoe\u{301} …")]
    #[case::line_break("a\nb", 5, "a⏎b")]
    fn fit_cuts_by_display_width(#[case] s: &str, #[case] max: usize, #[case] want: &str) {
        let got = fit(s, max);
        assert_eq!(got, want);
        assert!(text_width(&got) <= max, "{got:?} is wider than {max}");
    }

    #[rstest]
    #[case("東京", 6)]
    #[case("Zoe\u{301}", 6)]
    #[case("🎉 party", 6)]
    #[case("plain", 6)]
    #[case("", 3)]
    fn cells_are_exactly_their_width(#[case] s: &str, #[case] width: usize) {
        assert_eq!(text_width(&cell(s, width)), width, "{s:?}");
        assert_eq!(text_width(&cell_right(s, width)), width, "{s:?}");
    }
}
