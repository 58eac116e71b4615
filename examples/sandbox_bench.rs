//! How many requests per second the sandbox serves to the real client on this machine.
//!
//! `cargo run --release --example sandbox_bench [REQUESTS] [CONCURRENCY]`. Two phases: `users/me`
//! (the smallest answer), then bulk `create_many` calls of 100 users with their jobs polled in
//! one `job_statuses/show_many` call, on a clock sped up 1000 times so jobs end at once. The
//! rate limit is lifted: this measures the sandbox and client, not Zendesk's budget. Every
//! request goes to 127.0.0.1, the run is bounded in count and stops by itself.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zdimport::sandbox::{Sandbox, SandboxConfig};
use zdimport::zendesk::{Client, ClientConfig, Credentials, Secret};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map_or(Ok(20_000), |a| a.parse())?;
    let concurrency: usize = args.next().map_or(Ok(16), |a| a.parse())?;
    let config = SandboxConfig {
        rate_limit: u32::MAX,
        job_limit: usize::MAX,
        speed: 1000.0,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await?;
    let credentials = Credentials::ApiToken {
        email: sandbox.config().admin_email.clone(),
        token: Secret::new("sandbox-api-token"),
    };
    let client = Client::new(ClientConfig::new(sandbox.url().clone(), credentials))?;

    let (count, took) = run(requests, concurrency, |_| {
        let client = client.clone();
        async move { client.me().await.map(drop).map_err(Error::from) }
    })
    .await?;
    report("users/me", count, took);

    let calls = (requests / 100).max(10);
    let (count, took) = run(calls, concurrency, |call| {
        let client = client.clone();
        async move { bulk_then_poll(&client, call).await }
    })
    .await?;
    report("create_many(100) + job_statuses", count, took);
    println!("users held: {}", sandbox.users().len());
    Ok(())
}

/// One bulk call and one status read: two requests.
async fn bulk_then_poll(client: &Client, call: usize) -> Result<(), Error> {
    let users: Vec<Value> = (0..100)
        .map(|i| json!({"name": format!("Bench {call}-{i}"), "email": format!("b{call}-{i}@example.com")}))
        .collect();
    let job = client.create_many(&users).await?.value;
    client.job_statuses(&[&job.id]).await?;
    Ok(())
}

/// Runs `total` tasks, `concurrency` at a time; returns requests sent and the time taken.
async fn run<F, Fut>(total: usize, concurrency: usize, task: F) -> Result<(usize, Duration), Error>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut done = 0;
    for i in 0..total {
        if set.len() >= concurrency
            && let Some(joined) = set.join_next().await
        {
            joined??;
            done += 1;
        }
        set.spawn(task(i));
    }
    while let Some(joined) = set.join_next().await {
        joined??;
        done += 1;
    }
    Ok((done, start.elapsed()))
}

fn report(what: &str, tasks: usize, took: Duration) {
    let requests = if what.starts_with("create_many") {
        tasks * 2
    } else {
        tasks
    };
    println!(
        "{what}: {requests} requests in {:.2}s = {:.0} requests/s",
        took.as_secs_f64(),
        requests as f64 / took.as_secs_f64()
    );
}
