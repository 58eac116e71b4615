//! The plan of a sheet of organizations (`--object organizations`): each row looked up in the
//! account and decided new, update (with each change), unchanged or would fail, then routed:
//! new ones to `organizations/create_many`, existing ones to `organizations/update_many` by id.
//!
//! Lookups: `organizations/show_many?external_ids=` (100 a call, read directly) for rows with
//! an external_id, `?ids=` for rows with an id, then by name (exact, ignoring case and
//! surrounding spaces, as Zendesk keeps names unique) for the rows those did not find: the
//! whole organization list when it takes no more pages than the names still to look up, else
//! `organizations/search?name=` per name. An organization held under another external_id (or
//! none) is still the one Zendesk would refuse to create again.
//!
//! The rows go a part at a time ([`build_each`]): looked up, decided and handed on before the
//! next part is read, so a long sheet is never held whole.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::diff::{change, custom_fields, same_set};
use super::lookup::{Gate, PlanError, retrying, run_all};
use super::{Action, Change, Cost, Plan, PlanSink, RowPlan, Spent};
use crate::mapping::Object;
use crate::payload::org::name_key;
use crate::payload::{Mode, Organization};
use crate::zendesk::{self, Client, RateInfo};

/// Records per `show_many` call: Zendesk's limit.
const PER_CALL: usize = 100;

/// The rows of a sheet of organizations to plan: the organizations the checks built, and the
/// rows with errors.
#[derive(Debug, Clone, Default)]
pub struct OrgInput {
    /// Sheet row and organization, in sheet order.
    pub organizations: Vec<(u32, Organization)>,
    /// Rows with a validation error and the first error's message.
    pub invalid: Vec<(u32, String)>,
}

/// Requests the lookups surely make (show_many by external_id and by id, the first page of the
/// organization list when some row has neither), and at most (then the rest of the list or a
/// search per name, for the rows their external_id or id may not find).
pub fn estimate(organizations: &[(u32, Organization)], rate: &RateInfo) -> Cost {
    OrgSurvey::of(organizations).cost(rate)
}

/// What the plan of a sheet of organizations must know of all its rows before it looks any
/// up: what the lookups cost, and which names may be looked up (as 64-bit fingerprints, to
/// keep only those of the account's list). One pass over the rows, as they are checked.
#[derive(Debug, Default)]
pub struct OrgSurvey {
    /// Rows seen.
    pub organizations: usize,
    /// `show_many` calls by external_id and by id of the parts before the last.
    calls: usize,
    /// External ids and ids in the last part.
    part: (usize, usize),
    /// Distinct names, and how many of them are on a row with no external_id and no id
    /// (looked up surely).
    names: HashSet<u64>,
    names_only: usize,
}

/// A name's fingerprint, by [`name_key`].
fn name_print(name: &str) -> u64 {
    use std::hash::BuildHasher as _;
    foldhash::fast::FixedState::with_seed(0).hash_one(name_key(name))
}

impl OrgSurvey {
    /// Every row of `organizations`, read once.
    pub fn of(organizations: &[(u32, Organization)]) -> Self {
        let mut survey = Self::default();
        for (_, org) in organizations {
            survey.add(org);
        }
        survey
    }

    /// Every row of `organizations`, read once; the first that cannot be read fails it.
    pub fn read(
        organizations: impl Iterator<Item = Result<(u32, Organization), PlanError>>,
    ) -> Result<Self, PlanError> {
        let mut survey = Self::default();
        for row in organizations {
            survey.add(&row?.1);
        }
        Ok(survey)
    }

    /// Notes the next row (in sheet order: the lookups go a [`super::PART`] at a time).
    pub fn add(&mut self, org: &Organization) {
        if self.organizations > 0 && self.organizations % super::PART == 0 {
            self.calls += self.part_calls();
            self.part = (0, 0);
        }
        self.organizations += 1;
        self.part.0 += usize::from(org.external_id.is_some());
        self.part.1 += usize::from(org.id.is_some());
        if let Some(name) = &org.name
            && self.names.insert(name_print(name))
        {
            self.names_only += usize::from(org.external_id.is_none() && org.id.is_none());
        }
    }

    fn part_calls(&self) -> usize {
        self.part.0.div_ceil(PER_CALL) + self.part.1.div_ceil(PER_CALL)
    }

