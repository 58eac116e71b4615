//! The organizations a file names, resolved before its users are sent.
//!
//! Zendesk compares organization names ignoring case and surrounding spaces, so `acme corp `
//! is Acme Corp and is sent as its `organization_id`. A name the account lacks follows the
//! operator's [`MissingOrgs`] policy. A name that is not the same but close (`ACME Corp.` beside
//! `Acme Corp`) would make a near-duplicate: it is a warning naming the closest existing names.
//!
//! Looking up costs whichever is cheaper: the first page of the organization list (100 and
//! the account's count) comes first; when the rest of the list takes no more pages than there
//! are names left to search, the whole list is read, else each name is searched and each
//! missing one autocompleted for near-misses.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lookup::{Gate, PlanError, retrying, run_all};
use super::{Action, RowPlan, Spent};
use crate::import::{Outbox, OutboxBatch, OutboxFile, UserKey};
use crate::payload::User;
use crate::zendesk::{Client, Organization};

/// Organizations per page of the list, Zendesk's largest.
const PER_PAGE: u64 = 100;

/// The first page of the list with offset pagination, whose answer counts the whole list.
const COUNTED_FIRST_PAGE: &str = "/api/v2/organizations.json?per_page=100";

/// How close two names must be (0 to 1, normalised edit distance on their letters and
/// digits) for one to be a near-miss of the other.
const NEAR: f64 = 0.8;

/// Closest existing names shown per near-miss.
const CLOSEST: usize = 3;

/// What happens to a user whose organization the account does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingOrgs {
    /// The organization is created before the users that name it (`organizations/create_many`
    /// through the import's journal: `crate::import::orgs`), and they are sent with its id.
    #[default]
    Create,
    /// The user is sent without an organization, with a warning.
    SkipField,
    /// The row is not sent.
    Fail,
}

impl MissingOrgs {
    pub const ALL: [MissingOrgs; 3] = [Self::Create, Self::SkipField, Self::Fail];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::SkipField => "skip-field",
            Self::Fail => "fail",
        }
    }

    /// The next choice, for a key that cycles through them.
    pub fn next(self) -> Self {
        match self {
            Self::Create => Self::SkipField,
            Self::SkipField => Self::Fail,
            Self::Fail => Self::Create,
        }
    }
}

impl fmt::Display for MissingOrgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MissingOrgs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let word = s.trim().to_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == word)
            .ok_or_else(|| format!("unknown choice '{s}' (create, skip-field or fail)"))
    }
}

/// How Zendesk compares organization names: ignoring case and surrounding spaces.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The organizations a plan found and did not find.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// Existing organizations by [`name_key`]: id and name as the account spells it.
    pub found: HashMap<String, (u64, String)>,
    /// Names the account lacks, as the file first spells them (trimmed), sorted.
    pub missing: Vec<String>,
    /// Missing names and the closest existing names, for near-misses.
    pub near: Vec<(String, Vec<String>)>,
    /// Requests of the lookup, and whether the whole list was read.
    pub spent: Spent,
    pub listed: bool,
}

/// Every distinct organization name of the rows, as first spelled (trimmed), in row order.
pub fn distinct_names<T: OrgHolder>(users: &[(u32, T)]) -> Vec<String> {
    let mut distinct = Distinct::default();
    for (_, user) in users {
        for name in user.org_name().into_iter().chain(user.member_names()) {
            distinct.add(name);
        }
    }
    distinct.names
}

/// Organization names as first spelled (trimmed), each once as Zendesk compares them.
#[derive(Debug, Default)]
pub(super) struct Distinct {
    seen: HashSet<String>,
    pub(super) names: Vec<String>,
}

impl Distinct {
    pub(super) fn add(&mut self, name: &str) {
        let name = name.trim();
        if !name.is_empty() && self.seen.insert(name_key(name)) {
            self.names.push(name.to_owned());
        }
    }
}

