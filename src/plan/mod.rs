//! Knowing the account before sending: custom fields converted for their definitions, and
//! the plan that says what each row will do (new, update with its changes, unchanged,
//! conflict, would fail), the way `terraform plan` shows a change before `apply`.
//!
//! The plan looks up the users the file names with as few requests as Zendesk allows:
//! `users/show_many` by external_id or id, 100 per call, and `users/search` by email only for
//! rows that have neither, or whose email may belong to someone else. [`estimate`] says what
//! that costs before anything is sent; [`build`] does it; [`Plan::import`] gives the engine
//! the requests to send and the rows it leaves out, with the reason.
//!
//! ```no_run
//! # async fn demo(client: zdimport::zendesk::Client, table: zdimport::sheet::Table,
//! #     mapping: zdimport::mapping::Mapping) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use zdimport::payload::{Blank, Options};
//! use zdimport::pipeline::AccountChecks;
//! use zdimport::plan::{self, Fields, PlanInput, PlanOptions};
//!
//! let answer = client.user_fields().await?;
//! let fields = Arc::new(Fields::new(answer.value));
//! assert!(fields.problems(&mapping).is_empty(), "shown on the Map step");
//! let checks = AccountChecks { fields: Some(fields), blank: Blank::Keep };
//! let mut checker = checks.checker(&mapping, table.layout.first_column, &Options::default());
//! let mut input = PlanInput::default();
//! for row in table.rows() {
//!     input.push_checked(checker.check(row.to_row()));
//! }
//! let cost = plan::estimate(&input, &answer.rate); // show it, let the operator skip
//! let plan = plan::build(&client, input, PlanOptions::default(), &answer.rate).await?;
//! let routed = plan.route(true, 30); // requests to send, rows skipped with their reason
//! # let _ = (cost, routed);
//! # Ok(()) }
//! ```

mod diff;
mod lookup;
pub mod memberships;
pub mod org_rows;
pub mod orgs;
mod stored;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;

// Converting cells for the account's custom fields is the checker's job (`payload`); the plan
// compares what it built.
pub use crate::payload::fields::{self, ConversionError, FieldDef, FieldKind, Fields};
pub use lookup::{PART, PlanError, PlanSink, Survey, Users, build, build_each, estimate};
pub use orgs::MissingOrgs;
pub use stored::{InvalidRows, PlanWriter, Routes, StoredPlan};

use crate::import::UserKey;
use crate::payload::{
    Batcher, Checked, IssueRef, Mode, Organization, Record, Request, Severity, User,
};

/// One field that an update changes: what Zendesk holds now and what the row sends.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Change {
    /// `name`, `email`, `organization`, `user_fields.plan`…
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// The field of a [`Change`] that adds an email to an existing user: Zendesk keeps the primary
/// and adds the one sent as a secondary identity (API.md, User properties).
pub const SECONDARY_EMAIL: &str = "secondary_email";

/// The field of a [`Change`] that makes the row's email the user's primary one
/// ([`PlanOptions::make_primary`]): the bulk update adds it as a secondary identity, then the
/// import makes it primary through the identities API.
pub const PRIMARY_EMAIL: &str = "primary_email";

/// Requests the import makes per row whose email it makes primary: the user's identities read
/// (`GET /api/v2/users/{id}/identities`), then `PUT …/identities/{id}/make_primary`.
pub const MAKE_PRIMARY_REQUESTS: u64 = 2;

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == SECONDARY_EMAIL {
            return write!(
                f,
                "adds a secondary email {} (primary stays {})",
                shown(&self.new),
                shown(&self.old)
            );
        }
        if self.field == "tags"
            && let Some(added) = tags_added(&self.old, &self.new)
            && !self.old.as_array().is_none_or(Vec::is_empty)
        {
            return write!(f, "tags: adds {}", added.join(", "));
        }
        if self.field == memberships::MEMBERSHIPS {
            let names: Vec<String> = self
                .new
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(|n| format!("'{n}'")))
                .collect();
            return write!(f, "{}: adds {}", self.field, names.join(", "));
        }
        if self.field == PRIMARY_EMAIL {
            return write!(
                f,
                "email: {} → {} (made primary)",
                shown(&self.old),
                shown(&self.new)
            );
        }
        write!(
            f,
            "{}: {} → {}",
            self.field,
            shown(&self.old),
            shown(&self.new)
        )
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "(empty)".to_owned(),
        other => other.to_string(),
    }
}

