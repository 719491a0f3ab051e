//! GPU compute indexes (`GCI-…`): normalisation by lease type, trim, contributor cap,
//! volume-weighted median; and a labelled synthetic data generator.
//!
//! One fixing at time T uses the observations of the definition's GPU model observed in
//! (T − window, T]:
//! 1. each price is multiplied by its lease type's factor to an on-demand equivalent
//!    (a lease type without a factor is excluded with its reason);
//! 2. sorted by normalised price (ties by contributor and origin, so the order is total), the
//!    lowest and highest ⌊n·trim⌋ observations are dropped (by count);
//! 3. volume = GPU count; a contributor above the cap's share of the kept volume is scaled
//!    down to the cap (repeated until no contributor exceeds it);
//! 4. the value is the volume-weighted median: the first price at which the cumulative volume
//!    reaches half the total (exactly half → the mean of that price and the next).
//!
//! Too few observations or contributors after the trim → insufficient data, previous value
//! carried.

use crate::compute::{fixing_instant, DateRange};
use crate::definition::{GpuSpec, IndexDefinition, Method};
use crate::fixing::{
    Exclusion, ExclusionReason, Fixing, FixingAudit, FixingStatus, GpuAudit, GpuQuote, MethodValue,
};
use crate::num::round_publish;
use crate::observation::{GpuObservation, LeaseType};
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Volume-weighted median of (price, weight) pairs, sorted by price here. Weights > 0.
pub fn weighted_median(items: &[(Decimal, Decimal)]) -> Decimal {
    let mut v = items.to_vec();
    v.sort();
    let total: Decimal = v.iter().map(|x| x.1).sum();
    let mut cum = Decimal::ZERO;
    for i in 0..v.len() {
        cum += v[i].1;
        let twice = cum * Decimal::TWO;
        if twice == total && i + 1 < v.len() {
            return (v[i].0 + v[i + 1].0) / Decimal::TWO;
        }
        if twice >= total {
            return v[i].0;
        }
    }
    v.last().expect("non-empty").0
}

/// Scales contributors whose volume exceeds `cap` of the total down to the cap. Returns the
/// scale per capped contributor.
pub fn cap_contributors(
    volumes: &BTreeMap<String, Decimal>,
    cap: Decimal,
) -> BTreeMap<String, Decimal> {
    let mut vol = volumes.clone();
    let mut scales: BTreeMap<String, Decimal> = BTreeMap::new();
    if cap >= Decimal::ONE || vol.len() < 2 {
        return scales;
    }
    for _ in 0..vol.len() {
        let total: Decimal = vol.values().copied().sum();
        let over: Vec<String> = vol
            .iter()
            .filter(|(_, v)| **v > cap * total)
            .map(|(k, _)| k.clone())
            .collect();
        if over.is_empty() {
            break;
        }
        // Solve for the capped contributors together: each gets cap · new_total, where
        // new_total = others + k · cap · new_total.
        let others: Decimal = vol
            .iter()
            .filter(|(k, _)| !over.contains(k))
            .map(|(_, v)| *v)
            .sum();
        let k = Decimal::from(over.len() as u64);
        let denom = Decimal::ONE - k * cap;
        if denom <= Decimal::ZERO || others.is_zero() {
            break; // infeasible: leave as is
        }
        let new_total = others / denom;
        for c in over {
            let target = cap * new_total;
            let s = target / volumes[&c];
            vol.insert(c.clone(), target);
            scales.insert(c, s);
        }
    }
    scales
}

