//! Properties of the token index, checked on small generated baskets: the chained level does
//! not jump when the basket changes at a rebalance, the level scales with the prices, and the
//! capped weights always sum to one.

mod common;

use common::*;
use proptest::prelude::*;
use tokex_index::weights::capped_weights;
use tokex_index::{
    compute_fixings, verify_fixing, DateRange, Decimal, Fixing, IndexDefinition, Method, ModelId,
    ObservationSet,
};

/// The pool the generated baskets draw from (two models share provider `a`).
const POOL: &[&str] = &["a/x", "a/y", "b/x", "c/x", "d/x", "e/x"];

/// A price in cents: 0.01 … 1000.00.
fn price() -> impl Strategy<Value = Decimal> {
    (1i64..=100_000).prop_map(|c| Decimal::new(c, 2))
}

/// A non-empty subset of the pool, as a bit mask.
fn basket() -> impl Strategy<Value = u8> {
    1u8..(1 << POOL.len())
}

fn members(mask: u8) -> Vec<&'static str> {
    POOL.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, m)| *m)
        .collect()
}

/// A usage-weighted definition (caps 25% / 40%) with a January and a February basket.
fn def(jan: u8, feb: u8, shares: &[u32]) -> IndexDefinition {
    let mut usage = String::from(
        "version = 1\nas_of = \"2026-01-01\"\nsource = \"test\"\ndefault_share = \"1\"\n\
         [[period]]\neffective_from = \"2025-01-01\"\n[period.shares]\n",
    );
    for (m, s) in POOL.iter().zip(shares) {
        usage.push_str(&format!("{m:?} = \"{s}\"\n"));
    }
    let (jan, feb) = (members(jan), members(feb));
    token_def_with(
        &[("2026-01-01", &jan), ("2026-02-01", &feb)],
        1,
        3,
        "scheme = \"usage\"\nusage_file = \"u.toml\"\nmodel_cap = \"0.25\"\nprovider_cap = \"0.40\"",
        &usage,
    )
}

/// Every pool model priced from December; `change[i]`, if any, is its new price from
/// 2026-01-15 (before the rebalance, so the chain has moved off its starting level).
fn prices(base: &[Decimal], change: &[Option<Decimal>], k: Decimal) -> ObservationSet {
    let mut set = ObservationSet::default();
    for (i, m) in POOL.iter().enumerate() {
        set.prices.push(flat(
            "s",
            m,
            "2025-12-01T00:00:00Z",
            &(base[i] * k).to_string(),
        ));
        if let Some(p) = change[i] {
            set.prices
                .push(flat("s", m, "2026-01-15T00:00:00Z", &(p * k).to_string()));
        }
    }
    set
}

fn run(def: &IndexDefinition, set: &ObservationSet) -> Vec<Fixing> {
    let fx = compute_fixings(
        def,
        set,
        DateRange::new(date("2026-01-10"), date("2026-02-03")),
    )
    .unwrap();
    for f in &fx {
        verify_fixing(f, def).unwrap();
    }
    fx
}

fn on<'a>(fx: &'a [Fixing], day: &str) -> &'a Fixing {
    fx.iter().find(|f| f.date == date(day)).unwrap()
}

fn exact(f: &Fixing, m: Method) -> Option<Decimal> {
    f.values
        .iter()
        .find(|v| v.method == m)
        .and_then(|v| v.exact)
}

