//! The REST API over real HTTP on loopback: bad input (one row per case, each leaving the
//! core's state hash unchanged), a trading round trip, operator endpoints and roles, rate
//! limits, index fixings with their audit records.

mod api_support;
use api_support::*;
use serde_json::{json, Value};

struct Ctx {
    s: Server,
    /// Account 1's key, and account 2's.
    k1: (String, String),
    k2: (String, String),
    sym: String,
    reference: String,
    upper: String,
    /// An order of account 2, working.
    other_order: String,
}

fn setup() -> Ctx {
    let s = Server::start();
    let k1 = s.trader(1, "trader", "1000000");
    let k2 = s.trader(2, "trader", "1000000");
    let (sym, reference, _lower, upper) = s.tkf();
    let r = s.call(&k2, "POST", "/api/v1/orders", &json!({"instrument": sym, "side": "sell", "price": add_ticks(&reference, 50), "qty": "2", "client_order_id": "other-1"}).to_string());
    assert_eq!(r.status, 200, "{}", r.text);
    let other_order = r.body["order"]["order_id"].as_str().unwrap().to_string();
    Ctx {
        s,
        k1,
        k2,
        sym,
        reference,
        upper,
        other_order,
    }
}

type Row = (&'static str, u16, &'static str, Box<dyn Fn(&Ctx) -> Req>);

fn order(c: &Ctx, body: Value) -> Req {
    c.s.signed(&c.k1, "POST", "/api/v1/orders", &body.to_string())
}

