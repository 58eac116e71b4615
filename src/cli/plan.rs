//! `zdimport plan`: what an import would do to each row, looked up in the account first.

use super::{CliError, CliResult};
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::account::{AccountArgs, runtime};
use super::mapped::{MappingArgs, Prepared};
use crate::session::check::{
    self, Action, Cost, Counts, Existing, MissingOrgs, Plan, PlanOptions, RowPlan, Tags,
};
use crate::session::check::{Mode, User};

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
    let checks = connected.checks(args.connection.blank);
    let rate = &connected.rate;
    let mut out = BufWriter::new(super::visible_stdout());
    let counts = if prepared.mapping.object == check::Object::Organizations {
        // A sheet of organizations: checked into a spool and surveyed as it goes by, then
        // read back, looked up and written out a part at a time, as users are.
        let dir = crate::session::run::spool_dir()?;
        let source = prepared.streamed();
        let (surveyed, input, _) = check::streamed_organizations(source, &checks, &dir)?;
        let check::SurveyedOrgs {
            organizations,
            survey,
        } = surveyed;
        let counted = (input.object, survey.organizations, 0);
        if !look_up(&survey.cost(rate), counted, survey.organizations, args)? {
            return Ok(ExitCode::SUCCESS);
        }
        let options = plan_options(args, &prepared)?;
        let mut printed = Printed::create(args.json, (input.object, input.invalid), dir)?;
        let from = (
            check::org_rows::parts(organizations.organizations()),
            survey,
        );
        let how = ((options.mode, options.tags), (options.concurrency, rate));
        let plan = runtime.block_on(check::org_rows::build_each(
            &connected.client,
            from,
            Vec::new(),
            how,
            &mut printed,
        ))?;
        printed.finish(&plan, sheet_of(&prepared), &mut out)?
    } else {
        // Users: checked into a spool and surveyed as they go by (the cost), then read back
        // a part at a time, each part's rows written out as it is decided: memory holds one
        // part, not the plan.
        let dir = crate::session::run::spool_dir()?;
        let (surveyed, input, _) = check::streamed_users(prepared.streamed(), &checks, &dir)?;
        let check::SurveyedUsers { users, survey } = surveyed;
        let counted = (input.object, survey.users, survey.organizations().len());
        if !look_up(&survey.cost(rate), counted, survey.users, args)? {
            return Ok(ExitCode::SUCCESS);
        }
        let options = plan_options(args, &prepared)?;
        let invalid = (input.object, input.invalid);
        let mut printed = Printed::create(args.json, invalid, dir)?;
        let from = (&users as &dyn check::Users, survey);
        let plan = runtime.block_on(check::build_each(
            &connected.client,
            from,
            Vec::new(),
            (options, rate),
            &mut printed,
        ))?;
        printed.finish(&plan, sheet_of(&prepared), &mut out)?
    };
    Ok(if counts.problems() > 0 {
        ExitCode::from(EXIT_ROW_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    })
}

/// The file and sheet the rows are read from, as the plan's first line names them.
fn sheet_of(prepared: &Prepared) -> (&std::path::Path, &str) {
    (prepared.workbook.path(), &prepared.layout.sheet)
}

/// Says what the lookups of `counted` cost; with `--cost-only` that is all (as JSON with
/// `--json`: how many `users`, or `organizations` on a sheet of them, and the cost). Whether
/// to look them up now.
fn look_up(
    cost: &Cost,
    counted: (check::Object, usize, usize),
    records: usize,
    args: &PlanArgs,
) -> CliResult<bool> {
    eprintln!("zdimport: {}", cost_line(cost, counted));
    if args.cost_only && args.json {
        let mut out = super::visible_stdout();
        let key = match counted.0 {
            check::Object::Users => "users",
            check::Object::Organizations => "organizations",
        };
        let doc = serde_json::json!({ key: records, "cost": cost });
        super::stdout_written(
            serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out)),
        )?;
        return Ok(false);
    }
    Ok(!args.cost_only && go_on(cost, args.yes))
}

/// The plan's options from the command line and the profile; the choices the profile keeps
/// saved in it.
fn plan_options(args: &PlanArgs, prepared: &Prepared) -> CliResult<PlanOptions> {
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
    Ok(options)
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

/// `plan --json`'s document; `rows` last, each row's `{"row","action",…}` as
/// [`RowPlan`] serialises.
#[derive(Serialize)]
struct JsonPlan<'a, Rows> {
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
    rows: Rows,
}

