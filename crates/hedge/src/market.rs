//! The edge: loads index definitions, products and the model-prices snapshot, computes the
//! fixings with the index crate, and builds a self-contained [`PlanInput`].
//!
//! Everything about prices comes from `tokex-index`: the index history is
//! [`tokex_index::compute_fixings`] over the definitions; a model's own price history is the
//! same computation over a one-model basket derived from its tier's definition (same data rules,
//! same FX, no eligibility wait, no minimum basket size), once with blend 1:0 (its input price)
//! and once with 0:1 (its output price) — so a model is priced exactly when, and as, the index
//! would price it.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tokex_index::definition::{IndexKind, MembershipEntry};
use tokex_index::import::snapshot::{import_snapshot_file, SnapshotOptions};
use tokex_index::{
    compute_fixings, DateRange, Fixing, FixingStatus, IndexDefinition, Method, ModelId,
    ObservationSet,
};
use tokex_types::product::{ProductDef, ProductSet};

use crate::catalogue::{TierModel, TierSpec};
use crate::forecast::{ForecastRow, Month};
use crate::plan::{
    default_scenarios, map_forecast, round, FuturesPrices, IndexMonth, IndexNow, ModelHistory,
    ModelMonth, PlanInput,
};
use crate::PlanError;

/// The label of futures prices taken from the index level.
pub const INDEX_LEVEL_LABEL: &str =
    "no live market: using the index level (last fixing, rounded to the tick) as the futures price";

/// Definitions, products, observations and computed fixings.
pub struct MarketData {
    /// Token index definitions that a product settles on, by id.
    pub defs: Vec<IndexDefinition>,
    pub products: ProductSet,
    pub obs: ObservationSet,
    /// Date of the newest input (the last fixing date).
    pub end: NaiveDate,
    pub fixings: BTreeMap<String, Vec<Fixing>>,
}

fn dec(d: impl std::fmt::Display) -> Decimal {
    Decimal::from_str(&d.to_string()).expect("a product decimal is a decimal")
}

impl MarketData {
    /// Loads `index_dir/*.toml`, the products file and the model-prices snapshot.
    pub fn load(
        index_dir: &Path,
        products: &Path,
        snapshot: &Path,
    ) -> Result<MarketData, PlanError> {
        let defs =
            IndexDefinition::load_dir(index_dir).map_err(|e| PlanError::Data(e.to_string()))?;
        let products = ProductSet::load(products).map_err(|e| PlanError::Data(e.to_string()))?;
        let (obs, _) = import_snapshot_file(snapshot, &SnapshotOptions::default())
            .map_err(|e| PlanError::Data(e.to_string()))?;
        MarketData::from_parts(defs, products, obs)
    }

    /// Computes every token index that a product settles on, from its base date to the date of
    /// the newest observation.
    pub fn from_parts(
        defs: Vec<IndexDefinition>,
        products: ProductSet,
        obs: ObservationSet,
    ) -> Result<MarketData, PlanError> {
        let end = obs
            .prices
            .iter()
            .map(|o| o.as_of.max(o.effective_from).date_naive())
            .max()
            .ok_or_else(|| PlanError::Data("no price observations".into()))?;
        let defs: Vec<IndexDefinition> = defs
            .into_iter()
            .filter(|d| d.token().is_some())
            .filter(|d| products.products().iter().any(|p| p.underlying() == d.id))
            .collect();
        let mut fixings = BTreeMap::new();
        for d in &defs {
            let fx = compute_fixings(d, &obs, DateRange::new(d.base_date, end))
                .map_err(|e| PlanError::Data(format!("{}: {e}", d.id)))?;
            fixings.insert(d.id.clone(), fx);
        }
        Ok(MarketData {
            defs,
            products,
            obs,
            end,
            fixings,
        })
    }

    fn product_of(&self, index_id: &str) -> Option<&ProductDef> {
        self.products
            .products()
            .iter()
            .find(|p| p.underlying() == index_id)
    }

