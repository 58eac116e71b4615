//! Sheet: the workbook's sheets with sizes, a grid of the first rows, the header row.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Cell as TableCell, List, ListItem, ListState, Paragraph, Row as TableRow,
    StatefulWidget, Table, Widget,
};

use crate::session::source::column_letter;
use crate::session::source::{HeaderChoice, Row, SheetInfo, SheetKind, Visibility};
use crate::tui::action::Action;
use crate::tui::strings;
use crate::tui::widgets::{cell, fit, text_width, theme};

/// Widest a grid column gets, in display columns.
const MAX_COLUMN_WIDTH: usize = 18;
/// The row-number column: `12345 header`.
const ROW_LABEL_WIDTH: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Sheets,
    Grid,
}

/// The sheets, the chosen one's first rows and the header row.
#[derive(Debug, Clone, Default)]
pub struct SheetState {
    pub sheets: Vec<SheetInfo>,
    pub list: ListState,
    /// First non-blank rows of the selected sheet, from column A.
    pub preview: Vec<Row>,
    /// Spreadsheet row of the header (detected, then moved by the operator).
    pub header_row: Option<u32>,
    /// Whether the operator moved the header away from the detected one.
    pub header_moved: bool,
    /// First grid column shown.
    pub column_offset: usize,
    pub focus: Pane,
    /// A preview is being read.
    pub loading: bool,
    /// The table is being read: rows so far.
    pub reading: Option<u64>,
    /// How much of the file that read has got through, when the file says (CSV and text).
    pub reading_percent: Option<u8>,
    /// What decoding a CSV found, and where: shown under the sheets and the grid.
    pub notes: Vec<String>,
}

/// What the sheet step asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetOutcome {
    /// Read the first rows of another sheet.
    Preview(usize),
    /// Load the table with this sheet and header.
    Load { sheet: usize, header: HeaderChoice },
}

impl SheetState {
    /// A background answer while this screen shows: a sheet's first rows (dropped when
    /// another sheet is selected since), how far the load has gone.
    pub fn on_event(&mut self, event: crate::tui::app::AppEvent) {
        match event {
            crate::tui::app::AppEvent::Previewed {
                sheet,
                rows,
                header_row,
            } if self.selected() == sheet => self.show_preview(rows, header_row),
            crate::tui::app::AppEvent::Progress { rows, percent } if self.reading.is_some() => {
                self.reading = Some(rows);
                self.reading_percent = percent;
            }
            _ => {}
        }
    }

    pub fn new(sheets: Vec<SheetInfo>, selected: usize) -> SheetState {
        let mut list = ListState::default();
        list.select(Some(selected));
        SheetState {
            sheets,
            list,
            ..SheetState::default()
        }
    }

    pub fn selected(&self) -> usize {
        self.list.selected().unwrap_or(0)
    }

    /// A sheet's preview arrived, with its detected header row.
    pub fn show_preview(&mut self, rows: Vec<Row>, header_row: Option<u32>) {
        self.preview = rows;
        self.header_row = header_row;
        self.header_moved = false;
        self.column_offset = 0;
        self.loading = false;
    }

    pub fn update(&mut self, action: &Action) -> Option<SheetOutcome> {
        match action {
            Action::Up | Action::ScrollUp if self.focus == Pane::Sheets => {
                return self.select(self.selected().saturating_sub(1));
            }
            Action::Down | Action::ScrollDown if self.focus == Pane::Sheets => {
                return self.select(self.selected() + 1);
            }
            Action::Up | Action::HeaderUp => self.move_header(-1),
            Action::Down | Action::HeaderDown => self.move_header(1),
            Action::Left => self.column_offset = self.column_offset.saturating_sub(1),
            Action::Right => {
                self.column_offset = (self.column_offset + 1).min(self.width().saturating_sub(1))
            }
            Action::NextPane => {
                self.focus = if self.focus == Pane::Sheets {
                    Pane::Grid
                } else {
                    Pane::Sheets
                };
            }
            Action::Enter
                if !self.loading && self.reading.is_none() && !self.preview.is_empty() =>
            {
                let header = match (self.header_moved, self.header_row) {
                    (true, Some(row)) => HeaderChoice::Row(row),
                    _ => HeaderChoice::Auto,
                };
                return Some(SheetOutcome::Load {
                    sheet: self.selected(),
                    header,
                });
            }
            _ => {}
        }
        None
    }

