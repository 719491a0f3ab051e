//! Random flows through clearing and risk, checked after every command against a naive
//! reference ledger written independently of the engine.
//!
//! The ledger knows only the commands, the trades the engine reports, and the specs. From
//! them it computes, its own way: fees (per contract, maker or taker, from the spec), the
//! settlement price (VWAP of the day's trades, rounded half away from zero, else the previous
//! settlement), variation margin (opening position × price change + each trade's signed
//! quantity × (settle − trade price)), the final settlement price (mean of the month's fixings
//! of the underlying, rounded to the tick), the cash of every account, every position, and the
//! equity that a default leaves (which the insurance fund must pay exactly). The engine keeps
//! a single running basis per position instead; the two must agree to the cent.
//!
//! After every command: `check_invariants()`; cash and positions equal the ledger's; position
//! limits hold; a rejected command emits nothing and leaves `state_hash()` unchanged; every
//! 16 commands the engine is snapshotted, restored, and continues from the restored copy with
//! the same hash.

use chrono::NaiveDate;
use proptest::prelude::*;
use std::collections::BTreeMap;
use tokex_engine::*;
use tokex_types::*;

/// 2026-06-01: no contract here is in its spot month.
const T: Timestamp = Timestamp(1_780_272_000_000_000_000);
const FUND: u32 = 9;
const UNKNOWN: u32 = 50;
const INSTRUMENTS_MAX: u32 = 6;
const ALL_MONTHS_LIMIT: u64 = 40;

/// Instrument `id`: even ids are USD (`TEST`, on TPI-F, thin margin so that defaults happen),
/// odd ids CNY (`TKC`, on TPI-CN, tick value 10.00 CNY). Months run Dec 2026, Jan 2027, ...
fn spec(id: u32) -> InstrumentSpec {
    let mut s = InstrumentSpec::for_tests(id, 1000);
    let k = id / 2;
    s.year = 2026 + (11 + k as i32) / 12;
    s.month = (11 + k) % 12 + 1;
    s.symbol = format!("I{id}");
    s.position_limit_all_months = ALL_MONTHS_LIMIT;
    s.order_qty_max = Qty(25);
    if id.is_multiple_of(2) {
        s.initial_margin_bps = 500;
        s.maintenance_margin_bps = 300;
        s.fee_maker_minor = -10; // a rebate
        s.fee_taker_minor = 40;
    } else {
        s.currency = Currency::Cny;
        s.product = "TKC".into();
        s.underlying = "TPI-CN".into();
        s.tick_value_minor = 1_000;
        s.fee_maker_minor = 25;
        s.fee_taker_minor = 75;
    }
    s
}

#[derive(Clone, Debug)]
enum Op {
    Deposit {
        acct: u8,
        cny: bool,
        amount: i64,
    },
    Withdraw {
        acct: u8,
        cny: bool,
        amount: i64,
    },
    Order {
        acct: u8,
        inst: u8,
        buy: bool,
        kind: u8,
        off: i64,
        qty: u64,
    },
    Cancel {
        pick: u16,
        wrong_account: bool,
    },
    Settle,
    Fixing {
        cny: bool,
        day: u16,
        value: i64,
    },
    Expire {
        inst: u8,
    },
    List,
    Deadline,
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), any::<bool>(), prop_oneof![9 => 1i64..400_000, 1 => -5i64..=0])
            .prop_map(|(acct, cny, amount)| Op::Deposit { acct, cny, amount }),
        3 => (any::<u8>(), any::<bool>(), prop_oneof![9 => 1i64..300_000, 1 => -5i64..=0])
            .prop_map(|(acct, cny, amount)| Op::Withdraw { acct, cny, amount }),
        40 => (any::<u8>(), any::<u8>(), any::<bool>(), 0u8..3, -110i64..=110, 1u64..=27)
            .prop_map(|(acct, inst, buy, kind, off, qty)| Op::Order { acct, inst, buy, kind, off, qty }),
        6 => (any::<u16>(), prop::bool::weighted(0.1))
            .prop_map(|(pick, wrong_account)| Op::Cancel { pick, wrong_account }),
        5 => Just(Op::Settle),
        4 => (any::<bool>(), 0u16..75, prop_oneof![9 => 700_000i64..1_300_000, 1 => -10i64..=0])
            .prop_map(|(cny, day, value)| Op::Fixing { cny, day, value }),
        1 => any::<u8>().prop_map(|inst| Op::Expire { inst }),
        1 => Just(Op::List),
        2 => Just(Op::Deadline),
        3 => Just(Op::Sweep),
    ]
}

