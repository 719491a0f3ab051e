//! Worked examples of the operator changing a product's parameters while it trades
//! (`Command::SetProductParams`).
//!
//! Common ground: months of product `TKF` from `InstrumentSpec::for_tests`: tick value 100
//! minor units (1 tick × 1 contract = 1.00 USD), reference price 1000 ticks, daily limit ±10%
//! (900..=1100), initial margin 12% and maintenance 9% of notional. One contract's notional at
//! the reference is 1000 × 100 = 100,000 cents, so its initial margin is 12,000 cents.

use tokex_engine::*;
use tokex_types::*;

const T: Timestamp = Timestamp(1_780_000_000_000_000_000); // 2026-05-28, not the spot month

fn month(id: u32, product: &str, reference: i64) -> InstrumentSpec {
    let mut s = InstrumentSpec::for_tests(id, reference);
    s.product = product.into();
    s.symbol = format!("{product}-{id}");
    s
}

struct Ex {
    e: Engine,
    seq: u64,
}

impl Ex {
    /// `TKF` months 0 and 1, `TKC` month 2, all trading; account 1 with 100,000 cents.
    fn new() -> Ex {
        let mut x = Ex {
            e: Engine::new(),
            seq: 0,
        };
        for s in [
            month(0, "TKF", 1000),
            month(1, "TKF", 1000),
            month(2, "TKC", 1000),
        ] {
            x.list(s);
        }
        x.e.open_account(1, Role::Trader);
        x.e.open_account(2, Role::Trader);
        for a in [1, 2] {
            x.ok(Command::Deposit {
                account: AccountId(a),
                currency: Currency::Usd,
                amount: Money(100_000),
            });
        }
        x
    }

    fn list(&mut self, s: InstrumentSpec) -> Vec<Event> {
        let id = s.id;
        let ev = self.ok(Command::ListInstrument(Box::new(s)));
        self.ok(Command::SetPhase {
            instrument: id,
            phase: Phase::Continuous,
        });
        ev
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

    fn code(&mut self, cmd: Command) -> &'static str {
        let o = self.run(cmd.clone());
        assert!(o.events.is_empty(), "a reject emitted events: {cmd:?}");
        o.result.expect_err("expected a reject").code.as_str()
    }

    fn set(&mut self, c: ProductParamsChange) -> Vec<Event> {
        self.ok(Command::SetProductParams(Box::new(c)))
    }

    /// A copy of the engine in its current state (through a snapshot).
    fn copy(&self) -> Ex {
        Ex {
            e: Engine::restore(&self.e.snapshot()).unwrap(),
            seq: self.seq,
        }
    }

    fn inst(&self, id: u32) -> &state::InstrumentState {
        self.e.instrument(InstrumentId(id)).unwrap()
    }
}

fn tkf() -> ProductParamsChange {
    ProductParamsChange::new("TKF")
}

fn buy(acct: u32, inst: u32, price: i64, qty: u64) -> Command {
    Command::NewOrder(NewOrder::limit(acct, inst, Side::Buy, price, qty))
}

#[test]
fn raising_the_margin_rejects_an_order_that_fitted_before() {
    let mut x = Ex::new();
    // 8 contracts at 12%: 8 × 12,000 = 96,000 cents ≤ 100,000. It fits now:
    let mut before = x.copy();
    before.ok(buy(1, 0, 1000, 8));

    // 20% initial, 15% maintenance: 8 × 20,000 = 160,000 > 100,000.
    let ev = x.set(ProductParamsChange {
        initial_margin_bps: Some(2_000),
        maintenance_margin_bps: Some(1_500),
        ..tkf()
    });
    assert_eq!(ev.len(), 1, "one event for both months: {ev:?}");
    match &ev[0] {
        Event::ProductParamsChanged {
            product,
            instruments,
            params,
        } => {
            assert_eq!(product, "TKF");
            assert_eq!(instruments, &[InstrumentId(0), InstrumentId(1)]);
            assert_eq!(
                (params.initial_margin_bps, params.maintenance_margin_bps),
                (2_000, 1_500)
            );
            // Untouched values stay.
            assert_eq!(params.price_limit_bps, 1_000);
        }
        e => panic!("unexpected {e:?}"),
    }
    assert_eq!(x.code(buy(1, 0, 1000, 8)), "INSUFFICIENT_MARGIN");
    assert_eq!(x.code(buy(1, 1, 1000, 8)), "INSUFFICIENT_MARGIN");
    // 5 × 20,000 = 100,000 still fits.
    x.ok(buy(1, 0, 1000, 5));
    // The other product is untouched: 8 × 12,000 fits in account 2.
    assert_eq!(x.inst(2).spec.initial_margin_bps, 1_200);
    x.ok(buy(2, 2, 1000, 8));
    // The requirement the account sees moved with it.
    assert_eq!(
        x.e.account_initial_margin(AccountId(1), Currency::Usd),
        100_000
    );
}

