//! The `apply` state machine: dispatch, validation, order entry, amend and cancel, phases and
//! timers. Matching lives in [`crate::matching`], the call auction in [`crate::auction`].
//!
//! Every handler validates first, without touching state, and only then mutates: a rejected
//! command changes nothing.

use crate::command::*;
use crate::event::{CancelReason, Event, Outcome, Reject, RejectCode};
use crate::matching::Incoming;
use crate::state::{
    tag, Account, ClientIdEntry, EngineState, InstrumentState, OrderMeta, StopOrder,
};
use tokex_types::limits::{ACCOUNTS_MAX, ORDERS_PER_ACCOUNT_MAX, ORDER_QTY_MAX_CONTRACTS};
use tokex_types::{
    AccountId, ClientOrderId, InstrumentId, InstrumentSpec, OrderId, Price, Qty, Side, Timestamp,
};

use RejectCode as C;

fn rej<T>(code: RejectCode, msg: impl Into<String>) -> Result<T, Reject> {
    Err(Reject::new(code, msg))
}

/// The deterministic core. See the crate docs.
pub struct Engine {
    pub(crate) st: EngineState,
    /// Whether rejects carry their human message. Not state: replay, which discards every
    /// answer, turns it off so that rebuilding a journal full of rejects does not spend its
    /// time formatting sentences nobody reads. Codes are always set.
    pub(crate) reject_messages: bool,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            st: EngineState::new(),
            reject_messages: true,
        }
    }

    /// Turns the human message of rejects on (the default) or off. Off is for replay, where
    /// answers are discarded; the outcome, events and state are the same either way.
    pub fn set_reject_messages(&mut self, on: bool) {
        self.reject_messages = on;
    }

    /// A reject whose message is formatted only if it will be read.
    #[inline]
    pub(crate) fn reject_with(&self, code: RejectCode, message: impl FnOnce() -> String) -> Reject {
        Reject::new(
            code,
            if self.reject_messages {
                message()
            } else {
                String::new()
            },
        )
    }

    /// Applies one sequenced command and returns its one answer.
    pub fn apply(&mut self, seq: u64, time: Timestamp, cmd: &Command) -> Outcome {
        let mut events = Vec::new();
        let result = self.apply_into(time, cmd, &mut events);
        Outcome {
            seq,
            result,
            events,
        }
    }

    /// Applies one command, appending its events to `out` (the allocation-free form the
    /// sequencer and the benchmarks use). Time never goes backwards: an earlier `time` is
    /// treated as the current time.
    pub fn apply_into(
        &mut self,
        time: Timestamp,
        cmd: &Command,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        if time > self.st.now {
            self.st.now = time;
        }
        if self.st.now >= self.st.next_deadline {
            self.run_timers(out);
        }
        let mark = out.len();
        let result = match cmd {
            Command::NewOrder(o) => self.new_order(o, out),
            Command::Amend(a) => self.amend(a, out),
            Command::Cancel(c) => self.cancel(c, out),
            Command::MassCancel(m) => self.mass_cancel(m, out),
            Command::CreateAccount { account, role, stp } => {
                self.create_account(*account, *role, *stp, out)
            }
            Command::ListInstrument(spec) => self.list_instrument(spec, out),
            Command::SetPhase { instrument, phase } => self.set_phase(*instrument, *phase, out),
            Command::Halt { instrument } => self.halt(*instrument, out),
            Command::Resume {
                instrument,
                auction_ns,
            } => self.resume(*instrument, *auction_ns, out),
            Command::EndTradingDay { instrument } => self.end_trading_day(*instrument, out),
            Command::Tick => Ok(()),
            Command::Deposit {
                account,
                currency,
                amount,
            } => self.deposit(*account, *currency, *amount, out),
            Command::Withdraw {
                account,
                currency,
                amount,
            } => self.withdraw(*account, *currency, *amount, out),
            Command::IndexFixing {
                index,
                date,
                value_e6,
            } => self.record_fixing(index, *date, *value_e6, out),
            Command::DailySettlement => self.daily_settlement(out),
            Command::MarginCallDeadline => self.margin_call_deadline(out),
            Command::RiskSweep => self.risk_sweep(out),
            Command::Expire { instrument } => self.expire(*instrument, out),
            Command::SetProductParams(c) => self.set_product_params(c, out),
        };
        debug_assert!(
            result.is_ok() || out.len() == mark,
            "a rejected command emitted events"
        );
        result
    }

    // ----- read access -------------------------------------------------------------------

    pub fn now(&self) -> Timestamp {
        self.st.now
    }

    /// The earliest time a timer is due (GTD expiry, end of a timed auction), if any: the
    /// sequencer sends a `Tick` then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        (self.st.next_deadline.0 != u64::MAX).then_some(self.st.next_deadline)
    }

    pub fn instrument_count(&self) -> usize {
        self.st.instruments.len()
    }

    pub fn instrument(&self, id: InstrumentId) -> Option<&InstrumentState> {
        self.st.instruments.get(id.0 as usize)
    }

    pub fn instruments(&self) -> impl Iterator<Item = &InstrumentState> {
        self.st.instruments.iter()
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.st.account(id)
    }

    pub fn client_order_id_of(&self, id: OrderId) -> Option<ClientOrderId> {
        self.st.meta.get(&id.0).and_then(|m| m.client_order_id)
    }

    // ----- accounts and listing ----------------------------------------------------------

    fn create_account(
        &mut self,
        id: AccountId,
        role: Role,
        stp: StpMode,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        if id.0 >= ACCOUNTS_MAX {
            return rej(
                C::UnknownAccount,
                format!("account id {} is above the limit {ACCOUNTS_MAX}", id.0),
            );
        }
        if self.st.account(id).is_some() {
            return rej(C::AccountExists, format!("account {} already exists", id.0));
        }
        let ix = id.0 as usize;
        if self.st.accounts.len() <= ix {
            self.st.accounts.resize(ix + 1, None);
        }
        self.st.accounts[ix] = Some(Account::new(id, role, stp));
        if role == Role::InsuranceFund && self.st.insurance_fund.is_none() {
            self.st.insurance_fund = Some(id);
        }
        out.push(Event::AccountCreated { account: id });
        Ok(())
    }

    fn list_instrument(
        &mut self,
        spec: &InstrumentSpec,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        let expected = self.st.instruments.len() as u32;
        if spec.id.0 != expected {
            return rej(
                C::InstrumentIdMismatch,
                format!("the next instrument id is {expected}, not {}", spec.id.0),
            );
        }
        if spec.initial_reference_price.0 < 1 || spec.order_qty_max.0 == 0 {
            return rej(
                C::InvalidPrice,
                "an instrument needs a positive reference price and order size limit",
            );
        }
        let product_ix = match self.st.products.iter().position(|p| *p == spec.product) {
            Some(i) => i as u32,
            None => {
                self.st.products.push(spec.product.clone());
                (self.st.products.len() - 1) as u32
            }
        };
        // A month listed after the operator changed its product's parameters takes them.
        let mut spec = spec.clone();
        let changed = self.listing_params(&mut spec);
        out.push(Event::InstrumentListed {
            instrument: spec.id,
            symbol: spec.symbol.clone(),
        });
        if let Some(params) = changed {
            out.push(Event::ProductParamsChanged {
                product: spec.product.clone(),
                instruments: vec![spec.id],
                params,
            });
        }
        let mut inst = InstrumentState::new(spec);
        inst.product_ix = product_ix;
        self.st.instruments.push(inst);
        Ok(())
    }

    // ----- lookups used by validation ----------------------------------------------------

    pub(crate) fn trading_account(&self, id: AccountId) -> Result<&Account, Reject> {
        let a = self
            .st
            .account(id)
            .ok_or_else(|| Reject::new(C::UnknownAccount, format!("no account {}", id.0)))?;
        match a.role {
            Role::Trader | Role::MarketMaker => Ok(a),
            _ => rej(
                C::AccountRoleCannotTrade,
                format!("account {} has role {:?}, which cannot trade", id.0, a.role),
            ),
        }
    }

    pub(crate) fn live_instrument(&self, id: InstrumentId) -> Result<&InstrumentState, Reject> {
        match self.st.instruments.get(id.0 as usize) {
            Some(i) if !i.delisted => Ok(i),
            Some(i) => rej(C::MarketClosed, format!("{} has expired", i.spec.symbol)),
            None => rej(C::UnknownInstrument, format!("no instrument {}", id.0)),
        }
    }

    /// Finds a working order (resting or stop) by exchange or client id.
    fn find_order(
        &self,
        account: AccountId,
        inst: InstrumentId,
        r: OrderRef,
    ) -> Result<WorkingRef, Reject> {
        let id = match r {
            OrderRef::Id(id) => id,
            OrderRef::Client(c) => match self.st.client_ids.get(&(account, c)) {
                Some(e) if e.instrument == inst => e.order_id,
                _ => {
                    return Err(self.reject_with(C::UnknownOrder, || {
                        format!("no working order with client id {c}")
                    }))
                }
            },
        };
        let i = &self.st.instruments[inst.0 as usize];
        let resting = i.book.get(id);
        let (owner, stop) = if let Some(o) = resting {
            (o.account, false)
        } else if let Some(s) = i.stops.orders.get(&id) {
            (s.account, true)
        } else {
            return Err(self.reject_with(C::UnknownOrder, || {
                format!("order {} is not working in {}", id.0, i.spec.symbol)
            }));
        };
        if owner != account {
            return rej(
                C::NotYourOrder,
                format!("order {} belongs to another account", id.0),
            );
        }
        Ok(WorkingRef { id, stop, resting })
    }

    // ----- new orders --------------------------------------------------------------------

    fn validate_new(&self, o: &NewOrder) -> Result<(), Reject> {
        let acct = self.trading_account(o.account)?;
        let inst = self.live_instrument(o.instrument)?;
        let spec = &inst.spec;
        let is_stop = matches!(o.order_type, OrderType::StopLimit | OrderType::StopMarket);
        let rests = matches!(
            o.tif,
            TimeInForce::Gfd | TimeInForce::Gtc | TimeInForce::Gtd(_)
        );
        match inst.phase {
            Phase::Continuous => {}
            Phase::PreOpen => {
                if o.order_type == OrderType::Market || !rests {
                    return rej(C::NotAllowedInAuction, "only limit and stop orders that can rest are accepted during the pre-open auction");
                }
            }
            p => {
                return rej(
                    C::MarketClosed,
                    format!("{} is not open for orders ({p:?})", spec.symbol),
                )
            }
        }
        if o.qty.0 == 0 {
            return rej(C::InvalidQuantity, "quantity must be at least 1 contract");
        }
        if o.qty > spec.order_qty_max || o.qty.0 > ORDER_QTY_MAX_CONTRACTS {
            return rej(
                C::OrderTooLarge,
                format!(
                    "quantity {} is above the maximum order size {}",
                    o.qty.0, spec.order_qty_max.0
                ),
            );
        }
        match o.order_type {
            OrderType::Limit | OrderType::StopLimit => match o.price {
                None => return rej(C::InvalidPrice, "a limit order needs a price"),
                Some(p) if p.0 < 1 => {
                    return rej(C::InvalidPrice, "the price must be at least one tick")
                }
                Some(p) if !inst.within_limits(p) => {
                    return Err(self.reject_with(C::PriceOutsideLimits, || self.limits_msg(inst, p)))
                }
                Some(_) => {}
            },
            OrderType::Market | OrderType::StopMarket => {
                if o.price.is_some() {
                    return rej(C::InvalidPrice, "a market order takes no price");
                }
            }
        }
        match (is_stop, o.stop_price) {
            (true, None) => return rej(C::InvalidStopPrice, "a stop order needs a stop price"),
            (false, Some(_)) => {
                return rej(C::InvalidStopPrice, "only stop orders take a stop price")
            }
            (true, Some(sp)) => {
                if sp.0 < 1 || !inst.within_limits(sp) {
                    return rej(
                        C::InvalidStopPrice,
                        format!(
                            "the stop price must be within today's limits {}..={}",
                            inst.lower_limit.0, inst.upper_limit.0
                        ),
                    );
                }
                let last = inst.last_price.unwrap_or(inst.reference_price);
                let fires = match o.side {
                    Side::Buy => last >= sp,
                    Side::Sell => last <= sp,
                };
                if fires {
                    return rej(
                        C::StopWouldTrigger,
                        format!(
                            "the last price {} already reaches the stop price {}",
                            last.0, sp.0
                        ),
                    );
                }
            }
            (false, None) => {}
        }
        match o.tif {
            TimeInForce::Ioc | TimeInForce::Fok if is_stop => {
                return rej(
                    C::InvalidTimeInForce,
                    "a stop order waits: use GFD, GTC or GTD",
                )
            }
            TimeInForce::Gfd | TimeInForce::Gtc | TimeInForce::Gtd(_)
                if o.order_type == OrderType::Market =>
            {
                return rej(C::InvalidTimeInForce, "a market order is IOC or FOK");
            }
            TimeInForce::Gtd(t) if t <= self.st.now => {
                return rej(C::ExpiryInPast, "the GTD expiry time has passed")
            }
            _ => {}
        }
        if let Some(m) = o.min_qty {
            if o.tif != TimeInForce::Ioc || m.0 == 0 || m > o.qty {
                return rej(C::InvalidMinQty, "a minimum quantity is for IOC orders and must be between 1 and the order quantity");
            }
        }
        if let Some(d) = o.display_qty {
            if !rests
                || matches!(o.order_type, OrderType::Market | OrderType::StopMarket)
                || d.0 == 0
                || d >= o.qty
            {
                return rej(C::InvalidDisplayQty, "an iceberg is a resting limit order whose display quantity is between 1 and its quantity");
            }
        }
        if o.post_only {
            if o.order_type != OrderType::Limit || !rests {
                return rej(
                    C::InvalidPostOnly,
                    "post-only is for limit orders that can rest",
                );
            }
            if inst.phase == Phase::Continuous {
                let p = o.price.unwrap_or_default();
                let crosses = match o.side {
                    Side::Buy => inst.book.best_ask().is_some_and(|a| a <= p),
                    Side::Sell => inst.book.best_bid().is_some_and(|b| b >= p),
                };
                if crosses {
                    return rej(
                        C::PostOnlyWouldTrade,
                        "the post-only order would trade on arrival",
                    );
                }
            }
        }
        if let Some(c) = o.client_order_id {
            if self.st.client_ids.contains_key(&(o.account, c)) {
                return rej(
                    C::DuplicateClientOrderId,
                    format!("client order id {c} was already used today"),
                );
            }
        }
        if acct.working_orders >= ORDERS_PER_ACCOUNT_MAX {
            return rej(
                C::TooManyOrders,
                format!("the account already has {ORDERS_PER_ACCOUNT_MAX} working orders"),
            );
        }
        Ok(())
    }

    fn limits_msg(&self, inst: &InstrumentState, p: Price) -> String {
        // Prices in the instrument's own decimals, as the trader wrote them.
        let show = |t: Price| match tokex_types::decimal::Decimal::parse(&inst.spec.tick_size) {
            Ok(tick) => tokex_types::decimal::Decimal::times(tick, t.0 as i128).to_string(),
            Err(_) => format!("{} ticks", t.0),
        };
        format!(
            "price {} is outside today's limits {} to {}",
            show(p),
            show(inst.lower_limit),
            show(inst.upper_limit)
        )
    }

    fn new_order(&mut self, o: &NewOrder, out: &mut Vec<Event>) -> Result<(), Reject> {
        self.validate_new(o)?;
        self.pre_trade_check(o.account, o.instrument, o.side, o.qty, o.price)?;
        let id = OrderId(self.st.next_order_id);
        self.st.next_order_id += 1;
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
            self.st.client_ids.insert(
                (o.account, c),
                ClientIdEntry {
                    order_id: id,
                    instrument: o.instrument,
                },
            );
        }
        let stp = o.stp.unwrap_or_else(|| {
            self.st
                .account(o.account)
                .map(|a| a.stp)
                .unwrap_or_default()
        });
        let ix = o.instrument.0 as usize;
        match o.order_type {
            OrderType::StopLimit | OrderType::StopMarket => {
                let stop = StopOrder {
                    id,
                    account: o.account,
                    side: o.side,
                    order_type: o.order_type,
                    stop_price: o.stop_price.expect("validated"),
                    price: o.price,
                    qty: o.qty,
                    tif: o.tif,
                    display_qty: o.display_qty,
                    stp,
                    client_order_id: o.client_order_id,
                };
                self.add_stop(ix, stop);
            }
            OrderType::Limit | OrderType::Market => {
                let inc = Incoming {
                    id,
                    account: o.account,
                    side: o.side,
                    price: o.price,
                    leaves: o.qty.0,
                    filled: 0,
                    tif: o.tif,
                    min_qty: o.min_qty.map_or(0, |q| q.0),
                    display: o.display_qty.map_or(0, |q| q.0),
                    stp,
                    client_order_id: o.client_order_id,
                    post_only: o.post_only,
                    liquidation: false,
                };
                self.execute(ix, inc, out);
                self.trigger_stops(ix, out);
            }
        }
        Ok(())
    }

    fn add_stop(&mut self, ix: usize, s: StopOrder) {
        if let TimeInForce::Gtd(t) = s.tif {
            self.st
                .gtd_timers
                .insert((t, s.id, InstrumentId(ix as u32)));
            self.st.recompute_deadline();
        }
        self.st
            .account_mut(s.account)
            .expect("validated")
            .working_orders += 1;
        self.change_working(s.account, InstrumentId(ix as u32), s.side, s.qty.0 as i64);
        self.st.instruments[ix].stops.insert(s);
    }

    /// Rests an order at the back of its level and records its metadata.
    pub(crate) fn rest(&mut self, ix: usize, inc: &Incoming, price: Price, out: &mut Vec<Event>) {
        let leaves = inc.leaves;
        let visible = if inc.display > 0 {
            inc.display.min(leaves)
        } else {
            leaves
        };
        let mut t = match inc.tif {
            TimeInForce::Gfd => tag::TIF_GFD,
            TimeInForce::Gtd(_) => tag::TIF_GTD,
            _ => tag::TIF_GTC,
        };
        let expire_at = match inc.tif {
            TimeInForce::Gtd(t) => Some(t),
            _ => None,
        };
        if inc.client_order_id.is_some() || expire_at.is_some() {
            t |= tag::HAS_META;
            self.st.meta.insert(
                inc.id.0,
                OrderMeta {
                    client_order_id: inc.client_order_id,
                    expire_at,
                },
            );
            if let Some(e) = expire_at {
                self.st
                    .gtd_timers
                    .insert((e, inc.id, InstrumentId(ix as u32)));
                self.st.recompute_deadline();
            }
        }
        t |= tag::stp_bits(inc.stp);
        if inc.post_only {
            t |= tag::POST_ONLY;
        }
        if inc.liquidation {
            t |= tag::LIQUIDATION;
        }
        let resting = tokex_book::Resting {
            id: inc.id,
            account: inc.account,
            side: inc.side,
            price,
            leaves: Qty(leaves),
            visible: Qty(visible),
            display: Qty(inc.display),
            filled: Qty(inc.filled),
            tag: t,
        };
        let inst = &mut self.st.instruments[ix];
        inst.book.insert(resting).expect("validated price and id");
        let instrument = inst.spec.id;
        self.st
            .account_mut(inc.account)
            .expect("order of a live account")
            .working_orders += 1;
        self.change_working(inc.account, instrument, inc.side, leaves as i64);
        out.push(Event::OrderRested {
            order_id: inc.id,
            instrument,
            side: inc.side,
            price,
            visible: Qty(visible),
            leaves: Qty(leaves),
        });
    }

    /// Bookkeeping for a resting order that has left the book (filled, cancelled, expired).
    pub(crate) fn forget_resting(
        &mut self,
        ix: usize,
        id: OrderId,
        account: AccountId,
        order_tag: u16,
    ) {
        if order_tag & tag::HAS_META != 0 {
            if let Some(m) = self.st.meta.remove(&id.0) {
                if let Some(e) = m.expire_at {
                    self.st.gtd_timers.remove(&(e, id, InstrumentId(ix as u32)));
                }
            }
        }
        if let Some(a) = self.st.account_mut(account) {
            a.working_orders -= 1;
        }
    }

    /// Removes a working order (resting or stop) and reports it cancelled.
    pub(crate) fn cancel_working(
        &mut self,
        ix: usize,
        id: OrderId,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) -> bool {
        let inst = &mut self.st.instruments[ix];
        let instrument = inst.spec.id;
        if let Some(r) = inst.book.remove(id) {
            self.forget_resting(ix, id, r.account, r.tag);
            self.change_working(r.account, instrument, r.side, -(r.leaves.0 as i64));
            out.push(Event::OrderCancelled {
                order_id: id,
                account: r.account,
                instrument,
                cancelled_qty: r.leaves,
                reason,
            });
            true
        } else if let Some(s) = inst.stops.remove(id) {
            if let TimeInForce::Gtd(t) = s.tif {
                self.st.gtd_timers.remove(&(t, id, instrument));
            }
            if let Some(a) = self.st.account_mut(s.account) {
                a.working_orders -= 1;
            }
            self.change_working(s.account, instrument, s.side, -(s.qty.0 as i64));
            out.push(Event::OrderCancelled {
                order_id: id,
                account: s.account,
                instrument,
                cancelled_qty: s.qty,
                reason,
            });
            true
        } else {
            false
        }
    }

    // ----- amend and cancel --------------------------------------------------------------

    fn amend(&mut self, a: &Amend, out: &mut Vec<Event>) -> Result<(), Reject> {
        self.st
            .account(a.account)
            .ok_or_else(|| Reject::new(C::UnknownAccount, format!("no account {}", a.account.0)))?;
        let inst = self.live_instrument(a.instrument)?;
        if !matches!(inst.phase, Phase::Continuous | Phase::PreOpen) {
            return rej(
                C::MarketClosed,
                format!(
                    "{} is not open for amendments ({:?})",
                    inst.spec.symbol, inst.phase
                ),
            );
        }
        let w = self.find_order(a.account, a.instrument, a.order)?;
        let ix = a.instrument.0 as usize;
        if let Some(q) = a.qty {
            if q.0 == 0 {
                return rej(
                    C::InvalidQuantity,
                    "the new quantity must be at least 1 (cancel to remove an order)",
                );
            }
            if q > inst.spec.order_qty_max {
                return rej(
                    C::OrderTooLarge,
                    format!(
                        "quantity {} is above the maximum order size {}",
                        q.0, inst.spec.order_qty_max.0
                    ),
                );
            }
        }
        if let Some(p) = a.price {
            if p.0 < 1 {
                return rej(C::InvalidPrice, "the price must be at least one tick");
            }
            if !inst.within_limits(p) {
                return Err(self.reject_with(C::PriceOutsideLimits, || self.limits_msg(inst, p)));
            }
        }
        if w.stop {
            return self.amend_stop(ix, w.id, a, out);
        }
        if a.stop_price.is_some() {
            return rej(
                C::InvalidStopPrice,
                "only a stop order waiting for its trigger has a stop price",
            );
        }
        let cur = w.resting.expect("found");
        let price = a.price.unwrap_or(cur.price);
        let leaves = a.qty.unwrap_or(cur.leaves);
        if price == cur.price && leaves == cur.leaves {
            return rej(
                C::NothingToChange,
                "the amendment changes neither price nor quantity",
            );
        }
        let crosses = inst.phase == Phase::Continuous
            && match cur.side {
                Side::Buy => inst.book.best_ask().is_some_and(|x| x <= price),
                Side::Sell => inst.book.best_bid().is_some_and(|x| x >= price),
            };
        if crosses && cur.tag & tag::POST_ONLY != 0 {
            return rej(
                C::PostOnlyWouldTrade,
                "the post-only order would trade at the new price",
            );
        }
        if leaves > cur.leaves || price != cur.price {
            self.pre_trade_check_amend(
                a.account,
                a.instrument,
                cur.side,
                cur.leaves,
                leaves,
                price,
            )?;
        }
        // Validated: now change state.
        if price == cur.price && leaves < cur.leaves {
            self.st.instruments[ix].book.reduce(w.id, leaves);
            self.change_working(
                a.account,
                a.instrument,
                cur.side,
                leaves.0 as i64 - cur.leaves.0 as i64,
            );
            out.push(amended(a, w.id, price, leaves, true));
            return Ok(());
        }
        if !crosses {
            // A move that cannot trade: re-queue in place (one lookup, no re-insert).
            let r = self.st.instruments[ix]
                .book
                .reprice(w.id, price, leaves)
                .expect("found");
            if leaves != cur.leaves {
                self.change_working(
                    a.account,
                    a.instrument,
                    cur.side,
                    leaves.0 as i64 - cur.leaves.0 as i64,
                );
            }
            out.push(amended(a, w.id, price, leaves, false));
            out.push(Event::OrderRested {
                order_id: w.id,
                instrument: a.instrument,
                side: r.side,
                price,
                visible: r.visible,
                leaves: r.leaves,
            });
            return Ok(());
        }
        let removed = self.st.instruments[ix].book.remove(w.id).expect("found");
        let meta = self.st.meta.get(&w.id.0).copied();
        self.forget_resting(ix, w.id, a.account, removed.tag);
        self.change_working(
            a.account,
            a.instrument,
            removed.side,
            -(removed.leaves.0 as i64),
        );
        out.push(amended(a, w.id, price, leaves, false));
        let tif = match removed.tag & tag::TIF_MASK {
            tag::TIF_GFD => TimeInForce::Gfd,
            tag::TIF_GTD => TimeInForce::Gtd(
                meta.and_then(|m| m.expire_at)
                    .expect("GTD order has an expiry"),
            ),
            _ => TimeInForce::Gtc,
        };
        // The order keeps its own self-match mode.
        let stp = tag::stp_of(removed.tag);
        let inc = Incoming {
            id: w.id,
            account: a.account,
            side: removed.side,
            price: Some(price),
            leaves: leaves.0,
            filled: removed.filled.0,
            tif,
            min_qty: 0,
            display: removed.display.0,
            stp,
            client_order_id: meta.and_then(|m| m.client_order_id),
            post_only: removed.tag & tag::POST_ONLY != 0,
            liquidation: removed.tag & tag::LIQUIDATION != 0,
        };
        self.execute(ix, inc, out);
        self.trigger_stops(ix, out);
        Ok(())
    }

    fn amend_stop(
        &mut self,
        ix: usize,
        id: OrderId,
        a: &Amend,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        let inst = &self.st.instruments[ix];
        let cur = *inst.stops.orders.get(&id).expect("found");
        if a.price.is_some() && cur.order_type == OrderType::StopMarket {
            return rej(C::InvalidPrice, "a stop-market order takes no limit price");
        }
        let stop_price = a.stop_price.unwrap_or(cur.stop_price);
        let qty = a.qty.unwrap_or(cur.qty);
        let price = a.price.or(cur.price);
        if stop_price == cur.stop_price && qty == cur.qty && price == cur.price {
            return rej(C::NothingToChange, "the amendment changes nothing");
        }
        if stop_price.0 < 1 || !inst.within_limits(stop_price) {
            return rej(
                C::InvalidStopPrice,
                "the stop price must be within today's limits",
            );
        }
        let last = inst.last_price.unwrap_or(inst.reference_price);
        let fires = match cur.side {
            Side::Buy => last >= stop_price,
            Side::Sell => last <= stop_price,
        };
        if fires {
            return rej(
                C::StopWouldTrigger,
                format!(
                    "the last price {} already reaches the stop price {}",
                    last.0, stop_price.0
                ),
            );
        }
        if cur.display_qty.is_some_and(|d| d >= qty) {
            return rej(
                C::InvalidDisplayQty,
                "the quantity must stay above the iceberg's display quantity",
            );
        }
        if qty > cur.qty || price != cur.price {
            self.pre_trade_check_amend(
                a.account,
                a.instrument,
                cur.side,
                cur.qty,
                qty,
                price.unwrap_or(stop_price),
            )?;
        }
        let stops = &mut self.st.instruments[ix].stops;
        let mut s = stops.remove(id).expect("found");
        s.stop_price = stop_price;
        s.qty = qty;
        s.price = price;
        stops.insert(s);
        self.change_working(
            a.account,
            a.instrument,
            cur.side,
            qty.0 as i64 - cur.qty.0 as i64,
        );
        out.push(Event::OrderAmended {
            order_id: id,
            account: a.account,
            instrument: a.instrument,
            price,
            stop_price: Some(stop_price),
            leaves: qty,
            priority_kept: false,
        });
        Ok(())
    }

    fn cancel(&mut self, c: &Cancel, out: &mut Vec<Event>) -> Result<(), Reject> {
        self.st
            .account(c.account)
            .ok_or_else(|| Reject::new(C::UnknownAccount, format!("no account {}", c.account.0)))?;
        if self.st.instruments.get(c.instrument.0 as usize).is_none() {
            return rej(
                C::UnknownInstrument,
                format!("no instrument {}", c.instrument.0),
            );
        }
        let w = self.find_order(c.account, c.instrument, c.order)?;
        self.cancel_working(c.instrument.0 as usize, w.id, CancelReason::Requested, out);
        Ok(())
    }

    fn mass_cancel(&mut self, m: &MassCancel, out: &mut Vec<Event>) -> Result<(), Reject> {
        if let Some(a) = m.account {
            self.st
                .account(a)
                .ok_or_else(|| Reject::new(C::UnknownAccount, format!("no account {}", a.0)))?;
        }
        if let Some(i) = m.instrument {
            if self.st.instruments.get(i.0 as usize).is_none() {
                return rej(C::UnknownInstrument, format!("no instrument {}", i.0));
            }
        }
        for ix in 0..self.st.instruments.len() {
            let inst = &self.st.instruments[ix];
            if m.instrument.is_some_and(|i| i.0 as usize != ix)
                || m.product.as_ref().is_some_and(|p| *p != inst.spec.product)
            {
                continue;
            }
            let mut ids: Vec<OrderId> = Vec::new();
            for side in [Side::Buy, Side::Sell] {
                if m.side.is_some_and(|s| s != side) {
                    continue;
                }
                ids.extend(
                    inst.book
                        .orders(side)
                        .filter(|o| m.account.is_none_or(|a| a == o.account))
                        .map(|o| o.id),
                );
            }
            ids.extend(
                inst.stops
                    .orders
                    .values()
                    .filter(|s| {
                        m.account.is_none_or(|a| a == s.account)
                            && m.side.is_none_or(|x| x == s.side)
                    })
                    .map(|s| s.id),
            );
            ids.sort_unstable();
            for id in ids {
                self.cancel_working(ix, id, CancelReason::MassCancel, out);
            }
        }
        Ok(())
    }

    // ----- phases, halts, timers ---------------------------------------------------------

    fn set_phase(
        &mut self,
        id: InstrumentId,
        phase: Phase,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        let inst = self.live_instrument(id)?;
        if inst.phase == Phase::Halted {
            return rej(
                C::InvalidPhaseChange,
                "the instrument is halted: resume it first",
            );
        }
        if phase == Phase::Halted {
            return rej(C::InvalidPhaseChange, "use Halt to halt an instrument");
        }
        if inst.phase == phase && inst.auction_until.is_none() {
            return rej(
                C::InvalidPhaseChange,
                format!("{} is already in {phase:?}", inst.spec.symbol),
            );
        }
        let ix = id.0 as usize;
        let was = inst.phase;
        if was == Phase::PreOpen && phase != Phase::PreOpen {
            self.uncross(ix, out);
        }
        let inst = &mut self.st.instruments[ix];
        inst.phase = phase;
        inst.auction_until = None;
        inst.window.clear();
        out.push(Event::PhaseChanged {
            instrument: id,
            phase,
            auction_until: None,
        });
        self.st.recompute_deadline();
        if phase == Phase::Continuous {
            self.trigger_stops(ix, out);
        }
        Ok(())
    }

    fn halt(&mut self, id: InstrumentId, out: &mut Vec<Event>) -> Result<(), Reject> {
        let inst = self.live_instrument(id)?;
        if inst.phase == Phase::Halted {
            return rej(C::InvalidPhaseChange, "already halted");
        }
        let inst = &mut self.st.instruments[id.0 as usize];
        inst.phase = Phase::Halted;
        inst.auction_until = None;
        out.push(Event::PhaseChanged {
            instrument: id,
            phase: Phase::Halted,
            auction_until: None,
        });
        self.st.recompute_deadline();
        Ok(())
    }

    fn resume(
        &mut self,
        id: InstrumentId,
        auction_ns: u64,
        out: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        let inst = self.live_instrument(id)?;
        if inst.phase != Phase::Halted {
            return rej(C::NotHalted, format!("{} is not halted", inst.spec.symbol));
        }
        let ix = id.0 as usize;
        let until = Timestamp(self.st.now.0.saturating_add(auction_ns));
        let inst = &mut self.st.instruments[ix];
        inst.phase = Phase::PreOpen;
        inst.auction_until = Some(until);
        out.push(Event::PhaseChanged {
            instrument: id,
            phase: Phase::PreOpen,
            auction_until: Some(until),
        });
        self.st.recompute_deadline();
        if auction_ns == 0 {
            self.run_timers(out);
        }
        Ok(())
    }

    fn end_trading_day(&mut self, id: InstrumentId, out: &mut Vec<Event>) -> Result<(), Reject> {
        self.live_instrument(id)?;
        let ix = id.0 as usize;
        let inst = &self.st.instruments[ix];
        let mut ids: Vec<OrderId> = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            ids.extend(
                inst.book
                    .orders(side)
                    .filter(|o| o.tag & tag::TIF_MASK == tag::TIF_GFD)
                    .map(|o| o.id),
            );
        }
        ids.extend(
            inst.stops
                .orders
                .values()
                .filter(|s| s.tif == TimeInForce::Gfd)
                .map(|s| s.id),
        );
        ids.sort_unstable();
        for oid in ids {
            self.cancel_working(ix, oid, CancelReason::Expired, out);
        }
        // Client order ids are unique per account within a trading day and while the order
        // works: forget those of this instrument's finished orders.
        let inst = &self.st.instruments[ix];
        self.st.client_ids.retain(|_, e| {
            e.instrument != id
                || inst.book.contains(e.order_id)
                || inst.stops.orders.contains_key(&e.order_id)
        });
        Ok(())
    }

    /// Expires GTD orders and ends timed auctions that are due at `now`.
    pub(crate) fn run_timers(&mut self, out: &mut Vec<Event>) {
        let now = self.st.now;
        while let Some(&(t, id, inst)) = self.st.gtd_timers.first() {
            if t > now {
                break;
            }
            self.st.gtd_timers.pop_first();
            self.cancel_working(inst.0 as usize, id, CancelReason::Expired, out);
        }
        for ix in 0..self.st.instruments.len() {
            if self.st.instruments[ix]
                .auction_until
                .is_some_and(|t| t <= now)
            {
                self.uncross(ix, out);
                let inst = &mut self.st.instruments[ix];
                inst.auction_until = None;
                inst.phase = Phase::Continuous;
                inst.window.clear();
                let instrument = inst.spec.id;
                out.push(Event::PhaseChanged {
                    instrument,
                    phase: Phase::Continuous,
                    auction_until: None,
                });
                self.trigger_stops(ix, out);
            }
        }
        self.st.recompute_deadline();
    }

    /// Opens an account with the given id and role (a convenience for tests and benches).
    pub fn open_account(&mut self, id: u32, role: Role) {
        let cmd = Command::CreateAccount {
            account: AccountId(id),
            role,
            stp: StpMode::default(),
        };
        self.apply_into(self.st.now, &cmd, &mut Vec::new())
            .expect("open account");
    }
}

/// The event of a limit order's amendment.
fn amended(a: &Amend, id: OrderId, price: Price, leaves: Qty, priority_kept: bool) -> Event {
    Event::OrderAmended {
        order_id: id,
        account: a.account,
        instrument: a.instrument,
        price: Some(price),
        stop_price: None,
        leaves,
        priority_kept,
    }
}

pub(crate) struct WorkingRef {
    pub id: OrderId,
    pub stop: bool,
    /// The order as it rests, when it is in the book.
    pub resting: Option<tokex_book::Resting>,
}
