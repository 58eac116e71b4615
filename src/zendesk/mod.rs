//! The Zendesk client: the endpoints zdimport uses, typed answers, rate headers, sign-in.
//!
//! Every call has a timeout, every answer carries its [`RateInfo`], and every error names the
//! request that failed. Retrying is the caller's decision (the import engine knows whether a
//! bulk call may already have been accepted); the one retry done here is after a 401 with an
//! OAuth token, once the token is renewed.

pub mod auth;
pub mod error;
pub mod memberships;
pub mod rate;
pub mod results;
pub mod secret;
pub mod types;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use auth::{Credentials, OAuthClient, SignIn, TokenAnswer, TokenManager, sign_in};
pub use error::{ApiReason, RequestLabel, ZendeskError};
pub use rate::RateInfo;
pub use secret::Secret;
pub use types::{
    JobResult, JobResults, JobState, JobStatus, Organization, User, UserField, UserIdentity,
};

/// Zendesk refuses more than this many users in one bulk call (400 `TooManyValues`).
pub const MAX_USERS_PER_CALL: usize = 100;

/// The default time a request may take before it counts as lost.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bulk endpoints, with Zendesk's method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkEndpoint {
    CreateMany,
    CreateOrUpdateMany,
    UpdateMany,
    /// `organizations/create_many`: `{"organizations": [...]}`, at most 100.
    OrganizationsCreateMany,
    /// `organizations/update_many`: `{"organizations": [{"id", ...}]}`, at most 100.
    OrganizationsUpdateMany,
}

impl BulkEndpoint {
    pub fn method(self) -> Method {
        match self {
            Self::UpdateMany | Self::OrganizationsUpdateMany => Method::PUT,
            Self::CreateMany | Self::CreateOrUpdateMany | Self::OrganizationsCreateMany => {
                Method::POST
            }
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Self::CreateMany => "/api/v2/users/create_many.json",
            Self::CreateOrUpdateMany => "/api/v2/users/create_or_update_many.json",
            Self::UpdateMany => "/api/v2/users/update_many.json",
            Self::OrganizationsCreateMany => "/api/v2/organizations/create_many.json",
            Self::OrganizationsUpdateMany => "/api/v2/organizations/update_many.json",
        }
    }

    /// The body's key for the records sent: `users` or `organizations`.
    pub fn key(self) -> &'static str {
        match self {
            Self::OrganizationsCreateMany | Self::OrganizationsUpdateMany => "organizations",
            Self::CreateMany | Self::CreateOrUpdateMany | Self::UpdateMany => "users",
        }
    }
}

/// The first page of the organization list: cursor pagination, 100 a page (Zendesk's
/// largest), which reaches every record where offset pages may stop short on large accounts.
pub const ORGANIZATIONS_FIRST_PAGE: &str = "/api/v2/organizations.json?page%5Bsize%5D=100";

/// The most pages the organization list is followed for: 1,000,000 organizations.
pub const MAX_ORGANIZATION_PAGES: usize = 10_000;

/// One page of a list: its items, and the path of the next page when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
    /// Records in the whole list, when the page says (offset pages do).
    pub count: Option<u64>,
}

/// An answer and what its headers said about the rate limit.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub value: T,
    pub status: u16,
    pub rate: RateInfo,
}

