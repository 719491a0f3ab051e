//! Worked examples: the arithmetic is written out in each test.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tokex_hedge::catalogue::{TierModel, TierSpec};
use tokex_hedge::plan::{IndexMonth, IndexNow, ModelHistory, ModelMonth};
use tokex_hedge::usage::{import_usage, UsageFormat};
use tokex_hedge::{plan, project, ForecastRow, Month, PlanError, PlanInput};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}
fn m(s: &str) -> Month {
    Month::parse(s).unwrap()
}
fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn tier(
    index_id: &str,
    tier: &str,
    product: &str,
    size: &str,
    tick: &str,
    models: &[&str],
) -> TierSpec {
    TierSpec {
        index_id: index_id.into(),
        tier: tier.into(),
        product: product.into(),
        currency: if index_id == "TPI-CN" { "CNY" } else { "USD" }.into(),
        contract_size: d(size),
        tick_size: d(tick),
        initial_margin_pct: d("12"),
        blend_input: d("3"),
        blend_output: d("1"),
        models: models
            .iter()
            .map(|id| TierModel {
                id: id.to_string(),
                last_listed: date("2026-06-01"),
            })
            .collect(),
        listed_months: ["2026-11", "2026-12", "2027-01"]
            .iter()
            .map(|s| m(s))
            .collect(),
    }
}

fn tiers() -> Vec<TierSpec> {
    let mut cn = tier(
        "TPI-CN",
        "china",
        "TKC",
        "10000",
        "0.001",
        &["deepseek/deepseek-v4-pro", "alibaba/qwen3-max"],
    );
    cn.models[0].last_listed = date("2026-06-01");
    vec![
        tier(
            "TPI-F",
            "frontier",
            "TKF",
            "1000",
            "0.001",
            &["deepseek/deepseek-v4-pro", "openai/gpt-5.5"],
        ),
        tier(
            "TPI-S",
            "standard",
            "TKS",
            "1000",
            "0.001",
            &["anthropic/claude-sonnet-4-6"],
        ),
        tier(
            "TPI-E",
            "economy",
            "TKE",
            "10000",
            "0.0001",
            &["openai/gpt-5-nano"],
        ),
        cn,
    ]
}

fn row(month: &str, model: &str, i: u64, o: u64, c: u64) -> ForecastRow {
    ForecastRow {
        month: m(month),
        model: model.into(),
        input_tokens: i,
        output_tokens: o,
        cached_input_tokens: c,
    }
}

fn now(level: &str, pin: &str, pout: &str) -> IndexNow {
    IndexNow {
        date: date("2026-10-26"),
        level: d(level),
        input_price: d(pin),
        output_price: d(pout),
    }
}

fn input(forecast: Vec<ForecastRow>) -> PlanInput {
    let t = tiers();
    let mut prices = BTreeMap::new();
    let mut index_now = BTreeMap::new();
    // TPI-F: input 6, output 14 → (3·6 + 14)/4 = 8. TPI-S: (3·2 + 6)/4 = 3. TPI-E: (3·0.3+0.7)/4 = 0.4.
    index_now.insert("TPI-F".to_string(), now("8", "6", "14"));
    index_now.insert("TPI-S".to_string(), now("3", "2", "6"));
    index_now.insert("TPI-E".to_string(), now("0.4", "0.3", "0.7"));
    for (p, f) in [("TKF", "8"), ("TKS", "3"), ("TKE", "0.4")] {
        prices.insert(
            p.to_string(),
            t[0].listed_months.iter().map(|mm| (*mm, d(f))).collect(),
        );
    }
    PlanInput {
        as_of: date("2026-10-26"),
        forecast,
        tiers: t,
        prices,
        price_source: "test".into(),
        hedge_ratio: Decimal::ONE,
        cached_input_price_factor: d("0.1"),
        scenarios_pct: tokex_hedge::plan::default_scenarios(),
        index_now,
        index_history: BTreeMap::new(),
        models: BTreeMap::new(),
    }
}

