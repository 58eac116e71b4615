//! The user object of Zendesk's bulk endpoints, as a typed struct.
//!
//! Typed structs serialise about seven times faster than building `serde_json::Value`s, and
//! the field order below is the order of Zendesk's own documentation.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

/// One user as `create_many`, `create_or_update_many` and `update_many` take it.
///
/// Fields left `None` are not sent, so an upsert never blanks a value the sheet left empty.
/// A body read back (a spooled plan's) gives the user it was written from, but for its
/// `memberships`, which the body does not carry (they are beside it, in its key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_role_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Never set: Zendesk's `iana_time_zone` is read-only (IANA names go in `time_zone`). Kept
    /// only while `plan::diff` still names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iana_time_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Zendesk's numeric locale id; `locale` wins when both are sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<Identity>,
    #[serde(skip_serializing_if = "UserFields::is_empty")]
    pub user_fields: UserFields,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_verify_email: Option<bool>,
    /// Organizations beyond the default one (the `organizations` target). Not in the bulk
    /// body: they become memberships once the user exists (`crate::import::memberships`).
    #[serde(skip)]
    pub memberships: Vec<MemberOf>,
}

/// An organization a user joins besides its default one: by name as the sheet spells it
/// (trimmed), with its id once the plan found it (a missing one gets the id its creation
/// gives it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MemberOf {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

impl User {
    /// Adds organizations by name from an `organizations` cell, skipping repeats (compared
    /// as Zendesk compares names: ignoring case and surrounding spaces).
    pub fn join(&mut self, names: Vec<String>) {
        for name in names {
            let name = name.trim();
            let key = name.to_lowercase();
            if !name.is_empty()
                && !self
                    .memberships
                    .iter()
                    .any(|m| m.name.to_lowercase() == key)
            {
                self.memberships.push(MemberOf {
                    name: name.to_owned(),
                    id: None,
                });
            }
        }
    }

    /// Once every cell is read: without an `organization` (by name or id), the first of the
    /// `organizations` is the default one; the default is never a membership as well.
    pub fn settle_memberships(&mut self) {
        if self.memberships.is_empty() {
            return;
        }
        if self.organization.is_none() && self.organization_id.is_none() {
            let first = self.memberships.remove(0);
            self.organization = Some(OrganizationRef { name: first.name });
        }
        if let Some(default) = &self.organization {
            let key = default.name.trim().to_lowercase();
            self.memberships.retain(|m| m.name.to_lowercase() != key);
        }
    }
}

/// Zendesk's three built-in roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    EndUser,
    Agent,
    Admin,
}

