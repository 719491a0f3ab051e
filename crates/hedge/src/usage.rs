//! Usage exports → one record → a monthly forecast.
//!
//! Every importer returns [`UsageRecord`]s: date, provider, model, **uncached** input, **cached**
//! input, output, cost (if the export has one). Cached input tokens are kept apart so that no
//! token is counted twice:
//!
//! | export | input in the file | uncached input | cached input | cost |
//! |---|---|---|---|---|
//! | OpenAI Usage API `/v1/organization/usage/completions` | `input_tokens` *includes* `input_cached_tokens` | `input_tokens − input_cached_tokens` | `input_cached_tokens` | — |
//! | Anthropic `/v1/organizations/usage_report/messages` | `uncached_input_tokens` *excludes* cache reads | `uncached_input_tokens` + cache writes (`cache_creation.*`, billed at or above the input price) | `cache_read_input_tokens` | — |
//! | LiteLLM spend logs (`/spend/logs`) | `prompt_tokens` (OpenAI convention: includes cached) | `prompt_tokens − cached` | `metadata.usage_object.prompt_tokens_details.cached_tokens` if present, else 0 | `spend` |
//! | OpenRouter activity (`/api/v1/activity`) | `prompt_tokens` (no cache split in the export) | `prompt_tokens` | 0 | `usage` |
//!
//! JSON money values (floats in these exports) are converted from their shortest decimal text.
//!
//! **Projection** ([`project`]): the run rate of the **last full calendar month** in the data
//! (the month of the newest record if that record is on the month's last day, else the month
//! before), per model, held flat for the next N months starting with the month after it. A
//! trend fitted to a few months of usage of a fast-changing product is more noise than signal;
//! the flat run rate is what a budget starts from, and the forecast CSV can be edited.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::forecast::{ForecastRow, Month};
use crate::PlanError;

/// One normalised usage record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub date: NaiveDate,
    pub provider: String,
    pub model: String,
    pub uncached_input: u64,
    pub cached_input: u64,
    pub output: u64,
    /// USD, when the export carries it.
    pub cost: Option<Decimal>,
}

/// Which export a file is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UsageFormat {
    OpenAi,
    Anthropic,
    LiteLlm,
    OpenRouter,
}

/// Parses one export.
pub fn import_usage(
    format: UsageFormat,
    text: &str,
    file: &str,
) -> Result<Vec<UsageRecord>, PlanError> {
    let v: Value = serde_json::from_str(text).map_err(|e| PlanError::Usage {
        file: file.into(),
        message: format!("invalid JSON: {e}"),
    })?;
    let cx = Cx { file };
    match format {
        UsageFormat::OpenAi => openai(&v, &cx),
        UsageFormat::Anthropic => anthropic(&v, &cx),
        UsageFormat::LiteLlm => litellm(&v, &cx),
        UsageFormat::OpenRouter => openrouter(&v, &cx),
    }
}

struct Cx<'a> {
    file: &'a str,
}

impl Cx<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> PlanError {
        PlanError::Usage {
            file: self.file.to_string(),
            message: format!("{path}: {}", message.into()),
        }
    }

    fn tokens(&self, o: &Value, key: &str, path: &str) -> Result<u64, PlanError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => v.as_u64().ok_or_else(|| {
                self.err(
                    &format!("{path}.{key}"),
                    format!("{v} is not a token count"),
                )
            }),
        }
    }

    fn money(&self, o: &Value, key: &str, path: &str) -> Result<Option<Decimal>, PlanError> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Decimal::from_str(&n.to_string())
                .or_else(|_| Decimal::from_scientific(&n.to_string()))
                .map(Some)
                .map_err(|_| self.err(&format!("{path}.{key}"), format!("{n} is not an amount"))),
            Some(Value::String(s)) => Decimal::from_str(s)
                .map(Some)
                .map_err(|_| self.err(&format!("{path}.{key}"), format!("{s:?} is not an amount"))),
            Some(v) => Err(self.err(&format!("{path}.{key}"), format!("{v} is not an amount"))),
        }
    }

    fn str<'v>(&self, o: &'v Value, key: &str, path: &str) -> Result<&'v str, PlanError> {
        o.get(key).and_then(Value::as_str).ok_or_else(|| {
            self.err(
                &format!("{path}.{key}"),
                "missing (for OpenAI, export with group_by=model)",
            )
        })
    }

    fn date(&self, s: &str, path: &str) -> Result<NaiveDate, PlanError> {
        let s = s.trim();
        if let Ok(d) = DateTime::parse_from_rfc3339(s) {
            return Ok(d.naive_utc().date());
        }
        if let Some(d) = s
            .get(..10)
            .and_then(|x| NaiveDate::parse_from_str(x, "%Y-%m-%d").ok())
        {
            return Ok(d);
        }
        Err(self.err(path, format!("{s:?} is not a date")))
    }
}

