//! Endpoints the web screen needs beyond the trading API: the hedge planner, the session
//! schedule (for the countdown to the next auction or settlement) and an index's methodology
//! page. All public and unsigned: they read reference data and the planner is pure.
//!
//! | route | answer |
//! |---|---|
//! | `POST /api/v1/hedge/plan` | a [`PlanReport`] for a forecast (rows or CSV), optional prices |
//! | `GET /api/v1/hedge/tiers` | the hedgeable tiers: index, product, models, listed months |
//! | `GET /api/v1/products/{root}/schedule` | the calendar's next phase changes and settlements |
//! | `GET /api/v1/indexes/{index}/methodology` | the methodology page (Markdown) |
//!
//! The planner is the same code as `tokex hedge` ([`tokex_hedge::plan`]); its market data (the
//! index history computed from the model-prices snapshot) is loaded once, lazily, from the
//! configured paths (`indexes`, `products`, `model_prices`) on the first request.

use crate::api::errors::*;
use crate::api::Shared;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use tokex_hedge::{
    parse_forecast_csv, plan, ForecastRow, FuturesPrices, MarketData, Month, PlanError,
};
use tokex_types::calendar::PhaseTransition;
use tokex_types::Timestamp;

/// Largest plan request body, bytes (a 10,000-row forecast fits).
pub const PLAN_BODY_MAX: usize = 1024 * 1024;
/// How far ahead the schedule looks, days.
pub const SCHEDULE_DAYS: i64 = 8;
/// Most schedule events returned.
pub const SCHEDULE_EVENTS_MAX: usize = 40;

type Paths = (PathBuf, PathBuf, PathBuf);

/// The planner's market data, keyed by the paths it was loaded from.
static MARKET: Mutex<Option<(Paths, Arc<MarketData>)>> = Mutex::new(None);

fn market_data(paths: Paths) -> Result<Arc<MarketData>, String> {
    let mut g = MARKET
        .lock()
        .map_err(|_| "planner data poisoned".to_string())?;
    if let Some((p, m)) = g.as_ref() {
        if *p == paths {
            return Ok(m.clone());
        }
    }
    let m = Arc::new(MarketData::load(&paths.0, &paths.1, &paths.2).map_err(|e| e.to_string())?);
    *g = Some((paths, m.clone()));
    Ok(m)
}

async fn load(st: &Shared) -> ApiResult<Arc<MarketData>> {
    let c = &st.config;
    let paths = (
        c.indexes.clone(),
        c.products.clone(),
        c.model_prices.clone(),
    );
    tokio::task::spawn_blocking(move || market_data(paths))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                format!("the planner's market data could not be loaded: {e}"),
            )
        })
}

/// The routes, merged into the API router (they use its state).
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/api/v1/hedge/plan", post(hedge_plan))
        .route("/api/v1/hedge/tiers", get(hedge_tiers))
        .route("/api/v1/products/{root}/schedule", get(schedule))
        .route("/api/v1/indexes/{index}/methodology", get(methodology))
}

/// Routes this module serves: (method, path), for the OpenAPI comparison.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/hedge/plan"),
    ("get", "/api/v1/hedge/tiers"),
    ("get", "/api/v1/products/{root}/schedule"),
    ("get", "/api/v1/indexes/{index}/methodology"),
];

// ----- the planner ----------------------------------------------------------------------------

/// `POST /api/v1/hedge/plan`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Forecast rows (month, model, input_tokens, output_tokens, cached_input_tokens)...
    #[serde(default)]
    pub forecast: Vec<ForecastRow>,
    /// ...or the same as CSV text (`month,model,input_tokens,output_tokens[,cached_input_tokens]`).
    pub forecast_csv: Option<String>,
    /// The plan date (default: today, UTC).
    pub as_of: Option<chrono::NaiveDate>,
    /// Futures prices: product root → month → price (decimal string). Months missing here
    /// take `price_source`'s prices.
    #[serde(default)]
    pub prices:
        Option<std::collections::BTreeMap<String, std::collections::BTreeMap<Month, String>>>,
    /// `"exchange"` (default): the exchange's live prices — last trade, else the mid, else the
    /// last settlement — with the index level for a month that has none; `"index"`: the index
    /// level for every month.
    pub price_source: Option<String>,
    pub hedge_ratio: Option<Decimal>,
    pub cached_input_price_factor: Option<Decimal>,
    pub scenarios_pct: Option<Vec<Decimal>>,
}