/// Where and how to reach Zendesk.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: Url,
    pub credentials: Credentials,
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(base_url: Url, credentials: Credentials) -> Self {
        Self {
            base_url,
            credentials,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The account's base URL from `--url`/`ZENDESK_URL` or `--subdomain`/`ZENDESK_SUBDOMAIN`.
pub fn base_url(url: Option<&str>, subdomain: Option<&str>) -> Result<Url, ZendeskError> {
    let text = match (url, subdomain) {
        (Some(url), _) => account_url(url),
        (None, Some(sub)) => format!("https://{}.zendesk.com", sub.trim()),
        (None, None) => {
            return Err(ZendeskError::BadUrl {
                url: String::new(),
                reason: "set --url/ZENDESK_URL or --subdomain/ZENDESK_SUBDOMAIN".into(),
            });
        }
    };
    let mut url = Url::parse(&text).map_err(|e| ZendeskError::BadUrl {
        url: without_userinfo(&text),
        reason: e.to_string(),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        // Never echoed, stored or sent: the error shows the URL without them.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        return Err(ZendeskError::CredentialsInUrl {
            url: url.to_string(),
        });
    }
    check_scheme(&url)?;
    Ok(url)
}

/// The account URL for what was typed, as README says Connect takes it: a subdomain (`acme`)
/// is `https://acme.zendesk.com`; a host (`acme.zendesk.com`) gets `https://`, or `http://`
/// when it is this machine (the sandbox); a URL is kept as typed. Whether the URL is usable
/// (plain http to another host is refused) is the client's check, with its own message.
pub fn account_url(typed: &str) -> String {
    let text = typed.trim().trim_end_matches('/');
    if text.is_empty() || text.contains("://") {
        return text.to_owned();
    }
    if !text.contains(['.', ':', '/']) && text != "localhost" {
        return format!("https://{text}.zendesk.com");
    }
    let host = text.split(['/', ':']).next().unwrap_or_default();
    let loopback = host == "localhost" || host.starts_with("127.") || text.starts_with("[::1]");
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{text}")
}

/// `text` with anything before an `@` in its authority replaced by `***`: a URL that does not
/// parse is quoted in its error, and must not quote a password.
fn without_userinfo(text: &str) -> String {
    let start = text.find("://").map_or(0, |i| i + 3);
    let end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    match text[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &text[start + at..]),
        None => text.to_owned(),
    }
}

/// A client for the account named by `ZENDESK_URL` or `ZENDESK_SUBDOMAIN` (or the `--url` and
/// `--subdomain` given), signed in as [`sign_in`] chooses; `warning` is set for legacy API
/// tokens. `var` reads the environment (`|k| std::env::var(k).ok()` in the binary).
pub async fn connect(
    url: Option<&str>,
    subdomain: Option<&str>,
    var: impl Fn(&str) -> Option<String>,
    timeout: Duration,
) -> Result<(Client, Option<String>), ZendeskError> {
    let url = url.map(str::to_owned).or_else(|| var("ZENDESK_URL"));
    let subdomain = subdomain
        .map(str::to_owned)
        .or_else(|| var("ZENDESK_SUBDOMAIN"));
    let base = base_url(url.as_deref(), subdomain.as_deref())?;
    let client_id = var("ZENDESK_CLIENT_ID").unwrap_or_else(|| auth::DEFAULT_CLIENT_ID.into());
    let store = auth::refresh_store(base.host_str().unwrap_or(""), &client_id, &var);
    let chosen = sign_in(&base, &var, store, timeout).await?;
    let mut config = ClientConfig::new(base, chosen.credentials);
    config.timeout = timeout;
    Ok((Client::new(config)?, chosen.warning))
}

