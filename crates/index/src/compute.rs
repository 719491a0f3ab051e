//! Token price index computation: baskets, data rules, the two methods, daily fixings.
//!
//! Timeline of one month (rebalance on day R = the 1st):
//! - **review** at the fixing time of R−1: the membership entry in force on R names the
//!   candidates; a candidate is dropped if it is a `-latest` alias, if a source reported it
//!   `removed` by then, if it has been priced for fewer than `eligible_after_days`, or if it
//!   has no valid price at the review. Shares come from the usage period in force on R (equal
//!   weights without a usage file), then the caps. The valid prices at the review are the
//!   basket's reference prices; the chained level at the review is the link.
//! - **each day** at the fixing time: every constituent's price is the one in force at that
//!   instant per source (a glitch corrected before the fixing never reaches it), after the
//!   data rules: zero price → excluded (promotion); `rates: null` → withdrawn; source last
//!   vouched for it more than `staleness_days` before → stale; ≥ 3 sources → k·MAD outliers
//!   excluded; the model's price is the median of what remains. No valid price → the last
//!   valid price is carried for at most `carry_forward_days`, then the model leaves the basket
//!   until the next rebalance and the weights of the others renormalise.
//! - **values**: `average` = Σ w·p / Σ w; `chained` = link × Σ w·p / Σ w·ref (Laspeyres on
//!   usage quantities, matched models). The first link is the first basket's average at its
//!   review, so the chained index reads in currency per million tokens. Fewer valid
//!   constituents than `min_constituents` → insufficient data, the previous values carried.

use crate::definition::{IndexDefinition, Method, TokenSpec};
use crate::fixing::{
    average, blend, chained, BasketAudit, ChainAudit, ConstituentAudit, Exclusion, ExclusionReason,
    Fixing, FixingAudit, FixingStatus, FxAudit, MethodValue, PriceState, Quote,
};
use crate::num::{median, round_publish};
use crate::observation::{ModelId, ObservationSet, PriceObservation};
use crate::weights::capped_weights;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// An inclusive range of fixing dates.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateRange {
    pub fn new(start: NaiveDate, end: NaiveDate) -> DateRange {
        DateRange { start, end }
    }
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        let end = self.end;
        self.start.iter_days().take_while(move |d| *d <= end)
    }
    pub fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            (self.end - self.start).num_days() as usize + 1
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    #[error("{0}")]
    Range(String),
}

/// Computes the daily fixings of `def` for every date in `range` (the history from the
/// definition's base date is always run, so chained values do not depend on the range).
pub fn compute_fixings(
    def: &IndexDefinition,
    obs: &ObservationSet,
    range: DateRange,
) -> Result<Vec<Fixing>, ComputeError> {
    compute_fixings_with_progress(def, obs, range, &mut |_| {})
}

/// As [`compute_fixings`], calling `progress(date)` after each day (for a progress bar).
pub fn compute_fixings_with_progress(
    def: &IndexDefinition,
    obs: &ObservationSet,
    range: DateRange,
    progress: &mut dyn FnMut(NaiveDate),
) -> Result<Vec<Fixing>, ComputeError> {
    if range.end < range.start {
        return Err(ComputeError::Range(format!(
            "empty date range {} → {}",
            range.start, range.end
        )));
    }
    match &def.kind {
        crate::definition::IndexKind::Token(spec) => {
            Ok(compute_token(def, spec, obs, range, progress))
        }
        crate::definition::IndexKind::Gpu(spec) => Ok(crate::gci::compute_gpu(
            def, spec, &obs.gpu, range, progress,
        )),
    }
}

/// The fixing instant of a date.
pub fn fixing_instant(def: &IndexDefinition, date: NaiveDate) -> DateTime<Utc> {
    date.and_time(def.fixing_time).and_utc()
}

