//! The seeded workload: the exchange-core command mix on one instrument.
//!
//! 82% move (re-price an own resting order), 9% new GTC limit, 6% cancel, 3% IOC, about 1,000
//! resting orders, 2,000 accounts, prices around a mid that drifts slowly. The whole stream is
//! generated up front (generation is never timed) by running it through a small reference
//! book (`Model`), so that every move and cancel names an order that is still resting at that
//! point, and so that no command ever makes an account trade with itself: every adapter then
//! does the same work, and the model's trade count is what each adapter must reproduce.
//!
//! Order ids are the stream's own numbering: the n-th `New` (IOC included, prefill included)
//! has id n, starting at 1 — exactly the ids the Tokex engine assigns, so the engine adapter
//! needs no id map.

use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use tokex_types::Side;

/// A small, fast, seeded PRNG (SplitMix64). Not for cryptography; for reproducible streams.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `ppm` per million.
    #[inline]
    pub fn chance_ppm(&mut self, ppm: u64) -> bool {
        self.below(1_000_000) < ppm
    }

    pub fn side(&mut self) -> Side {
        if self.next_u64() & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }
}

/// One command of the stream, in a compact form every adapter translates to its own API
/// (the translation is part of what is timed, as a gateway's would be).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// A new limit order: GTC, or IOC when `ioc`. `id` is the stream's order number.
    New {
        id: u64,
        account: u32,
        side: Side,
        price: i64,
        qty: u64,
        ioc: bool,
    },
    /// Re-price a resting order. `side` and `leaves` (its remaining quantity, as its owner
    /// knows from its fills) are given for books without an amend, which cancel and re-enter.
    Move {
        id: u64,
        account: u32,
        side: Side,
        leaves: u64,
        price: i64,
    },
    /// Cancel a resting order.
    Cancel { id: u64, account: u32 },
}

#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    /// Commands in the measured stream (after the prefill).
    pub commands: usize,
    /// Resting orders the book is kept around (and the prefill builds).
    pub resting_target: usize,
    /// Accounts 1..=accounts place orders.
    pub accounts: u32,
    /// The instrument's reference price in ticks (the TKF contract at 7.000 with a 0.001 tick).
    pub reference: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 42,
            commands: 2_000_000,
            resting_target: 1_000,
            accounts: 2_000,
            reference: 7_000,
        }
    }
}

/// What the reference model saw; every adapter must reproduce `trades` and `traded_qty`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub trades: u64,
    pub traded_qty: u64,
    /// Resting orders after the prefill and after the whole stream.
    pub resting_after_prefill: usize,
    pub resting_at_end: usize,
    /// Mean resting orders over the measured stream.
    pub resting_mean: usize,
    pub moves: u64,
    pub news: u64,
    pub cancels: u64,
    pub iocs: u64,
    /// Commands (of the measured stream) that traded at least once.
    pub trading_commands: u64,
    pub mid_min: i64,
    pub mid_max: i64,
}

pub struct Workload {
    pub config: Config,
    /// Passive orders that build the starting book; applied before timing starts.
    pub prefill: Vec<Cmd>,
    /// The measured stream.
    pub cmds: Vec<Cmd>,
    pub expected: Expected,
}

/// Prices are kept well inside the test instrument's ±10% daily limits.
const MID_BAND_TICKS: i64 = 200;
const PRICE_BAND_TICKS: i64 = 600;

#[derive(Copy, Clone, Debug)]
struct MOrder {
    account: u32,
    side: Side,
    price: i64,
    leaves: u64,
}

/// The reference book the generator runs the stream through: a naive `BTreeMap` book with a
/// list of live orders for uniform random picks.
#[derive(Default)]
struct Model {
    bids: BTreeMap<i64, VecDeque<u64>>,
    asks: BTreeMap<i64, VecDeque<u64>>,
    orders: FxHashMap<u64, MOrder>,
    live: Vec<u64>,
    pos: FxHashMap<u64, usize>,
    trades: u64,
    traded_qty: u64,
}

#[inline]
fn crosses(side: Side, limit: i64, opposite: i64) -> bool {
    match side {
        Side::Buy => opposite <= limit,
        Side::Sell => opposite >= limit,
    }
}

