//! The headless import's account plan, routed into its outbox as it is made: each part of
//! rows [`crate::plan::build_each`] decides goes through a [`Router`] into a spool in the
//! data dir, so neither every row's plan nor every request body is held at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::check::CheckError;
use crate::import::orgs::MissingCount;
use crate::import::{Outbox, OutboxFile, SpoolBuilder, UserKey};
use crate::payload::{IssueRef, Mode, Organization, Request, User};
use crate::plan::{Marked, PlanError, PlanSink, Router, RowPlan, Step, Users};

/// The outbox being written, and what the plan's lines say of the rows routed so far.
pub(super) struct RoutedSpool {
    mode: Mode,
    /// What the requests create or update: users, unless the caller says otherwise.
    pub(super) object: crate::mapping::Object,
    router: Router,
    dir: PathBuf,
    spool: SpoolBuilder,
    /// The users moved to `update_many` (create mode on users the account holds): sent after
    /// the mode's requests, so spooled apart until the end.
    moved: Option<SpoolBuilder>,
    /// The users of each organization created first (`--missing-orgs create`).
    missing: Option<MissingCount>,
    /// Rows with errors not settled yet: messages, and whether every one is includable.
    errors: BTreeMap<u32, (Vec<String>, bool)>,
    /// `--invalid include`: a sent row with only includable errors is marked, not skipped.
    include: bool,
    /// What names the rows with errors no request sends, by row (from the sheet, when it
    /// is at hand).
    names: std::collections::HashMap<u32, UserKey>,
    /// Requests written, to name one that cannot be read back.
    batches: usize,
    pub(super) tally: Tally,
}

/// What the plan does beyond its bulk requests, counted as its rows go by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows whose email the import makes primary.
    pub primary: usize,
    /// Memberships the import adds once the users exist.
    pub memberships: usize,
}

impl RoutedSpool {
    /// A spool in `dir` for the requests of `mode`, laid out for `jobs` at once; the rows of
    /// `issues` with an error skipped (or, with `include`, marked where sent).
    pub(super) fn create<'a, I: Into<IssueRef<'a>>>(
        dir: &Path,
        (mode, skip_unchanged, jobs): (Mode, bool, usize),
        issues: impl IntoIterator<Item = I>,
        include: bool,
    ) -> Result<Self, CheckError> {
        Ok(Self {
            mode,
            object: crate::mapping::Object::Users,
            router: Router::new(mode, skip_unchanged, jobs),
            dir: dir.to_path_buf(),
            spool: SpoolBuilder::create(dir)?,
            moved: None,
            missing: None,
            errors: crate::import::error_rows(issues),
            include,
            names: std::collections::HashMap::new(),
            batches: 0,
            tally: Tally::default(),
        })
    }

    /// The rows with errors that are still to settle (skipped at the end unless sent).
    pub(super) fn error_rows(&self) -> std::collections::HashSet<u32> {
        self.errors.keys().copied().collect()
    }

    /// Names the rows with errors no request sends by `names` (what the sheet holds).
    pub(super) fn name_errors(&mut self, names: std::collections::HashMap<u32, UserKey>) {
        self.names = names;
    }

    /// A request sent as the rows were checked, with no plan to route it (an import without
    /// the lookups): its rows' errors settled as a routed request's are.
    pub(super) fn sent(&mut self, request: Request) -> Result<(), CheckError> {
        let marks = vec![crate::plan::Mark::default(); request.rows.len()];
        self.write(vec![Marked { request, marks }], false)
    }

