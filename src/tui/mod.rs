//! The operator's TUI: terminal setup, one async event loop, teardown.
//!
//! Keys become actions (`keymap`), actions change the `App` (`app`), and the disk work the app
//! asks for runs on blocking threads whose answers come back on one channel.

pub mod action;
pub mod app;
pub mod keymap;
mod lanes;
pub mod screens;
pub mod strings;
pub mod widgets;
mod work;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use ratatui::crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, MouseEventKind,
};
use ratatui::crossterm::execute;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::Line;
use ratatui::{DefaultTerminal, Frame};
use tokio::sync::mpsc;

use crate::session::source::{self, HeaderChoice, Workbook};
use action::Action;
use app::{App, AppEvent, Command, Overlay, Screen};
use screens::open::{self, OpenState};

/// How often the Run screen's clocks move while an import runs.
const TICK: std::time::Duration = std::time::Duration::from_millis(250);
/// Rows between two progress reports while a table loads.
const PROGRESS_EVERY: u64 = 20_000;
/// Non-blank rows shown on the Sheet screen.
const PREVIEW_ROWS: usize = 60;

/// Runs the TUI until the operator quits; the terminal is restored on every path.
pub fn run(
    file: Option<PathBuf>,
    profile: Option<crate::profile::Profile>,
    sandbox: Option<Option<PathBuf>>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The sandbox lives as long as the session; it is started before the terminal is taken so
    // that a failure is an ordinary error message.
    let sandbox = match sandbox {
        Some(seed) => Some(
            runtime
                .block_on(crate::session::account::start_sandbox(seed.as_deref()))
                .map_err(|e| std::io::Error::other(e.to_string()))?,
        ),
        None => None,
    };
    let mut terminal = ratatui::try_init()?;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
        hook(info);
    }));
    let _ = execute!(std::io::stdout(), EnableMouseCapture);
    let result = runtime.block_on(event_loop(&mut terminal, file, profile, sandbox.as_ref()));
    let _ = execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

/// Work shared with the blocking threads and tasks.
#[derive(Clone, Default)]
struct Worker {
    workbook: Arc<Mutex<Option<Workbook>>>,
    /// The current request of each lane, its answers the only ones that land.
    lanes: lanes::Lanes,
    /// The signed-in client, once the connection test passed.
    client: Arc<Mutex<Option<Arc<crate::zendesk::Client>>>>,
    /// Environment seen by sign-in when the session runs on the sandbox.
    sandbox_env: Option<Arc<Vec<(String, String)>>>,
    /// The running import's pause and cancel.
    import: work::ControlSlot,
}

impl Worker {
    /// The environment sign-in reads: the process's, or the session sandbox's credentials.
    fn env(&self) -> work::Env {
        match self.sandbox_env.clone() {
            Some(env) => {
                Arc::new(move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            }
            None => Arc::new(|k: &str| std::env::var(k).ok()),
        }
    }

    /// The signed-in client and the engine's pace, or why an import cannot start.
    fn target(&self) -> Result<work::Target, String> {
        let client = self
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or("not connected: test the connection first")?;
        Ok(work::Target {
            client,
            sandbox_speed: self
                .sandbox_env
                .as_ref()
                .map(|_| crate::session::account::SANDBOX_SPEED),
            controls: Arc::clone(&self.import),
        })
    }
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    file: Option<PathBuf>,
    profile: Option<crate::profile::Profile>,
    sandbox: Option<&crate::sandbox::SandboxHandle>,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<AppEvent>(32);
    let mut worker = Worker::default();
    let start_dir = std::env::current_dir()?;
    let mut app = App::new(OpenState::new(start_dir.clone(), Vec::new()));
    app.session.profile = profile;
    if let Some(sandbox) = sandbox {
        app.session.sandbox_url = Some(sandbox.url().to_string());
        worker.sandbox_env = Some(Arc::new(crate::session::account::sandbox_env(sandbox)));
    }
    let first = match file {
        Some(path) => Command::OpenFile(path),
        None => Command::ListDir(start_dir),
    };
    if let Command::OpenFile(path) = &first {
        app.update(Action::Home);
        if let Screen::Open(state) = &mut app.screen {
            state.loading = Some(open::Loading {
                path: path.clone(),
                rows: 0,
                expected: None,
            });
        }
    }
    execute(first, &worker, &tx);
    let mut events = EventStream::new();
    let terminated = terminated();
    tokio::pin!(terminated);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !app.quit {
        terminal.draw(|frame| draw(frame, &mut app))?;
        let mut commands = Vec::new();
        tokio::select! {
            Some(Ok(event)) = events.next() => commands.extend(terminal_event(&mut app, &event)),
            Some(event) = rx.recv() => {
                commands.extend(app.handle(event));
                // Take in what else arrived before drawing again: one frame per batch.
                while let Ok(more) = rx.try_recv() {
                    commands.extend(app.handle(more));
                }
            }
            () = &mut terminated => commands.extend(app.update(Action::ForceQuit)),
            now = tick.tick(), if app.ticking() => {
                commands.extend(app.handle(AppEvent::Tick(now.into_std())));
            }
        }
        for command in commands {
            execute(command, &worker, &tx);
        }
    }
    Ok(())
}

/// SIGTERM or SIGHUP (the terminal closed): leave as Ctrl-C does, restoring the terminal.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
}

fn terminal_event(app: &mut App, event: &Event) -> Option<Command> {
    let action = match event {
        Event::Key(_) => event
            .as_key_press_event()
            .and_then(|key| keymap::action(app.key_context(), key)),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => Some(Action::ScrollUp),
            MouseEventKind::ScrollDown => Some(Action::ScrollDown),
            _ => None,
        },
        _ => None,
    }?;
    app.update(action)
}

