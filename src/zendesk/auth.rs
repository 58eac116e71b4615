//! Signing in: legacy API tokens, ready bearer tokens, and OAuth tokens that refresh themselves.
//!
//! API tokens stop working on 2027-04-30, so OAuth is the main way in (`shared/zendesk/API.md`,
//! Authentication). Access tokens expire (30 minutes by default) and a refresh rotates the pair:
//! the old refresh token stops working, so exactly one refresh may run at a time, and requests
//! that failed with the old access token must wait for it rather than start their own.

use std::sync::Arc;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use super::error::{ApiReason, RequestLabel, ZendeskError};
use super::rate::RateInfo;
use super::secret::Secret;

/// Renew an access token this long before Zendesk says it expires, so a request sent just
/// before expiry does not arrive just after.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// How long one connection to the login callback port may take to send its request line.
const CALLBACK_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest access-token lifetime believed from a token endpoint: Zendesk's own maximum
/// (48 h). A larger `expires_in` (up to `u64::MAX` from a broken or hostile server) is taken as
/// this, so the token is renewed in time and no instant overflows.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// How a request proves who sends it.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// Legacy basic auth `{email}/token:{token}`; retired by Zendesk on 2027-04-30.
    ApiToken { email: String, token: Secret },
    /// A ready OAuth access token (`ZENDESK_OAUTH_TOKEN`), never refreshed.
    Bearer(Secret),
    /// OAuth tokens renewed before they expire and after a 401.
    OAuth(Arc<TokenManager>),
}

/// An OAuth client registered in the Zendesk admin centre.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub client_id: String,
    /// Confidential clients only; public clients use PKCE alone.
    pub client_secret: Option<Secret>,
}

/// The answer of `POST /oauth/tokens`.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenAnswer {
    pub access_token: Secret,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    /// Seconds; absent on tokens that never expire.
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub refresh_token_expires_in: Option<u64>,
}

/// Where a refresh token is kept between refreshes: never a file of ours.
pub trait RefreshStore: Send + Sync + std::fmt::Debug {
    fn load(&self) -> Option<Secret>;
    fn save(&self, token: &Secret);
    fn clear(&self);
    /// Whether the token saved last outlives this process (read back from where it is kept).
    fn keeps(&self) -> bool {
        false
    }
}

/// Keeps the refresh token in this process only.
#[derive(Debug, Default)]
pub struct MemoryStore(StdMutex<Option<Secret>>);

impl RefreshStore for MemoryStore {
    fn load(&self) -> Option<Secret> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }

    fn save(&self, token: &Secret) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(token.clone());
        }
    }

    fn clear(&self) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = None;
        }
    }
}

/// The operating system's keyring when it answers, this process's memory otherwise.
///
/// On Linux this is the kernel keyring (keyutils), which needs no D-Bus or system library; a
/// container that forbids the syscalls simply falls back to memory.
#[derive(Debug)]
pub struct KeyringStore {
    entry: Option<keyring::Entry>,
    memory: MemoryStore,
}

impl KeyringStore {
    /// One entry per account and OAuth client: `zdimport` / `{host} {client_id}`.
    pub fn new(host: &str, client_id: &str) -> Self {
        let entry = keyring::Entry::new("zdimport", &format!("{host} {client_id}")).ok();
        Self {
            entry,
            memory: MemoryStore::default(),
        }
    }
}

impl RefreshStore for KeyringStore {
    fn load(&self) -> Option<Secret> {
        self.memory.load().or_else(|| {
            let entry = self.entry.as_ref()?;
            entry.get_password().ok().map(Secret::from)
        })
    }

    fn save(&self, token: &Secret) {
        self.memory.save(token);
        if let Some(entry) = &self.entry {
            // Best effort: a keyring that refuses leaves the token in memory for this run.
            let _ = entry.set_password(token.expose());
        }
    }

    fn clear(&self) {
        self.memory.clear();
        if let Some(entry) = &self.entry {
            let _ = entry.delete_credential();
        }
    }

    fn keeps(&self) -> bool {
        let kept = self.entry.as_ref().and_then(|e| e.get_password().ok());
        kept.is_some_and(|k| self.memory.load().is_some_and(|m| m.expose() == k))
    }
}

