//! A sheet of organizations imported itself (issue 15, item 4): `assets/organizations_sample.csv`
//! (50 companies with domain names and a custom dropdown field) read, checked and planned as the
//! headless commands do, imported through the engine into the sandbox, then planned again.
//!
//! - upsert over an account holding three of them (one by external_id, one renamed under its
//!   external_id, one by name only, in another case with a trailing space): 47 created with
//!   `organizations/create_many`, 3 updated with `organizations/update_many`, and the plan
//!   afterwards finds every row unchanged;
//! - create with every `create_many` answer lost, and a kill at journal lines then a resume:
//!   every organization exists exactly once, every row created.

mod common;

use std::collections::HashMap;
use std::path::Path;

use zdimport::import::{EngineOptions, Journal, Outbox, Summary, journal};
use zdimport::mapping::{Object, auto_match_for};
use zdimport::payload::{Mode, Options, org::name_key};
use zdimport::pipeline::AccountChecks;
use zdimport::plan::{self, Action, Fields, Plan, PlanOptions, Tags};
use zdimport::sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};
use zdimport::session::check::{Report, Streamed, routed_outbox, streamed_input};
use zdimport::sheet::{HeaderChoice, Workbook};
use zdimport::zendesk::Client;

const SPEED: f64 = 200.0;
const SAMPLE: &str = "assets/organizations_sample.csv";
const SEED: &str = "assets/organizations_seed.json";
const CREATE_MANY: &str = "organizations/create_many";
const UPDATE_MANY: &str = "organizations/update_many";

/// A sandbox with the seed's organization fields, and its organizations when `held`.
async fn sandbox(held: bool) -> SandboxHandle {
    let mut config = SandboxConfig {
        speed: SPEED,
        ..SandboxConfig::default()
    };
    config.seed_from_file(Path::new(SEED)).expect("seed");
    if !held {
        config.organization_records.clear();
    }
    Sandbox::start(config).await.expect("sandbox starts")
}

/// The sample read and checked for the account, then looked up: the account plan.
async fn plan_of(client: &Client, mode: Mode) -> Plan {
    plan_with(client, mode, Tags::Replace).await
}

/// [`plan_of`] with the tags sent as `tags` says (replace the record's, or add to them).
async fn plan_with(client: &Client, mode: Mode, tags: Tags) -> Plan {
    let answer = client.organization_fields().await.expect("fields");
    let fields = Fields::new(answer.value);
    let mut workbook = Workbook::open(Path::new(SAMPLE)).expect("sample opens");
    let sheet = workbook.default_sheet();
    let layout = workbook.layout(sheet, HeaderChoice::Auto).unwrap();
    let mapping = auto_match_for(
        Object::Organizations,
        &layout.headers,
        &fields.custom_fields(),
    );
    assert!(
        mapping.problems(mode).is_empty(),
        "{:?}",
        mapping.problems(mode)
    );
    assert!(fields.problems(&mapping).is_empty());
    let targets: Vec<String> = mapping.mapped().map(|(_, t)| t.to_string()).collect();
    assert_eq!(
        targets,
        [
            "name",
            "external_id",
            "domain_names",
            "organization_fields.tier",
            "organization_fields.renewal_date",
            "notes",
            "tags",
            "shared_tickets"
        ]
    );
    let options = Options {
        mode,
        ..Options::default()
    };
    let checks = AccountChecks {
        fields: Some(std::sync::Arc::new(fields)),
        ..AccountChecks::default()
    };
    let source = Streamed {
        workbook: &mut workbook,
        sheet,
        header: HeaderChoice::Auto,
        mapping: &mapping,
        options: &options,
    };
    let (input, rows) = streamed_input(source, &checks).expect("checked");
    assert_eq!((rows.rows, rows.errors.len()), (50, 0));
    let options = PlanOptions {
        mode,
        tags,
        ..PlanOptions::default()
    };
    plan::build(client, input, options, &answer.rate)
        .await
        .expect("planned")
}

fn outbox(plan: &Plan) -> Outbox {
    routed_outbox(plan, (true, 30), &Report::default()).expect("outbox")
}

fn options() -> EngineOptions {
    EngineOptions::for_speed(SPEED)
}

fn calls(sandbox: &SandboxHandle, path: &str) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.target.contains(path))
        .count()
}

