//! The call auction: choosing the uncross price and executing at it.
//!
//! Rule (SPEC §3): the uncross price maximises matched volume; ties go to the smallest
//! imbalance, then to the price closest to the reference (previous settlement), then — our
//! choice, documented — to the higher price. All bids above and asks below it fill; at it,
//! time priority decides. Every auction trade prints at the uncross price.

use crate::engine::Engine;
use crate::event::{CancelReason, Event};
use std::collections::BTreeMap;
use tokex_types::{Price, Qty, Side};

/// The uncross price and volume for the given total quantities (displayed and hidden) at
/// each price, per side.
///
/// Matched volume and imbalance are constant between consecutive book prices, so the best
/// price is a book price or, when it falls inside a tied range, the reference price itself:
/// those are the candidates.
pub fn uncross_price(
    bids: &BTreeMap<Price, u64>,
    asks: &BTreeMap<Price, u64>,
    reference: Price,
) -> Option<(Price, u64)> {
    let mut prices: Vec<Price> = bids
        .keys()
        .chain(asks.keys())
        .copied()
        .chain(std::iter::once(reference))
        .collect();
    prices.sort_unstable();
    prices.dedup();
    let total_bid: u64 = bids.values().sum();
    let mut bid_below = 0u64; // bids strictly below p
    let mut ask_upto = 0u64; // asks at or below p
    let mut best: Option<(u64, u64, i64, Price)> = None; // (volume, imbalance, distance, price)
    for &p in &prices {
        ask_upto += asks.get(&p).copied().unwrap_or(0);
        let demand = total_bid - bid_below;
        let volume = demand.min(ask_upto);
        let imbalance = demand.abs_diff(ask_upto);
        let distance = (p.0 - reference.0).abs();
        let better = match best {
            None => true,
            Some((v, i, d, _)) => {
                volume > v || (volume == v && (imbalance < i || (imbalance == i && distance <= d)))
            }
        };
        // `distance <= d` with ascending prices prefers the higher price on an exact tie.
        if better {
            best = Some((volume, imbalance, distance, p));
        }
        bid_below += bids.get(&p).copied().unwrap_or(0);
    }
    best.filter(|&(v, ..)| v > 0).map(|(v, _, _, p)| (p, v))
}

impl Engine {
    /// Uncrosses the instrument's book at the auction price. Leaves the book uncrossed.
    ///
    /// One `AuctionUncrossed` event per price printed: normally one. When a self-match in the
    /// auction cancels an order and what remains is still crossed, a further round uncrosses
    /// the rest at its own price (and reports it), so the book never opens crossed.
    pub(crate) fn uncross(&mut self, ix: usize, out: &mut Vec<Event>) {
        let instrument = self.st.instruments[ix].spec.id;
        let mut rounds = 0;
        loop {
            let inst = &self.st.instruments[ix];
            if !inst.book.is_crossed() {
                break;
            }
            let mut bids = BTreeMap::new();
            let mut asks = BTreeMap::new();
            for o in inst.book.orders(Side::Buy) {
                *bids.entry(o.price).or_insert(0) += o.leaves.0;
            }
            for o in inst.book.orders(Side::Sell) {
                *asks.entry(o.price).or_insert(0) += o.leaves.0;
            }
            let Some((price, _)) = uncross_price(&bids, &asks, inst.reference_price) else {
                break;
            };
            let volume = self.execute_auction(ix, price, out);
            if volume > 0 {
                self.st.instruments[ix].last_price = Some(price);
            }
            out.push(Event::AuctionUncrossed {
                instrument,
                price: Some(price),
                volume: Qty(volume),
            });
            rounds += 1;
        }
        if rounds == 0 {
            out.push(Event::AuctionUncrossed {
                instrument,
                price: None,
                volume: Qty(0),
            });
        }
    }

