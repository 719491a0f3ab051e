//! CSV importers (RFC 4180 subset: comma-separated, a header row, optional double quotes with
//! `""` escapes, no line breaks inside fields; blank lines and lines starting with `#` are
//! ignored). Columns are found by header name; extra columns are ignored.
//!
//! **Token prices** ([`import_token_csv`]) — one row per observation:
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `observed_at` | yes | RFC 3339 time (or `YYYY-MM-DD`, midnight UTC) the price was seen |
//! | `provider` | yes | lab, e.g. `openai` |
//! | `model` | yes | model name, e.g. `gpt-4.1` |
//! | `input_usd_per_mtok` | yes | USD per million input tokens (decimal) |
//! | `output_usd_per_mtok` | yes | USD per million output tokens (decimal) |
//! | `mode` | no | `standard` (default), `batch`, … |
//! | `source` | no | source tag (default `csv:<file name>`) |
//!
//! **GPU rentals** ([`import_gpu_csv`]) — one row per offer or transaction:
//!
//! | column | required | meaning |
//! |---|---|---|
//! | `observed_at` | yes | RFC 3339 time |
//! | `provider` | yes | contributor (cloud or marketplace) |
//! | `gpu_model` | yes | e.g. `H100` |
//! | `region` | no | e.g. `us-east` |
//! | `lease_type` | yes | `on_demand`, `spot`, `reserved_<N>m` |
//! | `price_usd_per_gpu_hour` | yes | decimal |
//! | `gpu_count` | yes | whole GPUs (the volume weight) |
//! | `source` | no | source tag (default `csv:<file name>`) |
//!
//! A malformed value is an error naming the file, line and column; nothing is skipped silently.

use super::{parse_timestamp, read_file, ImportError};
use crate::num::parse_decimal;
use crate::observation::{
    GpuObservation, ImportReport, LeaseType, ModelId, ObservationSet, PriceObservation, Rates,
};
use std::path::Path;

/// Splits one CSV line into fields.
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' && field_start {
            quoted = true;
            field_start = false;
        } else if c == ',' {
            fields.push(std::mem::take(&mut cur).trim().to_string());
            field_start = true;
        } else {
            cur.push(c);
            if !c.is_whitespace() {
                field_start = false;
            }
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(cur.trim().to_string());
    Ok(fields)
}

struct Table<'a> {
    file: &'a str,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl<'a> Table<'a> {
    fn parse(text: &str, file: &'a str) -> Result<Table<'a>, ImportError> {
        let mut header = None;
        let mut rows = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let fields = split_csv_line(line).map_err(|m| ImportError::Csv {
                file: file.into(),
                line: line_no,
                message: m,
            })?;
            if header.is_none() {
                header = Some(fields);
            } else {
                rows.push((line_no, fields));
            }
        }
        let header = header.ok_or_else(|| ImportError::Csv {
            file: file.into(),
            line: 1,
            message: "no header row".into(),
        })?;
        Ok(Table { file, header, rows })
    }

    fn col(&self, name: &str, required: bool) -> Result<Option<usize>, ImportError> {
        let i = self.header.iter().position(|h| h == name);
        if i.is_none() && required {
            return Err(ImportError::Csv {
                file: self.file.into(),
                line: 1,
                message: format!(
                    "missing required column {name:?} (header: {})",
                    self.header.join(",")
                ),
            });
        }
        Ok(i)
    }

    fn err(&self, line: usize, col: &str, message: impl std::fmt::Display) -> ImportError {
        ImportError::Csv {
            file: self.file.into(),
            line,
            message: format!("column {col:?}: {message}"),
        }
    }

    fn get<'r>(
        &self,
        row: &'r (usize, Vec<String>),
        idx: usize,
        col: &str,
    ) -> Result<&'r str, ImportError> {
        let v = row.1.get(idx).map(String::as_str).unwrap_or("");
        if v.is_empty() {
            return Err(self.err(row.0, col, "empty value"));
        }
        Ok(v)
    }
}

fn default_source(file: &str) -> String {
    let name = Path::new(file)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.into());
    format!("csv:{name}")
}

pub fn import_token_csv_file(path: &Path) -> Result<(ObservationSet, ImportReport), ImportError> {
    import_token_csv(&read_file(path)?, &path.display().to_string())
}

