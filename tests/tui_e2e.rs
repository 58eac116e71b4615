//! The real binary in a real terminal (tmux), driven as an operator would: open the sample,
//! pick the sheet, map, save a profile, check, preview, quit; then again, with the profile
//! offered. `.ci/run` installs tmux.

mod tmux;

use std::process::Command;

use tempfile::TempDir;
use tmux::{
    Served, Tmux, assert_shell_usable, child_pid, kill_and_recover, launch, launch_args,
    to_connect_in_create_mode,
};

#[test]
fn an_operator_maps_checks_previews_and_the_profile_is_offered_next_time() {
    let home = TempDir::new().unwrap();
    let tmux = Tmux::start("flow", home.path());
    launch(&tmux);

    // Sheet: the title row is passed over, the header found on row 3.
    let sheet = tmux.wait_for("header on row 3");
    assert!(
        sheet.contains("Customers") && sheet.contains("207×13"),
        "{sheet}"
    );
    tmux.keys(&["Enter"]);

    // Map: automatic matching; Plan, Renewal Date and Seats become custom fields.
    let map = tmux.wait_for("Ready: n checks every row");
    assert!(map.contains("10 of 13 columns mapped"), "{map}");
    assert!(map.contains("E-mail") && map.contains("alias"), "{map}");
    tmux.keys(&["Down"; 7]);
    tmux.keys(&["c", "Enter", "Down", "c", "Enter", "Down", "c", "Enter"]);
    let map = tmux.wait_for("13 of 13 columns mapped");
    assert!(map.contains("user_fields.renewal_date"), "{map}");
    tmux.keys(&["s"]);
    tmux.wait_for("Save mapping as profile");
    tmux.type_text("monthly crm");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Saved profile");
    assert!(
        home.path()
            .join("config/profiles/monthly crm.json")
            .is_file()
    );

    // Check: the counts and the problems of the sample's bad rows.
    tmux.keys(&["n"]);
    // The sample's phones lost their + (no phone region set here): each is a warning.
    let check = tmux.wait_for("201 with warnings");
    assert!(
        check.contains("0 ready") && check.contains("3 with errors"),
        "{check}"
    );
    assert!(check.contains("cannot be written as E.164"), "{check}");
    tmux.keys(&["f"]);
    let errors = tmux.wait_for("filter: errors");
    assert!(errors.contains("'superuser' is not a role"), "{errors}");

    // Preview: the first request, then the one holding row 205. 201 users are one round of
    // the 10 jobs Connect offers, evened out: 8 requests of 25 or 26.
    tmux.keys(&["n"]);
    let preview = tmux.wait_for("Request 1 of 8");
    assert!(
        preview.contains("/api/v2/users/create_or_update_many"),
        "{preview}"
    );
    tmux.keys(&["g"]);
    tmux.type_text("205");
    tmux.keys(&["Enter"]);
    let preview = tmux.wait_for("Request 8 of 8");
    assert!(preview.contains("no.name@example.com"), "{preview}");

    // Quit: the profile is saved, so no question; the shell works again afterwards.
    tmux.keys(&["q"]);
    tmux.wait_for("$");
    tmux.type_text(
        "echo shell-is-back-$((20+22)); stty -a | grep -o -- '-*icanon'; echo end-$((1+1))",
    );
    tmux.keys(&["Enter"]);
    let shell = tmux.wait_for("end-2");
    assert!(shell.contains("shell-is-back-42"), "{shell}");
    assert!(
        !shell.contains("Request 8 of 8"),
        "the alternate screen is left:\n{shell}"
    );
    assert!(
        shell.lines().any(|l| l.trim() == "icanon"),
        "the terminal is back in cooked mode:\n{shell}"
    );

    // Next time the saved profile is offered for the same sheet.
    tmux.type_text("clear");
    tmux.keys(&["Enter"]);
    launch(&tmux);
    tmux.wait_for("header on row 3");
    tmux.keys(&["Enter"]);
    let offer = tmux.wait_for("Saved profile 'monthly crm' fits this sheet");
    assert!(offer.contains("13 of its 13"), "{offer}");
    tmux.keys(&["y"]);
    tmux.wait_for("profile 'monthly crm'");
    tmux.keys(&["q"]);
    tmux.wait_for("$");
}

#[test]
fn sigterm_restores_the_terminal() {
    let home = TempDir::new().unwrap();
    let tmux = Tmux::start("term", home.path());
    launch(&tmux);
    tmux.wait_for("header on row 3");
    let pid = child_pid(&tmux);
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_shell_usable(&tmux, "header on row 3");
}

