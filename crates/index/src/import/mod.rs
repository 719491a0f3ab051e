//! Importers: each turns one external format into [`crate::ObservationSet`] plus an
//! [`ImportReport`](crate::ImportReport) of what was skipped and why.
//!
//! Policy, the same for all: a file that is not what it claims to be (bad JSON, wrong shape, a
//! price that is not a number, a negative price) is an error naming the file, the line and the
//! JSON path or CSV column, and what was wrong — nothing is imported from it. Entries that are
//! well-formed but not usable for a token index (no price, another mode, a free `:free`
//! variant, a `null` interval) are skipped and counted per reason.
//!
//! - [`snapshot`]: the model-prices snapshot (dated timelines).
//! - [`litellm`]: the LiteLLM price map (USD per token, JSON floats, converted from their text).
//! - [`openrouter`]: the OpenRouter models API (USD per token as strings).
//! - [`csv`]: token prices and GPU rental observations in documented CSV columns.

pub mod csv;
pub mod litellm;
pub mod openrouter;
pub mod snapshot;

use crate::json::{Json, JsonKind};
use crate::num::decimal_from_json_number;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

/// An input file that cannot be imported. Every variant names the file and the place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    #[error("{file}: line {line}, column {column}: invalid JSON: {message}")]
    Syntax {
        file: String,
        line: u32,
        column: u32,
        message: String,
    },
    #[error("{file}:{line} {path}: {message}")]
    Invalid {
        file: String,
        line: u32,
        path: String,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Csv {
        file: String,
        line: usize,
        message: String,
    },
}

pub(crate) fn read_file(path: &std::path::Path) -> Result<String, ImportError> {
    std::fs::read_to_string(path).map_err(|e| ImportError::Io {
        file: path.display().to_string(),
        message: e.to_string(),
    })
}

pub(crate) fn parse_json(text: &str, file: &str) -> Result<Json, ImportError> {
    Json::parse(text).map_err(|e| ImportError::Syntax {
        file: file.to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
    })
}

/// Shared helper: builds `Invalid` errors at a value.
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
}

impl Ctx<'_> {
    pub fn invalid(&self, at: &Json, path: &str, message: impl Into<String>) -> ImportError {
        ImportError::Invalid {
            file: self.file.to_string(),
            line: at.line,
            path: path.to_string(),
            message: message.into(),
        }
    }

    pub fn where_(&self, at: &Json, path: &str) -> String {
        format!("{}:{} {}", self.file, at.line, path)
    }

    pub fn object<'j>(&self, v: &'j Json, path: &str) -> Result<&'j [(String, Json)], ImportError> {
        v.as_object().ok_or_else(|| {
            self.invalid(
                v,
                path,
                format!("expected an object, found {}", v.type_name()),
            )
        })
    }

    pub fn array<'j>(&self, v: &'j Json, path: &str) -> Result<&'j [Json], ImportError> {
        v.as_array().ok_or_else(|| {
            self.invalid(
                v,
                path,
                format!("expected an array, found {}", v.type_name()),
            )
        })
    }

    pub fn string<'j>(&self, v: &'j Json, path: &str) -> Result<&'j str, ImportError> {
        v.as_str().ok_or_else(|| {
            self.invalid(
                v,
                path,
                format!("expected a string, found {}", v.type_name()),
            )
        })
    }

    /// A JSON number (exact, from its text), rejecting negatives.
    pub fn price_number(&self, v: &Json, path: &str) -> Result<Decimal, ImportError> {
        match &v.kind {
            JsonKind::Number(t) => {
                let d = decimal_from_json_number(t).map_err(|m| self.invalid(v, path, m))?;
                if d.is_sign_negative() && !d.is_zero() {
                    return Err(self.invalid(v, path, format!("negative price {t}")));
                }
                Ok(d)
            }
            _ => Err(self.invalid(
                v,
                path,
                format!("expected a number, found {}", v.type_name()),
            )),
        }
    }

    pub fn timestamp(&self, v: &Json, path: &str) -> Result<DateTime<Utc>, ImportError> {
        let s = self.string(v, path)?;
        parse_timestamp(s)
            .ok_or_else(|| self.invalid(v, path, format!("not an RFC 3339 timestamp: {s:?}")))
    }
}

/// Parses `2025-06-05T20:08:05Z` (any RFC 3339 offset) or a bare date `2025-06-05` (midnight UTC).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}
