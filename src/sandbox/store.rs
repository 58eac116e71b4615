//! The users the sandbox holds, and what create, upsert and update do to them.
//!
//! Rules follow `shared/zendesk/API.md`: email unique across every email identity of every user
//! (compared case-insensitively), external_id unique and matched case-insensitively while the
//! case sent is stored, name required to create, roles `end-user`/`agent`/`admin`, custom fields
//! checked against the definitions (a dropdown label that is not an option's value is not set),
//! and what the [`Rules`] choose where accounts or sources differ.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use super::held::{BLANK, Held, Identity, user_url};

use super::options::{DateFields, EmailOnUpdate, OrganizationByName, UserSettings};
use super::time_zone;

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

/// The choices of [`super::SandboxConfig`] that change what a write does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    pub email_on_update: EmailOnUpdate,
    pub date_fields: DateFields,
    pub organization_by_name: OrganizationByName,
    pub user_settings: UserSettings,
}

/// Keys a bulk body may set that are copied as sent. `iana_time_zone` is read-only: Zendesk
/// ignores it on write.
const PLAIN_KEYS: &[&str] = &[
    "phone",
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

/// Where a body puts its user: an existing organization, or a new one by name.
enum OrganizationTarget {
    Existing(u64),
    New(String),
}

/// Users, their identities, organizations and custom field definitions.
#[derive(Debug)]
pub struct Store {
    base: String,
    rules: Rules,
    /// Each user as what differs from a blank one: a whole JSON object per user took over
    /// a gigabyte for 100,000.
    users: BTreeMap<u64, Held>,
    /// Every identity of each user, in the order added, in Zendesk's identity shape.
    identities: HashMap<u64, Vec<Identity>>,
    /// Every email identity of every user, lower case.
    by_email: HashMap<String, u64>,
    by_external_id: HashMap<String, u64>,
    pub(super) orgs: super::orgs::Organizations,
    pub(super) memberships: super::memberships::Memberships,
    fields: Vec<Value>,
    next_id: u64,
    /// Identities count apart, so that users keep the ids they had before identities existed.
    next_identity_id: u64,
    /// When each user created since [`Store::settle`] was created, for search lag.
    created: HashMap<u64, SystemTime>,
    /// The time of the write under way, for the records it adds.
    now: SystemTime,
    stamp: String,
    /// When each email was added to a user since [`Store::settle`], for search lag.
    emails_added: HashMap<String, SystemTime>,
    welcome_emails: usize,
}

impl Store {
    /// An empty account whose URLs start with `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        Self::with_rules(base, Rules::default())
    }

    pub fn with_rules(base: &str, rules: Rules) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            rules,
            users: BTreeMap::new(),
            identities: HashMap::new(),
            by_email: HashMap::new(),
            by_external_id: HashMap::new(),
            orgs: super::orgs::Organizations::new(base),
            memberships: super::memberships::Memberships::default(),
            fields: Vec::new(),
            next_id: 360_000_000_001,
            next_identity_id: 370_000_000_001,
            created: HashMap::new(),
            now: SystemTime::now(),
            stamp: timestamp(SystemTime::now()),
            emails_added: HashMap::new(),
            welcome_emails: 0,
        }
    }

    pub fn rules(&self) -> Rules {
        self.rules
    }

    pub fn set_rules(&mut self, rules: Rules) {
        self.rules = rules;
    }

    /// Everything held so far counts as indexed for search (seed users existed before).
    pub fn settle(&mut self) {
        self.created.clear();
        self.emails_added.clear();
        self.welcome_emails = 0;
    }

    /// Whether `users/search` finds user `id` at `now`: created before the start, or at least
    /// `lag` ago.
    pub fn searchable(&self, id: u64, now: SystemTime, lag: Duration) -> bool {
        self.created
            .get(&id)
            .is_none_or(|created| *created + lag <= now)
    }

    /// Whether search finds a user by `email` at `now`: the user is searchable and the email
    /// was added before the start or at least `lag` ago.
    pub fn searchable_email(&self, email: &str, now: SystemTime, lag: Duration) -> bool {
        let id = self.by_email.get(&email.to_lowercase());
        let added = self.emails_added.get(&email.to_lowercase());
        id.is_some_and(|id| self.searchable(*id, now, lag))
            && added.is_none_or(|added| *added + lag <= now)
    }

    /// Welcome emails sent to users created since the start (when the setting is on).
    pub fn welcome_emails(&self) -> usize {
        self.welcome_emails
    }

    /// Adds custom field definitions, filling the keys Zendesk always sends.
    pub fn add_field(&mut self, definition: &Value, now: SystemTime) {
        let id = self.take_id();
        let url = format!("{}/api/v2/user_fields/{id}.json", self.base);
        let (position, stamp) = (self.fields.len(), timestamp(now));
        let field = super::orgs::field_definition(definition, (id, url), position, &stamp);
        self.fields.push(field);
    }

    pub fn fields(&self) -> &[Value] {
        &self.fields
    }

    pub fn users(&self) -> impl Iterator<Item = Value> + '_ {
        self.users
            .iter()
            .map(|(id, held)| held.value(*id, &self.base))
    }

    pub fn user(&self, id: u64) -> Option<Value> {
        self.users.get(&id).map(|held| held.value(id, &self.base))
    }

    pub fn has_user(&self, id: u64) -> bool {
        self.users.contains_key(&id)
    }

    /// The user's identities in Zendesk's shape, in the order added.
    pub fn identities(&self, id: u64) -> Vec<Value> {
        self.held_identities(id)
            .iter()
            .map(|i| i.json(&self.base, id))
            .collect()
    }

    fn held_identities(&self, id: u64) -> &[Identity] {
        self.identities.get(&id).map_or(&[], Vec::as_slice)
    }

    /// The user holding this email among any of its email identities.
    pub fn find_by_email(&self, email: &str) -> Option<Value> {
        self.by_email
            .get(&email.to_lowercase())
            .and_then(|id| self.user(*id))
    }

    pub fn find_by_external_id(&self, external_id: &str) -> Option<Value> {
        self.by_external_id
            .get(&external_id.to_lowercase())
            .and_then(|id| self.user(*id))
    }

    pub fn organization_id(&self, name: &str) -> Option<u64> {
        self.orgs.id_by_name(name)
    }

    /// The organization of this name (any case): its id and its name as stored.
    pub fn organization<'a>(&'a self, name: &'a str) -> Option<(u64, &'a str)> {
        let id = self.organization_id(name)?;
        let stored = self
            .orgs
            .get(id)
            .and_then(|o| o["name"].as_str())
            .unwrap_or(name);
        Some((id, stored))
    }

    /// Every organization as Zendesk answers it, by id.
    pub fn organizations_json(&self) -> Vec<Value> {
        self.orgs.all().cloned().collect()
    }

    /// One organization as Zendesk answers it (`GET /api/v2/organizations/{id}`).
    pub fn organization_json(&self, id: u64) -> Option<Value> {
        self.orgs.get(id).cloned()
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
        self.now = now;
        self.stamp = timestamp(now);
        let mut user = self.blank_user(id, now);
        self.apply(&mut user, id, body, true).map_err(fail)?;
        let has_email = user["email"].is_string();
        self.insert(id, user);
        self.created.insert(id, now);
        let skip = body.get("skip_verify_email") == Some(&json!(true));
        if self.rules.user_settings.agent_created_welcome_emails && !skip {
            self.welcome_emails += usize::from(has_email);
        }
        Ok(id)
    }

    /// `create_or_update_many`: matched by external_id, then email (any email identity);
    /// created when neither matches.
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
        let Some(mut user) = self.user(id) else {
            return Err(RowError {
                error: "RecordNotFound",
                details: "Not found".into(),
            });
        };
        self.now = now;
        self.stamp = timestamp(now);
        self.apply(&mut user, id, body, false).map_err(fail)?;
        user["updated_at"] = json!(timestamp(now));
        self.unindex(id);
        self.insert(id, user);
        Ok(id)
    }

    /// `PUT /api/v2/users/{id}/identities/{identity_id}/make_primary`: the identity becomes
    /// its user's primary of its type (an email one becomes the user's `email`); the user's
    /// identities after the change, or `None` when either is unknown.
    pub fn make_primary(
        &mut self,
        user_id: u64,
        identity_id: u64,
        now: SystemTime,
    ) -> Option<Vec<Value>> {
        let stamp = timestamp(now);
        let list = self.identities.get_mut(&user_id)?;
        let chosen = list.iter().find(|i| i.id == identity_id)?.clone();
        for identity in list.iter_mut().filter(|i| i.kind == chosen.kind) {
            let primary = identity.id == identity_id;
            if identity.primary != primary {
                identity.primary = primary;
                identity.updated_at = stamp.as_str().into();
            }
        }
        let list = self.identities(user_id);
        if &*chosen.kind == "email"
            && let Some(mut user) = self.user(user_id)
        {
            user["email"] = json!(chosen.value);
            user["updated_at"] = json!(stamp);
            self.users
                .insert(user_id, Held::new(user, user_id, &self.base));
        }
        Some(list)
    }

    /// Copies what a body sets onto `user`, checking every rule before changing anything.
    fn apply(
        &mut self,
        user: &mut Value,
        id: u64,
        body: &Map<String, Value>,
        creating: bool,
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
        let zone = match body.get("time_zone") {
            Some(Value::String(zone)) => Some(time_zone::resolve(zone)?),
            _ => None,
        };
        self.check_phone(body.get("phone"))?;
        for key in ["name", "external_id"].iter().chain(PLAIN_KEYS) {
            if let Some(value) = body.get(*key) {
                user[*key] = value.clone();
            }
        }
        if let Some((rails, iana)) = zone {
            user["time_zone"] = json!(rails);
            user["iana_time_zone"] = json!(iana);
        }
        if let Some(role) = role {
            user["role"] = json!(role);
        }
        // Without user tagging, Zendesk has no tags on users and drops them silently.
        if let Some(tags) = body
            .get("tags")
            .filter(|_| self.rules.user_settings.tagging)
        {
            user["tags"] = normalize_tags(tags);
        }
        match organization {
            Some(OrganizationTarget::Existing(org)) => user["organization_id"] = json!(org),
            Some(OrganizationTarget::New(name)) => {
                user["organization_id"] = json!(self.organization_or_create(&name));
            }
            None => {}
        }
        for (key, value) in fields {
            user["user_fields"][key] = value;
        }
        if let Some(email) = body.get("email").and_then(Value::as_str) {
            self.apply_email(user, id, email, creating);
        }
        self.apply_identities(user, id, body);
        Ok(())
    }

    /// The body's email and email identities must not belong to another user.
    fn check_unique(&self, id: u64, body: &Map<String, Value>) -> Result<(), String> {
        let identity_emails = body
            .get("identities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|i| i["type"] == "email")
            .filter_map(|i| i["value"].as_str());
        let emails = body
            .get("email")
            .and_then(Value::as_str)
            .into_iter()
            .chain(identity_emails);
        for email in emails {
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

    /// With phone number validation on, a phone must be E.164 (`+15551234567`).
    fn check_phone(&self, phone: Option<&Value>) -> Result<(), String> {
        let Some(phone) = phone.and_then(Value::as_str).filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        if self.rules.user_settings.end_user_phone_number_validation && !is_e164(phone) {
            // The text of Zendesk's answer to a phone it refuses.
            return Err(format!("Phone {phone} is not properly formatted"));
        }
        Ok(())
    }

    /// `organization: {"name": …}` (as [`Rules::organization_by_name`] says) or an existing
    /// `organization_id`.
    fn organization_for(
        &self,
        by_name: Option<&Value>,
        by_id: Option<&Value>,
    ) -> Result<Option<OrganizationTarget>, String> {
        let mode = self.rules.organization_by_name;
        if let Some(org) = by_name.filter(|_| mode != OrganizationByName::Ignore) {
            let name = match org.get("name").and_then(Value::as_str) {
                Some(name) if !name.trim().is_empty() => name.trim(),
                _ => return Err("Organization: name cannot be blank".into()),
            };
            return match (self.organization_id(name), mode) {
                (Some(id), _) => Ok(Some(OrganizationTarget::Existing(id))),
                (None, OrganizationByName::Create) => {
                    Ok(Some(OrganizationTarget::New(name.to_owned())))
                }
                (None, _) => Err(format!("Organization: {name} does not exist")),
            };
        }
        match by_id {
            None | Some(Value::Null) => Ok(None),
            Some(id) => id
                .as_u64()
                .filter(|id| self.orgs.contains(*id))
                .map(|id| Some(OrganizationTarget::Existing(id)))
                .ok_or_else(|| format!("Organization: {id} is invalid")),
        }
    }

    /// An organization by name, created when new; its id.
    pub fn add_organization(&mut self, name: &str) -> u64 {
        self.organization_or_create(name.trim())
    }

    fn organization_or_create(&mut self, name: &str) -> u64 {
        match self.orgs.id_by_name(name) {
            Some(id) => id,
            None => {
                let id = self.take_id();
                self.orgs.named(id, name, &self.stamp)
            }
        }
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
            if let Some(value) = check_field_value(def, value, self.rules.date_fields)? {
                out.push((key.clone(), value));
            }
        }
        Ok(out)
    }

    /// `email` on create, or on a user without one, is the primary email; on an existing
    /// user it adds a secondary identity (or replaces the primary, the old sandbox rule).
    fn apply_email(&mut self, user: &mut Value, id: u64, email: &str, creating: bool) {
        let held = self
            .held_identities(id)
            .iter()
            .any(|i| i.is("email", email));
        if creating || user["email"].is_null() {
            user["email"] = json!(email);
            if !held {
                self.add_identity(id, "email", email, true, user["verified"] == true);
            }
            return;
        }
        if held {
            return;
        }
        match self.rules.email_on_update {
            EmailOnUpdate::AddSecondary => {
                self.add_identity(id, "email", email, false, false);
            }
            EmailOnUpdate::ReplacePrimary => {
                let old = user["email"].as_str().unwrap_or("").to_lowercase();
                self.by_email.remove(&old);
                let stamp = self.stamp.clone();
                if let Some(primary) = self
                    .identities
                    .entry(id)
                    .or_default()
                    .iter_mut()
                    .find(|i| &*i.kind == "email" && i.primary)
                {
                    primary.value = email.into();
                    primary.updated_at = stamp.into();
                }
                self.by_email.insert(email.to_lowercase(), id);
                self.emails_added.insert(email.to_lowercase(), self.now);
                user["email"] = json!(email);
            }
        }
    }

    /// `identities: [{"type","value"}]` of a body; the first email one is the primary email of
    /// a user that has none.
    fn apply_identities(&mut self, user: &mut Value, id: u64, body: &Map<String, Value>) {
        let Some(list) = body.get("identities").and_then(Value::as_array) else {
            return;
        };
        for identity in list {
            let (Some(kind), Some(value)) = (identity["type"].as_str(), identity["value"].as_str())
            else {
                continue;
            };
            let held = self.held_identities(id).iter().any(|i| i.is(kind, value));
            if held {
                continue;
            }
            let primary = kind == "email" && user["email"].is_null();
            if primary {
                user["email"] = json!(value);
            }
            let first_of_kind = !self.held_identities(id).iter().any(|i| &*i.kind == kind);
            self.add_identity(id, kind, value, primary || first_of_kind, false);
        }
    }

    /// An identity in Zendesk's shape (user identities API, JSON format).
    fn add_identity(
        &mut self,
        user_id: u64,
        kind: &str,
        value: &str,
        primary: bool,
        verified: bool,
    ) {
        let id = self.next_identity_id;
        self.next_identity_id += 1;
        let identity = Identity {
            id,
            kind: kind.into(),
            value: value.into(),
            verified,
            primary,
            created_at: self.stamp.as_str().into(),
            updated_at: self.stamp.as_str().into(),
        };
        if kind == "email" {
            self.by_email.insert(value.to_lowercase(), user_id);
            self.emails_added.insert(value.to_lowercase(), self.now);
        }
        self.identities.entry(user_id).or_default().push(identity);
    }

    fn insert(&mut self, id: u64, user: Value) {
        if let Some(external) = user["external_id"].as_str() {
            self.by_external_id.insert(external.to_lowercase(), id);
        }
        self.users.insert(id, Held::new(user, id, &self.base));
    }

    /// Forgets the user's current external_id before it changes.
    fn unindex(&mut self, id: u64) {
        let Some(user) = self.users.get(&id) else {
            return;
        };
        if let Some(external) = user.get("external_id").and_then(Value::as_str) {
            self.by_external_id.remove(&external.to_lowercase());
        }
    }

    pub(super) fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Every key of a real user answer (`fixtures/zendesk/user_show.json`), in its order.
    fn blank_user(&self, id: u64, now: SystemTime) -> Value {
        let stamp = timestamp(now);
        let mut user: Map<String, Value> = BLANK
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect();
        user["id"] = json!(id);
        user["url"] = json!(user_url(&self.base, id));
        user["created_at"] = json!(stamp);
        user["updated_at"] = json!(stamp);
        // Zendesk lists every custom field in each user, null when unset.
        user["user_fields"] = self
            .fields
            .iter()
            .filter_map(|f| f["key"].as_str().map(|k| (k.to_owned(), Value::Null)))
            .collect();
        Value::Object(user)
    }
}

/// `+` and 2 to 15 digits, the first not 0.
fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// One custom field value checked against its definition: `Ok(None)` means "not set" (a
/// dropdown label instead of a value is dropped silently, as Zendesk does).
pub(super) fn check_field_value(
    def: &Value,
    value: &Value,
    dates: DateFields,
) -> Result<Option<Value>, String> {
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
        "date" => json!(stored_date(&text, dates).ok_or_else(invalid)?),
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

/// A date sent as `2027-01-01` (or as the date-time Zendesk reads back), as Zendesk stores
/// it: a date-time at midnight UTC, unless the sandbox is told to keep it as sent.
fn stored_date(text: &str, dates: DateFields) -> Option<String> {
    let text = text.trim();
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|d| d.date_naive())
        })?;
    let day = date.format("%Y-%m-%d");
    Some(match dates {
        DateFields::DateTimeOffset => format!("{day}T00:00:00+00:00"),
        DateFields::DateTimeZulu => format!("{day}T00:00:00Z"),
        DateFields::AsSent => text.to_owned(),
    })
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
pub(super) fn normalize_tags(tags: &Value) -> Value {
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

    fn store_with(rules: Rules) -> Store {
        let mut s = store();
        s.set_rules(rules);
        s
    }

    #[test]
    fn update_by_external_id_and_organizations_by_name() {
        let mut s = store_with(Rules {
            organization_by_name: OrganizationByName::Create,
            ..Rules::default()
        });
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

    #[test]
    fn organizations_by_name_are_ignored_or_refused_by_choice() {
        let now = SystemTime::now();
        let mut s = store();
        let id = s
            .create(&json!({"name": "A", "organization": {"name": "Acme"}}), now)
            .unwrap();
        assert!(s.user(id).unwrap()["organization_id"].is_null());
        assert_eq!(s.organization_id("acme"), None, "ignored: nothing created");
        let mut s = store_with(Rules {
            organization_by_name: OrganizationByName::Refuse,
            ..Rules::default()
        });
        let err = s
            .create(&json!({"name": "A", "organization": {"name": "Acme"}}), now)
            .unwrap_err();
        assert_eq!(err.details, "Organization: Acme does not exist");
        let acme = s.add_organization("Acme");
        let id = s
            .create(&json!({"name": "B", "organization": {"name": "ACME"}}), now)
            .unwrap();
        assert_eq!(s.user(id).unwrap()["organization_id"], acme);
    }

    /// A user created with a@x.com, then sent a2@x.com by an update.
    fn email_changed(rules: Rules) -> (Store, u64) {
        let now = SystemTime::now();
        let mut s = store_with(rules);
        let user = json!({"name": "A", "email": "a@x.com", "external_id": "e1"});
        let id = s.create(&user, now).unwrap();
        s.update(&json!({"external_id": "e1", "email": "a2@x.com"}), now)
            .unwrap();
        (s, id)
    }

    #[test]
    fn an_email_sent_on_update_is_a_secondary_identity_and_unique_everywhere() {
        let now = SystemTime::now();
        let (mut s, id) = email_changed(Rules::default());
        assert_eq!(s.user(id).unwrap()["email"], "a@x.com", "the primary stays");
        let emails: Vec<(Value, Value)> = s
            .identities(id)
            .iter()
            .map(|i| (i["value"].clone(), i["primary"].clone()))
            .collect();
        assert_eq!(
            emails,
            [
                (json!("a@x.com"), json!(true)),
                (json!("a2@x.com"), json!(false))
            ]
        );
        let err = s
            .create(&json!({"name": "B", "email": "A2@x.com"}), now)
            .unwrap_err();
        assert!(err.details.contains("already being used"), "{err:?}");
        assert_eq!(s.find_by_email("a2@x.com").unwrap()["id"], id);
        let second = s.identities(id)[1]["id"].as_u64().unwrap();
        let after = s.make_primary(id, second, now).unwrap();
        assert_eq!(after[1]["primary"], true);
        assert_eq!(after[0]["primary"], false);
        assert_eq!(s.user(id).unwrap()["email"], "a2@x.com");
        assert!(s.make_primary(id, 1, now).is_none());

        let (s, id) = email_changed(Rules {
            email_on_update: EmailOnUpdate::ReplacePrimary,
            ..Rules::default()
        });
        assert_eq!(s.user(id).unwrap()["email"], "a2@x.com");
        assert!(s.find_by_email("a@x.com").is_none());
        assert_eq!(s.identities(id).len(), 1);
    }

    #[test]
    fn dates_time_zones_tags_and_phones_are_stored_as_zendesk_does() {
        let now = SystemTime::now();
        let mut s = store();
        s.add_field(
            &json!({"key": "start", "type": "date", "title": "Start"}),
            now,
        );
        let id = s
            .create(
                &json!({"name": "A", "user_fields": {"start": "2027-01-01"},
                    "time_zone": "Europe/Berlin", "iana_time_zone": "Asia/Tokyo",
                    "tags": ["VIP"], "phone": "555 1234"}),
                now,
            )
            .unwrap();
        let user = s.user(id).unwrap();
        assert_eq!(user["user_fields"]["start"], "2027-01-01T00:00:00+00:00");
        assert_eq!(user["time_zone"], "Berlin");
        assert_eq!(
            user["iana_time_zone"], "Europe/Berlin",
            "iana_time_zone is read-only"
        );
        assert_eq!(user["tags"], json!(["vip"]));
        assert_eq!(
            user["phone"], "555 1234",
            "stored as sent without validation"
        );

        let mut s = store_with(Rules {
            date_fields: DateFields::DateTimeZulu,
            user_settings: UserSettings {
                tagging: false,
                end_user_phone_number_validation: true,
                ..UserSettings::default()
            },
            ..Rules::default()
        });
        s.add_field(
            &json!({"key": "start", "type": "date", "title": "Start"}),
            now,
        );
        let err = s
            .create(&json!({"name": "A", "phone": "555 1234"}), now)
            .unwrap_err();
        assert_eq!(err.details, "Phone 555 1234 is not properly formatted");
        let id = s
            .create(
                &json!({"name": "B", "phone": "+15551234567", "tags": ["vip"],
                    "user_fields": {"start": "2027-01-01T00:00:00+00:00"}}),
                now,
            )
            .unwrap();
        let user = s.user(id).unwrap();
        assert_eq!(user["tags"], json!([]), "no user tagging: tags ignored");
        assert_eq!(user["user_fields"]["start"], "2027-01-01T00:00:00Z");
    }
}