pub(crate) fn compute_gpu(
    def: &IndexDefinition,
    spec: &GpuSpec,
    obs: &[GpuObservation],
    range: DateRange,
    progress: &mut dyn FnMut(NaiveDate),
) -> Vec<Fixing> {
    let mut sorted: Vec<&GpuObservation> = obs
        .iter()
        .filter(|o| o.gpu_model.eq_ignore_ascii_case(&spec.gpu_model))
        .collect();
    sorted.sort_by(|a, b| {
        a.observed_at
            .cmp(&b.observed_at)
            .then_with(|| a.origin.cmp(&b.origin))
    });
    let window = Duration::hours(spec.window_hours as i64);
    let mut last: Option<(NaiveDate, Decimal)> = None;
    let mut out = Vec::with_capacity(range.len());
    let first = def.base_date.min(range.start);
    for d in (DateRange {
        start: first,
        end: range.end,
    })
    .days()
    {
        let t = fixing_instant(def, d);
        let from = t - window;
        let lo = sorted.partition_point(|o| o.observed_at <= from);
        let hi = sorted.partition_point(|o| o.observed_at <= t);
        let mut exclusions = Vec::new();
        let mut rows: Vec<(Decimal, &GpuObservation, Decimal)> = Vec::new(); // (normalised, obs, factor)
        for o in &sorted[lo..hi] {
            match spec.lease_factors.get(&o.lease.key()) {
                Some(f) => rows.push((o.price * *f, o, *f)),
                None => exclusions.push(Exclusion {
                    subject: o.provider.clone(),
                    source: Some(o.source.clone()),
                    reason: ExclusionReason::UnknownLeaseType,
                    detail: format!("{}: no factor for lease type {}", o.origin, o.lease.key()),
                }),
            }
        }
        rows.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.provider.cmp(&b.1.provider))
                .then_with(|| a.1.origin.cmp(&b.1.origin))
        });
        let n = rows.len();
        let k = (Decimal::from(n as u64) * spec.trim_fraction).floor();
        let k: usize = k.try_into().unwrap_or(0);
        for (i, r) in rows.iter().enumerate() {
            if i < k || i >= n - k {
                exclusions.push(Exclusion {
                    subject: r.1.provider.clone(),
                    source: Some(r.1.source.clone()),
                    reason: ExclusionReason::Trimmed,
                    detail: format!(
                        "{}: {} {} after normalisation",
                        r.1.origin,
                        if i < k { "bottom" } else { "top" },
                        r.0
                    ),
                });
            }
        }
        let kept_rows = &rows[k..n - k];
        let mut volumes: BTreeMap<String, Decimal> = BTreeMap::new();
        for r in kept_rows {
            *volumes.entry(r.1.provider.clone()).or_default() += Decimal::from(r.1.gpu_count);
        }
        let scales = cap_contributors(&volumes, spec.contributor_cap);
        let kept: Vec<GpuQuote> = kept_rows
            .iter()
            .map(|r| GpuQuote {
                provider: r.1.provider.clone(),
                lease: r.1.lease.clone(),
                price: r.1.price,
                factor: r.2,
                normalised: r.0,
                gpu_count: r.1.gpu_count,
                weight: Decimal::from(r.1.gpu_count)
                    * scales.get(&r.1.provider).copied().unwrap_or(Decimal::ONE),
                origin: r.1.origin.clone(),
            })
            .collect();
        let enough = kept.len() as u32 >= spec.min_observations
            && volumes.len() as u32 >= spec.min_contributors;
        let (status, exact, carried_from) = if enough {
            let v = weighted_median(
                &kept
                    .iter()
                    .map(|q| (q.normalised, q.weight))
                    .collect::<Vec<_>>(),
            );
            last = Some((d, v));
            (FixingStatus::Ok, Some(v), None)
        } else {
            (
                FixingStatus::InsufficientData,
                last.map(|l| l.1),
                last.map(|l| l.0),
            )
        };
        if d < range.start {
            continue;
        }
        let value = exact.map(|x| round_publish(x, def.decimals));
        let mut notes = Vec::new();
        if !enough {
            notes.push(format!(
                "insufficient data: {} observations from {} contributors after trim (minimum {} and {})",
                kept.len(),
                volumes.len(),
                spec.min_observations,
                spec.min_contributors
            ));
        }
        let mut f = Fixing {
            index_id: def.id.clone(),
            date: d,
            fixing_time: t,
            currency: def.currency.clone(),
            method: Method::WeightedMedian,
            value,
            status,
            values: vec![MethodValue {
                method: Method::WeightedMedian,
                value,
                exact,
            }],
            audit: FixingAudit {
                method_version: def.method_version.clone(),
                definition_version: def.definition_version,
                definition_sha256: def.sha256.clone(),
                decimals: def.decimals,
                basket: None,
                constituents: Vec::new(),
                exclusions,
                fx: None,
                chain: None,
                gpu: Some(GpuAudit {
                    window_from: from,
                    kept,
                    contributor_scales: scales.into_iter().collect(),
                    trim_count_each_end: k as u32,
                    observations_in_window: (hi - lo) as u32,
                }),
                carried_from,
                notes,
                hash: String::new(),
            },
        };
        f.seal();
        out.push(f);
        progress(d);
    }
    out
}

/// Source tag of generated data; it says what it is wherever it goes.
pub const SYNTHETIC_SOURCE: &str = "synthetic:tokex-gpu-sim-v1 (NOT REAL DATA)";

