//! The sandbox's organizations as Zendesk's organizations API describes them: names unique
//! ignoring case and spaces, unique external ids, lists in offset and cursor pages,
//! `show_many`, `search`, `autocomplete`, `create_many` as a job with the users' jobs' result
//! shapes and limits, seeds, and the several-organizations setting.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use zdimport::sandbox::{
    Fault, JobFailures, JobResults, Sandbox, SandboxConfig, SandboxHandle, UserSettings,
};

mod sandbox_http;
use sandbox_http::{bulk_of, call, get, job_results};

const CREATE_MANY: &str = "/api/v2/organizations/create_many.json";

async fn start(config: SandboxConfig) -> SandboxHandle {
    Sandbox::start(config).await.expect("sandbox starts")
}

fn seeded() -> SandboxConfig {
    SandboxConfig {
        organization_fields: vec![json!({"key": "tier", "type": "dropdown", "title": "Tier",
                "custom_field_options": [{"id": 1, "name": "Gold", "value": "gold"}]})],
        organization_records: vec![
            json!({"name": "Acme Corp", "external_id": "ORG-1", "domain_names": ["acme.example"],
                "tags": ["customer"], "organization_fields": {"tier": "gold"}}),
        ],
        organizations: vec!["Globex".into()],
        ..SandboxConfig::default()
    }
}

/// Posts `organizations` to `create_many` and returns the job's id.
async fn create_many(sandbox: &SandboxHandle, orgs: Value) -> String {
    bulk_of(sandbox, Method::POST, CREATE_MANY, "organizations", orgs).await
}

fn names(answer: &Value) -> Vec<String> {
    answer["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .map(|o| o["name"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[tokio::test]
async fn seeded_organizations_hold_their_keys() {
    let sandbox = start(seeded()).await;
    let all = get(&sandbox, "/api/v2/organizations.json").await;
    assert_eq!(names(&all), ["Acme Corp", "Globex"]);
    let acme = &all["organizations"][0];
    assert_eq!(acme["external_id"], "ORG-1");
    assert_eq!(acme["domain_names"], json!(["acme.example"]));
    assert_eq!(acme["tags"], json!(["customer"]));
    assert_eq!(acme["organization_fields"], json!({"tier": "gold"}));
    assert_eq!(
        all["organizations"][1]["organization_fields"],
        json!({"tier": null})
    );
    let fields = get(&sandbox, "/api/v2/organization_fields.json").await;
    assert_eq!(fields["organization_fields"][0]["key"], "tier");
    assert!(fields["organization_fields"][0]["id"].is_u64());
}

#[tokio::test]
async fn a_seed_file_lists_organizations_by_name_or_with_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    let seed = json!({"organizations": ["Globex", {"name": "Initech", "external_id": "I-1"}],
        "users": [{"name": "Ann", "organization": {"name": "initech"}}]});
    std::fs::write(&path, seed.to_string()).unwrap();
    let mut config = SandboxConfig::default();
    config.seed_from_file(&path).unwrap();
    let sandbox = start(config).await;
    let all = get(&sandbox, "/api/v2/organizations.json").await;
    assert_eq!(names(&all), ["Initech", "Globex"], "by id: records first");
    let initech = all["organizations"][0]["id"].clone();
    let ann = sandbox
        .users()
        .into_iter()
        .find(|u| u["name"] == "Ann")
        .unwrap();
    assert_eq!(
        ann["organization_id"], initech,
        "a seed user joins by name, any case"
    );

    let bad = dir.path().join("bad.json");
    let seed = json!({"organizations": [{"name": "A", "external_id": "X"},
        {"name": "B", "external_id": "x"}]});
    std::fs::write(&bad, seed.to_string()).unwrap();
    let mut config = SandboxConfig::default();
    config.seed_from_file(&bad).unwrap();
    let err = Sandbox::start(config).await.unwrap_err().to_string();
    assert_eq!(
        err,
        "seed organization 1 was refused: OrganizationCreateFailed: External ID: x has already \
         been taken"
    );
}

#[tokio::test]
async fn create_many_is_a_job_refusing_taken_names_and_external_ids() {
    let sandbox = start(seeded()).await;
    let job = create_many(
        &sandbox,
        json!([
            {"name": "Initech", "external_id": "ORG-2", "details": "Austin"},
            {"name": "  ACME corp "},
            {"name": "Umbrella", "external_id": "org-1"},
            {"name": ""},
            {"name": "initech"}
        ]),
    )
    .await;
    let results = job_results(&sandbox, &job).await;
    // As recorded: done rows `{"id","status":"Created"}` without an index, refused rows with
    // their index (the recorded organization failure shape).
    assert_eq!(results[0].as_object().unwrap().len(), 2, "{results:?}");
    assert_eq!(results[0]["status"], "Created");
    let refused: Vec<(u64, &str)> = results[1..]
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["details"].as_str().unwrap()))
        .collect();
    assert_eq!(
        refused,
        [
            (1, "Name:  ACME corp has already been taken"),
            (2, "External ID: org-1 has already been taken"),
            (3, "Name: cannot be blank"),
            (4, "Name:  initech has already been taken"),
        ],
        "names compared ignoring case and spaces, within one job too"
    );
    assert!(
        results[1..]
            .iter()
            .all(|r| r["error"] == "OrganizationCreateFailed")
    );
    let id = &results[0]["id"];
    let shown = get(
        &sandbox,
        &format!("/api/v2/organizations/show_many.json?ids={id}"),
    )
    .await;
    assert_eq!(shown["organizations"][0]["details"], "Austin");
    assert_eq!(sandbox.organizations().len(), 3);
}

