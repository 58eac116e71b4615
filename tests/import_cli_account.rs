//! A headless `zdimport import` that looks the users up first, as `plan` does: `--tags add`
//! keeps an existing user's tags and sends the row's with them, `--make-primary` makes a new
//! email the user's primary one. Against a sandbox served by the test, as a live account.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;
use zdimport::sandbox::{Sandbox, SandboxConfig, SandboxHandle};

async fn zdimport(home: &Path, sandbox: &SandboxHandle, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zdimport"));
    cmd.args(args)
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
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("zdimport ends within a minute")
        .expect("zdimport runs");
    eprintln!(
        "zdimport {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const SPEED: f64 = 50.0;

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        speed: SPEED,
        users: vec![
            json!({"name": "Ana", "email": "ana@x.com", "external_id": "E-0",
                   "tags": ["vip", "beta"]}),
            json!({"name": "Bo", "email": "bo.old@x.com", "external_id": "E-1",
                   "tags": ["gold"]}),
        ],
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

/// Ana gets a tag, Bo a new email and a tag, Cy is new.
fn sheet(dir: &Path) -> String {
    let path = dir.join("users.csv");
    std::fs::write(
        &path,
        "Name,Email,External ID,Tags\n\
         Ana,ana@x.com,E-0,newsletter\n\
         Bo,bo.new@x.com,E-1,newsletter\n\
         Cy,cy@x.com,E-2,newsletter\n",
    )
    .unwrap();
    path.display().to_string()
}

fn import_args<'a>(csv: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "import",
        csv,
        "--auto",
        "--mode",
        "upsert",
        "--yes",
        "--engine-speed",
        "50",
    ];
    args.extend(more);
    args
}

fn tags_of(sandbox: &SandboxHandle, external_id: &str) -> Vec<String> {
    let user = sandbox.user_by_external_id(external_id).unwrap();
    let mut tags: Vec<String> = user["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    tags.sort();
    tags
}

fn email_of(sandbox: &SandboxHandle, external_id: &str) -> Value {
    sandbox.user_by_external_id(external_id).unwrap()["email"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_add_keeps_the_held_tags_and_make_primary_moves_the_email() {
    let sandbox = sandbox().await;
    let home = tempfile::tempdir().unwrap();
    let csv = sheet(home.path());
    let args = import_args(&csv, &["--tags", "add", "--make-primary"]);
    let out = zdimport(home.path(), &sandbox, &args).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("Making 1 emails primary costs 2 more requests"),
        "the cost is said: {err}"
    );
    assert_eq!(tags_of(&sandbox, "E-0"), ["beta", "newsletter", "vip"]);
    assert_eq!(tags_of(&sandbox, "E-1"), ["gold", "newsletter"]);
    assert_eq!(tags_of(&sandbox, "E-2"), ["newsletter"]);
    assert_eq!(email_of(&sandbox, "E-1"), "bo.new@x.com");
    assert_eq!(email_of(&sandbox, "E-2"), "cy@x.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_tags_are_replaced_and_a_new_email_stays_secondary() {
    let sandbox = sandbox().await;
    let home = tempfile::tempdir().unwrap();
    let csv = sheet(home.path());
    let out = zdimport(home.path(), &sandbox, &import_args(&csv, &[])).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tags_of(&sandbox, "E-0"), ["newsletter"]);
    assert_eq!(tags_of(&sandbox, "E-1"), ["newsletter"]);
    assert_eq!(email_of(&sandbox, "E-1"), "bo.old@x.com");
}
