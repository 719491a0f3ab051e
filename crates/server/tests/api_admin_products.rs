//! Changing a product's parameters while it trades, over real HTTP:
//! `PATCH /api/v1/admin/products/{root}` (operator keys only), seen by the product and
//! instrument views and by the next order; refused bodies change nothing; the change survives
//! a restart.

mod api_support;
use api_support::*;
use serde_json::{json, Value};
use tokex_types::decimal::Decimal;

const PATH: &str = "/api/v1/admin/products/TKF";

/// A price string of the TK* products (3 decimals) in ticks.
fn ticks(price: &str) -> i64 {
    Decimal::parse(price).unwrap().rescaled(3).unwrap() as i64
}

fn product<'a>(v: &'a Value, root: &str) -> &'a Value {
    v["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["root"] == root)
        .unwrap_or_else(|| panic!("no product {root} in {v}"))
}

fn admin_state(s: &Server) -> (u64, String) {
    let r = s.call(&s.operator, "GET", "/api/v1/admin/state", "");
    assert_eq!(r.status, 200, "{}", r.text);
    (
        r.body["seq"].as_u64().unwrap(),
        r.body["state_hash"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_higher_margin_refuses_an_order_that_fitted_and_a_narrower_limit_refuses_its_price() {
    let s = Server::start();
    let op = s.operator.clone();
    let (sym, reference, _lower, _upper) = s.tkf();
    // TKF: a tick is worth 1 USD a contract, so one contract's notional is `r` USD at a
    // reference of `r` ticks. With `r` USD of cash, 8 contracts need 0.96·r at 12% initial
    // margin (fits) and 1.2·r at 15% (does not); 6 need 0.9·r at 15% (fits).
    let r = ticks(&reference);
    let k = s.trader(1, "trader", &r.to_string());
    let buy = |qty: &str, price: &str| {
        s.call(
            &k,
            "POST",
            "/api/v1/orders",
            &json!({"instrument": sym, "side": "buy", "price": price, "qty": qty}).to_string(),
        )
    };
    let before = s.call(&op, "GET", "/api/v1/admin/products", "");
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(product(&before.body, "TKF")["initial_margin_pct"], "12");
    assert_eq!(
        product(&before.body, "TKF")["changed_by_operator"],
        json!([])
    );
    let tks_before = product(&before.body, "TKS").clone();

    let o = buy("8", &reference);
    assert_eq!(o.status, 200, "it fits at 12%: {}", o.text);
    let id = o.body["order"]["order_id"].as_str().unwrap().to_string();
    let c = s.call(&k, "DELETE", &format!("/api/v1/orders/{id}"), "");
    assert_eq!(c.status, 200, "{}", c.text);

    let p = s.call(
        &op,
        "PATCH",
        PATH,
        &json!({"initial_margin_pct": "15"}).to_string(),
    );
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(p.body["seq"].as_u64().is_some());
    assert_eq!(p.body["product"]["initial_margin_pct"], "15");
    assert_eq!(p.body["product"]["maintenance_margin_pct"], "9");
    assert_eq!(
        p.body["product"]["changed_by_operator"],
        json!(["initial_margin_pct", "maintenance_margin_pct"])
    );
    let live = p.body["instruments"].as_array().unwrap();
    assert!(!live.is_empty());
    for i in live {
        assert_eq!(i["product"], "TKF");
        assert_eq!(i["initial_margin_pct_in_force"], "15", "{i}");
    }

    // Every view shows it: the operator's, the public product, the instrument.
    let after = s.call(&op, "GET", "/api/v1/admin/products", "");
    assert_eq!(product(&after.body, "TKF")["initial_margin_pct"], "15");
    assert_eq!(product(&after.body, "TKS"), &tks_before, "TKS untouched");
    assert_eq!(
        s.get("/api/v1/products/TKF").body["initial_margin_pct"],
        "15"
    );
    assert_eq!(
        product(&s.get("/api/v1/products").body, "TKF")["initial_margin_pct"],
        "15"
    );
    s.eventually("the instrument view to follow", || {
        s.get(&format!("/api/v1/instruments/{sym}")).body["initial_margin_pct"] == "15"
    });

    let o = buy("8", &reference);
    assert_eq!(
        (o.status, o.code()),
        (409, "INSUFFICIENT_MARGIN"),
        "{}",
        o.text
    );
    let o = buy("6", &reference);
    assert_eq!(o.status, 200, "{}", o.text);

    // Limit 10% → 5%: 7% above the reference was inside, is now outside.
    let seven = add_ticks(&reference, r * 7 / 100);
    let p = s.call(
        &op,
        "PATCH",
        PATH,
        &json!({"price_limit_pct": "5"}).to_string(),
    );
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["product"]["price_limit_pct"], "5");
    let i = p.body["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["symbol"] == sym.as_str())
        .unwrap();
    assert_eq!(i["limit_pct_in_force"], "5");
    assert_eq!(
        i["upper_limit"],
        add_ticks(&reference, r * 5 / 100).as_str()
    );
    let o = buy("1", &seven);
    assert_eq!(
        (o.status, o.code()),
        (400, "PRICE_OUTSIDE_LIMITS"),
        "{}",
        o.text
    );
    s.eventually("the instrument's band to follow", || {
        s.get(&format!("/api/v1/instruments/{sym}")).body["upper_limit"]
            == add_ticks(&reference, r * 5 / 100).as_str()
    });
}

#[test]
fn only_operators_change_products_and_refused_bodies_change_nothing() {
    let s = Server::start();
    let op = s.operator.clone();
    let k = s.trader(1, "trader", "1000");
    let (seq0, hash0) = admin_state(&s);

    let r = s.call(
        &k,
        "PATCH",
        PATH,
        &json!({"initial_margin_pct": "15"}).to_string(),
    );
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"), "{}", r.text);
    assert_eq!(admin_state(&s), (seq0, hash0.clone()), "a trader's try");

    // Refused at the edge: nothing reaches the core, not even its sequence.
    let edge: &[(&str, &str, u16, &str)] = &[
        (PATH, "", 400, "MALFORMED_JSON"),
        (PATH, "{\"initial_margin_pct\": ", 400, "MALFORMED_JSON"),
        (PATH, r#"{"initial_margin": "15"}"#, 400, "INVALID_FIELD"),
        (PATH, r#"{"initial_margin_pct": 15}"#, 400, "INVALID_FIELD"),
        (PATH, r#"{"velocity_ticks": "10"}"#, 400, "INVALID_FIELD"),
        (
            PATH,
            r#"{"initial_margin_pct": "12.345"}"#,
            400,
            "INVALID_MARGIN",
        ),
        (
            PATH,
            r#"{"maintenance_margin_pct": "-1"}"#,
            400,
            "INVALID_MARGIN",
        ),
        (
            PATH,
            r#"{"price_limit_pct": "ten"}"#,
            400,
            "INVALID_PRICE_LIMIT",
        ),
        (
            PATH,
            r#"{"order_qty_max": "1.5"}"#,
            400,
            "INVALID_ORDER_QTY_MAX",
        ),
        (
            PATH,
            r#"{"position_limit_all_months": "-5"}"#,
            400,
            "INVALID_POSITION_LIMIT",
        ),
        (PATH, r#"{"fee_taker": "0.001"}"#, 400, "INVALID_FEE"),
        (
            "/api/v1/admin/products/NOPE",
            r#"{"initial_margin_pct": "15"}"#,
            404,
            "UNKNOWN_PRODUCT",
        ),
    ];
    for (path, body, status, code) in edge {
        let r = s.call(&op, "PATCH", path, body);
        assert_eq!((r.status, r.code()), (*status, *code), "{body}: {}", r.text);
        assert_eq!(admin_state(&s), (seq0, hash0.clone()), "{body}");
    }

    // Refused by the core: journaled (the sequence moves) but the state does not.
    let core: &[(&str, u16, &str)] = &[
        (r#"{"maintenance_margin_pct": "20"}"#, 400, "INVALID_MARGIN"),
        (r#"{"initial_margin_pct": "0"}"#, 400, "INVALID_MARGIN"),
        (r#"{"price_limit_pct": "0"}"#, 400, "INVALID_PRICE_LIMIT"),
        (r#"{"price_limit_pct": "99"}"#, 400, "INVALID_PRICE_LIMIT"),
        (r#"{"order_qty_max": "0"}"#, 400, "INVALID_ORDER_QTY_MAX"),
        (
            r#"{"position_limit_spot_month": "30000"}"#,
            400,
            "INVALID_POSITION_LIMIT",
        ),
        (r#"{"fee_taker": "-0.01"}"#, 400, "INVALID_FEE"),
        (r#"{"fee_maker": "-1"}"#, 400, "INVALID_FEE"),
        (
            r#"{"market_protection_ticks": 0}"#,
            400,
            "INVALID_PROTECTION",
        ),
        (r#"{"velocity_ticks": -1}"#, 400, "INVALID_PROTECTION"),
        // One bad value refuses the good ones with it.
        (
            r#"{"initial_margin_pct": "15", "fee_maker": "-1"}"#,
            400,
            "INVALID_FEE",
        ),
        ("{}", 409, "NOTHING_TO_CHANGE"),
    ];
    for (body, status, code) in core {
        let r = s.call(&op, "PATCH", PATH, body);
        assert_eq!((r.status, r.code()), (*status, *code), "{body}: {}", r.text);
        let (seq, hash) = admin_state(&s);
        assert!(seq > seq0, "{body}: a core reject is journaled");
        assert_eq!(hash, hash0, "{body}: the state changed");
    }
    let p = s.call(&op, "GET", "/api/v1/admin/products", "");
    let tkf = product(&p.body, "TKF");
    assert_eq!(tkf["initial_margin_pct"], "12");
    assert_eq!(tkf["changed_by_operator"], json!([]));

    // And a good one does change it.
    let r = s.call(
        &op,
        "PATCH",
        PATH,
        r#"{"fee_taker": "0.75", "velocity_ticks": 0}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["product"]["fee_taker"], "0.75");
    assert_eq!(r.body["product"]["velocity_ticks"], 0);
    assert_ne!(admin_state(&s).1, hash0);
}

#[test]
fn a_change_survives_a_restart() {
    use tokex_engine::{Command, ProductParamsChange};
    use tokex_server::config::ServerConfig;
    use tokex_server::Exchange;

    let dir = tempfile::tempdir().unwrap();
    let repo = |p: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(p)
    };
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        products: repo("config/products.toml"),
        indexes: repo("config/indexes"),
        model_prices: repo("data/model-prices/snapshot.json"),
        calendar: Some("24x7".into()),
        risk_sweep_secs: 1_000_000,
        ..ServerConfig::default()
    };
    let t0 = tokex_server::sequencer::wall_clock();
    let margins = |ex: &Exchange| {
        ex.handle
            .query_blocking(|e| {
                e.instruments()
                    .filter(|i| i.spec.product == "TKF" && !i.delisted)
                    .map(|i| (i.spec.initial_margin_bps, i.spec.maintenance_margin_bps))
                    .collect::<Vec<_>>()
            })
            .unwrap()
    };

    let ex = Exchange::start_with_clock(&config, Box::new(move || t0)).unwrap();
    let o = ex
        .handle
        .submit_blocking(Command::SetProductParams(Box::new(ProductParamsChange {
            initial_margin_bps: Some(1_800),
            maintenance_margin_bps: Some(1_300),
            ..ProductParamsChange::new("TKF")
        })))
        .unwrap();
    assert!(o.result.is_ok(), "{:?}", o.result);
    let before = margins(&ex);
    assert!(!before.is_empty() && before.iter().all(|m| *m == (1_800, 1_300)));
    let hash = ex.handle.query_blocking(|e| e.state_hash()).unwrap();
    ex.handle.shutdown();
    ex.thread.join().unwrap().unwrap();

    let ex = Exchange::start_with_clock(&config, Box::new(move || t0)).unwrap();
    assert_eq!(margins(&ex), before);
    let (kept, again) = ex
        .handle
        .query_blocking(|e| (e.product_override("TKF").cloned(), e.state_hash()))
        .unwrap();
    assert_eq!(kept.unwrap().initial_margin_bps, Some(1_800));
    assert_eq!(
        again, hash,
        "restored state equals the state before the restart"
    );
    ex.handle.shutdown();
    ex.thread.join().unwrap().unwrap();
}
