//! `zdimport plan` and `zdimport import` on a sheet with an Organizations column, against
//! `--sandbox` (issue 15, item 3): refused before anything is sent when the account allows one
//! organization per user; with the setting on, the plan counts the memberships it adds and the
//! import writes `report.memberships.csv` beside its report, and `report --memberships` writes
//! it again.

use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

fn zdimport(home: &Path, options: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zdimport"))
        .args(args)
        .env("ZDIMPORT_CONFIG_DIR", home.join("config"))
        .env("ZDIMPORT_DATA_DIR", home.join("data"))
        .env("ZDIMPORT_KEYRING", "memory")
        .env("ZDIMPORT_SANDBOX_OPTIONS", options)
        .output()
        .expect("run zdimport")
}

fn sheet(dir: &Path) -> String {
    let mut text = String::from("Name,Email,Organizations\n");
    for i in 0..6 {
        let orgs = if i < 4 { "Acme, Globex" } else { "Acme" };
        text.push_str(&format!("User {i},user{i}@example.com,\"{orgs}\"\n"));
    }
    let path = dir.join("members.csv");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn plan_refuses_with_the_setting_off_and_counts_memberships_with_it_on() {
    let home = TempDir::new().unwrap();
    let file = sheet(home.path());
    let args = ["plan", &file, "--auto", "--sandbox", "--yes"];
    let off = zdimport(home.path(), "", &args);
    let stderr = String::from_utf8_lossy(&off.stderr);
    assert_ne!(off.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "4 rows name more than one organization, but this account allows one organization \
             per user"
        ),
        "{stderr}"
    );
    let on = zdimport(home.path(), "multiple-organizations=on", &args);
    let stdout = String::from_utf8_lossy(&on.stdout);
    assert!(
        stdout.contains("Memberships added once the users exist: 4 (1 request:"),
        "{stdout}{}",
        String::from_utf8_lossy(&on.stderr)
    );
}

#[test]
fn import_writes_the_memberships_report_beside_its_report() {
    let home = TempDir::new().unwrap();
    let file = sheet(home.path());
    let report = home.path().join("out.csv");
    let report_arg = report.display().to_string();
    let args = [
        "import",
        &file,
        "--auto",
        "--sandbox",
        "--yes",
        "--report",
        &report_arg,
    ];
    let out = zdimport(home.path(), "multiple-organizations=on", &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("4 memberships: 4 added"), "{stderr}");
    let members = std::fs::read_to_string(home.path().join("out.memberships.csv")).unwrap();
    assert_eq!(members.lines().count(), 5, "{members}");
    assert!(
        members
            .lines()
            .skip(1)
            .all(|l| l.contains(",Globex,") && l.contains(",added,")),
        "{members}"
    );
    // Written again from the run folder, as the import wrote it.
    let run = stderr
        .split("zdimport: run ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the run's id: {stderr}"));
    let again = zdimport(home.path(), "", &["report", run, "--memberships"]);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert_eq!(String::from_utf8_lossy(&again.stdout), members);
    // To a file, as to stdout; a file there already is kept without --force.
    let out = home.path().join("again.csv");
    let out_arg = out.display().to_string();
    let to_file = ["report", run, "--memberships", "--out", &out_arg];
    assert_eq!(zdimport(home.path(), "", &to_file).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), members);
    std::fs::write(&out, "kept").unwrap();
    let refused = zdimport(home.path(), "", &to_file);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already exists"),
        "{refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "kept");
    let json = zdimport(
        home.path(),
        "",
        &["report", run, "--memberships", "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let list = json.as_array().expect("a list");
    assert_eq!(list.len(), 4, "{json}");
    assert!(list.iter().all(|m| m["outcome"] == "added"), "{json}");
    let rows = zdimport(
        home.path(),
        "",
        &["report", run, "--memberships", "--organizations"],
    );
    assert_ne!(rows.status.code(), Some(0), "one side report at a time");
}