/// https everywhere; plain http only to this machine (127.0.0.1, ::1, localhost): the
/// sandbox. Credentials must never cross a network in the clear.
pub fn check_scheme(url: &Url) -> Result<(), ZendeskError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(ZendeskError::InsecureUrl {
            url: url.to_string(),
        }),
        other => Err(ZendeskError::BadUrl {
            url: url.to_string(),
            reason: format!("scheme '{other}' is not https"),
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The most pages a list is followed for (10,000 custom fields at 100 a page): a server that
/// keeps answering `next_page` cannot keep a lookup going forever.
pub const MAX_PAGES: usize = 100;

/// A connection to one Zendesk account; cheap to clone, share it between tasks.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Credentials,
    timeout: Duration,
    /// The latest `Date` header of any answer, Unix seconds (0: none yet); shared by clones.
    zendesk_time: Arc<AtomicI64>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ZendeskError> {
        check_scheme(&config.base_url)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirect could carry the Authorization header to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("zdimport/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ZendeskError::BadUrl {
                url: config.base_url.to_string(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Self {
            http,
            base: config.base_url,
            credentials: config.credentials,
            timeout: config.timeout,
            zendesk_time: Arc::new(AtomicI64::new(0)),
        })
    }

    /// Zendesk's own clock as of the latest answer (its `Date` header, Unix seconds), or none
    /// before any answer carried one.
    ///
    /// A request sent after that answer is handled later, so a user it creates has a
    /// `created_at` no earlier (both are whole seconds of the same clock): the import engine
    /// tells a user its lost request created from one that was there before by it.
    pub fn zendesk_time(&self) -> Option<i64> {
        Some(self.zendesk_time.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// Keeps the latest `Date` an answer carried (answers can come back out of order).
    fn observe_date(&self, headers: &reqwest::header::HeaderMap) {
        let date = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_secs()).ok());
        if let Some(secs) = date {
            self.zendesk_time.fetch_max(secs, Ordering::Relaxed);
        }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// `GET /api/v2/users/me.json`: who the credentials belong to; a good connection test.
    pub async fn me(&self) -> Result<Answer<User>, ZendeskError> {
        let answer = self
            .get::<types::UserEnvelope>("/api/v2/users/me.json")
            .await?;
        Ok(map_answer(answer, |e| e.user))
    }

    /// `GET /api/v2/user_fields.json`: every custom user field of the account.
    ///
    /// The list is paginated, at most 100 a page (OAS): every page is read, following
    /// `next_page` (offset pagination) or `links.next` while `meta.has_more` (cursor
    /// pagination), on this account only and at most [`MAX_PAGES`] pages.
    pub async fn user_fields(&self) -> Result<Answer<Vec<UserField>>, ZendeskError> {
        self.all_pages::<types::UserFieldsEnvelope>("/api/v2/user_fields.json", MAX_PAGES)
            .await
    }

    /// `GET /api/v2/organization_fields.json`: every custom organization field of the account,
    /// paginated as user fields are, with the same definitions.
    pub async fn organization_fields(&self) -> Result<Answer<Vec<UserField>>, ZendeskError> {
        self.all_pages::<types::OrganizationFieldsEnvelope>(
            "/api/v2/organization_fields.json",
            MAX_PAGES,
        )
        .await
    }

    /// The custom fields of the records `object` imports: user or organization fields.
    pub async fn fields_of(
        &self,
        object: crate::mapping::Object,
    ) -> Result<Answer<Vec<UserField>>, ZendeskError> {
        match object {
            crate::mapping::Object::Users => self.user_fields().await,
            crate::mapping::Object::Organizations => self.organization_fields().await,
        }
    }

    /// One page of a list at `path` and the path of the next (on this account only).
    async fn page<E: DeserializeOwned + types::Paged>(
        &self,
        path: &str,
    ) -> Result<Answer<Page<E::Item>>, ZendeskError> {
        let answer = self.get::<E>(path).await?;
        let base = &self.base;
        Ok(map_answer(answer, |envelope| {
            let (items, paging) = envelope.into_parts();
            let next = paging.next_path(base);
            Page {
                items,
                next,
                count: paging.count,
            }
        }))
    }

    /// Every page of a list from `first`, at most `max_pages` pages and each page once; the
    /// status and rate of the last answer.
    async fn all_pages<E: DeserializeOwned + types::Paged>(
        &self,
        first: &str,
        max_pages: usize,
    ) -> Result<Answer<Vec<E::Item>>, ZendeskError> {
        let mut path = first.to_owned();
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        loop {
            let answer = self.page::<E>(&path).await?;
            items.extend(answer.value.items);
            match answer.value.next {
                Some(next) if seen.len() < max_pages && seen.insert(next.clone()) => path = next,
                _ => {
                    return Ok(Answer {
                        value: items,
                        status: answer.status,
                        rate: answer.rate,
                    });
                }
            }
        }
    }

    /// `POST /api/v2/users/create_many.json` with `{"users": users}`.
    pub async fn create_many(&self, users: &[Value]) -> Result<Answer<JobStatus>, ZendeskError> {
        self.bulk(BulkEndpoint::CreateMany, users).await
    }

    /// `POST /api/v2/users/create_or_update_many.json`: each user matched by email or
    /// external_id.
    pub async fn create_or_update_many(
        &self,
        users: &[Value],
    ) -> Result<Answer<JobStatus>, ZendeskError> {
        self.bulk(BulkEndpoint::CreateOrUpdateMany, users).await
    }

    /// `PUT /api/v2/users/update_many.json`: each user names its id or external_id.
    pub async fn update_many(&self, users: &[Value]) -> Result<Answer<JobStatus>, ZendeskError> {
        self.bulk(BulkEndpoint::UpdateMany, users).await
    }

    async fn bulk(
        &self,
        endpoint: BulkEndpoint,
        users: &[Value],
    ) -> Result<Answer<JobStatus>, ZendeskError> {
        let body = serde_json::to_vec(&json!({ endpoint.key(): users })).map_err(|e| {
            ZendeskError::Decode {
                request: label(&endpoint.method(), endpoint.path()),
                status: 0,
                reason: format!("cannot encode the body: {e}"),
            }
        })?;
        self.send_bulk(endpoint.method(), endpoint.path(), body)
            .await
    }

    /// Sends a request body built elsewhere (the payload module's `{"users": [...]}`) as is,
    /// and reads the job it starts.
    pub async fn send_bulk(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Bytes>,
    ) -> Result<Answer<JobStatus>, ZendeskError> {
        let answer = self
            .call::<types::JobStatusEnvelope>(method, path, Some(body.into()))
            .await?;
        Ok(map_answer(answer, |e| e.job_status))
    }

    /// `GET /api/v2/job_statuses/{id}.json`. A 404 just after creation is normal for a moment:
    /// the caller polls again (see `ZendeskError::status`).
    pub async fn job_status(&self, id: &str) -> Result<Answer<JobStatus>, ZendeskError> {
        let path = format!("/api/v2/job_statuses/{}.json", encode(id));
        let answer = self.get::<types::JobStatusEnvelope>(&path).await?;
        Ok(map_answer(answer, |e| e.job_status))
    }

    /// `GET /api/v2/job_statuses/show_many.json?ids=a,b`: one request for many jobs, because
    /// polling counts against the rate limit.
    pub async fn job_statuses(&self, ids: &[&str]) -> Result<Answer<Vec<JobStatus>>, ZendeskError> {
        let path = format!("/api/v2/job_statuses/show_many.json?ids={}", join(ids));
        let answer = self.get::<types::JobStatusesEnvelope>(&path).await?;
        Ok(map_answer(answer, |e| e.job_statuses))
    }

    /// `GET /api/v2/users/show_many.json?ids=…` (at most 100).
    pub async fn show_many_by_ids(&self, ids: &[u64]) -> Result<Answer<Vec<User>>, ZendeskError> {
        let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let path = format!("/api/v2/users/show_many.json?ids={}", join(&refs));
        let answer = self.get::<types::UsersEnvelope>(&path).await?;
        Ok(map_answer(answer, |e| e.users))
    }

    /// `GET /api/v2/users/show_many.json?external_ids=…` (at most 100).
    pub async fn show_many_by_external_ids(
        &self,
        external_ids: &[&str],
    ) -> Result<Answer<Vec<User>>, ZendeskError> {
        let path = format!(
            "/api/v2/users/show_many.json?external_ids={}",
            join(external_ids)
        );
        let answer = self.get::<types::UsersEnvelope>(&path).await?;
        Ok(map_answer(answer, |e| e.users))
    }

    /// `GET /api/v2/users/search.json?query=email:…`; Zendesk answers under `users`.
    pub async fn search_by_email(&self, email: &str) -> Result<Answer<Vec<User>>, ZendeskError> {
        let path = format!(
            "/api/v2/users/search.json?query={}",
            encode(&format!("email:{email}"))
        );
        let answer = self.get::<types::UserSearchEnvelope>(&path).await?;
        Ok(map_answer(answer, |e| e.users))
    }

    /// `GET /api/v2/users/{id}/identities.json`: every identity of the user; an email sent
    /// for an existing user is added as a secondary identity, so the primary `email` alone does
    /// not say which emails the user holds (API.md).
    pub async fn identities(
        &self,
        user_id: u64,
    ) -> Result<Answer<Vec<UserIdentity>>, ZendeskError> {
        let path = format!("/api/v2/users/{user_id}/identities.json");
        let answer = self.get::<types::IdentitiesEnvelope>(&path).await?;
        Ok(map_answer(answer, |e| e.identities))
    }

    /// `PUT /api/v2/users/{id}/identities/{identity_id}/make_primary`: the identity becomes
    /// the user's primary one (idempotent); Zendesk answers with the user's identities.
    pub async fn make_primary(
        &self,
        user_id: u64,
        identity_id: u64,
    ) -> Result<Answer<Vec<UserIdentity>>, ZendeskError> {
        let path = format!("/api/v2/users/{user_id}/identities/{identity_id}/make_primary");
        let answer = self
            .call::<types::IdentitiesEnvelope>(Method::PUT, &path, None)
            .await?;
        Ok(map_answer(answer, |e| e.identities))
    }

    /// `GET /api/v2/organizations/search.json?name=…`: the organization of exactly that name
    /// (Zendesk compares names ignoring case), or none.
    pub async fn search_organizations_by_name(
        &self,
        name: &str,
    ) -> Result<Answer<Vec<Organization>>, ZendeskError> {
        let path = format!("/api/v2/organizations/search.json?name={}", encode(name));
        self.organizations_at(&path).await
    }

    /// `GET /api/v2/organizations/search.json?external_id=…`: the organization with that
    /// external_id, or none.
    pub async fn search_organizations_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Answer<Vec<Organization>>, ZendeskError> {
        let path = format!(
            "/api/v2/organizations/search.json?external_id={}",
            encode(external_id)
        );
        self.organizations_at(&path).await
    }

    /// `GET /api/v2/organizations/show_many.json?external_ids=…` (at most 100): those that
    /// exist, read directly (no search lag).
    pub async fn organizations_show_many_by_external_ids(
        &self,
        external_ids: &[&str],
    ) -> Result<Answer<Vec<Organization>>, ZendeskError> {
        let path = format!(
            "/api/v2/organizations/show_many.json?external_ids={}",
            join(external_ids)
        );
        self.organizations_at(&path).await
    }

    /// `GET /api/v2/organizations/show_many.json?ids=…` (at most 100).
    pub async fn organizations_show_many_by_ids(
        &self,
        ids: &[u64],
    ) -> Result<Answer<Vec<Organization>>, ZendeskError> {
        let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let path = format!("/api/v2/organizations/show_many.json?ids={}", join(&refs));
        self.organizations_at(&path).await
    }

    /// `GET /api/v2/organizations/autocomplete.json?name=…`: organizations whose name starts
    /// with `prefix` (at least 2 characters), ignoring case.
    pub async fn autocomplete_organizations(
        &self,
        prefix: &str,
    ) -> Result<Answer<Vec<Organization>>, ZendeskError> {
        let path = format!(
            "/api/v2/organizations/autocomplete.json?name={}",
            encode(prefix)
        );
        self.organizations_at(&path).await
    }

    /// The organizations an answer at `path` lists (one page).
    async fn organizations_at(
        &self,
        path: &str,
    ) -> Result<Answer<Vec<Organization>>, ZendeskError> {
        let answer = self.get::<types::OrganizationsEnvelope>(path).await?;
        Ok(map_answer(answer, |e| e.organizations))
    }

    /// One page of the organization list: [`ORGANIZATIONS_FIRST_PAGE`], then each `next`.
    /// A caller that counts its requests reads the list page by page with this.
    pub async fn organizations_page(
        &self,
        path: &str,
    ) -> Result<Answer<Page<Organization>>, ZendeskError> {
        self.page::<types::OrganizationsEnvelope>(path).await
    }

    /// Every organization of the account, 100 a page, following `links.next` (cursor) or
    /// `next_page` (offset), at most [`MAX_ORGANIZATION_PAGES`] pages.
    pub async fn organizations(&self) -> Result<Answer<Vec<Organization>>, ZendeskError> {
        self.all_pages::<types::OrganizationsEnvelope>(
            ORGANIZATIONS_FIRST_PAGE,
            MAX_ORGANIZATION_PAGES,
        )
        .await
    }

    /// `POST /api/v2/organizations/create_many.json` with `{"organizations": organizations}`
    /// (at most 100): a job whose results are read as the users' jobs' are.
    pub async fn create_many_organizations(
        &self,
        organizations: &[Value],
    ) -> Result<Answer<JobStatus>, ZendeskError> {
        self.bulk(BulkEndpoint::OrganizationsCreateMany, organizations)
            .await
    }

    /// `GET path` on the account, the answer as JSON whatever its shape: for read-only probes
    /// of facts that differ between accounts (`zdimport doctor`).
    pub async fn get_json(&self, path: &str) -> Result<Answer<Value>, ZendeskError> {
        self.get::<Value>(path).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Answer<T>, ZendeskError> {
        self.call(Method::GET, path, None).await
    }

    /// Sends, renews an OAuth token once on 401, and decodes a 2xx body as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Answer<T>, ZendeskError> {
        let request = label(&method, path);
        let (status, rate, bytes) = self.send_authorized(&request, &method, path, body).await?;
        if status.is_success() {
            let value = serde_json::from_slice(&bytes).map_err(|e| ZendeskError::Decode {
                request,
                status: status.as_u16(),
                reason: e.to_string(),
            })?;
            return Ok(Answer {
                value,
                status: status.as_u16(),
                rate,
            });
        }
        Err(refusal(request, status, rate, &bytes))
    }

    async fn send_authorized(
        &self,
        request: &RequestLabel,
        method: &Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(StatusCode, RateInfo, Bytes), ZendeskError> {
        let (auth, generation) = self.authorization().await?;
        let first = self
            .send_once(request, method, path, body.clone(), auth)
            .await?;
        let Credentials::OAuth(tokens) = &self.credentials else {
            return Ok(first);
        };
        if first.0 != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        tokens.renew_after_unauthorized(generation).await?;
        let (auth, _) = self.authorization().await?;
        self.send_once(request, method, path, body, auth).await
    }

    async fn send_once(
        &self,
        request: &RequestLabel,
        method: &Method,
        path: &str,
        body: Option<Bytes>,
        auth: HeaderValue,
    ) -> Result<(StatusCode, RateInfo, Bytes), ZendeskError> {
        let url = self.base.join(path).map_err(|e| ZendeskError::BadUrl {
            url: format!("{}{path}", self.base),
            reason: e.to_string(),
        })?;
        let mut builder = self
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, auth);
        if let Some(body) = body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body);
        }
        let started = std::time::Instant::now();
        let log_error = |e: ZendeskError| {
            tracing::warn!("{method} {path}: {e}");
            e
        };
        let response = builder
            .send()
            .await
            .map_err(|e| log_error(transport_error(request, &e, self.timeout)))?;
        let status = response.status();
        let rate = RateInfo::from_headers(response.headers());
        self.observe_date(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| log_error(transport_error(request, &e, self.timeout)))?;
        log_answer(method, path, status, &rate, &bytes, started.elapsed());
        Ok((status, rate, bytes))
    }

    /// The `Authorization` header, marked sensitive so no debug print of a request shows it.
    async fn authorization(&self) -> Result<(HeaderValue, u64), ZendeskError> {
        let (text, generation) = match &self.credentials {
            Credentials::ApiToken { email, token } => {
                use base64::Engine as _;
                let pair = format!("{email}/token:{}", token.expose());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                (format!("Basic {encoded}"), 0)
            }
            Credentials::Bearer(token) => (format!("Bearer {}", token.expose()), 0),
            Credentials::OAuth(tokens) => {
                let (token, generation) = tokens.access().await?;
                (format!("Bearer {}", token.expose()), generation)
            }
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            ZendeskError::Auth("the credentials hold characters a header cannot".into())
        })?;
        value.set_sensitive(true);
        Ok((value, generation))
    }
}