/// What one row will do.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// No such user yet: created.
    New,
    /// An existing user whose fields change.
    Update { id: u64, changes: Vec<Change> },
    /// An existing user that already holds every value the row sends.
    Unchanged { id: u64 },
    /// The row's external_id finds one user and its email another: Zendesk would refuse it.
    Conflict {
        external_id_user: u64,
        email_user: u64,
        reason: String,
    },
    /// Zendesk would refuse the row (create mode on an existing user, update of a user that
    /// does not exist, a new user without a name).
    WouldFail { reason: String },
    /// Create mode on an existing user, left out as the operator asked.
    LeftOut { id: u64, reason: String },
    /// The row has a validation error and is never sent.
    Invalid { reason: String },
}

impl Action {
    /// Every action's name as `plan --json` prints it, by [`Action::kind`].
    pub const NAMES: [&'static str; 7] = [
        "new",
        "update",
        "unchanged",
        "conflict",
        "would_fail",
        "left_out",
        "invalid",
    ];

    /// The action's name as `plan --json` prints it.
    pub fn name(&self) -> &'static str {
        Self::NAMES[usize::from(self.kind())]
    }

    /// Which action this is, as an index into [`Action::NAMES`].
    pub fn kind(&self) -> u8 {
        match self {
            Action::New => Self::NEW,
            Action::Update { .. } => Self::UPDATE,
            Action::Unchanged { .. } => Self::UNCHANGED,
            Action::Conflict { .. } => 3,
            Action::WouldFail { .. } => 4,
            Action::LeftOut { .. } => 5,
            Action::Invalid { .. } => Self::INVALID,
        }
    }

    /// The kinds a row's route turns on ([`RouteKind::of`]).
    const NEW: u8 = 0;
    const UPDATE: u8 = 1;
    const UNCHANGED: u8 = 2;
    const INVALID: u8 = 6;
}

/// One row of the file and what it will do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowPlan {
    /// Spreadsheet row number.
    pub row: u32,
    #[serde(flatten)]
    pub action: Action,
    /// The user the row sends (none for invalid rows and on a sheet of organizations).
    #[serde(skip)]
    pub user: Option<Box<User>>,
    /// The organization the row sends (a sheet of organizations; none for invalid rows).
    #[serde(skip)]
    pub organization: Option<Box<Organization>>,
}

impl RowPlan {
    /// The user whose primary email becomes the row's (`--make-primary`), when it does.
    pub fn makes_primary(&self) -> Option<u64> {
        primary_id(&self.action)
    }
}

/// What an existing user does to a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Existing {
    /// Reported as would fail: `create_many` refuses an email or external_id in use.
    #[default]
    Fail,
    /// Sent as an update (`update_many` by id) when something changes.
    Update,
    /// Left out.
    Skip,
}

impl FromStr for Existing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "fail" => Ok(Existing::Fail),
            "update" => Ok(Existing::Update),
            "skip" => Ok(Existing::Skip),
            _ => Err(format!("unknown choice '{s}' (fail, update or skip)")),
        }
    }
}