fn round_half_away(n: i128, d: i128) -> i128 {
    assert!(d > 0);
    let q = n.abs() / d;
    let r = n.abs() % d;
    let q = if 2 * r >= d { q + 1 } else { q };
    if n < 0 {
        -q
    } else {
        q
    }
}

// ----- the naive reference ledger ----------------------------------------------------------

struct RInst {
    spec: InstrumentSpec,
    /// Previous settlement price (ticks).
    prev: i64,
    /// Today's trades (price, qty), for the VWAP.
    day: Vec<(i64, u64)>,
    last: Option<i64>,
    delisted: bool,
}

#[derive(Default, Clone)]
struct RPos {
    /// Net position at the last settlement.
    start: i64,
    /// Trades since: (signed qty, price).
    trades: Vec<(i64, i64)>,
}

impl RPos {
    fn net(&self) -> i64 {
        self.start + self.trades.iter().map(|t| t.0).sum::<i64>()
    }
    /// Variation margin in ticks if marked at `price` against the previous settlement.
    fn vm_ticks(&self, prev: i64, price: i64) -> i128 {
        self.start as i128 * (price - prev) as i128
            + self
                .trades
                .iter()
                .map(|&(q, p)| q as i128 * (price - p) as i128)
                .sum::<i128>()
    }
}

#[derive(Default)]
struct Ledger {
    insts: Vec<RInst>,
    cash: BTreeMap<u32, [i64; 2]>,
    pos: BTreeMap<(u32, u32), RPos>,
    fees: [i64; 2],
    net_deposits: [i64; 2],
    fixings: BTreeMap<(String, NaiveDate), i64>,
    /// Fees expected for the last trade: (trade id, buy fee, sell fee).
    last_fees: Option<(u64, i64, i64)>,
}

impl Ledger {
    fn list(&mut self, s: InstrumentSpec) {
        self.insts.push(RInst {
            prev: s.initial_reference_price.0,
            spec: s,
            day: Vec::new(),
            last: None,
            delisted: false,
        });
    }

    fn cash_mut(&mut self, a: u32) -> &mut [i64; 2] {
        self.cash.entry(a).or_insert([0; 2])
    }

    #[allow(clippy::too_many_arguments)]
    fn trade(
        &mut self,
        id: u64,
        inst: u32,
        price: i64,
        qty: u64,
        buyer: u32,
        seller: u32,
        buyer_maker: bool,
        seller_maker: bool,
    ) {
        let i = &mut self.insts[inst as usize];
        assert!(!i.delisted, "trade in a delisted instrument");
        let (fm, ft, cur) = (
            i.spec.fee_maker_minor,
            i.spec.fee_taker_minor,
            i.spec.currency.index(),
        );
        i.day.push((price, qty));
        i.last = Some(price);
        let fee = |maker: bool| if maker { fm } else { ft } * qty as i64;
        let (bf, sf) = (fee(buyer_maker), fee(seller_maker));
        self.cash_mut(buyer)[cur] -= bf;
        self.cash_mut(seller)[cur] -= sf;
        self.fees[cur] += bf + sf;
        self.last_fees = Some((id, bf, sf));
        let q = qty as i64;
        self.pos
            .entry((buyer, inst))
            .or_default()
            .trades
            .push((q, price));
        self.pos
            .entry((seller, inst))
            .or_default()
            .trades
            .push((-q, price));
    }