fn rows() -> Vec<Row> {
    vec![
        (
            "malformed JSON",
            400,
            "MALFORMED_JSON",
            Box::new(|c| {
                c.s.signed(&c.k1, "POST", "/api/v1/orders", "{\"instrument\": \"TKF")
            }),
        ),
        (
            "empty body",
            400,
            "MALFORMED_JSON",
            Box::new(|c| c.s.signed(&c.k1, "POST", "/api/v1/orders", "")),
        ),
        (
            "wrong type: qty as a number",
            400,
            "INVALID_FIELD",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": 5}),
                )
            }),
        ),
        (
            "wrong type: price as a number",
            400,
            "INVALID_FIELD",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": 7.5, "qty": "1"}),
                )
            }),
        ),
        (
            "wrong value: side",
            400,
            "INVALID_FIELD",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "hold", "price": c.reference, "qty": "1"}),
                )
            }),
        ),
        (
            "unknown field",
            400,
            "INVALID_FIELD",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1", "leverage": "100"}),
                )
            }),
        ),
        (
            "missing field: qty",
            400,
            "MISSING_FIELD",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference}),
                )
            }),
        ),
        (
            "missing field: price of a limit order",
            400,
            "MISSING_FIELD",
            Box::new(|c| order(c, json!({"instrument": c.sym, "side": "buy", "qty": "1"}))),
        ),
        (
            "missing field: expire_at of a GTD order",
            400,
            "MISSING_FIELD",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1", "time_in_force": "gtd"}),
                )
            }),
        ),
        (
            "negative quantity",
            400,
            "INVALID_QUANTITY",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "-1"}),
                )
            }),
        ),
        (
            "zero quantity",
            400,
            "INVALID_QUANTITY",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "0"}),
                )
            }),
        ),
        (
            "fractional quantity",
            400,
            "INVALID_QUANTITY",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1.5"}),
                )
            }),
        ),
        (
            "quantity above the product's maximum",
            400,
            "ORDER_TOO_LARGE",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "501"}),
                )
            }),
        ),
        (
            "off-tick price",
            400,
            "INVALID_PRICE",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": format!("{}5", c.reference), "qty": "1"}),
                )
            }),
        ),
        (
            "negative price",
            400,
            "INVALID_PRICE",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": "-7.000", "qty": "1"}),
                )
            }),
        ),
        (
            "price outside the daily limits",
            400,
            "PRICE_OUTSIDE_LIMITS",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": add_ticks(&c.upper, 1), "qty": "1"}),
                )
            }),
        ),
        (
            "unknown instrument",
            404,
            "UNKNOWN_INSTRUMENT",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": "TKF-1999-01", "side": "buy", "price": c.reference, "qty": "1"}),
                )
            }),
        ),
        (
            "client order id too long",
            400,
            "INVALID_FIELD",
            Box::new(|c| {
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1", "client_order_id": "x".repeat(37)}),
                )
            }),
        ),
        (
            "duplicate client order id",
            409,
            "DUPLICATE_CLIENT_ORDER_ID",
            Box::new(|c| {
                let first = order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": add_ticks(&c.reference, -40), "qty": "1", "client_order_id": "dup-1"}),
                );
                assert_eq!(c.s.send(&first).status, 200);
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": add_ticks(&c.reference, -41), "qty": "1", "client_order_id": "dup-1"}),
                )
            }),
        ),
        (
            "bad signature",
            401,
            "INVALID_SIGNATURE",
            Box::new(|c| {
                let mut r = order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1"}),
                );
                let sig = &mut r.headers[2].1;
                let flipped = if sig.starts_with('0') { "1" } else { "0" };
                sig.replace_range(0..1, flipped);
                r
            }),
        ),
        (
            "body changed after signing",
            401,
            "INVALID_SIGNATURE",
            Box::new(|c| {
                let mut r = order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1"}),
                );
                r.body =
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "9"})
                        .to_string()
                        .into_bytes();
                r
            }),
        ),
        (
            "signed with another key's secret",
            401,
            "INVALID_SIGNATURE",
            Box::new(|c| {
                let forged = (c.k1.0.clone(), c.k2.1.clone());
                c.s.signed(&forged, "GET", "/api/v1/balances", "")
            }),
        ),
        (
            "expired timestamp",
            401,
            "TIMESTAMP_OUTSIDE_WINDOW",
            Box::new(|c| {
                let ts = tokex_server::api::auth::now_ms() - 60_000;
                let path = "/api/v1/orders";
                let body =
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1"})
                        .to_string();
                let sig = tokex_server::api::auth::sign_with_secret(
                    &c.k1.1,
                    ts,
                    "POST",
                    path,
                    body.as_bytes(),
                );
                Req {
                    method: "POST".into(),
                    path: path.into(),
                    body: body.into_bytes(),
                    headers: vec![
                        ("X-TOKEX-KEY".into(), c.k1.0.clone()),
                        ("X-TOKEX-TIMESTAMP".into(), ts.to_string()),
                        ("X-TOKEX-SIGNATURE".into(), sig),
                    ],
                }
            }),
        ),
        (
            "replayed request",
            401,
            "REPLAYED_REQUEST",
            Box::new(|c| {
                let r = order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": add_ticks(&c.reference, -30), "qty": "1"}),
                );
                assert_eq!(c.s.send(&r).status, 200, "the first sending is accepted");
                r
            }),
        ),
        (
            "no signature headers",
            401,
            "UNAUTHENTICATED",
            Box::new(|c| Req {
                method: "POST".into(),
                path: "/api/v1/orders".into(),
                body: json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1"})
                    .to_string()
                    .into_bytes(),
                headers: vec![],
            }),
        ),
        (
            "unknown API key",
            401,
            "INVALID_API_KEY",
            Box::new(|c| {
                c.s.signed(
                    &("tkx_0000000000000000".into(), "00".into()),
                    "GET",
                    "/api/v1/balances",
                    "",
                )
            }),
        ),
        (
            "another account's order: cancel",
            403,
            "NOT_YOUR_ORDER",
            Box::new(|c| {
                c.s.signed(
                    &c.k1,
                    "DELETE",
                    &format!("/api/v1/orders/{}", c.other_order),
                    "",
                )
            }),
        ),
        (
            "another account's order: amend",
            403,
            "NOT_YOUR_ORDER",
            Box::new(|c| {
                c.s.signed(
                    &c.k1,
                    "PATCH",
                    &format!("/api/v1/orders/{}", c.other_order),
                    "{\"qty\": \"1\"}",
                )
            }),
        ),
        (
            "another account's order: read",
            404,
            "UNKNOWN_ORDER",
            Box::new(|c| {
                c.s.signed(
                    &c.k1,
                    "GET",
                    &format!("/api/v1/orders/{}", c.other_order),
                    "",
                )
            }),
        ),
        (
            "another account's client order id",
            404,
            "UNKNOWN_ORDER",
            Box::new(|c| {
                c.s.signed(&c.k1, "DELETE", "/api/v1/orders/by-client-id/other-1", "")
            }),
        ),
        (
            "another account in a mass cancel",
            403,
            "FORBIDDEN",
            Box::new(|c| c.s.signed(&c.k1, "DELETE", "/api/v1/orders?account=2", "")),
        ),
        (
            "order id not a number",
            400,
            "INVALID_QUERY",
            Box::new(|c| c.s.signed(&c.k1, "DELETE", "/api/v1/orders/abc", "")),
        ),
        (
            "bad query parameter",
            400,
            "INVALID_QUERY",
            Box::new(|c| c.s.signed(&c.k1, "GET", "/api/v1/orders?limit=lots", "")),
        ),
        (
            "oversized body",
            413,
            "BODY_TOO_LARGE",
            Box::new(|c| {
                let pad = "x".repeat(100 * 1024);
                order(
                    c,
                    json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "1", "client_order_id": pad}),
                )
            }),
        ),
        (
            "trader key on an operator endpoint",
            403,
            "FORBIDDEN",
            Box::new(|c| {
                c.s.signed(
                    &c.k1,
                    "POST",
                    "/api/v1/admin/deposits",
                    &json!({"account": 1, "currency": "USD", "amount": "1000000"}).to_string(),
                )
            }),
        ),
        (
            "withdrawal beyond the cash",
            409,
            "INSUFFICIENT_FUNDS",
            Box::new(|c| {
                c.s.signed(
                    &c.s.operator,
                    "POST",
                    "/api/v1/admin/withdrawals",
                    &json!({"account": 1, "currency": "USD", "amount": "2000000"}).to_string(),
                )
            }),
        ),
        (
            "negative deposit",
            400,
            "INVALID_AMOUNT",
            Box::new(|c| {
                c.s.signed(
                    &c.s.operator,
                    "POST",
                    "/api/v1/admin/deposits",
                    &json!({"account": 1, "currency": "USD", "amount": "-5"}).to_string(),
                )
            }),
        ),
        (
            "deposit to no account",
            404,
            "UNKNOWN_ACCOUNT",
            Box::new(|c| {
                c.s.signed(
                    &c.s.operator,
                    "POST",
                    "/api/v1/admin/deposits",
                    &json!({"account": 777, "currency": "USD", "amount": "5"}).to_string(),
                )
            }),
        ),
        (
            "account created twice",
            409,
            "ACCOUNT_EXISTS",
            Box::new(|c| {
                c.s.signed(
                    &c.s.operator,
                    "POST",
                    "/api/v1/admin/accounts",
                    &json!({"account": 1, "role": "trader"}).to_string(),
                )
            }),
        ),
        (
            "resume an instrument not halted",
            409,
            "NOT_HALTED",
            Box::new(|c| {
                c.s.signed(
                    &c.s.operator,
                    "POST",
                    &format!("/api/v1/admin/instruments/{}/resume", c.sym),
                    "",
                )
            }),
        ),
        (
            "unknown route",
            404,
            "NOT_FOUND",
            Box::new(|c| c.s.signed(&c.k1, "GET", "/api/v1/nothing-here", "")),
        ),
        (
            "wrong method",
            405,
            "METHOD_NOT_ALLOWED",
            Box::new(|c| c.s.signed(&c.k1, "PUT", "/api/v1/time", "")),
        ),
        (
            "margin beyond the equity",
            409,
            "INSUFFICIENT_MARGIN",
            Box::new(|c| {
                let poor = c.s.trader(9, "trader", "10");
                c.s.signed(&poor, "POST", "/api/v1/orders", &json!({"instrument": c.sym, "side": "buy", "price": c.reference, "qty": "100"}).to_string())
            }),
        ),
    ]
}

