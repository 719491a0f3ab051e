//! Worked examples, one per data rule (SPEC §1): each builds a tiny basket in memory and checks
//! the fixing and its audit record.

mod common;

use common::*;
use tokex_index::fixing::ExclusionReason as R;
use tokex_index::{
    compute_fixings, verify_fixing, DateRange, Fixing, FixingStatus, Method, ObservationSet,
    PriceState,
};

const ABC: &[&str] = &["a/x", "b/y", "c/z"];

fn run(
    def: &tokex_index::IndexDefinition,
    set: &ObservationSet,
    from: &str,
    to: &str,
) -> Vec<Fixing> {
    let fx = compute_fixings(def, set, DateRange::new(date(from), date(to))).unwrap();
    for f in &fx {
        verify_fixing(f, def).unwrap();
    }
    fx
}

fn on<'a>(fx: &'a [Fixing], day: &str) -> &'a Fixing {
    fx.iter().find(|f| f.date == date(day)).unwrap()
}

fn three_models() -> ObservationSet {
    ObservationSet {
        prices: vec![
            flat("s", "a/x", "2025-12-01T00:00:00Z", "2"),
            flat("s", "b/y", "2025-12-01T00:00:00Z", "4"),
            flat("s", "c/z", "2025-12-01T00:00:00Z", "6"),
        ],
        ..Default::default()
    }
}

fn has(f: &Fixing, model: &str, reason: R) -> bool {
    f.audit
        .exclusions
        .iter()
        .any(|e| e.subject == model && e.reason == reason)
}

#[test]
fn blended_price_is_three_to_one() {
    let def = token_def(&[("2026-01-01", &["a/x", "b/y", "c/z"])], 1, 3);
    let mut set = three_models();
    set.prices[0] = obs("s", "a/x", "2025-12-01T00:00:00Z", "1", "5"); // (3·1 + 5)/4 = 2
    let fx = run(&def, &set, "2026-01-02", "2026-01-02");
    assert_eq!(fx[0].audit.constituents[0].price, Some(d("2")));
    assert_eq!(fx[0].value, Some(d("4.000000")));
}

#[test]
fn zero_price_is_a_promotion_and_excluded() {
    let def = token_def(&[("2026-01-01", ABC)], 2, 3);
    let mut set = three_models();
    set.prices
        .push(flat("s", "b/y", "2026-01-10T00:00:00Z", "0"));
    set.prices
        .push(flat("s", "b/y", "2026-01-11T00:00:00Z", "4"));
    let fx = run(&def, &set, "2026-01-09", "2026-01-11");
    let f = on(&fx, "2026-01-10");
    assert!(has(f, "b/y", R::ZeroPrice));
    // Not a price: b/y carries its last valid price, the index does not drop.
    let c = &f.audit.constituents[1];
    assert_eq!(
        c.state,
        PriceState::Carried {
            since: date("2026-01-09")
        }
    );
    assert_eq!(c.price, Some(d("4")));
    assert_eq!(f.value, on(&fx, "2026-01-09").value);
    assert_eq!(
        on(&fx, "2026-01-11").audit.constituents[1].state,
        PriceState::Fresh
    );
}

#[test]
fn latest_alias_is_never_a_constituent() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/indexes/TPI-S.toml"
    ))
    .unwrap();
    let bad = text.replacen("\"openai/gpt-4.1\"", "\"mistral/mistral-medium-latest\"", 1);
    let err = tokex_index::IndexDefinition::from_toml_str(&bad, "TPI-S.toml", &|_: &str| {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/indexes/usage-shares.toml"
        ))
        .map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert!(
        err.message
            .contains("mistral/mistral-medium-latest is a `-latest` alias"),
        "{err}"
    );
    assert!(tokex_index::ModelId::parse("openai/chat-latest")
        .unwrap()
        .is_alias());
    assert!(!tokex_index::ModelId::parse("openai/gpt-5.2")
        .unwrap()
        .is_alias());
}

