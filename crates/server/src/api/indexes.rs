//! Index definitions, levels and fixings with their audit records.
//!
//! Levels and the fixing history come from the core (the fixings the scheduler fed it, kept
//! by the market-data feed). A fixing's full audit record (basket, quotes, exclusions, hashes)
//! is recomputed on request by the index engine from the same definitions and data the
//! exchange uses, and cached.

use crate::config::ServerConfig;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokex_index::import::snapshot::{import_snapshot_file, ModeFilter, SnapshotOptions};
use tokex_index::{compute_fixings, DateRange, Fixing, IndexDefinition, ObservationSet};

pub struct Indexes {
    pub defs: Vec<IndexDefinition>,
    model_prices: std::path::PathBuf,
    obs: Mutex<Option<Arc<ObservationSet>>>,
    audits: Mutex<BTreeMap<(String, chrono::NaiveDate), Arc<Fixing>>>,
}

impl Indexes {
    pub fn load(config: &ServerConfig) -> Indexes {
        let defs = IndexDefinition::load_dir(&config.indexes).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "index definitions not loaded: index endpoints will be empty");
            Vec::new()
        });
        Indexes {
            defs,
            model_prices: config.model_prices.clone(),
            obs: Mutex::new(None),
            audits: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.defs.iter().map(|d| d.id.clone()).collect()
    }

    pub fn get(&self, id: &str) -> Option<&IndexDefinition> {
        self.defs.iter().find(|d| d.id == id)
    }

    pub fn definition_json(d: &IndexDefinition) -> Value {
        json!({
            "index": d.id,
            "name": d.name,
            "description": d.description,
            "kind": if d.gpu().is_some() { "gpu" } else { "token" },
            "unit": d.unit,
            "currency": d.currency,
            "base_date": d.base_date.to_string(),
            "fixing_time_utc": d.fixing_time.format("%H:%M:%S").to_string(),
            "decimals": d.decimals,
            "definition_version": d.definition_version,
            "method_version": d.method_version,
            "definition_sha256": d.sha256,
        })
    }

    fn observations(&self, until: chrono::NaiveDate) -> Result<Arc<ObservationSet>, String> {
        let mut g = self.obs.lock().map_err(|_| "index data poisoned")?;
        if let Some(o) = g.as_ref() {
            return Ok(o.clone());
        }
        // The same inputs as the exchange's index feed.
        let (mut obs, _) = import_snapshot_file(
            &self.model_prices,
            &SnapshotOptions {
                modes: ModeFilter::Only(vec!["standard".into()]),
            },
        )
        .map_err(|e| format!("model prices: {e}"))?;
        for d in &self.defs {
            if let Some(g) = d.gpu() {
                let range = DateRange::new(d.base_date - chrono::Duration::days(1), until);
                obs.gpu.extend(tokex_index::synthetic_gpu_observations(
                    crate::index_feed::SYNTHETIC_GPU_SEED,
                    &g.gpu_model,
                    range,
                    40,
                ));
            }
        }
        let o = Arc::new(obs);
        *g = Some(o.clone());
        Ok(o)
    }

    /// The full fixing record of `id` on `date` (blocking: call from `spawn_blocking`).
    pub fn audit(&self, id: &str, date: chrono::NaiveDate) -> Result<Option<Arc<Fixing>>, String> {
        if let Some(f) = self
            .audits
            .lock()
            .map_err(|_| "poisoned")?
            .get(&(id.to_string(), date))
        {
            return Ok(Some(f.clone()));
        }
        let Some(def) = self.get(id) else {
            return Ok(None);
        };
        if date < def.base_date {
            return Ok(None);
        }
        let today = chrono::Utc::now().date_naive();
        let obs = self.observations(today.max(date))?;
        let fs = compute_fixings(def, &obs, DateRange::new(def.base_date, date))
            .map_err(|e| e.to_string())?;
        let mut g = self.audits.lock().map_err(|_| "poisoned")?;
        for f in fs {
            g.insert((f.index_id.clone(), f.date), Arc::new(f));
        }
        Ok(g.get(&(id.to_string(), date)).cloned())
    }
}