    /// The hedgeable tiers on `as_of`.
    pub fn tiers(&self, as_of: NaiveDate) -> Vec<TierSpec> {
        let mut out = Vec::new();
        for d in &self.defs {
            let (Some(t), Some(p)) = (d.token(), self.product_of(&d.id)) else {
                continue;
            };
            let mut models: BTreeMap<String, NaiveDate> = BTreeMap::new();
            for m in &t.membership {
                for id in &m.models {
                    let e = models.entry(id.to_string()).or_insert(m.effective_from);
                    *e = (*e).max(m.effective_from);
                }
            }
            out.push(TierSpec {
                index_id: d.id.clone(),
                tier: t.tier.clone(),
                product: p.root().to_string(),
                currency: d.currency.clone(),
                contract_size: dec(p.contract_size()),
                tick_size: dec(p.tick_size()),
                initial_margin_pct: Decimal::new(p.initial_margin_bps() as i64, 2),
                blend_input: t.blend_input,
                blend_output: t.blend_output,
                models: models
                    .into_iter()
                    .map(|(id, last_listed)| TierModel { id, last_listed })
                    .collect(),
                listed_months: p
                    .listed_months(as_of)
                    .into_iter()
                    .filter_map(|(y, m)| Month::new(y, m))
                    .collect(),
            });
        }
        out
    }

    /// Today's level of each index: the last fixing with a value, and its basket's weighted
    /// input and output prices.
    pub fn index_now(&self) -> BTreeMap<String, IndexNow> {
        let mut out = BTreeMap::new();
        for (id, fx) in &self.fixings {
            let Some(f) = fx
                .iter()
                .rev()
                .find(|f| f.status == FixingStatus::Ok && f.value.is_some())
            else {
                continue;
            };
            let rate = f.audit.fx.as_ref().map_or(Decimal::ONE, |x| x.rate);
            let (mut w, mut pi, mut po) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
            for c in f.audit.constituents.iter().filter(|c| c.price.is_some()) {
                if let Some(q) = c.quotes.iter().find(|q| q.used) {
                    w += c.weight;
                    pi += c.weight * q.input * rate;
                    po += c.weight * q.output * rate;
                }
            }
            if w.is_zero() {
                continue;
            }
            out.insert(
                id.clone(),
                IndexNow {
                    date: f.date,
                    level: f.value.expect("checked"),
                    input_price: round(pi / w, 6),
                    output_price: round(po / w, 6),
                },
            );
        }
        out
    }

    /// Complete months of each index: every business day of the month (the product's
    /// settlement days) has a fixing with status ok; settlement = their mean, rounded to the
    /// tick.
    pub fn index_history(&self) -> BTreeMap<String, Vec<IndexMonth>> {
        let mut out = BTreeMap::new();
        for (id, fx) in &self.fixings {
            let Some(p) = self.product_of(id) else {
                continue;
            };
            let tick = dec(p.tick_size());
            let months = monthly(p, fx, self.end, |f| {
                (f.status == FixingStatus::Ok).then_some(f.value).flatten()
            });
            out.insert(
                id.clone(),
                months
                    .into_iter()
                    .map(|(month, mean, last)| IndexMonth {
                        month,
                        settlement: round(mean / tick, 0) * tick,
                        last,
                    })
                    .collect(),
            );
        }
        out
    }

    /// A model's list prices, in the currency of `index_id`, priced by the index's rules.
    pub fn model_history(&self, model: &str, index_id: &str) -> Result<ModelHistory, PlanError> {
        let def = self
            .defs
            .iter()
            .find(|d| d.id == index_id)
            .ok_or_else(|| PlanError::Data(format!("no index {index_id}")))?;
        let p = self
            .product_of(index_id)
            .ok_or_else(|| PlanError::Data(format!("no product on {index_id}")))?;
        let id = ModelId::parse(model)
            .ok_or_else(|| PlanError::Data(format!("{model:?} is not provider/model")))?;
        let side = |input: bool| -> Result<Vec<Fixing>, PlanError> {
            let d = one_model_def(def, &id, input);
            compute_fixings(&d, &self.obs, DateRange::new(def.base_date, self.end))
                .map_err(|e| PlanError::Data(format!("{model}: {e}")))
        };
        let (fi, fo) = (side(true)?, side(false)?);
        let ok = |f: &Fixing| (f.status == FixingStatus::Ok).then_some(f.value).flatten();
        let mi = monthly(p, &fi, self.end, ok);
        let mo: BTreeMap<Month, Decimal> = monthly(p, &fo, self.end, ok)
            .into_iter()
            .map(|(m, mean, _)| (m, mean))
            .collect();
        let months = mi
            .into_iter()
            .filter_map(|(m, i, _)| {
                mo.get(&m).map(|o| ModelMonth {
                    month: m,
                    input: round(i, 6),
                    output: round(*o, 6),
                })
            })
            .collect();
        let current = match (fi.last().and_then(ok), fo.last().and_then(ok)) {
            (Some(i), Some(o)) => Some((i, o)),
            _ => None,
        };
        Ok(ModelHistory {
            index_id: index_id.to_string(),
            current,
            months,
        })
    }