#[test]
fn model_not_priced_before_its_first_start() {
    // The snapshot's first interval has start: null and back-fills to the beginning of time;
    // the importer places it at its valid_from instead.
    let snap = r#"{"updated_at": "2026-10-26T00:00:00Z", "prices": {"p": {"m": {"standard": [
        {"start": null, "rates": {"input": 1.0, "output": 1.0, "valid_from": "2026-01-20T12:00:00Z", "source": "x", "valid_from_basis": "x"}}
    ]}}}}"#;
    let (set, _) =
        tokex_index::import::snapshot::import_snapshot(snap, "snap.json", &Default::default())
            .unwrap();
    assert_eq!(set.prices[0].effective_from, ts("2026-01-20T12:00:00Z"));
    let mut all = three_models();
    all.extend(set);
    let def = token_def(&[("2026-01-01", &["a/x", "b/y", "c/z", "p/m"])], 1, 3);
    let fx = run(&def, &all, "2026-01-15", "2026-03-02");
    // January: never priced before the review → not in the basket.
    assert!(has(on(&fx, "2026-01-15"), "p/m", R::NotYetEligible));
    // February: priced 2026-01-20, 7 days before the review of 2026-01-31 → enters.
    let feb = on(&fx, "2026-02-02");
    assert!(feb
        .audit
        .constituents
        .iter()
        .any(|c| c.model.to_string() == "p/m" && c.state == PriceState::Fresh));
}

#[test]
fn new_model_waits_for_eligibility_period() {
    let mut set = three_models();
    set.prices
        .push(flat("s", "d/w", "2026-01-26T00:00:00Z", "10")); // 5 days before the review
    let def = token_def(&[("2026-01-01", &["a/x", "b/y", "c/z", "d/w"])], 1, 3);
    let fx = run(&def, &set, "2026-02-01", "2026-03-01");
    assert!(has(on(&fx, "2026-02-01"), "d/w", R::NotYetEligible));
    assert!(on(&fx, "2026-03-01")
        .audit
        .constituents
        .iter()
        .any(|c| c.model.to_string() == "d/w"));
}

#[test]
fn correction_within_the_hour_before_the_fixing_never_reaches_it() {
    let def = token_def(&[("2026-01-01", ABC)], 1, 3);
    let mut set = three_models();
    set.prices
        .push(flat("s", "a/x", "2026-01-10T07:10:00Z", "200")); // glitch
    set.prices
        .push(flat("s", "a/x", "2026-01-10T07:40:00Z", "2")); // corrected before 08:00
    set.prices
        .push(flat("s", "a/x", "2026-01-11T07:30:00Z", "200")); // glitch
    set.prices
        .push(flat("s", "a/x", "2026-01-11T08:30:00Z", "2")); // corrected after the fixing
    let fx = run(&def, &set, "2026-01-10", "2026-01-11");
    assert_eq!(on(&fx, "2026-01-10").value, Some(d("4.000000")));
    // The price in force at the fixing time is what counts, either way.
    assert_eq!(on(&fx, "2026-01-11").value, Some(d("70.000000")));
}

#[test]
fn removed_model_leaves_at_the_next_rebalance() {
    let def = token_def(&[("2026-01-01", ABC)], 1, 3);
    let mut set = three_models();
    set.statuses.push(removed("c/z", "2026-01-15T00:00:00Z"));
    let fx = run(&def, &set, "2026-01-16", "2026-02-01");
    assert_eq!(
        on(&fx, "2026-01-31").audit.constituents.len(),
        3,
        "stays until the rebalance"
    );
    let feb = on(&fx, "2026-02-01");
    assert_eq!(feb.audit.constituents.len(), 2);
    assert!(has(feb, "c/z", R::Removed));
    assert_eq!(feb.value, Some(d("3.000000")));
    // No jump in the chained index at the rebalance.
    assert_eq!(
        feb.value_of(Method::Chained),
        on(&fx, "2026-01-31").value_of(Method::Chained)
    );
}

#[test]
fn carry_forward_expires_then_weights_renormalise() {
    let def = token_def(&[("2026-01-01", ABC)], 1, 3);
    let mut set = three_models();
    set.prices
        .push(withdrawn("s", "c/z", "2026-01-10T00:00:00Z"));
    let fx = run(&def, &set, "2026-01-09", "2026-01-14");
    for day in ["2026-01-10", "2026-01-11", "2026-01-12"] {
        let f = on(&fx, day);
        assert!(has(f, "c/z", R::Withdrawn));
        assert_eq!(
            f.audit.constituents[2].state,
            PriceState::Carried {
                since: date("2026-01-09")
            }
        );
        assert_eq!(f.value, Some(d("4.000000")));
    }
    let f = on(&fx, "2026-01-13");
    assert!(has(f, "c/z", R::CarryForwardExpired));
    assert_eq!(f.audit.constituents[2].state, PriceState::Left);
    assert_eq!(f.value, Some(d("3.000000")), "a/x and b/y, renormalised");
    assert_eq!(
        on(&fx, "2026-01-14").audit.constituents[2].state,
        PriceState::Left
    );
}

