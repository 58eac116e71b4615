//! Raw HTTP to a sandbox, as the admin with the legacy API token, for tests that read its
//! answers as Zendesk would send them.

#![allow(dead_code, reason = "each test binary uses a part")]

use serde_json::Value;
use zdimport::sandbox::SandboxHandle;

pub async fn call(
    sandbox: &SandboxHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = sandbox.url().join(path).unwrap();
    let mut request = reqwest::Client::new().request(method, url).basic_auth(
        format!("{}/token", sandbox.config().admin_email),
        Some("sandbox-api-token"),
    );
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

pub async fn get(sandbox: &SandboxHandle, path: &str) -> Value {
    let (status, body) = call(sandbox, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// Posts a bulk body of users and returns the job's id.
pub async fn bulk(
    sandbox: &SandboxHandle,
    method: reqwest::Method,
    path: &str,
    users: Value,
) -> String {
    bulk_of(sandbox, method, path, "users", users).await
}

/// Posts `{key: items}` (`users`, `organizations`) and returns the job's id.
pub async fn bulk_of(
    sandbox: &SandboxHandle,
    method: reqwest::Method,
    path: &str,
    key: &str,
    items: Value,
) -> String {
    let (status, body) = call(
        sandbox,
        method,
        path,
        Some(serde_json::json!({ key: items })),
    )
    .await;
    assert_eq!(status, 200, "{path}: {body}");
    body["job_status"]["id"]
        .as_str()
        .expect("job id")
        .to_owned()
}

/// Moves the clock 20 s on, past the end of a job of up to 100 users at recorded times (less
/// than a search lag), and returns its `results`.
pub async fn job_results(sandbox: &SandboxHandle, job: &str) -> Vec<Value> {
    sandbox.clock().advance(std::time::Duration::from_secs(20));
    let done = get(sandbox, &format!("/api/v2/job_statuses/{job}.json")).await;
    assert_eq!(done["job_status"]["status"], "completed", "{done}");
    done["job_status"]["results"]
        .as_array()
        .expect("results")
        .clone()
}
