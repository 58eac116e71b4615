//! The sandbox's organization memberships as Zendesk's Organization Memberships API describes
//! them: `create_many` as a job (at most 100), a user's list with its default first, the
//! several-organizations setting, seeds, and both answers to a membership that exists.

use reqwest::Method;
use serde_json::{Value, json};
use zdimport::sandbox::memberships::{ALREADY_MEMBER, ExistingMembership};
use zdimport::sandbox::{Sandbox, SandboxConfig, SandboxHandle, UserSettings};

mod sandbox_http;
use sandbox_http::{bulk_of, call, get, job_results};

const CREATE_MANY: &str = "/api/v2/organization_memberships/create_many.json";

fn config(multiple: bool, existing: ExistingMembership) -> SandboxConfig {
    SandboxConfig {
        organizations: vec!["Acme".into(), "Globex".into(), "Initech".into()],
        users: vec![
            json!({"name": "Ana", "email": "ana@example.com", "organization": {"name": "Acme"},
                "organization_memberships": ["Globex"]}),
            json!({"name": "Bo", "email": "bo@example.com"}),
        ],
        user_settings: UserSettings {
            multiple_organizations: multiple,
            ..UserSettings::default()
        },
        existing_membership: existing,
        ..SandboxConfig::default()
    }
}

fn ids(sandbox: &SandboxHandle) -> (u64, u64, [u64; 3]) {
    let user = |e: &str| sandbox.user_by_email(e).unwrap()["id"].as_u64().unwrap();
    let orgs = sandbox.organizations();
    let org = |n: &str| {
        orgs.iter().find(|o| o["name"] == n).unwrap()["id"]
            .as_u64()
            .unwrap()
    };
    (
        user("ana@example.com"),
        user("bo@example.com"),
        [org("Acme"), org("Globex"), org("Initech")],
    )
}

async fn create(sandbox: &SandboxHandle, pairs: &[(u64, u64)]) -> Vec<Value> {
    let items: Vec<Value> = pairs
        .iter()
        .map(|(u, o)| json!({"user_id": u, "organization_id": o}))
        .collect();
    let job = bulk_of(
        sandbox,
        Method::POST,
        CREATE_MANY,
        "organization_memberships",
        json!(items),
    )
    .await;
    job_results(sandbox, &job).await
}

async fn listed(sandbox: &SandboxHandle, user: u64) -> Vec<(u64, Value)> {
    let path = format!("/api/v2/users/{user}/organization_memberships.json");
    get(sandbox, &path).await["organization_memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["organization_id"].as_u64().unwrap(), m["default"].clone()))
        .collect()
}

#[tokio::test]
async fn a_seeded_user_lists_its_default_first_and_joins_more_with_the_setting_on() {
    let sandbox = Sandbox::start(config(true, ExistingMembership::Error))
        .await
        .unwrap();
    let (ana, bo, [acme, globex, initech]) = ids(&sandbox);
    assert_eq!(
        listed(&sandbox, ana).await,
        [(acme, json!(true)), (globex, Value::Null)]
    );
    let results = create(&sandbox, &[(ana, initech), (bo, acme), (bo, globex)]).await;
    assert!(
        results.iter().all(|r| r["status"] == "Created"),
        "{results:?}"
    );
    assert_eq!(
        listed(&sandbox, bo).await,
        [(acme, json!(true)), (globex, Value::Null)],
        "the first membership is the default"
    );
    assert_eq!(sandbox.memberships().len(), 5);
    let again = create(&sandbox, &[(ana, globex), (ana, acme)]).await;
    for r in &again {
        assert_eq!(r["error"], "InvalidValue", "{r}");
        assert_eq!(r["details"], ALREADY_MEMBER);
    }
    assert_eq!(sandbox.memberships().len(), 5, "nothing added twice");
}

#[tokio::test]
async fn an_existing_membership_may_be_answered_as_a_success() {
    let sandbox = Sandbox::start(config(true, ExistingMembership::Ok))
        .await
        .unwrap();
    let (ana, _, [_, globex, _]) = ids(&sandbox);
    let results = create(&sandbox, &[(ana, globex)]).await;
    assert_eq!(results[0]["status"], "Created", "{results:?}");
    assert_eq!(sandbox.memberships().len(), 2);
}

#[tokio::test]
async fn with_the_setting_off_a_member_cannot_join_another_organization() {
    let sandbox = Sandbox::start(config(false, ExistingMembership::Error))
        .await
        .unwrap();
    let (ana, bo, [acme, _, initech]) = ids(&sandbox);
    let results = create(&sandbox, &[(ana, initech), (bo, acme)]).await;
    assert_eq!(results[0]["error"], "InvalidValue", "{results:?}");
    assert!(results[1].get("error").is_none(), "{results:?}");
    let settings = get(&sandbox, "/api/v2/account/settings.json").await;
    assert_eq!(
        settings["settings"]["user"]["multiple_organizations"],
        false
    );
}

#[tokio::test]
async fn more_than_a_hundred_are_refused() {
    let sandbox = Sandbox::start(config(true, ExistingMembership::Error))
        .await
        .unwrap();
    let items: Vec<Value> = (0..101)
        .map(|i| json!({"user_id": i, "organization_id": 1}))
        .collect();
    let body = json!({"organization_memberships": items});
    let (status, answer) = call(&sandbox, Method::POST, CREATE_MANY, Some(body)).await;
    assert_eq!((status, &answer["error"]), (400, &json!("TooManyValues")));
}
