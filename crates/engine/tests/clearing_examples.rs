//! Worked clearing examples, every number reasoned by hand in the comments.
//!
//! Common ground: `InstrumentSpec::for_tests(0, 1000)` has a tick value of 100 minor units, so
//! 1 tick × 1 contract = 1.00 USD = 100 cents. The reference price is 1000 ticks, the daily
//! limit ±10%, initial margin 12% and maintenance 9% of notional. Fees here: maker 0.50 USD
//! (50 cents) and taker 1.20 USD (120 cents) per contract.
//!
//! Margin per contract at a price of P ticks: notional = P × 100 cents, so initial margin is
//! 12·P cents and maintenance 9·P cents (12,000 and 9,000 cents at P = 1000).

use tokex_engine::*;
use tokex_types::*;

const T: Timestamp = Timestamp(1_780_000_000_000_000_000); // 2026-05-28, not the spot month
const MAKER: i64 = 50;
const TAKER: i64 = 120;

fn spec(id: u32, reference: i64) -> InstrumentSpec {
    let mut s = InstrumentSpec::for_tests(id, reference);
    s.fee_maker_minor = MAKER;
    s.fee_taker_minor = TAKER;
    s
}

struct Ex {
    e: Engine,
    seq: u64,
}

impl Ex {
    fn new(specs: Vec<InstrumentSpec>) -> Ex {
        let mut x = Ex {
            e: Engine::new(),
            seq: 0,
        };
        for s in specs {
            let id = s.id;
            x.ok(Command::ListInstrument(Box::new(s)));
            x.ok(Command::SetPhase {
                instrument: id,
                phase: Phase::Continuous,
            });
        }
        x
    }

    fn run(&mut self, cmd: Command) -> Outcome {
        self.seq += 1;
        let o = self.e.apply(self.seq, T, &cmd);
        self.e
            .check_invariants()
            .unwrap_or_else(|m| panic!("invariant broken after {cmd:?}: {m}"));
        o
    }

    fn ok(&mut self, cmd: Command) -> Vec<Event> {
        let o = self.run(cmd.clone());
        assert!(o.result.is_ok(), "{cmd:?} rejected: {:?}", o.result);
        o.events
    }

    fn account(&mut self, id: u32, role: Role, usd_cents: i64) {
        self.e.open_account(id, role);
        if usd_cents > 0 {
            self.ok(Command::Deposit {
                account: AccountId(id),
                currency: Currency::Usd,
                amount: Money(usd_cents),
            });
        }
    }

    fn limit(&mut self, a: u32, side: Side, price: i64, qty: u64) -> Vec<Event> {
        self.ok(Command::NewOrder(NewOrder::limit(a, 0, side, price, qty)))
    }

    fn cash(&self, a: u32) -> i64 {
        self.e.account(AccountId(a)).unwrap().cash[Currency::Usd.index()]
    }

    fn net(&self, a: u32) -> i64 {
        self.e
            .account(AccountId(a))
            .unwrap()
            .positions
            .get(&InstrumentId(0))
            .map_or(0, |p| p.net)
    }

    fn position(&self, a: u32) -> tokex_engine::state::Position {
        self.e.account(AccountId(a)).unwrap().positions[&InstrumentId(0)].clone()
    }
}

fn trades(ev: &[Event]) -> Vec<(i64, u64, u32, u32)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Trade {
                price,
                qty,
                buy_account,
                sell_account,
                ..
            } => Some((price.0, qty.0, buy_account.0, sell_account.0)),
            _ => None,
        })
        .collect()
}

fn vm_of(ev: &[Event], account: u32) -> Option<i64> {
    ev.iter().find_map(|e| match e {
        Event::VariationMargin {
            account: a, amount, ..
        } if a.0 == account => Some(amount.0),
        _ => None,
    })
}

fn settled(ev: &[Event]) -> (i64, u64, u64, bool, i64, i64) {
    ev.iter()
        .find_map(|e| match e {
            Event::Settled {
                price,
                volume,
                open_interest,
                limit_locked,
                lower_limit,
                upper_limit,
                ..
            } => Some((
                price.0,
                volume.0,
                *open_interest,
                *limit_locked,
                lower_limit.0,
                upper_limit.0,
            )),
            _ => None,
        })
        .expect("a Settled event")
}

