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

#[cfg(test)]
mod testing;

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
    profile: Option<crate::session::profiles::Profile>,
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
    workbook: Arc<Mutex<Option<Held>>>,
    /// The current request of each lane, its answers the only ones that land.
    lanes: lanes::Lanes,
    /// The signed-in client, once the connection test passed.
    client: Arc<Mutex<Option<Arc<crate::session::account::Client>>>>,
    /// Environment seen by sign-in when the session runs on the sandbox.
    sandbox_env: Option<Arc<Vec<(String, String)>>>,
    /// The running import's pause and cancel.
    import: work::ControlSlot,
    /// The run whose sent users the results screen shows, as read so far.
    sent: Arc<Mutex<crate::session::run::SentUsers>>,
}

/// The workbook the session reads, or where it was once its table is loaded.
enum Held {
    Open(Workbook),
    /// A zip workbook whose table is loaded: calamine's shared strings are let go (at a
    /// 1,000,000-row xlsx, 70 MB of the 369 MB held once it was loaded), and the file is
    /// opened again if the operator goes back to its sheets (which must be the sheets it
    /// had: the screens name them by place).
    Released(PathBuf, Vec<String>),
}

impl Held {
    /// The workbook, opened again if it was let go.
    fn workbook(held: &mut Option<Held>) -> Result<&mut Workbook, String> {
        if let Some(Held::Released(path, sheets)) = held {
            let opened = source::open(path).map_err(|e| e.to_string())?;
            let names = opened.workbook.sheets().iter().map(|s| &s.name);
            if !names.eq(sheets.iter()) {
                return Err(format!(
                    "{}: its sheets changed since it was opened; open the file again",
                    path.display()
                ));
            }
            *held = Some(Held::Open(opened.workbook));
        }
        match held {
            Some(Held::Open(workbook)) => Ok(workbook),
            _ => Err("no workbook is open".to_owned()),
        }
    }