    /// Settles every live instrument; returns (settle prices, VM by (account, instrument)).
    #[allow(clippy::type_complexity)]
    fn settle(&mut self) -> (BTreeMap<u32, (i64, u64, u64)>, BTreeMap<(u32, u32), i64>) {
        let mut prices = BTreeMap::new();
        let mut vms = BTreeMap::new();
        for (ix, i) in self.insts.iter_mut().enumerate() {
            if i.delisted {
                continue;
            }
            let ix = ix as u32;
            let vol: u64 = i.day.iter().map(|d| d.1).sum();
            let turnover: i128 = i.day.iter().map(|&(p, q)| p as i128 * q as i128).sum();
            let s = if vol > 0 {
                round_half_away(turnover, vol as i128) as i64
            } else {
                i.prev
            };
            let mut oi = 0u64;
            let mut sum = 0i128;
            let cur = i.spec.currency.index();
            for ((a, _), p) in self.pos.iter_mut().filter(|((_, n), _)| *n == ix) {
                let ticks = p.vm_ticks(i.prev, s);
                sum += ticks;
                let vm = (ticks * i.spec.tick_value_minor as i128) as i64;
                let net = p.net();
                if vm != 0 || net != 0 {
                    vms.insert((*a, ix), vm);
                }
                self.cash.entry(*a).or_insert([0; 2])[cur] += vm;
                oi += net.max(0) as u64;
                *p = RPos {
                    start: net,
                    trades: Vec::new(),
                };
            }
            assert_eq!(sum, 0, "reference VM of {ix} does not sum to zero");
            prices.insert(ix, (s, vol, oi));
            i.prev = s;
            i.day.clear();
            i.last = None;
        }
        self.pos.retain(|_, p| p.start != 0);
        (prices, vms)
    }

    fn final_price(&self, inst: u32) -> (i64, u32) {
        let s = &self.insts[inst as usize].spec;
        let vals: Vec<i64> = self
            .fixings
            .iter()
            .filter(|((ix, d), _)| {
                use chrono::Datelike;
                *ix == s.underlying && d.year() == s.year && d.month() == s.month
            })
            .map(|(_, v)| *v)
            .collect();
        if vals.is_empty() {
            return (self.insts[inst as usize].prev, 0);
        }
        // tick 0.001 = 1,000 millionths.
        let sum: i128 = vals.iter().map(|v| *v as i128).sum();
        (
            round_half_away(sum, vals.len() as i128 * 1_000) as i64,
            vals.len() as u32,
        )
    }

    fn expire(&mut self, inst: u32) -> (i64, u32, BTreeMap<u32, i64>) {
        let (fsp, n) = self.final_price(inst);
        let i = &mut self.insts[inst as usize];
        let cur = i.spec.currency.index();
        let mut vms = BTreeMap::new();
        let mut sum = 0i128;
        let keys: Vec<(u32, u32)> = self.pos.keys().filter(|k| k.1 == inst).copied().collect();
        for k in keys {
            let p = self.pos.remove(&k).unwrap();
            let ticks = p.vm_ticks(i.prev, fsp);
            sum += ticks;
            let vm = (ticks * i.spec.tick_value_minor as i128) as i64;
            if vm != 0 || p.net() != 0 {
                vms.insert(k.0, vm);
            }
            self.cash.entry(k.0).or_insert([0; 2])[cur] += vm;
        }
        assert_eq!(sum, 0);
        i.delisted = true;
        i.prev = fsp;
        (fsp, n, vms)
    }

    /// Cash plus today's mark-to-market at the last trade price (else the previous settlement).
    fn equity(&self, a: u32, cur: Currency) -> i128 {
        let mut e = self.cash.get(&a).map_or(0, |c| c[cur.index()]) as i128;
        for ((acct, ix), p) in &self.pos {
            let i = &self.insts[*ix as usize];
            if *acct == a && i.spec.currency == cur && !i.delisted {
                e += p.vm_ticks(i.prev, i.last.unwrap_or(i.prev)) * i.spec.tick_value_minor as i128;
            }
        }
        e
    }

    fn net(&self, a: u32, inst: u32) -> i64 {
        self.pos.get(&(a, inst)).map_or(0, |p| p.net())
    }
}

// ----- the harness ---------------------------------------------------------------------------

struct World {
    e: Engine,
    r: Ledger,
    traders: u32,
    /// Orders seen resting: (order id, account, instrument).
    resting: Vec<(OrderId, u32, u32)>,
    seq: u64,
}

impl World {
    fn new(traders: u32) -> World {
        let mut w = World {
            e: Engine::new(),
            r: Ledger::default(),
            traders,
            resting: Vec::new(),
            seq: 0,
        };
        for a in 1..=traders {
            w.e.open_account(a, Role::Trader);
            w.r.cash_mut(a);
        }
        w.e.open_account(FUND, Role::InsuranceFund);
        w.r.cash_mut(FUND);
        w.list();
        w.list();
        w.e.check_invariants().unwrap();
        w
    }

    fn list(&mut self) {
        let id = self.e.instrument_count() as u32;
        let s = spec(id);
        for c in [
            Command::ListInstrument(Box::new(s.clone())),
            Command::SetPhase {
                instrument: InstrumentId(id),
                phase: Phase::Continuous,
            },
        ] {
            assert!(self.e.apply(0, T, &c).result.is_ok());
        }
        self.r.list(s);
    }

