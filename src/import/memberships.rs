//! The memberships a run adds once its users exist (issue 15, item 3).
//!
//! A user joining organizations besides its default one carries them in its key
//! ([`UserKey::memberships`], by name, with the id the plan found). Once every row is
//! finished, each user the run created or updated gets them with
//! `organization_memberships/create_many` (100 a call, a job each, as many jobs open at once as
//! the run allows and polled together), the id of an organization created first taken from
//! that phase. Through the run's journal, as the users are: a
//! `member_sending` line with the call's (user, organization) pairs is synced before the call
//! leaves, `member_accepted` holds its job, `member_resolved` each membership's end. When an
//! answer is lost, a job fails or vanishes, a result cannot be tied to its membership, or a
//! run is resumed with a call open, the users' memberships are read
//! (`users/{id}/organization_memberships`) before anything is sent again, so none is created
//! twice; a job a resume finds in the journal is polled with the first calls.
//!
//! Every request (a call, a poll, a lookup) is paced as the other phases' are ([`Pacer`]): it
//! waits until the pacer lets it leave, each answer's rate headers space the next once few
//! requests are left, and a 429 anywhere stops every request until its `Retry-After`, after
//! which the same request is made again (a lookup refused so costs no attempt).
//!
//! Zendesk does not document what it answers for a membership that exists: an error per item
//! whose details say so ends `already_held`, and a success ends `added` with the id it gives.
//! Memberships whose user did not end created or updated, or whose organization could not be
//! created, end `skipped` or `failed` with the reason, without a request.
//!
//! Memory grows little with the memberships: the phase holds those still to send as a few
//! numbers each (the organization's name an index into one table of the names the rows
//! spell), those ended as their end and id (Zendesk's error and details only for the few that
//! have them), those settled without a request as counts; the report walks the plan again in
//! order, one membership at a time ([`RunMemberships`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use super::journal::{Entry, Journal, JournalError, UserEnds};
use super::orgs::Ids;
use super::outbox_file::OutboxFile;
use super::pacer::Pacer;
use super::{EngineOptions, ImportError, ImportEvent, Outcome, WaitReason};
use crate::plan::orgs::name_key;
use crate::zendesk::memberships::MEMBERSHIPS_PER_CALL;
use crate::zendesk::{Client, JobState, JobStatus, ZendeskError};

/// How one membership ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberEnd {
    /// Created by this run (or found after a lost answer).
    Added,
    /// Zendesk answered that the user already belongs to the organization.
    AlreadyHeld,
    Failed,
    /// Not sent: its user was not created or updated.
    Skipped,
    /// Could not be confirmed either way.
    Unknown,
}

impl MemberEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::AlreadyHeld => "already_held",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Unknown => "unknown",
        }
    }
}

/// One membership of the run and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembershipOutcome {
    /// The sheet row of its user, and the user's place in the plan.
    pub row: u32,
    pub index: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
    pub organization: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<u64>,
    pub end: MemberEnd,
    /// The membership's id, when Zendesk gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl MembershipOutcome {
    fn pair(&self) -> Option<(u64, u64)> {
        Some((self.user_id?, self.organization_id?))
    }
}

/// How a membership ended, without the columns the plan gives again (row, user, organization):
/// what the journal's ends are kept as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub end: MemberEnd,
    /// The membership's id, when Zendesk gave one.
    pub id: Option<u64>,
    /// Zendesk's error and the details, for the few memberships that have them.
    pub why: Option<Box<Why>>,
}

/// The error and details of a membership's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    pub error: Option<String>,
    pub details: Option<String>,
}

impl Ended {
    fn new(
        end: MemberEnd,
        id: Option<u64>,
        error: Option<String>,
        details: Option<String>,
    ) -> Self {
        let why = (error.is_some() || details.is_some()).then(|| Box::new(Why { error, details }));
        Self { end, id, why }
    }

    fn of(o: MembershipOutcome) -> Self {
        Self::new(o.end, o.id, o.error, o.details)
    }

    /// A membership sent whose end the journal does not hold.
    fn not_added_yet() -> Self {
        Self::new(
            MemberEnd::Unknown,
            None,
            Some("NotAddedYet".into()),
            Some("not added yet: resuming the run adds it".into()),
        )
    }
}

/// The memberships of a run by how they ended; `total` is every membership its rows ask.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
/// (Counted in `u32`: a run's `Summary` sits in the TUI's run screen, kept small.)
pub struct MemberCounts {
    pub total: u32,
    pub added: u32,
    pub already_held: u32,
    pub failed: u32,
    pub skipped: u32,
    pub unknown: u32,
}

impl MemberCounts {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// `total` memberships, these ended so on top of those `self` counts.
    fn and(mut self, total: usize, ends: impl IntoIterator<Item = MemberEnd>) -> Self {
        self.total = u32::try_from(total).unwrap_or(u32::MAX);
        for end in ends {
            self.count(end, true);
        }
        self
    }

    /// Memberships ended, however.
    pub fn finished(&self) -> u32 {
        self.added + self.already_held + self.failed + self.skipped + self.unknown
    }

