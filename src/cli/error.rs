//! What stops a command: the core's errors as they are, typed until they are printed, and the
//! command line's own (an option that cannot be honoured, a question answered no).

use crate::session::account::AccountError;
use crate::session::account::SandboxError;
use crate::session::account::ZendeskError;
use crate::session::check::CheckError;
use crate::session::check::PlanError;
use crate::session::profiles::ProfileError;
use crate::session::run::ImportError;
use crate::session::run::JournalError;
use crate::session::run::RunError;
use crate::session::run::{ReportError, ReportPathError};
use crate::session::source::SheetError;

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
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    ReportPath(#[from] ReportPathError),
    #[error(transparent)]
    Plan(Box<PlanError>),
    #[error(transparent)]
    Import(Box<ImportError>),
    #[error("starting the sandbox: {0}")]
    Sandbox(#[from] SandboxError),
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// What the command line asks for cannot be done, said for the operator.
    #[error("{0}")]
    Usage(String),
}

impl From<PlanError> for CliError {
    fn from(error: PlanError) -> Self {
        Self::Plan(Box::new(error))
    }
}

impl From<ImportError> for CliError {
    fn from(error: ImportError) -> Self {
        Self::Import(Box::new(error))
    }
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
