//! Index definitions: versioned TOML files (`config/indexes/*.toml`), the usage-share weights
//! file they point to, and the FX fixing series for non-USD indexes.
//!
//! Every decimal parameter is written as a TOML **string** (`model_cap = "0.25"`) so that it is
//! read exactly; a TOML float is rejected with a message saying so.

use crate::num::parse_decimal;
use crate::observation::ModelId;
use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A definition that cannot be used, with the file and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DefinitionError {
    pub file: String,
    pub message: String,
}

/// How an index level is computed.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Weighted average blended price of the current basket (moves when the mix moves).
    Average,
    /// Laspeyres, chain-linked at each monthly rebalance; level = the base date's average.
    Chained,
    /// GPU indexes: volume-weighted median after trim and contributor cap.
    WeightedMedian,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Average => "average",
            Method::Chained => "chained",
            Method::WeightedMedian => "weighted_median",
        }
    }
}

/// Which family an index belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexKind {
    Token(Box<TokenSpec>),
    Gpu(GpuSpec),
}

/// A loaded, validated index definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDefinition {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Version of this definition file (bumped on any change to it).
    pub definition_version: u32,
    /// Version of the computation rules (`tpi-1`, `gci-1`); recorded in every fixing.
    pub method_version: String,
    pub unit: String,
    /// ISO currency code of the published value (`USD`, `CNY`).
    pub currency: String,
    /// Published methods; the first is the settlement method (the fixing's `value`).
    pub methods: Vec<Method>,
    /// First date of the history; the chained level is set on the first sufficient fixing.
    pub base_date: NaiveDate,
    /// Fixing time of day, UTC.
    pub fixing_time: NaiveTime,
    /// Fractional digits of published values (rounded half away from zero).
    pub decimals: u32,
    pub kind: IndexKind,
    /// Where the definition was loaded from, if from a file.
    pub path: Option<PathBuf>,
    /// sha256 of the definition text and every file it references, in order (hex).
    pub sha256: String,
}

/// Token price index parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSpec {
    pub tier: String,
    /// The tier's membership rule in words (printed in the methodology page).
    pub tier_rule: String,
    /// Price mode used (`standard`).
    pub mode: String,
    /// Blend weights: blended = (input·a + output·b) / (a + b); default 3:1.
    pub blend_input: Decimal,
    pub blend_output: Decimal,
    /// A model is eligible at a rebalance only after it has been priced this many days.
    pub eligible_after_days: u32,
    pub weighting: Weighting,
    pub rules: DataRules,
    pub fx: Option<FxSpec>,
    /// Membership schedule, ascending by `effective_from`.
    pub membership: Vec<MembershipEntry>,
    /// Other sources' names for a model → the canonical `provider/model`.
    pub model_aliases: BTreeMap<ModelId, ModelId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipEntry {
    pub effective_from: NaiveDate,
    pub models: Vec<ModelId>,
    pub rationale: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weighting {
    /// `None` → equal weights.
    pub usage: Option<UsageShares>,
    /// Per-model cap as a fraction (0.25).
    pub model_cap: Decimal,
    /// Per-provider cap as a fraction (0.40).
    pub provider_cap: Decimal,
}

/// Data rules (IOSCO-style).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRules {
    /// An observation whose source last vouched for it more than this many days before the
    /// fixing time is not used.
    pub staleness_days: u32,
    /// Cross-source outlier threshold: excluded when |p − median| > k · max(MAD, floor·median).
    pub outlier_k: Decimal,
    /// Relative floor for the MAD (so identical quotes do not make every deviation an outlier).
    pub mad_floor: Decimal,
    /// A constituent without a valid price carries its last price at most this many days.
    pub carry_forward_days: u32,
    /// Fewer valid constituents → "insufficient data".
    pub min_constituents: u32,
}

/// Currency conversion for non-USD indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxSpec {
    /// e.g. `USD/CNY` (units of the index currency per USD).
    pub pair: String,
    /// Dated fixings (date → rate and its label), if a series file is given.
    pub series: BTreeMap<NaiveDate, (Decimal, String)>,
    pub series_file: Option<String>,
    /// Rate used when the series has no fixing on or before the date.
    pub default_rate: Decimal,
    /// What the default rate is (printed with every fixing that uses it).
    pub default_label: String,
}

