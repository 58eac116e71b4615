//! The engine: one task owns every batch's state and races the requests in flight, the next
//! poll, cancellation and pause in one `select!`, so no state is shared and no lock is held.
//!
//! A batch's users move from the queue to a bulk request (journal `sending`), to a job
//! (`accepted`), to their outcomes (`resolved`). A bulk request with no answer may have been
//! accepted: in create mode its users are looked up before any is sent again (and a user with
//! neither email nor external_id, which cannot be looked up, is never sent again); upsert and
//! update are safe to repeat. A resent upsert is answered "Updated" for a user the lost
//! request created: such rows are reported `created` when the plan found no such user, or
//! when the user's `created_at` is no earlier than Zendesk's time before the batch first left
//! (journalled with each `sending` line, so a resume and a retry tell it too). In create mode
//! a user a lookup finds whose `created_at` is before that time was there before the run: its
//! row failed (Zendesk refused the copy), it was not created.
//!
//! With `--make-primary`, a row its job updated is not finished yet: a `making_primary` line
//! holds its outcome while its email is made primary (identities read, then `make_primary`),
//! and the `resolved` line follows. Resuming does what such a line left undone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use super::journal::Replay;
use super::journal::{CLOCK_ALLOWANCE, Entry, Journal, Open, Position, position};
use super::outbox::UserKey;
use super::outbox_file::OutboxFile;
use super::pacer::{Pacer, backoff, lookup_again, rate_limit_wait};
use super::{
    EngineOptions, ImportError, ImportEvent, MAX_JOBS, MatchedBy, Outcome, RowOutcome, Summary,
    WaitReason,
};
use crate::mapping::Object;
use crate::payload::Mode;
use crate::zendesk::results::match_results;
use crate::zendesk::{Answer, Client, JobState, JobStatus, RateInfo, User, ZendeskError};

/// Runs the journal's run against Zendesk until every row has an outcome, or until cancelled
/// (then what is in flight is followed to its end and the journal is left resumable).
///
/// What is sent is the run folder's `plan.jsonl`, read batch by batch as it is sent: memory
/// holds a few numbers per batch and the batches in flight, not the run's bodies.
///
/// A journal opened with [`Journal::open`] continues its run: finished rows stay finished,
/// accepted jobs are polled, and requests that may have been accepted are looked up first.
pub async fn run(
    client: &Client,
    journal: Journal,
    events: Sender<ImportEvent>,
    cancel: CancellationToken,
    options: EngineOptions,
) -> Result<Summary, ImportError> {
    let mut journal = journal;
    let plan = journal.outbox()?;
    let orgs = (&cancel, &options);
    let orgs = super::orgs::create_first(&plan, client, &mut journal, &events, orgs).await?;
    let mut engine = Engine::new(plan, client.clone(), journal, events, options);
    engine.after_organizations(orgs);
    engine.start().await?;
    engine.run_loop(&cancel).await?;
    engine.add_memberships(&cancel).await?;
    engine.finish().await
}

/// Some users of one batch, sent (or to be sent) together.
#[derive(Debug, Clone)]
struct Unit {
    batch: usize,
    positions: Vec<Position>,
    /// Bulk requests sent for these users so far.
    attempt: u32,
    /// Sent again after a lookup did not find them: "already taken" then means the lost
    /// request created them after all.
    after_lookup: bool,
    /// Zendesk said it holds these users ("already being used") after a lookup missed them:
    /// since when they are looked up again, until search shows them. Never sent again.
    held_since: Option<Instant>,
}

#[derive(Debug)]
struct JobEntry {
    id: String,
    unit: Unit,
    /// Polls in a row that did not find the job.
    missing: u32,
    last: Option<(String, Option<u64>)>,
    accepted_at: Instant,
    /// When it should be done, from the engine's estimate of a job's time: polled then.
    expect_at: Option<Instant>,
    /// Polls that found it running after it was expected done.
    late: u32,
    /// The first count of users done that a poll read while it worked.
    pace: Option<Pace>,
    /// When its count, at the pace since `pace`, says it ends: set by the last poll.
    foretold: Option<Instant>,
}

impl Unit {
    fn new(batch: usize, positions: Vec<Position>, attempt: u32) -> Self {
        Self {
            batch,
            positions,
            attempt,
            after_lookup: false,
            held_since: None,
        }
    }
}

impl JobEntry {
    fn new(id: String, unit: Unit) -> Self {
        Self {
            id,
            unit,
            missing: 0,
            last: None,
            accepted_at: Instant::now(),
            expect_at: None,
            late: 0,
            pace: None,
            foretold: None,
        }
    }
}

/// A request in flight, come back.
enum Done {
    Sent {
        unit: Unit,
        result: Result<Answer<JobStatus>, ZendeskError>,
    },
    Polled {
        ids: Vec<String>,
        result: Result<Answer<Vec<JobStatus>>, ZendeskError>,
    },
    LookedUp {
        unit: Unit,
        tries: u32,
        result: Result<(Vec<Found>, RateInfo), ZendeskError>,
    },
    MadePrimary {
        task: Primary,
        result: Result<(PrimaryDone, RateInfo), ZendeskError>,
    },
    /// A finished job's rows, some answered "Updated" to a resend: when Zendesk created those
    /// users, read to tell whether the lost request did.
    Dated {
        outcomes: Vec<RowOutcome>,
        since: i64,
        result: Result<created::Dates, ZendeskError>,
    },
}

/// A row its job updated, whose email is to become the user's primary one.
#[derive(Debug, Clone)]
struct Primary {
    /// The row's outcome from its job (updated, with the user's id).
    outcome: RowOutcome,
    user_id: u64,
    email: String,
    /// Failed tries so far (5xx, timeouts, lost connections).
    failures: u32,
}

/// What making an email primary found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrimaryDone {
    Made,
    /// Primary already: made by an earlier try whose end was not recorded, or by someone else.
    Already,
    /// The user has no such email identity: Zendesk did not add it.
    Missing,
}

/// What the polls tell of a job's time from its acceptance: at most `hi` (the shortest seen
/// done), more than `lo` (the longest seen running).
///
/// A new job is first polled halfway between the two, so each round of jobs halves the
/// interval and a finished job is seen within about a probe step of its end, not a poll
/// interval later: with the 30-job limit as the bound, a slot freed late holds up the next
/// request, the engine's main loss. Jobs whose times vary (Zendesk's take 8 to 11 s) leave
/// `lo` past `hi`: they are polled at `hi`, the shortest seen, and again with a back-off.
#[derive(Debug, Clone, Copy, Default)]
struct JobTime {
    hi: Option<Duration>,
    lo: Duration,
}

impl JobTime {
    fn done(&mut self, took: Duration) {
        self.hi = Some(self.hi.map_or(took, |hi| hi.min(took)));
    }

    fn running(&mut self, elapsed: Duration) {
        self.lo = self.lo.max(elapsed);
    }

    /// When to poll a new job first, from its acceptance; none before any job ended.
    fn expect(&self, step: Duration) -> Option<Duration> {
        let hi = self.hi?;
        Some(match hi.checked_sub(self.lo) {
            Some(gap) if gap > step => self.lo + gap / 2,
            _ => hi,
        })
    }
}

/// A working job's count of users done (`progress` of `total`: recorded answers count them) as
/// a poll first read it.
///
/// The jobs of the first round have no earlier job to learn their time from, and a job with
/// fewer users (the evened-out last round) takes less time than those before it: from the
/// pace since this first count, each poll foretells the job's end, and the job is polled
/// then instead of up to a poll interval later. An account that leaves `progress` null gets
/// no foretelling: the probes of [`JobTime`] and the regular polls remain.
#[derive(Debug, Clone, Copy)]
struct Pace {
    at: Instant,
    done: u64,
}

impl Pace {
    /// When `total` users are done, going on from `done` at `now` at the pace since `self`;
    /// none before the count has moved.
    fn end(&self, now: Instant, done: u64, total: u64) -> Option<Instant> {
        let moved = done.checked_sub(self.done).filter(|&m| m > 0)?;
        let per_user = now.saturating_duration_since(self.at).div_f64(moved as f64);
        Some(now + per_user.mul_f64(total.saturating_sub(done) as f64))
    }
}

/// Skipped rows finished by one journal line at most.
const SKIPPED_PER_LINE: usize = 1_000;

