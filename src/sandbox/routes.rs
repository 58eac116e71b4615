//! The sandbox's HTTP face: one gate for faults, sign-in and the rate limit, then the endpoints.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use serde_json::{Value, json};

use super::faults::Fault;
use super::jobs::{BulkKind, Job, JobEnd, job_id};
use super::oauth::{CodeGrant, OAuthRefusal};
use super::options::{JobLimitAnswer, JobLimitScope, RateHeaders};
use super::{ConnectionKill, RequestRecord, Shared};
use crate::zendesk::MAX_USERS_PER_CALL;

/// How a job created by this request must end, when a fault decided it.
#[derive(Debug, Clone, Copy)]
pub(super) struct JobFate(Option<Fault>);

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v2/users/me.json", get(me))
        .route("/api/v2/user_fields.json", get(user_fields))
        .route("/api/v2/users/create_many.json", post(create_many))
        .route(
            "/api/v2/users/create_or_update_many.json",
            post(create_or_update_many),
        )
        .route("/api/v2/users/update_many.json", put(update_many))
        .route("/api/v2/users/show_many.json", get(users_show_many))
        .route("/api/v2/users/search.json", get(users_search))
        .route("/api/v2/users/{user}", get(user_show))
        .route("/api/v2/users/{user}/identities.json", get(identities_list))
        .route(
            "/api/v2/users/{user}/identities/{identity}/make_primary",
            put(make_primary),
        )
        .route(
            "/api/v2/users/{user}/identities/{identity}/make_primary.json",
            put(make_primary),
        )
        .route("/api/v2/account/settings.json", get(account_settings))
        .merge(super::orgs::routes())
        .merge(super::memberships::routes())
        .route(
            "/api/v2/job_statuses/show_many.json",
            get(job_statuses_show_many),
        )
        .route("/api/v2/job_statuses.json", get(job_statuses_list))
        .route("/api/v2/job_statuses/{file}", get(job_status_show))
        .route("/oauth/authorizations/new", get(authorize))
        .route("/oauth/tokens", post(tokens))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), gate))
        .with_state(shared)
}

pub(super) fn json_answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn html_answer(status: StatusCode, title: &str) -> Response {
    let body =
        format!("<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>");
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn record_not_found() -> Response {
    json_answer(
        StatusCode::NOT_FOUND,
        json!({"error": "RecordNotFound", "description": "Not found"}),
    )
}

async fn not_found() -> Response {
    record_not_found()
}

/// Faults, then sign-in and the rate limit (not for `/oauth`), then the route; every answer
/// gets the rate headers and is recorded.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let bulk = method != Method::GET
        && (path.starts_with("/api/v2/users/") || path.starts_with("/api/v2/organizations/"))
        && path.contains("_many");
    let draw = shared.state().faults.draw(&path, bulk);
    let kill = request.extensions().get::<ConnectionKill>().cloned();
    if let Some(mut answer) = fault_first(&shared, draw.before, kill, (&method, &target)).await {
        date_header(&shared, answer.headers_mut());
        record(&shared, &method, &target, answer.status().as_u16());
        return answer;
    }
    let oauth = path.starts_with("/oauth/");
    let mut response = if oauth {
        next.run(request).await
    } else {
        admit(&shared, request, next, JobFate(draw.job_end)).await
    };
    if draw.lost_answer && response.status().is_success() {
        // Accepted: the job exists and runs, but the caller never learns its id.
        response = html_answer(StatusCode::BAD_GATEWAY, "502 Bad Gateway");
    }
    if !oauth {
        let bulk_or_job = bulk || path.starts_with("/api/v2/job_statuses");
        add_rate_headers(&shared, response.headers_mut(), bulk_or_job);
    }
    date_header(&shared, response.headers_mut());
    record(&shared, &method, &target, response.status().as_u16());
    response
}

