//! Several organizations per user (issue 15, item 3), through the plan and the engine, against
//! a sandbox on loopback: 30 users each naming a default organization and up to three more
//! (two of them missing, created first), two users already holding one of theirs. The plan
//! shows exactly the memberships the run adds; lost answers, refused calls and a kill at every
//! journal line add none twice; the report accounts for every membership; planning the file
//! again finds nothing to change. With the account's setting off the plan refuses before
//! anything is sent. Longer sheets of users joining a second organization: jobs open at once
//! within the run's, the phase paced under a low rate limit, a 429 on a poll or a lookup waited
//! out.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use zdimport::import::memberships::{self, MemberEnd};
use zdimport::import::{EngineOptions, ImportEvent, Journal, Outbox, Summary, WaitReason};
use zdimport::payload::{Mode, OrganizationRef, User};
use zdimport::pipeline::{Report, outbox_from};
use zdimport::plan::{self, MissingOrgs, Plan, PlanInput, PlanOptions};
use zdimport::sandbox::memberships::ExistingMembership;
use zdimport::sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle, UserSettings};
use zdimport::zendesk::Client;

const SPEED: f64 = 200.0;
const USERS: u32 = 30;
const CREATE_MANY: &str = "organization_memberships/create_many";
const HELD: [&str; 3] = ["Acme", "Globex", "Initech"];

/// User `i`'s organizations, the default first.
fn orgs_of(i: u32) -> Vec<String> {
    let mut orgs: Vec<String> = match i % 3 {
        0 => vec!["Acme", "globex ", "Initech"],
        1 => vec!["Globex", "ACME"],
        _ => vec!["Initech"],
    }
    .into_iter()
    .map(str::to_owned)
    .collect();
    if i % 4 == 0 {
        orgs.push(format!("Newco {}", i % 8 / 4));
    }
    orgs
}

fn user(i: u32) -> User {
    person(
        format!("User {i}"),
        format!("user{i}@example.com"),
        format!("X{i}"),
        orgs_of(i),
    )
}

/// A user joining `orgs`, the first its default.
fn person(name: String, email: String, external_id: String, orgs: Vec<String>) -> User {
    let mut user = User {
        name: Some(name),
        email: Some(email),
        external_id: Some(external_id),
        ..User::default()
    };
    user.join(orgs);
    user.settle_memberships();
    user
}

/// Users 0 and 3 are in the account already, in Acme and Globex.
fn seeded(i: u32) -> serde_json::Value {
    json!({"name": format!("User {i}"), "email": format!("user{i}@example.com"),
        "external_id": format!("X{i}"), "organization": {"name": "Acme"},
        "organization_memberships": ["Globex"]})
}

async fn sandbox(multiple: bool, existing: ExistingMembership) -> SandboxHandle {
    let config = SandboxConfig {
        speed: SPEED,
        organizations: HELD.iter().map(|s| (*s).to_owned()).collect(),
        users: vec![seeded(0), seeded(3)],
        user_settings: UserSettings {
            multiple_organizations: multiple,
            ..UserSettings::default()
        },
        existing_membership: existing,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

/// The memberships the rows ask beyond each default, less the two held: what the plan adds.
fn expected_to_add() -> usize {
    let asked: usize = (0..USERS).map(|i| orgs_of(i).len() - 1).sum();
    asked - 2
}

async fn plan_of(client: &Client) -> Result<Plan, plan::PlanError> {
    let rate = client.me().await.expect("me").rate;
    let input = PlanInput {
        users: (0..USERS).map(|i| (i + 2, user(i))).collect(),
        ..PlanInput::default()
    };
    let options = PlanOptions {
        mode: Mode::Upsert,
        missing_orgs: MissingOrgs::Create,
        ..PlanOptions::default()
    };
    plan::build(client, input, options, &rate).await
}

async fn outbox(client: &Client) -> Outbox {
    let plan = plan_of(client).await.expect("plan");
    assert_eq!(plan::memberships::to_add(&plan.rows), expected_to_add());
    assert_eq!(plan.missing_organizations, ["Newco 0", "Newco 1"]);
    outbox_from(&plan, (false, 30), &Report::default()).expect("outbox")
}

fn options() -> EngineOptions {
    EngineOptions::for_speed(SPEED)
}

fn calls(sandbox: &SandboxHandle) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.target.contains(CREATE_MANY))
        .count()
}

