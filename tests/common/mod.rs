//! What the import tests share: the sandbox client, generated rows, the event collector and
//! the no-duplicate check.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;
use tokio_util::sync::CancellationToken;
use zdimport::import::{
    self, EngineOptions, ImportError, ImportEvent, Journal, Outbox, Outcome, RowOutcome, RunInfo,
    Summary,
};
use zdimport::payload::{Batcher, Mode, User};
use zdimport::plan::{Action, Plan};
use zdimport::sandbox::SandboxHandle;
use zdimport::zendesk::{Client, ClientConfig, Credentials, Secret};

/// The sample account's seed: three users, custom fields and organizations.
pub const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/sandbox_seed.json");

/// The binary with its config and data dirs in `home`, keyring in memory, and no account or
/// credentials from the environment.
pub fn command(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_zdimport"));
    cmd.env("ZDIMPORT_CONFIG_DIR", home.join("config"))
        .env("ZDIMPORT_DATA_DIR", home.join("data"))
        .env("ZDIMPORT_KEYRING", "memory")
        .stdin(std::process::Stdio::null());
    for name in [
        "ZENDESK_URL",
        "ZENDESK_SUBDOMAIN",
        "ZENDESK_OAUTH_TOKEN",
        "ZENDESK_CLIENT_ID",
        "ZENDESK_CLIENT_SECRET",
        "ZENDESK_EMAIL",
        "ZENDESK_API_TOKEN",
    ] {
        cmd.env_remove(name);
    }
    cmd
}

