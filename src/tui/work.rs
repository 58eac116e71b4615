//! The import's side of the event loop: build the plan, write the journal, run the engine and
//! forward its events; pause, cancel, retry, export.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::app::{AccountData, AppEvent, NewRun};
use super::screens::plan::AccountCheck;
use crate::import::journal::{self, runs_dir};
use crate::import::{self, ImportPlan, Journal, RunInfo};
use crate::mapping::Mapping;
use crate::payload;
use crate::pipeline::{self, AccountChecks};
use crate::sheet::Table;
use crate::zendesk::Client;

/// How the running import is steered.
#[derive(Debug)]
pub struct ImportControl {
    pub cancel: CancellationToken,
    pub pause: watch::Sender<bool>,
}

/// The slot the running import's controls live in.
pub type ControlSlot = Arc<Mutex<Option<ImportControl>>>;

/// Reads the environment sign-in sees.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where and how fast the engine runs.
pub struct Target {
    pub client: Arc<Client>,
    /// The sandbox's clock speed, when the account is the built-in sandbox.
    pub sandbox_speed: Option<f64>,
    pub controls: ControlSlot,
}

/// Builds the plan, writes the run's journal and runs it; the answer comes as events.
pub async fn start(run: Box<NewRun>, target: Target, tx: mpsc::Sender<AppEvent>) {
    let ended = start_inner(*run, &target, &tx).await;
    if let Err(e) = ended {
        let _ = tx.send(AppEvent::ImportEnded(Err(e))).await;
    }
}

async fn start_inner(
    run: NewRun,
    target: &Target,
    tx: &mpsc::Sender<AppEvent>,
) -> Result<(), String> {
    let NewRun {
        table,
        mapping,
        options,
        report,
        account,
        plan,
        skip_unchanged,
        concurrency,
        file,
        profile,
    } = run;
    let lines: Vec<String> = mapping
        .mapped()
        .map(|(c, t)| format!("{} -> {t}", c.header))
        .collect();
    let sheet = table.layout.sheet.clone();
    let jobs = usize::try_from(concurrency).unwrap_or(usize::MAX);
    let plan = tokio::task::spawn_blocking(move || match &plan {
        Some(plan) => {
            pipeline::import_plan_from(plan, (skip_unchanged, jobs), &report).map(|mut out| {
                // Rows with errors have no user in the plan: named from the sheet.
                pipeline::name_skipped(&mut out, &table, &mapping);
                out
            })
        }
        None => {
            let checks = AccountChecks {
                fields: account.map(|a| Arc::clone(&a.fields)),
                ..AccountChecks::default()
            };
            pipeline::import_plan_with(&table, &mapping, &options, &checks, &report)
        }
    })
    .await
    .map_err(|e| format!("building the plan: {e}"))?
    .map_err(|e| e.to_string())?;
    let info = RunInfo {
        id: journal::new_run_id(),
        created_at: chrono::Utc::now().to_rfc3339(),
        file,
        sheet,
        profile,
        mapping: lines,
        mode: plan.mode,
        account: target.client.base_url().to_string(),
        sandbox: target.sandbox_speed.is_some(),
        rows: plan.rows() as u64,
        retry_of: None,
    };
    run_new(plan, info, target, concurrency, tx).await
}

/// Sends the failed and unknown rows of the run in `dir` again, as a new run.
pub async fn retry(
    dir: PathBuf,
    rows: import::RetryRows,
    concurrency: u32,
    target: Target,
    tx: mpsc::Sender<AppEvent>,
) {
    if let Err(e) = retry_inner(&dir, rows, concurrency, &target, &tx).await {
        let _ = tx.send(AppEvent::ImportEnded(Err(e))).await;
    }
}