    /// Writes routed requests to the main spool or, `moved`, to the one sent after it.
    fn write(&mut self, sent: Vec<Marked>, moved: bool) -> Result<(), CheckError> {
        for Marked { request, marks } in sent {
            let mut one = Outbox::new(self.mode);
            one.push_request(&request)?;
            let Some(mut batch) = one.batches.pop() else {
                continue;
            };
            for ((row, key), mark) in batch.rows.iter().zip(&mut batch.keys).zip(marks) {
                key.expect_new = mark.expect_new;
                key.make_primary = mark.make_primary;
                if self.include
                    && let Some((messages, true)) = self.errors.get(row)
                {
                    key.sent_despite = Some(messages.join("; "));
                    self.errors.remove(row);
                }
            }
            if let Some(missing) = &mut self.missing {
                missing.add_batch(self.batches, &batch)?;
            }
            self.batches += 1;
            let spool = if moved {
                match &mut self.moved {
                    Some(spool) => spool,
                    None => self.moved.insert(SpoolBuilder::create(&self.dir)?),
                }
            } else {
                &mut self.spool
            };
            spool.push(&batch)?;
        }
        Ok(())
    }

    /// The outbox: the mode's requests, those moved to `update_many`, the rows the plan
    /// leaves out, then those with errors no request sent; and the organizations created
    /// first, with their users.
    pub(super) fn finish(mut self) -> Result<OutboxFile, CheckError> {
        let (main, moved) = self.router.finish();
        self.write(main, false)?;
        self.write(moved, true)?;
        if let Some(moved) = self.moved.take() {
            let moved = moved.finish(Outbox::new(self.mode))?;
            for b in 0..moved.batches() {
                self.spool.push(&moved.read(b)?)?;
            }
        }
        for (row, (messages, _)) in std::mem::take(&mut self.errors) {
            // A row whose sheet names no one is not named (as an outbox in memory has it).
            let key = self.names.remove(&row).filter(|k| *k != UserKey::default());
            self.spool.skip(row, messages.join("; "), key)?;
        }
        let mut head = Outbox::new(self.mode);
        head.object = self.object;
        head.organizations = self.missing.map(MissingCount::finish).unwrap_or_default();
        Ok(self.spool.finish(head)?)
    }
}

impl PlanSink for RoutedSpool {
    type Error = CheckError;

    fn missing(&mut self, names: &[String]) {
        self.missing = (!names.is_empty()).then(|| MissingCount::new(names));
    }

    fn rows(&mut self, rows: Vec<RowPlan>) -> Result<(), CheckError> {
        self.tally.primary += rows.iter().filter(|r| r.makes_primary().is_some()).count();
        self.tally.memberships += crate::plan::memberships::to_add(&rows);
        for row in rows {
            match self.router.push(row) {
                Step::Main(sent) => self.write(sent, false)?,
                Step::Moved(sent) => self.write(sent, true)?,
                Step::Skip { row, reason, key } => {
                    // Its plan says why it is not sent; its errors, if any, need not again.
                    self.errors.remove(&row);
                    let key = Some(key).filter(|k| *k != UserKey::default());
                    self.spool.skip(row, reason, key)?;
                }
                Step::Nothing => {}
            }
        }
        Ok(())
    }
}

/// The records of batch `b` of a spool of checked rows, with the batch: `of` takes them from
/// its body (users, or organizations), one a row.
fn records<T>(
    file: &OutboxFile,
    b: usize,
    of: impl FnOnce(Body) -> Vec<T>,
) -> Result<(crate::import::OutboxBatch, Vec<T>), PlanError> {
    let batch = file.read(b)?;
    let first = batch.rows.first().copied().unwrap_or_default();
    let body: Body = serde_json::from_slice(&batch.body).map_err(|e| PlanError::Body {
        row: first,
        reason: e.to_string(),
    })?;
    let records = of(body);
    if records.len() != batch.rows.len() {
        return Err(PlanError::Body {
            row: first,
            reason: format!("{} records for {} rows", records.len(), batch.rows.len()),
        });
    }
    Ok((batch, records))
}

/// A spooled request's body.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Body {
    users: Vec<User>,
    organizations: Vec<Organization>,
}

/// Users checked as a sheet streamed, read back from their spool a batch at a time
/// ([`super::check::streamed_users`]): each body's users with the memberships beside it.
#[derive(Debug)]
pub struct SpooledUsers(pub(super) OutboxFile);

