//! The import engine at full tilt: 100,000 rows into a sandbox limited to 700 requests per
//! minute and 30 jobs, with the job times recorded on live accounts (5 s queued, 9.5 s per 100
//! users: `shared/zendesk/API.md`), its clock sped up, reporting users per simulated minute next
//! to the bound those limits allow, measured in the same run.
//!
//! `cargo bench --bench import [-- ROWS [SPEED]]`; with `SIDE_BY_SIDE=1`, half the rows are
//! created while the other half updates existing users, to measure a job limit per endpoint;
//! with `LAYOUT=full`, batches of 100 as before the last round was evened out (what `--concurrency
//! 1` lays out), to compare. The batches are laid out as the import lays them out for 30 jobs
//! (`payload::Layout`): whole rounds of 100, then the rest evened out.
//!
//! It also says where the time goes, from the engine's events: how long after the sandbox's
//! own time for its size each job's rows finished (the first round of 30, whose end no earlier
//! job foretells, apart), how long a freed job slot waits for its next send, and the bulk
//! requests and status polls against the rate limit. The sandbox runs as a separate `zdimport
//! sandbox` process, so the CPU time and peak memory reported are the engine's own (this
//! process: the plan, the client, the journal). Linux only for CPU and memory (`/proc`).
//!
//! The clock runs 10 times faster by default (100,000 rows take under a minute): every real
//! millisecond a request spends on a busy 2-core machine counts SPEED times in simulated time,
//! so a faster clock measures the machine more than the engine; with recorded job times of
//! 14.5 s a request's few milliseconds weigh far less than with the old 3 s jobs.
//!
//! The bound: each bulk request carries 100 users and counts once against the rate limit, so
//! at most `rate × 100` users per minute; and at most 30 jobs run at once, each taking the
//! sandbox's queue time plus 95 ms per user, so at most `30 × 100 / job time` users per
//! second. The lower of the two is the bound; polling must fit in what the rate leaves. With
//! recorded times the job limit is the bound: 30 × 100 / 14.5 s ≈ 12,400 users a minute,
//! against 70,000 a minute from the rate. No layout reaches it: the jobs run in whole rounds, so
//! the bench also prints the best the run's batches allow (30 jobs at once, none idle while one
//! is left, sends and polls taking no time) and the share of that reached.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use zdimport::import::{self, EngineOptions, ImportEvent, Journal, Outbox, RunInfo};
use zdimport::payload::{Batcher, JOB_LIMIT, Mode, User};
use zdimport::zendesk::{Client, ClientConfig, Credentials, Secret};

const RATE_PER_MINUTE: f64 = 700.0;
/// The sandbox's defaults, as recorded on live accounts: 5 s in the queue, 95 ms per user.
/// Jobs at once, for the bound.
const JOBS: f64 = JOB_LIMIT as f64;
const JOB_QUEUE_SECONDS: f64 = 5.0;
const JOB_USER_SECONDS: f64 = 0.095;
/// A job of 100 users.
const JOB_SECONDS: f64 = JOB_QUEUE_SECONDS + 100.0 * JOB_USER_SECONDS;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rows: u32 = args.first().map_or(Ok(100_000), |a| a.parse())?;
    let speed: f64 = args.get(1).map_or(Ok(10.0), |a| a.parse())?;
    let side_by_side = std::env::var_os("SIDE_BY_SIDE").is_some();
    let seed = tempfile::Builder::new().suffix(".json").tempfile()?;
    let extra = if side_by_side {
        write_seed(seed.path(), rows / 2)?;
        vec![
            "--job-limit-scope".to_owned(),
            "endpoint".to_owned(),
            "--seed-users".to_owned(),
            seed.path().display().to_string(),
        ]
    } else {
        Vec::new()
    };
    let (mut sandbox, url) = start_sandbox(speed, &extra)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = if side_by_side {
        runtime.block_on(side_by_side_bench(rows, speed, &url))
    } else {
        runtime.block_on(bench(rows, speed, &url))
    };
    let _killed = sandbox.kill();
    let _waited = sandbox.wait();
    result
}

