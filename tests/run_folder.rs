//! The run folder against the sandbox: a crash at any byte of the journal, a damaged or
//! missing journal, two processes on one run, and `retry` after killed jobs and lost answers.
//! Each case ends with every row finished once and each row's user in Zendesk once.

mod common;

use std::path::Path;

use rand::{Rng as _, SeedableRng as _};
use zdimport::import::journal::{self, Damage};
use zdimport::import::{
    self, EngineOptions, ImportError, Journal, Outbox, Outcome, Retry, Summary,
};
use zdimport::payload::Mode;
use zdimport::sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};
use zdimport::zendesk::Client;

use common::plan_of;

const SPEED: f64 = 100.0;
const ROWS: u32 = 200;
const SKIPPED: u32 = 1;

async fn sandbox() -> SandboxHandle {
    let config = SandboxConfig {
        speed: SPEED,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.unwrap()
}

/// Runs the engine on `journal` to its end, within a deadline.
async fn run(
    client: &Client,
    journal: Journal,
    options: &EngineOptions,
) -> Result<Summary, ImportError> {
    common::run_to_end(client, journal, options).await
}

/// Each of the first `rows` users is in the sandbox exactly once.
fn assert_each_user_once(sandbox: &SandboxHandle, rows: u32, name: &str) {
    let users: Vec<_> = sandbox
        .users()
        .into_iter()
        .filter(|u| u["name"].as_str().is_some_and(|n| n.starts_with("User ")))
        .collect();
    for i in 0..rows {
        let wanted = format!("User {i}");
        let n = users
            .iter()
            .filter(|u| u["name"] == wanted.as_str())
            .count();
        assert_eq!(n, 1, "{name}: {wanted} is in Zendesk {n} times");
    }
    assert_eq!(users.len(), rows as usize, "{name}: users in Zendesk");
}

/// Every row finished once in the journal, the counts add up, and none failed.
fn assert_finished(dir: &Path, summary: &Summary, rows: u32, name: &str) {
    assert_eq!(summary.pending, 0, "{name}: {summary}");
    assert_eq!(summary.finished(), summary.rows, "{name}: {summary}");
    assert_eq!(summary.failed + summary.unknown, 0, "{name}: {summary}");
    let outcomes = journal::outcomes(dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        outcomes.len() as u64,
        summary.rows,
        "{name}: rows in the journal"
    );
    let created = outcomes.iter().filter(|o| o.outcome == Outcome::Created);
    assert_eq!(created.count(), rows as usize, "{name}: created");
}

/// Imports until the journal has taken `cut` bytes (the crash tears the line there), then
/// resumes from what is on disk.
async fn crash_and_resume(cut: u64) {
    let name = format!("cut at byte {cut}");
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    let options = EngineOptions::for_speed(SPEED);
    let plan = plan_of(Mode::Create, ROWS, SKIPPED, false);
    let tmp = tempfile::tempdir().unwrap();
    let mut journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    journal.crash_after(cut);
    let _crashed = run(&client, journal, &options).await;
    let dir = tmp.path().join("r");
    let (_, _, journal) = Journal::open(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let summary = run(&client, journal, &options)
        .await
        .unwrap_or_else(|e| panic!("{name}: resume: {e}"));
    assert_finished(&dir, &summary, ROWS, &name);
    assert_each_user_once(&sandbox, ROWS, &name);
    let (_, _, journal) = Journal::open(&dir).unwrap();
    assert_eq!(
        journal.replay().damage,
        None,
        "{name}: the journal reads whole"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_entry_or_byte_of_the_journal_resumes_with_every_row_once() {
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    let plan = plan_of(Mode::Create, ROWS, SKIPPED, false);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("whole", &plan), &plan).unwrap();
    run(&client, journal, &EngineOptions::for_speed(SPEED))
        .await
        .unwrap();
    let whole = std::fs::read(tmp.path().join("whole/journal.jsonl")).unwrap();
    let mut cuts: Vec<u64> = (0..whole.len())
        .filter(|&i| whole[i] == b'\n')
        .map(|i| i as u64 + 1)
        .collect();
    assert!(cuts.len() >= 8, "a real journal: {} entries", cuts.len());
    cuts.insert(0, 0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    cuts.extend((0..10).map(|_| rng.random_range(1..whole.len() as u64)));
    for cut in cuts {
        crash_and_resume(cut).await;
    }
}

/// A finished run whose journal is then damaged by `damage`: resuming must find the users
/// the journal no longer shows finished, not send them blind ("already taken", or twice).
async fn damaged_then_resumed(damage: fn(&Path), expect: fn(&Damage) -> bool, name: &str) {
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    let options = EngineOptions::for_speed(SPEED);
    let plan = plan_of(Mode::Create, ROWS, SKIPPED, false);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    run(&client, journal, &options).await.unwrap();
    let dir = tmp.path().join("r");
    damage(&dir.join("journal.jsonl"));
    let (_, _, journal) = Journal::open(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let found = journal.replay().damage.clone();
    assert!(found.as_ref().is_some_and(expect), "{name}: {found:?}");
    let text = found.unwrap().describe(&dir.join("journal.jsonl"));
    assert!(
        text.contains("journal.jsonl") && text.contains("looked up"),
        "{text}"
    );
    let summary = run(&client, journal, &options)
        .await
        .unwrap_or_else(|e| panic!("{name}: resume: {e}"));
    assert_finished(&dir, &summary, ROWS, name);
    assert_each_user_once(&sandbox, ROWS, name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_missing_journal_looks_users_up_before_sending_anything() {
    damaged_then_resumed(
        |path| std::fs::write(path, "").unwrap(),
        |d| *d == Damage::Empty,
        "emptied",
    )
    .await;
    damaged_then_resumed(
        |path| std::fs::remove_file(path).unwrap(),
        |d| *d == Damage::Missing,
        "deleted",
    )
    .await;
    damaged_then_resumed(
        |path| {
            let text = std::fs::read_to_string(path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let kept = [&lines[..1], &["\u{0}garbage{"], &lines[lines.len() / 2..]].concat();
            std::fs::write(path, kept.join("\n") + "\n").unwrap();
        },
        |d| matches!(d, Damage::Unreadable { line: 2, .. }),
        "garbage mid-file",
    )
    .await;
}

#[test]
fn a_broken_run_json_or_a_missing_run_is_named_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = plan_of(Mode::Create, 3, 0, false);
    drop(Journal::create(tmp.path(), &common::run_info("r1", &plan), &plan).unwrap());
    std::fs::write(tmp.path().join("r1/run.json"), "{\n \"id\": ").unwrap();
    let dir = journal::find_run(tmp.path(), Some("r1")).unwrap();
    let error = Journal::open(&dir).unwrap_err().to_string();
    assert!(error.contains("run.json, line 2"), "{error}");
    assert!(error.contains("restore it"), "{error}");
    let error = journal::find_run(tmp.path(), None).unwrap_err().to_string();
    assert!(error.contains(&tmp.path().display().to_string()), "{error}");
    assert!(error.contains("cannot read run r1"), "{error}");
    let error = journal::find_run(tmp.path(), Some("r9"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no run 'r9' in"), "{error}");
}

#[test]
fn a_second_process_on_a_locked_run_names_the_holder_and_fails() {
    let data = tempfile::tempdir().unwrap();
    let runs = data.path().join("runs");
    let plan = plan_of(Mode::Create, 3, 0, false);
    let mut info = common::run_info("r1", &plan);
    info.account = "http://127.0.0.1:9".into();
    let _held = Journal::create(&runs, &info, &plan).unwrap();
    for command in [&["resume", "r1"][..], &["retry", "r1", "--yes"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zdimport"))
            .args(command)
            .env("ZDIMPORT_DATA_DIR", data.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command:?}: {stderr}");
        let holder = format!("in use by another zdimport (pid {}", std::process::id());
        assert!(stderr.contains(&holder), "{command:?}: {stderr}");
    }
}

/// `retry` of run `r` in `runs`, run to its end: the new run's folder and summary.
async fn retry_to_end(runs: &Path, client: &Client) -> (std::path::PathBuf, Summary) {
    let retry = Retry::read(&runs.join("r")).unwrap();
    let journal = retry.create(runs).unwrap();
    let dir = journal.dir().to_path_buf();
    let options = EngineOptions::for_speed(SPEED);
    let summary = run(client, journal, &options).await.unwrap();
    (dir, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_looks_up_unknown_rows_before_sending_them_again() {
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    // One batch's answer is lost with no attempt left, one job is killed: 200 rows unknown,
    // of which the lost batch's 100 are in Zendesk.
    sandbox.force_fault("create_many", Fault::LostAnswer);
    sandbox.force_fault("create_many", Fault::JobKilled);
    let mut options = EngineOptions::for_speed(SPEED);
    options.max_attempts = 1;
    options.concurrency = 1;
    let plan = plan_of(Mode::Create, 300, 0, false);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let first = run(&client, journal, &options).await.unwrap();
    assert_eq!((first.created, first.unknown), (100, 200), "{first}");
    let (dir, summary) = retry_to_end(tmp.path(), &client).await;
    assert_eq!(summary.rows, 200);
    assert_finished(&dir, &summary, 200, "retry");
    assert_each_user_once(&sandbox, 300, "retry");
    let looked_up = journal::outcomes(&dir)
        .unwrap()
        .into_iter()
        .filter(|o| o.matched_by == Some(import::MatchedBy::Lookup))
        .count();
    assert_eq!(
        looked_up, 100,
        "the lost batch's users are found, not sent again"
    );
}

/// `rows` users whose sheet row numbers repeat and go backwards (as an xlsx with repeated or
/// descending `<row r=…>` reads), and two skipped rows sharing one number.
fn plan_with_repeated_row_numbers(rows: u32) -> Outbox {
    let mut plan = Outbox::new(Mode::Create);
    let mut batcher = zdimport::payload::Batcher::new(Mode::Create, zdimport::payload::JOB_LIMIT);
    for i in 0..rows {
        let user = zdimport::payload::User {
            name: Some(format!("User {i}")),
            email: Some(format!("user{i}@example.com")),
            ..zdimport::payload::User::default()
        };
        let sheet_row = if i % 2 == 0 { 7 } else { 90 - i % 50 };
        for request in batcher.push(sheet_row, user) {
            plan.push_request(&request).unwrap();
        }
    }
    for request in batcher.finish() {
        plan.push_request(&request).unwrap();
    }
    plan.skip(7, "'x' is not a valid email address");
    plan.skip(7, "'y' is not a valid email address");
    plan
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sheet_row_numbers_lose_no_row_and_the_run_finishes() {
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    let options = EngineOptions::for_speed(SPEED);
    let plan = plan_with_repeated_row_numbers(ROWS);
    let tmp = tempfile::tempdir().unwrap();
    let mut journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    journal.crash_after(6_000);
    let _crashed = run(&client, journal, &options).await;
    let dir = tmp.path().join("r");
    let (_, _, journal) = Journal::open(&dir).unwrap();
    let summary = run(&client, journal, &options).await.unwrap();
    assert_eq!((summary.rows, summary.skipped), (u64::from(ROWS) + 2, 2));
    assert_finished(&dir, &summary, ROWS, "repeated row numbers");
    assert_each_user_once(&sandbox, ROWS, "repeated row numbers");
    let listed = journal::list_runs(tmp.path());
    assert!(listed[0].complete, "the run is done: {}", listed[0].done);
    let report = dir.join("report.csv");
    import::report::write(&report, &journal::outcomes(&dir).unwrap()).unwrap();
    let lines = std::fs::read_to_string(&report).unwrap().lines().count();
    assert_eq!(lines, ROWS as usize + 2 + 1, "a report line per row");
}

/// An xlsx of `rows` users whose `<row r=…>` numbers (and cell references) repeat and go
/// backwards: rust_xlsxwriter writes it plainly, then its sheet XML is patched.
fn xlsx_with_repeated_row_numbers(path: &Path, rows: u32) {
    use std::io::{Read as _, Write as _};
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "name").unwrap();
    sheet.write_string(0, 1, "email").unwrap();
    for i in 0..rows {
        sheet.write_string(i + 1, 0, format!("User {i}")).unwrap();
        sheet
            .write_string(i + 1, 1, format!("user{i}@example.com"))
            .unwrap();
    }
    let plain = book.save_to_buffer().unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(plain)).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let row = regex::Regex::new(r#"(?s)<row r="(\d+)".*?</row>"#).unwrap();
    let cell = regex::Regex::new(r#" r="([A-Z]*)\d+""#).unwrap();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            let xml = String::from_utf8(bytes).unwrap();
            let patched = row.replace_all(&xml, |c: &regex::Captures<'_>| {
                let n: u32 = c[1].parse().unwrap();
                let to = match n {
                    1 => 1,
                    n if n % 2 == 0 => 2,
                    n => rows + 2 - n / 2,
                };
                cell.replace_all(&c[0], format!(r#" r="${{1}}{to}""#))
                    .into_owned()
            });
            assert_ne!(patched, xml, "the sheet XML was patched");
            bytes = patched.into_owned().into_bytes();
        }
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        out.start_file(name, stored).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
}

#[test]
fn an_xlsx_with_repeated_row_numbers_imports_every_row_once() {
    const ROWS: u32 = 150;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("repeated.xlsx");
    xlsx_with_repeated_row_numbers(&file, ROWS);
    let zdimport = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zdimport"))
            .args(args)
            .env("ZDIMPORT_DATA_DIR", home.path().join("data"))
            .env("ZDIMPORT_CONFIG_DIR", home.path().join("config"))
            .env("ZDIMPORT_KEYRING", "memory")
            .output()
            .unwrap()
    };
    let file = file.to_str().unwrap();
    let args = [
        "import",
        file,
        "--auto",
        "--mode",
        "create",
        "--sandbox",
        "--yes",
    ];
    let out = zdimport(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let run = std::fs::read_dir(home.path().join("data/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report = std::fs::read_to_string(run.join("report.csv")).unwrap();
    let created = report.lines().filter(|l| l.contains(",created,")).count();
    assert_eq!(created, ROWS as usize, "{report}");
    let rows_named: std::collections::HashSet<&str> = report
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert!(
        rows_named.len() <= ROWS as usize / 2 + 1,
        "row numbers repeat: {rows_named:?}"
    );
    let users: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("sandbox_users.json")).unwrap()).unwrap();
    for i in 0..ROWS {
        let name = format!("User {i}");
        let n = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["name"] == name.as_str())
            .count();
        assert_eq!(n, 1, "{name}");
    }
    let runs = zdimport(&["runs"]);
    let listed = String::from_utf8_lossy(&runs.stdout);
    assert!(listed.contains("  done  "), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_never_sends_again_an_unknown_user_it_cannot_look_up() {
    let sandbox = sandbox().await;
    let client = common::client(&sandbox);
    sandbox.force_fault("create_many", Fault::LostAnswer);
    let mut options = EngineOptions::for_speed(SPEED);
    options.max_attempts = 1;
    let plan = plan_of(Mode::Create, 100, 0, true);
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
    let first = run(&client, journal, &options).await.unwrap();
    assert_eq!(first.unknown, 100, "{first}");
    let retry = Retry::read(&tmp.path().join("r")).unwrap();
    let journal = retry.create(tmp.path()).unwrap();
    let options = EngineOptions::for_speed(SPEED);
    let summary = run(&client, journal, &options).await.unwrap();
    assert_eq!((summary.rows, summary.unknown), (100, 100), "{summary}");
    assert_each_user_once(&sandbox, 100, "name-only retry");
}

/// Users the account holds before an upsert: the first `held` rows' users.
async fn sandbox_holding(held: u32) -> SandboxHandle {
    let config = SandboxConfig {
        speed: SPEED,
        users: (0..held).map(|i| common::row_user(i, false)).collect(),
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.unwrap()
}

/// Upsert of 200 rows over an account holding the first 50; the first request's answer is
/// lost after Zendesk did it (50 created, 50 updated). No plan looked the users up, so only
/// their `created_at` can tell the rows its resend is answered "Updated" for apart.
const UPSERT_ROWS: u32 = 200;
const HELD: u32 = 50;

/// The account, its client (the first upsert request's answer to be lost), the plan and
/// run `r`'s journal in a temp dir.
async fn lost_upsert() -> (SandboxHandle, Client, tempfile::TempDir, Outbox, Journal) {
    let sandbox = sandbox_holding(HELD).await;
    let client = common::client(&sandbox);
    sandbox.force_fault("create_or_update_many", Fault::LostAnswer);
    let plan = plan_of(Mode::Upsert, UPSERT_ROWS, 0, false);
    let tmp = tempfile::tempdir().unwrap();
    let info = import::RunInfo {
        created_at: chrono::Utc::now().to_rfc3339(),
        ..common::run_info("r", &plan)
    };
    let journal = Journal::create(tmp.path(), &info, &plan).unwrap();
    (sandbox, client, tmp, plan, journal)
}

/// Whether the account held the row's user before the run.
fn held(o: &import::RowOutcome) -> bool {
    o.external_id
        .as_deref()
        .and_then(|x| x[1..].parse::<u32>().ok())
        < Some(HELD)
}

/// The run's users each once, and its rows: created for those the account did not hold.
fn assert_upsert_reported(dir: &Path, summary: &Summary, sandbox: &SandboxHandle, name: &str) {
    assert_eq!(summary.pending, 0, "{name}: {summary}");
    assert_eq!(
        (
            summary.created,
            summary.updated,
            summary.failed + summary.unknown
        ),
        (u64::from(UPSERT_ROWS - HELD), u64::from(HELD), 0),
        "{name}: created, updated, failed or unknown: {summary}"
    );
    for o in journal::outcomes(dir).unwrap() {
        let want = if held(&o) {
            Outcome::Updated
        } else {
            Outcome::Created
        };
        assert_eq!(o.outcome, want, "{name}: row {} {:?}", o.row, o.details);
    }
    assert_each_user_once(sandbox, UPSERT_ROWS, name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_killed_after_a_lost_answer_resumes_reporting_created_what_it_created() {
    let (sandbox, client, tmp, _plan, mut journal) = lost_upsert().await;
    client.me().await.unwrap();
    let mut options = EngineOptions::for_speed(SPEED);
    options.concurrency = 1;
    // The crash tears the line after the first request's `sending` (the engine's next write,
    // once the answer is lost): the journal's length up to there, and some bytes more.
    let line = |e: &journal::Entry| serde_json::to_vec(e).unwrap().len() as u64 + 1;
    let started = line(&journal::Entry::Started {
        at: chrono::Utc::now().to_rfc3339(),
        resumed: false,
        jobs: Some(1),
    });
    let sending = line(&journal::Entry::Sending {
        batch: 0,
        positions: (0..100).collect(),
        attempt: 1,
        zendesk_time: Some(client.zendesk_time().unwrap()),
    });
    journal.crash_after(started + sending + 40);
    let crashed = run(&client, journal, &options).await;
    assert!(crashed.is_err(), "the crash stops the run: {crashed:?}");
    let dir = tmp.path().join("r");
    let (_, _, journal) = Journal::open(&dir).unwrap();
    assert!(journal.replay().open.contains_key(&0), "batch 0 maybe sent");
    let summary = run(&client, journal, &options).await.unwrap();
    assert_upsert_reported(&dir, &summary, &sandbox, "resumed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_whose_journal_is_emptied_resumes_reporting_created_what_it_created() {
    let (sandbox, client, tmp, _plan, journal) = lost_upsert().await;
    let options = EngineOptions::for_speed(SPEED);
    let first = run(&client, journal, &options).await.unwrap();
    let dir = tmp.path().join("r");
    assert_upsert_reported(&dir, &first, &sandbox, "first run");
    std::fs::write(dir.join("journal.jsonl"), "").unwrap();
    let (_, _, journal) = Journal::open(&dir).unwrap();
    let summary = run(&client, journal, &options).await.unwrap();
    assert_upsert_reported(&dir, &summary, &sandbox, "emptied journal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upsert_retry_of_a_lost_answer_reports_created_what_the_run_created() {
    let (sandbox, client, tmp, _plan, journal) = lost_upsert().await;
    let mut options = EngineOptions::for_speed(SPEED);
    options.max_attempts = 1;
    // One job at a time: the lost answer is the first batch's (the held users' and 50 new),
    // whatever order two requests in flight would reach the sandbox in on a busy machine.
    options.concurrency = 1;
    let first = run(&client, journal, &options).await.unwrap();
    assert_eq!((first.created, first.unknown), (100, 100), "{first}");
    let (dir, summary) = retry_to_end(tmp.path(), &client).await;
    assert_eq!(
        (summary.created, summary.updated, summary.unknown),
        (50, 50, 0),
        "the lost request's 50 new users created, the 50 held updated: {summary}"
    );
    for o in journal::outcomes(&dir).unwrap() {
        assert_eq!(o.outcome == Outcome::Updated, held(&o), "row {}", o.row);
    }
    assert_each_user_once(&sandbox, UPSERT_ROWS, "retry");
}

/// Rewrites the run folder's `plan.jsonl` as versions before skipped lines wrote it: every
/// skipped row in the head (`skipped`), whom they name by place among them (`skipped_keys`),
/// the batch lines after it and nothing else.
fn with_skipped_rows_in_the_head(dir: &Path) {
    use serde_json::Value;
    let path = dir.join("plan.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let mut head: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let rest: Vec<&str> = lines.collect();
    let (batches, skipped_lines) = rest.split_at(head["batches"].as_u64().unwrap() as usize);
    assert_eq!(
        head["skipped_lines"].as_u64(),
        Some(skipped_lines.len() as u64)
    );
    let mut skipped = Vec::new();
    let mut keys = serde_json::Map::new();
    for line in skipped_lines {
        let line: Value = serde_json::from_str(line).unwrap();
        for (place, key) in line["keys"].as_object().into_iter().flatten() {
            let place = skipped.len() + place.parse::<usize>().unwrap();
            keys.insert(place.to_string(), key.clone());
        }
        skipped.extend(line["skipped"].as_array().unwrap().iter().cloned());
    }
    let head = head.as_object_mut().unwrap();
    head.remove("skipped_lines");
    head.remove("skipped_rows");
    head.insert("skipped".into(), Value::Array(skipped));
    head.insert("skipped_keys".into(), Value::Object(keys));
    let old = format!("{}\n{}\n", Value::Object(head.clone()), batches.join("\n"));
    std::fs::write(&path, old).unwrap();
}

/// A run folder written before skipped lines (its skipped rows in the plan's head), left
/// unfinished before or after its skipped rows were journaled: it resumes with every row
/// once, reports its skipped rows with their reason and whom they name, and retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_folder_with_its_skipped_rows_in_the_plans_head_resumes_and_reports() {
    const MANY: u32 = 1_200;
    for cut in [0, 4_000] {
        let name = format!("cut at byte {cut}");
        let sandbox = sandbox().await;
        let client = common::client(&sandbox);
        let options = EngineOptions::for_speed(SPEED);
        let mut plan = plan_of(Mode::Create, ROWS, MANY, false);
        plan.name_skipped(|row| {
            (row % 7 == 0).then(|| import::UserKey {
                email: Some(format!("row{row}@x")),
                ..import::UserKey::default()
            })
        });
        let tmp = tempfile::tempdir().unwrap();
        let mut journal =
            Journal::create(tmp.path(), &common::run_info("r", &plan), &plan).unwrap();
        let dir = tmp.path().join("r");
        with_skipped_rows_in_the_head(&dir);
        journal.crash_after(cut);
        let _crashed = run(&client, journal, &options).await;
        let (_, read, journal) = Journal::open(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(read.load().unwrap(), plan, "{name}");
        let summary = run(&client, journal, &options)
            .await
            .unwrap_or_else(|e| panic!("{name}: resume: {e}"));
        assert_finished(&dir, &summary, ROWS, &name);
        assert_eq!(summary.skipped, u64::from(MANY), "{name}: {summary}");
        assert_each_user_once(&sandbox, ROWS, &name);
        let rows = journal::rows(&dir).unwrap();
        assert_eq!(rows.len(), (ROWS + MANY) as usize, "{name}");
        for (o, n) in rows[ROWS as usize..].iter().zip(0u64..) {
            let row = ROWS + 2 + u32::try_from(n).unwrap();
            assert_eq!((o.index, o.row), (u64::from(ROWS) + n, row), "{name}");
            assert_eq!(o.outcome, Outcome::Skipped, "{name}: row {row}");
            let named = (row % 7 == 0).then(|| format!("row{row}@x"));
            assert_eq!(o.email, named, "{name}: row {row}");
        }
        let retry = Retry::read(&dir).unwrap_or_else(|e| panic!("{name}: retry: {e}"));
        assert_eq!(retry.plan.rows(), 0, "{name}: nothing to send again");
    }
}
