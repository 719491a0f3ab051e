//! `tokex sim`: the product-design lab. An agent-based market run on the real core, through
//! the products' own calendars (auctions, sessions, daily settlements, expiries and new
//! listings, driven by the same scheduler as the live exchange), with index fixings computed
//! from the real price history. Deterministic from its seed: the clock is simulated and no
//! I/O happens during the run. `--compare a.toml b.toml` runs two contract designs on the same
//! seed and prints them side by side.

use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokex_engine::{Command, Engine, Event, Role, StpMode};
use tokex_server::index_feed::IndexFeed;
use tokex_server::scheduler::Scheduler;
use tokex_sim::{Agent, MarketView, Rng};
use tokex_types::product::ProductSet;
use tokex_types::{AccountId, Currency, InstrumentId, Money, Timestamp};

#[derive(clap::Args)]
pub struct SimArgs {
    /// Product definitions to simulate.
    #[arg(long, default_value = "config/products.toml")]
    products: PathBuf,
    /// Compare two product designs on the same seed (e.g. different ticks, sizes, limits, margins).
    #[arg(long, num_args = 2, value_names = ["A.toml", "B.toml"])]
    compare: Option<Vec<PathBuf>>,
    /// First simulated day (the index history is real up to 2026-10-26).
    #[arg(long, default_value = "2026-03-02")]
    start: NaiveDate,
    /// Simulated calendar days.
    #[arg(long, default_value_t = 92)]
    days: u32,
    /// Simulated seconds between two looks of the participants at the market.
    #[arg(long, default_value_t = 60)]
    step_secs: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Market makers in the population.
    #[arg(long, default_value_t = 3)]
    market_makers: u32,
    /// Index definitions and the model-prices snapshot.
    #[arg(long, default_value = "config/indexes")]
    indexes: PathBuf,
    #[arg(long, default_value = "data/model-prices/snapshot.json")]
    model_prices: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write every command of the run to a journal in this directory (one design only), so
    /// `tokex replay --data-dir` on its parent rebuilds the simulated market.
    #[arg(long)]
    journal: Option<PathBuf>,
}

/// What a run measured, per product.
#[derive(Default, Clone, Debug, serde::Serialize)]
struct ProductStats {
    spread_ticks_sum: f64,
    spread_bps_sum: f64,
    spread_samples: u64,
    depth_sum: f64,
    depth_samples: u64,
    volume: u64,
    trades: u64,
    settlements: Vec<(u32, f64)>,
    tracking: Vec<f64>,
    expiries: u32,
    circuit_breakers: u32,
    limit_locked_days: u32,
}

#[derive(Default, Debug, serde::Serialize)]
struct RunReport {
    design: String,
    commands: u64,
    rejects: u64,
    rejects_by_code: BTreeMap<&'static str, u64>,
    margin_calls: u64,
    liquidations: u64,
    defaults: u64,
    default_losses_usd: f64,
    products: BTreeMap<String, ProductStats>,
}

const FUND: u32 = 1;
const FIRST: u32 = 100;

fn ts(date: NaiveDate) -> Timestamp {
    Timestamp(
        date.and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_nanos_opt()
            .expect("in range") as u64,
    )
}

