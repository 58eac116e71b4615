//! The headless import's account plan, made and routed a part at a time into its spool
//! (`session::check::routed_spool`), against the plan made whole and routed in memory: the
//! same requests, bodies, marks, skipped rows and organizations created first, for a sheet
//! of more than two parts with every kind of row.

use serde_json::{Value, json};
use zdimport::import::Outbox;
use zdimport::payload::{InvalidPolicy, Issue, MemberOf, Mode, OrganizationRef, Severity, User};
use zdimport::plan::{Existing, MissingOrgs, PART, PlanInput, PlanOptions, Tags};
use zdimport::sandbox::{Sandbox, SandboxConfig, SandboxHandle, UserSettings};
use zdimport::session::check::{
    Report, build, routed_file, routed_outbox, routed_spool, stored_plan,
};
use zdimport::zendesk::{Client, RateInfo};

mod common;
use common::client;

/// Users on the sheet; the account holds the first `HELD`.
const ROWS: usize = PART * 2 + 345;
const HELD: usize = PART + 600;

fn held(i: usize) -> Value {
    let mut user = json!({
        "name": format!("User {i}"),
        "email": format!("u{i}@x.com"),
        "external_id": format!("E-{i}"),
        "organization": {"name": "Acme"},
        "tags": ["held"],
    });
    if i % 50 == 0 {
        user["organization_memberships"] = json!(["Globex"]);
    }
    user
}