fn plan_error(e: PlanError) -> ApiError {
    match e {
        PlanError::Data(m) => ApiError::internal(m),
        PlanError::UnknownModels { .. } => {
            ApiError::invalid_field(e.to_string().trim().to_string())
        }
        other => ApiError::invalid_field(other.to_string()),
    }
}

/// The exchange's prices of every listed month: last, else mid, else reference.
fn exchange_prices(st: &Shared) -> FuturesPrices {
    let mut out = FuturesPrices::new();
    let Ok(d) = st.market.data.lock() else {
        return out;
    };
    for i in d.instruments.iter().filter(|i| !i.view.delisted) {
        let v = &i.view;
        let px = |p| Decimal::from_str(&i.price(p)).ok();
        let mid = match (v.bids.first(), v.asks.first()) {
            (Some(b), Some(a)) => match (px(b.0), px(a.0)) {
                (Some(b), Some(a)) => {
                    let tick = Decimal::from_str(&i.spec.tick_size).unwrap_or(Decimal::ONE);
                    Some(((b + a) / Decimal::TWO / tick).round() * tick)
                }
                _ => None,
            },
            _ => None,
        };
        let price = v
            .last
            .and_then(px)
            .or(mid)
            .or_else(|| px(v.reference).filter(|p| *p > Decimal::ZERO));
        if let (Some(p), Some(m)) = (price, Month::new(i.spec.year, i.spec.month)) {
            out.entry(i.spec.product.clone())
                .or_default()
                .insert(m, p.normalize());
        }
    }
    out
}

async fn hedge_plan(State(st): State<Shared>, body: Bytes) -> ApiResult<Json<Value>> {
    if body.len() > PLAN_BODY_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            BODY_TOO_LARGE,
            format!("the body exceeds {PLAN_BODY_MAX} bytes"),
        ));
    }
    if body.is_empty() {
        return Err(ApiError::bad(
            MALFORMED_JSON,
            "the body is empty: send a JSON object with `forecast` rows or `forecast_csv`",
        ));
    }
    let r: PlanRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(MALFORMED_JSON, format!("not a plan request: {e}")))?;
    let mut forecast = r.forecast;
    if let Some(csv) = &r.forecast_csv {
        forecast.extend(parse_forecast_csv(csv, "forecast").map_err(plan_error)?);
    }
    if forecast.is_empty() {
        return Err(ApiError::bad(
            MISSING_FIELD,
            "missing field `forecast`: give at least one row (month, model, input_tokens, output_tokens)",
        ));
    }
    let source = r.price_source.as_deref().unwrap_or("exchange");
    if !matches!(source, "exchange" | "index") {
        return Err(ApiError::invalid_field(format!(
            "price_source {source:?} is not one of exchange, index"
        )));
    }
    let mut given = FuturesPrices::new();
    for (root, months) in r.prices.unwrap_or_default() {
        if st.handle.products().get(&root).is_none() {
            return Err(ApiError::not_found(
                UNKNOWN_PRODUCT,
                format!("prices: no product {root:?}"),
            ));
        }
        for (m, p) in months {
            let d = Decimal::from_str(p.trim()).map_err(|_| {
                ApiError::invalid_field(format!("prices.{root}.{m}: {p:?} is not a decimal"))
            })?;
            if d <= Decimal::ZERO {
                return Err(ApiError::invalid_field(format!(
                    "prices.{root}.{m}: a price is positive"
                )));
            }
            given.entry(root.clone()).or_default().insert(m, d);
        }
    }
    let live = if source == "exchange" {
        exchange_prices(&st)
    } else {
        FuturesPrices::new()
    };
    let md = load(&st).await?;
    let as_of = r.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let req_ratio = r.hedge_ratio;
    let req_cached = r.cached_input_price_factor;
    let req_scen = r.scenarios_pct;
    let report = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        let tiers = md.tiers(as_of);
        let mut prices = md.index_level_prices(&tiers);
        let mut label = tokex_hedge::INDEX_LEVEL_LABEL.to_string();
        let mut overlay = |src: &FuturesPrices| {
            let mut n = 0;
            for (root, months) in src {
                for (m, p) in months {
                    prices.entry(root.clone()).or_default().insert(*m, *p);
                    n += 1;
                }
            }
            n
        };
        if overlay(&live) > 0 {
            label = "the exchange's prices (last trade, else mid, else last settlement); the index level for a month without any".into();
        }
        if overlay(&given) > 0 {
            label = format!("your prices where given; otherwise {label}");
        }
        let mut input = md
            .plan_input(forecast, Some(as_of), Some((prices, label)))
            .map_err(plan_error)?;
        if let Some(h) = req_ratio {
            input.hedge_ratio = h;
        }
        if let Some(c) = req_cached {
            input.cached_input_price_factor = c;
        }
        if let Some(s) = req_scen {
            if s.is_empty() || s.len() > 20 {
                return Err(ApiError::invalid_field("scenarios_pct: 1 to 20 moves"));
            }
            input.scenarios_pct = s;
        }
        let report = plan(&input).map_err(plan_error)?;
        serde_json::to_value(&report).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(report))
}

