//! Contract: the sandbox answers with the keys and JSON types of the recorded Zendesk bodies in
//! `tests/fixtures/zendesk/`.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use zdimport::sandbox::{
    JobFailures, JobProgress, JobResults, Sandbox, SandboxConfig, SandboxHandle,
};

mod sandbox_http;
use sandbox_http::{bulk, call, get, job_results};

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/zendesk")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Same keys (`exact`) or at least the recorded keys, and the same JSON type for each; null
/// matches anything, since a key that is null in one recording holds a value in another.
/// Arrays compare their first elements. `user_fields` holds the account's own keys.
fn same_shape(actual: &Value, recorded: &Value, at: &str, exact: bool, problems: &mut Vec<String>) {
    match (actual, recorded) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(a), Value::Object(r)) => {
            for key in r.keys().filter(|k| !a.contains_key(*k)) {
                problems.push(format!("{at}.{key}: missing"));
            }
            if exact {
                for key in a.keys().filter(|k| !r.contains_key(*k)) {
                    problems.push(format!("{at}.{key}: not in the recording"));
                }
            }
            for (key, r_value) in r {
                // Custom field keys belong to each account; only their container is compared.
                if key == "user_fields" {
                    continue;
                }
                if let Some(a_value) = a.get(key) {
                    same_shape(a_value, r_value, &format!("{at}.{key}"), exact, problems);
                }
            }
        }
        (Value::Array(a), Value::Array(r)) => {
            if let (Some(a0), Some(r0)) = (a.first(), r.first()) {
                same_shape(a0, r0, &format!("{at}[0]"), exact, problems);
            }
        }
        (a, r) if kind(a) != kind(r) => {
            problems.push(format!("{at}: {} where Zendesk sends {}", kind(a), kind(r)));
        }
        _ => {}
    }
}

fn assert_shape(actual: &Value, fixture_name: &str, exact: bool) {
    let mut problems = Vec::new();
    same_shape(actual, &fixture(fixture_name), "$", exact, &mut problems);
    assert!(
        problems.is_empty(),
        "{fixture_name}: {problems:#?}\n{actual:#}"
    );
}