const D: i64 = 10_000_000; // 100,000.00 USD

/// Two trading days, three accounts, fees on every fill, variation margin in cash.
#[test]
fn two_day_settlement_with_variation_margin_and_fees() {
    let mut x = Ex::new(vec![spec(0, 1000)]);
    for a in 1..=3 {
        x.account(a, Role::Trader, D);
    }
    // ---- Day 1 ----
    // A(1) rests sell 10 @ 1005. B(2) buys 4 @ 1005: trade 4 @ 1005, A maker, B taker.
    //   fees: A 4 × 50 = 200, B 4 × 120 = 480.
    x.limit(1, Side::Sell, 1005, 10);
    let ev = x.limit(2, Side::Buy, 1005, 4);
    assert_eq!(trades(&ev), vec![(1005, 4, 2, 1)]);
    assert!(ev.contains(&Event::FeesCharged {
        trade_id: 1,
        buy_account: AccountId(2),
        buy_fee: Money(480),
        sell_account: AccountId(1),
        sell_fee: Money(200),
        currency: Currency::Usd,
    }));
    // C(3) buys 6 @ 1010: trades 6 at the resting price 1005. Fees: A 300, C 720.
    let ev = x.limit(3, Side::Buy, 1010, 6);
    assert_eq!(trades(&ev), vec![(1005, 6, 3, 1)]);
    // B rests sell 2 @ 1020; A buys 2 @ 1020 (taker): A −10 → −8, B +4 → +2.
    //   fees: B maker 100, A taker 240.
    x.limit(2, Side::Sell, 1020, 2);
    let ev = x.limit(1, Side::Buy, 1020, 2);
    assert_eq!(trades(&ev), vec![(1020, 2, 1, 2)]);
    assert_eq!((x.net(1), x.net(2), x.net(3)), (-8, 2, 6));
    // Fees so far: A 200 + 300 + 240 = 740; B 480 + 100 = 580; C 720. Cash moves at once.
    assert_eq!(x.cash(1), D - 740);
    assert_eq!(x.cash(2), D - 580);
    assert_eq!(x.cash(3), D - 720);
    // Average price and realised P&L of A: short 10 at 1005 (open cost −10,050 ticks); buying
    // 2 at 1020 closes 2 at 15 ticks worse: −30 ticks = −3,000 cents; the rest stays at 1005.
    let p = x.position(1);
    assert_eq!(p.realised_minor, -3_000);
    assert_eq!(p.avg_price(), Some((-8_040, -8))); // 1005

    // Settlement: VWAP = (4×1005 + 6×1005 + 2×1020) / 12 = 12,090 / 12 = 1007.5 → 1008 (half
    // away from zero). Open interest: longs B 2 + C 6 = 8.
    let ev = x.ok(Command::DailySettlement);
    // New limits: ceil(1008 × 0.9) = ceil(907.2) = 908, floor(1008 × 1.1) = floor(1108.8) = 1108.
    assert_eq!(settled(&ev), (1008, 12, 8, false, 908, 1108));
    // VM = net × settle − Σ signed trade prices, in ticks, × 100 cents:
    //   A: −8 × 1008 − (−4,020 − 6,030 + 2,040) = −8,064 + 8,010 = −54 ticks = −5,400
    //   B: +2 × 1008 − (4,020 − 2,040)          =  2,016 − 1,980 = +36 ticks = +3,600
    //   C: +6 × 1008 − 6,030                    =  6,048 − 6,030 = +18 ticks = +1,800
    //   Σ = 0.
    assert_eq!(vm_of(&ev, 1), Some(-5_400));
    assert_eq!(vm_of(&ev, 2), Some(3_600));
    assert_eq!(vm_of(&ev, 3), Some(1_800));
    assert_eq!(x.cash(1), D - 740 - 5_400); // 9,993,860
    assert_eq!(x.cash(2), D - 580 + 3_600); // 10,003,020
    assert_eq!(x.cash(3), D - 720 + 1_800); // 10,001,080
                                            // Money: 3 × D deposited = Σ cash 29,997,960 + fees 2,040.
    assert_eq!(x.cash(1) + x.cash(2) + x.cash(3) + 2_040, 3 * D);
    // Nobody is near maintenance (9% of 8 × 1008 × 100 = 72,576 cents for A): no margin call.
    assert!(!ev.iter().any(|e| matches!(e, Event::MarginCall { .. })));

    // ---- Day 2 ---- (reference 1008)
    // C rests sell 3 @ 1030; A buys 3 @ 1030 (taker). A −8 → −5, C +6 → +3.
    //   fees: C maker 150, A taker 360.
    x.limit(3, Side::Sell, 1030, 3);
    let ev = x.limit(1, Side::Buy, 1030, 3);
    assert_eq!(trades(&ev), vec![(1030, 3, 1, 3)]);
    // A's realised P&L: closing 3 of 8 at avg 1005 at 1030: −25 × 3 = −75 ticks = −7,500,
    // total −10,500; the rest stays at 1005.
    let p = x.position(1);
    assert_eq!(p.realised_minor, -10_500);
    assert_eq!(p.avg_price(), Some((-5_025, -5)));
    // Settlement: one trade, VWAP = 1030. Open interest: B 2 + C 3 = 5. Limits:
    // ceil(1030 × 0.9) = 927, floor(1030 × 1.1) = 1133.
    let ev = x.ok(Command::DailySettlement);
    assert_eq!(settled(&ev), (1030, 3, 5, false, 927, 1133));
    // VM: carried positions move by 1030 − 1008 = +22 ticks; today's trades were at 1030.
    //   A: −8 × 22 = −176 ticks = −17,600;  B: +2 × 22 = +44 = +4,400;  C: +6 × 22 = +132 = +13,200.
    //   Σ = 0.
    assert_eq!(vm_of(&ev, 1), Some(-17_600));
    assert_eq!(vm_of(&ev, 2), Some(4_400));
    assert_eq!(vm_of(&ev, 3), Some(13_200));
    assert_eq!(x.cash(1), 9_993_860 - 360 - 17_600); // 9,975,900
    assert_eq!(x.cash(2), 10_003_020 + 4_400); // 10,007,420
    assert_eq!(x.cash(3), 10_001_080 - 150 + 13_200); // 10,014,130
                                                      // Fees 2,040 + 510 = 2,550; Σ cash 29,997,450 + 2,550 = 3 × D.
    assert_eq!(x.cash(1) + x.cash(2) + x.cash(3) + 2_550, 3 * D);
    // A day with no trades settles at the previous price and moves nothing.
    let ev = x.ok(Command::DailySettlement);
    assert_eq!(settled(&ev).0, 1030);
    assert_eq!(vm_of(&ev, 1), Some(0));
    assert_eq!(x.cash(1), 9_975_900);
}

