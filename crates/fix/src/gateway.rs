//! The acceptor: TCP connections, the sessions they claim, and the router that turns every
//! durable batch of the exchange into ExecutionReports for the sessions of the orders' owners.
//!
//! Every outbound message of a session is numbered, stored and queued to its connection under
//! the session's lock, so the numbers on the wire are in order whichever task sends. Reports
//! for a session that is not logged on are numbered and stored: the client collects them by
//! ResendRequest after its next Logon.
//!
//! Commands that come over FIX are registered as pending (with their ClOrdID and
//! OrigClOrdID, in memory and in the session database) before they are submitted; the router
//! matches each applied command against them, so all reports — accepted, rejected, filled —
//! come from the one ordered stream.
//!
//! Reports survive a crash between the journal and the session store: the router records,
//! per batch and in one transaction, the journal seq it has reported through, the FIX state
//! of the orders the batch changed and the pending commands it answered. On start the gateway
//! replays the journal after that seq through the same router, from the newest snapshot at
//! or before it; each report carries its [`Origin`] (journal seq, number within the command),
//! and a session's store remembers the last one it stored, so what was stored before the
//! crash is not stored again. Pending commands that never reached the journal are rejected.

use crate::codec::{self, tag, Frame, Framer, Message};
use crate::config::FixConfig;
use crate::orders::{self, InstrumentInfo, Instruments, Tracked, Tracker};
use crate::session::{Action, Session, State};
use crate::store::{OrderRow, Origin, PendingRow, SqliteDb, SqliteStore, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokex_engine::codec::{decode_command, encode_command};
use tokex_engine::{Command, Engine, Event, MassCancel};
use tokex_journal::{latest_snapshot, FsStorage, JournalReader, Storage};
use tokex_server::sequencer::{Applied, Batch};
use tokex_server::ExchangeHandle;
use tokex_types::{AccountId, OrderId, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};

/// Time a new connection has to send its Logon.
pub const LOGON_TIMEOUT_SECS: u64 = 10;
/// Bytes buffered from one connection before it is cut off.
pub const READ_BUFFER_BYTES_MAX: usize = 1 << 20;
/// Journaled commands the start-up catch-up routes per store transaction.
pub const CATCH_UP_BATCH_COMMANDS: usize = 512;
/// Batches without FIX reports record the seq they reached at most this many commands apart.
pub const RECORD_EVERY_COMMANDS: u64 = 10_000;

pub enum Out {
    Bytes(Vec<u8>),
    Close,
}

pub struct Slot {
    pub session: Session<SqliteStore>,
    conn: Option<(u64, mpsc::UnboundedSender<Out>)>,
}

/// What the router needs to report a FIX-originated command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Context {
    New { cl: String },
    Cancel { cl: String, orig: String },
    Replace { cl: String, orig: String },
    Mass { cl: String, request_type: String },
}

impl Context {
    /// (kind, ClOrdID, extra) as the pending table keeps them.
    fn to_row(&self) -> (&'static str, &str, &str) {
        match self {
            Context::New { cl } => ("N", cl, ""),
            Context::Cancel { cl, orig } => ("C", cl, orig),
            Context::Replace { cl, orig } => ("R", cl, orig),
            Context::Mass { cl, request_type } => ("M", cl, request_type),
        }
    }

    fn from_row(r: &PendingRow) -> Option<Context> {
        let (cl, extra) = (r.cl.clone(), r.extra.clone());
        Some(match r.kind.as_str() {
            "N" => Context::New { cl },
            "C" => Context::Cancel { cl, orig: extra },
            "R" => Context::Replace { cl, orig: extra },
            "M" => Context::Mass {
                cl,
                request_type: extra,
            },
            _ => return None,
        })
    }
}

/// A command submitted from a session, waiting for the router.
struct Pending {
    /// Row id in the session database (0 if it could not be written).
    id: i64,
    command: Command,
    session: usize,
    ctx: Context,
}

/// The router's bookkeeping for one batch.
#[derive(Default)]
struct Work {
    /// The command being routed and the number of reports it has produced.
    seq: u64,
    reports: u32,
    /// Orders whose FIX state changed.
    dirty: BTreeSet<u64>,
    /// Pending commands answered.
    answered: Vec<i64>,
    /// Whether any report was made.
    made_reports: bool,
}

impl Work {
    fn begin(&mut self, seq: u64) {
        self.seq = seq;
        self.reports = 0;
    }

    /// The origin of the command's next report.
    fn next_origin(&mut self) -> Origin {
        self.reports += 1;
        self.made_reports = true;
        (self.seq, self.reports)
    }
}

/// ExecID of a report: its origin, so a regenerated report has the same one.
fn exec_id(o: Origin) -> String {
    format!("{}-{}", o.0, o.1)
}

