//! The users the sandbox holds, and what create, upsert and update do to them.
//!
//! Rules follow `shared/zendesk/API.md`: email unique (compared case-insensitively),
//! external_id unique and matched case-insensitively while the case sent is stored, name required
//! to create, roles `end-user`/`agent`/`admin`, organizations created by name, custom fields
//! checked against the definitions (a dropdown label that is not an option's value is not set).

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use serde_json::{Map, Value, json};

/// A row Zendesk refused: its `error` code and `details` text, as a job result carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub error: &'static str,
    pub details: String,
}

/// What happened to one user of a bulk call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowAction {
    Created,
    Updated,
}

/// Keys a bulk body may set that are copied as sent.
const PLAIN_KEYS: &[&str] = &[
    "phone",
    "time_zone",
    "iana_time_zone",
    "locale",
    "locale_id",
    "details",
    "notes",
    "alias",
    "verified",
    "custom_role_id",
    "signature",
    "moderator",
    "suspended",
    "shared_phone_number",
    "ticket_restriction",
    "only_private_comments",
    "restricted_agent",
    "default_group_id",
];

const ROLES: &[&str] = &["end-user", "agent", "admin"];

/// Users, organizations and custom field definitions.
#[derive(Debug)]
pub struct Store {
    base: String,
    users: BTreeMap<u64, Value>,
    identities: HashMap<u64, Vec<Value>>,
    by_email: HashMap<String, u64>,
    by_external_id: HashMap<String, u64>,
    organizations: HashMap<String, u64>,
    /// Each organization's name as first sent.
    organization_names: HashMap<u64, String>,
    fields: Vec<Value>,
    next_id: u64,
}

