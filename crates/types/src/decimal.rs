//! Exact decimal ⇄ fixed-point conversion for the edges (config files, JSON, FIX).
//!
//! A [`Decimal`] is `mantissa × 10^-scale` with an `i128` mantissa. No binary floating point
//! is ever involved: "0.001" is parsed digit by digit.

use std::fmt;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decimal {
    pub mantissa: i128,
    pub scale: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("not a decimal number: {0:?}")]
    Syntax(String),
    #[error("too many digits: {0:?}")]
    Overflow(String),
    #[error("{value} is not a multiple of {unit}")]
    NotMultiple { value: String, unit: String },
}

/// Most fractional digits accepted anywhere.
pub const DECIMAL_SCALE_MAX: u32 = 18;

impl Decimal {
    pub const fn new(mantissa: i128, scale: u32) -> Decimal {
        Decimal { mantissa, scale }
    }

    /// Parses `[-]digits[.digits]`. Rejects exponents, signs other than a leading '-', empty
    /// parts, and more than [`DECIMAL_SCALE_MAX`] fractional digits.
    pub fn parse(s: &str) -> Result<Decimal, DecimalError> {
        let err = || DecimalError::Syntax(s.to_string());
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() || (body.contains('.') && frac_part.is_empty()) {
            return Err(err());
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        if frac_part.len() as u32 > DECIMAL_SCALE_MAX || int_part.len() > 20 {
            return Err(DecimalError::Overflow(s.to_string()));
        }
        let mut m: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            m = m
                .checked_mul(10)
                .and_then(|m| m.checked_add((b - b'0') as i128))
                .ok_or_else(|| DecimalError::Overflow(s.to_string()))?;
        }
        Ok(Decimal {
            mantissa: if neg { -m } else { m },
            scale: frac_part.len() as u32,
        }
        .normalized())
    }

    /// Drops trailing fractional zeros: `1.500` → `1.5`.
    pub fn normalized(mut self) -> Decimal {
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        self
    }

    /// The mantissa at a larger scale, if it fits.
    pub fn rescaled(self, scale: u32) -> Option<i128> {
        if scale < self.scale {
            return None;
        }
        10i128
            .checked_pow(scale - self.scale)
            .and_then(|f| self.mantissa.checked_mul(f))
    }

    /// How many whole `unit`s make `self`; an error if `self` is not an exact multiple.
    pub fn div_exact(self, unit: Decimal) -> Result<i128, DecimalError> {
        let scale = self.scale.max(unit.scale);
        let not_multiple = || DecimalError::NotMultiple {
            value: self.to_string(),
            unit: unit.to_string(),
        };
        let a = self.rescaled(scale).ok_or_else(not_multiple)?;
        let b = unit.rescaled(scale).ok_or_else(not_multiple)?;
        if b == 0 || a % b != 0 {
            return Err(not_multiple());
        }
        Ok(a / b)
    }

    /// `n × unit` as a decimal (exact).
    pub fn times(unit: Decimal, n: i128) -> Decimal {
        Decimal {
            mantissa: unit.mantissa * n,
            scale: unit.scale,
        }
        .normalized()
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.mantissa < 0;
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let s = if scale == 0 {
            digits
        } else if digits.len() > scale {
            format!(
                "{}.{}",
                &digits[..digits.len() - scale],
                &digits[digits.len() - scale..]
            )
        } else {
            format!("0.{}{}", "0".repeat(scale - digits.len()), digits)
        };
        if neg {
            write!(f, "-{s}")
        } else {
            f.write_str(&s)
        }
    }
}

impl std::str::FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        for (s, m, sc) in [
            ("0.001", 1, 3),
            ("12.5", 125, 1),
            ("-3", -3, 0),
            ("1.500", 15, 1),
            ("0", 0, 0),
        ] {
            let d = Decimal::parse(s).unwrap();
            assert_eq!((d.mantissa, d.scale), (m, sc), "{s}");
        }
        assert_eq!(Decimal::parse("0.0001").unwrap().to_string(), "0.0001");
        assert_eq!(Decimal::parse("-12.05").unwrap().to_string(), "-12.05");
    }

    #[test]
    fn rejects_bad_syntax() {
        for s in [
            "", ".", "1.", ".5", "1e3", "+1", "1.2.3", "abc", " 1", "NaN",
        ] {
            assert!(Decimal::parse(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn div_exact_counts_ticks() {
        let tick = Decimal::parse("0.001").unwrap();
        assert_eq!(
            Decimal::parse("2.345").unwrap().div_exact(tick).unwrap(),
            2345
        );
        assert!(Decimal::parse("2.3455").unwrap().div_exact(tick).is_err());
        assert_eq!(Decimal::times(tick, 2345).to_string(), "2.345");
    }
}