async fn sandbox() -> SandboxHandle {
    let config = SandboxConfig {
        speed: 1000.0,
        users: (0..HELD).map(held).collect(),
        organizations: vec!["Acme".into(), "Globex".into(), "Initech".into()],
        user_settings: UserSettings {
            multiple_organizations: true,
            ..UserSettings::default()
        },
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

/// Row `i`'s user (sheet row `i + 2`): some as held, some changed, some with a new email,
/// organizations held and missing, memberships held and new.
fn user(i: usize) -> User {
    let name = if i % 3 == 0 {
        format!("User {i} Renamed")
    } else {
        format!("User {i}")
    };
    let email = if i % 97 == 0 {
        format!("new{i}@x.com")
    } else {
        format!("u{i}@x.com")
    };
    let organization = ["Acme", "Globex", "Newco"][i % 3];
    let memberships = match i % 50 {
        0 => vec!["Globex", "Umbrella"],
        10 => vec!["Initech"],
        _ => vec![],
    };
    User {
        name: (i % 401 != 7).then_some(name),
        email: Some(email),
        external_id: Some(format!("E-{i}")),
        organization: Some(OrganizationRef {
            name: organization.into(),
        }),
        tags: (i % 7 == 0).then(|| vec!["imported".to_owned()]),
        memberships: memberships
            .into_iter()
            .map(|name| MemberOf {
                name: name.into(),
                id: None,
            })
            .collect(),
        ..User::default()
    }
}

/// Rows with an error: every 1,000th row from row 8; those of held or new users that are
/// sent, and one the plan leaves out (row 2008, its organization missing with
/// `--missing-orgs fail`), only with an error `--invalid include` may send.
fn input_and_report(invalid: InvalidPolicy) -> (PlanInput, Report) {
    let mut input = PlanInput::default();
    let mut issues = Vec::new();
    for i in 0..ROWS {
        let row = u32::try_from(i).unwrap() + 2;
        if i % 1000 == 6 {
            let includable = i % 3 == 0 || i == 2006;
            issues.push(Issue {
                row,
                column: Some("Email".into()),
                cell: None,
                value: None,
                severity: Severity::Error,
                message: "not an email".into(),
                includable,
            });
            input.push_issue(issues.last().unwrap());
            if !(includable && invalid == InvalidPolicy::Include) {
                continue;
            }
        }
        input.users.push((row, user(i)));
    }
    let report = Report {
        issues: issues.iter().collect(),
        invalid,
        ..Report::default()
    };
    (input, report)
}

async fn both(
    client: &Client,
    options: PlanOptions,
    (skip_unchanged, jobs): (bool, usize),
    invalid: InvalidPolicy,
) -> (Outbox, Outbox) {
    let rate = RateInfo::default();
    let (input, report) = input_and_report(invalid);
    let plan = build(client, input.clone(), options, &rate).await.unwrap();
    let whole = routed_outbox(&plan, (skip_unchanged, jobs), &report).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let at = (skip_unchanged, jobs);
    // The plan kept a row at a time in a scratch file, then routed from it into a spool
    // (the TUI's), sends the same.
    let stored = stored_plan(client, &input, (options, &rate), dir.path())
        .await
        .unwrap();
    assert_eq!(stored.counts(), plan.counts());
    assert_eq!(
        stored.load().unwrap(),
        plan,
        "every row read back as decided"
    );
    let file = routed_file(&stored, at, &report, None, dir.path()).unwrap();
    assert_same(&whole, &file.load().unwrap());
    let (parts, planned) = routed_spool(client, input, (options, &rate), at, (&report, dir.path()))
        .await
        .unwrap();
    assert!(
        planned
            .plan
            .rows
            .iter()
            .all(|r| r.action.name() == "invalid")
    );
    (whole, parts.load().unwrap())
}

/// Whether some row is skipped for a reason saying `text`.
fn skipped_for(outbox: &Outbox, text: &str) -> bool {
    outbox.skipped.iter().any(|(_, why)| why.contains(text))
}

fn assert_same(whole: &Outbox, parts: &Outbox) {
    assert_eq!(whole.batches.len(), parts.batches.len());
    for (n, (a, b)) in whole.batches.iter().zip(&parts.batches).enumerate() {
        assert_eq!(a.rows, b.rows, "batch {n}");
        assert_eq!(a.keys, b.keys, "batch {n}");
        assert_eq!(a.sent_as, b.sent_as, "batch {n}");
        let body = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap();
        assert_eq!(body(&a.body), body(&b.body), "batch {n}");
    }
    assert_eq!(whole.skipped, parts.skipped);
    assert_eq!(whole.skipped_keys, parts.skipped_keys);
    assert_eq!(whole.organizations, parts.organizations);
    assert_eq!(whole, parts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_planned_in_parts_sends_what_the_whole_plan_sends() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let options = PlanOptions {
        mode: Mode::Upsert,
        tags: Tags::Add,
        missing_orgs: MissingOrgs::Create,
        ..PlanOptions::default()
    };
    let (whole, parts) = both(&client, options, (false, 30), InvalidPolicy::Skip).await;
    assert_same(&whole, &parts);
    // Every kind of row is there: sent new and updated, rows that would fail (no name),
    // rows with errors, and the organizations created first.
    let keys = || parts.batches.iter().flat_map(|b| &b.keys);
    assert!(keys().any(|k| k.expect_new) && keys().any(|k| !k.expect_new));
    assert!(keys().any(|k| !k.memberships.is_empty()));
    assert!(skipped_for(&parts, "without a name"));
    assert!(skipped_for(&parts, "not an email"));
    let created: Vec<&str> = parts
        .organizations
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(created, ["Newco", "Umbrella"]);
    assert_eq!(parts.rows(), ROWS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_moving_held_users_and_making_emails_primary_is_the_same_in_parts() {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let options = PlanOptions {
        mode: Mode::Create,
        existing: Existing::Update,
        make_primary: true,
        missing_orgs: MissingOrgs::Fail,
        ..PlanOptions::default()
    };
    let (whole, parts) = both(&client, options, (true, 7), InvalidPolicy::Include).await;
    assert_same(&whole, &parts);
    // The held users go to update_many after every create_many, some made primary; the
    // rows with only an includable error are sent, marked.
    let moved: Vec<bool> = parts.batches.iter().map(|b| b.sent_as.is_some()).collect();
    let first_moved = moved.iter().position(|m| *m).unwrap();
    assert!(moved[first_moved..].iter().all(|m| *m), "{moved:?}");
    let keys = || parts.batches.iter().flat_map(|b| &b.keys);
    assert!(keys().any(|k| k.make_primary.is_some()));
    let despite: Vec<u32> = parts
        .batches
        .iter()
        .flat_map(|b| b.rows.iter().zip(&b.keys))
        .filter_map(|(row, k)| k.sent_despite.as_ref().map(|_| *row))
        .collect();
    assert_eq!(despite, [3008, 8], "held users' updates go last");
    let skipped = |row: u32| parts.skipped.iter().filter(|(r, _)| *r == row).count();
    assert_eq!(skipped(2008), 1, "left out by the plan, once");
    assert!(skipped_for(&parts, "--missing-orgs fail"));
    assert!(skipped_for(&parts, "unchanged"));
    assert_eq!(parts.rows(), ROWS);
}
