//! The organizations the sandbox holds, their custom fields, and the organization endpoints.
//!
//! Rules follow Zendesk's organizations API (`shared/zendesk/API.md`): a name is required and
//! unique ignoring case and surrounding spaces, an external_id is unique (matched ignoring
//! case, as users' are), tags are stored lower case, `organization_fields` keys without a
//! definition are ignored and values are checked as user fields are. `organizations/create_many`
//! takes at most 100 and runs as a job whose results have the users' jobs' shapes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

use super::Shared;
use super::jobs::BulkKind;
use super::options::DateFields;
use super::routes::{
    JobFate, json_answer, list_answer, page_answer, split_list, start_job, too_many_values,
};
use super::store::{RowError, Store, check_field_value, normalize_tags, timestamp};
use crate::zendesk::MAX_USERS_PER_CALL;

/// Keys of an organization copied as sent.
const PLAIN_KEYS: &[&str] = &[
    "details",
    "notes",
    "group_id",
    "shared_tickets",
    "shared_comments",
];

/// Organizations by id, with their name and external_id indexes, and the account's custom
/// organization field definitions.
#[derive(Debug)]
pub struct Organizations {
    base: String,
    records: BTreeMap<u64, Value>,
    /// Names trimmed and lower case.
    by_name: HashMap<String, u64>,
    /// External ids lower case.
    by_external_id: HashMap<String, u64>,
    fields: Vec<Value>,
}

