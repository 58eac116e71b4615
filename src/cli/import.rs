//! `zdimport import`, `resume`, `runs` and `retry`: the engine headless, progress on stderr.

use super::account::runtime;
use super::{CliError, CliResult};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::mapped::{MappingArgs, Prepared};
use crate::session;
use crate::session::account::SandboxHandle;
use crate::session::account::{self, Client};
use crate::session::check::AccountChecks;
use crate::session::check::{Blank, InvalidPolicy, LeftOut};
use crate::session::check::{Fields, PlanOptions, SurveyedOrgs, SurveyedUsers, Tags};
use crate::session::run::ReportPathError;
use crate::session::run::RunListing;
use crate::session::run::{self, OutboxFile, RetryRows, RunInfo, Summary};

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
    /// Print the run's summary as JSON on stdout (run id, counts, report and log paths)
    #[arg(long)]
    pub json: bool,
    /// No progress on stderr (errors and the final summary are still printed)
    #[arg(long, short)]
    pub quiet: bool,
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
    /// A user whose organization the account lacks: the organization created first and the
    /// user sent with its id (create, the default: the profile's, else create), sent without
    /// it (skip-field) or not sent (fail); existing organizations are sent by id
    #[arg(long, value_name = "create|skip-field|fail", value_parser = super::plan::parse_missing_orgs)]
    pub missing_orgs: Option<crate::session::check::MissingOrgs>,
    /// What a row's tags do to an existing user's: replace them (Zendesk's bulk update) or add
    /// to them (the users are looked up first, as `plan` does, and their tags sent with the
    /// row's)
    /// (default: the profile's, else replace)
    #[arg(long, value_name = "add|replace", value_parser = super::plan::parse_tags)]
    pub tags: Option<Tags>,
    /// A new email on an existing user becomes its primary email (the users are looked up
    /// first, as `plan` does; after its bulk job, two requests per such user) instead of a
    /// secondary one beside the primary Zendesk keeps (default: the profile's make_primary)
    #[arg(long)]
    pub make_primary: bool,
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
    /// Rehearse the retry in a new in-process simulated Zendesk (a run made with --sandbox
    /// cannot be retried otherwise: its sandbox ended with its process)
    #[arg(long, conflicts_with_all = ["url", "subdomain"])]
    pub sandbox: bool,
    /// Existing users, organizations and custom fields for --sandbox (as `import`)
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub seed_users: Option<PathBuf>,
    /// Send every failed row again, also those Zendesk refused for their data (by default:
    /// the unknown rows, looked up first, and the failures that can succeed sent again as
    /// they are: a rate limit, a server error, a timeout)
    #[arg(long)]
    pub all_failures: bool,
    /// Do not ask before sending
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// One JSON object per run, in a list: id, state, account, file, mode, counts, folder
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run id (or the start of it)
    pub run: String,
    /// csv or json (default: the --out file's extension, else csv)
    #[arg(long, value_name = "csv|json", value_parser = ["csv", "json"])]
    pub format: Option<String>,
    /// Write here instead of stdout
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace the --out file if it exists
    #[arg(long)]
    pub force: bool,
    /// The organizations the run created before its users (one line each: name, outcome, id,
    /// users, error) instead of its rows
    #[arg(long, conflicts_with = "memberships")]
    pub organizations: bool,
    /// The memberships the run added after its users (one line each: row, user_id,
    /// organization, organization_id, outcome, membership_id, error, details) instead of its
    /// rows
    #[arg(long)]
    pub memberships: bool,
}