pub fn import_token_csv(
    text: &str,
    file: &str,
) -> Result<(ObservationSet, ImportReport), ImportError> {
    let t = Table::parse(text, file)?;
    let c_time = t.col("observed_at", true)?.expect("required");
    let c_prov = t.col("provider", true)?.expect("required");
    let c_model = t.col("model", true)?.expect("required");
    let c_in = t.col("input_usd_per_mtok", true)?.expect("required");
    let c_out = t.col("output_usd_per_mtok", true)?.expect("required");
    let c_mode = t.col("mode", false)?;
    let c_src = t.col("source", false)?;
    let dsrc = default_source(file);
    let mut report = ImportReport::new(&dsrc);
    let mut out = ObservationSet::default();
    for row in &t.rows {
        let ts = t.get(row, c_time, "observed_at")?;
        let at = parse_timestamp(ts)
            .ok_or_else(|| t.err(row.0, "observed_at", format!("not a timestamp: {ts:?}")))?;
        let dec = |i: usize, name: &str| -> Result<rust_decimal::Decimal, ImportError> {
            let s = t.get(row, i, name)?;
            let d = parse_decimal(s).map_err(|m| t.err(row.0, name, m))?;
            if d.is_sign_negative() {
                return Err(t.err(row.0, name, format!("negative price {s}")));
            }
            Ok(d)
        };
        let opt = |c: Option<usize>| {
            c.and_then(|i| row.1.get(i))
                .filter(|s| !s.is_empty())
                .cloned()
        };
        out.prices.push(PriceObservation {
            source: opt(c_src).unwrap_or_else(|| dsrc.clone()),
            model: ModelId::new(
                t.get(row, c_prov, "provider")?,
                t.get(row, c_model, "model")?,
            ),
            mode: opt(c_mode).unwrap_or_else(|| "standard".into()),
            effective_from: at,
            as_of: at,
            rates: Some(Rates {
                input: dec(c_in, "input_usd_per_mtok")?,
                output: dec(c_out, "output_usd_per_mtok")?,
            }),
            origin: format!("{file}:{}", row.0),
        });
    }
    report.observations = out.prices.len();
    Ok((out, report))
}

pub fn import_gpu_csv_file(path: &Path) -> Result<(ObservationSet, ImportReport), ImportError> {
    import_gpu_csv(&read_file(path)?, &path.display().to_string())
}

pub fn import_gpu_csv(
    text: &str,
    file: &str,
) -> Result<(ObservationSet, ImportReport), ImportError> {
    let t = Table::parse(text, file)?;
    let c_time = t.col("observed_at", true)?.expect("required");
    let c_prov = t.col("provider", true)?.expect("required");
    let c_gpu = t.col("gpu_model", true)?.expect("required");
    let c_lease = t.col("lease_type", true)?.expect("required");
    let c_price = t.col("price_usd_per_gpu_hour", true)?.expect("required");
    let c_count = t.col("gpu_count", true)?.expect("required");
    let c_region = t.col("region", false)?;
    let c_src = t.col("source", false)?;
    let dsrc = default_source(file);
    let mut report = ImportReport::new(&dsrc);
    let mut out = ObservationSet::default();
    for row in &t.rows {
        let ts = t.get(row, c_time, "observed_at")?;
        let at = parse_timestamp(ts)
            .ok_or_else(|| t.err(row.0, "observed_at", format!("not a timestamp: {ts:?}")))?;
        let ls = t.get(row, c_lease, "lease_type")?;
        let lease = LeaseType::parse(ls).ok_or_else(|| {
            t.err(
                row.0,
                "lease_type",
                format!("{ls:?} is not on_demand, spot or reserved_<N>m"),
            )
        })?;
        let ps = t.get(row, c_price, "price_usd_per_gpu_hour")?;
        let price = parse_decimal(ps).map_err(|m| t.err(row.0, "price_usd_per_gpu_hour", m))?;
        if price.is_sign_negative() || price.is_zero() {
            return Err(t.err(
                row.0,
                "price_usd_per_gpu_hour",
                format!("price must be positive, got {ps}"),
            ));
        }
        let cs = t.get(row, c_count, "gpu_count")?;
        let gpu_count: u32 = cs.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
            t.err(
                row.0,
                "gpu_count",
                format!("expected a positive whole number, got {cs:?}"),
            )
        })?;
        let opt = |c: Option<usize>| {
            c.and_then(|i| row.1.get(i))
                .filter(|s| !s.is_empty())
                .cloned()
        };
        out.gpu.push(GpuObservation {
            source: opt(c_src).unwrap_or_else(|| dsrc.clone()),
            provider: t.get(row, c_prov, "provider")?.to_string(),
            gpu_model: t.get(row, c_gpu, "gpu_model")?.to_string(),
            region: opt(c_region).unwrap_or_default(),
            lease,
            price,
            gpu_count,
            observed_at: at,
            origin: format!("{file}:{}", row.0),
        });
    }
    report.observations = out.gpu.len();
    Ok((out, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(
            split_csv_line(r#"a, "b,c" ,"d""e""#).unwrap(),
            vec!["a", "b,c", "d\"e"]
        );
        assert!(split_csv_line("\"open").is_err());
    }
}
