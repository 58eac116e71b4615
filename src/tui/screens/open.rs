//! Open: a file browser over folders and supported worksheets, recent files first.

use std::path::{Component, Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Gauge, List, ListItem, ListState, StatefulWidget, Widget,
};

use crate::tui::action::Action;
use crate::tui::strings;
use crate::tui::widgets::input::TextInput;
use crate::tui::widgets::picker::score;
use crate::tui::widgets::{cell, centered, fit, text_width, theme};

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

/// The browser: a folder's entries, what is typed over them, and which one is selected.
#[derive(Debug, Clone, Default)]
pub struct OpenState {
    pub dir: PathBuf,
    pub entries: Vec<Entry>,
    /// The selection, an index into [`OpenState::shown`].
    pub list: ListState,
    pub loading: Option<Loading>,
    /// Typed over the listing: a filter, or a path to go to (see [`is_path`]).
    pub query: TextInput,
    /// Where `~` leads.
    pub home: Option<PathBuf>,
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
    /// A background answer while this screen shows: how far a big file's load has gone.
    pub fn on_event(&mut self, event: crate::tui::app::AppEvent) {
        if let (crate::tui::app::AppEvent::Progress { rows, .. }, Some(loading)) =
            (event, &mut self.loading)
        {
            loading.rows = rows;
        }
    }

    pub fn new(dir: PathBuf, entries: Vec<Entry>) -> OpenState {
        let mut state = OpenState {
            dir,
            entries,
            home: directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()),
            ..OpenState::default()
        };
        state.list.select((!state.entries.is_empty()).then_some(0));
        state
    }

    /// Whether typed characters go to the filter (it holds text): `q`, `Backspace` and `Esc`
    /// edit it rather than quit, go up or go back.
    pub fn is_typing(&self) -> bool {
        !self.query.text.is_empty()
    }

    fn selected(&self) -> Option<&Entry> {
        let at = *self.shown().get(self.list.selected()?)?;
        self.entries.get(at)
    }

    /// A load failed or was cancelled: the browser comes back. When it was never listed (the
    /// file came from the command line) the folder to list, so the operator can choose.
    pub fn load_ended(&mut self) -> Option<PathBuf> {
        self.loading.take()?;
        self.entries.is_empty().then(|| self.dir.clone())
    }

    pub fn update(&mut self, action: &Action) -> Option<OpenOutcome> {
        if self.loading.is_some() {
            return (*action == Action::Back).then_some(OpenOutcome::Cancel);
        }
        let last = self.shown().len().saturating_sub(1);
        let at = self.list.selected().unwrap_or(0);
        match action {
            Action::Up | Action::ScrollUp => self.list.select(Some(at.saturating_sub(1))),
            Action::Down | Action::ScrollDown => self.list.select(Some((at + 1).min(last))),
            Action::PageUp => self.list.select(Some(at.saturating_sub(10))),
            Action::PageDown => self.list.select(Some((at + 10).min(last))),
            Action::Home if !self.is_typing() => self.list.select(Some(0)),
            Action::End if !self.is_typing() => self.list.select(Some(last)),
            Action::Parent => {
                return self
                    .dir
                    .parent()
                    .map(|p| OpenOutcome::List(p.to_path_buf()));
            }
            Action::Back if self.is_typing() => {
                self.query = TextInput::default();
                self.refilter();
            }
            Action::Enter if is_path(&self.query.text) => {
                let path = self.resolve(self.query.text.trim());
                return Some(
                    if crate::session::source::Format::from_path(&path).is_some() {
                        OpenOutcome::Open(path)
                    } else {
                        OpenOutcome::List(path)
                    },
                );
            }
            Action::Enter => {
                return self.selected().map(|e| match e.kind {
                    EntryKind::Parent | EntryKind::Folder => OpenOutcome::List(e.path.clone()),
                    EntryKind::Recent | EntryKind::File => OpenOutcome::Open(e.path.clone()),
                    EntryKind::Run => OpenOutcome::Resume(e.path.clone()),
                });
            }
            // A space first would start a filter that filters nothing (and swallow `q`).
            Action::Char(' ') if !self.is_typing() => {}
            action if self.query.handle(action) => self.refilter(),
            _ => {}
        }
        None
    }

    /// The entries the filter keeps, with how closely each matches (lower is closer): those
    /// whose name holds the typed letters in order (`usx` finds `users.xlsx`), in listing
    /// order. A typed path filters nothing.
    fn matches(&self) -> Vec<(usize, usize)> {
        let query = self.query.text.trim().to_lowercase();
        if is_path(&query) || query.is_empty() {
            return (0..self.entries.len()).map(|i| (i, 0)).collect();
        }
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| score(&query, &name(e, &self.dir).to_lowercase()).map(|s| (i, s)))
            .collect()
    }

    /// Indexes of the entries shown, in listing order.
    pub fn shown(&self) -> Vec<usize> {
        self.matches().into_iter().map(|(i, _)| i).collect()
    }

    /// The filter changed: the closest match is selected.
    fn refilter(&mut self) {
        let best = self
            .matches()
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, s))| *s)
            .map(|(n, _)| n);
        self.list.select(best);
    }

    /// A typed path as a folder or file: `~` is the home folder, a relative path starts in
    /// the folder shown; `.` and `..` are worked out so the title reads plainly.
    fn resolve(&self, typed: &str) -> PathBuf {
        let home = self.home.clone().unwrap_or_default();
        let path = match typed.strip_prefix('~') {
            Some("") => home,
            Some(rest) if rest.starts_with(std::path::is_separator) => {
                home.join(rest.trim_start_matches(std::path::is_separator))
            }
            _ => self.dir.join(typed),
        };
        let mut tidy = PathBuf::new();
        for part in path.components() {
            match part {
                Component::CurDir => {}
                Component::ParentDir => {
                    if !tidy.pop() {
                        tidy.push(part);
                    }
                }
                other => tidy.push(other),
            }
        }
        tidy
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
        let [typed, list] =
            Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
        self.render_query(typed, buf);
        let width = usize::from(list.width);
        let shown = self.shown();
        if shown.is_empty() {
            let empty = if self.entries.is_empty() {
                strings::OPEN_EMPTY
            } else {
                strings::OPEN_NO_MATCH
            };
            Line::from(Span::styled(empty, theme::dim())).render(list, buf);
        }
        let items: Vec<ListItem<'_>> = shown
            .iter()
            .filter_map(|&i| self.entries.get(i))
            .map(|e| ListItem::new(entry_line(e, &self.dir, width)))
            .collect();
        StatefulWidget::render(
            List::new(items).highlight_style(theme::selected()),
            list,
            buf,
            &mut self.list,
        );
        if let Some(loading) = &self.loading {
            render_loading(loading, area, buf);
        }
    }

    /// The typed line: the filter or the path, with where Enter goes for a path.
    fn render_query(&self, area: Rect, buf: &mut Buffer) {
        let [line, _] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
        if !self.is_typing() {
            Line::from(vec![
                Span::styled("› ", theme::dim()),
                Span::styled(strings::OPEN_TYPE, theme::dim()),
            ])
            .render(line, buf);
            return;
        }
        let typed = self.query.text.trim();
        let note = if is_path(typed) {
            format!("  Enter goes to {}", self.resolve(typed).display())
        } else {
            format!("  {} of {}", self.shown().len(), self.entries.len())
        };
        let room = usize::from(line.width).saturating_sub(2 + text_width(&note).min(40));
        let mut spans = vec![Span::styled("› ", theme::header())];
        spans.extend(self.query.spans(room, None));
        spans.push(Span::styled(
            fit(&note, usize::from(line.width) / 2),
            theme::dim(),
        ));
        Line::from(spans).render(line, buf);
    }
}

