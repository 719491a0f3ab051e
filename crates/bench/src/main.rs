//! `tokex-bench`: every adapter on the same seeded stream, side by side in one run.
//!
//! ```text
//! cargo run --release -p tokex-bench                     # throughput, latency, memory
//! cargo run --release -p tokex-bench -- --help
//! ```

use clap::Parser;
use std::time::{Duration, Instant};
use tokex_bench::adapters::{
    Adapter, BTreeBook, Kind, Lobster, OrderbookRs, TokexBook, TokexEngine,
};
use tokex_bench::harness::{self, Null, Pace};
use tokex_bench::workload::{self, Config};

#[derive(Parser, Debug)]
#[command(
    name = "tokex-bench",
    about = "Throughput, latency and memory of the Tokex trading core beside peer order books, on one seeded exchange-core stream (SPEC §10)."
)]
struct Args {
    /// Commands in the measured stream.
    #[arg(long, default_value_t = 2_000_000)]
    commands: usize,
    /// Throughput rounds per adapter (interleaved); the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Workload seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Adapters to run, comma separated (tokex-engine, tokex-book, lobster, orderbook-rs, btreemap).
    #[arg(long, value_delimiter = ',')]
    adapters: Option<Vec<String>>,
    /// Target rates of the constant-rate latency runs, commands/s, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000_000u64, 5_000_000])]
    rates: Vec<u64>,
    /// Commands per latency run (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 1_000_000)]
    latency_commands: usize,
    /// Resting orders for the memory measurement.
    #[arg(long, default_value_t = 1_000_000)]
    memory_orders: usize,
    #[arg(long)]
    skip_throughput: bool,
    #[arg(long)]
    skip_latency: bool,
    #[arg(long)]
    skip_memory: bool,
    /// Internal: measure one book's memory in this (child) process and print it.
    #[arg(long, hide = true)]
    memory_child: Option<String>,
}

fn main() {
    let args = Args::parse();
    if let Some(kind) = &args.memory_child {
        memory_child(kind, args.memory_orders);
        return;
    }
    let kinds: Vec<Kind> = match &args.adapters {
        None => Kind::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| Kind::parse(n).unwrap_or_else(|| panic!("unknown adapter {n}")))
            .collect(),
    };
    let cfg = Config {
        seed: args.seed,
        commands: args
            .commands
            .max(args.latency_commands + args.latency_commands / 10),
        ..Config::default()
    };
    let t = Instant::now();
    let w = workload::generate(&cfg);
    let ex = &w.expected;
    println!(
        "workload: seed {} | {} prefill + {} commands (generated in {:.1} s)",
        cfg.seed,
        w.prefill.len(),
        w.cmds.len(),
        t.elapsed().as_secs_f64()
    );
    let n = w.cmds.len() as f64 / 100.0;
    println!(
        "  mix: move {:.1}% | new GTC {:.1}% | cancel {:.1}% | IOC {:.1}%",
        ex.moves as f64 / n,
        ex.news as f64 / n,
        ex.cancels as f64 / n,
        ex.iocs as f64 / n
    );
    println!(
        "  resting orders: {} after prefill, mean {}, {} at end | mid {}..{} ticks | {} accounts",
        ex.resting_after_prefill,
        ex.resting_mean,
        ex.resting_at_end,
        ex.mid_min,
        ex.mid_max,
        cfg.accounts
    );
    println!(
        "  reference model: {} trades, {} contracts, {:.2}% of commands trade",
        ex.trades,
        ex.traded_qty,
        ex.trading_commands as f64 / n
    );
    println!(
        "  sizes: engine Command {} B, Event {} B; stream Cmd {} B",
        std::mem::size_of::<tokex_engine::Command>(),
        std::mem::size_of::<tokex_engine::Event>(),
        std::mem::size_of::<workload::Cmd>()
    );
    if !args.skip_throughput {
        throughput(&args, &w, &kinds);
    }
    if !args.skip_latency {
        latency(&args, &w, &kinds);
    }
    if !args.skip_memory {
        memory(args.memory_orders);
    }
}

fn throughput(args: &Args, w: &workload::Workload, kinds: &[Kind]) {
    println!(
        "\n## Throughput: {} commands, {} rounds interleaved, fresh prefilled book per run",
        w.cmds.len(),
        args.rounds
    );
    let res = harness::throughput(w, kinds, args.rounds, |round, kind, rate| {
        eprintln!(
            "  round {} {:<13} {:>7.2} M commands/s",
            round + 1,
            kind.name(),
            rate / 1e6
        );
    });
    let base = res
        .iter()
        .find(|r| r.kind == Kind::TokexEngine)
        .map(|r| r.median());
    println!(
        "\n| adapter | median M cmd/s | min | max | vs tokex-engine | trades | contracts | rejects | resting at end |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &res {
        let min = r.rates.iter().cloned().fold(f64::MAX, f64::min);
        let max = r.rates.iter().cloned().fold(0.0, f64::max);
        let ratio = base.map_or("-".to_string(), |b| format!("{:.2}x", r.median() / b));
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
            r.kind.name(),
            r.median() / 1e6,
            min / 1e6,
            max / 1e6,
            ratio,
            r.stats.trades,
            r.stats.traded_qty,
            r.stats.rejects,
            r.resting.map_or("-".to_string(), |n| n.to_string())
        );
    }
    let ex = &w.expected;
    let agree = res
        .iter()
        .all(|r| r.stats.trades == ex.trades && r.stats.traded_qty == ex.traded_qty);
    println!(
        "\nreference model: {} trades, {} contracts, {} resting at end -> adapters {}",
        ex.trades,
        ex.traded_qty,
        ex.resting_at_end,
        if agree {
            "all agree"
        } else {
            "DISAGREE (see table)"
        }
    );
}

