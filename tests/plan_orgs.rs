//! Organizations resolved in the plan, against a sandbox: a file naming 30 organizations (10
//! the account has, some in another case or with spaces around; 20 it lacks, one a near-miss)
//! planned under each `--missing-orgs` policy, and the lookup choosing the list or searches.

use std::collections::HashMap;

use serde_json::{Value, json};
use zdimport::payload::{Mode, OrganizationRef, User};
use zdimport::plan::{self, Action, MissingOrgs, Plan, PlanInput, PlanOptions};
use zdimport::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use zdimport::zendesk::RateInfo;

mod common;
use common::client;

/// The account's organizations, as it spells them.
const HELD: [&str; 10] = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Retail",
    "Wayne Enterprises",
    "Hooli",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
];

/// The same ten as the file spells them: other case, spaces around.
const NAMED_HELD: [&str; 10] = [
    "acme corp",
    " GLOBEX ",
    "Initech",
    "umbrella health",
    "Stark Retail  ",
    "WAYNE ENTERPRISES",
    "Hooli",
    "soylent",
    "TYRELL",
    "cyberdyne ",
];

/// Twenty the account lacks; `ACME Corp.` is a near-miss of `Acme Corp`.
fn named_missing() -> Vec<String> {
    let mut names: Vec<String> = (1..20).map(|i| format!("Newco {i:02}")).collect();
    names.push("ACME Corp.".into());
    names
}

