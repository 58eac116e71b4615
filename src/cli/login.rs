//! `zdimport login` and `logout`: OAuth sign-in with PKCE in the operator's browser, with the
//! operator's own OAuth client, remembered per account (never its secret).

use super::CliResult;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use url::Url;

use crate::session::account::{
    Client, ClientConfig, Credentials, OAuthClient, Secret, TokenManager, base_url,
};
use crate::session::account::{
    DEFAULT_REDIRECT_PORT, DEFAULT_SCOPE, LoginFlow, RememberedClient as Remembered, redirect_uri,
    refresh_store, remember_client, remembered_client,
};

/// How long the browser has to come back, in seconds, unless `--wait` says.
const BROWSER_WAIT_SECS: u64 = 300;

/// Which account and OAuth client.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Account URL, e.g. https://acme.zendesk.com
    #[arg(long, env = "ZENDESK_URL", conflicts_with = "subdomain")]
    pub url: Option<String>,
    /// Account subdomain: acme for acme.zendesk.com
    #[arg(long, env = "ZENDESK_SUBDOMAIN")]
    pub subdomain: Option<String>,
    /// The OAuth client's identifier, from Admin Center > Apps and integrations > APIs >
    /// OAuth clients (remembered for the account after a sign-in)
    #[arg(long, env = "ZENDESK_CLIENT_ID")]
    pub client_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub account: AccountArgs,
    /// The loopback port the browser comes back to; register
    /// http://127.0.0.1:PORT/callback as the client's redirect URL [default: 47800, or the
    /// port remembered for the account]
    #[arg(long, value_name = "PORT")]
    pub redirect_port: Option<u16>,
    /// A confidential client's secret, sent with the code exchange (never remembered or
    /// printed; prefer the variable: a command line is visible to others); public clients have none
    #[arg(long, env = "ZENDESK_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// OAuth scopes
    #[arg(long, default_value = DEFAULT_SCOPE)]
    pub scope: String,
    /// Print the URL only; do not try to open a browser (over SSH)
    #[arg(long)]
    pub no_browser: bool,
    /// Seconds to wait for the browser to come back before giving up
    #[arg(long, value_name = "SECS", default_value_t = BROWSER_WAIT_SECS)]
    pub wait: u64,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub account: AccountArgs,
}

/// `5 minutes`, `90 s`.
fn waited(secs: u64) -> String {
    match secs {
        60 => "a minute".into(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} s"),
    }
}

impl AccountArgs {
    /// The account URL, its host, and the client id given or remembered for it.
    fn resolve(&self) -> CliResult<(Url, String, Option<Remembered>)> {
        let base = base_url(self.url.as_deref(), self.subdomain.as_deref())?;
        let host = base.host_str().unwrap_or("zendesk").to_owned();
        let remembered = remembered_client(&host, env);
        Ok((base, host, remembered))
    }

    fn client_id(&self, remembered: Option<&Remembered>, port: u16) -> CliResult<String> {
        self.client_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .or_else(|| remembered.map(|r| r.client_id.clone()))
            .ok_or_else(|| no_client_id(port).into())
    }
}

fn no_client_id(port: u16) -> String {
    format!(
        "no OAuth client id: an admin creates one in Admin Center > Apps and integrations > APIs \
         > OAuth clients, with the redirect URL {} (see README, \"Signing in\"); then pass \
         --client-id or set ZENDESK_CLIENT_ID",
        redirect_uri(port)
    )
}