impl Role {
    /// Reads a role as people write it: `End User`, `end_user`, `enduser`, `Agent` …
    pub fn parse(text: &str) -> Option<Role> {
        // The letters and digits, lowercased, on the stack: no role name is longer.
        let mut key = [0u8; 13];
        let mut len = 0;
        for b in text.bytes().filter(u8::is_ascii_alphanumeric) {
            *key.get_mut(len)? = b.to_ascii_lowercase();
            len += 1;
        }
        match &key[..len] {
            b"enduser" | b"user" | b"customer" => Some(Role::EndUser),
            b"agent" => Some(Role::Agent),
            b"admin" | b"administrator" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An organization named in the sheet: `{"name": "Acme"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationRef {
    pub name: String,
}

/// An extra identity: `{"type": "email", "value": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "type")]
    pub kind: IdentityKind,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    Email,
    PhoneNumber,
}

/// Custom field values by key, in column order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserFields(pub Vec<(String, FieldValue)>);

impl UserFields {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for UserFields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The fields as written, in their order.
impl<'de> Deserialize<'de> for UserFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = UserFields;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of custom field values by key")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<UserFields, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(UserFields(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// A custom field value: text, a checkbox, a list (multiselect), a number (integer, decimal
/// and lookup fields, once converted for the account), or null (erases the value: only sent
/// when the operator asked for blanks to clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Text(String),
    Bool(bool),
    List(Vec<String>),
    Number(serde_json::Number),
    Null,
}

impl FieldValue {
    /// The value as Zendesk's JSON, for comparing with what a user holds.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Text(t) => serde_json::Value::String(t.clone()),
            FieldValue::Bool(b) => serde_json::Value::Bool(*b),
            FieldValue::List(items) => items
                .iter()
                .cloned()
                .map(serde_json::Value::String)
                .collect(),
            FieldValue::Number(n) => serde_json::Value::Number(n.clone()),
            FieldValue::Null => serde_json::Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_read_back_is_the_user_it_was_written_from_but_its_memberships() {
        let number = |n: &str| FieldValue::Number(serde_json::from_str(n).unwrap());
        let user = User {
            id: Some(42),
            name: Some("Ana \"Nana\" Lopes".into()),
            email: Some("ana@x.com".into()),
            external_id: Some("007".into()),
            phone: Some("+351912345678".into()),
            role: Some(Role::EndUser),
            custom_role_id: Some(9),
            organization: Some(OrganizationRef {
                name: "Acme".into(),
            }),
            organization_id: Some(360),
            tags: Some(vec!["vip".into(), "ünïcode".into()]),
            time_zone: Some("Europe/Lisbon".into()),
            locale: Some("pt".into()),
            locale_id: Some(1176),
            details: Some("line 1\nline 2".into()),
            notes: Some(String::new()),
            alias: Some("A".into()),
            verified: Some(false),
            identities: vec![Identity {
                kind: IdentityKind::Email,
                value: "ana@y.com".into(),
            }],
            user_fields: UserFields(vec![
                ("zip".into(), FieldValue::Text("01234".into())),
                ("count".into(), FieldValue::Text("12".into())),
                ("vip".into(), FieldValue::Bool(true)),
                (
                    "langs".into(),
                    FieldValue::List(vec!["pt".into(), "en".into()]),
                ),
                ("seats".into(), number("12")),
                ("ratio".into(), number("-0.25")),
                ("gone".into(), FieldValue::Null),
                ("alpha".into(), FieldValue::Text("last, not sorted".into())),
            ]),
            skip_verify_email: Some(true),
            ..User::default()
        };
        let body = serde_json::to_vec(&user).unwrap();
        assert_eq!(serde_json::from_slice::<User>(&body).unwrap(), user);
        let mut member = user.clone();
        member.join(vec!["Globex".into()]);
        let body = serde_json::to_vec(&member).unwrap();
        assert_eq!(serde_json::from_slice::<User>(&body).unwrap(), user);
        assert_eq!(serde_json::from_str::<User>("{}").unwrap(), User::default());
        assert!(serde_json::from_str::<User>(r#"{"role": "owner"}"#).is_err());
    }

    #[test]
    fn serialises_only_what_is_set_in_zendesk_shapes() {
        let user = User {
            name: Some("Ana".into()),
            role: Some(Role::EndUser),
            organization: Some(OrganizationRef {
                name: "Acme".into(),
            }),
            tags: Some(vec!["vip".into()]),
            identities: vec![Identity {
                kind: IdentityKind::PhoneNumber,
                value: "+351".into(),
            }],
            user_fields: UserFields(vec![
                ("plan".into(), FieldValue::Text("gold".into())),
                ("vip".into(), FieldValue::Bool(true)),
            ]),
            ..User::default()
        };
        assert_eq!(
            serde_json::to_string(&user).unwrap(),
            r#"{"name":"Ana","role":"end-user","organization":{"name":"Acme"},"tags":["vip"],"identities":[{"type":"phone_number","value":"+351"}],"user_fields":{"plan":"gold","vip":true}}"#
        );
    }

    #[test]
    fn roles_as_people_write_them() {
        for (text, role) in [
            ("End User", Some(Role::EndUser)),
            ("end_user", Some(Role::EndUser)),
            ("end-user", Some(Role::EndUser)),
            ("AGENT", Some(Role::Agent)),
            ("Administrator", Some(Role::Admin)),
            ("superuser", None),
            // Longer than any role once its letters are kept.
            ("Administrator 2", None),
            ("a.d.m.i.n", Some(Role::Admin)),
        ] {
            assert_eq!(Role::parse(text), role, "{text}");
        }
    }
}
