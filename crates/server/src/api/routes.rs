//! The router and the REST handlers. Every route is registered through [`RouteTable`], which
//! also records it, so the OpenAPI test can compare the router with the document.

use super::auth::{self, Principal, SignedParts};
use super::convert::*;
use super::errors::*;
use super::keys::KeyRole;
use super::market::{
    balances_json, fixing_json, interval_index, phase_str, positions_json, OrderView, DEPTH_LEVELS,
    INTERVALS,
};
use super::{history_read, indexes::Indexes, Shared, BODY_MAX_BYTES};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use tokex_engine::{
    Amend, Cancel, Command, Event, MassCancel, NewOrder, OrderRef, OrderType, Outcome,
    ProductParams, ProductParamsChange, RejectCode, Role, StpMode, TimeInForce,
};
use tokex_types::product::ProductDef;
use tokex_types::{AccountId, ClientOrderId, Currency, InstrumentId, OrderId, Price, Qty, Side};

// ----- extractors ---------------------------------------------------------------------------

/// Query string with `INVALID_QUERY` errors.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad(INVALID_QUERY, e.body_text()))
    }
}

/// Path parameters with `INVALID_QUERY` errors.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, s)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::bad(INVALID_QUERY, e.body_text()))
    }
}

/// A JSON body decoded with stable error codes.
fn decode<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    if body.is_empty() {
        return Err(ApiError::bad(
            MALFORMED_JSON,
            "the body is empty: send a JSON object",
        ));
    }
    serde_json::from_slice(body).map_err(|e| from_json_error(&e))
}

// ----- the route table ------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Public,
    Signed,
    Operator,
}

/// Routes as registered: (method, path, access).
pub type RouteList = Vec<(&'static str, &'static str, Access)>;

struct RouteTable {
    groups: [BTreeMap<&'static str, MethodRouter<Shared>>; 3],
    list: RouteList,
}

impl RouteTable {
    fn add<H, T>(&mut self, access: Access, method: &'static str, path: &'static str, h: H)
    where
        H: axum::handler::Handler<T, Shared>,
        T: 'static,
    {
        let filter = match method {
            "get" => MethodFilter::GET,
            "post" => MethodFilter::POST,
            "patch" => MethodFilter::PATCH,
            "delete" => MethodFilter::DELETE,
            "put" => MethodFilter::PUT,
            _ => unreachable!("method {method}"),
        };
        let g = &mut self.groups[access as usize];
        let mr = g.remove(path).unwrap_or_default();
        g.insert(path, mr.on(filter, h));
        self.list.push((method, path, access));
    }
}

fn table() -> RouteTable {
    use Access::*;
    let mut t = RouteTable {
        groups: Default::default(),
        list: Vec::new(),
    };
    // Public market data and reference data.
    t.add(Public, "get", "/api/v1/time", time);
    t.add(Public, "get", "/api/v1/products", products);
    t.add(Public, "get", "/api/v1/products/{root}", product);
    t.add(Public, "get", "/api/v1/instruments", instruments);
    t.add(Public, "get", "/api/v1/instruments/{symbol}", instrument);
    t.add(Public, "get", "/api/v1/instruments/{symbol}/book", book);
    t.add(Public, "get", "/api/v1/instruments/{symbol}/ticker", ticker);
    t.add(Public, "get", "/api/v1/instruments/{symbol}/trades", trades);
    t.add(Public, "get", "/api/v1/instruments/{symbol}/bars", bars);
    t.add(Public, "get", "/api/v1/instruments/{symbol}/stats", stats);
    t.add(Public, "get", "/api/v1/indexes", indexes);
    t.add(Public, "get", "/api/v1/indexes/{index}", index);
    t.add(Public, "get", "/api/v1/indexes/{index}/fixings", fixings);
    t.add(
        Public,
        "get",
        "/api/v1/indexes/{index}/fixings/{date}",
        fixing_audit,
    );
    t.add(Public, "get", "/api/v1/openapi.json", openapi);
    t.add(Public, "get", "/api/v1/ws", super::ws::upgrade);
    t.add(Public, "get", "/metrics", metrics);
    // The signed-in account.
    t.add(Signed, "get", "/api/v1/account", account);
    t.add(Signed, "post", "/api/v1/orders", place_order);
    t.add(Signed, "get", "/api/v1/orders", list_orders);
    t.add(Signed, "delete", "/api/v1/orders", mass_cancel);
    t.add(Signed, "get", "/api/v1/orders/{order_id}", get_order);
    t.add(Signed, "patch", "/api/v1/orders/{order_id}", amend_order);
    t.add(Signed, "delete", "/api/v1/orders/{order_id}", cancel_order);
    t.add(
        Signed,
        "get",
        "/api/v1/orders/by-client-id/{client_order_id}",
        get_order_clid,
    );
    t.add(
        Signed,
        "patch",
        "/api/v1/orders/by-client-id/{client_order_id}",
        amend_order_clid,
    );
    t.add(
        Signed,
        "delete",
        "/api/v1/orders/by-client-id/{client_order_id}",
        cancel_order_clid,
    );
    t.add(Signed, "get", "/api/v1/fills", fills);
    t.add(Signed, "get", "/api/v1/positions", positions);
    t.add(Signed, "get", "/api/v1/balances", balances);
    t.add(Signed, "get", "/api/v1/margin", margin);
    // Operator.
    t.add(Operator, "get", "/api/v1/admin/accounts", admin_accounts);
    t.add(
        Operator,
        "post",
        "/api/v1/admin/accounts",
        admin_create_account,
    );
    t.add(
        Operator,
        "get",
        "/api/v1/admin/accounts/{account}",
        admin_account,
    );
    t.add(Operator, "get", "/api/v1/admin/keys", admin_keys);
    t.add(Operator, "post", "/api/v1/admin/keys", admin_create_key);
    t.add(
        Operator,
        "delete",
        "/api/v1/admin/keys/{key}",
        admin_revoke_key,
    );
    t.add(Operator, "post", "/api/v1/admin/deposits", admin_deposit);
    t.add(
        Operator,
        "post",
        "/api/v1/admin/withdrawals",
        admin_withdraw,
    );
    t.add(
        Operator,
        "post",
        "/api/v1/admin/instruments/{symbol}/halt",
        admin_halt,
    );
    t.add(
        Operator,
        "post",
        "/api/v1/admin/instruments/{symbol}/resume",
        admin_resume,
    );
    t.add(
        Operator,
        "delete",
        "/api/v1/admin/orders",
        admin_mass_cancel,
    );
    t.add(Operator, "get", "/api/v1/admin/products", admin_products);
    t.add(
        Operator,
        "patch",
        "/api/v1/admin/products/{root}",
        admin_set_product,
    );
    t.add(Operator, "get", "/api/v1/admin/state", admin_state);

    t
}

/// Every route the router serves: (method, path, access).
pub fn routes() -> RouteList {
    table().list
}

/// The API router.
pub fn router(st: Shared) -> Router {
    let t = table();
    let [public, signed, operator] = t.groups;
    let build = |g: BTreeMap<&'static str, MethodRouter<Shared>>| {
        g.into_iter()
            .fold(Router::new(), |r, (p, mr)| r.route(p, mr))
    };
    build(public)
        .merge(crate::web::router())
        .merge(crate::web_hedge::router())
        .merge(
            build(signed).route_layer(axum::middleware::from_fn_with_state(
                st.clone(),
                signed_only,
            )),
        )
        .merge(
            build(operator).route_layer(axum::middleware::from_fn_with_state(
                st.clone(),
                operator_only,
            )),
        )
        .fallback(|| async {
            ApiError::not_found(NOT_FOUND, "no such route: see /api/v1/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                METHOD_NOT_ALLOWED,
                "this route does not take that method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(st.clone(), count))
        .with_state(st)
}

// ----- middleware -----------------------------------------------------------------------------

async fn count(State(st): State<Shared>, req: Request, next: Next) -> Response {
    st.http_requests.fetch_add(1, Ordering::Relaxed);
    let resp = next.run(req).await;
    if resp.status().is_client_error() || resp.status().is_server_error() {
        st.http_errors.fetch_add(1, Ordering::Relaxed);
    }
    resp
}

async fn verify(st: &Shared, req: Request) -> Result<Request, ApiError> {
    let (mut parts, body) = req.into_parts();
    if parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > BODY_MAX_BYTES)
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            BODY_TOO_LARGE,
            format!("the body exceeds {BODY_MAX_BYTES} bytes"),
        ));
    }
    let bytes = axum::body::to_bytes(body, BODY_MAX_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                BODY_TOO_LARGE,
                format!("the body exceeds {BODY_MAX_BYTES} bytes"),
            )
        })?;
    let h = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let signed = SignedParts {
        key: h(auth::HEADER_KEY),
        timestamp: h(auth::HEADER_TIMESTAMP),
        signature: h(auth::HEADER_SIGNATURE),
        recv_window: h(auth::HEADER_RECV_WINDOW),
        method: parts.method.as_str(),
        path_and_query,
        body: &bytes,
    };
    let principal = st.guard.verify(&st.keys, &signed, auth::now_ms())?;
    parts.extensions.insert(principal);
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

