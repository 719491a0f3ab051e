//! The scheduler turns the calendar into commands: phase changes, the end of the trading
//! day (day orders expire, daily settlement), the margin-call deadline at the next open,
//! expiry and the listing of new months, index fixings, and periodic risk sweeps.
//!
//! It lives in the shell, on the sequencer thread: what it decides is journaled like every
//! other command, so a replay reproduces the trading day exactly without running it again.
//! After a restart it catches up on everything due between the last journaled command and
//! now, in order.

use crate::index_feed::IndexFeed;
use chrono::{NaiveDate, TimeZone};
use std::collections::BTreeSet;
use tokex_engine::{Command, Engine, Phase};
use tokex_types::calendar::{Phase as CalPhase, PhaseTransition};
use tokex_types::product::{ProductDef, ProductSet};
use tokex_types::{InstrumentId, Price, Timestamp};

pub struct Scheduler {
    products: ProductSet,
    feed: Option<IndexFeed>,
    risk_sweep_ns: u64,
    last_sweep: Timestamp,
}

fn engine_phase(p: CalPhase) -> Phase {
    match p {
        CalPhase::Closed => Phase::Closed,
        CalPhase::PreOpen => Phase::PreOpen,
        // The auction uncrosses when the pre-open ends; nothing trades until the open.
        CalPhase::Uncross | CalPhase::Break => Phase::Break,
        CalPhase::Continuous => Phase::Continuous,
    }
}

fn date_of(ts: Timestamp) -> NaiveDate {
    chrono::DateTime::from_timestamp((ts.0 / 1_000_000_000) as i64, 0)
        .expect("time in range")
        .date_naive()
}

fn ts_of(dt: chrono::DateTime<chrono::Utc>) -> Timestamp {
    Timestamp(dt.timestamp_nanos_opt().expect("time in range") as u64)
}

impl Scheduler {
    pub fn new(products: ProductSet, feed: Option<IndexFeed>, risk_sweep_secs: u64) -> Scheduler {
        Scheduler {
            products,
            feed,
            risk_sweep_ns: risk_sweep_secs * 1_000_000_000,
            last_sweep: Timestamp(0),
        }
    }

    pub fn products(&self) -> &ProductSet {
        &self.products
    }

    /// The reference price for a new listing: the latest index level in ticks, else the
    /// product's configured default.
    fn reference_for(&mut self, p: &ProductDef, day: NaiveDate) -> Price {
        let tick_e6 = p.tick_size().rescaled(6).unwrap_or(0) as i64;
        if tick_e6 > 0 {
            if let Some(feed) = self.feed.as_mut() {
                if let Some((_, v)) = feed.latest(p.underlying(), day) {
                    let ticks = (v + tick_e6 / 2) / tick_e6;
                    if ticks >= 1 {
                        return Price(ticks);
                    }
                }
            }
        }
        p.initial_reference_price()
    }

    /// Commands for an empty exchange: the history of index fixings up to `now`, listing of
    /// every product's months, and each instrument put in the phase its calendar has now.
    pub fn bootstrap(&mut self, engine: &Engine, now: Timestamp) -> Vec<Command> {
        let mut cmds = Vec::new();
        let today = date_of(now);
        if let Some(feed) = self.feed.as_mut() {
            for (index, date, value_e6) in feed.history(today - chrono::Duration::days(1)) {
                cmds.push(Command::IndexFixing {
                    index,
                    date,
                    value_e6,
                });
            }
        }
        let mut next_id = engine.instrument_count() as u32;
        let listings: Vec<(String, i32, u32)> = {
            let mut v = Vec::new();
            for p in self.products.products() {
                let day = p.calendar().trading_day_of(now);
                for (y, m) in p.listed_months(day) {
                    v.push((p.root().to_string(), y, m));
                }
            }
            v
        };
        for (root, y, m) in listings {
            let p = self.products.get(&root).expect("listed").clone();
            let day = p.calendar().trading_day_of(now);
            if let Ok(mut spec) = p.instrument_spec(InstrumentId(next_id), y, m) {
                spec.initial_reference_price = self.reference_for(&p, day);
                cmds.push(Command::ListInstrument(Box::new(spec)));
                let phase = engine_phase(p.calendar().phase_at(now));
                if phase != Phase::Closed {
                    cmds.push(Command::SetPhase {
                        instrument: InstrumentId(next_id),
                        phase,
                    });
                }
                next_id += 1;
            }
        }
        cmds
    }

