//! `--make-primary`: a new email on an existing user becomes its primary email through the
//! identities API after the user's bulk job, journalled and resumable. Against the sandbox as
//! a live account answers (an email sent for an existing user is added as a secondary one).

mod common;

use serde_json::{Value, json};
use zdimport::import::journal;
use zdimport::import::{self, EngineOptions, Journal, Outbox, Outcome};
use zdimport::payload::{JOB_LIMIT, Mode, User};
use zdimport::pipeline::{Report, outbox_from};
use zdimport::plan::{self, Action, Plan, PlanInput, PlanOptions};
use zdimport::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use zdimport::zendesk::Client;

const SPEED: f64 = 200.0;
const NEW: u32 = 20;

/// Stale users: two whose email the file changes, one renamed.
fn stale() -> Vec<Value> {
    vec![
        json!({"name": "Ana", "email": "ana@x.com", "external_id": "E-0"}),
        json!({"name": "Bo", "email": "bo.old@x.com", "external_id": "E-1"}),
        json!({"name": "Old Cy", "email": "cy@x.com", "external_id": "E-2"}),
    ]
}

/// The file: the stale users with their new emails and names, then new users.
fn input() -> PlanInput {
    let user = |name: &str, email: &str, ext: &str| User {
        name: Some(name.into()),
        email: Some(email.into()),
        external_id: Some(ext.into()),
        ..User::default()
    };
    let mut users = vec![
        (2, user("Ana", "ana.new@x.com", "E-0")),
        (3, user("Bo", "bo.new@x.com", "E-1")),
        (4, user("Cy", "cy@x.com", "E-2")),
    ];
    for i in 0..NEW {
        users.push((
            i + 5,
            user(
                &format!("New {i}"),
                &format!("new{i}@x.com"),
                &format!("N-{i}"),
            ),
        ));
    }
    PlanInput {
        users,
        invalid: Vec::new(),
        ..PlanInput::default()
    }
}

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        speed: SPEED,
        users: stale(),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

async fn plan(client: &Client, make_primary: bool) -> Plan {
    let rate = client.me().await.expect("me").rate;
    let options = PlanOptions {
        mode: Mode::Upsert,
        make_primary,
        ..PlanOptions::default()
    };
    plan::build(client, input(), options, &rate)
        .await
        .expect("plan")
}

fn outbox(plan: &Plan) -> Outbox {
    outbox_from(plan, (true, JOB_LIMIT), &Report::default()).expect("outbox")
}

async fn run(client: &Client, journal: Journal) -> Result<import::Summary, import::ImportError> {
    common::run_to_end(client, journal, &EngineOptions::for_speed(SPEED)).await
}

/// The stale users hold their new emails as primary, every email identity once, and planning
/// the file again (either way) finds nothing to change.
async fn assert_made_primary(sandbox: &SandboxHandle, client: &Client, name: &str) {
    for (ext, primary, old) in [
        ("E-0", "ana.new@x.com", Some("ana@x.com")),
        ("E-1", "bo.new@x.com", Some("bo.old@x.com")),
        ("E-2", "cy@x.com", None),
    ] {
        let user = sandbox.user_by_external_id(ext).unwrap();
        assert_eq!(user["email"], primary, "{name}: {ext}'s primary email");
        let id = user["id"].as_u64().unwrap();
        let emails: Vec<(String, bool)> = sandbox
            .identities(id)
            .iter()
            .filter(|i| i["type"] == "email")
            .map(|i| {
                let value = i["value"].as_str().unwrap().to_owned();
                (value, i["primary"].as_bool().unwrap())
            })
            .collect();
        let mut want = vec![(primary.to_owned(), true)];
        want.extend(old.map(|o| (o.to_owned(), false)));
        let mut got = emails.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{name}: {ext}'s email identities");
    }
    for make_primary in [true, false] {
        let again = plan(client, make_primary).await;
        assert_eq!(
            common::unchanged_or_what(&again),
            Vec::<String>::new(),
            "{name}: every row unchanged (make_primary {make_primary})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_emails_made_primary_then_the_plan_has_nothing_left() {
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    let first = plan(&client, true).await;
    let c = first.counts();
    assert_eq!(
        (c.new, c.update, c.unchanged),
        (NEW as usize, 3, 0),
        "{c:?}"
    );
    let ana = first.rows.iter().find(|r| r.row == 2).unwrap();
    let Action::Update { changes, .. } = &ana.action else {
        panic!("{:?}", ana.action)
    };
    let said: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        said,
        ["email: \"ana@x.com\" → \"ana.new@x.com\" (made primary)"]
    );
    assert_eq!(
        first.make_primary_requests(),
        4,
        "two users, two requests each"
    );

    let outbox = outbox(&first);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &outbox), &outbox).unwrap();
    let summary = run(&client, journal).await.expect("import");
    assert_eq!((summary.created, summary.updated), (u64::from(NEW), 3));
    let outcomes = journal::outcomes(&tmp.path().join("r")).unwrap();
    for (row, email) in [(2, "ana.new@x.com"), (3, "bo.new@x.com")] {
        let o = outcomes.iter().find(|o| o.row == row).unwrap();
        assert_eq!(o.outcome, Outcome::Updated);
        assert_eq!(o.error, None, "row {row}: {o:?}");
        assert_eq!(
            o.details.as_deref(),
            Some(format!("{email} made the user's primary email").as_str())
        );
    }
    let cy = outcomes.iter().find(|o| o.row == 4).unwrap();
    assert_eq!(
        cy.details, None,
        "a row whose email is held: nothing made primary"
    );
    let puts = sandbox
        .requests()
        .iter()
        .filter(|r| r.target.contains("make_primary"))
        .count();
    assert_eq!(puts, 2, "one make_primary per changed email");
    assert_made_primary(&sandbox, &client, "one run").await;
}

