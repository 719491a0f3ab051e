//! Commands: the only way anything changes in the core. Each is stamped with a sequence number
//! and a time by the sequencer, journaled, then applied.

use tokex_types::{
    AccountId, ClientOrderId, Currency, InstrumentId, InstrumentSpec, Money, OrderId, Price, Qty,
    Side, Timestamp,
};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    Limit,
    /// Becomes a limit at the best opposite price ± the product's protection ticks; whatever
    /// does not fill at once is cancelled.
    Market,
    /// Held until the last trade price reaches the stop price, then enters as a limit order.
    StopLimit,
    /// Held until the last trade price reaches the stop price, then enters as a market order.
    StopMarket,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Good for the trading day: expires at the end of the trading day.
    Gfd,
    /// Good till cancelled (or till the contract expires).
    Gtc,
    /// Good till the given time.
    Gtd(Timestamp),
    /// Immediate or cancel (FAK), with an optional minimum quantity.
    Ioc,
    /// Fill or kill: all at once or nothing.
    Fok,
}

/// Self-match prevention: what happens when an order would trade with a resting order of the
/// same account.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum StpMode {
    /// Cancel the resting order and keep matching (default).
    #[default]
    CancelResting,
    /// Cancel the rest of the incoming order.
    CancelAggressing,
    /// Cancel both.
    CancelBoth,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum OrderRef {
    Id(OrderId),
    Client(ClientOrderId),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    pub account: AccountId,
    pub instrument: InstrumentId,
    pub client_order_id: Option<ClientOrderId>,
    pub side: Side,
    pub order_type: OrderType,
    /// Limit price (limit and stop-limit orders).
    pub price: Option<Price>,
    /// Trigger price (stop orders).
    pub stop_price: Option<Price>,
    pub qty: Qty,
    pub tif: TimeInForce,
    /// IOC only: fill at least this much at once or nothing.
    pub min_qty: Option<Qty>,
    /// Iceberg: the quantity shown at a time.
    pub display_qty: Option<Qty>,
    /// Rejected instead of trading on arrival.
    pub post_only: bool,
    /// Overrides the account's self-match prevention mode for this order.
    pub stp: Option<StpMode>,
}

impl NewOrder {
    /// A plain GTC limit order.
    pub fn limit(account: u32, instrument: u32, side: Side, price: i64, qty: u64) -> NewOrder {
        NewOrder {
            account: AccountId(account),
            instrument: InstrumentId(instrument),
            client_order_id: None,
            side,
            order_type: OrderType::Limit,
            price: Some(Price(price)),
            stop_price: None,
            qty: Qty(qty),
            tif: TimeInForce::Gtc,
            min_qty: None,
            display_qty: None,
            post_only: false,
            stp: None,
        }
    }

    /// A market order (IOC).
    pub fn market(account: u32, instrument: u32, side: Side, qty: u64) -> NewOrder {
        NewOrder {
            order_type: OrderType::Market,
            price: None,
            tif: TimeInForce::Ioc,
            ..NewOrder::limit(account, instrument, side, 0, qty)
        }
    }

    pub fn with_tif(mut self, tif: TimeInForce) -> NewOrder {
        self.tif = tif;
        self
    }

    pub fn with_client_id(mut self, id: &str) -> NewOrder {
        self.client_order_id = ClientOrderId::new(id);
        self
    }
}

/// Change an order's price and/or remaining quantity. Reducing the quantity at the same price
/// keeps time priority; a price change or a larger quantity loses it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Amend {
    pub account: AccountId,
    pub instrument: InstrumentId,
    pub order: OrderRef,
    /// New limit price.
    pub price: Option<Price>,
    /// New remaining (open) quantity.
    pub qty: Option<Qty>,
    /// New trigger price of a stop order not yet triggered.
    pub stop_price: Option<Price>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Cancel {
    pub account: AccountId,
    pub instrument: InstrumentId,
    pub order: OrderRef,
}

/// Cancel every working order matching all the given filters. `account: None` (all accounts)
/// is for the operator; the gateway enforces roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MassCancel {
    pub account: Option<AccountId>,
    pub instrument: Option<InstrumentId>,
    pub product: Option<String>,
    pub side: Option<Side>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Trader,
    MarketMaker,
    Operator,
    /// The insurance fund: holds money, never trades.
    InsuranceFund,
}