    /// What the lookups cost at the account's rate limit: the first page of the list surely
    /// when some name is looked up surely, then the rest of it or a search per name,
    /// whichever is fewer.
    pub fn cost(&self, rate: &RateInfo) -> Cost {
        let names = self.names.len();
        let surely = self.calls + self.part_calls() + usize::from(self.names_only > 0);
        let at_most = surely + usize::from(self.names_only == 0 && names > 0) + names;
        Cost::at_rate(surely as u64, at_most as u64, rate)
    }
}

/// The identifiers of a part's rows.
#[derive(Debug, Default)]
struct Keys {
    external_ids: Vec<String>,
    ids: Vec<u64>,
}

impl Keys {
    fn of(organizations: &[(u32, Organization)]) -> Keys {
        let mut keys = Keys::default();
        for (_, org) in organizations {
            if let Some(x) = &org.external_id {
                keys.external_ids.push(x.clone());
            }
            keys.ids.extend(org.id);
        }
        keys
    }
}

/// What a part's lookups found.
#[derive(Debug, Default)]
struct Found {
    by_external_id: HashMap<String, zendesk::Organization>,
    by_id: HashMap<u64, zendesk::Organization>,
    /// `None`: looked up, no such name.
    by_name: NamesFound,
}

impl Found {
    /// The organization the row names: by id, external_id, then name.
    fn of(&self, org: &Organization) -> Option<&zendesk::Organization> {
        self.by_keys(org).or_else(|| {
            let name = org.name.as_ref()?;
            self.by_name.get(&name_key(name))?.as_deref()
        })
    }

    /// The organization the row's id or external_id finds, its name aside.
    fn by_keys(&self, org: &Organization) -> Option<&zendesk::Organization> {
        org.id.and_then(|id| self.by_id.get(&id)).or_else(|| {
            let x = org.external_id.as_ref()?;
            self.by_external_id.get(&x.to_lowercase())
        })
    }
}

/// Looks up every row's organization and decides what it does in `mode`; with `tags` add, an
/// existing organization's tags are kept and the row's added to them (what is sent is the
/// merged list, so nothing already on the record is lost).
pub async fn build(
    client: &Client,
    input: OrgInput,
    at: (Mode, super::Tags),
    (concurrency, rate): (usize, &RateInfo),
) -> Result<Plan, PlanError> {
    let survey = OrgSurvey::of(&input.organizations);
    let parts = parts(input.organizations.into_iter().map(Ok));
    let mut rows = Vec::new();
    let surveyed = (parts, survey);
    let at = (at, (concurrency, rate));
    let plan = build_each(client, surveyed, input.invalid, at, &mut rows).await?;
    Ok(plan.with_rows(rows))
}

/// `organizations` in parts of [`super::PART`], as [`build_each`] looks them up; a part
/// stops at the first that cannot be read.
pub fn parts<I>(
    organizations: I,
) -> impl Iterator<Item = Result<Vec<(u32, Organization)>, PlanError>>
where
    I: Iterator<Item = Result<(u32, Organization), PlanError>>,
{
    let mut organizations = organizations.fuse();
    std::iter::from_fn(move || {
        let part = organizations
            .by_ref()
            .take(super::PART)
            .collect::<Result<Vec<_>, _>>();
        match part {
            Ok(part) if part.is_empty() => None,
            part => Some(part),
        }
    })
}

