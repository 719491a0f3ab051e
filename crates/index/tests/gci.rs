//! GPU compute index: normalisation, trim, contributor cap, volume-weighted median.

mod common;

use common::*;
use tokex_index::fixing::ExclusionReason;
use tokex_index::{
    compute_fixings, verify_fixing, DateRange, FixingStatus, GpuObservation, IndexDefinition,
    LeaseType, ObservationSet,
};

fn def(min_obs: u32) -> IndexDefinition {
    let t = format!(
        r#"id = "GCI-T"
name = "test"
kind = "gpu"
definition_version = 1
method_version = "gci-1"
unit = "USD per GPU-hour"
currency = "USD"
methods = ["weighted_median"]
base_date = "2026-01-05"
fixing_time_utc = "08:00"
decimals = 6
[gpu]
gpu_model = "H100"
window_hours = 24
trim_fraction = "0.10"
contributor_cap = "0.50"
min_observations = {min_obs}
min_contributors = 2
[gpu.lease_factors]
on_demand = "1"
spot = "1.5"
"#
    );
    IndexDefinition::from_toml_str(&t, "gci.toml", &|_: &str| Err("none".into())).unwrap()
}

fn o(provider: &str, lease: LeaseType, price: &str, count: u32, i: u32) -> GpuObservation {
    GpuObservation {
        source: "test".into(),
        provider: provider.into(),
        gpu_model: "H100".into(),
        region: "r".into(),
        lease,
        price: d(price),
        gpu_count: count,
        observed_at: ts("2026-01-05T01:00:00Z") + chrono::Duration::minutes(i as i64),
        origin: format!("row {i}"),
    }
}

fn sample() -> Vec<GpuObservation> {
    use LeaseType::*;
    vec![
        o("big", OnDemand, "2.00", 100, 0),
        o("big", OnDemand, "2.10", 100, 1),
        o("big", OnDemand, "2.20", 100, 2),
        o("mid", Spot, "1.40", 10, 3), // → 2.10 on-demand equivalent
        o("mid", OnDemand, "2.50", 10, 4),
        o("mid", OnDemand, "2.60", 10, 5),
        o("small", OnDemand, "2.40", 10, 6),
        o("small", OnDemand, "0.50", 10, 7), // fat finger: trimmed
        o("small", OnDemand, "9.00", 10, 8), // fat finger: trimmed
        o("small", Spot, "1.60", 10, 9),     // → 2.40
    ]
}

#[test]
fn trim_cap_and_weighted_median() {
    let def = def(3);
    let set = ObservationSet {
        gpu: sample(),
        ..Default::default()
    };
    let fx = compute_fixings(
        &def,
        &set,
        DateRange::new(date("2026-01-05"), date("2026-01-05")),
    )
    .unwrap();
    let f = &fx[0];
    verify_fixing(f, &def).unwrap();
    let g = f.audit.gpu.as_ref().unwrap();
    assert_eq!(g.trim_count_each_end, 1);
    let trimmed: Vec<_> = f
        .audit
        .exclusions
        .iter()
        .filter(|e| e.reason == ExclusionReason::Trimmed)
        .map(|e| e.detail.clone())
        .collect();
    assert_eq!(trimmed.len(), 2);
    assert!(
        trimmed[0].contains("bottom 0.50") && trimmed[1].contains("top 9.00"),
        "{trimmed:?}"
    );
    // "big" has 300 of 350 GPUs kept: capped to 50% (scaled to the others' 50).
    assert_eq!(g.contributor_scales.len(), 1);
    assert_eq!(g.contributor_scales[0].0, "big");
    // Capped: cumulative volume reaches half at 2.20. Uncapped it would be 2.10.
    assert_eq!(f.value, Some(d("2.200000")));
    let uncapped: Vec<_> = g
        .kept
        .iter()
        .map(|q| (q.normalised, rust_decimal::Decimal::from(q.gpu_count)))
        .collect();
    assert_eq!(tokex_index::gci::weighted_median(&uncapped), d("2.10"));
}

#[test]
fn insufficient_observations_flagged() {
    let def = def(20);
    let set = ObservationSet {
        gpu: sample(),
        ..Default::default()
    };
    let fx = compute_fixings(
        &def,
        &set,
        DateRange::new(date("2026-01-05"), date("2026-01-06")),
    )
    .unwrap();
    assert!(fx
        .iter()
        .all(|f| f.status == FixingStatus::InsufficientData && f.value.is_none()));
}

#[test]
fn synthetic_data_round_trips_through_the_csv_importer() {
    let range = DateRange::new(date("2026-01-01"), date("2026-01-10"));
    let gen = tokex_index::synthetic_gpu_observations(42, "H100", range, 30);
    let csv = tokex_index::gci::gpu_observations_to_csv(&gen);
    assert!(csv.starts_with("# SYNTHETIC DATA"));
    let (set, rep) = tokex_index::import::csv::import_gpu_csv(&csv, "synthetic.csv").unwrap();
    assert_eq!(rep.observations, 300);
    let back: Vec<_> = set
        .gpu
        .iter()
        .map(|o| (o.provider.clone(), o.price, o.gpu_count, o.observed_at))
        .collect();
    let orig: Vec<_> = gen
        .iter()
        .map(|o| (o.provider.clone(), o.price, o.gpu_count, o.observed_at))
        .collect();
    assert_eq!(back, orig);
    assert!(set.gpu.iter().all(|o| o.source.contains("NOT REAL DATA")));
    let real = IndexDefinition::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/indexes/GCI-H100.toml"
    ))
    .unwrap();
    let fx = compute_fixings(
        &real,
        &set,
        DateRange::new(date("2026-01-02"), date("2026-01-10")),
    )
    .unwrap();
    for f in &fx {
        assert_eq!(f.status, FixingStatus::Ok);
        verify_fixing(f, &real).unwrap();
        let v = f.value.unwrap();
        assert!(v > d("2") && v < d("3"), "{v}");
    }
}
