//! The use cases both front ends drive, in the core's types: never CLI arguments, never TUI
//! events. The CLI and the TUI call these instead of reaching into the core themselves, so
//! they cannot drift apart (the first version had each connect, start a sandbox and run the
//! engine its own way); each module re-exports the core's types its callers speak, and
//! tests/layers.rs fails when a front end names a core module.
//!
//! - [`account`]: the account a session imports into (a real Zendesk account or the
//!   built-in sandbox), signing in, the account probe, and the engine's pace for it.
//! - [`source`]: a worksheet opened, previewed and loaded with progress and a stop; recent
//!   files; runs that can be resumed; leading zeros only Excel's number format shows.
//! - [`check`]: a table checked offline, then against the account once (its users kept as
//!   sent); a sheet checked as it streams for the headless commands; the account plan.
//! - [`run`]: new runs, retries and resumes, each with pause and cancel controls, its events
//!   and its report.
//! - [`profiles`]: saved mappings.

pub mod account;
pub mod check;
pub mod profiles;
mod routed;
pub mod run;
pub mod source;
