//! All TPI fixings over the whole real history (2025-06-01 → 2026-10-26: 4 indexes × 513 days,
//! each with its audit record and sha256), from the shipped definitions and snapshot.
//! Goal (SPEC §10): < 100 ms. Run: `cargo bench -p tokex-index --bench fixings`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tokex_index::import::snapshot;
use tokex_index::{
    compute_fixings, synthetic_gpu_observations, DateRange, IndexDefinition, ObservationSet,
};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn history(c: &mut Criterion) {
    let snap = format!("{ROOT}/data/model-prices/snapshot.json");
    let text = std::fs::read_to_string(&snap).unwrap();
    let defs = IndexDefinition::load_dir(format!("{ROOT}/config/indexes")).unwrap();
    let tpis: Vec<_> = defs
        .iter()
        .filter(|d| d.token().is_some())
        .cloned()
        .collect();
    let gci = defs.iter().find(|d| d.gpu().is_some()).unwrap().clone();
    let range = DateRange::new("2025-06-01".parse().unwrap(), "2026-10-26".parse().unwrap());
    let (set, _) = snapshot::import_snapshot(&text, "snapshot.json", &Default::default()).unwrap();

    let mut g = c.benchmark_group("index");
    g.sample_size(30);
    g.bench_function("tpi_all_fixings_real_history", |b| {
        b.iter(|| {
            let mut n = 0;
            for d in &tpis {
                n += compute_fixings(d, black_box(&set), range).unwrap().len();
            }
            assert_eq!(n, 4 * 513);
            n
        })
    });
    g.bench_function("snapshot_import", |b| {
        b.iter(|| {
            snapshot::import_snapshot(black_box(&text), "snapshot.json", &Default::default())
                .unwrap()
                .0
                .prices
                .len()
        })
    });
    g.bench_function("import_and_tpi_all_fixings", |b| {
        b.iter(|| {
            let (set, _) =
                snapshot::import_snapshot(black_box(&text), "snapshot.json", &Default::default())
                    .unwrap();
            tpis.iter()
                .map(|d| compute_fixings(d, &set, range).unwrap().len())
                .sum::<usize>()
        })
    });
    let gpu_range = DateRange::new("2026-01-01".parse().unwrap(), "2026-10-26".parse().unwrap());
    let gpu = ObservationSet {
        gpu: synthetic_gpu_observations(42, "H100", gpu_range, 40),
        ..Default::default()
    };
    g.bench_function("gci_h100_synthetic_299_days_40_per_day", |b| {
        b.iter(|| {
            compute_fixings(&gci, black_box(&gpu), gpu_range)
                .unwrap()
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