/// `zdimport plan`'s rows as the plan hands them over, in sheet order, written to an unnamed
/// scratch file in the data dir as they come (the output's first line says what the lookups
/// spent, known only once every row is decided), and what its last lines say counted as
/// they go by: memory holds a part of the plan, never every row.
struct Printed {
    json: bool,
    /// `user`, `organization`: what a row's id is of.
    one: &'static str,
    /// Each row's JSON on a line of its own, or its text lines.
    rows: BufWriter<std::fs::File>,
    /// Where the scratch file is, to say so when it cannot be written.
    dir: std::path::PathBuf,
    /// The rows with an error (never looked up), merged in by row.
    invalid: check::InvalidRows,
    counts: Counts,
    /// Rows whose email is made primary.
    primary: usize,
    /// Memberships added once the users exist.
    memberships: usize,
}

impl Printed {
    /// A scratch file for the rows of a plan of `object`, the rows with an error in `invalid`
    /// (they are merged in where they belong).
    fn create(
        json: bool,
        (object, invalid): (check::Object, Vec<(u32, String)>),
        dir: std::path::PathBuf,
    ) -> CliResult<Self> {
        let file = std::fs::create_dir_all(&dir)
            .and_then(|()| tempfile::tempfile_in(&dir))
            .map_err(|e| scratch(&dir, &e))?;
        Ok(Self {
            json,
            one: object.one(),
            rows: BufWriter::new(file),
            dir,
            invalid: check::InvalidRows::new(invalid),
            counts: Counts::default(),
            primary: 0,
            memberships: 0,
        })
    }

    /// Writes one row, `who` it is.
    fn row(&mut self, row: &RowPlan, who: &str) -> CliResult<()> {
        self.invalid_before(Some(row.row))?;
        self.write(row, who)
    }

    fn write(&mut self, row: &RowPlan, who: &str) -> CliResult<()> {
        self.counts.add(&row.action);
        self.primary += usize::from(row.makes_primary().is_some());
        self.memberships += check::memberships::to_add(std::slice::from_ref(row));
        let written = if self.json {
            serde_json::to_writer(&mut self.rows, row)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(self.rows))
        } else {
            write_row(&mut self.rows, row, who, self.one)
        };
        written.map_err(|e| scratch(&self.dir, &e))
    }

    /// Writes the rows with an error that come before `row` (all of them: `None`).
    fn invalid_before(&mut self, row: Option<u32>) -> CliResult<()> {
        while let Some(invalid) = self.invalid.next_before(row) {
            self.write(&invalid, "")?;
        }
        Ok(())
    }

    /// Writes the whole output to `out` once every row is in: `plan` is what the plan says
    /// besides them, `sheet` the file and sheet it was read from. The counts.
    fn finish(
        mut self,
        plan: &Plan,
        sheet: (&std::path::Path, &str),
        out: &mut impl Write,
    ) -> CliResult<Counts> {
        self.invalid_before(None)?;
        let dir = self.dir.clone();
        let mut file = self
            .rows
            .into_inner()
            .map_err(|e| scratch(&dir, e.error()))?;
        std::io::Seek::rewind(&mut file).map_err(|e| scratch(&dir, &e))?;
        let counts = self.counts;
        let written = if self.json {
            let doc = JsonPlan {
                mode: plan.mode,
                counts,
                cost: &plan.cost,
                spent: &plan.spent,
                make_primary_requests: self.primary as u64 * check::MAKE_PRIMARY_REQUESTS,
                missing_organizations: &plan.missing_organizations,
                memberships_to_add: self.memberships,
                warnings: &plan.warnings,
                rows: ScratchRows {
                    file: &file,
                    rows: counts.total,
                },
            };
            serde_json::to_writer_pretty(&mut *out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            let tally = (self.primary, self.memberships);
            write_text(out, (plan, sheet), &file, (tally, &counts))
        };
        super::stdout_written(written.and_then(|()| out.flush()))?;
        Ok(counts)
    }
}

impl check::PlanSink for Printed {
    type Error = CliError;

