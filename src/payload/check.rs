//! Row validation: one pass per row, every problem named with its row, column and value.

use std::borrow::Cow;
use std::hash::BuildHasher as _;
use std::sync::Arc;

use super::fields::{Fields, plain};
use super::firsts::Firsts;
use super::phone::{PhoneRegion, e164};
use super::user::{FieldValue, Identity, IdentityKind, OrganizationRef, Role, User};
use super::{Blank, InvalidPolicy, Issue, Mode, RowStatus, Severity};
use crate::mapping::{Mapping, Target, Transform, Value};
use crate::sheet::header::column_letter;
use crate::sheet::{Cell, CellRef, Row, TableRow};

/// What the checker needs besides the mapping, and how its users are grouped into requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    /// Ask Zendesk not to send new users a verification email.
    pub skip_verify_email: bool,
    /// The country numbers without `+` are read in, for E.164 phones.
    pub phone_region: Option<PhoneRegion>,
    /// What happens to rows with errors: skipped, or (include) built and sent when Zendesk
    /// can judge every error ([`Issue::includable`]). Block is the caller's: the rows are
    /// built as for skip, and nothing is sent while any has an error.
    pub invalid: InvalidPolicy,
    /// Jobs Zendesk runs at once for this import: the last round of requests is evened out
    /// for them ([`super::Layout`]).
    pub jobs: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::default(),
            skip_verify_email: false,
            phone_region: None,
            invalid: InvalidPolicy::default(),
            jobs: super::JOB_LIMIT,
        }
    }
}

/// A checked row: the user to send (none when the row has an error) and its problems.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub row: u32,
    pub user: Option<User>,
    /// Problems found by this row; a duplicate also adds a warning to the earlier row.
    pub issues: Vec<Issue>,
}

impl Checked {
    /// Ready, warning or error, from this row's own issues.
    pub fn status(&self) -> RowStatus {
        RowStatus::of(self.row, &self.issues)
    }
}

/// A mapped column, ready to read cells from.
#[derive(Debug)]
pub(super) struct Column {
    pub(super) index: usize,
    pub(super) header: String,
    pub(super) letter: String,
    pub(super) target: Target,
    pub(super) transform: Transform,
}

/// Which identifiers a row carries, for duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Email = 0,
    ExternalId = 1,
    Id = 2,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Email => "email",
            Key::ExternalId => "external_id",
            Key::Id => "id",
        }
    }

    /// The identifier's text in the built user.
    fn text(self, user: &User) -> Cow<'_, str> {
        match self {
            Key::Email => Cow::Borrowed(user.email.as_deref().unwrap_or_default()),
            Key::ExternalId => Cow::Borrowed(user.external_id.as_deref().unwrap_or_default()),
            Key::Id => Cow::Owned(user.id.map(|id| id.to_string()).unwrap_or_default()),
        }
    }
}

/// Validates rows one at a time and builds their users; remembers identifiers across rows.
///
/// Identifiers are remembered as 64-bit fingerprints rather than strings, so a million-row file
/// costs about 23 MB per identifier kind ([`Firsts`]). The fingerprint is foldhash's quality hash with a
/// fixed seed: not cryptographic, and several times faster than SipHash on short text. Two
/// different values share a fingerprint with a probability near 1 in 10^7 for a million
/// rows, unless the values were crafted to collide (anyone can compute the hash); either way
/// the later row is flagged with a message naming both rows, so the operator can see it.
#[derive(Debug)]
pub struct Checker {
    columns: Vec<Column>,
    options: Options,
    seen: Seen,
    /// The account's custom field definitions: values converted to what each field takes.
    fields: Option<Arc<Fields>>,
    blank: Blank,
    /// When known ([`Checker::with_repeats`]): the identifiers met on more than one row, as
    /// [`Prepared::prints`] gives them, sorted. Any other identifier cannot be a duplicate,
    /// so it is not remembered.
    repeats: Option<Vec<u64>>,
}

/// A row checked on its own, its user built: what [`Checker::check`] does before it compares
/// the row's identifiers with earlier rows'. Rows are prepared on the reading thread while
/// the checking one finishes earlier ones ([`Checker::prepare`], [`Checker::finish`]).
#[derive(Debug)]
pub struct Prepared {
    pub(super) row: u32,
    pub(super) user: User,
    pub(super) issues: Vec<Issue>,
    /// The row's identifiers: which, the position of its column, and its fingerprint.
    pub(super) keys: Keys,
}

impl Prepared {
    /// The row's identifiers as 64-bit values, one per identifier, telling kinds apart (an
    /// email and an external_id of the same text differ): what [`Checker::with_repeats`]
    /// takes.
    pub fn prints(&self) -> impl Iterator<Item = u64> + '_ {
        self.keys.iter().map(|&(key, _, print)| keyed(key, print))
    }

    /// The row's number.
    pub fn row(&self) -> u32 {
        self.row
    }

    /// Whether the row has any problem of its own (a duplicate is found later).
    pub fn has_issues(&self) -> bool {
        !self.issues.is_empty()
    }

    /// Drops the user's values but its identifiers, all that [`Checker::finish`] reads of it:
    /// for a caller that wants the issues and not the requests (`validate`), so that the rest
    /// is freed on the thread that built it.
    pub fn slim(&mut self) {
        let user = std::mem::take(&mut self.user);
        self.user = User {
            id: user.id,
            email: user.email,
            external_id: user.external_id,
            ..User::default()
        };
    }
}

impl Checker {
    /// A checker for a table whose first column is at `first_column` (0 = A).
    pub fn new(mapping: &Mapping, first_column: u32, options: Options) -> Checker {
        // Only update_many takes an id: elsewhere it could land on another user. The mapping
        // reports it as a problem; this keeps it out of the body even if a caller went on.
        let columns = mapping
            .mapped()
            .filter(|(_, target)| options.mode == Mode::Update || **target != Target::Id)
            .filter(|(_, target)| crate::mapping::Object::Users.takes(target))
            .map(|(c, target)| Column {
                index: c.index,
                header: c.header.clone(),
                letter: column_letter(first_column as usize + c.index),
                target: target.clone(),
                transform: c.transform.clone(),
            })
            .collect();
        Checker {
            columns,
            options,
            seen: Default::default(),
            fields: None,
            blank: Blank::Keep,
            repeats: None,
        }
    }

    /// This checker with only the columns that carry an identifier (email, external_id, id):
    /// its [`Checker::prepare`] gives each row's [`Prepared::prints`] as the whole checker's
    /// does, for a first read that finds the identifiers on more than one row.
    #[must_use]
    pub fn identifiers_only(mut self) -> Checker {
        self.columns
            .retain(|c| matches!(c.target, Target::Email | Target::ExternalId | Target::Id));
        self
    }

