//! Users as the sandbox holds them: what differs from a blank user, not a whole JSON object.
//!
//! A user answer has 37 keys; held as a JSON object each key is its own allocation, and
//! 100,000 imported users took over a gigabyte. A [`Held`] keeps the values that differ from a
//! blank user's, by the position of their key in [`BLANK`], and gives the whole object back,
//! in the same key order, when it is read.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

/// Every key of a real user answer (`fixtures/zendesk/user_show.json`), in its order, with a
/// blank user's value; `id`, `url`, `created_at` and `updated_at` are each user's own.
pub(super) static BLANK: LazyLock<Vec<(&'static str, Value)>> = LazyLock::new(|| {
    vec![
        ("id", Value::Null),
        ("url", Value::Null),
        ("name", json!("")),
        ("email", Value::Null),
        ("created_at", Value::Null),
        ("updated_at", Value::Null),
        ("time_zone", json!("Eastern Time (US & Canada)")),
        ("iana_time_zone", json!("America/New_York")),
        ("phone", Value::Null),
        ("shared_phone_number", Value::Null),
        ("photo", Value::Null),
        ("locale_id", json!(1)),
        ("locale", json!("en-US")),
        ("organization_id", Value::Null),
        ("role", json!("end-user")),
        ("verified", json!(false)),
        ("external_id", Value::Null),
        ("tags", json!([])),
        ("alias", Value::Null),
        ("active", json!(true)),
        ("shared", json!(false)),
        ("shared_agent", json!(false)),
        ("last_login_at", Value::Null),
        ("two_factor_auth_enabled", json!(false)),
        ("signature", Value::Null),
        ("details", Value::Null),
        ("notes", Value::Null),
        ("role_type", Value::Null),
        ("custom_role_id", Value::Null),
        ("moderator", json!(false)),
        ("ticket_restriction", json!("requested")),
        ("only_private_comments", json!(false)),
        ("restricted_agent", json!(true)),
        ("suspended", json!(false)),
        ("chat_only", json!(false)),
        ("default_group_id", Value::Null),
        ("report_csv", json!(false)),
        ("user_fields", json!({})),
    ]
});

/// A user's `url`.
pub(super) fn user_url(base: &str, id: u64) -> String {
    format!("{base}/api/v2/users/{id}.json")
}

/// One user as held.
#[derive(Debug, Clone)]
pub(super) enum Held {
    /// The values that differ from [`BLANK`], by key position, then keys a blank user lacks.
    Compact {
        set: Box<[(u8, Value)]>,
        extra: Box<[(String, Value)]>,
    },
    /// A user whose keys do not start as a blank user's do: kept whole, to answer exactly.
    Whole(Box<Value>),
}

impl Held {
    /// Holds `user`, whose id is `id` in an account at `base`.
    pub(super) fn new(user: Value, id: u64, base: &str) -> Held {
        let Value::Object(map) = user else {
            return Held::Whole(Box::new(user));
        };
        let blank = &*BLANK;
        let shaped = map.len() >= blank.len()
            && map.keys().zip(blank.iter()).all(|(k, (b, _))| k == b)
            && map.get("id") == Some(&json!(id))
            && map.get("url") == Some(&json!(user_url(base, id)));
        if !shaped {
            return Held::Whole(Box::new(Value::Object(map)));
        }
        let mut set = Vec::new();
        let mut extra = Vec::new();
        for (i, (key, value)) in map.into_iter().enumerate() {
            match blank.get(i) {
                Some(("id" | "url", _)) => {}
                Some((_, default)) if value == *default => {}
                Some(_) => set.push((u8::try_from(i).unwrap_or(u8::MAX), value)),
                None => extra.push((key, value)),
            }
        }
        Held::Compact {
            set: set.into_boxed_slice(),
            extra: extra.into_boxed_slice(),
        }
    }

