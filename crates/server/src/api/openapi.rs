//! The OpenAPI 3 document, served at `/api/v1/openapi.json`.
//!
//! It is written by hand from [`OPERATIONS`], not generated from the router: a test compares
//! the two both ways, so a route added without documentation (or documentation of a route
//! that does not exist) fails the build.

use super::errors::{GATEWAY_CODES, REJECT_CODES};
use super::routes::Access;
use serde_json::{json, Map, Value};

pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Query parameters: (name, type, description).
    pub query: &'static [(&'static str, &'static str, &'static str)],
    /// Request body schema name in components, if any.
    pub body: Option<&'static str>,
    /// Response schema name in components.
    pub response: &'static str,
}

const NONE: &[(&str, &str, &str)] = &[];

macro_rules! op {
    ($m:literal, $p:literal, $a:ident, $t:literal, $s:literal, $q:expr, $b:expr, $r:literal) => {
        Op {
            method: $m,
            path: $p,
            access: Access::$a,
            tag: $t,
            summary: $s,
            query: $q,
            body: $b,
            response: $r,
        }
    };
}

pub const OPERATIONS: &[Op] = &[
    op!("get", "/api/v1/time", Public, "reference", "Server time (use it to check your clock for signing).", NONE, None, "Time"),
    op!("get", "/api/v1/products", Public, "reference", "Every product with its contract specification.", NONE, None, "Products"),
    op!("get", "/api/v1/products/{root}", Public, "reference", "One product's contract specification.", NONE, None, "Product"),
    op!("get", "/api/v1/instruments", Public, "reference", "Listed contract months.", &[("product", "string", "only this product root"), ("include_delisted", "boolean", "also expired months")], None, "Instruments"),
    op!("get", "/api/v1/instruments/{symbol}", Public, "reference", "One instrument: spec, phase, reference price and daily limits.", NONE, None, "Instrument"),
    op!("get", "/api/v1/instruments/{symbol}/book", Public, "market data", "Order book snapshot: aggregated levels [price, qty, orders], best first.", &[("depth", "integer", "levels per side, 1 to 50 (default 20)")], None, "Book"),
    op!("get", "/api/v1/instruments/{symbol}/ticker", Public, "market data", "Top of book and last price.", NONE, None, "Ticker"),
    op!("get", "/api/v1/instruments/{symbol}/trades", Public, "market data", "Recent trades, newest first.", &[("limit", "integer", "1 to 1000 (default 100)")], None, "Trades"),
    op!("get", "/api/v1/instruments/{symbol}/bars", Public, "market data", "OHLCV bars, oldest first (UTC-aligned).", &[("interval", "string", "1m, 5m, 1h or 1d (default 1m)"), ("limit", "integer", "1 to 1500 (default 500)")], None, "Bars"),
    op!("get", "/api/v1/instruments/{symbol}/stats", Public, "market data", "Daily statistics: open, high, low, close, settlement, volume, open interest, limit prices.", NONE, None, "Stats"),
    op!("get", "/api/v1/indexes", Public, "indexes", "Index definitions with their latest level.", NONE, None, "Indexes"),
    op!("get", "/api/v1/indexes/{index}", Public, "indexes", "One index definition and its latest level.", NONE, None, "Index"),
    op!("get", "/api/v1/indexes/{index}/fixings", Public, "indexes", "Daily fixings the exchange recorded.", &[("from", "string", "first date, YYYY-MM-DD"), ("to", "string", "last date, YYYY-MM-DD"), ("limit", "integer", "1 to 10000 (default 1000), newest kept")], None, "Fixings"),
    op!("get", "/api/v1/indexes/{index}/fixings/{date}", Public, "indexes", "A fixing's full audit record: basket, quotes per source, exclusions, FX, chain, hashes.", NONE, None, "FixingAudit"),
    op!("get", "/api/v1/openapi.json", Public, "reference", "This document.", NONE, None, "Object"),
    op!("get", "/api/v1/ws", Public, "streams", "WebSocket upgrade: market data and private streams (see docs/API.md).", NONE, None, "Object"),
    op!("get", "/metrics", Public, "operations", "Prometheus metrics (text format).", NONE, None, "Object"),
    op!("post", "/api/v1/hedge/plan", Public, "hedging", "Plan a hedge: forecast rows (or CSV) and optional futures prices in; the strip, locked price, margin, scenarios, basis risk and backtest out (docs/HEDGING.md).", NONE, Some("Object"), "Object"),
    op!("get", "/api/v1/hedge/tiers", Public, "hedging", "The hedgeable tiers and the models mapped to them.", NONE, None, "Object"),
    op!("get", "/api/v1/products/{root}/schedule", Public, "reference", "The product calendar's next auctions, sessions and settlements.", NONE, None, "Object"),
    op!("get", "/api/v1/indexes/{index}/methodology", Public, "indexes", "The index's methodology document, generated from its definition (Markdown).", NONE, None, "Object"),
    op!("get", "/api/v1/account", Signed, "account", "Who the key is: account and role.", NONE, None, "Whoami"),
    op!("post", "/api/v1/orders", Signed, "orders", "Place an order.", NONE, Some("PlaceOrder"), "OrderResult"),
    op!("get", "/api/v1/orders", Signed, "orders", "The account's orders: working ones (default) or all, newest first.", &[("instrument", "string", "only this instrument"), ("status", "string", "open (default) or all"), ("limit", "integer", "1 to 1000 (default 100)"), ("before", "integer", "only order ids below this")], None, "Orders"),
    op!("delete", "/api/v1/orders", Signed, "orders", "Mass cancel the account's working orders matching every filter given.", &[("instrument", "string", "only this instrument"), ("product", "string", "only this product root"), ("side", "string", "buy or sell"), ("account", "integer", "must be the key's own account if given")], None, "MassCancelResult"),
    op!("get", "/api/v1/orders/{order_id}", Signed, "orders", "One order by exchange id.", NONE, None, "Order"),
    op!("patch", "/api/v1/orders/{order_id}", Signed, "orders", "Amend a working order: a smaller quantity keeps priority, a price change or larger quantity loses it.", NONE, Some("Amend"), "AmendResult"),
    op!("delete", "/api/v1/orders/{order_id}", Signed, "orders", "Cancel a working order.", NONE, None, "CancelResult"),
    op!("get", "/api/v1/orders/by-client-id/{client_order_id}", Signed, "orders", "One order by client order id (the idempotency key: ask after a time-out).", NONE, None, "Order"),
    op!("patch", "/api/v1/orders/by-client-id/{client_order_id}", Signed, "orders", "Amend a working order by client order id.", NONE, Some("Amend"), "AmendResult"),
    op!("delete", "/api/v1/orders/by-client-id/{client_order_id}", Signed, "orders", "Cancel a working order by client order id.", NONE, None, "CancelResult"),
    op!("get", "/api/v1/fills", Signed, "account", "The account's fills, newest first.", &[("instrument", "string", "only this instrument"), ("limit", "integer", "1 to 1000 (default 100)"), ("before", "integer", "only trade ids below this")], None, "Fills"),
    op!("get", "/api/v1/positions", Signed, "account", "Net positions with average price, P&L and working quantity.", NONE, None, "Positions"),
    op!("get", "/api/v1/balances", Signed, "account", "Cash, equity, margin and available funds per currency.", NONE, None, "Balances"),
    op!("get", "/api/v1/margin", Signed, "account", "Margin requirements, excess over maintenance, liquidation threshold, margin call.", NONE, None, "Margin"),
    op!("get", "/api/v1/admin/accounts", Operator, "operator", "Every account with its cash.", NONE, None, "Object"),
    op!("post", "/api/v1/admin/accounts", Operator, "operator", "Open an account.", NONE, Some("CreateAccount"), "Object"),
    op!("get", "/api/v1/admin/accounts/{account}", Operator, "operator", "One account: balances and positions.", NONE, None, "Object"),
    op!("get", "/api/v1/admin/keys", Operator, "operator", "API keys (never their secrets).", NONE, None, "Object"),
    op!("post", "/api/v1/admin/keys", Operator, "operator", "Make an API key; the secret is in this answer only.", NONE, Some("CreateKey"), "Object"),
    op!("delete", "/api/v1/admin/keys/{key}", Operator, "operator", "Revoke an API key.", NONE, None, "Object"),
    op!("post", "/api/v1/admin/deposits", Operator, "operator", "Credit cash to an account.", NONE, Some("Cash"), "Object"),
    op!("post", "/api/v1/admin/withdrawals", Operator, "operator", "Pay cash out (refused below the margin requirement).", NONE, Some("Cash"), "Object"),
    op!("post", "/api/v1/admin/instruments/{symbol}/halt", Operator, "operator", "Halt trading in an instrument (cancels still allowed).", NONE, None, "Object"),
    op!("post", "/api/v1/admin/instruments/{symbol}/resume", Operator, "operator", "End a halt with a pre-open call auction.", NONE, Some("Resume"), "Object"),
    op!("delete", "/api/v1/admin/orders", Operator, "operator", "Mass cancel across accounts (every filter optional).", &[("account", "integer", "only this account"), ("instrument", "string", "only this instrument"), ("product", "string", "only this product root"), ("side", "string", "buy or sell")], None, "MassCancelResult"),
    op!("get", "/api/v1/admin/products", Operator, "operator", "Product parameters in force (the products file's with the operator's changes) and the limits and margin rates in force per instrument.", NONE, None, "Object"),
    op!("patch", "/api/v1/admin/products/{root}", Operator, "operator", "Change a product's margins, daily price limit, largest order, position limits, fees or protection ticks: every listed month at once and the months listed later (journaled; all or nothing).", NONE, Some("ProductParams"), "ProductParamsResult"),
    op!("get", "/api/v1/admin/state", Operator, "operator", "The last durable sequence number and the hash of the state after it (compare with tokex replay --to-seq).", NONE, None, "Object"),
];