/// How Zendesk compares organization names: ignoring case and surrounding spaces.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Organizations {
    /// None yet; URLs start with `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            records: BTreeMap::new(),
            by_name: HashMap::new(),
            by_external_id: HashMap::new(),
            fields: Vec::new(),
        }
    }

    pub fn id_by_name(&self, name: &str) -> Option<u64> {
        self.by_name.get(&name_key(name)).copied()
    }

    pub fn id_by_external_id(&self, external_id: &str) -> Option<u64> {
        self.by_external_id
            .get(&external_id.to_lowercase())
            .copied()
    }

    pub fn contains(&self, id: u64) -> bool {
        self.records.contains_key(&id)
    }

    /// One organization as Zendesk answers it (`GET /api/v2/organizations/{id}`).
    pub fn get(&self, id: u64) -> Option<&Value> {
        self.records.get(&id)
    }

    /// Every organization, by id.
    pub fn all(&self) -> impl Iterator<Item = &Value> {
        self.records.values()
    }

    pub fn fields(&self) -> &[Value] {
        &self.fields
    }

    /// Adds a custom organization field definition, filling the keys Zendesk always sends.
    pub fn add_field(&mut self, id: u64, definition: &Value, stamp: &str) {
        let url = format!("{}/api/v2/organization_fields/{id}.json", self.base);
        let field = field_definition(definition, (id, url), self.fields.len(), stamp);
        self.fields.push(field);
    }

    /// A new organization `id` from a create body, refused when its name or external_id is
    /// taken or a field value is invalid.
    pub fn create(
        &mut self,
        id: u64,
        body: &Value,
        stamp: &str,
        dates: DateFields,
    ) -> Result<(), RowError> {
        let fail = |details: String| RowError {
            error: "OrganizationCreateFailed",
            details,
        };
        let body = body
            .as_object()
            .ok_or_else(|| fail("Organization: is not an object".into()))?;
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if name.is_empty() {
            return Err(fail("Name: cannot be blank".into()));
        }
        if self.id_by_name(name).is_some() {
            // The recorded refusal has two spaces after "Name:".
            return Err(fail(format!("Name:  {name} has already been taken")));
        }
        let external = body.get("external_id").and_then(Value::as_str);
        if let Some(external) = external.filter(|x| self.id_by_external_id(x).is_some()) {
            return Err(fail(format!(
                "External ID: {external} has already been taken"
            )));
        }
        let fields = self.checked_fields(body.get("organization_fields"), dates)?;
        let mut org = self.blank(id, name, stamp);
        for key in PLAIN_KEYS {
            if let Some(value) = body.get(*key) {
                org[*key] = value.clone();
            }
        }
        if let Some(external) = external {
            org["external_id"] = json!(external);
        }
        if let Some(tags) = body.get("tags") {
            org["tags"] = normalize_tags(tags);
        }
        if let Some(domains) = body.get("domain_names") {
            org["domain_names"] = domain_names(domains);
        }
        for (key, value) in fields {
            org["organization_fields"][key] = value;
        }
        self.insert(id, org);
        Ok(())
    }

    /// `organizations/update_many`: the organization `body` names by `id` (or `external_id`)
    /// takes the keys sent; a name or external_id another organization holds is refused, as
    /// is a field value its type refuses. Keys not sent are kept.
    pub fn update(
        &mut self,
        body: &Value,
        stamp: &str,
        dates: DateFields,
    ) -> Result<u64, RowError> {
        let fail = |details: String| RowError {
            error: "OrganizationUpdateFailed",
            details,
        };
        let body = body
            .as_object()
            .ok_or_else(|| fail("Organization: is not an object".into()))?;
        let id = body.get("id").and_then(Value::as_u64).or_else(|| {
            body.get("external_id")
                .and_then(Value::as_str)
                .and_then(|x| self.id_by_external_id(x))
        });
        let Some(id) = id.filter(|id| self.records.contains_key(id)) else {
            return Err(RowError {
                error: "RecordNotFound",
                details: "Not found".into(),
            });
        };
        let name = body.get("name").and_then(Value::as_str).map(str::trim);
        if name.is_some_and(str::is_empty) {
            return Err(fail("Name: cannot be blank".into()));
        }
        if let Some(name) = name.filter(|n| self.id_by_name(n).is_some_and(|other| other != id)) {
            return Err(fail(format!("Name:  {name} has already been taken")));
        }
        let external = body.get("external_id").and_then(Value::as_str);
        if let Some(external) =
            external.filter(|x| self.id_by_external_id(x).is_some_and(|other| other != id))
        {
            return Err(fail(format!(
                "External ID: {external} has already been taken"
            )));
        }
        let fields = self
            .checked_fields(body.get("organization_fields"), dates)
            .map_err(|e| fail(e.details))?;
        let Some(mut org) = self.records.remove(&id) else {
            return Err(fail("Not found".into()));
        };
        if let Some(old) = org["name"].as_str() {
            self.by_name.remove(&name_key(old));
        }
        if let Some(old) = org["external_id"].as_str() {
            self.by_external_id.remove(&old.to_lowercase());
        }
        if let Some(name) = name {
            org["name"] = json!(name);
        }
        for key in PLAIN_KEYS {
            if let Some(value) = body.get(*key) {
                org[*key] = value.clone();
            }
        }
        if let Some(external) = body.get("external_id") {
            org["external_id"] = external.clone();
        }
        if let Some(tags) = body.get("tags") {
            org["tags"] = normalize_tags(tags);
        }
        if let Some(domains) = body.get("domain_names") {
            org["domain_names"] = domain_names(domains);
        }
        for (key, value) in fields {
            org["organization_fields"][key] = value;
        }
        org["updated_at"] = json!(stamp);
        self.insert(id, org);
        Ok(id)
    }

    /// An organization by name only (seeds, and users' `organization: {"name"}` when the
    /// sandbox creates them): the existing one's id, or `id` for a new one.
    pub fn named(&mut self, id: u64, name: &str, stamp: &str) -> u64 {
        if let Some(existing) = self.id_by_name(name) {
            return existing;
        }
        let org = self.blank(id, name.trim(), stamp);
        self.insert(id, org);
        id
    }

    fn insert(&mut self, id: u64, org: Value) {
        if let Some(name) = org["name"].as_str() {
            self.by_name.insert(name_key(name), id);
        }
        if let Some(external) = org["external_id"].as_str() {
            self.by_external_id.insert(external.to_lowercase(), id);
        }
        self.records.insert(id, org);
    }

    /// The values to store for `organization_fields`: keys with no definition are ignored, as
    /// Zendesk does; a value its type refuses fails the organization.
    fn checked_fields(
        &self,
        sent: Option<&Value>,
        dates: DateFields,
    ) -> Result<Vec<(String, Value)>, RowError> {
        let Some(sent) = sent.and_then(Value::as_object) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (key, value) in sent {
            let Some(def) = self.fields.iter().find(|f| f["key"] == *key) else {
                continue;
            };
            let checked = check_field_value(def, value, dates).map_err(|details| RowError {
                error: "OrganizationCreateFailed",
                details,
            })?;
            if let Some(value) = checked {
                out.push((key.clone(), value));
            }
        }
        Ok(out)
    }

    /// Every key of an organization answer, in Zendesk's order; every custom field null.
    fn blank(&self, id: u64, name: &str, stamp: &str) -> Value {
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .filter_map(|f| f["key"].as_str().map(|k| (k.to_owned(), Value::Null)))
            .collect();
        json!({
            "url": format!("{}/api/v2/organizations/{id}.json", self.base),
            "id": id,
            "name": name,
            "shared_tickets": false,
            "shared_comments": false,
            "external_id": null,
            "created_at": stamp,
            "updated_at": stamp,
            "domain_names": [],
            "details": null,
            "notes": null,
            "group_id": null,
            "tags": [],
            "organization_fields": fields
        })
    }
}

