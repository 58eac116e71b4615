//! Checking a loaded table: offline first (the Check screen, before any account is known),
//! then against the account once signed in: its custom fields read, every row checked once
//! more with them, and each sent row's user kept exactly as it will be sent. The plan's input,
//! Preview, the cost and an import without a plan all read those users, so none of them
//! checks a row again and none can show something other than what is sent.

use std::sync::Arc;

// The vocabulary of checking and planning, for the front ends: the mapping, the rows' users
// and requests and their problems, the account plan.
pub use crate::mapping::{
    BUILT_IN, DateOrder, Mapping, MatchReason, ORGANIZATION_TARGETS, Object, Target, Transform,
    auto_match, auto_match_for, auto_match_with,
};
pub use crate::payload::JOB_LIMIT;
pub use crate::payload::Organization;
pub use crate::payload::org::endpoint as organization_endpoint;
pub use crate::payload::{
    Blank, Body, CellRef, Fields, InvalidPolicy, Issue, IssueRef, Issues, LeftOut, MemberOf, Mode,
    PhoneRegion, Request, Severity, User,
};
pub use crate::pipeline::{AccountChecks, Event, Options, Report, Sorted, SortedIssues, Summary};
pub use crate::plan::orgs::{distinct_names, resolve_import, resolve_requests};
pub use crate::plan::{
    Action, Change, Cost, Counts, Existing, InvalidRows, MAKE_PRIMARY_REQUESTS, MissingOrgs, Plan,
    PlanError, PlanInput, PlanOptions, PlanSink, Routes, RowPlan, SECONDARY_EMAIL, Spent,
    StoredPlan, Survey, Tags, Users, build, build_each, estimate,
};
pub use crate::plan::{memberships, org_rows};

use crate::import::{ImportError, Outbox, OutboxFile, OutboxWriter};
use crate::sheet::Table;
use crate::zendesk::{Client, RateInfo, ZendeskError};

/// Why a table could not be checked against the account, or planned.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("reading the account's user fields: {0}")]
    Fields(#[from] ZendeskError),
    #[error("checking the rows: {0}")]
    Interrupted(String),
    #[error(transparent)]
    Plan(#[from] Box<crate::plan::PlanError>),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Journal(#[from] crate::import::JournalError),
    #[error(transparent)]
    Sheet(#[from] crate::error::SheetError),
}

impl From<crate::plan::PlanError> for CheckError {
    fn from(error: crate::plan::PlanError) -> Self {
        Self::Plan(Box::new(error))
    }
}

/// What the Check screen and `validate` say about the mapping as a whole, before any row: a
/// column the mode needs and lacks, and mapped columns whose leading zeros exist only in
/// Excel's number format (`padded`, from `source::zero_padded`) and no `pad` restores.
pub fn cautions(
    mapping: &Mapping,
    mode: crate::payload::Mode,
    layout: &crate::sheet::TableLayout,
    padded: &[crate::sheet::formats::ZeroPadded],
) -> Vec<String> {
    let mut cautions = mapping.cautions(mode);
    for column in padded {
        let Some(mapped) = mapping.columns.iter().find(|c| c.index == column.index) else {
            continue;
        };
        if mapped.target.is_none() || mapped.transform.pad.is_some_and(|p| p >= column.digits) {
            continue;
        }
        let letter =
            crate::sheet::header::column_letter(layout.first_column as usize + column.index);
        cautions.push(format!(
            "Column {letter} ({}): Excel shows {} (format {}) but the file holds {}: the \
             zeros are only in the format and would be lost. Give the column the transform \
             pad {} to keep them.",
            mapped.header,
            column.shown,
            "0".repeat(usize::from(column.digits)),
            column.held,
            column.digits
        ));
    }
    cautions
}

/// Checks every row of `table` without an account (its custom fields unknown); `cancelled`
/// is polled, and `None` says it was.
pub fn offline(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    cancelled: &dyn Fn() -> bool,
) -> Option<Report> {
    crate::pipeline::check_table(table, mapping, options, cancelled)
}

/// The request that sends batch `rows` of an offline check, built again from the table.
pub fn offline_request(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    rows: &[u32],
) -> Request {
    crate::pipeline::request_for(table, mapping, options, rows)
}

/// A sheet to check as it streams from its workbook (the headless commands never hold the
/// whole table): the sheet, its header row, the mapping and the options.
pub struct Streamed<'a> {
    pub workbook: &'a mut crate::sheet::Workbook,
    pub sheet: usize,
    pub header: crate::sheet::HeaderChoice,
    pub mapping: &'a Mapping,
    pub options: &'a Options,
}

/// Checks the sheet as it streams, once: each request and each problem to `on_event` (which
/// may stop the read), and the counts at the end.
pub fn streamed(
    source: Streamed<'_>,
    checks: &AccountChecks,
    on_event: impl FnMut(Event) -> std::ops::ControlFlow<()>,
) -> Result<Summary, crate::error::SheetError> {
    source.run(checks, crate::pipeline::Sink::Requests, on_event)
}

/// [`streamed`] for a caller that wants the issues and the counts only (`validate`): no
/// request is built, and only [`Event::Issue`]s come.
pub fn issues(
    source: Streamed<'_>,
    checks: &AccountChecks,
    on_event: impl FnMut(Event) -> std::ops::ControlFlow<()>,
) -> Result<Summary, crate::error::SheetError> {
    // Only the identifiers met twice are remembered: a long sheet's are found first, on disk.
    let dir = crate::paths::data_dir().unwrap_or_else(std::env::temp_dir);
    source.run_spilled(checks, (crate::pipeline::Sink::Count, &dir), on_event)
}

/// The import of a table checked offline (no account known), into a spool in `dir`: each
/// batch's request built again from the sheet and written as it is built, the rows with
/// errors skipped (named from the sheet).
pub fn offline_outbox(
    table: &Table,
    mapping: &Mapping,
    options: &Options,
    (report, dir): (&Report, &std::path::Path),
) -> Result<OutboxFile, CheckError> {
    let mut spool = unplanned_spool(options.mode, (table, mapping), report, dir)?;
    for rows in &report.batches {
        spool.sent(crate::pipeline::request_for(table, mapping, options, rows))?;
    }
    spool.finish()
}

/// A spool in `dir` for requests sent as checked, without a plan: the rows of `report` with
/// an error skipped at the end, named from the sheet (or, `--invalid include`, marked where
/// sent).
fn unplanned_spool(
    mode: crate::payload::Mode,
    (table, mapping): (&Table, &Mapping),
    report: &Report,
    dir: &std::path::Path,
) -> Result<super::routed::RoutedSpool, CheckError> {
    let include = report.invalid == crate::payload::InvalidPolicy::Include;
    // Its router lays nothing out (the requests come whole, as checked): any jobs will do.
    let mut spool =
        super::routed::RoutedSpool::create(dir, (mode, false, 1), &report.issues, include)?;
    spool.object = mapping.object;
    let names = crate::pipeline::sheet_keys(table, mapping, &spool.error_rows());
    spool.name_errors(names);
    Ok(spool)
}

impl Streamed<'_> {
    fn run(
        self,
        checks: &AccountChecks,
        sink: crate::pipeline::Sink,
        on_event: impl FnMut(crate::pipeline::Event) -> std::ops::ControlFlow<()>,
    ) -> Result<crate::pipeline::Summary, crate::error::SheetError> {
        let check = (self.mapping, self.options, checks);
        crate::pipeline::run_with(
            self.workbook,
            (self.sheet, self.header),
            check,
            sink,
            on_event,
        )
    }

    fn run_spilled(
        self,
        checks: &AccountChecks,
        to: (crate::pipeline::Sink, &std::path::Path),
        on_event: impl FnMut(crate::pipeline::Event) -> std::ops::ControlFlow<()>,
    ) -> Result<crate::pipeline::Summary, crate::error::SheetError> {
        let check = (self.mapping, self.options, checks);
        let at = (self.sheet, self.header);
        crate::pipeline::run_spilled(self.workbook, at, check, to, on_event)
    }
}