    /// One more membership ended so (`up`), or one fewer (its end replaced by a later one).
    fn count(&mut self, end: MemberEnd, up: bool) {
        let count = match end {
            MemberEnd::Added => &mut self.added,
            MemberEnd::AlreadyHeld => &mut self.already_held,
            MemberEnd::Failed => &mut self.failed,
            MemberEnd::Skipped => &mut self.skipped,
            MemberEnd::Unknown => &mut self.unknown,
        };
        *count = if up {
            count.saturating_add(1)
        } else {
            count.saturating_sub(1)
        };
    }
}

impl fmt::Display for MemberCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} memberships: {} added, {} already held, {} failed, {} skipped",
            self.total, self.added, self.already_held, self.failed, self.skipped
        )?;
        if self.unknown > 0 {
            write!(f, ", {} unknown", self.unknown)?;
        }
        let left = self.total.saturating_sub(self.finished());
        if left > 0 {
            write!(f, ", {left} not added yet")?;
        }
        Ok(())
    }
}

/// How memberships ended, by (user id, organization id), as the journal says: the end and
/// the membership's id in a flat table (32 bytes a slot, where a map of whole [`Ended`]s
/// took about 90), the error and details apart for the few that have them.
#[derive(Debug, Clone, Default)]
pub struct MemberEnds {
    /// The end, whether Zendesk gave the membership's id, and the id.
    ends: HashMap<(u64, u64), (MemberEnd, bool, u64), foldhash::fast::FixedState>,
    /// The error and details of the ends that have them.
    why: HashMap<(u64, u64), Box<Why>>,
}

impl MemberEnds {
    /// Notes how `pair` ended; a later end replaces an earlier one.
    pub fn insert(&mut self, pair: (u64, u64), ended: Ended) {
        let id = (ended.id.is_some(), ended.id.unwrap_or_default());
        self.ends.insert(pair, (ended.end, id.0, id.1));
        match ended.why {
            Some(why) => self.why.insert(pair, why),
            None => self.why.remove(&pair),
        };
    }

    /// How `pair` ended, when it did.
    pub fn get(&self, pair: &(u64, u64)) -> Option<Ended> {
        let &(end, has_id, id) = self.ends.get(pair)?;
        Some(Ended {
            end,
            id: has_id.then_some(id),
            why: self.why.get(pair).cloned(),
        })
    }

    pub fn contains_key(&self, pair: &(u64, u64)) -> bool {
        self.ends.contains_key(pair)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// What the journal says of the memberships.
#[derive(Debug, Clone, Default)]
pub struct MemberReplay {
    /// Finished, by (user id, organization id).
    pub finished: MemberEnds,
    /// Sent without an end recorded: the job, when one was recorded (one text a call).
    pub open: BTreeMap<(u64, u64), Option<Arc<str>>>,
}

impl MemberReplay {
    pub(super) fn sending(&mut self, pairs: Vec<(u64, u64)>) {
        for pair in pairs {
            self.open.insert(pair, None);
        }
    }

    pub(super) fn accepted(&mut self, pairs: Vec<(u64, u64)>, job: &str) {
        let job: Arc<str> = Arc::from(job);
        for pair in pairs {
            self.open.insert(pair, Some(Arc::clone(&job)));
        }
    }

    pub(super) fn resolved(&mut self, outcomes: Vec<MembershipOutcome>) {
        for o in outcomes {
            if let Some(pair) = o.pair() {
                self.open.remove(&pair);
                self.finished.insert(pair, Ended::of(o));
            }
        }
    }
}

/// Memberships the rows of `plan` ask for, whatever their users' ends.
pub fn asked(plan: &OutboxFile) -> Result<usize, JournalError> {
    let mut asked = 0;
    for b in 0..plan.batches() {
        asked += plan
            .batch(b)?
            .keys
            .iter()
            .map(|k| k.memberships.len())
            .sum::<usize>();
    }
    Ok(asked)
}

/// One membership a row asks, as the plan and the users' ends have it.
struct Planned<'a> {
    row: u32,
    index: u64,
    /// How its user ended, and the user's id.
    user: Option<(Outcome, Option<u64>)>,
    /// The user's id when it ended created or updated.
    user_id: Option<u64>,
    organization: &'a str,
    organization_id: Option<u64>,
}

impl Planned<'_> {
    /// The (user, organization) a request adds: none when either is missing.
    fn pair(&self) -> Option<(u64, u64)> {
        Some((self.user_id?, self.organization_id?))
    }

    /// The end of a membership without its pair, never sent: skipped when its user was not
    /// created or updated, failed when its organization could not be created.
    fn unsent(&self) -> Ended {
        if self.user_id.is_none() {
            let why = self
                .user
                .map_or("its user was not sent", |(o, _)| o.as_str());
            return Ended::new(
                MemberEnd::Skipped,
                None,
                Some("UserNotImported".into()),
                Some(format!("its user was not created or updated ({why})")),
            );
        }
        Ended::new(
            MemberEnd::Failed,
            None,
            Some("OrganizationNotCreated".into()),
            Some(format!(
                "organization '{}' could not be created",
                self.organization
            )),
        )
    }