#[test]
fn bad_input_is_refused_with_its_code_and_changes_nothing() {
    let c = setup();
    let mut failures = Vec::new();
    for (name, status, code, make) in rows() {
        let req = make(&c);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let before = c.s.state_hash();
        let r = c.s.send(&req);
        let after = c.s.state_hash();
        if r.status != status
            || r.code() != code
            || before != after
            || r.body["message"].as_str().is_none_or(|m| m.is_empty())
        {
            failures.push(format!(
                "{name}: got {} {} (state {}): {}",
                r.status,
                r.code(),
                if before == after {
                    "unchanged"
                } else {
                    "CHANGED"
                },
                r.text
            ));
        }
    }
    // The server is still up and answering.
    assert_eq!(c.s.get("/api/v1/time").status, 200);
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn trading_round_trip() {
    let c = setup();
    let (s, sym) = (&c.s, c.sym.clone());
    let bid = add_ticks(&c.reference, -10);
    // A resting buy by account 1, queried by exchange id and by client order id.
    let r = s.call(&c.k1, "POST", "/api/v1/orders", &json!({"instrument": sym, "side": "buy", "price": bid, "qty": "5", "client_order_id": "rt-1"}).to_string());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["order"]["status"], "working");
    assert_eq!(r.body["order"]["price"], bid);
    let id = r.body["order"]["order_id"].as_str().unwrap().to_string();
    let r = s.call(&c.k1, "GET", &format!("/api/v1/orders/{id}"), "");
    assert_eq!(
        (r.status, r.body["client_order_id"].as_str()),
        (200, Some("rt-1")),
        "{}",
        r.text
    );
    let r = s.call(&c.k1, "GET", "/api/v1/orders/by-client-id/rt-1", "");
    assert_eq!(r.body["order_id"].as_str(), Some(id.as_str()), "{}", r.text);
    let r = s.call(&c.k1, "GET", "/api/v1/orders", "");
    assert_eq!(r.body["orders"].as_array().unwrap().len(), 1, "{}", r.text);

    // Amend down keeps priority; the book shows it.
    let r = s.call(
        &c.k1,
        "PATCH",
        &format!("/api/v1/orders/{id}"),
        "{\"qty\": \"4\"}",
    );
    assert_eq!(
        (r.status, r.body["priority_kept"].as_bool()),
        (200, Some(true)),
        "{}",
        r.text
    );
    assert_eq!(r.body["order"]["leaves"], "4");
    s.eventually("the book to show the bid", || {
        s.get(&format!("/api/v1/instruments/{sym}/book")).body["bids"][0] == json!([bid, "4", 1])
    });

    // Account 2 sells into it: a trade at the resting price.
    let r = s.call(&c.k2, "POST", "/api/v1/orders", &json!({"instrument": sym, "side": "sell", "type": "limit", "price": add_ticks(&c.reference, -20), "qty": "3", "time_in_force": "ioc"}).to_string());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["order"]["status"], "filled", "{}", r.text);
    assert_eq!(r.body["fills"][0]["price"], bid);
    assert_eq!(r.body["fills"][0]["liquidity"], "taker");

    let r = s.call(&c.k1, "GET", "/api/v1/fills", "");
    assert_eq!(r.status, 200, "{}", r.text);
    let f = &r.body["fills"][0];
    assert_eq!(
        (
            f["side"].as_str(),
            f["qty"].as_str(),
            f["price"].as_str(),
            f["liquidity"].as_str(),
            f["fee"].as_str()
        ),
        (
            Some("buy"),
            Some("3"),
            Some(bid.as_str()),
            Some("maker"),
            Some("0.60")
        ),
        "{}",
        r.text
    );
    let r = s.call(&c.k1, "GET", "/api/v1/positions", "");
    let p = &r.body["positions"][0];
    assert_eq!(
        (
            p["instrument"].as_str(),
            p["net"].as_str(),
            p["avg_price"].as_str()
        ),
        (Some(sym.as_str()), Some("3"), Some(bid.as_str())),
        "{}",
        r.text
    );
    let r = s.call(&c.k1, "GET", "/api/v1/balances", "");
    let b = &r.body["balances"][0];
    assert_eq!(
        (b["currency"].as_str(), b["cash"].as_str()),
        (Some("USD"), Some("999999.40")),
        "maker fee 0.20 x 3: {}",
        r.text
    );
    let r = s.call(&c.k1, "GET", "/api/v1/margin", "");
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["margin"][0]["maintenance_margin"].as_str().is_some());

    // Public market data caught up.
    s.eventually("trades and stats", || {
        let st = s.get(&format!("/api/v1/instruments/{sym}/stats")).body;
        st["volume"] == "3" && st["open_interest"] == "3" && st["close"] == json!(bid)
    });
    let t = s
        .get(&format!("/api/v1/instruments/{sym}/trades?limit=5"))
        .body;
    assert_eq!(
        (
            t["trades"][0]["price"].as_str(),
            t["trades"][0]["qty"].as_str(),
            t["trades"][0]["aggressor"].as_str()
        ),
        (Some(bid.as_str()), Some("3"), Some("sell"))
    );
    for iv in ["1m", "5m", "1h", "1d"] {
        let b = s
            .get(&format!("/api/v1/instruments/{sym}/bars?interval={iv}"))
            .body;
        let last = &b["bars"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["close"].as_str(), last["volume"].as_str()),
            (Some(bid.as_str()), Some("3")),
            "{iv}: {b}"
        );
    }
    let tk = s.get(&format!("/api/v1/instruments/{sym}/ticker")).body;
    assert_eq!(tk["last"], json!(bid));
    assert_eq!(
        s.get(&format!("/api/v1/instruments/{sym}/bars?interval=2m"))
            .body["code"],
        "INVALID_QUERY"
    );

    // Cancel by client order id; the order is then history.
    let r = s.call(&c.k1, "DELETE", "/api/v1/orders/by-client-id/rt-1", "");
    assert_eq!(
        (r.status, r.body["order"]["status"].as_str()),
        (200, Some("cancelled")),
        "{}",
        r.text
    );
    let r = s.call(&c.k1, "GET", &format!("/api/v1/orders/{id}"), "");
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["filled"].as_str(),
            r.body["cancel_reason"].as_str()
        ),
        (Some("cancelled"), Some("3"), Some("requested")),
        "{}",
        r.text
    );
    let r = s.call(&c.k1, "GET", "/api/v1/orders?status=all", "");
    assert!(
        r.body["orders"].as_array().unwrap().len() == 1,
        "{}",
        r.text
    );

    // Mass cancel by side.
    for i in 0..3 {
        let r = s.call(&c.k1, "POST", "/api/v1/orders", &json!({"instrument": sym, "side": "buy", "price": add_ticks(&c.reference, -50 - i), "qty": "1"}).to_string());
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = s.call(&c.k1, "DELETE", "/api/v1/orders?side=buy", "");
    assert_eq!(
        (r.status, r.body["cancelled"].as_u64()),
        (200, Some(3)),
        "{}",
        r.text
    );
    let r = s.call(&c.k1, "GET", "/api/v1/orders", "");
    assert!(
        r.body["orders"].as_array().unwrap().is_empty(),
        "{}",
        r.text
    );
    // Account 2's order is untouched.
    let r = s.call(
        &c.k2,
        "GET",
        &format!("/api/v1/orders/{}", c.other_order),
        "",
    );
    assert_eq!(r.body["status"], "working", "{}", r.text);

    // Metrics.
    let m = s.get("/metrics").text;
    assert!(
        m.contains("tokex_commands_total ")
            && m.contains("tokex_rejects_by_code_total")
            && m.contains("tokex_book_levels{instrument="),
        "{m}"
    );
}

