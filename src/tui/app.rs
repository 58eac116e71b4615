//! The app: session data, the current screen, overlays; `update` changes state and returns
//! the I/O to do as a `Command`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::action::Action;
use super::keymap::KeyContext;
use super::screens::check::{CheckOutcome, CheckState};
use super::screens::connect::{Account, ConnectOutcome, ConnectRequest, ConnectState, Connection};
use super::screens::map::{MapOutcome, MapPopup, MapState, Notice, Offer};
use super::screens::open::{OpenOutcome, OpenState};
use super::screens::plan::{AccountCheck, PlanOutcome, PlanState, Stage};
use super::screens::preview::{PreviewOutcome, PreviewState};
use super::screens::results::{ResultsOutcome, ResultsState};
use super::screens::run::{RunOutcome, RunState, RunStatus};
use super::screens::sheet::{SheetOutcome, SheetState};
use crate::session::check::{self, Mapping, Mode, Report, auto_match};
use crate::session::profiles::Profile;
use crate::session::run::{ImportEvent, Outcome, RowOutcome, Summary};
use crate::session::source::ZeroPadded;
use crate::session::source::{HeaderChoice, Row, SheetInfo, Table};

/// Share of a saved profile's columns a sheet must have for the profile to be offered.
const OFFER_FIT: f64 = 0.8;

/// One step of the wizard, owning its own state.
#[derive(Debug)]
pub enum Screen {
    Open(OpenState),
    Sheet(SheetState),
    Map(MapState),
    Check(CheckState),
    Preview(PreviewState),
    Connect(ConnectState),
    Plan(PlanState),
    /// Boxed: the largest screen by far (its log, counts and jobs).
    Run(Box<RunState>),
    Results(ResultsState),
}

impl Screen {
    /// An answer only the screen showing cares about: each screen keeps what is its own and
    /// drops the rest (an answer for a screen left since).
    fn on_event(&mut self, event: AppEvent) {
        match self {
            Screen::Open(state) => state.on_event(event),
            Screen::Sheet(state) => state.on_event(event),
            Screen::Connect(state) => state.on_event(event),
            Screen::Plan(state) => state.on_event(event),
            Screen::Run(state) => state.on_event(event),
            Screen::Results(state) => state.on_event(event),
            Screen::Map(_) | Screen::Check(_) | Screen::Preview(_) => {}
        }
    }

    /// Position in the step bar.
    pub fn step(&self) -> usize {
        match self {
            Screen::Open(_) => 0,
            Screen::Sheet(_) => 1,
            Screen::Map(_) => 2,
            Screen::Check(_) => 3,
            Screen::Preview(_) => 4,
            Screen::Connect(_) => 5,
            Screen::Plan(_) => 6,
            Screen::Run(_) => 7,
            Screen::Results(_) => 8,
        }
    }

    /// The screen's own keys, for the help overlay.
    pub fn screen_context(&self) -> KeyContext {
        match self {
            Screen::Open(_) => KeyContext::Open,
            Screen::Sheet(_) => KeyContext::Sheet,
            Screen::Map(_) => KeyContext::Map,
            Screen::Check(_) => KeyContext::Check,
            Screen::Preview(s) if s.batches <= 1 => KeyContext::PreviewOne,
            Screen::Preview(_) => KeyContext::Preview,
            Screen::Connect(_) => KeyContext::Connect,
            Screen::Plan(s) => s.key_context(),
            Screen::Run(s) => s.key_context(),
            Screen::Results(_) => KeyContext::Results,
        }
    }

    fn key_context(&self) -> KeyContext {
        match self {
            Screen::Map(s) if matches!(s.popup, Some(MapPopup::Offer(_))) => KeyContext::Confirm,
            Screen::Map(s) if s.is_typing() => KeyContext::Typing,
            Screen::Open(s) if s.is_typing() => KeyContext::Typing,
            Screen::Check(s) if s.detail.is_some() => KeyContext::Popup,
            Screen::Plan(s) if s.detail.is_some() => KeyContext::Popup,
            Screen::Preview(s) if s.is_typing() => KeyContext::Typing,
            Screen::Connect(s) if s.is_typing() => KeyContext::Typing,
            Screen::Connect(s) if s.on_test() => KeyContext::ConnectTest,
            Screen::Results(s) if s.is_typing() => KeyContext::Typing,
            Screen::Results(s) if s.detail.is_some() => KeyContext::Popup,
            screen => screen.screen_context(),
        }
    }
}

/// Something drawn over the screen that takes the keys first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    ConfirmQuit,
    /// Nothing is sent before the operator says yes to this.
    ConfirmImport(String),
    /// What a retry sends, and the choices: the rows that can succeed, every failure, or the
    /// failures re-read from the corrected sheet.
    ConfirmRetry(RetryQuestion),
    /// An export would replace this file.
    ConfirmOverwrite(PathBuf),
    Error(String),
}

/// The retry question's text and what each answer does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryQuestion {
    pub text: String,
    /// Sheet rows of the failures Zendesk refused for their data (for the corrected sheet).
    pub refused: Vec<u32>,
    /// `y` sends something.
    pub retryable: bool,
}

/// Disk and network work for the event loop to run; its answer comes back as an `AppEvent`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    ListDir(PathBuf),
    OpenFile(PathBuf),
    PreviewSheet(usize),
    LoadTable {
        sheet: usize,
        header: HeaderChoice,
    },
    /// Stops a table load or a check.
    CancelLoad,
    /// Reads the saved profiles.
    ListProfiles,
    SaveProfile(Profile),
    /// Signs in and asks Zendesk who we are.
    TestConnection(ConnectRequest),
    /// Reads the account's custom fields and checks every row against them.
    CheckAccount {
        table: Arc<Table>,
        mapping: Mapping,
        options: check::Options,
    },
    /// Looks the users up: what each row will do.
    BuildPlan {
        account: Arc<check::Checked>,
        options: crate::session::check::PlanOptions,
    },
    /// Builds the outbox, writes the journal and runs the engine.
    StartImport(Box<NewRun>),
    /// Sends the failed and unknown rows of a run again, as a new run.
    RetryImport {
        run_dir: PathBuf,
        concurrency: u32,
        rows: crate::session::run::RetryRows,
    },
    /// Opens the file again and reads the same sheet and header row (retry from the
    /// corrected sheet).
    Reload {
        path: PathBuf,
        sheet: String,
        header: HeaderChoice,
    },
    /// Continues an interrupted run from its journal (signing in to its account).
    ResumeImport(PathBuf),
    PauseImport(bool),
    CancelImport,
    /// Writes every row's result (CSV or JSON by the extension).
    Export {
        path: PathBuf,
        outcomes: Arc<Vec<RowOutcome>>,
    },
    /// Reads the user the run sent for a row (its plan file), for the row's detail.
    SentUser {
        dir: PathBuf,
        index: u64,
    },
    /// Checks every row of the table (in the background: it may hold a million rows).
    Check {
        table: Arc<Table>,
        mapping: Mapping,
        options: check::Options,
    },
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
        /// What decoding a CSV found, and where (an encoding guessed, broken bytes).
        notes: Vec<String>,
    },
    Previewed {
        sheet: usize,
        rows: Vec<Row>,
        header_row: Option<u32>,
    },
    Progress {
        rows: u64,
        /// Of the file's bytes, when the file says how far a read is (CSV and text).
        percent: Option<u8>,
    },
    /// A loaded table, and its columns whose leading zeros only Excel's format shows.
    TableLoaded(Table, Vec<ZeroPadded>),
    /// The saved profiles that could be read.
    ProfilesListed(Vec<Profile>),
    /// A profile was saved (its name and file), or why not.
    ProfileSaved(Result<(String, PathBuf), String>),
    Checked(Report),
    /// The connection test's answer: who we are, or what is wrong.
    Connected(Result<Account, String>),
    /// The account's checks: the fields, the report made with them, what the plan costs.
    AccountChecked(Result<(AccountCheck, Arc<check::Checked>), String>),
    Planned(Result<crate::session::check::StoredPlan, String>),
    /// The run's journal is written and the engine starts.
    ImportStarted {
        run_id: String,
        run_dir: PathBuf,
        account: String,
        /// What resolving the rows' organizations warned of (an import without the plan:
        /// names close to the account's, missing ones and their rows), for the run's log.
        warnings: Vec<String>,
    },
    /// Resuming a run could not sign in to its account (no credentials in the environment,
    /// say): Connect asks for them, then the run resumes.
    ResumeNeedsSignIn {
        run_dir: PathBuf,
        account: String,
        reason: String,
    },
    Import(ImportEvent),
    /// The engine stopped: every row's outcome so far, or why it stopped early.
    ImportEnded(Result<(Summary, Vec<RowOutcome>), String>),
    Exported(Result<PathBuf, String>),
    /// The user a run sent for the row with this index, as pretty JSON (empty: not sent).
    SentUser {
        index: u64,
        body: Result<String, String>,
    },
    /// Time passed: countdowns and speeds on the Run screen move.
    Tick(std::time::Instant),
    /// The background work failed; the message says what and where.
    Failed(String),
    /// A load was cancelled by the operator.
    Cancelled,
}