/// Whether the journal holds row `index` finished, or past its job (its email being made
/// primary: finished here).
fn finished(replay: &Replay, index: u64) -> bool {
    replay.finished.contains_key(&index) || replay.making_primary.contains_key(&index)
}

/// Emails made primary at once: each is two small requests, paced like the rest.
const PRIMARY_AT_ONCE: usize = 4;

struct Engine {
    /// The batches on disk, read as they are sent and answered.
    plan: OutboxFile,
    client: Client,
    journal: Journal,
    events: Sender<ImportEvent>,
    options: EngineOptions,
    pacer: Pacer,
    summary: Summary,
    queue: VecDeque<Unit>,
    /// Batches nothing was sent of yet, sent whole after `queue`.
    fresh: VecDeque<usize>,
    /// Resends after a back-off (upsert, update).
    delayed: Vec<(Instant, Unit)>,
    /// Create mode: maybe accepted; looked up once due. The count is lookups tried.
    uncertain: Vec<(Instant, Unit, u32)>,
    /// Emails to make primary, each once due.
    primary: Vec<(Instant, Primary)>,
    /// Per batch: Zendesk's time before its first request left (Unix seconds).
    first_sent: HashMap<usize, i64>,
    /// Every job id Zendesk answered with in this process: one given twice cannot tell its
    /// two requests' results apart.
    job_ids: HashSet<String>,
    primary_in_flight: usize,
    /// Lookups in flight: at most [`Engine::concurrency`], as jobs, so a run with many
    /// requests to look up (a retry of a million unknown rows) does not start them all at
    /// once, each with its connection and its users' keys.
    looking_up: usize,
    jobs: Vec<JobEntry>,
    posting: usize,
    polling: bool,
    /// Polls in a row that failed (5xx, timeouts, unreadable answers).
    poll_failures: u32,
    next_poll: Instant,
    /// How long a job takes from its acceptance, as far as the polls tell.
    job_time: JobTime,
    in_flight: FuturesUnordered<BoxFuture<'static, Done>>,
    cancelled: bool,
    /// When the cancel came: jobs in flight are followed until `cancel_follow` after it.
    cancelled_at: Option<Instant>,
    paused: bool,
    started: Instant,
    /// The ids of the organizations created first, filled into the bodies as they are sent.
    orgs: super::orgs::Ids,
}

impl Engine {
    fn new(
        plan: OutboxFile,
        client: Client,
        journal: Journal,
        events: Sender<ImportEvent>,
        options: EngineOptions,
    ) -> Self {
        let rows = plan.rows() as u64;
        let now = Instant::now();
        Self {
            pacer: Pacer::new(options.rate_window, options.rate_reserve),
            summary: Summary {
                rows,
                pending: rows,
                ..Summary::default()
            },
            plan,
            client,
            journal,
            events,
            options,
            queue: VecDeque::new(),
            fresh: VecDeque::new(),
            delayed: Vec::new(),
            uncertain: Vec::new(),
            primary: Vec::new(),
            first_sent: HashMap::new(),
            job_ids: HashSet::new(),
            primary_in_flight: 0,
            looking_up: 0,
            jobs: Vec::new(),
            posting: 0,
            polling: false,
            next_poll: now,
            poll_failures: 0,
            job_time: JobTime::default(),
            in_flight: FuturesUnordered::new(),
            cancelled: false,
            cancelled_at: None,
            paused: false,
            started: now,
            orgs: super::orgs::Ids::default(),
        }
    }

    /// Takes over from the organizations' phase: their ids, counts and calls; stopped there
    /// (cancelled), no user is sent.
    fn after_organizations(&mut self, done: super::orgs::Done) {
        self.orgs = done.ids;
        self.summary.organizations = done.counts;
        self.summary.requests += done.requests;
        if done.stopped {
            self.cancelled = true;
            self.cancelled_at = Some(Instant::now());
        }
    }

    /// Issue 15, item 3: once every row is finished (not after a cancel), the memberships of
    /// the users the run created or updated ([`super::memberships`]).
    async fn add_memberships(&mut self, cancel: &CancellationToken) -> Result<(), ImportError> {
        if self.cancelled || self.summary.pending > 0 {
            return Ok(());
        }
        let context = (cancel, &self.options, &self.orgs);
        let done = super::memberships::add(
            &self.plan,
            &self.client,
            &mut self.journal,
            &self.events,
            context,
        )
        .await?;
        self.summary.memberships = done.counts;
        self.summary.requests += done.requests;
        self.summary.polls += done.polls;
        if done.stopped {
            self.cancelled = true;
        }
        Ok(())
    }

    /// The next poll: at the regular interval, or earlier when a job should be done by then.
    fn poll_due(&self) -> Instant {
        self.jobs
            .iter()
            .filter_map(|j| j.expect_at)
            .fold(self.next_poll, Instant::min)
    }

    fn concurrency(&self) -> usize {
        self.options.concurrency.clamp(1, MAX_JOBS)
    }

    /// Replays the journal into the queue, the jobs to follow and the requests to look up,
    /// and finishes the skipped rows. Batches the journal does not name are sent whole, in
    /// order, after the rest: nothing is kept per row for them until they are sent.
    async fn start(&mut self) -> Result<(), ImportError> {
        let mut replay = self.journal.take_replay();
        self.journal.record(&Entry::Started {
            at: chrono::Utc::now().to_rfc3339(),
            resumed: replay.started,
            jobs: Some(self.concurrency()),
        })?;
        for (_, outcome) in replay.finished.iter() {
            self.summary.count(outcome);
        }
        for (batch, sent) in &replay.sent {
            if let Some(at) = sent.zendesk_time {
                self.first_sent.insert(*batch, at);
            }
        }
        let now = Instant::now();
        for outcome in replay.making_primary.values() {
            if let Some(task) = self.primary_task(outcome.clone())? {
                self.primary.push((now, task));
            }
        }
        for batch in 0..self.plan.batches() {
            let Some(&at) = self.plan.batch_ref(batch) else {
                continue;
            };
            // Taken out as its units are made: a retry's million maybe-sent positions are not
            // held twice.
            let open = replay.open.remove(&batch).unwrap_or_default();
            let range = at.first_index..at.first_index + at.size as u64;
            let touched = !open.is_empty()
                || replay.finished.any_in(range.clone())
                || replay.making_primary.range(range).next().is_some();
            if touched {
                self.replay_batch(batch, &open, &replay);
            } else if at.size > 0 {
                self.fresh.push_back(batch);
            }
        }
        let event = ImportEvent::Started {
            rows: self.summary.rows,
            batches: self.plan.batches(),
            done: Box::new(self.summary.clone()),
        };
        self.emit(event).await;
        // One journal line per thousand: a sheet of errors does not make one huge line, and
        // is not held to be journaled (the plan's skipped lines are read one at a time).
        let mut outcomes = Vec::new();
        for piece in 0..self.plan.skipped_pieces() {
            for skipped in self.plan.skipped_piece(piece)? {
                if finished(&replay, skipped.index) {
                    continue;
                }
                let key = skipped.key.unwrap_or_default();
                let mut o = RowOutcome::new(skipped.row, Outcome::Skipped, &key)
                    .with_error("Skipped", Some(skipped.reason));
                o.index = skipped.index;
                outcomes.push(o);
                if outcomes.len() == SKIPPED_PER_LINE {
                    self.resolve(std::mem::take(&mut outcomes)).await?;
                }
            }
        }
        self.resolve(outcomes).await
    }

