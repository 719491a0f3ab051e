//! Product definitions: the shipped file, defaults, listing, instrument specs, refused configs.

use chrono::{NaiveDate, TimeZone};
use tokex_types::calendar::Calendar;
use tokex_types::product::{ConfigError, FinalSettlement, ProductDef, ProductSet};
use tokex_types::{Currency, InstrumentId, Price, Qty, Timestamp, TradePriceRule};

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/products.toml");

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
    let dt = chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap();
    Timestamp(dt.timestamp_nanos_opt().unwrap() as u64)
}

fn shipped() -> ProductSet {
    ProductSet::load(SHIPPED).unwrap_or_else(|e| panic!("shipped products file refused: {e}"))
}

#[test]
fn shipped_file_loads_the_five_default_products() {
    let set = shipped();
    let roots: Vec<&str> = set.products().iter().map(|p| p.root()).collect();
    assert_eq!(
        roots,
        ["TKF", "TKS", "TKE", "TKC", "GPU"],
        "file order is kept"
    );
    // (root, underlying, currency, contract size, tick, tick value minor, reference ticks)
    let want = [
        ("TKF", "TPI-F", Currency::Usd, "1000", "0.001", 100, 8_000),
        ("TKS", "TPI-S", Currency::Usd, "1000", "0.001", 100, 2_000),
        ("TKE", "TPI-E", Currency::Usd, "10000", "0.0001", 100, 3_000),
        (
            "TKC",
            "TPI-CN",
            Currency::Cny,
            "10000",
            "0.001",
            1_000,
            5_000,
        ),
        (
            "GPU",
            "GCI-H100",
            Currency::Usd,
            "1000",
            "0.001",
            100,
            2_500,
        ),
    ];
    for (root, und, cur, size, tick, tv, reference) in want {
        let p = set.get(root).unwrap();
        assert_eq!(p.underlying(), und);
        assert_eq!(p.currency(), cur);
        assert_eq!(p.contract_size().to_string(), size);
        assert_eq!(p.tick_size().to_string(), tick);
        assert_eq!(p.tick_value_minor(), tv, "{root}");
        assert_eq!(p.initial_reference_price(), Price(reference), "{root}");
        assert_eq!(p.months_listed(), 12);
        assert_eq!(p.final_settlement(), FinalSettlement::MonthlyAverage);
        assert_eq!(
            (
                p.price_limit_bps(),
                p.limit_widen_bps(),
                p.limit_margin_extra_bps()
            ),
            (1_000, 300, 200)
        );
        assert_eq!(
            (p.initial_margin_bps(), p.maintenance_margin_bps()),
            (1_200, 900)
        );
        assert_eq!(p.calendar().name(), "shfe");
        assert_eq!(p.calendar().time_zone(), chrono_tz::Asia::Shanghai);
        assert!(p.velocity_ticks() > 0);
    }
    let tkf = set.get("TKF").unwrap();
    assert_eq!(tkf.quote_unit(), "USD per 1M tokens");
    assert_eq!((tkf.fee_maker_minor(), tkf.fee_taker_minor()), (20, 50));
    assert_eq!(set.get("TKC").unwrap().quote_unit(), "CNY per 1M tokens");
    assert_eq!(set.get("GPU").unwrap().quote_unit(), "USD per GPU-hour");
    assert!(set.calendar("shfe").is_some() && set.calendar("24x7").is_some());
}

