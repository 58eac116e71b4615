//! `zdimport doctor` against the sandbox: each probe reads the account and says what it found,
//! and nothing is written.

mod common;

use serde_json::json;
use zdimport::doctor::{self, Verdict};
use zdimport::sandbox::{Sandbox, SandboxConfig};

#[tokio::test]
async fn a_healthy_account_reads_as_expected_and_nothing_is_written() {
    let fields = (0..130)
        .map(|i| {
            json!({"key": format!("f{i}"), "type": if i % 2 == 0 { "text" } else { "dropdown" },
            "title": format!("F{i}"), "custom_field_options": []})
        })
        .collect();
    let sandbox = Sandbox::start(SandboxConfig {
        user_fields: fields,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = common::client(&sandbox);
    let report = doctor::probe(&client).await;
    let check = |topic: &str| report.get(topic).unwrap_or_else(|| panic!("{topic}"));
    assert_eq!(check("Sign-in").verdict, Verdict::Ok);
    assert!(check("Sign-in").found.contains("role admin"));
    assert_eq!(check("Bulk import rights").verdict, Verdict::Ok);
    assert!(check("users/search answer").found.contains("`users`"));
    assert!(
        check("Custom user fields").found.starts_with("130 fields"),
        "{:?}",
        check("Custom user fields")
    );
    assert!(check("Rate limit (users/me)").found.contains("700"));
    assert!(!report.has_failures(), "{report:#?}");
    let written = sandbox
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(written, 0, "doctor only reads");
}

#[tokio::test]
async fn bad_credentials_are_a_failed_sign_in() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = zdimport::zendesk::Client::new(zdimport::zendesk::ClientConfig::new(
        sandbox.url().clone(),
        zdimport::zendesk::Credentials::Bearer(zdimport::zendesk::Secret::new("wrong")),
    ))
    .unwrap();
    let report = doctor::probe(&client).await;
    let sign_in = report.get("Sign-in").unwrap();
    assert_eq!(sign_in.verdict, Verdict::Fail);
    assert!(sign_in.found.contains("401"), "{}", sign_in.found);
    assert!(report.has_failures());
}

#[tokio::test]
async fn oauth_credentials_are_refreshed_once_to_prove_the_refresh_works() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let var = |k: &str| match k {
        "ZENDESK_CLIENT_ID" => Some(zdimport::sandbox::SERVICE_CLIENT_ID.to_owned()),
        "ZENDESK_CLIENT_SECRET" => Some("sandbox-client-secret".to_owned()),
        _ => None,
    };
    let (client, _) = zdimport::zendesk::connect(
        Some(sandbox.url().as_str()),
        None,
        var,
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    let issued = sandbox.tokens_issued();
    let report = doctor::probe(&client).await;
    let check = report.get("Credentials").unwrap();
    assert_eq!(check.verdict, Verdict::Ok, "{check:?}");
    assert!(check.found.contains("refresh just worked"));
    assert_eq!(sandbox.tokens_issued(), issued + 1, "one renewal");
}

#[tokio::test]
async fn each_sandbox_variant_reads_as_what_it_is() {
    let mut config = SandboxConfig {
        speed: 1000.0,
        ..SandboxConfig::default()
    };
    config
        .set_options(
            "user-tagging=off,phone-validation=on,job-results=reference,rate-headers=documented",
        )
        .unwrap();
    let sandbox = Sandbox::start(config).await.unwrap();
    let client = common::client(&sandbox);
    // One finished job, so the job list has results to read.
    let users = vec![
        json!({"name": "A", "email": "a@x.com"}),
        json!({"name": "B"}),
    ];
    let job = client.create_many(&users).await.unwrap().value;
    for _ in 0..200 {
        let done = client.job_statuses(&[job.id.as_str()]).await.unwrap().value;
        if done.iter().all(zdimport::zendesk::JobStatus::is_finished) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let report = doctor::probe(&client).await;
    let check = |topic: &str| report.get(topic).unwrap_or_else(|| panic!("{topic}"));
    assert_eq!(check("User tagging").verdict, Verdict::Fail);
    assert!(check("Phone number validation").found.contains("on"));
    assert!(
        check("Job result shape")
            .found
            .starts_with("2 of 2 recent results carry an `index`"),
        "{:?}",
        check("Job result shape")
    );
    assert!(
        check("Rate limit (job answers)")
            .found
            .contains("ratelimit-limit"),
        "{:?}",
        check("Rate limit (job answers)")
    );
    assert!(check("Job slots").found.starts_with("0 of 30"));
    assert!(report.has_failures(), "tagging off must be fixed first");

    let recorded = Sandbox::start(SandboxConfig {
        speed: 1000.0,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let client = common::client(&recorded);
    client.create_many(&users).await.unwrap();
    let report = doctor::probe(&client).await;
    let jobs = report.get("Rate limit (job answers)").unwrap();
    assert!(jobs.found.contains("`rate-limit…`"), "{jobs:?}");
}

#[test]
fn the_command_prints_a_checklist_or_json_and_exits_by_what_it_found() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], options: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_zdimport"))
            .args(args)
            .env("ZDIMPORT_CONFIG_DIR", home.path().join("config"))
            .env("ZDIMPORT_DATA_DIR", home.path().join("data"))
            .env("ZDIMPORT_KEYRING", "memory")
            .env(zdimport::sandbox::OPTIONS_ENV, options)
            .output()
            .unwrap()
    };
    let out = run(&["doctor", "--sandbox"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(" ✓ Sign-in: signed in as"), "{text}");
    assert!(text.contains("checks:"), "{text}");
    let out = run(&["doctor", "--sandbox", "--json"], "user-tagging=off");
    assert_eq!(
        out.status.code(),
        Some(1),
        "tagging off must be fixed first"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tagging = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["topic"] == "User tagging")
        .unwrap();
    assert_eq!(tagging["verdict"], "fail");
}