    /// Matches bids at or above `price` with asks at or below it, in priority order, all at
    /// `price`. The earlier order of each pair is the maker.
    fn execute_auction(&mut self, ix: usize, price: Price, out: &mut Vec<Event>) -> u64 {
        let mut volume = 0u64;
        loop {
            let inst = &self.st.instruments[ix];
            let (Some(bb), Some(ba)) = (inst.book.best_bid(), inst.book.best_ask()) else {
                break;
            };
            if bb < price || ba > price {
                break;
            }
            let bid = inst.book.front(Side::Buy, bb).expect("level");
            let ask = inst.book.front(Side::Sell, ba).expect("level");
            if bid.account == ask.account {
                // Self-match in an auction: the later order gives way.
                let later = bid.id.max(ask.id);
                self.cancel_working(ix, later, CancelReason::SelfMatch, out);
                continue;
            }
            let qty = bid.visible.0.min(ask.visible.0);
            let inst = &mut self.st.instruments[ix];
            let fb = inst.book.fill_front(Side::Buy, Qty(qty)).expect("level");
            let fa = inst.book.fill_front(Side::Sell, Qty(qty)).expect("level");
            let instrument = inst.spec.id;
            let trade_id = self.st.next_trade_id;
            self.st.next_trade_id += 1;
            let maker_side = if bid.id < ask.id {
                Side::Buy
            } else {
                Side::Sell
            };
            out.push(Event::Trade {
                trade_id,
                instrument,
                price,
                qty: Qty(qty),
                aggressor: None,
                buy_order: bid.id,
                buy_account: bid.account,
                sell_order: ask.id,
                sell_account: ask.account,
                maker_side,
                buy_leaves: fb.leaves_after,
                sell_leaves: fa.leaves_after,
            });
            self.on_trade(
                ix,
                trade_id,
                price,
                Qty(qty),
                bid.account,
                ask.account,
                None,
                out,
            );
            for f in [fb, fa] {
                if f.leaves_after.0 == 0 {
                    self.forget_resting(ix, f.order.id, f.order.account, f.order.tag);
                } else if f.refilled {
                    let r = self.st.instruments[ix]
                        .book
                        .get(f.order.id)
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
            volume += qty;
        }
        volume
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: &[(i64, u64)]) -> BTreeMap<Price, u64> {
        v.iter().map(|&(p, q)| (Price(p), q)).collect()
    }

    #[test]
    fn maximises_volume() {
        // Bids 10@102, 10@101; asks 5@100, 10@101. At 101: demand 20, supply 15 → 15.
        // At 100: demand 20, supply 5 → 5. At 102: demand 10, supply 15 → 10.
        let r = uncross_price(
            &m(&[(102, 10), (101, 10)]),
            &m(&[(100, 5), (101, 10)]),
            Price(100),
        );
        assert_eq!(r, Some((Price(101), 15)));
    }

    #[test]
    fn ties_go_to_smallest_imbalance_then_reference() {
        // Bid 10@105, ask 10@100: every price 100..=105 matches 10 with imbalance 0, so the
        // price closest to the reference wins — the reference itself when inside the range.
        let r = uncross_price(&m(&[(105, 10)]), &m(&[(100, 10)]), Price(104));
        assert_eq!(r, Some((Price(104), 10)));
        // Reference outside the range: the nearest end of it.
        let r = uncross_price(&m(&[(105, 10)]), &m(&[(100, 10)]), Price(90));
        assert_eq!(r, Some((Price(100), 10)));
        let r = uncross_price(&m(&[(105, 10)]), &m(&[(100, 10)]), Price(120));
        assert_eq!(r, Some((Price(105), 10)));
        // Imbalance before distance: bids 10@102 + 5@101, asks 10@101. At 101: demand 15,
        // supply 10 → 10, imbalance 5. At 102: demand 10, supply 10 → 10, imbalance 0.
        let r = uncross_price(&m(&[(102, 10), (101, 5)]), &m(&[(101, 10)]), Price(101));
        assert_eq!(r, Some((Price(102), 10)));
    }

    #[test]
    fn no_cross_no_price() {
        assert_eq!(
            uncross_price(&m(&[(99, 10)]), &m(&[(100, 10)]), Price(100)),
            None
        );
    }
}