/// Whether typed text is a path to go to rather than a filter: it starts at the root, the
/// home folder (`~`) or here (`.`, `..`), or names a folder.
pub fn is_path(typed: &str) -> bool {
    let typed = typed.trim();
    typed.starts_with(['~', '.']) || typed.contains(std::path::is_separator)
}

/// The name an entry is listed (and filtered) by.
fn name(e: &Entry, dir: &Path) -> String {
    match e.kind {
        EntryKind::Parent => "..".to_owned(),
        EntryKind::Run => e.note.clone(),
        EntryKind::Recent => e.path.display().to_string(),
        _ => e
            .path
            .strip_prefix(dir)
            .unwrap_or(&e.path)
            .display()
            .to_string(),
    }
}

fn entry_line<'a>(e: &Entry, dir: &Path, width: usize) -> Line<'a> {
    let name = name(e, dir);
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
    Line::from(vec![
        Span::styled(icon, style),
        Span::styled(cell(&name, room), style),
        Span::raw(" "),
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
        } else if crate::session::source::Format::from_path(&path).is_some() {
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

    fn typed(s: &mut OpenState, text: &str) {
        for c in text.chars() {
            s.update(&Action::Char(c));
        }
    }

    #[test]
    fn typing_filters_the_listing_and_enter_opens_the_closest() {
        let mut s = state();
        typed(&mut s, "usx");
        assert!(s.is_typing());
        assert_eq!(s.shown(), vec![3], "only users.xlsx has u, s, x in order");
        assert_eq!(
            s.update(&Action::Enter),
            Some(OpenOutcome::Open("/data/users.xlsx".into()))
        );
        s.update(&Action::Back);
        assert!(!s.is_typing(), "Esc clears the filter");
        assert_eq!(s.shown().len(), 4);
        typed(&mut s, "exp");
        assert_eq!(
            s.update(&Action::Enter),
            Some(OpenOutcome::List("/data/exports".into())),
            "Enter on a folder enters it"
        );
        typed(&mut s, "zzz");
        assert_eq!(s.update(&Action::Enter), None, "nothing matches");
        s.update(&Action::Back);
        typed(&mut s, " ");
        assert!(!s.is_typing(), "a space alone starts nothing");
    }

    #[rstest::rstest]
    #[case::absolute("/srv/exports/", OpenOutcome::List("/srv/exports".into()))]
    #[case::absolute_file("/srv/users.csv", OpenOutcome::Open("/srv/users.csv".into()))]
    #[case::relative("exports/2026", OpenOutcome::List("/data/exports/2026".into()))]
    #[case::dot("./users.xlsx", OpenOutcome::Open("/data/users.xlsx".into()))]
    #[case::up("../srv", OpenOutcome::List("/srv".into()))]
    #[case::home("~", OpenOutcome::List("/home/ops".into()))]
    #[case::in_home(
        "~/Downloads/crm.xlsx",
        OpenOutcome::Open("/home/ops/Downloads/crm.xlsx".into())
    )]
    fn a_typed_path_is_gone_to(#[case] path: &str, #[case] want: OpenOutcome) {
        let mut s = state();
        s.home = Some("/home/ops".into());
        typed(&mut s, path);
        assert_eq!(s.shown().len(), 4, "a path filters nothing");
        assert_eq!(s.update(&Action::Enter), Some(want));
    }

    #[test]
    fn a_failed_open_of_a_file_from_the_command_line_lists_the_folder() {
        let mut s = OpenState::new("/data".into(), Vec::new());
        s.loading = Some(Loading {
            path: "/data/broken.xlsx".into(),
            rows: 0,
            expected: None,
        });
        assert_eq!(s.load_ended(), Some(PathBuf::from("/data")));
        assert_eq!(s.load_ended(), None, "once");
        let mut listed = state();
        listed.loading = s.loading.clone();
        assert_eq!(listed.load_ended(), None, "a listed folder stays as it is");
    }

    fn frame(
        s: &mut OpenState,
        width: u16,
        height: u16,
    ) -> ratatui::Terminal<ratatui::backend::TestBackend> {
        crate::tui::widgets::drawn(width, height, |area, buf| s.render(area, buf))
    }

    #[test]
    fn open_filtered_and_wide_names_80x24() {
        let mut s = state();
        s.entries.push(Entry {
            path: "/data/顧客リスト_2026年10月.xlsx".into(),
            kind: EntryKind::File,
            bytes: 40_960,
            note: String::new(),
        });
        s.entries.push(Entry {
            path: "/data/🎉 party guests.csv".into(),
            kind: EntryKind::File,
            bytes: 300,
            note: String::new(),
        });
        s.refilter();
        insta::assert_snapshot!("open_wide_names_80x24", frame(&mut s, 80, 24).backend());
        typed(&mut s, "xlsx");
        insta::assert_snapshot!("open_filtered_80x24", frame(&mut s, 80, 24).backend());
        s.update(&Action::Back);
        s.home = Some("/home/ops".into());
        typed(&mut s, "~/Downloads");
        insta::assert_snapshot!("open_typed_path_80x24", frame(&mut s, 80, 24).backend());
    }
}