    /// The row's identifiers fingerprinted, appended to `prints`, for a first read that finds
    /// those on more than one row ([`Checker::identifiers_only`], [`Checker::with_repeats`]):
    /// every print [`Checker::prepare`] gives, found where the cells lie when they are plain
    /// text cleaned the usual way, by preparing the row otherwise.
    pub fn prints_of<'a>(&self, row: impl TableRow<'a>, prints: &mut Vec<u64>) {
        if !self.quick_prints(row, prints) {
            prints.extend(self.prepare_ref(row, false).prints());
        }
    }

    /// The row's [`Prepared::prints`], appended to `prints`, without building its user: every
    /// print [`Checker::prepare`] would give, and perhaps a few more (an address it would
    /// refuse), which is what [`Checker::with_repeats`] needs. False when the row's identifier
    /// cells are not plain text cleaned the usual way: then nothing is appended.
    fn quick_prints<'a>(&self, row: impl TableRow<'a>, prints: &mut Vec<u64>) -> bool {
        let start = prints.len();
        let mut seen = [false; 3];
        for column in &self.columns {
            let key = match column.target {
                Target::Email => Key::Email,
                Target::ExternalId => Key::ExternalId,
                Target::Id => Key::Id,
                _ => continue,
            };
            // Two columns of one identifier: the user keeps the last, and both prints are its.
            let quick =
                !std::mem::replace(&mut seen[key as usize], true) && column.transform.keeps_text();
            let text = match row.cell(column.index) {
                CellRef::Empty => continue,
                CellRef::Text(text) if quick => text,
                _ => {
                    prints.truncate(start);
                    return false;
                }
            };
            if crate::sheet::blank_text(text) {
                continue;
            }
            let text = if column.transform.trim.unwrap_or(true) {
                crate::mapping::trim_str(text)
            } else {
                text
            };
            if text.is_empty() {
                continue;
            }
            // The print ignores ASCII case; other case is lowered by the transform first.
            let lowers = column.transform.lowercase.unwrap_or(key == Key::Email);
            if lowers && !text.is_ascii() {
                prints.truncate(start);
                return false;
            }
            let print = match key {
                Key::Id => match whole_number(text, "") {
                    Ok(id) => fingerprint(&id.to_string()),
                    Err(_) => continue,
                },
                Key::Email | Key::ExternalId => fingerprint(text),
            };
            prints.push(keyed(key, print));
        }
        true
    }

    /// The columns this checker reads (their index in the table).
    pub fn columns_read(&self) -> Vec<usize> {
        self.columns.iter().map(|c| c.index).collect()
    }

    /// Remembers only these identifiers across rows (ascending [`Prepared::prints`], each
    /// met on more than one row): the others are on one row and cannot be duplicates. The
    /// duplicates found are the same, and memory no longer grows with the rows.
    #[must_use]
    pub fn with_repeats(mut self, repeats: Vec<u64>) -> Checker {
        self.repeats = Some(repeats);
        self
    }

    /// Converts custom field values for the account's definitions (labels to option values,
    /// dates, numbers, checkboxes, patterns); a value its field cannot take is a row error.
    #[must_use]
    pub fn with_fields(mut self, fields: Arc<Fields>) -> Checker {
        self.fields = Some(fields);
        self
    }

    /// What an empty custom field cell sends: nothing (keep, the default) or null (clear).
    #[must_use]
    pub fn with_blank(mut self, blank: Blank) -> Checker {
        self.blank = blank;
        self
    }

    /// Checks one data row and builds its user; the row's text moves into the user.
    pub fn check(&mut self, row: Row) -> Checked {
        let prepared = self.prepare(row);
        self.finish(prepared)
    }

    /// The part of [`Checker::check`] that needs no other row: cells cleaned, the user built,
    /// the row's own problems found, its identifiers fingerprinted.
    pub fn prepare(&self, row: Row) -> Prepared {
        let Row { number, mut cells } = row;
        let cell_of = |index: usize| {
            let cell = cells.get_mut(index).map(std::mem::take);
            Source::Owned(cell.unwrap_or_default())
        };
        self.prepare_cells(number, cell_of, true)
    }

    /// [`Checker::prepare`] of a row borrowed from a table: a cell's text is copied only where
    /// the user keeps it. With `keep` false (a caller that wants the issues and not the
    /// requests, see [`Prepared::slim`]) the fields that are only stored (name, notes, time
    /// zone, …) are set empty rather than copied; the issues, the identifiers and their
    /// prints are the same either way.
    pub fn prepare_ref<'a>(&self, row: impl TableRow<'a>, keep: bool) -> Prepared {
        self.prepare_cells(
            row.number(),
            |index| Source::Borrowed(row.cell(index)),
            keep,
        )
    }

    fn prepare_cells<'a>(
        &self,
        number: u32,
        mut cell_of: impl FnMut(usize) -> Source<'a>,
        keep: bool,
    ) -> Prepared {
        let mut user = User::default();
        let mut issues = Vec::new();
        let mut keys = Keys::new();
        for (position, column) in self.columns.iter().enumerate() {
            let cell = match cell_of(column.index) {
                Source::Borrowed(CellRef::Text(text)) if quick(column) => {
                    let Some(text) = cleaned(column, text) else {
                        continue;
                    };
                    match assign_text(&mut user, &column.target, text, keep) {
                        Ok(Some(key)) => keys.push((key, position, 0)),
                        Ok(None) => {}
                        Err(rejected) => issues.push(refused(number, column, rejected, &mut user)),
                    }
                    continue;
                }
                // Counting only: a list whose text cannot fail is not even split.
                Source::Borrowed(CellRef::Text(_)) if !keep && unjudged(column) => continue,
                Source::Borrowed(cell) => cell.to_cell(),
                Source::Owned(cell) => cell,
            };
            if let Some(warning) = precision_warning(&column.target, &cell) {
                let value = Some(cell.display());
                issues.push(issue(number, column, value, Severity::Warning, warning));
            }
            let value = match column.transform.apply_owned(&column.target, cell) {
                Ok(Some(value)) => value,
                Ok(None) => {
                    if let (Blank::Clear, Target::UserField(key)) = (self.blank, &column.target) {
                        user.user_fields.0.push((key.clone(), FieldValue::Null));
                    }
                    continue;
                }
                Err((message, cell)) => {
                    let value = Some(cell.display()).filter(|v| !v.is_empty());
                    issues.push(issue(number, column, value, Severity::Error, message));
                    continue;
                }
            };
            let value = match column.target {
                Target::Phone | Target::IdentityPhone => {
                    self.phones(number, column, value, &mut issues)
                }
                _ => value,
            };
            match assign(
                &mut user,
                &column.target,
                value,
                (self.fields.as_deref(), keep),
            ) {
                // Fingerprinted once the user is whole.
                Ok(Some(key)) => keys.push((key, position, 0)),
                Ok(None) => {}
                Err(rejected) => issues.push(refused(number, column, rejected, &mut user)),
            }
        }
        user.settle_memberships();
        self.require(number, &mut user, &mut issues);
        for (key, _, print) in &mut keys {
            *print = fingerprint(&key.text(&user));
        }
        Prepared {
            row: number,
            user,
            issues,
            keys,
        }
    }

    /// The rest of [`Checker::check`], for rows in sheet order: the row's identifiers compared
    /// with earlier rows', and whether its user is sent.
    pub fn finish(&mut self, prepared: Prepared) -> Checked {
        let Prepared {
            row: number,
            user,
            mut issues,
            keys,
        } = prepared;
        let has_error = issues.iter().any(|i| i.severity == Severity::Error);
        if !has_error {
            duplicates(
                &self.columns,
                (&mut self.seen, self.repeats.as_deref()),
                number,
                &user,
                &keys,
                &mut issues,
            );
        }
        let mut errors = issues
            .iter()
            .filter(|i| i.row == number && i.severity == Severity::Error)
            .peekable();
        let sent = errors.peek().is_none()
            || (self.options.invalid == InvalidPolicy::Include && errors.all(|i| i.includable));
        Checked {
            row: number,
            user: sent.then_some(user),
            issues,
        }
    }

    /// Phone numbers in E.164; one that cannot be is sent as is, with a warning.
    fn phones(&self, row: u32, column: &Column, value: Value, issues: &mut Vec<Issue>) -> Value {
        let mut one = |text: String| {
            // No digits at all is a row error, reported when the value is assigned.
            if !text.chars().any(|c| c.is_ascii_digit()) {
                return text;
            }
            match e164(&text, self.options.phone_region) {
                Ok(number) => number,
                Err(why) => {
                    let message = format!("'{text}' {why}; sent as is");
                    issues.push(issue(
                        row,
                        column,
                        Some(text.clone()),
                        Severity::Warning,
                        message,
                    ));
                    text
                }
            }
        };
        match value {
            Value::Text(text) => Value::Text(one(text)),
            Value::List(items) => Value::List(items.into_iter().map(one).collect()),
            other => other,
        }
    }

    /// What the mode needs in every row.
    fn require(&self, row: u32, user: &mut User, issues: &mut Vec<Issue>) {
        let has_error = issues.iter().any(|i| i.severity == Severity::Error);
        let name_column = self.column_of(&Target::Name);
        // `includable`: Zendesk refuses such a row itself (see `Issue::includable`).
        let mut report = |column: Option<&Column>, severity, message: &str, includable| {
            issues.push(Issue {
                row,
                column: column.map(|c| c.header.clone()),
                cell: column.map(|c| format!("{}{row}", c.letter)),
                value: None,
                severity,
                message: message.to_owned(),
                includable,
            });
        };
        match self.options.mode {
            Mode::Create if user.name.is_none() && !has_error => report(
                name_column,
                Severity::Error,
                "name is empty: Zendesk needs a name to create a user",
                true,
            ),
            // Never included: Zendesk would create a user with no identifier, every time.
            Mode::Upsert if user.email.is_none() && user.external_id.is_none() && !has_error => {
                report(
                    None,
                    Severity::Error,
                    "no email and no external_id: Zendesk cannot match this user",
                    false,
                );
            }
            Mode::Upsert if user.name.is_none() && name_column.is_some() => report(
                name_column,
                Severity::Warning,
                "name is empty: Zendesk rejects the row if the user is new",
                false,
            ),
            Mode::Update if user.id.is_none() && user.external_id.is_none() && !has_error => {
                report(
                    None,
                    Severity::Error,
                    "no id and no external_id: Zendesk cannot find this user",
                    true,
                );
            }
            _ => {}
        }
        if self.options.skip_verify_email && self.options.mode != Mode::Update {
            user.skip_verify_email = Some(true);
        }
    }

    fn column_of(&self, target: &Target) -> Option<&Column> {
        self.columns.iter().find(|c| &c.target == target)
    }
}