    /// Everything due in `(from, to]`, each with the instant it is due, in time order.
    pub fn due(
        &mut self,
        engine: &Engine,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<(Timestamp, Command)> {
        let mut out: Vec<(Timestamp, u8, Command)> = Vec::new();
        let mut settled: BTreeSet<Timestamp> = BTreeSet::new();
        let mut next_id = engine.instrument_count() as u32;
        let live: Vec<(InstrumentId, String)> = engine
            .instruments()
            .filter(|i| !i.delisted)
            .map(|i| (i.spec.id, i.spec.product.clone()))
            .collect();
        let products: Vec<ProductDef> = self.products.products().to_vec();
        for p in &products {
            let cal = p.calendar();
            for (t, tr) in cal.transitions(from, to) {
                match tr {
                    PhaseTransition::Phase {
                        from: was,
                        to: now_phase,
                        ..
                    } => {
                        let phase = engine_phase(now_phase);
                        for (id, root) in &live {
                            if root == p.root() {
                                out.push((
                                    t,
                                    1,
                                    Command::SetPhase {
                                        instrument: *id,
                                        phase,
                                    },
                                ));
                            }
                        }
                        if matches!(was, CalPhase::Closed)
                            && matches!(now_phase, CalPhase::PreOpen | CalPhase::Continuous)
                        {
                            out.push((t, 0, Command::MarginCallDeadline));
                        }
                    }
                    PhaseTransition::EndOfTradingDay { trading_day } => {
                        for (id, root) in &live {
                            if root == p.root() {
                                out.push((t, 2, Command::EndTradingDay { instrument: *id }));
                            }
                        }
                        if settled.insert(t) {
                            out.push((t, 3, Command::DailySettlement));
                        }
                        // Expiry of the month whose last trading day this was, then listing.
                        for (id, root) in &live {
                            if root != p.root() {
                                continue;
                            }
                            let spec = &engine.instrument(*id).expect("live").spec;
                            if spec.last_trading_day <= trading_day {
                                out.push((t, 4, Command::Expire { instrument: *id }));
                            }
                        }
                        let next_day = cal.next_business_day(trading_day);
                        let listed: BTreeSet<(i32, u32)> = engine
                            .instruments()
                            .filter(|i| {
                                i.spec.product == p.root()
                                    && !i.delisted
                                    && i.spec.last_trading_day > trading_day
                            })
                            .map(|i| (i.spec.year, i.spec.month))
                            .collect();
                        for (y, m) in p.listed_months(next_day) {
                            if !listed.contains(&(y, m)) {
                                if let Ok(mut spec) = p.instrument_spec(InstrumentId(next_id), y, m)
                                {
                                    spec.initial_reference_price =
                                        self.reference_for(p, trading_day);
                                    out.push((t, 5, Command::ListInstrument(Box::new(spec))));
                                    let phase = engine_phase(cal.phase_at(t));
                                    if phase != Phase::Closed {
                                        out.push((
                                            t,
                                            6,
                                            Command::SetPhase {
                                                instrument: InstrumentId(next_id),
                                                phase,
                                            },
                                        ));
                                    }
                                    next_id += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        // Index fixings at each index's fixing time (UTC, per the definition).
        if let Some(feed) = self.feed.as_mut() {
            let defs: Vec<(String, chrono::NaiveTime)> = feed
                .definitions()
                .iter()
                .map(|d| (d.id.clone(), d.fixing_time))
                .collect();
            let (d0, d1) = (date_of(from), date_of(to));
            for day in d0.iter_days().take_while(|d| *d <= d1) {
                for (id, time) in &defs {
                    let at = ts_of(chrono::Utc.from_utc_datetime(&day.and_time(*time)));
                    if at > from && at <= to {
                        if let Some(v) = feed.fixing(id, day) {
                            out.push((
                                at,
                                0,
                                Command::IndexFixing {
                                    index: id.clone(),
                                    date: day,
                                    value_e6: v,
                                },
                            ));
                        }
                    }
                }
            }
        }
        if self.risk_sweep_ns > 0 && to.0 >= self.last_sweep.0 + self.risk_sweep_ns {
            self.last_sweep = to;
            out.push((to, 9, Command::RiskSweep));
        }
        // Stable order: by time, then by kind (fixings and deadlines first, phases, end of
        // day, settlement, expiry, listing), then as generated.
        out.sort_by_key(|(t, k, _)| (*t, *k));
        out.into_iter().map(|(t, _, c)| (t, c)).collect()
    }
}