/// Runs a command's I/O off the event loop.
fn execute(command: Command, worker: &Worker, tx: &mpsc::Sender<AppEvent>) {
    let worker = worker.clone();
    // A request that can go stale answers through its lane: a newer one in the same lane
    // stops it and drops what it still says.
    let ticket = lanes::Lane::of(&command).map(|lane| worker.lanes.start(lane));
    let tx = match &ticket {
        Some(ticket) => worker.lanes.answers(ticket, tx),
        None => tx.clone(),
    };
    match command {
        Command::Quit => {}
        Command::CancelLoad => {
            worker.lanes.stop(lanes::Lane::Workbook);
            worker.lanes.stop(lanes::Lane::Check);
        }
        Command::StartImport(run) => {
            spawn_import(&worker, tx, move |target, tx| work::start(run, target, tx));
        }
        Command::RetryImport {
            run_dir,
            concurrency,
            rows,
        } => {
            spawn_import(&worker, tx, move |target, tx| {
                work::retry(run_dir, rows, concurrency, target, tx)
            });
        }
        Command::ResumeImport(dir) => {
            let env = worker.env();
            let controls = Arc::clone(&worker.import);
            let speed = worker
                .sandbox_env
                .as_ref()
                .map(|_| crate::session::account::SANDBOX_SPEED);
            let connected = worker
                .client
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let sender = tx.clone();
            engine_thread(tx, move || {
                work::resume(dir, env, connected, speed, controls, sender)
            });
        }
        Command::CheckAccount {
            table,
            mapping,
            options,
        } => {
            spawn_import(&worker, tx, move |target, tx| async move {
                let answer = work::check_account(&target.client, table, mapping, options).await;
                let _ = tx.send(AppEvent::AccountChecked(answer)).await;
            });
        }
        Command::BuildPlan { account, options } => {
            spawn_import(&worker, tx, move |target, tx| async move {
                let answer = work::build_plan(&target.client, &account, options).await;
                let _ = tx.send(AppEvent::Planned(answer)).await;
            });
        }
        Command::PauseImport(paused) => work::pause(&worker.import, paused),
        Command::CancelImport => work::cancel(&worker.import),
        Command::SentUser { dir, index } => {
            tokio::task::spawn_blocking(move || {
                let body = crate::import::journal::sent_user(&dir, index)
                    .map(|user| {
                        user.and_then(|u| serde_json::to_string_pretty(&u).ok())
                            .unwrap_or_default()
                    })
                    .map_err(|e| e.to_string());
                let _ = tx.blocking_send(AppEvent::SentUser { index, body });
            });
        }
        Command::Export { path, outcomes } => {
            tokio::task::spawn_blocking(move || {
                let done = crate::import::report::write(&path, &outcomes)
                    .map(|()| path)
                    .map_err(|e| e.to_string());
                let _ = tx.blocking_send(AppEvent::Exported(done));
            });
        }
        Command::TestConnection(request) => {
            tokio::spawn(async move {
                let answer = test_connection(&request, &worker).await;
                let _ = tx.send(AppEvent::Connected(answer)).await;
            });
        }
        command => {
            let stop = move || ticket.as_ref().is_some_and(lanes::Ticket::stopped);
            tokio::task::spawn_blocking(move || {
                let event = run_blocking(command, &worker, &tx, &stop);
                let _ = tx.blocking_send(event);
            });
        }
    }
}

fn run_blocking(
    command: Command,
    worker: &Worker,
    tx: &mpsc::Sender<AppEvent>,
    stop: &dyn Fn() -> bool,
) -> AppEvent {
    let command = match command {
        Command::ListProfiles => return list_profiles(),
        Command::SaveProfile(profile) => {
            return AppEvent::ProfileSaved(
                crate::profile::save(&profile)
                    .map(|path| (profile.name.clone(), path))
                    .map_err(|e| e.to_string()),
            );
        }
        Command::Check {
            table,
            mapping,
            options,
        } => {
            return match crate::session::check::offline(&table, &mapping, &options, stop) {
                Some(report) => AppEvent::Checked(report),
                None => AppEvent::Cancelled,
            };
        }
        other => other,
    };
    let mut guard = worker
        .workbook
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match command {
        Command::ListDir(dir) => {
            match open::list_dir(&dir, &source::recent_files(), resumable_runs()) {
                Ok(entries) => AppEvent::DirListed { dir, entries },
                Err(e) => AppEvent::Failed(format!("{}: {e}", dir.display())),
            }
        }
        Command::OpenFile(path) => match source::open(&path) {
            Ok(opened) => {
                let wb = opened.workbook;
                let sheets = wb.sheets().to_vec();
                let selected = wb.default_sheet();
                *guard = Some(wb);
                AppEvent::Opened {
                    path,
                    sheets,
                    selected,
                    notes: opened.notes,
                }
            }
            Err(e) => AppEvent::Failed(e.to_string()),
        },
        Command::PreviewSheet(sheet) => match guard.as_mut() {
            Some(wb) => match source::preview(wb, sheet, PREVIEW_ROWS) {
                Ok(preview) => AppEvent::Previewed {
                    sheet,
                    rows: preview.rows,
                    header_row: preview.header_row,
                },
                Err(e) => AppEvent::Failed(e.to_string()),
            },
            None => AppEvent::Failed("no workbook is open".to_owned()),
        },
        Command::LoadTable { sheet, header } => match guard.as_mut() {
            Some(wb) => load_table(wb, sheet, header, stop, tx),
            None => AppEvent::Failed("no workbook is open".to_owned()),
        },
        Command::Reload {
            path,
            sheet,
            header,
        } => match source::open(&path) {
            Ok(opened) => {
                let mut wb = opened.workbook;
                let event = match source::sheet_named(&wb, &path, &sheet) {
                    Ok(index) => load_table(&mut wb, index, header, stop, tx),
                    Err(e) => AppEvent::Failed(e),
                };
                *guard = Some(wb);
                event
            }
            Err(e) => AppEvent::Failed(e.to_string()),
        },
        Command::CancelLoad
        | Command::Quit
        | Command::ListProfiles
        | Command::SaveProfile(_)
        | Command::TestConnection(_)
        | Command::StartImport(_)
        | Command::RetryImport { .. }
        | Command::ResumeImport(_)
        | Command::CheckAccount { .. }
        | Command::BuildPlan { .. }
        | Command::PauseImport(_)
        | Command::CancelImport
        | Command::Export { .. }
        | Command::SentUser { .. }
        | Command::Check { .. } => AppEvent::Cancelled,
    }
}

