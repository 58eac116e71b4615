//! Typed answers, lenient where Zendesk is not uniform.
//!
//! Every optional key is `Option` or defaulted and unknown keys are kept in `extra`, because the
//! recorded bodies disagree with the reference (see `shared/zendesk/API.md`, job_status):
//! results without `index` or `status`, `email` instead of `index`, `results` as an object,
//! `progress` and `total` null.

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `{"job_status": {...}}`, the answer to a bulk call and to `job_statuses/{id}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct JobStatusEnvelope {
    pub job_status: JobStatus,
}

/// `{"job_statuses": [...]}`, the answer to `job_statuses/show_many`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct JobStatusesEnvelope {
    pub job_statuses: Vec<JobStatus>,
}

/// A background job: the bulk calls answer with one and finish in it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct JobStatus {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub progress: Option<u64>,
    pub status: JobState,
    #[serde(default)]
    pub message: Option<String>,
    /// Null until the job ends.
    #[serde(default)]
    pub results: Option<JobResults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_type: Option<String>,
}

impl JobStatus {
    /// Completed, failed or killed: polling it again will not change it.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status,
            JobState::Completed | JobState::Failed | JobState::Killed
        )
    }

    /// The per-user results, empty when there are none or they came as an object.
    pub fn result_list(&self) -> &[JobResult] {
        match &self.results {
            Some(JobResults::List(list)) => list,
            _ => &[],
        }
    }
}

/// `queued`, `working`, `completed`, `failed`, `killed`, or a word Zendesk adds later.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum JobState {
    Queued,
    Working,
    Completed,
    Failed,
    Killed,
    Other(String),
}

impl From<String> for JobState {
    fn from(value: String) -> Self {
        match value.as_str() {
            "queued" => Self::Queued,
            "working" => Self::Working,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "killed" => Self::Killed,
            _ => Self::Other(value),
        }
    }
}

impl From<JobState> for String {
    fn from(value: JobState) -> Self {
        value.as_str().to_owned()
    }
}

impl JobState {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "queued",
            Self::Working => "working",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Killed => "killed",
            Self::Other(word) => word,
        }
    }
}

/// A job's `results`: usually a list, per the reference sometimes an object (`{"success": true}`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum JobResults {
    List(Vec<JobResult>),
    Object(Map<String, Value>),
}

/// One entry of `results`; which keys are present differs by job and by account.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct JobResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A string in every recording; kept as JSON in case an account sends an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JobResult {
    /// Failed when it names an error, says `success: false` or `status: "Failed"`.
    pub fn is_failure(&self) -> bool {
        self.error.is_some()
            || self.success == Some(false)
            || self.status.as_deref() == Some("Failed")
    }

    /// `details` as text, whatever JSON it came as.
    pub fn details_text(&self) -> Option<String> {
        match &self.details {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => Some(other.to_string()),
        }
    }
}

/// `{"user": {...}}`: `users/me` and the one-user calls.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserEnvelope {
    pub user: User,
}

/// `{"users": [...]}`: `users/show_many` and lists.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UsersEnvelope {
    pub users: Vec<User>,
    #[serde(default)]
    pub next_page: Option<String>,
    #[serde(default)]
    pub previous_page: Option<String>,
    #[serde(default)]
    pub count: Option<u64>,
}

/// `users/search` answers under `users` (OAS `SearchUsers`, and the recorded answer); `results` is
/// the unified `/api/v2/search.json`'s key, tolerated in case an account or proxy answers so.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserSearchEnvelope {
    #[serde(alias = "results")]
    pub users: Vec<User>,
    #[serde(default)]
    pub next_page: Option<String>,
    #[serde(default)]
    pub count: Option<u64>,
}

/// A user as Zendesk answers it: the keys zdimport reads, the many others kept in `extra`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct User {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub organization_id: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub user_fields: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"organizations": [...]}`: `organizations.json` in offset or cursor pages, `show_many`,
/// `search`, `autocomplete`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrganizationsEnvelope {
    pub organizations: Vec<Organization>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// An organization (Organizations, JSON format): the keys zdimport reads or sends, the others
/// kept in `extra`. Lists and text default when absent or null, as a record may lack them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Organization {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub domain_names: Vec<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub group_id: Option<u64>,
    #[serde(default)]
    pub shared_tickets: Option<bool>,
    #[serde(default)]
    pub shared_comments: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub organization_fields: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A key sent as `null` reads as its empty value.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `{"identities": [...]}`: `GET /api/v2/users/{id}/identities.json`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IdentitiesEnvelope {
    pub identities: Vec<UserIdentity>,
    #[serde(default)]
    pub next_page: Option<String>,
}