/// What a new run imports, from the session.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub table: Arc<Table>,
    pub mapping: Mapping,
    pub options: check::Options,
    pub report: Arc<Report>,
    /// The account's fields (values converted for them) and plan, when made.
    pub account: Option<Arc<check::Checked>>,
    pub plan: Option<Arc<crate::session::check::StoredPlan>>,
    pub skip_unchanged: bool,
    /// Users whose organization the account lacks, when the lookups were skipped (a plan
    /// made says it for each row).
    pub missing_orgs: crate::session::check::MissingOrgs,
    pub concurrency: u32,
    /// The sheet's file and the profile: for the run's record.
    pub file: String,
    pub profile: Option<String>,
}

/// Everything the session knows, shared by the screens.
#[derive(Debug, Default)]
pub struct Session {
    pub path: Option<PathBuf>,
    /// The sheets of the open workbook.
    pub sheets: Vec<SheetInfo>,
    pub table: Option<Arc<Table>>,
    pub mapping: Mapping,
    pub mode: Mode,
    pub skip_verify_email: bool,
    /// The country phones without `+` are read in (profile or Connect).
    pub phone_region: Option<crate::session::check::PhoneRegion>,
    pub report: Option<Arc<Report>>,
    /// The profile given on the command line: used instead of automatic matching.
    pub profile: Option<Profile>,
    /// Set when the mapping changed since it was last saved as a profile.
    pub unsaved: bool,
    /// The built-in sandbox's URL, when the session runs against it (`--sandbox`).
    pub sandbox_url: Option<String>,
    /// Jobs in flight the operator chose on Connect.
    pub concurrency: u32,
    /// The run in progress or last finished: its folder.
    pub run_dir: Option<PathBuf>,
    /// Every row's outcome of the last run.
    pub outcomes: Option<Arc<Vec<RowOutcome>>>,
    /// The account's checks, once connected.
    pub account: Option<Arc<check::Checked>>,
    /// The plan the operator goes on with (none: imported as checked).
    pub plan: Option<Arc<crate::session::check::StoredPlan>>,
    pub skip_unchanged: bool,
    /// The Plan screen's choice for organizations the account lacks.
    pub missing_orgs: crate::session::check::MissingOrgs,
    /// The Connect screen of an earlier import in this session (signed in), for the next one.
    pub connect: Option<Box<ConnectState>>,
    /// The run to resume once Connect has signed in to its account.
    pub resume: Option<PathBuf>,
    /// Retry from the corrected sheet: the sheet rows to keep when it is read again.
    pub retry_rows: Option<std::collections::HashSet<u32>>,
    /// What the import does with rows that have an error (the Check screen's `i`).
    pub invalid: check::InvalidPolicy,
    /// Columns of the loaded table whose leading zeros only Excel's number format shows.
    pub zero_padded: Vec<ZeroPadded>,
    /// Results were asked for before the run's outcomes were read: shown when they are.
    pub results_wanted: bool,
}

impl Session {
    /// What the Check screen says about the mapping before any row.
    fn cautions(&self) -> Vec<String> {
        match &self.table {
            Some(table) => {
                check::cautions(&self.mapping, self.mode, &table.layout, &self.zero_padded)
            }
            None => self.mapping.cautions(self.mode),
        }
    }

    fn options(&self) -> check::Options {
        check::Options {
            mode: self.mode,
            skip_verify_email: self.skip_verify_email,
            phone_region: self.phone_region,
            invalid: self.invalid,
            // Before Connect sets it, the jobs at once it offers.
            jobs: match self.concurrency {
                0 => super::screens::connect::DEFAULT_CONCURRENCY,
                n => n,
            } as usize,
        }
    }
}

/// The whole TUI state.
#[derive(Debug)]
pub struct App {
    pub screen: Screen,
    /// Screens behind the current one, for `Esc` (Map, Check and Preview keep their state).
    pub history: Vec<Screen>,
    pub session: Session,
    pub overlay: Option<Overlay>,
    pub quit: bool,
}

impl App {
    pub fn new(open: OpenState) -> App {
        App {
            screen: Screen::Open(open),
            history: Vec::new(),
            session: Session::default(),
            overlay: None,
            quit: false,
        }
    }

    /// Goes to `screen`, keeping the current one to come back to.
    fn push(&mut self, screen: Screen) {
        let previous = std::mem::replace(&mut self.screen, screen);
        self.history.push(previous);
    }

    /// Back to the previous screen, if one was kept.
    fn pop(&mut self) -> bool {
        match self.history.pop() {
            Some(screen) => {
                self.screen = screen;
                true
            }
            None => false,
        }
    }

