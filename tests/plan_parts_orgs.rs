//! A sheet of organizations planned a part at a time (`plan::org_rows::build_each`), against
//! a sandbox: a sheet of more than two parts whose rows are found by external_id, by id, by
//! name alone, or by name after their external_id found nothing, each decided as the row
//! and the account say; the lookups within the estimate; and the choice between the
//! account's list and a search per name made as the parts go, so that a few new names at the
//! end of a long sheet of held organizations are searched, not found in a list of pages.

use serde_json::{Value, json};
use zdimport::payload::{InvalidPolicy, Issue, Severity};
use zdimport::payload::{Mode, Organization};
use zdimport::plan::{Action, PART, Plan, PlanInput, PlanOptions};
use zdimport::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use zdimport::session::check::{
    Object, OrgRows, OrgSurvey, Report, build, routed_organizations, routed_outbox,
};

mod common;
use common::client;

/// Organizations on the sheet; the account holds the first `HELD`.
const ROWS: usize = PART * 2 + 345;
const HELD: usize = PART + 600;

fn held(i: usize) -> Value {
    json!({"name": format!("Org {i}"), "external_id": format!("O-{i}"), "tags": ["held"]})
}

async fn sandbox(records: Vec<Value>) -> SandboxHandle {
    let config = SandboxConfig {
        speed: 1000.0,
        organization_records: records,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

fn options() -> PlanOptions {
    PlanOptions {
        mode: Mode::Upsert,
        ..PlanOptions::default()
    }
}

/// How row `i` names its organization.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    ExternalId,
    /// By name alone: no external_id, no id.
    Name,
    /// An external_id the account does not hold, on a name it holds.
    NewExternalId,
}

fn key(i: usize) -> Key {
    match i % 10 {
        0 => Key::Name,
        7 => Key::NewExternalId,
        _ => Key::ExternalId,
    }
}

/// Row `i`'s organization: every third renamed (an update when found by external_id).
fn org(i: usize) -> Organization {
    let renamed = i % 3 == 0 && key(i) == Key::ExternalId;
    Organization {
        name: Some(if renamed {
            format!("Org {i} Renamed")
        } else {
            format!("Org {i}")
        }),
        external_id: match key(i) {
            Key::ExternalId => Some(format!("O-{i}")),
            Key::Name => None,
            Key::NewExternalId => Some(format!("N-{i}")),
        },
        tags: Some(vec!["held".into()]),
        ..Organization::default()
    }
}

/// Every row's organization but row 3's, which has an error.
fn sheet() -> Vec<(u32, Organization)> {
    (0..ROWS)
        .filter(|i| *i != 1)
        .map(|i| (i as u32 + 2, org(i)))
        .collect()
}

async fn plan_of(sandbox: &SandboxHandle, organizations: Vec<(u32, Organization)>) -> Plan {
    let client = client(sandbox);
    let rate = client.me().await.unwrap().rate;
    let mut input = PlanInput::of(Object::Organizations);
    input.organizations = organizations;
    input.invalid = vec![(3, "an error".into())];
    let plan = build(&client, input, options(), &rate).await.unwrap();
    assert!(
        plan.cost.requests <= plan.spent.requests && plan.spent.requests <= plan.cost.at_most,
        "spent {:?} against {:?}",
        plan.spent,
        plan.cost
    );
    plan
}

/// Searches by name and pages of the organization list the sandbox was asked for.
fn names_looked_up(sandbox: &SandboxHandle) -> (usize, usize) {
    let asked: Vec<String> = sandbox.requests().into_iter().map(|r| r.target).collect();
    let searched = asked.iter().filter(|t| t.contains("search")).count();
    let pages = asked
        .iter()
        .filter(|t| t.starts_with("/api/v2/organizations.json"))
        .count();
    (searched, pages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_a_sheet_of_several_parts_is_decided_as_its_organization_is_held() {
    let sandbox = sandbox((0..HELD).map(held).collect()).await;
    let rows = sheet();
    let plan = plan_of(&sandbox, rows).await;
    assert_eq!(plan.rows.len(), ROWS, "every row once, the invalid one too");
    for (i, row) in plan.rows.iter().enumerate() {
        assert_eq!(row.row, i as u32 + 2, "in sheet order");
        let at = format!("row {} ({:?}): {:?}", row.row, key(i), row.action);
        if i == 1 {
            assert!(matches!(row.action, Action::Invalid { .. }), "{at}");
            continue;
        }
        let sent = row.organization.as_deref().expect("its organization");
        assert_eq!(sent.name, org(i).name, "{at}");
        let changed: Vec<&str> = match &row.action {
            Action::New => {
                assert!(i >= HELD, "{at}");
                continue;
            }
            Action::Unchanged { .. } => Vec::new(),
            Action::Update { changes, .. } => changes.iter().map(|c| c.field.as_str()).collect(),
            _ => panic!("{at}"),
        };
        assert!(i < HELD, "{at}");
        let want: &[&str] = match key(i) {
            Key::NewExternalId => &["external_id"],
            Key::ExternalId if i % 3 == 0 => &["name"],
            _ => &[],
        };
        assert_eq!(changed, want, "{at}");
    }
    // The names of rows with no external_id, and of those whose external_id found nothing,
    // were looked up; the account's list (27 pages) costs less than a search each.
    assert_eq!(
        names_looked_up(&sandbox),
        (0, HELD.div_ceil(100)),
        "the whole list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_new_names_after_parts_of_held_organizations_are_searched_not_listed() {
    let sandbox = sandbox((0..PART * 2).map(held).collect()).await;
    // Every row found by its external_id but the last three, new: three names to look up
    // against a list of 40 pages.
    let rows: Vec<(u32, Organization)> = (0..PART * 2 + 3)
        .map(|i| {
            let mut org = Organization {
                name: Some(format!("Org {i}")),
                external_id: Some(format!("O-{i}")),
                tags: Some(vec!["held".into()]),
                ..Organization::default()
            };
            if i >= PART * 2 {
                org.name = Some(format!("Newco {i}"));
            }
            (i as u32 + 2, org)
        })
        .collect();
    let plan = plan_of(&sandbox, rows).await;
    let counts = plan.counts();
    assert_eq!((counts.new, counts.unchanged), (3, PART * 2), "{counts:?}");
    assert_eq!(
        names_looked_up(&sandbox),
        (3, 1),
        "the first page, then a search each"
    );
}

/// The import's outbox routed a part at a time as the plan decides it (what the headless
/// import sends) is the outbox of the whole plan routed at once: the same requests, bodies,
/// marks and skipped rows, the row with an error skipped once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_a_part_at_a_time_a_sheet_of_organizations_sends_what_the_whole_plan_does() {
    let sandbox = sandbox((0..HELD).map(held).collect()).await;
    let rows = sheet();
    let report = Report {
        issues: [Issue {
            row: 3,
            column: Some("Name".into()),
            cell: None,
            value: None,
            severity: Severity::Error,
            message: "an error".into(),
            includable: false,
        }]
        .iter()
        .collect(),
        invalid: InvalidPolicy::Skip,
        ..Report::default()
    };
    let whole = plan_of(&sandbox, rows.clone()).await;
    let client = client(&sandbox);
    let rate = client.me().await.unwrap().rate;
    for (skip_unchanged, jobs) in [(true, 30), (false, 3)] {
        let memory = routed_outbox(&whole, (skip_unchanged, jobs), &report).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let survey = OrgSurvey::of(&rows);
        let held: OrgRows<'_> = Box::new(rows.iter().cloned().map(Ok));
        let from = (held, survey, vec![(3, "an error".to_owned())]);
        let at = (skip_unchanged, jobs);
        let (file, planned) =
            routed_organizations(&client, from, (options(), &rate), at, (&report, dir.path()))
                .await
                .unwrap();
        let parts = file.load().unwrap();
        assert_eq!(parts.batches.len(), memory.batches.len());
        for (a, b) in memory.batches.iter().zip(&parts.batches) {
            assert_eq!((&a.rows, &a.keys, &a.body), (&b.rows, &b.keys, &b.body));
            assert_eq!(a.sent_as, b.sent_as);
        }
        assert_eq!(parts.skipped, memory.skipped);
        assert_eq!(parts.skipped_keys, memory.skipped_keys);
        assert_eq!(parts, memory, "{skip_unchanged} {jobs}");
        let updates = parts
            .batches
            .iter()
            .filter(|b| b.sent_as == Some(Mode::Update));
        assert!(updates.count() > 0, "update_many after create_many");
        assert_eq!(planned.plan.rows.len(), 1, "the invalid row");
    }
}
