//! Missing organizations created first, through the engine (issue 15, item 2), against a
//! sandbox on loopback: a file naming 30 organizations (10 the account holds, named in another
//! case or with spaces around; 20 it lacks, each spelled two ways) imported with
//! `--missing-orgs create`. Every user ends in the right organization, each missing one is
//! created once (lost answers, refused calls and a kill at every journal line included), the
//! run's reports account for every organization and every user, and planning the file again
//! finds nothing to change.

mod common;

use std::collections::HashMap;

use zdimport::import::journal;
use zdimport::import::report;
use zdimport::import::{EngineOptions, Journal, Outbox, Outcome, Retry, RetryRows, Summary};
use zdimport::payload::{Mode, OrganizationRef, User};
use zdimport::plan::orgs::name_key;
use zdimport::plan::{self, MissingOrgs, PlanInput, PlanOptions};
use zdimport::sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};
use zdimport::zendesk::Client;

const SPEED: f64 = 200.0;
const USERS: u32 = 60;
const CREATE_MANY: &str = "organizations/create_many";

/// The account's ten organizations, as it spells them.
fn held() -> Vec<String> {
    (0..10).map(|j| format!("Held Org {j:02}")).collect()
}

/// The organization of data row `i`: 30 names, each named by two users, spelled differently.
fn org_of(i: u32) -> String {
    let j = i % 30;
    match (j < 10, i < 30) {
        (true, true) => format!(" held org {j:02} "),
        (true, false) => format!("HELD ORG {j:02}"),
        (false, true) => format!("Newco {j:02}"),
        (false, false) => format!("newco {j:02}  "),
    }
}

fn user(i: u32) -> User {
    User {
        name: Some(format!("User {i}")),
        email: Some(format!("user{i}@example.com")),
        external_id: Some(format!("X{i}")),
        organization: Some(OrganizationRef { name: org_of(i) }),
        ..User::default()
    }
}

async fn sandbox(by_name: &str) -> SandboxHandle {
    let mut config = SandboxConfig {
        speed: SPEED,
        organizations: held(),
        ..SandboxConfig::default()
    };
    config
        .set_option("organizations-by-name", by_name)
        .expect("option");
    Sandbox::start(config).await.expect("sandbox starts")
}

/// The headless import's plan: the users' requests, their organizations resolved.
async fn outbox(client: &Client) -> Outbox {
    let mut plan = common::plan_of_users(Mode::Upsert, USERS, 0, user);
    let policy = MissingOrgs::Create;
    plan::orgs::resolve_import(client, &mut plan, policy, 4)
        .await
        .expect("organizations resolved");
    plan
}

fn options() -> EngineOptions {
    EngineOptions::for_speed(SPEED)
}

async fn run(client: &Client, journal: Journal) -> Summary {
    common::run_to_end(client, journal, &options())
        .await
        .expect("the import ends")
}

fn create_many_calls(sandbox: &SandboxHandle) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.target.contains(CREATE_MANY))
        .count()
}

/// Each organization once, 30 in all, and every user in the one its row names.
fn assert_every_user_in_its_organization(sandbox: &SandboxHandle, name: &str) {
    let mut ids: HashMap<String, u64> = HashMap::new();
    for org in sandbox.organizations() {
        let key = name_key(org["name"].as_str().unwrap());
        let again = ids.insert(key.clone(), org["id"].as_u64().unwrap());
        assert!(again.is_none(), "{name}: organization '{key}' twice");
    }
    assert_eq!(ids.len(), 30, "{name}: 10 held and 20 created");
    for i in 0..USERS {
        let user = sandbox
            .user_by_external_id(&format!("X{i}"))
            .unwrap_or_else(|| panic!("{name}: user {i} imported"));
        assert_eq!(
            user["organization_id"].as_u64(),
            Some(ids[&name_key(&org_of(i))]),
            "{name}: user {i} in '{}'",
            org_of(i)
        );
    }
}

/// Planning the file again: every row unchanged, no organization missing.
async fn assert_nothing_left(client: &Client, name: &str) {
    let rate = client.me().await.expect("me").rate;
    let input = PlanInput {
        users: (0..USERS).map(|i| (i + 2, user(i))).collect(),
        invalid: Vec::new(),
        ..PlanInput::default()
    };
    let options = PlanOptions {
        mode: Mode::Upsert,
        ..PlanOptions::default()
    };
    let again = plan::build(client, input, options, &rate)
        .await
        .expect("plan again");
    assert_eq!(
        common::unchanged_or_what(&again),
        Vec::<String>::new(),
        "{name}: nothing to change"
    );
    assert!(again.missing_organizations.is_empty(), "{name}");
}

