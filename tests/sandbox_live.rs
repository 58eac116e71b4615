//! The sandbox as a live account answers (`shared/zendesk/API.md`), and each variant it offers
//! where sources or accounts differ: search lag, identities, dates, time zones, account
//! settings, pages, organizations by name, rate headers.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use zdimport::sandbox::{
    DateFields, JobLimitAnswer, JobLimitScope, OrganizationByName, RateHeaders, Sandbox,
    SandboxConfig, SandboxHandle, UserSettings,
};

mod sandbox_http;
use sandbox_http::{bulk, call, get, job_results};

const CREATE_MANY: &str = "/api/v2/users/create_many.json";
const UPDATE_MANY: &str = "/api/v2/users/update_many.json";

async fn start(config: SandboxConfig) -> SandboxHandle {
    Sandbox::start(config).await.expect("sandbox starts")
}

async fn search_count(sandbox: &SandboxHandle, query: &str) -> u64 {
    let found = get(sandbox, &format!("/api/v2/users/search.json?{query}")).await;
    found["count"].as_u64().expect("count")
}

#[tokio::test]
async fn jobs_take_the_recorded_times() {
    let sandbox = start(SandboxConfig::default()).await;
    let users: Vec<Value> = (0..100).map(|i| json!({"name": format!("U{i}")})).collect();
    let job = bulk(&sandbox, Method::POST, CREATE_MANY, json!(users)).await;
    let path = format!("/api/v2/job_statuses/{job}.json");
    // Queued 5 s, then 9.5 s for 100 users (recorded: 8–11 s).
    for (at_ms, want) in [(4_900, "queued"), (5_200, "working"), (14_300, "working")] {
        let now = sandbox.clock().now();
        sandbox
            .clock()
            .advance(Duration::from_millis(at_ms).saturating_sub(now));
        let status = get(&sandbox, &path).await;
        assert_eq!(status["job_status"]["status"], want, "at {at_ms} ms");
    }
    sandbox.clock().advance(Duration::from_millis(400));
    let status = get(&sandbox, &path).await;
    assert_eq!(status["job_status"]["status"], "completed");
}

#[tokio::test]
async fn search_lag_is_a_minute_of_sandbox_time_by_default() {
    let sandbox = start(SandboxConfig::default()).await;
    let users = json!([{"name": "Ann", "email": "ann@x.com", "external_id": "A-1"}]);
    let job = bulk(&sandbox, Method::POST, CREATE_MANY, users).await;
    // The job is done 5.095 s in; 10 s in, the user exists but search does not know it yet.
    sandbox.clock().advance(Duration::from_secs(10));
    let status = get(&sandbox, &format!("/api/v2/job_statuses/{job}.json")).await;
    assert_eq!(status["job_status"]["status"], "completed");
    assert_eq!(search_count(&sandbox, "query=email:ann@x.com").await, 0);
    assert_eq!(search_count(&sandbox, "external_id=A-1").await, 0);
    let shown = get(&sandbox, "/api/v2/users/show_many.json?external_ids=A-1").await;
    assert_eq!(shown["count"], 1, "show_many reads directly");
    sandbox.clock().advance(Duration::from_secs(60));
    assert_eq!(search_count(&sandbox, "query=email:ann@x.com").await, 1);
    assert_eq!(search_count(&sandbox, "external_id=A-1").await, 1);

    let config = SandboxConfig {
        search_lag: Duration::ZERO,
        ..SandboxConfig::default()
    };
    let sandbox = start(config).await;
    let users = json!([{"name": "Bo", "email": "bo@x.com"}]);
    let job = bulk(&sandbox, Method::POST, CREATE_MANY, users).await;
    sandbox.clock().advance(Duration::from_secs(6));
    let status = get(&sandbox, &format!("/api/v2/job_statuses/{job}.json")).await;
    assert_eq!(status["job_status"]["status"], "completed");
    assert_eq!(search_count(&sandbox, "query=email:bo@x.com").await, 1);
}