pub struct Gateway {
    pub handle: ExchangeHandle,
    pub slots: Vec<Mutex<Slot>>,
    by_comp: BTreeMap<(String, String), usize>,
    by_account: BTreeMap<u32, Vec<usize>>,
    pub instruments: Mutex<Instruments>,
    pub tracker: Mutex<Tracker>,
    pending: Mutex<Vec<Pending>>,
    db: SqliteDb,
    epoch: Instant,
    next_conn: AtomicU64,
    /// The journal seq through which every report is stored.
    reported: AtomicU64,
    /// The last seq written to the session database as reported.
    recorded: AtomicU64,
    /// Subscribed before the start-up catch-up, so no batch falls between the two.
    events: Mutex<Option<broadcast::Receiver<Arc<Batch>>>>,
    /// Orders and pending commands a failed store transaction did not record.
    unrecorded: Mutex<Work>,
}

/// The journal directory with the snapshots after `max_seq` hidden, so that
/// [`latest_snapshot`] finds the newest one at or before it.
#[derive(Clone, Copy)]
struct SnapshotsUpTo {
    max_seq: u64,
}

fn snapshot_seq(name: &str) -> Option<u64> {
    name.strip_prefix("snapshot-")?
        .strip_suffix(".snap")?
        .parse()
        .ok()
}

impl Storage for SnapshotsUpTo {
    type File = <FsStorage as Storage>::File;
    type Reader = <FsStorage as Storage>::Reader;

    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        FsStorage.create_dir_all(dir)
    }
    fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        Ok(FsStorage
            .list(dir)?
            .into_iter()
            .filter(|n| snapshot_seq(n).is_none_or(|s| s <= self.max_seq))
            .collect())
    }
    fn create(&self, path: &Path) -> std::io::Result<Self::File> {
        FsStorage.create(path)
    }
    fn open_append(&self, path: &Path) -> std::io::Result<Self::File> {
        FsStorage.open_append(path)
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        FsStorage.read(path)
    }
    fn open_read(&self, path: &Path) -> std::io::Result<Self::Reader> {
        FsStorage.open_read(path)
    }
    fn truncate(&self, path: &Path, len: u64) -> std::io::Result<()> {
        FsStorage.truncate(path, len)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        FsStorage.rename(from, to)
    }
    fn remove(&self, path: &Path) -> std::io::Result<()> {
        FsStorage.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        FsStorage.sync_dir(dir)
    }
}

/// The FIX state of the working orders of `accounts` as the engine holds them, named from the
/// rows older gateways kept. The engine does not keep an order's type, time in force or
/// average price, so those are approximated (used once, when a database without the
/// `tracked` table is first opened).
fn tracker_from_engine(engine: &Engine, accounts: &[u32], saved: Vec<OrderRow>) -> Tracker {
    let saved: BTreeMap<u64, OrderRow> = saved.into_iter().map(|r| (r.order_id, r)).collect();
    let mut working = Vec::new();
    for i in engine.instruments() {
        for side in [tokex_types::Side::Buy, tokex_types::Side::Sell] {
            for r in i.book.orders(side) {
                if accounts.contains(&r.account.0) {
                    working.push((r, i.spec.id, engine.client_order_id_of(r.id)));
                }
            }
        }
        for s in i.stops.orders.values() {
            if accounts.contains(&s.account.0) {
                let r = tokex_book::Resting {
                    id: s.id,
                    account: s.account,
                    side: s.side,
                    price: s.price.unwrap_or(tokex_types::Price(0)),
                    leaves: s.qty,
                    visible: s.qty,
                    display: s.display_qty.unwrap_or(tokex_types::Qty(0)),
                    filled: tokex_types::Qty(0),
                    tag: u16::MAX,
                };
                working.push((r, i.spec.id, s.client_order_id));
            }
        }
    }
    let mut tracker = Tracker::default();
    for (r, instrument, clid) in working {
        let row = saved.get(&r.id.0);
        let stop = r.tag == u16::MAX;
        tracker.insert(Tracked {
            order_id: r.id,
            account: r.account,
            instrument,
            session: row.and_then(|x| x.session),
            cl_ord_id: row
                .and_then(|x| x.cl_ord_id.clone())
                .or(clid.map(|c| c.as_str().to_string())),
            orig_cl_ord_id: row.and_then(|x| x.orig_cl_ord_id.clone()),
            side: r.side,
            ord_type: if stop {
                tokex_engine::OrderType::StopLimit
            } else {
                tokex_engine::OrderType::Limit
            },
            tif: tokex_engine::TimeInForce::Gtc,
            price: (r.price.0 != 0).then_some(r.price),
            stop_price: None,
            order_qty: r.leaves.0 + row.map_or(r.filled.0, |x| x.cum),
            leaves: r.leaves.0,
            cum: row.map_or(r.filled.0, |x| x.cum),
            notional: row.map_or(r.filled.0 as i128 * r.price.0 as i128, |x| x.notional),
            done: None,
        });
    }
    tracker
}

