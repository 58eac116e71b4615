//! Rows to Zendesk users: validation with every problem named, and the exact request bodies.

mod check;
pub mod fields;
mod firsts;
mod issues;
pub mod org;
mod phone;
mod spooled;
mod user;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use check::{Checked, Checker, Options, Prepared};
pub use fields::{ConversionError, FieldDef, FieldKind, Fields};
pub use issues::{CellRef, IssueRef, Issues};
pub use org::{OrgChecked, OrgChecker, Organization};
pub use spooled::Peek;

pub use phone::{PhoneRegion, e164};
pub use user::{
    FieldValue, Identity, IdentityKind, MemberOf, OrganizationRef, Role, User, UserFields,
};

/// Users per bulk request: Zendesk's limit for `create_many`, `create_or_update_many` and
/// `update_many` (<https://developer.zendesk.com/api-reference/ticketing/users/users/#create-many-users>).
pub const BATCH_SIZE: usize = 100;

/// How users are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// New users only: `POST /api/v2/users/create_many`.
    Create,
    /// Create or update, matched by email or external_id:
    /// `POST /api/v2/users/create_or_update_many`.
    #[default]
    Upsert,
    /// Existing users by id or external_id: `PUT /api/v2/users/update_many`.
    Update,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Create, Mode::Upsert, Mode::Update];

    /// HTTP method and path of the mode's bulk endpoint.
    pub fn endpoint(self) -> (&'static str, &'static str) {
        match self {
            Mode::Create => ("POST", "/api/v2/users/create_many"),
            Mode::Upsert => ("POST", "/api/v2/users/create_or_update_many"),
            Mode::Update => ("PUT", "/api/v2/users/update_many"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::Upsert => "upsert",
            Mode::Update => "update",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown mode '{s}' (create, upsert or update)"))
    }
}

/// What an empty cell does to a value Zendesk already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Blank {
    /// Left out of the user: an empty cell never erases a value (the default).
    #[default]
    Keep,
    /// Sent as null for custom fields: the sheet is the truth, empty erases.
    Clear,
}

impl FromStr for Blank {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "keep" => Ok(Blank::Keep),
            "clear" => Ok(Blank::Clear),
            _ => Err(format!("unknown blank handling '{s}' (keep or clear)")),
        }
    }
}

/// What an import does with rows that have an error (`--invalid`, a profile's `invalid`, the
/// Check screen's `i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvalidPolicy {
    /// Send the other rows; the rows with errors are reported skipped (the default).
    #[default]
    Skip,
    /// Send nothing while any row has an error: for files that must go in whole.
    Block,
    /// Also send the rows whose every error Zendesk can judge (see [`Issue::includable`]),
    /// each marked in the results as sent despite its problem; the others are skipped.
    Include,
}

impl InvalidPolicy {
    pub const ALL: [InvalidPolicy; 3] = [Self::Skip, Self::Block, Self::Include];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Block => "block",
            Self::Include => "include",
        }
    }

    /// The next policy, for a key that cycles them.
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            Self::Skip => Self::Block,
            Self::Block => Self::Include,
            Self::Include => Self::Skip,
        }
    }
}

impl fmt::Display for InvalidPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for InvalidPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown invalid-row policy '{s}' (skip, block or include)"))
    }
}

/// Rows with errors, and what each policy leaves out of an import of `rows` rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    /// Rows with at least one error.
    pub errors: u64,
    /// Of those, the rows whose every error is [`Issue::includable`].
    pub includable: u64,
    /// Every data row.
    pub rows: u64,
}

impl LeftOut {
    /// Counts the error rows of `issues` (any order; `&Issue`s or an [`Issues`]'s views) among
    /// `rows` data rows.
    ///
    /// The errors are listed (8 bytes each) and sorted by row, where a map of rows took two
    /// to three times as much: a sheet of a million errors is counted in 8 MB.
    pub fn of<'a, I: Into<IssueRef<'a>>>(issues: impl IntoIterator<Item = I>, rows: u64) -> Self {
        let mut errors: Vec<(u32, bool)> = issues
            .into_iter()
            .map(Into::into)
            .filter(|i| i.severity == Severity::Error)
            .map(|i| (i.row, i.includable))
            .collect();
        errors.sort_unstable_by_key(|(row, _)| *row);
        let mut left = Self {
            errors: 0,
            includable: 0,
            rows,
        };
        for row in errors.chunk_by(|a, b| a.0 == b.0) {
            left.errors += 1;
            left.includable += u64::from(row.iter().all(|(_, includable)| *includable));
        }
        left
    }

