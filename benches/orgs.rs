//! A user list naming many organizations (issue 15): 100,000 users naming 5,000 organizations,
//! a tenth of them already in the account, imported into the built-in sandbox (700 requests a
//! minute, 30 jobs, the job times recorded on live accounts, its clock sped up) as the headless
//! import does it: the organizations the rows name resolved (looked up, the missing ones listed
//! to create), then the run: the organizations created first with `organizations/create_many`,
//! then the users with their ids.
//!
//! It prints, measured in the same run:
//! - the lookup requests against their lower bound, distinct names / 100 (a page of the
//!   organization list or one `show_many` holds 100), and what they cost in the rate limit;
//! - the `organizations/create_many` calls against theirs, missing names / 100;
//! - the users per simulated minute against the bound the limits allow (30 jobs of 100 users,
//!   each 5 s queued plus 95 ms a user: ≈12,400 a minute), as `benches/import.rs` does for users
//!   alone, so what the organizations cost the whole import shows as the share of the bound.
//!
//! `cargo bench --bench orgs [-- USERS [NAMES [SPEED]]]` (defaults 100000, 5000, 10). The
//! sandbox runs in this process, so on a busy machine its own work counts against the clock.

use std::time::Instant;

use tokio_util::sync::CancellationToken;
use zdimport::import::{self, EngineOptions, ImportEvent, Journal, Outbox, RunInfo};
use zdimport::payload::{Batcher, JOB_LIMIT, Mode, OrganizationRef, User};
use zdimport::plan::{MissingOrgs, orgs::resolve_import};
use zdimport::sandbox::{Sandbox, SandboxConfig};
use zdimport::zendesk::{Client, ClientConfig, Credentials};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A job of 100 users, as recorded: 5 s queued, 95 ms a user.
const JOB_SECONDS: f64 = 5.0 + 100.0 * 0.095;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let users: u32 = args.first().map_or(Ok(100_000), |a| a.parse())?;
    let names: u32 = args.get(1).map_or(Ok(5_000), |a| a.parse())?;
    let speed: f64 = args.get(2).map_or(Ok(10.0), |a| a.parse())?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(users, names.max(1), speed))
}

/// The organization user `i` names: every name is named by users/names users, in varying case
/// and spacing as sheets have them.
fn org_of(i: u32, names: u32) -> String {
    let j = i % names;
    match i / names % 3 {
        0 => format!("Company {j:05}"),
        1 => format!("COMPANY {j:05}"),
        _ => format!(" company {j:05}  "),
    }
}

async fn bench(users: u32, names: u32, speed: f64) -> Result<(), Error> {
    let held = names / 10;
    let config = SandboxConfig {
        speed,
        organizations: (0..held).map(|j| format!("Company {j:05}")).collect(),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await?;
    let credentials = Credentials::Bearer(sandbox.issue_access_token(None));
    let client = Client::new(ClientConfig::new(sandbox.url().clone(), credentials))?;
    let mut plan = Outbox::new(Mode::Create);
    let mut batcher = Batcher::new(Mode::Create, JOB_LIMIT);
    let user = |i: u32| User {
        name: Some(format!("User {i}")),
        email: Some(format!("user{i}@example.com")),
        external_id: Some(format!("U{i}")),
        organization: Some(OrganizationRef {
            name: org_of(i, names),
        }),
        ..User::default()
    };
    for i in 0..users {
        for request in batcher.push(i + 2, user(i)) {
            plan.push_request(&request)?;
        }
    }
    for request in batcher.finish() {
        plan.push_request(&request)?;
    }

    let resolving = Instant::now();
    resolve_import(&client, &mut plan, MissingOrgs::Create, 4).await?;
    let resolve_real = resolving.elapsed().as_secs_f64();
    let lookups = sandbox.requests().len();
    let missing = plan.organizations.len();

    let runs = tempfile::tempdir()?;
    let info = RunInfo {
        id: "orgs".into(),
        mode: Mode::Create,
        rows: u64::from(users),
        ..RunInfo::default()
    };
    let journal = Journal::create(runs.path(), &info, &plan)?;
    drop(plan);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ImportEvent>(64);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let started = Instant::now();
    let summary = import::run(
        &client,
        journal,
        tx,
        CancellationToken::new(),
        EngineOptions::for_speed(speed),
    )
    .await?;
    let run_real = started.elapsed().as_secs_f64();
    drain.await?;

    let requests = sandbox.requests();
    let creates = requests
        .iter()
        .filter(|r| r.target.contains("organizations/create_many"))
        .count();
    let bound = |n: usize| n.div_ceil(100).max(1);
    println!(
        "{users} users naming {names} organizations ({held} in the account, {missing} missing); \
         clock x{speed}"
    );
    println!(
        "lookups: {lookups} requests, lower bound {} (distinct names / 100): {:.2}x; \
         {:.1} s simulated",
        bound(names as usize),
        lookups as f64 / bound(names as usize) as f64,
        resolve_real * speed
    );
    println!(
        "organizations/create_many: {creates} calls, lower bound {} (missing / 100): {:.2}x",
        bound(missing),
        creates as f64 / bound(missing) as f64
    );
    let minutes = run_real * speed / 60.0;
    let per_minute = f64::from(users) / minutes;
    let job_bound = JOB_LIMIT as f64 * 100.0 / JOB_SECONDS * 60.0;
    println!(
        "import: {} created, {} failed, {} unknown in {:.1} simulated min: {:.0} users/min, \
         {:.1}% of the {:.0}/min bound (the organizations' phase included)",
        summary.created,
        summary.failed,
        summary.unknown,
        minutes,
        per_minute,
        per_minute / job_bound * 100.0,
        job_bound
    );
    Ok(())
}
