//! `zdimport plan`: what an import would do to each row, looked up in the account first.

use super::CliResult;
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::account::{AccountArgs, Connected, runtime};
use super::mapped::{MappingArgs, Prepared};
use crate::session::check::AccountChecks;
use crate::session::check::{
    self, Action, Cost, Counts, Existing, MissingOrgs, Plan, PlanInput, PlanOptions, RowPlan, Tags,
};
use crate::session::check::{Issue, Mode, User};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub mapping: MappingArgs,
    #[command(flatten)]
    pub connection: AccountArgs,
    /// Create mode: what to do with users that already exist (fail, update or skip)
    #[arg(long, value_name = "fail|update|skip", default_value = "fail", value_parser = parse_existing)]
    pub existing: Existing,
    /// Print every row as JSON: {"row","action","id","changes":[{"field","old","new"}]}
    #[arg(long)]
    pub json: bool,
    /// Also search by email the rows whose external_id finds nobody (an upsert matches them by
    /// email): one request per such row
    #[arg(long)]
    pub search_emails: bool,
    /// What a row's tags do to an existing user's: replace them (Zendesk's bulk update) or add
    /// to them (the tags looked up are sent with the row's); default: the profile's, else
    /// replace
    #[arg(long, value_name = "add|replace", value_parser = parse_tags)]
    pub tags: Option<Tags>,
    /// A user whose organization the account lacks: create the organization first (default:
    /// the profile's, else create), skip-field (send the user without it) or fail (the row is
    /// not sent)
    #[arg(long, value_name = "create|skip-field|fail", value_parser = parse_missing_orgs)]
    pub missing_orgs: Option<MissingOrgs>,
    /// A new email on an existing user becomes its primary email (the identities API, two
    /// requests per user after its bulk job) instead of a secondary one beside the primary
    /// Zendesk keeps (default: the profile's make_primary)
    #[arg(long)]
    pub make_primary: bool,
    /// Say what the lookups would cost, and stop
    #[arg(long)]
    pub cost_only: bool,
    /// Look up without asking, however long it takes
    #[arg(long)]
    pub yes: bool,
}

fn parse_existing(text: &str) -> Result<Existing, String> {
    text.parse()
}

pub(super) fn parse_tags(text: &str) -> Result<Tags, String> {
    text.parse()
}

pub(super) fn parse_missing_orgs(text: &str) -> Result<MissingOrgs, String> {
    text.parse()
}

/// `--tags`, else the profile's, else replace.
pub(super) fn tags_mode(chosen: Option<Tags>, mapping: &MappingArgs) -> CliResult<Tags> {
    if let Some(tags) = chosen {
        return Ok(tags);
    }
    match &mapping.profile {
        Some(name) => Ok(crate::session::profiles::load(name)?.options.tags),
        None => Ok(Tags::default()),
    }
}

/// `--missing-orgs`, else the profile's, else create.
pub(super) fn missing_orgs_policy(
    chosen: Option<MissingOrgs>,
    mapping: &MappingArgs,
) -> CliResult<MissingOrgs> {
    if let Some(policy) = chosen {
        return Ok(policy);
    }
    let Some(name) = &mapping.profile else {
        return Ok(MissingOrgs::default());
    };
    let profile = crate::session::profiles::load(name)?;
    Ok(profile.options.missing_orgs)
}

/// Exit code when some row would not go through (conflict, would fail, invalid).
const EXIT_ROW_PROBLEMS: u8 = 1;

/// Lookups longer than this ask first on a terminal.
const ASK_OVER_MINUTES: f64 = 1.0;