#[tokio::test]
async fn create_many_results_honour_the_result_options() {
    let config = SandboxConfig {
        job_results: JobResults::Reference,
        job_failures: JobFailures::Oas,
        ..seeded()
    };
    let sandbox = start(config).await;
    let job = create_many(&sandbox, json!([{"name": "New"}, {"name": "Globex"}])).await;
    let results = job_results(&sandbox, &job).await;
    assert_eq!(results[0]["index"], 0);
    assert!(results[0]["id"].is_u64());
    assert_eq!(
        results[1],
        json!({"action": "create", "id": null, "success": false,
            "error": "OrganizationCreateFailed", "details": "Name:  Globex has already been taken"})
    );

    let config = SandboxConfig {
        job_results: JobResults::Summary,
        ..seeded()
    };
    let sandbox = start(config).await;
    let job = create_many(&sandbox, json!([{"name": "New"}])).await;
    sandbox.clock().advance(Duration::from_secs(20));
    let done = get(&sandbox, &format!("/api/v2/job_statuses/{job}.json")).await;
    assert_eq!(done["job_status"]["results"], json!({"success": true}));
}

#[tokio::test]
async fn create_many_keeps_zendesk_limits_and_faults() {
    let sandbox = start(seeded()).await;
    let many: Vec<Value> = (0..101).map(|i| json!({"name": format!("O{i}")})).collect();
    let (status, body) = call(
        &sandbox,
        Method::POST,
        CREATE_MANY,
        Some(json!({ "organizations": many })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "TooManyValues");
    let (status, body) = call(
        &sandbox,
        Method::POST,
        CREATE_MANY,
        Some(json!({"users": []})),
    )
    .await;
    assert_eq!((status, &body["error"]), (400, &json!("InvalidValue")));

    // A lost answer: the job runs although the caller saw a 502.
    sandbox.force_fault("organizations/create_many", Fault::LostAnswer);
    let (status, _) = call(
        &sandbox,
        Method::POST,
        CREATE_MANY,
        Some(json!({"organizations": [{"name": "Lost"}]})),
    )
    .await;
    assert_eq!(status, 502);
    sandbox.clock().advance(Duration::from_secs(20));
    let found = get(&sandbox, "/api/v2/organizations/search.json?name=lost").await;
    assert_eq!(names(&found), ["Lost"]);

    let config = SandboxConfig {
        bulk_import_enabled: false,
        ..seeded()
    };
    let sandbox = start(config).await;
    let (status, body) = call(
        &sandbox,
        Method::POST,
        CREATE_MANY,
        Some(json!({"organizations": [{"name": "A"}]})),
    )
    .await;
    assert_eq!(
        (status, &body["message"]),
        (403, &json!("Data imports are not enabled"))
    );
}

#[tokio::test]
async fn show_many_search_and_autocomplete_find_by_id_external_id_and_name() {
    let sandbox = start(seeded()).await;
    let acme = get(
        &sandbox,
        "/api/v2/organizations/search.json?name=%20acme%20CORP%20",
    )
    .await;
    assert_eq!(
        (names(&acme), &acme["count"]),
        (vec!["Acme Corp".to_owned()], &json!(1))
    );
    let none = get(
        &sandbox,
        "/api/v2/organizations/search.json?name=Acme%20Corp.",
    )
    .await;
    assert_eq!(
        none["count"], 0,
        "exact names only: a near-miss is not found"
    );
    let by_external = get(
        &sandbox,
        "/api/v2/organizations/search.json?external_id=org-1",
    )
    .await;
    assert_eq!(names(&by_external), ["Acme Corp"]);
    let (status, _) = call(
        &sandbox,
        Method::GET,
        "/api/v2/organizations/search.json",
        None,
    )
    .await;
    assert_eq!(status, 400);

    let id = &acme["organizations"][0]["id"];
    let shown = get(
        &sandbox,
        &format!("/api/v2/organizations/show_many.json?ids={id},1"),
    )
    .await;
    assert_eq!(names(&shown), ["Acme Corp"], "unknown ids are left out");
    let shown = get(
        &sandbox,
        "/api/v2/organizations/show_many.json?external_ids=nope,ORG-1",
    )
    .await;
    assert_eq!(names(&shown), ["Acme Corp"]);
    let ids: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let path = format!(
        "/api/v2/organizations/show_many.json?external_ids={}",
        ids.join(",")
    );
    let (status, body) = call(&sandbox, Method::GET, &path, None).await;
    assert_eq!((status, &body["error"]), (400, &json!("TooManyValues")));

    let found = get(&sandbox, "/api/v2/organizations/autocomplete.json?name=GLO").await;
    assert_eq!(names(&found), ["Globex"]);
    let (status, _) = call(
        &sandbox,
        Method::GET,
        "/api/v2/organizations/autocomplete.json?name=g",
        None,
    )
    .await;
    assert_eq!(status, 400, "two characters at least");
}

#[tokio::test]
async fn the_list_comes_in_offset_or_cursor_pages() {
    let config = SandboxConfig {
        organizations: (0..250).map(|i| format!("Org {i:03}")).collect(),
        ..SandboxConfig::default()
    };
    let sandbox = start(config).await;
    let mut path = "/api/v2/organizations.json?page%5Bsize%5D=100".to_owned();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let page = get(&sandbox, &path).await;
        seen.extend(names(&page));
        if page["meta"]["has_more"] != true {
            assert!(page["links"]["next"].is_null());
            break;
        }
        let next = page["links"]["next"].as_str().unwrap();
        let url = reqwest::Url::parse(next).unwrap();
        path = format!("{}?{}", url.path(), url.query().unwrap());
    }
    let want: Vec<String> = (0..250).map(|i| format!("Org {i:03}")).collect();
    assert_eq!(seen, want, "three cursor pages, each organization once");
    let third = get(&sandbox, "/api/v2/organizations.json?page=3").await;
    assert_eq!(third["organizations"].as_array().unwrap().len(), 50);
    assert_eq!(
        (&third["count"], &third["next_page"]),
        (&json!(250), &Value::Null)
    );
}

#[tokio::test]
async fn the_several_organizations_setting_is_the_accounts() {
    for multiple in [false, true] {
        let config = SandboxConfig {
            user_settings: UserSettings {
                multiple_organizations: multiple,
                ..UserSettings::default()
            },
            ..SandboxConfig::default()
        };
        let sandbox = start(config).await;
        let settings = get(&sandbox, "/api/v2/account/settings.json").await;
        assert_eq!(
            settings["settings"]["user"]["multiple_organizations"],
            multiple
        );
    }
}
