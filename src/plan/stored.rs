//! A plan kept on disk a row at a time (the TUI's Plan step): each decided row a line of an
//! unnamed scratch file in the data dir, memory holding 16 bytes a row (its sheet row, what
//! it does, where its line starts) and the counts; a row is read back when it is shown, and
//! every row in order when the import routes them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Action, Counts, Plan, PlanError, PlanSink, RowPlan};
use crate::payload::{MemberOf, Organization, User};

/// The rows with an error (never looked up), merged into a plan's rows by sheet row as the
/// plan hands its rows over ([`super::build_each`] gives them apart).
pub struct InvalidRows(std::iter::Peekable<std::vec::IntoIter<(u32, String)>>);

impl InvalidRows {
    /// `rows` with their first error, in any order.
    pub fn new(mut rows: Vec<(u32, String)>) -> Self {
        rows.sort_by_key(|(row, _)| *row);
        Self(rows.into_iter().peekable())
    }

    /// The next row with an error before sheet row `row` (before none: any left), as the
    /// plan's row.
    pub fn next_before(&mut self, row: Option<u32>) -> Option<RowPlan> {
        let (at, reason) = self.0.next_if(|(at, _)| row.is_none_or(|row| *at < row))?;
        Some(RowPlan {
            row: at,
            action: Action::Invalid { reason },
            user: None,
            organization: None,
        })
    }
}

/// One row as a line of the scratch file: the user with its memberships (its body does not
/// carry them), or the organization.
#[derive(Serialize, Deserialize)]
struct Line {
    row: u32,
    action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<User>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    memberships: Vec<MemberOf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    organization: Option<Organization>,
}

/// Where a row is: its sheet row, what it does ([`Action::kind`]), whether it has a user or
/// organization (an import sends or skips only those) and where its line starts.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: u64,
    row: u32,
    kind: u8,
    sends: bool,
}

/// What [`StoredPlan::route_counts`] found an import sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Routes {
    /// Rows sent.
    pub rows: usize,
    pub requests: usize,
    /// Of `requests`, those sent after the others to `update_many` by id (create mode on
    /// users the account holds; a sheet of organizations' updates).
    pub moved: usize,
    /// Rows the plan leaves out (invalid rows aside: their errors say).
    pub skipped: usize,
}

/// A plan whose rows are on disk.
#[derive(Debug)]
pub struct StoredPlan {
    /// What the plan says besides its rows (its `rows` are empty).
    pub head: Plan,
    file: File,
    /// Every row in sheet order; the end of the file after the last.
    index: Vec<Entry>,
    end: u64,
    counts: Counts,
    /// Memberships the plan adds once the users exist.
    memberships: usize,
}

impl PartialEq for StoredPlan {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// Writes a plan's rows as they are decided ([`PlanSink`]), the rows with an error merged in.
pub struct PlanWriter {
    out: BufWriter<File>,
    at: u64,
    index: Vec<Entry>,
    counts: Counts,
    memberships: usize,
    invalid: InvalidRows,
}

fn io(what: &str) -> impl Fn(std::io::Error) -> PlanError + '_ {
    move |e| PlanError::Stored(format!("{what}: {e}"))
}

impl PlanWriter {
    /// A scratch file in `dir` for the rows, the rows with an error in `invalid`.
    pub fn create(dir: &Path, invalid: Vec<(u32, String)>) -> Result<Self, PlanError> {
        let what = format!("cannot keep the plan's rows in {}", dir.display());
        let file = std::fs::create_dir_all(dir)
            .and_then(|()| tempfile::tempfile_in(dir))
            .map_err(io(&what))?;
        Ok(Self {
            out: BufWriter::new(file),
            at: 0,
            index: Vec::new(),
            counts: Counts::default(),
            memberships: 0,
            invalid: InvalidRows::new(invalid),
        })
    }