impl FxSpec {
    /// The rate in force on `date` and its label.
    pub fn rate_on(&self, date: NaiveDate) -> (Decimal, String) {
        match self.series.range(..=date).next_back() {
            Some((d, (r, label))) => {
                let file = self.series_file.as_deref().unwrap_or("series");
                if label.is_empty() {
                    (*r, format!("{} {r} in force from {d} ({file})", self.pair))
                } else {
                    (
                        *r,
                        format!("{} {r} in force from {d} ({file}): {label}", self.pair),
                    )
                }
            }
            None => (self.default_rate, self.default_label.clone()),
        }
    }
}

/// The usage-share file: dated periods of relative shares per model, with its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageShares {
    pub file: String,
    pub version: u32,
    pub as_of: NaiveDate,
    /// Where the shares come from, in words — honest about assumptions.
    pub source: String,
    /// Share given to a basket model the file does not list.
    pub default_share: Decimal,
    pub periods: Vec<UsagePeriod>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsagePeriod {
    pub effective_from: NaiveDate,
    pub shares: BTreeMap<ModelId, Decimal>,
}

impl UsageShares {
    /// The period in force on `date` (None before the first).
    pub fn period_on(&self, date: NaiveDate) -> Option<&UsagePeriod> {
        self.periods.iter().rev().find(|p| p.effective_from <= date)
    }
}

/// GPU compute index parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuSpec {
    pub gpu_model: String,
    /// Lease type key (`on_demand`, `spot`, `reserved_12m`) → factor to on-demand equivalent.
    pub lease_factors: BTreeMap<String, Decimal>,
    /// Fraction trimmed from each end, by observation count (0.10).
    pub trim_fraction: Decimal,
    /// Largest share of volume any one contributor may carry (0.50).
    pub contributor_cap: Decimal,
    /// Observations in the window considered for one fixing: (fixing − window, fixing].
    pub window_hours: u32,
    pub min_observations: u32,
    pub min_contributors: u32,
}

// ---- raw TOML shapes -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDef {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    kind: String,
    definition_version: u32,
    method_version: String,
    unit: String,
    currency: String,
    methods: Vec<Method>,
    base_date: NaiveDate,
    fixing_time_utc: String,
    decimals: u32,
    token: Option<RawToken>,
    gpu: Option<RawGpu>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    tier: String,
    tier_rule: String,
    #[serde(default = "default_mode")]
    mode: String,
    blend: RawBlend,
    eligible_after_days: u32,
    weighting: RawWeighting,
    data_rules: RawRules,
    fx: Option<RawFx>,
    membership: Vec<RawMember>,
    #[serde(default)]
    model_aliases: BTreeMap<String, String>,
}