    fn account(&self, acct: u8) -> u32 {
        match acct as u32 % (self.traders + 2) {
            n if n < self.traders => n + 1,
            n if n == self.traders => FUND,
            _ => UNKNOWN,
        }
    }

    fn command(&mut self, op: &Op) -> Option<Command> {
        let cur = |cny: bool| if cny { Currency::Cny } else { Currency::Usd };
        let n = self.e.instrument_count() as u32;
        Some(match *op {
            Op::Deposit { acct, cny, amount } => Command::Deposit {
                account: AccountId(self.account(acct)),
                currency: cur(cny),
                amount: Money(if cny { amount * 10 } else { amount }),
            },
            Op::Withdraw { acct, cny, amount } => Command::Withdraw {
                account: AccountId(self.account(acct)),
                currency: cur(cny),
                amount: Money(if cny { amount * 10 } else { amount }),
            },
            Op::Order {
                acct,
                inst,
                buy,
                kind,
                off,
                qty,
            } => {
                let ix = inst as u32 % n;
                let reference = self
                    .e
                    .instrument(InstrumentId(ix))
                    .unwrap()
                    .reference_price
                    .0;
                let side = if buy { Side::Buy } else { Side::Sell };
                let a = self.account(acct);
                let o = match kind {
                    0 => NewOrder::limit(a, ix, side, reference + off, qty),
                    1 => NewOrder::market(a, ix, side, qty),
                    _ => NewOrder::limit(a, ix, side, reference + off, qty)
                        .with_tif(TimeInForce::Ioc),
                };
                Command::NewOrder(o)
            }
            Op::Cancel {
                pick,
                wrong_account,
            } => {
                if self.resting.is_empty() {
                    return None;
                }
                let (id, a, ix) = self.resting[pick as usize % self.resting.len()];
                let a = if wrong_account {
                    a % self.traders + 1
                } else {
                    a
                };
                Command::Cancel(Cancel {
                    account: AccountId(a),
                    instrument: InstrumentId(ix),
                    order: OrderRef::Id(id),
                })
            }
            Op::Settle => Command::DailySettlement,
            Op::Fixing { cny, day, value } => Command::IndexFixing {
                index: if cny { "TPI-CN" } else { "TPI-F" }.into(),
                date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
                    + chrono::Days::new(day as u64),
                value_e6: value,
            },
            Op::Expire { inst } => Command::Expire {
                instrument: InstrumentId(inst as u32 % n),
            },
            Op::List => {
                if n >= INSTRUMENTS_MAX {
                    return None;
                }
                self.list();
                return None;
            }
            Op::Deadline => Command::MarginCallDeadline,
            Op::Sweep => Command::RiskSweep,
        })
    }

    /// Applies one op (if it makes a command) with every check; returns the events.
    fn step(&mut self, op: &Op) -> Vec<Event> {
        let Some(cmd) = self.command(op) else {
            self.e.check_invariants().unwrap();
            return Vec::new();
        };
        let before = self.e.state_hash();
        self.seq += 1;
        let out = self.e.apply(self.seq, T, &cmd);
        if let Err(m) = self.e.check_invariants() {
            panic!(
                "invariant broken after {cmd:?}: {m}\nevents: {:?}",
                out.events
            );
        }
        if let Err(rej) = &out.result {
            assert!(
                out.events.is_empty(),
                "{cmd:?} rejected ({rej}) but emitted events"
            );
            assert_eq!(
                self.e.state_hash(),
                before,
                "{cmd:?} rejected ({rej}) but changed the state"
            );
            return Vec::new();
        }
        self.mirror(&cmd, &out.events);
        self.compare(&cmd);
        if self.seq.is_multiple_of(16) {
            let h = self.e.state_hash();
            let restored = Engine::restore(&self.e.snapshot()).expect("restore");
            assert_eq!(
                restored.state_hash(),
                h,
                "snapshot → restore changed the hash"
            );
            restored.check_invariants().unwrap();
            self.e = restored;
        }
        out.events
    }