impl Store {
    /// An empty account whose URLs start with `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            users: BTreeMap::new(),
            identities: HashMap::new(),
            by_email: HashMap::new(),
            by_external_id: HashMap::new(),
            organizations: HashMap::new(),
            organization_names: HashMap::new(),
            fields: Vec::new(),
            next_id: 360_000_000_001,
        }
    }

    /// Adds custom field definitions, filling the keys Zendesk always sends.
    pub fn add_field(&mut self, definition: &Value, now: SystemTime) {
        let id = self.take_id();
        let mut field = definition.as_object().cloned().unwrap_or_default();
        let stamp = timestamp(now);
        let title = field.get("title").cloned().unwrap_or(Value::Null);
        let defaults = [
            (
                "url",
                json!(format!("{}/api/v2/user_fields/{id}.json", self.base)),
            ),
            ("id", json!(id)),
            ("type", json!("text")),
            ("key", json!(format!("field_{id}"))),
            ("title", title.clone()),
            ("raw_title", title),
            ("description", json!("")),
            ("raw_description", json!("")),
            ("position", json!(self.fields.len())),
            ("active", json!(true)),
            ("regexp_for_validation", Value::Null),
            ("created_at", json!(stamp)),
            ("updated_at", json!(stamp)),
        ];
        let mut full = Map::new();
        for (key, value) in defaults {
            full.insert(key.into(), field.remove(key).unwrap_or(value));
        }
        full.extend(field);
        self.fields.push(Value::Object(full));
    }

    pub fn fields(&self) -> &[Value] {
        &self.fields
    }

    pub fn users(&self) -> impl Iterator<Item = &Value> {
        self.users.values()
    }

    pub fn user(&self, id: u64) -> Option<&Value> {
        self.users.get(&id)
    }

    pub fn identities(&self, id: u64) -> &[Value] {
        self.identities.get(&id).map_or(&[], Vec::as_slice)
    }

    pub fn find_by_email(&self, email: &str) -> Option<&Value> {
        self.by_email
            .get(&email.to_lowercase())
            .and_then(|id| self.users.get(id))
    }

    pub fn find_by_external_id(&self, external_id: &str) -> Option<&Value> {
        self.by_external_id
            .get(&external_id.to_lowercase())
            .and_then(|id| self.users.get(id))
    }

    pub fn organization_id(&self, name: &str) -> Option<u64> {
        self.organizations.get(&name.to_lowercase()).copied()
    }

    /// The organization of this name (any case): its id and its name as stored.
    pub fn organization<'a>(&'a self, name: &'a str) -> Option<(u64, &'a str)> {
        let id = self.organization_id(name)?;
        let stored = self
            .organization_names
            .get(&id)
            .map_or(name, String::as_str);
        Some((id, stored))
    }

    /// `create_many`: a new user, refused when its email or external_id is taken.
    pub fn create(&mut self, body: &Value, now: SystemTime) -> Result<u64, RowError> {
        let fail = |details: String| RowError {
            error: "UserCreateError",
            details,
        };
        let body = body
            .as_object()
            .ok_or_else(|| fail("User: is not an object".into()))?;
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if name.is_empty() {
            return Err(fail("Name: cannot be blank".into()));
        }
        // Ids are not reused even when the row fails, as in Zendesk.
        let id = self.take_id();
        let mut user = self.blank_user(id, now);
        self.apply(&mut user, id, body).map_err(fail)?;
        self.insert(id, user);
        Ok(id)
    }

    /// `create_or_update_many`: matched by external_id, then email; created when neither
    /// matches.
    pub fn create_or_update(
        &mut self,
        body: &Value,
        now: SystemTime,
    ) -> Result<(u64, RowAction), RowError> {
        let by_external = str_key(body, "external_id")
            .and_then(|x| self.by_external_id.get(&x.to_lowercase()).copied());
        let by_email =
            || str_key(body, "email").and_then(|e| self.by_email.get(&e.to_lowercase()).copied());
        match by_external.or_else(by_email) {
            Some(id) => self
                .update_id(id, body, now)
                .map(|id| (id, RowAction::Updated)),
            None => self.create(body, now).map(|id| (id, RowAction::Created)),
        }
    }

    /// `update_many`: the user named by `id` or `external_id`.
    pub fn update(&mut self, body: &Value, now: SystemTime) -> Result<u64, RowError> {
        let id = body.get("id").and_then(Value::as_u64).or_else(|| {
            str_key(body, "external_id")
                .and_then(|x| self.by_external_id.get(&x.to_lowercase()).copied())
        });
        match id.filter(|id| self.users.contains_key(id)) {
            Some(id) => self.update_id(id, body, now),
            None => Err(RowError {
                error: "RecordNotFound",
                details: "Not found".into(),
            }),
        }
    }

    fn update_id(&mut self, id: u64, body: &Value, now: SystemTime) -> Result<u64, RowError> {
        let fail = |details: String| RowError {
            error: "UserUpdateError",
            details,
        };
        let body = body
            .as_object()
            .ok_or_else(|| fail("User: is not an object".into()))?;
        let Some(mut user) = self.users.get(&id).cloned() else {
            return Err(RowError {
                error: "RecordNotFound",
                details: "Not found".into(),
            });
        };
        self.apply(&mut user, id, body).map_err(fail)?;
        user["updated_at"] = json!(timestamp(now));
        self.unindex(id);
        self.insert(id, user);
        Ok(id)
    }

    /// Copies what a body sets onto `user`, checking every rule before changing anything.
    fn apply(
        &mut self,
        user: &mut Value,
        id: u64,
        body: &Map<String, Value>,
    ) -> Result<(), String> {
        self.check_unique(id, body)?;
        let role = match body.get("role") {
            Some(Value::String(role)) if ROLES.contains(&role.as_str()) => Some(role.clone()),
            Some(Value::Null) | None => None,
            Some(other) => return Err(format!("Role: {other} is not included in the list")),
        };
        let fields = self.check_user_fields(body.get("user_fields"))?;
        let organization =
            self.organization_for(body.get("organization"), body.get("organization_id"))?;
        for key in ["name", "email", "external_id"].iter().chain(PLAIN_KEYS) {
            if let Some(value) = body.get(*key) {
                user[*key] = value.clone();
            }
        }
        if let Some(role) = role {
            user["role"] = json!(role);
        }
        if let Some(tags) = body.get("tags") {
            user["tags"] = normalize_tags(tags);
        }
        if let Some(org) = organization {
            user["organization_id"] = json!(self.organization_or_create(&org));
        }
        for (key, value) in fields {
            user["user_fields"][key] = value;
        }
        self.apply_identities(user, body);
        Ok(())
    }

    fn check_unique(&self, id: u64, body: &Map<String, Value>) -> Result<(), String> {
        if let Some(email) = body.get("email").and_then(Value::as_str) {
            if !looks_like_email(email) {
                return Err(format!("Email: {email} is not properly formatted"));
            }
            if self
                .by_email
                .get(&email.to_lowercase())
                .is_some_and(|&other| other != id)
            {
                return Err(format!(
                    "Email: {email} is already being used by another user"
                ));
            }
        }
        if let Some(external) = body.get("external_id").and_then(Value::as_str)
            && self
                .by_external_id
                .get(&external.to_lowercase())
                .is_some_and(|&other| other != id)
        {
            return Err(format!("External ID: {external} has already been taken"));
        }
        Ok(())
    }

    /// `organization: {"name": …}` (created when new) or an existing `organization_id`.
    fn organization_for(
        &self,
        by_name: Option<&Value>,
        by_id: Option<&Value>,
    ) -> Result<Option<String>, String> {
        if let Some(org) = by_name {
            return match org.get("name").and_then(Value::as_str) {
                Some(name) if !name.trim().is_empty() => Ok(Some(name.trim().to_owned())),
                _ => Err("Organization: name cannot be blank".into()),
            };
        }
        match by_id {
            None | Some(Value::Null) => Ok(None),
            Some(id) => {
                let known = self
                    .organizations
                    .iter()
                    .find(|(_, v)| Some(**v) == id.as_u64());
                known
                    .map(|(name, _)| Some(name.clone()))
                    .ok_or_else(|| format!("Organization: {id} is invalid"))
            }
        }
    }

    /// An organization by name, created when new; its id.
    pub fn add_organization(&mut self, name: &str) -> u64 {
        self.organization_or_create(name.trim())
    }

    fn organization_or_create(&mut self, name: &str) -> u64 {
        if let Some(id) = self.organizations.get(&name.to_lowercase()) {
            return *id;
        }
        let id = self.take_id();
        self.organizations.insert(name.to_lowercase(), id);
        self.organization_names.insert(id, name.to_owned());
        id
    }

    /// Checks `user_fields` against the definitions; returns what to store.
    fn check_user_fields(&self, fields: Option<&Value>) -> Result<Vec<(String, Value)>, String> {
        let Some(fields) = fields.and_then(Value::as_object) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (key, value) in fields {
            // Keys with no definition are ignored, as Zendesk does.
            let Some(def) = self.fields.iter().find(|f| f["key"] == *key) else {
                continue;
            };
            if let Some(value) = check_field_value(def, value)? {
                out.push((key.clone(), value));
            }
        }
        Ok(out)
    }

    fn apply_identities(&mut self, user: &mut Value, body: &Map<String, Value>) {
        let Some(list) = body.get("identities").and_then(Value::as_array) else {
            return;
        };
        let id = user["id"].as_u64().unwrap_or_default();
        if user["email"].is_null()
            && let Some(email) = list
                .iter()
                .find(|i| i["type"] == "email")
                .and_then(|i| i["value"].as_str())
            && !self.by_email.contains_key(&email.to_lowercase())
        {
            user["email"] = json!(email);
        }
        self.identities
            .entry(id)
            .or_default()
            .extend(list.iter().cloned());
    }

    fn insert(&mut self, id: u64, user: Value) {
        if let Some(email) = user["email"].as_str() {
            self.by_email.insert(email.to_lowercase(), id);
        }
        if let Some(external) = user["external_id"].as_str() {
            self.by_external_id.insert(external.to_lowercase(), id);
        }
        self.users.insert(id, user);
    }

    /// Forgets the user's current email and external_id before they change.
    fn unindex(&mut self, id: u64) {
        let Some(user) = self.users.get(&id) else {
            return;
        };
        if let Some(email) = user["email"].as_str() {
            self.by_email.remove(&email.to_lowercase());
        }
        if let Some(external) = user["external_id"].as_str() {
            self.by_external_id.remove(&external.to_lowercase());
        }
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Every key of a real user answer (`fixtures/zendesk/user_show.json`), in its order.
    fn blank_user(&self, id: u64, now: SystemTime) -> Value {
        let stamp = timestamp(now);
        // Zendesk lists every custom field in each user, null when unset.
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .filter_map(|f| f["key"].as_str().map(|k| (k.to_owned(), Value::Null)))
            .collect();
        json!({
            "id": id,
            "url": format!("{}/api/v2/users/{id}.json", self.base),
            "name": "",
            "email": null,
            "created_at": stamp,
            "updated_at": stamp,
            "time_zone": "Eastern Time (US & Canada)",
            "iana_time_zone": "America/New_York",
            "phone": null,
            "shared_phone_number": null,
            "photo": null,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": null,
            "role": "end-user",
            "verified": false,
            "external_id": null,
            "tags": [],
            "alias": null,
            "active": true,
            "shared": false,
            "shared_agent": false,
            "last_login_at": null,
            "two_factor_auth_enabled": false,
            "signature": null,
            "details": null,
            "notes": null,
            "role_type": null,
            "custom_role_id": null,
            "moderator": false,
            "ticket_restriction": "requested",
            "only_private_comments": false,
            "restricted_agent": true,
            "suspended": false,
            "chat_only": false,
            "default_group_id": null,
            "report_csv": false,
            "user_fields": fields
        })
    }
}

