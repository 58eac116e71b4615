//! Headless use as a script or a night job meets it (issue 16): exit codes, stdout kept for
//! results and stderr for messages, the log file and what never goes in it, the invalid-row
//! policy, runs and report, and the progress bar in an 80-column terminal.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use zdimport::sandbox::{SERVICE_CLIENT_ID, Sandbox, SandboxConfig, SandboxHandle};

mod common;
use common::{fields_only_seed, users_csv};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/users_sample.xlsx");
const PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/sample_profile.json");

/// The binary with its config and data dirs in `home` and no account in the environment.
fn command(home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::command(home);
    cmd.args(args)
        .env_remove("ZDIMPORT_STATE_DIR")
        .env_remove("ZDIMPORT_LOG_LEVEL");
    cmd
}

fn zdimport(home: &Path, args: &[&str]) -> Output {
    command(home, args).output().expect("run zdimport")
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `import` of the sample into the in-process sandbox that knows its custom fields.
fn sample_import(home: &Path, extra: &[&str]) -> Output {
    let fields = fields_only_seed(home);
    let mut args = vec![
        "import",
        SAMPLE,
        "--profile",
        PROFILE,
        "--sandbox",
        "--seed-users",
        fields.to_str().unwrap(),
    ];
    args.extend(extra);
    zdimport(home, &args)
}

/// Data rows of a CSV report.
fn report_rows(path: &Path) -> usize {
    csv::Reader::from_path(path).unwrap().records().count()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn import_json_prints_only_the_summary_on_stdout_and_the_exit_codes_are_in_help() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let out = sample_import(h, &["--yes", "--json"]);
    assert_eq!(code(&out), 1, "a failed row and 3 skipped: exit 1");
    let summary = json(&stdout(&out));
    assert_eq!(summary["rows"], 204);
    assert_eq!(
        (&summary["created"], &summary["failed"], &summary["skipped"]),
        (&Value::from(200), &Value::from(1), &Value::from(3))
    );
    assert_eq!(summary["exit_code"], 1);
    let run = summary["run"].as_str().unwrap();
    let report = PathBuf::from(summary["report"].as_str().unwrap());
    assert!(
        report.starts_with(h.join("data/runs").join(run)),
        "{report:?}"
    );
    assert!(report.exists());
    let log = PathBuf::from(summary["log"].as_str().unwrap());
    assert!(log.starts_with(h.join("data/logs")), "{log:?}");
    let err = stderr(&out);
    assert!(err.contains(&format!("log in {}", log.display())), "{err}");
    assert!(
        err.contains("rows/s"),
        "plain progress lines on stderr: {err}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    for want in [
        "POST /api/v2/users/create_or_update_many.json -> 200 in ",
        "GET /api/v2/job_statuses/show_many.json?ids=",
        "row 205 failed: UserCreateError: Name: cannot be blank",
        "import finished: 204 rows: 200 created",
    ] {
        assert!(text.contains(want), "{want:?} not in the log:\n{text}");
    }

    let runs = zdimport(h, &["runs", "--json"]);
    assert_eq!(code(&runs), 0, "{}", stderr(&runs));
    let list = json(&stdout(&runs));
    assert_eq!(list[0]["id"], run);
    assert_eq!(list[0]["state"], "done");
    assert_eq!(list[0]["failed"], 1);
    assert_eq!(list[0]["logs"][0], log.display().to_string());

    for command in [
        &["--help"][..],
        &["import", "--help"],
        &["resume", "--help"],
    ] {
        let help = zdimport(h, command);
        assert_eq!(code(&help), 0);
        let text = stdout(&help);
        for line in [
            "Exit codes:",
            "  0  done",
            "  1  some rows not done",
            "  2  nothing could run",
        ] {
            assert!(text.contains(line), "{command:?}: {line:?}: {text}");
        }
    }
}

#[test]
fn report_writes_an_old_run_again_as_csv_or_json_to_stdout_or_a_file() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let out = sample_import(h, &["--yes", "--quiet"]);
    assert_eq!(code(&out), 1);
    assert!(!stderr(&out).contains("rows/s"), "--quiet: no progress");
    let run = json(&stdout(&zdimport(h, &["runs", "--json"])))[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let csv = zdimport(h, &["report", &run[..12]]);
    assert_eq!(code(&csv), 0, "{}", stderr(&csv));
    let first = std::fs::read_to_string(h.join("data/runs").join(&run).join("report.csv")).unwrap();
    assert_eq!(stdout(&csv), first, "the same report as the import wrote");
    assert!(stderr(&csv).is_empty(), "{}", stderr(&csv));

    let path = h.join("again.json");
    let written = zdimport(h, &["report", &run, "--out", path.to_str().unwrap()]);
    assert_eq!(code(&written), 0, "{}", stderr(&written));
    assert!(stdout(&written).is_empty());
    let list = json(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(list.as_array().unwrap().len(), 204);
    let again = zdimport(h, &["report", &run, "--out", path.to_str().unwrap()]);
    assert_eq!(code(&again), 2, "an existing file needs --force");
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    let json_out = zdimport(h, &["report", &run, "--format", "json"]);
    assert_eq!(json(&stdout(&json_out)), list);

    let missing = zdimport(h, &["report", "nope"]);
    assert_eq!(code(&missing), 2);
    assert!(stdout(&missing).is_empty());
    assert!(
        stderr(&missing).contains("no run 'nope'"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn the_invalid_row_policy_skips_blocks_or_includes_and_says_what_each_leaves_out() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let left_out = "skip leaves out 3 rows, block 204, include 2";

    let blocked = sample_import(h, &["--yes", "--invalid", "block", "--json"]);
    assert_eq!(code(&blocked), 2, "nothing could run");
    assert!(stdout(&blocked).is_empty(), "{}", stdout(&blocked));
    let err = stderr(&blocked);
    assert!(err.contains(left_out), "{err}");
    assert!(
        err.contains("--invalid block: 3 rows have errors, so nothing is sent"),
        "{err}"
    );
    assert!(!h.join("data/runs").exists(), "no run was made");

    let dry = sample_import(h, &["--dry-run", "--json", "--invalid", "include"]);
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    let plan = json(&stdout(&dry));
    assert_eq!(plan["dry_run"], true);
    assert_eq!(
        (plan["rows"].as_u64(), plan["to_send"].as_u64()),
        (Some(204), Some(202))
    );
    assert_eq!(plan["sent_despite_errors"], 1);
    assert_eq!(plan["left_out"]["block"], 204);

    let report = h.join("included.csv");
    let included = sample_import(
        h,
        &[
            "--yes",
            "--invalid",
            "include",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&included), 1);
    let err = stderr(&included);
    assert!(err.contains(left_out), "{err}");
    assert!(
        err.contains("202 to send in 8 requests (1 despite an error"),
        "{err}"
    );
    let mut reader = csv::Reader::from_path(&report).unwrap();
    let headers = reader.headers().unwrap().clone();
    let despite = headers.iter().position(|h| h == "sent_despite").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let marked: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter(|r| !r[despite].is_empty())
        .map(|r| (&r[0], &r[1], &r[despite]))
        .collect();
    assert_eq!(
        marked,
        [(
            "204",
            "failed",
            "E-mail: 'walter.broken(at)example.com' is not a valid email address"
        )],
        "Zendesk decided: it refused the address"
    );
    let error_cell = rows.iter().find(|r| &r[0] == "207").unwrap();
    assert_eq!(&error_cell[1], "skipped", "an error cell is never sent");
}

#[test]
fn zdimport_state_dir_holds_the_logs_when_set() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let csv = users_csv(h, 3);
    let state = h.join("state");
    let out = command(
        h,
        &[
            "import",
            csv.to_str().unwrap(),
            "--auto",
            "--sandbox",
            "--dry-run",
        ],
    )
    .env("ZDIMPORT_STATE_DIR", &state)
    .output()
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let logs: Vec<String> = std::fs::read_dir(state.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].starts_with("import-") && logs[0].ends_with(".log"),
        "{logs:?}"
    );
    assert!(
        !h.join("data/logs").exists(),
        "not beside the runs when the state dir is set"
    );
}

#[test]
fn small_defects_exit_codes_and_streams() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let csv = users_csv(h, 250);
    let csv = csv.to_str().unwrap();

    // 250 users: one round of 30 jobs, evened out into 10 requests of 25.
    let batch = zdimport(h, &["preview", csv, "--auto", "--batch", "11"]);
    assert_eq!(code(&batch), 2);
    assert!(stdout(&batch).is_empty(), "{}", stdout(&batch));
    assert!(
        stderr(&batch).contains("there is no request 11: ")
            && stderr(&batch).contains("sends 10 requests (1 to 10)"),
        "{}",
        stderr(&batch)
    );
    let last = zdimport(h, &["preview", csv, "--auto", "--batch", "10"]);
    assert_eq!(code(&last), 0, "{}", stderr(&last));
    assert!(stdout(&last).contains("Request 10 of 10 (rows 227-251)"));

    let header = zdimport(h, &["inspect", csv, "--header-row", "500"]);
    assert_eq!(code(&header), 2);
    assert!(
        stderr(&header).contains("header row 500 is outside the sheet (it has 251 rows)"),
        "{}",
        stderr(&header)
    );

    let cost = zdimport(
        h,
        &["plan", csv, "--auto", "--sandbox", "--cost-only", "--json"],
    );
    assert_eq!(code(&cost), 0, "{}", stderr(&cost));
    let doc = json(&stdout(&cost));
    assert_eq!(doc["users"], 250);
    assert!(doc["cost"]["requests"].as_u64().unwrap() > 0, "{doc}");
    assert!(
        stderr(&cost).contains("the plan looks up 250 users"),
        "{}",
        stderr(&cost)
    );
}

#[test]
fn a_closed_pipe_ends_inspect_quietly() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // Wide enough that inspect writes far more than a pipe holds (64 KiB): it is still
    // writing when the reader goes away.
    let path = h.join("wide.csv");
    let headers: Vec<String> = (0..3000)
        .map(|i| format!("A rather long column name {i}"))
        .collect();
    let row: Vec<String> = (0..3000).map(|i| format!("value number {i}")).collect();
    std::fs::write(&path, format!("{}\n{}\n", headers.join(","), row.join(","))).unwrap();
    let mut child = command(h, &["inspect", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // `| head -1`: the reader has its line and closes the pipe.
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("wide.csv"), "{first}");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn retry_and_resume_of_an_in_process_sandbox_run_say_what_is_possible() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let out = sample_import(h, &["--yes", "--json"]);
    assert_eq!(code(&out), 1);
    let run = json(&stdout(&out))["run"].as_str().unwrap().to_owned();

    // Its one failure (a new user with no name) was refused for its data: by default a
    // retry does not send it as it is.
    let nothing = zdimport(h, &["retry", &run, "--yes"]);
    assert_eq!(code(&nothing), 0, "{}", stderr(&nothing));
    assert!(stderr(&nothing).contains("--all-failures sends them"));

    let retry = zdimport(h, &["retry", &run, "--all-failures", "--yes"]);
    assert_eq!(code(&retry), 2);
    let err = stderr(&retry);
    assert!(!err.contains("no credentials"), "{err}");
    assert!(err.contains("went to an in-process sandbox"), "{err}");
    assert!(
        err.contains(&format!("`zdimport retry {run} --sandbox`")),
        "{err}"
    );

    let fields = fields_only_seed(h);
    let retry = rehearsed_retry(&run, fields.to_str().unwrap());
    let rehearsed = zdimport(h, &[&retry[..], &["--json"]].concat());
    assert_eq!(code(&rehearsed), 1, "{}", stderr(&rehearsed));
    let summary = json(&stdout(&rehearsed));
    assert_eq!(
        (summary["rows"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_ne!(summary["run"], run.as_str(), "a new run");

    let report = h.join("data/runs").join(&run).join("report.csv");
    std::fs::remove_file(&report).unwrap();
    let resume = zdimport(h, &["resume", &run]);
    assert_eq!(code(&resume), 1, "its rows are done, one failed");
    assert_eq!(report_rows(&report), 204, "the report is written again");
    let err = stderr(&resume);
    assert!(
        err.contains(&format!(
            "run {run} is finished, there is nothing to resume"
        )),
        "{err}"
    );
    assert!(!err.contains("resuming"), "{err}");
    assert!(stdout(&resume).is_empty());
}

/// A sandbox whose access tokens last 5 simulated seconds (0.1 s here): a run signed in with client
/// credentials renews its token on the way.
async fn short_token_sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        speed: 50.0,
        // 10 s of the sandbox's clock, a fifth of a second here: tokens expire during an
        // import, yet a request renewed after a 401 reaches the sandbox in time on a busy machine.
        token_ttl: Duration::from_secs(10),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_of_an_import_holds_no_token_secret_or_password() {
    let sandbox = short_token_sandbox().await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();
    let csv = users_csv(&h, 1500);
    let url = sandbox.url().to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = command(
            &h,
            &[
                "import",
                csv.to_str().unwrap(),
                "--auto",
                "--mode",
                "create",
                "--yes",
            ],
        );
        cmd.args(["--engine-speed", "50", "--log-level", "trace", "--json"])
            .env("ZENDESK_URL", &url)
            .env("ZENDESK_CLIENT_ID", SERVICE_CLIENT_ID)
            .env("ZENDESK_CLIENT_SECRET", "sandbox-client-secret");
        (cmd.output().unwrap(), h)
    })
    .await
    .unwrap();
    let (out, h) = out;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = json(&stdout(&out))["log"].as_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("access token renewed (client credentials)"),
        "{text}"
    );
    for secret in [
        "sandbox-client-secret",
        "Bearer",
        "access_token",
        "Authorization",
        "password",
    ] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
    // And with the legacy API token, base64 in a Basic header on the wire.
    let sandbox_url = sandbox.url().to_string();
    let email = sandbox.config().admin_email.clone();
    let out = tokio::task::spawn_blocking(move || {
        let csv = h.join("users.csv");
        let mut cmd = command(&h, &["import", csv.to_str().unwrap(), "--auto", "--yes"]);
        cmd.args(["--engine-speed", "50", "--log-level", "trace", "--json"])
            .env("ZENDESK_URL", &sandbox_url)
            .env("ZENDESK_EMAIL", &email)
            .env("ZENDESK_API_TOKEN", "sandbox-api-token");
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = json(&stdout(&out))["log"].as_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("POST /api/v2/users/create_or_update_many.json -> 200"),
        "{text}"
    );
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}/token:sandbox-api-token",
        sandbox.config().admin_email
    ));
    for secret in [
        "sandbox-api-token",
        basic.as_str(),
        "Basic ",
        "Authorization",
    ] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_says_what_the_import_waited_for_and_why() {
    // 6 requests a minute: the sandbox answers 429 with Retry-After long before 900 users
    // (9 bulk requests and their polls) are in.
    let sandbox = Sandbox::start(SandboxConfig {
        speed: 50.0,
        rate_limit: 6,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();
    let csv = users_csv(&h, 900);
    let url = sandbox.url().to_string();
    let email = sandbox.config().admin_email.clone();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = command(&h, &["import", csv.to_str().unwrap(), "--auto", "--yes"]);
        cmd.args(["--engine-speed", "50", "--json"])
            .env("ZENDESK_URL", &url)
            .env("ZENDESK_EMAIL", &email)
            .env("ZENDESK_API_TOKEN", "sandbox-api-token");
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("zdimport: waiting "),
        "plain wait lines on stderr: {err}"
    );
    let log = json(&stdout(&out))["log"].as_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&log).unwrap();
    let refused = text
        .lines()
        .find(|l| l.contains(" -> 429 in "))
        .unwrap_or_else(|| panic!("no 429 in the log:\n{text}"));
    assert!(
        refused.contains(" WARN ") && refused.contains(", Retry-After "),
        "{refused}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" WARN ") && l.contains(": rate limit (429)")),
        "{text}"
    );
}