fn s(t: &str) -> Value {
    json!({"type": t})
}

fn dec(desc: &str) -> Value {
    json!({"type": "string", "description": desc, "pattern": "^-?[0-9]+(\\.[0-9]+)?$"})
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

/// Every error code once: the gateway's, then the core's (`UNKNOWN_PRODUCT` is both).
fn error_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = Vec::new();
    for c in GATEWAY_CODES
        .iter()
        .map(|c| c.0)
        .chain(REJECT_CODES.iter().map(|c| c.as_str()))
    {
        if !codes.contains(&c) {
            codes.push(c);
        }
    }
    codes
}

fn schemas() -> Map<String, Value> {
    let order = obj(
        json!({
            "order_id": s("string"), "client_order_id": s("string"), "account": s("integer"), "instrument": s("string"),
            "side": {"type": "string", "enum": ["buy", "sell"]}, "type": {"type": "string", "enum": ["limit", "market", "stop_limit", "stop_market"]},
            "time_in_force": {"type": "string", "enum": ["gfd", "gtc", "gtd", "ioc", "fok"]}, "expire_at": s("string"),
            "price": dec("limit price"), "stop_price": dec("trigger price"), "qty": dec("contracts"), "leaves": dec("open quantity"), "filled": dec("filled quantity"),
            "status": {"type": "string", "enum": ["new", "pending_trigger", "working", "partially_filled", "filled", "cancelled"]},
            "cancel_reason": s("string"), "created": s("string"), "seq": s("integer"),
        }),
        &[
            "order_id",
            "instrument",
            "side",
            "type",
            "qty",
            "leaves",
            "filled",
            "status",
        ],
    );
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put(
        "Error",
        obj(
            json!({"code": {"type": "string", "enum": error_codes()}, "message": s("string")}),
            &["code", "message"],
        ),
    );
    put("Object", s("object"));
    put(
        "Time",
        obj(
            json!({"time_ms": s("integer"), "time": s("string")}),
            &["time_ms", "time"],
        ),
    );
    put(
        "Product",
        obj(
            json!({"root": s("string"), "name": s("string"), "currency": s("string"), "contract_size": dec(""), "tick_size": dec(""), "tick_value": dec(""), "price_limit_pct": dec(""), "initial_margin_pct": dec(""), "maintenance_margin_pct": dec(""), "fee_maker": dec(""), "fee_taker": dec("")}),
            &["root"],
        ),
    );
    put(
        "Products",
        obj(
            json!({"products": {"type": "array", "items": {"$ref": "#/components/schemas/Product"}}}),
            &["products"],
        ),
    );
    put(
        "Instrument",
        obj(
            json!({"symbol": s("string"), "product": s("string"), "contract_month": s("string"), "last_trading_day": s("string"), "tick_size": dec(""), "phase": s("string"), "reference_price": dec(""), "lower_limit": dec(""), "upper_limit": dec("")}),
            &["symbol"],
        ),
    );
    put(
        "Instruments",
        obj(
            json!({"instruments": {"type": "array", "items": {"$ref": "#/components/schemas/Instrument"}}}),
            &["instruments"],
        ),
    );
    let level = json!({"type": "array", "description": "[price, qty, order count]", "items": {}});
    put(
        "Book",
        obj(
            json!({"instrument": s("string"), "seq": s("integer"), "bids": {"type": "array", "items": level}, "asks": {"type": "array", "items": level}}),
            &["bids", "asks"],
        ),
    );
    put(
        "Ticker",
        obj(
            json!({"instrument": s("string"), "bid": dec(""), "bid_qty": dec(""), "ask": dec(""), "ask_qty": dec(""), "last": dec(""), "phase": s("string")}),
            &["instrument"],
        ),
    );
    put(
        "Trade",
        obj(
            json!({"trade_id": s("integer"), "time": s("string"), "price": dec(""), "qty": dec(""), "aggressor": s("string")}),
            &["trade_id", "price", "qty"],
        ),
    );
    put(
        "Trades",
        obj(
            json!({"instrument": s("string"), "trades": {"type": "array", "items": {"$ref": "#/components/schemas/Trade"}}}),
            &["trades"],
        ),
    );
    put(
        "Bar",
        obj(
            json!({"interval": s("string"), "start": s("string"), "open": dec(""), "high": dec(""), "low": dec(""), "close": dec(""), "volume": dec(""), "trades": s("integer")}),
            &["start", "open", "high", "low", "close", "volume"],
        ),
    );
    put(
        "Bars",
        obj(
            json!({"instrument": s("string"), "interval": s("string"), "bars": {"type": "array", "items": {"$ref": "#/components/schemas/Bar"}}}),
            &["bars"],
        ),
    );
    put(
        "Stats",
        obj(
            json!({"instrument": s("string"), "open": dec(""), "high": dec(""), "low": dec(""), "close": dec(""), "settlement": dec("previous settlement price"), "volume": dec(""), "open_interest": dec(""), "lower_limit": dec(""), "upper_limit": dec(""), "vwap": dec("")}),
            &["instrument", "settlement", "lower_limit", "upper_limit"],
        ),
    );
    put(
        "Index",
        obj(
            json!({"index": s("string"), "name": s("string"), "unit": s("string"), "currency": s("string"), "latest": s("object")}),
            &["index"],
        ),
    );
    put(
        "Indexes",
        obj(
            json!({"indexes": {"type": "array", "items": {"$ref": "#/components/schemas/Index"}}}),
            &["indexes"],
        ),
    );
    put(
        "Fixings",
        obj(
            json!({"index": s("string"), "fixings": {"type": "array", "items": obj(json!({"date": s("string"), "value": dec("")}), &["date", "value"])}}),
            &["fixings"],
        ),
    );
    put(
        "FixingAudit",
        obj(
            json!({"index_id": s("string"), "date": s("string"), "value": dec(""), "status": s("string"), "values": {"type": "array", "items": {}}, "audit": s("object"), "recorded_by_exchange": dec("")}),
            &["index_id", "date", "audit"],
        ),
    );
    put(
        "Whoami",
        obj(
            json!({"key": s("string"), "role": s("string"), "account": s("integer")}),
            &["key", "role"],
        ),
    );
    put(
        "PlaceOrder",
        json!({"type": "object", "additionalProperties": false, "required": ["instrument", "side", "qty"], "properties": {
            "instrument": s("string"), "side": {"type": "string", "enum": ["buy", "sell"]},
            "type": {"type": "string", "enum": ["limit", "market", "stop_limit", "stop_market"], "default": "limit"},
            "price": dec("limit price, a multiple of the tick size"), "stop_price": dec("trigger price"), "qty": dec("whole contracts, > 0"),
            "time_in_force": {"type": "string", "enum": ["gfd", "gtc", "gtd", "ioc", "fok"], "description": "default gtc (ioc for market orders)"},
            "expire_at": {"type": "string", "format": "date-time", "description": "for gtd"}, "client_order_id": {"type": "string", "maxLength": 36},
            "min_qty": dec("ioc minimum fill"), "display_qty": dec("iceberg display size"), "post_only": s("boolean"),
            "stp": {"type": "string", "enum": ["cancel_resting", "cancel_aggressing", "cancel_both"]}
        }}),
    );
    put(
        "Amend",
        json!({"type": "object", "additionalProperties": false, "properties": {"price": dec("new limit price"), "qty": dec("new open quantity"), "stop_price": dec("new trigger price")}}),
    );
    put("Order", order);
    put(
        "Orders",
        obj(
            json!({"orders": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}}}),
            &["orders"],
        ),
    );
    put(
        "OrderResult",
        obj(
            json!({"seq": s("integer"), "order": {"$ref": "#/components/schemas/Order"}, "fills": {"type": "array", "items": {}}}),
            &["seq", "order", "fills"],
        ),
    );
    put(
        "AmendResult",
        obj(
            json!({"seq": s("integer"), "priority_kept": s("boolean"), "order": {"$ref": "#/components/schemas/Order"}}),
            &["seq", "order"],
        ),
    );
    put(
        "CancelResult",
        obj(
            json!({"seq": s("integer"), "order": {"$ref": "#/components/schemas/Order"}}),
            &["seq", "order"],
        ),
    );
    put(
        "MassCancelResult",
        obj(
            json!({"seq": s("integer"), "cancelled": s("integer"), "order_ids": {"type": "array", "items": s("string")}}),
            &["seq", "cancelled"],
        ),
    );
    put(
        "Fill",
        obj(
            json!({"trade_id": s("integer"), "time": s("string"), "instrument": s("string"), "order_id": s("string"), "side": s("string"), "price": dec(""), "qty": dec(""), "liquidity": {"type": "string", "enum": ["maker", "taker", "auction"]}, "fee": dec(""), "currency": s("string")}),
            &["trade_id", "price", "qty"],
        ),
    );
    put(
        "Fills",
        obj(
            json!({"fills": {"type": "array", "items": {"$ref": "#/components/schemas/Fill"}}}),
            &["fills"],
        ),
    );
    put(
        "Positions",
        obj(
            json!({"account": s("integer"), "positions": {"type": "array", "items": obj(json!({"instrument": s("string"), "net": dec(""), "avg_price": dec(""), "mark_price": dec(""), "unrealised_pnl": dec(""), "realised_pnl": dec("")}), &["instrument", "net"])}}),
            &["positions"],
        ),
    );
    put(
        "Balances",
        obj(
            json!({"account": s("integer"), "balances": {"type": "array", "items": obj(json!({"currency": s("string"), "cash": dec(""), "equity": dec(""), "initial_margin": dec(""), "maintenance_margin": dec(""), "available": dec("")}), &["currency", "cash", "equity"])}}),
            &["balances"],
        ),
    );
    put(
        "Margin",
        obj(
            json!({"account": s("integer"), "liquidating": s("boolean"), "margin": {"type": "array", "items": s("object")}}),
            &["margin"],
        ),
    );
    put(
        "CreateAccount",
        json!({"type": "object", "additionalProperties": false, "required": ["role"], "properties": {"account": s("integer"), "role": {"type": "string", "enum": ["trader", "market_maker", "operator", "insurance_fund"]}, "stp": {"type": "string", "enum": ["cancel_resting", "cancel_aggressing", "cancel_both"]}}}),
    );
    put(
        "CreateKey",
        json!({"type": "object", "additionalProperties": false, "properties": {"account": s("integer"), "role": {"type": "string", "enum": ["trader", "market_maker", "operator"]}, "label": s("string")}}),
    );
    put(
        "Cash",
        json!({"type": "object", "additionalProperties": false, "required": ["account", "currency", "amount"], "properties": {"account": s("integer"), "currency": {"type": "string", "enum": ["USD", "CNY"]}, "amount": dec("positive, at most 2 decimals")}}),
    );
    put(
        "ProductParams",
        json!({"type": "object", "additionalProperties": false, "minProperties": 1, "description": "Any of the changeable parameters, in the units of the product JSON; omitted ones stay as they are.", "properties": {
            "price_limit_pct": dec("daily price limit, % of the reference price, 0.01 to 100"),
            "initial_margin_pct": dec("initial margin, % of notional, 0.01 to 100"),
            "maintenance_margin_pct": dec("maintenance margin, % of notional, below the initial margin"),
            "order_qty_max": dec("largest order, whole contracts, 1 to 1000000"),
            "position_limit_all_months": dec("net position limit across all months, contracts"),
            "position_limit_spot_month": dec("net position limit in the expiring month, contracts, at most the all-months limit"),
            "fee_maker": dec("per contract, in the product's currency; negative is a rebate, at most the taker fee"),
            "fee_taker": dec("per contract, in the product's currency, not negative"),
            "velocity_ticks": {"type": "integer", "minimum": 0, "description": "circuit-breaker range in ticks; 0 turns it off"},
            "market_protection_ticks": {"type": "integer", "minimum": 1, "description": "a market order becomes a limit at best ± this many ticks"}
        }}),
    );
    put(
        "ProductParamsResult",
        obj(
            json!({"seq": s("integer"), "product": {"$ref": "#/components/schemas/Product"}, "instruments": {"type": "array", "items": obj(json!({"symbol": s("string"), "limit_pct_in_force": dec(""), "initial_margin_pct_in_force": dec(""), "maintenance_margin_pct_in_force": dec(""), "lower_limit": dec(""), "upper_limit": dec(""), "limit_locked": s("boolean"), "phase": s("string")}), &["symbol"])}}),
            &["seq", "product", "instruments"],
        ),
    );
    put(
        "Resume",
        json!({"type": "object", "additionalProperties": false, "properties": {"auction_secs": {"type": "integer", "default": 60, "maximum": 3600}}}),
    );
    m
}