    fn rows(&mut self, rows: Vec<RowPlan>) -> CliResult<()> {
        for row in &rows {
            let who = row
                .user
                .as_deref()
                .map(who)
                .or_else(|| row.organization.as_deref().map(check::org_rows::who))
                .unwrap_or_default();
            self.row(row, &who)?;
        }
        Ok(())
    }
}

/// The plan's scratch file could not be written or read back.
fn scratch(dir: &std::path::Path, e: &std::io::Error) -> CliError {
    CliError::Usage(format!(
        "cannot keep the plan's rows in a scratch file in {}: {e}",
        dir.display()
    ))
}

/// The rows of `plan --json`, read back from the scratch file a line at a time as they are
/// printed.
struct ScratchRows<'a> {
    file: &'a std::fs::File,
    rows: usize,
}

impl Serialize for ScratchRows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq as _};
        let mut seq = serializer.serialize_seq(Some(self.rows))?;
        for line in std::io::BufReader::new(self.file).lines() {
            let line =
                line.map_err(|e| S::Error::custom(format!("reading the plan's rows back: {e}")))?;
            let row: serde_json::Value = serde_json::from_str(&line).map_err(S::Error::custom)?;
            seq.serialize_element(&row)?;
        }
        seq.end()
    }
}

/// Rows that are not plainly new or unchanged, one line each (an update's changes below it,
/// read back from `rows`), then the organizations and the counts.
fn write_text(
    out: &mut impl Write,
    (plan, (file, sheet)): (&Plan, (&std::path::Path, &str)),
    mut rows: &std::fs::File,
    ((primary, memberships), counts): ((usize, usize), &Counts),
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}, sheet '{}': mode {}, looked up in {} requests ({} answered 429)\n",
        file.display(),
        sheet,
        plan.mode,
        plan.spent.requests,
        plan.spent.rate_limited
    )?;
    std::io::copy(&mut rows, out)?;
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
    if let Some(line) = check::memberships::line_for(memberships) {
        writeln!(out, "\n{line}")?;
    }
    if let Some(line) = primary_line_for(primary) {
        writeln!(out, "\n{line}")?;
    }
    for warning in &plan.warnings {
        writeln!(out, "\nWarning: {warning}")?;
    }
    writeln!(out, "\n{}", counts_line(counts))
}