impl Model {
    fn levels(&mut self, side: Side) -> &mut BTreeMap<i64, VecDeque<u64>> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Buy => self.bids.last_key_value().map(|(&p, _)| p),
            Side::Sell => self.asks.first_key_value().map(|(&p, _)| p),
        }
    }

    /// The opposite orders an aggressor at `limit` for `qty` would meet, in priority order.
    fn would_meet(&self, side: Side, limit: i64, qty: u64) -> Vec<u64> {
        let levels: Box<dyn Iterator<Item = (&i64, &VecDeque<u64>)>> = match side {
            Side::Buy => Box::new(self.asks.iter()),
            Side::Sell => Box::new(self.bids.iter().rev()),
        };
        let mut left = qty;
        let mut met = Vec::new();
        for (&p, q) in levels {
            if !crosses(side, limit, p) {
                break;
            }
            for id in q {
                met.push(*id);
                left = left.saturating_sub(self.orders[id].leaves);
                if left == 0 {
                    return met;
                }
            }
        }
        met
    }

    fn self_match(&self, account: u32, side: Side, limit: i64, qty: u64) -> bool {
        let crossing = self
            .best(side.opposite())
            .is_some_and(|b| crosses(side, limit, b));
        crossing
            && self
                .would_meet(side, limit, qty)
                .iter()
                .any(|id| self.orders[id].account == account)
    }

    fn forget(&mut self, id: u64) -> MOrder {
        let o = self.orders.remove(&id).expect("live order");
        let ix = self.pos.remove(&id).expect("listed");
        self.live.swap_remove(ix);
        if let Some(&moved) = self.live.get(ix) {
            self.pos.insert(moved, ix);
        }
        o
    }

    fn remove(&mut self, id: u64) -> MOrder {
        let o = self.forget(id);
        let levels = self.levels(o.side);
        let q = levels.get_mut(&o.price).expect("level");
        let at = q.iter().position(|&x| x == id).expect("queued");
        q.remove(at);
        if q.is_empty() {
            levels.remove(&o.price);
        }
        o
    }

    /// Matches an incoming order and rests what is left if `rest`. Returns the trade count.
    fn execute(&mut self, id: u64, o: MOrder, rest: bool) -> u64 {
        let opp = o.side.opposite();
        let mut left = o.leaves;
        let mut trades = 0;
        while left > 0 {
            let Some(best) = self.best(opp) else { break };
            if !crosses(o.side, o.price, best) {
                break;
            }
            let front = *self.levels(opp)[&best].front().expect("non-empty level");
            let maker = self.orders.get_mut(&front).expect("live");
            debug_assert_ne!(
                maker.account, o.account,
                "the generator avoids self-matches"
            );
            let q = left.min(maker.leaves);
            maker.leaves -= q;
            left -= q;
            trades += 1;
            self.traded_qty += q;
            if maker.leaves == 0 {
                self.remove(front);
            }
        }
        self.trades += trades;
        if left > 0 && rest {
            self.levels(o.side)
                .entry(o.price)
                .or_default()
                .push_back(id);
            self.orders.insert(id, MOrder { leaves: left, ..o });
            self.pos.insert(id, self.live.len());
            self.live.push(id);
        }
        trades
    }
}

struct Gen {
    rng: Rng,
    cfg: Config,
    model: Model,
    mid: i64,
    next_id: u64,
}

impl Gen {
    fn clamp(&self, p: i64) -> i64 {
        p.clamp(
            self.cfg.reference - PRICE_BAND_TICKS,
            self.cfg.reference + PRICE_BAND_TICKS,
        )
    }

    /// A passive price: 1 to ~25 ticks behind the mid, most near the touch.
    fn passive(&mut self, side: Side) -> i64 {
        let off = 1 + self.rng.below(13) + self.rng.below(13);
        let p = match side {
            Side::Buy => self.mid - off as i64,
            Side::Sell => self.mid + off as i64,
        };
        self.clamp(p)
    }

    /// An aggressive price: at the opposite best or up to two ticks through it.
    fn aggressive(&mut self, side: Side) -> i64 {
        let through = self.rng.below(3) as i64;
        match (side, self.model.best(side.opposite())) {
            (Side::Buy, Some(a)) => self.clamp(a + through),
            (Side::Sell, Some(b)) => self.clamp(b - through),
            (s, None) => self.passive(s),
        }
    }

    /// The best price that does not cross the opposite side.
    fn non_crossing(&self, side: Side, want: i64) -> i64 {
        match (side, self.model.best(side.opposite())) {
            (Side::Buy, Some(a)) if want >= a => a - 1,
            (Side::Sell, Some(b)) if want <= b => b + 1,
            _ => want,
        }
    }

    fn account(&mut self) -> u32 {
        1 + self.rng.below(self.cfg.accounts as u64) as u32
    }

    /// Pressure above 1 when the book holds more than its target: aggressive orders get more
    /// likely, which keeps the resting count near the target.
    fn cross_ppm(&self, base_ppm: u64, cap_ppm: u64) -> u64 {
        let n = self.model.live.len() as u64;
        let t = self.cfg.resting_target.max(1) as u64;
        let r2 = n * n * 1_000 / (t * t);
        (base_ppm * r2 * r2 / 1_000_000).min(cap_ppm)
    }

