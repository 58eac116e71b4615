//! The client's organization calls: each answer shape `shared/zendesk/API.md` and the recorded
//! bodies give (lists in offset and cursor pages, `show_many`, `search`, jobs with every result
//! shape), read from fixtures and from the sandbox on loopback.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use zdimport::sandbox::{JobFailures, JobResults, Sandbox, SandboxConfig, SandboxHandle};
use zdimport::zendesk::results::match_results;
use zdimport::zendesk::types::{JobStatusEnvelope, OrganizationsEnvelope};
use zdimport::zendesk::{Client, ORGANIZATIONS_FIRST_PAGE, Organization};

mod common;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/zendesk")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

async fn sandbox(config: SandboxConfig) -> (SandboxHandle, Client) {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let client = common::client(&sandbox);
    (sandbox, client)
}

fn named(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("Org {i:03}")).collect()
}

fn names(orgs: &[Organization]) -> Vec<String> {
    orgs.iter().map(|o| o.name.clone()).collect()
}

/// Organizations, JSON format (developer.zendesk.com): every key, and a record whose lists
/// and text are null or absent, which an account may send.
#[test]
fn an_organization_reads_with_its_keys_or_without_them() {
    let documented = json!({"organizations": [{
        "url": "https://x.zendesk.com/api/v2/organizations/35436.json", "id": 35436,
        "name": "One Organization", "shared_tickets": true, "shared_comments": true,
        "external_id": "ABC198", "created_at": "2009-07-20T22:55:29Z",
        "updated_at": "2011-05-05T10:38:52Z", "domain_names": ["example.com", "test.com"],
        "details": "This is a kind of organization", "notes": "", "group_id": null,
        "tags": ["enterprise", "other_tag"], "organization_fields": {"org_dropdown": "option_1"}
    }, {"id": 2, "name": "Bare", "tags": null, "domain_names": null, "organization_fields": null}],
    "next_page": null, "previous_page": null, "count": 2});
    let page: OrganizationsEnvelope = serde_json::from_value(documented).unwrap();
    let one = &page.organizations[0];
    assert_eq!(one.external_id.as_deref(), Some("ABC198"));
    assert_eq!(one.domain_names, ["example.com", "test.com"]);
    assert_eq!((one.shared_tickets, one.group_id), (Some(true), None));
    assert_eq!(one.organization_fields["org_dropdown"], "option_1");
    assert_eq!(
        one.extra["url"],
        "https://x.zendesk.com/api/v2/organizations/35436.json"
    );
    let bare = &page.organizations[1];
    assert!(bare.tags.is_empty() && bare.domain_names.is_empty());
    assert!(bare.organization_fields.is_empty() && bare.external_id.is_none());
    assert_eq!(page.paging.count, Some(2));
}

/// The recorded `organizations/create_many` job (`{"id","status":"Created"}`, no index) and the
/// recorded organization failures (`{"index","error","id","details"}`, no status) tie to the
/// organizations sent, by position and by index.
#[test]
fn recorded_organization_jobs_tie_each_result_to_its_organization() {
    let created: JobStatusEnvelope =
        serde_json::from_slice(&fixture("job_status_completed_create_many.json")).unwrap();
    let results = created.job_status.result_list();
    assert_eq!(results.len(), 30);
    let sent: Vec<Value> = (0..30).map(|i| json!({"name": format!("O{i}")})).collect();
    let matched = match_results(&sent, results);
    assert_eq!(matched.len(), 30);
    assert!(matched.iter().all(|m| !m.result.is_failure()));

    let failed: JobStatusEnvelope =
        serde_json::from_slice(&fixture("job_status_completed_with_failures.json")).unwrap();
    let results = failed.job_status.result_list();
    let failures: Vec<(usize, Option<String>)> = results
        .iter()
        .filter(|r| r.is_failure())
        .map(|r| (r.index.unwrap(), r.details_text()))
        .collect();
    assert_eq!(failures.len(), 4);
    assert_eq!(
        failures[0],
        (1, Some("Name:  Example Org has already been taken".into()))
    );
}