/// A tmux server of our own, one window of 80x24 running `sh` in `home`.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(home: &Path) -> Tmux {
        let tmux = Tmux {
            socket: format!(
                "zdimport-everyday-{}-{}",
                std::process::id(),
                home.file_name().unwrap_or_default().to_string_lossy()
            ),
        };
        let shell = format!(
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} \
             ZDIMPORT_CONFIG_DIR={home}/config ZDIMPORT_DATA_DIR={home}/data PS1='$ ' sh",
            home = home.display(),
        );
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "p",
            "-x",
            "80",
            "-y",
            "24",
            "-c",
            &home.display().to_string(),
            &shell,
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is installed (.ci/run installs it)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "p"]).stdout).into_owned()
    }

    /// Waits until the screen shows `text`; fails with the screen when it does not.
    fn wait_for(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "waited for {text:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

#[test]
fn the_progress_bar_fits_80_columns_and_leaves_no_stale_line() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let fields = fields_only_seed(h);
    let tmux = Tmux::start(h);
    let line = format!(
        "{} import {SAMPLE} --profile {PROFILE} --sandbox --seed-users {}; echo \"exit $?\"",
        env!("CARGO_BIN_EXE_zdimport"),
        fields.display()
    );
    tmux.run(&["send-keys", "-t", "p", "-l", &line]);
    tmux.run(&["send-keys", "-t", "p", "Enter"]);
    let asked = tmux.wait_for("? [y/N]");
    assert_eq!(
        asked.matches("204 rows: 201 to send in 8 requests").count(),
        1,
        "the plan line once before the question:\n{asked}"
    );
    tmux.run(&["send-keys", "-t", "p", "y", "Enter"]);
    let screen = tmux.wait_for("exit 1");
    let bars: Vec<&str> = screen.lines().filter(|l| l.contains("rows/s")).collect();
    assert_eq!(bars.len(), 1, "one bar line, none left behind:\n{screen}");
    let bar = bars[0];
    assert!(bar.starts_with("204/204 rows "), "{bar}");
    assert!(
        bar.contains(" ETA ") && bar.contains("200 created"),
        "{bar}"
    );
    assert!(bar.chars().count() <= 80, "{bar}");
    assert!(screen.contains("zdimport: log in "), "{screen}");
}