#[tokio::test]
async fn an_email_sent_for_an_existing_user_is_a_secondary_identity() {
    let config = SandboxConfig {
        users: vec![json!({"name": "Ed", "email": "ed@x.com", "external_id": "E-1"})],
        ..SandboxConfig::default()
    };
    let sandbox = start(config).await;
    let ed = sandbox.user_by_external_id("E-1").unwrap()["id"].clone();
    let users = json!([{"id": ed, "email": "ed.new@x.com"}]);
    let job = bulk(&sandbox, Method::PUT, UPDATE_MANY, users).await;
    assert_eq!(job_results(&sandbox, &job).await[0]["status"], "Updated");
    let user = get(&sandbox, &format!("/api/v2/users/{ed}.json")).await;
    assert_eq!(user["user"]["email"], "ed@x.com", "the primary stays");
    let list = get(&sandbox, &format!("/api/v2/users/{ed}/identities.json")).await;
    let pairs: Vec<(Value, Value)> = list["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["value"].clone(), i["primary"].clone()))
        .collect();
    assert_eq!(
        pairs,
        [
            (json!("ed@x.com"), json!(true)),
            (json!("ed.new@x.com"), json!(false))
        ]
    );
    // Search finds a user by any of its emails, a new one after the lag; nobody else may
    // take one.
    assert_eq!(search_count(&sandbox, "query=email:ed.new@x.com").await, 0);
    sandbox.clock().advance(Duration::from_secs(60));
    assert_eq!(search_count(&sandbox, "query=email:ed.new@x.com").await, 1);
    assert_eq!(search_count(&sandbox, "query=email:ed@x.com").await, 1);
    let users = json!([{"name": "Other", "email": "ED.NEW@x.com"}]);
    let job = bulk(&sandbox, Method::POST, CREATE_MANY, users).await;
    let refused = &job_results(&sandbox, &job).await[0];
    assert_eq!(
        refused["details"],
        "Email: ED.NEW@x.com is already being used by another user"
    );
    // make_primary: the secondary becomes the user's email.
    let second = list["identities"][1]["id"].clone();
    let path = format!("/api/v2/users/{ed}/identities/{second}/make_primary");
    let (status, after) = call(&sandbox, Method::PUT, &path, None).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["identities"][1]["primary"], true);
    assert_eq!(after["identities"][0]["primary"], false);
    let user = get(&sandbox, &format!("/api/v2/users/{ed}.json")).await;
    assert_eq!(user["user"]["email"], "ed.new@x.com");
    let path = format!("/api/v2/users/{ed}/identities/1/make_primary");
    let (status, _) = call(&sandbox, Method::PUT, &path, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn dates_read_back_as_date_times_and_time_zones_as_zendesk_stores_them() {
    let cases = [
        (DateFields::DateTimeOffset, "2027-01-01T00:00:00+00:00"),
        (DateFields::DateTimeZulu, "2027-01-01T00:00:00Z"),
        (DateFields::AsSent, "2027-01-01"),
    ];
    for (date_fields, want) in cases {
        let config = SandboxConfig {
            user_fields: vec![json!({"key": "start", "type": "date", "title": "Start"})],
            date_fields,
            ..SandboxConfig::default()
        };
        let sandbox = start(config).await;
        let users = json!([{"name": "A", "user_fields": {"start": "2027-01-01"},
            "time_zone": "Asia/Tokyo", "iana_time_zone": "Europe/Berlin"}]);
        let job = bulk(&sandbox, Method::POST, CREATE_MANY, users).await;
        let id = job_results(&sandbox, &job).await[0]["id"].clone();
        let user = &get(&sandbox, &format!("/api/v2/users/{id}.json")).await["user"];
        assert_eq!(user["user_fields"]["start"], want, "{date_fields}");
        assert_eq!(user["time_zone"], "Tokyo");
        assert_eq!(
            user["iana_time_zone"], "Asia/Tokyo",
            "iana_time_zone is read-only"
        );
    }
}

#[tokio::test]
async fn account_settings_decide_what_happens_to_tags_and_phones() {
    let config = SandboxConfig {
        user_settings: UserSettings {
            tagging: false,
            end_user_phone_number_validation: true,
            ..UserSettings::default()
        },
        ..SandboxConfig::default()
    };
    let sandbox = start(config).await;
    let settings = get(&sandbox, "/api/v2/account/settings.json").await;
    assert_eq!(settings["settings"]["user"]["tagging"], false);
    assert_eq!(
        settings["settings"]["user"]["end_user_phone_number_validation"],
        true
    );
    let users = json!([
        {"name": "A", "phone": "030 1234567"},
        {"name": "B", "phone": "+49301234567", "tags": ["vip"]}
    ]);
    let job = bulk(&sandbox, Method::POST, CREATE_MANY, users).await;
    let results = job_results(&sandbox, &job).await;
    assert_eq!(results[0]["index"], 0);
    assert_eq!(
        results[0]["details"],
        "Phone 030 1234567 is not properly formatted"
    );
    let b = &get(
        &sandbox,
        &format!("/api/v2/users/{}.json", results[1]["id"]),
    )
    .await["user"];
    assert_eq!(b["phone"], "+49301234567");
    assert_eq!(b["tags"], json!([]), "tagging off: tags ignored");

    // The default account: tags kept, phones stored as sent, a welcome email per new user.
    let sandbox = start(SandboxConfig::default()).await;
    let users = json!([{"name": "C", "email": "c@x.com", "phone": "030 1", "tags": ["VIP"]},
        {"name": "D", "email": "d@x.com", "skip_verify_email": true}]);
    let job = bulk(&sandbox, Method::POST, CREATE_MANY, users).await;
    let id = job_results(&sandbox, &job).await[0]["id"].clone();
    let c = &get(&sandbox, &format!("/api/v2/users/{id}.json")).await["user"];
    assert_eq!(
        (&c["phone"], &c["tags"]),
        (&json!("030 1"), &json!(["vip"]))
    );
    assert_eq!(sandbox.welcome_emails(), 1, "skip_verify_email sends none");
}

#[tokio::test]
async fn user_fields_come_in_pages_of_100() {
    let fields: Vec<Value> = (0..150)
        .map(|i| json!({"key": format!("f{i}"), "type": "text", "title": format!("F{i}")}))
        .collect();
    let config = SandboxConfig {
        user_fields: fields,
        ..SandboxConfig::default()
    };
    let sandbox = start(config).await;
    let first = get(&sandbox, "/api/v2/user_fields.json").await;
    assert_eq!(first["user_fields"].as_array().unwrap().len(), 100);
    assert_eq!(first["count"], 150);
    assert!(first["previous_page"].is_null());
    let next = first["next_page"].as_str().expect("a next page");
    let path = next.strip_prefix(sandbox.url().as_str().trim_end_matches('/'));
    let second = get(&sandbox, path.expect("a sandbox URL")).await;
    let keys: Vec<&str> = second["user_fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert_eq!(keys.len(), 50);
    assert_eq!((keys[0], keys[49]), ("f100", "f149"));
    assert!(second["next_page"].is_null());
    assert!(second["previous_page"].is_string());
}

#[tokio::test]
async fn organizations_named_in_a_bulk_body_by_option() {
    let cases = [
        (OrganizationByName::Ignore, [false, false], false),
        (OrganizationByName::Create, [true, true], true),
        (OrganizationByName::Refuse, [true, false], false),
    ];
    for (rule, joined, created) in cases {
        let config = SandboxConfig {
            organizations: vec!["Acme".into()],
            organization_by_name: rule,
            ..SandboxConfig::default()
        };
        let sandbox = start(config).await;
        let users = json!([{"name": "A", "organization": {"name": "acme"}},
            {"name": "B", "organization": {"name": "Initech"}}]);
        let job = bulk(&sandbox, Method::POST, CREATE_MANY, users).await;
        let results = job_results(&sandbox, &job).await;
        for (i, joins) in joined.iter().enumerate() {
            let id = &results[i]["id"];
            let refused = results[i]["error"].is_string();
            let user = if refused {
                Value::Null
            } else {
                get(&sandbox, &format!("/api/v2/users/{id}.json")).await["user"].clone()
            };
            assert_eq!(user["organization_id"].is_u64(), *joins, "{rule} row {i}");
        }
        let refused = results[1]["details"] == "Organization: Initech does not exist";
        assert_eq!(refused, rule == OrganizationByName::Refuse, "{rule}");
        let found = get(&sandbox, "/api/v2/organizations/autocomplete.json?name=ini").await;
        assert_eq!(found["count"] == 1, created, "{rule}");
    }
}

#[tokio::test]
async fn organizations_list_in_pages_and_show_many() {
    let config = SandboxConfig {
        organizations: (0..120).map(|i| format!("Org {i:03}")).collect(),
        ..SandboxConfig::default()
    };
    let sandbox = start(config).await;
    let first = get(&sandbox, "/api/v2/organizations.json").await;
    assert_eq!(first["organizations"].as_array().unwrap().len(), 100);
    assert_eq!(first["count"], 120);
    let second = get(&sandbox, "/api/v2/organizations.json?page=2").await;
    assert_eq!(second["organizations"][19]["name"], "Org 119");
    let ids = format!(
        "{},{}",
        first["organizations"][0]["id"], second["organizations"][0]["id"]
    );
    let many = get(
        &sandbox,
        &format!("/api/v2/organizations/show_many.json?ids={ids}"),
    )
    .await;
    let names: Vec<&Value> = many["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["name"])
        .collect();
    assert_eq!(names, [&json!("Org 000"), &json!("Org 100")]);
    let found = get(
        &sandbox,
        "/api/v2/organizations/autocomplete.json?name=org%2011",
    )
    .await;
    assert_eq!(found["count"], 10, "Org 110 to Org 119");
}

/// The rate headers of a `users/me` answer and of a bulk answer, by name.
async fn rate_header_names(sandbox: &SandboxHandle) -> [Vec<String>; 2] {
    let client = reqwest::Client::new();
    let auth = (
        format!("{}/token", sandbox.config().admin_email),
        "sandbox-api-token",
    );
    let me = sandbox.url().join("/api/v2/users/me.json").unwrap();
    let bulk = sandbox.url().join(CREATE_MANY).unwrap();
    let answers = [
        client.get(me).basic_auth(&auth.0, Some(auth.1)).send(),
        client
            .post(bulk)
            .basic_auth(&auth.0, Some(auth.1))
            .json(&json!({"users": [{"name": "A"}]}))
            .send(),
    ];
    let mut names = [Vec::new(), Vec::new()];
    for (slot, answer) in names.iter_mut().zip(answers) {
        let answer = answer.await.unwrap();
        *slot = answer
            .headers()
            .keys()
            .map(|k| k.as_str().to_owned())
            .filter(|k| k.contains("rate"))
            .collect();
        slot.sort();
    }
    names
}

#[tokio::test]
async fn rate_headers_are_spelled_as_recorded_or_as_documented() {
    let x = ["x-rate-limit", "x-rate-limit-remaining"];
    let recorded = ["rate-limit", "rate-limit-remaining", "rate-limit-reset"];
    let documented = ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"];
    let sorted = |parts: &[&[&str]]| {
        let mut all: Vec<String> = parts.concat().iter().map(|s| (*s).to_owned()).collect();
        all.sort();
        all
    };
    let cases = [
        (
            RateHeaders::Recorded,
            sorted(&[&x]),
            sorted(&[&x, &recorded]),
        ),
        (
            RateHeaders::Documented,
            sorted(&[&x, &documented]),
            sorted(&[&x, &documented]),
        ),
        (
            RateHeaders::Both,
            sorted(&[&x, &documented]),
            sorted(&[&x, &recorded, &documented]),
        ),
    ];
    for (rate_headers, on_me, on_bulk) in cases {
        let config = SandboxConfig {
            rate_headers,
            ..SandboxConfig::default()
        };
        let sandbox = start(config).await;
        let [me, bulk] = rate_header_names(&sandbox).await;
        assert_eq!((me, bulk), (on_me, on_bulk), "{rate_headers}");
    }
}

#[tokio::test]
async fn the_job_limit_counts_the_account_or_each_endpoint() {
    for (scope, other_endpoint) in [
        (JobLimitScope::Account, 429),
        (JobLimitScope::Endpoint, 200),
    ] {
        let config = SandboxConfig {
            job_limit: 1,
            job_limit_scope: scope,
            users: vec![json!({"name": "Ed", "external_id": "E-1"})],
            ..SandboxConfig::default()
        };
        let sandbox = start(config).await;
        let body = |users: Value| Some(json!({ "users": users }));
        let create = body(json!([{"name": "A"}]));
        let (first, _) = call(&sandbox, Method::POST, CREATE_MANY, create.clone()).await;
        let (second, refusal) = call(&sandbox, Method::POST, CREATE_MANY, create).await;
        assert_eq!((first, second), (200, 429), "{scope}");
        assert_eq!(refusal["error"], "TooManyJobs");
        let update = body(json!([{"external_id": "E-1", "name": "Ed 2"}]));
        let (status, _) = call(&sandbox, Method::PUT, UPDATE_MANY, update).await;
        assert_eq!(status, other_endpoint, "{scope}");
    }
}

#[tokio::test]
async fn a_bulk_call_over_the_job_limit_is_refused_in_the_form_chosen() {
    let forms = [
        (JobLimitAnswer::TooManyJobs, 429, true, true),
        (JobLimitAnswer::Bare429, 429, false, false),
        (JobLimitAnswer::BadRequest, 400, false, true),
    ];
    for (job_limit_answer, want, retry_after, names_jobs) in forms {
        let config = SandboxConfig {
            job_limit: 1,
            job_limit_answer,
            ..SandboxConfig::default()
        };
        let sandbox = start(config).await;
        let url = sandbox.url().join(CREATE_MANY).unwrap();
        let client = reqwest::Client::new();
        let mut last = None;
        for _ in 0..2 {
            let answer = client
                .post(url.clone())
                .basic_auth(
                    format!("{}/token", sandbox.config().admin_email),
                    Some("sandbox-api-token"),
                )
                .json(&json!({"users": [{"name": "A"}]}))
                .send()
                .await
                .unwrap();
            last = Some(answer);
        }
        let answer = last.unwrap();
        assert_eq!(answer.status().as_u16(), want, "{job_limit_answer}");
        assert_eq!(
            answer.headers().contains_key("retry-after"),
            retry_after,
            "{job_limit_answer}"
        );
        let text = answer.text().await.unwrap();
        assert_eq!(
            text.contains("TooManyJobs"),
            names_jobs,
            "{job_limit_answer}: {text}"
        );
    }
}
