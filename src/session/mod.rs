//! The use cases both front ends drive, in the core's types: never CLI arguments, never TUI
//! events. The CLI and the TUI call these instead of reaching into the core themselves, so
//! they cannot drift apart (the first version had each connect, start a sandbox and run the
//! engine its own way).
//!
//! - [`account`]: the account a session imports into (a real Zendesk account or the
//!   built-in sandbox), signing in, and the engine's pace for it.
//! - [`run`]: new runs, retries and resumes, each with pause and cancel controls, its events
//!   and its report.

pub mod account;
pub mod check;
pub mod run;
pub mod source;