    /// Its line of the report, ended so.
    fn outcome(&self, ended: &Ended) -> MembershipOutcome {
        let why = ended.why.as_deref();
        MembershipOutcome {
            row: self.row,
            index: self.index,
            user_id: self.user_id,
            organization: self.organization.to_owned(),
            organization_id: self.organization_id,
            end: ended.end,
            id: ended.id,
            error: why.and_then(|w| w.error.clone()),
            details: why.and_then(|w| w.details.clone()),
        }
    }
}

/// Hands every membership of the run to `f`, in plan order, a batch of the plan read at a
/// time: its user's end and id from `users`, an organization created first its id from `ids`.
fn each_planned<E: From<JournalError>>(
    plan: &OutboxFile,
    users: &UserEnds,
    ids: &HashMap<String, u64>,
    mut f: impl FnMut(&Planned<'_>) -> Result<(), E>,
) -> Result<(), E> {
    for b in 0..plan.batches() {
        planned_in(plan, b, (users, ids), &mut f)?;
    }
    Ok(())
}

/// [`each_planned`] of batch `b` of the plan.
fn planned_in<E: From<JournalError>>(
    plan: &OutboxFile,
    b: usize,
    (users, ids): (&UserEnds, &HashMap<String, u64>),
    f: &mut impl FnMut(&Planned<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let batch = plan.batch(b)?;
    for (p, key) in batch.positions().zip(&batch.keys) {
        if key.memberships.is_empty() {
            continue;
        }
        let index = batch.index(p);
        let user = users.get(index);
        let user_id = user
            .filter(|(outcome, _)| matches!(outcome, Outcome::Created | Outcome::Updated))
            .and_then(|(_, id)| id);
        for m in &key.memberships {
            f(&Planned {
                row: batch.row(p),
                index,
                user,
                user_id,
                organization: &m.name,
                organization_id: m.id.or_else(|| ids.get(&name_key(&m.name)).copied()),
            })?;
        }
    }
    Ok(())
}

/// The memberships to send, in plan order: read from the plan a batch at a time as the calls
/// take them (never the whole list), each pair once; then those a lookup found not added.
struct Queue<'a> {
    plan: &'a OutboxFile,
    users: &'a UserEnds,
    ids: HashMap<String, u64>,
    /// Each organization's name's place in the phase's table ([`Names`], filled first).
    names: HashMap<Arc<str>, u32>,
    /// The next batch of the plan to read.
    next: usize,
    ready: VecDeque<Member>,
    /// Pairs the journal holds sent without an end: followed or looked up apart.
    open: HashSet<(u64, u64)>,
    /// The place of the next membership of the plan read, counting every one in plan order.
    at: u32,
    /// Pairs asked on more than one row (one user on two rows), and the place of the one of
    /// each queued.
    twice: HashSet<(u64, u64)>,
    queued: HashMap<(u64, u64), u32>,
    /// Rows asking a pair another row sends: their place, and that row's.
    repeats: Vec<(u32, u32)>,
}

impl Queue<'_> {
    /// Reads the plan on until `want` memberships are ready or it is read; those ended
    /// before it reads them (`ends`: never sent, or finished in the journal) are passed.
    fn fill(&mut self, want: usize, ends: &[Option<MemberEnd>]) -> Result<(), JournalError> {
        while self.ready.len() < want && self.next < self.plan.batches() {
            let Self {
                plan,
                users,
                ids,
                names,
                ready,
                open,
                twice,
                queued,
                repeats,
                next,
                at,
            } = self;
            planned_in(plan, *next, (users, ids), &mut |m| {
                let place = *at;
                *at += 1;
                let Some(pair) = m.pair() else {
                    return Ok::<(), JournalError>(());
                };
                if ends.get(place as usize).is_some_and(Option::is_some) || open.contains(&pair) {
                    return Ok(());
                }
                if twice.contains(&pair) {
                    if let Some(&first) = queued.get(&pair) {
                        repeats.push((place, first));
                        return Ok(());
                    }
                    queued.insert(pair, place);
                }
                ready.push_back(Member {
                    user: pair.0,
                    org: pair.1,
                    index: m.index,
                    row: m.row,
                    name: names.get(m.organization).copied().unwrap_or_default(),
                    at: place,
                });
                Ok(())
            })?;
            *next += 1;
        }
        Ok(())
    }
}

/// A membership the phase sends: its pair, and where its report line comes from (the
/// organization's name as an index into the phase's table of names).
#[derive(Debug, Clone, Copy)]
struct Member {
    user: u64,
    org: u64,
    index: u64,
    row: u32,
    name: u32,
    /// Its place among the plan's memberships, in plan order ([`Phase::ends`]).
    at: u32,
}

impl Member {
    fn pair(&self) -> (u64, u64) {
        (self.user, self.org)
    }
}

/// Each organization's name once, however many rows spell it so.
#[derive(Debug, Default)]
struct Names {
    list: Vec<Arc<str>>,
    at: HashMap<Arc<str>, u32>,
}

impl Names {
    fn of(&mut self, name: &str) -> u32 {
        if let Some(&at) = self.at.get(name) {
            return at;
        }
        let at = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(name);
        self.list.push(Arc::clone(&name));
        self.at.insert(name, at);
        at
    }
}

/// What the memberships' phase leaves the run.
#[derive(Debug, Default)]
pub(super) struct Done {
    pub counts: MemberCounts,
    pub requests: u64,
    pub polls: u64,
    /// Cancelled before every membership was finished.
    pub stopped: bool,
}

