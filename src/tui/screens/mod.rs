//! One module per wizard step: its state, update and render.

pub mod check;
pub mod connect;
pub mod map;
pub mod open;
pub mod plan;
pub mod preview;
pub mod results;
pub mod run;
pub mod sheet;
pub mod transform;
