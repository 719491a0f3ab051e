//! One instrument's order book, built for the shape of a futures market.
//!
//! A futures contract has daily price limits, so the prices a book can hold are bounded and
//! small in ticks (a TKF contract at 7.000 USD with a 0.001 tick is 7,000 ticks). The book
//! therefore keeps:
//!
//! - [`levels`]: one dense array of price levels per side, indexed by tick, with a two-level
//!   bitmap of non-empty levels so the next best price is found with a few word scans;
//! - [`slab`]: every resting order in one slab with intrusive `prev`/`next` links forming
//!   each level's FIFO queue, and a free list, so adding and removing never allocates in the
//!   steady state;
//! - an index from [`OrderId`] to slab slot.
//!
//! The book knows nothing of matching rules, accounts or money: it offers the primitives the
//! engine's matching loop needs (best price, the order at the front of a level, fill the front,
//! insert at the back, reduce in place, remove) and keeps its own invariants (level totals equal
//! the sum of their orders' visible quantities; the bitmap marks exactly the non-empty levels).
//! [`Book::check_invariants`] verifies them in O(n) for tests.

mod levels;
mod slab;

use levels::Ladder;
use rustc_hash::FxHashMap;
use slab::{Node, Slab, NIL};
use tokex_types::limits::{BOOK_LEVELS_MAX, ORDERS_PER_BOOK_MAX};
use tokex_types::{AccountId, OrderId, Price, Qty, Side};

/// An order as it rests in the book.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Resting {
    pub id: OrderId,
    pub account: AccountId,
    pub side: Side,
    pub price: Price,
    /// Remaining quantity, displayed and hidden together.
    pub leaves: Qty,
    /// Displayed part of `leaves` (equal to `leaves` unless the order is an iceberg).
    pub visible: Qty,
    /// Iceberg display size; 0 for an ordinary order.
    pub display: Qty,
    /// Quantity filled so far.
    pub filled: Qty,
    /// Opaque engine data (time in force, flags); the book only stores it.
    pub tag: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookError {
    DuplicateId,
    PriceOutOfRange,
    BookFull,
}

/// What happened to the order at the front of a level when it was filled.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FrontFill {
    pub order: Resting,
    /// Quantity taken by this fill.
    pub qty: Qty,
    /// The order's remaining quantity after the fill.
    pub leaves_after: Qty,
    /// An iceberg whose displayed part ran out and was refilled at the back of the queue.
    pub refilled: bool,
}

pub struct Book {
    bids: Ladder,
    asks: Ladder,
    slab: Slab,
    index: FxHashMap<u64, u32>,
}

impl Default for Book {
    fn default() -> Self {
        Self::new()
    }
}

impl Book {
    pub fn new() -> Book {
        Book {
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            slab: Slab::new(),
            index: FxHashMap::default(),
        }
    }

    /// Number of resting orders.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    #[inline]
    pub fn best(&self, side: Side) -> Option<Price> {
        self.ladder(side).best().map(|t| Price(t as i64))
    }

    #[inline]
    pub fn best_bid(&self) -> Option<Price> {
        self.best(Side::Buy)
    }

    #[inline]
    pub fn best_ask(&self) -> Option<Price> {
        self.best(Side::Sell)
    }

