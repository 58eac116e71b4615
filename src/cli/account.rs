//! `--account`, `--url`, `--subdomain`, `--sandbox`: the Zendesk account a command checks
//! against, and its custom field definitions fetched once for the run.

use super::CliResult;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::session::account::SandboxHandle;
use crate::session::account::{Client, RateInfo};
use crate::session::check::AccountChecks;
use crate::session::check::Blank;
use crate::session::check::Fields;
use crate::session::{self, account::Target};

/// Which account, and what an empty cell means.
#[derive(Debug, Clone, Args)]
pub struct AccountArgs {
    /// The account's URL (default ZENDESK_URL), e.g. https://acme.zendesk.com
    #[arg(long, value_name = "URL", conflicts_with = "sandbox")]
    pub url: Option<String>,
    /// The account's subdomain (default ZENDESK_SUBDOMAIN)
    #[arg(long, value_name = "S", conflicts_with = "sandbox")]
    pub subdomain: Option<String>,
    /// Use an in-process simulated Zendesk instead of an account (a rehearsal)
    #[arg(long)]
    pub sandbox: bool,
    /// Existing users, organizations and custom fields for --sandbox: a JSON file
    /// {"users", "user_fields", "organizations"} or a worksheet of users
    #[arg(long, value_name = "FILE", requires = "sandbox")]
    pub seed_users: Option<PathBuf>,
    /// What an empty cell does to a custom field Zendesk already holds: keep it (default) or
    /// clear it
    #[arg(long, value_name = "keep|clear", default_value = "keep", value_parser = parse_blank)]
    pub blank: Blank,
}

pub(super) fn parse_blank(text: &str) -> Result<Blank, String> {
    text.parse()
}

/// A signed-in client with the account's fields; the sandbox lives as long as this does.
pub struct Connected {
    pub client: Client,
    pub fields: Arc<Fields>,
    /// The rate headers of the `user_fields` answer: the account's requests per minute.
    pub rate: RateInfo,
    _sandbox: Option<SandboxHandle>,
}

impl Connected {
    pub fn checks(&self, blank: Blank) -> AccountChecks {
        AccountChecks {
            fields: Some(Arc::clone(&self.fields)),
            blank,
        }
    }
}

impl AccountArgs {
    /// Signs in (credentials from the environment or the keyring only) and reads the custom
    /// fields of the records `object` imports (user or organization fields).
    pub async fn connect(&self, object: crate::session::check::Object) -> CliResult<Connected> {
        let (client, sandbox) = self.client().await?;
        let answer = client.fields_of(object).await?;
        Ok(Connected {
            client,
            fields: Arc::new(Fields::new(answer.value)),
            rate: answer.rate,
            _sandbox: sandbox,
        })
    }

    /// Signs in only; the sandbox, when there is one, lives as long as its handle.
    pub async fn client(&self) -> CliResult<(Client, Option<SandboxHandle>)> {
        let target = if self.sandbox {
            Target::Sandbox {
                seed: self.seed_users.clone(),
            }
        } else {
            Target::Account {
                url: self.url.clone(),
                subdomain: self.subdomain.clone(),
            }
        };
        let connected = session::account::connect(&target, |k| std::env::var(k).ok()).await?;
        if let Some(warning) = &connected.warning {
            eprintln!("zdimport: {warning}");
        }
        if let Some(sandbox) = &connected.sandbox {
            eprintln!(
                "zdimport: using a simulated Zendesk (--sandbox) at {}",
                sandbox.url()
            );
        }
        Ok((connected.client, connected.sandbox))
    }
}

/// A runtime for one headless command, on this thread alone: the commands wait on Zendesk,
/// not on a core (a sheet is read and checked on threads of its own, `pipeline`'s).
/// One thread sent a 1,000,000-row import into the served sandbox in 50 s against 64 s with a
/// worker per core, and the allocator keeps one arena's freed memory instead of one per
/// sending thread: 30.8 MiB resident while sending against 35.5 MiB.
pub fn runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}").into())
}