fn run(args: &SimArgs, products_path: &PathBuf) -> Result<RunReport, String> {
    let products =
        ProductSet::load(products_path).map_err(|e| format!("{}: {e}", products_path.display()))?;
    let end = args.start + chrono::Duration::days(args.days as i64);
    let feed = IndexFeed::load(&args.indexes, &args.model_prices, end)?;
    let mut sched = Scheduler::new(products, Some(feed), 60);
    let mut engine = Engine::new();
    let mut report = RunReport {
        design: products_path.display().to_string(),
        ..Default::default()
    };
    let mut events = Vec::new();
    let start = ts(args.start);
    // Optionally journal every command, so `tokex replay` can rebuild the run.
    let mut journal = match &args.journal {
        Some(dir) => Some(
            tokex_journal::JournalWriter::open(tokex_journal::FsStorage, dir, Default::default())
                .map_err(|e| format!("{}: {e}", dir.display()))?,
        ),
        None => None,
    };
    let mut record = |t: Timestamp, cmd: &Command| {
        if let Some(j) = journal.as_mut() {
            j.append(&tokex_engine::codec::encode_command(t, cmd))
                .expect("journal append");
            if j.buffered_records() >= 10_000 {
                j.commit().expect("journal commit");
            }
        }
    };
    let apply = |engine: &mut Engine,
                 t: Timestamp,
                 cmd: &Command,
                 events: &mut Vec<Event>,
                 report: &mut RunReport,
                 record: &mut dyn FnMut(Timestamp, &Command)|
     -> bool {
        record(t, cmd);
        events.clear();
        report.commands += 1;
        let ok = engine.apply_into(t, cmd, events).is_ok();
        if !ok {
            report.rejects += 1;
        }
        ok
    };
    let mut agents: Vec<Box<dyn Agent>> = tokex_sim::demo_population(FIRST, args.market_makers);
    let accounts: Vec<AccountId> = agents.iter().map(|a| a.account()).collect();
    // Bootstrap: index history, listings, phases; the fund and the participants.
    for cmd in sched.bootstrap(&engine, start) {
        apply(
            &mut engine,
            start,
            &cmd,
            &mut events,
            &mut report,
            &mut record,
        );
    }
    let mut setup = vec![
        Command::CreateAccount {
            account: AccountId(FUND),
            role: Role::InsuranceFund,
            stp: StpMode::CancelResting,
        },
        Command::Deposit {
            account: AccountId(FUND),
            currency: Currency::Usd,
            amount: Money(1_000_000_000),
        },
        Command::Deposit {
            account: AccountId(FUND),
            currency: Currency::Cny,
            amount: Money(5_000_000_000),
        },
    ];
    for (k, a) in accounts.iter().enumerate() {
        let role = if (k as u32) < args.market_makers {
            Role::MarketMaker
        } else {
            Role::Trader
        };
        setup.push(Command::CreateAccount {
            account: *a,
            role,
            stp: StpMode::CancelResting,
        });
        setup.push(Command::Deposit {
            account: *a,
            currency: Currency::Usd,
            amount: Money(200_000_000),
        });
        setup.push(Command::Deposit {
            account: *a,
            currency: Currency::Cny,
            amount: Money(1_000_000_000),
        });
    }
    for cmd in &setup {
        apply(
            &mut engine,
            start,
            cmd,
            &mut events,
            &mut report,
            &mut record,
        );
    }
    let mut rng = Rng::new(args.seed);
    let step = args.step_secs.max(1) * 1_000_000_000;
    let end_ts = ts(end);
    let mut t = start;
    let mut last_settle: BTreeMap<InstrumentId, i64> = BTreeMap::new();
    while t < end_ts {
        t = Timestamp(t.0 + step);
        let due = sched.due(&engine, engine.now(), t);
        for (at, cmd) in due {
            let at = at.max(engine.now());
            apply(&mut engine, at, &cmd, &mut events, &mut report, &mut record);
            observe(&engine, &events, &mut report, &mut last_settle);
        }
        if engine.next_deadline().is_some_and(|d| d <= t) {
            apply(
                &mut engine,
                t,
                &Command::Tick,
                &mut events,
                &mut report,
                &mut record,
            );
            observe(&engine, &events, &mut report, &mut last_settle);
        }
        let view = MarketView::from_engine(&engine, &accounts);
        if !view.instruments.iter().any(|i| i.trading) {
            continue;
        }
        sample(&view, &engine, &mut report);
        for agent in agents.iter_mut() {
            for cmd in agent.act(&view, &mut rng) {
                record(t, &cmd);
                events.clear();
                report.commands += 1;
                match engine.apply_into(t, &cmd, &mut events) {
                    Ok(()) => observe(&engine, &events, &mut report, &mut last_settle),
                    Err(r) => {
                        report.rejects += 1;
                        *report.rejects_by_code.entry(r.code.as_str()).or_default() += 1;
                        agent.rejected(&cmd, r.code);
                    }
                }
            }
        }
    }
    if let Some(j) = journal.as_mut() {
        j.commit().map_err(|e| e.to_string())?;
        eprintln!(
            "journal: {} commands in {}",
            j.durable_seq(),
            args.journal.as_ref().expect("set").display()
        );
    }
    engine
        .check_invariants()
        .map_err(|e| format!("invariant broken during the simulation: {e}"))?;
    Ok(report)
}

