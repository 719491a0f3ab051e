//! What the matching and clearing core needs to know about one listed instrument.
//!
//! An [`InstrumentSpec`] is derived from a product definition (see [`crate::product`]) when a
//! contract month is listed. Everything in it is an integer: ticks, contracts, minor units,
//! basis points, nanoseconds.

use crate::{Currency, InstrumentId, Price, Qty, Timestamp};

/// How the price of a continuous-trading match is chosen.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TradePriceRule {
    /// The resting order's price (the common rule; default).
    Resting,
    /// The median of the buy price, the sell price and the last trade price (SHFE).
    ShfeMedian,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentSpec {
    pub id: InstrumentId,
    /// Exchange symbol, e.g. `TKF-2026-12`.
    pub symbol: String,
    /// Product root, e.g. `TKF`.
    pub product: String,
    /// Index id of the underlying, e.g. `TPI-F`.
    pub underlying: String,
    pub currency: Currency,
    /// Tick size as a decimal string for display, e.g. `0.001`.
    pub tick_size: String,
    /// Value of one tick for one contract, in minor units of `currency`.
    pub tick_value_minor: i64,
    /// Contract month as (year, month).
    pub year: i32,
    pub month: u32,
    /// Last trading day (UTC midnight of the local calendar date) and the moment trading ends.
    pub last_trading_day: chrono::NaiveDate,
    pub expires_at: Timestamp,
    pub trade_price_rule: TradePriceRule,
    /// Daily price limit as basis points of the reference (previous settlement) price.
    pub price_limit_bps: u32,
    /// After a limit-locked day, the next day's limit is `price_limit_bps + limit_widen_bps`
    /// (SHFE: +3 points).
    pub limit_widen_bps: u32,
    /// After a limit-locked day, the margin rate becomes at least the widened limit plus this
    /// (SHFE: +2 points), i.e. `max(initial_margin_bps, price_limit_bps + limit_widen_bps +
    /// limit_margin_extra_bps)`.
    pub limit_margin_extra_bps: u32,
    /// Largest order quantity accepted.
    pub order_qty_max: Qty,
    /// A market order becomes a limit order at best ± this many ticks.
    pub market_protection_ticks: i64,
    /// Velocity circuit breaker: a move of more than `cb_ticks` within `cb_window_ns` puts the
    /// instrument into a pre-open auction of `cb_auction_ns`. `cb_ticks == 0` disables it.
    pub cb_ticks: i64,
    pub cb_window_ns: u64,
    pub cb_auction_ns: u64,
    /// Initial and maintenance margin in basis points of notional.
    pub initial_margin_bps: u32,
    pub maintenance_margin_bps: u32,
    /// Position limits in contracts (absolute net position): across all months of the
    /// product, and in the spot (expiring) month.
    pub position_limit_all_months: u64,
    pub position_limit_spot_month: u64,
    /// Fees per contract in minor units (maker, taker). A negative maker fee is a rebate.
    pub fee_maker_minor: i64,
    pub fee_taker_minor: i64,
    /// Price used as reference before the first settlement (ticks).
    pub initial_reference_price: Price,
}

impl InstrumentSpec {
    /// A small spec for tests and benches: tick value 100 minor units, ±10% limits, 24x7.
    pub fn for_tests(id: u32, reference: i64) -> InstrumentSpec {
        InstrumentSpec {
            id: InstrumentId(id),
            symbol: format!("TEST-{id}"),
            product: "TEST".into(),
            underlying: "TPI-F".into(),
            currency: Currency::Usd,
            tick_size: "0.001".into(),
            tick_value_minor: 100,
            year: 2026,
            month: 12,
            last_trading_day: chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            expires_at: Timestamp(u64::MAX),
            trade_price_rule: TradePriceRule::Resting,
            price_limit_bps: 1_000,
            limit_widen_bps: 300,
            limit_margin_extra_bps: 200,
            order_qty_max: Qty(10_000),
            market_protection_ticks: 10,
            cb_ticks: 0,
            cb_window_ns: 0,
            cb_auction_ns: 0,
            initial_margin_bps: 1_200,
            maintenance_margin_bps: 900,
            position_limit_all_months: 1_000_000,
            position_limit_spot_month: 1_000_000,
            fee_maker_minor: 0,
            fee_taker_minor: 0,
            initial_reference_price: Price(reference),
        }
    }
}
