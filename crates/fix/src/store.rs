//! Per-session persistence: the next sequence numbers both ways and every message sent, so a
//! ResendRequest is answered after a restart. [`SqliteStore`] keeps them in
//! `data_dir/fix/sessions.sqlite` (WAL; one row per message sent); [`MemStore`] is for tests.
//!
//! The same database holds what the gateway needs to finish reporting after a crash (see
//! `docs/FIX.md`, "Reports after a restart"): the journal seq through which every report is
//! stored, the FIX state of the working orders at that seq, the commands submitted and not
//! yet reported (with the ClOrdIDs the reports need), and per session the [`Origin`] of the
//! last report stored, so a report regenerated after a restart is never stored twice.

use crate::orders::{self, Tracked};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokex_engine::{OrderType, TimeInForce};
use tokex_types::{AccountId, InstrumentId, OrderId, Price, Side, Timestamp};

/// Where a report came from: the journal seq of the command and the report's number among
/// those the command produced (1, 2, …). Reports are stored in this order, session by session.
pub type Origin = (u64, u32);

/// What a session needs remembered.
pub trait Store: Send {
    /// Next MsgSeqNum we send.
    fn next_out(&self) -> u64;
    /// Next MsgSeqNum we expect.
    fn next_in(&self) -> u64;
    fn set_next_in(&mut self, seq: u64) -> Result<(), String>;
    /// Records a message we sent with `seq` (= `next_out`), which then advances.
    fn record_out(&mut self, seq: u64, admin: bool, raw: &[u8]) -> Result<(), String>;
    /// Records a report produced from a journaled command, like [`Store::record_out`], and
    /// remembers `origin` as the last report stored (in the same transaction).
    fn record_report(&mut self, seq: u64, raw: &[u8], origin: Origin) -> Result<(), String>;
    /// The origin of the last report recorded; (0, 0) before the first. A reset keeps it.
    fn last_origin(&self) -> Origin;
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
    pub last_origin: Origin,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore {
            next_out: 1,
            next_in: 1,
            sent: BTreeMap::new(),
            last_origin: (0, 0),
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
    fn record_report(&mut self, seq: u64, raw: &[u8], origin: Origin) -> Result<(), String> {
        self.last_origin = origin;
        self.record_out(seq, false, raw)
    }
    fn last_origin(&self) -> Origin {
        self.last_origin
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
        *self = MemStore {
            last_origin: self.last_origin,
            ..MemStore::default()
        };
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
             CREATE TABLE IF NOT EXISTS sent (session TEXT NOT NULL, seq INTEGER NOT NULL, admin INTEGER NOT NULL, raw BLOB NOT NULL, PRIMARY KEY (session, seq));
             CREATE TABLE IF NOT EXISTS gateway (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS tracked (order_id INTEGER PRIMARY KEY, account INTEGER NOT NULL, instrument INTEGER NOT NULL, session INTEGER, cl_ord_id TEXT, orig_cl_ord_id TEXT, side TEXT NOT NULL, ord_type TEXT NOT NULL, tif TEXT NOT NULL, expire INTEGER, price INTEGER, stop_price INTEGER, order_qty INTEGER NOT NULL, leaves INTEGER NOT NULL, cum INTEGER NOT NULL, notional TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY AUTOINCREMENT, session INTEGER NOT NULL, kind TEXT NOT NULL, cl TEXT NOT NULL, extra TEXT NOT NULL, command BLOB NOT NULL);",
        )
        .map_err(e)?;
        // Databases from before reports were tracked by origin get the two columns.
        let has_origin: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('seqnums') WHERE name = 'origin_seq'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(e)?
            > 0;
        if !has_origin {
            conn.execute_batch(
                "ALTER TABLE seqnums ADD COLUMN origin_seq INTEGER NOT NULL DEFAULT 0;
                 ALTER TABLE seqnums ADD COLUMN origin_k INTEGER NOT NULL DEFAULT 0;",
            )
            .map_err(e)?;
        }
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
        let (next_out, next_in, origin_seq, origin_k): (i64, i64, i64, i64) = c
            .query_row(
                "SELECT next_out, next_in, origin_seq, origin_k FROM seqnums WHERE session = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
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
            last_origin: (origin_seq as u64, origin_k as u32),
        })
    }
}