/// `Date` on the sandbox's clock, the one its `created_at` stamps use (hyper would write the
/// real time, which a sped-up clock leaves behind): a client compares the two as it would a
/// live account's.
fn date_header(shared: &Shared, headers: &mut HeaderMap) {
    let date = httpdate::fmt_http_date(shared.clock.wall());
    if let Ok(value) = HeaderValue::from_str(&date) {
        headers.insert(header::DATE, value);
    }
}

/// A fault that comes before any work: an error answer, a wait, or a dropped connection
/// (which never returns: the connection task drops this future with the socket).
async fn fault_first(
    shared: &Shared,
    fault: Option<Fault>,
    kill: Option<ConnectionKill>,
    (method, target): (&Method, &str),
) -> Option<Response> {
    match fault? {
        Fault::DropConnection => {
            record(shared, method, target, 0);
            if let Some(kill) = kill {
                kill.0.cancel();
            }
            std::future::pending::<()>().await;
            None
        }
        Fault::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Some(html_answer(
                status,
                status.canonical_reason().unwrap_or("Server error"),
            ))
        }
        Fault::RateLimited(wait) => {
            let mut response = html_answer(StatusCode::TOO_MANY_REQUESTS, "429 Too Many Requests");
            let retry = retry_after(shared, wait.as_secs());
            response.headers_mut().insert(header::RETRY_AFTER, retry);
            Some(response)
        }
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::LostAnswer | Fault::JobFailed | Fault::JobKilled => None,
    }
}

/// Sign-in, then the rate limit, then the route.
async fn admit(shared: &Shared, mut request: Request, next: Next, fate: JobFate) -> Response {
    if let Some(refusal) = unauthenticated(shared, request.headers()) {
        return refusal;
    }
    if let Some(refusal) = over_rate_limit(shared) {
        return refusal;
    }
    request.extensions_mut().insert(fate);
    next.run(request).await
}

fn record(shared: &Shared, method: &Method, target: &str, status: u16) {
    let at = shared.clock.now();
    shared.state().requests.push(RequestRecord {
        method: method.to_string(),
        target: target.to_owned(),
        status,
        at,
    });
}

/// Zendesk's 401, unless the request has basic `{email}/token:{token}` or a live OAuth bearer
/// token.
fn unauthenticated(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(token) = value.strip_prefix("Bearer ") {
        let now = shared.clock.now();
        if shared.state().oauth.is_valid(token.trim(), now) {
            return None;
        }
        // OAuth's own 401 body for an expired, revoked or unknown token.
        return Some(json_answer(
            StatusCode::UNAUTHORIZED,
            json!({
                "error": "invalid_token",
                "error_description": "The access token provided is expired, revoked, malformed \
                    or invalid for other reasons."
            }),
        ));
    }
    let basic = value.strip_prefix("Basic ");
    if basic.is_some_and(|encoded| basic_is_valid(shared, encoded.trim())) {
        return None;
    }
    Some(json_answer(
        StatusCode::UNAUTHORIZED,
        json!({"error": "Couldn't authenticate you"}),
    ))
}

fn basic_is_valid(shared: &Shared, encoded: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some((user, token)) = text.split_once(':') else {
        return false;
    };
    let Some(email) = user.strip_suffix("/token") else {
        return false;
    };
    email.eq_ignore_ascii_case(&shared.config.admin_email)
        && token == shared.config.api_token.expose()
}

/// Counts the request in the current simulated minute, or answers 429 with `Retry-After`.
fn over_rate_limit(shared: &Shared) -> Option<Response> {
    let now = shared.clock.now();
    let window = now.as_secs() / 60;
    let mut state = shared.state();
    if state.window != window {
        state.window = window;
        state.used = 0;
    }
    if state.used < shared.config.rate_limit {
        state.used += 1;
        return None;
    }
    drop(state);
    let wait = real_secs(shared, window_left(now));
    let mut response = html_answer(StatusCode::TOO_MANY_REQUESTS, "429 Too Many Requests");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after(shared, wait));
    Some(response)
}

