//! A simulated Zendesk on 127.0.0.1 for tests, benchmarks, `--sandbox` and rehearsals.
//!
//! It answers the endpoints zdimport uses with the keys and types of real answers
//! (`tests/fixtures/zendesk/`), runs bulk calls as jobs over a [`SimClock`] that can be sped
//! up, enforces Zendesk's limits (100 users per call, 30 active jobs, requests per minute),
//! signs in with API tokens or OAuth, and injects seeded faults. Tests read what it holds and
//! what it was sent through [`SandboxHandle`].
//!
//! By default it answers as a live account did (`shared/zendesk/API.md`): job results without
//! an index, `rate-limit-*` headers on bulk and job answers, recorded job times, a search that
//! finds new users a minute late, an email sent for an existing user added as a secondary
//! identity, dates read back as date-times, `iana_time_zone` read-only, the account's user
//! settings at work, and `organization: {"name"}` ignored. Each other documented or
//! *unverified* possibility is a [`SandboxConfig`] field, a flag of `zdimport sandbox`, and a
//! pair of [`OPTIONS_ENV`] (see [`options`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), zdimport::sandbox::SandboxError> {
//! use zdimport::sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! println!("ZENDESK_URL={}", sandbox.url());
//! # Ok(()) }
//! ```

pub mod clock;
pub mod faults;
mod held;
pub mod jobs;
pub mod memberships;
mod oauth;
pub mod options;
mod orgs;
mod routes;
mod seed;
pub mod store;
mod time_zone;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use reqwest::Url;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;

pub use clock::SimClock;
pub use faults::{Fault, FaultConfig};
pub use options::{
    DateFields, EmailOnUpdate, JobFailures, JobLimitAnswer, JobLimitScope, JobProgress, JobResults,
    OrganizationByName, RateHeaders, UserSettings,
};

use crate::zendesk::Secret;
use faults::{Faults, ForcedFault};
use jobs::Job;
use oauth::OAuthState;
use store::Store;

/// An OAuth client the sandbox knows; without a secret it is public (PKCE only).
#[derive(Debug, Clone)]
pub struct SandboxOAuthClient {
    pub client_id: String,
    pub client_secret: Option<Secret>,
}

/// How the simulated account behaves.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub port: u16,
    /// Requests per minute of simulated time (Enterprise: 700).
    pub rate_limit: u32,
    /// Jobs queued or working at once before bulk calls are refused (Zendesk: 30).
    pub job_limit: usize,
    /// Whether the job limit counts the account's jobs or each endpoint's.
    pub job_limit_scope: JobLimitScope,
    /// How a bulk call over the job limit is refused (undocumented).
    pub job_limit_answer: JobLimitAnswer,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// Simulated time a job waits before it starts, and per user while it works (recorded:
    /// 5 s or more queued, 8–11 s per 100 users).
    pub job_queue_time: Duration,
    pub job_time_per_user: Duration,
    /// How `results` name the rows done, and the rows refused.
    pub job_results: JobResults,
    pub job_failures: JobFailures,
    /// Whether job statuses count rows (`total`, `progress`) or leave them null.
    pub job_progress: JobProgress,
    /// The rate-limit header spelling besides `X-Rate-Limit*`.
    pub rate_headers: RateHeaders,
    /// Simulated time before `users/search` finds a user created since the start (Zendesk's
    /// search is eventually consistent); zero finds it at once. `show_many` never lags.
    pub search_lag: Duration,
    /// What an `email` sent for an existing user does.
    pub email_on_update: EmailOnUpdate,
    /// How `date` custom fields read back.
    pub date_fields: DateFields,
    /// What `organization: {"name"}` in a bulk body does (undocumented).
    pub organization_by_name: OrganizationByName,
    /// The `user` section of the account settings, which changes what bulk calls do.
    pub user_settings: UserSettings,
    pub faults: FaultConfig,
    pub seed: u64,
    /// false answers the bulk calls with 403 "Data imports are not enabled".
    pub bulk_import_enabled: bool,
    /// The admin that `users/me` answers and the legacy API token belongs to.
    pub admin_email: String,
    pub api_token: Secret,
    pub oauth_clients: Vec<SandboxOAuthClient>,
    /// Lifetime of OAuth access tokens, in simulated time.
    pub token_ttl: Duration,
    /// false makes the authorization page refuse (`error=access_denied`).
    pub approve_authorizations: bool,
    /// Users present at the start, as bulk bodies would create them.
    pub users: Vec<Value>,
    /// Custom user field definitions (`key`, `type`, `title`, `custom_field_options`…).
    pub user_fields: Vec<Value>,
    /// Organizations present at the start, by name (users' organizations are added too).
    pub organizations: Vec<String>,
    /// Organizations present at the start with their keys (`name`, `external_id`,
    /// `domain_names`, `tags`, `organization_fields`…), as `organizations/create_many` bodies.
    pub organization_records: Vec<Value>,
    /// Custom organization field definitions, as `user_fields` are.
    pub organization_fields: Vec<Value>,
    /// What `organization_memberships/create_many` does with a membership that exists
    /// (undocumented). Seed users join more organizations with `organization_memberships`.
    pub existing_membership: memberships::ExistingMembership,
}

