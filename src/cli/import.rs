//! `zdimport import`, `resume`, `runs` and `retry`: the engine headless, progress on stderr.

use std::io::{IsTerminal as _, Write as _};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::mapped::{MappingArgs, Prepared};
use crate::import::journal::{self, find_run, list_runs, runs_dir};
use crate::import::report::ReportPathError;
use crate::import::{
    self, EngineOptions, ImportEvent, ImportPlan, Journal, Retry, RunInfo, Summary, WaitReason,
};
use crate::payload::{Blank, Severity};
use crate::pipeline::AccountChecks;
use crate::pipeline::{self, Event};
use crate::plan::Fields;
use crate::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use crate::zendesk::{self, Client, ClientConfig, Credentials};

/// Exit code when some row was not created or updated.
const EXIT_SOME_ROWS: u8 = 1;

/// How to reach Zendesk and how hard to push.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The Zendesk account, e.g. https://acme.zendesk.com (default: ZENDESK_URL)
    #[arg(long, value_name = "URL", conflicts_with = "subdomain")]
    pub url: Option<String>,
    /// The account's subdomain (default: ZENDESK_SUBDOMAIN)
    #[arg(long, value_name = "S")]
    pub subdomain: Option<String>,
    /// Jobs queued or running at once (1 to 30, Zendesk's job limit; default 30)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=30))]
    pub concurrency: Option<u16>,
    /// Write the results here (.csv or .json; default: report.csv in the run folder)
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Replace the --report file if it exists (a terminal is asked instead)
    #[arg(long)]
    pub force: bool,
    /// Scale the engine's timings for a sandbox whose clock runs X times faster
    #[arg(long, value_name = "X", hide = true)]
    pub engine_speed: Option<f64>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Import into an in-process simulated Zendesk (nothing leaves this machine)
    #[arg(long, conflicts_with_all = ["url", "subdomain"])]
    pub sandbox: bool,
    /// Existing users, organizations and custom fields for --sandbox: a JSON file
    /// {"users", "user_fields", "organizations"} or a worksheet of users (the sandbox knows no
    /// custom field otherwise)
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub seed_users: Option<PathBuf>,
    /// Show what would be sent (the account's custom fields are read to convert values) and
    /// send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// What an empty cell does to a custom field Zendesk already holds: keep it (default) or
    /// clear it
    #[arg(long, value_name = "keep|clear", default_value = "keep", value_parser = super::account::parse_blank)]
    pub blank: Blank,
    /// Do not ask before sending
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run id (or the start of it; default: the latest unfinished run)
    pub run: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The run whose failed and unknown rows are sent again, as a new run
    pub run: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Do not ask before sending
    #[arg(long)]
    pub yes: bool,
}

/// Speed of the in-process sandbox `--sandbox` starts: a rehearsal should not take minutes.
const SANDBOX_SPEED: f64 = 20.0;

pub fn import(args: &ImportArgs) -> Result<ExitCode, String> {
    runtime()?.block_on(async {
        let (client, sandbox) = if args.sandbox {
            let (client, sandbox) = start_sandbox(args.seed_users.as_deref()).await?;
            (client, Some(sandbox))
        } else {
            (connect(&args.target).await?, None)
        };
        // The same conversion as `plan`, `preview --account` and the TUI: dropdown labels to
        // values, numbers as numbers, unknown keys stopped here (issue: the headless import
        // once sent labels Zendesk silently dropped).
        let fields = Arc::new(Fields::new(
            client.user_fields().await.map_err(|e| e.to_string())?.value,
        ));
        let prepared = args.mapping.prepare_for(Some(&fields))?;
        let checks = AccountChecks {
            fields: Some(fields),
            blank: args.blank,
        };
        let (plan, info) = build_plan(prepared, &args.mapping, &checks)?;
        let info = RunInfo {
            account: client.base_url().to_string(),
            sandbox: sandbox.is_some(),
            ..info
        };
        eprintln!("{}", plan_text(&plan, &info));
        if args.dry_run {
            return Ok(ExitCode::SUCCESS);
        }
        check_report(&args.target, &args.mapping.source.file, args.yes)?;
        confirm(args.yes, &plan, &info)?;
        let runs = runs_dir().map_err(|e| e.to_string())?;
        let journal = Journal::create(&runs, &info, &plan).map_err(|e| e.to_string())?;
        eprintln!("zdimport: run {} ({})", info.id, journal.dir().display());
        let speed = args
            .target
            .engine_speed
            .or(sandbox.is_some().then_some(SANDBOX_SPEED));
        let code = execute(plan, &client, journal, &args.target, speed).await?;
        if let Some(sandbox) = sandbox {
            keep_sandbox_state(&sandbox, &runs.join(&info.id))?;
        }
        Ok(code)
    })
}

