//! The import engine against the sandbox on loopback, one scenario per file in
//! `tests/scenarios/`: each asserts that every row ends in exactly one outcome, the counts add
//! up, and the sandbox holds each row's user exactly once.

mod common;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use zdimport::import::{self, EngineOptions, ImportEvent, Journal, MatchedBy, Outcome, RunInfo};
use zdimport::payload::Mode;
use zdimport::sandbox::{Fault, FaultConfig, Sandbox, SandboxConfig};

use common::{Collected, collect, plan_of, row_user};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    about: String,
    mode: Mode,
    rows: u32,
    #[serde(default)]
    skipped: u32,
    /// The first N rows' users are in Zendesk before the import (named "Old i").
    #[serde(default)]
    existing: u32,
    /// Users with a name only: nothing to look them up by.
    #[serde(default)]
    keyless: bool,
    /// Users with a name and an email but no external_id: found again by search only, which
    /// lags behind new users on a live account.
    #[serde(default)]
    email_only: bool,
    /// The account-aware plan ran first: the rows past `existing` are marked as users it
    /// found nowhere.
    #[serde(default)]
    planned: bool,
    #[serde(default)]
    sandbox: SandboxSpec,
    /// `path:fault` forced onto the next matching requests: lost, failed, killed, drop, 502.
    #[serde(default)]
    forced: Vec<String>,
    #[serde(default)]
    concurrency: Option<usize>,
    #[serde(default)]
    cancel_after_batches: Option<usize>,
    /// How long a lost answer is left to settle before the lookup (default: 30 s scaled).
    #[serde(default)]
    settle_ms: Option<u64>,
    /// Sign in with OAuth client credentials; access tokens last this long (simulated).
    #[serde(default)]
    oauth_token_ttl_secs: Option<u64>,
    expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxSpec {
    rate_limit: Option<u32>,
    speed: Option<f64>,
    faults: Option<String>,
    seed: Option<u64>,
    /// Variants of the live account, as `ZDIMPORT_SANDBOX_OPTIONS` writes them
    /// (`job-results=reference,search-lag=0`).
    options: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    created: u64,
    #[serde(default)]
    updated: u64,
    #[serde(default)]
    failed: u64,
    #[serde(default)]
    skipped: u64,
    #[serde(default)]
    unknown: u64,
    /// Rows whose user ("User i") is in the sandbox at the end (default: every row).
    present: Option<usize>,
    #[serde(default)]
    saw_429: bool,
    /// Some request met this status (0: the connection was dropped), so the fault was real.
    saw_status: Option<u16>,
    /// Some row's details say this (which path settled it).
    #[serde(default)]
    details_contain: Option<String>,
    #[serde(default)]
    lookups: bool,
    /// More than one access token issued: renewed during the run.
    #[serde(default)]
    renewed_tokens: bool,
    matched_by: Option<MatchedBy>,
}

fn forced(spec: &str) -> (String, Fault) {
    let (path, fault) = spec.split_once(':').expect("path:fault");
    let fault = match fault {
        "lost" => Fault::LostAnswer,
        "failed" => Fault::JobFailed,
        "killed" => Fault::JobKilled,
        "drop" => Fault::DropConnection,
        "502" => Fault::ServerError(502),
        other => panic!("unknown forced fault {other}"),
    };
    (path.to_owned(), fault)
}