    /// True when the best bid is at or above the best ask (allowed only during an auction).
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b >= a)
    }

    pub fn contains(&self, id: OrderId) -> bool {
        self.index.contains_key(&id.0)
    }

    pub fn get(&self, id: OrderId) -> Option<Resting> {
        self.index
            .get(&id.0)
            .map(|&slot| self.slab.get(slot).to_resting())
    }

    /// Adds an order at the back of its price level's queue.
    pub fn insert(&mut self, o: Resting) -> Result<(), BookError> {
        debug_assert!(o.leaves.0 > 0 && o.visible.0 > 0 && o.visible <= o.leaves);
        if o.price.0 < 1 || o.price.0 >= BOOK_LEVELS_MAX as i64 {
            return Err(BookError::PriceOutOfRange);
        }
        if self.index.len() >= ORDERS_PER_BOOK_MAX as usize {
            return Err(BookError::BookFull);
        }
        let slot = self.slab.alloc(Node::from_resting(&o));
        match self.index.entry(o.id.0) {
            std::collections::hash_map::Entry::Occupied(_) => {
                self.slab.free(slot);
                return Err(BookError::DuplicateId);
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(slot);
            }
        }
        let tick = o.price.0 as u32;
        let (ladder, slab) = match o.side {
            Side::Buy => (&mut self.bids, &mut self.slab),
            Side::Sell => (&mut self.asks, &mut self.slab),
        };
        ladder.push_back(slab, tick, slot);
        Ok(())
    }

    /// Removes an order wherever it is in its queue.
    pub fn remove(&mut self, id: OrderId) -> Option<Resting> {
        let slot = self.index.remove(&id.0)?;
        let node = *self.slab.get(slot);
        let (ladder, slab) = match node.side() {
            Side::Buy => (&mut self.bids, &mut self.slab),
            Side::Sell => (&mut self.asks, &mut self.slab),
        };
        ladder.unlink(slab, node.price, slot);
        self.slab.free(slot);
        Some(node.to_resting())
    }

    /// Reduces an order's remaining quantity in place, keeping its time priority.
    /// `new_leaves` must be at least 1 and below the current remaining quantity.
    pub fn reduce(&mut self, id: OrderId, new_leaves: Qty) -> Option<Resting> {
        let &slot = self.index.get(&id.0)?;
        let node = self.slab.get_mut(slot);
        assert!(
            new_leaves.0 >= 1 && new_leaves.0 < node.leaves as u64,
            "reduce must shrink the order"
        );
        let old_visible = node.visible;
        node.leaves = new_leaves.0 as u32;
        node.visible = node.visible.min(node.leaves);
        let delta = (old_visible - node.visible) as u64;
        let (side, price) = (node.side(), node.price);
        let r = node.to_resting();
        self.ladder_mut(side).sub_qty(price, delta);
        Some(r)
    }

    /// Moves an order to the back of the queue at `price` with `leaves` remaining (time
    /// priority is lost), keeping its slab slot and index entry: a move costs one lookup.
    /// An iceberg shows a fresh slice. The caller makes sure the new price does not cross.
    pub fn reprice(&mut self, id: OrderId, price: Price, leaves: Qty) -> Option<Resting> {
        if price.0 < 1 || price.0 >= BOOK_LEVELS_MAX as i64 || leaves.0 == 0 {
            return None;
        }
        let &slot = self.index.get(&id.0)?;
        let (ladder, slab) = match self.slab.get(slot).side() {
            Side::Buy => (&mut self.bids, &mut self.slab),
            Side::Sell => (&mut self.asks, &mut self.slab),
        };
        let old = slab.get(slot).price;
        ladder.unlink(slab, old, slot);
        let node = slab.get_mut(slot);
        node.price = price.0 as u32;
        node.leaves = u32::try_from(leaves.0).expect("order quantity above u32");
        node.visible = if node.display > 0 {
            node.display.min(node.leaves)
        } else {
            node.leaves
        };
        ladder.push_back(slab, price.0 as u32, slot);
        Some(self.slab.get(slot).to_resting())
    }

    /// The order at the front of the queue at `price` on `side`.
    #[inline]
    pub fn front(&self, side: Side, price: Price) -> Option<Resting> {
        let slot = self.ladder(side).head(price.0 as u32);
        (slot != NIL).then(|| self.slab.get(slot).to_resting())
    }

    /// Fills up to `qty` from the order at the front of the best level on `side`.
    /// Returns `None` if that side is empty. An iceberg whose displayed part is used up is
    /// refilled from its hidden part and moved to the back of the queue; an order with
    /// nothing left is removed.
    #[inline]
    pub fn fill_front(&mut self, side: Side, qty: Qty) -> Option<FrontFill> {
        let (ladder, slab) = match side {
            Side::Buy => (&mut self.bids, &mut self.slab),
            Side::Sell => (&mut self.asks, &mut self.slab),
        };
        let tick = ladder.best()?;
        let slot = ladder.head(tick);
        let node = slab.get_mut(slot);
        let take = (qty.0.min(node.visible as u64)) as u32;
        let before = node.to_resting();
        node.visible -= take;
        node.leaves -= take;
        node.filled += take;
        let leaves_after = node.leaves;
        let mut refilled = false;
        ladder.sub_qty(tick, take as u64);
        if node.leaves == 0 {
            ladder.unlink(slab, tick, slot);
            slab.free(slot);
            self.index.remove(&before.id.0);
        } else if node.visible == 0 {
            // Iceberg: show the next slice and lose time priority.
            ladder.unlink(slab, tick, slot);
            let node = slab.get_mut(slot);
            node.visible = node.display.min(node.leaves);
            ladder.push_back(slab, tick, slot);
            refilled = true;
        }
        Some(FrontFill {
            order: before,
            qty: Qty(take as u64),
            leaves_after: Qty(leaves_after as u64),
            refilled,
        })
    }

    /// Total displayed quantity at one price.
    pub fn level_qty(&self, side: Side, price: Price) -> Qty {
        Qty(self.ladder(side).qty(price.0 as u32))
    }

    /// Up to `n` aggregated levels from the best outwards: (price, displayed qty, order count).
    pub fn depth(&self, side: Side, n: usize) -> Vec<(Price, Qty, u32)> {
        let ladder = self.ladder(side);
        let mut out = Vec::with_capacity(n.min(64));
        let mut cur = ladder.best();
        while let Some(t) = cur {
            if out.len() == n {
                break;
            }
            out.push((Price(t as i64), Qty(ladder.qty(t)), ladder.count(t)));
            cur = ladder.next_after(t);
        }
        out
    }

    /// Every non-empty level of one side from the best outwards: (price, displayed qty).
    pub fn levels(&self, side: Side) -> impl Iterator<Item = (Price, Qty)> + '_ {
        let ladder = self.ladder(side);
        std::iter::successors(ladder.best(), move |&t| ladder.next_after(t))
            .map(move |t| (Price(t as i64), Qty(ladder.qty(t))))
    }

    /// The orders at one price in queue order.
    pub fn orders_at(&self, side: Side, price: Price) -> impl Iterator<Item = Resting> + '_ {
        let mut slot = self.ladder(side).head(price.0 as u32);
        std::iter::from_fn(move || {
            if slot == NIL {
                return None;
            }
            let n = self.slab.get(slot);
            slot = n.next;
            Some(n.to_resting())
        })
    }

    /// Every order of one side in priority order (best price first, then time).
    pub fn orders(&self, side: Side) -> impl Iterator<Item = Resting> + '_ {
        let ladder = self.ladder(side);
        std::iter::successors(ladder.best(), move |&t| ladder.next_after(t))
            .flat_map(move |t| self.orders_at(side, Price(t as i64)))
    }

    /// Sets an order's opaque engine tag.
    pub fn set_tag(&mut self, id: OrderId, tag: u16) -> bool {
        match self.index.get(&id.0) {
            Some(&slot) => {
                self.slab.get_mut(slot).tag = tag;
                true
            }
            None => false,
        }
    }

    /// Displayed quantity available to an aggressor on `aggressor_side` at prices no worse
    /// than `limit`, counting at most `enough` (the scan stops once that much is found), and
    /// skipping orders of `exclude` (for self-match prevention).
    pub fn available(
        &self,
        aggressor_side: Side,
        limit: Price,
        enough: Qty,
        exclude: Option<AccountId>,
    ) -> Qty {
        let side = aggressor_side.opposite();
        let ladder = self.ladder(side);
        let mut total = 0u64;
        let mut cur = ladder.best();
        while let Some(t) = cur {
            let p = t as i64;
            let acceptable = match aggressor_side {
                Side::Buy => p <= limit.0,
                Side::Sell => p >= limit.0,
            };
            if !acceptable {
                break;
            }
            match exclude {
                None => total += ladder.qty(t) + self.hidden_at(side, t),
                Some(acc) => {
                    for o in self.orders_at(side, Price(p)) {
                        if o.account != acc {
                            total += o.leaves.0;
                        }
                    }
                }
            }
            if total >= enough.0 {
                break;
            }
            cur = ladder.next_after(t);
        }
        Qty(total)
    }

    fn hidden_at(&self, side: Side, tick: u32) -> u64 {
        // Only icebergs have hidden quantity; walk the level only if it might have one.
        let mut slot = self.ladder(side).head(tick);
        let mut hidden = 0u64;
        while slot != NIL {
            let n = self.slab.get(slot);
            hidden += (n.leaves - n.visible) as u64;
            slot = n.next;
        }
        hidden
    }

    /// Verifies every structural invariant. O(n); for tests and debug checks.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = 0usize;
        for side in [Side::Buy, Side::Sell] {
            let ladder = self.ladder(side);
            ladder.check(&self.slab, side)?;
            for o in self.orders(side) {
                seen += 1;
                if o.leaves.0 == 0 || o.visible.0 == 0 || o.visible > o.leaves {
                    return Err(format!(
                        "order {} has leaves {} visible {}",
                        o.id.0, o.leaves.0, o.visible.0
                    ));
                }
                match self.index.get(&o.id.0) {
                    Some(&slot) if self.slab.get(slot).id == o.id.0 => {}
                    _ => return Err(format!("order {} missing from the index", o.id.0)),
                }
            }
        }
        if seen != self.index.len() {
            return Err(format!(
                "index holds {} orders, ladders {}",
                self.index.len(),
                seen
            ));
        }
        Ok(())
    }

    /// Bytes of heap this book holds (slab, ladders, index), for memory measurements.
    pub fn heap_bytes(&self) -> usize {
        self.slab.heap_bytes()
            + self.bids.heap_bytes()
            + self.asks.heap_bytes()
            + self.index.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
    }
}
