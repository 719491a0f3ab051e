//! Random command streams through the engine and the reference model; every answer and event
//! must agree, the engine's invariants must hold after every command, a rejected command must
//! leave the state hash unchanged, and snapshot → restore must keep the hash.
//!
//! Sized for CI: `PROPTEST_CASES` (default 512) cases of up to 160 commands each.

use proptest::prelude::*;
use tokex_engine::{
    Amend, Cancel, Command, Event, MassCancel, NewOrder, OrderRef, OrderType, Phase, Role, StpMode,
    TimeInForce,
};
use tokex_testkit::{Pair, Quirks};
use tokex_types::{
    AccountId, ClientOrderId, Currency, InstrumentId, InstrumentSpec, Money, OrderId, Price, Qty,
    Side, Timestamp, TradePriceRule,
};

const SEC: u64 = 1_000_000_000;

/// One generated step: how far the clock moves, whether a `Tick` goes first, the command.
#[derive(Clone, Debug)]
struct Step {
    dt: u64,
    tick_first: bool,
    op: Op,
}

#[derive(Clone, Debug)]
enum Op {
    New(NewOrder),
    /// GTD expiry relative to the current time.
    NewGtd(NewOrder, u64),
    Amend(Amend),
    Cancel(Cancel),
    Mass(MassCancel),
    Phase(u32, Phase),
    Halt(u32),
    Resume(u32, u64),
    Eod(u32),
    Tick,
}

#[derive(Clone, Debug)]
struct Setup {
    rules: [TradePriceRule; 2],
    cb: [bool; 2],
    start: [Phase; 2],
}

fn account() -> impl Strategy<Value = u32> {
    // 1-3 trade (three self-match modes), 4 is an operator, 9 does not exist.
    prop_oneof![10 => 1u32..=3, 1 => Just(4u32), 1 => Just(9u32)]
}