/// Adds the memberships of the users the run created or updated that the journal does not
/// hold finished. Nothing to do (and no request) for a plan without memberships.
pub(super) async fn add(
    plan: &OutboxFile,
    client: &Client,
    journal: &mut Journal,
    events: &Sender<ImportEvent>,
    (cancel, options, ids): (&CancellationToken, &EngineOptions, &Ids),
) -> Result<Done, ImportError> {
    let total = asked(plan)?;
    if total == 0 {
        return Ok(Done::default());
    }
    journal.sync()?;
    let users = super::journal::user_ends(journal.dir(), plan.rows())?;
    let replay = journal.take_members();
    let mut names = Names::default();
    // How each membership of the plan ended, by its place in plan order: a byte each.
    let mut ends: Vec<Option<MemberEnd>> = vec![None; total];
    let (mut pairs, mut uncertain) = (Vec::new(), Vec::new());
    let mut jobs: BTreeMap<Arc<str>, Vec<Member>> = BTreeMap::new();
    let by_name = ids.by_name();
    // A first pass settles those never sent and those the journal holds finished, names
    // every organization once, and takes the memberships the journal holds sent without an
    // end; of the others only the pairs, to find those asked twice, and not past it.
    let mut at = 0u32;
    each_planned(plan, &users, &by_name, |m| {
        let place = at;
        at += 1;
        let end = match m.pair() {
            None => Some(m.unsent().end),
            Some(pair) => replay.finished.get(&pair).map(|e| e.end),
        };
        if let Some(end) = end {
            if let Some(slot) = ends.get_mut(place as usize) {
                *slot = Some(end);
            }
            return Ok::<(), JournalError>(());
        }
        let Some(pair) = m.pair() else {
            return Ok(());
        };
        let member = Member {
            user: pair.0,
            org: pair.1,
            index: m.index,
            row: m.row,
            name: names.of(m.organization),
            at: place,
        };
        match replay.open.get(&pair) {
            Some(Some(job)) => jobs.entry(Arc::clone(job)).or_default().push(member),
            Some(None) => uncertain.push(member),
            None => pairs.push(pair),
        }
        Ok(())
    })?;
    // Several rows may ask the same membership (one user on two rows): sent once.
    let mut repeats = dedup(&mut uncertain);
    let mut queue = Queue {
        plan,
        users: &users,
        ids: by_name,
        names: names.at,
        next: 0,
        ready: VecDeque::new(),
        open: replay.open.keys().copied().collect(),
        at: 0,
        twice: asked_twice(pairs),
        queued: HashMap::new(),
        repeats: Vec::new(),
    };
    drop(replay);
    let mut phase = Phase {
        client,
        journal,
        events,
        options,
        pacer: Pacer::new(options.rate_window, options.rate_reserve),
        names: names.list,
        ends,
        open: Vec::new(),
        done: Done::default(),
    };
    phase.done.counts = phase.counts(total);
    phase.progress(false).await;
    // The jobs a resume finds accepted are followed with the first calls.
    let now = Instant::now();
    phase.open = jobs
        .into_iter()
        .map(|(job, items)| OpenJob::new(job.to_string(), items, now))
        .collect();
    let mut attempt = 1;
    loop {
        phase.send_all(&mut queue, &mut uncertain, cancel).await?;
        if phase.done.stopped || uncertain.is_empty() {
            break;
        }
        phase.settle_wait(cancel).await;
        let again = phase
            .look_up(std::mem::take(&mut uncertain), attempt, cancel)
            .await?;
        queue.ready.extend(again);
        attempt += 1;
    }
    // One user on two rows asking the same organization: sent once, ended on both.
    repeats.append(&mut queue.repeats);
    for (again, first) in repeats {
        let end = phase.ends.get(first as usize).copied().flatten();
        if let Some(slot) = phase.ends.get_mut(again as usize) {
            *slot = end;
        }
    }
    phase.done.counts = phase.counts(total);
    phase.progress(true).await;
    Ok(phase.done)
}

/// Keeps the first of the memberships with the same pair; returns the places of those left
/// out, each with the place of the one kept.
fn dedup(items: &mut Vec<Member>) -> Vec<(u32, u32)> {
    let twice = asked_twice(items.iter().map(Member::pair).collect());
    let mut repeats = Vec::new();
    if twice.is_empty() {
        return repeats;
    }
    let mut kept: HashMap<(u64, u64), u32> = HashMap::new();
    items.retain(|m| {
        if !twice.contains(&m.pair()) {
            return true;
        }
        match kept.get(&m.pair()) {
            Some(&first) => {
                repeats.push((m.at, first));
                false
            }
            None => {
                kept.insert(m.pair(), m.at);
                true
            }
        }
    });
    repeats
}

/// The pairs `pairs` holds more than once (rare): sorted apart to find them, so only they
/// are remembered after.
fn asked_twice(mut pairs: Vec<(u64, u64)>) -> HashSet<(u64, u64)> {
    pairs.sort_unstable();
    pairs
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect()
}