/// A thin long is called at settlement, does not pay, and is liquidated through the book
/// at the next open.
#[test]
fn margin_call_then_liquidation_at_the_deadline() {
    let mut x = Ex::new(vec![spec(0, 1000)]);
    // A(1) deposits 1,500.00 USD; M(2) and N(3) are well funded.
    x.account(1, Role::Trader, 150_000);
    x.account(2, Role::MarketMaker, D);
    x.account(3, Role::Trader, D);
    // M rests sell 10 @ 1000; A buys 10 (worst-case IM 10 × 12,000 = 120,000 ≤ 150,000).
    // Fees: A taker 1,200 → cash 148,800; M maker 500.
    x.limit(2, Side::Sell, 1000, 10);
    x.limit(1, Side::Buy, 1000, 10);
    assert_eq!(x.cash(1), 148_800);
    // N rests sell 70 @ 920; M buys 70 @ 920. The day's VWAP becomes
    // (10 × 1000 + 70 × 920) / 80 = 74,400 / 80 = 930 exactly.
    x.limit(3, Side::Sell, 920, 70);
    x.limit(2, Side::Buy, 920, 70);
    // Intraday, A is marked at 920: equity = 148,800 + 10 × (920 − 1000) × 100 = 68,800.
    // Maintenance on the reference 1000 is 10 × 9,000 = 90,000; the liquidation threshold is
    // 50% of that, 45,000: 68,800 is above it, so a risk sweep leaves A alone.
    let ev = x.ok(Command::RiskSweep);
    assert!(ev.is_empty(), "{ev:?}");

    // Settlement at 930: A's VM = 10 × (930 − 1000) = −700 ticks = −70,000 → cash 78,800.
    // Maintenance at 930 = 10 × 930 × 100 × 9% = 83,700 > 78,800 → margin call.
    // Initial at 930 = 10 × 930 × 100 × 12% = 111,600 (the amount A must get back to).
    // M: sold 10 @ 1000, bought 70 @ 920: net +60, VM = 60 × 930 − (−10,000 + 64,400) = +1,400
    // ticks; N: −70 × 930 + 64,400 = −700 ticks. Σ = −700 + 1,400 − 700 = 0.
    let ev = x.ok(Command::DailySettlement);
    assert_eq!(settled(&ev).0, 930);
    assert_eq!(vm_of(&ev, 1), Some(-70_000));
    assert_eq!(vm_of(&ev, 2), Some(140_000));
    assert_eq!(vm_of(&ev, 3), Some(-70_000));
    assert!(ev.contains(&Event::MarginCall {
        account: AccountId(1),
        currency: Currency::Usd,
        equity: Money(78_800),
        maintenance: Money(83_700),
        initial: Money(111_600),
    }));
    // Equity 78,800 is above the threshold 41,850 (half of 83,700): no immediate liquidation.
    let ev = x.ok(Command::RiskSweep);
    assert!(ev.is_empty(), "{ev:?}");
    // While called, A cannot add exposure (its worst case already needs 111,600 > 78,800).
    let o = x.run(Command::NewOrder(NewOrder::limit(1, 0, Side::Buy, 930, 1)));
    assert_eq!(o.result.unwrap_err().code, RejectCode::InsufficientMargin);

    // Next day: M bids 10 @ 925 (limits around 930 are 837..=1023).
    x.limit(2, Side::Buy, 925, 10);
    // The deadline: A's call is not met → liquidation. A's working orders are cancelled (none)
    // and a market sell of 10 goes through the book: 10 @ 925 against M's bid.
    // Fees: A taker 1,200 → cash 77,600; M maker 500.
    let ev = x.ok(Command::MarginCallDeadline);
    assert!(ev.contains(&Event::LiquidationStarted {
        account: AccountId(1),
        currency: Currency::Usd,
        equity: Money(78_800),
        maintenance: Money(83_700),
    }));
    assert!(ev.iter().any(|e| matches!(e,
        Event::OrderAccepted { account, order_type: OrderType::Market, side: Side::Sell, qty, .. }
            if account.0 == 1 && qty.0 == 10)));
    assert_eq!(trades(&ev), vec![(925, 10, 2, 1)]);
    assert!(ev.contains(&Event::LiquidationFinished {
        account: AccountId(1)
    }));
    // Flat, equity = 77,600 − (10 × 930 − 10 × 925) × 100 = 77,600 − 5,000 = 72,600 ≥ 0: no
    // default, the insurance fund is not touched.
    assert!(!ev.iter().any(|e| matches!(e, Event::DefaultCovered { .. })));
    assert_eq!(x.net(1), 0);
    assert_eq!(x.cash(1), 77_600);
    let a = x.e.account(AccountId(1)).unwrap();
    assert!(a.margin_call.is_none() && !a.liquidating);
    // The loss of 5 ticks on the close-out is paid at the day's settlement (VWAP 925):
    // VM = 0 × 925 − (10 × 930 − 10 × 925) = −50 ticks = −5,000 → cash 72,600
    // = 150,000 − 1,200 − 70,000 − 1,200 − 5,000.
    let ev = x.ok(Command::DailySettlement);
    assert_eq!(vm_of(&ev, 1), Some(-5_000));
    assert_eq!(x.cash(1), 72_600);
    // The account trades again afterwards.
    x.limit(1, Side::Buy, 900, 1);
}