/// The screen within the whole app: snapshots of its states, and its keys.
#[cfg(test)]
mod app_tests {
    use crate::tui::testing::*;

    #[test]
    fn open_screen() {
        insta::assert_snapshot!(frame(&mut open_app(), 100, 30).backend());
        insta::assert_snapshot!(
            "open_screen_80x24",
            frame(&mut open_app(), 80, 24).backend()
        );
    }

    #[test]
    fn open_screen_loading() {
        let mut app = open_app();
        if let Screen::Open(s) = &mut app.screen {
            s.loading = Some(open::Loading {
                path: "/home/ops/exports/crm_contacts.xlsx".into(),
                rows: 120_000,
                expected: None,
            });
        }
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
    }

    #[test]
    fn an_interrupted_run_is_offered_first_and_resumes() {
        let mut app = open_app();
        if let Screen::Open(state) = &mut app.screen {
            state.entries.insert(
                0,
                Entry {
                    path: "/data/runs/20261127-101500-4821".into(),
                    kind: EntryKind::Run,
                    bytes: 0,
                    note: "run 20261127-101500-4821: users.xlsx, 300 of 1000 rows done, to \
                           https://acme.zendesk.com/"
                        .into(),
                },
            );
        }
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
        app.update(Action::Home);
        let command = app.update(Action::Enter);
        assert_eq!(
            command,
            Some(Command::ResumeImport(
                "/data/runs/20261127-101500-4821".into()
            ))
        );
        assert_eq!(
            app.screen.step(),
            7,
            "the Run screen follows the resumed run"
        );
        assert_eq!(
            app.session.run_dir,
            Some(PathBuf::from("/data/runs/20261127-101500-4821"))
        );
    }
}