/// A user whose organization by name is read and replaced: the plan's typed user, or one
/// read back from a request body the headless import built.
pub trait OrgHolder {
    /// The organization named (`organization: {"name"}`), if any.
    fn org_name(&self) -> Option<&str>;
    /// Sent as `organization_id` instead of by name.
    fn send_id(&mut self, id: u64);
    /// Sent without an organization.
    fn drop_org(&mut self);
    /// The organizations it joins besides (see [`super::memberships`]).
    fn member_names(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl OrgHolder for User {
    fn org_name(&self) -> Option<&str> {
        self.organization.as_ref().map(|o| o.name.as_str())
    }

    fn send_id(&mut self, id: u64) {
        self.organization_id = Some(id);
        self.organization = None;
    }

    fn drop_org(&mut self) {
        self.organization = None;
    }

    fn member_names(&self) -> Vec<&str> {
        self.memberships.iter().map(|m| m.name.as_str()).collect()
    }
}

impl OrgHolder for Value {
    fn org_name(&self) -> Option<&str> {
        self.get("organization")?.get("name")?.as_str()
    }

    fn send_id(&mut self, id: u64) {
        if let Some(user) = self.as_object_mut() {
            user.remove("organization");
            user.insert("organization_id".into(), Value::from(id));
        }
    }

    fn drop_org(&mut self) {
        if let Some(user) = self.as_object_mut() {
            user.remove("organization");
        }
    }
}

/// Requests the organization lookup makes: surely the first page of the list when any row
/// names one; at most that, then the rest of the list or a search per name (whichever is
/// fewer), and an autocomplete per name for near-misses.
pub fn cost(names: usize) -> (u64, u64) {
    let names = names as u64;
    (names.min(1), names.min(1) + 2 * names)
}

/// Looks up `names` (see the module's doc for the choice of list or searches).
pub(super) async fn resolve(
    (client, gate): (&Client, &Gate),
    names: &[String],
    n: usize,
) -> Result<Resolved, PlanError> {
    let mut resolved = Resolved::default();
    if names.is_empty() {
        return Ok(resolved);
    }
    let what = "the organization list".to_owned();
    let (first, spent) = retrying(gate, &what, || {
        client.organizations_page(COUNTED_FIRST_PAGE)
    })
    .await?;
    resolved.spent.add(spent);
    let mut known: Vec<Organization> = first.value.items;
    let remaining_pages = first
        .value
        .count
        .map_or(u64::MAX, |c| c.div_ceil(PER_PAGE).saturating_sub(1));
    let unsure = names
        .iter()
        .filter(|n| !known.iter().any(|o| name_key(&o.name) == name_key(n)))
        .count() as u64;
    match first.value.next {
        None => resolved.listed = true,
        Some(next) if remaining_pages <= unsure => {
            read_rest(gate, client, next, &mut known, &mut resolved.spent).await?;
            resolved.listed = true;
        }
        Some(_) => {}
    }
    if !resolved.listed {
        search_each(gate, client, names, n, &mut known, &mut resolved.spent).await?;
    }
    settle(&mut resolved, names, &known);
    if !resolved.listed {
        let extra = near_candidates(gate, client, &resolved.missing, n).await?;
        resolved.spent.add(extra.1);
        known.extend(extra.0);
    }
    resolved.near = near_misses(&resolved.missing, &known);
    Ok(resolved)
}

/// Follows the list from `next` to its end.
async fn read_rest(
    gate: &Gate,
    client: &Client,
    mut next: String,
    known: &mut Vec<Organization>,
    spent: &mut Spent,
) -> Result<(), PlanError> {
    let mut seen = std::collections::HashSet::new();
    while seen.insert(next.clone()) {
        let what = format!("the organization list ({next})");
        let (page, used) = retrying(gate, &what, || client.organizations_page(&next)).await?;
        spent.add(used);
        known.extend(page.value.items);
        match page.value.next {
            Some(path) => next = path,
            None => break,
        }
    }
    Ok(())
}

/// One search per name the first page did not hold.
async fn search_each(
    gate: &Gate,
    client: &Client,
    names: &[String],
    n: usize,
    known: &mut Vec<Organization>,
    spent: &mut Spent,
) -> Result<(), PlanError> {
    let unsure: Vec<String> = names
        .iter()
        .filter(|n| !known.iter().any(|o| name_key(&o.name) == name_key(n)))
        .cloned()
        .collect();
    let answers = run_all(unsure, n, |name| async move {
        let what = format!("organization '{name}'");
        retrying(gate, &what, || client.search_organizations_by_name(&name)).await
    })
    .await?;
    for (answer, used) in answers {
        spent.add(used);
        known.extend(answer.value);
    }
    Ok(())
}

/// Organizations whose name starts like each missing name (its first word, or its first two
/// characters), for near-misses when the whole list was not read.
async fn near_candidates(
    gate: &Gate,
    client: &Client,
    missing: &[String],
    n: usize,
) -> Result<(Vec<Organization>, Spent), PlanError> {
    let mut prefixes: Vec<String> = missing.iter().filter_map(|m| prefix(m)).collect();
    prefixes.sort();
    prefixes.dedup();
    let answers = run_all(prefixes, n, |prefix| async move {
        let what = format!("organizations starting '{prefix}'");
        retrying(gate, &what, || client.autocomplete_organizations(&prefix)).await
    })
    .await?;
    let mut spent = Spent::default();
    let mut found = Vec::new();
    for (answer, used) in answers {
        spent.add(used);
        found.extend(answer.value);
    }
    Ok((found, spent))
}

/// The first word of a name in lower case, without punctuation, if it has 2 characters or
/// more (autocomplete needs 2).
fn prefix(name: &str) -> Option<String> {
    let word: String = name
        .split_whitespace()
        .next()?
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    (word.chars().count() >= 2).then_some(word)
}

/// Which names the organizations `known` hold, and which they lack.
fn settle(resolved: &mut Resolved, names: &[String], known: &[Organization]) {
    let by_key: HashMap<String, &Organization> =
        known.iter().map(|o| (name_key(&o.name), o)).collect();
    for name in names {
        match by_key.get(&name_key(name)) {
            Some(org) => {
                resolved
                    .found
                    .insert(name_key(name), (org.id, org.name.clone()));
            }
            None => resolved.missing.push(name.clone()),
        }
    }
    resolved.missing.sort_by_key(|n| name_key(n));
}

/// Letters and digits only, lower case: `ACME Corp.` and `Acme  Corp` are both `acmecorp`.
fn squashed(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// For each missing name, the existing names close to it, closest first.
///
/// A list of 100,000 organizations against 5,000 missing names must not compare every pair:
/// only names that share their first two or their last two letters and digits are compared
/// (a near-miss that differs at both ends is not found).
fn near_misses(missing: &[String], known: &[Organization]) -> Vec<(String, Vec<String>)> {
    let mut existing: Vec<(&str, String)> = known
        .iter()
        .map(|o| (o.name.as_str(), squashed(&o.name)))
        .collect();
    existing.sort();
    existing.dedup();
    let mut by_end: HashMap<(bool, String), Vec<usize>> = HashMap::new();
    for (i, (_, theirs)) in existing.iter().enumerate() {
        for key in ends(theirs) {
            by_end.entry(key).or_default().push(i);
        }
    }
    missing
        .iter()
        .filter_map(|name| {
            let mine = squashed(name);
            let mut candidates: Vec<usize> = ends(&mine)
                .into_iter()
                .filter_map(|key| by_end.get(&key))
                .flatten()
                .copied()
                .collect();
            candidates.sort_unstable();
            candidates.dedup();
            let mut close: Vec<(f64, &str)> = candidates
                .into_iter()
                .map(|i| {
                    let (shown, theirs) = &existing[i];
                    (strsim::normalized_levenshtein(&mine, theirs), *shown)
                })
                .filter(|(score, _)| *score >= NEAR)
                .collect();
            close.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            let names: Vec<String> = close
                .into_iter()
                .take(CLOSEST)
                .map(|(_, n)| n.to_owned())
                .collect();
            (!names.is_empty()).then(|| (name.clone(), names))
        })
        .collect()
}

/// The first two and the last two characters of a squashed name, as bucket keys.
fn ends(squashed: &str) -> [(bool, String); 2] {
    let chars: Vec<char> = squashed.chars().collect();
    let first: String = chars.iter().take(2).collect();
    let last: String = chars[chars.len().saturating_sub(2)..].iter().collect();
    [(true, first), (false, last)]
}

/// Sends each user's organization as `organization_id` when it exists; a missing one is kept
/// by name for [`MissingOrgs::Create`] (created first, then the id its import got is sent
/// instead) and for `Fail` (the row is not sent:
/// [`fail_missing`]), and dropped for `SkipField`. Returns the warnings: near-misses, and the
/// rows a missing organization changes.
pub(super) fn apply<T: OrgHolder>(
    users: &mut [(u32, T)],
    resolved: &Resolved,
    policy: MissingOrgs,
) -> Vec<String> {
    let mut missing_rows: HashMap<String, Rows> = HashMap::new();
    apply_to(users, resolved, policy, &mut missing_rows);
    warnings(resolved, policy, &missing_rows)
}

/// [`apply`] to some of the rows, the rows each missing name changes added to
/// `missing_rows` (by [`name_key`]) for the [`warnings`] once every part is done.
pub(super) fn apply_to<T: OrgHolder>(
    users: &mut [(u32, T)],
    resolved: &Resolved,
    policy: MissingOrgs,
    missing_rows: &mut HashMap<String, Rows>,
) {
    for (row, user) in users.iter_mut() {
        if let Some(key) = send_as(user, resolved, policy) {
            missing_rows.entry(key).or_default().push(*row);
        }
    }
}

/// The warnings of [`apply`]: near-misses, then each missing name's rows (by [`name_key`])
/// and what `policy` does to them.
pub(super) fn warnings(
    resolved: &Resolved,
    policy: MissingOrgs,
    missing_rows: &HashMap<String, Rows>,
) -> Vec<String> {
    let mut warnings: Vec<String> = resolved
        .near
        .iter()
        .map(|(name, close)| near_warning(name, close))
        .collect();
    let what = match policy {
        MissingOrgs::Create => return warnings,
        MissingOrgs::SkipField => "sent without an organization",
        MissingOrgs::Fail => "not sent",
    };
    for name in &resolved.missing {
        if let Some(rows) = missing_rows.get(&name_key(name)) {
            warnings.push(format!(
                "organization '{name}' is not in the account: {} {what} (--missing-orgs {policy})",
                rows.text()
            ));
        }
    }
    warnings
}

/// One user's organization as `policy` sends it: by id when the account has it, dropped for
/// `SkipField` when it lacks it. The missing name's key, when it is missing.
fn send_as<T: OrgHolder>(user: &mut T, resolved: &Resolved, policy: MissingOrgs) -> Option<String> {
    let key = name_key(user.org_name()?);
    if let Some((id, _)) = resolved.found.get(&key) {
        user.send_id(*id);
        return None;
    }
    if policy == MissingOrgs::SkipField {
        user.drop_org();
    }
    Some(key)
}

fn near_warning(name: &str, close: &[String]) -> String {
    let quoted: Vec<String> = close.iter().map(|c| format!("'{c}'")).collect();
    format!(
        "organization '{name}' is not in the account but is close to {}: a near-duplicate if \
         created (correct the sheet, or map the name to the existing one)",
        quoted.join(", ")
    )
}

/// Rows a warning names: the first [`Rows::SHOWN`] and how many in all, so a million rows
/// naming one missing organization keep ten numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Rows {
    shown: Vec<u32>,
    count: usize,
}

impl Rows {
    const SHOWN: usize = 10;

    pub(super) fn push(&mut self, row: u32) {
        if self.shown.len() < Self::SHOWN {
            self.shown.push(row);
        }
        self.count += 1;
    }

    /// `row 4` or `rows 4, 9, 12` (at most 10 numbers, then how many more).
    pub(super) fn text(&self) -> String {
        let shown: Vec<String> = self.shown.iter().map(u32::to_string).collect();
        let more = self.count.saturating_sub(shown.len());
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        match self.count {
            1 => format!("row {}", shown[0]),
            _ => format!("rows {}{tail}", shown.join(", ")),
        }
    }
}

impl FromIterator<u32> for Rows {
    fn from_iter<I: IntoIterator<Item = u32>>(rows: I) -> Self {
        let mut all = Self::default();
        for row in rows {
            all.push(row);
        }
        all
    }
}

/// [`MissingOrgs::Fail`]: the rows whose organization is missing are not sent.
pub(super) fn fail_missing(rows: &mut [RowPlan], resolved: &Resolved) {
    for row in rows {
        let Some(org) = row.user.as_ref().and_then(|u| u.organization.as_ref()) else {
            continue;
        };
        if resolved.found.contains_key(&name_key(&org.name)) || row.action.name() == "invalid" {
            continue;
        }
        row.action = Action::WouldFail {
            reason: format!(
                "organization '{}' is not in the account (--missing-orgs fail)",
                org.name.trim()
            ),
        };
    }
}

/// The headless import's organizations, resolved in the requests it built: each user's
/// organization sent as `organization_id` when the account has it, a missing one as `policy`
/// says (`Fail` moves its rows to the skipped ones, with the reason). Returns the warnings.
///
/// Done before the run is journaled, so a resume sends exactly these bodies. This is the
/// outbox in memory (the TUI's, a test's); [`resolve_import_file`] does the same to an outbox
/// on disk a batch at a time.
pub async fn resolve_import(
    client: &Client,
    plan: &mut Outbox,
    policy: MissingOrgs,
    concurrency: usize,
) -> Result<Vec<String>, PlanError> {
    match look_up(client, (plan.batches.as_slice(), plan.object), concurrency).await? {
        Some(resolved) => Ok(rebuild(plan, &resolved, policy)?),
        None => Ok(Vec::new()),
    }
}

/// [`resolve_import`] for an outbox on disk (the headless import's spool): the names are read
/// a batch at a time, the distinct ones looked up, then the bodies rewritten a batch at a time
/// to a new spool in `dir`, which is returned with the warnings. Memory holds the distinct
/// names and one batch, however many rows name them. A plan naming no organization comes
/// back as it was.
pub async fn resolve_import_file(
    client: &Client,
    plan: OutboxFile,
    dir: &Path,
    policy: MissingOrgs,
    concurrency: usize,
) -> Result<(OutboxFile, Vec<String>), PlanError> {
    match look_up(client, (&plan, plan.object), concurrency).await? {
        Some(resolved) => Ok(rebuild_file(plan, dir, &resolved, policy)?),
        None => Ok((plan, Vec::new())),
    }
}

/// The batches of a headless import's plan, one at a time: from memory, or read from its
/// file (so the names pass never holds every body).
trait PlanBatches {
    fn count(&self) -> usize;
    fn batch(&self, b: usize) -> Result<Cow<'_, OutboxBatch>, Unreadable>;
}

impl PlanBatches for [OutboxBatch] {
    fn count(&self) -> usize {
        self.len()
    }

    fn batch(&self, b: usize) -> Result<Cow<'_, OutboxBatch>, Unreadable> {
        Ok(Cow::Borrowed(&self[b]))
    }
}

impl PlanBatches for OutboxFile {
    fn count(&self) -> usize {
        self.batches()
    }