/// A long caught in a crash goes below zero: the risk sweep liquidates it, and the
/// insurance fund pays what its money cannot.
#[test]
fn default_absorbed_by_the_insurance_fund() {
    // ±20% limits this time (800..=1200), so one day's move can exceed the margin.
    let mut s = spec(0, 1000);
    s.price_limit_bps = 2_000;
    let mut x = Ex::new(vec![s]);
    x.account(1, Role::Trader, 130_000); // A: 1,300.00 USD
    x.account(2, Role::MarketMaker, D); // M
    x.account(3, Role::Trader, D); // N
    x.account(9, Role::InsuranceFund, 1_000_000); // the fund: 10,000.00 USD
                                                  // A buys 10 @ 1000 from M (IM 120,000 ≤ 130,000). Fee: A taker 1,200 → cash 128,800.
    x.limit(2, Side::Sell, 1000, 10);
    x.limit(1, Side::Buy, 1000, 10);
    // M bids 11 @ 850; N sells 1 @ 850 at market: the last price is now 850.
    x.limit(2, Side::Buy, 850, 11);
    let ev = x.ok(Command::NewOrder(NewOrder::market(3, 0, Side::Sell, 1)));
    assert_eq!(trades(&ev), vec![(850, 1, 2, 3)]);
    // A's equity at 850: 128,800 + 10 × (850 − 1000) × 100 = −21,200, below half of the
    // maintenance 90,000 → the sweep liquidates: a market sell of 10 trades 10 @ 850 with M.
    // A pays the taker fee 1,200 → cash 127,600; flat, with 10 × (1000 − 850) = 1,500 ticks
    // of loss not yet settled: equity = 127,600 − 150,000 = −22,400. The fund covers 22,400.
    let ev = x.ok(Command::RiskSweep);
    assert!(ev.contains(&Event::LiquidationStarted {
        account: AccountId(1),
        currency: Currency::Usd,
        equity: Money(-21_200),
        maintenance: Money(90_000),
    }));
    assert_eq!(trades(&ev), vec![(850, 10, 2, 1)]);
    assert!(ev.contains(&Event::CashMoved {
        account: AccountId(9),
        currency: Currency::Usd,
        amount: Money(-22_400),
        kind: CashKind::InsuranceCover,
        balance: Money(977_600),
    }));
    assert!(ev.contains(&Event::DefaultCovered {
        account: AccountId(1),
        currency: Currency::Usd,
        amount: Money(22_400),
        fund_balance: Money(977_600),
    }));
    assert!(ev.contains(&Event::LiquidationFinished {
        account: AccountId(1)
    }));
    assert_eq!(x.cash(1), 150_000);
    assert_eq!(x.cash(9), 977_600);
    // Settlement: VWAP = (10 × 1000 + 1 × 850 + 10 × 850) / 21 = 19,350 / 21 = 921.43 → 921.
    // A: VM = 0 × 921 − (10,000 − 8,500) = −1,500 ticks = −150,000 → cash exactly 0.
    // M: −10 + 1 + 10 = +1; VM = 921 − (−10,000 + 850 + 8,500) = 921 + 650 = +1,571 ticks.
    // N: −1; VM = −921 + 850 = −71 ticks.  Σ = −1,500 + 1,571 − 71 = 0.
    let ev = x.ok(Command::DailySettlement);
    assert_eq!(settled(&ev).0, 921);
    assert_eq!(vm_of(&ev, 1), Some(-150_000));
    assert_eq!(vm_of(&ev, 2), Some(157_100));
    assert_eq!(vm_of(&ev, 3), Some(-7_100));
    assert_eq!(x.cash(1), 0);
    // The fund's loss is the default: 1,000,000 − 977,600 = 22,400, recorded above.
    assert_eq!(x.cash(9), 977_600);
}

