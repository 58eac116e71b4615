//! The plan of a sheet of organizations (`--object organizations`): each row looked up in the
//! account and decided new, update (with each change), unchanged or would fail, then routed:
//! new ones to `organizations/create_many`, existing ones to `organizations/update_many` by id.
//!
//! Lookups: `organizations/show_many?external_ids=` (100 a call, read directly) for rows with
//! an external_id, `?ids=` for rows with an id, then by name (exact, ignoring case and
//! surrounding spaces, as Zendesk keeps names unique) for the rows those did not find: the
//! whole organization list when it takes no more pages than there are names, else
//! `organizations/search?name=` per name. An organization held under another external_id (or
//! none) is still the one Zendesk would refuse to create again.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::diff::{change, custom_fields, same_set};
use super::lookup::{Gate, PlanError, retrying, run_all};
use super::{Action, Change, Cost, Plan, RowPlan, Spent};
use crate::mapping::Object;
use crate::payload::org::name_key;
use crate::payload::{Issue, Mode, Organization, Request, Severity};
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

impl OrgInput {
    /// Adds the organizations of a request (the pipeline's `Event::Request`).
    pub fn push_request(&mut self, request: Request) {
        self.organizations
            .extend(request.rows.into_iter().zip(request.body.organizations));
    }

    /// Notes a row's first error (the pipeline's `Event::Issue`).
    pub fn push_issue(&mut self, issue: &Issue) {
        if issue.severity == Severity::Error
            && self.invalid.last().is_none_or(|(row, _)| *row != issue.row)
        {
            self.invalid.push((issue.row, issue.message.clone()));
        }
    }
}

/// Requests the lookups surely make (show_many by external_id and by id, the first page of the
/// organization list when some row has neither), and at most (then the rest of the list or a
/// search per name, for the rows their external_id or id may not find).
pub fn estimate(organizations: &[(u32, Organization)], rate: &RateInfo) -> Cost {
    let keys = Keys::of(organizations);
    // Names: the first page of the list surely, then the rest of it or a search per name,
    // whichever is fewer.
    let names = keys.names_only.len() + keys.names_too.len();
    let surely = keys.external_ids.len().div_ceil(PER_CALL)
        + keys.ids.len().div_ceil(PER_CALL)
        + usize::from(!keys.names_only.is_empty());
    let at_most = surely + usize::from(keys.names_only.is_empty() && names > 0) + names;
    Cost::at_rate(surely as u64, at_most as u64, rate)
}

/// The distinct identifiers of the rows.
#[derive(Debug, Default)]
struct Keys {
    external_ids: Vec<String>,
    ids: Vec<u64>,
    /// Names of rows with no external_id and no id: searched surely.
    names_only: Vec<String>,
    /// Names of the others: searched when their external_id or id finds nothing.
    names_too: Vec<String>,
}

impl Keys {
    fn of(organizations: &[(u32, Organization)]) -> Keys {
        let mut keys = Keys::default();
        let mut seen: HashSet<String> = HashSet::new();
        for (_, org) in organizations {
            if let Some(x) = &org.external_id {
                keys.external_ids.push(x.clone());
            }
            keys.ids.extend(org.id);
            if let Some(name) = &org.name
                && seen.insert(name_key(name))
            {
                if org.external_id.is_none() && org.id.is_none() {
                    keys.names_only.push(name.clone());
                } else {
                    keys.names_too.push(name.clone());
                }
            }
        }
        keys
    }
}