    /// One batch's unfinished users after a journal replay: jobs to follow, requests that may
    /// have been accepted (looked up in create mode, sent again otherwise), the rest to send.
    fn replay_batch(&mut self, batch: usize, open: &[Open], replay: &Replay) {
        let Some(&planned) = self.plan.batch_ref(batch) else {
            return;
        };
        let size = planned.size;
        // A job accepted for a batch sent more than once may be answering a resend.
        let requests = replay.sent.get(&batch).map_or(1, |s| s.requests);
        let unfinished = |positions: &[Position]| -> Vec<Position> {
            positions
                .iter()
                .copied()
                .filter(|&p| {
                    usize::from(p) < size && !finished(replay, planned.first_index + u64::from(p))
                })
                .collect()
        };
        let mut taken: HashSet<Position> = HashSet::new();
        let mut maybe: Vec<Position> = Vec::new();
        let mut attempt = 0;
        let mut jobs = Vec::new();
        for entry in open {
            match entry {
                Open::Job { positions, job_id } => {
                    let positions = unfinished(positions);
                    taken.extend(&positions);
                    if !positions.is_empty() {
                        jobs.push((job_id.clone(), Unit::new(batch, positions, requests)));
                    }
                }
                Open::Sending {
                    positions,
                    attempt: a,
                } => {
                    maybe.extend(unfinished(positions));
                    attempt = attempt.max(*a);
                }
            }
        }
        maybe.sort_unstable();
        maybe.dedup();
        maybe.retain(|p| !taken.contains(p));
        taken.extend(&maybe);
        let all: Vec<Position> = (0..size).map(position).collect();
        let rest: Vec<Position> = unfinished(&all)
            .into_iter()
            .filter(|p| !taken.contains(p))
            .collect();
        for (id, unit) in jobs {
            self.job_ids.insert(id.clone());
            self.jobs.push(JobEntry::new(id, unit));
        }
        if !maybe.is_empty() {
            let unit = Unit::new(batch, maybe, attempt);
            // A lost create is looked up before anything is sent again; an update is sent again.
            if self.plan.mode_of(batch) == Mode::Create {
                let settle = Instant::now() + self.options.lost_answer_settle;
                self.uncertain.push((settle, unit, 0));
            } else {
                self.queue.push_back(unit);
            }
        }
        if !rest.is_empty() {
            self.queue.push_back(Unit::new(batch, rest, 0));
        }
    }