impl Gateway {
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Builds the gateway: sessions from the config, their stores and the working orders from
    /// `data_dir/fix/`; then catches up with the journal in `data_dir/journal` (reports the
    /// previous run had not stored, instruments), before any connection is accepted.
    pub async fn new(
        handle: ExchangeHandle,
        config: &FixConfig,
        data_dir: PathBuf,
    ) -> Result<Arc<Gateway>, String> {
        config.validate()?;
        // First: every batch from now on reaches the router, whatever the catch-up reads.
        let events = handle.subscribe();
        let db = SqliteDb::open(&data_dir.join("fix").join("sessions.sqlite"))?;
        let mut slots = Vec::new();
        let mut by_comp = BTreeMap::new();
        let mut by_account: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, s) in config.sessions.iter().enumerate() {
            let store = db.session(&s.key())?;
            slots.push(Mutex::new(Slot {
                session: Session::new(s.clone(), store),
                conn: None,
            }));
            by_comp.insert((s.sender_comp_id.clone(), s.target_comp_id.clone()), i);
            by_account.entry(s.account).or_default().push(i);
        }
        let reported = db.reported_seq()?;
        let mut tracker = Tracker::default();
        if reported.is_some() {
            for t in db.load_tracked()? {
                tracker.insert(t);
            }
        }
        let mut pending = Vec::new();
        for row in db.load_pending()? {
            let decoded = decode_command(&row.command).ok().map(|(_, c)| c);
            match (decoded, Context::from_row(&row)) {
                (Some(command), Some(ctx)) if row.session < slots.len() => pending.push(Pending {
                    id: row.id,
                    command,
                    session: row.session,
                    ctx,
                }),
                _ => {
                    tracing::warn!(id = row.id, "FIX pending command unreadable: dropped");
                    db.delete_pending(row.id)?;
                }
            }
        }
        let gw = Arc::new(Gateway {
            handle,
            slots,
            by_comp,
            by_account,
            instruments: Mutex::new(Instruments::default()),
            tracker: Mutex::new(tracker),
            pending: Mutex::new(pending),
            db,
            epoch: Instant::now(),
            next_conn: AtomicU64::new(1),
            reported: AtomicU64::new(reported.unwrap_or(0)),
            recorded: AtomicU64::new(reported.unwrap_or(0)),
            events: Mutex::new(Some(events)),
            unrecorded: Mutex::new(Work::default()),
        });
        let g = gw.clone();
        let journal = data_dir.join("journal");
        tokio::task::spawn_blocking(move || g.catch_up(&journal, reported))
            .await
            .map_err(|e| format!("FIX catch-up: {e}"))??;
        Ok(gw)
    }

    /// Replays the journal from the newest snapshot at or before `reported` and routes the
    /// commands after `reported` (reports the previous run had not stored; the origins skip
    /// the ones it had). Without `reported` (a new database, or one from before reports were
    /// tracked) nothing is reported again: the working orders are taken from the engine as
    /// the journal leaves it. Pending commands that are not in the journal are rejected.
    fn catch_up(&self, journal: &Path, reported: Option<u64>) -> Result<(), String> {
        let t0 = Instant::now();
        let limit = reported.unwrap_or(u64::MAX);
        let (mut engine, from) = if journal.exists() {
            let latest = latest_snapshot(&SnapshotsUpTo { max_seq: limit }, journal)
                .map_err(|e| e.to_string())?;
            match latest.snapshot {
                Some(s) => (
                    Engine::restore(&s.bytes)
                        .map_err(|e| format!("snapshot {}: {e}", s.path.display()))?,
                    s.seq + 1,
                ),
                None => (Engine::new(), 1),
            }
        } else {
            (Engine::new(), 1)
        };
        self.load_instruments(&engine);
        let mut last = from - 1;
        let mut routed = 0u64;
        if journal.exists() {
            // The sequencer may be appending: a record still being written ends the read
            // (as a torn tail); it and everything after reach the router as batches.
            let mut reader =
                JournalReader::open(FsStorage, journal, from).map_err(|e| e.to_string())?;
            let mut batch = Batch::default();
            while let Some(rec) = reader.next_record().map_err(|e| e.to_string())? {
                let seq = rec.seq;
                let (time, command) = decode_command(rec.payload)
                    .map_err(|e| format!("journal record seq {seq} does not decode: {e}"))?;
                let outcome = engine.apply(seq, time, &command);
                last = seq;
                if reported.is_some_and(|w| seq > w) {
                    batch.items.push(Applied {
                        seq,
                        time,
                        command,
                        outcome,
                    });
                    if batch.items.len() >= CATCH_UP_BATCH_COMMANDS {
                        routed += batch.items.len() as u64;
                        self.on_batch(&batch);
                        batch.items.clear();
                    }
                } else {
                    self.follow_instruments(&command, &outcome);
                }
            }
            routed += batch.items.len() as u64;
            self.on_batch(&batch);
        }
        match reported {
            None => {
                let accounts: Vec<u32> = self.by_account.keys().copied().collect();
                let tracker = tracker_from_engine(&engine, &accounts, self.db.load_orders()?);
                let all: Vec<Tracked> = tracker.orders.values().cloned().collect();
                self.db.commit_reported(last, &all, &[], &[])?;
                *self.tracker.lock().expect("tracker") = tracker;
                self.reported.store(last, Ordering::SeqCst);
                self.recorded.store(last, Ordering::SeqCst);
            }
            Some(w) if last < w => {
                // The journal ends before what the store says was reported (a data directory
                // put together from different backups): follow the journal from its end.
                tracing::error!(
                    reported = w,
                    journal_end = last,
                    "the FIX store is ahead of the journal"
                );
                self.db.commit_reported(last, &[], &[], &[])?;
                self.reported.store(last, Ordering::SeqCst);
                self.recorded.store(last, Ordering::SeqCst);
            }
            Some(_) => {}
        }
        let lost = self.reject_lost();
        tracing::info!(
            routed,
            lost,
            journal_end = last,
            ms = t0.elapsed().as_millis() as u64,
            "FIX gateway caught up with the journal"
        );
        Ok(())
    }

    fn load_instruments(&self, engine: &Engine) {
        let mut ins = self.instruments.lock().expect("instruments");
        for i in engine.instruments() {
            ins.insert(InstrumentInfo::from_spec(&i.spec, i.delisted));
        }
    }

    /// New listings and expiries.
    fn follow_instruments(&self, command: &Command, outcome: &tokex_engine::Outcome) {
        if let Command::ListInstrument(spec) = command {
            if outcome.result.is_ok() {
                self.instruments
                    .lock()
                    .expect("instruments")
                    .insert(InstrumentInfo::from_spec(spec, false));
            }
        }
        for ev in &outcome.events {
            if let Event::Expired { instrument, .. } = ev {
                if let Some(i) = self
                    .instruments
                    .lock()
                    .expect("instruments")
                    .by_id
                    .get_mut(&instrument.0)
                {
                    i.delisted = true;
                }
            }
        }
    }

    /// Commands submitted before a restart that never reached the journal: the exchange
    /// never saw them, so each gets its rejection (ExecutionReport, OrderCancelReject or
    /// OrderMassCancelReport) now. Returns how many.
    fn reject_lost(&self) -> usize {
        let lost: Vec<Pending> = std::mem::take(&mut *self.pending.lock().expect("pending"));
        let text = "not entered: the exchange restarted before this request reached its journal";
        for p in &lost {
            let m = match (&p.ctx, &p.command) {
                (Context::New { cl }, Command::NewOrder(o)) => {
                    let ins = self
                        .instruments
                        .lock()
                        .expect("instruments")
                        .get(o.instrument)
                        .cloned();
                    let mut t = orders::tracked_from_new(o, OrderId(0), Some(p.session));
                    t.cl_ord_id = Some(cl.clone());
                    t.leaves = 0;
                    t.done = Some('8');
                    let mut m =
                        orders::execution_report(&t, ins.as_ref(), &format!("L-{}", p.id), '8');
                    m.set(tag::ORDER_ID, "NONE");
                    m.push(tag::ORD_REJ_REASON, 99);
                    m.push(tag::TEXT, text);
                    m
                }
                (Context::Cancel { cl, orig }, Command::Cancel(c)) => {
                    self.cancel_reject_message(cl, orig, c.order, '1', 99, text)
                }
                (Context::Replace { cl, orig }, Command::Amend(a)) => {
                    self.cancel_reject_message(cl, orig, a.order, '2', 99, text)
                }
                (Context::Mass { cl, request_type }, _) => mass_reject(cl, request_type, text),
                _ => continue,
            };
            self.deliver(p.session, m);
            if p.id != 0 {
                if let Err(e) = self.db.delete_pending(p.id) {
                    tracing::error!("{e}");
                }
            }
        }
        lost.len()
    }

    /// Numbers, stores and (if logged on) sends an application message on session `idx`.
    pub fn deliver(&self, idx: usize, msg: Message) {
        let now = self.now_ms();
        let mut slot = self.slots[idx].lock().expect("session");
        let raw = slot.session.send(msg, now);
        if slot.session.is_logged_on() {
            if let Some((_, tx)) = &slot.conn {
                let _ = tx.send(Out::Bytes(raw));
            }
        }
    }

    /// [`Gateway::deliver`] for a report of a journaled command; skipped when the session's
    /// store already holds it (stored before a restart, regenerated by the catch-up).
    fn deliver_report(&self, idx: usize, msg: Message, origin: Origin) {
        let now = self.now_ms();
        let mut slot = self.slots[idx].lock().expect("session");
        if origin <= slot.session.store.last_origin() {
            return;
        }
        let raw = slot.session.send_report(msg, now, origin);
        if slot.session.is_logged_on() {
            if let Some((_, tx)) = &slot.conn {
                let _ = tx.send(Out::Bytes(raw));
            }
        }
    }

    fn sessions_of(&self, t: &Tracked) -> Vec<usize> {
        match t.session {
            Some(s) if s < self.slots.len() => vec![s],
            _ => self
                .by_account
                .get(&t.account.0)
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn report(&self, t: &Tracked, exec_type: char, w: &mut Work, extra: impl FnOnce(&mut Message)) {
        let origin = w.next_origin();
        let m = {
            let ins = self.instruments.lock().expect("instruments");
            let mut m =
                orders::execution_report(t, ins.get(t.instrument), &exec_id(origin), exec_type);
            extra(&mut m);
            m
        };
        for s in self.sessions_of(t) {
            self.deliver_report(s, m.clone(), origin);
        }
        w.dirty.insert(t.order_id.0);
    }

    /// Registers a FIX-originated command (in memory and in the session database, so its
    /// reports can be made after a restart) and submits it.
    pub async fn submit(
        &self,
        idx: usize,
        cmd: Command,
        ctx: Context,
    ) -> Result<(), tokex_server::SubmitError> {
        let id = {
            let mut p = self.pending.lock().expect("pending");
            let (kind, cl, extra) = ctx.to_row();
            let id = self
                .db
                .insert_pending(idx, kind, cl, extra, &encode_command(Timestamp(0), &cmd))
                .unwrap_or_else(|e| {
                    tracing::error!("{e}");
                    0
                });
            p.push(Pending {
                id,
                command: cmd.clone(),
                session: idx,
                ctx,
            });
            id
        };
        let r = self.handle.submit(cmd).await.map(|_| ());
        if r.is_err() {
            let mut p = self.pending.lock().expect("pending");
            if let Some(i) = p.iter().position(|x| x.id == id && x.session == idx) {
                p.remove(i);
            }
            if id != 0 {
                if let Err(e) = self.db.delete_pending(id) {
                    tracing::error!("{e}");
                }
            }
        }
        r
    }

    fn take_pending(&self, cmd: &Command, w: &mut Work) -> Option<(usize, Context)> {
        let mut p = self.pending.lock().expect("pending");
        let i = p
            .iter()
            .position(|x| orders::same_command(&x.command, cmd))?;
        let x = p.remove(i);
        if x.id != 0 {
            w.answered.push(x.id);
        }
        Some((x.session, x.ctx))
    }

    fn is_fix_account(&self, a: AccountId) -> bool {
        self.by_account.contains_key(&a.0)
    }

    /// The journal seq through which every report is stored.
    pub fn reported_seq(&self) -> u64 {
        self.reported.load(Ordering::SeqCst)
    }

    /// Turns one durable batch into reports, then records in one store transaction that it
    /// is done (the orders it changed, the pending commands it answered, its last seq).
    /// Commands already reported (the catch-up read them from the journal) are skipped.
    pub fn on_batch(&self, batch: &Batch) {
        let mut w = Work::default();
        let mut last = None;
        let done = self.reported.load(Ordering::SeqCst);
        for applied in &batch.items {
            if applied.seq <= done {
                continue;
            }
            w.begin(applied.seq);
            self.on_applied(applied, &mut w);
            last = Some(applied.seq);
        }
        let Some(last) = last else { return };
        // What an earlier batch could not record is recorded with this one.
        let mut w = {
            let mut carried = self.unrecorded.lock().expect("unrecorded");
            w.dirty.append(&mut carried.dirty);
            w.answered.append(&mut carried.answered);
            w
        };
        // A batch that made no report and changed no order needs no transaction of its own
        // (routing it again after a crash makes nothing); the seq is still recorded now and
        // then, so the catch-up after a restart stays short.
        let recorded = self.recorded.load(Ordering::SeqCst);
        if !w.made_reports
            && w.dirty.is_empty()
            && w.answered.is_empty()
            && last < recorded + RECORD_EVERY_COMMANDS
        {
            self.reported.store(last, Ordering::SeqCst);
            return;
        }
        let (save, delete) = {
            let tr = self.tracker.lock().expect("tracker");
            let mut save = Vec::new();
            let mut delete = Vec::new();
            for id in &w.dirty {
                match tr.orders.get(id) {
                    Some(t) if t.done.is_none() => save.push(t.clone()),
                    _ => delete.push(*id),
                }
            }
            (save, delete)
        };
        if let Err(e) = self.db.commit_reported(last, &save, &delete, &w.answered) {
            tracing::error!("{e}");
            let mut carried = self.unrecorded.lock().expect("unrecorded");
            carried.dirty.append(&mut w.dirty);
            carried.answered.append(&mut w.answered);
        } else {
            self.recorded.store(last, Ordering::SeqCst);
        }
        self.reported.store(last, Ordering::SeqCst);
    }

    fn on_applied(&self, a: &Applied, w: &mut Work) {
        self.follow_instruments(&a.command, &a.outcome);
        let ctx = match &a.command {
            Command::NewOrder(_)
            | Command::Amend(_)
            | Command::Cancel(_)
            | Command::MassCancel(_) => self.take_pending(&a.command, w),
            _ => None,
        };
        if let Err(r) = &a.outcome.result {
            if let Some((idx, ctx)) = ctx {
                self.on_reject(a, idx, ctx, r, w);
            }
            return;
        }
        let mut cancelled = 0u64;
        for ev in &a.outcome.events {
            match ev {
                Event::OrderAccepted {
                    order_id, account, ..
                } if self.is_fix_account(*account) => {
                    if let Command::NewOrder(o) = &a.command {
                        let session = match &ctx {
                            Some((s, Context::New { .. })) => Some(*s),
                            _ => None,
                        };
                        let t = orders::tracked_from_new(o, *order_id, session);
                        self.tracker.lock().expect("tracker").insert(t.clone());
                        self.report(&t, '0', w, |_| {});
                    }
                }
                Event::Trade {
                    price,
                    qty,
                    buy_order,
                    buy_account,
                    sell_order,
                    sell_account,
                    buy_leaves,
                    sell_leaves,
                    ..
                } => {
                    for (id, acct, leaves) in [
                        (*buy_order, *buy_account, *buy_leaves),
                        (*sell_order, *sell_account, *sell_leaves),
                    ] {
                        if !self.is_fix_account(acct) {
                            continue;
                        }
                        let t = {
                            let mut tr = self.tracker.lock().expect("tracker");
                            let Some(t) = tr.orders.get_mut(&id.0) else {
                                continue;
                            };
                            t.cum += qty.0;
                            t.notional += price.0 as i128 * qty.0 as i128;
                            t.leaves = leaves.0;
                            t.order_qty = t.order_qty.max(t.cum + t.leaves);
                            if leaves.0 == 0 {
                                tr.finish(id, '2');
                            }
                            tr.orders.get(&id.0).cloned()
                        };
                        if let Some(t) = t {
                            let px = self
                                .instruments
                                .lock()
                                .expect("instruments")
                                .get(t.instrument)
                                .map(|i| i.format_price(*price));
                            self.report(&t, 'F', w, |m| {
                                m.push(tag::LAST_QTY, qty.0);
                                if let Some(px) = px {
                                    m.push(tag::LAST_PX, px);
                                }
                            });
                        }
                    }
                }
                Event::OrderCancelled {
                    order_id,
                    account,
                    reason,
                    ..
                } if self.is_fix_account(*account) => {
                    cancelled += 1;
                    let status = orders::cancel_status(*reason);
                    let t = {
                        let mut tr = self.tracker.lock().expect("tracker");
                        if let Some((_, Context::Cancel { cl, orig })) = &ctx {
                            tr.rename(*order_id, cl, Some(orig));
                        }
                        tr.finish(*order_id, status);
                        tr.orders.get(&order_id.0).cloned()
                    };
                    if let Some(t) = t {
                        self.report(&t, status, w, |m| {
                            m.push(tag::TEXT, orders::cancel_text(*reason));
                        });
                    }
                }
                Event::OrderAmended {
                    order_id,
                    account,
                    price,
                    stop_price,
                    leaves,
                    ..
                } if self.is_fix_account(*account) => {
                    let t = {
                        let mut tr = self.tracker.lock().expect("tracker");
                        if let Some((_, Context::Replace { cl, orig })) = &ctx {
                            tr.rename(*order_id, cl, Some(orig));
                        }
                        let Some(t) = tr.orders.get_mut(&order_id.0) else {
                            continue;
                        };
                        if price.is_some() {
                            t.price = *price;
                        }
                        if stop_price.is_some() {
                            t.stop_price = *stop_price;
                        }
                        t.leaves = leaves.0;
                        t.order_qty = t.cum + leaves.0;
                        t.clone()
                    };
                    self.report(&t, '5', w, |_| {});
                }
                Event::StopTriggered {
                    order_id,
                    last_price,
                    ..
                } => {
                    let t = self
                        .tracker
                        .lock()
                        .expect("tracker")
                        .orders
                        .get(&order_id.0)
                        .cloned();
                    if let Some(t) = t {
                        let px = self
                            .instruments
                            .lock()
                            .expect("instruments")
                            .get(t.instrument)
                            .map(|i| i.format_price(*last_price))
                            .unwrap_or_default();
                        self.report(&t, 'D', w, |m| {
                            m.push(tag::TEXT, format!("stop triggered by a trade at {px}"));
                        });
                    }
                }
                _ => {}
            }
        }
        if let Some((idx, Context::Mass { cl, request_type })) = ctx {
            let m = Message::new("r")
                .with(tag::CL_ORD_ID, cl)
                .with(tag::ORDER_ID, format!("MASS-{}", a.seq))
                .with(tag::MASS_CANCEL_REQUEST_TYPE, &request_type)
                .with(tag::MASS_CANCEL_RESPONSE, &request_type)
                .with(tag::TOTAL_AFFECTED_ORDERS, cancelled);
            let origin = w.next_origin();
            self.deliver_report(idx, m, origin);
        }
    }

    fn on_reject(
        &self,
        a: &Applied,
        idx: usize,
        ctx: Context,
        r: &tokex_engine::Reject,
        w: &mut Work,
    ) {
        let text = format!("{}: {}", r.code.as_str(), r.message);
        let origin = w.next_origin();
        let m = match (ctx, &a.command) {
            (Context::New { cl }, Command::NewOrder(o)) => {
                let ins = self
                    .instruments
                    .lock()
                    .expect("instruments")
                    .get(o.instrument)
                    .cloned();
                let mut t = orders::tracked_from_new(o, OrderId(0), Some(idx));
                t.cl_ord_id = Some(cl);
                t.leaves = 0;
                t.done = Some('8');
                let mut m = orders::execution_report(&t, ins.as_ref(), &exec_id(origin), '8');
                m.set(tag::ORDER_ID, "NONE");
                m.push(tag::ORD_REJ_REASON, orders::ord_rej_reason(r.code));
                m.push(tag::TEXT, text);
                m
            }
            (Context::Cancel { cl, orig }, Command::Cancel(c)) => self.cancel_reject_message(
                &cl,
                &orig,
                c.order,
                '1',
                orders::cxl_rej_reason(r.code),
                &text,
            ),
            (Context::Replace { cl, orig }, Command::Amend(c)) => self.cancel_reject_message(
                &cl,
                &orig,
                c.order,
                '2',
                orders::cxl_rej_reason(r.code),
                &text,
            ),
            (Context::Mass { cl, request_type }, _) => mass_reject(&cl, &request_type, &text),
            _ => return,
        };
        self.deliver_report(idx, m, origin);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn cancel_reject(
        &self,
        idx: usize,
        cl: &str,
        orig: &str,
        order: tokex_engine::OrderRef,
        response_to: char,
        reason: u32,
        text: &str,
    ) {
        let m = self.cancel_reject_message(cl, orig, order, response_to, reason, text);
        self.deliver(idx, m);
    }

    /// OrderCancelReject (9).
    fn cancel_reject_message(
        &self,
        cl: &str,
        orig: &str,
        order: tokex_engine::OrderRef,
        response_to: char,
        reason: u32,
        text: &str,
    ) -> Message {
        let (order_id, status) = match order {
            tokex_engine::OrderRef::Id(id) => {
                let st = self
                    .tracker
                    .lock()
                    .expect("tracker")
                    .orders
                    .get(&id.0)
                    .map(|t| t.ord_status());
                (id.0.to_string(), st.unwrap_or('8'))
            }
            tokex_engine::OrderRef::Client(_) => ("NONE".to_string(), '8'),
        };
        Message::new("9")
            .with(tag::ORDER_ID, order_id)
            .with(tag::CL_ORD_ID, cl)
            .with(tag::ORIG_CL_ORD_ID, orig)
            .with(tag::ORD_STATUS, status)
            .with(tag::CXL_REJ_RESPONSE_TO, response_to)
            .with(tag::CXL_REJ_REASON, reason)
            .with(tag::TEXT, text)
    }

    fn session_lookup(&self, sender: &str, target: &str) -> Option<usize> {
        self.by_comp
            .get(&(sender.to_string(), target.to_string()))
            .copied()
    }

    /// Sends Logout to every logged-on session (the exchange is stopping).
    pub fn logout_all(&self, text: &str) {
        let now = self.now_ms();
        for slot in &self.slots {
            let mut s = slot.lock().expect("session");
            if s.session.state == State::Active {
                let raw = s.session.begin_logout(text, now);
                if let Some((_, tx)) = &s.conn {
                    let _ = tx.send(Out::Bytes(raw));
                }
            }
        }
    }
}

/// OrderMassCancelReport (r) refusing a mass cancel.
fn mass_reject(cl: &str, request_type: &str, text: &str) -> Message {
    Message::new("r")
        .with(tag::CL_ORD_ID, cl)
        .with(tag::ORDER_ID, "NONE")
        .with(tag::MASS_CANCEL_REQUEST_TYPE, request_type)
        .with(tag::MASS_CANCEL_RESPONSE, 0)
        .with(tag::MASS_CANCEL_REJECT_REASON, 99)
        .with(tag::TEXT, text)
}

/// Runs one connection until it closes.
pub async fn connection(gw: Arc<Gateway>, stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
    let writer = tokio::spawn(async move {
        while let Some(o) = rx.recv().await {
            match o {
                Out::Bytes(b) => {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                Out::Close => break,
            }
        }
        let _ = wr.shutdown().await;
    });
    let conn_id = gw.next_conn.fetch_add(1, Ordering::Relaxed);
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut idx: Option<usize> = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(LOGON_TIMEOUT_SECS);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut reason = String::from("connection closed");
    'outer: loop {
        // Frames already buffered first.
        while let Some(frame) = framer.next_frame() {
            let raw = match frame {
                Frame::Message(raw) => raw,
                Frame::Garbled(g) => {
                    tracing::warn!(%peer, "garbled input ignored: {g}");
                    continue;
                }
            };
            let i = match idx {
                Some(i) => i,
                None => {
                    let p = codec::parse(&raw);
                    let (s, t) = (
                        p.message.get(tag::SENDER_COMP_ID).unwrap_or(""),
                        p.message.get(tag::TARGET_COMP_ID).unwrap_or(""),
                    );
                    if p.message.msg_type() != "A" {
                        reason = "first message is not a Logon".into();
                        break 'outer;
                    }
                    let Some(i) = gw.session_lookup(s, t) else {
                        reason = format!("no session for SenderCompID {s:?} TargetCompID {t:?}");
                        break 'outer;
                    };
                    let mut slot = gw.slots[i].lock().expect("session");
                    if slot.conn.is_some() {
                        reason = format!("session {} is already connected", slot.session.cfg.key());
                        break 'outer;
                    }
                    slot.conn = Some((conn_id, tx.clone()));
                    slot.session.connect(gw.now_ms());
                    idx = Some(i);
                    i
                }
            };
            let (apps, stop) = {
                let mut slot = gw.slots[i].lock().expect("session");
                let actions = slot.session.on_message(&raw, gw.now_ms());
                run_actions(&mut slot, actions, &tx)
            };
            for m in apps {
                crate::app::handle(&gw, i, m).await;
            }
            if let Some(r) = stop {
                reason = r;
                break 'outer;
            }
        }
        if framer.buffered() > READ_BUFFER_BYTES_MAX {
            reason = "input buffer limit".into();
            break;
        }
        tokio::select! {
            n = rd.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => framer.push(&buf[..n]),
            },
            _ = tick.tick() => {
                match idx {
                    None if tokio::time::Instant::now() >= deadline => {
                        reason = "no Logon in time".into();
                        break;
                    }
                    None => {}
                    Some(i) => {
                        let stop = {
                            let mut slot = gw.slots[i].lock().expect("session");
                            let now = gw.now_ms();
                            let actions = slot.session.on_timer(now);
                            run_actions(&mut slot, actions, &tx).1
                        };
                        if let Some(r) = stop {
                            reason = r;
                            break;
                        }
                    }
                }
            }
        }
    }
    let _ = tx.send(Out::Close);
    let _ = writer.await;
    if let Some(i) = idx {
        let (cod, account) = {
            let mut slot = gw.slots[i].lock().expect("session");
            let mine = slot.conn.as_ref().is_some_and(|(c, _)| *c == conn_id);
            if mine {
                slot.conn = None;
                slot.session.disconnected();
            }
            (
                slot.session.cfg.cancel_on_disconnect && mine,
                slot.session.cfg.account,
            )
        };
        tracing::info!(%peer, session = i, "FIX connection closed: {reason}");
        if cod {
            let cmd = Command::MassCancel(MassCancel {
                account: Some(AccountId(account)),
                instrument: None,
                product: None,
                side: None,
            });
            if let Err(e) = gw.handle.submit(cmd).await {
                tracing::error!("cancel on disconnect: {e}");
            }
        }
    } else {
        tracing::info!(%peer, "FIX connection refused: {reason}");
    }
}

/// Writes Send actions to the connection (under the session lock, so numbers stay in order);
/// returns the application messages and a disconnect reason.
fn run_actions(
    slot: &mut Slot,
    actions: Vec<Action>,
    tx: &mpsc::UnboundedSender<Out>,
) -> (Vec<Message>, Option<String>) {
    let mut apps = Vec::new();
    let mut stop = None;
    for a in actions {
        match a {
            Action::Send(raw) => {
                let _ = tx.send(Out::Bytes(raw));
            }
            Action::App(m) => apps.push(m),
            Action::LoggedOn => tracing::info!(session = %slot.session.cfg.key(), "FIX logon"),
            Action::Disconnect(r) => stop = Some(r),
        }
    }
    (apps, stop)
}

/// Accepts connections and routes the exchange's batches until the exchange stops.
pub async fn run(gw: Arc<Gateway>, listener: TcpListener) -> Result<(), String> {
    let taken = gw.events.lock().expect("events").take();
    let mut events = taken.unwrap_or_else(|| gw.handle.subscribe());
    let router_gw = gw.clone();
    let router = tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match events.recv().await {
                Ok(batch) => router_gw.on_batch(&batch),
                Err(RecvError::Lagged(n)) => {
                    tracing::error!("FIX router fell behind by {n} batches: reports lost")
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
    let mut alive = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            a = listener.accept() => match a {
                Ok((stream, _)) => {
                    tokio::spawn(connection(gw.clone(), stream));
                }
                Err(e) => tracing::warn!("FIX accept: {e}"),
            },
            _ = alive.tick() => {
                if gw.handle.query(|_| ()).await.is_err() {
                    break;
                }
            }
        }
    }
    gw.logout_all("the exchange is stopping");
    tokio::time::sleep(Duration::from_millis(200)).await;
    router.abort();
    Ok(())
}
