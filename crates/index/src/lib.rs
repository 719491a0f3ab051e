//! # tokex-index — the underlying benchmarks of Tokex
//!
//! Token Price Indexes (`TPI-F`, `TPI-S`, `TPI-E`, `TPI-CN`: currency per million tokens) and
//! GPU Compute Indexes (`GCI-H100`: USD per GPU-hour), from versioned definitions and real data.
//!
//! The crate is a deterministic core with thin file readers at its edge: importers and
//! definition loaders read files; [`compute_fixings`] and [`verify_fixing`] read no file and
//! no clock (dates are inputs), iterate only ordered maps, and use exact decimals
//! ([`rust_decimal::Decimal`]) — never binary floating point — for every price.
//!
//! ## Map of the files
//! - [`definition`]: [`IndexDefinition::load`] — the TOML definition (tiers, membership
//!   schedule, blend, weighting and caps, data rules, FX), the usage-share file, the FX series.
//! - [`observation`]: [`PriceObservation`], [`StatusEvent`], [`GpuObservation`],
//!   [`ObservationSet`] and the [`ImportReport`] every importer returns.
//! - [`import`]: the model-prices snapshot, the LiteLLM map, the OpenRouter models API, CSV.
//! - [`json`]: a small JSON reader that keeps number text (so floats convert exactly) and lines.
//! - [`num`]: exact number conversion, publication rounding, medians.
//! - [`weights`]: usage shares → weights with model and provider caps.
//! - [`compute`]: token index baskets, data rules, `average` and `chained`, daily fixings.
//! - [`gci`]: GPU index (normalise, trim, contributor cap, weighted median) and the labelled
//!   synthetic data generator.
//! - [`fixing`]: [`Fixing`] and its [`FixingAudit`], the record hash, [`verify_fixing`].
//! - [`methodology`]: the Markdown methodology page generated from a definition.
//!
//! ## Publication
//! Values are published as decimals rounded to the definition's `decimals` (6 for every
//! shipped index), half away from zero; the unrounded value is kept in the record and carried
//! by the chain. A consumer converts a value to ticks with `value / tick`.

pub mod compute;
pub mod definition;
pub mod fixing;
pub mod gci;
pub mod import;
pub mod json;
pub mod methodology;
pub mod num;
pub mod observation;
pub mod weights;

pub use compute::{
    compute_fixings, compute_fixings_with_progress, fixing_instant, ComputeError, DateRange,
};
pub use definition::{DefinitionError, IndexDefinition, IndexKind, Method};
pub use fixing::{
    verify_fixing, ExclusionReason, Fixing, FixingAudit, FixingStatus, PriceState, TokenSums,
    VerifyError,
};
pub use gci::synthetic_gpu_observations;
pub use import::ImportError;
pub use methodology::methodology_markdown;
pub use observation::{
    GpuObservation, ImportReport, LeaseType, ModelId, ObservationSet, PriceObservation, Rates,
    StatusEvent,
};
pub use rust_decimal::Decimal;

/// Verifies a whole history against a fresh computation from the same observations: every
/// fixing must verify from its record, and recomputing the dates from the data must give the
/// same records (same hashes).
pub fn verify_history(
    def: &IndexDefinition,
    fixings: &[Fixing],
    obs: &ObservationSet,
) -> Result<usize, VerifyError> {
    for f in fixings {
        verify_fixing(f, def)?;
    }
    let (Some(first), Some(last)) = (fixings.first(), fixings.last()) else {
        return Ok(0);
    };
    let fresh = compute_fixings(def, obs, DateRange::new(first.date, last.date)).map_err(|e| {
        VerifyError {
            index_id: def.id.clone(),
            date: first.date,
            message: e.to_string(),
        }
    })?;
    let by_date: std::collections::BTreeMap<_, _> = fresh.iter().map(|f| (f.date, f)).collect();
    for f in fixings {
        match by_date.get(&f.date) {
            Some(g) if g.audit.hash == f.audit.hash => {}
            Some(g) => {
                return Err(VerifyError {
                    index_id: def.id.clone(),
                    date: f.date,
                    message: format!(
                        "recomputed from the data: value {:?} (hash {}), record has {:?} (hash {})",
                        g.value,
                        &g.audit.hash[..12],
                        f.value,
                        &f.audit.hash[..12]
                    ),
                })
            }
            None => {
                return Err(VerifyError {
                    index_id: def.id.clone(),
                    date: f.date,
                    message: "date not recomputed".into(),
                })
            }
        }
    }
    Ok(fixings.len())
}