/// A membership call Zendesk accepted, its job followed.
struct OpenJob {
    job: String,
    items: Vec<Member>,
    started: Instant,
    /// Polls in a row that did not list it.
    missing: u32,
}

impl OpenJob {
    fn new(job: String, items: Vec<Member>, started: Instant) -> Self {
        Self {
            job,
            items,
            started,
            missing: 0,
        }
    }
}

struct Phase<'a> {
    client: &'a Client,
    journal: &'a mut Journal,
    events: &'a Sender<ImportEvent>,
    options: &'a EngineOptions,
    /// When the next request may leave: after a 429's `Retry-After`, and spaced out once few
    /// requests are left in the rate limit's window.
    pacer: Pacer,
    /// The organizations' names the memberships spell, each once ([`Member::name`]).
    names: Vec<Arc<str>>,
    /// How each membership of the plan ended, by its place in plan order ([`Member::at`]): a
    /// byte each. Those never sent and those the journal holds finished are set first.
    ends: Vec<Option<MemberEnd>>,
    /// The calls accepted whose jobs have not ended: up to the run's jobs at once.
    open: Vec<OpenJob>,
    done: Done,
}

impl Phase<'_> {
    /// Sends the queue's memberships, 100 a call, with as many jobs open at once as the run
    /// allows (Zendesk's job limit: 30), polling every open job in one request, until the
    /// queue is empty and every job has ended. Those no answer settles go to `uncertain`.
    /// A cancel sends nothing more and stops following: the jobs open stay in the journal as
    /// accepted, and a resume polls them first.
    async fn send_all(
        &mut self,
        queue: &mut Queue<'_>,
        uncertain: &mut Vec<Member>,
        cancel: &CancellationToken,
    ) -> Result<(), ImportError> {
        let most = self.options.concurrency.clamp(1, super::MAX_JOBS);
        loop {
            // A call's worth read ahead (a cancel asks only whether any is left).
            queue.fill(MEMBERSHIPS_PER_CALL, &self.ends)?;
            if cancel.is_cancelled() {
                self.done.stopped |=
                    !(queue.ready.is_empty() && self.open.is_empty() && uncertain.is_empty());
                return Ok(());
            }
            if self.open.len() < most && !queue.ready.is_empty() {
                // Paced before its line is written: a cancel while waiting leaves none sent.
                if self.paced(cancel).await {
                    let take = queue.ready.len().min(MEMBERSHIPS_PER_CALL);
                    let items: Vec<Member> = queue.ready.drain(..take).collect();
                    self.send(items, uncertain, cancel).await?;
                }
                continue;
            }
            if self.open.is_empty() {
                return Ok(());
            }
            self.poll(uncertain, cancel).await?;
        }
    }

    fn counts(&self, total: usize) -> MemberCounts {
        MemberCounts::default().and(total, self.ends.iter().flatten().copied())
    }

    /// The journal's line for `member`, ended so.
    fn outcome(&self, member: &Member, ended: &Ended) -> MembershipOutcome {
        let planned = Planned {
            row: member.row,
            index: member.index,
            user: None,
            user_id: Some(member.user),
            organization: &self.names[member.name as usize],
            organization_id: Some(member.org),
        };
        planned.outcome(ended)
    }

    /// Waits until the pacer lets a request leave, and counts it sent; false when cancelled
    /// first (a cancel stops the phase however long the wait).
    async fn paced(&mut self, cancel: &CancellationToken) -> bool {
        if cancel.is_cancelled() {
            return false;
        }
        let ready = self.pacer.ready_at();
        if ready > Instant::now() {
            tokio::select! {
                () = tokio::time::sleep_until(ready.into()) => {}
                () = cancel.cancelled() => return false,
            }
        }
        self.pacer.sent(Instant::now());
        true
    }

    /// Reads a refused request's rate headers; after a 429 no request leaves before its
    /// `Retry-After`, and the screens are told. True for a 429.
    async fn rate_limited(&mut self, error: &ZendeskError) -> bool {
        let Some(until) = self.pacer.refused(error, self.options) else {
            return false;
        };
        let event = ImportEvent::Waiting {
            reason: WaitReason::RateLimit,
            until,
        };
        crate::logging::import_event(&event);
        let _ = self.events.send(event).await;
        true
    }

    /// Before a lookup: Zendesk may still be running a job the lost answer started.
    async fn settle_wait(&self, cancel: &CancellationToken) {
        tokio::select! {
            () = tokio::time::sleep(self.options.lost_answer_settle) => {}
            () = cancel.cancelled() => {}
        }
    }

    /// One `create_many` call (the pacer let it leave), its job followed to its end. After a
    /// 429 the same call leaves again once the wait is over; a cancel during that wait leaves
    /// its memberships to be read back (its line says they may have been sent).
    async fn send(
        &mut self,
        items: Vec<Member>,
        uncertain: &mut Vec<Member>,
        cancel: &CancellationToken,
    ) -> Result<(), ImportError> {
        let pairs: Vec<(u64, u64)> = items.iter().map(Member::pair).collect();
        self.journal.record(&Entry::MemberSending {
            pairs: pairs.clone(),
        })?;
        loop {
            self.done.requests += 1;
            match self.client.create_many_memberships(&pairs).await {
                Ok(answer) => {
                    self.pacer.observe(&answer.rate);
                    let job = answer.value.id;
                    self.journal.record_unsynced(&Entry::MemberAccepted {
                        pairs: pairs.clone(),
                        job_id: job.clone(),
                    })?;
                    // Two calls, one job id: its results cannot be told apart, so neither
                    // call's memberships are taken from it; both are read back.
                    if let Some(at) = self.open.iter().position(|o| o.job == job) {
                        uncertain.extend(self.open.swap_remove(at).items);
                        uncertain.extend(items);
                        return Ok(());
                    }
                    self.open.push(OpenJob::new(job, items, Instant::now()));
                    return Ok(());
                }
                Err(error) => {
                    if !self.rate_limited(&error).await {
                        return self.not_answered(items, error, uncertain).await;
                    }
                    if !self.paced(cancel).await {
                        uncertain.extend(items);
                        return Ok(());
                    }
                }
            }
        }
    }

    /// No answer or a refusal: maybe accepted (looked up), or refused for good.
    async fn not_answered(
        &mut self,
        items: Vec<Member>,
        error: ZendeskError,
        uncertain: &mut Vec<Member>,
    ) -> Result<(), ImportError> {
        let accepted_unread =
            matches!(&error, ZendeskError::Decode { status, .. } if (200..300).contains(status));
        if error.is_transient() || accepted_unread {
            uncertain.extend(items);
            return Ok(());
        }
        if matches!(error.status(), Some(401 | 403)) || matches!(error, ZendeskError::Auth(_)) {
            return Err(ImportError::Refused(Box::new(error)));
        }
        let (code, details) = super::engine::refusal_text(&error);
        let ended = items
            .into_iter()
            .map(|m| {
                let failed =
                    Ended::new(MemberEnd::Failed, None, Some(code.clone()), details.clone());
                (m, failed)
            })
            .collect();
        self.resolve(ended).await
    }

    /// Waits a poll's interval (and the pacer), then reads every open job in one request (again
    /// after a 429's wait): those ended are settled by their results; those past their
    /// deadline, or missing from too many answers, are looked up. Another failure is a poll
    /// without an answer: the jobs are read again at the next.
    async fn poll(
        &mut self,
        uncertain: &mut Vec<Member>,
        cancel: &CancellationToken,
    ) -> Result<(), ImportError> {
        tokio::select! {
            () = tokio::time::sleep(self.options.poll_interval) => {}
            () = cancel.cancelled() => return Ok(()),
        }
        let ids: Vec<String> = self.open.iter().map(|o| o.job.clone()).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut statuses = loop {
            if !self.paced(cancel).await {
                return Ok(());
            }
            self.done.polls += 1;
            match self.client.job_statuses(&ids).await {
                Ok(answer) => {
                    self.pacer.observe(&answer.rate);
                    break Some(answer.value);
                }
                Err(error) if matches!(error.status(), Some(401 | 403)) => {
                    return Err(ImportError::Refused(Box::new(error)));
                }
                Err(error) => {
                    if !self.rate_limited(&error).await {
                        break None;
                    }
                }
            }
        };
        let mut ended = Vec::new();
        let mut at = 0;
        while at < self.open.len() {
            let open = &mut self.open[at];
            let status = statuses.as_mut().map(|all| {
                all.iter()
                    .position(|j| j.id == open.job)
                    .map(|i| all.swap_remove(i))
            });
            match status {
                Some(Some(status)) if status.is_finished() => {
                    ended.push((self.open.swap_remove(at), status));
                    continue;
                }
                Some(None) => open.missing += 1,
                Some(Some(_)) | None => {}
            }
            if open.missing >= self.options.job_missing_polls
                || open.started.elapsed() >= self.options.job_deadline
            {
                uncertain.extend(self.open.swap_remove(at).items);
                continue;
            }
            at += 1;
        }
        for (open, status) in ended {
            self.on_status(&status, open.items, uncertain).await?;
        }
        Ok(())
    }

    async fn on_status(
        &mut self,
        status: &JobStatus,
        items: Vec<Member>,
        uncertain: &mut Vec<Member>,
    ) -> Result<(), ImportError> {
        if status.status != JobState::Completed {
            uncertain.extend(items);
            return Ok(());
        }
        let results = status.result_list();
        let mut ended = Vec::new();
        for (position, o) in items.into_iter().enumerate() {
            // Results come in the order sent; an `index` says so when given.
            let result = results
                .iter()
                .find(|r| r.index == Some(position))
                .or_else(|| results.get(position).filter(|r| r.index.is_none()));
            let Some(r) = result else {
                uncertain.push(o);
                continue;
            };
            let details = r.details_text();
            let end = if r.is_failure() && already(details.as_deref()) {
                Ended::new(MemberEnd::AlreadyHeld, None, r.error.clone(), details)
            } else if r.is_failure() {
                let code = r.error.clone().unwrap_or_else(|| "Failed".into());
                Ended::new(MemberEnd::Failed, None, Some(code), details)
            } else {
                Ended::new(MemberEnd::Added, r.id, None, None)
            };
            ended.push((o, end));
        }
        self.resolve(ended).await
    }

    /// Reads each user's memberships: those held end `added` (a lost answer's call created
    /// them), the others are sent again; after too many calls, `unknown`. A read refused with
    /// a 429 is made again after the wait, at no attempt's cost; after a cancel, those not
    /// read are handed back as they were (the journal has them to read on resume).
    async fn look_up(
        &mut self,
        items: Vec<Member>,
        attempt: u32,
        cancel: &CancellationToken,
    ) -> Result<Vec<Member>, ImportError> {
        let users: BTreeSet<u64> = items.iter().map(|m| m.user).collect();
        let mut held: HashMap<u64, Vec<u64>> = HashMap::new();
        let mut failed: Option<ZendeskError> = None;
        let mut unread = false;
        for user in users {
            match self.read_memberships(user, cancel).await {
                Some(Ok(orgs)) => {
                    held.insert(user, orgs);
                }
                Some(Err(error)) => failed = Some(error),
                None => {
                    unread = true;
                    break;
                }
            }
        }
        let mut ended = Vec::new();
        let mut again = Vec::new();
        for o in items {
            match held.get(&o.user) {
                Some(orgs) if orgs.contains(&o.org) => {
                    let details = "found in Zendesk after its call's answer was lost".to_owned();
                    ended.push((o, Ended::new(MemberEnd::Added, None, None, Some(details))));
                }
                None if unread => again.push(o),
                _ if attempt >= self.options.max_attempts => {
                    let why = failed.as_ref().map_or_else(
                        || format!("not found after {attempt} calls without an answer"),
                        |e| format!("it may have been added, and reading the user's memberships failed: {e}"),
                    );
                    let unknown =
                        Ended::new(MemberEnd::Unknown, None, Some("NoAnswer".into()), Some(why));
                    ended.push((o, unknown));
                }
                _ => again.push(o),
            }
        }
        self.resolve(ended).await?;
        Ok(again)
    }

    /// The organizations user `user` belongs to, read once the pacer allows (again after a
    /// 429); `None` when cancelled first.
    async fn read_memberships(
        &mut self,
        user: u64,
        cancel: &CancellationToken,
    ) -> Option<Result<Vec<u64>, ZendeskError>> {
        loop {
            if !self.paced(cancel).await {
                return None;
            }
            self.done.requests += 1;
            match self.client.user_memberships(user).await {
                Ok(answer) => {
                    self.pacer.observe(&answer.rate);
                    return Some(Ok(answer.value.iter().map(|m| m.organization_id).collect()));
                }
                Err(error) => {
                    if !self.rate_limited(&error).await {
                        return Some(Err(error));
                    }
                }
            }
        }
    }

    async fn resolve(&mut self, ended: Vec<(Member, Ended)>) -> Result<(), ImportError> {
        if ended.is_empty() {
            return Ok(());
        }
        let outcomes = ended.iter().map(|(m, e)| self.outcome(m, e)).collect();
        // Lost in a power cut, the job is polled (or the memberships read) again on resume.
        self.journal
            .record_unsynced(&Entry::MemberResolved { outcomes })?;
        for (m, e) in ended {
            self.done.counts.count(e.end, true);
            let earlier = self
                .ends
                .get_mut(m.at as usize)
                .and_then(|at| at.replace(e.end));
            if let Some(earlier) = earlier {
                self.done.counts.count(earlier, false);
            }
        }
        self.progress(false).await;
        Ok(())
    }

    /// Tells the screens how far the phase is (`done`: it is over, finished or stopped).
    async fn progress(&self, done: bool) {
        let _ = self
            .events
            .send(ImportEvent::Memberships {
                counts: self.done.counts,
                done,
            })
            .await;
    }
}