/// One line per answer in the log file: method, path, status and duration; a refusal also
/// with its `Retry-After` and Zendesk's body, bounded and with controls made visible. Never a
/// header or what was sent.
fn log_answer(
    method: &Method,
    path: &str,
    status: StatusCode,
    rate: &RateInfo,
    body: &[u8],
    took: Duration,
) {
    let ms = took.as_millis();
    if status.is_success() {
        tracing::info!("{method} {path} -> {} in {ms} ms", status.as_u16());
        return;
    }
    let retry = rate
        .retry_after
        .map(|d| format!(", Retry-After {:.0}s", d.as_secs_f64()))
        .unwrap_or_default();
    tracing::warn!(
        "{method} {path} -> {} in {ms} ms{retry}: {}",
        status.as_u16(),
        crate::logging::bounded(&String::from_utf8_lossy(body))
    );
}

fn map_answer<T, U>(answer: Answer<T>, f: impl FnOnce(T) -> U) -> Answer<U> {
    Answer {
        value: f(answer.value),
        status: answer.status,
        rate: answer.rate,
    }
}

fn label(method: &Method, path: &str) -> RequestLabel {
    RequestLabel {
        method: method.as_str().to_owned(),
        path: path.to_owned(),
    }
}

/// A non-2xx answer as an error; a 429 may come with an HTML body and no JSON at all.
fn refusal(request: RequestLabel, status: StatusCode, rate: RateInfo, body: &[u8]) -> ZendeskError {
    let reason = Box::new(ApiReason::from_body(body));
    if status == StatusCode::TOO_MANY_REQUESTS {
        return ZendeskError::RateLimited {
            request,
            reason,
            rate,
        };
    }
    ZendeskError::Api {
        request,
        status: status.as_u16(),
        reason,
        rate,
    }
}