/// `Retry-After` in seconds, or as the HTTP date that many seconds from now (real time: the
/// client waits with its own clock).
fn retry_after(shared: &Shared, wait_secs: u64) -> HeaderValue {
    if !shared.config.faults.retry_after_date {
        return HeaderValue::from(wait_secs);
    }
    let when = std::time::SystemTime::now() + Duration::from_secs(wait_secs);
    HeaderValue::from_str(&httpdate::fmt_http_date(when)).unwrap_or(HeaderValue::from(wait_secs))
}

fn window_left(now: Duration) -> Duration {
    Duration::from_secs((now.as_secs() / 60 + 1) * 60).saturating_sub(now)
}

/// A simulated span as whole real seconds, for headers a client waits out (`Retry-After`).
///
/// At real speed: rounded up, at least 1, as Zendesk sends. On a sped-up clock: rounded down,
/// so a wait under a second is 0 and a 700-requests-per-minute rehearsal is not slowed to one
/// simulated minute per real second.
fn real_secs(shared: &Shared, simulated: Duration) -> u64 {
    let real = shared.clock.to_real(simulated).as_secs_f64();
    if shared.clock.speed() > 1.0 {
        real.floor() as u64
    } else {
        (real.ceil() as u64).max(1)
    }
}

/// `X-Rate-Limit` and `X-Rate-Limit-Remaining` on every answer; then the spelling chosen:
/// recorded answers carried `rate-limit*` on bulk and job answers, the docs name
/// `ratelimit-*`.
fn add_rate_headers(shared: &Shared, headers: &mut HeaderMap, bulk_or_job: bool) {
    let now = shared.clock.now();
    let limit = shared.config.rate_limit;
    let used = {
        let state = shared.state();
        if state.window == now.as_secs() / 60 {
            state.used
        } else {
            0
        }
    };
    let remaining = limit.saturating_sub(used);
    let reset = real_secs(shared, window_left(now));
    headers.insert("x-rate-limit", HeaderValue::from(limit));
    headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
    let spelling = shared.config.rate_headers;
    if spelling != RateHeaders::Documented && bulk_or_job {
        headers.insert("rate-limit", HeaderValue::from(limit));
        headers.insert("rate-limit-remaining", HeaderValue::from(remaining));
        headers.insert("rate-limit-reset", HeaderValue::from(reset));
    }
    if spelling != RateHeaders::Recorded {
        headers.insert("ratelimit-limit", HeaderValue::from(limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(reset));
    }
}

async fn me(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.state();
    match state.store.user(state.admin_id) {
        Some(user) => json_answer(StatusCode::OK, json!({ "user": user })),
        None => record_not_found(),
    }
}

/// Zendesk's offset pagination: at most 100 a page.
const PAGE_SIZE: usize = 100;

/// One page (`?page=N`, from 1) of `items` under `key`, with `next_page`/`previous_page` URLs
/// of `path` and the total `count`.
pub(super) fn page_answer(
    shared: &Shared,
    path: &str,
    key: &str,
    items: &[Value],
    query: &HashMap<String, String>,
) -> Response {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .map_or(PAGE_SIZE, |p| p.clamp(1, PAGE_SIZE));
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let start = (page - 1).saturating_mul(per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let url = |n: usize| {
        json!(format!(
            "{}{path}?page={n}&per_page={per_page}",
            shared.base
        ))
    };
    let next = if end < items.len() {
        url(page + 1)
    } else {
        Value::Null
    };
    let previous = if page > 1 { url(page - 1) } else { Value::Null };
    json_answer(
        StatusCode::OK,
        json!({
            key: &items[start..end], "next_page": next, "previous_page": previous,
            "count": items.len()
        }),
    )
}

async fn user_fields(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fields = shared.state().store.fields().to_vec();
    page_answer(
        &shared,
        "/api/v2/user_fields.json",
        "user_fields",
        &fields,
        &query,
    )
}

async fn create_many(
    State(s): State<Arc<Shared>>,
    Extension(f): Extension<JobFate>,
    body: Bytes,
) -> Response {
    bulk(&s, BulkKind::CreateMany, f, &body)
}

async fn create_or_update_many(
    State(s): State<Arc<Shared>>,
    Extension(f): Extension<JobFate>,
    body: Bytes,
) -> Response {
    bulk(&s, BulkKind::CreateOrUpdateMany, f, &body)
}

/// Also the unconfirmed form `update_many.json?ids=1,2` (or `external_ids=`) with one
/// `{"user": {...}}` applied to each.
async fn update_many(
    State(s): State<Arc<Shared>>,
    Extension(f): Extension<JobFate>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let ids = split_list(query.get("ids"));
    let external_ids = split_list(query.get("external_ids"));
    if ids.is_empty() && external_ids.is_empty() {
        return bulk(&s, BulkKind::UpdateMany, f, &body);
    }
    let Some(user) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("user").cloned())
        .filter(Value::is_object)
    else {
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "InvalidValue", "description": "user must be an object"}),
        );
    };
    let with = |key: &str, value: Value| {
        let mut one = user.clone();
        one[key] = value;
        one
    };
    let by_id = ids
        .iter()
        .map(|id| with("id", id.parse::<u64>().map_or(json!(id), |n| json!(n))));
    let by_external = external_ids.iter().map(|x| with("external_id", json!(x)));
    let users: Vec<Value> = by_id.chain(by_external).collect();
    let body = serde_json::to_vec(&json!({ "users": users })).unwrap_or_default();
    bulk(&s, BulkKind::UpdateMany, f, &body)
}

