//! The planner: [`plan`] turns a self-contained [`PlanInput`] into a [`PlanReport`]. Pure: no
//! file, no clock; the same input gives the same report (the web page and the CLI call it).
//!
//! ## The rules (docs/HEDGING.md explains them with a worked example)
//! - **Expected cost** of a forecast row at today's prices, in the tier's currency:
//!   `(input·P_in + cached·f·P_in + output·P_out) / 1e6`, with the model's current list prices
//!   (`f` = `cached_input_price_factor`, default 0.1: a cache read costs a tenth of an input
//!   token). A tier row is priced at the index basket's weighted input and output prices, whose
//!   3:1 blend is the index level.
//! - **Contracts** per month and product: `hedge_ratio × expected cost / (contract size × L)`,
//!   `L` the current index level — the number of contracts whose notional at the index equals
//!   the cost to hedge — rounded to the nearest whole contract (half up); the report says what
//!   the rounding left open or over-hedged.
//! - **Price locked in**: the futures price `F` of the month. A cost that moves with the index
//!   becomes `expected cost × F / L` once hedged.
//! - **Notional** `contracts × size × F`; **initial margin** = the product's initial margin % of
//!   it.
//! - **Scenarios**: the index at `L·(1+s)` at settlement, your prices moving by the same `s`:
//!   unhedged = `E·(1+s)`, hedge P&L = `contracts × size × (L·(1+s) − F)`, net = unhedged −
//!   P&L.
//! - **Basis** and **backtest**: see [`crate::backtest`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::backtest::{backtest_tier, basis_tier, Backtest, BasisRisk, TierVolume};
use crate::catalogue::{known_models, known_tier_names, resolve, Mapping, TierSpec};
use crate::forecast::{ForecastRow, Month};
use crate::PlanError;

/// Today's level of an index and its basket's weighted input/output prices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexNow {
    pub date: NaiveDate,
    pub level: Decimal,
    /// Weighted input price of the basket (currency per 1M input tokens).
    pub input_price: Decimal,
    pub output_price: Decimal,
}

/// One month of an index: the final-settlement value (average of the month's business-day
/// fixings, rounded to the tick) and the last fixing of the month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMonth {
    pub month: Month,
    pub settlement: Decimal,
    pub last: Decimal,
}

/// One month of a model's list prices (averages over the month's business days), in the
/// currency of the tier it maps to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelMonth {
    pub month: Month,
    pub input: Decimal,
    pub output: Decimal,
}

/// A model's prices: today's and the monthly history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelHistory {
    pub index_id: String,
    /// Today's list prices (input, output), if the model is priced today.
    pub current: Option<(Decimal, Decimal)>,
    pub months: Vec<ModelMonth>,
}

/// Futures prices: product root → contract month → price.
pub type FuturesPrices = BTreeMap<String, BTreeMap<Month, Decimal>>;

/// Everything the planner needs, serialisable (an HTTP handler builds it with
/// [`crate::MarketData::plan_input`] or receives it whole).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    /// The plan date (listing of months, "today").
    pub as_of: NaiveDate,
    pub forecast: Vec<ForecastRow>,
    pub tiers: Vec<TierSpec>,
    /// Futures prices: product root → month → price.
    pub prices: FuturesPrices,
    /// Where the prices come from, shown with them.
    pub price_source: String,
    /// Fraction of the expected cost to hedge (1 = all).
    #[serde(default = "one")]
    pub hedge_ratio: Decimal,
    /// Price of a cached input token as a fraction of the input price.
    #[serde(default = "tenth")]
    pub cached_input_price_factor: Decimal,
    /// Index moves for the scenario table, in percent.
    #[serde(default = "default_scenarios")]
    pub scenarios_pct: Vec<Decimal>,
    /// Index id → today's level.
    pub index_now: BTreeMap<String, IndexNow>,
    /// Index id → monthly history (complete months only).
    pub index_history: BTreeMap<String, Vec<IndexMonth>>,
    /// Model id → prices.
    pub models: BTreeMap<String, ModelHistory>,
}

