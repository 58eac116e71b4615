//! The organizations a run creates before its users (issue 15, item 2).
//!
//! The plan lists the organizations the account lacks ([`Outbox::organizations`]); the
//! bodies of their users name them by name. Before any user is sent they are created with
//! `organizations/create_many` (100 a call, a job each) through the run's journal, as the users
//! are: an `org_sending` line is synced before a call leaves, `org_accepted` holds its job,
//! `org_resolved` each organization's end. When a call's answer is lost, its job fails or
//! vanishes, a result cannot be tied to its organization, or Zendesk refuses a name as taken,
//! the names are looked up (`organizations/search?name=`, exact and ignoring case, as Zendesk
//! compares names) before anything is sent again, so none is created twice.
//!
//! Then every user is sent with the `organization_id` its organization got (`Ids::fill`,
//! never by name), and the users of an organization that could not be created end `skipped`
//! with the reason, journalled before the users' engine starts.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use super::journal::{Entry, Journal, Open, Position, position};
use super::outbox::Outbox;
use super::pacer::{Pacer, backoff, lookup_again};
use super::{EngineOptions, ImportError, ImportEvent, MAX_JOBS, MatchedBy, Outcome, WaitReason};
use crate::payload::MemberOf;
use crate::plan::orgs::{OrgHolder as _, name_key};
use crate::zendesk::results::match_results;
use crate::zendesk::{Answer, BulkEndpoint, Client, JobState, JobStatus, ZendeskError};

/// The error code of a user skipped because its organization could not be created: `retry`
/// sends such users again, creating the organization first.
pub const ORGANIZATION_NOT_CREATED: &str = "OrganizationNotCreated";

/// One organization the run creates before its users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedOrg {
    /// As the file first spells it, trimmed: sent as its `name`.
    pub name: String,
    /// The run's users that name it.
    pub users: u64,
}

impl PlannedOrg {
    /// Organizations per `organizations/create_many` call, Zendesk's most.
    pub const PER_CALL: usize = 100;

    /// `create_many` calls (each a job) that create `count` organizations.
    pub fn calls(count: usize) -> usize {
        count.div_ceil(Self::PER_CALL)
    }
}

/// What creating `count` organizations costs, said before anything is sent: `1 request
/// (organizations/create_many, 100 a call, a job each) before any user`.
pub fn cost_text(count: usize) -> String {
    let calls = PlannedOrg::calls(count);
    let s = if calls == 1 { "" } else { "s" };
    format!(
        "{calls} request{s} (organizations/create_many, {} a call, a job each) before any user",
        PlannedOrg::PER_CALL
    )
}

/// How one organization of the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgOutcome {
    /// Its place in the plan's list ([`Outbox::organizations`]).
    pub index: usize,
    pub name: String,
    /// `created` (with its id: by this run, or found in Zendesk after a lost answer),
    /// `failed` (Zendesk's error) or `unknown` (it could not be confirmed either way).
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The run's users that name it.
    #[serde(default)]
    pub users: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_by: Option<MatchedBy>,
}

impl OrgOutcome {
    /// Created, with the id its users are sent with.
    pub fn is_created(&self) -> bool {
        self.outcome == Outcome::Created && self.id.is_some()
    }

    /// Why its users are not sent.
    fn reason(&self) -> String {
        let why = [self.error.as_deref(), self.details.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        let what = if self.outcome == Outcome::Unknown {
            "could not be confirmed created"
        } else {
            "could not be created"
        };
        format!("organization '{}' {what}: {why}", self.name)
    }

    fn with_error(mut self, error: impl Into<String>, details: Option<String>) -> Self {
        self.error = Some(error.into());
        self.details = details;
        self
    }
}

/// The organizations of a run, by how they ended; `total` is the plan's list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgCounts {
    pub total: u64,
    pub created: u64,
    pub failed: u64,
    pub unknown: u64,
}

impl OrgCounts {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The counts of `outcomes` among `total` organizations.
    pub fn of<'a>(total: usize, outcomes: impl IntoIterator<Item = &'a OrgOutcome>) -> Self {
        let mut counts = Self {
            total: total as u64,
            ..Self::default()
        };
        for o in outcomes {
            match o.outcome {
                Outcome::Created => counts.created += 1,
                Outcome::Unknown => counts.unknown += 1,
                _ => counts.failed += 1,
            }
        }
        counts
    }

    pub fn finished(&self) -> u64 {
        self.created + self.failed + self.unknown
    }
}

impl fmt::Display for OrgCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} organizations: {} created, {} failed",
            self.total, self.created, self.failed
        )?;
        if self.unknown > 0 {
            write!(f, ", {} unknown", self.unknown)?;
        }
        let left = self.total.saturating_sub(self.finished());
        if left > 0 {
            write!(f, ", {left} not created yet")?;
        }
        Ok(())
    }
}

/// A request body read for its users' organization names only.
#[derive(Deserialize)]
struct NamesBody {
    users: Vec<NameOnly>,
}

