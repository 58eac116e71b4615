//! The operator's TUI: terminal setup, one async event loop, teardown.
//!
//! Keys become actions (`keymap`), actions change the `App` (`app`), and the disk work the app
//! asks for runs on blocking threads whose answers come back on one channel.

pub mod action;
pub mod app;
pub mod keymap;
pub mod screens;
pub mod strings;
pub mod widgets;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use ratatui::crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, MouseEventKind,
};
use ratatui::crossterm::execute;
use ratatui::layout::{Constraint, Layout};
use ratatui::{DefaultTerminal, Frame};
use tokio::sync::mpsc;

use crate::sheet::{HeaderChoice, Workbook};
use action::Action;
use app::{App, AppEvent, Command, Overlay, Screen};
use screens::open::{self, OpenState};

/// Rows between two progress reports while a table loads.
const PROGRESS_EVERY: u64 = 20_000;
/// Non-blank rows shown on the Sheet screen.
const PREVIEW_ROWS: usize = 60;

/// Runs the TUI until the operator quits; the terminal is restored on every path.
pub fn run(
    file: Option<PathBuf>,
    profile: Option<crate::profile::Profile>,
    sandbox: bool,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The sandbox lives as long as the session; it is started before the terminal is taken so
    // that a failure is an ordinary error message.
    let sandbox = match sandbox {
        true => Some(
            runtime
                .block_on(start_sandbox())
                .map_err(|e| std::io::Error::other(format!("starting the sandbox: {e}")))?,
        ),
        false => None,
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
    cancel: Arc<AtomicBool>,
    /// The signed-in client, once the connection test passed.
    client: Arc<Mutex<Option<Arc<crate::zendesk::Client>>>>,
    /// Environment seen by sign-in when the session runs on the sandbox.
    sandbox_env: Option<Arc<Vec<(String, String)>>>,
}

/// OAuth client credentials for the sandbox's confidential client.
fn sandbox_env(sandbox: &crate::sandbox::SandboxHandle) -> Vec<(String, String)> {
    let service = sandbox
        .config()
        .oauth_clients
        .iter()
        .find(|c| c.client_id == crate::sandbox::SERVICE_CLIENT_ID);
    let mut env = vec![("ZENDESK_URL".to_owned(), sandbox.url().to_string())];
    if let Some(secret) = service.and_then(|c| c.client_secret.as_ref()) {
        env.push((
            "ZENDESK_CLIENT_ID".to_owned(),
            crate::sandbox::SERVICE_CLIENT_ID.to_owned(),
        ));
        env.push((
            "ZENDESK_CLIENT_SECRET".to_owned(),
            secret.expose().to_owned(),
        ));
    }
    env.push(("ZDIMPORT_KEYRING".to_owned(), "memory".to_owned()));
    env
}

/// The built-in sandbox for rehearsals, its clock a little faster than real time.
async fn start_sandbox() -> Result<crate::sandbox::SandboxHandle, crate::sandbox::SandboxError> {
    let config = crate::sandbox::SandboxConfig {
        speed: SANDBOX_SPEED,
        ..crate::sandbox::SandboxConfig::default()
    };
    crate::sandbox::Sandbox::start(config).await
}

/// Simulated seconds per real second in the TUI's sandbox: jobs finish in about a second.
const SANDBOX_SPEED: f64 = 5.0;

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
        worker.sandbox_env = Some(Arc::new(sandbox_env(sandbox)));
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
    let tx = tx.clone();
    match command {
        Command::Quit => {}
        Command::CancelLoad => worker.cancel.store(true, Ordering::SeqCst),
        Command::TestConnection(request) => {
            tokio::spawn(async move {
                let answer = test_connection(&request, &worker).await;
                let _ = tx.send(AppEvent::Connected(answer)).await;
            });
        }
        command => {
            worker.cancel.store(false, Ordering::SeqCst);
            tokio::task::spawn_blocking(move || {
                let event = run_blocking(command, &worker, &tx);
                let _ = tx.blocking_send(event);
            });
        }
    }
}

