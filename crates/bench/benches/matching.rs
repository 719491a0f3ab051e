//! Criterion view of the throughput: the same seeded exchange-core stream through each
//! adapter, from a fresh prefilled book each iteration (the setup is not timed).
//!
//! ```text
//! cargo bench -p tokex-bench --bench matching
//! ```
//!
//! The side-by-side figures in BENCHMARKS.md come from the `tokex-bench` binary, which
//! interleaves the adapters in one run; this bench is for tracking one adapter over time.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tokex_bench::adapters::Kind;
use tokex_bench::workload::{generate, Config};

fn matching(c: &mut Criterion) {
    let w = generate(&Config {
        commands: 200_000,
        ..Config::default()
    });
    let mut g = c.benchmark_group("exchange_core_mix");
    g.throughput(Throughput::Elements(w.cmds.len() as u64));
    g.sample_size(10);
    for kind in Kind::ALL {
        g.bench_function(kind.name(), |b| {
            b.iter_batched(
                || kind.build(&w),
                |mut a| {
                    a.run(&w.cmds);
                    a
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
