//! A naive reference model of the trading core (SPEC §3), written independently of the
//! engine's code to be obviously correct rather than fast.
//!
//! Each side of a book is a plain `Vec` of orders, scanned linearly; an order's priority is
//! `(price, arrival sequence)`, where the arrival sequence is a counter bumped every time an
//! order joins the back of a queue (entry, a priority-losing amendment, an iceberg refill).
//! FOK and minimum-quantity checks are a dry run of the real matching loop on a clone of the
//! instrument: an order is all-or-nothing exactly when the matching it would do fills it.
//!
//! The model takes the same [`Command`]s and answers with the same [`Event`]s and
//! `Result<(), RejectCode>` as the engine for everything in the trading core. Commands outside
//! it (cash, fixings, settlement) are not modelled: [`Model::apply`] returns `None` for them.
//! Events outside the trading core are dropped by [`trading_events`] before comparing.

use std::collections::BTreeMap;
use tokex_engine::{
    Amend, CancelReason, Command, Event, MassCancel, NewOrder, OrderRef, OrderType, Phase,
    RejectCode, Role, StpMode, TimeInForce,
};
use tokex_types::limits::{
    ACCOUNTS_MAX, ORDERS_PER_ACCOUNT_MAX, ORDER_QTY_MAX_CONTRACTS, STOP_CASCADE_MAX,
};
use tokex_types::{
    AccountId, ClientOrderId, InstrumentId, InstrumentSpec, OrderId, Price, Qty, Side, Timestamp,
    TradePriceRule,
};

use RejectCode as C;

/// Knobs that make the model reproduce a known engine defect, so that property tests can
/// keep running over the rest of the behaviour until the defect is fixed. All `false` is the
/// behaviour the rules ask for.
#[derive(Copy, Clone, Debug, Default)]
pub struct Quirks {
    /// A priority-losing amendment re-enters the order with the *account's* self-match mode
    /// instead of the order's own override.
    pub amend_uses_account_stp: bool,
}

/// Keeps only the events of the trading core (orders, trades, phases, listing, accounts).
pub fn trading_events(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::OrderAccepted { .. }
                    | Event::OrderRested { .. }
                    | Event::Trade { .. }
                    | Event::OrderCancelled { .. }
                    | Event::OrderAmended { .. }
                    | Event::StopTriggered { .. }
                    | Event::PhaseChanged { .. }
                    | Event::AuctionUncrossed { .. }
                    | Event::CircuitBreakerTripped { .. }
                    | Event::InstrumentListed { .. }
                    | Event::AccountCreated { .. }
            )
        })
        .cloned()
        .collect()
}

#[derive(Clone, Debug)]
struct Order {
    id: OrderId,
    account: AccountId,
    side: Side,
    price: Price,
    leaves: u64,
    visible: u64,
    /// Iceberg display size, 0 for none.
    display: u64,
    /// Arrival sequence: lower is earlier in the queue.
    seq: u64,
    tif: TimeInForce,
    post_only: bool,
    stp: StpMode,
    clid: Option<ClientOrderId>,
}

#[derive(Clone, Debug)]
struct Stop {
    id: OrderId,
    account: AccountId,
    side: Side,
    order_type: OrderType,
    stop_price: Price,
    price: Option<Price>,
    qty: u64,
    tif: TimeInForce,
    display: Option<u64>,
    stp: StpMode,
    clid: Option<ClientOrderId>,
}

/// An order arriving at the book.
#[derive(Clone, Debug)]
struct Arrival {
    id: OrderId,
    account: AccountId,
    side: Side,
    price: Option<Price>,
    leaves: u64,
    tif: TimeInForce,
    min_qty: u64,
    display: u64,
    stp: StpMode,
    clid: Option<ClientOrderId>,
    post_only: bool,
}

impl Arrival {
    fn can_rest(&self) -> bool {
        self.price.is_some()
            && matches!(
                self.tif,
                TimeInForce::Gfd | TimeInForce::Gtc | TimeInForce::Gtd(_)
            )
    }
}

#[derive(Clone, Debug)]
struct Inst {
    spec: InstrumentSpec,
    phase: Phase,
    auction_until: Option<Timestamp>,
    last: Option<Price>,
    reference: Price,
    lower: Price,
    upper: Price,
    orders: Vec<Order>,
    stops: Vec<Stop>,
    /// Trade prices of the circuit-breaker window.
    window: Vec<(Timestamp, Price)>,
}

/// `a` is ahead of `b` in the priority of their (same) side.
fn ahead(a: &Order, b: &Order) -> bool {
    let better_price = match a.side {
        Side::Buy => a.price > b.price,
        Side::Sell => a.price < b.price,
    };
    better_price || (a.price == b.price && a.seq < b.seq)
}

impl Inst {
    fn new(spec: InstrumentSpec) -> Inst {
        let r = spec.initial_reference_price.0 as i128;
        let b = spec.price_limit_bps as i128;
        // ±bps of the reference, rounded inwards to whole ticks, never below one tick.
        let mut lower = r * (10_000 - b) / 10_000;
        if lower * 10_000 < r * (10_000 - b) {
            lower += 1;
        }
        let upper = r * (10_000 + b) / 10_000;
        Inst {
            reference: spec.initial_reference_price,
            lower: Price((lower as i64).max(1)),
            upper: Price((upper as i64).max(1)),
            spec,
            phase: Phase::Closed,
            auction_until: None,
            last: None,
            orders: Vec::new(),
            stops: Vec::new(),
            window: Vec::new(),
        }
    }

