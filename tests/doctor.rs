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