/// A custom field definition, user or organization field (they have the same keys), with the
/// keys Zendesk always sends filled in where `definition` leaves them out.
pub(super) fn field_definition(
    definition: &Value,
    (id, url): (u64, String),
    position: usize,
    stamp: &str,
) -> Value {
    let mut field = definition.as_object().cloned().unwrap_or_default();
    let title = field.get("title").cloned().unwrap_or(Value::Null);
    let defaults = [
        ("url", json!(url)),
        ("id", json!(id)),
        ("type", json!("text")),
        ("key", json!(format!("field_{id}"))),
        ("title", title.clone()),
        ("raw_title", title),
        ("description", json!("")),
        ("raw_description", json!("")),
        ("position", json!(position)),
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
    Value::Object(full)
}

/// `domain_names` as a list of strings (a string is split on spaces and commas).
fn domain_names(sent: &Value) -> Value {
    let names: Vec<String> = match sent {
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|d| d.trim().to_lowercase())
            .filter(|d| !d.is_empty())
            .collect(),
        Value::String(text) => text
            .split([' ', ','])
            .filter(|d| !d.is_empty())
            .map(str::to_lowercase)
            .collect(),
        _ => Vec::new(),
    };
    json!(names)
}

impl Store {
    /// `organizations/create_many`: one organization, refused when its name or external_id is
    /// taken. Ids are not reused even when it fails, as in Zendesk.
    pub fn create_organization(&mut self, body: &Value, now: SystemTime) -> Result<u64, RowError> {
        let id = self.take_id();
        let dates = self.rules().date_fields;
        self.orgs.create(id, body, &timestamp(now), dates)?;
        Ok(id)
    }

    /// `organizations/update_many`: one organization by id, refused when it does not exist or
    /// a name or external_id it takes is another's.
    pub fn update_organization(&mut self, body: &Value, now: SystemTime) -> Result<u64, RowError> {
        let dates = self.rules().date_fields;
        self.orgs.update(body, &timestamp(now), dates)
    }

    /// A custom organization field definition (seed).
    pub fn add_organization_field(&mut self, definition: &Value, now: SystemTime) {
        let id = self.take_id();
        self.orgs.add_field(id, definition, &timestamp(now));
    }
}

/// The organization endpoints, merged into the sandbox's router (behind its gate).
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v2/organizations.json", get(list))
        .route("/api/v2/organizations/show_many.json", get(show_many))
        .route("/api/v2/organizations/autocomplete.json", get(autocomplete))
        .route("/api/v2/organizations/search.json", get(search))
        .route("/api/v2/organizations/create_many.json", post(create_many))
        .route("/api/v2/organizations/update_many.json", put(update_many))
        .route("/api/v2/organization_fields.json", get(fields_list))
}

type Params = Query<HashMap<String, String>>;

/// Every organization, 100 a page: offset pages (`?page=N`) or cursor pages (`page[size]`,
/// `page[after]`), as Zendesk offers both on lists.
async fn list(State(shared): State<Arc<Shared>>, Query(query): Params) -> Response {
    let all: Vec<Value> = shared.state().store.orgs.all().cloned().collect();
    let path = "/api/v2/organizations.json";
    if query.keys().any(|k| k.starts_with("page[")) {
        return cursor_page(&shared, path, "organizations", &all, &query);
    }
    page_answer(&shared, path, "organizations", &all, &query)
}