/// A positive multiplier: an integer 1…1000 or a simple decimal.
fn multiplier() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (1i64..=1000).prop_map(Decimal::from),
        prop::sample::select(vec!["0.5", "0.1", "0.25", "1.5", "2.5", "0.01", "12.75"]).prop_map(d),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// (a) Prices unchanged across the rebalance → the chained level on the first day of the
    /// new basket equals the last level of the old one, whoever entered or left.
    #[test]
    fn chained_level_is_continuous_across_a_rebalance(
        jan in basket(),
        feb in basket(),
        shares in prop::collection::vec(0u32..=100, POOL.len()),
        base in prop::collection::vec(price(), POOL.len()),
        change in prop::collection::vec(prop::option::of(price()), POOL.len()),
    ) {
        let def = def(jan, feb, &shares);
        let fx = run(&def, &prices(&base, &change, Decimal::ONE));
        let (before, after) = (on(&fx, "2026-01-31"), on(&fx, "2026-02-01"));
        prop_assert_eq!(after.audit.constituents.len(), members(feb).len());
        prop_assert_eq!(exact(after, Method::Chained), exact(before, Method::Chained));
        prop_assert_eq!(after.value_of(Method::Chained), before.value_of(Method::Chained));
        // And it stays there while prices do not move.
        prop_assert_eq!(
            on(&fx, "2026-02-03").value_of(Method::Chained),
            before.value_of(Method::Chained)
        );
    }

    /// (b) Every price × k → every published level × k, within the publication rounding
    /// (half a unit of the last place on each side: |v(k·p) − k·v(p)| ≤ (1 + k)/2 · 10⁻⁶).
    #[test]
    fn level_scales_with_the_prices(
        jan in basket(),
        feb in basket(),
        shares in prop::collection::vec(0u32..=100, POOL.len()),
        base in prop::collection::vec(price(), POOL.len()),
        change in prop::collection::vec(prop::option::of(price()), POOL.len()),
        k in multiplier(),
    ) {
        let def = def(jan, feb, &shares);
        let one = run(&def, &prices(&base, &change, Decimal::ONE));
        let scaled = run(&def, &prices(&base, &change, k));
        let tol = (Decimal::ONE + k) * Decimal::new(5, 7);
        for (f, g) in one.iter().zip(&scaled) {
            prop_assert_eq!(f.date, g.date);
            for m in [Method::Average, Method::Chained] {
                let (v, w) = (f.value_of(m).unwrap(), g.value_of(m).unwrap());
                prop_assert!(
                    (w - v * k).abs() <= tol,
                    "{} {}: {} × {} = {}, scaled prices give {}",
                    f.date, m.as_str(), v, k, v * k, w
                );
            }
        }
    }

    /// (c) After the 25% model cap and the 40% provider cap with pro-rata redistribution the
    /// weights are non-negative and sum to 1 (within the 12-digit rounding of each weight);
    /// the caps hold whenever they are feasible and the weights did not need renormalising.
    #[test]
    fn capped_weights_sum_to_one(
        basket in prop::collection::vec((0usize..5, 0u32..=1000), 1..=12),
    ) {
        let shares: Vec<(ModelId, Decimal)> = basket
            .iter()
            .enumerate()
            .map(|(i, (p, s))| {
                (ModelId::parse(&format!("p{p}/m{i}")).unwrap(), Decimal::from(*s))
            })
            .collect();
        let (w, notes) = capped_weights(&shares, d("0.25"), d("0.40"));
        prop_assert_eq!(w.len(), shares.len());
        prop_assert!(w.iter().all(|x| *x >= Decimal::ZERO));
        let sum: Decimal = w.iter().copied().sum();
        let tol = Decimal::from(w.len() as u64) * Decimal::new(5, 13);
        prop_assert!((sum - Decimal::ONE).abs() <= tol, "sum {} for {:?}", sum, basket);
        if !notes.iter().any(|n| n.contains("could not")) {
            let n = Decimal::from(w.len() as u64);
            let mcap = d("0.25").max(Decimal::ONE / n) + tol;
            prop_assert!(w.iter().all(|x| *x <= mcap), "model cap: {:?}", w);
            let mut by_p = std::collections::BTreeMap::<usize, Decimal>::new();
            for ((p, _), x) in basket.iter().zip(&w) {
                *by_p.entry(*p).or_default() += *x;
            }
            let pcap = d("0.40").max(Decimal::ONE / Decimal::from(by_p.len() as u64)) + tol;
            prop_assert!(by_p.values().all(|x| *x <= pcap), "provider cap: {:?}", by_p);
        }
    }
}