#[derive(Deserialize)]
struct NameOnly {
    #[serde(default)]
    organization: Option<NameOnlyOrg>,
}

#[derive(Deserialize)]
struct NameOnlyOrg {
    name: String,
}

/// The organization each user of a `{"users": [...]}` body names by name, by position.
pub fn names_in(body: &[u8]) -> Result<Vec<Option<String>>, serde_json::Error> {
    let body: NamesBody = serde_json::from_slice(body)?;
    Ok(body
        .users
        .into_iter()
        .map(|u| u.organization.map(|o| o.name))
        .collect())
}

/// Lists in `plan` the organizations of `missing` (names the account lacks) that its users
/// name, with how many users each: what the run creates first. Names match as Zendesk's do.
pub fn list_missing(plan: &mut Outbox, missing: &[String]) -> Result<(), ImportError> {
    let mut count = MissingCount::new(missing);
    for (b, batch) in plan.batches.iter().enumerate() {
        count.add_batch(b, batch)?;
    }
    plan.organizations = count.finish();
    Ok(())
}

/// The users that name each of the missing organizations, counted batch by batch as a plan
/// streams (see [`list_missing`]): memory holds one number per name, not the batches.
#[derive(Debug, Clone)]
pub(crate) struct MissingCount {
    missing: Vec<String>,
    wanted: HashMap<String, usize>,
    users: Vec<u64>,
}

impl MissingCount {
    pub(crate) fn new(missing: &[String]) -> Self {
        let wanted = missing
            .iter()
            .enumerate()
            .map(|(i, name)| (name_key(name), i))
            .collect();
        Self {
            missing: missing.to_vec(),
            wanted,
            users: vec![0; missing.len()],
        }
    }

    /// Counts the users of batch `b`, reading their organization names from its body.
    pub(crate) fn add_batch(
        &mut self,
        b: usize,
        batch: &super::OutboxBatch,
    ) -> Result<(), ImportError> {
        let names = names_in(&batch.body).map_err(|e| ImportError::Encode {
            batch: b,
            rows: super::report::row_list(&batch.rows),
            reason: e.to_string(),
        })?;
        for name in names.iter().flatten() {
            self.add(name);
        }
        for key in &batch.keys {
            self.add_members(&key.memberships);
        }
        Ok(())
    }

    /// Counts one user: the organization its body names, and the memberships it joins.
    pub(crate) fn add_user(&mut self, named: Option<&str>, memberships: &[MemberOf]) {
        if let Some(name) = named {
            self.add(name);
        }
        self.add_members(memberships);
    }

    /// A user joining one as a membership needs it too (issue 15, item 3): those without an
    /// id yet.
    fn add_members(&mut self, memberships: &[MemberOf]) {
        for m in memberships.iter().filter(|m| m.id.is_none()) {
            self.add(&m.name);
        }
    }

    fn add(&mut self, name: &str) {
        if let Some(&i) = self.wanted.get(&name_key(name)) {
            self.users[i] += 1;
        }
    }

    /// The organizations some user names, in the order of `missing`.
    pub(crate) fn finish(self) -> Vec<PlannedOrg> {
        self.missing
            .into_iter()
            .zip(self.users)
            .filter(|(_, users)| *users > 0)
            .map(|(name, users)| PlannedOrg {
                name: name.trim().to_owned(),
                users,
            })
            .collect()
    }
}

/// A retry's organizations: those of the earlier run (`old`, as its journal `replay` left
/// them) that the retried users name, listed in `plan`. Returns the journal lines that start
/// the new run from there: the ones created keep their id (never created again), the others
/// are marked maybe sent, so they are looked up by name before any is created.
pub fn carry_over(
    plan: &mut Outbox,
    old: &[PlannedOrg],
    replay: &super::journal::Replay,
) -> Result<Vec<Entry>, ImportError> {
    let names: Vec<String> = old.iter().map(|o| o.name.clone()).collect();
    list_missing(plan, &names)?;
    Ok(carried(&plan.organizations, replay))
}

/// The journal lines of [`carry_over`] for `listed`, the earlier run's organizations its
/// retried users name (counted as the retry's plan was written, batch by batch).
pub(crate) fn carried(listed: &[PlannedOrg], replay: &super::journal::Replay) -> Vec<Entry> {
    let by_key: HashMap<String, &OrgOutcome> = replay
        .orgs
        .finished
        .values()
        .filter(|o| o.is_created())
        .map(|o| (name_key(&o.name), o))
        .collect();
    let mut created = Vec::new();
    let mut maybe: BTreeMap<usize, Vec<Position>> = BTreeMap::new();
    for (index, org) in listed.iter().enumerate() {
        match by_key.get(&name_key(&org.name)) {
            Some(done) => created.push(OrgOutcome {
                index,
                users: org.users,
                ..(*done).clone()
            }),
            None => maybe
                .entry(index / PlannedOrg::PER_CALL)
                .or_default()
                .push(position(index % PlannedOrg::PER_CALL)),
        }
    }
    let mut entries = Vec::new();
    if !created.is_empty() {
        entries.push(Entry::OrgResolved { outcomes: created });
    }
    entries.extend(
        maybe
            .into_iter()
            .map(|(batch, positions)| Entry::OrgSending {
                batch,
                positions,
                attempt: 1,
            }),
    );
    entries
}