/// A reqwest failure as a timeout or a connection error, with its cause chain.
pub(crate) fn transport_error(
    request: &RequestLabel,
    error: &reqwest::Error,
    timeout: Duration,
) -> ZendeskError {
    if error.is_timeout() {
        return ZendeskError::Timeout {
            request: request.clone(),
            after: timeout,
        };
    }
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    ZendeskError::Connection {
        request: request.clone(),
        reason,
    }
}

fn join(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| encode(v))
        .collect::<Vec<_>>()
        .join(",")
}

/// Percent-encodes one query or path value.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_a_subdomain_a_host_or_a_url_in_every_front_end() {
        for typed in ["acme", "acme.zendesk.com", " https://acme.zendesk.com/ "] {
            let url = base_url(Some(typed), None).unwrap();
            assert_eq!(url.as_str(), "https://acme.zendesk.com/", "{typed}");
        }
        let sandbox = base_url(Some("127.0.0.1:8080"), None).unwrap();
        assert_eq!(sandbox.as_str(), "http://127.0.0.1:8080/");
        assert!(matches!(
            base_url(Some("ops:secret@acme.zendesk.com"), None),
            Err(ZendeskError::CredentialsInUrl { .. })
        ));
    }

    #[test]
    fn http_only_to_loopback() {
        for ok in [
            "https://acme.zendesk.com",
            "http://127.0.0.1:8080",
            "http://[::1]:9",
            "http://localhost:3000",
        ] {
            assert!(base_url(Some(ok), None).is_ok(), "{ok}");
        }
        for refused in [
            "http://acme.zendesk.com",
            "http://10.0.0.1",
            "http://127.example.com",
        ] {
            let err = base_url(Some(refused), None).unwrap_err();
            assert!(
                matches!(err, ZendeskError::InsecureUrl { .. }),
                "{refused}: {err}"
            );
        }
        assert!(base_url(Some("ftp://x"), None).is_err());
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_never_quoted() {
        for url in [
            "https://agent:hunter2@acme.zendesk.com",
            "https://agent@acme.zendesk.com/",
            "http://:hunter2@127.0.0.1:9",
        ] {
            let err = base_url(Some(url), None).unwrap_err();
            assert!(
                matches!(err, ZendeskError::CredentialsInUrl { .. }),
                "{url}: {err}"
            );
            let said = err.to_string();
            assert!(
                !said.contains("hunter2") && !said.contains("agent"),
                "{said}"
            );
        }
        let err = base_url(Some("https://agent:hunter2@bad host/x@y"), None).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn subdomain_makes_an_https_url() {
        let url = base_url(None, Some("acme")).unwrap();
        assert_eq!(url.as_str(), "https://acme.zendesk.com/");
        assert!(base_url(None, None).is_err());
    }

    #[test]
    fn bulk_endpoints_use_zendesk_methods() {
        assert_eq!(BulkEndpoint::UpdateMany.method(), Method::PUT);
        assert_eq!(
            BulkEndpoint::CreateOrUpdateMany.path(),
            "/api/v2/users/create_or_update_many.json"
        );
    }
}