    fn select(&mut self, index: usize) -> Option<SheetOutcome> {
        let index = index.min(self.sheets.len().saturating_sub(1));
        if index == self.selected() {
            return None;
        }
        self.list.select(Some(index));
        self.loading = true;
        self.preview.clear();
        Some(SheetOutcome::Preview(index))
    }

    /// Moves the header to the previous or next non-blank row of the preview.
    fn move_header(&mut self, step: isize) {
        let Some(current) = self.header_row else {
            return;
        };
        let at = self
            .preview
            .iter()
            .position(|r| r.number == current)
            .unwrap_or(0);
        let next = at
            .checked_add_signed(step)
            .filter(|i| *i < self.preview.len())
            .unwrap_or(at);
        if let Some(row) = self.preview.get(next) {
            self.header_row = Some(row.number);
            self.header_moved = true;
        }
    }

    fn width(&self) -> usize {
        self.preview
            .iter()
            .map(|r| r.cells.len())
            .max()
            .unwrap_or(0)
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer) {
        let shown = u16::try_from(self.notes.len().min(3)).unwrap_or(3);
        let [area, notes] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(shown)]).areas(area);
        let lines: Vec<Line<'_>> = self
            .notes
            .iter()
            .take(3)
            .map(|n| {
                Line::from(format!(
                    " ⚠ {}",
                    crate::text::shorten(n, usize::from(area.width))
                ))
            })
            .collect();
        Paragraph::new(lines)
            .style(Style::new().fg(theme::WARNING))
            .render(notes, buf);
        // A narrow terminal gives the grid the room: it needs two columns to be useful.
        let left = if area.width < 100 { 24 } else { 34 };
        let [left, right] =
            Layout::horizontal([Constraint::Length(left), Constraint::Min(20)]).areas(area);
        self.render_sheets(left, buf);
        self.render_grid(right, buf);
    }

    fn render_sheets(&mut self, area: Rect, buf: &mut Buffer) {
        let block = pane_block(strings::SHEETS_TITLE, self.focus == Pane::Sheets);
        let width = block.inner(area).width as usize;
        let items: Vec<ListItem<'_>> = self
            .sheets
            .iter()
            .map(|s| ListItem::new(sheet_line(s, width)))
            .collect();
        StatefulWidget::render(
            List::new(items)
                .block(block)
                .highlight_style(theme::selected()),
            area,
            buf,
            &mut self.list,
        );
    }

    fn render_grid(&self, area: Rect, buf: &mut Buffer) {
        let title = match (self.reading, self.header_row) {
            (Some(rows), _) => format!(
                "{}· {}… {rows} rows{} ({}) ",
                strings::GRID_TITLE,
                strings::LOADING,
                self.reading_percent
                    .map(|p| format!(", {p}% of the file"))
                    .unwrap_or_default(),
                strings::LOADING_CANCEL
            ),
            (None, Some(row)) => format!("{}· header on row {row} ", strings::GRID_TITLE),
            (None, None) => strings::GRID_TITLE.to_owned(),
        };
        let block = pane_block(&title, self.focus == Pane::Grid);
        let inner = block.inner(area);
        block.render(area, buf);
        if self.loading {
            Line::from(Span::styled(format!("{}…", strings::LOADING), theme::dim()))
                .render(inner, buf);
            return;
        }
        let (columns, widths) =
            self.visible_columns(usize::from(inner.width).saturating_sub(ROW_LABEL_WIDTH + 1));
        let header = TableRow::new(
            std::iter::once(TableCell::from("row"))
                .chain(columns.iter().map(|&c| TableCell::from(column_letter(c)))),
        )
        .style(theme::dim());
        let rows = self.preview.iter().map(|row| {
            let is_header = Some(row.number) == self.header_row;
            let above = self.header_row.is_some_and(|h| row.number < h);
            let style = if is_header {
                theme::header().reversed()
            } else if above {
                theme::dim()
            } else {
                Style::new()
            };
            let number = if is_header {
                format!("{} {}", row.number, strings::HEADER_MARK)
            } else {
                row.number.to_string()
            };
            let cells = columns.iter().zip(&widths).map(|(&c, &w)| {
                let text = row
                    .cells
                    .get(c)
                    .map(crate::session::source::Cell::display)
                    .unwrap_or_default();
                TableCell::from(fit(&text, w))
            });
            TableRow::new(std::iter::once(TableCell::from(number)).chain(cells)).style(style)
        });
        let constraints = std::iter::once(Constraint::Length(ROW_LABEL_WIDTH as u16)).chain(
            widths
                .iter()
                .map(|&w| Constraint::Length(u16::try_from(w).unwrap_or(1))),
        );
        Widget::render(
            Table::new(rows, constraints)
                .header(header)
                .column_spacing(1),
            inner,
            buf,
        );
    }

    /// The columns from the scroll offset that fit in `room` characters, with their widths.
    fn visible_columns(&self, room: usize) -> (Vec<usize>, Vec<usize>) {
        let mut used = 0;
        let mut columns = Vec::new();
        let mut widths = Vec::new();
        for col in self.column_offset..self.width() {
            let w = self.column_width(col);
            if used + w > room && !columns.is_empty() {
                break;
            }
            used += w + 1;
            columns.push(col);
            widths.push(w.min(room));
        }
        (columns, widths)
    }

    fn column_width(&self, col: usize) -> usize {
        let widest = self
            .preview
            .iter()
            .filter_map(|r| r.cells.get(col))
            .map(|c| text_width(&crate::text::printable(&c.display())))
            .max()
            .unwrap_or(0);
        widest.clamp(3, MAX_COLUMN_WIDTH)
    }
}

