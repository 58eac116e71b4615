//! OAuth tokens that renew themselves: one renewal at a time (a refresh rotates the pair),
//! requests that failed with the old token waiting for it, and the token endpoint's answers
//! clamped to what Zendesk allows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::zendesk::error::{ApiReason, RequestLabel, ZendeskError};
use crate::zendesk::rate::RateInfo;
use crate::zendesk::secret::Secret;

use super::*;

/// Renew an access token this long before Zendesk says it expires, so a request sent just
/// before expiry does not arrive just after.
pub(super) const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// The longest access-token lifetime believed from a token endpoint: Zendesk's own maximum
/// (48 h). A larger `expires_in` (up to `u64::MAX` from a broken or hostile server) is taken as
/// this, so the token is renewed in time and no instant overflows.
pub(super) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(48 * 3600);

/// How a new access token is obtained when the current one runs out.
#[derive(Clone, Debug)]
pub(super) enum Renewal {
    /// `grant_type=refresh_token` with the stored (rotating) refresh token.
    RefreshToken,
    /// `grant_type=client_credentials` again: this grant has no refresh token.
    ClientCredentials { scope: String },
}

#[derive(Debug)]
pub(super) struct TokenState {
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
pub(super) fn expiry(expires_in: Option<u64>) -> Option<Instant> {
    expires_in.map(|secs| {
        let lifetime = Duration::from_secs(secs).min(MAX_TOKEN_LIFETIME);
        Instant::now() + lifetime - EXPIRY_MARGIN.min(lifetime / 2)
    })
}

pub(super) fn token_http(timeout: Duration) -> Result<reqwest::Client, ZendeskError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ZendeskError::Auth(format!("cannot build an HTTP client: {e}")))
}

pub(super) fn token_url(base: &Url) -> Result<Url, ZendeskError> {
    base.join("/oauth/tokens")
        .map_err(|e| ZendeskError::BadUrl {
            url: base.to_string(),
            reason: e.to_string(),
        })
}

pub(super) fn grant_body(client: &OAuthClient, grant: &str, extra: &[(&str, &str)]) -> Value {
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
pub(super) fn with_lifetimes(mut body: Value) -> Value {
    body["expires_in"] = Value::from(ACCESS_TOKEN_LIFETIME_SECS);
    body["refresh_token_expires_in"] = Value::from(REFRESH_TOKEN_LIFETIME_SECS);
    body
}

/// `POST /oauth/tokens`; the body holds secrets, so no error ever quotes it.
pub(super) async fn request_token(
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
        .map_err(|e| crate::zendesk::transport_error(&request, &e, timeout))?;
    let status = response.status();
    let rate = RateInfo::from_headers(response.headers());
    let bytes = response
        .bytes()
        .await
        .map_err(|e| crate::zendesk::transport_error(&request, &e, timeout))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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
}