    async fn run_loop(&mut self, cancel: &CancellationToken) -> Result<(), ImportError> {
        let mut pause = self.options.pause.take();
        if let Some(rx) = &mut pause {
            let paused = *rx.borrow_and_update();
            self.set_paused(paused).await;
        }
        loop {
            let now = Instant::now();
            self.promote(now);
            self.give_up_overdue_jobs(now).await?;
            self.launch(now).await?;
            if self.is_done() || self.cancel_follow_over(now) {
                return Ok(());
            }
            let wake = self.next_wake(now);
            tokio::select! {
                Some(done) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.handle(done).await?;
                }
                () = tokio::time::sleep_until(wake.into()) => {}
                () = cancel.cancelled(), if !self.cancelled => {
                    self.cancelled = true;
                    self.cancelled_at = Some(Instant::now());
                    self.emit(ImportEvent::Cancelling).await;
                }
                paused = pause_changed(&mut pause) => self.set_paused(paused).await,
            }
        }
    }

    async fn set_paused(&mut self, paused: bool) {
        if paused != self.paused {
            self.paused = paused;
            let event = if paused {
                ImportEvent::Paused
            } else {
                ImportEvent::Resumed
            };
            self.emit(event).await;
        }
    }

    async fn finish(mut self) -> Result<Summary, ImportError> {
        self.summary.elapsed_ms =
            u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.summary.cancelled = self.cancelled;
        self.journal.record(&Entry::Finished {
            summary: self.summary.clone(),
        })?;
        self.emit(ImportEvent::Finished(Box::new(self.summary.clone())))
            .await;
        Ok(self.summary)
    }

    fn is_done(&self) -> bool {
        let followed = self.jobs.is_empty() && self.in_flight.is_empty() && self.primary.is_empty();
        if self.cancelled {
            return followed;
        }
        followed
            && self.queue.is_empty()
            && self.fresh.is_empty()
            && self.delayed.is_empty()
            && self.uncertain.is_empty()
    }

    /// Cancelled, and jobs in flight followed long enough: the run stops with them open in the
    /// journal (a wait of an hour's `Retry-After`, or a job that never ends, cannot hold it).
    fn cancel_follow_over(&self, now: Instant) -> bool {
        self.cancelled_at
            .is_some_and(|at| now >= at + self.options.cancel_follow)
    }

    /// Jobs past [`EngineOptions::job_deadline`]: their rows end `unknown` with the reason,
    /// never waited on forever and never sent blindly again (the job may still run);
    /// `zdimport retry` looks them up before sending any.
    async fn give_up_overdue_jobs(&mut self, now: Instant) -> Result<(), ImportError> {
        let deadline = self.options.job_deadline;
        while let Some(at) = self
            .jobs
            .iter()
            .position(|j| now >= j.accepted_at + deadline)
        {
            let job = self.jobs.remove(at);
            let details = format!(
                "job {} did not end within {} s of being accepted; it may still run: `zdimport \
                 retry` looks these users up before sending any",
                job.id,
                deadline.as_secs()
            );
            let outcomes = self.outcomes_for(&job.unit, |o| {
                o.with_error("JobDeadline", Some(details.clone()))
            })?;
            self.resolve_as(outcomes, Outcome::Unknown).await?;
        }
        Ok(())
    }

    /// Moves resends whose back-off has passed to the front of the queue.
    fn promote(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.delayed)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.delayed = later;
        for (_, unit) in due.into_iter().rev() {
            self.queue.push_front(unit);
        }
    }

    /// The next moment something can happen without an answer arriving.
    fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = now + Duration::from_secs(1);
        let has_units = !self.queue.is_empty() || !self.fresh.is_empty();
        let wants_to_send = has_units && !self.paused && !self.cancelled;
        if wants_to_send && self.posting + self.jobs.len() < self.concurrency() {
            wake = wake.min(self.pacer.ready_at());
        }
        if !self.jobs.is_empty() && !self.polling {
            wake = wake.min(self.poll_due().max(self.pacer.ready_at()));
        }
        if self.looking_up < self.concurrency() {
            for (at, ..) in &self.uncertain {
                wake = wake.min((*at).max(self.pacer.ready_at()));
            }
        }
        for (at, _) in &self.delayed {
            wake = wake.min(*at);
        }
        if !self.paused && self.primary_in_flight < PRIMARY_AT_ONCE {
            for (at, _) in &self.primary {
                wake = wake.min((*at).max(self.pacer.ready_at()));
            }
        }
        if let Some(at) = self.cancelled_at {
            wake = wake.min(at + self.options.cancel_follow);
        }
        for job in &self.jobs {
            wake = wake.min(job.accepted_at + self.options.job_deadline);
        }
        wake.max(now + Duration::from_micros(100))
    }

    /// Starts what may start now: a poll, due lookups, then bulk requests while job slots
    /// and the rate allow.
    async fn launch(&mut self, now: Instant) -> Result<(), ImportError> {
        if !self.polling
            && !self.jobs.is_empty()
            && self.poll_due() <= now
            && self.pacer.is_ready(now)
        {
            self.launch_poll(now);
        }
        if !self.cancelled {
            while self.looking_up < self.concurrency() && self.pacer.is_ready(now) {
                let Some(at) = self.uncertain.iter().position(|(due, ..)| *due <= now) else {
                    break;
                };
                let (_, unit, tries) = self.uncertain.remove(at);
                self.launch_lookup(unit, tries + 1, now)?;
            }
        }
        // Also after a cancel: the row's update is in, what is left of it is finished.
        while !self.paused && self.primary_in_flight < PRIMARY_AT_ONCE && self.pacer.is_ready(now) {
            let Some(at) = self.primary.iter().position(|(due, _)| *due <= now) else {
                break;
            };
            let (_, task) = self.primary.remove(at);
            self.launch_primary(task, now);
        }
        // Every `sending` line of this round is written, then synced once, before any of its
        // requests leaves (they start when the loop polls them).
        let mut sends = Vec::new();
        while !self.cancelled
            && !self.paused
            && self.posting + self.jobs.len() < self.concurrency()
            && self.pacer.is_ready(now)
        {
            let Some(unit) = self.next_unit() else {
                break;
            };
            sends.push(self.launch_send(unit, now)?);
        }
        if !sends.is_empty() {
            self.journal.sync()?;
        }
        for event in sends {
            self.emit(event).await;
        }
        Ok(())
    }

    fn launch_poll(&mut self, now: Instant) {
        let ids: Vec<String> = self.jobs.iter().take(100).map(|j| j.id.clone()).collect();
        let client = self.client.clone();
        self.polling = true;
        self.summary.polls += 1;
        self.pacer.sent(now);
        self.in_flight.push(Box::pin(async move {
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let result = client.job_statuses(&refs).await;
            Done::Polled { ids, result }
        }));
    }

    fn launch_lookup(&mut self, unit: Unit, tries: u32, now: Instant) -> Result<(), ImportError> {
        let planned = self.plan.batch(unit.batch)?;
        let keys: Vec<(Position, UserKey)> = unit
            .positions
            .iter()
            .map(|&p| (p, planned.keys[usize::from(p)].clone()))
            .collect();
        let client = self.client.clone();
        let object = self.plan.object;
        self.pacer.sent(now);
        self.looking_up += 1;
        self.in_flight.push(Box::pin(async move {
            let result = match object {
                Object::Users => look_up::<User>(&client, &keys).await,
                Object::Organizations => {
                    look_up::<crate::zendesk::Organization>(&client, &keys).await
                }
            };
            Done::LookedUp {
                unit,
                tries,
                result,
            }
        }));
        Ok(())
    }

    fn launch_primary(&mut self, task: Primary, now: Instant) {
        let client = self.client.clone();
        self.primary_in_flight += 1;
        self.pacer.sent_requests(now, 2);
        self.in_flight.push(Box::pin(async move {
            let result = make_primary(&client, task.user_id, &task.email).await;
            Done::MadePrimary { task, result }
        }));
    }

    /// Writes the request's `sending` line (the caller syncs it before the request can leave)
    /// and queues the request; the event to announce it comes back.
    fn launch_send(&mut self, mut unit: Unit, now: Instant) -> Result<ImportEvent, ImportError> {
        let planned = self.plan.batch(unit.batch)?;
        let body = planned
            .body_for(&unit.positions)
            .and_then(|body| self.orgs.fill(body))
            .map_err(|reason| ImportError::Encode {
                batch: unit.batch,
                rows: super::report::row_list(&planned.rows),
                reason,
            })?;
        let rows: Vec<u32> = unit.positions.iter().map(|&p| planned.row(p)).collect();
        unit.attempt += 1;
        let zendesk_time = self.zendesk_time();
        let first = self.first_sent.entry(unit.batch).or_insert(zendesk_time);
        *first = (*first).min(zendesk_time);
        self.journal.record_unsynced(&Entry::Sending {
            batch: unit.batch,
            positions: unit.positions.clone(),
            attempt: unit.attempt,
            zendesk_time: Some(zendesk_time),
        })?;
        let endpoint = self.plan.endpoint(unit.batch);
        let client = self.client.clone();
        self.posting += 1;
        self.summary.requests += 1;
        self.pacer.sent(now);
        let event = ImportEvent::BatchSent {
            batch: unit.batch,
            rows,
            attempt: unit.attempt,
        };
        self.in_flight.push(Box::pin(async move {
            let result = client
                .send_bulk(endpoint.method(), endpoint.path(), body)
                .await;
            Done::Sent { unit, result }
        }));
        Ok(event)
    }

    async fn handle(&mut self, done: Done) -> Result<(), ImportError> {
        match done {
            Done::Sent { unit, result } => {
                self.posting -= 1;
                self.on_sent(unit, result).await
            }
            Done::Polled { ids, result } => {
                self.polling = false;
                self.on_polled(&ids, result).await
            }
            Done::LookedUp {
                unit,
                tries,
                result,
            } => {
                self.looking_up -= 1;
                self.on_looked_up(unit, tries, result).await
            }
            Done::MadePrimary { task, result } => {
                self.primary_in_flight -= 1;
                self.on_made_primary(task, result).await
            }
            Done::Dated {
                outcomes,
                since,
                result,
            } => self.on_dated(outcomes, since, result).await,
        }
    }

    /// The task for a row its job updated, when the row's email is to be made primary.
    fn primary_task(&self, outcome: RowOutcome) -> Result<Option<Primary>, ImportError> {
        if outcome.outcome != Outcome::Updated {
            return Ok(None);
        }
        let Some((at, position)) = self.plan.locate(outcome.index) else {
            return Ok(None);
        };
        let planned = self.plan.batch(at)?;
        let Some(key) = planned.keys.get(position) else {
            return Ok(None);
        };
        let (Some(planned_id), Some(email)) = (key.make_primary, key.email.clone()) else {
            return Ok(None);
        };
        Ok(Some(Primary {
            user_id: outcome.user_id.unwrap_or(planned_id),
            email,
            outcome,
            failures: 0,
        }))
    }

    /// A finished job's rows: those whose email is to be made primary go on (journalled
    /// first), the others are finished.
    async fn settle(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), ImportError> {
        let mut done = Vec::new();
        let mut later = Vec::new();
        for o in outcomes {
            match self.primary_task(o.clone())? {
                Some(task) => later.push(task),
                None => done.push(o),
            }
        }
        if later.is_empty() {
            return self.resolve(done).await;
        }
        // One line for the whole job: a kill between two would leave it half settled, and
        // its results can only be matched to its rows all together.
        self.journal.record_unsynced(&Entry::MakingPrimary {
            outcomes: later.iter().map(|t| t.outcome.clone()).collect(),
            resolved: done.clone(),
        })?;
        self.announce(done).await;
        let now = Instant::now();
        self.primary.extend(later.into_iter().map(|t| (now, t)));
        Ok(())
    }

    async fn on_made_primary(
        &mut self,
        mut task: Primary,
        result: Result<(PrimaryDone, RateInfo), ZendeskError>,
    ) -> Result<(), ImportError> {
        let error = match result {
            Ok((done, rate)) => {
                self.observe(&rate).await;
                let outcome = primary_outcome(task.outcome, &task.email, done);
                return self.resolve(vec![outcome]).await;
            }
            Err(error) => error,
        };
        let now = Instant::now();
        if self.rate_limited(&error).await {
            self.primary.push((now, task));
            return Ok(());
        }
        if error.is_transient() && task.failures + 1 < self.options.max_attempts {
            task.failures += 1;
            let wait = backoff(
                self.options.backoff,
                self.options.max_backoff,
                task.failures,
            );
            self.primary.push((now + wait, task));
            return Ok(());
        }
        let details = format!(
            "updated, but {} could not be made its primary email: {error}",
            task.email
        );
        let outcome = task.outcome.with_error("NotMadePrimary", Some(details));
        self.resolve(vec![outcome]).await
    }

    async fn on_sent(
        &mut self,
        unit: Unit,
        result: Result<Answer<JobStatus>, ZendeskError>,
    ) -> Result<(), ImportError> {
        match result {
            Ok(answer) => {
                self.observe(&answer.rate).await;
                if !self.job_ids.insert(answer.value.id.clone()) {
                    return self.repeated_job(unit, &answer.value.id).await;
                }
                // Lost in a power cut, the request is looked up (create) or sent again (upsert,
                // update) on resume: it need not hold up the next answer.
                self.journal.record_unsynced(&Entry::Accepted {
                    batch: unit.batch,
                    positions: unit.positions.clone(),
                    job_id: answer.value.id.clone(),
                })?;
                let now = Instant::now();
                if self.jobs.is_empty() {
                    self.next_poll = now + self.options.poll_interval;
                }
                let mut job = JobEntry::new(answer.value.id, unit);
                job.expect_at = self.job_time.expect(self.probe_step()).map(|t| now + t);
                self.jobs.push(job);
                Ok(())
            }
            Err(error) => self.on_send_error(unit, error).await,
        }
    }

    /// Two requests, one job id: its results cannot be told apart, and matched by position
    /// they would give one user id to two rows. Neither request's users are taken from the
    /// job: both are treated as maybe accepted (looked up in create mode, sent again
    /// otherwise). A job of that id already finished had its results before the repeat came.
    async fn repeated_job(&mut self, unit: Unit, id: &str) -> Result<(), ImportError> {
        let error = format!("Zendesk answered with job {id}, the id of another request");
        if let Some(at) = self.jobs.iter().position(|j| j.id == id) {
            let earlier = self.jobs.remove(at);
            self.reopen(&earlier.unit)?;
            self.maybe_accepted(earlier.unit, &error).await?;
        }
        self.maybe_accepted(unit, &error).await
    }

    async fn on_send_error(&mut self, unit: Unit, error: ZendeskError) -> Result<(), ImportError> {
        if let Some(rate) = error.rate() {
            self.observe(&rate).await;
        }
        if let ZendeskError::RateLimited { reason, .. } = &error {
            self.journal.record(&Entry::NotAccepted {
                batch: unit.batch,
                positions: unit.positions.clone(),
            })?;
            let why = if reason.error.as_deref() == Some("TooManyJobs") {
                WaitReason::JobLimit
            } else {
                WaitReason::RateLimit
            };
            self.wait_out(why, error.retry_after()).await;
            let mut unit = unit;
            unit.attempt = unit.attempt.saturating_sub(1);
            self.queue.push_front(unit);
            return Ok(());
        }
        // A 2xx whose body could not be read: the job exists, its id is lost.
        let accepted_unread =
            matches!(&error, ZendeskError::Decode { status, .. } if (200..300).contains(status));
        if error.is_transient() || accepted_unread {
            return self.maybe_accepted(unit, &error.to_string()).await;
        }
        if matches!(error.status(), Some(401 | 403)) || matches!(error, ZendeskError::Auth(_)) {
            self.journal.record(&Entry::NotAccepted {
                batch: unit.batch,
                positions: unit.positions.clone(),
            })?;
            return Err(ImportError::Refused(Box::new(error)));
        }
        // Refused as it stands (400, 422…): sending it again would be refused again.
        self.journal.record(&Entry::NotAccepted {
            batch: unit.batch,
            positions: unit.positions.clone(),
        })?;
        let (code, details) = refusal_text(&error);
        let outcomes = self.outcomes_for(&unit, |o| o.with_error(code.clone(), details.clone()))?;
        self.resolve_as(outcomes, Outcome::Failed).await
    }

    /// Reads a refused request's rate headers; after a 429 every sender waits. True for a 429.
    async fn rate_limited(&mut self, error: &ZendeskError) -> bool {
        if let Some(rate) = error.rate() {
            self.observe(&rate).await;
        }
        if let ZendeskError::RateLimited { .. } = error {
            self.wait_out(WaitReason::RateLimit, error.retry_after())
                .await;
            return true;
        }
        false
    }

    /// A 429: every sender waits `Retry-After` (a short back-off when there is none).
    async fn wait_out(&mut self, reason: WaitReason, retry_after: Option<Duration>) {
        let wait = rate_limit_wait(retry_after, self.options.backoff, self.options.max_backoff);
        let until = Instant::now() + wait;
        self.pacer.block(until);
        self.emit(ImportEvent::Waiting { reason, until }).await;
    }

    /// No answer, a 5xx or a lost job: the users may or may not be in Zendesk.
    async fn maybe_accepted(&mut self, unit: Unit, error: &str) -> Result<(), ImportError> {
        if unit.attempt >= self.options.max_attempts {
            let details = format!("no answer after {} attempts: {error}", unit.attempt);
            let outcomes =
                self.outcomes_for(&unit, |o| o.with_error("NoAnswer", Some(details.clone())))?;
            return self.resolve_as(outcomes, Outcome::Unknown).await;
        }
        if self.plan.mode_of(unit.batch) == Mode::Create {
            let until = Instant::now() + self.options.lost_answer_settle;
            let batch = unit.batch;
            self.uncertain.push((until, unit, 0));
            self.emit(ImportEvent::Waiting {
                reason: WaitReason::LostAnswer { batch },
                until,
            })
            .await;
            return Ok(());
        }
        let wait = backoff(self.options.backoff, self.options.max_backoff, unit.attempt);
        let until = Instant::now() + wait;
        let reason = WaitReason::Retry {
            attempt: unit.attempt,
            error: error.to_owned(),
        };
        self.delayed.push((until, unit));
        self.emit(ImportEvent::Waiting { reason, until }).await;
        Ok(())
    }

    async fn on_polled(
        &mut self,
        ids: &[String],
        result: Result<Answer<Vec<JobStatus>>, ZendeskError>,
    ) -> Result<(), ImportError> {
        let now = Instant::now();
        let answer = match result {
            Ok(answer) => answer,
            Err(error) => {
                if let Some(rate) = error.rate() {
                    self.observe(&rate).await;
                }
                if let ZendeskError::RateLimited { .. } = &error {
                    self.wait_out(WaitReason::RateLimit, error.retry_after())
                        .await;
                    return Ok(());
                }
                let refused = matches!(error.status(), Some(401 | 403));
                self.poll_failures += 1;
                if refused || self.poll_failures > self.options.max_attempts {
                    return Err(ImportError::Refused(Box::new(error)));
                }
                let (base, max) = (self.options.backoff, self.options.max_backoff);
                self.next_poll = now + backoff(base, max, self.poll_failures);
                return Ok(());
            }
        };
        self.poll_failures = 0;
        self.observe(&answer.rate).await;
        self.next_poll = now + self.options.poll_interval;
        let due: HashSet<String> = self
            .jobs
            .iter()
            .filter(|j| j.expect_at.is_some_and(|at| at <= now))
            .map(|j| j.id.clone())
            .collect();
        let mut seen: HashMap<String, JobStatus> = answer
            .value
            .into_iter()
            .map(|j| (j.id.clone(), j))
            .collect();
        for id in ids {
            match seen.remove(id) {
                Some(status) => {
                    self.note_pace(&status, now);
                    self.on_job_status(status).await?;
                }
                None => self.on_job_missing(id).await?,
            }
        }
        self.tune_job_time(&due, now);
        // What a job's own count foretells comes before an estimate from other jobs.
        for job in &mut self.jobs {
            if let Some(end) = job.foretold.take().filter(|&end| end > now) {
                job.expect_at = Some(end);
            }
        }
        Ok(())
    }

    /// A working job's count of users done: its first is kept, and each later one foretells
    /// its end ([`Pace`]).
    fn note_pace(&mut self, status: &JobStatus, now: Instant) {
        let (JobState::Working, Some(done), Some(total)) =
            (&status.status, status.progress, status.total)
        else {
            return;
        };
        let Some(job) = self.jobs.iter_mut().find(|j| j.id == status.id) else {
            return;
        };
        match job.pace {
            None => job.pace = Some(Pace { at: now, done }),
            Some(pace) => job.foretold = pace.end(now, done, total),
        }
    }

    /// The step by which the job-time estimate moves, and a late job's first re-poll.
    fn probe_step(&self) -> Duration {
        self.options.poll_interval / 10
    }

    /// After a poll, each job expected done and still running: the estimate learns it takes
    /// longer, and it is looked at again when a job has been seen done (or, past that, after a
    /// step doubling up to the poll interval, so a slow job costs few polls).
    fn tune_job_time(&mut self, due: &HashSet<String>, now: Instant) {
        let step = self.probe_step();
        let interval = self.options.poll_interval;
        for job in self.jobs.iter_mut().filter(|j| due.contains(&j.id)) {
            let elapsed = now.saturating_duration_since(job.accepted_at);
            self.job_time.running(elapsed);
            let backoff = step.saturating_mul(1 << job.late.min(4)).min(interval);
            let known_done = self.job_time.hi.map(|hi| job.accepted_at + hi);
            job.late += 1;
            job.expect_at = Some(match known_done {
                Some(at) if at > now + step => at,
                _ => now + backoff,
            });
        }
    }

    async fn on_job_status(&mut self, status: JobStatus) -> Result<(), ImportError> {
        let Some(at) = self.jobs.iter().position(|j| j.id == status.id) else {
            return Ok(());
        };
        self.jobs[at].missing = 0;
        let now = (status.status.as_str().to_owned(), status.progress);
        if self.jobs[at].last.as_ref() != Some(&now) {
            self.jobs[at].last = Some(now);
            self.emit(ImportEvent::JobUpdate {
                job_id: status.id.clone(),
                status: status.status.as_str().to_owned(),
                progress: status.progress,
                total: status.total,
            })
            .await;
        }
        if !status.is_finished() {
            return Ok(());
        }
        let job = self.jobs.remove(at);
        let took = job.accepted_at.elapsed();
        self.job_time.done(took);
        let mut outcomes = self.job_outcomes(&job.unit, &status)?;
        if job.unit.after_lookup {
            self.recheck_taken(&job.unit, &mut outcomes)?;
        }
        if let Some(since) = self.to_date(&job.unit, &outcomes) {
            self.launch_dates(outcomes, since);
            return Ok(());
        }
        self.settle(outcomes).await
    }

    /// Zendesk's clock now, as far as its answers tell; before any answer, this machine's
    /// less [`CLOCK_ALLOWANCE`].
    fn zendesk_time(&self) -> i64 {
        self.client.zendesk_time().unwrap_or_else(|| {
            let allowance = i64::try_from(CLOCK_ALLOWANCE.as_secs()).unwrap_or(0);
            chrono::Utc::now().timestamp() - allowance
        })
    }

    /// When a job answered a resend of an upsert and some rows say "Updated": the time its
    /// batch first left, against which their users' `created_at` tells whether the lost
    /// earlier request created them (the plan may not have looked them up).
    fn to_date(&self, unit: &Unit, outcomes: &[RowOutcome]) -> Option<i64> {
        // Users only: an organizations' upsert sends each batch to create_many or update_many.
        let resent = self.plan.mode_of(unit.batch) == Mode::Upsert
            && self.plan.object == Object::Users
            && unit.attempt > 1;
        let any = outcomes
            .iter()
            .any(|o| o.outcome == Outcome::Updated && o.user_id.is_some());
        (resent && any).then(|| self.first_sent.get(&unit.batch).copied())?
    }

    fn launch_dates(&mut self, outcomes: Vec<RowOutcome>, since: i64) {
        let ids: Vec<u64> = outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Updated)
            .filter_map(|o| o.user_id)
            .collect();
        let client = self.client.clone();
        let tries = self.options.max_attempts;
        let backoff = (self.options.backoff, self.options.max_backoff);
        self.pacer.sent(Instant::now());
        self.in_flight.push(Box::pin(async move {
            let result = created::dates(&client, &ids, tries, backoff).await;
            Done::Dated {
                outcomes,
                since,
                result,
            }
        }));
    }

    /// The rows of a job whose users' creation times came back: those created since their
    /// batch first left were created by this run, whatever the resend was answered.
    async fn on_dated(
        &mut self,
        mut outcomes: Vec<RowOutcome>,
        since: i64,
        result: Result<created::Dates, ZendeskError>,
    ) -> Result<(), ImportError> {
        match result {
            Ok(dates) => {
                self.observe(&dates.rate).await;
                created::apply(&mut outcomes, &dates, since);
            }
            Err(error) => created::unchecked(&mut outcomes, &error),
        }
        self.settle(outcomes).await
    }

    /// A user sent again after a lookup missed it, refused as "already taken": the lost
    /// request created it, and search (eventually consistent) did not show it yet. Looked up
    /// again until it shows, within [`EngineOptions::search_lag`], instead of reported failed;
    /// never sent again, as Zendesk holds it.
    fn recheck_taken(
        &mut self,
        unit: &Unit,
        outcomes: &mut Vec<RowOutcome>,
    ) -> Result<(), ImportError> {
        let planned = self.plan.batch(unit.batch)?;
        let taken: HashSet<u32> = outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Failed && is_taken(o.details.as_deref()))
            .map(|o| o.row)
            .collect();
        if taken.is_empty() {
            return Ok(());
        }
        let positions: Vec<Position> = unit
            .positions
            .iter()
            .copied()
            .filter(|&p| taken.contains(&planned.row(p)))
            .collect();
        outcomes.retain(|o| !taken.contains(&o.row));
        self.journal.record(&Entry::Sending {
            batch: unit.batch,
            positions: positions.clone(),
            attempt: unit.attempt,
            zendesk_time: None,
        })?;
        let now = Instant::now();
        let again = Unit {
            positions,
            after_lookup: false,
            held_since: Some(now),
            ..unit.clone()
        };
        self.uncertain.push((now, again, 0));
        Ok(())
    }

    /// A job `show_many` does not return: normal just after creation, lost after many polls
    /// (it expired or Zendesk dropped it), then handled as a request with no answer.
    async fn on_job_missing(&mut self, id: &str) -> Result<(), ImportError> {
        let Some(at) = self.jobs.iter().position(|j| j.id == id) else {
            return Ok(());
        };
        self.jobs[at].missing += 1;
        if self.jobs[at].missing < self.options.job_missing_polls {
            return Ok(());
        }
        let job = self.jobs.remove(at);
        self.reopen(&job.unit)?;
        self.maybe_accepted(job.unit, &format!("job {id} cannot be found any more"))
            .await
    }

    /// An accepted request whose job is given up: open again in the journal until the lookup
    /// or resend settles it (and its job not followed on resume).
    fn reopen(&mut self, unit: &Unit) -> Result<(), ImportError> {
        self.journal.record(&Entry::Sending {
            batch: unit.batch,
            positions: unit.positions.clone(),
            attempt: unit.attempt,
            zendesk_time: None,
        })?;
        Ok(())
    }

    async fn on_looked_up(
        &mut self,
        unit: Unit,
        tries: u32,
        result: Result<(Vec<Found>, RateInfo), ZendeskError>,
    ) -> Result<(), ImportError> {
        let found = match result {
            Ok((found, rate)) => {
                self.observe(&rate).await;
                found
            }
            Err(error) => return self.lookup_failed(unit, tries, error).await,
        };
        let created: HashMap<Position, Option<i64>> =
            found.iter().map(|&(p, _, at)| (p, at)).collect();
        let found: HashMap<Position, u64> = found.into_iter().map(|(p, id, _)| (p, id)).collect();
        if let Some(since) = unit.held_since {
            return self.on_held_looked_up(unit, since, &found).await;
        }
        let since = self.first_sent.get(&unit.batch).copied();
        let planned = self.plan.batch(unit.batch)?;
        let mut outcomes = Vec::new();
        let mut resend = Vec::new();
        for &p in &unit.positions {
            let key = &planned.keys[usize::from(p)];
            if let Some(&id) = found.get(&p) {
                let at = created.get(&p).copied().flatten();
                outcomes.push(match created::before(at, since) {
                    // Create mode: Zendesk refused the lost request's copy; nothing changed.
                    Some(text) => planned.outcome(p, Outcome::Failed).with_error(
                        "AlreadyInZendesk",
                        Some(format!(
                            "Zendesk held this user (id {id}) before this run sent it: {text}; \
                             create mode does not change an existing user (upsert does)"
                        )),
                    ),
                    None => found_created(
                        planned.outcome(p, Outcome::Created),
                        id,
                        "found in Zendesk after its request's answer was lost".into(),
                    ),
                });
            } else if key.can_look_up_as(self.plan.object) {
                resend.push(p);
            } else {
                outcomes.push(
                    planned.outcome(p, Outcome::Unknown).with_error(
                        "NoAnswer",
                        Some(
                            "the request's answer was lost and the user has no email or \
                         external_id to look it up; not sent again so it cannot be created twice"
                                .into(),
                        ),
                    ),
                );
            }
        }
        self.resolve(outcomes).await?;
        self.journal.record(&Entry::NotAccepted {
            batch: unit.batch,
            positions: unit.positions.clone(),
        })?;
        if !resend.is_empty() {
            self.queue.push_front(Unit {
                batch: unit.batch,
                positions: resend,
                attempt: unit.attempt,
                after_lookup: true,
                held_since: None,
            });
        }
        Ok(())
    }

    /// Users Zendesk holds, looked up again: found ones were created by this run; the others
    /// are looked up later while search may still lag, then left `unknown` (open in the
    /// journal no more: resume and retry look them up, never send them).
    async fn on_held_looked_up(
        &mut self,
        unit: Unit,
        since: Instant,
        found: &HashMap<Position, u64>,
    ) -> Result<(), ImportError> {
        let planned = self.plan.batch(unit.batch)?;
        let waited = since.elapsed();
        let lagging = waited < self.options.search_lag;
        let mut outcomes = Vec::new();
        let mut still = Vec::new();
        for &p in &unit.positions {
            if let Some(&id) = found.get(&p) {
                let details = format!(
                    "created by this run: its request's answer was lost, and Zendesk's search \
                     showed the user {}s after Zendesk refused it again as already in use",
                    waited.as_secs()
                );
                outcomes.push(found_created(
                    planned.outcome(p, Outcome::Created),
                    id,
                    details,
                ));
            } else if lagging {
                still.push(p);
            } else {
                outcomes.push(planned.outcome(p, Outcome::Unknown).with_error(
                    "NotInSearchYet",
                    Some(format!(
                        "Zendesk holds a user with this email (it refused a second one), most \
                         likely created by this run's request whose answer was lost, but its \
                         search has not shown it after {}s; not sent again — a retry or a \
                         resume of the run looks it up later",
                        waited.as_secs()
                    )),
                ));
            }
        }
        let closed: Vec<Position> = unit
            .positions
            .iter()
            .copied()
            .filter(|p| !still.contains(p))
            .collect();
        self.resolve(outcomes).await?;
        if !closed.is_empty() {
            self.journal.record(&Entry::NotAccepted {
                batch: unit.batch,
                positions: closed,
            })?;
        }
        if !still.is_empty() {
            let due = Instant::now() + self.options.search_retry;
            self.uncertain.push((
                due,
                Unit {
                    positions: still,
                    ..unit
                },
                0,
            ));
        }
        Ok(())
    }

    async fn lookup_failed(
        &mut self,
        unit: Unit,
        tries: u32,
        error: ZendeskError,
    ) -> Result<(), ImportError> {
        let rate_limited = self.rate_limited(&error).await;
        if let Some((at, tries)) = lookup_again(&error, rate_limited, tries, &self.options) {
            self.uncertain.push((at, unit, tries));
            return Ok(());
        }
        let details = format!("the answer was lost and the lookup failed: {error}");
        let outcomes =
            self.outcomes_for(&unit, |o| o.with_error("NoAnswer", Some(details.clone())))?;
        self.resolve_as(outcomes, Outcome::Unknown).await
    }

    /// Each row of a finished job: by its result, or unknown when there is none.
    fn job_outcomes(
        &self,
        unit: &Unit,
        status: &JobStatus,
    ) -> Result<Vec<RowOutcome>, ImportError> {
        let planned = self.plan.batch(unit.batch)?;
        let base = |p: Position, outcome| planned.outcome(p, outcome);
        if status.status != JobState::Completed {
            let word = status.status.as_str();
            let details = status
                .message
                .clone()
                .unwrap_or_else(|| format!("the job ended {word}"));
            let code = format!("Job{}", capitalised(word));
            return Ok(unit
                .positions
                .iter()
                .map(|&p| base(p, Outcome::Unknown).with_error(code.clone(), Some(details.clone())))
                .collect());
        }
        let sent: Vec<serde_json::Value> = unit
            .positions
            .iter()
            .map(|&p| planned.keys[usize::from(p)].as_sent())
            .collect();
        let mut by_position: Vec<Option<RowOutcome>> = vec![None; unit.positions.len()];
        let mode = self.plan.mode_of(unit.batch);
        for matched in match_results(&sent, status.result_list()) {
            let p = unit.positions[matched.position];
            let r = matched.result;
            let updated = is_update(r.status.as_deref(), r.action.as_deref(), mode);
            // A resend Zendesk answers "Updated" for a user the plan found nowhere: the earlier
            // request, whose answer was lost, created it.
            let created_before = updated
                && self.plan.mode == Mode::Upsert
                && unit.attempt > 1
                && planned.keys[usize::from(p)].expect_new;
            let outcome = if r.is_failure() {
                Outcome::Failed
            } else if updated && !created_before {
                Outcome::Updated
            } else {
                Outcome::Created
            };
            let mut o = base(p, outcome);
            if created_before && outcome == Outcome::Created {
                o.details = Some(
                    "created by this run: an earlier request's answer was lost, and the plan \
                     had found no such user"
                        .into(),
                );
            }
            o.user_id = r.id;
            o.matched_by = Some(matched.rule.into());
            if outcome == Outcome::Failed {
                o = o.with_error(
                    r.error.clone().unwrap_or_else(|| "Failed".into()),
                    r.details_text(),
                );
            }
            by_position[matched.position] = Some(o);
        }
        Ok(by_position
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.unwrap_or_else(|| {
                    base(unit.positions[i], Outcome::Unknown).with_error(
                        "NoResult",
                        Some(format!(
                            "job {} completed without a result that can be tied to this row \
                             safely (missing, or naming another user); looked up on resume",
                            status.id
                        )),
                    )
                })
            })
            .collect())
    }

    fn outcomes_for(
        &self,
        unit: &Unit,
        f: impl Fn(RowOutcome) -> RowOutcome,
    ) -> Result<Vec<RowOutcome>, ImportError> {
        let planned = self.plan.batch(unit.batch)?;
        Ok(unit
            .positions
            .iter()
            .map(|&p| f(planned.outcome(p, Outcome::Unknown)))
            .collect())
    }

    /// The next users to send: a resend or a replayed batch first, then the next batch
    /// nothing was sent of.
    fn next_unit(&mut self) -> Option<Unit> {
        if let Some(unit) = self.queue.pop_front() {
            return Some(unit);
        }
        let batch = self.fresh.pop_front()?;
        let size = self.plan.batch_ref(batch).map_or(0, |b| b.size);
        Some(Unit::new(batch, (0..size).map(position).collect(), 0))
    }

    async fn resolve_as(
        &mut self,
        mut outcomes: Vec<RowOutcome>,
        outcome: Outcome,
    ) -> Result<(), ImportError> {
        for o in &mut outcomes {
            o.outcome = outcome;
        }
        self.resolve(outcomes).await
    }

    /// Rows finished: on disk first, then counted and announced.
    async fn resolve(&mut self, outcomes: Vec<RowOutcome>) -> Result<(), ImportError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        // Lost in a power cut, the job is polled (or the users looked up) again on resume.
        self.journal.record_unsynced(&Entry::Resolved {
            outcomes: outcomes.clone(),
        })?;
        self.announce(outcomes).await;
        Ok(())
    }

    /// Rows finished and on disk: counted and announced.
    async fn announce(&mut self, outcomes: Vec<RowOutcome>) {
        if outcomes.is_empty() {
            return;
        }
        for o in &outcomes {
            self.summary.count(o.outcome);
        }
        self.emit(ImportEvent::RowsFinished(outcomes)).await;
    }

    async fn observe(&mut self, rate: &RateInfo) {
        let was_pacing = !self.pacer.is_ready(Instant::now());
        if self.pacer.observe(rate) && !was_pacing {
            let until = self.pacer.ready_at();
            self.emit(ImportEvent::Waiting {
                reason: WaitReason::Pacing,
                until,
            })
            .await;
        }
    }

    /// A closed receiver (the UI went away) must not stop the import: events are dropped.
    async fn emit(&mut self, event: ImportEvent) {
        crate::logging::import_event(&event);
        let _ignored = self.events.send(event).await;
    }
}

