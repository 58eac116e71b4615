//! The requests and time a plan needs for 10,000 and 100,000 rows at 700 requests/minute,
//! next to the lower bound (one `show_many` per 100 rows), in the same run.
//!
//! `cargo bench --bench plan [-- ROWS…]`. The sandbox's clock runs 20 times faster than real
//! time: slow enough that its 700-requests-per-simulated-minute limit, not this machine, is
//! what bounds the lookups, so the simulated minutes are what an Enterprise account would
//! take. Half the rows are users the account already has (half of those with another plan).

use std::time::{Duration, Instant};

use serde_json::json;
use zdimport::payload::{FieldValue, User, UserFields};
use zdimport::plan::{self, PlanInput, PlanOptions};
use zdimport::sandbox::{Sandbox, SandboxConfig};
use zdimport::zendesk::{Client, ClientConfig, Credentials, Secret};

const RATE: u32 = 700;
const SPEED: f64 = 20.0;

/// How the file names its users.
#[derive(Clone, Copy)]
enum Keyed {
    /// External ids (and emails): `show_many`, 100 per call.
    ExternalId,
    /// Emails only: one search per row.
    EmailOnly,
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if args.is_empty() {
        vec![10_000, 100_000]
    } else {
        args
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "plan lookups at {RATE} requests/minute (sandbox clock x{SPEED}); lower bound = rows/100"
    );
    println!(
        "{:>8} {:<12} {:>9} {:>7} {:>6} {:>6} {:>9} {:>9} {:>6} {:>7}",
        "rows",
        "keyed by",
        "requests",
        "bound",
        "ratio",
        "429s",
        "sim min",
        "bound min",
        "ratio",
        "real s"
    );
    for rows in sizes {
        runtime.block_on(measure(rows, Keyed::ExternalId));
        if rows <= 10_000 {
            runtime.block_on(measure(rows, Keyed::EmailOnly));
        }
    }
}

async fn measure(rows: usize, keyed: Keyed) {
    let existing = (0..rows)
        .step_by(2)
        .map(|i| {
            json!({"name": format!("User {i}"), "email": format!("u{i}@example.com"),
                   "external_id": format!("C-{i}"), "user_fields": {"plan": "silver"}})
        })
        .collect();
    let config = SandboxConfig {
        speed: SPEED,
        rate_limit: RATE,
        users: existing,
        user_fields: vec![json!({"key": "plan", "type": "dropdown", "title": "Plan",
            "custom_field_options": [{"name": "Gold", "value": "gold"},
                                     {"name": "Silver", "value": "silver"}]})],
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.expect("sandbox");
    let credentials = Credentials::ApiToken {
        email: sandbox.config().admin_email.clone(),
        token: Secret::new("sandbox-api-token"),
    };
    let mut client_config = ClientConfig::new(sandbox.url().clone(), credentials);
    client_config.timeout = Duration::from_secs(30);
    let client = Client::new(client_config).expect("client");
    let rate = client.user_fields().await.expect("fields").rate;
    let input = input(rows, keyed);
    let sim_start = sandbox.clock().now();
    let started = Instant::now();
    let plan = plan::build(&client, input, PlanOptions::default(), &rate)
        .await
        .expect("plan");
    let real = started.elapsed().as_secs_f64();
    let sim_minutes = (sandbox.clock().now() - sim_start).as_secs_f64() / 60.0;
    let bound = rows.div_ceil(100) as f64;
    let counts = plan.counts();
    assert_eq!(counts.total, rows);
    let requests = plan.spent.requests - plan.spent.rate_limited;
    let name = match keyed {
        Keyed::ExternalId => "external_id",
        Keyed::EmailOnly => "email only",
    };
    let bound_minutes = bound / f64::from(RATE);
    println!(
        "{rows:>8} {name:<12} {requests:>9} {bound:>7} {:>6.2} {:>6} {sim_minutes:>9.2} \
         {bound_minutes:>9.2} {:>6.2} {real:>7.2}",
        requests as f64 / bound,
        plan.spent.rate_limited,
        sim_minutes / bound_minutes,
    );
}

/// Every row names a user; even rows exist, and every fourth row changes its plan.
fn input(rows: usize, keyed: Keyed) -> PlanInput {
    let users = (0..rows)
        .map(|i| {
            let plan = if i % 4 == 0 { "gold" } else { "silver" };
            let user = User {
                name: Some(format!("User {i}")),
                email: Some(format!("u{i}@example.com")),
                external_id: match keyed {
                    Keyed::ExternalId => Some(format!("C-{i}")),
                    Keyed::EmailOnly => None,
                },
                user_fields: UserFields(vec![("plan".into(), FieldValue::Text(plan.into()))]),
                ..User::default()
            };
            (u32::try_from(i).expect("rows fit u32") + 2, user)
        })
        .collect();
    PlanInput {
        users,
        invalid: Vec::new(),
        ..PlanInput::default()
    }
}