#[test]
fn insufficient_data_carries_the_previous_value_flagged() {
    let def = token_def(&[("2026-01-01", ABC)], 3, 0);
    let mut set = three_models();
    set.prices
        .push(withdrawn("s", "c/z", "2026-01-10T00:00:00Z"));
    let fx = run(&def, &set, "2026-01-09", "2026-01-10");
    let f = on(&fx, "2026-01-10");
    assert_eq!(f.status, FixingStatus::InsufficientData);
    assert_eq!(f.value, on(&fx, "2026-01-09").value);
    assert_eq!(f.audit.carried_from, Some(date("2026-01-09")));
    assert!(f
        .audit
        .notes
        .iter()
        .any(|n| n.contains("insufficient data: 2 valid constituents, minimum 3")));
}

#[test]
fn stale_observation_is_not_used() {
    let def = token_def(&[("2026-01-01", ABC)], 1, 2);
    let mut set = three_models();
    // A point source (as_of = effective_from) last seen 2026-01-02: stale after 7 days.
    let mut o = flat("litellm", "a/x", "2025-12-01T00:00:00Z", "2");
    o.as_of = ts("2026-01-02T00:00:00Z");
    set.prices[0] = o;
    let fx = run(&def, &set, "2026-01-08", "2026-01-12");
    assert_eq!(
        on(&fx, "2026-01-08").audit.constituents[0].state,
        PriceState::Fresh
    );
    let f = on(&fx, "2026-01-09");
    assert!(has(f, "a/x", R::Stale));
    assert!(matches!(
        f.audit.constituents[0].state,
        PriceState::Carried { .. }
    ));
    assert_eq!(
        on(&fx, "2026-01-11").audit.constituents[0].state,
        PriceState::Left
    );
}

#[test]
fn cross_source_outlier_is_excluded_by_k_mad() {
    let def = token_def(&[("2026-01-01", ABC)], 1, 3);
    let mut set = three_models();
    set.prices
        .push(flat("s2", "a/x", "2025-12-01T00:00:00Z", "2.02"));
    set.prices
        .push(flat("s3", "a/x", "2025-12-01T00:00:00Z", "1.98"));
    set.prices
        .push(flat("s4", "a/x", "2025-12-01T00:00:00Z", "5"));
    let fx = run(&def, &set, "2026-01-05", "2026-01-05");
    let f = &fx[0];
    // median 2.01, MAD 0.02 (floor 0.0201), k = 3 → limit 0.0603: 5 is out, 1.98 is in.
    let out: Vec<_> = f
        .audit
        .exclusions
        .iter()
        .filter(|e| e.reason == R::Outlier)
        .collect();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].source.as_deref(), Some("s4"));
    let a = &f.audit.constituents[0];
    assert_eq!(a.quotes.iter().filter(|q| q.used).count(), 3);
    assert_eq!(a.price, Some(d("2")), "median of 2, 2.02, 1.98");
}

#[test]
fn caps_with_pro_rata_redistribution() {
    let shares: Vec<_> = [
        ("a/1", "50"),
        ("a/2", "30"),
        ("b/1", "10"),
        ("c/1", "5"),
        ("d/1", "5"),
    ]
    .iter()
    .map(|(m, s)| (tokex_index::ModelId::parse(m).unwrap(), d(s)))
    .collect();
    let (w, notes) = tokex_index::weights::capped_weights(&shares, d("0.25"), d("0.40"));
    // a/1, a/2 capped at 25% then provider a scaled to 40%; b/1 capped at 25%; c and d share
    // the rest pro rata.
    assert_eq!(
        w,
        vec![d("0.2"), d("0.2"), d("0.25"), d("0.175"), d("0.175")]
    );
    assert!(notes.is_empty());
    let (w, notes) = tokex_index::weights::capped_weights(&shares[..2], d("0.25"), d("0.40"));
    assert_eq!(
        w,
        vec![d("0.5"), d("0.5")],
        "infeasible caps are raised to 1/n"
    );
    assert_eq!(notes.len(), 2);
}