pub fn import(args: &ImportArgs) -> CliResult<ExitCode> {
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
        let object = args.mapping.object()?;
        let answer = client.fields_of(object).await?;
        let fields = Arc::new(Fields::new(answer.value));
        let mut prepared = args.mapping.prepare_for(Some(&fields))?;
        // The last round of requests is evened out for the jobs the engine runs at once.
        if let Some(n) = args.target.concurrency {
            prepared.options.jobs = usize::from(n);
        }
        let checks = AccountChecks {
            fields: Some(fields),
            blank: args.blank,
        };
        let policy = prepared.options.invalid;
        let missing_orgs = super::plan::missing_orgs_policy(args.missing_orgs, &args.mapping)?;
        let make_primary = args.make_primary || prepared.make_primary;
        args.mapping.save_plan_choices(missing_orgs, make_primary)?;
        let tags = super::plan::tags_mode(args.tags, &args.mapping)?;
        args.mapping.save_tags_choice(tags)?;
        let looked_up = PlanOptions {
            mode: prepared.options.mode,
            tags,
            make_primary,
            missing_orgs,
            ..PlanOptions::default()
        };
        // Several organizations per user: the plan reads the memberships users hold, so
        // those already there are not sent (and says what it adds).
        let members = prepared
            .mapping
            .mapped()
            .any(|(_, t)| *t == crate::session::check::Target::Organizations);
        // Organizations are always planned: the plan routes each row to create_many or
        // update_many, and says which would fail.
        let planned = looked_up.tags == Tags::Add
            || looked_up.make_primary
            || members
            || object == crate::session::check::Object::Organizations;
        let (plan, info, left_out) = if planned {
            // The account plan resolves the organizations itself.
            let account = (&client, &answer.rate, looked_up);
            build_account_plan(prepared, &args.mapping, &checks, account).await?
        } else {
            let (mut plan, info, left_out) = build_plan(prepared, &args.mapping, &checks)?;
            // Users that name an organization: their bodies rewritten batch by batch to a
            // new spool; the others' bodies never leave the spool.
            if plan.any_organization()? {
                let concurrency = PlanOptions::default().concurrency;
                let (resolved, warnings) =
                    session::run::resolve_organizations(&client, plan, missing_orgs, concurrency)
                        .await?;
                for warning in warnings {
                    eprintln!("zdimport: warning: {warning}");
                }
                plan = resolved;
            }
            (plan, info, left_out)
        };
        let info = RunInfo {
            account: client.base_url().to_string(),
            sandbox: sandbox.is_some(),
            ..info
        };
        eprintln!("zdimport: {}", plan_text(&plan, &info));
        if left_out.errors > 0 {
            eprintln!("zdimport: {}", policy_text(policy, &left_out));
        }
        if policy == InvalidPolicy::Block && left_out.errors > 0 {
            return Err(CliError::Usage(format!(
                "--invalid block: {} rows have errors, so nothing is sent (`zdimport validate` \
                 lists them; --invalid skip sends the other {} rows)",
                left_out.errors,
                left_out.rows - left_out.errors
            )));
        }
        if args.dry_run {
            if args.target.json {
                print_json(&dry_run_json(&plan, &info, policy, &left_out))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        check_report(&args.target, &args.mapping.source.file, args.yes)?;
        confirm(args.yes, &plan, &info)?;
        let run = session::run::Run::create_from(info, plan)?;
        eprintln!("zdimport: run {} ({})", run.info.id, run.dir().display());
        let speed = args
            .target
            .engine_speed
            .or(sandbox.is_some().then_some(session::account::SANDBOX_SPEED));
        let ran = execute(run, client, &args.target, speed).await?;
        if let Some(sandbox) = sandbox {
            keep_sandbox_state(&sandbox, &ran.dir)?;
        }
        ran.finish(&args.target)
    })
}