#[test]
fn narrowing_the_limit_rejects_prices_outside_the_new_band_at_once() {
    let mut x = Ex::new();
    let mut before = x.copy();
    before.ok(buy(1, 0, 1080, 1));

    // 5% around the same reference: 950..=1050, effective for today's next price check.
    x.set(ProductParamsChange {
        price_limit_bps: Some(500),
        ..tkf()
    });
    for id in [0, 1] {
        let i = x.inst(id);
        assert_eq!(
            (i.lower_limit.0, i.upper_limit.0, i.limit_bps),
            (950, 1050, 500)
        );
    }
    assert_eq!(x.inst(2).upper_limit.0, 1100, "TKC keeps its band");
    assert_eq!(x.code(buy(1, 0, 1080, 1)), "PRICE_OUTSIDE_LIMITS");
    assert_eq!(x.code(buy(1, 1, 949, 1)), "PRICE_OUTSIDE_LIMITS");
    x.ok(buy(1, 0, 1050, 1));

    // Widening it again lets the price back in.
    x.set(ProductParamsChange {
        price_limit_bps: Some(1_500),
        ..tkf()
    });
    assert_eq!(
        (x.inst(0).lower_limit.0, x.inst(0).upper_limit.0),
        (850, 1150)
    );
    x.ok(buy(1, 0, 1080, 1));
}

#[test]
fn a_resting_order_outside_a_narrowed_band_stays() {
    let mut x = Ex::new();
    x.ok(buy(1, 0, 1080, 1));
    x.set(ProductParamsChange {
        price_limit_bps: Some(500),
        ..tkf()
    });
    assert_eq!(x.inst(0).book.best_bid(), Some(Price(1080)));
}

#[test]
fn a_month_listed_after_the_change_takes_the_new_values() {
    let mut x = Ex::new();
    x.set(ProductParamsChange {
        initial_margin_bps: Some(1_500),
        price_limit_bps: Some(500),
        order_qty_max: Some(Qty(25)),
        fee_taker_minor: Some(30),
        ..tkf()
    });
    // The products file still says 12% / 10% / 10,000 / 0 for the next month.
    let ev = x.list(month(3, "TKF", 2000));
    assert_eq!(
        ev[0],
        Event::InstrumentListed {
            instrument: InstrumentId(3),
            symbol: "TKF-3".into()
        }
    );
    let Event::ProductParamsChanged {
        instruments,
        params,
        ..
    } = &ev[1]
    else {
        panic!("expected the parameters of the new month: {ev:?}")
    };
    assert_eq!(instruments, &[InstrumentId(3)]);
    let s = &x.inst(3).spec;
    assert_eq!(*params, ProductParams::of(s));
    assert_eq!(
        (
            s.initial_margin_bps,
            s.maintenance_margin_bps,
            s.price_limit_bps,
            s.order_qty_max.0,
            s.fee_maker_minor,
            s.fee_taker_minor
        ),
        (1_500, 900, 500, 25, 0, 30)
    );
    // Its band is 5% around its own reference of 2000.
    assert_eq!(
        (x.inst(3).lower_limit.0, x.inst(3).upper_limit.0),
        (1900, 2100)
    );
    assert_eq!(x.code(buy(1, 3, 2000, 26)), "ORDER_TOO_LARGE");
    // Another product's new month is not touched and gets no parameter event.
    let ev = x.list(month(4, "TKC", 1000));
    assert_eq!(ev.len(), 1);
    assert_eq!(x.inst(4).spec.initial_margin_bps, 1_200);
}

#[test]
fn a_new_fee_is_charged_from_the_next_trade() {
    let mut x = Ex::new();
    x.set(ProductParamsChange {
        fee_maker_minor: Some(-10),
        fee_taker_minor: Some(25),
        ..tkf()
    });
    x.ok(Command::NewOrder(NewOrder::limit(
        2,
        0,
        Side::Sell,
        1000,
        2,
    )));
    let ev = x.ok(buy(1, 0, 1000, 2));
    let fees = ev
        .iter()
        .find_map(|e| match e {
            Event::FeesCharged {
                buy_fee, sell_fee, ..
            } => Some((buy_fee.0, sell_fee.0)),
            _ => None,
        })
        .expect("fees charged");
    // Buyer took: 2 × 25; seller rested: 2 × −10 (a rebate).
    assert_eq!(fees, (50, -20));
}