#[test]
fn flat_forecast_against_a_rising_index() {
    // 3,000M input + 1,000M output a month of the frontier tier, at the basket's prices
    // (input 6, output 14): 3000·6 + 1000·14 = 32,000 USD a month.
    let rows: Vec<ForecastRow> = ["2026-11", "2026-12", "2027-01"]
        .iter()
        .map(|mm| row(mm, "frontier", 3_000_000_000, 1_000_000_000, 0))
        .collect();
    let mut inp = input(rows);
    // the market prices a rising index: futures 8.5 for every month
    for p in inp.prices.get_mut("TKF").unwrap().values_mut() {
        *p = d("8.5");
    }
    // history: the index rose 8 → 9 → 10 → 11
    inp.index_history.insert(
        "TPI-F".into(),
        [
            ("2026-05", "8"),
            ("2026-06", "9"),
            ("2026-07", "10"),
            ("2026-08", "11"),
        ]
        .iter()
        .map(|(mm, s)| IndexMonth {
            month: m(mm),
            settlement: d(s),
            last: d(s),
        })
        .collect(),
    );
    let r = plan(&inp).unwrap();
    assert_eq!(r.lines.len(), 3);
    let l = &r.lines[0];
    assert_eq!(l.expected_cost, d("32000"));
    // contracts = 32,000 / (1,000 × 8) = 4, exactly
    assert_eq!(l.contracts_exact, d("4"));
    assert_eq!(l.contracts, 4);
    assert_eq!(l.rounding, "exact");
    // locked: 32,000 × 8.5 / 8 = 34,000; notional 4 × 1,000 × 8.5 = 34,000; margin 12% = 4,080
    assert_eq!(l.locked_cost, d("34000"));
    assert_eq!(l.notional, d("34000"));
    assert_eq!(l.initial_margin, d("4080"));
    assert_eq!(r.totals[0].initial_margin, d("12240"));
    // scenarios over 3 months: unhedged 96,000·(1+s); P&L = 12 × 1,000 × (8·(1+s) − 8.5)
    let s = |pct: i64| {
        r.scenarios
            .iter()
            .find(|x| x.index_move_pct == Decimal::from(pct))
            .unwrap()
    };
    assert_eq!(s(50).unhedged_cost, d("144000"));
    assert_eq!(s(50).hedge_pnl, d("42000")); // 12,000 × (12 − 8.5)
    assert_eq!(s(50).net_cost, d("102000")); // = 3 × 34,000 locked
    assert_eq!(s(-50).unhedged_cost, d("48000"));
    assert_eq!(s(-50).hedge_pnl, d("-54000")); // 12,000 × (4 − 8.5)
    assert_eq!(s(-50).net_cost, d("102000"));
    assert_eq!(s(100).net_cost, d("102000"));
    // backtest: hedge bought at the last fixing of 2026-05 (8); cost = 32,000 × S / 8;
    // E0 = 32,000 → 4 contracts; P&L = 4,000 × (S − 8): hedged = 32,000 every month.
    let b = &r.backtest[0];
    assert_eq!(b.hedge_month, Some(m("2026-05")));
    assert_eq!(b.contracts_per_month, 4);
    let un: Vec<Decimal> = b.months.iter().map(|x| x.unhedged).collect();
    assert_eq!(un, vec![d("36000"), d("40000"), d("44000")]);
    assert!(b.months.iter().all(|x| x.hedged == d("32000")));
    assert_eq!(b.effectiveness, Some(1.0));
    assert_eq!(b.min_variance_ratio, Some(1.0));
}

