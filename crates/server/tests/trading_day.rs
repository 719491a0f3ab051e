//! A whole simulated trading day on the SHFE-like calendar, run by the exchange itself on a
//! simulated clock: the pre-open auction uncrosses, continuous trading, the day ends with a
//! daily settlement; then the journal replays to the live state's hash.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokex_engine::{Command, Engine, Event, NewOrder, Phase, Role, StpMode};
use tokex_server::config::ServerConfig;
use tokex_server::Exchange;
use tokex_types::{AccountId, Currency, InstrumentId, Money, Side, Timestamp};

fn wait_until(
    h: &tokex_server::ExchangeHandle,
    what: &str,
    f: impl Fn(&Engine) -> bool + Send + Sync + Clone + 'static,
) {
    let t0 = Instant::now();
    loop {
        let g = f.clone();
        if h.query_blocking(move |e| g(e)).unwrap() {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_trading_day_runs_itself_and_replays_to_the_same_hash() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("tokex-day-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = ServerConfig {
        data_dir: dir.clone(),
        products: root.join("config/products.toml"),
        indexes: root.join("config/indexes"),
        model_prices: root.join("data/model-prices/snapshot.json"),
        history: false,
        ..ServerConfig::default()
    };
    // Tuesday 2026-03-03, 08:40 in Shanghai (00:40 UTC); every look at the clock moves it 30 s.
    let start = Timestamp(
        chrono::NaiveDate::from_ymd_opt(2026, 3, 3)
            .unwrap()
            .and_hms_opt(0, 40, 0)
            .unwrap()
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap() as u64,
    );
    let clock = Arc::new(AtomicU64::new(start.0));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (c, run) = (clock.clone(), running.clone());
    let tick = move || {
        Timestamp(if run.load(Ordering::Relaxed) {
            c.fetch_add(30_000_000_000, Ordering::Relaxed)
        } else {
            c.load(Ordering::Relaxed)
        })
    };
    let ex = Exchange::start_with_clock(&config, Box::new(tick)).expect("start");
    let h = ex.handle.clone();
    let mut rx = h.subscribe();
    let front = InstrumentId(0);
    for a in [1u32, 2] {
        h.submit_blocking(Command::CreateAccount {
            account: AccountId(a),
            role: Role::Trader,
            stp: StpMode::CancelResting,
        })
        .unwrap();
        h.submit_blocking(Command::Deposit {
            account: AccountId(a),
            currency: Currency::Usd,
            amount: Money(100_000_000),
        })
        .unwrap();
    }
    // The pre-open auction: crossing orders rest, nothing trades.
    wait_until(&h, "the pre-open", move |e| {
        e.instrument(front)
            .is_some_and(|i| i.phase == Phase::PreOpen)
    });
    let r = h
        .query_blocking(move |e| e.instrument(front).unwrap().reference_price.0)
        .unwrap();
    for (acct, side, px) in [
        (1, Side::Buy, r + 5),
        (2, Side::Sell, r - 5),
        (2, Side::Sell, r + 2),
    ] {
        let o = h
            .submit_blocking(Command::NewOrder(NewOrder::limit(acct, 0, side, px, 3)))
            .unwrap();
        assert!(o.result.is_ok(), "{o:?}");
    }
    // Continuous trading after the uncross.
    wait_until(&h, "continuous trading", move |e| {
        e.instrument(front)
            .is_some_and(|i| i.phase == Phase::Continuous)
    });
    let o = h
        .submit_blocking(Command::NewOrder(NewOrder::limit(
            1,
            0,
            Side::Buy,
            r + 2,
            1,
        )))
        .unwrap();
    assert!(
        o.events.iter().any(|e| matches!(e, Event::Trade { .. })),
        "{o:?}"
    );
    // The day ends: settlement.
    wait_until(&h, "the daily settlement", move |e| {
        e.instrument(front)
            .is_some_and(|i| i.day.volume == 0 && i.reference_price.0 != r)
    });
    // Stop the clock so nothing more falls due, then take the live state's hash.
    running.store(false, Ordering::Relaxed);
    h.submit_blocking(Command::Tick).unwrap();
    let live = h.query_blocking(|e| e.state_hash()).unwrap();
    h.shutdown();
    ex.thread.join().unwrap().unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    while let Ok(b) = rx.try_recv() {
        for a in &b.items {
            for e in &a.outcome.events {
                kinds.insert(match e {
                    Event::AuctionUncrossed { price: Some(_), .. } => "uncross",
                    Event::Trade {
                        aggressor: None, ..
                    } => "auction trade",
                    Event::Trade {
                        aggressor: Some(_), ..
                    } => "continuous trade",
                    Event::Settled { .. } => "settlement",
                    Event::PhaseChanged {
                        phase: Phase::Break,
                        ..
                    } => "break",
                    Event::OrderCancelled {
                        reason: tokex_engine::CancelReason::Expired,
                        ..
                    } => "day order expired",
                    _ => continue,
                });
            }
        }
    }
    for k in [
        "uncross",
        "auction trade",
        "continuous trade",
        "break",
        "settlement",
    ] {
        assert!(kinds.contains(k), "no {k} in the day: {kinds:?}");
    }
    let (replayed, report) = tokex_server::recovery::replay(&dir.join("journal")).unwrap();
    assert!(
        report.snapshot_seq.is_some(),
        "a clean stop writes a snapshot"
    );
    assert_eq!(
        replayed.state_hash(),
        live,
        "the journal does not replay to the live state"
    );
    replayed.check_invariants().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