/// Checks a bulk body against Zendesk's limits and starts its job.
fn bulk(shared: &Shared, kind: BulkKind, fate: JobFate, body: &[u8]) -> Response {
    if !shared.config.bulk_import_enabled {
        return json_answer(
            StatusCode::FORBIDDEN,
            json!({"error": "Forbidden", "message": "Data imports are not enabled"}),
        );
    }
    let users = match parse_users(body) {
        Ok(users) => users,
        Err(description) => {
            return json_answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "InvalidValue", "description": description}),
            );
        }
    };
    if users.len() > MAX_USERS_PER_CALL {
        let verb = if kind == BulkKind::UpdateMany {
            "updated"
        } else {
            "created"
        };
        let description = format!("Maximum {MAX_USERS_PER_CALL} users may be {verb} per call");
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "TooManyValues", "description": description}),
        );
    }
    start_job(shared, kind, fate, users)
}

fn parse_users(body: &[u8]) -> Result<Vec<Value>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("The body is not valid JSON: {e}"))?;
    match value.get("users") {
        Some(Value::Array(users)) => Ok(users.clone()),
        _ => Err("users must be an array of user objects".into()),
    }
}

/// The answer to a bulk call over the job limit, in the form chosen (undocumented).
fn too_many_jobs(shared: &Shared, wait_secs: u64) -> Response {
    let description = format!(
        "Number of simultaneous jobs is limited to {}",
        shared.config.job_limit
    );
    let body = json!({"error": "TooManyJobs", "description": description});
    match shared.config.job_limit_answer {
        JobLimitAnswer::TooManyJobs => {
            let mut response = json_answer(StatusCode::TOO_MANY_REQUESTS, body);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after(shared, wait_secs));
            response
        }
        JobLimitAnswer::Bare429 => {
            html_answer(StatusCode::TOO_MANY_REQUESTS, "429 Too Many Requests")
        }
        JobLimitAnswer::BadRequest => json_answer(StatusCode::BAD_REQUEST, body),
    }
}

