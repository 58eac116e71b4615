//! What an operator does after the first import, in the real binary in tmux: plan again and
//! go back to another file (still signed in), cancel and resume from Results, retry from the
//! corrected sheet and start a new import, and resume a killed run by typing the credentials
//! on Connect.

mod tmux;

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tmux::{Served, Tmux, kill_and_recover, launch_args, to_connect_in_create_mode};

/// A CSV of `rows` users; `no_name` rows have an email but no name (a new user needs one).
fn users_csv(dir: &Path, name: &str, rows: usize, no_name: &[usize]) -> PathBuf {
    let mut text = String::from("Name,Email,External ID\n");
    for i in 0..rows {
        let name = if no_name.contains(&i) {
            String::new()
        } else {
            format!("User {i}")
        };
        text.push_str(&format!("{name},user{i}@example.com,{}\n", 70_000 + i));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// On Connect (its focus on the test), types `jobs` into "Jobs at once".
fn set_jobs(tmux: &Tmux, jobs: &str) {
    // Keys typed while the screen is still being set up can be read before it takes them.
    std::thread::sleep(std::time::Duration::from_millis(300));
    tmux.keys(&["Up", "Up", "Up", "C-u"]);
    tmux.type_text(jobs);
    tmux.wait_until("the jobs typed", |s| {
        s.lines()
            .any(|l| l.contains("Jobs at once") && l.contains(&format!(" {jobs} ")))
    });
}

/// From Sheet to a running import on the in-process sandbox, with `jobs` at once and the
/// plan skipped (the rows as checked).
fn import_as_checked(tmux: &Tmux, ready: &str, jobs: &str) {
    tmux.wait_for("header on row 1");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Ready: n checks every row");
    tmux.keys(&["n"]);
    tmux.wait_for(ready);
    tmux.keys(&["n"]);
    tmux.wait_for("Request 1 of");
    tmux.keys(&["n"]);
    tmux.wait_for("Test the connection");
    set_jobs(tmux, jobs);
    tmux.keys(&["Down", "Down", "Down", "Enter"]);
    tmux.wait_for("Signed in as");
    tmux.keys(&["Enter"]);
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["s"]);
    tmux.wait_for("Start the import?");
    tmux.keys(&["y"]);
}

#[test]
fn after_an_import_esc_plans_again_and_goes_back_to_open_still_signed_in() {
    let home = TempDir::new().unwrap();
    let sheet = users_csv(home.path(), "first.csv", 30, &[]);
    users_csv(home.path(), "second.csv", 30, &[]);
    let tmux = Tmux::start("again", home.path());
    launch_args(&tmux, &format!("--sandbox {}", sheet.display()));
    import_as_checked(&tmux, "30 ready", "5");
    tmux.wait_for("FINISHED");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("filter: all");
    assert!(results.contains("30 created"), "{results}");
    // Esc: the account is checked again and the plan made again, after the import.
    tmux.keys(&["Escape"]);
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["Enter"]);
    let plan = tmux.wait_for("30 unchanged");
    assert!(
        plan.contains("0 new") && plan.contains("0 update"),
        "{plan}"
    );
    // Back through Connect (still signed in) to Map.
    tmux.keys(&["Escape"]);
    tmux.wait_for("Signed in as");
    tmux.press_each(&["Escape"; 3]);
    tmux.wait_for("columns mapped");
    // Forward again to Results, then o: another file, the account kept.
    tmux.keys(&["n"]);
    tmux.wait_for("30 ready");
    tmux.keys(&["n"]);
    tmux.wait_for("Request 1 of");
    tmux.keys(&["n"]);
    tmux.wait_for("Signed in as");
    tmux.keys(&["Enter"]);
    tmux.wait_for("The plan looks the users up");
    // Esc all the way: Connect, Preview, Check, Map, Sheet, and the file's folder.
    tmux.press_each(&["Escape"; 6]);
    tmux.wait_for("Open a worksheet");
    tmux.type_text("second");
    tmux.keys(&["Enter"]);
    tmux.wait_for("header on row 1");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Ready: n checks every row");
    tmux.keys(&["n"]);
    tmux.wait_for("30 ready");
    tmux.keys(&["n", "n"]);
    let connect = tmux.wait_for("Signed in as");
    assert!(connect.contains("Enter"), "{connect}");
    tmux.keys(&["q"]);
    tmux.wait_for("$");
}

