//! Times the full TPI history once (a quick check; the criterion bench is the reference).
use std::time::Instant;
fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let t0 = Instant::now();
    let (set, _) = tokex_index::import::snapshot::import_snapshot_file(
        format!("{root}/data/model-prices/snapshot.json").as_ref(),
        &Default::default(),
    )
    .unwrap();
    let t1 = Instant::now();
    let defs = tokex_index::IndexDefinition::load_dir(format!("{root}/config/indexes")).unwrap();
    let range =
        tokex_index::DateRange::new("2025-06-01".parse().unwrap(), "2026-10-26".parse().unwrap());
    let t2 = Instant::now();
    let mut n = 0;
    for d in defs.iter().filter(|d| d.token().is_some()) {
        n += tokex_index::compute_fixings(d, &set, range).unwrap().len();
    }
    let t3 = Instant::now();
    println!(
        "import {:?}, defs {:?}, {n} fixings {:?}",
        t1 - t0,
        t2 - t1,
        t3 - t2
    );
}
