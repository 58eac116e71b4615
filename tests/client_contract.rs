//! Contract: the client's types read every recorded Zendesk body in
//! `tests/fixtures/zendesk/` and every result shape `zendesk/API.md` lists.

use std::path::PathBuf;

use serde_json::json;
use zdimport::zendesk::types::{
    JobStatusEnvelope, UserEnvelope, UserFieldsEnvelope, UserSearchEnvelope, UsersEnvelope,
};
use zdimport::zendesk::{ApiReason, JobResult, JobResults, JobState};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zendesk")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn job(name: &str) -> zdimport::zendesk::JobStatus {
    serde_json::from_slice::<JobStatusEnvelope>(&read(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .job_status
}

/// Every file in the folder has a parser here: a new fixture without one fails this test.
#[test]
fn every_fixture_body_parses() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures folder beside the repo")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 14, "{names:?}");
    for name in &names {
        let bytes = read(name);
        let parsed: Result<(), String> = match name.as_str() {
            n if n.starts_with("job_status_") => {
                serde_json::from_slice::<JobStatusEnvelope>(&bytes)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            n if n.starts_with("error_") => {
                let reason = ApiReason::from_body(&bytes);
                reason
                    .error
                    .map(drop)
                    .ok_or_else(|| "no error code".to_owned())
            }
            "user_show.json" | "user_create_response.json" => {
                serde_json::from_slice::<UserEnvelope>(&bytes)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            "users_list.json" => serde_json::from_slice::<UsersEnvelope>(&bytes)
                .map(drop)
                .map_err(|e| e.to_string()),
            "users_search.json" | "search_unified_type_user.json" => {
                serde_json::from_slice::<UserSearchEnvelope>(&bytes)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            "user_fields_list.json" => serde_json::from_slice::<UserFieldsEnvelope>(&bytes)
                .map(drop)
                .map_err(|e| e.to_string()),
            other => Err(format!("no parser for {other}")),
        };
        parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn queued_and_working_jobs_have_null_results() {
    let queued = job("job_status_queued.json");
    assert_eq!(queued.status, JobState::Queued);
    assert_eq!((queued.total, queued.progress), (Some(30), None));
    assert!(queued.results.is_none() && queued.message.is_none());
    assert!(!queued.is_finished());
    let working = job("job_status_working.json");
    assert_eq!(working.status, JobState::Working);
    assert_eq!(working.progress, Some(10));
}

#[test]
fn completed_create_many_results_have_no_index_and_no_success() {
    let done = job("job_status_completed_create_many.json");
    assert!(done.is_finished());
    let results = done.result_list();
    assert_eq!(results.len(), 30);
    assert!(
        results
            .iter()
            .all(|r| r.index.is_none() && r.success.is_none())
    );
    assert_eq!(results[0].id, Some(19_856_122_753_300));
    assert!(results.iter().all(|r| !r.is_failure()));
}

#[test]
fn failures_without_status_are_failures() {
    let done = job("job_status_completed_with_failures.json");
    let results = done.result_list();
    assert!(!results[0].is_failure());
    assert_eq!(results[0].index, None);
    assert!(results[1].is_failure());
    assert_eq!(results[1].index, Some(1));
    assert_eq!(results[1].status, None);
    assert_eq!(
        results[1].details_text().as_deref(),
        Some("Name:  Example Org has already been taken")
    );
}

#[test]
fn user_bodies_keep_every_key() {
    let user = serde_json::from_slice::<UserEnvelope>(&read("user_show.json"))
        .unwrap()
        .user;
    assert_eq!(user.id, 369_531_345_753);
    assert_eq!(user.email.as_deref(), Some("customer@example.com"));
    assert!(user.extra.contains_key("photo") && user.extra.contains_key("iana_time_zone"));
    let search = serde_json::from_slice::<UserSearchEnvelope>(&read("users_search.json")).unwrap();
    assert_eq!(search.users.len(), 1);
    assert_eq!(search.users[0].id, 369_531_345_753);
    assert_eq!(
        search.users[0].email.as_deref(),
        Some("customer@example.com")
    );
    // The unified search's key is read too, so a proxy answering so does not break lookups.
    let unified =
        serde_json::from_slice::<UserSearchEnvelope>(&read("search_unified_type_user.json"))
            .unwrap();
    assert_eq!(unified.users[0].id, 1234);
    assert_eq!(unified.users[0].user_fields["nickname"], "foo bar");
    let fields =
        serde_json::from_slice::<UserFieldsEnvelope>(&read("user_fields_list.json")).unwrap();
    assert_eq!(fields.user_fields[0].key, "custom_field_1");
    assert_eq!(fields.user_fields[0].field_type, "text");
}

#[test]
fn error_bodies_give_code_and_description() {
    let reason = ApiReason::from_body(&read("error_400_too_many_users.json"));
    assert_eq!(reason.error.as_deref(), Some("TooManyValues"));
    assert_eq!(
        reason.description.as_deref(),
        Some("Maximum 100 users may be created per call")
    );
    let forbidden =
        ApiReason::from_body(br#"{"error":"Forbidden","message":"Data imports are not enabled"}"#);
    assert_eq!(
        forbidden.description.as_deref(),
        Some("Data imports are not enabled")
    );
    let html = ApiReason::from_body(b"<html><body>429 Too Many Requests</body></html>");
    assert_eq!(html, ApiReason::default());
    let nested = ApiReason::from_body(br#"{"error":{"title":"Forbidden","message":"No access"}}"#);
    assert_eq!(nested.error.as_deref(), Some("Forbidden"));
    assert_eq!(nested.description.as_deref(), Some("No access"));
}

/// Each result shape listed in API.md, job_status section.
#[test]
fn every_documented_result_shape_parses() {
    let shapes = [
        json!({"index":0,"id":123,"status":"Created","action":"create","success":true}),
        json!({"status":"Created","id":123}),
        json!({"id":123,"status":"Updated","email":"x@example.com"}),
        json!({"index":3,"error":"UserUpdateError","details":"Email: x is not properly formatted","status":"Failed"}),
        json!({"index":1,"error":"OrganizationUpdateFailed","id":5,"details":"Name:  x has already been taken"}),
        json!({"id":244,"index":0}),
    ];
    let parsed: Vec<JobResult> = shapes
        .iter()
        .map(|s| serde_json::from_value(s.clone()).unwrap_or_else(|e| panic!("{s}: {e}")))
        .collect();
    assert_eq!(parsed[2].email.as_deref(), Some("x@example.com"));
    assert_eq!(
        parsed.iter().map(JobResult::is_failure).collect::<Vec<_>>(),
        [false, false, false, true, true, false]
    );
    let object = json!({"job_status": {"id": "V3-x", "status": "completed", "total": null,
        "progress": null, "results": {"success": true}}});
    let status = serde_json::from_value::<JobStatusEnvelope>(object)
        .unwrap()
        .job_status;
    assert!(matches!(status.results, Some(JobResults::Object(_))));
    assert!(status.result_list().is_empty());
    let odd = serde_json::from_value::<JobStatusEnvelope>(
        json!({"job_status": {"id": "V3-y", "status": "paused"}}),
    )
    .unwrap()
    .job_status;
    assert_eq!(odd.status, JobState::Other("paused".into()));
}
