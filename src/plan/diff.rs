//! What an update changes: the row's user against the user Zendesk holds, field by field.
//!
//! Only what the row sends is compared, so an empty cell (left out of the user) is never a
//! change; with blanks set to clear, a custom field sent as null is one when Zendesk holds a
//! value. An email is no change when the user holds it as any identity; otherwise Zendesk adds
//! it as a secondary email and the primary stays (API.md), and the change says so. With
//! `--make-primary` only the primary counts: another email is a change the import completes
//! through the identities API. Dates are
//! compared as dates (Zendesk reads them back as date-times), time zones by either name.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::Change;
use crate::payload::{FieldValue, User};
use crate::zendesk;

/// Organization ids by lower-case name; `None`: the account has no such organization.
pub type Organizations = HashMap<String, Option<u64>>;

/// The emails a user holds besides the primary (its identities, when the plan looked them
/// up), and whether the row's email is to become the primary one.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeldEmails<'a> {
    pub identities: Option<&'a [String]>,
    /// `--make-primary`: only the primary email counts as held.
    pub make_primary: bool,
}

impl HeldEmails<'_> {
    /// The user already holds `email`, as its primary or (unless it is to be made primary) as
    /// another identity.
    pub(super) fn holds(self, old: &zendesk::User, email: &str) -> bool {
        let primary = old
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(email));
        primary
            || !self.make_primary
                && self
                    .identities
                    .is_some_and(|all| all.iter().any(|e| e.eq_ignore_ascii_case(email)))
    }
}

/// Every field of `user` whose value differs from `old`'s.
pub fn changes(
    user: &User,
    old: &zendesk::User,
    organizations: &Organizations,
    emails: HeldEmails<'_>,
) -> Vec<Change> {
    let mut out = Vec::new();
    let mut text = |field: &str, new: Option<&str>, old_value: Value, fold: bool| {
        let Some(new) = new else { return };
        let same = match old_value.as_str() {
            Some(old) if fold => old.eq_ignore_ascii_case(new) || old.to_lowercase() == new,
            Some(old) => old == new,
            None => false,
        };
        if !same {
            out.push(change(field, old_value, json!(new)));
        }
    };
    text(
        "name",
        user.name.as_deref(),
        opt(old.name.as_deref()),
        false,
    );
    let external = old.external_id.as_deref();
    text(
        "external_id",
        user.external_id.as_deref(),
        opt(external),
        true,
    );
    let role = user.role.map(|r| json!(r));
    text(
        "role",
        role.as_ref().and_then(Value::as_str),
        opt(old.role.as_deref()),
        false,
    );
    for (field, new) in [
        ("phone", &user.phone),
        ("locale", &user.locale),
        ("details", &user.details),
        ("notes", &user.notes),
        ("alias", &user.alias),
    ] {
        text(field, new.as_deref(), extra(old, field), false);
    }
    if let Some(email) = user.email.as_deref()
        && !emails.holds(old, email)
    {
        let field = if emails.make_primary {
            super::PRIMARY_EMAIL
        } else {
            super::SECONDARY_EMAIL
        };
        out.push(change(field, opt(old.email.as_deref()), json!(email)));
    }
    // Zendesk answers `time_zone` in its own names ("Berlin") and the IANA name beside it.
    if let Some(zone) = user.time_zone.as_deref() {
        let held = [extra(old, "time_zone"), extra(old, "iana_time_zone")];
        if !held.iter().any(|h| h.as_str() == Some(zone)) {
            out.push(change("time_zone", held[0].clone(), json!(zone)));
        }
    }
    numbers_and_flags(user, old, &mut out);
    organization(user, old, organizations, &mut out);
    tags(user, old, &mut out);
    user_fields(user, old, &mut out);
    out
}

pub(super) fn change(field: &str, old: Value, new: Value) -> Change {
    Change {
        field: field.to_owned(),
        old,
        new,
    }
}

fn opt(text: Option<&str>) -> Value {
    text.map_or(Value::Null, |t| json!(t))
}

fn extra(old: &zendesk::User, key: &str) -> Value {
    old.extra.get(key).cloned().unwrap_or(Value::Null)
}

fn numbers_and_flags(user: &User, old: &zendesk::User, out: &mut Vec<Change>) {
    if let Some(id) = user.custom_role_id
        && extra(old, "custom_role_id").as_u64() != Some(id)
    {
        out.push(change(
            "custom_role_id",
            extra(old, "custom_role_id"),
            json!(id),
        ));
    }
    if let Some(id) = user.organization_id
        && old.organization_id != Some(id)
    {
        out.push(change(
            "organization_id",
            json!(old.organization_id),
            json!(id),
        ));
    }
    if let Some(id) = user.locale_id
        && extra(old, "locale_id").as_u64() != Some(id)
    {
        out.push(change("locale_id", extra(old, "locale_id"), json!(id)));
    }
    if let Some(verified) = user.verified
        && extra(old, "verified").as_bool() != Some(verified)
    {
        out.push(change("verified", extra(old, "verified"), json!(verified)));
    }
}

