//! The import's side of the event loop: build the plan, write the journal, run the engine and
//! forward its events; pause, cancel, retry, export.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::app::{AppEvent, NewRun};
use super::screens::plan::AccountCheck;
use crate::session::account::Client;
use crate::session::check::{self, Mapping};
use crate::session::run::{self, RunInfo};
use crate::session::source::Table;

/// The slot the running import's controls live in.
pub type ControlSlot = Arc<Mutex<Option<run::Controls>>>;

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
        missing_orgs,
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
    let planned = plan.is_some();
    // Every path writes its requests to a spool as it makes them: none held at once.
    let outbox = tokio::task::spawn_blocking(move || {
        let dir = run::spool_dir().map_err(|e| e.to_string())?;
        let sheet = (table.as_ref(), &mapping);
        match (&plan, &account) {
            // The plan routed a row at a time.
            (Some(plan), _) => {
                let laid_out = (skip_unchanged, jobs);
                check::routed_file(plan, laid_out, &report, Some(sheet), &dir)
            }
            // Imported as checked against the account: the users it kept, no row checked
            // again.
            (None, Some(account)) => account.outbox(sheet, &dir),
            (None, None) => check::offline_outbox(&table, &mapping, &options, (&report, &dir)),
        }
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("building the plan: {e}"))??;
    let (outbox, warnings) = if planned {
        (outbox, Vec::new())
    } else {
        resolve_organizations(outbox, missing_orgs, &target.client).await?
    };
    let info = RunInfo {
        id: run::new_id(),
        created_at: chrono::Utc::now().to_rfc3339(),
        file,
        sheet,
        profile,
        mapping: lines,
        mode: outbox.mode,
        account: target.client.base_url().to_string(),
        sandbox: target.sandbox_speed.is_some(),
        rows: outbox.rows() as u64,
        retry_of: None,
    };
    let run = run::Run::create_from(info, outbox).map_err(|e| e.to_string())?;
    run_engine(run, target, (concurrency, warnings), tx).await;
    Ok(())
}

/// Without the lookups (the operator skipped them), the organizations the rows name are still
/// resolved as the headless import does: existing ones sent by id, missing ones as the Plan
/// screen's `o` says (created first, left out of the users, or failing their rows), never sent
/// by name. The account plan resolves them itself.
async fn resolve_organizations(
    plan: run::OutboxFile,
    policy: crate::session::check::MissingOrgs,
    client: &Client,
) -> Result<(run::OutboxFile, Vec<String>), String> {
    let concurrency = crate::session::check::PlanOptions::default().concurrency;
    run::resolve_organizations(client, plan, policy, concurrency)
        .await
        .map_err(|e| format!("looking up the organizations: {e}"))
}

/// Sends the failed and unknown rows of the run in `dir` again, as a new run.
pub async fn retry(
    dir: PathBuf,
    rows: run::RetryRows,
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
    rows: run::RetryRows,
    concurrency: u32,
    target: &Target,
    tx: &mpsc::Sender<AppEvent>,
) -> Result<(), String> {
    let retry = run::read_retry(dir, rows).map_err(|e| e.to_string())?;
    let run = run::Run::retry(retry).map_err(|e| e.to_string())?;
    run_engine(run, target, (concurrency, Vec::new()), tx).await;
    Ok(())
}

/// Runs the engine, forwarding its events, then sends every row's outcome.
async fn run_engine(
    run: run::Run,
    target: &Target,
    (concurrency, warnings): (u32, Vec<String>),
    tx: &mpsc::Sender<AppEvent>,
) {
    let started = AppEvent::ImportStarted {
        run_id: run.info.id.clone(),
        run_dir: run.dir().to_path_buf(),
        account: run.info.account.clone(),
        warnings,
    };
    let _ = tx.send(started).await;
    let pace = run::Pace {
        jobs: usize::try_from(concurrency).ok(),
        speed: target.sandbox_speed,
    };
    let (started, mut incoming) = run.start(Arc::clone(&target.client), pace);
    let dir = started.dir().to_path_buf();
    *target
        .controls
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(started.controls());
    let forward_to = tx.clone();
    let forward = tokio::spawn(async move {
        while let Some(event) = incoming.recv().await {
            if forward_to.send(AppEvent::Import(event)).await.is_err() {
                break;
            }
        }
    });
    let result = started.finish(None).await;
    let _forwarded = forward.await;
    *target
        .controls
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = None;
    let ended = match result {
        Ok(ended) => run::rows(&dir)
            .map(|outcomes| (ended.summary, outcomes))
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
    let resumable = run::resume(dir).map_err(|e| e.to_string())?;
    let info = &resumable.run.info;
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
            let signed_in = crate::session::account::sign_in(
                Some(&info.account),
                None,
                |k| env(k),
                crate::session::account::DEFAULT_TIMEOUT,
            )
            .await;
            match signed_in {
                Ok((client, _warning)) => Arc::new(client),
                Err(e) => {
                    // The journal stays as it was: sign in on Connect, then resume.
                    let ask = AppEvent::ResumeNeedsSignIn {
                        run_dir: dir.to_path_buf(),
                        account: info.account.clone(),
                        reason: e.to_string(),
                    };
                    drop(resumable);
                    let _ = tx.send(ask).await;
                    return Ok(());
                }
            }
        }
    };
    let jobs = resumable
        .jobs
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(super::screens::connect::DEFAULT_CONCURRENCY);
    let target = Target {
        client,
        sandbox_speed,
        controls,
    };
    run_engine(resumable.run, &target, (jobs, Vec::new()), tx).await;
    Ok(())
}

/// Whether two account URLs name the same account (a trailing slash or case aside).
fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// Reads the account's custom fields, checks every row against them once, and says what the
/// plan would cost.
pub async fn check_account(
    client: &Client,
    table: Arc<Table>,
    mapping: Mapping,
    options: check::Options,
) -> Result<(AccountCheck, Arc<check::Checked>), String> {
    let checked = check::against_account(client, table, mapping, options)
        .await
        .map_err(|e| e.to_string())?;
    let summary = AccountCheck {
        fields: checked.fields.custom_fields().len(),
        problems: checked.problems.clone(),
        ready: checked.report.ready,
        warnings: checked.report.warnings,
        errors: checked.report.errors,
        cost: checked.cost(),
    };
    Ok((summary, Arc::new(checked)))
}

/// Looks the users up: what every row will do.
pub async fn build_plan(
    client: &Client,
    account: &check::Checked,
    options: check::PlanOptions,
) -> Result<check::StoredPlan, String> {
    account
        .plan(client, options)
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
        control.pause(paused);
    }
}

/// Stops sending; what is in flight is followed to its end, the journal stays resumable.
pub fn cancel(controls: &ControlSlot) {
    if let Some(control) = controls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
    {
        control.cancel();
    }
}