pub fn resume(args: &ResumeArgs) -> Result<ExitCode, String> {
    let runs = runs_dir().map_err(|e| e.to_string())?;
    let dir = find_run(&runs, args.run.as_deref()).map_err(|e| e.to_string())?;
    let (info, plan, journal) = Journal::open(&dir).map_err(|e| e.to_string())?;
    if info.sandbox {
        return Err(format!(
            "run {} went to an in-process sandbox, which ended with its process: there is \
             nothing to resume it against",
            info.id
        ));
    }
    if let Some(damage) = &journal.replay().damage {
        eprintln!("zdimport: {}", damage.describe(&dir.join("journal.jsonl")));
    }
    eprintln!(
        "zdimport: resuming run {} ({} mode, {} rows, {})",
        info.id, info.mode, info.rows, info.account
    );
    let target = with_account(&args.target, &info);
    check_report(&target, Path::new(&info.file), false)?;
    runtime()?.block_on(async {
        let client = connect(&target).await?;
        execute(plan, &client, journal, &target, target.engine_speed).await
    })
}

pub fn retry(args: &RetryArgs) -> Result<ExitCode, String> {
    let runs = runs_dir().map_err(|e| e.to_string())?;
    let dir = find_run(&runs, Some(&args.run)).map_err(|e| e.to_string())?;
    let retry = Retry::read(&dir).map_err(|e| e.to_string())?;
    if retry.plan.rows() == 0 {
        eprintln!(
            "zdimport: run {} has no failed or unknown row",
            retry.old.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "zdimport: retrying run {}: {}",
        retry.old.id,
        plan_text(&retry.plan, &retry.info)
    );
    let target = with_account(&args.target, &retry.old);
    check_report(&target, Path::new(&retry.old.file), args.yes)?;
    runtime()?.block_on(async {
        let client = connect(&target).await?;
        confirm(args.yes, &retry.plan, &retry.info)?;
        let journal = retry.create(&runs).map_err(|e| e.to_string())?;
        eprintln!(
            "zdimport: run {} ({})",
            retry.info.id,
            journal.dir().display()
        );
        let plan = retry.plan.clone();
        execute(plan, &client, journal, &target, target.engine_speed).await
    })
}

/// `zdimport runs`: one line per run, oldest first.
pub fn runs() -> Result<ExitCode, String> {
    let dir = runs_dir().map_err(|e| e.to_string())?;
    let list = list_runs(&dir);
    if list.is_empty() {
        eprintln!("zdimport: no runs in {}", dir.display());
    }
    let mut out = super::visible_stdout();
    for run in list {
        let state = if run.complete { "done" } else { "unfinished" };
        let line = format!(
            "{}  {:<10}  {:<6}  {}  {}  {}",
            run.info.id, state, run.info.mode, run.done, run.info.account, run.info.file
        );
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the sheet once: the requests to send and the rows with errors, skipped.
fn build_plan(
    mut p: Prepared,
    args: &MappingArgs,
    checks: &AccountChecks,
) -> Result<(ImportPlan, RunInfo), String> {
    let mut plan = ImportPlan::new(p.options.mode);
    let mut errors = Vec::new();
    let mut failure = None;
    pipeline::run_with(
        &mut p.workbook,
        (p.sheet, p.header),
        &p.mapping,
        &p.options,
        checks,
        |event| {
            match event {
                Event::Request(request) => {
                    if let Err(e) = plan.push_request(&request) {
                        failure = Some(e.to_string());
                        return ControlFlow::Break(());
                    }
                }
                Event::Issue(issue) if issue.severity == Severity::Error => errors.push(issue),
                Event::Issue(_) => {}
            }
            ControlFlow::Continue(())
        },
    )
    .map_err(|e| e.to_string())?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    plan.skip_errors(&errors);
    let info = RunInfo {
        id: journal::new_run_id(),
        created_at: chrono::Utc::now().to_rfc3339(),
        file: args.source.file.display().to_string(),
        sheet: p.layout.sheet.clone(),
        profile: args.profile.clone(),
        mapping: p
            .mapping
            .mapped()
            .map(|(c, t)| format!("{} -> {t}", c.header))
            .collect(),
        mode: p.options.mode,
        rows: plan.rows() as u64,
        ..RunInfo::default()
    };
    Ok((plan, info))
}

fn plan_text(plan: &ImportPlan, info: &RunInfo) -> String {
    let (method, path) = info.mode.endpoint();
    let to = if info.account.is_empty() {
        String::new()
    } else {
        format!(" to {}", info.account)
    };
    format!(
        "{} rows: {} to send in {} requests ({} mode, {method} {path}){to}, {} skipped (errors)",
        plan.rows(),
        plan.sent_rows(),
        plan.batches.len(),
        info.mode,
        plan.skipped.len()
    )
}

/// Before anything is sent: `--report` is not the input, and an existing one is replaced only
/// with `--force` or, on a terminal without `--yes`, the operator's answer.
fn check_report(target: &TargetArgs, input: &Path, yes: bool) -> Result<(), String> {
    let Some(report) = &target.report else {
        return Ok(());
    };
    match import::report::check_path(report, input, target.force) {
        Err(ReportPathError::Exists(_)) if !yes && std::io::stdin().is_terminal() => {
            eprint!(
                "{} exists. Replace it with this run's report? [y/N] ",
                report.display()
            );
            if ask_yes()? {
                Ok(())
            } else {
                Err("nothing sent".into())
            }
        }
        other => other.map_err(|e| e.to_string()),
    }
}

/// One line from stdin: `y` or `yes` (any case) is yes.
fn ask_yes() -> Result<bool, String> {
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// On a terminal, asks before sending; elsewhere `--yes` is required.
fn confirm(yes: bool, plan: &ImportPlan, info: &RunInfo) -> Result<(), String> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err("not a terminal: pass --yes to send without asking".into());
    }
    eprint!(
        "{}\nSend {} users to {}? [y/N] ",
        plan_text(plan, info),
        plan.sent_rows(),
        info.account
    );
    if ask_yes()? {
        Ok(())
    } else {
        Err("nothing sent".into())
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// The run's own account unless the command line names another.
fn with_account(target: &TargetArgs, info: &RunInfo) -> TargetArgs {
    let mut target = target.clone();
    if target.url.is_none() && target.subdomain.is_none() {
        target.url = Some(info.account.clone());
    }
    target
}

async fn connect(target: &TargetArgs) -> Result<Client, String> {
    let (client, warning) = zendesk::connect(
        target.url.as_deref(),
        target.subdomain.as_deref(),
        |k| std::env::var(k).ok(),
        zendesk::DEFAULT_TIMEOUT,
    )
    .await
    .map_err(|e| e.to_string())?;
    if let Some(warning) = warning {
        eprintln!("zdimport: {warning}");
    }
    Ok(client)
}

async fn start_sandbox(seed: Option<&Path>) -> Result<(Client, SandboxHandle), String> {
    let mut config = SandboxConfig {
        speed: SANDBOX_SPEED,
        ..SandboxConfig::default()
    };
    if let Some(path) = seed {
        config.seed_from_file(path).map_err(|e| e.to_string())?;
    }
    let sandbox = Sandbox::start(config).await.map_err(|e| e.to_string())?;
    let credentials = Credentials::Bearer(sandbox.issue_access_token(None));
    let client = Client::new(ClientConfig::new(sandbox.url().clone(), credentials))
        .map_err(|e| e.to_string())?;
    eprintln!(
        "zdimport: importing into the in-process sandbox at {}",
        sandbox.url()
    );
    Ok((client, sandbox))
}

/// The sandbox ends with the process: its users go to the run folder for a look.
fn keep_sandbox_state(sandbox: &SandboxHandle, dir: &Path) -> Result<(), String> {
    let path = dir.join("sandbox_users.json");
    let users = serde_json::json!({ "users": sandbox.users() });
    let text = serde_json::to_vec_pretty(&users).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("zdimport: the sandbox's users are in {}", path.display());
    Ok(())
}

/// Runs the engine with progress on stderr and Ctrl-C as cancel, then writes the report.
async fn execute(
    plan: ImportPlan,
    client: &Client,
    journal: Journal,
    target: &TargetArgs,
    speed: Option<f64>,
) -> Result<ExitCode, String> {
    let dir = journal.dir().to_path_buf();
    let _locked_until_done = journal.hold();
    let mut options = speed.map_or_else(EngineOptions::default, EngineOptions::for_speed);
    if let Some(n) = target.concurrency {
        options.concurrency = usize::from(n);
    }
    let (tx, rx) = mpsc::channel(32);
    let cancel = CancellationToken::new();
    let ctrl_c = cancel.clone();
    let id = run_id(&dir);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nzdimport: stopping: nothing more is sent; what Zendesk has accepted is followed \
             for a while (Ctrl-C again stops at once; `zdimport resume {id}` continues)"
        );
        ctrl_c.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            // Every journal entry is one atomic append: the run folder is consistent as it is.
            eprintln!("\nzdimport: stopped; `zdimport resume {id}` continues the run");
            std::process::exit(130);
        }
    });
    let printer = tokio::spawn(print_progress(rx));
    let result = import::run(plan, client, journal, tx, cancel, options).await;
    let _printed = printer.await;
    let summary = result.map_err(|e| {
        format!(
            "{e}; the run can be continued with `zdimport resume {}`",
            run_id(&dir)
        )
    })?;
    let report = target
        .report
        .clone()
        .unwrap_or_else(|| dir.join("report.csv"));
    let outcomes = journal::outcomes(&dir).map_err(|e| e.to_string())?;
    import::report::write(&report, &outcomes).map_err(|e| e.to_string())?;
    eprintln!("zdimport: {summary}");
    eprintln!("zdimport: results in {}", report.display());
    Ok(exit_code(&summary, &dir))
}