/// The client id of the public (PKCE) OAuth client every sandbox knows.
pub const PUBLIC_CLIENT_ID: &str = "zdimport";
/// The confidential client for the client credentials grant.
pub const SERVICE_CLIENT_ID: &str = "zdimport-service";

/// A recorded job waited 5 s or more before it started (`shared/zendesk/API.md`).
pub const RECORDED_JOB_QUEUE_TIME: Duration = Duration::from_secs(5);
/// Recorded jobs took about 8–11 s per 100 users: the middle of that, per user.
pub const RECORDED_JOB_TIME_PER_USER: Duration = Duration::from_millis(95);
/// Search docs: a new user can take a few minutes to appear; a minute by default.
pub const DEFAULT_SEARCH_LAG: Duration = Duration::from_secs(60);

/// Options for every sandbox this process starts (`--sandbox` rehearsals included), as
/// `name=value` pairs separated by commas, with the names of `zdimport sandbox`'s flags:
/// `ZDIMPORT_SANDBOX_OPTIONS=date-fields=as-sent,search-lag=0`.
pub const OPTIONS_ENV: &str = "ZDIMPORT_SANDBOX_OPTIONS";

impl Default for SandboxConfig {
    /// A live account (see each field), then what [`OPTIONS_ENV`] says; a pair it cannot
    /// read is left out and named on stderr.
    fn default() -> Self {
        let mut config = Self::live();
        if let Ok(options) = std::env::var(OPTIONS_ENV)
            && let Err(e) = config.set_options(&options)
        {
            eprintln!("zdimport: {OPTIONS_ENV}: {e}");
        }
        config
    }
}