/// The date Zendesk stops accepting API tokens, for the warning legacy sign-in prints.
pub const API_TOKEN_RETIREMENT: &str = "2027-04-30";

/// What every front end says when an API token signs in.
pub fn legacy_token_warning() -> String {
    format!(
        "signing in with an API token: Zendesk deactivates a token unused for 30 days (so a \
         monthly import can find it gone) and stops accepting API tokens on \
         {API_TOKEN_RETIREMENT}; run `zdimport login` or set ZENDESK_CLIENT_ID and \
         ZENDESK_CLIENT_SECRET"
    )
}

/// A placeholder client id: no Zendesk account has it (only Zendesk issues global `zdg-…`
/// clients; an admin creates a local one), so `zdimport login` asks for the operator's own.
pub const DEFAULT_CLIENT_ID: &str = "zdimport";

/// The loopback port `zdimport login` listens on unless told otherwise: fixed, because the
/// redirect URL must be registered on the OAuth client, and whether Zendesk accepts any port
/// for a registered loopback URL is unverified (API.md).
pub const DEFAULT_REDIRECT_PORT: u16 = 47_800;

/// The lifetimes asked for at sign-in (Zendesk allows 5 min–48 h and 7–90 days): an access
/// token for two hours of import, and a refresh token that outlives a month between imports.
pub const ACCESS_TOKEN_LIFETIME_SECS: u64 = 2 * 3600;
pub const REFRESH_TOKEN_LIFETIME_SECS: u64 = 90 * 24 * 3600;

/// What the config remembers of an account's sign-in (`accounts.json`, keyed by host): the
/// OAuth client `zdimport login` used, so later runs find its refresh token. Never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct RememberedClient {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_port: Option<u16>,
}

/// `accounts.json` in the config dir (`ZDIMPORT_CONFIG_DIR` as `var` reads it, else the
/// platform's).
fn accounts_path(var: impl Fn(&str) -> Option<String>) -> Option<std::path::PathBuf> {
    let dir = match var(crate::profile::CONFIG_ENV).filter(|d| !d.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => directories::ProjectDirs::from("", "", "zdimport")?
            .config_dir()
            .to_path_buf(),
    };
    Some(dir.join("accounts.json"))
}