/// [`build`] of a sheet of organizations read a part at a time from `parts` (in sheet order)
/// once its [`OrgSurvey`] is made, each part looked up, decided and handed to `sink` before
/// the next is read: memory holds one part and the names' fingerprints, not every row. The
/// plan returned holds the rest: its `rows` are the `invalid` ones.
///
/// A part's lookups find what they would find for the whole sheet: the checks leave no name
/// or external_id on two sent rows. Whether names are found in the account's whole list or
/// searched one by one is decided when a part first needs one, and again at each part until
/// the list is read: the list once its pages are no more than the names this part and the
/// later parts surely look up, so that no more requests are made than the estimate's most.
pub async fn build_each<S: PlanSink>(
    client: &Client,
    (parts, survey): (
        impl Iterator<Item = Result<Vec<(u32, Organization)>, PlanError>>,
        OrgSurvey,
    ),
    invalid: Vec<(u32, String)>,
    ((mode, tags), (concurrency, rate)): ((Mode, super::Tags), (usize, &RateInfo)),
    sink: &mut S,
) -> Result<Plan, S::Error> {
    let cost = survey.cost(rate);
    let gate = Gate::default();
    let n = concurrency.max(1);
    let mut spent = Spent::default();
    let mut names = ByName {
        list: List::Unread,
        wanted: survey.names,
        only_left: survey.names_only,
    };
    for part in parts {
        let part = part?;
        let found = look_up_part((client, &gate), &part, &mut names, (n, &mut spent)).await?;
        let rows = part
            .into_iter()
            .map(|(row, mut org)| {
                let held = found.of(&org);
                if let (super::Tags::Add, Some(held)) = (tags, held) {
                    org.tags = org
                        .tags
                        .take()
                        .map(|row_tags| super::merge_tags(&held.tags, row_tags));
                }
                RowPlan {
                    row,
                    action: decide(&org, held, mode),
                    user: None,
                    organization: Some(Box::new(org)),
                }
            })
            .collect();
        sink.rows(rows)?;
    }
    let rows = invalid
        .into_iter()
        .map(|(row, reason)| RowPlan {
            row,
            action: Action::Invalid { reason },
            user: None,
            organization: None,
        })
        .collect();
    Ok(Plan {
        mode,
        object: Object::Organizations,
        rows,
        missing_organizations: Vec::new(),
        warnings: Vec::new(),
        cost,
        spent,
    })
}

/// One part's lookups: `show_many` by external_id and by id, then the names of the rows
/// those did not find.
async fn look_up_part(
    (client, gate): (&Client, &Gate),
    part: &[(u32, Organization)],
    names: &mut ByName,
    (n, spent): (usize, &mut Spent),
) -> Result<Found, PlanError> {
    let keys = Keys::of(part);
    let mut found = Found::default();
    for chunk in keys.external_ids.chunks(PER_CALL) {
        let what = format!("organizations by external_id ({} of them)", chunk.len());
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let (answer, used) = retrying(gate, &what, || {
            client.organizations_show_many_by_external_ids(&refs)
        })
        .await?;
        spent.add(used);
        for org in answer.value {
            if let Some(x) = &org.external_id {
                found.by_external_id.insert(x.to_lowercase(), org);
            }
        }
    }
    for chunk in keys.ids.chunks(PER_CALL) {
        let what = format!("organizations by id ({} of them)", chunk.len());
        let (answer, used) =
            retrying(gate, &what, || client.organizations_show_many_by_ids(chunk)).await?;
        spent.add(used);
        found
            .by_id
            .extend(answer.value.into_iter().map(|o| (o.id, o)));
    }
    // A name is looked up when its row is not found by its id or external_id.
    let mut seen = HashSet::new();
    let mut wanted = Vec::new();
    let mut only = 0;
    for (_, org) in part {
        let Some(name) = &org.name else { continue };
        if org.external_id.is_none() && org.id.is_none() {
            only += 1;
        } else if found.by_keys(org).is_some() {
            continue;
        }
        if seen.insert(name_key(name)) {
            wanted.push(name.clone());
        }
    }
    names.only_left = names.only_left.saturating_sub(only);
    let (by_name, used) = names.look_up((client, gate), wanted, n).await?;
    spent.add(used);
    found.by_name = by_name;
    Ok(found)
}

/// The first page of the organization list with offset pagination, whose answer counts the
/// whole list.
const COUNTED_FIRST_PAGE: &str = "/api/v2/organizations.json?per_page=100";

/// Organizations found by name, part after part: the account's whole list read once it takes
/// no more pages than the names still surely to look up, else a search per name.
struct ByName {
    list: List,
    /// The sheet's names' fingerprints: of the list, only these are kept.
    wanted: HashSet<u64>,
    /// Names on rows with no external_id and no id in the parts not looked up yet.
    only_left: usize,
}

/// What is known of the account's organization list.
enum List {
    Unread,
    /// Its first page read: how many pages are left, and where the next one is.
    Counted {
        pages_left: u64,
        first: Vec<zendesk::Organization>,
        next: String,
    },
    /// Read whole: the organizations the sheet names, by [`name_key`].
    Read(HashMap<String, zendesk::Organization>),
}