pub struct SqliteStore {
    db: SqliteDb,
    key: String,
    next_out: u64,
    next_in: u64,
    last_origin: Origin,
}

impl SqliteStore {
    fn save(&self) -> Result<(), String> {
        let c = self.db.conn.lock().expect("fix store");
        Self::save_on(&c, self)
    }

    fn save_on(c: &Connection, s: &SqliteStore) -> Result<(), String> {
        c.execute(
            "UPDATE seqnums SET next_out = ?2, next_in = ?3, origin_seq = ?4, origin_k = ?5 WHERE session = ?1",
            params![
                s.key,
                s.next_out as i64,
                s.next_in as i64,
                s.last_origin.0 as i64,
                s.last_origin.1 as i64
            ],
        )
        .map_err(e)?;
        Ok(())
    }

    /// The message row and the counters in one transaction.
    fn record(
        &mut self,
        seq: u64,
        admin: bool,
        raw: &[u8],
        origin: Option<Origin>,
    ) -> Result<(), String> {
        let (old_next, old_origin) = (self.next_out, self.last_origin);
        self.next_out = seq + 1;
        if let Some(o) = origin {
            self.last_origin = o;
        }
        let r = (|| {
            let mut c = self.db.conn.lock().expect("fix store");
            let tx = c.transaction().map_err(e)?;
            tx.execute(
                "INSERT OR REPLACE INTO sent (session, seq, admin, raw) VALUES (?1, ?2, ?3, ?4)",
                params![self.key, seq as i64, admin as i64, raw],
            )
            .map_err(e)?;
            Self::save_on(&tx, self)?;
            tx.commit().map_err(e)
        })();
        if r.is_err() {
            self.next_out = old_next.max(seq + 1);
            self.last_origin = old_origin;
        }
        r
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
        self.record(seq, admin, raw, None)
    }
    fn record_report(&mut self, seq: u64, raw: &[u8], origin: Origin) -> Result<(), String> {
        self.record(seq, false, raw, Some(origin))
    }
    fn last_origin(&self) -> Origin {
        self.last_origin
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

    #[test]
    fn report_origins_survive_reopen_and_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fix/sessions.sqlite");
        {
            let db = SqliteDb::open(&path).unwrap();
            let mut s = db.session("A-B").unwrap();
            assert_eq!(s.last_origin(), (0, 0));
            s.record_report(1, b"er", (40, 2)).unwrap();
            s.record_out(2, true, b"hb").unwrap();
            assert_eq!(s.last_origin(), (40, 2));
        }
        let db = SqliteDb::open(&path).unwrap();
        let mut s = db.session("A-B").unwrap();
        assert_eq!((s.next_out(), s.last_origin()), (3, (40, 2)));
        // A sequence reset forgets the messages, not which reports were made.
        s.reset().unwrap();
        let s = db.session("A-B").unwrap();
        assert_eq!((s.next_out(), s.last_origin()), (1, (40, 2)));
    }

    #[test]
    fn tracked_orders_and_pending_requests_round_trip() {
        use tokex_engine::{OrderType, TimeInForce};
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("s.sqlite")).unwrap();
        assert_eq!(db.reported_seq().unwrap(), None);
        let t = Tracked {
            order_id: OrderId(7),
            account: AccountId(2),
            instrument: InstrumentId(3),
            session: Some(1),
            cl_ord_id: Some("b".into()),
            orig_cl_ord_id: Some("a".into()),
            side: Side::Sell,
            ord_type: OrderType::StopLimit,
            tif: TimeInForce::Gtd(Timestamp(1_798_761_600_000_000_000)),
            price: Some(Price(8125)),
            stop_price: Some(Price(8200)),
            order_qty: 10,
            leaves: 4,
            cum: 6,
            notional: 6 * 8125,
            done: None,
        };
        let mut other = t.clone();
        other.order_id = OrderId(8);
        let p = db.insert_pending(1, "C", "c2", "c1", b"cmd").unwrap();
        db.commit_reported(99, &[t.clone(), other], &[], &[])
            .unwrap();
        db.commit_reported(100, &[], &[8], &[p]).unwrap();
        assert_eq!(db.reported_seq().unwrap(), Some(100));
        assert_eq!(db.load_tracked().unwrap(), vec![t]);
        assert!(db.load_pending().unwrap().is_empty());
        let q = db.insert_pending(0, "N", "n1", "", b"x").unwrap();
        let rows = db.load_pending().unwrap();
        assert_eq!((rows.len(), rows[0].id, rows[0].cl.as_str()), (1, q, "n1"));
    }
}