fn product_of(engine: &Engine, id: InstrumentId) -> String {
    engine
        .instrument(id)
        .map(|i| i.spec.product.clone())
        .unwrap_or_default()
}

fn observe(
    engine: &Engine,
    events: &[Event],
    r: &mut RunReport,
    last_settle: &mut BTreeMap<InstrumentId, i64>,
) {
    for e in events {
        match e {
            Event::Trade {
                instrument, qty, ..
            } => {
                let s = r
                    .products
                    .entry(product_of(engine, *instrument))
                    .or_default();
                s.volume += qty.0;
                s.trades += 1;
            }
            Event::Settled {
                instrument,
                price,
                limit_locked,
                ..
            } => {
                last_settle.insert(*instrument, price.0);
                let s = r
                    .products
                    .entry(product_of(engine, *instrument))
                    .or_default();
                s.settlements.push((instrument.0, price.0 as f64));
                s.limit_locked_days += *limit_locked as u32;
            }
            Event::Expired {
                instrument,
                final_price,
                fixings,
            } => {
                let s = r
                    .products
                    .entry(product_of(engine, *instrument))
                    .or_default();
                s.expiries += 1;
                if let (Some(&last), true) = (last_settle.get(instrument), *fixings > 0) {
                    s.tracking
                        .push(((last - final_price.0) as f64 / final_price.0 as f64).abs());
                }
            }
            Event::CircuitBreakerTripped { instrument, .. } => {
                r.products
                    .entry(product_of(engine, *instrument))
                    .or_default()
                    .circuit_breakers += 1
            }
            Event::MarginCall { .. } => r.margin_calls += 1,
            Event::LiquidationStarted { .. } => r.liquidations += 1,
            Event::DefaultCovered {
                amount, currency, ..
            } => {
                r.defaults += 1;
                if *currency == Currency::Usd {
                    r.default_losses_usd += amount.0 as f64 / 100.0;
                }
            }
            _ => {}
        }
    }
}

/// Spread and depth of each product's front month, when it trades two-sided.
fn sample(view: &MarketView, engine: &Engine, r: &mut RunReport) {
    for iv in view
        .instruments
        .iter()
        .filter(|i| i.trading && i.month_index == 0)
    {
        let s = r.products.entry(iv.product.clone()).or_default();
        if let (Some(b), Some(a)) = (iv.best_bid, iv.best_ask) {
            s.spread_ticks_sum += (a.0 - b.0) as f64;
            s.spread_bps_sum += (a.0 - b.0) as f64 / ((a.0 + b.0) as f64 / 2.0) * 10_000.0;
            s.spread_samples += 1;
        }
        if let Some(inst) = engine.instrument(iv.id) {
            let depth: u64 = inst
                .book
                .depth(tokex_types::Side::Buy, 5)
                .iter()
                .chain(inst.book.depth(tokex_types::Side::Sell, 5).iter())
                .map(|l| l.1 .0)
                .sum();
            s.depth_sum += depth as f64;
            s.depth_samples += 1;
        }
    }
}