/// Imports until the journal has taken `cut` bytes (a kill there), then resumes from disk;
/// says whether the kill left an email to make primary.
async fn killed_and_resumed(cut: u64) -> bool {
    let name = format!("cut at byte {cut}");
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    let outbox = outbox(&plan(&client, true).await);
    let tmp = tempfile::tempdir().unwrap();
    let mut journal =
        Journal::create(tmp.path(), &common::run_info("r", &outbox), &outbox).unwrap();
    journal.crash_after(cut);
    let _killed = run(&client, journal).await;
    let dir = tmp.path().join("r");
    let (_, _, journal) = Journal::open(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let pending_primary = !journal.replay().making_primary.is_empty();
    let summary = run(&client, journal)
        .await
        .unwrap_or_else(|e| panic!("{name}: resume: {e}"));
    assert_eq!(summary.pending, 0, "{name}: {summary}");
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert_eq!(
        summary.failed + summary.unknown,
        0,
        "{name}: {summary}\n{text}"
    );
    let outcomes = journal::outcomes(&dir).unwrap();
    assert_eq!(outcomes.len(), NEW as usize + 3, "{name}: every row once");
    if pending_primary {
        assert_eq!(summary.requests, 0, "{name}: no bulk request sent again");
    }
    for row in [2, 3] {
        let o = outcomes.iter().find(|o| o.row == row).unwrap();
        assert_eq!(
            (o.outcome, &o.error),
            (Outcome::Updated, &None),
            "{name}: {o:?}"
        );
        assert!(
            o.details
                .as_deref()
                .is_some_and(|d| d.contains("primary email")),
            "{name}: the row says its email is primary: {o:?}"
        );
    }
    assert_made_primary(&sandbox, &client, &name).await;
    pending_primary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_any_journal_entry_resumes_without_skipping_or_repeating_make_primary() {
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    let outbox = outbox(&plan(&client, true).await);
    let tmp = tempfile::tempdir().unwrap();
    let journal =
        Journal::create(tmp.path(), &common::run_info("whole", &outbox), &outbox).unwrap();
    run(&client, journal).await.expect("import");
    let whole = std::fs::read(tmp.path().join("whole/journal.jsonl")).unwrap();
    let text = String::from_utf8_lossy(&whole);
    assert!(
        text.contains("\"event\":\"making_primary\""),
        "the journal says before: {text}"
    );
    let cuts = common::journal_cuts(&whole);
    let mut left_pending = 0;
    for cut in cuts {
        left_pending += usize::from(killed_and_resumed(cut).await);
    }
    assert!(
        left_pending >= 2,
        "kills between the job's end and an email made primary: {left_pending}"
    );
}