async fn start() -> SandboxHandle {
    let config = SandboxConfig {
        users: vec![json!({"name": "Customer", "email": "customer@example.com"})],
        user_fields: vec![
            json!({"key": "custom_field_1", "type": "text", "title": "Custom Field 1"}),
        ],
        job_time_per_user: Duration::from_secs(1),
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.unwrap()
}

#[tokio::test]
async fn job_status_answers_match_the_recordings_through_every_state() {
    let sandbox = start().await;
    // Queued 5 s as recorded, then 30 users at 1 s each: working from 5 s to 35 s.
    let users: Vec<Value> = (0..30)
        .map(|i| json!({"name": format!("U{i}"), "email": format!("u{i}@example.com")}))
        .collect();
    let (status, queued) = call(
        &sandbox,
        reqwest::Method::POST,
        "/api/v2/users/create_many.json",
        Some(json!({"users": users})),
    )
    .await;
    assert_eq!(status, 200);
    assert_shape(&queued, "job_status_queued.json", true);
    assert_eq!(queued["job_status"]["status"], "queued");
    let id = queued["job_status"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v2/job_statuses/{id}.json");
    sandbox.clock().advance(Duration::from_millis(4900));
    let still = get(&sandbox, &path).await;
    assert_eq!(
        still["job_status"]["status"], "queued",
        "recorded: 5 s or more"
    );
    sandbox.clock().advance(Duration::from_millis(300));
    let working = get(&sandbox, &path).await;
    assert_eq!(working["job_status"]["status"], "working");
    assert_shape(&working, "job_status_working.json", true);
    sandbox.clock().advance(Duration::from_secs(60));
    let done = get(&sandbox, &path).await;
    assert_eq!(done["job_status"]["status"], "completed");
    // By default, the job and each result exactly as recorded: no index.
    assert_shape(&done, "job_status_completed_create_many.json", true);
}

#[tokio::test]
async fn user_answers_match_the_recordings() {
    let sandbox = start().await;
    let me = get(&sandbox, "/api/v2/users/me.json").await;
    assert_shape(&me, "user_show.json", true);
    let id = me["user"]["id"].as_u64().unwrap();
    let one = get(&sandbox, &format!("/api/v2/users/{id}.json")).await;
    assert_shape(&one, "user_create_response.json", true);
    let many = get(&sandbox, &format!("/api/v2/users/show_many.json?ids={id}")).await;
    assert_shape(&many, "users_list.json", true);
    let search = get(
        &sandbox,
        "/api/v2/users/search.json?query=email:customer@example.com",
    )
    .await;
    assert_eq!(search["count"], 1);
    assert_shape(&search, "users_search.json", true);
    let fields = get(&sandbox, "/api/v2/user_fields.json").await;
    assert_shape(&fields, "user_fields_list.json", true);
    // Zendesk lists every custom field in each user, null when unset.
    assert_eq!(me["user"]["user_fields"], json!({"custom_field_1": null}));
}

#[tokio::test]
async fn error_bodies_are_the_recorded_ones() {
    let sandbox = start().await;
    let users: Vec<Value> = (0..101).map(|i| json!({"name": format!("U{i}")})).collect();
    let (status, body) = call(
        &sandbox,
        reqwest::Method::POST,
        "/api/v2/users/create_many.json",
        Some(json!({"users": users})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body, fixture("error_400_too_many_users.json"));
    let (status, body) = call(
        &sandbox,
        reqwest::Method::GET,
        "/api/v2/job_statuses/V3-nope.json",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body, fixture("error_404_record_not_found.json"));
}

#[test]
fn the_shape_check_can_fail() {
    let mut problems = Vec::new();
    same_shape(
        &json!({"id": "1", "extra": 1}),
        &json!({"id": 1, "url": "x"}),
        "$",
        true,
        &mut problems,
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
}

/// Compares one value with a documented shape (no recording exists): same keys, same types.
fn assert_documented(actual: &Value, documented: &Value, what: &str) {
    let mut problems = Vec::new();
    same_shape(actual, documented, "$", true, &mut problems);
    assert!(problems.is_empty(), "{what}: {problems:#?}\n{actual:#}");
}

#[tokio::test]
async fn job_results_take_each_shape_recorded_or_documented() {
    let sandbox = start().await;
    let customer = sandbox.user_by_email("customer@example.com").unwrap()["id"].clone();
    let put = reqwest::Method::PUT;
    let users = json!([{"id": customer, "name": "Renamed"}, {"id": 1, "name": "Nobody"}]);
    let job = bulk(
        &sandbox,
        put.clone(),
        "/api/v2/users/update_many.json",
        users,
    )
    .await;
    let results = job_results(&sandbox, &job).await;
    // Rows done exactly as the recorded update_many; rows refused as the recorded failures.
    let recorded_update = fixture("job_status_completed_update_many.json");
    assert_documented(
        &results[0],
        &recorded_update["job_status"]["results"][0],
        "update",
    );
    let recorded_failures = fixture("job_status_completed_with_failures.json");
    assert_documented(
        &results[1],
        &recorded_failures["job_status"]["results"][1],
        "failure",
    );
    assert_eq!(results[1]["index"], 1);

    let config = SandboxConfig {
        job_results: JobResults::Reference,
        job_failures: JobFailures::Oas,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let users = json!([{"name": "A"}, {"email": "b@example.com"}]);
    let post = reqwest::Method::POST;
    let job = bulk(&sandbox, post, "/api/v2/users/create_many.json", users).await;
    let results = job_results(&sandbox, &job).await;
    // The API reference's example, and the OpenAPI failure.
    assert_documented(&results[0], &json!({"id": 244, "index": 0}), "reference");
    let oas = json!({"action": "create", "id": 1, "success": false, "error": "x", "details": "y"});
    assert_documented(&results[1], &oas, "oas failure");
    assert_eq!(results[1]["success"], false);

    let config = SandboxConfig {
        job_results: JobResults::Summary,
        job_progress: JobProgress::Null,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    for (users, summary) in [(json!([{"name": "A"}]), true), (json!([{}]), false)] {
        let path = "/api/v2/users/create_many.json";
        let (status, queued) = call(
            &sandbox,
            reqwest::Method::POST,
            path,
            Some(json!({"users": users})),
        )
        .await;
        assert_eq!(status, 200);
        let id = queued["job_status"]["id"].as_str().unwrap();
        sandbox.clock().advance(Duration::from_secs(20));
        let done = get(&sandbox, &format!("/api/v2/job_statuses/{id}.json")).await;
        let results = &done["job_status"]["results"];
        assert_eq!(*results == json!({"success": true}), summary, "{results}");
        assert_eq!(results.is_array(), !summary);
        let counts = (
            &done["job_status"]["total"],
            &done["job_status"]["progress"],
        );
        assert_eq!(counts, (&Value::Null, &Value::Null));
    }
}

#[tokio::test]
async fn identities_settings_and_organizations_have_the_documented_keys() {
    let config = SandboxConfig {
        organizations: vec!["Acme".into()],
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let me = get(&sandbox, "/api/v2/users/me.json").await["user"]["id"].clone();
    let list = get(&sandbox, &format!("/api/v2/users/{me}/identities.json")).await;
    // developer.zendesk.com, User Identities, JSON format (an email identity).
    let identity = json!({
        "url": "u", "id": 1, "user_id": 1, "type": "email", "value": "v", "verified": true,
        "primary": true, "created_at": "t", "updated_at": "t", "undeliverable_count": 0,
        "deliverable_state": "deliverable"
    });
    let documented = json!({"identities": [identity], "next_page": null,
        "previous_page": null, "count": 1});
    assert_documented(&list, &documented, "identities");
    let settings = get(&sandbox, "/api/v2/account/settings.json").await;
    // Account Settings, Users: the keys of the `user` section.
    let user = json!({
        "tagging": true, "time_zone_selection": true, "language_selection": true,
        "multiple_organizations": false, "agent_created_welcome_emails": true,
        "end_user_phone_number_validation": false, "have_gravatars_enabled": true
    });
    assert_documented(&settings["settings"]["user"], &user, "settings.user");
    let orgs = get(&sandbox, "/api/v2/organizations.json").await;
    // Organizations, JSON format.
    let org = json!({
        "url": "u", "id": 1, "name": "n", "shared_tickets": false, "shared_comments": false,
        "external_id": null, "created_at": "t", "updated_at": "t", "domain_names": [],
        "details": null, "notes": null, "group_id": null, "tags": [], "organization_fields": {}
    });
    let documented = json!({"organizations": [org], "next_page": null,
        "previous_page": null, "count": 1});
    assert_documented(&orgs, &documented, "organizations");
}

/// The three recordings of a job were of `organizations/create_many` (30 organizations): the
/// sandbox's organization jobs answer with exactly their keys and types in every state.
#[tokio::test]
async fn organization_jobs_match_the_recordings_through_every_state() {
    let sandbox = start().await;
    let orgs: Vec<Value> = (0..30)
        .map(|i| json!({"name": format!("Org {i}")}))
        .collect();
    let (status, queued) = call(
        &sandbox,
        reqwest::Method::POST,
        "/api/v2/organizations/create_many.json",
        Some(json!({ "organizations": orgs })),
    )
    .await;
    assert_eq!(status, 200, "{queued}");
    assert_shape(&queued, "job_status_queued.json", true);
    let id = queued["job_status"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v2/job_statuses/{id}.json");
    sandbox.clock().advance(Duration::from_secs(15));
    let working = get(&sandbox, &path).await;
    assert_shape(&working, "job_status_working.json", true);
    assert_eq!(
        working["job_status"]["message"], "Creating organization #11",
        "recorded wording"
    );
    sandbox.clock().advance(Duration::from_secs(60));
    let done = get(&sandbox, &path).await;
    assert_shape(&done, "job_status_completed_create_many.json", true);
    let results = done["job_status"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 30);
    assert_eq!(sandbox.organizations().len(), 30);
}
