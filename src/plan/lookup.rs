//! The lookups behind a plan, and each row's action decided from what they found.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::PoisonError;
use std::time::Duration;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::diff::{HeldEmails, Organizations, changes};
use super::memberships;
use super::orgs::{self, MissingOrgs};
use super::{Action, Cost, Existing, Plan, PlanInput, PlanOptions, RowPlan, Spent, Tags};
use crate::payload::{Mode, User};
use crate::zendesk::{self, Answer, Client, RateInfo, ZendeskError};

/// Ids per `users/show_many` call: Zendesk's limit.
const PER_CALL: usize = 100;

/// Sends of one lookup before a 5xx, timeout or lost connection is given up.
const ATTEMPTS: u32 = 5;

/// A lookup that failed for good.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("looking up {what}: {source}")]
    Lookup {
        /// `external_ids E-1…E-100`, `email ana@example.com`, `organization 'Acme'`.
        what: String,
        source: Box<ZendeskError>,
    },
    #[error("the request holding row {row} cannot be read back: {reason}")]
    Body { row: u32, reason: String },
    /// The account's settings forbid what the rows ask (several organizations per user).
    #[error("{0}")]
    Setting(String),
    /// The plan's file (a run's outbox spool) cannot be read or written.
    #[error(transparent)]
    File(Box<crate::import::JournalError>),
    /// The plan's rows kept on disk ([`super::StoredPlan`]) cannot be written or read back.
    #[error("{0}")]
    Stored(String),
}

impl From<crate::import::JournalError> for PlanError {
    fn from(error: crate::import::JournalError) -> Self {
        Self::File(Box::new(error))
    }
}

/// The requests and minutes the lookups for `input` will take at the account's rate limit
/// (from the rate headers of any answer, such as `user_fields`).
pub fn estimate(input: &PlanInput, rate: &RateInfo) -> Cost {
    if input.object == crate::mapping::Object::Organizations {
        return super::org_rows::estimate(&input.organizations, rate);
    }
    let mut survey = Survey::default();
    for (_, user) in &input.users {
        survey.add(user);
    }
    survey.cost(rate)
}

/// What a plan must know of all its users before it looks any up: what the lookups cost, the
/// organizations they name, and what the account's settings will say of them. One pass over
/// the users; the identifiers are kept as 64-bit fingerprints (a count, not a lookup).
#[derive(Debug, Default)]
pub struct Survey {
    /// Users seen.
    pub users: usize,
    external_ids: HashSet<u64>,
    ids: HashSet<u64>,
    /// Emails of users with no external_id and no id: searched for surely.
    emails_only: HashSet<u64>,
    /// Emails of the others: searched only when their user is not found or has another email.
    emails_too: HashSet<u64>,
    names: orgs::Distinct,
    /// Users joining more organizations than their default one.
    several: usize,
    tagged: usize,
    phones: usize,
    /// Phones not in E.164, which an account validating phones refuses.
    not_e164: usize,
}

impl Survey {
    /// Every user of `users`, read once.
    pub fn of(users: &dyn Users) -> Result<Survey, PlanError> {
        let mut survey = Survey::default();
        for user in users.users() {
            survey.add(&user?.1);
        }
        Ok(survey)
    }

    /// Notes one user.
    pub fn add(&mut self, user: &User) {
        use std::hash::BuildHasher as _;
        let print = |tag: u8, key: &str| {
            foldhash::fast::FixedState::with_seed(0).hash_one((tag, key.to_lowercase()))
        };
        self.users += 1;
        if let Some(x) = &user.external_id {
            self.external_ids.insert(print(b'x', x));
        }
        if let Some(id) = user.id {
            self.ids.insert(id);
        }
        if let Some(email) = &user.email {
            let sure = user.external_id.is_none() && user.id.is_none();
            let emails = if sure {
                &mut self.emails_only
            } else {
                &mut self.emails_too
            };
            emails.insert(print(b'e', email));
        }
        for name in user.organization.iter().map(|o| o.name.as_str()) {
            self.names.add(name);
        }
        for m in &user.memberships {
            self.names.add(&m.name);
        }
        self.several += usize::from(!user.memberships.is_empty());
        self.tagged += usize::from(user.tags.is_some());
        if let Some(phone) = &user.phone {
            self.phones += 1;
            self.not_e164 += usize::from(!is_e164(phone));
        }
    }