async fn sandbox(extra: usize) -> SandboxHandle {
    let mut organizations: Vec<String> = HELD.map(str::to_owned).to_vec();
    organizations.extend((0..extra).map(|i| format!("Other {i:04}")));
    let config = SandboxConfig {
        speed: 1000.0,
        organizations,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

/// Two new users per organization named, rows from 2: the held ones first, then the missing.
fn input(names: &[String]) -> PlanInput {
    let mut input = PlanInput::default();
    for (i, name) in names.iter().flat_map(|n| [n, n]).enumerate() {
        let user = User {
            name: Some(format!("User {i}")),
            external_id: Some(format!("X-{i}")),
            organization: Some(OrganizationRef { name: name.clone() }),
            ..User::default()
        };
        input.users.push((u32::try_from(i).unwrap() + 2, user));
    }
    input
}

fn all_named() -> Vec<String> {
    let mut names: Vec<String> = NAMED_HELD.map(str::to_owned).to_vec();
    names.extend(named_missing());
    names
}

async fn plan_with(sandbox: &SandboxHandle, names: &[String], policy: MissingOrgs) -> Plan {
    let options = PlanOptions {
        mode: Mode::Upsert,
        missing_orgs: policy,
        ..PlanOptions::default()
    };
    let rate = RateInfo {
        limit: Some(700),
        ..RateInfo::default()
    };
    plan::build(&client(sandbox), input(names), options, &rate)
        .await
        .expect("plan")
}

/// The account's organization ids by name.
fn held_ids(sandbox: &SandboxHandle) -> HashMap<String, u64> {
    sandbox
        .organizations()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_owned(),
                o["id"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Each user as the import sends it, by row.
fn sent(plan: &Plan) -> HashMap<u32, Value> {
    let import = plan.route(false, zdimport::payload::JOB_LIMIT);
    let mut sent = HashMap::new();
    for request in &import.requests {
        for (row, user) in request.rows.iter().zip(&request.body.users) {
            sent.insert(*row, serde_json::to_value(user).unwrap());
        }
    }
    sent
}

#[tokio::test]
async fn thirty_organizations_named_under_each_policy() {
    let sandbox = sandbox(0).await;
    let ids = held_ids(&sandbox);
    let names = all_named();
    for policy in MissingOrgs::ALL {
        let plan = plan_with(&sandbox, &names, policy).await;
        let sent = sent(&plan);
        assert_eq!(plan.rows.len(), 60);
        for (i, row) in plan.rows.iter().enumerate() {
            let named = &names[i / 2];
            let held = HELD.iter().find(|h| h.eq_ignore_ascii_case(named.trim()));
            let body = sent.get(&row.row);
            match (held, policy) {
                (Some(held), _) => {
                    assert_eq!(row.action, Action::New, "{policy} row {}", row.row);
                    let body = body.expect("sent");
                    assert_eq!(
                        body["organization_id"],
                        json!(ids[*held]),
                        "{policy} {named}"
                    );
                    assert!(body.get("organization").is_none(), "{policy}: {body}");
                }
                (None, MissingOrgs::Create) => {
                    assert_eq!(row.action, Action::New);
                    let body = body.expect("sent");
                    assert_eq!(body["organization"], json!({"name": named}), "{body}");
                }
                (None, MissingOrgs::SkipField) => {
                    assert_eq!(row.action, Action::New);
                    let body = body.expect("sent");
                    assert!(body.get("organization").is_none(), "{body}");
                    assert!(body.get("organization_id").is_none(), "{body}");
                }
                (None, MissingOrgs::Fail) => {
                    let reason = format!(
                        "organization '{named}' is not in the account (--missing-orgs fail)"
                    );
                    assert_eq!(row.action, Action::WouldFail { reason });
                    assert!(body.is_none(), "not sent");
                }
            }
        }
        let mut missing = named_missing();
        missing.sort_by_key(|n| n.to_lowercase());
        let to_create = if policy == MissingOrgs::Create {
            missing
        } else {
            Vec::new()
        };
        assert_eq!(plan.missing_organizations, to_create, "{policy}");
        let near = "organization 'ACME Corp.' is not in the account but is close to 'Acme Corp'";
        assert!(
            plan.warnings.iter().any(|w| w.starts_with(near)),
            "{policy}: {:?}",
            plan.warnings
        );
        let per_org = plan
            .warnings
            .iter()
            .filter(|w| w.contains("--missing-orgs"))
            .count();
        let want = if policy == MissingOrgs::Create { 0 } else { 20 };
        assert_eq!(per_org, want, "{policy}: {:?}", plan.warnings);
        let counts = plan.counts();
        assert_eq!(counts.new + counts.would_fail, 60, "{policy}");
    }
    let skip_field = plan_with(&sandbox, &names, MissingOrgs::SkipField).await;
    assert!(
        skip_field.warnings.contains(
            &"organization 'Newco 01' is not in the account: rows 22, 23 sent without an \
          organization (--missing-orgs skip-field)"
                .to_owned()
        )
    );
}

/// The organization requests since `from`.
fn org_requests(sandbox: &SandboxHandle, from: usize) -> Vec<String> {
    sandbox.requests()[from..]
        .iter()
        .map(|r| r.target.clone())
        .filter(|t| t.contains("/organizations"))
        .collect()
}

#[tokio::test]
async fn the_list_is_read_when_it_is_cheaper_than_searching() {
    // 260 organizations: the first page, then 2 more pages, instead of searching 30 names.
    let sandbox = sandbox(250).await;
    let plan = plan_with(&sandbox, &all_named(), MissingOrgs::Create).await;
    let asked = org_requests(&sandbox, 0);
    assert_eq!(asked.len(), 3, "{asked:#?}");
    assert!(
        asked
            .iter()
            .all(|t| t.starts_with("/api/v2/organizations.json")),
        "{asked:#?}"
    );
    assert_eq!(plan.missing_organizations.len(), 20);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("close to 'Acme Corp'"))
    );
    let cost = plan::estimate(&input(&all_named()), &RateInfo::default());
    assert!(
        plan.spent.requests <= cost.at_most,
        "{:?} within {cost:?}",
        plan.spent
    );
}

#[tokio::test]
async fn a_few_names_in_a_large_account_are_searched() {
    // 1,010 organizations and 3 names: the first page, then a search for each name it did not
    // hold, and an autocomplete for the missing one's near-misses, instead of 10 more pages.
    let sandbox = sandbox(1000).await;
    let names = vec![
        "Other 0999".to_owned(),
        "acme corp ".into(),
        "ACME Corp.".into(),
    ];
    let plan = plan_with(&sandbox, &names, MissingOrgs::SkipField).await;
    let asked = org_requests(&sandbox, 0);
    assert_eq!(
        asked,
        [
            "/api/v2/organizations.json?per_page=100",
            "/api/v2/organizations/search.json?name=Other+0999",
            "/api/v2/organizations/search.json?name=ACME+Corp.",
            "/api/v2/organizations/autocomplete.json?name=acme",
        ],
        "Acme Corp was on the first page: not searched"
    );
    let ids = held_ids(&sandbox);
    let sent = sent(&plan);
    assert_eq!(sent[&2]["organization_id"], json!(ids["Other 0999"]));
    assert_eq!(sent[&4]["organization_id"], json!(ids["Acme Corp"]));
    assert!(sent[&6].get("organization").is_none(), "skip-field");
    assert!(
        plan.warnings.iter().any(|w| w.contains(
            "'ACME Corp.' is not in the account but is \
                                                 close to 'Acme Corp'"
        )),
        "{:?}",
        plan.warnings
    );
    assert_eq!(
        plan.spent.requests,
        1 + 4,
        "the users' show_many, then these"
    );
}
