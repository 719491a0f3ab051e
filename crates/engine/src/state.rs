//! The core's state: instruments (spec, phase, book, stop orders), accounts, and the indexes
//! that tie client order ids and timers to orders. Everything that reaches events or the state
//! hash is ordered (`BTreeMap`/`BTreeSet`, or sorted before encoding).

use crate::command::{OrderType, Phase, ProductParamsChange, Role, StpMode, TimeInForce};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use tokex_book::Book;
use tokex_types::{
    AccountId, ClientOrderId, Currency, InstrumentId, InstrumentSpec, OrderId, Price, Qty, Side,
    Timestamp,
};

/// Bits of the book's per-order tag.
pub mod tag {
    /// Low 2 bits: time in force of a resting order.
    pub const TIF_MASK: u16 = 0b11;
    pub const TIF_GFD: u16 = 0;
    pub const TIF_GTC: u16 = 1;
    pub const TIF_GTD: u16 = 2;
    /// The order has an entry in `Engine::meta` (client order id or expiry time).
    pub const HAS_META: u16 = 1 << 2;
    /// Entered by the risk engine to liquidate a position.
    pub const LIQUIDATION: u16 = 1 << 3;
    /// Post-only: an amendment that would trade is rejected.
    pub const POST_ONLY: u16 = 1 << 4;
    /// Bits 5–6: the order's self-match prevention mode (kept for re-entry after an amend).
    pub const STP_SHIFT: u16 = 5;
    pub const STP_MASK: u16 = 0b11 << STP_SHIFT;

    pub fn stp_bits(mode: crate::command::StpMode) -> u16 {
        (mode as u16) << STP_SHIFT
    }

    pub fn stp_of(t: u16) -> crate::command::StpMode {
        match (t & STP_MASK) >> STP_SHIFT {
            1 => crate::command::StpMode::CancelAggressing,
            2 => crate::command::StpMode::CancelBoth,
            _ => crate::command::StpMode::CancelResting,
        }
    }
}

/// Per-order data kept only for the orders that need it, so the common order costs nothing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OrderMeta {
    pub client_order_id: Option<ClientOrderId>,
    pub expire_at: Option<Timestamp>,
}

/// A stop order waiting for its trigger.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StopOrder {
    pub id: OrderId,
    pub account: AccountId,
    pub side: Side,
    pub order_type: OrderType,
    pub stop_price: Price,
    pub price: Option<Price>,
    pub qty: Qty,
    pub tif: TimeInForce,
    pub display_qty: Option<Qty>,
    pub stp: StpMode,
    pub client_order_id: Option<ClientOrderId>,
}

#[derive(Default, Clone, Debug)]
pub struct StopBook {
    pub orders: BTreeMap<OrderId, StopOrder>,
    /// Buy stops trigger when the last price rises to their stop price.
    pub buys: BTreeSet<(Price, OrderId)>,
    /// Sell stops trigger when the last price falls to their stop price.
    pub sells: BTreeSet<(Price, OrderId)>,
}

impl StopBook {
    pub fn insert(&mut self, s: StopOrder) {
        match s.side {
            Side::Buy => self.buys.insert((s.stop_price, s.id)),
            Side::Sell => self.sells.insert((s.stop_price, s.id)),
        };
        self.orders.insert(s.id, s);
    }

    pub fn remove(&mut self, id: OrderId) -> Option<StopOrder> {
        let s = self.orders.remove(&id)?;
        match s.side {
            Side::Buy => self.buys.remove(&(s.stop_price, s.id)),
            Side::Sell => self.sells.remove(&(s.stop_price, s.id)),
        };
        Some(s)
    }

    /// Ids of the stops the last price `last` triggers, in order of entry (order id).
    pub fn triggered_by(&self, last: Price) -> Vec<OrderId> {
        let mut ids: Vec<OrderId> = self
            .buys
            .range(..=(last, OrderId(u64::MAX)))
            .map(|&(_, id)| id)
            .collect();
        ids.extend(self.sells.range((last, OrderId(0))..).map(|&(_, id)| id));
        ids.sort_unstable();
        ids
    }
}

/// Sliding-window minimum and maximum of trade prices, for the velocity circuit breaker.
#[derive(Default, Clone, Debug)]
pub struct PriceWindow {
    pub mins: VecDeque<(Timestamp, Price)>,
    pub maxs: VecDeque<(Timestamp, Price)>,
}

impl PriceWindow {
    pub fn evict_before(&mut self, t: Timestamp) {
        while self.mins.front().is_some_and(|&(ts, _)| ts < t) {
            self.mins.pop_front();
        }
        while self.maxs.front().is_some_and(|&(ts, _)| ts < t) {
            self.maxs.pop_front();
        }
    }