/// The `organization_id` each organization of the run got, by [`name_key`].
#[derive(Debug, Clone, Default)]
pub(super) struct Ids {
    by_key: HashMap<String, u64>,
    /// The plan creates organizations: its bodies name them and are filled in. A plan
    /// without (every plan before organizations were created first) is sent as it is.
    active: bool,
}

impl Ids {
    /// The ids by [`name_key`], for the memberships added after the users.
    pub(super) fn by_name(&self) -> HashMap<String, u64> {
        self.by_key.clone()
    }

    /// The body with each user's organization sent as the id it got, never by name.
    pub(super) fn fill(&self, body: Bytes) -> Result<Bytes, String> {
        if !self.active {
            return Ok(body);
        }
        let mut all: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let Some(users) = all.get_mut("users").and_then(Value::as_array_mut) else {
            return Ok(body);
        };
        let mut changed = false;
        for user in users {
            let Some(name) = user.org_name() else {
                continue;
            };
            let id = *self.by_key.get(&name_key(name)).ok_or_else(|| {
                format!(
                    "a user names organization '{}', which this run has not created",
                    name.trim()
                )
            })?;
            user.send_id(id);
            changed = true;
        }
        if !changed {
            return Ok(body);
        }
        serde_json::to_vec(&all)
            .map(Bytes::from)
            .map_err(|e| e.to_string())
    }
}

/// What the organizations' phase leaves the users' run.
#[derive(Debug, Default)]
pub(super) struct Done {
    pub ids: Ids,
    pub counts: OrgCounts,
    /// `create_many` calls sent by this process.
    pub requests: u64,
    /// Cancelled before every organization was finished: no user may be sent.
    pub stopped: bool,
}

/// Creates the plan's organizations that the journal does not hold finished, then finishes
/// as `skipped` the users of those that could not be created. Nothing to do (and no request)
/// for a plan without organizations.
pub(super) async fn create_first(
    plan: &super::OutboxFile,
    client: &Client,
    journal: &mut Journal,
    events: &Sender<ImportEvent>,
    (cancel, options): (&CancellationToken, &EngineOptions),
) -> Result<Done, ImportError> {
    if plan.organizations.is_empty() {
        return Ok(Done::default());
    }
    let mut phase = Phase::new(plan, client, journal, events, options);
    phase.replay();
    phase.emit(false).await;
    let stopped = phase.run(cancel).await?;
    if !stopped {
        phase.emit(true).await;
        phase.skip_users()?;
    }
    Ok(Done {
        ids: phase.ids(),
        counts: phase.counts(),
        requests: phase.requests,
        stopped,
    })
}

/// Some organizations of one `create_many` call, sent (or to be sent) together.
#[derive(Debug, Clone)]
struct Unit {
    batch: usize,
    positions: Vec<Position>,
    /// Calls sent for them so far.
    attempt: u32,
    /// Zendesk refused them as taken: the lookup finds who holds the name.
    taken: bool,
}

impl Unit {
    fn new(batch: usize, positions: Vec<Position>, attempt: u32) -> Self {
        Self {
            batch,
            positions,
            attempt,
            taken: false,
        }
    }
}

#[derive(Debug)]
struct Job {
    id: String,
    unit: Unit,
    /// Polls in a row that did not find it.
    missing: u32,
}

struct Phase<'a> {
    plan: &'a super::OutboxFile,
    client: &'a Client,
    journal: &'a mut Journal,
    events: &'a Sender<ImportEvent>,
    options: &'a EngineOptions,
    pacer: Pacer,
    finished: BTreeMap<usize, OrgOutcome>,
    queue: VecDeque<Unit>,
    /// Maybe created: looked up once due. The count is lookups tried.
    uncertain: Vec<(Instant, Unit, u32)>,
    jobs: Vec<Job>,
    next_poll: Instant,
    poll_failures: u32,
    requests: u64,
}

impl<'a> Phase<'a> {
    fn new(
        plan: &'a super::OutboxFile,
        client: &'a Client,
        journal: &'a mut Journal,
        events: &'a Sender<ImportEvent>,
        options: &'a EngineOptions,
    ) -> Self {
        Self {
            plan,
            client,
            journal,
            events,
            options,
            pacer: Pacer::new(options.rate_window, options.rate_reserve),
            finished: BTreeMap::new(),
            queue: VecDeque::new(),
            uncertain: Vec::new(),
            jobs: Vec::new(),
            next_poll: Instant::now(),
            poll_failures: 0,
            requests: 0,
        }
    }

