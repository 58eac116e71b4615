//! One module per wizard step: its state, update and render.

pub mod open;
pub mod sheet;
