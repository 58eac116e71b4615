//! Random fault schedules over a few thousand rows: whatever Zendesk does, every row ends in
//! exactly one outcome and no user is created twice.

mod common;

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio_util::sync::CancellationToken;
use zdimport::import::{self, EngineOptions, ImportEvent, Journal, Outcome, RunInfo};
use zdimport::payload::Mode;
use zdimport::sandbox::{FaultConfig, JobResults, Sandbox, SandboxConfig};

use common::{Collected, collect, plan_of};

/// A fault schedule drawn from `seed`: chances of 5xx, drops, lost answers, failed and killed
/// jobs, results without index or out of order, and a job limit below 30.
fn faults(rng: &mut StdRng) -> FaultConfig {
    let mut chance = |max: f64| rng.random_range(0.0..max);
    FaultConfig {
        server_error: chance(0.1),
        drop_connection: chance(0.05),
        lost_answer: chance(0.08),
        job_failed: chance(0.04),
        job_killed: chance(0.04),
        results_without_index: rng.random_bool(0.3),
        results_out_of_order: rng.random_bool(0.3),
        job_not_found_first: rng.random_bool(0.3),
        ..FaultConfig::default()
    }
}

async fn one_schedule(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let rows = rng.random_range(1_000..3_000);
    let mode = if rng.random_bool(0.6) {
        Mode::Create
    } else {
        Mode::Upsert
    };
    let faults = faults(&mut rng);
    let config = SandboxConfig {
        speed: 200.0,
        rate_limit: rng.random_range(100..2_500),
        job_limit: rng.random_range(5..=30),
        faults: faults.clone(),
        seed,
        // Results out of order can be matched only by index: a live account answers in the
        // order sent, without one.
        job_results: if faults.results_out_of_order {
            JobResults::Reference
        } else {
            JobResults::Recorded
        },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let client = common::client(&sandbox);
    let plan = plan_of(mode, rows, 0, false);
    let tmp = tempfile::tempdir().unwrap();
    let info = RunInfo {
        id: "r".into(),
        mode,
        rows: u64::from(rows),
        ..RunInfo::default()
    };
    let journal = Journal::create(tmp.path(), &info, &plan).unwrap();
    let mut options = EngineOptions::for_speed(200.0);
    options.concurrency = rng.random_range(1..=30);
    let (tx, rx) = tokio::sync::mpsc::channel::<ImportEvent>(32);
    let collector = tokio::spawn(collect(rx, CancellationToken::new(), None));
    let engine = import::run(&client, journal, tx, CancellationToken::new(), options);
    let summary = tokio::time::timeout(Duration::from_secs(60), engine)
        .await
        .unwrap_or_else(|_| panic!("seed {seed}: {faults:?}: no end within a minute"))
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let mut events = Collected::default();
    events.merge(collector.await.unwrap());
    let name = format!("seed {seed} ({mode}, {rows} rows, {faults:?})");
    assert_eq!(summary.finished(), u64::from(rows), "{name}");
    let outcomes = events.exactly_once(rows, &name);
    let present = common::assert_no_duplicates(&sandbox, rows, &outcomes, &name);
    let confirmed = outcomes
        .values()
        .filter(|o| matches!(o.outcome, Outcome::Created | Outcome::Updated))
        .count();
    assert!(
        present >= confirmed,
        "{name}: {present} present, {confirmed} confirmed"
    );
    assert_eq!(
        summary.failed, 0,
        "{name}: no row of fresh users can fail, whatever the faults"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_fault_schedules_are_exactly_once_and_complete() {
    let seeds: u64 = std::env::var("FAULT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    for seed in 1..=seeds {
        one_schedule(seed).await;
    }
}
