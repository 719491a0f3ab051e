//! Tiers (index + future) and the mapping of a forecast's model names to tiers.
//!
//! A tier is one token index and the future settled on it (`TPI-F` / `TKF`, …). The models a
//! tier knows are every model named in its index definition's membership schedule. A name in a
//! forecast resolves, in this order:
//! 1. a tier name (`frontier`), index id (`TPI-F`) or product root (`TKF`), any case → the tier
//!    itself (priced at the index);
//! 2. an exact model id `provider/model`;
//! 3. a bare model name (`gpt-5.1`) naming exactly one known model;
//! 4. the same after normalising: lower case, `.` read as `-` (`claude-sonnet-4.5` =
//!    `claude-sonnet-4-5`), a trailing date dropped (`-20250929`, `-2024-07-18`), a
//!    `provider/` prefix dropped when the provider is unknown.
//!
//! A model in several tiers' schedules (DeepSeek's models are in TPI-F or TPI-E and in TPI-CN)
//! goes to the tier that listed it most recently; on a tie, a USD tier before the CNY one. The
//! mapping note says so. Anything else is refused, with the list of known names.

use serde::{Deserialize, Serialize};

use rust_decimal::Decimal;

/// One hedgeable tier: an index and its future.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierSpec {
    /// Index id, e.g. `TPI-F`.
    pub index_id: String,
    /// Tier name from the definition, e.g. `frontier`.
    pub tier: String,
    /// Product root, e.g. `TKF`.
    pub product: String,
    /// `USD` or `CNY`.
    pub currency: String,
    /// Contract size in millions of tokens (1000 = 1B tokens).
    pub contract_size: Decimal,
    /// Price tick, currency per 1M tokens.
    pub tick_size: Decimal,
    /// Initial margin, percent of notional.
    pub initial_margin_pct: Decimal,
    /// Blend weights of the index (3 : 1).
    pub blend_input: Decimal,
    pub blend_output: Decimal,
    /// Models in the membership schedule, `provider/model`, with the last date each was in it.
    pub models: Vec<TierModel>,
    /// Contract months listed on the plan date.
    pub listed_months: Vec<crate::Month>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierModel {
    pub id: String,
    /// The latest `effective_from` of a membership entry naming the model.
    pub last_listed: chrono::NaiveDate,
}

/// How one forecast name was mapped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// The name as written in the forecast.
    pub name: String,
    /// The index id of the tier.
    pub index_id: String,
    /// The model id it was read as; `None` for a tier row.
    pub model: Option<String>,
    /// In words.
    pub how: String,
}

/// Resolves one name; `Err(())` when unknown or ambiguous (the caller lists the known names).
pub fn resolve(name: &str, tiers: &[TierSpec]) -> Result<Mapping, String> {
    let n = name.trim();
    let low = n.to_ascii_lowercase();
    for t in tiers {
        if low == t.tier.to_ascii_lowercase()
            || low == t.index_id.to_ascii_lowercase()
            || low == t.product.to_ascii_lowercase()
        {
            return Ok(Mapping {
                name: n.to_string(),
                index_id: t.index_id.clone(),
                model: None,
                how: format!(
                    "tier: priced at the {} index, hedged with {}",
                    t.index_id, t.product
                ),
            });
        }
    }
    let all = known_models(tiers);
    // 2. exact id
    if let Some(id) = all.iter().find(|id| id.as_str() == n) {
        return pick_tier(n, id, tiers, "exact model id");
    }
    // 3. bare model name
    let bare: Vec<&String> = all
        .iter()
        .filter(|id| id.split_once('/').map(|(_, m)| m) == Some(n))
        .collect();
    match bare.as_slice() {
        [one] => return pick_tier(n, one, tiers, &format!("model name of {one}")),
        [] => {}
        many => {
            return Err(format!(
                "{n:?} is ambiguous: {} — write provider/model",
                many.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
    // 4. normalised
    let key = normalise(n);
    let hits: Vec<&String> = all
        .iter()
        .filter(|id| {
            normalise(id) == key || normalise(id.split_once('/').map_or(id, |(_, m)| m)) == key
        })
        .collect();
    match hits.as_slice() {
        [one] => pick_tier(
            n,
            one,
            tiers,
            &format!(
                "read as {one} (case, dots, dated snapshot suffix and provider prefix normalised)"
            ),
        ),
        [] => Err(format!("{n:?} is not a model of any index")),
        many => Err(format!(
            "{n:?} is ambiguous: {} — write provider/model",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// All known model ids, sorted, deduplicated.
pub fn known_models(tiers: &[TierSpec]) -> Vec<String> {
    let mut v: Vec<String> = tiers
        .iter()
        .flat_map(|t| t.models.iter().map(|m| m.id.clone()))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The names a forecast may use for tiers: `frontier (TPI-F, TKF)`, …
pub fn known_tier_names(tiers: &[TierSpec]) -> Vec<String> {
    tiers
        .iter()
        .map(|t| format!("{} ({}, {})", t.tier, t.index_id, t.product))
        .collect()
}

fn pick_tier(name: &str, id: &str, tiers: &[TierSpec], how: &str) -> Result<Mapping, String> {
    let mut cands: Vec<(&TierSpec, chrono::NaiveDate)> = tiers
        .iter()
        .filter_map(|t| {
            t.models
                .iter()
                .find(|m| m.id == id)
                .map(|m| (t, m.last_listed))
        })
        .collect();
    // most recent listing first; USD before CNY on a tie; then index id for determinism
    cands.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then((a.0.currency != "USD").cmp(&(b.0.currency != "USD")))
            .then(a.0.index_id.cmp(&b.0.index_id))
    });
    let (t, last) = cands[0];
    let mut how = format!(
        "{how}; in the {} schedule (last listed {last}), hedged with {}",
        t.index_id, t.product
    );
    if cands.len() > 1 {
        let others: Vec<&str> = cands[1..].iter().map(|c| c.0.index_id.as_str()).collect();
        how.push_str(&format!(
            "; also in {} — chosen {} as the tier that listed it most recently (USD first on a tie)",
            others.join(", "),
            t.index_id
        ));
    }
    Ok(Mapping {
        name: name.to_string(),
        index_id: t.index_id.clone(),
        model: Some(id.to_string()),
        how,
    })
}

/// Lower case, `.` → `-`, trailing date suffix dropped.
fn normalise(s: &str) -> String {
    let mut s = s.trim().to_ascii_lowercase().replace('.', "-");
    // -YYYY-MM-DD
    let b = s.as_bytes();
    if b.len() > 11 {
        let tail = &s[s.len() - 11..];
        let tb = tail.as_bytes();
        if tb[0] == b'-'
            && tb[5] == b'-'
            && tb[8] == b'-'
            && tail[1..5].bytes().all(|c| c.is_ascii_digit())
            && tail[6..8].bytes().all(|c| c.is_ascii_digit())
            && tail[9..11].bytes().all(|c| c.is_ascii_digit())
        {
            s.truncate(s.len() - 11);
            return s;
        }
    }
    // -YYYYMMDD
    if s.len() > 9 {
        let tail = &s[s.len() - 9..];
        if tail.starts_with("-20") && tail[1..].bytes().all(|c| c.is_ascii_digit()) {
            s.truncate(s.len() - 9);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn normalises_dates_and_dots() {
        assert_eq!(normalise("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
        assert_eq!(normalise("gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
        assert_eq!(normalise("Claude-Sonnet-4.5"), "claude-sonnet-4-5");
        assert_eq!(normalise("gpt-5"), "gpt-5");
    }
}