    /// Forgets the identifiers (kept for [`Survey::cost`] only).
    fn forget_identifiers(&mut self) {
        for set in [
            &mut self.external_ids,
            &mut self.ids,
            &mut self.emails_only,
            &mut self.emails_too,
        ] {
            *set = HashSet::new();
        }
    }

    /// The distinct organization names, as first spelled (trimmed), in row order.
    pub fn organizations(&self) -> &[String] {
        &self.names.names
    }

    /// What the lookups cost at the account's rate limit.
    pub fn cost(&self, rate: &RateInfo) -> Cost {
        let (orgs_surely, orgs_at_most) = orgs::cost(self.names.names.len());
        let users = (self.external_ids.len().div_ceil(PER_CALL)
            + self.ids.len().div_ceil(PER_CALL)
            + self.emails_only.len()) as u64;
        let requests = users + orgs_surely;
        let emails_too = self.emails_too.difference(&self.emails_only).count() as u64;
        // Each user found that joins more organizations has its memberships read.
        let at_most = users + orgs_at_most + emails_too + self.several as u64;
        Cost::at_rate(requests, at_most, rate)
    }
}

/// The users a plan is made of, read by [`build_each`] a part at a time (and by
/// [`Survey::of`] when they were not surveyed as they were checked).
pub trait Users: Sync {
    /// Every user with its sheet row, in sheet order.
    fn users(&self) -> Box<dyn Iterator<Item = Result<(u32, User), PlanError>> + Send + '_>;
}

/// Users held in memory (the TUI's checked table, a test's).
impl Users for Vec<(u32, User)> {
    fn users(&self) -> Box<dyn Iterator<Item = Result<(u32, User), PlanError>> + Send + '_> {
        Box::new(self.iter().map(|(row, user)| Ok((*row, user.clone()))))
    }
}

/// The distinct identifiers of the users, lower case.
#[derive(Debug, Default)]
struct Keys {
    external_ids: Vec<String>,
    ids: Vec<u64>,
    /// Emails of users with no external_id and no id: searched for surely.
    emails_only: Vec<String>,
    /// Emails of the others: searched only when their user is not found or has another email.
    emails_too: Vec<String>,
}

impl Keys {
    fn of(input: &PlanInput) -> Keys {
        let mut keys = Keys::default();
        let mut seen: HashSet<(char, String)> = HashSet::new();
        for (_, user) in &input.users {
            if let Some(x) = &user.external_id
                && seen.insert(('x', x.to_lowercase()))
            {
                keys.external_ids.push(x.to_lowercase());
            }
            if let Some(id) = user.id
                && seen.insert(('i', id.to_string()))
            {
                keys.ids.push(id);
            }
            if let Some(email) = &user.email {
                let email = email.to_lowercase();
                let sure = user.external_id.is_none() && user.id.is_none();
                if sure && seen.insert(('e', email.clone())) {
                    keys.emails_only.push(email);
                } else if !sure {
                    keys.emails_too.push(email);
                }
            }
        }
        keys.emails_too.retain(|e| seen.insert(('e', e.clone())));
        keys
    }
}

/// What the lookups found, by lower-case key.
#[derive(Debug, Default)]
struct Found {
    by_external_id: HashMap<String, zendesk::User>,
    by_id: HashMap<u64, zendesk::User>,
    /// `None`: searched, no such user.
    by_email: HashMap<String, Option<zendesk::User>>,
    /// Emails of every identity, by user id: read for users whose primary email is not the
    /// one the row sends (Zendesk adds that one as a secondary identity).
    identities: HashMap<u64, Vec<String>>,
    /// `--make-primary`: the row's email is to become the user's primary one.
    make_primary: bool,
    organizations: Organizations,
    spent: Spent,
}