/// Zendesk's words for a membership the user already has (unverified: any "already").
fn already(details: Option<&str>) -> bool {
    details.is_some_and(|d| {
        let d = d.to_ascii_lowercase();
        d.contains("already") && (d.contains("member") || d.contains("taken"))
    })
}

/// The memberships of a run, read from its folder for its report: the plan a batch at a time,
/// the journal's ends kept as [`Ended`], never a list of every membership.
pub struct RunMemberships {
    plan: OutboxFile,
    asked: usize,
    users: UserEnds,
    /// The organizations the run created first, by [`name_key`].
    ids: HashMap<String, u64>,
    replay: MemberReplay,
}

impl RunMemberships {
    /// The memberships of the run in `dir` (none for a run without them).
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        let plan = super::journal::read_plan_of(dir)?;
        let asked = asked(&plan)?;
        if asked == 0 {
            return Ok(Self {
                plan,
                asked,
                users: UserEnds::default(),
                ids: HashMap::new(),
                replay: MemberReplay::default(),
            });
        }
        let users = super::journal::user_ends(dir, plan.rows())?;
        let ids = super::journal::organizations(dir)?
            .iter()
            .filter(|o| o.is_created())
            .filter_map(|o| Some((name_key(&o.name), o.id?)))
            .collect();
        let replay = super::journal::members_of(dir)?;
        Ok(Self {
            plan,
            asked,
            users,
            ids,
            replay,
        })
    }

    /// The run's rows ask no membership.
    pub fn is_empty(&self) -> bool {
        self.asked == 0
    }

    /// Hands every membership to `f`, in plan order: how each ended, those not finished as
    /// `unknown` with "not added yet".
    pub fn each<E: From<JournalError>>(
        &self,
        mut f: impl FnMut(MembershipOutcome) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.is_empty() {
            return Ok(());
        }
        each_planned(&self.plan, &self.users, &self.ids, |m| {
            let Some(pair) = m.pair() else {
                return f(m.outcome(&m.unsent()));
            };
            match self.replay.finished.get(&pair) {
                Some(ended) => f(m.outcome(&ended)),
                None => f(m.outcome(&Ended::not_added_yet())),
            }
        })
    }
}

