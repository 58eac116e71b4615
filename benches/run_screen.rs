//! The Run screen while a 100,000-row import runs against the sandbox: frame time and
//! key-to-redraw latency at 120x40, next to a reference frame (a full-screen paragraph) drawn
//! in the same run.
//!
//! `cargo bench --bench run_screen [-- ROWS]`. The sandbox (its clock sped up) and the engine
//! run on threads of their own, as in the TUI; this thread takes the engine's events the way
//! the TUI's loop does (all that arrived, then one frame) and presses a key now and then.

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::widgets::{Paragraph, Wrap};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zdimport::import::{self, EngineOptions, ImportEvent, Journal, Outbox, RunInfo};
use zdimport::payload::{Batcher, Mode, User};
use zdimport::sandbox::{Sandbox, SandboxConfig};
use zdimport::tui::action::Action;
use zdimport::tui::app::{App, AppEvent, Screen};
use zdimport::tui::screens::open::OpenState;
use zdimport::tui::screens::run::RunState;
use zdimport::zendesk::{Client, ClientConfig, Credentials, Secret};

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;
/// Simulated seconds per real second: 700 requests a minute become ~58 a real second.
const SPEED: f64 = 5.0;

fn main() {
    let rows: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("terminal");
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(120);
    let mut reference: Vec<Duration> = (0..300)
        .map(|_| {
            let t = Instant::now();
            terminal
                .draw(|f| {
                    f.render_widget(
                        Paragraph::new(text.as_str()).wrap(Wrap { trim: false }),
                        f.area(),
                    );
                })
                .expect("draw");
            t.elapsed()
        })
        .collect();
    reference.sort();
    let reference = reference[reference.len() / 2];

    let (tx, mut rx) = mpsc::channel::<ImportEvent>(32);
    let engine = std::thread::spawn(move || run_import(rows, tx));
    let mut app = App::new(OpenState::new("/tmp".into(), Vec::new()));
    app.screen = Screen::Run(Box::new(RunState::new(Instant::now())));
    let mut frames = Vec::new();
    let mut keys = Vec::new();
    let mut events = 0u64;
    let started = Instant::now();
    let mut last_key = Instant::now();
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        events += batch.len() as u64;
        for event in batch {
            app.handle(AppEvent::Import(event));
        }
        app.handle(AppEvent::Tick(Instant::now()));
        let t = Instant::now();
        terminal
            .draw(|f| zdimport::tui::draw(f, &mut app))
            .expect("draw");
        frames.push(t.elapsed());
        // A key every 50 ms: open and close the help, each followed by a frame.
        if last_key.elapsed() > Duration::from_millis(50) {
            let t = Instant::now();
            app.update(Action::Help);
            terminal
                .draw(|f| zdimport::tui::draw(f, &mut app))
                .expect("draw");
            app.update(Action::Back);
            terminal
                .draw(|f| zdimport::tui::draw(f, &mut app))
                .expect("draw");
            keys.push(t.elapsed() / 2);
            last_key = Instant::now();
        }
    }
    let summary = engine.join().expect("engine thread");
    let wall = started.elapsed();
    frames.sort();
    keys.sort();
    let pct = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p) as usize];
    println!(
        "{rows} rows against the sandbox at 700 requests/min, clock x{SPEED}; {WIDTH}x{HEIGHT}"
    );
    println!(
        "import: {summary} in {:.1} s real; {events} engine events, {} frames",
        wall.as_secs_f64(),
        frames.len()
    );
    println!(
        "reference frame (full-screen paragraph): {:>7.0} µs",
        micros(reference)
    );
    for (label, v) in [("Run frame", &frames), ("key to redraw", &keys)] {
        let median = pct(v, 0.5);
        println!(
            "{label:<14} median {:>7.0} µs ({:.1}x reference)   p99 {:>7.0} µs   max {:>7.0} µs",
            micros(median),
            median.as_secs_f64() / reference.as_secs_f64(),
            micros(pct(v, 0.99)),
            micros(*v.last().expect("some frames")),
        );
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The sandbox and the engine on this thread's runtime; events go to the drawing thread.
fn run_import(rows: u32, events: mpsc::Sender<ImportEvent>) -> import::Summary {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let config = SandboxConfig {
            speed: SPEED,
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::start(config).await.expect("sandbox");
        let credentials = Credentials::ApiToken {
            email: "admin@sandbox.example".into(),
            token: Secret::new("sandbox-api-token"),
        };
        let client =
            Client::new(ClientConfig::new(sandbox.url().clone(), credentials)).expect("client");
        let plan = plan(rows);
        let runs = tempfile::tempdir().expect("runs dir");
        let info = RunInfo {
            id: "bench".into(),
            mode: Mode::Create,
            rows: u64::from(rows),
            account: sandbox.url().to_string(),
            ..RunInfo::default()
        };
        let journal = Journal::create(runs.path(), &info, &plan).expect("journal");
        let mut options = EngineOptions::for_speed(SPEED);
        options.concurrency = import::MAX_JOBS;
        import::run(&client, journal, events, CancellationToken::new(), options)
            .await
            .expect("import")
    })
}

fn plan(rows: u32) -> Outbox {
    let mut plan = Outbox::new(Mode::Create);
    let mut batcher = Batcher::new(Mode::Create, zdimport::payload::JOB_LIMIT);
    for i in 0..rows {
        let user = User {
            name: Some(format!("User {i}")),
            email: Some(format!("user{i}@example.com")),
            external_id: Some(format!("{}", 1_000_000 + i)),
            ..User::default()
        };
        for request in batcher.push(i + 2, user) {
            plan.push_request(&request).expect("batch");
        }
    }
    for request in batcher.finish() {
        plan.push_request(&request).expect("batch");
    }
    plan
}
