//! Import a file, plan the same file again: nothing left to change. Against the sandbox as a
//! live account answers (secondary emails, date fields read back as date-times, IANA time
//! zones, search that lags behind new users), in upsert mode over stale users, some of whose
//! email changes.

mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zdimport::import::{self, EngineOptions, Journal, Outbox, Outcome, RunInfo};
use zdimport::mapping::{Target, auto_match};
use zdimport::payload::{Checker, Mode, Options};
use zdimport::plan::{self, Action, Fields, Plan, PlanInput, PlanOptions};
use zdimport::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use zdimport::sheet::{Cell, Row};
use zdimport::zendesk::Client;

const SPEED: f64 = 200.0;

const HEADERS: [&str; 7] = [
    "Name",
    "Email",
    "External ID",
    "Plan",
    "Renewal",
    "Seats",
    "Time Zone",
];

fn fields() -> Vec<Value> {
    vec![
        json!({"key": "plan", "type": "dropdown", "title": "Plan",
            "custom_field_options": [
                {"id": 1, "name": "Gold plan", "value": "gold"},
                {"id": 2, "name": "Silver plan", "value": "silver"}]}),
        json!({"key": "renewal", "type": "date", "title": "Renewal"}),
        json!({"key": "seats", "type": "integer", "title": "Seats"}),
    ]
}

/// Stale users: the file renames one, moves one to another email, changes fields of others.
fn stale() -> Vec<Value> {
    vec![
        json!({"name": "Old Name", "email": "ana@x.com", "external_id": "E-0",
            "user_fields": {"plan": "silver", "renewal": "2026-01-01", "seats": 1}}),
        json!({"name": "Bo", "email": "bo.old@x.com", "external_id": "E-1",
            "user_fields": {"plan": "gold"}}),
        json!({"name": "Cy", "email": "cy@x.com", "external_id": "E-2"}),
    ]
}

/// Three stale users and 150 new ones (two batches).
fn sheet() -> Vec<[String; 7]> {
    let row = |name: &str, email: &str, ext: &str, plan: &str, renewal: &str, seats: &str| {
        [
            name.to_owned(),
            email.to_owned(),
            ext.to_owned(),
            plan.to_owned(),
            renewal.to_owned(),
            seats.to_owned(),
            "Europe/Berlin".to_owned(),
        ]
    };
    let mut rows = vec![
        row(
            "Ana Silva",
            "ana@x.com",
            "E-0",
            "Gold plan",
            "2027-01-01",
            "3",
        ),
        // The email changes: Zendesk adds it as a secondary email, the primary stays.
        row("Bo", "bo.new@x.com", "E-1", "gold", "", "2"),
        row("Cy", "cy@x.com", "E-2", "", "2027-02-02", ""),
    ];
    for i in 0..150 {
        rows.push(row(
            &format!("New {i}"),
            &format!("new{i}@x.com"),
            &format!("N-{i}"),
            if i % 2 == 0 { "Gold plan" } else { "silver" },
            "2027-03-31",
            &format!("{i}"),
        ));
    }
    rows
}

async fn sandbox(config: SandboxConfig) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        speed: SPEED,
        users: stale(),
        user_fields: fields(),
        ..config
    })
    .await
    .expect("sandbox starts")
}

async fn input(client: &Client) -> PlanInput {
    let fields = Arc::new(Fields::new(
        client.user_fields().await.expect("user fields").value,
    ));
    let headers: Vec<String> = HEADERS.map(str::to_owned).to_vec();
    let mut mapping = auto_match(&headers);
    for (i, key) in [(3, "plan"), (4, "renewal"), (5, "seats")] {
        mapping.set(i, Some(Target::UserField(key.into())));
    }
    mapping.set(6, Some(Target::TimeZone));
    assert!(fields.problems(&mapping).is_empty());
    let options = Options {
        mode: Mode::Upsert,
        ..Options::default()
    };
    let mut checker = Checker::new(&mapping, 0, options).with_fields(fields);
    let mut input = PlanInput::default();
    for (i, cells) in sheet().into_iter().enumerate() {
        let cells = cells
            .into_iter()
            .map(|c| {
                if c.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(c)
                }
            })
            .collect();
        let number = u32::try_from(i).unwrap() + 2;
        input.push_checked(checker.check(Row { number, cells }));
    }
    input
}

async fn plan(client: &Client) -> Plan {
    let rate = client.me().await.expect("me").rate;
    let options = PlanOptions {
        mode: Mode::Upsert,
        ..PlanOptions::default()
    };
    plan::build(client, input(client).await, options, &rate)
        .await
        .expect("plan")
}

async fn import(client: &Client, plan: &Plan) -> Vec<import::RowOutcome> {
    let routed = plan.route(true, zdimport::payload::JOB_LIMIT);
    let mut outbox = Outbox::new(plan.mode);
    for request in &routed.requests {
        outbox.push_request(request).unwrap();
    }
    for (row, reason) in routed.skipped {
        outbox.skip(row, reason);
    }
    let runs = tempfile::tempdir().unwrap();
    let info = RunInfo {
        id: "reimport".into(),
        mode: plan.mode,
        rows: outbox.rows() as u64,
        ..RunInfo::default()
    };
    let journal = Journal::create(runs.path(), &info, &outbox).unwrap();
    let (tx, rx) = mpsc::channel(32);
    let cancel = CancellationToken::new();
    let collector = tokio::spawn(common::collect(rx, cancel.clone(), None));
    let options = EngineOptions::for_speed(SPEED);
    import::run(client, journal, tx, cancel, options)
        .await
        .expect("import runs");
    collector.await.unwrap().finished
}

async fn import_then_plan_again(config: SandboxConfig) {
    let sandbox = sandbox(config).await;
    let client = common::client(&sandbox);
    let first = plan(&client).await;
    let counts = first.counts();
    assert_eq!((counts.new, counts.update), (150, 3), "{counts:?}");
    let bo = first.rows.iter().find(|r| r.row == 3).unwrap();
    let Action::Update { changes, .. } = &bo.action else {
        panic!("{:?}", bo.action)
    };
    assert!(
        changes.iter().any(|c| c.to_string()
            == "adds a secondary email \"bo.new@x.com\" (primary stays \"bo.old@x.com\")"),
        "{changes:?}"
    );
    let outcomes = import(&client, &first).await;
    assert_eq!(outcomes.len(), 153);
    let done = |o: Outcome| outcomes.iter().filter(|r| r.outcome == o).count();
    assert_eq!((done(Outcome::Created), done(Outcome::Updated)), (150, 3));
    for o in &outcomes {
        let held = sandbox
            .user_by_external_id(o.external_id.as_deref().unwrap())
            .unwrap();
        assert_eq!(
            o.user_id,
            held["id"].as_u64(),
            "row {}: the user's id",
            o.row
        );
    }
    let again = plan(&client).await;
    assert_eq!(
        common::unchanged_or_what(&again),
        Vec::<String>::new(),
        "every row unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_then_plan_again_leaves_nothing_to_change() {
    import_then_plan_again(SandboxConfig::default()).await;
}