    fn batch(&self, b: usize) -> Result<Cow<'_, OutboxBatch>, Unreadable> {
        Ok(Cow::Owned(self.read(b)?))
    }
}

/// Reads the names every user gives, checks the account allows several organizations per
/// user when a row names more than one, and looks the distinct names up. `None` when no
/// user names an organization (a sheet of organizations names none): the plan is left as
/// built.
async fn look_up<P: PlanBatches + ?Sized>(
    client: &Client,
    (plan, object): (&P, crate::mapping::Object),
    concurrency: usize,
) -> Result<Option<Resolved>, PlanError> {
    // A sheet of organizations names none: its rows are the organizations.
    if object == crate::mapping::Object::Organizations {
        return Ok(None);
    }
    let (names, several) = names_of(plan)?;
    super::memberships::check_setting(client, several, &mut Spent::default()).await?;
    if names.is_empty() {
        return Ok(None);
    }
    let resolved = resolve((client, &Gate::default()), &names, concurrency.max(1)).await?;
    Ok(Some(resolved))
}

/// The distinct names the plan's users give (their default organizations' first, in row
/// order, then their memberships'), and how many rows join more than one organization.
fn names_of<P: PlanBatches + ?Sized>(plan: &P) -> Result<(Vec<String>, usize), Unreadable> {
    let mut defaults = Distinct::default();
    let mut members = Distinct::default();
    let mut several = 0;
    for b in 0..plan.count() {
        let batch = plan.batch(b)?;
        let names = crate::import::orgs::names_in(&batch.body)
            .map_err(|e| body_error(&batch, e.to_string()))?;
        for name in names.iter().flatten() {
            defaults.add(name);
        }
        for key in batch.keys.iter().filter(|k| !k.memberships.is_empty()) {
            several += 1;
            for m in &key.memberships {
                members.add(&m.name);
            }
        }
    }
    for name in members.names {
        defaults.add(&name);
    }
    Ok((defaults.names, several))
}

