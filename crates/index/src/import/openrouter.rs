//! The OpenRouter models API (`GET /api/v1/models`): `{ "data": [ { "id": "openai/gpt-4.1",
//! "pricing": { "prompt": "0.000002", "completion": "0.000008", … }, … } ] }`.
//!
//! Prices are decimal **strings** of USD per token, converted exactly and multiplied by 10⁶.
//! The response has no date: the caller gives `as_of`. OpenRouter's provider slugs are mapped
//! to the lab names the model-prices snapshot uses ([`OPENROUTER_PROVIDER_MAP`]); model names
//! are kept as OpenRouter writes them.
//!
//! Skipped (counted): `:free` variants (a free tier is a promotion, not a price); negative
//! prices (`"-1"` marks router entries whose price varies); entries without `pricing.prompt`
//! or `pricing.completion`. Errors: a missing or non-string `id`, a price string that is not
//! a decimal.

use super::{parse_json, read_file, Ctx, ImportError};
use crate::json::{path_push_index, path_push_key};
use crate::num::{parse_decimal, per_token_to_per_million};
use crate::observation::{ImportReport, ModelId, ObservationSet, PriceObservation, Rates};
use chrono::{DateTime, Utc};
use std::path::Path;

/// OpenRouter provider slug → the provider name used by the model-prices snapshot.
pub const OPENROUTER_PROVIDER_MAP: [(&str, &str); 7] = [
    ("x-ai", "xai"),
    ("z-ai", "zai"),
    ("qwen", "alibaba"),
    ("mistralai", "mistral"),
    ("meta-llama", "meta"),
    ("amazon", "nova"),
    ("minimax", "minimax"),
];

pub fn import_openrouter_file(
    path: &Path,
    as_of: DateTime<Utc>,
) -> Result<(ObservationSet, ImportReport), ImportError> {
    let text = read_file(path)?;
    import_openrouter(&text, &path.display().to_string(), as_of)
}

pub fn import_openrouter(
    text: &str,
    file: &str,
    as_of: DateTime<Utc>,
) -> Result<(ObservationSet, ImportReport), ImportError> {
    let root = parse_json(text, file)?;
    let cx = Ctx { file };
    cx.object(&root, "$")?;
    let data = root.get("data").ok_or_else(|| {
        cx.invalid(
            &root,
            "$",
            "missing \"data\" (expected the /api/v1/models response)",
        )
    })?;
    let source = format!("openrouter@{}", as_of.format("%Y-%m-%d"));
    let mut report = ImportReport::new(&source);
    let mut out = ObservationSet::default();
    for (i, m) in cx.array(data, "$.data")?.iter().enumerate() {
        let path = path_push_index("$.data", i);
        cx.object(m, &path)?;
        let idv = m
            .get("id")
            .ok_or_else(|| cx.invalid(m, &path, "missing \"id\""))?;
        let id = cx.string(idv, &path_push_key(&path, "id"))?;
        if id.ends_with(":free") {
            report.skip("`:free` variant (promotion, not a price)", || {
                cx.where_(m, &path)
            });
            continue;
        }
        let Some(pricing) = m.get("pricing") else {
            report.skip("no pricing", || cx.where_(m, &path));
            continue;
        };
        let ppath = path_push_key(&path, "pricing");
        cx.object(pricing, &ppath)?;
        let price = |k: &str| -> Result<Option<rust_decimal::Decimal>, ImportError> {
            let Some(v) = pricing.get(k) else {
                return Ok(None);
            };
            let kp = path_push_key(&ppath, k);
            let s = cx.string(v, &kp)?;
            parse_decimal(s)
                .map(Some)
                .map_err(|e| cx.invalid(v, &kp, e))
        };
        let (Some(inp), Some(outp)) = (price("prompt")?, price("completion")?) else {
            report.skip("no pricing.prompt or pricing.completion", || {
                cx.where_(m, &path)
            });
            continue;
        };
        if inp.is_sign_negative() || outp.is_sign_negative() {
            report.skip("negative price (variable-price router entry)", || {
                cx.where_(m, &path)
            });
            continue;
        }
        let Some(mid) = ModelId::parse(id) else {
            report.skip("id is not provider/model", || cx.where_(m, &path));
            continue;
        };
        let provider = OPENROUTER_PROVIDER_MAP
            .iter()
            .find(|(slug, _)| *slug == mid.provider)
            .map(|(_, p)| p.to_string())
            .unwrap_or(mid.provider.clone());
        out.prices.push(PriceObservation {
            source: source.clone(),
            model: ModelId {
                provider,
                model: mid.model,
            },
            mode: "standard".into(),
            effective_from: as_of,
            as_of,
            rates: Some(Rates {
                input: per_token_to_per_million(inp),
                output: per_token_to_per_million(outp),
            }),
            origin: cx.where_(m, &path),
        });
    }
    report.observations = out.prices.len();
    Ok((out, report))
}