impl Found {
    /// Forgets the users looked up, keeping the organizations and what was spent.
    fn forget_users(&mut self) {
        self.by_external_id = HashMap::new();
        self.by_id = HashMap::new();
        self.by_email = HashMap::new();
        self.identities = HashMap::new();
    }
}

/// Rows looked up and decided together by [`build_each`]: their lookups go out together
/// (a hundred ids a call, [`PlanOptions::concurrency`] calls at once), and nothing of them is
/// kept once they are handed on.
pub const PART: usize = 2_000;

/// Where [`build_each`] hands the plan as it is made.
pub trait PlanSink {
    type Error: From<PlanError>;

    /// The organizations the account lacks that the import creates before the users that
    /// name them (`--missing-orgs create`), said before any row.
    fn missing(&mut self, _names: &[String]) {}

    /// The next rows with a user, in sheet order, each decided.
    fn rows(&mut self, rows: Vec<RowPlan>) -> Result<(), Self::Error>;
}

/// Every row kept: the plan as a whole.
impl PlanSink for Vec<RowPlan> {
    type Error = PlanError;

    fn rows(&mut self, rows: Vec<RowPlan>) -> Result<(), PlanError> {
        self.extend(rows);
        Ok(())
    }
}

/// Looks up the users and organizations of `input` and decides every row's action.
///
/// `rate` is what an earlier answer said about the rate limit, for the cost in the plan.
pub async fn build(
    client: &Client,
    input: PlanInput,
    options: PlanOptions,
    rate: &RateInfo,
) -> Result<Plan, PlanError> {
    if input.object == crate::mapping::Object::Organizations {
        let orgs = input.into_organization_input();
        let n = options.concurrency;
        return super::org_rows::build(client, orgs, (options.mode, options.tags), (n, rate)).await;
    }
    let mut rows = Vec::with_capacity(input.rows());
    let invalid = input.invalid;
    let surveyed = (&input.users as &dyn Users, Survey::of(&input.users)?);
    let plan = build_each(client, surveyed, invalid, (options, rate), &mut rows).await?;
    Ok(plan.with_rows(rows))
}

/// [`build`] for a sheet of users, read from `users` once its [`Survey`] is made (as they
/// were checked, or by [`Survey::of`]) and handed to `sink` [`PART`] at a time as they are
/// decided, so that only the organizations, the identifiers' fingerprints and one part are
/// held, not every row. The plan returned holds the rest: its `rows` are the `invalid` ones.
///
/// A part's lookups find what they would find for the whole sheet: the checks leave no
/// email or external_id on two sent rows, so no row's lookup answers another part's row.
pub async fn build_each<S: PlanSink>(
    client: &Client,
    (users, mut survey): (&dyn Users, Survey),
    invalid: Vec<(u32, String)>,
    (options, rate): (PlanOptions, &RateInfo),
    sink: &mut S,
) -> Result<Plan, S::Error> {
    let cost = survey.cost(rate);
    // The identifiers' fingerprints were for the cost: let go before any lookup.
    survey.forget_identifiers();
    let mut found = Found {
        make_primary: options.make_primary,
        ..Found::default()
    };
    memberships::check_setting(client, survey.several, &mut found.spent).await?;
    let n = options.concurrency.max(1);
    let gate = Gate::default();
    let resolved = orgs::resolve((client, &gate), survey.organizations(), n).await?;
    found.spent.add(resolved.spent);
    for name in &resolved.missing {
        found.organizations.insert(name.to_lowercase(), None);
    }
    let settings = setting_warnings(client, &survey, &mut found.spent).await;
    let missing_organizations = match options.missing_orgs {
        MissingOrgs::Create => resolved.missing.clone(),
        MissingOrgs::SkipField | MissingOrgs::Fail => Vec::new(),
    };
    sink.missing(&missing_organizations);
    let mut missing = (HashMap::new(), HashMap::new());
    let mut all = users.users();
    loop {
        let part = all.by_ref().take(PART).collect::<Result<Vec<_>, _>>()?;
        if part.is_empty() {
            break;
        }
        let rows = plan_part(
            (client, &gate),
            part,
            (&resolved, &mut missing),
            options,
            &mut found,
        )
        .await?;
        sink.rows(rows)?;
    }
    let policy = options.missing_orgs;
    let mut warnings = orgs::warnings(&resolved, policy, &missing.0);
    warnings.extend(memberships::warnings(&missing.1, policy));
    warnings.extend(settings);
    Ok(Plan {
        mode: options.mode,
        object: crate::mapping::Object::Users,
        rows: decide_all(
            PlanInput {
                invalid,
                ..PlanInput::default()
            },
            &found,
            options,
        ),
        missing_organizations,
        warnings,
        cost,
        spent: found.spent,
    })
}