/// Cursor pagination: `page[size]` (at most 100) items after the cursor `page[after]`, with
/// `meta.has_more`, `meta.after_cursor` and `links.next`. The cursor is the position, encoded
/// so that a client cannot mistake it for one.
fn cursor_page(
    shared: &Shared,
    path: &str,
    key: &str,
    items: &[Value],
    query: &HashMap<String, String>,
) -> Response {
    let size = query
        .get("page[size]")
        .and_then(|p| p.parse::<usize>().ok())
        .map_or(100, |p| p.clamp(1, 100));
    let start = query
        .get("page[after]")
        .and_then(|c| c.strip_prefix("c"))
        .and_then(|c| usize::from_str_radix(c, 16).ok())
        .unwrap_or(0)
        .min(items.len());
    let end = (start + size).min(items.len());
    let more = end < items.len();
    let after = format!("c{end:x}");
    let next = format!(
        "{}{path}?page%5Bsize%5D={size}&page%5Bafter%5D={after}",
        shared.base
    );
    json_answer(
        StatusCode::OK,
        json!({
            key: &items[start..end],
            "meta": {"has_more": more, "after_cursor": after, "before_cursor": format!("c{start:x}")},
            "links": {"next": if more { json!(next) } else { Value::Null }, "prev": Value::Null}
        }),
    )
}

/// `ids=1,2` or `external_ids=a,b` (at most 100), in the order asked; unknown ones left out.
async fn show_many(State(shared): State<Arc<Shared>>, Query(query): Params) -> Response {
    let ids = split_list(query.get("ids"));
    let external_ids = split_list(query.get("external_ids"));
    if let Some(refusal) = too_many_values(ids.len().max(external_ids.len())) {
        return refusal;
    }
    let state = shared.state();
    let orgs = &state.store.orgs;
    let by_id = ids.iter().filter_map(|id| id.parse().ok());
    let by_external = external_ids
        .iter()
        .filter_map(|x| orgs.id_by_external_id(x));
    let found: Vec<Value> = by_id
        .chain(by_external)
        .filter_map(|id| orgs.get(id).cloned())
        .collect();
    list_answer("organizations", found)
}

/// `name=x` (exact, ignoring case and surrounding spaces) or `external_id=x`.
async fn search(State(shared): State<Arc<Shared>>, Query(query): Params) -> Response {
    let state = shared.state();
    let orgs = &state.store.orgs;
    let id = match (query.get("external_id"), query.get("name")) {
        (Some(external), _) => orgs.id_by_external_id(external.trim()),
        (None, Some(name)) => orgs.id_by_name(name),
        (None, None) => {
            return json_answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "InvalidValue", "description": "name or external_id is required"}),
            );
        }
    };
    let found: Vec<Value> = id
        .and_then(|id| orgs.get(id))
        .cloned()
        .into_iter()
        .collect();
    list_answer("organizations", found)
}

/// `name=x`: organizations whose name starts with x, ignoring case (Zendesk needs 2
/// characters at least).
async fn autocomplete(State(shared): State<Arc<Shared>>, Query(query): Params) -> Response {
    let prefix = query
        .get("name")
        .map_or("", String::as_str)
        .trim()
        .to_lowercase();
    if prefix.chars().count() < 2 {
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "InvalidValue", "description": "name: too short"}),
        );
    }
    let state = shared.state();
    let found: Vec<Value> = state
        .store
        .orgs
        .all()
        .filter(|o| {
            o["name"]
                .as_str()
                .is_some_and(|n| n.to_lowercase().starts_with(&prefix))
        })
        .cloned()
        .collect();
    drop(state);
    list_answer("organizations", found)
}

async fn fields_list(State(shared): State<Arc<Shared>>, Query(query): Params) -> Response {
    let fields = shared.state().store.orgs.fields().to_vec();
    let path = "/api/v2/organization_fields.json";
    page_answer(&shared, path, "organization_fields", &fields, &query)
}

/// `{"organizations": [...]}`, at most 100: a job, as the users' bulk calls.
async fn create_many(
    State(shared): State<Arc<Shared>>,
    Extension(fate): Extension<JobFate>,
    body: Bytes,
) -> Response {
    bulk(&shared, BulkKind::OrganizationsCreateMany, fate, &body)
}

/// `{"organizations": [{"id", ...}]}`, at most 100: a job whose results are `update_many`'s.
async fn update_many(
    State(shared): State<Arc<Shared>>,
    Extension(fate): Extension<JobFate>,
    body: Bytes,
) -> Response {
    bulk(&shared, BulkKind::OrganizationsUpdateMany, fate, &body)
}