/// `data` of one page, or the concatenation over an array of pages; or a bare array.
fn items<'v>(v: &'v Value, cx: &Cx) -> Result<Vec<(String, &'v Value)>, PlanError> {
    let mut out = Vec::new();
    let pages: Vec<&Value> = match v {
        Value::Array(a) if a.iter().all(|p| p.get("data").is_some()) && !a.is_empty() => {
            a.iter().collect()
        }
        Value::Array(a) => {
            return Ok(a
                .iter()
                .enumerate()
                .map(|(i, x)| (format!("$[{i}]"), x))
                .collect())
        }
        other => vec![other],
    };
    for (p, page) in pages.iter().enumerate() {
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| cx.err("$.data", "missing: not a usage page"))?;
        for (i, x) in data.iter().enumerate() {
            out.push((format!("page {p} $.data[{i}]"), x));
        }
    }
    Ok(out)
}

fn openai(v: &Value, cx: &Cx) -> Result<Vec<UsageRecord>, PlanError> {
    let mut out = Vec::new();
    for (path, b) in items(v, cx)? {
        let start = b
            .get("start_time")
            .and_then(Value::as_i64)
            .ok_or_else(|| cx.err(&format!("{path}.start_time"), "missing unix time"))?;
        let date = DateTime::from_timestamp(start, 0)
            .ok_or_else(|| cx.err(&format!("{path}.start_time"), "out of range"))?
            .date_naive();
        let results = b
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| cx.err(&format!("{path}.results"), "missing"))?;
        for (j, r) in results.iter().enumerate() {
            let rp = format!("{path}.results[{j}]");
            let input = cx.tokens(r, "input_tokens", &rp)?;
            let cached = cx.tokens(r, "input_cached_tokens", &rp)?;
            if cached > input {
                return Err(cx.err(
                    &rp,
                    format!("input_cached_tokens {cached} > input_tokens {input}: OpenAI's input_tokens include the cached ones"),
                ));
            }
            out.push(UsageRecord {
                date,
                provider: "openai".into(),
                model: cx.str(r, "model", &rp)?.to_string(),
                uncached_input: input - cached,
                cached_input: cached,
                output: cx.tokens(r, "output_tokens", &rp)?,
                cost: None,
            });
        }
    }
    Ok(out)
}

fn anthropic(v: &Value, cx: &Cx) -> Result<Vec<UsageRecord>, PlanError> {
    let mut out = Vec::new();
    for (path, b) in items(v, cx)? {
        let date = cx.date(
            cx.str(b, "starting_at", &path)?,
            &format!("{path}.starting_at"),
        )?;
        let results = b
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| cx.err(&format!("{path}.results"), "missing"))?;
        for (j, r) in results.iter().enumerate() {
            let rp = format!("{path}.results[{j}]");
            let mut writes = 0;
            if let Some(cc) = r.get("cache_creation") {
                writes += cx.tokens(cc, "ephemeral_5m_input_tokens", &rp)?;
                writes += cx.tokens(cc, "ephemeral_1h_input_tokens", &rp)?;
            }
            out.push(UsageRecord {
                date,
                provider: "anthropic".into(),
                model: cx.str(r, "model", &rp)?.to_string(),
                uncached_input: cx.tokens(r, "uncached_input_tokens", &rp)? + writes,
                cached_input: cx.tokens(r, "cache_read_input_tokens", &rp)?,
                output: cx.tokens(r, "output_tokens", &rp)?,
                cost: None,
            });
        }
    }
    Ok(out)
}