/// Creates the job, or refuses it when 30 jobs are already queued or working.
pub(super) fn start_job(
    shared: &Shared,
    kind: BulkKind,
    fate: JobFate,
    users: Vec<Value>,
) -> Response {
    let now = shared.clock.now();
    let config = &shared.config;
    let mut state = shared.state();
    let counted = |j: &&Job| {
        j.is_active(now) && (config.job_limit_scope == JobLimitScope::Account || j.kind == kind)
    };
    if state.jobs.iter().filter(counted).count() >= config.job_limit {
        let first_end = state.jobs.iter().filter(counted).map(|j| j.done_at).min();
        drop(state);
        let wait = real_secs(shared, first_end.unwrap_or(now).saturating_sub(now));
        return too_many_jobs(shared, wait);
    }
    state.job_seq += 1;
    let start_at = now + config.job_queue_time;
    let work = config.job_time_per_user.mul_f64(users.len().max(1) as f64);
    let done_at = start_at + work;
    let order = config
        .faults
        .results_out_of_order
        .then(|| state.faults.shuffle(users.len()));
    let job = Job {
        id: job_id(state.job_seq),
        kind,
        users,
        start_at,
        done_at,
        done_wall: shared.clock.wall() + (done_at - now),
        end: JobEnd::Pending,
        fate: fate.0,
        hidden_reads: u32::from(config.faults.job_not_found_first),
        order,
        strip_index: config.faults.results_without_index,
        shapes: (config.job_results, config.job_failures),
        progress: config.job_progress,
    };
    let body = json!({ "job_status": job.render(now, &shared.base) });
    state.jobs.push(job);
    json_answer(StatusCode::OK, body)
}

/// Zendesk keeps finished job statuses for about an hour (`shared/zendesk/API.md`).
const JOB_STATUS_KEPT: Duration = Duration::from_secs(3600);

/// A job's status, or 404 while it is still hidden just after creation or once expired.
fn read_job(shared: &Shared, id: &str) -> Option<Value> {
    let now = shared.clock.now();
    let mut state = shared.state();
    let job = state.jobs.iter_mut().find(|j| j.id == id)?;
    if job.done_at + JOB_STATUS_KEPT < now {
        return None;
    }
    if job.hidden_reads > 0 {
        job.hidden_reads -= 1;
        return None;
    }
    Some(job.render(now, &shared.base))
}

async fn job_status_show(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    let id = file.strip_suffix(".json").unwrap_or(&file);
    match read_job(&shared, id) {
        Some(job) => json_answer(StatusCode::OK, json!({ "job_status": job })),
        None => record_not_found(),
    }
}

/// The account's job list: the last 100 jobs still kept, newest first (docs: the list
/// endpoint shows only the last 100).
async fn job_statuses_list(State(shared): State<Arc<Shared>>) -> Response {
    let now = shared.clock.now();
    let state = shared.state();
    let jobs: Vec<Value> = state
        .jobs
        .iter()
        .rev()
        .filter(|j| j.done_at + JOB_STATUS_KEPT >= now)
        .take(100)
        .map(|j| j.render(now, &shared.base))
        .collect();
    drop(state);
    list_answer("job_statuses", jobs)
}

async fn job_statuses_show_many(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let ids = split_list(query.get("ids"));
    let jobs: Vec<Value> = ids.iter().filter_map(|id| read_job(&shared, id)).collect();
    json_answer(StatusCode::OK, json!({ "job_statuses": jobs }))
}

