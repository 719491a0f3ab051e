//! The history store: orders, fills, settlements, fixings and cash movements in SQLite, in
//! the data directory, written on its own thread off the hot path.
//!
//! The journal is the source of truth; this is a queryable copy. On start the store catches
//! up from the journal (so a deleted `history.sqlite` is rebuilt), then follows the live
//! batches. Schema (prices in ticks; `instruments.tick_size` converts them):
//!
//! | table | rows |
//! |---|---|
//! | `instruments` | id, symbol, product, underlying, currency, tick_size, tick_value_minor, year, month, last_trading_day |
//! | `orders` | one per order: id, account, instrument, client_order_id, side, type, tif, price, stop_price, qty, status, leaves, filled, created_seq, updated_seq |
//! | `fills` | one per trade: trade_id, seq, time_ns, instrument, price, qty, buy/sell order and account, aggressor |
//! | `settlements` | daily settlement and expiry prices per instrument |
//! | `fixings` | index fixings: index_id, date, value_e6 |
//! | `cash` | every cash movement: account, currency, amount_minor, kind, balance_minor |
//! | `variation_margin` | per account and instrument |
//! | `meta` | `last_seq`: the last journal seq applied |

use crate::recovery::replay_with;
use crate::sequencer::Batch;
use rusqlite::{params, Connection};
use std::path::Path;
use std::sync::Arc;
use tokex_engine::{Command, Event, OrderType, TimeInForce};
use tokio::sync::broadcast;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instruments (id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, product TEXT NOT NULL,
  underlying TEXT NOT NULL, currency TEXT NOT NULL, tick_size TEXT NOT NULL, tick_value_minor INTEGER NOT NULL,
  year INTEGER NOT NULL, month INTEGER NOT NULL, last_trading_day TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, account INTEGER NOT NULL, instrument INTEGER NOT NULL,
  client_order_id TEXT, side TEXT NOT NULL, type TEXT NOT NULL, tif TEXT NOT NULL, price INTEGER, stop_price INTEGER,
  qty INTEGER NOT NULL, status TEXT NOT NULL, leaves INTEGER NOT NULL, filled INTEGER NOT NULL,
  created_seq INTEGER NOT NULL, created_ns INTEGER NOT NULL, updated_seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS orders_account ON orders(account, id);
CREATE TABLE IF NOT EXISTS fills (trade_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, time_ns INTEGER NOT NULL,
  instrument INTEGER NOT NULL, price INTEGER NOT NULL, qty INTEGER NOT NULL, buy_order INTEGER NOT NULL,
  buy_account INTEGER NOT NULL, sell_order INTEGER NOT NULL, sell_account INTEGER NOT NULL, aggressor TEXT);
CREATE INDEX IF NOT EXISTS fills_instrument ON fills(instrument, trade_id);
CREATE INDEX IF NOT EXISTS fills_buy ON fills(buy_account, trade_id);
CREATE INDEX IF NOT EXISTS fills_sell ON fills(sell_account, trade_id);
CREATE TABLE IF NOT EXISTS settlements (seq INTEGER NOT NULL, time_ns INTEGER NOT NULL, instrument INTEGER NOT NULL,
  kind TEXT NOT NULL, price INTEGER NOT NULL, volume INTEGER, open_interest INTEGER, limit_locked INTEGER);
CREATE TABLE IF NOT EXISTS fixings (index_id TEXT NOT NULL, date TEXT NOT NULL, value_e6 INTEGER NOT NULL,
  seq INTEGER NOT NULL, PRIMARY KEY (index_id, date));
CREATE TABLE IF NOT EXISTS cash (seq INTEGER NOT NULL, time_ns INTEGER NOT NULL, account INTEGER NOT NULL,
  currency TEXT NOT NULL, amount_minor INTEGER NOT NULL, kind TEXT NOT NULL, balance_minor INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS variation_margin (seq INTEGER NOT NULL, time_ns INTEGER NOT NULL, account INTEGER NOT NULL,
  instrument INTEGER NOT NULL, amount_minor INTEGER NOT NULL, position INTEGER NOT NULL);
";

fn order_type(t: OrderType) -> &'static str {
    match t {
        OrderType::Limit => "limit",
        OrderType::Market => "market",
        OrderType::StopLimit => "stop_limit",
        OrderType::StopMarket => "stop_market",
    }
}

fn tif(t: TimeInForce) -> &'static str {
    tokex_engine::event::describe_tif(t)
}