/// Each of the sample's 50 organizations once, with its dropdown value and domains.
fn assert_each_once(sandbox: &SandboxHandle, name: &str) {
    let mut by_name: HashMap<String, serde_json::Value> = HashMap::new();
    for org in sandbox.organizations() {
        let key = name_key(org["name"].as_str().unwrap());
        assert!(
            by_name.insert(key.clone(), org).is_none(),
            "{name}: '{key}' twice"
        );
    }
    assert_eq!(by_name.len(), 50, "{name}");
    let acme = &by_name["acme corp"];
    assert_eq!(
        acme["organization_fields"]["tier"], "gold",
        "{name}: label sent as value"
    );
    assert_eq!(
        acme["domain_names"],
        serde_json::json!(["acme.example", "acme-mail.example"]),
        "{name}"
    );
    assert_eq!(by_name["initech ltd"]["external_id"], "ORG-3", "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizations_sheet_upserted_then_planned_again_is_unchanged() {
    let sandbox = sandbox(true).await;
    let client = common::client(&sandbox);
    let plan = plan_of(&client, Mode::Upsert).await;
    let counts = plan.counts();
    assert_eq!((counts.new, counts.update, counts.total), (47, 3, 50));
    let renamed = plan.rows.iter().find(|r| r.row == 3).unwrap();
    let Action::Update { changes, .. } = &renamed.action else {
        panic!("row 3 updates Globex: {renamed:?}");
    };
    assert_eq!(
        changes[0].to_string(),
        "name: \"globex corp\" → \"Globex GmbH\""
    );
    let out = outbox(&plan);
    assert_eq!(
        out.endpoints_text(),
        "POST /api/v2/organizations/create_many.json (1), \
         PUT /api/v2/organizations/update_many.json (1)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &out), &out).unwrap();
    let summary: Summary = common::run_to_end(&client, journal, &options())
        .await
        .expect("the import ends");
    assert_eq!(
        (summary.created, summary.updated, summary.rows),
        (47, 3, 50),
        "{summary}"
    );
    assert_eq!(
        (calls(&sandbox, CREATE_MANY), calls(&sandbox, UPDATE_MANY)),
        (1, 1)
    );
    assert_each_once(&sandbox, "upsert");
    let rows = journal::outcomes(&tmp.path().join("r")).unwrap();
    assert_eq!(rows.len(), 50, "a result per row");
    assert!(rows.iter().all(|o| o.user_id.is_some()), "each with its id");
    let again = plan_of(&client, Mode::Upsert).await;
    assert_eq!(common::unchanged_or_what(&again), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_with_lost_answers_and_kills_creates_each_organization_once() {
    // Every create_many answer lost: each call is looked up (by external_id) before anything
    // is sent again.
    let first = sandbox(false).await;
    let client = common::client(&first);
    let plan = plan_of(&client, Mode::Create).await;
    assert_eq!(plan.counts().new, 50);
    let out = outbox(&plan);
    first.force_fault(CREATE_MANY, Fault::LostAnswer);
    first.force_fault(CREATE_MANY, Fault::LostAnswer);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("lost", &out), &out).unwrap();
    let summary = common::run_to_end(&client, journal, &options())
        .await
        .expect("the import ends");
    assert_eq!((summary.created, summary.rows), (50, 50), "{summary}");
    assert_eq!(
        calls(&first, CREATE_MANY),
        2,
        "each call once, never resent"
    );
    assert_each_once(&first, "lost answers");
    let whole = std::fs::read(tmp.path().join("lost/journal.jsonl")).unwrap();
    // A kill after each journal line, and in the middle of each: resumed, none twice.
    for cut in common::journal_cuts(&whole) {
        let name = format!("cut at byte {cut}");
        let again = sandbox(false).await;
        let sandbox = again;
        let client = common::client(&sandbox);
        sandbox.force_fault(CREATE_MANY, Fault::LostAnswer);
        let tmp = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(tmp.path(), &common::run_info("r", &out), &out).unwrap();
        journal.crash_after(cut);
        let _killed = common::run_to_end(&client, journal, &options()).await;
        let dir = tmp.path().join("r");
        let (_, resumed, journal) = Journal::open(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            resumed.object,
            Object::Organizations,
            "{name}: the plan file keeps it"
        );
        let summary = common::run_to_end(&client, journal, &options())
            .await
            .unwrap_or_else(|e| panic!("{name}: resume: {e}"));
        assert_eq!(summary.pending, 0, "{name}: {summary}");
        assert_eq!(
            summary.failed + summary.unknown + summary.skipped,
            0,
            "{name}: {summary}"
        );
        assert!(
            calls(&sandbox, CREATE_MANY) <= 2,
            "{name}: a call that may have left is looked up"
        );
        assert_each_once(&sandbox, &name);
        assert_eq!(journal::outcomes(&dir).unwrap().len(), 50, "{name}");
    }
}

/// Names are looked up in the whole list when it is cheaper than a search per name, and by
/// search when the account holds many more organizations than the file names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_looked_up_by_list_or_by_search_whichever_costs_less() {
    use zdimport::payload::Organization;
    let mut config = SandboxConfig {
        speed: SPEED,
        ..SandboxConfig::default()
    };
    config.organizations = (0..250).map(|i| format!("Held {i:03}")).collect();
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let client = common::client(&sandbox);
    let rate = client.me().await.unwrap().rate;
    let org = |name: &str| Organization {
        name: Some(name.into()),
        ..Organization::default()
    };
    for (names, requests) in [
        (vec![" held 007 "], 2),
        (vec!["Held 001", "Held 249", "New"], 3),
    ] {
        let mut input = plan::PlanInput::of(Object::Organizations);
        input.organizations = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32 + 2, org(n)))
            .collect();
        let options = PlanOptions {
            mode: Mode::Upsert,
            ..PlanOptions::default()
        };
        let before = sandbox.requests().len();
        let plan = plan::build(&client, input, options, &rate).await.unwrap();
        let sent = sandbox.requests()[before..].to_vec();
        let searched = sent.iter().filter(|r| r.target.contains("search")).count();
        assert_eq!(plan.spent.requests, requests, "{names:?}: {sent:?}");
        // One name: the first page then a search (2 pages more would cost more); three:
        // the first page and the two others (a search each would cost as much).
        assert_eq!(
            searched,
            usize::from(names.len() == 1),
            "{names:?}: {sent:?}"
        );
        // Found as Zendesk compares names; another case is a rename the sheet asks for.
        let found = plan.rows.iter().filter(|r| r.action != Action::New);
        assert_eq!(
            found.count(),
            names.len().min(2),
            "{names:?}: {:?}",
            plan.rows
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_added_keep_what_the_organization_holds_and_plan_again_unchanged() {
    let mut config = SandboxConfig {
        speed: SPEED,
        ..SandboxConfig::default()
    };
    config.seed_from_file(Path::new(SEED)).expect("seed");
    // Acme Corp holds a tag the sheet does not name.
    config.organization_records[0]["tags"] = serde_json::json!(["customer", "legacy"]);
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let client = common::client(&sandbox);
    let plan = plan_with(&client, Mode::Upsert, Tags::Add).await;
    let acme = plan.rows.iter().find(|r| r.row == 2).unwrap();
    let Action::Update { changes, .. } = &acme.action else {
        panic!("row 2 updates Acme Corp: {acme:?}");
    };
    let tags: Vec<String> = changes
        .iter()
        .map(ToString::to_string)
        .filter(|c| c.starts_with("tags"))
        .collect();
    assert_eq!(tags, ["tags: adds \"partner\""], "{changes:?}");
    let out = outbox(&plan);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &out), &out).unwrap();
    common::run_to_end(&client, journal, &options())
        .await
        .expect("the import ends");
    let held = sandbox
        .organizations()
        .into_iter()
        .find(|o| o["external_id"] == "ORG-1")
        .unwrap();
    assert_eq!(
        held["tags"],
        serde_json::json!(["customer", "legacy", "partner"]),
        "nothing the record held is lost"
    );
    let again = plan_with(&client, Mode::Upsert, Tags::Add).await;
    assert_eq!(common::unchanged_or_what(&again), Vec::<String>::new());
}

/// A run of organizations whose calls all failed, retried: the retry's plan still sends
/// organizations, to their endpoints, and each is created once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_of_an_organizations_run_sends_organizations() {
    let sandbox = sandbox(false).await;
    let client = common::client(&sandbox);
    let plan = plan_of(&client, Mode::Create).await;
    let out = outbox(&plan);
    for _ in 0..10 {
        sandbox.force_fault(CREATE_MANY, Fault::ServerError(503));
    }
    let tight = EngineOptions {
        max_attempts: 2,
        ..options()
    };
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("first", &out), &out).unwrap();
    let first = common::run_to_end(&client, journal, &tight)
        .await
        .expect("the import ends");
    assert_eq!(first.failed + first.unknown, 50, "{first}");
    let retry = zdimport::import::Retry::read(&tmp.path().join("first")).expect("retry");
    assert_eq!(retry.plan.object, Object::Organizations);
    let journal = retry.create(tmp.path()).unwrap();
    let again = common::run_to_end(&client, journal, &options())
        .await
        .expect("the retry ends");
    assert_eq!((again.created, again.rows), (50, 50), "{again}");
    assert_each_once(&sandbox, "retried");
    assert_eq!(calls(&sandbox, "users/"), 0, "no user endpoint");
}

/// An import of organizations without the plan (the TUI's `s` in create mode) resolves no
/// organization names: its rows are the organizations, so it goes on as it is, asking
/// nothing (it stopped with "missing field `users`" when read as users).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_of_organizations_has_no_organization_names_to_resolve() {
    use zdimport::payload::{Organization, Request};
    let sandbox = sandbox(true).await;
    let client = common::client(&sandbox);
    let mut outbox = Outbox::new(Mode::Create);
    outbox.object = Object::Organizations;
    let orgs = ["Newco", "Acme Corp"].map(|name| Organization {
        name: Some(name.into()),
        ..Organization::default()
    });
    let request = Request::organizations(Mode::Create, vec![2, 3], orgs.to_vec());
    outbox.push_request(&request).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = zdimport::import::OutboxFile::spool(dir.path(), &outbox).unwrap();
    let before = sandbox.requests().len();
    let policy = plan::MissingOrgs::Create;
    let (resolved, warnings) =
        zdimport::session::run::resolve_organizations(&client, file, policy, 4)
            .await
            .expect("nothing to resolve");
    assert!(warnings.is_empty());
    assert_eq!(sandbox.requests().len(), before, "nothing asked");
    assert_eq!(resolved.load().unwrap(), outbox);
}