/// From the sheet to the Results of a finished import on the built-in sandbox, then export
/// and retry the failure.
#[test]
fn a_whole_import_on_the_sandbox_with_results_export_and_retry() {
    let home = TempDir::new().unwrap();
    let tmux = Tmux::start("sandbox", home.path());
    launch_args(&tmux, "--sandbox assets/users_sample.xlsx");
    tmux.wait_for("header on row 3");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Ready: n checks every row");
    tmux.keys(&["n"]);
    tmux.wait_for("201 with warnings");
    tmux.keys(&["n"]);
    tmux.wait_for("Request 1 of 8");
    tmux.keys(&["n"]);
    tmux.wait_for("The built-in sandbox");
    // The phones are German numbers whose + was lost: the region makes them E.164.
    tmux.keys(&["Up"]);
    tmux.type_text("de");
    tmux.wait_for("phones without + are read in this country");
    tmux.keys(&["Down", "Enter"]);
    tmux.wait_for("Signed in as Sandbox Admin");
    tmux.keys(&["n"]);
    // The plan is offered with its cost; this operator imports as checked.
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["s"]);
    let ask = tmux.wait_for("Start the import?");
    assert!(ask.contains("Send 201 users in 8 requests"), "{ask}");
    tmux.keys(&["y"]);
    let run = tmux.wait_for("FINISHED");
    assert!(run.contains("204 of 204 rows finished"), "{run}");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("filter: all");
    // 200 created; the row with no name fails in Zendesk (a new user needs one); 3 skipped.
    assert!(
        results.contains("200 created") && results.contains("1 failed"),
        "{results}"
    );
    assert!(
        results.contains("3 skipped") && results.contains("0 unknown"),
        "{results}"
    );
    tmux.keys(&["f"]);
    let failed = tmux.wait_for("filter: failed");
    assert!(failed.contains("no.name@example.com"), "{failed}");
    tmux.keys(&["e"]);
    tmux.wait_for("Export to");
    tmux.keys(&["Enter"]);
    let exported = tmux.wait_for("Exported to");
    let path = exported
        .lines()
        .find_map(|l| l.trim().strip_prefix("Exported to "))
        .expect("the export path")
        .to_owned();
    let csv = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        csv.lines().count(),
        2,
        "a header and the row the filter shows"
    );
    // A retry says what it would send: the failure was refused for its data, so only `a`
    // (send it as it is) or `c` (the corrected sheet) sends it.
    tmux.keys(&["r"]);
    let question = tmux.wait_for("Retry?");
    assert!(question.contains("1 failed for their data"), "{question}");
    tmux.keys(&["a"]);
    let retry = tmux.wait_for("1 of 1 rows finished");
    assert!(retry.contains("FINISHED"), "{retry}");
    tmux.keys(&["q"]);
    assert_shell_usable(&tmux, "FINISHED");
}

/// A run killed with SIGKILL goes on from the start screen and ends with every row created
/// once: a user sent twice would fail as a duplicate instead.
#[test]
fn a_killed_run_resumes_from_the_start_screen_without_duplicates() {
    let home = TempDir::new().unwrap();
    let sheet = home.path().join("many.csv");
    let mut text = String::from("Name,Email,External ID\n");
    for i in 0..1000 {
        text.push_str(&format!("User {i},user{i}@example.com,{}\n", 50_000 + i));
    }
    std::fs::write(&sheet, text).unwrap();
    let served = Served::start();
    let env = served.oauth_env();
    let tmux = Tmux::start_with("resume", home.path(), &env);
    launch_args(&tmux, sheet.to_str().unwrap());
    to_connect_in_create_mode(&tmux, "1000 ready", "Request 1 of 10");
    // One job at a time, so that the kill lands in the middle of the run.
    tmux.keys(&["Up", "Up", "BSpace", "BSpace"]);
    tmux.type_text("1");
    tmux.keys(&["Down", "Down", "Enter"]);
    tmux.wait_for("Signed in as");
    tmux.keys(&["n"]);
    // The plan looks the 1000 users up first: all new.
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["Enter"]);
    let plan = tmux.wait_for("1000 new");
    assert!(plan.contains("0 would fail"), "{plan}");
    tmux.keys(&["n"]);
    tmux.wait_for("Start the import?");
    tmux.keys(&["y"]);
    tmux.wait_for("request 3 sent");
    kill_and_recover(&tmux, "");
    launch_args(&tmux, "");
    let start = tmux.wait_for("resume");
    assert!(start.contains("many.csv"), "{start}");
    tmux.keys(&["Home", "Enter"]);
    let run = tmux.wait_for("FINISHED");
    assert!(run.contains("1000 of 1000 rows finished"), "{run}");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("filter: all");
    assert!(
        results.contains("1000 created") && results.contains("0 failed"),
        "{results}"
    );
    assert!(results.contains("0 unknown"), "{results}");
    tmux.keys(&["q"]);
    tmux.wait_for("$");
}