/// Final settlement against a month of fixings.
#[test]
fn expiry_against_a_month_of_fixings() {
    let mut x = Ex::new(vec![spec(0, 1000)]);
    for a in 1..=3 {
        x.account(a, Role::Trader, D);
    }
    // Day 1: B(2) rests sell 5 @ 1000, A(1) buys 5. Fees A 600, B 250. Settles at 1000: no VM.
    x.limit(2, Side::Sell, 1000, 5);
    x.limit(1, Side::Buy, 1000, 5);
    let ev = x.ok(Command::DailySettlement);
    assert_eq!(settled(&ev).0, 1000);
    // The month's fixings of TPI-F (tick 0.001 = 1,000 in millionths): on the first 20
    // business days of December 2026, 1.000000 + k × 0.001000 for k = 0..20, i.e. 1000 + k
    // ticks. Mean = 1000 + 19/2 = 1009.5 ticks → rounds half away from zero to 1010.
    let mut day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let mut k = 0;
    while k < 20 {
        use chrono::Datelike;
        if day.weekday().number_from_monday() <= 5 {
            x.ok(Command::IndexFixing {
                index: "TPI-F".into(),
                date: day,
                value_e6: 1_000_000 + 1_000 * k,
            });
            k += 1;
        }
        day = day.succ_opt().unwrap();
    }
    // Fixings that must not count: other months and another index.
    for (index, y, m, d) in [
        ("TPI-F", 2026, 11, 30),
        ("TPI-F", 2027, 1, 4),
        ("TPI-S", 2026, 12, 15),
    ] {
        x.ok(Command::IndexFixing {
            index: index.into(),
            date: chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            value_e6: 9_000_000,
        });
    }
    assert_eq!(
        x.e.final_settlement_price(InstrumentId(0)),
        Some((Price(1010), 20))
    );
    // Last trading day: C(3) rests sell 2 @ 1005, A buys 2 (fees C 100, A 240). Working orders
    // left: B bids 3 @ 990, C offers 4 @ 1020.
    x.limit(3, Side::Sell, 1005, 2);
    x.limit(1, Side::Buy, 1005, 2);
    x.limit(2, Side::Buy, 990, 3);
    x.limit(3, Side::Sell, 1020, 4);
    let ev = x.ok(Command::Expire {
        instrument: InstrumentId(0),
    });
    let cancelled: Vec<(u32, u64)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::OrderCancelled {
                account,
                cancelled_qty,
                reason: CancelReason::InstrumentExpired,
                ..
            } => Some((account.0, cancelled_qty.0)),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, vec![(2, 3), (3, 4)]);
    assert!(ev.contains(&Event::Expired {
        instrument: InstrumentId(0),
        final_price: Price(1010),
        fixings: 20,
    }));
    // Final settlement = net × 1010 − Σ signed trade prices since the last settlement:
    //   A: +7 × 1010 − (5 × 1000 + 2 × 1005) = 7,070 − 7,010 = +60 ticks = +6,000
    //   B: −5 × 1010 + 5,000 = −50 ticks = −5,000
    //   C: −2 × 1010 + 2,010 = −10 ticks = −1,000           Σ = 0.
    assert_eq!(vm_of(&ev, 1), Some(6_000));
    assert_eq!(vm_of(&ev, 2), Some(-5_000));
    assert_eq!(vm_of(&ev, 3), Some(-1_000));
    assert_eq!(x.cash(1), D - 600 - 240 + 6_000);
    assert_eq!(x.cash(2), D - 250 - 5_000);
    assert_eq!(x.cash(3), D - 100 - 1_000);
    // Positions are closed, the contract is delisted, its orders are gone.
    for a in 1..=3 {
        let acct = x.e.account(AccountId(a)).unwrap();
        assert!(acct.positions.is_empty());
        assert_eq!(acct.working_orders, 0);
    }
    assert!(x.e.instrument(InstrumentId(0)).unwrap().delisted);
    let h = x.e.state_hash();
    let o = x.run(Command::NewOrder(NewOrder::limit(1, 0, Side::Buy, 1000, 1)));
    assert_eq!(o.result.unwrap_err().code, RejectCode::MarketClosed);
    let o = x.run(Command::Expire {
        instrument: InstrumentId(0),
    });
    assert_eq!(o.result.unwrap_err().code, RejectCode::MarketClosed);
    assert_eq!(x.e.state_hash(), h);
    // Nothing is margined any more: A can take all its cash out.
    let all = x.cash(1);
    x.ok(Command::Withdraw {
        account: AccountId(1),
        currency: Currency::Usd,
        amount: Money(all),
    });
    assert_eq!(x.cash(1), 0);
}