mod created;

/// A row whose user a lookup found after its request's answer was lost.
fn found_created(mut o: RowOutcome, id: u64, details: String) -> RowOutcome {
    o.user_id = Some(id);
    o.matched_by = Some(MatchedBy::Lookup);
    o.details = Some(details);
    o
}

/// The row's end once its email is made primary, or why it was not.
fn primary_outcome(outcome: RowOutcome, email: &str, done: PrimaryDone) -> RowOutcome {
    let note = match done {
        PrimaryDone::Made => format!("{email} made the user's primary email"),
        PrimaryDone::Already => format!("{email} is the user's primary email"),
        PrimaryDone::Missing => {
            let details = format!(
                "updated, but the user holds no email identity {email} after its update, so it \
                 could not be made primary"
            );
            return outcome.with_error("NotMadePrimary", Some(details));
        }
    };
    let details = match outcome.details {
        Some(d) => format!("{d}; {note}"),
        None => note,
    };
    RowOutcome {
        details: Some(details),
        ..outcome
    }
}

/// Makes `email` the primary email of user `user_id`: its identities read, the email's
/// identity found by value (the bulk update added it, its id unknown until now), then
/// `make_primary` unless it is primary already. Repeating it is harmless.
async fn make_primary(
    client: &Client,
    user_id: u64,
    email: &str,
) -> Result<(PrimaryDone, RateInfo), ZendeskError> {
    let answer = client.identities(user_id).await?;
    let Some(identity) = answer
        .value
        .iter()
        .find(|i| i.kind == "email" && i.value.eq_ignore_ascii_case(email))
    else {
        return Ok((PrimaryDone::Missing, answer.rate));
    };
    if identity.primary {
        return Ok((PrimaryDone::Already, answer.rate));
    }
    let made = client.make_primary(user_id, identity.id).await?;
    Ok((PrimaryDone::Made, made.rate))
}