    fn index(batch: usize, position: Position) -> usize {
        batch * PlannedOrg::PER_CALL + usize::from(position)
    }

    fn org(&self, batch: usize, position: Position) -> &PlannedOrg {
        &self.plan.organizations[Self::index(batch, position)]
    }

    fn outcome(&self, batch: usize, position: Position, outcome: Outcome) -> OrgOutcome {
        let org = self.org(batch, position);
        OrgOutcome {
            index: Self::index(batch, position),
            name: org.name.clone(),
            outcome,
            id: None,
            users: org.users,
            error: None,
            details: None,
            matched_by: None,
        }
    }

    /// What the journal says: finished organizations kept, jobs followed, calls that may have
    /// been accepted looked up first (every unfinished one when the journal is damaged), the
    /// rest queued.
    fn replay(&mut self) {
        let replay = self.journal.replay();
        self.finished = replay.orgs.finished.clone();
        let open = replay.orgs.open.clone();
        let damaged = replay.damage.is_some();
        let total = self.plan.organizations.len();
        let settle = Instant::now() + self.options.lost_answer_settle;
        for batch in 0..PlannedOrg::calls(total) {
            let size = (total - batch * PlannedOrg::PER_CALL).min(PlannedOrg::PER_CALL);
            let finished = &self.finished;
            let unfinished = |positions: &[Position]| -> Vec<Position> {
                positions
                    .iter()
                    .copied()
                    .filter(|&p| {
                        usize::from(p) < size && !finished.contains_key(&Self::index(batch, p))
                    })
                    .collect()
            };
            let mut followed: HashSet<Position> = HashSet::new();
            let mut maybe: HashSet<Position> = HashSet::new();
            let mut attempt = 1;
            for entry in open.get(&batch).into_iter().flatten() {
                let positions = unfinished(entry.positions());
                match entry {
                    Open::Job { job_id, .. } => {
                        followed.extend(&positions);
                        if !positions.is_empty() {
                            let unit = Unit::new(batch, positions, 1);
                            let id = job_id.clone();
                            self.jobs.push(Job {
                                id,
                                unit,
                                missing: 0,
                            });
                        }
                    }
                    Open::Sending { attempt: a, .. } => {
                        maybe.extend(positions);
                        attempt = attempt.max(*a);
                    }
                }
            }
            let all: Vec<Position> = (0..size).map(position).collect();
            let (looked_up, sent): (Vec<Position>, Vec<Position>) = unfinished(&all)
                .into_iter()
                .filter(|p| !followed.contains(p))
                .partition(|p| damaged || maybe.contains(p));
            if !looked_up.is_empty() {
                let unit = Unit::new(batch, looked_up, attempt);
                self.uncertain.push((settle, unit, 0));
            }
            if !sent.is_empty() {
                self.queue.push_back(Unit::new(batch, sent, 0));
            }
        }
    }

    fn counts(&self) -> OrgCounts {
        OrgCounts::of(self.plan.organizations.len(), self.finished.values())
    }

    fn ids(&self) -> Ids {
        Ids {
            by_key: self
                .finished
                .values()
                .filter(|o| o.is_created())
                .filter_map(|o| {
                    Some((name_key(&self.plan.organizations.get(o.index)?.name), o.id?))
                })
                .collect(),
            active: true,
        }
    }

