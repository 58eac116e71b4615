//! Several organizations per user (issue 15, item 3), in the plan.
//!
//! A row's `organizations` beyond its default one are memberships
//! ([`crate::payload::MemberOf`]). Before any lookup the plan reads the account's
//! `multiple_organizations` setting when a row names more than one organization, and stops
//! with an error when it is off: Zendesk would refuse every such membership. Each membership's
//! organization is resolved with the default ones ([`super::orgs`]) and follows the same
//! policy when the account lacks it (created first, dropped with a warning, or the row not
//! sent). The users the plan found have their memberships read
//! (`users/{id}/organization_memberships`, one request each, said in the cost), and the
//! memberships they hold are not sent again: what is left is what the import adds, shown as a
//! change of the row (`organization_memberships: adds 'Globex'`) and counted in the plan.

use std::collections::HashMap;

use serde_json::json;

use super::lookup::{Gate, PlanError, retrying, run_all};
use super::orgs::{MissingOrgs, Resolved, Rows, name_key};
use super::{Action, Change, RowPlan, Spent};
use crate::payload::{MemberOf, User};
use crate::zendesk::Client;

/// The field of a [`Change`] that adds memberships: `new` lists the organizations joined.
pub const MEMBERSHIPS: &str = "organization_memberships";

/// Rows whose user joins more than one organization.
pub fn rows_with(users: &[(u32, User)]) -> usize {
    users
        .iter()
        .filter(|(_, u)| !u.memberships.is_empty())
        .count()
}

/// Why nothing is sent: `rows` rows name several organizations and the account allows one.
pub fn setting_off(rows: usize) -> String {
    let s = if rows == 1 { "" } else { "s" };
    format!(
        "{rows} row{s} name more than one organization, but this account allows one \
         organization per user (account settings: multiple_organizations is off): turn on \
         'Allow users to belong to multiple organizations' (Admin Center: People, \
         Configuration, End users), or map a single organization; nothing was sent"
    )
}

/// Reads `multiple_organizations` when `rows` > 0: an error when it is off. A setting the
/// answer does not hold is taken as on (Zendesk refuses each membership if it is not).
pub(super) async fn check_setting(
    client: &Client,
    rows: usize,
    spent: &mut Spent,
) -> Result<(), PlanError> {
    if rows == 0 {
        return Ok(());
    }
    let what = "the account settings (several organizations per user)";
    let (answer, used) =
        retrying(&Gate::default(), what, || client.multiple_organizations()).await?;
    spent.add(used);
    match answer.value {
        Some(false) => Err(PlanError::Setting(setting_off(rows))),
        _ => Ok(()),
    }
}

/// Each membership's organization by id when the account has it; a missing one kept by name
/// for `Create` (created first), dropped for `SkipField`, left for [`fail_missing`] with
/// `Fail`. Returns the warnings for the missing ones.
pub(super) fn apply(
    users: &mut [(u32, User)],
    resolved: &Resolved,
    policy: MissingOrgs,
) -> Vec<String> {
    let mut missing: HashMap<String, Rows> = HashMap::new();
    apply_to(users, resolved, policy, &mut missing);
    warnings(&missing, policy)
}

/// [`apply`] to some of the rows, the rows joining each missing organization (by name as
/// spelled) added to `missing` for the [`warnings`] once every part is done.
pub(super) fn apply_to(
    users: &mut [(u32, User)],
    resolved: &Resolved,
    policy: MissingOrgs,
    missing: &mut HashMap<String, Rows>,
) {
    for (row, user) in users.iter_mut() {
        resolve_one(&mut user.memberships, resolved, policy, |name| {
            missing.entry(name.to_owned()).or_default().push(*row);
        });
    }
}