fn split_provider(model: &str, fallback: &str) -> (String, String) {
    match model.split_once('/') {
        Some((p, m)) => (p.to_string(), m.to_string()),
        None => (fallback.to_string(), model.to_string()),
    }
}

fn litellm(v: &Value, cx: &Cx) -> Result<Vec<UsageRecord>, PlanError> {
    let mut out = Vec::new();
    for (path, r) in items(v, cx)? {
        let date = cx.date(cx.str(r, "startTime", &path)?, &format!("{path}.startTime"))?;
        let prompt = cx.tokens(r, "prompt_tokens", &path)?;
        let cached = r
            .pointer("/metadata/usage_object/prompt_tokens_details/cached_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(prompt);
        let fallback = r
            .get("custom_llm_provider")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (provider, model) = split_provider(cx.str(r, "model", &path)?, fallback);
        out.push(UsageRecord {
            date,
            provider,
            model,
            uncached_input: prompt - cached,
            cached_input: cached,
            output: cx.tokens(r, "completion_tokens", &path)?,
            cost: cx.money(r, "spend", &path)?,
        });
    }
    Ok(out)
}

fn openrouter(v: &Value, cx: &Cx) -> Result<Vec<UsageRecord>, PlanError> {
    let mut out = Vec::new();
    for (path, r) in items(v, cx)? {
        let date = cx.date(cx.str(r, "date", &path)?, &format!("{path}.date"))?;
        let (provider, model) = split_provider(cx.str(r, "model", &path)?, "openrouter");
        out.push(UsageRecord {
            date,
            provider,
            model,
            uncached_input: cx.tokens(r, "prompt_tokens", &path)?,
            cached_input: 0,
            output: cx.tokens(r, "completion_tokens", &path)?,
            cost: cx.money(r, "usage", &path)?,
        });
    }
    Ok(out)
}

/// What [`project`] did, in words and figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Projection {
    pub base_month: Month,
    pub first_month: Month,
    pub months: usize,
    pub description: String,
}

/// Projects records to a monthly forecast: the last full month's run rate per model, flat, for
/// `months` months from the month after it. Model names are `provider/model`.
pub fn project(
    records: &[UsageRecord],
    months: usize,
) -> Result<(Vec<ForecastRow>, Projection), PlanError> {
    let newest = records
        .iter()
        .map(|r| r.date)
        .max()
        .ok_or_else(|| PlanError::Input("no usage records to project".into()))?;
    let m = Month::of(newest);
    let base = if newest == m.last_day() { m } else { m.prev() };
    let mut per: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for r in records.iter().filter(|r| Month::of(r.date) == base) {
        let e = per
            .entry(format!("{}/{}", r.provider, r.model))
            .or_default();
        e.0 += r.uncached_input;
        e.1 += r.cached_input;
        e.2 += r.output;
    }
    if per.is_empty() {
        return Err(PlanError::Input(format!(
            "no usage in {base}, the last full month before the newest record ({newest}): give at least one full calendar month"
        )));
    }
    let first = base.next();
    let mut rows = Vec::new();
    let mut mm = first;
    for _ in 0..months {
        for (model, (i, c, o)) in &per {
            rows.push(ForecastRow {
                month: mm,
                model: model.clone(),
                input_tokens: *i,
                output_tokens: *o,
                cached_input_tokens: *c,
            });
        }
        mm = mm.next();
    }
    let description = format!(
        "run rate of {base} (the last full calendar month in the data; newest record {newest}) per model, held flat for {months} months from {first}"
    );
    Ok((
        rows,
        Projection {
            base_month: base,
            first_month: first,
            months,
            description,
        },
    ))
}
