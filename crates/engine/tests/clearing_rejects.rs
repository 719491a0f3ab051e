//! Bad input to clearing and pre-trade risk: every rejection names its code and leaves the
//! state hash unchanged (commands are applied at the engine's current time, so the clock does
//! not move either).

use tokex_engine::*;
use tokex_types::*;

/// 2026-12-15 00:00 UTC: December 2026 is the spot month of the test contracts.
const DEC_15: Timestamp = Timestamp(1_797_292_800_000_000_000);
/// 2026-06-01 00:00 UTC: not the spot month.
const JUN_1: Timestamp = Timestamp(1_780_272_000_000_000_000);

struct Fx {
    e: Engine,
    t: Timestamp,
}

impl Fx {
    fn new(t: Timestamp, specs: Vec<InstrumentSpec>) -> Fx {
        let mut e = Engine::new();
        for s in specs {
            let id = s.id;
            assert!(e
                .apply(0, t, &Command::ListInstrument(Box::new(s)))
                .result
                .is_ok());
            let ph = Command::SetPhase {
                instrument: id,
                phase: Phase::Continuous,
            };
            assert!(e.apply(0, t, &ph).result.is_ok());
        }
        let mut f = Fx { e, t };
        f.account(1, Role::Trader, 10_000_000);
        f.account(2, Role::Trader, 10_000_000);
        f.account(8, Role::Operator, 0);
        f.account(9, Role::InsuranceFund, 1_000_000);
        f
    }

    fn account(&mut self, id: u32, role: Role, cents: i64) {
        self.e.open_account(id, role);
        if cents > 0 {
            self.ok(Command::Deposit {
                account: AccountId(id),
                currency: Currency::Usd,
                amount: Money(cents),
            });
        }
    }

    fn ok(&mut self, c: Command) {
        let o = self.e.apply(0, self.t, &c);
        assert!(o.result.is_ok(), "{c:?}: {:?}", o.result);
        self.e.check_invariants().unwrap();
    }

    /// Applies `c`, expects `code`, and checks that nothing changed.
    fn rejects(&mut self, c: Command, code: RejectCode) {
        let before = self.e.state_hash();
        let o = self.e.apply(0, self.t, &c);
        let err = o.result.expect_err(&format!("{c:?} was accepted"));
        assert_eq!(err.code, code, "{c:?}: {err}");
        assert!(o.events.is_empty(), "a rejection emitted {:?}", o.events);
        assert_eq!(self.e.state_hash(), before, "{c:?} changed the state");
        self.e.check_invariants().unwrap();
    }
}

fn base() -> Fx {
    Fx::new(JUN_1, vec![InstrumentSpec::for_tests(0, 1000)])
}

fn order(a: u32, i: u32, side: Side, price: i64, qty: u64) -> Command {
    Command::NewOrder(NewOrder::limit(a, i, side, price, qty))
}

fn usd(account: u32, cents: i64) -> (AccountId, Currency, Money) {
    (AccountId(account), Currency::Usd, Money(cents))
}

fn deposit(account: u32, cents: i64) -> Command {
    let (account, currency, amount) = usd(account, cents);
    Command::Deposit {
        account,
        currency,
        amount,
    }
}

fn withdraw(account: u32, cents: i64) -> Command {
    let (account, currency, amount) = usd(account, cents);
    Command::Withdraw {
        account,
        currency,
        amount,
    }
}

#[test]
fn unknown_account() {
    let mut f = base();
    f.rejects(deposit(77, 100), RejectCode::UnknownAccount);
    f.rejects(withdraw(77, 100), RejectCode::UnknownAccount);
    f.rejects(order(77, 0, Side::Buy, 1000, 1), RejectCode::UnknownAccount);
}

#[test]
fn invalid_amount() {
    let mut f = base();
    f.rejects(deposit(1, 0), RejectCode::InvalidAmount);
    f.rejects(deposit(1, -5), RejectCode::InvalidAmount);
    f.rejects(withdraw(1, 0), RejectCode::InvalidAmount);
    f.rejects(withdraw(1, i64::MIN), RejectCode::InvalidAmount);
}