/// One user's memberships as [`apply`] sends them; each missing organization's name (as the
/// sheet spells it) goes to `missed`. The headless import calls it on each user's key as its
/// plan streams.
pub(super) fn resolve_one(
    memberships: &mut Vec<MemberOf>,
    resolved: &Resolved,
    policy: MissingOrgs,
    mut missed: impl FnMut(&str),
) {
    memberships.retain_mut(|m| {
        if let Some((id, _)) = resolved.found.get(&name_key(&m.name)) {
            m.id = Some(*id);
            return true;
        }
        missed(&m.name);
        policy != MissingOrgs::SkipField
    });
}

/// The warnings for the missing organizations users join as memberships, by name: which
/// rows, and what `policy` does to them (none for `Create`: they are created first).
pub(super) fn warnings(missing: &HashMap<String, Rows>, policy: MissingOrgs) -> Vec<String> {
    let what = match policy {
        MissingOrgs::Create => return Vec::new(),
        MissingOrgs::SkipField => "the membership is not created",
        MissingOrgs::Fail => "not sent",
    };
    let mut names: Vec<(&String, &Rows)> = missing.iter().collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    names
        .into_iter()
        .map(|(name, rows)| {
            format!(
                "organization '{name}' is not in the account: {} {what} (--missing-orgs {policy})",
                rows.text()
            )
        })
        .collect()
}

/// `Fail`: a row joining an organization the account lacks is not sent.
pub(super) fn fail_missing(rows: &mut [RowPlan], resolved: &Resolved) {
    for row in rows {
        if row.action.name() == "invalid" {
            continue;
        }
        let Some(user) = &row.user else { continue };
        let Some(m) = user
            .memberships
            .iter()
            .find(|m| !resolved.found.contains_key(&name_key(&m.name)))
        else {
            continue;
        };
        row.action = Action::WouldFail {
            reason: format!(
                "organization '{}' is not in the account (--missing-orgs fail)",
                m.name
            ),
        };
    }
}

/// Requests [`drop_held`] makes: one per user found that joins more organizations.
pub fn cost(rows: &[RowPlan]) -> u64 {
    rows.iter().filter(|r| found_id(r).is_some()).count() as u64
}

/// The id of the user a row updates (or leaves unchanged), when it joins organizations.
fn found_id(row: &RowPlan) -> Option<u64> {
    let id = match row.action {
        Action::Update { id, .. } | Action::Unchanged { id } => id,
        _ => return None,
    };
    row.user
        .as_ref()
        .is_some_and(|u| !u.memberships.is_empty())
        .then_some(id)
}

/// Reads the memberships of each user found that joins organizations, leaves out those it
/// holds, and shows the rest as the row's change (an unchanged row becomes an update).
pub(super) async fn drop_held(
    (client, gate): (&Client, &Gate),
    rows: &mut [RowPlan],
    n: usize,
    spent: &mut Spent,
) -> Result<(), PlanError> {
    let users: Vec<u64> = rows.iter().filter_map(found_id).collect();
    let answers = run_all(users, n, |id| async move {
        let what = format!("the organization memberships of user {id}");
        let (answer, used) = retrying(gate, &what, || client.user_memberships(id)).await?;
        Ok((id, answer.value, used))
    })
    .await?;
    let mut held: HashMap<u64, Vec<u64>> = HashMap::new();
    for (id, memberships, used) in answers {
        spent.add(used);
        held.insert(id, memberships.iter().map(|m| m.organization_id).collect());
    }
    for row in rows.iter_mut() {
        let Some(id) = found_id(row) else { continue };
        let orgs = held.get(&id).map_or(&[][..], Vec::as_slice);
        let Some(user) = row.user.as_mut() else {
            continue;
        };
        user.memberships
            .retain(|m| m.id.is_none_or(|org| !orgs.contains(&org)));
        show_added(row);
    }
    Ok(())
}