/// Why a plan's batches cannot be read back or rewritten: a [`PlanError`] once out (kept
/// small inside: the lookups' error holds a whole Zendesk error).
#[derive(Debug)]
enum Unreadable {
    /// A request body, named by its first row, and why.
    Body(u32, String),
    File(crate::import::JournalError),
}

impl From<crate::import::JournalError> for Unreadable {
    fn from(error: crate::import::JournalError) -> Self {
        Self::File(error)
    }
}

impl From<Unreadable> for PlanError {
    fn from(error: Unreadable) -> Self {
        match error {
            Unreadable::Body(row, reason) => Self::Body { row, reason },
            Unreadable::File(e) => e.into(),
        }
    }
}

/// A request body that cannot be read or written, named by its first row.
fn body_error(batch: &OutboxBatch, reason: String) -> Unreadable {
    Unreadable::Body(batch.rows.first().copied().unwrap_or_default(), reason)
}

/// The batches of `plan` again, in memory, each user's organization sent as [`send_as`] says;
/// with `Fail`, the users of a missing organization leave their batch for the skipped rows.
/// Rows keep their order, so every index is as the plan would have numbered it. Returns the
/// warnings.
fn rebuild(
    plan: &mut Outbox,
    resolved: &Resolved,
    policy: MissingOrgs,
) -> Result<Vec<String>, Unreadable> {
    let mut rewrite = Rewrite::new(resolved, policy);
    let mut batches = Vec::with_capacity(plan.batches.len());
    for batch in std::mem::take(&mut plan.batches) {
        let kept = rewrite.batch(&batch, &mut |row, reason, key| {
            plan.skipped_keys.insert(plan.skipped.len(), key);
            plan.skip(row, reason);
            Ok(())
        })?;
        batches.extend(kept);
    }
    plan.batches = batches;
    Ok(rewrite.finish(&mut plan.organizations))
}