/// How to plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    pub mode: Mode,
    /// Create mode: what to do with users that already exist.
    pub existing: Existing,
    /// Lookups in flight at once: enough to use the rate limit when each answer takes a
    /// few hundred milliseconds, few enough to stay polite.
    pub concurrency: usize,
    /// Also search by email the rows whose external_id finds nobody: an upsert would match
    /// such a row by its email, so without it the plan may say `new` for a user that exists
    /// under another (or no) external_id. Costs one request per such row.
    pub search_new_emails: bool,
    /// What the tags of a row do to an existing user's tags.
    pub tags: Tags,
    /// What happens to a user whose organization the account does not have.
    pub missing_orgs: MissingOrgs,
    /// A new email on an existing user becomes its primary email (the identities API, after
    /// the bulk job), instead of a secondary one beside the primary Zendesk keeps.
    pub make_primary: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            mode: Mode::default(),
            existing: Existing::default(),
            concurrency: 4,
            search_new_emails: false,
            tags: Tags::default(),
            missing_orgs: MissingOrgs::default(),
            make_primary: false,
        }
    }
}

/// Tags sent for an existing user replace its whole list (API.md): `Add` sends the tags the
/// plan looked up with the row's added, so none is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tags {
    #[default]
    Replace,
    Add,
}

/// `Tags::Add`: the tags a record holds, then the row's that it lacks (Zendesk lowercases
/// tags, so they are compared ignoring case). What is sent is the list Zendesk will keep.
/// Users use it now; organizations, once importable, merge theirs the same way.
pub fn merge_tags(held: &[String], row: Vec<String>) -> Vec<String> {
    let mut merged = held.to_vec();
    for tag in row {
        if !merged.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            merged.push(tag);
        }
    }
    merged
}

/// The tags `new` adds to `old` when it keeps every one of them (ignoring case): what a
/// `--tags add` change shows.
fn tags_added(old: &Value, new: &Value) -> Option<Vec<String>> {
    let (old, new) = (old.as_array()?, new.as_array()?);
    let lower = |v: &Value| v.as_str().map(str::to_lowercase);
    let held: Vec<String> = old.iter().filter_map(lower).collect();
    let sent: Vec<String> = new.iter().filter_map(lower).collect();
    if !held.iter().all(|t| sent.contains(t)) {
        return None;
    }
    Some(
        new.iter()
            .filter_map(Value::as_str)
            .filter(|t| !held.contains(&t.to_lowercase()))
            .map(|t| format!("\"{t}\""))
            .collect(),
    )
}

impl FromStr for Tags {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "replace" => Ok(Tags::Replace),
            "add" => Ok(Tags::Add),
            _ => Err(format!("unknown choice '{s}' (add or replace)")),
        }
    }
}

/// The rows to plan: the users the checks built, and the rows with errors.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    /// Sheet row and user, in sheet order.
    pub users: Vec<(u32, User)>,
    /// Rows with a validation error and the first error's message.
    pub invalid: Vec<(u32, String)>,
    /// What the rows are; a sheet of organizations has them in `organizations`.
    pub object: crate::mapping::Object,
    /// Sheet row and organization, in sheet order (a sheet of organizations).
    pub organizations: Vec<(u32, crate::payload::Organization)>,
}

impl PlanInput {
    /// An empty input for rows of `object`.
    pub fn of(object: crate::mapping::Object) -> Self {
        Self {
            object,
            ..Self::default()
        }
    }

    /// Adds the users (or organizations) of a request (the pipeline's `Event::Request`).
    pub fn push_request(&mut self, request: Request) {
        self.organizations
            .extend(request.rows.iter().copied().zip(request.body.organizations));
        self.users
            .extend(request.rows.into_iter().zip(request.body.users));
    }

    /// The organizations' part of the input, for their plan (moved, not copied).
    pub fn into_organization_input(self) -> org_rows::OrgInput {
        org_rows::OrgInput {
            organizations: self.organizations,
            invalid: self.invalid,
        }
    }

