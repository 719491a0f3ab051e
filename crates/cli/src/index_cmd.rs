//! `tokex index …`: import, compute, show, verify, explain, methodology, synth-gpu.
//!
//! Inputs default to the repository's own copies: definitions in `config/indexes/`, the
//! model-prices snapshot in `data/model-prices/snapshot.json`. Fixings are written as JSON
//! lines, one file per index (`<out>/<INDEX>.jsonl`), each line a complete fixing record.

use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use tokex_index::import::{csv, litellm, openrouter, snapshot};
use tokex_index::{
    compute_fixings_with_progress, methodology_markdown, verify_fixing, verify_history, DateRange,
    Fixing, FixingStatus, ImportReport, IndexDefinition, ObservationSet,
};

#[derive(clap::Args)]
pub struct IndexArgs {
    #[command(subcommand)]
    command: IndexCommand,
}

#[derive(clap::Subcommand)]
enum IndexCommand {
    /// Read input files, check them, and report what was imported and what was skipped (and why).
    Import {
        #[command(flatten)]
        data: DataArgs,
        /// Write the imported observations as JSON to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compute daily fixings over a date range and write them to <out>/<INDEX>.jsonl.
    Compute {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        sel: Selection,
        /// First fixing date (default: each index's base date).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last fixing date (default: the date of the newest input).
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Output directory.
        #[arg(long, default_value = "fixings")]
        out: PathBuf,
    },
    /// Show one fixing: value, status, constituents, weights, exclusions, hash (and, with
    /// --csv, write the history as a chart-ready CSV).
    Show {
        #[command(flatten)]
        sel: Selection,
        /// Fixing date (default: the last one in the file).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Directory holding <INDEX>.jsonl.
        #[arg(long, default_value = "fixings")]
        fixings: PathBuf,
        /// Print the raw JSON record.
        #[arg(long)]
        json: bool,
        /// Also write a chart-ready CSV (date,value,status,<one column per method>) of the
        /// fixings from --from to --to (default: the whole computed history).
        #[arg(long)]
        csv: Option<PathBuf>,
        /// First date of the CSV.
        #[arg(long, requires = "csv")]
        from: Option<NaiveDate>,
        /// Last date of the CSV.
        #[arg(long, requires = "csv")]
        to: Option<NaiveDate>,
    },
    /// Verify fixings: recompute each from its own record (bit for bit) and, with the data,
    /// recompute the whole history from the inputs and compare hashes.
    Verify {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        sel: Selection,
        /// Directory holding <INDEX>.jsonl.
        #[arg(long, default_value = "fixings")]
        fixings: PathBuf,
        /// Only check each record against itself (skip recomputing from the data).
        #[arg(long)]
        records_only: bool,
    },
    /// Explain why one fixing is what it is: the constituents with their prices and weights,
    /// the exclusions with reasons, and the arithmetic that gives the value. The record is
    /// verified first.
    Explain {
        #[command(flatten)]
        sel: Selection,
        /// Fixing date (default: the last one in the file).
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Directory holding <INDEX>.jsonl.
        #[arg(long, default_value = "fixings")]
        fixings: PathBuf,
    },
    /// Print the methodology page generated from a definition (Markdown).
    Methodology {
        #[command(flatten)]
        sel: Selection,
    },
    /// Write a clearly labelled synthetic GPU rental data set (CSV) for demos and tests.
    SynthGpu {
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value = "H100")]
        gpu: String,
        #[arg(long, default_value = "2026-01-01")]
        from: NaiveDate,
        #[arg(long, default_value = "2026-10-26")]
        to: NaiveDate,
        #[arg(long, default_value_t = 40)]
        per_day: u32,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct Selection {
    /// Definition directory.
    #[arg(long, default_value = "config/indexes")]
    config: PathBuf,
    /// Index id(s) (default: all definitions in the directory; `show`, `explain` and
    /// `methodology` take one).
    #[arg(long = "index")]
    index: Vec<String>,
}

#[derive(clap::Args)]
struct DataArgs {
    /// model-prices snapshot ("none" to leave it out).
    #[arg(long, default_value = "data/model-prices/snapshot.json")]
    snapshot: String,
    /// Snapshot price modes: standard (default), a comma list, or "all".
    #[arg(long, default_value = "standard")]
    mode: String,
    /// LiteLLM price map JSON (needs --as-of).
    #[arg(long)]
    litellm: Option<PathBuf>,
    /// OpenRouter /api/v1/models JSON (needs --as-of).
    #[arg(long)]
    openrouter: Option<PathBuf>,
    /// When the LiteLLM / OpenRouter files were taken (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    as_of: Option<String>,
    /// Token price CSV files (repeatable).
    #[arg(long = "prices-csv")]
    prices_csv: Vec<PathBuf>,
    /// GPU rental CSV files (repeatable). Without any, GPU indexes use the labelled synthetic
    /// data set generated from --synthetic-seed.
    #[arg(long = "gpu-csv")]
    gpu_csv: Vec<PathBuf>,
    /// Seed of the synthetic GPU data set used when no --gpu-csv is given.
    #[arg(long, default_value_t = 42)]
    synthetic_seed: u64,
}

fn load_data(a: &DataArgs, quiet: bool) -> Result<(ObservationSet, Vec<ImportReport>), String> {
    let mut set = ObservationSet::default();
    let mut reports = Vec::new();
    let mut add = |r: Result<(ObservationSet, ImportReport), tokex_index::ImportError>| -> Result<(), String> {
        let (o, rep) = r.map_err(|e| e.to_string())?;
        set.extend(o);
        reports.push(rep);
        Ok(())
    };
    if a.snapshot != "none" {
        let modes = if a.mode == "all" {
            snapshot::ModeFilter::All
        } else {
            snapshot::ModeFilter::Only(a.mode.split(',').map(|s| s.trim().to_string()).collect())
        };
        add(snapshot::import_snapshot_file(
            Path::new(&a.snapshot),
            &snapshot::SnapshotOptions { modes },
        ))?;
    }
    let as_of = || -> Result<chrono::DateTime<chrono::Utc>, String> {
        let s = a
            .as_of
            .as_deref()
            .ok_or("--litellm and --openrouter need --as-of (the files carry no date)")?;
        tokex_index::import::parse_timestamp(s)
            .ok_or_else(|| format!("--as-of {s:?} is not a date or RFC 3339 time"))
    };
    if let Some(p) = &a.litellm {
        add(litellm::import_litellm_file(p, as_of()?))?;
    }
    if let Some(p) = &a.openrouter {
        add(openrouter::import_openrouter_file(p, as_of()?))?;
    }
    for p in &a.prices_csv {
        add(csv::import_token_csv_file(p))?;
    }
    for p in &a.gpu_csv {
        add(csv::import_gpu_csv_file(p))?;
    }
    if !quiet {
        for r in &reports {
            eprint!("{r}");
        }
    }
    Ok((set, reports))
}

/// Adds the labelled synthetic GPU data when a GPU index is computed without real GPU data.
fn ensure_gpu_data(
    defs: &[IndexDefinition],
    set: &mut ObservationSet,
    a: &DataArgs,
    to: Option<NaiveDate>,
) {
    if !set.gpu.is_empty() {
        return;
    }
    for d in defs {
        if let Some(g) = d.gpu() {
            let end = to.unwrap_or_else(|| default_end(set).unwrap_or(d.base_date));
            let range = DateRange::new(d.base_date - chrono::Duration::days(1), end);
            eprintln!(
                "{}: no GPU CSV given: using the SYNTHETIC data set (seed {}, {}), labelled `{}`",
                d.id,
                a.synthetic_seed,
                g.gpu_model,
                tokex_index::gci::SYNTHETIC_SOURCE
            );
            set.gpu.extend(tokex_index::synthetic_gpu_observations(
                a.synthetic_seed,
                &g.gpu_model,
                range,
                40,
            ));
        }
    }
}

fn default_end(set: &ObservationSet) -> Option<NaiveDate> {
    let p = set
        .prices
        .iter()
        .map(|o| o.as_of.max(o.effective_from))
        .max();
    let g = set.gpu.iter().map(|o| o.observed_at).max();
    p.into_iter().chain(g).max().map(|t| t.date_naive())
}

fn select(sel: &Selection) -> Result<Vec<IndexDefinition>, String> {
    let all = IndexDefinition::load_dir(&sel.config).map_err(|e| e.to_string())?;
    if sel.index.is_empty() {
        return Ok(all);
    }
    let mut out = Vec::new();
    for id in &sel.index {
        let d = all
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
                format!(
                    "no index {id:?} in {} (have: {})",
                    sel.config.display(),
                    ids.join(", ")
                )
            })?;
        out.push(d.clone());
    }
    Ok(out)
}

