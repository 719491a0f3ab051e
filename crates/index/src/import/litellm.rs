//! The LiteLLM price map (`model_prices_and_context_window.json`):
//! `{ "<model>": { "litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 3e-07,
//! "output_cost_per_token": 1.2e-06, … }, … }`.
//!
//! Prices are USD per **token** written as JSON floats; each is converted from the number's
//! text (never through `f64`) and multiplied by 10⁶ exactly. The map has no dates: the caller
//! says when it was taken (`as_of`), and every observation is a point observation at that time.
//!
//! Skipped (counted): `sample_spec`; entries without `litellm_provider`; modes other than
//! text generation (`chat`, `completion`, `responses`); entries without both costs.
//! Errors: a cost that is not a number or is negative, a provider that is not a string.
//!
//! Model ids: `provider/name`, where a `litellm_provider/` prefix already in the key is dropped
//! (`"gemini/gemini-2.5-flash"` with provider `gemini` → `google/gemini-2.5-flash`), and the
//! provider is mapped to the lab name the model-prices snapshot uses
//! ([`LITELLM_PROVIDER_MAP`]). Resellers (`azure`, `bedrock`, `together_ai`, …) keep their own
//! name: their prices are theirs, not the lab's.

use super::{parse_json, read_file, Ctx, ImportError};
use crate::json::path_push_key;
use crate::num::per_token_to_per_million;
use crate::observation::{ImportReport, ModelId, ObservationSet, PriceObservation, Rates};
use chrono::{DateTime, Utc};
use std::path::Path;

/// Modes that price text generation.
pub const LITELLM_TEXT_MODES: [&str; 3] = ["chat", "completion", "responses"];

/// LiteLLM provider → the provider name used by the model-prices snapshot.
pub const LITELLM_PROVIDER_MAP: [(&str, &str); 5] = [
    ("gemini", "google"),
    ("vertex_ai-language-models", "google"),
    ("dashscope", "alibaba"),
    ("moonshot", "moonshotai"),
    ("zhipuai", "zai"),
];

pub fn import_litellm_file(
    path: &Path,
    as_of: DateTime<Utc>,
) -> Result<(ObservationSet, ImportReport), ImportError> {
    let text = read_file(path)?;
    import_litellm(&text, &path.display().to_string(), as_of)
}

pub fn import_litellm(
    text: &str,
    file: &str,
    as_of: DateTime<Utc>,
) -> Result<(ObservationSet, ImportReport), ImportError> {
    let root = parse_json(text, file)?;
    let cx = Ctx { file };
    let source = format!("litellm@{}", as_of.format("%Y-%m-%d"));
    let mut report = ImportReport::new(&source);
    let mut out = ObservationSet::default();
    for (key, entry) in cx.object(&root, "$")? {
        let path = path_push_key("$", key);
        if key == "sample_spec" {
            report.skip("sample_spec (documentation entry)", || {
                cx.where_(entry, &path)
            });
            continue;
        }
        cx.object(entry, &path)?;
        let Some(pv) = entry.get("litellm_provider") else {
            report.skip("no litellm_provider", || cx.where_(entry, &path));
            continue;
        };
        let provider = cx.string(pv, &path_push_key(&path, "litellm_provider"))?;
        if let Some(mv) = entry.get("mode") {
            let mode = cx.string(mv, &path_push_key(&path, "mode"))?;
            if !LITELLM_TEXT_MODES.contains(&mode) {
                report.skip(&format!("mode {mode:?} is not text generation"), || {
                    cx.where_(entry, &path)
                });
                continue;
            }
        }
        let cost = |k: &str| match entry.get(k) {
            None => Ok(None),
            Some(v) => cx.price_number(v, &path_push_key(&path, k)).map(Some),
        };
        let (Some(inp), Some(outp)) = (
            cost("input_cost_per_token")?,
            cost("output_cost_per_token")?,
        ) else {
            report.skip("no input_cost_per_token or output_cost_per_token", || {
                cx.where_(entry, &path)
            });
            continue;
        };
        let name = key.strip_prefix(&format!("{provider}/")).unwrap_or(key);
        let provider = LITELLM_PROVIDER_MAP
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, lab)| *lab)
            .unwrap_or(provider);
        out.prices.push(PriceObservation {
            source: source.clone(),
            model: ModelId::new(provider, name),
            mode: "standard".into(),
            effective_from: as_of,
            as_of,
            rates: Some(Rates {
                input: per_token_to_per_million(inp),
                output: per_token_to_per_million(outp),
            }),
            origin: cx.where_(entry, &path),
        });
    }
    report.observations = out.prices.len();
    Ok((out, report))
}