    /// Notes a row's error (the pipeline's `Event::Issue`); warnings and further errors of
    /// the same row are ignored.
    pub fn push_issue<'a>(&mut self, issue: impl Into<IssueRef<'a>>) {
        let issue = issue.into();
        if issue.severity == Severity::Error
            && self.invalid.last().is_none_or(|(row, _)| *row != issue.row)
        {
            self.invalid.push((issue.row, issue.message.to_owned()));
        }
    }

    /// Adds one checked row (the TUI's Check step, or a checker run by hand).
    pub fn push_checked(&mut self, checked: Checked) {
        let row = checked.row;
        match checked.user {
            Some(user) => self.users.push((row, user)),
            None => {
                let reason = checked
                    .issues
                    .iter()
                    .find(|i| i.row == row && i.severity == Severity::Error)
                    .map_or_else(|| "the row has an error".to_owned(), |i| i.message.clone());
                self.invalid.push((row, reason));
            }
        }
    }

    pub fn rows(&self) -> usize {
        self.users.len() + self.organizations.len() + self.invalid.len()
    }
}

/// What the lookups cost, said before they are made.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cost {
    /// Requests the lookups surely make.
    pub requests: u64,
    /// With the email searches that may follow (a row whose external_id finds a user with
    /// another email).
    pub at_most: u64,
    /// Requests per minute the account allows (`X-Rate-Limit`), when known.
    pub rate_limit: Option<u32>,
    /// `requests` at the rate limit; 0 when the limit is unknown.
    pub minutes: f64,
}

impl Cost {
    /// `requests` surely and `at_most` at most, in minutes at the account's rate limit.
    pub fn at_rate(requests: u64, at_most: u64, rate: &crate::zendesk::RateInfo) -> Cost {
        let minutes = rate
            .limit
            .filter(|l| *l > 0)
            .map_or(0.0, |l| requests as f64 / f64::from(l));
        Cost {
            requests,
            at_most,
            rate_limit: rate.limit,
            minutes,
        }
    }
}

/// What the lookups spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Spent {
    /// Requests sent, refused ones included.
    pub requests: u64,
    /// Of which answered 429.
    pub rate_limited: u64,
}

/// Rows per action; `total` is the file's data rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub new: usize,
    pub update: usize,
    pub unchanged: usize,
    pub conflict: usize,
    pub would_fail: usize,
    pub left_out: usize,
    pub invalid: usize,
    pub total: usize,
}

impl Counts {
    /// Counts one more row, doing `action`.
    pub fn add(&mut self, action: &Action) {
        self.total += 1;
        match action {
            Action::New => self.new += 1,
            Action::Update { .. } => self.update += 1,
            Action::Unchanged { .. } => self.unchanged += 1,
            Action::Conflict { .. } => self.conflict += 1,
            Action::WouldFail { .. } => self.would_fail += 1,
            Action::LeftOut { .. } => self.left_out += 1,
            Action::Invalid { .. } => self.invalid += 1,
        }
    }

    /// Rows that would not go through as they are: conflicts, would fail, invalid.
    pub fn problems(&self) -> usize {
        self.conflict + self.would_fail + self.invalid
    }
}

/// Every row of the file and what it will do.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub mode: Mode,
    /// What the rows are: users, or organizations (a sheet of companies).
    #[serde(skip_serializing_if = "is_users")]
    pub object: crate::mapping::Object,
    /// In sheet order.
    pub rows: Vec<RowPlan>,
    /// Organizations the file names that the account does not have, created before their
    /// users with `--missing-orgs create` (the outbox lists them: `Outbox::organizations`);
    /// empty with the other policies, whose warnings and rows say what happens instead.
    pub missing_organizations: Vec<String>,
    /// What the account's settings do to what the rows send (tags ignored with user tagging
    /// off…), said before anything is sent.
    pub warnings: Vec<String>,
    pub cost: Cost,
    pub spent: Spent,
}

/// The plan routed: what the import engine sends once the plan is made (the outbox is built
/// from it).
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// The mode's requests, then (create mode moving existing users) `update_many` by id.
    pub requests: Vec<Request>,
    /// Rows the plan leaves out and why; they end as `skipped`.
    pub skipped: Vec<(u32, String)>,
    /// Rows sent whose email is then made the user's primary one, with the user's id.
    pub make_primary: Vec<(u32, u64)>,
}