fn pane_block(title: &str, focused: bool) -> Block<'_> {
    let style = if focused {
        Style::new().fg(theme::ACCENT)
    } else {
        theme::dim()
    };
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(style)
        .title(title)
}

fn sheet_line(s: &SheetInfo, width: usize) -> Line<'static> {
    let size = match (s.kind, s.size) {
        (SheetKind::Worksheet, Some((rows, cols))) => format!("{rows}×{cols}"),
        (SheetKind::Worksheet, None) => strings::SIZE_UNKNOWN.to_owned(),
        _ => strings::CHART.to_owned(),
    };
    let mark = match s.visibility {
        Visibility::Visible => "",
        Visibility::Hidden => strings::HIDDEN,
        Visibility::VeryHidden => strings::VERY_HIDDEN,
    };
    let note = if mark.is_empty() {
        size
    } else {
        format!("{mark} {size}")
    };
    let room = width.saturating_sub(text_width(&note) + 1);
    let name = cell(&s.name, room);
    let style = if s.visibility == Visibility::Visible && s.kind == SheetKind::Worksheet {
        Style::new()
    } else {
        theme::dim()
    };
    Line::from(vec![
        Span::styled(name, style),
        Span::raw(" "),
        Span::styled(note, theme::dim()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::source::Cell;

    fn info(name: &str) -> SheetInfo {
        SheetInfo {
            name: name.into(),
            visibility: Visibility::Visible,
            kind: SheetKind::Worksheet,
            size: Some((10, 3)),
        }
    }

    fn rows() -> Vec<Row> {
        [1, 3, 4, 5]
            .iter()
            .map(|&n| Row {
                number: n,
                cells: vec![Cell::Text(format!("r{n}")), Cell::Int(i64::from(n))],
            })
            .collect()
    }

    #[test]
    fn header_moves_over_non_blank_rows() {
        let mut s = SheetState::new(vec![info("Users")], 0);
        s.show_preview(rows(), Some(3));
        s.update(&Action::HeaderUp);
        assert_eq!(s.header_row, Some(1));
        s.update(&Action::HeaderUp);
        assert_eq!(s.header_row, Some(1), "stops at the first row");
        s.update(&Action::HeaderDown);
        s.update(&Action::HeaderDown);
        assert_eq!(s.header_row, Some(4));
        assert_eq!(
            s.update(&Action::Enter),
            Some(SheetOutcome::Load {
                sheet: 0,
                header: HeaderChoice::Row(4)
            })
        );
    }

    #[test]
    fn detected_header_is_left_to_detection() {
        let mut s = SheetState::new(vec![info("Users")], 0);
        s.show_preview(rows(), Some(3));
        assert_eq!(
            s.update(&Action::Enter),
            Some(SheetOutcome::Load {
                sheet: 0,
                header: HeaderChoice::Auto
            })
        );
    }

    #[test]
    fn choosing_another_sheet_asks_for_its_preview() {
        let mut s = SheetState::new(vec![info("Users"), info("Lists")], 0);
        s.show_preview(rows(), Some(1));
        assert_eq!(s.update(&Action::Down), Some(SheetOutcome::Preview(1)));
        assert!(s.loading && s.preview.is_empty());
        assert_eq!(
            s.update(&Action::Enter),
            None,
            "no table while its rows are loading"
        );
        assert_eq!(s.update(&Action::Down), None, "already the last sheet");
    }

    #[test]
    fn sheet_grid_with_wide_characters_80x24() {
        let text = |t: &str| Cell::Text(t.into());
        let sheets = vec![SheetInfo {
            name: "顧客一覧 🎌".into(),
            visibility: Visibility::Visible,
            kind: SheetKind::Worksheet,
            size: Some((4, 4)),
        }];
        let mut s = SheetState::new(sheets, 0);
        s.show_preview(
            vec![
                Row {
                    number: 1,
                    cells: vec![text("氏名"), text("メール"), text("メモ"), text("n")],
                },
                Row {
                    number: 2,
                    cells: vec![
                        text("山田太郎"),
                        text("taro@example.jp"),
                        text("🎉🎉 VIP 顧客メモ：請求書は毎月送付"),
                        Cell::Int(1),
                    ],
                },
                Row {
                    number: 3,
                    cells: vec![
                        text("Zoe\u{301}"),
                        text("zoe@example.com"),
                        text("café ☕"),
                        Cell::Int(22),
                    ],
                },
            ],
            Some(1),
        );
        let terminal = crate::tui::widgets::drawn(80, 24, |area, buf| s.render(area, buf));
        insta::assert_snapshot!("sheet_wide_80x24", terminal.backend());
        s.update(&Action::Right);
        let terminal = crate::tui::widgets::drawn(80, 24, |area, buf| s.render(area, buf));
        insta::assert_snapshot!("sheet_wide_scrolled_80x24", terminal.backend());
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    #[test]
    fn sheet_screen() {
        insta::assert_snapshot!(frame(&mut sheet_app(), 100, 30).backend());
        insta::assert_snapshot!(
            "sheet_screen_80x24",
            frame(&mut sheet_app(), 80, 24).backend()
        );
    }

    #[test]
    fn sheet_screen_says_what_decoding_a_csv_found() {
        let mut app = sheet_app();
        if let Screen::Sheet(state) = &mut app.screen {
            state.notes = vec![
                "row 12, byte 431: 1 byte that is not UTF-8 (shown as �); the rest of the file \
                 is UTF-8, so it is read as UTF-8"
                    .into(),
            ];
        }
        insta::assert_snapshot!(
            "sheet_screen_csv_notes_80x24",
            frame(&mut app, 80, 24).backend()
        );
    }
}