#[test]
fn a_lower_position_limit_applies_to_the_next_order() {
    let mut x = Ex::new();
    x.set(ProductParamsChange {
        position_limit_all_months: Some(3),
        position_limit_spot_month: Some(2),
        ..tkf()
    });
    x.ok(buy(1, 0, 1000, 2));
    // Worst case across both TKF months would be 2 + 2 = 4 > 3.
    assert_eq!(x.code(buy(1, 1, 1000, 2)), "POSITION_LIMIT");
    x.ok(buy(1, 1, 1000, 1));
}

#[test]
fn one_half_of_a_pair_changed_keeps_the_pair_for_later_months() {
    let mut x = Ex::new();
    x.set(ProductParamsChange {
        maintenance_margin_bps: Some(1_000),
        ..tkf()
    });
    let kept = x.e.product_override("TKF").unwrap().clone();
    assert_eq!(
        (kept.initial_margin_bps, kept.maintenance_margin_bps),
        (Some(1_200), Some(1_000))
    );
    assert_eq!(kept.price_limit_bps, None, "untouched values are not kept");
    // A later month whose file values would not fit with 10% maintenance still gets a
    // consistent pair.
    let mut s = month(3, "TKF", 1000);
    s.initial_margin_bps = 800;
    s.maintenance_margin_bps = 600;
    x.list(s);
    let s = &x.inst(3).spec;
    assert_eq!(
        (s.initial_margin_bps, s.maintenance_margin_bps),
        (1_200, 1_000)
    );
}

#[test]
fn a_rejected_change_changes_nothing() {
    let mut x = Ex::new();
    x.ok(buy(1, 0, 1000, 1));
    let hash = x.e.state_hash();
    let cases: Vec<(ProductParamsChange, &str)> = vec![
        (
            ProductParamsChange {
                initial_margin_bps: Some(1_500),
                ..ProductParamsChange::new("NOPE")
            },
            "UNKNOWN_PRODUCT",
        ),
        (tkf(), "NOTHING_TO_CHANGE"),
        // Maintenance above (or equal to) the initial margin in force (12%).
        (
            ProductParamsChange {
                maintenance_margin_bps: Some(1_300),
                ..tkf()
            },
            "INVALID_MARGIN",
        ),
        (
            ProductParamsChange {
                initial_margin_bps: Some(900),
                ..tkf()
            },
            "INVALID_MARGIN",
        ),
        (
            ProductParamsChange {
                initial_margin_bps: Some(0),
                maintenance_margin_bps: Some(0),
                ..tkf()
            },
            "INVALID_MARGIN",
        ),
        (
            ProductParamsChange {
                initial_margin_bps: Some(10_001),
                ..tkf()
            },
            "INVALID_MARGIN",
        ),
        (
            ProductParamsChange {
                price_limit_bps: Some(0),
                ..tkf()
            },
            "INVALID_PRICE_LIMIT",
        ),
        // 0.05% of 1000 ticks is half a tick.
        (
            ProductParamsChange {
                price_limit_bps: Some(5),
                ..tkf()
            },
            "INVALID_PRICE_LIMIT",
        ),
        // With the 3% widening after a limit-locked day it would exceed 100%.
        (
            ProductParamsChange {
                price_limit_bps: Some(9_800),
                ..tkf()
            },
            "INVALID_PRICE_LIMIT",
        ),
        (
            ProductParamsChange {
                order_qty_max: Some(Qty(0)),
                ..tkf()
            },
            "INVALID_ORDER_QTY_MAX",
        ),
        (
            ProductParamsChange {
                order_qty_max: Some(Qty(1_000_001)),
                ..tkf()
            },
            "INVALID_ORDER_QTY_MAX",
        ),
        (
            ProductParamsChange {
                position_limit_spot_month: Some(2_000_000),
                ..tkf()
            },
            "INVALID_POSITION_LIMIT",
        ),
        (
            ProductParamsChange {
                position_limit_all_months: Some(0),
                ..tkf()
            },
            "INVALID_POSITION_LIMIT",
        ),
        (
            ProductParamsChange {
                fee_taker_minor: Some(-1),
                ..tkf()
            },
            "INVALID_FEE",
        ),
        (
            ProductParamsChange {
                fee_maker_minor: Some(-1),
                ..tkf()
            },
            "INVALID_FEE",
        ),
        (
            ProductParamsChange {
                fee_taker_minor: Some(i64::MAX),
                ..tkf()
            },
            "INVALID_FEE",
        ),
        (
            ProductParamsChange {
                market_protection_ticks: Some(0),
                ..tkf()
            },
            "INVALID_PROTECTION",
        ),
        (
            ProductParamsChange {
                cb_ticks: Some(-1),
                ..tkf()
            },
            "INVALID_PROTECTION",
        ),
        // The test months have no circuit-breaker window to measure in.
        (
            ProductParamsChange {
                cb_ticks: Some(20),
                ..tkf()
            },
            "INVALID_PROTECTION",
        ),
        // One bad value refuses the whole change, the good ones included.
        (
            ProductParamsChange {
                initial_margin_bps: Some(2_000),
                fee_taker_minor: Some(-5),
                ..tkf()
            },
            "INVALID_FEE",
        ),
    ];
    for (c, want) in cases {
        assert_eq!(
            x.code(Command::SetProductParams(Box::new(c.clone()))),
            want,
            "{c:?}"
        );
        assert_eq!(x.e.state_hash(), hash, "state changed by a rejected {c:?}");
    }
    assert!(x.e.product_override("TKF").is_none());
    assert_eq!(x.inst(0).spec.initial_margin_bps, 1_200);
}