/// [`rebuild`] from a plan's file to a new spool in `dir`, a batch at a time.
fn rebuild_file(
    plan: OutboxFile,
    dir: &Path,
    resolved: &Resolved,
    policy: MissingOrgs,
) -> Result<(OutboxFile, Vec<String>), Unreadable> {
    let mut rewrite = Rewrite::new(resolved, policy);
    let mut spool = crate::import::SpoolBuilder::create(dir)?;
    // The rows skipped already first, a line at a time; then those the rewrite leaves out.
    for piece in 0..plan.skipped_pieces() {
        for skipped in plan.skipped_piece(piece)? {
            spool.skip(skipped.row, skipped.reason, skipped.key)?;
        }
    }
    for b in 0..plan.batches() {
        let batch = plan.read(b)?;
        let kept = rewrite.batch(&batch, &mut |row, reason, key| {
            Ok(spool.skip(row, reason, Some(key))?)
        })?;
        if let Some(kept) = kept {
            spool.push(&kept)?;
        }
    }
    let mut head = plan.head_outbox();
    let warnings = rewrite.finish(&mut head.organizations);
    Ok((spool.finish(head)?, warnings))
}

/// Where the rewrite sends a row it leaves out: its sheet row, reason and key.
type Skip<'s> = dyn FnMut(u32, String, UserKey) -> Result<(), Unreadable> + 's;

/// The bodies rewritten batch by batch with the organizations resolved (the rows not sent
/// handed on as they are met), and what the rewrite gathers on the way for the plan's head:
/// the rows each missing name changes (for the warnings), the users of each organization
/// created first.
struct Rewrite<'a> {
    resolved: &'a Resolved,
    policy: MissingOrgs,
    first_index: u64,
    /// Rows whose default organization is missing, by [`name_key`].
    orgs_missing: HashMap<String, Rows>,
    /// Rows joining a missing organization as a membership, by name as spelled.
    members_missing: HashMap<String, Rows>,
    /// The users of each missing organization that are still sent.
    listed: crate::import::orgs::MissingCount,
}

