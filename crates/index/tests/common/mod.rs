//! Helpers shared by the integration tests: small definitions and observations in memory.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use std::str::FromStr;
use tokex_index::{Decimal, IndexDefinition, ModelId, PriceObservation, Rates, StatusEvent};

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn ts(s: &str) -> DateTime<Utc> {
    tokex_index::import::parse_timestamp(s).unwrap()
}

/// A token index over `models` (one membership entry from 2026-01-01, or several given as
/// `(date, models)`), equal weights, no caps, fixing 08:00 UTC.
pub fn token_def(schedule: &[(&str, &[&str])], min: u32, carry_days: u32) -> IndexDefinition {
    token_def_with(
        schedule,
        min,
        carry_days,
        "scheme = \"equal\"\nmodel_cap = \"1\"\nprovider_cap = \"1\"",
        "",
    )
}

pub fn token_def_with(
    schedule: &[(&str, &[&str])],
    min: u32,
    carry_days: u32,
    weighting: &str,
    usage: &str,
) -> IndexDefinition {
    let mut t = format!(
        r#"id = "TPI-T"
name = "Test index"
kind = "token"
definition_version = 1
method_version = "tpi-1"
unit = "USD per 1M tokens"
currency = "USD"
methods = ["average", "chained"]
base_date = "2026-01-01"
fixing_time_utc = "08:00:00"
decimals = 6

[token]
tier = "test"
tier_rule = "test"
blend = {{ input = "3", output = "1" }}
eligible_after_days = 7

[token.weighting]
{weighting}

[token.data_rules]
staleness_days = 7
outlier_k = "3"
mad_floor = "0.01"
carry_forward_days = {carry_days}
min_constituents = {min}
"#
    );
    for (from, models) in schedule {
        let list: Vec<String> = models.iter().map(|m| format!("{m:?}")).collect();
        t.push_str(&format!(
            "\n[[token.membership]]\neffective_from = \"{from}\"\nmodels = [{}]\n",
            list.join(", ")
        ));
    }
    let usage = usage.to_string();
    IndexDefinition::from_toml_str(&t, "test.toml", &move |_name: &str| Ok(usage.clone())).unwrap()
}

/// A timeline observation (in force from `from`, vouched for until 2027).
pub fn obs(source: &str, model: &str, from: &str, input: &str, output: &str) -> PriceObservation {
    PriceObservation {
        source: source.into(),
        model: ModelId::parse(model).unwrap(),
        mode: "standard".into(),
        effective_from: ts(from),
        as_of: ts("2027-01-01T00:00:00Z"),
        rates: Some(Rates {
            input: d(input),
            output: d(output),
        }),
        origin: format!("test {model} {from}"),
    }
}

/// A flat price: input = output = p, so the blended price is p.
pub fn flat(source: &str, model: &str, from: &str, p: &str) -> PriceObservation {
    obs(source, model, from, p, p)
}

pub fn withdrawn(source: &str, model: &str, from: &str) -> PriceObservation {
    PriceObservation {
        rates: None,
        ..flat(source, model, from, "0")
    }
}

pub fn removed(model: &str, as_of: &str) -> StatusEvent {
    StatusEvent {
        source: "test".into(),
        model: ModelId::parse(model).unwrap(),
        status: "removed".into(),
        as_of: ts(as_of),
    }
}
