//! Organization memberships: a user in several organizations (`shared/zendesk/API.md`,
//! organizations row; Zendesk's Organization Memberships API).
//!
//! A user's default organization is its `organization_id`, listed as its `default`
//! membership; the others are held here. `organization_memberships/create_many` takes at most
//! 100 `{"user_id", "organization_id"}` and runs as a job whose results have the users' jobs'
//! shapes. With the account's `multiple_organizations` off, a user that already belongs to an
//! organization cannot join another (the item fails). What Zendesk answers for a membership
//! that already exists is not documented: [`ExistingMembership`] chooses an error per item or
//! a silent success, so a client is tested against both.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::Shared;
use super::jobs::BulkKind;
use super::options::OptionParseError;
use super::routes::{JobFate, json_answer, page_answer, start_job};
use super::store::{RowAction, RowError, Store};
use crate::zendesk::memberships::MEMBERSHIPS_PER_CALL;

/// What `create_many` does with a membership the account already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExistingMembership {
    /// The item fails: `{"error": "InvalidValue", "details": "User is already a member…"}`.
    #[default]
    Error,
    /// The item succeeds with the existing membership's id; nothing is added.
    Ok,
}

impl fmt::Display for ExistingMembership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Ok => "ok",
        })
    }
}

impl FromStr for ExistingMembership {
    type Err = OptionParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::options::parse_word(s, &[("error", Self::Error), ("ok", Self::Ok)])
    }
}

/// Zendesk's words for a membership the user already has (the sandbox's; unverified).
pub const ALREADY_MEMBER: &str = "User is already a member of this organization";

/// The memberships beyond each user's default organization, by (user, organization): the
/// membership's id.
#[derive(Debug, Clone, Default)]
pub struct Memberships {
    extra: BTreeMap<(u64, u64), u64>,
    pub existing: ExistingMembership,
}

impl Memberships {
    fn of_user(&self, user: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.extra
            .range((user, 0)..=(user, u64::MAX))
            .map(|(&(_, org), &id)| (org, id))
    }
}

/// The id Zendesk would give a user's default membership: derived, stable.
fn default_membership_id(user: u64, org: u64) -> u64 {
    user.wrapping_mul(31).wrapping_add(org) % 1_000_000_000 + 380_000_000_000
}

impl Store {
    /// The user's organization memberships as Zendesk lists them: the default first.
    pub fn memberships(&self, user: u64) -> Vec<Value> {
        let Some(held) = self.user(user) else {
            return Vec::new();
        };
        let default = held["organization_id"].as_u64();
        let mut out = Vec::new();
        if let Some(org) = default {
            out.push(self.membership_json(default_membership_id(user, org), user, org, true));
        }
        for (org, id) in self.memberships.of_user(user) {
            if Some(org) != default {
                out.push(self.membership_json(id, user, org, false));
            }
        }
        out
    }

    fn membership_json(&self, id: u64, user: u64, org: u64, default: bool) -> Value {
        let name = self
            .organization_json(org)
            .and_then(|o| o["name"].as_str().map(str::to_owned));
        json!({
            "id": id,
            "user_id": user,
            "organization_id": org,
            "organization_name": name,
            "default": if default { json!(true) } else { Value::Null },
            "view_tickets": false,
        })
    }

    /// One item of `organization_memberships/create_many`: the membership's id.
    pub fn create_membership(
        &mut self,
        item: &Value,
        now: SystemTime,
    ) -> Result<(u64, RowAction), RowError> {
        let id_of = |key: &str| item.get(key).and_then(Value::as_u64);
        let (Some(user), Some(org)) = (id_of("user_id"), id_of("organization_id")) else {
            return Err(invalid("user_id and organization_id are required"));
        };
        let Some(held) = self.user(user) else {
            return Err(not_found(format!("User {user} not found")));
        };
        if self.organization_json(org).is_none() {
            return Err(not_found(format!("Organization {org} not found")));
        }
        let default = held["organization_id"].as_u64();
        let existing = match default {
            Some(d) if d == org => Some(default_membership_id(user, org)),
            _ => self.memberships.extra.get(&(user, org)).copied(),
        };
        if let Some(id) = existing {
            return match self.memberships.existing {
                ExistingMembership::Ok => Ok((id, RowAction::Created)),
                ExistingMembership::Error => Err(invalid(ALREADY_MEMBER)),
            };
        }
        let Some(_) = default else {
            // The first membership becomes the user's default organization.
            self.update(&json!({"id": user, "organization_id": org}), now)
                .map_err(|e| invalid(e.details))?;
            return Ok((default_membership_id(user, org), RowAction::Created));
        };
        if !self.rules().user_settings.multiple_organizations {
            return Err(invalid(
                "User can only belong to one organization: multiple organizations are not \
                 enabled in this account",
            ));
        }
        let id = self.take_id();
        self.memberships.extra.insert((user, org), id);
        Ok((id, RowAction::Created))
    }