#[test]
fn a_forecast_in_a_mix_of_tiers() {
    // Sonnet 4.6 (input 3, output 15): 1,000M input + 500M cached (at 0.1 × 3) + 200M output
    //   = 3,000 + 150 + 3,000 = 6,150 USD → 6,150 / (1,000 × 3) = 2.05 → 2 TKS.
    // economy tier (input 0.3, output 0.7): 30,000M·0.3 + 10,000M·0.7 = 16,000 USD
    //   → 16,000 / (10,000 × 0.4) = 4 TKE.
    let mut inp = input(vec![
        row(
            "2026-11",
            "claude-sonnet-4-6",
            1_000_000_000,
            200_000_000,
            500_000_000,
        ),
        row("2026-11", "economy", 30_000_000_000, 10_000_000_000, 0),
    ]);
    inp.models.insert(
        "anthropic/claude-sonnet-4-6".into(),
        ModelHistory {
            index_id: "TPI-S".into(),
            current: Some((d("3"), d("15"))),
            months: vec![ModelMonth {
                month: m("2026-09"),
                input: d("3"),
                output: d("15"),
            }],
        },
    );
    let r = plan(&inp).unwrap();
    let by: BTreeMap<&str, _> = r.lines.iter().map(|l| (l.product.as_str(), l)).collect();
    assert_eq!(by["TKS"].expected_cost, d("6150"));
    assert_eq!(by["TKS"].contracts_exact, d("2.05"));
    assert_eq!(by["TKS"].contracts, 2);
    assert!(
        by["TKS"]
            .rounding
            .contains("0.05 contract (50.0 M tokens, ≈ USD 150.00) left unhedged"),
        "{}",
        by["TKS"].rounding
    );
    assert_eq!(by["TKE"].expected_cost, d("16000"));
    assert_eq!(by["TKE"].contracts, 4);
    // notional 2·1,000·3 + 4·10,000·0.4 = 6,000 + 16,000; margin 12%
    assert_eq!(r.totals[0].contracts, 6);
    assert_eq!(r.totals[0].notional, d("22000"));
    assert_eq!(r.totals[0].initial_margin, d("2640"));
    let names: Vec<(&str, &str)> = r
        .mappings
        .iter()
        .map(|x| (x.name.as_str(), x.index_id.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![("economy", "TPI-E"), ("claude-sonnet-4-6", "TPI-S")]
    );
}

fn one_model(in_tokens: u64) -> tokex_hedge::PlanReport {
    // a model at input 8 and output 8: cost = tokens × 8 / 1e6; TKF level 8
    let mut inp = input(vec![row("2026-11", "openai/gpt-5.5", in_tokens, 0, 0)]);
    inp.models.insert(
        "openai/gpt-5.5".into(),
        ModelHistory {
            index_id: "TPI-F".into(),
            current: Some((d("8"), d("8"))),
            months: vec![],
        },
    );
    plan(&inp).unwrap()
}

#[test]
fn rounding_to_whole_contracts() {
    // 2,500M × 8 = 20,000 USD → 20,000 / 8,000 = 2.5 → 3 (half up), over-hedged by 0.5
    let r = one_model(2_500_000_000);
    assert_eq!(
        (r.lines[0].contracts_exact, r.lines[0].contracts),
        (d("2.5"), 3)
    );
    assert!(
        r.lines[0]
            .rounding
            .contains("over-hedged by 0.5 contract (500.0 M tokens, ≈ USD 4000.00)"),
        "{}",
        r.lines[0].rounding
    );
    // 2,400M → 19,200 USD → 2.4 → 2, 0.4 contract (400M tokens, 3,200 USD) left open
    let r = one_model(2_400_000_000);
    assert_eq!(
        (r.lines[0].contracts_exact, r.lines[0].contracts),
        (d("2.4"), 2)
    );
    assert!(r.lines[0]
        .rounding
        .contains("0.4 contract (400.0 M tokens, ≈ USD 3200.00) left unhedged"));
    // 300M → 2,400 USD → 0.3 → 0: below half a contract, not hedged; no margin
    let r = one_model(300_000_000);
    assert_eq!(r.lines[0].contracts, 0);
    assert!(r.lines[0].rounding.contains("not hedged"));
    assert_eq!(r.lines[0].initial_margin, Decimal::ZERO);
}

#[test]
fn unknown_model_names_are_refused_with_the_known_names() {
    let inp = input(vec![
        row("2026-11", "gpt-9-ultra", 1, 1, 0),
        row("2026-11", "claude-sonnet-4-6", 1, 1, 0),
        row("2026-12", "my-finetune", 1, 1, 0),
    ]);
    let e = plan(&inp).unwrap_err();
    let PlanError::UnknownModels {
        names,
        known,
        tiers,
    } = &e
    else {
        panic!("{e}")
    };
    let n: Vec<&str> = names.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(n, vec!["gpt-9-ultra", "my-finetune"]);
    assert!(known.contains(&"anthropic/claude-sonnet-4-6".to_string()));
    assert!(tiers.iter().any(|t| t.starts_with("frontier (TPI-F, TKF)")));
    let msg = e.to_string();
    assert!(msg.contains("2 forecast name(s) cannot be mapped"), "{msg}");
    assert!(
        msg.contains("\"gpt-9-ultra\" is not a model of any index"),
        "{msg}"
    );
    assert!(
        msg.contains("Known models (5): alibaba/qwen3-max, anthropic/claude-sonnet-4-6"),
        "{msg}"
    );
}

#[test]
fn names_are_normalised_and_shared_models_go_to_the_usd_tier() {
    let t = tiers();
    let r = tokex_hedge::catalogue::resolve("claude-sonnet-4-6-20260217", &t).unwrap();
    assert_eq!(r.model.as_deref(), Some("anthropic/claude-sonnet-4-6"));
    let r = tokex_hedge::catalogue::resolve("anthropic/claude-sonnet-4.6", &t).unwrap();
    assert_eq!(r.model.as_deref(), Some("anthropic/claude-sonnet-4-6"));
    // in TPI-F and TPI-CN, both listed last on 2026-06-01: the USD tier
    let r = tokex_hedge::catalogue::resolve("deepseek-v4-pro", &t).unwrap();
    assert_eq!(r.index_id, "TPI-F");
    assert!(r.how.contains("also in TPI-CN"), "{}", r.how);
    let r = tokex_hedge::catalogue::resolve("TKC", &t).unwrap();
    assert_eq!((r.index_id.as_str(), r.model.is_none()), ("TPI-CN", true));
}

fn sample(name: &str) -> String {
    std::fs::read_to_string(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn openai_input_tokens_include_the_cached_ones() {
    let r = import_usage(
        UsageFormat::OpenAi,
        &sample("openai_usage_completions.json"),
        "openai",
    )
    .unwrap();
    assert_eq!(r.len(), 3);
    // input_tokens 1,000,000 includes input_cached_tokens 400,000 → 600,000 uncached
    assert_eq!(
        (r[0].uncached_input, r[0].cached_input, r[0].output),
        (600_000, 400_000, 250_000)
    );
    assert_eq!(
        (r[0].provider.as_str(), r[0].model.as_str()),
        ("openai", "gpt-5.1-2025-11-13")
    );
    assert_eq!(r[0].date, date("2026-09-01"));
    assert_eq!(r[2].date, date("2026-09-30"));
    assert_eq!(
        (r[2].uncached_input, r[2].cached_input),
        (2_000_000, 1_000_000)
    );
    // cached > input is a broken file, not a negative count
    let bad = sample("openai_usage_completions.json").replace(
        "\"input_cached_tokens\": 400000",
        "\"input_cached_tokens\": 4000000",
    );
    assert!(import_usage(UsageFormat::OpenAi, &bad, "bad")
        .unwrap_err()
        .to_string()
        .contains("include the cached ones"));
}

#[test]
fn anthropic_uncached_input_excludes_cache_reads() {
    let r = import_usage(
        UsageFormat::Anthropic,
        &sample("anthropic_usage_report_messages.json"),
        "a",
    )
    .unwrap();
    // uncached 600,000 + cache writes 50,000 (billed at ≥ the input price); reads 400,000 apart
    assert_eq!(
        (r[0].uncached_input, r[0].cached_input, r[0].output),
        (650_000, 400_000, 250_000)
    );
    assert_eq!((r[1].uncached_input, r[1].cached_input), (1_010_000, 0));
    assert_eq!(r[1].model, "claude-opus-4-7");
    assert_eq!(r[1].date, date("2026-09-30"));
}

#[test]
fn litellm_and_openrouter_records() {
    let r = import_usage(
        UsageFormat::LiteLlm,
        &sample("litellm_spend_logs.json"),
        "l",
    )
    .unwrap();
    // prompt 1,200 includes 200 cached (usage_object.prompt_tokens_details)
    assert_eq!(
        (r[0].uncached_input, r[0].cached_input, r[0].output),
        (1_000, 200, 500)
    );
    assert_eq!(r[0].cost, Some(d("0.00345")));
    assert_eq!(
        (r[0].provider.as_str(), r[0].model.as_str()),
        ("openai", "gpt-5-mini")
    );
    assert_eq!(
        (r[1].provider.as_str(), r[1].model.as_str()),
        ("anthropic", "claude-haiku-4-5")
    );
    assert_eq!((r[1].uncached_input, r[1].cached_input), (800, 0));
    let r = import_usage(
        UsageFormat::OpenRouter,
        &sample("openrouter_activity.json"),
        "o",
    )
    .unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[0].provider.as_str(), r[0].model.as_str()),
        ("deepseek", "deepseek-v4-flash")
    );
    assert_eq!(
        (r[0].uncached_input, r[0].cached_input, r[0].output),
        (2_500_000, 0, 400_000)
    );
    assert_eq!(r[0].cost, Some(d("0.4213")));
}

#[test]
fn projection_uses_the_last_full_month() {
    let mut recs = import_usage(
        UsageFormat::Anthropic,
        &sample("anthropic_usage_report_messages.json"),
        "a",
    )
    .unwrap();
    recs.extend(
        import_usage(
            UsageFormat::OpenAi,
            &sample("openai_usage_completions.json"),
            "o",
        )
        .unwrap(),
    );
    // newest record 2026-09-30 = the last day of September → September is the base month
    let (rows, p) = project(&recs, 2).unwrap();
    assert_eq!((p.base_month, p.first_month), (m("2026-09"), m("2026-10")));
    let gpt: Vec<&ForecastRow> = rows
        .iter()
        .filter(|r| r.model == "openai/gpt-5.1-2025-11-13")
        .collect();
    assert_eq!(gpt.len(), 2);
    // 600,000 + 2,000,000 uncached; 400,000 + 1,000,000 cached; 250,000 + 500,000 output
    assert_eq!(
        (
            gpt[0].input_tokens,
            gpt[0].cached_input_tokens,
            gpt[0].output_tokens
        ),
        (2_600_000, 1_400_000, 750_000)
    );
    assert_eq!(gpt[1].month, m("2026-11"));
    // a partial month is not a base: with only 2026-09-01..2026-09-14 the base is August (empty)
    let partial: Vec<_> = recs
        .iter()
        .filter(|r| r.date < date("2026-09-15"))
        .cloned()
        .collect();
    assert!(project(&partial, 2)
        .unwrap_err()
        .to_string()
        .contains("no usage in 2026-08"));
}