async fn signed_only(State(st): State<Shared>, req: Request, next: Next) -> Response {
    match verify(&st, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn operator_only(State(st): State<Shared>, req: Request, next: Next) -> Response {
    match verify(&st, req).await {
        Ok(req) => {
            let ok = req
                .extensions()
                .get::<Principal>()
                .is_some_and(|p| p.is_operator());
            if !ok {
                return ApiError::forbidden("operator endpoints need an operator key")
                    .into_response();
            }
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

// ----- helpers --------------------------------------------------------------------------------

fn trading_account(p: &Principal) -> ApiResult<u32> {
    p.account.ok_or_else(|| {
        ApiError::forbidden("this key is not bound to an account: use a trader or market-maker key")
    })
}

/// (instrument id, tick, currency) of a symbol.
fn resolve(st: &Shared, symbol: &str) -> ApiResult<(u32, tokex_types::decimal::Decimal, Currency)> {
    let d = st
        .market
        .data
        .lock()
        .map_err(|_| ApiError::internal("market data poisoned"))?;
    let i = d
        .instrument(symbol)
        .ok_or_else(|| ApiError::unknown_instrument(symbol))?;
    Ok((i.spec.id.0, i.tick, i.spec.currency))
}

async fn submit(st: &Shared, cmd: Command) -> ApiResult<Outcome> {
    let out = st.handle.submit(cmd).await?;
    match &out.result {
        Ok(()) => Ok(out),
        Err(r) => Err(ApiError::from(r)),
    }
}

fn limit_of(l: Option<u32>, default: u32, max: u32) -> ApiResult<u32> {
    match l {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad(
            INVALID_QUERY,
            format!("limit {n} is not between 1 and {max}"),
        )),
    }
}

fn order_json(st: &Shared, o: &OrderView) -> Value {
    st.market
        .data
        .lock()
        .map(|d| d.order_json(o))
        .unwrap_or(Value::Null)
}

/// Waits until the feed (and, if `history`, the history store) has seen everything durable
/// when the request arrived: read-your-writes for order queries.
async fn catch_up(st: &Shared, history: bool) {
    let target = st.handle.stats().last_seq.load(Ordering::Relaxed);
    st.market.wait_for(target).await;
    if history {
        let path = st.config.history_path();
        for _ in 0..100 {
            let p = path.clone();
            let seen = tokio::task::spawn_blocking(move || history_read::last_seq(&p))
                .await
                .unwrap_or(0);
            if seen >= target || !st.config.history {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(ApiError::internal)
}

/// An order of `account`, open or from history.
async fn find_order(st: &Shared, account: u32, id: u64) -> ApiResult<Option<OrderView>> {
    catch_up(st, false).await;
    if let Some(o) = st
        .market
        .data
        .lock()
        .ok()
        .and_then(|d| d.orders.get(&id).cloned())
    {
        return Ok((o.account == account).then_some(o));
    }
    catch_up(st, true).await;
    let path = st.config.history_path();
    let o = blocking(move || history_read::order_by_id(&path, id)).await?;
    Ok(o.filter(|o| o.account == account))
}

async fn find_order_clid(st: &Shared, account: u32, clid: &str) -> ApiResult<Option<OrderView>> {
    catch_up(st, false).await;
    let open = st.market.data.lock().ok().and_then(|d| {
        d.client_ids
            .get(&(account, clid.to_string()))
            .and_then(|id| d.orders.get(id).cloned())
    });
    if open.is_some() {
        return Ok(open);
    }
    catch_up(st, true).await;
    let path = st.config.history_path();
    let c = clid.to_string();
    blocking(move || history_read::order_by_client_id(&path, account, &c)).await
}

fn parse_order_id(s: &str) -> ApiResult<u64> {
    s.parse()
        .map_err(|_| ApiError::bad(INVALID_QUERY, format!("order id {s:?} is not a number")))
}

fn parse_clid(s: &str) -> ApiResult<ClientOrderId> {
    ClientOrderId::new(s).ok_or_else(|| {
        ApiError::invalid_field(format!(
            "client_order_id {s:?}: 1 to 36 printable ASCII characters"
        ))
    })
}

// ----- public handlers ------------------------------------------------------------------------

async fn time() -> Json<Value> {
    let ms = auth::now_ms();
    Json(json!({"time_ms": ms, "time": fmt_time(tokex_types::Timestamp(ms * 1_000_000))}))
}

fn pct_of(bps: u32) -> String {
    tokex_types::decimal::Decimal::new(bps as i128, 2)
        .normalized()
        .to_string()
}

/// The parameters an operator may change, as the products file sets them.
fn file_params(p: &ProductDef) -> ProductParams {
    ProductParams {
        price_limit_bps: p.price_limit_bps(),
        initial_margin_bps: p.initial_margin_bps(),
        maintenance_margin_bps: p.maintenance_margin_bps(),
        order_qty_max: Qty(p.order_qty_max()),
        position_limit_all_months: p.position_limit_all_months(),
        position_limit_spot_month: p.position_limit_spot_month(),
        fee_maker_minor: p.fee_maker_minor(),
        fee_taker_minor: p.fee_taker_minor(),
        cb_ticks: p.velocity_ticks(),
        market_protection_ticks: p.market_protection_ticks(),
    }
}

/// The changeable parameters with the names and units of the product JSON (and of the
/// `PATCH /api/v1/admin/products/{root}` body).
fn params_json(cur: Currency, p: &ProductParams) -> serde_json::Map<String, Value> {
    let money = |m: i64| fmt_money(cur, m as i128);
    let v = json!({
        "price_limit_pct": pct_of(p.price_limit_bps),
        "initial_margin_pct": pct_of(p.initial_margin_bps), "maintenance_margin_pct": pct_of(p.maintenance_margin_bps),
        "order_qty_max": p.order_qty_max.0.to_string(),
        "position_limit_all_months": p.position_limit_all_months.to_string(), "position_limit_spot_month": p.position_limit_spot_month.to_string(),
        "fee_maker": money(p.fee_maker_minor), "fee_taker": money(p.fee_taker_minor),
        "velocity_ticks": p.cb_ticks, "market_protection_ticks": p.market_protection_ticks,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object"),
    }
}

/// The API names of the parameters a kept change sets.
fn changed_fields(c: &ProductParamsChange) -> Vec<&'static str> {
    [
        ("price_limit_pct", c.price_limit_bps.is_some()),
        ("initial_margin_pct", c.initial_margin_bps.is_some()),
        ("maintenance_margin_pct", c.maintenance_margin_bps.is_some()),
        ("order_qty_max", c.order_qty_max.is_some()),
        (
            "position_limit_all_months",
            c.position_limit_all_months.is_some(),
        ),
        (
            "position_limit_spot_month",
            c.position_limit_spot_month.is_some(),
        ),
        ("fee_maker", c.fee_maker_minor.is_some()),
        ("fee_taker", c.fee_taker_minor.is_some()),
        ("velocity_ticks", c.cb_ticks.is_some()),
        (
            "market_protection_ticks",
            c.market_protection_ticks.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

/// A product's specification with the parameters in force: the products file's, with the
/// operator's changes (`changed`, kept by the core) laid over them.
fn product_json(p: &ProductDef, changed: Option<&ProductParamsChange>) -> Value {
    let pct = |bps: u32| pct_of(bps);
    let money = |m: i64| fmt_money(p.currency(), m as i128);
    let mut v = json!({
        "root": p.root(), "name": p.name(), "description": p.description(), "underlying": p.underlying(),
        "currency": p.currency().code(), "contract_size": p.contract_size().to_string(), "contract_unit": p.contract_unit(),
        "quote_unit": p.quote_unit(), "tick_size": p.tick_size().to_string(), "tick_value": p.tick_value().to_string(),
        "months_listed": p.months_listed(), "final_settlement": p.final_settlement().as_str(),
        "price_limit_pct": pct(p.price_limit_bps()), "limit_widen_pct": pct(p.limit_widen_bps()), "limit_margin_extra_pct": pct(p.limit_margin_extra_bps()),
        "initial_margin_pct": pct(p.initial_margin_bps()), "maintenance_margin_pct": pct(p.maintenance_margin_bps()),
        "position_limit_all_months": p.position_limit_all_months().to_string(), "position_limit_spot_month": p.position_limit_spot_month().to_string(),
        "order_qty_max": p.order_qty_max().to_string(), "fee_maker": money(p.fee_maker_minor()), "fee_taker": money(p.fee_taker_minor()),
        "calendar": p.calendar().name(),
        "trade_price_rule": match p.trade_price_rule() { tokex_types::TradePriceRule::Resting => "resting", tokex_types::TradePriceRule::ShfeMedian => "shfe_median" },
        "market_protection_ticks": p.market_protection_ticks(), "velocity_ticks": p.velocity_ticks(),
        "velocity_window_secs": p.velocity_window_secs(), "velocity_auction_secs": p.velocity_auction_secs(),
        "initial_reference_price": fmt_price(p.tick_size(), p.initial_reference_price()),
    });
    if let Some(c) = changed {
        for (k, x) in params_json(p.currency(), &c.applied(file_params(p))) {
            v[k] = x;
        }
    }
    v
}

/// The operator's changes of product parameters the core keeps, by product root.
async fn product_changes(st: &Shared) -> ApiResult<BTreeMap<String, ProductParamsChange>> {
    Ok(st
        .handle
        .query(|e| {
            e.product_overrides()
                .map(|c| (c.product.clone(), c.clone()))
                .collect()
        })
        .await?)
}

async fn products(State(st): State<Shared>) -> ApiResult<Json<Value>> {
    let changes = product_changes(&st).await?;
    let list: Vec<Value> = st
        .handle
        .products()
        .products()
        .iter()
        .map(|p| product_json(p, changes.get(p.root())))
        .collect();
    Ok(Json(json!({ "products": list })))
}

async fn product(
    State(st): State<Shared>,
    ApiPath(root): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let p = st
        .handle
        .products()
        .get(&root)
        .ok_or_else(|| ApiError::not_found(UNKNOWN_PRODUCT, format!("no product {root:?}")))?;
    let changes = product_changes(&st).await?;
    Ok(Json(product_json(p, changes.get(&root))))
}

fn instrument_json(i: &super::market::InstData) -> Value {
    let s = &i.spec;
    let pct = |bps: u32| {
        tokex_types::decimal::Decimal::new(bps as i128, 2)
            .normalized()
            .to_string()
    };
    json!({
        "symbol": s.symbol, "product": s.product, "underlying": s.underlying, "currency": s.currency.code(),
        "tick_size": s.tick_size, "tick_value": fmt_money(s.currency, s.tick_value_minor as i128),
        "contract_month": format!("{:04}-{:02}", s.year, s.month), "last_trading_day": s.last_trading_day.to_string(),
        "expires_at": fmt_time(s.expires_at), "order_qty_max": s.order_qty_max.0.to_string(),
        "price_limit_pct": pct(s.price_limit_bps), "initial_margin_pct": pct(s.initial_margin_bps), "maintenance_margin_pct": pct(s.maintenance_margin_bps),
        "fee_maker": fmt_money(s.currency, s.fee_maker_minor as i128), "fee_taker": fmt_money(s.currency, s.fee_taker_minor as i128),
        "phase": i.view.phase.map(phase_str), "delisted": i.view.delisted,
        "reference_price": i.price(i.view.reference), "lower_limit": i.price(i.view.lower_limit), "upper_limit": i.price(i.view.upper_limit),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstrumentsQ {
    product: Option<String>,
    #[serde(default)]
    include_delisted: bool,
}

async fn instruments(
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<InstrumentsQ>,
) -> ApiResult<Json<Value>> {
    let d = st
        .market
        .data
        .lock()
        .map_err(|_| ApiError::internal("poisoned"))?;
    let list: Vec<Value> = d
        .instruments
        .iter()
        .filter(|i| q.include_delisted || !i.view.delisted)
        .filter(|i| q.product.as_ref().is_none_or(|p| *p == i.spec.product))
        .map(instrument_json)
        .collect();
    Ok(Json(json!({"instruments": list})))
}

/// Read-your-writes for the views read back from the core (depth, ticker, statistics):
/// waits until they reflect everything durable when the request arrived.
async fn fresh(st: &Shared) {
    let target = st.handle.stats().last_seq.load(Ordering::Relaxed);
    st.market.wait_flushed(target).await;
}

fn with_instrument<R>(
    st: &Shared,
    symbol: &str,
    f: impl FnOnce(&super::market::InstData) -> R,
) -> ApiResult<R> {
    let d = st
        .market
        .data
        .lock()
        .map_err(|_| ApiError::internal("poisoned"))?;
    d.instrument(symbol)
        .map(f)
        .ok_or_else(|| ApiError::unknown_instrument(symbol))
}

async fn instrument(
    State(st): State<Shared>,
    ApiPath(symbol): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    fresh(&st).await;
    with_instrument(&st, &symbol, instrument_json).map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookQ {
    depth: Option<u32>,
}

async fn book(
    State(st): State<Shared>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(q): ApiQuery<BookQ>,
) -> ApiResult<Json<Value>> {
    fresh(&st).await;
    let n = limit_of(q.depth, 20, DEPTH_LEVELS as u32)? as usize;
    let seq = st.market.stats.seq.load(Ordering::Relaxed);
    with_instrument(&st, &symbol, |i| {
        let mut v = i.depth_json(n);
        v["seq"] = json!(seq);
        v
    })
    .map(Json)
}

async fn ticker(
    State(st): State<Shared>,
    ApiPath(symbol): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    fresh(&st).await;
    with_instrument(&st, &symbol, |i| i.ticker_json()).map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQ {
    limit: Option<u32>,
}

async fn trades(
    State(st): State<Shared>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(q): ApiQuery<LimitQ>,
) -> ApiResult<Json<Value>> {
    let n = limit_of(q.limit, 100, super::market::TRADES_KEPT as u32)? as usize;
    with_instrument(&st, &symbol, |i| json!({"instrument": symbol, "trades": i.trades.iter().rev().take(n).map(|t| i.trade_json(t)).collect::<Vec<_>>()})).map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BarsQ {
    interval: Option<String>,
    limit: Option<u32>,
}

async fn bars(
    State(st): State<Shared>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(q): ApiQuery<BarsQ>,
) -> ApiResult<Json<Value>> {
    let iv = q.interval.unwrap_or_else(|| "1m".into());
    let ix = interval_index(&iv).ok_or_else(|| {
        ApiError::bad(
            INVALID_QUERY,
            format!(
                "interval {iv:?} is not one of {}",
                INTERVALS.map(|i| i.0).join(", ")
            ),
        )
    })?;
    let n = limit_of(q.limit, 500, super::market::BARS_KEPT as u32)? as usize;
    with_instrument(&st, &symbol, |i| {
        let mut b: Vec<Value> = i.bars[ix]
            .values()
            .rev()
            .take(n)
            .map(|b| i.bar_json(b, &iv))
            .collect();
        b.reverse();
        json!({"instrument": symbol, "interval": iv, "bars": b})
    })
    .map(Json)
}

async fn stats(
    State(st): State<Shared>,
    ApiPath(symbol): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    fresh(&st).await;
    with_instrument(&st, &symbol, |i| i.stats_json()).map(Json)
}

fn latest_fixing(st: &Shared, id: &str) -> Option<Value> {
    let d = st.market.data.lock().ok()?;
    d.fixings
        .range((id.to_string(), chrono::NaiveDate::MIN)..=(id.to_string(), chrono::NaiveDate::MAX))
        .next_back()
        .map(|((_, date), v)| fixing_json(id, *date, *v))
}

async fn indexes(State(st): State<Shared>) -> Json<Value> {
    let list: Vec<Value> = st
        .indexes
        .defs
        .iter()
        .map(|d| {
            let mut v = Indexes::definition_json(d);
            v["latest"] = latest_fixing(&st, &d.id).unwrap_or(Value::Null);
            v
        })
        .collect();
    Json(json!({"indexes": list}))
}

async fn index(State(st): State<Shared>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Value>> {
    let d = st
        .indexes
        .get(&id)
        .ok_or_else(|| ApiError::not_found(UNKNOWN_INDEX, format!("no index {id:?}")))?;
    let mut v = Indexes::definition_json(d);
    v["latest"] = latest_fixing(&st, &id).unwrap_or(Value::Null);
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixingsQ {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    limit: Option<u32>,
}

async fn fixings(
    State(st): State<Shared>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<FixingsQ>,
) -> ApiResult<Json<Value>> {
    if st.indexes.get(&id).is_none() {
        return Err(ApiError::not_found(
            UNKNOWN_INDEX,
            format!("no index {id:?}"),
        ));
    }
    let n = limit_of(q.limit, 1000, 10_000)? as usize;
    let d = st
        .market
        .data
        .lock()
        .map_err(|_| ApiError::internal("poisoned"))?;
    let from = q.from.unwrap_or(chrono::NaiveDate::MIN);
    let to = q.to.unwrap_or(chrono::NaiveDate::MAX);
    let mut list: Vec<Value> = d
        .fixings
        .range((id.clone(), from)..=(id.clone(), to))
        .rev()
        .take(n)
        .map(|((_, date), v)| fixing_json(&id, *date, *v))
        .collect();
    list.reverse();
    Ok(Json(json!({"index": id, "fixings": list})))
}

async fn fixing_audit(
    State(st): State<Shared>,
    ApiPath((id, date)): ApiPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let date: chrono::NaiveDate = date
        .parse()
        .map_err(|_| ApiError::bad(INVALID_QUERY, format!("date {date:?} is not YYYY-MM-DD")))?;
    if st.indexes.get(&id).is_none() {
        return Err(ApiError::not_found(
            UNKNOWN_INDEX,
            format!("no index {id:?}"),
        ));
    }
    let st2 = st.clone();
    let id2 = id.clone();
    let f = blocking(move || st2.indexes.audit(&id2, date)).await?;
    let f = f.ok_or_else(|| {
        ApiError::not_found(UNKNOWN_INDEX, format!("no fixing of {id} on {date}"))
    })?;
    let recorded = st
        .market
        .data
        .lock()
        .ok()
        .and_then(|d| d.fixings.get(&(id.clone(), date)).copied());
    let mut v = serde_json::to_value(&*f).map_err(|e| ApiError::internal(e.to_string()))?;
    v["recorded_by_exchange"] = recorded
        .map(|x| fixing_json(&id, date, x)["value"].clone())
        .unwrap_or(Value::Null);
    Ok(Json(v))
}

async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

async fn metrics(State(st): State<Shared>) -> impl IntoResponse {
    let s = st.handle.stats();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<(String, f64)>| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in lines {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    let l = |v: u64| vec![(String::new(), v as f64)];
    metric(
        "tokex_commands_total",
        "counter",
        "Commands applied by the sequencer.",
        l(s.commands.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_rejects_total",
        "counter",
        "Commands rejected by the core.",
        l(s.rejects.load(Ordering::Relaxed)),
    );
    let by_code: Vec<(String, f64)> = s
        .rejects_by_code
        .lock()
        .map(|m| {
            m.iter()
                .map(|(c, n)| (format!("{{code=\"{c}\"}}"), *n as f64))
                .collect()
        })
        .unwrap_or_default();
    metric(
        "tokex_rejects_by_code_total",
        "counter",
        "Rejected commands by reason code.",
        by_code,
    );
    metric(
        "tokex_batches_total",
        "counter",
        "Durable batches (one fsync each).",
        l(s.batches.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_fsync_seconds_total",
        "counter",
        "Time spent in journal fsync.",
        vec![(
            String::new(),
            s.fsync_ns_total.load(Ordering::Relaxed) as f64 / 1e9,
        )],
    );
    metric(
        "tokex_fsync_seconds_max",
        "gauge",
        "Longest journal fsync.",
        vec![(
            String::new(),
            s.fsync_ns_max.load(Ordering::Relaxed) as f64 / 1e9,
        )],
    );
    metric(
        "tokex_last_seq",
        "gauge",
        "Last durable sequence number.",
        l(s.last_seq.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_queue_depth",
        "gauge",
        "Requests waiting for the sequencer.",
        l(s.queue_depth.load(Ordering::Relaxed)),
    );
    let fs = &st.market.stats;
    metric(
        "tokex_feed_seq",
        "gauge",
        "Last sequence number the market-data feed has processed.",
        l(fs.seq.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_ws_clients",
        "gauge",
        "Connected WebSocket clients.",
        l(fs.clients.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_ws_subscriptions",
        "gauge",
        "WebSocket channel subscriptions.",
        l(fs.subscriptions.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_ws_messages_total",
        "counter",
        "WebSocket messages queued to clients.",
        l(fs.messages.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_ws_slow_disconnects_total",
        "counter",
        "WebSocket clients cut off for falling behind.",
        l(fs.slow_disconnects.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_feed_resyncs_total",
        "counter",
        "Times the market-data feed fell behind and resynced.",
        l(fs.resyncs.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_http_requests_total",
        "counter",
        "HTTP requests.",
        l(st.http_requests.load(Ordering::Relaxed)),
    );
    metric(
        "tokex_http_errors_total",
        "counter",
        "HTTP requests answered with an error.",
        l(st.http_errors.load(Ordering::Relaxed)),
    );
    let depth: Vec<(String, f64)> = st
        .market
        .data
        .lock()
        .map(|d| {
            d.instruments
                .iter()
                .filter(|i| !i.view.delisted)
                .flat_map(|i| {
                    [
                        (
                            format!("{{instrument=\"{}\",side=\"bid\"}}", i.spec.symbol),
                            i.view.bids.len() as f64,
                        ),
                        (
                            format!("{{instrument=\"{}\",side=\"ask\"}}", i.spec.symbol),
                            i.view.asks.len() as f64,
                        ),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    metric(
        "tokex_book_levels",
        "gauge",
        "Price levels per side (up to 50).",
        depth,
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
}

// ----- the signed-in account ------------------------------------------------------------------

async fn account(Extension(p): Extension<Principal>) -> Json<Value> {
    Json(json!({"key": p.key, "role": p.role.as_str(), "account": p.account}))
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum SideIn {
    Buy,
    Sell,
}

impl From<SideIn> for Side {
    fn from(s: SideIn) -> Side {
        match s {
            SideIn::Buy => Side::Buy,
            SideIn::Sell => Side::Sell,
        }
    }
}

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
enum TypeIn {
    #[default]
    Limit,
    Market,
    StopLimit,
    StopMarket,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum TifIn {
    Gfd,
    Gtc,
    Gtd,
    Ioc,
    Fok,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)]
enum StpIn {
    CancelResting,
    CancelAggressing,
    CancelBoth,
}

impl From<StpIn> for StpMode {
    fn from(s: StpIn) -> StpMode {
        match s {
            StpIn::CancelResting => StpMode::CancelResting,
            StpIn::CancelAggressing => StpMode::CancelAggressing,
            StpIn::CancelBoth => StpMode::CancelBoth,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceOrderReq {
    instrument: String,
    side: SideIn,
    #[serde(rename = "type", default)]
    order_type: TypeIn,
    price: Option<String>,
    stop_price: Option<String>,
    qty: String,
    time_in_force: Option<TifIn>,
    expire_at: Option<String>,
    client_order_id: Option<String>,
    min_qty: Option<String>,
    display_qty: Option<String>,
    #[serde(default)]
    post_only: bool,
    stp: Option<StpIn>,
}

/// The order a NewOrder outcome created, with the fills it got at once.
fn order_from_outcome(out: &Outcome) -> Option<(OrderView, Vec<Value>)> {
    let mut o: Option<OrderView> = None;
    let mut fills = Vec::new();
    for e in &out.events {
        match e {
            Event::OrderAccepted {
                order_id,
                account,
                instrument,
                client_order_id,
                side,
                order_type,
                tif,
                price,
                stop_price,
                qty,
            } if o.is_none() => {
                let stop = matches!(order_type, OrderType::StopLimit | OrderType::StopMarket);
                o = Some(OrderView {
                    order_id: order_id.0,
                    account: account.0,
                    instrument: instrument.0,
                    client_order_id: client_order_id.map(|c| c.to_string()),
                    side: *side,
                    order_type: super::market::order_type_str(*order_type),
                    tif: super::market::tif_str(*tif),
                    expire_at: match tif {
                        TimeInForce::Gtd(t) => Some(*t),
                        _ => None,
                    },
                    price: *price,
                    stop_price: *stop_price,
                    qty: qty.0,
                    leaves: qty.0,
                    filled: 0,
                    status: if stop { "pending_trigger" } else { "new" }.into(),
                    cancel_reason: None,
                    created: None,
                    updated_seq: out.seq,
                });
            }
            Event::OrderRested {
                order_id,
                leaves,
                price,
                ..
            } => {
                if let Some(o) = o.as_mut().filter(|o| o.order_id == order_id.0) {
                    o.leaves = leaves.0;
                    o.price = Some(*price);
                    o.status = if o.filled > 0 {
                        "partially_filled"
                    } else {
                        "working"
                    }
                    .into();
                }
            }
            Event::StopTriggered { order_id, .. } => {
                if let Some(o) = o.as_mut().filter(|o| o.order_id == order_id.0) {
                    o.status = "new".into();
                }
            }
            Event::Trade {
                trade_id,
                price,
                qty,
                buy_order,
                sell_order,
                buy_leaves,
                sell_leaves,
                aggressor,
                maker_side,
                ..
            } => {
                if let Some(o) = o.as_mut() {
                    let mine = if buy_order.0 == o.order_id {
                        Some((buy_leaves, Side::Buy))
                    } else if sell_order.0 == o.order_id {
                        Some((sell_leaves, Side::Sell))
                    } else {
                        None
                    };
                    if let Some((leaves, side)) = mine {
                        o.filled += qty.0;
                        o.leaves = leaves.0;
                        o.status = if leaves.0 == 0 {
                            "filled"
                        } else {
                            "partially_filled"
                        }
                        .into();
                        let liquidity = match aggressor {
                            None => "auction",
                            Some(_) if *maker_side == side => "maker",
                            Some(_) => "taker",
                        };
                        fills.push((*trade_id, *price, qty.0, liquidity));
                    }
                }
            }
            Event::OrderCancelled {
                order_id, reason, ..
            } => {
                if let Some(o) = o.as_mut().filter(|o| o.order_id == order_id.0) {
                    o.leaves = 0;
                    o.status = "cancelled".into();
                    o.cancel_reason = Some(reason.as_str().into());
                }
            }
            _ => {}
        }
    }
    let o = o?;
    let fills = fills.into_iter().map(|(id, p, q, liq)| json!({"trade_id": id, "price": p.0, "qty": q.to_string(), "liquidity": liq})).collect();
    Some((o, fills))
}

async fn place_order(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    let r: PlaceOrderReq = decode(&body)?;
    let (inst, tick, _) = resolve(&st, &r.instrument)?;
    let qty = parse_qty("qty", &r.qty)?;
    let price = r
        .price
        .as_deref()
        .map(|s| parse_price(tick, "price", s))
        .transpose()?;
    let stop_price = r
        .stop_price
        .as_deref()
        .map(|s| parse_price(tick, "stop_price", s))
        .transpose()?;
    let min_qty = r
        .min_qty
        .as_deref()
        .map(|s| parse_qty("min_qty", s))
        .transpose()?;
    let display_qty = r
        .display_qty
        .as_deref()
        .map(|s| parse_qty("display_qty", s))
        .transpose()?;
    let client_order_id = r.client_order_id.as_deref().map(parse_clid).transpose()?;
    let order_type = match r.order_type {
        TypeIn::Limit => OrderType::Limit,
        TypeIn::Market => OrderType::Market,
        TypeIn::StopLimit => OrderType::StopLimit,
        TypeIn::StopMarket => OrderType::StopMarket,
    };
    if matches!(order_type, OrderType::Limit | OrderType::StopLimit) && price.is_none() {
        return Err(ApiError::bad(
            MISSING_FIELD,
            "missing field `price`: a limit order needs a price",
        ));
    }
    if matches!(order_type, OrderType::StopLimit | OrderType::StopMarket) && stop_price.is_none() {
        return Err(ApiError::bad(
            MISSING_FIELD,
            "missing field `stop_price`: a stop order needs a trigger price",
        ));
    }
    let tif = match (r.time_in_force, order_type) {
        (Some(TifIn::Gtd), _) => {
            let at = r.expire_at.as_deref().ok_or_else(|| {
                ApiError::bad(
                    MISSING_FIELD,
                    "missing field `expire_at`: a GTD order needs an expiry time",
                )
            })?;
            TimeInForce::Gtd(parse_time("expire_at", at)?)
        }
        (Some(TifIn::Gfd), _) => TimeInForce::Gfd,
        (Some(TifIn::Gtc), _) => TimeInForce::Gtc,
        (Some(TifIn::Ioc), _) => TimeInForce::Ioc,
        (Some(TifIn::Fok), _) => TimeInForce::Fok,
        (None, OrderType::Market | OrderType::StopMarket) => TimeInForce::Ioc,
        (None, _) => TimeInForce::Gtc,
    };
    if r.expire_at.is_some() && !matches!(tif, TimeInForce::Gtd(_)) {
        return Err(ApiError::invalid_field(
            "expire_at is only for time_in_force \"gtd\"",
        ));
    }
    let cmd = Command::NewOrder(NewOrder {
        account: AccountId(account),
        instrument: InstrumentId(inst),
        client_order_id,
        side: r.side.into(),
        order_type,
        price,
        stop_price,
        qty,
        tif,
        min_qty,
        display_qty,
        post_only: r.post_only,
        stp: r.stp.map(Into::into),
    });
    let out = submit(&st, cmd).await?;
    let (o, fills) = order_from_outcome(&out).ok_or_else(|| {
        ApiError::internal("the order was accepted without an OrderAccepted event")
    })?;
    let fills: Vec<Value> = fills
        .into_iter()
        .map(|mut f| {
            f["price"] = json!(fmt_price(tick, Price(f["price"].as_i64().unwrap_or(0))));
            f
        })
        .collect();
    Ok(Json(
        json!({"seq": out.seq, "order": order_json(&st, &o), "fills": fills}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrdersQ {
    instrument: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
    before: Option<u64>,
}

async fn list_orders(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<OrdersQ>,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    let inst = q
        .instrument
        .as_deref()
        .map(|s| resolve(&st, s).map(|r| r.0))
        .transpose()?;
    let limit = limit_of(q.limit, 100, 1000)?;
    match q.status.as_deref().unwrap_or("open") {
        "open" => {
            catch_up(&st, false).await;
            let d = st
                .market
                .data
                .lock()
                .map_err(|_| ApiError::internal("poisoned"))?;
            let ids = d.account_orders.get(&account).cloned().unwrap_or_default();
            let list: Vec<Value> = ids
                .iter()
                .rev()
                .filter_map(|id| d.orders.get(id))
                .filter(|o| inst.is_none_or(|i| o.instrument == i))
                .filter(|o| q.before.is_none_or(|b| o.order_id < b))
                .take(limit as usize)
                .map(|o| d.order_json(o))
                .collect();
            Ok(Json(json!({"orders": list})))
        }
        "all" => {
            catch_up(&st, true).await;
            let path = st.config.history_path();
            let before = q.before;
            let list =
                blocking(move || history_read::orders(&path, account, inst, before, limit)).await?;
            Ok(Json(
                json!({"orders": list.iter().map(|o| order_json(&st, o)).collect::<Vec<_>>()}),
            ))
        }
        other => Err(ApiError::bad(
            INVALID_QUERY,
            format!("status {other:?} is not one of open, all"),
        )),
    }
}

async fn get_order(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    let id = parse_order_id(&id)?;
    let o = find_order(&st, account, id)
        .await?
        .ok_or_else(|| ApiError::unknown_order(id))?;
    Ok(Json(order_json(&st, &o)))
}

async fn get_order_clid(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(clid): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    parse_clid(&clid)?;
    let o = find_order_clid(&st, account, &clid)
        .await?
        .ok_or_else(|| ApiError::unknown_order(format!("with client order id {clid:?}")))?;
    Ok(Json(order_json(&st, &o)))
}

/// An open order for amend/cancel: its instrument, checked against the account.
fn open_order(st: &Shared, account: u32, by: OrderRef) -> ApiResult<OrderView> {
    let d = st
        .market
        .data
        .lock()
        .map_err(|_| ApiError::internal("poisoned"))?;
    let o = match by {
        OrderRef::Id(id) => d.orders.get(&id.0),
        OrderRef::Client(c) => d
            .client_ids
            .get(&(account, c.to_string()))
            .and_then(|id| d.orders.get(id)),
    };
    match o {
        Some(o) if o.account == account => Ok(o.clone()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            tokex_engine::RejectCode::NotYourOrder.as_str(),
            "the order belongs to another account",
        )),
        None => Err(ApiError::unknown_order(match by {
            OrderRef::Id(id) => format!("{} among the working orders", id.0),
            OrderRef::Client(c) => format!(
                "with client order id {:?} among the working orders",
                c.as_str()
            ),
        })),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AmendReq {
    price: Option<String>,
    qty: Option<String>,
    stop_price: Option<String>,
}

async fn amend(st: Shared, p: Principal, by: OrderRef, body: Bytes) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    let r: AmendReq = decode(&body)?;
    catch_up(&st, false).await;
    let o = open_order(&st, account, by)?;
    let tick = st
        .market
        .data
        .lock()
        .ok()
        .and_then(|d| d.instruments.get(o.instrument as usize).map(|i| i.tick))
        .ok_or_else(|| ApiError::internal("instrument missing"))?;
    let price = r
        .price
        .as_deref()
        .map(|s| parse_price(tick, "price", s))
        .transpose()?;
    let stop_price = r
        .stop_price
        .as_deref()
        .map(|s| parse_price(tick, "stop_price", s))
        .transpose()?;
    let qty = r.qty.as_deref().map(|s| parse_qty("qty", s)).transpose()?;
    if price.is_none() && qty.is_none() && stop_price.is_none() {
        return Err(ApiError::bad(
            MISSING_FIELD,
            "give at least one of price, qty, stop_price",
        ));
    }
    let out = submit(
        &st,
        Command::Amend(Amend {
            account: AccountId(account),
            instrument: InstrumentId(o.instrument),
            order: OrderRef::Id(OrderId(o.order_id)),
            price,
            qty,
            stop_price,
        }),
    )
    .await?;
    let kept = out.events.iter().find_map(|e| match e {
        Event::OrderAmended { priority_kept, .. } => Some(*priority_kept),
        _ => None,
    });
    let now = find_order(&st, account, o.order_id).await?.unwrap_or(o);
    Ok(Json(
        json!({"seq": out.seq, "priority_kept": kept, "order": order_json(&st, &now)}),
    ))
}

async fn amend_order(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let id = parse_order_id(&id)?;
    amend(st, p, OrderRef::Id(OrderId(id)), body).await
}

async fn amend_order_clid(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(clid): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let c = parse_clid(&clid)?;
    amend(st, p, OrderRef::Client(c), body).await
}

async fn cancel(st: Shared, p: Principal, by: OrderRef) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    catch_up(&st, false).await;
    let o = open_order(&st, account, by)?;
    let out = submit(
        &st,
        Command::Cancel(Cancel {
            account: AccountId(account),
            instrument: InstrumentId(o.instrument),
            order: OrderRef::Id(OrderId(o.order_id)),
        }),
    )
    .await?;
    let mut now = o.clone();
    for e in &out.events {
        if let Event::OrderCancelled {
            order_id, reason, ..
        } = e
        {
            if order_id.0 == o.order_id {
                now.leaves = 0;
                now.status = "cancelled".into();
                now.cancel_reason = Some(reason.as_str().into());
                now.updated_seq = out.seq;
            }
        }
    }
    Ok(Json(
        json!({"seq": out.seq, "order": order_json(&st, &now)}),
    ))
}

async fn cancel_order(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_order_id(&id)?;
    cancel(st, p, OrderRef::Id(OrderId(id))).await
}

async fn cancel_order_clid(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(clid): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let c = parse_clid(&clid)?;
    cancel(st, p, OrderRef::Client(c)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MassCancelQ {
    instrument: Option<String>,
    product: Option<String>,
    side: Option<String>,
    account: Option<u32>,
}

async fn do_mass_cancel(
    st: &Shared,
    account: Option<u32>,
    q: MassCancelQ,
) -> ApiResult<Json<Value>> {
    let instrument = q
        .instrument
        .as_deref()
        .map(|s| resolve(st, s).map(|r| InstrumentId(r.0)))
        .transpose()?;
    let side = match q.side.as_deref() {
        None => None,
        Some("buy") => Some(Side::Buy),
        Some("sell") => Some(Side::Sell),
        Some(s) => {
            return Err(ApiError::bad(
                INVALID_QUERY,
                format!("side {s:?} is not buy or sell"),
            ))
        }
    };
    if let Some(p) = &q.product {
        if st.handle.products().get(p).is_none() {
            return Err(ApiError::not_found(
                UNKNOWN_PRODUCT,
                format!("no product {p:?}"),
            ));
        }
    }
    let out = submit(
        st,
        Command::MassCancel(MassCancel {
            account: account.map(AccountId),
            instrument,
            product: q.product,
            side,
        }),
    )
    .await?;
    let ids: Vec<String> = out
        .events
        .iter()
        .filter_map(|e| match e {
            Event::OrderCancelled { order_id, .. } => Some(order_id.0.to_string()),
            _ => None,
        })
        .collect();
    Ok(Json(
        json!({"seq": out.seq, "cancelled": ids.len(), "order_ids": ids}),
    ))
}

async fn mass_cancel(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<MassCancelQ>,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    if q.account.is_some_and(|a| a != account) {
        return Err(ApiError::forbidden(
            "a key cancels only its own account's orders",
        ));
    }
    do_mass_cancel(&st, Some(account), q).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FillsQ {
    instrument: Option<String>,
    limit: Option<u32>,
    before: Option<u64>,
}

async fn fills(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<FillsQ>,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    let inst = q
        .instrument
        .as_deref()
        .map(|s| resolve(&st, s).map(|r| r.0))
        .transpose()?;
    let limit = limit_of(q.limit, 100, 1000)?;
    catch_up(&st, true).await;
    let path = st.config.history_path();
    let before = q.before;
    let list = blocking(move || history_read::fills(&path, account, inst, before, limit)).await?;
    let d = st
        .market
        .data
        .lock()
        .map_err(|_| ApiError::internal("poisoned"))?;
    Ok(Json(
        json!({"fills": list.iter().map(|f| d.fill_json(f)).collect::<Vec<_>>()}),
    ))
}

async fn positions(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    Ok(Json(
        st.handle.query(move |e| positions_json(e, account)).await?,
    ))
}

async fn balances(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    Ok(Json(
        st.handle.query(move |e| balances_json(e, account)).await?,
    ))
}

fn margin_json(e: &tokex_engine::Engine, account: u32) -> Value {
    let b = balances_json(e, account);
    let per: Vec<Value> = b["balances"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|x| {
                    let c = x["currency"].as_str().and_then(Currency::parse).unwrap_or(Currency::Usd);
                    let eq = e.account_equity(AccountId(account), c);
                    let mm = e.account_maintenance_margin(AccountId(account), c);
                    json!({
                        "currency": x["currency"], "equity": x["equity"], "initial_margin": x["initial_margin"],
                        "position_initial_margin": x["position_initial_margin"], "maintenance_margin": x["maintenance_margin"],
                        "available": x["available"], "excess_over_maintenance": fmt_money(c, eq - mm),
                        "liquidation_threshold": fmt_money(c, mm * tokex_engine::LIQUIDATION_THRESHOLD_BPS / 10_000),
                        "margin_call": x["margin_call"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"account": account, "liquidating": b["liquidating"], "margin": per})
}

async fn margin(
    State(st): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    let account = trading_account(&p)?;
    Ok(Json(
        st.handle.query(move |e| margin_json(e, account)).await?,
    ))
}

// ----- operator -----------------------------------------------------------------------------

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Trader => "trader",
        Role::MarketMaker => "market_maker",
        Role::Operator => "operator",
        Role::InsuranceFund => "insurance_fund",
    }
}

async fn admin_accounts(State(st): State<Shared>) -> ApiResult<Json<Value>> {
    let list = st
        .handle
        .query(|e| {
            e.accounts()
                .map(|a| {
                    let cash: serde_json::Map<String, Value> = Currency::ALL.iter().map(|c| (c.code().to_string(), json!(fmt_money(*c, a.cash[c.index()] as i128)))).collect();
                    json!({"account": a.id.0, "role": role_str(a.role), "cash": cash, "working_orders": a.working_orders, "liquidating": a.liquidating, "margin_call": a.margin_call.is_some()})
                })
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({"accounts": list})))
}

async fn admin_account(
    State(st): State<Shared>,
    ApiPath(id): ApiPath<u32>,
) -> ApiResult<Json<Value>> {
    let v = st
        .handle
        .query(move |e| {
            e.account(AccountId(id)).map(|_| {
                let mut b = balances_json(e, id);
                b["positions"] = positions_json(e, id)["positions"].clone();
                b
            })
        })
        .await?;
    v.map(Json).ok_or_else(|| {
        ApiError::not_found(
            tokex_engine::RejectCode::UnknownAccount.as_str(),
            format!("no account {id}"),
        )
    })
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RoleIn {
    Trader,
    MarketMaker,
    Operator,
    InsuranceFund,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccountReq {
    account: Option<u32>,
    role: RoleIn,
    stp: Option<StpIn>,
}

async fn admin_create_account(State(st): State<Shared>, body: Bytes) -> ApiResult<Json<Value>> {
    let r: CreateAccountReq = decode(&body)?;
    let role = match r.role {
        RoleIn::Trader => Role::Trader,
        RoleIn::MarketMaker => Role::MarketMaker,
        RoleIn::Operator => Role::Operator,
        RoleIn::InsuranceFund => Role::InsuranceFund,
    };
    let id = match r.account {
        Some(a) => a,
        None => {
            st.handle
                .query(|e| e.accounts().map(|a| a.id.0 + 1).max().unwrap_or(1))
                .await?
        }
    };
    let out = submit(
        &st,
        Command::CreateAccount {
            account: AccountId(id),
            role,
            stp: r.stp.map(Into::into).unwrap_or_default(),
        },
    )
    .await?;
    Ok(Json(
        json!({"seq": out.seq, "account": id, "role": role_str(role)}),
    ))
}

async fn admin_keys(State(st): State<Shared>) -> Json<Value> {
    let list: Vec<Value> = st.keys.list().iter().map(|k| json!({"key": k.key, "account": k.account, "role": k.role.as_str(), "created": k.created, "label": k.label, "revoked": k.revoked})).collect();
    Json(json!({"keys": list}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyReq {
    account: Option<u32>,
    role: Option<String>,
    #[serde(default)]
    label: String,
}

async fn admin_create_key(State(st): State<Shared>, body: Bytes) -> ApiResult<Json<Value>> {
    let r: CreateKeyReq = decode(&body)?;
    let role = r
        .role
        .as_deref()
        .map(|s| {
            KeyRole::parse(s).ok_or_else(|| {
                ApiError::invalid_field(format!(
                    "role {s:?} is not one of trader, market_maker, operator"
                ))
            })
        })
        .transpose()?;
    let (account, role) = match (r.account, role) {
        (None, Some(KeyRole::Operator)) => (None, KeyRole::Operator),
        (None, _) => {
            return Err(ApiError::bad(
                MISSING_FIELD,
                "missing field `account`: trader and market-maker keys are bound to an account",
            ))
        }
        (Some(a), role) => {
            let acct_role = st
                .handle
                .query(move |e| e.account(AccountId(a)).map(|x| x.role))
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(
                        tokex_engine::RejectCode::UnknownAccount.as_str(),
                        format!("no account {a}: create it first"),
                    )
                })?;
            let natural = match acct_role {
                Role::Trader => KeyRole::Trader,
                Role::MarketMaker => KeyRole::MarketMaker,
                Role::Operator => KeyRole::Operator,
                Role::InsuranceFund => {
                    return Err(ApiError::invalid_field(
                        "the insurance fund's account does not trade: no key for it",
                    ))
                }
            };
            let role = role.unwrap_or(natural);
            if role != natural && role != KeyRole::Trader {
                return Err(ApiError::invalid_field(format!(
                    "account {a} has role {}: a key for it may be {} or trader",
                    natural.as_str(),
                    natural.as_str()
                )));
            }
            (Some(a), role)
        }
    };
    let label = r.label;
    let st2 = st.clone();
    let (key, secret) = blocking(move || st2.keys.create(account, role, &label)).await?;
    tracing::info!(key = %key, role = role.as_str(), ?account, "API key created");
    Ok(Json(
        json!({"key": key, "secret": secret, "account": account, "role": role.as_str(), "note": "the secret is shown once and stored only as its SHA-256"}),
    ))
}

async fn admin_revoke_key(
    State(st): State<Shared>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let st2 = st.clone();
    let k = key.clone();
    if !blocking(move || st2.keys.revoke(&k)).await? {
        return Err(ApiError::not_found(UNKNOWN_KEY, format!("no key {key:?}")));
    }
    tracing::info!(key = %key, "API key revoked");
    Ok(Json(json!({"key": key, "revoked": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CashReq {
    account: u32,
    currency: String,
    amount: String,
}

async fn cash(st: Shared, body: Bytes, deposit: bool) -> ApiResult<Json<Value>> {
    let r: CashReq = decode(&body)?;
    let currency = parse_currency(&r.currency)?;
    let amount = tokex_types::Money(parse_money(currency, "amount", &r.amount)?);
    let account = AccountId(r.account);
    let cmd = if deposit {
        Command::Deposit {
            account,
            currency,
            amount,
        }
    } else {
        Command::Withdraw {
            account,
            currency,
            amount,
        }
    };
    let out = submit(&st, cmd).await?;
    let balance = out.events.iter().find_map(|e| match e {
        Event::CashMoved { balance, .. } => Some(fmt_money(currency, balance.0 as i128)),
        _ => None,
    });
    Ok(Json(
        json!({"seq": out.seq, "account": r.account, "currency": currency.code(), "amount": fmt_money(currency, amount.0 as i128), "balance": balance}),
    ))
}

async fn admin_deposit(State(st): State<Shared>, body: Bytes) -> ApiResult<Json<Value>> {
    cash(st, body, true).await
}

async fn admin_withdraw(State(st): State<Shared>, body: Bytes) -> ApiResult<Json<Value>> {
    cash(st, body, false).await
}

async fn admin_halt(
    State(st): State<Shared>,
    ApiPath(symbol): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (id, _, _) = resolve(&st, &symbol)?;
    let out = submit(
        &st,
        Command::Halt {
            instrument: InstrumentId(id),
        },
    )
    .await?;
    Ok(Json(
        json!({"seq": out.seq, "instrument": symbol, "phase": "halted"}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ResumeReq {
    auction_secs: Option<u64>,
}

async fn admin_resume(
    State(st): State<Shared>,
    ApiPath(symbol): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let r: ResumeReq = if body.is_empty() {
        ResumeReq::default()
    } else {
        decode(&body)?
    };
    let secs = r.auction_secs.unwrap_or(60);
    if secs > 3_600 {
        return Err(ApiError::invalid_field("auction_secs: at most 3600"));
    }
    let (id, _, _) = resolve(&st, &symbol)?;
    let out = submit(
        &st,
        Command::Resume {
            instrument: InstrumentId(id),
            auction_ns: secs * 1_000_000_000,
        },
    )
    .await?;
    Ok(Json(
        json!({"seq": out.seq, "instrument": symbol, "phase": "pre_open", "auction_secs": secs}),
    ))
}

async fn admin_mass_cancel(
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<MassCancelQ>,
) -> ApiResult<Json<Value>> {
    let account = q.account;
    do_mass_cancel(&st, account, q).await
}

/// The live (not delisted) instruments with the limits and margin rates in force, of one
/// product or all.
fn live_instruments_json(e: &tokex_engine::Engine, product: Option<&str>) -> Vec<Value> {
    e.instruments()
        .filter(|i| !i.delisted && product.is_none_or(|p| p == i.spec.product))
        .map(|i| {
            let (im, mm) = i.margin_bps();
            let tick = tick_of(&i.spec);
            json!({"symbol": i.spec.symbol, "product": i.spec.product, "limit_pct_in_force": pct_of(i.limit_bps), "initial_margin_pct_in_force": pct_of(im), "maintenance_margin_pct_in_force": pct_of(mm), "lower_limit": fmt_price(tick, i.lower_limit), "upper_limit": fmt_price(tick, i.upper_limit), "limit_locked": i.limit_locked, "phase": phase_str(i.phase)})
        })
        .collect()
}

async fn admin_products(State(st): State<Shared>) -> ApiResult<Json<Value>> {
    let changes = product_changes(&st).await?;
    let products: Vec<Value> = st
        .handle
        .products()
        .products()
        .iter()
        .map(|p| {
            let c = changes.get(p.root());
            let mut v = product_json(p, c);
            v["changed_by_operator"] = json!(c.map(changed_fields).unwrap_or_default());
            v
        })
        .collect();
    let live = st.handle.query(|e| live_instruments_json(e, None)).await?;
    Ok(Json(
        json!({"products": products, "instruments": live, "note": "values in force: the products file's, with the operator's changes (PATCH /api/v1/admin/products/{root}, journaled) laid over them; changed values apply to every listed month at once and to months listed later; the other fields change only by editing the products file and restarting"}),
    ))
}

/// The body of `PATCH /api/v1/admin/products/{root}`: any of the changeable parameters, in
/// the units the product JSON shows them in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductParamsReq {
    price_limit_pct: Option<String>,
    initial_margin_pct: Option<String>,
    maintenance_margin_pct: Option<String>,
    order_qty_max: Option<String>,
    position_limit_all_months: Option<String>,
    position_limit_spot_month: Option<String>,
    fee_maker: Option<String>,
    fee_taker: Option<String>,
    velocity_ticks: Option<i64>,
    market_protection_ticks: Option<i64>,
}

impl ProductParamsReq {
    fn to_change(&self, root: &str, cur: Currency) -> ApiResult<ProductParamsChange> {
        let pct = |f: &str, v: &Option<String>, code| {
            v.as_deref().map(|s| parse_pct_bps(f, s, code)).transpose()
        };
        let count = |f: &str, v: &Option<String>, code| {
            v.as_deref().map(|s| parse_count(f, s, code)).transpose()
        };
        let fee =
            |f: &str, v: &Option<String>| v.as_deref().map(|s| parse_fee(cur, f, s)).transpose();
        use RejectCode as C;
        Ok(ProductParamsChange {
            product: root.to_string(),
            price_limit_bps: pct(
                "price_limit_pct",
                &self.price_limit_pct,
                C::InvalidPriceLimit,
            )?,
            initial_margin_bps: pct(
                "initial_margin_pct",
                &self.initial_margin_pct,
                C::InvalidMargin,
            )?,
            maintenance_margin_bps: pct(
                "maintenance_margin_pct",
                &self.maintenance_margin_pct,
                C::InvalidMargin,
            )?,
            order_qty_max: count("order_qty_max", &self.order_qty_max, C::InvalidOrderQtyMax)?
                .map(Qty),
            position_limit_all_months: count(
                "position_limit_all_months",
                &self.position_limit_all_months,
                C::InvalidPositionLimit,
            )?,
            position_limit_spot_month: count(
                "position_limit_spot_month",
                &self.position_limit_spot_month,
                C::InvalidPositionLimit,
            )?,
            fee_maker_minor: fee("fee_maker", &self.fee_maker)?,
            fee_taker_minor: fee("fee_taker", &self.fee_taker)?,
            cb_ticks: self.velocity_ticks,
            market_protection_ticks: self.market_protection_ticks,
        })
    }
}

/// Changes a product's parameters for every listed month at once (and the months listed
/// later): one journaled command, validated by the core, all or nothing.
async fn admin_set_product(
    State(st): State<Shared>,
    ApiPath(root): ApiPath<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let def = st
        .handle
        .products()
        .get(&root)
        .cloned()
        .ok_or_else(|| ApiError::not_found(UNKNOWN_PRODUCT, format!("no product {root:?}")))?;
    let r: ProductParamsReq = decode(&body)?;
    let change = r.to_change(&root, def.currency())?;
    let out = submit(&st, Command::SetProductParams(Box::new(change))).await?;
    let (changed, live) = st
        .handle
        .query(move |e| {
            (
                e.product_override(&root).cloned(),
                live_instruments_json(e, Some(&root)),
            )
        })
        .await?;
    tracing::info!(
        product = def.root(),
        seq = out.seq,
        "product parameters changed"
    );
    let mut product = product_json(&def, changed.as_ref());
    product["changed_by_operator"] =
        json!(changed.as_ref().map(changed_fields).unwrap_or_default());
    Ok(Json(
        json!({"seq": out.seq, "product": product, "instruments": live}),
    ))
}

/// The committed state's sequence number and hash, read together: `tokex replay --to-seq`
/// with that number must give the same hash (the live core equals a fresh replay).
async fn admin_state(State(st): State<Shared>) -> ApiResult<Json<Value>> {
    let h = st.handle.clone();
    let (seq, hash) = st
        .handle
        .query(move |e| {
            // Queries run between batches, after the last one was made durable, so this is
            // the seq of the last command the hashed state includes.
            (h.stats().last_seq.load(Ordering::Relaxed), e.state_hash())
        })
        .await?;
    Ok(Json(json!({"seq": seq, "state_hash": hash})))
}
