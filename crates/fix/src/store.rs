//! Per-session persistence: the next sequence numbers both ways and every message sent, so a
//! ResendRequest is answered after a restart. [`SqliteStore`] keeps them in
//! `data_dir/fix/sessions.sqlite` (WAL; one row per message sent); [`MemStore`] is for tests.

use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What a session needs remembered.
pub trait Store: Send {
    /// Next MsgSeqNum we send.
    fn next_out(&self) -> u64;
    /// Next MsgSeqNum we expect.
    fn next_in(&self) -> u64;
    fn set_next_in(&mut self, seq: u64) -> Result<(), String>;
    /// Records a message we sent with `seq` (= `next_out`), which then advances.
    fn record_out(&mut self, seq: u64, admin: bool, raw: &[u8]) -> Result<(), String>;
    /// Sets the next outbound number (after a reset) without recording a message.
    fn set_next_out(&mut self, seq: u64) -> Result<(), String>;
    /// Messages sent with `from <= seq <= to`, in order: (seq, administrative, raw bytes).
    fn sent(&self, from: u64, to: u64) -> Result<Vec<(u64, bool, Vec<u8>)>, String>;
    /// Forgets every message and starts both directions at 1.
    fn reset(&mut self) -> Result<(), String>;
}

/// An in-memory store (tests).
#[derive(Debug)]
pub struct MemStore {
    pub next_out: u64,
    pub next_in: u64,
    pub sent: BTreeMap<u64, (bool, Vec<u8>)>,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore {
            next_out: 1,
            next_in: 1,
            sent: BTreeMap::new(),
        }
    }
}

impl Store for MemStore {
    fn next_out(&self) -> u64 {
        self.next_out
    }
    fn next_in(&self) -> u64 {
        self.next_in
    }
    fn set_next_in(&mut self, seq: u64) -> Result<(), String> {
        self.next_in = seq;
        Ok(())
    }
    fn record_out(&mut self, seq: u64, admin: bool, raw: &[u8]) -> Result<(), String> {
        self.sent.insert(seq, (admin, raw.to_vec()));
        self.next_out = seq + 1;
        Ok(())
    }
    fn set_next_out(&mut self, seq: u64) -> Result<(), String> {
        self.next_out = seq;
        Ok(())
    }
    fn sent(&self, from: u64, to: u64) -> Result<Vec<(u64, bool, Vec<u8>)>, String> {
        Ok(self
            .sent
            .range(from..=to)
            .map(|(s, (a, r))| (*s, *a, r.clone()))
            .collect())
    }
    fn reset(&mut self) -> Result<(), String> {
        *self = MemStore::default();
        Ok(())
    }
}

/// One SQLite database for all sessions of a gateway.
#[derive(Clone)]
pub struct SqliteDb {
    conn: Arc<Mutex<Connection>>,
}

fn e(x: rusqlite::Error) -> String {
    format!("FIX store: {x}")
}

