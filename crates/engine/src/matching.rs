//! Continuous matching: price-time priority, the two trade-price rules, self-match
//! prevention, market-order protection, FOK and minimum quantity, the velocity circuit
//! breaker, and stop triggering.

use crate::command::{OrderType, Phase, StpMode, TimeInForce};
use crate::engine::Engine;
use crate::event::{CancelReason, Event};
use crate::state::StopOrder;
use std::collections::VecDeque;
use tokex_types::limits::STOP_CASCADE_MAX;
use tokex_types::{
    AccountId, ClientOrderId, InstrumentId, OrderId, Price, Qty, Side, Timestamp, TradePriceRule,
};

/// An order arriving at the book: new, re-priced by an amendment, or a triggered stop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Incoming {
    pub id: OrderId,
    pub account: AccountId,
    pub side: Side,
    /// Limit price; `None` for a market order.
    pub price: Option<Price>,
    pub leaves: u64,
    /// Filled before this arrival (an amended order keeps its history).
    pub filled: u64,
    pub tif: TimeInForce,
    /// IOC minimum quantity; 0 for none.
    pub min_qty: u64,
    /// Iceberg display size; 0 for none.
    pub display: u64,
    pub stp: StpMode,
    pub client_order_id: Option<ClientOrderId>,
    pub post_only: bool,
    pub liquidation: bool,
}

impl Incoming {
    fn can_rest(&self) -> bool {
        self.price.is_some()
            && matches!(
                self.tif,
                TimeInForce::Gfd | TimeInForce::Gtc | TimeInForce::Gtd(_)
            )
    }
}

#[inline]
fn crosses(side: Side, limit: Price, opposite_best: Price) -> bool {
    match side {
        Side::Buy => opposite_best <= limit,
        Side::Sell => opposite_best >= limit,
    }
}

/// The median of three prices.
#[inline]
fn median3(a: i64, b: i64, c: i64) -> i64 {
    a.max(b).min(a.min(b).max(c))
}

/// Why the matching loop stopped before the incoming order was used up.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Halt {
    None,
    SelfMatch,
    CircuitBreaker,
}