impl Plan {
    /// The plan a `build_each` returned (its rows the invalid ones) with the rows it handed
    /// over, in sheet order.
    fn with_rows(mut self, mut rows: Vec<RowPlan>) -> Plan {
        rows.append(&mut self.rows);
        rows.sort_by_key(|r| r.row);
        self.rows = rows;
        self
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for row in &self.rows {
            c.add(&row.action);
        }
        c
    }

    /// The users whose email the import makes primary after their bulk job, by row.
    pub fn primary_emails(&self) -> Vec<(u32, u64)> {
        self.rows
            .iter()
            .filter_map(|r| Some((r.row, primary_id(&r.action)?)))
            .collect()
    }

    /// Requests the import makes beyond its bulk calls and job polls: making emails primary.
    pub fn make_primary_requests(&self) -> u64 {
        self.primary_emails().len() as u64 * MAKE_PRIMARY_REQUESTS
    }

    /// The requests to send, laid out for `jobs` jobs at once ([`crate::payload::Layout`]),
    /// and the rows left out. Invalid rows are in neither: the engine skips them from its own
    /// checks, so every row is counted once.
    pub fn route(&self, skip_unchanged: bool, jobs: usize) -> Routed {
        let mut router = Router::new(self.mode, skip_unchanged, jobs);
        let mut requests = Vec::new();
        let mut updates = Vec::new();
        let mut skipped = Vec::new();
        for row in &self.rows {
            match router.push(row.clone()) {
                Step::Main(sent) => requests.extend(sent),
                Step::Moved(sent) => updates.extend(sent),
                Step::Skip { row, reason, .. } => skipped.push((row, reason)),
                Step::Nothing => {}
            }
        }
        let (main, moved) = router.finish();
        requests.extend(main);
        requests.extend(updates);
        requests.extend(moved);
        let mut make_primary: Vec<(u32, u64)> = requests
            .iter()
            .flat_map(|r| r.request.rows.iter().zip(&r.marks))
            .filter_map(|(row, mark)| Some((*row, mark.make_primary?)))
            .collect();
        make_primary.sort_by_key(|(row, _)| *row);
        Routed {
            requests: requests.into_iter().map(|r| r.request).collect(),
            skipped,
            make_primary,
        }
    }

    /// The distinct organization names the plan looked up (for tests and reports).
    pub fn organizations_named(&self) -> HashSet<String> {
        self.rows
            .iter()
            .filter_map(|r| r.user.as_ref()?.organization.as_ref())
            .map(|o| o.name.to_lowercase())
            .collect()
    }
}

fn is_users(object: &crate::mapping::Object) -> bool {
    *object == crate::mapping::Object::Users
}

/// The id of the user whose primary email an update makes the row's, when it does.
fn primary_id(action: &Action) -> Option<u64> {
    match action {
        Action::Update { id, changes } if changes.iter().any(|c| c.field == PRIMARY_EMAIL) => {
            Some(*id)
        }
        _ => None,
    }
}

enum Route {
    Main,
    Moved(u64),
    Skip(String),
    Nothing,
}

fn route_row(mode: Mode, action: &Action, skip_unchanged: bool) -> Route {
    match (RouteKind::of(mode, action.kind(), skip_unchanged), action) {
        (RouteKind::Main, _) => Route::Main,
        (RouteKind::Moved, Action::Update { id, .. } | Action::Unchanged { id }) => {
            Route::Moved(*id)
        }
        (RouteKind::Skipped, Action::Unchanged { .. }) => {
            Route::Skip("unchanged: Zendesk already holds every value of this row".into())
        }
        (
            RouteKind::Skipped,
            Action::Conflict { reason, .. }
            | Action::WouldFail { reason }
            | Action::LeftOut { reason, .. },
        ) => Route::Skip(reason.clone()),
        _ => Route::Nothing,
    }
}