fn write_row(out: &mut impl Write, row: &RowPlan, who: &str, one: &str) -> std::io::Result<()> {
    let name = row.action.name();
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

/// What making emails primary adds to the import's requests, for `users` rows whose email is made primary.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::check::{Change, MemberOf, PlanSink as _, Spent};
    use serde_json::json;

    fn user(email: &str, memberships: &[&str]) -> User {
        User {
            name: Some(format!("Name of {email}")),
            email: Some(email.to_owned()),
            memberships: memberships
                .iter()
                .map(|name| MemberOf {
                    name: (*name).to_owned(),
                    id: None,
                })
                .collect(),
            ..User::default()
        }
    }

    fn row(row: u32, action: Action, user: User) -> RowPlan {
        RowPlan {
            row,
            action,
            user: Some(Box::new(user)),
            organization: None,
        }
    }

    /// Two parts as the plan hands them over, and the rows with an error: before the first
    /// part, inside each, between them and after the last, out of order.
    fn parts() -> (Vec<Vec<RowPlan>>, Vec<(u32, String)>) {
        let update = Action::Update {
            id: 7,
            changes: vec![
                Change {
                    field: "user_fields.seats".into(),
                    old: json!(0.1),
                    new: json!(2.675_000_000_000_000_3),
                },
                Change {
                    field: "primary_email".into(),
                    old: json!("old@x.com"),
                    new: json!("b@x.com"),
                },
            ],
        };
        let first = vec![
            row(3, Action::New, user("a@x.com", &["Acme", "Initech"])),
            row(5, update, user("b@x.com", &["Acme"])),
            row(6, Action::Unchanged { id: 8 }, user("c@x.com", &[])),
        ];
        let would_fail = Action::WouldFail {
            reason: "a new user without a name".into(),
        };
        let second = vec![
            row(9, would_fail, user("d@x.com", &["Umbrella"])),
            row(10, Action::New, user("e@x.com", &["Umbrella"])),
        ];
        let invalid = [
            (11, "no email"),
            (2, "bad email"),
            (4, "no name"),
            (8, "taken"),
        ];
        let invalid = invalid.map(|(row, why)| (row, why.to_owned())).to_vec();
        (vec![first, second], invalid)
    }

    fn plan() -> Plan {
        Plan {
            mode: Mode::Upsert,
            object: check::Object::Users,
            rows: Vec::new(),
            missing_organizations: vec!["Umbrella".into()],
            warnings: vec!["tags are ignored".into()],
            cost: Cost {
                requests: 3,
                at_most: 9,
                rate_limit: Some(700),
                minutes: 0.004,
            },
            spent: Spent {
                requests: 4,
                ..Spent::default()
            },
        }
    }

    /// What `plan` printed the parts as, `json` or text.
    fn printed(json: bool) -> (String, Counts) {
        let dir = tempfile::tempdir().unwrap();
        let (parts, invalid) = parts();
        let at = (check::Object::Users, invalid);
        let mut printed = Printed::create(json, at, dir.path().to_path_buf()).unwrap();
        for part in parts {
            printed.rows(part).unwrap();
        }
        let mut out = Vec::new();
        let sheet = (std::path::Path::new("users.csv"), "users");
        let counts = printed.finish(&plan(), sheet, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), counts)
    }

    #[test]
    fn json_rows_read_back_from_the_scratch_file_are_the_whole_plan_printed_at_once() {
        let (parts, invalid) = parts();
        let mut whole = plan();
        whole.rows = parts.into_iter().flatten().collect();
        for (row, reason) in invalid {
            let action = Action::Invalid { reason };
            whole.rows.push(RowPlan {
                row,
                action,
                user: None,
                organization: None,
            });
        }
        whole.rows.sort_by_key(|r| r.row);
        // The document as `plan --json` printed it from the whole plan in memory.
        let doc = JsonPlan {
            mode: whole.mode,
            counts: whole.counts(),
            cost: &whole.cost,
            spent: &whole.spent,
            make_primary_requests: whole.make_primary_requests(),
            missing_organizations: &whole.missing_organizations,
            memberships_to_add: check::memberships::to_add(&whole.rows),
            warnings: &whole.warnings,
            rows: whole.rows.as_slice(),
        };
        let expected = serde_json::to_string_pretty(&doc).unwrap() + "\n";
        let (json, counts) = printed(true);
        assert_eq!(json, expected);
        assert_eq!(counts, whole.counts());
        let read: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            read["memberships_to_add"], 4,
            "rows 3, 5 and 10, not the would fail"
        );
        assert_eq!(read["make_primary_requests"], 2);
        let rows = read["rows"].as_array().unwrap();
        let order: Vec<u64> = rows.iter().map(|r| r["row"].as_u64().unwrap()).collect();
        assert_eq!(order, [2, 3, 4, 5, 6, 8, 9, 10, 11]);
        assert_eq!(rows[3]["changes"][0]["new"], 2.675_000_000_000_000_3);
    }

    #[test]
    fn text_rows_come_in_sheet_order_between_the_head_and_the_counts() {
        let (text, counts) = printed(false);
        let expected = "\
users.csv, sheet 'users': mode upsert, looked up in 4 requests (0 answered 429)

row 2      invalid    bad email
row 4      invalid    no name
row 5      update     b@x.com (user 7)
                  user_fields.seats: 0.1 → 2.6750000000000003
                  email: \"old@x.com\" → \"b@x.com\" (made primary)
row 8      invalid    taken
row 9      would_fail d@x.com: a new user without a name
row 11     invalid    no email

Organizations not in the account, created first (1; 1 request \
(organizations/create_many, 100 a call, a job each) before any user), their users sent with \
the ids they get: Umbrella

Memberships added once the users exist: 4 (1 request: organization_memberships/create_many, \
100 a call, a job each)

Making 1 emails primary costs 2 more requests after the bulk jobs (the user's identities, then \
make_primary)

Warning: tags are ignored

9 rows: 2 new, 1 update, 1 unchanged, 0 conflict, 1 would fail, 0 left out, 4 invalid
";
        assert_eq!(text, expected);
        assert_eq!(counts.problems(), 5);
    }
}