    /// Would a trade at `p` make the window's range exceed `ticks`?
    pub fn would_exceed(&self, p: Price, ticks: i64) -> bool {
        let lo = self.mins.front().map_or(p, |&(_, m)| m.min(p));
        let hi = self.maxs.front().map_or(p, |&(_, m)| m.max(p));
        hi.0 - lo.0 > ticks
    }

    pub fn push(&mut self, t: Timestamp, p: Price) {
        while self.mins.back().is_some_and(|&(_, m)| m >= p) {
            self.mins.pop_back();
        }
        self.mins.push_back((t, p));
        while self.maxs.back().is_some_and(|&(_, m)| m <= p) {
            self.maxs.pop_back();
        }
        self.maxs.push_back((t, p));
    }

    pub fn clear(&mut self) {
        self.mins.clear();
        self.maxs.clear();
    }
}

pub struct InstrumentState {
    pub spec: InstrumentSpec,
    pub book: Book,
    pub phase: Phase,
    /// End of a timed pre-open auction (circuit breaker or resume).
    pub auction_until: Option<Timestamp>,
    pub last_price: Option<Price>,
    /// Previous settlement price: the reference for price limits and auctions.
    pub reference_price: Price,
    /// Current daily limit in basis points (widened after a limit-locked day).
    pub limit_bps: u32,
    pub lower_limit: Price,
    pub upper_limit: Price,
    pub stops: StopBook,
    pub window: PriceWindow,
    /// No longer trading: expired and settled.
    pub delisted: bool,
    /// Trading-day statistics since the last settlement.
    pub day: DayStats,
    /// The previous trading day settled at a price limit: today's limit is widened and the
    /// margin rate raised (SPEC §2).
    pub limit_locked: bool,
    /// Index into `EngineState::products` (interned product root), for position limits.
    pub product_ix: u32,
}

/// Statistics of the current trading day, reset by daily settlement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayStats {
    pub open: Option<Price>,
    pub high: Option<Price>,
    pub low: Option<Price>,
    pub close: Option<Price>,
    pub volume: u64,
    /// Σ price × qty in tick·contracts (for the VWAP settlement price).
    pub turnover: i128,
    pub trades: u64,
}

impl DayStats {
    pub fn record(&mut self, price: Price, qty: u64) {
        self.open.get_or_insert(price);
        self.high = Some(self.high.map_or(price, |h| h.max(price)));
        self.low = Some(self.low.map_or(price, |l| l.min(price)));
        self.close = Some(price);
        self.volume += qty;
        self.turnover += price.0 as i128 * qty as i128;
        self.trades += 1;
    }
}

impl InstrumentState {
    pub fn new(spec: InstrumentSpec) -> InstrumentState {
        let reference = spec.initial_reference_price;
        let bps = spec.price_limit_bps;
        let mut s = InstrumentState {
            spec,
            book: Book::new(),
            phase: Phase::Closed,
            auction_until: None,
            last_price: None,
            reference_price: reference,
            limit_bps: bps,
            lower_limit: Price(1),
            upper_limit: Price(1),
            stops: StopBook::default(),
            window: PriceWindow::default(),
            delisted: false,
            day: DayStats::default(),
            limit_locked: false,
            product_ix: 0,
        };
        s.set_reference(reference, bps);
        s
    }

    /// Sets the reference price and recomputes the daily price limits: the band is
    /// `reference × (1 ± bps/10,000)`, rounded inwards to whole ticks, never below one tick.
    pub fn set_reference(&mut self, reference: Price, limit_bps: u32) {
        self.reference_price = reference;
        self.limit_bps = limit_bps;
        let r = reference.0 as i128;
        let b = limit_bps as i128;
        let lower = (r * (10_000 - b) + 9_999).div_euclid(10_000);
        let upper = (r * (10_000 + b)).div_euclid(10_000);
        self.lower_limit = Price((lower as i64).max(1));
        self.upper_limit = Price((upper as i64).max(1));
    }

    pub fn within_limits(&self, p: Price) -> bool {
        p >= self.lower_limit && p <= self.upper_limit
    }

    /// The price positions are marked at intraday: the last trade, else the reference.
    pub fn mark_price(&self) -> Price {
        self.last_price.unwrap_or(self.reference_price)
    }

