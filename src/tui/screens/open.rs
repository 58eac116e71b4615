//! Open: a file browser over folders and supported worksheets, recent files first.

use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Gauge, List, ListItem, ListState, StatefulWidget, Widget,
};

use crate::tui::action::Action;
use crate::tui::strings;
use crate::tui::widgets::{centered, fit, theme};

/// One line of the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub kind: EntryKind,
    /// File size in bytes (0 for folders).
    pub bytes: u64,
    /// What a run entry is: its file and how far it got.
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// An interrupted import to resume (its run folder).
    Run,
    Recent,
    Parent,
    Folder,
    File,
}

/// A file being loaded in the background.
#[derive(Debug, Clone, PartialEq)]
pub struct Loading {
    pub path: PathBuf,
    pub rows: u64,
    /// Rows expected, when the file says.
    pub expected: Option<u64>,
}

/// The browser: a folder's entries and which one is selected.
#[derive(Debug, Clone, Default)]
pub struct OpenState {
    pub dir: PathBuf,
    pub entries: Vec<Entry>,
    pub list: ListState,
    pub loading: Option<Loading>,
}

/// What the browser asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenOutcome {
    List(PathBuf),
    Open(PathBuf),
    /// Continue the interrupted run in this folder.
    Resume(PathBuf),
    Cancel,
}

impl OpenState {
    pub fn new(dir: PathBuf, entries: Vec<Entry>) -> OpenState {
        let mut list = ListState::default();
        list.select((!entries.is_empty()).then_some(0));
        OpenState {
            dir,
            entries,
            list,
            loading: None,
        }
    }

    fn selected(&self) -> Option<&Entry> {
        self.list.selected().and_then(|i| self.entries.get(i))
    }

    pub fn update(&mut self, action: &Action) -> Option<OpenOutcome> {
        if self.loading.is_some() {
            return (*action == Action::Back).then_some(OpenOutcome::Cancel);
        }
        let last = self.entries.len().saturating_sub(1);
        let at = self.list.selected().unwrap_or(0);
        match action {
            Action::Up | Action::ScrollUp => self.list.select(Some(at.saturating_sub(1))),
            Action::Down | Action::ScrollDown => self.list.select(Some((at + 1).min(last))),
            Action::PageUp => self.list.select(Some(at.saturating_sub(10))),
            Action::PageDown => self.list.select(Some((at + 10).min(last))),
            Action::Home => self.list.select(Some(0)),
            Action::End => self.list.select(Some(last)),
            Action::Parent => {
                return self
                    .dir
                    .parent()
                    .map(|p| OpenOutcome::List(p.to_path_buf()));
            }
            Action::Enter => {
                return self.selected().map(|e| match e.kind {
                    EntryKind::Parent | EntryKind::Folder => OpenOutcome::List(e.path.clone()),
                    EntryKind::Recent | EntryKind::File => OpenOutcome::Open(e.path.clone()),
                    EntryKind::Run => OpenOutcome::Resume(e.path.clone()),
                });
            }
            _ => {}
        }
        None
    }

    pub fn render(&mut self, area: Rect, buf: &mut Buffer) {
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .title(strings::OPEN_TITLE)
            .title(
                Line::from(Span::styled(
                    format!(" {} ", self.dir.display()),
                    theme::dim(),
                ))
                .right_aligned(),
            );
        let inner = block.inner(area);
        block.render(area, buf);
        if self.entries.is_empty() {
            Line::from(Span::styled(strings::OPEN_EMPTY, theme::dim())).render(inner, buf);
        }
        let width = inner.width as usize;
        let items: Vec<ListItem<'_>> = self
            .entries
            .iter()
            .map(|e| ListItem::new(entry_line(e, &self.dir, width)))
            .collect();
        StatefulWidget::render(
            List::new(items).highlight_style(theme::selected()),
            inner,
            buf,
            &mut self.list,
        );
        if let Some(loading) = &self.loading {
            render_loading(loading, area, buf);
        }
    }
}

fn entry_line<'a>(e: &Entry, dir: &Path, width: usize) -> Line<'a> {
    let name = match e.kind {
        EntryKind::Parent => "..".to_owned(),
        EntryKind::Run => e.note.clone(),
        EntryKind::Recent => e.path.display().to_string(),
        _ => e
            .path
            .strip_prefix(dir)
            .unwrap_or(&e.path)
            .display()
            .to_string(),
    };
    let (icon, style) = match e.kind {
        EntryKind::Recent => ("★ ", Style::new().fg(theme::ACCENT)),
        EntryKind::Run => ("⟳ ", Style::new().fg(theme::WARNING)),
        EntryKind::Parent | EntryKind::Folder => ("▸ ", Style::new().bold()),
        EntryKind::File => ("  ", Style::new()),
    };
    let size = if matches!(
        e.kind,
        EntryKind::Folder | EntryKind::Parent | EntryKind::Run
    ) {
        String::new()
    } else {
        human_bytes(e.bytes)
    };
    let tag = match e.kind {
        EntryKind::Recent => strings::OPEN_RECENT,
        EntryKind::Run => strings::OPEN_RESUME,
        _ => "",
    };
    let room = width.saturating_sub(2 + size.len() + tag.len() + 3);
    let name = fit(&name, room);
    let pad = room.saturating_sub(name.chars().count());
    Line::from(vec![
        Span::styled(icon, style),
        Span::styled(name, style),
        Span::raw(" ".repeat(pad + 1)),
        Span::styled(format!("{tag} {size} "), theme::dim()),
    ])
}