/// The rows each missing organization changes, gathered part by part for the warnings: as a
/// default organization, and as a membership.
type MissingRows = (HashMap<String, orgs::Rows>, HashMap<String, orgs::Rows>);

/// One part's users looked up and decided; `found` keeps what every part shares (the
/// organizations, what was spent) and forgets the part's lookups after.
async fn plan_part(
    (client, gate): (&Client, &Gate),
    mut users: Vec<(u32, User)>,
    (resolved, missing): (&orgs::Resolved, &mut MissingRows),
    options: PlanOptions,
    found: &mut Found,
) -> Result<Vec<RowPlan>, PlanError> {
    let n = options.concurrency.max(1);
    orgs::apply_to(&mut users, resolved, options.missing_orgs, &mut missing.0);
    memberships::apply_to(&mut users, resolved, options.missing_orgs, &mut missing.1);
    let input = PlanInput {
        users,
        ..PlanInput::default()
    };
    let keys = Keys::of(&input);
    found_users((client, gate), &keys, n, found).await?;
    // With --make-primary only the primary email counts: the other identities are not read.
    if !options.make_primary {
        found_identities((client, gate), &input, n, found).await?;
    }
    let emails = emails_to_search(&input, &keys, found, options.search_new_emails);
    found_emails((client, gate), emails, n, found).await?;
    let mut rows = decide_all(input, found, options);
    if options.missing_orgs == MissingOrgs::Fail {
        orgs::fail_missing(&mut rows, resolved);
        memberships::fail_missing(&mut rows, resolved);
    }
    memberships::drop_held((client, gate), &mut rows, n, &mut found.spent).await?;
    found.forget_users();
    Ok(rows)
}

/// Reads the account settings' `user` section (one request, only when some row sends tags or
/// a phone) and says what they do to the rows: tags ignored with user tagging off, phones
/// refused unless E.164 with phone validation on. An unreadable setting says nothing.
async fn setting_warnings(client: &Client, survey: &Survey, spent: &mut Spent) -> Vec<String> {
    if survey.tagged == 0 && survey.phones == 0 {
        return Vec::new();
    }
    let Ok(answer) = client.get_json("/api/v2/account/settings.json").await else {
        spent.requests += 1;
        return Vec::new();
    };
    spent.requests += 1;
    settings_warnings(
        &answer.value["settings"]["user"],
        survey.tagged,
        survey.not_e164,
    )
}

fn settings_warnings(user: &serde_json::Value, tagged: usize, not_e164: usize) -> Vec<String> {
    let mut warnings = Vec::new();
    if tagged > 0 && user["tagging"].as_bool() == Some(false) {
        warnings.push(format!(
            "{tagged} rows send tags, but user tagging is off in this account: Zendesk ignores \
             them (Admin Center: People, Configuration, Tags on users)"
        ));
    }
    if not_e164 > 0 && user["end_user_phone_number_validation"].as_bool() == Some(true) {
        warnings.push(format!(
            "{not_e164} rows send a phone that is not E.164 (+ and digits), and this account \
             validates phone numbers: Zendesk refuses those rows (set the phone region so they \
             can be converted)"
        ));
    }
    warnings
}

fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// `show_many` by external_id and by id, 100 per call.
async fn found_users(
    (client, gate): (&Client, &Gate),
    keys: &Keys,
    n: usize,
    found: &mut Found,
) -> Result<(), PlanError> {
    let chunks: Vec<&[String]> = keys.external_ids.chunks(PER_CALL).collect();
    let answers = run_all(chunks, n, |chunk| async move {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let what = format!("external_ids {}…{}", chunk[0], chunk[chunk.len() - 1]);
        retrying(gate, &what, || client.show_many_by_external_ids(&refs)).await
    })
    .await?;
    for (answer, spent) in answers {
        found.spent.add(spent);
        for user in answer.value {
            if let Some(x) = &user.external_id {
                found.by_external_id.insert(x.to_lowercase(), user);
            }
        }
    }
    let chunks: Vec<&[u64]> = keys.ids.chunks(PER_CALL).collect();
    let answers = run_all(chunks, n, |chunk| async move {
        let what = format!("ids {}…{}", chunk[0], chunk[chunk.len() - 1]);
        retrying(gate, &what, || client.show_many_by_ids(chunk)).await
    })
    .await?;
    for (answer, spent) in answers {
        found.spent.add(spent);
        for user in answer.value {
            found.by_id.insert(user.id, user);
        }
    }
    Ok(())
}

/// Emails to search: users with no external_id or id, and those whose external_id or id
/// found a user with another email (the email may be someone else's: a conflict). A row whose
/// external_id finds nobody is not searched by email: one search per new user would cost a
/// request per row instead of one per hundred, unless `new_too` asks for it.
fn emails_to_search(input: &PlanInput, keys: &Keys, found: &Found, new_too: bool) -> Vec<String> {
    let mut emails = keys.emails_only.clone();
    let mut seen: HashSet<String> = emails.iter().cloned().collect();
    for (_, user) in &input.users {
        let Some(email) = &user.email else { continue };
        let Some(held) = by_key(user, found) else {
            if new_too && seen.insert(email.to_lowercase()) {
                emails.push(email.to_lowercase());
            }
            continue;
        };
        if !held_emails(held, found).holds(held, email) && seen.insert(email.to_lowercase()) {
            emails.push(email.to_lowercase());
        }
    }
    emails
}

/// The identities of users found by external_id or id whose primary email is not the one the
/// row sends: one request per such user. The email may already be a secondary identity (no
/// change), or Zendesk will add it as one.
async fn found_identities(
    (client, gate): (&Client, &Gate),
    input: &PlanInput,
    n: usize,
    found: &mut Found,
) -> Result<(), PlanError> {
    let mut ids: Vec<u64> = input
        .users
        .iter()
        .filter_map(|(_, user)| {
            let email = user.email.as_deref()?;
            let held = by_key(user, found)?;
            (!HeldEmails::default().holds(held, email)).then_some(held.id)
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    // A user whose identities cannot be read (gone since, or the role may not list them)
    // keeps the plan going: its email is then shown as one Zendesk adds.
    let answers = run_all(ids, n, |id| async move {
        let what = format!("identities of user {id}");
        Ok((
            id,
            retrying(gate, &what, || client.identities(id)).await.ok(),
        ))
    })
    .await?;
    for (id, answer) in answers {
        let Some((answer, spent)) = answer else {
            continue;
        };
        found.spent.add(spent);
        let emails = answer
            .value
            .into_iter()
            .filter(|i| i.kind == "email")
            .map(|i| i.value.to_lowercase())
            .collect();
        found.identities.insert(id, emails);
    }
    Ok(())
}

fn held_emails<'a>(held: &zendesk::User, found: &'a Found) -> HeldEmails<'a> {
    HeldEmails {
        identities: found.identities.get(&held.id).map(Vec::as_slice),
        make_primary: found.make_primary,
    }
}