/// What a streamed check found: the rows with errors, and how many rows there were.
pub struct StreamedRows {
    pub errors: Vec<crate::payload::Issue>,
    pub rows: u64,
}

/// A problem met as the sheet streams: its row's first error noted in the plan's `input`
/// (an invalid row), and an error kept in `errors`.
fn note_issue(
    input: &mut PlanInput,
    errors: &mut Vec<crate::payload::Issue>,
    issue: crate::payload::Issue,
) {
    input.push_issue(&issue);
    if issue.severity == crate::payload::Severity::Error {
        errors.push(issue);
    }
}

/// Checks the sheet as it streams, once, into the plan's input (every sent row's user and
/// every row's first error).
pub fn streamed_input(
    source: Streamed<'_>,
    checks: &AccountChecks,
) -> Result<(PlanInput, StreamedRows), crate::error::SheetError> {
    use crate::pipeline::Event;
    let mut input = PlanInput::of(source.mapping.object);
    let mut errors = Vec::new();
    let summary = source.run(checks, crate::pipeline::Sink::Requests, |event| {
        match event {
            Event::Request(request) => input.push_request(request),
            Event::Issue(issue) => note_issue(&mut input, &mut errors, issue),
        }
        std::ops::ControlFlow::Continue(())
    })?;
    let rows = summary.rows;
    Ok((input, StreamedRows { errors, rows }))
}