fn bulk(shared: &Arc<Shared>, kind: BulkKind, fate: JobFate, body: &Bytes) -> Response {
    let verb = if kind == BulkKind::OrganizationsUpdateMany {
        "updated"
    } else {
        "created"
    };
    if !shared.config.bulk_import_enabled {
        return json_answer(
            StatusCode::FORBIDDEN,
            json!({"error": "Forbidden", "message": "Data imports are not enabled"}),
        );
    }
    let parsed: Option<Vec<Value>> = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("organizations").and_then(Value::as_array).cloned());
    let Some(orgs) = parsed else {
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "InvalidValue",
                "description": "organizations must be an array of organization objects"}),
        );
    };
    if orgs.len() > MAX_USERS_PER_CALL {
        let description =
            format!("Maximum {MAX_USERS_PER_CALL} organizations may be {verb} per call");
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "TooManyValues", "description": description}),
        );
    }
    start_job(shared, kind, fate, orgs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs() -> Organizations {
        let mut orgs = Organizations::new("http://127.0.0.1:1");
        orgs.add_field(
            1,
            &json!({"key": "tier", "type": "dropdown", "title": "Tier",
                "custom_field_options": [{"id": 1, "name": "Gold", "value": "gold"}]}),
            "2027-01-01T00:00:00Z",
        );
        orgs.add_field(
            2,
            &json!({"key": "seats", "type": "integer", "title": "Seats"}),
            "2027-01-01T00:00:00Z",
        );
        orgs
    }

    fn create(orgs: &mut Organizations, id: u64, body: Value) -> Result<(), RowError> {
        orgs.create(id, &body, "2027-01-01T00:00:00Z", DateFields::default())
    }

    #[test]
    fn names_are_unique_ignoring_case_and_spaces() {
        let mut orgs = orgs();
        create(&mut orgs, 10, json!({"name": " Acme Corp "})).unwrap();
        assert_eq!(orgs.get(10).unwrap()["name"], "Acme Corp", "stored trimmed");
        assert_eq!(orgs.id_by_name("ACME CORP"), Some(10));
        assert_eq!(
            orgs.id_by_name("Acme Corp."),
            None,
            "a near-miss is another name"
        );
        let err = create(&mut orgs, 11, json!({"name": "acme corp  "})).unwrap_err();
        assert_eq!(err.error, "OrganizationCreateFailed");
        assert_eq!(err.details, "Name:  acme corp has already been taken");
        let err = create(&mut orgs, 12, json!({"name": "  "})).unwrap_err();
        assert_eq!(err.details, "Name: cannot be blank");
        assert_eq!(
            orgs.named(13, "acme CORP", "t"),
            10,
            "by name: the existing one"
        );
        assert_eq!(orgs.named(14, "Globex", "t"), 14);
    }

    #[test]
    fn external_ids_are_unique_and_keys_stored_as_zendesk_does() {
        let mut orgs = orgs();
        let body = json!({"name": "Acme", "external_id": "ORG-1", "tags": ["VIP", "west"],
            "domain_names": ["Acme.com", "acme.org"], "details": "HQ", "notes": "n",
            "organization_fields": {"tier": "Gold", "seats": "12", "unknown": 1},
            "shared_tickets": true});
        create(&mut orgs, 10, body).unwrap();
        let org = orgs.get(10).unwrap();
        assert_eq!(org["tags"], json!(["vip", "west"]));
        assert_eq!(org["domain_names"], json!(["acme.com", "acme.org"]));
        assert_eq!(
            org["organization_fields"],
            json!({"tier": null, "seats": 12}),
            "a label is not a dropdown value; unknown keys ignored"
        );
        assert_eq!(
            (&org["details"], &org["shared_tickets"]),
            (&json!("HQ"), &json!(true))
        );
        assert_eq!(orgs.id_by_external_id("org-1"), Some(10));
        let err = create(&mut orgs, 11, json!({"name": "B", "external_id": "Org-1"})).unwrap_err();
        assert_eq!(err.details, "External ID: Org-1 has already been taken");
        let err = create(
            &mut orgs,
            12,
            json!({"name": "C", "organization_fields": {"seats": "many"}}),
        )
        .unwrap_err();
        assert!(err.details.starts_with("Seats:"), "{err:?}");
        assert_eq!(orgs.all().count(), 1, "refused organizations are not kept");
    }
}