fn one() -> Decimal {
    Decimal::ONE
}
fn tenth() -> Decimal {
    Decimal::new(1, 1)
}
pub fn default_scenarios() -> Vec<Decimal> {
    [-50, -25, 0, 25, 50, 100]
        .into_iter()
        .map(Decimal::from)
        .collect()
}

/// One line of the strip: a month of one product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HedgeLine {
    pub month: Month,
    pub product: String,
    pub index_id: String,
    pub currency: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    /// Expected cost at today's prices.
    pub expected_cost: Decimal,
    /// Today's index level `L`.
    pub index_level: Decimal,
    /// The futures price `F` = the price locked in.
    pub futures_price: Decimal,
    /// `hedge_ratio × expected_cost / (size × L)`, 4 decimals.
    pub contracts_exact: Decimal,
    pub contracts: i64,
    /// What the rounding did, in words.
    pub rounding: String,
    /// Blended-equivalent tokens hedged: contracts × size, in millions.
    pub hedged_mtok: Decimal,
    /// `expected_cost × F / L`: the month's cost once hedged, if your prices move with the index.
    pub locked_cost: Decimal,
    /// `contracts × size × F`.
    pub notional: Decimal,
    pub initial_margin: Decimal,
}

/// Totals of one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotal {
    pub currency: String,
    pub expected_cost: Decimal,
    pub locked_cost: Decimal,
    pub contracts: i64,
    pub notional: Decimal,
    pub initial_margin: Decimal,
}

/// One row of the scenario table (one currency, one index move, summed over the strip).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioRow {
    pub currency: String,
    pub index_move_pct: Decimal,
    pub unhedged_cost: Decimal,
    pub hedge_pnl: Decimal,
    pub net_cost: Decimal,
}

/// The planner's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanReport {
    pub as_of: NaiveDate,
    pub price_source: String,
    pub hedge_ratio: Decimal,
    pub cached_input_price_factor: Decimal,
    pub mappings: Vec<Mapping>,
    pub lines: Vec<HedgeLine>,
    pub totals: Vec<CurrencyTotal>,
    pub scenarios: Vec<ScenarioRow>,
    pub basis: Vec<BasisRisk>,
    pub backtest: Vec<Backtest>,
    pub notes: Vec<String>,
}

