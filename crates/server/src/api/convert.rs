//! Decimal strings at the edge: prices in the instrument's tick size, quantities in whole
//! contracts, money in the currency's minor unit, times as RFC 3339.

use super::errors::{ApiError, ApiResult, INVALID_FIELD};
use tokex_engine::RejectCode;
use tokex_types::decimal::Decimal;
use tokex_types::{Currency, InstrumentSpec, Price, Qty, Timestamp};

pub fn tick_of(spec: &InstrumentSpec) -> Decimal {
    Decimal::parse(&spec.tick_size).unwrap_or(Decimal::new(1, 0))
}

pub fn fmt_price(tick: Decimal, p: Price) -> String {
    Decimal::new(p.0 as i128 * tick.mantissa, tick.scale).to_string()
}

/// A price string: a positive whole number of ticks.
pub fn parse_price(tick: Decimal, field: &str, s: &str) -> ApiResult<Price> {
    let bad =
        |why: String| ApiError::bad(RejectCode::InvalidPrice.as_str(), format!("{field}: {why}"));
    let d = Decimal::parse(s).map_err(|e| bad(e.to_string()))?;
    let ticks = d
        .div_exact(tick)
        .map_err(|_| bad(format!("{s} is not a multiple of the tick size {tick}")))?;
    if ticks <= 0 {
        return Err(bad(format!("{s} is not positive")));
    }
    i64::try_from(ticks)
        .map(Price)
        .map_err(|_| bad(format!("{s} is out of range")))
}

/// A quantity string: a positive whole number of contracts.
pub fn parse_qty(field: &str, s: &str) -> ApiResult<Qty> {
    let bad = |why: &str| {
        ApiError::bad(
            RejectCode::InvalidQuantity.as_str(),
            format!("{field}: {s:?} {why}"),
        )
    };
    let d = Decimal::parse(s).map_err(|_| bad("is not a decimal number"))?;
    if d.scale != 0 {
        return Err(bad("is not a whole number of contracts"));
    }
    if d.mantissa <= 0 {
        return Err(bad("must be positive"));
    }
    u64::try_from(d.mantissa)
        .map(Qty)
        .map_err(|_| bad("is out of range"))
}

pub fn minor_unit(c: Currency) -> Decimal {
    Decimal::new(1, c.minor_digits())
}

pub fn fmt_money(c: Currency, minor: i128) -> String {
    Decimal::new(minor, c.minor_digits()).to_string()
}

/// A money amount: positive, in whole minor units.
pub fn parse_money(c: Currency, field: &str, s: &str) -> ApiResult<i64> {
    let bad = |why: String| {
        ApiError::bad(
            RejectCode::InvalidAmount.as_str(),
            format!("{field}: {why}"),
        )
    };
    let d = Decimal::parse(s).map_err(|e| bad(e.to_string()))?;
    let minor = d
        .div_exact(minor_unit(c))
        .map_err(|_| bad(format!("{s} has more decimals than {c} allows")))?;
    if minor <= 0 {
        return Err(bad(format!("{s} is not positive")));
    }
    i64::try_from(minor).map_err(|_| bad(format!("{s} is out of range")))
}

/// A percentage string as basis points, exact to 0.01%, not negative (e.g. "12.5" → 1250).
/// Errors carry `code` (the engine's code for the parameter), so that a value refused at the
/// edge and one refused by the core read the same.
pub fn parse_pct_bps(field: &str, s: &str, code: RejectCode) -> ApiResult<u32> {
    let bad = |why: String| ApiError::bad(code.as_str(), format!("{field}: {why}"));
    let d = Decimal::parse(s.trim()).map_err(|e| bad(format!("{s:?}: {e}")))?;
    let bps = d.div_exact(Decimal::new(1, 2)).map_err(|_| {
        bad(format!(
            "{s} has more than two decimals (0.01% is the finest step)"
        ))
    })?;
    if bps < 0 {
        return Err(bad(format!("{s} is negative")));
    }
    u32::try_from(bps).map_err(|_| bad(format!("{s} is out of range")))
}

/// A count string (contracts): a whole number, not negative. Zero passes, for the core to
/// refuse with its reason.
pub fn parse_count(field: &str, s: &str, code: RejectCode) -> ApiResult<u64> {
    let bad = |why: String| ApiError::bad(code.as_str(), format!("{field}: {s:?} {why}"));
    let d = Decimal::parse(s.trim()).map_err(|_| bad("is not a decimal number".into()))?;
    if d.scale != 0 {
        return Err(bad("is not a whole number".into()));
    }
    if d.mantissa < 0 {
        return Err(bad("is negative".into()));
    }
    u64::try_from(d.mantissa).map_err(|_| bad("is out of range".into()))
}