/// Signs in, keeps the refresh token in the keyring, and checks the token with `users/me`.
pub fn run(args: &LoginArgs) -> CliResult<ExitCode> {
    let (base, host, remembered) = args.account.resolve()?;
    let port = args
        .redirect_port
        .or(remembered.as_ref().and_then(|r| r.redirect_port))
        .unwrap_or(DEFAULT_REDIRECT_PORT);
    let client_id = args.account.client_id(remembered.as_ref(), port)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let client = OAuthClient {
            client_id: client_id.clone(),
            client_secret: args
                .client_secret
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| Secret::new(s.to_owned())),
        };
        let flow = LoginFlow::start_on(&base, client.clone(), &args.scope, port).await?;
        eprintln!(
            "The OAuth client '{client_id}' must list this redirect URL: {}\n\
             Open this page to let zdimport in:\n  {}",
            flow.redirect_uri(),
            flow.authorize_url()
        );
        if !args.no_browser {
            open_browser(flow.authorize_url().as_str());
        }
        let redirect = flow.redirect_uri().to_owned();
        let wait = Duration::from_secs(args.wait);
        let answer = tokio::time::timeout(wait, flow.finish(Duration::from_secs(30)))
            .await
            .map_err(|_| {
                format!(
                    "the browser did not come back to {redirect} within {}: approve the \
                     page, check that the OAuth client lists that redirect URL, then run \
                     `zdimport login` again (--wait gives it longer)",
                    waited(args.wait)
                )
            })??;
        let store = refresh_store(&host, &client_id, env);
        let tokens = TokenManager::from_answer(
            &base,
            client,
            &answer,
            store.clone(),
            Duration::from_secs(30),
        )?;
        let api = Client::new(ClientConfig::new(base.clone(), Credentials::OAuth(tokens)))?;
        let me = api.me().await?.value;
        let entry = Remembered {
            client_id: client_id.clone(),
            redirect_port: (port != DEFAULT_REDIRECT_PORT).then_some(port),
        };
        if let Err(e) = remember_client(&host, entry, env) {
            eprintln!("zdimport: the client id is not remembered: {e}");
        }
        let who = format!(
            "{} ({})",
            me.email.unwrap_or_default(),
            me.role.unwrap_or_default()
        );
        if store.keeps() {
            println!("Signed in to {host} as {who}; the refresh token is in the keyring.");
            return Ok(ExitCode::SUCCESS);
        }
        println!("{}", not_kept(&host, &who));
        Ok(ExitCode::from(1))
    })
}

/// What to do when no keyring keeps the refresh token: the sign-in ends with the command.
fn not_kept(host: &str, who: &str) -> String {
    format!(
        "Signed in to {host} as {who}, but NOTHING IS KEPT: no keyring on this machine can hold \
         the refresh token (or ZDIMPORT_KEYRING=memory), so the next command is not signed in.\n\
         Instead: use a confidential OAuth client (set ZENDESK_CLIENT_ID and \
         ZENDESK_CLIENT_SECRET for each run), or set ZENDESK_OAUTH_TOKEN to an access token; \
         on Linux a session keyring (keyutils) must be available to this user."
    )
}

/// Forgets the account's refresh token (the keyring entry of this account and client).
pub fn logout(args: &LogoutArgs) -> CliResult<ExitCode> {
    let (_, host, remembered) = args.account.resolve()?;
    let port = remembered
        .as_ref()
        .and_then(|r| r.redirect_port)
        .unwrap_or(DEFAULT_REDIRECT_PORT);
    let client_id = args.account.client_id(remembered.as_ref(), port)?;
    let store = refresh_store(&host, &client_id, env);
    let had = store.load().is_some();
    store.clear();
    if had {
        println!("Signed out of {host}: the refresh token of client '{client_id}' is deleted.");
    } else {
        println!("No refresh token was kept for {host} and client '{client_id}'.");
    }
    Ok(ExitCode::SUCCESS)
}

/// The process environment, as the core's `var` parameters take it.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Best effort: a machine with no browser keeps the printed URL.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_client_id_the_message_says_where_to_create_one_and_what_to_register() {
        let args = AccountArgs {
            url: Some("https://acme.zendesk.com".into()),
            subdomain: None,
            client_id: None,
        };
        let err = args.client_id(None, 47_800).unwrap_err().to_string();
        assert!(err.contains("Admin Center > Apps and integrations > APIs > OAuth clients"));
        assert!(err.contains("http://127.0.0.1:47800/callback"), "{err}");
        let remembered = Remembered {
            client_id: "acme_import".into(),
            redirect_port: None,
        };
        assert_eq!(
            args.client_id(Some(&remembered), 1).ok().as_deref(),
            Some("acme_import")
        );
        let given = AccountArgs {
            client_id: Some("zdg-given".into()),
            ..args
        };
        assert_eq!(
            given.client_id(Some(&remembered), 1).ok().as_deref(),
            Some("zdg-given")
        );
    }

    #[test]
    fn the_remembered_entry_never_holds_a_secret_and_says_what_to_do_without_keyring() {
        let entry = Remembered {
            client_id: "acme_import".into(),
            redirect_port: Some(8123),
        };
        let json = serde_json::to_string(&entry).unwrap();
        assert_eq!(json, r#"{"client_id":"acme_import","redirect_port":8123}"#);
        let text = not_kept("acme.zendesk.com", "ops@acme.com (admin)");
        assert!(text.contains("NOTHING IS KEPT"), "{text}");
        assert!(text.contains("ZENDESK_CLIENT_SECRET") && text.contains("ZENDESK_OAUTH_TOKEN"));
    }
}
