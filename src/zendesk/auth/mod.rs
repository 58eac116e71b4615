//! Signing in: legacy API tokens, ready bearer tokens, and OAuth tokens that refresh themselves.
//!
//! API tokens stop working on 2027-04-30, so OAuth is the main way in (`shared/zendesk/API.md`,
//! Authentication). Access tokens expire (30 minutes by default) and a refresh rotates the pair:
//! the old refresh token stops working, so exactly one refresh may run at a time, and requests
//! that failed with the old access token must wait for it rather than start their own.
//!
//! Here: the credentials a request carries and signing in from the environment. Beside it:
//! `store` (where a refresh token is kept, and each account's OAuth client), `tokens`
//! (tokens that renew themselves) and `login` (the browser sign-in).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::zendesk::error::ZendeskError;
use crate::zendesk::secret::Secret;

mod login;
mod store;
mod tokens;

pub use login::*;
pub use store::*;
pub use tokens::*;

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

/// The lifetimes asked for at sign-in (Zendesk allows 5 min–48 h and 7–90 days): an access
/// token for two hours of import, and a refresh token that outlives a month between imports.
pub const ACCESS_TOKEN_LIFETIME_SECS: u64 = 2 * 3600;
pub const REFRESH_TOKEN_LIFETIME_SECS: u64 = 90 * 24 * 3600;

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