pub(super) fn split_list(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A list that fits one page, under `key`.
pub(super) fn list_answer(key: &str, items: Vec<Value>) -> Response {
    let count = items.len();
    let body = json!({ key: items, "next_page": null, "previous_page": null, "count": count });
    json_answer(StatusCode::OK, body)
}

/// A `show_many` asks for at most 100 records.
pub(super) fn too_many_values(asked: usize) -> Option<Response> {
    (asked > MAX_USERS_PER_CALL).then(|| {
        json_answer(
            StatusCode::BAD_REQUEST,
            json!({
                "error": "TooManyValues",
                "description": "Maximum 100 values may be requested per call"
            }),
        )
    })
}

async fn users_show_many(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let ids = split_list(query.get("ids"));
    let external_ids = split_list(query.get("external_ids"));
    if let Some(refusal) = too_many_values(ids.len().max(external_ids.len())) {
        return refusal;
    }
    let state = shared.state();
    let by_id = ids
        .iter()
        .filter_map(|id| id.parse().ok())
        .filter_map(|id| state.store.user(id));
    let by_external = external_ids
        .iter()
        .filter_map(|x| state.store.find_by_external_id(x));
    let users: Vec<Value> = by_id.chain(by_external).collect();
    list_answer("users", users)
}

/// `query=email:x` (quotes allowed; any of a user's emails) or `external_id=x`; Zendesk
/// answers under `users` (the unified `/api/v2/search.json` is the one that says `results`).
/// A user created less than `search_lag` ago is not found yet: search is eventually
/// consistent.
async fn users_search(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = shared.clock.wall();
    let lag = shared.config.search_lag;
    let state = shared.state();
    let found = if let Some(external) = query.get("external_id") {
        state.store.find_by_external_id(external)
    } else {
        let text = query.get("query").map_or("", String::as_str).trim();
        let email = text
            .strip_prefix("email:")
            .map(|e| e.trim().trim_matches('"'));
        email
            .filter(|e| state.store.searchable_email(e, now, lag))
            .and_then(|e| state.store.find_by_email(e))
    };
    let users: Vec<Value> = found
        .filter(|u| {
            u["id"]
                .as_u64()
                .is_some_and(|id| state.store.searchable(id, now, lag))
        })
        .into_iter()
        .collect();
    list_answer("users", users)
}

/// The account's settings: the `user` section is the sandbox's, with Zendesk's keys.
async fn account_settings(State(shared): State<Arc<Shared>>) -> Response {
    let user = shared.config.user_settings;
    json_answer(
        StatusCode::OK,
        json!({"settings": {
            "user": {
                "tagging": user.tagging,
                "time_zone_selection": true,
                "language_selection": true,
                "multiple_organizations": user.multiple_organizations,
                "agent_created_welcome_emails": user.agent_created_welcome_emails,
                "end_user_phone_number_validation": user.end_user_phone_number_validation,
                "have_gravatars_enabled": true
            },
            "active_features": {
                "user_tagging": user.tagging,
                "organization_access_enabled": true
            }
        }}),
    )
}

fn id_of(file: &str) -> Option<u64> {
    file.strip_suffix(".json").unwrap_or(file).parse().ok()
}

async fn identities_list(State(shared): State<Arc<Shared>>, Path(user): Path<String>) -> Response {
    let state = shared.state();
    let Some(id) = id_of(&user).filter(|id| state.store.has_user(*id)) else {
        return record_not_found();
    };
    list_answer("identities", state.store.identities(id))
}

/// The identity becomes the primary one; the answer lists the user's identities after it.
async fn make_primary(
    State(shared): State<Arc<Shared>>,
    Path((user, identity)): Path<(String, String)>,
) -> Response {
    let now = shared.clock.wall();
    let (Some(user), Some(identity)) = (id_of(&user), id_of(&identity)) else {
        return record_not_found();
    };
    match shared.state().store.make_primary(user, identity, now) {
        Some(identities) => json_answer(StatusCode::OK, json!({ "identities": identities })),
        None => record_not_found(),
    }
}

async fn user_show(State(shared): State<Arc<Shared>>, Path(file): Path<String>) -> Response {
    let id = id_of(&file);
    let state = shared.state();
    match id.and_then(|id| state.store.user(id)) {
        Some(user) => json_answer(StatusCode::OK, json!({ "user": user })),
        None => record_not_found(),
    }
}

/// The authorization page: approves at once (or refuses, when configured) and sends the
/// browser back to the loopback redirect with `code` and `state`.
async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    let (client_id, redirect_uri, state_param) =
        (get("client_id"), get("redirect_uri"), get("state"));
    let known = shared
        .config
        .oauth_clients
        .iter()
        .any(|c| c.client_id == client_id);
    let redirect_ok = redirect_uri.starts_with("https://")
        || redirect_uri.starts_with("http://127.0.0.1")
        || redirect_uri.starts_with("http://localhost")
        || redirect_uri.starts_with("http://[::1]");
    if !known || !redirect_ok || get("response_type") != "code" {
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({
                "error": "invalid_request",
                "error_description": "unknown client_id, bad redirect_uri or response_type"
            }),
        );
    }
    let challenge = query.get("code_challenge").cloned();
    if challenge.is_some() && get("code_challenge_method") != "S256" {
        return json_answer(
            StatusCode::BAD_REQUEST,
            json!({
                "error": "invalid_request",
                "error_description": "code_challenge_method must be S256"
            }),
        );
    }
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if shared.config.approve_authorizations {
        let grant = CodeGrant {
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge,
            scope: get("scope"),
            expires_at: shared.clock.now() + Duration::from_secs(600),
        };
        pairs.push(("code", shared.state().oauth.add_code(grant)));
    } else {
        pairs.push(("error", "access_denied".into()));
        pairs.push((
            "error_description",
            "The end-user or authorization server denied the request.".into(),
        ));
    }
    pairs.push(("state", state_param));
    redirect_to(&redirect_uri, &pairs)
}

