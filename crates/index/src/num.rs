//! Exact decimal arithmetic helpers. Prices are [`rust_decimal::Decimal`] (96-bit mantissa,
//! up to 28 fractional digits); nothing here ever touches binary floating point.

use rust_decimal::{Decimal, RoundingStrategy};

/// Fractional digits kept in intermediate results (weights, ratios): rust_decimal's own limit.
pub const INTERNAL_SCALE_MAX: u32 = 28;

/// Parses a JSON number's text (`-1.25e-06`, `0.075`, `3`) into an exact decimal.
/// Returns a message (for the importer's error) when the text is not a number or needs more
/// than 28 fractional digits or 28 significant digits.
pub fn decimal_from_json_number(text: &str) -> Result<Decimal, String> {
    let bad = || format!("not a number: {text:?}");
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mant, exp) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e = &rest[i + 1..];
            let e = e.strip_prefix('+').unwrap_or(e);
            let exp: i32 = e.parse().map_err(|_| bad())?;
            (&rest[..i], exp)
        }
        None => (rest, 0),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if mant.contains('.') && frac_part.is_empty() {
        return Err(bad());
    }
    let digits: String = int_part.chars().chain(frac_part.chars()).collect();
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if digits.len() > 28 {
        return Err(format!("too many significant digits: {text:?}"));
    }
    let mut m: i128 = digits.parse().map_err(|_| bad())?;
    let mut scale: i64 = frac_part.len() as i64 - exp as i64;
    if scale < 0 {
        if scale < -28 {
            return Err(format!("out of range: {text:?}"));
        }
        m = m
            .checked_mul(10i128.pow((-scale) as u32))
            .ok_or_else(|| format!("out of range: {text:?}"))?;
        scale = 0;
    }
    // Drop trailing zeros the scale does not need, then check the scale limit.
    while scale > 0 && m % 10 == 0 && m != 0 {
        m /= 10;
        scale -= 1;
    }
    if m == 0 {
        scale = 0;
    }
    if scale > INTERNAL_SCALE_MAX as i64 {
        return Err(format!(
            "more than {INTERNAL_SCALE_MAX} fractional digits: {text:?}"
        ));
    }
    let d = Decimal::try_from_i128_with_scale(if neg { -m } else { m }, scale as u32)
        .map_err(|_| format!("out of range: {text:?}"))?;
    Ok(d)
}

/// Parses a plain decimal string (`"0.25"`, `"-3"`; no exponent) exactly.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    if text.contains(['e', 'E']) {
        return Err(format!("exponents are not accepted here: {text:?}"));
    }
    decimal_from_json_number(text.trim())
}

/// USD per token → USD per million tokens, exactly (a shift of six decimal places).
pub fn per_token_to_per_million(d: Decimal) -> Decimal {
    (d * Decimal::from(1_000_000)).normalize()
}

/// Publication rounding: half away from zero ("half-up" for the positive values an index
/// takes) to `places` fractional digits.
/// The result always carries exactly `places` digits (`3.125000`), so published values have
/// one fixed format.
pub fn round_publish(d: Decimal, places: u32) -> Decimal {
    let mut r = d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(places);
    r
}

/// Median of a non-empty list (mean of the middle two for an even count). Sorts in place.
pub fn median(v: &mut [Decimal]) -> Decimal {
    v.sort();
    let n = v.len();
    assert!(n > 0, "median of an empty list");
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / Decimal::TWO
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn json_numbers_convert_exactly() {
        assert_eq!(decimal_from_json_number("3e-07").unwrap(), d("0.0000003"));
        assert_eq!(
            decimal_from_json_number("1.25e-06").unwrap(),
            d("0.00000125")
        );
        assert_eq!(decimal_from_json_number("0.075").unwrap(), d("0.075"));
        assert_eq!(decimal_from_json_number("-2E+3").unwrap(), d("-2000"));
        assert_eq!(decimal_from_json_number("0").unwrap(), Decimal::ZERO);
        assert_eq!(
            decimal_from_json_number("1.4999999999999999e-05").unwrap(),
            d("0.000014999999999999999")
        );
        for bad in ["", "-", "1.", ".5", "1e", "abc", "1.2.3", "0x10"] {
            assert!(decimal_from_json_number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn per_million_and_rounding() {
        assert_eq!(
            per_token_to_per_million(decimal_from_json_number("3e-07").unwrap()),
            d("0.3")
        );
        assert_eq!(round_publish(d("1.0000005"), 6), d("1.000001"));
        assert_eq!(round_publish(d("1.0000015"), 6), d("1.000002"));
        assert_eq!(round_publish(d("1.00000049"), 6), d("1.000000"));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [d("3"), d("1"), d("2")]), d("2"));
        assert_eq!(median(&mut [d("4"), d("1"), d("2"), d("3")]), d("2.5"));
    }
}
