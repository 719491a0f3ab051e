//! Test tooling for the Tokex trading core.
//!
//! - [`model`]: a naive reference model of the trading rules (SPEC §3) — plain vectors
//!   scanned linearly — that answers the same commands with the same events as the engine.
//!   Property tests run random command streams through both and compare every answer.
//! - [`script`]: a human-readable text format for command logs (one command per line) and a
//!   stable one-line text form of events; used by the golden replay tests and reusable by
//!   tools that replay text logs.
//! - [`golden`]: runs a text log through the engine and renders the transcript (each command,
//!   its answer and events, the final state hash) that golden files pin down.
//! - [`pair`]: the engine and the model side by side, checking after every command that they
//!   agree, that the engine's invariants hold, and that a rejected command changed nothing.
//!
//! The model is deliberately written from the rules, not from the engine's code: where the
//! two disagree, one of them is wrong, and the tests say which command showed it.

pub mod golden;
pub mod model;
pub mod pair;
pub mod script;

pub use model::{trading_events, Model, Quirks};
pub use pair::Pair;