/// A fee per contract in `c`, exact to the minor unit, either sign (a negative maker fee is a
/// rebate).
pub fn parse_fee(c: Currency, field: &str, s: &str) -> ApiResult<i64> {
    let bad =
        |why: String| ApiError::bad(RejectCode::InvalidFee.as_str(), format!("{field}: {why}"));
    let d = Decimal::parse(s.trim()).map_err(|e| bad(format!("{s:?}: {e}")))?;
    let minor = d
        .div_exact(minor_unit(c))
        .map_err(|_| bad(format!("{s} has more decimals than {c} allows")))?;
    i64::try_from(minor).map_err(|_| bad(format!("{s} is out of range")))
}

pub fn parse_currency(s: &str) -> ApiResult<Currency> {
    Currency::parse(s).ok_or_else(|| {
        ApiError::bad(
            INVALID_FIELD,
            format!("currency: {s:?} is not one of USD, CNY"),
        )
    })
}

pub fn fmt_time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp((t.0 / 1_000_000_000) as i64, (t.0 % 1_000_000_000) as u32)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// RFC 3339 to a timestamp (for GTD expiry).
pub fn parse_time(field: &str, s: &str) -> ApiResult<Timestamp> {
    let d = chrono::DateTime::parse_from_rfc3339(s).map_err(|e| {
        ApiError::invalid_field(format!("{field}: {s:?} is not an RFC 3339 time: {e}"))
    })?;
    let ns = d
        .timestamp_nanos_opt()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::invalid_field(format!("{field}: out of range")))?;
    Ok(Timestamp(ns as u64))
}

/// Ticks-times-contracts average (numerator / denominator ticks) as a price string with
/// the tick's decimals plus four more.
pub fn fmt_avg_price(tick: Decimal, num: i128, den: i64) -> String {
    if den == 0 {
        return String::new();
    }
    let extra = 4u32;
    let n = num * tick.mantissa * 10i128.pow(extra);
    let d = den as i128;
    let q = (n.abs() + d.abs() / 2) / d.abs();
    let mut v = Decimal::new(if (n < 0) != (d < 0) { -q } else { q }, tick.scale + extra);
    while v.scale > tick.scale && v.mantissa % 10 == 0 {
        v.mantissa /= 10;
        v.scale -= 1;
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_and_quantities() {
        let tick = Decimal::parse("0.001").unwrap();
        assert_eq!(parse_price(tick, "price", "8.125").unwrap(), Price(8125));
        assert!(parse_price(tick, "price", "8.1255").is_err());
        assert!(parse_price(tick, "price", "0").is_err());
        assert!(parse_price(tick, "price", "-1").is_err());
        assert_eq!(fmt_price(tick, Price(8000)), "8.000");
        assert_eq!(parse_qty("qty", "5").unwrap(), Qty(5));
        for bad in ["0", "-1", "1.5", "x", ""] {
            assert!(parse_qty("qty", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_money(Currency::Usd, "amount", "10.5").unwrap(), 1050);
        assert!(parse_money(Currency::Usd, "amount", "0.001").is_err());
        assert_eq!(fmt_money(Currency::Usd, 1050), "10.50");
        assert_eq!(fmt_avg_price(tick, 8125 * 3, 3), "8.125");
        assert_eq!(fmt_avg_price(tick, -16250, -2), "8.125");
    }

    #[test]
    fn product_parameters() {
        let m = RejectCode::InvalidMargin;
        assert_eq!(parse_pct_bps("p", "12", m).unwrap(), 1_200);
        assert_eq!(parse_pct_bps("p", "12.5", m).unwrap(), 1_250);
        assert_eq!(parse_pct_bps("p", "0.01", m).unwrap(), 1);
        assert_eq!(parse_pct_bps("p", "0", m).unwrap(), 0);
        for bad in ["12.345", "-1", "x", "", "99999999999"] {
            let e = parse_pct_bps("p", bad, m).unwrap_err();
            assert_eq!(e.code, "INVALID_MARGIN", "{bad}");
        }
        let q = RejectCode::InvalidOrderQtyMax;
        assert_eq!(parse_count("q", "500", q).unwrap(), 500);
        assert_eq!(parse_count("q", "0", q).unwrap(), 0);
        for bad in ["1.5", "-1", "x"] {
            assert_eq!(
                parse_count("q", bad, q).unwrap_err().code,
                "INVALID_ORDER_QTY_MAX"
            );
        }
        assert_eq!(parse_fee(Currency::Usd, "f", "-0.05").unwrap(), -5);
        assert_eq!(parse_fee(Currency::Usd, "f", "1").unwrap(), 100);
        assert_eq!(
            parse_fee(Currency::Usd, "f", "0.001").unwrap_err().code,
            "INVALID_FEE"
        );
    }
}
