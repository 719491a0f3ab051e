//! Importers on the real model-prices snapshot and on small real-shaped samples of the LiteLLM
//! and OpenRouter formats, and their errors on malformed input.

mod common;

use common::*;
use tokex_index::import::{csv, litellm, openrouter, snapshot, ImportError};
use tokex_index::ModelId;

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/model-prices/snapshot.json"
);
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");

fn find<'a>(
    set: &'a tokex_index::ObservationSet,
    model: &str,
) -> Vec<&'a tokex_index::PriceObservation> {
    let id = ModelId::parse(model).unwrap();
    set.prices.iter().filter(|o| o.model == id).collect()
}

#[test]
fn real_snapshot_standard_mode() {
    let (set, rep) =
        snapshot::import_snapshot_file(SNAPSHOT.as_ref(), &Default::default()).unwrap();
    assert_eq!(rep.source, "model-prices@2026-10-26");
    assert_eq!(rep.observations, set.prices.len());
    assert!(set.prices.iter().all(|o| o.mode == "standard"));
    let models: std::collections::BTreeSet<_> = set.prices.iter().map(|o| &o.model).collect();
    assert!(models.len() >= 560, "{} models", models.len()); // 575 standard timelines, some never priced
    assert_eq!(set.statuses.len(), 192);
    assert_eq!(rep.skipped.get("mode \"batch\" not selected"), Some(&162));
    // Exact decimals from the JSON text: 0.4453 stays 0.4453 (not 0.44529999…).
    let v = find(&set, "volcengine/deepseek-v4-flash-ga-260731");
    assert_eq!(v[0].rates.unwrap().input, d("0.4453"));
    // start: null is placed at valid_from, never at the beginning of time.
    let h = find(&set, "anthropic/claude-3-5-haiku-20241022");
    assert_eq!(h[0].effective_from, ts("2025-06-05T20:08:05Z"));
    let earliest = set.prices.iter().map(|o| o.effective_from).min().unwrap();
    assert!(earliest >= ts("2024-01-01T00:00:00Z"), "{earliest}");
    // DeepSeek's price cuts are in the timeline.
    let ds: Vec<_> = find(&set, "deepseek/deepseek-chat")
        .iter()
        .map(|o| o.rates.unwrap().input)
        .collect();
    assert!(ds.contains(&d("0.27")) && ds.contains(&d("0.14")));
    assert!(set
        .statuses
        .iter()
        .any(|s| s.model == ModelId::new("anthropic", "claude-opus-4-0") && s.status == "removed"));
}

#[test]
fn real_snapshot_other_modes() {
    let opts = snapshot::SnapshotOptions {
        modes: snapshot::ModeFilter::Only(vec!["batch".into()]),
    };
    let (set, rep) = snapshot::import_snapshot_file(SNAPSHOT.as_ref(), &opts).unwrap();
    assert!(set.prices.iter().all(|o| o.mode == "batch"));
    // Batch timelines that open with `rates: null` have nothing to withdraw.
    assert!(
        rep.skipped
            .get("rates: null with nothing to withdraw")
            .copied()
            .unwrap_or(0)
            > 0
    );
    let all = snapshot::SnapshotOptions {
        modes: snapshot::ModeFilter::All,
    };
    let (set_all, rep_all) = snapshot::import_snapshot_file(SNAPSHOT.as_ref(), &all).unwrap();
    assert!(set_all.prices.len() > set.prices.len());
    assert!(!rep_all.skipped.keys().any(|k| k.starts_with("mode ")));
}