#[test]
fn a_product_whose_months_all_expired_is_unknown() {
    let mut x = Ex::new();
    // Expire TKC's only month (no fixings: it settles at its last settlement price).
    let o = x.run(Command::Expire {
        instrument: InstrumentId(2),
    });
    assert!(o.result.is_ok(), "{:?}", o.result);
    assert_eq!(
        x.code(Command::SetProductParams(Box::new(ProductParamsChange {
            fee_taker_minor: Some(1),
            ..ProductParamsChange::new("TKC")
        }))),
        "UNKNOWN_PRODUCT"
    );
}

#[test]
fn snapshot_restore_and_replay_give_the_same_state() {
    let mut x = Ex::new();
    let plain = x.e.state_hash();
    // Without any change the snapshot has no parameter section: its bytes are as before.
    assert_eq!(
        Engine::restore(&x.e.snapshot()).unwrap().state_hash(),
        plain
    );

    let mut journal: Vec<Command> = Vec::new();
    let mut run = |x: &mut Ex, c: Command| {
        journal.push(c.clone());
        x.ok(c)
    };
    run(
        &mut x,
        Command::SetProductParams(Box::new(ProductParamsChange {
            initial_margin_bps: Some(1_800),
            maintenance_margin_bps: Some(1_400),
            price_limit_bps: Some(600),
            ..tkf()
        })),
    );
    assert_ne!(x.e.state_hash(), plain);
    run(&mut x, buy(1, 0, 1000, 2));
    run(
        &mut x,
        Command::SetProductParams(Box::new(ProductParamsChange {
            fee_taker_minor: Some(7),
            market_protection_ticks: Some(4),
            ..tkf()
        })),
    );
    let hash = x.e.state_hash();

    // Snapshot → restore: the same hash, and the same answers afterwards, including a new
    // month taking the kept values.
    let mut y = x.copy();
    assert_eq!(y.e.state_hash(), hash);
    let a = x.list(month(3, "TKF", 1000));
    let b = y.list(month(3, "TKF", 1000));
    assert_eq!(a, b);
    assert_eq!(x.e.state_hash(), y.e.state_hash());
    assert_eq!(y.inst(3).spec.initial_margin_bps, 1_800);
    assert_eq!(y.inst(3).spec.fee_taker_minor, 7);

    // Replay of the journal encoding from the start gives the same state.
    let mut z = Ex::new();
    for c in &journal {
        let bytes = codec::encode_command(T, c);
        let (_, decoded) = codec::decode_command(&bytes).unwrap();
        assert_eq!(&decoded, c);
        z.ok(decoded);
    }
    assert_eq!(z.e.state_hash(), hash);
}

#[test]
fn a_limit_locked_day_keeps_its_widening_on_the_new_limit() {
    let mut x = Ex::new();
    // Trade month 0 at its upper limit, settle: limit-locked, tomorrow's band 10% + 3%.
    x.ok(Command::NewOrder(NewOrder::limit(
        2,
        0,
        Side::Sell,
        1100,
        1,
    )));
    x.ok(buy(1, 0, 1100, 1));
    x.ok(Command::DailySettlement);
    assert!(x.inst(0).limit_locked);
    assert_eq!(x.inst(0).limit_bps, 1_300);
    x.set(ProductParamsChange {
        price_limit_bps: Some(500),
        ..tkf()
    });
    // 5% + 3% around the settlement price 1100: 1012..=1188.
    let i = x.inst(0);
    assert_eq!(
        (i.limit_bps, i.lower_limit.0, i.upper_limit.0),
        (800, 1012, 1188)
    );
    // Month 1 did not lock: plain 5% around 1000.
    assert_eq!(x.inst(1).limit_bps, 500);
}