/// The sample copied into `home` as `users.xlsx` and imported into the in-process sandbox:
/// the input's path and the finished run's id (one row failed).
fn imported_copy(home: &Path) -> (PathBuf, String) {
    let input = home.join("users.xlsx");
    std::fs::copy(SAMPLE, &input).unwrap();
    let fields = fields_only_seed(home);
    let out = zdimport(
        home,
        &[
            "import",
            input.to_str().unwrap(),
            "--profile",
            PROFILE,
            "--sandbox",
            "--seed-users",
            fields.to_str().unwrap(),
            "--yes",
            "--json",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let run = json(&stdout(&out))["run"].as_str().unwrap().to_owned();
    (input, run)
}

/// `retry RUN` of every failure into a new in-process sandbox seeded with `fields`, unasked.
fn rehearsed_retry<'a>(run: &'a str, fields: &'a str) -> [&'a str; 7] {
    [
        "retry",
        run,
        "--sandbox",
        "--seed-users",
        fields,
        "--all-failures",
        "--yes",
    ]
}

fn run_count(home: &Path) -> usize {
    std::fs::read_dir(home.join("data/runs")).unwrap().count()
}

/// `resume --report` and `retry --report` keep to what `import --report` keeps to: never the
/// input file, never an existing file without `--force`, checked before anything is sent.
#[test]
fn resume_and_retry_never_write_a_report_over_the_input_or_an_existing_file_without_force() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (input, run) = imported_copy(h);
    let original = std::fs::read(&input).unwrap();
    let existing = h.join("old.csv");
    let fields = fields_only_seed(h);
    let retry = rehearsed_retry(&run, fields.to_str().unwrap());
    for command in [&["resume", &run][..], &retry[..]] {
        let runs = run_count(h);
        let name = command[0];
        let to_input = [command, &["--report", input.to_str().unwrap(), "--force"]].concat();
        let out = zdimport(h, &to_input);
        assert_eq!(code(&out), 2, "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("is the input file"),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(&input).unwrap(),
            original,
            "{name}: input intact"
        );

        std::fs::write(&existing, "keep me").unwrap();
        let to_existing = [command, &["--report", existing.to_str().unwrap()]].concat();
        let out = zdimport(h, &to_existing);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{name}: {err}");
        assert!(
            err.contains("already exists") && err.contains("--force"),
            "{name}: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(&existing).unwrap(),
            "keep me",
            "{name}"
        );
        assert_eq!(run_count(h), runs, "{name}: no run was started");

        let forced = zdimport(h, &[&to_existing[..], &["--force"]].concat());
        assert_eq!(code(&forced), 1, "{name}: {}", stderr(&forced));
        let rows = if name == "resume" { 204 } else { 1 };
        assert_eq!(report_rows(&existing), rows, "{name}: the report replaced");
    }
}