    fn paused(&self) -> bool {
        self.options.pause.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Until every organization is finished (false), or cancelled (true: jobs in flight are
    /// followed for a while first, and left open in the journal for resume after that).
    async fn run(&mut self, cancel: &CancellationToken) -> Result<bool, ImportError> {
        let mut cancelled_at: Option<Instant> = None;
        let mut was_paused = false;
        let concurrency = self.options.concurrency.clamp(1, MAX_JOBS);
        loop {
            let now = Instant::now();
            if self.queue.is_empty() && self.uncertain.is_empty() && self.jobs.is_empty() {
                return Ok(false);
            }
            if cancelled_at.is_none() && cancel.is_cancelled() {
                cancelled_at = Some(now);
            }
            if let Some(at) = cancelled_at
                && (self.jobs.is_empty() || now >= at + self.options.cancel_follow)
            {
                return Ok(true);
            }
            let paused = self.paused();
            if paused != was_paused {
                was_paused = paused;
                let event = if paused {
                    ImportEvent::Paused
                } else {
                    ImportEvent::Resumed
                };
                self.send(event).await;
            }
            let sending = cancelled_at.is_none() && !paused;
            if self.pacer.is_ready(now) {
                let due = self.uncertain.iter().position(|(at, ..)| *at <= now);
                if let Some(at) = due.filter(|_| sending) {
                    let (_, unit, tries) = self.uncertain.remove(at);
                    self.look_up(unit, tries + 1).await?;
                    continue;
                }
                if sending && !self.queue.is_empty() && self.jobs.len() < concurrency {
                    self.send_round(concurrency - self.jobs.len()).await?;
                    continue;
                }
                if !self.jobs.is_empty() && self.next_poll <= now {
                    self.poll().await?;
                    continue;
                }
            }
            let mut wake = now + Duration::from_secs(1);
            if !self.jobs.is_empty() {
                wake = wake.min(self.next_poll);
            }
            for (at, ..) in &self.uncertain {
                wake = wake.min(*at);
            }
            wake = wake.max(self.pacer.ready_at());
            if let Some(at) = cancelled_at {
                wake = wake.min(at + self.options.cancel_follow);
            }
            let wake = wake.max(now + Duration::from_micros(100));
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {}
                () = cancel.cancelled(), if cancelled_at.is_none() => {}
            }
        }
    }

    /// The `create_many` body of these organizations: their names.
    fn body(&self, unit: &Unit) -> Bytes {
        let orgs: Vec<Value> = unit
            .positions
            .iter()
            .map(|&p| serde_json::json!({ "name": self.org(unit.batch, p).name }))
            .collect();
        Bytes::from(serde_json::json!({ "organizations": orgs }).to_string())
    }

    /// Sends up to `room` calls at once: every `org_sending` line synced before any leaves.
    async fn send_round(&mut self, room: usize) -> Result<(), ImportError> {
        let now = Instant::now();
        let mut units = Vec::new();
        while units.len() < room && self.pacer.is_ready(now) {
            let Some(mut unit) = self.queue.pop_front() else {
                break;
            };
            unit.attempt += 1;
            self.journal.record_unsynced(&Entry::OrgSending {
                batch: unit.batch,
                positions: unit.positions.clone(),
                attempt: unit.attempt,
            })?;
            self.pacer.sent(now);
            units.push(unit);
        }
        self.journal.sync()?;
        self.requests += units.len() as u64;
        let endpoint = BulkEndpoint::OrganizationsCreateMany;
        let calls = units.into_iter().map(|unit| {
            let body = self.body(&unit);
            let client = self.client.clone();
            async move {
                let result = client
                    .send_bulk(endpoint.method(), endpoint.path(), body)
                    .await;
                (unit, result)
            }
        });
        let answers = futures_util::future::join_all(calls).await;
        if !self.jobs.is_empty() || answers.iter().any(|(_, r)| r.is_ok()) {
            self.next_poll = self.next_poll.max(now + self.options.poll_interval);
        }
        for (unit, result) in answers {
            self.on_sent(unit, result).await?;
        }
        Ok(())
    }

    async fn on_sent(
        &mut self,
        unit: Unit,
        result: Result<Answer<JobStatus>, ZendeskError>,
    ) -> Result<(), ImportError> {
        let error = match result {
            Ok(answer) => {
                self.pacer.observe(&answer.rate);
                let id = answer.value.id;
                if self.jobs.iter().any(|j| j.id == id) {
                    let why = format!("Zendesk answered with job {id}, the id of another call");
                    return self.maybe_accepted(unit, &why).await;
                }
                // Lost in a power cut, the call is looked up on resume.
                self.journal.record_unsynced(&Entry::OrgAccepted {
                    batch: unit.batch,
                    positions: unit.positions.clone(),
                    job_id: id.clone(),
                })?;
                if self.jobs.is_empty() {
                    self.next_poll = Instant::now() + self.options.poll_interval;
                }
                self.jobs.push(Job {
                    id,
                    unit,
                    missing: 0,
                });
                return Ok(());
            }
            Err(error) => error,
        };
        let not_accepted = Entry::OrgNotAccepted {
            batch: unit.batch,
            positions: unit.positions.clone(),
        };
        if self.rate_limited(&error).await {
            self.journal.record(&not_accepted)?;
            let mut unit = unit;
            unit.attempt = unit.attempt.saturating_sub(1);
            self.queue.push_front(unit);
            return Ok(());
        }
        let accepted_unread =
            matches!(&error, ZendeskError::Decode { status, .. } if (200..300).contains(status));
        if error.is_transient() || accepted_unread {
            return self.maybe_accepted(unit, &error.to_string()).await;
        }
        self.journal.record(&not_accepted)?;
        if matches!(error.status(), Some(401 | 403)) || matches!(error, ZendeskError::Auth(_)) {
            return Err(ImportError::Refused(Box::new(error)));
        }
        // Refused as it stands (400, 422…): sent again, it would be refused again.
        let (code, details) = super::engine::refusal_text(&error);
        let outcomes = unit
            .positions
            .iter()
            .map(|&p| {
                self.outcome(unit.batch, p, Outcome::Failed)
                    .with_error(code.clone(), details.clone())
            })
            .collect();
        self.resolve(outcomes).await
    }

    /// Reads a refused request's rate headers; after a 429 the phase waits. True for a 429.
    async fn rate_limited(&mut self, error: &ZendeskError) -> bool {
        let Some(until) = self.pacer.refused(error, self.options) else {
            return false;
        };
        self.send(ImportEvent::Waiting {
            reason: WaitReason::RateLimit,
            until,
        })
        .await;
        true
    }

    /// No answer, a 5xx, a lost or failed job: the organizations may exist now; they are
    /// looked up once Zendesk had time to finish, before any is sent again.
    async fn maybe_accepted(&mut self, unit: Unit, error: &str) -> Result<(), ImportError> {
        if unit.attempt >= self.options.max_attempts {
            let details = format!("no answer after {} attempts: {error}", unit.attempt);
            return self.give_up(&unit, "NoAnswer", &details).await;
        }
        let until = Instant::now() + self.options.lost_answer_settle;
        let reason = WaitReason::Retry {
            attempt: unit.attempt,
            error: format!(
                "organizations/create_many: {error}; their names are looked up before any is \
                 sent again"
            ),
        };
        self.uncertain.push((until, unit, 0));
        self.send(ImportEvent::Waiting { reason, until }).await;
        Ok(())
    }

    /// The organizations of `unit` end `unknown` with the reason.
    async fn give_up(&mut self, unit: &Unit, code: &str, details: &str) -> Result<(), ImportError> {
        let outcomes = unit
            .positions
            .iter()
            .map(|&p| {
                self.outcome(unit.batch, p, Outcome::Unknown)
                    .with_error(code, Some(details.to_owned()))
            })
            .collect();
        self.resolve(outcomes).await
    }

    async fn poll(&mut self) -> Result<(), ImportError> {
        let now = Instant::now();
        let ids: Vec<String> = self.jobs.iter().take(100).map(|j| j.id.clone()).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.pacer.sent(now);
        let answer = match self.client.job_statuses(&refs).await {
            Ok(answer) => answer,
            Err(error) => {
                if self.rate_limited(&error).await {
                    return Ok(());
                }
                self.poll_failures += 1;
                let refused = matches!(error.status(), Some(401 | 403));
                if refused || self.poll_failures > self.options.max_attempts {
                    return Err(ImportError::Refused(Box::new(error)));
                }
                let (base, max) = (self.options.backoff, self.options.max_backoff);
                self.next_poll = now + backoff(base, max, self.poll_failures);
                return Ok(());
            }
        };
        self.poll_failures = 0;
        self.pacer.observe(&answer.rate);
        self.next_poll = now + self.options.poll_interval;
        let mut seen: HashMap<String, JobStatus> = answer
            .value
            .into_iter()
            .map(|j| (j.id.clone(), j))
            .collect();
        for id in ids {
            match seen.remove(&id) {
                Some(status) => self.on_status(&status).await?,
                None => self.on_missing(&id).await?,
            }
        }
        Ok(())
    }

    /// A job `show_many` does not return: normal just after creation, lost after many polls.
    async fn on_missing(&mut self, id: &str) -> Result<(), ImportError> {
        let Some(at) = self.jobs.iter().position(|j| j.id == id) else {
            return Ok(());
        };
        self.jobs[at].missing += 1;
        if self.jobs[at].missing < self.options.job_missing_polls {
            return Ok(());
        }
        let job = self.jobs.remove(at);
        self.maybe_accepted(job.unit, &format!("job {id} cannot be found any more"))
            .await
    }

    /// A finished job: each organization created (with its id) or failed (Zendesk's error);
    /// those without a result that can be tied to them, refused as taken, or of a job that
    /// failed (it may have created some) are looked up.
    async fn on_status(&mut self, status: &JobStatus) -> Result<(), ImportError> {
        if !status.is_finished() {
            return Ok(());
        }
        let Some(at) = self.jobs.iter().position(|j| j.id == status.id) else {
            return Ok(());
        };
        let unit = self.jobs.remove(at).unit;
        let now = Instant::now();
        if status.status != JobState::Completed {
            self.uncertain.push((now, unit, 0));
            return Ok(());
        }
        let sent: Vec<Value> = unit
            .positions
            .iter()
            .map(|&p| serde_json::json!({ "name": self.org(unit.batch, p).name }))
            .collect();
        let mut placed = vec![false; sent.len()];
        let mut outcomes = Vec::new();
        let mut taken = Vec::new();
        for matched in match_results(&sent, status.result_list()) {
            let p = unit.positions[matched.position];
            let r = matched.result;
            if r.is_failure() && name_taken(r.details_text().as_deref()) {
                taken.push(p);
            } else if r.is_failure() {
                let code = r.error.clone().unwrap_or_else(|| "Failed".into());
                let o = self.outcome(unit.batch, p, Outcome::Failed);
                outcomes.push(o.with_error(code, r.details_text()));
            } else if let Some(id) = r.id {
                let mut o = self.outcome(unit.batch, p, Outcome::Created);
                o.id = Some(id);
                o.matched_by = Some(matched.rule.into());
                outcomes.push(o);
            } else {
                continue;
            }
            placed[matched.position] = true;
        }
        let unplaced: Vec<Position> = unit
            .positions
            .iter()
            .zip(&placed)
            .filter(|(_, placed)| !**placed)
            .map(|(p, _)| *p)
            .collect();
        self.resolve(outcomes).await?;
        for (positions, taken) in [(unplaced, false), (taken, true)] {
            if !positions.is_empty() {
                let unit = Unit {
                    positions,
                    taken,
                    ..unit.clone()
                };
                self.uncertain.push((now, unit, 0));
            }
        }
        Ok(())
    }

    /// Looks each name up: found ones are finished with the id Zendesk holds, the others are
    /// sent again (or, after too many calls, given up as unknown).
    async fn look_up(&mut self, unit: Unit, tries: u32) -> Result<(), ImportError> {
        let mut found: HashMap<Position, u64> = HashMap::new();
        for &p in &unit.positions {
            let name = self.org(unit.batch, p).name.clone();
            self.pacer.sent(Instant::now());
            match self.client.search_organizations_by_name(&name).await {
                Ok(answer) => {
                    self.pacer.observe(&answer.rate);
                    let key = name_key(&name);
                    if let Some(org) = answer.value.iter().find(|o| name_key(&o.name) == key) {
                        found.insert(p, org.id);
                    }
                }
                Err(error) => return self.lookup_failed(unit, tries, error).await,
            }
        }
        let details = if unit.taken {
            "Zendesk refused it as taken and holds an organization of this name (created by \
             this run's earlier call whose answer was lost, or by someone since the plan): its \
             users are sent with that id"
        } else {
            "found in Zendesk after its call's answer was lost"
        };
        let mut outcomes = Vec::new();
        let mut resend = Vec::new();
        for &p in &unit.positions {
            match found.get(&p) {
                Some(&id) => {
                    let mut o = self.outcome(unit.batch, p, Outcome::Created);
                    o.id = Some(id);
                    o.matched_by = Some(MatchedBy::Lookup);
                    o.details = Some(details.into());
                    outcomes.push(o);
                }
                None => resend.push(p),
            }
        }
        self.resolve(outcomes).await?;
        if resend.is_empty() {
            return Ok(());
        }
        let unit = Unit {
            positions: resend,
            taken: false,
            ..unit
        };
        if unit.attempt >= self.options.max_attempts {
            let details = format!(
                "not found by name after {} calls that Zendesk answered without creating it",
                unit.attempt
            );
            return self.give_up(&unit, "NotCreated", &details).await;
        }
        self.journal.record(&Entry::OrgNotAccepted {
            batch: unit.batch,
            positions: unit.positions.clone(),
        })?;
        self.queue.push_front(unit);
        Ok(())
    }

    async fn lookup_failed(
        &mut self,
        unit: Unit,
        tries: u32,
        error: ZendeskError,
    ) -> Result<(), ImportError> {
        let rate_limited = self.rate_limited(&error).await;
        if let Some((at, tries)) = lookup_again(&error, rate_limited, tries, self.options) {
            self.uncertain.push((at, unit, tries));
            return Ok(());
        }
        let details = format!("it may have been created, and the lookup by name failed: {error}");
        self.give_up(&unit, "NoAnswer", &details).await
    }

    /// Organizations finished: on disk, then counted and announced.
    async fn resolve(&mut self, outcomes: Vec<OrgOutcome>) -> Result<(), ImportError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        // Lost in a power cut, the job is polled (or the names looked up) again on resume.
        self.journal.record_unsynced(&Entry::OrgResolved {
            outcomes: outcomes.clone(),
        })?;
        for o in outcomes {
            self.finished.insert(o.index, o);
        }
        self.emit(false).await;
        Ok(())
    }