fn remembered_all(
    var: impl Fn(&str) -> Option<String>,
) -> std::collections::BTreeMap<String, RememberedClient> {
    accounts_path(var)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The client remembered for an account host.
pub fn remembered_client(
    host: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Option<RememberedClient> {
    remembered_all(var).remove(host)
}

/// Remembers the client for an account host; returns the file written.
pub fn remember_client(
    host: &str,
    entry: RememberedClient,
    var: impl Fn(&str) -> Option<String>,
) -> Result<std::path::PathBuf, String> {
    let path = accounts_path(&var).ok_or("no config directory: set ZDIMPORT_CONFIG_DIR")?;
    let mut all = remembered_all(&var);
    all.insert(host.to_owned(), entry);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut json = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
    json.push('\n');
    std::fs::write(&path, json).map_err(io)?;
    Ok(path)
}

/// The redirect URL to register on the OAuth client for a loopback port.
pub fn redirect_uri(port: u16) -> String {
    format!("http://127.0.0.1:{port}/callback")
}

/// What an import needs: write users, read fields, jobs and `users/me`.
pub const DEFAULT_SCOPE: &str = "read write";

/// Credentials chosen from the environment, and a warning to show when they are legacy ones.
#[derive(Debug)]
pub struct SignIn {
    pub credentials: Credentials,
    pub warning: Option<String>,
}

/// Chooses credentials, OAuth first: `ZENDESK_OAUTH_TOKEN`; `ZENDESK_CLIENT_ID` +
/// `ZENDESK_CLIENT_SECRET` (client credentials grant); a refresh token that `zdimport login`
/// left in `store`; then legacy `ZENDESK_EMAIL` + `ZENDESK_API_TOKEN`, with a warning.
///
/// `var` reads a variable (`std::env::var` in the binary, a map in tests).
pub async fn sign_in(
    base: &Url,
    var: impl Fn(&str) -> Option<String>,
    store: Arc<dyn RefreshStore>,
    timeout: Duration,
) -> Result<SignIn, ZendeskError> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let oauth = |credentials| SignIn {
        credentials,
        warning: None,
    };
    if let Some(token) = var("ZENDESK_OAUTH_TOKEN") {
        return Ok(oauth(Credentials::Bearer(Secret::new(token))));
    }
    let client_id = var("ZENDESK_CLIENT_ID");
    if let (Some(id), Some(secret)) = (&client_id, var("ZENDESK_CLIENT_SECRET")) {
        let client = OAuthClient {
            client_id: id.clone(),
            client_secret: Some(Secret::new(secret)),
        };
        let tokens = TokenManager::client_credentials(base, client, DEFAULT_SCOPE, timeout).await?;
        return Ok(oauth(Credentials::OAuth(tokens)));
    }
    if store.load().is_some() {
        let host = base.host_str().unwrap_or_default();
        let client_id = client_id
            .or_else(|| remembered_client(host, var).map(|r| r.client_id))
            .unwrap_or_else(|| DEFAULT_CLIENT_ID.into());
        let client = OAuthClient {
            client_id,
            client_secret: None,
        };
        let tokens = TokenManager::from_refresh_token(base, client, store, timeout).await?;
        return Ok(oauth(Credentials::OAuth(tokens)));
    }
    if let (Some(email), Some(token)) = (var("ZENDESK_EMAIL"), var("ZENDESK_API_TOKEN")) {
        return Ok(SignIn {
            credentials: Credentials::ApiToken {
                email,
                token: Secret::new(token),
            },
            warning: Some(legacy_token_warning()),
        });
    }
    Err(ZendeskError::Auth(
        "no credentials: run `zdimport login`, or set ZENDESK_CLIENT_ID + ZENDESK_CLIENT_SECRET, \
         ZENDESK_OAUTH_TOKEN, or ZENDESK_EMAIL + ZENDESK_API_TOKEN"
            .into(),
    ))
}

/// The refresh token store for an account: the OS keyring, or memory only when
/// `ZDIMPORT_KEYRING=memory` (tests, and machines whose keyring misbehaves).
pub fn refresh_store(
    host: &str,
    client_id: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Arc<dyn RefreshStore> {
    if var("ZDIMPORT_KEYRING").is_some_and(|v| v.eq_ignore_ascii_case("memory")) {
        return Arc::new(MemoryStore::default());
    }
    // No client named: the one `zdimport login` remembered for the account.
    let remembered = (client_id == DEFAULT_CLIENT_ID)
        .then(|| remembered_client(host, &var))
        .flatten();
    let client_id = remembered
        .as_ref()
        .map_or(client_id, |r| r.client_id.as_str());
    Arc::new(KeyringStore::new(host, client_id))
}

/// How a new access token is obtained when the current one runs out.
#[derive(Clone, Debug)]
enum Renewal {
    /// `grant_type=refresh_token` with the stored (rotating) refresh token.
    RefreshToken,
    /// `grant_type=client_credentials` again: this grant has no refresh token.
    ClientCredentials { scope: String },
}

#[derive(Debug)]
struct TokenState {
    access: Secret,
    expires_at: Option<Instant>,
    /// Bumped at every renewal, so a request that got a 401 with an older token knows the
    /// token was already renewed and does not renew it again.
    generation: u64,
}

/// Holds the current access token and renews it once for every request that needs it.
#[derive(Debug)]
pub struct TokenManager {
    http: reqwest::Client,
    token_url: Url,
    client: OAuthClient,
    renewal: Renewal,
    store: Arc<dyn RefreshStore>,
    timeout: Duration,
    state: Mutex<TokenState>,
    renewals: AtomicU64,
}

impl TokenManager {
    /// Runs the client credentials grant (`ZENDESK_CLIENT_ID` + `ZENDESK_CLIENT_SECRET`).
    pub async fn client_credentials(
        base: &Url,
        client: OAuthClient,
        scope: &str,
        timeout: Duration,
    ) -> Result<Arc<Self>, ZendeskError> {
        let http = token_http(timeout)?;
        let token_url = token_url(base)?;
        let body = grant_body(&client, "client_credentials", &[("scope", scope)]);
        let answer = request_token(&http, &token_url, &body, timeout).await?;
        let renewal = Renewal::ClientCredentials {
            scope: scope.to_owned(),
        };
        let store: Arc<dyn RefreshStore> = Arc::new(MemoryStore::default());
        Ok(Arc::new(Self::new(
            http, token_url, client, renewal, store, timeout, &answer,
        )))
    }

    /// Starts from the tokens an authorization code exchange (or a refresh) answered; the
    /// refresh token goes to `store`.
    pub fn from_answer(
        base: &Url,
        client: OAuthClient,
        answer: &TokenAnswer,
        store: Arc<dyn RefreshStore>,
        timeout: Duration,
    ) -> Result<Arc<Self>, ZendeskError> {
        if let Some(refresh) = &answer.refresh_token {
            store.save(refresh);
        }
        let http = token_http(timeout)?;
        let token_url = token_url(base)?;
        Ok(Arc::new(Self::new(
            http,
            token_url,
            client,
            Renewal::RefreshToken,
            store,
            timeout,
            answer,
        )))
    }

    /// Starts from a refresh token kept by an earlier `zdimport login`: renews at once, which
    /// also rotates the stored refresh token.
    pub async fn from_refresh_token(
        base: &Url,
        client: OAuthClient,
        store: Arc<dyn RefreshStore>,
        timeout: Duration,
    ) -> Result<Arc<Self>, ZendeskError> {
        let placeholder = TokenAnswer {
            access_token: Secret::new(""),
            token_type: None,
            scope: None,
            expires_in: Some(0),
            refresh_token: None,
            refresh_token_expires_in: None,
        };
        let manager = Self::from_answer(base, client, &placeholder, store, timeout)?;
        {
            let mut state = manager.state.lock().await;
            manager.renew_locked(&mut state).await?;
        }
        Ok(manager)
    }

    fn new(
        http: reqwest::Client,
        token_url: Url,
        client: OAuthClient,
        renewal: Renewal,
        store: Arc<dyn RefreshStore>,
        timeout: Duration,
        answer: &TokenAnswer,
    ) -> Self {
        let state = TokenState {
            access: answer.access_token.clone(),
            expires_at: expiry(answer.expires_in),
            generation: 0,
        };
        Self {
            http,
            token_url,
            client,
            renewal,
            store,
            timeout,
            state: Mutex::new(state),
            renewals: AtomicU64::new(0),
        }
    }

    /// The access token to send now and its generation, renewed first if it is about to expire.
    pub async fn access(&self) -> Result<(Secret, u64), ZendeskError> {
        let mut state = self.state.lock().await;
        let expiring = state.expires_at.is_some_and(|at| at <= Instant::now());
        if expiring {
            self.renew_locked(&mut state).await?;
        }
        Ok((state.access.clone(), state.generation))
    }

    /// After a 401 with the token of `generation`: renews it unless another request already
    /// did. Requests arriving meanwhile wait on the lock, so there is one renewal for all.
    pub async fn renew_after_unauthorized(&self, generation: u64) -> Result<(), ZendeskError> {
        let mut state = self.state.lock().await;
        if state.generation != generation {
            return Ok(());
        }
        tracing::warn!("401 Unauthorized: renewing the access token");
        self.renew_locked(&mut state).await
    }

    /// How many times the access token was renewed; tests check it is exactly once.
    pub fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    /// The refresh token store, so `login` can keep what it got.
    pub fn store(&self) -> &Arc<dyn RefreshStore> {
        &self.store
    }

    async fn renew_locked(&self, state: &mut TokenState) -> Result<(), ZendeskError> {
        let body = match &self.renewal {
            Renewal::ClientCredentials { scope } => {
                grant_body(&self.client, "client_credentials", &[("scope", scope)])
            }
            Renewal::RefreshToken => {
                let refresh = self.store.load().ok_or_else(|| {
                    ZendeskError::Auth(
                        "the access token expired and there is no refresh token: \
                         run `zdimport login`"
                            .into(),
                    )
                })?;
                with_lifetimes(grant_body(
                    &self.client,
                    "refresh_token",
                    &[("refresh_token", refresh.expose())],
                ))
            }
        };
        let grant = match self.renewal {
            Renewal::ClientCredentials { .. } => "client credentials",
            Renewal::RefreshToken => "refresh token",
        };
        let answer = request_token(&self.http, &self.token_url, &body, self.timeout)
            .await
            .inspect_err(|e| tracing::error!("access token not renewed ({grant}): {e}"))?;
        // Never the token: only how it was renewed and for how long.
        tracing::info!(
            "access token renewed ({grant}), expires in {}",
            answer
                .expires_in
                .map_or_else(|| "an unknown time".to_owned(), |s| format!("{s}s"))
        );
        if let Some(refresh) = &answer.refresh_token {
            // Rotation: the old refresh token no longer works, keep only the new one.
            self.store.save(refresh);
        }
        state.access = answer.access_token;
        state.expires_at = expiry(answer.expires_in);
        state.generation += 1;
        self.renewals.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// When to renew: `EXPIRY_MARGIN` before the end, or halfway for tokens shorter than twice
/// the margin (a renewal that answers a token already "expiring" would renew on every call).
/// A lifetime past [`MAX_TOKEN_LIFETIME`] is taken as that.
fn expiry(expires_in: Option<u64>) -> Option<Instant> {
    expires_in.map(|secs| {
        let lifetime = Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME);
        Instant::now() + lifetime - EXPIRY_MARGIN.min(lifetime / 2)
    })
}

fn token_http(timeout: Duration) -> Result<reqwest::Client, ZendeskError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ZendeskError::Auth(format!("cannot build an HTTP client: {e}")))
}

fn token_url(base: &Url) -> Result<Url, ZendeskError> {
    base.join("/oauth/tokens")
        .map_err(|e| ZendeskError::BadUrl {
            url: base.to_string(),
            reason: e.to_string(),
        })
}

fn grant_body(client: &OAuthClient, grant: &str, extra: &[(&str, &str)]) -> Value {
    let mut body = json!({ "grant_type": grant, "client_id": client.client_id });
    if let Some(secret) = &client.client_secret {
        body["client_secret"] = Value::from(secret.expose());
    }
    for (key, value) in extra {
        body[*key] = Value::from(*value);
    }
    body
}

/// Asks for [`ACCESS_TOKEN_LIFETIME_SECS`] and [`REFRESH_TOKEN_LIFETIME_SECS`]: Zendesk's
/// `expires_in` and `refresh_token_expires_in` (defaults 30 min and 30 days).
fn with_lifetimes(mut body: Value) -> Value {
    body["expires_in"] = Value::from(ACCESS_TOKEN_LIFETIME_SECS);
    body["refresh_token_expires_in"] = Value::from(REFRESH_TOKEN_LIFETIME_SECS);
    body
}

/// `POST /oauth/tokens`; the body holds secrets, so no error ever quotes it.
async fn request_token(
    http: &reqwest::Client,
    url: &Url,
    body: &Value,
    timeout: Duration,
) -> Result<TokenAnswer, ZendeskError> {
    let request = RequestLabel {
        method: "POST".into(),
        path: url.path().to_owned(),
    };
    let response = http
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|e| super::transport_error(&request, &e, timeout))?;
    let status = response.status();
    let rate = RateInfo::from_headers(response.headers());
    let bytes = response
        .bytes()
        .await
        .map_err(|e| super::transport_error(&request, &e, timeout))?;
    if !status.is_success() {
        return Err(ZendeskError::Api {
            request,
            status: status.as_u16(),
            reason: Box::new(ApiReason::from_body(&bytes)),
            rate,
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| ZendeskError::Decode {
        request,
        status: status.as_u16(),
        reason: e.to_string(),
    })
}

/// A PKCE pair (RFC 7636): the verifier stays here, the S256 challenge goes to the browser.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = random_token(64);
        let challenge = s256_challenge(&verifier);
        Self {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// `BASE64URL(SHA256(verifier))` without padding, the `S256` method.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Random text from the PKCE alphabet (unreserved URL characters).
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// An authorization code sign-in in progress: a loopback listener waits for the browser.
#[derive(Debug)]
pub struct LoginFlow {
    listener: TcpListener,
    base: Url,
    client: OAuthClient,
    redirect_uri: String,
    state: String,
    pkce: Pkce,
    authorize_url: Url,
}

impl LoginFlow {
    /// Listens on `127.0.0.1` (a random port) and builds the URL to open in the browser.
    pub async fn start(base: &Url, client: OAuthClient, scope: &str) -> Result<Self, ZendeskError> {
        Self::start_on(base, client, scope, 0).await
    }

    /// [`LoginFlow::start`] on a fixed port, whose [`redirect_uri`] the OAuth client lists.
    pub async fn start_on(
        base: &Url,
        client: OAuthClient,
        scope: &str,
        port: u16,
    ) -> Result<Self, ZendeskError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            ZendeskError::Auth(format!(
                "cannot listen on 127.0.0.1:{port} for the browser's redirect: {e}; choose \
                     another port with --redirect-port and register its redirect URL on the \
                     OAuth client"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| ZendeskError::Auth(format!("cannot read the listening port: {e}")))?
            .port();
        let redirect_uri = redirect_uri(port);
        let state = random_token(32);
        let pkce = Pkce::new();
        let mut authorize_url =
            base.join("/oauth/authorizations/new")
                .map_err(|e| ZendeskError::BadUrl {
                    url: base.to_string(),
                    reason: e.to_string(),
                })?;
        authorize_url
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", scope)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &state);
        Ok(Self {
            listener,
            base: base.clone(),
            client,
            redirect_uri,
            state,
            pkce,
            authorize_url,
        })
    }

    /// The page the operator approves zdimport on.
    pub fn authorize_url(&self) -> &Url {
        &self.authorize_url
    }

    /// The redirect URL the browser comes back to, as the OAuth client must list it.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the browser's redirect, checks `state`, and exchanges the code.
    pub async fn finish(self, timeout: Duration) -> Result<TokenAnswer, ZendeskError> {
        let code = self.wait_for_code().await?;
        let http = token_http(timeout)?;
        let token_url = token_url(&self.base)?;
        let body = with_lifetimes(grant_body(
            &self.client,
            "authorization_code",
            &[
                ("code", code.expose()),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", self.pkce.verifier.expose()),
            ],
        ));
        request_token(&http, &token_url, &body, timeout).await
    }

    /// Accepts every connection while earlier ones are still being read: a browser's idle
    /// preconnect, or any local process that connects and sends nothing, must not keep the real
    /// callback waiting; each read gives up after [`CALLBACK_READ_TIMEOUT`].
    async fn wait_for_code(&self) -> Result<Secret, ZendeskError> {
        let mut reading = tokio::task::JoinSet::new();
        loop {
            let (mut stream, target) = tokio::select! {
                accepted = self.listener.accept() => {
                    let (mut stream, _) = accepted.map_err(|e| {
                        ZendeskError::Auth(format!("waiting for the browser: {e}"))
                    })?;
                    reading.spawn(async move {
                        let target =
                            tokio::time::timeout(CALLBACK_READ_TIMEOUT, read_request_target(&mut stream))
                                .await
                                .ok()
                                .flatten();
                        (stream, target)
                    });
                    continue;
                }
                Some(Ok(read)) = reading.join_next(), if !reading.is_empty() => read,
            };
            let outcome = target.as_deref().and_then(|t| self.callback_outcome(t));
            let page = match &outcome {
                Some(Ok(_)) => "zdimport is signed in. You can close this tab.",
                Some(Err(_)) => "zdimport could not sign in; see the terminal.",
                None => "Not found",
            };
            let status = if outcome.is_some() {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    /// `None` for requests that are not the callback (a browser also asks for a favicon).
    fn callback_outcome(&self, target: &str) -> Option<Result<Secret, ZendeskError>> {
        let url = Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
        if url.path() != "/callback" {
            return None;
        }
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if param("state").as_deref() != Some(self.state.as_str()) {
            return Some(Err(ZendeskError::Auth(
                "the browser came back with a different state: sign-in refused".into(),
            )));
        }
        if let Some(error) = param("error") {
            let why = param("error_description").unwrap_or_default();
            return Some(Err(ZendeskError::Auth(format!(
                "Zendesk refused: {error} {why}"
            ))));
        }
        Some(
            param("code")
                .map(Secret::from)
                .ok_or_else(|| ZendeskError::Auth("the redirect carried no code".into())),
        )
    }
}

/// The target of an HTTP request line (`GET /callback?code=… HTTP/1.1`).
async fn read_request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next()?;
    line.split_whitespace().nth(1).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_asks_for_the_token_lifetimes_zendesk_allows() {
        let client = OAuthClient {
            client_id: "acme".into(),
            client_secret: None,
        };
        let body = with_lifetimes(grant_body(&client, "refresh_token", &[]));
        assert_eq!(body["expires_in"], 7200);
        assert_eq!(body["refresh_token_expires_in"], 7_776_000);
        // Zendesk's bounds: 5 min–48 h and 7–90 days.
        assert!((300..=172_800).contains(&ACCESS_TOKEN_LIFETIME_SECS));
        assert!((604_800..=7_776_000).contains(&REFRESH_TOKEN_LIFETIME_SECS));
        assert!(
            !MemoryStore::default().keeps(),
            "memory never outlives the process"
        );
    }

    #[test]
    fn an_absurd_token_lifetime_is_clamped_not_a_panic() {
        let now = Instant::now();
        for secs in [u64::MAX, u64::MAX / 2, 10u64.pow(15)] {
            let at = expiry(Some(secs)).unwrap();
            assert!(at <= now + MAX_TOKEN_LIFETIME + Duration::from_secs(1));
            assert!(at > now + MAX_TOKEN_LIFETIME - EXPIRY_MARGIN - Duration::from_secs(1));
        }
        let hour = expiry(Some(3600)).unwrap();
        assert!(hour > now + Duration::from_secs(3600) - EXPIRY_MARGIN - Duration::from_secs(1));
        assert!(expiry(Some(0)).unwrap() <= Instant::now());
    }

    #[test]
    fn the_client_login_used_is_remembered_per_account_host() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().to_string_lossy().into_owned();
        let var = |k: &str| (k == crate::profile::CONFIG_ENV).then(|| path.clone());
        assert_eq!(remembered_client("acme.zendesk.com", var), None);
        let acme = RememberedClient {
            client_id: "acme_zdimport".into(),
            redirect_port: Some(8123),
        };
        let other = RememberedClient {
            client_id: "zdg-other".into(),
            redirect_port: None,
        };
        remember_client("acme.zendesk.com", acme.clone(), var).unwrap();
        let file = remember_client("other.zendesk.com", other.clone(), var).unwrap();
        assert_eq!(remembered_client("acme.zendesk.com", var), Some(acme));
        assert_eq!(remembered_client("other.zendesk.com", var), Some(other));
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains("secret") && !text.contains("token"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn login_listens_on_the_port_asked_and_a_busy_one_says_what_to_do() {
        let base = Url::parse("https://acme.zendesk.com").unwrap();
        let client = OAuthClient {
            client_id: "acme".into(),
            client_secret: None,
        };
        let busy = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = busy.local_addr().unwrap().port();
        let err = LoginFlow::start_on(&base, client.clone(), "read", port)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains("--redirect-port"), "{err}");
        drop(busy);
        let flow = LoginFlow::start_on(&base, client, "read", port)
            .await
            .unwrap();
        assert_eq!(flow.redirect_uri(), redirect_uri(port));
        let url = flow.authorize_url().to_string();
        assert!(
            url.contains(&format!("127.0.0.1%3A{port}%2Fcallback")),
            "{url}"
        );
    }

    #[test]
    fn s256_matches_rfc7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn pkce_verifier_is_long_and_unreserved() {
        let pkce = Pkce::new();
        assert_eq!(pkce.verifier.expose().len(), 64);
        assert!(
            pkce.verifier
                .expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
        assert_eq!(format!("{pkce:?}").matches("***").count(), 1);
    }

    #[test]
    fn memory_store_keeps_the_latest_token() {
        let store = MemoryStore::default();
        assert!(store.load().is_none());
        store.save(&Secret::new("one"));
        store.save(&Secret::new("two"));
        assert_eq!(store.load().unwrap().expose(), "two");
        store.clear();
        assert!(store.load().is_none());
    }
}