    /// The whole user, as it was held.
    pub(super) fn value(&self, id: u64, base: &str) -> Value {
        let (set, extra) = match self {
            Held::Whole(user) => return (**user).clone(),
            Held::Compact { set, extra } => (set, extra),
        };
        let mut map = Map::with_capacity(BLANK.len() + extra.len());
        let mut set = set.iter().peekable();
        for (i, (key, default)) in BLANK.iter().enumerate() {
            let value = match *key {
                "id" => json!(id),
                "url" => json!(user_url(base, id)),
                _ => match set.next_if(|(at, _)| usize::from(*at) == i) {
                    Some((_, value)) => value.clone(),
                    None => default.clone(),
                },
            };
            map.insert((*key).to_owned(), value);
        }
        for (key, value) in extra {
            map.insert(key.clone(), value.clone());
        }
        Value::Object(map)
    }

    /// One value of the user, without building the whole object (not `id` or `url`).
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        let (set, extra) = match self {
            Held::Whole(user) => return user.get(key),
            Held::Compact { set, extra } => (set, extra),
        };
        if let Some(i) = BLANK.iter().position(|(k, _)| *k == key) {
            return set
                .iter()
                .find(|(at, _)| usize::from(*at) == i)
                .map(|(_, v)| v)
                .or(Some(&BLANK[i].1));
        }
        extra.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: u64) -> Value {
        let mut map = Map::new();
        for (key, value) in BLANK.iter() {
            map.insert((*key).to_owned(), value.clone());
        }
        map["id"] = json!(id);
        map["url"] = json!(user_url("http://h", id));
        map["created_at"] = json!("2026-01-01T00:00:00Z");
        map["name"] = json!("Ann");
        map["tags"] = json!(["vip"]);
        map["user_fields"] = json!({"plan": null});
        Value::Object(map)
    }

    #[test]
    fn a_held_user_reads_back_the_same_in_the_same_order() {
        let mut with_extra = user(7);
        with_extra["later_key"] = json!(1);
        for original in [user(7), with_extra] {
            let held = Held::new(original.clone(), 7, "http://h");
            assert!(matches!(held, Held::Compact { .. }));
            let back = held.value(7, "http://h");
            assert_eq!(back, original);
            let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(&back), keys(&original));
            assert_eq!(held.get("name"), Some(&json!("Ann")));
            assert_eq!(held.get("role"), Some(&json!("end-user")));
        }
    }

    #[test]
    fn an_odd_user_is_kept_whole() {
        let mut odd = user(7);
        odd.as_object_mut().unwrap().shift_remove("photo");
        let held = Held::new(odd.clone(), 7, "http://h");
        assert!(matches!(held, Held::Whole(_)));
        assert_eq!(held.value(7, "http://h"), odd);
    }
}

/// One identity of a user as held; [`Identity::json`] gives Zendesk's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    pub(super) id: u64,
    /// `email`, `phone_number`, …
    pub(super) kind: Box<str>,
    pub(super) value: Box<str>,
    pub(super) verified: bool,
    pub(super) primary: bool,
    pub(super) created_at: Box<str>,
    pub(super) updated_at: Box<str>,
}

impl Identity {
    /// The identity as the user identities API answers it (JSON format).
    pub(super) fn json(&self, base: &str, user_id: u64) -> Value {
        let id = self.id;
        let mut identity = json!({
            "url": format!("{base}/api/v2/users/{user_id}/identities/{id}.json"),
            "id": id,
            "user_id": user_id,
            "type": self.kind,
            "value": self.value,
            "verified": self.verified,
            "primary": self.primary,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "undeliverable_count": 0
        });
        if &*self.kind == "email" {
            identity["deliverable_state"] = json!("deliverable");
        }
        identity
    }

    /// Whether this is the `kind` identity `value` (emails ignoring ASCII case).
    pub(super) fn is(&self, kind: &str, value: &str) -> bool {
        &*self.kind == kind && self.value.eq_ignore_ascii_case(value)
    }
}