    /// Users of an organization that was not created end `skipped`, the reason said, one
    /// journal line per batch, before the users' engine reads the journal.
    fn skip_users(&mut self) -> Result<(), ImportError> {
        let failed: HashMap<String, String> = self
            .finished
            .values()
            .filter(|o| !o.is_created())
            .map(|o| (name_key(&o.name), o.reason()))
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        for b in 0..self.plan.batches() {
            let batch = self.plan.read(b)?;
            let names = names_in(&batch.body).map_err(|e| ImportError::Encode {
                batch: b,
                rows: super::report::row_list(&batch.rows),
                reason: e.to_string(),
            })?;
            let done = &self.journal.replay().finished;
            let outcomes: Vec<_> = batch
                .positions()
                .zip(&names)
                .filter(|(p, _)| !done.contains_key(&batch.index(*p)))
                .filter_map(|(p, name)| {
                    let reason = failed.get(&name_key(name.as_deref()?))?;
                    let o = batch.outcome(p, Outcome::Skipped);
                    Some(o.with_error(ORGANIZATION_NOT_CREATED, Some(reason.clone())))
                })
                .collect();
            if !outcomes.is_empty() {
                self.journal.record_applied(Entry::Resolved { outcomes })?;
            }
        }
        Ok(())
    }

    async fn emit(&mut self, done: bool) {
        let counts = self.counts();
        self.send(ImportEvent::Organizations { counts, done }).await;
    }

