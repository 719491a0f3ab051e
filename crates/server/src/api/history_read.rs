//! Order and fill history read from the SQLite history store (its own read-only connection;
//! the store is written by the history thread).

use super::market::{FillView, OrderView};
use rusqlite::{params_from_iter, Connection, OpenFlags, Row};
use std::path::Path;
use tokex_types::{Price, Side, Timestamp};

fn open(path: &Path) -> Result<Option<Connection>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())?;
    c.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    Ok(Some(c))
}

/// The last seq the history store has applied.
pub fn last_seq(path: &Path) -> u64 {
    let Ok(Some(c)) = open(path) else { return 0 };
    c.query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| {
        r.get::<_, String>(0)
    })
    .ok()
    .and_then(|s| s.parse().ok())
    .unwrap_or(0)
}

fn side(s: &str) -> Side {
    if s == "sell" {
        Side::Sell
    } else {
        Side::Buy
    }
}

fn static_str(s: &str, options: &[&'static str]) -> &'static str {
    options
        .iter()
        .find(|o| o.eq_ignore_ascii_case(s))
        .copied()
        .unwrap_or("limit")
}

const ORDER_COLS: &str = "id, account, instrument, client_order_id, side, type, tif, price, stop_price, qty, status, leaves, filled, created_ns, updated_seq";

fn order_row(r: &Row) -> rusqlite::Result<OrderView> {
    let status: String = r.get(10)?;
    let (status, reason) = match status.split_once(':') {
        Some((s, why)) => (s.to_string(), Some(why.to_string())),
        None => (status, None),
    };
    let created: i64 = r.get(13)?;
    Ok(OrderView {
        order_id: r.get::<_, i64>(0)? as u64,
        account: r.get::<_, i64>(1)? as u32,
        instrument: r.get::<_, i64>(2)? as u32,
        client_order_id: r.get(3)?,
        side: side(&r.get::<_, String>(4)?),
        order_type: static_str(
            &r.get::<_, String>(5)?,
            &["limit", "market", "stop_limit", "stop_market"],
        ),
        tif: static_str(
            &r.get::<_, String>(6)?,
            &["gfd", "gtc", "gtd", "ioc", "fok"],
        ),
        expire_at: None,
        price: r.get::<_, Option<i64>>(7)?.map(Price),
        stop_price: r.get::<_, Option<i64>>(8)?.map(Price),
        qty: r.get::<_, i64>(9)? as u64,
        status,
        cancel_reason: reason,
        leaves: r.get::<_, i64>(11)? as u64,
        filled: r.get::<_, i64>(12)? as u64,
        created: (created > 0).then_some(Timestamp(created as u64)),
        updated_seq: r.get::<_, i64>(14)? as u64,
    })
}

pub fn order_by_id(path: &Path, id: u64) -> Result<Option<OrderView>, String> {
    let Some(c) = open(path)? else {
        return Ok(None);
    };
    let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE id = ?1");
    match c.query_row(&sql, [id as i64], order_row) {
        Ok(o) => Ok(Some(o)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

pub fn order_by_client_id(
    path: &Path,
    account: u32,
    clid: &str,
) -> Result<Option<OrderView>, String> {
    let Some(c) = open(path)? else {
        return Ok(None);
    };
    let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE account = ?1 AND client_order_id = ?2 ORDER BY id DESC LIMIT 1");
    match c.query_row(&sql, rusqlite::params![account, clid], order_row) {
        Ok(o) => Ok(Some(o)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// An account's orders, newest first, optionally on one instrument and before an order id.
pub fn orders(
    path: &Path,
    account: u32,
    instrument: Option<u32>,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<OrderView>, String> {
    let Some(c) = open(path)? else {
        return Ok(Vec::new());
    };
    let mut sql = format!("SELECT {ORDER_COLS} FROM orders WHERE account = ?1");
    let mut args: Vec<i64> = vec![account as i64];
    if let Some(i) = instrument {
        args.push(i as i64);
        sql.push_str(&format!(" AND instrument = ?{}", args.len()));
    }
    if let Some(b) = before {
        args.push(b as i64);
        sql.push_str(&format!(" AND id < ?{}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    let mut stmt = c.prepare(&sql).map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), order_row)
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// An account's fills, newest first.
pub fn fills(
    path: &Path,
    account: u32,
    instrument: Option<u32>,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<FillView>, String> {
    let Some(c) = open(path)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (acct_col, order_col, s) in [
        ("buy_account", "buy_order", Side::Buy),
        ("sell_account", "sell_order", Side::Sell),
    ] {
        let mut sql = format!("SELECT trade_id, seq, time_ns, instrument, price, qty, {order_col}, aggressor FROM fills WHERE {acct_col} = ?1");
        let mut args: Vec<i64> = vec![account as i64];
        if let Some(i) = instrument {
            args.push(i as i64);
            sql.push_str(&format!(" AND instrument = ?{}", args.len()));
        }
        if let Some(b) = before {
            args.push(b as i64);
            sql.push_str(&format!(" AND trade_id < ?{}", args.len()));
        }
        sql.push_str(&format!(" ORDER BY trade_id DESC LIMIT {limit}"));
        let mut stmt = c.prepare(&sql).map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                let aggressor: Option<String> = r.get(7)?;
                let liquidity = match aggressor.as_deref() {
                    None => "auction",
                    Some(a) if side(a) == s => "taker",
                    Some(_) => "maker",
                };
                Ok(FillView {
                    trade_id: r.get::<_, i64>(0)? as u64,
                    seq: r.get::<_, i64>(1)? as u64,
                    time: Timestamp(r.get::<_, i64>(2)? as u64),
                    instrument: r.get::<_, i64>(3)? as u32,
                    price: Price(r.get(4)?),
                    qty: r.get::<_, i64>(5)? as u64,
                    order_id: r.get::<_, i64>(6)? as u64,
                    side: s,
                    liquidity,
                })
            })
            .map_err(|e| e.to_string())?;
        for r in rows {
            out.push(r.map_err(|e| e.to_string())?);
        }
    }
    // A self-trade appears on both sides: keep both (one per order).
    out.sort_by_key(|f| std::cmp::Reverse((f.trade_id, f.side == Side::Sell)));
    out.truncate(limit as usize);
    Ok(out)
}
