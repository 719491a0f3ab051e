//! The `model-prices` snapshot: `prices[provider][model][mode]` → a dated timeline of
//! `{start, rates: {input, output, valid_from, source, …}, recorded?}`; plus `status` and
//! `updated_at`.
//!
//! Rules applied here (SPEC §1, "what the real data teaches"):
//! - an entry is in force from its `start`; the first entry has `start: null`, meaning "since
//!   the beginning of time" — that back-fill is **not** trusted: such an entry is in force from
//!   its `rates.valid_from` instead, so a model is never priced before it was first recorded.
//!   A `start: null` entry without `valid_from` is skipped (counted).
//! - `rates: null` after a priced entry withdraws the price (an observation with no rates);
//!   `rates: null` as the first entry has nothing to withdraw and is skipped (counted).
//! - `recorded` (the value first recorded, before the source corrected it) is ignored: the
//!   corrected `rates` are used; the count of such entries is reported.
//! - `tiers` (long-context price tiers) are noted; the base `input`/`output` are used.
//! - the mode is `standard` by default ([`SnapshotOptions`] selects others or all).
//! - every `status` entry becomes a [`StatusEvent`] known at `updated_at`.

use super::{parse_json, read_file, Ctx, ImportError};
use crate::json::{path_push_index, path_push_key, Json};
use crate::observation::{
    ImportReport, ModelId, ObservationSet, PriceObservation, Rates, StatusEvent,
};
use std::path::Path;

/// Which price modes to import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModeFilter {
    /// Only these modes (default: `["standard"]`).
    Only(Vec<String>),
    All,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotOptions {
    pub modes: ModeFilter,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            modes: ModeFilter::Only(vec!["standard".into()]),
        }
    }
}

impl SnapshotOptions {
    fn wants(&self, mode: &str) -> bool {
        match &self.modes {
            ModeFilter::All => true,
            ModeFilter::Only(m) => m.iter().any(|x| x == mode),
        }
    }
}

pub fn import_snapshot_file(
    path: &Path,
    opts: &SnapshotOptions,
) -> Result<(ObservationSet, ImportReport), ImportError> {
    let text = read_file(path)?;
    import_snapshot(&text, &path.display().to_string(), opts)
}

/// Imports a snapshot held in memory; `file` names it in errors and origins.
pub fn import_snapshot(
    text: &str,
    file: &str,
    opts: &SnapshotOptions,
) -> Result<(ObservationSet, ImportReport), ImportError> {
    let root = parse_json(text, file)?;
    let cx = Ctx { file };
    cx.object(&root, "$")?;
    let updated = root
        .get("updated_at")
        .ok_or_else(|| cx.invalid(&root, "$", "missing \"updated_at\""))?;
    let as_of = cx.timestamp(updated, "$.updated_at")?;
    let source = format!("model-prices@{}", as_of.format("%Y-%m-%d"));
    let mut report = ImportReport::new(&source);
    let mut out = ObservationSet::default();

    let prices = root
        .get("prices")
        .ok_or_else(|| cx.invalid(&root, "$", "missing \"prices\""))?;
    for (provider, models) in cx.object(prices, "$.prices")? {
        let ppath = path_push_key("$.prices", provider);
        for (model, modes) in cx.object(models, &ppath)? {
            let mpath = path_push_key(&ppath, model);
            let id = ModelId::new(provider, model);
            for (mode, timeline) in cx.object(modes, &mpath)? {
                let tpath = path_push_key(&mpath, mode);
                let entries = cx.array(timeline, &tpath)?;
                if !opts.wants(mode) {
                    report.skip(&format!("mode {mode:?} not selected"), || {
                        cx.where_(timeline, &tpath)
                    });
                    continue;
                }
                import_timeline(
                    &cx,
                    &id,
                    mode,
                    entries,
                    &tpath,
                    &source,
                    as_of,
                    &mut out,
                    &mut report,
                )?;
            }
        }
    }

    if let Some(status) = root.get("status") {
        for (provider, models) in cx.object(status, "$.status")? {
            let ppath = path_push_key("$.status", provider);
            for (model, st) in cx.object(models, &ppath)? {
                let s = cx.string(st, &path_push_key(&ppath, model))?;
                out.statuses.push(StatusEvent {
                    source: source.clone(),
                    model: ModelId::new(provider, model),
                    status: s.to_string(),
                    as_of,
                });
            }
        }
    }
    report.observations = out.prices.len();
    report.statuses = out.statuses.len();
    Ok((out, report))
}

#[allow(clippy::too_many_arguments)]
fn import_timeline(
    cx: &Ctx,
    id: &ModelId,
    mode: &str,
    entries: &[Json],
    tpath: &str,
    source: &str,
    as_of: chrono::DateTime<chrono::Utc>,
    out: &mut ObservationSet,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut priced_before = false;
    let first = out.prices.len();
    for (i, e) in entries.iter().enumerate() {
        let epath = path_push_index(tpath, i);
        cx.object(e, &epath)?;
        let start = match e.get("start") {
            None => return Err(cx.invalid(e, &epath, "missing \"start\"")),
            Some(s) if s.is_null() => None,
            Some(s) => Some(cx.timestamp(s, &path_push_key(&epath, "start"))?),
        };
        let rates_v = e
            .get("rates")
            .ok_or_else(|| cx.invalid(e, &epath, "missing \"rates\""))?;
        if rates_v.is_null() {
            match (start, priced_before) {
                (Some(t), true) => out.prices.push(PriceObservation {
                    source: source.to_string(),
                    model: id.clone(),
                    mode: mode.to_string(),
                    effective_from: t,
                    as_of,
                    rates: None,
                    origin: cx.where_(e, &epath),
                }),
                _ => report.skip("rates: null with nothing to withdraw", || {
                    cx.where_(e, &epath)
                }),
            }
            continue;
        }
        let rpath = path_push_key(&epath, "rates");
        cx.object(rates_v, &rpath)?;
        let field = |k: &str| -> Result<Option<rust_decimal::Decimal>, ImportError> {
            match rates_v.get(k) {
                None => Ok(None),
                Some(v) => cx.price_number(v, &path_push_key(&rpath, k)).map(Some),
            }
        };
        let (Some(input), Some(output)) = (field("input")?, field("output")?) else {
            report.skip("rates without input or output price", || {
                cx.where_(e, &epath)
            });
            continue;
        };
        let valid_from = match rates_v.get("valid_from") {
            Some(v) if !v.is_null() => Some(cx.timestamp(v, &path_push_key(&rpath, "valid_from"))?),
            _ => None,
        };
        let effective_from = match (start, valid_from) {
            (Some(s), _) => s,
            (None, Some(v)) => v,
            (None, None) => {
                report.skip(
                    "start: null and no valid_from (back-filled, not trusted)",
                    || cx.where_(e, &epath),
                );
                continue;
            }
        };
        if e.get("recorded").is_some() {
            report.note("`recorded` (pre-correction) value ignored, corrected rates used");
        }
        if rates_v.get("tiers").is_some() {
            report.note("price tiers present, base input/output used");
        }
        priced_before = true;
        out.prices.push(PriceObservation {
            source: source.to_string(),
            model: id.clone(),
            mode: mode.to_string(),
            effective_from,
            as_of,
            rates: Some(Rates { input, output }),
            origin: cx.where_(e, &epath),
        });
    }
    // Timelines are meant to be in order; a `start: null` entry placed at its `valid_from` may
    // fall after a later `start`. A stable sort keeps file order among equal times.
    out.prices[first..].sort_by_key(|o| o.effective_from);
    Ok(())
}