async fn found_emails(
    (client, gate): (&Client, &Gate),
    emails: Vec<String>,
    n: usize,
    found: &mut Found,
) -> Result<(), PlanError> {
    let answers = run_all(emails, n, |email| async move {
        let what = format!("email {email}");
        let answer = retrying(gate, &what, || client.search_by_email(&email)).await?;
        Ok((email, answer))
    })
    .await?;
    for (email, (answer, spent)) in answers {
        found.spent.add(spent);
        let user = answer.value.into_iter().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
        });
        found.by_email.insert(email, user);
    }
    Ok(())
}

/// Runs `call` on every item, `n` at a time; the first error stops the rest.
pub(super) async fn run_all<I, T, F, Fut>(
    items: Vec<I>,
    n: usize,
    call: F,
) -> Result<Vec<T>, PlanError>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, PlanError>>,
{
    stream::iter(items.into_iter().map(call))
        .buffer_unordered(n)
        .try_collect()
        .await
}

impl Spent {
    pub(super) fn add(&mut self, other: Spent) {
        self.requests += other.requests;
        self.rate_limited += other.rate_limited;
    }
}

/// Sends a lookup until it is answered: after a 429 it waits `Retry-After`; after a 5xx, a
/// timeout or a lost connection it backs off, up to [`ATTEMPTS`] sends.
pub(super) async fn retrying<T, F, Fut>(
    gate: &Gate,
    what: &str,
    send: F,
) -> Result<(Answer<T>, Spent), PlanError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Answer<T>, ZendeskError>>,
{
    let mut spent = Spent::default();
    let mut failures = 0;
    loop {
        gate.pass().await;
        spent.requests += 1;
        let error = match send().await {
            Ok(answer) => {
                gate.after(&answer.rate);
                return Ok((answer, spent));
            }
            Err(error) => error,
        };
        let wait = match &error {
            ZendeskError::RateLimited { rate, .. } => {
                spent.rate_limited += 1;
                // A sped-up sandbox may say 0: a short pause still lets its clock move on.
                let wait = rate
                    .retry_after
                    .unwrap_or(Duration::from_secs(1))
                    .max(MIN_WAIT);
                gate.hold(wait);
                wait
            }
            e if e.is_transient() && failures + 1 < ATTEMPTS => {
                failures += 1;
                Duration::from_millis(250 << failures)
            }
            _ => {
                return Err(PlanError::Lookup {
                    what: what.to_owned(),
                    source: Box::new(error),
                });
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// The shortest pause after a 429.
const MIN_WAIT: Duration = Duration::from_millis(20);

/// One pause for every lookup in flight: after a 429, or an answer that used the minute's
/// last request, none is sent until the window turns, instead of each finding out by a 429.
#[derive(Debug, Default)]
pub(super) struct Gate {
    until: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Gate {
    async fn pass(&self) {
        let until = *self.until.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    fn hold(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut held = self.until.lock().unwrap_or_else(PoisonError::into_inner);
        if held.is_none_or(|h| h < until) {
            *held = Some(until);
        }
    }

    /// `X-Rate-Limit-Remaining: 0`: wait for the window to reset (`ratelimit-reset`).
    fn after(&self, rate: &RateInfo) {
        if rate.remaining == Some(0) {
            self.hold(
                rate.reset_after
                    .unwrap_or(Duration::from_secs(1))
                    .max(MIN_WAIT),
            );
        }
    }
}

/// The user a row's id or external_id finds.
fn by_key<'a>(user: &User, found: &'a Found) -> Option<&'a zendesk::User> {
    user.id.and_then(|id| found.by_id.get(&id)).or_else(|| {
        let x = user.external_id.as_ref()?;
        found.by_external_id.get(&x.to_lowercase())
    })
}

/// The user a row's email finds: searched, or the row's own user when its email matched.
fn by_email<'a>(user: &User, found: &'a Found) -> Option<&'a zendesk::User> {
    let email = user.email.as_ref()?.to_lowercase();
    match found.by_email.get(&email) {
        Some(searched) => searched.as_ref(),
        None => by_key(user, found).filter(|h| {
            h.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
        }),
    }
}

fn decide_all(input: PlanInput, found: &Found, options: PlanOptions) -> Vec<RowPlan> {
    let mut rows: Vec<RowPlan> = input
        .users
        .into_iter()
        .map(|(row, mut user)| {
            if options.tags == Tags::Add {
                add_held_tags(&mut user, found);
            }
            RowPlan {
                row,
                action: decide(&user, found, options),
                user: Some(Box::new(user)),
                organization: None,
            }
        })
        .collect();
    rows.extend(input.invalid.into_iter().map(|(row, reason)| RowPlan {
        row,
        action: Action::Invalid { reason },
        user: None,
        organization: None,
    }));
    rows.sort_by_key(|r| r.row);
    rows
}

/// `--tags add`: the tags the user holds, then the row's that it lacks (Zendesk lowercases
/// tags, so they are compared in lower case); what is sent is the list Zendesk will keep.
fn add_held_tags(user: &mut User, found: &Found) {
    let Some(new) = user.tags.take() else {
        return;
    };
    let Some(held) = by_key(user, found).or_else(|| by_email(user, found)) else {
        user.tags = Some(new);
        return;
    };
    user.tags = Some(super::merge_tags(&held.tags, new));
}

/// One row's action, from what its identifiers found.
fn decide(user: &User, found: &Found, options: PlanOptions) -> Action {
    let keyed = by_key(user, found);
    let mailed = by_email(user, found);
    if let (Some(a), Some(b)) = (keyed, mailed)
        && a.id != b.id
    {
        return conflict(user, a.id, b.id);
    }
    match options.mode {
        Mode::Upsert => match keyed.or(mailed) {
            Some(held) => update(user, held, found),
            None => new(user),
        },
        Mode::Update => match keyed {
            Some(held) => update(user, held, found),
            None => Action::WouldFail {
                reason: format!(
                    "no user with {}: update_many cannot find it",
                    key_text(user)
                ),
            },
        },
        Mode::Create => match keyed.or(mailed) {
            None => new(user),
            Some(held) => existing(user, held, found, options.existing),
        },
    }
}

fn conflict(user: &User, external_id_user: u64, email_user: u64) -> Action {
    let reason = format!(
        "{} is user {external_id_user} but email {} is user {email_user}: Zendesk would \
         refuse the email",
        key_text(user),
        user.email.as_deref().unwrap_or_default()
    );
    Action::Conflict {
        external_id_user,
        email_user,
        reason,
    }
}

fn new(user: &User) -> Action {
    if user.name.is_none() {
        return Action::WouldFail {
            reason: "a new user without a name: Zendesk needs a name to create one".into(),
        };
    }
    Action::New
}

fn update(user: &User, held: &zendesk::User, found: &Found) -> Action {
    let changes = changes(user, held, &found.organizations, held_emails(held, found));
    if changes.is_empty() {
        Action::Unchanged { id: held.id }
    } else {
        Action::Update {
            id: held.id,
            changes,
        }
    }
}

/// Create mode on a user that exists: fail, update or leave out, as the operator chose.
fn existing(user: &User, held: &zendesk::User, found: &Found, choice: Existing) -> Action {
    let reason = format!(
        "user {} already has this {}: create_many refuses it",
        held.id,
        if keyed_text(user, held) {
            "external_id"
        } else {
            "email"
        }
    );
    match choice {
        Existing::Fail => Action::WouldFail {
            reason: format!("{reason} (--existing update sends it as an update)"),
        },
        Existing::Update => update(user, held, found),
        Existing::Skip => Action::LeftOut {
            id: held.id,
            reason: format!("{reason}; left out (--existing skip)"),
        },
    }
}

fn keyed_text(user: &User, held: &zendesk::User) -> bool {
    matches!((&user.external_id, &held.external_id), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// `external_id E-1`, `id 42`, `email ana@x.com`.
fn key_text(user: &User) -> String {
    if let Some(id) = user.id {
        format!("id {id}")
    } else if let Some(x) = &user.external_id {
        format!("external_id {x}")
    } else {
        format!("email {}", user.email.as_deref().unwrap_or_default())
    }
}

#[cfg(test)]
mod tags_tests {
    use super::*;

    #[test]
    fn add_sends_the_held_tags_with_the_rows_new_ones() {
        let mut found = Found::default();
        let held: zendesk::User = serde_json::from_value(serde_json::json!({
            "id": 7, "external_id": "E-1", "tags": ["vip", "beta"]
        }))
        .unwrap();
        found.by_external_id.insert("e-1".into(), held);
        let mut user = User {
            external_id: Some("E-1".into()),
            tags: Some(vec!["VIP".into(), "newsletter".into()]),
            ..User::default()
        };
        add_held_tags(&mut user, &found);
        assert_eq!(
            user.tags,
            Some(vec!["vip".into(), "beta".into(), "newsletter".into()])
        );
        let mut new = User {
            external_id: Some("E-9".into()),
            tags: Some(vec!["x".into()]),
            ..User::default()
        };
        add_held_tags(&mut new, &found);
        assert_eq!(
            new.tags,
            Some(vec!["x".into()]),
            "a new user's tags as sent"
        );
    }
}

#[cfg(test)]
mod settings_tests {
    use serde_json::json;

    use super::{is_e164, settings_warnings};

    #[test]
    fn settings_that_change_what_rows_do_are_said() {
        let off = json!({"tagging": false, "end_user_phone_number_validation": true});
        let phones = ["+4915112345000", "0151 123"];
        let warnings = settings_warnings(&off, 3, phones.iter().filter(|p| !is_e164(p)).count());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("3 rows send tags"));
        assert!(warnings[1].starts_with("1 rows send a phone"));
        let on = json!({"tagging": true, "end_user_phone_number_validation": false});
        assert!(settings_warnings(&on, 3, 1).is_empty());
        assert!(
            settings_warnings(&json!({}), 3, 1).is_empty(),
            "unknown: silent"
        );
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::payload::OrganizationRef;

    fn user(i: usize, external: bool, email: bool, org: Option<&str>) -> (u32, User) {
        let user = User {
            external_id: external.then(|| format!("X-{i}")),
            email: email.then(|| format!("u{i}@x.com")),
            organization: org.map(|name| OrganizationRef { name: name.into() }),
            ..User::default()
        };
        (u32::try_from(i).unwrap() + 2, user)
    }

    #[rstest]
    // 250 external ids: 3 show_many calls; their emails may each need a search.
    #[case::external_ids(250, true, true, None, 3, 253, 3.0 / 700.0)]
    // 250 emails alone: one search each.
    #[case::emails_only(250, false, true, None, 250, 250, 250.0 / 700.0)]
    // External ids without emails: nothing more to search.
    #[case::ids_only(100, true, false, None, 1, 1, 1.0 / 700.0)]
    // Two names of one organization, in different case: one name, so one page of the list
    // surely; at most the list or a search, and an autocomplete.
    #[case::organizations(2, true, false, Some("Acme"), 2, 4, 2.0 / 700.0)]
    fn the_cost_is_known_before_any_lookup(
        #[case] rows: usize,
        #[case] external: bool,
        #[case] email: bool,
        #[case] org: Option<&str>,
        #[case] requests: u64,
        #[case] at_most: u64,
        #[case] minutes: f64,
    ) {
        let mut input = PlanInput::default();
        for i in 0..rows {
            let org = org.map(|o| {
                if i % 2 == 0 {
                    o.to_owned()
                } else {
                    o.to_uppercase()
                }
            });
            input.users.push(user(i, external, email, org.as_deref()));
        }
        let rate = RateInfo {
            limit: Some(700),
            ..RateInfo::default()
        };
        let cost = estimate(&input, &rate);
        assert_eq!((cost.requests, cost.at_most), (requests, at_most));
        assert!((cost.minutes - minutes).abs() < 1e-9, "{}", cost.minutes);
        assert_eq!(estimate(&input, &RateInfo::default()).minutes, 0.0);
    }
}