    fn write(&mut self, row: RowPlan) -> Result<(), PlanError> {
        self.counts.add(&row.action);
        self.memberships += super::memberships::to_add(std::slice::from_ref(&row));
        let mut user = row.user;
        let memberships = user
            .as_mut()
            .map(|u| std::mem::take(&mut u.memberships))
            .unwrap_or_default();
        let entry = Entry {
            at: self.at,
            row: row.row,
            kind: row.action.kind(),
            sends: user.is_some() || row.organization.is_some(),
        };
        let line = Line {
            row: row.row,
            action: row.action,
            user: user.map(|user| *user),
            memberships,
            organization: row.organization.map(|org| *org),
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|e| PlanError::Stored(e.to_string()))?;
        bytes.push(b'\n');
        self.out
            .write_all(&bytes)
            .map_err(io("cannot write the plan's rows"))?;
        self.at += bytes.len() as u64;
        self.index.push(entry);
        Ok(())
    }

    /// The plan, `head` what it says besides the rows handed over (its own `rows` are
    /// written after them: the rows with an error [`super::build_each`] gives back).
    pub fn finish(mut self, mut head: Plan) -> Result<StoredPlan, PlanError> {
        while let Some(row) = self.invalid.next_before(None) {
            self.write(row)?;
        }
        let rest = std::mem::take(&mut head.rows);
        for row in rest {
            self.write(row)?;
        }
        let file = self
            .out
            .into_inner()
            .map_err(|e| io("cannot write the plan's rows")(e.into_error()))?;
        Ok(StoredPlan {
            head,
            file,
            index: self.index,
            end: self.at,
            counts: self.counts,
            memberships: self.memberships,
        })
    }
}

impl PlanSink for PlanWriter {
    type Error = PlanError;

    fn rows(&mut self, rows: Vec<RowPlan>) -> Result<(), PlanError> {
        for row in rows {
            while let Some(invalid) = self.invalid.next_before(Some(row.row)) {
                self.write(invalid)?;
            }
            self.write(row)?;
        }
        Ok(())
    }
}

impl StoredPlan {
    /// A plan made whole (a sheet of organizations, a test's), its rows written to `dir`.
    pub fn of(plan: Plan, dir: &Path) -> Result<Self, PlanError> {
        PlanWriter::create(dir, Vec::new())?.finish(plan)
    }

    /// Rows in the plan.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Rows per action.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Memberships the plan adds once the users exist.
    pub fn memberships(&self) -> usize {
        self.memberships
    }