impl<'a> Rewrite<'a> {
    fn new(resolved: &'a Resolved, policy: MissingOrgs) -> Self {
        Self {
            resolved,
            policy,
            first_index: 0,
            orgs_missing: HashMap::new(),
            members_missing: HashMap::new(),
            listed: crate::import::orgs::MissingCount::new(&resolved.missing),
        }
    }

    /// `batch` with its users' organizations resolved; `None` when none of them is sent. With
    /// `Fail`, a user naming a missing organization goes to `skip` instead, with the reason.
    fn batch(
        &mut self,
        batch: &OutboxBatch,
        skip: &mut Skip<'_>,
    ) -> Result<Option<OutboxBatch>, Unreadable> {
        let mut kept = OutboxBatch {
            first_index: self.first_index,
            rows: Vec::new(),
            keys: Vec::new(),
            body: bytes::Bytes::new(),
            sent_as: batch.sent_as,
        };
        let mut sent = Vec::new();
        for (key, (row, user)) in batch.keys.iter().zip(batch_users(batch)?) {
            let (key, user, missing) = self.user(row, key.clone(), user);
            match missing.filter(|_| self.policy == MissingOrgs::Fail) {
                Some(name) => skip(
                    row,
                    format!("organization '{name}' is not in the account (--missing-orgs fail)"),
                    key,
                )?,
                None => {
                    self.listed.add_user(user.org_name(), &key.memberships);
                    kept.rows.push(row);
                    kept.keys.push(key);
                    sent.push(user);
                }
            }
        }
        if sent.is_empty() {
            return Ok(None);
        }
        let body = serde_json::to_vec(&serde_json::json!({ "users": sent }))
            .map_err(|e| body_error(&kept, e.to_string()))?;
        kept.body = bytes::Bytes::from(body);
        self.first_index += kept.rows.len() as u64;
        Ok(Some(kept))
    }

    /// One user (at sheet row `row`) sent as the policy says, its missing names noted; and
    /// the organization it still names that the account lacks, if any.
    fn user(
        &mut self,
        row: u32,
        mut key: UserKey,
        mut user: Value,
    ) -> (UserKey, Value, Option<String>) {
        let (resolved, policy) = (self.resolved, self.policy);
        super::memberships::resolve_one(&mut key.memberships, resolved, policy, |name| {
            let rows = self.members_missing.entry(name.to_owned()).or_default();
            rows.push(row);
        });
        if let Some(name) = send_as(&mut user, resolved, policy) {
            self.orgs_missing.entry(name).or_default().push(row);
        }
        let missing = missing_name(&user, resolved).or_else(|| {
            key.memberships
                .iter()
                .find(|m| m.id.is_none() && !resolved.found.contains_key(&name_key(&m.name)))
                .map(|m| m.name.clone())
        });
        (key, user, missing)
    }

    /// With `Create`, lists the organizations created first in `organizations`. Returns the
    /// warnings: the default organizations', then the memberships'.
    fn finish(self, organizations: &mut Vec<crate::import::PlannedOrg>) -> Vec<String> {
        if self.policy == MissingOrgs::Create {
            *organizations = self.listed.finish();
        }
        let mut warnings = warnings(self.resolved, self.policy, &self.orgs_missing);
        warnings.extend(super::memberships::warnings(
            &self.members_missing,
            self.policy,
        ));
        warnings
    }
}

/// `preview --account`: the organizations `requests`' users name, looked up as an import
/// does; existing ones sent by id. Returns the names the account lacks, which an import
/// creates first (their users keep the name here: the id does not exist yet).
pub async fn resolve_requests(
    client: &Client,
    requests: &mut [crate::payload::Request],
    concurrency: usize,
) -> Result<Vec<String>, PlanError> {
    let mut users: Vec<(u32, User)> = requests
        .iter_mut()
        .flat_map(|r| {
            let users = std::mem::take(&mut r.body.users);
            r.rows.clone().into_iter().zip(users)
        })
        .collect();
    let several = super::memberships::rows_with(&users);
    super::memberships::check_setting(client, several, &mut Spent::default()).await?;
    let names = distinct_names(&users);
    let resolved = resolve((client, &Gate::default()), &names, concurrency.max(1)).await?;
    apply(&mut users, &resolved, MissingOrgs::Create);
    super::memberships::apply(&mut users, &resolved, MissingOrgs::Create);
    let mut users = users.into_iter().map(|(_, user)| user);
    for request in requests {
        request.body.users = users.by_ref().take(request.rows.len()).collect();
    }
    Ok(resolved.missing)
}