/// Resolves when the pause switch changes, with its new value; never when there is none.
async fn pause_changed(pause: &mut Option<tokio::sync::watch::Receiver<bool>>) -> bool {
    let Some(rx) = pause else {
        return std::future::pending().await;
    };
    if rx.changed().await.is_err() {
        *pause = None;
        return std::future::pending().await;
    }
    *rx.borrow_and_update()
}

fn is_update(status: Option<&str>, action: Option<&str>, mode: Mode) -> bool {
    match (status, action) {
        (Some(s), _) if s.eq_ignore_ascii_case("updated") => true,
        (Some(s), _) if s.eq_ignore_ascii_case("created") => false,
        (_, Some(a)) => a.eq_ignore_ascii_case("update"),
        _ => mode == Mode::Update,
    }
}

/// Zendesk's words for a unique email or external_id already in use.
fn is_taken(details: Option<&str>) -> bool {
    details.is_some_and(|d| {
        let d = d.to_ascii_lowercase();
        d.contains("already been taken") || d.contains("already being used")
    })
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// Zendesk's error code and description for a refused request.
pub(super) fn refusal_text(error: &ZendeskError) -> (String, Option<String>) {
    match error {
        ZendeskError::Api { status, reason, .. } => (
            reason
                .error
                .clone()
                .unwrap_or_else(|| format!("HTTP{status}")),
            Some(reason.to_string()),
        ),
        other => ("Refused".into(), Some(other.to_string())),
    }
}

/// What a lookup after a lost answer finds: a user or an organization.
trait Held {
    fn id(&self) -> u64;
    fn external_id(&self) -> &Option<String>;
    /// When Zendesk made it (`created_at`), to tell a record this run created from one held.
    fn created_at(&self) -> Option<i64>;
    /// The records with these external ids (`show_many`, up to 100).
    fn show_many<'a>(
        client: &'a Client,
        ids: &'a [&'a str],
    ) -> impl Future<Output = Result<Answer<Vec<Self>>, ZendeskError>> + Send + 'a
    where
        Self: Sized;
    /// The search for a key without an external id (`None`: nothing to search by).
    fn search<'a>(
        client: &'a Client,
        key: &'a UserKey,
    ) -> impl Future<Output = Option<Result<Answer<Vec<Self>>, ZendeskError>>> + Send + 'a
    where
        Self: Sized;
    /// Whether this record is the one the key searched for.
    fn matches(&self, key: &UserKey) -> bool;
}