fn run_blocking(command: Command, worker: &Worker, tx: &mpsc::Sender<AppEvent>) -> AppEvent {
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
            let cancelled = || worker.cancel.load(Ordering::SeqCst);
            return match crate::pipeline::check_table(&table, &mapping, &options, &cancelled) {
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
        Command::ListDir(dir) => match open::list_dir(&dir, &recent_files()) {
            Ok(entries) => AppEvent::DirListed { dir, entries },
            Err(e) => AppEvent::Failed(format!("{}: {e}", dir.display())),
        },
        Command::OpenFile(path) => match Workbook::open(&path) {
            Ok(wb) => {
                remember(&path);
                let sheets = wb.sheets().to_vec();
                let selected = wb.default_sheet();
                *guard = Some(wb);
                AppEvent::Opened {
                    path,
                    sheets,
                    selected,
                }
            }
            Err(e) => AppEvent::Failed(e.to_string()),
        },
        Command::PreviewSheet(sheet) => match guard.as_mut() {
            Some(wb) => preview(wb, sheet),
            None => AppEvent::Failed("no workbook is open".to_owned()),
        },
        Command::LoadTable { sheet, header } => match guard.as_mut() {
            Some(wb) => load_table(wb, sheet, header, worker, tx),
            None => AppEvent::Failed("no workbook is open".to_owned()),
        },
        Command::CancelLoad
        | Command::Quit
        | Command::ListProfiles
        | Command::SaveProfile(_)
        | Command::TestConnection(_)
        | Command::Check { .. } => AppEvent::Cancelled,
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
            let sandbox = worker.sandbox_env.clone();
            let var = move |k: &str| match &sandbox {
                Some(env) => env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
                None => std::env::var(k).ok(),
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
            let warning = (choice == SignInChoice::ApiToken).then(|| {
                "API tokens stop working on 2027-04-30: use OAuth (zdimport login)".to_owned()
            });
            (
                zendesk::Client::new(config).map_err(|e| explain(&e))?,
                warning,
            )
        }
    };
    let me = client.me().await.map_err(|e| explain(&e))?.value;
    let account = screens::connect::Account {
        url: client.base_url().to_string(),
        name: me.name.clone().unwrap_or_default(),
        email: me.email.clone().unwrap_or_default(),
        role: me.role.clone().unwrap_or_default(),
        warning,
    };
    *worker
        .client
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(client));
    Ok(account)
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

fn preview(wb: &mut Workbook, sheet: usize) -> AppEvent {
    let rows = match wb.preview(sheet, PREVIEW_ROWS) {
        Ok(rows) => rows,
        Err(e) => return AppEvent::Failed(e.to_string()),
    };
    let header_row = wb
        .read_table(sheet, HeaderChoice::Auto, |_, _| ControlFlow::Break(()))
        .ok()
        .map(|(l, _)| l.header_row);
    AppEvent::Previewed {
        sheet,
        rows,
        header_row,
    }
}

fn load_table(
    wb: &mut Workbook,
    sheet: usize,
    header: HeaderChoice,
    worker: &Worker,
    tx: &mpsc::Sender<AppEvent>,
) -> AppEvent {
    let mut rows = Vec::new();
    let result = wb.read_table(sheet, header, |_, row| {
        rows.push(row);
        let n = rows.len() as u64;
        if n % PROGRESS_EVERY == 0 {
            let _ = tx.try_send(AppEvent::Progress { rows: n });
        }
        if worker.cancel.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if worker.cancel.load(Ordering::SeqCst) {
        return AppEvent::Cancelled;
    }
    match result {
        Ok((layout, blank_rows)) => AppEvent::TableLoaded(crate::sheet::Table {
            layout,
            rows,
            blank_rows,
        }),
        Err(e) => AppEvent::Failed(e.to_string()),
    }
}

/// Recently opened files, newest first (kept in the data dir).
fn recent_files() -> Vec<PathBuf> {
    let Some(path) = recent_path() else {
        return Vec::new();
    };
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(PathBuf::from)
        .collect()
}

fn remember(file: &Path) {
    let Some(path) = recent_path() else { return };
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mut list: Vec<PathBuf> = recent_files().into_iter().filter(|p| *p != file).collect();
    list.insert(0, file);
    list.truncate(8);
    let text: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, text);
}

fn recent_path() -> Option<PathBuf> {
    crate::paths::data_dir().map(|d| d.join("recent.txt"))
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
    }
    let context = app.key_context();
    widgets::hint_bar(context, bottom, buf);
    match &app.overlay {
        Some(Overlay::Help) => widgets::help_overlay(screen_context(app), body, buf),
        Some(Overlay::ConfirmQuit) => widgets::popup(
            body,
            buf,
            strings::QUIT_TITLE,
            vec![strings::QUIT_QUESTION.into()],
            strings::QUIT_KEYS,
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
            },
            Entry {
                path: "/home/ops".into(),
                kind: EntryKind::Parent,
                bytes: 0,
            },
            Entry {
                path: "/home/ops/exports/2026".into(),
                kind: EntryKind::Folder,
                bytes: 0,
            },
            Entry {
                path: "/home/ops/exports/crm_contacts.xlsx".into(),
                kind: EntryKind::File,
                bytes: 1_843_200,
            },
            Entry {
                path: "/home/ops/exports/billing.csv".into(),
                kind: EntryKind::File,
                bytes: 912,
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
        // The first entry (row 2 of the frame, inside the border) is selected.
        assert_eq!(buf[(2, 2)].bg, ratatui::style::Color::Blue);
        assert_ne!(buf[(2, 3)].bg, ratatui::style::Color::Blue);
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
        let report = crate::pipeline::check_table(&table, &mapping, &options, &|| false).unwrap();
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
        let line: String = (0..100).map(|x| buf[(x, 5)].symbol()).collect();
        assert!(line.contains("not a valid email"), "{line}");
        let at = u16::try_from(line.find("'person3").unwrap()).unwrap();
        assert_eq!(buf[(at + 2, 5)].fg, widgets::theme::ERROR);
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
        })));
        insta::assert_snapshot!("connect_connected_80x24", frame(&mut app, 80, 24).backend());
        app.update(Action::Enter);
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
}