/// The organizations' report of the run in `dir`: every one created with its id.
fn assert_organizations_report(dir: &std::path::Path, name: &str) {
    let orgs = journal::organizations(dir).unwrap();
    assert_eq!(orgs.len(), 20, "{name}: every organization once");
    for (index, o) in orgs.iter().enumerate() {
        assert_eq!(o.index, index);
        assert!(o.is_created(), "{name}: {o:?}");
        assert_eq!(o.users, 2, "{name}: {o:?}");
        assert_eq!(
            o.name,
            format!("Newco {:02}", index + 10),
            "{name}: as first spelled"
        );
    }
    let path = dir.join("report.organizations.csv");
    report::write_organizations(&path, &orgs).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 21, "{name}: a header and 20 lines");
    assert!(
        text.starts_with("name,outcome,organization_id,users,error,details,matched_by\n"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_organizations_are_created_once_and_users_sent_with_their_ids() {
    // Names are never sent, so what a bulk body's organization name would do cannot matter.
    for by_name in ["ignore", "refuse", "create"] {
        let name = format!("organizations-by-name {by_name}");
        let sandbox = sandbox(by_name).await;
        let client = common::client(&sandbox);
        let plan = outbox(&client).await;
        let listed: Vec<(&str, u64)> = plan
            .organizations
            .iter()
            .map(|o| (o.name.as_str(), o.users))
            .collect();
        assert_eq!(listed.len(), 20, "{name}: {listed:?}");
        assert!(listed.iter().all(|(_, users)| *users == 2), "{listed:?}");
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
        let summary = run(&client, journal).await;
        assert_eq!(
            (summary.updated + summary.created, summary.rows),
            (u64::from(USERS), u64::from(USERS)),
            "{name}: {summary}"
        );
        assert_eq!(
            (summary.organizations.total, summary.organizations.created),
            (20, 20),
            "{name}: {summary}"
        );
        assert_eq!(create_many_calls(&sandbox), 1, "{name}: one call for 20");
        assert_every_user_in_its_organization(&sandbox, &name);
        let dir = tmp.path().join("r");
        assert_organizations_report(&dir, &name);
        let rows = journal::outcomes(&dir).unwrap();
        assert_eq!(rows.len(), USERS as usize, "{name}: every user once");
        assert_nothing_left(&client, &name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_and_failed_jobs_are_looked_up_and_nothing_is_created_twice() {
    // The call is accepted and its answer lost; it leaves with no answer before Zendesk takes
    // it; its job fails having created nothing; Zendesk refuses it for a moment (503).
    let cases = [
        (Fault::LostAnswer, 1),
        (Fault::DropConnection, 2),
        (Fault::JobFailed, 2),
        (Fault::ServerError(503), 2),
    ];
    for (fault, calls) in cases {
        let name = format!("{fault:?}");
        let sandbox = sandbox("ignore").await;
        let client = common::client(&sandbox);
        let plan = outbox(&client).await;
        sandbox.force_fault(CREATE_MANY, fault);
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
        let summary = run(&client, journal).await;
        assert_eq!(summary.organizations.created, 20, "{name}: {summary}");
        assert_eq!(summary.skipped + summary.failed, 0, "{name}: {summary}");
        assert_eq!(create_many_calls(&sandbox), calls, "{name}");
        assert_every_user_in_its_organization(&sandbox, &name);
        let orgs = journal::organizations(&tmp.path().join("r")).unwrap();
        if fault == Fault::LostAnswer {
            assert!(
                orgs.iter()
                    .all(|o| o.matched_by == Some(zdimport::import::MatchedBy::Lookup)),
                "{name}: found by name after the lost answer: {orgs:?}"
            );
        }
        assert_nothing_left(&client, &name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_of_an_organization_zendesk_refuses_are_skipped_with_the_reason() {
    let sandbox = sandbox("ignore").await;
    let client = common::client(&sandbox);
    let plan = outbox(&client).await;
    sandbox.force_fault(CREATE_MANY, Fault::ServerError(422));
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let summary = run(&client, journal).await;
    assert_eq!(
        (summary.organizations.failed, summary.organizations.created),
        (20, 0),
        "{summary}"
    );
    assert_eq!(
        (summary.updated + summary.created, summary.skipped),
        (20, 40)
    );
    assert_eq!(summary.finished(), summary.rows, "the counts add up");
    let dir = tmp.path().join("r");
    let rows = journal::outcomes(&dir).unwrap();
    assert_eq!(rows.len(), USERS as usize, "every user once");
    for o in rows.iter().filter(|o| o.outcome == Outcome::Skipped) {
        let i = o.row - 2;
        let details = o.details.as_deref().unwrap();
        let want = format!(
            "organization 'Newco {:02}' could not be created: HTTP422",
            i % 30
        );
        assert!(details.starts_with(&want), "{details}");
        assert_eq!(o.error.as_deref(), Some("OrganizationNotCreated"));
        assert!(sandbox.user_by_external_id(&format!("X{i}")).is_none());
    }
    let orgs = journal::organizations(&dir).unwrap();
    assert!(
        orgs.iter()
            .all(|o| o.outcome == Outcome::Failed && o.error.is_some())
    );
    assert_eq!(sandbox.organizations().len(), 10, "nothing created");

    // The retry sends those users again, their organizations looked up, then created first.
    let retry = Retry::read_rows(&dir, RetryRows::Retryable).unwrap();
    assert_eq!(
        (retry.plan.sent_rows(), retry.plan.organizations.len()),
        (40, 20)
    );
    let journal = retry.create(tmp.path()).unwrap();
    let summary = run(&client, journal).await;
    assert_eq!(
        (
            summary.created + summary.updated,
            summary.organizations.created
        ),
        (40, 20),
        "{summary}"
    );
    assert_every_user_in_its_organization(&sandbox, "retry");
    assert_eq!(
        create_many_calls(&sandbox),
        2,
        "the refused one and the retry's"
    );
    assert_nothing_left(&client, "retry").await;
}

/// Imports until the journal has taken `cut` bytes (a kill there), then resumes from disk.
async fn killed_and_resumed(cut: u64) {
    let name = format!("cut at byte {cut}");
    let sandbox = sandbox("ignore").await;
    let client = common::client(&sandbox);
    let plan = outbox(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let (summary, dir) =
        common::killed_then_resumed(plan, &client, tmp.path(), (cut, &options())).await;
    assert_eq!(summary.pending, 0, "{name}: {summary}");
    assert_eq!(
        summary.failed + summary.unknown + summary.skipped,
        0,
        "{name}: {summary}"
    );
    assert_eq!(summary.organizations.created, 20, "{name}: {summary}");
    // A call that may have left is looked up, never sent again blindly (Zendesk's unique
    // names would refuse a second one, at the cost of a call and a lookup).
    assert_eq!(create_many_calls(&sandbox), 1, "{name}");
    assert_every_user_in_its_organization(&sandbox, &name);
    assert_organizations_report(&dir, &name);
    assert_eq!(journal::outcomes(&dir).unwrap().len(), USERS as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_any_journal_line_resumes_without_creating_an_organization_twice() {
    let sandbox = sandbox("ignore").await;
    let client = common::client(&sandbox);
    let plan = outbox(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("whole", &plan), &plan).unwrap();
    run(&client, journal).await;
    let whole = std::fs::read(tmp.path().join("whole/journal.jsonl")).unwrap();
    let text = String::from_utf8_lossy(&whole);
    for kind in ["org_sending", "org_accepted", "org_resolved"] {
        assert!(text.contains(&format!("\"event\":\"{kind}\"")), "{text}");
    }
    let cuts = common::journal_cuts(&whole);
    for cut in cuts {
        killed_and_resumed(cut).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_the_organizations_and_a_cancel_then_sends_no_user() {
    use zdimport::import::ImportEvent;
    let sandbox = sandbox("ignore").await;
    let admins = sandbox.users().len();
    let client = common::client(&sandbox);
    let plan = outbox(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let (pause, paused) = tokio::sync::watch::channel(true);
    let mut paused_options = options();
    paused_options.pause = Some(paused);
    let (tx, mut rx) = tokio::sync::mpsc::channel(32);
    let cancel = tokio_util::sync::CancellationToken::new();
    let engine = {
        let (client, cancel) = (client.clone(), cancel.clone());
        tokio::spawn(async move {
            zdimport::import::run(&client, journal, tx, cancel, paused_options).await
        })
    };
    let waited = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(event) = rx.recv().await {
            if matches!(event, ImportEvent::Paused) {
                return;
            }
        }
    });
    waited.await.expect("the phase says it is paused");
    assert_eq!(create_many_calls(&sandbox), 0, "paused: nothing created");
    cancel.cancel();
    let drained = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let summary = engine.await.unwrap().expect("the run stops");
    drained.await.unwrap();
    drop(pause);
    assert!(summary.cancelled, "{summary}");
    assert_eq!(summary.pending, u64::from(USERS), "{summary}");
    assert_eq!(sandbox.users().len(), admins, "no user sent");
    let dir = tmp.path().join("r");
    let orgs = journal::organizations(&dir).unwrap();
    assert!(
        orgs.iter().all(|o| o.outcome == Outcome::NotSent),
        "{orgs:?}"
    );
    let (_, _, journal) = Journal::open(&dir).unwrap();
    let summary = run(&client, journal).await;
    assert_eq!(summary.organizations.created, 20, "{summary}");
    assert_every_user_in_its_organization(&sandbox, "resumed");
}