/// An organization by name is a change when it is not the one the user belongs to; a name the
/// account lacks always is (whether a bulk call creates it is unverified: API.md).
fn organization(
    user: &User,
    old: &zendesk::User,
    organizations: &Organizations,
    out: &mut Vec<Change>,
) {
    let Some(org) = &user.organization else {
        return;
    };
    let id = organizations
        .get(&org.name.to_lowercase())
        .copied()
        .flatten();
    if id.is_none() || id != old.organization_id {
        out.push(change(
            "organization",
            json!(old.organization_id),
            json!(org.name),
        ));
    }
}

/// Tags sent replace the user's tags: a change when the sets differ (Zendesk lowercases).
fn tags(user: &User, old: &zendesk::User, out: &mut Vec<Change>) {
    let Some(new) = &user.tags else {
        return;
    };
    if !same_set(new, &old.tags) {
        out.push(change("tags", json!(old.tags), json!(new)));
    }
}

/// Two lists of tags or domains as Zendesk keeps them: sets, in lower case.
pub(super) fn same_set(new: &[String], held: &[String]) -> bool {
    let mut a: Vec<String> = new.iter().map(|t| t.to_lowercase()).collect();
    let mut b: Vec<String> = held.iter().map(|t| t.to_lowercase()).collect();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

fn user_fields(user: &User, old: &zendesk::User, out: &mut Vec<Change>) {
    custom_fields("user_fields", &user.user_fields, &old.user_fields, out);
}

/// The custom field values sent (`prefix.key`) that the record does not hold already.
pub(super) fn custom_fields(
    prefix: &str,
    sent: &crate::payload::UserFields,
    held: &serde_json::Map<String, Value>,
    out: &mut Vec<Change>,
) {
    for (key, value) in &sent.0 {
        let held = held.get(key).cloned().unwrap_or(Value::Null);
        if !same_field(value, &held) {
            let held = held_date(&held).map(|date| json!(date)).unwrap_or(held);
            out.push(change(&format!("{prefix}.{key}"), held, value.to_json()));
        }
    }
}

/// Zendesk answers numbers as numbers or strings and lists in its own order: compare as text.
fn same_field(new: &FieldValue, held: &Value) -> bool {
    match (new, held) {
        (FieldValue::Null, held) => held.is_null() || held.as_str() == Some(""),
        (_, Value::Null) => false,
        (FieldValue::List(items), Value::Array(held)) => {
            let mut a: Vec<&str> = items.iter().map(String::as_str).collect();
            let mut b: Vec<&str> = held.iter().filter_map(Value::as_str).collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        }
        (FieldValue::List(_), _) => false,
        (FieldValue::Bool(b), held) => {
            held.as_bool() == Some(*b) || held.as_str() == Some(if *b { "true" } else { "false" })
        }
        (FieldValue::Number(n), held) => {
            held.as_f64().or_else(|| held.as_str()?.parse().ok()) == n.as_f64()
        }
        (FieldValue::Text(t), held) => match held {
            Value::String(s) => s == t || same_date(t, s),
            other => serde_json::from_str::<Value>(t).ok().as_ref() == Some(other),
        },
    }
}

/// A date field as Zendesk reads it back (`2027-01-01T00:00:00+00:00`), as the date it is.
fn held_date(held: &Value) -> Option<&str> {
    let text = held.as_str()?;
    let date = text.get(..10)?;
    same_date(date, text).then_some(date)
}

/// A date sent as `2027-01-01` and read back as a date-time at midnight UTC
/// (`2027-01-01T00:00:00+00:00` or `…Z`, API.md: custom date fields).
fn same_date(sent: &str, held: &str) -> bool {
    let is_date = sent.len() == 10
        && sent.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let Some(time) = held.strip_prefix(sent) else {
        return false;
    };
    is_date
        && matches!(
            time,
            "T00:00:00Z" | "T00:00:00+00:00" | "T00:00:00.000Z" | "T00:00:00-00:00"
        )
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::payload::{OrganizationRef, Role, UserFields};

    fn held() -> zendesk::User {
        serde_json::from_value(json!({
            "id": 7, "name": "Ana Silva", "email": "ana@x.com", "external_id": "E-1",
            "role": "end-user", "organization_id": 100, "tags": ["vip", "beta"],
            "phone": null, "notes": "old note", "verified": true, "locale_id": 8,
            "user_fields": {"plan": "silver", "seats": 3, "vip": false, "langs": ["b", "a"],
                            "renewal": "2025-01-01", "empty": null,
                            "due": "2027-01-01T00:00:00+00:00", "due_z": "2027-01-01T00:00:00Z"},
            "time_zone": "Berlin", "iana_time_zone": "Europe/Berlin"
        }))
        .unwrap()
    }

    fn orgs() -> Organizations {
        [
            ("acme".to_owned(), Some(100)),
            ("globex".to_owned(), Some(200)),
        ]
        .into()
    }

    fn fields(pairs: &[(&str, FieldValue)]) -> User {
        User {
            user_fields: UserFields(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            ),
            ..User::default()
        }
    }

    fn names(user: &User) -> Vec<String> {
        names_with(user, false)
    }

    fn names_with(user: &User, make_primary: bool) -> Vec<String> {
        changes(
            user,
            &held(),
            &orgs(),
            HeldEmails {
                identities: Some(&["ana.old@x.com".to_owned()]),
                make_primary,
            },
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    fn t(s: &str) -> FieldValue {
        FieldValue::Text(s.to_owned())
    }

    #[rstest]
    #[case::same_name(User { name: Some("Ana Silva".into()), ..User::default() }, vec![])]
    #[case::new_name(User { name: Some("Ana S".into()), ..User::default() }, vec!["name: \"Ana Silva\" → \"Ana S\""])]
    #[case::email_case(User { email: Some("ANA@x.com".into()), ..User::default() }, vec![])]
    #[case::email_secondary_held(User { email: Some("Ana.Old@x.com".into()), ..User::default() }, vec![])]
    #[case::email_new(User { email: Some("ana.new@x.com".into()), ..User::default() }, vec!["adds a secondary email \"ana.new@x.com\" (primary stays \"ana@x.com\")"])]
    #[case::zone_as_iana(User { time_zone: Some("Europe/Berlin".into()), ..User::default() }, vec![])]
    #[case::zone_as_zendesk(User { time_zone: Some("Berlin".into()), ..User::default() }, vec![])]
    #[case::zone_other(User { time_zone: Some("Asia/Tokyo".into()), ..User::default() }, vec!["time_zone: \"Berlin\" → \"Asia/Tokyo\""])]
    #[case::date_read_back_as_datetime(fields(&[("due", t("2027-01-01"))]), vec![])]
    #[case::date_read_back_z(fields(&[("due_z", t("2027-01-01"))]), vec![])]
    #[case::date_differs(fields(&[("due", t("2027-01-02"))]), vec!["user_fields.due: \"2027-01-01\" → \"2027-01-02\""])]
    #[case::external_id_case(User { external_id: Some("e-1".into()), ..User::default() }, vec![])]
    #[case::role(User { role: Some(Role::Agent), ..User::default() }, vec!["role: \"end-user\" → \"agent\""])]
    #[case::phone_from_empty(User { phone: Some("+1555".into()), ..User::default() }, vec!["phone: (empty) → \"+1555\""])]
    #[case::same_org(User { organization: Some(OrganizationRef { name: "ACME".into() }), ..User::default() }, vec![])]
    #[case::other_org(User { organization: Some(OrganizationRef { name: "Globex".into() }), ..User::default() }, vec!["organization: 100 → \"Globex\""])]
    #[case::missing_org(User { organization: Some(OrganizationRef { name: "Initech".into() }), ..User::default() }, vec!["organization: 100 → \"Initech\""])]
    #[case::tags_same_set(User { tags: Some(vec!["BETA".into(), "vip".into()]), ..User::default() }, vec![])]
    #[case::tags_differ(User { tags: Some(vec!["vip".into()]), ..User::default() }, vec!["tags: [\"vip\",\"beta\"] → [\"vip\"]"])]
    #[case::locale_id_same(User { locale_id: Some(8), ..User::default() }, vec![])]
    #[case::locale_id_new(User { locale_id: Some(1), ..User::default() }, vec!["locale_id: 8 → 1"])]
    #[case::verified_same(User { verified: Some(true), ..User::default() }, vec![])]
    #[case::field_same(fields(&[("plan", t("silver"))]), vec![])]
    #[case::field_changes(fields(&[("plan", t("gold"))]), vec!["user_fields.plan: \"silver\" → \"gold\""])]
    #[case::number_same(fields(&[("seats", FieldValue::Number(3.into()))]), vec![])]
    #[case::number_as_text_same(fields(&[("seats", t("3"))]), vec![])]
    #[case::checkbox(fields(&[("vip", FieldValue::Bool(true))]), vec!["user_fields.vip: false → true"])]
    #[case::list_order(fields(&[("langs", FieldValue::List(vec!["a".into(), "b".into()]))]), vec![])]
    #[case::clear_held(fields(&[("renewal", FieldValue::Null)]), vec!["user_fields.renewal: \"2025-01-01\" → (empty)"])]
    #[case::clear_empty(fields(&[("empty", FieldValue::Null)]), vec![])]
    #[case::field_unset(fields(&[("new_key", t("x"))]), vec!["user_fields.new_key: (empty) → \"x\""])]
    fn compares_what_the_row_sends(#[case] user: User, #[case] want: Vec<&str>) {
        assert_eq!(names(&user), want);
    }

    #[rstest]
    #[case::primary_held(User { email: Some("ANA@x.com".into()), ..User::default() }, vec![])]
    #[case::secondary_made_primary(User { email: Some("ana.old@x.com".into()), ..User::default() }, vec!["email: \"ana@x.com\" → \"ana.old@x.com\" (made primary)"])]
    #[case::new_made_primary(User { email: Some("ana.new@x.com".into()), ..User::default() }, vec!["email: \"ana@x.com\" → \"ana.new@x.com\" (made primary)"])]
    fn make_primary_compares_with_the_primary_only(#[case] user: User, #[case] want: Vec<&str>) {
        assert_eq!(names_with(&user, true), want);
    }
}