/// A working order's FIX names and fills as gateways before the `tracked` table kept them
/// (read once, when such a database is first opened).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub order_id: u64,
    pub cl_ord_id: Option<String>,
    pub orig_cl_ord_id: Option<String>,
    pub session: Option<usize>,
    pub cum: u64,
    pub notional: i128,
}

/// A command submitted from a session and not yet reported: what the reports need that the
/// command does not carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRow {
    pub id: i64,
    pub session: usize,
    /// `N` new order, `C` cancel, `R` replace, `M` mass cancel.
    pub kind: String,
    /// The request's ClOrdID (11).
    pub cl: String,
    /// OrigClOrdID (41) for C and R, MassCancelRequestType (530) for M.
    pub extra: String,
    /// The command, encoded as the journal encodes it.
    pub command: Vec<u8>,
}

fn tif_to_row(t: TimeInForce) -> (&'static str, Option<i64>) {
    match t {
        TimeInForce::Gtd(ts) => ("6", Some(ts.0 as i64)),
        other => (orders::tif_code(other), None),
    }
}

fn tif_from_row(code: &str, expire: Option<i64>) -> TimeInForce {
    match code {
        "1" => TimeInForce::Gtc,
        "3" => TimeInForce::Ioc,
        "4" => TimeInForce::Fok,
        "6" => TimeInForce::Gtd(Timestamp(expire.unwrap_or(0) as u64)),
        _ => TimeInForce::Gfd,
    }
}

fn ord_type_from_row(code: &str) -> OrderType {
    match code {
        "1" => OrderType::Market,
        "3" => OrderType::StopMarket,
        "4" => OrderType::StopLimit,
        _ => OrderType::Limit,
    }
}

fn save_tracked(c: &Connection, t: &Tracked) -> Result<(), String> {
    let (tif, expire) = tif_to_row(t.tif);
    c.execute(
        "INSERT OR REPLACE INTO tracked (order_id, account, instrument, session, cl_ord_id, orig_cl_ord_id, side, ord_type, tif, expire, price, stop_price, order_qty, leaves, cum, notional) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            t.order_id.0 as i64,
            t.account.0,
            t.instrument.0,
            t.session.map(|s| s as i64),
            t.cl_ord_id,
            t.orig_cl_ord_id,
            orders::side_code(t.side),
            orders::ord_type_code(t.ord_type),
            tif,
            expire,
            t.price.map(|p| p.0),
            t.stop_price.map(|p| p.0),
            t.order_qty as i64,
            t.leaves as i64,
            t.cum as i64,
            t.notional.to_string(),
        ],
    )
    .map_err(e)?;
    Ok(())
}

