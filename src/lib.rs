//! zdimport: import users from a spreadsheet into Zendesk Support.
//!
//! Layers, top to bottom:
//! - front ends: `cli` (arguments, confirmation, printing) and `tui` (terminal, event loop,
//!   screens). Both are meant to drive only `session`; today they still reach into the core
//!   for checking, planning and running (issue 13 moves that into `session`).
//! - `session`: the use cases both front ends share, in the core's types. `session::account`
//!   (the account, one connect, the only place that starts an in-process sandbox) is the
//!   first of them.
//! - the UI-free core: `sheet` reads worksheets, `mapping` turns columns into Zendesk user
//!   fields, `payload` validates rows and builds the exact request bodies, `pipeline` checks a
//!   table as it streams, `plan` looks the account up and says what each row will do,
//!   `import` runs a plan over a write-ahead journal, `zendesk` is the client, `profile` saves
//!   mappings, `doctor` probes an account, `logging` writes the run's log.
//! - `sandbox`: a simulated Zendesk answering as a live account, beside the core, reached from
//!   `session` and tests.

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
