//! What importers produce and the computation consumes: price observations that keep their
//! source, model status events, GPU rental observations, and the import report.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A model's canonical id: `provider/model`, e.g. `anthropic/claude-opus-4-1`. The provider
/// is the lab (or reseller) that publishes the list price.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ModelId {
    pub provider: String,
    pub model: String,
}

impl ModelId {
    pub fn new(provider: &str, model: &str) -> ModelId {
        ModelId {
            provider: provider.to_string(),
            model: model.to_string(),
        }
    }

    /// Parses `provider/model` (the model part may itself contain `/`).
    pub fn parse(s: &str) -> Option<ModelId> {
        let (p, m) = s.split_once('/')?;
        if p.is_empty() || m.is_empty() {
            return None;
        }
        Some(ModelId::new(p, m))
    }

    /// `…-latest` (and bare `latest`, `chat-latest`) names re-point to new models over time:
    /// they are never constituents.
    pub fn is_alias(&self) -> bool {
        let m = self.model.to_ascii_lowercase();
        m == "latest" || m.ends_with("-latest")
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// Input and output list prices, per million tokens, in the observation's currency (USD for
/// every shipped source).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub input: Decimal,
    pub output: Decimal,
}

/// One price observation. Two shapes share this type:
/// - a **timeline** entry (model-prices snapshot): the price is in force from `effective_from`
///   until the next entry of the same source, model and mode; the source vouched for the
///   timeline as a whole at `as_of` (the snapshot's date).
/// - a **point** observation (LiteLLM, OpenRouter, CSV): the price seen at `effective_from`,
///   `as_of == effective_from`.
///
/// `rates: None` means the source says the model has **no** price from `effective_from`
/// (the mode was withdrawn): it ends the previous entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceObservation {
    /// Source tag, e.g. `model-prices@2026-10-26`, `litellm@2026-10-20`, `openrouter@…`, `csv:file`.
    pub source: String,
    pub model: ModelId,
    /// Price mode: `standard`, `batch`, `flex`, … (point sources report `standard`).
    pub mode: String,
    pub effective_from: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub rates: Option<Rates>,
    /// Where in the input file this came from (`file:line $.path`), for audits.
    pub origin: String,
}

/// Lifecycle status a source reports for a model (`deprecated`, `removed`), known at `as_of`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEvent {
    pub source: String,
    pub model: ModelId,
    pub status: String,
    pub as_of: DateTime<Utc>,
}

/// Lease type of a GPU rental observation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LeaseType {
    OnDemand,
    Spot,
    /// Reserved for N months.
    Reserved(u32),
}

impl LeaseType {
    /// `on_demand`, `spot`, `reserved_12m`.
    pub fn parse(s: &str) -> Option<LeaseType> {
        match s {
            "on_demand" | "on-demand" | "ondemand" => Some(LeaseType::OnDemand),
            "spot" => Some(LeaseType::Spot),
            _ => {
                let n = s
                    .strip_prefix("reserved_")
                    .or_else(|| s.strip_prefix("reserved-"))?;
                let n = n.strip_suffix('m').unwrap_or(n);
                n.parse().ok().filter(|&n| n > 0).map(LeaseType::Reserved)
            }
        }
    }

    /// The key used in a definition's `lease_factors` table.
    pub fn key(&self) -> String {
        match self {
            LeaseType::OnDemand => "on_demand".into(),
            LeaseType::Spot => "spot".into(),
            LeaseType::Reserved(n) => format!("reserved_{n}m"),
        }
    }
}

/// One GPU rental offer or transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuObservation {
    pub source: String,
    /// The contributor (cloud, marketplace) whose volume is capped.
    pub provider: String,
    pub gpu_model: String,
    pub region: String,
    pub lease: LeaseType,
    /// USD per GPU-hour as quoted (before normalisation).
    pub price: Decimal,
    pub gpu_count: u32,
    pub observed_at: DateTime<Utc>,
    pub origin: String,
}

/// Everything a computation may read. Built by the importers; never read from disk by the
/// computation itself.
#[derive(Clone, Debug, Default)]
pub struct ObservationSet {
    pub prices: Vec<PriceObservation>,
    pub statuses: Vec<StatusEvent>,
    pub gpu: Vec<GpuObservation>,
}

impl ObservationSet {
    pub fn extend(&mut self, other: ObservationSet) {
        self.prices.extend(other.prices);
        self.statuses.extend(other.statuses);
        self.gpu.extend(other.gpu);
    }
}

/// What an import kept and what it skipped, with counts per reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub source: String,
    pub observations: usize,
    pub statuses: usize,
    /// Reason → count.
    pub skipped: BTreeMap<String, usize>,
    /// Reason → up to a few examples (`file:line $.path`).
    pub examples: BTreeMap<String, Vec<String>>,
    /// Things imported with a remark (not skipped): remark → count.
    pub notes: BTreeMap<String, usize>,
}

/// Examples kept per skip reason.
pub const SKIP_EXAMPLES_MAX: usize = 3;

impl ImportReport {
    pub fn new(source: &str) -> ImportReport {
        ImportReport {
            source: source.to_string(),
            ..Default::default()
        }
    }

    pub fn skip(&mut self, reason: &str, where_: impl FnOnce() -> String) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
        let ex = self.examples.entry(reason.to_string()).or_default();
        if ex.len() < SKIP_EXAMPLES_MAX {
            ex.push(where_());
        }
    }

    pub fn note(&mut self, remark: &str) {
        *self.notes.entry(remark.to_string()).or_default() += 1;
    }

    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} price observations, {} status records, {} skipped",
            self.source,
            self.observations,
            self.statuses,
            self.skipped_total()
        )?;
        for (reason, n) in &self.skipped {
            write!(f, "  skipped {n:>5}  {reason}")?;
            if let Some(ex) = self.examples.get(reason).and_then(|e| e.first()) {
                write!(f, "  (e.g. {ex})")?;
            }
            writeln!(f)?;
        }
        for (remark, n) in &self.notes {
            writeln!(f, "  note    {n:>5}  {remark}")?;
        }
        Ok(())
    }
}
