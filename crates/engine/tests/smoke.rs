use tokex_engine::*;
use tokex_types::*;

fn setup() -> Engine {
    let mut e = Engine::new();
    e.apply(
        1,
        Timestamp(1),
        &Command::ListInstrument(Box::new(InstrumentSpec::for_tests(0, 1000))),
    );
    for a in 1..=3 {
        e.open_account(a, Role::Trader);
        let r = e.apply(
            1,
            Timestamp(1),
            &Command::Deposit {
                account: AccountId(a),
                currency: Currency::Usd,
                amount: Money(100_000_000),
            },
        );
        assert!(r.result.is_ok());
    }
    let r = e.apply(
        2,
        Timestamp(2),
        &Command::SetPhase {
            instrument: InstrumentId(0),
            phase: Phase::Continuous,
        },
    );
    assert!(r.result.is_ok());
    e
}

#[test]
fn limit_orders_match_at_resting_price() {
    let mut e = setup();
    let o = e.apply(
        3,
        Timestamp(3),
        &Command::NewOrder(NewOrder::limit(1, 0, Side::Sell, 1001, 5)),
    );
    assert!(o.result.is_ok(), "{o:?}");
    let o = e.apply(
        4,
        Timestamp(4),
        &Command::NewOrder(NewOrder::limit(2, 0, Side::Buy, 1003, 3)),
    );
    let trades: Vec<_> = o
        .events
        .iter()
        .filter(|e| matches!(e, Event::Trade { .. }))
        .collect();
    assert_eq!(trades.len(), 1);
    if let Event::Trade { price, qty, .. } = trades[0] {
        assert_eq!((*price, *qty), (Price(1001), Qty(3)));
    }
    e.check_invariants().unwrap();
    let h = e.state_hash();
    let r = Engine::restore(&e.snapshot()).unwrap();
    assert_eq!(r.state_hash(), h);
    // rejected command changes nothing
    let o = e.apply(
        5,
        Timestamp(4),
        &Command::NewOrder(NewOrder::limit(2, 0, Side::Buy, 5000, 3)),
    );
    assert_eq!(o.result.unwrap_err().code, RejectCode::PriceOutsideLimits);
    assert_eq!(e.state_hash(), h);
}