async fn retry_inner(
    dir: &std::path::Path,
    rows: import::RetryRows,
    concurrency: u32,
    target: &Target,
    tx: &mpsc::Sender<AppEvent>,
) -> Result<(), String> {
    let retry = import::Retry::read_rows(dir, rows).map_err(|e| e.to_string())?;
    let runs = runs_dir().map_err(|e| e.to_string())?;
    let journal = retry.create(&runs).map_err(|e| e.to_string())?;
    announce(&retry.info, &journal, tx).await;
    run_engine(retry.plan.clone(), journal, target, concurrency, tx).await;
    Ok(())
}

async fn run_new(
    plan: ImportPlan,
    info: RunInfo,
    target: &Target,
    concurrency: u32,
    tx: &mpsc::Sender<AppEvent>,
) -> Result<(), String> {
    let runs = runs_dir().map_err(|e| e.to_string())?;
    let journal = Journal::create(&runs, &info, &plan).map_err(|e| e.to_string())?;
    announce(&info, &journal, tx).await;
    run_engine(plan, journal, target, concurrency, tx).await;
    Ok(())
}

/// Tells the app which run folder the import writes to.
async fn announce(info: &RunInfo, journal: &Journal, tx: &mpsc::Sender<AppEvent>) {
    let started = AppEvent::ImportStarted {
        run_id: info.id.clone(),
        run_dir: journal.dir().to_path_buf(),
        account: info.account.clone(),
    };
    let _ = tx.send(started).await;
}

/// Runs the engine, forwarding its events, then sends every row's outcome.
async fn run_engine(
    plan: ImportPlan,
    journal: Journal,
    target: &Target,
    concurrency: u32,
    tx: &mpsc::Sender<AppEvent>,
) {
    let dir = journal.dir().to_path_buf();
    let mut options = crate::session::account::engine_options(target.sandbox_speed.is_some());
    options.concurrency = usize::try_from(concurrency)
        .unwrap_or(import::MAX_JOBS)
        .clamp(1, import::MAX_JOBS);
    let (pause, paused) = watch::channel(false);
    options.pause = Some(paused);
    let cancel = CancellationToken::new();
    *target
        .controls
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(ImportControl {
        cancel: cancel.clone(),
        pause,
    });
    let (events, mut incoming) = mpsc::channel(32);
    let forward_to = tx.clone();
    let forward = tokio::spawn(async move {
        while let Some(event) = incoming.recv().await {
            if forward_to.send(AppEvent::Import(event)).await.is_err() {
                break;
            }
        }
    });
    let result = import::run(plan, &target.client, journal, events, cancel, options).await;
    let _forwarded = forward.await;
    *target
        .controls
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = None;
    let ended = match result {
        Ok(summary) => journal::rows(&dir)
            .map(|outcomes| (summary, outcomes))
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("{e}; the run can be resumed from the start screen")),
    };
    let _ = tx.send(AppEvent::ImportEnded(ended)).await;
}

/// Continues the interrupted run in `dir`: signs in to its account (the session's client when
/// it is signed in to that account, else from the environment or the session's sandbox) and
/// runs the rest of its journal with the jobs at once it ran with. When sign-in fails, the app
/// is asked to get credentials on Connect ([`AppEvent::ResumeNeedsSignIn`]).
pub async fn resume(
    dir: PathBuf,
    env: Env,
    connected: Option<Arc<Client>>,
    sandbox_speed: Option<f64>,
    controls: ControlSlot,
    tx: mpsc::Sender<AppEvent>,
) {
    if let Err(e) = resume_inner(&dir, env, connected, sandbox_speed, controls, &tx).await {
        let _ = tx.send(AppEvent::ImportEnded(Err(e))).await;
    }
}

