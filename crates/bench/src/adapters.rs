//! One adapter per order book: each takes the same [`Cmd`] stream and drives its book
//! through that book's own API, counting trades so a reader (and the tests) can see that every
//! adapter does the same work.
//!
//! - [`TokexEngine`]: the whole deterministic core, `Engine::apply_into` (validation,
//!   pre-trade risk, matching, events).
//! - [`TokexBook`]: the bare `tokex_book::Book` with a minimal price-time loop written here,
//!   so the engine's cost over its book is visible.
//! - [`Lobster`]: the `lobster` crate (no amend: a move is cancel + new; no IOC: an IOC is a
//!   limit order whose rest is cancelled at once).
//! - [`OrderbookRs`]: the `orderbook-rs` crate (native price update and IOC).
//! - [`BTreeBook`]: a plain `BTreeMap<price, VecDeque<order>>` book with a hash index, the
//!   baseline any dense book has to beat.

use crate::workload::{Cmd, Workload};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokex_engine::{
    Amend, Cancel, Command, Engine, Event, NewOrder, OrderRef, Phase, Role, TimeInForce,
};
use tokex_types::{
    AccountId, Currency, InstrumentId, InstrumentSpec, Money, OrderId, Price, Qty, Side, Timestamp,
};

/// Trades seen by an adapter (one per maker fill) and the quantity they carried.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub trades: u64,
    pub traded_qty: u64,
    /// Commands the book refused (must stay 0 on the generated stream).
    pub rejects: u64,
}

pub trait Adapter {
    fn apply(&mut self, cmd: &Cmd);
    fn stats(&self) -> Stats;
    /// Resting orders, where the book can tell.
    fn resting(&self) -> Option<usize>;

    /// Runs a stream. A provided method, so each adapter gets its own monomorphised loop
    /// and a boxed adapter costs one virtual call per stream, not per command.
    fn run(&mut self, cmds: &[Cmd]) {
        for c in cmds {
            self.apply(c);
        }
    }

    /// Runs a stream at a constant rate and records each command's latency. See
    /// [`crate::harness::paced`].
    fn run_paced(&mut self, cmds: &[Cmd], pace: &crate::harness::Pace) -> crate::harness::Paced {
        crate::harness::paced(self, cmds, pace)
    }
}

/// The adapters, by name, in the order the reports list them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    TokexEngine,
    TokexBook,
    Lobster,
    OrderbookRs,
    BTree,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::TokexEngine,
        Kind::TokexBook,
        Kind::Lobster,
        Kind::OrderbookRs,
        Kind::BTree,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::TokexEngine => "tokex-engine",
            Kind::TokexBook => "tokex-book",
            Kind::Lobster => "lobster",
            Kind::OrderbookRs => "orderbook-rs",
            Kind::BTree => "btreemap",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// A fresh adapter with the workload's prefill applied (untimed).
    pub fn build(self, w: &Workload) -> Box<dyn Adapter> {
        fn ready<A: Adapter + 'static>(mut a: A, w: &Workload) -> Box<dyn Adapter> {
            for c in &w.prefill {
                a.apply(c);
            }
            Box::new(a)
        }
        match self {
            Kind::TokexEngine => ready(TokexEngine::new(w.config.reference, w.config.accounts), w),
            Kind::TokexBook => ready(TokexBook::new(), w),
            Kind::Lobster => ready(Lobster::new(), w),
            Kind::OrderbookRs => ready(OrderbookRs::new(), w),
            Kind::BTree => ready(BTreeBook::new(), w),
        }
    }
}

#[inline]
fn crosses(side: Side, limit: i64, opposite: i64) -> bool {
    match side {
        Side::Buy => opposite <= limit,
        Side::Sell => opposite >= limit,
    }
}

// ----- the Tokex engine ------------------------------------------------------------------

pub struct TokexEngine {
    engine: Engine,
    events: Vec<Event>,
    time: u64,
    stats: Stats,
}

const INSTRUMENT: InstrumentId = InstrumentId(0);
/// Cash per account, minor units (10 billion USD: far above any worst-case margin here).
const ACCOUNT_CASH_MINOR: i64 = 1_000_000_000_000;

