//! Simulated participants for the demo and the market simulator.
//!
//! Each agent looks at a [`MarketView`] (books, reference prices, its own position) and
//! answers with commands. Agents draw their randomness from a seeded [`Rng`], so a run over
//! the same views is reproducible; driven against a live exchange the interleaving with
//! other clients depends on timing, driven against an [`Engine`] directly it is fully
//! deterministic.
//!
//! - [`MarketMaker`]: two-sided quotes around a fair value with inventory skew, moved by
//!   amendments (the bulk of an exchange's message flow).
//! - [`StripTrader`]: buying, an AI buyer locking in cost with small strips across the next
//!   months; selling, a model provider or GPU owner selling forward.
//! - [`NoiseTrader`]: random small limit and market orders.
//! - [`Momentum`]: follows the recent move.

use tokex_engine::{
    Amend, Command, Engine, NewOrder, OrderRef, OrderType, RejectCode, TimeInForce,
};
use tokex_types::{AccountId, ClientOrderId, InstrumentId, Price, Qty, Side};

/// SplitMix64: small, fast, good enough for simulated participants.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    /// True with probability `p` per mille.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// What an agent sees of one instrument.
#[derive(Clone, Debug)]
pub struct InstrumentView {
    pub id: InstrumentId,
    pub product: String,
    pub symbol: String,
    pub trading: bool,
    pub best_bid: Option<Price>,
    pub best_ask: Option<Price>,
    pub last: Option<Price>,
    pub reference: Price,
    pub lower: Price,
    pub upper: Price,
    pub order_qty_max: u64,
    /// Months from the front month (0 = front) within its product.
    pub month_index: usize,
}

impl InstrumentView {
    pub fn mid(&self) -> Price {
        match (self.best_bid, self.best_ask) {
            (Some(b), Some(a)) => Price((b.0 + a.0) / 2),
            _ => self.last.unwrap_or(self.reference),
        }
    }
    pub fn clamp(&self, p: i64) -> Price {
        Price(p.clamp(self.lower.0, self.upper.0))
    }
}

/// What an agent sees: the instruments, and its own positions.
#[derive(Clone, Debug, Default)]
pub struct MarketView {
    pub instruments: Vec<InstrumentView>,
    /// (account, instrument) → net position.
    pub positions: std::collections::BTreeMap<(AccountId, InstrumentId), i64>,
}

impl MarketView {
    /// Builds the view from the core's state (live, listed instruments only).
    pub fn from_engine(e: &Engine, accounts: &[AccountId]) -> MarketView {
        let mut v = MarketView::default();
        let mut per_product: std::collections::BTreeMap<String, usize> = Default::default();
        for i in e.instruments().filter(|i| !i.delisted) {
            let n = per_product.entry(i.spec.product.clone()).or_default();
            v.instruments.push(InstrumentView {
                id: i.spec.id,
                product: i.spec.product.clone(),
                symbol: i.spec.symbol.clone(),
                trading: i.phase == tokex_engine::Phase::Continuous,
                best_bid: i.book.best_bid(),
                best_ask: i.book.best_ask(),
                last: i.last_price,
                reference: i.reference_price,
                lower: i.lower_limit,
                upper: i.upper_limit,
                order_qty_max: i.spec.order_qty_max.0,
                month_index: *n,
            });
            *n += 1;
        }
        for &a in accounts {
            if let Some(acc) = e.account(a) {
                for (id, p) in &acc.positions {
                    v.positions.insert((a, *id), p.net);
                }
            }
        }
        v
    }

    pub fn position(&self, a: AccountId, i: InstrumentId) -> i64 {
        self.positions.get(&(a, i)).copied().unwrap_or(0)
    }
}

pub trait Agent: Send {
    fn account(&self) -> AccountId;
    /// Commands for this step.
    fn act(&mut self, view: &MarketView, rng: &mut Rng) -> Vec<Command>;
    /// One of its commands was rejected.
    fn rejected(&mut self, _cmd: &Command, _code: RejectCode) {}
}

fn limit(
    account: AccountId,
    inst: InstrumentId,
    side: Side,
    price: Price,
    qty: u64,
    tif: TimeInForce,
) -> Command {
    let mut o = NewOrder::limit(account.0, inst.0, side, price.0, qty);
    o.tif = tif;
    Command::NewOrder(o)
}

/// Quotes both sides of the front months around a fair value that mean-reverts to the
/// reference (the index-based settlement price), skewed against its inventory.
pub struct MarketMaker {
    pub account: AccountId,
    /// How many months of each product it quotes.
    pub months: usize,
    /// Half spread in ticks, and quote size in contracts.
    pub half_spread_ticks: i64,
    pub size: u64,
    /// Ticks of skew per contract of inventory.
    pub skew_per_lot: i64,
    /// Quotes believed to be working.
    quoted: std::collections::BTreeSet<(InstrumentId, bool)>,
    /// Generation of each quote's client order id (client ids are unique per day).
    generation: std::collections::BTreeMap<(InstrumentId, bool), u32>,
    /// The price each working quote was last sent at (no amendment when it would not move).
    sent: std::collections::BTreeMap<(InstrumentId, bool), Price>,
    fair: std::collections::BTreeMap<InstrumentId, i64>,
}