/// Every user in exactly the organizations its row names, and no others.
fn assert_memberships(sandbox: &SandboxHandle, name: &str) {
    let orgs = sandbox.organizations();
    let id_of = |n: &str| {
        let key = n.trim().to_lowercase();
        orgs.iter()
            .find(|o| o["name"].as_str().unwrap().to_lowercase() == key)
            .unwrap_or_else(|| panic!("{name}: organization {n}"))["id"]
            .as_u64()
            .unwrap()
    };
    let held: BTreeSet<(u64, u64)> = sandbox.memberships().into_iter().collect();
    let mut want = BTreeSet::new();
    for i in 0..USERS {
        let user = sandbox
            .user_by_external_id(&format!("X{i}"))
            .unwrap_or_else(|| panic!("{name}: user {i}"));
        let id = user["id"].as_u64().unwrap();
        let default = orgs_of(i)[0].clone();
        assert_eq!(
            user["organization_id"].as_u64(),
            Some(id_of(&default)),
            "{name}: user {i}'s default"
        );
        for org in orgs_of(i) {
            want.insert((id, id_of(&org)));
        }
    }
    assert_eq!(held, want, "{name}: exactly the memberships the rows name");
}

async fn assert_nothing_left(client: &Client, name: &str) {
    let again = plan_of(client).await.expect("plan again");
    assert_eq!(
        common::unchanged_or_what(&again),
        Vec::<String>::new(),
        "{name}: nothing to change"
    );
    assert_eq!(plan::memberships::to_add(&again.rows), 0, "{name}");
    assert!(again.missing_organizations.is_empty(), "{name}");
}

fn assert_report(dir: &std::path::Path, summary: &Summary, name: &str) {
    let all = memberships::of_run(dir).unwrap();
    assert_eq!(
        all.len(),
        expected_to_add(),
        "{name}: every membership once"
    );
    assert!(
        all.iter().all(|m| m.end == MemberEnd::Added),
        "{name}: {all:?}"
    );
    assert_eq!(
        (summary.memberships.total, summary.memberships.added),
        (expected_to_add() as u32, expected_to_add() as u32),
        "{name}: {summary}"
    );
    let path = dir.join("report.memberships.csv");
    let members = memberships::RunMemberships::open(dir).unwrap();
    zdimport::import::report::write_memberships(&path, &members).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), expected_to_add() + 1, "{text}");
    assert!(text.starts_with(
        "row,user_id,organization,organization_id,outcome,membership_id,error,details,index\n"
    ));
}

