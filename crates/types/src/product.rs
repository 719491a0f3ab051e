//! Product definitions loaded from TOML, automatic monthly listing, and the derivation of an
//! [`InstrumentSpec`] for each listed contract month.
//!
//! A products file holds optional custom calendars and any number of products:
//!
//! ```toml
//! [calendars.shfe_2026]          # optional; built in: "shfe", "24x7"
//! base = "shfe"
//! holidays = ["2026-10-01", "2026-10-02"]
//!
//! [products.TKF]
//! name = "Frontier AI token futures"
//! underlying = "TPI-F"
//! currency = "USD"
//! contract_size = "1000"
//! contract_unit = "1M tokens"
//! tick_size = "0.001"
//! initial_reference_price = "8.000"
//! ```
//!
//! Every omitted field takes the default documented on [`ProductDef`] and in `docs/PRODUCTS.md`.
//! Decimal quantities are strings (or integers) and are converted exactly with
//! [`crate::decimal::Decimal`]; a binary float such as `tick_size = 0.001` is refused.
//!
//! Errors name the field: a TOML error carries the dotted path of the table and key and the
//! line (`products.TKF.tick_sise: unknown field …`), a semantic error carries the path and what
//! is wrong (`products.TKF.maintenance_margin_pct: must be less than initial_margin_pct`).
//!
//! **Tick value** is derived: `contract_size × tick_size`, in the product's currency, exactly,
//! and must be a whole number of minor units. `tick_value` may be written in the file as a
//! cross-check; a mismatch is refused.
//!
//! Products keep the order of the file (instrument ids are assigned in listing order by the
//! caller, so the order is part of the configuration).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::calendar::{self, Calendar, CalendarError, Session};
use crate::decimal::Decimal;
use crate::limits::ORDER_QTY_MAX_CONTRACTS;
use crate::{Currency, InstrumentId, InstrumentSpec, Price, Qty, TradePriceRule};

/// Most products one file may define.
pub const PRODUCTS_PER_FILE_MAX: usize = 1_000;
/// Most calendars one file may define.
pub const CALENDARS_PER_FILE_MAX: usize = 100;
/// Most contract months listed at once per product.
pub const MONTHS_LISTED_MAX: u32 = 36;
/// Largest products file accepted, in bytes.
pub const PRODUCTS_FILE_BYTES_MAX: u64 = 4 << 20;

/// Defaults for fields that may be omitted (see `docs/PRODUCTS.md`).
pub mod defaults {
    pub const MONTHS_LISTED: u32 = 12;
    pub const PRICE_LIMIT_PCT: &str = "10";
    pub const LIMIT_WIDEN_PCT: &str = "3";
    pub const LIMIT_MARGIN_EXTRA_PCT: &str = "2";
    pub const INITIAL_MARGIN_PCT: &str = "12";
    pub const MAINTENANCE_MARGIN_PCT: &str = "9";
    pub const POSITION_LIMIT_ALL_MONTHS: u64 = 20_000;
    pub const POSITION_LIMIT_SPOT_MONTH: u64 = 5_000;
    pub const ORDER_QTY_MAX: u64 = 1_000;
    pub const FEE_MAKER: &str = "0";
    pub const FEE_TAKER: &str = "0";
    pub const CALENDAR: &str = crate::calendar::SHFE;
    pub const MARKET_PROTECTION_TICKS: i64 = 50;
    pub const VELOCITY_TICKS: i64 = 0;
    pub const VELOCITY_WINDOW_SECS: u64 = 10;
    pub const VELOCITY_AUCTION_SECS: u64 = 30;
}

/// How the final settlement price of an expiring month is computed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FinalSettlement {
    /// Arithmetic mean of the underlying's daily fixings over the contract month's business
    /// days (per the product's calendar), rounded to the nearest tick, ties away from zero.
    MonthlyAverage,
}

impl FinalSettlement {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalSettlement::MonthlyAverage => "average",
        }
    }
}

/// A refused products file. Every variant names the field, as a dotted path
/// (`products.TKF.tick_size`, `calendars.night_only.sessions[0].open`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {message}")]
    Io { path: String, message: String },
    /// The TOML does not parse or does not match the expected shape.
    #[error("{field}: {message} (line {line})")]
    Parse {
        field: String,
        line: usize,
        message: String,
    },
    /// A value parses but is not acceptable.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
}