/// Checks the sheet as it streams, once, into the run's outbox: the requests to send written
/// batch by batch to a spool in the data dir (memory never holds the bodies), the rows
/// with errors skipped (or, under `--invalid include`, sent and marked); and what each policy
/// would leave out.
pub fn streamed_outbox(
    source: Streamed<'_>,
    checks: &AccountChecks,
) -> Result<(OutboxFile, LeftOut), CheckError> {
    use crate::pipeline::Event;
    let include = source.options.invalid == crate::payload::InvalidPolicy::Include;
    let spool = crate::import::journal::spool_dir()?;
    let mut outbox = OutboxWriter::create(
        &spool,
        (source.options.mode, source.mapping.object),
        include,
    )?;
    let mut failure = None;
    // Nothing kept across rows but the identifiers met twice (a long sheet's are found first,
    // on disk beside the spool) and the last thousand skipped rows' messages (the others are
    // written beside the spool too).
    let summary =
        source.run_spilled(checks, (crate::pipeline::Sink::Requests, &spool), |event| {
            match event {
                Event::Request(request) => {
                    if let Err(e) = outbox.push_request(&request) {
                        failure = Some(e);
                        return std::ops::ControlFlow::Break(());
                    }
                }
                Event::Issue(issue) => {
                    if let Err(e) = outbox.issue(&issue) {
                        failure = Some(e.into());
                        return std::ops::ControlFlow::Break(());
                    }
                }
            }
            std::ops::ControlFlow::Continue(())
        })?;
    if let Some(failure) = failure {
        return Err(failure.into());
    }
    let left_out = outbox.left_out(summary.rows);
    Ok((outbox.finish()?, left_out))
}

/// A table checked against the account: each row once, each sent row's user (or
/// organization) kept, in a spool in the data dir.
#[derive(Debug)]
pub struct Checked {
    pub fields: Arc<Fields>,
    /// The rows' problems, counts and batches, with the account's checks.
    pub report: Arc<Report>,
    /// Every sent row's user or organization as it is sent, in sheet order,
    /// [`RECORDS_A_LINE`] a line.
    kept: Kept,
    /// The rows with errors.
    pub input: PlanInput,
    /// What looking the rows up will cost.
    cost: Cost,
    /// What the last answer said of the rate limit.
    pub rate: RateInfo,
    /// Mapped columns the account's fields cannot take (unknown keys, wrong types).
    pub problems: Vec<String>,
    mode: crate::payload::Mode,
}

/// Records a line of [`Checked`]'s spool: a request's worth.
const RECORDS_A_LINE: usize = crate::payload::JOB_LIMIT;

/// What [`Checked`] kept of the sent rows.
#[derive(Debug)]
enum Kept {
    Users(SpooledUsers),
    Organizations(SpooledOrgs),
}

/// Records written to a spool a line of [`RECORDS_A_LINE`] at a time as they are checked.
struct Lines<'s, T> {
    mode: crate::payload::Mode,
    spool: &'s mut OutboxWriter,
    line: Vec<(u32, T)>,
    failure: Option<crate::import::ImportError>,
}

impl<'s, T: crate::payload::Record> Lines<'s, T> {
    fn new(mode: crate::payload::Mode, spool: &'s mut OutboxWriter) -> Self {
        Self {
            mode,
            spool,
            line: Vec::with_capacity(RECORDS_A_LINE),
            failure: None,
        }
    }

    fn keep(&mut self, row: u32, record: T) {
        self.line.push((row, record));
        if self.line.len() == RECORDS_A_LINE {
            self.write();
        }
    }

    fn write(&mut self) {
        let line = std::mem::replace(&mut self.line, Vec::with_capacity(RECORDS_A_LINE));
        if self.failure.is_none() && !line.is_empty() {
            let (rows, records) = line.into_iter().unzip();
            let request = T::request(self.mode, rows, records);
            self.failure = self.spool.push_request(&request).err();
        }
    }

    /// The last line written; the first failure to write one, if any.
    fn finish(mut self) -> Result<(), CheckError> {
        self.write();
        self.failure.map_or(Ok(()), |e| Err(e.into()))
    }
}

