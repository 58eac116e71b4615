//! `zdimport import --missing-orgs` as a process against a sandbox on loopback: existing
//! organizations (named in any case, with spaces around) are sent by id, missing ones as the
//! policy says (created first and sent by the new id, dropped, or their rows not sent), and
//! every row ends in one state.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;
use zdimport::sandbox::{Sandbox, SandboxConfig, SandboxHandle};

async fn sandbox() -> SandboxHandle {
    let config = SandboxConfig {
        speed: 50.0,
        organizations: vec!["Acme Corp".into(), "Globex".into()],
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.unwrap()
}

/// Rows 2–7: two users of each held organization (other case, spaces), two of a missing one.
fn users_csv(dir: &Path) -> String {
    let path = dir.join("users.csv");
    let orgs = [
        "acme corp",
        " GLOBEX ",
        "Acme Corp",
        "Globex",
        "Initech",
        "initech",
    ];
    let mut text = String::from("name,email,organization\n");
    for (i, org) in orgs.iter().enumerate() {
        text.push_str(&format!("User {i},user{i}@example.com,{org}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn import(home: &Path, sandbox: &SandboxHandle, policy: &str) -> (i32, String) {
    let csv = users_csv(home);
    let report = home.join(format!("{policy}.csv"));
    let args = [
        "import",
        &csv,
        "--auto",
        "--mode",
        "create",
        "--missing-orgs",
        policy,
        "--yes",
        "--engine-speed",
        "50",
        "--report",
        report.to_str().unwrap(),
    ];
    zdimport(home, sandbox, &args).await
}

/// `zdimport args` signed in to `sandbox` with an API token, its folders under `home`.
fn command(home: &Path, sandbox: &SandboxHandle, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zdimport"));
    command
        .args(args)
        .env("ZDIMPORT_CONFIG_DIR", home.join("config"))
        .env("ZDIMPORT_DATA_DIR", home.join("data"))
        .env("ZDIMPORT_KEYRING", "memory")
        .env_remove("ZENDESK_OAUTH_TOKEN")
        .env_remove("ZENDESK_CLIENT_ID")
        .env_remove("ZENDESK_SUBDOMAIN")
        .env("ZENDESK_URL", sandbox.url().as_str())
        .env("ZENDESK_EMAIL", &sandbox.config().admin_email)
        .env("ZENDESK_API_TOKEN", "sandbox-api-token")
        .kill_on_drop(true);
    command
}

async fn zdimport(home: &Path, sandbox: &SandboxHandle, args: &[&str]) -> (i32, String) {
    let out = command(home, sandbox, args).output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("zdimport ends within a minute")
        .expect("zdimport runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// Outcome and details per row of a report.
fn report(path: &Path) -> HashMap<u32, (String, String)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), (r[1].to_owned(), r[7].to_owned()))
        })
        .collect()
}

fn organization_of(sandbox: &SandboxHandle, email: &str) -> Value {
    sandbox
        .user_by_email(email)
        .map_or(Value::Null, |u| u["organization_id"].clone())
}

fn org_id(sandbox: &SandboxHandle, name: &str) -> Value {
    let orgs = sandbox.organizations();
    orgs.iter().find(|o| o["name"] == name).unwrap()["id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_sends_existing_organizations_by_id() {
    for policy in ["create", "skip-field", "fail"] {
        let sandbox = sandbox().await;
        let home = tempfile::tempdir().unwrap();
        let (code, stderr) = import(home.path(), &sandbox, policy).await;
        let (acme, globex) = (org_id(&sandbox, "Acme Corp"), org_id(&sandbox, "Globex"));
        for (i, want) in [&acme, &globex, &acme, &globex].into_iter().enumerate() {
            let email = format!("user{i}@example.com");
            assert_eq!(
                &organization_of(&sandbox, &email),
                want,
                "{policy} user {i}"
            );
        }
        let rows = report(&home.path().join(format!("{policy}.csv")));
        assert_eq!(rows.len(), 6, "{policy}: every row once");
        for row in 2..=5 {
            assert_eq!(rows[&row].0, "created", "{policy} row {row}");
        }
        match policy {
            "fail" => {
                assert_eq!(code, 1, "{stderr}");
                for row in [6, 7] {
                    let (outcome, details) = &rows[&row];
                    assert_eq!(outcome, "skipped");
                    assert!(
                        details.contains("organization 'Initech' is not in the account")
                            || details.contains("organization 'initech' is not in the account"),
                        "{details}"
                    );
                }
                assert!(sandbox.user_by_email("user4@example.com").is_none());
                assert!(
                    stderr.contains("rows 6, 7 not sent (--missing-orgs fail)"),
                    "{stderr}"
                );
            }
            "create" => {
                assert_eq!(code, 0, "{stderr}");
                assert!(
                    stderr.contains("1 organizations the account lacks created first: 1 request"),
                    "{stderr}"
                );
                let initech = org_id(&sandbox, "Initech");
                for (row, email) in [(6, "user4@example.com"), (7, "user5@example.com")] {
                    assert_eq!(rows[&row].0, "created");
                    assert_eq!(organization_of(&sandbox, email), initech, "row {row}");
                }
                let orgs = home.path().join("create.organizations.csv");
                let text = std::fs::read_to_string(&orgs).unwrap();
                let line = text.lines().nth(1).unwrap();
                let id = initech.as_u64().unwrap();
                assert!(
                    line.starts_with(&format!("Initech,created,{id},2,")),
                    "{text}"
                );
                assert_eq!(text.lines().count(), 2, "{text}");
            }
            _ => {
                assert_eq!(code, 0, "{policy}: {stderr}");
                assert_eq!(rows[&6].0, "created");
                assert_eq!(organization_of(&sandbox, "user4@example.com"), Value::Null);
                assert!(
                    stderr.contains("rows 6, 7 sent without an organization"),
                    "{stderr}"
                );
            }
        }
        let created = usize::from(policy == "create");
        assert_eq!(
            sandbox.organizations().len(),
            2 + created,
            "{policy}: created only with create"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_profile_keeps_the_organization_policy_and_make_primary() {
    let sandbox = sandbox().await;
    let admins = sandbox.users().len();
    let home = tempfile::tempdir().unwrap();
    let csv = users_csv(home.path());
    let args = [
        "import",
        &csv,
        "--auto",
        "--missing-orgs",
        "skip-field",
        "--make-primary",
        "--save-profile",
        "choices",
        "--dry-run",
    ];
    let (code, stderr) = zdimport(home.path(), &sandbox, &args).await;
    assert_eq!(code, 0, "{stderr}");
    let path = home.path().join("config/profiles/choices.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["options"]["missing_orgs"], "skip-field", "{text}");
    assert_eq!(saved["options"]["make_primary"], true, "{text}");
    // Saved again from that profile, with no choice on the command line: kept.
    let args = [
        "import",
        &csv,
        "--profile",
        "choices",
        "--save-profile",
        "again",
        "--dry-run",
    ];
    let (code, stderr) = zdimport(home.path(), &sandbox, &args).await;
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(home.path().join("config/profiles/again.json")).unwrap();
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["options"]["missing_orgs"], "skip-field", "{text}");
    assert_eq!(saved["options"]["make_primary"], true, "{text}");
    assert_eq!(sandbox.users().len(), admins, "a dry run sends nothing");
    assert_eq!(sandbox.organizations().len(), 2, "nor creates anything");
}

/// The `zdimport` process's stdout, for commands that print there.
async fn stdout_of(home: &Path, sandbox: &SandboxHandle, args: &[&str]) -> String {
    let out = command(home, sandbox, args)
        .output()
        .await
        .expect("zdimport runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_with_the_account_shows_ids_and_the_organizations_created_first() {
    let sandbox = sandbox().await;
    let home = tempfile::tempdir().unwrap();
    let csv = users_csv(home.path());
    let args = ["preview", &csv, "--auto", "--account", "--jsonl"];
    let text = stdout_of(home.path(), &sandbox, &args).await;
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["path"], "/api/v2/organizations/create_many.json");
    assert_eq!(
        lines[0]["body"],
        serde_json::json!({"organizations": [{"name": "Initech"}]})
    );
    let users = lines[1]["body"]["users"].as_array().unwrap();
    let (acme, globex) = (org_id(&sandbox, "Acme Corp"), org_id(&sandbox, "Globex"));
    for (i, want) in [&acme, &globex, &acme, &globex].into_iter().enumerate() {
        assert_eq!(&users[i]["organization_id"], want, "user {i}");
        assert!(users[i].get("organization").is_none(), "user {i}");
    }
    assert_eq!(users[4]["organization"]["name"], "Initech");
    assert_eq!(
        sandbox.organizations().len(),
        2,
        "a preview creates nothing"
    );
}