#[tokio::test]
async fn every_page_of_the_list_in_cursor_or_offset_pages() {
    let config = SandboxConfig {
        organizations: named(250),
        ..SandboxConfig::default()
    };
    let (sandbox, client) = sandbox(config).await;
    let all = client.organizations().await.unwrap();
    assert_eq!(names(&all.value), named(250));
    let asked: Vec<String> = sandbox
        .requests()
        .iter()
        .map(|r| r.target.clone())
        .filter(|t| t.starts_with("/api/v2/organizations.json"))
        .collect();
    assert_eq!(asked.len(), 3, "100 a page: {asked:?}");
    assert!(
        asked.iter().all(|t| t.contains("page%5Bsize%5D=100")),
        "{asked:?}"
    );

    // Page by page, as a caller counting its requests reads it; offset pages are followed too.
    let mut path = Some("/api/v2/organizations.json?per_page=100".to_owned());
    let mut seen = Vec::new();
    while let Some(next) = path {
        let page = client.organizations_page(&next).await.unwrap().value;
        seen.extend(names(&page.items));
        path = page.next;
    }
    assert_eq!(seen, named(250));
    let first = client
        .organizations_page(ORGANIZATIONS_FIRST_PAGE)
        .await
        .unwrap();
    assert_eq!(first.value.items.len(), 100);
    assert!(first.value.next.is_some());
    assert_eq!(first.value.count, None, "cursor pages do not count");
    let offset = client
        .organizations_page("/api/v2/organizations.json?per_page=100")
        .await;
    assert_eq!(offset.unwrap().value.count, Some(250), "offset pages do");
    let found = client.autocomplete_organizations("org 24").await.unwrap();
    assert_eq!(names(&found.value).len(), 10, "Org 240 to Org 249");
}

#[tokio::test]
async fn show_many_and_search_find_by_external_id_and_name() {
    let config = SandboxConfig {
        organization_records: vec![
            json!({"name": "Acme Corp", "external_id": "ORG-1", "tags": ["vip"]}),
            json!({"name": "Globex", "external_id": "ORG-2"}),
        ],
        ..SandboxConfig::default()
    };
    let (_sandbox, client) = sandbox(config).await;
    let shown = client
        .organizations_show_many_by_external_ids(&["org-2", "nope", "ORG-1"])
        .await
        .unwrap()
        .value;
    assert_eq!(names(&shown), ["Globex", "Acme Corp"]);
    assert_eq!(shown[1].tags, ["vip"]);
    let ids: Vec<u64> = shown.iter().map(|o| o.id).collect();
    let by_id = client
        .organizations_show_many_by_ids(&ids)
        .await
        .unwrap()
        .value;
    assert_eq!(by_id, shown);
    let acme = client
        .search_organizations_by_name(" ACME corp ")
        .await
        .unwrap()
        .value;
    assert_eq!(names(&acme), ["Acme Corp"]);
    let near = client
        .search_organizations_by_name("ACME Corp.")
        .await
        .unwrap()
        .value;
    assert!(near.is_empty(), "search finds exact names only");
    let by_external = client
        .search_organizations_by_external_id("org-1")
        .await
        .unwrap()
        .value;
    assert_eq!(names(&by_external), ["Acme Corp"]);
}

/// `create_many_organizations` returns the job; its results read in each shape the sandbox
/// offers, and failures say Zendesk's reason.
#[tokio::test]
async fn create_many_returns_a_job_read_in_every_result_shape() {
    let shapes = [
        (JobResults::Recorded, JobFailures::Indexed),
        (JobResults::Reference, JobFailures::Oas),
        (JobResults::Summary, JobFailures::Indexed),
    ];
    for (done, failed) in shapes {
        let config = SandboxConfig {
            organizations: vec!["Globex".into()],
            job_results: done,
            job_failures: failed,
            ..SandboxConfig::default()
        };
        let (sandbox, client) = sandbox(config).await;
        let sent = vec![
            json!({"name": "Initech", "external_id": "I-1"}),
            json!({"name": "globex"}),
        ];
        let job = client.create_many_organizations(&sent).await.unwrap();
        assert!(!job.value.is_finished(), "{done}: a job, queued");
        sandbox.clock().advance(Duration::from_secs(60));
        let status = client.job_status(&job.value.id).await.unwrap().value;
        assert!(status.is_finished(), "{done}: {status:?}");
        let matched = match_results(&sent, status.result_list());
        assert_eq!(matched.len(), 2, "{done}/{failed}: {status:?}");
        let created = matched.iter().find(|m| m.position == 0).unwrap();
        assert!(!created.result.is_failure() && created.result.id.is_some());
        let refused = matched.iter().find(|m| m.position == 1).unwrap();
        assert!(refused.result.is_failure(), "{done}/{failed}");
        assert_eq!(
            refused.result.details_text().as_deref(),
            Some("Name:  globex has already been taken")
        );
        let initech = client
            .organizations_show_many_by_external_ids(&["I-1"])
            .await
            .unwrap()
            .value;
        assert_eq!(initech[0].id, created.result.id.unwrap());
    }

    let (sandbox, client) = sandbox(SandboxConfig {
        job_results: JobResults::Summary,
        ..SandboxConfig::default()
    })
    .await;
    let job = client
        .create_many_organizations(&[json!({"name": "A"})])
        .await
        .unwrap();
    sandbox.clock().advance(Duration::from_secs(60));
    let status = client.job_status(&job.value.id).await.unwrap().value;
    assert!(
        status.result_list().is_empty(),
        "an object: no result per organization"
    );
    let too_many: Vec<Value> = (0..101).map(|i| json!({"name": format!("O{i}")})).collect();
    let err = client
        .create_many_organizations(&too_many)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.to_string().contains("TooManyValues"), "{err}");
}