impl PartialEq for Checked {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// Reads the account's custom fields and checks every row of `table` with them, once.
pub async fn against_account(
    client: &Client,
    table: Arc<Table>,
    mapping: Mapping,
    options: Options,
) -> Result<Checked, CheckError> {
    let answer = client.fields_of(mapping.object).await?;
    let rate = answer.rate;
    let fields = Arc::new(Fields::new(answer.value));
    let problems: Vec<String> = fields
        .problems(&mapping)
        .iter()
        .map(ToString::to_string)
        .collect();
    let checks = AccountChecks {
        fields: Some(Arc::clone(&fields)),
        ..AccountChecks::default()
    };
    let dir = crate::import::journal::spool_dir()?;
    let mut checked = tokio::task::spawn_blocking(move || {
        check_table(&table, (&mapping, &options, &checks), (&dir, rate))
    })
    .await
    .map_err(|e| CheckError::Interrupted(e.to_string()))??;
    checked.fields = fields;
    checked.problems = problems;
    Ok(checked)
}

/// Checks every row of `table` once with `checks`, each sent row's user written to a spool in
/// `dir` a request's worth at a time and surveyed as it goes by (what the lookups cost at
/// `rate`).
fn check_table(
    table: &Table,
    (mapping, options, checks): (&Mapping, &Options, &AccountChecks),
    (dir, rate): (&std::path::Path, RateInfo),
) -> Result<Checked, CheckError> {
    let mode = options.mode;
    let mut spool = OutboxWriter::create(dir, (mode, mapping.object), false)?;
    let check = (mapping, options, checks);
    let (report, cost) = if mapping.object == crate::mapping::Object::Organizations {
        let mut survey = OrgSurvey::default();
        let mut lines = Lines::new(mode, &mut spool);
        let mut keep = |row, org: Organization| {
            survey.add(&org);
            lines.keep(row, org);
        };
        let report =
            crate::pipeline::check_table_organizations_into(table, check, &|| false, &mut keep);
        lines.finish()?;
        (report, survey.cost(&rate))
    } else {
        let mut survey = Survey::default();
        let mut lines = Lines::new(mode, &mut spool);
        let mut keep = |row, user: User| {
            survey.add(&user);
            lines.keep(row, user);
        };
        let report = crate::pipeline::check_table_users_into(table, check, &|| false, &mut keep);
        lines.finish()?;
        (report, survey.cost(&rate))
    };
    let report = report.unwrap_or_default();
    let file = spool.finish()?;
    let kept = match mapping.object {
        crate::mapping::Object::Users => Kept::Users(SpooledUsers(file)),
        crate::mapping::Object::Organizations => Kept::Organizations(SpooledOrgs(file)),
    };
    let mut input = input_of(&report, Vec::new());
    input.object = mapping.object;
    Ok(Checked {
        fields: checks
            .fields
            .clone()
            .unwrap_or_else(|| Arc::new(Fields::new(Vec::new()))),
        report: Arc::new(report),
        kept,
        input,
        cost,
        rate,
        problems: Vec::new(),
        mode,
    })
}

impl Checked {
    /// What looking the users up will cost, before it is done.
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// The users (or organizations) of batch `n`, as they are sent (Preview).
    pub fn request(&self, n: usize) -> Option<Request> {
        let rows = self.report.batches.get(n)?;
        let start: usize = self.report.batches[..n].iter().map(Vec::len).sum();
        match &self.kept {
            Kept::Users(spooled) => self.read_lines(rows, start, |l| spooled.batch(l)),
            Kept::Organizations(spooled) => self.read_lines(rows, start, |l| spooled.batch(l)),
        }
    }

    /// The request of `rows`, from the `start`th record on, read from the lines of the spool
    /// that hold them.
    fn read_lines<T: crate::payload::Record>(
        &self,
        rows: &[u32],
        start: usize,
        line: impl Fn(usize) -> Result<Vec<(u32, T)>, PlanError>,
    ) -> Option<Request> {
        let wanted = start..start + rows.len();
        let mut records = Vec::with_capacity(rows.len());
        for l in start / RECORDS_A_LINE..wanted.end.div_ceil(RECORDS_A_LINE) {
            let first = l * RECORDS_A_LINE;
            let read = line(l).ok()?.into_iter().enumerate();
            records.extend(read.filter_map(|(i, r)| wanted.contains(&(first + i)).then_some(r)));
        }
        if records.len() != rows.len() {
            return None;
        }
        let (read, records): (Vec<u32>, Vec<T>) = records.into_iter().unzip();
        debug_assert_eq!(read, rows);
        Some(T::request(self.mode, read, records))
    }

    /// Looks the rows up: what every row will do to the account, each row kept in a scratch
    /// file in the data dir as it is decided, a part at a time ([`StoredPlan`]).
    pub async fn plan(
        &self,
        client: &Client,
        options: PlanOptions,
    ) -> Result<StoredPlan, CheckError> {
        let dir = crate::import::journal::spool_dir()?;
        let at = (options, &self.rate);
        let invalid = self.input.invalid.clone();
        match &self.kept {
            Kept::Users(users) => stored_plan_of(client, (users, invalid), at, &dir).await,
            Kept::Organizations(orgs) => {
                let survey = OrgSurvey::read(orgs.organizations())?;
                let rows: OrgRows<'_> = Box::new(orgs.organizations());
                stored_organizations(client, (rows, survey, invalid), at, &dir).await
            }
        }
    }

