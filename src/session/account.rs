//! The account a session imports into: a Zendesk account, or the built-in sandbox started in
//! this process. The only place that starts an in-process sandbox, at one clock speed, so a
//! rehearsal in the TUI and one headless take the same time.

use std::path::{Path, PathBuf};

// The vocabulary of accounts, for the front ends: the client and its errors, signing in,
// the account probe, and the sandbox's settings for `zdimport sandbox`.
pub use crate::doctor::{Report as DoctorReport, Verdict, probe};
pub use crate::sandbox::options::parse_switch;
pub use crate::sandbox::{
    DateFields, EmailOnUpdate, FaultConfig, JobFailures, JobLimitAnswer, JobLimitScope,
    JobProgress, JobResults, OrganizationByName, RateHeaders, SERVICE_CLIENT_ID, Sandbox,
    SandboxConfig, SandboxError, SandboxHandle, UserSettings,
};
pub use crate::zendesk::auth::{
    DEFAULT_REDIRECT_PORT, DEFAULT_SCOPE, LoginFlow, RememberedClient, legacy_token_warning,
    redirect_uri, refresh_store, remember_client, remembered_client,
};
pub use crate::zendesk::{
    BulkEndpoint, Client, ClientConfig, Credentials, DEFAULT_TIMEOUT, OAuthClient, RateInfo,
    Secret, TokenManager, ZendeskError, account_url, base_url, connect as sign_in,
};

use crate::import::EngineOptions;
use crate::zendesk;

/// Simulated seconds per real second in the in-process sandbox: a recorded job (about 15 s on
/// a live account) ends in under a second, and a rehearsal of a few thousand users takes
/// seconds, yet every wait still shows.
pub const SANDBOX_SPEED: f64 = 20.0;

/// Where a session imports into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Zendesk account: a URL, a host or a subdomain (or neither: `ZENDESK_URL` /
    /// `ZENDESK_SUBDOMAIN`); credentials from the environment or the keyring.
    Account {
        url: Option<String>,
        subdomain: Option<String>,
    },
    /// A sandbox started in this process (its users end with it), seeded from a file.
    Sandbox { seed: Option<PathBuf> },
}

/// Why a session could not reach its account.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("starting the built-in sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    #[error(transparent)]
    Zendesk(#[from] ZendeskError),
}

/// A signed-in client; the sandbox it talks to, when it is in-process, lives as long as this.
#[derive(Debug)]
pub struct Connected {
    pub client: Client,
    /// Something the operator should know about the sign-in (a legacy API token, say).
    pub warning: Option<String>,
    pub sandbox: Option<SandboxHandle>,
}

impl Connected {
    /// The engine's pace for this account.
    pub fn engine_options(&self) -> EngineOptions {
        engine_options(self.sandbox.is_some())
    }
}

/// The engine's pace: the sandbox's clock, or a live account's.
pub fn engine_options(in_process_sandbox: bool) -> EngineOptions {
    if in_process_sandbox {
        EngineOptions::for_speed(SANDBOX_SPEED)
    } else {
        EngineOptions::default()
    }
}

/// Starts the built-in sandbox, answering as a live account, seeded from `seed`.
pub async fn start_sandbox(seed: Option<&Path>) -> Result<SandboxHandle, AccountError> {
    let mut config = SandboxConfig {
        speed: SANDBOX_SPEED,
        ..SandboxConfig::default()
    };
    if let Some(seed) = seed {
        config.seed_from_file(seed)?;
    }
    Ok(Sandbox::start(config).await?)
}

/// What sign-in reads for the sandbox: its URL and its confidential OAuth client (OAuth first,
/// as on a live account), with tokens kept in memory only.
pub fn sandbox_env(sandbox: &SandboxHandle) -> Vec<(String, String)> {
    let service = sandbox
        .config()
        .oauth_clients
        .iter()
        .find(|c| c.client_id == SERVICE_CLIENT_ID);
    let mut env = vec![("ZENDESK_URL".to_owned(), sandbox.url().to_string())];
    if let Some(secret) = service.and_then(|c| c.client_secret.as_ref()) {
        env.push(("ZENDESK_CLIENT_ID".to_owned(), SERVICE_CLIENT_ID.to_owned()));
        env.push((
            "ZENDESK_CLIENT_SECRET".to_owned(),
            secret.expose().to_owned(),
        ));
    }
    env.push(("ZDIMPORT_KEYRING".to_owned(), "memory".to_owned()));
    env
}

/// Signs in to `target` (starting the sandbox when it is one), reading credentials with `var`.
pub async fn connect(
    target: &Target,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Connected, AccountError> {
    match target {
        Target::Account { url, subdomain } => {
            let (client, warning) = zendesk::connect(
                url.as_deref(),
                subdomain.as_deref(),
                var,
                zendesk::DEFAULT_TIMEOUT,
            )
            .await?;
            Ok(Connected {
                client,
                warning,
                sandbox: None,
            })
        }
        Target::Sandbox { seed } => {
            let sandbox = start_sandbox(seed.as_deref()).await?;
            let credentials = Credentials::Bearer(sandbox.issue_access_token(None));
            let client = Client::new(ClientConfig::new(sandbox.url().clone(), credentials))?;
            Ok(Connected {
                client,
                warning: None,
                sandbox: Some(sandbox),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sandbox_target_starts_one_and_signs_in_with_oauth() {
        let connected = connect(&Target::Sandbox { seed: None }, |_| None)
            .await
            .unwrap();
        let sandbox = connected.sandbox.as_ref().expect("in-process");
        assert_eq!(connected.client.base_url(), sandbox.url());
        assert!(matches!(
            connected.client.credentials(),
            Credentials::Bearer(_)
        ));
        let me = connected.client.me().await.unwrap().value;
        assert_eq!(me.role.as_deref(), Some("admin"));
        let env = sandbox_env(sandbox);
        assert!(env.iter().any(|(k, _)| k == "ZENDESK_CLIENT_SECRET"));
    }

    #[tokio::test]
    async fn an_account_without_credentials_says_so() {
        let target = Target::Account {
            url: Some("acme".into()),
            subdomain: None,
        };
        let memory_keyring = |k: &str| (k == "ZDIMPORT_KEYRING").then(|| "memory".to_owned());
        let err = connect(&target, memory_keyring).await.unwrap_err();
        assert!(matches!(err, AccountError::Zendesk(_)), "{err}");
    }
}