/// One custom field value checked against its definition: `Ok(None)` means "not set" (a
/// dropdown label instead of a value is dropped silently, as Zendesk does).
fn check_field_value(def: &Value, value: &Value) -> Result<Option<Value>, String> {
    let title = def["title"].as_str().unwrap_or("Field");
    let invalid = || format!("{title}: {value} is invalid");
    if value.is_null() {
        return Ok(Some(Value::Null));
    }
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    };
    let checked = match def["type"].as_str().unwrap_or("text") {
        "checkbox" => match text.as_str() {
            "true" | "1" => json!(true),
            "false" | "0" => json!(false),
            _ => return Err(invalid()),
        },
        "integer" => json!(text.trim().parse::<i64>().map_err(|_| invalid())?),
        "decimal" => json!(text.trim().parse::<f64>().map_err(|_| invalid())?),
        "date" => {
            if !is_iso_date(&text) {
                return Err(invalid());
            }
            json!(text)
        }
        "regexp" => {
            let pattern = def["regexp_for_validation"].as_str().unwrap_or("");
            let refused = regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(&text));
            if !pattern.is_empty() && refused {
                return Err(invalid());
            }
            json!(text)
        }
        "dropdown" | "lookup" => {
            return Ok(option_values(def).contains(&text).then(|| json!(text)));
        }
        "multiselect" => {
            let options = option_values(def);
            let chosen: Vec<Value> = value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter(|v| options.contains(&(*v).to_owned()))
                        .map(|v| json!(v))
                        .collect()
                })
                .unwrap_or_default();
            Value::Array(chosen)
        }
        _ if value.is_array() || value.is_object() => return Err(invalid()),
        _ => json!(text),
    };
    Ok(Some(checked))
}