/// Starts an import when connected; otherwise says why not.
fn spawn_import<F, Fut>(worker: &Worker, tx: mpsc::Sender<AppEvent>, task: F)
where
    F: FnOnce(work::Target, mpsc::Sender<AppEvent>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    match worker.target() {
        Ok(target) => {
            let sender = tx.clone();
            engine_thread(tx, move || task(target, sender));
        }
        Err(e) => {
            tokio::spawn(async move {
                let _ = tx.send(AppEvent::ImportEnded(Err(e))).await;
            });
        }
    }
}

/// Runs an engine future on a thread of its own with a single-threaded runtime.
///
/// A thread of its own keeps the UI's two workers free for drawing and keys however busy the
/// import is (and the sign-in and plan futures it also runs need not be `Send`).
fn engine_thread<F, Fut>(tx: mpsc::Sender<AppEvent>, make: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let failed = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("zdimport-engine".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(make()),
                Err(e) => {
                    let message = format!("cannot start the engine's runtime: {e}");
                    let _ = tx.blocking_send(AppEvent::ImportEnded(Err(message)));
                }
            }
        });
    if let Err(e) = spawned {
        tokio::spawn(async move {
            let message = format!("cannot start the engine's thread: {e}");
            let _ = failed.send(AppEvent::ImportEnded(Err(message))).await;
        });
    }
}

/// Signs in as the form says and asks `users/me`; keeps the client for the import.
async fn test_connection(
    request: &screens::connect::ConnectRequest,
    worker: &Worker,
) -> Result<screens::connect::Account, String> {
    use crate::zendesk::{self, ClientConfig, Credentials};
    use screens::connect::SignInChoice;
    let timeout = std::time::Duration::from_secs(20);
    let (client, warning) = match request.sign_in {
        SignInChoice::Environment => {
            let env = worker.env();
            // The client id typed on Connect wins over ZENDESK_CLIENT_ID.
            let client_id = Some(request.client_id.clone()).filter(|id| !id.is_empty());
            let var = |k: &str| match (k, &client_id) {
                ("ZENDESK_CLIENT_ID", Some(id)) => Some(id.clone()),
                _ => env(k),
            };
            zendesk::connect(Some(&request.url), None, var, timeout)
                .await
                .map_err(|e| explain(&e))?
        }
        choice => {
            let base = zendesk::base_url(Some(&request.url), None).map_err(|e| explain(&e))?;
            let credentials = match choice {
                SignInChoice::ApiToken => Credentials::ApiToken {
                    email: request.email.clone(),
                    token: request.secret(),
                },
                _ => Credentials::Bearer(request.secret()),
            };
            let mut config = ClientConfig::new(base, credentials);
            config.timeout = timeout;
            let warning =
                (choice == SignInChoice::ApiToken).then(crate::zendesk::auth::legacy_token_warning);
            (
                zendesk::Client::new(config).map_err(|e| explain(&e))?,
                warning,
            )
        }
    };
    let me = client.me().await.map_err(|e| explain(&e))?.value;
    let report = crate::doctor::probe(&client).await;
    let account = screens::connect::Account {
        url: client.base_url().to_string(),
        name: me.name.clone().unwrap_or_default(),
        email: me.email.clone().unwrap_or_default(),
        role: me.role.clone().unwrap_or_default(),
        warning,
        doctor: doctor_findings(&report),
    };
    *worker
        .client
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(client));
    Ok(account)
}

/// The account checks the operator must see before sending: failures, then the settings that
/// change what rows do (`zdimport doctor` lists everything).
fn doctor_findings(report: &crate::doctor::Report) -> Vec<String> {
    use crate::doctor::Verdict;
    let failed = report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail && c.topic != "Credentials");
    let mut lines: Vec<String> = failed
        .map(|c| format!("✗ {}: {} — {}", c.topic, c.found, c.action))
        .collect();
    let settled = report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Ok)
        .count();
    lines.push(format!(
        "Account checked (read-only): {settled} of {} as expected; `zdimport doctor` lists all.",
        report.checks.len()
    ));
    lines
}

/// A connection error as the operator needs it: what to do first, Zendesk's words after.
fn explain(error: &crate::zendesk::ZendeskError) -> String {
    use crate::zendesk::ZendeskError;
    let hint = match error {
        ZendeskError::Api { status: 401, .. } => {
            "Zendesk refused the sign-in: check the email and token, or sign in again"
        }
        ZendeskError::Api { status: 403, .. } => {
            "signed in, but this user may not do that: imports need an admin"
        }
        ZendeskError::Api { status: 404, .. } => "no Zendesk account answers at this URL",
        ZendeskError::Connection { reason, .. }
            if reason.contains("dns") || reason.contains("resolve") =>
        {
            "the host name does not resolve: check the URL or subdomain"
        }
        ZendeskError::Connection { reason, .. }
            if reason.contains("certificate") || reason.contains("tls") =>
        {
            "the TLS handshake failed: a proxy or a wrong certificate is in the way"
        }
        ZendeskError::Connection { .. } => "cannot reach the host: check the URL and the network",
        ZendeskError::Timeout { .. } => "no answer in time: the network or Zendesk is slow",
        _ => return error.to_string(),
    };
    format!("{hint} ({error})")
}