fn one(sel: &Selection) -> Result<IndexDefinition, String> {
    let defs = select(sel)?;
    match defs.len() {
        1 => Ok(defs.into_iter().next().expect("one")),
        _ => Err("choose one index with --index ID".into()),
    }
}

fn read_fixings(dir: &Path, id: &str) -> Result<Vec<Fixing>, String> {
    let path = dir.join(format!("{id}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (run `tokex index compute` first)", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn fmt_opt(v: Option<tokex_index::Decimal>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "—".into())
}

pub fn run(args: IndexArgs) -> Result<(), String> {
    match args.command {
        IndexCommand::Import { data, out } => {
            let (set, reports) = load_data(&data, true)?;
            for r in &reports {
                print!("{r}");
            }
            if let Some(p) = out {
                let json = serde_json::json!({ "prices": set.prices, "statuses": set.statuses, "gpu": set.gpu });
                std::fs::write(
                    &p,
                    serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?,
                )
                .map_err(|e| format!("{}: {e}", p.display()))?;
                println!("wrote {}", p.display());
            }
            Ok(())
        }
        IndexCommand::Compute {
            data,
            sel,
            from,
            to,
            out,
        } => {
            let defs = select(&sel)?;
            let (mut set, _) = load_data(&data, false)?;
            ensure_gpu_data(&defs, &mut set, &data, to);
            let end = to
                .or_else(|| default_end(&set))
                .ok_or("no inputs: nothing to compute")?;
            std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            let total: u64 = defs
                .iter()
                .map(|d| DateRange::new(from.unwrap_or(d.base_date), end).len() as u64)
                .sum();
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix:>9} [{bar:40}] {pos}/{len} fixings {elapsed}",
                )
                .map_err(|e| e.to_string())?
                .progress_chars("=> "),
            );
            let mut summary = Vec::new();
            for d in &defs {
                bar.set_prefix(d.id.clone());
                let range = DateRange::new(from.unwrap_or(d.base_date), end);
                let fx = compute_fixings_with_progress(d, &set, range, &mut |_| bar.inc(1))
                    .map_err(|e| e.to_string())?;
                let path = out.join(format!("{}.jsonl", d.id));
                let mut w = std::io::BufWriter::new(
                    std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?,
                );
                for f in &fx {
                    serde_json::to_writer(&mut w, f).map_err(|e| e.to_string())?;
                    w.write_all(b"\n").map_err(|e| e.to_string())?;
                }
                w.flush().map_err(|e| e.to_string())?;
                summary.push((d.clone(), fx, path));
            }
            bar.finish_and_clear();
            println!(
                "{:<9} {:>5} {:>5} {:>6}  {:<10} {:>14}  {:<10} {:>14} {:>14}  file",
                "index", "days", "ok", "insuff", "first ok", "value", "last", "value", "chained"
            );
            for (d, fx, path) in summary {
                let ok = fx.iter().filter(|f| f.status == FixingStatus::Ok).count();
                let first = fx.iter().find(|f| f.status == FixingStatus::Ok);
                let last = fx.last();
                println!(
                    "{:<9} {:>5} {:>5} {:>6}  {:<10} {:>14}  {:<10} {:>14} {:>14}  {}",
                    d.id,
                    fx.len(),
                    ok,
                    fx.len() - ok,
                    first.map(|f| f.date.to_string()).unwrap_or_default(),
                    fmt_opt(first.and_then(|f| f.value)),
                    last.map(|f| f.date.to_string()).unwrap_or_default(),
                    fmt_opt(last.and_then(|f| f.value)),
                    fmt_opt(last.and_then(|f| f.value_of(tokex_index::Method::Chained))),
                    path.display()
                );
            }
            Ok(())
        }
        IndexCommand::Show {
            sel,
            date,
            fixings,
            json,
            csv,
            from,
            to,
        } => {
            let def = one(&sel)?;
            let fx = read_fixings(&fixings, &def.id)?;
            let f = pick(&def, &fx, date)?;
            if let Some(path) = &csv {
                let n = write_csv(&def, &fx, from, to, path)?;
                eprintln!("wrote {n} fixings to {}", path.display());
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(f).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            print_fixing(&def, f);
            Ok(())
        }
        IndexCommand::Verify {
            data,
            sel,
            fixings,
            records_only,
        } => {
            let defs = select(&sel)?;
            let set = if records_only {
                None
            } else {
                let (mut s, _) = load_data(&data, true)?;
                ensure_gpu_data(&defs, &mut s, &data, None);
                Some(s)
            };
            let mut failures = 0;
            for d in &defs {
                let fx = match read_fixings(&fixings, &d.id) {
                    Ok(f) => f,
                    Err(e) => {
                        println!("{:<9} SKIPPED  {e}", d.id);
                        continue;
                    }
                };
                let res = match &set {
                    None => fx
                        .iter()
                        .try_for_each(|f| verify_fixing(f, d))
                        .map(|_| fx.len()),
                    Some(s) => verify_history(d, &fx, s),
                };
                match res {
                    Ok(n) => println!(
                        "{:<9} OK       {n} fixings verified ({})",
                        d.id,
                        if records_only {
                            "each from its record"
                        } else {
                            "each from its record, and recomputed from the data"
                        }
                    ),
                    Err(e) => {
                        failures += 1;
                        println!("{:<9} FAILED   {e}", d.id);
                    }
                }
            }
            if failures > 0 {
                return Err(format!("{failures} index(es) failed verification"));
            }
            Ok(())
        }
        IndexCommand::Explain { sel, date, fixings } => {
            let def = one(&sel)?;
            let fx = read_fixings(&fixings, &def.id)?;
            let f = pick(&def, &fx, date)?;
            verify_fixing(f, &def).map_err(|e| format!("the record does not verify: {e}"))?;
            explain_fixing(&def, f);
            Ok(())
        }
        IndexCommand::Methodology { sel } => {
            let def = one(&sel)?;
            print!("{}", methodology_markdown(&def));
            Ok(())
        }
        IndexCommand::SynthGpu {
            seed,
            gpu,
            from,
            to,
            per_day,
            out,
        } => {
            let obs = tokex_index::synthetic_gpu_observations(
                seed,
                &gpu,
                DateRange::new(from, to),
                per_day,
            );
            std::fs::write(&out, tokex_index::gci::gpu_observations_to_csv(&obs))
                .map_err(|e| format!("{}: {e}", out.display()))?;
            println!(
                "wrote {} SYNTHETIC observations ({gpu}, {from} → {to}, seed {seed}) to {}",
                obs.len(),
                out.display()
            );
            Ok(())
        }
    }
}