impl Held for User {
    fn id(&self) -> u64 {
        self.id
    }
    fn external_id(&self) -> &Option<String> {
        &self.external_id
    }
    fn created_at(&self) -> Option<i64> {
        created::created_at(self)
    }
    fn show_many<'a>(
        client: &'a Client,
        ids: &'a [&'a str],
    ) -> impl Future<Output = Result<Answer<Vec<Self>>, ZendeskError>> + Send + 'a {
        client.show_many_by_external_ids(ids)
    }
    async fn search<'a>(
        client: &'a Client,
        key: &'a UserKey,
    ) -> Option<Result<Answer<Vec<Self>>, ZendeskError>> {
        Some(client.search_by_email(key.email.as_deref()?).await)
    }
    fn matches(&self, key: &UserKey) -> bool {
        same(&self.email, &key.email)
    }
}

impl Held for crate::zendesk::Organization {
    fn id(&self) -> u64 {
        self.id
    }
    fn external_id(&self) -> &Option<String> {
        &self.external_id
    }
    fn created_at(&self) -> Option<i64> {
        let text = self.extra.get("created_at")?.as_str()?;
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp())
    }
    fn show_many<'a>(
        client: &'a Client,
        ids: &'a [&'a str],
    ) -> impl Future<Output = Result<Answer<Vec<Self>>, ZendeskError>> + Send + 'a {
        client.organizations_show_many_by_external_ids(ids)
    }
    async fn search<'a>(
        client: &'a Client,
        key: &'a UserKey,
    ) -> Option<Result<Answer<Vec<Self>>, ZendeskError>> {
        Some(
            client
                .search_organizations_by_name(key.name.as_deref()?)
                .await,
        )
    }
    fn matches(&self, key: &UserKey) -> bool {
        use crate::payload::org::name_key;
        key.name.as_deref().map(name_key) == Some(name_key(&self.name))
    }
}