/// Where a row with a user goes, by what it does alone ([`Action::kind`]): what
/// [`Router::push`] does with it, without its user or reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind {
    /// The mode's requests.
    Main,
    /// `update_many` by id, after the mode's requests (create mode on an existing user).
    Moved,
    /// Not sent, for the plan's reason.
    Skipped,
    /// Invalid: its own errors say.
    Nothing,
}

impl RouteKind {
    pub(crate) fn of(mode: Mode, kind: u8, skip_unchanged: bool) -> RouteKind {
        match kind {
            Action::NEW => RouteKind::Main,
            Action::UNCHANGED if skip_unchanged => RouteKind::Skipped,
            Action::UPDATE | Action::UNCHANGED if mode == Mode::Create => RouteKind::Moved,
            Action::UPDATE | Action::UNCHANGED => RouteKind::Main,
            Action::INVALID => RouteKind::Nothing,
            _ => RouteKind::Skipped,
        }
    }
}

/// What the import notes of a sent row beside its body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    /// The plan found no such user: an upsert Zendesk answers "Updated" after a resend was
    /// created by this run's earlier request, whose answer was lost.
    pub expect_new: bool,
    /// The user whose primary email becomes the row's once the bulk job has added it.
    pub make_primary: Option<u64>,
}

/// A request the plan sends, with each of its rows' [`Mark`], in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct Marked {
    pub request: Request,
    pub marks: Vec<Mark>,
}

/// What [`Router::push`] did with a row.
#[derive(Debug)]
pub enum Step {
    /// Sent with the mode's requests; these rounds of them are whole (often none yet).
    Main(Vec<Marked>),
    /// Moved to `update_many` by id (create mode on a user the account holds); these rounds
    /// of them are whole, sent after every request of the mode.
    Moved(Vec<Marked>),
    /// Not sent, for `reason`; `key` names the row's user or organization.
    Skip {
        row: u32,
        reason: String,
        key: UserKey,
    },
    /// Invalid: the row's own errors say what becomes of it.
    Nothing,
}

/// A plan's rows routed one at a time, in sheet order, as [`Plan::route`] routes them all:
/// an import routes each part of a plan as [`build_each`] decides it. A sheet of
/// organizations routes its new ones to `create_many` and the existing ones to `update_many`
/// by id after them, whatever the mode (as create mode moves the users the account holds).
pub struct Router {
    mode: Mode,
    skip_unchanged: bool,
    users: Lanes<User>,
    organizations: Lanes<Organization>,
}

/// The mode's requests, and those moved to `update_many` by id.
struct Lanes<T> {
    main: Lane<T>,
    moved: Lane<T>,
}

impl<T: Record> Lanes<T> {
    fn new(mode: Mode, jobs: usize) -> Self {
        Self {
            main: Lane::new(mode, jobs),
            moved: Lane::new(Mode::Update, jobs),
        }
    }

    fn finish(&mut self) -> (Vec<Marked>, Vec<Marked>) {
        (self.main.finish(), self.moved.finish())
    }
}

/// Requests of one endpoint as they fill, and the marks of the rows waiting in them.
struct Lane<T> {
    batcher: Batcher<T>,
    marks: std::collections::VecDeque<Mark>,
}

impl<T: Record> Lane<T> {
    fn new(mode: Mode, jobs: usize) -> Self {
        Self {
            batcher: Batcher::new(mode, jobs),
            marks: std::collections::VecDeque::new(),
        }
    }

    fn push(&mut self, row: u32, record: T, mark: Mark) -> Vec<Marked> {
        self.marks.push_back(mark);
        let requests = self.batcher.push(row, record);
        self.marked(requests)
    }

    /// `requests` with their marks: the batcher hands rows on in the order they came.
    fn marked(&mut self, requests: Vec<Request>) -> Vec<Marked> {
        requests
            .into_iter()
            .map(|request| {
                let marks = self.marks.drain(..request.rows.len()).collect();
                Marked { request, marks }
            })
            .collect()
    }

