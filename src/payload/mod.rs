//! Rows to Zendesk users: validation with every problem named, and the exact request bodies.

mod check;
pub mod fields;
mod phone;
mod user;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use check::{Checked, Checker, Options};
pub use fields::{ConversionError, FieldDef, FieldKind, Fields};

pub use phone::{PhoneRegion, e164};
pub use user::{FieldValue, Identity, IdentityKind, OrganizationRef, Role, User, UserFields};

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
    /// Counts the error rows of `issues` (any order) among `rows` data rows.
    pub fn of<'a>(issues: impl IntoIterator<Item = &'a Issue>, rows: u64) -> Self {
        let mut by_row: std::collections::HashMap<u32, bool> = std::collections::HashMap::new();
        for issue in issues.into_iter().filter(|i| i.severity == Severity::Error) {
            *by_row.entry(issue.row).or_insert(true) &= issue.includable;
        }
        Self {
            errors: by_row.len() as u64,
            includable: by_row.values().filter(|all| **all).count() as u64,
            rows,
        }
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
        write!(f, "row {}", self.row)?;
        if let Some(column) = &self.column {
            write!(f, ", {column}")?;
        }
        if let Some(cell) = &self.cell {
            write!(f, " ({cell})")?;
        }
        write!(f, ": {}: {}", self.severity_word(), self.message)
    }
}

impl Issue {
    fn severity_word(&self) -> &'static str {
        match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
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

/// One bulk request: what `preview --jsonl` prints, line by line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub method: &'static str,
    pub path: &'static str,
    /// The spreadsheet row of each user, in body order.
    pub rows: Vec<u32>,
    pub body: Body,
}

/// `{"users": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Body {
    pub users: Vec<User>,
}

/// Groups checked users into requests of at most [`BATCH_SIZE`].
#[derive(Debug)]
pub struct Batcher {
    mode: Mode,
    rows: Vec<u32>,
    users: Vec<User>,
}

impl Batcher {
    pub fn new(mode: Mode) -> Batcher {
        Batcher {
            mode,
            rows: Vec::with_capacity(BATCH_SIZE),
            users: Vec::with_capacity(BATCH_SIZE),
        }
    }

    /// Adds a user; returns the request once it holds [`BATCH_SIZE`] users.
    pub fn push(&mut self, row: u32, user: User) -> Option<Request> {
        self.rows.push(row);
        self.users.push(user);
        (self.users.len() == BATCH_SIZE).then(|| self.take())
    }

    /// The last, partly filled request.
    pub fn finish(&mut self) -> Option<Request> {
        (!self.users.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Request {
        let (method, path) = self.mode.endpoint();
        Request {
            method,
            path,
            rows: std::mem::replace(&mut self.rows, Vec::with_capacity(BATCH_SIZE)),
            body: Body {
                users: std::mem::replace(&mut self.users, Vec::with_capacity(BATCH_SIZE)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn named(i: u32) -> User {
        User {
            name: Some(format!("U{i}")),
            ..User::default()
        }
    }

    #[rstest]
    #[case(0, vec![])]
    #[case(1, vec![1])]
    #[case(100, vec![100])]
    #[case(101, vec![100, 1])]
    #[case(250, vec![100, 100, 50])]
    fn batches_hold_at_most_100_users(#[case] n: u32, #[case] sizes: Vec<usize>) {
        let mut batcher = Batcher::new(Mode::Create);
        let mut requests: Vec<Request> = (0..n)
            .filter_map(|i| batcher.push(i + 2, named(i)))
            .collect();
        requests.extend(batcher.finish());
        let got: Vec<usize> = requests.iter().map(|r| r.body.users.len()).collect();
        assert_eq!(got, sizes);
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
        let mut batcher = Batcher::new(mode);
        assert!(batcher.push(7, named(5)).is_none());
        let request = batcher.finish().unwrap();
        assert_eq!(serde_json::to_string(&request).unwrap(), want);
        assert!(batcher.finish().is_none());
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