impl SpooledUsers {
    /// The users of batch `b`, with their sheet rows.
    pub(super) fn batch(&self, b: usize) -> Result<Vec<(u32, User)>, PlanError> {
        let (batch, users) = records(&self.0, b, |body| body.users)?;
        let users = users.into_iter().zip(batch.keys.iter());
        Ok(batch
            .rows
            .iter()
            .zip(users)
            .map(|(row, (mut user, key))| {
                user.memberships.clone_from(&key.memberships);
                (*row, user)
            })
            .collect())
    }
}

impl Users for SpooledUsers {
    fn users(&self) -> Box<dyn Iterator<Item = Result<(u32, User), PlanError>> + Send + '_> {
        Box::new(each_batch(self.0.batches(), |b| self.batch(b)))
    }
}

/// Every record of batches `0..batches`, read by `batch` one after another.
fn each_batch<'a, T: Send + 'a>(
    batches: usize,
    batch: impl Fn(usize) -> Result<Vec<T>, PlanError> + Send + 'a,
) -> impl Iterator<Item = Result<T, PlanError>> + Send + 'a {
    (0..batches).flat_map(move |b| {
        let records: Box<dyn Iterator<Item = _> + Send> = match batch(b) {
            Ok(records) => Box::new(records.into_iter().map(Ok)),
            Err(e) => Box::new(std::iter::once(Err(e))),
        };
        records
    })
}

/// Organizations checked as a sheet of them streamed, read back from their spool a batch at
/// a time ([`super::check::streamed_organizations`]).
#[derive(Debug)]
pub struct SpooledOrgs(pub(super) OutboxFile);

impl SpooledOrgs {
    /// The organizations of batch `b`, with their sheet rows.
    pub(super) fn batch(&self, b: usize) -> Result<Vec<(u32, Organization)>, PlanError> {
        let (batch, organizations) = records(&self.0, b, |body| body.organizations)?;
        Ok(batch.rows.into_iter().zip(organizations).collect())
    }

    /// Every organization, in sheet order.
    pub fn organizations(
        &self,
    ) -> impl Iterator<Item = Result<(u32, Organization), PlanError>> + Send + '_ {
        each_batch(self.0.batches(), |b| self.batch(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{MemberOf, OrganizationRef, Request};

    #[test]
    fn spooled_users_read_back_as_checked_with_their_memberships() {
        let dir = tempfile::tempdir().unwrap();
        let users: Vec<(u32, User)> = (0..250u32)
            .map(|i| {
                let mut user = User {
                    name: Some(format!("U{i}")),
                    email: Some(format!("u{i}@x.com")),
                    organization: Some(OrganizationRef {
                        name: "Acme".into(),
                    }),
                    ..User::default()
                };
                if i % 3 == 0 {
                    user.memberships.push(MemberOf {
                        name: format!("Org {i}"),
                        id: Some(u64::from(i)),
                    });
                }
                (i * 2 + 5, user)
            })
            .collect();
        let at = (Mode::Upsert, crate::mapping::Object::Users);
        let mut spool = crate::import::OutboxWriter::create(dir.path(), at, false).unwrap();
        for batch in users.chunks(100) {
            let (rows, batch): (Vec<u32>, Vec<User>) = batch.iter().cloned().unzip();
            spool
                .push_request(&Request::new(Mode::Upsert, rows, batch))
                .unwrap();
        }
        let spooled = SpooledUsers(spool.finish().unwrap());
        let read: Vec<(u32, User)> = spooled.users().map(Result::unwrap).collect();
        assert_eq!(read, users);
        let survey = crate::plan::Survey::of(&spooled).unwrap();
        assert_eq!(survey.users, 250);
        assert_eq!(
            survey.organizations().len(),
            1 + 84,
            "Acme and every third user's own"
        );
    }
}