/// The saved profiles that can be read; unreadable ones are left out here (`zdimport profiles`
/// lists them with their error).
fn list_profiles() -> AppEvent {
    let saved = crate::profile::list().unwrap_or_default();
    AppEvent::ProfilesListed(saved.into_iter().filter_map(|s| s.profile.ok()).collect())
}

fn load_table(
    wb: &mut Workbook,
    sheet: usize,
    header: HeaderChoice,
    stop: &dyn Fn() -> bool,
    tx: &mpsc::Sender<AppEvent>,
) -> AppEvent {
    let progress = |p: source::Progress| {
        let _ = tx.try_send(AppEvent::Progress {
            rows: p.rows,
            percent: p.percent,
        });
    };
    match source::load(wb, (sheet, header), PROGRESS_EVERY, progress, stop) {
        Ok(Some(table)) => AppEvent::TableLoaded(table),
        Ok(None) => AppEvent::Cancelled,
        Err(e) => AppEvent::Failed(e.to_string()),
    }
}

/// Interrupted runs that can go on from here, newest first (a few).
fn resumable_runs() -> Vec<open::Entry> {
    source::resumable_runs(5)
        .into_iter()
        .map(|r| {
            let file = Path::new(&r.info.file)
                .file_name()
                .map_or_else(|| r.info.file.clone(), |n| n.to_string_lossy().into_owned());
            open::Entry {
                note: format!(
                    "run {}: {file}, {} of {} rows done, to {}",
                    r.info.id,
                    r.done.finished(),
                    r.info.rows,
                    r.info.account
                ),
                path: r.dir,
                kind: open::EntryKind::Run,
                bytes: 0,
            }
        })
        .collect()
}

/// Draws the whole frame: step bar, screen, hint bar, overlay.
pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let file = app.file_name();
    let buf = frame.buffer_mut();
    widgets::step_bar(app.screen.step(), file.as_deref(), top, buf);
    let session = &app.session;
    match &mut app.screen {
        Screen::Open(state) => state.render(body, buf),
        Screen::Sheet(state) => state.render(body, buf),
        Screen::Map(state) => state.render(body, buf, &session.mapping, session.mode),
        Screen::Check(state) => state.render(body, buf, session.table.as_deref()),
        Screen::Preview(state) => state.render(body, buf),
        Screen::Connect(state) => state.render(body, buf),
        Screen::Plan(state) => state.render(body, buf),
        Screen::Run(state) => state.render(body, buf),
        Screen::Results(state) => state.render(body, buf, session.table.as_deref()),
    }
    let context = app.key_context();
    widgets::hint_bar(context, bottom, buf);
    match &app.overlay {
        Some(Overlay::Help) => widgets::help_overlay(screen_context(app), body, buf),
        Some(Overlay::ConfirmQuit) => {
            let question = if app.import_active() {
                strings::QUIT_RUNNING
            } else {
                strings::QUIT_QUESTION
            };
            widgets::popup(
                body,
                buf,
                strings::QUIT_TITLE,
                vec![question.into()],
                if app.session.unsaved && !app.import_active() {
                    strings::QUIT_SAVE_KEYS
                } else {
                    strings::QUIT_KEYS
                },
                widgets::theme::WARNING,
            );
        }
        Some(Overlay::ConfirmImport(text)) => widgets::popup(
            body,
            buf,
            strings::IMPORT_TITLE,
            text.lines().map(|l| Line::from(l.to_owned())).collect(),
            strings::IMPORT_KEYS,
            widgets::theme::ACCENT,
        ),
        Some(Overlay::ConfirmRetry(question)) => widgets::popup(
            body,
            buf,
            strings::RETRY_TITLE,
            question
                .text
                .lines()
                .map(|l| Line::from(l.to_owned()))
                .collect(),
            if question.refused.is_empty() {
                strings::RETRY_KEYS_NO_SHEET
            } else {
                strings::RETRY_KEYS
            },
            widgets::theme::ACCENT,
        ),
        Some(Overlay::ConfirmOverwrite(path)) => widgets::popup(
            body,
            buf,
            strings::OVERWRITE_TITLE,
            vec![format!("{} exists. Replace it with these results?", path.display()).into()],
            strings::OVERWRITE_KEYS,
            widgets::theme::WARNING,
        ),
        Some(Overlay::Error(message)) => widgets::popup(
            body,
            buf,
            strings::ERROR_TITLE,
            vec![message.clone().into()],
            strings::ERROR_KEYS,
            widgets::theme::ERROR,
        ),
        None => {}
    }
}