/// Annualised volatility of settlement-to-settlement log returns, per instrument, averaged.
fn volatility(s: &ProductStats) -> f64 {
    let mut by_inst: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for (i, p) in &s.settlements {
        by_inst.entry(*i).or_default().push(*p);
    }
    let mut vols = Vec::new();
    for prices in by_inst.values() {
        let rets: Vec<f64> = prices.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        if rets.len() < 2 {
            continue;
        }
        let mean = rets.iter().sum::<f64>() / rets.len() as f64;
        let var = rets.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (rets.len() - 1) as f64;
        vols.push(var.sqrt() * (252f64).sqrt());
    }
    if vols.is_empty() {
        0.0
    } else {
        vols.iter().sum::<f64>() / vols.len() as f64
    }
}

fn rows(r: &RunReport) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let f = |x: f64| format!("{x:.2}");
    for (root, s) in &r.products {
        let avg = |sum: f64, n: u64| {
            if n == 0 {
                "—".to_string()
            } else {
                f(sum / n as f64)
            }
        };
        let tracking = if s.tracking.is_empty() {
            "—".to_string()
        } else {
            format!(
                "{:.2}%",
                100.0 * s.tracking.iter().sum::<f64>() / s.tracking.len() as f64
            )
        };
        out.push((
            root.clone(),
            vec![
                avg(s.spread_ticks_sum, s.spread_samples),
                avg(s.spread_bps_sum, s.spread_samples),
                avg(s.depth_sum, s.depth_samples),
                s.volume.to_string(),
                s.trades.to_string(),
                format!("{:.1}%", 100.0 * volatility(s)),
                tracking,
                s.expiries.to_string(),
                s.circuit_breakers.to_string(),
                s.limit_locked_days.to_string(),
            ],
        ));
    }
    out
}

const COLUMNS: [&str; 10] = [
    "spread (ticks)",
    "spread (bps)",
    "depth top 5",
    "volume",
    "trades",
    "volatility (ann.)",
    "tracking at expiry",
    "expiries",
    "circuit breakers",
    "limit-locked days",
];

fn print(reports: &[RunReport]) {
    for r in reports {
        println!("design: {}", r.design);
        println!(
            "  {} commands ({} rejected), {} margin calls, {} liquidations, {} defaults covered (USD {:.2})",
            r.commands, r.rejects, r.margin_calls, r.liquidations, r.defaults, r.default_losses_usd
        );
        let codes: Vec<String> = r
            .rejects_by_code
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        if !codes.is_empty() {
            println!("  participants' rejected commands: {}", codes.join(", "));
        }
    }
    let all: Vec<Vec<(String, Vec<String>)>> = reports.iter().map(rows).collect();
    let roots: Vec<String> = all
        .first()
        .map(|v| v.iter().map(|(r, _)| r.clone()).collect())
        .unwrap_or_default();
    print!("{:<20}", "");
    for root in &roots {
        for (k, _) in reports.iter().enumerate() {
            print!(
                "{:>14}",
                if reports.len() > 1 {
                    format!("{root} {}", (b'A' + k as u8) as char)
                } else {
                    root.clone()
                }
            );
        }
    }
    println!();
    for (c, name) in COLUMNS.iter().enumerate() {
        print!("{name:<20}");
        for root in &roots {
            for rep in &all {
                let v = rep
                    .iter()
                    .find(|(r, _)| r == root)
                    .map(|(_, v)| v[c].clone())
                    .unwrap_or_else(|| "—".into());
                print!("{v:>14}");
            }
        }
        println!();
    }
}

pub fn run_cmd(args: SimArgs) -> Result<(), String> {
    if args.journal.is_some() && args.compare.is_some() {
        return Err("--journal records one design: leave out --compare".into());
    }
    let designs = match &args.compare {
        Some(v) => v.clone(),
        None => vec![args.products.clone()],
    };
    let t0 = std::time::Instant::now();
    let mut reports = Vec::new();
    for d in &designs {
        eprintln!(
            "simulating {} from {} for {} days (seed {}, a look every {} s)…",
            d.display(),
            args.start,
            args.days,
            args.seed,
            args.step_secs
        );
        reports.push(run(&args, d)?);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?
        );
    } else {
        print(&reports);
        eprintln!("({:.1} s)", t0.elapsed().as_secs_f64());
    }
    Ok(())
}