    /// Initial and maintenance margin rates in force, basis points of notional. After a
    /// limit-locked day the initial rate rises to at least the widened limit plus the
    /// product's extra points, and maintenance rises by the same amount.
    pub fn margin_bps(&self) -> (u32, u32) {
        let (im, mm) = (
            self.spec.initial_margin_bps,
            self.spec.maintenance_margin_bps,
        );
        if !self.limit_locked {
            return (im, mm);
        }
        let raised = im.max(self.limit_bps + self.spec.limit_margin_extra_bps);
        (raised, mm + (raised - im))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub role: Role,
    pub stp: StpMode,
    /// Resting and stop orders currently working.
    pub working_orders: u32,
    /// Settled cash per currency (indexed by `Currency::index`), minor units. Moves only by
    /// deposits, withdrawals, fees, variation margin and insurance-fund cover.
    pub cash: [i64; 2],
    pub positions: BTreeMap<InstrumentId, Position>,
    /// Set by daily settlement when equity fell below maintenance margin.
    pub margin_call: Option<MarginCall>,
    /// The risk engine is closing this account's positions.
    pub liquidating: bool,
}

impl Account {
    pub fn new(id: AccountId, role: Role, stp: StpMode) -> Account {
        Account {
            id,
            role,
            stp,
            working_orders: 0,
            cash: [0; 2],
            positions: BTreeMap::new(),
            margin_call: None,
            liquidating: false,
        }
    }
}

/// A margin call: the account must bring equity back to initial margin by the next open.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MarginCall {
    pub currency: Currency,
    pub issued_at: Timestamp,
    /// Shortfall to initial margin when issued, minor units.
    pub shortfall: i64,
}

/// One account's position in one instrument.
///
/// `basis` is the variation-margin basis in tick·contracts: the position marked at the last
/// settlement price plus every trade since at its price (buys positive). Daily variation
/// margin is `net × settle − basis` ticks, so across all accounts it sums to zero exactly.
/// `open_cost` (tick·contracts of the open position at entry prices) gives the average price
/// shown to users; realised P&L is informational — cash moves only by variation margin.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Position {
    pub net: i64,
    pub basis: i128,
    pub open_cost: i128,
    pub realised_minor: i64,
    /// Quantity of working buy and sell orders (resting and stop), for worst-case margin.
    pub working_buy: u64,
    pub working_sell: u64,
    /// Contracts bought and sold today.
    pub day_bought: u64,
    pub day_sold: u64,
}

impl Position {
    /// Average entry price in ticks, as a (numerator, denominator) pair; `None` when flat.
    pub fn avg_price(&self) -> Option<(i128, i64)> {
        (self.net != 0).then_some((self.open_cost, self.net))
    }

    pub fn is_idle(&self) -> bool {
        self.net == 0 && self.working_buy == 0 && self.working_sell == 0 && self.basis == 0
    }
}

/// Where a client order id of the current trading day points.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ClientIdEntry {
    pub order_id: OrderId,
    pub instrument: InstrumentId,
}

pub struct EngineState {
    pub instruments: Vec<InstrumentState>,
    pub accounts: Vec<Option<Account>>,
    pub next_order_id: u64,
    pub next_trade_id: u64,
    pub meta: FxHashMap<u64, OrderMeta>,
    pub client_ids: FxHashMap<(AccountId, ClientOrderId), ClientIdEntry>,
    pub gtd_timers: BTreeSet<(Timestamp, OrderId, InstrumentId)>,
    /// Interned product roots, in order of first listing.
    pub products: Vec<String>,
    /// Parameters the operator changed, per product root: put into every month listed later.
    pub product_overrides: BTreeMap<String, ProductParamsChange>,
    /// Money that entered and left through the operator, per currency (minor units).
    pub deposits: [i128; 2],
    pub withdrawals: [i128; 2],
    /// Fees collected by the exchange, per currency (minor units).
    pub fees: [i128; 2],
    /// Index fixings received: (index id, date) → value in millionths of the index unit.
    pub fixings: BTreeMap<(String, chrono::NaiveDate), i64>,
    /// The insurance fund's account, once created.
    pub insurance_fund: Option<AccountId>,
    /// Time of the last applied command; commands must not go back in time.
    pub now: Timestamp,
    /// Earliest time a timer (GTD expiry, auction end) is due; `u64::MAX` when none.
    pub next_deadline: Timestamp,
}

impl EngineState {
    pub fn new() -> EngineState {
        EngineState {
            instruments: Vec::new(),
            accounts: Vec::new(),
            next_order_id: 1,
            next_trade_id: 1,
            meta: FxHashMap::default(),
            client_ids: FxHashMap::default(),
            gtd_timers: BTreeSet::new(),
            products: Vec::new(),
            product_overrides: BTreeMap::new(),
            deposits: [0; 2],
            withdrawals: [0; 2],
            fees: [0; 2],
            fixings: BTreeMap::new(),
            insurance_fund: None,
            now: Timestamp(0),
            next_deadline: Timestamp(u64::MAX),
        }
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(id.0 as usize).and_then(|a| a.as_ref())
    }

    pub fn account_mut(&mut self, id: AccountId) -> Option<&mut Account> {
        self.accounts
            .get_mut(id.0 as usize)
            .and_then(|a| a.as_mut())
    }

    pub fn recompute_deadline(&mut self) {
        let gtd = self.gtd_timers.first().map(|&(t, _, _)| t);
        let auction = self
            .instruments
            .iter()
            .filter_map(|i| i.auction_until)
            .min();
        self.next_deadline = match (gtd, auction) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => Timestamp(u64::MAX),
        };
    }
}

impl Default for EngineState {
    fn default() -> Self {
        Self::new()
    }
}