pub(crate) fn round(x: Decimal, dp: u32) -> Decimal {
    x.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

const MTOK: i64 = 1_000_000;

/// Cost of a volume at (input, output) prices per 1M tokens.
pub(crate) fn cost_of(
    input: u64,
    cached: u64,
    output: u64,
    p_in: Decimal,
    p_out: Decimal,
    cached_factor: Decimal,
) -> Decimal {
    (Decimal::from(input) * p_in
        + Decimal::from(cached) * cached_factor * p_in
        + Decimal::from(output) * p_out)
        / Decimal::from(MTOK)
}

/// Maps every distinct forecast name; refuses unknown ones all at once with the known names.
pub fn map_forecast(
    forecast: &[ForecastRow],
    tiers: &[TierSpec],
) -> Result<BTreeMap<String, Mapping>, PlanError> {
    let mut out = BTreeMap::new();
    let mut unknown = Vec::new();
    for r in forecast {
        if out.contains_key(&r.model) || unknown.iter().any(|(n, _)| n == &r.model) {
            continue;
        }
        match resolve(&r.model, tiers) {
            Ok(m) => {
                out.insert(r.model.clone(), m);
            }
            Err(why) => unknown.push((r.model.clone(), why)),
        }
    }
    if !unknown.is_empty() {
        return Err(PlanError::UnknownModels {
            names: unknown,
            tiers: known_tier_names(tiers),
            known: known_models(tiers),
        });
    }
    Ok(out)
}

/// Plans the hedge. See the module doc for the rules.
pub fn plan(input: &PlanInput) -> Result<PlanReport, PlanError> {
    if input.hedge_ratio < Decimal::ZERO || input.hedge_ratio > Decimal::from(2) {
        return Err(PlanError::Input(format!(
            "hedge ratio {} is outside 0–2",
            input.hedge_ratio
        )));
    }
    let mapping = map_forecast(&input.forecast, &input.tiers)?;
    let tier_of = |id: &str| input.tiers.iter().find(|t| t.index_id == id);
    let mut notes = Vec::new();

    // Aggregate the forecast per (month, index): tokens and expected cost.
    #[derive(Default)]
    struct Agg {
        input: u64,
        output: u64,
        cached: u64,
        cost: Decimal,
    }
    let mut agg: BTreeMap<(Month, String), Agg> = BTreeMap::new();
    let mut skipped_months: BTreeMap<String, Vec<Month>> = BTreeMap::new();
    for r in &input.forecast {
        let m = &mapping[&r.model];
        let t = tier_of(&m.index_id).expect("mapped to a tier");
        if !t.listed_months.contains(&r.month) {
            let v = skipped_months.entry(t.product.clone()).or_default();
            if !v.contains(&r.month) {
                v.push(r.month);
            }
            continue;
        }
        let (p_in, p_out) = match &m.model {
            None => {
                let now = input.index_now.get(&t.index_id).ok_or_else(|| {
                    PlanError::Input(format!("no current level for {}", t.index_id))
                })?;
                (now.input_price, now.output_price)
            }
            Some(id) => input
                .models
                .get(id)
                .and_then(|h| h.current)
                .ok_or_else(|| {
                    PlanError::Input(format!(
                        "{id} (forecast name {:?}) has no current price in the data",
                        r.model
                    ))
                })?,
        };
        let a = agg.entry((r.month, t.index_id.clone())).or_default();
        a.input += r.input_tokens;
        a.output += r.output_tokens;
        a.cached += r.cached_input_tokens;
        a.cost += cost_of(
            r.input_tokens,
            r.cached_input_tokens,
            r.output_tokens,
            p_in,
            p_out,
            input.cached_input_price_factor,
        );
    }
    for (product, months) in &skipped_months {
        let t = input
            .tiers
            .iter()
            .find(|t| &t.product == product)
            .expect("tier");
        let listed = match (t.listed_months.first(), t.listed_months.last()) {
            (Some(a), Some(b)) => format!("{a} … {b}"),
            _ => "none".into(),
        };
        notes.push(format!(
            "{product}: forecast months {} are not listed on {} (listed: {listed}) — not hedged now; hedge them when they list",
            months.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", "),
            input.as_of
        ));
    }

    let mut lines = Vec::new();
    for ((month, index_id), a) in &agg {
        let t = tier_of(index_id).expect("tier");
        let now = input
            .index_now
            .get(index_id)
            .ok_or_else(|| PlanError::Input(format!("no current level for {index_id}")))?;
        let f = input
            .prices
            .get(&t.product)
            .and_then(|m| m.get(month))
            .copied()
            .ok_or_else(|| PlanError::MissingPrice {
                product: t.product.clone(),
                month: *month,
            })?;
        lines.push(line(
            input,
            t,
            *month,
            now,
            f,
            a.cost,
            (a.input, a.output, a.cached),
        ));
    }

    // Totals and scenarios per currency.
    let mut currencies: Vec<String> = lines.iter().map(|l| l.currency.clone()).collect();
    currencies.sort();
    currencies.dedup();
    let mut totals = Vec::new();
    let mut scenarios = Vec::new();
    for c in &currencies {
        let ls: Vec<&HedgeLine> = lines.iter().filter(|l| &l.currency == c).collect();
        totals.push(CurrencyTotal {
            currency: c.clone(),
            expected_cost: round(ls.iter().map(|l| l.expected_cost).sum(), 2),
            locked_cost: round(ls.iter().map(|l| l.locked_cost).sum(), 2),
            contracts: ls.iter().map(|l| l.contracts).sum(),
            notional: round(ls.iter().map(|l| l.notional).sum(), 2),
            initial_margin: round(ls.iter().map(|l| l.initial_margin).sum(), 2),
        });
        for s in &input.scenarios_pct {
            let k = Decimal::ONE + *s / Decimal::from(100);
            let mut un = Decimal::ZERO;
            let mut pnl = Decimal::ZERO;
            for l in &ls {
                let size = tier_of(&l.index_id).expect("tier").contract_size;
                un += l.expected_cost * k;
                pnl += Decimal::from(l.contracts) * size * (l.index_level * k - l.futures_price);
            }
            scenarios.push(ScenarioRow {
                currency: c.clone(),
                index_move_pct: *s,
                unhedged_cost: round(un, 2),
                hedge_pnl: round(pnl, 2),
                net_cost: round(un - pnl, 2),
            });
        }
    }

    // Basis and backtest per tier, on the forecast's average monthly volume.
    let mut basis = Vec::new();
    let mut backtest = Vec::new();
    let mut per_tier: BTreeMap<String, TierVolume> = BTreeMap::new();
    let months: std::collections::BTreeSet<Month> =
        input.forecast.iter().map(|r| r.month).collect();
    let n_months = Decimal::from(months.len().max(1) as u64);
    for r in &input.forecast {
        let m = &mapping[&r.model];
        let v = per_tier.entry(m.index_id.clone()).or_default();
        let key = m.model.clone().unwrap_or_default(); // "" = the tier itself
        let e = v.by_model.entry(key).or_default();
        e.0 += Decimal::from(r.input_tokens) / n_months;
        e.1 += Decimal::from(r.cached_input_tokens) / n_months;
        e.2 += Decimal::from(r.output_tokens) / n_months;
    }
    for (index_id, vol) in &per_tier {
        let t = tier_of(index_id).expect("tier");
        let hist = input
            .index_history
            .get(index_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let now = input.index_now.get(index_id);
        basis.push(basis_tier(
            t,
            vol,
            hist,
            now,
            &input.models,
            input.cached_input_price_factor,
        ));
        backtest.push(backtest_tier(
            t,
            vol,
            hist,
            now,
            &input.models,
            input.cached_input_price_factor,
            input.hedge_ratio,
        ));
    }

    let mut mappings: Vec<Mapping> = mapping.into_values().collect();
    mappings.sort_by(|a, b| a.index_id.cmp(&b.index_id).then(a.name.cmp(&b.name)));
    Ok(PlanReport {
        as_of: input.as_of,
        price_source: input.price_source.clone(),
        hedge_ratio: input.hedge_ratio,
        cached_input_price_factor: input.cached_input_price_factor,
        mappings,
        lines,
        totals,
        scenarios,
        basis,
        backtest,
        notes,
    })
}

fn line(
    input: &PlanInput,
    t: &TierSpec,
    month: Month,
    now: &IndexNow,
    f: Decimal,
    cost: Decimal,
    (tin, tout, tcached): (u64, u64, u64),
) -> HedgeLine {
    let size = t.contract_size;
    let exact = input.hedge_ratio * cost / (size * now.level);
    let contracts = round(exact, 0);
    let n = contracts.to_i64().unwrap_or(i64::MAX);
    let diff = exact - contracts; // > 0: left open; < 0: over-hedged
    let diff_cost = round(diff.abs() * size * now.level, 2);
    let rounding = if n == 0 {
        format!(
            "{} contracts is less than half a contract: not hedged (the whole {} {} stays open)",
            round(exact, 4).normalize(),
            t.currency,
            round(cost, 2)
        )
    } else if diff.is_zero() {
        "exact".to_string()
    } else if diff > Decimal::ZERO {
        format!(
            "{} → {n}: {} contract ({} M tokens, ≈ {} {diff_cost}) left unhedged",
            round(exact, 4).normalize(),
            round(diff, 4).normalize(),
            round(diff * size, 1),
            t.currency
        )
    } else {
        format!(
            "{} → {n}: over-hedged by {} contract ({} M tokens, ≈ {} {diff_cost})",
            round(exact, 4).normalize(),
            round(-diff, 4).normalize(),
            round(-diff * size, 1),
            t.currency
        )
    };
    let notional = Decimal::from(n) * size * f;
    HedgeLine {
        month,
        product: t.product.clone(),
        index_id: t.index_id.clone(),
        currency: t.currency.clone(),
        input_tokens: tin,
        output_tokens: tout,
        cached_input_tokens: tcached,
        expected_cost: round(cost, 2),
        index_level: now.level,
        futures_price: f,
        contracts_exact: round(exact, 4),
        contracts: n,
        rounding,
        hedged_mtok: Decimal::from(n) * size,
        locked_cost: round(cost * f / now.level, 2),
        notional: round(notional, 2),
        initial_margin: round(notional * t.initial_margin_pct / Decimal::from(100), 2),
    }
}