    /// A seed user's `organization_memberships` (names, created when new): memberships besides
    /// its default organization.
    pub fn seed_memberships(&mut self, user: u64, seed: &Value, now: SystemTime) {
        let names = seed
            .get("organization_memberships")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        let orgs: Vec<u64> = names.map(|n| self.add_organization(n)).collect();
        for org in orgs {
            let default = self.user(user).and_then(|u| u["organization_id"].as_u64());
            if default.is_none() {
                let _ = self.update(&json!({"id": user, "organization_id": org}), now);
            } else if default != Some(org) && !self.memberships.extra.contains_key(&(user, org)) {
                let id = self.take_id();
                self.memberships.extra.insert((user, org), id);
            }
        }
    }

    /// Every (user, organization) pair the account holds, defaults included, for tests.
    pub fn membership_pairs(&self) -> Vec<(u64, u64)> {
        let users: Vec<u64> = self.users().filter_map(|u| u["id"].as_u64()).collect();
        let mut pairs: Vec<(u64, u64)> = users
            .into_iter()
            .flat_map(|u| {
                self.memberships(u)
                    .into_iter()
                    .filter_map(move |m| Some((u, m["organization_id"].as_u64()?)))
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }
}

fn invalid(details: impl Into<String>) -> RowError {
    RowError {
        error: "InvalidValue",
        details: details.into(),
    }
}

fn not_found(details: String) -> RowError {
    RowError {
        error: "RecordNotFound",
        details,
    }
}

/// The membership endpoints, merged into the sandbox's router (behind its gate).
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/api/v2/users/{user}/organization_memberships.json",
            get(user_list),
        )
        .route(
            "/api/v2/organization_memberships/create_many.json",
            post(create_many),
        )
}

async fn user_list(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(id) = user.parse::<u64>().ok() else {
        return not_found_answer();
    };
    let state = shared.state();
    if !state.store.has_user(id) {
        drop(state);
        return not_found_answer();
    }
    let items = state.store.memberships(id);
    drop(state);
    let path = format!("/api/v2/users/{id}/organization_memberships.json");
    page_answer(&shared, &path, "organization_memberships", &items, &query)
}

fn not_found_answer() -> Response {
    json_answer(
        StatusCode::NOT_FOUND,
        json!({"error": "RecordNotFound", "description": "Not found"}),
    )
}

/// `{"organization_memberships": [...]}`, at most 100: a job, as the users' bulk calls.
async fn create_many(
    State(shared): State<Arc<Shared>>,
    Extension(fate): Extension<JobFate>,
    body: Bytes,
) -> Response {
    let parsed: Option<Vec<Value>> = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("organization_memberships")
            .and_then(Value::as_array)
            .cloned()
    });
    let Some(items) = parsed else {
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "InvalidValue",
                "description": "organization_memberships must be an array of memberships"}),
        );
    };
    if items.len() > MEMBERSHIPS_PER_CALL {
        let description =
            format!("Maximum {MEMBERSHIPS_PER_CALL} memberships may be created per call");
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "TooManyValues", "description": description}),
        );
    }
    start_job(&shared, BulkKind::MembershipsCreateMany, fate, items)
}

impl super::SandboxHandle {
    /// Every (user id, organization id) membership held now, defaults included, sorted.
    pub fn memberships(&self) -> Vec<(u64, u64)> {
        self.shared.state().store.membership_pairs()
    }
}