#[test]
fn a_cancelled_run_shows_its_rows_not_sent_and_u_resumes_it() {
    let home = TempDir::new().unwrap();
    let sheet = users_csv(home.path(), "many.csv", 1500, &[]);
    let tmux = Tmux::start("cancel", home.path());
    launch_args(&tmux, &format!("--sandbox {}", sheet.display()));
    import_as_checked(&tmux, "1500 ready", "1");
    tmux.wait_for("request 2 sent");
    tmux.keys(&["c"]);
    tmux.wait_for("CANCELLED");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("rows not sent: u resumes the run");
    assert!(results.contains("not sent"), "{results}");
    for _ in 0..3 {
        tmux.keys(&["f"]);
    }
    let filtered = tmux.wait_for("filter: not_sent");
    assert!(filtered.contains("not sent: resuming"), "{filtered}");
    tmux.keys(&["u"]);
    let run = tmux.wait_for("FINISHED");
    assert!(run.contains("1500 of 1500 rows finished"), "{run}");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("filter: all");
    assert!(
        results.contains("1500 created") && results.contains("0 failed"),
        "{results}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("$");
}

#[test]
fn a_failure_fixed_in_the_sheet_is_retried_from_the_corrected_sheet() {
    let home = TempDir::new().unwrap();
    let sheet = users_csv(home.path(), "team.csv", 12, &[4]);
    let tmux = Tmux::start("corrected", home.path());
    launch_args(&tmux, &format!("--sandbox {}", sheet.display()));
    import_as_checked(&tmux, "12 of 12 rows sent", "5");
    tmux.wait_for("FINISHED");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("filter: all");
    assert!(
        results.contains("11 created") && results.contains("1 failed"),
        "{results}"
    );
    // The operator adds the missing name, then asks for a retry.
    users_csv(home.path(), "team.csv", 12, &[]);
    tmux.keys(&["r"]);
    let question = tmux.wait_for("Retry?");
    assert!(question.contains("1 failed for their data"), "{question}");
    tmux.keys(&["c"]);
    let check = tmux.wait_for("1 of 1 rows sent");
    assert!(
        check.contains("1 ready"),
        "only the failed row, named now: {check}"
    );
    tmux.keys(&["n"]);
    tmux.wait_for("Request 1 of 1");
    tmux.keys(&["n"]);
    tmux.wait_for("Signed in as");
    tmux.keys(&["Enter"]);
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["Enter"]);
    let plan = tmux.wait_for("1 new");
    assert!(plan.contains("0 update"), "{plan}");
    tmux.keys(&["n"]);
    let ask = tmux.wait_for("Start the import?");
    assert!(ask.contains("Send 1 users in 1 requests"), "{ask}");
    tmux.keys(&["y"]);
    tmux.wait_for("FINISHED");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("filter: all");
    assert!(
        results.contains("1 created") && results.contains("0 failed"),
        "{results}"
    );
    // o: another import, from the file browser.
    tmux.keys(&["o"]);
    let open = tmux.wait_for("Open a worksheet");
    assert!(open.contains("team.csv"), "{open}");
    tmux.keys(&["q"]);
    tmux.wait_for("$");
}

#[test]
fn a_killed_run_resumes_with_credentials_typed_on_connect() {
    let home = TempDir::new().unwrap();
    let sheet = users_csv(home.path(), "many.csv", 1000, &[]);
    let served = Served::start();
    let (url, email, token) = (&served.url, &served.email, &served.token);
    let env = served.oauth_env();
    let tmux = Tmux::start_with("typed", home.path(), &env);
    launch_args(&tmux, sheet.to_str().unwrap());
    to_connect_in_create_mode(&tmux, "1000 ready", "Request 1 of 10");
    tmux.keys(&[
        "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Down",
    ]);
    set_jobs(&tmux, "1");
    tmux.keys(&["Down", "Down", "Down", "Enter"]);
    tmux.wait_for("Signed in as");
    tmux.keys(&["Enter"]);
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["s"]);
    tmux.wait_for("Start the import?");
    tmux.keys(&["y"]);
    tmux.wait_for("request 3 sent");
    // No credentials this time: the operator types them.
    kill_and_recover(
        &tmux,
        "unset ZENDESK_URL ZENDESK_CLIENT_ID ZENDESK_CLIENT_SECRET",
    );
    launch_args(&tmux, "");
    tmux.wait_for("resume");
    tmux.keys(&["Home", "Enter"]);
    let connect = tmux.wait_for("Sign in to the run's account to resume run");
    assert!(
        connect.contains(url.trim_start_matches("http://")),
        "{connect}"
    );
    // Sign in: an API token, typed.
    std::thread::sleep(std::time::Duration::from_millis(300));
    tmux.keys(&["Up", "Up", "Up", "Up", "Up", "Up", "Up", "Up", "Up"]);
    tmux.keys(&["Down", "Right", "Right", "Down", "Down"]);
    tmux.wait_for("API token");
    tmux.type_text(email);
    tmux.keys(&["Down"]);
    tmux.type_text(token);
    tmux.keys(&["Down", "Down", "Down", "Down", "Down", "Enter"]);
    tmux.wait_for("Signed in as");
    tmux.keys(&["Enter"]);
    let run = tmux.wait_for("FINISHED");
    assert!(run.contains("1000 of 1000 rows finished"), "{run}");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("filter: all");
    assert!(
        results.contains("0 failed") && results.contains("0 unknown"),
        "{results}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("$");
}
