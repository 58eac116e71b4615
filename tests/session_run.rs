//! The session's runs, as both front ends drive them: a new run paused and cancelled through
//! its controls, resumed to its end in the same folder, its report written there; a retry of
//! a finished run with nothing to send again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use zdimport::import::ImportEvent;
use zdimport::payload::Mode;
use zdimport::sandbox::{Sandbox, SandboxConfig};
use zdimport::session::run::{self, Pace, RetryRows, Run};

const SPEED: f64 = 100.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_resumes_to_its_end_and_writes_its_report() {
    let sandbox = Sandbox::start(SandboxConfig {
        speed: SPEED,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = Arc::new(common::client(&sandbox));
    let runs = tempfile::tempdir().unwrap();
    let plan = common::plan_of(Mode::Create, 600, 2, false);
    let info = common::run_info("20261201-000000-0001", &plan);
    let run = Run::create_in(runs.path(), info, plan).unwrap();
    let dir = run.dir().to_path_buf();
    let pace = Pace {
        jobs: Some(1),
        speed: Some(SPEED),
    };
    let (started, mut events) = run.start(Arc::clone(&client), pace);
    let controls = started.controls();
    // Paused before anything leaves, then cancelled once the first batch is sent: the run
    // ends with rows pending, its journal resumable.
    controls.pause(true);
    let watcher = tokio::spawn(async move {
        let mut sent = 0;
        while let Some(event) = events.recv().await {
            if matches!(event, ImportEvent::BatchSent { .. }) {
                sent += 1;
                controls.cancel();
            }
        }
        sent
    });
    let unpause = started.controls();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        unpause.pause(false);
    });
    let ended = started.finish(None).await.unwrap();
    let sent_first = watcher.await.unwrap();
    assert!(sent_first >= 1, "the first batch left once unpaused");
    assert!(
        ended.summary.cancelled && ended.summary.pending > 0,
        "{:?}",
        ended.summary
    );
    assert_eq!(ended.report, dir.join("report.csv"));
    assert!(ended.report.exists());

    let resumable = run::resume(&dir).unwrap();
    assert!(resumable.finished.is_none());
    assert_eq!(
        resumable.jobs,
        Some(1),
        "the journal keeps the jobs at once"
    );
    let (started, mut events) = resumable.run.start(
        client,
        Pace {
            jobs: resumable.jobs,
            speed: Some(SPEED),
        },
    );
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let ended = started.finish(Some(dir.join("out.csv"))).await.unwrap();
    assert_eq!(ended.summary.pending, 0, "{:?}", ended.summary);

    // Every row once: 600 created over the two processes' worth of runs, 2 skipped.
    let rows = run::rows(&dir).unwrap();
    let created = rows
        .iter()
        .filter(|r| r.outcome == run::Outcome::Created)
        .count();
    let skipped = rows
        .iter()
        .filter(|r| r.outcome == run::Outcome::Skipped)
        .count();
    assert_eq!((rows.len(), created, skipped), (602, 600, 2));
    assert_eq!(
        sandbox.users().len(),
        600 + 1,
        "the admin and each row's user once"
    );
    let report = std::fs::read_to_string(dir.join("out.csv")).unwrap();
    assert_eq!(report.lines().count(), 1 + 602, "a header and every row");

    // Finished: nothing to resume, nothing to retry.
    let again = run::resume(&dir).unwrap();
    assert_eq!(again.finished.as_ref().map(|s| s.created), Some(600));
    drop(again);
    let retry = run::read_retry(&dir, RetryRows::Retryable).unwrap();
    assert_eq!(retry.plan.rows(), 0);
}

#[test]
fn a_run_folder_is_held_by_one_run_at_a_time() {
    let runs = tempfile::tempdir().unwrap();
    let plan = common::plan_of(Mode::Create, 10, 0, false);
    let info = common::run_info("20261201-000000-0002", &plan);
    let run = Run::create_in(runs.path(), info, plan).unwrap();
    let err = run::resume(run.dir()).unwrap_err();
    assert!(
        matches!(err, run::RunError::Journal(_)) && err.to_string().contains("process"),
        "{err}"
    );
}