impl SandboxConfig {
    /// Sets `name=value` pairs separated by commas (see [`OPTIONS_ENV`]); stops at the first
    /// it cannot read, having set those before it.
    pub fn set_options(&mut self, text: &str) -> Result<(), String> {
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("'{pair}': expected name=value"))?;
            self.set_option(name.trim(), value.trim())
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    }

    /// One option by the name of its `zdimport sandbox` flag.
    pub fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        let secs = |v: &str| {
            v.trim_end_matches('s')
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("'{v}' is not a number of seconds"))
        };
        let word = |e: options::OptionParseError| e.to_string();
        let settings = &mut self.user_settings;
        match name {
            "job-results" => self.job_results = value.parse().map_err(word)?,
            "job-limit-scope" => self.job_limit_scope = value.parse().map_err(word)?,
            "job-limit-answer" => self.job_limit_answer = value.parse().map_err(word)?,
            "job-failures" => self.job_failures = value.parse().map_err(word)?,
            "job-progress" => self.job_progress = value.parse().map_err(word)?,
            "rate-headers" => self.rate_headers = value.parse().map_err(word)?,
            "email-on-update" => self.email_on_update = value.parse().map_err(word)?,
            "date-fields" => self.date_fields = value.parse().map_err(word)?,
            "organizations-by-name" => self.organization_by_name = value.parse().map_err(word)?,
            "existing-membership" => self.existing_membership = value.parse().map_err(word)?,
            "search-lag" => self.search_lag = secs(value)?,
            "job-queue-time" => self.job_queue_time = secs(value)?,
            "job-time-per-user" => self.job_time_per_user = secs(value)?,
            "user-tagging" => settings.tagging = options::parse_switch(value).map_err(word)?,
            "multiple-organizations" => {
                settings.multiple_organizations = options::parse_switch(value).map_err(word)?;
            }
            "phone-validation" => {
                settings.end_user_phone_number_validation =
                    options::parse_switch(value).map_err(word)?;
            }
            "welcome-emails" => {
                settings.agent_created_welcome_emails =
                    options::parse_switch(value).map_err(word)?;
            }
            _ => return Err("unknown option".into()),
        }
        Ok(())
    }

    /// What a live account answers, as recorded or documented (`shared/zendesk/API.md`).
    pub fn live() -> Self {
        Self {
            port: 0,
            rate_limit: 700,
            job_limit: 30,
            job_limit_scope: JobLimitScope::default(),
            job_limit_answer: JobLimitAnswer::default(),
            speed: 1.0,
            job_queue_time: RECORDED_JOB_QUEUE_TIME,
            job_time_per_user: RECORDED_JOB_TIME_PER_USER,
            job_results: JobResults::default(),
            job_failures: JobFailures::default(),
            job_progress: JobProgress::default(),
            rate_headers: RateHeaders::default(),
            search_lag: DEFAULT_SEARCH_LAG,
            email_on_update: EmailOnUpdate::default(),
            date_fields: DateFields::default(),
            organization_by_name: OrganizationByName::default(),
            user_settings: UserSettings::default(),
            faults: FaultConfig::default(),
            seed: 0,
            bulk_import_enabled: true,
            admin_email: "admin@sandbox.example".into(),
            api_token: Secret::new("sandbox-api-token"),
            oauth_clients: vec![
                SandboxOAuthClient {
                    client_id: PUBLIC_CLIENT_ID.into(),
                    client_secret: None,
                },
                SandboxOAuthClient {
                    client_id: SERVICE_CLIENT_ID.into(),
                    client_secret: Some(Secret::new("sandbox-client-secret")),
                },
            ],
            token_ttl: Duration::from_secs(30 * 60),
            approve_authorizations: true,
            users: Vec::new(),
            user_fields: Vec::new(),
            organizations: Vec::new(),
            organization_records: Vec::new(),
            organization_fields: Vec::new(),
            existing_membership: memberships::ExistingMembership::default(),
        }
    }

    /// Adds existing users from a file: JSON `{"users": [...], "user_fields": [...],
    /// "organizations": ["Acme", {"name": "Globex", "external_id": "G-1", ...}, ...],
    /// "organization_fields": [...]}` (an organization is a name or an object), or a
    /// worksheet whose column names are user keys (`name`, `email`, `external_id`, `role`,
    /// `organization`, `tags`…; `user_fields.KEY` for a custom field).
    pub fn seed_from_file(&mut self, path: &Path) -> Result<(), SandboxError> {
        let read_error = |reason: String| SandboxError::Seed {
            path: path.display().to_string(),
            reason,
        };
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if !is_json {
            let users = seed::users_from_worksheet(path).map_err(|e| read_error(e.to_string()))?;
            self.users.extend(users);
            return Ok(());
        }
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| read_error(e.to_string()))?;
        let list = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        self.users.extend(list("users"));
        self.user_fields.extend(list("user_fields"));
        self.organization_fields.extend(list("organization_fields"));
        for org in list("organizations") {
            match org {
                Value::String(name) => self.organizations.push(name),
                record => self.organization_records.push(record),
            }
        }
        Ok(())
    }
}

/// The sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("{path}: cannot seed the sandbox: {reason}")]
    Seed { path: String, reason: String },
    #[error("seed organization {index} was refused: {error}: {details}")]
    SeedOrganization {
        index: usize,
        error: String,
        details: String,
    },
    #[error("seed user {index} was refused: {error}: {details}")]
    SeedUser {
        index: usize,
        error: String,
        details: String,
    },
}

/// One request the sandbox answered, for tests to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// 0 when the connection was dropped without an answer.
    pub status: u16,
    /// Simulated time of arrival.
    pub at: Duration,
}