impl ByName {
    /// The organizations named `names` (or none), by [`name_key`].
    async fn look_up(
        &mut self,
        (client, gate): (&Client, &Gate),
        names: Vec<String>,
        n: usize,
    ) -> Result<(NamesFound, Spent), PlanError> {
        let mut spent = Spent::default();
        if names.is_empty() {
            return Ok((NamesFound::new(), spent));
        }
        if let List::Unread = self.list {
            let what = "the organization list";
            let (first, used) =
                retrying(gate, what, || client.organizations_page(COUNTED_FIRST_PAGE)).await?;
            spent.add(used);
            let pages_left = first
                .value
                .count
                .map_or(u64::MAX, |c| c.div_ceil(PER_CALL as u64).saturating_sub(1));
            self.list = match first.value.next {
                Some(next) => List::Counted {
                    pages_left,
                    first: first.value.items,
                    next,
                },
                None => List::Read(self.kept(first.value.items)),
            };
        }
        let surely = (names.len() + self.only_left) as u64;
        if let List::Counted { pages_left, .. } = &self.list
            && *pages_left <= surely
            && let List::Counted { first, next, .. } =
                std::mem::replace(&mut self.list, List::Unread)
        {
            let mut known = first;
            let mut seen = HashSet::new();
            let mut next = Some(next);
            while let Some(path) = next.take().filter(|p| seen.insert(p.clone())) {
                let what = format!("the organization list ({path})");
                let (page, used) =
                    retrying(gate, &what, || client.organizations_page(&path)).await?;
                spent.add(used);
                known.extend(page.value.items);
                next = page.value.next;
            }
            self.list = List::Read(self.kept(known));
        }
        let mut found = NamesFound::new();
        if let List::Read(by_key) = &self.list {
            for name in names {
                let key = name_key(&name);
                let held = by_key.get(&key).cloned().map(Box::new);
                found.insert(key, held);
            }
            return Ok((found, spent));
        }
        let answers = run_all(names, n, |name| async move {
            let what = format!("organization '{name}'");
            let (answer, used) =
                retrying(gate, &what, || client.search_organizations_by_name(&name)).await?;
            let held = answer
                .value
                .into_iter()
                .find(|o| name_key(&o.name) == name_key(&name));
            Ok((name_key(&name), held, used))
        })
        .await?;
        for (key, held, used) in answers {
            spent.add(used);
            found.insert(key, held.map(Box::new));
        }
        Ok((found, spent))
    }

    /// The organizations of the list the sheet names, by [`name_key`].
    fn kept(&self, list: Vec<zendesk::Organization>) -> HashMap<String, zendesk::Organization> {
        list.into_iter()
            .filter(|o| self.wanted.contains(&name_print(&o.name)))
            .map(|o| (name_key(&o.name), o))
            .collect()
    }
}

/// Organizations found (or not) by name, by [`name_key`]; boxed, as most names of a sheet of
/// new organizations are found to be none.
type NamesFound = HashMap<String, Option<Box<zendesk::Organization>>>;

/// What one row does: new, update with its changes, unchanged, or would fail.
fn decide(org: &Organization, held: Option<&zendesk::Organization>, mode: Mode) -> Action {
    match (held, mode) {
        (None, Mode::Update) => Action::WouldFail {
            reason: format!(
                "no organization {} in Zendesk: update mode changes existing ones only",
                who(org)
            ),
        },
        (None, _) if org.name.is_none() => Action::WouldFail {
            reason: "new organization without a name: Zendesk needs one to create it".into(),
        },
        (None, _) => Action::New,
        (Some(held), Mode::Create) => Action::WouldFail {
            reason: format!(
                "Zendesk holds organization {} already (id {}): create mode does not change it \
                 (upsert does)",
                who(org),
                held.id
            ),
        },
        (Some(held), _) => {
            let changes = changes(org, held);
            if changes.is_empty() {
                Action::Unchanged { id: held.id }
            } else {
                Action::Update {
                    id: held.id,
                    changes,
                }
            }
        }
    }
}

/// `'Acme' (external_id A-1)`.
pub fn who(org: &Organization) -> String {
    let mut text = org
        .name
        .as_deref()
        .map(|n| format!("'{n}'"))
        .unwrap_or_default();
    if let Some(x) = &org.external_id {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("(external_id {x})"));
    }
    if text.is_empty()
        && let Some(id) = org.id
    {
        text = format!("id {id}");
    }
    text
}

