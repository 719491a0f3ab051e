//! The acceptor: TCP connections, the sessions they claim, and the router that turns every
//! durable batch of the exchange into ExecutionReports for the sessions of the orders' owners.
//!
//! Every outbound message of a session is numbered, stored and queued to its connection under
//! the session's lock, so the numbers on the wire are in order whichever task sends. Reports
//! for a session that is not logged on are numbered and stored: the client collects them by
//! ResendRequest after its next Logon.
//!
//! Commands that come over FIX are registered as pending (with their ClOrdID and
//! OrigClOrdID) before they are submitted; the router matches each applied command against
//! them, so all reports — accepted, rejected, filled — come from the one ordered stream.

use crate::codec::{self, tag, Frame, Framer, Message};
use crate::config::FixConfig;
use crate::orders::{self, InstrumentInfo, Instruments, Tracked, Tracker};
use crate::session::{Action, Session, State};
use crate::store::{OrderRow, SqliteDb, SqliteStore};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokex_engine::{Command, Event, MassCancel};
use tokex_server::sequencer::Batch;
use tokex_server::ExchangeHandle;
use tokex_types::{AccountId, OrderId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Time a new connection has to send its Logon.
pub const LOGON_TIMEOUT_SECS: u64 = 10;
/// Bytes buffered from one connection before it is cut off.
pub const READ_BUFFER_BYTES_MAX: usize = 1 << 20;

pub enum Out {
    Bytes(Vec<u8>),
    Close,
}

pub struct Slot {
    pub session: Session<SqliteStore>,
    conn: Option<(u64, mpsc::UnboundedSender<Out>)>,
}

/// What the router needs to report a FIX-originated command.
#[derive(Clone, Debug)]
pub enum Context {
    New { cl: String },
    Cancel { cl: String, orig: String },
    Replace { cl: String, orig: String },
    Mass { cl: String, request_type: String },
}

pub struct Gateway {
    pub handle: ExchangeHandle,
    pub slots: Vec<Mutex<Slot>>,
    by_comp: BTreeMap<(String, String), usize>,
    by_account: BTreeMap<u32, Vec<usize>>,
    pub instruments: Mutex<Instruments>,
    pub tracker: Mutex<Tracker>,
    pending: Mutex<Vec<(Command, usize, Context)>>,
    db: SqliteDb,
    epoch: Instant,
    next_conn: AtomicU64,
    next_exec: AtomicU64,
}

impl Gateway {
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Builds the gateway: sessions from the config, their stores from `data_dir/fix/`,
    /// instruments and working orders from the exchange.
    pub async fn new(
        handle: ExchangeHandle,
        config: &FixConfig,
        data_dir: PathBuf,
    ) -> Result<Arc<Gateway>, String> {
        config.validate()?;
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
        let accounts: Vec<u32> = by_account.keys().copied().collect();
        let (instruments, working) = handle
            .query(move |e| {
                let mut ins = Instruments::default();
                let mut working = Vec::new();
                for i in e.instruments() {
                    ins.insert(InstrumentInfo::from_spec(&i.spec, i.delisted));
                    for side in [tokex_types::Side::Buy, tokex_types::Side::Sell] {
                        for r in i.book.orders(side) {
                            if accounts.contains(&r.account.0) {
                                working.push((r, i.spec.id, e.client_order_id_of(r.id)));
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
                (ins, working)
            })
            .await
            .map_err(|e| e.to_string())?;
        let saved: BTreeMap<u64, OrderRow> = db
            .load_orders()?
            .into_iter()
            .map(|r| (r.order_id, r))
            .collect();
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
        Ok(Arc::new(Gateway {
            handle,
            slots,
            by_comp,
            by_account,
            instruments: Mutex::new(instruments),
            tracker: Mutex::new(tracker),
            pending: Mutex::new(Vec::new()),
            db,
            epoch: Instant::now(),
            next_conn: AtomicU64::new(1),
            next_exec: AtomicU64::new(1),
        }))
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

    fn exec_id(&self, seq: u64) -> String {
        format!("{seq}-{}", self.next_exec.fetch_add(1, Ordering::Relaxed))
    }

    fn persist(&self, t: &Tracked) {
        let r = if t.done.is_some() {
            self.db.delete_order(t.order_id.0)
        } else {
            self.db.save_order(&OrderRow {
                order_id: t.order_id.0,
                cl_ord_id: t.cl_ord_id.clone(),
                orig_cl_ord_id: t.orig_cl_ord_id.clone(),
                session: t.session,
                cum: t.cum,
                notional: t.notional,
            })
        };
        if let Err(e) = r {
            tracing::error!("{e}");
        }
    }

    fn report(&self, t: &Tracked, exec_type: char, seq: u64, extra: impl FnOnce(&mut Message)) {
        let m = {
            let ins = self.instruments.lock().expect("instruments");
            let mut m =
                orders::execution_report(t, ins.get(t.instrument), &self.exec_id(seq), exec_type);
            extra(&mut m);
            m
        };
        for s in self.sessions_of(t) {
            self.deliver(s, m.clone());
        }
        self.persist(t);
    }

    /// Registers a FIX-originated command and submits it.
    pub async fn submit(
        &self,
        idx: usize,
        cmd: Command,
        ctx: Context,
    ) -> Result<(), tokex_server::SubmitError> {
        self.pending
            .lock()
            .expect("pending")
            .push((cmd.clone(), idx, ctx));
        let r = self.handle.submit(cmd.clone()).await.map(|_| ());
        if r.is_err() {
            let mut p = self.pending.lock().expect("pending");
            if let Some(i) = p.iter().position(|(c, s, _)| *s == idx && *c == cmd) {
                p.remove(i);
            }
        }
        r
    }

    fn take_pending(&self, cmd: &Command) -> Option<(usize, Context)> {
        let mut p = self.pending.lock().expect("pending");
        let i = p
            .iter()
            .position(|(c, _, _)| orders::same_command(c, cmd))?;
        let (_, s, ctx) = p.remove(i);
        Some((s, ctx))
    }

    fn is_fix_account(&self, a: AccountId) -> bool {
        self.by_account.contains_key(&a.0)
    }

    /// Turns one durable batch into reports.
    pub fn on_batch(&self, batch: &Batch) {
        for applied in &batch.items {
            self.on_applied(applied);
        }
    }

    fn on_applied(&self, a: &tokex_server::sequencer::Applied) {
        if let Command::ListInstrument(spec) = &a.command {
            if a.outcome.result.is_ok() {
                self.instruments
                    .lock()
                    .expect("instruments")
                    .insert(InstrumentInfo::from_spec(spec, false));
            }
        }
        let ctx = match &a.command {
            Command::NewOrder(_)
            | Command::Amend(_)
            | Command::Cancel(_)
            | Command::MassCancel(_) => self.take_pending(&a.command),
            _ => None,
        };
        if let Err(r) = &a.outcome.result {
            if let Some((idx, ctx)) = ctx {
                self.on_reject(a, idx, ctx, r);
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
                        self.report(&t, '0', a.seq, |_| {});
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
                            self.report(&t, 'F', a.seq, |m| {
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
                        self.report(&t, status, a.seq, |m| {
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
                    self.report(&t, '5', a.seq, |_| {});
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
                        self.report(&t, 'D', a.seq, |m| {
                            m.push(tag::TEXT, format!("stop triggered by a trade at {px}"));
                        });
                    }
                }
                Event::Expired { instrument, .. } => {
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
            self.deliver(idx, m);
        }
    }

    fn on_reject(
        &self,
        a: &tokex_server::sequencer::Applied,
        idx: usize,
        ctx: Context,
        r: &tokex_engine::Reject,
    ) {
        let text = format!("{}: {}", r.code.as_str(), r.message);
        match (ctx, &a.command) {
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
                let mut m = orders::execution_report(&t, ins.as_ref(), &self.exec_id(a.seq), '8');
                m.set(tag::ORDER_ID, "NONE");
                m.push(tag::ORD_REJ_REASON, orders::ord_rej_reason(r.code));
                m.push(tag::TEXT, text);
                self.deliver(idx, m);
            }
            (Context::Cancel { cl, orig }, Command::Cancel(c)) => self.cancel_reject(
                idx,
                &cl,
                &orig,
                c.order,
                '1',
                orders::cxl_rej_reason(r.code),
                &text,
            ),
            (Context::Replace { cl, orig }, Command::Amend(c)) => self.cancel_reject(
                idx,
                &cl,
                &orig,
                c.order,
                '2',
                orders::cxl_rej_reason(r.code),
                &text,
            ),
            (Context::Mass { cl, request_type }, _) => {
                let m = Message::new("r")
                    .with(tag::CL_ORD_ID, cl)
                    .with(tag::ORDER_ID, "NONE")
                    .with(tag::MASS_CANCEL_REQUEST_TYPE, request_type)
                    .with(tag::MASS_CANCEL_RESPONSE, 0)
                    .with(tag::MASS_CANCEL_REJECT_REASON, 99)
                    .with(tag::TEXT, text);
                self.deliver(idx, m);
            }
            _ => {}
        }
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
        let m = Message::new("9")
            .with(tag::ORDER_ID, order_id)
            .with(tag::CL_ORD_ID, cl)
            .with(tag::ORIG_CL_ORD_ID, orig)
            .with(tag::ORD_STATUS, status)
            .with(tag::CXL_REJ_RESPONSE_TO, response_to)
            .with(tag::CXL_REJ_REASON, reason)
            .with(tag::TEXT, text);
        self.deliver(idx, m);
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
    let mut events = gw.handle.subscribe();
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