fn default_mode() -> String {
    "standard".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlend {
    input: toml::Value,
    output: toml::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeighting {
    scheme: String,
    usage_file: Option<String>,
    model_cap: toml::Value,
    provider_cap: toml::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    staleness_days: u32,
    outlier_k: toml::Value,
    mad_floor: toml::Value,
    carry_forward_days: u32,
    min_constituents: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFx {
    pair: String,
    series_file: Option<String>,
    default_rate: toml::Value,
    default_label: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    effective_from: NaiveDate,
    #[serde(default)]
    rationale: String,
    models: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGpu {
    gpu_model: String,
    lease_factors: BTreeMap<String, toml::Value>,
    trim_fraction: toml::Value,
    contributor_cap: toml::Value,
    window_hours: u32,
    min_observations: u32,
    min_contributors: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUsage {
    version: u32,
    as_of: NaiveDate,
    source: String,
    default_share: toml::Value,
    period: Vec<RawUsagePeriod>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUsagePeriod {
    effective_from: NaiveDate,
    shares: BTreeMap<String, toml::Value>,
}

/// Reads a decimal written as a TOML string (or integer); floats are refused.
fn dec(v: &toml::Value, what: &str, file: &str) -> Result<Decimal, DefinitionError> {
    let err = |m: String| DefinitionError {
        file: file.into(),
        message: format!("{what}: {m}"),
    };
    match v {
        toml::Value::String(s) => parse_decimal(s).map_err(err),
        toml::Value::Integer(i) => Ok(Decimal::from(*i)),
        toml::Value::Float(f) => Err(err(format!(
            "write decimals as strings (\"{f}\"), so they are read exactly, not as a binary float"
        ))),
        other => Err(err(format!(
            "expected a decimal string, found {}",
            other.type_str()
        ))),
    }
}

fn model_id(s: &str, what: &str, file: &str) -> Result<ModelId, DefinitionError> {
    ModelId::parse(s).ok_or_else(|| DefinitionError {
        file: file.into(),
        message: format!("{what}: {s:?} is not provider/model"),
    })
}

impl IndexDefinition {
    /// Loads a definition file; `usage_file` and `series_file` are resolved relative to it.
    pub fn load(path: impl AsRef<Path>) -> Result<IndexDefinition, DefinitionError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DefinitionError {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut def = Self::from_toml_str(&text, &file, &|name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
        })?;
        def.path = Some(path.to_path_buf());
        Ok(def)
    }

    /// Loads every `*.toml` definition in a directory (files without `kind` — such as the
    /// usage-share file — are not definitions and are left out), sorted by id.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<IndexDefinition>, DefinitionError> {
        let dir = dir.as_ref();
        let rd = std::fs::read_dir(dir).map_err(|e| DefinitionError {
            file: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut paths: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut defs = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| DefinitionError {
                file: p.display().to_string(),
                message: e.to_string(),
            })?;
            let is_def = text
                .parse::<toml::Table>()
                .map(|t| t.contains_key("kind"))
                .unwrap_or(true);
            if is_def {
                defs.push(IndexDefinition::load(&p)?);
            }
        }
        defs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(defs)
    }

    /// Parses a definition from text. `read` fetches referenced files by the name written in
    /// the definition (the file loader resolves them next to the definition).
    pub fn from_toml_str(
        text: &str,
        file: &str,
        read: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<IndexDefinition, DefinitionError> {
        let e = |m: String| DefinitionError {
            file: file.into(),
            message: m,
        };
        let raw: RawDef = toml::from_str(text).map_err(|x| e(x.to_string()))?;
        let mut hasher = Sha256::new();
        hasher.update(text.as_bytes());
        if raw.methods.is_empty() {
            return Err(e(
                "methods: at least one method is required (the first is the settlement method)"
                    .into(),
            ));
        }
        if raw.decimals > 12 {
            return Err(e(format!("decimals: {} is more than 12", raw.decimals)));
        }
        if raw.currency != "USD" && raw.currency != "CNY" {
            return Err(e(format!("currency: {:?} is not USD or CNY", raw.currency)));
        }
        let fixing_time = NaiveTime::parse_from_str(&raw.fixing_time_utc, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(&raw.fixing_time_utc, "%H:%M"))
            .map_err(|_| {
                e(format!(
                    "fixing_time_utc: {:?} is not HH:MM[:SS]",
                    raw.fixing_time_utc
                ))
            })?;
        let kind = match (raw.kind.as_str(), raw.token, raw.gpu) {
            ("token", Some(t), None) => {
                if raw.methods.contains(&Method::WeightedMedian) {
                    return Err(e("methods: weighted_median is for GPU indexes".into()));
                }
                IndexKind::Token(Box::new(token_spec(
                    t,
                    &raw.currency,
                    file,
                    read,
                    &mut hasher,
                )?))
            }
            ("gpu", None, Some(g)) => {
                if raw.methods != [Method::WeightedMedian] {
                    return Err(e("methods: a GPU index publishes [\"weighted_median\"]".into()));
                }
                IndexKind::Gpu(gpu_spec(g, file)?)
            }
            (k, _, _) => {
                return Err(e(format!("kind {k:?}: expected kind = \"token\" with a [token] table, or \"gpu\" with a [gpu] table")))
            }
        };
        let sha256 = hex(&hasher.finalize());
        Ok(IndexDefinition {
            id: raw.id,
            name: raw.name,
            description: raw.description,
            definition_version: raw.definition_version,
            method_version: raw.method_version,
            unit: raw.unit,
            currency: raw.currency,
            methods: raw.methods,
            base_date: raw.base_date,
            fixing_time,
            decimals: raw.decimals,
            kind,
            path: None,
            sha256,
        })
    }

    /// The settlement method (the fixing's `value`).
    pub fn settlement_method(&self) -> Method {
        self.methods[0]
    }

    pub fn token(&self) -> Option<&TokenSpec> {
        match &self.kind {
            IndexKind::Token(t) => Some(t),
            IndexKind::Gpu(_) => None,
        }
    }

    pub fn gpu(&self) -> Option<&GpuSpec> {
        match &self.kind {
            IndexKind::Gpu(g) => Some(g),
            IndexKind::Token(_) => None,
        }
    }
}

impl TokenSpec {
    /// The membership entry in force on `date`.
    pub fn membership_on(&self, date: NaiveDate) -> Option<&MembershipEntry> {
        self.membership
            .iter()
            .rev()
            .find(|m| m.effective_from <= date)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn token_spec(
    t: RawToken,
    currency: &str,
    file: &str,
    read: &dyn Fn(&str) -> Result<String, String>,
    hasher: &mut Sha256,
) -> Result<TokenSpec, DefinitionError> {
    let e = |m: String| DefinitionError {
        file: file.into(),
        message: m,
    };
    let blend_input = dec(&t.blend.input, "token.blend.input", file)?;
    let blend_output = dec(&t.blend.output, "token.blend.output", file)?;
    if blend_input.is_sign_negative()
        || blend_output.is_sign_negative()
        || (blend_input + blend_output).is_zero()
    {
        return Err(e(
            "token.blend: weights must be non-negative and not both zero".into(),
        ));
    }
    let model_cap = dec(&t.weighting.model_cap, "token.weighting.model_cap", file)?;
    let provider_cap = dec(
        &t.weighting.provider_cap,
        "token.weighting.provider_cap",
        file,
    )?;
    for (c, n) in [(model_cap, "model_cap"), (provider_cap, "provider_cap")] {
        if c <= Decimal::ZERO || c > Decimal::ONE {
            return Err(e(format!("token.weighting.{n}: {c} is not in (0, 1]")));
        }
    }
    let usage = match (t.weighting.scheme.as_str(), &t.weighting.usage_file) {
        ("equal", None) => None,
        ("usage", Some(f)) => {
            let text = read(f).map_err(|m| e(format!("token.weighting.usage_file: {m}")))?;
            hasher.update(text.as_bytes());
            Some(load_usage(&text, f)?)
        }
        (s, _) => {
            return Err(e(format!(
                "token.weighting: scheme {s:?} with usage_file {:?}: use scheme = \"usage\" with a usage_file, or \"equal\" without one",
                t.weighting.usage_file
            )))
        }
    };
    let rules = DataRules {
        staleness_days: t.data_rules.staleness_days,
        outlier_k: dec(&t.data_rules.outlier_k, "token.data_rules.outlier_k", file)?,
        mad_floor: dec(&t.data_rules.mad_floor, "token.data_rules.mad_floor", file)?,
        carry_forward_days: t.data_rules.carry_forward_days,
        min_constituents: t.data_rules.min_constituents,
    };
    if rules.min_constituents == 0 {
        return Err(e(
            "token.data_rules.min_constituents must be at least 1".into()
        ));
    }
    let fx = match (currency, t.fx) {
        ("USD", None) => None,
        ("USD", Some(_)) => return Err(e("token.fx: a USD index takes no FX series".into())),
        (_, None) => {
            return Err(e(format!(
                "token.fx: a {currency} index needs an [token.fx] table (USD/{currency})"
            )))
        }
        (_, Some(fx)) => {
            let default_rate = dec(&fx.default_rate, "token.fx.default_rate", file)?;
            if default_rate <= Decimal::ZERO {
                return Err(e("token.fx.default_rate must be positive".into()));
            }
            let series = match &fx.series_file {
                None => BTreeMap::new(),
                Some(f) => {
                    let text = read(f).map_err(|m| e(format!("token.fx.series_file: {m}")))?;
                    hasher.update(text.as_bytes());
                    load_fx_series(&text, f)?
                }
            };
            Some(FxSpec {
                pair: fx.pair,
                series,
                series_file: fx.series_file,
                default_rate,
                default_label: fx.default_label,
            })
        }
    };
    let mut membership = Vec::new();
    for (i, m) in t.membership.into_iter().enumerate() {
        let what = format!("token.membership[{i}] ({})", m.effective_from);
        let mut models = Vec::new();
        for s in &m.models {
            let id = model_id(s, &what, file)?;
            if id.is_alias() {
                return Err(e(format!("{what}: {id} is a `-latest` alias, which re-points to new models; it can never be a constituent")));
            }
            if models.contains(&id) {
                return Err(e(format!("{what}: {id} is listed twice")));
            }
            models.push(id);
        }
        membership.push(MembershipEntry {
            effective_from: m.effective_from,
            models,
            rationale: m.rationale,
        });
    }
    if membership.is_empty() {
        return Err(e("token.membership: the schedule is empty".into()));
    }
    if membership
        .windows(2)
        .any(|w| w[0].effective_from >= w[1].effective_from)
    {
        return Err(e(
            "token.membership: effective_from dates must be strictly ascending".into(),
        ));
    }
    let mut model_aliases = BTreeMap::new();
    for (k, v) in &t.model_aliases {
        model_aliases.insert(
            model_id(k, "token.model_aliases", file)?,
            model_id(v, "token.model_aliases", file)?,
        );
    }
    Ok(TokenSpec {
        tier: t.tier,
        tier_rule: t.tier_rule,
        mode: t.mode,
        blend_input,
        blend_output,
        eligible_after_days: t.eligible_after_days,
        weighting: Weighting {
            usage,
            model_cap,
            provider_cap,
        },
        rules,
        fx,
        membership,
        model_aliases,
    })
}

fn gpu_spec(g: RawGpu, file: &str) -> Result<GpuSpec, DefinitionError> {
    let e = |m: String| DefinitionError {
        file: file.into(),
        message: m,
    };
    let mut lease_factors = BTreeMap::new();
    for (k, v) in &g.lease_factors {
        if crate::observation::LeaseType::parse(k).is_none() {
            return Err(e(format!(
                "gpu.lease_factors: {k:?} is not on_demand, spot or reserved_<N>m"
            )));
        }
        let f = dec(v, &format!("gpu.lease_factors.{k}"), file)?;
        if f <= Decimal::ZERO {
            return Err(e(format!("gpu.lease_factors.{k}: must be positive")));
        }
        lease_factors.insert(k.clone(), f);
    }
    let trim_fraction = dec(&g.trim_fraction, "gpu.trim_fraction", file)?;
    if trim_fraction < Decimal::ZERO || trim_fraction >= Decimal::new(5, 1) {
        return Err(e("gpu.trim_fraction must be in [0, 0.5)".into()));
    }
    let contributor_cap = dec(&g.contributor_cap, "gpu.contributor_cap", file)?;
    if contributor_cap <= Decimal::ZERO || contributor_cap > Decimal::ONE {
        return Err(e("gpu.contributor_cap must be in (0, 1]".into()));
    }
    if g.window_hours == 0 {
        return Err(e("gpu.window_hours must be positive".into()));
    }
    Ok(GpuSpec {
        gpu_model: g.gpu_model,
        lease_factors,
        trim_fraction,
        contributor_cap,
        window_hours: g.window_hours,
        min_observations: g.min_observations.max(1),
        min_contributors: g.min_contributors.max(1),
    })
}

/// Parses a usage-share file (TOML; see `config/indexes/usage-shares.toml`).
pub fn load_usage(text: &str, file: &str) -> Result<UsageShares, DefinitionError> {
    let e = |m: String| DefinitionError {
        file: file.into(),
        message: m,
    };
    let raw: RawUsage = toml::from_str(text).map_err(|x| e(x.to_string()))?;
    let default_share = dec(&raw.default_share, "default_share", file)?;
    let mut periods = Vec::new();
    for p in raw.period {
        let mut shares = BTreeMap::new();
        for (k, v) in &p.shares {
            let what = format!("period {} share {k}", p.effective_from);
            let s = dec(v, &what, file)?;
            if s.is_sign_negative() {
                return Err(e(format!("{what}: negative share")));
            }
            shares.insert(model_id(k, &what, file)?, s);
        }
        periods.push(UsagePeriod {
            effective_from: p.effective_from,
            shares,
        });
    }
    if periods
        .windows(2)
        .any(|w| w[0].effective_from >= w[1].effective_from)
    {
        return Err(e(
            "period: effective_from dates must be strictly ascending".into()
        ));
    }
    if default_share.is_sign_negative() {
        return Err(e("default_share: negative".into()));
    }
    Ok(UsageShares {
        file: file.into(),
        version: raw.version,
        as_of: raw.as_of,
        source: raw.source,
        default_share,
        periods,
    })
}

/// Parses an FX series: CSV `date,rate[,label]` (header required, `#` comments allowed). The
/// optional label says what the rate is (e.g. that it is a constant, not a market fixing).
pub fn load_fx_series(
    text: &str,
    file: &str,
) -> Result<BTreeMap<NaiveDate, (Decimal, String)>, DefinitionError> {
    let mut out = BTreeMap::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        let e = |m: String| DefinitionError {
            file: file.into(),
            message: format!("line {}: {m}", i + 1),
        };
        let (d, rest) = line
            .split_once(',')
            .ok_or_else(|| e("expected date,rate[,label]".into()))?;
        let (r, label) = rest.split_once(',').unwrap_or((rest, ""));
        let date = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| e(format!("bad date {d:?}")))?;
        let rate = parse_decimal(r.trim()).map_err(e)?;
        if rate <= Decimal::ZERO {
            return Err(e(format!("rate must be positive, got {rate}")));
        }
        if out
            .insert(date, (rate, label.trim().trim_matches('"').to_string()))
            .is_some()
        {
            return Err(e(format!("date {date} appears twice")));
        }
    }
    Ok(out)
}