    /// The import of the rows as checked, without a plan, into a spool in `dir`: every sent
    /// row's user (or organization) as kept, a request at a time; the rows with errors
    /// skipped (named from the sheet).
    pub fn outbox(
        &self,
        (table, mapping): (&Table, &Mapping),
        dir: &std::path::Path,
    ) -> Result<OutboxFile, CheckError> {
        let mut spool = unplanned_spool(self.mode, (table, mapping), &self.report, dir)?;
        let batches = (&self.report.batches[..], self.mode);
        match &self.kept {
            Kept::Users(users) => sent_each(&mut spool, batches, users.users())?,
            Kept::Organizations(orgs) => sent_each(&mut spool, batches, orgs.organizations())?,
        }
        spool.finish()
    }
}

/// Each batch of `batches` sent into `spool` as checked, its records the next of `records`.
fn sent_each<T: crate::payload::Record>(
    spool: &mut super::routed::RoutedSpool,
    (batches, mode): (&[Vec<u32>], crate::payload::Mode),
    mut records: impl Iterator<Item = Result<(u32, T), PlanError>>,
) -> Result<(), CheckError> {
    for rows in batches {
        let batch = records
            .by_ref()
            .take(rows.len())
            .collect::<Result<Vec<_>, _>>()?;
        let (rows, records) = batch.into_iter().unzip();
        spool.sent(T::request(mode, rows, records))?;
    }
    Ok(())
}

/// The plan of `input` (held), each row kept in a scratch file in `dir` as it is decided, a
/// part at a time.
pub async fn stored_plan(
    client: &Client,
    input: &PlanInput,
    (options, rate): (PlanOptions, &RateInfo),
    dir: &std::path::Path,
) -> Result<StoredPlan, CheckError> {
    if input.object == crate::mapping::Object::Organizations {
        let survey = OrgSurvey::of(&input.organizations);
        let organizations: OrgRows<'_> = Box::new(input.organizations.iter().cloned().map(Ok));
        let held = (organizations, survey, input.invalid.clone());
        return stored_organizations(client, held, (options, rate), dir).await;
    }
    let users = (&input.users as &dyn Users, input.invalid.clone());
    stored_plan_of(client, users, (options, rate), dir).await
}

/// [`stored_plan`] of a sheet of users read from `users` (held, or a spool), the rows with an
/// error in `invalid`.
pub async fn stored_plan_of(
    client: &Client,
    (users, invalid): (&dyn Users, Vec<(u32, String)>),
    (options, rate): (PlanOptions, &RateInfo),
    dir: &std::path::Path,
) -> Result<StoredPlan, CheckError> {
    let surveyed = (users, Survey::of(users)?);
    let mut writer = crate::plan::PlanWriter::create(dir, invalid)?;
    let head = build_each(client, surveyed, Vec::new(), (options, rate), &mut writer).await?;
    Ok(writer.finish(head)?)
}

/// The plan's input: the users kept, and each row with an error once.
fn input_of(report: &Report, users: Vec<(u32, User)>) -> PlanInput {
    let mut input = PlanInput {
        users,
        ..PlanInput::default()
    };
    for issue in &report.issues {
        input.push_issue(issue);
    }
    input
}

/// The outbox of an account plan as it routes its rows, laid out for `jobs` at once, the rows
/// with errors (in `report`) skipped; nothing is named from a sheet (the headless import has
/// none in memory: the plan's users name its rows).
pub fn routed_outbox(
    plan: &Plan,
    (skip_unchanged, jobs): (bool, usize),
    report: &Report,
) -> Result<Outbox, CheckError> {
    Ok(crate::pipeline::outbox_from(
        plan,
        (skip_unchanged, jobs),
        report,
    )?)
}

/// What [`routed_spool`] planned besides the outbox: the plan without the rows it routed (its
/// `rows` are the invalid ones: warnings, cost, the organizations created first), and
/// what the routed rows do beyond their bulk requests.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub tally: Tally,
}

pub use super::routed::Tally;

/// The headless import's account plan of `input`, made and routed a part of
/// [`crate::plan::PART`] rows at a time into an outbox spool in the data dir, its requests
/// laid out for `jobs` at once: only the organizations and one part's lookups and requests
/// are held, however many rows the sheet has. The rows with errors (in `report`) are
/// skipped after the rows the plan leaves out, or, with `--invalid include`, marked where
/// sent. The spool is in `dir`
/// ([`super::run::spool_dir`], where the run folder is made from it).
pub async fn routed_spool(
    client: &Client,
    input: PlanInput,
    (options, rate): (PlanOptions, &RateInfo),
    laid_out: (bool, usize),
    (report, dir): (&Report, &std::path::Path),
) -> Result<(OutboxFile, Planned), CheckError> {
    if input.object == crate::mapping::Object::Organizations {
        let survey = OrgSurvey::of(&input.organizations);
        let organizations: OrgRows<'_> = Box::new(input.organizations.into_iter().map(Ok));
        let held = (organizations, survey, input.invalid);
        return routed_organizations(client, held, (options, rate), laid_out, (report, dir)).await;
    }
    let survey = Survey::of(&input.users)?;
    let users = (&input.users as &dyn Users, survey, input.invalid);
    routed_spool_of(client, users, (options, rate), laid_out, (report, dir)).await
}

/// [`routed_spool`] of a sheet of users read from `users` ([`streamed_users`]'s spool, or
/// held) as `survey` found them, the rows with an error in `invalid`.
pub async fn routed_spool_of(
    client: &Client,
    (users, survey, invalid): (&dyn Users, Survey, Vec<(u32, String)>),
    (options, rate): (PlanOptions, &RateInfo),
    (skip_unchanged, jobs): (bool, usize),
    (report, dir): (&Report, &std::path::Path),
) -> Result<(OutboxFile, Planned), CheckError> {
    let include = report.invalid == crate::payload::InvalidPolicy::Include;
    let at = (options.mode, skip_unchanged, jobs);
    let mut spool = super::routed::RoutedSpool::create(dir, at, &report.issues, include)?;
    let surveyed = (users, survey);
    let plan =
        crate::plan::build_each(client, surveyed, invalid, (options, rate), &mut spool).await?;
    let tally = spool.tally;
    Ok((spool.finish()?, Planned { plan, tally }))
}

