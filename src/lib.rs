//! zdimport: import users from a spreadsheet into Zendesk Support.
//!
//! The core is UI-free: `sheet` reads worksheets, `mapping` turns columns into Zendesk user
//! fields, `payload` validates rows and builds the exact request bodies, `plan` converts custom
//! fields for the account and says what an import would do to each row, `profile` saves
//! mappings. The `cli` front end drives the same core headless.

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