pub fn run(args: &PlanArgs) -> CliResult<ExitCode> {
    let runtime = runtime()?;
    let connected = runtime.block_on(args.connection.connect(args.mapping.object()?))?;
    let mut prepared = args.mapping.prepare_for(Some(&connected.fields))?;
    let input = read_rows(&mut prepared, &connected, args)?;
    let cost = check::estimate(&input, &connected.rate);
    let organizations = check::distinct_names(&input.users).len();
    let records = input.users.len() + input.organizations.len();
    let counted = (input.object, records, organizations);
    eprintln!("zdimport: {}", cost_line(&cost, counted));
    if args.cost_only && args.json {
        let mut out = super::visible_stdout();
        let users = input.users.len();
        let doc = serde_json::json!({ "users": users, "cost": &cost });
        return super::stdout_written(
            serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out)),
        )
        .map(|()| ExitCode::SUCCESS);
    }
    if args.cost_only || !go_on(&cost, args.yes) {
        return Ok(ExitCode::SUCCESS);
    }
    let options = PlanOptions {
        mode: prepared.options.mode,
        existing: args.existing,
        search_new_emails: args.search_emails,
        tags: tags_mode(args.tags, &args.mapping)?,
        missing_orgs: missing_orgs_policy(args.missing_orgs, &args.mapping)?,
        make_primary: args.make_primary || prepared.make_primary,
        ..PlanOptions::default()
    };
    args.mapping
        .save_plan_choices(options.missing_orgs, options.make_primary)?;
    args.mapping.save_tags_choice(options.tags)?;
    let plan = runtime.block_on(check::build(
        &connected.client,
        input,
        options,
        &connected.rate,
    ))?;
    let mut out = BufWriter::new(super::visible_stdout());
    let written = if args.json {
        write_json(&mut out, &plan)
    } else {
        write_text(&mut out, &plan, &prepared)
    };
    super::stdout_written(written.and_then(|()| out.flush()))?;
    let c = plan.counts();
    Ok(if c.conflict + c.would_fail + c.invalid > 0 {
        ExitCode::from(EXIT_ROW_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// Every row checked for the account, as the plan's input.
fn read_rows(
    prepared: &mut Prepared,
    connected: &Connected,
    args: &PlanArgs,
) -> CliResult<PlanInput> {
    let checks = connected.checks(args.connection.blank);
    checked_rows(prepared, &checks).map(|(input, ..)| input)
}

/// Every row checked with `checks`, as a plan's input; with the rows' errors and the number
/// of rows read.
pub(super) fn checked_rows(
    prepared: &mut Prepared,
    checks: &AccountChecks,
) -> CliResult<(PlanInput, Vec<Issue>, u64)> {
    let source = prepared.streamed();
    let (input, found) = crate::session::check::streamed_input(source, checks)?;
    Ok((input, found.errors, found.rows))
}

/// `the plan looks up 200 users and 3 organizations in 5 requests…`: the cost of looking up
/// `records` rows of `object` naming `organizations` organizations.
pub(super) fn cost_line(
    cost: &Cost,
    (object, records, organizations): (check::Object, usize, usize),
) -> String {
    let more = if cost.at_most > cost.requests {
        format!(" (at most {})", cost.at_most)
    } else {
        String::new()
    };
    let time = match cost.rate_limit {
        Some(limit) if cost.minutes < 1.0 => {
            format!(", under a minute at {limit} requests/minute")
        }
        Some(limit) => format!(
            ", about {} minutes at {limit} requests/minute",
            cost.minutes.ceil()
        ),
        None => String::new(),
    };
    let orgs = match organizations {
        0 => String::new(),
        1 => " and 1 organization".to_owned(),
        n => format!(" and {n} organizations"),
    };
    let looked_up = match object {
        check::Object::Users => format!("{records} users{orgs}"),
        check::Object::Organizations => format!("{records} organizations"),
    };
    format!(
        "the plan looks up {looked_up} in {} requests{more}{time}",
        cost.requests
    )
}

/// On a terminal, a long lookup asks first; elsewhere it goes on.
fn go_on(cost: &Cost, yes: bool) -> bool {
    if yes || cost.minutes <= ASK_OVER_MINUTES || !std::io::stdin().is_terminal() {
        return true;
    }
    eprint!("zdimport: look them up now? [y/N] ");
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    mode: Mode,
    counts: Counts,
    cost: &'a Cost,
    spent: &'a check::Spent,
    /// Requests the import makes after the bulk jobs to make emails primary.
    make_primary_requests: u64,
    missing_organizations: &'a [String],
    /// Memberships added once the users exist (several organizations per user).
    memberships_to_add: usize,
    warnings: &'a [String],
    rows: &'a [RowPlan],
}

fn write_json(out: &mut impl Write, plan: &Plan) -> std::io::Result<()> {
    let doc = JsonPlan {
        mode: plan.mode,
        counts: plan.counts(),
        cost: &plan.cost,
        spent: &plan.spent,
        make_primary_requests: plan.make_primary_requests(),
        missing_organizations: &plan.missing_organizations,
        memberships_to_add: check::memberships::to_add(&plan.rows),
        warnings: &plan.warnings,
        rows: &plan.rows,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// Rows that are not plainly new or unchanged, one line each (an update's changes below it),
/// then the organizations and the counts.
fn write_text(out: &mut impl Write, plan: &Plan, prepared: &Prepared) -> std::io::Result<()> {
    writeln!(
        out,
        "{}, sheet '{}': mode {}, looked up in {} requests ({} answered 429)\n",
        prepared.workbook.path().display(),
        prepared.layout.sheet,
        plan.mode,
        plan.spent.requests,
        plan.spent.rate_limited
    )?;
    for row in &plan.rows {
        write_row(out, row, plan)?;
    }
    if !plan.missing_organizations.is_empty() {
        writeln!(
            out,
            "\nOrganizations not in the account, created first ({}; {}), their users sent with \
             the ids they get: {}",
            plan.missing_organizations.len(),
            crate::session::run::organizations_cost(plan.missing_organizations.len()),
            plan.missing_organizations.join(", ")
        )?;
    }
    if let Some(line) = check::memberships::line(&plan.rows) {
        writeln!(out, "\n{line}")?;
    }
    if let Some(line) = primary_line(plan) {
        writeln!(out, "\n{line}")?;
    }
    for warning in &plan.warnings {
        writeln!(out, "\nWarning: {warning}")?;
    }
    writeln!(out, "\n{}", counts_line(&plan.counts()))
}

fn write_row(out: &mut impl Write, row: &RowPlan, plan: &Plan) -> std::io::Result<()> {
    let org = plan.organizations.get(&row.row);
    let who = row
        .user
        .as_ref()
        .map(who)
        .or_else(|| org.map(check::org_rows::who))
        .unwrap_or_default();
    let name = row.action.name();
    let one = plan.object.one();
    match &row.action {
        Action::New | Action::Unchanged { .. } => Ok(()),
        Action::Update { id, changes } => {
            writeln!(out, "row {:<6} {name:<10} {who} ({one} {id})", row.row)?;
            for change in changes {
                writeln!(out, "{:18}{change}", "")?;
            }
            Ok(())
        }
        Action::Conflict { reason, .. }
        | Action::WouldFail { reason }
        | Action::LeftOut { reason, .. }
        | Action::Invalid { reason }
            if who.is_empty() =>
        {
            writeln!(out, "row {:<6} {name:<10} {reason}", row.row)
        }
        Action::Conflict { reason, .. }
        | Action::WouldFail { reason }
        | Action::LeftOut { reason, .. }
        | Action::Invalid { reason } => {
            writeln!(out, "row {:<6} {name:<10} {who}: {reason}", row.row)
        }
    }
}

/// The row's email, else its external_id, else its name.
fn who(user: &User) -> String {
    user.email
        .clone()
        .or_else(|| user.external_id.clone())
        .or_else(|| user.name.clone())
        .unwrap_or_default()
}

/// What making emails primary adds to the import's requests, when any is made primary.
pub(super) fn primary_line(plan: &Plan) -> Option<String> {
    primary_line_for(plan.primary_emails().len())
}

/// [`primary_line`] for `users` rows whose email is made primary.
pub(super) fn primary_line_for(users: usize) -> Option<String> {
    (users > 0).then(|| {
        format!(
            "Making {users} emails primary costs {} more requests after the bulk jobs (the \
             user's identities, then make_primary)",
            users as u64 * crate::session::check::MAKE_PRIMARY_REQUESTS
        )
    })
}

fn counts_line(c: &Counts) -> String {
    format!(
        "{} rows: {} new, {} update, {} unchanged, {} conflict, {} would fail, {} left out, \
         {} invalid",
        c.total, c.new, c.update, c.unchanged, c.conflict, c.would_fail, c.left_out, c.invalid
    )
}