impl Engine {
    /// The price a trade between the incoming order (limit `limit`) and a resting order at
    /// `resting` happens at, under the instrument's rule.
    #[inline]
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
                let (bp, sp) = match side {
                    Side::Buy => (limit.0, resting.0),
                    Side::Sell => (resting.0, limit.0),
                };
                Price(median3(bp, sp, last.0))
            }
        }
    }

    /// How much the incoming order could fill right now, walking the book exactly as the
    /// matching loop would (same prices, same self-match and circuit-breaker stops), without
    /// changing anything. Used for FOK and minimum quantity.
    ///
    /// Each level is replayed as a queue: an iceberg whose displayed slice is taken goes to
    /// the back of its level with its next slice, behind orders that may stop the matching
    /// (a self-match under cancel-aggressing or cancel-both), so its hidden quantity counts
    /// only if the matching loop would really reach it.
    fn fillable(&self, ix: usize, inc: &Incoming, limit: Price, enough: u64) -> u64 {
        let inst = &self.st.instruments[ix];
        let spec = &inst.spec;
        let side = inc.side.opposite();
        let mut last = inst.last_price.unwrap_or(inst.reference_price);
        let mut window = inst.window.clone();
        if spec.cb_ticks > 0 {
            window.evict_before(Timestamp(self.st.now.0.saturating_sub(spec.cb_window_ns)));
        }
        let mut total = 0u64;
        let mut queue: VecDeque<(AccountId, u64, u64, u64)> = VecDeque::new();
        for (px, _) in inst.book.levels(side) {
            if total >= enough || !crosses(inc.side, limit, px) {
                break;
            }
            // (account, leaves, visible, display) in queue order.
            queue.clear();
            queue.extend(
                inst.book
                    .orders_at(side, px)
                    .map(|o| (o.account, o.leaves.0, o.visible.0, o.display.0)),
            );
            while let Some((account, leaves, visible, display)) = queue.pop_front() {
                if total >= enough {
                    return total;
                }
                if account == inc.account {
                    match inc.stp {
                        StpMode::CancelResting => continue,
                        _ => return total,
                    }
                }
                let p = Self::trade_price(spec.trade_price_rule, inc.side, limit, px, last);
                if spec.cb_ticks > 0 {
                    if window.would_exceed(p, spec.cb_ticks) {
                        return total;
                    }
                    window.push(self.st.now, p);
                }
                last = p;
                let take = visible.min(enough - total);
                total += take;
                if take == visible && leaves > take {
                    let rest = leaves - take;
                    queue.push_back((account, rest, display.min(rest), display));
                }
            }
        }
        total
    }

    /// Runs an incoming limit or market order against the book, then rests or cancels what
    /// is left. The order has been accepted; this never rejects.
    pub(crate) fn execute(&mut self, ix: usize, mut inc: Incoming, out: &mut Vec<Event>) {
        let inst = &self.st.instruments[ix];
        let instrument = inst.spec.id;
        if inst.phase != Phase::Continuous {
            // Pre-open auction (or a stop released into one): no matching.
            match inc.price {
                Some(p) if inc.can_rest() => self.rest(ix, &inc, p, out),
                _ => self.cancel_incoming(&inc, instrument, CancelReason::StopNotExecutable, out),
            }
            return;
        }
        let limit = match inc.price {
            Some(p) => p,
            None => {
                // Market order: a limit at the best opposite price ± protection, within limits.
                let opp = inc.side.opposite();
                match inst.book.best(opp) {
                    None => {
                        return self.cancel_incoming(&inc, instrument, CancelReason::Unfilled, out)
                    }
                    Some(best) => match inc.side {
                        Side::Buy => Price(
                            (best.0 + inst.spec.market_protection_ticks).min(inst.upper_limit.0),
                        ),
                        Side::Sell => Price(
                            (best.0 - inst.spec.market_protection_ticks).max(inst.lower_limit.0),
                        ),
                    },
                }
            }
        };
        let needed = match inc.tif {
            TimeInForce::Fok => inc.leaves,
            _ => inc.min_qty,
        };
        if needed > 0 && self.fillable(ix, &inc, limit, needed) < needed {
            return self.cancel_incoming(&inc, instrument, CancelReason::Unfilled, out);
        }
        let halt = self.match_loop(ix, &mut inc, limit, out);
        if inc.leaves == 0 {
            return;
        }
        match halt {
            Halt::SelfMatch => self.cancel_incoming(&inc, instrument, CancelReason::SelfMatch, out),
            Halt::None | Halt::CircuitBreaker if inc.can_rest() => self.rest(ix, &inc, limit, out),
            _ => self.cancel_incoming(&inc, instrument, CancelReason::Unfilled, out),
        }
    }

    fn cancel_incoming(
        &mut self,
        inc: &Incoming,
        instrument: InstrumentId,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        out.push(Event::OrderCancelled {
            order_id: inc.id,
            account: inc.account,
            instrument,
            cancelled_qty: Qty(inc.leaves),
            reason,
        });
    }

    /// The matching loop. Trades against the best opposite level while the price crosses.
    fn match_loop(
        &mut self,
        ix: usize,
        inc: &mut Incoming,
        limit: Price,
        out: &mut Vec<Event>,
    ) -> Halt {
        let opp = inc.side.opposite();
        let now = self.st.now;
        let (rule, cb_ticks, cb_window) = {
            let s = &self.st.instruments[ix].spec;
            (s.trade_price_rule, s.cb_ticks, s.cb_window_ns)
        };
        if cb_ticks > 0 {
            self.st.instruments[ix]
                .window
                .evict_before(Timestamp(now.0.saturating_sub(cb_window)));
        }
        while inc.leaves > 0 {
            let inst = &mut self.st.instruments[ix];
            let Some(best) = inst.book.best(opp) else {
                break;
            };
            if !crosses(inc.side, limit, best) {
                break;
            }
            let front = inst.book.front(opp, best).expect("non-empty best level");
            if front.account == inc.account {
                match inc.stp {
                    StpMode::CancelResting => {
                        self.cancel_working(ix, front.id, CancelReason::SelfMatch, out);
                        continue;
                    }
                    StpMode::CancelAggressing => return Halt::SelfMatch,
                    StpMode::CancelBoth => {
                        self.cancel_working(ix, front.id, CancelReason::SelfMatch, out);
                        return Halt::SelfMatch;
                    }
                }
            }
            let last = inst.last_price.unwrap_or(inst.reference_price);
            let price = Self::trade_price(rule, inc.side, limit, best, last);
            if cb_ticks > 0 && inst.window.would_exceed(price, cb_ticks) {
                self.trip_circuit_breaker(ix, price, out);
                return Halt::CircuitBreaker;
            }
            let fill = inst
                .book
                .fill_front(opp, Qty(inc.leaves))
                .expect("non-empty best level");
            let qty = fill.qty.0;
            inc.leaves -= qty;
            inc.filled += qty;
            inst.last_price = Some(price);
            if cb_ticks > 0 {
                inst.window.push(now, price);
            }
            let instrument = inst.spec.id;
            let trade_id = self.st.next_trade_id;
            self.st.next_trade_id += 1;
            let (buy_order, buy_account, buy_leaves, sell_order, sell_account, sell_leaves) =
                match inc.side {
                    Side::Buy => (
                        inc.id,
                        inc.account,
                        inc.leaves,
                        fill.order.id,
                        fill.order.account,
                        fill.leaves_after.0,
                    ),
                    Side::Sell => (
                        fill.order.id,
                        fill.order.account,
                        fill.leaves_after.0,
                        inc.id,
                        inc.account,
                        inc.leaves,
                    ),
                };
            out.push(Event::Trade {
                trade_id,
                instrument,
                price,
                qty: Qty(qty),
                aggressor: Some(inc.side),
                buy_order,
                buy_account,
                sell_order,
                sell_account,
                maker_side: opp,
                buy_leaves: Qty(buy_leaves),
                sell_leaves: Qty(sell_leaves),
            });
            self.on_trade(
                ix,
                trade_id,
                price,
                Qty(qty),
                buy_account,
                sell_account,
                Some(opp),
                out,
            );
            if fill.leaves_after.0 == 0 {
                self.forget_resting(ix, fill.order.id, fill.order.account, fill.order.tag);
            } else if fill.refilled {
                let r = self.st.instruments[ix]
                    .book
                    .get(fill.order.id)
                    .expect("refilled order rests");
                out.push(Event::OrderRested {
                    order_id: r.id,
                    instrument,
                    side: r.side,
                    price: r.price,
                    visible: r.visible,
                    leaves: r.leaves,
                });
            }
        }
        Halt::None
    }

    fn trip_circuit_breaker(&mut self, ix: usize, price: Price, out: &mut Vec<Event>) {
        let now = self.st.now;
        let inst = &mut self.st.instruments[ix];
        let until = Timestamp(now.0.saturating_add(inst.spec.cb_auction_ns));
        inst.phase = Phase::PreOpen;
        inst.auction_until = Some(until);
        inst.window.clear();
        let instrument = inst.spec.id;
        out.push(Event::CircuitBreakerTripped {
            instrument,
            price,
            auction_until: until,
        });
        out.push(Event::PhaseChanged {
            instrument,
            phase: Phase::PreOpen,
            auction_until: Some(until),
        });
        self.st.recompute_deadline();
    }

    /// Releases the stop orders the last trade price has reached, one at a time in order of
    /// entry, re-evaluating after each (a released order's trades move the price and may
    /// release more).
    pub(crate) fn trigger_stops(&mut self, ix: usize, out: &mut Vec<Event>) {
        for _ in 0..STOP_CASCADE_MAX {
            let inst = &self.st.instruments[ix];
            if inst.stops.orders.is_empty() || inst.phase != Phase::Continuous {
                return;
            }
            let Some(last) = inst.last_price else { return };
            let Some(&id) = inst.stops.triggered_by(last).first() else {
                return;
            };
            let instrument = inst.spec.id;
            let s: StopOrder = self.st.instruments[ix].stops.remove(id).expect("listed");
            if let TimeInForce::Gtd(t) = s.tif {
                self.st.gtd_timers.remove(&(t, id, instrument));
            }
            if let Some(a) = self.st.account_mut(s.account) {
                a.working_orders -= 1;
            }
            self.change_working(s.account, instrument, s.side, -(s.qty.0 as i64));
            out.push(Event::StopTriggered {
                order_id: id,
                instrument,
                last_price: last,
            });
            let inc = Incoming {
                id,
                account: s.account,
                side: s.side,
                price: if s.order_type == OrderType::StopLimit {
                    s.price
                } else {
                    None
                },
                leaves: s.qty.0,
                filled: 0,
                tif: if s.order_type == OrderType::StopMarket {
                    TimeInForce::Ioc
                } else {
                    s.tif
                },
                min_qty: 0,
                display: s.display_qty.map_or(0, |q| q.0),
                stp: s.stp,
                client_order_id: s.client_order_id,
                post_only: false,
                liquidation: false,
            };
            self.execute(ix, inc, out);
        }
    }
}