async fn run_scenario(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let s: Scenario = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let speed = s.sandbox.speed.unwrap_or(100.0);
    let mut config = SandboxConfig {
        rate_limit: s.sandbox.rate_limit.unwrap_or(700),
        speed,
        faults: s
            .sandbox
            .faults
            .as_deref()
            .map(|f| f.parse::<FaultConfig>().unwrap())
            .unwrap_or_default(),
        seed: s.sandbox.seed.unwrap_or(0),
        users: (0..s.existing)
            .map(|i| {
                let mut user = row_user(i, s.keyless);
                user["name"] = format!("Old {i}").into();
                user
            })
            .collect(),
        token_ttl: Duration::from_secs(s.oauth_token_ttl_secs.unwrap_or(1800)),
        ..SandboxConfig::default()
    };
    if let Some(options) = &s.sandbox.options {
        config.set_options(options).unwrap();
    }
    let sandbox = Sandbox::start(config).await.unwrap();
    for spec in &s.forced {
        let (p, fault) = forced(spec);
        sandbox.force_fault(&p, fault);
    }
    let client = match s.oauth_token_ttl_secs {
        Some(_) => oauth_client(&sandbox).await,
        None => common::client(&sandbox),
    };
    let plan = if s.email_only {
        common::plan_of_users(s.mode, s.rows, s.skipped, |i| zdimport::payload::User {
            name: Some(format!("User {i}")),
            email: Some(format!("user{i}@example.com")),
            ..zdimport::payload::User::default()
        })
    } else {
        plan_of(s.mode, s.rows, s.skipped, s.keyless)
    };
    let mut plan = plan;
    if s.planned {
        for (b, batch) in plan.batches.iter_mut().enumerate() {
            for (p, key) in batch.keys.iter_mut().enumerate() {
                key.expect_new = b * 100 + p >= s.existing as usize;
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let info = RunInfo {
        id: name.clone(),
        mode: s.mode,
        rows: plan.rows() as u64,
        ..RunInfo::default()
    };
    let journal = Journal::create(tmp.path(), &info, &plan).unwrap();
    let mut options = EngineOptions::for_speed(speed);
    if let Some(c) = s.concurrency {
        options.concurrency = c;
    }
    if let Some(ms) = s.settle_ms {
        options.lost_answer_settle = Duration::from_millis(ms);
    }
    let mut events = Collected::default();
    let summary = run_once(
        &client,
        journal,
        &options,
        s.cancel_after_batches,
        &mut events,
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let summary = if s.cancel_after_batches.is_some() {
        assert!(summary.cancelled, "{name}: cancelled");
        assert!(summary.pending > 0, "{name}: rows left after cancel");
        let (_, _, journal) = Journal::open(&tmp.path().join(&name)).unwrap();
        run_once(&client, journal, &options, None, &mut events)
            .await
            .unwrap_or_else(|e| panic!("{name}: resume: {e}"))
    } else {
        summary
    };
    let counts = (
        summary.created,
        summary.updated,
        summary.failed,
        summary.skipped,
        summary.unknown,
    );
    let e = &s.expect;
    assert_eq!(
        counts,
        (e.created, e.updated, e.failed, e.skipped, e.unknown),
        "{name} ({}): created, updated, failed, skipped, unknown",
        s.about
    );
    assert_eq!(summary.pending, 0, "{name}");
    assert_eq!(summary.finished(), u64::from(s.rows + s.skipped), "{name}");
    let outcomes = events.exactly_once(s.rows + s.skipped, &name);
    let present = common::assert_no_duplicates(&sandbox, s.rows, &outcomes, &name);
    assert_eq!(
        present,
        e.present.unwrap_or(s.rows as usize),
        "{name}: users present"
    );
    let journal_rows = import::journal::outcomes(&tmp.path().join(&name)).unwrap();
    assert_eq!(
        journal_rows.len(),
        outcomes.len(),
        "{name}: journal holds every row"
    );
    if e.saw_429 {
        assert!(
            sandbox.requests().iter().any(|r| r.status == 429),
            "{name}: 429"
        );
        assert!(events.waits > 0, "{name}: waited");
    }
    if let Some(status) = e.saw_status {
        let hit = |r: &zdimport::sandbox::RequestRecord| {
            r.status == status || (status == 500 && r.status >= 500)
        };
        assert!(
            sandbox.requests().iter().any(hit),
            "{name}: status {status}"
        );
    }
    if e.renewed_tokens {
        assert!(sandbox.tokens_issued() > 1, "{name}: tokens renewed");
    }
    if let Some(text) = &e.details_contain {
        assert!(
            outcomes.values().any(|o| o
                .details
                .as_deref()
                .is_some_and(|d| d.contains(text.as_str()))),
            "{name}: some row says '{text}'"
        );
    }
    if e.lookups {
        assert!(
            outcomes
                .values()
                .any(|o| o.matched_by == Some(MatchedBy::Lookup)),
            "{name}: looked up"
        );
    }
    if let Some(rule) = e.matched_by {
        let sent = outcomes.values().filter(|o| o.outcome != Outcome::Skipped);
        assert!(
            sent.clone().all(|o| o.matched_by == Some(rule)),
            "{name}: {rule:?}"
        );
    }
}

/// Signed in as `zdimport import` would be with `ZENDESK_CLIENT_ID` and `ZENDESK_CLIENT_SECRET`.
async fn oauth_client(sandbox: &zdimport::sandbox::SandboxHandle) -> zdimport::zendesk::Client {
    let url = sandbox.url().to_string();
    let var = |key: &str| match key {
        "ZENDESK_CLIENT_ID" => Some(zdimport::sandbox::SERVICE_CLIENT_ID.to_owned()),
        "ZENDESK_CLIENT_SECRET" => Some("sandbox-client-secret".to_owned()),
        "ZDIMPORT_KEYRING" => Some("memory".to_owned()),
        _ => None,
    };
    let (client, warning) =
        zdimport::zendesk::connect(Some(&url), None, var, Duration::from_secs(5))
            .await
            .expect("client credentials sign-in");
    assert!(warning.is_none());
    client
}

async fn run_once(
    client: &zdimport::zendesk::Client,
    journal: Journal,
    options: &EngineOptions,
    cancel_after: Option<usize>,
    events: &mut Collected,
) -> Result<import::Summary, import::ImportError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<ImportEvent>(32);
    let cancel = CancellationToken::new();
    let collector = tokio::spawn(collect(rx, cancel.clone(), cancel_after));
    let engine = import::run(client, journal, tx, cancel, options.clone());
    let summary = tokio::time::timeout(Duration::from_secs(60), engine)
        .await
        .expect("the import finishes within a minute")?;
    events.merge(collector.await.unwrap());
    Ok(summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "scenario files: {files:?}");
    let only = std::env::var("SCENARIO").ok();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        if only.as_deref().is_some_and(|o| o != stem) {
            continue;
        }
        let started = std::time::Instant::now();
        run_scenario(&file).await;
        eprintln!("scenario {stem}: ok in {:?}", started.elapsed());
    }
}