/// Flags an email, external_id or id seen on an earlier row, on both rows.
/// With `repeats`, only the identifiers in it are remembered (see [`Checker::with_repeats`]).
fn duplicates(
    columns: &[Column],
    (seen, repeats): (&mut Seen, Option<&[u64]>),
    row: u32,
    user: &User,
    keys: &[(Key, usize, Fingerprint)],
    issues: &mut Vec<Issue>,
) {
    // One probe per identifier: claim it at once, and give the claims back if the row turns
    // out to be a duplicate (rare), so that a skipped row never claims an identifier.
    let mut firsts = Vec::new();
    for &(key, position, print) in keys {
        if repeats.is_some_and(|r| r.binary_search(&keyed(key, print)).is_err()) {
            continue;
        }
        if let Some(first) = seen[key as usize].claim(print, row) {
            let text = key.text(user);
            let column = &columns[position];
            let message = format!(
                "{} {text} is also on row {first}, which is sent; this row is skipped",
                key.name()
            );
            let value = Some(text.to_string());
            issues.push(issue(row, column, value, Severity::Error, message));
            firsts.push((first, key, column, text));
        }
    }
    if firsts.is_empty() {
        return;
    }
    for &(key, _, print) in keys {
        seen[key as usize].release(print, row);
    }
    for (first, key, column, text) in firsts {
        issues.push(Issue {
            row: first,
            column: Some(column.header.clone()),
            cell: Some(format!("{}{first}", column.letter)),
            value: Some(text.into_owned()),
            severity: Severity::Warning,
            message: format!("{} is also on row {row}, which is skipped", key.name()),
            includable: false,
        });
    }
}

/// A cell as a row hands it to [`Checker::prepare_cells`].
enum Source<'a> {
    Owned(Cell),
    Borrowed(CellRef<'a>),
}

/// Whether a text cell of this column is cleaned and assigned from the borrowed text
/// ([`cleaned`], [`assign_text`]): a target that takes one piece of text (not a phone, which
/// is converted) and a transform that keeps the text as typed. Anything else goes through
/// [`Transform::apply_owned`], which these two steps do as it would.
fn quick(column: &Column) -> bool {
    matches!(
        column.target,
        Target::Name
            | Target::TimeZone
            | Target::Locale
            | Target::Details
            | Target::Notes
            | Target::Alias
            | Target::Organization
            | Target::Role
            | Target::Email
            | Target::ExternalId
            | Target::Id
            | Target::CustomRoleId
            | Target::OrganizationId
            | Target::LocaleId
    ) && column.transform.keeps_text()
}

/// Whether this column's text cells can neither fail nor change what else the row is judged
/// by: tags and organization memberships (no date to read). A caller that does not keep the
/// user ([`Checker::prepare_ref`]) leaves them out.
fn unjudged(column: &Column) -> bool {
    matches!(column.target, Target::Tags | Target::Organizations) && column.transform.date.is_none()
}