impl MarketMaker {
    pub fn new(
        account: AccountId,
        months: usize,
        half_spread_ticks: i64,
        size: u64,
    ) -> MarketMaker {
        MarketMaker {
            account,
            months,
            half_spread_ticks,
            size,
            skew_per_lot: 1,
            quoted: Default::default(),
            generation: Default::default(),
            sent: Default::default(),
            fair: Default::default(),
        }
    }

    fn client_id(&self, inst: InstrumentId, bid: bool) -> ClientOrderId {
        let g = self.generation.get(&(inst, bid)).copied().unwrap_or(0);
        ClientOrderId::new(&format!(
            "mm{}-{}-{}-{g}",
            self.account.0,
            inst.0,
            if bid { "b" } else { "a" }
        ))
        .expect("short id")
    }

    /// The quote behind a command of ours, if it is one.
    fn quote_of(cmd: &Command) -> Option<(InstrumentId, bool)> {
        match cmd {
            Command::Amend(a) => Some((a.instrument, a.order_side_hint()?)),
            Command::NewOrder(o) => Some((o.instrument, o.side == Side::Buy)),
            _ => None,
        }
    }
}

impl Agent for MarketMaker {
    fn account(&self) -> AccountId {
        self.account
    }

    fn act(&mut self, view: &MarketView, rng: &mut Rng) -> Vec<Command> {
        let mut out = Vec::new();
        for iv in view
            .instruments
            .iter()
            .filter(|i| i.trading && i.month_index < self.months)
        {
            let r = iv.reference.0;
            // The fair value wanders around the reference: a mean-reverting random walk.
            let f = self.fair.entry(iv.id).or_insert(r);
            let step = (r / 2000).max(1);
            *f += rng.range(-step, step) + (r - *f) / 50;
            let inv = view.position(self.account, iv.id);
            let fair = *f - inv * self.skew_per_lot * step;
            let half = self.half_spread_ticks.max(step);
            for (bid, side) in [(true, Side::Buy), (false, Side::Sell)] {
                let price = iv.clamp(if bid { fair - half } else { fair + half });
                let cid = self.client_id(iv.id, bid);
                if self.quoted.contains(&(iv.id, bid))
                    && self.sent.get(&(iv.id, bid)) == Some(&price)
                {
                    continue;
                }
                self.sent.insert((iv.id, bid), price);
                if self.quoted.contains(&(iv.id, bid)) {
                    out.push(Command::Amend(Amend {
                        account: self.account,
                        instrument: iv.id,
                        order: OrderRef::Client(cid),
                        price: Some(price),
                        qty: Some(Qty(self.size)),
                        stop_price: None,
                    }));
                } else {
                    let mut o = NewOrder::limit(self.account.0, iv.id.0, side, price.0, self.size);
                    o.client_order_id = Some(cid);
                    out.push(Command::NewOrder(o));
                    self.quoted.insert((iv.id, bid));
                }
            }
        }
        out
    }

    /// A quote that is gone (filled, cancelled, expired) or was refused is placed afresh, under
    /// a new client id, at the next step.
    fn rejected(&mut self, cmd: &Command, _code: RejectCode) {
        if let Some(q) = Self::quote_of(cmd) {
            self.quoted.remove(&q);
            self.sent.remove(&q);
            *self.generation.entry(q).or_default() += 1;
        }
    }
}

trait SideHint {
    fn order_side_hint(&self) -> Option<bool>;
}

impl SideHint for Amend {
    /// Our quotes' client ids end in `-b-N` or `-a-N`.
    fn order_side_hint(&self) -> Option<bool> {
        match self.order {
            OrderRef::Client(c) => Some(c.as_str().contains("-b-")),
            OrderRef::Id(_) => None,
        }
    }
}

/// Trades a strip of the next months now and then, taking the best opposite price: on the
/// buy side the AI buyer locking in cost (a hedger), on the sell side a model provider or GPU
/// owner locking in revenue.
pub struct StripTrader {
    pub account: AccountId,
    pub side: Side,
    pub products: Vec<String>,
    pub months: usize,
    pub per_mille: u64,
}

impl Agent for StripTrader {
    fn account(&self) -> AccountId {
        self.account
    }
    fn act(&mut self, view: &MarketView, rng: &mut Rng) -> Vec<Command> {
        if !rng.chance(self.per_mille) {
            return Vec::new();
        }
        let qty = rng.range(1, 3) as u64;
        view.instruments
            .iter()
            .filter(|i| {
                i.trading && i.month_index < self.months && self.products.contains(&i.product)
            })
            .filter_map(|i| {
                let opposite = match self.side {
                    Side::Buy => i.best_ask,
                    Side::Sell => i.best_bid,
                };
                opposite.map(|p| limit(self.account, i.id, self.side, p, qty, TimeInForce::Ioc))
            })
            .collect()
    }
}

