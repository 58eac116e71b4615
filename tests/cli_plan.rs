//! `zdimport plan` and `zdimport validate --account` on the sample, against `--sandbox`
//! seeded with the sample's account (`assets/sandbox_seed.json`).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/users_sample.xlsx");
const PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/sample_profile.json");
const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/sandbox_seed.json");

fn zdimport(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zdimport"))
        .args(args)
        .env("ZDIMPORT_CONFIG_DIR", home.join("config"))
        .env("ZDIMPORT_DATA_DIR", home.join("data"))
        .env("ZDIMPORT_KEYRING", "memory")
        .output()
        .expect("run zdimport")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

fn plan(extra: &[&str]) -> Output {
    let home = TempDir::new().unwrap();
    let mut args = vec!["plan", SAMPLE, "--profile", PROFILE, "--sandbox"];
    args.extend_from_slice(&["--seed-users", SEED]);
    args.extend_from_slice(extra);
    zdimport(home.path(), &args)
}

#[test]
fn plan_lists_updates_with_their_changes_and_counts_every_row() {
    let out = plan(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "row 5      update     bruno.silva@example.com (user 360000000008)\n                  \
             user_fields.plan: \"bronze\" → \"silver\"\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("row 205    would_fail no.name@example.com: a new user without a name")
    );
    assert!(stdout.contains(
        "Organizations not in the account, created first (3; 1 request \
         (organizations/create_many, 100 a call, a job each) before any user), their users sent \
         with the ids they get: Initech, Stark Retail, Umbrella Health"
    ));
    assert!(stdout.ends_with(
        "204 rows: 197 new, 2 update, 1 unchanged, 0 conflict, 1 would fail, 0 left out, \
         3 invalid\n"
    ));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the plan looks up 201 users and 5 organizations in 4 requests"),
        "{stderr}"
    );
    assert!(!stderr.contains("sandbox-api-token"), "no secret printed");
}

#[test]
fn plan_json_lists_every_row_with_its_action() {
    let out = plan(&["--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 204);
    let counts = &doc["counts"];
    let sum: u64 = [
        "new",
        "update",
        "unchanged",
        "conflict",
        "would_fail",
        "left_out",
        "invalid",
    ]
    .iter()
    .map(|k| counts[k].as_u64().unwrap())
    .sum();
    assert_eq!(sum, 204);
    assert_eq!(counts["total"], 204);
    let row5 = rows.iter().find(|r| r["row"] == 5).unwrap();
    assert_eq!(row5["action"], "update");
    assert_eq!(row5["changes"][1]["field"], "user_fields.renewal_date");
    assert_eq!(row5["changes"][1]["old"], "2026-02-02");
    assert_eq!(row5["changes"][1]["new"], "2027-02-02");
    assert_eq!(rows[0]["action"], "unchanged");
}

#[test]
fn cost_only_says_what_the_lookups_cost_and_stops() {
    let out = plan(&["--cost-only"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains(
        "the plan looks up 201 users and 5 organizations in 4 requests (at most 215), under a \
         minute at 700 requests/minute"
    ));
}

#[test]
fn validate_against_the_account_converts_and_names_missing_fields() {
    let home = TempDir::new().unwrap();
    let base = [
        "validate",
        SAMPLE,
        "--profile",
        PROFILE,
        "--account",
        "--sandbox",
    ];
    let out = zdimport(home.path(), &base);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(
        "'Plan' (H) maps to user_fields.plan, which the account does not have (it has no \
         custom user fields)"
    ));
    let mut seeded = base.to_vec();
    seeded.extend_from_slice(&["--seed-users", SEED]);
    let out = zdimport(home.path(), &seeded);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains(
        "row 207, Plan (H207): error: 'Platinum' is not an option of field plan; closest: \
         Gold plan (gold), Bronze plan (bronze), Silver plan (silver)"
    ));
}

#[test]
fn preview_against_the_account_sends_option_values_and_numbers() {
    let home = TempDir::new().unwrap();
    let args = [
        "preview",
        SAMPLE,
        "--profile",
        PROFILE,
        "--jsonl",
        "--sandbox",
        "--seed-users",
        SEED,
    ];
    let out = zdimport(home.path(), &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The organizations the account lacks come first (created before the users).
    let stdout = text(&out.stdout);
    let first_users = stdout.lines().find(|l| l.contains("/users/")).unwrap();
    let first: Value = serde_json::from_str(first_users).unwrap();
    let fields = &first["body"]["users"][0]["user_fields"];
    assert_eq!(fields["plan"], "gold");
    assert_eq!(fields["seats"], 1, "an integer field gets a number");
    assert_eq!(fields["renewal_date"], "2027-01-01");
}

#[test]
fn a_plan_longer_than_a_part_prints_every_row_once_in_sheet_order() {
    // 4,500 users: three parts of the plan; every 997th row's email is refused by the check,
    // so rows with an error fall before, inside and between the parts.
    let home = TempDir::new().unwrap();
    let csv = home.path().join("long.csv");
    let mut text_in = String::from("Name,Email,External ID\n");
    let mut invalid = Vec::new();
    for i in 0..4_500u32 {
        let row = i + 2;
        let email = if i % 997 == 0 {
            invalid.push(u64::from(row));
            format!("user{i}-at-example.com")
        } else {
            format!("user{i}@example.com")
        };
        text_in.push_str(&format!("User {i},{email},x-{i}\n"));
    }
    std::fs::write(&csv, text_in).unwrap();
    let csv = csv.to_str().unwrap();
    let args = ["plan", csv, "--auto", "--sandbox", "--yes"];
    let out = zdimport(home.path(), &[&args[..], &["--json"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = doc["rows"].as_array().unwrap();
    let order: Vec<u64> = rows.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    assert_eq!(order, (2..4_502).collect::<Vec<u64>>());
    let refused: Vec<u64> = rows
        .iter()
        .filter(|r| r["action"] == "invalid")
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(refused, invalid);
    assert_eq!(doc["counts"]["new"], 4_500 - invalid.len());
    assert_eq!(doc["counts"]["total"], 4_500);

    let out = zdimport(home.path(), &args);
    let stdout = text(&out.stdout);
    let listed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("row ")).collect();
    assert_eq!(listed.len(), invalid.len(), "{stdout}");
    for (line, row) in listed.iter().zip(&invalid) {
        assert!(
            line.starts_with(&format!("row {row:<6} invalid    ")),
            "{line}"
        );
    }
    assert!(stdout.ends_with(&format!(
        "4500 rows: {} new, 0 update, 0 unchanged, 0 conflict, 0 would fail, 0 left out, {} \
         invalid\n",
        4_500 - invalid.len(),
        invalid.len()
    )));
}
