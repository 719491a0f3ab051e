//! The Tokex core: a single-threaded, deterministic state machine.
//!
//! `apply(seq, time, command) -> Outcome` turns one sequenced command into one answer —
//! accepted with its events, or rejected with a stable code — and does no I/O, reads no clock,
//! draws no random number, and lets no hash-map iteration order reach its events or its state
//! hash. Replaying the same commands gives the same events and the same [`Engine::state_hash`].
//!
//! Files:
//! - [`command`]: the commands (orders, amends, cancels, phases, listing, accounts).
//! - [`event`]: events, the [`Outcome`], stable [`RejectCode`]s.
//! - `state`: the state (instruments with their books and stop orders, accounts, indexes).
//! - `engine`: dispatch, validation, order entry, amend, cancel, phases, timers.
//! - `matching`: continuous matching, trade-price rules, self-match prevention, market
//!   protection, FOK / minimum quantity, circuit breaker, stop triggering.
//! - `auction`: the call-auction uncross.
//! - `risk`: pre-trade risk (worst-case initial margin, position limits) and position
//!   keeping on every trade (positions, average price, realised P&L, fees).
//! - `clearing`: cash, fixings, daily settlement, margin calls, liquidation, insurance
//!   fund, expiry.
//! - [`snapshot`]: canonical encoding of the whole state, the state hash, restore.
//! - `invariants`: the O(n) checks tests run after every command.
//! - [`params`]: the operator's changes of a product's parameters (margins, limits, fees)
//!   while it trades.

pub mod auction;
mod clearing;
pub mod codec;
pub mod command;
mod engine;
pub mod event;
mod invariants;
mod matching;
pub mod params;
pub mod risk;
pub mod snapshot;
pub mod state;

pub use command::*;
pub use engine::Engine;
pub use event::{CancelReason, CashKind, Event, Outcome, Reject, RejectCode};
pub use risk::LIQUIDATION_THRESHOLD_BPS;