/// Everything that changes, behind one lock that is never held across an await.
#[derive(Debug)]
struct State {
    store: Store,
    admin_id: u64,
    jobs: Vec<Job>,
    job_seq: u64,
    faults: Faults,
    /// The current rate-limit minute (simulated) and the requests counted in it.
    window: u64,
    used: u32,
    requests: Vec<RequestRecord>,
    oauth: OAuthState,
}

impl State {
    /// Finishes every job whose end time has passed, in the order they end.
    fn tick(&mut self, now: Duration) {
        let mut due: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| {
                matches!(self.jobs[i].end, jobs::JobEnd::Pending) && self.jobs[i].done_at <= now
            })
            .collect();
        due.sort_by_key(|&i| (self.jobs[i].done_at, i));
        for i in due {
            self.jobs[i].finish(&mut self.store);
        }
    }

    fn active_jobs(&self, now: Duration) -> usize {
        self.jobs.iter().filter(|j| j.is_active(now)).count()
    }
}

/// What the routes share.
#[derive(Debug)]
struct Shared {
    config: SandboxConfig,
    base: String,
    clock: SimClock,
    state: Mutex<State>,
}

impl Shared {
    /// Locks the state with jobs brought up to the clock's time.
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic in a handler must not take the whole sandbox down with a poisoned lock.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tick(self.clock.now());
        state
    }
}

/// Starts sandboxes.
pub struct Sandbox;

impl Sandbox {
    /// Listens on `127.0.0.1:config.port` and serves until the handle is dropped.
    pub async fn start(config: SandboxConfig) -> Result<SandboxHandle, SandboxError> {
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| SandboxError::Bind {
                port: config.port,
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind {
                port: config.port,
                source,
            })?
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(seeded_shared(config, &base)?);
        let router = routes::router(Arc::clone(&shared));
        let shutdown = CancellationToken::new();
        tokio::spawn(serve(listener, router, shutdown.clone()));
        let url = Url::parse(&base).map_err(|e| SandboxError::Seed {
            path: base.clone(),
            reason: e.to_string(),
        })?;
        Ok(SandboxHandle {
            url,
            shared,
            shutdown,
        })
    }
}

/// How long before the sandbox's start its seed users were created.
const SEED_AGE: Duration = Duration::from_secs(24 * 60 * 60);

fn seeded_shared(config: SandboxConfig, base: &str) -> Result<Shared, SandboxError> {
    let clock = SimClock::new(config.speed);
    let now = clock.wall();
    let rules = store::Rules {
        email_on_update: config.email_on_update,
        date_fields: config.date_fields,
        organization_by_name: config.organization_by_name,
        user_settings: config.user_settings,
    };
    // Seed users join (and create) the organizations they name, whatever bulk bodies do.
    let mut store = Store::with_rules(
        base,
        store::Rules {
            organization_by_name: options::OrganizationByName::Create,
            ..rules
        },
    );
    for field in &config.user_fields {
        store.add_field(field, now);
    }
    for field in &config.organization_fields {
        store.add_organization_field(field, now);
    }
    for (index, org) in config.organization_records.iter().enumerate() {
        store
            .create_organization(org, now)
            .map_err(|e| SandboxError::SeedOrganization {
                index,
                error: e.error.into(),
                details: e.details,
            })?;
    }
    for name in &config.organizations {
        store.add_organization(name);
    }
    let admin = serde_json::json!({
        "name": "Sandbox Admin", "email": config.admin_email, "role": "admin", "verified": true
    });
    let admin_id = store
        .create(&admin, now)
        .map_err(|e| SandboxError::SeedUser {
            index: 0,
            error: e.error.into(),
            details: e.details,
        })?;
    // The account's users were there before it was opened: created a day earlier, so a
    // client telling them from users its own requests created (by `created_at` against the
    // `Date` of its answers) sees them as a live account's.
    let before = now - SEED_AGE;
    for (index, user) in config.users.iter().enumerate() {
        let id = store
            .create(&as_stored(user), before)
            .map_err(|e| SandboxError::SeedUser {
                index,
                error: e.error.into(),
                details: e.details,
            })?;
        store.seed_memberships(id, user, before);
    }
    store.memberships.existing = config.existing_membership;
    store.set_rules(rules);
    store.settle();
    let state = State {
        store,
        admin_id,
        jobs: Vec::new(),
        job_seq: 0,
        faults: Faults::new(config.faults.clone(), config.seed),
        window: 0,
        used: 0,
        requests: Vec::new(),
        oauth: OAuthState::default(),
    };
    Ok(Shared {
        config,
        base: base.to_owned(),
        clock,
        state: Mutex::new(state),
    })
}