/// Finds records a lost request may have created: by external_id with `show_many` (100 at a
/// time), then each key without one with its search, the answer's record that matches it.
/// Users by email (`users/search`), organizations by name (`organizations/search?name=`, exact
/// ignoring case, as Zendesk keeps names unique).
async fn look_up<T: Held>(
    client: &Client,
    keys: &[(Position, UserKey)],
) -> Result<(Vec<Found>, RateInfo), ZendeskError> {
    let mut found = Vec::new();
    let mut rate = RateInfo::default();
    let with_external: Vec<&(Position, UserKey)> = keys
        .iter()
        .filter(|(_, k)| k.external_id.is_some())
        .collect();
    for chunk in with_external.chunks(100) {
        let ids: Vec<&str> = chunk
            .iter()
            .filter_map(|(_, k)| k.external_id.as_deref())
            .collect();
        let answer = T::show_many(client, &ids).await?;
        rate = answer.rate;
        for (p, key) in chunk {
            if let Some(held) = answer
                .value
                .iter()
                .find(|h| same(h.external_id(), &key.external_id))
            {
                found.push((*p, held.id(), held.created_at()));
            }
        }
    }
    for (p, key) in keys.iter().filter(|(_, k)| k.external_id.is_none()) {
        let Some(answer) = T::search(client, key).await else {
            continue;
        };
        let answer = answer?;
        rate = answer.rate;
        if let Some(held) = answer.value.iter().find(|h| h.matches(key)) {
            found.push((*p, held.id(), held.created_at()));
        }
    }
    Ok((found, rate))
}

type Found = (Position, u64, Option<i64>);

/// Zendesk matches emails and external_ids in any case.
fn same(a: &Option<String>, b: &Option<String>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_or_updated_from_status_then_action_then_mode() {
        assert!(is_update(Some("Updated"), None, Mode::Create));
        assert!(!is_update(Some("Created"), Some("update"), Mode::Update));
        assert!(is_update(None, Some("update"), Mode::Upsert));
        assert!(is_update(None, None, Mode::Update));
        assert!(!is_update(None, None, Mode::Upsert));
    }

    #[test]
    fn a_working_job_s_end_is_foretold_from_its_count() {
        let at = Instant::now();
        let ms = Duration::from_millis;
        let pace = Pace { at, done: 10 };
        assert_eq!(pace.end(at + ms(1_000), 10, 100), None, "no move yet");
        assert_eq!(pace.end(at + ms(1_000), 3, 100), None, "a count going back");
        // 20 users in 2 s: 100 ms each, 70 left.
        assert_eq!(pace.end(at + ms(2_000), 30, 100), Some(at + ms(9_000)));
        assert_eq!(pace.end(at + ms(2_000), 100, 100), Some(at + ms(2_000)));
    }

    #[test]
    fn the_job_time_is_bisected_between_what_polls_saw() {
        let ms = Duration::from_millis;
        let step = ms(100);
        let mut t = JobTime::default();
        assert_eq!(
            t.expect(step),
            None,
            "no job seen done yet: the regular polls"
        );
        t.done(ms(15_800));
        assert_eq!(
            t.expect(step),
            Some(ms(7_900)),
            "halfway to the first job seen done"
        );
        t.running(ms(7_900));
        assert_eq!(t.expect(step), Some(ms(11_850)));
        t.running(ms(11_850));
        t.done(ms(14_600));
        assert_eq!(t.expect(step), Some(ms(13_225)));
        t.running(ms(14_550));
        assert_eq!(
            t.expect(step),
            Some(ms(14_600)),
            "within a step: the shortest seen done"
        );
        t.running(ms(16_000));
        assert_eq!(
            t.expect(step),
            Some(ms(14_600)),
            "jobs of varying times: the shortest seen done"
        );
    }

    #[test]
    fn zendesk_words_for_a_taken_identifier() {
        assert!(is_taken(Some("External ID: X1 has already been taken")));
        assert!(is_taken(Some(
            "Email: a@x.com is already being used by another user"
        )));
        assert!(!is_taken(Some("Name: is too short")));
        assert!(!is_taken(None));
        assert_eq!(capitalised("killed"), "Killed");
    }
}
