//! `zdimport login`: OAuth sign-in with PKCE in the operator's browser.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::zendesk::auth::{DEFAULT_CLIENT_ID, DEFAULT_SCOPE, LoginFlow, refresh_store};
use crate::zendesk::{Client, ClientConfig, Credentials, OAuthClient, TokenManager, base_url};

/// How long the browser has to come back.
const BROWSER_WAIT: Duration = Duration::from_secs(300);

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Account URL, e.g. https://acme.zendesk.com
    #[arg(long, env = "ZENDESK_URL", conflicts_with = "subdomain")]
    pub url: Option<String>,
    /// Account subdomain: acme for acme.zendesk.com
    #[arg(long, env = "ZENDESK_SUBDOMAIN")]
    pub subdomain: Option<String>,
    /// OAuth client id registered in the Zendesk admin centre
    #[arg(long, env = "ZENDESK_CLIENT_ID", default_value = DEFAULT_CLIENT_ID)]
    pub client_id: String,
    /// OAuth scopes
    #[arg(long, default_value = DEFAULT_SCOPE)]
    pub scope: String,
    /// Print the URL only; do not try to open a browser (over SSH)
    #[arg(long)]
    pub no_browser: bool,
}

/// Signs in, keeps the refresh token in the keyring, and checks the token with `users/me`.
pub fn run(args: &LoginArgs) -> Result<ExitCode, String> {
    let base =
        base_url(args.url.as_deref(), args.subdomain.as_deref()).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let client = OAuthClient {
            client_id: args.client_id.clone(),
            client_secret: None,
        };
        let flow = LoginFlow::start(&base, client.clone(), &args.scope)
            .await
            .map_err(|e| e.to_string())?;
        eprintln!(
            "Open this page to let zdimport in:\n  {}",
            flow.authorize_url()
        );
        if !args.no_browser {
            open_browser(flow.authorize_url().as_str());
        }
        let answer = tokio::time::timeout(BROWSER_WAIT, flow.finish(Duration::from_secs(30)))
            .await
            .map_err(|_| "the browser did not come back within 5 minutes".to_owned())?
            .map_err(|e| e.to_string())?;
        let host = base.host_str().unwrap_or("zendesk");
        let store = refresh_store(host, &args.client_id, |k| std::env::var(k).ok());
        let tokens =
            TokenManager::from_answer(&base, client, &answer, store, Duration::from_secs(30))
                .map_err(|e| e.to_string())?;
        let api = Client::new(ClientConfig::new(base.clone(), Credentials::OAuth(tokens)))
            .map_err(|e| e.to_string())?;
        let me = api.me().await.map_err(|e| e.to_string())?.value;
        println!(
            "Signed in to {host} as {} ({})",
            me.email.unwrap_or_default(),
            me.role.unwrap_or_default()
        );
        Ok(ExitCode::SUCCESS)
    })
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