/// The path parameters of a path template, in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let mut params: Vec<Value> = path_params(op.path).into_iter().map(|p| json!({"name": p, "in": "path", "required": true, "schema": s(if p == "account" { "integer" } else { "string" })})).collect();
        params.extend(op.query.iter().map(|(n, t, d)| json!({"name": n, "in": "query", "required": false, "description": d, "schema": s(t)})));
        let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let mut responses = json!({
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", op.response)}}}},
            "400": err, "404": err, "409": err, "429": err, "503": err,
        });
        if op.access != Access::Public {
            responses["401"] = err.clone();
            responses["403"] = err.clone();
        }
        let mut o = json!({"tags": [op.tag], "summary": op.summary, "operationId": format!("{}_{}", op.method, op.path.trim_start_matches('/').replace(['/', '{', '}', '-', '.'], "_")), "parameters": params, "responses": responses});
        match op.access {
            Access::Public => o["security"] = json!([]),
            Access::Signed => {
                o["security"] = json!([{"ApiKey": [], "Timestamp": [], "Signature": []}])
            }
            Access::Operator => {
                o["security"] = json!([{"ApiKey": [], "Timestamp": [], "Signature": []}]);
                o["description"] = json!("Operator keys only.");
            }
        }
        if let Some(b) = op.body {
            o["requestBody"] = json!({"required": b != "Resume", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
        }
        paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}))[op.method] = o;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Tokex API", "version": env!("CARGO_PKG_VERSION"), "description": "Cash-settled futures on the price of AI. Prices, quantities and money are decimal strings. Signed requests: X-TOKEX-KEY, X-TOKEX-TIMESTAMP (ms), X-TOKEX-SIGNATURE = hex HMAC-SHA256(SHA-256(secret), timestamp + METHOD + path?query + body). See docs/API.md."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-TOKEX-KEY"},
                "Timestamp": {"type": "apiKey", "in": "header", "name": "X-TOKEX-TIMESTAMP"},
                "Signature": {"type": "apiKey", "in": "header", "name": "X-TOKEX-SIGNATURE"}
            }
        }
    })
}