/// Per-model observations for one index, by source, sorted by `effective_from`.
struct Book<'a> {
    by_model: BTreeMap<ModelId, BTreeMap<&'a str, Vec<&'a PriceObservation>>>,
    /// First time each model had a (non-withdrawn) price from any source.
    first_priced: BTreeMap<ModelId, DateTime<Utc>>,
    /// Earliest time a source reported the model removed.
    removed: BTreeMap<ModelId, DateTime<Utc>>,
}

impl<'a> Book<'a> {
    fn new(spec: &TokenSpec, obs: &'a ObservationSet) -> Book<'a> {
        let wanted: std::collections::BTreeSet<&ModelId> = spec
            .membership
            .iter()
            .flat_map(|m| m.models.iter())
            .collect();
        let mut by_model: BTreeMap<ModelId, BTreeMap<&str, Vec<&PriceObservation>>> =
            BTreeMap::new();
        let mut first_priced: BTreeMap<ModelId, DateTime<Utc>> = BTreeMap::new();
        for o in &obs.prices {
            if o.mode != spec.mode {
                continue;
            }
            let id = spec.model_aliases.get(&o.model).unwrap_or(&o.model);
            if !wanted.contains(id) {
                continue;
            }
            by_model
                .entry(id.clone())
                .or_default()
                .entry(o.source.as_str())
                .or_default()
                .push(o);
            if o.rates.is_some() {
                let e = first_priced.entry(id.clone()).or_insert(o.effective_from);
                if o.effective_from < *e {
                    *e = o.effective_from;
                }
            }
        }
        for sources in by_model.values_mut() {
            for v in sources.values_mut() {
                v.sort_by_key(|o| o.effective_from);
            }
        }
        let mut removed: BTreeMap<ModelId, DateTime<Utc>> = BTreeMap::new();
        for s in &obs.statuses {
            if s.status != "removed" {
                continue;
            }
            let id = spec.model_aliases.get(&s.model).unwrap_or(&s.model);
            let e = removed.entry(id.clone()).or_insert(s.as_of);
            if s.as_of < *e {
                *e = s.as_of;
            }
        }
        Book {
            by_model,
            first_priced,
            removed,
        }
    }
}

/// The valid price of one model at one instant, or why there is none.
struct PriceAt {
    price: Option<Decimal>,
    quotes: Vec<Quote>,
    exclusions: Vec<Exclusion>,
}

fn price_at(
    book: &Book,
    spec: &TokenSpec,
    model: &ModelId,
    t: DateTime<Utc>,
    rate: Decimal,
) -> PriceAt {
    let mut quotes = Vec::new();
    let mut exclusions = Vec::new();
    let subject = model.to_string();
    let Some(sources) = book.by_model.get(model) else {
        return PriceAt {
            price: None,
            quotes,
            exclusions,
        };
    };
    let stale_after = Duration::days(spec.rules.staleness_days as i64);
    for (source, list) in sources {
        let n = list.partition_point(|o| o.effective_from <= t);
        if n == 0 {
            continue; // not priced by this source yet
        }
        let o = list[n - 1];
        let ex = |reason, detail: String| Exclusion {
            subject: subject.clone(),
            source: Some(source.to_string()),
            reason,
            detail,
        };
        let Some(r) = o.rates else {
            exclusions.push(ex(
                ExclusionReason::Withdrawn,
                format!("no price since {}", o.effective_from),
            ));
            continue;
        };
        let blended = blend(r.input, r.output, spec.blend_input, spec.blend_output) * rate;
        let mut q = Quote {
            source: source.to_string(),
            effective_from: o.effective_from,
            input: r.input,
            output: r.output,
            blended,
            used: false,
        };
        if r.input.is_zero() || r.output.is_zero() {
            exclusions.push(ex(
                ExclusionReason::ZeroPrice,
                format!(
                    "input {} output {}: a promotion, not a price",
                    r.input, r.output
                ),
            ));
            quotes.push(q);
            continue;
        }
        if t > o.as_of && t - o.as_of > stale_after {
            exclusions.push(ex(
                ExclusionReason::Stale,
                format!(
                    "last confirmed {}, more than {} days before",
                    o.as_of, spec.rules.staleness_days
                ),
            ));
            quotes.push(q);
            continue;
        }
        q.used = true;
        quotes.push(q);
    }
    let mut used: Vec<Decimal> = quotes
        .iter()
        .filter(|q| q.used)
        .map(|q| q.blended)
        .collect();
    if used.len() >= 3 {
        let m = median(&mut used.clone());
        let mut dev: Vec<Decimal> = used.iter().map(|p| (*p - m).abs()).collect();
        let mad = median(&mut dev);
        let floor = spec.rules.mad_floor * m;
        let limit = spec.rules.outlier_k * mad.max(floor);
        for q in quotes.iter_mut().filter(|q| q.used) {
            if (q.blended - m).abs() > limit {
                q.used = false;
                exclusions.push(Exclusion {
                    subject: subject.clone(),
                    source: Some(q.source.clone()),
                    reason: ExclusionReason::Outlier,
                    detail: format!(
                        "blended {} vs cross-source median {}: more than {}·MAD ({})",
                        q.blended, m, spec.rules.outlier_k, limit
                    ),
                });
            }
        }
        used = quotes
            .iter()
            .filter(|q| q.used)
            .map(|q| q.blended)
            .collect();
    }
    let price = if used.is_empty() {
        None
    } else {
        Some(median(&mut used))
    };
    PriceAt {
        price,
        quotes,
        exclusions,
    }
}

struct Member {
    model: ModelId,
    share: Decimal,
    weight: Decimal,
    reference: Decimal,
    last_valid: (NaiveDate, Decimal),
    left: bool,
}

struct Basket {
    audit: BasketAudit,
    members: Vec<Member>,
    exclusions: Vec<Exclusion>,
    notes: Vec<String>,
    link: Option<ChainAudit>,
}

fn rate_on(spec: &TokenSpec, date: NaiveDate) -> (Decimal, Option<FxAudit>) {
    match &spec.fx {
        None => (Decimal::ONE, None),
        Some(fx) => {
            let (rate, label) = fx.rate_on(date);
            (
                rate,
                Some(FxAudit {
                    pair: fx.pair.clone(),
                    rate,
                    label,
                }),
            )
        }
    }
}

fn review(
    def: &IndexDefinition,
    spec: &TokenSpec,
    book: &Book,
    rebalance: NaiveDate,
    chained_last: Option<Decimal>,
) -> Basket {
    let review_date = rebalance.pred_opt().expect("date in range");
    let t = fixing_instant(def, review_date);
    let (rate, _) = rate_on(spec, review_date);
    let entry = spec.membership_on(rebalance);
    let mut exclusions = Vec::new();
    let mut cands: Vec<(ModelId, Decimal)> = Vec::new();
    let mut refs: Vec<Decimal> = Vec::new();
    let period = spec
        .weighting
        .usage
        .as_ref()
        .and_then(|u| u.period_on(rebalance));
    let eligible_after = Duration::days(spec.eligible_after_days as i64);
    for m in entry.map(|e| e.models.as_slice()).unwrap_or(&[]) {
        let ex = |reason, detail: String| Exclusion {
            subject: m.to_string(),
            source: None,
            reason,
            detail,
        };
        if m.is_alias() {
            exclusions.push(ex(
                ExclusionReason::Alias,
                "a `-latest` alias is never a constituent".into(),
            ));
            continue;
        }
        if let Some(at) = book.removed.get(m).filter(|at| **at <= t) {
            exclusions.push(ex(
                ExclusionReason::Removed,
                format!("reported removed at {at}; left at this rebalance"),
            ));
            continue;
        }
        match book.first_priced.get(m) {
            Some(first) if *first + eligible_after <= t => {}
            Some(first) => {
                exclusions.push(ex(
                    ExclusionReason::NotYetEligible,
                    format!(
                        "first priced {first}; eligible {} days later",
                        spec.eligible_after_days
                    ),
                ));
                continue;
            }
            None => {
                exclusions.push(ex(
                    ExclusionReason::NotYetEligible,
                    "never priced before the review".into(),
                ));
                continue;
            }
        }
        let p = price_at(book, spec, m, t, rate);
        let Some(reference) = p.price else {
            let why: Vec<String> = p
                .exclusions
                .iter()
                .map(|e| format!("{:?}: {}", e.reason, e.detail))
                .collect();
            exclusions.push(ex(
                ExclusionReason::NoPriceAtReview,
                format!("no valid price at {t} ({})", why.join("; ")),
            ));
            continue;
        };
        let share = match (&spec.weighting.usage, period) {
            (None, _) => Decimal::ONE,
            (Some(u), Some(p)) => p.shares.get(m).copied().unwrap_or(u.default_share),
            (Some(u), None) => u.default_share,
        };
        cands.push((m.clone(), share));
        refs.push(reference);
    }
    let (weights, notes) = capped_weights(
        &cands,
        spec.weighting.model_cap,
        spec.weighting.provider_cap,
    );
    let mut members = Vec::new();
    for (((model, share), weight), reference) in cands.into_iter().zip(weights).zip(refs) {
        members.push(Member {
            model,
            share,
            weight,
            reference,
            last_valid: (review_date, reference),
            left: false,
        });
    }
    let weights_source = match &spec.weighting.usage {
        None => "equal weights (no usage file)".to_string(),
        Some(u) => format!(
            "{} v{} (as of {}), period from {}",
            u.file,
            u.version,
            u.as_of,
            period
                .map(|p| p.effective_from.to_string())
                .unwrap_or_else(|| "— (default shares)".into())
        ),
    };
    // The chain link: the last chained level, or — for the first basket — its own average at
    // the review, so the chained index starts at the basket's average blended price.
    let link = if members.len() as u32 >= spec.rules.min_constituents {
        let level = match chained_last {
            Some(l) => l,
            None => {
                let num: Decimal = members.iter().map(|m| m.weight * m.reference).sum();
                let den: Decimal = members.iter().map(|m| m.weight).sum();
                num / den
            }
        };
        Some(ChainAudit {
            link_date: review_date,
            link_level: level,
        })
    } else {
        chained_last.map(|l| ChainAudit {
            link_date: review_date,
            link_level: l,
        })
    };
    Basket {
        audit: BasketAudit {
            rebalance_date: rebalance,
            review_time: t,
            membership_effective_from: entry.map(|e| e.effective_from).unwrap_or(rebalance),
            weights_source,
            blend_input: spec.blend_input,
            blend_output: spec.blend_output,
            model_cap: spec.weighting.model_cap,
            provider_cap: spec.weighting.provider_cap,
            min_constituents: spec.rules.min_constituents,
        },
        members,
        exclusions,
        notes,
        link,
    }
}

fn compute_token(
    def: &IndexDefinition,
    spec: &TokenSpec,
    obs: &ObservationSet,
    range: DateRange,
    progress: &mut dyn FnMut(NaiveDate),
) -> Vec<Fixing> {
    let book = Book::new(spec, obs);
    let first = def.base_date.min(range.start);
    let mut out = Vec::with_capacity(range.len());
    let mut basket: Option<Basket> = None;
    let mut last: Option<(NaiveDate, Vec<Option<Decimal>>)> = None; // exact values per method
    let carry = Duration::days(spec.rules.carry_forward_days as i64);
    for d in (DateRange {
        start: first,
        end: range.end,
    })
    .days()
    {
        let needs_review = match &basket {
            None => true,
            Some(b) => d.day() == 1 && b.audit.rebalance_date != d,
        };
        if needs_review {
            let chained_last = last.as_ref().and_then(|(_, v)| {
                def.methods
                    .iter()
                    .position(|m| *m == Method::Chained)
                    .and_then(|i| v[i])
            });
            basket = Some(review(def, spec, &book, d, chained_last));
        }
        let b = basket.as_mut().expect("set above");
        let t = fixing_instant(def, d);
        let (rate, fx) = rate_on(spec, d);
        let mut constituents = Vec::with_capacity(b.members.len());
        let mut exclusions = b.exclusions.clone();
        for m in &mut b.members {
            let mut c = ConstituentAudit {
                model: m.model.clone(),
                share: m.share,
                weight: m.weight,
                reference_price: m.reference,
                price: None,
                state: PriceState::Left,
                quotes: Vec::new(),
            };
            if !m.left {
                let p = price_at(&book, spec, &m.model, t, rate);
                exclusions.extend(p.exclusions);
                match p.price {
                    Some(price) => {
                        m.last_valid = (d, price);
                        c.price = Some(price);
                        c.state = PriceState::Fresh;
                        c.quotes = p.quotes;
                    }
                    None if d - m.last_valid.0 <= carry => {
                        c.price = Some(m.last_valid.1);
                        c.state = PriceState::Carried {
                            since: m.last_valid.0,
                        };
                    }
                    None => {
                        m.left = true;
                        exclusions.push(Exclusion {
                            subject: m.model.to_string(),
                            source: None,
                            reason: ExclusionReason::CarryForwardExpired,
                            detail: format!(
                                "no valid price since {}; carried {} days at most; out until the next rebalance",
                                m.last_valid.0, spec.rules.carry_forward_days
                            ),
                        });
                    }
                }
            }
            constituents.push(c);
        }
        let valid: Vec<&ConstituentAudit> =
            constituents.iter().filter(|c| c.price.is_some()).collect();
        let enough = valid.len() as u32 >= spec.rules.min_constituents;
        let (status, exacts, carried_from) = if enough {
            let ex: Vec<Option<Decimal>> = def
                .methods
                .iter()
                .map(|m| match m {
                    Method::Average => Some(average(&valid)),
                    Method::Chained => b.link.as_ref().map(|l| chained(l.link_level, &valid)),
                    Method::WeightedMedian => None,
                })
                .collect();
            last = Some((d, ex.clone()));
            (FixingStatus::Ok, ex, None)
        } else {
            match &last {
                Some((ld, v)) => (FixingStatus::InsufficientData, v.clone(), Some(*ld)),
                None => (
                    FixingStatus::InsufficientData,
                    vec![None; def.methods.len()],
                    None,
                ),
            }
        };
        if d >= range.start {
            let values: Vec<MethodValue> = def
                .methods
                .iter()
                .zip(&exacts)
                .map(|(m, e)| MethodValue {
                    method: *m,
                    value: e.map(|x| round_publish(x, def.decimals)),
                    exact: *e,
                })
                .collect();
            let mut notes = b.notes.clone();
            if !enough {
                notes.push(format!(
                    "insufficient data: {} valid constituents, minimum {}",
                    valid.len(),
                    spec.rules.min_constituents
                ));
            }
            let mut f = Fixing {
                index_id: def.id.clone(),
                date: d,
                fixing_time: t,
                currency: def.currency.clone(),
                method: def.methods[0],
                value: values[0].value,
                status,
                values,
                audit: FixingAudit {
                    method_version: def.method_version.clone(),
                    definition_version: def.definition_version,
                    definition_sha256: def.sha256.clone(),
                    decimals: def.decimals,
                    basket: Some(b.audit.clone()),
                    constituents,
                    exclusions,
                    fx,
                    chain: if def.methods.contains(&Method::Chained) {
                        b.link.clone()
                    } else {
                        None
                    },
                    gpu: None,
                    carried_from,
                    notes,
                    hash: String::new(),
                },
            };
            f.seal();
            out.push(f);
            progress(d);
        }
    }
    out
}