    /// Futures prices from the index level: every listed month of every tier at today's level
    /// rounded to the tick.
    pub fn index_level_prices(&self, tiers: &[TierSpec]) -> FuturesPrices {
        let now = self.index_now();
        let mut out = BTreeMap::new();
        for t in tiers {
            if let Some(n) = now.get(&t.index_id) {
                let p = round(n.level / t.tick_size, 0) * t.tick_size;
                out.insert(
                    t.product.clone(),
                    t.listed_months.iter().map(|m| (*m, p)).collect(),
                );
            }
        }
        out
    }

    /// Builds the planner's input: maps the forecast (refusing unknown names), prices its
    /// models, and takes futures prices from `prices` or, when `None`, from the index level
    /// (labelled [`INDEX_LEVEL_LABEL`]).
    pub fn plan_input(
        &self,
        forecast: Vec<ForecastRow>,
        as_of: Option<NaiveDate>,
        prices: Option<(FuturesPrices, String)>,
    ) -> Result<PlanInput, PlanError> {
        let as_of = as_of.unwrap_or(self.end);
        let tiers = self.tiers(as_of);
        let mapping = map_forecast(&forecast, &tiers)?;
        let mut models = BTreeMap::new();
        for m in mapping.values() {
            if let Some(id) = &m.model {
                if !models.contains_key(id) {
                    models.insert(id.clone(), self.model_history(id, &m.index_id)?);
                }
            }
        }
        let (prices, price_source) = match prices {
            Some(p) => p,
            None => (
                self.index_level_prices(&tiers),
                INDEX_LEVEL_LABEL.to_string(),
            ),
        };
        Ok(PlanInput {
            as_of,
            forecast,
            tiers,
            prices,
            price_source,
            hedge_ratio: Decimal::ONE,
            cached_input_price_factor: Decimal::new(1, 1),
            scenarios_pct: default_scenarios(),
            index_now: self.index_now(),
            index_history: self.index_history(),
            models,
        })
    }
}

/// A one-model basket from a tier's definition: the model alone, equal weight, no caps, no
/// eligibility wait, one constituent enough; blend 1:0 (input price) or 0:1 (output price).
fn one_model_def(def: &IndexDefinition, model: &ModelId, input: bool) -> IndexDefinition {
    let mut d = def.clone();
    d.id = format!(
        "{}:{model}:{}",
        def.id,
        if input { "input" } else { "output" }
    );
    d.methods = vec![Method::Average];
    if let IndexKind::Token(t) = &mut d.kind {
        t.membership = vec![MembershipEntry {
            effective_from: def.base_date,
            models: vec![model.clone()],
            rationale: "one-model basket for the hedge planner".into(),
        }];
        t.eligible_after_days = 0;
        t.rules.min_constituents = 1;
        t.weighting.usage = None;
        t.weighting.model_cap = Decimal::ONE;
        t.weighting.provider_cap = Decimal::ONE;
        (t.blend_input, t.blend_output) = if input {
            (Decimal::ONE, Decimal::ZERO)
        } else {
            (Decimal::ZERO, Decimal::ONE)
        };
    }
    d
}

/// Complete months: (month, mean over the settlement days, last value). A month is complete when
/// its last settlement day is on or before `end` and every settlement day has a value.
fn monthly(
    p: &ProductDef,
    fixings: &[Fixing],
    end: NaiveDate,
    value: impl Fn(&Fixing) -> Option<Decimal>,
) -> Vec<(Month, Decimal, Decimal)> {
    let by_date: BTreeMap<NaiveDate, &Fixing> = fixings.iter().map(|f| (f.date, f)).collect();
    let (Some(first), Some(_)) = (fixings.first(), fixings.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut m = Month::of(first.date);
    while m.first_day() <= end {
        let days = p.settlement_days(m.year, m.month);
        let complete = !days.is_empty() && days.last().is_some_and(|d| *d <= end);
        if complete {
            let vals: Option<Vec<Decimal>> = days
                .iter()
                .map(|d| by_date.get(d).and_then(|f| value(f)))
                .collect();
            if let Some(v) = vals {
                let mean = v.iter().copied().sum::<Decimal>() / Decimal::from(v.len() as u64);
                out.push((m, mean, *v.last().expect("non-empty")));
            }
        }
        m = m.next();
    }
    out
}
