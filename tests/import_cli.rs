//! `zdimport import`, `runs`, `retry` and `resume` as processes, against a sandbox served by
//! the test on loopback; one of them killed with SIGKILL in the middle of a run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use tokio::process::Command;
use zdimport::sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};

mod common;
use common::{fields_only_seed, users_csv};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/users_sample.xlsx");
const PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/sample_profile.json");

fn command(home: &Path, sandbox: Option<&SandboxHandle>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zdimport"));
    cmd.args(args)
        .env("ZDIMPORT_CONFIG_DIR", home.join("config"))
        .env("ZDIMPORT_DATA_DIR", home.join("data"))
        .env("ZDIMPORT_KEYRING", "memory")
        .env_remove("ZENDESK_OAUTH_TOKEN")
        .env_remove("ZENDESK_CLIENT_ID")
        .env_remove("ZENDESK_SUBDOMAIN")
        .kill_on_drop(true);
    if let Some(sandbox) = sandbox {
        cmd.env("ZENDESK_URL", sandbox.url().as_str())
            .env("ZENDESK_EMAIL", &sandbox.config().admin_email)
            .env("ZENDESK_API_TOKEN", "sandbox-api-token");
    }
    cmd
}

async fn zdimport(home: &Path, sandbox: Option<&SandboxHandle>, args: &[&str]) -> Output {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        command(home, sandbox, args).output(),
    )
    .await
    .expect("zdimport ends within a minute")
    .expect("zdimport runs");
    eprintln!(
        "zdimport {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `import` of the sample file with its profile into the in-process sandbox, which knows the
/// sample account's custom fields from `fields`.
fn sample_import(fields: &Path) -> Vec<&str> {
    let fields = fields.to_str().unwrap();
    vec![
        "import",
        SAMPLE,
        "--profile",
        PROFILE,
        "--sandbox",
        "--seed-users",
        fields,
    ]
}

fn run_dirs(home: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(home.join("data/runs"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Outcome per row from a report CSV.
fn report(path: &Path) -> HashMap<u32, String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].to_owned())
        })
        .collect()
}

fn count(report: &HashMap<u32, String>, outcome: &str) -> usize {
    report.values().filter(|o| *o == outcome).count()
}

