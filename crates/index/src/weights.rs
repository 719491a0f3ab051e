//! Basket weights: usage shares (or equal weights) capped per model and per provider, the
//! excess redistributed pro rata to the constituents still under their caps.
//!
//! The caps are applied in rounds: cap every model above the model cap, scale down every
//! provider above the provider cap, then hand the removed weight to the uncapped constituents
//! in proportion to their weights; repeat until nothing exceeds a cap. A capped constituent
//! stays capped (it receives no redistribution), so the rounds end after at most one round per
//! constituent and provider.
//!
//! When a cap cannot be met (four models cannot fit under 25% each… unless there are at least
//! four; two providers cannot both stay under 40%), the cap is raised to the smallest feasible
//! value (1/n models, 1/p providers) and a note says so.

use crate::observation::ModelId;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Fractional digits of published weights.
pub const WEIGHT_DECIMALS: u32 = 12;
/// Cap rounds before giving up (far above what any real basket needs).
const CAP_ROUNDS_MAX: usize = 256;

/// Weights (fractions summing to 1, rounded to [`WEIGHT_DECIMALS`]) for `shares`, in the same
/// order, plus notes on relaxed caps.
pub fn capped_weights(
    shares: &[(ModelId, Decimal)],
    model_cap: Decimal,
    provider_cap: Decimal,
) -> (Vec<Decimal>, Vec<String>) {
    let n = shares.len();
    let mut notes = Vec::new();
    if n == 0 {
        return (Vec::new(), notes);
    }
    let total: Decimal = shares.iter().map(|(_, s)| *s).sum();
    let mut w: Vec<Decimal> = if total > Decimal::ZERO {
        shares.iter().map(|(_, s)| *s / total).collect()
    } else {
        vec![Decimal::ONE / Decimal::from(n as u64); n]
    };
    let mut providers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (m, _)) in shares.iter().enumerate() {
        providers.entry(m.provider.as_str()).or_default().push(i);
    }
    let min_model_cap = Decimal::ONE / Decimal::from(n as u64);
    let mcap = if model_cap < min_model_cap {
        notes.push(format!(
            "model cap {model_cap} infeasible for {n} constituents; raised to 1/{n}"
        ));
        min_model_cap
    } else {
        model_cap
    };
    let np = providers.len();
    let min_provider_cap = Decimal::ONE / Decimal::from(np as u64);
    let pcap = if provider_cap < min_provider_cap {
        notes.push(format!(
            "provider cap {provider_cap} infeasible for {np} providers; raised to 1/{np}"
        ));
        min_provider_cap
    } else {
        provider_cap
    };
    let eps = Decimal::new(1, 20);
    let mut fixed = vec![false; n];
    for _ in 0..CAP_ROUNDS_MAX {
        let mut excess = Decimal::ZERO;
        for i in 0..n {
            if w[i] > mcap + eps {
                excess += w[i] - mcap;
                w[i] = mcap;
                fixed[i] = true;
            }
        }
        for idx in providers.values() {
            let wp: Decimal = idx.iter().map(|&i| w[i]).sum();
            if wp > pcap + eps {
                let scale = pcap / wp;
                for &i in idx {
                    let nw = w[i] * scale;
                    excess += w[i] - nw;
                    w[i] = nw;
                    fixed[i] = true;
                }
            }
        }
        if excess <= eps {
            break;
        }
        let free: Decimal = (0..n).filter(|&i| !fixed[i]).map(|i| w[i]).sum();
        if free.is_zero() {
            notes.push("caps could not all be met; weights renormalised".into());
            let s: Decimal = w.iter().copied().sum();
            for x in &mut w {
                *x /= s;
            }
            break;
        }
        for i in 0..n {
            if !fixed[i] {
                let add = excess * w[i] / free;
                w[i] += add;
            }
        }
    }
    let w = w.into_iter().map(|x| x.round_dp(WEIGHT_DECIMALS)).collect();
    (w, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn equal_when_all_shares_zero() {
        let s: Vec<_> = ["a/x", "b/y", "c/z", "d/w"]
            .iter()
            .map(|m| (ModelId::parse(m).unwrap(), Decimal::ZERO))
            .collect();
        let (w, _) = capped_weights(&s, d("0.25"), d("0.4"));
        assert!(w.iter().all(|x| *x == d("0.25")));
    }
}
