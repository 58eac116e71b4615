//! The engine's controls against the sandbox: pause and resume, cancel and resume, with
//! events waited on with deadlines.

mod common;

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use zdimport::import::{self, EngineOptions, ImportEvent, Journal, RunInfo};
use zdimport::payload::Mode;
use zdimport::sandbox::{Sandbox, SandboxConfig};

const DEADLINE: Duration = Duration::from_secs(20);

async fn next(rx: &mut mpsc::Receiver<ImportEvent>) -> ImportEvent {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("an event within the deadline")
        .expect("the engine is still running")
}

fn bulk_requests(sandbox: &zdimport::sandbox::SandboxHandle) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.target.contains("_many.json") && !r.target.contains("show_many"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_sending_and_follows_the_jobs_in_flight_then_resume_finishes() {
    let sandbox = Sandbox::start(SandboxConfig {
        speed: 100.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = common::client(&sandbox);
    let plan = common::plan_of(Mode::Create, 1000, 0, false);
    let tmp = tempfile::tempdir().unwrap();
    let info = RunInfo {
        id: "p".into(),
        mode: Mode::Create,
        rows: 1000,
        ..RunInfo::default()
    };
    let journal = Journal::create(tmp.path(), &info, &plan).unwrap();
    let (pause_tx, pause_rx) = watch::channel(false);
    let mut options = EngineOptions::for_speed(100.0);
    options.concurrency = 2;
    options.pause = Some(pause_rx);
    let (tx, mut rx) = mpsc::channel(32);
    let engine = tokio::spawn(async move {
        import::run(&client, journal, tx, CancellationToken::new(), options).await
    });
    let mut sent_before_pause = 0;
    loop {
        if let ImportEvent::BatchSent { .. } = next(&mut rx).await {
            sent_before_pause += 1;
            pause_tx.send(true).unwrap();
            break;
        }
    }
    let mut finished_rows = 0;
    let mut paused = false;
    // Paused, then the rows of every batch sent before the pause finish; nothing else leaves.
    while !paused || finished_rows < sent_before_pause * 100 {
        match next(&mut rx).await {
            ImportEvent::Paused => paused = true,
            ImportEvent::BatchSent { .. } => {
                assert!(!paused, "a batch was sent while paused");
                sent_before_pause += 1;
            }
            ImportEvent::RowsFinished(rows) => finished_rows += rows.len(),
            _ => {}
        }
    }
    assert_eq!(bulk_requests(&sandbox), sent_before_pause);
    assert!(sent_before_pause < 10, "still rows to send");
    pause_tx.send(false).unwrap();
    let mut resumed = false;
    let summary = loop {
        match next(&mut rx).await {
            ImportEvent::Resumed => resumed = true,
            ImportEvent::Finished(summary) => break summary,
            _ => {}
        }
    };
    assert!(resumed);
    assert_eq!((summary.created, summary.pending), (1000, 0));
    engine.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_switch_at_the_start_sends_nothing_until_released() {
    let sandbox = Sandbox::start(SandboxConfig {
        speed: 100.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = common::client(&sandbox);
    let plan = common::plan_of(Mode::Upsert, 150, 2, false);
    let tmp = tempfile::tempdir().unwrap();
    let info = RunInfo {
        id: "q".into(),
        mode: Mode::Upsert,
        rows: 152,
        ..RunInfo::default()
    };
    let journal = Journal::create(tmp.path(), &info, &plan).unwrap();
    let (pause_tx, pause_rx) = watch::channel(true);
    let mut options = EngineOptions::for_speed(100.0);
    options.pause = Some(pause_rx);
    let (tx, mut rx) = mpsc::channel(32);
    let engine = tokio::spawn(async move {
        import::run(&client, journal, tx, CancellationToken::new(), options).await
    });
    loop {
        match next(&mut rx).await {
            ImportEvent::Paused => break,
            ImportEvent::BatchSent { .. } => panic!("sent while paused"),
            _ => {}
        }
    }
    assert_eq!(bulk_requests(&sandbox), 0);
    pause_tx.send(false).unwrap();
    let summary = loop {
        if let ImportEvent::Finished(summary) = next(&mut rx).await {
            break summary;
        }
    };
    assert_eq!((summary.created, summary.skipped), (150, 2));
    engine.await.unwrap().unwrap();
}

/// A sandbox whose jobs wait an hour in the queue: they never end within a test.
async fn stuck_sandbox() -> zdimport::sandbox::SandboxHandle {
    Sandbox::start(SandboxConfig {
        speed: 100.0,
        job_queue_time: Duration::from_secs(3600),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn journal_for(tmp: &std::path::Path, plan: &import::Outbox) -> Journal {
    let info = RunInfo {
        id: "stuck".into(),
        mode: plan.mode,
        rows: plan.rows() as u64,
        ..RunInfo::default()
    };
    Journal::create(tmp, &info, plan).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_follows_stuck_jobs_for_a_bounded_time_and_leaves_the_run_resumable() {
    let sandbox = stuck_sandbox().await;
    let client = common::client(&sandbox);
    let plan = common::plan_of(Mode::Create, 200, 0, false);
    let tmp = tempfile::tempdir().unwrap();
    let journal = journal_for(tmp.path(), &plan);
    let mut options = EngineOptions::for_speed(100.0);
    options.cancel_follow = Duration::from_millis(300);
    let (tx, mut rx) = mpsc::channel(32);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let engine =
        tokio::spawn(async move { import::run(&client, journal, tx, cancel, options).await });
    while !matches!(next(&mut rx).await, ImportEvent::BatchSent { .. }) {}
    stop.cancel();
    while rx.recv().await.is_some() {}
    let summary = tokio::time::timeout(DEADLINE, engine)
        .await
        .expect("the run stops although its jobs never end")
        .unwrap()
        .unwrap();
    assert!(summary.cancelled);
    assert_eq!(
        summary.pending, 200,
        "no row settled: the jobs are still queued"
    );
    let (_, _, reopened) = Journal::open(&tmp.path().join("stuck")).unwrap();
    assert!(
        !reopened.replay().open.is_empty(),
        "the accepted jobs stay open for resume to follow"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_ends_is_given_up_and_its_users_end_unknown_not_sent_blindly() {
    let sandbox = stuck_sandbox().await;
    let client = common::client(&sandbox);
    let plan = common::plan_of(Mode::Create, 100, 0, false);
    let tmp = tempfile::tempdir().unwrap();
    let journal = journal_for(tmp.path(), &plan);
    let mut options = EngineOptions::for_speed(100.0);
    options.job_deadline = Duration::from_millis(300);
    let (tx, rx) = mpsc::channel(32);
    let cancel = CancellationToken::new();
    let collector = tokio::spawn(common::collect(rx, cancel.clone(), None));
    let summary =
        tokio::time::timeout(DEADLINE, import::run(&client, journal, tx, cancel, options))
            .await
            .expect("the run ends although its jobs never do")
            .unwrap();
    let got = collector.await.unwrap();
    assert_eq!(summary.unknown, 100, "{summary:?}");
    assert!(
        got.finished.iter().all(|o| o
            .details
            .as_deref()
            .is_some_and(|d| d.contains("did not end within"))),
        "each row says why"
    );
    assert_eq!(
        bulk_requests(&sandbox),
        1,
        "never sent again while the job may run"
    );
}