fn latency(args: &Args, w: &workload::Workload, kinds: &[Kind]) {
    let n = args.latency_commands.min(w.cmds.len());
    let warm = n / 10;
    let cmds = &w.cmds[..(n + warm).min(w.cmds.len())];
    println!(
        "\n## Latency: constant rate, {} commands per run after {} warm-up, ns from due time to completion (coordinated omission corrected)",
        n, warm
    );
    println!("\n| adapter | target rate | p50 | p99 | p99.9 | p99.99 | max | service p50 / p99 / p99.9 | note |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for &rate in &args.rates {
        let pace = Pace {
            rate_per_s: rate,
            warmup: warm,
            max_lag: Duration::from_millis(200),
        };
        let mut rows: Vec<(&str, harness::Paced)> = Vec::new();
        rows.push(("(harness only)", Null.run_paced(cmds, &pace)));
        for &k in kinds {
            let mut a = k.build(w);
            rows.push((k.name(), a.run_paced(cmds, &pace)));
        }
        for (name, p) in rows {
            let h = &p.hist;
            let note = if p.saturated {
                format!(
                    "cannot sustain the rate: {} ms behind after {} commands",
                    h.max() / 1_000_000,
                    p.recorded
                )
            } else {
                String::new()
            };
            let sv = &p.service;
            println!(
                "| {} | {}M/s | {} | {} | {} | {} | {} | {} / {} / {} | {} |",
                name,
                rate as f64 / 1e6,
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.value_at_quantile(0.9999),
                h.max(),
                sv.value_at_quantile(0.5),
                sv.value_at_quantile(0.99),
                sv.value_at_quantile(0.999),
                note
            );
        }
    }
}

fn memory(orders: usize) {
    println!(
        "\n## Memory: {orders} resting orders (never crossing, 600 ticks each side, ~830 a level), each book in its own process"
    );
    println!(
        "\n| book | heap_bytes() | bytes/order (heap) | RSS delta | bytes/order (RSS) | build ms |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe().expect("own path");
    for kind in [
        "tokex-book",
        "tokex-engine",
        "btreemap",
        "lobster",
        "orderbook-rs",
    ] {
        let out = std::process::Command::new(&exe)
            .args([
                "--memory-child",
                kind,
                "--memory-orders",
                &orders.to_string(),
            ])
            .output()
            .expect("run child");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            println!(
                "| {kind} | failed: {} |",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
}

fn memory_child(kind: &str, n: usize) {
    let orders = harness::resting_orders(n, 7);
    let before = harness::rss_bytes().unwrap_or(0);
    let t = Instant::now();
    let (heap, resting): (Option<usize>, Option<usize>) = match kind {
        "tokex-book" => {
            let mut a = TokexBook::new();
            a.run(&orders);
            let r = (Some(a.book().heap_bytes()), Some(a.book().len()));
            std::mem::forget(a);
            r
        }
        "tokex-engine" => {
            let mut a = TokexEngine::new(7_000, 2_000);
            a.run(&orders);
            assert_eq!(a.stats().rejects, 0, "engine refused orders");
            let book = &a
                .engine()
                .instrument(tokex_types::InstrumentId(0))
                .expect("listed")
                .book;
            let r = (Some(book.heap_bytes()), Some(book.len()));
            std::mem::forget(a);
            r
        }
        "btreemap" => {
            let mut a = BTreeBook::new();
            a.run(&orders);
            let r = (None, Some(a.len()));
            std::mem::forget(a);
            r
        }
        "lobster" => {
            let mut a = Lobster::new();
            a.run(&orders);
            std::mem::forget(a);
            (None, None)
        }
        "orderbook-rs" => {
            let mut a = OrderbookRs::new();
            a.run(&orders);
            std::mem::forget(a);
            (None, None)
        }
        other => panic!("unknown book {other}"),
    };
    let ms = t.elapsed().as_millis();
    let after = harness::rss_bytes().unwrap_or(0);
    if let Some(r) = resting {
        assert_eq!(r, n, "{kind}: not every order rests");
    }
    let rss = after.saturating_sub(before);
    let (heap_s, heap_per) = match heap {
        Some(h) => (
            format!("{:.1} MiB", h as f64 / (1 << 20) as f64),
            format!("{:.1}", h as f64 / n as f64),
        ),
        None => ("-".into(), "-".into()),
    };
    println!(
        "| {kind} | {heap_s} | {heap_per} | {:.1} MiB | {:.1} | {ms} |",
        rss as f64 / (1 << 20) as f64,
        rss as f64 / n as f64
    );
}
