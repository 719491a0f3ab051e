//! Daily settlement of 1,000,000 accounts, each holding a 1-lot position.
//!
//! The state is built through the engine itself: 500,000 pairs of accounts, the even one
//! resting an offer of 1 lot at 990 + (k mod 21) ticks, the odd one lifting it. Two cases,
//! side by side in one run:
//! - `first`: the day's 500,000 trades settle at their VWAP, so nearly every account gets a
//!   non-zero variation-margin payment (a fresh copy of the state per sample, restored from a
//!   snapshot outside the timed part);
//! - `steady`: a day with no trades, settling the same positions again (VM of zero, but every
//!   position is still walked, re-based and margin-checked).
//!
//! Run: `cargo bench -p tokex-engine --bench settlement`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::time::Duration;
use tokex_engine::*;
use tokex_types::*;

const ACCOUNTS: u32 = 1_000_000;

fn build() -> Engine {
    let mut e = Engine::new();
    let mut out = Vec::new();
    let t = Timestamp(1);
    let mut apply = |e: &mut Engine, c: &Command| {
        out.clear();
        e.apply_into(t, c, &mut out).expect("setup command");
    };
    apply(
        &mut e,
        &Command::ListInstrument(Box::new(InstrumentSpec::for_tests(0, 1000))),
    );
    apply(
        &mut e,
        &Command::SetPhase {
            instrument: InstrumentId(0),
            phase: Phase::Continuous,
        },
    );
    for a in 0..ACCOUNTS {
        e.open_account(a, Role::Trader);
        apply(
            &mut e,
            &Command::Deposit {
                account: AccountId(a),
                currency: Currency::Usd,
                amount: Money(100_000),
            },
        );
    }
    for k in 0..ACCOUNTS / 2 {
        let price = 990 + (k % 21) as i64;
        apply(
            &mut e,
            &Command::NewOrder(NewOrder::limit(2 * k, 0, Side::Sell, price, 1)),
        );
        apply(
            &mut e,
            &Command::NewOrder(NewOrder::limit(2 * k + 1, 0, Side::Buy, price, 1)),
        );
    }
    e
}

fn settle(e: &mut Engine, out: &mut Vec<Event>) -> usize {
    out.clear();
    e.apply_into(e.now(), &Command::DailySettlement, out)
        .expect("settlement");
    out.len()
}

fn bench(c: &mut Criterion) {
    let built = std::time::Instant::now();
    let fresh = build();
    let snap = fresh.snapshot();
    eprintln!(
        "setup: {ACCOUNTS} accounts with positions built in {:.1} s, snapshot {} MB",
        built.elapsed().as_secs_f64(),
        snap.len() >> 20
    );
    let mut g = c.benchmark_group("daily_settlement_1m_accounts");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let mut out = Vec::with_capacity(ACCOUNTS as usize + 16);
    g.bench_function("first", |b| {
        b.iter_batched(
            || Engine::restore(&snap).expect("restore"),
            |mut e| {
                let n = settle(&mut e, &mut out);
                assert!(n >= ACCOUNTS as usize);
                e
            },
            BatchSize::PerIteration,
        )
    });
    let mut steady = fresh;
    settle(&mut steady, &mut out);
    steady
        .check_invariants()
        .expect("invariants after settlement");
    g.bench_function("steady", |b| b.iter(|| settle(&mut steady, &mut out)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
