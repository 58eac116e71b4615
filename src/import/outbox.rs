//! What a run sends: the batches with their sheet rows and bodies, and the rows left out.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::journal::Position;
use super::{ImportError, Outcome, RowOutcome};
use std::collections::BTreeMap;

use crate::mapping::Object;
use crate::payload::{IssueRef, Mode, Organization, Request, Severity, User};
use crate::zendesk::BulkEndpoint;

/// The identifiers of one user, kept beside the body: enough to match Zendesk's results, look
/// a user up after a lost answer, and name the row in the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserKey {
    /// The Zendesk user id sent (update mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The account-aware plan found no such user: an upsert that Zendesk answers "Updated"
    /// after a resend was created by this run's earlier request, whose answer was lost.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expect_new: bool,
    /// `--make-primary`: the id of the user the plan found, whose primary email `email`
    /// becomes once the bulk job has added it (the identities API; see the engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make_primary: Option<u64>,
    /// The row's errors, when `--invalid include` sent it anyway: marked in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_despite: Option<String>,
    /// Organizations the user joins besides its default one, once it exists
    /// ([`super::memberships`]): kept beside the body, which does not carry them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<crate::payload::MemberOf>,
}

impl UserKey {
    pub fn of(user: &User) -> Self {
        Self {
            id: user.id,
            name: user.name.clone(),
            email: user.email.clone(),
            external_id: user.external_id.clone(),
            expect_new: false,
            make_primary: None,
            sent_despite: None,
            memberships: user.memberships.clone(),
        }
    }

    /// The identifiers of one organization: its id (updates), name and external_id.
    pub fn of_organization(org: &Organization) -> Self {
        Self {
            id: org.id,
            name: org.name.clone(),
            external_id: org.external_id.clone(),
            ..Self::default()
        }
    }

    /// Zendesk keeps email and external_id unique, so a user with either can be found again.
    pub fn can_look_up(&self) -> bool {
        self.email.is_some() || self.external_id.is_some()
    }

    /// [`UserKey::can_look_up`] for a record of `object`: an organization's name is unique
    /// too (ignoring case), so every organization can be found again.
    pub fn can_look_up_as(&self, object: Object) -> bool {
        match object {
            Object::Users => self.can_look_up(),
            Object::Organizations => self.name.is_some() || self.external_id.is_some(),
        }
    }

    /// The identifiers as the user object sent, for `match_results`.
    pub(crate) fn as_sent(&self) -> Value {
        let mut map = serde_json::Map::new();
        if let Some(id) = self.id {
            map.insert("id".into(), Value::from(id));
        }
        if let Some(email) = &self.email {
            map.insert("email".into(), Value::String(email.clone()));
        }
        if let Some(external_id) = &self.external_id {
            map.insert("external_id".into(), Value::String(external_id.clone()));
        }
        Value::Object(map)
    }
}

/// One bulk request: its users' sheet rows and identifiers, and the body `{"users": [...]}`
/// serialised once from the typed users.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxBatch {
    /// The index of the first user: rows are numbered by their place in the plan, every
    /// batch's in order, then the skipped rows. The sheet's row numbers are not keys: they
    /// can repeat or go backwards in a spreadsheet file.
    pub first_index: u64,
    pub rows: Vec<u32>,
    pub keys: Vec<UserKey>,
    pub body: Bytes,
    /// The mode whose endpoint this batch goes to, when it is not the plan's: a create that
    /// moves users the account holds to `update_many` by id.
    pub sent_as: Option<Mode>,
}

impl OutboxBatch {
    /// The outcome of the user at `position`, keyed by its index.
    pub(crate) fn outcome(&self, position: Position, outcome: Outcome) -> RowOutcome {
        let at = usize::from(position);
        let mut o = RowOutcome::new(self.rows[at], outcome, &self.keys[at]);
        o.index = self.index(position);
        o
    }

    /// Every position of the batch, in order.
    pub(crate) fn positions(&self) -> impl Iterator<Item = Position> + use<> {
        (0..self.rows.len()).map(super::journal::position)
    }

    /// The index of the user at `position`.
    pub(crate) fn index(&self, position: Position) -> u64 {
        self.first_index + u64::from(position)
    }

    /// The sheet row of the user at `position`.
    pub(crate) fn row(&self, position: Position) -> u32 {
        self.rows[usize::from(position)]
    }

    /// The body with only the records at `positions`: a resend after some were found.
    pub(crate) fn body_for(&self, positions: &[Position]) -> Result<Bytes, String> {
        if positions.len() == self.rows.len() {
            return Ok(self.body.clone());
        }
        let mut all: Value = serde_json::from_slice(&self.body).map_err(|e| e.to_string())?;
        // `{"users": [...]}` or `{"organizations": [...]}`: the body's one list.
        let (key, records) = all
            .as_object_mut()
            .and_then(|map| map.iter_mut().find(|(_, v)| v.is_array()))
            .ok_or("the body has no records")?;
        let key = key.clone();
        let records = records.as_array_mut().ok_or("the body has no records")?;
        let picked: Vec<Value> = positions
            .iter()
            .filter_map(|&p| records.get_mut(usize::from(p)).map(Value::take))
            .collect();
        serde_json::to_vec(&serde_json::json!({ key: picked }))
            .map(Bytes::from)
            .map_err(|e| e.to_string())
    }
}