/// A day that settles at its limit: the next day's limit widens by 3 points and the margin
/// rises to the widened limit + 2 points; the day after, both return to normal.
#[test]
fn limit_locked_day() {
    let mut x = Ex::new(vec![spec(0, 1000)]);
    // S(1) sells 10 at the upper limit 1100 to B(2). S deposits 1,250.00 USD: the pre-trade
    // check needs 12% of 10 × 1000 × 100 = 120,000 (margin is on the reference price).
    x.account(1, Role::Trader, 125_000);
    x.account(2, Role::Trader, D);
    x.account(3, Role::Trader, 16_000); // D(3): enough for 1 lot at 12% of 1100, not at 15%
    x.limit(1, Side::Sell, 1100, 10);
    x.limit(2, Side::Buy, 1100, 10);
    // Fees: S maker 500 → 124,500; B taker 1,200.
    assert_eq!(x.cash(1), 124_500);
    // Settlement at 1100 = the upper limit: limit-locked. Next limit 10% + 3% = 13%:
    //   lower = ceil(1100 × 0.87) = 957, upper = floor(1100 × 1.13) = 1243.
    let ev = x.ok(Command::DailySettlement);
    assert_eq!(settled(&ev), (1100, 10, 10, true, 957, 1243));
    let inst = x.e.instrument(InstrumentId(0)).unwrap();
    assert!(inst.limit_locked);
    // Margin: initial max(12%, 13% + 2%) = 15%; maintenance 9% + 3% = 12%.
    assert_eq!(inst.margin_bps(), (1_500, 1_200));
    // S's VM is 0 (traded at the settlement price); maintenance is now
    // 10 × 1100 × 100 × 12% = 132,000 > 124,500 → margin call (at 9% it would be 99,000 and
    // no call). Initial = 10 × 1100 × 100 × 15% = 165,000.
    assert!(ev.contains(&Event::MarginCall {
        account: AccountId(1),
        currency: Currency::Usd,
        equity: Money(124_500),
        maintenance: Money(132_000),
        initial: Money(165_000),
    }));
    // Day 2: the widened band accepts 1243 and refuses 1244.
    let o = x.run(Command::NewOrder(NewOrder::limit(2, 0, Side::Buy, 1244, 1)));
    assert_eq!(o.result.unwrap_err().code, RejectCode::PriceOutsideLimits);
    x.limit(2, Side::Sell, 1243, 1);
    // D: 1 lot needs 1100 × 100 × 15% = 16,500 > 16,000 → refused; at 12% it would be 13,200.
    let h = x.e.state_hash();
    let o = x.run(Command::NewOrder(NewOrder::limit(3, 0, Side::Buy, 1000, 1)));
    assert_eq!(o.result.unwrap_err().code, RejectCode::InsufficientMargin);
    assert_eq!(x.e.state_hash(), h);
    // S meets the call by depositing 165,000 − 124,500 = 40,500.
    let ev = x.ok(Command::Deposit {
        account: AccountId(1),
        currency: Currency::Usd,
        amount: Money(40_500),
    });
    assert!(ev.contains(&Event::MarginCallMet {
        account: AccountId(1)
    }));
    // Day 2 has no trade: settles at 1100 again, not locked; band and margin back to normal:
    //   lower = ceil(990) = 990, upper = floor(1210) = 1210.
    let ev = x.ok(Command::DailySettlement);
    assert_eq!(settled(&ev), (1100, 0, 10, false, 990, 1210));
    assert_eq!(
        x.e.instrument(InstrumentId(0)).unwrap().margin_bps(),
        (1_200, 900)
    );
    // Now D's 16,000 covers 13,200.
    x.limit(3, Side::Buy, 1000, 1);
}