#[test]
fn usage_weights_from_the_file_and_equal_without() {
    let usage = r#"version = 3
as_of = "2026-01-01"
source = "test"
default_share = "1"
[[period]]
effective_from = "2025-01-01"
[period.shares]
"a/x" = "3"
"#;
    let w = "scheme = \"usage\"\nusage_file = \"u.toml\"\nmodel_cap = \"1\"\nprovider_cap = \"1\"";
    let def = token_def_with(&[("2026-01-01", ABC)], 1, 3, w, usage);
    let fx = run(&def, &three_models(), "2026-01-05", "2026-01-05");
    let ws: Vec<_> = fx[0].audit.constituents.iter().map(|c| c.weight).collect();
    assert_eq!(ws, vec![d("0.6"), d("0.2"), d("0.2")]);
    assert_eq!(fx[0].value, Some(d("3.200000")), "0.6·2 + 0.2·4 + 0.2·6");
    assert!(fx[0]
        .audit
        .basket
        .as_ref()
        .unwrap()
        .weights_source
        .contains("v3"));
    let eq = token_def(&[("2026-01-01", ABC)], 1, 3);
    let fx = run(&eq, &three_models(), "2026-01-05", "2026-01-05");
    assert_eq!(fx[0].value, Some(d("4.000000")));
}

#[test]
fn chained_links_at_rebalance_while_average_follows_the_mix() {
    let def = token_def(
        &[
            ("2026-01-01", &["a/x", "b/y"]),
            ("2026-02-01", &["a/x", "c/z"]),
        ],
        1,
        3,
    );
    let mut set = three_models();
    set.prices
        .push(flat("s", "c/z", "2026-02-10T00:00:00Z", "3"));
    let fx = run(&def, &set, "2026-01-31", "2026-02-10");
    let jan = on(&fx, "2026-01-31");
    assert_eq!(
        (jan.value, jan.value_of(Method::Chained)),
        (Some(d("3.000000")), Some(d("3.000000")))
    );
    let feb = on(&fx, "2026-02-01");
    assert_eq!(
        feb.value,
        Some(d("4.000000")),
        "average: the new mix (2 and 6)"
    );
    assert_eq!(
        feb.value_of(Method::Chained),
        Some(d("3.000000")),
        "chained: no jump"
    );
    let f = on(&fx, "2026-02-10");
    assert_eq!(f.value, Some(d("2.500000")));
    assert_eq!(
        f.value_of(Method::Chained),
        Some(d("1.875000")),
        "3 × (2+3)/(2+6)"
    );
}

#[test]
fn cny_index_converts_with_the_fx_series() {
    let t = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/indexes/TPI-CN.toml"
    ))
    .unwrap();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/indexes/");
    let series = "date,usd_cny,label\n2025-01-01,6.737,constant\n2026-01-01,7.1,test fixing\n";
    let def = tokex_index::IndexDefinition::from_toml_str(&t, "TPI-CN.toml", &|name: &str| {
        if name.starts_with("fx/") {
            Ok(series.to_string())
        } else {
            std::fs::read_to_string(format!("{dir}{name}")).map_err(|e| e.to_string())
        }
    })
    .unwrap();
    let spec = def.token().unwrap();
    let fxs = spec.fx.as_ref().unwrap();
    assert_eq!(fxs.rate_on(date("2025-12-31")).0, d("6.737"));
    assert_eq!(fxs.rate_on(date("2026-01-02")).0, d("7.1"));
    assert!(fxs.rate_on(date("2025-12-31")).1.contains("constant"));
}

#[test]
fn verify_detects_tampering() {
    let def = token_def(&[("2026-01-01", ABC)], 1, 3);
    let fx = run(&def, &three_models(), "2026-01-05", "2026-01-05");
    let good = fx[0].clone();
    let mut bad = good.clone();
    bad.value = Some(d("4.000001"));
    bad.values[0].value = bad.value;
    assert!(verify_fixing(&bad, &def)
        .unwrap_err()
        .message
        .contains("hash"));
    // A forger who reseals the record is caught by the recomputation.
    bad.seal();
    assert!(verify_fixing(&bad, &def).is_err());
    let mut bad = good.clone();
    bad.audit.constituents[0].quotes[0].input = d("2.5");
    bad.seal();
    assert!(verify_fixing(&bad, &def)
        .unwrap_err()
        .message
        .contains("blended"));
    let mut bad = good.clone();
    bad.audit.constituents[0].weight = d("0.5");
    bad.seal();
    assert!(verify_fixing(&bad, &def)
        .unwrap_err()
        .message
        .contains("weight"));
    // Through JSON and back: still bit for bit.
    let back: Fixing = serde_json::from_str(&serde_json::to_string(&good).unwrap()).unwrap();
    verify_fixing(&back, &def).unwrap();
}
