//! Tokex domain types: the vocabulary every other crate speaks.
//!
//! - [`primitives`]: ids, [`Price`] in ticks, [`Qty`] in contracts, [`Money`] in minor units,
//!   [`Timestamp`] in nanoseconds. Integers only: decimals exist only at the edges, through
//!   [`decimal`].
//! - [`decimal`]: exact conversion between decimal strings and fixed-point integers.
//! - [`instrument`]: the per-instrument parameters the matching core needs ([`InstrumentSpec`]).
//! - [`limits`]: named limits with units in their names; checked at the edge and in the core.
//! - [`product`] and [`calendar`]: product definitions loaded from TOML, automatic monthly listing,
//!   trading calendars and sessions.
//!
//! Nothing here does I/O except the explicit TOML loaders in [`product`].

pub mod calendar;
pub mod decimal;
pub mod instrument;
pub mod limits;
pub mod primitives;
pub mod product;

pub use instrument::{InstrumentSpec, TradePriceRule};
pub use primitives::*;