    /// Who gets the keys now.
    pub fn key_context(&self) -> KeyContext {
        match &self.overlay {
            Some(
                Overlay::ConfirmQuit
                | Overlay::ConfirmImport(_)
                | Overlay::ConfirmRetry(_)
                | Overlay::ConfirmOverwrite(_),
            ) => KeyContext::Confirm,
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
        if action == Action::Interrupt {
            // Ctrl-C asks as `q` does; a second one while it asks is the answer.
            if self.overlay == Some(Overlay::ConfirmQuit) {
                return self.update_overlay(Overlay::ConfirmQuit, &Action::Yes);
            }
            self.overlay = None;
            return self.update(Action::Quit);
        }
        if let Some(overlay) = self.overlay.take() {
            return self.update_overlay(overlay, &action);
        }
        match action {
            Action::Help => {
                self.overlay = Some(Overlay::Help);
                None
            }
            Action::Quit if self.session.unsaved || self.import_active() => {
                self.overlay = Some(Overlay::ConfirmQuit);
                None
            }
            Action::Quit => self.finish(),
            action => {
                let command = self.update_screen(&action);
                if matches!(
                    command,
                    Some(
                        Command::StartImport(_)
                            | Command::RetryImport { .. }
                            | Command::ResumeImport(_)
                    )
                ) {
                    // The last run's outcomes no longer say how the rows ended.
                    self.session.outcomes = None;
                    self.session.results_wanted = false;
                }
                command
            }
        }
    }

    fn finish(&mut self) -> Option<Command> {
        self.quit = true;
        Some(Command::Quit)
    }

    /// Whether the screen shows time passing (the Run screen of an active import).
    pub fn ticking(&self) -> bool {
        matches!(&self.screen, Screen::Run(r) if r.is_active())
    }

    /// Whether an import is running in this session (quitting leaves it resumable).
    pub fn import_active(&self) -> bool {
        let current = std::iter::once(&self.screen).chain(&self.history);
        current
            .filter_map(|s| match s {
                Screen::Run(r) => Some(r.as_ref()),
                _ => None,
            })
            .any(RunState::is_active)
    }

    fn update_overlay(&mut self, overlay: Overlay, action: &Action) -> Option<Command> {
        match (overlay, action) {
            (Overlay::ConfirmQuit, Action::Yes) if self.import_active() => {
                // The journal is written before and after every request: cancelling is enough.
                self.quit = true;
                Some(Command::CancelImport)
            }
            (Overlay::ConfirmQuit, Action::Yes) => self.finish(),
            (Overlay::ConfirmQuit, Action::SaveProfile) if self.session.unsaved => {
                self.save_before_quitting();
                None
            }
            (Overlay::ConfirmImport(_), Action::Yes) => self.start_import(),
            (Overlay::ConfirmRetry(q), Action::Yes) if q.retryable => {
                self.retry(crate::session::run::RetryRows::Retryable)
            }
            (Overlay::ConfirmRetry(_), Action::RetryAll) => {
                self.retry(crate::session::run::RetryRows::AllFailed)
            }
            (Overlay::ConfirmRetry(q), Action::RetryCorrected) if !q.refused.is_empty() => {
                self.retry_from_sheet(q.refused)
            }
            (Overlay::ConfirmOverwrite(path), Action::Yes) => self.export(path),
            (
                Overlay::ConfirmImport(_) | Overlay::ConfirmRetry(_) | Overlay::ConfirmOverwrite(_),
                Action::No,
            ) => None,
            (Overlay::ConfirmQuit, Action::No)
            | (Overlay::Help | Overlay::Error(_), Action::Back) => None,
            (overlay, _) => {
                self.overlay = Some(overlay);
                None
            }
        }
    }

    /// The screen's own keys: one method per screen.
    fn update_screen(&mut self, action: &Action) -> Option<Command> {
        match &self.screen {
            Screen::Open(_) => self.update_open(action),
            Screen::Sheet(_) => self.update_sheet(action),
            Screen::Map(_) => self.update_map(action),
            Screen::Check(_) => self.update_check(action),
            Screen::Connect(_) => self.update_connect(action),
            Screen::Plan(_) => self.update_plan(action),
            Screen::Run(_) => self.update_run(action),
            Screen::Results(_) => self.update_results(action),
            Screen::Preview(_) => self.update_preview(action),
        }
    }

    fn update_open(&mut self, action: &Action) -> Option<Command> {
        let Screen::Open(state) = &mut self.screen else {
            return None;
        };
        match state.update(action)? {
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
            OpenOutcome::Resume(dir) => {
                self.session.run_dir = Some(dir.clone());
                self.push(Screen::Run(Box::new(RunState::new(
                    std::time::Instant::now(),
                ))));
                Some(Command::ResumeImport(dir))
            }
        }
    }

    fn update_sheet(&mut self, action: &Action) -> Option<Command> {
        let Screen::Sheet(state) = &mut self.screen else {
            return None;
        };
        if *action == Action::Back && state.reading.is_some() {
            state.reading = None;
            return Some(Command::CancelLoad);
        }
        if *action == Action::Back {
            return Some(Command::ListDir(self.file_dir()));
        }
        match state.update(action)? {
            SheetOutcome::Preview(sheet) => Some(Command::PreviewSheet(sheet)),
            SheetOutcome::Load { sheet, header } => {
                state.reading = Some(0);
                Some(Command::LoadTable { sheet, header })
            }
        }
    }

    fn update_check(&mut self, action: &Action) -> Option<Command> {
        let Screen::Check(state) = &mut self.screen else {
            return None;
        };
        if *action == Action::Back && state.detail.is_none() {
            let running = state.report.is_none();
            self.pop();
            return running.then_some(Command::CancelLoad);
        }
        match state.update(action)? {
            CheckOutcome::Next => {
                self.open_preview();
                None
            }
            CheckOutcome::Policy(policy) => {
                self.session.invalid = policy;
                self.pop();
                self.start_check()
            }
        }
    }

    fn update_connect(&mut self, action: &Action) -> Option<Command> {
        let Screen::Connect(state) = &mut self.screen else {
            return None;
        };
        if *action == Action::Back {
            self.session.resume = None;
            self.session.mode = state.mode;
            self.session.skip_verify_email = state.skip_verify_email;
            if let Ok(region) = state.phone_region() {
                self.session.phone_region = region;
            }
            self.session.concurrency = state.concurrency();
            // Kept, signed in, for when the operator comes this way again.
            if let Some(previous) = self.history.pop() {
                let left = std::mem::replace(&mut self.screen, previous);
                if let Screen::Connect(connect) = left {
                    self.session.connect = Some(Box::new(connect));
                }
            }
            return None;
        }
        match state.update(action)? {
            ConnectOutcome::Test(request) => Some(Command::TestConnection(request)),
            ConnectOutcome::Next if self.session.resume.is_some() => {
                let dir = self.session.resume.take()?;
                self.session.concurrency = state.concurrency();
                self.screen = Screen::Run(Box::new(RunState::new(std::time::Instant::now())));
                Some(Command::ResumeImport(dir))
            }
            ConnectOutcome::Next => {
                self.session.mode = state.mode;
                self.session.skip_verify_email = state.skip_verify_email;
                self.session.phone_region = state.phone_region().ok().flatten();
                self.session.concurrency = state.concurrency();
                let table = self.session.table.clone()?;
                let mut state = PlanState::new(self.session.mode);
                state.object = self.session.mapping.object;
                self.push(Screen::Plan(state));
                Some(Command::CheckAccount {
                    table,
                    mapping: self.session.mapping.clone(),
                    options: self.session.options(),
                })
            }
        }
    }

    fn update_plan(&mut self, action: &Action) -> Option<Command> {
        let Screen::Plan(state) = &mut self.screen else {
            return None;
        };
        if *action == Action::Back && state.detail.is_none() {
            self.pop();
            return None;
        }
        match state.update(action)? {
            PlanOutcome::Build {
                existing,
                tags,
                missing_orgs,
                make_primary,
            } => {
                let account = self.session.account.clone()?;
                let options = crate::session::check::PlanOptions {
                    mode: self.session.mode,
                    existing,
                    tags,
                    missing_orgs,
                    make_primary,
                    ..crate::session::check::PlanOptions::default()
                };
                Some(Command::BuildPlan { account, options })
            }
            PlanOutcome::Import {
                plan,
                skip_unchanged,
            } => {
                self.session.missing_orgs = state.missing_orgs;
                self.session.plan = plan;
                self.session.skip_unchanged = skip_unchanged;
                self.ask_to_import()
            }
        }
    }

    fn update_run(&mut self, action: &Action) -> Option<Command> {
        let Screen::Run(state) = &mut self.screen else {
            return None;
        };
        if !state.is_active() && *action == Action::Back {
            return self.leave_run();
        }
        match state.update(action)? {
            RunOutcome::Pause => Some(Command::PauseImport(true)),
            RunOutcome::Resume => Some(Command::PauseImport(false)),
            RunOutcome::Cancel => Some(Command::CancelImport),
            RunOutcome::Results if self.session.outcomes.is_none() => {
                // The engine has finished; its outcomes are still being read: Results opens
                // as soon as they arrive.
                self.session.results_wanted = true;
                None
            }
            RunOutcome::Results => {
                self.open_results();
                None
            }
            RunOutcome::NewImport => self.new_import(),
        }
    }

    fn update_results(&mut self, action: &Action) -> Option<Command> {
        let Screen::Results(state) = &mut self.screen else {
            return None;
        };
        if !state.is_typing() && state.detail.is_none() {
            match action {
                Action::Back => return self.leave_run(),
                Action::NewImport => return self.new_import(),
                _ => {}
            }
        }
        match state.update(action)? {
            ResultsOutcome::Export(path) => {
                let path = PathBuf::from(path);
                if path.exists() {
                    self.overlay = Some(Overlay::ConfirmOverwrite(path));
                    return None;
                }
                self.export(path)
            }
            ResultsOutcome::Retry => {
                self.ask_to_retry();
                None
            }
            ResultsOutcome::Resume => {
                let dir = self.session.run_dir.clone()?;
                self.push(Screen::Run(Box::new(RunState::new(
                    std::time::Instant::now(),
                ))));
                Some(Command::ResumeImport(dir))
            }
            ResultsOutcome::Detail(index) => {
                state.detail = Some((index, String::new()));
                let dir = self.session.run_dir.clone()?;
                Some(Command::SentUser { dir, index })
            }
        }
    }

    fn update_preview(&mut self, action: &Action) -> Option<Command> {
        let Screen::Preview(state) = &mut self.screen else {
            return None;
        };
        if *action == Action::Back && !state.is_typing() {
            self.pop();
            return None;
        }
        if *action == Action::Next {
            self.open_connect();
            return None;
        }
        match state.update(action)? {
            PreviewOutcome::Show(n) => self.show_batch(n, None),
            PreviewOutcome::Find(row) => {
                let batch = self.session.report.as_ref().and_then(|r| r.batch_of(row));
                match batch {
                    Some(n) => self.show_batch(n, Some(row)),
                    None => {
                        if let Screen::Preview(state) = &mut self.screen {
                            state.notice =
                                Some(format!("row {row} {}", super::strings::PREVIEW_NOT_SENT));
                        }
                    }
                }
            }
        }
        None
    }

    fn update_map(&mut self, action: &Action) -> Option<Command> {
        let Screen::Map(state) = &mut self.screen else {
            return None;
        };
        if *action == Action::Back && state.popup.is_none() {
            self.pop();
            return None;
        }
        let before = (self.session.mapping.clone(), self.session.mode);
        let outcome = state.update(action, &mut self.session.mapping, &mut self.session.mode);
        if before != (self.session.mapping.clone(), self.session.mode) {
            self.session.unsaved = true;
            state.notice = None;
        }
        match outcome? {
            MapOutcome::Next => self.start_check(),
            MapOutcome::Save(name) => {
                let mut profile =
                    Profile::from_mapping(&name, &self.session.mapping, self.session.mode);
                profile.options.skip_verify_email = self.session.skip_verify_email;
                profile.options.phone_region = self.session.phone_region;
                if self.session.sheets.len() > 1 {
                    profile.sheet = self.session.table.as_ref().map(|t| t.layout.sheet.clone());
                }
                Some(Command::SaveProfile(profile))
            }
            MapOutcome::Load(i) => {
                let profile = state.saved.get(i).cloned()?;
                self.use_profile(&profile);
                None
            }
            MapOutcome::AcceptOffer(profile) => {
                self.use_profile(&profile);
                None
            }
        }
    }

    /// Maps the table by a saved profile; says which of its columns the sheet lacks.
    fn use_profile(&mut self, profile: &Profile) {
        let Some(table) = &self.session.table else {
            return;
        };
        let fit = profile.apply(&table.layout.headers);
        self.session.mapping = fit.mapping;
        self.session.mode = profile.mode;
        self.session.skip_verify_email = profile.options.skip_verify_email;
        self.session.phone_region = profile.options.phone_region;
        self.session.unsaved = false;
        if let Screen::Map(state) = &mut self.screen {
            state.profile_name = Some(profile.name.clone());
            state.notice = Some(if fit.missing.is_empty() && profile.notes.is_empty() {
                Notice::Info(format!("Using profile '{}'", profile.name))
            } else if fit.missing.is_empty() {
                Notice::Info(format!(
                    "Profile '{}': {}",
                    profile.name,
                    profile.notes.join("; ")
                ))
            } else {
                Notice::Error(format!(
                    "Profile '{}': not in this sheet: {}",
                    profile.name,
                    fit.missing.join(", ")
                ))
            });
        }
    }

    /// The folder of the open file (the working folder when there is none), for the browser.
    fn file_dir(&self) -> PathBuf {
        let file = self
            .session
            .path
            .as_ref()
            .and_then(|p| std::path::absolute(p).ok());
        file.as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Leaves a finished run's Run or Results screen for the step before the run. On Plan the
    /// account is checked and the plan made again: the import changed what Zendesk holds.
    fn leave_run(&mut self) -> Option<Command> {
        while matches!(self.screen, Screen::Run(_) | Screen::Results(_)) && self.pop() {}
        match &self.screen {
            Screen::Plan(_) => self.plan_again(),
            Screen::Open(state) => Some(Command::ListDir(state.dir.clone())),
            _ => None,
        }
    }

    /// A fresh Plan screen and the account check it starts with.
    fn plan_again(&mut self) -> Option<Command> {
        let table = self.session.table.clone()?;
        self.session.account = None;
        self.session.plan = None;
        let mut fresh = PlanState::new(self.session.mode);
        fresh.object = self.session.mapping.object;
        if let Screen::Plan(old) = &self.screen {
            // The operator's choices stay: only what the account holds is asked again.
            fresh.skip_unchanged = old.skip_unchanged;
            fresh.existing = old.existing;
            fresh.tags = old.tags;
            fresh.make_primary = old.make_primary;
        }
        self.screen = Screen::Plan(fresh);
        Some(Command::CheckAccount {
            table,
            mapping: self.session.mapping.clone(),
            options: self.session.options(),
        })
    }

    /// Back to the file browser for another import: the account (Connect, signed in) and the
    /// import options stay; the sheet, mapping, checks, plan and run go.
    fn new_import(&mut self) -> Option<Command> {
        let dir = self.file_dir();
        let connect = std::mem::take(&mut self.history)
            .into_iter()
            .find_map(|s| match s {
                Screen::Connect(state) => Some(state),
                _ => None,
            });
        let kept = std::mem::take(&mut self.session);
        self.session = Session {
            mode: kept.mode,
            skip_verify_email: kept.skip_verify_email,
            phone_region: kept.phone_region,
            profile: kept.profile,
            sandbox_url: kept.sandbox_url,
            concurrency: kept.concurrency,
            invalid: kept.invalid,
            connect: connect.map(Box::new).or(kept.connect),
            ..Session::default()
        };
        self.screen = Screen::Open(OpenState::new(dir.clone(), Vec::new()));
        Some(Command::ListDir(dir))
    }

    /// Connect, filled in with the run's account, in place of the resume's Run screen: once
    /// signed in, Enter resumes the run.
    fn resume_sign_in(&mut self, run_dir: PathBuf, account: &str, reason: &str) {
        let mut state = ConnectState::new(
            |k| match k {
                "ZENDESK_URL" => Some(account.to_owned()),
                k => std::env::var(k).ok(),
            },
            self.session.mode,
            self.session.skip_verify_email,
        );
        let run = run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        state.connection = Connection::Failed(format!(
            "{} {run}: {reason}",
            super::strings::RESUME_SIGN_IN
        ));
        self.session.resume = Some(run_dir);
        self.screen = Screen::Connect(state);
    }

    /// Writes the rows the Results filter and search show (all of them unfiltered).
    fn export(&mut self, path: PathBuf) -> Option<Command> {
        let Screen::Results(state) = &self.screen else {
            return None;
        };
        let shown = state.shown.iter().map(|&i| state.outcomes[i].clone());
        Some(Command::Export {
            path,
            outcomes: Arc::new(shown.collect()),
        })
    }

    /// Says what a retry would send and asks (Results `r`).
    fn ask_to_retry(&mut self) {
        let Screen::Results(state) = &self.screen else {
            return;
        };
        let unknown = state.count(Outcome::Unknown);
        let failed = state
            .outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Failed);
        let (passing, refused): (Vec<&RowOutcome>, Vec<&RowOutcome>) =
            failed.partition(|o| crate::session::run::can_succeed_again(o));
        let mut text = format!(
            "Retry run {} as a new run to {}:\nsend again {} rows: {unknown} unknown (looked up \
             first, so none is sent twice) and {} failed for a passing reason (rate limit, \
             server error, timeout).",
            state.run_id,
            self.run_account(),
            unknown + passing.len(),
            passing.len(),
        );
        let can_reload = self.session.path.is_some() && self.session.table.is_some();
        if !refused.is_empty() {
            text.push_str(&format!(
                "\n{} failed for their data: a sends them as they are; ",
                refused.len()
            ));
            text.push_str(if can_reload {
                "or fix them in the sheet, and c reads it again and checks just those rows."
            } else {
                "fix them in the sheet and import it again."
            });
        }
        self.overlay = Some(Overlay::ConfirmRetry(RetryQuestion {
            text,
            refused: if can_reload {
                refused.iter().map(|o| o.row).collect()
            } else {
                Vec::new()
            },
            retryable: unknown + passing.len() > 0,
        }));
    }

    /// The account the session imports into, for questions.
    fn run_account(&self) -> String {
        let connect = self.history.iter().find_map(|s| match s {
            Screen::Connect(c) => Some(c),
            _ => None,
        });
        match connect.map(|c| &c.connection) {
            Some(Connection::Connected(a)) => a.url.clone(),
            _ => self.session.sandbox_url.clone().unwrap_or_default(),
        }
    }

    /// Sends the run's `rows` again as a new run.
    fn retry(&mut self, rows: crate::session::run::RetryRows) -> Option<Command> {
        let run_dir = self.session.run_dir.clone()?;
        self.push(Screen::Run(Box::new(RunState::new(
            std::time::Instant::now(),
        ))));
        Some(Command::RetryImport {
            run_dir,
            concurrency: self.session.concurrency,
            rows,
        })
    }

    /// Reads the sheet again (the operator corrected it) for the rows Zendesk refused: they
    /// are checked, planned and sent as a new import, with the same mapping.
    fn retry_from_sheet(&mut self, rows: Vec<u32>) -> Option<Command> {
        let path = self.session.path.clone()?;
        let table = self.session.table.as_ref()?;
        let command = Command::Reload {
            path,
            sheet: table.layout.sheet.clone(),
            header: HeaderChoice::Row(table.layout.header_row),
        };
        self.session.retry_rows = Some(rows.into_iter().collect());
        if let Screen::Results(state) = &mut self.screen {
            state.notice = Some(super::strings::RETRY_READING.to_owned());
        }
        Some(command)
    }

    /// The quit dialog's `s`: to Map with the profile name asked, then `q` again.
    fn save_before_quitting(&mut self) {
        while !matches!(self.screen, Screen::Map(_)) && self.pop() {}
        if let Screen::Map(state) = &mut self.screen {
            state.update(
                &Action::SaveProfile,
                &mut self.session.mapping,
                &mut self.session.mode,
            );
        }
    }

    /// Checks every row when the mapping allows the chosen mode.
    fn start_check(&mut self) -> Option<Command> {
        let problems = self.session.mapping.problems(self.session.mode);
        if let (false, Screen::Map(state)) = (problems.is_empty(), &mut self.screen) {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            state.notice = Some(Notice::Error(format!("First fix: {}", text.join("; "))));
            return None;
        }
        let table = self.session.table.clone()?;
        self.session.report = None;
        self.push(Screen::Check(CheckState::running()));
        Some(Command::Check {
            table,
            mapping: self.session.mapping.clone(),
            options: self.session.options(),
        })
    }

    /// Asks before anything is sent: rows, requests, mode, account.
    fn ask_to_import(&mut self) -> Option<Command> {
        // Organizations have no bulk upsert: only the plan knows which go to update_many.
        if self.session.plan.is_none()
            && self.session.mapping.object == crate::session::check::Object::Organizations
            && self.session.mode != crate::session::check::Mode::Create
        {
            self.overlay = Some(Overlay::Error(
                super::strings::ORGANIZATIONS_NEED_PLAN.into(),
            ));
            return None;
        }
        let report = self.session.report.as_ref()?;
        let account = self
            .history
            .iter()
            .find_map(|s| match s {
                Screen::Connect(c) => match &c.connection {
                    Connection::Connected(a) => Some(a.url.clone()),
                    _ => None,
                },
                _ => None,
            })
            .unwrap_or_default();
        let (method, path) = match self.session.mapping.object {
            crate::session::check::Object::Users => self.session.mode.endpoint(),
            crate::session::check::Object::Organizations => {
                crate::session::check::organization_endpoint(self.session.mode)
            }
        };
        let mut endpoints = format!("{method} {path}");
        let laid_out = (self.session.skip_unchanged, self.session.options().jobs);
        let (users, requests, skipped) = match &self.session.plan {
            Some(plan) => {
                let routes = plan.route_counts(laid_out.0, laid_out.1);
                if plan.head.object == crate::session::check::Object::Organizations {
                    endpoints = organization_endpoints(routes);
                }
                let skipped = routes.skipped as u64 + report.errors;
                (routes.rows as u64, routes.requests, skipped)
            }
            None => (
                report.ready + report.warnings,
                report.batches.len(),
                report.errors,
            ),
        };
        let records = match self.session.mapping.object {
            crate::session::check::Object::Users => "users",
            crate::session::check::Object::Organizations => "organizations",
        };
        self.overlay = Some(Overlay::ConfirmImport(format!(
            "Send {users} {records} in {requests} requests to {account}?\n{endpoints} ({} mode), \
             {} jobs at once. {skipped} rows are skipped (errors, or as the plan says).",
            self.session.mode, self.session.concurrency,
        )));
        None
    }

    fn start_import(&mut self) -> Option<Command> {
        let table = self.session.table.clone()?;
        let report = self.session.report.clone()?;
        let file = self
            .session
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let profile = self.history.iter().find_map(|s| match s {
            Screen::Map(m) => m.profile_name.clone(),
            _ => None,
        });
        self.push(Screen::Run(Box::new(RunState::new(
            std::time::Instant::now(),
        ))));
        Some(Command::StartImport(Box::new(NewRun {
            table,
            mapping: self.session.mapping.clone(),
            options: self.session.options(),
            report,
            account: self.session.account.clone(),
            plan: self.session.plan.clone(),
            skip_unchanged: self.session.skip_unchanged,
            missing_orgs: self.session.missing_orgs,
            concurrency: self.session.concurrency,
            file,
            profile,
        })))
    }

    fn open_results(&mut self) {
        let outcomes = self.session.outcomes.clone().unwrap_or_default();
        let (run_id, export) = match &self.session.run_dir {
            Some(dir) => (
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                dir.join("results.csv").display().to_string(),
            ),
            None => (String::new(), "results.csv".to_owned()),
        };
        let mut results = ResultsState::new(run_id, export, (*outcomes).clone());
        // The organizations created before the users, as the Run screen last heard.
        results.organizations = std::iter::once(&self.screen)
            .chain(self.history.iter().rev())
            .find_map(|s| match s {
                Screen::Run(run) => run.organizations.map(|(counts, _)| counts),
                _ => None,
            });
        self.push(Screen::Results(results));
    }

    fn open_connect(&mut self) {
        if let Some(mut state) = self.session.connect.take() {
            state.mode = self.session.mode;
            state.skip_verify_email = self.session.skip_verify_email;
            self.push(Screen::Connect(*state));
            return;
        }
        let session = &self.session;
        let mut state = match &session.sandbox_url {
            Some(url) => ConnectState::sandbox(url, session.mode, session.skip_verify_email),
            None => ConnectState::new(
                |k| std::env::var(k).ok(),
                session.mode,
                session.skip_verify_email,
            ),
        };
        let region = session.phone_region.map(|r| r.to_string());
        state.phone_region =
            crate::tui::widgets::input::TextInput::new(&region.unwrap_or_default());
        self.push(Screen::Connect(state));
    }

    fn open_preview(&mut self) {
        let batches = self.session.report.as_ref().map_or(0, |r| r.batches.len());
        self.push(Screen::Preview(PreviewState::new(batches)));
        if batches > 0 {
            self.show_batch(0, None);
        }
    }

    /// Builds request `n` again from the table and shows it.
    fn show_batch(&mut self, n: usize, row: Option<u32>) {
        let (Some(table), Some(report)) = (&self.session.table, &self.session.report) else {
            return;
        };
        let Some(rows) = report.batches.get(n) else {
            return;
        };
        // Once the account checked the rows, its users as they are sent; before, built again.
        let request = match &self.session.account {
            Some(account) => match account.request(n) {
                Some(request) => request,
                None => return,
            },
            None => {
                check::offline_request(table, &self.session.mapping, &self.session.options(), rows)
            }
        };
        if let Screen::Preview(state) = &mut self.screen {
            state.notice = None;
            state.show(n, &request, row);
        }
    }

    /// Takes in the answer of background work.
    /// An answer from the background: what changes the session or moves between screens is
    /// handled here, one line each; the rest goes to the screen showing, which keeps or drops it.
    pub fn handle(&mut self, event: AppEvent) -> Option<Command> {
        match event {
            AppEvent::DirListed { dir, entries } => self.dir_listed(dir, entries),
            AppEvent::Opened {
                path,
                sheets,
                selected,
                notes,
            } => self.opened(path, sheets, selected, notes),
            AppEvent::TableLoaded(table, padded) => self.table_loaded(table, padded),
            AppEvent::ProfilesListed(profiles) => self.profiles_listed(profiles),
            AppEvent::ProfileSaved(result) => self.profile_saved(result),
            AppEvent::AccountChecked(answer) => self.account_checked(answer),
            AppEvent::ImportStarted {
                run_id,
                run_dir,
                account,
                warnings,
            } => self.import_started(run_id, run_dir, account, warnings),
            AppEvent::ResumeNeedsSignIn {
                run_dir,
                account,
                reason,
            } => {
                self.resume_sign_in(run_dir, &account, &reason);
                None
            }
            AppEvent::ImportEnded(ended) => self.import_ended(ended),
            AppEvent::Checked(report) => self.checked(report),
            AppEvent::Failed(message) => {
                self.overlay = Some(Overlay::Error(message));
                self.stop_loading()
            }
            AppEvent::Cancelled => self.stop_loading(),
            event => {
                self.screen.on_event(event);
                None
            }
        }
    }

    fn dir_listed(
        &mut self,
        dir: PathBuf,
        entries: Vec<super::screens::open::Entry>,
    ) -> Option<Command> {
        self.screen = Screen::Open(OpenState::new(dir, entries));
        None
    }

    fn opened(
        &mut self,
        path: PathBuf,
        sheets: Vec<SheetInfo>,
        selected: usize,
        notes: Vec<String>,
    ) -> Option<Command> {
        self.session.path = Some(path);
        let mut state = SheetState::new(sheets, selected);
        state.loading = true;
        state.notes = notes;
        self.screen = Screen::Sheet(state);
        Some(Command::PreviewSheet(selected))
    }

    fn profiles_listed(&mut self, profiles: Vec<Profile>) -> Option<Command> {
        self.offer_profile(&profiles);
        if let Screen::Map(state) = &mut self.screen {
            state.saved = profiles;
        }
        None
    }

    fn profile_saved(&mut self, result: Result<(String, PathBuf), String>) -> Option<Command> {
        if result.is_ok() {
            self.session.unsaved = false;
        }
        if let Screen::Map(state) = &mut self.screen {
            state.notice = Some(match result {
                Ok((name, path)) => {
                    state.profile_name = Some(name);
                    Notice::Info(format!("Saved profile ({})", path.display()))
                }
                Err(e) => Notice::Error(e),
            });
        }
        Some(Command::ListProfiles)
    }

    fn account_checked(
        &mut self,
        answer: Result<(AccountCheck, Arc<check::Checked>), String>,
    ) -> Option<Command> {
        match answer {
            Ok((check, account)) => {
                self.session.report = Some(Arc::clone(&account.report));
                self.session.account = Some(account);
                if let Screen::Plan(state) = &mut self.screen {
                    state.checked(check);
                }
            }
            Err(e) => {
                if let Screen::Plan(state) = &mut self.screen {
                    state.stage = Stage::Failed(e);
                }
            }
        }
        None
    }

    fn import_started(
        &mut self,
        run_id: String,
        run_dir: PathBuf,
        account: String,
        warnings: Vec<String>,
    ) -> Option<Command> {
        self.session.run_dir = Some(run_dir);
        if let Screen::Run(state) = &mut self.screen {
            state.run_id = run_id;
            state.account = account;
            for warning in warnings {
                state.note(format!("warning: {warning}"));
            }
        }
        None
    }

    fn import_ended(
        &mut self,
        ended: Result<(Summary, Vec<RowOutcome>), String>,
    ) -> Option<Command> {
        match ended {
            Ok((_, outcomes)) => {
                self.session.outcomes = Some(Arc::new(outcomes));
                if std::mem::take(&mut self.session.results_wanted)
                    && matches!(self.screen, Screen::Run(_))
                {
                    self.open_results();
                }
            }
            Err(e) => {
                if let Screen::Run(state) = &mut self.screen {
                    state.status = RunStatus::Failed(e);
                }
            }
        }
        None
    }

    fn checked(&mut self, report: Report) -> Option<Command> {
        let report = Arc::new(report);
        self.session.report = Some(Arc::clone(&report));
        // Checked again offline (a new mapping or policy): the account's check and the plan
        // made from it no longer say what is sent.
        self.session.account = None;
        self.session.plan = None;
        if let Screen::Check(state) = &mut self.screen {
            state.cautions = self.session.cautions();
            state.show(report);
        }
        None
    }

    fn stop_loading(&mut self) -> Option<Command> {
        match &mut self.screen {
            Screen::Open(state) => return state.load_ended().map(Command::ListDir),
            Screen::Sheet(state) => {
                state.loading = false;
                state.reading = None;
            }
            Screen::Check(state) if state.report.is_none() => {
                self.pop();
            }
            _ => {}
        }
        None
    }

    /// The table is in memory: map it (by the command line's profile, else automatically).
    fn table_loaded(&mut self, table: Table, padded: Vec<ZeroPadded>) -> Option<Command> {
        if let Some(rows) = self.session.retry_rows.take() {
            return self.reloaded_for_retry(table, &rows);
        }
        if table.is_empty() {
            // A header with nothing under it: there is nothing to map or send.
            if let Screen::Sheet(state) = &mut self.screen {
                state.reading = None;
            }
            self.overlay = Some(Overlay::Error(format!(
                "{}: sheet '{}' has its header on row {} and no rows under it: nothing to \
                 import. Pick another sheet, or move the header row with [ ].",
                self.file_name().unwrap_or_default(),
                table.layout.sheet,
                table.layout.header_row
            )));
            return None;
        }
        let table = Arc::new(table);
        if let Screen::Sheet(state) = &mut self.screen {
            state.reading = None;
            self.session.sheets.clone_from(&state.sheets);
        }
        self.session.mapping = auto_match(&table.layout.headers);
        self.session.zero_padded = padded;
        self.session.table = Some(Arc::clone(&table));
        self.session.report = None;
        self.history.clear();
        self.push(Screen::Map(MapState::new(&table)));
        if let Some(profile) = self.session.profile.clone() {
            self.use_profile(&profile);
        }
        Some(Command::ListProfiles)
    }

    /// The corrected sheet, cut to the rows to retry, is checked with the same mapping: Map
    /// (behind) and Check, then the usual Preview, Connect and Plan make it a new import.
    fn reloaded_for_retry(
        &mut self,
        mut table: Table,
        rows: &std::collections::HashSet<u32>,
    ) -> Option<Command> {
        table.retain(|number| rows.contains(&number));
        table.blank_rows = 0;
        let kept = table.len();
        if kept == 0 {
            if let Screen::Results(state) = &mut self.screen {
                state.notice = None;
            }
            self.overlay = Some(Overlay::Error(format!(
                "{}: none of the {} rows to retry is in sheet '{}' any more",
                self.file_name().unwrap_or_default(),
                rows.len(),
                table.layout.sheet
            )));
            return None;
        }
        let connect = std::mem::take(&mut self.history)
            .into_iter()
            .find_map(|s| match s {
                Screen::Connect(state) => Some(Box::new(state)),
                _ => None,
            });
        self.session.connect = connect.or(self.session.connect.take());
        self.session.table = Some(Arc::new(table));
        self.session.report = None;
        self.session.account = None;
        self.session.plan = None;
        self.session.outcomes = None;
        let table = self.session.table.clone()?;
        let mut map = MapState::new(&table);
        map.notice = Some(Notice::Info(format!(
            "{} {kept} of {} rows",
            super::strings::RETRY_SHEET,
            rows.len()
        )));
        self.screen = Screen::Map(map);
        self.start_check()
    }

    /// Offers the saved profile that fits the sheet best, unless the mapping is already chosen.
    fn offer_profile(&mut self, profiles: &[Profile]) {
        let Screen::Map(state) = &mut self.screen else {
            return;
        };
        let Some(table) = &self.session.table else {
            return;
        };
        if state.profile_name.is_some() || self.session.unsaved || state.popup.is_some() {
            return;
        }
        let best = profiles
            .iter()
            .map(|p| {
                let fit = p.apply(&table.layout.headers);
                (fit.score(p), p, fit)
            })
            .filter(|(score, p, _)| *score >= OFFER_FIT && p.columns.len() >= 2)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, profile, fit)) = best {
            state.popup = Some(MapPopup::Offer(Box::new(Offer {
                profile: profile.clone(),
                fit,
            })));
        }
    }
}