/// Trading phases an instrument can be in. The scheduler drives Closed / PreOpen / Continuous /
/// Break from the calendar; the operator drives Halted; the circuit breaker drives PreOpen.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// No order entry; cancels allowed.
    Closed,
    /// Call auction: limit orders enter and cancel, nothing matches.
    PreOpen,
    /// Price-time matching.
    Continuous,
    /// A pause within a session: cancels allowed, no new orders.
    Break,
    /// Stopped by the operator: cancels allowed, no new orders.
    Halted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Operator: open an account.
    CreateAccount {
        account: AccountId,
        role: Role,
        stp: StpMode,
    },
    /// Operator/scheduler: list a new instrument. Its id must be the next free one.
    ListInstrument(Box<InstrumentSpec>),
    NewOrder(NewOrder),
    Amend(Amend),
    Cancel(Cancel),
    MassCancel(MassCancel),
    /// Scheduler: move an instrument to a phase. Leaving PreOpen for Continuous uncrosses the
    /// auction first.
    SetPhase {
        instrument: InstrumentId,
        phase: Phase,
    },
    /// Operator: halt trading in an instrument.
    Halt {
        instrument: InstrumentId,
    },
    /// Operator: end a halt with a pre-open auction of `auction_ns`, uncrossed when it ends.
    Resume {
        instrument: InstrumentId,
        auction_ns: u64,
    },
    /// Scheduler: the trading day ends for an instrument: day orders expire, the day's
    /// client order ids are forgotten.
    EndTradingDay {
        instrument: InstrumentId,
    },
    /// Let time pass: expire GTD orders and end timed auctions that are due.
    Tick,
    /// Operator: credit cash to an account (or to the insurance fund's account).
    Deposit {
        account: AccountId,
        currency: Currency,
        amount: Money,
    },
    /// Operator: pay cash out. Refused if equity would fall below the initial margin of the
    /// account's worst-case position.
    Withdraw {
        account: AccountId,
        currency: Currency,
        amount: Money,
    },
    /// Index engine: the daily fixing of an index, in millionths of the index unit
    /// (e.g. USD per 1M tokens × 10^6).
    IndexFixing {
        index: String,
        date: chrono::NaiveDate,
        value_e6: i64,
    },
    /// Scheduler: end-of-day settlement of every live instrument: settlement price (VWAP of
    /// the day's trades, else the previous settlement), variation margin, limits for the next
    /// day, margin calls.
    DailySettlement,
    /// Scheduler: the margin-call deadline (next session's open): accounts still short of
    /// initial margin are liquidated.
    MarginCallDeadline,
    /// Risk engine sweep: accounts whose equity is below the liquidation threshold are
    /// liquidated (sent by the scheduler periodically and after volatile moves).
    RiskSweep,
    /// Scheduler: the contract expires: final settlement price from the month's fixings,
    /// every position closed at it in cash, working orders cancelled, instrument delisted.
    Expire {
        instrument: InstrumentId,
    },
    /// Operator: change the trading parameters of a product (margins, limits, fees, …) for
    /// every live month at once and for the months listed later. See [`ProductParamsChange`].
    SetProductParams(Box<ProductParamsChange>),
}

/// The parameters of a product the operator may change while it trades, as they are in force
/// for one instrument. Units are the engine's: basis points, contracts, minor units, ticks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ProductParams {
    /// Daily price limit, basis points of the reference price.
    pub price_limit_bps: u32,
    pub initial_margin_bps: u32,
    pub maintenance_margin_bps: u32,
    pub order_qty_max: Qty,
    pub position_limit_all_months: u64,
    pub position_limit_spot_month: u64,
    pub fee_maker_minor: i64,
    pub fee_taker_minor: i64,
    /// Velocity circuit breaker range in ticks; 0 turns it off.
    pub cb_ticks: i64,
    pub market_protection_ticks: i64,
}

impl ProductParams {
    /// The parameters an instrument's spec carries.
    pub fn of(spec: &InstrumentSpec) -> ProductParams {
        ProductParams {
            price_limit_bps: spec.price_limit_bps,
            initial_margin_bps: spec.initial_margin_bps,
            maintenance_margin_bps: spec.maintenance_margin_bps,
            order_qty_max: spec.order_qty_max,
            position_limit_all_months: spec.position_limit_all_months,
            position_limit_spot_month: spec.position_limit_spot_month,
            fee_maker_minor: spec.fee_maker_minor,
            fee_taker_minor: spec.fee_taker_minor,
            cb_ticks: spec.cb_ticks,
            market_protection_ticks: spec.market_protection_ticks,
        }
    }

