//! Basis risk and the backtest, on the real monthly history (per tier).
//!
//! Both use the forecast's **average monthly volume per model** (the company's mix) as if it had
//! been consumed in each month of the history, priced at each month's average list prices of the
//! models (the forecast's tier rows at the index). Months in which one of the company's models
//! had no price (not yet listed) are left out.
//!
//! **Basis risk**: the company's price per 1M tokens of its own mix against the index's monthly
//! settlement value; monthly changes of both; their correlation; the tracking error (standard
//! deviation of the difference of the monthly changes); the beta of the company's changes on
//! the index's.
//!
//! **Backtest**: a strip bought on the last fixing of the month before the window, at that
//! fixing rounded to the tick as the futures price `F0` (there was no market: the index level stands in for it),
//! covering the window — the last (up to) 12 complete months of history, like a strip of the 12
//! listed months. Contracts = `hedge_ratio × E0 / (size × F0)` rounded to whole contracts, `E0`
//! the company's cost in the month of the hedge date. Each month: unhedged cost `U`, hedge P&L
//! `contracts × size × (S − F0)` (S = the month's settlement), hedged cost `U − P&L`. Hedge
//! effectiveness = `1 − Var(hedged) / Var(unhedged)`; the variance-minimising hedge ratio
//! `h* = Cov(U, X) / Var(X)`, X the P&L of the unrounded ratio-1 hedge; at `h*` effectiveness
//! is `corr(U, S)²`. Statistics are `f64` (analytics, not money), rounded to 4 decimals.

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::catalogue::TierSpec;
use crate::forecast::Month;
use crate::plan::{round, IndexMonth, IndexNow, ModelHistory};

/// Months in a backtest window at most (the 12 listed months).
pub const BACKTEST_MONTHS_MAX: usize = 12;

/// Average monthly volume per model of one tier: model id ("" = the tier itself) →
/// (uncached input, cached input, output) tokens.
#[derive(Clone, Debug, Default)]
pub struct TierVolume {
    pub by_model: BTreeMap<String, (Decimal, Decimal, Decimal)>,
}