async fn import(sandbox: &SandboxHandle, fault: Option<Fault>, name: &str) {
    let client = common::client(sandbox);
    let plan = outbox(&client).await;
    if let Some(fault) = fault {
        sandbox.force_fault(CREATE_MANY, fault);
    }
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let summary = common::run_to_end(&client, journal, &options())
        .await
        .expect("the import ends");
    assert_eq!(
        summary.created + summary.updated,
        u64::from(USERS),
        "{name}"
    );
    assert_memberships(sandbox, name);
    assert_report(&tmp.path().join("r"), &summary, name);
    assert_nothing_left(&client, name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_get_exactly_the_memberships_the_plan_showed() {
    let sandbox = sandbox(true, ExistingMembership::Error).await;
    import(&sandbox, None, "plain").await;
    assert_eq!(calls(&sandbox), 1, "one call for fewer than 100");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_read_back_and_nothing_is_added_twice() {
    for existing in [ExistingMembership::Error, ExistingMembership::Ok] {
        for (fault, most) in [
            (Fault::LostAnswer, 1),
            (Fault::DropConnection, 2),
            (Fault::JobFailed, 2),
            (Fault::ServerError(503), 2),
        ] {
            let name = format!("{fault:?}, existing {existing:?}");
            let sandbox = sandbox(true, existing).await;
            import(&sandbox, Some(fault), &name).await;
            assert!(calls(&sandbox) <= most, "{name}: {}", calls(&sandbox));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_setting_off_the_plan_refuses_before_sending_anything() {
    let sandbox = sandbox(false, ExistingMembership::Error).await;
    let client = common::client(&sandbox);
    let before = sandbox.requests().len();
    let error = plan_of(&client).await.expect_err("refused").to_string();
    let rows = (0..USERS).filter(|i| orgs_of(*i).len() > 1).count();
    assert!(
        error.starts_with(&format!("{rows} rows name more than one organization")),
        "{error}"
    );
    assert!(error.contains("multiple_organizations is off"), "{error}");
    let sent: Vec<String> = sandbox.requests()[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert_eq!(
        sent,
        [
            "GET /api/v2/users/me.json",
            "GET /api/v2/account/settings.json"
        ],
        "the setting read, nothing else"
    );
}

/// Imports until the journal has taken `cut` bytes (a kill there), then resumes from disk.
async fn killed_and_resumed(cut: u64) {
    let name = format!("cut at byte {cut}");
    let sandbox = sandbox(true, ExistingMembership::Error).await;
    let client = common::client(&sandbox);
    let plan = outbox(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let (summary, dir) =
        common::killed_then_resumed(plan, &client, tmp.path(), (cut, &options())).await;
    assert_eq!(summary.pending, 0, "{name}: {summary}");
    assert_memberships(&sandbox, &name);
    let all = memberships::of_run(&dir).unwrap();
    assert_eq!(all.len(), expected_to_add(), "{name}");
    assert!(
        all.iter().all(|m| m.end == MemberEnd::Added),
        "{name}: {all:?}"
    );
    assert!(
        calls(&sandbox) <= 1,
        "{name}: a call that may have left is read back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_any_journal_line_resumes_without_adding_a_membership_twice() {
    let sandbox = sandbox(true, ExistingMembership::Error).await;
    let client = common::client(&sandbox);
    let plan = outbox(&client).await;
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("whole", &plan), &plan).unwrap();
    common::run_to_end(&client, journal, &options())
        .await
        .unwrap();
    let whole = std::fs::read(tmp.path().join("whole/journal.jsonl")).unwrap();
    let text = String::from_utf8_lossy(&whole);
    for kind in ["member_sending", "member_accepted", "member_resolved"] {
        assert!(text.contains(&format!("\"event\":\"{kind}\"")), "{text}");
    }
    // From the organizations' end on: the users' and the memberships' lines.
    let from = text.find("\"event\":\"sending\"").unwrap() as u64;
    for cut in common::journal_cuts(&whole)
        .into_iter()
        .filter(|c| *c >= from)
    {
        killed_and_resumed(cut).await;
    }
}

#[test]
fn a_sheet_cell_of_organizations_is_split_and_the_first_is_the_default() {
    let u = user(0);
    assert_eq!(
        u.organization,
        Some(OrganizationRef {
            name: "Acme".into()
        })
    );
    let names: Vec<&str> = u.memberships.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["globex", "Initech", "Newco 0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_import_resolves_memberships_and_copes_with_those_held() {
    let sandbox = sandbox(true, ExistingMembership::Error).await;
    let client = common::client(&sandbox);
    let mut plan = common::plan_of_users(Mode::Upsert, USERS, 0, user);
    plan::orgs::resolve_import(&client, &mut plan, MissingOrgs::Create, 4)
        .await
        .expect("organizations resolved");
    assert_eq!(plan.organizations.len(), 2, "Newco 0 and 1 created first");
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let summary = common::run_to_end(&client, journal, &options())
        .await
        .unwrap();
    assert_memberships(&sandbox, "headless");
    // Without the plan's lookup, the two held ones are sent and Zendesk says they exist.
    let counts = summary.memberships;
    assert_eq!(
        (counts.added, counts.already_held),
        (expected_to_add() as u32, 2),
        "{summary}"
    );
    assert_nothing_left(&client, "headless").await;
}

/// User `i` of a long sheet: Acme by default, and a member of Globex.
fn member_of_two(i: u32) -> User {
    person(
        format!("Member {i}"),
        format!("member{i}@example.com"),
        format!("M{i}"),
        vec!["Acme".into(), "Globex".into()],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_membership_jobs_are_open_at_once_within_the_runs_jobs() {
    const MEMBERS: u32 = 450;
    let config = SandboxConfig {
        speed: SPEED,
        // A fourth job at once would be refused.
        job_limit: 3,
        ..SandboxConfig::default()
    };
    let (sandbox, plan) = members_of_two(config, MEMBERS).await;
    let client = common::client(&sandbox);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let options = EngineOptions {
        concurrency: 3,
        ..options()
    };
    let summary = common::run_to_end(&client, journal, &options)
        .await
        .unwrap();
    assert_eq!(
        (summary.memberships.total, summary.memberships.added),
        (MEMBERS, MEMBERS),
        "{summary}"
    );
    assert_eq!(
        sandbox.memberships().len(),
        2 * MEMBERS as usize,
        "each in Acme, its default, and Globex"
    );
    // From the first membership call on: c a call, p a poll of the jobs.
    let requests = sandbox.requests();
    let first = requests
        .iter()
        .position(|r| r.target.contains(CREATE_MANY))
        .expect("a membership call");
    let seen: String = requests[first..]
        .iter()
        .filter_map(|r| {
            if r.target.contains(CREATE_MANY) {
                Some(if r.status == 200 { 'c' } else { '!' })
            } else {
                r.target.contains("job_statuses").then_some('p')
            }
        })
        .collect();
    assert_eq!(seen.matches('c').count(), 5, "{seen}: 100 a call");
    assert!(seen.starts_with("cccp"), "{seen}: three jobs open at once");
    assert!(
        !seen.contains('!'),
        "{seen}: never more than the run's jobs"
    );
}

/// A sandbox of `members` users to be made members of Globex besides Acme, their default
/// (`member_of_two`), and the run's plan.
async fn members_of_two(config: SandboxConfig, members: u32) -> (SandboxHandle, Outbox) {
    let config = SandboxConfig {
        organizations: HELD.iter().map(|s| (*s).to_owned()).collect(),
        user_settings: UserSettings {
            multiple_organizations: true,
            ..UserSettings::default()
        },
        ..config
    };
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let client = common::client(&sandbox);
    let mut plan = common::plan_of_users(Mode::Upsert, members, 0, member_of_two);
    plan::orgs::resolve_import(&client, &mut plan, MissingOrgs::Create, 4)
        .await
        .expect("organizations resolved");
    (sandbox, plan)
}

/// Every user of `members_of_two` in Acme and Globex, each membership once.
fn assert_each_once(sandbox: &SandboxHandle, members: u32, summary: &Summary) {
    let counts = summary.memberships;
    assert_eq!(
        (counts.total, counts.added, counts.finished()),
        (members, members, members),
        "{summary}"
    );
    let held = sandbox.memberships();
    let distinct: BTreeSet<(u64, u64)> = held.iter().copied().collect();
    assert_eq!(distinct.len(), held.len(), "no membership twice");
    assert_eq!(held.len(), 2 * members as usize, "Acme and Globex each");
}

/// The requests from the first membership call on.
fn from_first_call(sandbox: &SandboxHandle) -> Vec<zdimport::sandbox::RequestRecord> {
    let requests = sandbox.requests();
    let first = requests
        .iter()
        .position(|r| r.target.contains(CREATE_MANY))
        .expect("a membership call");
    requests[first..].to_vec()
}

/// Twenty requests a minute, and jobs of a minute: the memberships' calls and a poll a second
/// would take three times that. Paced, they read `X-Rate-Limit-Remaining` and
/// `ratelimit-reset` and spread what is left of each minute, so Zendesk answers 429 a few times
/// where the unpaced phase met it at every poll once the minute's requests were spent
/// (measured on this test: 32 and 36 answers 429 unpaced, 2 and 3 paced). Every membership is
/// added once.
///
/// The sandbox runs 20 times faster than real time, not 200: its headers count whole real
/// seconds, and at 200 a minute lasts 0.3 s, so `ratelimit-reset` and `Retry-After` read 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memberships_keep_within_the_rate_limit() {
    const MEMBERS: u32 = 200;
    const PACED_SPEED: f64 = 20.0;
    let config = SandboxConfig {
        speed: PACED_SPEED,
        rate_limit: 20,
        job_time_per_user: Duration::from_millis(600),
        ..SandboxConfig::default()
    };
    let (sandbox, plan) = members_of_two(config, MEMBERS).await;
    let client = common::client(&sandbox);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let options = EngineOptions::for_speed(PACED_SPEED);
    let summary = common::run_to_end(&client, journal, &options)
        .await
        .unwrap();
    assert_each_once(&sandbox, MEMBERS, &summary);
    let requests = from_first_call(&sandbox);
    let refused = requests.iter().filter(|r| r.status == 429).count();
    let polls = requests
        .iter()
        .filter(|r| r.target.contains("job_statuses"))
        .count();
    assert!(
        refused <= 8,
        "{refused} answers 429 of {} requests ({polls} polls)",
        requests.len()
    );
}

/// A 429 with `Retry-After` on the memberships' poll and on a lookup (a call's answer lost,
/// its memberships read back) stops every request until the wait is over, then the same
/// request is made again: no membership ends unknown, failed or already held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_the_poll_and_on_a_lookup_is_waited_out() {
    const MEMBERS: u32 = 200;
    const WAIT: Duration = Duration::from_secs(1);
    const LOOKUP: &str = "/organization_memberships.json";
    let config = SandboxConfig {
        speed: SPEED,
        ..SandboxConfig::default()
    };
    let (sandbox, plan) = members_of_two(config, MEMBERS).await;
    let client = common::client(&sandbox);
    sandbox.force_fault(CREATE_MANY, Fault::LostAnswer);
    sandbox.force_fault(LOOKUP, Fault::RateLimited(WAIT));
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    // Polls far apart: the poll's 429 is forced once the users' polls are over (their phase
    // has ended when the memberships' starts), long before the memberships' first poll.
    let options = EngineOptions {
        poll_interval: Duration::from_millis(300),
        ..options()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ImportEvent>(32);
    let engine = zdimport::import::run(&client, journal, tx, CancellationToken::new(), options);
    let events = async {
        let (mut forced, mut waits) = (false, 0);
        while let Some(event) = rx.recv().await {
            match event {
                ImportEvent::Memberships { .. } if !forced => {
                    sandbox.force_fault("job_statuses", Fault::RateLimited(WAIT));
                    forced = true;
                }
                ImportEvent::Waiting {
                    reason: WaitReason::RateLimit,
                    ..
                } => waits += 1,
                _ => {}
            }
        }
        waits
    };
    let (summary, waits) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(engine, events)
    })
    .await
    .expect("the import finishes within a minute");
    let summary = summary.unwrap();
    assert_each_once(&sandbox, MEMBERS, &summary);
    assert_eq!(waits, 2, "the poll's wait and the lookup's");
    let requests = from_first_call(&sandbox);
    for path in ["job_statuses", LOOKUP] {
        let at = requests
            .iter()
            .position(|r| r.target.contains(path) && r.status == 429)
            .unwrap_or_else(|| panic!("{path}: no 429 in {requests:?}"));
        let next = &requests[at + 1];
        assert!(
            next.target.contains(path) && next.status == 200,
            "{path}: the same request again: {next:?}"
        );
        // The sandbox's clock runs SPEED times faster than the wait: half of it at least.
        let waited = next.at.saturating_sub(requests[at].at);
        assert!(
            waited >= WAIT.mul_f64(SPEED / 2.0),
            "{path}: sent again {waited:?} (simulated) after the 429"
        );
    }
}

/// A run folder an earlier zdimport wrote (`tests/runs/memberships`: 120 rows of a sheet on a
/// sandbox with faults, so memberships were added, and skipped for rows with errors or users not
/// created) beside the memberships' report that version wrote of it from a list of them all.
/// Written one membership at a time as the plan is read, the report is byte for byte the same,
/// in CSV and JSON; and with the journal cut before its `member_resolved` line (a kill), those
/// memberships read "not added yet" as they did.
#[test]
fn the_report_of_a_stored_run_is_the_one_it_always_was() {
    use zdimport::import::report::{Format, write_memberships_to};
    let stored = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runs/memberships");
    let tmp = tempfile::tempdir().unwrap();
    for name in ["journal.jsonl", "plan.jsonl", "run.json"] {
        std::fs::copy(stored.join(name), tmp.path().join(name)).unwrap();
    }
    let written = |format| {
        let members = memberships::RunMemberships::open(tmp.path()).unwrap();
        let mut out = Vec::new();
        write_memberships_to(&mut out, &members, format).unwrap();
        String::from_utf8(out).unwrap()
    };
    let stored_report = |name: &str| std::fs::read_to_string(stored.join(name)).unwrap();
    assert_eq!(
        written(Format::Csv),
        stored_report("report.memberships.csv")
    );
    assert_eq!(
        written(Format::Json),
        stored_report("report.memberships.json")
    );
    let journal = std::fs::read_to_string(tmp.path().join("journal.jsonl")).unwrap();
    let cut = journal.rfind("{\"event\":\"member_resolved\"").unwrap();
    std::fs::write(tmp.path().join("journal.jsonl"), &journal[..cut]).unwrap();
    assert_eq!(
        written(Format::Csv),
        stored_report("report.memberships.cut.csv")
    );
}

/// A cancel while the memberships wait out a 429's hour-long `Retry-After` stops the run at
/// once, not after the hour: nothing more is sent; the call the 429 refused is read back on
/// resume, which adds every membership once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_rate_limit_wait_stops_the_memberships() {
    const MEMBERS: u32 = 150;
    let config = SandboxConfig {
        speed: SPEED,
        ..SandboxConfig::default()
    };
    let (sandbox, plan) = members_of_two(config, MEMBERS).await;
    let client = common::client(&sandbox);
    sandbox.force_fault(CREATE_MANY, Fault::RateLimited(Duration::from_secs(3600)));
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ImportEvent>(32);
    let cancel = CancellationToken::new();
    let engine = zdimport::import::run(&client, journal, tx, cancel.clone(), options());
    let events = async {
        while let Some(event) = rx.recv().await {
            if let ImportEvent::Waiting {
                reason: WaitReason::RateLimit,
                ..
            } = event
            {
                cancel.cancel();
            }
        }
    };
    let (stopped, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(engine, events)
    })
    .await
    .expect("the cancel stops the run within a minute, not after the hour");
    let stopped = stopped.unwrap();
    assert_eq!(stopped.memberships.finished(), 0, "{stopped}");
    let calls: Vec<u16> = sandbox
        .requests()
        .iter()
        .filter(|r| r.target.contains(CREATE_MANY))
        .map(|r| r.status)
        .collect();
    assert_eq!(calls, [429], "nothing sent after the cancel");
    let (_, _, journal) = Journal::open(&tmp.path().join("r")).unwrap();
    let summary = common::run_to_end(&client, journal, &options())
        .await
        .unwrap();
    assert_each_once(&sandbox, MEMBERS, &summary);
}

/// One user on several rows (rows far apart, in other batches and calls) asks the same
/// membership on each: it is sent once, in order, read from the plan a batch at a time, and
/// counted on every row (the phase said "2 not added yet" of such rows before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_on_several_rows_joins_each_organization_once() {
    const ROWS: u32 = 350;
    let config = SandboxConfig {
        speed: SPEED,
        organizations: HELD.iter().map(|s| (*s).to_owned()).collect(),
        user_settings: UserSettings {
            multiple_organizations: true,
            ..UserSettings::default()
        },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let client = common::client(&sandbox);
    // Row 100 repeats row 99 (the next batch), row 301 repeats row 3 (another call).
    let again = |i: u32| match i {
        100 => 99,
        301 => 3,
        i => i,
    };
    let mut plan = common::plan_of_users(Mode::Upsert, ROWS, 0, |i| member_of_two(again(i)));
    plan::orgs::resolve_import(&client, &mut plan, MissingOrgs::Create, 4)
        .await
        .expect("organizations resolved");
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let summary = common::run_to_end(&client, journal, &options())
        .await
        .unwrap();
    let held = sandbox.memberships();
    let distinct: BTreeSet<(u64, u64)> = held.iter().copied().collect();
    assert_eq!(distinct.len(), held.len(), "no membership twice");
    assert_eq!(held.len(), 2 * (ROWS as usize - 2), "Acme and Globex each");
    let calls = sandbox
        .requests()
        .iter()
        .filter(|r| r.target.contains(CREATE_MANY))
        .count();
    assert_eq!(calls, 4, "348 memberships, 100 a call");
    // Each row's membership counted, the repeated ones as their pair ended: none left.
    let counts = summary.memberships;
    assert_eq!(
        (counts.total, counts.added, counts.finished()),
        (ROWS, ROWS, ROWS),
        "{summary}"
    );
}
