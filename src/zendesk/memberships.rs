//! Organization memberships (issue 15, item 3): a user in several organizations, and the
//! account setting that allows it.
//!
//! `POST /api/v2/organization_memberships/create_many.json` takes
//! `{"organization_memberships": [{"user_id", "organization_id"}, …]}` (at most 100) and
//! answers with a job, read as the users' jobs are. `GET /api/v2/users/{id}/
//! organization_memberships.json` lists one user's memberships (paginated, 100 a page).
//! `GET /api/v2/account/settings.json` says in `settings.user.multiple_organizations`
//! whether a user may belong to more than one.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::types::{Paged, Paging};
use super::{Answer, Client, JobStatus, ZendeskError};

/// Memberships per `organization_memberships/create_many` call, Zendesk's most.
pub const MEMBERSHIPS_PER_CALL: usize = 100;

/// The most pages of one user's memberships read: 10,000 organizations.
const MAX_MEMBERSHIP_PAGES: usize = 100;

/// `POST` path of the bulk membership call.
pub const MEMBERSHIPS_CREATE_MANY: &str = "/api/v2/organization_memberships/create_many.json";

/// One membership as Zendesk lists it: the keys zdimport reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Membership {
    #[serde(default)]
    pub id: Option<u64>,
    pub user_id: u64,
    pub organization_id: u64,
    /// The user's default organization (Zendesk sends `null` for false).
    #[serde(default)]
    pub default: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct MembershipsEnvelope {
    organization_memberships: Vec<Membership>,
    #[serde(flatten)]
    paging: Paging,
}

impl Paged for MembershipsEnvelope {
    type Item = Membership;
    fn into_parts(self) -> (Vec<Membership>, Paging) {
        (self.organization_memberships, self.paging)
    }
}

impl Client {
    /// Every membership of user `user_id` (`users/{id}/organization_memberships`).
    pub async fn user_memberships(
        &self,
        user_id: u64,
    ) -> Result<Answer<Vec<Membership>>, ZendeskError> {
        let path = format!("/api/v2/users/{user_id}/organization_memberships.json");
        self.all_pages::<MembershipsEnvelope>(&path, MAX_MEMBERSHIP_PAGES)
            .await
    }

    /// `organization_memberships/create_many` with these `(user_id, organization_id)` pairs
    /// (at most [`MEMBERSHIPS_PER_CALL`]): the job it starts.
    pub async fn create_many_memberships(
        &self,
        pairs: &[(u64, u64)],
    ) -> Result<Answer<JobStatus>, ZendeskError> {
        let body = membership_body(pairs);
        self.send_bulk(Method::POST, MEMBERSHIPS_CREATE_MANY, body)
            .await
    }

    /// `settings.user.multiple_organizations` of `account/settings`: `None` when the answer
    /// does not say.
    pub async fn multiple_organizations(&self) -> Result<Answer<Option<bool>>, ZendeskError> {
        let answer = self.get_json("/api/v2/account/settings.json").await?;
        Ok(Answer {
            value: multiple_organizations_in(&answer.value),
            status: answer.status,
            rate: answer.rate,
        })
    }
}

/// The setting in an `account/settings` answer.
pub fn multiple_organizations_in(settings: &Value) -> Option<bool> {
    settings["settings"]["user"]["multiple_organizations"].as_bool()
}

/// `{"organization_memberships": [{"user_id": …, "organization_id": …}, …]}`.
pub fn membership_body(pairs: &[(u64, u64)]) -> Vec<u8> {
    let items: Vec<Value> = pairs
        .iter()
        .map(|(user, org)| json!({"user_id": user, "organization_id": org}))
        .collect();
    json!({ "organization_memberships": items })
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_pairs_users_with_organizations() {
        let body: Value = serde_json::from_slice(&membership_body(&[(1, 10), (2, 20)])).unwrap();
        assert_eq!(
            body,
            json!({"organization_memberships": [
                {"user_id": 1, "organization_id": 10},
                {"user_id": 2, "organization_id": 20}
            ]})
        );
    }

    #[test]
    fn the_setting_is_read_where_zendesk_puts_it() {
        let on = json!({"settings": {"user": {"multiple_organizations": true}}});
        assert_eq!(multiple_organizations_in(&on), Some(true));
        assert_eq!(multiple_organizations_in(&json!({"settings": {}})), None);
    }
}