impl SqliteDb {
    /// The journal seq through which every report is stored; `None` for a database that
    /// never recorded one (new, or from before reports were tracked).
    pub fn reported_seq(&self) -> Result<Option<u64>, String> {
        let c = self.conn.lock().expect("fix store");
        c.query_row(
            "SELECT value FROM gateway WHERE key = 'reported_seq'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .optional()
        .map(|v| v.map(|v| v as u64))
        .map_err(e)
    }

    /// After the reports of the commands through `seq` are stored: the working orders they
    /// changed (`save`), the ones they finished (`delete`), the pending commands they
    /// answered, and `seq` itself, in one transaction.
    pub fn commit_reported(
        &self,
        seq: u64,
        save: &[Tracked],
        delete: &[u64],
        pending_done: &[i64],
    ) -> Result<(), String> {
        let mut c = self.conn.lock().expect("fix store");
        let tx = c.transaction().map_err(e)?;
        for t in save {
            save_tracked(&tx, t)?;
        }
        for id in delete {
            tx.execute(
                "DELETE FROM tracked WHERE order_id = ?1",
                params![*id as i64],
            )
            .map_err(e)?;
        }
        for id in pending_done {
            tx.execute("DELETE FROM pending WHERE id = ?1", params![id])
                .map_err(e)?;
        }
        tx.execute(
            "INSERT INTO gateway (key, value) VALUES ('reported_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1",
            params![seq as i64],
        )
        .map_err(e)?;
        // The table of older gateways, read once by `load_orders`, is replaced by `tracked`.
        tx.execute_batch("DROP TABLE IF EXISTS orders").map_err(e)?;
        tx.commit().map_err(e)
    }

    /// The working orders as of [`SqliteDb::reported_seq`].
    pub fn load_tracked(&self) -> Result<Vec<Tracked>, String> {
        let c = self.conn.lock().expect("fix store");
        let mut st = c
            .prepare("SELECT order_id, account, instrument, session, cl_ord_id, orig_cl_ord_id, side, ord_type, tif, expire, price, stop_price, order_qty, leaves, cum, notional FROM tracked ORDER BY order_id")
            .map_err(e)?;
        let rows = st
            .query_map([], |r| {
                Ok(Tracked {
                    order_id: OrderId(r.get::<_, i64>(0)? as u64),
                    account: AccountId(r.get(1)?),
                    instrument: InstrumentId(r.get(2)?),
                    session: r.get::<_, Option<i64>>(3)?.map(|s| s as usize),
                    cl_ord_id: r.get(4)?,
                    orig_cl_ord_id: r.get(5)?,
                    side: if r.get::<_, String>(6)? == "2" {
                        Side::Sell
                    } else {
                        Side::Buy
                    },
                    ord_type: ord_type_from_row(&r.get::<_, String>(7)?),
                    tif: tif_from_row(&r.get::<_, String>(8)?, r.get(9)?),
                    price: r.get::<_, Option<i64>>(10)?.map(Price),
                    stop_price: r.get::<_, Option<i64>>(11)?.map(Price),
                    order_qty: r.get::<_, i64>(12)? as u64,
                    leaves: r.get::<_, i64>(13)? as u64,
                    cum: r.get::<_, i64>(14)? as u64,
                    notional: r.get::<_, String>(15)?.parse().unwrap_or(0),
                    done: None,
                })
            })
            .map_err(e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e)
    }

    /// Remembers a command about to be submitted; returns its id.
    pub fn insert_pending(
        &self,
        session: usize,
        kind: &str,
        cl: &str,
        extra: &str,
        command: &[u8],
    ) -> Result<i64, String> {
        let c = self.conn.lock().expect("fix store");
        c.execute(
            "INSERT INTO pending (session, kind, cl, extra, command) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session as i64, kind, cl, extra, command],
        )
        .map_err(e)?;
        Ok(c.last_insert_rowid())
    }

    pub fn delete_pending(&self, id: i64) -> Result<(), String> {
        let c = self.conn.lock().expect("fix store");
        c.execute("DELETE FROM pending WHERE id = ?1", params![id])
            .map_err(e)?;
        Ok(())
    }

    /// The pending commands, oldest first.
    pub fn load_pending(&self) -> Result<Vec<PendingRow>, String> {
        let c = self.conn.lock().expect("fix store");
        let mut st = c
            .prepare("SELECT id, session, kind, cl, extra, command FROM pending ORDER BY id")
            .map_err(e)?;
        let rows = st
            .query_map([], |r| {
                Ok(PendingRow {
                    id: r.get(0)?,
                    session: r.get::<_, i64>(1)? as usize,
                    kind: r.get(2)?,
                    cl: r.get(3)?,
                    extra: r.get(4)?,
                    command: r.get(5)?,
                })
            })
            .map_err(e)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(e)
    }

    /// The rows of older gateways' `orders` table (empty when there is none).
    pub fn load_orders(&self) -> Result<Vec<OrderRow>, String> {
        let c = self.conn.lock().expect("fix store");
        let exists: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'orders'",
                [],
                |r| r.get(0),
            )
            .map_err(e)?;
        if exists == 0 {
            return Ok(Vec::new());
        }
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