/// The fixing of `date`, or the last one.
fn pick<'a>(
    def: &IndexDefinition,
    fx: &'a [Fixing],
    date: Option<NaiveDate>,
) -> Result<&'a Fixing, String> {
    match date {
        Some(d) => fx
            .iter()
            .find(|f| f.date == d)
            .ok_or_else(|| format!("no {} fixing for {d}", def.id)),
        None => fx.last().ok_or_else(|| "no fixings in the file".into()),
    }
}

/// Writes `date,value,status,<method>…` for the fixings in [from, to]; returns the row count.
fn write_csv(
    def: &IndexDefinition,
    fx: &[Fixing],
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    path: &Path,
) -> Result<usize, String> {
    let mut out = String::from("date,value,status");
    for m in &def.methods {
        out.push(',');
        out.push_str(m.as_str());
    }
    out.push('\n');
    let mut n = 0;
    for f in fx
        .iter()
        .filter(|f| from.is_none_or(|d| f.date >= d) && to.is_none_or(|d| f.date <= d))
    {
        let status = match f.status {
            FixingStatus::Ok => "ok",
            FixingStatus::InsufficientData => "insufficient_data",
        };
        let cell = |v: Option<tokex_index::Decimal>| v.map(|x| x.to_string()).unwrap_or_default();
        out.push_str(&format!("{},{},{status}", f.date, cell(f.value)));
        for m in &def.methods {
            out.push(',');
            out.push_str(&cell(f.value_of(*m)));
        }
        out.push('\n');
        n += 1;
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(n)
}

/// Why a fixing is what it is, from its (verified) record.
fn explain_fixing(def: &IndexDefinition, f: &Fixing) {
    use tokex_index::{Decimal, Method, PriceState};
    println!(
        "{} {} at {}: {} = {} {}  ({})",
        f.index_id,
        f.date,
        f.fixing_time.format("%H:%M UTC"),
        f.method.as_str(),
        fmt_opt(f.value),
        def.unit,
        match f.status {
            FixingStatus::Ok => "ok".to_string(),
            FixingStatus::InsufficientData => "insufficient data".to_string(),
        }
    );
    if let Some(b) = &f.audit.basket {
        println!(
            "\nBasket: rebalanced {} (review at {}), membership from {}, weights: {}, \
             caps {} per model / {} per provider, blend input:output {}:{}",
            b.rebalance_date,
            b.review_time.format("%Y-%m-%d %H:%M UTC"),
            b.membership_effective_from,
            b.weights_source,
            b.model_cap,
            b.provider_cap,
            b.blend_input,
            b.blend_output
        );
    }
    if let Some(x) = &f.audit.fx {
        println!(
            "FX: {} {} ({}); every price below is converted",
            x.pair, x.rate, x.label
        );
    }
    if !f.audit.constituents.is_empty() {
        println!(
            "\n  {:<36} {:>8} {:>9} {:>12} {:>12} {:>14}  how the price was set",
            "constituent", "share", "weight", "ref price", "price", "w × price"
        );
        for c in &f.audit.constituents {
            let how = match c.state {
                PriceState::Fresh => {
                    let used: Vec<String> = c
                        .quotes
                        .iter()
                        .filter(|q| q.used)
                        .map(|q| format!("{} {}", q.source, q.blended.round_dp(6)))
                        .collect();
                    let unused = c.quotes.iter().filter(|q| !q.used).count();
                    format!(
                        "median of {} quote(s): {}{}",
                        used.len(),
                        used.join(", "),
                        if unused > 0 {
                            format!(" ({unused} excluded)")
                        } else {
                            String::new()
                        }
                    )
                }
                PriceState::Carried { since } => format!("carried from {since}"),
                PriceState::Left => "left the basket (carry-forward expired)".into(),
            };
            println!(
                "  {:<36} {:>8} {:>8}% {:>12} {:>12} {:>14}  {how}",
                c.model.to_string(),
                c.share,
                (c.weight * Decimal::from(100)).round_dp(4),
                c.reference_price.round_dp(6),
                fmt_opt(c.price.map(|p| p.round_dp(6))),
                fmt_opt(c.price.map(|p| (p * c.weight).round_dp(6)))
            );
        }
    }
    if let Some(g) = &f.audit.gpu {
        let mut kept: Vec<_> = g.kept.iter().collect();
        kept.sort_by_key(|q| q.normalised);
        let total: Decimal = kept.iter().map(|q| q.weight).sum();
        println!(
            "\n  {:<24} {:<10} {:>8} {:>7} {:>11} {:>5} {:>10} {:>7}  observation",
            "contributor", "lease", "price", "factor", "normalised", "GPUs", "weight", "cum %"
        );
        let mut cum = Decimal::ZERO;
        for q in kept {
            cum += q.weight;
            println!(
                "  {:<24} {:<10} {:>8} {:>7} {:>11} {:>5} {:>10} {:>6}%  {}",
                q.provider,
                format!("{:?}", q.lease),
                q.price.round_dp(4),
                q.factor,
                q.normalised.round_dp(4),
                q.gpu_count,
                q.weight.round_dp(4),
                if total.is_zero() {
                    Decimal::ZERO
                } else {
                    (cum / total * Decimal::from(100)).round_dp(1)
                },
                q.origin
            );
        }
    }
    if f.audit.exclusions.is_empty() {
        println!("\nExclusions: none");
    } else {
        println!("\nExclusions ({}):", f.audit.exclusions.len());
        for e in &f.audit.exclusions {
            println!(
                "  {:<36} {:<20} {:<22} {}",
                e.subject,
                e.source.as_deref().unwrap_or(""),
                format!("{:?}", e.reason),
                e.detail
            );
        }
    }
    for n in &f.audit.notes {
        println!("Note: {n}");
    }
    println!("\nArithmetic:");
    let decimals = f.audit.decimals;
    if f.status == FixingStatus::InsufficientData {
        println!(
            "  too few valid inputs for this fixing: {}",
            match f.audit.carried_from {
                Some(d) => format!("the value of {d} is carried, flagged"),
                None => "no earlier value to carry, nothing is published".into(),
            }
        );
    }
    if let Some(g) = &f.audit.gpu {
        println!(
            "  {} observations in the window from {}, {} trimmed at each end, {} kept",
            g.observations_in_window,
            g.window_from.format("%Y-%m-%d %H:%M UTC"),
            g.trim_count_each_end,
            g.kept.len()
        );
        for (p, s) in &g.contributor_scales {
            println!("  contributor cap: {p} volumes × {}", s.round_dp(6));
        }
        if f.status == FixingStatus::Ok {
            let items: Vec<(Decimal, Decimal)> =
                g.kept.iter().map(|q| (q.normalised, q.weight)).collect();
            let total: Decimal = items.iter().map(|(_, w)| *w).sum();
            let m = tokex_index::gci::weighted_median(&items);
            println!(
                "  weighted median of {} normalised prices (price × lease factor), total weight {} \
                 → {} → published {}",
                items.len(),
                total.round_dp(6),
                m,
                tokex_index::num::round_publish(m, decimals)
            );
        }
    }
    if f.audit.basket.is_some() && f.status == FixingStatus::Ok {
        let s = tokex_index::TokenSums::of(&f.audit.constituents);
        println!(
            "  over the {} priced constituents: Σw·p = {}, Σw = {}, Σw·ref = {}",
            s.priced,
            s.weighted_prices.round_dp(12),
            s.weights.round_dp(12),
            s.weighted_references.round_dp(12)
        );
        for mv in &f.values {
            match mv.method {
                Method::Average => {
                    let x = s.average();
                    println!(
                        "  average = Σw·p / Σw = {} / {} = {} → {}",
                        s.weighted_prices.round_dp(12),
                        s.weights.round_dp(12),
                        x,
                        tokex_index::num::round_publish(x, decimals)
                    );
                }
                Method::Chained => {
                    if let Some(c) = &f.audit.chain {
                        let x = s.chained(c.link_level);
                        println!(
                            "  chained = link × Σw·p / Σw·ref = {} × {} / {} = {} → {}  \
                             (link set at the review of {})",
                            c.link_level.round_dp(12),
                            s.weighted_prices.round_dp(12),
                            s.weighted_references.round_dp(12),
                            x,
                            tokex_index::num::round_publish(x, decimals),
                            c.link_date
                        );
                    }
                }
                Method::WeightedMedian => {}
            }
        }
    }
    println!(
        "  published: {} (rounded to {decimals} decimals, half away from zero); settlement method {}",
        f.values
            .iter()
            .map(|v| format!("{} {}", v.method.as_str(), fmt_opt(v.value)))
            .collect::<Vec<_>>()
            .join(", "),
        f.method.as_str()
    );
    println!(
        "\nRecord verified (definition v{}, method {}), hash {}",
        f.audit.definition_version, f.audit.method_version, f.audit.hash
    );
}

fn print_fixing(def: &IndexDefinition, f: &Fixing) {
    println!(
        "{} {} at {}  ({}, {})",
        f.index_id,
        f.date,
        f.fixing_time.format("%H:%M UTC"),
        def.unit,
        f.currency
    );
    let status = match f.status {
        FixingStatus::Ok => "ok".to_string(),
        FixingStatus::InsufficientData => {
            format!(
                "INSUFFICIENT DATA (value carried from {})",
                f.audit
                    .carried_from
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "—".into())
            )
        }
    };
    for v in &f.values {
        println!("  {:<16} {}", v.method.as_str(), fmt_opt(v.value));
    }
    println!("  status           {status}");
    if let Some(b) = &f.audit.basket {
        println!(
            "  basket           rebalanced {}, membership from {}, weights: {}",
            b.rebalance_date, b.membership_effective_from, b.weights_source
        );
    }
    if let Some(c) = &f.audit.chain {
        println!(
            "  chain link       {} at {}",
            c.link_level.round_dp(6),
            c.link_date
        );
    }
    if let Some(x) = &f.audit.fx {
        println!("  fx               {} {} — {}", x.pair, x.rate, x.label);
    }
    if !f.audit.constituents.is_empty() {
        println!(
            "  {:<42} {:>8} {:>10} {:>12} {:>12}  state",
            "constituent", "share", "weight", "ref price", "price"
        );
        let mut by_prov: BTreeMap<&str, tokex_index::Decimal> = BTreeMap::new();
        for c in &f.audit.constituents {
            *by_prov.entry(c.model.provider.as_str()).or_default() += c.weight;
            let state = match c.state {
                tokex_index::PriceState::Fresh => "fresh".to_string(),
                tokex_index::PriceState::Carried { since } => format!("carried since {since}"),
                tokex_index::PriceState::Left => "left (carry-forward expired)".into(),
            };
            println!(
                "  {:<42} {:>8} {:>9}% {:>12} {:>12}  {state}",
                c.model.to_string(),
                c.share,
                (c.weight * tokex_index::Decimal::from(100)).round_dp(2),
                c.reference_price.round_dp(6),
                fmt_opt(c.price.map(|p| p.round_dp(6)))
            );
        }
    }
    if let Some(g) = &f.audit.gpu {
        println!(
            "  window           from {} : {} observations, {} trimmed each end, {} kept",
            g.window_from,
            g.observations_in_window,
            g.trim_count_each_end,
            g.kept.len()
        );
        for (p, s) in &g.contributor_scales {
            println!("  contributor cap  {p}: volume × {}", s.round_dp(6));
        }
    }
    if !f.audit.exclusions.is_empty() {
        println!("  exclusions ({}):", f.audit.exclusions.len());
        for e in f.audit.exclusions.iter().take(20) {
            println!(
                "    {:<40} {:<22} {}",
                e.subject,
                format!("{:?}", e.reason),
                e.detail
            );
        }
        if f.audit.exclusions.len() > 20 {
            println!("    … {} more (see --json)", f.audit.exclusions.len() - 20);
        }
    }
    for n in &f.audit.notes {
        println!("  note             {n}");
    }
    println!(
        "  method           {} (definition v{}, {})",
        f.audit.method_version,
        f.audit.definition_version,
        &f.audit.definition_sha256[..16]
    );
    println!("  record hash      {}", f.audit.hash);
}