pub struct HistoryStore {
    conn: Connection,
}

impl HistoryStore {
    pub fn open(path: &Path) -> Result<HistoryStore, String> {
        let conn = Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // Every write uses one of a fixed set of statements: keep them all prepared.
        conn.set_prepared_statement_cache_capacity(32);
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(|e| e.to_string())?;
        conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
        Ok(HistoryStore { conn })
    }

    pub fn last_seq(&self) -> u64 {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
                r.get::<_, String>(0)
            })
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Writes one command's effects. Idempotent per seq: older seqs are skipped.
    pub fn record(
        &mut self,
        seq: u64,
        time_ns: u64,
        cmd: &Command,
        events: &[Event],
    ) -> Result<(), String> {
        let tx = self.conn.transaction().map_err(|e| e.to_string())?;
        write_one(&tx, seq, time_ns, cmd, events).map_err(|e| e.to_string())?;
        tx.prepare_cached("INSERT INTO meta(key, value) VALUES('last_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1").and_then(|mut st| st.execute(params![seq.to_string()])).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())
    }

    fn record_batch(&mut self, batch: &Batch) -> Result<(), String> {
        let last = self.last_seq();
        let tx = self.conn.transaction().map_err(|e| e.to_string())?;
        let mut newest = last;
        for a in batch.items.iter().filter(|a| a.seq > last) {
            write_one(&tx, a.seq, a.time.0, &a.command, &a.outcome.events)
                .map_err(|e| e.to_string())?;
            newest = a.seq;
        }
        tx.prepare_cached("INSERT INTO meta(key, value) VALUES('last_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1").and_then(|mut st| st.execute(params![newest.to_string()])).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())
    }
}

