//! Frame time of the Sheet, Map and Check screens with a 1,000,000-row table loaded, at 120x40,
//! and key-to-redraw latency (the action applied, then the frame drawn), next to a reference
//! frame of the same size that only fills a paragraph, measured in the same run.
//!
//! `cargo bench --bench render [-- ROWS]`.

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::widgets::{Paragraph, Wrap};
use zdimport::sheet::{Cell, Row, SheetInfo, SheetKind, Table, TableLayout, Visibility};
use zdimport::tui::action::Action;
use zdimport::tui::app::{App, AppEvent, Command, Screen};
use zdimport::tui::screens::open::OpenState;
use zdimport::tui::screens::sheet::SheetState;

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;
const FRAMES: usize = 300;

fn main() {
    let rows: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("terminal");
    println!("{rows} rows loaded; {WIDTH}x{HEIGHT}; median of {FRAMES} frames\n");

    let text = "The quick brown fox jumps over the lazy dog. ".repeat(120);
    let reference = median(FRAMES, || {
        terminal
            .draw(|f| {
                f.render_widget(
                    Paragraph::new(text.as_str()).wrap(Wrap { trim: false }),
                    f.area(),
                )
            })
            .expect("draw");
    });
    println!(
        "{:<44} {:>9}",
        "reference: full-screen paragraph",
        micros(reference)
    );

    let started = Instant::now();
    let mut app = sheet_app(rows);
    let mut draw = |app: &mut App| {
        terminal
            .draw(|f| zdimport::tui::draw(f, app))
            .expect("draw");
    };
    let sheet = median(FRAMES, || draw(&mut app));
    report("Sheet frame", sheet, reference);

    app.handle(AppEvent::TableLoaded(table(rows), Vec::new()));
    let map = median(FRAMES, || draw(&mut app));
    report("Map frame", map, reference);
    let map_key = median(FRAMES, || {
        app.update(Action::Down);
        draw(&mut app);
    });
    report("Map key (↓) to redraw", map_key, reference);

    let Some(Command::Check {
        table,
        mapping,
        options,
    }) = app.update(Action::Next)
    else {
        panic!("the mapping is ready");
    };
    let check_started = Instant::now();
    let report_ =
        zdimport::pipeline::check_table(&table, &mapping, &options, &|| false).expect("check");
    let check_time = check_started.elapsed();
    let issues = report_.issues.len();
    app.handle(AppEvent::Checked(report_));
    let check = median(FRAMES, || draw(&mut app));
    report("Check frame", check, reference);
    let check_key = median(FRAMES, || {
        app.update(Action::PageDown);
        draw(&mut app);
    });
    report("Check key (PgDn) to redraw", check_key, reference);
    let filter_key = median(21, || {
        app.update(Action::Filter);
        draw(&mut app);
    });
    report("Check key (f, refilter) to redraw", filter_key, reference);
    println!(
        "\nchecking {rows} rows in the background: {:.2} s ({issues} problems); setup {:.1} s",
        check_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

fn report(label: &str, time: Duration, reference: Duration) {
    println!(
        "{label:<44} {:>9}   {:.1}x reference",
        micros(time),
        time.as_secs_f64() / reference.as_secs_f64()
    );
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn median(n: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

fn headers() -> Vec<String> {
    [
        "Full Name",
        "E-mail",
        "Customer ID",
        "Phone",
        "Company",
        "Role",
        "Tags",
        "Plan",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn row(i: u32) -> Row {
    let text = |s: String| Cell::Text(s);
    // One row in a hundred has a malformed email, so Check has ten thousand problems.
    let email = if i % 100 == 7 {
        format!("user{i}(at)example.com")
    } else {
        format!("user{i}@example.com")
    };
    Row {
        number: i + 2,
        cells: vec![
            text(format!("User {i}")),
            text(email),
            Cell::Float(f64::from(100_000 + i)),
            Cell::Float(4_930_000_000.0 + f64::from(i)),
            text(format!("Company {}", i % 5000)),
            text(if i % 100 == 0 { "agent" } else { "end-user" }.to_owned()),
            text("vip, newsletter".to_owned()),
            text(["Gold", "Silver", "Bronze"][(i % 3) as usize].to_owned()),
        ],
    }
}

fn table(rows: u32) -> Table {
    let layout = TableLayout {
        sheet: "Users".into(),
        header_row: 1,
        first_column: 0,
        headers: headers(),
    };
    Table::from_rows(layout, (0..rows).map(row).collect(), 0)
}

fn sheet_app(rows: u32) -> App {
    let mut app = App::new(OpenState::new("/tmp".into(), Vec::new()));
    app.session.path = Some("users_1000000.xlsx".into());
    let info = SheetInfo {
        name: "Users".into(),
        visibility: Visibility::Visible,
        kind: SheetKind::Worksheet,
        size: Some((rows + 1, 8)),
    };
    let mut state = SheetState::new(vec![info], 0);
    let mut preview = vec![Row {
        number: 1,
        cells: headers().into_iter().map(Cell::Text).collect(),
    }];
    preview.extend((0..59).map(row));
    state.show_preview(preview, Some(1));
    app.screen = Screen::Sheet(state);
    app
}
