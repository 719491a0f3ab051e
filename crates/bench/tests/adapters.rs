//! Every adapter, on a short stream, does exactly the work the reference model says: the same
//! trades, the same contracts, no refused command. Catches a broken adapter or a generator
//! that drifts from the books' semantics. Times nothing.

use tokex_bench::adapters::{Kind, TokexEngine};
use tokex_bench::workload::{generate, Cmd, Config};

fn short() -> Config {
    Config {
        seed: 7,
        commands: 20_000,
        ..Config::default()
    }
}

#[test]
fn every_adapter_reproduces_the_reference_trades() {
    let w = generate(&short());
    let ex = &w.expected;
    assert!(ex.trades > 100, "the stream must trade: {ex:?}");
    for kind in Kind::ALL {
        let mut a = kind.build(&w);
        let before = a.stats();
        a.run(&w.cmds);
        let s = a.stats();
        assert_eq!(s.rejects, 0, "{}: refused commands", kind.name());
        assert_eq!(
            (s.trades - before.trades, s.traded_qty - before.traded_qty),
            (ex.trades, ex.traded_qty),
            "{}: trades and contracts differ from the reference model",
            kind.name()
        );
        if let Some(n) = a.resting() {
            assert_eq!(n, ex.resting_at_end, "{}: resting orders", kind.name());
        }
    }
}

#[test]
fn workload_is_deterministic_and_has_the_mix() {
    let a = generate(&short());
    let b = generate(&short());
    assert_eq!(a.cmds, b.cmds);
    assert_eq!(a.expected, b.expected);
    let n = a.cmds.len() as u64;
    let ex = &a.expected;
    for (what, count, per_mille) in [
        ("move", ex.moves, 820),
        ("new", ex.news, 90),
        ("cancel", ex.cancels, 60),
        ("ioc", ex.iocs, 30),
    ] {
        let got = count * 1_000 / n;
        assert!(got.abs_diff(per_mille) <= 10, "{what}: {got}‰ {ex:?}");
    }
    let moves = a
        .cmds
        .iter()
        .filter(|c| matches!(c, Cmd::Move { .. }))
        .count() as u64;
    assert_eq!(moves, ex.moves);
    assert!((500..=1_500).contains(&ex.resting_mean), "{ex:?}");
}

#[test]
fn the_engine_assigns_the_stream_order_ids() {
    // The engine adapter relies on the engine numbering orders 1, 2, 3, … in arrival order.
    let w = generate(&Config {
        commands: 2_000,
        ..short()
    });
    let mut e = TokexEngine::new(w.config.reference, w.config.accounts);
    tokex_bench::adapters::Adapter::run(&mut e, &w.prefill);
    let book = &e
        .engine()
        .instrument(tokex_types::InstrumentId(0))
        .unwrap()
        .book;
    for c in &w.prefill {
        if let Cmd::New { id, .. } = c {
            assert!(book.contains(tokex_types::OrderId(*id)), "order {id}");
        }
    }
}
