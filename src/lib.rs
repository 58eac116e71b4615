//! zdimport: import users from a spreadsheet into Zendesk Support.
//!
//! Layers, top to bottom (tests/layers.rs keeps the first line):
//! - front ends: `cli` (arguments, confirmation, printing) and `tui` (terminal, event loop,
//!   screens). They name no core module: everything they do, and the core's types they speak,
//!   comes through `session`.
//! - `session`: the use cases both front ends share, in the core's types: `account` (the
//!   account, one connect, the only place that starts an in-process sandbox, the account
//!   probe), `source` (open, preview and load a worksheet; recent files; resumable runs; leading
//!   zeros only Excel's format shows), `check` (a table checked offline, then against the
//!   account once, its users kept for Preview, the plan and the import; a sheet checked as it
//!   streams for the headless commands; the account plan), `run` (new runs, retries and
//!   resumes with pause and cancel, their reports) and `profiles` (saved mappings).
//! - the UI-free core: `sheet` reads worksheets, `mapping` turns columns into Zendesk user
//!   fields, `payload` validates rows and builds the exact request bodies, `pipeline` checks a
//!   table as it streams, `plan` looks the account up and says what each row will do (and
//!   routes the rows), `import` sends a run's outbox (its batches and skipped rows) over a
//!   write-ahead journal, `zendesk` is the client, `profile` saves mappings, `doctor` probes an
//!   account.
//! - `sandbox`: a simulated Zendesk answering as a live account, beside the core, reached from
//!   `session` and tests.
//! - under every layer: `text` (terminal-safe text), `logging` (the run's log), `paths`.

pub mod cli;
pub mod doctor;
pub mod error;
pub mod import;
pub mod logging;
pub mod mapping;
pub mod paths;
pub mod payload;
pub mod pipeline;
pub mod plan;
pub mod profile;
pub mod sandbox;
pub mod session;
pub mod sheet;
pub mod text;
pub mod tui;
pub mod zendesk;