    /// Writes these parameters into a spec (everything else in it is left alone).
    pub fn apply_to(&self, spec: &mut InstrumentSpec) {
        spec.price_limit_bps = self.price_limit_bps;
        spec.initial_margin_bps = self.initial_margin_bps;
        spec.maintenance_margin_bps = self.maintenance_margin_bps;
        spec.order_qty_max = self.order_qty_max;
        spec.position_limit_all_months = self.position_limit_all_months;
        spec.position_limit_spot_month = self.position_limit_spot_month;
        spec.fee_maker_minor = self.fee_maker_minor;
        spec.fee_taker_minor = self.fee_taker_minor;
        spec.cb_ticks = self.cb_ticks;
        spec.market_protection_ticks = self.market_protection_ticks;
    }
}

/// A change of some of a product's parameters: `None` keeps the value in force. The engine
/// applies it to every listed, not delisted instrument of `product` at once and keeps it, so
/// that months listed later take it too (see `Engine::set_product_params`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProductParamsChange {
    /// Product root, e.g. `TKF`.
    pub product: String,
    pub price_limit_bps: Option<u32>,
    pub initial_margin_bps: Option<u32>,
    pub maintenance_margin_bps: Option<u32>,
    pub order_qty_max: Option<Qty>,
    pub position_limit_all_months: Option<u64>,
    pub position_limit_spot_month: Option<u64>,
    pub fee_maker_minor: Option<i64>,
    pub fee_taker_minor: Option<i64>,
    pub cb_ticks: Option<i64>,
    pub market_protection_ticks: Option<i64>,
}

impl ProductParamsChange {
    /// A change of nothing yet, for `product`.
    pub fn new(product: &str) -> ProductParamsChange {
        ProductParamsChange {
            product: product.to_string(),
            ..Default::default()
        }
    }

    /// Whether the change names no parameter at all.
    pub fn is_empty(&self) -> bool {
        self.price_limit_bps.is_none()
            && self.initial_margin_bps.is_none()
            && self.maintenance_margin_bps.is_none()
            && self.order_qty_max.is_none()
            && self.position_limit_all_months.is_none()
            && self.position_limit_spot_month.is_none()
            && self.fee_maker_minor.is_none()
            && self.fee_taker_minor.is_none()
            && self.cb_ticks.is_none()
            && self.market_protection_ticks.is_none()
    }

    /// `base` with this change's values put in.
    pub fn applied(&self, base: ProductParams) -> ProductParams {
        ProductParams {
            price_limit_bps: self.price_limit_bps.unwrap_or(base.price_limit_bps),
            initial_margin_bps: self.initial_margin_bps.unwrap_or(base.initial_margin_bps),
            maintenance_margin_bps: self
                .maintenance_margin_bps
                .unwrap_or(base.maintenance_margin_bps),
            order_qty_max: self.order_qty_max.unwrap_or(base.order_qty_max),
            position_limit_all_months: self
                .position_limit_all_months
                .unwrap_or(base.position_limit_all_months),
            position_limit_spot_month: self
                .position_limit_spot_month
                .unwrap_or(base.position_limit_spot_month),
            fee_maker_minor: self.fee_maker_minor.unwrap_or(base.fee_maker_minor),
            fee_taker_minor: self.fee_taker_minor.unwrap_or(base.fee_taker_minor),
            cb_ticks: self.cb_ticks.unwrap_or(base.cb_ticks),
            market_protection_ticks: self
                .market_protection_ticks
                .unwrap_or(base.market_protection_ticks),
        }
    }

    /// The later change `newer` laid over this one: its values win where it has any.
    pub fn merge(&mut self, newer: &ProductParamsChange) {
        fn over<T: Copy>(a: &mut Option<T>, b: Option<T>) {
            if b.is_some() {
                *a = b;
            }
        }
        over(&mut self.price_limit_bps, newer.price_limit_bps);
        over(&mut self.initial_margin_bps, newer.initial_margin_bps);
        over(
            &mut self.maintenance_margin_bps,
            newer.maintenance_margin_bps,
        );
        over(&mut self.order_qty_max, newer.order_qty_max);
        over(
            &mut self.position_limit_all_months,
            newer.position_limit_all_months,
        );
        over(
            &mut self.position_limit_spot_month,
            newer.position_limit_spot_month,
        );
        over(&mut self.fee_maker_minor, newer.fee_maker_minor);
        over(&mut self.fee_taker_minor, newer.fee_taker_minor);
        over(&mut self.cb_ticks, newer.cb_ticks);
        over(
            &mut self.market_protection_ticks,
            newer.market_protection_ticks,
        );
    }
}