fn instrument() -> impl Strategy<Value = u32> {
    prop_oneof![10 => 0u32..=1, 1 => Just(2u32)]
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

/// Prices around the reference 1000; the daily limits are 990..=1010.
fn price() -> impl Strategy<Value = Price> {
    prop_oneof![20 => 994i64..=1006, 3 => 988i64..=1012, 1 => Just(0i64)].prop_map(Price)
}

fn qty() -> impl Strategy<Value = Qty> {
    prop_oneof![20 => 1u64..=12, 1 => Just(0u64), 1 => Just(60u64)].prop_map(Qty)
}

fn client_id() -> impl Strategy<Value = Option<ClientOrderId>> {
    prop_oneof![3 => Just(None), 1 => (0u8..6).prop_map(|i| ClientOrderId::new(&format!("c{i}")))]
}

fn stp() -> impl Strategy<Value = Option<StpMode>> {
    prop_oneof![
        6 => Just(None),
        1 => Just(Some(StpMode::CancelResting)),
        1 => Just(Some(StpMode::CancelAggressing)),
        1 => Just(Some(StpMode::CancelBoth)),
    ]
}

fn tif() -> impl Strategy<Value = TimeInForce> {
    prop_oneof![
        6 => Just(TimeInForce::Gtc),
        3 => Just(TimeInForce::Gfd),
        2 => Just(TimeInForce::Gtd(Timestamp(0))), // replaced by a relative expiry
        3 => Just(TimeInForce::Ioc),
        2 => Just(TimeInForce::Fok),
    ]
}

fn order_type() -> impl Strategy<Value = OrderType> {
    prop_oneof![
        12 => Just(OrderType::Limit),
        3 => Just(OrderType::Market),
        2 => Just(OrderType::StopLimit),
        2 => Just(OrderType::StopMarket),
    ]
}

fn new_order() -> impl Strategy<Value = Op> {
    (
        (account(), instrument(), client_id(), side(), order_type()),
        (price(), price(), qty(), tif(), 0u64..3 * SEC),
        (
            prop::option::weighted(0.15, 1u64..=8),
            prop::option::weighted(0.15, 1u64..=6),
            prop::bool::weighted(0.1),
            stp(),
        ),
    )
        .prop_map(
            |((a, i, cl, side, ty), (px, sp, q, tif, gtd), (min, display, post, stp))| {
                let limit_like = matches!(ty, OrderType::Limit | OrderType::StopLimit);
                let stop = matches!(ty, OrderType::StopLimit | OrderType::StopMarket);
                let tif = match (ty, tif) {
                    // Mostly valid combinations, so orders reach the book.
                    (OrderType::Market, TimeInForce::Gtc | TimeInForce::Gfd) => TimeInForce::Ioc,
                    (OrderType::StopLimit | OrderType::StopMarket, TimeInForce::Ioc) => {
                        TimeInForce::Gtc
                    }
                    (_, t) => t,
                };
                let o = NewOrder {
                    account: AccountId(a),
                    instrument: InstrumentId(i),
                    client_order_id: cl,
                    side,
                    order_type: ty,
                    price: limit_like.then_some(px),
                    stop_price: stop.then_some(sp),
                    qty: q,
                    tif,
                    min_qty: min.map(Qty),
                    display_qty: display.map(Qty),
                    post_only: post,
                    stp,
                };
                if matches!(tif, TimeInForce::Gtd(_)) {
                    Op::NewGtd(o, gtd)
                } else {
                    Op::New(o)
                }
            },
        )
}

fn order_ref() -> impl Strategy<Value = OrderRef> {
    prop_oneof![
        4 => (1u64..=70).prop_map(|i| OrderRef::Id(OrderId(i))),
        1 => (0u8..6).prop_map(|i| OrderRef::Client(ClientOrderId::new(&format!("c{i}")).unwrap())),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => new_order(),
        8 => (account(), instrument(), order_ref(), prop::option::weighted(0.5, price()),
              prop::option::weighted(0.6, qty()), prop::option::weighted(0.15, price()))
            .prop_map(|(a, i, r, px, q, sp)| Op::Amend(Amend {
                account: AccountId(a), instrument: InstrumentId(i), order: r,
                price: px, qty: q, stop_price: sp,
            })),
        6 => (account(), instrument(), order_ref()).prop_map(|(a, i, r)| Op::Cancel(Cancel {
                account: AccountId(a), instrument: InstrumentId(i), order: r,
            })),
        1 => (prop::option::of(account()), prop::option::of(instrument()),
              prop::option::weighted(0.2, prop_oneof![Just("TEST".to_string()), Just("OTHER".to_string())]),
              prop::option::of(side()))
            .prop_map(|(a, i, p, s)| Op::Mass(MassCancel {
                account: a.map(AccountId), instrument: i.map(InstrumentId), product: p, side: s,
            })),
        4 => (instrument(), prop_oneof![
                1 => Just(Phase::Closed), 1 => Just(Phase::PreOpen), 3 => Just(Phase::Continuous),
                1 => Just(Phase::Break), 1 => Just(Phase::Halted)])
            .prop_map(|(i, p)| Op::Phase(i, p)),
        1 => instrument().prop_map(Op::Halt),
        1 => (instrument(), prop_oneof![Just(0u64), 1..3 * SEC]).prop_map(|(i, t)| Op::Resume(i, t)),
        1 => instrument().prop_map(Op::Eod),
        2 => Just(Op::Tick),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![6 => Just(0u64), 2 => 1u64..SEC, 1 => SEC..4 * SEC],
        any::<bool>(),
        op(),
    )
        .prop_map(|(dt, tick_first, op)| Step { dt, tick_first, op })
}

fn setup() -> impl Strategy<Value = Setup> {
    let rule = prop_oneof![
        Just(TradePriceRule::Resting),
        Just(TradePriceRule::ShfeMedian)
    ];
    let start = prop_oneof![2 => Just(Phase::Continuous), 1 => Just(Phase::PreOpen)];
    (
        rule.clone(),
        rule,
        any::<bool>(),
        any::<bool>(),
        start.clone(),
        start,
    )
        .prop_map(|(r0, r1, c0, c1, s0, s1)| Setup {
            rules: [r0, r1],
            cb: [c0, c1],
            start: [s0, s1],
        })
}

fn spec(id: u32, rule: TradePriceRule, cb: bool) -> InstrumentSpec {
    let mut s = InstrumentSpec::for_tests(id, 1000);
    s.price_limit_bps = 100; // limits 990..=1010
    s.order_qty_max = Qty(50);
    s.market_protection_ticks = 3;
    s.trade_price_rule = rule;
    if cb {
        s.cb_ticks = 4;
        s.cb_window_ns = 2 * SEC;
        s.cb_auction_ns = SEC;
    }
    s
}

fn run(setup: &Setup, steps: &[Step], quirks: Quirks) -> Result<(), String> {
    let mut p = Pair::with_quirks(quirks);
    p.restore_every = 7;
    let mut t = SEC;
    for i in 0..2u32 {
        let cmd = Command::ListInstrument(Box::new(spec(
            i,
            setup.rules[i as usize],
            setup.cb[i as usize],
        )));
        p.step(Timestamp(t), &cmd)?;
    }
    let modes = [
        StpMode::CancelResting,
        StpMode::CancelAggressing,
        StpMode::CancelBoth,
    ];
    for (k, mode) in modes.into_iter().enumerate() {
        let cmd = Command::CreateAccount {
            account: AccountId(k as u32 + 1),
            role: Role::Trader,
            stp: mode,
        };
        p.step(Timestamp(t), &cmd)?;
    }
    for a in 1..=3 {
        let cmd = Command::Deposit {
            account: AccountId(a),
            currency: Currency::Usd,
            amount: Money(1_000_000_000_000),
        };
        p.step(Timestamp(t), &cmd)?;
    }
    p.step(
        Timestamp(t),
        &Command::CreateAccount {
            account: AccountId(4),
            role: Role::Operator,
            stp: StpMode::default(),
        },
    )?;
    for i in 0..2u32 {
        p.step(
            Timestamp(t),
            &Command::SetPhase {
                instrument: InstrumentId(i),
                phase: setup.start[i as usize],
            },
        )?;
    }
    // Accepted order ids, so that amends and cancels mostly aim at real orders.
    let mut ids: Vec<OrderId> = Vec::new();
    let aim = |r: OrderRef, ids: &[OrderId]| match r {
        OrderRef::Id(OrderId(k)) if k <= 60 && !ids.is_empty() => {
            OrderRef::Id(ids[ids.len() - 1 - (k as usize % ids.len().min(6))])
        }
        r => r,
    };
    for s in steps {
        t += s.dt;
        if s.dt > 0 && s.tick_first {
            p.step(Timestamp(t), &Command::Tick)?;
        }
        let cmd = match &s.op {
            Op::New(o) => Command::NewOrder(*o),
            Op::NewGtd(o, rel) => Command::NewOrder(NewOrder {
                tif: TimeInForce::Gtd(Timestamp(t + rel)),
                ..*o
            }),
            Op::Amend(a) => Command::Amend(Amend {
                order: aim(a.order, &ids),
                ..*a
            }),
            Op::Cancel(c) => Command::Cancel(Cancel {
                order: aim(c.order, &ids),
                ..*c
            }),
            Op::Mass(m) => Command::MassCancel(m.clone()),
            Op::Phase(i, ph) => Command::SetPhase {
                instrument: InstrumentId(*i),
                phase: *ph,
            },
            Op::Halt(i) => Command::Halt {
                instrument: InstrumentId(*i),
            },
            Op::Resume(i, a) => Command::Resume {
                instrument: InstrumentId(*i),
                auction_ns: *a,
            },
            Op::Eod(i) => Command::EndTradingDay {
                instrument: InstrumentId(*i),
            },
            Op::Tick => Command::Tick,
        };
        let o = p.step(Timestamp(t), &cmd)?;
        for e in &o.events {
            if let Event::OrderAccepted { order_id, .. } = e {
                ids.push(*order_id);
            }
        }
    }
    Ok(())
}

/// 512 cases unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    ProptestConfig {
        cases,
        max_shrink_iters: 4096,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_matches_the_reference_model(setup in setup(), steps in prop::collection::vec(step(), 1..160)) {
        let quirks = Quirks { amend_uses_account_stp: false };
        if let Err(e) = run(&setup, &steps, quirks) {
            return Err(TestCaseError::fail(e));
        }
    }
}
