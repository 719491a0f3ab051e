//! Golden file: every TPI fixing over the whole real history (2025-06-01 → 2026-10-26) from
//! the shipped definitions and the shipped model-prices snapshot. Regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p tokex-index --test golden`.

use tokex_index::import::snapshot;
use tokex_index::{
    compute_fixings, verify_fixing, DateRange, FixingStatus, IndexDefinition, Method,
};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/tpi-fixings.txt");

#[test]
fn tpi_fixings_over_the_real_history() {
    let (set, _) = snapshot::import_snapshot_file(
        format!("{ROOT}/data/model-prices/snapshot.json").as_ref(),
        &Default::default(),
    )
    .unwrap();
    let defs = IndexDefinition::load_dir(format!("{ROOT}/config/indexes")).unwrap();
    let ids: Vec<&str> = defs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["GCI-H100", "TPI-CN", "TPI-E", "TPI-F", "TPI-S"]);
    let range = DateRange::new("2025-06-01".parse().unwrap(), "2026-10-26".parse().unwrap());
    let mut out =
        String::from("# index date status average chained constituents exclusions hash(16)\n");
    for def in defs.iter().filter(|d| d.token().is_some()) {
        let fx = compute_fixings(def, &set, range).unwrap();
        assert_eq!(fx.len(), 513);
        for f in &fx {
            verify_fixing(f, def).unwrap();
            out.push_str(&format!(
                "{} {} {} {} {} {} {} {}\n",
                f.index_id,
                f.date,
                match f.status {
                    FixingStatus::Ok => "ok",
                    FixingStatus::InsufficientData => "insufficient",
                },
                f.value.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                f.value_of(Method::Chained)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                f.audit
                    .constituents
                    .iter()
                    .filter(|c| c.price.is_some())
                    .count(),
                f.audit.exclusions.len(),
                &f.audit.hash[..16]
            ));
        }
        // The settlement indexes have a value every day from their first sufficient fixing on.
        let first_ok = fx
            .iter()
            .position(|f| f.status == FixingStatus::Ok)
            .unwrap();
        assert!(fx[first_ok..].iter().all(|f| f.value.is_some()));
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &out).unwrap();
        return;
    }
    let want =
        std::fs::read_to_string(GOLDEN).expect("golden file missing: run with UPDATE_GOLDEN=1");
    if want != out {
        let diff = want.lines().zip(out.lines()).find(|(a, b)| a != b);
        panic!("TPI fixings differ from {GOLDEN} (first difference: {diff:?}); if intended, run with UPDATE_GOLDEN=1");
    }
}