/// A text cell of a [`quick`] column cleaned as [`Transform::apply_owned`] cleans it: `None`
/// when nothing is left; copied only when lowercasing changes it.
fn cleaned<'a>(column: &Column, text: &'a str) -> Option<Cow<'a, str>> {
    let transform = &column.transform;
    let text = if transform.trim.unwrap_or(true) {
        crate::mapping::trim_str(text)
    } else {
        text
    };
    // A blank cell (only whitespace) is empty even when it is not trimmed.
    if crate::sheet::blank_text(text) {
        return None;
    }
    let lower = transform
        .lowercase
        .unwrap_or(column.target == Target::Email);
    Some(if !lower {
        Cow::Borrowed(text)
    } else if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        }
    } else if text.chars().any(char::is_uppercase) {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    })
}

/// The issue of a value its field refused. A refused email is kept as typed: under include
/// Zendesk decides, and nothing wrong can reach the account.
fn refused(number: u32, column: &Column, (message, value): Rejected, user: &mut User) -> Issue {
    let includable = column.target == Target::Email;
    if includable {
        user.email = Some(value.clone());
    }
    let mut problem = issue(number, column, Some(value), Severity::Error, message);
    problem.includable = includable;
    problem
}

pub(super) fn issue(
    row: u32,
    column: &Column,
    value: Option<String>,
    severity: Severity,
    message: String,
) -> Issue {
    Issue {
        row,
        column: Some(column.header.clone()),
        cell: Some(format!("{}{row}", column.letter)),
        value,
        severity,
        message,
        includable: false,
    }
}

/// Excel keeps 15 significant digits: a longer id typed as a number has lost its last digits.
pub(super) fn precision_warning(target: &Target, cell: &Cell) -> Option<String> {
    match cell {
        Cell::Float(f) if target.is_identifier() && f.abs() >= 1e15 => Some(
            "a number of 16 or more digits: Excel keeps only 15, so this id may be wrong; \
             store the column as text"
                .to_owned(),
        ),
        _ => None,
    }
}

/// An identifier's 64-bit fingerprint.
pub(super) type Fingerprint = u64;

/// A row's identifiers: which, the position of its column, and its fingerprint (three fit
/// without a heap allocation: one of each kind).
pub(super) type Keys = smallvec::SmallVec<[(Key, usize, Fingerprint); 3]>;

/// First row of each identifier, per [`Key`].
type Seen = [Firsts; 3];

/// An identifier's fingerprint made distinct per kind ([`Prepared::prints`]). Two
/// identifiers of different kinds that meet here only cost a place in the repeats: the
/// duplicate check itself compares kinds apart.
pub(super) fn keyed(key: Key, print: Fingerprint) -> u64 {
    const SALTS: [u64; 3] = [0, 0x9e37_79b9_7f4a_7c15, 0xc2b2_ae3d_27d4_eb4f];
    print ^ SALTS[key as usize]
}

/// The fingerprint of an identifier, ASCII case ignored.
pub(super) fn fingerprint(text: &str) -> Fingerprint {
    const PRINTS: foldhash::quality::FixedState = foldhash::quality::FixedState::with_seed(0x7a64);
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        PRINTS.hash_one(text.to_ascii_lowercase().as_str())
    } else {
        PRINTS.hash_one(text)
    }
}

/// Puts a cleaned value into the user; returns the identifier it carries, if any.
/// A value Zendesk would refuse: why, and the value.
type Rejected = (String, String);

fn assign(
    user: &mut User,
    target: &Target,
    value: Value,
    (fields, keep): (Option<&Fields>, bool),
) -> Result<Option<Key>, Rejected> {
    match target {
        Target::Tags => {
            let items = match value {
                Value::List(items) => items,
                other => vec![other.into_text()],
            };
            // The first tag cell's list is the user's as it is (the usual case: one tag column).
            if user.tags.is_none()
                && items
                    .iter()
                    .enumerate()
                    .all(|(n, t)| !items[..n].contains(t))
            {
                user.tags = Some(items);
                return Ok(None);
            }
            let tags = user.tags.get_or_insert_with(Vec::new);
            for tag in items {
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
        }
        Target::Organizations => user.join(match value {
            Value::List(items) => items,
            other => vec![other.into_text()],
        }),
        Target::Verified => match yes_no(&value) {
            Ok(yes) => user.verified = Some(yes),
            Err(message) => return Err((message, value.into_text())),
        },
        Target::IdentityEmail => identities(user, IdentityKind::Email, value, email)?,
        Target::IdentityPhone => identities(user, IdentityKind::PhoneNumber, value, phone)?,
        Target::UserField(key) => {
            let field = match fields {
                Some(fields) => {
                    let text = value.as_text();
                    fields
                        .convert(key, value)
                        .map_err(|e| (e.to_string(), text))?
                }
                None => plain(value),
            };
            user.user_fields.0.push((key.clone(), field));
        }
        _ => return assign_text(user, target, Cow::Owned(value.into_text()), keep),
    }
    Ok(None)
}

/// The targets that take one piece of text. With `keep` false the fields that are only
/// stored are set empty (see [`Checker::prepare_ref`]).
fn assign_text(
    user: &mut User,
    target: &Target,
    text: Cow<'_, str>,
    keep: bool,
) -> Result<Option<Key>, Rejected> {
    let slot = match target {
        Target::Id => {
            let id = whole_number(&text, "a Zendesk user id");
            user.id = Some(id.map_err(|m| (m, text.into_owned()))?);
            return Ok(Some(Key::Id));
        }
        Target::Email => {
            user.email = Some(email(text.into_owned())?);
            return Ok(Some(Key::Email));
        }
        Target::ExternalId => {
            user.external_id = Some(text.into_owned());
            return Ok(Some(Key::ExternalId));
        }
        Target::Role => {
            let Some(role) = Role::parse(&text) else {
                let message = format!("'{text}' is not a role (end-user, agent or admin)");
                return Err((message, text.into_owned()));
            };
            user.role = Some(role);
            return Ok(None);
        }
        Target::CustomRoleId => {
            let id = whole_number(&text, "a custom role id").map_err(|m| (m, text.into_owned()))?;
            user.custom_role_id = Some(id);
            return Ok(None);
        }
        Target::OrganizationId => {
            let id = whole_number(&text, "an organization id");
            user.organization_id = Some(id.map_err(|m| (m, text.into_owned()))?);
            return Ok(None);
        }
        Target::LocaleId => {
            let id = match whole_number(&text, "a locale id") {
                Ok(id) => id,
                Err(m) if text.chars().any(char::is_alphabetic) => {
                    let hint = "; a language code such as en-US goes to locale";
                    return Err((format!("{m}{hint}"), text.into_owned()));
                }
                Err(m) => return Err((m, text.into_owned())),
            };
            user.locale_id = Some(id);
            return Ok(None);
        }
        Target::Organization => {
            let name = if keep {
                text.into_owned()
            } else {
                String::new()
            };
            user.organization = Some(OrganizationRef { name });
            return Ok(None);
        }
        Target::Phone => {
            user.phone = Some(phone(text.into_owned())?);
            return Ok(None);
        }
        Target::Name => &mut user.name,
        Target::TimeZone => &mut user.time_zone,
        Target::Locale => &mut user.locale,
        Target::Details => &mut user.details,
        Target::Notes => &mut user.notes,
        Target::Alias => &mut user.alias,
        Target::Tags
        | Target::Organizations
        | Target::Verified
        | Target::IdentityEmail
        | Target::IdentityPhone
        | Target::UserField(_) => return Ok(None),
        // Organizations' own: the mapping reports them on a users sheet, and the checker
        // leaves their columns out.
        Target::DomainNames
        | Target::GroupId
        | Target::SharedTickets
        | Target::SharedComments
        | Target::OrganizationField(_) => return Ok(None),
    };
    *slot = Some(if keep {
        text.into_owned()
    } else {
        String::new()
    });
    Ok(None)
}

fn identities(
    user: &mut User,
    kind: IdentityKind,
    value: Value,
    check: impl Fn(String) -> Result<String, Rejected>,
) -> Result<(), Rejected> {
    let items = match value {
        Value::List(items) => items,
        other => vec![other.as_text()],
    };
    for item in items {
        let value = check(item)?;
        if !user.identities.iter().any(|i| i.value == value) {
            user.identities.push(Identity { kind, value });
        }
    }
    Ok(())
}

pub(super) fn whole_number(text: &str, what: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{text}' is not {what} (a whole number)"))
}

pub(super) fn yes_no(value: &Value) -> Result<bool, String> {
    if let Value::Bool(b) = value {
        return Ok(*b);
    }
    let text = value.as_text();
    match text.to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "x" | "verified" => Ok(true),
        "no" | "n" | "false" | "0" | "" => Ok(false),
        _ => Err(format!("'{text}' is not yes or no")),
    }
}