/// A sheet of users checked into a spool ([`streamed_users`]), and what a plan must know of
/// them before it looks any up, found as they were checked.
pub struct SurveyedUsers {
    pub users: SpooledUsers,
    pub survey: Survey,
}

/// The import of an account plan held whole (the TUI's Plan step) in a spool in `dir`, its
/// requests laid out for `jobs` at once: its rows routed one at a time, as the headless
/// import routes each part ([`routed_spool_of`]), so that no request is held, only the one
/// being filled. The rows with errors (in `report`) are skipped, named from `sheet` when it
/// is given.
pub fn routed_file(
    plan: &StoredPlan,
    (skip_unchanged, jobs): (bool, usize),
    report: &Report,
    sheet: Option<(&Table, &Mapping)>,
    dir: &std::path::Path,
) -> Result<OutboxFile, CheckError> {
    let include = report.invalid == crate::payload::InvalidPolicy::Include;
    let at = (plan.head.mode, skip_unchanged, jobs);
    let mut spool = super::routed::RoutedSpool::create(dir, at, &report.issues, include)?;
    spool.object = plan.head.object;
    if let Some((table, mapping)) = sheet {
        let names = crate::pipeline::sheet_keys(table, mapping, &spool.error_rows());
        spool.name_errors(names);
    }
    spool.missing(&plan.head.missing_organizations);
    for part in plan.rows() {
        spool.rows(part?)?;
    }
    spool.finish()
}

/// Checks a sheet of users as it streams, once, into a spool in `dir`: every sent row's user
/// as its request's body (memory holds none of them; [`SpooledUsers`] reads them back) and
/// surveyed, every row's first error (the plan's invalid rows), and the rows with errors.
pub fn streamed_users(
    source: Streamed<'_>,
    checks: &AccountChecks,
    dir: &std::path::Path,
) -> Result<(SurveyedUsers, PlanInput, StreamedRows), CheckError> {
    let (spool, (survey, _), invalid, rows) = streamed_spool(source, checks, dir)?;
    let users = SpooledUsers(spool);
    Ok((SurveyedUsers { users, survey }, invalid, rows))
}

/// A sheet of organizations checked into a spool ([`streamed_organizations`]), and what a
/// plan must know of them before it looks any up, found as they were checked.
pub struct SurveyedOrgs {
    pub organizations: SpooledOrgs,
    pub survey: OrgSurvey,
}

/// [`streamed_users`] for a sheet of organizations: every sent row's organization in a spool
/// in `dir` ([`SpooledOrgs`] reads them back), surveyed as it goes by.
pub fn streamed_organizations(
    source: Streamed<'_>,
    checks: &AccountChecks,
    dir: &std::path::Path,
) -> Result<(SurveyedOrgs, PlanInput, StreamedRows), CheckError> {
    let (spool, (_, survey), invalid, rows) = streamed_spool(source, checks, dir)?;
    let organizations = SpooledOrgs(spool);
    Ok((
        SurveyedOrgs {
            organizations,
            survey,
        },
        invalid,
        rows,
    ))
}

/// The sheet checked as it streams, once, into a spool in `dir`, each request's users or
/// organizations surveyed as they go by.
fn streamed_spool(
    source: Streamed<'_>,
    checks: &AccountChecks,
    dir: &std::path::Path,
) -> Result<(OutboxFile, (Survey, OrgSurvey), PlanInput, StreamedRows), CheckError> {
    use crate::pipeline::Event;
    let at = (source.options.mode, source.mapping.object);
    let mut spool = OutboxWriter::create(dir, at, false)?;
    let mut survey = (Survey::default(), OrgSurvey::default());
    let mut invalid = PlanInput::of(source.mapping.object);
    let mut errors = Vec::new();
    let mut failure = None;
    // Only the identifiers met twice are remembered (a long sheet's are found first, on disk).
    let to = (crate::pipeline::Sink::Requests, dir);
    let summary = source.run_spilled(checks, to, |event| {
        match event {
            Event::Request(request) => {
                for user in &request.body.users {
                    survey.0.add(user);
                }
                for org in &request.body.organizations {
                    survey.1.add(org);
                }
                if let Err(e) = spool.push_request(&request) {
                    failure = Some(e);
                    return std::ops::ControlFlow::Break(());
                }
            }
            Event::Issue(issue) => note_issue(&mut invalid, &mut errors, issue),
        }
        std::ops::ControlFlow::Continue(())
    })?;
    if let Some(failure) = failure {
        return Err(failure.into());
    }
    let rows = StreamedRows {
        errors,
        rows: summary.rows,
    };
    Ok((spool.finish()?, survey, invalid, rows))
}