#[test]
fn snapshot_errors_name_file_line_and_path() {
    let bad = "{\"updated_at\": \"2026-10-26T00:00:00Z\", \"prices\": {\"p\": {\"m\": {\"standard\": [\n {\"start\": null, \"rates\": {\"input\": \"0.5\", \"output\": 1}}]}}}}";
    let e = snapshot::import_snapshot(bad, "bad.json", &Default::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.json:2 $.prices.p.m.standard[0].rates.input: expected a number, found a string"
    );
    let trunc = "{\"updated_at\": \"2026-10-26T00:00:00Z\",\n \"prices\": {";
    let e = snapshot::import_snapshot(trunc, "trunc.json", &Default::default()).unwrap_err();
    assert!(matches!(e, ImportError::Syntax { line: 2, .. }), "{e}");
    let neg = "{\"updated_at\": \"2026-10-26T00:00:00Z\", \"prices\": {\"p\": {\"m\": {\"standard\": [{\"start\": \"2026-01-01T00:00:00Z\", \"rates\": {\"input\": -1, \"output\": 1}}]}}}}";
    assert!(
        snapshot::import_snapshot(neg, "neg.json", &Default::default())
            .unwrap_err()
            .to_string()
            .contains("negative price -1")
    );
    let no_date = "{\"prices\": {}}";
    assert!(
        snapshot::import_snapshot(no_date, "x.json", &Default::default())
            .unwrap_err()
            .to_string()
            .contains("updated_at")
    );
}

#[test]
fn litellm_sample_converts_per_token_floats_exactly() {
    let (set, rep) = litellm::import_litellm_file(
        format!("{DATA}litellm-sample.json").as_ref(),
        ts("2026-10-20T00:00:00Z"),
    )
    .unwrap();
    assert_eq!(rep.source, "litellm@2026-10-20");
    let r = |m: &str| find(&set, m)[0].rates.unwrap();
    assert_eq!(
        (r("openai/gpt-4.1").input, r("openai/gpt-4.1").output),
        (d("2"), d("8"))
    );
    assert_eq!(
        (
            r("openai/gpt-4o-mini").input,
            r("openai/gpt-4o-mini").output
        ),
        (d("0.15"), d("0.6"))
    );
    assert_eq!(r("deepseek/deepseek-chat").input, d("0.27"));
    assert_eq!(
        r("deepseek/deepseek-chat").output,
        d("1.1"),
        "1.1e-06 × 10⁶ is exactly 1.1"
    );
    assert_eq!(
        r("google/gemini-2.5-flash").output,
        d("2.5"),
        "gemini is mapped to google"
    );
    assert_eq!(
        r("azure/gpt-4o-2024-08-06").input,
        d("2.5"),
        "a reseller keeps its own name"
    );
    assert_eq!(
        r("together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo").input,
        d("0.88")
    );
    assert_eq!(rep.observations, 8);
    assert_eq!(rep.skipped["sample_spec (documentation entry)"], 1);
    assert_eq!(rep.skipped["mode \"embedding\" is not text generation"], 1);
    assert_eq!(
        rep.skipped["mode \"image_generation\" is not text generation"],
        1
    );
    assert_eq!(
        rep.skipped["no input_cost_per_token or output_cost_per_token"],
        1
    );
    assert!(set.prices.iter().all(|o| o.as_of == o.effective_from));
}

#[test]
fn litellm_errors() {
    let bad = "{\n\"gpt-x\": {\"litellm_provider\": \"openai\", \"mode\": \"chat\",\n \"input_cost_per_token\": \"1e-06\", \"output_cost_per_token\": 2e-06}}";
    let e = litellm::import_litellm(bad, "map.json", ts("2026-01-01T00:00:00Z")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "map.json:3 $[\"gpt-x\"].input_cost_per_token: expected a number, found a string"
    );
    let e = litellm::import_litellm("[1, 2]", "map.json", ts("2026-01-01T00:00:00Z")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "map.json:1 $: expected an object, found an array"
    );
}

#[test]
fn openrouter_sample_converts_strings_exactly() {
    let (set, rep) = openrouter::import_openrouter_file(
        format!("{DATA}openrouter-sample.json").as_ref(),
        ts("2026-10-20T00:00:00Z"),
    )
    .unwrap();
    let r = |m: &str| find(&set, m)[0].rates.unwrap();
    assert_eq!(
        (r("openai/gpt-4.1").input, r("openai/gpt-4.1").output),
        (d("2"), d("8"))
    );
    assert_eq!(r("xai/grok-4").output, d("15"), "x-ai is mapped to xai");
    assert_eq!(
        r("alibaba/qwen3-max").input,
        d("1.2"),
        "qwen is mapped to alibaba"
    );
    assert_eq!(rep.observations, 4);
    assert_eq!(rep.skipped["`:free` variant (promotion, not a price)"], 1);
    assert_eq!(
        rep.skipped["negative price (variable-price router entry)"],
        1
    );
}