    /// Feeds an accepted command and its events to the ledger, checking what the engine said.
    fn mirror(&mut self, cmd: &Command, events: &[Event]) {
        match cmd {
            Command::Deposit {
                account,
                currency,
                amount,
            } => {
                self.r.cash_mut(account.0)[currency.index()] += amount.0;
                self.r.net_deposits[currency.index()] += amount.0;
            }
            Command::Withdraw {
                account,
                currency,
                amount,
            } => {
                self.r.cash_mut(account.0)[currency.index()] -= amount.0;
                self.r.net_deposits[currency.index()] -= amount.0;
            }
            Command::IndexFixing {
                index,
                date,
                value_e6,
            } => {
                self.r.fixings.insert((index.clone(), *date), *value_e6);
            }
            Command::DailySettlement => {
                let (prices, vms) = self.r.settle();
                let mut seen = BTreeMap::new();
                let mut settled = BTreeMap::new();
                for ev in events {
                    match ev {
                        Event::VariationMargin {
                            account,
                            instrument,
                            amount,
                            position,
                        } => {
                            assert_eq!(*position, self.r.net(account.0, instrument.0));
                            seen.insert((account.0, instrument.0), amount.0);
                        }
                        Event::Settled {
                            instrument,
                            price,
                            volume,
                            open_interest,
                            ..
                        } => {
                            settled.insert(instrument.0, (price.0, volume.0, *open_interest));
                        }
                        _ => {}
                    }
                }
                assert_eq!(
                    settled, prices,
                    "settlement prices / volumes / open interest"
                );
                assert_eq!(seen, vms, "variation margin");
                for (ix, (p, _, _)) in &prices {
                    assert_eq!(
                        self.e
                            .instrument(InstrumentId(*ix))
                            .unwrap()
                            .reference_price
                            .0,
                        *p
                    );
                }
            }
            Command::Expire { instrument } => {
                let (fsp, n, vms) = self.r.expire(instrument.0);
                let mut seen = BTreeMap::new();
                for ev in events {
                    match ev {
                        Event::VariationMargin {
                            account, amount, ..
                        } => {
                            seen.insert(account.0, amount.0);
                        }
                        Event::Expired {
                            final_price,
                            fixings,
                            ..
                        } => {
                            assert_eq!(
                                (final_price.0, *fixings),
                                (fsp, n),
                                "final settlement price"
                            );
                        }
                        Event::Trade { .. } => panic!("a trade at expiry"),
                        _ => {}
                    }
                }
                assert_eq!(seen, vms, "final settlement amounts");
                self.resting.retain(|r| r.2 != instrument.0);
            }
            _ => {}
        }
        for ev in events {
            match ev {
                Event::Trade {
                    trade_id,
                    instrument,
                    price,
                    qty,
                    aggressor,
                    buy_account,
                    sell_account,
                    maker_side,
                    ..
                } => {
                    let (bm, sm) = match aggressor {
                        None => (true, true),
                        Some(_) => (*maker_side == Side::Buy, *maker_side == Side::Sell),
                    };
                    self.r.trade(
                        *trade_id,
                        instrument.0,
                        price.0,
                        qty.0,
                        buy_account.0,
                        sell_account.0,
                        bm,
                        sm,
                    );
                }
                Event::FeesCharged {
                    trade_id,
                    buy_fee,
                    sell_fee,
                    ..
                } => {
                    assert_eq!(
                        self.r.last_fees,
                        Some((*trade_id, buy_fee.0, sell_fee.0)),
                        "fees"
                    );
                }
                Event::DefaultCovered {
                    account,
                    currency,
                    amount,
                    fund_balance,
                } => {
                    let eq = self.r.equity(account.0, *currency);
                    assert!(
                        self.r
                            .pos
                            .iter()
                            .all(|((a, _), p)| *a != account.0 || p.net() == 0),
                        "a default covered before the account was flat"
                    );
                    assert_eq!(
                        amount.0 as i128, -eq,
                        "the fund must pay exactly the negative equity"
                    );
                    self.r.cash_mut(account.0)[currency.index()] += amount.0;
                    self.r.cash_mut(FUND)[currency.index()] -= amount.0;
                    assert_eq!(fund_balance.0, self.r.cash[&FUND][currency.index()]);
                }
                Event::OrderRested {
                    order_id,
                    instrument,
                    ..
                } => {
                    let a = events.iter().find_map(|e| match e {
                        Event::OrderAccepted {
                            order_id: o,
                            account,
                            ..
                        } if o == order_id => Some(account.0),
                        _ => None,
                    });
                    if let Some(a) = a {
                        self.resting.push((*order_id, a, instrument.0));
                    }
                }
                _ => {}
            }
        }
        if self.resting.len() > 400 {
            self.resting.drain(..200);
        }
    }

