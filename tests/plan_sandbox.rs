//! The plan against a sandbox seeded with users, organizations and custom fields: every
//! action, conflicts, organizations, blanks, create mode's choices, and counts that add up.

use std::sync::Arc;
use std::time::Duration;

use rstest::rstest;
use serde_json::{Value, json};
use zdimport::mapping::{Target, auto_match};
use zdimport::payload::{Blank, Checker, Mode, Options};
use zdimport::plan::{self, Action, Existing, Fields, Plan, PlanInput, PlanOptions};
use zdimport::sandbox::{DateFields, Sandbox, SandboxConfig, SandboxHandle};
use zdimport::sheet::{Cell, Row};
use zdimport::zendesk::{Client, ClientConfig, Credentials, Secret};

const HEADERS: [&str; 8] = [
    "Name",
    "Email",
    "External ID",
    "Company",
    "Plan",
    "Renewal",
    "VIP",
    "Code",
];

fn fields() -> Vec<Value> {
    vec![
        json!({"key": "plan", "type": "dropdown", "title": "Support plan",
            "custom_field_options": [
                {"id": 1, "name": "Gold plan", "value": "gold"},
                {"id": 2, "name": "Silver plan", "value": "silver"}]}),
        json!({"key": "renewal", "type": "date", "title": "Renewal"}),
        json!({"key": "vip", "type": "checkbox", "title": "VIP"}),
        json!({"key": "code", "type": "regexp", "title": "Code",
            "regexp_for_validation": "\\A[A-Z]{2}-\\d{3}\\z"}),
    ]
}

fn existing() -> Vec<Value> {
    vec![
        json!({"name": "Ed Same", "email": "ed@x.com", "external_id": "E-1",
            "organization": {"name": "Acme"},
            "user_fields": {"plan": "silver", "renewal": "2026-01-31", "vip": true}}),
        json!({"name": "Flo Plan", "email": "flo@x.com", "external_id": "E-2",
            "user_fields": {"plan": "silver"}}),
        json!({"name": "Ann Mail", "email": "ann@x.com"}),
        json!({"name": "Bob Mail", "email": "bob@x.com"}),
        json!({"name": "Cy Ext", "email": "cy@x.com", "external_id": "E-3"}),
    ]
}

async fn sandbox() -> SandboxHandle {
    sandbox_with(DateFields::default()).await
}

