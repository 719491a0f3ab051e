//! The measurements: throughput (rounds interleaved across adapters, medians), constant-rate
//! latency corrected for coordinated omission, and memory per resting order.

use crate::adapters::{Adapter, Kind, Stats};
use crate::workload::{Cmd, Rng, Workload};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

// ----- throughput ------------------------------------------------------------------------

pub struct Throughput {
    pub kind: Kind,
    /// Commands per second, one per round.
    pub rates: Vec<f64>,
    pub stats: Stats,
    pub resting: Option<usize>,
}

impl Throughput {
    pub fn median(&self) -> f64 {
        median(&self.rates)
    }
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs the stream through every adapter `rounds` times, interleaved (round 1 of each, then
/// round 2 of each, …, starting each round with a different adapter) so that a noisy
/// neighbour hurts all adapters alike. Each run starts from a fresh, prefilled book; only
/// the measured stream is timed.
pub fn throughput(
    w: &Workload,
    kinds: &[Kind],
    rounds: usize,
    mut progress: impl FnMut(usize, Kind, f64),
) -> Vec<Throughput> {
    let mut out: Vec<Throughput> = kinds
        .iter()
        .map(|&kind| Throughput {
            kind,
            rates: Vec::new(),
            stats: Stats::default(),
            resting: None,
        })
        .collect();
    for round in 0..rounds {
        for k in 0..kinds.len() {
            let slot = (k + round) % kinds.len();
            let kind = kinds[slot];
            let mut a = kind.build(w);
            let before = a.stats();
            let t = Instant::now();
            a.run(&w.cmds);
            let secs = t.elapsed().as_secs_f64();
            let after = a.stats();
            let rate = w.cmds.len() as f64 / secs;
            let r = &mut out[slot];
            r.rates.push(rate);
            r.stats = Stats {
                trades: after.trades - before.trades,
                traded_qty: after.traded_qty - before.traded_qty,
                rejects: after.rejects - before.rejects,
            };
            r.resting = a.resting();
            progress(round, kind, rate);
            drop(a);
        }
    }
    out
}

// ----- latency ---------------------------------------------------------------------------

pub struct Pace {
    /// Commands per second the sender aims at.
    pub rate_per_s: u64,
    /// Commands run flat out before pacing starts (warms caches and predictors).
    pub warmup: usize,
    /// Stop when a command completes this much later than it was due: the book cannot
    /// sustain the rate, and waiting longer only grows the queue.
    pub max_lag: Duration,
}

pub struct Paced {
    /// Nanoseconds from each command's intended send time to its completion.
    pub hist: Histogram<u64>,
    /// Nanoseconds from starting each command to its completion (no queueing: not corrected,
    /// shown beside `hist` to separate the book's own cost from waiting).
    pub service: Histogram<u64>,
    pub recorded: u64,
    /// The run stopped because the book fell `max_lag` behind the schedule.
    pub saturated: bool,
}

/// Sends the commands at a constant rate and records, for each, the time from when it was
/// *due* (start + i / rate) to when it completed. A command that waits behind a slow one is
/// charged its wait, so the histogram is corrected for coordinated omission by construction.
pub fn paced<A: Adapter + ?Sized>(a: &mut A, cmds: &[Cmd], pace: &Pace) -> Paced {
    let (warm, rest) = cmds.split_at(pace.warmup.min(cmds.len()));
    for c in warm {
        a.apply(c);
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("bounds");
    let mut service = hist.clone();
    let rate = pace.rate_per_s.max(1) as u128;
    let max_lag = pace.max_lag.as_nanos() as u64;
    let mut saturated = false;
    let mut recorded = 0;
    let start = Instant::now();
    for (i, c) in rest.iter().enumerate() {
        let due = (i as u128 * 1_000_000_000 / rate) as u64;
        let mut began = start.elapsed().as_nanos() as u64;
        while began < due {
            std::hint::spin_loop();
            began = start.elapsed().as_nanos() as u64;
        }
        a.apply(c);
        let done = start.elapsed().as_nanos() as u64;
        let lat = done.saturating_sub(due).max(1);
        hist.saturating_record(lat);
        service.saturating_record(done.saturating_sub(began).max(1));
        recorded += 1;
        if lat > max_lag {
            saturated = true;
            break;
        }
    }
    Paced {
        hist,
        service,
        recorded,
        saturated,
    }
}

/// The harness alone: a clock read per command and nothing else, to show the floor.
pub struct Null;

impl Adapter for Null {
    #[inline]
    fn apply(&mut self, c: &Cmd) {
        std::hint::black_box(c);
    }

    fn stats(&self) -> Stats {
        Stats::default()
    }

    fn resting(&self) -> Option<usize> {
        None
    }
}

// ----- memory ----------------------------------------------------------------------------

/// Resident set size of this process, from /proc/self/statm.
pub fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// `n` passive orders for the memory measurement: 600 ticks each side of 7,000 (inside the
/// test instrument's daily limits; ~830 orders a level for a million), accounts 1..=2,000, quantities 1..=50. Never crossing.
pub fn resting_orders(n: usize, seed: u64) -> Vec<Cmd> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let side = rng.side();
            let off = 1 + rng.below(600) as i64;
            Cmd::New {
                id: i as u64 + 1,
                account: 1 + rng.below(2_000) as u32,
                side,
                price: match side {
                    tokex_types::Side::Buy => 7_000 - off,
                    tokex_types::Side::Sell => 7_000 + off,
                },
                qty: 1 + rng.below(50),
                ioc: false,
            }
        })
        .collect()
}