impl SqliteDb {
    pub fn open(path: &Path) -> Result<SqliteDb, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|x| format!("{}: {x}", dir.display()))?;
        }
        let conn = Connection::open(path).map_err(e)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS seqnums (session TEXT PRIMARY KEY, next_out INTEGER NOT NULL, next_in INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS sent (session TEXT NOT NULL, seq INTEGER NOT NULL, admin INTEGER NOT NULL, raw BLOB NOT NULL, PRIMARY KEY (session, seq));",
        )
        .map_err(e)?;
        Ok(SqliteDb {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The store of one session (created at 1/1 when new).
    pub fn session(&self, key: &str) -> Result<SqliteStore, String> {
        let c = self.conn.lock().expect("fix store");
        c.execute(
            "INSERT OR IGNORE INTO seqnums (session, next_out, next_in) VALUES (?1, 1, 1)",
            params![key],
        )
        .map_err(e)?;
        let (next_out, next_in): (i64, i64) = c
            .query_row(
                "SELECT next_out, next_in FROM seqnums WHERE session = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(e)?;
        // A message recorded after the counters (a crash between the two) still counts.
        let last: Option<i64> = c
            .query_row(
                "SELECT MAX(seq) FROM sent WHERE session = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(e)?
            .flatten();
        let next_out = (next_out as u64).max(last.map_or(1, |l| l as u64 + 1));
        Ok(SqliteStore {
            db: self.clone(),
            key: key.to_string(),
            next_out,
            next_in: next_in as u64,
        })
    }
}

pub struct SqliteStore {
    db: SqliteDb,
    key: String,
    next_out: u64,
    next_in: u64,
}

impl SqliteStore {
    fn save(&self) -> Result<(), String> {
        let c = self.db.conn.lock().expect("fix store");
        c.execute(
            "UPDATE seqnums SET next_out = ?2, next_in = ?3 WHERE session = ?1",
            params![self.key, self.next_out as i64, self.next_in as i64],
        )
        .map_err(e)?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn next_out(&self) -> u64 {
        self.next_out
    }
    fn next_in(&self) -> u64 {
        self.next_in
    }
    fn set_next_in(&mut self, seq: u64) -> Result<(), String> {
        self.next_in = seq;
        self.save()
    }
    fn record_out(&mut self, seq: u64, admin: bool, raw: &[u8]) -> Result<(), String> {
        {
            let c = self.db.conn.lock().expect("fix store");
            c.execute(
                "INSERT OR REPLACE INTO sent (session, seq, admin, raw) VALUES (?1, ?2, ?3, ?4)",
                params![self.key, seq as i64, admin as i64, raw],
            )
            .map_err(e)?;
        }
        self.next_out = seq + 1;
        self.save()
    }
    fn set_next_out(&mut self, seq: u64) -> Result<(), String> {
        self.next_out = seq;
        self.save()
    }
    fn sent(&self, from: u64, to: u64) -> Result<Vec<(u64, bool, Vec<u8>)>, String> {
        let c = self.db.conn.lock().expect("fix store");
        let mut st = c
            .prepare("SELECT seq, admin, raw FROM sent WHERE session = ?1 AND seq >= ?2 AND seq <= ?3 ORDER BY seq")
            .map_err(e)?;
        let rows = st
            .query_map(
                params![self.key, from as i64, to.min(i64::MAX as u64) as i64],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, i64>(1)? != 0,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                },
            )
            .map_err(e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e)
    }
    fn reset(&mut self) -> Result<(), String> {
        {
            let c = self.db.conn.lock().expect("fix store");
            c.execute("DELETE FROM sent WHERE session = ?1", params![self.key])
                .map_err(e)?;
        }
        self.next_out = 1;
        self.next_in = 1;
        self.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fix/sessions.sqlite");
        {
            let db = SqliteDb::open(&path).unwrap();
            let mut s = db.session("A-B").unwrap();
            assert_eq!((s.next_out(), s.next_in()), (1, 1));
            s.record_out(1, true, b"one").unwrap();
            s.record_out(2, false, b"two").unwrap();
            s.set_next_in(7).unwrap();
            let mut other = db.session("C-D").unwrap();
            other.record_out(1, false, b"x").unwrap();
        }
        let db = SqliteDb::open(&path).unwrap();
        let mut s = db.session("A-B").unwrap();
        assert_eq!((s.next_out(), s.next_in()), (3, 7));
        assert_eq!(
            s.sent(2, u64::MAX).unwrap(),
            vec![(2, false, b"two".to_vec())]
        );
        s.reset().unwrap();
        assert_eq!((s.next_out(), s.next_in()), (1, 1));
        assert!(s.sent(1, 10).unwrap().is_empty());
        assert_eq!(db.session("C-D").unwrap().next_out(), 2);
    }
}

/// What the tracker keeps across restarts for a working order: the FIX names and the fills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub order_id: u64,
    pub cl_ord_id: Option<String>,
    pub orig_cl_ord_id: Option<String>,
    pub session: Option<usize>,
    pub cum: u64,
    pub notional: i128,
}

impl SqliteDb {
    fn orders_table(c: &Connection) -> Result<(), String> {
        c.execute_batch("CREATE TABLE IF NOT EXISTS orders (order_id INTEGER PRIMARY KEY, cl_ord_id TEXT, orig_cl_ord_id TEXT, session INTEGER, cum INTEGER NOT NULL, notional TEXT NOT NULL);")
            .map_err(e)
    }

    pub fn save_order(&self, r: &OrderRow) -> Result<(), String> {
        let c = self.conn.lock().expect("fix store");
        Self::orders_table(&c)?;
        c.execute(
            "INSERT OR REPLACE INTO orders (order_id, cl_ord_id, orig_cl_ord_id, session, cum, notional) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![r.order_id as i64, r.cl_ord_id, r.orig_cl_ord_id, r.session.map(|s| s as i64), r.cum as i64, r.notional.to_string()],
        )
        .map_err(e)?;
        Ok(())
    }

    pub fn delete_order(&self, order_id: u64) -> Result<(), String> {
        let c = self.conn.lock().expect("fix store");
        Self::orders_table(&c)?;
        c.execute(
            "DELETE FROM orders WHERE order_id = ?1",
            params![order_id as i64],
        )
        .map_err(e)?;
        Ok(())
    }

    pub fn load_orders(&self) -> Result<Vec<OrderRow>, String> {
        let c = self.conn.lock().expect("fix store");
        Self::orders_table(&c)?;
        let mut st = c
            .prepare(
                "SELECT order_id, cl_ord_id, orig_cl_ord_id, session, cum, notional FROM orders",
            )
            .map_err(e)?;
        let rows = st
            .query_map([], |r| {
                Ok(OrderRow {
                    order_id: r.get::<_, i64>(0)? as u64,
                    cl_ord_id: r.get(1)?,
                    orig_cl_ord_id: r.get(2)?,
                    session: r.get::<_, Option<i64>>(3)?.map(|s| s as usize),
                    cum: r.get::<_, i64>(4)? as u64,
                    notional: r.get::<_, String>(5)?.parse().unwrap_or(0),
                })
            })
            .map_err(e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e)
    }
}