/// Random small orders: limits near the mid (day orders) and the occasional market order.
pub struct NoiseTrader {
    pub account: AccountId,
    pub per_mille: u64,
}

impl Agent for NoiseTrader {
    fn account(&self) -> AccountId {
        self.account
    }
    fn act(&mut self, view: &MarketView, rng: &mut Rng) -> Vec<Command> {
        let live: Vec<&InstrumentView> = view
            .instruments
            .iter()
            .filter(|i| i.trading && i.month_index < 3)
            .collect();
        if live.is_empty() || !rng.chance(self.per_mille) {
            return Vec::new();
        }
        let iv = live[rng.below(live.len() as u64) as usize];
        let side = if rng.chance(500) {
            Side::Buy
        } else {
            Side::Sell
        };
        let qty = rng.range(1, 5) as u64;
        let pos = view.position(self.account, iv.id);
        // Keep inventory bounded: lean against a large position.
        let side = if pos > 20 {
            Side::Sell
        } else if pos < -20 {
            Side::Buy
        } else {
            side
        };
        if rng.chance(200) {
            let mut o = NewOrder::market(self.account.0, iv.id.0, side, qty);
            o.order_type = OrderType::Market;
            return vec![Command::NewOrder(o)];
        }
        let step = (iv.reference.0 / 1000).max(1);
        let off = rng.range(-3, 3) * step;
        let p = iv.clamp(
            iv.mid().0
                + if side == Side::Buy {
                    -off.abs()
                } else {
                    off.abs()
                },
        );
        vec![limit(self.account, iv.id, side, p, qty, TimeInForce::Gfd)]
    }
}

/// Buys after a rise and sells after a fall of the last price, with IOC orders.
pub struct Momentum {
    pub account: AccountId,
    last_seen: std::collections::BTreeMap<InstrumentId, Price>,
}

impl Momentum {
    pub fn new(account: AccountId) -> Momentum {
        Momentum {
            account,
            last_seen: Default::default(),
        }
    }
}

impl Agent for Momentum {
    fn account(&self) -> AccountId {
        self.account
    }
    fn act(&mut self, view: &MarketView, rng: &mut Rng) -> Vec<Command> {
        let mut out = Vec::new();
        for iv in view
            .instruments
            .iter()
            .filter(|i| i.trading && i.month_index == 0)
        {
            let Some(last) = iv.last else { continue };
            let prev = self.last_seen.insert(iv.id, last);
            let pos = view.position(self.account, iv.id);
            match prev {
                Some(p) if last > p && pos < 10 && rng.chance(300) => {
                    if let Some(a) = iv.best_ask {
                        out.push(limit(
                            self.account,
                            iv.id,
                            Side::Buy,
                            a,
                            1,
                            TimeInForce::Ioc,
                        ));
                    }
                }
                Some(p) if last < p && pos > -10 && rng.chance(300) => {
                    if let Some(b) = iv.best_bid {
                        out.push(limit(
                            self.account,
                            iv.id,
                            Side::Sell,
                            b,
                            1,
                            TimeInForce::Ioc,
                        ));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// The demo's cast: `n_mm` market makers from account `first`, then hedgers, providers,
/// noise and momentum traders. Returns the agents and every account they use.
pub fn demo_population(first: u32, n_mm: u32) -> Vec<Box<dyn Agent>> {
    let mut v: Vec<Box<dyn Agent>> = Vec::new();
    let mut id = first;
    let mut next = || {
        let a = AccountId(id);
        id += 1;
        a
    };
    for k in 0..n_mm {
        v.push(Box::new(MarketMaker::new(
            next(),
            6,
            2 + k as i64,
            5 + 5 * k as u64,
        )));
    }
    let tokens = vec!["TKF".to_string(), "TKS".to_string(), "TKE".to_string()];
    v.push(Box::new(StripTrader {
        account: next(),
        side: Side::Buy,
        products: tokens.clone(),
        months: 6,
        per_mille: 60,
    }));
    v.push(Box::new(StripTrader {
        account: next(),
        side: Side::Buy,
        products: vec!["TKC".into(), "GPU".into()],
        months: 4,
        per_mille: 40,
    }));
    v.push(Box::new(StripTrader {
        account: next(),
        side: Side::Sell,
        products: tokens,
        months: 6,
        per_mille: 50,
    }));
    v.push(Box::new(StripTrader {
        account: next(),
        side: Side::Sell,
        products: vec!["GPU".into(), "TKC".into()],
        months: 4,
        per_mille: 40,
    }));
    for _ in 0..3 {
        v.push(Box::new(NoiseTrader {
            account: next(),
            per_mille: 400,
        }));
    }
    v.push(Box::new(Momentum::new(next())));
    v
}