fn phone(text: String) -> Result<String, Rejected> {
    if text.chars().any(|c| c.is_ascii_digit()) {
        Ok(text)
    } else {
        Err((format!("'{text}' is not a phone number (no digits)"), text))
    }
}

/// An ASCII address [`email`] takes, found in one pass over its bytes (most are); false for
/// any other text, which [`email`] then judges the long way.
fn plain_address(bytes: &[u8]) -> bool {
    if bytes.len() > 254 {
        return false;
    }
    let Some(at) = bytes.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    let (Some(&first), Some(&last)) = (local.first(), local.last()) else {
        return false;
    };
    if local.len() > 64 || first == b'.' || last == b'.' {
        return false;
    }
    let mut previous = 0;
    for &b in local {
        let refused = matches!(
            b,
            0..=0x1f | 0x7f.. | b' ' | b',' | b';' | b'<' | b'>' | b'(' | b')' | b'[' | b']'
        ) || matches!(b, b'"' | b'\\')
            || (b == b'.' && previous == b'.');
        if refused {
            return false;
        }
        previous = b;
    }
    let mut labels = 0;
    for label in domain.split(|&b| b == b'.') {
        let (Some(&first), Some(&last)) = (label.first(), label.last()) else {
            return false;
        };
        if first == b'-'
            || last == b'-'
            || !label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

/// Checks an address the way Zendesk's form does: one `@`, a dotted domain, no spaces.
fn email(text: String) -> Result<String, Rejected> {
    if plain_address(text.as_bytes()) {
        Ok(text)
    } else {
        any_address(text)
    }
}

/// [`email`] of any text, with the reason it is refused.
fn any_address(text: String) -> Result<String, Rejected> {
    let ats = text.matches('@').count();
    if ats > 1 && text.contains([',', ';', ' ']) {
        let message = format!(
            "'{text}' holds {ats} addresses: keep one, and map the others to identity:email"
        );
        return Err((message, text));
    }
    let valid = text.split_once('@').is_some_and(|(local, domain)| {
        let labels_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && !local.contains(['@', ' ', ',', ';', '<', '>', '(', ')', '[', ']', '"', '\\'])
            && !local.chars().any(char::is_control)
            && labels_ok
            && text.len() <= 254
    });
    if valid {
        Ok(text)
    } else {
        Err((format!("'{text}' is not a valid email address"), text))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use rstest::rstest;

    use super::*;
    use crate::mapping::auto_match;

    fn checker(headers: &[&str], mode: Mode) -> Checker {
        let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
        let options = Options {
            mode,
            ..Options::default()
        };
        Checker::new(&auto_match(&headers), 0, options)
    }

    #[test]
    fn include_sends_a_bad_email_as_typed_but_never_an_error_cell() {
        let headers = ["Name", "Email", "Plan"].map(str::to_owned);
        let mapping = auto_match(&headers);
        let options = Options {
            mode: Mode::Upsert,
            invalid: InvalidPolicy::Include,
            ..Options::default()
        };
        let mut c = Checker::new(&mapping, 0, options);
        let bad_email = c.check(Row {
            number: 2,
            cells: vec![Cell::Text("Ana".into()), Cell::Text("ana(at)x.com".into())],
        });
        assert_eq!(bad_email.status(), RowStatus::Error);
        assert!(bad_email.issues[0].includable);
        let user = bad_email.user.expect("sent: Zendesk decides");
        assert_eq!(user.email.as_deref(), Some("ana(at)x.com"));
        let error_cell = c.check(Row {
            number: 3,
            cells: vec![Cell::Text("Bo".into()), Cell::Error("#N/A".into())],
        });
        assert!(!error_cell.issues[0].includable);
        assert_eq!(
            error_cell.user, None,
            "never sent: it would send wrong data"
        );
        let skip = Options {
            invalid: InvalidPolicy::Skip,
            ..options
        };
        let mut c = Checker::new(&mapping, 0, skip);
        let skipped = c.check(Row {
            number: 2,
            cells: vec![Cell::Text("Ana".into()), Cell::Text("ana(at)x.com".into())],
        });
        assert_eq!(skipped.user, None);
    }

    /// A mapping of these headers to these targets, each column cleaned the default way.
    pub(in crate::payload) fn mapped(columns: &[(&str, Target)]) -> Mapping {
        let headers: Vec<String> = columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        let mut mapping = auto_match(&headers);
        for (column, (_, target)) in mapping.columns.iter_mut().zip(columns) {
            column.target = Some(target.clone());
        }
        mapping
    }

    fn row(number: u32, cells: &[&str]) -> Row {
        let cells = cells
            .iter()
            .map(|c| {
                if c.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text((*c).to_owned())
                }
            })
            .collect();
        Row { number, cells }
    }

    /// A row borrowed from a table is prepared as its owned copy is: the same user, issues
    /// and prints; and without keeping the stored fields, the same issues and identifiers.
    #[test]
    fn a_borrowed_row_is_prepared_as_its_owned_copy() {
        let columns = [
            ("Name", Target::Name),
            ("Email", Target::Email),
            ("External ID", Target::ExternalId),
            ("Zendesk Id", Target::Id),
            ("Role", Target::Role),
            ("Time Zone", Target::TimeZone),
            ("Organization", Target::Organization),
            ("Notes", Target::Notes),
            ("Locale Id", Target::LocaleId),
            ("Phone", Target::Phone),
            ("Tags", Target::Tags),
        ];
        let text = |t: &str| Cell::Text(t.to_owned());
        let rows: Vec<Vec<Cell>> = vec![
            [
                "Ann",
                "ann@example.com",
                "C1",
                "12",
                "agent",
                "Lisbon",
                "Acme",
                "n",
                "8",
            ]
            .map(text)
            .to_vec(),
            [
                " Bob\u{a0}",
                "  BOB@Example.COM ",
                " c1 ",
                "0012",
                "End User",
                "\u{feff}",
                "ACME",
                "   ",
                "en-US",
            ]
            .map(text)
            .to_vec(),
            [
                "",
                "not an address",
                "",
                "abc",
                "captain",
                "",
                "",
                "Ünï",
                "0",
            ]
            .map(text)
            .to_vec(),
            [
                "Zoë",
                "ÉLODIE@Example.com",
                "Ü-1",
                "",
                "ADMIN",
                "x",
                "Globex",
                "",
                "",
            ]
            .map(text)
            .to_vec(),
            vec![
                Cell::Int(7),
                Cell::Float(1e16),
                Cell::Bool(true),
                Cell::Float(12.0),
                Cell::Error("#N/A".into()),
                Cell::Empty,
                text("a,b"),
                text("\t"),
                Cell::Int(1),
                text("+351 912 345 678"),
                text("vip, VIP newsletter"),
            ],
            vec![Cell::Empty; 11],
            [
                "Di",
                "a@b.co, c@d.co",
                "e",
                "1",
                "",
                "",
                "",
                "",
                "",
                "12345",
                "x",
            ]
            .map(text)
            .to_vec(),
        ];
        let mapping = mapped(&columns);
        let layout = crate::sheet::TableLayout {
            sheet: "Users".into(),
            header_row: 1,
            first_column: 0,
            headers: mapping.columns.iter().map(|c| c.header.clone()).collect(),
        };
        let rows = (2..)
            .zip(rows)
            .map(|(number, cells)| Row { number, cells })
            .collect();
        let table = crate::sheet::Table::from_rows(layout, rows, 0);
        let mut changed = mapping.clone();
        // Untrimmed names, emails as typed, a lowercased time zone, a value map on roles.
        changed.columns[0].transform.trim = Some(false);
        changed.columns[1].transform.lowercase = Some(false);
        changed.columns[5].transform.lowercase = Some(true);
        changed.columns[4].transform.value_map = [("Captain".into(), "agent".into())].into();
        let mut quick_cells = 0;
        for mapping in [mapping, changed] {
            for mode in [Mode::Create, Mode::Upsert, Mode::Update] {
                let options = Options {
                    mode,
                    ..Options::default()
                };
                let checker = Checker::new(&mapping, 0, options);
                quick_cells += checker.columns.iter().filter(|c| quick(c)).count();
                for r in table.rows() {
                    let owned = checker.prepare(r.to_row());
                    let borrowed = checker.prepare_ref(r, true);
                    assert_eq!(format!("{borrowed:?}"), format!("{owned:?}"), "{mode:?}");
                    let mut lean = checker.prepare_ref(r, false);
                    assert_eq!(lean.issues, owned.issues);
                    assert_eq!(lean.keys, owned.keys);
                    assert_eq!(lean.user.name.is_some(), owned.user.name.is_some());
                    let mut owned = owned;
                    owned.slim();
                    lean.slim();
                    assert_eq!(format!("{lean:?}"), format!("{owned:?}"), "{mode:?}");
                }
            }
        }
        // Both ways were taken: nine quick columns (the id only in update), one fewer with a
        // value map on roles, and the phones and tags the other way.
        assert_eq!(quick_cells, (8 + 8 + 9) + (7 + 7 + 8));
    }

    /// The one-pass check of an ASCII address agrees with the long one on every string of up
    /// to six of the characters that matter, and at the length limits.
    #[test]
    fn a_plain_address_is_what_the_long_check_takes() {
        let long = |text: &str| any_address(text.to_owned()).is_ok();
        let alphabet = ['a', '@', '.', '-', ' ', ',', '\u{1}', '\\'];
        let mut text = String::new();
        let mut checked = 0;
        let mut taken = 0;
        // Every string over the alphabet up to six long.
        fn each(text: &mut String, left: usize, alphabet: &[char], f: &mut dyn FnMut(&str)) {
            f(text);
            if left == 0 {
                return;
            }
            for &c in alphabet {
                text.push(c);
                each(text, left - 1, alphabet, f);
                text.pop();
            }
        }
        each(&mut text, 6, &alphabet, &mut |t| {
            checked += 1;
            let plain = plain_address(t.as_bytes());
            assert_eq!(plain, long(t), "{t:?}");
            taken += usize::from(plain);
            assert_eq!(email(t.to_owned()).is_ok(), long(t), "{t:?}");
        });
        assert!(checked > 290_000 && taken >= 10, "{checked} {taken}");
        for t in [
            "user0@example.com",
            "a.b-c_d+e!#$%&'*/=?^`{|}~@sub.example-x.co",
            "x@1.2",
        ] {
            assert!(plain_address(t.as_bytes()) && long(t), "{t}");
        }
        for (local, domain) in [(64, 100), (65, 10), (60, 194), (60, 193)] {
            let t = format!("{}@{}.com", "a".repeat(local), "b".repeat(domain));
            assert_eq!(plain_address(t.as_bytes()), long(&t), "{local} {domain}");
        }
        for t in [
            "ÉLODIE@x.com",
            "a@b.co\u{7f}",
            "a\u{7f}@b.co",
            "a@b.co@c.co",
        ] {
            assert!(!plain_address(t.as_bytes()), "{t}");
        }
    }

    /// Every print `prepare` gives for the identifier columns, `quick_prints` gives too (an
    /// address `prepare` refuses may add one), or it declines and adds nothing.
    #[test]
    fn quick_prints_give_every_print_prepare_gives_or_decline() {
        let headers = ["Name", "Email", "External ID", "Id"];
        let cells: &[&[&str]] = &[
            &["Ann", "ann@example.com", "C1", "12"],
            &["Bob", "  BOB@Example.COM \u{a0}", "c1", "0012"],
            &["Cy", "\u{feff}cy@example.com", " X-9 ", ""],
            &["Di", "not an address", "", "abc"],
            &["Ed", "", "", "0"],
            &["Fé", "ÉLODIE@example.com", "Ünïcode", "7"],
            &["Gus", "   ", "\t", "  "],
        ];
        let layout = crate::sheet::TableLayout {
            sheet: "Users".into(),
            header_row: 1,
            first_column: 0,
            headers: headers.map(str::to_owned).to_vec(),
        };
        let rows = (2..).zip(cells).map(|(n, c)| row(n, c)).collect();
        let table = crate::sheet::Table::from_rows(layout, rows, 0);
        let mut mapped = auto_match(&headers.map(str::to_owned));
        for (mode, mapped) in [
            (Mode::Upsert, mapped.clone()),
            (Mode::Update, mapped.clone()),
            (Mode::Update, {
                // A value map on the email column: its cells are not as typed.
                mapped.columns[1].transform.value_map = [("x".to_owned(), "y".to_owned())].into();
                mapped
            }),
        ] {
            let options = Options {
                mode,
                ..Options::default()
            };
            let checker = Checker::new(&mapped, 0, options).identifiers_only();
            let mut quick_rows = 0;
            for r in table.rows() {
                let slow: Vec<u64> = checker.prepare(r.to_row()).prints().collect();
                let mut quick = vec![1, 2];
                if checker.quick_prints(r, &mut quick) {
                    quick_rows += 1;
                    assert_eq!(quick[..2], [1, 2], "appended");
                    for print in &slow {
                        assert!(
                            quick.contains(print),
                            "row {}: {slow:?} {quick:?}",
                            r.number
                        );
                    }
                } else {
                    assert_eq!(quick, [1, 2], "row {}: nothing added", r.number);
                }
            }
            let mapped_plainly = mapped.columns[1].transform.value_map.is_empty();
            // Only the row with a non-ASCII address (or every row, with the map) declines.
            let want = if mapped_plainly { 6 } else { 1 };
            assert_eq!(quick_rows, want, "{mode:?}");
        }
    }

    fn messages(checked: &Checked) -> Vec<String> {
        checked.issues.iter().map(ToString::to_string).collect()
    }

    #[rstest]
    #[case::ok(&["Ana", "ana@example.com", "end-user"], vec![])]
    #[case::role_spelling(&["Ana", "ana@example.com", "End User"], vec![])]
    #[case::no_name(&["", "ana@example.com", ""], vec!["row 5, Full Name (A5): error: name is empty: Zendesk needs a name to create a user"])]
    #[case::bad_email(&["Ana", "ana@example", ""], vec!["row 5, E-mail (B5): error: 'ana@example' is not a valid email address"])]
    #[case::two_emails(&["Ana", "a@x.com; b@y.com", ""], vec!["row 5, E-mail (B5): error: 'a@x.com; b@y.com' holds 2 addresses: keep one, and map the others to identity:email"])]
    #[case::spaces(&["Ana", "ana silva@x.com", ""], vec!["row 5, E-mail (B5): error: 'ana silva@x.com' is not a valid email address"])]
    #[case::bad_role(&["Ana", "", "superuser"], vec!["row 5, Role (C5): error: 'superuser' is not a role (end-user, agent or admin)"])]
    fn create_mode_rows(#[case] cells: &[&str], #[case] want: Vec<&str>) {
        let mut c = checker(&["Full Name", "E-mail", "Role"], Mode::Create);
        let checked = c.check(row(5, cells));
        assert_eq!(messages(&checked), want);
        assert_eq!(checked.user.is_some(), want.is_empty());
    }

    #[test]
    fn error_cells_name_row_and_column_and_are_not_sent() {
        let mut c = checker(&["Name", "Customer ID"], Mode::Upsert);
        let checked = c.check(Row {
            number: 9,
            cells: vec![Cell::Text("Ana".into()), Cell::Error("#N/A".into())],
        });
        assert_eq!(
            messages(&checked),
            vec!["row 9, Customer ID (B9): error: the cell holds the spreadsheet error #N/A"]
        );
        assert_eq!(checked.status(), RowStatus::Error);
        assert!(checked.user.is_none());
    }

    #[rstest]
    #[case(Mode::Upsert, &["Ana", "", ""], "no email and no external_id: Zendesk cannot match this user")]
    #[case(Mode::Update, &["Ana", "ana@example.com", ""], "no id and no external_id: Zendesk cannot find this user")]
    fn identifier_needed_for_mode(#[case] mode: Mode, #[case] cells: &[&str], #[case] want: &str) {
        let mut c = checker(&["Name", "Email", "External ID"], mode);
        let checked = c.check(row(3, cells));
        assert_eq!(checked.status(), RowStatus::Error);
        assert_eq!(checked.issues[0].message, want);
    }

    #[test]
    fn upsert_without_a_name_is_a_warning_and_still_sent() {
        let mut c = checker(&["Name", "Email"], Mode::Upsert);
        let checked = c.check(row(3, &["", "ana@example.com"]));
        assert_eq!(checked.status(), RowStatus::Warning);
        assert_eq!(
            checked.user.unwrap().email.as_deref(),
            Some("ana@example.com")
        );
    }

    #[test]
    fn duplicates_name_both_rows_and_only_the_first_is_sent() {
        let mut c = checker(&["Name", "Email", "External ID"], Mode::Upsert);
        assert_eq!(
            c.check(row(2, &["Ana", "ana@x.com", "7"])).status(),
            RowStatus::Ready
        );
        assert_eq!(
            c.check(row(3, &["Bo", "bo@x.com", "8"])).status(),
            RowStatus::Ready
        );
        let dup = c.check(row(4, &["Ana S", "ANA@x.com", "8"]));
        assert_eq!(
            messages(&dup),
            vec![
                "row 4, Email (B4): error: email ana@x.com is also on row 2, which is sent; this row is skipped",
                "row 4, External ID (C4): error: external_id 8 is also on row 3, which is sent; this row is skipped",
                "row 2, Email (B2): warning: email is also on row 4, which is skipped",
                "row 3, External ID (C3): warning: external_id is also on row 4, which is skipped",
            ]
        );
        assert_eq!(dup.status(), RowStatus::Error);
        assert!(dup.user.is_none());
        // A skipped row's identifiers are not remembered: a third copy names the first row.
        let again = c.check(row(5, &["Ana", "ana@x.com", ""]));
        assert!(again.issues[0].message.contains("also on row 2"));
    }

    #[test]
    fn rows_with_errors_do_not_claim_their_identifiers() {
        let mut c = checker(&["Name", "Email", "Role"], Mode::Create);
        assert_eq!(
            c.check(row(2, &["Ana", "ana@x.com", "boss"])).status(),
            RowStatus::Error
        );
        assert_eq!(
            c.check(row(3, &["Ana", "ana@x.com", "agent"])).status(),
            RowStatus::Ready
        );
    }

    #[test]
    fn builds_every_kind_of_target() {
        let headers = [
            "Name",
            "Email",
            "Secondary Email",
            "Phone",
            "Company",
            "Tags",
            "Segments",
            "Verified",
            "Org ID",
            "Plan",
        ];
        let mut mapping = auto_match(&headers.map(str::to_owned));
        mapping.set(9, Some(Target::UserField("plan".into())));
        let options = Options {
            mode: Mode::Create,
            skip_verify_email: true,
            phone_region: "PT".parse().ok(),
            ..Options::default()
        };
        let mut c = Checker::new(&mapping, 0, options);
        let checked = c.check(Row {
            number: 2,
            cells: vec![
                Cell::Text("Ana".into()),
                Cell::Text("Ana@X.com".into()),
                Cell::Text("ana@home.org".into()),
                Cell::Float(351_912_345_678.0),
                Cell::Text("Acme".into()),
                Cell::Text("vip, beta".into()),
                Cell::Text("beta gold".into()),
                Cell::Text("yes".into()),
                Cell::Int(42),
                Cell::Text("Gold".into()),
            ],
        });
        assert_eq!(messages(&checked), Vec::<String>::new());
        assert_eq!(
            serde_json::to_string(&checked.user.unwrap()).unwrap(),
            r#"{"name":"Ana","email":"ana@x.com","phone":"+351912345678","organization":{"name":"Acme"},"organization_id":42,"tags":["vip","beta","gold"],"verified":true,"identities":[{"type":"email","value":"ana@home.org"}],"user_fields":{"plan":"Gold"},"skip_verify_email":true}"#
        );
    }

    #[rstest]
    #[case(
        Target::OrganizationId,
        "Acme",
        "'Acme' is not an organization id (a whole number)"
    )]
    #[case(Target::Verified, "maybe", "'maybe' is not yes or no")]
    #[case(Target::Phone, "n/a", "'n/a' is not a phone number (no digits)")]
    #[case(Target::Id, "-3", "'-3' is not a Zendesk user id (a whole number)")]
    #[case(Target::LocaleId, "1.5", "'1.5' is not a locale id (a whole number)")]
    #[case(
        Target::LocaleId,
        "en-US",
        "'en-US' is not a locale id (a whole number); a language code such as en-US goes to locale"
    )]
    fn typed_targets_reject_bad_text(
        #[case] target: Target,
        #[case] text: &str,
        #[case] want: &str,
    ) {
        let mut user = User::default();
        assert_eq!(
            assign(&mut user, &target, Value::Text(text.into()), (None, true)),
            Err((want.to_owned(), text.to_owned()))
        );
    }

    #[rstest]
    #[case(Mode::Create, None)]
    #[case(Mode::Upsert, None)]
    #[case(Mode::Update, Some(7))]
    fn an_id_mapped_by_hand_is_sent_in_update_mode_only(
        #[case] mode: Mode,
        #[case] want: Option<u64>,
    ) {
        let headers = ["Name", "Email", "User ID"].map(str::to_owned);
        let mut mapping = auto_match(&headers);
        mapping.set(2, Some(Target::Id));
        let options = Options {
            mode,
            ..Options::default()
        };
        let mut c = Checker::new(&mapping, 0, options);
        let checked = c.check(row(2, &["Ana", "ana@x.com", "7"]));
        let user = checked.user.unwrap();
        assert_eq!(user.id, want);
        let body = serde_json::to_string(&user).unwrap();
        assert_eq!(body.contains(r#""id":"#), want.is_some(), "{body}");
    }

    #[test]
    fn locale_id_is_a_json_number_and_a_bad_one_names_row_and_column() {
        let mut c = checker(&["Name", "Email", "Locale ID"], Mode::Create);
        let checked = c.check(Row {
            number: 4,
            cells: vec![Cell::Text("Ana".into()), Cell::Empty, Cell::Float(1176.0)],
        });
        assert_eq!(
            serde_json::to_string(&checked.user.unwrap()).unwrap(),
            r#"{"name":"Ana","locale_id":1176}"#
        );
        let bad = c.check(row(5, &["Bo", "", "de"]));
        assert_eq!(
            messages(&bad),
            vec![
                "row 5, Locale ID (C5): error: 'de' is not a locale id (a whole number); a \
                 language code such as en-US goes to locale"
            ]
        );
        assert_eq!(bad.issues[0].value.as_deref(), Some("de"));
        assert!(bad.user.is_none());
    }

    #[rstest]
    #[case::with_region(Some("US"), &["(415) 555-2671", "+1 415 555 2672"], vec!["+14155552671"], vec!["+14155552672"], vec![])]
    #[case::without_region(None, &["(415) 555-2671", "+1 415 555 2672"], vec!["(415) 555-2671"], vec!["+14155552672"],
        vec!["row 3, Phone (B3): warning: '(415) 555-2671' cannot be written as E.164: no country code; start it with + or set the phone region the sheet's numbers are in; sent as is"])]
    #[case::invalid(Some("US"), &["555-0100", "12"], vec!["555-0100"], vec!["12"],
        vec![
            "row 3, Phone (B3): warning: '555-0100' cannot be written as E.164: not a valid phone number in region US; sent as is",
            "row 3, Other Phone (C3): warning: '12' cannot be written as E.164: the number is too short after the country code (read in region US); sent as is",
        ])]
    fn phones_become_e164_or_warn_with_row_and_column(
        #[case] region: Option<&str>,
        #[case] cells: &[&str],
        #[case] phone: Vec<&str>,
        #[case] identities: Vec<&str>,
        #[case] want: Vec<&str>,
    ) {
        let headers = ["Name", "Phone", "Other Phone"].map(str::to_owned);
        let mapping = auto_match(&headers);
        assert_eq!(mapping.columns[2].target, Some(Target::IdentityPhone));
        let options = Options {
            mode: Mode::Create,
            phone_region: region.map(|r| r.parse().unwrap()),
            ..Options::default()
        };
        let mut c = Checker::new(&mapping, 0, options);
        let mut cells = cells.to_vec();
        cells.insert(0, "Ana");
        let checked = c.check(row(3, &cells));
        assert_eq!(messages(&checked), want);
        let user = checked.user.unwrap();
        assert_eq!(user.phone.as_deref(), phone.first().copied());
        let got: Vec<&str> = user.identities.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(got, identities);
    }

    #[test]
    fn long_numeric_ids_warn_about_excel_precision() {
        let mut c = checker(&["Name", "External ID"], Mode::Upsert);
        let checked = c.check(Row {
            number: 2,
            cells: vec![
                Cell::Text("Ana".into()),
                Cell::Float(1_234_567_890_123_456_800.0),
            ],
        });
        assert_eq!(checked.status(), RowStatus::Warning);
        assert_eq!(
            checked.user.unwrap().external_id.as_deref(),
            Some("1234567890123456768")
        );
    }
}