/// `zdimport sandbox` on a free port; its first line names the URL.
fn start_sandbox(speed: f64, extra: &[String]) -> Result<(Child, String), Error> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zdimport"))
        .args([
            "sandbox",
            "--port",
            "0",
            "--rate-limit",
            "700",
            "--job-limit",
            "30",
        ])
        .args(["--speed", &speed.to_string()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Keep reading: a closed pipe would end the sandbox at its next line.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .last()
        .ok_or("the sandbox printed no URL")?
        .to_owned();
    Ok((child, url))
}

/// `LAYOUT=full`: batches of 100 as before the last round was evened out (and as `--concurrency
/// 1` lays them out); by default laid out for the 30 jobs the engine runs.
fn layout_jobs() -> usize {
    match std::env::var("LAYOUT").as_deref() {
        Ok("full") => 1,
        _ => JOB_LIMIT,
    }
}

fn plan(rows: u32) -> Result<Outbox, Error> {
    let mut plan = Outbox::new(Mode::Create);
    let mut batcher = Batcher::new(Mode::Create, layout_jobs());
    for i in 0..rows {
        let user = User {
            name: Some(format!("User {i}")),
            email: Some(format!("user{i}@example.com")),
            external_id: Some(format!("X{i:08}")),
            tags: Some(vec!["imported".into(), "bench".into()]),
            ..User::default()
        };
        for request in batcher.push(i + 2, user) {
            plan.push_request(&request)?;
        }
    }
    for request in batcher.finish() {
        plan.push_request(&request)?;
    }
    Ok(plan)
}

async fn bench(rows: u32, speed: f64, url: &str) -> Result<(), Error> {
    let (cpu_start, peak_start) = (cpu_seconds(), peak_kib());
    let plan = plan(rows)?;
    let (cpu_plan, peak_plan) = (cpu_seconds(), peak_kib());
    let sizes: Vec<usize> = plan.batches.iter().map(|b| b.rows.len()).collect();
    let firsts: Vec<u64> = plan.batches.iter().map(|b| b.first_index).collect();
    let sizes_for_timeline = sizes.clone();
    let credentials = Credentials::ApiToken {
        email: "admin@sandbox.example".into(),
        token: Secret::new("sandbox-api-token"),
    };
    let client = Client::new(ClientConfig::new(url.parse()?, credentials))?;
    let runs = tempfile::tempdir()?;
    let info = RunInfo {
        id: "bench".into(),
        mode: Mode::Create,
        rows: u64::from(rows),
        ..RunInfo::default()
    };
    let journal = Journal::create(runs.path(), &info, &plan)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ImportEvent>(32);
    let drain = tokio::spawn(async move {
        let mut timeline = Timeline {
            firsts,
            sizes: sizes_for_timeline,
            ..Timeline::default()
        };
        let mut buffer = Vec::with_capacity(32);
        while rx.recv_many(&mut buffer, 32).await > 0 {
            let now = Instant::now();
            for event in buffer.drain(..) {
                timeline.add(now, &event);
            }
        }
        timeline
    });
    let mut options = EngineOptions::for_speed(speed);
    if let Some(ms) = std::env::var("POLL_MS").ok().and_then(|v| v.parse().ok()) {
        options.poll_interval = Duration::from_millis(ms);
    }
    let started = Instant::now();
    let summary = import::run(&client, journal, tx, CancellationToken::new(), options).await?;
    let real = started.elapsed();
    let timeline = drain.await?;
    let (cpu_end, peak_end) = (cpu_seconds(), peak_kib());
    report(rows, speed, real, &summary, (timeline.waits, &sizes));
    timeline.report(started, speed);
    println!(
        "engine CPU: {:.2} s for the run ({:.2} s building the plan); peak memory {} MiB \
         (at start {} MiB, after the plan {} MiB)",
        cpu_end - cpu_plan,
        cpu_plan - cpu_start,
        peak_end / 1024,
        peak_start / 1024,
        peak_plan / 1024,
    );
    Ok(())
}

/// `rows` existing users `S{i}` for the update half.
fn write_seed(path: &std::path::Path, rows: u32) -> Result<(), Error> {
    let users: Vec<serde_json::Value> = (0..rows)
        .map(|i| {
            serde_json::json!({"name": format!("Seeded {i}"), "email": format!("s{i}@example.com"),
                "external_id": format!("S{i:08}")})
        })
        .collect();
    std::fs::write(path, serde_json::json!({ "users": users }).to_string())?;
    Ok(())
}

/// `SIDE_BY_SIDE=1`: half the rows created with `create_many` while the other half updates
/// existing users with `update_many`, two runs at once against a sandbox whose 30-job limit
/// counts each endpoint apart (a Zendesk help article says so; `zdimport doctor` cannot
/// settle it read-only). Reports the combined rate against the one-endpoint bound.
async fn side_by_side_bench(rows: u32, speed: f64, url: &str) -> Result<(), Error> {
    let half = rows / 2;
    let credentials = Credentials::ApiToken {
        email: "admin@sandbox.example".into(),
        token: Secret::new("sandbox-api-token"),
    };
    let client = Client::new(ClientConfig::new(url.parse()?, credentials))?;
    let create = plan(half)?;
    let mut update = Outbox::new(Mode::Update);
    let mut batcher = Batcher::new(Mode::Update, layout_jobs());
    for i in 0..half {
        let user = User {
            external_id: Some(format!("S{i:08}")),
            notes: Some("updated side by side".into()),
            ..User::default()
        };
        for request in batcher.push(i + 2, user) {
            update.push_request(&request)?;
        }
    }
    for request in batcher.finish() {
        update.push_request(&request)?;
    }
    let runs = tempfile::tempdir()?;
    let started = Instant::now();
    let (a, b) = tokio::join!(
        run_one(&client, create, runs.path(), "create", speed),
        run_one(&client, update, runs.path(), "update", speed)
    );
    let (a, b) = (a?, b?);
    let simulated = started.elapsed().as_secs_f64() * speed;
    let per_minute = f64::from(rows) / simulated * 60.0;
    let bound = (RATE_PER_MINUTE / 60.0 * 100.0).min(JOBS * 100.0 / JOB_SECONDS) * 60.0;
    println!("side by side, clock ×{speed}: create {a}; update {b}");
    println!(
        "{rows} rows in {simulated:.1} s simulated: {per_minute:.0} users/minute, {:.2}× the \
         one-endpoint bound of {bound:.0}: {:.1}% of the bound with 30 jobs per endpoint \
         ({:.0}; bulk requests {} + {})",
        per_minute / bound,
        per_minute / (2.0 * bound) * 100.0,
        2.0 * bound,
        a.requests,
        b.requests,
    );
    Ok(())
}

async fn run_one(
    client: &Client,
    plan: Outbox,
    runs: &std::path::Path,
    id: &str,
    speed: f64,
) -> Result<import::Summary, Error> {
    let info = RunInfo {
        id: id.into(),
        mode: plan.mode,
        rows: plan.rows() as u64,
        ..RunInfo::default()
    };
    let journal = Journal::create(runs, &info, &plan)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ImportEvent>(32);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let options = EngineOptions::for_speed(speed);
    let summary = import::run(client, journal, tx, CancellationToken::new(), options).await?;
    drain.await?;
    Ok(summary)
}

fn report(
    rows: u32,
    speed: f64,
    real: Duration,
    summary: &import::Summary,
    (waits, sizes): (usize, &[usize]),
) {
    let simulated = real.as_secs_f64() * speed;
    let achieved = f64::from(rows) / simulated;
    let by_rate = RATE_PER_MINUTE / 60.0 * 100.0;
    let by_jobs = JOBS * 100.0 / JOB_SECONDS;
    let bound = by_rate.min(by_jobs);
    println!(
        "{rows} rows, create mode, sandbox at {RATE_PER_MINUTE} requests/min, {JOB_LIMIT} jobs, \
         clock ×{speed}"
    );
    println!(
        "outcome: {summary} ({} bulk requests, {} polls: {:.0} requests a simulated minute of \
         the {RATE_PER_MINUTE} allowed; {waits} waits)",
        summary.requests,
        summary.polls,
        (summary.requests + summary.polls) as f64 / simulated * 60.0,
    );
    println!(
        "took {:.2} s real = {simulated:.1} s simulated: {:.0} users/simulated minute",
        real.as_secs_f64(),
        achieved * 60.0
    );
    println!(
        "bound: {:.0} users/minute = min(rate {:.0}, 30 jobs of {JOB_SECONDS} s {:.0}): {:.1}% \
         of the bound",
        bound * 60.0,
        by_rate * 60.0,
        by_jobs * 60.0,
        achieved / bound * 100.0
    );
    // Jobs of 100 users all take as long, so they run in rounds of 30: a last, partial round
    // caps what any engine reaches below the bound; the layout evens that round out.
    let best = f64::from(rows) / rounds_time(sizes);
    let (full, smaller) = sizes.iter().partition::<Vec<&usize>, _>(|&&s| s == 100);
    println!(
        "{} requests ({} of 100, {} of {}..{}): whole rounds of 30 jobs allow at most {:.0} \
         users/minute ({:.1}% of the bound): {:.1}% of that reached",
        sizes.len(),
        full.len(),
        smaller.len(),
        smaller.iter().copied().min().unwrap_or(&0),
        smaller.iter().copied().max().unwrap_or(&0),
        best * 60.0,
        best / bound * 100.0,
        achieved / best * 100.0
    );
}

/// How long the sandbox takes to run jobs of these sizes, in order, 30 at once with none
/// idle while one is left: the best any engine can do (sends and polls take no time).
fn rounds_time(sizes: &[usize]) -> f64 {
    let mut free = vec![0.0_f64; JOB_LIMIT];
    for &size in sizes {
        let (slot, at) = free
            .iter()
            .copied()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        free[slot] = at + JOB_QUEUE_SECONDS + JOB_USER_SECONDS * size as f64;
    }
    free.into_iter().fold(0.0, f64::max)
}

/// When each batch was sent and finished, from the engine's events: where the time goes.
#[derive(Default)]
struct Timeline {
    /// The first row index of each batch, and its users.
    firsts: Vec<u64>,
    sizes: Vec<usize>,
    waits: usize,
    /// By batch: first send, and when its rows finished.
    sent: std::collections::BTreeMap<usize, Instant>,
    finished: std::collections::BTreeMap<usize, Instant>,
}

impl Timeline {
    fn add(&mut self, now: Instant, event: &ImportEvent) {
        match event {
            ImportEvent::Waiting { .. } => self.waits += 1,
            ImportEvent::BatchSent { batch, .. } => {
                self.sent.entry(*batch).or_insert(now);
            }
            ImportEvent::RowsFinished(rows) => {
                for row in rows {
                    let batch = self.firsts.partition_point(|&f| f <= row.index);
                    self.finished.insert(batch.saturating_sub(1), now);
                }
            }
            _ => {}
        }
    }

    /// A batch's time from its send to its rows finished, as the engine saw it (send latency,
    /// Zendesk's job, the poll that saw it end); the gap from a job's end to the next send
    /// (the slot lying idle); and the tail after the last send.
    fn report(&self, started: Instant, speed: f64) {
        let sim = |d: Duration| d.as_secs_f64() * speed;
        // How long after the sandbox's own time for its size each job was seen finished: the
        // request's way there and back, and the poll that saw it end.
        let late: Vec<(Instant, f64)> = self
            .sent
            .iter()
            .filter_map(|(b, at)| {
                let took = sim(self.finished.get(b)?.duration_since(*at));
                let own = JOB_QUEUE_SECONDS + JOB_USER_SECONDS * *self.sizes.get(*b)? as f64;
                Some((*at, took - own))
            })
            .collect();
        let mut by_send = late.clone();
        by_send.sort_by_key(|(at, _)| *at);
        let (first, later): (Vec<f64>, Vec<f64>) = (
            by_send.iter().take(JOB_LIMIT).map(|(_, l)| *l).collect(),
            by_send.iter().skip(JOB_LIMIT).map(|(_, l)| *l).collect(),
        );
        let mut ends: Vec<Instant> = self.finished.values().copied().collect();
        ends.sort();
        let sends: Vec<Instant> = {
            let mut v: Vec<Instant> = self.sent.values().copied().collect();
            v.sort();
            v
        };
        // The k-th send after the first 30 fills the slot the (k-30)-th job end freed.
        let gaps: Vec<f64> = sends
            .iter()
            .skip(JOB_LIMIT)
            .zip(&ends)
            .map(|(send, end)| sim(send.saturating_duration_since(*end)))
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let last_send = sends.last().map_or(0.0, |s| sim(s.duration_since(started)));
        let first_send = sends
            .first()
            .map_or(0.0, |s| sim(s.duration_since(started)));
        println!(
            "where the time goes (simulated): first send after {first_send:.2} s; a job's rows \
             finish {:.3} s after the sandbox's own job time in the first round of 30 (max {:.3}), \
             {:.3} s later on (max {:.3}); a freed slot waits {:.3} s for its next send (max \
             {:.3}); last send at {last_send:.1} s",
            mean(&first),
            first.iter().copied().fold(0.0, f64::max),
            mean(&later),
            later.iter().copied().fold(0.0, f64::max),
            mean(&gaps),
            gaps.iter().copied().fold(0.0, f64::max),
        );
    }
}

/// User + system CPU of this process, from `/proc/self/stat` (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory (VmHWM) in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