/// SplitMix64: a tiny, well-known deterministic generator (no external RNG crate).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Generates a clearly labelled synthetic GPU rental data set: `per_day` observations a day
/// for `gpu_model` over `range`, from six fictitious contributors (one of them large enough to
/// hit the contributor cap), with all lease types, a slow downward drift in price (about −0.1%
/// a day from USD 2.50/GPU-hour), ±15% noise and an occasional fat-finger outlier (×3 or ÷3)
/// so trimming has work to do. Same seed → same data.
pub fn synthetic_gpu_observations(
    seed: u64,
    gpu_model: &str,
    range: DateRange,
    per_day: u32,
) -> Vec<GpuObservation> {
    const PROVIDERS: [(&str, &str, u64); 6] = [
        ("synth-hyperscaler-a", "us-east", 40),
        ("synth-neocloud-b", "us-west", 20),
        ("synth-neocloud-c", "eu-west", 15),
        ("synth-marketplace-d", "us-central", 12),
        ("synth-marketplace-e", "ap-southeast", 8),
        ("synth-reseller-f", "eu-central", 5),
    ];
    let leases: [(LeaseType, i64); 5] = [
        (LeaseType::OnDemand, 10000),
        (LeaseType::Spot, 6500),
        (LeaseType::Reserved(1), 9000),
        (LeaseType::Reserved(12), 7500),
        (LeaseType::Reserved(36), 6000),
    ];
    let weight_total: u64 = PROVIDERS.iter().map(|p| p.2).sum();
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    for (day, d) in range.days().enumerate() {
        // Base on-demand price in hundredths of a cent: 2.50 USD × 0.999^day.
        let mut base: i64 = 25_000;
        for _ in 0..day {
            base = base * 999 / 1000;
        }
        for i in 0..per_day {
            let mut pick = rng.below(weight_total);
            let mut pi = 0;
            while pick >= PROVIDERS[pi].2 {
                pick -= PROVIDERS[pi].2;
                pi += 1;
            }
            let (provider, region, _) = PROVIDERS[pi];
            let (lease, lease_bp) = leases[rng.below(leases.len() as u64) as usize].clone();
            let noise_bp = 8500 + rng.below(3001) as i64; // 0.85 … 1.15
            let mut p = base * lease_bp / 10000 * noise_bp / 10000;
            match rng.below(100) {
                0 => p *= 3,
                1 => p /= 3,
                _ => {}
            }
            let cents = (p + 50) / 100; // to whole cents
            let count = if pi == 0 {
                64 + rng.below(449) as u32
            } else {
                1 + rng.below(128) as u32
            };
            let secs = rng.below(86_400) as i64;
            let observed_at =
                d.and_hms_opt(0, 0, 0).expect("midnight").and_utc() + Duration::seconds(secs);
            out.push(GpuObservation {
                source: SYNTHETIC_SOURCE.to_string(),
                provider: provider.to_string(),
                gpu_model: gpu_model.to_string(),
                region: region.to_string(),
                lease,
                price: Decimal::new(cents.max(1), 2),
                gpu_count: count,
                observed_at,
                origin: format!("synthetic seed {seed} day {d} #{i}"),
            });
        }
    }
    out
}

/// Writes observations in the GPU CSV format the importer reads.
pub fn gpu_observations_to_csv(obs: &[GpuObservation]) -> String {
    let mut s = String::from(
        "# SYNTHETIC DATA generated by tokex (not real GPU rental prices)\nobserved_at,source,provider,gpu_model,region,lease_type,price_usd_per_gpu_hour,gpu_count\n",
    );
    for o in obs {
        s.push_str(&format!(
            "{},\"{}\",{},{},{},{},{},{}\n",
            o.observed_at.format("%Y-%m-%dT%H:%M:%SZ"),
            o.source,
            o.provider,
            o.gpu_model,
            o.region,
            o.lease.key(),
            o.price,
            o.gpu_count
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn weighted_median_basics() {
        assert_eq!(
            weighted_median(&[(d("1"), d("1")), (d("2"), d("1")), (d("3"), d("1"))]),
            d("2")
        );
        assert_eq!(
            weighted_median(&[(d("1"), d("1")), (d("2"), d("1"))]),
            d("1.5")
        );
        assert_eq!(
            weighted_median(&[(d("1"), d("10")), (d("2"), d("1")), (d("3"), d("1"))]),
            d("1")
        );
    }

    #[test]
    fn generator_is_deterministic() {
        let r = DateRange::new(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 3).unwrap(),
        );
        let a = synthetic_gpu_observations(7, "H100", r, 20);
        assert_eq!(a, synthetic_gpu_observations(7, "H100", r, 20));
        assert_ne!(a, synthetic_gpu_observations(8, "H100", r, 20));
        assert_eq!(a.len(), 60);
    }
}