    /// After `event`: a zip workbook whose table was just loaded is let go.
    fn settle(held: &mut Option<Held>, event: &AppEvent) {
        let Some(Held::Open(workbook)) = held else {
            return;
        };
        if matches!(event, AppEvent::TableLoaded(..)) && workbook.delimited().is_none() {
            let sheets = workbook.sheets().iter().map(|s| s.name.clone()).collect();
            *held = Some(Held::Released(workbook.path().to_path_buf(), sheets));
        }
    }
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
    profile: Option<crate::session::profiles::Profile>,
    sandbox: Option<&crate::session::account::SandboxHandle>,
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
            let sent = Arc::clone(&worker.sent);
            tokio::task::spawn_blocking(move || {
                let mut sent = sent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let body = sent
                    .user(&dir, index)
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
                let done = crate::session::run::write_outcomes(&path, &outcomes)
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
                crate::session::profiles::save(&profile)
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
                *guard = Some(Held::Open(wb));
                AppEvent::Opened {
                    path,
                    sheets,
                    selected,
                    notes: opened.notes,
                }
            }
            Err(e) => AppEvent::Failed(e.to_string()),
        },
        Command::PreviewSheet(sheet) => match Held::workbook(&mut guard) {
            Ok(wb) => match source::preview(wb, sheet, PREVIEW_ROWS) {
                Ok(preview) => AppEvent::Previewed {
                    sheet,
                    rows: preview.rows,
                    header_row: preview.header_row,
                },
                Err(e) => AppEvent::Failed(e.to_string()),
            },
            Err(e) => AppEvent::Failed(e),
        },
        Command::LoadTable { sheet, header } => match Held::workbook(&mut guard) {
            Ok(wb) => {
                let event = load_table(wb, sheet, header, stop, tx);
                Held::settle(&mut guard, &event);
                event
            }
            Err(e) => AppEvent::Failed(e),
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
                *guard = Some(Held::Open(wb));
                Held::settle(&mut guard, &event);
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
    use crate::session::account::{self, ClientConfig, Credentials};
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
            account::sign_in(Some(&request.url), None, var, timeout)
                .await
                .map_err(|e| explain(&e))?
        }
        choice => {
            let base = account::base_url(Some(&request.url), None).map_err(|e| explain(&e))?;
            let credentials = match choice {
                SignInChoice::ApiToken => Credentials::ApiToken {
                    email: request.email.clone(),
                    token: request.secret(),
                },
                _ => Credentials::Bearer(request.secret()),
            };
            let mut config = ClientConfig::new(base, credentials);
            config.timeout = timeout;
            let warning = (choice == SignInChoice::ApiToken)
                .then(crate::session::account::legacy_token_warning);
            (
                account::Client::new(config).map_err(|e| explain(&e))?,
                warning,
            )
        }
    };
    let me = client.me().await.map_err(|e| explain(&e))?.value;
    let report = crate::session::account::probe(&client).await;
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
fn doctor_findings(report: &crate::session::account::DoctorReport) -> Vec<String> {
    use crate::session::account::Verdict;
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
fn explain(error: &crate::session::account::ZendeskError) -> String {
    use crate::session::account::ZendeskError;
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
    let saved = crate::session::profiles::list().unwrap_or_default();
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
        Ok(Some(table)) => {
            let padded = source::zero_padded(wb, &table.layout);
            AppEvent::TableLoaded(table, padded)
        }
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
    use super::testing::*;

    /// A zip workbook is let go once its table is loaded, and opened again for its sheets
    /// and another load, which gives the same table; a CSV file stays open.
    #[test]
    fn a_loaded_workbook_is_let_go_and_opened_again_for_its_sheets() {
        use super::{AppEvent, Command, HeaderChoice, Held, Worker, run_blocking};
        let dir = tempfile::tempdir().unwrap();
        let xlsx = dir.path().join("users.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, header) in ["Name", "Email"].into_iter().enumerate() {
            sheet.write(0, c as u16, header).unwrap();
        }
        for r in 1..=5u32 {
            sheet.write(r, 0, format!("User {r}")).unwrap();
            sheet.write(r, 1, format!("u{r}@x.com")).unwrap();
        }
        book.save(&xlsx).unwrap();
        let csv = dir.path().join("users.csv");
        std::fs::write(&csv, "Name,Email\nAnn,ann@x.com\n").unwrap();

        let worker = Worker::default();
        let (tx, _rx) = tokio::sync::mpsc::channel(64);
        let run = |command| run_blocking(command, &worker, &tx, &|| false);
        let held = || match &*worker.workbook.lock().unwrap() {
            Some(Held::Open(_)) => "open",
            Some(Held::Released(..)) => "let go",
            None => "none",
        };
        let load = || Command::LoadTable {
            sheet: 0,
            header: HeaderChoice::Auto,
        };
        let xlsx_path = xlsx.clone();
        assert!(matches!(
            run(Command::OpenFile(xlsx)),
            AppEvent::Opened { .. }
        ));
        let AppEvent::TableLoaded(first, _) = run(load()) else {
            panic!("not loaded");
        };
        assert_eq!(first.len(), 5);
        assert_eq!(held(), "let go");
        match run(Command::PreviewSheet(0)) {
            AppEvent::Previewed { rows, .. } => assert_eq!(rows.len(), 6),
            other => panic!("{other:?}"),
        }
        assert_eq!(held(), "open");
        let AppEvent::TableLoaded(again, _) = run(load()) else {
            panic!("not loaded again");
        };
        assert_eq!(again, first);
        assert_eq!(held(), "let go");
        // The file saved meanwhile with another sheet first: said, not read by place.
        let mut book = rust_xlsxwriter::Workbook::new();
        book.add_worksheet().set_name("Notes").unwrap();
        book.add_worksheet().set_name("Sheet1").unwrap();
        book.save(&xlsx_path).unwrap();
        match run(Command::PreviewSheet(0)) {
            AppEvent::Failed(why) => assert!(why.contains("its sheets changed"), "{why}"),
            other => panic!("{other:?}"),
        }

        assert!(matches!(
            run(Command::OpenFile(csv)),
            AppEvent::Opened { .. }
        ));
        assert!(matches!(run(load()), AppEvent::TableLoaded(..)));
        assert_eq!(held(), "open");
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
}