async fn sandbox_with(date_fields: DateFields) -> SandboxHandle {
    let config = SandboxConfig {
        speed: 1000.0,
        users: existing(),
        user_fields: fields(),
        organizations: vec!["Globex".into()],
        date_fields,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

fn client(sandbox: &SandboxHandle) -> Client {
    let credentials = Credentials::ApiToken {
        email: sandbox.config().admin_email.clone(),
        token: Secret::new("sandbox-api-token"),
    };
    let mut config = ClientConfig::new(sandbox.url().clone(), credentials);
    config.timeout = Duration::from_secs(5);
    Client::new(config).expect("client")
}

/// The file: one row per outcome, row numbers from 2.
fn sheet() -> Vec<[&'static str; 8]> {
    vec![
        // 2: new
        [
            "Nia New",
            "nia@x.com",
            "N-1",
            "Globex",
            "Gold plan",
            "",
            "no",
            "",
        ],
        // 3: unchanged (empty renewal keeps the held date)
        [
            "Ed Same", "ed@x.com", "E-1", "acme", "silver", "", "yes", "",
        ],
        // 4: update by external_id, label to value
        [
            "Flo Plan",
            "flo@x.com",
            "E-2",
            "",
            "GOLD PLAN",
            "2027-03-01",
            "",
            "AB-123",
        ],
        // 5: update by email only
        ["Ann Renamed", "ann@x.com", "", "", "", "", "", ""],
        // 6: conflict: E-3 is Cy, bob@x.com is Bob
        ["Bob", "bob@x.com", "E-3", "", "", "", "", ""],
        // 7: invalid: not an option
        ["Gus", "gus@x.com", "", "", "Premium", "", "", ""],
        // 8: would fail: new without a name
        ["", "noname@x.com", "", "", "", "", "", ""],
        // 9: new in an organization the account lacks
        ["Ivy", "ivy@x.com", "", "Initech", "", "", "", ""],
        // 10: invalid: pattern
        ["Jo", "jo@x.com", "", "", "", "", "", "ab-1"],
    ]
}

async fn input(client: &Client, mode: Mode, blank: Blank) -> (PlanInput, Arc<Fields>) {
    let answer = client.user_fields().await.expect("user fields");
    let fields = Arc::new(Fields::new(answer.value));
    let headers: Vec<String> = HEADERS.map(str::to_owned).to_vec();
    let mut mapping = auto_match(&headers);
    for (i, key) in [(4, "plan"), (5, "renewal"), (6, "vip"), (7, "code")] {
        mapping.set(i, Some(Target::UserField(key.into())));
    }
    assert!(fields.problems(&mapping).is_empty());
    let options = Options {
        mode,
        ..Options::default()
    };
    let mut checker = Checker::new(&mapping, 0, options)
        .with_fields(Arc::clone(&fields))
        .with_blank(blank);
    let mut input = PlanInput::default();
    for (i, cells) in sheet().into_iter().enumerate() {
        let cells = cells
            .iter()
            .map(|c| {
                if c.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text((*c).to_owned())
                }
            })
            .collect();
        let number = u32::try_from(i).unwrap() + 2;
        input.push_checked(checker.check(Row { number, cells }));
    }
    (input, fields)
}

async fn plan_for(mode: Mode, blank: Blank, existing: Existing) -> (Plan, SandboxHandle) {
    let options = PlanOptions {
        mode,
        existing,
        ..PlanOptions::default()
    };
    plan_with(options, blank).await
}

async fn plan_with(options: PlanOptions, blank: Blank) -> (Plan, SandboxHandle) {
    plan_on(sandbox().await, options, blank).await
}

async fn plan_on(
    sandbox: SandboxHandle,
    options: PlanOptions,
    blank: Blank,
) -> (Plan, SandboxHandle) {
    let mode = options.mode;
    let client = client(&sandbox);
    let (input, _) = input(&client, mode, blank).await;
    let rate = client.me().await.expect("me").rate;
    let plan = plan::build(&client, input, options, &rate)
        .await
        .expect("plan");
    (plan, sandbox)
}

fn actions(plan: &Plan) -> Vec<(u32, String)> {
    plan.rows
        .iter()
        .map(|r| {
            let detail = match &r.action {
                Action::Update { changes, .. } => {
                    let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
                    format!("update [{}]", list.join("; "))
                }
                Action::WouldFail { reason }
                | Action::Invalid { reason }
                | Action::Conflict { reason, .. }
                | Action::LeftOut { reason, .. } => format!("{} ({reason})", r.action.name()),
                other => other.name().to_owned(),
            };
            (r.row, detail)
        })
        .collect()
}

#[tokio::test]
async fn upsert_plan_names_every_outcome() {
    let (plan, sandbox) = plan_for(Mode::Upsert, Blank::Keep, Existing::Fail).await;
    let conflict = format!(
        "conflict (external_id E-3 is user {} but email bob@x.com is user {}: Zendesk would \
         refuse the email)",
        sandbox.user_by_external_id("E-3").unwrap()["id"],
        sandbox.user_by_email("bob@x.com").unwrap()["id"]
    );
    let want = vec![
        (2, "new".to_owned()),
        (3, "unchanged".to_owned()),
        (
            4,
            "update [user_fields.plan: \"silver\" → \"gold\"; user_fields.renewal: (empty) → \
             \"2027-03-01\"; user_fields.code: (empty) → \"AB-123\"]"
                .to_owned(),
        ),
        (
            5,
            "update [name: \"Ann Mail\" → \"Ann Renamed\"]".to_owned(),
        ),
        (6, conflict),
        (
            7,
            "invalid ('Premium' is not an option of field plan; closest: Silver plan \
             (silver), Gold plan (gold))"
                .to_owned(),
        ),
        (
            8,
            "would_fail (a new user without a name: Zendesk needs a name to create one)".to_owned(),
        ),
        (9, "new".to_owned()),
        (
            10,
            "invalid ('ab-1' does not match field code's pattern \\A[A-Z]{2}-\\d{3}\\z)".to_owned(),
        ),
    ];
    assert_eq!(actions(&plan), want);
    assert_eq!(plan.missing_organizations, vec!["Initech".to_owned()]);
    let counts = plan.counts();
    assert_eq!(
        (counts.new, counts.update, counts.unchanged, counts.conflict),
        (2, 2, 1, 1)
    );
    assert_eq!((counts.would_fail, counts.invalid, counts.total), (1, 2, 9));
    let sum = counts.new
        + counts.update
        + counts.unchanged
        + counts.conflict
        + counts.would_fail
        + counts.left_out
        + counts.invalid;
    assert_eq!(sum, sheet().len(), "counts add up to the file's rows");
}

#[tokio::test]
async fn lookups_use_show_many_and_search_only_where_needed() {
    let (plan, sandbox) = plan_for(Mode::Upsert, Blank::Keep, Existing::Fail).await;
    let lookups: Vec<String> = sandbox
        .requests()
        .into_iter()
        .map(|r| r.target)
        .filter(|t| t.contains("show_many") || t.contains("search") || t.contains("organizations"))
        .collect();
    let show_many = lookups.iter().filter(|t| t.contains("show_many")).count();
    let by_email = lookups
        .iter()
        .filter(|t| t.contains("users/search"))
        .count();
    let orgs = lookups
        .iter()
        .filter(|t| t.contains("organizations"))
        .count();
    // N-1, E-1, E-2, E-3 in one call; emails: ann, noname, ivy (no external_id) and bob (E-3
    // is a user with another email), not nia (N-1 found nobody: a new user); organizations
    // (Globex, acme, Initech): the account's whole list fits its first page.
    assert_eq!((show_many, by_email, orgs), (1, 4, 1), "{lookups:#?}");
    assert!(lookups.contains(&"/api/v2/organizations.json?per_page=100".to_owned()));
    // Surely: show_many, 3 email searches, the first page of organizations; at most also
    // a search per email of a keyed row (4), and the rest of the list or a search per
    // organization name (3) and an autocomplete per name (3).
    assert_eq!(plan.cost.requests, 1 + 3 + 1);
    assert_eq!(plan.cost.at_most, 1 + 3 + 1 + 4 + 3 + 3);
    // …and the identities of Cy (E-3), whose primary email is not bob@x.com.
    assert_eq!(plan.spent.requests, 7);
    assert_eq!(plan.cost.rate_limit, Some(700));
}

#[rstest]
#[case::not_searched(false, "new", 1)]
#[case::searched(true, "update", 2)]
#[tokio::test]
async fn an_unknown_external_id_with_a_known_email(
    #[case] search_new_emails: bool,
    #[case] want: &str,
    #[case] requests: u64,
) {
    let sandbox = sandbox().await;
    let client = client(&sandbox);
    let user = zdimport::payload::User {
        name: Some("Ann".into()),
        email: Some("ann@x.com".into()),
        external_id: Some("Z-9".into()),
        ..zdimport::payload::User::default()
    };
    let input = PlanInput {
        users: vec![(2, user)],
        invalid: Vec::new(),
        ..PlanInput::default()
    };
    let options = PlanOptions {
        search_new_emails,
        ..PlanOptions::default()
    };
    let rate = client.me().await.unwrap().rate;
    let plan = plan::build(&client, input, options, &rate).await.unwrap();
    assert_eq!(plan.rows[0].action.name(), want, "{:?}", plan.rows[0]);
    assert_eq!(plan.spent.requests, requests);
}

#[tokio::test]
async fn blank_clear_erases_what_keep_leaves() {
    // Zendesk reads the date back as a date-time; the plan shows it as the date it is.
    let sandbox = sandbox_with(DateFields::DateTimeZulu).await;
    let options = PlanOptions {
        mode: Mode::Upsert,
        existing: Existing::Fail,
        ..PlanOptions::default()
    };
    let (plan, _sandbox) = plan_on(sandbox, options, Blank::Clear).await;
    // Empty renewal and code cells: the held date is erased, the unset code stays unset.
    assert_eq!(
        actions(&plan)[1],
        (
            3,
            "update [user_fields.renewal: \"2026-01-31\" → (empty)]".to_owned()
        )
    );
}

#[rstest]
#[case::fail(Existing::Fail, "would_fail", 0)]
#[case::skip(Existing::Skip, "left_out", 0)]
#[case::update(Existing::Update, "update", 2)]
#[tokio::test]
async fn create_mode_on_existing_users(
    #[case] existing: Existing,
    #[case] row4: &str,
    #[case] moved: usize,
) {
    let (plan, _sandbox) = plan_for(Mode::Create, Blank::Keep, existing).await;
    assert_eq!(plan.rows[2].action.name(), row4, "{:?}", plan.rows[2]);
    let import = plan.route(true, zdimport::payload::JOB_LIMIT);
    let updates: Vec<_> = import
        .requests
        .iter()
        .filter(|r| r.path.ends_with("update_many"))
        .collect();
    let moved_rows: usize = updates.iter().map(|r| r.rows.len()).sum();
    assert_eq!(moved_rows, moved);
    for request in &updates {
        assert!(request.body.users.iter().all(|u| u.id.is_some()));
    }
    let sent: usize = import.requests.iter().map(|r| r.rows.len()).sum();
    let counts = plan.counts();
    assert_eq!(
        sent + import.skipped.len() + counts.invalid,
        counts.total,
        "every row sent, skipped or invalid once"
    );
    // Row 3 is unchanged: skipped as such, or reported as existing.
    assert!(import.skipped.iter().any(|(row, _)| *row == 3));
}

#[tokio::test]
async fn update_mode_fails_rows_whose_user_is_missing() {
    let (plan, _sandbox) = plan_for(Mode::Update, Blank::Keep, Existing::Fail).await;
    assert_eq!(plan.rows[0].action.name(), "would_fail");
    assert_eq!(
        plan.rows[0].action,
        Action::WouldFail {
            reason: "no user with external_id N-1: update_many cannot find it".into()
        }
    );
    assert_eq!(plan.rows[2].action.name(), "update");
}

#[tokio::test]
async fn import_skips_unchanged_rows_with_the_reason() {
    let (plan, _sandbox) = plan_for(Mode::Upsert, Blank::Keep, Existing::Fail).await;
    let import = plan.route(true, zdimport::payload::JOB_LIMIT);
    let skipped: Vec<u32> = import.skipped.iter().map(|(row, _)| *row).collect();
    assert_eq!(skipped, vec![3, 6, 8]);
    assert!(import.skipped[0].1.starts_with("unchanged"));
    let sent: Vec<u32> = import
        .requests
        .iter()
        .flat_map(|r| r.rows.clone())
        .collect();
    assert_eq!(sent, vec![2, 4, 5, 9]);
    let keep = plan.route(false, zdimport::payload::JOB_LIMIT);
    let sent: Vec<u32> = keep.requests.iter().flat_map(|r| r.rows.clone()).collect();
    assert_eq!(sent, vec![2, 3, 4, 5, 9]);
    let json = serde_json::to_value(&plan.rows[2]).unwrap();
    assert_eq!(json["action"], "update");
    assert_eq!(json["changes"][0]["field"], "user_fields.plan");
    assert_eq!(json["changes"][0]["old"], "silver");
    assert_eq!(json["changes"][0]["new"], "gold");
}

#[tokio::test]
async fn lookups_wait_out_the_rate_limit() {
    let config = SandboxConfig {
        speed: 600.0,
        rate_limit: 10,
        users: existing(),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let client = client(&sandbox);
    let users = (0..30)
        .map(|i| {
            let user = zdimport::payload::User {
                name: Some(format!("U{i}")),
                email: Some(format!("u{i}@x.com")),
                ..zdimport::payload::User::default()
            };
            (i + 2, user)
        })
        .collect();
    let input = PlanInput {
        users,
        invalid: Vec::new(),
        ..PlanInput::default()
    };
    let rate = client.me().await.unwrap().rate;
    let start = sandbox.clock().now();
    let plan = plan::build(&client, input, PlanOptions::default(), &rate)
        .await
        .unwrap();
    assert_eq!(plan.counts().new, 30);
    assert_eq!(plan.cost.requests, 30);
    assert!((plan.cost.minutes - 3.0).abs() < 1e-9);
    assert_eq!(plan.spent.requests - plan.spent.rate_limited, 30);
    let minutes = (sandbox.clock().now() - start).as_secs_f64() / 60.0;
    assert!(
        minutes >= 2.0,
        "30 lookups at 10/minute span three windows: {minutes}"
    );
}

/// Create mode moving the users the account holds to `update_many` by id: the import sends
/// those batches there (every batch once went to `create_many`, ids and all), and they end
/// updated, no user twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_mode_sends_the_moved_users_to_update_many() {
    let (plan, sandbox) = plan_for(Mode::Create, Blank::Keep, Existing::Update).await;
    let before = sandbox.users().len();
    let report = zdimport::pipeline::Report::default();
    let import = zdimport::pipeline::outbox_from(&plan, (true, 30), &report).unwrap();
    let moved: Vec<u32> = import
        .batches
        .iter()
        .filter(|b| b.sent_as == Some(Mode::Update))
        .flat_map(|b| b.rows.clone())
        .collect();
    assert_eq!(moved.len(), 2, "the two held users that change");
    let runs = tempfile::tempdir().unwrap();
    let info = zdimport::import::RunInfo {
        id: "moved".into(),
        mode: Mode::Create,
        rows: import.rows() as u64,
        ..zdimport::import::RunInfo::default()
    };
    let journal = zdimport::import::Journal::create(runs.path(), &info, &import).unwrap();
    // Read back from the run folder, as a resume would: the batch keeps its endpoint.
    drop(journal);
    let (_, _, journal) = zdimport::import::Journal::open(&runs.path().join("moved")).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let client = client(&sandbox);
    let summary = zdimport::import::run(
        &client,
        journal,
        tx,
        tokio_util::sync::CancellationToken::new(),
        zdimport::import::EngineOptions::for_speed(50.0),
    )
    .await
    .unwrap();
    assert_eq!(
        (summary.updated, summary.failed, summary.unknown),
        (2, 0, 0),
        "{summary}"
    );
    let requests = sandbox.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "PUT" && r.target.contains("update_many")),
        "the moved users went to update_many"
    );
    let created = summary.created as usize;
    assert_eq!(
        sandbox.users().len(),
        before + created,
        "no held user created again"
    );
}