#[test]
fn insufficient_funds() {
    let mut f = base();
    // More than the cash.
    f.rejects(withdraw(1, 10_000_001), RejectCode::InsufficientFunds);
    // No CNY at all.
    f.rejects(
        Command::Withdraw {
            account: AccountId(1),
            currency: Currency::Cny,
            amount: Money(1),
        },
        RejectCode::InsufficientFunds,
    );
    // Within the cash but below the margin requirement: a working bid of 100 lots needs
    // 100 × 12,000 = 1,200,000 cents of initial margin, so at most 8,800,000 may leave.
    f.ok(order(1, 0, Side::Buy, 990, 100));
    f.rejects(withdraw(1, 8_800_001), RejectCode::InsufficientFunds);
    f.ok(withdraw(1, 8_800_000));
}

#[test]
fn insufficient_margin() {
    let mut f = base();
    f.account(3, Role::Trader, 12_000); // exactly one lot at 12% of 1000 × 1.00 USD
    f.ok(order(3, 0, Side::Buy, 990, 1));
    // A second bid makes the worst case 2 lots: 24,000 > 12,000.
    f.rejects(
        order(3, 0, Side::Buy, 990, 1),
        RejectCode::InsufficientMargin,
    );
    // A market order counts too.
    f.rejects(
        Command::NewOrder(NewOrder::market(3, 0, Side::Buy, 1)),
        RejectCode::InsufficientMargin,
    );
    // An offer of 1 is within the worst case (max(|0+1|, |0−1|) = 1): accepted.
    f.ok(order(3, 0, Side::Sell, 1010, 1));
    // An offer of 2 makes it 2: refused.
    f.rejects(
        order(3, 0, Side::Sell, 1010, 1),
        RejectCode::InsufficientMargin,
    );
    // Amending the bid up to 2 lots is refused as well.
    f.rejects(
        Command::Amend(Amend {
            account: AccountId(3),
            instrument: InstrumentId(0),
            order: OrderRef::Id(OrderId(1)),
            price: None,
            qty: Some(Qty(2)),
            stop_price: None,
        }),
        RejectCode::InsufficientMargin,
    );
}

#[test]
fn insufficient_margin_while_liquidating() {
    // An account whose liquidation cannot finish (no bids) may not enter new orders.
    let mut s = InstrumentSpec::for_tests(0, 1000);
    s.price_limit_bps = 2_000;
    let mut f = Fx::new(JUN_1, vec![s]);
    f.account(3, Role::Trader, 130_000);
    f.ok(order(2, 0, Side::Sell, 1000, 10));
    f.ok(order(3, 0, Side::Buy, 1000, 10));
    f.ok(order(2, 0, Side::Sell, 850, 1));
    f.ok(order(1, 0, Side::Buy, 850, 1)); // last price 850: account 3 is far below threshold
    f.ok(Command::RiskSweep);
    assert!(f.e.account(AccountId(3)).unwrap().liquidating);
    // A sell would reduce exposure, but a liquidating account enters nothing.
    f.rejects(
        order(3, 0, Side::Sell, 900, 1),
        RejectCode::InsufficientMargin,
    );
}

#[test]
fn position_limit_all_months() {
    let mut a = InstrumentSpec::for_tests(0, 1000);
    a.position_limit_all_months = 10;
    let mut b = InstrumentSpec::for_tests(1, 1000);
    b.month = 11;
    b.symbol = "TEST-1".into();
    b.position_limit_all_months = 10;
    let mut f = Fx::new(JUN_1, vec![a, b]);
    f.ok(order(1, 0, Side::Buy, 990, 6));
    // 6 working in one month + 5 in another = 11 > 10.
    f.rejects(order(1, 1, Side::Buy, 990, 5), RejectCode::PositionLimit);
    f.rejects(order(1, 0, Side::Buy, 990, 5), RejectCode::PositionLimit);
    f.ok(order(1, 1, Side::Buy, 990, 4));
    // An offer does not raise the worst case (max(|10|, |−1|) per month is unchanged).
    f.ok(order(1, 0, Side::Sell, 1010, 1));
}