    fn new_order(&mut self, ioc: bool) -> Cmd {
        let side = self.rng.side();
        let qty = if ioc {
            1 + self.rng.below(40)
        } else {
            1 + self.rng.below(50)
        };
        let aggressive = ioc || self.rng.chance_ppm(self.cross_ppm(25_000, 600_000));
        let mut price = if aggressive {
            self.aggressive(side)
        } else {
            self.passive(side)
        };
        let mut account = self.account();
        let mut tries = 0;
        while self.model.self_match(account, side, price, qty) {
            tries += 1;
            if tries > 8 {
                price = self.non_crossing(side, price);
                break;
            }
            account = self.account();
        }
        let id = self.next_id;
        self.next_id += 1;
        self.model.execute(
            id,
            MOrder {
                account,
                side,
                price,
                leaves: qty,
            },
            !ioc,
        );
        Cmd::New {
            id,
            account,
            side,
            price,
            qty,
            ioc,
        }
    }

    fn move_order(&mut self) -> Cmd {
        let id = self.model.live[self.rng.below(self.model.live.len() as u64) as usize];
        let o = self.model.orders[&id];
        let mut price = if self.rng.chance_ppm(self.cross_ppm(3_000, 200_000)) {
            self.aggressive(o.side)
        } else if (o.price - self.mid).abs() > 30 || self.rng.next_u64() & 1 == 0 {
            self.passive(o.side)
        } else {
            let step = 1 + self.rng.below(3) as i64;
            let up = self.rng.next_u64() & 1 == 0;
            self.clamp(if up { o.price + step } else { o.price - step })
        };
        // Remove first: the order cannot meet itself, and its own level changes.
        self.model.remove(id);
        if self.model.self_match(o.account, o.side, price, o.leaves) {
            price = self.non_crossing(o.side, price);
        }
        if price == o.price {
            price = self.clamp(match o.side {
                Side::Buy => price - 1,
                Side::Sell => price + 1,
            });
        }
        self.model.execute(id, MOrder { price, ..o }, true);
        Cmd::Move {
            id,
            account: o.account,
            side: o.side,
            leaves: o.leaves,
            price,
        }
    }

    fn cancel(&mut self) -> Cmd {
        let id = self.model.live[self.rng.below(self.model.live.len() as u64) as usize];
        let o = self.model.remove(id);
        Cmd::Cancel {
            id,
            account: o.account,
        }
    }
}

/// Generates the prefill and the measured stream for `cfg`. Deterministic in `cfg`.
pub fn generate(cfg: &Config) -> Workload {
    let mut g = Gen {
        rng: Rng::new(cfg.seed),
        cfg: cfg.clone(),
        model: Model::default(),
        mid: cfg.reference,
        next_id: 1,
    };
    let mut prefill = Vec::with_capacity(cfg.resting_target);
    while g.model.live.len() < cfg.resting_target {
        let side = g.rng.side();
        let price = g.passive(side);
        let qty = 1 + g.rng.below(50);
        let account = g.account();
        let id = g.next_id;
        g.next_id += 1;
        g.model.execute(
            id,
            MOrder {
                account,
                side,
                price,
                leaves: qty,
            },
            true,
        );
        prefill.push(Cmd::New {
            id,
            account,
            side,
            price,
            qty,
            ioc: false,
        });
    }
    let mut ex = Expected {
        resting_after_prefill: g.model.live.len(),
        mid_min: g.mid,
        mid_max: g.mid,
        ..Expected::default()
    };
    let (trades0, qty0) = (g.model.trades, g.model.traded_qty);
    let mut resting_sum = 0u64;
    let mut cmds = Vec::with_capacity(cfg.commands);
    for _ in 0..cfg.commands {
        // The mid takes a one-tick step every 256 commands on average, within its band.
        if g.rng.below(256) == 0 {
            let step = if g.rng.next_u64() & 1 == 0 { 1 } else { -1 };
            g.mid = (g.mid + step).clamp(
                cfg.reference - MID_BAND_TICKS,
                cfg.reference + MID_BAND_TICKS,
            );
            ex.mid_min = ex.mid_min.min(g.mid);
            ex.mid_max = ex.mid_max.max(g.mid);
        }
        let before = g.model.trades;
        let r = g.rng.below(100);
        let live = !g.model.live.is_empty();
        let cmd = if r < 82 && live {
            ex.moves += 1;
            g.move_order()
        } else if r < 91 || !live && r < 97 {
            ex.news += 1;
            g.new_order(false)
        } else if r < 97 {
            ex.cancels += 1;
            g.cancel()
        } else {
            ex.iocs += 1;
            g.new_order(true)
        };
        if g.model.trades > before {
            ex.trading_commands += 1;
        }
        resting_sum += g.model.live.len() as u64;
        cmds.push(cmd);
    }
    ex.trades = g.model.trades - trades0;
    ex.traded_qty = g.model.traded_qty - qty0;
    ex.resting_at_end = g.model.live.len();
    ex.resting_mean = (resting_sum / cfg.commands.max(1) as u64) as usize;
    Workload {
        config: cfg.clone(),
        prefill,
        cmds,
        expected: ex,
    }
}

/// Accounts the stream uses (1..=n), for adapters that must open them.
pub fn accounts(w: &Workload) -> u32 {
    w.config.accounts
}