impl TokexEngine {
    /// An engine with the test instrument listed at `reference` and open for continuous
    /// trading, and accounts 1..=`accounts`.
    pub fn new(reference: i64, accounts: u32) -> TokexEngine {
        let mut engine = Engine::new();
        let mut events = Vec::new();
        let list = Command::ListInstrument(Box::new(InstrumentSpec::for_tests(0, reference)));
        engine
            .apply_into(Timestamp(1), &list, &mut events)
            .expect("list");
        for a in 1..=accounts {
            engine.open_account(a, Role::Trader);
            // Enough cash that pre-trade risk runs its margin checks and always accepts:
            // the stream is about matching speed, not margin calls.
            let fund = Command::Deposit {
                account: AccountId(a),
                currency: Currency::Usd,
                amount: Money(ACCOUNT_CASH_MINOR),
            };
            engine
                .apply_into(Timestamp(1), &fund, &mut events)
                .expect("deposit");
        }
        let open = Command::SetPhase {
            instrument: INSTRUMENT,
            phase: Phase::Continuous,
        };
        engine
            .apply_into(Timestamp(2), &open, &mut events)
            .expect("open");
        events.clear();
        TokexEngine {
            engine,
            events: Vec::with_capacity(64),
            time: 2,
            stats: Stats::default(),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine command a stream command becomes.
    #[inline]
    pub fn command(cmd: &Cmd) -> Command {
        match *cmd {
            Cmd::New {
                account,
                side,
                price,
                qty,
                ioc,
                ..
            } => {
                let o = NewOrder::limit(account, 0, side, price, qty);
                Command::NewOrder(if ioc { o.with_tif(TimeInForce::Ioc) } else { o })
            }
            Cmd::Move {
                id, account, price, ..
            } => Command::Amend(Amend {
                account: AccountId(account),
                instrument: INSTRUMENT,
                order: OrderRef::Id(OrderId(id)),
                price: Some(Price(price)),
                qty: None,
                stop_price: None,
            }),
            Cmd::Cancel { id, account } => Command::Cancel(Cancel {
                account: AccountId(account),
                instrument: INSTRUMENT,
                order: OrderRef::Id(OrderId(id)),
            }),
        }
    }
}

impl Adapter for TokexEngine {
    #[inline]
    fn apply(&mut self, cmd: &Cmd) {
        self.time += 1;
        let c = Self::command(cmd);
        self.events.clear();
        if self
            .engine
            .apply_into(Timestamp(self.time), &c, &mut self.events)
            .is_err()
        {
            self.stats.rejects += 1;
        }
        for e in &self.events {
            if let Event::Trade { qty, .. } = e {
                self.stats.trades += 1;
                self.stats.traded_qty += qty.0;
            }
        }
    }

    fn stats(&self) -> Stats {
        self.stats
    }

    fn resting(&self) -> Option<usize> {
        self.engine.instrument(INSTRUMENT).map(|i| i.book.len())
    }
}

// ----- the bare Tokex book ---------------------------------------------------------------

pub struct TokexBook {
    book: tokex_book::Book,
    stats: Stats,
}

impl Default for TokexBook {
    fn default() -> Self {
        Self::new()
    }
}

impl TokexBook {
    pub fn new() -> TokexBook {
        TokexBook {
            book: tokex_book::Book::new(),
            stats: Stats::default(),
        }
    }

    pub fn book(&self) -> &tokex_book::Book {
        &self.book
    }

    /// Price-time matching of an incoming order, then rest (GTC) or drop (IOC) the rest.
    #[inline]
    fn execute(&mut self, id: u64, account: u32, side: Side, price: i64, qty: u64, rest: bool) {
        let opp = side.opposite();
        let mut left = qty;
        while left > 0 {
            let Some(best) = self.book.best(opp) else {
                break;
            };
            if !crosses(side, price, best.0) {
                break;
            }
            let f = self.book.fill_front(opp, Qty(left)).expect("non-empty");
            left -= f.qty.0;
            self.stats.trades += 1;
            self.stats.traded_qty += f.qty.0;
        }
        if left > 0 && rest {
            let r = tokex_book::Resting {
                id: OrderId(id),
                account: AccountId(account),
                side,
                price: Price(price),
                leaves: Qty(left),
                visible: Qty(left),
                display: Qty(0),
                filled: Qty(qty - left),
                tag: 0,
            };
            if self.book.insert(r).is_err() {
                self.stats.rejects += 1;
            }
        }
    }
}

impl Adapter for TokexBook {
    #[inline]
    fn apply(&mut self, cmd: &Cmd) {
        match *cmd {
            Cmd::New {
                id,
                account,
                side,
                price,
                qty,
                ioc,
            } => self.execute(id, account, side, price, qty, !ioc),
            Cmd::Move { id, price, .. } => match self.book.remove(OrderId(id)) {
                Some(r) => self.execute(id, r.account.0, r.side, price, r.leaves.0, true),
                None => self.stats.rejects += 1,
            },
            Cmd::Cancel { id, .. } => {
                if self.book.remove(OrderId(id)).is_none() {
                    self.stats.rejects += 1;
                }
            }
        }
    }

    fn stats(&self) -> Stats {
        self.stats
    }

    fn resting(&self) -> Option<usize> {
        Some(self.book.len())
    }
}

// ----- lobster ---------------------------------------------------------------------------

pub struct Lobster {
    book: lobster::OrderBook,
    stats: Stats,
}

impl Default for Lobster {
    fn default() -> Self {
        Self::new()
    }
}

fn lobster_side(s: Side) -> lobster::Side {
    match s {
        Side::Buy => lobster::Side::Bid,
        Side::Sell => lobster::Side::Ask,
    }
}

impl Lobster {
    pub fn new() -> Lobster {
        Lobster {
            // Arena sized for the ~1,000 resting orders; queues of 10 (the crate's default).
            book: lobster::OrderBook::new(4_096, 10, false),
            stats: Stats::default(),
        }
    }

    /// Places a limit order; returns true if some of it rests.
    #[inline]
    fn limit(&mut self, id: u64, side: Side, price: i64, qty: u64) -> bool {
        let ev = self.book.execute(lobster::OrderType::Limit {
            id: id as u128,
            side: lobster_side(side),
            qty,
            price: price as u64,
        });
        match ev {
            lobster::OrderEvent::Placed { .. } => true,
            lobster::OrderEvent::PartiallyFilled { fills, .. } => {
                self.count(&fills);
                true
            }
            lobster::OrderEvent::Filled { fills, .. } => {
                self.count(&fills);
                false
            }
            _ => {
                self.stats.rejects += 1;
                false
            }
        }
    }

    #[inline]
    fn count(&mut self, fills: &[lobster::FillMetadata]) {
        self.stats.trades += fills.len() as u64;
        self.stats.traded_qty += fills.iter().map(|f| f.qty).sum::<u64>();
    }

    #[inline]
    fn cancel(&mut self, id: u64) {
        self.book
            .execute(lobster::OrderType::Cancel { id: id as u128 });
    }
}

impl Adapter for Lobster {
    #[inline]
    fn apply(&mut self, cmd: &Cmd) {
        match *cmd {
            Cmd::New {
                id,
                side,
                price,
                qty,
                ioc,
                ..
            } => {
                if self.limit(id, side, price, qty) && ioc {
                    self.cancel(id);
                }
            }
            Cmd::Move {
                id,
                side,
                leaves,
                price,
                ..
            } => {
                self.cancel(id);
                self.limit(id, side, price, leaves);
            }
            Cmd::Cancel { id, .. } => self.cancel(id),
        }
    }

    fn stats(&self) -> Stats {
        self.stats
    }

    fn resting(&self) -> Option<usize> {
        None
    }
}

// ----- orderbook-rs ----------------------------------------------------------------------

pub struct OrderbookRs {
    book: orderbook_rs::OrderBook<()>,
    trades: Arc<AtomicU64>,
    traded_qty: Arc<AtomicU64>,
    rejects: u64,
}

impl Default for OrderbookRs {
    fn default() -> Self {
        Self::new()
    }
}

fn obrs_side(s: Side) -> orderbook_rs::Side {
    match s {
        Side::Buy => orderbook_rs::Side::Buy,
        Side::Sell => orderbook_rs::Side::Sell,
    }
}

impl OrderbookRs {
    pub fn new() -> OrderbookRs {
        let trades = Arc::new(AtomicU64::new(0));
        let traded_qty = Arc::new(AtomicU64::new(0));
        let (t, q) = (trades.clone(), traded_qty.clone());
        // Trades are counted through the trade listener: an IOC that fills only in part
        // returns an error and reports its fills there alone.
        let listener: orderbook_rs::TradeListener =
            Arc::new(move |r: &orderbook_rs::TradeResult| {
                let list = r.match_result.trades().as_vec();
                t.fetch_add(list.len() as u64, Ordering::Relaxed);
                q.fetch_add(
                    list.iter().map(|x| x.quantity().as_u64()).sum::<u64>(),
                    Ordering::Relaxed,
                );
            });
        OrderbookRs {
            book: orderbook_rs::OrderBook::with_trade_listener("TKF", listener),
            trades,
            traded_qty,
            rejects: 0,
        }
    }
}

impl Adapter for OrderbookRs {
    #[inline]
    fn apply(&mut self, cmd: &Cmd) {
        use orderbook_rs::{Id, TimeInForce as Tif};
        match *cmd {
            Cmd::New {
                id,
                side,
                price,
                qty,
                ioc,
                ..
            } => {
                let tif = if ioc { Tif::Ioc } else { Tif::Gtc };
                let r = self.book.add_limit_order(
                    Id::sequential(id),
                    price as u128,
                    qty,
                    obrs_side(side),
                    tif,
                    None,
                );
                // An IOC whose rest is cancelled reports an error; that is its normal end.
                if r.is_err() && !ioc {
                    self.rejects += 1;
                }
            }
            Cmd::Move { id, price, .. } => {
                let r = self
                    .book
                    .update_order(pricelevel::OrderUpdate::UpdatePrice {
                        order_id: Id::sequential(id),
                        new_price: pricelevel_price(price),
                    });
                if r.is_err() {
                    self.rejects += 1;
                }
            }
            Cmd::Cancel { id, .. } => {
                if !matches!(self.book.cancel_order(Id::sequential(id)), Ok(Some(_))) {
                    self.rejects += 1;
                }
            }
        }
    }

    fn stats(&self) -> Stats {
        Stats {
            trades: self.trades.load(Ordering::Relaxed),
            traded_qty: self.traded_qty.load(Ordering::Relaxed),
            rejects: self.rejects,
        }
    }

    fn resting(&self) -> Option<usize> {
        None
    }
}

fn pricelevel_price(p: i64) -> pricelevel::Price {
    pricelevel::Price::new(p as u128)
}

// ----- the BTreeMap baseline -------------------------------------------------------------

#[derive(Copy, Clone, Debug)]
struct BOrder {
    id: u64,
    qty: u64,
}

/// A plain book: price levels in a `BTreeMap`, each a `VecDeque` FIFO; a hash index from
/// order id to (side, price) for cancels and moves.
#[derive(Default)]
pub struct BTreeBook {
    bids: BTreeMap<i64, VecDeque<BOrder>>,
    asks: BTreeMap<i64, VecDeque<BOrder>>,
    index: FxHashMap<u64, (Side, i64)>,
    stats: Stats,
}

impl BTreeBook {
    pub fn new() -> BTreeBook {
        BTreeBook::default()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Rests an order without matching (for the memory measurement).
    pub fn insert(&mut self, id: u64, side: Side, price: i64, qty: u64) {
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        levels
            .entry(price)
            .or_default()
            .push_back(BOrder { id, qty });
        self.index.insert(id, (side, price));
    }

    fn remove(&mut self, id: u64) -> Option<(Side, i64, u64)> {
        let (side, price) = self.index.remove(&id)?;
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let q = levels.get_mut(&price).expect("indexed level");
        let at = q.iter().position(|o| o.id == id).expect("indexed order");
        let o = q.remove(at).expect("in range");
        if q.is_empty() {
            levels.remove(&price);
        }
        Some((side, price, o.qty))
    }

    #[inline]
    fn execute(&mut self, id: u64, side: Side, price: i64, qty: u64, rest: bool) {
        let mut left = qty;
        while left > 0 {
            let mut level = match side {
                Side::Buy => match self.asks.first_entry() {
                    Some(e) if *e.key() <= price => e,
                    _ => break,
                },
                Side::Sell => match self.bids.last_entry() {
                    Some(e) if *e.key() >= price => e,
                    _ => break,
                },
            };
            let q = level.get_mut();
            while left > 0 {
                let Some(front) = q.front_mut() else { break };
                let take = left.min(front.qty);
                front.qty -= take;
                left -= take;
                self.stats.trades += 1;
                self.stats.traded_qty += take;
                if front.qty == 0 {
                    let gone = q.pop_front().expect("front").id;
                    self.index.remove(&gone);
                }
            }
            if q.is_empty() {
                level.remove();
            }
        }
        if left > 0 && rest {
            self.insert(id, side, price, left);
        }
    }
}

impl Adapter for BTreeBook {
    #[inline]
    fn apply(&mut self, cmd: &Cmd) {
        match *cmd {
            Cmd::New {
                id,
                side,
                price,
                qty,
                ioc,
                ..
            } => self.execute(id, side, price, qty, !ioc),
            Cmd::Move { id, price, .. } => match self.remove(id) {
                Some((side, _, qty)) => self.execute(id, side, price, qty, true),
                None => self.stats.rejects += 1,
            },
            Cmd::Cancel { id, .. } => {
                if self.remove(id).is_none() {
                    self.stats.rejects += 1;
                }
            }
        }
    }

    fn stats(&self) -> Stats {
        self.stats
    }

    fn resting(&self) -> Option<usize> {
        Some(self.index.len())
    }
}
