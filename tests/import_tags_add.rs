//! `--tags add` (issue 15, item 5) against a sandbox: the plan sends each found user's tags
//! with the row's added, shows only the tags added, the import keeps every tag the users held,
//! a user the plan did not find gets the row's tags, and planning again finds nothing to change.

mod common;

use serde_json::json;
use zdimport::payload::{Mode, User};
use zdimport::pipeline::{Report, outbox_from};
use zdimport::plan::{self, Plan, PlanInput, PlanOptions, Tags};
use zdimport::sandbox::{Sandbox, SandboxConfig};
use zdimport::zendesk::Client;

fn user(i: u32) -> User {
    User {
        name: Some(format!("User {i}")),
        email: Some(format!("user{i}@example.com")),
        external_id: Some(format!("X{i}")),
        tags: Some(vec!["newsletter".into(), "VIP".into()]),
        ..User::default()
    }
}

async fn plan_of(client: &Client, tags: Tags) -> Plan {
    let rate = client.me().await.expect("me").rate;
    let input = PlanInput {
        users: (0..4).map(|i| (i + 2, user(i))).collect(),
        ..PlanInput::default()
    };
    let options = PlanOptions {
        mode: Mode::Upsert,
        tags,
        ..PlanOptions::default()
    };
    plan::build(client, input, options, &rate)
        .await
        .expect("plan")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_add_keeps_every_tag_held_and_plans_no_change_after() {
    let held = |i: u32, tags: serde_json::Value| {
        json!({"name": format!("User {i}"), "email": format!("user{i}@example.com"),
            "external_id": format!("X{i}"), "tags": tags})
    };
    let config = SandboxConfig {
        speed: 200.0,
        // User 0 holds two other tags, user 1 one of the row's already; 2 and 3 are new.
        users: vec![held(0, json!(["beta", "gold"])), held(1, json!(["vip"]))],
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let client = common::client(&sandbox);
    let plan = plan_of(&client, Tags::Add).await;
    assert_eq!(
        common::unchanged_or_what(&plan),
        [
            "row 2: update tags: adds \"newsletter\", \"VIP\"",
            "row 3: update tags: adds \"newsletter\"",
            "row 4: New",
            "row 5: New",
        ]
    );
    let sent: Vec<Option<Vec<String>>> = plan
        .rows
        .iter()
        .map(|r| r.user.as_ref().unwrap().tags.clone())
        .collect();
    assert_eq!(
        sent[0].as_deref().unwrap(),
        ["beta", "gold", "newsletter", "VIP"],
        "what is sent: the held tags, then the row's"
    );
    assert_eq!(
        sent[2].as_deref().unwrap(),
        ["newsletter", "VIP"],
        "a new user"
    );
    let outbox = outbox_from(&plan, (false, 30), &Report::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let journal =
        zdimport::import::Journal::create(tmp.path(), &common::run_info("r", &outbox), &outbox)
            .unwrap();
    let options = zdimport::import::EngineOptions::for_speed(200.0);
    let summary = common::run_to_end(&client, journal, &options)
        .await
        .unwrap();
    assert_eq!((summary.updated, summary.created), (2, 2), "{summary}");
    let tags = |i: u32| sandbox.user_by_external_id(&format!("X{i}")).unwrap()["tags"].clone();
    assert_eq!(tags(0), json!(["beta", "gold", "newsletter", "vip"]));
    assert_eq!(tags(1), json!(["vip", "newsletter"]));
    assert_eq!(tags(2), json!(["newsletter", "vip"]));
    let again = plan_of(&client, Tags::Add).await;
    assert_eq!(common::unchanged_or_what(&again), Vec::<String>::new());
}