/// Every membership of the run in `dir`, in plan order, as [`RunMemberships::each`] hands
/// them out: the whole list at once, for a run known to be small. Empty for a run without
/// memberships.
pub fn of_run(dir: &Path) -> Result<Vec<MembershipOutcome>, JournalError> {
    let mut all = Vec::new();
    RunMemberships::open(dir)?.each(|o| {
        all.push(o);
        Ok::<(), JournalError>(())
    })?;
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zendesk_words_for_an_existing_membership() {
        assert!(already(Some(crate::sandbox::memberships::ALREADY_MEMBER)));
        assert!(already(Some("User: has already been taken")));
        assert!(!already(Some("Organization not found")));
        assert!(!already(None));
    }

    #[test]
    fn counts_follow_each_end_and_an_end_replaced() {
        let mut counts = MemberCounts {
            total: 3,
            ..MemberCounts::default()
        };
        counts.count(MemberEnd::Unknown, true);
        counts.count(MemberEnd::Added, true);
        // The unknown one found added after all.
        counts.count(MemberEnd::Added, true);
        counts.count(MemberEnd::Unknown, false);
        assert_eq!((counts.added, counts.unknown, counts.finished()), (2, 0, 2));
        counts.count(MemberEnd::Failed, false);
        assert_eq!(counts.failed, 0, "never below nothing");
    }

    #[test]
    fn counts_add_up_and_say_what_is_left() {
        let settled = MemberCounts {
            skipped: 1,
            ..MemberCounts::default()
        };
        let counts = settled.and(4, [MemberEnd::Added, MemberEnd::AlreadyHeld]);
        assert_eq!(
            counts.to_string(),
            "4 memberships: 1 added, 1 already held, 0 failed, 1 skipped, 1 not added yet"
        );
    }

    /// What the journal writes of a membership comes back whole from its compact end and the
    /// plan's columns; a plain `added` keeps no text.
    #[test]
    fn an_end_kept_compact_gives_back_the_journals_line() {
        let planned = Planned {
            row: 7,
            index: 5,
            user: Some((Outcome::Created, Some(11))),
            user_id: Some(11),
            organization: "globex ",
            organization_id: Some(70),
        };
        let added = Ended::new(MemberEnd::Added, Some(900), None, None);
        assert_eq!(added.why, None);
        let held = Ended::new(
            MemberEnd::AlreadyHeld,
            None,
            Some("InvalidValue".into()),
            Some("User is already a member".into()),
        );
        for ended in [added, held] {
            let line = planned.outcome(&ended);
            assert_eq!((line.row, line.index, line.user_id), (7, 5, Some(11)));
            assert_eq!(line.organization, "globex ", "as the row spells it");
            assert_eq!(Ended::of(line), ended);
        }
    }

    #[test]
    fn the_journals_ends_read_back_as_noted_the_last_one_kept() {
        let mut ends = MemberEnds::default();
        let failed = Ended::new(
            MemberEnd::Failed,
            None,
            Some("E".into()),
            Some("why".into()),
        );
        let added = Ended::new(MemberEnd::Added, Some(u64::MAX), None, None);
        let held = Ended::new(MemberEnd::AlreadyHeld, Some(0), None, None);
        ends.insert((1, 2), failed.clone());
        ends.insert((1, 3), held.clone());
        assert_eq!(ends.get(&(1, 2)), Some(failed));
        assert_eq!(ends.get(&(1, 3)), Some(held));
        ends.insert((1, 2), added.clone());
        assert_eq!(
            ends.get(&(1, 2)),
            Some(added),
            "no error left of the first end"
        );
        assert_eq!((ends.get(&(2, 2)), ends.len()), (None, 2));
        assert!(ends.contains_key(&(1, 3)) && !ends.contains_key(&(3, 1)));
    }

    #[test]
    fn a_membership_asked_twice_is_sent_once_by_its_first_row() {
        let mut names = Names::default();
        let member = |row: u32, user: u64, name: u32| Member {
            user,
            org: 70,
            index: u64::from(row),
            row,
            name,
            at: row * 10,
        };
        let (acme, globex) = (names.of("Acme"), names.of("Globex"));
        assert_eq!(names.of("Acme"), acme, "one name, one entry");
        assert_eq!(names.list.len(), 2);
        let mut items = vec![
            member(2, 1, acme),
            member(3, 2, globex),
            member(4, 1, globex),
            member(5, 3, acme),
        ];
        let repeats = dedup(&mut items);
        let rows: Vec<u32> = items.iter().map(|m| m.row).collect();
        assert_eq!(rows, [2, 3, 5]);
        assert_eq!(repeats, [(40, 20)], "row 4 ends as row 2's does");
    }
}
