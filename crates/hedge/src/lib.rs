//! # tokex-hedge — the hedge planner for companies that buy AI tokens
//!
//! A company forecasts its monthly token consumption (by model or by tier); the planner maps
//! the models to the tiers of the Token Price Indexes, proposes the strip of futures to buy per
//! month and product, shows the price locked in, the notional and the initial margin, a
//! scenario table, the basis risk between the company's own models and the index over the real
//! history, and a backtest of the hedge on that history. SPEC §7; the user guide is
//! `docs/HEDGING.md`.
//!
//! The shape: a pure planner between two thin edges.
//! - [`plan()`] (in [`plan`](mod@plan)) takes a self-contained, serde-serialisable [`PlanInput`] and
//!   returns a [`PlanReport`]: no file, no clock, no network — the CLI and the web page's HTTP
//!   handler call the same function. Money and prices are exact decimals; statistics
//!   (variance, correlation) are `f64`, rounded to 4 decimals.
//! - [`MarketData`] (in [`market`]) is the input edge: it loads the index definitions, the
//!   products and the model-prices snapshot, computes the history with `tokex-index` (never
//!   re-implementing its rules) and builds the [`PlanInput`].
//! - [`render`] is the output edge: a terminal table and a self-contained HTML report with
//!   inline SVG charts.
//!
//! ## Map of the files
//! - [`forecast`]: [`Month`], [`ForecastRow`] and the forecast CSV.
//! - [`catalogue`]: tiers ([`TierSpec`]) and how a model name maps to a tier.
//! - [`plan`](mod@plan): the strip, locked prices, margin, scenarios.
//! - [`backtest`]: basis risk and the backtest on the monthly history.
//! - [`usage`]: importers of usage exports (OpenAI, Anthropic, LiteLLM, OpenRouter) into one
//!   record, and the projection to a monthly forecast.
//! - [`market`]: loading and the index-crate computations.
//! - [`render`]: text and HTML.

pub mod backtest;
pub mod catalogue;
pub mod forecast;
pub mod market;
pub mod plan;
pub mod render;
pub mod usage;

pub use backtest::{Backtest, BasisRisk};
pub use catalogue::{Mapping, TierSpec};
pub use forecast::{forecast_to_csv, parse_forecast_csv, ForecastRow, Month};
pub use market::{MarketData, INDEX_LEVEL_LABEL};
pub use plan::{plan, FuturesPrices, HedgeLine, PlanInput, PlanReport, ScenarioRow};
pub use usage::{project, UsageRecord};

/// Why a plan cannot be made. Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{file}:{line}: {message}")]
    Forecast {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{}", unknown_message(names, tiers, known))]
    UnknownModels {
        /// (name, why).
        names: Vec<(String, String)>,
        tiers: Vec<String>,
        known: Vec<String>,
    },
    #[error("no futures price for {product} {month}: give one (--prices) or use the index level")]
    MissingPrice { product: String, month: Month },
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Data(String),
    #[error("{file}: {message}")]
    Usage { file: String, message: String },
}

fn unknown_message(names: &[(String, String)], tiers: &[String], known: &[String]) -> String {
    let mut s = format!(
        "{} forecast name(s) cannot be mapped to a tier:\n",
        names.len()
    );
    for (_, why) in names {
        s.push_str(&format!("  - {why}\n"));
    }
    s.push_str(&format!(
        "Tiers (write the tier itself): {}\n",
        tiers.join(", ")
    ));
    s.push_str(&format!(
        "Known models ({}): {}",
        known.len(),
        known.join(", ")
    ));
    s
}
