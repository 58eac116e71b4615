//! What stops a command: the core's errors as they are, typed until they are printed, and the
//! command line's own (an option that cannot be honoured, a question answered no).

use crate::error::SheetError;
use crate::import::journal::JournalError;
use crate::profile::ProfileError;
use crate::sandbox::SandboxError;
use crate::session::account::AccountError;
use crate::session::check::CheckError;
use crate::session::run::RunError;
use crate::zendesk::ZendeskError;

/// Why a command stopped (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Sheet(#[from] SheetError),
    #[error(transparent)]
    Zendesk(#[from] ZendeskError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("starting the sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// What the command line asks for cannot be done, said for the operator.
    #[error("{0}")]
    Usage(String),
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        Self::Usage(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        Self::Usage(message.to_owned())
    }
}

/// A command's result: its exit code, or why it stopped.
pub type CliResult<T> = Result<T, CliError>;
