//! What the app-level tests of every screen share: the whole frame drawn on a test backend,
//! and an app brought to each screen the way an operator gets there.

pub(crate) use super::action::Action;
pub(crate) use super::app::{App, AppEvent, Command, Overlay, Screen};
pub(crate) use super::screens::open::{self, Entry, EntryKind, OpenState};
pub(crate) use super::{draw, keymap, screens, widgets};
pub(crate) use crate::session::source::{Cell, Row, SheetInfo, SheetKind, Visibility};
pub(crate) use ratatui::Terminal;
pub(crate) use ratatui::backend::TestBackend;
pub(crate) use std::path::PathBuf;

use super::screens::sheet::SheetState;

pub(crate) fn frame(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw(f, app)).unwrap();
    terminal
}

pub(crate) fn open_app() -> App {
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

pub(crate) fn sheet_app() -> App {
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

/// The app on the Map screen of a small customer table (one row with a bad email).
pub(crate) fn map_app() -> App {
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
    let layout = crate::session::source::TableLayout {
        sheet: "Customers".into(),
        header_row: 3,
        first_column: 0,
        headers,
    };
    let table = crate::session::source::Table::from_rows(layout, rows, 0);
    app.handle(AppEvent::TableLoaded(table, Vec::new()));
    app.handle(AppEvent::ProfilesListed(Vec::new()));
    app
}

pub(crate) fn check_app() -> App {
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

pub(crate) fn preview_app() -> App {
    let mut app = check_app();
    app.update(Action::Next);
    app
}

pub(crate) fn connect_app() -> App {
    let mut app = check_app();
    app.session.sandbox_url = Some("http://127.0.0.1:8080/".into());
    app.update(Action::Next);
    app.update(Action::Next);
    app
}

pub(crate) fn outcome(
    row: u32,
    outcome: crate::session::run::Outcome,
) -> crate::session::run::RowOutcome {
    let key = crate::session::run::UserKey {
        name: Some(format!("Person {row}")),
        email: Some(format!("person{row}@example.com")),
        external_id: Some(format!("{}", 10_000 + row)),
        ..Default::default()
    };
    let mut o = crate::session::run::RowOutcome::new(row, outcome, &key);
    o.index = u64::from(row);
    match outcome {
        crate::session::run::Outcome::Created | crate::session::run::Outcome::Updated => {
            o.user_id = Some(360_000_000_000 + u64::from(row));
            o.matched_by = Some(crate::session::run::MatchedBy::Index);
        }
        crate::session::run::Outcome::Failed => {
            o.error = Some("DuplicateValue".into());
            o.details = Some("Email: person7@example.com is already being used".into());
        }
        crate::session::run::Outcome::Skipped => {
            o.error = Some("E-mail: 'person3(at)example.com' is not a valid email address".into());
        }
        crate::session::run::Outcome::Unknown => o.error = Some("JobKilled".into()),
        crate::session::run::Outcome::NotSent => {
            o.details = Some("not sent: resuming the run sends it".into());
        }
    }
    o
}

/// The Run screen of a 12-row import, 5 rows finished, at a fixed clock.
pub(crate) fn run_app() -> (App, std::time::Instant) {
    use crate::session::run::{ImportEvent, Outcome, Summary};
    let mut app = connect_app();
    let t0 = std::time::Instant::now();
    app.history.push(std::mem::replace(
        &mut app.screen,
        Screen::Run(Box::new(screens::run::RunState::new(t0))),
    ));
    app.handle(AppEvent::ImportStarted {
        run_id: "20261127-101500-4821".into(),
        run_dir: "/data/runs/20261127-101500-4821".into(),
        account: "https://acme.zendesk.com/".into(),
        warnings: Vec::new(),
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

pub(crate) fn results_app() -> App {
    use crate::session::run::Outcome;
    results_of(vec![
        outcome(4, Outcome::Created),
        outcome(5, Outcome::Created),
        outcome(6, Outcome::Updated),
        outcome(7, Outcome::Failed),
        outcome(8, Outcome::Created),
        outcome(3, Outcome::Skipped),
        outcome(9, Outcome::Unknown),
    ])
}

/// The Results of a run that ended with `outcomes`.
pub(crate) fn results_of(outcomes: Vec<crate::session::run::RowOutcome>) -> App {
    let (mut app, _) = run_app();
    app.handle(AppEvent::ImportEnded(Ok((
        crate::session::run::Summary::default(),
        outcomes,
    ))));
    app.handle(AppEvent::Import(
        crate::session::run::ImportEvent::Finished(Box::default()),
    ));
    app.update(Action::Next);
    app
}