    /// A closed receiver (the UI went away) must not stop the import: events are dropped.
    async fn send(&self, event: ImportEvent) {
        crate::logging::import_event(&event);
        let _ignored = self.events.send(event).await;
    }
}

/// Zendesk's words for a unique name already in use (`Name:  Acme has already been taken`).
fn name_taken(details: Option<&str>) -> bool {
    details.is_some_and(|d| d.to_ascii_lowercase().contains("already been taken"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Mode;

    fn plan() -> Outbox {
        let mut plan = Outbox::new(Mode::Create);
        plan.batches.push(crate::import::OutboxBatch {
            first_index: 0,
            rows: vec![2, 3, 4],
            keys: vec![crate::import::UserKey::default(); 3],
            body: Bytes::from_static(
                br#"{"users":[{"name":"A","organization":{"name":" newco "}},{"name":"B"},{"name":"C","organization":{"name":"NEWCO"}}]}"#,
            ),
            sent_as: None,
        });
        plan
    }

    #[test]
    fn the_missing_names_users_name_are_listed_with_their_users() {
        let mut plan = plan();
        list_missing(&mut plan, &["Newco".into(), "Unused".into()]).unwrap();
        assert_eq!(
            plan.organizations,
            [PlannedOrg {
                name: "Newco".into(),
                users: 2
            }]
        );
        assert_eq!((PlannedOrg::calls(100), PlannedOrg::calls(101)), (1, 2));
        assert!(cost_text(201).starts_with("3 requests (organizations/create_many"));
    }

    #[test]
    fn bodies_are_sent_with_ids_and_never_by_name() {
        let body = plan().batches[0].body.clone();
        assert_eq!(
            Ids::default().fill(body.clone()).unwrap(),
            body,
            "a plan without organizations to create is sent as it is"
        );
        let ids = Ids {
            by_key: HashMap::from([("newco".to_owned(), 7)]),
            active: true,
        };
        let filled: Value = serde_json::from_slice(&ids.fill(body.clone()).unwrap()).unwrap();
        assert_eq!(
            filled["users"][0],
            serde_json::json!({"name": "A", "organization_id": 7})
        );
        assert_eq!(filled["users"][1], serde_json::json!({"name": "B"}));
        assert_eq!(filled["users"][2]["organization_id"], 7);
        let none = Ids {
            active: true,
            ..Ids::default()
        };
        let error = none.fill(body).unwrap_err();
        assert_eq!(
            error,
            "a user names organization 'newco', which this run has not created"
        );
    }

    #[test]
    fn a_retry_keeps_the_ids_created_and_looks_the_others_up_first() {
        let mut plan = plan();
        let old = [
            PlannedOrg {
                name: "Gone".into(),
                users: 1,
            },
            PlannedOrg {
                name: "Newco".into(),
                users: 5,
            },
        ];
        let mut replay = super::super::journal::Replay::default();
        let created = OrgOutcome {
            index: 1,
            name: "Newco".into(),
            outcome: Outcome::Created,
            id: Some(7),
            users: 5,
            error: None,
            details: None,
            matched_by: Some(MatchedBy::Index),
        };
        replay.orgs.finished.insert(1, created.clone());
        let entries = carry_over(&mut plan, &old, &replay).unwrap();
        assert_eq!(plan.organizations.len(), 1, "only those the users name");
        let kept = OrgOutcome {
            index: 0,
            users: 2,
            ..created
        };
        assert_eq!(
            entries,
            [Entry::OrgResolved {
                outcomes: vec![kept]
            }]
        );
        replay.orgs.finished.clear();
        let entries = carry_over(&mut plan, &old, &replay).unwrap();
        assert_eq!(
            entries,
            [Entry::OrgSending {
                batch: 0,
                positions: vec![0],
                attempt: 1
            }],
            "not created before: looked up by name before it is created"
        );
    }

    #[test]
    fn counts_say_what_is_left() {
        let o = |outcome| OrgOutcome {
            index: 0,
            name: "N".into(),
            outcome,
            id: Some(1),
            users: 1,
            error: None,
            details: None,
            matched_by: None,
        };
        let list = [o(Outcome::Created), o(Outcome::Failed), o(Outcome::Unknown)];
        let counts = OrgCounts::of(5, &list);
        assert_eq!(
            counts.to_string(),
            "5 organizations: 1 created, 1 failed, 1 unknown, 2 not created yet"
        );
        let failed = o(Outcome::Failed).with_error("HTTP422", Some("Name: is invalid".into()));
        assert_eq!(
            failed.reason(),
            "organization 'N' could not be created: HTTP422: Name: is invalid"
        );
    }
}