/// A seed user describes what the account holds: its `iana_time_zone` (read-only in a bulk
/// body) is its zone.
fn as_stored(user: &Value) -> Value {
    let mut user = user.clone();
    if let Some(zone) = user.get("iana_time_zone").cloned()
        && user.get("time_zone").is_none()
    {
        user["time_zone"] = zone;
    }
    user
}

/// Cancelled by a handler to drop its connection without an answer (the dropped-connection
/// fault): the connection task stops serving and the socket closes.
#[derive(Debug, Clone)]
struct ConnectionKill(CancellationToken);

/// Our own accept loop instead of `axum::serve`, so that one connection can be dropped.
async fn serve(listener: TcpListener, router: axum::Router, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        tokio::spawn(serve_connection(stream, router.clone(), shutdown.clone()));
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: axum::Router,
    shutdown: CancellationToken,
) {
    let kill = CancellationToken::new();
    let marker = ConnectionKill(kill.clone());
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(marker.clone());
        let mut router = router.clone();
        async move { router.call(request).await }
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = kill.cancelled() => {}
        () = shutdown.cancelled() => {}
    }
}

/// A running sandbox; dropping it stops it.
#[derive(Debug)]
pub struct SandboxHandle {
    url: Url,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT/`, the `ZENDESK_URL` to use.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The simulated clock: speed it up or move it forward.
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// Every user held now (jobs due by now applied first), the admin included.
    pub fn users(&self) -> Vec<Value> {
        self.shared.state().store.users().collect()
    }

    /// Every organization held now (jobs due by now applied first), by id.
    pub fn organizations(&self) -> Vec<Value> {
        self.shared.state().store.organizations_json()
    }

    pub fn user_by_email(&self, email: &str) -> Option<Value> {
        self.shared.state().store.find_by_email(email)
    }

    pub fn user_by_external_id(&self, external_id: &str) -> Option<Value> {
        self.shared.state().store.find_by_external_id(external_id)
    }

    /// A user's identities as `GET /api/v2/users/{id}/identities.json` lists them: the
    /// primary email, secondary emails, and those sent in `identities`.
    pub fn identities(&self, user_id: u64) -> Vec<Value> {
        self.shared.state().store.identities(user_id)
    }

    /// Welcome emails the account would have sent to users created since the start (the
    /// `agent_created_welcome_emails` setting; `skip_verify_email` skips one).
    pub fn welcome_emails(&self) -> usize {
        self.shared.state().store.welcome_emails()
    }

    /// Every request answered so far, in order of arrival.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.state().requests.clone()
    }

    /// Jobs created so far and how many are still queued or working.
    pub fn job_counts(&self) -> (usize, usize) {
        let state = self.shared.state();
        (state.jobs.len(), state.active_jobs(self.shared.clock.now()))
    }

    /// Makes the next request whose path contains `path` meet `fault`.
    pub fn force_fault(&self, path: &str, fault: Fault) {
        self.shared.state().faults.force(ForcedFault {
            path: path.into(),
            fault,
        });
    }

    /// An OAuth access token for the admin, as if a client had signed in; `ttl` in simulated
    /// time (`None`: the configured lifetime).
    pub fn issue_access_token(&self, ttl: Option<Duration>) -> Secret {
        let now = self.shared.clock.now();
        let ttl = ttl.unwrap_or(self.shared.config.token_ttl);
        let mut state = self.shared.state();
        Secret::new(state.oauth.issue_access(PUBLIC_CLIENT_ID, now + ttl, None))
    }

    /// How many access tokens `/oauth/tokens` has issued.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.state().oauth.issued()
    }

    /// A line to paste into a shell: the URL and the legacy credentials.
    pub fn env_line(&self) -> String {
        let config = &self.shared.config;
        format!(
            "ZENDESK_URL={} ZENDESK_EMAIL={} ZENDESK_API_TOKEN={}",
            self.url.as_str().trim_end_matches('/'),
            config.admin_email,
            config.api_token.expose()
        )
    }

    /// Stops accepting and closes every connection.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
