//! The example forecast against the real price history: the backtest and basis figures are
//! checked into `tests/golden/backtest.txt`. `UPDATE_GOLDEN=1 cargo test -p tokex-hedge`
//! regenerates it.

use std::path::PathBuf;

use tokex_hedge::{parse_forecast_csv, plan, render, MarketData};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn example_forecast_backtest_matches_golden() {
    let r = root();
    let market = MarketData::load(
        &r.join("config/indexes"),
        &r.join("config/products.toml"),
        &r.join("data/model-prices/snapshot.json"),
    )
    .expect("real data loads");
    let text = std::fs::read_to_string(r.join("examples/forecast.csv")).unwrap();
    let rows = parse_forecast_csv(&text, "examples/forecast.csv").unwrap();
    let input = market.plan_input(rows, None, None).unwrap();
    let report = plan(&input).unwrap();
    if std::env::var_os("SHOW").is_some() {
        println!("{}", render::text(&report));
    }
    let got = render::backtest_text(&report);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/backtest.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .expect("golden file missing: run with UPDATE_GOLDEN=1 to create it");
    assert_eq!(
        got, want,
        "backtest figures changed; if intended, UPDATE_GOLDEN=1 regenerates"
    );
}
