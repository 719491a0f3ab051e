//! `tokex hedge`: plan a hedge of token costs (`plan`) and turn usage exports into a forecast
//! (`forecast`). The work is in `tokex-hedge`; this module reads files and prints.
//! User guide: docs/HEDGING.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use tokex_hedge::usage::{import_usage, UsageFormat};
use tokex_hedge::{
    forecast_to_csv, parse_forecast_csv, plan, project, render, ForecastRow, MarketData, Month,
    UsageRecord,
};
use tokex_index::Decimal;

#[derive(clap::Args)]
pub struct HedgeArgs {
    #[command(subcommand)]
    command: HedgeCommand,
}

#[derive(clap::Subcommand)]
enum HedgeCommand {
    /// Propose the strip of futures that locks in a forecast of token costs: contracts per
    /// month and product, price locked in, notional, initial margin, scenarios, basis risk and
    /// a backtest on the real price history.
    ///
    /// Example: tokex hedge plan --forecast examples/forecast.csv --html hedge.html
    Plan {
        /// Forecast CSV: month,model,input_tokens,output_tokens[,cached_input_tokens]
        /// (input_tokens = uncached input; model = a model name or a tier: frontier,
        /// standard, economy, china).
        #[arg(long)]
        forecast: Option<PathBuf>,
        #[command(flatten)]
        usage: UsageArgs,
        /// Futures prices CSV: product,month,price (e.g. TKF,2026-12,7.650). Default: no live
        /// market — the index level is used as the futures price, and labelled so.
        #[arg(long)]
        prices: Option<PathBuf>,
        /// Plan date (listed months are those of this day). Default: the date of the newest
        /// price data.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Fraction of the expected cost to hedge (0–2).
        #[arg(long, default_value = "1")]
        hedge_ratio: String,
        /// Price of a cached input token as a fraction of the input price.
        #[arg(long, default_value = "0.1")]
        cached_factor: String,
        /// Print the report as JSON (the PlanReport the API returns).
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML report with charts to this file.
        #[arg(long)]
        html: Option<PathBuf>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Read usage exports, normalise them (cached input tokens kept apart, never counted
    /// twice) and project a monthly forecast CSV: the last full month's run rate, flat.
    ///
    /// Example: tokex hedge forecast --openai usage.json --months 6 --out forecast.csv
    Forecast {
        #[command(flatten)]
        usage: UsageArgs,
        /// Write the forecast CSV here (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct UsageArgs {
    /// OpenAI Usage API export (/v1/organization/usage/completions, grouped by model), JSON.
    #[arg(long)]
    openai: Vec<PathBuf>,
    /// Anthropic usage report (/v1/organizations/usage_report/messages, grouped by model), JSON.
    #[arg(long)]
    anthropic: Vec<PathBuf>,
    /// LiteLLM spend logs (/spend/logs), JSON.
    #[arg(long)]
    litellm: Vec<PathBuf>,
    /// OpenRouter activity (/api/v1/activity), JSON.
    #[arg(long)]
    openrouter: Vec<PathBuf>,
    /// Months to project from usage exports.
    #[arg(long, default_value_t = 6)]
    months: usize,
}

#[derive(clap::Args)]
struct DataArgs {
    /// Directory of index definitions.
    #[arg(long, default_value = "config/indexes")]
    indexes: PathBuf,
    /// Products file.
    #[arg(long, default_value = "config/products.toml")]
    products: PathBuf,
    /// model-prices snapshot (the real price history).
    #[arg(long, default_value = "data/model-prices/snapshot.json")]
    snapshot: PathBuf,
}

impl UsageArgs {
    fn any(&self) -> bool {
        !(self.openai.is_empty()
            && self.anthropic.is_empty()
            && self.litellm.is_empty()
            && self.openrouter.is_empty())
    }

    fn records(&self) -> Result<Vec<UsageRecord>, String> {
        let mut out = Vec::new();
        let sets = [
            (UsageFormat::OpenAi, &self.openai),
            (UsageFormat::Anthropic, &self.anthropic),
            (UsageFormat::LiteLlm, &self.litellm),
            (UsageFormat::OpenRouter, &self.openrouter),
        ];
        for (fmt, files) in sets {
            for p in files {
                let text = read(p)?;
                out.extend(
                    import_usage(fmt, &text, &p.display().to_string())
                        .map_err(|e| e.to_string())?,
                );
            }
        }
        Ok(out)
    }

    /// Projects the usage to a forecast, telling how on standard error.
    fn forecast(&self) -> Result<Vec<ForecastRow>, String> {
        let recs = self.records()?;
        let (rows, p) = project(&recs, self.months).map_err(|e| e.to_string())?;
        eprintln!(
            "usage: {} records normalised; forecast = {}",
            recs.len(),
            p.description
        );
        Ok(rows)
    }
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn parse_dec(s: &str, what: &str) -> Result<Decimal, String> {
    Decimal::from_str(s.trim()).map_err(|_| format!("{what} {s:?} is not a decimal"))
}

type Prices = BTreeMap<String, BTreeMap<Month, Decimal>>;

fn read_prices(p: &Path) -> Result<Prices, String> {
    let text = read(p)?;
    let mut out: Prices = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with("product")) {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let [product, month, price] = f.as_slice() else {
            return Err(format!(
                "{}:{}: expected product,month,price",
                p.display(),
                i + 1
            ));
        };
        let m = Month::parse(month)
            .ok_or_else(|| format!("{}:{}: month {month:?} is not YYYY-MM", p.display(), i + 1))?;
        let v = parse_dec(price, "price").map_err(|e| format!("{}:{}: {e}", p.display(), i + 1))?;
        out.entry(product.to_string()).or_default().insert(m, v);
    }
    Ok(out)
}

pub fn run(args: HedgeArgs) -> Result<(), String> {
    match args.command {
        HedgeCommand::Forecast { usage, out } => {
            if !usage.any() {
                return Err(
                    "give at least one export: --openai, --anthropic, --litellm or --openrouter"
                        .into(),
                );
            }
            let csv = forecast_to_csv(&usage.forecast()?);
            match out {
                Some(p) => {
                    std::fs::write(&p, csv).map_err(|e| format!("{}: {e}", p.display()))?;
                    eprintln!("wrote {}", p.display());
                }
                None => print!("{csv}"),
            }
            Ok(())
        }
        HedgeCommand::Plan {
            forecast,
            usage,
            prices,
            as_of,
            hedge_ratio,
            cached_factor,
            json,
            html,
            data,
        } => {
            let mut rows = Vec::new();
            if let Some(p) = &forecast {
                rows.extend(
                    parse_forecast_csv(&read(p)?, &p.display().to_string())
                        .map_err(|e| e.to_string())?,
                );
            }
            if usage.any() {
                rows.extend(usage.forecast()?);
            }
            if rows.is_empty() {
                return Err("give a forecast (--forecast FILE) or usage exports (--openai, --anthropic, --litellm, --openrouter)".into());
            }
            let market = MarketData::load(&data.indexes, &data.products, &data.snapshot)
                .map_err(|e| e.to_string())?;
            let prices = match &prices {
                Some(p) => Some((
                    read_prices(p)?,
                    format!("futures prices from {}", p.display()),
                )),
                None => None,
            };
            let mut input = market
                .plan_input(rows, as_of, prices)
                .map_err(|e| e.to_string())?;
            input.hedge_ratio = parse_dec(&hedge_ratio, "--hedge-ratio")?;
            input.cached_input_price_factor = parse_dec(&cached_factor, "--cached-factor")?;
            let report = plan(&input).map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", render::text(&report));
            }
            if let Some(p) = html {
                std::fs::write(&p, render::html(&report))
                    .map_err(|e| format!("{}: {e}", p.display()))?;
                eprintln!("wrote {}", p.display());
            }
            Ok(())
        }
    }
}