/// On a terminal, an existing report is replaced only when the operator says yes.
#[test]
fn on_a_terminal_an_existing_report_is_replaced_only_after_a_yes() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (input, run) = imported_copy(h);
    let existing = h.join("old.csv");
    std::fs::write(&existing, "keep me").unwrap();
    let tmux = Tmux::start(h);
    let bin = env!("CARGO_BIN_EXE_zdimport");
    let fields = fields_only_seed(h);
    let import = format!(
        "{bin} import {} --profile {PROFILE} --sandbox --seed-users {} --report {}; echo \"exit $?\"",
        input.display(),
        fields.display(),
        existing.display()
    );
    let resume = format!(
        "clear; {bin} resume {run} --report {}; echo \"exit $?\"",
        existing.display()
    );
    let question = format!(
        "{} exists. Replace it with this run's report? [y/N]",
        existing.display()
    );
    for (line, answer, ends) in [
        (&import, "n", "exit 2"),
        (&resume, "n", "exit 2"),
        (&resume, "y", "exit 1"),
    ] {
        let runs = run_count(h);
        tmux.run(&["send-keys", "-t", "p", "-l", line]);
        tmux.run(&["send-keys", "-t", "p", "Enter"]);
        tmux.wait_for("[y/N]");
        let asked = tmux.screen().replace('\n', "");
        assert!(asked.contains(&question), "{asked}");
        tmux.run(&["send-keys", "-t", "p", answer, "Enter"]);
        let screen = tmux.wait_for(ends);
        if answer == "n" {
            assert!(screen.contains("nothing sent"), "{screen}");
            assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
        }
        assert_eq!(run_count(h), runs, "no new run");
        tmux.run(&["send-keys", "-t", "p", "clear", "Enter"]);
    }
    assert_eq!(report_rows(&existing), 204, "replaced after the yes");
}