/// Everything one run sends, and the rows it does not send with the reason.
///
/// `skipped` takes any reason: validation errors now, "unchanged" rows of the account-aware
/// plan later. Rows sent + rows skipped = the rows of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbox {
    pub mode: Mode,
    /// What the batches send: users (the default) or organizations.
    pub object: Object,
    pub batches: Vec<OutboxBatch>,
    pub skipped: Vec<(u32, String)>,
    /// Who a skipped row names (by its place in `skipped`), so results show more than a row
    /// number; rows with nothing to name are left out.
    pub skipped_keys: BTreeMap<usize, UserKey>,
    /// The organizations created before any user is sent; their users name them by name in
    /// the bodies, sent as the `organization_id` each gets (see [`super::orgs`]).
    pub organizations: Vec<super::orgs::PlannedOrg>,
}

impl Outbox {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            object: Object::Users,
            batches: Vec::new(),
            skipped: Vec::new(),
            skipped_keys: BTreeMap::new(),
            organizations: Vec::new(),
        }
    }

    /// This outbox without its batches.
    pub(crate) fn head(&self) -> Self {
        Self {
            mode: self.mode,
            object: self.object,
            batches: Vec::new(),
            skipped: self.skipped.clone(),
            skipped_keys: self.skipped_keys.clone(),
            organizations: self.organizations.clone(),
        }
    }

    /// Names the skipped rows `key` knows (name, email, external_id from the sheet or the
    /// plan) and no earlier call named: results and reports then say whom a skipped row was.
    pub fn name_skipped(&mut self, key: impl Fn(u32) -> Option<UserKey>) {
        for (place, (row, _)) in self.skipped.iter().enumerate() {
            if self.skipped_keys.contains_key(&place) {
                continue;
            }
            if let Some(found) = key(*row).filter(|k| *k != UserKey::default()) {
                self.skipped_keys.insert(place, found);
            }
        }
    }

    /// Adds a request built by the payload code; its body is serialised here, once.
    pub fn push_request(&mut self, request: &Request) -> Result<(), ImportError> {
        let body = serde_json::to_vec(&request.body).map_err(|e| ImportError::Encode {
            batch: self.batches.len(),
            rows: crate::import::report::row_list(&request.rows),
            reason: e.to_string(),
        })?;
        let organizations = !request.body.organizations.is_empty();
        let (keys, sent_as) = if organizations {
            self.object = Object::Organizations;
            let keys = request
                .body
                .organizations
                .iter()
                .map(UserKey::of_organization);
            // An upsert's batches go to create_many or update_many, each named.
            let sent_as = [Mode::Create, Mode::Update]
                .into_iter()
                .find(|m| crate::payload::org::endpoint(*m).1 == request.path);
            (keys.collect(), sent_as.filter(|m| *m != self.mode))
        } else {
            let keys = request.body.users.iter().map(UserKey::of).collect();
            let sent_as = Mode::ALL
                .into_iter()
                .find(|m| m.endpoint().1 == request.path)
                .filter(|m| *m != self.mode);
            (keys, sent_as)
        };
        self.batches.push(OutboxBatch {
            first_index: self.sent_rows() as u64,
            rows: request.rows.clone(),
            keys,
            body: Bytes::from(body),
            sent_as,
        });
        Ok(())
    }

    /// A row that is not sent, and why.
    pub fn skip(&mut self, row: u32, reason: impl Into<String>) {
        self.skipped.push((row, reason.into()));
    }

    /// Skips every row with an error, its problems (`Column: message; …`) as the reason.
    pub fn skip_errors<'a, I: Into<IssueRef<'a>>>(&mut self, issues: impl IntoIterator<Item = I>) {
        self.settle_errors(issues, false);
    }

    /// [`Outbox::skip_errors`]; with `included` (`--invalid include`), a row with only
    /// [`crate::payload::Issue::includable`] errors that a batch sends is marked sent despite them instead.
    pub fn settle_errors<'a, I: Into<IssueRef<'a>>>(
        &mut self,
        issues: impl IntoIterator<Item = I>,
        included: bool,
    ) {
        let mut errors = error_rows(issues);
        if included {
            for batch in &mut self.batches {
                for (row, key) in batch.rows.iter().zip(&mut batch.keys) {
                    if let Some((messages, true)) = errors.get(row) {
                        key.sent_despite = Some(messages.join("; "));
                        errors.remove(row);
                    }
                }
            }
        }
        for (row, (messages, _)) in errors {
            self.skip(row, messages.join("; "));
        }
    }

    /// Rows sent despite an error (`--invalid include`).
    pub fn sent_despite(&self) -> usize {
        self.batches
            .iter()
            .flat_map(|b| &b.keys)
            .filter(|k| k.sent_despite.is_some())
            .count()
    }

    /// The bulk endpoint batch `batch` goes to: its own mode's (`sent_as`), else the plan's,
    /// for the plan's object. Organizations have no bulk upsert: the plan sends each of an
    /// upsert's batches to create_many or update_many, and a batch without one holds new
    /// organizations only.
    pub fn endpoint(&self, batch: usize) -> BulkEndpoint {
        let mode = self
            .batches
            .get(batch)
            .and_then(|b| b.sent_as)
            .unwrap_or(self.mode);
        endpoint_of(self.object, mode)
    }

    /// `POST /api/v2/organizations/create_many.json (1), PUT …/update_many.json (1)`: each
    /// endpoint the batches go to, with how many requests.
    pub fn endpoints_text(&self) -> String {
        endpoints_text(self.batches.len(), |b| self.endpoint(b))
    }

    /// Rows sent.
    pub fn sent_rows(&self) -> usize {
        self.batches.iter().map(|b| b.rows.len()).sum()
    }

    /// Every row of the run: sent and skipped.
    pub fn rows(&self) -> usize {
        self.sent_rows() + self.skipped.len()
    }
}

