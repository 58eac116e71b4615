//! The sandbox's OAuth server: authorization codes with PKCE, rotating refresh tokens, client
//! credentials, and access tokens that expire on the simulated clock.

use std::collections::HashMap;
use std::time::Duration;

use crate::zendesk::auth::{random_token, s256_challenge};

/// A code handed to the browser, waiting for its exchange.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub scope: String,
    pub expires_at: Duration,
}

#[derive(Debug, Clone)]
struct AccessToken {
    expires_at: Duration,
}

#[derive(Debug, Clone)]
struct RefreshGrant {
    client_id: String,
    scope: String,
    /// The access token issued with it: rotation revokes both.
    access: String,
}

/// A refused token request: the OAuth `error` code and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRefusal {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

fn refuse(status: u16, error: &'static str, description: &str) -> OAuthRefusal {
    OAuthRefusal {
        status,
        error,
        description: description.into(),
    }
}

/// A newly issued pair.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// Codes, access tokens and refresh tokens in force.
#[derive(Debug, Default)]
pub struct OAuthState {
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshGrant>,
    issued: u64,
}

impl OAuthState {
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Whether `token` is a live access token at `now`.
    pub fn is_valid(&self, token: &str, now: Duration) -> bool {
        self.access.get(token).is_some_and(|t| t.expires_at > now)
    }

    pub fn add_code(&mut self, grant: CodeGrant) -> String {
        let code = random_token(32);
        self.codes.insert(code.clone(), grant);
        code
    }

    pub fn issue_access(
        &mut self,
        _client_id: &str,
        expires_at: Duration,
        _scope: Option<&str>,
    ) -> String {
        let token = random_token(40);
        self.access
            .insert(token.clone(), AccessToken { expires_at });
        self.issued += 1;
        token
    }

    fn issue_pair(&mut self, client_id: &str, scope: &str, expires_at: Duration) -> Issued {
        let access_token = self.issue_access(client_id, expires_at, Some(scope));
        let refresh_token = random_token(40);
        self.refresh.insert(
            refresh_token.clone(),
            RefreshGrant {
                client_id: client_id.into(),
                scope: scope.into(),
                access: access_token.clone(),
            },
        );
        Issued {
            access_token,
            refresh_token: Some(refresh_token),
            scope: scope.into(),
        }
    }

    /// `grant_type=authorization_code`: the code once, the same client and redirect, and a
    /// verifier whose S256 is the challenge the browser brought.
    pub fn exchange_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
        now: Duration,
        ttl: Duration,
    ) -> Result<Issued, OAuthRefusal> {
        let grant = self.codes.remove(code).ok_or_else(|| {
            refuse(
                400,
                "invalid_grant",
                "The authorization code is unknown or was already used",
            )
        })?;
        if grant.expires_at <= now {
            return Err(refuse(
                400,
                "invalid_grant",
                "The authorization code expired",
            ));
        }
        if grant.client_id != client_id || grant.redirect_uri != redirect_uri {
            return Err(refuse(
                400,
                "invalid_grant",
                "client_id or redirect_uri does not match the authorization",
            ));
        }
        if let Some(challenge) = &grant.challenge {
            let verifier = verifier
                .ok_or_else(|| refuse(400, "invalid_request", "code_verifier is required"))?;
            if s256_challenge(verifier) != *challenge {
                return Err(refuse(
                    400,
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        Ok(self.issue_pair(client_id, &grant.scope, now + ttl))
    }

    /// `grant_type=refresh_token`: a new pair; the old refresh token and its access token stop
    /// working.
    pub fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
        now: Duration,
        ttl: Duration,
    ) -> Result<Issued, OAuthRefusal> {
        let grant = self.refresh.remove(refresh_token).ok_or_else(|| {
            refuse(
                400,
                "invalid_grant",
                "The refresh token is unknown, revoked or already used",
            )
        })?;
        if grant.client_id != client_id {
            return Err(refuse(
                400,
                "invalid_grant",
                "The refresh token belongs to another client",
            ));
        }
        self.access.remove(&grant.access);
        Ok(self.issue_pair(client_id, &grant.scope, now + ttl))
    }

    /// `grant_type=client_credentials`: an access token and no refresh token.
    pub fn client_credentials(
        &mut self,
        client_id: &str,
        scope: &str,
        now: Duration,
        ttl: Duration,
    ) -> Issued {
        Issued {
            access_token: self.issue_access(client_id, now + ttl, Some(scope)),
            refresh_token: None,
            scope: scope.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(1800);

    fn with_code(state: &mut OAuthState, challenge: &str) -> String {
        state.add_code(CodeGrant {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1:9/callback".into(),
            challenge: Some(challenge.into()),
            scope: "read write".into(),
            expires_at: Duration::from_secs(600),
        })
    }

    #[test]
    fn pkce_is_checked_and_codes_are_single_use() {
        let mut state = OAuthState::default();
        let verifier = "v".repeat(50);
        let code = with_code(&mut state, &s256_challenge(&verifier));
        let wrong = state.exchange_code(
            &code,
            "c",
            "http://127.0.0.1:9/callback",
            Some("nope"),
            Duration::ZERO,
            TTL,
        );
        assert_eq!(wrong.unwrap_err().error, "invalid_grant");
        let code = with_code(&mut state, &s256_challenge(&verifier));
        let issued = state
            .exchange_code(
                &code,
                "c",
                "http://127.0.0.1:9/callback",
                Some(&verifier),
                Duration::ZERO,
                TTL,
            )
            .unwrap();
        assert!(state.is_valid(&issued.access_token, Duration::from_secs(10)));
        assert!(!state.is_valid(&issued.access_token, TTL));
        let again = state.exchange_code(
            &code,
            "c",
            "http://127.0.0.1:9/callback",
            Some(&verifier),
            Duration::ZERO,
            TTL,
        );
        assert!(again.is_err());
    }

    #[test]
    fn refresh_rotates_the_pair() {
        let mut state = OAuthState::default();
        let first = state.issue_pair("c", "read", TTL);
        let old_refresh = first.refresh_token.clone().unwrap();
        let second = state
            .refresh(&old_refresh, "c", Duration::ZERO, TTL)
            .unwrap();
        assert!(
            !state.is_valid(&first.access_token, Duration::ZERO),
            "old access revoked"
        );
        assert!(state.is_valid(&second.access_token, Duration::ZERO));
        assert!(
            state
                .refresh(&old_refresh, "c", Duration::ZERO, TTL)
                .is_err(),
            "old refresh revoked"
        );
    }
}