fn run_id(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn exit_code(summary: &Summary, dir: &Path) -> ExitCode {
    if summary.pending > 0 {
        eprintln!(
            "zdimport: cancelled; continue with `zdimport resume {}`",
            run_id(dir)
        );
    }
    if summary.all_succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SOME_ROWS)
    }
}

/// A line that rewrites itself on a terminal; a plain line every few seconds otherwise.
async fn print_progress(mut rx: mpsc::Receiver<ImportEvent>) {
    let terminal = std::io::stderr().is_terminal();
    let mut progress = Progress::default();
    let mut buffer = Vec::with_capacity(32);
    while rx.recv_many(&mut buffer, 32).await > 0 {
        for event in buffer.drain(..) {
            progress.apply(event, terminal);
        }
        progress.draw(terminal, false);
    }
    progress.draw(terminal, true);
    if terminal {
        eprintln!();
    }
}

#[derive(Debug, Default)]
struct Progress {
    done: Summary,
    rows: u64,
    first_done: u64,
    started: Option<Instant>,
    drawn: Option<Instant>,
    waiting: Option<String>,
}

impl Progress {
    fn apply(&mut self, event: ImportEvent, terminal: bool) {
        match event {
            ImportEvent::Started { rows, done, .. } => {
                self.rows = rows;
                self.first_done = done.finished();
                self.done = *done;
                self.started = Some(Instant::now());
            }
            ImportEvent::RowsFinished(rows) => {
                for row in rows {
                    self.done.count(row.outcome);
                }
                self.waiting = None;
            }
            ImportEvent::Waiting { reason, until } => {
                let secs = until
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64();
                let why = match reason {
                    WaitReason::RateLimit => "rate limit".to_owned(),
                    WaitReason::JobLimit => "30 jobs queued".to_owned(),
                    WaitReason::Pacing => "pacing under the rate limit".to_owned(),
                    // Zendesk's (or a proxy's) own words, one line, no terminal controls.
                    WaitReason::Retry { attempt, error } => {
                        format!(
                            "retry {attempt}: {}",
                            crate::text::printable(&error.to_string())
                        )
                    }
                    WaitReason::LostAnswer { batch } => {
                        format!("batch {}'s answer was lost; looking it up", batch + 1)
                    }
                };
                let text = format!("waiting {secs:.1}s: {why}");
                if !terminal {
                    eprintln!("zdimport: {text}");
                }
                self.waiting = Some(text);
            }
            ImportEvent::Paused => self.waiting = Some("paused".into()),
            ImportEvent::Resumed => self.waiting = None,
            ImportEvent::Cancelling => {
                eprintln!(
                    "\nzdimport: cancelling: nothing more is sent; waiting for the jobs in flight"
                );
            }
            ImportEvent::BatchSent { .. }
            | ImportEvent::JobUpdate { .. }
            | ImportEvent::Finished(_) => {}
        }
    }

    fn draw(&mut self, terminal: bool, last: bool) {
        let every = if terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(2)
        };
        if !last && self.drawn.is_some_and(|d| d.elapsed() < every) {
            return;
        }
        self.drawn = Some(Instant::now());
        let line = self.line();
        if terminal {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("zdimport: {line}");
        }
    }

    fn line(&self) -> String {
        let finished = self.done.finished();
        let elapsed = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let rate = (finished - self.first_done.min(finished)) as f64 / elapsed.max(0.001);
        let left = self.rows.saturating_sub(finished);
        let eta = if rate > 0.0 {
            format!("{:.0}s", left as f64 / rate)
        } else {
            "-".into()
        };
        let d = &self.done;
        let mut line = format!(
            "{finished}/{} rows · {} created · {} updated · {} failed · {} skipped · {} unknown · \
             {rate:.0} rows/s · ETA {eta}",
            self.rows, d.created, d.updated, d.failed, d.skipped, d.unknown
        );
        if let Some(waiting) = &self.waiting {
            line.push_str(" · ");
            line.push_str(waiting);
        }
        line
    }
}