    /// Rows `policy` does not send.
    pub fn by(&self, policy: InvalidPolicy) -> u64 {
        match policy {
            InvalidPolicy::Skip => self.errors,
            InvalidPolicy::Block if self.errors > 0 => self.rows,
            InvalidPolicy::Block => 0,
            InvalidPolicy::Include => self.errors - self.includable,
        }
    }

    /// `skip leaves out 4 rows, block 207, include 3`.
    pub fn line(&self) -> String {
        let skip = self.by(InvalidPolicy::Skip);
        format!(
            "skip leaves out {skip} row{}, block {}, include {}",
            if skip == 1 { "" } else { "s" },
            self.by(InvalidPolicy::Block),
            self.by(InvalidPolicy::Include)
        )
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The row is sent; the operator should look.
    Warning,
    /// The row is not sent.
    Error,
}

/// A problem with one row, and where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// Spreadsheet row number.
    pub row: u32,
    /// The column's header, when one column is at fault.
    pub column: Option<String>,
    /// The cell, as `B12`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// The cell's text as the sheet shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub severity: Severity,
    pub message: String,
    /// An error `--invalid include` may send anyway, letting Zendesk decide: nothing wrong
    /// reaches the account, since Zendesk refuses the row itself (an email that is not an
    /// address; no name to create a user; no id or external_id to update one). Never for an
    /// error that would send wrong data: a spreadsheet error cell, a value that could not be
    /// converted (date, number, yes/no, role, custom field option), a row an upsert could
    /// not match (it would create a user with no identifier), or an identifier already on an
    /// earlier row.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub includable: bool,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        IssueRef::from(self).fmt(f)
    }
}

/// The state of a row once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    Ready,
    Warning,
    Error,
}

impl RowStatus {
    /// Ready, warning or error, from the issues that are row `row`'s own (a duplicate found on
    /// it also warns an earlier row, which does not count here).
    pub fn of(row: u32, issues: &[Issue]) -> RowStatus {
        let own = issues.iter().filter(|i| i.row == row);
        match own.map(|i| i.severity).max() {
            None => RowStatus::Ready,
            Some(Severity::Warning) => RowStatus::Warning,
            Some(Severity::Error) => RowStatus::Error,
        }
    }
}

/// One bulk request: what `preview --jsonl` prints, line by line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub method: &'static str,
    pub path: &'static str,
    /// The spreadsheet row of each user, in body order.
    pub rows: Vec<u32>,
    pub body: Body,
}

/// `{"users": [...]}`, or `{"organizations": [...]}` for a sheet of organizations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Body {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<Organization>,
}

impl Request {
    /// The request sending `users`, whose sheet rows are `rows`, in `mode`.
    pub fn new(mode: Mode, rows: Vec<u32>, users: Vec<User>) -> Request {
        let (method, path) = mode.endpoint();
        Request {
            method,
            path,
            rows,
            body: Body {
                users,
                ..Body::default()
            },
        }
    }

    /// The request sending `organizations` to the bulk endpoint of `mode`
    /// ([`org::endpoint`]).
    pub fn organizations(mode: Mode, rows: Vec<u32>, organizations: Vec<Organization>) -> Request {
        let (method, path) = org::endpoint(mode);
        Request {
            method,
            path,
            rows,
            body: Body {
                organizations,
                ..Body::default()
            },
        }
    }