fn option_values(def: &Value) -> Vec<String> {
    def["custom_field_options"]
        .as_array()
        .map(|options| {
            options
                .iter()
                .filter_map(|o| o["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn is_iso_date(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// Tags as Zendesk stores them: lower case, no spaces (a string is split on spaces).
fn normalize_tags(tags: &Value) -> Value {
    let words: Vec<String> = match tags {
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    json!(words.iter().map(|t| t.to_lowercase()).collect::<Vec<_>>())
}

fn str_key<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `2018-11-30T19:28:01Z`, the format of every Zendesk timestamp.
pub fn timestamp(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut store = Store::new("http://127.0.0.1:1");
        let now = SystemTime::now();
        store.add_field(
            &json!({"key": "plan", "type": "dropdown", "title": "Plan",
            "custom_field_options": [{"id": 1, "name": "Gold plan", "value": "gold"}]}),
            now,
        );
        store.add_field(
            &json!({"key": "seats", "type": "integer", "title": "Seats"}),
            now,
        );
        store
    }

    #[test]
    fn regexp_fields_refuse_what_does_not_match() {
        let mut s = store();
        let now = SystemTime::now();
        s.add_field(
            &json!({"key": "code", "type": "regexp", "title": "Code",
                "regexp_for_validation": "\\A[A-Z]{2}\\z"}),
            now,
        );
        let err = s
            .create(&json!({"name": "A", "user_fields": {"code": "abc"}}), now)
            .unwrap_err();
        assert_eq!(err.details, "Code: \"abc\" is invalid");
        let id = s
            .create(&json!({"name": "B", "user_fields": {"code": "AB"}}), now)
            .unwrap();
        assert_eq!(s.user(id).unwrap()["user_fields"]["code"], "AB");
    }

    #[test]
    fn create_needs_a_name_and_a_free_email() {
        let mut s = store();
        let now = SystemTime::now();
        let err = s.create(&json!({"email": "a@x.com"}), now).unwrap_err();
        assert_eq!(err.details, "Name: cannot be blank");
        let id = s
            .create(&json!({"name": "A", "email": "A@x.com"}), now)
            .unwrap();
        let err = s
            .create(&json!({"name": "B", "email": "a@X.com"}), now)
            .unwrap_err();
        assert!(err.details.contains("already being used"), "{err:?}");
        assert_eq!(s.find_by_email("a@x.com").unwrap()["id"], id);
    }

    #[test]
    fn upsert_matches_external_id_case_insensitively_and_keeps_the_case_sent() {
        let mut s = store();
        let now = SystemTime::now();
        let id = s
            .create(&json!({"name": "A", "external_id": "Emp-1"}), now)
            .unwrap();
        let (same, action) = s
            .create_or_update(&json!({"external_id": "EMP-1", "name": "A2"}), now)
            .unwrap();
        assert_eq!((same, action), (id, RowAction::Updated));
        assert_eq!(s.user(id).unwrap()["external_id"], "EMP-1");
        assert_eq!(s.user(id).unwrap()["name"], "A2");
        let (_, action) = s
            .create_or_update(&json!({"name": "N", "email": "n@x.com"}), now)
            .unwrap();
        assert_eq!(action, RowAction::Created);
    }

    #[test]
    fn user_fields_follow_definitions() {
        let mut s = store();
        let now = SystemTime::now();
        let id = s
            .create(&json!({"name": "A", "user_fields": {"plan": "Gold plan", "seats": "12", "nope": 1}}), now)
            .unwrap();
        let user = s.user(id).unwrap();
        assert_eq!(
            user["user_fields"],
            json!({"plan": null, "seats": 12}),
            "the label is not set"
        );
        let err = s
            .create(&json!({"name": "B", "user_fields": {"seats": "many"}}), now)
            .unwrap_err();
        assert!(err.details.starts_with("Seats:"), "{err:?}");
        let id = s
            .create(&json!({"name": "C", "user_fields": {"plan": "gold"}}), now)
            .unwrap();
        assert_eq!(s.user(id).unwrap()["user_fields"]["plan"], "gold");
    }

    #[test]
    fn update_by_external_id_and_organizations_by_name() {
        let mut s = store();
        let now = SystemTime::now();
        let id = s
            .create(&json!({"name": "A", "external_id": "e1"}), now)
            .unwrap();
        s.update(
            &json!({"external_id": "e1", "organization": {"name": "Acme"}, "tags": ["VIP"]}),
            now,
        )
        .unwrap();
        let user = s.user(id).unwrap();
        assert_eq!(
            user["organization_id"],
            json!(s.organization_id("acme").unwrap())
        );
        assert_eq!(user["tags"], json!(["vip"]));
        let err = s.update(&json!({"id": 1, "name": "x"}), now).unwrap_err();
        assert_eq!(err.error, "RecordNotFound");
        let err = s
            .update(&json!({"id": id, "role": "boss"}), now)
            .unwrap_err();
        assert!(err.details.starts_with("Role:"));
    }
}