/// [`routed_spool_of`] for a sheet of organizations read from `organizations` (held, or a
/// spool) a part at a time, as `survey` found them: each part looked up, decided and routed
/// (new ones to `create_many`, the others to `update_many` by id after them) before the next
/// is read.
pub async fn routed_organizations(
    client: &Client,
    (organizations, survey, invalid): (OrgRows<'_>, OrgSurvey, Vec<(u32, String)>),
    (options, rate): (PlanOptions, &RateInfo),
    (skip_unchanged, jobs): (bool, usize),
    (report, dir): (&Report, &std::path::Path),
) -> Result<(OutboxFile, Planned), CheckError> {
    let include = report.invalid == crate::payload::InvalidPolicy::Include;
    let at = (options.mode, skip_unchanged, jobs);
    let mut spool = super::routed::RoutedSpool::create(dir, at, &report.issues, include)?;
    spool.object = crate::mapping::Object::Organizations;
    let parts = (org_rows::parts(organizations), survey);
    let how = ((options.mode, options.tags), (options.concurrency, rate));
    let plan = org_rows::build_each(client, parts, invalid, how, &mut spool).await?;
    let tally = spool.tally;
    Ok((spool.finish()?, Planned { plan, tally }))
}

/// The organizations of a sheet of them, one after another in sheet order (held, or read
/// back from a spool).
pub type OrgRows<'a> = Box<dyn Iterator<Item = Result<(u32, Organization), PlanError>> + Send + 'a>;

/// [`stored_plan_of`] for a sheet of organizations read from `organizations` a part at a
/// time, as `survey` found them.
pub async fn stored_organizations(
    client: &Client,
    (organizations, survey, invalid): (OrgRows<'_>, OrgSurvey, Vec<(u32, String)>),
    (options, rate): (PlanOptions, &RateInfo),
    dir: &std::path::Path,
) -> Result<StoredPlan, CheckError> {
    let mut writer = crate::plan::PlanWriter::create(dir, invalid)?;
    let parts = (org_rows::parts(organizations), survey);
    let how = ((options.mode, options.tags), (options.concurrency, rate));
    let head = org_rows::build_each(client, parts, Vec::new(), how, &mut writer).await?;
    Ok(writer.finish(head)?)
}

pub use super::routed::SpooledOrgs;
pub use super::routed::SpooledUsers;
pub use crate::plan::org_rows::OrgSurvey;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::auto_match;
    use crate::payload::Mode;
    use crate::pipeline::tests::table;

    /// What an account check would hold, without the account: the users from one pass.
    fn checked(table: &Table, mapping: &Mapping, options: &Options) -> Checked {
        let checks = AccountChecks::default();
        let dir = std::env::temp_dir();
        let at = (dir.as_path(), RateInfo::default());
        check_table(table, (mapping, options, &checks), at).unwrap()
    }

    /// The users `checked` kept, read back from its spool.
    fn users_of(checked: &Checked) -> Vec<(u32, User)> {
        let Kept::Users(users) = &checked.kept else {
            panic!("a sheet of users")
        };
        users.users().collect::<Result<_, _>>().unwrap()
    }

    /// 230 rows in create mode: row 5 has no name, row 9 a taken email.
    fn sample() -> (Table, Mapping, Options) {
        let t = table(230);
        let mapping = auto_match(&t.layout.headers);
        let options = Options {
            mode: Mode::Create,
            ..Options::default()
        };
        (t, mapping, options)
    }

    #[test]
    fn preview_and_the_import_read_the_users_of_the_one_pass() {
        let (t, mapping, options) = sample();
        let checked = checked(&t, &mapping, &options);
        assert_eq!(users_of(&checked).len(), 228);
        assert_eq!(
            checked.input.invalid.len(),
            2,
            "row 5 has no name, row 9 a taken email"
        );
        // Each batch as Preview shows it is the request an offline check builds again, also
        // one whose users are on two lines of the spool.
        let sizes: Vec<usize> = checked.report.batches.iter().map(Vec::len).collect();
        let mut start = 0;
        let across = sizes.iter().any(|n| {
            let (first, last) = (start / RECORDS_A_LINE, (start + n - 1) / RECORDS_A_LINE);
            start += n;
            first != last
        });
        assert!(across, "{sizes:?}");
        for (n, rows) in checked.report.batches.iter().enumerate() {
            let again = offline_request(&t, &mapping, &options, rows);
            assert_eq!(checked.request(n).as_ref(), Some(&again), "batch {n}");
        }
        assert_eq!(checked.request(checked.report.batches.len()), None);
        // The import sends the same bodies, and skips the row with the error, named.
        let dir = tempfile::tempdir().unwrap();
        let plan = checked.outbox((&t, &mapping), dir.path()).unwrap();
        assert_eq!(plan.object, crate::mapping::Object::Users);
        let plan = plan.load().unwrap();
        let offline = crate::pipeline::outbox(&t, &mapping, &options, &checked.report).unwrap();
        assert_eq!(plan.batches.len(), offline.batches.len());
        for (a, b) in plan.batches.iter().zip(&offline.batches) {
            assert_eq!(a.rows, b.rows);
            assert_eq!(
                a.body_for(&a.positions().collect::<Vec<_>>()),
                b.body_for(&b.positions().collect::<Vec<_>>())
            );
        }
        assert_eq!((plan.sent_rows(), plan.skipped.len()), (228, 2));
        assert_eq!(plan.skipped[0].0, 5);
        assert_eq!(plan.skipped_keys[&0].email.as_deref(), Some("u3@x.com"));
        assert_eq!(plan.skipped_keys[&1].email.as_deref(), Some("u0@x.com"));
    }

    /// An import without the lookups writes to its spool what the outbox built in memory
    /// holds: the same requests, the rows with errors skipped and named, or (`--invalid
    /// include`) row 5 sent marked; with the account's users or the sheet's again.
    #[test]
    fn an_import_without_the_plan_spools_what_the_held_outbox_holds() {
        let dir = tempfile::tempdir().unwrap();
        for invalid in [InvalidPolicy::Skip, InvalidPolicy::Include] {
            let (t, mapping, options) = sample();
            let options = Options { invalid, ..options };
            let checked = checked(&t, &mapping, &options);
            let report = &checked.report;
            let held = crate::pipeline::outbox(&t, &mapping, &options, report).unwrap();
            let offline = offline_outbox(&t, &mapping, &options, (report, dir.path())).unwrap();
            let kept = checked.outbox((&t, &mapping), dir.path()).unwrap();
            assert_eq!(offline.load().unwrap(), held, "{invalid:?}");
            assert_eq!(kept.load().unwrap(), held, "{invalid:?}");
            let despite = usize::from(invalid == InvalidPolicy::Include);
            assert_eq!(
                (held.sent_rows(), held.skipped.len(), held.sent_despite()),
                (228 + despite, 2 - despite, despite),
                "{invalid:?}"
            );
            assert_eq!(held.skipped_keys.len(), 2 - despite, "{invalid:?}");
        }
    }

    /// A sheet of organizations imported without the lookups: its spool is one of
    /// organizations, also when every row is invalid (no request to say so).
    #[test]
    fn an_organizations_import_without_the_plan_is_one_of_organizations() {
        use crate::sheet::{Cell, Row, TableLayout};
        let dir = tempfile::tempdir().unwrap();
        let companies = |names: &[&str]| {
            let rows = names
                .iter()
                .zip(2..)
                .map(|(name, number)| Row {
                    number,
                    cells: vec![
                        Cell::Text((*name).to_owned()),
                        Cell::Text("c.example".into()),
                    ],
                })
                .collect();
            let layout = TableLayout {
                sheet: "S".into(),
                header_row: 1,
                first_column: 0,
                headers: vec!["Company".to_owned(), "Domains".to_owned()],
            };
            Table::from_rows(layout, rows, 0)
        };
        let options = Options::default();
        for (names, sent) in [(&["A", "B", "A", "C"][..], 3), (&["", ""][..], 0)] {
            let t = companies(names);
            let mapping = crate::mapping::auto_match_for(
                crate::mapping::Object::Organizations,
                &t.layout.headers,
                &[],
            );
            let checked = checked(&t, &mapping, &options);
            let kept = checked.outbox((&t, &mapping), dir.path()).unwrap();
            let held = crate::pipeline::outbox(&t, &mapping, &options, &checked.report).unwrap();
            assert_eq!(kept.object, crate::mapping::Object::Organizations);
            assert_eq!(kept.load().unwrap(), held, "{names:?}");
            assert_eq!(held.sent_rows(), sent, "{names:?}");
            assert_eq!(held.rows(), names.len(), "{names:?}");
        }
    }

    #[test]
    fn a_whole_plan_routed_into_a_spool_names_the_rows_with_errors_from_the_sheet() {
        let (t, mapping, options) = sample();
        let checked = checked(&t, &mapping, &options);
        let mut rows: Vec<RowPlan> = users_of(&checked)
            .into_iter()
            .map(|(row, user)| RowPlan {
                row,
                action: Action::New,
                user: Some(Box::new(user)),
                organization: None,
            })
            .collect();
        rows.extend(checked.input.invalid.iter().map(|(row, reason)| RowPlan {
            row: *row,
            action: Action::Invalid {
                reason: reason.clone(),
            },
            user: None,
            organization: None,
        }));
        rows.sort_by_key(|r| r.row);
        let plan = Plan {
            mode: Mode::Create,
            object: crate::mapping::Object::Users,
            rows,
            missing_organizations: Vec::new(),
            warnings: Vec::new(),
            cost: Cost::at_rate(0, 0, &RateInfo::default()),
            spent: Spent::default(),
        };
        // As the TUI's import held it: every request routed in memory, then named.
        let mut held = routed_outbox(&plan, (false, 3), &checked.report).unwrap();
        crate::pipeline::name_skipped(&mut held, &t, &mapping);
        let dir = tempfile::tempdir().unwrap();
        let sheet = Some((&t, &mapping));
        let stored = StoredPlan::of(plan.clone(), dir.path()).unwrap();
        let file = routed_file(&stored, (false, 3), &checked.report, sheet, dir.path()).unwrap();
        let spooled = file.load().unwrap();
        assert_eq!(spooled, held);
        assert_eq!(spooled.skipped.len(), 2, "rows 5 and 9");
        assert_eq!(spooled.skipped_keys[&0].email.as_deref(), Some("u3@x.com"));
        let unnamed = routed_file(&stored, (false, 3), &checked.report, None, dir.path()).unwrap();
        assert!(unnamed.load().unwrap().skipped_keys.is_empty());
    }
}