    /// Records in the body, users or organizations.
    pub fn len(&self) -> usize {
        self.body.users.len() + self.body.organizations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Zendesk's limit of bulk jobs queued or running at once, per account
/// (<https://developer.zendesk.com/api-reference/introduction/rate-limits/>): the most jobs a
/// round of batches is laid out for.
pub const JOB_LIMIT: usize = 30;

/// The smallest batch the evened-out last round is split into (unless fewer users are left):
/// splitting further saves under 2.5 s of job time and makes requests that look like a fault.
pub const MIN_TAIL_BATCH: usize = 25;

/// Groups items in order into batches of at most [`BATCH_SIZE`], the last round evened out.
///
/// Zendesk runs a few jobs at once (`jobs`, at most [`JOB_LIMIT`]), and a job takes a fixed
/// time in the queue (5 s recorded) plus a time per user (95 ms): full batches run in rounds
/// of `jobs`, and a last, partial round leaves most job slots idle while its few full jobs
/// run. So each whole round of full batches goes out once the next item shows the stream goes
/// on, and what is left at the end, at most one round, is split into up to `jobs` batches
/// whose sizes differ by at most one (none under [`MIN_TAIL_BATCH`] unless fewer are left).
/// 20,000 users at 30 jobs: 180 batches of 100, then 30 of 66 or 67; the 7th round of jobs
/// takes 11.3 s instead of a full 14.5 s while 10 of its 30 slots stay empty.
///
/// It holds at most one round of items (3,000 at 30 jobs); with `jobs` 1 every batch but the
/// last holds 100.
#[derive(Debug)]
pub struct Layout<T> {
    jobs: usize,
    held: Vec<T>,
}

impl<T> Layout<T> {
    pub fn new(jobs: usize) -> Self {
        Layout {
            jobs: jobs.clamp(1, JOB_LIMIT),
            held: Vec::new(),
        }
    }

    /// Adds an item; returns the batches of a whole round once the round is followed by more.
    pub fn push(&mut self, item: T) -> Vec<Vec<T>> {
        let round = if self.held.len() == self.jobs * BATCH_SIZE {
            split(std::mem::take(&mut self.held), self.jobs)
        } else {
            Vec::new()
        };
        self.held.push(item);
        round
    }

    /// The last round, evened out.
    pub fn finish(&mut self) -> Vec<Vec<T>> {
        let batches = tail_batches(self.held.len(), self.jobs);
        split(std::mem::take(&mut self.held), batches)
    }
}

/// How many batches the last round's `left` items are evened out into.
fn tail_batches(left: usize, jobs: usize) -> usize {
    (left / MIN_TAIL_BATCH)
        .clamp(1, jobs)
        .max(left.div_ceil(BATCH_SIZE))
}

/// `items` in order into `batches` batches whose sizes differ by at most one, larger first.
fn split<T>(items: Vec<T>, batches: usize) -> Vec<Vec<T>> {
    if items.is_empty() {
        return Vec::new();
    }
    let (size, larger) = (items.len() / batches, items.len() % batches);
    let mut items = items.into_iter();
    (0..batches)
        .map(|b| {
            items
                .by_ref()
                .take(size + usize::from(b < larger))
                .collect()
        })
        .collect()
}

/// Groups checked users into requests of at most [`BATCH_SIZE`], laid out as [`Layout`] lays
/// them out.
///
/// Each user is moved once, into the batch that sends it: a whole round is batches of
/// [`BATCH_SIZE`] in order, so they are filled as users come; only the last round, evened
/// out, is cut again. (Users are large: moving each through a round, its split and an unzip
/// took a third of the checking thread.)
#[derive(Debug)]
pub struct Batcher<T = User> {
    mode: Mode,
    jobs: usize,
    /// The round being filled: batches of [`BATCH_SIZE`], the last one filling.
    round: Vec<(Vec<u32>, Vec<T>)>,
    held: usize,
}

/// What a bulk request sends: users, or organizations (a sheet of companies).
pub trait Record: Sized {
    /// The request sending `records`, whose sheet rows are `rows`, in `mode`.
    fn request(mode: Mode, rows: Vec<u32>, records: Vec<Self>) -> Request;
}

impl Record for User {
    fn request(mode: Mode, rows: Vec<u32>, records: Vec<Self>) -> Request {
        Request::new(mode, rows, records)
    }
}

impl Record for Organization {
    fn request(mode: Mode, rows: Vec<u32>, records: Vec<Self>) -> Request {
        Request::organizations(mode, rows, records)
    }
}

impl Batcher {
    /// How many requests `rows` records pushed make, laid out for `jobs` at once: whole
    /// rounds of [`BATCH_SIZE`], then the last round evened out (what [`Batcher::push`] and
    /// [`Batcher::finish`] hand back, counted without a record).
    pub fn requests(rows: usize, jobs: usize) -> usize {
        if rows == 0 {
            return 0;
        }
        let jobs = jobs.clamp(1, JOB_LIMIT);
        let rounds = (rows - 1) / (jobs * BATCH_SIZE);
        rounds * jobs + tail_batches(rows - rounds * jobs * BATCH_SIZE, jobs)
    }
}

impl<T: Record> Batcher<T> {
    /// Requests for `jobs` jobs at once (see [`Layout`]).
    pub fn new(mode: Mode, jobs: usize) -> Batcher<T> {
        Batcher {
            mode,
            jobs: jobs.clamp(1, JOB_LIMIT),
            round: Vec::new(),
            held: 0,
        }
    }

    /// Adds a record; returns a round of requests once it is whole.
    pub fn push(&mut self, row: u32, record: T) -> Vec<Request> {
        let round = if self.held == self.jobs * BATCH_SIZE {
            self.held = 0;
            std::mem::take(&mut self.round)
                .into_iter()
                .map(|(rows, records)| T::request(self.mode, rows, records))
                .collect()
        } else {
            Vec::new()
        };
        let batch = match self.round.last_mut() {
            Some(batch) if batch.0.len() < BATCH_SIZE => batch,
            _ => {
                let batch = (
                    Vec::with_capacity(BATCH_SIZE),
                    Vec::with_capacity(BATCH_SIZE),
                );
                self.round.push(batch);
                self.round.last_mut().expect("just pushed")
            }
        };
        batch.0.push(row);
        batch.1.push(record);
        self.held += 1;
        round
    }

    /// The last round of requests, evened out.
    pub fn finish(&mut self) -> Vec<Request> {
        let batches = tail_batches(self.held, self.jobs);
        self.held = 0;
        let (rows, records): (Vec<Vec<u32>>, Vec<Vec<T>>) =
            std::mem::take(&mut self.round).into_iter().unzip();
        let rows = split(rows.concat(), batches);
        let records = split(records.into_iter().flatten().collect(), batches);
        rows.into_iter()
            .zip(records)
            .map(|(rows, records)| T::request(self.mode, rows, records))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn left_out_counts_rows_with_errors_once_in_any_order() {
        let issue = |row, severity, includable| Issue {
            row,
            column: None,
            cell: None,
            value: None,
            severity,
            message: "m".into(),
            includable,
        };
        let issues = [
            issue(9, Severity::Error, true),
            issue(3, Severity::Error, true),
            issue(9, Severity::Error, false),
            issue(5, Severity::Warning, false),
            issue(3, Severity::Error, true),
            issue(7, Severity::Error, false),
        ];
        let left = LeftOut::of(&issues, 10);
        assert_eq!((left.errors, left.includable, left.rows), (3, 1, 10));
        assert_eq!(left.line(), "skip leaves out 3 rows, block 10, include 2");
    }

    fn named(i: u32) -> User {
        User {
            name: Some(format!("U{i}")),
            ..User::default()
        }
    }

    fn laid_out(n: usize, jobs: usize) -> Vec<Vec<usize>> {
        let mut layout = Layout::new(jobs);
        let mut batches: Vec<Vec<usize>> = (0..n).flat_map(|i| layout.push(i)).collect();
        batches.extend(layout.finish());
        batches
    }

    /// Sizes as runs: `(count, size)` for `count` batches of `size` in a row.
    fn runs(batches: &[Vec<usize>]) -> Vec<(usize, usize)> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for size in batches.iter().map(Vec::len) {
            match runs.last_mut() {
                Some((count, last)) if *last == size => *count += 1,
                _ => runs.push((1, size)),
            }
        }
        runs
    }

    #[rstest]
    #[case(0, 30, vec![])]
    #[case(1, 30, vec![(1, 1)])]
    #[case(30, 30, vec![(1, 30)])]
    #[case(60, 30, vec![(2, 30)])]
    #[case(201, 30, vec![(1, 26), (7, 25)])]
    #[case(3_000, 30, vec![(30, 100)])]
    #[case(3_001, 30, vec![(30, 100), (1, 1)])]
    #[case(20_000, 30, vec![(180, 100), (20, 67), (10, 66)])]
    #[case(100_000, 30, vec![(990, 100), (10, 34), (20, 33)])]
    #[case(2_050, 10, vec![(20, 100), (2, 25)])]
    #[case(2_500, 10, vec![(20, 100), (10, 50)])]
    #[case(250, 1, vec![(2, 100), (1, 50)])]
    #[case(250, 99, vec![(10, 25)])]
    fn whole_rounds_of_100_then_the_rest_evened_out(
        #[case] n: usize,
        #[case] jobs: usize,
        #[case] want: Vec<(usize, usize)>,
    ) {
        let batches = laid_out(n, jobs);
        assert_eq!(runs(&batches), want);
        // In order, each item once, no batch over Zendesk's 100.
        let flat: Vec<usize> = batches.iter().flatten().copied().collect();
        assert_eq!(flat, (0..n).collect::<Vec<_>>());
        assert!(
            batches
                .iter()
                .all(|b| !b.is_empty() && b.len() <= BATCH_SIZE)
        );
    }

    #[test]
    fn every_size_fills_its_rounds() {
        for jobs in [1, 7, 10, 30] {
            for n in (0..7_000).step_by(37) {
                let batches = laid_out(n, jobs);
                let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
                assert_eq!(sizes.iter().sum::<usize>(), n, "{n} at {jobs}");
                assert!(sizes.iter().all(|&s| (1..=BATCH_SIZE).contains(&s)));
                // Whole rounds of full batches, then at most one round, within one user.
                let rounds = n.saturating_sub(1) / (jobs * BATCH_SIZE);
                let (full, last) = sizes.split_at(rounds * jobs);
                assert!(full.iter().all(|&s| s == BATCH_SIZE), "{n} at {jobs}");
                assert!(last.len() <= jobs, "{n} at {jobs}: {last:?}");
                let spread = last.iter().max().unwrap_or(&0) - last.iter().min().unwrap_or(&0);
                assert!(spread <= 1, "{n} at {jobs}: {last:?}");
                assert!(last.len() <= 1 || last.iter().all(|&s| s >= MIN_TAIL_BATCH));
            }
        }
    }

    #[test]
    fn the_batcher_lays_users_out_as_the_layout_does() {
        for jobs in [1, 7, 30] {
            for n in (0..7_000u32).step_by(137) {
                let mut batcher = Batcher::new(Mode::Create, jobs);
                let mut got: Vec<Vec<u32>> = (0..n)
                    .flat_map(|i| batcher.push(i, named(i)))
                    .map(|r| r.rows)
                    .collect();
                got.extend(batcher.finish().into_iter().map(|r| r.rows));
                let want: Vec<Vec<u32>> = laid_out(n as usize, jobs)
                    .into_iter()
                    .map(|b| b.into_iter().map(|i| i as u32).collect())
                    .collect();
                assert_eq!(got, want, "{n} at {jobs}");
                assert_eq!(
                    Batcher::requests(n as usize, jobs),
                    got.len(),
                    "{n} at {jobs}"
                );
            }
        }
        // Around a round's edge, and jobs out of range (clamped as the batcher clamps them).
        for jobs in [0, 1, 2, 10, JOB_LIMIT, JOB_LIMIT + 5] {
            let round = jobs.clamp(1, JOB_LIMIT) * BATCH_SIZE;
            for n in [1, round - 1, round, round + 1, 2 * round, 2 * round + 1] {
                let mut batcher = Batcher::new(Mode::Upsert, jobs);
                let mut got = (0..n as u32)
                    .map(|i| batcher.push(i, named(i)).len())
                    .sum::<usize>();
                got += batcher.finish().len();
                assert_eq!(Batcher::requests(n, jobs), got, "{n} at {jobs}");
            }
        }
    }

    #[test]
    fn requests_keep_each_row_with_its_user() {
        let mut batcher = Batcher::new(Mode::Create, 30);
        let mut requests: Vec<Request> = (0..3_250)
            .flat_map(|i| batcher.push(i + 2, named(i)))
            .collect();
        requests.extend(batcher.finish());
        assert_eq!(requests.len(), 30 + 10);
        for r in &requests {
            assert_eq!(r.rows.len(), r.body.users.len());
            for (row, user) in r.rows.iter().zip(&r.body.users) {
                assert_eq!(user.name.as_deref(), Some(format!("U{}", row - 2).as_str()));
            }
        }
    }

    #[rstest]
    #[case(Mode::Create, r#"{"method":"POST","path":"/api/v2/users/create_many","rows":[7],"body":{"users":[{"name":"U5"}]}}"#)]
    #[case(Mode::Upsert, r#"{"method":"POST","path":"/api/v2/users/create_or_update_many","rows":[7],"body":{"users":[{"name":"U5"}]}}"#)]
    #[case(Mode::Update, r#"{"method":"PUT","path":"/api/v2/users/update_many","rows":[7],"body":{"users":[{"name":"U5"}]}}"#)]
    fn request_lines_per_mode(#[case] mode: Mode, #[case] want: &str) {
        let mut batcher = Batcher::new(mode, JOB_LIMIT);
        assert!(batcher.push(7, named(5)).is_empty());
        let request = batcher.finish();
        assert_eq!(serde_json::to_string(&request[0]).unwrap(), want);
        assert!(batcher.finish().is_empty());
    }

    #[test]
    fn modes_parse_and_print() {
        for mode in Mode::ALL {
            assert_eq!(mode.to_string().parse::<Mode>(), Ok(mode));
        }
        assert_eq!("UPSERT".parse::<Mode>(), Ok(Mode::Upsert));
        assert!(
            "merge"
                .parse::<Mode>()
                .unwrap_err()
                .contains("create, upsert or update")
        );
    }
}