fn screen_context(app: &App) -> keymap::KeyContext {
    app.screen.screen_context()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::{Cell, Row, SheetInfo, SheetKind, Visibility};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use screens::open::{Entry, EntryKind};
    use screens::sheet::SheetState;

    fn frame(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, app)).unwrap();
        terminal
    }

    fn open_app() -> App {
        let dir = PathBuf::from("/home/ops/exports");
        let entries = vec![
            Entry {
                path: "/home/ops/october/users.csv".into(),
                kind: EntryKind::Recent,
                bytes: 48_213,
                note: String::new(),
            },
            Entry {
                path: "/home/ops".into(),
                kind: EntryKind::Parent,
                bytes: 0,
                note: String::new(),
            },
            Entry {
                path: "/home/ops/exports/2026".into(),
                kind: EntryKind::Folder,
                bytes: 0,
                note: String::new(),
            },
            Entry {
                path: "/home/ops/exports/crm_contacts.xlsx".into(),
                kind: EntryKind::File,
                bytes: 1_843_200,
                note: String::new(),
            },
            Entry {
                path: "/home/ops/exports/billing.csv".into(),
                kind: EntryKind::File,
                bytes: 912,
                note: String::new(),
            },
        ];
        App::new(OpenState::new(dir, entries))
    }

    fn sheet_app() -> App {
        let mut app = open_app();
        app.session.path = Some("/home/ops/exports/crm_contacts.xlsx".into());
        let sheets = vec![
            SheetInfo {
                name: "Customers".into(),
                visibility: Visibility::Visible,
                kind: SheetKind::Worksheet,
                size: Some((207, 6)),
            },
            SheetInfo {
                name: "Lookup".into(),
                visibility: Visibility::Hidden,
                kind: SheetKind::Worksheet,
                size: Some((4, 2)),
            },
            SheetInfo {
                name: "Chart1".into(),
                visibility: Visibility::Visible,
                kind: SheetKind::Chart,
                size: Some((0, 0)),
            },
        ];
        let text = |s: &str| Cell::Text(s.into());
        let mut rows = vec![
            Row {
                number: 1,
                cells: vec![text("Acme CRM: customer contacts export")],
            },
            Row {
                number: 3,
                cells: [
                    "Full Name",
                    "E-mail",
                    "Customer ID",
                    "Phone",
                    "Plan",
                    "Renewal",
                ]
                .map(text)
                .to_vec(),
            },
        ];
        for i in 0..6u32 {
            rows.push(Row {
                number: 4 + i,
                cells: vec![
                    text(&format!("Person {i}")),
                    text(&format!("person{i}@example.com")),
                    Cell::Float(f64::from(10_000 + i)),
                    Cell::Float(4_915_112_345_000.0),
                    text("Gold"),
                    Cell::DateTime(
                        chrono::NaiveDate::from_ymd_opt(2027, 1, 1 + i)
                            .unwrap()
                            .and_hms_opt(0, 0, 0)
                            .unwrap(),
                    ),
                ],
            });
        }
        let mut state = SheetState::new(sheets, 0);
        state.show_preview(rows, Some(3));
        app.screen = Screen::Sheet(state);
        app
    }

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

    #[test]
    fn help_overlay_and_error_popup() {
        let mut app = sheet_app();
        app.update(Action::Help);
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
        app.update(Action::Back);
        assert_eq!(app.overlay, None);
        app.handle(AppEvent::Failed(
            "users.xlsx: sheet 'Customers': header row 900 is outside the sheet".into(),
        ));
        insta::assert_snapshot!(frame(&mut app, 80, 24).backend());
    }

    #[test]
    fn selection_is_coloured() {
        let terminal = frame(&mut open_app(), 100, 30);
        let buf = terminal.backend().buffer();
        // The first entry (row 4 of the frame, under the typed line) is selected.
        assert_eq!(buf[(2, 4)].bg, ratatui::style::Color::Blue);
        assert_ne!(buf[(2, 5)].bg, ratatui::style::Color::Blue);
    }

    /// The app on the Map screen of a small customer table (one row with a bad email).
    fn map_app() -> App {
        let mut app = sheet_app();
        let headers: Vec<String> = ["Full Name", "E-mail", "Customer ID", "Plan", "Renewal Date"]
            .map(str::to_owned)
            .to_vec();
        let text = |s: &str| Cell::Text(s.into());
        let rows = (0..12u32)
            .map(|i| Row {
                number: 4 + i,
                cells: vec![
                    text(&format!("Person {i}")),
                    text(&if i == 3 {
                        "person3(at)example.com".to_owned()
                    } else {
                        format!("person{i}@example.com")
                    }),
                    Cell::Float(f64::from(10_000 + i)),
                    text(["Gold", "Silver"][i as usize % 2]),
                    Cell::DateTime(
                        chrono::NaiveDate::from_ymd_opt(2027, 1, 1 + i)
                            .unwrap()
                            .and_hms_opt(0, 0, 0)
                            .unwrap(),
                    ),
                ],
            })
            .collect();
        let table = crate::sheet::Table {
            layout: crate::sheet::TableLayout {
                sheet: "Customers".into(),
                header_row: 3,
                first_column: 0,
                headers,
            },
            rows,
            blank_rows: 0,
        };
        app.handle(AppEvent::TableLoaded(table));
        app.handle(AppEvent::ProfilesListed(Vec::new()));
        app
    }

    fn check_app() -> App {
        let mut app = map_app();
        let Some(Command::Check {
            table,
            mapping,
            options,
        }) = app.update(Action::Next)
        else {
            panic!("check command");
        };
        let report = crate::session::check::offline(&table, &mapping, &options, &|| false).unwrap();
        app.handle(AppEvent::Checked(report));
        app
    }

    #[test]
    fn map_screen() {
        insta::assert_snapshot!(frame(&mut map_app(), 100, 30).backend());
        insta::assert_snapshot!("map_screen_80x24", frame(&mut map_app(), 80, 24).backend());
    }

    #[test]
    fn map_screen_popups() {
        let mut app = map_app();
        app.update(Action::Down);
        app.update(Action::Down);
        app.update(Action::Down);
        app.update(Action::Enter);
        for c in "us".chars() {
            app.update(Action::Char(c));
        }
        insta::assert_snapshot!("map_picker", frame(&mut app, 100, 30).backend());
        app.update(Action::Back);
        app.update(Action::CustomField);
        insta::assert_snapshot!("map_custom_field", frame(&mut app, 80, 24).backend());
        app.update(Action::Enter);
        app.update(Action::Transform);
        app.update(Action::Down);
        app.update(Action::Down);
        app.update(Action::Right);
        insta::assert_snapshot!("map_transform", frame(&mut app, 100, 30).backend());
        app.update(Action::Back);
        app.update(Action::Mode);
        app.update(Action::Mode);
        insta::assert_snapshot!("map_missing_for_mode", frame(&mut app, 100, 30).backend());
    }

    #[test]
    fn map_screen_offers_a_saved_profile() {
        let mut app = sheet_app();
        let mut with_table = map_app();
        std::mem::swap(&mut app, &mut with_table);
        let profile: crate::profile::Profile = serde_json::from_str(
            r#"{"version":1,"name":"crm monthly","mode":"create","columns":[
                {"source":"Full Name","target":"name"},{"source":"E-mail","target":"email"},
                {"source":"Plan","target":"user_fields.plan"}]}"#,
        )
        .unwrap();
        if let Screen::Map(state) = &mut app.screen {
            state.profile_name = None;
        }
        app.handle(AppEvent::ProfilesListed(vec![profile]));
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
    }

    #[test]
    fn check_screen() {
        insta::assert_snapshot!(frame(&mut check_app(), 100, 30).backend());
        insta::assert_snapshot!(
            "check_screen_80x24",
            frame(&mut check_app(), 80, 24).backend()
        );
        let mut app = check_app();
        app.update(Action::Enter);
        insta::assert_snapshot!("check_row_detail", frame(&mut app, 100, 30).backend());
        let mut running = map_app();
        running.update(Action::Next);
        insta::assert_snapshot!("check_running", frame(&mut running, 80, 24).backend());
    }

    #[test]
    fn check_errors_are_red() {
        let terminal = frame(&mut check_app(), 100, 30);
        let buf = terminal.backend().buffer();
        let line: String = (0..100).map(|x| buf[(x, 6)].symbol()).collect();
        assert!(line.contains("not a valid email"), "{line}");
        let at = u16::try_from(line.find("'person3").unwrap()).unwrap();
        assert_eq!(buf[(at + 2, 6)].fg, widgets::theme::ERROR);
    }

    fn preview_app() -> App {
        let mut app = check_app();
        app.update(Action::Next);
        app
    }

    /// On every screen, each key the hint bar offers changes what the screen shows or asks
    /// for work: none is a promise that does nothing.
    #[test]
    fn every_hinted_key_does_something_on_every_screen() {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        // Connect with the focus on a choice (the mode) rather than on the test.
        let connect_choice = || {
            let mut app = connect_app();
            for _ in 0..4 {
                app.update(Action::Up);
            }
            assert_eq!(app.key_context(), keymap::KeyContext::Connect);
            app
        };
        let screens: [fn() -> App; 8] = [
            open_app,
            sheet_app,
            map_app,
            check_app,
            preview_app,
            connect_app,
            connect_choice,
            results_app,
        ];
        for make in screens {
            let context = make().key_context();
            for line in keymap::hints(context) {
                for (code, _) in line.binds {
                    let mut app = make();
                    // A move is tried after one the other way, where there is somewhere to go.
                    let other_way = match code {
                        KeyCode::Up => Some(Action::Down),
                        KeyCode::Down => Some(Action::Up),
                        KeyCode::PageUp => Some(Action::PageDown),
                        KeyCode::PageDown => Some(Action::PageUp),
                        KeyCode::Left => Some(Action::Right),
                        KeyCode::Right => Some(Action::Left),
                        KeyCode::Home => Some(Action::End),
                        KeyCode::End => Some(Action::Home),
                        _ => None,
                    };
                    if let Some(other_way) = other_way {
                        app.update(other_way);
                    }
                    let before = format!("{app:?}");
                    let key = KeyEvent::new(*code, KeyModifiers::NONE);
                    let command = keymap::action(context, key).and_then(|a| app.update(a));
                    assert!(
                        command.is_some() || format!("{app:?}") != before,
                        "{context:?}: {} ({code:?}) is hinted but does nothing",
                        line.keys
                    );
                }
            }
        }
    }

    #[test]
    fn preview_screen() {
        let mut app = check_app();
        app.update(Action::Next);
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
        insta::assert_snapshot!("preview_screen_80x24", frame(&mut app, 80, 24).backend());
        app.update(Action::Jump);
        app.update(Action::Char('9'));
        insta::assert_snapshot!("preview_goto", frame(&mut app, 80, 24).backend());
    }

    fn connect_app() -> App {
        let mut app = check_app();
        app.session.sandbox_url = Some("http://127.0.0.1:8080/".into());
        app.update(Action::Next);
        app.update(Action::Next);
        app
    }

    #[test]
    fn connect_screen() {
        let mut app = connect_app();
        assert_eq!(app.screen.step(), 5);
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
        let Some(Command::TestConnection(request)) = app.update(Action::Enter) else {
            panic!("connection test");
        };
        assert_eq!(request.url, "http://127.0.0.1:8080");
        app.handle(AppEvent::Connected(Ok(screens::connect::Account {
            url: "http://127.0.0.1:8080/".into(),
            name: "Sandbox Admin".into(),
            email: "admin@sandbox.example".into(),
            role: "admin".into(),
            warning: None,
            doctor: vec![
                "✗ User tagging: `tagging` off — Zendesk ignores tags on users: a tags column \
                 changes nothing"
                    .into(),
                "Account checked (read-only): 9 of 13 as expected; `zdimport doctor` lists all."
                    .into(),
            ],
        })));
        insta::assert_snapshot!("connect_connected_80x24", frame(&mut app, 80, 24).backend());
        app.handle(AppEvent::Connected(Err(
            "Zendesk refused the sign-in: check the email and token, or sign in again \
             (GET /api/v2/users/me.json: HTTP 401: Couldn't authenticate you)"
                .into(),
        )));
        insta::assert_snapshot!("connect_failed", frame(&mut app, 100, 30).backend());
        // Esc keeps the mode and options chosen here.
        if let Screen::Connect(state) = &mut app.screen {
            state.mode = crate::payload::Mode::Create;
        }
        app.update(Action::Back);
        assert_eq!(app.session.mode, crate::payload::Mode::Create);
        assert_eq!(app.screen.step(), 4);
    }

    fn outcome(row: u32, outcome: crate::import::Outcome) -> crate::import::RowOutcome {
        let key = crate::import::UserKey {
            name: Some(format!("Person {row}")),
            email: Some(format!("person{row}@example.com")),
            external_id: Some(format!("{}", 10_000 + row)),
            ..Default::default()
        };
        let mut o = crate::import::RowOutcome::new(row, outcome, &key);
        o.index = u64::from(row);
        match outcome {
            crate::import::Outcome::Created | crate::import::Outcome::Updated => {
                o.user_id = Some(360_000_000_000 + u64::from(row));
                o.matched_by = Some(crate::import::MatchedBy::Index);
            }
            crate::import::Outcome::Failed => {
                o.error = Some("DuplicateValue".into());
                o.details = Some("Email: person7@example.com is already being used".into());
            }
            crate::import::Outcome::Skipped => {
                o.error =
                    Some("E-mail: 'person3(at)example.com' is not a valid email address".into());
            }
            crate::import::Outcome::Unknown => o.error = Some("JobKilled".into()),
            crate::import::Outcome::NotSent => {
                o.details = Some("not sent: resuming the run sends it".into());
            }
        }
        o
    }

    /// The Run screen of a 12-row import, 5 rows finished, at a fixed clock.
    fn run_app() -> (App, std::time::Instant) {
        use crate::import::{ImportEvent, Outcome, Summary};
        let mut app = connect_app();
        let t0 = std::time::Instant::now();
        app.history.push(std::mem::replace(
            &mut app.screen,
            Screen::Run(screens::run::RunState::new(t0)),
        ));
        app.handle(AppEvent::ImportStarted {
            run_id: "20261127-101500-4821".into(),
            run_dir: "/data/runs/20261127-101500-4821".into(),
            account: "https://acme.zendesk.com/".into(),
        });
        app.handle(AppEvent::Import(ImportEvent::Started {
            rows: 12,
            batches: 2,
            done: Box::new(Summary {
                skipped: 1,
                pending: 11,
                rows: 12,
                ..Summary::default()
            }),
        }));
        app.handle(AppEvent::Import(ImportEvent::BatchSent {
            batch: 0,
            rows: (4..10).collect(),
            attempt: 1,
        }));
        app.handle(AppEvent::Import(ImportEvent::JobUpdate {
            job_id: "V3-8f2a1c".into(),
            status: "working".into(),
            progress: Some(3),
            total: Some(6),
        }));
        app.handle(AppEvent::Import(ImportEvent::RowsFinished(vec![
            outcome(4, Outcome::Created),
            outcome(5, Outcome::Created),
            outcome(6, Outcome::Updated),
            outcome(7, Outcome::Failed),
        ])));
        app.handle(AppEvent::Tick(t0 + std::time::Duration::from_secs(2)));
        (app, t0)
    }

    #[test]
    fn run_screen_states() {
        use crate::import::{ImportEvent, Summary, WaitReason};
        let (mut app, t0) = run_app();
        insta::assert_snapshot!("run_running", frame(&mut app, 100, 30).backend());
        app.handle(AppEvent::Import(ImportEvent::Waiting {
            reason: WaitReason::RateLimit,
            until: t0 + std::time::Duration::from_secs(30),
        }));
        insta::assert_snapshot!("run_rate_limited_80x24", frame(&mut app, 80, 24).backend());
        assert_eq!(app.update(Action::Pause), Some(Command::PauseImport(true)));
        app.handle(AppEvent::Import(ImportEvent::Paused));
        insta::assert_snapshot!("run_paused", frame(&mut app, 100, 30).backend());
        assert_eq!(app.update(Action::Pause), Some(Command::PauseImport(false)));
        assert_eq!(app.update(Action::Cancel), Some(Command::CancelImport));
        app.handle(AppEvent::Import(ImportEvent::Cancelling));
        insta::assert_snapshot!("run_cancelling", frame(&mut app, 100, 30).backend());
        // Quitting while it runs asks, says the run stays resumable, and cancels.
        app.update(Action::Quit);
        assert_eq!(app.overlay, Some(Overlay::ConfirmQuit));
        insta::assert_snapshot!("run_quit_question", frame(&mut app, 80, 24).backend());
        app.update(Action::No);
        app.handle(AppEvent::Import(ImportEvent::Finished(Box::new(Summary {
            rows: 12,
            created: 8,
            updated: 1,
            failed: 1,
            skipped: 1,
            unknown: 1,
            ..Summary::default()
        }))));
        if let Screen::Run(state) = &mut app.screen {
            state.now = t0 + std::time::Duration::from_secs(9);
        }
        insta::assert_snapshot!("run_finished", frame(&mut app, 100, 30).backend());
        assert_eq!(
            app.update(Action::Quit),
            Some(Command::Quit),
            "nothing running: no question"
        );
    }

    #[test]
    fn quitting_during_a_run_cancels_it_and_leaves() {
        let (mut app, _) = run_app();
        app.update(Action::Quit);
        assert_eq!(app.update(Action::Yes), Some(Command::CancelImport));
        assert!(app.quit);
    }

    fn results_app() -> App {
        use crate::import::Outcome;
        let (mut app, _) = run_app();
        let outcomes = vec![
            outcome(4, Outcome::Created),
            outcome(5, Outcome::Created),
            outcome(6, Outcome::Updated),
            outcome(7, Outcome::Failed),
            outcome(8, Outcome::Created),
            outcome(3, Outcome::Skipped),
            outcome(9, Outcome::Unknown),
        ];
        app.handle(AppEvent::ImportEnded(Ok((
            crate::import::Summary::default(),
            outcomes,
        ))));
        app.handle(AppEvent::Import(crate::import::ImportEvent::Finished(
            Box::default(),
        )));
        app.update(Action::Next);
        app
    }

    #[test]
    fn results_screen() {
        let mut app = results_app();
        assert_eq!(app.screen.step(), 8);
        insta::assert_snapshot!(frame(&mut app, 100, 30).backend());
        insta::assert_snapshot!("results_80x24", frame(&mut app, 80, 24).backend());
        app.update(Action::Filter);
        insta::assert_snapshot!("results_failed_only", frame(&mut app, 100, 30).backend());
        let Some(Command::SentUser { dir, index }) = app.update(Action::Enter) else {
            panic!("the user as sent is read from the run's plan");
        };
        assert_eq!(
            (dir, index),
            (PathBuf::from("/data/runs/20261127-101500-4821"), 7)
        );
        app.handle(AppEvent::SentUser {
            index: 99,
            body: Ok("stale".into()),
        });
        app.handle(AppEvent::SentUser {
            index,
            body: Ok(serde_json::to_string_pretty(&serde_json::json!({
                "name": "Person 7", "email": "person7@example.com", "external_id": "10007"
            }))
            .unwrap()),
        });
        insta::assert_snapshot!("results_detail", frame(&mut app, 100, 30).backend());
        app.update(Action::Back);
        app.update(Action::Export);
        let Some(Command::Export { path, outcomes }) = app.update(Action::Enter) else {
            panic!("export command");
        };
        assert_eq!(
            path,
            PathBuf::from("/data/runs/20261127-101500-4821/results.csv")
        );
        assert_eq!(outcomes.len(), 1, "the rows the filter shows");
        assert_eq!(app.update(Action::Retry), None, "asks first");
        insta::assert_snapshot!("results_retry_question", frame(&mut app, 80, 24).backend());
        let Some(Command::RetryImport { run_dir, rows, .. }) = app.update(Action::Yes) else {
            panic!("retry command");
        };
        assert_eq!(rows, crate::import::RetryRows::Retryable);
        assert_eq!(run_dir, PathBuf::from("/data/runs/20261127-101500-4821"));
        assert_eq!(app.screen.step(), 7, "a new run starts");
    }

    #[test]
    fn results_of_a_cancelled_run_show_the_rows_not_sent() {
        use crate::import::Outcome;
        let (mut app, _) = run_app();
        let outcomes = vec![
            outcome(4, Outcome::Created),
            outcome(5, Outcome::Created),
            outcome(6, Outcome::NotSent),
            outcome(7, Outcome::NotSent),
        ];
        app.handle(AppEvent::ImportEnded(Ok((
            crate::import::Summary::default(),
            outcomes,
        ))));
        app.handle(AppEvent::Import(crate::import::ImportEvent::Finished(
            Box::default(),
        )));
        app.update(Action::Next);
        for _ in 0..3 {
            app.update(Action::Filter);
        }
        insta::assert_snapshot!(
            "results_cancelled_not_sent",
            frame(&mut app, 80, 24).backend()
        );
        assert_eq!(
            app.update(Action::ResumeRun),
            Some(Command::ResumeImport(PathBuf::from(
                "/data/runs/20261127-101500-4821"
            )))
        );
        assert_eq!(app.screen.step(), 7);
    }

    #[test]
    fn plan_screen() {
        use crate::plan::{Action as RowAction, Change, Cost, Plan, RowPlan, Spent};
        let mut app = connect_app();
        app.history.push(std::mem::replace(
            &mut app.screen,
            Screen::Plan(screens::plan::PlanState::new(crate::payload::Mode::Upsert)),
        ));
        insta::assert_snapshot!("plan_checking_80x24", frame(&mut app, 80, 24).backend());
        let cost = Cost {
            requests: 1,
            at_most: 12,
            rate_limit: Some(700),
            minutes: 0.0,
        };
        let check = screens::plan::AccountCheck {
            fields: 2,
            problems: Vec::new(),
            ready: 11,
            warnings: 0,
            errors: 1,
            cost,
        };
        if let Screen::Plan(state) = &mut app.screen {
            state.checked(check);
        }
        insta::assert_snapshot!("plan_cost", frame(&mut app, 100, 30).backend());
        let row = |row, action| RowPlan {
            row,
            action,
            user: None,
        };
        let plan = Plan {
            mode: crate::payload::Mode::Upsert,
            rows: vec![
                row(4, RowAction::New),
                row(
                    5,
                    RowAction::Update {
                        id: 360_000_000_105,
                        changes: vec![
                            Change {
                                field: "name".into(),
                                old: "Person One".into(),
                                new: "Person 1".into(),
                            },
                            Change {
                                field: "user_fields.plan".into(),
                                old: "silver".into(),
                                new: "gold".into(),
                            },
                        ],
                    },
                ),
                row(
                    6,
                    RowAction::Unchanged {
                        id: 360_000_000_106,
                    },
                ),
                row(
                    7,
                    RowAction::Invalid {
                        reason: "'person3(at)example.com' is not a valid email address".into(),
                    },
                ),
                row(
                    8,
                    RowAction::Conflict {
                        external_id_user: 1,
                        email_user: 2,
                        reason: "external_id 10004 is user 1, email person4@example.com is user 2"
                            .into(),
                    },
                ),
            ],
            missing_organizations: vec!["Globex".into()],
            warnings: Vec::new(),
            cost,
            spent: Spent {
                requests: 2,
                rate_limited: 0,
            },
        };
        app.handle(AppEvent::Planned(Ok(plan)));
        insta::assert_snapshot!("plan_rows", frame(&mut app, 100, 30).backend());
        insta::assert_snapshot!("plan_rows_80x24", frame(&mut app, 80, 24).backend());
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