/// The memberships a found user gets, as a change of its row.
fn show_added(row: &mut RowPlan) {
    let Some(user) = &row.user else { return };
    if user.memberships.is_empty() {
        return;
    }
    let names: Vec<&str> = user.memberships.iter().map(|m| m.name.as_str()).collect();
    let change = Change {
        field: MEMBERSHIPS.into(),
        old: json!([]),
        new: json!(names),
    };
    match &mut row.action {
        Action::Update { changes, .. } => changes.push(change),
        Action::Unchanged { id } => {
            row.action = Action::Update {
                id: *id,
                changes: vec![change],
            };
        }
        _ => {}
    }
}

/// What the plan adds after the users (`n` memberships), for `zdimport plan` and the import:
/// `None` when it adds no membership.
pub fn line_for(n: usize) -> Option<String> {
    let calls = n.div_ceil(crate::zendesk::memberships::MEMBERSHIPS_PER_CALL);
    let s = if calls == 1 { "" } else { "s" };
    (n > 0).then(|| {
        format!(
            "Memberships added once the users exist: {n} ({calls} request{s}: \
             organization_memberships/create_many, 100 a call, a job each)"
        )
    })
}

/// Memberships the plan adds, on the rows it sends.
pub fn to_add(rows: &[RowPlan]) -> usize {
    rows.iter()
        .filter(|r| matches!(r.action, Action::New | Action::Update { .. }))
        .filter_map(|r| r.user.as_ref())
        .map(|u| u.memberships.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::OrganizationRef;

    fn member(name: &str) -> MemberOf {
        MemberOf {
            name: name.into(),
            id: None,
        }
    }

    fn user(orgs: &[&str]) -> User {
        User {
            organization: Some(OrganizationRef {
                name: "Acme".into(),
            }),
            memberships: orgs.iter().map(|n| member(n)).collect(),
            ..User::default()
        }
    }

    fn resolved() -> Resolved {
        Resolved {
            found: [("globex".to_owned(), (7, "Globex".to_owned()))].into(),
            missing: vec!["Newco".into()],
            ..Resolved::default()
        }
    }

    #[test]
    fn found_organizations_are_sent_by_id_and_missing_ones_follow_the_policy() {
        for (policy, kept, warned) in [
            (MissingOrgs::Create, 2, false),
            (MissingOrgs::SkipField, 1, true),
            (MissingOrgs::Fail, 2, true),
        ] {
            let mut users = vec![(2, user(&["globex ", "Newco"]))];
            let warnings = apply(&mut users, &resolved(), policy);
            assert_eq!(users[0].1.memberships.len(), kept, "{policy}");
            assert_eq!(users[0].1.memberships[0].id, Some(7));
            assert_eq!(!warnings.is_empty(), warned, "{policy}: {warnings:?}");
        }
        let mut rows = vec![RowPlan {
            row: 2,
            action: Action::New,
            user: Some(Box::new(user(&["Newco"]))),
            organization: None,
        }];
        fail_missing(&mut rows, &resolved());
        assert_eq!(rows[0].action.name(), "would_fail");
    }

    #[test]
    fn an_unchanged_user_joining_an_organization_is_an_update_showing_it() {
        let mut u = user(&["Globex"]);
        u.memberships[0].id = Some(7);
        let mut row = RowPlan {
            row: 2,
            action: Action::Unchanged { id: 5 },
            user: Some(Box::new(u)),
            organization: None,
        };
        assert_eq!(cost(std::slice::from_ref(&row)), 1);
        show_added(&mut row);
        let Action::Update { changes, .. } = &row.action else {
            panic!("{:?}", row.action)
        };
        assert_eq!(
            changes[0].to_string(),
            "organization_memberships: adds 'Globex'"
        );
        assert_eq!(to_add(&[row]), 1);
    }

    #[test]
    fn the_setting_error_counts_the_rows() {
        assert!(setting_off(3).starts_with("3 rows name more than one organization"));
        let users = vec![(2, user(&["Globex"])), (3, user(&[]))];
        assert_eq!(rows_with(&users), 1);
    }
}