// ----- regressions -------------------------------------------------------------------------

/// Builds the crash of `default_absorbed_by_the_insurance_fund` up to the moment A(1), long
/// 10 @ 1000 with 128,800 cents, is marked at 850 (M(2) short 10 bidding `bid_qty` @ 850 after
/// N(3) sold it 1), with the fund F(9) holding 1,000,000.
fn crash(bid_qty: u64) -> Ex {
    let mut s = spec(0, 1000);
    s.price_limit_bps = 2_000;
    let mut x = Ex::new(vec![s]);
    x.account(1, Role::Trader, 130_000);
    x.account(2, Role::MarketMaker, D);
    x.account(3, Role::Trader, D);
    x.account(9, Role::InsuranceFund, 1_000_000);
    x.limit(2, Side::Sell, 1000, 10);
    x.limit(1, Side::Buy, 1000, 10);
    x.limit(2, Side::Buy, 850, bid_qty);
    x.ok(Command::NewOrder(NewOrder::market(3, 0, Side::Sell, 1)));
    x
}

fn covered(ev: &[Event], account: u32) -> Option<i64> {
    ev.iter().find_map(|e| match e {
        Event::DefaultCovered {
            account: a, amount, ..
        } if a.0 == account => Some(amount.0),
        _ => None,
    })
}