async fn resume_inner(
    dir: &std::path::Path,
    env: Env,
    connected: Option<Arc<Client>>,
    sandbox_speed: Option<f64>,
    controls: ControlSlot,
    tx: &mpsc::Sender<AppEvent>,
) -> Result<(), String> {
    let (info, plan, journal) = Journal::open(dir).map_err(|e| e.to_string())?;
    let same_account = |c: &Arc<Client>| same_url(c.base_url().as_str(), &info.account);
    let client = match connected.filter(same_account) {
        Some(client) => client,
        // This session's own sandbox would have matched: an earlier process's is gone.
        None if info.sandbox => {
            return Err(format!(
                "run {} went to a sandbox inside an earlier zdimport, which ended with it",
                info.id
            ));
        }
        None => {
            let signed_in = crate::zendesk::connect(
                Some(&info.account),
                None,
                |k| env(k),
                crate::zendesk::DEFAULT_TIMEOUT,
            )
            .await;
            match signed_in {
                Ok((client, _warning)) => Arc::new(client),
                Err(e) => {
                    // The journal stays as it was: sign in on Connect, then resume.
                    drop(journal);
                    let _ = tx
                        .send(AppEvent::ResumeNeedsSignIn {
                            run_dir: dir.to_path_buf(),
                            account: info.account.clone(),
                            reason: e.to_string(),
                        })
                        .await;
                    return Ok(());
                }
            }
        }
    };
    let started = AppEvent::ImportStarted {
        run_id: info.id.clone(),
        run_dir: dir.to_path_buf(),
        account: info.account.clone(),
    };
    let _ = tx.send(started).await;
    let jobs = journal
        .replay()
        .jobs
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(super::screens::connect::DEFAULT_CONCURRENCY);
    let target = Target {
        client,
        sandbox_speed,
        controls,
    };
    run_engine(plan, journal, &target, jobs, tx).await;
    Ok(())
}

/// Whether two account URLs name the same account (a trailing slash or case aside).
fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Reads the account's custom fields, checks every row against them, and says what the plan
/// would cost.
pub async fn check_account(
    client: &Client,
    table: Arc<Table>,
    mapping: Mapping,
    options: payload::Options,
) -> Result<(AccountCheck, Arc<AccountData>), String> {
    let answer = client.user_fields().await.map_err(|e| e.to_string())?;
    let rate = answer.rate;
    let fields = Arc::new(crate::plan::Fields::new(answer.value));
    let problems: Vec<String> = fields
        .problems(&mapping)
        .iter()
        .map(ToString::to_string)
        .collect();
    let checks = AccountChecks {
        fields: Some(Arc::clone(&fields)),
        ..AccountChecks::default()
    };
    let (report, input) = tokio::task::spawn_blocking(move || {
        let report = pipeline::check_table_with(&table, &mapping, &options, &checks, &|| false)
            .unwrap_or_default();
        let mut input = crate::plan::PlanInput::default();
        for rows in &report.batches {
            input.push_request(pipeline::request_for_with(
                &table, &mapping, &options, &checks, rows,
            ));
        }
        for issue in &report.issues {
            input.push_issue(issue);
        }
        (report, input)
    })
    .await
    .map_err(|e| format!("checking the rows: {e}"))?;
    let cost = crate::plan::estimate(&input, &rate);
    let check = AccountCheck {
        fields: fields.custom_fields().len(),
        problems,
        ready: report.ready,
        warnings: report.warnings,
        errors: report.errors,
        cost,
    };
    let account = AccountData {
        fields,
        report: Arc::new(report),
        input,
        rate,
    };
    Ok((check, Arc::new(account)))
}

/// Looks the users up: what every row will do.
pub async fn build_plan(
    client: &Client,
    account: &AccountData,
    options: crate::plan::PlanOptions,
) -> Result<crate::plan::Plan, String> {
    crate::plan::build(client, account.input.clone(), options, &account.rate)
        .await
        .map_err(|e| e.to_string())
}

/// Pauses or resumes sending.
pub fn pause(controls: &ControlSlot, paused: bool) {
    if let Some(control) = controls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        let _ = control.pause.send(paused);
    }
}

/// Stops sending; what is in flight is followed to its end, the journal stays resumable.
pub fn cancel(controls: &ControlSlot) {
    if let Some(control) = controls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        control.cancel.cancel();
    }
}