    /// The engine's cash and positions equal the ledger's; limits hold.
    fn compare(&self, cmd: &Command) {
        for (&a, cash) in &self.r.cash {
            let acct = self.e.account(AccountId(a)).unwrap();
            assert_eq!(acct.cash, *cash, "cash of account {a} after {cmd:?}");
            let mut per_product: BTreeMap<&str, u64> = BTreeMap::new();
            for (id, p) in &acct.positions {
                assert_eq!(
                    p.net,
                    self.r.net(a, id.0),
                    "position of {a} in {} after {cmd:?}",
                    id.0
                );
                let i = &self.r.insts[id.0 as usize];
                *per_product.entry(&i.spec.product).or_default() += p.net.unsigned_abs();
            }
            for ((ra, ix), p) in &self.r.pos {
                if *ra == a && p.net() != 0 {
                    assert!(
                        acct.positions.contains_key(&InstrumentId(*ix)),
                        "engine lost a position"
                    );
                }
            }
            for (product, n) in per_product {
                assert!(n <= ALL_MONTHS_LIMIT, "account {a} holds {n} of {product}");
            }
            assert!(acct.working_orders <= tokex_types::limits::ORDERS_PER_ACCOUNT_MAX);
            if a == FUND {
                assert!(
                    acct.positions.is_empty(),
                    "the insurance fund holds a position"
                );
            }
        }
        for c in Currency::ALL {
            let cash: i64 = self.r.cash.values().map(|v| v[c.index()]).sum();
            assert_eq!(
                cash + self.r.fees[c.index()],
                self.r.net_deposits[c.index()]
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn clearing_matches_the_reference_ledger(traders in 3u32..=6, ops in prop::collection::vec(op(), 1..300)) {
        let mut w = World::new(traders);
        for op in &ops {
            w.step(op);
        }
    }
}

/// A fixed long flow (a hand-seeded xorshift) whose prices drift up and down far enough to
/// reach margin calls, liquidations and defaults, so the test does not depend on proptest
/// finding them.
#[test]
fn a_long_flow_reaches_liquidations_and_defaults() {
    let mut w = World::new(4);
    let (mut calls, mut liquidations, mut defaults) = (0, 0, 0);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for a in 0..4u8 {
        w.step(&Op::Deposit {
            acct: a,
            cny: false,
            amount: 60_000,
        });
        w.step(&Op::Deposit {
            acct: a,
            cny: true,
            amount: 60_000,
        });
    }
    w.step(&Op::Deposit {
        acct: 4,
        cny: false,
        amount: 1_000_000,
    });
    for round in 0..12_000u64 {
        let r = next();
        // Cycles of 400 commands: 300 of calm trading around the reference with settlements,
        // sweeps and deadlines, then 100 of a one-way run towards the price limit with no
        // sweep until its end, so that some positions lose more than their margin.
        let (cycle, t) = (round / 400, round % 400);
        let order = |off: i64| Op::Order {
            acct: ((r >> 8) % 4) as u8,
            inst: ((r >> 16) % 2) as u8,
            buy: (r >> 24) & 1 == 0,
            kind: ((r >> 25) % 3) as u8,
            off,
            qty: 1 + (r >> 40) % 10,
        };
        let op = if t >= 300 {
            let dir = if cycle.is_multiple_of(2) { -1 } else { 1 };
            match t {
                399 => Op::Sweep,
                _ => order(dir * (40 + ((r >> 32) % 60) as i64)),
            }
        } else {
            match r % 100 {
                0..=87 => order(((r >> 32) % 30) as i64 - 15),
                88..=91 => Op::Settle,
                92..=94 => Op::Sweep,
                95..=96 => Op::Deadline,
                _ => Op::Deposit {
                    acct: ((r >> 8) % 4) as u8,
                    cny: r & 1 == 0,
                    amount: 20_000,
                },
            }
        };
        for ev in w.step(&op) {
            match ev {
                Event::MarginCall { .. } => calls += 1,
                Event::LiquidationStarted { .. } => liquidations += 1,
                Event::DefaultCovered { .. } => defaults += 1,
                _ => {}
            }
        }
    }
    eprintln!("margin calls {calls}, liquidations {liquidations}, defaults {defaults}");
    assert!(calls > 0 && liquidations > 0 && defaults > 0);
}