    /// What row `i` does, by [`Action::name`], without reading it.
    pub fn action_name(&self, i: usize) -> Option<&'static str> {
        self.index
            .get(i)
            .map(|e| Action::NAMES[usize::from(e.kind)])
    }

    /// The sheet row of row `i`, without reading it.
    pub fn sheet_row(&self, i: usize) -> Option<u32> {
        self.index.get(i).map(|e| e.row)
    }

    fn bytes(&self, from: usize, to: usize) -> Result<Vec<u8>, PlanError> {
        let start = self.index[from].at;
        let end = self.index.get(to).map_or(self.end, |e| e.at);
        let mut bytes = vec![0; usize::try_from(end - start).unwrap_or_default()];
        self.file
            .read_exact_at(&mut bytes, start)
            .map_err(io("cannot read the plan's rows back"))?;
        Ok(bytes)
    }

    fn parse(&self, i: usize, line: &[u8]) -> Result<RowPlan, PlanError> {
        let line: Line = serde_json::from_slice(line).map_err(|e| PlanError::Body {
            row: self.index[i].row,
            reason: e.to_string(),
        })?;
        let user = line.user.map(|mut user| {
            user.memberships = line.memberships;
            user
        });
        Ok(RowPlan {
            row: line.row,
            action: line.action,
            user: user.map(Box::new),
            organization: line.organization.map(Box::new),
        })
    }

    /// Row `i` (in sheet order), read back.
    pub fn row(&self, i: usize) -> Result<RowPlan, PlanError> {
        if i >= self.len() {
            return Err(PlanError::Stored(format!("no row {i} in the plan")));
        }
        self.parse(i, &self.bytes(i, i + 1)?)
    }

    /// Every row in sheet order, read back [`super::PART`] at a time.
    pub fn rows(&self) -> impl Iterator<Item = Result<Vec<RowPlan>, PlanError>> + '_ {
        (0..self.len()).step_by(super::PART).map(|from| {
            let to = (from + super::PART).min(self.len());
            let bytes = self.bytes(from, to)?;
            let start = self.index[from].at;
            (from..to)
                .map(|i| {
                    let a = usize::try_from(self.index[i].at - start).unwrap_or_default();
                    let b = self
                        .index
                        .get(i + 1)
                        .map_or(self.end, |e| e.at)
                        .saturating_sub(start);
                    let b = usize::try_from(b).unwrap_or_default();
                    self.parse(i, &bytes[a..b])
                })
                .collect()
        })
    }

    /// What an import of the plan sends, laid out for `jobs` at once: its rows routed as
    /// [`Plan::route`] routes them, by what each does alone, so none is read back.
    pub fn route_counts(&self, skip_unchanged: bool, jobs: usize) -> Routes {
        let (mut main, mut moved, mut skipped) = (0, 0, 0);
        // A sheet of organizations routes as create mode does (`super::Router`).
        let mode = match self.head.object {
            crate::mapping::Object::Users => self.head.mode,
            crate::mapping::Object::Organizations => crate::payload::Mode::Create,
        };
        for entry in self.index.iter().filter(|e| e.sends) {
            match super::RouteKind::of(mode, entry.kind, skip_unchanged) {
                super::RouteKind::Main => main += 1,
                super::RouteKind::Moved => moved += 1,
                super::RouteKind::Skipped => skipped += 1,
                super::RouteKind::Nothing => {}
            }
        }
        let requests = |rows| crate::payload::Batcher::requests(rows, jobs);
        Routes {
            rows: main + moved,
            requests: requests(main) + requests(moved),
            moved: requests(moved),
            skipped,
        }
    }

    /// The whole plan in memory (a sheet of organizations, routed whole).
    pub fn load(&self) -> Result<Plan, PlanError> {
        let mut plan = self.head.clone();
        for part in self.rows() {
            plan.rows.extend(part?);
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Object;
    use crate::payload::Mode;

    fn user(i: u32, memberships: &[&str]) -> User {
        User {
            name: Some(format!("User {i}")),
            email: Some(format!("u{i}@x.com")),
            memberships: memberships
                .iter()
                .map(|name| MemberOf {
                    name: (*name).to_owned(),
                    id: Some(7),
                })
                .collect(),
            ..User::default()
        }
    }

    fn head(mode: Mode, object: Object) -> Plan {
        Plan {
            mode,
            object,
            rows: Vec::new(),
            missing_organizations: vec!["Acme".into()],
            warnings: vec!["a warning".into()],
            cost: super::super::Cost::at_rate(1, 2, &crate::zendesk::RateInfo::default()),
            spent: super::super::Spent::default(),
        }
    }

    /// 4,500 rows decided in parts of 2,000 (what `build_each` hands over): new, updated,
    /// unchanged, failing, conflicting and left-out users, now and then one without a user,
    /// every 100th row with an error (given apart, out of order). A sheet of organizations
    /// has an organization where the users' has a user.
    fn written(mode: Mode, object: Object) -> (StoredPlan, Plan) {
        let dir = tempfile::tempdir().unwrap();
        let mut whole = head(mode, object);
        let mut invalid = Vec::new();
        let mut decided = Vec::new();
        for i in 0..4_500u32 {
            let row = i + 2;
            if i % 100 == 50 {
                invalid.push((row, format!("error on row {row}")));
                continue;
            }
            let action = match i % 6 {
                0 => Action::New,
                1 => Action::Update {
                    id: u64::from(i),
                    changes: vec![super::super::Change {
                        field: "name".into(),
                        old: serde_json::json!("old"),
                        new: serde_json::json!(i),
                    }],
                },
                2 => Action::Unchanged { id: u64::from(i) },
                3 => Action::WouldFail {
                    reason: "no name".into(),
                },
                4 => Action::Conflict {
                    external_id_user: 1,
                    email_user: 2,
                    reason: "two users".into(),
                },
                _ => Action::LeftOut {
                    id: u64::from(i),
                    reason: "exists".into(),
                },
            };
            let memberships: &[&str] = if i % 3 == 0 { &["Acme", "Globex"] } else { &[] };
            // Now and then a row that sends no user (what routing it does not count).
            let user = (i % 13 != 4).then(|| Box::new(user(i, memberships)));
            decided.push(match object {
                Object::Users => RowPlan {
                    row,
                    action,
                    user,
                    organization: None,
                },
                Object::Organizations => RowPlan {
                    row,
                    action,
                    user: None,
                    organization: user.map(|u| {
                        Box::new(Organization {
                            name: u.name,
                            external_id: Some(format!("O-{i}")),
                            tags: Some(vec!["vip".into()]),
                            ..Organization::default()
                        })
                    }),
                },
            });
        }
        invalid.reverse();
        let mut writer = PlanWriter::create(dir.path(), invalid.clone()).unwrap();
        for part in decided.chunks(super::super::PART) {
            writer.rows(part.to_vec()).unwrap();
        }
        let stored = writer.finish(head(mode, object)).unwrap();
        whole.rows = decided;
        whole
            .rows
            .extend(invalid.into_iter().map(|(row, reason)| RowPlan {
                row,
                action: Action::Invalid { reason },
                user: None,
                organization: None,
            }));
        whole.rows.sort_by_key(|r| r.row);
        (stored, whole)
    }

    #[test]
    fn a_plan_kept_on_disk_reads_back_every_row_as_decided_in_sheet_order() {
        for object in [Object::Users, Object::Organizations] {
            a_plan_of_reads_back(object);
        }
    }

    fn a_plan_of_reads_back(object: Object) {
        let (stored, whole) = written(Mode::Upsert, object);
        assert_eq!(stored.len(), 4_500);
        assert_eq!(stored.load().unwrap(), whole);
        assert_eq!(stored.counts(), whole.counts());
        assert_eq!(
            stored.memberships(),
            super::super::memberships::to_add(&whole.rows)
        );
        for i in [0, 50, 1_999, 2_000, 4_499] {
            assert_eq!(stored.row(i).unwrap(), whole.rows[i], "row {i}");
            assert_eq!(stored.action_name(i), Some(whole.rows[i].action.name()));
            assert_eq!(stored.sheet_row(i), Some(whole.rows[i].row));
        }
        assert_eq!(
            stored.action_name(50),
            Some("invalid"),
            "row 52, given apart"
        );
        assert!(stored.row(4_500).is_err());
        assert_eq!(stored.action_name(4_500), None);
    }

    #[test]
    fn what_an_import_of_it_sends_is_counted_as_the_whole_plan_routes() {
        let objects = [Object::Users, Object::Organizations];
        for (mode, object) in [Mode::Upsert, Mode::Create, Mode::Update]
            .into_iter()
            .flat_map(|mode| objects.map(|object| (mode, object)))
        {
            let (stored, whole) = written(mode, object);
            for (skip_unchanged, jobs) in [(true, 1), (false, 4), (true, 30)] {
                let routed = whole.route(skip_unchanged, jobs);
                let counted = stored.route_counts(skip_unchanged, jobs);
                let rows = routed.requests.iter().map(|r| r.rows.len()).sum::<usize>();
                // Sent after the others: update_many by id after create_many.
                let first = routed.requests.first().map(|r| r.path);
                let moved = routed
                    .requests
                    .iter()
                    .filter(|r| Some(r.path) != first && r.path.ends_with("update_many"))
                    .count();
                let expected = Routes {
                    rows,
                    requests: routed.requests.len(),
                    moved,
                    skipped: routed.skipped.len(),
                };
                let at = format!("{mode} {object:?} {skip_unchanged} {jobs}");
                assert_eq!(counted, expected, "{at}");
                assert!(
                    counted.requests > counted.moved && counted.moved > 0 || mode != Mode::Create,
                    "{at}"
                );
            }
        }
    }
}