async fn hedge_tiers(State(st): State<Shared>) -> ApiResult<Json<Value>> {
    let md = load(&st).await?;
    let today = chrono::Utc::now().date_naive();
    let tiers = md.tiers(today);
    let now = md.index_now();
    let list: Vec<Value> = tiers
        .iter()
        .map(|t| {
            json!({
                "index": t.index_id, "tier": t.tier, "product": t.product, "currency": t.currency,
                "contract_size_mtok": t.contract_size, "tick_size": t.tick_size,
                "initial_margin_pct": t.initial_margin_pct,
                "index_level": now.get(&t.index_id).map(|n| n.level),
                "index_date": now.get(&t.index_id).map(|n| n.date),
                "models": t.models.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
                "listed_months": t.listed_months,
            })
        })
        .collect();
    Ok(Json(
        json!({"as_of": today, "data_end": md.end, "tiers": list}),
    ))
}

// ----- the schedule ---------------------------------------------------------------------------

async fn schedule(State(st): State<Shared>, Path(root): Path<String>) -> ApiResult<Json<Value>> {
    let p = st
        .handle
        .products()
        .get(&root)
        .ok_or_else(|| ApiError::not_found(UNKNOWN_PRODUCT, format!("no product {root:?}")))?;
    let cal = p.calendar();
    let now_ms = crate::api::auth::now_ms();
    let from = Timestamp(now_ms * 1_000_000);
    let to = Timestamp(from.0 + SCHEDULE_DAYS as u64 * 86_400 * 1_000_000_000);
    let time = |t: Timestamp| crate::api::convert::fmt_time(t);
    let events: Vec<Value> = cal
        .transitions(from, to)
        .into_iter()
        .take(SCHEDULE_EVENTS_MAX)
        .map(|(t, e)| match e {
            PhaseTransition::Phase {
                trading_day,
                from,
                to,
            } => json!({
                "time": time(t), "kind": "phase", "trading_day": trading_day.to_string(),
                "from": from.as_str(), "to": to.as_str(),
            }),
            PhaseTransition::EndOfTradingDay { trading_day } => json!({
                "time": time(t), "kind": "settlement", "trading_day": trading_day.to_string(),
            }),
        })
        .collect();
    Ok(Json(json!({
        "product": root, "calendar": cal.name(), "time_zone": cal.time_zone().name(),
        "now": time(from), "phase_by_calendar": cal.phase_at(from).as_str(), "events": events,
    })))
}

// ----- methodology ----------------------------------------------------------------------------

async fn methodology(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    match st.indexes.get(&id) {
        Some(d) => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            tokex_index::methodology_markdown(d),
        )
            .into_response(),
        None => ApiError::not_found(UNKNOWN_INDEX, format!("no index {id:?}")).into_response(),
    }
}