/// A trader who closes a losing position himself, beyond his money, before any sweep: flat,
/// with equity 128,800 − 1,200 (taker fee) − 10 × 150 × 100 = −22,400. The next sweep must
/// hand the loss to the fund (before the fix, a flat account had no maintenance margin and
/// was skipped, so the negative cash stayed for ever).
#[test]
fn a_flat_account_below_zero_is_covered_by_the_sweep() {
    let mut x = crash(11);
    let ev = x.limit(1, Side::Sell, 850, 10);
    assert_eq!(trades(&ev), vec![(850, 10, 2, 1)]);
    assert_eq!(x.net(1), 0);
    let ev = x.ok(Command::RiskSweep);
    assert_eq!(covered(&ev, 1), Some(22_400));
    assert_eq!(x.cash(9), 1_000_000 - 22_400);
    // Settlement collects the 1,500 ticks of loss: A ends at exactly 0.
    x.ok(Command::DailySettlement);
    assert_eq!(x.cash(1), 0);
    // Same loss realised through settlement first (cash −22,400, no position left): covered.
    let mut x = crash(11);
    x.limit(1, Side::Sell, 850, 10);
    x.ok(Command::DailySettlement);
    assert_eq!(x.cash(1), -22_400);
    assert!(x.e.account(AccountId(1)).unwrap().positions.is_empty());
    let ev = x.ok(Command::RiskSweep);
    assert_eq!(covered(&ev, 1), Some(22_400));
    assert_eq!(x.cash(1), 0);
    // A healthy flat account is left alone.
    let ev = x.ok(Command::RiskSweep);
    assert!(ev.is_empty(), "{ev:?}");
}

/// A liquidation that cannot finish (no bids), then the contract expires at 850 (one fixing
/// of 0.850): the final settlement closes A's position with cash 128,800 − 150,000 = −21,200.
/// A is flat; the next sweep must finish the liquidation and hand the loss to the fund (before
/// the fix, an account with no position entry was never swept and stayed `liquidating`, unable
/// to trade, with negative cash).
#[test]
fn a_liquidation_cut_short_by_expiry_is_finished_and_covered() {
    let mut x = crash(1);
    let ev = x.ok(Command::RiskSweep);
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::LiquidationStarted { .. })));
    assert!(trades(&ev).is_empty(), "no bid to sell into");
    assert!(x.e.account(AccountId(1)).unwrap().liquidating);
    x.ok(Command::IndexFixing {
        index: "TPI-F".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        value_e6: 850_000,
    });
    let ev = x.ok(Command::Expire {
        instrument: InstrumentId(0),
    });
    assert_eq!(vm_of(&ev, 1), Some(-150_000));
    assert_eq!(x.cash(1), -21_200);
    let ev = x.ok(Command::RiskSweep);
    assert_eq!(covered(&ev, 1), Some(21_200));
    assert!(ev.contains(&Event::LiquidationFinished {
        account: AccountId(1)
    }));
    let a = x.e.account(AccountId(1)).unwrap();
    assert!(!a.liquidating);
    assert_eq!(x.cash(1), 0);
    assert_eq!(x.cash(9), 1_000_000 - 21_200);
}