/// The rows with an error, each with its errors' messages (`Column: message`) and whether
/// every one of them may be sent anyway ([`crate::payload::Issue::includable`]).
pub(crate) fn error_rows<'a, I: Into<IssueRef<'a>>>(
    issues: impl IntoIterator<Item = I>,
) -> BTreeMap<u32, (Vec<String>, bool)> {
    let mut errors: BTreeMap<u32, (Vec<String>, bool)> = BTreeMap::new();
    let issues = issues.into_iter().map(Into::into);
    for issue in issues.filter(|i| i.severity == Severity::Error) {
        let text = match issue.column {
            Some(column) => format!("{column}: {}", issue.message),
            None => issue.message.to_owned(),
        };
        let entry = errors.entry(issue.row).or_insert((Vec::new(), true));
        entry.0.push(text);
        entry.1 &= issue.includable;
    }
    errors
}

/// Each endpoint `batches` batches go to (`endpoint` of each; none: the plan's own), with
/// how many requests.
pub(crate) fn endpoints_text(batches: usize, endpoint: impl Fn(usize) -> BulkEndpoint) -> String {
    let mut seen: Vec<(BulkEndpoint, usize)> = Vec::new();
    for b in 0..batches {
        let endpoint = endpoint(b);
        match seen.iter_mut().find(|(e, _)| *e == endpoint) {
            Some((_, n)) => *n += 1,
            None => seen.push((endpoint, 1)),
        }
    }
    if seen.is_empty() {
        seen.push((endpoint(usize::MAX), 0));
    }
    seen.iter()
        .map(|(e, n)| format!("{} {} ({n})", e.method(), e.path()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bulk endpoint of `object`'s rows sent in `mode`.
pub(crate) fn endpoint_of(object: Object, mode: Mode) -> BulkEndpoint {
    match (object, mode) {
        (Object::Users, Mode::Create) => BulkEndpoint::CreateMany,
        (Object::Users, Mode::Upsert) => BulkEndpoint::CreateOrUpdateMany,
        (Object::Users, Mode::Update) => BulkEndpoint::UpdateMany,
        (Object::Organizations, Mode::Create | Mode::Upsert) => {
            BulkEndpoint::OrganizationsCreateMany
        }
        (Object::Organizations, Mode::Update) => BulkEndpoint::OrganizationsUpdateMany,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::payload::Body;

    /// A create request of users `U{row}` with emails, one per row.
    pub(crate) fn request(rows: &[u32]) -> Request {
        Request {
            method: "POST",
            path: "/api/v2/users/create_many",
            rows: rows.to_vec(),
            body: Body {
                users: rows
                    .iter()
                    .map(|r| User {
                        name: Some(format!("U{r}")),
                        email: Some(format!("u{r}@example.com")),
                        ..User::default()
                    })
                    .collect(),
                ..Body::default()
            },
        }
    }

    #[test]
    fn a_plan_counts_sent_and_skipped_rows() {
        let mut plan = Outbox::new(Mode::Create);
        plan.push_request(&request(&[2, 3, 5])).unwrap();
        plan.skip(4, "email is not valid");
        assert_eq!((plan.sent_rows(), plan.rows()), (3, 4));
        assert_eq!(
            plan.batches[0].keys[2].email.as_deref(),
            Some("u5@example.com")
        );
    }

    #[test]
    fn a_partial_body_holds_only_the_positions_asked() {
        let mut plan = Outbox::new(Mode::Create);
        plan.push_request(&request(&[2, 3, 5])).unwrap();
        let body = plan.batches[0].body_for(&[0, 2]).unwrap();
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["users"].as_array().unwrap().len(), 2);
        assert_eq!(value["users"][1]["name"], "U5");
    }
}