fn render_loading(loading: &Loading, area: Rect, buf: &mut Buffer) {
    let rect = centered(area, 60, 5);
    ratatui::widgets::Clear.render(rect, buf);
    let name = loading
        .path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(format!(" {} {} ", strings::LOADING, fit(&name, 40)))
        .title_bottom(Line::from(strings::LOADING_CANCEL).right_aligned());
    let label = format!("{} rows", loading.rows);
    let ratio = loading
        .expected
        .filter(|e| *e > 0)
        .map_or(0.0, |e| (loading.rows as f64 / e as f64).min(1.0));
    let [_, bar, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(block.inner(rect));
    block.render(rect, buf);
    Gauge::default()
        .ratio(ratio)
        .label(label)
        .gauge_style(Style::new().fg(theme::ACCENT))
        .render(bar, buf);
}

/// `18.3 KB`, `4.2 MB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Lists a folder: parent, sub-folders, supported files; recent files first. Hidden entries
/// (dot files) are left out.
pub fn list_dir(dir: &Path, recent: &[PathBuf], runs: Vec<Entry>) -> std::io::Result<Vec<Entry>> {
    let mut entries = runs;
    entries.extend(recent.iter().filter_map(|p| {
        std::fs::metadata(p).ok().map(|m| Entry {
            path: p.clone(),
            kind: EntryKind::Recent,
            bytes: m.len(),
            note: String::new(),
        })
    }));
    if let Some(parent) = dir.parent() {
        entries.push(Entry {
            path: parent.to_path_buf(),
            kind: EntryKind::Parent,
            bytes: 0,
            note: String::new(),
        });
    }
    let mut folders = Vec::new();
    let mut files = Vec::new();
    for item in std::fs::read_dir(dir)?.filter_map(Result::ok) {
        let path = item.path();
        if item.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            folders.push(Entry {
                path,
                kind: EntryKind::Folder,
                bytes: 0,
                note: String::new(),
            });
        } else if crate::sheet::Format::from_path(&path).is_some() {
            files.push(Entry {
                path,
                kind: EntryKind::File,
                bytes: meta.len(),
                note: String::new(),
            });
        }
    }
    let by_name = |a: &Entry, b: &Entry| {
        a.path
            .to_string_lossy()
            .to_lowercase()
            .cmp(&b.path.to_string_lossy().to_lowercase())
    };
    folders.sort_by(by_name);
    files.sort_by(by_name);
    entries.extend(folders);
    entries.extend(files);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> OpenState {
        let dir = PathBuf::from("/data");
        let entries = vec![
            Entry {
                path: "/data/old/users.csv".into(),
                kind: EntryKind::Recent,
                bytes: 2048,
                note: String::new(),
            },
            Entry {
                path: "/".into(),
                kind: EntryKind::Parent,
                bytes: 0,
                note: String::new(),
            },
            Entry {
                path: "/data/exports".into(),
                kind: EntryKind::Folder,
                bytes: 0,
                note: String::new(),
            },
            Entry {
                path: "/data/users.xlsx".into(),
                kind: EntryKind::File,
                bytes: 18_708,
                note: String::new(),
            },
        ];
        OpenState::new(dir, entries)
    }

    #[test]
    fn enter_opens_files_and_lists_folders() {
        let mut s = state();
        assert_eq!(
            s.update(&Action::Enter),
            Some(OpenOutcome::Open("/data/old/users.csv".into()))
        );
        s.update(&Action::Down);
        s.update(&Action::Down);
        assert_eq!(
            s.update(&Action::Enter),
            Some(OpenOutcome::List("/data/exports".into()))
        );
        s.update(&Action::End);
        assert_eq!(
            s.update(&Action::Enter),
            Some(OpenOutcome::Open("/data/users.xlsx".into()))
        );
        assert_eq!(
            s.update(&Action::Parent),
            Some(OpenOutcome::List("/".into()))
        );
    }

    #[test]
    fn while_loading_only_cancel_works() {
        let mut s = state();
        s.loading = Some(Loading {
            path: "/data/users.xlsx".into(),
            rows: 10,
            expected: None,
        });
        assert_eq!(s.update(&Action::Enter), None);
        assert_eq!(s.update(&Action::Back), Some(OpenOutcome::Cancel));
    }

    #[test]
    fn lists_supported_files_after_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for f in ["b.xlsx", "a.csv", "notes.pdf", ".hidden.csv"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let entries = list_dir(dir.path(), &[], Vec::new()).unwrap();
        let kinds: Vec<(EntryKind, String)> = entries
            .iter()
            .map(|e| {
                (
                    e.kind,
                    e.path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                )
            })
            .skip(1)
            .collect();
        assert_eq!(
            kinds,
            [
                (EntryKind::Folder, "sub".into()),
                (EntryKind::File, "a.csv".into()),
                (EntryKind::File, "b.xlsx".into())
            ]
        );
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(18_708), "18.3 KB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MB");
    }
}