/// Each value the row sends that the organization does not hold already.
fn changes(org: &Organization, held: &zendesk::Organization) -> Vec<Change> {
    let mut out = Vec::new();
    let text = |field: &str, new: &Option<String>, old: &Option<String>, out: &mut Vec<Change>| {
        if let Some(new) = new
            && old.as_deref() != Some(new.as_str())
        {
            out.push(change(field, json!(old), json!(new)));
        }
    };
    if let Some(name) = &org.name
        && held.name != *name
    {
        out.push(change("name", json!(held.name), json!(name)));
    }
    text("external_id", &org.external_id, &held.external_id, &mut out);
    text("details", &org.details, &held.details, &mut out);
    text("notes", &org.notes, &held.notes, &mut out);
    let lists = [
        ("domain_names", &org.domain_names, &held.domain_names),
        ("tags", &org.tags, &held.tags),
    ];
    for (field, new, old) in lists {
        if let Some(new) = new
            && !same_set(new, old)
        {
            out.push(change(field, json!(old), json!(new)));
        }
    }
    if let Some(id) = org.group_id
        && held.group_id != Some(id)
    {
        out.push(change("group_id", json!(held.group_id), json!(id)));
    }
    let flags = [
        ("shared_tickets", org.shared_tickets, held.shared_tickets),
        ("shared_comments", org.shared_comments, held.shared_comments),
    ];
    for (field, new, old) in flags {
        if let Some(new) = new
            && old.unwrap_or(false) != new
        {
            out.push(change(field, json!(old), json!(new)));
        }
    }
    custom_fields(
        "organization_fields",
        &org.organization_fields,
        &held.organization_fields,
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::payload::FieldValue;
    use crate::payload::UserFields;

    fn held(value: Value) -> zendesk::Organization {
        serde_json::from_value(value).unwrap()
    }

    fn org() -> Organization {
        Organization {
            name: Some("Acme".into()),
            external_id: Some("A-1".into()),
            domain_names: Some(vec!["acme.com".into()]),
            tags: Some(vec!["vip".into()]),
            organization_fields: UserFields(vec![("tier".into(), FieldValue::Text("gold".into()))]),
            ..Organization::default()
        }
    }

    #[test]
    fn an_organization_holding_every_value_is_unchanged_and_a_change_is_named() {
        let same = held(json!({"id": 7, "name": "Acme", "external_id": "A-1",
            "domain_names": ["acme.com"], "tags": ["vip"], "shared_tickets": false,
            "organization_fields": {"tier": "gold", "seats": null}}));
        assert_eq!(
            decide(&org(), Some(&same), Mode::Upsert),
            Action::Unchanged { id: 7 }
        );
        let other = held(json!({"id": 7, "name": "ACME", "external_id": "A-1",
            "domain_names": ["acme.org"], "tags": ["vip"],
            "organization_fields": {"tier": "silver"}}));
        let Action::Update { id, changes } = decide(&org(), Some(&other), Mode::Upsert) else {
            panic!("an update");
        };
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(id, 7);
        assert_eq!(fields, ["name", "domain_names", "organization_fields.tier"]);
        assert!(matches!(
            decide(&org(), Some(&same), Mode::Create),
            Action::WouldFail { .. }
        ));
        assert!(matches!(
            decide(&org(), None, Mode::Update),
            Action::WouldFail { .. }
        ));
        assert_eq!(decide(&org(), None, Mode::Upsert), Action::New);
    }

    #[test]
    fn new_rows_go_to_create_many_and_existing_ones_to_update_many_by_id() {
        let row = |row, action| RowPlan {
            row,
            action,
            user: None,
            organization: Some(Box::new(org())),
        };
        let rows = vec![
            row(2, Action::New),
            row(
                3,
                Action::Update {
                    id: 30,
                    changes: Vec::new(),
                },
            ),
            row(4, Action::Unchanged { id: 40 }),
        ];
        let plan = Plan {
            mode: Mode::Upsert,
            object: Object::Organizations,
            rows,
            missing_organizations: Vec::new(),
            warnings: Vec::new(),
            cost: estimate(&[], &RateInfo::default()),
            spent: Spent::default(),
        };
        let routed = plan.route(true, 30);
        let sent: Vec<(&str, Vec<u32>)> = routed
            .requests
            .iter()
            .map(|r| (r.path, r.rows.clone()))
            .collect();
        assert_eq!(
            sent,
            [
                ("/api/v2/organizations/create_many", vec![2]),
                ("/api/v2/organizations/update_many", vec![3]),
            ]
        );
        assert_eq!(routed.requests[1].body.organizations[0].id, Some(30));
        assert_eq!(routed.requests[0].body.organizations[0].id, None);
        assert_eq!(routed.skipped[0].0, 4);
    }
}