    fn finish(&mut self) -> Vec<Marked> {
        let requests = self.batcher.finish();
        self.marked(requests)
    }
}

impl Router {
    /// Requests in `mode`, laid out for `jobs` jobs at once; `skip_unchanged` leaves out
    /// the rows Zendesk already holds.
    pub fn new(mode: Mode, skip_unchanged: bool, jobs: usize) -> Self {
        Self {
            mode,
            skip_unchanged,
            users: Lanes::new(mode, jobs),
            organizations: Lanes::new(Mode::Create, jobs),
        }
    }

    /// Routes the next row.
    pub fn push(&mut self, row: RowPlan) -> Step {
        let mark = Mark {
            expect_new: row.action == Action::New,
            make_primary: primary_id(&row.action),
        };
        let at = row.row;
        if let Some(user) = row.user {
            let lanes = &mut self.users;
            match route_row(self.mode, &row.action, self.skip_unchanged) {
                Route::Main => Step::Main(lanes.main.push(at, *user, mark)),
                Route::Moved(id) => Step::Moved(lanes.moved.push(at, as_update(*user, id), mark)),
                Route::Skip(reason) => Step::Skip {
                    row: at,
                    reason,
                    key: UserKey::of(&user),
                },
                Route::Nothing => Step::Nothing,
            }
        } else if let Some(org) = row.organization {
            // A sheet of organizations routes as create mode does (see above).
            let lanes = &mut self.organizations;
            match route_row(Mode::Create, &row.action, self.skip_unchanged) {
                Route::Main => Step::Main(lanes.main.push(at, *org, mark)),
                Route::Moved(id) => {
                    let org = Organization {
                        id: Some(id),
                        ..*org
                    };
                    Step::Moved(lanes.moved.push(at, org, mark))
                }
                Route::Skip(reason) => Step::Skip {
                    row: at,
                    reason,
                    key: UserKey::of_organization(&org),
                },
                Route::Nothing => Step::Nothing,
            }
        } else {
            Step::Nothing
        }
    }

    /// The last requests: the mode's, then those moved to `update_many`.
    pub fn finish(&mut self) -> (Vec<Marked>, Vec<Marked>) {
        let (mut main, mut moved) = self.users.finish();
        let (orgs_main, orgs_moved) = self.organizations.finish();
        main.extend(orgs_main);
        moved.extend(orgs_moved);
        (main, moved)
    }
}