/// One identity of a user: an email, a phone number, a social account…
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct UserIdentity {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[serde(default)]
    pub primary: bool,
    #[serde(default)]
    pub verified: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"user_fields": [...]}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserFieldsEnvelope {
    pub user_fields: Vec<UserField>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// Where a list's next page is: `next_page` (offset pagination) or `links.next` while
/// `meta.has_more` (cursor pagination).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Paging {
    #[serde(default)]
    pub next_page: Option<String>,
    /// Offset pages say how many records the whole list holds; cursor pages do not.
    #[serde(default)]
    pub count: Option<u64>,
    /// Cursor pagination: `{"has_more": true, "after_cursor": …}` with `links.next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<PageMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<PageLinks>,
}

/// A page of a list: its items and where the next one is.
pub trait Paged {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, Paging);
}

impl Paged for UserFieldsEnvelope {
    type Item = UserField;
    fn into_parts(self) -> (Vec<UserField>, Paging) {
        (self.user_fields, self.paging)
    }
}

/// `{"organization_fields": [...]}`: the same definitions as user fields.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrganizationFieldsEnvelope {
    pub organization_fields: Vec<UserField>,
    #[serde(flatten)]
    pub paging: Paging,
}

impl Paged for OrganizationFieldsEnvelope {
    type Item = UserField;
    fn into_parts(self) -> (Vec<UserField>, Paging) {
        (self.organization_fields, self.paging)
    }
}

impl Paged for OrganizationsEnvelope {
    type Item = Organization;
    fn into_parts(self) -> (Vec<Organization>, Paging) {
        (self.organizations, self.paging)
    }
}

impl Paging {
    /// The next page's path and query on `base`, when there is one. A link to another host or
    /// scheme is not followed: the credentials go to the account's own URL only.
    pub fn next_path(&self, base: &Url) -> Option<String> {
        let cursor_next = self
            .meta
            .as_ref()
            .filter(|m| m.has_more)
            .and(self.links.as_ref())
            .and_then(|l| l.next.as_deref());
        let next = self.next_page.as_deref().or(cursor_next)?;
        same_origin_path(base, next)
    }
}

/// `meta` of a cursor-paginated list.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PageMeta {
    #[serde(default)]
    pub has_more: bool,
}

/// `links` of a cursor-paginated list.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PageLinks {
    #[serde(default)]
    pub next: Option<String>,
}

/// `next` as a path and query on `base`, if it is on the same scheme, host and port.
pub fn same_origin_path(base: &Url, next: &str) -> Option<String> {
    let url = base.join(next).ok()?;
    if url.origin() != base.origin() {
        return None;
    }
    Some(match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    })
}

/// A custom user field definition.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct UserField {
    pub id: u64,
    pub key: String,
    /// `text`, `textarea`, `checkbox`, `date`, `integer`, `decimal`, `regexp`, `dropdown`,
    /// `lookup`, `multiselect`.
    #[serde(rename = "type")]
    pub field_type: String,
    pub title: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub regexp_for_validation: Option<String>,
    /// Dropdown and multiselect choices; send `value`, never `name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_field_options: Vec<FieldOption>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn yes() -> bool {
    true
}

/// One dropdown choice: `name` is the label shown, `value` the tag sent.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FieldOption {
    #[serde(default)]
    pub id: Option<u64>,
    pub name: String,
    pub value: String,
}

/// An error body: `{"error": "...", "description": "..."}`, `message` on some 403s, `details`
/// on 422s; OAuth answers use `error_description`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub details: Option<Value>,
}

#[cfg(test)]
mod page_tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://acme.zendesk.com").unwrap()
    }

    #[test]
    fn next_page_stays_on_the_account() {
        let page = |next: &str| Paging {
            next_page: Some(next.to_owned()),
            count: None,
            meta: None,
            links: None,
        };
        assert_eq!(
            page("https://acme.zendesk.com/api/v2/user_fields.json?page=2").next_path(&base()),
            Some("/api/v2/user_fields.json?page=2".to_owned())
        );
        assert_eq!(
            page("https://evil.example/api/v2/user_fields.json?page=2").next_path(&base()),
            None
        );
        assert_eq!(
            page("http://acme.zendesk.com/api/v2/user_fields.json?page=2").next_path(&base()),
            None
        );
    }

    #[test]
    fn cursor_links_are_followed_only_while_there_is_more() {
        let body = |more: bool| {
            serde_json::from_value::<OrganizationsEnvelope>(serde_json::json!({
                "organizations": [],
                "meta": {"has_more": more, "after_cursor": "xyz"},
                "links": {"next": "https://acme.zendesk.com/api/v2/organizations.json?page[after]=xyz"}
            }))
            .unwrap()
            .paging
        };
        assert_eq!(
            body(true).next_path(&base()).as_deref(),
            Some("/api/v2/organizations.json?page[after]=xyz")
        );
        assert_eq!(body(false).next_path(&base()), None);
    }
}