fn redirect_to(redirect_uri: &str, pairs: &[(&str, String)]) -> Response {
    let Ok(mut url) = reqwest::Url::parse(redirect_uri) else {
        return json_answer(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    };
    url.query_pairs_mut()
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// `POST /oauth/tokens`, JSON or form-encoded.
async fn tokens(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = token_params(&headers, &body);
    match grant(&shared, &params) {
        Ok(body) => json_answer(StatusCode::OK, body),
        Err(refusal) => json_answer(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"error": refusal.error, "error_description": refusal.description}),
        ),
    }
}

fn token_params(headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let map = value.as_object().cloned().unwrap_or_default();
        return map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect();
    }
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn grant(shared: &Shared, params: &HashMap<String, String>) -> Result<Value, OAuthRefusal> {
    let get = |k: &str| params.get(k).map(String::as_str);
    let client_id = get("client_id").unwrap_or("");
    let client = shared
        .config
        .oauth_clients
        .iter()
        .find(|c| c.client_id == client_id)
        .ok_or_else(|| refusal(401, "invalid_client", "Unknown client_id"))?;
    if let Some(secret) = &client.client_secret
        && get("client_secret") != Some(secret.expose())
    {
        return Err(refusal(
            401,
            "invalid_client",
            "Client authentication failed",
        ));
    }
    let now = shared.clock.now();
    let ttl = shared.config.token_ttl;
    let mut state = shared.state();
    let issued = match get("grant_type") {
        Some("authorization_code") => state.oauth.exchange_code(
            get("code").unwrap_or(""),
            client_id,
            get("redirect_uri").unwrap_or(""),
            get("code_verifier"),
            now,
            ttl,
        )?,
        Some("refresh_token") => {
            state
                .oauth
                .refresh(get("refresh_token").unwrap_or(""), client_id, now, ttl)?
        }
        Some("client_credentials") if client.client_secret.is_some() => state
            .oauth
            .client_credentials(client_id, get("scope").unwrap_or("read write"), now, ttl),
        Some("client_credentials") => {
            return Err(refusal(
                401,
                "invalid_client",
                "client_credentials needs a confidential client",
            ));
        }
        _ => {
            return Err(refusal(
                400,
                "unsupported_grant_type",
                "Unsupported grant_type",
            ));
        }
    };
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "bearer",
        "scope": issued.scope,
        "expires_in": ttl.as_secs(),
    });
    if let Some(refresh) = issued.refresh_token {
        body["refresh_token"] = json!(refresh);
        body["refresh_token_expires_in"] = json!(30 * 24 * 3600);
    }
    Ok(body)
}

fn refusal(status: u16, error: &'static str, description: &str) -> OAuthRefusal {
    OAuthRefusal {
        status,
        error,
        description: description.into(),
    }
}