#[test]
fn openrouter_errors() {
    let bad = "{\"data\": [{\"id\": \"a/b\", \"pricing\": {\"prompt\": \"abc\", \"completion\": \"1\"}}]}";
    let e =
        openrouter::import_openrouter(bad, "models.json", ts("2026-01-01T00:00:00Z")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "models.json:1 $.data[0].pricing.prompt: not a number: \"abc\""
    );
    let e = openrouter::import_openrouter(
        "{\"models\": []}",
        "models.json",
        ts("2026-01-01T00:00:00Z"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("missing \"data\""));
}

#[test]
fn token_csv() {
    let (set, rep) =
        csv::import_token_csv_file(format!("{DATA}token-prices.csv").as_ref()).unwrap();
    assert_eq!(rep.observations, 3);
    assert_eq!(set.prices[1].mode, "standard");
    assert_eq!(set.prices[1].effective_from, ts("2026-01-05T00:00:00Z"));
    assert_eq!(set.prices[2].source, "vendor page, rechecked");
    assert_eq!(set.prices[2].rates.unwrap().output, d("0.42"));
    let bad =
        "observed_at,provider,model,input_usd_per_mtok,output_usd_per_mtok\n2026-01-01,a,b,1,x\n";
    assert_eq!(
        csv::import_token_csv(bad, "p.csv").unwrap_err().to_string(),
        "p.csv:2: column \"output_usd_per_mtok\": not a number: \"x\""
    );
    let missing = "observed_at,provider,model,input_usd_per_mtok\n";
    assert!(csv::import_token_csv(missing, "p.csv")
        .unwrap_err()
        .to_string()
        .contains("missing required column \"output_usd_per_mtok\""));
}

#[test]
fn gpu_csv_errors() {
    let bad = "observed_at,provider,gpu_model,lease_type,price_usd_per_gpu_hour,gpu_count\n2026-01-01T00:00:00Z,a,H100,weekly,2.5,8\n";
    assert!(csv::import_gpu_csv(bad, "g.csv")
        .unwrap_err()
        .to_string()
        .starts_with("g.csv:2: column \"lease_type\""));
    let bad = "observed_at,provider,gpu_model,lease_type,price_usd_per_gpu_hour,gpu_count\n2026-01-01T00:00:00Z,a,H100,spot,2.5,0\n";
    assert!(csv::import_gpu_csv(bad, "g.csv")
        .unwrap_err()
        .to_string()
        .contains("gpu_count"));
}

#[test]
fn sources_combine_for_the_cross_source_median() {
    // The same model from the snapshot, LiteLLM and OpenRouter: three sources, one median.
    let (mut set, _) =
        snapshot::import_snapshot_file(SNAPSHOT.as_ref(), &Default::default()).unwrap();
    let (l, _) = litellm::import_litellm_file(
        format!("{DATA}litellm-sample.json").as_ref(),
        ts("2026-10-20T00:00:00Z"),
    )
    .unwrap();
    let (o, _) = openrouter::import_openrouter_file(
        format!("{DATA}openrouter-sample.json").as_ref(),
        ts("2026-10-20T00:00:00Z"),
    )
    .unwrap();
    set.extend(l);
    set.extend(o);
    let def = token_def(
        &[(
            "2026-01-01",
            &["openai/gpt-4.1", "openai/gpt-4o-mini", "xai/grok-4"],
        )],
        1,
        3,
    );
    let fx = tokex_index::compute_fixings(
        &def,
        &set,
        tokex_index::DateRange::new(date("2026-10-21"), date("2026-10-21")),
    )
    .unwrap();
    let c = &fx[0].audit.constituents[0];
    assert_eq!(c.model.to_string(), "openai/gpt-4.1");
    assert_eq!(c.quotes.len(), 3);
    assert_eq!(c.price, Some(d("3.5")));
    tokex_index::verify_fixing(&fx[0], &def).unwrap();
}
