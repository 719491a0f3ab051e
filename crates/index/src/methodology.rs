//! The human-readable methodology page, generated from a definition (Markdown).

use crate::definition::{IndexDefinition, IndexKind, Method};
use std::fmt::Write;

fn pct(x: rust_decimal::Decimal) -> rust_decimal::Decimal {
    (x * rust_decimal::Decimal::from(100)).normalize()
}

/// Renders the methodology page of `def`.
pub fn methodology_markdown(def: &IndexDefinition) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} — {}\n", def.id, def.name);
    if !def.description.is_empty() {
        let _ = writeln!(s, "{}\n", def.description.trim());
    }
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| Unit | {} |", def.unit);
    let _ = writeln!(s, "| Currency | {} |", def.currency);
    let methods: Vec<&str> = def.methods.iter().map(|m| m.as_str()).collect();
    let _ = writeln!(
        s,
        "| Methods | {} (settlement: `{}`) |",
        methods.join(", "),
        def.methods[0].as_str()
    );
    let _ = writeln!(
        s,
        "| Fixing | daily at {} UTC |",
        def.fixing_time.format("%H:%M:%S")
    );
    let _ = writeln!(
        s,
        "| Published to | {} decimal places, rounded half away from zero |",
        def.decimals
    );
    let _ = writeln!(s, "| History from | {} |", def.base_date);
    let _ = writeln!(
        s,
        "| Definition | version {}, method `{}`, sha256 `{}` |\n",
        def.definition_version,
        def.method_version,
        &def.sha256[..16]
    );
    match &def.kind {
        IndexKind::Token(t) => {
            let _ = writeln!(s, "## Tier: {}\n\n{}\n", t.tier, t.tier_rule.trim());
            let _ = writeln!(s, "## Price of a model\n");
            let _ = writeln!(
                s,
                "The **blended price** of a model is ({}·input + {}·output) / {} per million tokens, from its `{}` list prices. \
                 The price used is the one in force **at the fixing time** (a price corrected before the fixing never reaches it). \
                 A model is never priced before its first recorded start (or `valid_from`): the model-prices file back-fills each \
                 model's first price to the beginning of time, and that back-fill is not used.\n",
                t.blend_input,
                t.blend_output,
                t.blend_input + t.blend_output,
                t.mode
            );
            if let Some(fx) = &t.fx {
                let _ = writeln!(
                    s,
                    "Prices are converted to {} with the {} rate in force on the fixing date. Default: **{}** — {}.{}\n",
                    def.currency,
                    fx.pair,
                    fx.default_rate,
                    fx.default_label,
                    match &fx.series_file {
                        Some(f) => format!(" Series file: `{f}` ({} rows).", fx.series.len()),
                        None => String::new(),
                    }
                );
            }
            let _ = writeln!(s, "## Data rules\n");
            let r = &t.rules;
            let _ = writeln!(s, "- Every observation keeps its source; a model's price is the median over its sources.");
            let _ = writeln!(
                s,
                "- A **zero** input or output price is a promotion, not a price: excluded."
            );
            let _ = writeln!(s, "- `…-latest` aliases re-point to new models: never constituents (a definition naming one is refused).");
            let _ = writeln!(s, "- **Staleness**: an observation whose source last vouched for it more than {} days before the fixing is not used.", r.staleness_days);
            let _ = writeln!(
                s,
                "- **Outliers**: with three or more sources, a quote further than {}·max(MAD, {}·median) from the cross-source median is excluded, with its reason.",
                r.outlier_k, r.mad_floor
            );
            let _ = writeln!(
                s,
                "- **Carry-forward**: a constituent with no valid price carries its last valid price for at most {} days, then leaves the basket until the next rebalance; the other weights renormalise.",
                r.carry_forward_days
            );
            let _ = writeln!(
                s,
                "- **Minimum**: fewer than {} valid constituents → the fixing is published as *insufficient data*, the previous value carried and flagged.\n",
                r.min_constituents
            );
            let _ = writeln!(s, "## Basket, weights and rebalancing\n");
            let _ = writeln!(
                s,
                "The basket is rebalanced on the first day of each month. The review happens at the fixing time of the day before: \
                 the membership entry in force names the candidates; a candidate enters only if it has been priced for at least {} days, \
                 has a valid price at the review, and has not been reported `removed` (a removed model leaves at the next rebalance after the report).\n",
                t.eligible_after_days
            );
            match &t.weighting.usage {
                Some(u) => {
                    let _ = writeln!(
                        s,
                        "Weights come from the usage-share file `{}` (version {}, as of {}). Its source: {}\n\nModels the file does not list get a share of {}.",
                        u.file,
                        u.version,
                        u.as_of,
                        u.source.trim(),
                        u.default_share
                    );
                }
                None => {
                    let _ = writeln!(s, "Every constituent has the same weight (no usage file).");
                }
            }
            let _ = writeln!(
                s,
                "Caps: at most {}% per model and {}% per provider; the excess is redistributed pro rata to the constituents under their caps (a cap that cannot be met is raised to the smallest feasible value, and the fixing says so).\n",
                pct(t.weighting.model_cap),
                pct(t.weighting.provider_cap)
            );
            let _ = writeln!(s, "## Methods\n");
            for m in &def.methods {
                match m {
                    Method::Average => {
                        let _ = writeln!(s, "- `average`: Σ weight·price / Σ weight over the valid constituents — the price level of the current basket. It moves when the basket's mix moves (a new flagship at three times the old price raises it), which is what a buyer of tokens pays.");
                    }
                    Method::Chained => {
                        let _ = writeln!(s, "- `chained`: a Laspeyres index on usage quantities, chain-linked at each monthly review: link × Σ w·p / Σ w·p_review over the matched constituents. Models enter and leave without jumps; its level starts at the first basket's average blended price, so it still reads in {} per million tokens. It is the like-for-like measure, published beside the settlement value.", def.currency);
                    }
                    Method::WeightedMedian => {}
                }
            }
            let _ = writeln!(s, "\n## Membership schedule\n");
            for m in &t.membership {
                let names: Vec<String> = m.models.iter().map(|x| format!("`{x}`")).collect();
                let _ = writeln!(
                    s,
                    "### From {}\n\n{}\n\n{}\n",
                    m.effective_from,
                    names.join(", "),
                    m.rationale.trim()
                );
            }
            if !t.model_aliases.is_empty() {
                let _ = writeln!(s, "## Source name mapping\n");
                for (k, v) in &t.model_aliases {
                    let _ = writeln!(s, "- `{k}` → `{v}`");
                }
            }
        }
        IndexKind::Gpu(g) => {
            let _ = writeln!(s, "## Observations\n\nOffers and transactions for **{}** GPUs observed in the {} hours up to the fixing time: provider (contributor), region, lease type, price per GPU-hour, GPU count.\n", g.gpu_model, g.window_hours);
            let _ = writeln!(s, "## Computation\n");
            let _ = writeln!(s, "1. Normalise each price to an on-demand equivalent: price × factor of its lease type:\n");
            let _ = writeln!(s, "| lease type | factor |\n|---|---|");
            for (k, v) in &g.lease_factors {
                let _ = writeln!(s, "| `{k}` | {v} |");
            }
            let _ = writeln!(
                s,
                "\n   A lease type without a factor is excluded with its reason."
            );
            let _ = writeln!(
                s,
                "2. Sort by normalised price; drop the lowest and highest ⌊n·{}⌋ observations.",
                g.trim_fraction
            );
            let _ = writeln!(s, "3. Volume = GPU count; any contributor above {}% of the kept volume is scaled down to {}%.", pct(g.contributor_cap), pct(g.contributor_cap));
            let _ = writeln!(s, "4. The fixing is the volume-weighted median (exactly half → mean of the two middle prices).");
            let _ = writeln!(s, "5. Fewer than {} observations or {} contributors after the trim → *insufficient data*, the previous value carried and flagged.\n", g.min_observations, g.min_contributors);
            let _ = writeln!(s, "No public data set of GPU rents ships with Tokex: the demo uses a generated data set labelled `{}`; real data comes in through the GPU CSV importer.", crate::gci::SYNTHETIC_SOURCE);
        }
    }
    let _ = writeln!(s, "\n## Audit\n\nEvery fixing records its inputs (quotes per source), exclusions with reasons, weights, the chain link, the FX rate, the method version, the definition's hash and its own sha256; `tokex index verify` recomputes it bit for bit from that record.");
    s
}