/// A create moved to `update_many`: the user by its Zendesk id, without the create-only
/// `skip_verify_email`.
fn as_update(mut user: User, id: u64) -> User {
    user.id = Some(id);
    user.skip_verify_email = None;
    user
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn row(row: u32, action: Action) -> RowPlan {
        let user = User {
            email: Some(format!("u{row}@x.com")),
            skip_verify_email: Some(true),
            ..User::default()
        };
        let user = (!matches!(action, Action::Invalid { .. })).then_some(Box::new(user));
        RowPlan {
            row,
            action,
            user,
            organization: None,
        }
    }

    fn plan(mode: Mode) -> Plan {
        let change = Change {
            field: "name".into(),
            old: json!("A"),
            new: json!("B"),
        };
        let reason = || "why".to_owned();
        Plan {
            mode,
            object: crate::mapping::Object::Users,
            rows: vec![
                row(2, Action::New),
                row(
                    3,
                    Action::Update {
                        id: 30,
                        changes: vec![change],
                    },
                ),
                row(4, Action::Unchanged { id: 40 }),
                row(5, Action::WouldFail { reason: reason() }),
                row(
                    6,
                    Action::LeftOut {
                        id: 60,
                        reason: reason(),
                    },
                ),
                row(7, Action::Invalid { reason: reason() }),
            ],
            missing_organizations: Vec::new(),
            warnings: Vec::new(),
            cost: Cost {
                requests: 0,
                at_most: 0,
                rate_limit: None,
                minutes: 0.0,
            },
            spent: Spent::default(),
        }
    }

    fn sent(import: &Routed) -> Vec<(&'static str, Vec<u32>)> {
        import
            .requests
            .iter()
            .map(|r| (r.path, r.rows.clone()))
            .collect()
    }

    #[rstest]
    #[case::upsert_keep(Mode::Upsert, false, vec![("/api/v2/users/create_or_update_many", vec![2, 3, 4])], vec![5, 6])]
    #[case::upsert_skip(Mode::Upsert, true, vec![("/api/v2/users/create_or_update_many", vec![2, 3])], vec![4, 5, 6])]
    #[case::create_moves(Mode::Create, false, vec![("/api/v2/users/create_many", vec![2]), ("/api/v2/users/update_many", vec![3, 4])], vec![5, 6])]
    #[case::create_skip(Mode::Create, true, vec![("/api/v2/users/create_many", vec![2]), ("/api/v2/users/update_many", vec![3])], vec![4, 5, 6])]
    fn import_routes_every_row_once(
        #[case] mode: Mode,
        #[case] skip_unchanged: bool,
        #[case] want: Vec<(&str, Vec<u32>)>,
        #[case] skipped: Vec<u32>,
    ) {
        let plan = plan(mode);
        let import = plan.route(skip_unchanged, crate::payload::JOB_LIMIT);
        assert_eq!(sent(&import), want);
        let rows: Vec<u32> = import.skipped.iter().map(|(r, _)| *r).collect();
        assert_eq!(rows, skipped);
        let counts = plan.counts();
        let total: usize = want.iter().map(|(_, r)| r.len()).sum::<usize>() + rows.len();
        assert_eq!(total + counts.invalid, counts.total);
    }

    #[test]
    fn tags_kept_and_added_show_only_those_added() {
        let merged = merge_tags(
            &["VIP".into(), "beta".into()],
            vec!["vip".into(), "new".into()],
        );
        assert_eq!(merged, ["VIP", "beta", "new"]);
        let change = |old: Value, new: Value| {
            Change {
                field: "tags".into(),
                old,
                new,
            }
            .to_string()
        };
        assert_eq!(
            change(json!(["VIP", "beta"]), json!(merged)),
            "tags: adds \"new\""
        );
        // A tag dropped (replace mode) shows the whole lists.
        assert_eq!(
            change(json!(["vip", "beta"]), json!(["vip"])),
            "tags: [\"vip\",\"beta\"] → [\"vip\"]"
        );
    }

    #[test]
    fn moved_creates_are_updates_by_id() {
        let import = plan(Mode::Create).route(false, crate::payload::JOB_LIMIT);
        let moved = &import.requests[1].body.users[0];
        assert_eq!((moved.id, moved.skip_verify_email), (Some(30), None));
        let created = &import.requests[0].body.users[0];
        assert_eq!((created.id, created.skip_verify_email), (None, Some(true)));
    }

    #[rstest]
    #[case("fail", Ok(Existing::Fail))]
    #[case("UPDATE", Ok(Existing::Update))]
    #[case(" skip ", Ok(Existing::Skip))]
    #[case("merge", Err("unknown choice 'merge' (fail, update or skip)".to_owned()))]
    fn existing_choices_parse(#[case] text: &str, #[case] want: Result<Existing, String>) {
        assert_eq!(text.parse::<Existing>(), want);
    }

    #[test]
    fn rows_print_as_json_with_their_action() {
        let json = serde_json::to_value(&plan(Mode::Upsert).rows).unwrap();
        assert_eq!(json[0], json!({"row": 2, "action": "new"}));
        assert_eq!(
            json[1],
            json!({"row": 3, "action": "update", "id": 30,
                   "changes": [{"field": "name", "old": "A", "new": "B"}]})
        );
        assert_eq!(
            json[5],
            json!({"row": 7, "action": "invalid", "reason": "why"})
        );
    }
}