/// What the lookups found.
#[derive(Debug, Default)]
struct Found {
    by_external_id: HashMap<String, zendesk::Organization>,
    by_id: HashMap<u64, zendesk::Organization>,
    /// `None`: searched, no such name.
    by_name: NamesFound,
    spent: Spent,
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
    (mode, tags): (Mode, super::Tags),
    (concurrency, rate): (usize, &RateInfo),
) -> Result<Plan, PlanError> {
    let cost = estimate(&input.organizations, rate);
    let keys = Keys::of(&input.organizations);
    let gate = Gate::default();
    let n = concurrency.max(1);
    let mut found = Found::default();
    for chunk in keys.external_ids.chunks(PER_CALL) {
        let what = format!("organizations by external_id ({} of them)", chunk.len());
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let (answer, spent) = retrying(&gate, &what, || {
            client.organizations_show_many_by_external_ids(&refs)
        })
        .await?;
        found.spent.add(spent);
        for org in answer.value {
            if let Some(x) = &org.external_id {
                found.by_external_id.insert(x.to_lowercase(), org);
            }
        }
    }
    for chunk in keys.ids.chunks(PER_CALL) {
        let what = format!("organizations by id ({} of them)", chunk.len());
        let (answer, spent) = retrying(&gate, &what, || {
            client.organizations_show_many_by_ids(chunk)
        })
        .await?;
        found.spent.add(spent);
        found
            .by_id
            .extend(answer.value.into_iter().map(|o| (o.id, o)));
    }
    // A name is looked up when some row of it is not found by its id or external_id: one
    // pass over the rows.
    let unfound: HashSet<String> = input
        .organizations
        .iter()
        .filter(|(_, o)| found.by_keys(o).is_none())
        .filter_map(|(_, o)| o.name.as_deref().map(name_key))
        .collect();
    let unfound: Vec<String> = keys
        .names_only
        .into_iter()
        .chain(
            keys.names_too
                .into_iter()
                .filter(|name| unfound.contains(&name_key(name))),
        )
        .collect();
    let names = look_up_names((client, &gate), unfound, n).await?;
    found.spent.add(names.1);
    found.by_name = names.0;
    let mut rows: Vec<RowPlan> =
        Vec::with_capacity(input.organizations.len() + input.invalid.len());
    for (row, mut org) in input.organizations {
        let held = found.of(&org);
        if let (super::Tags::Add, Some(held)) = (tags, held) {
            org.tags = org
                .tags
                .take()
                .map(|row_tags| super::merge_tags(&held.tags, row_tags));
        }
        let action = decide(&org, held, mode);
        rows.push(RowPlan {
            row,
            action,
            user: None,
            organization: Some(Box::new(org)),
        });
    }
    rows.extend(input.invalid.into_iter().map(|(row, reason)| RowPlan {
        row,
        action: Action::Invalid { reason },
        user: None,
        organization: None,
    }));
    rows.sort_by_key(|r| r.row);
    Ok(Plan {
        mode,
        object: Object::Organizations,
        rows,
        missing_organizations: Vec::new(),
        warnings: Vec::new(),
        cost,
        spent: found.spent,
    })
}

/// The first page of the organization list with offset pagination, whose answer counts the
/// whole list.
const COUNTED_FIRST_PAGE: &str = "/api/v2/organizations.json?per_page=100";

/// The organizations named `names` (or none), by [`name_key`]: the whole list read when it
/// takes no more pages than there are names (its first page says how many there are), else a
/// search per name.
async fn look_up_names(
    (client, gate): (&Client, &Gate),
    names: Vec<String>,
    n: usize,
) -> Result<(NamesFound, Spent), PlanError> {
    let mut spent = Spent::default();
    let mut found = NamesFound::new();
    if names.is_empty() {
        return Ok((found, spent));
    }
    let what = "the organization list";
    let (first, used) =
        retrying(gate, what, || client.organizations_page(COUNTED_FIRST_PAGE)).await?;
    spent.add(used);
    let pages_left = first
        .value
        .count
        .map_or(u64::MAX, |c| c.div_ceil(PER_CALL as u64).saturating_sub(1));
    let mut known = first.value.items;
    let mut next = first.value.next;
    if next.is_none() || pages_left <= names.len() as u64 {
        let mut seen = HashSet::new();
        while let Some(path) = next.take().filter(|p| seen.insert(p.clone())) {
            let what = format!("the organization list ({path})");
            let (page, used) = retrying(gate, &what, || client.organizations_page(&path)).await?;
            spent.add(used);
            known.extend(page.value.items);
            next = page.value.next;
        }
        let by_key: HashMap<String, zendesk::Organization> =
            known.into_iter().map(|o| (name_key(&o.name), o)).collect();
        for name in names {
            let key = name_key(&name);
            found.insert(key.clone(), by_key.get(&key).cloned().map(Box::new));
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