    fn within(&self, p: Price) -> bool {
        self.lower <= p && p <= self.upper
    }

    /// Index of the order at the front of `side` (best price, earliest arrival).
    fn front(&self, side: Side) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, o) in self.orders.iter().enumerate() {
            if o.side == side && best.is_none_or(|b| ahead(o, &self.orders[b])) {
                best = Some(i);
            }
        }
        best
    }

    fn best(&self, side: Side) -> Option<Price> {
        self.front(side).map(|i| self.orders[i].price)
    }

    fn find(&self, id: OrderId) -> Option<usize> {
        self.orders.iter().position(|o| o.id == id)
    }

    fn crossed(&self) -> bool {
        matches!((self.best(Side::Buy), self.best(Side::Sell)), (Some(b), Some(a)) if b >= a)
    }

    /// The working orders (resting and stops) in order-id order.
    fn working_ids(&self) -> Vec<OrderId> {
        let mut v: Vec<OrderId> = self.orders.iter().map(|o| o.id).collect();
        v.extend(self.stops.iter().map(|s| s.id));
        v.sort();
        v
    }
}

#[derive(Clone, Debug)]
struct Acct {
    role: Role,
    stp: StpMode,
}

#[derive(Clone, Debug)]
struct ClientEntry {
    order: OrderId,
    instrument: InstrumentId,
}

/// Why a matching run stopped short.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Stopped {
    No,
    SelfMatch,
    Breaker,
}

/// The reference model. See the module docs.
#[derive(Clone, Debug)]
pub struct Model {
    pub quirks: Quirks,
    now: Timestamp,
    next_order: u64,
    next_trade: u64,
    seq: u64,
    accounts: BTreeMap<u32, Acct>,
    insts: Vec<Inst>,
    client_ids: BTreeMap<(AccountId, ClientOrderId), ClientEntry>,
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

type Res = Result<(), RejectCode>;

impl Model {
    pub fn new() -> Model {
        Model {
            quirks: Quirks::default(),
            now: Timestamp(0),
            next_order: 1,
            next_trade: 1,
            seq: 0,
            accounts: BTreeMap::new(),
            insts: Vec::new(),
            client_ids: BTreeMap::new(),
        }
    }

    pub fn with_quirks(quirks: Quirks) -> Model {
        Model {
            quirks,
            ..Model::new()
        }
    }

    /// Applies one command. `None` for commands outside the trading core (not modelled);
    /// otherwise the result (reject code) and the events.
    pub fn apply(&mut self, time: Timestamp, cmd: &Command) -> Option<(Res, Vec<Event>)> {
        if !Self::models(cmd) {
            return None;
        }
        if time > self.now {
            self.now = time;
        }
        let mut out = Vec::new();
        self.timers(&mut out);
        let mark = out.len();
        let r = match cmd {
            Command::CreateAccount { account, role, stp } => {
                self.create_account(*account, *role, *stp, &mut out)
            }
            Command::ListInstrument(spec) => self.list(spec, &mut out),
            Command::NewOrder(o) => self.new_order(o, &mut out),
            Command::Amend(a) => self.amend(a, &mut out),
            Command::Cancel(c) => self.cancel(c.account, c.instrument, c.order, &mut out),
            Command::MassCancel(m) => self.mass_cancel(m, &mut out),
            Command::SetPhase { instrument, phase } => {
                self.set_phase(*instrument, *phase, &mut out)
            }
            Command::Halt { instrument } => self.halt(*instrument, &mut out),
            Command::Resume {
                instrument,
                auction_ns,
            } => self.resume(*instrument, *auction_ns, &mut out),
            Command::EndTradingDay { instrument } => self.end_day(*instrument, &mut out),
            Command::Tick => Ok(()),
            #[allow(unreachable_patterns)]
            _ => unreachable!("filtered by `models`"),
        };
        assert!(
            r.is_ok() || out.len() == mark,
            "model: a reject emitted events"
        );
        Some((r, out))
    }

    /// Whether the model knows this command.
    pub fn models(cmd: &Command) -> bool {
        matches!(
            cmd,
            Command::CreateAccount { .. }
                | Command::ListInstrument(_)
                | Command::NewOrder(_)
                | Command::Amend(_)
                | Command::Cancel(_)
                | Command::MassCancel(_)
                | Command::SetPhase { .. }
                | Command::Halt { .. }
                | Command::Resume { .. }
                | Command::EndTradingDay { .. }
                | Command::Tick
        )
    }