#[test]
fn instrument_spec_for_a_contract_month() {
    let set = shipped();
    let tkf = set.get("TKF").unwrap();
    let s = tkf.instrument_spec(InstrumentId(7), 2026, 12).unwrap();
    assert_eq!(s.id, InstrumentId(7));
    assert_eq!(s.symbol, "TKF-2026-12");
    assert_eq!(s.product, "TKF");
    assert_eq!(s.underlying, "TPI-F");
    assert_eq!(s.currency, Currency::Usd);
    assert_eq!(s.tick_size, "0.001");
    assert_eq!(s.tick_value_minor, 100);
    assert_eq!((s.year, s.month), (2026, 12));
    assert_eq!(s.last_trading_day, date(2026, 12, 31));
    // Trading ends at 15:00 Asia/Shanghai = 07:00 UTC on the last trading day.
    assert_eq!(s.expires_at, sh(2026, 12, 31, 15, 0));
    assert_eq!(s.trade_price_rule, TradePriceRule::Resting);
    assert_eq!(
        (
            s.price_limit_bps,
            s.limit_widen_bps,
            s.limit_margin_extra_bps
        ),
        (1_000, 300, 200)
    );
    assert_eq!(s.order_qty_max, Qty(500));
    assert_eq!(s.market_protection_ticks, 40);
    assert_eq!(
        (s.cb_ticks, s.cb_window_ns, s.cb_auction_ns),
        (160, 10_000_000_000, 30_000_000_000)
    );
    assert_eq!(
        (s.initial_margin_bps, s.maintenance_margin_bps),
        (1_200, 900)
    );
    assert_eq!(
        (s.position_limit_all_months, s.position_limit_spot_month),
        (20_000, 5_000)
    );
    assert_eq!((s.fee_maker_minor, s.fee_taker_minor), (20, 50));
    assert_eq!(s.initial_reference_price, Price(8_000));
    // February 2026 ends on a Saturday.
    let feb = set
        .get("GPU")
        .unwrap()
        .instrument_spec(InstrumentId(0), 2026, 2)
        .unwrap();
    assert_eq!(feb.symbol, "GPU-2026-02");
    assert_eq!(feb.last_trading_day, date(2026, 2, 27));
    assert!(tkf.instrument_spec(InstrumentId(0), 2026, 13).is_err());
}

#[test]
fn listing_crosses_a_year_boundary() {
    let set = shipped();
    let tkf = set.get("TKF").unwrap();
    let months = tkf.listed_months(date(2026, 12, 15));
    assert_eq!(months.len(), 12);
    assert_eq!(months[0], (2026, 12));
    assert_eq!(months[1], (2027, 1));
    assert_eq!(months[11], (2027, 11));
    assert!(months
        .windows(2)
        .all(|w| tokex_types::product::next_month(w[0].0, w[0].1) == w[1]));
}

#[test]
fn listing_after_the_last_trading_day_starts_with_the_next_month() {
    let set = shipped();
    let tkf = set.get("TKF").unwrap();
    // January 2027's last trading day is Friday the 29th (the 31st is a Sunday).
    assert_eq!(tkf.last_trading_day(2027, 1), Some(date(2027, 1, 29)));
    assert_eq!(
        tkf.listed_months(date(2027, 1, 29))[0],
        (2027, 1),
        "the last trading day itself"
    );
    let after = tkf.listed_months(date(2027, 1, 30));
    assert_eq!(after[0], (2027, 2));
    assert_eq!(after[11], (2028, 1));
    // After 15:00 on the last trading day the trading day is already the next one.
    let cal = tkf.calendar();
    assert_eq!(
        tkf.listed_months(cal.trading_day_of(sh(2027, 1, 29, 14, 59)))[0],
        (2027, 1)
    );
    assert_eq!(
        tkf.listed_months(cal.trading_day_of(sh(2027, 1, 29, 15, 0)))[0],
        (2027, 2)
    );
    // December 31st 2026 is the last trading day of December; the next day lists Jan 2027 first.
    assert_eq!(tkf.listed_months(date(2027, 1, 1))[0], (2027, 1));
    assert_eq!(set.listings(date(2026, 12, 1)).len(), 5 * 12);
}

#[test]
fn settlement_days_are_the_business_days_of_the_month() {
    let set = shipped();
    let days = set.get("TKF").unwrap().settlement_days(2026, 2);
    assert_eq!(days.len(), 20);
    assert_eq!(days[0], date(2026, 2, 2));
    assert_eq!(*days.last().unwrap(), date(2026, 2, 27));
}

#[test]
fn prices_parse_and_format_exactly() {
    let set = shipped();
    let tke = set.get("TKE").unwrap();
    assert_eq!(tke.parse_price("0.3125").unwrap(), Price(3_125));
    assert!(tke.parse_price("0.31255").is_err());
    assert_eq!(
        tke.format_price(Price(3_000)),
        "0.3000",
        "with the tick's decimals"
    );
    assert_eq!(tke.format_price(Price(3_125)), "0.3125");
}

// ---------------------------------------------------------------------------------------------
// A minimal product, with fields replaced or removed, to probe each refusal.