impl TierVolume {
    fn tokens(&self) -> Decimal {
        self.by_model.values().map(|(a, b, c)| *a + *b + *c).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BasisMonth {
    pub month: Month,
    /// Your cost per 1M tokens of your mix.
    pub your_price: Decimal,
    /// The index's settlement value.
    pub index: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BasisRisk {
    pub index_id: String,
    pub product: String,
    pub currency: String,
    pub months: Vec<BasisMonth>,
    pub your_change_pct: Option<f64>,
    pub index_change_pct: Option<f64>,
    pub correlation: Option<f64>,
    /// Monthly, percent.
    pub tracking_error_pct: Option<f64>,
    pub beta: Option<f64>,
    /// For a finance team.
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestMonth {
    pub month: Month,
    pub settlement: Decimal,
    pub unhedged: Decimal,
    pub hedge_pnl: Decimal,
    pub hedged: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    pub index_id: String,
    pub product: String,
    pub currency: String,
    /// The month on whose last fixing the strip was bought.
    pub hedge_month: Option<Month>,
    pub entry_price: Option<Decimal>,
    pub contracts_per_month: i64,
    pub months: Vec<BacktestMonth>,
    pub unhedged_std: Option<f64>,
    pub hedged_std: Option<f64>,
    pub effectiveness: Option<f64>,
    pub min_variance_ratio: Option<f64>,
    pub effectiveness_at_min_variance: Option<f64>,
    pub summary: String,
}

/// The company's cost of one month of its average volume, or None if a model is unpriced.
fn month_cost(
    vol: &TierVolume,
    m: Month,
    settlement: Option<Decimal>,
    now: Option<&IndexNow>,
    models: &BTreeMap<String, ModelHistory>,
    f: Decimal,
) -> Option<Decimal> {
    let mut cost = Decimal::ZERO;
    for (id, (i, c, o)) in &vol.by_model {
        if id.is_empty() {
            // tier row: today's cost of it, moved with the index
            let now = now?;
            let today = cost_dec(*i, *c, *o, now.input_price, now.output_price, f);
            cost += today * settlement? / now.level;
        } else {
            let h = models.get(id)?;
            let p = h.months.iter().find(|x| x.month == m)?;
            cost += cost_dec(*i, *c, *o, p.input, p.output, f);
        }
    }
    Some(cost)
}

fn cost_dec(i: Decimal, c: Decimal, o: Decimal, pi: Decimal, po: Decimal, f: Decimal) -> Decimal {
    // the formula of plan::cost_of, on average (fractional) volumes
    (i * pi + c * f * pi + o * po) / Decimal::from(1_000_000)
}

fn f(x: Decimal) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn cov(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / a.len() as f64
}

fn var(a: &[f64]) -> f64 {
    cov(a, a)
}

/// Variance below this (relative to the mean squared) counts as zero: prices that never moved.
fn is_flat(a: &[f64]) -> bool {
    let m = mean(a);
    var(a) <= 1e-18 * (m * m).max(1e-300)
}

fn corr(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 3 || is_flat(a) || is_flat(b) {
        return None;
    }
    Some(cov(a, b) / (var(a).sqrt() * var(b).sqrt()))
}

fn changes(v: &[f64]) -> Vec<f64> {
    v.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

fn fmt_pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

pub fn basis_tier(
    t: &TierSpec,
    vol: &TierVolume,
    hist: &[IndexMonth],
    now: Option<&IndexNow>,
    models: &BTreeMap<String, ModelHistory>,
    cached_factor: Decimal,
) -> BasisRisk {
    let tokens = vol.tokens();
    let mut months = Vec::new();
    for h in hist {
        if tokens.is_zero() {
            break;
        }
        if let Some(c) = month_cost(vol, h.month, Some(h.settlement), now, models, cached_factor) {
            months.push(BasisMonth {
                month: h.month,
                your_price: round(c * Decimal::from(1_000_000) / tokens, 6),
                index: h.settlement,
            });
        }
    }
    let only_tier = vol.by_model.keys().all(|k| k.is_empty());
    let yours: Vec<f64> = months.iter().map(|m| f(m.your_price)).collect();
    let index: Vec<f64> = months.iter().map(|m| f(m.index)).collect();
    let (cy, ci) = (changes(&yours), changes(&index));
    let cum = |v: &[f64]| (v.len() >= 2).then(|| r4((v[v.len() - 1] / v[0] - 1.0) * 100.0));
    let measured = !only_tier;
    let correlation = corr(&cy, &ci).map(r4).filter(|_| measured);
    let diff: Vec<f64> = cy.iter().zip(&ci).map(|(a, b)| a - b).collect();
    let tracking = (measured && diff.len() >= 2).then(|| r4(var(&diff).sqrt() * 100.0));
    let beta = (measured && ci.len() >= 3 && !is_flat(&ci)).then(|| r4(cov(&cy, &ci) / var(&ci)));
    let mut summary = String::new();
    if only_tier {
        summary = format!(
            "Forecast given as the {} tier itself: your cost is the index by construction — no basis risk is measured. In reality it is the gap between the models you use and the index basket.",
            t.tier
        );
    } else if months.len() < 3 {
        summary = format!(
            "Too little history: your {} models were all priced in {} complete month(s) only — basis risk cannot be measured yet.",
            t.index_id,
            months.len()
        );
    } else {
        let (a, b) = (&months[0], &months[months.len() - 1]);
        summary.push_str(&format!(
            "From {} to {} ({} months), your {} mix cost {} {} → {} per 1M tokens ({}), while {} went {} → {} ({}). ",
            a.month,
            b.month,
            months.len(),
            t.tier,
            t.currency,
            round(a.your_price, 3),
            round(b.your_price, 3),
            fmt_pct(yours[yours.len() - 1] / yours[0] - 1.0),
            t.index_id,
            round(a.index, 3),
            round(b.index, 3),
            fmt_pct(index[index.len() - 1] / index[0] - 1.0),
        ));
        match correlation {
            None if is_flat(&cy) => summary.push_str(&format!(
                "Your models' list prices did not change in these months: your cost per token moves only when you switch models. The index moved because its basket rolls to new models. A futures hedge would have swapped your flat cost for the index's moves — it protects you when you roll to new models as the index does, not while you stay put. Tracking error: {:.1}% a month.",
                tracking.unwrap_or(0.0)
            )),
            None => summary.push_str("The index did not move in these months: correlation is undefined."),
            Some(c) => {
                let how = if c >= 0.8 {
                    "closely: the hedge offsets most of your price moves"
                } else if c >= 0.5 {
                    "partly: the hedge offsets some of your price moves, not all"
                } else if c >= 0.0 {
                    "poorly: the hedge will often not move with your bill"
                } else {
                    "in opposite directions: the hedge would have added to your swings"
                };
                summary.push_str(&format!(
                    "Month to month they moved together {how} (correlation {c:.2}). The typical monthly gap between your price change and the index's (tracking error) was {:.1}%; for each 1% move of the index your price moved {:.2}% (beta).",
                    tracking.unwrap_or(0.0),
                    beta.unwrap_or(0.0)
                ));
            }
        }
    }
    BasisRisk {
        index_id: t.index_id.clone(),
        product: t.product.clone(),
        currency: t.currency.clone(),
        months,
        your_change_pct: cum(&yours),
        index_change_pct: cum(&index),
        correlation,
        tracking_error_pct: tracking,
        beta,
        summary,
    }
}

pub fn backtest_tier(
    t: &TierSpec,
    vol: &TierVolume,
    hist: &[IndexMonth],
    now: Option<&IndexNow>,
    models: &BTreeMap<String, ModelHistory>,
    cached_factor: Decimal,
    hedge_ratio: Decimal,
) -> Backtest {
    let mut bt = Backtest {
        index_id: t.index_id.clone(),
        product: t.product.clone(),
        currency: t.currency.clone(),
        hedge_month: None,
        entry_price: None,
        contracts_per_month: 0,
        months: Vec::new(),
        unhedged_std: None,
        hedged_std: None,
        effectiveness: None,
        min_variance_ratio: None,
        effectiveness_at_min_variance: None,
        summary: String::new(),
    };
    let cost =
        |h: &IndexMonth| month_cost(vol, h.month, Some(h.settlement), now, models, cached_factor);
    // Window: the longest run of consecutive priced months ending at the newest priced month,
    // at most 12, preceded by a month of index history (the hedge date).
    let priced: Vec<(usize, Decimal)> = hist
        .iter()
        .enumerate()
        .filter_map(|(i, h)| cost(h).map(|c| (i, c)))
        .collect();
    let Some(&(last_i, _)) = priced.last() else {
        bt.summary =
            "No month of history in which all your models were priced: no backtest.".into();
        return bt;
    };
    let mut window: Vec<(usize, Decimal)> = Vec::new();
    for &(i, c) in priced.iter().rev() {
        let expected = last_i - window.len();
        if i != expected || window.len() == BACKTEST_MONTHS_MAX {
            break;
        }
        if i == 0 || hist[i - 1].month != hist[i].month.prev() {
            break; // no hedge date before it
        }
        window.push((i, c));
    }
    window.reverse();
    if window.len() < 3 {
        bt.summary = format!(
            "Only {} month(s) of history with your models priced and a month before them: too few for a backtest.",
            window.len()
        );
        return bt;
    }
    let entry_i = window[0].0 - 1;
    let entry = &hist[entry_i];
    // the futures price stand-in: the last fixing, rounded to the tick
    let f0 = round(entry.last / t.tick_size, 0) * t.tick_size;
    let e0 = cost(entry).unwrap_or(window[0].1);
    let size = t.contract_size;
    let exact = hedge_ratio * e0 / (size * f0);
    let n = round(exact, 0).to_i64().unwrap_or(0);
    bt.hedge_month = Some(entry.month);
    bt.entry_price = Some(f0);
    bt.contracts_per_month = n;
    let mut u = Vec::new();
    let mut h = Vec::new();
    let mut x = Vec::new();
    let mut s = Vec::new();
    for (i, c) in &window {
        let m = &hist[*i];
        let pnl = Decimal::from(n) * size * (m.settlement - f0);
        bt.months.push(BacktestMonth {
            month: m.month,
            settlement: m.settlement,
            unhedged: round(*c, 2),
            hedge_pnl: round(pnl, 2),
            hedged: round(*c - pnl, 2),
        });
        u.push(f(*c));
        h.push(f(*c - pnl));
        x.push(f(e0 / f0 * (m.settlement - f0)));
        s.push(f(m.settlement));
    }
    bt.unhedged_std = Some(r4(var(&u).sqrt()));
    bt.hedged_std = Some(r4(var(&h).sqrt()));
    if !is_flat(&u) {
        bt.effectiveness = Some(r4(1.0 - var(&h) / var(&u)));
    }
    if !is_flat(&x) {
        bt.min_variance_ratio = Some(r4(cov(&u, &x) / var(&x)));
        bt.effectiveness_at_min_variance = corr(&u, &s).map(|c| r4(c * c));
    }
    let (first, lastm) = (bt.months[0].month, bt.months[bt.months.len() - 1].month);
    let mut sum = format!(
        "{n} {} contracts a month bought at {f0} (the last {} fixing of {}), held for {first} … {lastm} ({} months). Your monthly cost varied by {} {:.2} (standard deviation) unhedged and {} {:.2} hedged. ",
        t.product,
        t.index_id,
        entry.month,
        bt.months.len(),
        t.currency,
        bt.unhedged_std.unwrap_or(0.0),
        t.currency,
        bt.hedged_std.unwrap_or(0.0),
    );
    match bt.effectiveness {
        Some(e) if e >= 0.8 => sum.push_str(&format!("Hedge effectiveness {e:.2}: the hedge removed most of the variation of your cost. ")),
        Some(e) if e > 0.0 => sum.push_str(&format!("Hedge effectiveness {e:.2}: the hedge removed part of the variation of your cost. ")),
        Some(e) => sum.push_str(&format!("Hedge effectiveness {e:.2}: the hedge added variation — your cost did not move with the index. ")),
        None => sum.push_str("Your cost did not vary in these months (your models' prices never changed): effectiveness is undefined; the hedge only added the index's moves. "),
    }
    if let Some(hs) = bt.min_variance_ratio {
        sum.push_str(&format!(
            "The hedge ratio that would have minimised the variance was {hs:.2}."
        ));
    }
    bt.summary = sum;
    bt
}