#[test]
fn operator_endpoints_and_roles() {
    let s = Server::start();
    let op = s.operator.clone();
    let (sym, reference, _, _) = s.tkf();
    // A market maker: account and key.
    let r = s.call(
        &op,
        "POST",
        "/api/v1/admin/accounts",
        &json!({"role": "market_maker"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let acct = r.body["account"].as_u64().unwrap();
    let r = s.call(
        &op,
        "POST",
        "/api/v1/admin/keys",
        &json!({"account": acct, "label": "mm desk"}).to_string(),
    );
    assert_eq!(
        (r.status, r.body["role"].as_str()),
        (200, Some("market_maker")),
        "{}",
        r.text
    );
    let mm = (
        r.body["key"].as_str().unwrap().to_string(),
        r.body["secret"].as_str().unwrap().to_string(),
    );
    let who = s.call(&mm, "GET", "/api/v1/account", "");
    assert_eq!(
        (who.body["account"].as_u64(), who.body["role"].as_str()),
        (Some(acct), Some("market_maker"))
    );
    // The key file keeps no secret.
    let file = std::fs::read_to_string(s.config.data_dir.join("api_keys.json")).unwrap();
    assert!(
        !file.contains(&mm.1) && !file.contains(&s.operator.1),
        "secrets must not be stored"
    );
    let r = s.call(&op, "GET", "/api/v1/admin/keys", "");
    assert!(!r.text.contains("secret"), "{}", r.text);
    // Operator keys do not trade.
    let r = s.call(
        &op,
        "POST",
        "/api/v1/orders",
        &json!({"instrument": sym, "side": "buy", "price": reference, "qty": "1"}).to_string(),
    );
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"));
    // Deposit, halt, resume.
    let r = s.call(
        &op,
        "POST",
        "/api/v1/admin/deposits",
        &json!({"account": acct, "currency": "USD", "amount": "250000.50"}).to_string(),
    );
    assert_eq!(
        (r.status, r.body["balance"].as_str()),
        (200, Some("250000.50")),
        "{}",
        r.text
    );
    let r = s.call(
        &op,
        "POST",
        &format!("/api/v1/admin/instruments/{sym}/halt"),
        "",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.call(
        &mm,
        "POST",
        "/api/v1/orders",
        &json!({"instrument": sym, "side": "buy", "price": reference, "qty": "1"}).to_string(),
    );
    assert_eq!((r.status, r.code()), (409, "MARKET_CLOSED"), "{}", r.text);
    s.eventually("the halt in the statistics", || {
        s.get(&format!("/api/v1/instruments/{sym}/stats")).body["phase"] == "halted"
    });
    let r = s.call(
        &op,
        "POST",
        &format!("/api/v1/admin/instruments/{sym}/resume"),
        "{\"auction_secs\": 30}",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.call(&op, "GET", &format!("/api/v1/admin/accounts/{acct}"), "");
    assert_eq!(r.body["balances"][0]["cash"], "250000.50", "{}", r.text);
    assert!(
        s.call(&op, "GET", "/api/v1/admin/accounts", "").body["accounts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(s.call(&op, "GET", "/api/v1/admin/products", "").status, 200);
    // Revoked keys stop working at once.
    let r = s.call(&op, "DELETE", &format!("/api/v1/admin/keys/{}", mm.0), "");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        s.call(&mm, "GET", "/api/v1/account", "").code(),
        "INVALID_API_KEY"
    );
    // A key made offline (as `tokex keys create --operator` does) works without a restart.
    let (k, sec) = tokex_server::api::create_operator_key(&s.config).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(
        s.call(&(k, sec), "GET", "/api/v1/account", "").body["role"],
        "operator"
    );
}

#[test]
fn rate_limit_answers_429() {
    let s = Server::start();
    let k = s.trader(1, "trader", "1000");
    let mut limited = 0;
    let mut ok = 0;
    for i in 0..300 {
        let r = s.send(&s.signed(&k, "GET", &format!("/api/v1/account?n={i}"), ""));
        match r.status {
            200 => ok += 1,
            429 => {
                assert_eq!(r.code(), "RATE_LIMITED");
                limited += 1;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert!(ok >= 100 && limited > 0, "ok {ok}, limited {limited}");
    // Other keys are not affected.
    assert_eq!(
        s.call(&s.operator.clone(), "GET", "/api/v1/account", "")
            .status,
        200
    );
}

#[test]
fn products_indexes_and_fixing_audit() {
    let s = Server::start();
    let p = s.get("/api/v1/products").body;
    assert!(p["products"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["root"] == "TKF" && x["tick_size"] == "0.001"));
    assert_eq!(s.get("/api/v1/products/TKF").body["currency"], "USD");
    assert_eq!(
        s.get("/api/v1/products/NOPE").body["code"],
        "UNKNOWN_PRODUCT"
    );
    let (sym, ..) = s.tkf();
    assert_eq!(
        s.get(&format!("/api/v1/instruments/{sym}")).body["symbol"],
        sym
    );
    assert_eq!(
        s.get("/api/v1/instruments/NOPE-2026-01").body["code"],
        "UNKNOWN_INSTRUMENT"
    );
    let ix = s.get("/api/v1/indexes").body;
    assert!(
        ix["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["index"] == "TPI-F"),
        "{ix}"
    );
    let f = s.get("/api/v1/indexes/TPI-F/fixings?limit=3").body;
    let list = f["fixings"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{f}");
    let last = list.last().unwrap();
    let date = last["date"].as_str().unwrap();
    let a = s.get(&format!("/api/v1/indexes/TPI-F/fixings/{date}"));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["index_id"], "TPI-F");
    assert!(a.body["audit"]["definition_sha256"]
        .as_str()
        .is_some_and(|h| h.len() == 64));
    assert_eq!(a.body["recorded_by_exchange"], last["value"]);
    let recomputed = a.body["value"].as_str().map(|v| {
        tokex_types::decimal::Decimal::parse(v)
            .unwrap()
            .normalized()
            .to_string()
    });
    assert_eq!(
        recomputed.as_deref(),
        last["value"].as_str(),
        "the audit record recomputes the recorded value: {}",
        a.text
    );
    assert_eq!(
        s.get("/api/v1/indexes/TPI-F/fixings/1990-01-01").body["code"],
        "UNKNOWN_INDEX"
    );
    assert_eq!(
        s.get("/api/v1/indexes/TPI-F/fixings/yesterday").body["code"],
        "INVALID_QUERY"
    );
}