/// `rows` users with a name and an email, as a CSV whose headers auto-map.
pub fn users_csv(dir: &Path, rows: usize) -> PathBuf {
    let path = dir.join("users.csv");
    let mut text = String::from("name,email\n");
    for i in 0..rows {
        text.push_str(&format!("User {i},user{i}@example.com\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The sample account's custom fields (plan, renewal_date, seats) and no users.
pub fn fields_only_seed(dir: &Path) -> PathBuf {
    let seed: serde_json::Value = serde_json::from_slice(&std::fs::read(SEED).unwrap()).unwrap();
    let path = dir.join("fields.json");
    let fields = serde_json::json!({ "user_fields": seed["user_fields"] });
    std::fs::write(&path, fields.to_string()).unwrap();
    path
}

pub fn client(sandbox: &SandboxHandle) -> Client {
    let credentials = Credentials::ApiToken {
        email: sandbox.config().admin_email.clone(),
        token: Secret::new("sandbox-api-token"),
    };
    let mut config = ClientConfig::new(sandbox.url().clone(), credentials);
    config.timeout = Duration::from_secs(5);
    Client::new(config).expect("client")
}

/// The user of data row `i` (sheet row `i + 2`) as the sandbox would hold it.
pub fn row_user(i: u32, keyless: bool) -> Value {
    if keyless {
        return json!({"name": format!("User {i}")});
    }
    json!({
        "name": format!("User {i}"),
        "email": format!("user{i}@example.com"),
        "external_id": format!("X{i}"),
    })
}

/// `rows` users in batches of 100 from sheet row 2, then `skipped` rows refused by validation.
pub fn plan_of(mode: Mode, rows: u32, skipped: u32, keyless: bool) -> Outbox {
    plan_of_users(mode, rows, skipped, |i| User {
        name: Some(format!("User {i}")),
        email: (!keyless).then(|| format!("user{i}@example.com")),
        external_id: (!keyless).then(|| format!("X{i}")),
        ..User::default()
    })
}

/// As [`plan_of`], each row's user made by `user`.
pub fn plan_of_users(mode: Mode, rows: u32, skipped: u32, user: impl Fn(u32) -> User) -> Outbox {
    let mut plan = Outbox::new(mode);
    // One job at a time: batches of 100 as run folders made before the last round was
    // evened out hold them, so the scenarios' batch numbers stay put.
    let mut batcher = Batcher::new(mode, 1);
    for i in 0..rows {
        for request in batcher.push(i + 2, user(i)) {
            plan.push_request(&request).unwrap();
        }
    }
    for request in batcher.finish() {
        plan.push_request(&request).unwrap();
    }
    for j in 0..skipped {
        plan.skip(rows + 2 + j, "'x' is not a valid email address");
    }
    plan
}

/// What the events said, over one or more runs of the same import.
#[derive(Debug, Default)]
pub struct Collected {
    /// Every RowsFinished outcome, in order, over all runs.
    pub finished: Vec<RowOutcome>,
    pub batches_sent: usize,
    pub waits: usize,
    pub started: usize,
    pub finished_events: usize,
}

impl Collected {
    pub fn merge(&mut self, other: Collected) {
        self.finished.extend(other.finished);
        self.batches_sent += other.batches_sent;
        self.waits += other.waits;
        self.started += other.started;
        self.finished_events += other.finished_events;
    }

    /// Every row announced finished exactly once over all runs.
    pub fn exactly_once(&self, rows: u32, name: &str) -> BTreeMap<u32, RowOutcome> {
        let mut by_row = BTreeMap::new();
        for o in &self.finished {
            let again = by_row.insert(o.row, o.clone());
            assert!(
                again.is_none(),
                "{name}: row {} finished twice: {again:?} then {o:?}",
                o.row
            );
        }
        assert_eq!(by_row.len(), rows as usize, "{name}: every row finished");
        assert_eq!(
            self.finished_events, self.started,
            "{name}: one Finished per run"
        );
        by_row
    }
}

/// Reads events until the engine drops its sender; cancels after `cancel_after` batches.
pub async fn collect(
    mut rx: Receiver<ImportEvent>,
    cancel: CancellationToken,
    cancel_after: Option<usize>,
) -> Collected {
    let mut got = Collected::default();
    let mut buffer = Vec::with_capacity(32);
    while rx.recv_many(&mut buffer, 32).await > 0 {
        for event in buffer.drain(..) {
            match event {
                ImportEvent::Started { .. } => got.started += 1,
                ImportEvent::BatchSent { .. } => got.batches_sent += 1,
                ImportEvent::RowsFinished(rows) => got.finished.extend(rows),
                ImportEvent::Waiting { .. } => got.waits += 1,
                ImportEvent::Finished(_) => got.finished_events += 1,
                _ => {}
            }
        }
        if cancel_after.is_some_and(|n| got.batches_sent >= n) {
            cancel.cancel();
        }
    }
    got
}

/// No row's user is in the sandbox twice, and every created or updated row names the user
/// that holds its name; returns how many rows' users are present.
pub fn assert_no_duplicates(
    sandbox: &SandboxHandle,
    rows: u32,
    outcomes: &BTreeMap<u32, RowOutcome>,
    name: &str,
) -> usize {
    let mut ids_by_name: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for user in sandbox.users() {
        if let (Some(n), Some(id)) = (user["name"].as_str(), user["id"].as_u64()) {
            ids_by_name.entry(n.to_owned()).or_default().push(id);
        }
    }
    let mut present = 0;
    for i in 0..rows {
        let ids = ids_by_name
            .get(&format!("User {i}"))
            .cloned()
            .unwrap_or_default();
        assert!(
            ids.len() <= 1,
            "{name}: User {i} is in Zendesk {} times",
            ids.len()
        );
        present += ids.len();
        let o = &outcomes[&(i + 2)];
        if matches!(o.outcome, Outcome::Created | Outcome::Updated) {
            assert_eq!(o.user_id, ids.first().copied(), "{name}: row {} id", i + 2);
        }
    }
    present
}

/// Runs the engine on `journal` to its end, within a minute.
pub async fn run_to_end(
    client: &Client,
    journal: Journal,
    options: &EngineOptions,
) -> Result<Summary, ImportError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<ImportEvent>(32);
    let cancel = CancellationToken::new();
    let collector = tokio::spawn(collect(rx, cancel.clone(), None));
    let engine = import::run(client, journal, tx, cancel, options.clone());
    let summary = tokio::time::timeout(Duration::from_secs(60), engine)
        .await
        .expect("the import finishes within a minute");
    collector.await.unwrap();
    summary
}

/// The rows of a plan that are not unchanged, each with its changes or action.
pub fn unchanged_or_what(plan: &Plan) -> Vec<String> {
    plan.rows
        .iter()
        .filter(|r| !matches!(r.action, Action::Unchanged { .. }))
        .map(|r| match &r.action {
            Action::Update { changes, .. } => {
                let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
                format!("row {}: update {}", r.row, list.join("; "))
            }
            other => format!("row {}: {other:?}", r.row),
        })
        .collect()
}

/// What a test run of `plan` imports: only its id, mode and rows.
pub fn run_info(id: &str, plan: &Outbox) -> RunInfo {
    RunInfo {
        id: id.into(),
        mode: plan.mode,
        rows: plan.rows() as u64,
        ..RunInfo::default()
    }
}

/// Where a kill can stop a journal whose whole text is `whole`: after each line, and in the
/// middle of each (a line torn by the kill).
pub fn journal_cuts(whole: &[u8]) -> Vec<u64> {
    let mut cuts: Vec<u64> = (0..whole.len())
        .filter(|&i| whole[i] == b'\n')
        .map(|i| i as u64 + 1)
        .collect();
    let torn: Vec<u64> = cuts.windows(2).map(|w| (w[0] + w[1]) / 2).collect();
    cuts.extend(torn);
    cuts.sort_unstable();
    cuts
}

/// Imports `plan` until its journal (in `root`, run `r`) has taken `cut` bytes (a kill there),
/// then resumes it from disk to its end: the resumed run's summary and its folder.
pub async fn killed_then_resumed(
    plan: Outbox,
    client: &Client,
    root: &Path,
    (cut, options): (u64, &EngineOptions),
) -> (Summary, PathBuf) {
    let mut journal = Journal::create(root, &run_info("r", &plan), &plan).unwrap();
    journal.crash_after(cut);
    let _killed = run_to_end(client, journal, options).await;
    let dir = root.join("r");
    let (_, _, journal) = Journal::open(&dir).unwrap_or_else(|e| panic!("cut at byte {cut}: {e}"));
    let summary = run_to_end(client, journal, options)
        .await
        .unwrap_or_else(|e| panic!("cut at byte {cut}: resume: {e}"));
    (summary, dir)
}