#[test]
fn position_limit_spot_month() {
    let mut s = InstrumentSpec::for_tests(0, 1000);
    s.position_limit_spot_month = 5;
    let mut f = Fx::new(DEC_15, vec![s.clone()]);
    f.ok(order(1, 0, Side::Sell, 1010, 5));
    f.rejects(order(1, 0, Side::Sell, 1010, 1), RejectCode::PositionLimit);
    // Outside the spot month the same order is fine.
    let mut g = Fx::new(JUN_1, vec![s]);
    g.ok(order(1, 0, Side::Sell, 1010, 5));
    g.ok(order(1, 0, Side::Sell, 1010, 1));
}

#[test]
fn order_too_large() {
    let mut s = InstrumentSpec::for_tests(0, 1000);
    s.order_qty_max = Qty(50);
    let mut f = Fx::new(JUN_1, vec![s]);
    f.rejects(order(1, 0, Side::Buy, 1000, 51), RejectCode::OrderTooLarge);
    f.ok(order(1, 0, Side::Buy, 990, 50));
    f.rejects(
        Command::Amend(Amend {
            account: AccountId(1),
            instrument: InstrumentId(0),
            order: OrderRef::Id(OrderId(1)),
            price: None,
            qty: Some(Qty(51)),
            stop_price: None,
        }),
        RejectCode::OrderTooLarge,
    );
}

#[test]
fn account_role_cannot_trade() {
    let mut f = base();
    f.rejects(
        order(9, 0, Side::Buy, 1000, 1),
        RejectCode::AccountRoleCannotTrade,
    );
    f.rejects(
        order(8, 0, Side::Sell, 1000, 1),
        RejectCode::AccountRoleCannotTrade,
    );
}

#[test]
fn invalid_fixing() {
    let mut f = base();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let fixing = |index: &str, value_e6: i64| Command::IndexFixing {
        index: index.into(),
        date: day,
        value_e6,
    };
    f.rejects(fixing("TPI-F", 0), RejectCode::InvalidFixing);
    f.rejects(fixing("TPI-F", -1_000_000), RejectCode::InvalidFixing);
    f.rejects(fixing("", 1_000_000), RejectCode::InvalidFixing);
    f.rejects(fixing("TPI F", 1_000_000), RejectCode::InvalidFixing);
    f.rejects(
        fixing(&"X".repeat(33), 1_000_000),
        RejectCode::InvalidFixing,
    );
    f.ok(fixing(&"X".repeat(32), 1_000_000));
}

#[test]
fn expire_unknown_or_expired_instrument() {
    let mut f = base();
    f.rejects(
        Command::Expire {
            instrument: InstrumentId(5),
        },
        RejectCode::UnknownInstrument,
    );
    f.ok(Command::Expire {
        instrument: InstrumentId(0),
    });
    f.rejects(
        Command::Expire {
            instrument: InstrumentId(0),
        },
        RejectCode::MarketClosed,
    );
}

#[test]
fn too_many_orders() {
    let limit = tokex_types::limits::ORDERS_PER_ACCOUNT_MAX;
    let mut f = base();
    // 1-lot bids spread over 900..=999; the worst case reaches `limit` lots, whose margin
    // (limit × 12,000 cents) the deposit covers.
    f.account(3, Role::Trader, limit as i64 * 12_000 + 100_000);
    for k in 0..limit {
        let c = order(3, 0, Side::Buy, 900 + (k % 100) as i64, 1);
        assert!(f.e.apply(0, f.t, &c).result.is_ok());
    }
    f.e.check_invariants().unwrap();
    assert_eq!(f.e.account(AccountId(3)).unwrap().working_orders, limit);
    f.rejects(order(3, 0, Side::Sell, 1010, 1), RejectCode::TooManyOrders);
}