/// Each "User i" exactly once in the sandbox.
fn assert_each_user_once(sandbox: &SandboxHandle, rows: usize) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for user in sandbox.users() {
        *seen
            .entry(user["name"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    for i in 0..rows {
        assert_eq!(seen.get(&format!("User {i}")), Some(&1), "User {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_into_the_in_process_sandbox_writes_a_report_and_a_run() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let json = h.join("results.json");
    let fields = fields_only_seed(h);
    let mut args = sample_import(&fields);
    args.extend(["--yes", "--report", json.to_str().unwrap()]);
    let out = zdimport(h, None, &args).await;
    assert_eq!(code(&out), 1, "a failed row and 3 skipped rows: exit 1");
    let err = text(&out.stderr);
    assert!(
        err.contains("204 rows: 200 created, 0 updated, 1 failed, 3 skipped"),
        "{err}"
    );
    assert!(err.contains("sandbox_users.json"), "{err}");
    let list: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 204);
    let runs = zdimport(h, None, &["runs"]).await;
    assert_eq!(code(&runs), 0);
    assert!(
        text(&runs.stdout).contains("done"),
        "{}",
        text(&runs.stdout)
    );
    for entry in std::fs::read_dir(&run_dirs(h)[0]).unwrap() {
        let content = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for secret in ["sandbox-api-token", "Bearer", "access_token"] {
            assert!(!content.contains(secret), "{secret} in the run folder");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_nothing_and_no_terminal_needs_yes() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let fields = fields_only_seed(h);
    let base = sample_import(&fields);
    let dry = zdimport(h, None, &[&base[..], &["--dry-run"]].concat()).await;
    assert_eq!(code(&dry), 0);
    assert!(
        text(&dry.stderr).contains("201 to send in 8 requests"),
        "{}",
        text(&dry.stderr)
    );
    assert!(run_dirs(h).is_empty());
    let asked = zdimport(h, None, &base).await;
    assert_eq!(code(&asked), 2);
    assert!(text(&asked.stderr).contains("--yes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_sends_only_the_unknown_rows_again() {
    let sandbox = Sandbox::start(SandboxConfig {
        speed: 50.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    sandbox.force_fault("create_many", Fault::JobFailed);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let csv = users_csv(h, 300);
    let csv = csv.to_str().unwrap();
    let first = [
        "import",
        csv,
        "--auto",
        "--mode",
        "create",
        "--yes",
        "--engine-speed",
        "50",
    ];
    let out = zdimport(h, Some(&sandbox), &first).await;
    assert_eq!(code(&out), 1, "a failed job: its rows are unknown");
    let first_dir = run_dirs(h)[0].clone();
    let run = first_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let before = report(&first_dir.join("report.csv"));
    // 300 users: one round of 30 jobs, evened out into 12 requests of 25; one job failed.
    assert_eq!(count(&before, "unknown"), 25);
    let again = ["retry", &run, "--yes", "--engine-speed", "50"];
    let out = zdimport(h, Some(&sandbox), &again).await;
    assert_eq!(code(&out), 0, "every unknown row created");
    let retry_dir = run_dirs(h).into_iter().find(|d| *d != first_dir).unwrap();
    let after = report(&retry_dir.join("report.csv"));
    assert_eq!((after.len(), count(&after, "created")), (25, 25));
    assert_each_user_once(&sandbox, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_then_resume_creates_every_user_once() {
    let sandbox = Sandbox::start(SandboxConfig {
        speed: 50.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let rows = 3000;
    let csv = users_csv(h, rows);
    let args = [
        "import",
        csv.to_str().unwrap(),
        "--auto",
        "--mode",
        "create",
        "--yes",
        "--concurrency",
        "2",
        "--engine-speed",
        "50",
    ];
    let mut child = command(h, Some(&sandbox), &args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let journal = loop {
        let accepted = run_dirs(h)
            .first()
            .map(|d| d.join("journal.jsonl"))
            .filter(|j| {
                std::fs::read_to_string(j).is_ok_and(|t| t.matches("\"accepted\"").count() >= 5)
            });
        if let Some(journal) = accepted {
            break journal;
        }
        assert!(Instant::now() < deadline, "no progress within 30 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before the kill"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    child.start_kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().await.unwrap();
    assert!(!status.success());
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert!(!lines.contains("\"finished\""), "killed before the end");
    let out = zdimport(h, Some(&sandbox), &["resume", "--engine-speed", "50"]).await;
    assert_eq!(code(&out), 0, "every row created after resume");
    let outcomes = report(&run_dirs(h)[0].join("report.csv"));
    assert_eq!((outcomes.len(), count(&outcomes, "created")), (rows, rows));
    assert_each_user_once(&sandbox, rows);
    let runs = zdimport(h, None, &["runs"]).await;
    assert!(text(&runs.stdout).contains("done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_import_converts_custom_fields_for_the_account() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let csv = h.join("plans.csv");
    std::fs::write(
        &csv,
        "name,email,Plan,Seats\nAna,ana@example.com,Gold plan,3\nBo,bo@example.com,silver,12\n",
    )
    .unwrap();
    let fields = fields_only_seed(h);
    let (csv, fields) = (csv.to_str().unwrap(), fields.to_str().unwrap());
    let import = |maps: &[&'static str]| {
        let mut args = vec!["import", csv, "--auto", "--mode", "create", "--sandbox"];
        args.extend(["--seed-users", fields, "--yes"]);
        for map in maps {
            args.extend(["--map", map]);
        }
        args
    };
    let args = import(&["Plan=user_fields.plan", "Seats=user_fields.seats"]);
    let out = zdimport(h, None, &args).await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let held: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dirs(h)[0].join("sandbox_users.json")).unwrap())
            .unwrap();
    let fields_of = |email: &str| {
        held["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .map(|u| u["user_fields"].clone())
            .unwrap_or_else(|| panic!("{email} in the sandbox"))
    };
    // The dropdown's label became its value; the integer went as a number.
    assert_eq!(fields_of("ana@example.com")["plan"], "gold");
    assert_eq!(fields_of("ana@example.com")["seats"], 3);
    assert_eq!(fields_of("bo@example.com")["plan"], "silver");
    assert_eq!(fields_of("bo@example.com")["seats"], 12);
    // A key the account lacks stops the import before anything is sent, naming the column.
    let wrong = import(&["Plan=user_fields.tier"]);
    let out = zdimport(h, None, &wrong).await;
    assert_eq!(code(&out), 2);
    let err = text(&out.stderr);
    assert!(err.contains("tier") && err.contains("'Plan'"), "{err}");
    assert_eq!(run_dirs(h).len(), 1, "nothing sent for the wrong mapping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_the_account_url_are_refused_and_never_stored() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let csv = users_csv(h, 3);
    let mut url = sandbox.url().clone();
    url.set_username("agent").unwrap();
    url.set_password(Some("hunter2-secret")).unwrap();
    let url = url.to_string();
    let args = ["import", csv.to_str().unwrap(), "--yes"];
    let by_flag = zdimport(h, Some(&sandbox), &[&args[..], &["--url", &url]].concat()).await;
    let mut by_env = command(h, Some(&sandbox), &args);
    by_env.env("ZENDESK_URL", &url);
    let by_env = by_env.output().await.unwrap();
    for out in [by_flag, by_env] {
        let err = text(&out.stderr);
        assert_eq!(code(&out), 2, "{err}");
        assert!(err.contains("user name or password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    assert!(run_dirs(h).is_empty(), "nothing was run");
    assert!(
        !sandbox.users().iter().any(|u| u["name"] == "User 0"),
        "nothing was sent"
    );
    let runs = zdimport(h, None, &["runs"]).await;
    assert!(!text(&runs.stdout).contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_never_overwrites_the_input_nor_an_existing_file_without_force() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let fields = fields_only_seed(h);
    let csv = users_csv(h, 3);
    let original = std::fs::read(&csv).unwrap();
    let linked = h.join("linked.csv");
    std::fs::hard_link(&csv, &linked).unwrap();
    let fields = fields.to_str().unwrap();
    let base = [
        "import",
        csv.to_str().unwrap(),
        "--auto",
        "--sandbox",
        "--seed-users",
        fields,
        "--yes",
    ];
    let dotted = h.join(".").join("users.csv");
    for report in [&csv, &dotted, &linked] {
        let args = [
            &base[..],
            &["--report", report.to_str().unwrap(), "--force"],
        ]
        .concat();
        let out = zdimport(h, None, &args).await;
        let err = text(&out.stderr);
        assert_eq!(code(&out), 2, "{err}");
        assert!(err.contains("is the input file"), "{err}");
        assert_eq!(
            std::fs::read(&csv).unwrap(),
            original,
            "the input is intact"
        );
    }
    let existing = h.join("old-report.csv");
    std::fs::write(&existing, "keep me").unwrap();
    let args = [&base[..], &["--report", existing.to_str().unwrap()]].concat();
    let out = zdimport(h, None, &args).await;
    let err = text(&out.stderr);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert!(run_dirs(h).is_empty(), "nothing was sent");
    let forced = zdimport(h, None, &[&args[..], &["--force"]].concat()).await;
    assert_eq!(code(&forced), 0, "{}", text(&forced.stderr));
    assert_eq!(count(&report(&existing), "created"), 3);
}