    /// Resting orders of an instrument, in priority order per side: (id, price, leaves,
    /// visible), bids first. For tests that want to look inside.
    pub fn book(&self, instrument: u32, side: Side) -> Vec<(OrderId, Price, u64, u64)> {
        let inst = &self.insts[instrument as usize];
        let mut v: Vec<&Order> = inst.orders.iter().filter(|o| o.side == side).collect();
        v.sort_by(|a, b| {
            if ahead(a, b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        v.iter()
            .map(|o| (o.id, o.price, o.leaves, o.visible))
            .collect()
    }

    pub fn phase(&self, instrument: u32) -> Phase {
        self.insts[instrument as usize].phase
    }

    pub fn last_price(&self, instrument: u32) -> Option<Price> {
        self.insts[instrument as usize].last
    }

    fn bump_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn working_count(&self, a: AccountId) -> u32 {
        self.insts
            .iter()
            .map(|i| {
                i.orders.iter().filter(|o| o.account == a).count()
                    + i.stops.iter().filter(|s| s.account == a).count()
            })
            .sum::<usize>() as u32
    }

    // ----- timers ------------------------------------------------------------------------

    fn timers(&mut self, out: &mut Vec<Event>) {
        let now = self.now;
        // GTD expiry, earliest first, then by order id.
        let mut due: Vec<(Timestamp, OrderId, usize)> = Vec::new();
        for (ix, inst) in self.insts.iter().enumerate() {
            for o in &inst.orders {
                if let TimeInForce::Gtd(t) = o.tif {
                    if t <= now {
                        due.push((t, o.id, ix));
                    }
                }
            }
            for s in &inst.stops {
                if let TimeInForce::Gtd(t) = s.tif {
                    if t <= now {
                        due.push((t, s.id, ix));
                    }
                }
            }
        }
        due.sort();
        for (_, id, ix) in due {
            self.remove_working(ix, id, CancelReason::Expired, out);
        }
        for ix in 0..self.insts.len() {
            if self.insts[ix].auction_until.is_some_and(|t| t <= now) {
                self.uncross(ix, out);
                let inst = &mut self.insts[ix];
                inst.auction_until = None;
                inst.phase = Phase::Continuous;
                inst.window.clear();
                out.push(Event::PhaseChanged {
                    instrument: inst.spec.id,
                    phase: Phase::Continuous,
                    auction_until: None,
                });
                self.release_stops(ix, out);
            }
        }
    }

    // ----- accounts, listing -------------------------------------------------------------

    fn create_account(
        &mut self,
        id: AccountId,
        role: Role,
        stp: StpMode,
        out: &mut Vec<Event>,
    ) -> Res {
        if id.0 >= ACCOUNTS_MAX {
            return Err(C::UnknownAccount);
        }
        if self.accounts.contains_key(&id.0) {
            return Err(C::AccountExists);
        }
        self.accounts.insert(id.0, Acct { role, stp });
        out.push(Event::AccountCreated { account: id });
        Ok(())
    }

    fn list(&mut self, spec: &InstrumentSpec, out: &mut Vec<Event>) -> Res {
        if spec.id.0 as usize != self.insts.len() {
            return Err(C::InstrumentIdMismatch);
        }
        if spec.initial_reference_price.0 < 1 || spec.order_qty_max.0 == 0 {
            return Err(C::InvalidPrice);
        }
        self.insts.push(Inst::new(spec.clone()));
        out.push(Event::InstrumentListed {
            instrument: spec.id,
            symbol: spec.symbol.clone(),
        });
        Ok(())
    }

    fn inst(&self, id: InstrumentId) -> Result<usize, RejectCode> {
        if (id.0 as usize) < self.insts.len() {
            Ok(id.0 as usize)
        } else {
            Err(C::UnknownInstrument)
        }
    }

    // ----- new orders --------------------------------------------------------------------

    fn check_new(&self, o: &NewOrder) -> Res {
        let acct = self.accounts.get(&o.account.0).ok_or(C::UnknownAccount)?;
        if !matches!(acct.role, Role::Trader | Role::MarketMaker) {
            return Err(C::AccountRoleCannotTrade);
        }
        let inst = &self.insts[self.inst(o.instrument)?];
        let stop = matches!(o.order_type, OrderType::StopLimit | OrderType::StopMarket);
        let market_like = matches!(o.order_type, OrderType::Market | OrderType::StopMarket);
        let rests = matches!(
            o.tif,
            TimeInForce::Gfd | TimeInForce::Gtc | TimeInForce::Gtd(_)
        );
        match inst.phase {
            Phase::Continuous => {}
            Phase::PreOpen if o.order_type == OrderType::Market || !rests => {
                return Err(C::NotAllowedInAuction)
            }
            Phase::PreOpen => {}
            _ => return Err(C::MarketClosed),
        }
        if o.qty.0 == 0 {
            return Err(C::InvalidQuantity);
        }
        if o.qty > inst.spec.order_qty_max || o.qty.0 > ORDER_QTY_MAX_CONTRACTS {
            return Err(C::OrderTooLarge);
        }
        if market_like {
            if o.price.is_some() {
                return Err(C::InvalidPrice);
            }
        } else {
            let p = o.price.ok_or(C::InvalidPrice)?;
            if p.0 < 1 {
                return Err(C::InvalidPrice);
            }
            if !inst.within(p) {
                return Err(C::PriceOutsideLimits);
            }
        }
        if stop != o.stop_price.is_some() {
            return Err(C::InvalidStopPrice);
        }
        if let Some(sp) = o.stop_price {
            if sp.0 < 1 || !inst.within(sp) {
                return Err(C::InvalidStopPrice);
            }
            if Self::stop_reached(o.side, sp, inst.last.unwrap_or(inst.reference)) {
                return Err(C::StopWouldTrigger);
            }
        }
        if stop && !rests {
            return Err(C::InvalidTimeInForce);
        }
        if o.order_type == OrderType::Market && rests {
            return Err(C::InvalidTimeInForce);
        }
        if let TimeInForce::Gtd(t) = o.tif {
            if t <= self.now {
                return Err(C::ExpiryInPast);
            }
        }
        if let Some(m) = o.min_qty {
            if o.tif != TimeInForce::Ioc || m.0 == 0 || m > o.qty {
                return Err(C::InvalidMinQty);
            }
        }
        if let Some(d) = o.display_qty {
            if !rests || market_like || d.0 == 0 || d >= o.qty {
                return Err(C::InvalidDisplayQty);
            }
        }
        if o.post_only {
            if o.order_type != OrderType::Limit || !rests {
                return Err(C::InvalidPostOnly);
            }
            let p = o.price.expect("checked");
            if inst.phase == Phase::Continuous && Self::would_cross(inst, o.side, p) {
                return Err(C::PostOnlyWouldTrade);
            }
        }
        if let Some(c) = o.client_order_id {
            if self.client_ids.contains_key(&(o.account, c)) {
                return Err(C::DuplicateClientOrderId);
            }
        }
        if self.working_count(o.account) >= ORDERS_PER_ACCOUNT_MAX {
            return Err(C::TooManyOrders);
        }
        Ok(())
    }

    /// Has the last price `last` reached a stop at `stop` on `side`?
    fn stop_reached(side: Side, stop: Price, last: Price) -> bool {
        match side {
            Side::Buy => last >= stop,
            Side::Sell => last <= stop,
        }
    }

    fn would_cross(inst: &Inst, side: Side, p: Price) -> bool {
        match side {
            Side::Buy => inst.best(Side::Sell).is_some_and(|a| a <= p),
            Side::Sell => inst.best(Side::Buy).is_some_and(|b| b >= p),
        }
    }

    fn new_order(&mut self, o: &NewOrder, out: &mut Vec<Event>) -> Res {
        self.check_new(o)?;
        let id = OrderId(self.next_order);
        self.next_order += 1;
        out.push(Event::OrderAccepted {
            order_id: id,
            account: o.account,
            instrument: o.instrument,
            client_order_id: o.client_order_id,
            side: o.side,
            order_type: o.order_type,
            tif: o.tif,
            price: o.price,
            stop_price: o.stop_price,
            qty: o.qty,
        });
        if let Some(c) = o.client_order_id {
            self.client_ids.insert(
                (o.account, c),
                ClientEntry {
                    order: id,
                    instrument: o.instrument,
                },
            );
        }
        let stp = o.stp.unwrap_or(self.accounts[&o.account.0].stp);
        let ix = o.instrument.0 as usize;
        if let Some(sp) = o.stop_price {
            self.insts[ix].stops.push(Stop {
                id,
                account: o.account,
                side: o.side,
                order_type: o.order_type,
                stop_price: sp,
                price: o.price,
                qty: o.qty.0,
                tif: o.tif,
                display: o.display_qty.map(|q| q.0),
                stp,
                clid: o.client_order_id,
            });
            return Ok(());
        }
        let a = Arrival {
            id,
            account: o.account,
            side: o.side,
            price: o.price,
            leaves: o.qty.0,
            tif: o.tif,
            min_qty: o.min_qty.map_or(0, |q| q.0),
            display: o.display_qty.map_or(0, |q| q.0),
            stp,
            clid: o.client_order_id,
            post_only: o.post_only,
        };
        self.arrive(ix, a, out);
        self.release_stops(ix, out);
        Ok(())
    }

    // ----- matching ----------------------------------------------------------------------

    fn rest(&mut self, ix: usize, a: &Arrival, price: Price, out: &mut Vec<Event>) {
        let seq = self.bump_seq();
        let visible = if a.display > 0 {
            a.display.min(a.leaves)
        } else {
            a.leaves
        };
        let inst = &mut self.insts[ix];
        inst.orders.push(Order {
            id: a.id,
            account: a.account,
            side: a.side,
            price,
            leaves: a.leaves,
            visible,
            display: a.display,
            seq,
            tif: a.tif,
            post_only: a.post_only,
            stp: a.stp,
            clid: a.clid,
        });
        out.push(Event::OrderRested {
            order_id: a.id,
            instrument: inst.spec.id,
            side: a.side,
            price,
            visible: Qty(visible),
            leaves: Qty(a.leaves),
        });
    }

    fn cancel_arrival(&self, ix: usize, a: &Arrival, why: CancelReason, out: &mut Vec<Event>) {
        out.push(Event::OrderCancelled {
            order_id: a.id,
            account: a.account,
            instrument: self.insts[ix].spec.id,
            cancelled_qty: Qty(a.leaves),
            reason: why,
        });
    }

    /// An accepted order (new, re-entered by an amendment, or a released stop) reaches the
    /// book: it matches in continuous trading, otherwise it rests if it can.
    fn arrive(&mut self, ix: usize, mut a: Arrival, out: &mut Vec<Event>) {
        let inst = &self.insts[ix];
        if inst.phase != Phase::Continuous {
            match a.price {
                Some(p) if a.can_rest() => self.rest(ix, &a, p, out),
                _ => self.cancel_arrival(ix, &a, CancelReason::StopNotExecutable, out),
            }
            return;
        }
        let limit = match a.price {
            Some(p) => p,
            None => {
                // Market: a limit at the best opposite price ± protection, inside the limits.
                let Some(best) = inst.best(a.side.opposite()) else {
                    return self.cancel_arrival(ix, &a, CancelReason::Unfilled, out);
                };
                let n = inst.spec.market_protection_ticks;
                match a.side {
                    Side::Buy => Price((best.0 + n).min(inst.upper.0)),
                    Side::Sell => Price((best.0 - n).max(inst.lower.0)),
                }
            }
        };
        let needed = if a.tif == TimeInForce::Fok {
            a.leaves
        } else {
            a.min_qty
        };
        if needed > 0 {
            // Dry run on a copy: how much would really fill?
            let mut copy = self.clone();
            let mut probe = a.clone();
            copy.match_against(ix, &mut probe, limit, &mut Vec::new());
            if a.leaves - probe.leaves < needed {
                return self.cancel_arrival(ix, &a, CancelReason::Unfilled, out);
            }
        }
        let stopped = self.match_against(ix, &mut a, limit, out);
        if a.leaves == 0 {
            return;
        }
        match stopped {
            Stopped::SelfMatch => self.cancel_arrival(ix, &a, CancelReason::SelfMatch, out),
            _ if a.can_rest() => self.rest(ix, &a, limit, out),
            _ => self.cancel_arrival(ix, &a, CancelReason::Unfilled, out),
        }
    }

    fn trade_price(
        rule: TradePriceRule,
        side: Side,
        limit: Price,
        resting: Price,
        last: Price,
    ) -> Price {
        match rule {
            TradePriceRule::Resting => resting,
            TradePriceRule::ShfeMedian => {
                let (buy, sell) = match side {
                    Side::Buy => (limit, resting),
                    Side::Sell => (resting, limit),
                };
                let mut v = [buy, sell, last];
                v.sort();
                v[1]
            }
        }
    }

    /// The continuous matching loop.
    fn match_against(
        &mut self,
        ix: usize,
        a: &mut Arrival,
        limit: Price,
        out: &mut Vec<Event>,
    ) -> Stopped {
        let now = self.now;
        {
            let inst = &mut self.insts[ix];
            if inst.spec.cb_ticks > 0 {
                let from = now.0.saturating_sub(inst.spec.cb_window_ns);
                inst.window.retain(|&(t, _)| t.0 >= from);
            }
        }
        while a.leaves > 0 {
            let inst = &self.insts[ix];
            let Some(fi) = inst.front(a.side.opposite()) else {
                break;
            };
            let front = inst.orders[fi].clone();
            let crosses = match a.side {
                Side::Buy => front.price <= limit,
                Side::Sell => front.price >= limit,
            };
            if !crosses {
                break;
            }
            if front.account == a.account {
                match a.stp {
                    StpMode::CancelResting => {
                        self.remove_working(ix, front.id, CancelReason::SelfMatch, out);
                        continue;
                    }
                    StpMode::CancelAggressing => return Stopped::SelfMatch,
                    StpMode::CancelBoth => {
                        self.remove_working(ix, front.id, CancelReason::SelfMatch, out);
                        return Stopped::SelfMatch;
                    }
                }
            }
            let last = inst.last.unwrap_or(inst.reference);
            let price =
                Self::trade_price(inst.spec.trade_price_rule, a.side, limit, front.price, last);
            if inst.spec.cb_ticks > 0 {
                let lo = inst
                    .window
                    .iter()
                    .map(|w| w.1)
                    .min()
                    .unwrap_or(price)
                    .min(price);
                let hi = inst
                    .window
                    .iter()
                    .map(|w| w.1)
                    .max()
                    .unwrap_or(price)
                    .max(price);
                if hi.0 - lo.0 > inst.spec.cb_ticks {
                    self.trip(ix, price, out);
                    return Stopped::Breaker;
                }
            }
            let qty = a.leaves.min(front.visible);
            a.leaves -= qty;
            let refill_seq = self.seq + 1;
            let inst = &mut self.insts[ix];
            inst.last = Some(price);
            if inst.spec.cb_ticks > 0 {
                inst.window.push((now, price));
            }
            let o = &mut inst.orders[fi];
            o.leaves -= qty;
            o.visible -= qty;
            let maker_leaves = o.leaves;
            let mut refilled = false;
            if o.leaves > 0 && o.visible == 0 {
                o.visible = o.display.min(o.leaves);
                o.seq = refill_seq;
                refilled = true;
            }
            let (bo, ba, bl, so, sa, sl) = match a.side {
                Side::Buy => (
                    a.id,
                    a.account,
                    a.leaves,
                    front.id,
                    front.account,
                    maker_leaves,
                ),
                Side::Sell => (
                    front.id,
                    front.account,
                    maker_leaves,
                    a.id,
                    a.account,
                    a.leaves,
                ),
            };
            out.push(Event::Trade {
                trade_id: self.next_trade,
                instrument: inst.spec.id,
                price,
                qty: Qty(qty),
                aggressor: Some(a.side),
                buy_order: bo,
                buy_account: ba,
                sell_order: so,
                sell_account: sa,
                maker_side: a.side.opposite(),
                buy_leaves: Qty(bl),
                sell_leaves: Qty(sl),
            });
            self.next_trade += 1;
            if maker_leaves == 0 {
                self.insts[ix].orders.remove(fi);
            } else if refilled {
                self.seq = refill_seq;
                let o = &self.insts[ix].orders[fi];
                out.push(Event::OrderRested {
                    order_id: o.id,
                    instrument: self.insts[ix].spec.id,
                    side: o.side,
                    price: o.price,
                    visible: Qty(o.visible),
                    leaves: Qty(o.leaves),
                });
            }
        }
        Stopped::No
    }

    fn trip(&mut self, ix: usize, price: Price, out: &mut Vec<Event>) {
        let now = self.now;
        let inst = &mut self.insts[ix];
        let until = Timestamp(now.0.saturating_add(inst.spec.cb_auction_ns));
        inst.phase = Phase::PreOpen;
        inst.auction_until = Some(until);
        inst.window.clear();
        out.push(Event::CircuitBreakerTripped {
            instrument: inst.spec.id,
            price,
            auction_until: until,
        });
        out.push(Event::PhaseChanged {
            instrument: inst.spec.id,
            phase: Phase::PreOpen,
            auction_until: Some(until),
        });
    }

    /// Releases the stops the last trade price reaches, lowest order id first, one at a time.
    fn release_stops(&mut self, ix: usize, out: &mut Vec<Event>) {
        for _ in 0..STOP_CASCADE_MAX {
            let inst = &self.insts[ix];
            if inst.phase != Phase::Continuous {
                return;
            }
            let Some(last) = inst.last else { return };
            let Some(si) = (0..inst.stops.len())
                .filter(|&i| Self::stop_reached(inst.stops[i].side, inst.stops[i].stop_price, last))
                .min_by_key(|&i| inst.stops[i].id)
            else {
                return;
            };
            let s = self.insts[ix].stops.remove(si);
            out.push(Event::StopTriggered {
                order_id: s.id,
                instrument: self.insts[ix].spec.id,
                last_price: last,
            });
            let market = s.order_type == OrderType::StopMarket;
            let a = Arrival {
                id: s.id,
                account: s.account,
                side: s.side,
                price: if market { None } else { s.price },
                leaves: s.qty,
                tif: if market { TimeInForce::Ioc } else { s.tif },
                min_qty: 0,
                display: s.display.unwrap_or(0),
                stp: s.stp,
                clid: s.clid,
                post_only: false,
            };
            self.arrive(ix, a, out);
        }
    }

    // ----- the call auction --------------------------------------------------------------

    /// The uncross price: maximum volume, then minimum imbalance, then closest to the
    /// reference, then the higher price. Candidates are the prices in the book and the
    /// reference price (every price in between scores no better than one of these).
    fn auction_price(inst: &Inst) -> Option<Price> {
        let mut best: Option<(u64, i64, i64, Price)> = None; // (volume, -imbalance, -distance, price)
        let candidates: Vec<Price> = inst
            .orders
            .iter()
            .map(|o| o.price)
            .chain(std::iter::once(inst.reference))
            .collect();
        for p in candidates {
            let demand: u64 = inst
                .orders
                .iter()
                .filter(|x| x.side == Side::Buy && x.price >= p)
                .map(|x| x.leaves)
                .sum();
            let supply: u64 = inst
                .orders
                .iter()
                .filter(|x| x.side == Side::Sell && x.price <= p)
                .map(|x| x.leaves)
                .sum();
            let key = (
                demand.min(supply),
                -(demand.abs_diff(supply) as i64),
                -(p.0 - inst.reference.0).abs(),
                p,
            );
            if best.is_none_or(|b| key > b) {
                best = Some(key);
            }
        }
        best.filter(|b| b.0 > 0).map(|b| b.3)
    }

    fn uncross(&mut self, ix: usize, out: &mut Vec<Event>) {
        let mut rounds = 0;
        while self.insts[ix].crossed() {
            let Some(p) = Self::auction_price(&self.insts[ix]) else {
                break;
            };
            let mut volume = 0u64;
            loop {
                let inst = &self.insts[ix];
                let (Some(bi), Some(ai)) = (inst.front(Side::Buy), inst.front(Side::Sell)) else {
                    break;
                };
                let (bid, ask) = (inst.orders[bi].clone(), inst.orders[ai].clone());
                if bid.price < p || ask.price > p {
                    break;
                }
                if bid.account == ask.account {
                    // Self-match in an auction: the later order gives way.
                    self.remove_working(ix, bid.id.max(ask.id), CancelReason::SelfMatch, out);
                    continue;
                }
                let qty = bid.visible.min(ask.visible);
                let mut after = [(0u64, false); 2];
                for (k, id) in [bid.id, ask.id].into_iter().enumerate() {
                    let refill_seq = self.seq + 1;
                    let inst = &mut self.insts[ix];
                    let i = inst.find(id).expect("front order");
                    let o = &mut inst.orders[i];
                    o.leaves -= qty;
                    o.visible -= qty;
                    if o.leaves > 0 && o.visible == 0 {
                        o.visible = o.display.min(o.leaves);
                        o.seq = refill_seq;
                        self.seq = refill_seq;
                        after[k] = (o.leaves, true);
                    } else {
                        after[k] = (o.leaves, false);
                    }
                }
                let instrument = self.insts[ix].spec.id;
                out.push(Event::Trade {
                    trade_id: self.next_trade,
                    instrument,
                    price: p,
                    qty: Qty(qty),
                    aggressor: None,
                    buy_order: bid.id,
                    buy_account: bid.account,
                    sell_order: ask.id,
                    sell_account: ask.account,
                    maker_side: if bid.id < ask.id {
                        Side::Buy
                    } else {
                        Side::Sell
                    },
                    buy_leaves: Qty(after[0].0),
                    sell_leaves: Qty(after[1].0),
                });
                self.next_trade += 1;
                volume += qty;
                for (k, id) in [bid.id, ask.id].into_iter().enumerate() {
                    let inst = &mut self.insts[ix];
                    let i = inst.find(id).expect("still in the book");
                    if after[k].0 == 0 {
                        inst.orders.remove(i);
                    } else if after[k].1 {
                        let o = &inst.orders[i];
                        out.push(Event::OrderRested {
                            order_id: o.id,
                            instrument,
                            side: o.side,
                            price: o.price,
                            visible: Qty(o.visible),
                            leaves: Qty(o.leaves),
                        });
                    }
                }
            }
            // One event per price printed (a second round only after an auction self-match).
            let inst = &mut self.insts[ix];
            if volume > 0 {
                inst.last = Some(p);
            }
            out.push(Event::AuctionUncrossed {
                instrument: inst.spec.id,
                price: Some(p),
                volume: Qty(volume),
            });
            rounds += 1;
        }
        if rounds == 0 {
            let instrument = self.insts[ix].spec.id;
            out.push(Event::AuctionUncrossed {
                instrument,
                price: None,
                volume: Qty(0),
            });
        }
    }

    // ----- cancel, amend -----------------------------------------------------------------

    /// Removes a working order (resting or stop) and reports it cancelled.
    fn remove_working(&mut self, ix: usize, id: OrderId, why: CancelReason, out: &mut Vec<Event>) {
        let inst = &mut self.insts[ix];
        let (account, qty) = if let Some(i) = inst.find(id) {
            let o = inst.orders.remove(i);
            (o.account, o.leaves)
        } else if let Some(i) = inst.stops.iter().position(|s| s.id == id) {
            let s = inst.stops.remove(i);
            (s.account, s.qty)
        } else {
            return;
        };
        out.push(Event::OrderCancelled {
            order_id: id,
            account,
            instrument: inst.spec.id,
            cancelled_qty: Qty(qty),
            reason: why,
        });
    }

    /// Finds a working order of `account`: (order id, is a stop).
    fn lookup(
        &self,
        account: AccountId,
        ix: usize,
        r: OrderRef,
    ) -> Result<(OrderId, bool), RejectCode> {
        let id = match r {
            OrderRef::Id(id) => id,
            OrderRef::Client(c) => match self.client_ids.get(&(account, c)) {
                Some(e) if e.instrument.0 as usize == ix => e.order,
                _ => return Err(C::UnknownOrder),
            },
        };
        let inst = &self.insts[ix];
        let (owner, stop) = if let Some(o) = inst.orders.iter().find(|o| o.id == id) {
            (o.account, false)
        } else if let Some(s) = inst.stops.iter().find(|s| s.id == id) {
            (s.account, true)
        } else {
            return Err(C::UnknownOrder);
        };
        if owner != account {
            return Err(C::NotYourOrder);
        }
        Ok((id, stop))
    }

    fn cancel(
        &mut self,
        account: AccountId,
        inst: InstrumentId,
        r: OrderRef,
        out: &mut Vec<Event>,
    ) -> Res {
        if !self.accounts.contains_key(&account.0) {
            return Err(C::UnknownAccount);
        }
        let ix = self.inst(inst)?;
        let (id, _) = self.lookup(account, ix, r)?;
        self.remove_working(ix, id, CancelReason::Requested, out);
        Ok(())
    }

    fn mass_cancel(&mut self, m: &MassCancel, out: &mut Vec<Event>) -> Res {
        if let Some(a) = m.account {
            if !self.accounts.contains_key(&a.0) {
                return Err(C::UnknownAccount);
            }
        }
        if let Some(i) = m.instrument {
            self.inst(i)?;
        }
        for ix in 0..self.insts.len() {
            let inst = &self.insts[ix];
            if m.instrument.is_some_and(|i| i.0 as usize != ix)
                || m.product.as_ref().is_some_and(|p| *p != inst.spec.product)
            {
                continue;
            }
            let mut ids: Vec<OrderId> = inst
                .orders
                .iter()
                .filter(|o| {
                    m.account.is_none_or(|a| a == o.account) && m.side.is_none_or(|s| s == o.side)
                })
                .map(|o| o.id)
                .collect();
            ids.extend(
                inst.stops
                    .iter()
                    .filter(|s| {
                        m.account.is_none_or(|a| a == s.account)
                            && m.side.is_none_or(|x| x == s.side)
                    })
                    .map(|s| s.id),
            );
            ids.sort();
            for id in ids {
                self.remove_working(ix, id, CancelReason::MassCancel, out);
            }
        }
        Ok(())
    }

    fn amend(&mut self, a: &Amend, out: &mut Vec<Event>) -> Res {
        if !self.accounts.contains_key(&a.account.0) {
            return Err(C::UnknownAccount);
        }
        let ix = self.inst(a.instrument)?;
        let inst = &self.insts[ix];
        if !matches!(inst.phase, Phase::Continuous | Phase::PreOpen) {
            return Err(C::MarketClosed);
        }
        let (id, is_stop) = self.lookup(a.account, ix, a.order)?;
        if let Some(q) = a.qty {
            if q.0 == 0 {
                return Err(C::InvalidQuantity);
            }
            if q > inst.spec.order_qty_max {
                return Err(C::OrderTooLarge);
            }
        }
        if let Some(p) = a.price {
            if p.0 < 1 {
                return Err(C::InvalidPrice);
            }
            if !inst.within(p) {
                return Err(C::PriceOutsideLimits);
            }
        }
        if is_stop {
            return self.amend_stop(ix, id, a, out);
        }
        if a.stop_price.is_some() {
            return Err(C::InvalidStopPrice);
        }
        let i = inst.find(id).expect("found");
        let cur = inst.orders[i].clone();
        let price = a.price.unwrap_or(cur.price);
        let leaves = a.qty.map_or(cur.leaves, |q| q.0);
        if price == cur.price && leaves == cur.leaves {
            return Err(C::NothingToChange);
        }
        if cur.post_only
            && inst.phase == Phase::Continuous
            && Self::would_cross(inst, cur.side, price)
        {
            return Err(C::PostOnlyWouldTrade);
        }
        if price == cur.price && leaves < cur.leaves {
            // Quantity down at the same price: keeps its place in the queue.
            let o = &mut self.insts[ix].orders[i];
            o.leaves = leaves;
            o.visible = o.visible.min(leaves);
            out.push(Event::OrderAmended {
                order_id: id,
                account: a.account,
                instrument: a.instrument,
                price: Some(price),
                stop_price: None,
                leaves: Qty(leaves),
                priority_kept: true,
            });
            return Ok(());
        }
        // A new price or more quantity: leaves the book and arrives again at the back.
        self.insts[ix].orders.remove(i);
        out.push(Event::OrderAmended {
            order_id: id,
            account: a.account,
            instrument: a.instrument,
            price: Some(price),
            stop_price: None,
            leaves: Qty(leaves),
            priority_kept: false,
        });
        let stp = if self.quirks.amend_uses_account_stp {
            self.accounts[&a.account.0].stp
        } else {
            cur.stp
        };
        let arrival = Arrival {
            id,
            account: a.account,
            side: cur.side,
            price: Some(price),
            leaves,
            tif: cur.tif,
            min_qty: 0,
            display: cur.display,
            stp,
            clid: cur.clid,
            post_only: cur.post_only,
        };
        self.arrive(ix, arrival, out);
        self.release_stops(ix, out);
        Ok(())
    }

    fn amend_stop(&mut self, ix: usize, id: OrderId, a: &Amend, out: &mut Vec<Event>) -> Res {
        let inst = &self.insts[ix];
        let si = inst.stops.iter().position(|s| s.id == id).expect("found");
        let cur = inst.stops[si].clone();
        if a.price.is_some() && cur.order_type == OrderType::StopMarket {
            return Err(C::InvalidPrice);
        }
        let stop_price = a.stop_price.unwrap_or(cur.stop_price);
        let qty = a.qty.map_or(cur.qty, |q| q.0);
        let price = a.price.or(cur.price);
        if stop_price == cur.stop_price && qty == cur.qty && price == cur.price {
            return Err(C::NothingToChange);
        }
        if stop_price.0 < 1 || !inst.within(stop_price) {
            return Err(C::InvalidStopPrice);
        }
        if Self::stop_reached(cur.side, stop_price, inst.last.unwrap_or(inst.reference)) {
            return Err(C::StopWouldTrigger);
        }
        if cur.display.is_some_and(|d| d >= qty) {
            return Err(C::InvalidDisplayQty);
        }
        let s = &mut self.insts[ix].stops[si];
        s.stop_price = stop_price;
        s.qty = qty;
        s.price = price;
        out.push(Event::OrderAmended {
            order_id: id,
            account: a.account,
            instrument: a.instrument,
            price,
            stop_price: Some(stop_price),
            leaves: Qty(qty),
            priority_kept: false,
        });
        Ok(())
    }

    // ----- phases ------------------------------------------------------------------------

    fn set_phase(&mut self, id: InstrumentId, phase: Phase, out: &mut Vec<Event>) -> Res {
        let ix = self.inst(id)?;
        let was = self.insts[ix].phase;
        if was == Phase::Halted || phase == Phase::Halted {
            return Err(C::InvalidPhaseChange);
        }
        if was == phase && self.insts[ix].auction_until.is_none() {
            return Err(C::InvalidPhaseChange);
        }
        if was == Phase::PreOpen && phase != Phase::PreOpen {
            self.uncross(ix, out);
        }
        let inst = &mut self.insts[ix];
        inst.phase = phase;
        inst.auction_until = None;
        inst.window.clear();
        out.push(Event::PhaseChanged {
            instrument: id,
            phase,
            auction_until: None,
        });
        if phase == Phase::Continuous {
            self.release_stops(ix, out);
        }
        Ok(())
    }

    fn halt(&mut self, id: InstrumentId, out: &mut Vec<Event>) -> Res {
        let ix = self.inst(id)?;
        let inst = &mut self.insts[ix];
        if inst.phase == Phase::Halted {
            return Err(C::InvalidPhaseChange);
        }
        inst.phase = Phase::Halted;
        inst.auction_until = None;
        out.push(Event::PhaseChanged {
            instrument: id,
            phase: Phase::Halted,
            auction_until: None,
        });
        Ok(())
    }

    fn resume(&mut self, id: InstrumentId, auction_ns: u64, out: &mut Vec<Event>) -> Res {
        let ix = self.inst(id)?;
        if self.insts[ix].phase != Phase::Halted {
            return Err(C::NotHalted);
        }
        let until = Timestamp(self.now.0.saturating_add(auction_ns));
        let inst = &mut self.insts[ix];
        inst.phase = Phase::PreOpen;
        inst.auction_until = Some(until);
        out.push(Event::PhaseChanged {
            instrument: id,
            phase: Phase::PreOpen,
            auction_until: Some(until),
        });
        if auction_ns == 0 {
            self.timers(out);
        }
        Ok(())
    }

    fn end_day(&mut self, id: InstrumentId, out: &mut Vec<Event>) -> Res {
        let ix = self.inst(id)?;
        let inst = &self.insts[ix];
        let mut ids: Vec<OrderId> = inst
            .orders
            .iter()
            .filter(|o| o.tif == TimeInForce::Gfd)
            .map(|o| o.id)
            .collect();
        ids.extend(
            inst.stops
                .iter()
                .filter(|s| s.tif == TimeInForce::Gfd)
                .map(|s| s.id),
        );
        ids.sort();
        for oid in ids {
            self.remove_working(ix, oid, CancelReason::Expired, out);
        }
        // The day's client order ids are forgotten, except those of orders still working.
        let working = self.insts[ix].working_ids();
        self.client_ids
            .retain(|_, e| e.instrument != id || working.contains(&e.order));
        Ok(())
    }
}
