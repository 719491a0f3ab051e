//! The forecast: months, rows of token consumption, and its CSV form.
//!
//! ```text
//! month,model,input_tokens,output_tokens[,cached_input_tokens]
//! 2026-11,anthropic/claude-sonnet-4-6,3000000000,1000000000,500000000
//! 2026-11,economy,20000000000,5000000000
//! ```
//!
//! `input_tokens` are **uncached** input tokens (billed at the full input price); cached input
//! tokens (cache reads, billed at a discount) go in the optional `cached_input_tokens` column —
//! so a token is never counted twice. `model` is a model name or a tier (`frontier`,
//! `standard`, `economy`, `china`), an index id (`TPI-F`) or a product root (`TKF`).

use crate::PlanError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A calendar month, written `YYYY-MM`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        (1..=12).contains(&month).then_some(Month { year, month })
    }

    pub fn of(date: chrono::NaiveDate) -> Month {
        use chrono::Datelike;
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn parse(s: &str) -> Option<Month> {
        let s = s.trim();
        let (y, m) = s.split_once('-')?;
        if y.len() != 4 || !(1..=2).contains(&m.len()) {
            return None;
        }
        Month::new(y.parse().ok()?, m.parse().ok()?)
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn first_day(self) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    pub fn last_day(self) -> chrono::NaiveDate {
        self.next().first_day().pred_opt().expect("valid date")
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let s = String::deserialize(d)?;
        Month::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not YYYY-MM")))
    }
}

/// One forecast line: a month's consumption of one model (or tier).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastRow {
    pub month: Month,
    /// A model name, or a tier / index id / product root.
    pub model: String,
    /// Uncached input tokens.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Cached input tokens (cache reads), not included in `input_tokens`.
    #[serde(default)]
    pub cached_input_tokens: u64,
}

/// Most rows a forecast may have.
pub const FORECAST_ROWS_MAX: usize = 10_000;

/// Parses the forecast CSV (header required; `#` lines and blank lines ignored; `_` and `,`
/// inside numbers are not allowed — write plain integers).
pub fn parse_forecast_csv(text: &str, file: &str) -> Result<Vec<ForecastRow>, PlanError> {
    let err = |line: usize, message: String| PlanError::Forecast {
        file: file.to_string(),
        line,
        message,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (hline, header) = lines
        .next()
        .ok_or_else(|| err(1, "empty file: expected a header month,model,input_tokens,output_tokens[,cached_input_tokens]".into()))?;
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let find = |name: &str| cols.iter().position(|c| c == name);
    let (Some(cm), Some(cmodel), Some(cin), Some(cout)) = (
        find("month"),
        find("model").or_else(|| find("tier")),
        find("input_tokens"),
        find("output_tokens"),
    ) else {
        return Err(err(
            hline,
            format!("header {header:?}: expected columns month, model (or tier), input_tokens, output_tokens and optionally cached_input_tokens"),
        ));
    };
    let ccached = find("cached_input_tokens");
    let mut rows = Vec::new();
    for (n, line) in lines {
        if rows.len() == FORECAST_ROWS_MAX {
            return Err(err(n, format!("more than {FORECAST_ROWS_MAX} rows")));
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            return Err(err(
                n,
                format!("{} fields, the header has {}", f.len(), cols.len()),
            ));
        }
        let month = Month::parse(f[cm])
            .ok_or_else(|| err(n, format!("month {:?} is not YYYY-MM", f[cm])))?;
        let int = |i: usize, what: &str| -> Result<u64, PlanError> {
            f[i].parse::<u64>().map_err(|_| {
                err(
                    n,
                    format!("{what} {:?} is not a whole number of tokens", f[i]),
                )
            })
        };
        let model = f[cmodel].to_string();
        if model.is_empty() {
            return Err(err(n, "empty model".into()));
        }
        rows.push(ForecastRow {
            month,
            model,
            input_tokens: int(cin, "input_tokens")?,
            output_tokens: int(cout, "output_tokens")?,
            cached_input_tokens: match ccached {
                Some(c) if !f[c].is_empty() => int(c, "cached_input_tokens")?,
                _ => 0,
            },
        });
    }
    if rows.is_empty() {
        return Err(err(hline, "no rows after the header".into()));
    }
    Ok(rows)
}

/// Writes rows in the CSV form [`parse_forecast_csv`] reads.
pub fn forecast_to_csv(rows: &[ForecastRow]) -> String {
    let mut s = String::from("month,model,input_tokens,output_tokens,cached_input_tokens\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{}\n",
            r.month, r.model, r.input_tokens, r.output_tokens, r.cached_input_tokens
        ));
    }
    s
}
