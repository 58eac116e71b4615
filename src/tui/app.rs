//! The app: session data, the current screen, overlays; `update` changes state and returns
//! the I/O to do as a `Command`.

use std::path::PathBuf;

use super::action::Action;
use super::keymap::KeyContext;
use super::screens::open::{OpenOutcome, OpenState};
use super::screens::sheet::{SheetOutcome, SheetState};
use crate::sheet::{HeaderChoice, Row, SheetInfo, Table};

/// One step of the wizard, owning its own state.
#[derive(Debug)]
pub enum Screen {
    Open(OpenState),
    Sheet(SheetState),
}

impl Screen {
    /// Position in the step bar.
    pub fn step(&self) -> usize {
        match self {
            Screen::Open(_) => 0,
            Screen::Sheet(_) => 1,
        }
    }

    fn key_context(&self) -> KeyContext {
        match self {
            Screen::Open(_) => KeyContext::Open,
            Screen::Sheet(_) => KeyContext::Sheet,
        }
    }
}

/// Something drawn over the screen that takes the keys first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    ConfirmQuit,
    Error(String),
}

/// Disk and network work for the event loop to run; its answer comes back as an `AppEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    ListDir(PathBuf),
    OpenFile(PathBuf),
    PreviewSheet(usize),
    LoadTable { sheet: usize, header: HeaderChoice },
    CancelLoad,
    Quit,
}

/// Answers from the event loop's background work.
#[derive(Debug)]
pub enum AppEvent {
    DirListed {
        dir: PathBuf,
        entries: Vec<super::screens::open::Entry>,
    },
    Opened {
        path: PathBuf,
        sheets: Vec<SheetInfo>,
        selected: usize,
    },
    Previewed {
        sheet: usize,
        rows: Vec<Row>,
        header_row: Option<u32>,
    },
    Progress {
        rows: u64,
    },
    TableLoaded(Table),
    /// The background work failed; the message says what and where.
    Failed(String),
    /// A load was cancelled by the operator.
    Cancelled,
}

/// Everything the session knows, shared by the screens.
#[derive(Debug, Default)]
pub struct Session {
    pub path: Option<PathBuf>,
    pub table: Option<Table>,
    /// Set when the mapping changed since it was last saved as a profile.
    pub unsaved: bool,
}

/// The whole TUI state.
#[derive(Debug)]
pub struct App {
    pub screen: Screen,
    pub session: Session,
    pub overlay: Option<Overlay>,
    pub quit: bool,
}

impl App {
    pub fn new(open: OpenState) -> App {
        App {
            screen: Screen::Open(open),
            session: Session::default(),
            overlay: None,
            quit: false,
        }
    }

    /// Who gets the keys now.
    pub fn key_context(&self) -> KeyContext {
        match &self.overlay {
            Some(Overlay::ConfirmQuit) => KeyContext::Confirm,
            Some(Overlay::Help | Overlay::Error(_)) => KeyContext::Popup,
            None => self.screen.key_context(),
        }
    }

    /// The file name for the step bar.
    pub fn file_name(&self) -> Option<String> {
        self.session
            .path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
    }

    /// Applies an action; returns the I/O it calls for.
    pub fn update(&mut self, action: Action) -> Option<Command> {
        if action == Action::ForceQuit {
            return self.finish();
        }
        if let Some(overlay) = self.overlay.take() {
            return self.update_overlay(overlay, &action);
        }
        match action {
            Action::Help => {
                self.overlay = Some(Overlay::Help);
                None
            }
            Action::Quit if self.session.unsaved => {
                self.overlay = Some(Overlay::ConfirmQuit);
                None
            }
            Action::Quit => self.finish(),
            action => self.update_screen(&action),
        }
    }

    fn finish(&mut self) -> Option<Command> {
        self.quit = true;
        Some(Command::Quit)
    }

    fn update_overlay(&mut self, overlay: Overlay, action: &Action) -> Option<Command> {
        match (overlay, action) {
            (Overlay::ConfirmQuit, Action::Yes) => self.finish(),
            (Overlay::ConfirmQuit, Action::No)
            | (Overlay::Help | Overlay::Error(_), Action::Back) => None,
            (overlay, _) => {
                self.overlay = Some(overlay);
                None
            }
        }
    }

    fn update_screen(&mut self, action: &Action) -> Option<Command> {
        match &mut self.screen {
            Screen::Open(state) => match state.update(action)? {
                OpenOutcome::List(dir) => Some(Command::ListDir(dir)),
                OpenOutcome::Open(path) => {
                    state.loading = Some(super::screens::open::Loading {
                        path: path.clone(),
                        rows: 0,
                        expected: None,
                    });
                    Some(Command::OpenFile(path))
                }
                OpenOutcome::Cancel => Some(Command::CancelLoad),
            },
            Screen::Sheet(state) => {
                if *action == Action::Back {
                    return self
                        .session
                        .path
                        .as_ref()
                        .and_then(|p| p.parent())
                        .map(|d| Command::ListDir(d.to_path_buf()));
                }
                match state.update(action)? {
                    SheetOutcome::Preview(sheet) => Some(Command::PreviewSheet(sheet)),
                    SheetOutcome::Load { sheet, header } => {
                        Some(Command::LoadTable { sheet, header })
                    }
                }
            }
        }
    }

    /// Takes in the answer of background work.
    pub fn handle(&mut self, event: AppEvent) -> Option<Command> {
        match event {
            AppEvent::DirListed { dir, entries } => {
                self.screen = Screen::Open(OpenState::new(dir, entries));
                None
            }
            AppEvent::Opened {
                path,
                sheets,
                selected,
            } => {
                self.session.path = Some(path);
                let mut state = SheetState::new(sheets, selected);
                state.loading = true;
                self.screen = Screen::Sheet(state);
                Some(Command::PreviewSheet(selected))
            }
            AppEvent::Previewed {
                sheet,
                rows,
                header_row,
            } => {
                if let Screen::Sheet(state) = &mut self.screen
                    && state.selected() == sheet
                {
                    state.show_preview(rows, header_row);
                }
                None
            }
            AppEvent::Progress { rows } => {
                if let Screen::Open(OpenState {
                    loading: Some(l), ..
                }) = &mut self.screen
                {
                    l.rows = rows;
                }
                None
            }
            AppEvent::TableLoaded(table) => {
                self.session.table = Some(table);
                None
            }
            AppEvent::Failed(message) => {
                self.stop_loading();
                self.overlay = Some(Overlay::Error(message));
                None
            }
            AppEvent::Cancelled => {
                self.stop_loading();
                None
            }
        }
    }

    fn stop_loading(&mut self) {
        match &mut self.screen {
            Screen::Open(state) => state.loading = None,
            Screen::Sheet(state) => state.loading = false,
        }
    }
}