impl ConfigError {
    /// The dotted path of the offending field (or the file, for I/O errors).
    pub fn field(&self) -> &str {
        match self {
            ConfigError::Io { path, .. } => path,
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => field,
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A validated product definition. Fields are private: every invariant (tick value equals
/// contract size × tick size, maintenance < initial margin, …) holds by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductDef {
    root: String,
    name: String,
    description: String,
    underlying: String,
    currency: Currency,
    contract_size: Decimal,
    contract_unit: String,
    quote_unit: String,
    tick_size: Decimal,
    tick_value: Decimal,
    tick_value_minor: i64,
    months_listed: u32,
    final_settlement: FinalSettlement,
    price_limit_bps: u32,
    limit_widen_bps: u32,
    limit_margin_extra_bps: u32,
    initial_margin_bps: u32,
    maintenance_margin_bps: u32,
    position_limit_all_months: u64,
    position_limit_spot_month: u64,
    order_qty_max: u64,
    fee_maker_minor: i64,
    fee_taker_minor: i64,
    calendar: Calendar,
    trade_price_rule: TradePriceRule,
    market_protection_ticks: i64,
    velocity_ticks: i64,
    velocity_window_secs: u64,
    velocity_auction_secs: u64,
    initial_reference_price: Price,
}

impl ProductDef {
    /// One product from a TOML document holding its fields at the top level (`root` required).
    /// Only the built-in calendars are known here; use [`ProductSet`] for custom ones.
    pub fn from_toml_str(s: &str) -> Result<ProductDef, ConfigError> {
        let raw: ProductToml = toml::from_str(s).map_err(|e| parse_error(s, &e, "product"))?;
        let root = raw
            .root
            .clone()
            .ok_or_else(|| invalid("product.root", "missing field `root`"))?;
        let calendars = builtin_calendars();
        raw.into_def(&root, &root, &calendars)
    }

    pub fn root(&self) -> &str {
        &self.root
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    /// Index id of the underlying, e.g. `TPI-F`.
    pub fn underlying(&self) -> &str {
        &self.underlying
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }
    /// Number of `contract_unit`s in one contract (the multiplier), e.g. 1000.
    pub fn contract_size(&self) -> Decimal {
        self.contract_size
    }
    /// The unit prices are quoted per, e.g. `1M tokens`.
    pub fn contract_unit(&self) -> &str {
        &self.contract_unit
    }
    /// e.g. `USD per 1M tokens`.
    pub fn quote_unit(&self) -> &str {
        &self.quote_unit
    }
    pub fn tick_size(&self) -> Decimal {
        self.tick_size
    }
    /// Value of one tick for one contract, in the currency (e.g. `1` USD).
    pub fn tick_value(&self) -> Decimal {
        self.tick_value
    }
    /// Value of one tick for one contract, in minor units (e.g. 100 cents).
    pub fn tick_value_minor(&self) -> i64 {
        self.tick_value_minor
    }
    pub fn months_listed(&self) -> u32 {
        self.months_listed
    }
    pub fn final_settlement(&self) -> FinalSettlement {
        self.final_settlement
    }
    /// Daily price limit, basis points of the previous settlement price.
    pub fn price_limit_bps(&self) -> u32 {
        self.price_limit_bps
    }
    /// After a limit-locked day, the next day's limit widens by this many basis points.
    pub fn limit_widen_bps(&self) -> u32 {
        self.limit_widen_bps
    }
    /// After a limit-locked day, margin rises to the widened limit plus this many basis points.
    pub fn limit_margin_extra_bps(&self) -> u32 {
        self.limit_margin_extra_bps
    }
    pub fn initial_margin_bps(&self) -> u32 {
        self.initial_margin_bps
    }
    pub fn maintenance_margin_bps(&self) -> u32 {
        self.maintenance_margin_bps
    }
    pub fn position_limit_all_months(&self) -> u64 {
        self.position_limit_all_months
    }
    pub fn position_limit_spot_month(&self) -> u64 {
        self.position_limit_spot_month
    }
    pub fn order_qty_max(&self) -> u64 {
        self.order_qty_max
    }
    /// Maker fee per contract in minor units (negative: a rebate).
    pub fn fee_maker_minor(&self) -> i64 {
        self.fee_maker_minor
    }
    pub fn fee_taker_minor(&self) -> i64 {
        self.fee_taker_minor
    }
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }
    pub fn trade_price_rule(&self) -> TradePriceRule {
        self.trade_price_rule
    }
    pub fn market_protection_ticks(&self) -> i64 {
        self.market_protection_ticks
    }
    /// Velocity circuit breaker: a move of more than this many ticks (0: off) …
    pub fn velocity_ticks(&self) -> i64 {
        self.velocity_ticks
    }
    /// … within this many seconds …
    pub fn velocity_window_secs(&self) -> u64 {
        self.velocity_window_secs
    }
    /// … starts a pre-open auction of this many seconds.
    pub fn velocity_auction_secs(&self) -> u64 {
        self.velocity_auction_secs
    }
    /// Reference price before the first settlement, in ticks.
    pub fn initial_reference_price(&self) -> Price {
        self.initial_reference_price
    }

    /// A decimal price string to ticks; an error if it is not a whole number of ticks.
    pub fn parse_price(&self, s: &str) -> Result<Price, String> {
        let d = Decimal::parse(s).map_err(|e| e.to_string())?;
        let ticks = d.div_exact(self.tick_size).map_err(|e| e.to_string())?;
        i64::try_from(ticks)
            .map(Price)
            .map_err(|_| format!("{s} is out of range"))
    }

    /// Ticks to a decimal price, printed with the tick size's number of decimals.
    pub fn format_price(&self, p: Price) -> String {
        let d = Decimal::new(p.0 as i128 * self.tick_size.mantissa, self.tick_size.scale);
        d.to_string()
    }

    /// Exchange symbol of a contract month: `TKF-2026-12`.
    pub fn symbol(&self, year: i32, month: u32) -> String {
        format!("{}-{year:04}-{month:02}", self.root)
    }

    /// Last trading day of a contract month: its last business day per the product's calendar.
    pub fn last_trading_day(&self, year: i32, month: u32) -> Option<NaiveDate> {
        self.calendar.last_business_day(year, month)
    }

    /// The business days whose fixings the final settlement of a month averages.
    pub fn settlement_days(&self, year: i32, month: u32) -> Vec<NaiveDate> {
        self.calendar.business_days_in_month(year, month)
    }

    /// The contract months listed on trading day `today`: `months_listed` consecutive months,
    /// starting with the front month — the first month, from `today`'s month on, whose last
    /// trading day is on or after `today`. Pass the current *trading day*
    /// ([`Calendar::trading_day_of`]): after the close of the last trading day, the trading day
    /// is already the next one and the expired month drops out. A month without any business
    /// day (possible only with a pathological holiday list) is skipped.
    pub fn listed_months(&self, today: NaiveDate) -> Vec<(i32, u32)> {
        let mut out = Vec::with_capacity(self.months_listed as usize);
        let (mut y, mut m) = (today.year(), today.month());
        // Bounded: a few years of months is more than enough for any valid calendar.
        for _ in 0..(self.months_listed as usize + 48) {
            if out.len() == self.months_listed as usize {
                break;
            }
            if let Some(ltd) = self.last_trading_day(y, m) {
                if ltd >= today {
                    out.push((y, m));
                }
            }
            (y, m) = next_month(y, m);
        }
        out
    }

    /// The core's spec for one contract month. Refused if the month is invalid or has no
    /// business day. `expires_at` is the close of the last session of the last trading day.
    pub fn instrument_spec(
        &self,
        id: InstrumentId,
        year: i32,
        month: u32,
    ) -> Result<InstrumentSpec, ConfigError> {
        let field = format!("{}-{year:04}-{month:02}", self.root);
        if !(1..=12).contains(&month) {
            return Err(invalid(field, "month must be 1 to 12"));
        }
        let ltd = self.last_trading_day(year, month).ok_or_else(|| {
            invalid(
                field,
                "the contract month has no business day in the calendar",
            )
        })?;
        Ok(InstrumentSpec {
            id,
            symbol: self.symbol(year, month),
            product: self.root.clone(),
            underlying: self.underlying.clone(),
            currency: self.currency,
            tick_size: self.tick_size.to_string(),
            tick_value_minor: self.tick_value_minor,
            year,
            month,
            last_trading_day: ltd,
            expires_at: self.calendar.trading_end_at(ltd),
            trade_price_rule: self.trade_price_rule,
            price_limit_bps: self.price_limit_bps,
            order_qty_max: Qty(self.order_qty_max),
            market_protection_ticks: self.market_protection_ticks,
            cb_ticks: self.velocity_ticks,
            cb_window_ns: self.velocity_window_secs * crate::Timestamp::NANOS_PER_SEC,
            cb_auction_ns: self.velocity_auction_secs * crate::Timestamp::NANOS_PER_SEC,
            initial_margin_bps: self.initial_margin_bps,
            maintenance_margin_bps: self.maintenance_margin_bps,
            position_limit_all_months: self.position_limit_all_months,
            position_limit_spot_month: self.position_limit_spot_month,
            fee_maker_minor: self.fee_maker_minor,
            fee_taker_minor: self.fee_taker_minor,
            initial_reference_price: self.initial_reference_price,
            limit_widen_bps: self.limit_widen_bps,
            limit_margin_extra_bps: self.limit_margin_extra_bps,
        })
    }
}

/// The month after `(year, month)`.
pub fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month >= 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// All products (in file order) and calendars (built-in and custom) of a products file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductSet {
    calendars: BTreeMap<String, Calendar>,
    products: Vec<ProductDef>,
}

impl ProductSet {
    /// Reads and validates a products file.
    pub fn load(path: impl AsRef<Path>) -> Result<ProductSet, ConfigError> {
        let path = path.as_ref();
        let io = |e: std::io::Error| ConfigError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > PRODUCTS_FILE_BYTES_MAX {
            return Err(ConfigError::Io {
                path: path.display().to_string(),
                message: format!(
                    "{len} bytes is larger than the {PRODUCTS_FILE_BYTES_MAX}-byte limit"
                ),
            });
        }
        let s = std::fs::read_to_string(path).map_err(io)?;
        ProductSet::from_toml_str(&s)
    }

    /// Parses and validates a products document.
    pub fn from_toml_str(s: &str) -> Result<ProductSet, ConfigError> {
        let raw: FileToml = toml::from_str(s).map_err(|e| parse_error(s, &e, ""))?;
        if raw.products.0.len() > PRODUCTS_PER_FILE_MAX {
            return Err(invalid(
                "products",
                format!("at most {PRODUCTS_PER_FILE_MAX} products"),
            ));
        }
        if raw.calendars.0.len() > CALENDARS_PER_FILE_MAX {
            return Err(invalid(
                "calendars",
                format!("at most {CALENDARS_PER_FILE_MAX} calendars"),
            ));
        }
        let mut calendars = builtin_calendars();
        for (name, c) in raw.calendars.0 {
            let path = format!("calendars.{name}");
            if calendars.contains_key(&name) {
                return Err(invalid(
                    path,
                    "redefines a built-in calendar; give it another name (use `base` to extend it)",
                ));
            }
            let cal = c.into_calendar(&name, &path, &calendars)?;
            calendars.insert(name, cal);
        }
        let mut products = Vec::with_capacity(raw.products.0.len());
        for (root, p) in raw.products.0 {
            let path = format!("products.{root}");
            products.push(p.into_def(&root, &path, &calendars)?);
        }
        Ok(ProductSet {
            calendars,
            products,
        })
    }

    /// Puts every product on one calendar (e.g. `24x7` for a demo that trades around the
    /// clock). Listing, last trading days and sessions then follow that calendar.
    pub fn use_calendar(&mut self, calendar: &Calendar) {
        for p in &mut self.products {
            p.calendar = calendar.clone();
        }
    }

    /// Products in file order.
    pub fn products(&self) -> &[ProductDef] {
        &self.products
    }
    pub fn get(&self, root: &str) -> Option<&ProductDef> {
        self.products.iter().find(|p| p.root == root)
    }
    /// A calendar by name (built-in or defined in the file).
    pub fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.calendars.get(name)
    }
    pub fn calendars(&self) -> impl Iterator<Item = &Calendar> {
        self.calendars.values()
    }

    /// Every listed contract month on trading day `today`: products in file order, months in
    /// order. Assigning instrument ids in this order is deterministic.
    pub fn listings(&self, today: NaiveDate) -> Vec<(&ProductDef, i32, u32)> {
        self.products
            .iter()
            .flat_map(|p| {
                p.listed_months(today)
                    .into_iter()
                    .map(move |(y, m)| (p, y, m))
            })
            .collect()
    }
}

fn builtin_calendars() -> BTreeMap<String, Calendar> {
    Calendar::BUILTIN_NAMES
        .iter()
        .map(|n| (n.to_string(), Calendar::builtin(n).expect("built-in")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// TOML shapes.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    calendars: Ordered<CalendarToml>,
    #[serde(default)]
    products: Ordered<ProductToml>,
}

/// A TOML table kept in document order.
struct Ordered<T>(Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some((k, t)) = map.next_entry::<String, T>()? {
                    v.push((k, t));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A decimal written as a string (`"0.001"`) or an integer (`1000`). Floats are refused: they
/// are not exact.
#[derive(Clone, Debug)]
struct DecStr(String);

impl<'de> Deserialize<'de> for DecStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DecStr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal string such as \"0.001\" (or an integer)")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<DecStr, E> {
                Ok(DecStr(s.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<DecStr, E> {
                Ok(DecStr(n.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<DecStr, E> {
                Ok(DecStr(n.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<DecStr, E> {
                Err(E::custom(format!(
                    "floating-point number {x} is not exact: write the decimal as a string, e.g. \"{x}\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarToml {
    base: Option<String>,
    time_zone: Option<String>,
    weekend: Option<Vec<String>>,
    #[serde(default)]
    holidays: Vec<toml::Value>,
    trading_day_end: Option<String>,
    night_before_holiday: Option<bool>,
    sessions: Option<Vec<SessionToml>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionToml {
    name: String,
    #[serde(default)]
    night: bool,
    auction: Option<String>,
    uncross: Option<String>,
    open: String,
    #[serde(default)]
    breaks: Vec<(String, String)>,
    close: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductToml {
    root: Option<String>,
    name: String,
    #[serde(default)]
    description: String,
    underlying: String,
    currency: String,
    contract_size: DecStr,
    contract_unit: String,
    quote_unit: Option<String>,
    tick_size: DecStr,
    tick_value: Option<DecStr>,
    months_listed: Option<u32>,
    final_settlement: Option<String>,
    price_limit_pct: Option<DecStr>,
    limit_widen_pct: Option<DecStr>,
    limit_margin_extra_pct: Option<DecStr>,
    initial_margin_pct: Option<DecStr>,
    maintenance_margin_pct: Option<DecStr>,
    position_limit_all_months: Option<u64>,
    position_limit_spot_month: Option<u64>,
    order_qty_max: Option<u64>,
    fee_maker: Option<DecStr>,
    fee_taker: Option<DecStr>,
    calendar: Option<String>,
    time_zone: Option<String>,
    trade_price_rule: Option<String>,
    market_protection_ticks: Option<i64>,
    velocity_ticks: Option<i64>,
    velocity_window_secs: Option<u64>,
    velocity_auction_secs: Option<u64>,
    initial_reference_price: DecStr,
}

/// Turns a toml error into a [`ConfigError::Parse`] naming `table.key` and the line.
fn parse_error(src: &str, e: &toml::de::Error, fallback: &str) -> ConfigError {
    let Some(span) = e.span() else {
        return ConfigError::Parse {
            field: fallback.to_string(),
            line: 0,
            message: e.message().to_string(),
        };
    };
    let start = span.start.min(src.len());
    let line = src[..start].matches('\n').count() + 1;
    let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_text = src[line_start..].lines().next().unwrap_or("");
    // The innermost table header above the error.
    let table = src[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        });
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| {
            !k.is_empty() && !k.starts_with('[') && !k.starts_with('#') && !k.contains(' ')
        });
    let mut field = match (table, line_text.trim_start().starts_with('[')) {
        // An error on a header line (e.g. a missing field) is about that table itself.
        (_, true) => line_text
            .trim()
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        (Some(t), false) => t,
        (None, false) => fallback.to_string(),
    };
    if !line_text.trim_start().starts_with('[') {
        if let Some(k) = key {
            field = if field.is_empty() {
                k
            } else {
                format!("{field}.{k}")
            };
        }
    }
    if field.is_empty() {
        field = fallback.to_string();
    }
    ConfigError::Parse {
        field,
        line,
        message: e.message().trim().to_string(),
    }
}

/// Field-path-aware helpers for semantic validation.
struct Ctx<'a> {
    path: &'a str,
}

impl Ctx<'_> {
    fn f(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }
    fn err(&self, field: &str, message: impl Into<String>) -> ConfigError {
        invalid(self.f(field), message)
    }
    fn dec(&self, field: &str, s: &str) -> Result<Decimal, ConfigError> {
        Decimal::parse(s.trim())
            .map_err(|e| self.err(field, format!("{e}; expected a decimal such as \"0.001\"")))
    }
    fn positive(&self, field: &str, s: &str) -> Result<Decimal, ConfigError> {
        let d = self.dec(field, s)?;
        if d.mantissa <= 0 {
            return Err(self.err(field, format!("must be greater than zero (got \"{s}\")")));
        }
        Ok(d)
    }
    /// A percentage as basis points, exact to 0.01%, within `lo..=hi` bps.
    fn pct_bps(&self, field: &str, s: &str, lo: u32, hi: u32) -> Result<u32, ConfigError> {
        let d = self.dec(field, s)?;
        let bps = d.div_exact(Decimal::new(1, 2)).map_err(|_| {
            self.err(
                field,
                format!("\"{s}\" has more than two decimals (0.01% is the finest step)"),
            )
        })?;
        if bps < lo as i128 || bps > hi as i128 {
            return Err(self.err(
                field,
                format!(
                    "\"{s}\" is out of range: must be {}% to {}%",
                    Decimal::new(lo as i128, 2).normalized(),
                    Decimal::new(hi as i128, 2).normalized()
                ),
            ));
        }
        Ok(bps as u32)
    }
    /// An amount of money as minor units, exact.
    fn minor(&self, field: &str, s: &str, cur: Currency) -> Result<i64, ConfigError> {
        let d = self.dec(field, s)?;
        let m = d
            .div_exact(Decimal::new(1, cur.minor_digits()))
            .map_err(|_| {
                self.err(
                    field,
                    format!(
                        "\"{s}\" is not a whole number of {cur} minor units (0.{:0>1$})",
                        1,
                        cur.minor_digits() as usize
                    ),
                )
            })?;
        i64::try_from(m).map_err(|_| self.err(field, "out of range"))
    }
    fn name_like(&self, field: &str, s: &str, max: usize) -> Result<(), ConfigError> {
        if s.trim().is_empty() || s.len() > max {
            return Err(self.err(field, format!("must be 1 to {max} characters")));
        }
        Ok(())
    }
}

fn parse_tz(s: &str) -> Option<chrono_tz::Tz> {
    s.parse::<chrono_tz::Tz>().ok()
}

impl CalendarToml {
    fn into_calendar(
        self,
        name: &str,
        path: &str,
        known: &BTreeMap<String, Calendar>,
    ) -> Result<Calendar, ConfigError> {
        let c = Ctx { path };
        if name.is_empty() || name.len() > 32 {
            return Err(invalid(path, "a calendar name must be 1 to 32 characters"));
        }
        let base = match &self.base {
            Some(b) => Some(known.get(b).cloned().ok_or_else(|| {
                c.err(
                    "base",
                    format!(
                        "unknown calendar `{b}` (known: {})",
                        known.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?),
            None => None,
        };
        let time_zone = match &self.time_zone {
            Some(s) => parse_tz(s).ok_or_else(|| {
                c.err(
                    "time_zone",
                    format!("unknown time zone `{s}` (an IANA name such as \"Asia/Shanghai\")"),
                )
            })?,
            None => base
                .as_ref()
                .map_or(chrono_tz::Asia::Shanghai, |b| b.time_zone()),
        };
        let weekend = match &self.weekend {
            Some(days) => {
                let mut out = Vec::new();
                for (i, d) in days.iter().enumerate() {
                    out.push(calendar::parse_weekday(d).ok_or_else(|| {
                        c.err(
                            &format!("weekend[{i}]"),
                            format!("`{d}` is not a weekday (Mon … Sun)"),
                        )
                    })?);
                }
                out
            }
            None => base
                .as_ref()
                .map_or(vec![chrono::Weekday::Sat, chrono::Weekday::Sun], |b| {
                    b.weekend()
                }),
        };
        let mut holidays: Vec<NaiveDate> = base
            .as_ref()
            .map_or(Vec::new(), |b| b.holidays().iter().copied().collect());
        for (i, v) in self.holidays.iter().enumerate() {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Datetime(dt) if dt.date.is_some() && dt.time.is_none() => {
                    dt.to_string()
                }
                other => {
                    return Err(c.err(
                        &format!("holidays[{i}]"),
                        format!("expected a date \"YYYY-MM-DD\", got {other}"),
                    ))
                }
            };
            let d = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                c.err(
                    &format!("holidays[{i}]"),
                    format!("`{text}` is not a date \"YYYY-MM-DD\""),
                )
            })?;
            holidays.push(d);
        }
        let time = |field: &str, s: &str| {
            calendar::parse_time_of_day(s).ok_or_else(|| {
                c.err(
                    field,
                    format!("`{s}` is not a time of day \"HH:MM\" or \"HH:MM:SS\""),
                )
            })
        };
        let own_sessions = self.sessions.is_some();
        let sessions = match self.sessions {
            Some(list) => {
                let mut out = Vec::with_capacity(list.len());
                for (i, s) in list.into_iter().enumerate() {
                    let sp = format!("sessions[{i}]");
                    let auction = match (&s.auction, &s.uncross) {
                        (Some(a), Some(u)) => Some((
                            time(&format!("{sp}.auction"), a)?,
                            time(&format!("{sp}.uncross"), u)?,
                        )),
                        (None, None) => None,
                        (Some(_), None) => {
                            return Err(
                                c.err(&format!("{sp}.uncross"), "required when `auction` is set")
                            )
                        }
                        (None, Some(_)) => {
                            return Err(
                                c.err(&format!("{sp}.auction"), "required when `uncross` is set")
                            )
                        }
                    };
                    let open = time(&format!("{sp}.open"), &s.open)?;
                    let close = time(&format!("{sp}.close"), &s.close)?;
                    let mut breaks = Vec::with_capacity(s.breaks.len());
                    for (j, (b0, b1)) in s.breaks.iter().enumerate() {
                        breaks.push((
                            time(&format!("{sp}.breaks[{j}]"), b0)?,
                            time(&format!("{sp}.breaks[{j}]"), b1)?,
                        ));
                    }
                    let session = Session::new(&s.name, s.night, auction, open, &breaks, close)
                        .map_err(|e| c.err(&format!("{sp}.{}", e.field), e.message))?;
                    out.push(session);
                }
                out
            }
            None => match &base {
                Some(b) => b.sessions().to_vec(),
                None => {
                    return Err(c.err(
                        "sessions",
                        "missing: a calendar needs sessions (or a `base`)",
                    ))
                }
            },
        };
        let trading_day_end = match &self.trading_day_end {
            Some(s) => time("trading_day_end", s)?,
            None => match &base {
                Some(b) if !own_sessions => b.trading_day_end(),
                _ => sessions
                    .iter()
                    .filter(|s| !s.is_night())
                    .map(|s| s.close())
                    .max()
                    .unwrap_or(0),
            },
        };
        let night_before_holiday = self
            .night_before_holiday
            .unwrap_or_else(|| base.as_ref().is_some_and(|b| b.night_before_holiday()));
        Calendar::new(
            name,
            time_zone,
            &weekend,
            holidays,
            sessions,
            trading_day_end,
            night_before_holiday,
        )
        .map_err(|e: CalendarError| c.err(&e.field, e.message))
    }
}

impl ProductToml {
    fn into_def(
        self,
        root: &str,
        path: &str,
        calendars: &BTreeMap<String, Calendar>,
    ) -> Result<ProductDef, ConfigError> {
        let c = Ctx { path };
        if root.is_empty()
            || root.len() > 8
            || !root.as_bytes()[0].is_ascii_uppercase()
            || !root
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(invalid(path, format!("product root `{root}` must be 1 to 8 characters A–Z, 0–9, starting with a letter")));
        }
        if let Some(r) = &self.root {
            if r != root {
                return Err(c.err(
                    "root",
                    format!("`{r}` differs from the table name `{root}`"),
                ));
            }
        }
        c.name_like("name", &self.name, 64)?;
        c.name_like("underlying", &self.underlying, 32)?;
        if !self
            .underlying
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(c.err(
                "underlying",
                format!(
                    "`{}` must be an index id such as \"TPI-F\"",
                    self.underlying
                ),
            ));
        }
        let currency = Currency::parse(&self.currency).ok_or_else(|| {
            let known: Vec<&str> = Currency::ALL.iter().map(|c| c.code()).collect();
            c.err(
                "currency",
                format!(
                    "unknown currency `{}` (known: {})",
                    self.currency,
                    known.join(", ")
                ),
            )
        })?;
        let contract_size = c.positive("contract_size", &self.contract_size.0)?;
        c.name_like("contract_unit", &self.contract_unit, 32)?;
        let quote_unit = self
            .quote_unit
            .clone()
            .unwrap_or_else(|| format!("{currency} per {}", self.contract_unit));
        c.name_like("quote_unit", &quote_unit, 64)?;
        let tick_size = c.positive("tick_size", &self.tick_size.0)?;

        // Tick value = contract size × tick size, exactly, in whole minor units.
        let tick_value = contract_size
            .mantissa
            .checked_mul(tick_size.mantissa)
            .map(|m| Decimal::new(m, contract_size.scale + tick_size.scale).normalized())
            .ok_or_else(|| c.err("tick_size", "contract_size × tick_size is too large"))?;
        let tick_value_minor = tick_value
            .div_exact(Decimal::new(1, currency.minor_digits()))
            .ok()
            .and_then(|m| i64::try_from(m).ok())
            .filter(|m| *m > 0)
            .ok_or_else(|| {
                c.err(
                    "tick_size",
                    format!(
                        "tick value contract_size × tick_size = {} × {} = {tick_value} {currency} is not a whole number of minor units",
                        contract_size, tick_size
                    ),
                )
            })?;
        if let Some(tv) = &self.tick_value {
            let given = c.positive("tick_value", &tv.0)?;
            if given.normalized() != tick_value {
                return Err(c.err(
                    "tick_value",
                    format!(
                        "\"{}\" does not equal contract_size × tick_size = {contract_size} × {tick_size} = {tick_value} {currency}",
                        tv.0
                    ),
                ));
            }
        }

        let months_listed = self.months_listed.unwrap_or(defaults::MONTHS_LISTED);
        if !(1..=MONTHS_LISTED_MAX).contains(&months_listed) {
            return Err(c.err(
                "months_listed",
                format!("{months_listed} is out of range: must be 1 to {MONTHS_LISTED_MAX}"),
            ));
        }
        let final_settlement = match self.final_settlement.as_deref().unwrap_or("average") {
            "average" => FinalSettlement::MonthlyAverage,
            other => {
                return Err(c.err(
                    "final_settlement",
                    format!("unknown method `{other}` (known: average)"),
                ))
            }
        };

        let price_limit_bps = c.pct_bps(
            "price_limit_pct",
            self.price_limit_pct
                .as_ref()
                .map_or(defaults::PRICE_LIMIT_PCT, |d| &d.0),
            1,
            10_000,
        )?;
        let limit_widen_bps = c.pct_bps(
            "limit_widen_pct",
            self.limit_widen_pct
                .as_ref()
                .map_or(defaults::LIMIT_WIDEN_PCT, |d| &d.0),
            0,
            10_000,
        )?;
        if price_limit_bps + limit_widen_bps > 10_000 {
            return Err(c.err(
                "limit_widen_pct",
                "price_limit_pct + limit_widen_pct must be at most 100%",
            ));
        }
        let limit_margin_extra_bps = c.pct_bps(
            "limit_margin_extra_pct",
            self.limit_margin_extra_pct
                .as_ref()
                .map_or(defaults::LIMIT_MARGIN_EXTRA_PCT, |d| &d.0),
            0,
            10_000,
        )?;
        let initial_margin_bps = c.pct_bps(
            "initial_margin_pct",
            self.initial_margin_pct
                .as_ref()
                .map_or(defaults::INITIAL_MARGIN_PCT, |d| &d.0),
            1,
            10_000,
        )?;
        let maintenance_margin_bps = c.pct_bps(
            "maintenance_margin_pct",
            self.maintenance_margin_pct
                .as_ref()
                .map_or(defaults::MAINTENANCE_MARGIN_PCT, |d| &d.0),
            1,
            10_000,
        )?;
        if maintenance_margin_bps >= initial_margin_bps {
            return Err(c.err(
                "maintenance_margin_pct",
                format!(
                    "must be less than initial_margin_pct ({}% is not less than {}%)",
                    Decimal::new(maintenance_margin_bps as i128, 2).normalized(),
                    Decimal::new(initial_margin_bps as i128, 2).normalized()
                ),
            ));
        }

        let position_limit_all_months = self
            .position_limit_all_months
            .unwrap_or(defaults::POSITION_LIMIT_ALL_MONTHS);
        if position_limit_all_months == 0 {
            return Err(c.err("position_limit_all_months", "must be greater than zero"));
        }
        let position_limit_spot_month = self
            .position_limit_spot_month
            .unwrap_or(defaults::POSITION_LIMIT_SPOT_MONTH);
        if position_limit_spot_month == 0 {
            return Err(c.err("position_limit_spot_month", "must be greater than zero"));
        }
        if position_limit_spot_month > position_limit_all_months {
            return Err(c.err(
                "position_limit_spot_month",
                format!("{position_limit_spot_month} exceeds position_limit_all_months ({position_limit_all_months})"),
            ));
        }
        let order_qty_max = self.order_qty_max.unwrap_or(defaults::ORDER_QTY_MAX);
        if order_qty_max == 0 || order_qty_max > ORDER_QTY_MAX_CONTRACTS {
            return Err(c.err(
                "order_qty_max",
                format!("{order_qty_max} is out of range: must be 1 to {ORDER_QTY_MAX_CONTRACTS} contracts"),
            ));
        }

        let fee_maker_minor = c.minor(
            "fee_maker",
            self.fee_maker
                .as_ref()
                .map_or(defaults::FEE_MAKER, |d| &d.0),
            currency,
        )?;
        let fee_taker_minor = c.minor(
            "fee_taker",
            self.fee_taker
                .as_ref()
                .map_or(defaults::FEE_TAKER, |d| &d.0),
            currency,
        )?;
        if fee_taker_minor < 0 {
            return Err(c.err("fee_taker", "must not be negative"));
        }
        if fee_maker_minor + fee_taker_minor < 0 {
            return Err(c.err("fee_maker", "a maker rebate must not exceed the taker fee"));
        }

        let cal_name = self.calendar.as_deref().unwrap_or(defaults::CALENDAR);
        let mut calendar = calendars.get(cal_name).cloned().ok_or_else(|| {
            c.err(
                "calendar",
                format!(
                    "unknown calendar `{cal_name}` (known: {})",
                    calendars.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        if let Some(tz) = &self.time_zone {
            let tz = parse_tz(tz).ok_or_else(|| {
                c.err(
                    "time_zone",
                    format!("unknown time zone `{tz}` (an IANA name such as \"Asia/Shanghai\")"),
                )
            })?;
            if tz != calendar.time_zone() {
                calendar = calendar.with_time_zone(tz);
            }
        }
        let trade_price_rule = match self.trade_price_rule.as_deref().unwrap_or("resting") {
            "resting" => TradePriceRule::Resting,
            "shfe_median" => TradePriceRule::ShfeMedian,
            other => {
                return Err(c.err(
                    "trade_price_rule",
                    format!("unknown rule `{other}` (known: resting, shfe_median)"),
                ))
            }
        };
        let market_protection_ticks = self
            .market_protection_ticks
            .unwrap_or(defaults::MARKET_PROTECTION_TICKS);
        if market_protection_ticks <= 0 {
            return Err(c.err("market_protection_ticks", "must be greater than zero"));
        }
        let velocity_ticks = self.velocity_ticks.unwrap_or(defaults::VELOCITY_TICKS);
        if velocity_ticks < 0 {
            return Err(c.err(
                "velocity_ticks",
                "must not be negative (0 turns the breaker off)",
            ));
        }
        let velocity_window_secs = self
            .velocity_window_secs
            .unwrap_or(defaults::VELOCITY_WINDOW_SECS);
        if !(1..=3_600).contains(&velocity_window_secs) {
            return Err(c.err("velocity_window_secs", "must be 1 to 3600 seconds"));
        }
        let velocity_auction_secs = self
            .velocity_auction_secs
            .unwrap_or(defaults::VELOCITY_AUCTION_SECS);
        if !(1..=3_600).contains(&velocity_auction_secs) {
            return Err(c.err("velocity_auction_secs", "must be 1 to 3600 seconds"));
        }

        let reference = c.positive("initial_reference_price", &self.initial_reference_price.0)?;
        let ticks = reference.div_exact(tick_size).map_err(|_| {
            c.err(
                "initial_reference_price",
                format!(
                    "\"{}\" is not a whole number of ticks of {tick_size}",
                    self.initial_reference_price.0
                ),
            )
        })?;
        let initial_reference_price = Price(
            i64::try_from(ticks).map_err(|_| c.err("initial_reference_price", "out of range"))?,
        );
        // The notional of one contract at the reference price must fit comfortably in i64
        // minor units, with room for position × notional in i128 downstream.
        if (ticks)
            .checked_mul(tick_value_minor as i128)
            .is_none_or(|n| n > i64::MAX as i128 / 1_000)
        {
            return Err(c.err(
                "initial_reference_price",
                "notional of one contract is out of range",
            ));
        }

        Ok(ProductDef {
            root: root.to_string(),
            name: self.name,
            description: self.description,
            underlying: self.underlying,
            currency,
            contract_size,
            contract_unit: self.contract_unit,
            quote_unit,
            tick_size,
            tick_value,
            tick_value_minor,
            months_listed,
            final_settlement,
            price_limit_bps,
            limit_widen_bps,
            limit_margin_extra_bps,
            initial_margin_bps,
            maintenance_margin_bps,
            position_limit_all_months,
            position_limit_spot_month,
            order_qty_max,
            fee_maker_minor,
            fee_taker_minor,
            calendar,
            trade_price_rule,
            market_protection_ticks,
            velocity_ticks,
            velocity_window_secs,
            velocity_auction_secs,
            initial_reference_price,
        })
    }
}
