//! Fixings and their audit records, the record hash, and `verify`.
//!
//! A [`Fixing`] carries everything needed to recompute its value: the basket (shares, capped
//! weights, reference prices), each constituent's quotes per source (input, output, blended),
//! the exclusions with reasons, the FX rate, the chain link, the method version and the hash
//! of the definition. [`verify_fixing`] recomputes the blended prices, the weights, the values
//! and the record hash from the record alone and reports the first difference.

use crate::definition::{hex, IndexDefinition, Method};
use crate::num::{median, round_publish};
use crate::observation::{LeaseType, ModelId};
use crate::weights::capped_weights;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixingStatus {
    Ok,
    /// Fewer valid constituents (or observations) than the minimum: the previous value is
    /// carried and flagged.
    InsufficientData,
}

/// One published value per method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodValue {
    pub method: Method,
    /// Rounded to the definition's `decimals`, half away from zero. None before any value.
    pub value: Option<Decimal>,
    /// The unrounded value (what the chain carries forward).
    pub exact: Option<Decimal>,
}

/// A daily fixing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixing {
    pub index_id: String,
    pub date: NaiveDate,
    pub fixing_time: DateTime<Utc>,
    pub currency: String,
    /// The settlement method (the definition's first method).
    pub method: Method,
    /// The settlement value, rounded. None only before the first sufficient fixing.
    pub value: Option<Decimal>,
    pub status: FixingStatus,
    /// Every published method (settlement first).
    pub values: Vec<MethodValue>,
    pub audit: FixingAudit,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixingAudit {
    pub method_version: String,
    pub definition_version: u32,
    pub definition_sha256: String,
    pub decimals: u32,
    pub basket: Option<BasketAudit>,
    pub constituents: Vec<ConstituentAudit>,
    pub exclusions: Vec<Exclusion>,
    pub fx: Option<FxAudit>,
    pub chain: Option<ChainAudit>,
    pub gpu: Option<GpuAudit>,
    /// For an insufficient-data fixing: the date of the value carried.
    pub carried_from: Option<NaiveDate>,
    pub notes: Vec<String>,
    /// sha256 (hex) of this record with `hash` empty.
    pub hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketAudit {
    /// First day the basket is in force (the monthly rebalance).
    pub rebalance_date: NaiveDate,
    /// The review time: composition, weights and reference prices are taken at the fixing
    /// time of the day before the rebalance.
    pub review_time: DateTime<Utc>,
    pub membership_effective_from: NaiveDate,
    /// `file vN (as of …)` or `equal weights`.
    pub weights_source: String,
    pub blend_input: Decimal,
    pub blend_output: Decimal,
    pub model_cap: Decimal,
    pub provider_cap: Decimal,
    pub min_constituents: u32,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceState {
    /// A valid price at this fixing.
    Fresh,
    /// No valid price: the last valid price (of `since`) is carried.
    Carried { since: NaiveDate },
    /// Carried for longer than allowed: out of the basket until the next rebalance.
    Left,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConstituentAudit {
    pub model: ModelId,
    /// Raw usage share (before normalisation and caps).
    pub share: Decimal,
    /// Capped weight (fraction).
    pub weight: Decimal,
    /// Blended price at the review (the chained index's base for this basket).
    pub reference_price: Decimal,
    /// Blended price used at this fixing, in the index currency (None if it left).
    pub price: Option<Decimal>,
    pub state: PriceState,
    /// Quotes per source at the fixing time (empty when carried or left).
    pub quotes: Vec<Quote>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub source: String,
    pub effective_from: DateTime<Utc>,
    /// List prices per million tokens, in the source currency (USD).
    pub input: Decimal,
    pub output: Decimal,
    /// Blended price converted to the index currency.
    pub blended: Decimal,
    /// False if excluded (the reason is in the exclusions).
    pub used: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionReason {
    /// `…-latest` names re-point to new models: never constituents.
    Alias,
    /// Reported `removed`: leaves at the next rebalance after the report.
    Removed,
    /// Priced for fewer days than the eligibility period at the review.
    NotYetEligible,
    /// No valid price at the review time.
    NoPriceAtReview,
    /// A zero price is a promotion, not a price.
    ZeroPrice,
    /// The source withdrew the price (`rates: null`).
    Withdrawn,
    /// The source last vouched for the price too long before the fixing.
    Stale,
    /// Far from the cross-source median (k·MAD).
    Outlier,
    /// Carried forward longer than allowed: left the basket.
    CarryForwardExpired,
    /// GPU: lease type without a normalisation factor.
    UnknownLeaseType,
    /// GPU: trimmed (top or bottom tail).
    Trimmed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// `provider/model` for token indexes, the contributor for GPU indexes.
    pub subject: String,
    pub source: Option<String>,
    pub reason: ExclusionReason,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxAudit {
    pub pair: String,
    pub rate: Decimal,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainAudit {
    /// The review date the current link was set at.
    pub link_date: NaiveDate,
    /// Chained level at the link (exact).
    pub link_level: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuAudit {
    pub window_from: DateTime<Utc>,
    /// Observations kept after trimming, with their normalised price and capped volume.
    pub kept: Vec<GpuQuote>,
    /// Contributor → volume scale applied by the cap (only capped contributors).
    pub contributor_scales: Vec<(String, Decimal)>,
    pub trim_count_each_end: u32,
    pub observations_in_window: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuQuote {
    pub provider: String,
    pub lease: LeaseType,
    pub price: Decimal,
    pub factor: Decimal,
    pub normalised: Decimal,
    pub gpu_count: u32,
    /// Volume weight after the contributor cap.
    pub weight: Decimal,
    pub origin: String,
}

thread_local! {
    /// Reused serialisation buffer for record hashes (one per thread; no state leaks between
    /// records: it is cleared before each use).
    static HASH_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn sha256_json<T: Serialize>(v: &T) -> String {
    HASH_BUF.with(|b| {
        let mut buf = b.borrow_mut();
        buf.clear();
        serde_json::to_writer(&mut *buf, v).expect("serialising a fixing cannot fail");
        hex(&Sha256::digest(&buf[..]))
    })
}

impl Fixing {
    /// sha256 over the record's canonical JSON (field order as declared) with `hash` empty.
    pub fn compute_hash(&self) -> String {
        if self.audit.hash.is_empty() {
            sha256_json(self)
        } else {
            let mut f = self.clone();
            f.audit.hash.clear();
            sha256_json(&f)
        }
    }

    /// Sets `audit.hash` (called once when the record is complete).
    pub fn seal(&mut self) {
        self.audit.hash.clear();
        self.audit.hash = self.compute_hash();
    }

    pub fn value_of(&self, method: Method) -> Option<Decimal> {
        self.values
            .iter()
            .find(|v| v.method == method)
            .and_then(|v| v.value)
    }
}

/// Why a fixing does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{index_id} {date}: {message}")]
pub struct VerifyError {
    pub index_id: String,
    pub date: NaiveDate,
    pub message: String,
}

/// Recomputes a fixing from its own record, bit for bit: the record hash, the definition it
/// was computed under, every quote's blended price, each constituent's price (median of the
/// used quotes), the capped weights from the shares, and the exact and rounded values.
pub fn verify_fixing(f: &Fixing, def: &IndexDefinition) -> Result<(), VerifyError> {
    let fail = |m: String| {
        Err(VerifyError {
            index_id: f.index_id.clone(),
            date: f.date,
            message: m,
        })
    };
    if f.index_id != def.id {
        return fail(format!(
            "fixing is for {}, definition is {}",
            f.index_id, def.id
        ));
    }
    if f.audit.definition_sha256 != def.sha256 {
        return fail(format!(
            "computed under definition {} but the given definition is {} (a different version)",
            short(&f.audit.definition_sha256),
            short(&def.sha256)
        ));
    }
    let h = f.compute_hash();
    if h != f.audit.hash {
        return fail(format!(
            "record hash {} does not match its content ({})",
            short(&f.audit.hash),
            short(&h)
        ));
    }
    if f.values.first().map(|v| v.method) != Some(f.method)
        || f.values.first().map(|v| v.value) != Some(f.value)
    {
        return fail("settlement value is not the first published value".into());
    }
    let recomputed = match f.audit.gpu {
        Some(_) => recompute_gpu(f),
        None => recompute_token(f, def),
    };
    let exacts = match recomputed {
        Ok(v) => v,
        Err(m) => return fail(m),
    };
    for mv in &f.values {
        let Some(&(_, exact)) = exacts.iter().find(|(m, _)| *m == mv.method) else {
            return fail(format!("method {} not recomputable", mv.method.as_str()));
        };
        match f.status {
            FixingStatus::Ok => {
                if mv.exact != exact {
                    return fail(format!(
                        "{}: recorded {:?}, recomputed {:?}",
                        mv.method.as_str(),
                        mv.exact,
                        exact
                    ));
                }
            }
            FixingStatus::InsufficientData => {
                if exact.is_some() {
                    return fail("flagged insufficient data but enough inputs are recorded".into());
                }
            }
        }
        if mv.value != mv.exact.map(|x| round_publish(x, f.audit.decimals)) {
            return fail(format!(
                "{}: published value is not the exact value rounded",
                mv.method.as_str()
            ));
        }
    }
    Ok(())
}

fn short(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// Recomputes (method, exact value) for a token fixing; None when the record shows too few
/// constituents.
fn recompute_token(
    f: &Fixing,
    def: &IndexDefinition,
) -> Result<Vec<(Method, Option<Decimal>)>, String> {
    let spec = def.token().ok_or("definition is not a token index")?;
    let basket = f.audit.basket.as_ref().ok_or("no basket in the record")?;
    let (a, b) = (basket.blend_input, basket.blend_output);
    let rate = f.audit.fx.as_ref().map(|x| x.rate).unwrap_or(Decimal::ONE);
    let shares: Vec<(ModelId, Decimal)> = f
        .audit
        .constituents
        .iter()
        .map(|c| (c.model.clone(), c.share))
        .collect();
    let (weights, _) = capped_weights(&shares, basket.model_cap, basket.provider_cap);
    for (c, w) in f.audit.constituents.iter().zip(&weights) {
        if c.weight != *w {
            return Err(format!(
                "{}: weight {} recorded, {} recomputed from the shares",
                c.model, c.weight, w
            ));
        }
        if c.state == PriceState::Fresh {
            let mut used = Vec::new();
            for q in &c.quotes {
                let bl = blend(q.input, q.output, a, b) * rate;
                if bl != q.blended {
                    return Err(format!(
                        "{} {}: blended {} recorded, {} recomputed",
                        c.model, q.source, q.blended, bl
                    ));
                }
                if q.used {
                    used.push(q.blended);
                }
            }
            if used.is_empty() {
                return Err(format!("{}: fresh price without a used quote", c.model));
            }
            let p = median(&mut used);
            if c.price != Some(p) {
                return Err(format!(
                    "{}: price {:?} recorded, median of used quotes {}",
                    c.model, c.price, p
                ));
            }
        }
    }
    let valid: Vec<&ConstituentAudit> = f
        .audit
        .constituents
        .iter()
        .filter(|c| c.price.is_some())
        .collect();
    let enough = valid.len() as u32 >= spec.rules.min_constituents.max(1)
        && valid.len() as u32 >= basket.min_constituents;
    let mut out = Vec::new();
    for m in &def.methods {
        let v = if !enough {
            None
        } else {
            match m {
                Method::Average => Some(average(&valid)),
                Method::Chained => {
                    let chain = f
                        .audit
                        .chain
                        .as_ref()
                        .ok_or("no chain link in the record")?;
                    Some(chained(chain.link_level, &valid))
                }
                Method::WeightedMedian => return Err("weighted_median on a token index".into()),
            }
        };
        out.push((*m, v));
    }
    Ok(out)
}

/// Blended price: (input·a + output·b) / (a + b).
pub fn blend(input: Decimal, output: Decimal, a: Decimal, b: Decimal) -> Decimal {
    (input * a + output * b) / (a + b)
}

/// The sums a token value is made of, over the constituents with a price: the published
/// values are `average = Σw·p / Σw` and `chained = link × Σw·p / Σw·ref`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSums {
    /// Constituents with a price (fresh or carried).
    pub priced: usize,
    /// Σ weight × price.
    pub weighted_prices: Decimal,
    /// Σ weight.
    pub weights: Decimal,
    /// Σ weight × reference price (the chained index's base for this basket).
    pub weighted_references: Decimal,
}

impl TokenSums {
    pub fn of(constituents: &[ConstituentAudit]) -> TokenSums {
        let valid: Vec<&ConstituentAudit> =
            constituents.iter().filter(|c| c.price.is_some()).collect();
        sums(&valid)
    }

    /// Σw·p / Σw.
    pub fn average(&self) -> Decimal {
        self.weighted_prices / self.weights
    }

    /// link × (Σw·p / Σw·ref).
    pub fn chained(&self, link: Decimal) -> Decimal {
        link * (self.weighted_prices / self.weighted_references)
    }
}

fn sums(valid: &[&ConstituentAudit]) -> TokenSums {
    TokenSums {
        priced: valid.len(),
        weighted_prices: valid
            .iter()
            .map(|c| c.weight * c.price.expect("valid"))
            .sum(),
        weights: valid.iter().map(|c| c.weight).sum(),
        weighted_references: valid.iter().map(|c| c.weight * c.reference_price).sum(),
    }
}

/// Σ w·p / Σ w over constituents with a price.
pub(crate) fn average(valid: &[&ConstituentAudit]) -> Decimal {
    sums(valid).average()
}

/// link × Σ w·p / Σ w·ref over constituents with a price.
pub(crate) fn chained(link: Decimal, valid: &[&ConstituentAudit]) -> Decimal {
    sums(valid).chained(link)
}

fn recompute_gpu(f: &Fixing) -> Result<Vec<(Method, Option<Decimal>)>, String> {
    let g = f.audit.gpu.as_ref().expect("checked");
    for q in &g.kept {
        if q.price * q.factor != q.normalised {
            return Err(format!(
                "{} {}: normalised price does not match price × factor",
                q.provider, q.origin
            ));
        }
    }
    let v = if f.status == FixingStatus::Ok {
        Some(crate::gci::weighted_median(
            &g.kept
                .iter()
                .map(|q| (q.normalised, q.weight))
                .collect::<Vec<_>>(),
        ))
    } else {
        None
    };
    Ok(vec![(Method::WeightedMedian, v)])
}