/// The users of a batch with their sheet rows, read back from its body.
fn batch_users(batch: &OutboxBatch) -> Result<Vec<(u32, Value)>, Unreadable> {
    let body: BulkBody =
        serde_json::from_slice(&batch.body).map_err(|e| body_error(batch, e.to_string()))?;
    Ok(batch.rows.iter().copied().zip(body.users).collect())
}

/// Only the organization of each user is read; the rest is kept as sent.
#[derive(Deserialize)]
struct BulkBody {
    users: Vec<Value>,
}

/// The organization a user still names by name that the account lacks.
fn missing_name(user: &Value, resolved: &Resolved) -> Option<String> {
    let name = user.org_name()?.trim();
    (!resolved.found.contains_key(&name_key(name))).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::payload::OrganizationRef;

    fn org(id: u64, name: &str) -> Organization {
        serde_json::from_value(serde_json::json!({"id": id, "name": name})).unwrap()
    }

    fn user(name: &str) -> User {
        User {
            name: Some("U".into()),
            organization: Some(OrganizationRef { name: name.into() }),
            ..User::default()
        }
    }

    #[rstest]
    #[case("create", Ok(MissingOrgs::Create))]
    #[case(" Skip-Field ", Ok(MissingOrgs::SkipField))]
    #[case("skip_field", Ok(MissingOrgs::SkipField))]
    #[case("FAIL", Ok(MissingOrgs::Fail))]
    #[case("ignore", Err("unknown choice 'ignore' (create, skip-field or fail)".to_owned()))]
    fn policies_parse(#[case] text: &str, #[case] want: Result<MissingOrgs, String>) {
        assert_eq!(text.parse::<MissingOrgs>(), want);
    }

    #[test]
    fn names_match_ignoring_case_and_surrounding_spaces_only() {
        let users = vec![
            (2, user(" acme corp ")),
            (3, user("ACME CORP")),
            (4, user("Acme  Corp")),
        ];
        let names = distinct_names(&users);
        assert_eq!(
            names,
            ["acme corp", "Acme  Corp"],
            "inner spaces make another name"
        );
        let mut resolved = Resolved::default();
        settle(
            &mut resolved,
            &names,
            &[org(7, "Acme Corp"), org(8, "Globex")],
        );
        assert_eq!(resolved.found["acme corp"], (7, "Acme Corp".to_owned()));
        assert_eq!(resolved.missing, ["Acme  Corp"]);
    }

    #[test]
    fn near_misses_name_the_closest_existing_organizations() {
        let known = [
            org(1, "Acme Corp"),
            org(2, "Acme Corporation"),
            org(3, "Globex"),
            org(4, "ACME Corp"),
        ];
        let near = near_misses(
            &["ACME Corp.".into(), "Initech".into(), "Globex Inc".into()],
            &known,
        );
        assert_eq!(
            near,
            [(
                "ACME Corp.".to_owned(),
                vec!["ACME Corp".to_owned(), "Acme Corp".to_owned()]
            )],
            "Globex Inc is 0.6 from Globex: not near"
        );
        let known = [
            org(1, "Initech Systems"),
            org(2, "Unitech Systems"),
            org(3, "Initech Sistems"),
        ];
        let near = near_misses(&["Initech Systemz".into()], &known);
        assert_eq!(
            near[0].1,
            ["Initech Systems", "Initech Sistems"],
            "closest first; Unitech Systems differs at both ends, so is not compared"
        );
    }

    #[test]
    fn each_policy_sends_what_it_says() {
        let mut resolved = Resolved::default();
        settle(
            &mut resolved,
            &["Acme".into(), "Initech".into()],
            &[org(7, "ACME")],
        );
        for policy in MissingOrgs::ALL {
            let mut users = vec![
                (2, user("acme")),
                (3, user("Initech")),
                (4, user("initech ")),
            ];
            let warnings = apply(&mut users, &resolved, policy);
            assert_eq!(
                (users[0].1.organization_id, &users[0].1.organization),
                (Some(7), &None)
            );
            let kept = users[1].1.organization.is_some();
            assert_eq!(kept, policy != MissingOrgs::SkipField, "{policy}");
            assert_eq!(users[1].1.organization_id, None);
            let said: Vec<&String> = warnings
                .iter()
                .filter(|w| w.contains("rows 3, 4"))
                .collect();
            let want = match policy {
                MissingOrgs::Create => 0,
                MissingOrgs::SkipField | MissingOrgs::Fail => 1,
            };
            assert_eq!(said.len(), want, "{policy}: {warnings:?}");
        }
    }

    fn batch(first_index: u64, rows: &[u32], orgs: &[&str]) -> OutboxBatch {
        let users: Vec<Value> = orgs
            .iter()
            .map(|o| serde_json::json!({"name": "U", "organization": {"name": o}}))
            .collect();
        OutboxBatch {
            first_index,
            rows: rows.to_vec(),
            keys: rows
                .iter()
                .map(|r| crate::import::UserKey {
                    name: Some(format!("row {r}")),
                    ..Default::default()
                })
                .collect(),
            body: serde_json::to_vec(&serde_json::json!({ "users": users }))
                .unwrap()
                .into(),
            sent_as: None,
        }
    }

    #[test]
    fn failing_rows_leave_their_batches_and_indexes_follow() {
        let mut plan = Outbox::new(crate::payload::Mode::Create);
        plan.batches = vec![
            batch(0, &[2, 3, 4], &["Acme", "Initech", "ACME "]),
            batch(3, &[5, 6], &["initech", "Initech"]),
            batch(5, &[7], &["acme"]),
        ];
        plan.skip(9, "invalid");
        let mut resolved = Resolved::default();
        settle(
            &mut resolved,
            &["Acme".into(), "Initech".into()],
            &[org(7, "Acme")],
        );
        rebuild(&mut plan, &resolved, MissingOrgs::Fail).unwrap();
        let kept: Vec<(u64, Vec<u32>)> = plan
            .batches
            .iter()
            .map(|b| (b.first_index, b.rows.clone()))
            .collect();
        assert_eq!(kept, [(0, vec![2, 4]), (2, vec![7])]);
        let body: Value = serde_json::from_slice(&plan.batches[0].body).unwrap();
        assert_eq!(body["users"][1]["organization_id"], 7);
        assert!(body["users"][1].get("organization").is_none());
        let skipped: Vec<u32> = plan.skipped.iter().map(|(r, _)| *r).collect();
        assert_eq!(skipped, [9, 3, 5, 6]);
        assert_eq!(
            plan.skipped[2].1,
            "organization 'initech' is not in the account (--missing-orgs fail)"
        );
        assert_eq!(plan.skipped_keys[&3].name.as_deref(), Some("row 6"));
    }

    #[test]
    fn the_cost_is_one_page_surely_and_two_requests_a_name_at_most() {
        assert_eq!(cost(0), (0, 0));
        assert_eq!(cost(30), (1, 61));
        assert_eq!([4].into_iter().collect::<Rows>().text(), "row 4");
        assert_eq!(
            (1..=12).collect::<Rows>().text(),
            "rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 and 2 more"
        );
    }

    /// The plan on disk, rewritten a batch at a time into a new spool, is the plan rewritten
    /// in memory, for every policy: bodies, rows sent and skipped, organizations, warnings.
    #[test]
    fn a_plan_rewritten_from_its_file_is_the_plan_rewritten_in_memory() {
        let tmp = tempfile::tempdir().unwrap();
        let mut plan = Outbox::new(crate::payload::Mode::Create);
        plan.batches = vec![
            batch(0, &[2, 3, 4], &["Acme", "Initech", "Globex"]),
            batch(3, &[5, 6], &["initech", "Acme"]),
        ];
        plan.batches[1].keys[1].memberships = ["Newco", "acme"]
            .map(|name| crate::payload::MemberOf {
                name: name.into(),
                id: None,
            })
            .to_vec();
        plan.skip(9, "invalid");
        let names = ["Acme", "Initech", "Globex", "Newco"].map(String::from);
        let mut resolved = Resolved::default();
        settle(&mut resolved, &names, &[org(7, "Acme"), org(8, "Globex")]);
        for policy in MissingOrgs::ALL {
            let mut memory = plan.clone();
            let warned = rebuild(&mut memory, &resolved, policy).unwrap();
            let file = OutboxFile::spool(tmp.path(), &plan).unwrap();
            let spooled = file.path().to_path_buf();
            let (rewritten, file_warned) =
                rebuild_file(file, tmp.path(), &resolved, policy).unwrap();
            assert_ne!(rewritten.path(), spooled, "{policy}: a new spool");
            assert_eq!(rewritten.load().unwrap(), memory, "{policy}");
            assert_eq!(file_warned, warned, "{policy}");
            let sent: Vec<u32> = memory.batches.iter().flat_map(|b| b.rows.clone()).collect();
            let skipped: Vec<u32> = memory.skipped.iter().map(|(r, _)| *r).collect();
            let listed: Vec<(&str, u64)> = memory
                .organizations
                .iter()
                .map(|o| (o.name.as_str(), o.users))
                .collect();
            match policy {
                MissingOrgs::Create => {
                    assert_eq!(sent, [2, 3, 4, 5, 6]);
                    assert_eq!(listed, [("Initech", 2), ("Newco", 1)]);
                    assert!(warned.is_empty(), "{warned:?}");
                }
                MissingOrgs::SkipField => {
                    assert_eq!(sent, [2, 3, 4, 5, 6]);
                    assert_eq!(memory.batches[1].keys[1].memberships.len(), 1);
                    assert!(warned[0].contains("rows 3, 5 sent without an organization"));
                    assert!(warned[1].contains("'Newco' is not in the account: row 6 the"));
                }
                MissingOrgs::Fail => {
                    assert_eq!((sent, skipped), (vec![2, 4], vec![9, 3, 5, 6]));
                    assert_eq!(memory.skipped_keys[&3].name.as_deref(), Some("row 6"));
                }
            }
            assert!(listed.is_empty() || policy == MissingOrgs::Create);
        }
    }
}
