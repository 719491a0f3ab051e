//! The index engine as the exchange sees it: the shipped definitions and data, loaded once,
//! and the daily fixing of any index for any date, in millionths of the index unit.

use chrono::{NaiveDate, NaiveTime};
use std::collections::BTreeMap;
use std::path::Path;
use tokex_index::import::snapshot::{import_snapshot_file, ModeFilter, SnapshotOptions};
use tokex_index::{compute_fixings, DateRange, FixingStatus, IndexDefinition, ObservationSet};

/// Seed of the labelled synthetic GPU rental data used when no real GPU data is configured.
pub const SYNTHETIC_GPU_SEED: u64 = 42;

pub struct IndexFeed {
    defs: Vec<IndexDefinition>,
    obs: ObservationSet,
    /// Computed fixings: (index, date) → value ×10⁶ (only sufficient fixings).
    cache: BTreeMap<(String, NaiveDate), Option<i64>>,
}

impl IndexFeed {
    pub fn load(
        indexes: &Path,
        model_prices: &Path,
        until: NaiveDate,
    ) -> Result<IndexFeed, String> {
        let defs =
            IndexDefinition::load_dir(indexes).map_err(|e| format!("index definitions: {e}"))?;
        let (mut obs, _report) = import_snapshot_file(
            model_prices,
            &SnapshotOptions {
                modes: ModeFilter::Only(vec!["standard".into()]),
            },
        )
        .map_err(|e| format!("model prices: {e}"))?;
        for d in &defs {
            if let Some(g) = d.gpu() {
                let range = DateRange::new(d.base_date - chrono::Duration::days(1), until);
                obs.gpu.extend(tokex_index::synthetic_gpu_observations(
                    SYNTHETIC_GPU_SEED,
                    &g.gpu_model,
                    range,
                    40,
                ));
            }
        }
        Ok(IndexFeed {
            defs,
            obs,
            cache: BTreeMap::new(),
        })
    }

    pub fn definitions(&self) -> &[IndexDefinition] {
        &self.defs
    }

    pub fn fixing_time(&self, index: &str) -> Option<NaiveTime> {
        self.defs
            .iter()
            .find(|d| d.id == index)
            .map(|d| d.fixing_time)
    }

    /// Every sufficient fixing of every index from its base date to `until`, in date order.
    pub fn history(&mut self, until: NaiveDate) -> Vec<(String, NaiveDate, i64)> {
        let mut out = Vec::new();
        for d in self.defs.clone() {
            if let Ok(fs) = compute_fixings(&d, &self.obs, DateRange::new(d.base_date, until)) {
                for f in fs {
                    let v = (f.status == FixingStatus::Ok)
                        .then(|| f.value.and_then(to_e6))
                        .flatten();
                    self.cache.insert((d.id.clone(), f.date), v);
                    if let Some(v) = v {
                        out.push((d.id.clone(), f.date, v));
                    }
                }
            }
        }
        out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        out
    }

    /// The fixing of `index` on `date`, ×10⁶; `None` when the data are insufficient.
    pub fn fixing(&mut self, index: &str, date: NaiveDate) -> Option<i64> {
        if let Some(v) = self.cache.get(&(index.to_string(), date)) {
            return *v;
        }
        let def = self.defs.iter().find(|d| d.id == index)?.clone();
        // Methods like `chained` depend on the path: compute from the base date.
        let fs = compute_fixings(&def, &self.obs, DateRange::new(def.base_date, date)).ok()?;
        for f in fs {
            let v = (f.status == FixingStatus::Ok)
                .then(|| f.value.and_then(to_e6))
                .flatten();
            self.cache.insert((def.id.clone(), f.date), v);
        }
        self.cache
            .get(&(index.to_string(), date))
            .copied()
            .flatten()
    }

    /// The latest sufficient fixing at or before `date`.
    pub fn latest(&mut self, index: &str, date: NaiveDate) -> Option<(NaiveDate, i64)> {
        self.fixing(index, date);
        self.cache
            .range((index.to_string(), NaiveDate::MIN)..=(index.to_string(), date))
            .rev()
            .find_map(|((_, d), v)| v.map(|v| (*d, v)))
    }
}

fn to_e6(d: tokex_index::Decimal) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    (d * tokex_index::Decimal::from(1_000_000)).round().to_i64()
}