fn write_one(
    tx: &rusqlite::Transaction,
    seq: u64,
    time_ns: u64,
    cmd: &Command,
    events: &[Event],
) -> rusqlite::Result<()> {
    let (seq_i, t) = (seq as i64, time_ns as i64);
    if let Command::ListInstrument(s) = cmd {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO instruments VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            s.id.0,
            s.symbol,
            s.product,
            s.underlying,
            s.currency.code(),
            s.tick_size,
            s.tick_value_minor,
            s.year,
            s.month,
            s.last_trading_day.to_string()
        ])?;
    }
    for e in events {
        match e {
            Event::OrderAccepted {
                order_id,
                account,
                instrument,
                client_order_id,
                side,
                order_type: ot,
                tif: tf,
                price,
                stop_price,
                qty,
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO orders VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'new', ?10, 0, ?11, ?12, ?11)")?.execute(params![order_id.0 as i64, account.0, instrument.0, client_order_id.map(|c| c.to_string()), side.as_str(), order_type(*ot), tif(*tf), price.map(|p| p.0), stop_price.map(|p| p.0), qty.0 as i64, seq_i, t],
                )?;
            }
            Event::OrderRested {
                order_id, leaves, ..
            } => {
                tx.prepare_cached("UPDATE orders SET status = 'working', leaves = ?2, updated_seq = ?3 WHERE id = ?1")?.execute(params![order_id.0 as i64, leaves.0 as i64, seq_i])?;
            }
            Event::Trade {
                trade_id,
                instrument,
                price,
                qty,
                aggressor,
                buy_order,
                buy_account,
                sell_order,
                sell_account,
                buy_leaves,
                sell_leaves,
                ..
            } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO fills VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?.execute(params![*trade_id as i64, seq_i, t, instrument.0, price.0, qty.0 as i64, buy_order.0 as i64, buy_account.0, sell_order.0 as i64, sell_account.0, aggressor.map(|s| s.as_str())],
                )?;
                for (id, leaves) in [(buy_order, buy_leaves), (sell_order, sell_leaves)] {
                    tx.prepare_cached(
                        "UPDATE orders SET filled = filled + ?2, leaves = ?3, status = CASE WHEN ?3 = 0 THEN 'filled' ELSE 'partially_filled' END, updated_seq = ?4 WHERE id = ?1")?.execute(params![id.0 as i64, qty.0 as i64, leaves.0 as i64, seq_i],
                    )?;
                }
            }
            Event::OrderCancelled {
                order_id, reason, ..
            } => {
                tx.prepare_cached(
                    "UPDATE orders SET status = ?2, leaves = 0, updated_seq = ?3 WHERE id = ?1",
                )?
                .execute(params![
                    order_id.0 as i64,
                    format!("cancelled:{}", reason.as_str()),
                    seq_i
                ])?;
            }
            Event::OrderAmended {
                order_id,
                price,
                stop_price,
                leaves,
                ..
            } => {
                tx.prepare_cached(
                    "UPDATE orders SET price = COALESCE(?2, price), stop_price = COALESCE(?3, stop_price), leaves = ?4, updated_seq = ?5 WHERE id = ?1")?.execute(params![order_id.0 as i64, price.map(|p| p.0), stop_price.map(|p| p.0), leaves.0 as i64, seq_i],
                )?;
            }
            Event::Settled {
                instrument,
                price,
                volume,
                open_interest,
                limit_locked,
                ..
            } => {
                tx.prepare_cached(
                    "INSERT INTO settlements VALUES (?1, ?2, ?3, 'daily', ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    seq_i,
                    t,
                    instrument.0,
                    price.0,
                    volume.0 as i64,
                    *open_interest as i64,
                    *limit_locked as i64
                ])?;
            }
            Event::Expired {
                instrument,
                final_price,
                ..
            } => {
                tx.prepare_cached(
                    "INSERT INTO settlements VALUES (?1, ?2, ?3, 'final', ?4, NULL, NULL, NULL)",
                )?
                .execute(params![seq_i, t, instrument.0, final_price.0])?;
            }
            Event::FixingRecorded {
                index,
                date,
                value_e6,
            } => {
                tx.prepare_cached("INSERT OR REPLACE INTO fixings VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![index, date.to_string(), value_e6, seq_i])?;
            }
            Event::CashMoved {
                account,
                currency,
                amount,
                kind,
                balance,
            } => {
                tx.prepare_cached("INSERT INTO cash VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                    .execute(params![
                        seq_i,
                        t,
                        account.0,
                        currency.code(),
                        amount.0,
                        format!("{kind:?}"),
                        balance.0
                    ])?;
            }
            Event::VariationMargin {
                account,
                instrument,
                amount,
                position,
            } => {
                tx.prepare_cached("INSERT INTO variation_margin VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                    .execute(params![
                        seq_i,
                        t,
                        account.0,
                        instrument.0,
                        amount.0,
                        position
                    ])?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Opens the store, catches up from the journal, and follows the live batches on a thread.
pub fn spawn(
    path: &Path,
    journal_dir: &Path,
    mut rx: broadcast::Receiver<Arc<Batch>>,
) -> Result<std::thread::JoinHandle<()>, String> {
    let mut store = HistoryStore::open(path)?;
    let from = store.last_seq();
    let mut pending: Vec<(u64, u64, Command, Vec<Event>)> = Vec::new();
    // Catch up (a deleted store is rebuilt from the whole journal).
    let (_, report) = replay_with(journal_dir, |seq, time, cmd, events| {
        if seq > from {
            pending.push((seq, time.0, cmd.clone(), events.to_vec()));
        }
    })?;
    if !pending.is_empty() {
        let tx = store.conn.transaction().map_err(|e| e.to_string())?;
        for (seq, t, cmd, events) in &pending {
            write_one(&tx, *seq, *t, cmd, events).map_err(|e| e.to_string())?;
        }
        tx.prepare_cached("INSERT INTO meta(key, value) VALUES('last_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1").and_then(|mut st| st.execute(params![report.last_seq.to_string()])).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        tracing::info!(
            records = pending.len(),
            "history store caught up from the journal"
        );
    }
    std::thread::Builder::new()
        .name("history".into())
        .spawn(move || loop {
            match rx.blocking_recv() {
                Ok(batch) => {
                    if let Err(e) = store.record_batch(&batch) {
                        tracing::error!(error = %e, "history store write failed");
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(batches = n, "history store fell behind; it catches up from the journal at the next start");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        })
        .map_err(|e| e.to_string())
}