/// `POST …/create_many (1), PUT …/update_many (1)`: where a plan's organization requests go
/// (the new ones are created, the others updated by id after them); `nothing to send` when
/// the plan sends none.
fn organization_endpoints(routes: crate::session::check::Routes) -> String {
    use crate::session::check::{Mode, organization_endpoint};
    let creates = routes.requests - routes.moved;
    let sent: Vec<String> = [(Mode::Create, creates), (Mode::Update, routes.moved)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(mode, n)| {
            let (method, path) = organization_endpoint(mode);
            format!("{method} {path} ({n})")
        })
        .collect();
    if sent.is_empty() {
        return "nothing to send".to_owned();
    }
    sent.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::source::{Cell, TableLayout};

    #[test]
    fn a_plan_of_organizations_names_each_endpoint_with_its_requests() {
        let routes = |requests, moved| crate::session::check::Routes {
            rows: 250,
            requests,
            moved,
            skipped: 0,
        };
        assert_eq!(
            organization_endpoints(routes(3, 1)),
            "POST /api/v2/organizations/create_many (2), PUT /api/v2/organizations/update_many (1)"
        );
        assert_eq!(
            organization_endpoints(routes(2, 2)),
            "PUT /api/v2/organizations/update_many (2)"
        );
        assert_eq!(organization_endpoints(routes(0, 0)), "nothing to send");
    }

    fn table() -> Table {
        let headers: Vec<String> = ["Full Name", "E-mail", "Plan"].map(str::to_owned).to_vec();
        let rows = (0..150u32)
            .map(|i| Row {
                number: i + 4,
                cells: vec![
                    Cell::Text(if i == 5 {
                        String::new()
                    } else {
                        format!("Person {i}")
                    }),
                    Cell::Text(format!("p{i}@example.com")),
                    Cell::Text("Gold".into()),
                ],
            })
            .collect();
        let layout = TableLayout {
            sheet: "Customers".into(),
            header_row: 3,
            first_column: 0,
            headers,
        };
        Table::from_rows(layout, rows, 0)
    }

    fn profile() -> Profile {
        serde_json::from_str(
            r#"{"version":1,"name":"crm","mode":"create","columns":[
                {"source":"full name","target":"name"},{"source":"E-MAIL","target":"email"},
                {"source":"Plan","target":"user_fields.plan"}]}"#,
        )
        .unwrap()
    }

    /// An app on the Map screen of `table()`, as after the operator pressed Enter on Sheet.
    fn mapped_app() -> (App, Option<Command>) {
        let mut app = App::new(OpenState::new("/tmp".into(), Vec::new()));
        app.screen = Screen::Sheet(SheetState::new(Vec::new(), 0));
        let command = app.handle(AppEvent::TableLoaded(table(), Vec::new()));
        (app, command)
    }

    fn map_state(app: &App) -> &MapState {
        match &app.screen {
            Screen::Map(s) => s,
            other => panic!("not on Map: {:?}", other.step()),
        }
    }

    #[test]
    fn a_loaded_table_is_matched_and_a_fitting_profile_offered() {
        let (mut app, command) = mapped_app();
        assert_eq!(command, Some(Command::ListProfiles));
        assert_eq!(
            app.session.mapping.mapped().count(),
            2,
            "name and email by alias"
        );
        app.handle(AppEvent::ProfilesListed(vec![profile()]));
        assert!(matches!(map_state(&app).popup, Some(MapPopup::Offer(_))));
        assert_eq!(app.key_context(), KeyContext::Confirm);
        app.update(Action::Yes);
        assert_eq!(app.session.mode, Mode::Create);
        assert_eq!(app.session.mapping.mapped().count(), 3);
        assert_eq!(map_state(&app).profile_name.as_deref(), Some("crm"));
        assert!(!app.session.unsaved);
    }

    #[test]
    fn a_profile_that_does_not_fit_is_not_offered() {
        let (mut app, _) = mapped_app();
        let mut other = profile();
        other.columns[0].source = "Vorname".into();
        other.columns[1].source = "Nachname".into();
        app.handle(AppEvent::ProfilesListed(vec![other]));
        assert!(map_state(&app).popup.is_none());
        assert_eq!(map_state(&app).saved.len(), 1, "still listed for p");
    }

    #[test]
    fn map_check_preview_and_back() {
        let (mut app, _) = mapped_app();
        app.update(Action::Mode);
        assert_eq!(app.session.mode, Mode::Update);
        assert!(app.session.unsaved);
        // Update mode needs id or external_id: Check refuses and says why.
        assert_eq!(app.update(Action::Next), None);
        assert!(
            matches!(&map_state(&app).notice, Some(Notice::Error(e)) if e.contains("update mode needs"))
        );
        app.update(Action::Mode);
        assert_eq!(app.session.mode, Mode::Create);
        let Some(Command::Check {
            table,
            mapping,
            options,
        }) = app.update(Action::Next)
        else {
            panic!("check command")
        };
        assert_eq!(app.screen.step(), 3);
        let report = check::offline(&table, &mapping, &options, &|| false).unwrap();
        assert_eq!((report.ready, report.errors), (149, 1));
        app.handle(AppEvent::Checked(report));
        app.update(Action::Next);
        let Screen::Preview(preview) = &app.screen else {
            panic!("preview")
        };
        // 149 users laid out for the 10 jobs Connect offers: one round, evened out.
        assert_eq!((preview.batches, preview.rows.len()), (5, 30));
        // Row 9 has no name: not sent; row 150 is in the last request.
        app.update(Action::Jump);
        for c in "9".chars() {
            app.update(Action::Char(c));
        }
        app.update(Action::Enter);
        let Screen::Preview(preview) = &app.screen else {
            panic!("preview")
        };
        assert!(
            preview
                .notice
                .as_deref()
                .is_some_and(|n| n.starts_with("row 9 is not sent"))
        );
        app.update(Action::Jump);
        for c in "150".chars() {
            app.update(Action::Char(c));
        }
        app.update(Action::Enter);
        let Screen::Preview(preview) = &app.screen else {
            panic!("preview")
        };
        assert_eq!(preview.batch, 4);
        assert!(preview.lines[preview.scroll + 1].contains("Person 146"));
        // Esc walks back through Check to Map, which kept its state.
        app.update(Action::Back);
        assert_eq!(app.screen.step(), 3);
        app.update(Action::Back);
        assert_eq!(app.screen.step(), 2);
        assert_eq!(app.session.mode, Mode::Create);
    }

    #[test]
    fn quitting_with_an_unsaved_mapping_asks_and_saving_clears_it() {
        let (mut app, _) = mapped_app();
        app.update(Action::Ignore);
        app.update(Action::Quit);
        assert_eq!(app.overlay, Some(Overlay::ConfirmQuit));
        app.update(Action::No);
        app.update(Action::SaveProfile);
        for c in "crm".chars() {
            app.update(Action::Char(c));
        }
        let Some(Command::SaveProfile(saved)) = app.update(Action::Enter) else {
            panic!("save command")
        };
        assert_eq!(saved.columns[0].target, None);
        app.handle(AppEvent::ProfileSaved(Ok((
            "crm".into(),
            "/c/crm.json".into(),
        ))));
        assert_eq!(app.update(Action::Quit), Some(Command::Quit));
    }

    #[test]
    fn leaving_check_while_it_runs_cancels_it() {
        let (mut app, _) = mapped_app();
        app.update(Action::Next);
        assert_eq!(app.update(Action::Back), Some(Command::CancelLoad));
        assert_eq!(app.screen.step(), 2);
        // A report that arrives late is kept but does not move the screen.
        app.handle(AppEvent::Cancelled);
        assert_eq!(app.screen.step(), 2);
    }

    /// Connect's answer for a successful test.
    fn signed_in() -> Connection {
        Connection::Connected(Account {
            url: "https://acme.zendesk.com".into(),
            name: "Ops".into(),
            email: "ops@acme.com".into(),
            role: "admin".into(),
            warning: None,
            doctor: Vec::new(),
        })
    }

    /// An app whose import finished: history Map … Connect (signed in), Plan, Run.
    fn finished_app() -> App {
        let (mut app, _) = mapped_app();
        app.update(Action::Next);
        let report = check::offline(
            &Arc::new(table()),
            &app.session.mapping,
            &app.session.options(),
            &|| false,
        )
        .unwrap();
        app.handle(AppEvent::Checked(report));
        app.update(Action::Next);
        app.update(Action::Next);
        let Screen::Connect(connect) = &mut app.screen else {
            panic!("connect")
        };
        connect.connection = signed_in();
        connect.row = 99;
        let Some(Command::CheckAccount { .. }) = app.update(Action::Next) else {
            panic!("account check")
        };
        let mut run = RunState::new(std::time::Instant::now());
        run.status = RunStatus::Finished;
        app.push(Screen::Run(Box::new(run)));
        app.session.outcomes = Some(Arc::new(Vec::new()));
        app
    }

    #[test]
    fn answers_for_a_screen_left_since_are_dropped_by_the_screen_showing() {
        let (mut app, _) = mapped_app();
        let before = format!("{:?}", app.screen);
        for event in [
            AppEvent::Connected(Err("refused".into())),
            AppEvent::Planned(Err("late".into())),
            AppEvent::Tick(std::time::Instant::now()),
            AppEvent::Exported(Ok("/tmp/x.csv".into())),
            AppEvent::Progress {
                rows: 5,
                percent: None,
            },
        ] {
            assert_eq!(app.handle(event), None);
        }
        assert_eq!(format!("{:?}", app.screen), before, "Map is as it was");
        assert!(app.overlay.is_none());
    }

    #[test]
    fn results_asked_for_before_the_outcomes_are_read_open_when_they_arrive() {
        let mut app = finished_app();
        app.session.outcomes = None;
        assert_eq!(app.update(Action::Next), None);
        assert_eq!(app.screen.step(), 7, "still on Run: nothing to show yet");
        let row = RowOutcome::new(
            2,
            Outcome::NotSent,
            &crate::session::run::UserKey::default(),
        );
        app.handle(AppEvent::ImportEnded(Ok((Summary::default(), vec![row]))));
        let Screen::Results(results) = &app.screen else {
            panic!("results open once the outcomes arrive")
        };
        assert_eq!(results.outcomes.len(), 1);
        // A new run forgets the last one's outcomes: its Results wait for its own.
        app.session.run_dir = Some("/runs/r1".into());
        assert!(matches!(
            app.update(Action::ResumeRun),
            Some(Command::ResumeImport(_))
        ));
        assert!(app.session.outcomes.is_none());
    }

    #[test]
    fn after_a_run_esc_goes_back_to_a_fresh_plan_and_on_to_map() {
        let mut app = finished_app();
        app.update(Action::Next);
        assert_eq!(app.screen.step(), 8, "results");
        let command = app.update(Action::Back);
        assert!(
            matches!(command, Some(Command::CheckAccount { .. })),
            "the account is checked again: {command:?}"
        );
        let Screen::Plan(plan) = &app.screen else {
            panic!("plan")
        };
        assert_eq!(plan.stage, Stage::Checking, "the old plan is gone");
        app.update(Action::Back);
        assert_eq!(app.screen.step(), 5, "connect");
        app.update(Action::Back);
        app.update(Action::Back);
        app.update(Action::Back);
        assert_eq!(app.screen.step(), 2, "map");
    }

    #[test]
    fn esc_on_a_running_import_does_not_leave_it() {
        let mut app = finished_app();
        if let Screen::Run(run) = &mut app.screen {
            run.status = RunStatus::Running;
        }
        assert_eq!(app.update(Action::Back), None);
        assert_eq!(app.screen.step(), 7);
        assert_eq!(app.update(Action::NewImport), None);
        assert_eq!(app.screen.step(), 7);
    }

    #[test]
    fn a_new_import_starts_at_open_and_keeps_the_signed_in_account() {
        let mut app = finished_app();
        app.session.concurrency = 7;
        let Some(Command::ListDir(dir)) = app.update(Action::NewImport) else {
            panic!("list the folder")
        };
        assert!(dir.is_absolute());
        assert_eq!(app.screen.step(), 0);
        assert!(app.history.is_empty());
        assert!(app.session.table.is_none() && app.session.report.is_none());
        assert_eq!(app.session.concurrency, 7);
        app.session.table = Some(Arc::new(table()));
        app.session.report = Some(Arc::new(Report::default()));
        app.open_connect();
        let Screen::Connect(connect) = &app.screen else {
            panic!("connect")
        };
        assert!(connect.is_connected(), "signed in from the first import");
    }

    #[test]
    fn ctrl_c_asks_like_q_and_a_second_one_quits() {
        let (mut app, _) = mapped_app();
        app.update(Action::Ignore);
        assert_eq!(app.update(Action::Interrupt), None);
        assert_eq!(app.overlay, Some(Overlay::ConfirmQuit));
        assert_eq!(app.update(Action::Interrupt), Some(Command::Quit));
        assert!(app.quit);
        let (mut calm, _) = mapped_app();
        assert_eq!(calm.update(Action::Interrupt), Some(Command::Quit));
    }

    #[test]
    fn the_quit_dialog_saves_the_mapping_from_any_screen() {
        let (mut app, _) = mapped_app();
        app.update(Action::Ignore);
        app.update(Action::Next);
        assert_eq!(app.screen.step(), 3);
        app.update(Action::Quit);
        app.update(Action::SaveProfile);
        assert!(app.overlay.is_none());
        assert_eq!(app.screen.step(), 2, "map, asking for the profile name");
        assert_eq!(app.key_context(), KeyContext::Typing);
        for c in "crm".chars() {
            app.update(Action::Char(c));
        }
        assert!(matches!(
            app.update(Action::Enter),
            Some(Command::SaveProfile(_))
        ));
    }

    #[test]
    fn resuming_without_credentials_asks_on_connect_then_resumes() {
        let mut app = App::new(OpenState::new("/tmp".into(), Vec::new()));
        app.push(Screen::Run(Box::new(RunState::new(
            std::time::Instant::now(),
        ))));
        app.handle(AppEvent::ResumeNeedsSignIn {
            run_dir: "/runs/r1".into(),
            account: "https://acme.zendesk.com/".into(),
            reason: "no credentials".into(),
        });
        let Screen::Connect(connect) = &mut app.screen else {
            panic!("connect")
        };
        assert_eq!(connect.url.text, "https://acme.zendesk.com/");
        assert!(matches!(&connect.connection, Connection::Failed(m) if m.contains("r1")));
        connect.connection = signed_in();
        connect.row = 99;
        assert_eq!(
            app.update(Action::Next),
            Some(Command::ResumeImport("/runs/r1".into()))
        );
        assert_eq!(app.screen.step(), 7);
        assert!(app.session.resume.is_none());
    }

    fn failed_row(row: u32, code: &str) -> RowOutcome {
        let mut o = RowOutcome::new(
            row,
            Outcome::Failed,
            &crate::session::run::UserKey::default(),
        );
        o.error = Some(code.into());
        o
    }

    #[test]
    fn retry_asks_then_sends_what_can_succeed_or_rereads_the_corrected_sheet() {
        let mut app = finished_app();
        app.session.path = Some("/data/users.xlsx".into());
        app.session.run_dir = Some("/runs/r1".into());
        app.session.outcomes = Some(Arc::new(vec![
            failed_row(5, "DuplicateValue"),
            failed_row(6, "HTTP503"),
            RowOutcome::new(
                7,
                Outcome::Unknown,
                &crate::session::run::UserKey::default(),
            ),
            failed_row(9, "RecordInvalid"),
        ]));
        app.update(Action::Next);
        assert_eq!(app.update(Action::Retry), None);
        let Some(Overlay::ConfirmRetry(question)) = &app.overlay else {
            panic!("asks first: {:?}", app.overlay)
        };
        assert!(
            question.text.contains("send again 2 rows"),
            "{}",
            question.text
        );
        assert!(question.text.contains("2 failed for their data"));
        assert_eq!(question.refused, vec![5, 9]);
        // c: the same sheet and header row are read again …
        let Some(Command::Reload {
            path,
            sheet,
            header,
        }) = app.update(Action::RetryCorrected)
        else {
            panic!("reload")
        };
        assert_eq!(path, PathBuf::from("/data/users.xlsx"));
        assert_eq!(
            (sheet.as_str(), header),
            ("Customers", HeaderChoice::Row(3))
        );
        // … and only the refused rows are checked, with the same mapping.
        let Some(Command::Check { table, .. }) =
            app.handle(AppEvent::TableLoaded(table(), Vec::new()))
        else {
            panic!("check")
        };
        let rows = table.numbers().to_vec();
        assert_eq!(rows, vec![5, 9]);
        assert_eq!(app.screen.step(), 3);
        assert_eq!(app.session.mapping.mapped().count(), 2);
        assert!(app.session.connect.is_some(), "still signed in");
        // y instead: the rows that can succeed, as a new run.
        let mut again = finished_app();
        again.session.run_dir = Some("/runs/r1".into());
        again.session.outcomes = Some(Arc::new(vec![failed_row(6, "HTTP503")]));
        again.update(Action::Next);
        again.update(Action::Retry);
        assert!(matches!(
            again.update(Action::Yes),
            Some(Command::RetryImport {
                rows: crate::session::run::RetryRows::Retryable,
                ..
            })
        ));
    }

    #[test]
    fn export_writes_the_filtered_rows_and_asks_before_replacing_a_file() {
        let mut app = finished_app();
        app.session.outcomes = Some(Arc::new(vec![
            failed_row(5, "DuplicateValue"),
            RowOutcome::new(
                7,
                Outcome::Created,
                &crate::session::run::UserKey::default(),
            ),
        ]));
        app.update(Action::Next);
        app.update(Action::Filter);
        let existing = tempfile::NamedTempFile::new().unwrap();
        app.update(Action::Export);
        if let Screen::Results(state) = &mut app.screen {
            state.input = Some(super::super::screens::results::ResultsInput::Export(
                crate::tui::widgets::input::TextInput::new(&existing.path().to_string_lossy()),
            ));
        }
        assert_eq!(app.update(Action::Enter), None);
        assert!(matches!(app.overlay, Some(Overlay::ConfirmOverwrite(_))));
        let Some(Command::Export { outcomes, .. }) = app.update(Action::Yes) else {
            panic!("export")
        };
        assert_eq!(outcomes.len(), 1, "the failed row the filter shows");
    }

    #[test]
    fn a_header_with_no_rows_under_it_says_so_and_stays_on_sheet() {
        let mut app = App::new(OpenState::new("/tmp".into(), Vec::new()));
        app.session.path = Some("/data/empty.xlsx".into());
        app.screen = Screen::Sheet(SheetState::new(Vec::new(), 0));
        let mut empty = table();
        empty.retain(|_| false);
        assert_eq!(app.handle(AppEvent::TableLoaded(empty, Vec::new())), None);
        assert_eq!(app.screen.step(), 1, "still on Sheet");
        let Some(Overlay::Error(message)) = &app.overlay else {
            panic!("says why")
        };
        assert!(
            message.contains("empty.xlsx: sheet 'Customers' has its header on row 3 and no rows"),
            "{message}"
        );
    }

    #[test]
    fn an_upsert_without_a_name_column_is_not_called_ready() {
        let (mut app, _) = mapped_app();
        app.session.mode = Mode::Upsert;
        if let Some(c) = app
            .session
            .mapping
            .columns
            .iter_mut()
            .find(|c| c.target == Some(crate::session::check::Target::Name))
        {
            c.target = None;
        }
        let cautions = checked_cautions(&mut app);
        assert_eq!(cautions.len(), 1);
        assert!(cautions[0].contains("users new to Zendesk need one"));
    }

    /// Map → Check, the rows checked as the executor would: the Check screen's cautions.
    fn checked_cautions(app: &mut App) -> Vec<String> {
        let Some(Command::Check {
            table,
            mapping,
            options,
        }) = app.update(Action::Next)
        else {
            panic!("check")
        };
        let report = check::offline(&table, &mapping, &options, &|| false).unwrap();
        app.handle(AppEvent::Checked(report));
        let Screen::Check(check) = &app.screen else {
            panic!("check screen")
        };
        check.cautions.clone()
    }

    #[test]
    fn leading_zeros_only_in_the_excel_format_are_cautioned_until_padded() {
        let mut app = App::new(OpenState::new("/tmp".into(), Vec::new()));
        app.screen = Screen::Sheet(SheetState::new(Vec::new(), 0));
        let mapped = table()
            .layout
            .headers
            .iter()
            .position(|h| {
                crate::session::check::auto_match(std::slice::from_ref(h)).columns[0]
                    .target
                    .is_some()
            })
            .expect("a mapped column");
        let padded = vec![ZeroPadded {
            index: mapped,
            digits: 5,
            held: "6083".into(),
            shown: "06083".into(),
        }];
        app.handle(AppEvent::TableLoaded(table(), padded));
        let cautions = checked_cautions(&mut app);
        assert!(
            cautions
                .iter()
                .any(|c| c.contains("Excel shows 06083 (format 00000)") && c.contains("pad 5")),
            "{cautions:?}"
        );
        // Padded as the caution says: nothing more to say about that column.
        app.update(Action::Back);
        app.session.mapping.columns[mapped].transform.pad = Some(5);
        let cautions = checked_cautions(&mut app);
        assert!(
            !cautions.iter().any(|c| c.contains("format 00000")),
            "{cautions:?}"
        );
    }

    #[test]
    fn loading_a_text_file_says_how_far_through_the_file_it_is() {
        let mut app = App::new(OpenState::new("/tmp".into(), Vec::new()));
        let mut sheet = SheetState::new(Vec::new(), 0);
        sheet.reading = Some(0);
        app.screen = Screen::Sheet(sheet);
        app.handle(AppEvent::Progress {
            rows: 20_000,
            percent: Some(37),
        });
        let Screen::Sheet(sheet) = &app.screen else {
            panic!("sheet")
        };
        assert_eq!(
            (sheet.reading, sheet.reading_percent),
            (Some(20_000), Some(37))
        );
    }
}