pub fn resume(args: &ResumeArgs) -> CliResult<ExitCode> {
    let dir = session::run::find(args.run.as_deref())?;
    let resumable = session::run::resume(&dir)?;
    let info = &resumable.run.info;
    if let Some(done) = resumable.finished {
        eprintln!(
            "zdimport: run {} is finished, there is nothing to resume: {done}{}",
            info.id,
            if done.all_succeeded() {
                String::new()
            } else {
                format!(
                    " (`zdimport retry {}` sends its failed and unknown rows again)",
                    info.id
                )
            }
        );
        // The report written again, so that "results in" names a file that holds them.
        check_report(&args.target, Path::new(&info.file), false)?;
        let report = args
            .target
            .report
            .clone()
            .unwrap_or_else(|| dir.join("report.csv"));
        session::run::write_report(&dir, &report)?;
        let ran = Ran {
            summary: done,
            report,
            dir,
        };
        return ran.finish(&args.target);
    }
    if info.sandbox {
        return Err(CliError::Usage(format!(
            "run {} went to an in-process sandbox, which ended with its process: there is \
             nothing to resume it against",
            info.id
        )));
    }
    if let Some(damage) = &resumable.damage {
        eprintln!("zdimport: {damage}");
    }
    eprintln!(
        "zdimport: resuming run {} ({} mode, {} rows, {})",
        info.id, info.mode, info.rows, info.account
    );
    let target = with_account(&args.target, info);
    check_report(&target, Path::new(&info.file), false)?;
    runtime()?.block_on(async {
        let client = connect(&target).await?;
        let ran = execute(resumable.run, client, &target, target.engine_speed).await?;
        ran.finish(&target)
    })
}