const MINIMAL: &[(&str, &str)] = &[
    ("name", "\"Test product\""),
    ("underlying", "\"TPI-F\""),
    ("currency", "\"USD\""),
    ("contract_size", "\"1000\""),
    ("contract_unit", "\"1M tokens\""),
    ("tick_size", "\"0.001\""),
    ("initial_reference_price", "\"8.000\""),
];

/// A products file with one product `XYZ`: `MINIMAL` with `changes` applied (a `None` value
/// removes the key), preceded by `prelude`.
fn doc(prelude: &str, changes: &[(&str, Option<&str>)]) -> String {
    let mut fields: Vec<(String, String)> = MINIMAL
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in changes {
        fields.retain(|(f, _)| f != k);
        if let Some(v) = v {
            fields.push((k.to_string(), v.to_string()));
        }
    }
    let mut s = format!("{prelude}\n[products.XYZ]\n");
    for (k, v) in fields {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

fn refused(prelude: &str, changes: &[(&str, Option<&str>)]) -> ConfigError {
    match ProductSet::from_toml_str(&doc(prelude, changes)) {
        Ok(_) => panic!("accepted: {changes:?}\n{}", doc(prelude, changes)),
        Err(e) => e,
    }
}

/// Refused, naming `field`, with a message containing `words`.
fn check(changes: &[(&str, Option<&str>)], field: &str, words: &str) {
    let e = refused("", changes);
    assert_eq!(e.field(), field, "{e}");
    assert!(
        e.to_string().contains(words),
        "{e:?} should mention {words:?}"
    );
    assert!(
        e.to_string().starts_with(field),
        "the message names the field: {e}"
    );
}

#[test]
fn omitted_fields_take_the_documented_defaults() {
    let set = ProductSet::from_toml_str(&doc("", &[])).unwrap();
    let p = set.get("XYZ").unwrap();
    assert_eq!(p.months_listed(), 12);
    assert_eq!(p.final_settlement(), FinalSettlement::MonthlyAverage);
    assert_eq!(
        (
            p.price_limit_bps(),
            p.limit_widen_bps(),
            p.limit_margin_extra_bps()
        ),
        (1_000, 300, 200)
    );
    assert_eq!(
        (p.initial_margin_bps(), p.maintenance_margin_bps()),
        (1_200, 900)
    );
    assert_eq!(
        (p.position_limit_all_months(), p.position_limit_spot_month()),
        (20_000, 5_000)
    );
    assert_eq!(p.order_qty_max(), 1_000);
    assert_eq!((p.fee_maker_minor(), p.fee_taker_minor()), (0, 0));
    assert_eq!(p.calendar().name(), "shfe");
    assert_eq!(p.trade_price_rule(), TradePriceRule::Resting);
    assert_eq!(p.market_protection_ticks(), 50);
    assert_eq!(
        (
            p.velocity_ticks(),
            p.velocity_window_secs(),
            p.velocity_auction_secs()
        ),
        (0, 10, 30)
    );
    assert_eq!(p.quote_unit(), "USD per 1M tokens");
    assert_eq!(p.tick_value().to_string(), "1");
    assert_eq!(p.description(), "");
}

#[test]
fn bad_decimals_are_refused() {
    check(
        &[("tick_size", Some("\"0\""))],
        "products.XYZ.tick_size",
        "greater than zero",
    );
    check(
        &[("tick_size", Some("\"-0.001\""))],
        "products.XYZ.tick_size",
        "greater than zero",
    );
    check(
        &[("tick_size", Some("\"1e-3\""))],
        "products.XYZ.tick_size",
        "not a decimal",
    );
    check(
        &[("tick_size", Some("0.001"))],
        "products.XYZ.tick_size",
        "not exact",
    );
    check(
        &[("contract_size", Some("\"0\""))],
        "products.XYZ.contract_size",
        "greater than zero",
    );
    check(
        &[("initial_reference_price", Some("\"8.0005\""))],
        "products.XYZ.initial_reference_price",
        "ticks",
    );
    check(
        &[("initial_reference_price", Some("\"0\""))],
        "products.XYZ.initial_reference_price",
        "greater than zero",
    );
}

#[test]
fn tick_value_must_equal_contract_size_times_tick_size() {
    check(
        &[("tick_value", Some("\"2\""))],
        "products.XYZ.tick_value",
        "1000 × 0.001 = 1 USD",
    );
    // Accepted when it matches, in any spelling.
    assert!(ProductSet::from_toml_str(&doc("", &[("tick_value", Some("\"1.00\""))])).is_ok());
    assert!(ProductSet::from_toml_str(&doc("", &[("tick_value", Some("1"))])).is_ok());
    // 1 × 0.001 USD is a tenth of a cent: not representable in minor units.
    check(
        &[("contract_size", Some("\"1\""))],
        "products.XYZ.tick_size",
        "minor units",
    );
}

#[test]
fn bad_margins_limits_and_fees_are_refused() {
    check(
        &[("maintenance_margin_pct", Some("\"12\""))],
        "products.XYZ.maintenance_margin_pct",
        "less than",
    );
    check(
        &[("initial_margin_pct", Some("\"8\""))],
        "products.XYZ.maintenance_margin_pct",
        "less than",
    );
    check(
        &[("initial_margin_pct", Some("\"12.345\""))],
        "products.XYZ.initial_margin_pct",
        "two decimals",
    );
    check(
        &[("initial_margin_pct", Some("\"120\""))],
        "products.XYZ.initial_margin_pct",
        "out of range",
    );
    check(
        &[("price_limit_pct", Some("\"0\""))],
        "products.XYZ.price_limit_pct",
        "out of range",
    );
    check(
        &[("limit_widen_pct", Some("\"95\""))],
        "products.XYZ.limit_widen_pct",
        "at most 100%",
    );
    check(
        &[("position_limit_all_months", Some("0"))],
        "products.XYZ.position_limit_all_months",
        "greater than zero",
    );
    check(
        &[("position_limit_spot_month", Some("0"))],
        "products.XYZ.position_limit_spot_month",
        "greater than zero",
    );
    check(
        &[("position_limit_spot_month", Some("30000"))],
        "products.XYZ.position_limit_spot_month",
        "exceeds",
    );
    check(
        &[("position_limit_all_months", Some("-5"))],
        "products.XYZ.position_limit_all_months",
        "u64",
    );
    check(
        &[("order_qty_max", Some("0"))],
        "products.XYZ.order_qty_max",
        "out of range",
    );
    check(
        &[("order_qty_max", Some("2000000"))],
        "products.XYZ.order_qty_max",
        "out of range",
    );
    check(
        &[("fee_taker", Some("\"0.005\""))],
        "products.XYZ.fee_taker",
        "minor units",
    );
    check(
        &[("fee_taker", Some("\"-1\""))],
        "products.XYZ.fee_taker",
        "negative",
    );
    check(
        &[
            ("fee_maker", Some("\"-0.60\"")),
            ("fee_taker", Some("\"0.50\"")),
        ],
        "products.XYZ.fee_maker",
        "rebate",
    );
    check(
        &[("market_protection_ticks", Some("0"))],
        "products.XYZ.market_protection_ticks",
        "greater than zero",
    );
    check(
        &[("velocity_ticks", Some("-1"))],
        "products.XYZ.velocity_ticks",
        "negative",
    );
    check(
        &[("velocity_window_secs", Some("0"))],
        "products.XYZ.velocity_window_secs",
        "1 to 3600",
    );
    check(
        &[("months_listed", Some("0"))],
        "products.XYZ.months_listed",
        "out of range",
    );
    check(
        &[("months_listed", Some("40"))],
        "products.XYZ.months_listed",
        "out of range",
    );
}

#[test]
fn unknown_names_are_refused() {
    check(
        &[("currency", Some("\"EUR\""))],
        "products.XYZ.currency",
        "unknown currency `EUR`",
    );
    check(
        &[("calendar", Some("\"lme\""))],
        "products.XYZ.calendar",
        "unknown calendar `lme`",
    );
    check(
        &[("time_zone", Some("\"Mars/Olympus\""))],
        "products.XYZ.time_zone",
        "unknown time zone",
    );
    check(
        &[("trade_price_rule", Some("\"pro_rata\""))],
        "products.XYZ.trade_price_rule",
        "unknown rule",
    );
    check(
        &[("final_settlement", Some("\"last\""))],
        "products.XYZ.final_settlement",
        "unknown method",
    );
    check(
        &[("underlying", Some("\"TPI F\""))],
        "products.XYZ.underlying",
        "index id",
    );
    check(&[("root", Some("\"ABC\""))], "products.XYZ.root", "differs");
}

#[test]
fn shape_errors_name_the_table_and_key() {
    check(
        &[("tick_sise", Some("\"0.001\""))],
        "products.XYZ.tick_sise",
        "unknown field `tick_sise`",
    );
    check(
        &[("underlying", None)],
        "products.XYZ",
        "missing field `underlying`",
    );
    check(
        &[("months_listed", Some("\"twelve\""))],
        "products.XYZ.months_listed",
        "invalid type",
    );
    let e = ProductSet::from_toml_str("[products.tkf]\nname = 1\n").unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    let e = ProductSet::from_toml_str(&doc("", &[]).replace("[products.XYZ]", "[products.xyz]"))
        .unwrap_err();
    assert_eq!(e.field(), "products.xyz");
    let e = ProductSet::from_toml_str("[product.TKF]\n").unwrap_err();
    assert!(e.to_string().contains("unknown field `product`"), "{e}");
}

#[test]
fn the_shipped_file_with_a_typo_names_the_product_and_field() {
    let text = std::fs::read_to_string(SHIPPED).unwrap();
    let bad = text.replacen(
        "maintenance_margin_pct = \"9\"",
        "maintenance_margin_pct = \"13\"",
        3,
    );
    let e = ProductSet::from_toml_str(&bad).unwrap_err();
    assert_eq!(e.field(), "products.TKF.maintenance_margin_pct");
    let bad = text.replace(
        "order_qty_max = 500\nfee_maker = \"1.00\"",
        "order_qty_maxi = 500\nfee_maker = \"1.00\"",
    );
    let e = ProductSet::from_toml_str(&bad).unwrap_err();
    assert_eq!(e.field(), "products.TKC.order_qty_maxi", "{e}");
}

#[test]
fn missing_file_is_an_io_error() {
    let e = ProductSet::load("/nonexistent/products.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Custom calendars.

#[test]
fn custom_calendars_extend_the_builtin_and_drive_listing() {
    let prelude = r#"
[calendars.shfe_cn]
base = "shfe"
holidays = ["2026-12-31", 2026-12-30]

[calendars.day_only]
time_zone = "Asia/Shanghai"
weekend = ["Sat", "Sunday"]
sessions = [
  { name = "day", auction = "09:25", uncross = "09:29", open = "09:30", breaks = [["11:30", "13:00"]], close = "15:00" },
]
"#;
    let set =
        ProductSet::from_toml_str(&doc(prelude, &[("calendar", Some("\"shfe_cn\""))])).unwrap();
    let p = set.get("XYZ").unwrap();
    assert_eq!(p.calendar().name(), "shfe_cn");
    assert_eq!(p.last_trading_day(2026, 12), Some(date(2026, 12, 29)));
    let spec = p.instrument_spec(InstrumentId(1), 2026, 12).unwrap();
    assert_eq!(spec.expires_at, sh(2026, 12, 29, 15, 0));
    let day_only = set.calendar("day_only").unwrap();
    assert_eq!(
        day_only.trading_day_end(),
        15 * 3600,
        "defaults to the last close"
    );
    assert_eq!(day_only.sessions().len(), 1);
    assert_eq!(
        day_only.phase_at(sh(2026, 3, 4, 9, 29)),
        tokex_types::calendar::Phase::Uncross
    );

    // A product may read its calendar in another time zone.
    let set =
        ProductSet::from_toml_str(&doc("", &[("time_zone", Some("\"Europe/London\""))])).unwrap();
    assert_eq!(
        set.get("XYZ").unwrap().calendar().time_zone(),
        chrono_tz::Europe::London
    );
}

fn cal_check(prelude: &str, field: &str, words: &str) {
    let e = refused(prelude, &[]);
    assert_eq!(e.field(), field, "{e}");
    assert!(
        e.to_string().contains(words),
        "{e:?} should mention {words:?}"
    );
}

#[test]
fn bad_calendars_are_refused_with_the_field() {
    cal_check(
        "[calendars.c]\nbase = \"nyse\"\n",
        "calendars.c.base",
        "unknown calendar `nyse`",
    );
    cal_check(
        "[calendars.c]\nbase = \"shfe\"\ntime_zone = \"Asia/Shangai\"\n",
        "calendars.c.time_zone",
        "unknown time zone",
    );
    cal_check(
        "[calendars.c]\nbase = \"shfe\"\nholidays = [\"2026-02-30\"]\n",
        "calendars.c.holidays[0]",
        "not a date",
    );
    cal_check(
        "[calendars.c]\nbase = \"shfe\"\nholidays = [20260101]\n",
        "calendars.c.holidays[0]",
        "expected a date",
    );
    cal_check(
        "[calendars.c]\nbase = \"shfe\"\nweekend = [\"Caturday\"]\n",
        "calendars.c.weekend[0]",
        "not a weekday",
    );
    cal_check(
        "[calendars.c]\ntime_zone = \"UTC\"\n",
        "calendars.c.sessions",
        "missing",
    );
    cal_check(
        "[calendars.shfe]\nbase = \"24x7\"\n",
        "calendars.shfe",
        "built-in",
    );
    cal_check(
        "[calendars.c]\nsessions = [{ name = \"d\", open = \"25:00\", close = \"15:00\" }]\n",
        "calendars.c.sessions[0].open",
        "not a time of day",
    );
    cal_check(
        "[calendars.c]\nsessions = [{ name = \"d\", open = \"09:00\", close = \"15:00\", auction = \"08:55\" }]\n",
        "calendars.c.sessions[0].uncross",
        "required",
    );
    cal_check(
        "[calendars.c]\nsessions = [{ name = \"d\", open = \"09:00\", close = \"08:00\" }]\n",
        "calendars.c.sessions[0].close",
        "later than",
    );
    cal_check(
        "[calendars.c]\nsessions = [{ name = \"a\", open = \"09:00\", close = \"12:00\" }, { name = \"b\", open = \"11:00\", close = \"15:00\" }]\n",
        "calendars.c.sessions[1]",
        "overlaps",
    );
    cal_check(
        "[calendars.c]\ntrading_day_end = \"15:00\"\nsessions = [{ name = \"n\", night = true, open = \"14:00\", close = \"16:00\" }, { name = \"d\", open = \"09:00\", close = \"15:00\" }]\n",
        "calendars.c.sessions[0].open",
        "night session",
    );
    cal_check(
        "[calendars.c]\nsessions = [{ name = \"d\", open = \"09:00\", clos = \"15:00\" }]\n",
        "calendars.c.sessions",
        "unknown field `clos`",
    );
}

#[test]
fn a_single_product_document_loads() {
    let mut s = String::from("root = \"TKF\"\n");
    for (k, v) in MINIMAL {
        s.push_str(&format!("{k} = {v}\n"));
    }
    let p = ProductDef::from_toml_str(&s).unwrap();
    assert_eq!(p.root(), "TKF");
    assert_eq!(p.symbol(2027, 3), "TKF-2027-03");
    let e = ProductDef::from_toml_str(&s.replace("root = \"TKF\"\n", "")).unwrap_err();
    assert_eq!(e.field(), "product.root");
    let e = ProductDef::from_toml_str(&s.replace("\"0.001\"", "\"0\"")).unwrap_err();
    assert_eq!(e.field(), "TKF.tick_size");
}

#[test]
fn builtin_calendars_are_known_by_name() {
    assert_eq!(Calendar::builtin("shfe").unwrap().name(), "shfe");
    assert_eq!(
        Calendar::builtin("24x7").unwrap().time_zone(),
        chrono_tz::UTC
    );
    assert!(Calendar::builtin("lme").is_none());
}

#[test]
fn messages_read_well() {
    let text = std::fs::read_to_string(SHIPPED).unwrap();
    let bad = text.replacen(
        "maintenance_margin_pct = \"9\"",
        "maintenance_margin_pct = \"13\"",
        1,
    );
    let e = ProductSet::from_toml_str(&bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "products.TKF.maintenance_margin_pct: must be less than initial_margin_pct (13% is not less than 12%)"
    );
    let e = refused("", &[("initial_margin_pct", Some("\"120\""))]);
    assert_eq!(
        e.to_string(),
        "products.XYZ.initial_margin_pct: \"120\" is out of range: must be 0.01% to 100%"
    );
    let e = refused("", &[("tick_value", Some("\"2\""))]);
    assert_eq!(
        e.to_string(),
        "products.XYZ.tick_value: \"2\" does not equal contract_size × tick_size = 1000 × 0.001 = 1 USD"
    );
    let e = refused("", &[("underlying", None)]);
    println!("{e}");
    assert!(
        e.to_string()
            .starts_with("products.XYZ: missing field `underlying` (line "),
        "{e}"
    );
}
