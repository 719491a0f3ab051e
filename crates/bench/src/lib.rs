//! Benchmarks of the trading core (SPEC §10), as code.
//!
//! - [`workload`]: the seeded exchange-core command mix (82% move, 9% GTC limit, 6% cancel,
//!   3% IOC; one instrument, ~1,000 resting orders, 2,000 accounts), generated up front through
//!   a reference book so that every adapter does the same work and the expected trade count
//!   is known.
//! - [`adapters`]: the same stream through the Tokex engine, the bare Tokex book, the
//!   `lobster` and `orderbook-rs` crates and a plain `BTreeMap` book.
//! - [`harness`]: throughput (interleaved rounds, medians), constant-rate latency corrected
//!   for coordinated omission (HdrHistogram), memory per resting order.
//!
//! The `tokex-bench` binary runs them all side by side in one run and prints the figures
//! BENCHMARKS.md records; `benches/matching.rs` is the criterion view of the throughput.
//! Nothing here asserts a time: the tests only check that every adapter trades as the
//! reference model says it must.

pub mod adapters;
pub mod harness;
pub mod workload;