pub fn retry(args: &RetryArgs) -> CliResult<ExitCode> {
    let dir = session::run::find(Some(&args.run))?;
    let rows = if args.all_failures {
        RetryRows::AllFailed
    } else {
        RetryRows::Retryable
    };
    let mut retry = session::run::read_retry(&dir, rows)?;
    if retry.plan.rows() == 0 {
        eprintln!(
            "zdimport: run {} has no unknown row and no failure that can succeed sent again \
             as it is (a rate limit, a server error, a timeout); rows Zendesk refused for their \
             data need the sheet fixed and imported again, or --all-failures sends them as \
             they are",
            retry.old.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    if retry.old.sandbox && !args.sandbox {
        return Err(CliError::Usage(format!(
            "run {} went to an in-process sandbox, which ended with its process: there is no \
             account to retry it against; `zdimport retry {} --sandbox` rehearses the retry in \
             a new sandbox",
            retry.old.id, retry.old.id
        )));
    }
    eprintln!(
        "zdimport: retrying run {}: {}",
        retry.old.id,
        plan_text(&retry.plan, &retry.info)
    );
    let target = with_account(&args.target, &retry.old);
    check_report(&target, Path::new(&retry.old.file), args.yes)?;
    runtime()?.block_on(async {
        let (client, sandbox) = if args.sandbox {
            let (client, sandbox) = start_sandbox(args.seed_users.as_deref()).await?;
            retry.info.account = client.base_url().to_string();
            retry.info.sandbox = true;
            (client, Some(sandbox))
        } else {
            (connect(&target).await?, None)
        };
        confirm(args.yes, &retry.plan, &retry.info)?;
        let run = session::run::Run::retry(retry)?;
        eprintln!("zdimport: run {} ({})", run.info.id, run.dir().display());
        let speed = target
            .engine_speed
            .or(sandbox.is_some().then_some(session::account::SANDBOX_SPEED));
        let ran = execute(run, client, &target, speed).await?;
        if let Some(sandbox) = sandbox {
            keep_sandbox_state(&sandbox, &ran.dir)?;
        }
        ran.finish(&target)
    })
}

/// `zdimport runs`: one line per run, oldest first; `--json`, a list of objects.
pub fn runs(args: &RunsArgs) -> CliResult<ExitCode> {
    let dir = session::run::runs_dir()?;
    let list = session::run::list();
    if list.is_empty() {
        eprintln!("zdimport: no runs in {}", dir.display());
    }
    let mut out = super::visible_stdout();
    if args.json {
        let runs: Vec<serde_json::Value> = list.iter().map(run_json).collect();
        return super::stdout_written(
            serde_json::to_writer_pretty(&mut out, &runs)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out)),
        )
        .map(|()| ExitCode::SUCCESS);
    }
    for run in list {
        let state = if run.complete { "done" } else { "unfinished" };
        let line = format!(
            "{}  {:<10}  {:<6}  {}  {}  {}",
            run.info.id, state, run.info.mode, run.done, run.info.account, run.info.file
        );
        super::stdout_written(writeln!(out, "{line}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One run for `runs --json`.
fn run_json(run: &RunListing) -> serde_json::Value {
    let d = &run.done;
    serde_json::json!({
        "id": run.info.id,
        "state": if run.complete { "done" } else { "unfinished" },
        "created_at": run.info.created_at,
        "account": run.info.account,
        "sandbox": run.info.sandbox,
        "file": run.info.file,
        "sheet": run.info.sheet,
        "mode": run.info.mode,
        "retry_of": run.info.retry_of,
        "rows": d.rows,
        "created": d.created,
        "updated": d.updated,
        "failed": d.failed,
        "skipped": d.skipped,
        "unknown": d.unknown,
        "pending": d.pending,
        "dir": run.dir.display().to_string(),
        "logs": session::run::logs_of(&run.dir),
    })
}

/// `zdimport report RUN`: an earlier run's results written again, as the import wrote them.
pub fn report(args: &ReportArgs) -> CliResult<ExitCode> {
    let dir = session::run::find(Some(&args.run))?;
    let format = match (&args.format, &args.out) {
        (Some(format), _) => format.clone(),
        (None, Some(out))
            if out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json")) =>
        {
            "json".to_owned()
        }
        (None, _) => "csv".to_owned(),
    };
    let format = if format == "json" {
        run::ReportFormat::Json
    } else {
        run::ReportFormat::Csv
    };
    if let Some(path) = &args.out
        && !args.force
        && path.exists()
    {
        return Err(CliError::Usage(format!(
            "--out {} already exists: pass --force to replace it, or choose another path",
            path.display()
        )));
    }
    if args.organizations || args.memberships {
        return side_report(args, &dir, format);
    }
    match &args.out {
        Some(path) => {
            let rows = run::write_run_report(path, &dir, format)?;
            eprintln!(
                "zdimport: run {}: {rows} rows written to {}",
                session::run::id_of(&dir),
                path.display()
            );
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let written = run::write_run_report_to(&mut out, &dir, format)
                .map_err(std::io::Error::other)
                .and_then(|_| out.flush());
            super::stdout_written(written)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `report --organizations` or `--memberships`: the organizations the run created first, or
/// the memberships it added after its users, instead of its rows. Written to `--out` or stdout
/// as it is read: a run of 200,000 memberships held its 17 MB of CSV in memory first.
fn side_report(args: &ReportArgs, dir: &Path, format: run::ReportFormat) -> CliResult<ExitCode> {
    let none = match &args.out {
        Some(path) => {
            let error = |e: std::io::Error| format!("{}: {e}", path.display());
            let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(error)?);
            let none = write_side_report(&mut out, args, dir, format)?;
            out.flush().map_err(error)?;
            none
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let none = write_side_report(&mut out, args, dir, format)?;
            super::stdout_written(out.flush())?;
            none
        }
    };
    if let Some(none) = none {
        eprintln!("zdimport: run {} {none}", session::run::id_of(dir));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the side report `args` asks to `out`; what the run did not do, when it has none.
fn write_side_report(
    out: &mut impl std::io::Write,
    args: &ReportArgs,
    dir: &Path,
    format: run::ReportFormat,
) -> CliResult<Option<&'static str>> {
    if args.memberships {
        let members = session::run::memberships(dir)?;
        run::write_memberships_to(out, &members, format)?;
        return Ok(members.is_empty().then_some("added no membership"));
    }
    let orgs = session::run::organizations(dir)?;
    run::write_organizations_to(out, &orgs, format)?;
    Ok(orgs.is_empty().then_some("created no organization first"))
}

/// [`build_plan`] through the account plan (`--tags add`, `--make-primary`): the users looked
/// up as `plan` does, and what it says sent: existing users' tags merged, emails to make
/// primary marked, rows that would fail or conflict skipped with the reason. Unchanged rows
/// are sent as they are (a script's exit code stays "all created or updated").
async fn build_account_plan(
    mut p: Prepared,
    args: &MappingArgs,
    checks: &AccountChecks,
    (client, rate, options): (&Client, &account::RateInfo, PlanOptions),
) -> CliResult<(OutboxFile, RunInfo, LeftOut)> {
    let dir = session::run::spool_dir()?;
    let laid_out = (false, p.options.jobs);
    let (plan, planned, left_out) = if p.mapping.object == session::check::Object::Organizations {
        // A sheet of organizations: checked into a spool and surveyed as it goes by, then
        // read back a part at a time, as users are.
        let source = p.streamed();
        let (surveyed, input, found) =
            session::check::streamed_organizations(source, checks, &dir)?;
        let SurveyedOrgs {
            organizations,
            survey,
        } = surveyed;
        let counted = (input.object, survey.organizations, 0);
        eprintln!(
            "zdimport: {}",
            super::plan::cost_line(&survey.cost(rate), counted)
        );
        let report = report_of(&found.errors, p.options.invalid);
        let spool = (&report, dir.as_path());
        let rows: session::check::OrgRows<'_> = Box::new(organizations.organizations());
        let from = (rows, survey, input.invalid);
        let account = (options, rate);
        let (plan, planned) =
            session::check::routed_organizations(client, from, account, laid_out, spool).await?;
        (plan, planned, LeftOut::of(&found.errors, found.rows))
    } else {
        // Users: checked into a spool and surveyed as they go by (the cost), then read back a
        // part at a time.
        let (surveyed, input, found) = session::check::streamed_users(p.streamed(), checks, &dir)?;
        let SurveyedUsers { users, survey } = surveyed;
        let counted = (input.object, survey.users, survey.organizations().len());
        eprintln!(
            "zdimport: {}",
            super::plan::cost_line(&survey.cost(rate), counted)
        );
        let report = report_of(&found.errors, p.options.invalid);
        let spool = (&report, dir.as_path());
        let from = (&users as &dyn session::check::Users, survey, input.invalid);
        let (plan, planned) =
            session::check::routed_spool_of(client, from, (options, rate), laid_out, spool).await?;
        (plan, planned, LeftOut::of(&found.errors, found.rows))
    };
    if let Some(line) = super::plan::primary_line_for(planned.tally.primary) {
        eprintln!("zdimport: {line}");
    }
    if let Some(line) = session::check::memberships::line_for(planned.tally.memberships) {
        eprintln!("zdimport: {line}");
    }
    for warning in &planned.plan.warnings {
        eprintln!("zdimport: warning: {warning}");
    }
    let info = run_info(&p, args, &plan);
    Ok((plan, info, left_out))
}

/// The report a plan's outbox skips the rows with `errors` from, as `invalid` says.
fn report_of(errors: &[session::check::Issue], invalid: InvalidPolicy) -> session::check::Report {
    session::check::Report {
        issues: errors.iter().collect(),
        invalid,
        ..session::check::Report::default()
    }
}

/// What a new run imports from where (the account is set by the caller).
fn run_info(p: &Prepared, args: &MappingArgs, plan: &OutboxFile) -> RunInfo {
    RunInfo {
        id: session::run::new_id(),
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
    }
}

/// Reads the sheet once: the requests to send, the rows with errors skipped (or, under
/// `--invalid include`, sent and marked), and what each policy would leave out.
fn build_plan(
    mut p: Prepared,
    args: &MappingArgs,
    checks: &AccountChecks,
) -> CliResult<(OutboxFile, RunInfo, LeftOut)> {
    let source = p.streamed();
    let (plan, left_out) = session::check::streamed_outbox(source, checks)?;
    let info = run_info(&p, args, &plan);
    Ok((plan, info, left_out))
}

fn plan_text(plan: &OutboxFile, info: &RunInfo) -> String {
    let (method, path) = info.mode.endpoint();
    let endpoints = match plan.object {
        crate::session::check::Object::Users => format!("{method} {path}"),
        crate::session::check::Object::Organizations => plan.endpoints_text(),
    };
    let to = if info.account.is_empty() {
        String::new()
    } else {
        format!(" to {}", info.account)
    };
    let despite = match plan.sent_despite().unwrap_or(0) {
        0 => String::new(),
        n => format!(" ({n} despite an error, marked in the results)"),
    };
    let orgs = match plan.organizations.len() {
        0 => String::new(),
        n => format!(
            "; {n} organizations the account lacks created first: {}",
            run::organizations_cost(n)
        ),
    };
    format!(
        "{} rows: {} to send in {} requests{despite} ({} mode, {endpoints}){to}, {} skipped \
         (errors){orgs}",
        plan.rows(),
        plan.sent_rows(),
        plan.batches(),
        info.mode,
        plan.skipped_len()
    )
}

/// `rows with errors: 4 (--invalid skip leaves out 4 rows, block 207, include 3)`.
fn policy_text(policy: InvalidPolicy, left_out: &LeftOut) -> String {
    format!(
        "rows with errors: {} (--invalid {policy}); {}",
        left_out.errors,
        left_out.line()
    )
}

/// `import --dry-run --json`: what would be sent.
fn dry_run_json(
    plan: &OutboxFile,
    info: &RunInfo,
    policy: InvalidPolicy,
    left_out: &LeftOut,
) -> serde_json::Value {
    serde_json::json!({
        "dry_run": true,
        "account": info.account,
        "mode": info.mode,
        "rows": plan.rows(),
        "to_send": plan.sent_rows(),
        "requests": plan.batches(),
        "sent_despite_errors": plan.sent_despite().unwrap_or(0),
        "organizations_to_create": plan.organizations,
        "organization_requests": run::PlannedOrg::calls(plan.organizations.len()),
        "skipped": plan.skipped_len(),
        "invalid": policy,
        "left_out": {
            "skip": left_out.by(InvalidPolicy::Skip),
            "block": left_out.by(InvalidPolicy::Block),
            "include": left_out.by(InvalidPolicy::Include),
        },
    })
}

fn print_json(value: &serde_json::Value) -> CliResult<()> {
    let mut out = super::visible_stdout();
    super::stdout_written(
        serde_json::to_writer_pretty(&mut out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
    )
}

/// Before anything is sent: `--report` is not the input, and an existing one is replaced only
/// with `--force` or, on a terminal without `--yes`, the operator's answer.
fn check_report(target: &TargetArgs, input: &Path, yes: bool) -> CliResult<()> {
    let Some(report) = &target.report else {
        return Ok(());
    };
    match run::check_report_path(report, input, target.force) {
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
        other => Ok(other?),
    }
}

/// One line from stdin: `y` or `yes` (any case) is yes.
fn ask_yes() -> CliResult<bool> {
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// On a terminal, asks before sending; elsewhere `--yes` is required.
fn confirm(yes: bool, plan: &OutboxFile, info: &RunInfo) -> CliResult<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err("not a terminal: pass --yes to send without asking".into());
    }
    // The plan line is above, printed once.
    eprint!(
        "Send {} users to {}? [y/N] ",
        plan.sent_rows(),
        info.account
    );
    if ask_yes()? {
        Ok(())
    } else {
        Err("nothing sent".into())
    }
}

/// The run's own account unless the command line names another.
fn with_account(target: &TargetArgs, info: &RunInfo) -> TargetArgs {
    let mut target = target.clone();
    if target.url.is_none() && target.subdomain.is_none() {
        target.url = Some(info.account.clone());
    }
    target
}

async fn connect(target: &TargetArgs) -> CliResult<Client> {
    let (client, warning) = account::sign_in(
        target.url.as_deref(),
        target.subdomain.as_deref(),
        |k| std::env::var(k).ok(),
        account::DEFAULT_TIMEOUT,
    )
    .await?;
    if let Some(warning) = warning {
        eprintln!("zdimport: {warning}");
    }
    Ok(client)
}

async fn start_sandbox(seed: Option<&Path>) -> CliResult<(Client, SandboxHandle)> {
    let target = session::account::Target::Sandbox {
        seed: seed.map(Path::to_path_buf),
    };
    let connected = session::account::connect(&target, |_| None).await?;
    let sandbox = connected.sandbox.ok_or("the sandbox did not start")?;
    eprintln!(
        "zdimport: importing into the in-process sandbox at {}",
        sandbox.url()
    );
    Ok((connected.client, sandbox))
}

/// The sandbox ends with the process: its users go to the run folder for a look.
fn keep_sandbox_state(sandbox: &SandboxHandle, dir: &Path) -> CliResult<()> {
    let path = dir.join("sandbox_users.json");
    let users = serde_json::json!({ "users": sandbox.users() });
    let text = serde_json::to_vec_pretty(&users)?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("zdimport: the sandbox's users are in {}", path.display());
    Ok(())
}

/// Runs the engine with progress on stderr and Ctrl-C as cancel; the session writes the report.
async fn execute(
    run: session::run::Run,
    client: Client,
    target: &TargetArgs,
    speed: Option<f64>,
) -> CliResult<Ran> {
    let pace = session::run::Pace {
        jobs: target.concurrency.map(usize::from),
        speed,
    };
    let (started, events) = run.start(Arc::new(client), pace);
    let controls = started.controls();
    let id = session::run::id_of(started.dir());
    let resume_id = id.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\nzdimport: stopping: nothing more is sent; what Zendesk has accepted is followed \
             for a while (Ctrl-C again stops at once; `zdimport resume {resume_id}` continues)"
        );
        controls.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            // Every journal entry is one atomic append: the run folder is consistent as it is.
            eprintln!("\nzdimport: stopped; `zdimport resume {resume_id}` continues the run");
            std::process::exit(130);
        }
    });
    let printer = tokio::spawn(super::progress::show(
        events,
        super::progress::Display::choose(target.quiet),
    ));
    let result = started.finish(target.report.clone()).await;
    let _printed = printer.await;
    let ended = result.map_err(|e| match e {
        session::run::RunError::Report { .. } => e.to_string(),
        e => format!("{e}; the run can be continued with `zdimport resume {id}`"),
    })?;
    Ok(Ran {
        summary: ended.summary,
        report: ended.report,
        dir: ended.dir,
    })
}

/// A run that ended (or was found finished): what the end of the command says.
struct Ran {
    summary: Summary,
    report: PathBuf,
    dir: PathBuf,
}

impl Ran {
    /// The summary, report and log paths on stderr, `--json` on stdout; the exit code.
    fn finish(self, target: &TargetArgs) -> CliResult<ExitCode> {
        let Ran {
            summary,
            report,
            dir,
        } = self;
        eprintln!("zdimport: {summary}");
        eprintln!("zdimport: results in {}", report.display());
        if !summary.organizations.is_empty() {
            let orgs = run::organizations_path(&report);
            eprintln!("zdimport: organizations in {}", orgs.display());
        }
        let log = crate::logging::current();
        if let Some(log) = log {
            eprintln!("zdimport: log in {}", log.display());
        }
        let code = exit_code(&summary, &dir);
        if target.json {
            print_json(&serde_json::json!({
                "run": session::run::id_of(&dir),
                "rows": summary.rows,
                "created": summary.created,
                "updated": summary.updated,
                "failed": summary.failed,
                "skipped": summary.skipped,
                "unknown": summary.unknown,
                "pending": summary.pending,
                "cancelled": summary.cancelled,
                "exit_code": code,
                "dir": dir.display().to_string(),
                "report": report.display().to_string(),
                "log": log.map(|l| l.display().to_string()),
            }))?;
        }
        Ok(ExitCode::from(code))
    }
}

fn exit_code(summary: &Summary, dir: &Path) -> u8 {
    if summary.pending > 0 {
        eprintln!(
            "zdimport: cancelled; continue with `zdimport resume {}`",
            session::run::id_of(dir)
        );
    }
    if summary.all_succeeded() {
        0
    } else {
        EXIT_SOME_ROWS
    }
}
